"""Does ``measure_grain_size`` give the same ℓ̄ in µm whatever the input's scale, and how
often does its 95 % interval cover the truth? (tbm/train+val and synthetic data only.)

A. Synthetic micrographs (``generate_microstructure``, ℓ̄ >= 40 px at x1) resampled x0.5,
   x1, x2, x4 with the pixel size scaled accordingly: spread of ℓ̄ (µm) across scales,
   error against the exact ℓ̄ and interval coverage.
   (The same on tbm/train+val regions: ``studies/grain_size_calibration.py``.)
C. Boundary masks (no model): the same synthetic structure rendered at x0.5 ... x4 (the
   generator is scale-free: seeds and weights scale with the cell size) and the coverage
   of the mask-mode interval on 100 synthetic masks against the exact ℓ̄ of the measured
   field (the margin box) and of the whole image.

    OMP_NUM_THREADS=1 python studies/grain_size_consistency.py [--quick] [--parts AC]

Writes studies/results/grain_size_consistency.json.
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np
from _common import q, save

SYN_SCALES = (0.5, 1.0, 2.0, 4.0)
SYN = {"shape": (384, 384), "mean_grain_size_px": 56, "seeds": tuple(range(200, 208))}
COVERAGE = [((512, 512), 48), ((512, 512), 32), ((384, 384), 56), ((256, 256), 32)]
N_COVERAGE = 100


def box_truth(labels: np.ndarray, margin: float = 0.05) -> float:
    from napari_srmat.synth import true_mean_intercept

    h, w = labels.shape
    r0, r1 = math.ceil(margin * (h - 1)), math.floor((1 - margin) * (h - 1)) + 1
    c0, c1 = math.ceil(margin * (w - 1)), math.floor((1 - margin) * (w - 1)) + 1
    return true_mean_intercept(labels[r0:r1, c0:c1])


def part_a(model, quick: bool) -> dict:
    from napari_srmat.grainsize import _float_image, measure_grain_size, resample
    from napari_srmat.synth import generate_microstructure

    rows = []
    for seed in SYN["seeds"][: 2 if quick else None]:
        ms = generate_microstructure(SYN["shape"], seed=seed,
                                     mean_grain_size_px=SYN["mean_grain_size_px"])
        img = _float_image(ms.image)
        truth, truth_box = ms.mean_intercept_px, box_truth(ms.labels)
        for s in SYN_SCALES:
            r = measure_grain_size(resample(img, s), model=model, pixel_size_um=1.0 / s)
            ci = r.mean_intercept_ci95_um
            rows.append({"seed": seed, "scale": s, "um": r.mean_intercept_um, "ci_um": ci,
                         "truth_um": truth, "truth_box_um": truth_box,
                         "inference_scale": r.inference_scale,
                         "inference_px": r.inference_intercept_px,
                         "estimated_px": r.estimated_intercept_px, "warnings": r.warnings})
        vals = [x["um"] for x in rows if x["seed"] == seed]
        print(f"A seed {seed}: µm {np.round(vals, 2)} truth {truth:.2f} spread "
              f"{max(vals) / min(vals):.3f}", file=sys.stderr)
    out = {"rows": rows, **summary_ab(rows, "truth_um", SYN_SCALES)}
    out["coverage_field_truth"] = float(np.mean(
        [r["ci_um"] is not None and r["ci_um"][0] <= r["truth_box_um"] <= r["ci_um"][1]
         for r in rows]))
    out["rel_error_q10_50_90_all_scales"] = q(
        [r["um"] / r["truth_um"] - 1 for r in rows if r["um"] is not None])
    out["rel_half_width_q10_50_90"] = q(
        [(r["ci_um"][1] - r["ci_um"][0]) / 2 / r["um"] for r in rows if r["ci_um"] is not None])
    out["warned_outside_reliable_range"] = sum(
        any("reliable range" in w for w in r["warnings"]) for r in rows)
    return out


def summary_ab(rows, truth_key, scales) -> dict:
    ids = sorted({r.get("seed", r.get("image")) for r in rows}, key=str)
    key = "seed" if "seed" in rows[0] else "image"
    spreads = []
    for i in ids:
        vals = [r["um"] for r in rows if r[key] == i and r["scale"] in scales
                and r["um"] is not None]
        if len(vals) == len(scales):
            spreads.append(max(vals) / min(vals))
    out = {"spread_max_over_min_q10_50_90": q(spreads), "n_within_5pct":
           int(sum(s < 1.05 for s in spreads)), "n": len(spreads), "by_scale": {}}
    for s in sorted({r["scale"] for r in rows}):
        sel = [r for r in rows if r["scale"] == s]
        err = [r["um"] / r[truth_key] - 1 for r in sel if r["um"] is not None]
        cov = [r["ci_um"] is not None and r["ci_um"][0] <= r[truth_key] <= r["ci_um"][1]
               for r in sel if r["um"] is not None]
        out["by_scale"][str(s)] = {"n": len(sel), "n_withheld": sum(r["um"] is None for r in sel),
                                   "rel_error_q10_50_90": q(err),
                                   "coverage": float(np.mean(cov)) if cov else None,
                                   "inference_scale_q10_50_90": q([r["inference_scale"]
                                                                   for r in sel])}
    return out


def part_c(quick: bool) -> dict:
    from napari_srmat.grainsize import measure_grain_size
    from napari_srmat.synth import generate_microstructure

    geo = {}
    for pattern, n_lines in (("random", 50), ("grid", 25)):
        ratios = []
        for seed in range(20, 22 if quick else 30):
            vals = []
            for s in SYN_SCALES:
                ms = generate_microstructure((int(384 * s),) * 2, mean_grain_size_px=56 * s,
                                             seed=seed, boundary_width=max(1, round(s)))
                vals.append(measure_grain_size(ms.boundaries, mask=True, pixel_size_um=1 / s,
                                               pattern=pattern,
                                               n_lines=n_lines).mean_intercept_um)
            ratios.append([v / vals[-1] for v in vals])
        r = np.array(ratios)
        geo[pattern] = {"ratio_to_x4_mean": r.mean(0).round(4).tolist(),
                        "ratio_to_x4_min": r.min(0).round(4).tolist(),
                        "ratio_to_x4_max": r.max(0).round(4).tolist(), "n": len(ratios)}
        print(f"C geometry {pattern}: ratio to x4 mean {geo[pattern]['ratio_to_x4_mean']}",
              file=sys.stderr)
    cov = {}
    for shape, g in COVERAGE:
        box = whole = 0
        hw, grid_bias_px, grid_bias_rel = [], [], []
        n = 10 if quick else N_COVERAGE
        for seed in range(n):
            ms = generate_microstructure(shape, mean_grain_size_px=g, seed=seed)
            truth = box_truth(ms.labels)
            r = measure_grain_size(ms.boundaries, mask=True, seed=seed)
            lo, hi = r.mean_intercept_ci95_px
            box += lo <= truth <= hi
            whole += lo <= ms.mean_intercept_px <= hi
            hw.append((hi - lo) / 2 / r.mean_intercept_px)
            # digitisation bias: dense grid lines (the directions of the exact ℓ̄)
            gr = measure_grain_size(ms.boundaries, mask=True, pattern="grid", n_lines=100)
            grid_bias_px.append(gr.mean_intercept_px - truth)
            grid_bias_rel.append(gr.mean_intercept_px / truth - 1)
        key = f"{shape[0]}x{shape[1]} cell {g}"
        cov[key] = {"n": n, "coverage_field": box / n, "coverage_whole_image": whole / n,
                    "rel_half_width_median": q(hw, (0.5,))[0],
                    "grid_bias_px_q10_50_90": q(grid_bias_px),
                    "grid_bias_rel_q10_50_90": q(grid_bias_rel)}
        print(f"C coverage {key}: field {box / n:.2f} whole image {whole / n:.2f}; grid "
              f"bias {cov[key]['grid_bias_px_q10_50_90']} px", file=sys.stderr)
    return {"geometry": geo, "coverage": cov}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--parts", default="AC")
    args = ap.parse_args()
    from napari_srmat.edges import load_boundary_model

    model = load_boundary_model() if "A" in args.parts else None
    out = {}
    if "A" in args.parts:
        out["A_synthetic_model"] = part_a(model, args.quick)
    if "C" in args.parts:
        out["C_masks"] = part_c(args.quick)
    for part, res in out.items():
        print(part, {k: v for k, v in res.items() if k != "rows"})
    save("grain_size_consistency" + ("" if args.parts == "AC" else "_" + args.parts), out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
