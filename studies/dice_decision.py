"""Does an overlap (soft Dice) term in the training loss measure grain size better?

The class-balanced BCE of the UAED loss prices a background pixel several times lower
than a boundary pixel (RCF weights ``1.1 |pos| / |all|`` against ``|neg| / |all|``;
about four times with the 18 % boundary pixels of the TBM masks), so
the maps are wide (about a third of the pixels above 0.5) and each image's ℓ̄ depends on
where a threshold cuts those wide ridges; the per-image errors are largest on scans
whose texture is marked as boundary (scan 29, ℓ̄ too short). The ``dice`` variant of
``benchmarks/cv_uaed.py`` adds ``0.2 x soft_dice_loss(sigmoid(mu), mask)``
(``napari_srmat.edges.loss``): a false boundary pixel costs about as much as a missed one.
0.2, fixed before training, is the weight the ``cldice`` term had (a term of the order of
the weighted BCE at the end of a ``plain`` run); it is not tuned.

Judged on two fresh leave-scan-out repetitions whose ``plain`` fold models exist already
(seeds 4 and 5: ``benchmarks/cv_uaed_plain_s4.json``, ``benchmarks/cv_uaed_plain_s5.json``;
the ``dice`` folds are the same scans, the fold assignment comes from the seed), at the
shipped operating point (``otsu_scaled``, TTA ``none``, c cross-fitted on the other
folds of the same variant), native scale; tbm/test is not opened.

Decision rule, written and committed before any ``dice`` fold model was trained: adopt
``dice`` for the shipped recipe only if

1. over the 10 folds of the two repetitions, the mean paired per-fold difference
   ``dice − plain`` of the out-of-fold per-image ℓ̄ error is below zero by more than one
   standard deviation of those differences,
2. in each repetition that mean difference is below zero,
3. AP is not lower by more than 0.01 on average over the 10 folds, and
4. in neither repetition is the correlation of predicted with true ℓ̄ (over its 63
   out-of-fold regions) lower than ``plain``'s by more than 0.1 (the responsiveness
   guard of ``studies/quantile_decision.py``: a gain from shrinkage towards the mean
   does not count).

Adopting would then mean retraining the shipped weights with ``overlap_weight=0.2``,
recalibrating them and re-checking the whole measurement (``measure_grain_size``'s
automatic scale) before shipping.

    for s in 4 5; do OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/cv_uaed.py \\
        --data ../shared/data/tbm --work out/cv_uaed_s$s --seed $s --variants dice \\
        --out benchmarks/cv_uaed_dice_s$s.json; done
    PYTHONPATH=src python studies/dice_decision.py

Writes studies/results/dice_decision.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from _common import ROOT, better_by_more_than_one_std, save
from _common import paired_with_means as paired
from encoder_decision import compare_loaded, load_variant
from input_norm_decision import MAX_AP_LOSS, OPERATING_POINT

CANDIDATE = "dice"
#: (tag, reference report, candidate report) of each repetition.
REPETITIONS = (("s4", "cv_uaed_plain_s4.json", "cv_uaed_dice_s4.json"),
               ("s5", "cv_uaed_plain_s5.json", "cv_uaed_dice_s5.json"))
#: Largest drop of the correlation of predicted with true ℓ̄ that still counts as
#: responsive (as in studies/quantile_decision.py).
MAX_CORRELATION_LOSS = 0.1


def decide(bench: Path) -> dict:
    """Compare ``dice`` with ``plain`` on each repetition and apply the rule."""
    rule, tta = OPERATING_POINT
    per_rep, err, aps = {}, ([], []), ([], [])
    for tag, ref_file, cand_file in REPETITIONS:
        loaded = [load_variant(bench, ref_file, "plain"),
                  load_variant(bench, cand_file, CANDIDATE)]
        comp = compare_loaded(*loaded, "plain", CANDIDATE)
        # compare_loaded's own checks are the one-repetition rule of the encoder
        # decision, not this one
        del comp["checks"], comp["adopt_candidate"]
        sets = [v["set"] for v in loaded]
        comp["corr_pred_true"] = {variant: s["rules"][rule]["corr_pred_true"]
                                  for variant, s in zip(("plain", CANDIDATE), sets)}
        per_rep[tag] = comp
        for i, s in enumerate(sets):
            err[i].extend(s["rules"][rule]["per_image_pct"]["per_fold"])
            aps[i].extend(s["ap"]["per_fold"])
    per_image = paired(*err)
    ap = paired(*aps, lower_is_better=False)
    checks = {
        "pooled_folds_per_image_better_by_more_than_one_std":
            better_by_more_than_one_std(per_image),
        "each_repetition_mean_difference_below_zero":
            all(r["per_image_pct"]["diff_mean"] < 0 for r in per_rep.values()),
        "ap_not_lower_by_more_than_0.01": ap["diff_mean"] >= -MAX_AP_LOSS,
        "correlation_not_lower_by_more_than_0.1": all(
            r["corr_pred_true"][CANDIDATE] >= r["corr_pred_true"]["plain"]
            - MAX_CORRELATION_LOSS for r in per_rep.values()),
    }
    return {"operating_point": [rule, tta], "candidate": CANDIDATE,
            "per_image_pct": per_image, "ap": ap, "repetitions": per_rep,
            "checks": checks, "adopt_candidate": all(checks.values())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", type=Path, default=ROOT / "benchmarks")
    args = ap.parse_args(argv)
    report = decide(args.bench)
    save("dice_decision", report)
    print(json.dumps({k: report[k] for k in ("per_image_pct", "ap", "checks",
                                             "adopt_candidate")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
