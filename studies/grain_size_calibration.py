"""Calibration of ``measure_grain_size`` on tbm/train+val: its error, the model term of its
95 % interval, the too-coarse limit, and the coverage of the interval.

Every tbm/train and tbm/val region (never tbm/test) is resampled by u = 0.25 ... 4 (an
up-sampled region stands in for a super-resolved image, a down-sampled one for a coarse
micrograph) with the pixel size 1/u, and measured as ``measure_grain_size`` does by
default (autocorrelation estimate, automatic inference scale, shipped weights at their
default operating point: threshold rule and TTA, recorded in the JSON; 50 random lines).
The truth is the ℓ̄ of the hand-drawn mask at native scale (thinned, 500 random lines).

* ``e = ln(ℓ̄ / ℓ̄_true)`` with ℓ̄ measured with 200 lines on the same binarised map (the
  model's error, little line-sampling noise). Compared with the same region at u = 1
  (``e(u) - e(1)``: each image's own bias cancels), by input ℓ̄ (px): where it grows, the
  input is too coarse (``MIN_INPUT_INTERCEPT_PX``: the smallest bin edge from which every
  bin's median ``e(u) - e(1)`` is within ``MAX_MEDIAN_DEGRADATION``);
* ``MODEL_LOG_ERROR_95``: 2.5 % and 97.5 % quantiles of e over the inputs that are not
  too coarse (``summary.model_log_error_95``, shipped rounded to three decimals; the
  lower end is also ``COARSE_MODEL_LOG_ERROR_95``'s);
* coverage of the 95 % interval (50 lines) of the true ℓ̄: with the quantiles from all
  images (in-sample), leave-one-scan-out (quantiles from the other scans: the honest
  figure), and without the model term. The model was trained on tbm/train, so its
  errors there are optimistic; tbm/val (6 regions, 2 scans) is reported separately.

    OMP_NUM_THREADS=1 python studies/grain_size_calibration.py [--quick]

(about 3 CPU-min: 157 s user; 7 to 11.6 min wall on a loaded 2-core machine, 2026-12-05;
``--analyze`` seconds). Each row records its 50-line count P and n, which the
interval's counting-resolution term needs.

Since native-sharp inputs keep their scale (``scale_sharpness_decision.py``), the u = 1
reference of 21 regions is measured at the native scale while their resampled copies are
measured at the autocorrelation-chosen one, so ``e(u) - e(1)`` also holds the model's
size prior: the bin rule then reads 20 px, from one bin of 11 inputs (15-20 px, median
+0.053; 8-10, 10-12, 12-15 px: +0.037, +0.042, +0.004; counted with the third-grain
rule of aeb8d59 and its window of 3930fb9). A limit of 20 px would refuse native
micrographs with fine grains (tbm regions at x1: ℓ̄ 19.7-38 px; whole scans with
estimates of 17-18 px, ``scan_32`` and ``scan_23``), so the shipped limit stays 8 px
(``--too-coarse-px``, default ``MIN_INPUT_INTERCEPT_PX``) and both are recorded.

Writes studies/results/grain_size_calibration.json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np
from _common import HEYN, RESULTS, gt_intercept, q, save, scan_of, tbm_pairs

INPUT_SCALES = (0.25, 0.35, 0.5, 1.0, 2.0, 4.0)
ERROR_LINES = 200
QUANTILES = (0.025, 0.975)
MAX_MEDIAN_DEGRADATION = 0.05
INPUT_BINS = ((4, 6), (6, 8), (8, 10), (10, 12), (12, 15), (15, 20), (20, 30), (30, 50),
              (50, 80), (80, 200))


def interval(row: dict, log_error: tuple[float, float] | None):
    """95 % interval (µm) of one measurement with a given model log-error range."""
    from napari_srmat.grainsize import intercept_interval

    mean = row["inference_px"]
    if mean is None:
        return None
    rng = None
    if log_error is not None:
        lo, hi = log_error
        rng = (mean * math.exp(-hi), mean * math.exp(-lo))
    half = row["sampling_half_px"]
    ci, _ = intercept_interval(mean, sampling_half_px=math.nan if half is None else half,
                               intersection_count=row["intersection_count"],
                               n_lines=row["n_lines"], model_range_px=rng)
    k = 1.0 / row["inference_scale"] / row["u"]  # inference px -> input px -> µm
    return None if ci is None else [ci[0] * k, ci[1] * k]


def min_input(rows: list[dict]) -> tuple[float, dict]:
    """Error by input ℓ̄ bin (also relative to the same region at u = 1) and the smallest
    bin edge from which every bin's median degradation is small."""
    ref = {(r["split"], r["image"]): r["log_error"] for r in rows if r["u"] == 1.0}
    table = {}
    for lo, hi in INPUT_BINS:
        sel = [r for r in rows if lo <= r["input_px"] < hi]
        e = [r["log_error"] for r in sel if r["log_error"] is not None]
        d = [r["log_error"] - ref[(r["split"], r["image"])] for r in sel
             if r["log_error"] is not None and ref.get((r["split"], r["image"])) is not None]
        table[f"{lo}-{hi}"] = {"n": len(sel), "log_error_q10_50_90": q(e),
                               "minus_u1_q10_50_90": q(d),
                               "n_no_value": sum(r["log_error"] is None for r in sel)}
    edge = INPUT_BINS[-1][0]
    for lo, hi in reversed(INPUT_BINS):
        row = table[f"{lo}-{hi}"]
        if row["n"] and (row["n_no_value"] or abs(row["minus_u1_q10_50_90"][1])
                         > MAX_MEDIAN_DEGRADATION):
            break
        edge = lo
    return float(edge), table


def coverage(rows: list[dict], key: str) -> dict:
    cover = [r[key] is not None and r[key][0] <= r["gt_um"] <= r[key][1] for r in rows]
    width = [(r[key][1] - r[key][0]) / 2 / r["um"] for r in rows if r[key] is not None]
    return {"n": len(rows), "coverage": float(np.mean(cover)) if cover else None,
            "n_no_interval": sum(r[key] is None for r in rows),
            "rel_half_width_median": q(width, (0.5,))[0] if width else None}


def _finite(x):
    return float(x) if x is not None and math.isfinite(x) else None


def main() -> int:
    from napari_srmat.grainsize import MIN_INPUT_INTERCEPT_PX

    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="4 images (smoke test)")
    ap.add_argument("--analyze", action="store_true",
                    help="only redo the analysis from results/grain_size_calibration.json")
    ap.add_argument("--too-coarse-px", type=float, default=MIN_INPUT_INTERCEPT_PX,
                    help="the too-coarse limit (default: the shipped MIN_INPUT_INTERCEPT_PX; "
                         "the bin rule's value is recorded beside it); the model term is "
                         "computed over the inputs at or above it")
    args = ap.parse_args()
    if args.analyze:
        data = json.loads((RESULTS / "grain_size_calibration.json").read_text())
        return analyze(data["rows"], data["threshold"], data["tta"],
                       measured=data.get("measured", data["date"]),
                       threshold_rule=data.get("threshold_rule", "global"),
                       threshold_params=data.get("threshold_params"),
                       too_coarse_px=args.too_coarse_px)
    from napari_srmat.edges import load_boundary_model
    from napari_srmat.grainsize import (
        _float_image,
        automatic_inference_scale,
        measure_grain_size,
        resample,
    )
    from napari_srmat.io import read_grey_or_rgb_float, read_mask
    from napari_srmat.metrics.heyn import measure_intercepts

    model = load_boundary_model()
    pairs = tbm_pairs()
    if args.quick:
        pairs = pairs[:2] + pairs[-2:]
    rows = []
    t0 = time.time()
    for k, (split, img_path, msk) in enumerate(pairs):
        gt = gt_intercept(read_mask(msk) > 0)
        native = _float_image(read_grey_or_rgb_float(img_path))
        for u in INPUT_SCALES:
            x = resample(native, u)
            s, est, _ = automatic_inference_scale(x)
            # the automatic scale, given explicitly: nothing is withheld (measured anyway)
            r = measure_grain_size(x, model=model, pixel_size_um=1.0 / u, inference_scale=s)
            m = measure_intercepts(model.binarize(r.probability), n_lines=ERROR_LINES, **HEYN)
            val = None if m.mean_intercept_px is None else m.mean_intercept_px / s
            rows.append({"split": split, "image": img_path.name, "scan": scan_of(img_path),
                         "u": u, "gt_um": gt, "input_px": gt * u, "estimated_px": est,
                         "inference_scale": s, "um": r.mean_intercept_um,
                         "inference_px": r.inference_intercept_px,
                         "log_error": None if val is None else math.log(val / (gt * u)),
                         "sampling_half_px": _finite(r.heyn.ci95_half_width_px),
                         "intersection_count": float(r.heyn.intersection_count),
                         "n_lines": int(r.heyn.n_lines)})
        errs = [None if r["log_error"] is None else round(r["log_error"], 2)
                for r in rows[-len(INPUT_SCALES):]]
        print(f"[{k + 1}/{len(pairs)}] {split}/{img_path.name} gt {gt:.1f} px, log errors "
              f"{errs} ({time.time() - t0:.0f} s)", file=sys.stderr)
    return analyze(rows, model.threshold, model.tta, measured=time.strftime("%Y-%m-%d %H:%M"),
                   threshold_rule=model.threshold_rule,
                   threshold_params=model.threshold_params, too_coarse_px=args.too_coarse_px)


def analyze(rows: list[dict], threshold: float, tta: str, measured: str,
            threshold_rule: str = "global", threshold_params: dict | None = None,
            too_coarse_px: float | None = None) -> int:
    """Constants and coverage from the measured rows (see the module docstring)."""
    rule_edge, by_input = min_input(rows)
    edge = rule_edge if too_coarse_px is None else float(too_coarse_px)
    ok = [r for r in rows if r["input_px"] >= edge]
    errors = np.array([r["log_error"] for r in ok if r["log_error"] is not None])
    band = tuple(float(v) for v in np.quantile(errors, QUANTILES))
    loso = {}
    for sc in sorted({r["scan"] for r in rows}):
        other = [r["log_error"] for r in ok if r["scan"] != sc and r["log_error"] is not None]
        loso[sc] = tuple(float(v) for v in np.quantile(other, QUANTILES))
    for r in rows:
        r["ci_in_sample"] = interval(r, band)
        r["ci_loso"] = interval(r, loso[r["scan"]])
        r["ci_no_model"] = interval(r, None)
    summary = {"min_input_intercept_px": edge, "min_input_rule_px": rule_edge,
               "error_by_input_px": by_input,
               "model_log_error_95": band, "log_error_q10_50_90": q(errors),
               "n_measured": len(ok), "coverage": {}, "rel_error_by_split": {}}
    for split in ("train", "val"):
        rel = [math.exp(r["log_error"]) - 1 for r in ok
               if r["split"] == split and r["log_error"] is not None]
        summary["rel_error_by_split"][split] = {
            "n": len(rel), "rel_error_q10_50_90": q(rel),
            "abs_rel_error_median": q(np.abs(rel), (0.5,))[0]}
        print(f"{split}: relative error {summary['rel_error_by_split'][split]}")
    groups = {"all": ok, "train": [r for r in ok if r["split"] == "train"],
              "val": [r for r in ok if r["split"] == "val"]}
    for u in INPUT_SCALES:
        groups[f"u={u}"] = [r for r in ok if r["u"] == u]
        groups[f"val u={u}"] = [r for r in ok if r["u"] == u and r["split"] == "val"]
    for name, sel in groups.items():
        if not sel:
            continue
        summary["coverage"][name] = {key: coverage(sel, key)
                                     for key in ("ci_in_sample", "ci_loso", "ci_no_model")}
        c = summary["coverage"][name]
        print(f"{name:>12}: n={len(sel):3d} coverage in-sample {c['ci_in_sample']['coverage']:.2f}"
              f", leave-one-scan-out {c['ci_loso']['coverage']:.2f}, without model term "
              f"{c['ci_no_model']['coverage']:.2f}; median half-width "
              f"{c['ci_loso']['rel_half_width_median']}")
    # the same image at x0.5 ... x4: spread of ℓ̄ (µm)
    spreads = []
    for name in sorted({(r["split"], r["image"]) for r in rows}):
        v = [r["um"] for r in rows if (r["split"], r["image"]) == name
             and r["u"] in (0.5, 1.0, 2.0, 4.0) and r["um"] is not None]
        if len(v) == 4:
            spreads.append(max(v) / min(v))
    summary["spread_x0.5_to_x4_q10_50_90"] = q(spreads)
    summary["n_spread_within_5pct"] = int(sum(s < 1.05 for s in spreads))
    summary["n_spread"] = len(spreads)
    for k_, v in by_input.items():
        print(f"input ℓ̄ {k_:>7} px: {v}")
    print(f"MIN_INPUT_INTERCEPT_PX = {edge} (the rule: {rule_edge})")
    print(f"MODEL_LOG_ERROR_95 = {tuple(round(b, 4) for b in band)}")
    print(f"spread x0.5..x4 q10/50/90 {q(spreads)}; within 5 %: "
          f"{summary['n_spread_within_5pct']}/{len(spreads)}")
    save("grain_size_calibration", {"measured": measured, "threshold": threshold, "tta": tta,
                                    "threshold_rule": threshold_rule,
                                    "threshold_params": threshold_params,
                                    "error_lines": ERROR_LINES, "summary": summary,
                                    "loso_log_error_95": loso, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
