"""F9 (s50 CLI explorer): ``measure_intercepts(read_mask(path))`` measures as ``srmat
heyn PATH``: the pixel size the mask file records is used unless one is given; a given
one that differs from the file's is used and warned with the CLI's words (the one rule,
``io.pixel_size_note``). Until 2026-12-07 ``read_mask`` returned a plain array and a
notebook read ℓ̄ µm None where ``srmat heyn`` gave µm."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from _masks import save_mask

from napari_srmat.cli import main
from napari_srmat.io import given_pixel_size_message, read_mask
from napari_srmat.metrics.heyn import measure_intercepts
from napari_srmat.synth import generate_microstructure


@pytest.fixture(scope="module")
def grains() -> np.ndarray:
    return generate_microstructure((192, 192), mean_grain_size_px=20, seed=3).boundaries


def _cli_row(capsys, path: str, *extra: str) -> dict:
    assert main(["heyn", path, "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)["per_image"][0]


@pytest.mark.parametrize("name", ["m.png", "m.tif"])
def test_a_read_mask_measures_in_um_at_its_files_pixel_size(tmp_path, capsys, grains, name):
    """Was: pixel_size_um, mean_intercept_um and astm_g None (the file says 0.5 µm)."""
    path = save_mask(tmp_path / name, grains, pixel_size_um=0.5)
    res = measure_intercepts(read_mask(path))
    row = _cli_row(capsys, path)
    assert res.pixel_size_um == 0.5 == row["pixel_size_um"]
    assert res.mean_intercept_um == row["mean_intercept_um"]
    assert res.astm_g == row["astm_g"]
    d = res.to_dict()
    assert (d["mean_intercept_um"], d["astm_g"]) == (row["mean_intercept_um"], row["astm_g"])


def test_a_given_pixel_size_that_differs_is_used_and_told_as_the_cli_tells_it(
        tmp_path, capsys, grains):
    """Was: the given size used without a word (the CLI warns)."""
    path = save_mask(tmp_path / "m.tif", grains, pixel_size_um=0.5)
    res = measure_intercepts(read_mask(path), pixel_size_um=0.25)
    note = given_pixel_size_message(0.25, 0.5)
    assert res.pixel_size_um == 0.25
    assert res.mean_intercept_um == pytest.approx(res.mean_intercept_px * 0.25)
    assert note in res.warnings
    assert note in _cli_row(capsys, path, "--pixel-size-um", "0.25")["warnings"]


def test_a_given_pixel_size_that_agrees_is_not_told(tmp_path, grains):
    """Guard (passed before): the file's own size given is no news."""
    path = save_mask(tmp_path / "m.tif", grains, pixel_size_um=0.5)
    res = measure_intercepts(read_mask(path), pixel_size_um=0.5)
    assert res.pixel_size_um == 0.5
    assert not any("the file records" in w for w in res.warnings)


def test_non_square_pixels_give_no_um_and_say_why_as_the_cli(tmp_path, capsys, grains):
    """Was: no µm and no word why (the CLI's row says the pixels are not square)."""
    path = save_mask(tmp_path / "m.tif", grains, pixel_size_yx_um=(0.25, 0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # read_image's own line
        res = measure_intercepts(read_mask(path))
    row = _cli_row(capsys, path)
    assert res.pixel_size_um is None and res.mean_intercept_um is None
    told = [w for w in res.warnings if "not square" in w]
    assert len(told) == 1 and told[0] in row["warnings"]


def test_the_read_mask_is_a_boolean_array_and_what_is_computed_from_it_has_no_file(
        tmp_path, grains):
    """A crop, an upscale or a computed mask of it may have other pixels: no pixel size
    (was: no pixel size on any mask, ``pixel_size_um`` not there)."""
    path = save_mask(tmp_path / "m.png", grains, pixel_size_um=0.5)
    mask = read_mask(path)
    assert isinstance(mask, np.ndarray) and mask.dtype == bool
    assert mask.tolist() == grains.tolist()
    assert mask.pixel_size_um == 0.5 and str(mask.path) == path
    assert mask[8:].pixel_size_um is None
    up = np.kron(mask, np.ones((2, 2), bool))
    assert measure_intercepts(up).pixel_size_um is None
    assert type(mask.sum()) is np.int64 and type(~mask) is np.ndarray


def test_a_mask_without_a_file_pixel_size_stays_in_px(tmp_path, grains):
    """Guard (passed before): a .npy (or a file without one) measures in px only."""
    res = measure_intercepts(read_mask(save_mask(tmp_path / "m.npy", grains)))
    assert res.pixel_size_um is None and res.mean_intercept_um is None
    assert res.mean_intercept_px is not None
