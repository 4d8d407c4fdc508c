"""Can a per-image interval of ℓ̄ be narrower than the calibrated model term? Out of fold.

The 95 % interval of ``measure_grain_size`` has one model term for every image (median
half-width ≈ 33 %, docs/boundaries.md). A narrower interval that still covers would need
label-free features that tell which images the model gets wrong. This script scores
candidates on the out-of-fold maps of the leave-scan-out ``plain`` fold models
(``benchmarks/cv_uaed.py``, seed 0; tbm/train + val only): Spearman correlation of
each feature with the absolute log error of ℓ̄ at the shipped operating point
(``otsu_scaled``, TTA ``none``, c cross-fitted), over the 63 regions.

Features (all label-free): disagreement (absolute log ratio) of the shipped ℓ̄ with
ℓ̄ of other rules (``quantile``, ``global``, cross-fitted the same way), with ℓ̄ of the
same rule under TTA ``d4``, and with the image autocorrelation estimate of
``napari_srmat.grainsize.estimate_intercept_px``. Also: blending the model's ℓ̄ with the
autocorrelation estimate (weight w on the log scale, the estimate scaled by the
calibration folds' median ratio) as a better point estimate.

    OMP_NUM_THREADS=1 PYTHONPATH=src python studies/interval_width_features.py --out-root out

Writes studies/results/interval_width_features.json (≈ 1 CPU-min).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from _common import DATA, ROOT, save, spearman

sys.path.insert(0, str(ROOT / "benchmarks"))

RULE, OTHER_RULES = "otsu_scaled", ("quantile", "global")
BLEND_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5)


def cross_fitted(table, rule: str, fold_of: np.ndarray) -> np.ndarray:
    """ℓ̄ of every map with the rule's parameters fitted on the other folds (NaN: none)."""
    out = np.full(len(fold_of), np.nan)
    for k in np.unique(fold_of):
        prm = table.fit(rule, np.flatnonzero(fold_of != k))
        for i in np.flatnonzero(fold_of == k):
            lp = table.predicted(rule, prm, int(i), exact=True)
            out[i] = np.nan if lp is None else lp
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-root", type=Path, default=Path("out"),
                    help="folder holding cv_uaed/ of benchmarks/cv_uaed.py")
    args = ap.parse_args(argv)
    from cv_uaed import _oof_maps, list_images

    from napari_srmat.edges.data import load_pairs
    from napari_srmat.edges.thresholds import InterceptTable
    from napari_srmat.grainsize import estimate_intercept_px

    work = args.out_root / "cv_uaed"
    samples = {s.name: s for s in load_pairs(list_images(DATA))}
    folds = json.loads((work / "folds.json").read_text())
    names = [n for f in folds for n in f]
    fold_of = np.array([k for k, f in enumerate(folds) for _ in f])
    masks = [samples[n].mask for n in names]
    pred, true = {}, None
    for tta in ("none", "d4"):
        probs, _ = _oof_maps(work, "plain", folds, tta)
        table = InterceptTable([probs[n] for n in names], masks)
        true = np.asarray(table.true)
        for rule in (RULE, *OTHER_RULES) if tta == "none" else (RULE,):
            pred[f"{rule}/{tta}"] = cross_fitted(table, rule, fold_of)
    acf = np.array([estimate_intercept_px(samples[n].image.transpose(1, 2, 0)) or np.nan
                    for n in names])
    shipped = pred[f"{RULE}/none"]
    abs_log_err = np.abs(np.log(shipped / true))
    features = {f"disagreement_with_{r}": np.abs(np.log(shipped / pred[f"{r}/none"]))
                for r in OTHER_RULES}
    features["disagreement_with_tta_d4"] = np.abs(np.log(shipped / pred[f"{RULE}/d4"]))
    features["disagreement_with_autocorrelation"] = np.abs(np.log(shipped / acf))
    blend = {}
    for w in BLEND_WEIGHTS:
        est = np.full(len(names), np.nan)
        for k in np.unique(fold_of):
            cal, held = fold_of != k, fold_of == k
            scale = np.nanmedian(true[cal] / acf[cal])
            est[held] = np.exp((1 - w) * np.log(shipped[held]) + w * np.log(acf[held] * scale))
        blend[str(w)] = round(100 * float(np.nanmean(np.abs(est - true) / true)), 3)
    report = {
        "operating_point": [RULE, "none"], "n_regions": len(names),
        "spearman_with_abs_log_error": {k: spearman(v, abs_log_err)
                                        for k, v in features.items()},
        "abs_log_error_quantiles": [round(float(x), 4) for x in
                                    np.nanquantile(abs_log_err, (0.5, 0.9, 0.95))],
        "corr_log_true": {"model": round(float(np.corrcoef(np.log(shipped),
                                                            np.log(true))[0, 1]), 3),
                          "autocorrelation": round(float(np.corrcoef(np.log(acf),
                                                                     np.log(true))[0, 1]), 3)},
        "blend_with_autocorrelation_per_image_pct": blend}
    save("interval_width_features", report)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
