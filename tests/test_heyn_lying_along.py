"""A line lying along a boundary from end to end (``metrics.heyn._lies_along``): one run
holding both its ends, E112's coincident line, P 1 and no intercept; a line that leaves
the boundary's band before its end still touches it with one end (½)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_heyn import _assert_fast_engine_counts_as_the_reference, _digital_parallel_lines

from napari_srmat.metrics.heyn import measure_intercepts
from napari_srmat.synth.digital import stepping_row_mask


def _along(side: int, alpha: float, length: float, offsets, deltas) -> list:
    """Lines of ``length`` at ``alpha + delta`` through points ``offsets`` px across the
    boundary through the map's centre at ``alpha``."""
    a = math.radians(alpha)
    nrm = np.array([math.cos(a), -math.sin(a)])
    c = np.array([side / 2, side / 2])
    segs = []
    for d in deltas:
        th = math.radians(alpha + d)
        u = np.array([math.sin(th), math.cos(th)]) * length / 2
        segs += [np.array([c + s * nrm - u, c + s * nrm + u]) for s in offsets]
    return segs


@pytest.mark.parametrize("alpha", [10.0, 25.0, 40.0])
def test_a_line_lying_along_a_boundary_has_p_1_and_no_intercept(alpha):
    # 400 px lines within 0.02° of a straight boundary through points within 0.3 px of
    # it: before _lies_along P 0.5-2.0 and N 0-2.0 a line (the end runs apart, an end in
    # a grain half an intercept); E112 counts the coincident line 1, and it has no
    # stretch inside a grain.
    side = 800
    m = _digital_parallel_lines(side, alpha, 1e5, through=(side / 2, side / 2))
    segs = _along(side, alpha, 400.0, (-0.3, 0.0, 0.2), (0.0, 0.005, -0.01, 0.02))
    r = measure_intercepts(m, pattern="segments", segments=segs)
    assert r.per_line_intersections.tolist() == [1.0] * len(segs)
    assert r.per_line_intercepts.tolist() == [0.0] * len(segs)
    assert r.n_line_end_touches == 0
    _assert_fast_engine_counts_as_the_reference(m, segs, np.zeros(len(segs), bool))


def test_a_line_leaving_a_boundary_band_before_its_end_touches_it_with_one_end():
    # A line 0.39° from a 1 px stripe (column 125) starts on it and ends 1.36 px beside
    # its centre: its path leaves the stripe after 51 px and runs 128 px in column 124,
    # every pixel next to the stripe. Its end stretch is longer than any between its
    # touches (it has one run): it touches the stripe with one end, ½, by hand as by
    # the counter (tests/test_heyn.py's stripes count it so).
    m = np.zeros((200, 200), bool)
    m[:, 5::10] = True
    seg = np.array([[9.95, 124.845], [189.05, 123.639]])
    r = measure_intercepts(m, pattern="segments", segments=[seg])
    assert r.per_line_intersections.tolist() == [0.5]
    r = measure_intercepts(m, pattern="segments", segments=[seg[::-1]])
    assert r.per_line_intersections.tolist() == [0.5]


def test_a_line_crossing_a_boundary_within_a_pixel_of_it_still_counts_one():
    # 120 px lines at 0.3-0.6° through the boundary (ends 0.3-0.6 px either side), each
    # within a pixel of it end to end: one crossing, P 1. Before _lies_along 6 of 18
    # read 1.5 or 2 (at 10° and 40°: an end run counted apart).
    side = 400
    for alpha in (10.0, 25.0, 40.0):
        m = _digital_parallel_lines(side, alpha, 1e5, through=(side / 2, side / 2))
        segs = _along(side, alpha, 120.0, (0.0, 0.1), (0.3, -0.45, 0.6))
        r = measure_intercepts(m, pattern="segments", segments=segs)
        assert r.per_line_intersections.tolist() == [1.0] * len(segs)


def _t_junction(side: int, alpha: float, at: float) -> np.ndarray:
    """A 1 px boundary at ``alpha`` through the map's centre and a 1 px wall at 70° to
    it, from the boundary ``at`` px along it (from the centre) to the map's edge on the
    side of positive offsets: the grain on that side is two grains, the boundary's a
    T-junction."""
    a, b = math.radians(alpha), math.radians(alpha + 70.0)
    yy, xx = np.mgrid[:side, :side] - side / 2
    across = -xx * math.sin(a) + yy * math.cos(a)
    w = max(abs(math.cos(a)), abs(math.sin(a)))
    wall = -(xx - at * math.cos(a)) * math.sin(b) + (yy - at * math.sin(a)) * math.cos(b)
    w2 = max(abs(math.cos(b)), abs(math.sin(b)))
    return (((across >= -w / 2) & (across < w / 2))
            | ((wall >= -w2 / 2) & (wall < w2 / 2) & (across > 0)))


def test_a_line_along_a_boundary_past_a_t_junction_into_a_third_grain_is_not_lying_along():
    # A 200 px line at 25° within 0.2 px of a 1 px boundary, on the side that a wall
    # splits 40 px before the line's end: its path weaves through the two sides of the
    # boundary and, past the T-junction, the third grain. It lies along no one boundary
    # between two grains: it crosses the wall. Its 1-2 px stretches between runs, merged
    # before the passage rule, were not among the passage's grains, so _lies_along
    # scored it 1 (P 2 at 0872c44). On the other side (-0.3 px) the line never enters
    # the third grain: it lies along the boundary, 1.
    side = 400
    m = _t_junction(side, 25.0, 60.0)
    segs = _along(side, 25.0, 200.0, (0.2, -0.3), (0.0,))
    r = measure_intercepts(m, pattern="segments", segments=segs)
    p = r.per_line_intersections.tolist()
    assert p[0] > 1.0, p
    assert p[1] == 1.0, p
    _assert_fast_engine_counts_as_the_reference(m, segs, np.zeros(len(segs), bool))


@pytest.mark.xfail(strict=True, reason="known limitation: an axis-parallel line is outside "
                   "the passage and lying-along rules (tilted lines only); along a boundary "
                   "that steps by a pixel each touch counts. Applying them to rows and "
                   "columns moved grid counts away from the truth on wiggly maps: not "
                   "shipped (studies/heyn_axis_passages.py, docs/heyn.md)")
def test_a_row_along_a_boundary_stepping_between_two_rows_is_one_intersection():
    # A 1 px boundary along row 150 that steps to row 151 and back every 20-40 px: a
    # line along row 150 lies within a pixel of it from end to end (E112: coincident,
    # 1) and never enters the grain below, but it is axis-parallel: each stretch on the
    # boundary is a run, P 5. The same line tilted by 0.2° (through row 150.9 at its
    # end) reads 1.
    m = stepping_row_mask()
    tilted = measure_intercepts(m, pattern="segments",
                                segments=[np.array([[150.0, 20.0], [150.9, 280.0]])])
    assert tilted.per_line_intersections.tolist() == [1.0]
    row = np.array([[150.0, 20.0], [150.0, 280.0]])
    r = measure_intercepts(m, pattern="segments", segments=[row])
    assert r.per_line_intersections.tolist() == [1.0]
