"""With longer-trained models, should grain size use TTA d4? A pre-stated confirmation.

On the seed-0 leave-scan-out repetition, the ``long`` fold models (240 epochs,
``studies/epochs_decision.py``) measured ℓ̄ with ``otsu_scaled`` at 9.6 % per image with
TTA ``none`` and 7.9 % with ``d4``: paired per fold −1.73 ± 1.25 points, 5 of 5 folds
better (``benchmarks/cv_uaed_long.json``). With the 80-epoch ``plain`` models the same
comparison is −0.61 ± 0.97 (4 of 5), which is why ``none`` was kept. The shipped weights
were trained 280 epochs, so the ``long`` models are the closer stand-in for them. The
candidate (formulated on seed 0, after seeing it): the grain-size measurement's default
operating point becomes ``otsu_scaled`` with TTA ``d4`` (about 8x the model's compute;
0.55 vs 0.07 CPU-s per 256 px region on one thread).

Decision rule, written and committed before any fold model of the confirmation
repetition was trained: on the seed-1 repetition (``out/cv_uaed_s1`` folds, never used
for this comparison), ``long`` fold models, ``benchmarks/cv_uaed.py``'s evaluation
(c cross-fitted per TTA mode): adopt ``d4`` only if ``otsu_scaled`` with ``d4`` has a
lower out-of-fold per-image ℓ̄ error than with ``none`` by more than one standard
deviation of the paired per-fold differences (``_common.better_by_more_than_one_std``),
and its AP is not lower. Adopting would mean: ``DEFAULT_TTA`` of the grain-size
measurement ``d4``, its ``otsu_scaled`` c and ``MODEL_LOG_ERROR_95`` recalibrated
(``studies/grain_size_calibration.py``), the final tbm/test table rerun once.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/cv_uaed.py --work out/cv_uaed_s1 \\
        --seed 1 --variants long --out benchmarks/cv_uaed_long_s1.json
    python studies/long_d4_confirmation.py --benchmark benchmarks/cv_uaed_long_s1.json

Writes studies/results/long_d4_confirmation.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from _common import ROOT, better_by_more_than_one_std, save
from _common import paired_with_means as _paired

RULE = "otsu_scaled"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--benchmark", type=Path, default=ROOT / "benchmarks/cv_uaed_long_s1.json",
                    help="benchmarks/cv_uaed.py result of the confirmation repetition")
    args = ap.parse_args(argv)
    res = json.loads(args.benchmark.read_text())["results"]
    none, d4 = res["long/none"], res["long/d4"]
    err = _paired(none["rules"][RULE]["per_image_pct"]["per_fold"],
                  d4["rules"][RULE]["per_image_pct"]["per_fold"])
    ap_pair = _paired(none["ap"]["per_fold"], d4["ap"]["per_fold"], lower_is_better=False)
    checks = {"d4_better_by_more_than_one_std": better_by_more_than_one_std(err),
              "d4_ap_not_lower": ap_pair["diff_mean"] >= 0}
    report = {"rule": RULE, "per_image_pct_none_vs_d4": err, "ap_none_vs_d4": ap_pair,
              "checks": checks, "adopt_d4": all(checks.values()),
              "inputs": {"benchmark": str(args.benchmark)}}
    save("long_d4_confirmation", report)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
