"""Structure-modulated vs standard Gaussian training noise of the ``ddpm`` SR model.

Trains two tiny ``ddpm`` models with the same seed, data, steps and architecture
(equal compute: the same optimiser steps on the same crops), one with
``noise="gaussian"`` and one with ``noise="structure"`` (training noise whose mean in each
region follows the region's HR mean; regions = the synthetic generator's grain labels,
or SLIC superpixels of tbm/train crops), then evaluates both and bicubic with
:func:`napari_srmat.metrics.sr.evaluate_sr_pair` (``psnr_y``, ``ssim_y``, ``essim``, the
LDL artifact map's mean) on held-out HR images whose LR inputs are their antialiased
bicubic downsampling. The shipped ``cnn`` (x4) is evaluated as a reference row.

* ``--data synthetic`` (default): train on synthetic micrographs (seeds 0..n-1),
  evaluate on other synthetic micrographs (seeds 1000+).
* ``--data tbm``: train on tbm/train, evaluate on tbm/val (never tbm/test).

Run from this folder, e.g.
``OMP_NUM_THREADS=1 PYTHONPATH=../src python sr_structure_noise.py --steps 300``;
writes ``results/sr_structure_noise[_tbm][_TAG].json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import DATA, save

ARCH = {"block_out_channels": [16, 32, 32], "norm_num_groups": 8, "num_inference_steps": 10}


def _eval_images(kind: str, n: int, size: int) -> list[np.ndarray]:
    if kind == "synthetic":
        from napari_srmat.synth import generate_microstructure

        rng = np.random.default_rng(1000)
        return [generate_microstructure((size, size), mean_grain_size_px=float(rng.uniform(15, 45)),
                                        seed=1000 + i).image.astype(np.float32) / 255
                for i in range(n)]
    from napari_srmat.io import read_grey_or_rgb_float

    files = sorted((DATA / "val" / "images").glob("*.png"))[:n]  # never tbm/test
    imgs = [read_grey_or_rgb_float(f) for f in files]
    return [im[:size, :size] if im.ndim == 3 else np.repeat(im[:size, :size, None], 3, 2)
            for im in imgs]


def _evaluate(model, images: list[np.ndarray], scale: int, samples: int) -> dict:
    import torch

    from napari_srmat.metrics.sr import evaluate_sr_pair
    from napari_srmat.sr.degrade import bicubic_downsample

    rows = []
    for k, hr in enumerate(images):
        lr = bicubic_downsample(torch.from_numpy(hr.transpose(2, 0, 1).copy())[None], scale)
        preds = []
        for j in range(samples):
            if hasattr(model, "options") and "seed" in model.options:
                model.options["seed"] = j
            preds.append(np.clip(model.predict(lr.numpy())[0].transpose(1, 2, 0), 0, 1))
        for sr in preds:
            r = evaluate_sr_pair(hr, sr, scale, lr=lr[0].numpy().transpose(1, 2, 0))
            rows.append({"image": k, "psnr_y": r["psnr_y"], "ssim_y": r["ssim_y"],
                         "essim": r["essim"], "ldl_mean": r["ldl_mean"],
                         "noref_ldl_mean": r["noref_ldl_mean"]})
    keys = ("psnr_y", "ssim_y", "essim", "ldl_mean", "noref_ldl_mean")
    return {k: float(np.mean([r[k] for r in rows])) for k in keys}


def markdown_table(results: dict) -> str:
    """The docs table of a results dict (``--table results/...json`` prints it)."""
    keys = ("psnr_y", "ssim_y", "essim", "ldl_mean", "noref_ldl_mean", "train_seconds")
    lines = ["| model | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for name, row in results.items():
        cells = []
        for k in keys:
            v = row.get(k)
            cells.append("–" if v is None else f"{v:.2e}" if "ldl" in k
                         else f"{v:.0f}" if k == "train_seconds" else f"{v:.4f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", choices=("synthetic", "tbm"), default="synthetic")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--patch", type=int, default=64)
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--train-images", type=int, default=8, help="synthetic training images")
    ap.add_argument("--eval-images", type=int, default=6)
    ap.add_argument("--eval-size", type=int, default=128)
    ap.add_argument("--samples", type=int, default=2, help="DDPM samples per image")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tag", default="", help="suffix of the results file name")
    ap.add_argument("--table", default=None, metavar="RESULTS.json",
                    help="only print the markdown table of a results file")
    args = ap.parse_args()
    if args.table:
        import json

        print(markdown_table(json.loads(Path(args.table).read_text())["results"]))
        return 0

    from napari_srmat.sr import load_model
    from napari_srmat.sr.train import train_sr, trained_checkpoint

    images = _eval_images(args.data, args.eval_images, args.eval_size)
    results: dict = {"bicubic": _evaluate(load_model("bicubic", scale=args.scale), images,
                                          args.scale, 1)}
    print("bicubic", results["bicubic"], file=sys.stderr)
    if args.scale == 4:  # the shipped cnn (x4 weights) as a reference row
        results["cnn_shipped"] = _evaluate(load_model("cnn", scale=4), images, 4, 1)
        print("cnn", results["cnn_shipped"], file=sys.stderr)
    for seed in args.seeds:
        for noise in ("gaussian", "structure"):
            with tempfile.TemporaryDirectory() as tmp:
                cfg = dict(model="ddpm", scale=args.scale, out=str(Path(tmp) / "run"),
                           steps=args.steps, batch_size=args.batch_size, patch=args.patch,
                           lr=5e-4, warmup=20, val_every=10**9, log_every=50,
                           num_threads=args.threads, seed=seed, noise=noise, arch=ARCH)
                if args.data == "synthetic":
                    cfg.update(synthetic=args.train_images, synthetic_size=256)
                else:
                    cfg.update(data=[str(DATA / "train" / "images")])
                t0 = time.perf_counter()
                res = train_sr(cfg)
                seconds = time.perf_counter() - t0
                model = load_model(checkpoint=trained_checkpoint(res))
                row = _evaluate(model, images, args.scale, args.samples)
            row.update(train_seconds=round(seconds, 1),
                       final_loss=res["history"][-1]["loss"] if res["history"] else None)
            results[f"ddpm_{noise}_seed{seed}"] = row
            print(noise, seed, row, file=sys.stderr)
    for noise in ("gaussian", "structure"):
        runs = [results[f"ddpm_{noise}_seed{s}"] for s in args.seeds]
        results[f"ddpm_{noise}_mean"] = {k: float(np.mean([r[k] for r in runs]))
                                         for k in runs[0] if k != "final_loss"}
    payload = {
        "data": args.data,
        "eval": ("synthetic micrographs, seeds 1000+" if args.data == "synthetic"
                 else "tbm/val images") + f", top-left {args.eval_size} px crops, "
                 f"{len(images)} images; LR = antialiased bicubic x{args.scale}",
        "train": (f"{args.train_images} synthetic 256 px micrographs"
                  if args.data == "synthetic" else "tbm/train images")
                 + f"; {args.steps} steps, batch {args.batch_size}, patch {args.patch}",
        "arch": ARCH,
        "samples_per_image": args.samples,
        "machine": "2-core CPU (shared)",
        "results": results,
    }
    save("sr_structure_noise" + ("_tbm" if args.data == "tbm" else "")
         + (f"_{args.tag}" if args.tag else ""), payload)
    print(markdown_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
