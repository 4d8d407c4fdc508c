"""``srmat experiment``: reproducible experiments (SR vs original for boundaries; the
three-arm grain-size experiment)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ..studies.three_arm import SR_OF_NATIVE_MODEL, THREE_ARM_SCALE, THREE_ARM_SR_MODELS
from . import (
    DEVICE_HELP,
    WRITES_OUTPUT,
    Interrupted,
    UserError,
    add_learning_rate,
    int_arg,
    missing_action,
    naming_file,
    print_json_result,
    run_cli_job,
    seed_arg,
)
from .edges import ENCODER_HELP, INIT_CHECKPOINT_METAVAR

if TYPE_CHECKING:
    from ..io import Micrograph

__all__ = ["register"]

DEFAULT_DATA = "../shared/data/tbm"


def register(subparsers) -> None:
    from ..edges.config import MIN_TRAIN_CROP

    p = subparsers.add_parser("experiment", help="paper experiments")
    sub = p.add_subparsers(dest="experiment_command", metavar="NAME")
    s = sub.add_parser(
        "sr-vs-original",
        help="train UAED on bilinear-upscaled vs super-resolved TBM images and compare",
    )
    s.add_argument("--data", default=DEFAULT_DATA, help=f"TBM root (default {DEFAULT_DATA})")
    s.add_argument("--scale", type=int_arg(1), default=4,
                   help="upscaling factor of both arms (default %(default)s; 2 is "
                        "CPU-friendly)")
    s.add_argument("--epochs", type=int_arg(1), default=20,
                   help="UAED training epochs of each arm (default %(default)s)")
    s.add_argument("--seed", type=seed_arg, default=0,
                   help="random seed of both trainings (default %(default)s)")
    s.add_argument("--crop", type=int_arg(1), default=None,
                   help="centre-crop each LR image to this side in px before upscaling "
                        "(cheaper; default: whole images)")
    s.add_argument("--encoder", default="tiny", help=ENCODER_HELP)
    add_learning_rate(s, 1e-3, "AdamW learning rate of both trainings (default %(default)s)")
    s.add_argument("--train-crop", type=int_arg(MIN_TRAIN_CROP), default=128,
                   help=f"side of the random training crops in upscaled px "
                        f"(default %(default)s, at least {MIN_TRAIN_CROP})")
    s.add_argument("--steps-per-epoch", type=int_arg(1), default=None, metavar="N",
                   help="optimiser steps per epoch (default: one pass over the training "
                        "images)")
    s.add_argument("--max-images", type=int_arg(1), default=None, metavar="N",
                   help="use only the first N images of each split (quick runs; "
                        "default: all)")
    s.add_argument("--sr-model", default=None, help="SR registry name (default: shipped)")
    s.add_argument("--sr-checkpoint", default=None,
                   help="checkpoint directory of the SR model (default: its shipped "
                        "weights)")
    s.add_argument("--mask-mode", choices=["redraw", "nearest"], default="redraw",
                   help="how the boundary masks are upscaled: redraw (thinned to 1 px, "
                        "then re-drawn about 4 upscaled px wide) or nearest (each pixel repeated) "
                        "(default %(default)s)")
    s.add_argument("--device", default="auto", help=DEVICE_HELP)
    s.add_argument("--out", default="sr_vs_original",
                   help="folder to write report.json, table.md, pr.png, roc.png and the "
                        "two training runs original/ and sr/ (default %(default)s)")
    s.add_argument("--init-checkpoint", default=None, metavar=INIT_CHECKPOINT_METAVAR,
                   help="start both arms from these UAED weights ('default': shipped)")
    s.add_argument("--json", action="store_true",
                   help="print the report as one JSON object (without per-image rows)")
    s.set_defaults(func=_sr_vs_original)

    t = sub.add_parser(
        "three-arm",
        help="grain size of labelled micrographs as they are (HR), x4 down (LR), SR(LR) "
             "and SR(HR), against their masks",
    )
    t.add_argument("folder", help="folder with images/ and masks/ (matched by file stem; "
                                  "regions: each image and its x4 SR are held in memory)")
    t.add_argument("--checkpoint", default=None,
                   help="boundary model (default: shipped weights)")
    t.add_argument("--sr-models", default=",".join(THREE_ARM_SR_MODELS),
                   help=f"SR models of the SR(LR) arms (default "
                        f"{','.join(THREE_ARM_SR_MODELS)})")
    t.add_argument("--sr-of-native", default=SR_OF_NATIVE_MODEL,
                   help=f"SR model of the SR(HR) arm, or 'none' (default {SR_OF_NATIVE_MODEL})")
    t.add_argument("--report", default=None, metavar="JSON",
                   help="write per-image rows and the table to this JSON file")
    t.add_argument("--plot", default=None, metavar="PNG", help="write the figure here")
    t.add_argument("--overwrite", action="store_true",
                   help="replace a --report/--plot this command wrote before")
    t.add_argument("--device", default="auto", help=DEVICE_HELP)
    t.add_argument("--json", action="store_true", help="print the table as JSON")
    t.set_defaults(func=_three_arm, **{WRITES_OUTPUT: ("report", "plot")})
    p.set_defaults(func=missing_action(p))


def _sr_vs_original(args: argparse.Namespace) -> int:
    from ..studies.sr_vs_original import run_sr_vs_original_job

    if not Path(args.data).is_dir():
        from ..errors import not_found_message

        raise UserError(not_found_message(args.data, "data root"))
    sr_model = None
    if args.sr_model or args.sr_checkpoint:
        from ..sr import load_model

        sr_model = load_model(args.sr_model, checkpoint=args.sr_checkpoint, scale=args.scale)
    report = run_cli_job(run_sr_vs_original_job(
        args.data, sr_model=sr_model, scale=args.scale, epochs=args.epochs, seed=args.seed,
        crop=args.crop, encoder=args.encoder, lr=args.lr, train_crop=args.train_crop,
        steps_per_epoch=args.steps_per_epoch, max_images=args.max_images,
        mask_mode=args.mask_mode, device=args.device, out=args.out,
        init_checkpoint=args.init_checkpoint,
    ))
    if args.json:
        report = {k: v for k, v in report.items()}
        for arm in ("original", "sr"):
            report[arm] = {k: v for k, v in report[arm].items() if k != "per_image"}
        print_json_result(report)
    else:
        print(report["table"])
    return 0


#: What the line of a Ctrl-C of ``srmat experiment three-arm --report/--plot`` says: both
#: are written whole once every image is measured, so nothing resumes (as
#: ``srmat plan-rescan``'s :data:`~napari_srmat.cli.rescan.PLAN_WRITTEN_WHOLE`). Until
#: 2026-12-07 it said "a partial output, if any, is kept for a rerun"; without either
#: it says the command writes no file.
REPORT_WRITTEN_WHOLE = ("the report and figure are written only once every image is "
                        "measured: rerun the command")


def _three_arm(args: argparse.Namespace) -> int:
    try:
        return _three_arm_run(args)
    except KeyboardInterrupt as exc:  # a stop's Interrupted says its own words
        if (args.report is None and args.plot is None) or isinstance(exc, Interrupted):
            raise
        raise Interrupted(REPORT_WRITTEN_WHOLE, rerun="rerun the command") from exc


def _three_arm_run(args: argparse.Namespace) -> int:
    from ..edges import load_boundary_model
    from ..errors import not_found_message
    from ..io import image_stem, list_pairs, read_mask
    from ..outputs import check_figure_file, check_output_file
    from ..studies.three_arm import (
        REPORT_KIND,
        is_three_arm_report,
        plot_three_arm,
        three_arm_job,
        write_three_arm_report,
    )

    folder = Path(args.folder)
    if not folder.is_dir():
        raise UserError(not_found_message(folder, "folder"))
    sr_models = [m.strip() for m in args.sr_models.split(",") if m.strip()]
    if not sr_models:
        raise UserError("--sr-models: give at least one SR model")
    sr_of_native = None if args.sr_of_native.lower() == "none" else args.sr_of_native
    from ..sr.registry import check_model_name

    for flag, names in (("--sr-models", sr_models), ("--sr-of-native", [sr_of_native])):
        for name in filter(None, names):  # before the boundary model and images load
            with naming_file(flag):
                check_model_name(name)
    pairs = list_pairs(folder.parent, folder.name)
    if (args.report is not None and args.plot is not None
            and Path(args.report).resolve() == Path(args.plot).resolve()):
        raise UserError("--report and --plot must be two different files")
    inputs = [folder, args.checkpoint]
    if args.report is not None:  # "" is refused, not skipped
        check_output_file(args.report, inputs=inputs, overwrite=args.overwrite,
                          ours=is_three_arm_report)
    if args.plot is not None:
        check_figure_file(args.plot, kind=REPORT_KIND, inputs=inputs,
                          overwrite=args.overwrite)
    model = load_boundary_model(args.checkpoint, device=args.device)
    images = [_calibrated(p) for p, _ in pairs]
    masks = [read_mask(m) for _, m in pairs]
    result = run_cli_job(three_arm_job(
        images, masks, names=[image_stem(p) for p, _ in pairs], model=model,
        sr_models=sr_models, sr_of_native=sr_of_native, device=args.device),
        quiet=args.json)
    if args.report is not None:
        write_three_arm_report(result, args.report, overwrite=args.overwrite, inputs=inputs,
                               folder=str(folder),
                               checkpoint=model.path and str(model.path),
                               threshold_rule=model.threshold_rule, tta=model.tta,
                               scale=THREE_ARM_SCALE)
    if args.plot is not None:
        plot_three_arm(result, args.plot, title=f"three-arm experiment: {folder.name} "
                       f"({len(pairs)} images)", overwrite=args.overwrite)
    table = result.table()
    if args.json:
        print_json_result({"images": len(pairs), "arms": table})  # and the warnings
    else:
        print(format_three_arm_table(table))
    return 0


def _calibrated(path: Path) -> Micrograph:
    """The image at ``path`` in memory (:func:`~napari_srmat.io.read_grey_or_rgb_float`,
    which refuses misread values naming the file) as a Micrograph with the pixel size
    and metadata its file records (until 2026-12-07 a bare array: every row of the
    three-arm experiment warned 'no pixel size' though the file recorded one)."""
    import dataclasses

    from ..io import read_grey_or_rgb_float, read_image

    pixels = read_grey_or_rgb_float(path)
    return dataclasses.replace(read_image(path), data=pixels, levels=[pixels],
                               axes="YXC" if pixels.ndim == 3 else "YX")


def format_three_arm_table(summary: dict) -> str:
    """Markdown table of :meth:`ThreeArmResult.table`."""
    def f(v, spec):
        return "n/a" if v is None else format(v, spec)

    lines = ["| arm | per-image error % | pooled error % | refused | interval coverage % "
             "| median half-width % | AP | ROC-AUC |", "|---|---|---|---|---|---|---|---|"]
    for arm, r in summary.items():
        lines.append(f"| {arm} | {f(r['per_image_pct'], '.1f')} | {f(r['pooled_pct'], '.1f')} "
                     f"| {r['n_without_figure']} | {f(r['coverage_pct'], '.0f')} "
                     f"| {f(r['median_half_width_pct'], '.0f')} | {f(r['ap'], '.3f')} "
                     f"| {f(r['roc_auc'], '.3f')} |")
    return "\n".join(lines)
