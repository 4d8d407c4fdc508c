"""``HeynResult.ci95_half_width_px`` is the half-width of the interval its row's
``[low, high]`` pair is made of: the lines' scatter floored at their counts' resolution
(:func:`napari_srmat.metrics.standards.floored_relative_half`, the one rule)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from napari_srmat.grainsize import grain_size_from_heyn
from napari_srmat.metrics.heyn import measure_intercepts
from napari_srmat.metrics.standards import counting_half, floored_half_width


def _grid_400():
    """A 400² mask with boundaries every 100 px: 2 + 2 grid lines count 3 each (r = 0)."""
    mask = np.zeros((400, 400), bool)
    mask[::100, :] = True
    mask[:, ::100] = True
    return mask


def test_a_row_whose_lines_agree_has_the_half_width_of_its_floored_pair():
    """Lines whose counts agree (r = 0) gave ``ci95_half_width_px`` 0.0 (the bare
    scatter's) next to a non-zero ``mean_intercept_ci95_px`` pair floored at the counts'
    resolution c = t(3) sqrt(4 / 12) / 12 = 0.153: a row of ``srmat heyn`` or
    ``srmat grain-size --mask`` whose two figures of one interval disagreed. The
    half-width is now ℓ̄ c, whose inversion is the pair's sampling term;
    ``relative_accuracy_pct`` stays E112's %RA of the scatter, 0."""
    res = measure_intercepts(_grid_400(), pattern="grid", n_lines=2)
    assert res.per_line_intersections.tolist() == [3] * 4
    c = counting_half(12, 4)
    mean, half = res.mean_intercept_px, res.ci95_half_width_px
    assert half == pytest.approx(mean * c) and half > 0
    assert res.relative_accuracy_pct == 0.0
    r = grain_size_from_heyn(res)
    assert r.uncertainty["sampling_low"] == pytest.approx(math.log1p(half / mean))
    assert r.uncertainty["sampling_high"] == pytest.approx(-math.log1p(-half / mean))
    assert r.uncertainty["sampling"] == 0.0  # the terms' sampling stays the scatter's
    row = res.to_dict()
    assert row["ci95_half_width_px"] == pytest.approx(mean * c)
    assert row["relative_accuracy_pct"] == 0.0


def test_a_scatter_above_the_floor_is_the_half_width_itself():
    """Where the lines' scatter is above the counts' resolution the half-width is the
    scatter's, ℓ̄ %RA / 100, as before."""
    rng = np.random.default_rng(3)
    mask = np.zeros((600, 600), bool)
    mask[:, np.sort(rng.choice(np.arange(5, 595), 40, replace=False))] = True
    mask[np.sort(rng.choice(np.arange(5, 595), 25, replace=False)), :] = True
    res = measure_intercepts(mask, pattern="random", n_lines=20, seed=1)
    r = res.relative_accuracy_pct / 100
    assert r > counting_half(res.intersection_count, res.n_lines)
    assert res.ci95_half_width_px == pytest.approx(res.mean_intercept_px * r)


def test_one_line_has_no_half_width():
    res = measure_intercepts(_grid_400(), pattern="segments",
                             segments=[[[50, 10], [50, 390]]])
    assert res.mean_intercept_px is not None and math.isnan(res.ci95_half_width_px)


def test_a_line_the_exclusion_mask_drops_whole_leaves_the_other_lines_interval():
    """The floor's ``n`` is the lines measured: a line lying wholly on the exclusion mask
    measures nothing (no length, no count), and the scatter ``r`` is of the other lines
    only. The floor counted it (n 3, c = t(2) sqrt(3 / 12) / 6 = 0.359) where two lines
    counting 3 each were measured (c = t(1) sqrt(2 / 12) / 6 = 0.865): the half-width
    and the row's pair read narrower ([0.74, 1.56] ℓ̄) than the two lines give alone
    ([0.54, 7.35] ℓ̄)."""
    segs = [[[50, 10], [50, 390]], [[150, 10], [150, 390]], [[250, 10], [250, 390]]]
    exclusion = np.zeros((400, 400), bool)
    exclusion[240:260, :] = True  # the third line only
    res = measure_intercepts(_grid_400(), pattern="segments", segments=segs,
                             exclusion=exclusion)
    alone = measure_intercepts(_grid_400(), pattern="segments", segments=segs[:2])
    assert res.per_line_length_px.tolist() == [380.0, 380.0, 0.0]
    assert (res.n_lines, res.n_lines_measured, alone.n_lines_measured) == (3, 2, 2)
    mean = res.mean_intercept_px
    assert mean == alone.mean_intercept_px
    assert res.ci95_half_width_px == pytest.approx(mean * counting_half(6, 2))
    assert res.ci95_half_width_px == pytest.approx(alone.ci95_half_width_px)
    pair, pair_alone = (grain_size_from_heyn(r).mean_intercept_ci95_px for r in (res, alone))
    assert pair == pytest.approx(pair_alone)
    assert pair[0] < 0.55 * mean and pair[1] > 7 * mean


def test_the_half_width_is_derived_from_the_results_own_fields():
    """``ci95_half_width_px`` is a read-only property, ℓ̄ × the floored ``r`` of the
    result's own fields (``metrics.standards.floored_half_width``, the one rule). It
    was a field patched after construction: a copy whose ℓ̄ changed
    (``dataclasses.replace``) kept the stale half-width (18.33 px beside a doubled ℓ̄),
    and the field could be set to a figure its row's pair did not invert."""
    res = measure_intercepts(_grid_400(), pattern="grid", n_lines=2)
    mean = res.mean_intercept_px
    assert res.ci95_half_width_px == floored_half_width(
        mean, res.relative_accuracy_pct / 100.0, count=res.intersection_count,
        n_lines=res.n_lines_measured)
    doubled = dataclasses.replace(res, mean_intercept_px=2 * mean)
    assert doubled.ci95_half_width_px == 2 * res.ci95_half_width_px
    assert doubled.to_dict()["ci95_half_width_px"] == 2 * res.ci95_half_width_px
    with pytest.raises(AttributeError):
        res.ci95_half_width_px = 0.0
    assert "ci95_half_width_px" not in {f.name for f in dataclasses.fields(res)}


@pytest.mark.parametrize(("mean", "r", "count", "n", "expected"), [
    (10.0, 0.2, 12, 4, 2.0),                       # the scatter above c: ℓ̄ r
    (10.0, 0.0, 12, 4, 10.0 * counting_half(12, 4)),  # counts agree: ℓ̄ c
    (None, 0.2, 12, 4, math.nan),                  # no mean
    (10.0, math.nan, 12, 4, math.nan),             # no scatter
    (10.0, 0.2, 3, 1, math.nan),                   # one line
    (10.0, 0.2, 0, 4, math.nan),                   # no count
])
def test_floored_half_width_is_the_mean_times_the_floored_relative_half(
        mean, r, count, n, expected):
    got = floored_half_width(mean, r, count=count, n_lines=n)
    assert got == pytest.approx(expected, nan_ok=True)


def test_an_eighth_positional_argument_is_refused_not_read_as_the_relative_accuracy():
    """``ci95_half_width_px`` was the eighth field of ``HeynResult``: with it gone, an
    eighth positional argument (a half-width, built as before 2026-12-06) was silently
    read as ``relative_accuracy_pct`` (a 2.0 px half-width became a 2 % scatter, the
    ninth argument the pixel size). The fields after ``intersections`` are keyword-only:
    such a call is a TypeError."""
    from napari_srmat.metrics.heyn import HeynResult

    args = (10.0, 3, 30.0, 2, np.array([15.0, 15.0]), np.array([1, 2]), np.zeros((3, 2)))
    with pytest.raises(TypeError):
        HeynResult(*args, 2.0)
    res = HeynResult(*args, relative_accuracy_pct=20.0, intersection_count=3.0)
    assert res.relative_accuracy_pct == 20.0
    assert res.ci95_half_width_px == floored_half_width(10.0, 0.2, count=3.0, n_lines=2)


def test_the_summary_withholds_the_half_width_where_the_rows_interval_is_withheld():
    """``HeynResult.to_dict`` wrote ``ci95_half_width_px`` 386.3 beside ℓ̄ 38 px on two
    lines whose counts (9 and 1) scatter as much as their mean, where
    ``grain_size_from_heyn`` (``srmat heyn``'s rows, the widget's exports) withholds the
    interval: ``ℓ̄ ± half-width`` read as the interval the note says does not exist. The
    summary now takes the rows' rule (``grainsize.interval_half_width``): null; the
    scatter ``relative_accuracy_pct`` is still given."""
    m = np.zeros((200, 200), bool)
    m[:100, 20:200:20] = True
    m[100:, 100] = True
    res = measure_intercepts(
        m, pattern="segments", segments=[[[50, 5], [50, 195]], [[150, 5], [150, 195]]]
    )
    row = grain_size_from_heyn(res)
    assert row.mean_intercept_ci95_px is None and row.ci95_half_width_px is None
    assert math.isfinite(res.ci95_half_width_px)
    assert res.ci95_half_width_px > res.mean_intercept_px  # the bare figure is there
    d = res.to_dict()
    assert d["mean_intercept_px"] == pytest.approx(res.mean_intercept_px)
    assert d["ci95_half_width_px"] is None
    assert d["relative_accuracy_pct"] > 100
