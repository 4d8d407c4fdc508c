"""A test line within a degree of a boundary: its weave is one passage however long.

The passage rule joins the touches of a tilted line weaving along a digital boundary;
below about 1° the stretches between touches (about 1 / tan δ px) outgrew the 64 px
window and every touch counted again (studies/heyn_long_passages.py).
"""

from __future__ import annotations

import pytest
from test_heyn import _digital_parallel_lines, _lines_near

from napari_srmat.metrics.heyn import measure_intercepts


@pytest.mark.parametrize("alpha", [10.0, 25.0, 40.0])
def test_a_line_half_a_degree_from_a_boundary_crosses_it_once(alpha):
    # One digital boundary through the centre of a 401² mask; lines 600 px long at
    # 0.4-0.6° to it, through points within half a pixel of it: each crosses it once.
    # With the 64 px window they counted 5 to 35 (stretches of 95-143 px between touches).
    m = _digital_parallel_lines(401, alpha, 1000.0, through=(200.0, 200.0))
    segs = _lines_near(200.0, alpha, (0.4, 0.5, -0.6), 300.0)
    r = measure_intercepts(m, pattern="segments", segments=segs)
    assert r.per_line_count.tolist() == [1] * len(segs)
