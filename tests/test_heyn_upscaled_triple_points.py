"""E112's triple points on a nearest upscale: the third grain is looked for on the mask as
drawn (one pixel per block of the block scale, read off the mask or given by
``mask_scale``), so a x2 / x4 nearest upscale finds the triple points of the x1 mask
(docs/heyn.md "Upscaled masks"). Before, the window's pixel radius (at most 8 px) did
not follow the scale: a x4 upscale lost most of them and ℓ̄ read ~6 % long."""

from __future__ import annotations

import numpy as np
import pytest

import napari_srmat.metrics.heyn as heyn
from napari_srmat.metrics.heyn import measure_intercepts
from napari_srmat.synth import generate_microstructure


def _drawn() -> np.ndarray:
    """A 1 px boundary mask as drawn (192², 16 px grains: many 3-grain junctions)."""
    return generate_microstructure(
        (192, 192), mean_grain_size_px=16, seed=7, boundary_width=1, rgb=False
    ).boundaries


def _axis_lines(shape: tuple[int, int]) -> list[np.ndarray]:
    """Rows and columns every 5 px, as segments through pixel centres."""
    H, W = shape
    rows = [np.array([[r, 0.0], [r, W - 1.0]]) for r in range(2, H, 5)]
    cols = [np.array([[0.0, c], [H - 1.0, c]]) for c in range(2, W, 5)]
    return rows + cols


def _per_line_triple(mask: np.ndarray, lines: list[np.ndarray], s: int, **kw) -> np.ndarray:
    """Triple points per line of the x ``s`` nearest upscale of ``mask``, each line laid
    where it lies on the mask drawn (pixel i: the centre of block i)."""
    up = np.kron(mask, np.ones((s, s), bool))
    paths = [p * s + (s - 1) / 2 for p in lines]
    closed = np.zeros(len(paths), bool)
    tilted = np.array([bool(np.all(np.diff(p, axis=0) != 0, axis=1).any()) for p in paths])
    tr = heyn._measure_paths(up, paths, closed, tilted, triple_points=True, **kw)
    return np.bincount(tr.run_path, weights=tr.run_triple, minlength=len(paths))


@pytest.mark.parametrize("s", [2, 4])
def test_a_nearest_upscale_finds_the_triple_points_of_each_line_drawn(s):
    """Per line (rows and columns), the triple points of a x2 / x4 nearest upscale are
    those of the mask drawn, the scale read off the mask or given; before: 123 / 59 of
    177 at x2 / x4 (a window of at most 8 px does not reach past a 4 px wide boundary)."""
    m = _drawn()
    lines = _axis_lines(m.shape)
    x1 = _per_line_triple(m, lines, 1)
    assert x1.sum() > 50  # junction-rich
    np.testing.assert_array_equal(_per_line_triple(m, lines, s), x1)
    np.testing.assert_array_equal(_per_line_triple(m, lines, s, mask_scale=s), x1)


def test_random_lines_on_a_x4_upscale_score_the_triple_points_drawn():
    """Random (tilted) lines laid alike on the mask drawn and its x4 nearest upscale:
    E112's ℓ̄ (µm) within 1 %, as many triple points within 3 % (the bridge's few
    per-line differences, docs/heyn.md); before: ℓ̄ +5.2 %, 40 of 94 triple points."""
    m = _drawn()
    lines = heyn.make_pattern(m.shape, "random", n_lines=40, seed=2)[0]
    kw = dict(pattern="segments", triple_points=True)
    x1 = measure_intercepts(m, pixel_size_um=1.0, segments=lines, **kw)
    x4 = measure_intercepts(
        np.kron(m, np.ones((4, 4), bool)),
        pixel_size_um=0.25,
        segments=[p * 4 + 1.5 for p in lines],
        **kw,
    )
    assert x4.block_scale == 4
    assert abs(x4.n_triple_points / x1.n_triple_points - 1) < 0.03
    assert abs(x4.mean_intercept_um / x1.mean_intercept_um - 1) < 0.01


def test_a_mask_drawn_at_x1_keeps_its_triple_points():
    """Guard: no block scale, the window is on the pixels as before (radius from the run)."""
    m = _drawn()
    lines = _axis_lines(m.shape)
    np.testing.assert_array_equal(
        _per_line_triple(m, lines, 1, mask_scale=1), _per_line_triple(m, lines, 1)
    )
