"""A dead band in the inference-scale policy, replayed from the measurements of
``grain_size_c_inference_scale.py`` (no new model runs; tbm/train + val only).

The shipped policy resamples to ``TARGET_INTERCEPT_PX`` / estimate unless the ratio is
within ``SCALE_TOLERANCE`` (15 %) of 1. A wider band leaves more native regions
unresampled (where the model is best) at the risk of measuring rescaled inputs at the wrong
scale. For a band ``|ln(26 / estimate)| <= tau`` the measurement equals the cached one at
scale 1 inside the band and the shipped policy's outside it, so every tau is replayed
exactly. tau is also cross-fitted (fold k scored with the tau best on the other folds).

    python studies/scale_policy_deadband.py --work out/cv_uaed [--variant plain]

Writes studies/results/scale_policy_deadband[_VARIANT].json.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
from _common import save

TAUS = (0.14, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 1.0)
INPUT_SCALES = (0.5, 1.0, 2.0)


def replay(records: list[dict]) -> dict:
    """Per-fold mean per-image error of each dead band (native c cross-fitted)."""
    from grain_size_c_inference_scale import cross_fitted_c

    from napari_srmat.edges.thresholds import intercept_errors
    from napari_srmat.grainsize import TARGET_INTERCEPT_PX

    c_index, _, _ = cross_fitted_c(records)
    folds = sorted(c_index)
    auto = [r for r in records if r["auto"]]
    out = {}
    for tau in TAUS:
        values = []
        for r in auto:
            est = r["estimate_px"]
            inside = est is None or abs(math.log(TARGET_INTERCEPT_PX / est)) <= tau
            scale = 1.0 if inside else r["policies"]["current"]
            values.append(r["by_scale"][f"{scale:g}"][c_index[r["fold"]]])
        err = np.array(intercept_errors(values, [r["truth_px"] for r in auto])
                       ["per_image_errors"])
        fold = np.array([r["fold"] for r in auto])
        u = np.array([r["u"] for r in auto])
        per_fold = [100 * float(err[fold == f].mean()) for f in folds]
        out[f"{tau:g}"] = {
            "per_fold": [round(v, 2) for v in per_fold],
            "mean": round(float(np.mean(per_fold)), 2),
            **{f"u{s:g}": round(100 * float(err[u == s].mean()), 2) for s in INPUT_SCALES}}
    cross = []
    for i, k in enumerate(folds):
        best = min(TAUS, key=lambda t: np.mean([out[f"{t:g}"]["per_fold"][j]
                                                for j in range(len(folds)) if j != i]))
        cross.append({"fold": k, "tau": best, "error_pct": out[f"{best:g}"]["per_fold"][i]})
    return {"by_tau": out, "cross_fitted": cross,
            "cross_fitted_mean_pct": round(float(np.mean([c["error_pct"] for c in cross])), 2),
            "shipped_tolerance_tau": round(math.log(1.15), 3)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("out/cv_uaed"))
    ap.add_argument("--variant", default="plain")
    args = ap.parse_args(argv)
    suffix = "" if args.variant == "plain" else f"_{args.variant}"
    records = json.loads((args.work / f"c_inference_scale{suffix}.json").read_text())
    result = replay(records)
    save(f"scale_policy_deadband{suffix}", {
        "data": "tbm/train+val (never test), cached out-of-fold measurements",
        "variant": args.variant, **result})
    for tau, r in result["by_tau"].items():
        print(f"tau {tau}: all {r['mean']} %  u0.5 {r['u0.5']}  u1 {r['u1']}  u2 {r['u2']}")
    print("cross-fitted", result["cross_fitted_mean_pct"], "%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
