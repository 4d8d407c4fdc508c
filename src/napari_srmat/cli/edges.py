"""``srmat edges``: train, predict and evaluate the UAED boundary model."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..edges.config import ENCODER_NAMES
from ..io import LENGTH_UNIT
from ..outputs import EACH_IMAGE_ONCE
from . import (
    ALREADY_COMPLETE_NOTE,
    DEVICE_HELP,
    WRITES_OUTPUT,
    AlreadyCompleteWatch,
    UserError,
    _checked_number_arg,
    add_learning_rate,
    add_renamed_option,
    check_distinct_inputs,
    check_tile_flags,
    input_path_arg,
    int_arg,
    missing_action,
    naming_file,
    pixel_size_arg,
    print_json_result,
    rerun_to_resume,
    run_cli_job,
    seed_arg,
    threshold_arg,
    threshold_rule_arg,
)

__all__ = ["register", "EACH_IMAGE_ONCE"]

#: help of the ``--encoder`` flags: the presets of
#: :data:`napari_srmat.edges.config.ENCODER_NAMES` (torch-free, as the Train widget's list)
ENCODER_HELP = (f"encoder preset of the boundary model: {', '.join(ENCODER_NAMES[:-1])} or "
                f"{ENCODER_NAMES[-1]} (default %(default)s)")


#: metavar of ``--init-checkpoint``, the weights a training starts from, in every
#: training command (``srmat edges train``, ``srmat sr train``, ``srmat experiment``)
INIT_CHECKPOINT_METAVAR = "CKPT"


def register(subparsers) -> None:
    from ..edges.config import MIN_TRAIN_CROP, BoundaryTrainConfig
    from ..edges.data import INPUT_NORMS
    from ..tiling import BOUNDARY_OVERLAP, BOUNDARY_TILE

    d = BoundaryTrainConfig()  # the one place the training defaults live
    p = subparsers.add_parser("edges", help="UAED boundary probability and uncertainty")
    sub = p.add_subparsers(dest="edges_command", metavar="ACTION")

    t = sub.add_parser("train", help="train a UAED boundary model")
    t.add_argument("--data", required=True, help="ROOT with {train,val}/{images,masks}")
    t.add_argument("--epochs", type=int_arg(1), default=d.epochs,
                   help="training epochs on the labelled images, after any synthetic "
                        "pretraining (default %(default)s)")
    t.add_argument("--pretrain-synthetic", type=int_arg(0), default=d.pretrain_synthetic,
                   metavar="N", help="pretrain on N synthetic micrographs first "
                                     "(default %(default)s: none)")
    t.add_argument("--pretrain-epochs", type=int_arg(0), default=d.pretrain_epochs,
                   help="epochs on the synthetic micrographs of --pretrain-synthetic, "
                        "before the labelled ones (default %(default)s)")
    t.add_argument("--encoder", default=d.encoder, help=ENCODER_HELP)
    t.add_argument("--out", default="uaed_run", help="run directory (best/ is the checkpoint)")
    t.add_argument("--resume", action="store_true",
                   help="continue from OUT/last (the same data and settings)")
    t.add_argument("--overwrite", action="store_true",
                   help="start over in an OUT that holds an earlier run (its checkpoints are "
                        "replaced once the first epoch is saved)")
    add_learning_rate(t, d.lr, "AdamW learning rate, cosine-decayed towards 5%% of it over "
                               "the epochs (default %(default)s; 1e-3 suits short CPU runs)")
    t.add_argument("--batch-size", type=int_arg(1), default=d.batch_size,
                   help="training crops per optimiser step (default %(default)s)")
    t.add_argument("--crop", type=int_arg(MIN_TRAIN_CROP), default=d.crop,
                   help=f"side of the random training crops in px (default %(default)s, "
                        f"at least {MIN_TRAIN_CROP}); every training image must be at "
                        "least this large")
    t.add_argument("--steps-per-epoch", type=int_arg(1), default=d.steps_per_epoch,
                   metavar="N", help="optimiser steps per epoch (default: one pass over the "
                                     "training images, their number / --batch-size rounded up)")
    t.add_argument("--seed", type=seed_arg, default=d.seed,
                   help="random seed of the initial weights, crops and augmentation "
                        "(default %(default)s)")
    t.add_argument("--device", default=d.device, help=DEVICE_HELP)
    t.add_argument("--threads", type=int_arg(0), default=d.num_threads,
                   help="torch CPU threads (default or 0: torch's default)")
    t.add_argument("--augment", default=d.photometric_augment, metavar="LIST",
                   help="photometric augmentation: 'all' or a comma-separated subset of "
                        "color,gamma,blur,sharpen,noise,jpeg (default: none)")
    t.add_argument("--input-norm", choices=INPUT_NORMS, default=d.input_norm,
                   help="normalise each image's channels to a fixed mean and spread before "
                        "the model (recorded in the checkpoint; inference does the same)")
    t.add_argument("--init-checkpoint", default=None, metavar=INIT_CHECKPOINT_METAVAR,
                   help="start from these weights (same encoder): 'default' for the shipped "
                        "model (fine-tuning on your own labelled images), a checkpoint "
                        "folder, or the output of `srmat edges pretrain`")
    t.add_argument("--json", action="store_true",
                   help="print one JSON object (best checkpoint, validation AP, threshold, "
                        "history)")
    t.set_defaults(func=_train)

    from ..edges.config import MaskedPretrainConfig

    m = MaskedPretrainConfig()
    pt = sub.add_parser(
        "pretrain", help="self-supervised pretraining on unlabeled micrographs (masked "
                         "image modelling); train from it with --init-checkpoint")
    pt.add_argument("images", nargs="+", type=input_path_arg,
                    help="unlabeled micrographs (PNG/JPEG/TIFF/OME-Zarr)")
    pt.add_argument("--out", required=True, help="checkpoint folder to create")
    # its old name --steps: --train-steps in srmat sr train
    add_renamed_option(pt, "--train-steps", "--steps", why="the name srmat sr train gives it",
                       type=int_arg(1), default=m.steps, dest="train_steps", metavar="N",
                       help="optimiser steps (default %(default)s)")
    pt.add_argument("--batch-size", type=int_arg(1), default=m.batch_size,
                    help="random crops per step (default %(default)s)")
    pt.add_argument("--crop", type=int_arg(1), default=m.crop,
                    help="side of the random crops in px: a multiple of --patch, at least "
                         "twice it; every image must be at least this large "
                         "(default %(default)s)")
    pt.add_argument("--patch", type=int_arg(1), default=m.patch,
                    help="side of the hidden squares in px (default %(default)s)")
    pt.add_argument("--mask-ratio", type=_mask_ratio_arg, default=m.mask_ratio,
                    help="fraction of the squares of each crop hidden, between 0 and 1 "
                         "(default %(default)s)")
    pt.add_argument("--encoder", default=m.encoder, help=ENCODER_HELP)
    add_learning_rate(pt, m.lr, "AdamW learning rate, cosine-decayed towards 5%% of it over "
                                "the steps (default %(default)s)")
    pt.add_argument("--seed", type=seed_arg, default=m.seed,
                    help="random seed of the crops, the hidden squares and the initial "
                         "weights (default %(default)s)")
    pt.add_argument("--device", default=m.device, help=DEVICE_HELP)
    pt.add_argument("--threads", type=int_arg(0), default=m.num_threads,
                    help="torch CPU threads (default or 0: torch's default)")
    pt.add_argument("--json", action="store_true",
                    help="print one JSON object (checkpoint, steps, images, final loss)")
    pt.set_defaults(func=_pretrain)

    pr = sub.add_parser("predict", help="boundary probability + uncertainty of an image")
    pr.add_argument("image", type=input_path_arg,
                    help="micrograph (PNG/JPEG/TIFF/OME-TIFF/Zarr/OME-Zarr)")
    pr.add_argument("--out", required=True, help="output directory")
    pr.add_argument("--pixel-size-um", type=pixel_size_arg, default=None,
                    help=f"{LENGTH_UNIT} per pixel (overrides the file's), recorded in the "
                         "maps, as predict_boundaries(pixel_size_um=)")
    pr.add_argument("--checkpoint", default=None, help="default: shipped weights")
    pr.add_argument("--tile", type=int_arg(1), default=BOUNDARY_TILE,
                    help="largest tile side in px, context included (default %(default)s; "
                         "small images use a smaller one)")
    pr.add_argument("--overlap", type=int_arg(0), default=BOUNDARY_OVERLAP,
                    help="context in px on each side of a tile, blended between tiles "
                         "(default %(default)s)")
    pr.add_argument("--device", default="auto", help=DEVICE_HELP)
    pr.add_argument("--tta", choices=("none", "d4"), default=None,
                    help="test-time augmentation (default: the checkpoint's setting)")
    threshold_rule_arg(pr)
    pr.add_argument("--overwrite", action="store_true",
                    help="replace an existing OUT folder written by `edges predict` with "
                         "other input or settings, and start over an OUT.partial started "
                         "with them (never anything else)")
    pr.add_argument("--no-resume", action="store_true",
                    help="start over instead of resuming OUT.partial")
    pr.add_argument("--error-map", action="store_true",
                    help="also write error_probability.ome.zarr: the probability that each "
                         "pixel of the thresholded map is wrong (needs an error model in "
                         "the checkpoint; docs/boundaries.md)")
    pr.add_argument("--scheduler", default=None, metavar="ADDRESS",
                    help="run the tiles on a dask.distributed cluster: a scheduler address "
                         "(tcp://host:8786) or local:N; --out must be on a file system the "
                         "workers share (docs/distributed.md)")
    pr.add_argument("--json", action="store_true", help="print a JSON summary to stdout")
    pr.set_defaults(func=_predict)

    e = sub.add_parser("eval", help="AP / ROC-AUC / Heyn error on a test folder")
    e.add_argument("--images", required=True, help="folder of test images")
    e.add_argument("--masks", required=True,
                   help="folder of their boundary masks (paired by file stem)")
    e.add_argument("--val-images", default=None,
                   help="folder of validation images: the thresholds are then chosen on "
                        "them (max F1, least Heyn error) instead of taken from the "
                        "checkpoint; with --val-masks")
    e.add_argument("--val-masks", default=None,
                   help="folder of the validation boundary masks (with --val-images)")
    e.add_argument("--checkpoint", default=None, help="default: shipped weights")
    e.add_argument("--threshold", type=threshold_arg, default=None,
                   help="fixed UAED threshold in [0, 1] (default: max F1 on the validation "
                        "folders, else the checkpoint's)")
    e.add_argument("--tta", choices=("none", "d4"), default=None,
                   help="test-time augmentation (default: the checkpoint's setting)")
    threshold_rule_arg(e)
    e.add_argument("--device", default="auto", help=DEVICE_HELP)
    e.add_argument("--no-baseline", action="store_true", help="skip the Sobel baseline")
    e.add_argument("--out", default=None,
                   help="folder to write report.json, per_image.csv (and "
                        "per_image_sobel.csv), pr.png and roc.png (default: none written)")
    e.add_argument("--overwrite", action="store_true",
                   help="replace an earlier evaluation in OUT (never a folder of yours)")
    e.add_argument("--json", action="store_true",
                   help="print the report as one JSON object")
    e.set_defaults(func=_eval, **{WRITES_OUTPUT: ("out",)})  # files only with --out

    p.set_defaults(func=missing_action(p))


def _mask_ratio_arg(text: str) -> float:
    """argparse ``type=`` of ``--mask-ratio``: the rule of
    :func:`napari_srmat.edges.pretrain.masked_pretrain_job` (strictly between 0 and 1),
    reported with the flag."""
    def check(value):
        if not (isinstance(value, float) and 0 < value < 1):
            raise ValueError(f"a number between 0 and 1 (exclusive), got {value!r}")
        return value

    return _checked_number_arg(text, check)


def _train(args: argparse.Namespace) -> int:
    from ..edges.train import BoundaryTrainConfig, train_boundaries_job
    from ..errors import not_found_message

    if not Path(args.data).is_dir():  # as edges.train says it
        raise UserError(not_found_message(args.data, "data root"))
    cfg = BoundaryTrainConfig(
        data_root=args.data, out=args.out, encoder=args.encoder, epochs=args.epochs,
        pretrain_synthetic=args.pretrain_synthetic, pretrain_epochs=args.pretrain_epochs,
        lr=args.lr, batch_size=args.batch_size, crop=args.crop,
        steps_per_epoch=args.steps_per_epoch, seed=args.seed, resume=args.resume,
        overwrite=args.overwrite,
        device=args.device, num_threads=args.threads, photometric_augment=args.augment,
        input_norm=args.input_norm, init_checkpoint=args.init_checkpoint,
    )
    # resumed with no more epochs than done: nothing trained (told by the job)
    complete = AlreadyCompleteWatch()
    # a Ctrl-C stops it before its next step (last/: the last finished epoch); the line
    # says what a rerun does
    from ..edges.train import RESUME_RECORD, _earlier_run
    from ._training import run_training

    res = run_training(lambda stop: train_boundaries_job(cfg, stop=stop), cfg.out,
                       RESUME_RECORD, _earlier_run, resume=args.resume, on_event=complete)
    report = {"best_checkpoint": res.best_checkpoint, "best_val_ap": res.best_val_ap,
              "threshold": res.threshold, "epochs_done": res.epochs_done,
              "stopped": res.stopped, "history": res.history,
              "nothing_to_do": bool(complete)}  # as `srmat edges predict --json`
    if args.json:
        print_json_result(report)
    else:
        print(f"best val AP {res.best_val_ap:.4f} at threshold {res.threshold:.3f}: "
              f"{res.best_checkpoint}"
              + (ALREADY_COMPLETE_NOTE if complete else ""))
    return 0


def _pretrain(args: argparse.Namespace) -> int:
    from ..edges.pretrain import MaskedPretrainConfig, masked_pretrain_job
    from ..io import read_image
    from ..outputs import check_not_input, check_output_location

    if args.crop % args.patch or args.crop == args.patch:
        raise UserError(f"--crop {args.crop} must be a multiple of --patch {args.patch}, at "
                        f"least 2 x --patch ({2 * args.patch})")
    check_distinct_inputs(args.images, "image", EACH_IMAGE_ONCE)
    check_not_input(args.out, args.images)
    check_output_location(args.out, folder=True)
    # lazy: only the random crops are read; a missing file and an existing --out are
    # refused by read_image and the job
    images = [read_image(path).data for path in args.images]
    cfg = MaskedPretrainConfig(
        images=images, out=args.out, encoder=args.encoder, steps=args.train_steps,
        batch_size=args.batch_size, crop=args.crop, patch=args.patch,
        mask_ratio=args.mask_ratio, lr=args.lr, seed=args.seed, device=args.device,
        num_threads=args.threads)
    losses = []
    path = run_cli_job(masked_pretrain_job(cfg), on_event=lambda ev: losses.append(
        ev.values["loss"]) if getattr(ev, "split", None) == "pretrain" else None)
    if args.json:
        print_json_result({"checkpoint": path, "steps": args.train_steps,
                           "images": len(images),
                           "final_loss": losses[-1] if losses else None})
    else:
        n = len(images)
        print(f"pretrained on {n} image{'s' if n != 1 else ''} ({args.train_steps} steps, "
              f"masked loss {losses[-1]:.3f}): {path}; train from it with "
              f"`srmat edges train --init-checkpoint {path}`")
    return 0


def _predict(args: argparse.Namespace) -> int:
    import dataclasses

    import numpy as np

    from ..edges.infer import (
        BOUNDARY_OUTPUTS,
        NATIVE_SCALE_KEY,
        check_boundary_input,
        load_boundary_model,
        predict_boundaries_job,
    )
    from ..grainsize import NativeScale
    from ..io import ImageReadError, read_image
    from ..io._checked import checked
    from ..outputs import check_not_input, check_output_location, read_marker
    from ..tiling import NonFiniteInputError

    check_tile_flags(args.tile, args.overlap)  # the engine's rule, with the flags' names
    out = Path(args.out)
    # the location first, as typed: "" was told as "output . contains the input"
    check_output_location(args.out, folder=True)
    check_not_input(out, [args.image])  # before loading anything; re-checked under the lock
    if args.scheduler is not None:
        from ..tiling._distributed import check_scheduler

        check_scheduler(args.scheduler)
    with naming_file(args.image):  # an error of the input names its file
        mic = read_image(args.image)
        # before the model loads: shape, size, values (marked: the job does not check
        # them again, napari_srmat.io._checked)
        given = checked(check_boundary_input, mic)
    model = load_boundary_model(args.checkpoint, device=args.device, tta=args.tta,
                                threshold_rule=args.threshold_rule)
    # OUT itself, not the staging's inner store the job resumes
    complete = AlreadyCompleteWatch(out)
    # found as the input is read: NaN/Inf pixels, a damaged chunk
    with naming_file(args.image, only=(NonFiniteInputError, ImageReadError)):
        res = run_cli_job(predict_boundaries_job(
            given, model, tile=args.tile, overlap=args.overlap, out=out,
            overwrite=args.overwrite, resume=not args.no_resume,
            error_map=args.error_map, scheduler=args.scheduler,
            worker_device=args.device, pixel_size_um=args.pixel_size_um,
        ), on_event=complete, resume=rerun_to_resume(args.no_resume))
    prob_path, unc_path = res[:2]
    if not args.json:  # the report's figures read the maps back: only for --json
        if not complete:  # (the job said it was complete: nothing was written)
            print(f"wrote {prob_path} and {unc_path}")
        return 0
    # the threshold the rule gives this image (the one --error-map uses: whole-image, as
    # the job resolves it), not the checkpoint's max-F1 threshold beside its rule (until
    # 2026-12-07 'threshold': 0.575 beside 'otsu_scaled', whose threshold here was 0.488)
    prob = read_image(prob_path).data  # opened once for the threshold and the mean
    threshold = model.map_threshold(prob)
    report = {"image": str(args.image), "prob": str(prob_path), "uncertainty": str(unc_path),
              "threshold": None if threshold is None else float(threshold),
              "checkpoint_threshold": model.threshold, "threshold_rule": model.threshold_rule,
              "threshold_params": model.threshold_params, "tta": model.tta,
              "checkpoint": model.path,
              "shape": list(mic.data.shape[:2]), "scheduler": args.scheduler}
    if args.error_map:
        report["error_probability"] = str(res[2])
    previews = [out / name for name in BOUNDARY_OUTPUTS[2:] if (out / name).exists()]
    if previews:
        report["previews"] = [str(p) for p in previews]
        report["prob_mean"] = float(np.asarray(prob).mean())
        report["uncertainty_mean"] = float(np.asarray(read_image(unc_path).data).mean())
    report["nothing_to_do"] = bool(complete)
    # the figures of the scale check the folder keeps (added by a rerun to a folder made
    # before it; its warning is among the told ones)
    scale = (read_marker(out) or {}).get(NATIVE_SCALE_KEY) or {}
    report.update({f.name: scale.get(f.name) for f in dataclasses.fields(NativeScale)
                   if f.name != "warning"})
    # the warnings printed as they came, listed (as `srmat sr run --json`)
    print_json_result(report)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from ..edges.evaluate import evaluate_boundaries_job, operating_point_basis

    if (args.val_images is None) != (args.val_masks is None):
        raise UserError("give both --val-images and --val-masks, or neither")
    report = run_cli_job(evaluate_boundaries_job(
        args.images, args.masks, checkpoint=args.checkpoint, val_images=args.val_images,
        val_masks=args.val_masks, threshold=args.threshold, out_dir=args.out,
        baseline=not args.no_baseline, tta=args.tta, threshold_rule=args.threshold_rule,
        device=args.device, overwrite=args.overwrite,
    ))
    if args.json:
        print_json_result(report)
    else:
        keys = ("ap", "roc_auc", "f1", "threshold", "heyn_pred_px", "heyn_gt_px",
                "heyn_error_pct", "heyn_grid_error_pct")
        for name, r in (("UAED", report), ("Sobel", report.get("sobel"))):
            if r:  # withheld (degenerate) figures are None: the warnings were logged
                print(name + ": " + ", ".join(
                    f"{k}={'n/a' if r[k] is None else format(r[k], '.4g')}" for k in keys))
        op = report["operating_point"]
        print(f"operating point {op['threshold_rule']} (tta {op['tta']}): per-image l error "
              + ", ".join(f"{k}={'n/a' if op[k] is None else format(op[k], '.4g')}"
                          for k in ("heyn_per_image_error_pct", "heyn_pooled_error_pct"))
              + operating_point_basis(op))
    return 0
