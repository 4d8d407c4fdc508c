"""Training of the UAED boundary model as a job (see ``napari_srmat.jobs``)."""

from __future__ import annotations

import copy
import functools
import json
import math
import os
import re
import shutil
import time
from collections.abc import Generator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .._atomic import atomic_write_text
from ..checkpoint import (
    CHECKPOINT_FILES,
    CONFIG_NAME,
    EMA_WEIGHTS_NAME,
    OPTIMIZER_STATE_NAME,
    TRAINING_STATE_FILES,
    TRAINING_STATE_NAME,
    WEIGHTS_NAME,
    CheckpointError,
    check_replaceable_checkpoint,
    is_checkpoint_copy,
    json_kind,
    load_checkpoint,
    remove_interrupted_checkpoint_writes,
    save_checkpoint,
)
from ..device import (
    check_finite_weights,
    check_learning_rate,
    diverged_error,
    finite_loss,
    resolve_device,
    set_cpu_threads,
)
from ..errors import Option, check_flag, check_seed, not_found_message, worded_error
from ..estimates import check_in_memory, plan_synthetic_set
from ..io import all_finite, as_bool_mask
from ..jobs import (
    Checkpoint,
    Log,
    Metric,
    Progress,
    ResumeRecord,
    Stopped,
    check_stop,
    keep_at_interrupt,
    run_job,
    told_epoch,
    training_already_complete,
)
from ..outputs import (
    OutputMismatchError,
    array_fingerprint,
    check_no_earlier_run,
    check_output_dir,
    files_fingerprint,
    holding,
    identity_differences,
    input_differences,
    lock_run_folder,
    nothing_to_resume,
    prepare_output_dir,
)
from ..sr.train import (
    EPOCHS_CONTROL,
    check_options,
    setting_words,
)
from .config import CROP_CONTROL, ENCODER_CONTROL, MIN_TRAIN_CROP, BoundaryTrainConfig
from .data import (
    INPUT_NORMS,
    BoundaryDataError,
    BoundarySample,
    check_has_boundaries,
    list_image_mask_pairs,
    load_pairs,
    mask_content_warnings,
    normalize_channels,
    parse_photometric,
    photometric_augment,
    random_crop_augment,
    synthetic_samples,
    to_model_image,
)
from .infer import CONFIG_VERSION, CONFIG_VERSION_KEY, EPOCH_STEPS_KEY
from .loss import uaed_loss
from .model import ENCODER_PRESETS, build_uaed, default_arch_config
from .thresholds import degenerate_threshold_warning

__all__ = ["BoundaryTrainConfig", "train_boundaries_job", "train_boundaries", "TrainResult",
           "RESUME_RECORD"]


@dataclass
class TrainResult:
    """Outcome of a training run."""

    best_checkpoint: str | None
    best_val_ap: float
    threshold: float
    epochs_done: int
    history: list[dict]
    stopped: bool = False
    #: why the best checkpoint's threshold gives no boundary map (told as warnings)
    warnings: list[str] = field(default_factory=list)


def _as_config(config) -> BoundaryTrainConfig:
    if isinstance(config, BoundaryTrainConfig):
        return config
    if isinstance(config, dict):
        check_options("train_boundaries_job", BoundaryTrainConfig, config)
        return BoundaryTrainConfig(**config)
    raise TypeError("config must be a BoundaryTrainConfig or a dict")


def _samples_from_arrays(images, masks, what: str) -> list[BoundarySample]:
    if images is None and masks is None:
        return []
    if images is None or masks is None or len(images) != len(masks):
        raise BoundaryDataError(f"{what}: give as many masks as images")
    out = []
    for i, (im, m) in enumerate(zip(images, masks)):
        img = to_model_image(np.asarray(im))
        if not all_finite(img):
            raise BoundaryDataError(f"{what} image {i} has NaN or infinite pixels")
        mm = as_bool_mask(m, name=f"{what} mask {i}")
        if mm.shape != img.shape[1:]:
            raise BoundaryDataError(f"{what} pair {i}: mask {mm.shape} vs image {img.shape[1:]}")
        out.append(BoundarySample(img, mm, f"{what}-{i}"))
    return out


#: What a synthetic pretraining sample keeps per pixel (a ``BoundarySample``): a float32
#: ``(3, H, W)`` image and a bool mask.
SYNTHETIC_BYTES_PER_PX = 3 * 4 + 1

#: Settings a resumed run may change: how long it runs, where, how fast, how many
#: checkpoints it keeps (``init_checkpoint``: resume takes precedence over it).
RESUME_MAY_CHANGE = ("epochs", "resume", "overwrite", "device", "num_threads", "amp",
                     "top_k", "out", "init_checkpoint")
#: The UAED training's settings a resume refusal names (:func:`_other_settings_refused`),
#: in each caller's words; the others are told by their keyword.
SETTING_WORDS = setting_words({
    "encoder": ("--encoder", ENCODER_CONTROL), "epochs": ("--epochs", EPOCHS_CONTROL),
    "crop": ("--crop", CROP_CONTROL), "steps_per_epoch": ("--steps-per-epoch",),
    "photometric_augment": ("--augment",), "input_norm": ("--input-norm",),
    "pretrain_synthetic": ("--pretrain-synthetic",),
    "pretrain_epochs": ("--pretrain-epochs",)})
#: Entries of the recorded settings that say which data were trained on: compared by
#: :func:`_data_differences` (content and resolved path), not as settings.
DATA_KEYS = ("data_root", "data")


def _split_files(root: Path, split: str) -> list[tuple[Path, Path]]:
    """The image/mask pairs of ``ROOT/SPLIT/{images,masks}``."""
    return list_image_mask_pairs(root / split / "images", root / split / "masks")


def _files_identity(root: Path, pairs: list[tuple[Path, Path]]) -> dict:
    """Identity of a split read from ``root``: its resolved path and a fingerprint of
    its image and mask files (:func:`napari_srmat.outputs.files_fingerprint`)."""
    return files_fingerprint(root, [f for pair in pairs for f in pair])


def _arrays_identity(samples: list[BoundarySample]) -> dict:
    """Identity of a split given as arrays: their number and a hash of their pixels."""
    import hashlib

    h = hashlib.sha256()
    for s in samples:
        h.update(array_fingerprint(s.image).encode())
        h.update(array_fingerprint(s.mask).encode())
    return {"array": f"<{len(samples)} arrays>", "sha256": h.hexdigest()[:32]}


def _training_record(cfg: BoundaryTrainConfig, data: dict) -> dict:
    """The ``training`` entry of the checkpoints: the settings, ``data_root`` resolved
    and the identity of the data (``data``: ``{"train": ..., "val": ...}``)."""
    record = cfg.to_json()
    if cfg.data_root is not None:
        record["data_root"] = str(Path(cfg.data_root).expanduser().resolve())
    record["data"] = data
    return record


def _data_differences(stored: dict, data: dict) -> tuple[list[str], bool]:
    """How the data of this run differ from those of the run recorded in ``stored``
    (the ``training`` entry of its ``last`` checkpoint), and whether that record is an
    older version's, which holds no fingerprint of its data: its ``data_root`` as typed
    is then compared (:func:`napari_srmat.outputs.input_differences`), not the files."""
    recorded = stored.get("data")
    if isinstance(recorded, dict):
        return (input_differences("training data", recorded.get("train"), data["train"])
                + input_differences("validation data", recorded.get("val"), data["val"]),
                False)
    root = stored.get("data_root")
    if root is None:  # arrays: only their number is recorded (compared as a setting)
        return [], True
    return input_differences("training data", str(root), data["train"]), True


def _resume_differences(stored: dict | None, record: dict) -> list[str]:
    """Settings of this run (``record``: its :func:`_training_record`) that differ from
    those a run was started with (``stored``: the ``training`` entry of its ``last``
    checkpoint), the data excepted (:func:`_data_differences`); empty when it may be
    resumed."""
    if not isinstance(stored, dict):
        return ["no record of the settings it was trained with"]

    def comparable(d: dict) -> dict:
        return {k: v for k, v in d.items() if k not in RESUME_MAY_CHANGE + DATA_KEYS}

    return identity_differences(comparable(stored), comparable(record))


#: Where a run folder records the epoch ``resume=True`` continues after (0-based there,
#: told from 1 with the pretraining epochs, as the progress counts them), and the steps
#: of the next epoch done (``epoch_steps``: a run stopped mid-epoch): the one rule the
#: state's writer, its loader, :func:`_earlier_run` and a stopped run's line
#: (:func:`napari_srmat.cli._training.rerun_after_stop`) follow. The state is written at
#: each epoch's end and at a stop mid-epoch, with what makes the resume train the steps
#: left on the crops an uninterrupted run would (the epoch's losses so far, the states of
#: its random generators, :func:`_write_last`); until 2026-12-06 a run stopped mid-epoch
#: kept nothing of it, and its resume trained the whole epoch again.
RESUME_RECORD = ResumeRecord("last", TRAINING_STATE_NAME, "epoch", "after epoch {n}",
                             offset=1, part_key=EPOCH_STEPS_KEY,
                             part_where="after step {k} of epoch {next}")
#: The run folder's record of its epochs (losses, validation), written at the run's end.
HISTORY_NAME = "history.json"
#: The run folder's checkpoint of the best validation AP.
BEST_NAME = "best"
#: The run folder's folder of the top-k epochs' checkpoints (``epoch-NNN``).
TOP_NAME = "top"


#: What the first epoch's ``top/`` folder is numbered (``top/epoch-001``: epochs told from
#: 1, :func:`~napari_srmat.jobs.told_epoch`), recorded in the training state as
#: :data:`TOP_NAMED_FROM_KEY`; 0: a run an older version began (``top/epoch-000``).
TOP_NAMED_FROM = 1
#: The training state's record of :data:`TOP_NAMED_FROM` (0 or 1) of its run folder.
TOP_NAMED_FROM_KEY = "top_named_from"
#: What mends a training state whose entry (by key) is not as written, before starting
#: over (:func:`_check_training_state`): without its :data:`TOP_NAMED_FROM_KEY` the naming
#: is read from its top list (:func:`_top_named_from`); until 2026-12-07 the refusal
#: advised only starting over, throwing the run away.
STATE_ENTRY_FIXES = {TOP_NAMED_FROM_KEY: f"remove its {TOP_NAMED_FROM_KEY!r} entry (the "
                     "top/ naming is then read from its top list)"}


def _top_dir(out: Path, epoch: int, named_from: int = TOP_NAMED_FROM) -> Path:
    """The top-k checkpoint of the epoch of 0-based index ``epoch`` in run folder ``out``:
    ``top/epoch-NNN``, the epoch told as everywhere (:func:`~napari_srmat.jobs.told_epoch`:
    ``top/epoch-003`` holds the epoch the progress, the log (``[val 3]``) and its
    ``config.json`` (``"epoch": 2``, ``srmat info``'s "epoch 3") tell as epoch 3). Until
    2026-12-07 it was named by the index (``top/epoch-002``): a run an older version
    began keeps those names (``named_from`` 0, :func:`_top_named_from`), one naming per
    run folder."""
    return out / TOP_NAME / f"epoch-{told_epoch(epoch) if named_from else epoch:03d}"


def _top_named_from(state: dict) -> int:
    """:data:`TOP_NAMED_FROM` of the run whose training state is ``state``: as recorded,
    else (a state written before the record) 0 where its top list names its folders
    by the index (an older version's run: its new folders are named so too, not
    ``top/epoch-003`` for epoch 3 beside epoch 2's ``top/epoch-001``). A list that holds
    both namings (a run 2c650627 resumed) goes on from 1: by the index, its next epoch
    would take a folder already listed."""
    if TOP_NAMED_FROM_KEY in state:
        return state[TOP_NAMED_FROM_KEY]
    named = [(int(m[1]), epoch) for _, epoch, path in state.get("top", [])
             if (m := re.fullmatch(r"epoch-(\d+)", Path(path).name))]
    by_index = any(n == epoch for n, epoch in named)
    told = any(n == told_epoch(epoch) for n, epoch in named)
    return 0 if by_index and not told else TOP_NAMED_FROM

#: What a training run writes in its folder: any of them there tells an earlier run.
RUN_ENTRIES = (RESUME_RECORD.folder, BEST_NAME, TOP_NAME, HISTORY_NAME)


def _last_dir(out: Path) -> Path:
    """The resumable state's folder of run folder ``out`` (:data:`RESUME_RECORD`)."""
    return out / RESUME_RECORD.folder


def _resume_state(out: Path) -> dict:
    """The training state of run folder ``out`` (:data:`RESUME_RECORD`'s file); raises
    OSError or ValueError where it is missing or unreadable."""
    return json.loads((out / RESUME_RECORD.folder / RESUME_RECORD.file).read_text())


def _resume_refused(error: type[ValueError], what: Path, why: str, fix: str = ""
                    ) -> ValueError:
    """The one refusal of a resume of run folder state ``what`` that cannot go on
    (:func:`napari_srmat.sr.train.resume_refused`, the SR training's too), ``why`` and
    ``fix`` plain texts."""
    from ..sr.train import as_template, resume_refused

    return resume_refused(error, what, as_template(why), as_template(fix))


def _other_settings_refused(what: Path, diffs: list[str]) -> OutputMismatchError:
    """The refusal of a resume of ``what`` started with other settings (``diffs``,
    :func:`_resume_differences`), each named in the caller's words (flags, the Train
    widget's controls) as the SR training's (:func:`napari_srmat.sr.train.other_settings`)."""
    from ..sr.train import other_settings, resume_refused

    why, fix, fields = other_settings(diffs, SETTING_WORDS, [
        k for k in RESUME_MAY_CHANGE if k not in ("resume", "overwrite", "out")])
    return resume_refused(OutputMismatchError, what, why, fix, **fields)


def _unusable(what: Path, why: str, fix: str = "") -> CheckpointError:
    """The refusal of a resume whose state file ``what`` is not one this version writes
    (:func:`_resume_refused`, ``fix`` where the run can go on without starting over):
    until 2026-12-06 such a state (a mid-epoch state written between 22b788cb and
    f22e93c7 keeps ``torch_rng`` as a list; a key missing, a value of another type)
    failed its resume with a traceback."""
    return _resume_refused(CheckpointError, what, why, fix)


_MISSING = object()


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _kept_loss(value) -> float | None:
    """A step's or an epoch's loss as a run folder keeps it: None where it is no finite
    number (a step the mixed-precision loss scaler skipped, its loss infinite; an epoch
    of only such steps, or one an earlier version kept as ``Infinity``). Until 2026-12-07
    the infinite loss was kept, and the epoch's mean with it: ``Infinity`` in
    history.json and ``last/``'s state, which is no JSON."""
    return float(value) if _is_number(value) and math.isfinite(value) else None


def _scaler_skipped(scaler) -> bool:
    """Update the mixed-precision loss ``scaler`` after its ``step`` and say whether that
    step was skipped, by the scaler's own rule: its scale decreases at ``update()`` only
    when it found gradients that are not finite, and then it did not step the optimiser
    (False for a disabled scaler). Until 2026-12-07 only a step whose loss was infinite
    was counted as skipped; one whose finite loss overflowed in the backward pass stayed
    in the epoch's loss, ``skipped_steps`` 0."""
    if not scaler.is_enabled():
        scaler.update()
        return False
    before = scaler.get_scale()
    scaler.update()
    return scaler.get_scale() < before


def _is_generator_state(value) -> bool:
    """Whether ``value`` is the state of the numpy generators the training draws from
    (``np.random.default_rng``'s)."""
    try:
        np.random.default_rng(0).bit_generator.state = value
    except (TypeError, ValueError, KeyError, AttributeError):
        return False
    return True


def _check_training_state(path: Path, state, *, steps_per_epoch: int, photometric: bool,
                          device: str) -> dict:
    """``state`` (read from ``path``, :data:`RESUME_RECORD`'s file), refused in one line
    (:func:`_unusable`) unless it holds every entry a resume reads, each of the type
    :func:`_write_last` writes: the epoch and the optimiser's shapes; the history, top-k
    list, best AP and threshold and loss scaler where given; and for a state of part of
    an epoch (``steps_per_epoch`` steps) its losses and the generators' states (the
    photometric one with ``photometric``; torch's of its length where it is of
    ``device``'s kind)."""
    if not isinstance(state, dict):
        raise _unusable(path, f"it holds a JSON {json_kind(state)}, not a training "
                        "state")
    part = state.get(RESUME_RECORD.part_key) or 0
    pairs = [(RESUME_RECORD.key, lambda v: _is_int(v) and v >= (-1 if part else 0),
              "a whole number, the last epoch finished"),
             ("optimizer_shapes", lambda v: isinstance(v, dict) and all(
                 isinstance(d, list) and all(_is_int(n) and n >= 0 for n in d)
                 for d in v.values()), "an object of tensor shapes")]
    optional = [(RESUME_RECORD.part_key, lambda v: v is None or _is_int(v)
                 and 0 <= v <= steps_per_epoch,
                 f"a number of steps of its epoch (at most {steps_per_epoch})"),
                ("history", lambda v: isinstance(v, list) and all(
                    isinstance(h, dict) for h in v), "an array of epochs"),
                ("top", lambda v: isinstance(v, list) and all(
                    isinstance(t, list) and len(t) == 3 and _is_number(t[0])
                    and _is_int(t[1]) and isinstance(t[2], str) for t in v),
                 "an array of [AP, epoch, folder]"),
                (TOP_NAMED_FROM_KEY, lambda v: _is_int(v) and v in (0, 1),
                 "0 or 1, the number of its first epoch's top/ folder"),
                ("best_ap", _is_number, "a number"), ("best_thr", _is_number, "a number"),
                ("scaler", lambda v: v is None or isinstance(v, dict), "an object")]
    if part:
        rng_state = state.get("torch_rng")
        pairs += [("epoch_losses", lambda v: isinstance(v, list) and len(v) == part
                   and all(x is None or _is_number(x) for x in v),
                   f"an array of {part} losses (null: a step skipped)"),
                  ("rng", _is_generator_state, "the crop generator's state"),
                  ("torch_rng", lambda v: isinstance(v, dict)
                   and v.get("device") in ("cpu", "cuda", "mps")
                   and isinstance(v.get("state"), list)
                   and all(_is_int(b) and 0 <= b < 256 for b in v["state"]),
                   "an object of a device and its generator's state")]
        if photometric:
            pairs.append(("prng", _is_generator_state, "the photometric generator's state"))
    # the given entries first: 'epoch_steps' (the losses' count, the epoch's bound) is
    # checked before what its value shapes
    for key, fits, expected in [p for p in optional if p[0] in state] + pairs:
        value = state.get(key, _MISSING)
        if value is _MISSING or not fits(value):
            raise _unusable(path, f"its {key!r} (a JSON {json_kind(value)}) is not "
                            f"{expected}"
                            if value is not _MISSING else f"its {key!r} is missing",
                            STATE_ENTRY_FIXES.get(key, ""))
    if part and rng_state["device"] == _rng_kind(device) and len(rng_state["state"]) != len(
            _torch_rng_state(device)["state"]):
        raise _unusable(path, f"its 'torch_rng' holds {len(rng_state['state'])} bytes, not "
                        f"the {len(_torch_rng_state(device)['state'])} of a "
                        f"{rng_state['device']} generator")
    return state


def _earlier_run(out: Path) -> str | None:
    """What the training run in folder ``out`` holds, in words (``"3 epochs, best val AP
    0.8123 at epoch 2"``); None when ``out`` holds none."""
    found = [n for n in RUN_ENTRIES if (out / n).exists()]
    if not found:
        return None
    parts = []
    try:
        epochs = int(_resume_state(out)[RESUME_RECORD.key]) + 1
    except (OSError, ValueError, KeyError, TypeError):
        try:
            epochs = len(json.loads((out / HISTORY_NAME).read_text()))
        except (OSError, ValueError, TypeError):
            epochs = None
    if epochs:
        parts.append(f"{epochs} epoch{'s' if epochs != 1 else ''}")
    try:
        steps = int(_resume_state(out).get(RESUME_RECORD.part_key) or 0)
    except (OSError, ValueError, TypeError, AttributeError):
        steps = 0
    if steps > 0:  # stopped mid-epoch
        parts.append(f"{_steps_of_epoch(steps, epochs or 0)}")
    try:
        best = json.loads((out / BEST_NAME / CONFIG_NAME).read_text())
        parts.append(f"best val AP {float(best['val_ap']):.4f} at epoch "
                     f"{told_epoch(best['epoch'])}")
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return ", ".join(parts) or ", ".join(found)



def _steps_of_epoch(steps: int, epoch: int) -> str:
    """``"3 steps of epoch 2"`` (``epoch`` the 0-based index, told from 1)."""
    return f"{steps} step{'s' if steps != 1 else ''} of epoch {told_epoch(epoch)}"


def _part_epoch_error(out: Path, epoch: int, steps: int, n_pre: int,
                      epochs: int) -> ValueError:
    """The refusal of a resume whose ``epochs`` end before the epoch its ``last`` stopped
    in (``epoch``, 0-based with the ``n_pre`` pretraining epochs, after ``steps`` of its
    steps): ``last`` holds weights from part-way through that epoch, which no finished
    run ends with, so the run is not complete; resumed with the epochs that include it, it
    finishes that epoch. Until 2026-12-06 such a resume said 'already complete'."""
    labelled = told_epoch(epoch) - n_pre  # the --epochs that include it
    told = f"epoch {told_epoch(epoch)}" + (f" (labelled epoch {labelled}, after {n_pre} "
                                   f"pretraining epoch{'s' if n_pre != 1 else ''})"
                                   if n_pre else "")
    return worded_error(
        ValueError, "cannot resume {out}: it stopped in {told} after step {steps} ({last} "
        "holds part of that epoch, not a finished run) and the run asks for {asked} "
        "epoch{s}; pass {epochs} or more to finish it", out=out, told=told, steps=steps,
        last=_last_dir(out), asked=epochs, s="s" if epochs != 1 else "",
        epochs=Option(f"epochs={labelled}", f"--epochs {labelled}",
                      f"set 'Epochs' to {labelled}"))


def _rng_kind(device: str) -> str:
    """The kind of device whose torch generator ``device``'s draws come from."""
    return next((kind for kind in ("cuda", "mps") if device.startswith(kind)), "cpu")


def _torch_rng_state(device: str) -> dict:
    """The state of torch's random generator of ``device`` (the loss draws from it), with
    the kind of device it is of (``"cuda"``, ``"mps"``, ``"cpu"``). Until 2026-12-06 an
    ``mps`` run kept the CPU's, which its loss does not draw from."""
    import torch

    kind = _rng_kind(device)
    state = (torch.cuda.get_rng_state(device) if kind == "cuda"
             else torch.mps.get_rng_state() if kind == "mps" else torch.get_rng_state())
    return {"device": kind, "state": state.tolist()}


def _set_torch_rng_state(saved: dict, device: str) -> bool:
    """Restore a :func:`_torch_rng_state`; False (nothing restored) where it is of
    another kind of device (a run resumed on another ``device``: its loss draws other
    noise than an uninterrupted run's)."""
    import torch

    kind = _rng_kind(device)
    if saved.get("device") != kind:
        return False
    tensor = torch.tensor(saved["state"], dtype=torch.uint8)
    if kind == "cuda":
        torch.cuda.set_rng_state(tensor, device)
    elif kind == "mps":
        torch.mps.set_rng_state(tensor)
    else:
        torch.set_rng_state(tensor)
    return True


def _write_last(out: Path, model, ema_state: dict, opt, scaler, ckpt_config: dict,
                state: dict) -> None:
    """Write the resumable state ``OUT/last``: the raw weights and ``ckpt_config`` as its
    checkpoint, the EMA weights, the optimiser's state and ``state``
    (:data:`RESUME_RECORD`'s file, the optimiser's shapes and the mixed-precision loss
    scaler's state added: empty without AMP; until 2026-12-06 none was kept, and every
    resume started its loss scale over, skipping steps an uninterrupted run took).
    Replaced whole, as every checkpoint folder is written: a file put there since the
    start is refused (the earlier state stays, resumable), not deleted."""
    from ..checkpoint import checkpoint_directory, write_safetensors

    otensors, oshapes = _optimizer_state_tensors(opt)
    with checkpoint_directory(_last_dir(out), state_files=TRAINING_STATE_FILES) as tmp:
        save_checkpoint(tmp / "ckpt", model.state_dict(), ckpt_config)
        for name in CHECKPOINT_FILES:
            shutil.move(str(tmp / "ckpt" / name), str(tmp / name))
        (tmp / "ckpt").rmdir()
        write_safetensors(tmp / EMA_WEIGHTS_NAME,
                          {k: v.contiguous() for k, v in ema_state.items()})
        write_safetensors(tmp / OPTIMIZER_STATE_NAME, otensors)
        (tmp / RESUME_RECORD.file).write_text(json.dumps(
            {**state, "optimizer_shapes": oshapes, "scaler": scaler.state_dict()},
            indent=2, allow_nan=False))  # strict JSON: no loss is infinite (_kept_loss)


def _check_run_checkpoints(out: Path) -> None:
    """Refuse a run folder whose checkpoint folders hold a file a training run does not
    write (:func:`~napari_srmat.checkpoint.check_replaceable_checkpoint`): ``last/`` is
    replaced whole every epoch, ``top/epoch-*`` removed whole when evicted, and an
    earlier run's are removed by a new one; a user's notes in one of them were lost."""
    check_replaceable_checkpoint(_last_dir(out), state_files=TRAINING_STATE_FILES)
    check_replaceable_checkpoint(out / BEST_NAME)
    for entry in _top_entries(out):
        check_replaceable_checkpoint(entry)


def _top_entries(out: Path) -> list[Path]:
    """The entries of ``out/top`` a run may replace or remove: folders (or links) called
    ``epoch-*`` and anything named as a top checkpoint it writes (``epoch-NNN``); a file
    such as ``top/epoch-notes.txt`` is neither, and is left alone (it was refused)."""
    top = out / TOP_NAME
    if not top.is_dir():
        return []
    return sorted(d for d in top.iterdir() if d.name.startswith("epoch-") and (
        d.is_dir() or d.is_symlink() or re.fullmatch(r"epoch-\d+", d.name)))


def _remove_unlisted_top(out: Path, top: list[tuple[float, int, str]]) -> None:
    """Remove the top-k checkpoints of run folder ``out`` that its ``last/`` does not
    list (``top``: its entries, ``[AP, epoch, folder]``): folders ``top/epoch-NNN`` this
    project writes (:func:`~napari_srmat.checkpoint.check_replaceable_checkpoint`), any
    other entry left alone. The one removal of a top checkpoint pushed out, at each
    epoch's end once ``last/`` is written, and of those an earlier session left unlisted,
    at a resume: a Ctrl-C delivered after ``last/`` was replaced (held through its
    renames) or a failed write of ``last/`` after ``top/epoch-NNN``'s left them; until
    2026-12-07 they stayed for good."""
    from ..outputs import OutputExistsError

    listed = {Path(p).name for _, _, p in top}
    for entry in _top_entries(out):
        if entry.name in listed or not re.fullmatch(r"epoch-\d+", entry.name):
            continue
        try:
            check_replaceable_checkpoint(entry)
        except OutputExistsError:  # a file, a link, a folder of the user's
            continue
        shutil.rmtree(entry, ignore_errors=True)


def _remove_earlier_run(out: Path, *, last: bool = False) -> None:
    """Remove what an earlier run left in run folder ``out`` (its top-k checkpoints, its
    ``best``, its history, and with ``last`` its ``last``): a new run's folder then holds
    one run's checkpoints, never a mix. Called before this run writes a checkpoint of its
    own (its first epoch's end, or a stop in it, which writes only ``last``), so nothing
    there is this run's but a ``last`` just written (kept without ``last``). A file of the
    user's put in one of them since the start is refused (:func:`_check_run_checkpoints`),
    nothing removed."""
    _check_run_checkpoints(out)
    if last and _last_dir(out).exists():
        shutil.rmtree(_last_dir(out))  # a failure told: a part of it is no state
    for d in _top_entries(out):
        if d.is_dir():
            shutil.rmtree(d, ignore_errors=True)
    if (out / BEST_NAME).is_dir():
        shutil.rmtree(out / BEST_NAME, ignore_errors=True)
    (out / HISTORY_NAME).unlink(missing_ok=True)


def _ema_update(ema, model, decay: float) -> None:
    import torch

    with torch.no_grad():
        msd = model.state_dict()
        floats, sources = [], []
        for k, v in ema.state_dict().items():
            if v.dtype.is_floating_point:
                floats.append(v)
                sources.append(msd[k].detach())
            else:
                v.copy_(msd[k])
        # one fused update for all weights (a loop launched 2 kernels per tensor: on a
        # GPU that cost more than the small model's step)
        if floats:  # (the fused calls refuse an empty list)
            torch._foreach_mul_(floats, decay)
            torch._foreach_add_(floats, sources, alpha=1 - decay)


def predict_probability(model, image_chw: np.ndarray, device: str) -> np.ndarray:
    """Boundary probability ``sigmoid(mu)`` for one float ``(3, H, W)`` image (eval mode).

    The image goes to the network as it is: with ``input_norm`` it must already be
    normalised (training normalises whole images before cropping); use
    :class:`~napari_srmat.edges.infer.BoundaryModel` for raw images."""
    import torch

    model.eval()
    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(image_chw))[None].to(device)
        logit, _ = model(x)
        return torch.sigmoid(logit)[0, 0].float().cpu().numpy()


def _finite_probability(prob: np.ndarray, name: str) -> np.ndarray:
    """``prob``, refused when it holds NaN or infinite values (a diverged model): the
    histogram would skip them ("no boundary (positive) pixels were accumulated", or
    scores of the finite pixels only), the tiling engine blamed "a broken model"."""
    if not np.isfinite(prob).all():
        raise diverged_error(f"the model's boundary probabilities on validation image {name}")
    return prob


def _tiled_probability(model, image_chw: np.ndarray, device: str, name: str) -> np.ndarray:
    """:func:`predict_probability` tile by tile (the boundary model's tiles, blended by
    the tiling engine), for images too large for one forward pass (``name``: the
    image's, for :func:`_finite_probability`)."""
    import torch

    from ..tiling import BOUNDARY_OVERLAP, BOUNDARY_TILE, tiled_apply

    model.eval()

    def probability(batch) -> np.ndarray:
        with torch.no_grad():
            logit, _ = model(torch.from_numpy(np.ascontiguousarray(batch)).to(device))
            return _finite_probability(torch.sigmoid(logit).float().cpu().numpy(), name)

    out = tiled_apply(np.ascontiguousarray(image_chw.transpose(1, 2, 0)), probability,
                      out_channels=1, out_dtype=np.float32, tile=BOUNDARY_TILE,
                      overlap=BOUNDARY_OVERLAP)
    return out[..., 0] if out.ndim == 3 else out


def validate(model, samples: list[BoundarySample], device: str) -> dict[str, float]:
    """Pixel AP, ROC-AUC, best F1 and its threshold on ``samples`` (images as the network
    takes them, see :func:`predict_probability`; images above
    :data:`~napari_srmat.edges.evaluate.WHOLE_IMAGE_MAX_PIXELS` tile by tile, as the
    evaluation predicts them).

    Raises
    ------
    ValueError
        A probability map has NaN or infinite values (a diverged model).
    """
    from ..metrics.edges import EdgeHistogram
    from .evaluate import WHOLE_IMAGE_MAX_PIXELS

    hist = EdgeHistogram()
    for s in samples:
        # one pass over a 4 MP image peaked at 3.4 GB (tiny encoder, CPU): a large image
        # layer trained on (and so validated on) ran out of memory after its first epoch
        if s.image.shape[1] * s.image.shape[2] <= WHOLE_IMAGE_MAX_PIXELS:
            prob = _finite_probability(predict_probability(model, s.image, device), s.name)
        else:
            prob = _tiled_probability(model, s.image, device, s.name)
        hist.update(prob, s.mask)
    t, f1 = hist.best_f1()
    # the share of the pixels that threshold marks boundary (t is a bin edge)
    counts = hist.pos + hist.neg
    marked = counts[int(hist.bin_index(np.array([t]))[0]):].sum()
    return {"ap": float(hist.average_precision()), "roc_auc": float(hist.roc_auc()),
            "f1": float(f1), "threshold": float(t),
            "boundary_fraction": float(marked / max(int(counts.sum()), 1))}


def _threshold_warnings(history: list[dict], best_ap: float, best_thr: float
                        ) -> Generator[Log, None, list[str]]:
    """The warning of :func:`~napari_srmat.edges.thresholds.degenerate_threshold_warning`
    on the best epoch's threshold (told as a ``Log``; returned as a list)."""
    best = [h for h in history if h.get("phase") != "pretrain" and h.get("val_ap") == best_ap
            and h.get("threshold") == best_thr]
    if not best:  # no labelled epoch validated
        return []
    why = degenerate_threshold_warning(best_thr, best[0].get("val_boundary_fraction"))
    if why is None:
        return []
    yield Log(why, level="warning")
    return [why]


def _optimizer_state_tensors(opt) -> tuple[dict, dict]:
    import torch

    tensors, meta = {}, {}
    for gi, group in enumerate(opt.param_groups):
        for pi, p in enumerate(group["params"]):
            st = opt.state.get(p, {})
            for k, v in st.items():
                key = f"opt.{gi}.{pi}.{k}"
                if torch.is_tensor(v):
                    tensors[key] = v.detach().cpu().reshape(v.shape) if v.ndim else v.reshape(1)
                    meta[key] = list(v.shape)
    return tensors, meta


def _load_optimizer_state(opt, tensors: dict, meta: dict) -> None:
    """Load the optimiser state :func:`_optimizer_state_tensors` kept into ``opt`` (its
    hyperparameters as they are), through ``opt.load_state_dict``: torch's rule puts
    each tensor where ``opt`` keeps it (the moments on the weights' device, the step
    count on the CPU unless fused or capturable). Until 2026-12-06 all of it went to the
    weights' device: on a GPU each step of a resumed run read every count back (two
    host syncs per weight tensor per step). Raises ValueError where a tensor's shape is
    not its weights'."""
    current = opt.state_dict()
    state = {}
    for gi, group in enumerate(opt.param_groups):
        for pi, p in enumerate(group["params"]):
            st = {}
            prefix = f"opt.{gi}.{pi}."
            for key, v in tensors.items():
                if key.startswith(prefix):
                    st[key[len(prefix):]] = v = v.reshape(meta[key])
                    if v.ndim and v.shape != p.shape:  # (the step: a scalar)
                        raise ValueError(f"{key} has shape {tuple(v.shape)}, its "
                                         f"weights {tuple(p.shape)}")
            if st:
                state[current["param_groups"][gi]["params"][pi]] = st
    opt.load_state_dict({"state": state, "param_groups": current["param_groups"]})


def train_boundaries_job(config, *, stop=None):
    """Train a UAED boundary model (job generator).

    Parameters
    ----------
    config : BoundaryTrainConfig or dict
        Run settings (see :class:`BoundaryTrainConfig`).
    stop : StopToken, optional
        Checked between optimisation steps; on request the job saves nothing
        further, yields :class:`~napari_srmat.jobs.Stopped` and returns.

    Yields
    ------
    Progress, Log, Metric, Checkpoint, Stopped, AlreadyComplete
        A resumed run's progress carries the steps of the epochs the earlier run trained
        (``Progress.resumed``), first in one ``Progress(n, total, "steps", resumed=n)``.
        A run resumed with no more epochs than its ``last`` holds trains nothing: it
        yields :class:`~napari_srmat.jobs.AlreadyComplete` (``path``: ``out``) and returns
        the earlier run's result.

    Returns
    -------
    TrainResult

    Raises
    ------
    napari_srmat.outputs.OutputLockedError
        Another run is writing into ``out`` (its lock, ``OUT.lock``, is held).
    ValueError
        Among others: a resume whose epochs end before the epoch its ``last`` stopped
        in, part-way through it (that epoch is not finished: it names the epochs that
        finish it).
    """
    return (yield from holding(_train_boundaries, config, stop))


#: Whether a copy of ``last`` left aside as ``.last.<8 hex>.old`` is a whole one (weights,
#: config and training state): the only one put back (:func:`_put_back_last`).
_is_whole_last = functools.partial(is_checkpoint_copy, state_files=TRAINING_STATE_FILES,
                                   whole=True)


def _init_model(cfg: BoundaryTrainConfig):
    """The model of ``cfg.init_checkpoint`` (None without one), on the CPU, refused where
    its encoder or input normalisation is not the run's: a refusal naming what to choose
    in each caller's words (the Train widget's controls; until 2026-12-07 'init_checkpoint
    has encoder 'tiny', the run uses 'small'', after all the data were read)."""
    if not cfg.init_checkpoint:
        return None
    from .infer import load_boundary_model

    shipped = cfg.init_checkpoint == "default"
    init = load_boundary_model(None if shipped else cfg.init_checkpoint, device="cpu",
                               for_init=True)
    name = repr(os.fspath(cfg.init_checkpoint)) + (" (the shipped weights)" if shipped else "")
    ckpt = SETTING_WORDS["init_checkpoint"]
    if init.encoder != cfg.encoder:
        raise worded_error(ValueError, "{ckpt} {name} has encoder {have}, the run uses "
                           "{enc} {want}: choose {enc} {have}, or a checkpoint of encoder "
                           "{want} in {ckpt}", ckpt=ckpt, name=name, have=repr(init.encoder),
                           want=repr(cfg.encoder),
                           enc=SETTING_WORDS["encoder"])
    if init.input_norm != cfg.input_norm:
        raise worded_error(ValueError, "{ckpt} {name} was trained with input_norm {have}, "
                           "the run uses {want}", ckpt=ckpt, name=name,
                           have=repr(init.input_norm), want=repr(cfg.input_norm))
    return init


def _put_back_last(out: Path):
    """Put back ``OUT/last`` that a replacement interrupted between its two renames (a
    kill, a failing second rename) left aside as ``.last.<8 hex>.old`` with ``last``
    missing (:func:`~napari_srmat._atomic.put_back_swapped_out`), at the run's start and
    told as a warning (a job's ``Log``): a resumed run then started over from epoch 0, or
    was refused as an earlier run's folder, its state hidden. Only a whole ``last``
    (:func:`_is_whole_last`) is moved: until 2026-12-05 what a stopped deletion left
    (the config alone, an empty folder) was put back too, once you had removed ``last``,
    and ``resume`` then failed ('no model.safetensors') instead of starting anew.
    Several such copies are refused in one line."""
    import warnings

    from .._atomic import put_back_swapped_out

    if not out.is_dir():
        return
    with warnings.catch_warnings(record=True) as told:
        warnings.simplefilter("always")
        put_back_swapped_out(_last_dir(out), ours=_is_whole_last)
    for warning in told:
        yield Log(str(warning.message), level="warning")


def _train_boundaries(config, stop, held):
    """The body of :func:`train_boundaries_job`; ``held`` holds the run folder's lock."""
    import torch

    cfg = _as_config(config)
    stop = check_stop(stop)  # "yes" failed after the data loaded; the class stopped at once
    if cfg.encoder not in ENCODER_PRESETS:
        raise ValueError(
            f"unknown encoder {cfg.encoder!r}; choose one of {sorted(ENCODER_PRESETS)}"
        )
    if cfg.epochs < 1 or cfg.batch_size < 1 or cfg.pretrain_epochs < 0:
        raise ValueError(f"epochs and batch_size must be >= 1 and pretrain_epochs >= 0, got "
                         f"{cfg.epochs}, {cfg.batch_size} and {cfg.pretrain_epochs} (with no "
                         "epoch there is no checkpoint to keep)")
    if not isinstance(cfg.top_k, int) or isinstance(cfg.top_k, bool) or cfg.top_k < 0:
        raise ValueError(f"top_k must be a whole number >= 0 (0: keep only best and last), "
                         f"got {cfg.top_k!r}")
    if cfg.steps_per_epoch is not None and cfg.steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be >= 1 (None: one pass over the images), "
                         f"got {cfg.steps_per_epoch}")
    if cfg.crop is not None and cfg.crop < MIN_TRAIN_CROP:  # the Train widget's 0 is None
        raise worded_error(ValueError, "{crop} must be at least {least} px (or {whole}: "
                           "whole images), got {got}", least=MIN_TRAIN_CROP, got=cfg.crop,
                           crop=SETTING_WORDS["crop"],
                           whole=Option("None", "None", "0"))
    photometric = parse_photometric(cfg.photometric_augment)
    if cfg.input_norm not in INPUT_NORMS:
        raise ValueError(f"unknown input_norm {cfg.input_norm!r}; choose one of {INPUT_NORMS}")
    if cfg.input_norm != "none" and photometric:
        # the transforms expect and clip to [0, 1], and would re-introduce the brightness
        # and contrast changes the normalisation removes: not combined (yet)
        raise ValueError("input_norm='channels' cannot be combined with photometric "
                         "augmentation; choose one")
    check_learning_rate(cfg.lr)
    check_flag("resume", cfg.resume)  # "no" is truthy: it would resume
    check_flag("overwrite", cfg.overwrite)
    cfg = replace(cfg, seed=check_seed(cfg.seed))  # 3.0 -> 3: numpy wants an int
    set_cpu_threads(cfg.num_threads)
    device = resolve_device(cfg.device)
    use_amp = bool(cfg.amp and device.startswith("cuda"))
    lock = None
    if cfg.out:  # refused now, created once the data have loaded
        check_output_dir(cfg.out, "boundary_training", inputs=[cfg.data_root])
        lock = lock_run_folder(held, cfg.out)  # one run per folder
        yield from _put_back_last(Path(cfg.out))
        resumable = _last_dir(Path(cfg.out)).is_dir()
        if not (cfg.resume and resumable):  # resume into an empty folder: a new run
            # a run without last/ (a failed first epoch's best/ and top/) is not offered
            # --resume: until 2026-12-07 the plain rerun was, and --resume refused it
            check_no_earlier_run(cfg.out, _earlier_run(Path(cfg.out)),
                                 overwrite=cfg.overwrite, resumable=resumable)
            _check_run_checkpoints(Path(cfg.out))  # an earlier run's are removed
    init = _init_model(cfg)  # refused before the data are read, not after

    # ---- data
    train = _samples_from_arrays(cfg.train_images, cfg.train_masks, "train")
    val = _samples_from_arrays(cfg.val_images, cfg.val_masks, "val")
    # what the run trains and validates on, recorded and compared on resume
    data = {"train": _arrays_identity(train) if train else None,
            "val": _arrays_identity(val) if val else None}
    train_dir = None  # where the training images were read from, for messages
    train_masks_dir = None  # and their masks
    # each mask's name in warnings: its file, or its place in the list ("train-0")
    mask_names = {"train": [s.name for s in train], "val": [s.name for s in val]}
    if cfg.data_root is not None:
        root = Path(cfg.data_root)
        if not root.is_dir():
            raise BoundaryDataError(
                f"data root {root} is a file, not a folder of <split>/images,masks"
                if root.exists() else not_found_message(root, "data root"))
        if not train:
            pairs = _split_files(root, "train")
            train = load_pairs(pairs)
            data["train"] = _files_identity(root, pairs)
            train_dir = root / "train" / "images"
            train_masks_dir = root / "train" / "masks"
            mask_names["train"] = [str(mp) for _, mp in pairs]
        if not val and (root / "val").is_dir():
            pairs = _split_files(root, "val")
            val = load_pairs(pairs)
            data["val"] = _files_identity(root, pairs)
            mask_names["val"] = [str(mp) for _, mp in pairs]
    if not train:
        raise BoundaryDataError("no training data: give data_root or train_images/train_masks")
    # a set of blank (or all-boundary) masks trained a model of 'no boundary' without a word
    check_has_boundaries(train, "training", folder=train_masks_dir,
                         consequence="there is nothing to train on")
    for split, samples, what in (("train", train, "training"), ("val", val, "validation")):
        for line in mask_content_warnings(samples, what, names=mask_names[split]):
            yield Log(line, level="warning")
    training_record = _training_record(cfg, data)
    if cfg.crop is not None:  # the crops would be smaller than asked (or zoomed up)
        from ..io import check_image_side

        small = min(train, key=lambda t: min(t.image.shape[1:]))
        check_image_side(small.image.shape[1:], name=f"training image {small.name}" + (
            f" of {train_dir}" if train_dir is not None else ""), minimum=cfg.crop,
            what="the training crop")
    if not val:
        yield Log("no validation data: validating on the training images", level="warning")
        val = train  # whose masks are checked above
    else:
        check_has_boundaries(val, "validation")
    synth = []
    if cfg.pretrain_synthetic > 0 and cfg.pretrain_epochs > 0:
        h, w = train[0].image.shape[1:]
        check_in_memory(plan_synthetic_set(cfg.pretrain_synthetic, (h, w),
                                           SYNTHETIC_BYTES_PER_PX), "--pretrain-synthetic",
                        advice="give fewer synthetic images", error=BoundaryDataError)
        synth = synthetic_samples(
            cfg.pretrain_synthetic, (h, w), seed=cfg.seed + 10_000,
            mean_grain_size_px=cfg.synthetic_grain_size_px,
            boundary_width=cfg.synthetic_boundary_width,
        )
        yield Log(f"{len(synth)} synthetic images for pretraining")
    if cfg.input_norm == "channels":  # whole images, before any crop (as at inference)
        train, val, synth = ([BoundarySample(normalize_channels(s.image), s.mask, s.name)
                              for s in group] for group in (train, val, synth))

    # ---- model / optimiser
    torch.manual_seed(cfg.seed)
    arch = default_arch_config(cfg.encoder)
    model = build_uaed(arch).to(device)
    if init is not None:
        model.load_state_dict(init.net.state_dict())
        yield Log(f"initialised from {init.path}")
        del init
    ema = copy.deepcopy(model).eval()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    n_pre = cfg.pretrain_epochs if synth else 0
    total_epochs = n_pre + cfg.epochs
    out = prepare_output_dir(cfg.out, "boundary_training",
                             inputs=[cfg.data_root]) if cfg.out else None
    if out is not None:
        lock.acquire()
        for folder, names in ((out, (RESUME_RECORD.folder, BEST_NAME)),
                              (out / TOP_NAME, ("epoch-*",))):
            for partial in remove_interrupted_checkpoint_writes(folder, names):
                yield Log(f"removed {partial.name}, a checkpoint a killed run was writing")
    steps_per_epoch = cfg.steps_per_epoch or max(1, math.ceil(len(train) / cfg.batch_size))
    start_epoch = start_step = 0
    part_done = None  # the state of the epoch a resumed run stopped in
    history: list[dict] = []
    top: list[tuple[float, int, str]] = []
    top_named_from = TOP_NAMED_FROM  # (a resumed run's own)
    best_ap, best_thr = -1.0, 0.5
    # a new run into the folder of an earlier one: its checkpoints are not this run's
    # (removed once this run has its first state: before its first epoch's checkpoints
    # are written, or after a stop's state is, see below)
    earlier_run = out is not None and not (cfg.resume and _last_dir(out).is_dir()) and any(
        (out / n).exists() for n in RUN_ENTRIES)
    if out is not None and cfg.resume and _last_dir(out).is_dir():
        from safetensors.torch import load_file

        try:
            state, lconf = load_checkpoint(_last_dir(out), device=device)
        except CheckpointError as exc:  # its weights or config unreadable
            raise _resume_refused(CheckpointError, _last_dir(out), str(exc)) from exc
        if lconf.get("input_norm", "none") != cfg.input_norm:  # a setting as the others
            raise _other_settings_refused(_last_dir(out), identity_differences(
                {"input_norm": lconf.get("input_norm", "none")},
                {"input_norm": cfg.input_norm}))
        stored = lconf.get("training")
        data_diffs, older = _data_differences(stored, data) if isinstance(stored, dict) \
            else ([], False)
        if data_diffs:
            raise _resume_refused(OutputMismatchError, _last_dir(out),
                                  f"it was trained on other data ({'; '.join(data_diffs)})",
                                  "resume it with the same data")
        if older:
            yield Log(f"{_last_dir(out)} records no fingerprint of its data (an older version "
                      "wrote it): only where the data lay was compared, not their files",
                      level="warning")
        diffs = _resume_differences(stored, training_record)
        if diffs:
            raise _other_settings_refused(_last_dir(out), diffs)
        # its state checked against these settings once they are its own: a state of
        # other settings (3 steps an epoch, now 1) is refused as such, not as malformed
        tfile = _last_dir(out) / RESUME_RECORD.file
        try:
            tinfo = _resume_state(out)
        except (OSError, ValueError) as exc:  # missing, or no JSON
            raise _unusable(tfile, f"it cannot be read ({exc})") from exc
        tinfo = _check_training_state(tfile, tinfo, steps_per_epoch=steps_per_epoch,
                                      photometric=bool(photometric), device=device)
        for what, load in (
                (_last_dir(out) / WEIGHTS_NAME, lambda: model.load_state_dict(state)),
                (_last_dir(out) / EMA_WEIGHTS_NAME, lambda: ema.load_state_dict(load_file(
                    str(_last_dir(out) / EMA_WEIGHTS_NAME), device=device))),
                (_last_dir(out) / OPTIMIZER_STATE_NAME, lambda: _load_optimizer_state(
                    opt, load_file(str(_last_dir(out) / OPTIMIZER_STATE_NAME)),
                    tinfo["optimizer_shapes"])),
                # AMP then and now (it may change)
                (tfile, lambda: scaler.is_enabled() and tinfo.get("scaler")
                 and scaler.load_state_dict(tinfo["scaler"]))):
            try:
                load()
            except Exception as exc:  # safetensors raises several types; torch's loads
                # RuntimeError (other names, shapes), KeyError (a scaler's entry missing)
                raise _unusable(what, f"it cannot be loaded ({' '.join(str(exc).split())})"
                                ) from exc
        start_epoch = int(tinfo[RESUME_RECORD.key]) + 1
        # stopped mid-epoch: its steps done, their losses, the generators' states
        start_step = int(tinfo.get(RESUME_RECORD.part_key) or 0)
        part_done = tinfo if start_step else None
        if start_step and start_epoch >= total_epochs:  # part of an epoch not asked for
            raise _part_epoch_error(out, start_epoch, start_step, n_pre, cfg.epochs)
        history = [{**h, "loss": _kept_loss(h["loss"])} if "loss" in h else h
                   for h in tinfo.get("history", [])]
        # stored as written (a relative --out is relative to the first run's working
        # folder): re-rooted in this run's folder, so that an evicted one is removed here
        top = [(float(ap), int(ep), str(out / TOP_NAME / Path(p).name))
               for ap, ep, p in tinfo.get("top", [])]
        top_named_from = _top_named_from(tinfo)
        best_ap, best_thr = float(tinfo.get("best_ap", -1)), float(tinfo.get("best_thr", 0.5))
        if start_epoch < total_epochs:  # a file of the user's in best/ stopped the run at
            # its next best epoch, after hours of training, and one in last/ was lost at
            # the next epoch's end: refused now
            _check_run_checkpoints(out)
        if "top" in tinfo:  # (a state that lists none: its folders are not known)
            _remove_unlisted_top(out, top)
        yield Log(f"resumed from {_last_dir(out)} " + (
            f"at step {start_step + 1} of epoch {told_epoch(start_epoch)}"
            if 0 < start_step < steps_per_epoch  # all its steps: interrupted after them
            else f"at the validation of epoch {told_epoch(start_epoch)}" if start_step
            # as the interrupt line ('after epoch 2'; until 2026-12-07 'at epoch 2',
            # then '[train 3]')
            else RESUME_RECORD.where.format(n=start_epoch)), level="notice")
    elif cfg.resume:  # asked to resume, but no ``last``: a new run, said so
        replaces = (" (it replaces the earlier run's checkpoints there)" if earlier_run
                    else "")
        yield Log(nothing_to_resume(out, RESUME_RECORD.folder) + replaces, level="warning")
    elif earlier_run:  # overwrite (checked before the data loaded)
        yield Log(f"{out} holds an earlier training run; this new run replaces it "
                  "(overwrite)", level="warning")

    total_steps = total_epochs * steps_per_epoch
    if start_epoch >= total_epochs:  # resumed with as many epochs as done, or fewer: the
        # outcome is the type (a widget's 'done (already complete from an earlier run)')
        yield training_already_complete(out, _last_dir(out), start_epoch, total_epochs,
                                        "epoch")
    # the steps of the epochs an earlier run trained: told once in steps (the unit a
    # widget's end line names), then carried by every step's Progress
    resumed_steps = (start_epoch * steps_per_epoch + start_step
                     if start_epoch < total_epochs else 0)
    if resumed_steps:
        yield Progress(resumed_steps, total_steps, "steps", resumed=resumed_steps)
    kept = None  # (epoch, steps) of the mid-epoch state this session wrote last

    def keep_part() -> None:
        """Write the state of the first ``done`` steps of ``epoch`` (the epoch loop's, as
        they stand with its ``losses``, ``rng`` and ``prng``: a stop, an interrupt between
        steps), then remove an earlier run's checkpoints (with ``overwrite``); again
        after an interrupt in it, not once written."""
        nonlocal kept, earlier_run
        if kept != (epoch, done):
            check_finite_weights(model, ema, step=epoch * steps_per_epoch + done)
            prev = history[-1] if history else {}
            _write_last(out, model, ema.state_dict(), opt, scaler, {
                **arch, "threshold": prev.get("threshold", best_thr),
                "epoch": epoch - 1, RESUME_RECORD.part_key: done,
                "training": training_record, "input_norm": cfg.input_norm,
                "prob_definition": "sigmoid(mu)", CONFIG_VERSION_KEY: CONFIG_VERSION}, {
                RESUME_RECORD.key: epoch - 1, RESUME_RECORD.part_key: done,
                "epoch_losses": losses, "rng": rng.bit_generator.state,
                "prng": prng.bit_generator.state if prng is not None else None,
                "torch_rng": _torch_rng_state(device), "history": history,
                "top": top, TOP_NAMED_FROM_KEY: top_named_from, "best_ap": best_ap,
                "best_thr": best_thr})
            kept = (epoch, done)
        if earlier_run:  # this run's state is written: the earlier run's go
            _remove_earlier_run(out)
            earlier_run = False

    def keep_steps(interrupt: KeyboardInterrupt) -> None:
        """:func:`keep_part` at ``interrupt`` (:func:`~napari_srmat.jobs.keep_at_interrupt`:
        the interrupt then goes on, with why the steps were not kept where they were
        not)."""
        keep_at_interrupt(interrupt, keep_part,
                          f"{_steps_of_epoch(done, epoch)} not kept in {_last_dir(out)}")

    t0 = time.time()
    for epoch in range(start_epoch, total_epochs):
        pretraining = epoch < n_pre
        data = synth if pretraining else train
        phase_epoch, phase_len = (epoch, n_pre) if pretraining else (epoch - n_pre, cfg.epochs)
        rng = np.random.default_rng(cfg.seed * 7919 + epoch)
        torch.manual_seed(cfg.seed * 7919 + epoch)
        # its own generator: the crops (and masks) do not depend on the photometric option
        prng = np.random.default_rng([cfg.seed, epoch, 17]) if photometric else None
        if cfg.lr_schedule == "cosine" and not pretraining:
            cos = 0.5 * (1 + math.cos(math.pi * phase_epoch / max(phase_len, 1)))
            lr = cfg.lr * (0.05 + 0.95 * cos)
        else:
            lr = cfg.lr
        for g in opt.param_groups:
            g["lr"] = lr
        model.train()
        order = rng.permutation(len(data))
        losses = []
        first_step = 0
        if epoch == start_epoch and part_done is not None:  # the steps an earlier run did
            first_step = start_step
            losses = [_kept_loss(v) for v in part_done["epoch_losses"]]
            rng.bit_generator.state = part_done["rng"]
            if prng is not None:
                prng.bit_generator.state = part_done["prng"]
            if not _set_torch_rng_state(part_done["torch_rng"], device):
                yield Log(f"{_last_dir(out)} was stopped on a {part_done['torch_rng']['device']} "
                          "device: the steps left draw other noise in their loss than an "
                          "uninterrupted run's", level="warning")
        done = first_step  # the epoch's steps done, none part-way (mid_step False)
        mid_step = False  # the weights, optimiser and generators hold part of a step
        last_written = False  # whether last/ holds this epoch
        # the epoch's top list and best, this run's once last/ holds them: until then an
        # interrupt keeps the state of the epoch's steps (keep_part) with the earlier ones
        new_top, new_best = top, (best_ap, best_thr)
        last_stamp = _MISSING  # the state's stamp before the epoch's write of last/
        try:  # a KeyboardInterrupt between steps, at an event, in a stop's write (a
            # second Ctrl-C), in the validation or once it is done (its record and events
            # built, up to the end writes' own try) keeps the steps done (as srmat sr
            # train does); mid-step, the last state written stands
            for step in range(first_step, steps_per_epoch):
                if stop is not None and stop.stop_requested:
                    if out is not None and step > first_step:  # this epoch's steps kept
                        keep_part()  # (done == step)
                    # counted as the progress shows them (from 1), with what is kept
                    kept_words = ("no output folder: nothing was saved" if out is None
                                  else f"{_last_dir(out)} holds " + (
                                      f"epoch {epoch} and " if epoch > 0 else "")
                                  + _steps_of_epoch(step, epoch) if step > 0
                                  else f"{_last_dir(out)} holds epoch {epoch}" if epoch > 0
                                  else "no epoch finished: nothing was saved")
                    yield Stopped(f"stopped in epoch {told_epoch(epoch)}/{total_epochs} "
                                  f"before step {step + 1}/{steps_per_epoch}; {kept_words}")
                    return TrainResult(
                        str(out / BEST_NAME) if out is not None and not earlier_run
                        and (out / BEST_NAME).is_dir() else None,
                        best_ap, best_thr, epoch, history, stopped=True,
                    )
                mid_step = True
                idx = [order[(step * cfg.batch_size + k) % len(order)]
                       for k in range(cfg.batch_size)]
                crops = [random_crop_augment(data[i].image, data[i].mask, cfg.crop, rng,
                                             zoom=cfg.scale_augment) for i in idx]
                if prng is not None:
                    crops = [(photometric_augment(c[0], prng, photometric), c[1])
                             for c in crops]
                hmin = min(c[0].shape[1] for c in crops)
                wmin = min(c[0].shape[2] for c in crops)
                x = torch.from_numpy(np.stack([c[0][:, :hmin, :wmin] for c in crops])
                                     ).to(device)
                y = torch.from_numpy(
                    np.stack([c[1][None, :hmin, :wmin] for c in crops]).astype(np.float32)
                ).to(device)
                with torch.autocast("cuda", enabled=use_amp):
                    logit, sigma = model(x)
                loss, parts = uaed_loss(
                    logit, sigma, y, epoch=phase_epoch, n_epochs=phase_len,
                    ada_max=cfg.ada_max, ada_clamp=cfg.ada_clamp, std_weight=cfg.std_weight,
                    std_weight_final=cfg.std_weight_final, focal_gamma=cfg.focal_gamma,
                    connectivity_weight=cfg.connectivity_weight,
                    overlap_weight=cfg.overlap_weight,
                )
                # with mixed precision the scaler skips a step whose gradients are not
                # finite (its loss infinite, or an overflow in the backward pass): kept
                # as None, out of the epoch's loss (:func:`_scaler_skipped`)
                loss_value = float(loss.detach()) if scaler.is_enabled() else \
                    finite_loss(loss, epoch * steps_per_epoch + step + 1)
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
                if cfg.grad_clip:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                scaler.step(opt)
                skipped = _scaler_skipped(scaler)
                _ema_update(ema, model, cfg.ema_decay if epoch > 0 or step > 20 else 0.0)
                losses.append(None if skipped else _kept_loss(loss_value))
                done, mid_step = step + 1, False
                yield Progress(epoch * steps_per_epoch + step + 1, total_steps,
                               f"{'pretrain' if pretraining else 'epoch'} "
                               f"{told_epoch(epoch)}/{total_epochs}", resumed=resumed_steps)
            # the epoch's last step is checked by no loss: NaN weights failed validation
            # with "no boundary (positive) pixels were accumulated"
            check_finite_weights(model, ema, step=(epoch + 1) * steps_per_epoch)
            vm = validate(ema, val, device)
            # (until 2026-12-07 the lines from here to the end writes' try were outside
            # both handlers: a KeyboardInterrupt there lost the epoch's steps)
            trained = [v for v in losses if v is not None]  # those the scaler skipped aside
            rec = {"epoch": epoch, "phase": "pretrain" if pretraining else "train",
                   "loss": float(np.mean(trained)) if trained else None,
                   "skipped_steps": len(losses) - len(trained), "lr": lr, "val_ap": vm["ap"],
                   "val_roc_auc": vm["roc_auc"], "val_f1": vm["f1"], "threshold": vm["threshold"],
                   "val_boundary_fraction": vm.get("boundary_fraction"),  # (None: not known)
                   "elapsed_s": round(time.time() - t0, 1)}
            train_values = {"loss": rec["loss"]} if trained else {}
            if rec["skipped_steps"]:
                train_values["skipped_steps"] = rec["skipped_steps"]
            # the epoch's events, told once its state is written: a KeyboardInterrupt at one
            # (a Ctrl-C while srmat prints them; run_job throws one from its caller's code
            # into the job) finds the epoch kept (until 2026-12-06 its steps and validation
            # were lost)
            told = [Metric(epoch, train_values, split="train", unit="epoch"),
                    Metric(epoch, {"ap": vm["ap"], "roc_auc": vm["roc_auc"], "f1": vm["f1"]},
                           split="val", unit="epoch")]
            if out is None:  # the best is chosen among the labelled epochs, as for best/
                history.append(rec)
                if not pretraining and vm["ap"] > best_ap:
                    best_ap, best_thr = vm["ap"], vm["threshold"]
                yield from told
                continue
        except KeyboardInterrupt as exc:
            if out is not None and not mid_step and done > first_step:
                keep_steps(exc)
            raise
        try:  # the checkpoints written are told (in ``told``), no other
            ckpt_config = {
                **arch,
                "threshold": vm["threshold"],
                "val_ap": vm["ap"],
                "val_roc_auc": vm["roc_auc"],
                "epoch": epoch,
                "training": training_record,
                "input_norm": cfg.input_norm,
                "prob_definition": "sigmoid(mu)",
                CONFIG_VERSION_KEY: CONFIG_VERSION,
            }
            if earlier_run:  # before this run's first checkpoint, the earlier run goes,
                # its last/ too: until 2026-12-07 it went once this run's last/ was
                # written, and where that write failed the folder held the earlier
                # run's last/ beside this run's best/ (a resume mixed the two runs)
                _remove_earlier_run(out, last=True)
                earlier_run = False
            ema_state = ema.state_dict()
            if not pretraining:
                ckdir = _top_dir(out, epoch, top_named_from)
                if cfg.top_k > 0 and (len(top) < cfg.top_k or vm["ap"] > min(t[0] for t in top)):
                    entry = (vm["ap"], epoch, str(ckdir))
                    ranked = sorted([*top, entry], key=lambda t: -t[0])
                    # those it pushes out checked before it is written (a file put there
                    # since the start): until 2026-12-07 after, and a refusal left it
                    # written but never told
                    for _, _, p in ranked[cfg.top_k:]:
                        if p != entry[2]:
                            check_replaceable_checkpoint(p)
                    if entry in ranked[: cfg.top_k]:  # (a top_k lowered on resume)
                        save_checkpoint(ckdir, ema_state, ckpt_config)
                        told.append(Checkpoint(str(ckdir), step=epoch, score=vm["ap"]))
                    new_top = ranked[: cfg.top_k]
                if vm["ap"] > best_ap:
                    new_best = vm["ap"], vm["threshold"]
                    save_checkpoint(out / BEST_NAME, ema_state, ckpt_config)
                    told.append(Checkpoint(str(out / BEST_NAME), step=epoch, score=vm["ap"]))
            last_stamp = RESUME_RECORD.stamp(out)
            _write_last(out, model, ema_state, opt, scaler, ckpt_config, {
                RESUME_RECORD.key: epoch, "history": [*history, rec], "top": new_top,
                TOP_NAMED_FROM_KEY: top_named_from, "best_ap": new_best[0],
                "best_thr": new_best[1]})
            last_written = True
            history.append(rec)
            top, (best_ap, best_thr) = new_top, new_best
            # those pushed out, removed once last/ no longer lists them (until 2026-12-07
            # before: a failed write of last/ left it naming a top checkpoint that was
            # gone), and any an interrupted or failed write left unlisted
            _remove_unlisted_top(out, top)
        except KeyboardInterrupt as exc:  # cut short before last/ held the epoch (its
            # state not swapped in: an interrupt held through the swap comes after it):
            # its steps kept as an interrupt in its validation keeps them (the resume
            # validates it again; a top/ or best/ written of it is then that of the
            # epoch's validation). Until 2026-12-07 the epoch's training was lost.
            if last_stamp is _MISSING or RESUME_RECORD.stamp(out) == last_stamp:
                keep_steps(exc)
            raise
        except Exception as error:  # a write failed (a disk full, a file of the user's):
            # the epoch's validation is told before the error, and carried by it (until
            # 2026-12-07 the error came alone: the validation the epoch computed was lost)
            if not last_written:
                error.add_note(f"epoch {told_epoch(epoch)} (val AP {vm['ap']:.4f}) not kept in "
                               f"{_last_dir(out)}")
            yield from told
            raise
        yield from told
    best = str(out / BEST_NAME) if out is not None and (out / BEST_NAME).is_dir() else None
    if out is not None:
        atomic_write_text(out / HISTORY_NAME, json.dumps(history, indent=2, allow_nan=False))
    told_why = yield from _threshold_warnings(history, best_ap, best_thr)
    # a resumed run given fewer epochs than its last holds trains none and keeps them
    return TrainResult(best, best_ap, best_thr, max(total_epochs, start_epoch), history,
                       warnings=told_why)


def train_boundaries(config, **kwargs) -> TrainResult:
    """Plain (blocking) version of :func:`train_boundaries_job`.

    ``kwargs`` override fields of ``config`` (which may be None) for this run; a
    :class:`BoundaryTrainConfig` given is left as it is.
    """
    cfg = _as_config(config if config is not None else {})
    check_options("train_boundaries", BoundaryTrainConfig, kwargs)
    # a copy: the overrides were set on the caller's config (a sweep's base config
    # kept the last run's seed and out)
    return run_job(train_boundaries_job(replace(cfg, **kwargs)), quiet=True)


__all__ += ["validate", "predict_probability", "CheckpointError"]
