"""Should the shipped boundary model normalise its input? The decision, out of fold.

Compares the ``norm`` variant of ``benchmarks/cv_uaed.py`` (``input_norm="channels"``:
each image's channels shifted and scaled to a fixed mean and spread before the model)
with ``plain`` over every fold of one or more leave-scan-out repetitions (tbm/train + val
only; each repetition has its own fold assignment and training seed):

* native scale: out-of-fold per-image ℓ̄ error of the shipped operating point
  (``otsu_scaled``, TTA ``none``, cross-fitted c) from ``benchmarks/cv_uaed*.json``;
* the whole measurement (``measure_grain_size``'s automatic scale, inputs resampled by
  u = 0.5, 1, 2) from ``studies/results/grain_size_c_inference_scale*.json``;
* pixel AP (TTA ``none``).

Decision rule, written down before the second repetition was trained (the first one's
results were known): adopt ``norm`` only if its mean paired per-fold difference in the
native per-image error is below zero by more than one standard deviation of those
differences, the whole measurement is not worse by more than one standard deviation of
its paired differences, and AP is not lower by more than 0.01.

    python studies/input_norm_decision.py \\
        --cv benchmarks/cv_uaed_norm.json benchmarks/cv_uaed_norm_s1.json \\
        --measurement "" _s1

Writes studies/results/input_norm_decision.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from _common import RESULTS, save

OPERATING_POINT = ("otsu_scaled", "none")
MAX_AP_LOSS = 0.01


def _paired(a: list[float], b: list[float]) -> dict:
    d = np.asarray(b, float) - np.asarray(a, float)
    return {"plain_mean": round(float(np.mean(a)), 3), "norm_mean": round(float(np.mean(b)), 3),
            "diff_per_fold": [round(float(x), 3) for x in d],
            "diff_mean": round(float(d.mean()), 3), "diff_std": round(float(d.std(ddof=1)), 3),
            "folds_norm_better": int((d < 0).sum()), "n_folds": int(d.size)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cv", nargs="+", type=Path, required=True,
                    help="cv_uaed.py results holding plain/none and norm/none")
    ap.add_argument("--measurement", nargs="+", required=True,
                    help="per repetition, the tag of grain_size_c_inference_scale[_norm]TAG.json")
    args = ap.parse_args(argv)
    rule, tta = OPERATING_POINT
    native, ap_a, ap_b, meas_a, meas_b = ([], []), [], [], [], []
    for cv_path, tag in zip(args.cv, args.measurement):
        res = json.loads(cv_path.read_text())["results"]
        for i, variant in enumerate(("plain", "norm")):
            native[i].extend(res[f"{variant}/{tta}"]["rules"][rule]["per_image_pct"]["per_fold"])
        ap_a += res[f"plain/{tta}"]["ap"]["per_fold"]
        ap_b += res[f"norm/{tta}"]["ap"]["per_fold"]
        for name, out in (("", meas_a), ("_norm", meas_b)):
            m = json.loads((RESULTS / f"grain_size_c_inference_scale{name}{tag}.json").read_text())
            out += m["scale_policies"]["current"]["all"]["per_fold"]
    report = {"operating_point": list(OPERATING_POINT),
              "native_per_image_pct": _paired(*native),
              "measurement_per_image_pct": _paired(meas_a, meas_b),
              "ap": _paired(ap_a, ap_b)}
    n, m, a = (report[k] for k in ("native_per_image_pct", "measurement_per_image_pct", "ap"))
    checks = {"native_better_by_more_than_one_std": n["diff_mean"] < -n["diff_std"],
              "measurement_not_worse_by_more_than_one_std": m["diff_mean"] <= m["diff_std"],
              "ap_not_lower_by_more_than_0.01": a["diff_mean"] >= -MAX_AP_LOSS}
    report["checks"] = checks
    report["adopt_norm"] = all(checks.values())
    report["inputs"] = {"cv": [str(p) for p in args.cv], "measurement_tags": args.measurement}
    save("input_norm_decision", report)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
