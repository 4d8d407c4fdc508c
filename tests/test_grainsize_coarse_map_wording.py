"""A boundary map whose ℓ̄ is under ``MIN_INPUT_INTERCEPT_PX`` (``metrics.heyn.
coarse_map_note``) said "under which a micrograph is too coarse to measure" after
grain-size's own warnings had left that wording (s51 E2 #1: a metallurgist reads
"too coarse" as large grains). It is told in grain-size's one under-sampled wording
(``grainsize.UNDERSAMPLED_NOTE``) now, with the mask's own advice (s51 F3 #2)."""

from __future__ import annotations

import numpy as np

from napari_srmat.grainsize import MIN_INPUT_INTERCEPT_PX, UNDERSAMPLED_NOTE
from napari_srmat.metrics.heyn import coarse_map_note, measure_intercepts


def test_a_coarse_boundary_map_is_told_in_the_one_under_sampled_wording():
    note = coarse_map_note(6.5)
    assert note.startswith(f"ℓ̄ is 6.5 px on this boundary map (< {MIN_INPUT_INTERCEPT_PX:g} "
                           f"px): {UNDERSAMPLED_NOTE}; "), note
    assert "coarse" not in note and note.endswith("measure a mask drawn at a finer pixel size")
    assert coarse_map_note(MIN_INPUT_INTERCEPT_PX) is None


def test_a_coarse_mask_measured_carries_it():
    """Through measure_intercepts: a 6 px grid of 1 px lines (ℓ̄ ≈ 5 px)."""
    m = np.zeros((240, 240), bool)
    m[:, ::6] = True
    m[::6, :] = True
    r = measure_intercepts(m, pattern="grid")
    assert r.mean_intercept_px < MIN_INPUT_INTERCEPT_PX
    told = [w for w in r.warnings if "on this boundary map" in w]
    assert len(told) == 1 and UNDERSAMPLED_NOTE in told[0], r.warnings
    assert not any("too coarse" in w for w in r.warnings), r.warnings
