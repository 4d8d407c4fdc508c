"""Whole grain-size measurement: napari_srmat.grainsize and ``srmat grain-size``."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from napari_srmat.cli import main
from napari_srmat.grainsize import (
    COARSE_DIRECTION_NOTE,
    COARSE_INPUT_INTERCEPT_PX,
    COARSE_MODEL_LOG_ERROR_95,
    INFERENCE_SCALE_LIMIT,
    MAX_NATIVE_SHARPNESS,
    MIN_INPUT_INTERCEPT_PX,
    MIN_NATIVE_SHARPNESS,
    MODEL_LOG_ERROR_95,
    SCALE_TOLERANCE,
    SCHEMA_KEYS,
    SHARP_KEEP_SCALE_RANGE,
    TARGET_INTERCEPT_PX,
    GrainSizeError,
    choose_inference_scale,
    estimate_intercept_px,
    estimate_sharpness,
    intercept_interval,
    is_scale_warning,
    measure_grain_size,
    resample,
)
from napari_srmat.metrics.heyn import measure_intercepts
from napari_srmat.metrics.standards import ASTM_G_TABLE_MARGIN, ASTM_G_TABLE_RANGE
from napari_srmat.synth import generate_microstructure, true_mean_intercept
from napari_srmat.widgets.layers import heyn_statistics


@pytest.fixture(scope="module")
def model():
    from napari_srmat.edges import load_boundary_model

    return load_boundary_model()


def _box_truth(labels: np.ndarray, margin: float = 0.05) -> float:
    """Exact ℓ̄ of the field the test lines sample (the margin box)."""
    h, w = labels.shape
    r0, r1 = math.ceil(margin * (h - 1)), math.floor((1 - margin) * (h - 1)) + 1
    c0, c1 = math.ceil(margin * (w - 1)), math.floor((1 - margin) * (w - 1)) + 1
    return true_mean_intercept(labels[r0:r1, c0:c1])


# ------------------------------------------------------------------ pieces
def test_interval_terms_and_g_order():
    counts = {"intersection_count": 400, "n_lines": 50}
    (lo, hi), terms = intercept_interval(25.0, sampling_half_px=1.0, model_range_px=(23, 28),
                                         **counts)
    assert lo < 25 < hi
    assert terms["model_low"] == pytest.approx(math.log(25 / 23))
    # a band entirely below ℓ̄ adds nothing above it
    (lo2, hi2), t2 = intercept_interval(25.0, sampling_half_px=1.0, model_range_px=(20, 24),
                                        **counts)
    assert t2["model_high"] == 0 and hi2 < hi and lo2 < lo
    # an unmeasurable band end gives no interval
    assert intercept_interval(25.0, sampling_half_px=1.0, model_range_px=(None, 28),
                              **counts)[0] is None
    assert intercept_interval(25.0, sampling_half_px=math.nan, **counts)[0] is None
    assert intercept_interval(25.0, sampling_half_px=1.0, intersection_count=400,
                              n_lines=1)[0] is None  # one line: no scatter, no interval


def test_choose_scale_and_resample():
    assert choose_inference_scale(None) == 1.0
    assert choose_inference_scale(104.0) == pytest.approx(0.25)
    assert choose_inference_scale(1.0) <= 26 / MIN_INPUT_INTERCEPT_PX  # capped up-sampling
    assert resample(np.zeros((10, 8, 3), np.float32), 2).shape == (20, 16, 3)
    with pytest.raises(GrainSizeError):
        resample(np.zeros((10, 8)), 0)


def test_sharp_inputs_keep_their_scale():
    # down-sampling by at most 2 is skipped for a native-sharp input, nothing else
    assert choose_inference_scale(40.0) == pytest.approx(0.65)
    assert choose_inference_scale(40.0, sharpness=MIN_NATIVE_SHARPNESS) == 1.0
    assert choose_inference_scale(40.0, sharpness=MIN_NATIVE_SHARPNESS - 0.01) == \
        pytest.approx(0.65)
    assert choose_inference_scale(104.0, sharpness=0.6) == pytest.approx(0.25)
    # pixel noise is not detail: not kept
    assert choose_inference_scale(40.0, sharpness=MAX_NATIVE_SHARPNESS + 0.01) == \
        pytest.approx(0.65)
    assert choose_inference_scale(18.0, sharpness=0.6) == pytest.approx(1.44)


def test_sharpness_of_noise_smooth_and_constant_images():
    rng = np.random.default_rng(0)
    assert estimate_sharpness(rng.random((128, 128))) == pytest.approx(1.0, abs=0.05)
    yy, xx = np.mgrid[:64, :64]
    smooth = (np.sin(xx / 9.0) + np.cos(yy / 7.0) + 2) / 4
    assert estimate_sharpness(smooth) == pytest.approx(0.25, abs=0.01)
    assert estimate_sharpness(np.full((32, 32), 0.3)) is None
    assert estimate_sharpness(np.zeros((2, 40))) is None
    with pytest.raises(GrainSizeError):
        estimate_sharpness(np.zeros(10))


def test_sharpness_of_native_and_upsampled_regions(shared_data):
    from napari_srmat.io import read_image, to_float01

    for path in sorted((shared_data / "tbm" / "val" / "images").glob("*.png")):
        img = to_float01(np.asarray(read_image(path).data)).astype(np.float32)
        assert estimate_sharpness(img) >= MIN_NATIVE_SHARPNESS, path.name
        assert estimate_sharpness(resample(img, 2)) < MIN_NATIVE_SHARPNESS, path.name


def test_acf_estimate_follows_scale():
    ms = generate_microstructure((256, 256), mean_grain_size_px=24, seed=2)
    img = ms.image.astype(np.float32) / 255
    e1 = estimate_intercept_px(img)
    e2 = estimate_intercept_px(resample(img, 2))
    assert 0.5 < e1 / ms.mean_intercept_px < 1.6
    assert e2 / e1 == pytest.approx(2, rel=0.15)
    assert estimate_intercept_px(np.full((64, 64), 0.5, np.float32)) is None


def _acf_half_length_of_whole_map(img: np.ndarray) -> float | None:
    """The autocorrelation half-length as first written: every channel's spectrum at
    once and the radial average over the whole fftshift-ed map (the reference)."""
    a = img if img.ndim == 3 else img[..., None]
    a = a - a.mean(axis=(0, 1))
    h, w = a.shape[:2]
    size = (2 * h, 2 * w)
    power = (np.abs(np.fft.rfft2(a, s=size, axes=(0, 1))) ** 2).sum(-1)
    acf = np.fft.irfft2(power, s=size)
    overlap = np.fft.irfft2(np.abs(np.fft.rfft2(np.ones((h, w)), s=size)) ** 2, s=size)
    acf = np.fft.fftshift(acf / np.maximum(overlap, 1.0))
    yy, xx = np.indices(acf.shape)
    r = np.rint(np.hypot(yy - h, xx - w)).astype(np.int64)
    rmax = min(h, w) // 2
    sel = r < rmax
    prof = np.bincount(r[sel], acf[sel]) / np.maximum(np.bincount(r[sel]), 1)
    if prof.size < 3 or prof[1] <= 0:
        return None
    p = prof / prof[1]
    below = np.flatnonzero(p[1:] < 0.5)
    if not below.size:
        return None
    i = int(below[0]) + 1
    return float(i - 1 + (p[i - 1] - 0.5) / (p[i - 1] - p[i]))


def test_acf_half_length_equals_the_whole_map_average_in_less_memory(shared_data):
    """The autocorrelation behind the scale choice reads only the lags it averages and
    one channel's spectrum at a time: the same number, bit for bit, as the radial average
    of the whole map (RGB and grey, odd sizes, a window too small to halve, a real scan,
    sizes alternating through the cached normalisation), with about half the memory (the
    whole map took 20x the window's bytes, the peak of a whole-scan srmat grain-size)."""
    import tracemalloc

    from napari_srmat.grainsize import _acf_half_length, _acf_overlap_cached, _central_window
    from napari_srmat.io import read_image

    rgb = generate_microstructure((300, 257), mean_grain_size_px=20, seed=4).image
    rgb = rgb.astype(np.float32) / 255
    rng = np.random.default_rng(0)
    scan = read_image(shared_data / "scans" / "extra_0.jpg").data
    windows = [rgb, rgb.mean(axis=2), rgb[:99, :130], rgb, rgb[:7, :5],
               ndimage.gaussian_filter(rng.random((128, 160)), 3).astype(np.float32),
               _central_window(scan, 512)]
    for win in windows:
        assert _acf_half_length(win) == _acf_half_length_of_whole_map(win)  # or both None
    assert sum(_acf_half_length_of_whole_map(w) is not None for w in windows) >= 5

    win = generate_microstructure((512, 512), mean_grain_size_px=24, seed=0).image
    win = win.astype(np.float32) / 255
    peaks = []
    for fn in (_acf_half_length_of_whole_map, _acf_half_length):
        _acf_overlap_cached.cache_clear()  # the normalisation computed too
        tracemalloc.start()
        try:
            fn(win)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert peaks[1] < 14 * win.nbytes < peaks[0]


def test_acf_normalisation_of_a_window_larger_than_the_default_is_not_kept():
    """The per-size normalisation kept for the next window (4 sizes) is that of windows up
    to ACF_WINDOW: estimate_intercept_px(img, window=8192) kept 537 MB for the session
    (8.7 MB here, 2x the window), and more per size."""
    import tracemalloc

    from napari_srmat.grainsize import ACF_WINDOW, _acf_half_length, _acf_overlap_cached

    side = ACF_WINDOW + 16
    win = np.random.default_rng(1).random((side, side)).astype(np.float32)
    _acf_overlap_cached.cache_clear()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        _acf_half_length(win)
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < win.nbytes / 4


@pytest.mark.parametrize("grain_px, window, n_reads", [(24, None, 1), (48, 128, 2)])
def test_automatic_scale_reads_the_central_window_once(monkeypatch, grain_px, window,
                                                       n_reads):
    """The ℓ̄ estimate and the sharpness share one read of the central window and give
    what the two public estimators give; with grains too large for the window the
    estimate reads one more, 2x2-averaged window."""
    import napari_srmat.grainsize as grainsize
    import napari_srmat.io as srmat_io

    img = generate_microstructure((512, 512), mean_grain_size_px=grain_px, seed=3).image
    window = window or grainsize.ACF_WINDOW
    monkeypatch.setattr(grainsize, "ACF_WINDOW", window)
    expected = (estimate_intercept_px(img, window=window),
                estimate_sharpness(img, window=window))
    reads = []
    real = srmat_io.read_window

    def counting(arr, *bounds):
        reads.append(bounds)
        return real(arr, *bounds)

    monkeypatch.setattr(srmat_io, "read_window", counting)
    scale, estimate, sharpness = grainsize.automatic_inference_scale(img)
    assert (estimate, sharpness) == expected and None not in expected
    assert scale == grainsize.choose_inference_scale(expected[0], sharpness=expected[1])
    assert len(reads) == n_reads


# ------------------------------------------------------------------ masks
def test_mask_mode_is_heyn_skeletonized():
    ms = generate_microstructure((256, 256), mean_grain_size_px=32, seed=4)
    r = measure_grain_size(ms.boundaries, mask=True, pixel_size_um=0.5)
    ref = measure_intercepts(ms.boundaries, skeletonize=True)
    assert r.mean_intercept_px == pytest.approx(ref.mean_intercept_px, rel=1e-12)
    assert r.n_crossings == ref.n_intersections and r.inference_scale == 1.0
    lo, hi = r.mean_intercept_ci95_px
    assert lo < r.mean_intercept_px < hi
    assert r.mean_intercept_ci95_um == pytest.approx((0.5 * lo, 0.5 * hi))
    g_lo, g_hi = r.astm_g_ci95
    assert g_lo < r.astm_g < g_hi  # G falls as ℓ̄ grows: ends swapped
    d = r.to_dict()
    assert set(SCHEMA_KEYS) <= set(d) and json.dumps(d)
    # no pixel size: µm and G are null and a warning says so
    r2 = measure_grain_size(ms.boundaries, mask=True)
    assert r2.mean_intercept_um is None and r2.astm_g is None and r2.astm_g_ci95 is None
    assert any("pixel size" in w for w in r2.warnings)


def test_crossings_have_one_name_and_the_old_one_still_reads():
    """GrainSizeResult called the boundary crossings ``n_intercepts`` while
    HeynResult.counts(), srmat heyn and the standards' field rows call them
    ``n_crossings`` and E112's intercept count N ``intercept_count``: a srmat heyn row held
    ``n_intercepts`` (crossings) beside ``intercept_count`` (N). The result now has
    ``n_crossings``; ``n_intercepts`` reads and sets it with a DeprecationWarning and stays
    in the JSON (same value) until 0.3.0."""
    ms = generate_microstructure((160, 160), mean_grain_size_px=20, seed=5)
    r = measure_grain_size(ms.boundaries, mask=True)
    ref = measure_intercepts(ms.boundaries, skeletonize=True)
    assert r.n_crossings == ref.counts()["n_crossings"] > 0
    d = r.to_dict()
    assert d["n_crossings"] == d["n_intercepts"] == r.n_crossings
    assert "n_crossings" in SCHEMA_KEYS
    with pytest.warns(DeprecationWarning, match="n_intercepts is renamed n_crossings"):
        assert r.n_intercepts == r.n_crossings
    with pytest.warns(DeprecationWarning, match="n_intercepts is renamed n_crossings"):
        r.n_intercepts = 7
    assert r.n_crossings == 7 and r.to_dict()["n_intercepts"] == 7


def test_mask_mode_degenerate_and_bad_input():
    r = measure_grain_size(np.ones((64, 64), bool), mask=True)
    assert r.mean_intercept_px is None and r.mean_intercept_ci95_px is None and r.warnings
    with pytest.raises(GrainSizeError):
        measure_grain_size(np.zeros((2, 50)), mask=True)
    with pytest.raises(GrainSizeError):
        measure_grain_size(np.zeros((50, 50)), mask=True, pattern="segments")


def test_a_boundary_mask_measured_as_a_micrograph_is_refused(model):
    """A 0/255 or bool boundary mask given without mask=True ran the model on it and
    reported an ℓ̄ less than half the truth with only a 'grey image' warning; a bad
    ``mask`` value was taken as True."""
    ms = generate_microstructure((128, 128), mean_grain_size_px=24, seed=3)
    for binary in (ms.boundaries, ms.boundaries.astype(np.uint8) * 255):
        with pytest.raises(GrainSizeError, match="only two pixel values.*mask=True") as e:
            measure_grain_size(binary, model=model)
        # worded for each caller: the keyword here, the flag in srmat, the tab in a widget
        assert str(e.value).endswith("to measure a boundary mask, pass mask=True")
        assert e.value.cli_message.endswith("to measure a boundary mask, pass --mask")
        assert e.value.gui_message.endswith(
            "to measure a boundary mask, use the 'Boundary mask' tab")
    assert measure_grain_size(ms.boundaries, mask=True).mean_intercept_px > 0
    with pytest.raises(GrainSizeError, match="mask must be True or False"):
        measure_grain_size(ms.boundaries, mask="yes")


def test_a_boundary_map_of_edges_predict_measured_as_a_micrograph_is_refused(
        tmp_path, capsys):
    """`srmat grain-size prob.ome.zarr` (the map of `srmat edges predict`, without
    --mask) ran the boundary model on the probability map: on a real scan it read ℓ̄
    10.5 px where the map itself measures 31 px, with only a 'coarse' warning. Each of
    the folder's maps is now refused in one line naming the --mask --threshold route,
    which still measures it; the same file outside such a folder is an image."""
    from napari_srmat.io import read_image, write_ome_zarr

    ms = generate_microstructure((96, 96), mean_grain_size_px=24, seed=5)
    Image.fromarray(ms.image).save(tmp_path / "in.png")
    out = tmp_path / "maps"
    assert main(["edges", "predict", str(tmp_path / "in.png"), "--out", str(out)]) == 0
    capsys.readouterr()
    for name in ("prob.ome.zarr", "uncertainty.ome.zarr", "prob.png"):
        with pytest.raises(GrainSizeError, match=f"{name} is a boundary map.*mask=True") as e:
            measure_grain_size(read_image(out / name))
        # the keywords in Python, the flags in srmat (both at once before)
        assert str(e.value).endswith("as a mask (pass mask=True, threshold=T)")
    assert main(["grain-size", str(out / "prob.ome.zarr"), "--json"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "--mask --threshold" in err[0] and "Traceback" not in err[0]
    assert err[0].endswith("as a mask (pass --mask --threshold T)")
    # the JSON's error in the command's words too (it told mask=True, threshold=T)
    told = json.loads(captured.out)["errors"][0]["error"]
    assert told.endswith("(pass --mask --threshold T)") and told in err[0]
    assert main(["grain-size", str(out / "prob.ome.zarr"), "--mask", "--threshold",
                 "0.5"]) == 0  # measured as a mask: not refused as a boundary map
    assert "is a boundary map" not in capsys.readouterr().err
    # a micrograph that happens to be called prob.ome.zarr, outside such a folder, is one
    elsewhere = tmp_path / "mine" / "prob.ome.zarr"
    write_ome_zarr(ms.image, elsewhere)
    assert measure_grain_size(read_image(elsewhere)).mean_intercept_px > 0


def test_mask_mode_scale_invariant_in_um():
    """Pure geometry (no model): one synthetic structure rendered at x0.5 ... x4 (the
    generator is scale-free) gives the same ℓ̄ in µm within 5 % where ℓ̄ >= 40 px
    (x1, x2, x4); at x0.5 (ℓ̄ ≈ 23 px) digitisation reads ~1 px high, inside the interval."""
    res = {}
    for s in (0.5, 1, 2, 4):
        ms = generate_microstructure((int(384 * s),) * 2, mean_grain_size_px=56 * s, seed=11,
                                     boundary_width=max(1, round(s)))
        if s == 1:
            assert ms.mean_intercept_px >= 40
        res[s] = measure_grain_size(ms.boundaries, mask=True, pixel_size_um=1 / s,
                                    pattern="grid", n_lines=25)
    fine = [res[s].mean_intercept_um for s in (1, 2, 4)]
    assert max(fine) / min(fine) < 1.05, fine
    lo, hi = res[0.5].mean_intercept_ci95_um
    assert lo <= res[4].mean_intercept_um <= hi


def test_mask_mode_interval_coverage_synthetic():
    """The 95 % interval covers the exact ℓ̄ of the measured field in >= 90 % of 20 images."""
    hits = 0
    for seed in range(20):
        ms = generate_microstructure((512, 512), mean_grain_size_px=48, seed=seed)
        r = measure_grain_size(ms.boundaries, mask=True, seed=seed)
        lo, hi = r.mean_intercept_ci95_px
        hits += lo <= _box_truth(ms.labels) <= hi
    assert hits >= 18


# ------------------------------------------------------------------ model
def test_model_scale_consistency_synthetic(model):
    """Acceptance: a synthetic micrograph (ℓ̄ >= 40 px at x1) rescaled x0.5, x1, x2, x4
    gives ℓ̄ in µm within 5 % of each other (pixel size scaled accordingly)."""
    ms = generate_microstructure((384, 384), mean_grain_size_px=56, seed=3)
    assert ms.mean_intercept_px >= 40
    img = ms.image.astype(np.float32) / 255
    values, scales = [], []
    for s in (0.5, 1, 2, 4):
        r = measure_grain_size(resample(img, s), model=model, pixel_size_um=1.0 / s)
        assert r.mean_intercept_um is not None, r.warnings
        lo, hi = r.mean_intercept_ci95_um
        # the truth, not the measurement (always inside its own interval): the model's
        # ~+10 % here lies beyond the sampling and pixel terms alone
        assert lo <= ms.mean_intercept_px <= hi, (s, lo, hi)
        values.append(r.mean_intercept_um)
        scales.append(r.inference_scale)
    assert max(values) / min(values) < 1.05, (values, scales)
    assert scales[0] > scales[1] > scales[2] > scales[3]


def test_native_sharp_region_is_measured_at_its_own_scale(model, shared_data):
    """A native tbm region whose autocorrelation estimate (44 px) would down-sample it
    (x0.59) stays at scale 1 (it is sharp); its x2 up-sampled copy is not sharp and is
    down-sampled."""
    from napari_srmat.io import read_image, to_float01

    path = shared_data / "tbm" / "train" / "images" / "21-256-1024.png"
    img = to_float01(np.asarray(read_image(path).data)).astype(np.float32)
    r = measure_grain_size(img, model=model)
    low, high = SHARP_KEEP_SCALE_RANGE
    est = r.estimated_intercept_px
    assert TARGET_INTERCEPT_PX / high / (1 - SCALE_TOLERANCE) < est < TARGET_INTERCEPT_PX / low
    assert r.estimated_sharpness >= MIN_NATIVE_SHARPNESS and r.inference_scale == 1.0
    assert r.to_dict()["estimated_sharpness"] == pytest.approx(r.estimated_sharpness)
    r2 = measure_grain_size(resample(img, 2), model=model)
    assert r2.estimated_sharpness < MIN_NATIVE_SHARPNESS
    assert r2.inference_scale == choose_inference_scale(r2.estimated_intercept_px) < 0.5


def test_native_sharp_input_with_large_grains_gets_advice(model, shared_data, monkeypatch):
    """Kept at its own scale by the sharpness rule, an input whose ℓ̄ at that scale is
    above the reliable range is told which scale its estimate would have chosen."""
    import napari_srmat.grainsize as gs
    from napari_srmat.io import read_image, to_float01

    path = shared_data / "tbm" / "train" / "images" / "21-256-1024.png"
    img = to_float01(np.asarray(read_image(path).data)).astype(np.float32)
    large = generate_microstructure(img.shape[:2], mean_grain_size_px=60, seed=5)
    prob = np.where(np.asarray(large.boundaries, bool), 0.9, 0.02).astype(np.float32)

    def fake_predict(x, model, stop):
        assert x.shape[:2] == img.shape[:2]  # run at scale 1
        return prob
        yield  # a generator, like _predict

    monkeypatch.setattr(gs, "_predict", fake_predict)
    r = measure_grain_size(img, model=model)
    assert r.inference_scale == 1.0 and r.inference_intercept_px > 32
    hint = f"inference_scale={choose_inference_scale(r.estimated_intercept_px):g}"
    assert any(hint in w and "native-sharp" in w for w in r.warnings), r.warnings
    # with the scale given, the usual advice
    r2 = measure_grain_size(img, model=model, inference_scale=1.0)
    assert not any("native-sharp" in w for w in r2.warnings)


@pytest.mark.parametrize("cell", [5, 8])
def test_too_coarse_image_is_withheld(model, cell):
    """ℓ̄ ≈ 4 and 7 px: the first gives a map that is mostly boundary, the second a value
    under MIN_INPUT_INTERCEPT_PX; both are withheld with the hint to super-resolve."""
    ms = generate_microstructure((128, 128), mean_grain_size_px=cell, seed=1)
    r = measure_grain_size(ms.image, model=model, pixel_size_um=1.0)
    assert r.mean_intercept_px is None and r.astm_g is None and r.astm_g_ci95 is None
    assert any("super-resolve first (srmat sr run)" in w for w in r.warnings), r.warnings
    # an explicit inference scale is the user's choice: a number, with the warning
    if cell == 8:
        r2 = measure_grain_size(ms.image, model=model, pixel_size_um=1.0, inference_scale=3)
        assert r2.mean_intercept_px is not None
        assert any("super-resolve first" in w for w in r2.warnings), r2.warnings


def test_a_withheld_g_carries_no_range_warning(model):
    """An image too coarse to measure (ℓ̄ ≈ 7 px) at a pixel size typed in nm (500 for
    0.5 µm/px): its G is withheld, but the row kept "G -6.0 is outside E112's range:
    check the pixel size", a warning about a number it does not report. Now the withheld
    row says only why it is withheld; with the scale given (a figure) the range warning
    stays."""
    ms = generate_microstructure((128, 128), mean_grain_size_px=8, seed=1)
    r = measure_grain_size(ms.image, model=model, pixel_size_um=500.0)
    assert r.astm_g is None and any("super-resolve first" in w for w in r.warnings)
    assert not any("outside E112's range" in w for w in r.warnings), r.warnings
    r2 = measure_grain_size(ms.image, model=model, pixel_size_um=500.0, inference_scale=3)
    assert r2.astm_g < ASTM_G_TABLE_RANGE[0] - ASTM_G_TABLE_MARGIN
    assert sum("outside E112's range" in w for w in r2.warnings) == 1, r2.warnings


def test_coarse_image_is_measured_with_a_warning(model):
    """Grains ~10 px across (a x0.3 copy of a 44 px structure; autocorrelation estimate
    under COARSE_INPUT_INTERCEPT_PX): a figure, with a scale warning that says so; the
    same structure at x1 gets no such warning."""
    ms = generate_microstructure((384, 384), mean_grain_size_px=56, seed=3)
    img = ms.image.astype(np.float32) / 255
    coarse = measure_grain_size(resample(img, 0.3), model=model)
    assert coarse.estimated_intercept_px < COARSE_INPUT_INTERCEPT_PX
    assert coarse.mean_intercept_px is not None and coarse.inference_scale > 2
    notes = [w for w in coarse.warnings if w.startswith("grains are only")]
    assert len(notes) == 1 and is_scale_warning(notes[0]) and "super-resolve" in notes[0]
    # the direction of the error is told with the data it was measured on: long on the
    # tbm micrographs, short on dark etched boundary lines (studies/image_enlargement_short)
    assert COARSE_DIRECTION_NOTE in notes[0]
    assert "read too long" in notes[0] and "read ℓ̄ short" in notes[0]
    # the interval reaches further below ℓ̄ (the model misses boundaries at this scale)
    assert coarse.uncertainty["model_low"] == pytest.approx(COARSE_MODEL_LOG_ERROR_95[1])
    low, high = coarse.mean_intercept_ci95_px
    assert low < coarse.mean_intercept_px * math.exp(-COARSE_MODEL_LOG_ERROR_95[1])
    assert high < coarse.mean_intercept_px * math.exp(COARSE_MODEL_LOG_ERROR_95[1])
    fine = measure_grain_size(img, model=model)
    assert fine.estimated_intercept_px > COARSE_INPUT_INTERCEPT_PX
    assert not any(w.startswith("grains are") for w in fine.warnings), fine.warnings
    assert fine.uncertainty["model_low"] == pytest.approx(MODEL_LOG_ERROR_95[1])
    assert fine.mean_intercept_ci95_px[0] > \
        fine.mean_intercept_px * math.exp(-COARSE_MODEL_LOG_ERROR_95[1])


def test_large_image_is_binarised_region_by_region(model, monkeypatch):
    """A map larger than two rule regions gets one threshold per region (the rule was
    fitted on 256 px regions): the grain size is measured on that binary map, and its
    threshold is the median of the regions'."""
    import napari_srmat.grainsize as gs
    from napari_srmat.edges.thresholds import binarize_by_region

    ms = generate_microstructure((640, 600), mean_grain_size_px=26, seed=2)
    from skimage.morphology import skeletonize

    soft = np.clip(1.6 * ndimage.gaussian_filter(
        skeletonize(np.asarray(ms.boundaries, bool)).astype(np.float32), 1.2), 0, 1)
    prob = 0.9 * soft + 0.02
    prob[320:] = 0.3 * soft[320:] + 0.02            # the same grains, faint bottom half

    def fake_predict(x, model, stop):
        return prob
        yield  # a generator, like _predict

    monkeypatch.setattr(gs, "_predict", fake_predict)
    img = ms.image.astype(np.float32) / 255
    r = measure_grain_size(img, model=model, inference_scale=1.0)
    binary, ts = binarize_by_region(model.threshold_rule, prob, model.threshold_params)
    assert len(ts) == 4 and np.array_equal(r.boundaries, binary)
    assert r.threshold == pytest.approx(float(np.median(ts)), rel=1e-9)
    whole = measure_intercepts(model.binarize(prob), skeletonize=True, seed=1234,
                               n_lines=r.n_lines, margin=0.05).mean_intercept_px
    regional = measure_intercepts(binary, skeletonize=True, seed=1234, n_lines=r.n_lines,
                                  margin=0.05).mean_intercept_px
    assert r.mean_intercept_px == pytest.approx(regional)
    assert whole > 1.3 * regional          # one threshold misses the faint half


def test_no_pixel_size_warns(model):
    ms = generate_microstructure((128, 128), mean_grain_size_px=32, seed=1)
    r = measure_grain_size(ms.image, model=model)
    assert r.mean_intercept_px is not None and r.mean_intercept_um is None
    assert r.astm_g is None and r.mean_intercept_ci95_um is None
    assert any("pixel size" in w for w in r.warnings)


# ------------------------------------------------------------------ CLI
def _run_json(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_cli_mask_matches_heyn_schema(tmp_path, capsys):
    paths = []
    for seed in (1, 2):
        ms = generate_microstructure((160, 160), mean_grain_size_px=24, seed=seed)
        p = tmp_path / f"m{seed}.png"
        Image.fromarray(ms.boundaries.astype(np.uint8) * 255).save(p)
        paths.append(str(p))
    gs = _run_json(capsys, ["grain-size", *paths, "--mask", "--pixel-size-um", "0.5", "--json"])
    hy = _run_json(capsys, ["heyn", *paths, "--skeletonize", "--pixel-size-um", "0.5", "--json"])
    assert len(gs["images"]) == 2
    for a, b in zip(gs["images"], hy["per_image"]):
        for k in SCHEMA_KEYS:
            assert a[k] == pytest.approx(b[k]) if k != "warnings" else a[k] == b[k]
        # srmat heyn keeps its own keys
        assert b["n_intersections"] == b["n_crossings"] == a["n_crossings"]
        assert "ci95_half_width_px" in b and "ci95_px" not in b
    # no pixel size: nulls, and both rows say why (heyn's row had no warning)
    gs2 = _run_json(capsys, ["grain-size", paths[0], "--mask", "--json"])
    row = gs2["images"][0]
    assert row["mean_intercept_um"] is None and row["astm_g"] is None
    assert row["mean_intercept_ci95_px"][0] < row["mean_intercept_px"]
    hy2 = _run_json(capsys, ["heyn", paths[0], "--skeletonize", "--json"])["per_image"][0]
    for k in SCHEMA_KEYS:
        assert row[k] == pytest.approx(hy2[k]) if k != "warnings" else row[k] == hy2[k]
    assert any("no pixel size" in w for w in hy2["warnings"])


def test_cli_mask_row_at_a_pixel_size_in_nm_is_warned_once(tmp_path, capsys):
    """Before: ``srmat grain-size --mask``, ``srmat heyn`` and the Boundary mask tab with
    500 typed (nm meant, 0.5 µm/px) gave G about -10 per image without a word (only
    ``--method`` rows and summaries said it). Now each row says to check the pixel size,
    once (not again from the field rule), and the line is printed once; at 0.5 µm/px
    nothing is said."""
    ms = generate_microstructure((160, 160), mean_grain_size_px=24, seed=1)
    p = tmp_path / "m.png"
    Image.fromarray(ms.boundaries.astype(np.uint8) * 255).save(p)
    said = "outside E112's range"
    for px, n_told in (("500", 1), ("0.5", 0)):
        for argv, rows in (
            (["grain-size", str(p), "--mask"], "images"),
            (["heyn", str(p), "--skeletonize"], "per_image"),
        ):
            doc = _run_json(capsys, [*argv, "--pixel-size-um", px, "--json"])
            (row,) = doc[rows]
            assert sum(said in w for w in row["warnings"]) == n_told, (argv, row["warnings"])
            if n_told:
                assert row["astm_g"] < ASTM_G_TABLE_RANGE[0] - ASTM_G_TABLE_MARGIN
            assert main([*argv, "--pixel-size-um", px]) == 0
            assert capsys.readouterr().err.count(said) == n_told, argv
        # the Boundary mask tab's statistics (the same row rule)
        stats = heyn_statistics(measure_intercepts(ms.boundaries, pixel_size_um=float(px)))
        assert sum(said in w for w in stats["warnings"]) == n_told


def test_cli_mask_threshold_binarizes_probability_maps(tmp_path, capsys):
    """``measure_grain_size(mask=True, threshold=)`` measures a probability map and the
    error for a map without a threshold says "give a threshold", but ``srmat grain-size``
    had no ``--threshold``: a ``srmat edges predict`` map could not be measured with it."""
    from scipy import ndimage

    from napari_srmat.io import read_image, write_ome_zarr

    ms = generate_microstructure((160, 160), mean_grain_size_px=24, seed=4)
    prob = ndimage.gaussian_filter(ms.boundaries.astype(np.float32), 1.0) * 2.5
    p = tmp_path / "prob.ome.zarr"
    write_ome_zarr(np.clip(prob, 0, 1), p, pixel_size_um=0.5)
    api = measure_grain_size(read_image(p), mask=True, threshold=0.3).to_dict()
    out = _run_json(capsys, ["grain-size", str(p), "--mask", "--threshold", "0.3", "--json"])
    row = out["images"][0]
    hy = _run_json(capsys, ["heyn", str(p), "--skeletonize", "--threshold", "0.3",
                            "--json"])["per_image"][0]
    assert api["mean_intercept_px"] is not None and api["astm_g"] is not None
    for k in SCHEMA_KEYS:
        assert row[k] == pytest.approx(api[k]) if k != "warnings" else row[k] == api[k]
        assert hy[k] == pytest.approx(api[k]) if k != "warnings" else hy[k] == api[k]
    assert out["settings"]["threshold"] == 0.3
    # the standards' field is measured on the same binarized (thinned) map
    field = _run_json(capsys, ["grain-size", str(p), "--mask", "--threshold", "0.3",
                               "--method", "intercept", "--json"])["images"][0]
    assert field["astm_g"] == pytest.approx(api["astm_g"], abs=0.5)
    # without a threshold the map is refused (exit 2), and images take no --threshold
    assert main(["grain-size", str(p), "--mask", "--json"]) == 2
    assert "give a threshold" in capsys.readouterr().err
    assert main(["grain-size", str(p), "--threshold", "0.3"]) == 2
    assert "--threshold" in capsys.readouterr().err


def test_cli_json_rows_keep_what_reading_the_file_told(tmp_path, capsys):
    """What reading a file tells (here: which of a TIFF's images was read) was printed on
    stderr only: a batch job reading the JSON never saw it. It is in the image's row."""
    import tifffile

    from napari_srmat.io import read_image

    ms = generate_microstructure((64, 64), mean_grain_size_px=12, seed=3)
    p = tmp_path / "two images.tif"
    with tifffile.TiffWriter(p) as tif:  # a small preview beside the micrograph
        tif.write(ms.boundaries.astype(np.uint8)[::4, ::4] * 255)
        tif.write(ms.boundaries.astype(np.uint8) * 255)
    with pytest.warns(UserWarning, match="reading image 2, the largest"):
        read_image(p)
    gs = _run_json(capsys, ["grain-size", str(p), "--mask", "--json"])["images"]
    told = [w for w in gs[0]["warnings"] if "the TIFF holds 2 images" in w]
    assert len(told) == 1 and told[0].startswith("the TIFF holds 2 images")  # path in row
    assert gs[0]["warnings"][0] == told[0]  # first, then the measurement's (no pixel size)
    # srmat heyn (the same measurement on masks) keeps it the same way
    for extra in ([], ["--threshold", "0.5"]):
        rows = _run_json(capsys, ["heyn", str(p), "--skeletonize", "--json", *extra])
        assert rows["per_image"][0]["warnings"] == gs[0]["warnings"]


def test_cli_image_text_and_errors(tmp_path, capsys):
    ms = generate_microstructure((128, 128), mean_grain_size_px=32, seed=5)
    p = tmp_path / "img.png"
    Image.fromarray(ms.image).save(p)
    assert main(["grain-size", str(p), "--pixel-size-um", "0.25"]) == 0
    out = capsys.readouterr().out
    assert "ℓ̄ =" in out and "µm" in out and "G =" in out and "inference scale" in out
    # bad input: one line, exit 2
    assert main(["grain-size", str(tmp_path / "missing.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("srmat grain-size: error:")
    assert main(["grain-size", str(p), "--mask", "--inference-scale", "0.5"]) == 2
    capsys.readouterr()
    assert main(["grain-size", str(p), "--mask", "--threshold-rule", "global"]) == 2
    capsys.readouterr()


@pytest.mark.parametrize("scale", ["1e9", "17", "0", "nan"])
def test_cli_inference_scale_beyond_the_library_limit_is_the_flags_error(tmp_path, capsys,
                                                                          monkeypatch, scale):
    """--inference-scale 1e9 passed argparse (any finite number > 0) and was refused per
    image by the library as ``img.png: inference_scale must be a number in (0, 16]``,
    after the file was read, with its JSON row as an error; it is argparse's error now,
    naming the flag, before any image is read (the library's one rule)."""
    import napari_srmat.cli.grainsize as cli_gs

    def no_reading(*a, **k):
        raise AssertionError("an image was read before --inference-scale was checked")

    monkeypatch.setattr(cli_gs, "_run", no_reading)
    with pytest.raises(SystemExit) as exc:
        main(["grain-size", str(tmp_path / "img.png"), "--inference-scale", scale, "--json"])
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert "argument --inference-scale: the inference scale must be a number in (0, 16]" in err


@pytest.mark.parametrize("as_json", [False, True])
def test_cli_bad_image_among_good_ones_keeps_the_good_results(tmp_path, capsys, as_json):
    """One unreadable file among several stopped srmat grain-size at that file: the images
    measured before it were lost (nothing on stdout). Now every good image is reported,
    each bad one is one error line naming it, and the exit code is 2."""
    paths = []
    for seed in (1, 2):
        ms = generate_microstructure((96, 96), mean_grain_size_px=16, seed=seed)
        p = tmp_path / f"m{seed}.png"
        Image.fromarray(ms.boundaries.astype(np.uint8) * 255).save(p)
        paths.append(str(p))
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    missing = tmp_path / "missing.png"
    argv = ["grain-size", "--mask", paths[0], str(bad), paths[1], str(missing)]
    rc = main(argv + (["--json"] if as_json else []))
    out, err = capsys.readouterr()
    assert rc == 2
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert len(errors) == 2
    assert errors[0].startswith(f"srmat grain-size: error: {bad}: ")
    assert errors[1].startswith(f"srmat grain-size: error: {missing}: ")
    if as_json:
        doc = json.loads(out)
        assert [r["path"] for r in doc["images"]] == paths
        assert all(r["mean_intercept_px"] > 0 for r in doc["images"])
        assert [e["path"] for e in doc["errors"]] == [str(bad), str(missing)]
        assert doc["errors"][0]["error"].startswith(f"{bad}: ")
    else:
        lines = out.strip().splitlines()
        assert [line.split(": ")[0] for line in lines] == paths
        assert all("ℓ̄ = " in line for line in lines)


@pytest.mark.parametrize("as_json", [False, True])
def test_cli_exits_2_when_no_image_gives_a_grain_size(tmp_path, capsys, as_json):
    """`srmat grain-size black.png` printed 'black.png: no grain size reported (see the
    warnings)' and exited 0, so a script carried on as if the specimen were measured
    (`srmat heyn` of the same empty mask exits 2). The rows are still printed, then one
    error line; a set in which some images give a grain size is measured (exit 0)."""
    empty = tmp_path / "empty.png"
    Image.fromarray(np.zeros((96, 96), np.uint8)).save(empty)
    ms = generate_microstructure((96, 96), mean_grain_size_px=16, seed=1)
    good = tmp_path / "m.png"
    Image.fromarray(ms.boundaries.astype(np.uint8) * 255).save(good)
    flag = ["--json"] if as_json else []
    again = tmp_path / "empty 2.png"  # the same pixels, another field (one file twice is
    Image.fromarray(np.zeros((96, 96), np.uint8)).save(again)  # refused)
    assert main(["grain-size", "--mask", str(empty), str(again), *flag]) == 2
    out, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert errors == ["srmat grain-size: error: no grain size measured: none of the 2 images "
                      "gives a mean intercept (see the warnings)"]
    assert err.splitlines()[-1] == errors[0] and "Traceback" not in err
    if as_json:
        assert [r["mean_intercept_px"] for r in json.loads(out)["images"]] == [None, None]
    else:
        assert out.count("no grain size reported") == 2
    assert main(["grain-size", "--mask", str(empty), str(good), *flag]) == 0
    capsys.readouterr()


def test_cli_json_errors_empty_when_all_measured(tmp_path, capsys):
    ms = generate_microstructure((96, 96), mean_grain_size_px=16, seed=1)
    p = tmp_path / "m.png"
    Image.fromarray(ms.boundaries.astype(np.uint8) * 255).save(p)
    doc = _run_json(capsys, ["grain-size", "--mask", str(p), "--json"])
    assert doc["errors"] == [] and len(doc["images"]) == 1


def test_cli_operating_point_default_and_override(tmp_path, capsys):
    from napari_srmat.edges.infer import DEFAULT_THRESHOLD_RULE, DEFAULT_TTA
    from napari_srmat.grainsize import MODEL_ERROR_OPERATING_POINT

    assert MODEL_ERROR_OPERATING_POINT == (DEFAULT_THRESHOLD_RULE, DEFAULT_TTA)
    ms = generate_microstructure((128, 128), mean_grain_size_px=32, seed=5)
    p = tmp_path / "img.png"
    Image.fromarray(ms.image).save(p)
    gs = _run_json(capsys, ["grain-size", str(p), "--pixel-size-um", "0.25", "--json"])
    st, row = gs["settings"], gs["images"][0]
    assert (st["threshold_rule"], st["tta"]) == (DEFAULT_THRESHOLD_RULE, DEFAULT_TTA)
    assert row["threshold_rule"] == DEFAULT_THRESHOLD_RULE and 0 < row["threshold"] < 1
    assert not any("indicative only" in w for w in row["warnings"])
    gs = _run_json(capsys, ["grain-size", str(p), "--pixel-size-um", "0.25", "--json",
                            "--threshold-rule", "global"])
    st, row = gs["settings"], gs["images"][0]
    assert st["threshold_rule"] == row["threshold_rule"] == "global"
    assert row["threshold"] == pytest.approx(st["threshold"])
    assert any("indicative only" in w for w in row["warnings"])


@pytest.mark.parametrize("bad", ["abc", [0.1], [float("nan"), 0.2], [0.4, 0.2], [True, 0.3]])
def test_a_checkpoints_own_model_term_is_checked_when_it_loads(tmp_path, capsys, monkeypatch,
                                                               bad):
    """A checkpoint's grain_size_log_error_95 was read after the model had run: "abc"
    failed as "could not convert string to float" blamed on every image, [nan, 0.2]
    gave no interval, and [0.4, 0.2] (low > high) an interval read from swapped
    quantiles. It is refused when the checkpoint loads (and by the measurement of a
    model whose config is changed after loading, before the model runs); a valid pair
    is the interval's model term."""
    import shutil

    import napari_srmat.grainsize as gs
    from napari_srmat.checkpoint import CheckpointError
    from napari_srmat.edges.infer import default_checkpoint_path, load_boundary_model

    ck = tmp_path / "ck"
    shutil.copytree(default_checkpoint_path(), ck)
    cfg_path = ck / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["grain_size_log_error_95"] = [-0.3, 0.2]
    cfg_path.write_text(json.dumps(cfg))
    model = load_boundary_model(ck, device="cpu")
    img = generate_microstructure((128, 128), mean_grain_size_px=32, seed=5).image
    r = measure_grain_size(img, model=model, inference_scale=1.0)
    assert r.uncertainty["model_low"] == pytest.approx(0.2)
    assert r.uncertainty["model_high"] == pytest.approx(0.3)
    model.config["grain_size_log_error_95"] = bad
    monkeypatch.setattr(gs, "_automatic_scale", lambda *a, **k: pytest.fail("the model ran"))
    with pytest.raises(CheckpointError, match="'grain_size_log_error_95' must be two finite"):
        measure_grain_size(img, model=model)
    monkeypatch.undo()
    cfg["grain_size_log_error_95"] = bad
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=f"checkpoint {ck}: config.json "
                       "'grain_size_log_error_95' must be two finite numbers"):
        load_boundary_model(ck, device="cpu")
    p = tmp_path / "img.png"
    Image.fromarray(img).save(p)
    Image.fromarray(img).save(tmp_path / "img 2.png")  # another field (one file twice is
    assert main(["grain-size", str(p), str(tmp_path / "img 2.png"),  # refused)
                 "--checkpoint", str(ck)]) == 2
    err = capsys.readouterr().err
    assert err.count("grain_size_log_error_95") == 1 and "Traceback" not in err


def test_a_model_term_of_numpy_numbers_is_read_as_before():
    """38626ab refused a model term of numpy numbers set on a loaded model (the result of
    np.quantile, or a tuple of its float32 values) as 'must be two finite numbers',
    where it had been read; numbers follow check_number, the one rule, and a pair of
    anything else is still refused."""
    from napari_srmat.checkpoint import CheckpointError
    from napari_srmat.grainsize import MODEL_LOG_ERROR_KEY, model_log_error_95

    errors = np.array([-0.31, -0.05, 0.02, 0.24], np.float32)
    q = np.quantile(errors, [0.025, 0.975])
    assert model_log_error_95({MODEL_LOG_ERROR_KEY: q}) == tuple(q.tolist())
    pair = (np.float32(-0.25), np.float32(0.5))
    assert model_log_error_95({MODEL_LOG_ERROR_KEY: pair}) == (-0.25, 0.5)
    for bad in (np.array(0.1), np.zeros((2, 2)), [[0.1], 0.2], np.array([0.3, np.nan])):
        with pytest.raises(CheckpointError, match="must be two finite numbers"):
            model_log_error_95({MODEL_LOG_ERROR_KEY: bad})


def test_inference_scale_nan_or_huge_is_refused_before_resampling(model):
    """A NaN scale failed inside the resampling ("cannot convert float NaN to integer");
    1000 on a 16 px image built a 16000 px square image (gigabytes) before the model."""
    img = np.zeros((16, 16), np.uint8)
    for bad in (float("nan"), 1e3, INFERENCE_SCALE_LIMIT * 1.01, 0.0, -2.0, "2", True):
        with pytest.raises(GrainSizeError, match="inference_scale must be a number in"):
            measure_grain_size(img, model=model, inference_scale=bad)


def test_bad_test_line_settings_are_refused_before_the_model_runs(model, monkeypatch):
    """n_lines=0 was refused by the intercept step, after the boundary model had run."""
    import napari_srmat.grainsize as gs
    from napari_srmat.metrics.heyn import HeynError

    monkeypatch.setattr(gs, "_automatic_scale",  # the job's scale estimate
                        lambda *a, **k: pytest.fail("the model must not run"))
    img = generate_microstructure((64, 64), mean_grain_size_px=16, seed=0).image
    for kw, match in [({"n_lines": 0}, "n_lines"), ({"n_lines": 2.5}, "n_lines"),
                      ({"pattern": "grid", "n_lines": -1}, "n_lines"),
                      ({"margin": 0.7}, "margin")]:
        with pytest.raises(HeynError, match=match):
            measure_grain_size(img, model=model, **kw)


def test_mask_mode_binarises_a_probability_map_at_the_threshold():
    """The refusal of a float map told the user to "give a threshold", but mask=True
    ignored ``threshold``: the same refusal came back."""
    ms = generate_microstructure((128, 128), mean_grain_size_px=16, seed=0)
    prob = np.where(ms.boundaries, 0.8, 0.1)
    with pytest.raises(ValueError, match="give a threshold"):
        measure_grain_size(prob, mask=True)
    r = measure_grain_size(prob, mask=True, threshold=0.5)
    ref = measure_grain_size(ms.boundaries, mask=True)
    assert r.mean_intercept_px == pytest.approx(ref.mean_intercept_px, rel=1e-12)
    assert measure_grain_size(prob, mask=True, threshold=0.9).mean_intercept_px is None
    with pytest.raises(GrainSizeError, match="threshold must be a number in"):
        measure_grain_size(prob, mask=True, threshold=1.5)
    # an integer label map keeps the mask rule (labels > 0) whatever the threshold
    labels = ms.boundaries.astype(np.int32) * 9
    got = measure_grain_size(labels, mask=True, threshold=0.5)
    assert got.mean_intercept_px == pytest.approx(ref.mean_intercept_px, rel=1e-12)


def test_mask_threshold_takes_the_range_of_srmat_heyn_and_binarize_boundaries():
    """measure_grain_size(mask=True, threshold=) refused 0 and 1, which `srmat heyn
    --threshold`, binarize_boundaries and the --threshold flag of `srmat grain-size`
    take (io.check_threshold, [0, 1]): `srmat grain-size --mask --threshold 1` passed
    the flag's check and then failed every file with "threshold must be a number in
    (0, 1)"."""
    from napari_srmat.metrics.edges import binarize_boundaries
    from napari_srmat.metrics.heyn import measure_intercepts

    ms = generate_microstructure((128, 128), mean_grain_size_px=16, seed=0)
    prob = np.where(ms.boundaries, 1.0, 0.25)
    for t in (0.0, 1.0):
        got = measure_grain_size(prob, mask=True, threshold=t)
        ref = measure_intercepts(binarize_boundaries(prob, t, skeletonize=False),
                                 skeletonize=True)
        assert got.mean_intercept_px == ref.mean_intercept_px
    assert measure_grain_size(prob, mask=True, threshold=0.0).mean_intercept_px is None
    assert measure_grain_size(prob, mask=True, threshold=1.0).mean_intercept_px is not None
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(GrainSizeError, match=r"threshold must be a number in \[0, 1\]"):
            measure_grain_size(prob, mask=True, threshold=bad)


def test_dim_image_is_brightened_for_the_model_and_warned(model):
    """12-bit camera data in a 16-bit file (brightest pixels at ~6 % of full scale) read
    ℓ̄ two orders of magnitude too long before the exposure gain; now it is brightened
    to the training images' level, measured like the 8-bit image, and says so."""
    ms = generate_microstructure((256, 256), mean_grain_size_px=30, seed=5)
    img8 = ms.image
    dim16 = (img8.astype(np.uint32) * 4095 // 255).astype(np.uint16)
    ref = measure_grain_size(img8, model=model, inference_scale=1.0)
    dim = measure_grain_size(dim16, model=model, inference_scale=1.0)
    assert not any("dim" in w for w in ref.warnings)
    assert any("dim for the boundary model" in w and "brightening it x" in w
               for w in dim.warnings), dim.warnings
    assert not any("grey" in w or "saturated" in w for w in dim.warnings), dim.warnings
    assert dim.mean_intercept_px == pytest.approx(ref.mean_intercept_px, rel=0.15)


def test_non_square_pixels_give_px_figures_and_no_um(tmp_path, capsys):
    """A mask with 0.5 µm (X) by 0.25 µm (Y) pixels was measured in µm with its X size
    for both directions: ℓ̄ in µm and G wrong without a word. Now µm and G are withheld
    with one warning (as without a pixel size); the figures in pixels stay."""
    import warnings

    import tifffile

    from napari_srmat.io import read_image

    ms = generate_microstructure((160, 160), mean_grain_size_px=16, seed=3)
    mask = ms.boundaries.astype(np.uint8) * 255
    tifffile.imwrite(tmp_path / "ns.tif", mask, resolution=(20000, 40000),
                     resolutionunit="CENTIMETER")
    tifffile.imwrite(tmp_path / "sq.tif", mask, resolution=(20000, 20000),
                     resolutionunit="CENTIMETER")
    said = "pixels are not square (X 0.5 µm, Y 0.25 µm)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ns, sq = read_image(tmp_path / "ns.tif"), read_image(tmp_path / "sq.tif")
    r, r_sq = measure_grain_size(ns, mask=True), measure_grain_size(sq, mask=True)
    assert r.mean_intercept_px == pytest.approx(r_sq.mean_intercept_px)
    assert r.mean_intercept_um is None and r.astm_g is None and r.pixel_size_um is None
    assert [w for w in r.warnings if said in w] and not any(
        w.startswith("no pixel size") for w in r.warnings)
    assert r_sq.astm_g is not None and r_sq.pixel_size_um == pytest.approx(0.5)
    assert not any("not square" in w for w in r_sq.warnings)
    # an explicit pixel size is the user's word for both directions
    r_given = measure_grain_size(ns, mask=True, pixel_size_um=0.5)
    assert r_given.astm_g == pytest.approx(r_sq.astm_g)
    h = measure_intercepts(ns, pattern="grid", n_lines=9)
    assert h.mean_intercept_um is None and h.astm_g is None
    assert any(said in w for w in h.warnings)
    assert measure_intercepts(sq, pattern="grid", n_lines=9).astm_g is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gs = _run_json(capsys, ["grain-size", str(tmp_path / "ns.tif"), "--mask", "--json"])
        hy = _run_json(capsys, ["heyn", str(tmp_path / "ns.tif"), "--skeletonize", "--json"])
        hy_sq = _run_json(capsys, ["heyn", str(tmp_path / "sq.tif"), "--skeletonize",
                                   "--json"])
    row = gs["images"][0]
    assert row["mean_intercept_px"] is not None and row["astm_g"] is None
    assert any(said in w for w in row["warnings"])
    assert hy["mean_intercept_px"] is not None and hy["astm_g"] is None
    assert hy["per_image"][0]["astm_g"] is None
    assert any(said in w for w in hy["warnings"])
    assert hy_sq["astm_g"] is not None and not any("not square" in w
                                                   for w in hy_sq["warnings"])
    # a given size is used for both directions: its rows named the file's (Y, X) sizes
    # nowhere and still said "ℓ̄ in px only" (measure_intercepts said nothing at all)
    for given, told in ((0.5, "the given 0.5 µm was used"),
                        (0.25, "the given 0.25 µm was used")):
        recorded = "the file records (Y, X) = (0.25, 0.5) µm per pixel"
        for warned in (
            measure_intercepts(ns, pattern="grid", n_lines=9, pixel_size_um=given).warnings,
            measure_grain_size(ns, mask=True, pixel_size_um=given).warnings,
            _run_json(capsys, ["grain-size", str(tmp_path / "ns.tif"), "--mask", "--json",
                               "--pixel-size-um", str(given)])["images"][0]["warnings"],
            _run_json(capsys, ["heyn", str(tmp_path / "ns.tif"), "--skeletonize", "--json",
                               "--pixel-size-um", str(given)])["per_image"][0]["warnings"],
        ):
            assert f"{recorded}; {told}" in warned
            assert not any("not square" in w for w in warned)


def test_a_field_with_fewer_than_50_intersections_is_told_so(tmp_path, capsys):
    # E112: about 50 intersections a field or more; the one schema of srmat heyn /
    # grain-size carries the advice, with the count it saw
    from napari_srmat.grainsize import (
        NO_PIXEL_SIZE_NOTE,
        few_intersections_note,
        grain_size_from_heyn,
    )
    from napari_srmat.metrics.standards import MIN_COUNT_PER_FIELD

    mask = np.zeros((200, 200), bool)
    mask[:, 5::40] = True  # vertical boundaries only: 5 crossings per horizontal line
    few = measure_intercepts(mask, pattern="grid", n_lines=4, margin=0)
    many = measure_intercepts(mask, pattern="grid", n_lines=40, margin=0)
    assert few.intersection_count < MIN_COUNT_PER_FIELD <= many.intersection_count
    assert grain_size_from_heyn(few).warnings == [few_intersections_note(
        few.intersection_count)]
    assert grain_size_from_heyn(many).warnings == []
    Image.fromarray(mask.astype(np.uint8) * 255).save(tmp_path / "mask.png")
    assert main(["heyn", str(tmp_path / "mask.png"), "--pattern", "grid", "--lines", "4",
                 "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["per_image"][0]
    assert row["warnings"] == [few_intersections_note(row["intersection_count"]),
                               NO_PIXEL_SIZE_NOTE]
    # srmat grain-size --mask: the same warnings, in the same order
    assert main(["grain-size", str(tmp_path / "mask.png"), "--mask", "--pattern", "grid",
                 "--lines", "4", "--margin", "0", "--json"]) == 0
    gs_row = json.loads(capsys.readouterr().out)["images"][0]
    assert main(["heyn", str(tmp_path / "mask.png"), "--pattern", "grid", "--lines", "4",
                 "--margin", "0", "--skeletonize", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["per_image"][0]["warnings"] == \
        gs_row["warnings"]


def _drawn_lines_with_counts(counts, width=200):
    """A mask and drawn horizontal lines of equal length, line i crossing counts[i] short
    boundaries (ends inside grains)."""
    mask = np.zeros((10 * len(counts) + 10, width), bool)
    segs = []
    for i, k in enumerate(counts):
        row = 10 * i + 5
        for j in range(k):
            c = 10 + (j + 1) * (width - 20) // (k + 1)
            mask[row - 2:row + 3, c] = True
        segs.append([[row, 2], [row, width - 3]])
    return mask, segs


def test_few_intersections_get_an_exact_asymmetric_interval():
    """With few intersections the line-sampling term was ±r on a log scale: 20 crossings
    on 10 lines of scattered density gave ℓ̄ x [0.47, 2.1] where the density's own
    Student-t interval, inverted to ℓ̄ = 1 / d, is ℓ̄ x [0.57, 4.1]. It is that inverted
    interval (at every count since 0a6b0a2, without the Poisson floor it had below 50
    intersections), with the resolution of the integer counts in quadrature
    (``t sqrt(n / 12) / P``); an interval without an upper end is withheld with a
    warning. Two lines that agree by chance (identical densities, r = 0) had the pixel
    term alone; their counts' resolution now leaves no upper end, and the
    few-intersections warning says the count is small."""
    from scipy.stats import t

    from napari_srmat.grainsize import PIXEL_RESOLUTION_PX, grain_size_from_heyn
    from napari_srmat.metrics.standards import few_intersections_note

    def measured(counts):
        mask, segs = _drawn_lines_with_counts(counts)
        res = measure_intercepts(mask, pattern="segments", segments=segs)
        assert res.per_line_intersections.tolist() == counts
        return res, grain_size_from_heyn(res)

    # scattered densities: the exact interval of the mean density, inverted
    counts = [0, 0, 4, 4, 0, 4, 4, 0, 4, 0]
    res, r = measured(counts)
    d = np.array(counts) / res.per_line_length_px
    rel = t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size) / d.mean()
    c = t.ppf(0.975, d.size - 1) * math.sqrt(d.size / 12) / sum(counts)
    assert rel > c  # the scatter is above the counts' resolution: r itself
    rel = max(rel, c)
    pix = PIXEL_RESOLUTION_PX / res.mean_intercept_px
    lo, hi = r.mean_intercept_ci95_px
    ell = res.mean_intercept_px
    assert hi / ell == pytest.approx(math.exp(math.hypot(-math.log(1 - rel), pix)))
    assert lo / ell == pytest.approx(math.exp(-math.hypot(math.log(1 + rel), pix)))
    assert hi / ell > 1 / (1 - rel) > math.exp(rel)
    # identical densities: the counts' resolution (t(1) sqrt(2 / 12) / 2 = 2.6) leaves
    # no upper end; the warnings say so and that the count is small
    res, r = measured([1, 1])
    assert res.relative_accuracy_pct == 0.0  # the scatter's (the half-width is floored)
    assert r.uncertainty["counting"] == pytest.approx(t.ppf(0.975, 1) * math.sqrt(2 / 12) / 2)
    assert r.mean_intercept_ci95_px is None and any("no upper end" in w for w in r.warnings)
    assert few_intersections_note(2) in r.warnings
    # the density interval reaches 0: no upper end, no interval, a warning saying so
    res, r = measured([0] * 8 + [4, 4])
    assert res.relative_accuracy_pct > 100
    assert r.mean_intercept_ci95_px is None and r.mean_intercept_px is not None
    assert any("no upper end" in w for w in r.warnings)
    assert r.to_dict()["mean_intercept_ci95_px"] is None


def test_a_grid_whose_lines_count_alike_gets_a_counting_term():
    """The grid pattern's lines on a square field all have the same length, so with few
    crossings their counts often agree: a 400² mask with boundaries every 100 px, 2 + 2
    grid lines, 3 crossings on every line (P = 12) had r = 0 and an interval of the pixel
    term alone, ℓ̄ x [0.99, 1.01]. On synthetic fields such grids covered the ℓ̄ of a dense
    grid 88.7 % of the time with P < 25 (studies/heyn_interval_coverage.py). The counts'
    resolution, t(3) sqrt(4 / 12) / 12 = 0.153, now gives ℓ̄ x [0.87, 1.18]."""
    from scipy.stats import t

    from napari_srmat.grainsize import PIXEL_RESOLUTION_PX, grain_size_from_heyn

    mask = np.zeros((400, 400), bool)
    mask[::100, :] = True
    mask[:, ::100] = True
    res = measure_intercepts(mask, pattern="grid", n_lines=2)
    assert res.per_line_intersections.tolist() == [3] * 4 and res.relative_accuracy_pct == 0
    r = grain_size_from_heyn(res)
    lo, hi = (v / r.mean_intercept_px for v in r.mean_intercept_ci95_px)
    assert lo < 0.88 and hi > 1.17, (lo, hi)
    c = t.ppf(0.975, 3) * math.sqrt(4 / 12) / 12
    assert r.uncertainty["counting"] == pytest.approx(c)
    pix = PIXEL_RESOLUTION_PX / r.mean_intercept_px
    assert lo == pytest.approx(math.exp(-math.hypot(math.log1p(c), pix)))
    assert hi == pytest.approx(math.exp(math.hypot(-math.log1p(-c), pix)))


def test_the_counting_resolution_is_a_floor_under_the_lines_scatter_not_added_to_it():
    """295d30c added the counts' resolution c = t sqrt(n / 12) / P to the lines'
    scatter r in quadrature, sqrt(r² + c²); but for r > 0 the per-line densities already
    carry their counts' quantisation, so it was counted twice: random-line coverage
    below P 25 went 94.7 -> 99.4 % (studies/heyn_interval_coverage.py). c is now a floor,
    max(r, c): ten drawn lines counting 5 (nine) and 6, r = 0.044 just above c = 0.041,
    read r' = 0.060 before (the sampling term ln(1 + r') 0.058, now ln(1 + r) 0.043); a
    scatter below c, r = 0.01 on a 2 + 2 grid counting 12, read sqrt(r² + c²), now c."""
    from scipy.stats import t

    from napari_srmat.grainsize import grain_size_from_heyn, sampling_log_terms

    counts = [5] * 9 + [6]
    mask, segs = _drawn_lines_with_counts(counts)
    res = measure_intercepts(mask, pattern="segments", segments=segs)
    assert res.per_line_intersections.tolist() == counts
    r = res.relative_accuracy_pct / 100
    c = t.ppf(0.975, 9) * math.sqrt(10 / 12) / sum(counts)
    assert c < r < 1.2 * c
    u = grain_size_from_heyn(res).uncertainty
    assert u["counting"] == pytest.approx(c)
    assert u["sampling_low"] == pytest.approx(math.log1p(r))
    assert u["sampling_high"] == pytest.approx(-math.log1p(-r))
    c4 = t.ppf(0.975, 3) * math.sqrt(4 / 12) / 12
    assert sampling_log_terms(0.01, count=12, n_lines=4) == pytest.approx(
        (math.log1p(c4), -math.log1p(-c4)))


def test_the_sampling_interval_does_not_step_at_50_intersections():
    """The line-sampling term of ℓ̄'s 95 % interval switched at E112's 50 intersections:
    below, the inverted density interval widened to the count's Poisson interval; from
    50 on ``ℓ̄ exp(±r)``. Two fields of ten drawn lines with nearly the same scatter of
    per-line densities, 49 and 50 crossings, read ℓ̄ x [0.76, 1.35] and [0.93, 1.07].
    The term is now the density's t interval inverted, ``ℓ̄ [1/(1+r), 1/(1-r)]``, at
    every count, without the Poisson floor (which covered 100 % of synthetic fields
    while 1.25 x wider than needed: studies/heyn_interval_coverage.py)."""
    from scipy.stats import t

    from napari_srmat.grainsize import PIXEL_RESOLUTION_PX, grain_size_from_heyn

    widths = []
    for counts in ([5] * 7 + [4, 4, 6], [5] * 8 + [4, 6]):
        mask, segs = _drawn_lines_with_counts(counts)
        res = measure_intercepts(mask, pattern="segments", segments=segs)
        assert res.intersection_count == sum(counts)
        r = max(res.relative_accuracy_pct / 100,  # floored at the counts' resolution
                t.ppf(0.975, 9) * math.sqrt(10 / 12) / sum(counts))
        ell = res.mean_intercept_px
        pix = PIXEL_RESOLUTION_PX / ell
        lo, hi = grain_size_from_heyn(res).mean_intercept_ci95_px
        assert lo / ell == pytest.approx(math.exp(-math.hypot(math.log1p(r), pix)))
        assert hi / ell == pytest.approx(math.exp(math.hypot(-math.log1p(-r), pix)))
        widths.append(hi / lo)
    assert widths[0] == pytest.approx(widths[1], rel=0.05)  # 49 and 50: alike


def test_grain_size_plan_bounds_the_memory_of_an_up_scaled_run(model, monkeypatch):
    """``plan_grain_size`` (the Simple tab's memory check) counted the micrograph and the
    boundary maps at the input's scale, but a coarse micrograph is up-sampled before the
    model (here more than x2, at most ``MAX_INFERENCE_SCALE``): the run held several
    times what was estimated, unchecked. The plan at the run's scale bounds what the run
    holds, and the job checks it once the automatic scale is known, refusing in one line
    before the model runs when it does not fit."""
    from napari_srmat import outputs
    from napari_srmat.estimates import MEMORY_FRACTION, plan_grain_size

    ms = generate_microstructure((384, 384), mean_grain_size_px=56, seed=3)
    coarse = resample(ms.image.astype(np.float32) / 255, 0.3)
    r = measure_grain_size(coarse, model=model)
    assert r.inference_scale > 2
    channels = coarse.shape[2] if coarse.ndim == 3 else 1
    up_px = r.probability.size  # pixels at the inference scale
    held = (coarse.size * 4                      # the micrograph as float32
            + up_px * channels * 4               # up-sampled for the model
            + 2 * r.probability.nbytes           # probability and uncertainty maps
            + r.boundaries.nbytes)               # the binarised boundaries
    at_scale = plan_grain_size(coarse.shape, inference_scale=r.inference_scale).output_bytes
    assert at_scale >= held
    # without a scale (the automatic one is not known yet): the input's own scale, the
    # micrograph and the maps, as the rule was
    own = coarse.size * 4 + coarse.shape[0] * coarse.shape[1] * 9
    assert plan_grain_size(coarse.shape).output_bytes == own
    assert plan_grain_size(coarse.shape, inference_scale=1).output_bytes == own
    # memory for the own-scale plan but not for the up-sampled run: refused in the job
    available = int(at_scale / MEMORY_FRACTION) - 1
    monkeypatch.setattr(outputs, "available_memory_bytes", lambda: available)
    with pytest.raises(GrainSizeError, match=r"^at inference scale [0-9.]+ \(a coarse "
                       r"micrograph, up-sampled for the model\) the measurement needs "):
        measure_grain_size(coarse, model=model)
    monkeypatch.setattr(outputs, "available_memory_bytes", lambda: available + 1)
    assert measure_grain_size(coarse, model=model).mean_intercept_px == r.mean_intercept_px


def test_an_image_resampled_below_the_models_least_side_is_named_as_resampled(model):
    """A 24 px micrograph at inference scale 0.25 is 6 px for the model: the model's own
    refusal ("image is 6 x 6 px, smaller than the smallest image side ...") named a size
    the user never gave. The measurement refuses it first, naming both sizes and the
    scale; at a scale that keeps 8 px it is measured."""
    from napari_srmat.io import MIN_IMAGE_SIDE

    ms = generate_microstructure((24, 24), mean_grain_size_px=20, seed=1)
    with pytest.raises(GrainSizeError, match=r"^the image is 24 px at its smallest; at "
                       r"inference scale 0.25 it would be 6 px, under the 8 px the "
                       r"boundary model takes$"):
        measure_grain_size(ms.image, model=model, inference_scale=0.25)
    assert MIN_IMAGE_SIDE == 8
    r = measure_grain_size(ms.image, model=model, inference_scale=0.5)
    assert r.boundaries.shape == (12, 12)


def test_a_micrograph_too_large_for_memory_is_refused_before_it_is_read(
        model, monkeypatch, tmp_path, capsys):
    """``srmat grain-size`` of a 60000² RGB mosaic (no --mask) estimated the grain size
    for minutes, reading the whole mosaic level by level, then read it whole as float32
    and ran out of memory: the memory check ran only for an up-sampled run (scale > 1).
    Now the plan the Simple tab refuses with (``plan_grain_size`` at the input's scale, or
    at the scale given) is checked before the mosaic is read (only the pixel-value
    sample of ``check_pixel_values``), in one line naming the memory and what to do; the
    mask path (``--mask``) already did so."""
    import dask.array as da

    from napari_srmat import grainsize, outputs
    from napari_srmat.estimates import MEMORY_FRACTION, plan_grain_size

    tile = generate_microstructure((256, 256), seed=2).image
    lazy = da.tile(da.from_array(tile, chunks=(256, 256, 3)), (8, 8, 1))

    def estimate(*args, **kwargs):  # the first step that reads the whole mosaic
        raise AssertionError("the scale estimate ran")

    monkeypatch.setattr(grainsize, "_automatic_scale", estimate)
    need = plan_grain_size(lazy.shape).output_bytes
    monkeypatch.setattr(outputs, "available_memory_bytes",
                        lambda: int(need / MEMORY_FRACTION) - 1)
    with pytest.raises(GrainSizeError, match=r"^measure_grain_size needs [0-9.]+ MiB of "
                       r"memory, more than 50% of the [0-9.]+ MiB available: measure "
                       r"fields or crops of it$"):
        measure_grain_size(lazy, model=model)
    # a given scale is planned at that scale (0.5: a smaller copy for the model)
    half = plan_grain_size(lazy.shape, inference_scale=0.5).output_bytes
    assert half < need
    monkeypatch.setattr(outputs, "available_memory_bytes",
                        lambda: int(half / MEMORY_FRACTION) - 1)
    with pytest.raises(GrainSizeError, match=r"^measure_grain_size needs"):
        measure_grain_size(lazy, model=model, inference_scale=0.5)
    # the command line: one line naming the file, exit 2
    path = tmp_path / "mosaic.zarr"
    da.to_zarr(da.from_array(tile, chunks=(128, 128, 3)), str(path))
    small = plan_grain_size(tile.shape).output_bytes
    monkeypatch.setattr(outputs, "available_memory_bytes",
                        lambda: int(small / MEMORY_FRACTION) - 1)
    assert main(["grain-size", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"srmat grain-size: error: {path}: measure_grain_size needs ")
    assert len(err.splitlines()) == 1
    # with memory for it, measured as before
    monkeypatch.undo()
    assert measure_grain_size(tile, model=model).mean_intercept_px > 0


def test_cli_text_line_counts_crossings_by_their_name(tmp_path, capsys):
    """`srmat grain-size` printed '(95% intervals; 412 intercepts)' where the number was
    the boundary crossings (E112's P, `n_crossings` in --json); E112's intercept count N
    is another number (`intercept_count`). The line now names them crossings."""
    from PIL import Image

    from napari_srmat.cli import main
    from napari_srmat.synth import generate_microstructure

    mask = generate_microstructure((192, 192), mean_grain_size_px=20, seed=4).boundaries
    path = tmp_path / "m.png"
    Image.fromarray(mask.astype(np.uint8) * 255).save(path)
    assert main(["grain-size", "--mask", str(path), "--json"]) == 0
    n = json.loads(capsys.readouterr().out)["images"][0]["n_crossings"]
    assert main(["grain-size", "--mask", str(path)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.endswith(f"(95% intervals; {n} crossings)"), line
    assert "intercepts" not in line


def test_interval_note_says_why_only_where_the_figure_is_given():
    """Guard: ``GrainSizeResult.interval_note`` (``to_dict()``'s ``interval_note``) is the
    row's "no 95% interval" warning where ℓ̄ is given without an interval (one test line),
    and None where ℓ̄ is withheld although that warning stays in ``warnings`` (an image's
    ℓ̄ withheld as too coarse after its interval was found missing): no figure, no note,
    as ``interval_scope``. The note is read-only (derived from the warnings)."""
    import dataclasses

    from napari_srmat.grainsize import NO_INTERVAL_NOTE

    ms = generate_microstructure((160, 160), mean_grain_size_px=20, seed=5)
    r = measure_grain_size(ms.boundaries, mask=True, pattern="random", n_lines=1, seed=3,
                           pixel_size_um=0.5)
    assert r.mean_intercept_px is not None and r.mean_intercept_ci95_px is None
    assert r.to_dict()["interval_note"] == r.interval_note
    assert r.interval_note.startswith(f"{NO_INTERVAL_NOTE}: fewer than two test lines")
    # the figures _withhold clears; the warnings kept
    withheld = dataclasses.replace(r, mean_intercept_px=None, mean_intercept_um=None,
                                   astm_g=None)
    assert any(w.startswith(NO_INTERVAL_NOTE) for w in withheld.warnings)
    d = withheld.to_dict()
    assert d["interval_note"] is None and d["interval_scope"] is None
    with pytest.raises(AttributeError):
        r.interval_note = "set by hand"


def test_cli_text_line_claims_95_intervals_only_where_the_row_has_them(tmp_path, capsys):
    """Was: `srmat grain-size`'s text line ended '(95% intervals; N crossings)' for every
    row, also one whose interval is null (one test line: its --json `interval_note`
    says why), which then showed ℓ̄ and G alone under a claim of intervals. The line now
    says 'no 95% interval: see the warnings' there (the stderr warning above gives why);
    a row with its intervals reads as before."""
    from napari_srmat.cli import main

    ms = generate_microstructure((160, 160), mean_grain_size_px=20, seed=5)
    path = tmp_path / "m.png"
    Image.fromarray(ms.boundaries.astype(np.uint8) * 255).save(path)
    one = [str(path), "--mask", "--pixel-size-um", "0.5", "--pattern", "random",
           "--lines", "1", "--seed", "3"]
    assert main(["grain-size", *one, "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["images"][0]
    assert row["mean_intercept_ci95_px"] is None and row["interval_note"] is not None
    assert main(["grain-size", *one]) == 0
    line = capsys.readouterr().out.strip()
    assert line.endswith(f"(no 95% interval: see the warnings; {row['n_crossings']} crossings)")
    assert "[" not in line and "95% intervals" not in line
    assert main(["grain-size", str(path), "--mask", "--pixel-size-um", "0.5"]) == 0
    assert "(95% intervals; " in capsys.readouterr().out
