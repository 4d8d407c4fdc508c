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
the native region). ℓ̄ of a ×4 image is divided by 4 (native pixels).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, save  # noqa: E402

SR_MODELS = ("bicubic", "cnn", "onestep")
SCALE = 4


def _intercept(mask) -> float | None:
    from napari_srmat.edges.thresholds import HEYN_KW
    from napari_srmat.metrics.heyn import measure_intercepts

    return measure_intercepts(np.asarray(mask, bool), **HEYN_KW).mean_intercept_px


def _errors(pred, true) -> dict:
    """The project's one ℓ̄-error rule (``edges.thresholds.intercept_errors``) in %."""
    from napari_srmat.edges.thresholds import intercept_errors

    e = intercept_errors(pred, true)
    per = np.asarray(e["per_image_errors"], float)
    measured = per[[v is not None and np.isfinite(v) for v in pred]]
    return {"per_image_pct": round(100 * e["per_image"], 2),
            "pooled_pct": None if e["pooled"] is None else round(100 * e["pooled"], 2),
            "n_without_figure": e["n_invalid"],
            "per_image_measured_pct": round(100 * float(measured.mean()), 2)
            if measured.size else None,
            "per_image_errors_pct": [round(100 * float(v), 2) for v in per]}


def _lr(image: np.ndarray) -> np.ndarray:
    import torch

    from napari_srmat.sr.degrade import bicubic_downsample

    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].float() / 255
    y = bicubic_downsample(x, SCALE)[0].clamp(0, 1).numpy().transpose(1, 2, 0)
    return (y * 255 + 0.5).astype(np.uint8)


def _sr(image: np.ndarray, name: str, cache: dict) -> np.ndarray:
    from napari_srmat.sr import load_model, super_resolve

    if name not in cache:
        cache[name] = load_model(name, scale=SCALE, device="cpu")
    out = np.asarray(super_resolve(image, cache[name]))
    if out.dtype != np.uint8:
        out = (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8) if out.max() <= 1.0 else \
            np.clip(out, 0, 255).astype(np.uint8)
    return out


def _measure(image, model, factor: float = 1.0, **kw) -> dict:
    from napari_srmat.grainsize import measure_grain_size

    return _row(measure_grain_size(image, model=model, **kw), factor)


def _row(r, factor: float = 1.0) -> dict:
    lo_hi = r.mean_intercept_ci95_px
    return {"l_px": None if r.mean_intercept_px is None else r.mean_intercept_px / factor,
            "ci95_px": None if lo_hi is None else [lo_hi[0] / factor, lo_hi[1] / factor],
            "inference_scale": r.inference_scale, "warnings": list(r.warnings)}


def _coverage(rows: list[dict], truth: list[float]) -> dict:
    inside, widths = [], []
    for r, t in zip(rows, truth):
        ci = r["ci95_px"]
        if ci is None:
            continue
        inside.append(ci[0] <= t <= ci[1])
        widths.append(0.5 * (ci[1] - ci[0]) / r["l_px"])
    return {"coverage_pct": round(100 * float(np.mean(inside)), 1) if inside else None,
            "n": len(inside),
            "median_half_width_pct": round(100 * float(np.median(widths)), 1) if widths
            else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="test",
                    help="test for the final table (once); val to smoke-test the script")
    ap.add_argument("--quick", action="store_true", help="3 images, nothing saved")
    args = ap.parse_args(argv)

    from napari_srmat.edges import load_boundary_model
    from napari_srmat.edges.uncertainty import pixel_errors, roc_auc
    from napari_srmat.grainsize import measure_grain_size
    from napari_srmat.io import list_pairs, read_grey_or_rgb_float, read_mask
    from napari_srmat.metrics.edges import EdgeHistogram

    t0 = time.time()
    pairs = list_pairs(DATA, args.split)  # the one place tbm/test is opened
    if args.quick:
        pairs = pairs[:3]
    model = load_boundary_model(device="cpu")  # the shipped defaults, chosen out of fold
    names, truth, native, auto, sr_hr, lr_direct = [], [], [], [], [], []
    sr_lr = {m: [] for m in SR_MODELS}
    hist = EdgeHistogram()
    err_scores, err_labels = [], []
    sr_cache: dict = {}
    for img_path, mask_path in pairs:
        image = (np.clip(read_grey_or_rgb_float(img_path), 0, 1) * 255 + 0.5).astype(np.uint8)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        mask = read_mask(mask_path)
        names.append(Path(img_path).stem)
        truth.append(_intercept(mask))
        # native scale, the model's operating point
        res1 = measure_grain_size(image, model=model, inference_scale=1.0)
        r1 = _row(res1)
        native.append(r1)
        prob = np.asarray(res1.probability, np.float32)
        hist.update(prob, mask)
        err = pixel_errors(prob, mask, predicted=model.binarize(prob))
        err_scores.append(model.error_probability(prob).ravel())
        err_labels.append(err.ravel())
        # the whole measurement (automatic scale)
        auto.append(_measure(image, model))
        # SR(HR): a x4 SR of the same region
        sr_hr.append(_measure(_sr(image, "cnn", sr_cache), model, factor=SCALE))
        # LR: x4 down, measured directly, then SR(LR) per model
        lr = _lr(image)
        lr_direct.append(_measure(lr, model, factor=1.0 / SCALE))
        for m in SR_MODELS:
            sr_lr[m].append(_measure(_sr(lr, m, sr_cache), model))
        print(f"{names[-1]}: true {truth[-1]:.1f} px, native {r1['l_px']}, "
              f"auto {auto[-1]['l_px']}", file=sys.stderr)

    def pick(rows):
        return [r["l_px"] for r in rows]

    scores = np.concatenate(err_scores)
    labels = np.concatenate(err_labels)
    arms = {"HR (native region)": auto, "LR (x4 down, measured directly)": lr_direct,
            **{f"SR(LR) {m}": sr_lr[m] for m in SR_MODELS}, "SR(HR) cnn": sr_hr}
    table = {
        "per_image_native_scale": _errors(pick(native), truth),
        "auto_scale": _errors(pick(auto), truth),
        "ap": round(float(hist.average_precision()), 4),
        "roc_auc": round(float(hist.roc_auc()), 4),
        "sr_of_same_image_x4": _errors(pick(sr_hr), truth),
        "x4_downsampled_direct": {**_errors(pick(lr_direct), truth),
                                  "n_warned": sum(bool(r["warnings"]) for r in lr_direct)},
        "sr_of_low_res_cnn": _errors(pick(sr_lr["cnn"]), truth),
        "interval": _coverage(auto, truth),
        "uncertainty_error_roc_auc": round(float(roc_auc(scores, labels)), 4),
    }
    three_arm = {name: {**_errors(pick(rows), truth), **_coverage(rows, truth)}
                 for name, rows in arms.items()}
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
