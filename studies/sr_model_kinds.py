"""cGAN vs DDPM vs refsr vs cnn vs bicubic at x4 with equal small CPU budgets.

    OMP_NUM_THREADS=1 PYTHONPATH=../src python sr_model_kinds.py [--budget-s 120] [--quick]

Two data sets, each with its own training and evaluation images (never tbm/test):

* ``synthetic``: 8 synthetic micrographs (256 px, mean grain size 15-45 px, seeds 0-7)
  for training, 6 others (seeds 1000-1005) for evaluation;
* ``tbm``: tbm/train/images for training, tbm/val/images (6 regions of 256 px) for
  evaluation.

Every trainable kind (``cnn``, ``cgan``, ``ddpm``, ``refsr``) is trained from scratch by
:func:`napari_srmat.sr.train_sr_job` with the same settings (x4, batch 8, HR patch 64,
AdamW 5e-4, bicubic degradation, seed 0, one torch thread) and the same wall-clock
budget (``--budget-s``), without validation (nothing is chosen on the evaluation
images); the ``last`` (EMA) checkpoint is evaluated. Architectures are each kind's
defaults. LR inputs of the evaluation are the antialiased bicubic x4 downsampling of the
HR images; PSNR and SSIM as :func:`napari_srmat.sr.evaluate_sr` computes them: the
``psnr_y`` / ``ssim_y`` that ``srmat sr eval`` reports (:func:`napari_srmat.metrics.sr.psnr_y`,
:func:`~napari_srmat.metrics.sr.ssim_y`: luma, less a 4 px border, 11x11 Gaussian SSIM
window). The results written before 2026-12-06 (``results/sr_model_kinds*.json``) were
computed on RGB in [0, 1] by scikit-image (the validation rule of then): not comparable
with a rerun. ``ddpm`` samples with 20 DDIM steps (seed 0).
``refsr`` picks its reference for each evaluation image from the *training* folder by
texture-embedding similarity (:func:`napari_srmat.sr.refsr.pick_reference`).

The machine is a shared 2-core CPU: an equal wall-clock budget is only roughly an equal
compute budget (the steps each run reached are recorded). Writes
``results/sr_model_kinds.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, save  # noqa: E402

SCALE = 4
KINDS = ("cnn", "cgan", "ddpm", "refsr")
TRAIN = {"scale": SCALE, "batch_size": 8, "patch": 64, "lr": 5e-4, "warmup": 50,
         "steps": 1_000_000, "log_every": 25, "val_every": 10**9, "seed": 0,
         "num_threads": 1, "device": "cpu", "degradation": {"mode": "bicubic"}}


def _grain_size(seed: int) -> float:
    """Mean grain size (generator spacing, px) of the synthetic micrograph ``seed``."""
    return float(np.random.default_rng(seed).uniform(15, 45))


def _annotate_references(dataset: dict) -> None:
    """Synthetic data: the grain size of each image and of the reference refsr picked,
    and the rank of that reference among the training images by grain-size distance
    (0 = the closest in grain size, the right "material")."""
    rows = dataset["models"].get("refsr", {}).get("per_image", [])
    train = sorted(int(p.stem.split("_")[1]) for p in Path(dataset["train"]).glob("synth_*.png")) \
        or list(range(8))
    ranks = []
    for r in rows:
        img, ref = (int(Path(n).stem.split("_")[1]) for n in (r["image"], r["reference"]))
        order = sorted(train, key=lambda s: abs(_grain_size(s) - _grain_size(img)))
        r.update(image_grain_px=round(_grain_size(img), 1),
                 reference_grain_px=round(_grain_size(ref), 1), reference_rank=order.index(ref))
        ranks.append(order.index(ref))
    if ranks:
        dataset["models"]["refsr"]["reference_rank_counts"] = {
            str(k): ranks.count(k) for k in sorted(set(ranks))}


def _write_synthetic(folder: Path, seeds) -> Path:
    from PIL import Image

    from napari_srmat.synth import generate_microstructure

    folder.mkdir(parents=True, exist_ok=True)
    for s in seeds:
        size = _grain_size(s)
        img = generate_microstructure((256, 256), mean_grain_size_px=size, seed=s).image
        Image.fromarray(img).save(folder / f"synth_{s:04d}.png")
    return folder


def _hr_images(folder: Path, limit: int) -> list[tuple[Path, np.ndarray]]:
    from napari_srmat.io import IMAGE_SUFFIXES, as_rgb, read_grey_or_rgb_float

    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)[:limit]
    out = []
    for f in files:
        out.append((f, as_rgb(read_grey_or_rgb_float(f))))
    return out


def _evaluate(model, hr_images, ref_dir: Path) -> dict:
    import torch

    from napari_srmat.sr import evaluate_sr
    from napari_srmat.sr.degrade import bicubic_downsample

    rows = []
    for path, hr in hr_images:
        extra = {}
        if getattr(model, "needs_reference", False):
            t = torch.from_numpy(np.ascontiguousarray(hr.transpose(2, 0, 1)))[None]
            lr = bicubic_downsample(t, SCALE)[0].numpy().transpose(1, 2, 0)
            picked = model.use_reference_dir(lr, ref_dir)
            extra = {"reference": Path(picked["reference"]).name,
                     "similarity": round(picked["similarity"], 4)}
        m = evaluate_sr(model, [hr])
        rows.append({"image": path.name, **m, **extra})
    return {"psnr": float(np.mean([r["psnr"] for r in rows])),
            "ssim": float(np.mean([r["ssim"] for r in rows])), "per_image": rows}


def _run_dataset(name: str, train_dir: Path, val_dir: Path, budget_s: float, n_val: int,
                 work: Path, kinds=KINDS) -> dict:
    from napari_srmat.jobs import run_job
    from napari_srmat.sr import load_model, train_sr_job
    from napari_srmat.sr.train import trained_checkpoint

    hr_images = _hr_images(val_dir, n_val)
    out: dict = {"train": str(train_dir), "eval": str(val_dir),
                 "n_eval": len(hr_images), "models": {}}
    t0 = time.perf_counter()
    out["models"]["bicubic"] = _evaluate(load_model("bicubic", scale=SCALE), hr_images,
                                         train_dir)
    out["models"]["bicubic"]["eval_s"] = time.perf_counter() - t0
    for kind in kinds:
        cfg = dict(TRAIN, model=kind, out=str(work / f"{name}_{kind}"), data=[str(train_dir)],
                   time_limit_s=budget_s, overwrite=True)  # a rerun trains again
        res = run_job(train_sr_job(cfg), quiet=True)
        model = load_model(checkpoint=trained_checkpoint(res, "last"), device="cpu")
        t0 = time.perf_counter()
        ev = _evaluate(model, hr_images, train_dir)
        ev.update(train_steps=res["step"], train_s=round(res["seconds"], 1),
                  eval_s=round(time.perf_counter() - t0, 1),
                  final_loss=res["history"][-1]["loss"] if res["history"] else None,
                  first_loss=res["history"][0]["loss"] if res["history"] else None)
        out["models"][kind] = ev
        print(f"{name:9s} {kind:7s} PSNR {ev['psnr']:.2f} SSIM {ev['ssim']:.4f} "
              f"({res['step']} steps in {res['seconds']:.0f} s)", file=sys.stderr)
    b = out["models"]["bicubic"]
    print(f"{name:9s} bicubic PSNR {b['psnr']:.2f} SSIM {b['ssim']:.4f}", file=sys.stderr)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget-s", type=float, default=120.0,
                    help="wall-clock training budget of every model (s)")
    ap.add_argument("--quick", action="store_true", help="smoke test: 10 s, 1 image")
    ap.add_argument("--datasets", nargs="+", default=["synthetic", "tbm"])
    ap.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    ap.add_argument("--tag", default="", help="suffix of the results file name")
    ap.add_argument("--annotate", default=None, metavar="JSON",
                    help="only add the reference grain sizes to an existing results file")
    args = ap.parse_args()
    if args.annotate:
        import json

        payload = json.loads(Path(args.annotate).read_text())
        if "synthetic" in payload["datasets"]:
            _annotate_references(payload["datasets"]["synthetic"])
        Path(args.annotate).write_text(json.dumps(payload, indent=1, default=float) + "\n")
        print(json.dumps(payload["datasets"].get("synthetic", {}).get("models", {}).get(
            "refsr", {}).get("reference_rank_counts")))
        return
    import torch

    torch.set_num_threads(1)
    budget = 10.0 if args.quick else args.budget_s
    n_val = 1 if args.quick else 6
    payload: dict = {"scale": SCALE, "budget_s": budget, "train_settings": TRAIN,
                     "machine": "shared 2-core CPU, one torch thread", "datasets": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for ds in args.datasets:
            if ds == "synthetic":
                train = _write_synthetic(work / "synth_train", range(8))
                val = _write_synthetic(work / "synth_val", range(1000, 1006))
            elif ds == "tbm":
                train, val = DATA / "train" / "images", DATA / "val" / "images"
            else:
                raise SystemExit(f"unknown data set {ds!r}")
            payload["datasets"][ds] = _run_dataset(ds, train, val, budget, n_val, work,
                                                   args.kinds)
            if ds == "synthetic":
                _annotate_references(payload["datasets"][ds])
    if not args.quick:
        save("sr_model_kinds" + (f"_{args.tag}" if args.tag else ""), payload)
    print("| data | model | PSNR (dB) | SSIM | train steps |")
    print("|---|---|---|---|---|")
    for ds, d in payload["datasets"].items():
        for kind, m in d["models"].items():
            print(f"| {ds} | {kind} | {m['psnr']:.2f} | {m['ssim']:.4f} | "
                  f"{m.get('train_steps', '–')} |")


if __name__ == "__main__":
    main()
