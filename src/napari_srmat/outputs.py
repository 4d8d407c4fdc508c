"""The write protocol: which outputs napari-srmat may replace, resume or refuse.

Every command and widget that writes goes through these rules (docs/safety.md):

* **Ours or hands off.** A store or folder written by napari-srmat carries a marker
  file (:data:`MARKER_NAME`) with the kind of output, the command and the *identity*
  (input fingerprint, model and every parameter that changes pixels). ``overwrite``
  replaces only such outputs (:func:`check_replaceable`), never an input
  (:func:`check_not_input`) and never a folder holding anything else.
* **Partial, then complete.** Results are written to a sibling (``PATH.partial``)
  and renamed onto ``PATH`` only when complete.
* **Resume only the same work.** A partial or complete output is reused only when
  its recorded identity equals the requested one (:func:`identity_differences`
  names what differs otherwise).
* **One writer at a time.** :class:`OutputLock` holds ``PATH.lock`` (owner pid and
  host inside; an ``flock`` makes a lock left by a killed process free again).
* **Check before starting.** :func:`check_free_space` refuses outputs that cannot fit.

Everything here is plain Python (no Qt), shared by the library, the CLI and the GUI.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import hashlib
import json
import os
import shutil
import socket
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import Option, check_flag, worded_error

__all__ = [
    "MARKER_NAME",
    "file_identity",
    "EACH_IMAGE_ONCE",
    "check_distinct_files",
    "json_ready",
    "json_text",
    "OutputError",
    "OutputExistsError",
    "OVERWRITE_KEYWORD",
    "OVERWRITE_FLAG",
    "OVERWRITE",
    "OVERWRITE_CONTROL",
    "OUTPUT_FOLDER_CONTROL",
    "RESUME",
    "RESUME_CONTROL",
    "START_OVER",
    "NO_RESUME",
    "exists_error",
    "check_existing_output",
    "started_differently_error",
    "resume_differences",
    "made_differently_error",
    "check_store_name",
    "check_folder_name",
    "check_not_reserved",
    "OutputLockedError",
    "OutputMismatchError",
    "OutputLock",
    "array_fingerprint",
    "path_fingerprint",
    "files_fingerprint",
    "input_differences",
    "check_no_earlier_run",
    "check_not_input",
    "check_replaceable",
    "check_output_location",
    "check_out_arg",
    "unwritable_reason", "check_free_space",
    "available_memory_bytes",
    "format_bytes",
    "identity_differences",
    "started_with",
    "nothing_to_resume",
    "is_ours",
    "read_marker",
    "write_marker",
    "add_to_marker",
    "prepare_output_dir",
    "only_creation_debris",
    "lock_run_folder",
    "holding",
    "discarded_when_refused",
    "check_output_file",
    "save_figure_png",
    "check_figure_file",
    "is_our_figure",
]

#: Name of the marker file inside every directory output napari-srmat writes.
MARKER_NAME = ".srmat_output.json"
#: Identifies napari-srmat's markers and files.
CREATOR = "napari-srmat"
#: Pixel windows sampled by :func:`array_fingerprint` from arrays too large to hash whole.
FINGERPRINT_WINDOWS = 16
#: Side of one sampled window (pixels).
FINGERPRINT_WINDOW = 64
#: In-memory arrays up to this many bytes are hashed whole.
FINGERPRINT_FULL_BYTES = 256 * 2**20
#: Files up to this size are hashed whole; larger ones are sampled in blocks.
FILE_FULL_HASH_BYTES = 64 * 2**20
#: Block size and count of the sampled hash of large files.
FILE_SAMPLE_BLOCK = 2**20
FILE_SAMPLE_BLOCKS = 16
#: Files of a directory store sampled by :func:`path_fingerprint`.
DIR_SAMPLE_FILES = 64


class OutputError(ValueError):
    """An output that napari-srmat refuses to write (a user error: clear one-line message)."""


class OutputExistsError(OutputError, FileExistsError):
    """The output exists and may not be replaced.

    Attributes
    ----------
    cli_message : str or None
        The same refusal as an ``srmat`` command tells it (its flag where the message
        names a Python keyword, :func:`napari_srmat.errors.worded_error`); None when the
        message is the same.
    """

    cli_message: str | None = None


#: What replaces an existing output: the keyword a Python caller passes, and the flag of
#: the ``srmat`` commands (:func:`exists_error`).
OVERWRITE_KEYWORD = "overwrite=True"
OVERWRITE_FLAG = "--overwrite"
#: The widgets' checkboxes of these options, as labelled (Super-resolution: Overwrite;
#: Train & evaluate: Resume, Overwrite), which their refusals name.
OVERWRITE_CONTROL = "Overwrite"
RESUME_CONTROL = "Resume"
#: The Train & evaluate widget's field of a training's output folder.
OUTPUT_FOLDER_CONTROL = "Output folder"
#: The Super-resolution widget's controls of a run's settings, as labelled (its resume
#: refusals name them: :data:`RESUME_SETTINGS`).
SR_MODEL_CONTROL = "Model"
SR_SCALE_CONTROL = "Scale"
SR_TILE_CONTROL = "Tile (LR px)"
SR_OVERLAP_CONTROL = "Overlap (LR px)"
#: The Boundaries widget's controls of a prediction's tiles and augmentation.
TILE_CONTROL = "Tile (px)"
OVERLAP_CONTROL = "Overlap (px)"
TTA_CONTROL = "Augmentation"
#: The same as a :class:`~napari_srmat.errors.Option` of the refusals
#: (:func:`napari_srmat.errors.worded_error`).
OVERWRITE = Option(OVERWRITE_KEYWORD, OVERWRITE_FLAG, f"tick '{OVERWRITE_CONTROL}'")
#: What continues a training run in its folder (:func:`check_no_earlier_run`).
RESUME = Option("resume=True", "--resume", f"tick '{RESUME_CONTROL}'")
#: How a training run starts over in its folder, where its resume is refused: after
#: "rerun".
START_OVER = Option("with resume=False and overwrite=True",
                    "without --resume and with --overwrite",
                    f"with '{RESUME_CONTROL}' unticked and '{OVERWRITE_CONTROL}' ticked")


def exists_error(out: str | os.PathLike, *, holds: str = "exists") -> OutputExistsError:
    """The refusal of an existing output that ``overwrite`` would replace, naming what the
    caller can pass: ``overwrite=True`` in Python, ``--overwrite`` in an ``srmat`` command
    (:attr:`OutputExistsError.cli_message`, told by the CLI instead of the message;
    :func:`napari_srmat.errors.worded_error`).

    Parameters
    ----------
    out : path-like
        The existing output.
    holds : str
        What is there, after the path (``"exists"``, ``"already exists"``).

    Returns
    -------
    OutputExistsError
        To raise.

    Examples
    --------
    >>> exc = exists_error("plan.csv")
    >>> str(exc)
    'plan.csv exists (pass overwrite=True to replace it)'
    >>> exc.cli_message
    'plan.csv exists (pass --overwrite to replace it)'
    """
    return worded_error(OutputExistsError, "{out} {holds} (pass {overwrite} to replace it)",
                        out=out, holds=holds, overwrite=OVERWRITE)


def check_existing_output(out: str | os.PathLike, *, overwrite: bool | None,
                          replaceable: Callable[[Path], None] | None,
                          holds: str = "exists") -> None:
    """The one rule of an existing output ``out``: refuse it unless it may be replaced,
    and return when it may.

    A path napari-srmat did not write (``replaceable`` refuses it: a file or a folder of
    the user's, an output of another kind) is refused as one that will not be replaced,
    with or without ``overwrite``, checked first (refused first by :func:`exists_error`,
    such a path was told to pass ``overwrite=True``, ``--overwrite``, which was then
    refused too). Only a path that may be replaced gets that advice.

    Parameters
    ----------
    out : path-like
        The output; the caller calls this only when it exists.
    overwrite : bool or None
        Whether ``out`` is to be replaced; None for a caller that never replaces an
        output (a command without ``--overwrite``).
    replaceable : callable or None
        ``replaceable(out)`` raises :class:`OutputExistsError` ("... will not be
        replaced: choose another output") where ``out`` is not an output the caller may
        replace (e.g. :func:`check_replaceable`); None: any ``out`` may be replaced.
    holds : str
        What is there, after the path, in the advice (:func:`exists_error`).

    Raises
    ------
    OutputExistsError
        ``out`` will not be replaced (``replaceable``'s refusal, or ``overwrite`` None),
        or it may be and ``overwrite`` is False (:func:`exists_error`: ``overwrite=True``
        in Python, ``--overwrite`` in an ``srmat`` command).

    Examples
    --------
    >>> import tempfile
    >>> user = Path(tempfile.mkdtemp())
    >>> check_existing_output(user, overwrite=True, replaceable=check_replaceable)
    Traceback (most recent call last):
    ...
    napari_srmat.outputs.OutputExistsError: ... will not be replaced: choose another output
    >>> check_existing_output(user, overwrite=False, replaceable=None)
    Traceback (most recent call last):
    ...
    napari_srmat.outputs.OutputExistsError: ... exists (pass overwrite=True to replace it)
    >>> check_existing_output(user, overwrite=True, replaceable=None)
    >>> user.rmdir()
    """
    out = Path(out)
    if overwrite is None:
        raise OutputExistsError(f"{out} exists; it will not be replaced: choose another "
                                "output")
    if replaceable is not None:  # first: overwrite=True would not help
        replaceable(out)
    if not overwrite:
        raise exists_error(out, holds=holds)


def made_differently_error(out: str | os.PathLike, diffs: list[str]) -> OutputExistsError:
    """The refusal of an existing store made with other settings or inputs (``diffs``,
    :func:`identity_differences`), which ``overwrite`` would replace: worded for each
    caller as :func:`exists_error` (``overwrite=True``, ``--overwrite``, the widgets'
    Overwrite checkbox).

    Examples
    --------
    >>> made_differently_error("sr.zarr", ["scale: 4 -> 2"]).gui_message
    "sr.zarr exists and was made differently (scale: 4 -> 2); tick 'Overwrite' to replace it"
    """
    return worded_error(OutputExistsError, "{out} exists and was made differently ({diffs}); "
                        "pass {overwrite} to replace it", out=out, diffs="; ".join(diffs),
                        overwrite=OVERWRITE)


class OutputLockedError(OutputError):
    """Another process is writing the same output."""


class OutputMismatchError(OutputError):
    """An existing or partial output was made from another input or other parameters."""


#: What discards an unfinished output (``OUT.partial``) to start it over, where its
#: resume is refused (:func:`started_differently_error`). A widget's user ticks
#: Overwrite: ``overwrite`` also starts over a partial output of ours made differently
#: (the SR store writer, edges predict), as ``--overwrite`` does.
NO_RESUME = Option("resume=False", "--no-resume", f"tick '{OVERWRITE_CONTROL}'")


#: The settings of an unfinished output's identity as a refusal to resume it names them
#: (:func:`started_differently_error`): the key :func:`identity_differences` gives ->
#: (keyword, ``srmat`` flag, the widget's words: its control, quoted, or what the
#: setting is where no control gives it). ``attrs.*``: an SR store's (``srmat sr run``,
#: the SR widget); the others a boundary-map folder's (``srmat edges predict``, the
#: Boundaries widget). An SR model's other options (``attrs.options.*``: its
#: ``color_fix`` method, a diffusion model's ``seed``) are named as options of
#: :func:`napari_srmat.sr.load_model` (:func:`_model_option_words`).
RESUME_SETTINGS = {
    "attrs.model": ("model", "--model", f"'{SR_MODEL_CONTROL}'"),
    "attrs.scale": ("scale", "--scale", f"'{SR_SCALE_CONTROL}'"),
    "attrs.tile": ("tile", "--tile", f"'{SR_TILE_CONTROL}'"),
    "attrs.overlap": ("overlap", "--overlap", f"'{SR_OVERLAP_CONTROL}'"),
    "attrs.options.num_inference_steps": ("num_inference_steps", "--sampling-steps",
                                          "the model's sampling steps"),
    "pixel_size_um": ("pixel_size_um", "--pixel-size-um", "the input layer's pixel size"),
    "tile": ("tile", "--tile", f"'{TILE_CONTROL}'"),
    "overlap": ("overlap", "--overlap", f"'{OVERLAP_CONTROL}'"),
    "tta": ("tta", "--tta", f"'{TTA_CONTROL}'"),
    "error_model": ("error_map", "--error-map", "the error map"),
    "error_model.threshold_rule": ("threshold_rule", "--threshold-rule",
                                   "the threshold rule"),
}
#: An SR store's fast path (``attrs.fast_path``: the library that resized its chunks,
#: e.g. OpenCV's), told where no other model or scale explains it: another install.
FAST_PATH_KEY = "attrs.fast_path"
#: Identity keys (and the groups they begin) that follow from the input, the model or
#: the settings above (the tiling, the output's shape and chunks, the network's encoder):
#: not named where a setting, the input or the weights are.
RESUME_DERIVED = ("attrs.tiling", "attrs.input_shape", "attrs.weights",
                  "attrs.exposure_gain", "exposure_gain", "chunks", "shape", "dtype", "axes",
                  "encoder", "input_norm", "error_model.params", "error_model.threshold",
                  "error_model.threshold_params")
#: The identity keys of the model's weights (an SR store's, a boundary-map folder's).
WEIGHTS_KEYS = ("attrs.weights_sha256", "weights_sha256")


def _value_words(key: str, value: Any) -> str:
    """A setting's value as its user gives it: a group only one side has as on/off."""
    if value is _ABSENT or value == "<missing>":
        return "off" if key == "error_model" else "none"
    if key == "error_model":
        return "on"
    return "none" if value is None else str(value)


#: Relative difference under which two input pixel sizes at two scales are the same (an
#: SR store records its output's, the input's / scale: the product back is rounded by a
#: few units of the last place).
PIXEL_SIZE_RTOL = 1e-12


def _input_pixel_sizes(value: Any, tree: Any) -> list[float] | None:
    """The input's pixel size(s) of a store's identity (an SR store records its output's:
    times its scale), None where none is recorded."""
    if value is _ABSENT or value is None or value == "<missing>":
        return None
    scale = _at(tree, ["attrs", "scale"])
    scale = scale if isinstance(scale, int) and scale > 0 else 1
    return [float(v) * scale for v in (value if isinstance(value, list) else [value])]


def _pixel_size_words(old: list[float] | None, new: list[float] | None, *,
                      rescaled: bool) -> tuple[str, str] | None:
    """The two input pixel sizes in as many digits as tell them apart; None where the
    output's was ``rescaled`` (another scale) and the input's is the same
    (:data:`PIXEL_SIZE_RTOL`)."""
    import math

    if rescaled and old is not None and new is not None and len(old) == len(new) and all(
            math.isclose(a, b, rel_tol=PIXEL_SIZE_RTOL) for a, b in zip(old, new)):
        return None
    for digits in range(6, 18):
        words = [" x ".join(f"{v:.{digits}g}" for v in sizes) if sizes is not None else "none"
                 for sizes in (old, new)]
        if words[0] != words[1]:
            break
    return words[0], words[1]


def _model_option_words(name: str, old: str, new: str, model: Any) -> tuple[Option, Option]:
    """What differs and what to rerun with, of an SR model's option ``name`` (its
    ``color_fix`` method, a diffusion model's ``seed``): ``srmat sr run`` gives
    ``color_fix`` only as the switch ``--no-color-fix`` (``sr.registry``'s words of it)
    and no other option; the SR widget none (the model's defaults)."""
    from .sr.registry import _OPTION_WORDS

    told = f"the model's option {name} {old}, this run {new}"
    switch = _OPTION_WORDS.get(name)
    if switch is not None and switch.flag.startswith("--no-") and new != "none" and old == "none":
        cli = f"with {switch.flag}"
    elif switch is not None and switch.flag.startswith("--no-") and new == "none" and \
            old == _model_default(model, name):
        cli = f"without {switch.flag}"
    else:
        cli = (f"with the model's option {name}={old} (a Python option of load_model: "
               "srmat sr run has no flag for it)")
    gui = (f"with the model's option {name}={old} (a Python option of load_model: the "
           "widget runs the model's default)")
    return (Option(f"{name}={old}, this run {new}", told, told),
            Option(f"with {name}={old}", cli, gui))


def _model_default(model: Any, name: str) -> Any:
    """The default of SR model ``model``'s option ``name`` (its constructor's); None where
    unknown."""
    import inspect

    from .sr.registry import _classes

    try:
        param = inspect.signature(_classes()[model].__init__).parameters[name]
    except (KeyError, TypeError, ValueError, ImportError):
        return None
    return None if param.default is param.empty else param.default


def resume_differences(stored: Mapping, requested: Mapping) -> list[tuple[Option, Option | None]]:
    """What differs between an unfinished output's identity and a run's, in its user's
    words (:data:`RESUME_SETTINGS`), for :func:`started_differently_error`: one
    ``(what differs, what to rerun with)`` per setting, the input or the weights; the
    tiling, shapes and fingerprints that follow from them left out
    (:data:`RESUME_DERIVED`).

    Parameters
    ----------
    stored, requested : mapping
        The identities (:func:`identity_differences`'s).

    Returns
    -------
    list of (Option, Option or None)
        Each worded for a Python caller, an ``srmat`` command and a widget; the second
        None where the value cannot be given back (the input's pixels, the weights).

    Examples
    --------
    >>> from napari_srmat.outputs import resume_differences
    >>> [(d.flag, r.flag) for d, r in resume_differences(
    ...     {"attrs": {"tile": 256, "tiling": {"tile": 248}}, "chunks": [1472]},
    ...     {"attrs": {"tile": 512, "tiling": {"tile": 472}}, "chunks": [1632]})]
    [('--tile 256, this run 512', 'with --tile 256')]
    """
    tree_a, tree_b = json_ready(stored), json_ready(requested)
    a, b = _flatten(tree_a), _flatten(tree_b)
    keys = [k for k in sorted(set(a) | set(b)) if k not in INFORMATIONAL_KEYS
            and a.get(k, "<missing>") != b.get(k, "<missing>")]
    out: list[tuple[Option, Option | None]] = []
    named: set[str] = set()
    derived = []
    for key in keys:
        group = _one_sided_group(key, tree_a, tree_b) or key
        if group in named:
            continue
        named.add(group)
        if group.split(".")[0] == "input":
            if "input" in named - {group}:
                continue
            named.add("input")
            path = a.get("input.file.path")
            pixels = any(k.split(".")[1] != "file" for k in keys
                         if k.startswith("input.") and "." in k)
            words = (f"the input image: other pixels than {path} held when it was started"
                     if path and pixels else
                     f"the input file: {path} changed since it was started (its contents, "
                     "size or time)" if path else
                     "the input image: other pixels than it was started from")
            again = (f"with the input it was started from ({path}, as it was then)" if path
                     else "with the input it was started from")
            out.append((Option(words, words, words), Option(again, again, again)))
        elif group in WEIGHTS_KEYS:
            derived.append((group, "weights"))
        elif group.startswith("attrs.options.") and "attrs.model" in named:
            continue  # another model's own options (sorted: the model comes first)
        elif any(group == d or group.startswith(d + ".") for d in RESUME_DERIVED):
            derived.append((group, None))
        elif group == FAST_PATH_KEY:
            derived.append((group, "fast_path"))
        elif group.startswith("attrs.options.") and group not in RESUME_SETTINGS:
            out.append(_model_option_words(
                group.rsplit(".", 1)[-1], _value_words(group, _at(tree_a, group.split("."))),
                _value_words(group, _at(tree_b, group.split("."))), a.get("attrs.model")))
        else:
            kw, flag, gui = RESUME_SETTINGS.get(group, (group.rsplit(".", 1)[-1],) * 3)
            raw = _at(tree_a, group.split("."))
            old = _value_words(group, raw)
            new = _value_words(group, _at(tree_b, group.split(".")))
            if group == "pixel_size_um":  # the input's (an SR store records its output's)
                sizes = _pixel_size_words(_input_pixel_sizes(raw, tree_a), _input_pixel_sizes(
                    _at(tree_b, group.split(".")), tree_b), rescaled="attrs.scale" in named)
                if sizes is None:  # the same input's size at another scale
                    continue
                old, new = sizes
            # the flag as given again: none given (or a switch off), a switch on, a value
            again = (f"without {flag}" if raw is _ABSENT or raw is None else
                     f"with {flag}" if group == "error_model" else f"with {flag} {old}")
            out.append((Option(f"{kw}={old}, this run {new}", f"{flag} {old}, this run {new}",
                               f"{gui} {old}, this run {new}"),
                        Option(f"with {kw}={old}", again, f"with {gui} {old}")))
    # other weights follow from another model or scale; else they are told (another
    # checkpoint, or its files changed since)
    models = {"attrs.model", "attrs.scale"} & named
    for group, what in derived:
        if what == "fast_path" and "attrs.model" not in named:  # another install's
            was, now = (_value_words(group, _at(t, group.split("."))) for t in (tree_a, tree_b))
            words = (f"the fast path: {was} when it was started, {now} here (another "
                     "install: its libraries differ)")
            again = f"on an install with the fast path {was}"
            out.append((Option(words, words, words), Option(again, again, again)))
        if what == "weights" and not models:
            ckpt = a.get("attrs.checkpoint")
            words = (f"the model's weights: not those of {ckpt} when it was started" if ckpt
                     else "the model's weights: not those it was started with")
            again = (f"with the checkpoint it was started with ({ckpt}, as it was then)"
                     if ckpt else "with the model it was started with")
            out.append((Option(words, words, words), Option(again, again, again)))
            models.add(group)
    if not out:  # only what follows from them (another version's defaults): as they are
        words = "; ".join(identity_differences(stored, requested))
        out.append((Option(words, words, words), None))
    return out


def started_differently_error(staging: str | os.PathLike, diffs: list[str], *,
                              error: type[OutputMismatchError] = OutputMismatchError,
                              stored: Mapping | None = None,
                              requested: Mapping | None = None) -> OutputMismatchError:
    """The refusal to resume an unfinished output ``staging`` started from another input
    or with other settings, naming what starts it over: ``resume=False`` in Python,
    ``--no-resume`` in an ``srmat`` command, the widgets' Overwrite checkbox
    (:data:`NO_RESUME`, :func:`napari_srmat.errors.worded_error`).

    With the two identities (``stored``, ``requested``), each difference is told in its
    user's words (:func:`resume_differences`: ``--tile 256, this run 512``), with what
    to rerun with to resume it, and that the unfinished output is kept (another output
    path leaves it as it is); until s51 (and without them) as ``diffs``
    (:func:`identity_differences`: ``attrs.tile: stored 256 != requested 512``, the
    tiling and fingerprints that follow from it, the weights' digests).

    Examples
    --------
    >>> from napari_srmat.outputs import started_differently_error
    >>> exc = started_differently_error("sr.zarr.partial", ["scale: 4 -> 2"])
    >>> str(exc).endswith("to resume it, or pass resume=False to start over")
    True
    >>> exc.cli_message.endswith("or pass --no-resume to start over")
    True
    >>> exc.gui_message.endswith("to resume it, or tick 'Overwrite' to start over")
    True
    >>> print(started_differently_error(
    ...     "sr.zarr.partial", [], stored={"attrs": {"scale": 4, "model": "cnn"}},
    ...     requested={"attrs": {"scale": 2, "model": "cnn"}}).cli_message)
    sr.zarr.partial was started from another input or with other settings (--scale 4, this run 2); it is kept: give another output path, or rerun with --scale 4 to resume it, or pass --no-resume to start over
    """  # noqa: E501
    if stored is None or requested is None:
        return worded_error(error, "{staging} was started from another input or with other "
                            "settings ({diffs}); rerun with the original input and settings "
                            "to resume it, or pass {start_over} to start over",
                            staging=staging, diffs="; ".join(diffs), start_over=NO_RESUME)
    fields: dict[str, Any] = {}
    told, back = [], []
    for i, (what, rerun) in enumerate(resume_differences(stored, requested)):
        fields[f"d{i}"] = what
        told.append(f"{{d{i}}}")
        if rerun is not None:
            fields[f"r{i}"] = rerun
            back.append(f"{{r{i}}}")
    again = (f"rerun {' and '.join(back)} to resume it" if back else
             "rerun with the original input and settings to resume it")
    return worded_error(error, "{staging} was started from another input or with other "
                        "settings (" + "; ".join(told) + "); it is kept: give another "
                        "output path, or " + again + ", or pass {start_over} to start over",
                        staging=staging, start_over=NO_RESUME, **fields)


# --------------------------------------------------------------------------- fingerprints


def _sha() -> Any:
    return hashlib.sha256()


def array_fingerprint(array: Any) -> str:
    """Content hash of an image array (numpy, dask or zarr), fast on huge lazy arrays.

    In-memory arrays up to :data:`FINGERPRINT_FULL_BYTES` are hashed whole; larger or
    lazy arrays contribute their shape, dtype and :data:`FINGERPRINT_WINDOWS` windows
    of :data:`FINGERPRINT_WINDOW` px spread over the image (a sampled hash: a change
    outside the sampled windows goes unnoticed, which the file fingerprint of the
    CLI covers).

    Parameters
    ----------
    array : array-like
        ``(H, W)`` or ``(H, W, C)``.

    Returns
    -------
    str
        Hex digest (32 characters).

    Examples
    --------
    >>> a = np.arange(16, dtype=np.uint8).reshape(4, 4)
    >>> array_fingerprint(a) == array_fingerprint(a.copy())
    True
    >>> array_fingerprint(a) == array_fingerprint(a[::-1])
    False
    """
    h = _sha()
    shape = tuple(int(s) for s in array.shape)
    h.update(repr((shape, np.dtype(array.dtype).str)).encode())
    nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(array.dtype).itemsize
    if isinstance(array, np.ndarray) and nbytes <= FINGERPRINT_FULL_BYTES:
        h.update(np.ascontiguousarray(array).tobytes())
        return h.hexdigest()[:32]
    H, W = shape[0], shape[1]
    side = FINGERPRINT_WINDOW
    n = int(np.ceil(np.sqrt(FINGERPRINT_WINDOWS)))
    ys = sorted({int(round(v)) for v in np.linspace(0, max(H - side, 0), n)})
    xs = sorted({int(round(v)) for v in np.linspace(0, max(W - side, 0), n)})
    from .io import read_window

    for y in ys:
        for x in xs:
            win = read_window(array, y, min(y + side, H), x, min(x + side, W))
            h.update(np.ascontiguousarray(win).tobytes())
    return h.hexdigest()[:32]


def _file_digest(path: Path, h) -> None:
    size = path.stat().st_size
    h.update(str(size).encode())
    with open(path, "rb") as fh:
        if size <= FILE_FULL_HASH_BYTES:
            for block in iter(lambda: fh.read(2**20), b""):
                h.update(block)
            return
        for k in range(FILE_SAMPLE_BLOCKS):
            fh.seek(max(size - FILE_SAMPLE_BLOCK, 0) * k // (FILE_SAMPLE_BLOCKS - 1))
            h.update(fh.read(FILE_SAMPLE_BLOCK))


def file_identity(path: str | os.PathLike) -> tuple:
    """What one file is, whatever it is called: its device and inode where it exists and
    has one (a symlink or a hard link to it is the same file), else its resolved path.

    Some filesystems (FAT, some network shares and FUSE mounts, seen on Windows) give
    every file inode 0: there the inode tells no two files apart, and two different
    fields would be refused as one. Their resolved path is compared instead, with its
    case folded where the system's paths ignore case (:func:`os.path.normcase`). The one
    rule of "the same file" for inputs given twice (``srmat`` commands) and held-out
    images (:func:`napari_srmat.sr.train.load_training_images`).

    Parameters
    ----------
    path : str or os.PathLike
        A file (or folder) path; a missing one is told by its resolved path.

    Returns
    -------
    tuple
        ``("inode", device, inode)`` or ``("path", resolved path)``; equal for one file.
    """
    try:
        st = os.stat(path)
    except OSError:  # missing or unreadable: told by the caller when it reads it
        st = None
    if st is None or st.st_ino == 0:
        return ("path", os.path.normcase(os.path.realpath(path)))
    return ("inode", st.st_dev, st.st_ino)


#: What :func:`check_distinct_files` asks of the images a training draws its crops from
#: (the ``data`` of :func:`napari_srmat.sr.train.train_sr`, refused by the training
#: before it loads them, as ``srmat sr train --data``; ``srmat edges pretrain``): their
#: crops are drawn image by image, a repeated one twice as often.
EACH_IMAGE_ONCE = "each image is drawn from as often as the others: give each file once"


def _store_image_paths(store: str) -> tuple[set[tuple], set[tuple]]:
    """What of a Zarr store is the image the reader opens it as
    (:func:`napari_srmat.io.zarr_image_paths`), by :func:`file_identity`: ``({the
    image's group or array}, {its arrays})``. A store the reader cannot open has none
    (its read refuses it)."""
    from .io import zarr_image_paths

    try:
        image, levels = zarr_image_paths(store)
    except Exception:  # noqa: BLE001 - unreadable: refused by its read, in its words
        return set(), set()
    return {file_identity(image)}, {file_identity(level) for level in levels}


def _check_not_inside_given_store(given: list[str], what: str, hint: str,
                                  error: Callable[[str], Exception]) -> None:
    """Refuse a path of ``given`` that is the image a Zarr store also given is read as
    (:func:`_store_image_paths`: its group, one of its levels, or a path in a level;
    resolved: a link to it is it), in the words of :func:`check_distinct_files`. Another
    image of the store (``scan.zarr/1``, ``a.ome.zarr/labels/x``) is another input."""
    from .io import is_zarr_store

    stores = [(file_identity(path), path, *_store_image_paths(path))
              for path in given if is_zarr_store(path)]
    for path in given:
        resolved = Path(os.path.realpath(path))
        self_id = file_identity(resolved)
        above = [file_identity(p) for p in resolved.parents]
        for store_id, store, groups, arrays in stores:
            if store_id != self_id and (self_id in groups | arrays
                                        or not arrays.isdisjoint(above)):
                raise error(f"{what} {path} is given twice (also as {store}, the Zarr "
                            f"store it lies in): {hint}")


def check_distinct_files(paths: Sequence[str | os.PathLike | None], what: str, hint: str, *,
                         members: Callable[[str], Sequence[str | os.PathLike]] | None = None,
                         error: Callable[[str], Exception] = ValueError) -> None:
    """Refuse a file given twice among inputs that must be distinct: the one rule of the
    library (the SR training's ``data``) and of the ``srmat`` commands
    (:func:`napari_srmat.cli.check_distinct_inputs`).

    The same file under another name (``./m.png``, a symlink, a hard link:
    :func:`file_identity`) is the same input, and so is the same path given twice. Where
    a folder stands for the images read from it (``members``), a file given beside a
    folder that holds it among those images (``[dir, dir/a.png]``), one image in two
    given folders, or a file and a link to it in one folder, is given twice as well; a
    file of the folder that is not read from it (``dir/notes.webp``, a ``srmat synth``
    mask) is another input. Where a folder is read as one image (a Zarr store: ``members``
    None), it is one input. The image a given Zarr store is read as, given again inside
    it, is given twice with it: a level of its multiscales (``a.ome.zarr/0``, or
    ``a.ome.zarr/1``, the same image at another resolution) or, for a bioformats2raw
    collection read as its series 0, that series (``scan.zarr/0``, ``scan.zarr/0/0``).
    Another image of the store (``scan.zarr/1``, a label image ``a.ome.zarr/labels/x``)
    is another input. Another file with the same pixels is another input; so are a
    folder and a folder in it, and two arrays of one store given without it.

    Parameters
    ----------
    paths : sequence of path-like or None
        The inputs, as given (None: an optional one not given, skipped).
    what : str
        What an input is, for the error (``"mask"``, ``"image"``, ``"training source"``).
    hint : str
        What to do instead, the end of the error (:data:`EACH_IMAGE_ONCE`).
    members : callable, optional
        The files a folder among ``paths`` stands for, as they are read
        (:func:`napari_srmat.sr.train.source_image_files`); None (default): a folder is
        one input.
    error : callable, optional
        The exception raised, made from its one-line message (default ``ValueError``;
        ``SRError``, the CLI's ``UserError``).

    Raises
    ------
    Exception
        ``error``: two of ``paths`` are the same file, or one file is among the
        ``members`` of two.

    Examples
    --------
    >>> check_distinct_files(["a.png", "b.png"], "mask", "give each field once")
    >>> check_distinct_files(["a.png", "./a.png"], "mask", "give each field once")
    Traceback (most recent call last):
    ...
    ValueError: mask a.png is given twice (also as ./a.png): give each field once
    """
    given = [os.fspath(path) for path in paths if path is not None]
    seen: dict[tuple, int] = {}  # each file's first place in given (one str object twice
    for k, path in enumerate(given):  # is two places: no identity shortcut)
        first = seen.setdefault(file_identity(path), k)
        if first != k:
            raise error(f"{what} {given[first]} is given twice (also as {path}): {hint}")
    _check_not_inside_given_store(given, what, hint, error)
    if members is None:
        return
    for k, path in enumerate(given):
        if not os.path.isdir(path):
            continue
        inside: dict[tuple, str] = {}  # the folder's own members: a link beside its file
        for member in members(path):  # a hard link or a symlink among them: the same file
            identity = file_identity(os.fspath(member))
            if identity in inside:
                raise error(f"{what} {inside[identity]} is given twice (also as "
                            f"{member} in folder {path}): {hint}")
            inside[identity] = os.fspath(member)
            first = seen.setdefault(identity, k)
            if first == k:
                continue
            if os.path.isdir(given[first]):
                raise error(f"{what} {member} is given twice (in folder {given[first]} "
                            f"and in folder {path}): {hint}")
            raise error(f"{what} {given[first]} is given twice (also in folder "
                        f"{path}): {hint}")


def path_fingerprint(path: str | os.PathLike) -> dict[str, Any]:
    """Identity of an input file or directory store: resolved path, size and content hash.

    Files up to :data:`FILE_FULL_HASH_BYTES` are hashed whole, larger ones in
    :data:`FILE_SAMPLE_BLOCKS` blocks spread over the file. A directory (Zarr store)
    is hashed through the names and sizes of all its files and the content of its
    metadata files and of up to :data:`DIR_SAMPLE_FILES` chunk files.

    Parameters
    ----------
    path : path-like
        An existing file or directory.

    Returns
    -------
    dict
        ``{"path": str, "size": int, "sha256": str}``, and ``"modified"`` (the latest
        modification time, ISO 8601 in UTC, nanoseconds) when the hash is sampled: a
        change outside the sampled blocks still changes the identity (a file moved with
        ``mv`` keeps its time; a plain ``cp`` gives a new one).
    """
    path = Path(path)
    h = _sha()
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.name != MARKER_NAME)
        size, sampled, modified = _files_digest(path, files, h)
    else:
        st = path.stat()
        size, modified = st.st_size, st.st_mtime_ns
        _file_digest(path, h)
        sampled = size > FILE_FULL_HASH_BYTES
    found = {"path": str(path.resolve()), "size": int(size), "sha256": h.hexdigest()[:32]}
    if sampled:
        found["modified"] = _iso_ns(modified)
    return found


def _files_digest(root: Path, files: list[Path], h) -> tuple[int, bool, int]:
    """Hash the names (relative to ``root``) and sizes of ``files``, the content of their
    metadata files and of up to :data:`DIR_SAMPLE_FILES` others into ``h``; returns the
    total size, whether the content was sampled and the latest modification time (ns)."""
    stats = [p.stat() for p in files]
    for p, st in zip(files, stats):
        h.update(f"{p.relative_to(root).as_posix()}\0{st.st_size}\0".encode())
    meta = [p for p in files if p.name.startswith(".z") or p.suffix == ".json"]
    rest = [p for p in files if p not in set(meta)]
    step = max(1, len(rest) // DIR_SAMPLE_FILES)
    hashed = meta + rest[::step][:DIR_SAMPLE_FILES]
    for p in hashed:
        _file_digest(p, h)
    size = sum(st.st_size for st in stats)
    sampled = len(hashed) < len(files) or any(st.st_size > FILE_FULL_HASH_BYTES for st in stats)
    modified = max((st.st_mtime_ns for st in stats), default=0)
    return size, sampled, modified


def files_fingerprint(root: str | os.PathLike, files: Iterable[str | os.PathLike]
                      ) -> dict[str, Any]:
    """Identity of a set of input files inside a folder (the images a training run reads).

    The rule of :func:`path_fingerprint` for a folder, applied to the files given rather
    than to all the folder holds: their names relative to ``root`` and sizes, the content
    of up to :data:`DIR_SAMPLE_FILES` of them (all of them when there are no more) and,
    when the content is sampled, the latest modification time.

    Parameters
    ----------
    root : path-like
        The folder the files were found in (recorded resolved).
    files : iterable of path-like
        Files inside ``root``.

    Returns
    -------
    dict
        ``{"path": str, "files": int, "size": int, "sha256": str}`` and ``"modified"``
        when the hash is sampled.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a.png").write_bytes(b"1234")
    >>> fp = files_fingerprint(d, [d / "a.png"])
    >>> fp["files"], fp["size"], fp["path"] == str(d.resolve())
    (1, 4, True)
    >>> _ = (d / "a.png").write_bytes(b"4321")
    >>> files_fingerprint(d, [d / "a.png"])["sha256"] == fp["sha256"]
    False
    """
    root = Path(root)
    files = sorted(Path(f) for f in files)
    h = _sha()
    size, sampled, modified = _files_digest(root, files, h)
    found = {"path": str(root.resolve()), "files": len(files), "size": int(size),
             "sha256": h.hexdigest()[:32]}
    if sampled:
        found["modified"] = _iso_ns(modified)
    return found


def _iso_ns(ns: int) -> str:
    """``2026-12-03T19:57:18.123456789Z`` from nanoseconds since the epoch."""
    seconds, rest = divmod(int(ns), 10**9)
    stamp = _dt.datetime.fromtimestamp(seconds, tz=_dt.UTC)
    return f"{stamp:%Y-%m-%dT%H:%M:%S}.{rest:09d}Z"


# --------------------------------------------------------------------------- identity


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, Mapping):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: d}


def json_ready(obj: Any) -> Any:
    """``obj`` as plain JSON values (numpy scalars and arrays to Python, tuples to lists,
    keys sorted; anything else as its ``str``).

    Examples
    --------
    >>> json_ready({"b": np.float32(0.5), "a": (1, np.arange(2))})
    {'a': [1, [0, 1]], 'b': 0.5}
    """
    return json.loads(json.dumps(obj, sort_keys=True, default=_json_default))


def json_text(obj: Any) -> str:
    """``obj`` as strict, indented JSON text (a final newline): what ``srmat ... --json``
    prints and the JSON files written from the same results hold.

    Numpy scalars and arrays become Python values, paths strings; a non-finite number
    (NaN, +-inf), which Python's ``json`` would write as ``NaN``/``Infinity`` (not JSON;
    ``jq`` and most parsers refuse it), becomes ``null``.

    Raises
    ------
    TypeError
        A value that is not JSON data.

    Examples
    --------
    >>> print(json_text({"ratio": float("inf"), "v": (1.5, np.float32(2))}), end="")
    {
      "ratio": null,
      "v": [
        1.5,
        2.0
      ]
    }
    """
    import math

    from .checkpoint import json_value as plain

    def strict(o: Any) -> Any:
        if isinstance(o, float):
            return o if math.isfinite(o) else None
        if isinstance(o, dict):
            return {k: strict(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [strict(v) for v in o]
        return o

    def default(o: Any) -> Any:
        return strict(plain(o))

    return json.dumps(strict(obj), indent=2, default=default, allow_nan=False) + "\n"


def _json_default(obj: Any) -> Any:
    from .checkpoint import json_value

    try:
        return json_value(obj)
    except TypeError:
        return str(obj)


#: Identity keys that are recorded but not compared: where a file lies, when its content
#: hash is part of the same identity (a moved input, a moved SR checkpoint, whose
#: ``attrs.weights_sha256`` decides, a refsr reference, whose ``reference_sha256`` does),
#: and an SR output's ``attrs.weights`` (trained / untrained ...: what ``weights_sha256``
#: decides; stores written before 2026-12-07 lack it and still resume).
INFORMATIONAL_KEYS = ("input.file.path", "attrs.checkpoint", "attrs.options.reference",
                      "attrs.weights")


def identity_differences(stored: Mapping | None, requested: Mapping) -> list[str]:
    """Human-readable differences between two identities (empty list: the same work).

    Keys listed in :data:`INFORMATIONAL_KEYS` (paths of the input, the checkpoint and
    a reference; an SR output's ``weights``, what ``weights_sha256`` already decides) are
    not compared: the content hashes decide whether they are the same.

    Parameters
    ----------
    stored, requested : mapping
        Nested JSON-like identities (``stored`` None: an output without one).

    Returns
    -------
    list of str
        E.g. ``["input.pixels: stored 3fa0… != requested 9b1c…", "model: ..."]``; a
        group of settings only one side has (e.g. an edge map's ``error_model``) is
        told once, by its name and the names of its entries.

    Examples
    --------
    >>> identity_differences({"model": "cnn", "scale": 4}, {"model": "cnn", "scale": 2})
    ['scale: stored 4 != requested 2']
    >>> identity_differences({"scale": 4}, {"scale": 4, "extra": {"a": 1, "b": [2, 3]}})
    ['extra: stored none != requested {a, b}']
    """
    if stored is None:
        return ["no record of the input and parameters it was made with"]
    tree_a, tree_b = json_ready(stored), json_ready(requested)
    a, b = _flatten(tree_a), _flatten(tree_b)
    diffs, groups = [], set()
    for key in sorted(set(a) | set(b)):
        if key in INFORMATIONAL_KEYS:
            continue
        if a.get(key, "<missing>") != b.get(key, "<missing>"):
            group = _one_sided_group(key, tree_a, tree_b)
            if group is None:
                diffs.append(f"{key}: stored {_short(a.get(key, '<missing>'))} != requested "
                             f"{_short(b.get(key, '<missing>'))}")
            elif group not in groups:
                groups.add(group)
                diffs.append(f"{group}: stored {_group_text(tree_a, group)} != requested "
                             f"{_group_text(tree_b, group)}")
    return diffs


#: The most characters a value (or a group's list of names) takes in a difference
#: :func:`identity_differences` tells: longer ones are cut, ending in ``...``.
SHORT_VALUE_CHARS = 60
_ABSENT = object()


def _at(tree: Any, parts: list[str]) -> Any:
    """The value at a dotted key's ``parts`` of a nested identity (``_ABSENT``: none)."""
    for part in parts:
        if not isinstance(tree, Mapping) or part not in tree:
            return _ABSENT
        tree = tree[part]
    return tree


def _one_sided_group(key: str, tree_a: Any, tree_b: Any) -> str | None:
    """The outermost group (a mapping) holding ``key`` that only one identity has, or
    None: ``key`` is a setting of its own (told with its values)."""
    parts = key.split(".")
    for n in range(1, len(parts)):
        va, vb = _at(tree_a, parts[:n]), _at(tree_b, parts[:n])
        if (va is _ABSENT and isinstance(vb, Mapping)) or (
                vb is _ABSENT and isinstance(va, Mapping)):
            return ".".join(parts[:n])
    return None


def _group_text(tree: Any, group: str) -> str:
    """A group of settings as told by :func:`identity_differences`: ``none`` where the
    identity lacks it, else the names of its entries (shortened)."""
    value = _at(tree, group.split("."))
    if value is _ABSENT:
        return "none"
    text = "{" + ", ".join(sorted(value)) + "}"
    return text if len(text) <= SHORT_VALUE_CHARS else text[:SHORT_VALUE_CHARS - 4] + "...}"


def started_with(record: Mapping | None, requested: Mapping) -> dict[str, Any]:
    """What a resumed output was started with, where this run's differs: the values of
    the :data:`INFORMATIONAL_KEYS` (where the input, the checkpoint, the reference lay).

    A resume compares content, not paths, so a moved checkpoint or input continues the
    same output. The finished output records the paths of the run that finished it (its
    identity, e.g. ``attrs.checkpoint``: the checkpoint the continuation loaded, which
    is where it is now) and, under ``started_with``, the ones the output was started with
    that differ from them: together, every path its pixels came from.

    Parameters
    ----------
    record : mapping or None
        The partial output's record (manifest or marker): its ``identity`` as the first
        run wrote it, or a ``started_with`` an earlier resume carried over.
    requested : mapping
        This run's identity.

    Returns
    -------
    dict
        ``{identity key: the start's value}``; empty when nothing moved.

    Examples
    --------
    >>> started_with({"identity": {"attrs": {"checkpoint": "/a", "scale": 4}}},
    ...              {"attrs": {"checkpoint": "/b", "scale": 4}})
    {'attrs.checkpoint': '/a'}
    """
    if not record:
        return {}
    first = _flatten(json_ready(record.get("identity") or {}))
    earlier = record.get("started_with")
    if isinstance(earlier, Mapping):
        first.update(earlier)
    now = _flatten(json_ready(requested))
    return {key: first[key] for key in INFORMATIONAL_KEYS
            if key in first and first[key] != now.get(key)}


def input_differences(what: str, stored: Mapping | str | None,
                      requested: Mapping | None) -> list[str]:
    """Whether a run may resume with this input: where it lies and what it holds.

    Identities are those of :func:`path_fingerprint`, :func:`files_fingerprint` (a
    resolved ``"path"`` and the content: ``size``, ``sha256``, ...) or of an in-memory
    array (``{"array": description, "sha256": ...}``). The same folder given by a
    relative or an absolute path is the same input; another folder, or the same one
    whose files changed, is not.

    A record written by an older version holds only the input as it was typed (a
    ``str``): an absolute path is compared with the resolved one (the files are not:
    the caller says so), a relative one is refused, since the folder it was relative to
    is unknown; an array's description is compared as text.

    Parameters
    ----------
    what : str
        The input as the user names it (``"--data"``, ``"training data"``).
    stored : mapping, str or None
        The identity the run recorded (None: it had no such input).
    requested : mapping or None
        This run's identity (None: no such input).

    Returns
    -------
    list of str
        One phrase per difference; empty when the input is the same.

    Examples
    --------
    >>> a = {"path": "/d/et", "files": 2, "size": 10, "sha256": "aa"}
    >>> input_differences("--data", a, dict(a))
    []
    >>> input_differences("--data", a, dict(a, path="/e/et"))
    ['--data: /e/et, the run was started with /d/et']
    >>> print(*input_differences("--data", a, dict(a, files=3, size=14, sha256="bb")))
    --data: the files in /d/et changed since ... (then 2 files, 10 B; now 3 files, 14 B)
    >>> print(*input_differences("--data", "et", a))
    --data: the run recorded it only as 'et', relative to ...: which folder that was is unknown
    """
    def name(identity: Mapping | str | None) -> str:
        if identity is None:
            return "none"
        if isinstance(identity, str):
            return identity
        return str(identity.get("path") or identity.get("array") or "an input")

    if stored is None and requested is None:
        return []
    if stored is None or requested is None:
        return [f"{what}: {name(requested)}, the run was started with {name(stored)}"]
    if isinstance(stored, str):  # an older record: the input as typed
        if requested.get("path") is None:  # an array: its description
            same = stored == requested.get("array")
        elif not Path(stored).expanduser().is_absolute():
            return [f"{what}: the run recorded it only as {stored!r}, relative to the folder "
                    "it was started from (an older version): which folder that was is unknown"]
        else:
            same = str(_resolved(stored)) == requested["path"]
        return [] if same else [f"{what}: {name(requested)}, the run was started with {stored}"]
    if stored.get("path") != requested.get("path") or \
            stored.get("array") != requested.get("array"):
        return [f"{what}: {name(requested)}, the run was started with {name(stored)}"]
    if json_ready(stored) == json_ready(requested):
        return []
    if requested.get("path") is None:
        return [f"{what}: other pixels than the run was started with"]

    def holds(identity: Mapping) -> str:
        n = identity.get("files")
        return (f"{n} file{'s' if n != 1 else ''}, " if n is not None else "") + \
            format_bytes(identity.get("size") or 0)

    which = "files in" if "files" in requested else "file"
    return [f"{what}: the {which} {requested['path']} changed since the run was started "
            f"(then {holds(stored)}; now {holds(requested)})"]


def check_no_earlier_run(out: str | os.PathLike, summary: str | None, *,
                         overwrite: bool, resumable: bool = True) -> None:
    """Refuse a new training run into a folder that holds an earlier one (its trained
    model would be replaced) unless ``overwrite`` says to start over.

    Parameters
    ----------
    out : path-like
        The run folder.
    summary : str or None
        What the earlier run there holds (``"3 epochs, best val AP 0.81"``); None when
        the folder holds no run.
    overwrite : bool
        Start over: the new run replaces the earlier one.
    resumable : bool
        Whether the earlier run can be resumed (it holds its state); a run asked to
        resume one that cannot be (a ``best/`` left without its state) is refused too:
        it started a new run over the trained model with a warning only.

    Raises
    ------
    OutputExistsError
        ``out`` holds a run and ``overwrite`` is False.

    Examples
    --------
    >>> check_no_earlier_run("run", None, overwrite=False)
    >>> check_no_earlier_run("run", "2 epochs", overwrite=False)
    Traceback (most recent call last):
    ...
    napari_srmat.outputs.OutputExistsError: run holds a training run (2 epochs); pass ...
    """
    if summary is not None and not check_flag("overwrite", overwrite, error=OutputError):
        if not resumable:
            raise worded_error(
                OutputExistsError,
                "{out} holds a training run ({summary}) that cannot be resumed (its state "
                "is missing): pass {overwrite} to start over there, or choose another "
                "output folder", out=out, summary=summary, overwrite=OVERWRITE)
        raise worded_error(OutputExistsError, "{out} holds a training run ({summary}); "
                           "pass {resume} to continue it or {overwrite} to start over",
                           out=out, summary=summary, resume=RESUME, overwrite=OVERWRITE)


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= SHORT_VALUE_CHARS else text[:SHORT_VALUE_CHARS - 3] + "..."


# --------------------------------------------------------------------------- markers


def read_marker(path: str | os.PathLike) -> dict | None:
    """The marker of a napari-srmat output directory, or None (not ours / unreadable)."""
    try:
        m = json.loads((Path(path) / MARKER_NAME).read_text())
    except (OSError, ValueError):
        return None
    return m if isinstance(m, dict) and m.get("creator") == CREATOR else None


def write_marker(path: str | os.PathLike, kind: str, *, identity: Mapping | None = None,
                 complete: bool = True, extra: Mapping | None = None) -> Path:
    """Write (atomically) the marker that makes ``path`` recognisably ours.

    Parameters
    ----------
    path : path-like
        An existing directory.
    kind : str
        What the output is (``"super_resolution"``, ``"boundaries"``, ``"demo"``, ...).
    identity : mapping, optional
        Input fingerprint and parameters (see :func:`identity_differences`).
    complete : bool
        Whether the output is complete.
    extra : mapping, optional
        More JSON fields.
    """
    from . import __version__
    from ._atomic import atomic_write_text

    marker = {
        "creator": CREATOR,
        "version": __version__,
        "kind": kind,
        "complete": bool(complete),
        "command": _command_line(),
        "argv": _command_argv(),  # its words, for srmat info to quote (s51)
        "written": _now_iso(),
        "identity": json_ready(identity) if identity is not None else None,
        **(dict(extra) if extra else {}),
    }
    return atomic_write_text(Path(path) / MARKER_NAME, json.dumps(marker, indent=1))


def add_to_marker(path: str | os.PathLike, fields: Mapping) -> Path:
    """Add ``fields`` to the marker of the napari-srmat output ``path`` (atomically: a
    kill leaves the marker as it was or with them), keeping all it says besides (the
    command, time and identity of what made the output: nothing else is rewritten).

    Parameters
    ----------
    path : path-like
        An output directory with a marker (:func:`write_marker`).
    fields : mapping
        JSON fields to add or replace.

    Raises
    ------
    OutputError
        ``path`` has no readable napari-srmat marker.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> _ = write_marker(out, "demo")
    >>> _ = add_to_marker(out, {"note": 1})
    >>> read_marker(out)["note"], read_marker(out)["kind"]
    (1, 'demo')
    """
    from ._atomic import atomic_write_text

    marker = read_marker(path)
    if marker is None:
        raise OutputError(f"{path} has no napari-srmat marker to add to")
    marker.update(json_ready(dict(fields)))
    return atomic_write_text(Path(path) / MARKER_NAME, json.dumps(marker, indent=1))


def _legacy_ome_zarr(path: Path) -> bool:
    """An OME-Zarr written by an earlier napari-srmat (creator tag, no marker)."""
    try:
        attrs = json.loads((path / ".zattrs").read_text())
        return attrs["multiscales"][0]["metadata"]["creator"] == CREATOR
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return False


def is_ours(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a directory output written by napari-srmat."""
    path = Path(path)
    return path.is_dir() and (read_marker(path) is not None or _legacy_ome_zarr(path))


# --------------------------------------------------------------------------- checks


def _resolved(p: str | os.PathLike) -> Path:
    return Path(os.path.abspath(os.path.expanduser(os.fspath(p)))).resolve()


def check_not_input(out: str | os.PathLike, inputs: Iterable[str | os.PathLike | None]) -> None:
    """Refuse an output that is, contains or lies inside one of the inputs.

    Raises
    ------
    OutputError
        ``out`` and an input are the same path, or one contains the other.

    Examples
    --------
    >>> check_not_input("a.zarr", ["a.zarr"])
    Traceback (most recent call last):
    ...
    napari_srmat.outputs.OutputError: output a.zarr is the input a.zarr: choose another output
    """
    o = _resolved(out)
    for inp in inputs:
        if inp is None:
            continue
        i = _resolved(inp)
        if o == i:
            raise OutputError(f"output {out} is the input {inp}: choose another output")
        if i in o.parents:
            raise OutputError(f"output {out} lies inside the input {inp}: choose another output")
        if o in i.parents:
            raise OutputError(f"output {out} contains the input {inp}: choose another output")


def _nearest_existing_parent(path: Path) -> Path:
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    return parent


#: suffixes of single-file image formats, which an OME-Zarr store (a folder) must not have
IMAGE_FILE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp",
                       ".npy")


#: suffixes the write protocol gives the siblings of an output ``OUT``: ``OUT.partial``
#: (the store being built) and ``OUT.lock``
RESERVED_SUFFIXES = (".partial", ".lock")


def check_not_reserved(out: str | os.PathLike) -> None:
    """Refuse an output named like the bookkeeping of another output: ``x.zarr.partial``
    is where a run into ``x.zarr`` builds its result (a later ``--no-resume`` run into
    ``x.zarr`` would delete it, a resumed one would move it onto ``x.zarr``),
    ``x.zarr.lock`` its lock file and ``.x.zarr.<8 hex>.old`` the earlier ``x.zarr`` a
    replacing run renames aside and deletes (:data:`napari_srmat._atomic.SWAPPED_OUT`).

    Raises
    ------
    OutputError
        ``out`` ends in one of :data:`RESERVED_SUFFIXES` (any case), or is named as a
        swapped-out copy.
    """
    from ._atomic import SWAPPED_OUT

    path = Path(out)
    suffix = path.suffix.lower()
    if suffix in RESERVED_SUFFIXES:
        raise OutputError(f"{out}: names ending in {suffix} are kept for the bookkeeping of "
                          f"the output {path.name[: -len(suffix)] or path.name}; choose "
                          "another name")
    swapped = SWAPPED_OUT.match(path.name)
    if swapped:  # where a run replacing OUT puts the earlier one, and then deletes it
        raise OutputError(f"{out}: names .NAME.<8 hex digits>.old are kept for the "
                          f"bookkeeping of the output {swapped['of']}; choose another name")


def check_store_name(out: str | os.PathLike) -> None:
    """Refuse to name an OME-Zarr store (a folder) like an image file: ``out.png`` would be
    a folder that no image viewer opens as a PNG.

    Parameters
    ----------
    out : path-like
        The store to write.

    Raises
    ------
    OutputError
        ``out`` ends in one of :data:`IMAGE_FILE_SUFFIXES` (any case); the message gives
        the ``.ome.zarr`` name to use instead.

    Examples
    --------
    >>> check_store_name("scan_x4.ome.zarr")
    >>> check_store_name("scan_x4.png")
    Traceback (most recent call last):
    ...
    napari_srmat.outputs.OutputError: scan_x4.png: ... e.g. scan_x4.ome.zarr
    """
    check_not_reserved(out)
    named = _named_like_an_image(out)
    if named is not None:
        kind, path = named
        raise OutputError(f"{out}: the output is an OME-Zarr store (a folder), not a "
                          f"{kind} file; give a name ending in .ome.zarr, e.g. "
                          f"{path.with_name(path.name + '.ome.zarr')}")


def _named_like_an_image(out: str | os.PathLike) -> tuple[str, Path] | None:
    """``(KIND, the name without it)`` of a path ending in one of
    :data:`IMAGE_FILE_SUFFIXES` (``scan.ome.tif`` -> ``("TIF", scan)``); None else."""
    from .io import image_stem

    path = Path(out)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_FILE_SUFFIXES:
        return None
    # scan.ome.tif -> scan, not scan.ome.ome.zarr
    return suffix[1:].upper(), path.with_name(image_stem(path))


def check_folder_name(out: str | os.PathLike) -> None:
    """Refuse to name an output folder like an image or array file: ``srmat demo --out
    x.png`` made a folder ``x.png`` that no image viewer opens (``.zarr`` is a folder
    format and allowed).

    The one rule of every output that is a folder (:func:`check_output_dir`, the
    folders of ``srmat edges predict`` and ``srmat edges pretrain``); OME-Zarr stores
    have :func:`check_store_name`.

    Parameters
    ----------
    out : path-like
        The folder to write.

    Raises
    ------
    OutputError
        ``out`` ends in one of :data:`IMAGE_FILE_SUFFIXES` (any case); the message gives
        the name without it.

    Examples
    --------
    >>> check_folder_name("run1"), check_folder_name("maps.zarr")
    (None, None)
    >>> check_folder_name("edges.PNG")
    Traceback (most recent call last):
    ...
    napari_srmat.outputs.OutputError: edges.PNG: the output is a folder, not a PNG file; ...
    """
    named = _named_like_an_image(out)
    if named is not None:
        kind, path = named
        raise OutputError(f"{out}: the output is a folder, not a {kind} file; give a "
                          f"folder name without .{kind.lower()}, e.g. {path}")


def check_out_arg(out: Any, func: str, *, what: str = "the path of an OME-Zarr store to "
                  "write", example: str = "result.ome.zarr") -> Any:
    """Refuse an ``out=`` of a job that is no path.

    The path rule (:func:`napari_srmat.io.path_arg`) naming ``out``: ``out=5`` or
    ``out=b"x"`` failed with pathlib's TypeError, which names no argument. None and
    paths are returned as given (an empty or folder-only path is
    :func:`check_output_location`'s to refuse). ``what`` and ``example`` say what the
    function writes (an OME-Zarr store by default; ``predict_boundaries`` a folder).
    """
    if out is None or isinstance(out, str | os.PathLike):
        return out
    from .io._read import path_arg

    return path_arg(out, func, name="out", example=example,
                    takes=f"out=None (the result in memory) or {what}",
                    hint="a str or pathlib.Path (not bytes)")


def check_output_location(out: str | os.PathLike, *, example: str = "result.ome.zarr",
                          folder: bool = False) -> None:
    """Refuse an output whose folder cannot be created or written.

    Parameters
    ----------
    out : path-like
        The output, as given (``""`` is refused, not taken as the current folder).
    example : str
        A name of the kind of output, suggested when ``out`` names none.
    folder : bool
        ``out`` is a folder of files (not a store or a file): named like an image file
        it is refused too (:func:`check_folder_name`).

    Raises
    ------
    OutputError
        A path that names no new entry (``""``, ``"."``, ``".."``, ``"/"``), a name kept for
        another output's bookkeeping (:func:`check_not_reserved`), a folder named like an
        image file, a parent that is a file, or a nearest existing parent folder that is
        not writable.
    """
    if Path(out).name in ("", ".."):  # out="" is the current folder: it failed with
        # pathlib's "PosixPath('.') has an empty name"
        raise OutputError(f"output path {str(out)!r} names no file or folder of its own (it "
                          f"is the current, a parent or the root folder): give a new name, "
                          f"e.g. {example}")
    check_not_reserved(out)  # every output: an srmat edges predict folder e.partial was
    # deleted by a later --no-resume run into e as its unfinished staging
    if folder:
        check_folder_name(out)
    out = Path(out)
    parent = _nearest_existing_parent(out)
    if not parent.is_dir():
        raise OutputError(f"cannot write {out}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {out}: folder {parent} is not writable")


def check_replaceable(out: str | os.PathLike, *, kinds: Iterable[str] | None = None,
                      allowed_entries: Iterable[str] | None = None) -> None:
    """Refuse to replace ``out`` unless napari-srmat wrote it.

    Parameters
    ----------
    out : path-like
        An existing path.
    kinds : iterable of str, optional
        Marker kinds that may be replaced (default: any of ours).
    allowed_entries : iterable of str, optional
        If given, the directory may contain only these names (plus the marker).

    Raises
    ------
    OutputExistsError
        ``out`` is a file, a folder without our marker, an output of another kind,
        or a folder that also holds other files.
    """
    out = Path(out)
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputExistsError(f"{out} is a file that napari-srmat did not write; "
                                "it will not be replaced: choose another output")
    marker = read_marker(out)
    if marker is None and not _legacy_ome_zarr(out):
        what = "an empty folder" if not any(out.iterdir()) else "a folder"
        raise OutputExistsError(f"{out} is {what} that napari-srmat did not write; it will "
                                "not be replaced: choose another output")
    if kinds is not None and marker is not None and marker.get("kind") not in set(kinds):
        raise OutputExistsError(f"{out} holds a napari-srmat {marker.get('kind')} output, "
                                "not this kind; it will not be replaced")
    if allowed_entries is not None:
        allowed = set(allowed_entries) | {MARKER_NAME}
        foreign = sorted(p.name for p in out.iterdir() if p.name not in allowed)
        if foreign:
            raise OutputExistsError(
                f"{out} also holds files napari-srmat did not write ({', '.join(foreign[:3])}"
                f"{', ...' if len(foreign) > 3 else ''}); it will not be replaced")


def check_output_dir(out: str | os.PathLike, kind: str, *,
                     inputs: Iterable[str | os.PathLike | None] = ()) -> Path:
    """Refuse a folder output of ``kind`` that :func:`prepare_output_dir` would refuse,
    without creating anything.

    Jobs that read their inputs before writing call this first, so that a wrong
    output folder is refused at once, and :func:`prepare_output_dir` once the inputs
    have loaded, so that a run failing on its inputs leaves no folder behind.

    Parameters
    ----------
    out : path-like
        The folder.
    kind : str
        Marker kind.
    inputs : iterable of path-like
        Paths the output must not be, contain or lie in.

    Returns
    -------
    Path
        ``out`` as a path.

    Raises
    ------
    OutputError
        When the folder may not be written (also an existing folder that is not
        writable).
    """
    out = Path(out)
    check_not_input(out, inputs)
    check_output_location(out, folder=True)
    if out.exists() and not (out.is_dir() and only_creation_debris(out)):
        check_replaceable(out, kinds=[kind])
    # the command writes into the folder itself (its marker first): an existing folder
    # that cannot be written failed on the marker's temporary file, naming that file
    if out.is_dir() and not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {out}: folder {out} is not writable")
    return out


def prepare_output_dir(out: str | os.PathLike, kind: str, *,
                       inputs: Iterable[str | os.PathLike | None] = ()) -> Path:
    """Create or re-enter a folder output of ``kind`` under the write protocol.

    The folder may be new or empty, or an earlier folder of ours of the same kind
    (reports, previews, training runs: the command writes into it again). Anything
    else (a file, a folder of the user's, one of ours of another kind) is refused.

    Parameters
    ----------
    out : path-like
        The folder.
    kind : str
        Marker kind (``"demo"``, ``"synthetic"``, ``"sr_training"``, ...).
    inputs : iterable of path-like
        Paths the output must not be, contain or lie in.

    Returns
    -------
    Path
        The folder (created, with its marker).

    Raises
    ------
    OutputError
        When the folder may not be written.
    """
    out = check_output_dir(out, kind, inputs=inputs)
    if out.is_dir() and only_creation_debris(out):  # new, or killed while creating it
        for entry in os.scandir(out):
            os.unlink(entry.path)
    out.mkdir(parents=True, exist_ok=True)
    if read_marker(out) is None:
        write_marker(out, kind, complete=False)
    return out


def nothing_to_resume(out: str | os.PathLike | None, state: str) -> str:
    """The line a job reports when asked to resume but ``out`` holds no ``state`` to
    resume from: it starts a new run instead (staged workflows pass ``resume`` from
    their first stage on), and says so rather than starting silently.

    Parameters
    ----------
    out : path-like or None
        The run's output folder (None: the run saves nothing).
    state : str
        What a resume continues from, e.g. ``"train_state"`` (a name inside ``out``).

    Returns
    -------
    str
        One line for a warning (the jobs yield it as a ``Log`` at level ``"warning"``).

    Examples
    --------
    >>> nothing_to_resume("runs/a", "last")
    'nothing to resume at runs/a (no last): starting a new run'
    >>> nothing_to_resume(None, "last")
    'nothing to resume (no output folder): starting a new run'
    """
    where = f" at {out} (no {state})" if out is not None else " (no output folder)"
    return f"nothing to resume{where}: starting a new run"


def only_creation_debris(path: str | os.PathLike, names: Iterable[str] = ()) -> bool:
    """Whether folder ``path`` is empty or holds only temporary files of our marker (and
    of the bookkeeping files ``names``): what a run killed while creating it leaves.

    Such a folder is ours to start over; anything else in it makes it the user's, and so
    does ``path`` being a file rather than a folder.
    """
    path = Path(path)
    if not path.is_dir():
        return False
    prefixes = tuple(f".{n}." for n in (MARKER_NAME, *names))
    with os.scandir(path) as entries:  # closed where the look stops early
        return all(e.is_file() and e.name.startswith(prefixes) and e.name.endswith(".tmp")
                   for e in entries)


@contextlib.contextmanager
def discarded_when_refused(partial: str | os.PathLike, *, created: bool) -> Iterator[None]:
    """Delete the partial output ``partial`` when the block fails on its input or
    parameters and this run created it; re-raise the error.

    A partial is kept for a rerun of the same command to resume, but an error that is
    the input's or the parameters' (NaN pixels, a model returning a wrong shape, an
    output that cannot fit: :func:`napari_srmat.errors.is_user_error`, an OS error
    excepted) recurs on every rerun with the same input and parameters, and a rerun
    with other ones may not resume it: such a partial could never be finished and would
    be left behind as debris. Interruptions, system errors (a full disk: free space and
    rerun) and internal errors keep it, and so does a failure while resuming a partial
    an earlier run wrote.

    Parameters
    ----------
    partial : path-like
        The partial folder this run writes (``OUT.partial``).
    created : bool
        Whether this run created it (not resumed from an earlier run).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "out.partial"
    >>> p.mkdir()
    >>> try:
    ...     with discarded_when_refused(p, created=True):
    ...         raise ValueError("the input has NaN pixels")
    ... except ValueError:
    ...     pass
    >>> p.exists()
    False
    """
    from ._atomic import remove_tree_marker_last
    from .errors import is_user_error

    try:
        yield
    except Exception as exc:
        if created and is_user_error(exc) and not isinstance(exc, OSError):
            remove_tree_marker_last(partial)
        raise


def check_output_file(out: str | os.PathLike, *, inputs: Iterable[str | os.PathLike | None] = (),
                      overwrite: bool = False, ours=None,
                      example: str = "result.json",
                      suffixes: tuple[tuple[str, ...], str] | None = None) -> Path:
    """Check a single-file output (JSON session, report) before writing it.

    Parameters
    ----------
    out : path-like
        The file to write.
    inputs : iterable of path-like
        Paths it must not be.
    overwrite : bool or None
        Whether an existing file may be replaced; None for a command that never
        replaces one (it has no ``--overwrite``).
    ours : callable, optional
        ``ours(path) -> bool`` recognising a file napari-srmat wrote; an existing file
        that fails it is never replaced.
    example : str
        A file name of the kind written, suggested when ``out`` names no file.
    suffixes : (tuple of str, str), optional
        The name endings the file may have and the format's name, e.g.
        ``((".tif", ".tiff"), "TIFF")``: another ending is refused (a TIFF written under
        ``map.png`` opened as no PNG).

    Raises
    ------
    OutputError
        When the file may not be written.
    """
    if overwrite is not None:
        overwrite = check_flag("overwrite", overwrite, error=OutputError)
    # the location first, as given: "" was told as "output path '.' ..." (the Path of "")
    check_output_location(out, example=example)
    if suffixes is not None and not str(out).lower().endswith(suffixes[0]):
        raise OutputError(f"{out}: written as {suffixes[1]}; give a name ending in "
                          f"{' or '.join(suffixes[0])}")
    out = Path(out)
    check_not_input(out, inputs)
    if out.exists() or out.is_symlink():
        if out.is_dir():
            raise OutputExistsError(f"{out} is a folder; give a file name")
        check_existing_output(out, overwrite=overwrite,
                              replaceable=lambda path: _check_our_file(path, ours))
    return out


def _check_our_file(out: Path, ours: Callable[[Path], bool] | None) -> None:
    """Refuse a file ``ours`` does not recognise (:func:`check_output_file`)."""
    if ours is None or not ours(out):
        raise OutputExistsError(f"{out} was not written by napari-srmat; it will not be "
                                "replaced: choose another output")


# --------------------------------------------------------------------------- space


def format_bytes(n: float) -> str:
    """``1536 -> '1.5 KiB'``."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def available_memory_bytes() -> int:
    """Memory available to a new allocation (``MemAvailable``), best estimate."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 2**62


def unwritable_reason(folder: str | os.PathLike) -> str | None:
    """Why nothing can be written in ``folder`` (an existing folder), or None: not
    writable by this user, or a read-only or pseudo filesystem (``/proc``, ``/sys``: no
    blocks at all), which the free-space rule told as a full disk ("0 B free on /proc:
    free space or choose another disk") until 2026-12-07.

    Examples
    --------
    >>> from napari_srmat.outputs import unwritable_reason
    >>> unwritable_reason("/proc")
    'not writable: a pseudo filesystem, not a disk'
    """
    with contextlib.suppress(OSError, AttributeError):  # AttributeError: no statvfs
        st = os.statvfs(folder)
        if st.f_blocks == 0:
            return "not writable: a pseudo filesystem, not a disk"
        if st.f_flag & os.ST_RDONLY:
            return "not writable: a read-only filesystem"
    if not os.access(folder, os.W_OK | os.X_OK):
        return "not writable: permission denied"
    return None


def check_free_space(out: str | os.PathLike | None, nbytes: int, *, what: str = "output"
                     ) -> str:
    """Refuse when ``nbytes`` cannot fit on the disk of ``out`` (or in memory if None).

    Parameters
    ----------
    out : path-like or None
        Output path (its nearest existing parent is measured), or None for an
        in-memory result.
    nbytes : int
        Upper estimate of what will be written (or held).
    what : str
        Name used in the message.

    Returns
    -------
    str
        A one-line summary (``"needs 1.2 GiB, 40.0 GiB free on /data"``).

    Raises
    ------
    OutputError
        When it does not fit, or ``out``'s place is not writable
        (:func:`unwritable_reason`).
    """
    nbytes = int(nbytes)
    if out is None:
        free = available_memory_bytes()
        if nbytes > free:
            raise OutputError(
                f"the {what} needs {format_bytes(nbytes)} of memory, {format_bytes(free)} "
                "available: write it to an OME-Zarr store instead (out=PATH / an output path)")
        return f"needs {format_bytes(nbytes)} of memory, {format_bytes(free)} available"
    parent = _nearest_existing_parent(Path(out))
    where = str(parent)
    not_writable = unwritable_reason(parent)
    if not_writable is not None:  # before the space rule: /proc was told "0 B free"
        raise OutputError(f"cannot write the {what} to {where} ({not_writable}): choose "
                          "another place")
    free = shutil.disk_usage(parent).free
    if nbytes > free:
        raise OutputError(
            f"the {what} needs up to {format_bytes(nbytes)} (uncompressed), "
            f"{format_bytes(free)} free on {where}: free space or choose another disk")
    return f"needs up to {format_bytes(nbytes)}, {format_bytes(free)} free on {where}"


# --------------------------------------------------------------------------- lock


def _command_argv() -> list[str]:
    """The running command's words (program name without its folder), as typed: what
    ``srmat info`` of a stopped run quotes, shell-quoted (``shlex.join``)."""
    if not sys.argv:
        return []
    return [Path(sys.argv[0]).name, *map(str, sys.argv[1:])]


def _command_line() -> str:
    """The running command (program name without its folder), for markers and locks."""
    return " ".join(_command_argv())


def _now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


#: A lock file of ours is one short JSON line; anything longer is someone else's file.
_MAX_LOCK_BYTES = 4096


def _is_lock_record(content: bytes) -> bool:
    """True for an empty file (created, not yet written) or the JSON a lock writes."""
    if not content:
        return True
    if len(content) > _MAX_LOCK_BYTES:
        return False
    try:
        info = json.loads(content)
    except ValueError:
        return False
    return isinstance(info, dict) and {"pid", "host"} <= set(info)


def check_not_replacing_link(out: str | os.PathLike) -> None:
    """Refuse to (re)write an output ``out`` that is a symbolic link: replacing it went
    through the link and emptied the folder it pointed to. Reading a complete output
    through a link, and writing into a linked folder, stay allowed.

    Raises
    ------
    OutputExistsError
        ``out`` is a symbolic link (dangling or not).
    """
    out = Path(out)
    if out.is_symlink():
        raise OutputExistsError(
            f"{out} is a symbolic link (to {os.readlink(out)}); napari-srmat will not "
            "replace a link or what it points to: give the real path, or another output")


def check_staging_holds_only_ours(staging: str | os.PathLike, names: Iterable[str]) -> None:
    """Refuse to delete a staging folder of ours (``OUT.partial``) that also holds files
    napari-srmat did not write: a run that starts over (``resume=False``) removed a
    note the user had put there with it.

    Parameters
    ----------
    staging : path-like
        The staging folder (it exists and is ours: its manifest or marker says so).
    names : iterable of str
        The entries a staging of this kind holds (besides :data:`MARKER_NAME`, the
        temporary files of interrupted atomic writes and each entry's own bookkeeping,
        which a kill leaves behind: ``NAME`` + :data:`RESERVED_SUFFIXES` and its
        swapped-out copy ``.NAME.<8 hex>.old``, :data:`napari_srmat._atomic.SWAPPED_OUT`).

    Raises
    ------
    OutputError
        Naming the first foreign entries.
    """
    from ._atomic import SWAPPED_OUT, is_temp_file

    names = list(names)
    # each output's own working files too: its staging, lock and a swapped-out copy
    allowed = {*names, MARKER_NAME, *(n + suffix for n in names for suffix in RESERVED_SUFFIXES)}
    foreign = sorted(e.name for e in os.scandir(staging)
                     if e.name not in allowed and not is_temp_file(e.name)
                     and not ((m := SWAPPED_OUT.match(e.name)) and m["of"] in names))
    if foreign:
        raise OutputError(
            f"{staging} also holds files napari-srmat did not write "
            f"({', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}); it will not be "
            "removed to start over: move them away")


def check_partial_not_link(partial: str | os.PathLike) -> None:
    """Refuse a staging path ``OUT.partial`` that is a symbolic link: a run builds its
    output there and may remove it, which must never reach through a link.

    Raises
    ------
    OutputError
        ``partial`` is a symbolic link (dangling or not).
    """
    if Path(partial).is_symlink():
        raise OutputError(f"{partial} is a symbolic link; napari-srmat builds its output "
                          "there itself and will not write through or remove a link: remove "
                          "the link or choose another output")


class OutputLock:
    """Exclusive lock on an output path: ``PATH.lock`` with the owner's pid and host.

    Exclusion uses ``fcntl.flock`` on the lock file, so a lock left behind by a
    process that was killed is free again and taken over; the file's JSON (pid,
    host, start time, command) names the owner in the refusal message. The file is
    removed on release.

    Parameters
    ----------
    target : path-like
        The output path (the lock is ``target + ".lock"`` beside it).

    Raises
    ------
    OutputLockedError
        From :meth:`acquire` when another process holds the lock.

    Examples
    --------
    >>> with OutputLock("out.ome.zarr"):  # doctest: +SKIP
    ...     pass
    """

    def __init__(self, target: str | os.PathLike) -> None:
        target = Path(target)
        self.target = target
        self.path = target.with_name(target.name + ".lock")
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _owner_text(self) -> str:
        try:
            info = json.loads(self.path.read_text())
            return (f"process {info.get('pid')} on {info.get('host')} since "
                    f"{info.get('started')} ({info.get('command', '')})")
        except (OSError, ValueError, AttributeError):
            return "another process"

    def acquire(self) -> OutputLock:
        import fcntl

        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._check_ours()
        for _ in range(10):
            try:  # never through a link: the lock is truncated, written and removed
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            except OSError as exc:
                if exc.errno == errno.ELOOP:  # a link made since _check_ours looked
                    raise self._not_ours() from None
                raise
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise OutputLockedError(
                        f"{self.target} is being written by {self._owner_text()}; wait for "
                        "it to finish or stop it") from None
                raise
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the previous owner removed the file meanwhile: retry
                os.close(fd)
                continue
            if not _is_lock_record(os.pread(fd, _MAX_LOCK_BYTES + 1, 0)):  # replaced since
                os.close(fd)  # _check_ours looked
                raise self._not_ours()
            info = {"pid": os.getpid(), "host": socket.gethostname(), "started": _now_iso(),
                    "command": _command_line()}
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(info).encode())
            os.fsync(fd)
            self._fd = fd
            return self
        raise OutputLockedError(f"could not lock {self.target}: the lock file keeps changing")

    def _check_ours(self) -> None:
        """Refuse a ``PATH.lock`` that is not a lock file of ours: the lock is opened for
        writing (truncated and rewritten) and removed on release, so a file of the user's
        that happens to have the name (or a folder, or a link to another file) would be
        lost. Ours is a regular file holding our owner record, or empty (a process killed
        between creating and writing it)."""
        path = self.path
        if not (path.exists() or path.is_symlink()):
            return
        ours = False
        if path.is_file() and not path.is_symlink():
            try:
                with path.open("rb") as fh:
                    ours = _is_lock_record(fh.read(_MAX_LOCK_BYTES + 1))
            except OSError:
                ours = False
        if not ours:
            raise self._not_ours()

    def _not_ours(self) -> OutputError:
        """The refusal of a ``PATH.lock`` that is not a lock file of ours."""
        return OutputError(
            f"{self.path} exists and was not written by napari-srmat (the lock of the output "
            f"{self.target.name}); it will not be touched: move it away or choose another "
            "output")

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._fd = None

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def __del__(self) -> None:  # pragma: no cover - best effort
        self.release()


def lock_run_folder(held: contextlib.ExitStack, out: str | os.PathLike) -> OutputLock:
    """The lock of a run folder ``out`` (``OUT.lock``: a training run's), released when
    ``held`` closes. Taken at once when the folder's parent exists (a second run into the
    folder is refused before its data load, and nothing is made for a run that fails on
    its inputs); else by the caller's ``acquire()`` once the folder is made (a second
    ``acquire()`` does nothing). An ``out`` that is a symbolic link locks the folder it
    points to (``run`` for ``runlink -> run``): one lock per folder, whatever its name.

    Raises
    ------
    OutputLockedError
        Another run holds it.
    """
    lock = OutputLock(Path(out).resolve() if Path(out).is_symlink() else out)
    held.callback(lock.release)
    if Path(out).parent.is_dir():
        lock.acquire()
    return lock


def holding(body: Any, *args: Any) -> Any:
    """Run job generator ``body(*args, held)`` (its events and result) with an
    ``ExitStack`` ``held`` that closes when the job ends, however it ends (the run
    folder's lock, :func:`lock_run_folder`)."""
    with contextlib.ExitStack() as held:
        return (yield from body(*args, held))


# --------------------------------------------------------------------------- figures


def save_figure_png(fig: Any, path: str | os.PathLike, *, kind: str,
                    overwrite: bool = False) -> Path:
    """Write a matplotlib figure as PNG, atomically, marked as napari-srmat's.

    The PNG's text chunks say who wrote it (``Software`` = :data:`CREATOR`) and what it
    is (``Title`` = ``kind``), so that :func:`is_our_figure` can tell it from a file
    napari-srmat did not write. The check is made here, just before writing: an
    existing file is replaced only with ``overwrite`` and only when it is one of our
    figures or lies in a folder output of ours (marker file).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure (with a canvas).
    path : path-like
        Output file; its folder is created.
    kind : str
        What the figure is, e.g. ``"PR and ROC curves"``.
    overwrite : bool
        Whether an existing figure of ours may be replaced.

    Returns
    -------
    Path

    Raises
    ------
    OutputExistsError
        ``path`` exists and may not be replaced.
    """
    from ._atomic import atomic_path

    out = check_output_file(path, overwrite=overwrite,
                            ours=lambda p: is_our_figure(p) or is_ours(p.parent))
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": CREATOR, "Title": kind})
    return out


def check_figure_file(path: str | os.PathLike, *, kind: str,
                      inputs: Iterable[str | os.PathLike | None] = (),
                      overwrite: bool = False) -> Path:
    """Check a figure output a user names (``--plot``) before a long job: a ``.png``
    file that is no input and, if it exists, a figure of this ``kind`` that napari-srmat
    wrote, replaced only with ``overwrite`` (:func:`check_output_file`).

    Raises
    ------
    OutputError
        When the figure may not be written there.
    """
    return check_output_file(path, inputs=inputs, overwrite=overwrite,
                             ours=lambda p: is_our_figure(p, kind), example="figure.png",
                             suffixes=((".png",), "PNG"))


def is_our_figure(path: str | os.PathLike, kind: str | None = None) -> bool:
    """Whether ``path`` is a PNG written by :func:`save_figure_png` (of ``kind``, if given)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            info = im.info if im.format == "PNG" else {}
    except (OSError, ValueError, Image.DecompressionBombError):
        return False
    return info.get("Software") == CREATOR and (kind is None or info.get("Title") == kind)

