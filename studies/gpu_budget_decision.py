"""Does a GPU lease's training budget make a better boundary model? A pre-stated decision.

Every leave-scan-out fold model so far was trained for about 6 CPU-minutes (80 epochs of
26 steps of 2 crops: about 4 200 crops); the shipped weights about 2 CPU-hours. Issue 12
leaves one thing to try: a model trained on the GPU machine. ``benchmarks/cv_uaed_gpu.py``
trains, within one lease, the ``plain`` recipe (``gpu_long``) and the recipe with
photometric augmentation (``gpu_aug``: colour, gamma, blur, sharpen, noise, JPEG; at the
CPU budget it did not help, and "may need longer training") with batches of 16 crops, 50
steps per epoch and the epochs the lease allows, on the folds of two leave-scan-out
repetitions (fold seeds 0 and 1; tbm/train + val only, tbm/test not opened).

Decision rule, written and committed before any GPU model was trained (the project's rule
for a training-recipe change, ``input_norm_decision.recipe_decision``, over the 10 folds of
both repetitions, paired with the CPU-budget ``plain`` fold models of the same folds):
a candidate is adopted only if (1) its native per-image ℓ̄ error (otsu_scaled, TTA none, c
cross-fitted; ``grain_size_c_inference_scale``) is lower than ``plain``'s by more than one
standard deviation of the paired per-fold differences, (2) its whole-measurement error
(all inputs, the automatic scale) is not higher by more than one standard deviation of its
paired differences, and (3) its out-of-fold AP (TTA none) is not lower by more than 0.01 on
average. If both pass, the one with the lower mean native error is adopted. An adopted
recipe's model trained on tbm/train (validated on tbm/val; the recipe of the shipped
weights) replaces the shipped weights, calibrated on tbm/val as they were. Otherwise the
shipped weights stay and the result goes into docs/boundaries.md as it is. As diagnostics
outside the rule: the benchmark's own otsu_scaled per-image error (50 lines), the mean
signed error per scan and r(predicted, true).

    python benchmarks/cv_uaed_gpu.py --stage train ...      # on the GPU machine (see there)
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/cv_uaed_gpu.py --stage predict
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/cv_uaed.py --stage eval \\
        --work out/cv_uaed_gpu/s0 --seed 0 --variants gpu_long,gpu_aug \\
        --out benchmarks/cv_uaed_gpu_s0.json            # and s1 / --seed 1
    OMP_NUM_THREADS=1 python studies/grain_size_c_inference_scale.py \\
        --work out/cv_uaed_gpu/s0 --variant gpu_long    # gpu_aug; s1 with --tag s1
    PYTHONPATH=src python studies/gpu_budget_decision.py

Writes studies/results/gpu_budget_decision.json.
"""

from __future__ import annotations

import argparse
import json

from _common import (
    benchmark_result,
    better_by_more_than_one_std,
    inference_scale_result,
    save,
)
from _common import paired_with_means as _paired

CANDIDATES = ("gpu_long", "gpu_aug")
#: Per repetition: its tag in the study result names, the plain benchmark JSON holding
#: the plain fold models' out-of-fold AP, and the candidates' benchmark JSON.
REPETITIONS = {"": ("cv_uaed.json", "cv_uaed_gpu_s0.json"),
               "s1": ("cv_uaed_norm_s1.json", "cv_uaed_gpu_s1.json")}
MAX_AP_LOSS = 0.01
OPERATING_POINT = ("otsu_scaled", "none")


def candidate_report(candidate: str) -> dict:
    """Paired per-fold differences candidate − plain over the folds of both repetitions,
    the checks of the rule, and the diagnostics outside it."""
    native, meas, aps, bench_err = ([], []), ([], []), ([], []), ([], [])
    diag: dict = {}
    for tag, (plain_file, gpu_file) in REPETITIONS.items():
        for i, (variant, file) in enumerate((("plain", plain_file), (candidate, gpu_file))):
            pol = inference_scale_result(variant, tag)["scale_policies"]
            native[i].extend(pol["native_reference"]["per_fold"])
            meas[i].extend(pol["current"]["all"]["per_fold"])
            res = benchmark_result(file, variant)
            aps[i].extend(res["ap"]["per_fold"])
            rule = res["rules"][OPERATING_POINT[0]]
            bench_err[i].extend(rule["per_image_pct"]["per_fold"])
            diag[f"{variant}{'_' + tag if tag else ''}"] = {
                "benchmark_otsu_scaled_per_image_pct": rule["per_image_pct"]["mean"],
                "corr_pred_true": rule["corr_pred_true"],
                "per_scan_bias_pct": rule["per_scan_bias_pct"],
                "ap": res["ap"]["mean"], "roc_auc": res["roc_auc"]["mean"]}
    report = {"native_per_image_pct": _paired(*native),
              "measurement_per_image_pct": _paired(*meas),
              "ap": _paired(*aps, lower_is_better=False),
              "diagnostics": {"benchmark_per_image_pct": _paired(*bench_err), **diag}}
    n, m, a = (report[k] for k in ("native_per_image_pct", "measurement_per_image_pct", "ap"))
    report["checks"] = {
        "native_better_by_more_than_one_std": better_by_more_than_one_std(n),
        "measurement_not_worse_by_more_than_one_std": m["diff_mean"] <= m["diff_std"],
        f"ap_not_lower_by_more_than_{MAX_AP_LOSS}": a["diff_mean"] >= -MAX_AP_LOSS}
    report["passes"] = all(report["checks"].values())
    return report


def decide(reports: dict[str, dict]) -> str | None:
    """The adopted candidate (lowest mean native error among those passing) or None."""
    passing = [c for c, r in reports.items() if r["passes"]]
    if not passing:
        return None
    return min(passing, key=lambda c: reports[c]["native_per_image_pct"]["candidate_mean"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.parse_args(argv)
    reports = {c: candidate_report(c) for c in CANDIDATES}
    out = {"rule": "see the module docstring (committed before training)",
           "operating_point": list(OPERATING_POINT), "repetitions": REPETITIONS,
           "candidates": reports, "adopted": decide(reports)}
    save("gpu_budget_decision", out)
    print(json.dumps({c: {"checks": r["checks"], "native": r["native_per_image_pct"],
                          "measurement": r["measurement_per_image_pct"], "ap": r["ap"]}
                      for c, r in reports.items()} | {"adopted": out["adopted"]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
