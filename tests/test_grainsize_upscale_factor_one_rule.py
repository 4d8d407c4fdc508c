"""``recorded_upscale_factor`` repeated the check of ``metrics.sr.sr_output_scale`` (a
scale given against the one an ``srmat sr run`` store records) in its own words: it
calls that rule now, one rule and one wording with ``srmat sr eval``'s ``--scale``
(s51 E2 #5)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_srmat.grainsize import GrainSizeError, recorded_upscale_factor
from napari_srmat.io import Micrograph


def test_a_given_factor_against_the_recorded_one_is_the_sr_rule():
    """One rule with ``srmat sr eval``'s ``--scale`` (``metrics.sr.sr_output_scale``):
    its wording, naming the keyword to give or leave out, as a GrainSizeError."""
    sr = Micrograph(data=np.zeros((8, 8)), metadata={"srmat": {
        "operation": "super_resolution", "scale": 4}})
    assert recorded_upscale_factor(sr, 4) == 4
    with pytest.raises(GrainSizeError, match=r"records a x4 super-resolution: "
                       r"upscale_factor=2 would measure it as a x2.*give upscale_factor=4 "
                       r"or leave upscale_factor out"):
        recorded_upscale_factor(sr, 2)
