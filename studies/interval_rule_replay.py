"""How far can the line-sampling rule of 0a6b0a2 move the recorded intervals of runs that
cannot be re-measured? A bound, from the result files alone.

Commit 0a6b0a2 made the line-sampling term of ℓ̄'s 95 % interval ``ℓ̄ [1 / (1 + r),
1 / (1 - r)]`` at every count (``grainsize.sampling_log_terms``); before, it was ``±r``
on the log scale from 50 intersections on. The out-of-fold runs of
``three_arm_oof.py`` (seeds 4-7) and ``scale_disagreement.py`` need the fold models of
``benchmarks/cv_uaed.py``, which are not kept, so their intervals are the old rule's;
so are those of ``unseen_scans_arms.py`` while its file predates the change (there HR's ℓ̄
stands for the truth).
Their rows record ℓ̄ (``l_px``) and the interval (``ci95_px``) but not ``r``. This
script bounds the change instead of guessing it:

* each end is ``ℓ̄ exp(∓sqrt(s² + p² + m²))`` (``intercept_interval``) with ``m`` the
  model term of that side: ``MODEL_LOG_ERROR_95`` or, for coarse inputs,
  ``COARSE_MODEL_LOG_ERROR_95`` (the one for which both ends give the same ``s² + p²``,
  within :data:`MATCH_TOL`; rows that match neither are counted apart);
* the largest change comes with no pixel term (``s² = s² + p²``): the low end's
  ``s`` becomes ``ln(1 + s)``, the high end's ``-ln(1 - s)``;
* a row's coverage can change only if its truth lies between its old and its new end.

Rows with fewer than 50 intersections had the Poisson floor (wider than the new term);
the rows record no count, so such rows are not told apart (documented inputs count ~150
or more). Reported per file, run and arm: coverage (%) old and at the largest change,
rows that can flip, median half-width (%) old and at the largest change.

    python studies/interval_rule_replay.py

Writes studies/results/interval_rule_replay.json (seconds).
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np
from _common import RESULTS, no_options, save

#: Two sides "give the same s² + p²" within this (log scale, squared).
MATCH_TOL = 2e-3
FILES = ("three_arm_oof", "three_arm_oof_s6", "three_arm_oof_s7")
#: When commit 0a6b0a2 changed the rule: a result file dated later is not replayed (its
#: intervals are the new rule's already).
RULE_DATE = "2026-12-05 17:35"


def terms() -> dict[str, tuple[float, float]]:
    """Model terms (low side, high side) on the log scale, as ``intercept_interval`` uses
    them: a positive error (ℓ̄ too long) widens the interval below ℓ̄."""
    from napari_srmat.grainsize import COARSE_MODEL_LOG_ERROR_95, MODEL_LOG_ERROR_95

    return {name: (hi, -lo) for name, (lo, hi) in
            (("calibrated", MODEL_LOG_ERROR_95), ("coarse", COARSE_MODEL_LOG_ERROR_95))}


def replay(l_px: float, ci: list[float], model: dict) -> tuple[str, list[float]] | None:
    """The model term a row was made with and its interval at the largest change."""
    a, b = math.log(l_px / ci[0]) ** 2, math.log(ci[1] / l_px) ** 2
    for name, (m_lo, m_hi) in model.items():
        s2_lo, s2_hi = a - m_lo ** 2, b - m_hi ** 2
        if abs(s2_lo - s2_hi) <= MATCH_TOL and min(s2_lo, s2_hi) > -MATCH_TOL:
            s = math.sqrt(max(0.0, (s2_lo + s2_hi) / 2))
            if s >= 1:
                return name, [math.nan, math.inf]
            lo = math.sqrt(math.log1p(s) ** 2 + max(0.0, s2_lo - s * s) + m_lo ** 2)
            hi = math.sqrt(math.log1p(-s) ** 2 + max(0.0, s2_hi - s * s) + m_hi ** 2)
            return name, [l_px * math.exp(-lo), l_px * math.exp(hi)]
    return None


def arm_summary(rows: list[dict], truth: list[float], model: dict) -> dict:
    old_in, new_in, old_hw, new_hw, flips, unmatched, kinds = [], [], [], [], 0, 0, {}
    for m, t in zip(rows, truth):
        if m.get("ci95_px") is None or m.get("l_px") is None:
            continue
        ci = m["ci95_px"]
        got = replay(m["l_px"], ci, model)
        inside = ci[0] <= t <= ci[1]
        old_in.append(inside)
        old_hw.append((ci[1] - ci[0]) / 2 / m["l_px"])
        if got is None:
            unmatched += 1
            new_in.append(inside)
            new_hw.append(old_hw[-1])
            continue
        kinds[got[0]] = kinds.get(got[0], 0) + 1
        new = got[1]
        new_in.append(new[0] <= t <= new[1])
        new_hw.append((new[1] - new[0]) / 2 / m["l_px"])
        flips += new_in[-1] != inside
    n = len(old_in)
    pct = (lambda v: round(100 * float(np.mean(v)), 1) if v else None)  # noqa: E731
    med = (lambda v: round(100 * float(np.median(v)), 2) if v else None)  # noqa: E731
    return {"n": n, "coverage_pct_old": pct(old_in), "coverage_pct_largest_change": pct(new_in),
            "rows_that_can_flip": flips, "median_half_width_pct_old": med(old_hw),
            "median_half_width_pct_largest_change": med(new_hw),
            "model_term_rows": kinds, "rows_matching_no_term": unmatched}


def main() -> int:
    no_options(__doc__)
    model = terms()
    out = {}
    for name in FILES:
        res = json.loads((RESULTS / f"{name}.json").read_text())
        if res["date"] >= RULE_DATE:
            continue
        for label, run in res["runs"].items():
            out[f"{name}/{label}"] = {arm: arm_summary(rows, run["true_l_px"], model)
                                      for arm, rows in run["rows"].items()}
    unseen = json.loads((RESULTS / "unseen_scans_arms.json").read_text())
    if unseen["date"] < RULE_DATE:  # no truth: HR's ℓ̄ is the reference
        hr = [r["HR (native region)"]["l_px"] for r in unseen["rows"]]
        out["unseen_scans_arms (HR's ℓ̄ as the reference)"] = {
            arm: arm_summary([r[arm] for r, h in zip(unseen["rows"], hr) if h is not None],
                             [h for h in hr if h is not None], model)
            for arm in unseen["rows"][0] if arm != "HR (native region)"}
    dis = json.loads((RESULTS / "scale_disagreement.json").read_text())
    if dis["date"] >= RULE_DATE:
        dis = {"runs": {}}
    runs = {label: run for name in FILES
            for label, run in json.loads((RESULTS / f"{name}.json").read_text())["runs"].items()}
    for label, run in dis["runs"].items():
        truth = runs[label]["true_l_px"]
        alts = [(a, t) for a, t in zip(run["alts"], truth) if a is not None]
        out[f"scale_disagreement/{label} (estimate's scale)"] = {
            "alt": arm_summary([a for a, _ in alts], [t for _, t in alts], model)}
    for key, arms in out.items():
        for arm, s in arms.items():
            print(f"{key:45s} {arm:32s} n {s['n']:3d} coverage {s['coverage_pct_old']} -> "
                  f"{s['coverage_pct_largest_change']} (can flip: {s['rows_that_can_flip']}), "
                  f"median half-width {s['median_half_width_pct_old']} -> "
                  f"{s['median_half_width_pct_largest_change']} %, terms {s['model_term_rows']}"
                  f", unmatched {s['rows_matching_no_term']}")
    save("interval_rule_replay", {"match_tol": MATCH_TOL, "rule_date": RULE_DATE,
                                  "model_terms": model,
                                  "by_run": out})
    return 0


if __name__ == "__main__":
    sys.exit(main())
