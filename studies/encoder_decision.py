"""Would a larger encoder generalise better to unseen scans? The decision, out of fold.

Compares the ``small`` variant of ``benchmarks/cv_uaed.py`` (encoder ``small``: 4.1 M
parameters, stage 0 at full resolution) with ``plain`` (``tiny``, 1.0 M, the shipped
encoder) over the five leave-scan-out folds of tbm/train + val (seed 0; the same folds,
recipe and seed; tbm/test is not opened), at the shipped operating point
(``otsu_scaled``, TTA ``none``, c cross-fitted on the other folds).

Decision rule, written before any ``small`` fold model was trained: switch the shipped
encoder to ``small`` only if its mean paired per-fold difference in the out-of-fold
per-image ℓ̄ error is below zero by more than one standard deviation of those
differences and its AP is not lower by more than 0.01 on average. (A switch would
then still need the whole measurement re-checked with the new weights before shipping.)

    PYTHONPATH=src python benchmarks/cv_uaed.py --work out/cv_uaed --variants small \\
        --out benchmarks/cv_uaed_small.json
    PYTHONPATH=src python studies/encoder_decision.py

Writes studies/results/encoder_decision.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from _common import ROOT, better_by_more_than_one_std, save
from _common import paired_with_means as paired
from input_norm_decision import MAX_AP_LOSS, OPERATING_POINT

CANDIDATE = ("cv_uaed_small.json", "small")
REFERENCE = ("cv_uaed.json", "plain")


def variant_result(report: dict, variant: str, tta: str) -> dict:
    """The results of one variant and TTA mode in a ``benchmarks/cv_uaed.py`` report."""
    return report["results"][f"{variant}/{tta}"]


def load_variant(bench: Path, fname: str, variant: str) -> dict:
    """One variant of a ``benchmarks/cv_uaed.py`` report in ``bench``: its results at the
    shipped TTA mode (``set``), the report's ``folds`` and its training CPU minutes."""
    report = json.loads((bench / fname).read_text())
    return {"set": variant_result(report, variant, OPERATING_POINT[1]),
            "folds": report["folds"],
            "cpu_min_per_fold": report["training"][variant]["cpu_min_per_fold"]}


def compare_variants(bench: Path, reference: tuple[str, str],
                     candidate: tuple[str, str]) -> dict:
    """Paired per-fold comparison of two ``benchmarks/cv_uaed.py`` variants and the
    decision (per-image error better by more than one std, AP not lower by more than
    :data:`MAX_AP_LOSS`); each variant given as (report file in ``bench``, variant)."""
    return compare_loaded(load_variant(bench, *reference), load_variant(bench, *candidate),
                          reference[1], candidate[1])


def compare_loaded(ref_variant: dict, cand_variant: dict, ref_name: str,
                   cand_name: str) -> dict:
    """:func:`compare_variants` of two variants already read by :func:`load_variant`."""
    rule, _ = OPERATING_POINT
    if ref_variant["folds"] != cand_variant["folds"]:
        raise SystemExit("the two reports hold different folds")
    ref, cand = ref_variant["set"], cand_variant["set"]
    err = paired(ref["rules"][rule]["per_image_pct"]["per_fold"],
                 cand["rules"][rule]["per_image_pct"]["per_fold"])
    pooled = paired(ref["rules"][rule]["pooled_pct"]["per_fold"],
                    cand["rules"][rule]["pooled_pct"]["per_fold"])
    aps = paired(ref["ap"]["per_fold"], cand["ap"]["per_fold"], lower_is_better=False)
    checks = {"per_image_better_by_more_than_one_std": better_by_more_than_one_std(err),
              "ap_not_lower_by_more_than_0.01": aps["diff_mean"] >= -MAX_AP_LOSS}
    return {"operating_point": list(OPERATING_POINT), "reference": ref_name,
            "candidate": cand_name, "per_image_pct": err, "pooled_pct": pooled, "ap": aps,
            "roc_auc": paired(ref["roc_auc"]["per_fold"], cand["roc_auc"]["per_fold"],
                              lower_is_better=False),
            "other_rules_per_image_pct": {
                r: paired(ref["rules"][r]["per_image_pct"]["per_fold"],
                          cand["rules"][r]["per_image_pct"]["per_fold"])
                for r in ref["rules"] if r in cand["rules"] and r != rule},
            "cpu_min_per_fold_model": {"reference": ref_variant["cpu_min_per_fold"],
                                       "candidate": cand_variant["cpu_min_per_fold"]},
            "checks": checks, "adopt_candidate": all(checks.values())}


def run_decision(name: str, candidate: tuple[str, str], argv=None, *,
                 description: str = "", add_arguments=None, extend=None) -> int:
    """Command line of a variant decision: compare, write ``results/NAME.json``, print.

    ``add_arguments(parser)`` adds options; ``extend(args)`` returns more report keys.
    """
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--bench", type=Path, default=ROOT / "benchmarks")
    if add_arguments is not None:
        add_arguments(ap)
    args = ap.parse_args(argv)
    report = compare_variants(args.bench, REFERENCE, candidate)
    if extend is not None:
        report.update(extend(args))
    save(name, report)
    print(json.dumps({k: report[k] for k in ("per_image_pct", "ap", "checks",
                                             "adopt_candidate")}, indent=1))
    return 0


def main(argv=None) -> int:
    return run_decision("encoder_decision", CANDIDATE, argv,
                        description=__doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main())
