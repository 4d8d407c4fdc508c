"""Does the uncertainty map point at the model's pixel errors? (issue 12, part 5)

Out-of-fold maps of the 5-fold leave-scan-out cross-validation on tbm/train+val
(``benchmarks/cv_uaed.py``; every map comes from a model that never saw its scan).
For each fold k the threshold t_k is the fold's cross-fitted ``global`` threshold
(``benchmarks/cv_uaed.json``) and the error model is fitted on the out-of-fold maps
of the *other* folds only (cross-fitting), then applied to fold k.

Definitions: pixel error = ``(p > t_k) != mask``, every pixel scored; an uncertainty
map is scored by the ROC-AUC of "this pixel is an error" (ties count one half) and,
when it is a probability, by the ECE over ``ECE_BINS`` equal-width bins.

Scores compared: (a) the network's sigma, (b) ``-|p - t|``, (c) the naive error
probability ``p`` implies (``1 - p`` on predicted boundary, else ``p``), (d) the error
models of ``napari_srmat.edges.uncertainty`` with several feature sets (main arm: the
shipped default features). Main variant: ``plain`` training, TTA none (the recommended
operating arm); ``plain`` with TTA d4 and ``augment`` are reported too, and ``plain``
with the per-image ``otsu_scaled`` operating point (same error models: they do not
depend on the threshold).

    OMP_NUM_THREADS=1 python studies/uncertainty_error_detection.py [--cv DIR] [--quick]

Writes studies/results/uncertainty_error_detection.json and
docs/images/uncertainty_reliability.png.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from _common import DATA, ROOT, SPLITS, save

CV_DEFAULT = ROOT.parent / "wt-cv" / "out" / "cv_uaed"
FIGURE = ROOT / "docs" / "images" / "uncertainty_reliability.png"
MAIN = ("plain", "none")
#: Width of the probability bands just below / above the threshold in the diagnostics.
BAND = 0.02
#: Bins of the in-sample look-up-table ceilings (p, and the D4 disagreement).
CEILING_P_BINS, CEILING_X_BINS = 256, 16
#: Reliability bins with fewer pixels are not drawn (they are in the JSON with their counts).
MIN_BIN_PIXELS = 1000
#: Feature sets compared (name -> feature groups); "default" is the shipped one.
ARMS = {
    "default": None,  # napari_srmat.edges.uncertainty.DEFAULT_FEATURES
    "logit+context": ("logit", "ridge", "smooth"),
    "logit+context+sigma": ("logit", "ridge", "smooth", "sigma"),
    "logit+context+tta": ("logit", "ridge", "smooth", "tta"),
}


def _mask_path(name: str) -> Path:
    hits = [DATA / s / "masks" / f"{name}.png" for s in SPLITS
            if (DATA / s / "masks" / f"{name}.png").is_file()]
    if len(hits) != 1:
        raise SystemExit(f"mask of {name} not found once in tbm/{SPLITS}: {hits}")
    return hits[0]


def load_variant(cv: Path, variant: str, tta: str, folds: list[list[str]], limit=None,
                 rule: str = "global"):
    """Per image: name, fold, prob, sigma, |p_d4 - p_none|, threshold, mask.

    The threshold is the fold's cross-fitted threshold of ``rule`` for that image
    (``global``: one per fold; ``otsu_scaled``: one per image).
    """
    from napari_srmat.edges.thresholds import image_threshold
    from napari_srmat.io import read_mask
    from napari_srmat.metrics.grainmap import as_bool_mask

    bench = json.loads((ROOT / "benchmarks" / "cv_uaed.json").read_text())
    params = bench["results"][f"{variant}/{tta}"]["rules"][rule]["params_per_fold"]
    rows = []
    for k in range(len(folds)):
        z = np.load(cv / variant / f"fold-{k}" / "oof.npz")
        names = [str(n) for n in z["names"]]
        if sorted(names) != sorted(folds[k]):
            raise SystemExit(f"{variant} fold {k}: names differ from folds.json")
        for i, n in enumerate(names[:limit]):
            prob = np.asarray(z[f"prob_{tta}"][i], np.float32)
            rows.append({"name": n, "fold": k,
                         "t": float(image_threshold(rule, prob, params[k])),
                         "prob": prob,
                         "sigma": np.asarray(z[f"sigma_{tta}"][i], np.float32),
                         "tta": np.abs(z["prob_d4"][i].astype(np.float32)
                                       - z["prob_none"][i].astype(np.float32)),
                         "mask": as_bool_mask(read_mask(_mask_path(n)))})
    return rows


def _spread(values) -> dict:
    v = np.asarray(values, float)
    return {"per_fold": [round(float(x), 4) for x in v], "mean": round(float(v.mean()), 4),
            "std": round(float(v.std(ddof=1)), 4), "min": round(float(v.min()), 4),
            "max": round(float(v.max()), 4)}


def roc_points(score: np.ndarray, y: np.ndarray, n: int = 400):
    """(fpr, tpr) at ``n`` score quantiles (for the figure only)."""
    order = np.argsort(-score, kind="stable")
    s, yy = score[order], y[order]
    tp = np.cumsum(yy)
    fp = np.cumsum(~yy)
    last = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1]  # end of each tie group
    pick = last[np.unique(np.linspace(0, last.size - 1, n).astype(int))]
    return np.r_[0, fp[pick] / fp[-1]], np.r_[0, tp[pick] / tp[-1]]


def _quantile_bins(x: np.ndarray, n: int) -> np.ndarray:
    edges = np.unique(np.quantile(x, np.linspace(0, 1, n + 1)[1:-1]))
    return np.searchsorted(edges, x, side="right")


def _table_score(key: np.ndarray, y: np.ndarray) -> np.ndarray:
    """In-sample error frequency of each pixel's table cell."""
    n = np.bincount(key)
    return (np.bincount(key, y.astype(np.float64)) / np.maximum(n, 1))[key]


def evaluate(rows, n_folds: int, arms: dict) -> tuple[dict, dict]:
    from napari_srmat.edges import uncertainty as U

    fold = np.concatenate([np.full(r["prob"].size, r["fold"]) for r in rows])
    p = np.concatenate([r["prob"].ravel() for r in rows])
    t = np.concatenate([np.full(r["prob"].size, r["t"]) for r in rows])
    pred = p > t
    y = pred != np.concatenate([r["mask"].ravel() for r in rows])
    scores = {"sigma": np.concatenate([r["sigma"].ravel() for r in rows]).astype(np.float64),
              "abs_p_minus_t": -np.abs(p.astype(np.float64) - t),
              "naive": U.naive_error_probability(p, predicted=pred)}
    params, fit_s = {}, {}
    for arm, feats in arms.items():
        feats = U.DEFAULT_FEATURES if feats is None else feats
        maps = {}
        params[arm], fit_s[arm] = [], []
        for k in range(n_folds):
            cal = [r for r in rows if r["fold"] != k]
            t0 = time.process_time()
            prm = U.fit_error_model([r["prob"] for r in cal], [r["mask"] for r in cal],
                                    [r["t"] for r in cal], features=feats,
                                    sigmas=[r["sigma"] for r in cal],
                                    tta_disagreements=[r["tta"] for r in cal])
            fit_s[arm].append(time.process_time() - t0)
            params[arm].append(prm)
            for i, r in enumerate(rows):
                if r["fold"] == k:
                    maps[i] = U.error_probability(r["prob"], prm, predicted=r["prob"] > r["t"],
                                                  sigma=r["sigma"], tta_disagreement=r["tta"])
        scores[arm] = np.concatenate([maps[i].ravel() for i in range(len(rows))])
    out = {"n_images": len(rows), "n_pixels": int(y.size), "error_rate": round(float(y.mean()), 4),
           "pixels_at_threshold": int(np.sum(p == t)),
           "thresholds_min_max": [round(float(t.min()), 4), round(float(t.max()), 4)],
           "roc_auc": {}, "ece": {}}
    probabilistic = ["naive", *arms]
    for name, s in scores.items():
        out["roc_auc"][name] = {"overall": round(U.roc_auc(s, y), 4),
                                **_spread([U.roc_auc(s[fold == k], y[fold == k])
                                           for k in range(n_folds)])}
        if name in probabilistic:
            out["ece"][name] = {"overall": round(U.expected_calibration_error(s, y), 4),
                                **_spread([U.expected_calibration_error(s[fold == k], y[fold == k])
                                           for k in range(n_folds)])}
    # in-sample (optimistic) ceilings of look-up tables, for scale only; nothing is chosen
    # from them: the error frequency per quantile bin of p (any function of p alone can
    # do about this well), and per bin of p x bin of the D4 disagreement
    dis = np.concatenate([r["tta"].ravel() for r in rows])
    pb = _quantile_bins(p, CEILING_P_BINS)
    out["in_sample_ceiling_roc_auc"] = {
        "p_only": round(U.roc_auc(_table_score(pb, y), y), 4),
        "p_x_tta": round(U.roc_auc(_table_score(
            pb * CEILING_X_BINS + _quantile_bins(dis, CEILING_X_BINS), y), y), 4),
        "bins": [CEILING_P_BINS, CEILING_X_BINS]}
    # where the errors are: error frequency just below / above the threshold, and sigma
    # on the four (predicted, true) classes
    from scipy.stats import spearmanr

    sig = scores["sigma"]
    m = pred != y  # the mask
    below = (p >= t - BAND) & (p < t)
    above = (p > t) & (p <= t + BAND)
    out["diagnostics"] = {
        "band": BAND,
        "error_rate_below_t": round(float(y[below].mean()), 4),
        "error_rate_above_t": round(float(y[above].mean()), 4),
        "sigma_q01_q50_q99": [round(float(v), 4) for v in np.quantile(sig, (0.01, 0.5, 0.99))],
        "sigma_median": {f"pred{int(a)}_true{int(b)}": round(float(np.median(
            sig[(pred == a) & (m == b)])), 4) for a in (False, True) for b in (False, True)},
        "spearman_sigma_p_every_50th_px": round(float(spearmanr(sig[::50], p[::50])[0]), 3)}
    out["reliability"] = {}
    for name in probabilistic:
        c = U.reliability_curve(scores[name], y)
        out["reliability"][name] = {
            "count": c["count"].tolist(),
            "mean_predicted": [None if np.isnan(v) else round(float(v), 4)
                               for v in c["mean_predicted"]],
            "frequency": [None if np.isnan(v) else round(float(v), 4) for v in c["frequency"]]}
    out["fit_cpu_s"] = {a: round(float(np.mean(v)), 2) for a, v in fit_s.items()}
    out["params_per_fold"] = params
    return out, {"y": y, "scores": scores}


def timing(rows) -> dict:
    """CPU ms of error_probability on one 256 x 256 map per feature set (median of 5)."""
    from napari_srmat.edges import uncertainty as U

    r = rows[0]
    res = {}
    for arm, feats in ARMS.items():
        feats = U.DEFAULT_FEATURES if feats is None else feats
        prm = U.fit_error_model([r["prob"]], [r["mask"]], [r["t"]], features=feats,
                                sigmas=[r["sigma"]], tta_disagreements=[r["tta"]])
        ts = []
        for _ in range(5):
            t0 = time.process_time()
            U.error_probability(r["prob"], prm, threshold=r["t"], sigma=r["sigma"],
                                tta_disagreement=r["tta"])
            ts.append(time.process_time() - t0)
        res[arm] = round(1000 * float(np.median(ts)), 1)
    return res


def figure(main: dict, curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from napari_srmat.edges import uncertainty as U

    y, sc = curves["y"], curves["scores"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.6))
    for name, label, style in (("default", "error model", "C0o-"),
                               ("naive", "naive (from p)", "C1s--")):
        c = U.reliability_curve(sc[name], y)
        ok = c["count"] >= MIN_BIN_PIXELS
        a1.plot(c["mean_predicted"][ok], c["frequency"][ok], style, ms=4,
                label=f"{label}: ECE {main['ece'][name]['overall']:.3f} (pooled)")
    a1.plot([0, 1], [0, 1], "k:", lw=1)
    a1.set(xlabel="predicted P(pixel is wrong)", ylabel="observed error frequency",
           title=f"reliability ({U.ECE_BINS} equal-width bins; bins with "
                 f">= {MIN_BIN_PIXELS} px)", xlim=(0, 1), ylim=(0, 1))
    a1.legend(loc="upper left", fontsize=8)
    for name, label, col in (("default", "error model", "C0"), ("abs_p_minus_t", "-|p - t|", "C2"),
                             ("sigma", "sigma", "C3")):
        fpr, tpr = roc_points(sc[name], y)
        a2.plot(fpr, tpr, color=col,
                label=f"{label}: AUC {main['roc_auc'][name]['overall']:.3f} (pooled)")
    a2.plot([0, 1], [0, 1], "k:", lw=1)
    a2.set(xlabel="false-positive rate", ylabel="true-positive rate",
           title="detecting the model's pixel errors", xlim=(0, 1), ylim=(0, 1))
    a2.legend(loc="lower right", fontsize=8)
    fig.suptitle("UAED plain, TTA none: out-of-fold, leave-scan-out CV on tbm/train+val "
                 f"({main['n_images']} regions)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}", file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cv", type=Path, default=CV_DEFAULT,
                    help="work folder of benchmarks/cv_uaed.py (fold-K/oof.npz, folds.json)")
    ap.add_argument("--quick", action="store_true", help="3 regions per fold, no figure, no save")
    args = ap.parse_args()
    folds = json.loads((args.cv / "folds.json").read_text())
    limit = 3 if args.quick else None
    results = {}
    for variant, tta, rule in (MAIN + ("global",), ("plain", "d4", "global"),
                               ("augment", "none", "global"), MAIN + ("otsu_scaled",)):
        rows = load_variant(args.cv, variant, tta, folds, limit, rule)
        arms = ARMS if (variant, tta, rule) == MAIN + ("global",) else {"default": None}
        res, curves = evaluate(rows, len(folds), arms)
        res["rule"] = rule
        results[f"{variant}/{tta}" + ("" if rule == "global" else f"/{rule}")] = res
        print(variant, tta, json.dumps({k: v for k, v in res.items()
                                        if k not in ("params_per_fold",)})[:1500],
              file=sys.stderr)
        if (variant, tta, rule) == MAIN + ("global",):
            ms = timing(rows)
            if not args.quick:
                figure(res, curves, FIGURE)
    results[f"{MAIN[0]}/{MAIN[1]}"]["cpu_ms_per_256px_map"] = ms
    if args.quick:
        return 0
    from napari_srmat.edges import uncertainty as U

    save("uncertainty_error_detection", {
        "what": "error detection by uncertainty maps, out of fold (cross-fitted error models)",
        "definitions": {"pixel_error": "(p > t) != mask, all pixels; t = the fold's "
                                       "cross-fitted global threshold (otsu_scaled: the "
                                       "image's threshold from the fold's cross-fitted c)",
                        "roc_auc": "Mann-Whitney with mid-ranks; score for 'pixel is an error'",
                        "ece": f"{U.ECE_BINS} equal-width bins on [0, 1]",
                        "abs_p_minus_t": "score -|p - t| (higher = nearer the threshold)",
                        "naive": "1 - p on predicted boundary, p elsewhere",
                        "overall": "all out-of-fold pixels pooled",
                        "per_fold": "within each held-out fold; mean/std (ddof=1) over folds"},
        "cv": str(args.cv), "main": f"{MAIN[0]}/{MAIN[1]}", "default_features":
            list(U.DEFAULT_FEATURES), "arms": {a: list(f or U.DEFAULT_FEATURES)
                                               for a, f in ARMS.items()},
        "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
