"""Benchmark SR models on the TBM val split: PSNR/SSIM vs bicubic and CPU speed.

HR = the 256x256 images of ``--data`` (default tbm/val, where the SR weights were
selected; docs/super_resolution.md's final table used ``--data`` tbm/test), LR = their
antialiased bicubic x``scale`` downsampling (torch). PSNR on RGB in [0, 1], SSIM
(scikit-image, channel_axis=-1).
Speed = LR megapixels per second of ``model.predict`` (one image per call, after a
warm-up), measured in the same run as bicubic so ratios are comparable. Also
compares tiled vs untiled output of one model (``--tiled-model``).

Each model's error is also split at the LR Nyquist frequency
(:func:`napari_srmat.metrics.sr.spectral_error_split`): ``oob_captured`` is the
share of the HR content above that frequency the model reproduced. The
``band-limited oracle`` row restores every frequency the LR represents exactly and
nothing above it: a model beats it only by predicting out-of-band detail.

Usage::

    python benchmarks/bench_sr_models.py --json > benchmarks/bench_sr_models_val.json
    python benchmarks/bench_sr_models.py --models bicubic cnn --threads 1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "tbm" / "val" / "images"


def _load(folder: Path) -> list[np.ndarray]:
    from PIL import Image

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".tif"))
    if not files:
        raise SystemExit(f"no images in {folder}")
    return [np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) / 255.0 for f in files]


def _lr(hr: np.ndarray, scale: int) -> np.ndarray:
    import torch

    from napari_srmat.sr.degrade import bicubic_downsample

    h, w = (hr.shape[0] // scale) * scale, (hr.shape[1] // scale) * scale
    t = torch.from_numpy(np.ascontiguousarray(hr[:h, :w].transpose(2, 0, 1)))[None]
    return bicubic_downsample(t, scale).numpy()


def _metrics(hr: np.ndarray, sr: np.ndarray) -> tuple[float, float]:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    sr = np.clip(sr, 0, 1)
    return (peak_signal_noise_ratio(hr, sr, data_range=1.0),
            structural_similarity(hr, sr, channel_axis=-1, data_range=1.0))


def run(models: list[str], data: Path, scale: int, tiled_model: str | None, tile: int,
        overlap: int) -> dict:
    from napari_srmat.metrics.sr import band_limit, spectral_error_split
    from napari_srmat.sr import load_model, super_resolve

    hrs = _load(data)
    lrs = [_lr(hr, scale) for hr in hrs]
    hrs = [hr[: lr.shape[2] * scale, : lr.shape[3] * scale] for hr, lr in zip(hrs, lrs)]
    rows = {}
    for name in models:
        if "=" in name:  # LABEL=CHECKPOINT_DIR: a trained checkpoint under a label
            name, ckpt = name.split("=", 1)
            model = load_model(checkpoint=ckpt, device="cpu")
        else:
            model = load_model(name, scale=scale, device="cpu")
        model.predict(lrs[0])  # warm-up
        psnrs, ssims, captured, secs = [], [], [], 0.0
        for hr, lr in zip(hrs, lrs):
            t0 = time.perf_counter()
            sr = model.predict(lr)[0].transpose(1, 2, 0)
            secs += time.perf_counter() - t0
            p, s = _metrics(hr, sr)
            psnrs.append(p)
            ssims.append(s)
            captured.append(
                spectral_error_split(hr, np.clip(sr, 0, 1), scale)["out_of_band_captured"])
        mp = sum(lr.shape[2] * lr.shape[3] for lr in lrs) / 1e6
        rows[name] = {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims)),
                      "oob_captured": float(np.mean(captured)),
                      "lr_megapixels_per_s": mp / secs, "seconds": secs,
                      "checkpoint": model.checkpoint}

    base = rows.get("bicubic")
    if base:
        for r in rows.values():
            r["psnr_gain_db"] = r["psnr"] - base["psnr"]
            r["ssim_gain"] = r["ssim"] - base["ssim"]
            r["speed_ratio_vs_bicubic"] = r["lr_megapixels_per_s"] / base["lr_megapixels_per_s"]
    oracle = [_metrics(hr, band_limit(hr, scale)) for hr in hrs]
    rows["band-limited oracle"] = {
        "psnr": float(np.mean([p for p, _ in oracle])),
        "ssim": float(np.mean([s for _, s in oracle])), "oob_captured": 0.0,
        "psnr_gain_db": float(np.mean([p for p, _ in oracle])) - base["psnr"] if base else None,
    }
    result = {"data": str(data), "n_images": len(hrs), "scale": scale, "models": rows}
    if tiled_model:
        model = load_model(tiled_model, scale=scale, device="cpu")
        diffs, psnr_t, psnr_u = [], [], []
        for hr, lr in zip(hrs, lrs):
            untiled = model.predict(lr)[0].transpose(1, 2, 0)
            tiled = super_resolve(lr[0].transpose(1, 2, 0), model, tile=tile, overlap=overlap)
            diffs.append(_metrics(untiled, tiled)[0])
            psnr_t.append(_metrics(hr, tiled)[0])
            psnr_u.append(_metrics(hr, untiled)[0])
        result["tiling"] = {
            "model": tiled_model, "tile": tile,
            "overlap": max(overlap, model.receptive_field),
            "psnr_tiled_vs_untiled": float(np.mean(diffs)),
            "min_psnr_tiled_vs_untiled": float(np.min(diffs)),
            "psnr_vs_hr_tiled": float(np.mean(psnr_t)),
            "psnr_vs_hr_untiled": float(np.mean(psnr_u)),
        }
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--models", nargs="+", default=["bicubic", "lanczos", "cnn", "onestep"],
                    help="registry names, or LABEL=CHECKPOINT_DIR for a trained checkpoint")
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--tiled-model", default="onestep", help="'' to skip the tiling check")
    ap.add_argument("--tile", type=int, default=56, help="LR tile of the tiling check")
    ap.add_argument("--overlap", type=int, default=24)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    if "bicubic" not in args.models:
        args.models.insert(0, "bicubic")
    res = run(args.models, args.data, args.scale, args.tiled_model or None, args.tile,
              args.overlap)
    res["threads"] = args.threads
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"{'model':<20} {'PSNR':>7} {'dPSNR':>7} {'SSIM':>7} {'oob capt':>8} {'LR MP/s':>9} "
          f"{'x bicubic':>9}")
    for name, r in res["models"].items():
        speed = (f"{r['lr_megapixels_per_s']:9.3f} {r.get('speed_ratio_vs_bicubic', 1):9.4f}"
                 if "lr_megapixels_per_s" in r else "")
        print(f"{name:<20} {r['psnr']:7.3f} {r.get('psnr_gain_db', 0):+7.3f} {r['ssim']:7.4f} "
              f"{r['oob_captured']:8.3f} {speed}")
    if "tiling" in res:
        t = res["tiling"]
        print(f"tiling {t['model']}: tile {t['tile']}, overlap {t['overlap']}: PSNR tiled vs "
              f"untiled {t['psnr_tiled_vs_untiled']:.1f} dB "
              f"(min {t['min_psnr_tiled_vs_untiled']:.1f})"
              f"; vs HR tiled {t['psnr_vs_hr_tiled']:.3f} / untiled {t['psnr_vs_hr_untiled']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
