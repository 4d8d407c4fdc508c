"""Could the model's sigma (uncertainty) map give an image-specific model term?

For every tbm/train+val region at the scale ``measure_grain_size`` picks, the shipped
model's sigma map (the predicted spread of the boundary logit) is summarised, and the
probability is re-binarised after moving every logit by ±1.96 sigma (the map's own 95 %
range): how much does ℓ̄ move, compared with its real error against the hand-drawn ℓ̄?

    OMP_NUM_THREADS=1 python studies/grain_size_sigma.py [--quick]

Writes studies/results/grain_size_sigma.json.
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np
from _common import HEYN, gt_intercept, q, save, tbm_pairs

Z95 = 1.96


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    from napari_srmat.edges import load_boundary_model, predict_boundaries
    from napari_srmat.grainsize import (
        MODEL_OVERLAP,
        MODEL_TILE,
        _float_image,
        automatic_inference_scale,
        resample,
    )
    from napari_srmat.io import read_grey_or_rgb_float, read_mask
    from napari_srmat.metrics.heyn import measure_intercepts

    model = load_boundary_model()
    pairs = tbm_pairs()[: 3 if args.quick else None]
    rows = []
    for split, img_path, msk in pairs:
        img = _float_image(read_grey_or_rgb_float(img_path))
        s = automatic_inference_scale(img)[0]
        prob, sigma = predict_boundaries(resample(img, s), model, tile=MODEL_TILE,
                                         overlap=MODEL_OVERLAP)
        logit = np.log(np.clip(prob, 1e-6, 1 - 1e-6) / np.clip(1 - prob, 1e-6, 1))
        thr = model.threshold
        vals = {}
        for name, shift in (("minus", -Z95), ("model", 0.0), ("plus", Z95)):
            p = 1 / (1 + np.exp(-(logit + shift * sigma)))
            r = measure_intercepts(p >= thr, n_lines=200, **HEYN)
            vals[name] = None if r.mean_intercept_px is None else r.mean_intercept_px / s
        gt = gt_intercept(read_mask(msk) > 0)
        flips = float(np.mean((1 / (1 + np.exp(-(logit - Z95 * sigma))) >= thr)
                              != (1 / (1 + np.exp(-(logit + Z95 * sigma))) >= thr)))
        rows.append({"split": split, "image": img_path.name, "scale": s,
                     "sigma_q01_50_99": q(sigma.ravel(), (0.01, 0.5, 0.99)),
                     "pixels_flipped": flips, "gt_px": gt, **vals,
                     "sigma_shift_log_range": (math.log(vals["minus"] / vals["plus"])
                                               if vals["minus"] and vals["plus"] else None),
                     "log_error": (math.log(vals["model"] / gt) if vals["model"] else None)})
        print(rows[-1], file=sys.stderr)
    summary = {
        "sigma_median_q10_50_90": q([r["sigma_q01_50_99"][1] for r in rows]),
        "sigma_q99_max": max(r["sigma_q01_50_99"][2] for r in rows),
        "pixels_flipped_q10_50_90": q([r["pixels_flipped"] for r in rows]),
        "abs_log_range_from_sigma_q10_50_90": q([abs(r["sigma_shift_log_range"])
                                                 for r in rows
                                                 if r["sigma_shift_log_range"] is not None]),
        "abs_log_error_q10_50_90": q([abs(r["log_error"]) for r in rows
                                      if r["log_error"] is not None]),
        "n": len(rows),
    }
    print(summary)
    save("grain_size_sigma", {"threshold": model.threshold, "tta": model.tta,
                              "summary": summary, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
