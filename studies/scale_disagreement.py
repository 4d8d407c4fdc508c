"""Flag the native-sharp inputs whose two scales disagree? Out of fold, with a rule stated first.

Since "Native-sharp inputs keep their scale" (docs/boundaries.md), a sharp micrograph whose
autocorrelation estimate asks for a down-sampling by at most 2 is measured at scale 1.
On tbm/test that cost 3.3 points on large-grain regions, and on the scans in no split
(``studies/unseen_scans_arms.py``) 7 of 44 regions read 1.27-1.57 x longer in every
SR(LR) arm (measured at the estimate's scale) than at their own scale; on the labelled
regions such disagreements are rarer (4-5 of 63) and their errors larger than usual
(15-20 % for the native reading). Which scale is right differs from region to region.

The candidate (``cross-check``): when the automatic scale keeps a native-sharp input at
1 although its estimate asks for another scale ``s_e``, measure it at ``s_e`` too; where
the two ℓ̄ differ by more than a factor :data:`DISAGREEMENT_FACTOR`, keep ℓ̄ at scale 1
(the per-image error does not change) but warn and widen the 95 % interval to the union
of the two intervals. It costs one more pass of the model for those inputs.

**Outcome (seed 7): not adopted.** Criteria 2 and 3 held (the union interval held 6 of 6
flagged regions, 20 of 20 over seeds 4-7 against 13 of 20 for the native interval; 6 of
63 flagged); criterion 1 did not (15.1 vs 10.7 %: 1.41 x). The implementation written
meanwhile was not committed. docs/boundaries.md "Cross-checking native-sharp inputs".

**Decision rule, written before the fresh repetition (seed 7) was trained or measured**
(the rule and the factor were formulated after looking at the SR(LR)-vs-HR
disagreements of seeds 4-6 and of the shipped weights, not at this script's output; the
exploration on seeds 4-6 is reported apart). Adopt the cross-check in
``measure_grain_size`` only if, on seed 7,

1. the flagged regions' mean absolute per-image ℓ̄ error (native reading) is at least
   1.5 times that of the regions not flagged (the warning points at worse measurements);
2. the union interval holds the truth for at least as many flagged regions as the native
   interval, and for at least 90 % of the flagged regions pooled over seeds 4-7;
3. at most 15 % of the 63 regions are flagged (a warning that fires on most images is
   noise).

Data: the HR arm of ``studies/results/three_arm_oof*.json`` (every tbm/train+val region
measured by the leave-scan-out ``plain`` fold model that did not see it, the whole
measurement at its automatic scale), plus the same fold models at the estimate's scale
(computed here). ``--shipped`` adds the shipped weights on the labelled regions (in
sample for train) and on the 44 regions of the scans in no split
(``studies/results/unseen_scans_arms.json``; no truth there, flags only). Never opens
tbm/test.

    cd studies   # exploration (seeds 4-6, shipped weights), then the decision (seed 7)
    OMP_NUM_THREADS=1 PYTHONPATH=../src python scale_disagreement.py \\
        --run s4=out/cv_uaed_s4:../benchmarks/cv_uaed_plain_s4.json \\
        --run s5=out/cv_uaed_s5:../benchmarks/cv_uaed_plain_s5.json \\
        --run s6=out/cv_uaed_s6:1.2 --shipped --name scale_disagreement_explore
    OMP_NUM_THREADS=1 PYTHONPATH=../src python scale_disagreement.py \\
        --run s7=out/cv_uaed_s7:1.2 --run s4=... --run s5=... --run s6=... \\
        --name scale_disagreement

Writes studies/results/<name>.json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from _common import DATA, RESULTS, save, tbm_pairs
from unseen_scans_arms import DISAGREEMENT_FACTOR  # the same factor for both looks

HR_ARM = "HR (native region)"


def _run_rows(label: str) -> dict:
    """The HR rows (names, truth, measurements) of one repetition of three_arm_oof."""
    for path in sorted(RESULTS.glob("three_arm_oof*.json")):
        res = json.loads(path.read_text())
        if label in res["runs"]:
            run = res["runs"][label]
            return {"names": run["names"], "truth": run["true_l_px"],
                    "rows": run["rows"][HR_ARM], "fold_of": run.get("fold_of")}
    raise SystemExit(f"no three-arm repetition {label!r} in {RESULTS}/three_arm_oof*.json")


def estimate_scale(row: dict) -> float | None:
    """The scale the estimate alone asks for, when the automatic scale kept 1 instead."""
    from napari_srmat.grainsize import choose_inference_scale

    if row["l_px"] is None or row["inference_scale"] != 1.0 or row["estimated_px"] is None:
        return None
    s = choose_inference_scale(row["estimated_px"])
    return None if s == 1.0 else s


def cross_checked(row: dict, alt: dict | None, factor: float = DISAGREEMENT_FACTOR) -> dict:
    """The candidate's output for one region: flag and interval (ℓ̄ unchanged)."""
    out = {"flagged": False, "ci95_px": row["ci95_px"]}
    if alt is None or alt["l_px"] is None:
        return out
    ratio = alt["l_px"] / row["l_px"]
    out["ratio"] = round(ratio, 4)
    if abs(math.log(ratio)) > math.log(factor):
        out["flagged"] = True
        out["ci95_px"] = [min(row["ci95_px"][0], alt["ci95_px"][0]),
                          max(row["ci95_px"][1], alt["ci95_px"][1])]
    return out


def evaluate(names, truth, rows, alts, factor: float = DISAGREEMENT_FACTOR) -> dict:
    """Flags, errors of flagged / other regions, coverage and half-width of both intervals."""
    checks = [cross_checked(r, a, factor) for r, a in zip(rows, alts)]
    err = [abs(r["l_px"] / t - 1) for r, t in zip(rows, truth)]
    flagged = [i for i, c in enumerate(checks) if c["flagged"]]
    other = [i for i, c in enumerate(checks) if not c["flagged"]]

    def covers(ci, t):
        return ci[0] <= t <= ci[1]

    def half_width(ci, lp):
        return (ci[1] - ci[0]) / 2 / lp

    out = {
        "n": len(rows), "n_candidates": sum(a is not None for a in alts),
        "n_flagged": len(flagged),
        "mean_abs_error_pct_flagged": None if not flagged else round(
            100 * float(np.mean([err[i] for i in flagged])), 2),
        "mean_abs_error_pct_other": round(100 * float(np.mean([err[i] for i in other])), 2),
        "flagged_covered_by_native_interval": sum(covers(rows[i]["ci95_px"], truth[i])
                                                  for i in flagged),
        "flagged_covered_by_union_interval": sum(covers(checks[i]["ci95_px"], truth[i])
                                                 for i in flagged),
        "coverage_pct_all_native": round(100 * float(np.mean(
            [covers(r["ci95_px"], t) for r, t in zip(rows, truth)])), 1),
        "coverage_pct_all_cross_checked": round(100 * float(np.mean(
            [covers(c["ci95_px"], t) for c, t in zip(checks, truth)])), 1),
        "median_half_width_pct_flagged_native": None if not flagged else round(100 * float(
            np.median([half_width(rows[i]["ci95_px"], rows[i]["l_px"]) for i in flagged])), 1),
        "median_half_width_pct_flagged_union": None if not flagged else round(100 * float(
            np.median([half_width(checks[i]["ci95_px"], rows[i]["l_px"]) for i in flagged])), 1),
        "flagged": [{"region": names[i], "truth_px": round(truth[i], 2),
                     "native_px": round(rows[i]["l_px"], 2),
                     "estimate_scale_px": round(alts[i]["l_px"], 2),
                     "native_error_pct": round(100 * (rows[i]["l_px"] / truth[i] - 1), 1),
                     "estimate_scale_error_pct": round(
                         100 * (alts[i]["l_px"] / truth[i] - 1), 1)} for i in flagged],
    }
    if flagged:
        out["n_flagged_native_closer"] = sum(
            abs(rows[i]["l_px"] - truth[i]) < abs(alts[i]["l_px"] - truth[i]) for i in flagged)
    return out


def _as_measured(image, name: str):
    """A region exactly as the three-arm job measured it: uint8 RGB, cropped to whole
    pixels of its x4-reduced copy."""
    from napari_srmat.studies.three_arm import THREE_ARM_SCALE, _crop_to_scale, _rgb_uint8

    return _crop_to_scale(_rgb_uint8(image, name), THREE_ARM_SCALE, name)


def measure_at(model, image, scale: float) -> dict:
    from napari_srmat.grainsize import measure_grain_size

    res = measure_grain_size(image, model=model, inference_scale=scale)
    return {"l_px": res.mean_intercept_px,
            "ci95_px": None if res.mean_intercept_ci95_px is None
            else list(res.mean_intercept_ci95_px), "inference_scale": scale}


def measure_run(label: str, work: Path, report: str) -> dict:
    """One repetition: the estimate-scale reading of every candidate region by its fold
    model."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from three_arm_oof import fold_models, report_or_c

    from napari_srmat.io import read_grey_or_rgb_float

    data = _run_rows(label)
    index = {n: i for i, n in enumerate(data["names"])}
    paths = {Path(img).stem: img for _, img, _ in tbm_pairs()}
    alts: list[dict | None] = [None] * len(data["names"])
    for _, names, _, model in fold_models(work, report_or_c(report)):
        for n in names:
            s = estimate_scale(data["rows"][index[n]])
            if s is None:
                continue
            region = _as_measured(read_grey_or_rgb_float(paths[n]), n)
            alts[index[n]] = measure_at(model, region, s)
    return {"alts": alts, **data}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", action="append", default=[],
                    help="LABEL=WORK:REPORT_OR_C, as three_arm_oof.py (the label must be "
                         "a repetition in results/three_arm_oof*.json)")
    ap.add_argument("--shipped", action="store_true",
                    help="also the shipped weights (labelled regions and unseen scans)")
    ap.add_argument("--name", default="scale_disagreement")
    args = ap.parse_args(argv)
    t0 = time.time()
    payload: dict = {"factor": DISAGREEMENT_FACTOR, "runs": {}}
    for spec in args.run:
        label, rest = spec.split("=", 1)
        work, report = rest.split(":", 1)
        run = measure_run(label, Path(work), report)
        payload["runs"][label] = {
            "work": work, "evaluation": evaluate(run["names"], run["truth"], run["rows"],
                                                 run["alts"]),
            "alts": run["alts"]}
        print(label, json.dumps({k: v for k, v in payload["runs"][label]["evaluation"].items()
                                 if k != "flagged"}), file=sys.stderr)
    if args.shipped:
        payload["shipped"] = measure_shipped()
    save(args.name, {**payload, "seconds": round(time.time() - t0, 1)})
    return 0


def measure_shipped() -> dict:
    """The shipped weights: labelled regions (truth; in sample for train) and the unseen
    scans' regions (flags only)."""
    from napari_srmat.edges import load_boundary_model
    from napari_srmat.io import read_array, read_grey_or_rgb_float

    model = load_boundary_model(device="cpu")
    oof = json.loads((RESULTS / "three_arm_oof.json").read_text())["shipped_in_sample"]
    paths = {Path(img).stem: img for _, img, _ in tbm_pairs()}
    rows = oof["rows"][HR_ARM]
    alts = []
    for n, r in zip(oof["names"], rows):
        s = estimate_scale(r)
        alts.append(None if s is None else measure_at(
            model, _as_measured(read_grey_or_rgb_float(paths[n]), n), s))
    labelled = evaluate(oof["names"], oof["true_l_px"], rows, alts)
    print("shipped, labelled", json.dumps({k: v for k, v in labelled.items() if k != "flagged"}),
          file=sys.stderr)

    unseen = json.loads((RESULTS / "unseen_scans_arms.json").read_text())
    scans = {}
    u_rows = [r[HR_ARM] for r in unseen["rows"]]
    u_alts = []
    for n, r in zip(unseen["names"], u_rows):
        s = estimate_scale(r)
        if s is None:
            u_alts.append(None)
            continue
        scan, y, x = n.split("-")
        if scan not in scans:
            scans[scan] = np.asarray(read_array(DATA.parent / "scans" / f"scan_{scan}.jpg"))
        side = unseen["region_px"]
        region = scans[scan][int(y):int(y) + side, int(x):int(x) + side, :3]
        u_alts.append(measure_at(model, _as_measured(region, n), s))
    checks = [cross_checked(r, a) for r, a in zip(u_rows, u_alts)]
    unseen_out = {"n": len(u_rows), "n_candidates": sum(a is not None for a in u_alts),
                  "n_flagged": sum(c["flagged"] for c in checks),
                  "flagged": [{"region": n, "native_px": round(r["l_px"], 2),
                               "estimate_scale_px": round(a["l_px"], 2)}
                              for n, r, a, c in zip(unseen["names"], u_rows, u_alts, checks)
                              if c["flagged"]]}
    print("shipped, unseen scans", json.dumps(unseen_out), file=sys.stderr)
    return {"labelled": labelled, "labelled_alts": alts, "unseen": unseen_out,
            "unseen_alts": u_alts}


if __name__ == "__main__":
    raise SystemExit(main())
