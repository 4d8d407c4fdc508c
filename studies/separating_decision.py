"""Should the grain size binarise with ``separating`` instead of ``otsu_scaled``? A
pre-stated decision.

``separating`` (``edges.thresholds.separating_boundaries``) is ``otsu_scaled`` followed
by dropping every boundary pixel that does not separate two different regions: spurs
ending inside a grain and loose fragments, whatever their length (``prune`` drops spurs
shorter than k ≤ 10 px only). Each such piece counts as intercepts on the test lines and
shortens ℓ̄; without them a lower threshold (more faint boundaries) can be afforded.

Where the idea comes from (an exploration, not evidence for this decision):
``studies/region_merge_exploration.py`` on the seed-1 ``long`` fold models, the only two
folds trained at the time (25 regions, scans 11, 14, 15, 17, 22): per-image ℓ̄ error
12.5 % with ``otsu_scaled`` against 8.9 % with the dropping alone (c cross-fitted between
the two folds on a coarse grid; lower c chosen, 0.6-0.8 instead of 1.1-1.5) and 9.2 %
when adjacent regions of similar colour were merged as well (an extra parameter and the
image needed: the simpler rule is the candidate).

Decision rule, written and committed before any fold model of the confirmation
repetition was trained: a fresh leave-scan-out repetition, seed 4 (its own fold
assignment; no model was ever trained on it), variant ``plain`` (the recipe every
decision is judged with: 80 epochs), TTA ``none`` (the grain-size default),
``benchmarks/cv_uaed.py``'s evaluation (parameters cross-fitted per fold, exact ℓ̄).
Adopt ``separating`` for the grain-size measurement only if its out-of-fold per-image ℓ̄
error is lower than ``otsu_scaled``'s by more than one standard deviation of the paired
per-fold differences (``_common.better_by_more_than_one_std``) and its pooled error is
not higher by more than one point. The seed-1 ``long`` repetition (exploration) is
reported beside it and does not enter the decision. Adopting would mean:
``measure_grain_size`` binarises with ``separating`` (its c fitted out of fold inside
the whole measurement, ``MODEL_LOG_ERROR_95`` recalibrated), the whole measurement
re-judged on the same repetition, the final tbm/test table rerun once.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/cv_uaed.py --work out/cv_uaed_s4 \\
        --seed 4 --variants plain --out benchmarks/cv_uaed_plain_s4.json
    python studies/separating_decision.py --benchmark benchmarks/cv_uaed_plain_s4.json \\
        --exploration benchmarks/cv_uaed_long_s1.json

Writes studies/results/separating_decision.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _common import ROOT, benchmark_rule_comparison, rule_decision_checks, save_rule_decision

REFERENCE, CANDIDATE = "otsu_scaled", "separating"
MAX_POOLED_LOSS_POINTS = 1.0


def compare(path: Path, key: str) -> dict:
    """:func:`_common.rule_comparison` of ``otsu_scaled`` and ``separating`` in one entry of
    a ``benchmarks/cv_uaed.py`` result file."""
    return benchmark_rule_comparison(path, key, REFERENCE, CANDIDATE)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--benchmark", type=Path, default=ROOT / "benchmarks/cv_uaed_plain_s4.json",
                    help="benchmarks/cv_uaed.py result of the confirmation repetition")
    ap.add_argument("--key", default="plain/none")
    ap.add_argument("--exploration", type=Path, default=None,
                    help="a cv_uaed result reported beside it (not part of the decision)")
    ap.add_argument("--exploration-key", default="long/none")
    args = ap.parse_args(argv)
    decisive = compare(args.benchmark, args.key)
    checks = rule_decision_checks(decisive, MAX_POOLED_LOSS_POINTS)
    report = {"reference": REFERENCE, "candidate": CANDIDATE, "decisive": decisive,
              "checks": checks, "adopt": all(checks.values()),
              "inputs": {"benchmark": str(args.benchmark), "key": args.key}}
    if args.exploration is not None:
        report["exploration"] = compare(args.exploration, args.exploration_key)
        report["inputs"]["exploration"] = f"{args.exploration} [{args.exploration_key}]"
    save_rule_decision("separating_decision", report, "adopt")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
