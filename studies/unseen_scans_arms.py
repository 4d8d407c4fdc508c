"""The arms of the three-arm experiment on scans no model has seen (label-free).

``scans/scan_32`` … ``scan_42`` hold no tbm region: no boundary or SR model was trained on
them and no choice was made on them. Without labels there are no errors, but three
questions about the shipped measurement can be answered without any:

1. **Is a ×4-reduced copy refused or warned?** The too-coarse limit and the coarse-input
   warning (``napari_srmat.grainsize.MIN_INPUT_INTERCEPT_PX`` /
   ``COARSE_INPUT_INTERCEPT_PX``) were chosen on tbm/train + val; here: how many LR copies
   are refused, measured with a scale warning, or measured without one, and how many
   native regions get a scale warning they should not need.
2. **Do the arms agree with the native region?** ℓ̄ of every arm over ℓ̄ of HR (the native
   region is the reference, not the truth: on tbm it is itself 10-14 % off per image), and
   how often HR's ℓ̄ lies inside the arm's 95 % interval, and that interval's half-width
   (``half_width_pct_q10_50_90``: (high - low) / 2 / ℓ̄, as grain_size_calibration.py's).
3. **Is it the same on the labelled scans?** The same label-free figures for the shipped
   model on the 63 tbm/train + val regions (``shipped_in_sample`` of
   ``studies/results/three_arm_oof.json``; train regions are in-sample for the shipped
   model, the 6 val regions are not), so a difference on the unseen scans shows up.

Regions: 512 x 512 px at the four corners of each scan (they overlap by a few rows and
columns: the scans are about 1320 x 890 px). Shipped boundary model and SR models, the
whole measurement (``measure_grain_size``, automatic inference scale), the library's job
``napari_srmat.studies.three_arm.measure_arms_job``. tbm/test is not opened and the test
scans (13, 24, 28) are never decoded.

    OMP_NUM_THREADS=1 PYTHONPATH=src python studies/unseen_scans_arms.py

Writes studies/results/unseen_scans_arms.json (8-12 CPU-min; 21 min wall on a loaded
2-core machine).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from _common import DATA, RESULTS, TEST_SCANS, q, save

UNSEEN_SCANS = tuple(range(32, 43))
REGION_PX = 512
#: SR(LR) and HR "disagree" when every SR(LR) arm reads ℓ̄ more than this factor apart.
DISAGREEMENT_FACTOR = 1.25


def corner_regions(rgb: np.ndarray, side: int = REGION_PX) -> dict[str, np.ndarray]:
    """The four ``side`` x ``side`` corner windows of an image, by their top-left corner."""
    h, w = rgb.shape[:2]
    if min(h, w) < side:
        raise SystemExit(f"a scan of {h}x{w} px is smaller than {side} px")
    return {f"{y}-{x}": rgb[y:y + side, x:x + side]
            for y in (0, h - side) for x in (0, w - side)}


def label_free_summary(rows: list[dict[str, dict]]) -> dict[str, dict]:
    """Per arm: refusals, scale warnings, coarse warnings, ℓ̄ relative to HR, and how often
    HR's ℓ̄ lies inside the arm's interval (``rows``: one dict arm -> measurement per
    region)."""
    from napari_srmat.grainsize import is_scale_warning
    from napari_srmat.studies.three_arm import HR_ARM

    out = {}
    for arm in rows[0]:
        ms = [r[arm] for r in rows]
        hr = [r[HR_ARM]["l_px"] for r in rows]
        measured = [(m, h) for m, h in zip(ms, hr) if m["l_px"] is not None and h is not None]
        ratios = [m["l_px"] / h for m, h in measured]
        inside = [m["ci95_px"][0] <= h <= m["ci95_px"][1] for m, h in measured]
        # (high - low) / 2 / ℓ̄, %, as grain_size_calibration.py's rel_half_width_median
        half = [100 * (m["ci95_px"][1] - m["ci95_px"][0]) / 2 / m["l_px"] for m, _ in measured
                if m["ci95_px"] is not None and m["ci95_px"][1] is not None]
        scale_warned = [any(is_scale_warning(w) for w in m["warnings"]) for m in ms]
        out[arm] = {
            "n": len(ms),
            "n_refused": sum(m["l_px"] is None for m in ms),
            "n_measured_with_scale_warning": sum(
                s and m["l_px"] is not None for s, m in zip(scale_warned, ms)),
            "n_measured_without_scale_warning": sum(
                not s and m["l_px"] is not None for s, m in zip(scale_warned, ms)),
            "n_coarse_warning": sum(any(w.startswith("grains are only") for w in m["warnings"])
                                    for m in ms),
            # the autocorrelation estimate of the arm's input, in native pixels (the LR
            # copy's own estimate is a quarter of it)
            "estimate_native_px_q10_50_90": q(
                [m["estimated_px"] for m in ms if m["estimated_px"] is not None]),
            "ratio_to_hr_q10_50_90": q(ratios),
            "mean_abs_log_ratio_to_hr": None if not ratios else round(
                float(np.mean(np.abs(np.log(ratios)))), 4),
            "hr_inside_interval_pct": None if not inside else round(
                100 * float(np.mean(inside)), 1),
            "half_width_pct_q10_50_90": q(half) if half else None,
        }
    return out


def disagreements(rows: list[dict[str, dict]], names: list[str],
                  true_l_px: list[float] | None = None,
                  factor: float = DISAGREEMENT_FACTOR) -> dict:
    """Regions where every SR(LR) arm reads ℓ̄ more than ``factor`` times the native
    region's, or less than its inverse (the native scale against the estimate's), and,
    where the true ℓ̄ is known, which of the two was closer."""
    from napari_srmat.studies.three_arm import HR_ARM

    regions = []
    for i, (name, r) in enumerate(zip(names, rows)):
        hr = r[HR_ARM]
        sr = [m["l_px"] for a, m in r.items() if a.startswith("SR(LR)") and m["l_px"] is not None]
        ratios = [x / hr["l_px"] for x in sr]
        if not ratios or not (min(ratios) > factor or max(ratios) < 1 / factor):
            continue
        row = {"region": name, "hr_l_px": round(hr["l_px"], 2),
               "hr_inference_scale": hr["inference_scale"],
               "estimate_px": round(hr["estimated_px"], 2),
               "sr_lr_over_hr": [round(x, 3) for x in ratios]}
        if true_l_px is not None:
            t = true_l_px[i]
            row["hr_error_pct"] = round(100 * (hr["l_px"] / t - 1), 1)
            row["sr_lr_median_error_pct"] = round(100 * (float(np.median(sr)) / t - 1), 1)
        regions.append(row)
    out: dict = {"n_regions": len(rows), "n": len(regions), "regions": regions}
    if true_l_px is not None and regions:
        out["n_hr_closer"] = sum(abs(r["hr_error_pct"]) < abs(r["sr_lr_median_error_pct"])
                                 for r in regions)
        out["mean_abs_error_pct_hr_vs_sr_lr"] = [
            round(float(np.mean([abs(r[k]) for r in regions])), 1)
            for k in ("hr_error_pct", "sr_lr_median_error_pct")]
    return out


def _labelled_runs() -> dict[str, dict]:
    """The labelled regions measured in every arm: the shipped weights (in sample for
    train) and the out-of-fold fold models of each repetition of ``three_arm_oof.py``."""
    runs = {}
    for path in (RESULTS / "three_arm_oof.json", RESULTS / "three_arm_oof_s6.json"):
        res = json.loads(path.read_text())
        if "shipped_in_sample" in res and "shipped (in sample for train)" not in runs:
            runs["shipped (in sample for train)"] = res["shipped_in_sample"]
        for label, run in res["runs"].items():
            runs[f"fold models, {label} (out of fold)"] = run
    return runs


def _rows_of(run: dict) -> list[dict[str, dict]]:
    return [{arm: run["rows"][arm][i] for arm in run["rows"]} for i in range(len(run["names"]))]


def main(argv=None) -> int:
    from napari_srmat.edges import load_boundary_model
    from napari_srmat.io import list_pairs, read_array
    from napari_srmat.sr import load_model
    from napari_srmat.studies.three_arm import (
        SR_OF_NATIVE_MODEL,
        THREE_ARM_SCALE,
        THREE_ARM_SR_MODELS,
        measure_arms_job,
    )

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scans", default=",".join(map(str, UNSEEN_SCANS)),
                    help="scan numbers (comma-separated; default 32-42)")
    ap.add_argument("--summarise-only", action="store_true",
                    help="recompute the summaries from the rows of the existing JSON")
    args = ap.parse_args(argv)
    if args.summarise_only:
        old = json.loads((RESULTS / "unseen_scans_arms.json").read_text())
        return _summarise(old["scans"], old["names"], old["rows"], old["seconds"])
    scans = [s.strip() for s in args.scans.split(",") if s.strip()]
    labelled = {p.name.split("-")[0] for split in ("train", "val")
                for p, _ in list_pairs(DATA, split)}
    for s in scans:
        if s in TEST_SCANS or s in labelled:
            raise SystemExit(f"scan {s} is a tbm scan, not an unseen one")

    t0 = time.time()
    model = load_boundary_model(device="cpu")
    sr = {name: load_model(name, scale=THREE_ARM_SCALE, device="cpu")
          for name in {*THREE_ARM_SR_MODELS, SR_OF_NATIVE_MODEL}}
    from napari_srmat.jobs import run_job

    rows, names = [], []
    for s in scans:
        rgb = np.asarray(read_array(DATA.parent / "scans" / f"scan_{s}.jpg"))[..., :3]
        for corner, region in corner_regions(rgb).items():
            name = f"{s}-{corner}"
            measured = run_job(measure_arms_job(
                region, name=name, model=model,
                sr_models=[sr[n] for n in THREE_ARM_SR_MODELS],
                sr_of_native=sr[SR_OF_NATIVE_MODEL], device="cpu"), quiet=True)
            rows.append({arm: m.to_dict() for arm, m in measured.items()})
            names.append(name)
            print(f"{name}: " + ", ".join(
                f"{a.split(' (')[0]} {'-' if m.l_px is None else f'{m.l_px:.1f}'}"
                for a, m in measured.items()) + f"  ({time.time() - t0:.0f} s)",
                file=sys.stderr)

    return _summarise(scans, names, rows, round(time.time() - t0, 1))


def _summarise(scans: list[str], names: list[str], rows: list[dict], seconds: float) -> int:
    labelled = _labelled_runs()
    oof = labelled["shipped (in sample for train)"]
    labelled_rows = _rows_of(oof)
    split_of = [oof["split_of"][n] for n in oof["names"]]
    payload = {
        "scans": scans, "region_px": REGION_PX, "names": names,
        "unseen": label_free_summary(rows),
        "labelled_shipped": {
            "train (in-sample)": label_free_summary(
                [r for r, sp in zip(labelled_rows, split_of) if sp == "train"]),
            "val": label_free_summary(
                [r for r, sp in zip(labelled_rows, split_of) if sp == "val"]),
        },
        "disagreements": {
            "unseen": disagreements(rows, names),
            **{label: disagreements(_rows_of(run), run["names"], run["true_l_px"])
               for label, run in labelled.items()},
        },
        "rows": rows,
        "seconds": seconds,
    }
    save("unseen_scans_arms", payload)
    for group, summ in (("unseen", payload["unseen"]),
                        ("train (in-sample)", payload["labelled_shipped"]["train (in-sample)"]),
                        ("val", payload["labelled_shipped"]["val"])):
        print(f"\n{group}", file=sys.stderr)
        for arm, v in summ.items():
            print(f"  {arm:34s} n {v['n']:3d} refused {v['n_refused']:3d} warned "
                  f"{v['n_measured_with_scale_warning']:3d} unwarned "
                  f"{v['n_measured_without_scale_warning']:3d} ratio {v['ratio_to_hr_q10_50_90']} "
                  f"HR in CI {v['hr_inside_interval_pct']} half-width % "
                  f"{v['half_width_pct_q10_50_90']}", file=sys.stderr)
    for group, dis in payload["disagreements"].items():
        print(f"\n{group}: {dis['n']} of {dis['n_regions']} regions where SR(LR) and HR "
              f"disagree; HR closer to the truth in {dis.get('n_hr_closer', '-')}, mean abs. "
              f"error HR / SR(LR) {dis.get('mean_abs_error_pct_hr_vs_sr_lr', '-')}",
              file=sys.stderr)
        for d in dis["regions"]:
            print(f"  {d}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
