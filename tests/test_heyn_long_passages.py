"""A test line within a degree of a boundary: its weave is one passage however long.

The passage rule joins the touches of a tilted line weaving along a digital boundary;
below about 1° the stretches between touches (about 1 / tan δ px) outgrew the 64 px
window and every touch counted again (studies/heyn_long_passages.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_heyn import _digital_parallel_lines, _lines_near

from napari_srmat.metrics.grainmap import boundaries_from_labels
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


#: A boundary wiggling ``WAVE_AMPLITUDE_PX`` about a straight line with a wavelength of
#: ``WAVE_LENGTH_PX``: a test line along it crosses it for real every ~300 px at about
#: 1.2°, farther apart than the old 64 px window and within the 256 px one.
WAVE_AMPLITUDE_PX = 2.0
WAVE_LENGTH_PX = 600.0


def _wave_boundary(side: int, alpha_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The one-pixel boundary of a sine wave at ``alpha_deg`` through the centre; its
    direction and normal (row, col)."""
    a = math.radians(alpha_deg)
    t, nrm = np.array([math.sin(a), math.cos(a)]), np.array([math.cos(a), -math.sin(a)])
    yy, xx = np.mgrid[:side, :side].astype(float) - side / 2
    along, across = yy * t[0] + xx * t[1], yy * nrm[0] + xx * nrm[1]
    wave = WAVE_AMPLITUDE_PX * np.sin(2 * np.pi * along / WAVE_LENGTH_PX)
    return boundaries_from_labels((across > wave).astype(int)), t, nrm


@pytest.mark.parametrize("alpha", [10.0, 25.0, 40.0])
def test_a_line_along_a_gently_wiggling_boundary_counts_each_real_crossing(alpha):
    # Lines within 0.3° of the wave's mean direction, offset within its amplitude, cross
    # it several times each (exact: sign changes of the continuous wave along the line).
    # One passage joins a weave's touches, not these crossings: a passage that comes back
    # to its grain counts again. 64 px window: 2.3 to 8.6 × the exact count (every touch).
    side = 1000
    mask, t, nrm = _wave_boundary(side, alpha)
    rng = np.random.default_rng(3)
    s = np.linspace(-400.0, 400.0, 40001)
    segs, exact = [], 0
    for _ in range(40):
        phi = math.radians(alpha + rng.uniform(-0.3, 0.3))
        u = np.array([math.sin(phi), math.cos(phi)])
        mid = rng.uniform(-WAVE_AMPLITUDE_PX - 1, WAVE_AMPLITUDE_PX + 1) * nrm
        pts = mid + s[:, None] * u
        side_of = np.sign(pts @ nrm - WAVE_AMPLITUDE_PX
                          * np.sin(2 * np.pi * (pts @ t) / WAVE_LENGTH_PX))
        exact += int(np.count_nonzero(side_of[1:] != side_of[:-1]))
        segs.append([mid + side / 2 - 400 * u, mid + side / 2 + 400 * u])
    counted = measure_intercepts(mask, pattern="segments", segments=segs).intersection_count
    assert 0.95 * exact <= counted <= 1.2 * exact, (counted, exact)
