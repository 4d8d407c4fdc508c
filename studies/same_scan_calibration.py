"""Does hand-labelling one field of a sample fix the operating point for its other fields?

The boundary model's operating point (``otsu_scaled``'s c) does not transfer from scan to
scan: a c fitted on other scans leaves about 12 % per-image ℓ̄ error out of fold, while
each image's own best c would leave almost none (ℓ̄ grows monotonically with the
threshold, so such an oracle says little by itself). A lab measuring a new sample can
afford to hand-draw the boundaries of one field of it. This study asks how much that
buys, out of fold: for every region of tbm/train + val whose scan has at least two
labelled regions, c is fitted (``InterceptTable.fit("otsu_scaled", ...)``, the
calibration of ``srmat edges export --calibrate``) on

* ``other_scans``: the regions of the other folds (the cross-fitted c of
  ``benchmarks/cv_uaed.py``: what the shipped workflow does),
* ``one_field``: one other region of the same scan (every choice, errors averaged over
  the choices),
* ``two_fields``: two other regions of the same scan (every pair; scans with at least
  three regions),
* ``all_other_fields``: every other region of the same scan,

always with the leave-scan-out fold model that never saw that scan; ℓ̄ of the region
itself is judged against its hand-drawn mask (the protocol's lines, exact thresholds).
tbm/test is not opened.

Added after the first run (on the ``dice`` maps of seed 4, which had shown that even
``all_other_fields`` barely helps), as a reference rather than a workflow:
``scan_oracle``, c fitted on every region of the same scan *including* the judged one
(in sample). It approximates what a perfect per-scan operating point would leave; not a
strict bound, because the fit searches the rule's c grid (0.4-1.8, which some regions'
own best c reach) with rounded thresholds while the errors are judged at exact ones.
Each region's own best c (fitted on it alone) and its spread within and between scans
are reported too. Means are given per image (``mean_per_image_pct``, every region
weighted alike) and per fold (``per_fold_pct``, as ``benchmarks/cv_uaed.py`` reports);
a region whose calibrated map gives no valid ℓ̄ counts as 100 %
(``n_invalid_calibrations``: how many (region, calibration set) pairs did).

Question and criterion, written and committed before the study was run: the workflow
"label one field, calibrate, measure the rest" is documented as a recommendation (and
made one option away in ``srmat grain-size``) only if ``one_field`` lowers the mean
per-image error against ``other_scans`` by more than one standard deviation of the paired
per-fold differences (folds of the leave-scan-out repetition) in every repetition
studied. Otherwise the negative result goes in the docs as it is.

    PYTHONPATH=src python studies/same_scan_calibration.py \\
        --work out/cv_uaed_s4 out/cv_uaed_s5 --variant plain

Writes studies/results/same_scan_calibration[_VARIANT].json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
from _common import DATA, ROOT, better_by_more_than_one_std, save, scan_of
from _common import paired_with_means as paired

RULE = "otsu_scaled"
TTA = "none"
SCHEMES = ("other_scans", "one_field", "two_fields", "all_other_fields", "scan_oracle")

sys.path.insert(0, str(ROOT / "benchmarks"))


def repetition(work: Path, variant: str) -> dict:
    """Per-image errors (%) of every calibration scheme on one leave-scan-out repetition."""
    from cv_uaed import _oof_maps, list_images

    from napari_srmat.edges.data import load_pairs
    from napari_srmat.edges.thresholds import RULES, InterceptTable

    samples = {s.name: s for s in load_pairs(list_images(DATA))}
    folds = json.loads((work / "folds.json").read_text())
    probs, _ = _oof_maps(work, variant, folds, TTA)
    names = [n for fold in folds for n in fold]
    fold_of = {n: k for k, fold in enumerate(folds) for n in fold}
    table = InterceptTable([probs[n] for n in names], [samples[n].mask for n in names])
    index = {n: i for i, n in enumerate(names)}
    by_scan: dict[str, list[int]] = {}
    for n in names:
        by_scan.setdefault(scan_of(Path(n)), []).append(index[n])

    invalid: dict[str, int] = dict.fromkeys(SCHEMES, 0)

    def errors(scheme: str, calibrations, i: int) -> float:
        """Mean per-image error (%) of region ``i`` over calibration sets (100 where its
        map gives no valid ℓ̄; counted in ``invalid``)."""
        out = []
        for idx in calibrations:
            res = table.errors(RULE, fit(tuple(idx)), [i], exact=True)
            invalid[scheme] += res["n_invalid"]
            out.append(100 * res["per_image"])
        return float(np.mean(out))

    fitted: dict[tuple[int, ...], dict] = {}

    def fit(idx: tuple[int, ...]) -> dict:
        if idx not in fitted:
            fitted[idx] = table.fit(RULE, list(idx))
        return fitted[idx]

    other_folds = {k: tuple(index[n] for j, f in enumerate(folds) if j != k for n in f)
                   for k in range(len(folds))}
    rows = []
    for scan, members in sorted(by_scan.items()):
        if len(members) < 2:
            continue
        for i in members:
            rest = [j for j in members if j != i]
            row = {"name": names[i], "scan": scan, "fold": fold_of[names[i]],
                   "true_px": round(float(table.true[i]), 3),
                   "other_scans": errors("other_scans", [other_folds[fold_of[names[i]]]], i),
                   "one_field": errors("one_field", [(j,) for j in rest], i),
                   "all_other_fields": errors("all_other_fields", [rest], i),
                   "scan_oracle": errors("scan_oracle", [members], i),
                   "c_own": fit((i,))["c"],
                   "c_one_field": [fit((j,))["c"] for j in rest]}
            if len(rest) >= 2:
                row["two_fields"] = errors("two_fields", itertools.combinations(rest, 2), i)
            rows.append(row)
    n_folds = len(folds)
    per_fold = {s: [float(np.mean([r[s] for r in rows if r["fold"] == k and s in r]))
                    for k in range(n_folds)] for s in SCHEMES}
    comparison = {s: paired(per_fold["other_scans"], per_fold[s])
                  for s in SCHEMES if s != "other_scans"}
    two = [r for r in rows if "two_fields" in r]
    log_c = {scan: np.log([r["c_own"] for r in rows if r["scan"] == scan])
             for scan in {r["scan"] for r in rows}}
    within = np.concatenate([v - v.mean() for v in log_c.values()])
    grid = RULES[RULE].grid()
    grid_ends = [grid[0]["c"], grid[-1]["c"]]
    return {"work": str(work), "variant": variant, "n_images": len(rows),
            "n_scans": len({r["scan"] for r in rows}),
            "mean_per_image_pct": {s: round(float(np.mean([r[s] for r in rows if s in r])), 3)
                                   for s in SCHEMES},
            "median_per_image_pct": {s: round(float(np.median([r[s] for r in rows if s in r])),
                                              3) for s in SCHEMES},
            "n_invalid_calibrations": invalid,
            "two_fields_subset": {"n_images": len(two), "other_scans": round(float(
                np.mean([r["other_scans"] for r in two])), 3), "two_fields": round(float(
                    np.mean([r["two_fields"] for r in two])), 3)},
            "per_fold_pct": per_fold, "vs_other_scans": comparison,
            "own_c_spread": {
                "what": "each region's own best c (fitted on it alone): standard deviation "
                        "of log c within scans (pooled, ddof 0) and of the scans' means",
                "within_scan_std_log": round(float(within.std()), 3),
                "between_scan_std_log": round(float(np.std([v.mean() for v in
                                                            log_c.values()])), 3),
                "at_grid_end": sum(r["c_own"] in grid_ends for r in rows),
                "grid_ends": grid_ends},
            "per_scan_pct": {scan: {s: round(float(np.mean([r[s] for r in rows
                                                            if r["scan"] == scan and s in r])),
                                              2) for s in SCHEMES}
                             for scan in sorted({r["scan"] for r in rows})},
            "per_image": rows}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, nargs="+", required=True,
                    help="leave-scan-out work folders of benchmarks/cv_uaed.py")
    ap.add_argument("--variant", default="plain")
    args = ap.parse_args(argv)
    reps = [repetition(w, args.variant) for w in args.work]
    criterion = all(better_by_more_than_one_std(r["vs_other_scans"]["one_field"])
                    for r in reps)
    name = "same_scan_calibration" + ("" if args.variant == "plain" else f"_{args.variant}")
    save(name, {"rule": RULE, "tta": TTA, "repetitions": reps,
                "criterion_one_field_better_by_more_than_one_std_in_every_repetition":
                criterion})
    for r in reps:
        print(r["work"], json.dumps(r["mean_per_image_pct"]), json.dumps(
            {k: (v["diff_mean"], v["diff_std"], v["folds_better"])
             for k, v in r["vs_other_scans"].items()}))
    print("criterion met:", criterion)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
