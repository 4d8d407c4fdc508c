"""The three-arm experiment out of fold on tbm/train + val (issue 12, part 7).

    OMP_NUM_THREADS=2 PYTHONPATH=../src python three_arm_oof.py \
        --run s4=/path/cv_uaed_s4:../benchmarks/cv_uaed_plain_s4.json \
        --run s5=/path/cv_uaed_s5:../benchmarks/cv_uaed_plain_s5.json --shipped \
        --sr-lr-at-scale-1

Every tbm/train+val region is measured by the leave-scan-out fold model that did not
see its scan (``benchmarks/cv_uaed.py``, variant ``plain``, final EMA weights, TTA
``none``, ``otsu_scaled`` with the c cross-fitted for that fold, as stored in the run's
benchmark JSON), with the library's job (:func:`napari_srmat.studies.three_arm.
three_arm_job`): HR (the region), LR (×4 bicubic down, measured directly), SR(LR) with
``bicubic``, ``cnn`` and ``onestep``, SR(HR) with ``cnn``; the whole measurement with its
automatic inference scale; ℓ̄ in native pixels against the hand-drawn mask (50 random
lines, the issue's protocol). The shipped SR models were trained on HR images of the
scans and of tbm/train (no labels): for these regions SR(LR) is *in-sample for the SR
model*, which can only flatter the SR arms. With ``--shipped`` every region is also
measured with the shipped weights (in sample for the tbm/train regions). tbm/test is
never opened.

Writes ``results/three_arm_oof.json`` (per run: the table, per-fold per-image errors of
every arm, paired per-fold differences against HR and against bicubic SR(LR); every
row) and ``../docs/images/three_arm_oof.png`` (all runs' regions together).

``--shipped-only`` measures only the shipped weights (no fold models needed) and replaces
``shipped_in_sample`` of the existing ``results/<name>.json``, keeping its runs as they
were measured; the block records its own date and command line (``measured``, ``argv``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from _common import RESULTS, load_fold_model, paired_with_means, save, tbm_pairs

ROOT = Path(__file__).resolve().parents[1]
FIGURE = ROOT / "docs" / "images" / "three_arm_oof.png"
VARIANT = "plain"


def fold_models(work: Path, report: Path | float):
    """The fold models of one cv_uaed run at their cross-fitted ``otsu_scaled`` c (read
    from the run's benchmark JSON), or at one given c for every fold."""
    from napari_srmat.edges.infer import BoundaryModel

    folds = json.loads((work / "folds.json").read_text())
    if isinstance(report, float):
        params = [{"c": report}] * len(folds)
    else:
        rules = json.loads(report.read_text())["results"][f"{VARIANT}/none"]["rules"]
        params = rules["otsu_scaled"]["params_per_fold"]
    for k, names in enumerate(folds):
        base = load_fold_model(work, k, VARIANT)
        yield k, names, params[k]["c"], BoundaryModel(
            base.net, base.config, tta="none", threshold_rule="otsu_scaled",
            threshold_params={"c": params[k]["c"]})


def report_or_c(text: str) -> Path | float:
    """A ``--run`` value's second part: one c for every fold (a number) or the path of
    the run's benchmark JSON (its cross-fitted c per fold)."""
    try:
        return float(text)
    except ValueError:
        return Path(text)


def measure_run(work: Path, report: Path | float, **job_kwargs):
    """One repetition: every region by its out-of-fold model; (merged result, folds)."""
    from napari_srmat.io import read_grey_or_rgb_float, read_mask
    from napari_srmat.studies.three_arm import merge_three_arm, run_three_arm

    paths = {Path(img).stem: (img, msk) for _, img, msk in tbm_pairs()}
    results, fold_of, c_of = [], {}, {}
    for k, names, c, model in fold_models(work, report):
        t0 = time.time()
        images = [read_grey_or_rgb_float(paths[n][0]) for n in names]
        masks = [read_mask(paths[n][1]) for n in names]
        results.append(run_three_arm(images, masks, names=names, model=model, device="cpu",
                                     **job_kwargs))
        fold_of.update({n: k for n in names})
        c_of[k] = c
        print(f"  fold {k}: {len(names)} regions, c = {c}, {time.time() - t0:.0f} s",
              file=sys.stderr)
    return merge_three_arm(results), fold_of, c_of


def measure_shipped() -> dict:
    """Every region with the shipped weights and defaults (in sample for tbm/train)."""
    from napari_srmat.edges import load_boundary_model
    from napari_srmat.io import read_grey_or_rgb_float, read_mask
    from napari_srmat.studies.three_arm import run_three_arm

    pairs = tbm_pairs()
    result = run_three_arm([read_grey_or_rgb_float(img) for _, img, _ in pairs],
                           [read_mask(msk) for _, _, msk in pairs],
                           names=[Path(img).stem for _, img, _ in pairs],
                           model=load_boundary_model(device="cpu"), device="cpu")
    splits = [split for split, _, _ in pairs]
    table = result.table()
    for a, s in table.items():
        print(f"shipped {a}: {s}")
    return {"table": table, "split_of": dict(zip(result.names, splits)),
            **result.to_dict(with_summary=False)}


def per_fold(result, fold_of: dict) -> dict[str, list[float]]:
    """Per arm, the per-image error (%) of each fold's regions."""
    from napari_srmat.studies.three_arm import arm_errors

    folds = sorted(set(fold_of.values()))
    out = {}
    for arm, rows in result.arms.items():
        out[arm] = []
        for k in folds:
            idx = [i for i, n in enumerate(result.names) if fold_of[n] == k]
            out[arm].append(arm_errors([rows[i].l_px for i in idx],
                                       [result.true_l_px[i] for i in idx])["per_image_pct"])
    return out


def coarse_model_term(runs: dict) -> dict:
    """The model term for coarse inputs (``grainsize.COARSE_MODEL_LOG_ERROR_95``): the
    97.5 % quantile of ln(ℓ̄ / ℓ̄_true) of the measured ×4-down copies of all out-of-fold
    runs, and how often, leaving each scan out, the other scans' quantile holds it."""
    arm = "LR (x4 down, measured directly)"
    rows = [(n.split("-")[0], math.log(m["l_px"] / t))
            for r in runs.values()
            for n, m, t in zip(r["names"], r["rows"][arm], r["true_l_px"])
            if m["l_px"] is not None]
    errors = np.array([e for _, e in rows])
    held = [e <= np.quantile([x for t, x in rows if t != s], 0.975) for s, e in rows]
    return {"n": len(rows), "log_error_q_0_2.5_50_97.5_100": [
        round(float(v), 4) for v in np.quantile(errors, (0, 0.025, 0.5, 0.975, 1))],
        "n_too_long": int((errors > 0).sum()),
        "leave_one_scan_out_upper_end_holds": int(sum(held))}


def update_shipped(path: Path, argv=None) -> int:
    """Measure the shipped weights again and replace ``shipped_in_sample`` of ``path``,
    keeping the rest of the file (its runs need their fold models)."""
    if not path.is_file():
        raise SystemExit(f"three_arm_oof: error: {path} does not exist (run with --run first)")
    payload = json.loads(path.read_text())
    t0 = time.time()
    shipped = measure_shipped()
    payload["shipped_in_sample"] = {
        "measured": time.strftime("%Y-%m-%d %H:%M"),
        "argv": sys.argv[1:] if argv is None else list(argv),
        "seconds": round(time.time() - t0, 1), **shipped}
    tmp = path.with_suffix(".json.partial")
    tmp.write_text(json.dumps(payload, indent=1, default=float) + "\n")
    tmp.replace(path)
    print(f"wrote {path} (shipped_in_sample only)", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", action="append", default=[], metavar="LABEL=WORK:JSON",
                    help="a repetition: its cv_uaed work folder and benchmark JSON (or a "
                         "number: one otsu_scaled c for every fold)")
    ap.add_argument("--shipped", action="store_true",
                    help="also measure every region with the shipped weights (in sample "
                         "for tbm/train regions: they were trained on them)")
    ap.add_argument("--sr-lr-at-scale-1", action="store_true",
                    help="a diagnostic: the SR(LR) arms once more at inference scale 1 "
                         "(their own pixels, here the native ones)")
    ap.add_argument("--shipped-only", action="store_true",
                    help="only the shipped weights: replace shipped_in_sample of the "
                         "existing results/<name>.json, keeping its runs")
    ap.add_argument("--no-figure", action="store_true")
    ap.add_argument("--name", default="three_arm_oof",
                    help="results/<name>.json (another name for a confirmation run)")
    args = ap.parse_args(argv)
    if args.shipped_only:
        if args.run or args.sr_lr_at_scale_1:
            ap.error("--shipped-only takes no --run or --sr-lr-at-scale-1")
        return update_shipped(RESULTS / f"{args.name}.json", argv)
    if not args.run:
        ap.error("give at least one --run (or --shipped-only)")

    from napari_srmat.studies.three_arm import merge_three_arm, plot_three_arm

    t0 = time.time()
    runs, merged = {}, []
    specs = [(label, *rest.rsplit(":", 1))
             for label, rest in (spec.split("=", 1) for spec in args.run)]
    for label, work, report in specs:
        print(f"run {label}", file=sys.stderr)
        result, fold_of, c_of = measure_run(Path(work), report_or_c(report))
        merged.append(result)
        folds = per_fold(result, fold_of)
        hr = folds["HR (native region)"]
        bicubic = folds["SR(LR) bicubic"]
        runs[label] = {
            "work": Path(work).name, "report": Path(report).name, "c_per_fold": c_of,
            "table": result.table(),
            "per_fold_per_image_pct": folds,
            "vs_hr": {a: paired_with_means(hr, v) for a, v in folds.items()
                      if a != "HR (native region)"},
            "vs_bicubic_sr_lr": {a: paired_with_means(bicubic, v) for a, v in folds.items()
                                 if a.startswith("SR(LR)") and a != "SR(LR) bicubic"},
            **result.to_dict(with_summary=False),
            "fold_of": fold_of,
        }
        for a, s in runs[label]["table"].items():
            print(f"{label} {a}: {s}")
    at_scale_1 = {}
    if args.sr_lr_at_scale_1:
        for label, work, report in specs:
            print(f"run {label}, SR(LR) at inference scale 1", file=sys.stderr)
            result, fold_of, _ = measure_run(Path(work), report_or_c(report), sr_of_native=None,
                                             sr_lr_inference_scale=1.0)
            folds = per_fold(result, fold_of)
            hr = folds["HR (native region)"]
            at_scale_1[label] = {
                "table": {a: row for a, row in result.table().items()
                          if a.startswith("SR(LR)")},
                "vs_hr": {a: paired_with_means(hr, v) for a, v in folds.items()
                          if a.startswith("SR(LR)")},
                "vs_automatic": {a: paired_with_means(runs[label]["per_fold_per_image_pct"][a],
                                                      v)
                                 for a, v in folds.items() if a.startswith("SR(LR)")}}
            for a, row in at_scale_1[label]["table"].items():
                print(f"{label} {a} at scale 1: {row}")
    shipped = None
    if args.shipped:
        print("shipped weights", file=sys.stderr)
        shipped = measure_shipped()
    pooled = merge_three_arm(merged)
    payload = {"script": "studies/three_arm_oof.py", "variant": VARIANT, "tta": "none",
               "threshold_rule": "otsu_scaled",
               "runs": runs,
               "pooled_table": pooled.table(),
               "coarse_model_term": coarse_model_term(runs),
               "sr_lr_at_scale_1": at_scale_1 or None,
               "shipped_in_sample": shipped,
               "seconds": round(time.time() - t0, 1)}
    save(args.name, payload)
    if not args.no_figure:
        plot_three_arm(pooled, FIGURE, title=(
            f"three-arm experiment out of fold: tbm/train+val, {len(args.run)} leave-scan-out "
            f"repetitions ({len(pooled.names)} region measurements)"))
        print(f"wrote {FIGURE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
