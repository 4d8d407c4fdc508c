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
