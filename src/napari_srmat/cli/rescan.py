"""``srmat plan-rescan``: scan-enhance-rescan planning (rescan rectangles + time)."""

from __future__ import annotations

import argparse
import sys

from ..io import LENGTH_UNIT
from . import (
    DEVICE_HELP,
    PX_RENAMED_WHY,
    WRITES_OUTPUT,
    Interrupted,
    add_new_lines,
    add_renamed_option,
    carried_if_failed,
    check_tile_flags,
    int_arg,
    naming_file,
    pixel_size_arg,
    print_json,
    run_cli_job,
    warning_line,
)

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
        MIN_ROI_PX,
        ROI_ORDER,
        UNCERTAINTY_SOURCES,
    )
    from ..tiling import DEFAULT_OVERLAP

    p = subparsers.add_parser(
        "plan-rescan",
        help="scan-enhance-rescan: where to rescan at high resolution after SR",
        description=f"Propose rescan rectangles [{', '.join(ROI_ORDER)}] (LR px, half-open; "
                    "rows first, unlike srmat audit's [x0, y0, x1, y1] boxes) covering "
                    "at most BUDGET of the image where the LR is out of focus, then where "
                    "the SR is least certain (never in featureless areas; with "
                    "--stand-out-only only where it stands out from the image's typical "
                    "blocks, stopping below BUDGET), and the time "
                    "ratio t_SER/t_HR = r/s^2 + A_roi/A_total. With the LR pixel size (the "
                    "file's unless --lr-pixel-size-um is given) the rectangles are also given "
                    f"in {LENGTH_UNIT} from the image's top-left corner; --out writes the "
                    "plan as CSV or JSON. See docs/rescan.md.")
    p.add_argument("lr", help="the low-resolution acquisition (image file or Zarr)")
    # the one input is the LR: --pixel-size-um (every command's name for its input's
    # size) is its equal, --lr-pixel-size-um says which image beside srmat audit's SR one
    p.add_argument("--lr-pixel-size-um", "--pixel-size-um", dest="pixel_size_um",
                   type=pixel_size_arg, default=None, metavar="PIXEL_SIZE_UM",
                   help=f"LR pixel size in {LENGTH_UNIT} (default: the LR file's) for the "
                   f"rectangles in {LENGTH_UNIT}; --pixel-size-um: the same")
    p.add_argument("--out", default=None, metavar="PLAN",
                   help="write the plan to PLAN.csv (one row per rectangle: rank, LR px, "
                        f"{LENGTH_UNIT}, uncertainty, reason, focus) or PLAN.json (what "
                        "--json prints), atomically")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing --out written by srmat plan-rescan (never "
                        "another file)")
    p.add_argument("--scale", type=int_arg(2), default=None,
                   help="SR magnification s = HR px per LR px (2 or 4; default the model's)")
    p.add_argument("--budget", type=_fraction, default=DEFAULT_BUDGET, metavar="F",
                   help=f"largest fraction of the image to rescan (default {DEFAULT_BUDGET})")
    p.add_argument("--stand-out-only", action="store_true", dest="stand_out_only",
                   help="propose blocks for their uncertainty only where it stands out from "
                        "the image's typical blocks (median + k MAD), stopping below the "
                        "budget where nothing more does (see docs/rescan.md)")
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
    add_renamed_option(p, "--roi-size-px", "--roi-size", why=PX_RENAMED_WHY,
                       type=int_arg(MIN_ROI_PX),
                       default=DEFAULT_ROI_PX, dest="roi_px", metavar="PX",
                       help=f"candidate block side in LR px (default {DEFAULT_ROI_PX})")
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
    p.set_defaults(func=_plan, **{WRITES_OUTPUT: ("out",)})  # a file only with --out


#: What the line of a Ctrl-C of ``srmat plan-rescan --out FILE`` says: the plan is
#: computed in memory and written whole at the end (atomically), so nothing resumes.
#: Until 2026-12-07 it said "a partial output, if any, is kept for a rerun".
PLAN_WRITTEN_WHOLE = "the plan file is written only once the plan is complete: rerun the command"


def _plan(args: argparse.Namespace) -> int:
    try:
        return _plan_run(args)
    except KeyboardInterrupt as exc:  # a stop's Interrupted says its own words
        if args.out is None or isinstance(exc, Interrupted):  # None: "it writes no file"
            raise
        raise Interrupted(PLAN_WRITTEN_WHOLE, rerun="rerun the command") from exc


def _plan_run(args: argparse.Namespace) -> int:

    from ..io import ImageReadError, pixel_size_text, read_image
    from ..sr import load_model
    from ..sr.refsr import use_reference
    from ..sr.rescan import (
        REASON_UNCERTAINTY,
        ROI_ORDER,
        check_plan_inputs,
        check_plan_memory,
        check_rescan_plan_file,
        plan_pixel_size,
        plan_rescan_job,
        write_rescan_plan,
    )
    from ..tiling import NonFiniteInputError

    check_tile_flags(args.tile, args.overlap)  # before reading or loading anything
    if args.out is not None:  # a refused output before any work, again when written
        check_rescan_plan_file(args.out, inputs=[args.lr], overwrite=args.overwrite)
    with naming_file(args.lr):  # an image too small, with NaN pixels, ...: which file
        mg = read_image(args.lr)
        # the given size wins, with a warning when the file records another
        pixel_size, pixel_notes = plan_pixel_size(mg, args.pixel_size_um)
    # the plan's warnings: the pixel size's, then the SR runs' (the tiled runner's
    # fall-backs); told before the error line if the plan then fails (its own line)
    told = list(pixel_notes)
    with carried_if_failed(told):
        with naming_file(args.lr):
            # the checks that need no model, before a (possibly slow) model load
            lr = check_plan_inputs(mg.data, args.budget, args.dwell_ratio, args.roi_px,
                                   args.scale)[0]
        # loaded here (as plan_rescan_job would) to check --tile against its receptive
        # field
        model = load_model(args.model, checkpoint=args.checkpoint, scale=args.scale,
                           device=args.device)
        if args.scale is None:  # checked at x2 above; the model's scale (x4 by default) now
            with naming_file(args.lr):  # which file, as the first check says
                check_plan_memory(lr.shape, model.scale)
        check_tile_flags(args.tile, args.overlap, int(model.receptive_field))
        reference = use_reference(model, lr, args.reference, option="--reference DIR")
        # found as the SR runs read the tiles: NaN/Inf pixels, a damaged chunk (which file)
        with naming_file(args.lr, only=(NonFiniteInputError, ImageReadError)):
            plan = run_cli_job(
                plan_rescan_job(lr, model, scale=args.scale, budget=args.budget,
                                dwell_ratio=args.dwell_ratio, source=args.source,
                                n_samples=args.samples, roi_px=args.roi_px, tile=args.tile,
                                overlap=args.overlap, pixel_size_um=pixel_size,
                                stand_out_only=args.stand_out_only),
                # progress on stderr with --json too (stdout holds the JSON object only),
                # as `srmat sr run --json`: a large plan runs for minutes (s51 X2 #5)
                warnings=told)
        plan.warnings[:0] = pixel_notes  # the plan was given the array and the size
        add_new_lines(plan.warnings, told)
        told[:] = plan.warnings  # told if writing the plan then fails
        result = {"input": str(args.lr), **plan.to_dict()}
        if reference is not None:  # as `srmat sr run --reference` reports it
            result["reference"] = reference["reference"]
            result["reference_similarity"] = reference["similarity"]
        written = None
        if args.out is not None:
            written = write_rescan_plan(plan, args.out, overwrite=args.overwrite,
                                        inputs=[args.lr], record=result)
    if args.json:
        if written is not None:  # a note: stdout holds the JSON object only
            print(f"wrote {written}", file=sys.stderr)
        print_json(result)
    else:
        print(f"{len(plan.rois)} rescan rectangle(s), roi_fraction {plan.roi_fraction:.3f}, "
              f"time_ratio {plan.time_ratio:.3f}, {plan.time_note} (uncertainty: "
              f"{plan.uncertainty_description})")
        if plan.pixel_size_um is not None:
            print(f"LR pixel size {pixel_size_text(plan.pixel_size_um)} {LENGTH_UNIT}; "
                  f"rectangles in {LENGTH_UNIT} from the image's top-left corner; "
                  f"{plan.roi_area_mm2:.4g} mm² to rescan")
        rois_um = plan.rois_um or [None] * len(plan.rois)
        for r, um, s, why, f in zip(plan.rois, rois_um, plan.scores, plan.reasons,
                                    plan.focus):
            where = "" if um is None else f" = {[float(f'{v:.6g}') for v in um]} {LENGTH_UNIT}"
            focus = "" if f is None else f", focus {f:.2f}"
            # the reason named where it is not the figure that follows ("uncertainty:
            # uncertainty 0.0012" on every line, CLI explorer s50 F5)
            why = "" if why == REASON_UNCERTAINTY else f"{why}: "
            print(f"  [{', '.join(ROI_ORDER)}] = {r} px{where}  {why}uncertainty {s:.4g}{focus}")
        if written is not None:
            print(f"wrote {written}")
        for note in plan.warnings:
            print(warning_line("srmat plan-rescan", note), file=sys.stderr)
    return 0

