"""Threshold rules (operating points) of napari_srmat.edges.thresholds."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from napari_srmat.edges.data import dilate_boundaries
from napari_srmat.edges.thresholds import (
    REGION_THRESHOLD_RATIO,
    RULE_REGION_PX,
    RULES,
    InterceptTable,
    apply_threshold_rule,
    binarize_by_region,
    boundary_continuity,
    clear_curve_cache,
    fit_threshold_rule,
    image_threshold,
    intercept_errors,
    mean_intercept,
    region_edges,
)
from napari_srmat.synth import generate_microstructure


def _maps(n=4, size=96, scales=(1.0, 0.7, 0.9, 0.6), seed=0):
    """Soft boundary maps of synthetic grains; each image has its own 'contrast'."""
    from skimage.morphology import skeletonize

    rng = np.random.default_rng(seed)
    probs, masks = [], []
    for i in range(n):
        ms = generate_microstructure((size, size), mean_grain_size_px=float(16 + 4 * i),
                                     seed=seed + i)
        thin = skeletonize(np.asarray(ms.boundaries, bool))
        mask = dilate_boundaries(thin, 3)
        soft = ndimage.gaussian_filter(thin.astype(np.float32), 1.2)
        soft /= soft.max()
        p = scales[i % len(scales)] * soft + 0.05 * rng.random(soft.shape)
        probs.append(np.clip(p, 0, 1).astype(np.float32))
        masks.append(mask)
    return probs, masks


@pytest.fixture(scope="module")
def table():
    probs, masks = _maps()
    return InterceptTable(probs, masks)


def test_every_rule_fits_and_applies(table):
    for name in RULES:
        params = table.fit(name)
        json.dumps(params)  # storable in a checkpoint config
        for p in table.probs:
            b = apply_threshold_rule(name, p, params)
            assert b.shape == p.shape and b.dtype == bool
            assert 0 < b.mean() < 0.6, name
        e = table.errors(name, params, exact=True)
        assert e["n_invalid"] == 0 and 0 <= e["per_image"] < 1, name
        t = image_threshold(name, table.probs[0], params)
        assert (t is None) == (name in ("hysteresis", "closing", "bridge", "prune",
                                         "separating", "watershed"))


def test_global_is_max_f1(table):
    from napari_srmat.edges.evaluate import _pooled_histogram

    params = table.fit("global")
    assert params["threshold"] == _pooled_histogram(table.probs, table.masks).best_f1()[0]


def test_heyn_global_minimises_per_image_error(table):
    params = table.fit("heyn_global")
    best = table.errors("heyn_global", params)["per_image"]
    for t in (0.1, 0.3, 0.5, 0.7):
        assert best <= table.errors("heyn_global", {"threshold": t})["per_image"] + 1e-12


def test_adaptive_rules_follow_the_image_contrast():
    probs, _ = _maps(1, scales=(1.0,))
    p = probs[0]
    for name, params in (("relative", {"c": 0.5}), ("otsu_scaled", {"c": 1.0}),
                         ("quantile", {"q": 0.1})):
        a = apply_threshold_rule(name, p, params)
        b = apply_threshold_rule(name, 0.5 * p, params)  # a fainter copy
        assert np.mean(a == b) > 0.995, name
    assert not np.array_equal(apply_threshold_rule("global", p, {"threshold": 0.4}),
                              apply_threshold_rule("global", 0.5 * p, {"threshold": 0.4}))
    q = apply_threshold_rule("quantile", p, {"q": 0.1}).mean()
    assert abs(q - 0.1) < 0.01
    # mass: a fraction alpha * mean(prob) of the pixels, fewer on a fainter map
    for scale in (1.0, 0.5):
        m = apply_threshold_rule("mass", scale * p, {"alpha": 2.0}).mean()
        assert abs(m - 2.0 * scale * p.mean()) < 0.01


@pytest.mark.parametrize("n", [1, 100, 255, 256, 511, 512, 900, 2047, 5000])
def test_region_edges_cover_the_axis_with_parts_of_one_to_two_regions(n):
    e = region_edges(n)
    sizes = np.diff(e)
    assert e[0] == 0 and e[-1] == n and (sizes > 0).all()
    if n >= RULE_REGION_PX:
        assert sizes.min() >= RULE_REGION_PX and sizes.max() < 2 * RULE_REGION_PX
    else:
        assert sizes.tolist() == [n]


def _two_contrast_map():
    """A 512 x 600 map: the same grains, bright in the top half, half as bright in the
    bottom (within REGION_THRESHOLD_RATIO)."""
    probs, masks = _maps(1, size=600, scales=(1.0,))
    p, m = probs[0][:512], masks[0][:512]
    p = p.copy()
    p[256:] *= 0.5
    return p, m


def test_binarize_by_region_gives_each_region_its_own_threshold():
    p, m = _two_contrast_map()
    whole = apply_threshold_rule("otsu_scaled", p, {"c": 1.0})
    regional, ts = binarize_by_region("otsu_scaled", p, {"c": 1.0})
    assert len(ts) == 2 * 2 and max(ts) > 1.9 * min(ts)   # bright and faint regions
    # one threshold for the whole map misses most of the faint half's boundaries
    recall = [(b[256:] & m[256:]).sum() / m[256:].sum() for b in (whole, regional)]
    assert recall[0] < 0.5 < 0.8 < recall[1]
    # the bright half is binarised about as with one threshold of its own
    top = apply_threshold_rule("otsu_scaled", p[:256], {"c": 1.0})
    assert np.mean(regional[:256] == top) > 0.97


def test_binarize_by_region_leaves_regions_without_boundaries_empty():
    """A region of noise only (a blank margin) must not get an Otsu threshold inside its
    noise: region thresholds stay within REGION_THRESHOLD_RATIO of the whole map's."""
    p, _ = _two_contrast_map()
    rng = np.random.default_rng(1)
    p = p.copy()
    p[256:] = 0.05 * rng.random(p[256:].shape)          # no grains in the bottom half
    binary, ts = binarize_by_region("otsu_scaled", p, {"c": 1.0})
    whole = image_threshold("otsu_scaled", p, {"c": 1.0})
    assert min(ts) >= whole / REGION_THRESHOLD_RATIO - 1e-12
    assert not binary[256:].any()
    assert binary[:256].mean() > 0.05


def test_binarize_by_region_is_the_rule_itself_on_one_region_and_for_fixed_rules():
    p, _ = _two_contrast_map()
    small = p[:300, :300]   # < 2 regions each way: one region
    b, ts = binarize_by_region("otsu_scaled", small, {"c": 1.2})
    assert np.array_equal(b, apply_threshold_rule("otsu_scaled", small, {"c": 1.2}))
    assert ts == [image_threshold("otsu_scaled", small, {"c": 1.2})]
    b, ts = binarize_by_region("global", p, {"threshold": 0.3})
    assert np.array_equal(b, p >= 0.3) and ts == [0.3]
    for name, params in (("hysteresis", {"low": 0.2, "high": 0.5}),
                         ("prune", {"c": 1.2, "k": 6}), ("bridge", {"c": 1.2, "f": 0.5, "r": 3}),
                         ("separating", {"c": 1.2}), ("watershed", {"c": 1.2, "h": 0.02})):
        b, ts = binarize_by_region(name, p, params)
        assert np.array_equal(b, apply_threshold_rule(name, p, params)), name
        assert ts is None


def test_density_rule_reaches_the_truth_density(table):
    from skimage.morphology import skeletonize

    params = table.fit("density")
    target = np.mean([skeletonize(m).mean() for m in table.masks])
    assert params["density"] == pytest.approx(target)
    for p in table.probs:
        d = skeletonize(apply_threshold_rule("density", p, params)).mean()
        assert abs(d - target) < 0.25 * target


def test_hysteresis_and_closing():
    probs, _ = _maps(1, scales=(1.0,))
    p = probs[0]
    hy = apply_threshold_rule("hysteresis", p, {"low": 0.2, "high": 0.6})
    assert np.array_equal(hy & (p >= 0.6), p >= 0.6) and not (hy & (p < 0.2)).any()
    gap = np.zeros((20, 20), np.float32)
    gap[9:12, :] = 1.0
    gap[9:12, 9:11] = 0.0  # a 2 px gap in a 3 px wide line
    closed = apply_threshold_rule("closing", gap, {"threshold": 0.5, "radius": 2})
    assert closed[10].all() and closed.sum() < 70
    assert np.array_equal(apply_threshold_rule("closing", gap, {"threshold": 0.5, "radius": 0}),
                          gap >= 0.5)


def test_regression_rule_parameters(table):
    params = table.fit("regression")
    assert params["features"] == ["mean", "p95", "otsu"] and len(params["coef"]) == 3
    bad = dict(params, features=["mean"])
    with pytest.raises(ValueError, match="features"):
        apply_threshold_rule("regression", table.probs[0], bad)


def test_fit_threshold_rule_and_errors():
    probs, masks = _maps(3)
    params = fit_threshold_rule("heyn_global", probs, masks)
    assert 0.05 <= params["threshold"] <= 0.95
    with pytest.raises(ValueError, match="unknown threshold rule"):
        apply_threshold_rule("magic", probs[0], {})
    with pytest.raises(ValueError, match="as many"):
        InterceptTable(probs, masks[:2])
    e = intercept_errors([11.0, None, 18.0], [10.0, 10.0, 20.0])
    assert e["per_image"] == pytest.approx((0.1 + 1.0 + 0.1) / 3)
    assert e["pooled"] == pytest.approx(abs(14.5 - 15.0) / 15.0)
    assert e["n_invalid"] == 1
    assert mean_intercept(np.zeros((10, 10), bool)) is None


# ------------------------------------------------- topology, stable, bridge, prune
def _gappy_map(seed=3, size=128, n_gaps=25):
    """A soft boundary map whose boundaries fade to 45 % in ``n_gaps`` short stretches."""
    from skimage.morphology import skeletonize

    ms = generate_microstructure((size, size), mean_grain_size_px=20.0, seed=seed)
    thin = skeletonize(np.asarray(ms.boundaries, bool))
    soft = ndimage.gaussian_filter(thin.astype(np.float32), 1.0)
    soft /= soft.max()
    rng = np.random.default_rng(seed)
    ys, xs = np.nonzero(thin)
    cut = np.zeros_like(thin)
    for j in rng.choice(len(ys), n_gaps, replace=False):
        cut[max(0, ys[j] - 3):ys[j] + 4, max(0, xs[j] - 3):xs[j] + 4] = True
    p = np.where(cut, 0.45 * soft, soft) + 0.03 * rng.random(soft.shape)
    return p.astype(np.float32), thin


def test_boundary_continuity_counts_gaps():
    ring = np.zeros((40, 40), bool)
    ring[10, 10:30] = ring[29, 10:30] = ring[10:30, 10] = ring[10:30, 29] = True
    c = boundary_continuity(ring)
    assert c["endpoints"] == 0 and c["fragments"] == 1 and c["endpoints_per_100px"] == 0
    broken = ring.copy()
    broken[10, 18:21] = False  # one 3 px gap: two dangling ends
    c = boundary_continuity(broken)
    assert c["endpoints"] == 2 and c["fragments"] == 1
    assert c["endpoints_per_100px"] == pytest.approx(200 / c["length_px"])
    line = np.zeros((40, 40), bool)
    line[20, :] = True  # crosses the image: ends at the border are not gaps
    assert boundary_continuity(line)["endpoints"] == 0
    assert boundary_continuity(np.zeros((8, 8), bool))["endpoints_per_100px"] is None


def test_bridge_and_prune_leave_fewer_endpoints():
    p, thin = _gappy_map()
    plain = boundary_continuity(apply_threshold_rule("otsu_scaled", p, {"c": 1.0}))
    bridged = boundary_continuity(apply_threshold_rule("bridge", p,
                                                       {"c": 1.0, "f": 0.5, "r": 3}))
    assert plain["endpoints"] >= 10
    assert bridged["endpoints"] < 0.5 * plain["endpoints"]
    assert bridged["fragments"] < plain["fragments"]
    # r = 0: no growth, the otsu_scaled map itself
    assert np.array_equal(apply_threshold_rule("bridge", p, {"c": 1.0, "f": 0.5, "r": 0}),
                          apply_threshold_rule("otsu_scaled", p, {"c": 1.0}))
    # spurs: a cross with one short arm loses the arm, the long arms stay
    sk = np.zeros((40, 40), bool)
    sk[20, 2:38] = True
    sk[21:24, 20] = True  # a 3 px spur
    q = sk.astype(np.float32)
    pruned = apply_threshold_rule("prune", q, {"c": 1.0, "k": 5})
    assert not pruned[22:24, 20].any() and pruned[20, 5:35].all()
    assert (boundary_continuity(pruned, skeletonize=False)["endpoints"]
            < boundary_continuity(sk, skeletonize=False)["endpoints"])


def test_separating_drops_spurs_and_fragments_of_any_length_and_keeps_closed_boundaries():
    from napari_srmat.edges.thresholds import separating_boundaries

    b = np.zeros((120, 120), bool)
    b[40:43, :] = True              # thick line across: top | bottom
    b[43:, 60:62] = True            # bottom split into left | right
    b[80:82, 5:50] = True           # a loose 45 px fragment in the bottom-left region
    b[60:100, 90:92] = True         # a 40 px fragment hanging in the bottom-right region
    b[0:30, 20] = True              # a 30 px spur from the top edge into the top region
    b[10:20, 100:110] = True        # a closed 10 px square (outline) ...
    b[12:18, 102:108] = False       # ... around a small grain: kept
    kept = separating_boundaries(b)
    assert kept[40:43, 5:115].any(axis=0).all()          # the line across, whole
    assert kept[45:115, 60:62].any(axis=1).all()         # the vertical one, whole
    assert not kept[80:82, 5:50].any() and not kept[60:100, 90:92].any()
    assert not kept[0:30, 20].any()
    assert kept[10:20, 100:110].sum() >= 20
    # the rule: otsu_scaled, then this
    p = b.astype(np.float32) * 0.8 + 0.1
    params = {"c": 1.0}
    assert np.array_equal(apply_threshold_rule("separating", p, params),
                          separating_boundaries(apply_threshold_rule("otsu_scaled", p, params)))
    # ℓ̄: the fragments no longer count as intercepts (longer than with them)
    assert mean_intercept(kept) > mean_intercept(b)
    assert not separating_boundaries(np.zeros((20, 20), bool)).any()


def _ridge_map():
    """Four grains: a strong cross with a 6 px gap in its vertical arm, a weak ridge
    (texture) across the top-left grain, and a spur into the bottom-right grain."""
    rng = np.random.default_rng(3)
    p = 0.05 + 0.02 * rng.random((96, 96))
    p[47:49, :] = 0.9                   # horizontal boundary
    p[:, 47:49] = 0.9                   # vertical boundary ...
    p[20:26, 47:49] = 0.15              # ... with a faint gap
    p[:47, 20] = 0.3                    # a weak ridge splitting the top-left grain
    p[60:80, 70] = 0.9                  # a strong spur hanging from nothing
    return p.astype(np.float32)


def test_watershed_boundaries_close_gaps_drop_weak_edges_and_spurs():
    from napari_srmat.edges.thresholds import watershed_boundaries

    p = _ridge_map()
    b = watershed_boundaries(p, 0.5)
    # closed, one-pixel boundaries along the cross, gap included
    assert b[46:50, 2:94].any(axis=0).all() and b[2:94, 46:50].any(axis=1).all()
    assert b[20:26, 46:50].any(axis=1).all()
    assert b.sum() < 1.3 * 2 * 96
    # the weak ridge (mean 0.3 < 0.5) merges its two basins; the spur separates nothing
    assert not b[5:40, 18:23].any() and not b[62:78, 68:73].any()
    # with a threshold below the weak ridge's mean it becomes a boundary
    assert watershed_boundaries(p, 0.2)[5:40, 18:23].any(axis=1).all()
    # nothing to separate in a flat map
    assert not watershed_boundaries(np.full((32, 32), 0.1, np.float32), 0.5).any()
    # the rule: threshold c * Otsu, minima depth h
    from napari_srmat.edges.thresholds import _otsu

    params = {"c": 1.0, "h": 0.05}
    assert np.array_equal(apply_threshold_rule("watershed", p, params),
                          watershed_boundaries(p, _otsu(p), h=0.05))
    # a plain threshold keeps the gap and the spur
    t = p >= 0.5
    assert not t[20:26, 46:50].any() and t[62:78, 70].all()


def test_topology_follows_contrast_and_finds_the_boundaries():
    p, thin = _gappy_map(n_gaps=0)
    params = {"w": 2.0, "c": 1.0}
    t1 = image_threshold("topology", p, params)
    t_scaled = image_threshold("topology", 0.7 * p, params)
    assert t_scaled == pytest.approx(0.7 * t1, abs=0.026)  # one grid step
    # at its threshold the network is closed and l is the truth's within 5 %
    b = apply_threshold_rule("topology", p, params)
    assert boundary_continuity(b)["endpoints_per_100px"] < 0.5
    assert mean_intercept(b) == pytest.approx(mean_intercept(thin), rel=0.05)


def test_curve_rules_are_deterministic():
    p, _ = _gappy_map()
    for name, params in (("topology", {"w": 1.0, "c": 1.2}), ("stable", {"lo": 0.2,
                                                                          "width": 0.3})):
        clear_curve_cache()
        a = image_threshold(name, p, params)
        b = image_threshold(name, p.copy(), params)  # from the cache
        clear_curve_cache()
        assert a == b == image_threshold(name, p, params)
        assert np.array_equal(apply_threshold_rule(name, p, params),
                              apply_threshold_rule(name, p, params))
    # stable stays inside its band
    t = image_threshold("stable", p, {"lo": 0.3, "width": 0.2})
    assert 0.3 - 1e-9 <= t <= 0.5 + 1e-9
    for name, params in (("bridge", {"c": 1.0, "f": 0.5, "r": 3}), ("prune", {"c": 1.0,
                                                                              "k": 3})):
        assert np.array_equal(apply_threshold_rule(name, p, params),
                              apply_threshold_rule(name, p, params))


# ---------------------------------------------------------------- BoundaryModel option
def _save_tiny(path, **extra):
    import torch

    from napari_srmat.checkpoint import save_checkpoint
    from napari_srmat.edges.model import UAEDNet, default_arch_config

    torch.manual_seed(0)
    save_checkpoint(path, UAEDNet("tiny").state_dict(), {**default_arch_config("tiny"), **extra})


def test_model_threshold_rule_default_unchanged(tmp_path):
    from napari_srmat.edges.infer import load_boundary_model

    _save_tiny(tmp_path / "ck", threshold=0.37)
    m = load_boundary_model(tmp_path / "ck", device="cpu")
    assert m.threshold_rule == "global" and m.threshold_params == {"threshold": 0.37}
    p = np.random.default_rng(0).random((32, 32)).astype(np.float32)
    assert np.array_equal(m.binarize(p), p >= 0.37)
    assert m.image_threshold(p) == pytest.approx(0.37)


def test_model_threshold_rule_option(tmp_path):
    from skimage.filters import threshold_otsu

    from napari_srmat.checkpoint import CheckpointError
    from napari_srmat.edges.infer import load_boundary_model

    probs, _ = _maps(1, scales=(0.7,))
    p = probs[0]
    _save_tiny(tmp_path / "ck", threshold=0.5,
               threshold_rules={"none": {"otsu_scaled": {"c": 1.2}}})
    m = load_boundary_model(tmp_path / "ck", device="cpu", threshold_rule="otsu_scaled")
    t = 1.2 * threshold_otsu(p, nbins=256)
    assert m.image_threshold(p) == pytest.approx(t, abs=1e-6)
    assert np.array_equal(m.binarize(p), p >= m.image_threshold(p))
    # given parameters win over the stored ones
    m2 = load_boundary_model(tmp_path / "ck", device="cpu", threshold_rule="otsu_scaled",
                             threshold_params={"c": 0.8})
    assert m2.image_threshold(p) < m.image_threshold(p)
    # a rule without calibrated parameters (here: for tta d4) is refused
    with pytest.raises(CheckpointError, match="no calibrated parameters"):
        load_boundary_model(tmp_path / "ck", device="cpu", tta="d4", threshold_rule="otsu_scaled")
    with pytest.raises(ValueError, match="threshold_rule must be one of"):
        load_boundary_model(tmp_path / "ck", device="cpu", threshold_rule="magic")
    _save_tiny(tmp_path / "bad", threshold_rules={"none": [1, 2]})
    with pytest.raises(CheckpointError, match="threshold_rules"):
        load_boundary_model(tmp_path / "bad", device="cpu")


def test_a_rule_without_calibrated_parameters_is_refused_in_each_callers_words(tmp_path,
                                                                               capsys):
    """A Python caller is told the function that fits the parameters, an srmat command
    the export command and the flags (the refusal told everyone the command before)."""
    from PIL import Image

    from napari_srmat.checkpoint import CheckpointError
    from napari_srmat.cli import main
    from napari_srmat.edges.infer import load_boundary_model

    _save_tiny(tmp_path / "ck", threshold=0.5,
               threshold_rules={"none": {"otsu_scaled": {"c": 1.2}}})
    with pytest.raises(CheckpointError) as info:
        load_boundary_model(tmp_path / "ck", device="cpu", tta="d4", threshold_rule="otsu_scaled")
    msg = str(info.value)
    assert "with tta='d4'; pass threshold_params, or fit them with " in msg
    assert "calibrate_thresholds(checkpoint, val_root, rules=('otsu_scaled',))" in msg
    assert "--" not in msg and "python -m" not in msg
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "a.png")
    rc = main(["edges", "predict", str(tmp_path / "a.png"), "--out", str(tmp_path / "out"),
               "--checkpoint", str(tmp_path / "ck"), "--tta", "d4",
               "--threshold-rule", "otsu_scaled", "--device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and "Traceback" not in err
    assert err.startswith("srmat edges predict: error: checkpoint ")
    assert err.endswith("with --tta d4; choose another --threshold-rule, or fit them with "
                        "python -m napari_srmat.edges.export SRC DST --calibrate VAL_ROOT "
                        "--threshold-rules otsu_scaled")
    assert not (tmp_path / "out").exists()


def test_export_calibrates_rule_parameters(tmp_path, capsys):
    from PIL import Image

    from napari_srmat.edges.export import calibrate_thresholds
    from napari_srmat.edges.export import main as export_main
    from napari_srmat.edges.infer import load_boundary_model

    rng = np.random.default_rng(0)
    (tmp_path / "val" / "images").mkdir(parents=True)
    (tmp_path / "val" / "masks").mkdir(parents=True)
    _, masks = _maps(2, size=64)
    for i, m in enumerate(masks):
        img = (rng.random((64, 64, 3)) * 60).astype(np.uint8) + (m[..., None] * 150).astype(
            np.uint8)
        Image.fromarray(img).save(tmp_path / "val" / "images" / f"{i}.png")
        Image.fromarray((m * 255).astype(np.uint8)).save(tmp_path / "val" / "masks" / f"{i}.png")
    _save_tiny(tmp_path / "ck")
    keys = calibrate_thresholds(tmp_path / "ck", tmp_path / "val", modes=("none",),
                                rules=("otsu_scaled", "quantile"))
    assert set(keys["threshold_rules"]["none"]) == {"otsu_scaled", "quantile"}
    assert "2 labelled image(s)" in keys["warnings"][0]  # two fields: too few
    assert "warnings" not in json.loads((tmp_path / "ck" / "config.json").read_text())
    assert export_main([str(tmp_path / "ck"), str(tmp_path / "ck"), "--calibrate",
                        str(tmp_path / "val"), "--tta", "none"]) == 0
    assert "warning: calibrated on 2 labelled image(s)" in capsys.readouterr().err
    m = load_boundary_model(tmp_path / "ck", device="cpu", threshold_rule="quantile")
    assert m.threshold_params == keys["threshold_rules"]["none"]["quantile"]
    for name in ("images", "masks"):  # a third labelled field: no warning
        (tmp_path / "val" / name / "2.png").write_bytes(
            (tmp_path / "val" / name / "0.png").read_bytes())
    assert "warnings" not in calibrate_thresholds(tmp_path / "ck", tmp_path / "val",
                                                  modes=("none",))
    with pytest.raises(ValueError, match="unknown threshold rule"):
        calibrate_thresholds(tmp_path / "ck", tmp_path / "val", modes=("none",), rules=("x",))


def test_shipped_operating_point_is_the_default():
    """The shipped checkpoint stores the default rule's parameters for both TTA modes, and
    load_boundary_model() uses DEFAULT_THRESHOLD_RULE with DEFAULT_TTA."""
    from napari_srmat.edges.infer import (
        DEFAULT_THRESHOLD_RULE,
        DEFAULT_TTA,
        default_checkpoint_path,
        load_boundary_model,
    )

    cfg = json.loads((default_checkpoint_path() / "config.json").read_text())
    assert cfg["tta"] == cfg["threshold_tta"] == DEFAULT_TTA
    for mode in ("none", "d4"):
        assert DEFAULT_THRESHOLD_RULE in cfg["threshold_rules"][mode]
    m = load_boundary_model(device="cpu")
    assert (m.threshold_rule, m.tta) == (DEFAULT_THRESHOLD_RULE, DEFAULT_TTA)
    assert m.threshold_params == cfg["threshold_rules"][DEFAULT_TTA][DEFAULT_THRESHOLD_RULE]
    m.tta = "d4"  # the rule follows the mode's own calibration
    assert m.threshold_params == cfg["threshold_rules"]["d4"][DEFAULT_THRESHOLD_RULE]
    # overrides
    g = load_boundary_model(device="cpu", tta="d4", threshold_rule="global")
    assert (g.threshold_rule, g.tta) == ("global", "d4")
    assert g.threshold_params == {"threshold": cfg["threshold_d4"]}


def test_export_recalibrates_in_place_without_touching_the_weights(tmp_path):
    import hashlib

    from PIL import Image

    from napari_srmat.edges.export import main as export_main

    rng = np.random.default_rng(1)
    val = tmp_path / "val"
    (val / "images").mkdir(parents=True)
    (val / "masks").mkdir(parents=True)
    _, masks = _maps(2, size=64)
    for i, m in enumerate(masks):
        img = (rng.random((64, 64, 3)) * 60).astype(np.uint8) + (m[..., None] * 150).astype(
            np.uint8)
        Image.fromarray(img).save(val / "images" / f"{i}.png")
        Image.fromarray((m * 255).astype(np.uint8)).save(val / "masks" / f"{i}.png")
    ck = tmp_path / "ck"
    _save_tiny(ck)
    digest = hashlib.sha256((ck / "model.safetensors").read_bytes()).hexdigest()
    assert export_main([str(ck), str(ck), "--calibrate", str(val),
                        "--threshold-rules", "otsu_scaled"]) == 0
    assert hashlib.sha256((ck / "model.safetensors").read_bytes()).hexdigest() == digest
    cfg = json.loads((ck / "config.json").read_text())
    assert set(cfg["threshold_rules"]) == {"none", "d4"} and cfg["tta"] == "none"
    with pytest.raises(SystemExit):  # in place is only a recalibration
        export_main([str(ck), str(ck), "--fp16", "--calibrate", str(val)])


def test_export_refuses_a_destination_named_like_an_image(tmp_path, capsys):
    """`python -m napari_srmat.edges.export SRC DST.png` wrote a checkpoint folder named
    like an image (its staging, .DST.png.*.partial, passed save_checkpoint's rule): it
    is refused in one line, exit 2, nothing written (outputs.check_folder_name)."""
    from napari_srmat.edges.export import main as export_main

    ck = tmp_path / "ck"
    _save_tiny(ck)
    assert export_main([str(ck), str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the output is a folder, not a PNG file" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


# ------------------------------------------------------------- BoundaryThresholds
def test_boundary_thresholds_round_trip_shipped_config():
    """The shipped config.json loads unchanged and writes back the same keys (issue 17)."""
    from napari_srmat.edges.infer import default_checkpoint_path
    from napari_srmat.edges.thresholds import BoundaryThresholds

    raw = (default_checkpoint_path() / "config.json").read_bytes()
    cfg = json.loads(raw)
    t = BoundaryThresholds.from_config(cfg)
    out = t.to_config()
    assert {**cfg, **out} == cfg  # every key written is the stored one, value for value
    assert json.dumps({**cfg, **out}, indent=2, sort_keys=True).encode() == raw
    assert BoundaryThresholds.from_config(out) == t
    keys = {"threshold", "threshold_tta", "threshold_none", "threshold_d4", "threshold_heyn",
            "threshold_rules", "error_model", "tta"}
    assert set(out) == keys & set(cfg)
    assert t.max_f1("none") == cfg["threshold"] and t.max_f1("d4") == cfg["threshold_d4"]
    assert t.heyn_threshold(t.threshold_tta) == cfg["threshold_heyn"]
    assert t.rule_params("d4") == cfg["threshold_rules"]["d4"]
    assert BoundaryThresholds.from_config({}).to_config() == {}


def test_boundary_model_reads_typed_thresholds(tmp_path):
    from napari_srmat.edges.infer import load_boundary_model

    _save_tiny(tmp_path / "ck", threshold=0.4, threshold_tta="none", threshold_d4=0.45,
               threshold_heyn=0.3, threshold_rules={"d4": {"otsu_scaled": {"c": 1.1}}})
    m = load_boundary_model(tmp_path / "ck", device="cpu")
    assert m.thresholds.max_f1("d4") == 0.45 and m.threshold == 0.4
    assert m.heyn_threshold == 0.3 and m.threshold_rule == "global"
    m.tta = "d4"
    assert m.threshold == 0.45 and m.heyn_threshold is None
    assert m.threshold_rule == "otsu_scaled" and m.threshold_params == {"c": 1.1}


@pytest.mark.parametrize("bad, match", [
    ({"threshold": 1.5}, r"'threshold' must be a number in \[0, 1\], got 1.5"),
    ({"threshold_d4": "high"}, r"'threshold_d4' must be a number in \[0, 1\]"),
    ({"threshold_heyn": float("nan")}, r"'threshold_heyn' must be a number"),
    ({"threshold_tta": "d8"}, r"'threshold_tta' must be one of \('none', 'd4'\)"),
    ({"tta": "d8"}, r"'tta' must be one of"),
    ({"threshold_rules": {"none": [1, 2]}}, "'threshold_rules' must map a tta mode"),
    ({"error_model": {"d8": {}}}, "'error_model' must map a tta mode"),
    ({"threshold_heyn": None}, r"'threshold_heyn' must be a number in \[0, 1\], got None"),
    ({"threshold_rules": None}, "'threshold_rules' must be given a value"),
])
def test_boundary_thresholds_refuse_bad_config(bad, match):
    from napari_srmat.checkpoint import CheckpointError
    from napari_srmat.edges.thresholds import BoundaryThresholds

    with pytest.raises(CheckpointError, match="checkpoint CK: config.json " + match):
        BoundaryThresholds.from_config({"threshold": 0.5, **bad}, source="CK")
