"""An input too small to measure is refused by one rule, naming the smallest size."""

import numpy as np
import pytest

from napari_srmat.cli import main
from napari_srmat.metrics.heyn import MIN_MASK_SIDE


@pytest.mark.parametrize("command", [["grain-size", "--mask"], ["heyn"]])
def test_a_too_small_mask_is_refused_naming_the_smallest_size(tmp_path, capsys, command):
    from PIL import Image

    path = tmp_path / "tiny.png"
    Image.fromarray(np.array([[0, 255], [255, 0]], np.uint8)).save(path)
    rc = main([*command, str(path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1, err
    assert "2 x 2 px is too small" in err[0]
    assert f"at least {MIN_MASK_SIDE} x {MIN_MASK_SIDE} px" in err[0]


def test_the_image_and_the_mask_rule_is_one_function(monkeypatch):
    """measure_grain_size (an image) and measure_intercepts (a mask) refuse by the one
    check_measurable_shape of metrics.heyn: its minimum read where it is written."""
    from napari_srmat import grainsize
    from napari_srmat.metrics import heyn

    monkeypatch.setattr(heyn, "MIN_MASK_SIDE", 6)
    mask = np.zeros((5, 8), bool)
    with pytest.raises(heyn.HeynError, match=r"^mask of 5 x 8 px is too small to lay test "
                       r"lines on: it must be at least 6 x 6 px$"):
        heyn.measure_intercepts(mask, pixel_size_um=1.0)
    with pytest.raises(grainsize.GrainSizeError, match=r"^image of 5 x 8 px is too small to "
                       r"measure: it must be at least 6 x 6 px$"):
        grainsize.measure_grain_size(mask.astype(np.uint8), mask=True, pixel_size_um=1.0)
