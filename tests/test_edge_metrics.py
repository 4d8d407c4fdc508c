"""Streaming edge metrics against an independent exact computation."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from _helpers import EVAL_MAPS_KEYS, fake_predictions

from napari_srmat.io import as_bool_mask
from napari_srmat.metrics.edges import (
    EdgeHistogram,
    EdgeMetricsError,
    binarize_boundaries,
    evaluate_maps,
    plot_pr_roc,
)


def exact_ap(scores: np.ndarray, labels: np.ndarray) -> float:
    """sklearn's average_precision_score, written out: sort, group ties, step-sum."""
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order].astype(float)
    distinct = np.flatnonzero(np.diff(s)) if s.size > 1 else np.array([], int)
    last = np.r_[distinct, s.size - 1]  # last index of each tie group (desc threshold)
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    precision = tp / (tp + fp)
    recall = tp / y.sum()
    return float(np.sum(np.diff(np.r_[0, recall]) * precision))


def exact_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mann-Whitney U: P(score_pos > score_neg) + 0.5 P(tie)."""
    pos, neg = scores[labels], scores[~labels]
    neg_sorted = np.sort(neg)
    less = np.searchsorted(neg_sorted, pos, side="left")
    leq = np.searchsorted(neg_sorted, pos, side="right")
    return float((less + 0.5 * (leq - less)).sum() / (pos.size * neg.size))


@pytest.fixture
def scored():
    rng = np.random.default_rng(42)
    labels = rng.random(30_000) < 0.15
    scores = np.clip(rng.normal(0.3 + 0.35 * labels, 0.18), 0, 1)
    return scores.reshape(150, 200), labels.reshape(150, 200)


@pytest.mark.parametrize("n_bins", [16, 100, 1024])
def test_ap_auc_exact_on_quantized_scores(scored, n_bins):
    scores, labels = scored
    h = EdgeHistogram(n_bins).update(scores, labels)
    q = h.bin_index(scores).ravel().astype(float)  # what the histogram sees
    assert h.average_precision() == pytest.approx(exact_ap(q, labels.ravel()), abs=1e-12)
    assert h.roc_auc() == pytest.approx(exact_auc(q, labels.ravel()), abs=1e-12)


def test_fine_bins_approach_raw_scores(scored):
    scores, labels = scored
    h = EdgeHistogram(4096).update(scores, labels)
    assert h.average_precision() == pytest.approx(
        exact_ap(scores.ravel(), labels.ravel()), abs=2e-3
    )
    assert h.roc_auc() == pytest.approx(exact_auc(scores.ravel(), labels.ravel()), abs=1e-3)


@pytest.mark.parametrize("n_bins", [2.7, 2.5, "12", True, float("nan")])
def test_non_integer_bins_are_refused_not_truncated(n_bins):
    """check_n_bins took int(n_bins): 2.7 became 2 bins and the text "12" was accepted,
    unlike every other integer option (napari_srmat.errors.check_number, integer=True)."""
    from napari_srmat.metrics.edges import check_n_bins

    msg = "n_bins must be an integer in [2, 1048576], got "
    with pytest.raises(EdgeMetricsError, match=re.escape(msg)):
        check_n_bins(n_bins)
    with pytest.raises(EdgeMetricsError, match=re.escape(msg)):
        EdgeHistogram(n_bins)


def test_integral_bins_pass_as_int():
    from napari_srmat.metrics.edges import check_n_bins

    for value in (12, 12.0, np.int64(12), np.float32(12)):
        n = check_n_bins(value)
        assert n == 12 and type(n) is int
    assert EdgeHistogram(np.int64(3)).pos.shape == (3,)


def test_bins_match_threshold_comparison_exactly():
    h = EdgeHistogram(10)  # not a power of two: p * n is inexact for some p
    p = np.array([0.3, 0.29999999999999993, 0.7, 0.6999999999999998, 1.0, 0.0, 0.1])
    idx = h.bin_index(p)
    for k in range(10):
        assert np.array_equal(idx >= k, p >= k / 10), k


def test_best_f1_and_f1_at_match_brute_force(scored):
    scores, labels = scored
    h = EdgeHistogram(64).update(scores, labels)
    t, f1 = h.best_f1()
    brute = []
    for k in range(64):
        pred = scores >= k / 64
        tp = np.sum(pred & labels)
        fp = np.sum(pred & ~labels)
        fn = np.sum(~pred & labels)
        brute.append(2 * tp / (2 * tp + fp + fn))
    assert f1 == pytest.approx(max(brute))
    assert t == pytest.approx(int(np.argmax(brute)) / 64)
    assert h.f1_at(t) == pytest.approx(f1)
    b = binarize_boundaries(scores, t, skeletonize=False)
    s = h.scores_at(t)
    assert s["precision"] == pytest.approx(np.sum(b & labels) / b.sum())
    assert s["recall"] == pytest.approx(np.sum(b & labels) / labels.sum())


def test_streaming_equals_one_shot_and_dask(scored):
    import dask.array as da

    scores, labels = scored
    whole = EdgeHistogram(128).update(scores, labels)
    parts = EdgeHistogram(128)
    for i in range(0, 150, 40):
        parts.update(scores[i : i + 40], labels[i : i + 40])
    lazy = EdgeHistogram(128).update(da.from_array(scores, chunks=(37, 61)), labels)
    for h in (parts, lazy):
        assert np.array_equal(h.pos, whole.pos) and np.array_equal(h.neg, whole.neg)
    merged = EdgeHistogram(128).merge(parts)
    assert merged.average_precision() == whole.average_precision()


def test_dask_colour_masks_binarised_like_in_memory(scored):
    """A lazy (Dask) map or mask took a colour mask's first channel only: green or blue
    annotations (RGB, RGBA) were counted as no boundary at all. Each block is now
    binarised by ``as_bool_mask`` (alpha dropped, any colour channel), as in memory."""
    import dask.array as da

    scores, labels = scored
    whole = EdgeHistogram(64).update(scores, labels)
    for channel, n_channels in ((1, 3), (2, 4)):
        colour = np.zeros(labels.shape + (n_channels,), np.uint8)
        colour[labels, channel] = 255
        if n_channels == 4:
            colour[..., 3] = 255  # opaque everywhere
        for mask in (colour, da.from_array(colour, chunks=(40, 50, n_channels))):
            h = EdgeHistogram(64).update(da.from_array(scores, chunks=(37, 61)), mask)
            assert np.array_equal(h.pos, whole.pos) and np.array_equal(h.neg, whole.neg)
    with pytest.raises(EdgeMetricsError, match="differ in shape"):
        EdgeHistogram(8).update(da.from_array(scores), colour[:10])


def test_curves_are_monotone_and_complete(scored):
    scores, labels = scored
    h = EdgeHistogram(256).update(scores, labels)
    p, r, t = h.pr_curve()
    assert np.all(np.diff(t) < 0) and np.all(np.diff(r) >= 0) and r[-1] == pytest.approx(1.0)
    fpr, tpr, thr = h.roc_curve()
    assert (fpr[0], tpr[0]) == (0.0, 0.0) and (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)


def test_uint8_masks_and_maps():
    m = np.zeros((20, 20), np.uint8)
    m[:, 10] = 255
    assert as_bool_mask(m).sum() == 20
    assert as_bool_mask(m // 255).sum() == 20
    prob = (m // 255 * 200).astype(np.uint8)  # uint8 probabilities: 200/255
    h = EdgeHistogram(32).update(prob, m)
    assert h.average_precision() == 1.0 and h.roc_auc() == 1.0


def test_errors():
    h = EdgeHistogram(8)
    with pytest.raises(EdgeMetricsError, match="shape"):
        h.update(np.zeros((3, 3)), np.zeros((3, 4)))
    with pytest.raises(EdgeMetricsError, match="positive"):
        h.update(np.zeros((3, 3)), np.zeros((3, 3))).average_precision()
    with pytest.raises(EdgeMetricsError, match="threshold"):
        h.f1_at(1.5)
    with pytest.raises(EdgeMetricsError):
        EdgeHistogram(1)
    # found by a bad-input sweep: None was "'<=' not supported between ... 'NoneType'"
    for bad in (None, "0.5", float("nan"), 1.5):
        with pytest.raises(EdgeMetricsError, match="threshold must be a number in"):
            binarize_boundaries(np.zeros((4, 4)), bad)
    assert binarize_boundaries(np.eye(4), np.float32(0.5), skeletonize=False).sum() == 4


def test_evaluate_maps_keys_threshold_selection_and_heyn():
    probs, masks = fake_predictions(3)
    vprobs, vmasks = fake_predictions(2, seed=1)
    res = evaluate_maps(probs, masks, val_prob_maps=vprobs, val_masks=vmasks, n_lines=30)
    for key in EVAL_MAPS_KEYS:
        assert key in res, key
    vh = EdgeHistogram(1024)
    for p, m in zip(vprobs, vmasks):
        vh.update(p, m)
    assert res["threshold"] == pytest.approx(vh.best_f1()[0])
    assert res["threshold_source"].startswith("validation")
    assert res["n_images"] == 3 and len(res["per_image"]) == 3
    json.dumps(res)  # plain result is JSON-serialisable
    assert res["ap"] > 0.9 and res["heyn_error_pct"] < 10
    gts = [r["heyn_gt_px"] for r in res["per_image"]]
    assert res["heyn_gt_px"] == pytest.approx(np.mean(gts))
    fixed = evaluate_maps(probs, masks, threshold=0.9)
    assert fixed["threshold"] == 0.9 and fixed["threshold_source"] == "given"
    own = evaluate_maps(probs, masks)
    assert own["f1"] >= fixed["f1"]
    with pytest.raises(EdgeMetricsError, match="differ in shape"):
        evaluate_maps([probs[0]], [masks[0][:-1]])


def test_plot_pr_roc_writes_png(tmp_path, scored):
    scores, labels = scored
    h = EdgeHistogram(64).update(scores, labels)
    out = plot_pr_roc(
        {"a": h, "b": EdgeHistogram(64).update(scores**2, labels)}, tmp_path / "c.png"
    )
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert not list(tmp_path.glob(".*tmp*"))


def test_drawn_pr_curve_is_the_curve_whose_area_is_the_ap(scored):
    """The PR curve was drawn as a post-step over ascending recall: each point's
    precision was held up to the next point's recall (precision 1.0 up to recall 1.0
    where only 0.67 is reached there), and nothing was drawn below the first recall. It
    now holds each precision over the recall that point adds, from recall 0, so the
    area under the drawn line is the AP the legend states; the ROC line is the curve."""
    from matplotlib.figure import Figure

    from napari_srmat.metrics.edges import _draw_curves

    small = EdgeHistogram(4).update(np.array([[0.9, 0.6, 0.6, 0.1]]), np.array([[1, 1, 0, 0]]))
    scores, labels = scored
    for h in (small, EdgeHistogram(64).update(scores, labels)):
        fig = Figure()
        pr, roc = fig.add_subplot(121), fig.add_subplot(122)
        _draw_curves(pr, {"m": h}, "pr")
        _draw_curves(roc, {"m": h}, "roc")
        x, y = pr.lines[0].get_xydata().T
        assert pr.lines[0].get_drawstyle() == "default" and x[0] == 0.0
        assert np.trapezoid(y, x) == pytest.approx(h.average_precision(), abs=1e-12)
        fx, fy = roc.lines[0].get_xydata().T
        assert np.trapezoid(fy, fx) == pytest.approx(h.roc_auc(), abs=1e-12)
    fig = Figure()
    ax = fig.add_subplot()
    _draw_curves(ax, {"m": small}, "pr")
    x, y = ax.lines[0].get_xydata().T
    # recall 0.5 at precision 1, recall 1 at precision 2/3 at best: nothing above that
    assert np.all(y[x > 0.5] <= 2 / 3 + 1e-12)


def test_evaluate_maps_masks_without_boundaries_say_which():
    # both failed with "no boundary (positive) pixels were accumulated", which named
    # neither the test nor the validation masks
    rng = np.random.default_rng(0)
    prob = [rng.random((20, 20)) for _ in range(2)]
    good = [rng.random((20, 20)) > 0.8 for _ in range(2)]
    empty = [np.zeros((20, 20), bool) for _ in range(2)]
    with pytest.raises(EdgeMetricsError, match="ground-truth masks .* no boundary"):
        evaluate_maps(prob, empty)
    with pytest.raises(EdgeMetricsError, match="ground-truth masks .* no boundary"):
        evaluate_maps(prob, empty, threshold=0.5)
    with pytest.raises(EdgeMetricsError, match="validation masks .* no boundary"):
        evaluate_maps(prob, good, val_prob_maps=prob, val_masks=empty)


def test_validation_maps_of_misread_values_are_refused_naming_the_file(tmp_path, capsys):
    """A validation map of 8-bit values in an int64 TIFF (or floats in 0..255) chose the
    threshold silently (int64: every pixel read as ~0, threshold 0, F1 0.37, exit 0):
    the histogram now applies the float rule, as binarize_boundaries does, and
    `srmat eval-maps` names the file."""
    import tifffile
    from PIL import Image

    from napari_srmat.cli import main

    probs, masks = fake_predictions(2, size=96)
    for bad in (np.round(probs[1] * 255).astype(np.int64), probs[1] * 255.0):
        with pytest.raises(ValueError, match="0..255"):
            EdgeHistogram().update(bad, masks[1])
        with pytest.raises(ValueError, match="0..255"):
            evaluate_maps([probs[0]], [masks[0]], val_prob_maps=[bad], val_masks=[masks[1]])
    ok = evaluate_maps([probs[0]], [masks[0]], val_prob_maps=[probs[1]], val_masks=[masks[1]])
    assert 0 < ok["threshold"] < 1
    for split, i in (("test", 0), ("val", 1)):
        (tmp_path / split / "prob").mkdir(parents=True)
        (tmp_path / split / "masks").mkdir()
        Image.fromarray((masks[i] > 0).astype(np.uint8) * 255).save(
            tmp_path / split / "masks" / "a.png")
        tifffile.imwrite(tmp_path / split / "prob" / "a.tif",
                         np.round(probs[i] * 255).astype(np.int64 if split == "val" else np.uint8))
    argv = ["eval-maps", "--prob", str(tmp_path / "test" / "prob"),
            "--masks", str(tmp_path / "test" / "masks"),
            "--val-prob", str(tmp_path / "val" / "prob"),
            "--val-masks", str(tmp_path / "val" / "masks")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "0..255" in err
    assert str(tmp_path / "val" / "prob" / "a.tif") in err


@pytest.mark.parametrize("shape", [(0, 0), (0, 5), (5, 0), (0, 0, 1)])
def test_an_empty_probability_map_is_refused_by_binarize_boundaries(shape):
    """Found by a bad-input hunt: a 0 x 0 map gave back an empty mask without a word
    (nothing binarized, nothing said). The map's check (its shape) refuses it."""
    with pytest.raises(EdgeMetricsError) as info:
        binarize_boundaries(np.zeros(shape, np.float32), 0.5)
    message = str(info.value)
    assert "\n" not in message
    assert "no pixels" in message and str(shape) in message


@pytest.mark.parametrize("nan_fraction", [1.0, 0.25])
def test_evaluate_maps_names_a_map_with_nan_values(nan_fraction):
    # an all-NaN map was refused as "the ground-truth masks (1) have no boundary
    # pixels" (its pixels were dropped from the histogram), a partly NaN one by
    # binarize_boundaries' "prob has NaN ..." naming no image, after the histograms
    rng = np.random.default_rng(0)
    gt = rng.random((20, 20)) > 0.8
    prob = rng.random((20, 20))
    prob.ravel()[: int(nan_fraction * prob.size)] = np.nan
    with pytest.raises(EdgeMetricsError, match=r"^b: probability map has NaN or Inf"):
        evaluate_maps([rng.random((20, 20)), prob], [gt, gt], names=["a", "b"])


def test_evaluate_maps_lists_its_keywords_and_names_itself_for_a_misspelt_one():
    import inspect

    params = inspect.signature(evaluate_maps).parameters
    assert {"threshold", "val_prob_maps", "names", "stop", "return_histogram"} <= set(params)
    rng = np.random.default_rng(0)
    p, m = rng.random((20, 20)), rng.random((20, 20)) > 0.8
    # was "evaluate_maps_job() got an unexpected keyword argument 'treshold'"
    with pytest.raises(TypeError, match=r"^evaluate_maps\(\) got an unexpected keyword "
                                        r"argument 'treshold' \(did you mean 'threshold'\?\)"):
        evaluate_maps([p], [m], treshold=0.5)
    assert evaluate_maps([p], [m], threshold=0.5, return_histogram=True)["_histogram"].n_pos
