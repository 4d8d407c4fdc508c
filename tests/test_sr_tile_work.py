"""A tile that keeps little of itself past the overlap is told, with the tile to give.

GUI explorer s50 F4: Tile 48 with ``cnn`` x4 (overlap raised to its 21 px receptive
field) keeps a 6 px core per tile: 1521 tiles, 24x slower than the default tile, and the
user was told only "overlap 8 < receptive field 21 of 'cnn': enlarged to 21". The one
rule (:func:`napari_srmat.sr.apply.warn_tile_work`) is told by ``super_resolve`` and so by
``srmat sr run`` and the Super-resolution widget.
"""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest

pytest.importorskip("torch")

from napari_srmat.sr import load_model, super_resolve  # noqa: E402
from napari_srmat.sr.apply import TILE_WORK_TOLD, resolve_overlap, tile_work  # noqa: E402

TOLD = re.compile(
    r"tile (\d+) keeps a (\d+) px core of each tile with the overlap (\d+) "
    r"per side: .*a tile of (\d+) px or more"
)


def _tiny_cnn():
    return load_model("cnn", scale=4, device="cpu", n_feats=8, n_blocks=2, pretrained=False)


def _image(side=64):
    return (np.random.default_rng(0).random((side, side)) * 255).astype(np.uint8)


def _told(caught) -> list[re.Match]:
    return [m for w in caught if (m := TOLD.search(str(w.message)))]


def _run(image, model, **kw) -> list[re.Match]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        super_resolve(image, model, **kw)
    return _told(caught)


def test_a_small_tile_tells_its_core_and_the_least_tile_to_give():
    model = _tiny_cnn()
    overlap = resolve_overlap(model, None, 1024)  # the default 32 px
    tile = 2 * overlap + 6
    (told,) = _run(_image(96), model, tile=tile)
    assert told.group(1, 2, 3) == (str(tile), "6", str(overlap))
    least = int(told.group(4))
    # the least tile that keeps the work within the told limit
    assert tile_work(least, overlap) <= TILE_WORK_TOLD < tile_work(least - 1, overlap)
    assert tile_work(tile, overlap) > 100  # (70 / 6) ** 2
    # that tile, or the default, is not told
    assert _run(_image(least + 1), model, tile=least) == []
    assert _run(_image(96), model) == []


def test_an_enlarged_overlap_tells_the_core_left_by_it():
    """The explorer's case: the overlap given is raised to the receptive field, which
    leaves the tile a small core; both are told."""
    model = _tiny_cnn()
    rf = int(model.receptive_field)
    tile = 2 * rf + 6
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        super_resolve(_image(), model, tile=tile, overlap=2)
    assert any("enlarged to" in str(w.message) for w in caught)
    (told,) = _told(caught)
    assert told.group(1, 2, 3) == (str(tile), "6", str(rf))


def test_no_tile_cost_told_where_there_is_none():
    # an image within one tile, and the interpolations' fast path (whole chunks)
    assert _run(_image(40), _tiny_cnn(), tile=48, overlap=21) == []
    assert _run(_image(), load_model("bicubic", scale=2), tile=16, overlap=6) == []


def test_srmat_sr_run_tells_it(tmp_path, capsys):
    from PIL import Image

    from napari_srmat.cli import main
    from napari_srmat.sr import save_model_checkpoint

    ckpt = tmp_path / "tiny"
    save_model_checkpoint(_tiny_cnn(), ckpt)
    src = tmp_path / "lr.png"
    Image.fromarray(_image()).save(src)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        rc = main(
            [
                "sr",
                "run",
                str(src),
                str(tmp_path / "sr.ome.zarr"),
                "--model",
                "cnn",
                "--checkpoint",
                str(ckpt),
                "--tile",
                "30",
                "--overlap",
                "9",
                "--device",
                "cpu",
                "--json",
            ]
        )
    assert rc == 0
    told = [TOLD.search(w) for w in json.loads(capsys.readouterr().out)["warnings"]]
    assert [m.group(1, 2, 3) for m in told if m] == [("30", "12", "9")]
