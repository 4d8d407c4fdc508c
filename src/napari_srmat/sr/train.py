"""Self-supervised training of SR models from HR images (``train_sr_job``).

LR/HR pairs are made on the fly: random HR crops (with flips / 90° rotations, no
colour jitter) are degraded by :func:`napari_srmat.sr.degrade.degrade`. Sources
are image folders or files (PNG/JPEG/TIFF), Zarr / OME-Zarr stores (cropped
lazily) and synthetic micrographs from :mod:`napari_srmat.synth`.

Optimisation: AdamW, linear warm-up + cosine learning-rate decay, EMA of the
weights (the EMA weights are evaluated and saved). Validation on a folder of HR images
whose LR inputs are their antialiased bicubic downsampling: PSNR, which ``best`` is
chosen by, and SSIM, the ``psnr_y`` and ``ssim_y`` of ``srmat sr eval``
(:func:`napari_srmat.metrics.sr.psnr_y`, :func:`~napari_srmat.metrics.sr.ssim_y`: luma,
less a ``scale`` px border). Checkpoints in ``out``:

* ``last/`` and ``best/`` (best validation PSNR): model checkpoints (EMA weights)
  loadable with ``load_model(checkpoint=...)``;
* ``train_state/``: raw weights, AdamW state, float32 EMA weights, the random
  generators' states (safetensors + JSON) and the step, used by ``resume=True`` (a
  resumed run continues exactly as an uninterrupted one).

``train_state`` (with ``last``) is written at every validation, at the end, when the
run is stopped (a :class:`~napari_srmat.jobs.StopToken`: the Train widget's Stop, the
CLI's Ctrl-C) or interrupted between steps (a KeyboardInterrupt at one of its events),
at the step reached, and at least every :data:`TRAIN_STATE_EVERY_S` seconds: a killed
run loses at most that much training. Each is written whole, then swapped in; a
validation's ``best`` with them, before any of their events: a job closed at any event
(``close()``, which keeps nothing of the steps since) leaves a run that resumes.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from ..checkpoint import CHECKPOINT_CONTROL, CONFIG_NAME, check_replaceable_checkpoint
from ..device import (
    check_finite_weights,
    check_learning_rate,
    diverged_error,
    finite_loss,
    resolve_device,
    set_cpu_threads,
)
from ..edges.config import ENCODER_CONTROL
from ..errors import Option, check_flag, check_number, check_seed, not_found_message, worded_error
from ..estimates import check_in_memory, plan_synthetic_set
from ..io import (
    IMAGE_SUFFIXES,
    all_finite,
    as_rgb,
    check_image_side,
    image_stem,
    is_zarr_store,
    read_array,
    read_image,
    to_float01,
    to_uint8,
)
from ..jobs import (
    Checkpoint,
    Event,
    Log,
    Metric,
    Progress,
    ResumeRecord,
    Stopped,
    StopToken,
    _argument_error,
    check_stop,
    keep_at_interrupt,
    run_job,
    training_already_complete,
)
from ..outputs import EACH_IMAGE_ONCE, check_distinct_files, file_identity
from .base import PIXEL_LOSSES, SRError
from .degrade import DegradationConfig, bicubic_downsample, degrade

__all__ = [
    "SRTrainConfig",
    "TRAIN_STATE_EVERY_S",
    "RESUME_RECORD",
    "train_sr_job",
    "train_sr",
    "trained_checkpoint",
    "load_training_images",
    "source_image_files",
    "PatchSampler",
    "evaluate_sr",
    "IMAGE_SUFFIXES",
]


@dataclass
class SRTrainConfig:
    """Settings of :func:`train_sr_job` (all JSON-serialisable).

    Attributes
    ----------
    model : {"cnn", "onestep", "ddpm", "cgan", "refsr"}
    scale : {2, 4}
    out : str
        Output directory (``last/``, ``best/``, ``train_state/``).
    data : list of str or array
        Image folders, image files, Zarr stores, or in-memory arrays (napari layer
        data; recorded as ``"<array (H, W, C)>"`` in the checkpoint).
    exclude : list of str
        File-name stems to leave out (e.g. held-out test scans); ``s13`` also leaves
        out ``s13.ome.tif`` (:func:`~napari_srmat.io.image_stem`).
    synthetic : int
        Number of synthetic micrographs (``synthetic_size`` px, at least ``patch``) to
        add.
    val : str, optional
        Folder of validation HR images.
    steps, batch_size, patch
        Optimisation steps, batch size, HR crop size (divisible by ``scale``).
    lr, weight_decay, warmup, ema
        AdamW learning rate and weight decay, warm-up steps, EMA decay.
    val_every, log_every, max_val_images
        Validation / logging interval (steps) and number of validation images (the
        first by name; an integer >= 1).
    resume : bool
        Continue from ``out/train_state`` if present; without one, a new run (a
        warning says so: :func:`napari_srmat.outputs.nothing_to_resume`). Only a run of
        the same settings and data is continued: the state records each ``data``
        source and ``val`` resolved, with a fingerprint of the files read
        (:func:`napari_srmat.outputs.files_fingerprint`; arrays: a hash of their
        pixels), so the same folder given by another (relative or absolute) path
        resumes, another folder or changed files do not. A state written by an older
        version records the sources only as typed: absolute paths are compared
        resolved (their files cannot be; a warning says so), relative ones are refused
        (the folder they were relative to is unknown).
    overwrite : bool
        Start over in an ``out`` that holds an earlier run (``train_state``, ``last``
        or ``best``): without it (and without ``resume``) such a run is refused, so a
        trained model is never replaced by mistake.
    seed : int
        Patches, noise and initial weights: an integer >= 0
        (:func:`napari_srmat.errors.check_seed`).
    device : str
        ``"auto"`` (default: CUDA, then MPS, else CPU), ``"cpu"``, ``"cuda[:N]"``,
        ``"mps"``: the rule of :func:`napari_srmat.device.resolve_device`, as for
        boundary training.
    num_threads : int, optional
        ``torch.set_num_threads`` for CPU training.
    arch : dict
        Architecture options of the model (e.g. ``{"n_feats": 32}``).
    degradation : dict
        :class:`~napari_srmat.sr.degrade.DegradationConfig` fields.
    teacher : str, optional
        ``ddpm`` checkpoint to distil into a ``onestep`` model.
    distill_weight : float
        Weight of the distillation L1 term.
    init_checkpoint : str, optional
        Start from these weights instead of a random network (fine-tuning):
        a checkpoint directory of the same model type, or ``"default"`` for the
        weights shipped with the package. The architecture is taken from the
        checkpoint and ``arch`` is ignored.
    loss : {"l1", "mse"}
        Pixel loss of ``cnn`` / ``onestep`` (``mse`` optimises PSNR directly;
        ``ddpm`` always uses its noise-prediction MSE).
    pairs : str, optional
        CSV of real LR/HR acquisitions (one LR path and one HR path per row), used
        instead of degrading HR images (:mod:`napari_srmat.sr.pairs`); not combined
        with ``data`` / ``synthetic``.
    register_pairs : bool
        Register each pair (True) or assume it aligned at ``scale``.
    time_limit_s : float, optional
        Stop (with checkpoints) after this many seconds.
    half : bool
        Store the ``best``/``last`` weights as float16.
    noise : {"gaussian", "structure"}
        Training noise of ``ddpm``: standard Gaussian, or structure-modulated
        (:func:`napari_srmat.sr.diffusion.structure_noise`: each region's noise mean
        follows its HR mean; regions are the grain labels of synthetic micrographs and
        SLIC superpixels of other images). Sampling is the same for both.
    """

    model: str = "cnn"
    scale: int = 4
    out: str = "sr_checkpoint"
    data: list[Any] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    synthetic: int = 0
    synthetic_size: int = 256
    val: str | None = None
    steps: int = 1000
    batch_size: int = 16
    patch: int = 96
    lr: float = 5e-4
    weight_decay: float = 1e-4
    warmup: int = 50
    ema: float = 0.999
    val_every: int = 250
    log_every: int = 25
    max_val_images: int = 16
    resume: bool = False
    overwrite: bool = False
    seed: int = 0
    device: str = "auto"
    num_threads: int | None = None
    arch: dict[str, Any] = field(default_factory=dict)
    degradation: dict[str, Any] = field(default_factory=lambda: {"mode": "bicubic"})
    teacher: str | None = None
    distill_weight: float = 0.0
    init_checkpoint: str | None = None
    loss: str = "l1"
    pairs: str | None = None
    register_pairs: bool = True
    time_limit_s: float | None = None
    half: bool = False
    noise: str = "gaussian"

    def validate(self) -> None:
        from .registry import TRAINABLE_MODELS

        if self.model not in TRAINABLE_MODELS:
            raise SRError(f"can only train {TRAINABLE_MODELS}, not {self.model!r}")
        if not isinstance(self.out, str | os.PathLike) or not os.fspath(self.out):
            # None (a widget's Extra {"out": null}) was pathlib's TypeError, a traceback
            raise SRError(f"out must be the run folder to write (a str or path), got "
                          f"{self.out!r}")
        check_flag("resume", self.resume, error=SRError)  # "no" is truthy: it would resume
        check_flag("overwrite", self.overwrite, error=SRError)
        self.seed = check_seed(self.seed, error=SRError)  # 3.0 -> 3: numpy wants an int
        if self.scale not in (2, 4):
            raise SRError(f"scale must be 2 or 4, got {self.scale}")
        if self.patch < self.scale * 4 or self.patch % (self.scale * 4):
            # 0 is divisible: until 2026-12-07 'patch 0 must be divisible by 4*scale=16'
            raise worded_error(SRError, "{patch} {got} must be a positive multiple of 4 x "
                               "{scale} ({least})", got=self.patch, least=4 * self.scale,
                               patch=SETTING_WORDS["patch"], scale=SETTING_WORDS["scale"])
        if self.steps < 1 or self.batch_size < 1:
            raise SRError("steps and batch_size must be >= 1")
        if self.synthetic < 0:
            raise SRError(f"synthetic must be >= 0 images, got {self.synthetic}")
        # a slice bound (until 2026-12-07 unchecked: -1 all but the last, 0 none, the
        # --val folder silently unused)
        self.max_val_images = check_number("max_val_images", self.max_val_images, lo=1,
                                           integer=True, error=SRError)
        if self.time_limit_s is not None and not (
                math.isfinite(self.time_limit_s) and self.time_limit_s > 0):
            raise SRError(f"time_limit_s must be a positive number of seconds, got "
                          f"{self.time_limit_s}")
        if self.pairs and (self.data or self.synthetic):
            raise SRError("train either from pairs or from HR images (data / synthetic), "
                          "not both")
        if self.loss not in PIXEL_LOSSES:
            raise SRError(f"loss must be one of {PIXEL_LOSSES}, got {self.loss!r}")
        DegradationConfig(**self.degradation)
        from .diffusion import NOISE_KINDS

        if self.noise not in NOISE_KINDS:
            raise SRError(f"noise must be one of {NOISE_KINDS}, got {self.noise!r}")
        if self.noise != "gaussian" and self.model != "ddpm":
            raise SRError(f"noise={self.noise!r} is a ddpm training option, not {self.model!r}")
        if self.noise != "gaussian" and self.pairs:
            raise SRError("structure-modulated noise needs HR images with regions; it is not "
                          "available with pairs")


# --------------------------------------------------------------------------- data
def _to_uint8_rgb(arr: np.ndarray) -> np.ndarray:
    return to_uint8(as_rgb(arr))


class _LazyImage:
    """A lazy (Dask or Zarr) ``(H, W[, C])`` array cropped on demand (converted to uint8
    RGB per crop)."""

    def __init__(self, arr) -> None:
        self.arr = arr
        self.shape = tuple(arr.shape)

    def __getitem__(self, item):
        return _to_uint8_rgb(np.asarray(self.arr[item]))


def load_training_images(sources: list, exclude: list[str] | None = None,
                         patch: int | None = None, *, role: str = "training",
                         limit: int | None = None) -> list:
    """Collect training images from folders, files, Zarr stores and arrays.

    Parameters
    ----------
    sources : list of path-like or array
        Folders (searched for PNG/JPEG/TIFF, non-recursive; in a folder written by
        ``srmat synth`` only the micrographs, not the masks and labels its records list
        beside them), image files, Zarr
        stores (``*.zarr`` directories, read lazily), or in-memory arrays ``(H, W)`` /
        ``(H, W, C)`` such as napari layer data (numpy, Dask or Zarr: cropped lazily).
    exclude : list of str, optional
        File-name stems to skip (e.g. ``["scan_13"]``).
    patch : int, optional
        The training patch (HR crop side): an image with a smaller side is refused
        (:func:`napari_srmat.io.check_image_side`), as it is read, since its crops would
        be mostly reflect padding.
    role : str
        What the images are, in the messages: ``"training"`` (``training image PATH has
        NaN or infinite pixels``), ``"validation"`` for a run's validation images, read
        by this reader too.
    limit : int, optional
        Read (and check) only the first ``limit`` images: the sources in order, a
        folder's sorted by name (a run's validation images, ``max_val_images``);
        default all.

    Returns
    -------
    list
        uint8 ``(H, W, 3)`` arrays (or lazy Zarr wrappers).

    Raises
    ------
    SRError
        A source does not exist or holds no images.
    ImageSizeError
        An image smaller than ``patch``, named with its size.
    """
    exclude = set(exclude or [])
    given, held_out = _sources_images(sources, exclude)
    images: list = []

    def check_size(shape, name: str) -> None:
        if patch is not None:
            check_image_side(shape, name=name, minimum=int(patch), what="the training patch")
    for src in sources:
        if limit is not None and len(images) >= limit:  # the rest is not used: not read
            break
        if not isinstance(src, (str, os.PathLike)):
            shape = tuple(getattr(src, "shape", ()))
            if len(shape) not in (2, 3) or (len(shape) == 3 and shape[-1] not in (1, 3, 4)):
                raise SRError(f"{role} array must be (H, W) or (H, W, 1|3|4), got {shape}")
            check_size(shape, f"{role} image (an array or layer)")
            if not all_finite(src):  # every pixel, chunk by chunk: not only the crops drawn
                raise SRError(f"{role} image (an array or layer) has NaN or infinite pixels")
            images.append(_LazyImage(src))
            continue
        p = Path(src)
        if not p.exists():
            raise SRError(not_found_message(p, f"{role} source"))
        if not p.is_dir() or is_zarr_store(p):  # a named file or store: not held out
            _check_not_held_out(p, exclude, held_out)
        if is_zarr_store(p):
            arr = read_image(p).data  # lazy, (H, W[, C]) whatever the store's axis order
            check_size(arr.shape, f"{role} image {p}")
            if not all_finite(arr):
                raise SRError(f"{role} image {p} has NaN or infinite pixels")
            images.append(_LazyImage(arr))
            continue
        files = given[os.fspath(src)]  # a named file: _check_not_held_out
        if not files:
            raise SRError(f"no images (PNG/JPEG/TIFF) in {p}")
        for f in files[:None if limit is None else limit - len(images)]:
            arr = read_array(f, what=f"{role} image")
            check_size(arr.shape, f"{role} image {f}")
            if not all_finite(arr):
                raise SRError(f"{role} image {f} has NaN or infinite pixels")
            images.append(_to_uint8_rgb(arr))
    return images


def _synthetic_set_companions(folder: Path) -> set[str]:
    """Names of the files of ``folder`` that a ``srmat synth`` set wrote beside its
    micrographs: each ``NAME.json`` record lists its files (``{"image": ..., "mask":
    ..., "labels": ...}``); every one but the image is ground truth, not a micrograph."""
    companions: set[str] = set()
    for record in folder.glob("*.json"):
        try:
            files = json.loads(record.read_text()).get("files")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(files, dict) and "image" in files:
            companions.update(str(v) for k, v in files.items() if k != "image")
    return companions


def _folder_images(folder: Path, exclude: set[str] | list[str] = (), *,
                   entries: list[Path] | None = None,
                   held_out: set[tuple] | None = None) -> list[Path]:
    """The images of ``folder`` that are training images (non-recursive, sorted): PNG /
    JPEG / TIFF files, less the ``exclude`` stems and, in a folder made by ``srmat
    synth``, the boundary masks and grain labels written beside each micrograph.

    A file is left out when ``exclude`` names its stem as the package reads it
    (:func:`~napari_srmat.io.image_stem`: ``s13.ome.tif`` is ``s13``) or its plain
    ``Path.stem`` (``s13.ome``, as earlier versions matched): leaving out more is the
    safe side for held-out scans; and so is a link to a held-out image under another
    name: one of ``held_out`` (:func:`_held_out_files` of every source, where the caller
    has them; default: those of this folder's images). ``entries``: the folder's
    listing, where the caller has it (default: listed here)."""
    companions = _synthetic_set_companions(folder)
    images = [f for f in (folder.iterdir() if entries is None else entries)
              if f.suffix.lower() in IMAGE_SUFFIXES and f.name not in companions]
    if held_out is None:
        held_out = _held_out_files([images], exclude)
    return sorted(f for f in images
                  if not _excluded_stem(f, exclude) and file_identity(f) not in held_out)


def _excluded_stem(path: Path, exclude) -> str | None:
    """The stem of ``path`` that ``exclude`` names, as the package reads it
    (:func:`~napari_srmat.io.image_stem`: ``s13.ome.tif`` is ``s13``) or its plain
    ``Path.stem`` (``s13.ome``); None where it names neither: the one rule of a held-out
    image, in a folder, named, or a Zarr store."""
    for stem in (image_stem(path), path.stem):
        if stem in exclude:
            return stem
    return None


def _source_entries(path: Path) -> list[Path]:
    """The paths an existing training source holds: a folder's entries (listed once), or
    the file or Zarr store itself."""
    return list(path.iterdir()) if path.is_dir() and not is_zarr_store(path) else [path]


def _held_out_files(listings: Iterable[list[Path]], exclude: set[str]) -> set[tuple]:
    """The :func:`~napari_srmat.outputs.file_identity` of every path ``exclude`` holds
    out among ``listings`` (each source's :func:`_source_entries`, or a folder's images):
    a link to one under another name, in any source, is held out too."""
    return {file_identity(f) for entries in listings for f in entries
            if _excluded_stem(f, exclude)}


def _sources_images(sources: Iterable, exclude: set[str] | list[str] = ()
                    ) -> tuple[dict[str, list[Path]], set[tuple]]:
    """The images each training source gives the training: the one rule of the training
    (:func:`load_training_images`) and of its given-twice check (:func:`train_sr_job`).

    For each existing path among ``sources`` (keyed by ``os.fspath``; arrays and missing
    paths skipped): a folder's training images (:func:`_folder_images`), less any link to
    an image ``exclude`` holds out in ANY of ``sources`` (each listed once); ``[path]``
    for a file or Zarr store. Returned with those held-out file identities
    (:func:`_held_out_files`)."""
    exclude = set(exclude)
    entries = {os.fspath(src): _source_entries(Path(src)) for src in sources
               if isinstance(src, (str, os.PathLike)) and Path(src).exists()}
    held_out = _held_out_files(entries.values(), exclude)
    given = {}
    for key, listing in entries.items():
        path = Path(key)
        given[key] = (_folder_images(path, exclude, entries=listing, held_out=held_out)
                      if path.is_dir() and not is_zarr_store(path) else [path])
    return given, held_out


def _check_not_held_out(path: Path, exclude: set[str], held_out: set[tuple]) -> None:
    """Refuse a file or store given by name that ``exclude`` holds out (by its stem, or
    as a link to a held-out image): it would train on a held-out scan without a word."""
    stem = _excluded_stem(path, exclude)
    if stem is not None:
        raise worded_error(SRError, "training image {path} is given and held out by "
                                    "{exclude}: drop one of the two", path=str(path),
                           exclude=Option(f"exclude=[{stem!r}]", f"--exclude {stem}"))
    if file_identity(path) in held_out:
        raise SRError(f"training image {path} is the same file as a held-out image "
                      "(a link to it): drop it")


def source_image_files(source: str | os.PathLike,
                       exclude: set[str] | list[str] = ()) -> list[Path]:
    """The image files a training source path stands for, as training reads them: a
    folder's training images (non-recursive, less the ``exclude`` stems and a ``srmat
    synth`` set's masks and labels), or the path itself (a file, or a Zarr store read as
    one image: :func:`napari_srmat.io.is_zarr_store`, the reader's rule; a folder of PNGs
    named ``*.zarr`` or holding a stray ``.zattrs`` is a folder). Of the source given
    alone: among several, the training (and its given-twice check) also leaves out a
    folder's links to an image held out in another source.

    Parameters
    ----------
    source : str or os.PathLike
        A ``--data`` / ``data`` source.
    exclude : set or list of str, optional
        Image stems left out of a folder (held-out scans).

    Returns
    -------
    list of Path
        Sorted for a folder; ``[source]`` otherwise. A folder without images gives ``[]``.

    Examples
    --------
    >>> [str(path) for path in source_image_files("s01.png")]
    ['s01.png']
    """
    path = Path(source)
    if path.is_dir() and not is_zarr_store(path):
        return _folder_images(path, exclude)
    return [path]


def _source_identity(src, exclude=(), limit: int | None = None,
                     given: dict[str, list[Path]] | None = None) -> dict:
    """What a training or validation source holds, recorded and compared on resume:
    for a folder its resolved path and a fingerprint of the images read from it (the
    first ``limit``; ``given``: the :func:`_sources_images` of the sources it was given
    among, default those of the folder alone), for a file or Zarr store its
    :func:`~napari_srmat.outputs.path_fingerprint`, for an array its description and a
    hash of its pixels."""
    from ..outputs import array_fingerprint, files_fingerprint, path_fingerprint

    if not isinstance(src, (str, os.PathLike)):
        return {"array": f"<array {tuple(getattr(src, 'shape', ()))}>",
                "sha256": array_fingerprint(src)}
    p = Path(src)
    if p.is_dir() and not is_zarr_store(p):
        files = _folder_images(p, exclude) if given is None else given[os.fspath(src)]
        return files_fingerprint(p, files[:limit])
    return path_fingerprint(p)


#: What a synthetic training micrograph keeps per pixel: uint8 RGB and int32 grain labels.
SYNTHETIC_BYTES_PER_PX = 3 + 4


def _synthetic_images(n: int, size: int, seed: int, *, with_labels: bool = False):
    """``n`` synthetic micrographs (uint8 RGB) with mean grain sizes of 15-45 px.

    With ``with_labels``: ``(images, grain_labels)``.
    """
    from ..synth import generate_microstructure

    rng = np.random.default_rng(seed)
    ms = [generate_microstructure((size, size), mean_grain_size_px=float(rng.uniform(15, 45)),
                                  seed=seed + i) for i in range(n)]
    images = [m.image for m in ms]
    return (images, [m.labels for m in ms]) if with_labels else images


class PatchSampler:
    """Random HR crops with flips and 90° rotations (no colour changes).

    Parameters
    ----------
    images : list
        uint8 ``(H, W, 3)`` arrays or lazy wrappers.
    patch : int
        Crop size; smaller images are reflect-padded (:func:`train_sr_job` refuses
        ``data`` images smaller than its patch: :func:`load_training_images`).
    seed : int
    labels : list, optional
        Region labels ``(H, W)`` per image (None where unknown), cropped with the image
        by ``sample(n, return_labels=True)``.
    """

    def __init__(self, images: list, patch: int, seed: int = 0,
                 labels: list | None = None) -> None:
        if not images:
            raise SRError("no training images")
        self.images = images
        self.labels = list(labels) if labels is not None else [None] * len(images)
        if len(self.labels) != len(images):
            raise SRError(f"{len(self.labels)} label images for {len(images)} images")
        self.patch = int(patch)
        self.rng = np.random.default_rng(seed)

    def sample(self, n: int, return_labels: bool = False):
        """Return float32 ``(n, 3, patch, patch)`` in [0, 1].

        With ``return_labels``: also int64 ``(n, patch, patch)`` region labels, the
        image's own labels cropped alike or, where it has none,
        :func:`napari_srmat.sr.diffusion.structure_regions` of the crop. The random
        crops are the same either way.
        """
        p = self.patch
        out = np.empty((n, 3, p, p), dtype=np.float32)
        regions = np.empty((n, p, p), dtype=np.int64) if return_labels else None
        for i in range(n):
            idx = int(self.rng.integers(len(self.images)))
            img = self.images[idx]
            h, w = img.shape[:2]
            y = int(self.rng.integers(0, max(h - p, 0) + 1))
            x = int(self.rng.integers(0, max(w - p, 0) + 1))
            crop = np.asarray(img[y:y + p, x:x + p])
            if crop.shape[0] < p or crop.shape[1] < p:
                crop = np.pad(crop, ((0, p - crop.shape[0]), (0, p - crop.shape[1]), (0, 0)),
                              mode="reflect")
            k = int(self.rng.integers(4))
            crop = np.rot90(crop, k)
            flip = self.rng.random() < 0.5
            if flip:
                crop = crop[:, ::-1]
            out[i] = to_float01(np.transpose(crop, (2, 0, 1)))
            if return_labels:
                regions[i] = self._regions(idx, y, x, k, flip, out[i])
        return (out, regions) if return_labels else out

    def _regions(self, idx: int, y: int, x: int, k: int, flip: bool,
                 patch: np.ndarray) -> np.ndarray:
        from .diffusion import structure_regions

        lab = self.labels[idx]
        if lab is None:
            return structure_regions(np.transpose(patch, (1, 2, 0)))
        p = self.patch
        crop = np.asarray(lab[y:y + p, x:x + p])
        if crop.shape[0] < p or crop.shape[1] < p:
            crop = np.pad(crop, ((0, p - crop.shape[0]), (0, p - crop.shape[1])),
                          mode="reflect")
        crop = np.rot90(crop, k)
        return crop[:, ::-1] if flip else crop


# --------------------------------------------------------------------------- eval
def evaluate_sr(model, hr_images: list[np.ndarray], *, tile: int | None = None,
                overlap: int | None = None) -> dict[str, float]:
    """Mean PSNR / SSIM of ``model`` on HR images with bicubic-downsampled inputs.

    Parameters
    ----------
    model : SRModel
    hr_images : list of ndarray
        float32 ``(H, W, 3)`` in [0, 1]; cropped to a multiple of ``model.scale``.
    tile, overlap : int, optional
        Run through :func:`napari_srmat.sr.super_resolve` with this tiling instead
        of one untiled forward pass.

    Returns
    -------
    dict
        ``psnr`` (mean over images of :func:`napari_srmat.metrics.sr.psnr_y`, the
        ``psnr_y`` that ``srmat sr eval`` reports: luma, less a ``scale`` px border, data
        range 1; the figure ``best`` is chosen by; until 2026-12-06 the PSNR of RGB with
        no border left out), ``ssim`` (mean over images of
        :func:`napari_srmat.metrics.sr.ssim_y`, its ``ssim_y``: Gaussian window, luma,
        less a ``scale`` px border). Both NaN where the model's output of a finite HR
        image has NaN pixels (a diverged model).

    Raises
    ------
    ValueError
        An image too small for that SSIM
        (:func:`napari_srmat.metrics.sr.check_evaluated_side`); an HR image with NaN or
        Inf pixels (``hr has NaN or Inf pixels: replace them first ...``, the rule of
        :mod:`napari_srmat.metrics.sr`), not told as a diverged model.
    """
    import torch

    from ..metrics.sr import fidelity_image, psnr_y, ssim_y

    s = model.scale
    psnrs, ssims = [], []
    for hr in hr_images:
        h, w = (hr.shape[0] // s) * s, (hr.shape[1] // s) * s
        hr = hr[:h, :w]
        hr_t = torch.from_numpy(np.ascontiguousarray(hr.transpose(2, 0, 1)))[None]
        lr = bicubic_downsample(hr_t, s)
        if tile is None:
            sr = model.predict(lr.numpy())[0].transpose(1, 2, 0)
        else:
            from .apply import super_resolve

            sr = super_resolve(lr[0].numpy().transpose(1, 2, 0), model, tile=tile,
                               overlap=overlap)
        sr = np.clip(sr, 0, 1)
        if np.isnan(sr).any():  # outputs that overflowed (a diverged model): no figure,
            # which the training tells as a divergence; metrics.sr refuses a NaN image,
            # and a NaN HR image (its NaN went through the model) in its words
            fidelity_image(hr, "hr")
            psnrs.append(math.nan)
            ssims.append(math.nan)
            continue
        psnrs.append(psnr_y(hr, sr, s))
        ssims.append(ssim_y(hr, sr, s))
    return {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims))}


def _load_val(folder: str | None, limit: int, scale: int | None = None
              ) -> list[np.ndarray]:
    """The first ``limit`` validation images of ``folder`` (float32 RGB in [0, 1]); with
    ``scale``, each checked to be large enough for :func:`evaluate_sr` at that scale
    (:func:`napari_srmat.metrics.sr.check_evaluated_side`), so that a small one is
    refused before the training, not at its first validation."""
    if not folder:
        return []
    if not Path(folder).exists():  # named as what it is, not as a training source
        raise SRError(not_found_message(folder, "validation data"))
    # only those used are read and checked (until 2026-12-07 every image of the folder: a
    # NaN in one never used refused the run)
    imgs = load_training_images([folder], role="validation", limit=limit)
    if scale is not None:
        from ..metrics.sr import check_evaluated_side

        for path, im in zip(source_image_files(folder), imgs):
            check_evaluated_side(im.shape, scale, name=f"validation image {path}")
    return [to_float01(np.asarray(im[:, :])) for im in imgs]


# --------------------------------------------------------------------------- state
#: Settings a resumed training may change (how long and where it runs, how often it
#: reports, the checkpoint's precision); every other setting must equal the interrupted
#: run's, or ``resume`` is refused.
RESUME_MAY_CHANGE = ("steps", "val_every", "log_every", "resume", "overwrite", "device",
                     "num_threads", "time_limit_s", "half")
#: Entries of the recorded settings that say which images were trained and validated on:
#: compared by :func:`_data_differences` (resolved paths and content), not as settings.
DATA_KEYS = ("data", "val", "inputs")


def _resume_settings(training_info: dict) -> dict:
    """The settings a resume must match, JSON-normalised (tuples become lists)."""
    kept = {k: v for k, v in training_info.items() if k not in RESUME_MAY_CHANGE}
    return json.loads(json.dumps(kept, sort_keys=True, default=str))


def _data_differences(saved: dict, settings: dict) -> tuple[list[str], bool]:
    """How the images of this run (``settings["inputs"]``) differ from those a training
    state was started with, and whether its record is an older version's: that holds
    the ``data`` sources and ``val`` only as typed, compared as resolved paths (arrays:
    by their description), not by content
    (:func:`napari_srmat.outputs.input_differences`)."""
    from ..outputs import input_differences

    inputs = settings["inputs"]
    older = not isinstance(saved.get("inputs"), dict)
    recorded = {"data": saved.get("data") or [], "val": saved.get("val")} if older \
        else saved["inputs"]
    data, stored = inputs["data"], list(recorded.get("data") or [])
    if len(stored) != len(data):
        return [f"data: {len(data)} source{'s' if len(data) != 1 else ''}, the run was "
                f"started with {len(stored)}"], older
    diffs = [d for k, (a, b) in enumerate(zip(stored, data))
             for d in input_differences(f"data source {k + 1}" if len(data) > 1 else "data",
                                        a, b)]
    return diffs + input_differences("val", recorded.get("val"), inputs["val"]), older


def _check_resume(path: Path, saved: dict | None, settings: dict, *,
                  best_compared: bool = True) -> list[str]:
    """Refuse to continue a training state started with other settings or other images,
    or, where the resumed run compares its validations with the state's best
    (``best_compared``: it trains or validates on from a state whose ``best_psnr`` is a
    validation's), validated by another PSNR rule (:data:`VAL_METRIC`); return the
    warnings to give (a state an older version wrote: its files were not compared). A
    complete run resumed with no more steps, or one stopped before its first validation,
    mixes no two rules' numbers: not refused for its rule."""
    from ..outputs import identity_differences

    def refused(why: str, fix: str = "", **fields: Any) -> SRError:
        return resume_refused(SRError, path, why, fix, **fields)

    if saved is None:
        raise refused("it does not record the settings it was started with (an older "
                      "version wrote it)")
    data_diffs, older = _data_differences(saved, settings)
    if data_diffs:  # as the UAED training's 'trained on other data'
        raise refused(as_template(f"it was trained on other images ({'; '.join(data_diffs)})"),
                      "resume it with the same images")
    rule = settings.get(VAL_METRIC_KEY)
    if best_compared and rule is not None and saved.get(VAL_METRIC_KEY) != rule:
        # its weights are kept by a fine-tune from them, which validates its starting
        # point by this version's rule first: nothing of the two rules mixes
        last = path.parent / "last"
        raise refused(as_template("it chose its best by another validation PSNR ("
                            + (saved.get(VAL_METRIC_KEY) or "of RGB with the border in: an "
                               "older version wrote it") + f") than this version's {rule}, "
                            "and the two cannot be compared"),
                      "fine-tune from its weights ({init}) into a new output folder",
                      init=Option(f"init_checkpoint='{last}'", f"--init-checkpoint {last}",
                                  f"'{CHECKPOINT_CONTROL}' {last}"))

    # a setting a state does not record (written before it existed: pairs, teacher,
    # init_checkpoint) reads as None, its default; until 2026-12-07 (752da251) its
    # '<missing>' refused such a state
    keys = (set(saved) | set(settings)) - {*DATA_KEYS, VAL_METRIC_KEY}

    def compared(d: dict) -> dict:  # the rule: compared above, where this run validates
        # (without val, data_diffs compares the val)
        return {k: d.get(k) for k in keys}

    diff = identity_differences(compared(saved), compared(settings))
    if diff:  # named in each caller's words, as the UAED training's (other_settings)
        why, fix, fields = other_settings(diff, SETTING_WORDS, [
            k for k in RESUME_MAY_CHANGE if k not in ("resume", "overwrite")])
        raise refused(why, fix, **fields)
    return [f"{path} records no fingerprint of its images (an older version wrote it): "
            "only where they lay was compared, not their files"] if older else []


#: Where a run folder records the step ``resume=True`` continues from: the one rule the
#: state's writer, its loader, :func:`_earlier_run` and a stopped run's line
#: (:func:`napari_srmat.cli._training.rerun_after_stop`) follow. Its file is the
#: ``config.json`` of the ``train_state`` checkpoint.
RESUME_RECORD = ResumeRecord("train_state", CONFIG_NAME, "step", "from step {n}")
#: The entry of :data:`RESUME_RECORD`'s file holding the step whose validation last ended
#: with ``best`` chosen (None: none yet). A state written at a step whose validation was
#: due and had not ended (a KeyboardInterrupt at the step, in its validation, at its
#: Metric) is validated first when resumed; until 2026-12-06 that step's validation was
#: lost, and its model never considered for ``best``.
VALIDATED_KEY = "validated_step"
#: The rule of the validation PSNR ``best`` is chosen by (:func:`evaluate_sr`'s ``psnr``:
#: :func:`napari_srmat.metrics.sr.psnr_y`), recorded as :data:`VAL_METRIC_KEY` with the
#: settings of a run that validates (its checkpoints' ``training``, its
#: :data:`RESUME_RECORD`'s ``settings``). A state that records none validated by the PSNR
#: of RGB with the border in (until 2026-12-06): its ``best_psnr`` is not comparable with
#: this rule's, and a resume that would compare them (it trains or validates on) is
#: refused (:func:`_check_resume`), not continued with ``best`` kept or replaced by
#: comparing two rules' numbers; a complete run resumed with no more steps, or one
#: stopped before its first validation (``best_psnr`` -inf), is not.
VAL_METRIC = "psnr_y"
VAL_METRIC_KEY = "val_metric"
#: The Train widget's controls of the HR patch and the scale, as refusals name them
#: (:func:`napari_srmat.errors.worded_error`).
PATCH_CONTROL = "HR patch (px)"
SCALE_CONTROL = "SR scale"
#: The Train widget's controls both trainings share, as refusals name them.
LR_CONTROL, BATCH_SIZE_CONTROL, DEVICE_CONTROL = "Learning rate", "Batch size", "Device"
#: The Train widget's label of its steps control: an SR training's steps, a UAED
#: training's epochs.
STEPS_CONTROL, EPOCHS_CONTROL = "Steps", "Epochs"


def setting_option(key: str, flag: str | None = None, control: str | None = None) -> Option:
    """A training setting ``key`` as each caller names it in a refusal
    (:func:`~napari_srmat.errors.worded_error`): the keyword, the ``srmat`` command's
    ``flag`` (its key where it has none) and the Train widget's ``control`` (the key, an
    Extra (JSON) option, where it has none)."""
    return Option(key, flag or key, f"'{control}'" if control else None)


#: The settings both trainings share (the SR and the UAED one), as their resume refusals
#: name them (:func:`setting_words`): keyword: (``srmat``'s flag, the Train widget's
#: control). ``--learning-rate``, not its deprecated old name ``--lr``.
SHARED_SETTINGS = {
    "lr": ("--learning-rate", LR_CONTROL), "batch_size": ("--batch-size", BATCH_SIZE_CONTROL),
    "device": ("--device", DEVICE_CONTROL),
    "init_checkpoint": ("--init-checkpoint", CHECKPOINT_CONTROL),
    "num_threads": ("--threads",), "seed": ("--seed",)}


def setting_words(own: dict[str, tuple[str, ...]]) -> dict[str, Option]:
    """A training's settings in each caller's words (:func:`setting_option`): the
    :data:`SHARED_SETTINGS` and its ``own`` (keyword: (flag, control)); a nested
    setting by its dotted key (``degradation.mode``)."""
    return {k: setting_option(k, *v) for k, v in {**SHARED_SETTINGS, **own}.items()}


#: The SR training's settings a resume refusal names (:func:`resume_refused`), in each
#: caller's words; the others are told by their keyword. ``register_pairs`` is worded
#: as what ``--pairs-aligned`` turns off (its True is no ``--pairs-aligned``).
SETTING_WORDS = setting_words({
    "model": ("--model", ENCODER_CONTROL), "scale": ("--scale", SCALE_CONTROL),
    "steps": ("--train-steps", STEPS_CONTROL), "patch": ("--patch", PATCH_CONTROL),
    "time_limit_s": ("--time-limit",), "val_every": ("--val-every",),
    "synthetic": ("--synthetic",), "loss": ("--loss",), "noise": ("--noise",),
    "exclude": ("--exclude",), "degradation": ("--degradation",),
    "degradation.mode": ("--degradation",), "pairs": ("--pairs",),
    "register_pairs": ("registration of --pairs (off: --pairs-aligned)",)})


def resume_refused(error: type[ValueError], what: Any, why: str, fix: str = "",
                   **fields: Any) -> ValueError:
    """The one refusal of a training resume that cannot go on, the SR and the UAED
    training's alike: ``cannot resume WHAT: WHY; [FIX, or ]rerun START_OVER to start
    over, or choose a new output folder``, worded for each caller
    (:func:`~napari_srmat.errors.worded_error`: keywords, ``srmat``'s flags, the Train
    widget's controls; :data:`~napari_srmat.outputs.START_OVER`).

    Parameters
    ----------
    error : type of exception
        What to raise.
    what : path
        The run folder's state refused.
    why, fix : str
        Templates (``{name}`` fields of ``fields``; a plain text's braces doubled).
    **fields
        Their values: an :class:`~napari_srmat.errors.Option` is worded for each caller.

    Returns
    -------
    exception
        To raise.

    Examples
    --------
    >>> exc = resume_refused(SRError, "run/train_state", "it was trained with other "
    ...                      "settings ({lr}: stored 0.001 != requested 0.002)",
    ...                      lr=SETTING_WORDS["lr"])
    >>> exc.cli_message.split(" (")[1].split(")")[0]
    '--learning-rate: stored 0.001 != requested 0.002'
    >>> exc.gui_message.split(" (")[1].split(")")[0]
    "'Learning rate': stored 0.001 != requested 0.002"
    >>> exc.gui_message.split("; ")[1].split(" to start")[0]
    "rerun with 'Resume' unticked and 'Overwrite' ticked"
    """
    from ..outputs import START_OVER

    return worded_error(error, "cannot resume {what}: " + why + "; "
                        + (fix + ", or " if fix else "") + "rerun {start_over} to start "
                        "over, or choose a new output folder", what=what,
                        start_over=START_OVER, **fields)


def as_template(text: str) -> str:
    """Plain ``text`` as a part of :func:`resume_refused`'s templates: its braces (a
    path's, a setting's value) doubled, read as themselves."""
    return text.replace("{", "{{").replace("}", "}}")


#: The most settings a resume refusal lists (:func:`other_settings`); the rest counted.
SHOWN_SETTINGS = 4


def other_settings(diffs: list[str], words: dict[str, Option], may_change: Iterable[str]
                   ) -> tuple[str, str, dict[str, Any]]:
    """The ``why`` and ``fix`` of :func:`resume_refused` for a run started with other
    settings: ``diffs`` as :func:`~napari_srmat.outputs.identity_differences` tells them
    (``key: stored A != requested B``), each setting named by ``words`` (a key not in
    it, or an entry of one, by its key), and the settings that ``may_change``.

    Returns
    -------
    why, fix : str
        Templates: ``it was trained with other settings (...)`` and ``resume it with the
        same settings (only ... may change)``.
    fields : dict
        Their values.
    """
    fields: dict[str, Any] = {}
    shown = []
    for i, line in enumerate(diffs[:SHOWN_SETTINGS]):
        key, _, told = line.partition(": ")
        fields[f"s{i}"], fields[f"v{i}"] = words.get(key, key), told
        shown.append(f"{{s{i}}}: {{v{i}}}")
    more = f"; and {len(diffs) - SHOWN_SETTINGS} more" if len(diffs) > SHOWN_SETTINGS else ""
    names = []
    for j, key in enumerate(may_change):
        fields[f"m{j}"] = words.get(key, key)
        names.append(f"{{m{j}}}")
    listed = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)
    return (f"it was trained with other settings ({'; '.join(shown)}{more})",
            f"resume it with the same settings (only {listed} may change)", fields)
#: The warning of a run without validation images (``val``: ``--val``, the Train widget's
#: Extra ``{"val": DIR}``): its ``best/`` is the model of the last step (the result's
#: ``best_psnr`` None), told before it trains, as the UAED training tells that it
#: validates on its training images. Until 2026-12-07 the widget's run said only 'done'.
NO_VALIDATION_WARNING = ("no validation images: best/ will be the last step's model, not "
                         "one chosen by validation PSNR")


def _validation_due(step: int, cfg: SRTrainConfig) -> bool:
    """Whether a run validates after ``step`` (with validation images): every
    ``val_every`` steps and at its last."""
    return step % cfg.val_every == 0 or step == cfg.steps


def _weights_as_now(model):
    """A stand-in of TorchSRModel ``model`` that
    :func:`~napari_srmat.sr.registry.save_model_checkpoint` writes as ``model`` is now
    (its config, its weights as copied now), whatever ``model`` trains since: the weights
    are a copy in CPU memory, not a second copy of the model on its device (a fine-tune's
    starting point, kept until its first trained step, was a full device copy until
    2026-12-06). For writing only: it shares ``model``'s network."""
    import copy

    state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    kept = copy.copy(model)
    kept.state_dict = lambda: state
    return kept


def _save_train_state(path: Path, model, opt, step: int, best: float, history: list,
                      settings: dict, *, ema=None, rngs: dict | None = None,
                      generator=None, validated_step: int | None = None) -> None:
    """Write the training state: raw weights, AdamW state, and what makes a resumed run
    continue exactly as an uninterrupted one: the float32 EMA weights (``last`` may be
    fp16), the states of the numpy generators ``rngs`` (JSON) and of the torch
    ``generator``, and the step whose validation last ended, ``best`` chosen
    (``validated_step``: a resume validates ``step`` where it was due and not done,
    :data:`VALIDATED_KEY`)."""
    from ..checkpoint import save_checkpoint

    tensors = {f"model.{k}": v for k, v in model.net.state_dict().items()}
    if ema is not None:
        tensors.update({f"ema.{k}": v for k, v in ema.net.state_dict().items()})
    if generator is not None:
        tensors["rng.torch"] = generator.get_state()
    sd = opt.state_dict()
    for pid, st in sd["state"].items():
        for key, val in st.items():
            tensors[f"opt.{pid}.{key}"] = val if hasattr(val, "shape") else _scalar(val)
    extra = getattr(model, "extra_train_state", None)  # e.g. the cgan discriminator
    if extra is not None:
        tensors.update({f"extra.{k}": v for k, v in extra().items()})
    config = {
        "model": "sr-train-state",
        "sr_model": model.name,
        RESUME_RECORD.key: int(step),
        "best_psnr": float(best),
        VALIDATED_KEY: validated_step,
        "param_groups": sd["param_groups"],
        "history": history[-200:],
        "settings": settings,
    }
    if rngs is not None:
        config["rng"] = {name: r.bit_generator.state for name, r in rngs.items()}
    save_checkpoint(path, tensors, config, overwrite=True)


def _scalar(v):
    import torch

    return torch.tensor(float(v))


def _load_train_state(path: Path, model, opt, settings: dict, *, ema=None,
                      rngs: dict | None = None, generator=None,
                      goes_on: Callable[[int, bool], bool] | None = None
                      ) -> tuple[int, float, str | None, list, list[str], bool, bool]:
    """Load a training state into ``model`` and ``opt`` (and, where it holds them, the
    EMA weights into ``ema``, the generator states into ``rngs`` / ``generator``): its
    step, best PSNR, the rule of that PSNR (:data:`VAL_METRIC_KEY`; None: an older
    version's, RGB), history, the warnings of :func:`_check_resume`, whether the EMA
    and generators were restored (a state of an older version holds neither) and whether
    its step was validated (:data:`VALIDATED_KEY`; an older version's state: taken as
    validated). ``goes_on(step, validated)``: whether the resumed run trains or
    validates on from the state's step (None: it does), whose validations are then
    compared with the state's best (:func:`_check_resume`'s ``best_compared``)."""
    from ..checkpoint import load_checkpoint

    tensors, config = load_checkpoint(path)
    step = int(config[RESUME_RECORD.key])
    best = float(config.get("best_psnr", -math.inf))
    validated = config.get(VALIDATED_KEY, step) == step
    warnings = _check_resume(path, config.get("settings"), settings,
                             best_compared=math.isfinite(best) and (
                                 goes_on is None or goes_on(step, validated)))
    model.net.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict[int, dict] = {}
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, pid, key = k.split(".", 2)
            state.setdefault(int(pid), {})[key] = v
    opt.load_state_dict({"state": state, "param_groups": config["param_groups"]})
    load_extra = getattr(model, "load_extra_train_state", None)
    if load_extra is not None:
        load_extra({k[6:]: v for k, v in tensors.items() if k.startswith("extra.")})
    saved_rngs = config.get("rng")
    exact = (isinstance(saved_rngs, dict) and "rng.torch" in tensors
             and any(k.startswith("ema.") for k in tensors)
             and set(rngs or {}) <= set(saved_rngs))
    if exact:
        if ema is not None:
            ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
        for name, r in (rngs or {}).items():
            r.bit_generator.state = saved_rngs[name]
        if generator is not None:
            generator.set_state(tensors["rng.torch"])
    rule = (config.get("settings") or {}).get(VAL_METRIC_KEY)
    return step, best, rule, list(config.get("history", [])), warnings, exact, validated


def val_psnr_label(rule: str | None) -> str:
    """The name of a best validation PSNR chosen by ``rule`` (:data:`VAL_METRIC_KEY` of a
    state or of :func:`train_sr`'s result): the one wording of :func:`_earlier_run` and
    ``srmat sr train``'s last line.

    Parameters
    ----------
    rule : str or None
        :data:`VAL_METRIC`, or None (an older version's state: the PSNR of RGB with the
        border in, some dB below the Y one).

    Returns
    -------
    str
        ``"val PSNR (Y)"`` or ``"val PSNR (RGB, an older version's rule)"``.

    Examples
    --------
    >>> val_psnr_label(VAL_METRIC)
    'val PSNR (Y)'
    >>> val_psnr_label(None)
    "val PSNR (RGB, an older version's rule)"
    """
    named = "Y" if rule == VAL_METRIC else "RGB, an older version's rule"
    return f"val PSNR ({named})"


def _earlier_run(out: Path) -> str | None:
    """What the training run in folder ``out`` holds, in words (``"200 steps, best val
    PSNR (Y) 36.40 dB"``; ``(RGB, an older version's rule)`` for a state that records
    no :data:`VAL_METRIC_KEY`, whose best is the PSNR of RGB with the border in); None
    when ``out`` holds none (no ``train_state``, ``last`` or ``best``)."""
    found = [n for n in (RESUME_RECORD.folder, "last", "best") if (out / n).is_dir()]
    if not found:
        return None
    step = best = rule = None
    try:
        state = json.loads((out / RESUME_RECORD.folder / RESUME_RECORD.file).read_text())
        step = int(state[RESUME_RECORD.key])
        best = float(state.get("best_psnr", -math.inf))
        rule = (state.get("settings") or {}).get(VAL_METRIC_KEY)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        step = _ckpt_step(out / "last")
    parts = [f"{step} step{'s' if step != 1 else ''}"] if step is not None else []
    if best is not None:
        parts.append(f"best {val_psnr_label(rule)} {best:.2f} dB" if math.isfinite(best)
                     else "nothing validated")
    return ", ".join(parts) or ", ".join(found)


def _lr_at(step: int, cfg: SRTrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


# --------------------------------------------------------------------------- job
def _init_model(cfg: SRTrainConfig, checkpoint: str | None, device: str):
    """Load the weights a fine-tuning run starts from (float32, trainable)."""
    from .registry import load_model, shipped_weights_dir

    if checkpoint is None and shipped_weights_dir(cfg.model, cfg.scale) is None:
        raise SRError(f"init_checkpoint='default': no shipped weights for {cfg.model!r} "
                      f"x{cfg.scale}")
    model = load_model(cfg.model, checkpoint=checkpoint, scale=cfg.scale, device=device)
    model.net.float()
    return model


#: The checkpoint folders of an SR training run's folder
_RUN_CHECKPOINTS = ("last", "best", RESUME_RECORD.folder)

#: The longest (seconds of training) a run goes without writing its resumable state
#: (``train_state`` and ``last``) when no validation writes it sooner: a run killed
#: outright (power cut, SIGKILL) loses at most this much. Writing a small model's state
#: takes well under a second.
TRAIN_STATE_EVERY_S = 300.0



def train_sr_job(config: SRTrainConfig | dict, *, stop: StopToken | None = None
                 ) -> Generator[Event, None, dict]:
    """Train a ``cnn``, ``onestep``, ``ddpm``, ``cgan`` or ``refsr`` SR model (job generator).

    Parameters
    ----------
    config : SRTrainConfig or dict
        Training settings.
    stop : StopToken, optional
        Checked every step; on a stop request the ``last`` checkpoint and the
        training state are written, :class:`~napari_srmat.jobs.Stopped` is yielded and
        the job returns. A KeyboardInterrupt thrown in at one of its events (between
        steps) writes them too before it goes on; one that lands mid-step does not (the
        state would be half a step's), and the last state written stands:
        :data:`TRAIN_STATE_EVERY_S`. A run stopped or interrupted before its first
        step writes nothing (a new run's folder holds no checkpoint; what a resumed or
        replaced run's held stays).

    Yields
    ------
    Progress, Log, Metric, Checkpoint, Stopped, AlreadyComplete
        A run resumed with no more steps than its ``train_state`` holds trains nothing:
        it yields :class:`~napari_srmat.jobs.AlreadyComplete` (``path``: ``out``).

    Returns
    -------
    dict
        ``step``, ``best_psnr`` (the validation ``psnr`` of ``best``:
        :func:`evaluate_sr`), ``val_metric`` (its rule, :data:`VAL_METRIC`; None where
        ``best_psnr`` is, or is an older version's RGB figure: :func:`val_psnr_label`),
        ``val`` (last validation), ``last``, ``best`` (None where the run wrote none:
        stopped before its first step),
        ``history`` (list of ``{"step", "loss"}``), ``stopped``, ``unwritten`` (the
        checkpoints a finished run resumed owed and did not write, a stop or the time
        limit first: :func:`_owed_checkpoints`), ``seconds``, ``warnings`` (what
        the run's ``best`` is not: no validation images, best/ the last step's model; a
        validated best whose folder is gone; told as they came, as
        :class:`napari_srmat.edges.train.TrainResult`'s ``warnings``).

    Raises
    ------
    SRError
        Among others: an image of ``data`` given twice (a file beside the folder that
        holds it, one file under two names or in two folders), refused before anything
        is read or written (:func:`~napari_srmat.outputs.check_distinct_files`).
    napari_srmat.outputs.OutputLockedError
        Another run is writing into ``out`` (its lock, ``OUT.lock``, is held).
    """
    from ..outputs import holding

    return (yield from holding(_train_sr, config, stop))


def check_options(job: str, config_type: type, options: dict) -> None:
    """Refuse ``options`` (a training config as a dict, or a plain function's overrides)
    naming what is no field of the dataclass ``config_type`` (its methods too): a
    TypeError naming ``job``, the key and the closest field, the plain functions' rule
    (:func:`napari_srmat.jobs.plain_version`). Until 2026-12-07 ``train_sr_job``'s
    was the config constructor's TypeError, ``train_boundaries_job``'s a ValueError
    ("unknown training option(s)"), neither with the closest name.

    Examples
    --------
    >>> check_options("train_sr_job", SRTrainConfig, {"stpes": 3})
    Traceback (most recent call last):
    ...
    TypeError: train_sr_job() got an unexpected keyword argument 'stpes' (did you mean 'steps'?)
    """  # noqa: E501
    sig = inspect.signature(config_type)
    try:
        sig.bind_partial(**options)
    except TypeError as exc:
        raise TypeError(_argument_error(job, exc, options, sig)) from None


def _train_sr(config: SRTrainConfig | dict, stop: StopToken | None,
              held) -> Generator[Event, None, dict]:
    """The body of :func:`train_sr_job`; ``held`` holds the run folder's lock."""
    import torch

    from .registry import load_model, save_model_checkpoint

    if isinstance(config, dict):
        check_options("train_sr_job", SRTrainConfig, config)
    cfg = SRTrainConfig(**config) if isinstance(config, dict) else config
    cfg.validate()
    stop = check_stop(stop)
    check_learning_rate(cfg.lr)
    set_cpu_threads(cfg.num_threads)
    torch.manual_seed(cfg.seed)
    from ..checkpoint import remove_interrupted_checkpoint_writes
    from ..outputs import (
        check_no_earlier_run,
        check_output_dir,
        lock_run_folder,
        prepare_output_dir,
    )

    sources = [d for d in cfg.data if isinstance(d, (str, os.PathLike))]
    # an image given twice (a file beside the folder that holds it, one file under two
    # names or in two folders) is drawn from twice as often: refused, first, as
    # ``srmat sr train --data`` refuses it (one rule); a folder stands for the images it
    # gives the training, as load_training_images reads them (_sources_images)
    given = _sources_images(sources, cfg.exclude)[0]
    check_distinct_files(sources, "training source", EACH_IMAGE_ONCE, error=SRError,
                         members=given.__getitem__)
    inputs = [*sources, cfg.val, cfg.pairs]
    check_output_dir(cfg.out, "sr_training", inputs=inputs)  # created once inputs loaded
    lock = lock_run_folder(held, cfg.out)  # one run per folder
    resumable = (Path(cfg.out) / RESUME_RECORD.folder).is_dir()
    if not (cfg.resume and resumable):  # resume into an empty folder: a new run
        # a run without its train_state (best/ alone) is not offered --resume by the plain
        # rerun's refusal: until 2026-12-07 it was, and --resume then refused it
        check_no_earlier_run(cfg.out, _earlier_run(Path(cfg.out)), overwrite=cfg.overwrite,
                             resumable=resumable)
    t0 = time.monotonic()

    images = load_training_images(cfg.data, cfg.exclude, patch=cfg.patch) if cfg.data else []
    labels: list = [None] * len(images)
    # at least a patch: a smaller image's crops would be mostly reflect padding
    synth_side = max(cfg.synthetic_size, cfg.patch)
    check_in_memory(plan_synthetic_set(cfg.synthetic, (synth_side, synth_side),
                                       SYNTHETIC_BYTES_PER_PX), "--synthetic",
                    advice="give fewer synthetic micrographs", error=SRError)
    synth, synth_labels = _synthetic_images(cfg.synthetic, synth_side, cfg.seed,
                                            with_labels=True)
    images += synth
    pair_sampler = None
    structure = cfg.noise == "structure"
    if cfg.pairs:
        from .pairs import PairSampler, load_pairs

        pairs = load_pairs(cfg.pairs, cfg.scale, register=cfg.register_pairs)
        for pair in pairs:
            reg = pair.registration
            yield Log(f"pair {pair.source[0]}: LR {pair.lr.shape[:2]}"
                      + (f", registered: scale {reg['scale']:.4f}, offset "
                         f"({reg['offset_px'][0]:.2f}, {reg['offset_px'][1]:.2f}), "
                         f"ssim {reg['ssim']:.3f}" if reg else ", assumed aligned"))
        pair_sampler = PairSampler(pairs, cfg.patch, cfg.scale, seed=cfg.seed)
    else:
        labels += synth_labels
        if not images:
            raise SRError("no training data: give data folders and/or synthetic > 0")
        yield Log(f"{len(images)} training images ({len(synth)} synthetic)")
        if structure:
            yield Log("structure-modulated noise: regions = grain labels of the synthetic "
                      f"images, SLIC superpixels of the {len(images) - len(synth)} others")
    sampler = pair_sampler or PatchSampler(images, cfg.patch, seed=cfg.seed, labels=labels)
    val_images = _load_val(cfg.val, cfg.max_val_images, cfg.scale)
    deg = DegradationConfig(**cfg.degradation)
    rng = np.random.default_rng(cfg.seed + 1)
    gen = torch.Generator("cpu").manual_seed(cfg.seed + 2)

    device = resolve_device(cfg.device)
    if cfg.init_checkpoint:
        init_path = None if cfg.init_checkpoint == "default" else cfg.init_checkpoint
        model = _init_model(cfg, init_path, device)
        ema = _init_model(cfg, init_path, device)
        yield Log(f"initialised from {model.checkpoint or 'the shipped weights'}")
    else:
        model = load_model(cfg.model, scale=cfg.scale, device=device, pretrained=False,
                           **cfg.arch)
        ema = load_model(cfg.model, scale=cfg.scale, device=device, pretrained=False,
                         **cfg.arch)
    if cfg.model == "ddpm":
        ema.options["num_inference_steps"] = min(ema.options["num_inference_steps"], 10)
    ema.net.load_state_dict(model.net.state_dict())
    if getattr(ema, "needs_reference", False):
        # refsr validates with a training HR image as its reference (never a val image);
        # the outputs of a last step no validation saw are checked with it too (save_last)
        ref = pair_sampler.pairs[0].hr if pair_sampler is not None else images[0]
        ema.set_reference(np.asarray(ref[:1024, :1024]), name="training image 0")
    for p in ema.net.parameters():
        p.requires_grad_(False)
    teacher = None
    if cfg.teacher and cfg.distill_weight > 0:
        teacher = load_model("ddpm", checkpoint=cfg.teacher, device=device)
    opt = torch.optim.AdamW(model.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                            betas=(0.9, 0.99))

    # not asdict(): it would deep-copy in-memory training arrays
    training_info = {f.name: getattr(cfg, f.name) for f in fields(cfg)
                     if f.name not in ("out", "data")}
    training_info["device"] = device  # the resolved device, not "auto"
    for key in ("teacher", "init_checkpoint", "pairs"):  # compared on resume: where they
        value = training_info.get(key)  # lie, not the text typed (a relative name from
        if isinstance(value, (str, os.PathLike)) and value != "default" \
                and Path(value).exists():  # another folder named other weights)
            training_info[key] = str(Path(value).expanduser().resolve())
    if pair_sampler is not None:  # LR inputs are real acquisitions, not degradations
        training_info["lr_source"] = "pairs"
        training_info["pair_registrations"] = [p.registration for p in pair_sampler.pairs]
    # the images trained and validated on: resolved paths, and their fingerprints,
    # compared on resume
    data_ids = [_source_identity(d, cfg.exclude, given=given) for d in cfg.data]
    training_info["data"] = [i.get("path") or i.get("array") for i in data_ids]
    val_id = _source_identity(cfg.val, limit=cfg.max_val_images) if cfg.val else None
    training_info["val"] = val_id["path"] if val_id else None
    training_info["inputs"] = {"data": data_ids, "val": val_id}
    if val_id:  # the rule best is chosen by, compared on resume
        training_info[VAL_METRIC_KEY] = VAL_METRIC
    settings = _resume_settings(training_info)
    out = prepare_output_dir(cfg.out, "sr_training", inputs=inputs)
    lock.acquire()
    for partial in remove_interrupted_checkpoint_writes(out, _RUN_CHECKPOINTS):
        yield Log(f"removed {partial.name}, a checkpoint a killed run was writing")
    step, best, history = 0, -math.inf, []
    best_rule = None  # the rule of best's PSNR (VAL_METRIC_KEY; None: an older version's)
    state_dir, last_dir, best_dir = out / RESUME_RECORD.folder, out / "last", out / "best"
    # the step of the ``last`` checkpoint of this run (a resumed one: the one it continues);
    # None: a ``last`` or ``best`` in OUT is an earlier run's, replaced by this run's own
    last_step = None
    resumed_steps = 0  # the steps an earlier run trained (Progress.resumed)
    unvalidated = False  # the resumed step's validation was due and did not end
    exact = False  # the resumed state holds its EMA weights (an older version's does not)

    def unvalidated_at(s: int, validated: bool) -> bool:
        """Whether a resumed state's step ``s`` is validated first: due, and not done."""
        return bool(val_images) and not validated and _validation_due(s, cfg)

    if cfg.resume and state_dir.is_dir():
        step, best, best_rule, history, warnings, exact, validated = _load_train_state(
            state_dir, model, opt, settings, ema=ema,
            rngs={"sampler": sampler.rng, "degrade": rng}, generator=gen,
            goes_on=lambda s, validated: s < cfg.steps or unvalidated_at(s, validated))
        for warning in warnings:
            yield Log(warning, level="warning")
        if last_dir.is_dir():
            if not exact:  # an older version's state: the EMA as ``last`` stored it
                from ..checkpoint import load_checkpoint

                ema.load_state_dict(load_checkpoint(last_dir)[0])
            last_step = _ckpt_step(last_dir)
        yield Log(f"resumed from {state_dir} at step {step}", level="notice")
        resumed_steps = step
        unvalidated = unvalidated_at(step, validated)
        if not exact:  # no generator states recorded: new streams from the step
            yield Log(f"{state_dir} records no random-generator state (an older version "
                      "wrote it): the resumed run draws other crops than an uninterrupted "
                      "one would", level="warning")
            sampler.rng = np.random.default_rng(cfg.seed + step)
            rng = np.random.default_rng(cfg.seed + 1 + step)
            gen.manual_seed(cfg.seed + 2 + step)
    elif cfg.resume:
        from ..outputs import nothing_to_resume

        yield Log(nothing_to_resume(out, state_dir.name), level="warning")
    if step < cfg.steps or unvalidated:  # a file of the user's in last/ or best/ stopped
        # the run at its first save there, after the training: refused now
        for folder in (last_dir, best_dir):
            check_replaceable_checkpoint(folder)
    complete = bool(resumed_steps) and step >= cfg.steps and not unvalidated
    if complete:  # resumed with as many steps as done, or
        # fewer: nothing to train, told as the UAED training tells it (the outcome is the
        # type: the Train widget's 'done (already complete from an earlier run)')
        yield training_already_complete(out, state_dir, step, cfg.steps, "step")
    elif resumed_steps:  # told in steps, as the UAED training tells it (the Train
        # widget's 'done (resumed: 600/1000 steps from an earlier run)')
        yield Progress(step, cfg.steps, stage="steps", resumed=resumed_steps)

    bicubic_val = None
    # the warnings of what the run leaves (its best/), returned as the UAED training's
    # TrainResult.warnings are
    told_why: list[str] = []
    if val_images:
        bicubic_val = evaluate_sr(load_model("bicubic", scale=cfg.scale), val_images)
        yield Metric(step, {f"bicubic_{k}": v for k, v in bicubic_val.items()}, split="val")
    elif not complete:  # told before training, as the UAED training tells its own lack
        # of validation data (the Train widget has no validation control), and kept in
        # the result's warnings (what its best/ is: the Train widget's done line)
        yield Log(NO_VALIDATION_WARNING, level="warning")
        told_why.append(NO_VALIDATION_WARNING)

    # the step this session starts from: a run stopped (or its time limit reached) before
    # it trained one more saves nothing (what the folder held stays, a new run's holds
    # nothing), never a "step 0" state that a resume would take for progress, nor a
    # fine-tune's starting point as best
    first_step = step
    last_val: dict[str, float] = {}
    validated_step = None  # the step whose outputs validation saw
    last_batch = None  # of this session's last step: its outputs are checked otherwise
    # a fine-tune's starting point as validated: (its weights in CPU memory,
    # _weights_as_now; its checkpoint's training record), the "best" to beat, written with
    # the session's first state after a trained step (save_last); None once written or
    # beaten (a session that trains no step writes nothing)
    baseline = None

    def validate(s: int, start: bool = False) -> list:
        """Validate the EMA model; write ``best`` when it improves; ``start``: the
        starting point, kept as ``baseline``. Returns the events, sent once the state is
        written too (:func:`save_last`): none while ``best`` has no state beside it."""
        nonlocal last_val, best, best_rule, validated_step, baseline
        check_finite_weights(model.net, ema.net, step=s)
        ema.net.eval()
        last_val = evaluate_sr(ema, val_images)
        if math.isnan(last_val["psnr"]):  # finite weights whose outputs overflow (a
            # perfect reconstruction is +inf)
            raise diverged_error("the validation PSNR", step=s)
        if bicubic_val:
            last_val["psnr_gain_db"] = last_val["psnr"] - bicubic_val["psnr"]
        improved = last_val["psnr"] > best
        info = dict(training_info, step=s, val=last_val)
        if improved and start:  # the starting point: kept until a step is
            # trained (write_baseline), no state saved before that
            baseline = (_weights_as_now(ema), info)
            best, best_rule = last_val["psnr"], VAL_METRIC
        elif improved:  # before the Metric: an interrupt there leaves it chosen; best/
            # written before best is raised: an interrupt in the write leaves the state's
            # best that of best/, and the resume's validation of the step beats it
            save_model_checkpoint(ema, best_dir, training=info, half=cfg.half)
            best, best_rule, baseline = last_val["psnr"], VAL_METRIC, None
        validated_step = s  # ended: the state saved from now on says so
        events: list = [Metric(s, dict(last_val), split="val")]
        if improved and baseline is None:
            events.append(Checkpoint(str(best_dir), step=s, score=best))
        return events

    def write_baseline() -> list:
        """Write the starting point kept by ``validate(0)`` as ``best``; its event."""
        nonlocal baseline
        if baseline is None:
            return []
        start, info = baseline
        save_model_checkpoint(start, best_dir, training=info, half=cfg.half)
        baseline = None
        return [Checkpoint(str(best_dir), step=info["step"], score=best)]

    def stop_asked() -> bool:
        return stop is not None and stop.stop_requested

    def time_up() -> bool:
        return cfg.time_limit_s is not None and time.monotonic() - t0 > cfg.time_limit_s

    if cfg.init_checkpoint and val_images and step == 0 and not (stop_asked() or time_up()):
        # a fine-tune keeps its starting point as "best" until it beats it (written with
        # its first state after a trained step: save_last)
        yield from validate(0, start=True)  # no best written: kept as baseline

    saved_at = time.monotonic()  # when the state was last written (TRAIN_STATE_EVERY_S)

    # the step whose steps train_state keeps (where this session wrote none: its start,
    # the steps it tells as not kept counted from it; a resume's ``last`` may be older)
    kept_step = first_step

    def save_state(s: int) -> None:
        """Write ``train_state`` at step ``s``, its weights checked first."""
        nonlocal kept_step
        # the last step's loss is checked by nothing: a diverged model was saved; nor are
        # its outputs without validation (no --val, or stopped before it): finite
        # weights whose outputs are NaN (lr 1e20, one step) were saved
        unseen = last_batch if validated_step != s else None
        ema.net.eval()
        check_finite_weights(ema.net, model.net, step=s, inputs=unseen, predict=ema.predict)
        _save_train_state(state_dir, model, opt, s, best, history, settings, ema=ema,
                          rngs={"sampler": sampler.rng, "degrade": rng}, generator=gen,
                          validated_step=validated_step)
        kept_step = s

    def write_last(s: int) -> Checkpoint:
        """Write ``last`` (the weights to run) at step ``s``, after its ``train_state``."""
        nonlocal last_step, saved_at
        info = dict(training_info, step=s, val=last_val)
        save_model_checkpoint(ema, last_dir, training=info, half=cfg.half)
        last_step, saved_at = s, time.monotonic()
        return Checkpoint(str(last_dir), step=s, score=last_val.get("psnr"))

    def save_last(s: int, validating: bool = False):
        """Write a kept ``baseline`` (``best``), validate step ``s`` (``validating``: its
        ``best`` written if it improves), write ``train_state`` and ``last`` at ``s``,
        then send their events: every write before the first event, so that no event
        finds ``best`` without the state a resume needs (a notebook's ``close()`` at an
        event keeps nothing; until 2026-12-07 one at the first ``best`` Checkpoint left a
        run whose resume was refused, "its state is missing")."""
        first = write_baseline()  # the start, before the validation that may beat it
        events = validate(s) if validating else []
        save_state(s)
        last = write_last(s)
        yield from first
        yield from events
        yield last

    unvalidated = unvalidated and not stop_asked()  # stopped at once: left for the next
    if unvalidated:  # as the interrupted run would have, before its next step
        yield Log(f"validating step {step}, whose validation the earlier run did not end",
                  level="notice")
        yield from save_last(step, validating=True)

    stopped = False
    running = []
    mid_step = False  # the weights, optimiser and generators hold part of a step
    try:
        while step < cfg.steps:
            if stop_asked():
                stopped = True
                break
            if time_up():
                yield Log(f"time limit {cfg.time_limit_s:g} s reached at step {step}",
                          level="warning")
                break
            model.net.train()
            mid_step = True
            extra = {}
            if pair_sampler is not None:  # real LR/HR acquisitions
                lr_np, hr_np = pair_sampler.sample(cfg.batch_size)
                hr = torch.from_numpy(hr_np).to(device)
                lr_img = torch.from_numpy(lr_np).to(device)
            else:
                if structure:
                    hr_np, regions = sampler.sample(cfg.batch_size, return_labels=True)
                    extra["noise_regions"] = torch.from_numpy(regions).to(device)
                else:
                    hr_np = sampler.sample(cfg.batch_size)
                hr = torch.from_numpy(hr_np).to(device)
                lr_img = degrade(hr, cfg.scale, deg, rng, gen)
            for g in opt.param_groups:
                g["lr"] = _lr_at(step, cfg)
            loss = model.training_loss(lr_img, hr, generator=gen, teacher=teacher,
                                       distill_weight=cfg.distill_weight, pixel_loss=cfg.loss,
                                       **extra)
            opt.zero_grad(set_to_none=True)
            loss_value = finite_loss(loss, step + 1)  # before the weights are touched
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.net.parameters(), 1.0)
            opt.step()
            step += 1
            d = min(cfg.ema, (1 + step) / (10 + step))
            with torch.no_grad():
                for pe, pm in zip(ema.net.parameters(), model.net.parameters()):
                    pe.mul_(d).add_(pm.detach(), alpha=1 - d)
            mid_step = False
            running.append(loss_value)
            last_batch = lr_img[:1]
            yield Progress(step, cfg.steps, stage=f"train {cfg.model}", resumed=resumed_steps)
            if step % cfg.log_every == 0 or step == cfg.steps:
                mean_loss = float(np.mean(running))
                running = []
                history.append({"step": step, "loss": mean_loss})
                yield Metric(step, {"loss": mean_loss, "lr": _lr_at(step - 1, cfg)})
            if val_images and _validation_due(step, cfg):
                yield from save_last(step, validating=True)
            elif time.monotonic() - saved_at >= TRAIN_STATE_EVERY_S:  # a kill loses no more
                yield from save_last(step)
    except KeyboardInterrupt as exc:  # a Ctrl-C where the caller polls no stop token
        if not mid_step and last_step != step and step > first_step:  # between steps:
            # the state is whole; then the interrupt goes on (the caller tells it), with
            # what was not kept and why where a write failed (jobs.keep_at_interrupt):
            # the steps (train_state, what a resume continues from), else only last
            def keep() -> None:
                write_baseline()
                save_state(step)

            n = step - kept_step
            keep_at_interrupt(exc, keep, f"{n} step{'s' if n != 1 else ''} to step {step} "
                                         f"not kept in {state_dir}")
            if kept_step == step:
                keep_at_interrupt(exc, lambda: write_last(step),
                                  f"the steps to step {step} are kept in {state_dir}; "
                                  f"{last_dir} (the weights to run) was not written")
        raise

    ema.net.eval()
    trained = step > first_step or unvalidated  # this session saved a state
    # a finished run resumed (nothing to train) whose state's checkpoints are owed: a
    # Ctrl-C whose write of last failed after its train_state's (jobs.keep_at_interrupt)
    owed = _owed_checkpoints(last_dir, best_dir, step, last_step, best) if complete else ()
    if owed and not exact:  # an older version's state: no EMA weights to write them from
        # (until 2026-12-07 skipped untold, 'best checkpoint: None')
        yield Log(_owed_without_ema(owed, state_dir), level="warning")
        owed = ()
    asked = stop_asked()
    unwritten = owed if asked or time_up() else ()  # a stop first: told as a stop (until
    # 2026-12-07 the run ended as done, "best checkpoint: None", the stop untold); the
    # time limit: told, and named in the result (srmat: the run was complete; until
    # 2026-12-07 '--time-limit ... reached before the first step')
    writing = f"writing {' and '.join(map(str, unwritten))} from {state_dir}"
    if unwritten and not asked:
        yield Log(f"time limit {cfg.time_limit_s:g} s reached before {writing}: nothing was "
                  "saved", level="warning")
    stopped = stopped or (bool(unwritten) and asked)
    owed = () if unwritten else owed
    for folder in owed:  # both checked before either is written
        check_replaceable_checkpoint(folder)
    if last_step != step and trained:
        yield from save_last(step)
    elif last_dir in owed:  # the state's EMA weights: what the interrupted write was to be
        yield write_last(step)
    if best == -math.inf and (trained or best_dir in owed):
        # nothing validated (no validation images, or stopped before the first
        # validation): "best" is the final model, never one an earlier run left in OUT
        save_model_checkpoint(ema, best_dir, training=dict(training_info, step=step),
                              half=cfg.half)
    if best > -math.inf and baseline is None and not best_dir.is_dir():  # a resumed
        # state's validated best whose folder is gone (deleted): until 2026-12-07 untold,
        # 'best checkpoint: None (val PSNR ... dB)'
        told_why.append(_best_missing(best_dir, state_dir, last_dir, last_step))
        yield Log(told_why[-1], level="warning")
    result = {
        "model": cfg.model,
        "scale": cfg.scale,
        "step": step,
        "best_psnr": None if best == -math.inf else best,
        # its rule (None: an older version's state's RGB best; val_psnr_label names it)
        VAL_METRIC_KEY: None if best == -math.inf else best_rule,
        "val": last_val,
        "bicubic_val": bicubic_val,
        # None: this run wrote none (stopped before its first step), what OUT holds is
        # an earlier run's
        "last": str(last_dir) if last_step is not None else None,
        "best": str(best_dir) if best_dir.is_dir() and (
            last_step is not None or (best > -math.inf and baseline is None)) else None,
        "history": history,
        "stopped": stopped,
        "unwritten": [str(p) for p in unwritten],
        "seconds": time.monotonic() - t0,
        "warnings": told_why,
    }
    if stopped:
        # stopped before its first step: what the folder holds is what it held (a
        # resumed run's state: its rerun line says so, cli._training.rerun_after_stop)
        before = writing if unwritten else "its first step"
        yield Stopped(f"training stopped at step {step}; checkpoint in {last_dir}" if trained
                      else f"training stopped before {before}; nothing was saved")
    return result


def _best_missing(best_dir: Path, state_dir: Path, last_dir: Path, last_step: int | None) -> str:
    """The warning of a validated run whose ``best_dir`` is missing: ``state_dir`` holds
    its validation's PSNR, not its weights, so it cannot be written again; ``last_dir``
    at ``last_step`` (None: none written) is the latest model.

    Examples
    --------
    >>> _best_missing(Path("run/best"), Path("run/train_state"), Path("run/last"), 4)
    'run/best is missing: the best weights are not in run/train_state (it holds their validation PSNR only), so it cannot be written again; run/last (step 4) is the latest model'
    """  # noqa: E501
    latest = "" if last_step is None else f"; {last_dir} (step {last_step}) is the latest model"
    return (f"{best_dir} is missing: the best weights are not in {state_dir} (it holds "
            f"their validation PSNR only), so it cannot be written again{latest}")


def _owed_without_ema(owed: tuple[Path, ...], state_dir: Path) -> str:
    """The warning of a finished run resumed whose ``owed`` checkpoints
    (:func:`_owed_checkpoints`) cannot be written: its ``state_dir``, an older version's,
    holds no EMA weights (the weights to run). More steps train on from it and write them.

    Examples
    --------
    >>> _owed_without_ema((Path("run/last"),), Path("run/train_state"))
    'run/last not written: run/train_state holds no EMA weights (the weights to run) to write it from (an older version wrote it); give more steps to train on from it, which writes it'
    """  # noqa: E501
    them = "them" if len(owed) > 1 else "it"
    return (f"{' and '.join(map(str, owed))} not written: {state_dir} holds no EMA weights "
            f"(the weights to run) to write {them} from (an older version wrote it); give "
            f"more steps to train on from it, which writes {them}")


def _owed_checkpoints(last_dir: Path, best_dir: Path, step: int, last_step: int | None,
                      best: float) -> tuple[Path, ...]:
    """The checkpoints of a finished run's ``train_state`` at ``step`` its folder lacks:
    ``last_dir`` where it is missing or holds another step (``last_step``), and, nothing
    validated (``best`` -inf: ``best`` is then the final model), ``best_dir`` likewise.
    None before step 1 (a state never holds a step 0: nothing was trained).

    Examples
    --------
    >>> last, best = Path("run/last"), Path("run/best")
    >>> [p.name for p in _owed_checkpoints(last, best, 3, None, -math.inf)]
    ['last', 'best']
    >>> [p.name for p in _owed_checkpoints(last, best, 3, 2, 31.5)]
    ['last']
    >>> _owed_checkpoints(last, best, 0, None, -math.inf)
    ()
    """
    if step < 1:
        return ()
    owed = [last_dir] if last_step != step else []
    if best == -math.inf and _ckpt_step(best_dir) != step:
        owed.append(best_dir)
    return tuple(owed)


def _ckpt_step(path: Path) -> int | None:
    import json

    try:
        cfg = json.loads((path / CONFIG_NAME).read_text())
        return int(cfg.get("training", {}).get("step"))
    except (OSError, ValueError, TypeError):
        return None


def trained_checkpoint(result: dict, which: str = "best") -> str:
    """The checkpoint folder ``result[which]`` of a training's result
    (:func:`train_sr`, :func:`train_sr_job`), checked: a run stopped (or its
    ``time_limit_s`` reached) before its first step writes none, and its result names
    None there, which :func:`~napari_srmat.sr.load_model` took for no checkpoint: the
    shipped default model, evaluated or installed as if trained.

    Parameters
    ----------
    result : dict
        The training's result.
    which : {"best", "last"}
        The checkpoint.

    Returns
    -------
    str
        The folder.

    Raises
    ------
    SRError
        Where the run wrote no such checkpoint, in one line.

    Examples
    --------
    >>> trained_checkpoint({"best": "out/best", "last": "out/last", "step": 6})
    'out/best'
    """
    path = result.get(which)
    if path is None:
        raise SRError(f"the training stopped at step {result.get('step', 0)} and wrote no "
                      f"{which!r} checkpoint (stopped, or its time limit reached, before "
                      "its first step): nothing was trained")
    return str(path)


def train_sr(config: SRTrainConfig | dict, **kwargs) -> dict:
    """Train an SR model (blocking); see :func:`train_sr_job`."""
    return run_job(train_sr_job(config, **kwargs), quiet=True)


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
