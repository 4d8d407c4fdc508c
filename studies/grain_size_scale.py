"""How the shipped boundary model's ℓ̄ depends on the grain size it sees (the scale).

For tbm/val and every 3rd tbm/train region, and for synthetic micrographs, the image is
resampled by factors s (bilinear, anti-aliased when shrinking), the shipped model (TTA
d4) predicts boundaries, and ℓ̄ of the thinned map at the model's threshold (and at a
grid of thresholds) is divided by s and compared with the ground truth at native scale.
``ratio = (ℓ̄_pred(s) / s) / ℓ̄_gt`` as a function of ``x = s · ℓ̄_gt`` (ℓ̄ seen by the
model) gives the reliable range (``RELIABLE_INTERCEPT_PX``) and the target.

The same resampled images give the autocorrelation estimator's ratio
``estimate_intercept_px / (s · ℓ̄_gt)`` (``ACF_TO_INTERCEPT``), and the model's
ratio at inference scale 1 is the alternative estimator "a first model pass".

    OMP_NUM_THREADS=1 python studies/grain_size_scale.py [--quick]

Writes studies/results/grain_size_scale.json.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from _common import HEYN, gt_intercept, q, save, tbm_pairs

SCALES = (0.35, 0.5, 0.7, 1.0, 1.4, 2.0, 2.8)
ACF_ONLY_SCALES = (0.25, 4.0)
THRESHOLDS = tuple(np.round(np.arange(0.25, 0.801, 0.025), 3))
N_LINES = 200
SYNTH = {"shape": (256, 256), "mean_grain_size_px": 34, "seeds": tuple(range(100, 108))}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="2 images, 3 scales (smoke test)")
    args = ap.parse_args()
    from napari_srmat.edges import load_boundary_model, predict_boundaries
    from napari_srmat.grainsize import (
        MODEL_OVERLAP,
        MODEL_TILE,
        _acf_half_length,
        _float_image,
        resample,
    )
    from napari_srmat.io import read_grey_or_rgb_float, read_mask
    from napari_srmat.metrics.heyn import measure_intercepts
    from napari_srmat.synth import generate_microstructure

    model = load_boundary_model()
    items = []
    for split, img, msk in tbm_pairs(every_train=3):
        items.append((f"{split}/{img.name}", lambda img=img: read_grey_or_rgb_float(img),
                      lambda msk=msk: read_mask(msk) > 0))
    for seed in SYNTH["seeds"]:
        def gen(seed=seed):
            return generate_microstructure(SYNTH["shape"], seed=seed,
                                           mean_grain_size_px=SYNTH["mean_grain_size_px"])
        items.append((f"synth/{seed}", lambda gen=gen: _float_image(gen().image),
                      lambda gen=gen: gen().boundaries))
    scales = SCALES
    if args.quick:
        items, scales = items[:1] + items[-1:], (0.5, 1.0, 2.0)
    rows = []
    t0 = time.time()
    for k, (name, load_img, load_mask) in enumerate(items):
        img, gt_mask = load_img(), load_mask()
        gt = gt_intercept(gt_mask)
        for s in sorted(set(scales) | set(ACF_ONLY_SCALES)):
            x = resample(img, s)
            acf = _acf_half_length(x)
            row = {"image": name, "scale": s, "gt_px": gt, "x_px": s * gt,
                   "acf_half_px": acf}
            if s in scales:
                prob, _ = predict_boundaries(x, model, tile=MODEL_TILE, overlap=MODEL_OVERLAP)
                curve = {}
                for t in (*THRESHOLDS, model.threshold):
                    r = measure_intercepts(prob >= t, n_lines=N_LINES, **HEYN)
                    curve[f"{t:.4f}"] = (None if r.mean_intercept_px is None
                                         else r.mean_intercept_px / s)
                row["pred_px_at_threshold"] = curve
                pred = curve[f"{model.threshold:.4f}"]
                row["pred_px"] = pred
                row["ratio"] = None if pred is None else pred / gt
            rows.append(row)
        print(f"[{k + 1}/{len(items)}] {name} gt {gt:.1f} px ({time.time() - t0:.0f} s)",
              file=sys.stderr)
    summary = summarize(rows, model.threshold)
    for line in summary["table"]:
        print(line)
    save("grain_size_scale", {"threshold": model.threshold, "tta": model.tta,
                              "n_lines": N_LINES, "gt_lines": 500, "synthetic": SYNTH,
                              "summary": summary, "rows": rows})
    return 0


def summarize(rows: list[dict], threshold: float) -> dict:
    """Model ratio by bins of x = ℓ̄ seen by the model, ACF ratio by scale."""
    from napari_srmat.grainsize import ACF_TO_INTERCEPT

    out: dict = {"model_by_x": {}, "acf_ratio_by_scale": {}, "table": []}
    bins = [(6, 10), (10, 13), (13, 16), (16, 20), (20, 25), (25, 30), (30, 37), (37, 45),
            (45, 55), (55, 70), (70, 90)]
    for source in ("tbm", "synth"):
        sel = [r for r in rows if r["image"].startswith("synth") == (source == "synth")
               and "ratio" in r]
        for lo, hi in bins:
            rr = [r["ratio"] for r in sel if lo <= r["x_px"] < hi]
            if not rr:
                continue
            err = [abs(v - 1) for v in rr if v is not None]
            key = f"{source} {lo}-{hi}"
            out["model_by_x"][key] = {"n": len(rr), "ratio_q10_50_90": q(rr),
                                      "abs_err_median": q(err, (0.5,))[0] if err else None,
                                      "n_invalid": sum(v is None for v in rr)}
            out["table"].append(f"model {key:>14} px: n={len(rr):3d} ratio q10/50/90 "
                                f"{q(rr)}  median |err| {out['model_by_x'][key]['abs_err_median']}")
        sel = [r for r in rows if r["image"].startswith("synth") == (source == "synth")]
        for s in sorted({r["scale"] for r in sel}):
            ratio = [ACF_TO_INTERCEPT * r["acf_half_px"] / r["x_px"] for r in sel
                     if r["scale"] == s and r["acf_half_px"]]
            raw = [r["x_px"] / r["acf_half_px"] for r in sel
                   if r["scale"] == s and r["acf_half_px"]]
            out["acf_ratio_by_scale"][f"{source} {s}"] = {
                "gt_over_halflength_q10_50_90": q(raw), "estimate_over_gt_q10_50_90": q(ratio)}
            out["table"].append(f"acf {source} s={s}: gt/half-length q10/50/90 {q(raw)}; "
                                f"estimate/gt {q(ratio)}")
        # "first model pass at inference scale 1" as an estimator: the model ratio itself
    return out


if __name__ == "__main__":
    sys.exit(main())
