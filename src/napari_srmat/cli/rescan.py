"""``srmat plan-rescan``: scan-enhance-rescan planning (rescan rectangles + time)."""

from __future__ import annotations

import argparse
import sys

from . import DEVICE_HELP, check_tile_flags, int_arg, print_json

__all__ = ["register"]


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = float("nan")
    if not 0.0 < v <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a fraction in (0, 1], got {text!r}")
    return v


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = float("nan")
    if not v > 0.0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return v


def register(subparsers) -> None:
    from ..sr.rescan import (
        DEFAULT_BUDGET,
        DEFAULT_DWELL_RATIO,
        DEFAULT_PLAN_TILE,
        DEFAULT_ROI_PX,
        DEFAULT_SAMPLES,
        UNCERTAINTY_SOURCES,
    )
    from ..tiling import DEFAULT_OVERLAP

    p = subparsers.add_parser(
        "plan-rescan",
        help="scan-enhance-rescan: where to rescan at high resolution after SR",
        description="Propose rescan rectangles [y0, x0, y1, x1] (LR px, half-open) covering "
                    "at most BUDGET of the image where the SR is least certain (never in "
                    "featureless areas), and the time ratio t_SER/t_HR = r/s^2 + "
                    "A_roi/A_total.")
    p.add_argument("lr", help="the low-resolution acquisition (image file or Zarr)")
    p.add_argument("--scale", type=int, default=None,
                   help="SR magnification s = HR px per LR px (2 or 4; default the model's)")
    p.add_argument("--budget", type=_fraction, default=DEFAULT_BUDGET, metavar="F",
                   help=f"largest fraction of the image to rescan (default {DEFAULT_BUDGET})")
    p.add_argument("--dwell-ratio", type=_positive, default=DEFAULT_DWELL_RATIO, metavar="R",
                   dest="dwell_ratio",
                   help="LR dwell time / HR dwell time per pixel (default "
                        f"{DEFAULT_DWELL_RATIO:g})")
    p.add_argument("--model", default=None, help="SR model (default: the shipped default)")
    p.add_argument("--checkpoint", default=None, help="checkpoint directory of the model")
    p.add_argument("--source", default="auto", choices=("auto", *UNCERTAINTY_SOURCES),
                   help="uncertainty: flips (deterministic models), samples (stochastic); "
                        "auto picks by model")
    p.add_argument("--samples", type=int_arg(2), default=DEFAULT_SAMPLES,
                   help=f"samples for --source samples (default {DEFAULT_SAMPLES})")
    p.add_argument("--roi-size", type=int_arg(4), default=DEFAULT_ROI_PX, dest="roi_px",
                   metavar="PX", help=f"candidate block side in LR px (default {DEFAULT_ROI_PX})")
    p.add_argument("--tile", type=int_arg(1), default=DEFAULT_PLAN_TILE, metavar="PX",
                   help=f"largest LR tile of the SR runs, context included (LR px, default "
                        f"{DEFAULT_PLAN_TILE}); larger than 2 x the overlap")
    p.add_argument("--overlap", type=int_arg(0), default=None, metavar="PX",
                   help=f"LR context per tile side of the SR runs (LR px, default "
                        f"{DEFAULT_OVERLAP}, raised to the model's receptive field), as in "
                        "`srmat sr run`")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--reference", default=None, metavar="DIR",
                   help="refsr: folder of HR reference micrographs of the same material (at "
                        "the output pixel size); the closest one by texture embedding is used")
    p.add_argument("--json", action="store_true", help="print the plan as one JSON object")
    p.set_defaults(func=_plan)


def _plan(args: argparse.Namespace) -> int:

    from ..io import read_image
    from ..jobs import Stopped, run_job
    from ..sr import load_model
    from ..sr.refsr import use_reference
    from ..sr.rescan import check_plan_inputs, plan_rescan_job

    check_tile_flags(args.tile, args.overlap)  # before reading or loading anything
    mg = read_image(args.lr)
    # the checks that need no model, before a (possibly slow) model load
    lr = check_plan_inputs(mg.data, args.budget, args.dwell_ratio, args.roi_px, args.scale)[0]
    # loaded here (as plan_rescan_job would) to check --tile against its receptive field
    model = load_model(args.model, checkpoint=args.checkpoint, scale=args.scale,
                       device=args.device)
    check_tile_flags(args.tile, args.overlap, int(model.receptive_field))
    reference = use_reference(model, lr, args.reference, option="--reference DIR")
    stopped = []
    plan = run_job(
        plan_rescan_job(lr, model, scale=args.scale, budget=args.budget,
                        dwell_ratio=args.dwell_ratio, source=args.source,
                        n_samples=args.samples, roi_px=args.roi_px, tile=args.tile,
                        overlap=args.overlap),
        quiet=args.json,
        on_event=lambda e: stopped.append(e) if isinstance(e, Stopped) else None)
    if plan is None or stopped:
        print("srmat plan-rescan: stopped before completion", file=sys.stderr)
        return 1
    result = {"input": str(args.lr), **plan.to_dict()}
    if reference is not None:  # as `srmat sr run --reference` reports it
        result["reference"] = reference["reference"]
        result["reference_similarity"] = reference["similarity"]
    if args.json:
        print_json(result)
    else:
        saving = (f"saves {plan.time_saved:.1%} of a full HR scan's time" if plan.time_ratio < 1
                  else f"does NOT pay off: {-plan.time_saved:.1%} longer than a full HR scan")
        print(f"{len(plan.rois)} rescan rectangle(s), roi_fraction {plan.roi_fraction:.3f}, "
              f"time_ratio {plan.time_ratio:.3f}, {saving} (uncertainty: "
              f"{plan.uncertainty_description})")
        for r, s in zip(plan.rois, plan.scores):
            print(f"  [y0, x0, y1, x1] = {r}  uncertainty {s:.4g}")
        for note in plan.warnings:
            print(f"srmat plan-rescan: warning: {note}", file=sys.stderr)
    return 0
