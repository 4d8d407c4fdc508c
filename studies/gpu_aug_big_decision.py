"""``gpu_aug`` trained several times longer: a decision stated before any such model exists.

Session 24's lease (``studies/gpu_budget_decision.py``) trained the recipe with photometric
augmentation (``gpu_aug``) for 1 000 steps of 16 crops; it was the most consistent change
so far (native per-image ℓ̄ error 8.7 vs 10.6 %, 8 of 10 folds better; AP higher in 9 of
10) but not adopted by its rule (−1.9 ± 2.6 points). Its lease was launch-bound: 22
processes time-sliced the GPU (about 300 ms a step each, 21 ms alone). The next lease
trains ``gpu_aug_big`` (``benchmarks/cv_uaed.VARIANTS``: the same recipe with batches of
64, so each launch-bound step carries 4x the crops; same learning rate, same 50 steps per
epoch, as many epochs as the lease allows) on three leave-scan-out repetitions: fold seeds
0 and 1 (paired with the CPU ``plain`` fold models of the same folds, as before) and fold
seed 2, a repetition no GPU model has seen, paired with the ``plain`` seed-2 fold models
(``grain_size_c_inference_scale_s2``); plus one model on tbm/train (validated on tbm/val),
the candidate shipped weights. tbm/test is not opened.

Decision rule, committed before any ``gpu_aug_big`` model was trained (the project's rule
for a training-recipe change, with the third repetition as its confirmation):

1. its native per-image ℓ̄ error (otsu_scaled, TTA none, c cross-fitted;
   ``grain_size_c_inference_scale``) over the 15 folds of the three repetitions is lower
   than ``plain``'s by more than one standard deviation of the paired per-fold differences;
2. on the fresh repetition alone (seed 2) its mean native error is lower than ``plain``'s;
3. its whole-measurement error (all inputs, the automatic scale) over the 15 folds is not
   higher by more than one standard deviation of its paired differences;
4. its out-of-fold AP (TTA none) is not lower than ``plain``'s by more than 0.01 on
   average over the folds of seeds 0 and 1 (``plain``'s per-fold AP of seed 2 in its own
   folds is in no committed file).

If all four hold, the ``gpu_aug_big`` model trained on tbm/train replaces the shipped
weights, calibrated on tbm/val as they were; otherwise the shipped weights stay and the
result goes into docs/boundaries.md as it is. Diagnostics outside the rule: the same
comparison against ``gpu_aug`` (seeds 0 and 1: what the longer training itself bought),
the benchmark's own otsu_scaled per-image error (50 lines), r(predicted, true) and the
mean signed error per scan.

    # the GPU machine (one lease; DATA: tbm/train + val only):
    python benchmarks/cv_uaed_gpu.py --stage train --data DATA --work out/cv_uaed_gpu_big \\
        --variants gpu_aug_big --seeds 0,1,2 --budget-s 420 --hard-stop-s 520 --pack $OUT
    # here, on the CPU:
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/cv_uaed_gpu.py --stage predict \\
        --work out/cv_uaed_gpu_big
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/cv_uaed.py --stage eval \\
        --work out/cv_uaed_gpu_big/s0 --seed 0 --variants gpu_aug_big \\
        --out benchmarks/cv_uaed_gpu_big_s0.json          # and s1, s2 with --seed 1, 2
    OMP_NUM_THREADS=1 python studies/grain_size_c_inference_scale.py \\
        --work out/cv_uaed_gpu_big/s0 --variant gpu_aug_big  # s1, s2 with --tag s1, s2
    PYTHONPATH=src python studies/gpu_aug_big_decision.py

Writes studies/results/gpu_aug_big_decision.json.
"""

from __future__ import annotations

import argparse
import json
import sys

from _common import (
    BENCHMARKS,
    benchmark_result,
    better_by_more_than_one_std,
    inference_scale_path,
    inference_scale_result,
    save,
)
from _common import paired_with_means as _paired

CANDIDATE = "gpu_aug_big"
#: Per repetition (its tag in the study result names): the benchmark JSON of the ``plain``
#: fold models (None: no per-fold AP in their own folds), that of the candidate, and
#: whether it is the fresh (confirming) repetition.
REPETITIONS = {"": ("cv_uaed.json", "cv_uaed_gpu_big_s0.json", False),
               "s1": ("cv_uaed_norm_s1.json", "cv_uaed_gpu_big_s1.json", False),
               "s2": (None, "cv_uaed_gpu_big_s2.json", True)}
#: The earlier GPU recipe, compared as a diagnostic (seeds 0 and 1).
EARLIER = ("gpu_aug", {"": "cv_uaed_gpu_s0.json", "s1": "cv_uaed_gpu_s1.json"})
MAX_AP_LOSS = 0.01
OPERATING_POINT = ("otsu_scaled", "none")


def _policies(variant: str, tag: str) -> tuple[list, list]:
    pol = inference_scale_result(variant, tag)["scale_policies"]
    return pol["native_reference"]["per_fold"], pol["current"]["all"]["per_fold"]


def missing_inputs() -> list[str]:
    """The candidate's result files not made yet (the lease and the CPU stages above)."""
    files = [BENCHMARKS / f for _, f, _ in REPETITIONS.values()]
    files += [inference_scale_path(CANDIDATE, t) for t in REPETITIONS]
    return [str(f) for f in files if not f.is_file()]


def report() -> dict:
    """The paired comparisons, the rule's checks and the diagnostics."""
    native, meas, aps, fresh = ([], []), ([], []), ([], []), ([], [])
    diag: dict = {}
    for tag, (plain_file, cand_file, is_fresh) in REPETITIONS.items():
        for i, variant in enumerate(("plain", CANDIDATE)):
            n, m = _policies(variant, tag)
            native[i].extend(n)
            meas[i].extend(m)
            if is_fresh:
                fresh[i].extend(n)
        res = benchmark_result(cand_file, CANDIDATE)
        rule = res["rules"][OPERATING_POINT[0]]
        diag[f"{CANDIDATE}{'_' + tag if tag else ''}"] = {
            "benchmark_otsu_scaled_per_image_pct": rule["per_image_pct"]["mean"],
            "corr_pred_true": rule["corr_pred_true"],
            "per_scan_bias_pct": rule["per_scan_bias_pct"],
            "ap": res["ap"]["mean"], "roc_auc": res["roc_auc"]["mean"]}
        if plain_file is not None:
            aps[0].extend(benchmark_result(plain_file, "plain")["ap"]["per_fold"])
            aps[1].extend(res["ap"]["per_fold"])
    earlier, files = EARLIER
    versus = ([], [])
    for tag in files:
        versus[0].extend(_policies(earlier, tag)[0])
        versus[1].extend(_policies(CANDIDATE, tag)[0])
    out = {"native_per_image_pct": _paired(*native),
           "native_fresh_repetition_pct": _paired(*fresh),
           "measurement_per_image_pct": _paired(*meas),
           "ap_seeds_0_1": _paired(*aps, lower_is_better=False),
           "diagnostics": {f"native_vs_{earlier}_seeds_0_1": _paired(*versus), **diag}}
    n, f, m, a = (out[k] for k in ("native_per_image_pct", "native_fresh_repetition_pct",
                                   "measurement_per_image_pct", "ap_seeds_0_1"))
    out["checks"] = {
        "native_better_by_more_than_one_std": better_by_more_than_one_std(n),
        "fresh_repetition_native_lower": f["diff_mean"] < 0,
        "measurement_not_worse_by_more_than_one_std": m["diff_mean"] <= m["diff_std"],
        f"ap_not_lower_by_more_than_{MAX_AP_LOSS}": a["diff_mean"] >= -MAX_AP_LOSS}
    out["adopted"] = all(out["checks"].values())
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.parse_args(argv)
    missing = missing_inputs()
    if missing:
        print(f"gpu_aug_big_decision: not run yet: {len(missing)} result file(s) missing, "
              f"first {missing[0]} (see this script's docstring)", file=sys.stderr)
        return 2
    out = {"rule": "see the module docstring (committed before training)",
           "operating_point": list(OPERATING_POINT),
           "repetitions": {t: list(v) for t, v in REPETITIONS.items()}, **report()}
    save("gpu_aug_big_decision", out)
    print(json.dumps({k: out[k] for k in ("checks", "native_per_image_pct",
                                          "native_fresh_repetition_pct",
                                          "measurement_per_image_pct", "ap_seeds_0_1",
                                          "adopted")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
