"""The one script that opens tbm/test: every test number in the docs, once.

    OMP_NUM_THREADS=2 PYTHONPATH=../src python final_test_table.py

Everything it measures was chosen before, out of fold on tbm/train + val (threshold rule,
TTA, inference scale policy, interval model, error model): this script changes nothing
and chooses nothing. It writes ``results/final_test_table.json`` and prints the tables
of docs/boundaries.md ("Final numbers on tbm/test").

Definitions (those of issue 12): ℓ̄ of a prediction and of the ground-truth mask with the
same test lines on skeletonized masks (50 random lines, seed 1234, 5 % margin);
per-image error = mean |ℓ̄_pred − ℓ̄_true| / ℓ̄_true; pooled error = |mean ℓ̄_pred −
mean ℓ̄_true| / mean ℓ̄_true; interval coverage: the true ℓ̄ inside the reported 95 %
interval; pixel errors for the uncertainty ROC-AUC: (binarised map) ≠ mask, all pixels.

Arms of the three-arm experiment, per test image: HR (the native region), LR (×4
bicubic down, 64 px), SR(LR) with each shipped SR model and bicubic, SR(HR) (×4 up of
the native region). ℓ̄ of a ×4 image is divided by 4 (native pixels). The arms are
measured by the library's job (``napari_srmat.studies.three_arm``, also behind
``srmat experiment three-arm``); before that job existed this script measured them
itself, and ``results/final_test_table.json`` comes from that version. Both versions
give identical numbers on ``--split val`` (every key of the payload; the job adds AP /
ROC-AUC per arm); tbm/test was not opened again to show it. That version counted
``n_warned`` as images with *any* warning, which the always-present "no pixel size"
note makes 9 of 9; the count of scale warnings (``n_scale_warned`` now) read from the
JSON's own ``warnings_lr_direct`` is 6 of 9.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, save  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="test",
                    help="test for the final table (once); val to smoke-test the script")
    ap.add_argument("--quick", action="store_true", help="3 images, nothing saved")
    args = ap.parse_args(argv)

    from napari_srmat.edges import load_boundary_model
    from napari_srmat.edges.thresholds import mean_intercept
    from napari_srmat.edges.uncertainty import pixel_errors, roc_auc
    from napari_srmat.grainsize import is_scale_warning, measure_grain_size
    from napari_srmat.io import as_rgb, list_pairs, read_grey_or_rgb_float, read_mask, to_uint8
    from napari_srmat.metrics.edges import EdgeHistogram
    from napari_srmat.studies.three_arm import (
        ArmMeasurement,
        arm_errors,
        interval_coverage,
        run_three_arm,
    )

    t0 = time.time()
    pairs = list_pairs(DATA, args.split)  # the one place tbm/test is opened
    if args.quick:
        pairs = pairs[:3]
    model = load_boundary_model(device="cpu")  # the shipped defaults, chosen out of fold
    names, images, masks, truth, native = [], [], [], [], []
    hist = EdgeHistogram()
    err_scores, err_labels = [], []
    for img_path, mask_path in pairs:
        image = to_uint8(as_rgb(read_grey_or_rgb_float(img_path)))
        mask = read_mask(mask_path)
        names.append(Path(img_path).stem)
        images.append(image)
        masks.append(mask)
        truth.append(mean_intercept(mask))
        # native scale, the model's operating point
        res1 = measure_grain_size(image, model=model, inference_scale=1.0)
        native.append(ArmMeasurement.from_result(res1).to_dict())
        prob = np.asarray(res1.probability, np.float32)
        hist.update(prob, mask)
        err = pixel_errors(prob, mask, predicted=model.binarize(prob))
        err_scores.append(model.error_probability(prob).ravel())
        err_labels.append(err.ravel())
        print(f"{names[-1]}: true {truth[-1]:.1f} px, native {native[-1]['l_px']}",
              file=sys.stderr)
    # the three arms (the whole measurement, automatic scale; napari_srmat.studies.three_arm)
    result = run_three_arm(images, masks, names=names, model=model, device="cpu")
    arms = {arm: [m.to_dict() for m in rows] for arm, rows in result.arms.items()}
    auto, lr_direct = arms["HR (native region)"], arms["LR (x4 down, measured directly)"]

    def pick(rows):
        return [r["l_px"] for r in rows]

    scores = np.concatenate(err_scores)
    labels = np.concatenate(err_labels)
    table = {
        "per_image_native_scale": arm_errors(pick(native), truth),
        "auto_scale": arm_errors(pick(auto), truth),
        "ap": round(float(hist.average_precision()), 4),
        "roc_auc": round(float(hist.roc_auc()), 4),
        "sr_of_same_image_x4": arm_errors(pick(arms["SR(HR) cnn"]), truth),
        "x4_downsampled_direct": {**arm_errors(pick(lr_direct), truth),
                                  "n_scale_warned": sum(any(map(is_scale_warning,
                                                                r["warnings"]))
                                                        for r in lr_direct)},
        "sr_of_low_res_cnn": arm_errors(pick(arms["SR(LR) cnn"]), truth),
        "interval": interval_coverage(result.arms["HR (native region)"], truth),
        "uncertainty_error_roc_auc": round(float(roc_auc(scores, labels)), 4),
    }
    three_arm = result.summary()
    payload = {
        "data": f"tbm/{args.split}" + (" (opened once, by this script)"
                                        if args.split == "test" else ""), "n_images": len(pairs),
        "model": {"threshold_rule": model.threshold_rule, "tta": model.tta,
                  "weights_digest": model.weights_digest()},
        "true_l_px": [round(float(t), 3) for t in truth], "names": names,
        "table": table, "three_arm": three_arm,
        "warnings_lr_direct": [r["warnings"] for r in lr_direct],
        "seconds": round(time.time() - t0, 1),
    }
    if args.split == "test" and not args.quick:
        save("final_test_table", payload)
    for k, v in table.items():
        print(k, v if not isinstance(v, dict) else
              {kk: vv for kk, vv in v.items() if kk != "per_image_errors_pct"})
    for k, v in three_arm.items():
        print(k, {kk: vv for kk, vv in v.items() if kk != "per_image_errors_pct"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
