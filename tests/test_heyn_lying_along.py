"""A line lying along a boundary from end to end (``metrics.heyn._lies_along``): one run
holding both its ends, E112's coincident line, P 1 and no intercept; a line that leaves
the boundary's band before its end still touches it with one end (½)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_heyn import _assert_fast_engine_counts_as_the_reference, _digital_parallel_lines

from napari_srmat.metrics.heyn import measure_intercepts


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
