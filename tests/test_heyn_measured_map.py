"""What the Heyn measurement judges and tells about the map it measures: the "not a
boundary map" rule on the thinned map when thinning is asked, thick boundaries measured
without thinning, and grains too few pixels across (a coarse mask)."""

from __future__ import annotations

import json

import numpy as np

from napari_srmat.metrics.heyn import (
    MAX_BOUNDARY_FRACTION,
    MAX_THINNED_BOUNDARY_FRACTION,
    measure_intercepts,
)


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


def _not_a_boundary_map(message: str) -> bool:
    return "not a boundary map" in message


def _half_before_thinning(message: str) -> bool:
    return "before thinning" in message


def test_a_map_almost_all_boundary_is_no_boundary_map_even_thinned():
    """Random maps 95 % and 99.9 % boundary thinned read a G (512² px: ℓ̄ 11-20 px, G
    8-11.4, the 99.9 % one with no warning) once the rule judged the thinned map: their
    skeleton is the medial axis of the few grain pixels left. Over
    MAX_THINNED_BOUNDARY_FRACTION before thinning a map is refused even thinned; a 60 %
    one is measured thinned, told that it was more than half boundary before thinning."""
    rng = np.random.default_rng(0)
    for fraction in (0.95, 0.999):
        m = rng.random((256, 256)) < fraction
        assert m.mean() > MAX_THINNED_BOUNDARY_FRACTION
        r = measure_intercepts(m, skeletonize=True)
        assert r.degenerate and r.mean_intercept_px is None and r.astm_g is None
        assert any(_not_a_boundary_map(w) for w in r.warnings)
    m = rng.random((256, 256)) < 0.6
    assert MAX_BOUNDARY_FRACTION < m.mean() < MAX_THINNED_BOUNDARY_FRACTION
    r = measure_intercepts(m, skeletonize=True)
    assert not r.degenerate and r.mean_intercept_px is not None
    told = [w for w in r.warnings if _half_before_thinning(w)]
    assert len(told) == 1 and "60%" in told[0]
    assert measure_intercepts(m).degenerate  # unthinned: refused as before


def _faint_bands() -> tuple[np.ndarray, np.ndarray]:
    """A probability map of Voronoi boundaries blurred σ = 3 px, each grain's boundaries
    at its own peak 0.15-1 (faint ones are lost at high thresholds), and its mask."""
    from scipy import ndimage

    rng = np.random.default_rng(3)
    n, k = 192, 60
    pts = rng.random((k, 2)) * n
    yy, xx = np.mgrid[:n, :n]
    lab = ((yy[..., None] - pts[:, 0]) ** 2 + (xx[..., None] - pts[:, 1]) ** 2).argmin(-1)
    mask = np.zeros((n, n), bool)
    mask[:-1] |= lab[:-1] != lab[1:]
    mask[:, :-1] |= lab[:, :-1] != lab[:, 1:]
    peaks = np.where(mask, rng.uniform(0.15, 1.0, k)[lab], 0.0)
    unit = ndimage.gaussian_filter(mask.astype(float), 3.0).max()
    prob = np.clip(ndimage.gaussian_filter(peaks, 3.0) / unit, 0, 1).astype(np.float32)
    return prob, mask


def test_calibration_never_takes_a_threshold_over_half_boundary():
    """The threshold calibrations (thresholds.mean_intercept: the ℓ̄ curve, the stable
    threshold, the rule fitter; evaluate.heyn_calibrated_threshold) measure skeletonised
    maps, so once the rule judged the thinned map a threshold marking more than half the
    pixels got a finite ℓ̄ and could win: on these faint bands the Heyn-calibrated
    threshold went 0.1 -> 0.075 (63 % boundary at 0.05, 50.0 % at 0.1). A threshold
    over MAX_BOUNDARY_FRACTION before thinning is no operating point: no figure."""
    from napari_srmat.edges.evaluate import heyn_calibrated_threshold
    from napari_srmat.edges.thresholds import mean_intercept

    prob, mask = _faint_bands()
    candidates = np.round(np.arange(0.05, 0.951, 0.025), 3)
    over = [t for t in candidates if (prob >= t).mean() > MAX_BOUNDARY_FRACTION]
    assert over  # the low thresholds mark bands
    assert all(mean_intercept(prob >= t) is None for t in over)
    t, _ = heyn_calibrated_threshold([prob], [mask], thresholds=candidates)
    assert t is not None and t not in over


def test_map_evaluation_gives_no_heyn_figure_over_half_boundary():
    """evaluate_maps (srmat eval-maps, the UAED evaluation) measures skeletonised maps
    too: after 298125b6 a threshold marking more than half the pixels got a thinned
    ℓ̄ (and a Heyn error) where it got none; as the calibrations, no figure there."""
    from napari_srmat.metrics.edges import evaluate_maps

    prob, mask = _faint_bands()
    low = 0.05
    assert (prob >= low).mean() > MAX_BOUNDARY_FRACTION
    got = evaluate_maps([prob], [mask], threshold=low)
    assert got["per_image"][0]["heyn_pred_px"] is None
    assert got["heyn_error_pct"] is None
    fine = evaluate_maps([prob], [mask], threshold=0.3)  # an operating point: measured
    assert fine["per_image"][0]["heyn_pred_px"] is not None


def test_a_coarse_micrograph_is_told_once_with_the_micrograph_advice(monkeypatch):
    """A micrograph measured at a scale where ℓ̄ < 8 px carried two 'too coarse' warnings:
    grain-size's (super-resolve first) and the boundary map's, which told a micrograph
    user to measure a mask drawn at a finer pixel size. Only grain-size's is left; a
    coarse mask keeps the mask's (test_a_coarse_mask_is_warned_in_every_path)."""
    import napari_srmat.grainsize as gs
    from napari_srmat.edges import load_boundary_model
    from napari_srmat.synth import generate_microstructure

    ms = generate_microstructure((160, 160), mean_grain_size_px=8, seed=1)
    prob = np.where(np.asarray(ms.boundaries, bool), 0.9, 0.02).astype(np.float32)

    def fake_predict(x, model, stop):
        return prob
        yield  # a generator, like _predict

    monkeypatch.setattr(gs, "_predict", fake_predict)
    r = gs.measure_grain_size(
        ms.image, model=load_boundary_model(), pixel_size_um=1.0, inference_scale=1.0
    )
    assert r.inference_intercept_px < gs.MIN_INPUT_INTERCEPT_PX
    # grain-size's rule and the map's speak of ℓ̄ under MIN_INPUT_INTERCEPT_PX (until
    # s51 E2 both said "too coarse")
    told = [w for w in r.warnings if f"< {gs.MIN_INPUT_INTERCEPT_PX:g} px" in w]
    assert len(told) == 1 and "super-resolve first" in told[0], r.warnings


def test_the_boundary_map_rule_judges_the_region_measured_before_twins():
    """The boundary fraction was counted over the whole image although ℓ̄ leaves out an
    exclusion mask's pixels (a boundary-filled area excluded made a normal map 'not a
    boundary map'), and, since the rule judged the map measured, after twins were added
    (a 45 % map with twin traces to 55 % was refused; before, the map as given was
    judged). Now the region measured of the map as given is judged."""
    m = np.zeros((200, 200), bool)
    m[:, :100] = True  # a filled area, excluded
    m[:, 105::20] = True
    m[5::20, 100:] = True
    excluded = np.zeros_like(m)
    excluded[:, :100] = True
    assert m.mean() > MAX_BOUNDARY_FRACTION
    r = measure_intercepts(m, exclusion=excluded)
    assert not r.degenerate and r.mean_intercept_px is not None

    banded = _square_grid(24, 6)  # 44 % boundary
    twins = np.zeros_like(banded)
    twins[:, ::8] = True
    twins[:, 1::8] = True
    assert banded.mean() < MAX_BOUNDARY_FRACTION < (banded | twins).mean()
    r = measure_intercepts(banded, twins=twins, exclude_twins=False)
    assert not r.degenerate and r.mean_intercept_px is not None


def test_heyn_error_takes_no_map_over_half_boundary_as_evaluate_maps():
    """heyn_error passed its keywords straight to measure_intercepts, whose thinned-map
    cap is 0.75: a prediction 63 % boundary before thinning got a Heyn error there and
    none from evaluate_maps. compare_intercepts is the one rule of every comparison."""
    from napari_srmat.metrics.heyn import heyn_error

    prob, mask = _faint_bands()
    pred = prob >= 0.05
    assert MAX_BOUNDARY_FRACTION < pred.mean() < 0.75
    got = heyn_error([pred], [mask], skeletonize=True)
    assert got["per_image"][0]["pred_px"] is None
    assert heyn_error([prob >= 0.3], [mask], skeletonize=True)["per_image"][0][
        "pred_px"] is not None
