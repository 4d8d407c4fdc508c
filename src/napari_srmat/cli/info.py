"""``srmat info FILE``: describe an image (shape, dtype, chunks, pixel size, levels), or a
training's checkpoint (its ``config.json`` only)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..outputs import NO_RESUME, OVERWRITE
from . import WRITES_OUTPUT, UserError, input_path_arg, print_json_result, run_cli_job

__all__ = ["register", "resume_command", "stopped_run_line"]


def _handler(args: argparse.Namespace) -> int:
    from ..io import LENGTH_UNIT, image_info, verify_image_job
    from ..io._read import pixel_size_source_text

    if _is_checkpoint(args.file):  # before image_info: 'a folder', 'corrupt image file'
        return _checkpoint_handler(args)
    stopped = stopped_run_line(args.file)
    if stopped is not None:  # not found, as before (exit 2), but saying what there is
        raise UserError(stopped)
    folder = model_folder_line(args.file)
    if folder is not None:  # was "a folder, not an image file or a Zarr store"
        raise UserError(folder)
    info = image_info(args.file)  # ImageReadError (a ValueError) -> one line, exit 2
    # the chunks of a Zarr store's level 0 as stored (where it names its axes: the
    # reader's rule); info["chunks"]: those it is read in. Told once, here: --json gave
    # them under "metadata" too
    info["store_chunks"] = info["metadata"].pop("store_chunks", None)
    check = run_cli_job(verify_image_job(args.file), quiet=args.json) if args.verify else None
    if check is not None:
        info["verify"] = check
    if args.json:
        print_json_result(info)
        return 0 if check is None or check["ok"] else 2
    px = info["pixel_size_um"]
    pixel_line = f"{px:.6g} {LENGTH_UNIT}" if px is not None else "unknown"
    source = pixel_size_source_text(info)
    if px is not None and source:  # where the reader found it (one word list: io)
        pixel_line += f" (from {source})"
    dpi = info["metadata"].get("print_resolution_dpi")
    if px is None and dpi is not None:  # the reader's rule: no calibration
        pixel_line = f"unknown (the file records {dpi} dpi, a print or screen resolution)"
    pair = info["metadata"].get("pixel_size_yx_um")
    if pair is not None:  # the reader's rule: X is the pixel size, Y recorded
        from ..io._pixel import non_square_message

        pixel_line = non_square_message(*pair)
    lines = [
        f"file:        {info['path']}",
        f"format:      {info['format']}",
        f"shape:       {tuple(info['shape'])}  ({info['axes']})",
        f"dtype:       {info['dtype']}",
        _chunks_line(info["store_chunks"], info["chunks"]),
        f"pixel size:  {pixel_line}",
        *_position_lines(info["metadata"]),
        f"levels:      {info['n_levels']}  "
        + ", ".join("x".join(str(s) for s in shp[:2]) for shp in info["level_shapes"]),
        f"size:        {info['size_bytes'] / 2**20:.1f} MiB uncompressed",
        "pixels:      " + ("not checked (--verify decodes every chunk)" if check is None else
                           f"all {check['n_blocks']} blocks readable" if not check["n_bad"] else
                           f"{check['n_bad']} of {check['n_blocks']} blocks UNREADABLE"),
        *_chunk_lines((check or {}).get("chunks")),
    ]
    for b in (check or {}).get("bad", []):
        lines.append(f"  level {b['level']} rows {b['rows'][0]}:{b['rows'][1]} columns "
                     f"{b['columns'][0]}:{b['columns'][1]}: {b['error']}")
    print("\n".join(lines))
    return 0 if check is None or check["ok"] else 2


#: What a stopped run's unfinished output makes, in words (its marker's kind, or its
#: store's ``operation``); others are "an output".
STOPPED_RUN_WORDS = {"super_resolution": "super-resolution", "boundaries": "boundary maps"}
#: The program name of a recorded command line that ``srmat info`` quotes to resume a
#: stopped run (another, a napari session or a script, is not quoted).
RERUN_PROGRAM = "srmat"
#: The flags left out of the command ``srmat info`` quotes to resume a stopped run.
#: ``--no-resume`` (:data:`napari_srmat.outputs.NO_RESUME`) throws away what
#: ``OUT.partial`` holds and starts over. ``--overwrite`` (``OVERWRITE``) does not with the
#: same settings (it starts over only a partial made differently; with the recorded
#: settings the run resumes): it replaces an existing ``OUT``, and there is none when the
#: line is given, so leaving it out is harmless and keeps the quoted command from
#: replacing an ``OUT`` written since (it refuses instead).
DISCARDING_FLAGS = (NO_RESUME.flag, OVERWRITE.flag)


def stopped_run_line(path: str) -> str | None:
    """The one line ``srmat info OUT`` gives where ``OUT`` does not exist but the
    unfinished output of a stopped run, ``OUT.partial``, does: what it is (the output
    chunks written of all), and how to resume it (the command that started it, where it
    recorded one: :func:`resume_command`). A store finished but not moved into place
    (killed between its last write and the rename) is told as complete: a rerun only
    moves it into place. None when ``OUT`` exists or no ``OUT.partial`` of napari-srmat's
    does. Until 2026-12-07 (s51) it said only ``OUT: image not found``. A marker whose
    ``kind`` is not a name (damaged) is named in the line, which says no more.

    Parameters
    ----------
    path : str
        The path given to ``srmat info``.

    Returns
    -------
    str or None
    """
    import json

    from ..io._write import _finished_marker, partial_progress
    from ..outputs import MARKER_NAME, read_marker

    out = Path(path)
    partial = out.with_name(out.name + ".partial")
    if out.exists() or out.is_symlink() or not str(path) or not partial.is_dir():
        return None
    marker = read_marker(partial) or {}
    progress = partial_progress(partial)
    if progress is None and not marker:
        return None  # not ours: the plain "not found"
    kind = marker.get("kind")
    if kind is not None and not isinstance(kind, str):  # was a TypeError, rc 1
        return (f"{out} does not exist; {partial} is a stopped run whose marker "
                f"{partial / MARKER_NAME} is damaged (its kind is {json.dumps(kind)}, not a "
                "name): srmat info cannot tell what it holds")
    identities = [i for i in ((progress or {}).get("identity"), marker.get("identity"))
                  if isinstance(i, dict)]
    attrs = next((i["attrs"] for i in identities if isinstance(i.get("attrs"), dict)), {})
    operation = attrs.get("operation")
    what = (STOPPED_RUN_WORDS.get(kind) or (STOPPED_RUN_WORDS.get(operation) if isinstance(
        operation, str) else None) or "an output")
    sources = [i["input"].get("file") for i in identities if isinstance(i.get("input"), dict)]
    source = next((f["path"] for f in sources if isinstance(f, dict) and f.get("path")), None)
    if source:
        what += f" of {source}"
    finished = _finished_marker(partial) is not None  # killed between finish and rename
    if finished:
        held = "its store is complete (every output chunk and its pyramid written)"
        to = "move it into place (nothing is computed again)"
    elif progress is None:
        held, to = "no output chunk written yet", "resume it"
    else:
        n, chunk = progress["n_chunks"], "x".join(str(c) for c in progress["chunk"])
        held = (f"{progress['n_done']} of {n} output chunk{'s' if n != 1 else ''} "
                f"({chunk} px) written")
        to = "resume it"
    command = resume_command(progress or marker)
    if command is not None:
        rerun = f"rerun `{command}` (from the folder it ran in) to {to}"
    else:
        rerun = f"rerun the command that started it, with the same input and settings, to {to}"
    kind = "a finished run not moved into place" if finished else "a stopped run"
    return f"{out} does not exist; {partial} is {kind} ({what}): {held}; {rerun}"


def resume_command(record: dict) -> str | None:
    """The command that resumes a stopped run, from what its ``OUT.partial`` records
    (:func:`napari_srmat.io._write.partial_progress`'s, or its marker's ``argv`` and
    ``command``): the ``srmat`` command that started it, shell-quoted
    (``shlex.join``: a path with spaces stays one word), without ``--no-resume``, which
    would throw away the chunks written, and ``--overwrite``, not needed where ``OUT``
    does not exist (:data:`DISCARDING_FLAGS`). None where no
    ``srmat`` command is recorded (a napari session, a script).

    Parameters
    ----------
    record : dict
        ``argv`` (the words as typed; since s51) and/or ``command`` (one string,
        before: quoted as recorded).

    Returns
    -------
    str or None

    Examples
    --------
    >>> from napari_srmat.cli.info import resume_command
    >>> resume_command({"argv": ["srmat", "sr", "run", "my scans/a.png", "a.zarr",
    ...                          "--no-resume"]})
    "srmat sr run 'my scans/a.png' a.zarr"
    >>> resume_command({"argv": ["napari"]}) is None
    True
    """
    import shlex

    argv, command = record.get("argv"), record.get("command")
    words = argv if isinstance(argv, list) and all(isinstance(w, str) for w in argv) else \
        command.split(" ") if isinstance(command, str) else []
    if not words or words[0] != RERUN_PROGRAM:
        return None
    kept = [w for w in words if not _discards(w)]
    return shlex.join(kept) if words is argv else " ".join(kept)


def _discards(word: str) -> bool:
    """Whether ``word`` of a recorded command is one of :data:`DISCARDING_FLAGS`, or the
    abbreviation of one that argparse took for it (``--no-res``)."""
    flag = word.split("=", 1)[0]
    return len(flag) > 2 and flag.startswith("--") and any(
        f.startswith(flag) for f in DISCARDING_FLAGS)


def model_folder_line(path: str) -> str | None:
    """What a model folder that is not one checkpoint is, in one line with the command that
    uses it: a diffusers pipeline folder (its ``model_index.json``), or a training run's
    ``--out`` (its checkpoints in ``best/`` / ``last/``); None for anything else. Until
    2026-12-07 ``srmat info`` refused both as "a folder, not an image file".

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from napari_srmat.cli.info import model_folder_line
    >>> pipe = Path(tempfile.mkdtemp()) / "mypipe"
    >>> pipe.mkdir(); _ = (pipe / "model_index.json").write_text("{}")
    >>> "is a diffusers pipeline folder" in model_folder_line(str(pipe))
    True
    """
    from ..checkpoint import (
        CONFIG_NAME,
        WEIGHTS_NAME,
        diffusers_pipeline_use,
        is_diffusers_pipeline_dir,
    )

    p = Path(path)
    if not p.is_dir():
        return None
    if is_diffusers_pipeline_dir(p):
        return (f"{path} is a diffusers pipeline folder, not an image: "
                f"{diffusers_pipeline_use(path)}")
    held = [d for d in ("best", "last")
            if all((p / d / n).is_file() for n in (WEIGHTS_NAME, CONFIG_NAME))]
    if held:
        ckpts = " and ".join(f"{p / d}" for d in held)
        return (f"{path} is a training run folder (its checkpoints {ckpts}), not an image: "
                f"srmat info {p / held[0]} describes its {held[0]} checkpoint, which "
                f"--checkpoint takes")
    return None


def _is_checkpoint(path: str) -> bool:
    """Whether ``path`` is a checkpoint: a folder holding its two files
    (:func:`napari_srmat.io._read.holds_checkpoint`), or its weights file."""
    from ..checkpoint import WEIGHTS_NAME
    from ..io._read import holds_checkpoint

    p = Path(path)
    return holds_checkpoint(p) or (p.name == WEIGHTS_NAME and p.is_file())


def checkpoint_info(path: str) -> dict[str, Any]:
    """What a checkpoint's ``config.json`` records (its weights neither read nor
    unpickled): its folder, the model, the step or epoch, the validation figures, the
    digest of its inputs and the settings it was trained with.

    Raises
    ------
    CheckpointError
        Its files missing, its config not a JSON object
        (:func:`napari_srmat.checkpoint.read_checkpoint_config`).
    """
    from ..checkpoint import read_checkpoint_config

    ckpt, config = read_checkpoint_config(path)
    training = config.get("training")
    training = training if isinstance(training, dict) else {}
    settings = config.get("settings") if config.get("model") == "sr-train-state" else None
    record = settings if isinstance(settings, dict) else training
    return {
        "checkpoint": str(ckpt),
        "model": config.get("sr_model") or config.get("model")
        or ("uaed" if "encoder" in config else None),
        "train_state": settings is not None,
        "scale": config.get("scale", record.get("scale")),
        "encoder": config.get("encoder"),
        "step": config.get("step", training.get("step")),
        "epoch": config.get("epoch"),
        "validation": {k: v for k, v in {
            **(training.get("val") if isinstance(training.get("val"), dict) else {}),
            "best_psnr": _finite(config.get("best_psnr")), "val_ap": config.get("val_ap"),
            "val_roc_auc": config.get("val_roc_auc"), "threshold": config.get("threshold"),
        }.items() if v is not None},
        "inputs": record.get("inputs", record.get("data")),
        "settings": {k: v for k, v in record.items() if k not in ("inputs", "data", "val")},
    }


def _checkpoint_handler(args: argparse.Namespace) -> int:
    """``srmat info`` on a checkpoint: :func:`checkpoint_info`, as lines or JSON."""
    from ..jobs import told_epoch  # the one rule of epoch numbers (its config: the index)

    if args.verify:
        raise ValueError(f"{args.file} is a checkpoint, not an image: --verify checks an "
                         "image's pixels; run srmat info without it")
    info = checkpoint_info(args.file)
    if args.json:
        print_json_result(info)
        return 0
    kind = "SR training state of " if info["train_state"] else ""
    model = f"{kind}{info['model']}" + "".join(
        f", {k} {info[k]}" for k in ("scale", "encoder") if info[k] is not None)
    trained = (f"step {info['step']}" if info["step"] is not None else
               f"epoch {told_epoch(info['epoch'])}" if isinstance(info["epoch"], int)
               else "unknown")
    val = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                    for k, v in info["validation"].items())
    settings = ", ".join(f"{k}={v}" for k, v in sorted(info["settings"].items())
                         if v is not None and not isinstance(v, (dict, list)))
    print("\n".join([
        f"checkpoint:  {info['checkpoint']} (its config.json; the weights not read)",
        f"model:       {model}",
        f"trained to:  {trained}",
        f"validation:  {val or 'none recorded'}",
        f"inputs:      {_inputs_text(info['inputs'])}",
        f"settings:    {settings or 'none recorded'}",
    ]))
    return 0


def _finite(value: Any) -> float | None:
    """A recorded figure, None where it is not a finite number (a state's ``best_psnr``
    before its first validation: -inf)."""
    import math

    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def _inputs_text(inputs: Any) -> str:
    """The digest of a checkpoint's inputs in one line (``data``: files, sha256)."""
    if not isinstance(inputs, dict):
        return "not recorded (an older version wrote it)" if inputs is None else str(inputs)
    parts = []
    for name, value in inputs.items():
        if value is None:
            parts.append(f"{name}: none")
            continue
        sources = value if isinstance(value, list) else [value]
        told = [f"{s.get('path', s.get('array', '?'))} ("
                + (f"{s['files']} files, " if "files" in s else "")
                + f"sha256 {str(s.get('sha256', '?'))[:12]})" if isinstance(s, dict) else str(s)
                for s in sources]
        parts.append(f"{name}: {'; '.join(told)}")
    return "; ".join(parts)


def _chunks_line(stored: list[int] | None, read: list[int]) -> str:
    """The ``chunks:`` line: the store's chunks, and those it is read in where they
    differ; a file without stored chunks (a TIFF, a PNG): those it is read in."""
    if stored is None:
        return f"chunks:      {tuple(read)}"
    if list(stored) == list(read):
        return f"chunks:      {tuple(stored)}"
    return f"chunks:      {tuple(stored)} stored (read in {tuple(read)})"


def _chunk_lines(stored: dict | None) -> list[str]:
    """The line on the absent chunks of a Zarr store (``verify_image_job``'s count)."""
    if stored is None:
        return []
    n, total = stored["n_missing"], stored["n_chunks"]
    if not n:
        return [f"stored:      all {total} chunks present"]
    if stored["damaged"]:
        return [f"stored:      {n} of {total} chunks missing: the store is damaged (napari-"
                "srmat wrote every chunk; a missing one reads as zeros)"]
    return [f"stored:      {n} of {total} chunks absent (the store does not record that "
            "every chunk was written: absent chunks may be fill values, read as zeros)"]


def _position_lines(meta: dict) -> list[str]:
    """Where pixel ``(0, 0)``'s centre lies (an OME-Zarr translation, e.g. of an SR
    output over its input), when the file records a place."""
    from ..io import LENGTH_UNIT

    origin, grid = meta.get("origin_um"), meta.get("unitless_grid")
    if origin:
        return [f"position:    pixel (0, 0) centred at (Y, X) = ({origin[0]:.6g}, "
                f"{origin[1]:.6g}) {LENGTH_UNIT}"]
    if grid:
        (sy, sx), (oy, ox) = grid["scale"], grid["origin"]
        return [f"position:    pixel (0, 0) centred at (Y, X) = ({oy:.6g}, {ox:.6g}), "
                f"scale ({sy:.6g}, {sx:.6g}), no unit (e.g. the pixels of the image it "
                "was computed from)"]
    return []


def register(subparsers) -> None:
    """Add the ``info`` subcommand."""
    p = subparsers.add_parser(
        "info",
        help="describe an image file (PNG/JPEG/TIFF/OME-TIFF/Zarr/OME-Zarr) or a checkpoint",
        description="Print shape, dtype, chunks, axes, pixel size and pyramid levels of an "
        "image without loading its pixels; of a training's checkpoint (a folder of "
        "config.json and model.safetensors), what its config.json records.",
    )
    p.add_argument("file", type=input_path_arg, help="image file, Zarr store or checkpoint")
    p.add_argument("--verify", action="store_true",
                   help="decode every chunk of every level and report damaged ones, and "
                   "missing chunks of a store napari-srmat completed (exit 2)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_handler, **{WRITES_OUTPUT: False})  # a Ctrl-C leaves no file
