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
