"""A rejected design: the model term of the 95 % interval from a threshold band.

Kept because docs/grain_size.md reports its result: re-binarising the probability map at
the 2.5-97.5 % range of per-image "right" thresholds is not usable on the shipped model
(the lower end marks more than half of the pixels as boundary for 44 of 63 images, and
12 of 63 images need a threshold outside [0.15, 0.85]). ``measure_grain_size`` uses the
calibrated error distribution instead (``studies/grain_size_calibration.py``).

For every tbm/train and tbm/val region (never tbm/test) the full measurement runs as
``measure_grain_size`` does by default (automatic inference scale, shipped weights, TTA
d4, 50 random lines). On its probability map, ℓ̄ is measured at a grid of thresholds
(200 lines) and the threshold ``t*`` at which it equals the ground-truth ℓ̄ (hand-drawn
mask, thinned, 500 random lines) is found by interpolation. ``THRESHOLD_BAND`` is the
2.5 % and 97.5 % quantiles of ``t* - threshold``.

Coverage: the fraction of images whose 95 % interval contains the ground-truth ℓ̄,
(a) with the band from all images (in-sample), (b) leave-one-scan-out (the band from
the other scans: the honest number), (c) without the model term (line sampling and
pixel resolution only). The model was trained on tbm/train, so train figures are
optimistic; val figures are reported separately.

    OMP_NUM_THREADS=1 python studies/grain_size_threshold_band.py [--quick]

Writes studies/results/grain_size_threshold_band.json.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np
from _common import HEYN, gt_intercept, q, save, scan_of, tbm_pairs

#: The band under test (what was THRESHOLD_BAND in napari_srmat.grainsize) is computed
#: here from the data; the library no longer has it.
THRESHOLDS = tuple(np.round(np.arange(0.15, 0.851, 0.0125), 4))
CURVE_LINES = 200
QUANTILES = (0.025, 0.975)


def crossing(thresholds, values, target) -> tuple[float, bool]:
    """Threshold where ℓ̄(t) (increasing in t) reaches ``target`` (log-linear), and
    whether it lies inside the grid (else the nearest end)."""
    t = np.asarray(thresholds, float)
    v = np.asarray([np.nan if x is None else x for x in values], float)
    ok = np.isfinite(v)
    t, v = t[ok], np.log(v[ok])
    goal = math.log(target)
    for i in range(len(t) - 1):
        a, b = v[i] - goal, v[i + 1] - goal
        if a == 0:
            return float(t[i]), True
        if a * b < 0:
            return float(t[i] + (t[i + 1] - t[i]) * a / (a - b)), True
    if not len(t):
        return math.nan, False
    return (float(t[0]) if v[0] > goal else float(t[-1])), False


def interval_for(item: dict, band: tuple[float, float] | None):
    """95 % interval (input px) of one image with a given threshold-offset band."""
    from napari_srmat.grainsize import grain_size_from_heyn
    from napari_srmat.metrics.heyn import measure_intercepts

    ends = None
    if band is not None:
        ends = []
        for off in band:
            t = min(1.0, max(0.0, item["threshold"] + off))
            r = measure_intercepts(item["prob"] >= t, n_lines=50, **HEYN)
            ends.append(r.mean_intercept_px)
    res = grain_size_from_heyn(item["heyn"], inference_scale=item["scale"],
                               model_range_px=None if ends is None else tuple(ends))
    return res.mean_intercept_ci95_px


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="4 images (smoke test)")
    args = ap.parse_args()
    from napari_srmat.edges import load_boundary_model
    from napari_srmat.grainsize import measure_grain_size
    from napari_srmat.io import read_image, read_mask
    from napari_srmat.metrics.heyn import measure_intercepts

    model = load_boundary_model()
    pairs = tbm_pairs()
    if args.quick:
        pairs = pairs[:2] + pairs[-2:]
    items = []
    t0 = time.time()
    for k, (split, img, msk) in enumerate(pairs):
        gt = gt_intercept(read_mask(msk) > 0)
        res = measure_grain_size(read_image(img), model=model)
        s = res.inference_scale
        curve = []
        for t in THRESHOLDS:
            r = measure_intercepts(res.probability >= t, n_lines=CURVE_LINES, **HEYN)
            curve.append(None if r.mean_intercept_px is None else r.mean_intercept_px / s)
        t_star, inside = crossing(THRESHOLDS, curve, gt)
        items.append({"split": split, "image": img.name, "scan": scan_of(img), "gt_px": gt,
                      "pred_px": res.mean_intercept_px, "scale": s,
                      "estimated_px": res.estimated_intercept_px,
                      "inference_px": res.inference_intercept_px,
                      "threshold": res.threshold, "t_star": t_star, "t_star_inside": inside,
                      "offset": t_star - res.threshold, "curve": curve,
                      "warnings": res.warnings, "prob": res.probability, "heyn": res.heyn})
        print(f"[{k + 1}/{len(pairs)}] {split}/{img.name} gt {gt:.1f} pred "
              f"{res.mean_intercept_px} scale {s} t* {t_star:.3f} ({time.time() - t0:.0f} s)",
              file=sys.stderr)
    offsets = np.array([it["offset"] for it in items])
    band = tuple(float(x) for x in np.quantile(offsets, QUANTILES))
    scans = sorted({it["scan"] for it in items})
    loso = {}
    for sc in scans:
        other = np.array([it["offset"] for it in items if it["scan"] != sc])
        loso[sc] = tuple(float(x) for x in np.quantile(other, QUANTILES))
    for it in items:
        it["ci_in_sample"] = interval_for(it, band)
        it["ci_loso"] = interval_for(it, loso[it["scan"]])
        it["ci_no_model"] = interval_for(it, None)
    summary = {"threshold_band_offsets": band, "offset_q10_50_90": q(offsets),
               "n_t_star_outside_grid": int(sum(not it["t_star_inside"] for it in items))}
    for split in ("train", "val", "all"):
        sel = [it for it in items if split in ("all", it["split"])]
        if not sel:
            continue
        err = [it["pred_px"] / it["gt_px"] - 1 for it in sel if it["pred_px"] is not None]
        row = {"n": len(sel), "rel_error_q10_50_90": q(err),
               "abs_rel_error_median": q(np.abs(err), (0.5,))[0]}
        for key in ("ci_in_sample", "ci_loso", "ci_no_model"):
            cis = [it[key] for it in sel]
            cover = [c is not None and c[0] <= it["gt_px"] <= c[1] for c, it in zip(cis, sel)]
            rel = [(c[1] - c[0]) / 2 / it["pred_px"] for c, it in zip(cis, sel) if c is not None]
            row[key] = {"coverage": float(np.mean(cover)), "n_covered": int(sum(cover)),
                        "n_no_interval": int(sum(c is None for c in cis)),
                        "rel_half_width_median": q(rel, (0.5,))[0] if rel else None}
        summary[split] = row
        print(f"{split}: n={row['n']} rel error q10/50/90 {row['rel_error_q10_50_90']}; coverage "
              f"in-sample {row['ci_in_sample']['coverage']:.2f}, leave-one-scan-out "
              f"{row['ci_loso']['coverage']:.2f}, without model term "
              f"{row['ci_no_model']['coverage']:.2f}; median half-width "
              f"{row['ci_loso']['rel_half_width_median']}")
    print(f"THRESHOLD_BAND = {tuple(round(b, 4) for b in band)}")
    for it in items:
        del it["prob"], it["heyn"]
    save("grain_size_threshold_band", {"threshold": model.threshold, "tta": model.tta,
                                    "thresholds": THRESHOLDS, "curve_lines": CURVE_LINES,
                                    "summary": summary, "loso_bands": loso, "items": items})
    return 0


if __name__ == "__main__":
    sys.exit(main())
