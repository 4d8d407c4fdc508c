"""``measure_intercepts`` counts a mask's boundary pixels once (the boundary fraction of
the degenerate-mask rule and ``n_boundary_px``), again only where twins change it."""

from __future__ import annotations

import numpy as np
import pytest

from napari_srmat.metrics.heyn import MAX_BOUNDARY_FRACTION, measure_intercepts


def _grid(side: int = 256, step: int = 16) -> np.ndarray:
    m = np.zeros((side, side), bool)
    m[:, 3::step] = True
    m[3::step, :] = True
    return m


def _whole_mask_counts(monkeypatch, shape) -> list:
    """Record each ``np.count_nonzero`` of an array of the mask's shape."""
    seen: list = []
    real = np.count_nonzero

    def counting(a, *args, **kwargs):
        if getattr(a, "shape", None) == shape:
            seen.append(a)
        return real(a, *args, **kwargs)

    monkeypatch.setattr(np, "count_nonzero", counting)
    return seen


def test_the_boundary_pixels_are_counted_once_without_twins(monkeypatch):
    """Without twins the mask was counted twice, once for the boundary fraction and once
    for ``n_boundary_px``, the same pixels (a 4000² mask: two passes of the whole
    mask); it is counted once, the figures unchanged."""
    mask = _grid()
    seen = _whole_mask_counts(monkeypatch, mask.shape)
    res = measure_intercepts(mask)
    assert len(seen) == 1
    assert res.n_boundary_px == int(mask.sum()) and not res.degenerate


def test_twins_are_counted_in_the_boundary_pixels(monkeypatch):
    """With twins ``n_boundary_px`` is the mask's after they are added (or merged)."""
    mask = _grid()
    twins = np.zeros_like(mask)
    twins[100, 20:30] = True  # a twin line inside one grain
    seen = _whole_mask_counts(monkeypatch, mask.shape)
    res = measure_intercepts(mask, twins=twins, exclude_twins=False)
    assert len(seen) == 2
    assert res.n_boundary_px == int((mask | twins).sum())


@pytest.mark.parametrize("fill", [0.7, 0.0])
def test_the_fraction_rule_is_unchanged(fill):
    """The degenerate rule and the all-zero mask read as before."""
    rng = np.random.default_rng(0)
    mask = rng.random((128, 128)) < fill
    res = measure_intercepts(mask)
    assert res.degenerate == bool(mask.mean() > MAX_BOUNDARY_FRACTION)
    assert res.n_boundary_px == int(mask.sum())
