"""Are the scans without labels like the labelled ones? A label-free check, out of fold.

``scans/scan_32`` … ``scan_42`` hold no tbm region: they come from the same microscope and
alloy and are the closest thing here to the unseen scans of issue 12 (which found ℓ̄ too
long there, +9.6 %, and smoothing helpful, unlike on tbm). Without labels they cannot be
a test set, but two questions can be answered without any:

1. Do their image statistics (contrast, noise, sharpness, colour) lie inside the range
   of the 14 labelled train + val scans, where the out-of-fold errors were measured?
   And does any of these statistics predict a labelled scan's out-of-fold signed error
   (``benchmarks/cv_uaed.json``, ``plain``, ``otsu_scaled``, TTA ``none``)?
2. Does the boundary model behave there as on the labelled scans: the ratio of its ℓ̄ at
   the native scale to the image's autocorrelation estimate, and how much the five fold
   models (none of which saw these scans) disagree.
3. What does the shipped whole measurement (``measure_grain_size``: shipped weights,
   automatic inference scale) report on each scan, against the fold models' native ℓ̄?
   (On the labelled train scans the shipped weights are in-sample.)

Labelled scans are predicted by the fold model that held them out; unlabelled scans
(``scan_32``-``42`` and the ``extra_*`` that are not copies of a labelled scan) by all five
fold models (median and spread). Whole scans, the measurement's region-wise ``otsu_scaled``
binarisation at the fold models' cross-fitted c (1.4; 1.4-1.425 over the folds), 200
random lines. The test scans (13, 24, 28) are never decoded: only their bytes are hashed,
to find copies among the unlabelled scans.

    OMP_NUM_THREADS=1 PYTHONPATH=src python studies/unlabeled_scans_check.py \\
        --work out/cv_uaed

Writes studies/results/unlabeled_scans_check.json (≈ 15 CPU-min).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from _common import (
    DATA,
    FOLD_MODELS_C,
    HEYN,
    ROOT,
    TEST_SCANS,
    load_fold_model,
    q,
    save,
    spearman,
)

sys.path.insert(0, str(ROOT / "benchmarks"))

LINES = 200
STATISTICS = ("contrast", "noise", "sharpness", "chroma")


def image_statistics(rgb: np.ndarray) -> dict[str, float]:
    """Label-free statistics of an 8-bit RGB image (grey = channel mean in [0, 1]).

    contrast: std of grey; noise: Immerkær's estimate of the noise std (the mean absolute
    response to a 3 x 3 kernel that cancels smooth image content); sharpness:
    std of grey minus its σ = 1 Gaussian blur, over the contrast; chroma: mean over pixels
    of the channel range.
    """
    from scipy import ndimage as ndi

    x = rgb[..., :3].astype(np.float32) / 255.0
    grey = x.mean(axis=2)
    contrast = float(grey.std())
    high = grey - ndi.gaussian_filter(grey, 1.0)
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    response = ndi.convolve(grey, kernel)[1:-1, 1:-1]
    noise = float(np.sqrt(np.pi / 2) * np.abs(response).mean() / 6)
    return {"contrast": round(contrast, 4), "noise": round(noise, 5),
            "sharpness": round(float(high.std()) / max(contrast, 1e-6), 4),
            "chroma": round(float((x.max(axis=2) - x.min(axis=2)).mean()), 4)}


def model_intercept(model, rgb: np.ndarray) -> float | None:
    """ℓ̄ (px) of a fold model's map of the whole scan at the native scale."""
    from napari_srmat.edges import predict_boundaries
    from napari_srmat.edges.thresholds import binarize_by_region
    from napari_srmat.grainsize import MODEL_OVERLAP, MODEL_TILE
    from napari_srmat.metrics.heyn import measure_intercepts

    prob = np.asarray(predict_boundaries(rgb, model, tile=MODEL_TILE,
                                         overlap=MODEL_OVERLAP)[0], np.float32)
    binary, _ = binarize_by_region("otsu_scaled", prob, {"c": FOLD_MODELS_C})
    r = measure_intercepts(binary, n_lines=LINES, **HEYN)
    return None if r.mean_intercept_px is None else round(float(r.mean_intercept_px), 3)


def main(argv=None) -> int:
    from cv_uaed import file_digest, unlabeled_scans

    from napari_srmat.edges import load_boundary_model
    from napari_srmat.edges.cv import scan_id
    from napari_srmat.grainsize import estimate_intercept_px, measure_grain_size
    from napari_srmat.io import read_array

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("out/cv_uaed"),
                    help="work folder of benchmarks/cv_uaed.py (seed 0)")
    ap.add_argument("--variant", default="plain")
    args = ap.parse_args(argv)

    bench = json.loads((ROOT / "benchmarks" / "cv_uaed.json").read_text())
    bias = bench["results"]["plain/none"]["rules"]["otsu_scaled"]["per_scan_bias_pct"]
    folds = json.loads((args.work / "folds.json").read_text())
    fold_of = {scan_id(n): k for k, names in enumerate(folds) for n in names}
    shipped = load_boundary_model(device="cpu")
    models = [load_fold_model(args.work, k, args.variant)
              for k in range(len(folds))]
    scans_dir = DATA.parent / "scans"
    labelled = sorted(fold_of, key=int)
    unlabelled = [scans_dir / f"scan_{n}.jpg" for n in range(32, 43)]
    known = {file_digest(scans_dir / f"scan_{s}.jpg") for s in labelled}
    unlabelled = [p for p in unlabelled + unlabeled_scans(DATA) if file_digest(p) not in known]

    rows = []
    for group, items in (("labelled", [(s, scans_dir / f"scan_{s}.jpg") for s in labelled]),
                         ("unlabelled", [(p.stem, p) for p in unlabelled])):
        for name, path in items:
            if name in TEST_SCANS or path.stem.removeprefix("scan_") in TEST_SCANS:
                raise SystemExit(f"{path} is a test scan")
            rgb = read_array(path)[..., :3]
            row = {"scan": name, "group": group, **image_statistics(rgb)}
            est = estimate_intercept_px(rgb)
            row["acf_estimate_px"] = None if est is None else round(float(est), 3)
            which = [fold_of[name]] if group == "labelled" else range(len(models))
            lps = [model_intercept(models[k], rgb) for k in which]
            lps = [v for v in lps if v is not None]
            row["model_px"] = round(float(np.median(lps)), 3) if lps else None
            if group == "unlabelled" and lps:
                row["fold_spread_pct"] = round(100 * (max(lps) - min(lps)) / np.median(lps), 2)
            if row["model_px"] and est:
                row["model_over_acf"] = round(row["model_px"] / float(est), 4)
            whole = measure_grain_size(rgb, model=shipped)
            row["shipped_measurement_px"] = (None if whole.mean_intercept_px is None
                                             else round(float(whole.mean_intercept_px), 3))
            row["shipped_inference_scale"] = whole.inference_scale
            if row["model_px"] and row["shipped_measurement_px"]:
                row["measurement_over_native"] = round(
                    row["shipped_measurement_px"] / row["model_px"], 4)
            if group == "labelled":
                row["oof_bias_pct"] = bias[name]
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)

    lab = [r for r in rows if r["group"] == "labelled"]
    unl = [r for r in rows if r["group"] == "unlabelled"]
    summary = {}
    for key in (*STATISTICS, "acf_estimate_px", "model_over_acf", "measurement_over_native"):
        lv = [r[key] for r in lab if r.get(key) is not None]
        uv = [r[key] for r in unl if r.get(key) is not None]
        summary[key] = {
            "labelled_min_median_max": [min(lv), float(np.median(lv)), max(lv)],
            "unlabelled_q10_q50_q90": q(uv),
            "unlabelled_outside_labelled_range": [r["scan"] for r in unl
                                                  if r.get(key) is not None
                                                  and not min(lv) <= r[key] <= max(lv)],
            "spearman_with_oof_bias_labelled": spearman(
                [r[key] for r in lab if r.get(key) is not None],
                [r["oof_bias_pct"] for r in lab if r.get(key) is not None])}
    summary["fold_spread_pct_unlabelled"] = q([r["fold_spread_pct"] for r in unl
                                               if "fold_spread_pct" in r])
    save("unlabeled_scans_check", {"variant": args.variant, "c": FOLD_MODELS_C, "lines": LINES,
                                   "work": str(args.work), "summary": summary,
                                   "scans": rows})
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
