"""``srmat grain-size --method``'s field rows record the SR factor a micrograph was
measured as (``upscale_factor``, an ``srmat sr run`` store's recorded factor), as the
plain rows have since s50, and the text output says it beside the inference scale
(s51 E2 #2: the field rows had no ``upscale_factor`` and no text line named it)."""

from __future__ import annotations

import json
import warnings

import pytest

from napari_srmat.cli import main
from napari_srmat.io import png_bytes
from napari_srmat.synth import generate_microstructure


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """A 256 px micrograph (measured at scale 1) and its ×2 bicubic ``srmat sr run``
    store."""
    folder = tmp_path_factory.mktemp("sr")
    lr = generate_microstructure((256, 256), mean_grain_size_px=48, seed=0).image
    (folder / "lr.png").write_bytes(png_bytes(lr, pixel_size_um=0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["sr", "run", str(folder / "lr.png"), str(folder / "sr2.ome.zarr"),
                     "--model", "bicubic", "--scale", "2", "--device", "cpu"]) == 0
    return folder / "lr.png", folder / "sr2.ome.zarr"


def _run(capsys, *args) -> tuple[int, str, str]:
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = main(["grain-size", *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def test_method_field_rows_record_the_upscale_factor(stores, capsys):
    lr, sr = stores
    rc, out, _ = _run(capsys, sr, lr, "--method", "intercept", "--json")
    assert rc == 0
    sr_row, lr_row = json.loads(out)["images"]
    assert (sr_row["upscale_factor"], sr_row["inference_scale"]) == (2, 0.5)
    assert lr_row["upscale_factor"] is None


def test_text_output_names_the_upscale_factor(stores, capsys):
    lr, sr = stores
    rc, out, _ = _run(capsys, sr, lr)
    sr_line, lr_line = out.splitlines()
    assert "inference scale 0.5, upscale factor 2" in sr_line, out
    assert "upscale factor" not in lr_line, out
    rc, out, _ = _run(capsys, sr, lr, "--method", "intercept")
    sr_line, lr_line = [line for line in out.splitlines() if not line.startswith("specimen")]
    assert "inference scale 0.5, upscale factor 2" in sr_line, out
    assert "upscale factor" not in lr_line, out
