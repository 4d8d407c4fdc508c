"""A rescan plan's rectangles in µm and its edits, computed for all rectangles at once
(2026-12-07: a plan's layer in napari reads them at each edit), give what the rules
spelled one rectangle at a time give: the same ``rois_um`` floats, the same edited plan."""

from __future__ import annotations

import numpy as np
import pytest

from napari_srmat.sr.rescan import (
    REASON_BY_HAND,
    REASON_OUT_OF_FOCUS,
    REASON_UNCERTAINTY,
    UM_DECIMALS,
    RescanPlan,
    _rect_focus,
    _rect_uncertainty,
    _rounded,
)


def _plan(rng, n, shape=(400, 300), pixel_size_um=0.5) -> RescanPlan:
    h, w = shape
    y0 = rng.integers(0, h - 1, n)
    x0 = rng.integers(0, w - 1, n)
    y1 = y0 + 1 + rng.integers(0, h - 1 - y0 + 1) // 1
    x1 = x0 + 1 + rng.integers(0, w - 1 - x0 + 1) // 1
    rois = np.stack([y0, x0, np.minimum(y1, h), np.minimum(x1, w)], 1).tolist()
    return RescanPlan(
        rois, [float(v) for v in rng.random(n)], 0.3, 0.5, 0.5, 4, 0.3, 1.0, 16, "flips",
        "", "cnn", [h, w], 0.5, pixel_size_um=pixel_size_um,
        uncertainty=rng.random(shape).astype(np.float32),
        reasons=[REASON_OUT_OF_FOCUS if v else REASON_UNCERTAINTY for v in rng.random(n) < 0.3],
        focus=[float(v) for v in rng.random(n)],
        focus_blocks=rng.random((-(-h // 16), -(-w // 16))).astype(np.float32),
    )  # fmt: skip


def _um_one_at_a_time(plan: RescanPlan) -> list[list[float]]:
    """The rule as it was written until 2026-12-07, one number at a time."""
    px = plan.pixel_size_um
    py, px = (px, px) if np.isscalar(px) else px
    return [[round(y0 * py, UM_DECIMALS), round(x0 * px, UM_DECIMALS),
             round(y1 * py, UM_DECIMALS), round(x1 * px, UM_DECIMALS)]
            for y0, x0, y1, x1 in plan.rois]  # fmt: skip


def _pixel_sizes(rng) -> list:
    """Sizes of many digits, sizes whose products fall near a half of the 6th decimal
    (k + 1/2 in units of 1e-7 µm: np.round and round part there), and (Y, X) pairs."""
    many = [float(v) for v in rng.uniform(1e-4, 50, 6)]
    near_half = [(int(k) + 0.5) * 1e-6 / 7 for k in rng.integers(1, 10**6, 6)]
    halves = [float(k) / 10**7 + 5e-8 for k in rng.integers(1, 10**7, 6)]
    return [0.1, 0.37, *many, *near_half, *halves, (0.1, 0.3), (many[0], halves[0])]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rois_um_are_the_floats_of_the_rule_one_number_at_a_time(seed):
    """Guard (passes before): random plans at many pixel sizes give the very floats of
    ``round(v * p, UM_DECIMALS)`` taken one number at a time."""
    rng = np.random.default_rng(seed)
    plan = _plan(rng, 400)
    for px in _pixel_sizes(rng):
        at = plan.at_pixel_size(px)
        assert at.rois_um == _um_one_at_a_time(at), px
    assert plan.at_pixel_size(None).rois_um is None
    assert plan.edited([], []).rois_um == []


def test_rounded_is_pythons_round_where_numpys_parts_from_it():
    """Guard: on values where ``np.round`` and ``round`` part (the product by 10**6 on
    the other side of a half), ``_rounded`` gives ``round``'s float, and elsewhere too."""
    rng = np.random.default_rng(3)
    values = np.concatenate([
        rng.integers(0, 10**7, 20000) / 10**7 + 5e-7,  # near a half of the 6th decimal
        rng.uniform(0, 1e4, 20000), [0.0, -0.0, 2.5e-7, 1e300, -3.5e-6, np.inf],
    ])  # fmt: skip
    expected = [round(float(v), 6) for v in values]
    assert sum(float(np.round(v, 6)) != e for v, e in zip(values, expected)) > 100
    assert _rounded(values, 6).tolist() == expected


def _edited_one_at_a_time(plan: RescanPlan, rois, ranks):
    """The figures of :meth:`RescanPlan.edited` by its rule spelled one rectangle at a
    time (as it was written until 2026-12-07)."""
    where = {r: i for i, r in enumerate(plan.ranks)}
    scores, reasons, focus, moved = [], [], [], 0
    for roi, rank in zip(rois, ranks):
        if rank is None:
            scores.append(None), reasons.append(REASON_BY_HAND), focus.append(None)
            continue
        i = where[rank]
        reasons.append(plan.reasons[i])
        if list(roi) == list(plan.rois[i]):
            scores.append(plan.scores[i]), focus.append(plan.focus[i])
            continue
        moved += 1
        scores.append(_rect_uncertainty(plan.uncertainty, roi))
        focus.append(_rect_focus(plan.focus_blocks, roi, plan.roi_px))
    return scores, reasons, focus, moved


@pytest.mark.parametrize("seed", [0, 1])
def test_an_edited_plan_is_the_rule_one_rectangle_at_a_time(seed):
    """Guard: rectangles kept, moved, deleted and added by hand give each rectangle's
    figures and the edited note as the rule taken one rectangle at a time."""
    rng = np.random.default_rng(seed)
    plan = _plan(rng, 300)
    keep = np.flatnonzero(rng.random(300) < 0.9)
    rois = [list(plan.rois[i]) for i in keep]
    ranks = [plan.ranks[i] for i in keep]
    for k in np.flatnonzero(rng.random(len(rois)) < 0.2):
        y0, x0, y1, x1 = rois[k]
        rois[k] = [max(y0 - 1, 0), x0, y1, x1] if y0 else [y0, x0, y1 - 1 or 1, x1]
    rois += [[10, 10, 20, 30], [0, 0, 1, 1]]
    ranks += [None, None]
    mine = plan.edited(rois, ranks)
    scores, reasons, focus, moved = _edited_one_at_a_time(plan, rois, ranks)
    assert mine.rois == rois and mine.ranks == ranks
    assert (mine.scores, mine.reasons, mine.focus) == (scores, reasons, focus)
    assert mine.warnings[-1].endswith(
        f"{moved} rectangle(s) moved or resized, 2 added, {300 - len(keep)} deleted"
    )
    assert mine.rois_um == _um_one_at_a_time(mine)


def test_an_edited_plan_still_refuses_a_rectangle_outside_the_image():
    """Guard: the first rectangle outside the image (or empty) is named, as before."""
    plan = _plan(np.random.default_rng(4), 5)
    with pytest.raises(ValueError, match=r"rectangle \[3, 3, 3, 9\] is not inside the 400 x 300"):
        plan.edited([[0, 0, 5, 5], [3, 3, 3, 9], [0, 0, 500, 5]], [None, None, None])
    with pytest.raises(ValueError, match=r"rectangle \[0, 0, 401, 5\] is not inside"):
        plan.edited([[0.5, 0, 401, 5]], [None])


@pytest.mark.parametrize(
    ("roi", "shown"),
    [
        ([0, 0, 1e20, 10], "[0, 0, 100000000000000000000, 10]"),
        ([0, 0, 2**64, 10], "[0, 0, 18446744073709551616, 10]"),
        (np.array([0, 0, 2**63 + 5, 10], np.uint64), "[0, 0, 9223372036854775813, 10]"),
        ([0, 0, float("inf"), 10], "[0, 0, inf, 10]"),
    ],
    ids=["1e20", "2**64", "uint64", "inf"],
)
def test_a_coordinate_beyond_any_image_is_refused_as_outside_it(roi, shown):
    """R4 #4: since the rectangles are checked all at once (int64), a coordinate of 1e20
    or 2**64 raised OverflowError ("Python int too large to convert to C long") and a
    uint64 2**63 + 5 was named as -9223372036854775803, where the one-at-a-time rule said
    "rectangle [0, 0, 100000000000000000000, 10] is not inside the 400 x 300 px image".
    That one-line ValueError again, the number as given (infinity too: OverflowError
    before and since)."""
    plan = _plan(np.random.default_rng(5), 3)
    rois = [[0, 0, 5, 5], roi]
    with pytest.raises(ValueError) as err:
        plan.edited(rois, [None, None])
    assert str(err.value) == f"rectangle {shown} is not inside the 400 x 300 px image"
