"""``srmat sr``: tiled super-resolution, SR training and the model list.

Forms::

    srmat sr INPUT OUTPUT.zarr [--model NAME] [--checkpoint DIR] [--scale 4] ...
    srmat sr run INPUT OUTPUT.zarr ...          (same as above)
    srmat sr train --data DIR ... --model cnn --scale 4 --train-steps N --out CKPT_DIR
    srmat sr train --pairs PAIRS.csv --model cnn --scale 4 ... --out CKPT_DIR   (real LR/HR)
    srmat sr models
    srmat sr eval HR SR [--scale s] [--lr-image LR] [--json]   (fidelity metrics, cli/sr_eval.py)

``sr`` takes the rest of the command line and dispatches it itself: a first word
that is not ``run``/``train``/``models``/``eval`` means ``run``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..io import LENGTH_UNIT
from ..sr.base import PIXEL_LOSSES
from ..sr.registry import TRAINABLE_MODELS
from ..tiling import DEFAULT_BATCH_SIZE, DEFAULT_OVERLAP, DEFAULT_TILE, overlap_used
from . import (
    ALREADY_COMPLETE_NOTE,
    COMMAND_ATTR,
    DEVICE_HELP,
    WRITES_OUTPUT,
    AlreadyCompleteWatch,
    OneLineErrorParser,
    UserError,
    add_learning_rate,
    add_renamed_option,
    check_tile_flags,
    command_name,
    float_arg,
    input_path_arg,
    int_arg,
    missing_action,
    naming_file,
    pixel_size_arg,
    print_json,
    print_json_result,
    rerun_to_resume,
    run_cli_job,
    seed_arg,
    writes_output,
)
from .edges import INIT_CHECKPOINT_METAVAR

__all__ = ["register", "build_sr_parser"]

ACTIONS = ("run", "train", "models", "eval")

#: ``srmat sr train --time-limit S`` reached before a new run's first step (S counts from
#: the start: the data and the model loaded, and a fine-tune's starting point validated,
#: within it): the job saved nothing
#: (:func:`napari_srmat.sr.train.train_sr_job`), and the command names no checkpoint.
TIME_LIMIT_BEFORE_FIRST_STEP = ("--time-limit {:g} s was reached before the first step "
                                "(loading the data and the model, and a fine-tune's "
                                "validation of its starting point, took longer): nothing "
                                "was trained or saved; give a longer --time-limit")
#: ``srmat sr train --resume --time-limit S`` of a finished run (nothing to train) reached
#: before it wrote the checkpoints its ``train_state`` owes (the job's ``unwritten``):
#: nothing was saved. Until 2026-12-07 :data:`TIME_LIMIT_BEFORE_FIRST_STEP` was said.
TIME_LIMIT_BEFORE_OWED = ("{out} was already complete at step {step} (nothing to train); "
                          "--time-limit {limit:g} s was reached before writing {owed} from "
                          "{state}: nothing was saved; give a longer --time-limit")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sr",
        help="super-resolution: run (default), train, models, eval",
        description="srmat sr [run] INPUT OUTPUT.zarr [options] | srmat sr train ... | "
                    "srmat sr models | srmat sr eval HR SR   (srmat sr run -h for options)",
        add_help=False,
        prefix_chars="\0",  # every word, options included, goes to ``argv``
    )
    p.add_argument("argv", nargs=argparse.REMAINDER,
                   help="the action and its options (see `srmat sr run -h`)")
    p.set_defaults(func=_dispatch)


def build_sr_parser() -> argparse.ArgumentParser:
    """The parser of everything after ``srmat sr``."""
    parser = OneLineErrorParser(prog="srmat sr", description="Super-resolution of micrographs.")
    sub = parser.add_subparsers(dest="sr_action", metavar="ACTION")

    r = sub.add_parser("run", help="super-resolve an image into an OME-Zarr (default action)")
    r.add_argument("input", type=input_path_arg,
                   help="image (PNG/JPEG/TIFF/OME-TIFF/Zarr/OME-Zarr)")
    r.add_argument("output", help="output OME-Zarr directory")
    r.add_argument("--pixel-size-um", type=pixel_size_arg, default=None,
                   help=f"{LENGTH_UNIT} per input pixel (overrides the file's); the output "
                        "records it divided by the scale, as super_resolve(pixel_size_um=)")
    r.add_argument("--model", default=None,
                   help="registry name (see `srmat sr models`); default: shipped default")
    r.add_argument("--checkpoint", default=None,
                   help="checkpoint directory (or pipeline dir for diffusers-local)")
    r.add_argument("--scale", type=int_arg(1), default=None,
                   help="SR factor, one of the model's (srmat sr models lists them: 2 or "
                   "4; bicubic, lanczos also 3, 8) (default 4 / the checkpoint's / a "
                   "diffusers pipeline's own)")
    r.add_argument("--tile", type=int_arg(1), default=DEFAULT_TILE,
                   help=f"largest LR tile incl. context (default {DEFAULT_TILE}; small "
                        "images use a smaller one)")
    r.add_argument("--overlap", type=int_arg(0), default=DEFAULT_OVERLAP,
                   help=f"LR context per tile side (default {DEFAULT_OVERLAP}, raised to the "
                        "model's receptive field)")
    r.add_argument("--batch-size", type=int_arg(1), default=DEFAULT_BATCH_SIZE,
                   help=f"tiles per forward pass (default {DEFAULT_BATCH_SIZE}; lower it if "
                        "memory runs out)")
    r.add_argument("--device", default="auto", help=DEVICE_HELP)
    # its old name --steps (issue 17: --steps meant three different things)
    add_renamed_option(r, "--sampling-steps", "--steps",
                       why="the steps of a diffusion model's sampling; a training's are "
                           "--train-steps",
                       type=int, default=None, dest="sampling_steps", metavar="N",
                       help="sampling (denoising) steps of diffusion models")
    r.add_argument("--no-color-fix", action="store_true",
                   help="disable the wavelet colour fix of generative models")
    r.add_argument("--overwrite", action="store_true",
                   help="replace an existing OUTPUT written by srmat with other input or "
                        "settings, and start over an OUTPUT.partial started with them (never "
                        "anything else); without it the same command on a complete OUTPUT "
                        "does nothing")
    r.add_argument("--no-resume", action="store_true",
                   help="start over instead of resuming OUTPUT.partial")
    r.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the tiles on a dask.distributed cluster: a scheduler address "
                        "(tcp://host:8786) or local:N (N single-thread worker processes); "
                        "OUTPUT must be on a file system the workers share (docs/distributed.md)")
    r.add_argument("--whole-image", action="store_true", dest="whole_image",
                   help="an image that fits one tile: one forward pass on the image itself "
                        "(the bare model's output, no reflect-padded context computed) "
                        "instead of a padded tile; larger images are tiled as usual")
    r.add_argument("--json", action="store_true", help="print a JSON summary to stdout")
    r.add_argument("--reference", default=None, metavar="DIR",
                   help="refsr: folder of HR reference micrographs of the same material (at "
                        "the output pixel size); the closest one by texture embedding is used")
    r.set_defaults(func=_run)

    from ..sr.train import SRTrainConfig

    d = SRTrainConfig()  # the one place the training defaults live
    t = sub.add_parser("train", help=f"train a {' / '.join(TRAINABLE_MODELS)} model")
    t.add_argument("--data", nargs="+", default=[], help="image folders, files or Zarr stores")
    t.add_argument("--exclude", nargs="*", default=[], help="file stems to leave out")
    t.add_argument("--pairs", default=None, metavar="PAIRS.csv",
                   help="real LR/HR acquisitions (one LR path, HR path per row), registered "
                        "and cropped into aligned patches, instead of degrading --data")
    t.add_argument("--pairs-aligned", action="store_true", dest="pairs_aligned",
                   help="take the pairs as aligned at --scale (no registration)")
    t.add_argument("--synthetic", type=int_arg(0), default=d.synthetic, metavar="N",
                   help="add N synthetic micrographs")
    t.add_argument("--val", default=None, help="folder of validation HR images")
    t.add_argument("--model", default=d.model, choices=TRAINABLE_MODELS,
                   help="SR model to train (default %(default)s)")
    t.add_argument("--scale", type=int, default=d.scale, choices=(2, 4),
                   help="upscaling factor (default %(default)s)")
    # its old name --steps: --train-steps in srmat edges pretrain
    add_renamed_option(t, "--train-steps", "--steps",
                       why="the name srmat edges pretrain gives it", type=int_arg(1),
                       default=d.steps, dest="train_steps", metavar="N",
                       help=f"optimiser steps (default {d.steps})")
    t.add_argument("--batch-size", type=int_arg(1), default=d.batch_size,
                   help="HR crops per optimiser step (default %(default)s)")
    t.add_argument("--patch", type=int_arg(1), default=d.patch,
                   help="HR crop size in px, a multiple of 4 x --scale (default %(default)s); "
                        "every --data image must be at least this large")
    add_learning_rate(t, d.lr, "learning rate (default %(default)s)")
    t.add_argument("--val-every", type=int_arg(1), default=d.val_every,
                   help="validate (and save last/) every N steps when there are validation "
                        "images (default %(default)s)")
    t.add_argument("--degradation", default=d.degradation["mode"],
                   choices=("bicubic", "classical", "realesrgan"),
                   help="how LR inputs are made from the HR images (default %(default)s)")
    t.add_argument("--loss", default=d.loss, choices=PIXEL_LOSSES,
                   help="pixel loss of cnn / onestep (mse optimises PSNR)")
    t.add_argument("--noise", default=d.noise, choices=("gaussian", "structure"),
                   help="ddpm training noise: gaussian, or structure (each region's noise "
                        "mean follows its HR mean; sampling unchanged)")
    # its old name --init: --init-checkpoint in srmat edges train and srmat experiment
    add_renamed_option(t, "--init-checkpoint", "--init",
                       why="the name srmat edges train and srmat experiment give it",
                       default=None, dest="init_checkpoint", metavar=INIT_CHECKPOINT_METAVAR,
                       help="fine-tune: start from a checkpoint directory of the same model, "
                            "or 'default' for the shipped weights")
    t.add_argument("--out", required=True, help="checkpoint directory (best/, last/)")
    t.add_argument("--resume", action="store_true",
                   help="continue from OUT/train_state (the same data and settings)")
    t.add_argument("--overwrite", action="store_true",
                   help="start over in an OUT that holds an earlier run (its checkpoints are "
                        "replaced)")
    t.add_argument("--time-limit", type=float_arg(0, above=True), default=None, metavar="S",
                   help="stop (with checkpoints) S seconds after the start, the loading "
                        "within it (default: no limit)")
    t.add_argument("--seed", type=seed_arg, default=d.seed,
                   help="random seed (default %(default)s)")
    t.add_argument("--device", default=d.device, help=DEVICE_HELP)
    t.add_argument("--threads", type=int_arg(0), default=d.num_threads, help="torch CPU threads")
    t.add_argument("--json", action="store_true", help="print one JSON object")
    t.set_defaults(func=_train)

    m = sub.add_parser("models", help="list the SR models")
    m.add_argument("--json", action="store_true", help="print one JSON object")
    m.set_defaults(func=_models, **{WRITES_OUTPUT: False})  # a Ctrl-C leaves no file

    from .sr_eval import add_eval_parser

    add_eval_parser(sub)
    return parser


def _dispatch(args: argparse.Namespace) -> int:
    argv = list(args.argv)
    parser = build_sr_parser()
    if not argv:
        return missing_action(parser)(args)
    if argv[0] not in (*ACTIONS, "-h", "--help"):
        argv = ["run", *argv]
    inner = parser.parse_args(argv)
    if not getattr(inner, "func", None):
        return missing_action(parser)(inner)
    inner.command = "sr"
    # errors, warnings and interrupts of the action are told by `srmat sr ACTION`
    setattr(args, COMMAND_ATTR, command_name(inner))
    # whether the action writes files: main reads it from these args, not the action's
    setattr(args, WRITES_OUTPUT, writes_output(inner))
    return int(inner.func(inner) or 0)


def _run(args: argparse.Namespace) -> int:
    from ..io import ImageReadError, check_replaceable_store, read_image
    from ..io._checked import checked
    from ..jobs import Progress
    from ..outputs import check_not_input, check_output_location, check_store_name
    from ..sr import load_model, super_resolve_job
    from ..sr.apply import SR_OUTPUT_KIND, check_sr_input, sr_output_shape
    from ..sr.base import ChannelError
    from ..sr.rescan import model_weights
    from ..tiling import NonFiniteInputError

    out = Path(args.output)
    # refuse a bad OUTPUT before loading anything; the writer re-checks under its lock
    # the location first, as typed: "" was told as "output . contains the input"
    check_output_location(args.output)
    check_not_input(out, [args.input])
    check_store_name(out)
    check_replaceable_store(out, SR_OUTPUT_KIND)
    if args.scheduler is not None:
        from ..tiling._distributed import check_scheduler

        check_scheduler(args.scheduler)
    options = {}
    if args.sampling_steps is not None:
        options["num_inference_steps"] = args.sampling_steps
    if args.no_color_fix:
        options["color_fix"] = "none"
    check_tile_flags(args.tile, args.overlap)  # before loading the model
    with naming_file(args.input):  # an error of the input names its file
        mg = read_image(args.input)
        # before loading the model: dimensions, size, values (marked: the job checks only
        # the model's channels, napari_srmat.io._checked)
        given = checked(check_sr_input, mg)
    model = load_model(args.model, checkpoint=args.checkpoint, scale=args.scale,
                       device=args.device, **options)
    check_tile_flags(args.tile, args.overlap, int(model.receptive_field))
    reference = _use_reference(model, mg, args.reference)
    t0 = time.perf_counter()
    tiles = []
    # OUTPUT found complete: nothing done (a resume whose tiles were all written still
    # builds the pyramid, writes the metadata and swaps the output into place)
    complete = AlreadyCompleteWatch(out)

    def on_event(event):
        complete(event)
        if isinstance(event, Progress) and event.stage == "tiles":
            tiles[:] = [event]  # the last one: tiles done, in all, and resumed

    # errors of the input the job finds: channels the model does not take (its first
    # check, before anything is written), NaN/Inf or a damaged chunk as the tiles are read
    with naming_file(args.input, only=(ChannelError, NonFiniteInputError, ImageReadError)):
        result = run_cli_job(
            super_resolve_job(given, model, tile=args.tile, overlap=args.overlap,
                              batch_size=args.batch_size, out=out, resume=not args.no_resume,
                              overwrite=args.overwrite, scheduler=args.scheduler,
                              worker_device=args.device, whole_image=args.whole_image,
                              pixel_size_um=args.pixel_size_um),
            on_event=on_event, resume=rerun_to_resume(args.no_resume),
        )
    seconds = time.perf_counter() - t0
    in_shape = tuple(int(s) for s in mg.data.shape)
    out_shape = sr_output_shape(in_shape, model.scale)
    # the speed is over the tiles computed by this run: a complete OUTPUT (no tile
    # events) or a resumed one whose tiles were all written before has none
    total = tiles[-1].total if tiles else 0
    computed = tiles[-1].done - tiles[-1].resumed if tiles else 0
    share = computed / total if total else 0.0
    recorded = read_image(result).metadata.get("srmat", {})
    used = recorded.get("tiling", {})
    summary = {
        "input": str(args.input),
        "output": str(result),
        "model": model.name,
        "scale": model.scale,
        "checkpoint": model.checkpoint,
        # trained, untrained (a default network without weights for its scale: its SR is
        # no better than bicubic), analytic or unknown (sr.rescan.MODEL_WEIGHTS): as the
        # store records it (a store written before 2026-12-07 does not: told now)
        "weights": recorded.get("weights") or model_weights(model),
        # the tile the store was written with (a small image uses a smaller one; the
        # store's tiling attrs), and the one asked for
        "tile": used.get("tile", args.tile),
        "tile_requested": args.tile,
        "overlap": used.get("overlap", overlap_used(args.overlap, model.receptive_field)),
        "input_shape": list(in_shape),
        "output_shape": list(out_shape),
        "seconds": seconds,
        "tiles_total": total if tiles else None,
        "tiles_computed": computed,
        "nothing_to_do": bool(complete),
        # per computed share of the image (tiles), None when nothing was computed
        "megapixels_per_s": (in_shape[0] * in_shape[1] * share / 1e6 / max(seconds, 1e-9)
                             if computed else None),
        "output_megapixels_per_s": (out_shape[0] * out_shape[1] * share / 1e6
                                    / max(seconds, 1e-9) if computed else None),
        "device": model.device,
        "scheduler": args.scheduler,
        # the gain a dim image was seen with (the store's; 1: none), as plan-rescan's
        "exposure_gain": float(recorded.get("exposure_gain", 1.0)),
    }
    if reference is not None:
        summary["reference"] = reference["reference"]
        summary["reference_similarity"] = reference["similarity"]
    if args.json:  # the warnings printed as they came, listed
        print_json_result(summary)
    elif complete:
        print(f"{result} was already complete (same input and settings): nothing left to "
              "do")
    else:  # a resume with no tile left finished the rest of the output
        resumed = (f" ({total - computed} of {total} tiles written by an earlier run)"
                   if computed < total else "" if tiles else
                   " (resumed: finished by an earlier run, moved into place)")
        print(f"wrote {result}: {out_shape} with {model.name} x{model.scale} "
              f"in {seconds:.1f} s{resumed}")
    return 0


def _use_reference(model, mg, folder: str | None) -> dict | None:
    """Pick and set the reference of a ``refsr`` model (``--reference DIR``)."""
    from ..sr.refsr import use_reference

    return use_reference(model, mg.data, folder, option="--reference DIR")


def _train(args: argparse.Namespace) -> int:
    from ..sr.train import SRTrainConfig, train_sr_job

    if not args.data and args.synthetic <= 0 and not args.pairs:
        raise UserError("give --data folders and/or --synthetic N, or --pairs PAIRS.csv")
    cfg = SRTrainConfig(
        model=args.model, scale=args.scale, out=args.out, data=list(args.data),
        exclude=list(args.exclude), synthetic=args.synthetic, val=args.val,
        steps=args.train_steps, batch_size=args.batch_size, patch=args.patch, lr=args.lr,
        val_every=args.val_every, degradation={"mode": args.degradation},
        loss=args.loss, init_checkpoint=args.init_checkpoint, noise=args.noise,
        resume=args.resume, overwrite=args.overwrite, seed=args.seed,
        device=_device(args.device),
        num_threads=args.threads, time_limit_s=args.time_limit,
        pairs=args.pairs, register_pairs=not args.pairs_aligned,
    )
    # resumed with no more steps than done: nothing trained (told by the job)
    complete = AlreadyCompleteWatch()
    # a Ctrl-C stops it at the step reached, its state saved; the line says what a rerun does
    from ..sr.train import RESUME_RECORD, _earlier_run, val_psnr_label
    from ._training import run_training

    res = run_training(lambda stop: train_sr_job(cfg, stop=stop), cfg.out, RESUME_RECORD,
                       _earlier_run, resume=args.resume, on_event=complete)
    if complete and res["unwritten"]:  # the time limit before the owed checkpoints (a
        # stop is told as a stop)
        raise UserError(TIME_LIMIT_BEFORE_OWED.format(
            out=cfg.out, step=res["step"], limit=args.time_limit,
            owed=" and ".join(res["unwritten"]), state=Path(cfg.out) / RESUME_RECORD.folder))
    if res["last"] is None and args.time_limit is not None and not complete:  # no step
        # trained: no checkpoint to name (until this: 'best checkpoint: None', exit 0)
        raise UserError(TIME_LIMIT_BEFORE_FIRST_STEP.format(args.time_limit))
    history = res.pop("history", [])
    res["final_loss"] = history[-1]["loss"] if history else None
    res["nothing_to_do"] = bool(complete)  # as `srmat edges train --json`
    if args.json:
        print_json_result(res)
    else:
        score = (f"{val_psnr_label(res['val_metric'])} {res['best_psnr']:.2f} dB"
                 if res["best_psnr"] is not None else "nothing validated: the final model")
        print(f"best checkpoint: {res['best']} ({score})"
              + (ALREADY_COMPLETE_NOTE if complete else ""))
    return 0


def _device(device: str) -> str:
    from ..device import resolve_device

    return resolve_device(device)


def _models(args: argparse.Namespace) -> int:
    from ..sr import DEFAULT_MODEL, available_models, shipped_weights_dir
    from ..sr.registry import model_scales

    rows = []
    for name in available_models():
        scales = list(model_scales(name))
        shipped = [s for s in scales if shipped_weights_dir(name, s) is not None]
        rows.append({"name": name, "default": name == DEFAULT_MODEL, "scales": scales,
                     "shipped_scales": shipped})
    if args.json:
        print_json({"models": rows, "default": DEFAULT_MODEL})
    else:
        for r in rows:
            flag = " (default)" if r["default"] else ""
            ship = f"; shipped weights: x{', x'.join(map(str, r['shipped_scales']))}" \
                if r["shipped_scales"] else ""
            print(f"{r['name']}{flag}  x{', x'.join(map(str, r['scales']))}{ship}")
    return 0
