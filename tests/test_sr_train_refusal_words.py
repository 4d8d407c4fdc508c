"""SR training refusals of the form's values, in each caller's words."""

from __future__ import annotations

import pytest

from napari_srmat.sr.base import SRError
from napari_srmat.sr.train import SRTrainConfig


@pytest.mark.parametrize("patch", [0, 8, 20])
def test_an_hr_patch_that_is_not_a_positive_multiple_of_4_x_scale_is_refused(tmp_path, patch):
    """HR patch 0 (the widget's spin box allows it) was refused with 'patch 0 must be
    divisible by 4*scale=16', and 0 is divisible (failed before). It must be a positive
    multiple; the widget's words name its controls, srmat's its flags."""
    cfg = SRTrainConfig(out=str(tmp_path / "out"), synthetic=1, scale=4, patch=patch)
    with pytest.raises(SRError) as info:
        cfg.validate()
    assert str(info.value) == f"patch {patch} must be a positive multiple of 4 x scale (16)"
    assert info.value.cli_message == (
        f"--patch {patch} must be a positive multiple of 4 x --scale (16)"
    )
    assert info.value.gui_message == (
        f"'HR patch (px)' {patch} must be a positive multiple of 4 x 'SR scale' (16)"
    )
