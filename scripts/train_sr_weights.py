"""Train the shipped default SR weights (CPU, single thread) and copy them into the package.

Usage (from the repository root; the data lives in ../shared/data; the exact staged
commands behind the shipped weights are in docs/super_resolution.md)::

    python scripts/train_sr_weights.py cnn      --steps 450 --time-limit 800
    python scripts/train_sr_weights.py onestep  --steps 260 --time-limit 800
    # fine-tune the shipped weights with MSE on plain bicubic pairs
    python scripts/train_sr_weights.py cnn --init default --loss mse --degradation bicubic \
        --lr 2e-4 --steps 1500

Each run trains on the scans (minus the held-out scan_13/24/28), tbm/train and
synthetic micrographs (when ``napari_srmat.synth`` is available), selects the best
EMA weights by PSNR on tbm/val, and writes them as float16 to
``src/napari_srmat/weights/sr_<model>_x<scale>/``. Equivalent CLI::

    srmat sr train --data ../shared/data/scans ../shared/data/tbm/train/images \\
        --exclude scan_13 scan_24 scan_28 --synthetic 20 --val ../shared/data/tbm/val/images \\
        --model cnn --scale 4 --train-steps 450 --out out/sr_cnn_x4 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.path.relpath(ROOT.parent / "shared" / "data"))

PRESETS = {
    "cnn": {
        "arch": {"n_feats": 32, "n_blocks": 8},
        "batch_size": 12, "patch": 96, "lr": 5e-4, "ema": 0.998, "val_every": 150,
    },
    # not shipped: 4x the width^2 of "cnn" and larger crops, but no better on tbm/test
    "cnn-large": {
        "model": "cnn",
        "arch": {"n_feats": 64, "n_blocks": 12},
        "batch_size": 8, "patch": 128, "lr": 3e-4, "ema": 0.998, "val_every": 200,
    },
    "onestep": {
        "arch": {"block_out_channels": [16, 32, 64]},
        "batch_size": 8, "patch": 64, "lr": 4e-4, "ema": 0.995, "val_every": 100,
    },
}

DEGRADATION = {"mode": "classical", "p_degrade": 0.15, "blur_sigma": [0.2, 1.0],
               "noise_sigma": [0.0, 0.02], "jpeg_quality": [75, 95]}


def main(argv=None) -> int:
    import torch

    from napari_srmat.jobs import run_job
    from napari_srmat.sr.base import PIXEL_LOSSES, SRError
    from napari_srmat.sr.registry import WEIGHTS_ROOT, load_model, save_model_checkpoint
    from napari_srmat.sr.train import train_sr_job, trained_checkpoint

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", choices=sorted(PRESETS))
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--time-limit", type=float, default=None)
    ap.add_argument("--synthetic", type=int, default=20)
    ap.add_argument("--out", default=None)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--overwrite", action="store_true",
                    help="start over in an OUT that holds an earlier run")
    ap.add_argument("--init", default=None, metavar="CHECKPOINT",
                    help="fine-tune from a checkpoint directory, or 'default' (shipped weights)")
    ap.add_argument("--loss", default="l1", choices=PIXEL_LOSSES)
    ap.add_argument("--lr", type=float, default=None, help="override the preset's learning rate")
    ap.add_argument("--degradation", default="classical", choices=("classical", "bicubic"),
                    help="classical: the mixed chain below; bicubic: the evaluation protocol only")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--no-install", action="store_true",
                    help="do not copy the best weights into src/napari_srmat/weights")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    preset = dict(PRESETS[args.model])
    if args.lr is not None:
        preset["lr"] = args.lr
    model_name = preset.pop("model", args.model)
    out = Path(args.out or ROOT / "out" / f"sr_{args.model}_x{args.scale}")
    config = dict(
        preset,
        model=model_name, scale=args.scale, out=str(out), steps=args.steps,
        data=[str(DATA / "scans"), str(DATA / "tbm" / "train" / "images")],
        exclude=["scan_13", "scan_24", "scan_28"], synthetic=args.synthetic,
        val=str(DATA / "tbm" / "val" / "images"),
        degradation=DEGRADATION if args.degradation == "classical" else {"mode": "bicubic"},
        init_checkpoint=args.init, loss=args.loss,
        num_threads=args.threads,
        time_limit_s=args.time_limit, resume=args.resume, overwrite=args.overwrite, seed=0,
    )
    result = run_job(train_sr_job(config), quiet=False)
    result.pop("history", None)
    print(json.dumps(result, indent=2, default=str))
    if not args.no_install:
        try:  # none where nothing was trained (its --time-limit reached first)
            best = trained_checkpoint(result)
        except SRError as exc:
            print(f"train_sr_weights: {exc}; nothing installed", file=sys.stderr)
            return 2
        model = load_model(checkpoint=best, device="cpu")
        dest = WEIGHTS_ROOT / f"sr_{model_name}_x{args.scale}"
        save_model_checkpoint(model, dest, training=_training_info(best), half=True)
        print(f"installed {dest}", file=sys.stderr)
    return 0


def _training_info(ckpt: str) -> dict:
    cfg = json.loads((Path(ckpt) / "config.json").read_text())
    return cfg.get("training", {})


if __name__ == "__main__":
    sys.exit(main())
