"""Should the shipped boundary model normalise its input? The decision, out of fold.

Compares the ``norm`` variant of ``benchmarks/cv_uaed.py`` (``input_norm="channels"``:
each image's channels shifted and scaled to a fixed mean and spread before the model)
with ``plain`` over every fold of one or more leave-scan-out repetitions (tbm/train + val
only; each repetition has its own fold assignment and training seed):

* native scale: out-of-fold per-image ℓ̄ error of the shipped operating point
  (``otsu_scaled``, TTA ``none``, c cross-fitted) on the regions as they are (no
  resampling), and
* the whole measurement (``measure_grain_size``'s automatic scale, inputs resampled by
  u = 0.5, 1, 2), both from ``studies/grain_size_c_inference_scale.py``
  (``studies/results/grain_size_c_inference_scale[_norm][_TAG].json``: 200 lines per
  map, c on a 0.05 grid; ``benchmarks/cv_uaed.py``'s own evaluation, 50 lines and a
  finer grid, gives the same picture for the first repetition);
* pixel AP (TTA ``none``) of the stored out-of-fold maps (``WORK/VARIANT/fold-k/oof.npz``).

Decision rule, written down before the second repetition was trained (the first one's
results were known): adopt ``norm`` only if its mean paired per-fold difference in the
native per-image error is below zero by more than one standard deviation of those
differences, the whole measurement is not worse by more than one standard deviation of
its paired differences, and AP is not lower by more than 0.01.

    PYTHONPATH=src python studies/input_norm_decision.py \\
        --work out/cv_uaed out/cv_uaed_s1 --tags "" s1

Writes studies/results/input_norm_decision.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from _common import DATA, better_by_more_than_one_std, inference_scale_result, save
from _common import paired_with_means as _paired

OPERATING_POINT = ("otsu_scaled", "none")
MAX_AP_LOSS = 0.01


def fold_ap(work: Path, variant: str) -> list[float]:
    """Pixel AP of each fold's out-of-fold maps (TTA none) against the masks."""
    from napari_srmat.edges.data import load_pairs
    from napari_srmat.metrics.edges import EdgeHistogram

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from cv_uaed import _oof_maps, list_images

    masks = {s.name: s.mask for s in load_pairs(list_images(DATA))}
    folds = json.loads((work / "folds.json").read_text())
    probs, _ = _oof_maps(work, variant, folds, "none")
    out = []
    for names in folds:
        h = EdgeHistogram()
        for name in names:
            h.update(probs[name], masks[name])
        out.append(float(h.average_precision()))
    return out


def paired_native_measurement_ap(works: list[Path], tags: list[str],
                                 candidate: str) -> dict:
    """Paired per-fold differences ``candidate`` − ``plain`` over the folds of every
    repetition: native per-image error, whole-measurement per-image error (all inputs)
    and AP (TTA none), from ``grain_size_c_inference_scale[_VARIANT][_TAG].json``."""
    native, meas, aps = ([], []), ([], []), ([], [])
    for work, tag in zip(works, tags):
        for i, variant in enumerate(("plain", candidate)):
            m = inference_scale_result(variant, tag)
            pol = m["scale_policies"]
            native[i].extend(pol["native_reference"]["per_fold"])
            meas[i].extend(pol["current"]["all"]["per_fold"])
            aps[i].extend(fold_ap(work, variant))
    return {"operating_point": list(OPERATING_POINT),
            "native_per_image_pct": _paired(*native),
            "measurement_per_image_pct": _paired(*meas),
            "ap": _paired(*aps, lower_is_better=False)}


def recipe_decision(works: list[Path], tags: list[str], candidate: str,
                    primary: str = "native") -> dict:
    """The project's rule for a training-recipe change, judged against ``plain``: the
    ``primary`` per-image error ("native" or "measurement") lower by more than one std of
    the paired per-fold differences, the other not higher by more than one std, and AP
    not lower by more than :data:`MAX_AP_LOSS`. Returns the report with its ``checks``."""
    report = paired_native_measurement_ap(works, tags, candidate)
    n, m, a = (report[k] for k in ("native_per_image_pct", "measurement_per_image_pct", "ap"))
    if primary == "native":
        checks = {"native_better_by_more_than_one_std": better_by_more_than_one_std(n),
                  "measurement_not_worse_by_more_than_one_std": m["diff_mean"] <= m["diff_std"]}
    else:
        checks = {"measurement_better_by_more_than_one_std": better_by_more_than_one_std(m),
                  "native_not_worse_by_more_than_one_std": n["diff_mean"] <= n["diff_std"]}
    checks["ap_not_lower_by_more_than_0.01"] = a["diff_mean"] >= -MAX_AP_LOSS
    report["checks"] = checks
    return report


def one_repetition_main(argv, description: str, candidate: str, primary: str,
                        name: str, extra: Callable[[], dict] | None = None) -> int:
    """``main`` of a :func:`recipe_decision` on one leave-scan-out repetition (``--work``,
    seed 0): the report with ``candidate``, ``adopt_candidate`` and the entries of
    ``extra()`` (outside the rule), saved as ``results/<name>.json`` and printed."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--work", type=Path, default=Path("out/cv_uaed"),
                    help="work folder of benchmarks/cv_uaed.py (seed 0)")
    args = ap.parse_args(argv)
    report = recipe_decision([args.work], [""], candidate, primary=primary)
    report.update(candidate=candidate, adopt_candidate=all(report["checks"].values()),
                  **(extra() if extra is not None else {}), inputs={"work": str(args.work)})
    save(name, report)
    print(json.dumps(report, indent=1))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", nargs="+", type=Path, required=True,
                    help="work folders of benchmarks/cv_uaed.py, one per repetition")
    ap.add_argument("--tags", nargs="+", required=True,
                    help="per repetition, the --tag of grain_size_c_inference_scale.py")
    args = ap.parse_args(argv)
    report = recipe_decision(args.work, args.tags, "norm")
    report["adopt_norm"] = all(report["checks"].values())
    report["inputs"] = {"work": [str(p) for p in args.work], "tags": args.tags}
    save("input_norm_decision", report)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
