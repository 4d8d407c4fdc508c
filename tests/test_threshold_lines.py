"""A line that compares a value with a threshold shows numbers that agree with its
verdict (:func:`napari_srmat.errors.compared_text`): 'ssim 0.30 < 0.3' for 0.2998 said
the opposite of the warning it was in."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("value, relation, limit, shown", [
    (0.2998, "<", 0.3, "0.2998"), (0.26, "<", 0.3, "0.26"), (14.6, "<", 15, "14.6"),
    (32.04, ">", 32, "32.04"), (7.9996, "<", 8, "7.9996")])
def test_a_threshold_lines_value_stands_to_its_limit_as_shown(value, relation, limit, shown):
    """The one rule of threshold lines (ssim, sharpness, the grain-size scale warnings):
    the value shown stands in the relation to the limit shown."""
    from napari_srmat.errors import compared_text

    assert compared_text(value, relation, limit, decimals=0 if limit > 1 else 2) == \
        f"{shown} {relation} {limit:g}"


def test_grain_size_scale_warnings_show_an_estimate_that_agrees_with_the_limit():
    """'grains look ~15 px across (autocorrelation estimate, < 15 px)' for an estimate of
    14.6 px: the estimate is shown to the decimal that puts it below."""
    from napari_srmat.grainsize import NativeScale

    assert "~14.6 px across" in NativeScale.of(14.6, 0.4).warning
    assert "~10 px across" in NativeScale.of(10.2, 0.4).warning
