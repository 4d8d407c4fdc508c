"""The zig-zag bridge of the run count reaches as far as the boundaries are wide
(``metrics.heyn._bridge_reach``, ``BRIDGE_WIDTH_PX``): a mask upscaled x4 nearest with
its pixel size divided by 4 is the same microstructure and reads the same ℓ̄ in µm,
masks of narrow boundaries count exactly as before, and two wide bands a few pixels
apart stay two crossings (docs/heyn.md "Upscaled masks")."""

from __future__ import annotations

import numpy as np
import pytest

import napari_srmat.metrics.heyn as heyn
from napari_srmat.metrics.heyn import measure_intercepts
from napari_srmat.synth import generate_microstructure


def _synthetic(width: int) -> np.ndarray:
    return generate_microstructure(
        (256, 256), mean_grain_size_px=24, seed=3, boundary_width=width, rgb=False
    ).boundaries


def _nearest(mask: np.ndarray, s: int) -> np.ndarray:
    return np.kron(mask, np.ones((s, s), bool))


def test_a_nearest_upscaled_mask_reads_the_mean_intercept_of_the_mask_drawn():
    """x4 nearest of a 3 px synthetic boundary mask (12 px stepped bands) read ℓ̄ 10.6 %
    short in µm: oblique random lines leaving a band at a corner of its staircase came
    back more than 2 px later and counted two crossings. With the reach of the band's
    width (k = 4-5 px) it reads within 1 %."""
    m = _synthetic(3)
    x1 = measure_intercepts(m, pixel_size_um=1.0).mean_intercept_um
    x4 = measure_intercepts(_nearest(m, 4), pixel_size_um=0.25).mean_intercept_um
    assert abs(x4 / x1 - 1) < 0.04, (x1, x4)


@pytest.mark.parametrize("width", [1, 2, 3])
def test_masks_of_narrow_boundaries_count_as_with_the_2_px_bridge(width, monkeypatch):
    """Guard: boundaries up to 3 px wide (the synthetic masks' junction blobs and spurs
    included) keep the 2 px bridge: no reach map, the same counts line by line, for
    random lines and circles."""
    m = _synthetic(width)
    assert heyn._bridge_reach(m) is None
    now = [measure_intercepts(m, pattern=p).per_line_count for p in ("random", "circles")]
    monkeypatch.setattr(heyn, "_bridge_reach", lambda mask: None)
    before = [measure_intercepts(m, pattern=p).per_line_count for p in ("random", "circles")]
    for a, b in zip(now, before, strict=True):
        assert a.tolist() == b.tolist()


def _two_bands(gap: int, stepped: bool) -> np.ndarray:
    """Two 12 px wide boundary bands ``gap`` px apart (a thin grain, a twin lamella,
    between them): vertical, or the x4 nearest upscale of two slanted 3 px lines."""
    if not stepped:
        m = np.zeros((240, 240), bool)
        m[:, 100:112] = True
        m[:, 112 + gap : 124 + gap] = True
        return m
    # gap is a multiple of 4 here: x1 lines 3 px wide, (gap / 4) px apart, slanted 1 in 3
    g = gap // 4
    m = np.zeros((60, 60), bool)
    for r in range(60):
        c = 20 + r // 3
        m[r, c : c + 3] = True
        m[r, c + 3 + g : c + 6 + g] = True
    return _nearest(m, 4)


@pytest.mark.parametrize("gap, stepped", [(3, False), (4, False), (6, False), (4, True), (8, True)])
def test_two_wide_bands_a_few_pixels_apart_are_two_crossings(gap, stepped):
    """Guard: the wide bridge (2 k = 8-10 px here) does not join two real boundaries
    whose bands lie closer than it: the pixels between them are a third grain (the
    thin one), which the third-grain rule keeps apart, though the chord between the
    runs stays within k px of a boundary. (The stepped pair still reads some lines 3:
    a zig-zag the wider bridge leaves, never fewer than the two boundaries.)"""
    m = _two_bands(gap, stepped)
    reach = heyn._bridge_reach(m)
    assert reach is not None and reach.k[m.ravel()].max() >= 4
    rows = np.linspace(70, 170, 6)
    segs = [np.array([[r - d, 50.0], [r + d, 200.0]]) for r in rows for d in (10, 25, 40, 55)]
    res = measure_intercepts(m, pattern="segments", segments=segs)
    counts = res.per_line_count
    assert counts.min() == 2
    if not stepped:
        assert counts.tolist() == [2] * len(segs)
