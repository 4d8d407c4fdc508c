"""An image (not a mask) too small for the boundary model is told its one minimum, once.

Before, a 1 x 1 image was told 'it must be at least 3 x 3 px' (a mask's minimum), and a
3 x 3 one then refused at 8 px ('under the 8 px the boundary model takes').
"""

import numpy as np
import pytest

from napari_srmat.cli import main
from napari_srmat.io import MIN_IMAGE_SIDE


@pytest.mark.parametrize("side", [1, 3, MIN_IMAGE_SIDE - 1])
def test_srmat_grain_size_tells_an_image_the_model_s_least_side(tmp_path, capsys, side):
    from PIL import Image

    path = tmp_path / "tiny.png"
    Image.fromarray((np.arange(side * side).reshape(side, side) * 7 % 256).astype(np.uint8)).save(
        path
    )
    assert main(["grain-size", str(path), "--pixel-size", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].endswith(
        f"tiny.png: image is {side} x {side} px, smaller than the smallest image the "
        f"boundary model takes ({MIN_IMAGE_SIDE} px)"
    ), err


def test_measure_grain_size_refuses_a_small_image_before_its_scale(monkeypatch):
    """The library's refusal is a GrainSizeError naming the model's minimum."""
    from napari_srmat import grainsize

    with pytest.raises(
        grainsize.GrainSizeError, match=rf"^image is 3 x 5 px, .*\({MIN_IMAGE_SIDE} px\)$"
    ):
        grainsize.measure_grain_size(np.zeros((3, 5), np.uint8), pixel_size_um=1.0)


@pytest.mark.parametrize(("side", "scale"), [(6, 2.0), (4, 4.0), (6, None)])
def test_a_small_image_the_inference_scale_brings_to_the_least_side_is_measured(side, scale):
    """The model's least side is that of the image it reads, at the inference scale: a 6 x 6
    image at scale 2 (12 px), 4 x 4 at 4 (16 px) and 6 x 6 at the automatic scale were
    measured before d75445a6 and refused by it at the image's own 6 / 4 px. The map is
    measured (crossings, ℓ̄ at the inference scale); the figure of a noise field whose ℓ̄
    is longer than its side is then withheld (``grainsize.NO_STRUCTURE_NOTE``)."""
    from napari_srmat.grainsize import measure_grain_size, resampled_shape

    rng = np.random.default_rng(0)
    rng.random((side, side))  # the second draw: its automatic scale is > 1 (3.25)
    image = rng.random((side, side)).astype(np.float32)
    r = measure_grain_size(image, inference_scale=scale)
    if scale is None:
        assert r.inference_scale > 1
    else:
        assert r.inference_scale == scale
        assert r.n_crossings > 0 and r.inference_intercept_px > 0
    assert r.boundaries.shape == resampled_shape((side, side), r.inference_scale)
    assert min(r.boundaries.shape) >= MIN_IMAGE_SIDE


def test_a_small_image_still_under_the_least_side_at_its_scale_names_both_sizes():
    """6 x 6 at inference scale 1.2 is 7 px for the model: refused naming the scale."""
    from napari_srmat.grainsize import GrainSizeError, measure_grain_size

    image = np.random.default_rng(0).random((6, 6)).astype(np.float32)
    with pytest.raises(
        GrainSizeError,
        match=r"^the image is 6 px at its smallest; at inference scale 1.2 it would be 7 px, "
        rf"under the {MIN_IMAGE_SIDE} px the boundary model takes$",
    ):
        measure_grain_size(image, inference_scale=1.2)
