"""Model checkpoints as ``model.safetensors`` plus ``config.json``.

Pickle-based checkpoints (``.pt``, ``.pth``, ``.ckpt``, ``.pkl``, ``.bin``) are refused:
loading a pickle from an untrusted path can execute arbitrary code.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ._atomic import (
    STAGING_DIRECTORY,
    atomic_directory,
    atomic_path,
    atomic_write_text,
    swapped_out_copies,
)
from .errors import Option, not_found_message, os_errors_named

__all__ = [
    "CheckpointError",
    "save_checkpoint",
    "check_replaceable_checkpoint",
    "checkpoint_directory",
    "is_checkpoint_folder",
    "is_checkpoint_copy",
    "remove_interrupted_checkpoint_writes",
    "load_checkpoint",
    "read_checkpoint_config",
    "weights_shapes",
    "load_checked_weights",
    "write_safetensors",
    "resolve_checkpoint_dir",
    "is_diffusers_pipeline_dir",
    "diffusers_pipeline_use",
    "DIFFUSERS_INDEX_NAME",
    "MODEL_KINDS",
    "state_dict_digest",
    "KeptByWeights",
    "WeightsChangedError",
    "network_digest",
    "WEIGHTS_NAME",
    "CONFIG_NAME",
    "CHECKPOINT_CONTROL",
    "CHECKPOINT",
    "CHECKPOINT_FILES",
    "TRAINING_STATE_FILES",
    "EMA_WEIGHTS_NAME",
    "OPTIMIZER_STATE_NAME",
    "TRAINING_STATE_NAME",
    "json_kind",
]

#: The widgets' field of a model's checkpoint folder, as labelled (Super-resolution,
#: Boundaries).
CHECKPOINT_CONTROL = "Checkpoint"
#: How a caller gives a model's checkpoint folder, as a message names it
#: (:func:`napari_srmat.errors.worded_error`).
CHECKPOINT = Option("checkpoint=PATH", "--checkpoint PATH",
                    f"choose a folder in '{CHECKPOINT_CONTROL}'")
WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
PICKLE_SUFFIXES = {".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin"}


#: The file that makes a folder a diffusers pipeline (``save_pretrained``'s output).
DIFFUSERS_INDEX_NAME = "model_index.json"
#: What a checkpoint is loaded for (:func:`resolve_checkpoint_dir`): a super-resolution
#: model or a boundary model; only the first can be a diffusers pipeline.
MODEL_KINDS = ("sr", "boundary")


class CheckpointError(ValueError):
    """A checkpoint is missing, unsafe or does not match the model."""


def is_diffusers_pipeline_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a diffusers pipeline folder: a folder holding
    :data:`DIFFUSERS_INDEX_NAME`. The one rule of it (``--checkpoint``, ``srmat info``,
    the ``diffusers-local`` model).

    Parameters
    ----------
    path : path-like
        A folder, or anything else (False).

    Returns
    -------
    bool

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from napari_srmat.checkpoint import is_diffusers_pipeline_dir
    >>> pipe = Path(tempfile.mkdtemp())
    >>> is_diffusers_pipeline_dir(pipe)
    False
    >>> _ = (pipe / "model_index.json").write_text("{}")
    >>> is_diffusers_pipeline_dir(pipe)
    True
    """
    path = Path(path)
    return path.is_dir() and (path / DIFFUSERS_INDEX_NAME).is_file()


def diffusers_pipeline_use(path: str | os.PathLike) -> str:
    """How a diffusers pipeline folder ``path`` is used, as a message advises it: the
    ``diffusers-local`` super-resolution model and the command that runs it.

    Parameters
    ----------
    path : path-like
        The pipeline folder, as the user gave it.

    Returns
    -------
    str
        ``"load it as model diffusers-local (srmat sr run IMAGE OUT --model
        diffusers-local --checkpoint PATH)"``.
    """
    return (f"load it as model diffusers-local (srmat sr run IMAGE OUT --model "
            f"diffusers-local --checkpoint {path})")


def resolve_checkpoint_dir(path: str | os.PathLike, *, model_kind: str = "sr") -> Path:
    """Return the checkpoint directory for ``path`` (a directory or its safetensors file).

    Parameters
    ----------
    path : path-like
        A checkpoint folder or its ``model.safetensors``.
    model_kind : {"sr", "boundary"}
        What the checkpoint is loaded for (:data:`MODEL_KINDS`): a diffusers pipeline
        folder given is told to load as the ``diffusers-local`` model for an SR model,
        and as an SR pipeline, not a boundary model, for a boundary model.

    Raises
    ------
    CheckpointError
        If the path does not exist, is a pickle file, a ``.safetensors`` file of another
        name than ``model.safetensors``, or lacks the two files.
    """
    if model_kind not in MODEL_KINDS:
        raise ValueError(f"model_kind must be one of {MODEL_KINDS}, got {model_kind!r}")
    path = Path(path)
    if not path.exists():  # first: a missing x.ckpt is not a pickle to convert
        raise CheckpointError(not_found_message(path, "checkpoint"))
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise CheckpointError(
            f"refusing to load {path}: pickle checkpoints can run arbitrary code; "
            "convert it to safetensors (model.safetensors + config.json)"
        )
    if path.is_file():
        if path.suffix != ".safetensors":
            raise CheckpointError(f"{path} is not a .safetensors file or checkpoint directory")
        if path.name != WEIGHTS_NAME:
            # its folder's model.safetensors was loaded instead, without a word
            raise CheckpointError(
                f"{path}: a checkpoint's weights are read from {WEIGHTS_NAME} beside its "
                f"{CONFIG_NAME}, not from {path.name}; give the checkpoint folder (a folder "
                f"of its own holding {path.name} renamed to {WEIGHTS_NAME} and its config)")
        path = path.parent
    for name in (WEIGHTS_NAME, CONFIG_NAME):
        if not (path / name).is_file():
            # the --out folder of a training run holds its checkpoints in best/ and last/
            inside = [str(path / d) for d in ("best", "last")
                      if all((path / d / n).is_file() for n in (WEIGHTS_NAME, CONFIG_NAME))]
            pickles = sorted(p.name for p in path.iterdir()
                             if p.suffix.lower() in PICKLE_SUFFIXES and p.is_file())
            hint = (f"; it is a training folder: use {' or '.join(inside)}" if inside
                    else "; it is a diffusers SR pipeline folder, not a boundary model"
                    if is_diffusers_pipeline_dir(path) and model_kind == "boundary"
                    else f"; it is a diffusers pipeline folder: {diffusers_pipeline_use(path)}"
                    if is_diffusers_pipeline_dir(path)
                    else f": {pickles[0]} is a pickle, not loaded (pickles can run arbitrary "
                    f"code); convert it to {WEIGHTS_NAME}" if pickles and name == WEIGHTS_NAME
                    else "")
            raise CheckpointError(f"checkpoint {path} has no {name}{hint}")
    return path


def write_safetensors(path: str | os.PathLike, tensors: dict[str, Any],
                      metadata: dict[str, str] | None = None) -> Path:
    """Write tensors as a safetensors file with the usual file permissions.

    ``safetensors.torch.save_file`` creates its files private (mode 0600), which
    keeps colleagues on a shared server from loading a checkpoint; this writes the
    same bytes through a normal file (0666 minus the umask). Not atomic by itself:
    call it inside :func:`napari_srmat._atomic.atomic_directory`.

    Parameters
    ----------
    path : path-like
        Destination file.
    tensors : dict of str to torch.Tensor
        Contiguous CPU tensors.
    metadata : dict of str to str, optional
        safetensors header metadata.

    Returns
    -------
    Path
        ``path``.
    """
    from safetensors.torch import save

    path = Path(path)
    path.write_bytes(save(tensors, metadata=metadata))
    return path


#: Files a file browser writes into a folder it shows (macOS Finder, Windows Explorer):
#: a checkpoint folder holding them is still a checkpoint folder (a training run whose
#: ``best/`` was looked at in the Finder would otherwise stop at its next best epoch).
FOLDER_METADATA_FILES = (".DS_Store", "Thumbs.db", "desktop.ini")


#: A checkpoint's own files: deleted last from an earlier checkpoint replaced
#: (``atomic_directory(last=...)``, :func:`checkpoint_directory`), after its state and
#: file-browser files (what is left of one whose deletion a Ctrl-C stopped is a checkpoint
#: folder all the same, :func:`is_checkpoint_folder`, and removed by the next write).
CHECKPOINT_FILES = (WEIGHTS_NAME, CONFIG_NAME)

#: A boundary training run's resumable state beside its checkpoint's in ``RUN/last``
#: (:mod:`napari_srmat.edges.train`): the EMA weights, the optimiser's state and the JSON
#: record of where the run stands (its ``RESUME_RECORD``'s file). Named here only: the
#: training writes and reads them by these names, and a checkpoint write recognises them
#: (:data:`TRAINING_STATE_FILES`).
EMA_WEIGHTS_NAME = "ema.safetensors"
OPTIMIZER_STATE_NAME = "optimizer.safetensors"
TRAINING_STATE_NAME = "training_state.json"
#: Files of a training run's resumable state beside its checkpoint's (``RUN/last``).
TRAINING_STATE_FILES = (EMA_WEIGHTS_NAME, OPTIMIZER_STATE_NAME, TRAINING_STATE_NAME)


#: What a checkpoint staging folder holds (an edges ``last`` also a ``ckpt`` folder,
#: staged itself, whose files it moves up)
_STAGING_ENTRIES = (WEIGHTS_NAME, CONFIG_NAME, *TRAINING_STATE_FILES, *FOLDER_METADATA_FILES,
                    "ckpt")


def _only_checkpoint_files(folder: Path) -> bool:
    """Whether ``folder`` (a staging folder) holds only what a checkpoint write puts
    there (:data:`_STAGING_ENTRIES`, nested staging folders, temporary files)."""
    from ._atomic import is_temp_file

    with os.scandir(folder) as entries:  # closed when the look stops early
        for entry in entries:
            if entry.is_symlink():
                return False
            if entry.is_dir():
                if not ((entry.name == "ckpt" or STAGING_DIRECTORY.match(entry.name))
                        and _only_checkpoint_files(Path(entry.path))):
                    return False
            elif entry.name not in _STAGING_ENTRIES and not is_temp_file(entry.name):
                return False
    return True


def remove_interrupted_checkpoint_writes(folder: str | os.PathLike,
                                         names: tuple[str, ...]) -> list[Path]:
    """Delete the staging folders that checkpoint writes killed part-way (kill -9, a
    power cut) left in a training run's ``folder``: hidden ``.NAME.<8 hex>.partial``
    folders, for a ``NAME`` matching one of ``names`` (glob patterns, e.g. ``"last"``,
    ``"epoch-*"``), that hold only a checkpoint's files.

    Only for a run that holds the folder's lock (:class:`napari_srmat.outputs.OutputLock`
    on the run folder): no other run is writing them then. Anything else is left alone
    (a symbolic link, another name, a folder with a file a checkpoint write does not
    make), and so is the staging of a replacement interrupted between its two renames
    (``NAME`` missing, its previous version aside as ``.NAME.<8 hex>.old``,
    :func:`napari_srmat._atomic.swapped_out_copies`: the two are all that is left of it).

    Returns
    -------
    list of Path
        The folders deleted.
    """
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for entry in sorted(folder.iterdir()):
        m = STAGING_DIRECTORY.match(entry.name)
        if (m is None or entry.is_symlink() or not entry.is_dir()
                or not any(fnmatch.fnmatchcase(m["of"], n) for n in names)):
            continue
        target = folder / m["of"]
        if not target.exists() and swapped_out_copies(target):
            continue
        if _only_checkpoint_files(entry):
            shutil.rmtree(entry)
            removed.append(entry)
    return removed


def _not_checkpoint_entries(folder: Path, state_files: tuple[str, ...] = ()) -> list[str]:
    """The entries of ``folder`` that are not a checkpoint's files (sorted names)."""
    # by name and kind: a subfolder called config.json is not a checkpoint's file
    return sorted(e.name for e in folder.iterdir() if not e.is_file()
                  or e.name not in (WEIGHTS_NAME, CONFIG_NAME, *FOLDER_METADATA_FILES,
                                    *state_files))


def _not_replaceable(path: Path, state_files: tuple[str, ...]) -> str | None:
    """Why a checkpoint write may not replace ``path`` (a one-line refusal), or None
    when it may: ``path`` missing, or a folder (not a link) holding nothing but a
    checkpoint's files. The one rule of :func:`is_checkpoint_folder` and
    :func:`check_replaceable_checkpoint`."""
    if path.is_symlink():  # refused here, not once the export (and calibration) ran
        return (f"{path} is a symbolic link; it will not be replaced: choose another "
                "folder")
    if not path.exists():
        return None
    if not path.is_dir():
        return (f"{path} is a file, not a checkpoint folder; it will not be replaced: "
                "choose another folder")
    foreign = _not_checkpoint_entries(path, state_files)
    if foreign:
        return (f"{path} is not a checkpoint folder (it holds {', '.join(foreign[:3])}"
                f"{', ...' if len(foreign) > 3 else ''}); it will not be replaced: choose "
                "another folder")
    return None


def is_checkpoint_folder(path: str | os.PathLike, *,
                         state_files: tuple[str, ...] = ()) -> bool:
    """Whether ``path`` is a checkpoint folder of napari-srmat's writes: a folder (not a
    link) holding nothing but :data:`WEIGHTS_NAME`, :data:`CONFIG_NAME`, ``state_files``
    and file browsers' :data:`FOLDER_METADATA_FILES`, all or some of them, or none.

    The one rule of what a checkpoint write may replace
    (:func:`check_replaceable_checkpoint`); its copy left aside as ``.NAME.<8 hex>.old``
    is recognised by the narrower :func:`is_checkpoint_copy`. Not a test of a checkpoint
    to load: :func:`resolve_checkpoint_dir`.
    """
    path = Path(path)
    return (path.is_dir() and not path.is_symlink()
            and _not_replaceable(path, tuple(state_files)) is None)


def is_checkpoint_copy(path: str | os.PathLike, *, state_files: tuple[str, ...] = (),
                       whole: bool = False) -> bool:
    """Whether ``path``, a folder left aside as ``.NAME.<8 hex>.old`` by the replacement
    of a checkpoint folder ``NAME`` (``atomic_directory``'s ``ours`` and ``whole``), is
    provably an earlier checkpoint: a checkpoint folder (:func:`is_checkpoint_folder`)
    holding at least one of :data:`CHECKPOINT_FILES` (deleted last, so what a Ctrl-C
    stopping the copy's deletion leaves still holds the config), removed once ``NAME``
    is there; with ``whole``, holding all of them and ``state_files``: the only copy put
    back where ``NAME`` is missing (a kill between the swap's renames).

    An empty folder (or one with only a file browser's or state files) proves nothing:
    it is neither put back nor removed, left as it is (it holds nothing to lose). Until
    2026-12-05 any checkpoint folder, an empty one too, was put back and removed: an
    empty ``.ck.<8 hex>.old`` beside a missing ``ck`` became ``ck`` and the save was
    refused ('already exists') at every rerun; a config alone put back as a training
    run's ``last`` failed its resume ('no model.safetensors').

    Examples
    --------
    >>> import tempfile
    >>> copy = Path(tempfile.mkdtemp())
    >>> is_checkpoint_copy(copy), is_checkpoint_folder(copy)
    (False, True)
    >>> _ = (copy / CONFIG_NAME).write_text("{}")
    >>> is_checkpoint_copy(copy), is_checkpoint_copy(copy, whole=True)
    (True, False)
    >>> _ = (copy / WEIGHTS_NAME).write_bytes(b"")
    >>> is_checkpoint_copy(copy, whole=True)
    True
    >>> shutil.rmtree(copy)
    """
    path = Path(path)
    state_files = tuple(state_files)
    if not is_checkpoint_folder(path, state_files=state_files):
        return False
    held = [(path / name).is_file() for name in CHECKPOINT_FILES]
    if whole:
        return all(held) and all((path / name).is_file() for name in state_files)
    return any(held)


def check_replaceable_checkpoint(path: str | os.PathLike, *,
                                 state_files: tuple[str, ...] = ()) -> None:
    """Refuse to replace ``path`` with a checkpoint unless it is missing or a checkpoint
    folder (:func:`is_checkpoint_folder`, the same rule): a folder holding only
    :data:`WEIGHTS_NAME` and :data:`CONFIG_NAME` (or some or none of them; file
    browsers' :data:`FOLDER_METADATA_FILES` aside), and ``state_files`` where a training
    run's resumable state is kept beside them (:data:`TRAINING_STATE_FILES`).

    Replacing a folder deletes it whole: ``python -m napari_srmat.edges.export SRC DST``
    into a folder of the user's (or a training run's folder) deleted everything in it.

    Parameters
    ----------
    path : path-like
        Where a checkpoint is to be written.
    state_files : tuple of str
        Other file names the folder may hold.

    Raises
    ------
    napari_srmat.outputs.OutputExistsError
        ``path`` is a file, a symbolic link, or a folder that holds anything else
        (a subfolder too, whatever its name).
    """
    from .outputs import OutputExistsError

    refusal = _not_replaceable(Path(path), tuple(state_files))
    if refusal is not None:
        raise OutputExistsError(refusal)


@contextlib.contextmanager
def checkpoint_directory(path: str | os.PathLike, *, overwrite: bool = True,
                         state_files: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield a staging folder that becomes the checkpoint folder ``path`` when the block
    succeeds: the one write of a checkpoint folder (:func:`save_checkpoint`, ``python -m
    napari_srmat.edges.export SRC DST``).

    ``path`` is checked first (:func:`napari_srmat.outputs.check_folder_name`, and
    :func:`check_replaceable_checkpoint` before any overwrite advice, by
    :func:`napari_srmat.outputs.check_existing_output`), then written by
    :func:`napari_srmat._atomic.atomic_directory` with its copies left aside recognised by
    :func:`is_checkpoint_copy` (``ours``; ``whole``: what is put back) and
    :data:`CHECKPOINT_FILES` deleted last from the earlier folder.

    Parameters
    ----------
    path : path-like
        The checkpoint folder.
    overwrite : bool
        Replace an existing checkpoint folder (anything else is refused).
    state_files : tuple of str
        Other file names the folder may hold (:data:`TRAINING_STATE_FILES`).

    Yields
    ------
    Path
        The staging folder to write the checkpoint's files into.
    """
    from .outputs import check_folder_name

    state_files = tuple(state_files)
    check_folder_name(path)
    with atomic_directory(path, overwrite=overwrite,
                          replaceable=functools.partial(check_replaceable_checkpoint,
                                                        state_files=state_files),
                          ours=functools.partial(is_checkpoint_copy, state_files=state_files),
                          whole=functools.partial(is_checkpoint_copy, state_files=state_files,
                                                  whole=True),
                          last=CHECKPOINT_FILES) as staging, os_errors_named(path, staging):
        yield staging  # a disk full names PATH, not a staging file or nothing


def save_checkpoint(
    path: str | os.PathLike,
    state_dict: dict[str, Any],
    config: dict[str, Any],
    overwrite: bool = True,
) -> Path:
    """Save tensors and a JSON config atomically into directory ``path``.

    Parameters
    ----------
    path : path-like
        Checkpoint directory to create.
    state_dict : dict of str to torch.Tensor
        Model weights (made contiguous and detached here).
    config : dict
        JSON-serialisable model configuration; must include ``"model"`` (the
        registry name) so the loader can rebuild the network.
    overwrite : bool
        Replace an existing checkpoint (a folder holding nothing but a checkpoint's
        files, :func:`check_replaceable_checkpoint`; any other folder or file is
        refused).

    Returns
    -------
    Path
        The checkpoint directory.

    Raises
    ------
    CheckpointError
        ``config`` names no model, or ``path`` holds something else (with ``overwrite``).
    napari_srmat.outputs.OutputError
        ``path`` is named like an image file (``model.png``: the rule of every output
        folder, :func:`napari_srmat.outputs.check_folder_name`).
    """
    if "model" not in config:
        raise CheckpointError("config must name the model type under 'model'")
    tensors = {k: v.detach().contiguous().cpu() for k, v in state_dict.items()}
    with checkpoint_directory(path, overwrite=overwrite) as tmp:
        write_safetensors(tmp / WEIGHTS_NAME, tensors, metadata={"format": "pt"})
        (tmp / CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=True))
    return Path(path)


def read_checkpoint_config(path: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    """Resolve a checkpoint and read its ``config.json``, which must be a JSON object.

    Returns
    -------
    (Path, dict)
        The checkpoint directory and its config.

    Raises
    ------
    CheckpointError
        Missing files, pickle checkpoints, invalid JSON or JSON that is not an object.
    """
    ckpt = resolve_checkpoint_dir(path)
    cfg_path = ckpt / CONFIG_NAME
    try:
        config = json.loads(cfg_path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{cfg_path} is not valid JSON: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"cannot read {cfg_path}: {exc}") from exc
    if not isinstance(config, dict):
        raise CheckpointError(
            f"{cfg_path} must hold a JSON object, got a JSON {json_kind(config)}"
        )
    return ckpt, config


def json_kind(obj: Any) -> str:
    """What ``obj`` (read from JSON) is, as JSON names it: the one wording of a refused
    JSON value's kind (a checkpoint's config, a training state's entries).

    Parameters
    ----------
    obj : Any
        A value ``json.loads`` returned, or part of one.

    Returns
    -------
    str
        ``"object"``, ``"array"``, ``"string"``, ``"boolean"``, ``"number"`` or
        ``"null"``; another type's name.

    Examples
    --------
    >>> json_kind([1]), json_kind(None), json_kind(True)
    ('array', 'null', 'boolean')
    """
    if obj is None:
        return "null"
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
            float: "number"}.get(type(obj), type(obj).__name__)


def load_checkpoint(path: str | os.PathLike, device: str = "cpu") -> tuple[dict, dict]:
    """Load ``(state_dict, config)`` from a checkpoint directory or its safetensors file.

    This reads the weights without checking them against an architecture; loaders
    that build a network from the config use :func:`load_checked_weights`.

    Raises
    ------
    CheckpointError
        Missing files, pickle checkpoints, or an unreadable config (not a JSON object).
    """
    ckpt, config = read_checkpoint_config(path)
    return _load_weights(ckpt, device), config


def _load_weights(ckpt: Path, device: str = "cpu") -> dict:
    from safetensors.torch import load_file

    try:
        return load_file(str(ckpt / WEIGHTS_NAME), device=device)
    except Exception as exc:  # safetensors raises several types
        raise CheckpointError(f"cannot read {ckpt / WEIGHTS_NAME}: {exc}") from exc


def weights_shapes(ckpt: str | os.PathLike) -> dict[str, tuple[int, ...]]:
    """Names and shapes of the tensors in ``ckpt/model.safetensors``, from its header only.

    Nothing but the header is read, whatever the size of the file.
    """
    from safetensors import safe_open

    path = Path(ckpt) / WEIGHTS_NAME
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: tuple(int(n) for n in f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as exc:  # safetensors raises several types
        raise CheckpointError(f"cannot read {path}: {exc}") from exc


class _TooManyTensors(BaseException):
    """Raised from inside a meta-device build that registers more tensors than allowed.

    A ``BaseException`` so that no ``except Exception`` in model code swallows it.
    """


def _meta_state_shapes(build: Callable[[], Any], limit: int) -> dict[str, tuple[int, ...]]:
    """Build ``build()`` on the meta device; names and shapes of its state dict.

    Every parameter/buffer registration of this thread is counted; past ``limit`` the
    build is aborted, so a config asking for 10000 blocks costs no more than the
    weights file it comes with.
    """
    import torch
    from torch.nn.modules.module import (
        register_module_buffer_registration_hook,
        register_module_parameter_registration_hook,
    )

    me = threading.get_ident()
    count = 0

    def hook(module, name, tensor):
        nonlocal count
        if threading.get_ident() == me:
            count += 1
            if count > limit:
                raise _TooManyTensors(count)

    handles = [register_module_parameter_registration_hook(hook),
               register_module_buffer_registration_hook(hook)]
    try:
        with torch.device("meta"):
            net = build()
        return {k: tuple(v.shape) for k, v in net.state_dict().items()}
    finally:
        for h in handles:
            h.remove()


def load_checked_weights(ckpt: str | os.PathLike, build: Callable[[], Any], *,
                         describe: str = "", device: str = "cpu") -> dict:
    """Check the architecture a config describes against the weights, then load them.

    The one rule every loader that builds a network from a checkpoint config follows:
    the network is first built on the ``meta`` device (no memory, and aborted as soon
    as it registers far more tensors than the file holds), its tensor names and
    shapes are compared with the safetensors header, and only then are the weights
    read. So a config asking for an enormous architecture (``n_feats: 100000``,
    ``n_blocks: 10000``, ...) is refused before anything large is allocated.

    Parameters
    ----------
    ckpt : path-like
        Checkpoint directory (see :func:`read_checkpoint_config`).
    build : callable
        ``build()`` returns the ``torch.nn.Module`` the config describes; it is
        called inside ``with torch.device("meta")`` and must create its tensors on the
        current default device. Its ``ValueError``/``TypeError``/``RuntimeError``
        (bad config fields) become :class:`CheckpointError`.
    describe : str
        The config's architecture fields, for the messages.
    device : str
        Device of the returned tensors.

    Returns
    -------
    dict of str to torch.Tensor
        The weights (dtype as stored).

    Raises
    ------
    CheckpointError
        Invalid config fields, or tensors whose names/shapes do not match the file.
    """
    ckpt = Path(ckpt)
    where = f" ({describe})" if describe else ""
    stored = weights_shapes(ckpt)
    limit = 10 * len(stored) + 1000  # generous: only bounds the time of a nonsense build
    try:
        expected = _meta_state_shapes(build, limit)
    except _TooManyTensors:
        raise CheckpointError(
            f"checkpoint {ckpt}: {CONFIG_NAME} describes a network with more than {limit} "
            f"tensors but {WEIGHTS_NAME} holds {len(stored)}{where}"
        ) from None
    except (ValueError, TypeError, RuntimeError, KeyError) as exc:
        raise CheckpointError(f"checkpoint {ckpt}: {exc}{where}") from exc
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    wrong = [f"{k}: checkpoint {stored[k]} vs config {v}"
             for k, v in expected.items() if k in stored and stored[k] != v]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing tensor(s) (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected tensor(s) (e.g. {unexpected[0]})")
        if wrong:
            parts.append(f"{len(wrong)} shape mismatch(es) (e.g. {wrong[0]})")
        raise CheckpointError(
            f"checkpoint {ckpt} does not match the architecture its config describes"
            f"{where}: " + "; ".join(parts)
        )
    return _load_weights(ckpt, device)


def state_dict_digest(state: dict) -> str:
    """SHA-256 (32 hex characters) of a ``state_dict``'s names and float32 values.

    The identity of a model's weights as loaded (shipped, from a checkpoint or
    freshly initialised), recorded in every output the model makes.
    """
    import hashlib

    h = hashlib.sha256()
    for key, value in sorted(state.items()):
        h.update(key.encode())
        h.update(value.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:32]


#: Held while a :class:`KeptByWeights` value is checked and made, so threads sharing a
#: model make it once; the key is read before it (a change meanwhile makes it again on
#: the next call). One for all models: each value is made once per key.
_KEPT_LOCK = threading.Lock()

#: Integer type a tensor's bits are summed as, by element size in bytes
#: (:func:`_weights_fingerprint`; others as bytes).
_BITS_DTYPES = {8: "int64", 4: "int32", 2: "int16", 1: "uint8"}


def _weights_key(net) -> tuple:
    """What changes when ``net``'s weights (parameters and buffers) do, in almost every
    way they are changed: the network's identity, each weight's storage and torch
    version counter (a weight replaced, moved or cast; an update in place) and
    :func:`_weights_fingerprint` (the writes no counter sees: in place through
    ``.data``, a numpy view). The rule of when the boundary model's inference copy
    (:class:`KeptByWeights`) is made again (CPU, 1 thread: 2 ms for the shipped
    boundary weights, 0.1 s for an efficientnet-b7 UAED).

    Not an identity: a change through ``.data`` or a numpy view that keeps each
    tensor's bit sum (two elements swapped, channels permuted in place) keeps the key.
    What names outputs is :func:`network_digest`, computed from the weights when asked.

    Parameters
    ----------
    net : torch.nn.Module

    Returns
    -------
    tuple
        Equal for equal weights states of the same network.
    """
    tensors = list(net.state_dict(keep_vars=True).values())
    return (id(net), tuple((t.data_ptr(), t._version) for t in tensors),
            _weights_fingerprint(tensors))


def _weights_fingerprint(tensors: list) -> tuple[int, ...]:
    """Each tensor's bits summed as integers (exact, wrapping), computed where the
    tensors are and read back at once: any one element changed changes its sum,
    whoever wrote it (torch's version counter misses writes through ``.data`` or a
    numpy view). Not a hash: changes that cancel (two elements swapped) are not seen.

    Parameters
    ----------
    tensors : list of torch.Tensor

    Returns
    -------
    tuple of int
        One sum per tensor.
    """
    import torch

    sums = []
    with torch.no_grad():
        for t in tensors:
            flat = t.detach().contiguous().reshape(-1)
            bits = getattr(torch, _BITS_DTYPES.get(flat.element_size(), "uint8"))
            sums.append(flat.view(bits).sum(dtype=torch.int64))
        if not sums:
            return ()
        device = sums[0].device
        return tuple(torch.stack([s.to(device) for s in sums]).tolist())


class WeightsChangedError(RuntimeError, ValueError):
    """A network's weights changed between the digest that names a job's output and the
    inference copy the job predicts with (:meth:`KeptByWeights.get`'s ``since``).

    A user error (:func:`~napari_srmat.errors.is_user_error`, a ``ValueError`` as
    :class:`CheckpointError`): its message tells the user what to do (run the job again
    once the weights no longer change), one line in the CLI and the widgets, not an
    internal error's traceback. Still a ``RuntimeError`` for callers catching it so."""


class KeptByWeights:
    """A value made from a network's weights as they are now, kept until
    :func:`_weights_key` changes: the boundary model's inference copy (batch norms
    folded), which costs more to make than the key to read on each predict call.

    Blind spot: a change through ``.data`` or a numpy view that keeps each tensor's bit
    sum (two elements swapped, channels permuted in place) keeps the key, so the value
    made for the weights before is served. Never use it for what names or resumes
    outputs (:func:`network_digest` is computed each time). Threads sharing one holder
    make it once.
    """

    def __init__(self) -> None:
        self._kept: tuple[tuple, Any] | None = None

    @staticmethod
    def token(net) -> tuple:
        """What :meth:`get`'s ``since`` compares with: ``net``'s :func:`_weights_key`
        now, read just before the digest that names a job's output is computed."""
        return _weights_key(net)

    def get(self, net, make: Callable[[], Any], extra: Any = None,
            since: tuple | None = None) -> Any:
        """The value ``make()`` made for ``net``'s weights as they are now (and
        ``extra``, e.g. the network's training mode), made again only when
        :func:`_weights_key` changed.

        Parameters
        ----------
        net : torch.nn.Module
            The network whose weights the value is made from.
        make : callable
            Makes the value (called under the module's lock).
        extra : hashable, optional
            Anything else the value depends on.
        since : tuple, optional
            :meth:`token` read when the weights were named (a job's digest): the
            weights must not have changed since (within the key's blind spot).

        Returns
        -------
        object
            The kept value.

        Raises
        ------
        WeightsChangedError
            The key differs from ``since``.
        """
        weights = _weights_key(net)
        if since is not None and weights != since:
            raise WeightsChangedError(
                "the network's weights changed after the digest naming this job's output "
                "was taken, before its tiles were predicted (a training step or another "
                "thread changed them): run the job again once they no longer change")
        key = (extra, weights)
        with _KEPT_LOCK:  # threads sharing the holder make it once
            if self._kept is None or self._kept[0] != key:
                self._kept = (key, make())
            return self._kept[1]


def network_digest(net) -> str:
    """:func:`state_dict_digest` of ``net.state_dict()``, computed now from the weights
    (never kept; the boundary model's inference copy is made again when the digest its
    ``weights_digest`` names changes, so a job that names its outputs by the digest
    taken at its start predicts with those weights; a change during the job that keeps
    each tensor's bit sum is not seen, see :class:`KeptByWeights`; CPU, 1 thread:
    3-9 ms for the shipped boundary weights, 0.4-8 ms for the SR networks, 0.36 s for
    an efficientnet-b7 UAED). The one rule of a network's weights
    identity: the boundary model's and the SR networks' ``weights_digest``.

    Parameters
    ----------
    net : torch.nn.Module

    Returns
    -------
    str
        32 hex characters.
    """
    return state_dict_digest(net.state_dict())


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, default=json_value))


def json_value(o: Any) -> Any:
    """The JSON value of a value ``json`` does not know (its ``default=``): the one rule
    for the project's JSON files (numpy scalars and arrays to Python, paths to strings).

    Raises
    ------
    TypeError
        Anything else (:func:`napari_srmat.outputs.json_ready` writes it as its ``str``).

    Examples
    --------
    >>> import numpy as np
    >>> json.dumps({"n": np.int64(3), "a": np.arange(2), "p": Path("x")}, default=json_value)
    '{"n": 3, "a": [0, 1], "p": "x"}'
    """
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


__all__ += ["write_json", "atomic_path"]
