"""Would an ensemble of boundary models generalise better to unseen scans? Out of fold.

Every region of tbm/train + val has an out-of-fold probability map from each
leave-scan-out repetition of ``benchmarks/cv_uaed.py`` (seed 0: ``out/cv_uaed``; seed 1,
other fold assignment: ``out/cv_uaed_s1``): a map made by a fold model that never saw the
region's scan. The mean of such maps is therefore an out-of-fold map of an ensemble whose
members never saw the scan. This script forms those means, regroups every map (single or
mean) into the seed-0 folds, and judges each set with ``cv_uaed.evaluate_set`` (every
threshold rule, parameters cross-fitted on the other folds; TTA ``none``; tbm/test is
not opened).

Sets:

* ``plain_s0``, ``plain_s1``: the shipped recipe (``plain``), one model per region;
  ``plain_s0`` reproduces ``benchmarks/cv_uaed.json`` (a check).
* ``ens_plain``: the mean of ``plain_s0`` and ``plain_s1`` (two seeds of one recipe:
  what shipping two models of the shipped recipe would be; 2x the model's CPU time).
* ``ens_native``: the mean of every native-scale model of both repetitions (``plain``
  and ``norm`` of both seeds; ``small``, ``augment`` and ``zoom`` of seed 0; 7 maps):
  reported, not a candidate (it mixes recipes whose single adoption was refused, and
  costs about 10x the shipped model).

Decision rule, written down before any ensemble map was evaluated: ship a two-seed
ensemble of the ``plain`` recipe only if, at the shipped operating point
(``otsu_scaled``, TTA ``none``), its per-fold out-of-fold per-image ℓ̄ error is below
the mean of its two members' per-fold errors by more than one standard deviation of
those paired per-fold differences, and its pixel AP is not lower than the members' mean
by more than 0.01. (Adoption would then need the ensemble's members trained on all of
train + val and the whole measurement re-checked before shipping.)

Confirmation (``--stage confirm``; rule written and committed before the seed-2 and
seed-3 repetitions were trained): the first decision said no (−1.5 ± 1.6 points, 5 of 5
folds better). The same rule is applied once more to a fresh pair, ``ens_plain_s23``:
the ``plain`` recipe trained in two new repetitions (seeds 2 and 3, each with its own
fold assignment; ``out/cv_uaed_s2``, ``out/cv_uaed_s3``), none of whose maps entered the
first decision. Recommend the two-seed ensemble only if this fresh pair passes the rule
(per-fold per-image error below its members' mean by more than one std of the paired
differences, AP not lower by more than 0.01). ``ens_plain_4`` (all four seeds) is
reported, not judged.

    OMP_NUM_THREADS=1 PYTHONPATH=src python studies/ensemble_decision.py \\
        --out-root out --sets plain_s0,plain_s1        # one process per core, cached
    OMP_NUM_THREADS=1 PYTHONPATH=src python studies/ensemble_decision.py \\
        --out-root out --sets ens_plain,ens_native
    PYTHONPATH=src python studies/ensemble_decision.py --out-root out --stage decide
    # the confirmation: two new repetitions of the plain recipe, then
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/cv_uaed.py --seed 2 \\
        --work out/cv_uaed_s2 --variants plain --stage train     # and --seed 3, cv_uaed_s3
    OMP_NUM_THREADS=1 PYTHONPATH=src python studies/ensemble_decision.py \\
        --out-root out --sets plain_s2,plain_s3,ens_plain_s23,ens_plain_4
    PYTHONPATH=src python studies/ensemble_decision.py --out-root out --stage confirm

Writes ``OUT_ROOT/cv_ensemble/SET/`` (maps and cached results) and
studies/results/ensemble_decision.json (``--stage confirm``:
studies/results/ensemble_confirm_decision.json).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from _common import DATA, ROOT, better_by_more_than_one_std, paired_with_means, save
from input_norm_decision import MAX_AP_LOSS, OPERATING_POINT

sys.path.insert(0, str(ROOT / "benchmarks"))

#: Member maps: (work folder under ``--out-root``, variant of ``benchmarks/cv_uaed.py``).
MEMBERS = {"plain_s0": ("cv_uaed", "plain"), "plain_s1": ("cv_uaed_s1", "plain"),
           "plain_s2": ("cv_uaed_s2", "plain"), "plain_s3": ("cv_uaed_s3", "plain"),
           "norm_s0": ("cv_uaed", "norm"), "norm_s1": ("cv_uaed_s1", "norm"),
           "small_s0": ("cv_uaed", "small"), "augment_s0": ("cv_uaed", "augment"),
           "zoom_s0": ("cv_uaed", "zoom")}
#: The sets judged, each the mean of these members' maps.
SETS = {"plain_s0": ("plain_s0",), "plain_s1": ("plain_s1",),
        "ens_plain": ("plain_s0", "plain_s1"),
        "ens_native": tuple(m for m in MEMBERS if m not in ("plain_s2", "plain_s3")),
        "plain_s2": ("plain_s2",), "plain_s3": ("plain_s3",),
        "ens_plain_s23": ("plain_s2", "plain_s3"),
        "ens_plain_4": ("plain_s0", "plain_s1", "plain_s2", "plain_s3")}
CANDIDATE, SINGLES = "ens_plain", ("plain_s0", "plain_s1")
#: The confirmation: a fresh pair of repetitions (see the module docstring).
CONFIRM_CANDIDATE, CONFIRM_SINGLES = "ens_plain_s23", ("plain_s2", "plain_s3")
FIRST_SETS = ("plain_s0", "plain_s1", "ens_plain", "ens_native")
CONFIRM_SETS = ("plain_s2", "plain_s3", "ens_plain_s23", "ens_plain_4")
WORK_NAME = "cv_ensemble"


def member_maps(out_root: Path, member: str) -> tuple[dict, dict, float]:
    """Out-of-fold maps of one member: ``{name: prob}``, ``{name: sigma}``, CPU s per map."""
    from cv_uaed import ttas

    work, variant = MEMBERS[member]
    folds = json.loads((out_root / work / "folds.json").read_text())
    probs, sigmas, times = {}, {}, []
    for k in range(len(folds)):
        z = np.load(out_root / work / variant / f"fold-{k}" / "oof.npz")
        for name, p, s in zip(z["names"], z["prob_none"], z["sigma_none"]):
            probs[str(name)], sigmas[str(name)] = p, s
        times.append(float(z["cpu_s_per_image"][ttas(variant).index("none")]))
    return probs, sigmas, float(np.mean(times))


def write_set(out_root: Path, set_name: str, folds: list[list[str]]) -> Path:
    """The set's mean maps regrouped into ``folds``, as ``cv_uaed`` reads them.

    ``sigma_none`` is the member's sigma for a single model and the spread of the
    members' probabilities (standard deviation) for an ensemble.
    """
    maps = [member_maps(out_root, m) for m in SETS[set_name]]
    work = out_root / WORK_NAME
    for k, names in enumerate(folds):
        stack = np.stack([[m[0][n] for n in names] for m in maps]).astype(np.float32)
        sigma = (np.stack([maps[0][1][n] for n in names]) if len(maps) == 1
                 else stack.std(axis=0))
        cpu = sum(m[2] for m in maps)
        path = work / set_name / f"fold-{k}" / "oof.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name("oof.partial.npz")
        np.savez_compressed(tmp, names=np.array(names), prob_none=stack.mean(axis=0),
                            sigma_none=sigma.astype(np.float16),
                            cpu_s_per_image=np.array([cpu, np.nan]))
        tmp.replace(path)
    return work


def evaluate(out_root: Path, set_name: str) -> dict:
    """``cv_uaed.evaluate_set`` of one set (cached in ``WORK/SET/result.json``)."""
    from cv_uaed import evaluate_set, list_images

    from napari_srmat.edges.data import load_pairs

    folds = json.loads((out_root / "cv_uaed" / "folds.json").read_text())
    cache = out_root / WORK_NAME / set_name / "result.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    work = write_set(out_root, set_name, folds)
    samples = load_pairs(list_images(DATA))
    result = {"members": list(SETS[set_name]), "folds": folds,
              **evaluate_set(work, set_name, "none", samples, folds)}
    tmp = cache.with_name("result.partial.json")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(cache)
    return result


def decide(results: dict, candidate: str = CANDIDATE,
           singles: tuple[str, ...] = SINGLES) -> dict:
    """The decision rule of the module docstring on the sets' results."""
    rule = OPERATING_POINT[0]

    def err(s):
        return np.asarray(results[s]["rules"][rule]["per_image_pct"]["per_fold"], float)

    def ap(s):
        return np.asarray(results[s]["ap"]["per_fold"], float)

    members_err = np.mean([err(s) for s in singles], axis=0)
    members_ap = np.mean([ap(s) for s in singles], axis=0)
    e = paired_with_means(members_err, err(candidate))
    a = paired_with_means(members_ap, ap(candidate), lower_is_better=False)
    checks = {"per_image_better_by_more_than_one_std": better_by_more_than_one_std(e),
              "ap_not_lower_by_more_than_0.01": a["diff_mean"] >= -MAX_AP_LOSS}
    return {"candidate": candidate, "reference": "mean of " + " and ".join(singles),
            "per_image_pct": e, "ap": a,
            "checks": checks, "adopt_candidate": all(checks.values())}


def summary(results: dict) -> dict:
    """Per set: per-image and pooled error of every rule (mean ± std over folds), AP, ROC."""
    out = {}
    for s, r in results.items():
        out[s] = {"members": r["members"], "cpu_s_per_image": r["cpu_s_per_image"]["mean"],
                  "ap": r["ap"], "roc_auc": r["roc_auc"],
                  "nested_selection_per_image_pct": r["nested_selection"]["per_image_pct"],
                  "oracle_per_image_threshold_pct":
                      r["references"]["oracle_per_image_threshold"]["per_image_pct"],
                  "rules": {n: {"per_image_pct": v["per_image_pct"], "pooled_pct":
                                v["pooled_pct"], "all_images_bias_pct": v["all_images_bias_pct"],
                                "per_scan_bias_pct": v["per_scan_bias_pct"],
                                "params_per_fold": v["params_per_fold"]}
                            for n, v in r["rules"].items()}}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-root", type=Path, default=Path("out"),
                    help="folder holding cv_uaed/ and cv_uaed_s1/ of benchmarks/cv_uaed.py")
    ap.add_argument("--sets", default=",".join(SETS),
                    help=f"comma-separated sets to evaluate: {', '.join(SETS)}")
    ap.add_argument("--stage", choices=("eval", "decide", "confirm"), default="eval")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    if args.stage == "eval":
        for s in [s for s in args.sets.split(",") if s]:
            if s not in SETS:
                ap.error(f"unknown set {s!r}; choose from {', '.join(SETS)}")
            r = evaluate(args.out_root, s)
            print(s, "per image", r["rules"][OPERATING_POINT[0]]["per_image_pct"]["mean"],
                  "AP", r["ap"]["mean"], flush=True)
        return 0
    if args.stage == "confirm":
        results = {s: evaluate(args.out_root, s) for s in CONFIRM_SETS}
        report = {"operating_point": list(OPERATING_POINT),
                  "decision": decide(results, CONFIRM_CANDIDATE, CONFIRM_SINGLES),
                  "sets": summary(results)}
        save("ensemble_confirm_decision", report)
        print(json.dumps(report["decision"], indent=1))
        return 0
    results = {s: evaluate(args.out_root, s) for s in FIRST_SETS}
    ref = json.loads((ROOT / "benchmarks" / "cv_uaed.json").read_text())
    check = ref["results"]["plain/none"]["rules"][OPERATING_POINT[0]]["per_image_pct"]["mean"]
    report = {"operating_point": list(OPERATING_POINT),
              "check_plain_s0_reproduces_cv_uaed_json": {
                  "cv_uaed_json": check,
                  "here": results["plain_s0"]["rules"][OPERATING_POINT[0]]["per_image_pct"][
                      "mean"]},
              "decision": decide(results), "sets": summary(results)}
    save("ensemble_decision", report)
    print(json.dumps(report["decision"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
