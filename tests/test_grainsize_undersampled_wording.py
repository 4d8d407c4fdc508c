"""Grains too few pixels across to measure are told as under-sampled, not "too coarse"
(s51 E2, explorer s50 CLI F6): to a metallurgist coarse grains are large ones, and a
micrograph of grains a few pixels across holds fine grains for its pixel size. One
wording (``grainsize.undersampled_note``) for every place the rule of
``MIN_INPUT_INTERCEPT_PX`` speaks."""

from __future__ import annotations

import warnings

import pytest

from napari_srmat.cli import main
from napari_srmat.grainsize import check_native_scale, resample
from napari_srmat.io import png_bytes
from napari_srmat.synth import generate_microstructure

#: The new words, literally (the old code has no constant to import).
UNDERSAMPLED = "too few pixels across to measure (under-sampled)"


def _fine(path, size: int) -> None:
    """A micrograph of ~4 px grains (withheld by the plain run)."""
    ms = generate_microstructure((size, size), mean_grain_size_px=4, seed=0)
    path.write_bytes(png_bytes(ms.image, pixel_size_um=0.5))


@pytest.mark.parametrize("size", [256, 128])  # 128: the small-field wording
def test_a_micrograph_of_grains_a_few_pixels_across_is_told_under_sampled(
        tmp_path, capsys, size):
    _fine(tmp_path / "fine.png", size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = main(["grain-size", str(tmp_path / "fine.png")])
    err = capsys.readouterr().err
    assert rc == 2
    assert UNDERSAMPLED in err, err
    assert "coarse" not in err, err
    if size == 256:
        assert "super-resolve first (srmat sr run) or image at a higher magnification" in err


def test_the_boundary_maps_scale_check_says_it_in_the_same_words():
    """``check_native_scale`` (srmat edges predict, the Boundaries widget) of an image
    whose estimate is under 8 px."""
    img = generate_microstructure((512, 512), mean_grain_size_px=24, seed=0).image
    w = check_native_scale(resample(img, 0.25)).warning
    assert w is not None and UNDERSAMPLED in w and "coarse" not in w, w
