"""``srmat experiment``: reproducible experiments (SR vs original for boundaries)."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import UserError, print_json

__all__ = ["register"]

DEFAULT_DATA = "../shared/data/tbm"


def register(subparsers) -> None:
    p = subparsers.add_parser("experiment", help="paper experiments")
    sub = p.add_subparsers(dest="experiment_command", metavar="NAME")
    s = sub.add_parser(
        "sr-vs-original",
        help="train UAED on bilinear-upscaled vs super-resolved TBM images and compare",
    )
    s.add_argument("--data", default=DEFAULT_DATA, help=f"TBM root (default {DEFAULT_DATA})")
    s.add_argument("--scale", type=int, default=4)
    s.add_argument("--epochs", type=int, default=20)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--crop", type=int, default=None,
                   help="centre-crop LR images to this size first (cheaper)")
    s.add_argument("--encoder", default="tiny")
    s.add_argument("--lr", type=float, default=1e-3)
    s.add_argument("--train-crop", type=int, default=128)
    s.add_argument("--steps-per-epoch", type=int, default=None)
    s.add_argument("--max-images", type=int, default=None)
    s.add_argument("--sr-model", default=None, help="SR registry name (default: shipped)")
    s.add_argument("--sr-checkpoint", default=None)
    s.add_argument("--mask-mode", choices=["redraw", "nearest"], default="redraw")
    s.add_argument("--device", default="auto")
    s.add_argument("--out", default="sr_vs_original")
    s.add_argument("--init-checkpoint", default=None, metavar="CKPT",
                   help="start both arms from these UAED weights ('default': shipped)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_sr_vs_original)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])


def _sr_vs_original(args: argparse.Namespace) -> int:
    from ..jobs import run_job
    from ..studies.sr_vs_original import run_sr_vs_original_job

    if not Path(args.data).is_dir():
        raise UserError(f"--data {args.data}: folder not found")
    sr_model = None
    if args.sr_model or args.sr_checkpoint:
        from ..sr import load_model

        sr_model = load_model(args.sr_model, checkpoint=args.sr_checkpoint, scale=args.scale)
    report = run_job(run_sr_vs_original_job(
        args.data, sr_model=sr_model, scale=args.scale, epochs=args.epochs, seed=args.seed,
        crop=args.crop, encoder=args.encoder, lr=args.lr, train_crop=args.train_crop,
        steps_per_epoch=args.steps_per_epoch, max_images=args.max_images,
        mask_mode=args.mask_mode, device=args.device, out=args.out,
        init_checkpoint=args.init_checkpoint,
    ))
    if report is None:
        raise UserError("experiment stopped")
    if args.json:
        report = {k: v for k, v in report.items()}
        for arm in ("original", "sr"):
            report[arm] = {k: v for k, v in report[arm].items() if k != "per_image"}
        print_json(report)
    else:
        print(report["table"])
    return 0
