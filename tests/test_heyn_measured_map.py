"""What the Heyn measurement judges and tells about the map it measures: the "not a
boundary map" rule on the thinned map when thinning is asked, thick boundaries measured
without thinning, and grains too few pixels across (a coarse mask)."""

from __future__ import annotations

import json

import numpy as np

from napari_srmat.metrics.heyn import MAX_BOUNDARY_FRACTION, measure_intercepts


def _square_grid(period: int, width: int, size: int = 240) -> np.ndarray:
    """Boundaries of square grains ``period`` px apart, drawn ``width`` px wide."""
    m = np.zeros((size, size), bool)
    for start in range(period // 2, size, period):
        m[start : start + width, :] = True
        m[:, start : start + width] = True
    return m


def _thick(message: str) -> bool:
    return "measured without thinning" in message


def _coarse(message: str) -> bool:
    return "grains this few pixels across" in message


def test_a_thick_map_thinned_is_judged_as_thinned():
    """A probability map binarised at a low threshold (here 56 % of its pixels) was refused
    as 'not a boundary map' even with skeletonize=True, although what is measured is its
    1 px skeleton: the Boundaries widget's probability layer at 0.30 with 'skeletonize'
    ticked and ``srmat heyn --threshold 0.3 --skeletonize`` were refused while the
    boundaries layer of the same map measured 17.3 px. The rule now judges the thinned
    map; unthinned the map is still refused (guard)."""
    thick = _square_grid(24, 8)
    assert thick.mean() > MAX_BOUNDARY_FRACTION
    thinned = measure_intercepts(thick, skeletonize=True)
    thin = measure_intercepts(_square_grid(24, 1), skeletonize=True)
    assert not thinned.degenerate and thinned.mean_intercept_px is not None
    assert not any("not a boundary map" in w for w in thinned.warnings)
    assert abs(thinned.mean_intercept_px / thin.mean_intercept_px - 1) < 0.05
    assert thinned.n_boundary_px == int(thick.sum())  # the mask's, before thinning
    unthinned = measure_intercepts(thick)
    assert unthinned.degenerate and unthinned.mean_intercept_px is None


def test_a_mask_without_a_grain_pixel_is_no_boundary_map_even_thinned():
    """Guard (passes before): an all-boundary mask (a probability map thresholded at 0)
    thins to a few pixels that one line crosses; it stays 'not a boundary map'."""
    r = measure_intercepts(np.ones((120, 120), bool), skeletonize=True)
    assert r.degenerate and r.mean_intercept_px is None
    assert any("not a boundary map" in w for w in r.warnings)


def test_thick_boundaries_measured_without_thinning_are_warned():
    """Boundaries about 5 px wide measured without thinning read ℓ̄ long (the tbm val
    probability map at its threshold 0.5: 22.6 px against 19.3 px thinned, +17 %) and
    nothing said so. Now a warning names the width and asks for thinning; the same map
    thinned, or boundaries 3 px wide (the hand-drawn masks'), get none."""
    wide = measure_intercepts(_square_grid(24, 6))
    assert wide.mean_intercept_px is not None
    told = [w for w in wide.warnings if _thick(w)]
    assert len(told) == 1 and "skeletonize" in told[0]
    assert not any(
        _thick(w) for w in measure_intercepts(_square_grid(24, 6), skeletonize=True).warnings
    )
    assert measure_intercepts(_square_grid(24, 3)).warnings == []


def test_a_coarse_mask_is_warned_in_every_path(tmp_path, capsys):
    """A boundary mask whose grains are a few pixels across (the tbm val mask reduced ×4:
    ℓ̄ 7.5 px) read 14.94 µm against 12.37 µm at full resolution (+21 %) with no warning
    in the widget, ``srmat heyn``, ``srmat grain-size --mask`` or the API, although a
    micrograph under 8 px is withheld. The measurement now warns under the same limit
    (grainsize.MIN_INPUT_INTERCEPT_PX); a mask of the same grains twice as fine does not."""
    from PIL import Image

    from napari_srmat.cli import main
    from napari_srmat.grainsize import MIN_INPUT_INTERCEPT_PX, measure_grain_size

    coarse = _square_grid(8, 1)
    r = measure_intercepts(coarse, skeletonize=True)
    assert r.mean_intercept_px < MIN_INPUT_INTERCEPT_PX
    told = [w for w in r.warnings if _coarse(w)]
    assert len(told) == 1 and f"< {MIN_INPUT_INTERCEPT_PX:g} px" in told[0]
    assert r.mean_intercept_px is not None  # told, not withheld
    fine = measure_intercepts(_square_grid(16, 1), skeletonize=True)
    assert fine.mean_intercept_px > MIN_INPUT_INTERCEPT_PX and fine.warnings == []

    gs = measure_grain_size(coarse, mask=True, pixel_size_um=2.0)
    assert any(_coarse(w) for w in gs.warnings)
    path = tmp_path / "coarse.png"
    Image.fromarray(coarse.astype(np.uint8) * 255).save(path)
    assert main(["grain-size", str(path), "--mask", "--pixel-size-um", "2", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["images"][0]
    assert any(_coarse(w) for w in row["warnings"])
    assert main(["heyn", str(path), "--pixel-size-um", "2", "--skeletonize"]) == 0
    assert any(_coarse(line) for line in capsys.readouterr().err.splitlines())
