"""Measure registration accuracy and the scan-enhance-rescan planner (docs/rescan.md).

Registration (:func:`napari_srmat.register_images`): an HR image (synthetic
micrographs from :mod:`napari_srmat.synth`, and a region of the real scan
``scans/scan_10.jpg``) is shifted by a known sub-pixel drift, a region is cropped at a
known corner and downsampled by a known scale (OpenCV area interpolation), with and
without Gaussian noise (sigma 0.02); the scale and offset are then searched from
scratch (scale range 1-8). Reported per scale: median / max offset error (FIXED px),
max relative scale error, mean SSIM, mean seconds.

Planner (:func:`napari_srmat.plan_rescan`): an HR region of a real scan is
downsampled x4 (antialiased bicubic, the SR models' evaluation degradation) to make
the "fast LR acquisition"; the shipped ``cnn`` plans rectangles (16 px blocks) by its
disagreement under flips. Because the HR truth is known here, the plan is checked:
``error_share`` = share of the SR's absolute error (luminance, vs HR) that falls
inside the rectangles; ``capture_ratio`` = error_share / roi_fraction (1 = no better
than rectangles placed at random); ``spearman`` = rank correlation of block
uncertainty and block SR error over the blocks with structure. Two baselines take as
many 16 px blocks: the blocks with the most LR gradient (structure alone) and the
oracle (the blocks with the most true SR error: the best any plan could capture).
Scans 13, 24 and 28 (the test regions' source) and tbm/test are not used. The shipped
``cnn`` was trained on the scans (not 13/24/28), scan_10 included.

Usage::

    python benchmarks/bench_rescan_registration.py --out benchmarks/bench_rescan_registration.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

ROOT = Path(__file__).resolve().parents[1]
SCANS = ROOT.parent / "shared" / "data" / "scans"
PLANNER_SCANS = ("scan_10.jpg", "extra_3.jpg")
REAL_REG_SCAN = "scan_10.jpg"
SCALES = (2.0, 2.5, 3.0, 4.0)
NOISE = 0.02
#: Side of the acquired region (HR px): a whole number of LR px at every scale.
ACQ_SIZE = {True: 300, False: 360}  # synthetic 384 px / real 512 px HR


def _read(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0


def _acquire(hr, scale, corner, drift, size, rng=None):
    import cv2

    shifted = np.stack([ndi.shift(hr[..., c], (-drift[0], -drift[1]), order=3,
                                  mode="reflect") for c in range(3)], axis=-1)
    n = int(size // scale)
    side = int(round(n * scale))
    if side != n * scale:
        raise ValueError(f"size {size} is not a whole number of LR pixels at x{scale}")
    crop = shifted[corner[0]:corner[0] + side, corner[1]:corner[1] + side]
    lr = cv2.resize(crop, (n, n), interpolation=cv2.INTER_AREA)
    if rng is not None:
        lr = np.clip(lr + rng.normal(0, NOISE, lr.shape), 0, 1).astype(np.float32)
    return lr


def registration_study(n_seeds: int) -> list[dict]:
    from napari_srmat.sr.registration import register_images
    from napari_srmat.synth import generate_microstructure

    rows = []
    sources = [("synthetic 384 px", None)]
    if (SCANS / REAL_REG_SCAN).exists():
        sources.append((f"real {REAL_REG_SCAN} 512 px region", _read(SCANS / REAL_REG_SCAN)))
    for name, real in sources:
        for noisy in (False, True):
            for scale in SCALES:
                errs, serr, ssims, secs = [], [], [], []
                for seed in range(n_seeds):
                    rng = np.random.default_rng(1000 * seed + int(10 * scale))
                    if real is None:
                        hr = generate_microstructure((384, 384), mean_grain_size_px=28,
                                                     seed=seed).image.astype(np.float32) / 255
                    else:
                        y, x = (int(v) for v in rng.integers(0, 300, 2))
                        hr = real[y:y + 512, x:x + 512]
                    corner = tuple(int(v) for v in rng.integers(8, 60, 2))
                    drift = tuple(float(v) for v in rng.uniform(-0.5, 0.5, 2))
                    lr = _acquire(hr, scale, corner, drift, size=ACQ_SIZE[real is None],
                                  rng=rng if noisy else None)
                    t0 = time.perf_counter()
                    reg = register_images(lr, hr)
                    secs.append(time.perf_counter() - t0)
                    truth = np.add(corner, drift)
                    errs.append(float(np.abs(np.subtract(reg.offset_px, truth)).max()))
                    serr.append(abs(reg.scale / scale - 1))
                    ssims.append(reg.ssim)
                rows.append({
                    "data": name, "noise_sigma": NOISE if noisy else 0.0, "scale": scale,
                    "n": n_seeds,
                    "offset_err_median_px": float(np.median(errs)),
                    "offset_err_max_px": float(np.max(errs)),
                    "scale_rel_err_max": float(np.max(serr)),
                    "ssim_mean": float(np.mean(ssims)),
                    "seconds_mean": float(np.mean(secs)),
                })
                print(json.dumps(rows[-1]), flush=True)
    return rows


def planner_study(budgets, region: int) -> list[dict]:
    from scipy.stats import spearmanr

    from napari_srmat.audit.detector import bicubic_degrade
    from napari_srmat.channels import luminance
    from napari_srmat.sr import load_model, super_resolve
    from napari_srmat.sr.rescan import plan_rescan, structure_map

    model = load_model("cnn", scale=4, device="cpu")
    rows = []
    roi = 16
    for scan in PLANNER_SCANS:
        if not (SCANS / scan).exists():
            continue
        img = _read(SCANS / scan)
        hr = img[:region, :region]
        lr = bicubic_degrade(hr, 4)
        sr = super_resolve(lr, model, tile=256)
        err = np.abs(luminance(sr) - luminance(hr))
        h, w = lr.shape[:2]
        err_lr = err.reshape(h, 4, w, 4).mean(axis=(1, 3))
        for budget in budgets:
            t0 = time.perf_counter()
            plan = plan_rescan(lr, model, budget=budget, roi_px=roi, tile=256)
            secs = time.perf_counter() - t0
            inside = np.zeros((h, w), bool)
            for y0, x0, y1, x1 in plan.rois:
                inside[y0:y1, x0:x1] = True
            share = float(err_lr[inside].sum() / err_lr.sum())
            # block-level rank correlation of uncertainty and SR error (blocks with structure)
            structured = structure_map(lr)[0]
            by, bx = h // roi, w // roi

            def blocks(a, by=by, bx=bx):
                return a[:by * roi, :bx * roi].reshape(by, roi, bx, roi).mean(axis=(1, 3))

            sel = blocks(structured.astype(float)) >= 0.1
            rho = float(spearmanr(blocks(plan.uncertainty)[sel], blocks(err_lr)[sel])[0])
            # baselines with as many blocks: most LR gradient (structure only), and the
            # oracle (most true SR error: the best any plan could do)
            k = int(round(plan.roi_fraction * h * w / roi**2))
            err_b = blocks(err_lr)
            grad_b = blocks(ndi.gaussian_gradient_magnitude(luminance(lr), 1.0))

            def share_of(rank, k=k, err_b=err_b):
                top = np.argsort(-rank.ravel(), kind="stable")[:k]
                return float(err_b.ravel()[top].sum() / err_b.sum())
            rows.append({
                "scan": scan, "hr_region_px": region, "lr_shape": plan.lr_shape,
                "budget": budget, "n_rois": len(plan.rois),
                "roi_fraction": plan.roi_fraction, "time_ratio": plan.time_ratio,
                "uncertainty_source": plan.uncertainty_source,
                "structure_fraction": plan.structure_fraction,
                "error_share": share,
                "capture_ratio": share / plan.roi_fraction if plan.roi_fraction else None,
                "gradient_baseline_capture_ratio":
                    share_of(grad_b) / (k * roi**2 / (h * w)) if k else None,
                "oracle_capture_ratio": share_of(err_b) / (k * roi**2 / (h * w)) if k else None,
                "spearman_uncertainty_vs_error": rho,
                "seconds": secs,
            })
            print(json.dumps(rows[-1]), flush=True)
    return rows


def full_scan_plan(scan: str = REAL_REG_SCAN, budget: float = 0.1) -> dict:
    """A whole real scan taken as the fast LR acquisition (no truth): plan and seconds."""
    from napari_srmat.sr import load_model
    from napari_srmat.sr.rescan import plan_rescan

    lr = _read(SCANS / scan)
    model = load_model("cnn", scale=4, device="cpu")
    t0 = time.perf_counter()
    plan = plan_rescan(lr, model, budget=budget)
    row = {"scan": scan, "lr_shape": plan.lr_shape, "budget": budget, "roi_px": plan.roi_px,
           "n_rois": len(plan.rois), "roi_fraction": plan.roi_fraction,
           "time_ratio": plan.time_ratio, "structure_fraction": plan.structure_fraction,
           "seconds": time.perf_counter() - t0}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    ap.add_argument("--seeds", type=int, default=5, help="registrations per setting")
    ap.add_argument("--region", type=int, default=768, help="HR region side for the planner")
    ap.add_argument("--budgets", type=float, nargs="+", default=[0.05, 0.1, 0.2])
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    res = {
        "machine": f"2-core shared CPU, torch CPU, --threads {args.threads}",
        "registration": registration_study(args.seeds),
        "planner": planner_study(args.budgets, args.region),
        "full_scan": full_scan_plan() if (SCANS / REAL_REG_SCAN).exists() else None,
    }
    if args.out:
        from napari_srmat._atomic import atomic_write_text

        atomic_write_text(args.out, json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
