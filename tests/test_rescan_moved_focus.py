"""A rectangle of a rescan plan moved or resized by hand (`RescanPlan.edited`): its focus
is the mean over its pixels of their block's focus, not an equal-weight mean of every
block it touches (reviewer R4: a 1 px overlap with a sharp block read "in focus")."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from napari_srmat.sr.rescan import FOCUS_THRESHOLD, RescanPlan, plan_rescan
from napari_srmat.synth import generate_microstructure

ROI = 16
SHARP, BLURRED = 1.0, 0.05


def _plan(focus_blocks: np.ndarray) -> RescanPlan:
    """One planned 16 px rectangle of a 64 x 128 px LR, with this block focus map."""
    return RescanPlan(
        [[32, 64, 48, 80]],
        [0.2],
        1 / 32,
        0.3,
        0.7,
        4,
        0.25,
        1.0,
        ROI,
        "flips",
        "",
        "cnn",
        [64, 128],
        0.5,
        focus=[float(focus_blocks[2, 4])],
        focus_blocks=focus_blocks,
    )


def _half_blurred() -> np.ndarray:
    """Block focus of a scan sharp left of x = 64 and blurred right of it."""
    focus = np.full((4, 8), BLURRED)
    focus[:, :4] = SHARP
    return focus


def test_a_rectangle_nudged_one_pixel_onto_sharp_blocks_keeps_its_blurred_focus():
    """Fails before: a 16 px rectangle 1 px over a sharp block read (1 + 0.05) / 2."""
    plan = _plan(_half_blurred())
    for x0, sharp_cols in ((63, 1), (56, 8), (49, 15)):
        got = plan.edited([[32, x0, 48, x0 + ROI]], [1]).focus[0]
        want = (sharp_cols * SHARP + (ROI - sharp_cols) * BLURRED) / ROI
        assert abs(got - want) < 1e-12, (x0, got, want)
    assert plan.edited([[32, 63, 48, 79]], [1]).focus[0] < FOCUS_THRESHOLD


def test_a_rectangle_on_the_block_grid_reads_the_mean_of_its_blocks_exactly():
    """Guard (passed before): whole blocks weigh the same; blocks without focus are left
    out; a rectangle over none of them has no focus."""
    rng = np.random.default_rng(3)
    focus = rng.uniform(0.0, 1.5, (4, 8))
    focus[1, 2] = focus[0, 6] = np.nan
    plan = _plan(focus)
    for y0, x0, y1, x1 in ([0, 0, 32, 48], [16, 16, 64, 128], [0, 80, 16, 112], [0, 0, 64, 128]):
        got = plan.edited([[y0, x0, y1, x1]], [1]).focus[0]
        assert got == float(np.nanmean(focus[y0 // ROI : y1 // ROI, x0 // ROI : x1 // ROI]))
    assert plan.edited([[0, 96, 16, 112]], [1]).focus[0] is None


def test_a_planned_rectangle_resized_to_blocks_of_a_real_plan_reads_the_planned_figures():
    """R4's scan (right half blurred): a planned out-of-focus rectangle resized to one
    block reads that block's planned focus exactly; nudged 1 px onto the sharp half it
    stays out of focus (0.503 before)."""
    hr = generate_microstructure((256, 512), mean_grain_size_px=24, seed=1).image
    lr = hr.reshape(64, 4, 128, 4, 3).mean(axis=(1, 3))
    lr[:, 64:] = ndi.gaussian_filter(lr, (1.5, 1.5, 0))[:, 64:]
    lr = np.clip(np.rint(lr), 0, 255).astype(np.uint8)
    plan = plan_rescan(lr, "cnn", scale=4, budget=0.25, roi_px=ROI, device="cpu", pixel_size_um=0.5)
    blocks = plan.focus_blocks
    assert plan.ranks[0] == 1 and plan.focus[0] < FOCUS_THRESHOLD
    one = plan.edited([[32, 64, 48, 80]], [1]).focus[0]
    assert one == float(blocks[2, 4]) < FOCUS_THRESHOLD
    nudged = plan.edited([[32, 63, 48, 79]], [1]).focus[0]
    want = (float(blocks[2, 3]) + 15 * float(blocks[2, 4])) / 16
    assert abs(nudged - want) < 1e-12 and nudged < FOCUS_THRESHOLD
