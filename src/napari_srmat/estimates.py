"""What a long job will cost before it starts: output size, memory, disk, time.

The widgets show this estimate and ask before a large job (a gigapixel mosaic can need
100 GiB and a day of CPU); results that cannot fit in memory go to an OME-Zarr store.
Times are estimated from the CPU throughput measured by the committed benchmarks
(``benchmarks/bench_sr_models.py``, ``benchmarks/cv_uaed.py``: a 2-core x86-64 CPU),
scaled by the number of cores; on a GPU no time is promised.

Examples
--------
>>> import numpy as np
>>> plan = plan_super_resolution((24000, 24000, 3), scale=4, model="cnn",
...                               dtype=np.float32, device="cpu")
>>> plan.fits_in_memory(available=24 * 2**30), round(plan.output_bytes / 2**30)
(False, 103)
"""

from __future__ import annotations

import operator
import os
from dataclasses import dataclass

import numpy as np

from .jobs import format_duration
from .outputs import available_memory_bytes, format_bytes

__all__ = [
    "JobPlan",
    "plan_super_resolution",
    "plan_rescan_planner",
    "plan_boundaries",
    "plan_grain_size",
    "plan_mask_measurement",
    "plan_synthetic_set",
    "plan_registration",
    "plan_microstructure",
    "check_in_memory",
    "usable_cpus",
    "MASK_WORK_BYTES_PER_PX",
    "RENDER_BYTES_PER_PX",
    "MASK_CONVERT_BYTES_PER_PX",
    "LAZY_READ_COPIES",
    "FLOAT_COPY_BYTES_PER_PX",
    "TWIN_LABEL_BYTES_PER_PX",
    "STANDARDS_FIELD_BYTES_PER_PX",
    "SR_CPU_LR_MEGAPIXELS_PER_S",
    "SR_RUN_COPIES",
    "RESCAN_RUNNING_MAPS",
    "BOUNDARY_CPU_MEGAPIXELS_PER_S",
    "CONFIRM_SECONDS",
    "MEMORY_FRACTION",
]

#: LR megapixels per second of each SR model on the reference CPU (2 cores), from
#: ``benchmarks/bench_sr_models.json`` (x4; a x2 model does a quarter of the work per
#: LR pixel, counted so).
SR_CPU_LR_MEGAPIXELS_PER_S = {"bicubic": 1.0, "lanczos": 1.3, "cnn": 0.074,
                              "onestep": 0.0077}

#: Input megapixels per second of the shipped boundary model on the reference CPU
#: without test-time augmentation (``benchmarks/cv_uaed.json``: 0.097 s per 256² image
#: on one thread); d4 costs 8x.
BOUNDARY_CPU_MEGAPIXELS_PER_S = 0.65

#: Cores of the reference CPU the throughputs were measured on.
REFERENCE_CORES = 2

#: Jobs estimated longer than this ask before they start (seconds).
CONFIRM_SECONDS = 10 * 60

#: An in-memory result may use at most this fraction of the available memory.
MEMORY_FRACTION = 0.5

#: Copies of its result an in-memory SR run holds while the tiling engine assembles it
#: (the result and the engine's channels-first accumulators; traced at its peak: 3 to 4
#: copies, within :data:`MEMORY_FRACTION`'s margin).
SR_RUN_COPIES = 2

#: Float32 maps on the SR grid the scan-enhance-rescan planner keeps through its SR runs
#: (:func:`napari_srmat.sr.rescan.sr_uncertainty_job`): the running mean and the sum of
#: squared deviations of the SR luminance.
RESCAN_RUNNING_MAPS = 2


@dataclass(frozen=True)
class JobPlan:
    """The estimate of one job.

    Attributes
    ----------
    what : str
        E.g. ``"super-resolution x4 (cnn)"``.
    output_bytes : int
        Size of the result (uncompressed).
    seconds : float or None
        Estimated run time on this device (None when unknown, e.g. on a GPU).
    to_disk : bool
        Whether the result is streamed to a store (else it is held in memory).
    """

    what: str
    output_bytes: int
    seconds: float | None
    to_disk: bool = False

    def fits_in_memory(self, available: int | None = None) -> bool:
        """Whether the result may be held in memory (:data:`MEMORY_FRACTION` of it)."""
        avail = available_memory_bytes() if available is None else available
        return self.output_bytes <= MEMORY_FRACTION * avail

    @property
    def is_long(self) -> bool:
        """Estimated to run longer than :data:`CONFIRM_SECONDS`."""
        return self.seconds is not None and self.seconds > CONFIRM_SECONDS

    def summary(self, available: int | None = None) -> str:
        """One paragraph for the confirmation dialog."""
        avail = available_memory_bytes() if available is None else available
        where = ("written to the output store" if self.to_disk
                 else f"held in memory ({format_bytes(avail)} available)")
        time = ("time not estimated on this device" if self.seconds is None
                else f"about {format_duration(self.seconds)} on this CPU")
        return f"{self.what}: result {format_bytes(self.output_bytes)}, {where}; {time}."


def usable_cpus() -> int:
    """The CPUs this process may run on: those of its affinity (a batch job's share of a
    node under SLURM, ``taskset``, a container's cpuset), else ``os.cpu_count()``; at
    least 1. The one count of this machine's CPUs (time estimates, the ``local:N``
    bound of :func:`napari_srmat.tiling._distributed.check_scheduler`).

    Returns
    -------
    int

    Examples
    --------
    >>> usable_cpus() >= 1
    True
    """
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else (os.cpu_count() or 1))



def _plan_shape(shape, name: str = "shape") -> tuple[int, ...]:
    """``shape`` as a tuple of ints, refused unless it is an image's: ``(H, W)`` or
    ``(H, W, C)``-like (at least two sizes), each a whole number >= 0. The one rule of the
    plans' shapes: a negative size made a negative byte count, a 1-D shape an IndexError.

    Examples
    --------
    >>> _plan_shape((np.int64(4), 5))
    (4, 5)
    >>> _plan_shape((-4, 5))
    Traceback (most recent call last):
    ...
    ValueError: shape must be (H, W) or (H, W, C) of whole sizes >= 0, got (-4, 5)
    """
    try:
        dims = tuple(operator.index(n) for n in shape)
    except TypeError:
        dims = None
    if dims is None or len(dims) < 2 or min(dims) < 0:
        raise ValueError(f"{name} must be (H, W) or (H, W, C) of whole sizes >= 0, got "
                         f"{tuple(shape) if np.iterable(shape) else shape!r}")
    return dims


def _cpu_seconds(megapixels: float, mpx_per_s: float | None, device: str) -> float | None:
    if mpx_per_s is None or device not in ("cpu", "auto"):
        return None
    if device == "auto":  # never imports torch (seconds, on the GUI thread of a widget)
        from .device import auto_device_if_known

        if auto_device_if_known() != "cpu":
            return None
    speedup = min(usable_cpus(), 16) / REFERENCE_CORES
    return megapixels / (mpx_per_s * max(speedup, 0.5))


def plan_super_resolution(shape, *, scale: int, model: str | None = None,
                          dtype=np.uint8, device: str = "auto",
                          to_disk: bool = False) -> JobPlan:
    """Estimate a super-resolution job.

    Parameters
    ----------
    shape : tuple
        Input ``(H, W)`` or ``(H, W, C)``.
    scale : int
        SR factor.
    model : str, optional
        Registry name (None: the default model).
    dtype : dtype
        Input dtype: a store's dtype; a result held in memory is
        :data:`~napari_srmat.sr.apply.IN_MEMORY_DTYPE` (float32) whatever the input.
    device : str
    to_disk : bool
        Streamed to an OME-Zarr store.

    Returns
    -------
    JobPlan
    """
    from .sr import DEFAULT_MODEL
    from .sr.apply import IN_MEMORY_DTYPE

    shape = _plan_shape(shape)
    name = model or DEFAULT_MODEL
    h, w = int(shape[0]), int(shape[1])
    c = int(shape[2]) if len(shape) > 2 else 1
    out_dtype = np.dtype(dtype if to_disk else IN_MEMORY_DTYPE)
    out = h * scale * w * scale * c * out_dtype.itemsize
    mpx = h * w / 1e6 * (scale / 4.0) ** 2
    seconds = _cpu_seconds(mpx, SR_CPU_LR_MEGAPIXELS_PER_S.get(name), device)
    return JobPlan(f"super-resolution x{scale} ({name})", int(out), seconds, to_disk)


def plan_rescan_planner(shape, *, scale: int, model: str | None = None,
                        runs: int | None = None, device: str = "auto") -> JobPlan:
    """Estimate the scan-enhance-rescan planner (:func:`napari_srmat.plan_rescan`).

    It super-resolves the LR image ``runs`` times (4 flips, or the samples), one SR result
    in memory at a time (:data:`SR_RUN_COPIES` copies while it is made), and keeps
    :data:`RESCAN_RUNNING_MAPS` maps on the SR grid through the runs, each the size of a
    grey in-memory SR result (:func:`plan_super_resolution`).

    Parameters
    ----------
    shape : tuple
        LR ``(H, W)`` or ``(H, W, C)``.
    scale : int
        SR factor.
    model : str, optional
        Registry name (None: the default model).
    runs : int, optional
        SR runs (None: :data:`napari_srmat.sr.rescan.DEFAULT_SAMPLES`, as many as the
        flips).
    device : str

    Returns
    -------
    JobPlan
        ``output_bytes`` is the working memory.

    Examples
    --------
    >>> plan = plan_rescan_planner((1000, 1000), scale=4, device="cpu")
    >>> round(plan.output_bytes / 2**20)  # (2 copies of the grey SR result + 2 maps) x 61 MiB
    244
    """
    from .sr.rescan import DEFAULT_SAMPLES

    runs = DEFAULT_SAMPLES if runs is None else runs
    shape = _plan_shape(shape)
    sr = plan_super_resolution(shape, scale=scale, model=model, device=device)
    grey = plan_super_resolution(tuple(shape[:2]), scale=scale, model=model, device=device)
    maps = RESCAN_RUNNING_MAPS * grey.output_bytes
    seconds = None if sr.seconds is None else runs * sr.seconds
    return JobPlan(f"rescan plan: {runs} x {sr.what}",
                   SR_RUN_COPIES * sr.output_bytes + maps, seconds)


def plan_boundaries(shape, *, tta: str = "none", device: str = "auto") -> JobPlan:
    """Estimate a boundary prediction (probability + uncertainty maps, float32).

    Parameters
    ----------
    shape : tuple
        Input ``(H, W)`` or ``(H, W, C)``.
    tta : {"none", "d4"}
    device : str

    Returns
    -------
    JobPlan
    """
    h, w = _plan_shape(shape)[:2]
    out = h * w * (4 + 4 + 1)  # probability, uncertainty, boundary labels
    rate = BOUNDARY_CPU_MEGAPIXELS_PER_S / (8.0 if tta == "d4" else 1.0)
    seconds = _cpu_seconds(h * w / 1e6, rate, device)
    what = "boundary prediction" + (" with 8x test-time augmentation" if tta == "d4" else "")
    return JobPlan(what, int(out), seconds, False)


def plan_grain_size(shape, *, inference_scale: float | None = None,
                    device: str = "auto") -> JobPlan:
    """Estimate a grain-size measurement of a micrograph (the *Simple* tab,
    :func:`napari_srmat.grainsize.measure_grain_size_job`).

    The whole micrograph is held as float32, resampled by the inference scale before the
    model, and the boundary model's maps are computed at that scale (as
    :func:`plan_boundaries` counts them); ``output_bytes`` is that working memory and the
    time is the boundary model's at that scale. The automatic scale is only known once the
    job has read the micrograph (seconds on a large one), so without ``inference_scale``
    the plan is for the input's own scale, the usual case. The job checks this plan before
    it reads the micrograph, and again at the scale it chose when that scale is larger (an
    up-sampled coarse micrograph; up to :data:`~napari_srmat.grainsize.MAX_INFERENCE_SCALE`),
    refusing before the model runs when it does not fit.

    Parameters
    ----------
    shape : tuple
        Input ``(H, W)`` or ``(H, W, C)``.
    inference_scale : float, optional
        The scale the job is given (None: the automatic choice, planned at scale 1).
    device : str

    Returns
    -------
    JobPlan

    Examples
    --------
    >>> plan = plan_grain_size((24000, 24000, 3), device="cpu")
    >>> plan.fits_in_memory(available=64 * 2**30), round(plan.output_bytes / 2**30)
    (True, 11)
    >>> round(plan_grain_size((24000, 24000, 3), inference_scale=3.25).output_bytes / 2**30)
    125
    """
    from .grainsize import resampled_shape

    shape = _plan_shape(shape)
    h, w = shape[0], shape[1]
    c = int(shape[2]) if len(shape) > 2 else 1
    scale = 1.0 if inference_scale is None else float(inference_scale)
    sh, sw = resampled_shape((h, w), scale)
    resampled = 0 if scale == 1 else sh * sw * c * 4  # at scale 1 the model reads it as is
    maps = plan_boundaries((sh, sw), device=device)
    what = "grain-size measurement (boundary model" + (
        ", automatic inference scale)" if inference_scale is None
        else f" at inference scale {scale:g})")
    return JobPlan(what, int(h * w * c * 4 + resampled + maps.output_bytes), maps.seconds,
                   False)


#: Working memory of a Heyn measurement or a binarisation besides its input, per pixel:
#: the bool mask, its skeleton and their temporaries (``benchmarks/bench_memory_plans.py``:
#: 4.5 B/px added per pixel for a bool mask held in memory).
MASK_WORK_BYTES_PER_PX = 5
#: A mask that is not bool is compared into one first (uint8 0/255, labels; with the
#: mid-grey check): about 3 B/px more (9.2 B/px in all for a lazy uint8 mask).
MASK_CONVERT_BYTES_PER_PX = 3
#: A lazy input (Dask, Zarr) is read whole: its chunks and the array they are joined
#: into are held at once, twice its bytes.
LAZY_READ_COPIES = 2
#: A probability map that is not float becomes a float32 copy first (``to_float01``: a
#: cast, a division and a copy; ``binarize_boundaries`` of uint8/uint16/bool maps
#: measured 5-9 B/px in all, held in memory).
FLOAT_COPY_BYTES_PER_PX = 8
#: ``measure_intercepts(..., twins=)`` with ``exclude_twins``: the grain label maps of
#: :func:`napari_srmat.metrics.grainmap.merge_twins` (measured 58 B/px in all on a
#: 2000² synthetic micrograph).
TWIN_LABEL_BYTES_PER_PX = 56
#: A colour mask ``(H, W, C)`` (RGB, RGBA, grey+alpha) is read with all its ``C``
#: channels; each colour channel the mask rule keeps
#: (:func:`napari_srmat.io._mask.kept_colour_channels`) becomes a bool mask of its own,
#: and these are stacked to be OR-ed into one: about 2 B/px per kept channel (measured on
#: 1000² and 2000² RGB(A) and grey+alpha masks, uint8 and bool, held and lazy).
MASK_CHANNEL_BYTES_PER_PX = 2
#: :func:`napari_srmat.metrics.standards.measure_field` (``srmat grain-size --method``, the
#: Specimen tab): grain label map, planimetric counts and intercepts with triple points
#: (measured 54-59 B/px in all, either method, on 1500² and 3000² 0/255 masks held in
#: memory; the Heyn plan alone counted 8 B/px of it and a 10000² field exceeded 4.5 GB).
STANDARDS_FIELD_BYTES_PER_PX = 56


def plan_mask_measurement(shape, dtype=np.float32, *, held: bool = False,
                          to_float: bool = False, twins: bool = False,
                          exclusion: bool = False, field: bool = False) -> JobPlan:
    """Estimate a Heyn measurement of a boundary layer (the *Boundary mask* tab,
    :func:`napari_srmat.measure_intercepts`) or a binarisation of a probability map
    (:func:`napari_srmat.binarize_boundaries`).

    A lazy input is read into memory whole (:data:`LAZY_READ_COPIES` times its
    ``dtype``'s bytes; a numpy array already held, ``held``, costs nothing more),
    perhaps converted to float32 (``to_float``), compared into a boolean mask
    (:data:`MASK_CONVERT_BYTES_PER_PX` unless bool) and thinned to a second one
    (:data:`MASK_WORK_BYTES_PER_PX`); twin exclusion adds grain label maps
    (:data:`TWIN_LABEL_BYTES_PER_PX`), an exclusion mask a boolean copy.
    A colour mask ``(H, W, C)`` is read with its ``C`` channels and each colour
    channel the mask rule keeps becomes a bool mask (:data:`MASK_CHANNEL_BYTES_PER_PX`).
    ``output_bytes`` is that working memory, checked against what the functions
    allocate by ``benchmarks/bench_memory_plans.py`` (1 to 3 times it). No time is
    estimated (no model runs).

    Parameters
    ----------
    shape : tuple
        Layer ``(H, W)``, or ``(H, W, C)`` for a mask with 1-4 channels (RGB, RGBA, ...).
    dtype : dtype
        The layer's dtype (a probability map: float32; a mask: uint8 or bool).
    held : bool
        The input is a numpy array already in memory (not counted again).
    to_float : bool
        A map that is not float is converted to float32 first
        (:data:`FLOAT_COPY_BYTES_PER_PX`; ``binarize_boundaries``).
    twins, exclusion : bool
        Twin boundaries excluded / an exclusion mask given (``measure_intercepts``).
    field : bool
        The standards' measurement of a field (``measure_field``: grain label map,
        planimetric count; :data:`STANDARDS_FIELD_BYTES_PER_PX`).

    Returns
    -------
    JobPlan

    Examples
    --------
    >>> plan = plan_mask_measurement((60000, 60000), np.float32)
    >>> plan.fits_in_memory(available=16 * 2**30), round(plan.output_bytes / 2**30)
    (False, 54)
    >>> round(plan_mask_measurement((60000, 60000), bool, held=True).output_bytes / 2**30)
    17
    """
    from .io._mask import kept_colour_channels

    shape = _plan_shape(shape)
    h, w = shape[0], shape[1]
    # channels last, as the mask rule reads them (a 3-D shape otherwise is refused there)
    c = int(shape[2]) if len(shape) == 3 and 1 <= int(shape[2]) <= 4 else 1
    dtype = np.dtype(dtype)
    per_px = MASK_WORK_BYTES_PER_PX + (0 if held else LAZY_READ_COPIES * dtype.itemsize * c)
    if c > 1:
        per_px += MASK_CHANNEL_BYTES_PER_PX * kept_colour_channels(c)
    if dtype != np.dtype(bool):
        per_px += MASK_CONVERT_BYTES_PER_PX
    if to_float and not np.issubdtype(dtype, np.floating):
        per_px += FLOAT_COPY_BYTES_PER_PX
    per_px += TWIN_LABEL_BYTES_PER_PX * bool(twins) + 2 * bool(exclusion)
    per_px += STANDARDS_FIELD_BYTES_PER_PX * bool(field)
    return JobPlan("Heyn measurement of a boundary map", int(h * w * per_px), None, False)


def plan_registration(moving_shape, fixed_shape, moving_dtype=np.uint8,
                      fixed_dtype=np.uint8, *, held: tuple[bool, bool] = (False, False)
                      ) -> JobPlan:
    """Estimate a registration (:func:`napari_srmat.sr.registration.register_images`).

    Each image is read whole (its dtype; an array already in memory, ``held``, is not
    counted again), converted to float32 (``to_float01``: about 8 B/px per channel with
    its temporaries) and reduced to a float32 luminance (4 B/px kept, 8-16 B/px of
    temporaries); the refinement keeps up to
    :data:`~napari_srmat.sr.registration.REFINE_BLUR_CACHE` blurred float32 copies of
    FIXED. ``output_bytes`` is the sum of these (an upper bound: the temporaries of the
    two images do not coexist). No time is estimated.

    Parameters
    ----------
    moving_shape, fixed_shape : tuple
        ``(H, W)`` or ``(H, W, C)`` of the two images.
    moving_dtype, fixed_dtype : dtype
        Their dtypes.
    held : (bool, bool)
        Whether MOVING / FIXED are numpy arrays already in memory.

    Returns
    -------
    JobPlan

    Examples
    --------
    >>> plan = plan_registration((100000, 100000), (200000, 200000))
    >>> plan.fits_in_memory(available=64 * 2**30), round(plan.output_bytes / 2**30)
    (False, 1872)
    """
    from .sr.registration import REFINE_BLUR_CACHE

    total = 0
    for shape, dtype, is_held, blurred in ((moving_shape, moving_dtype, held[0], 0),
                                           (fixed_shape, fixed_dtype, held[1],
                                            REFINE_BLUR_CACHE)):
        shape = _plan_shape(shape, "moving_shape" if blurred == 0 else "fixed_shape")
        h, w = shape[0], shape[1]
        c = int(shape[2]) if len(shape) > 2 else 1
        read = 0 if is_held else c * np.dtype(dtype).itemsize
        luminance = 4 + (16 if c >= 3 else 8)
        total += h * w * (read + 8 * c + luminance + 4 * blurred)
    return JobPlan("registration", int(total), None, False)


#: Working memory per SR pixel of the audit search besides the images themselves (its
#: float32 luminance and the data-consistency floor's temporaries: a 5000² LR and
#: 20000² RGB SR peaked at 2.58 GiB, about 6.9 B per SR pixel with the 3 B/px image).
AUDIT_WORK_BYTES_PER_SR_PX = 4


def plan_audit(lr_shape, sr_shape, lr_dtype=np.uint8, sr_dtype=np.uint8, *,
               std_shape=None, std_dtype=np.float32,
               held: tuple[bool, bool, bool] = (False, False, False)) -> JobPlan:
    """Estimate an audit search (:func:`napari_srmat.audit.find_candidates`), which holds
    the LR, the SR and (if given) the SR standard-deviation images whole (not counted
    where ``held``: numpy arrays already in memory), plus
    :data:`AUDIT_WORK_BYTES_PER_SR_PX` per SR pixel. No time is estimated.

    Examples
    --------
    >>> plan = plan_audit((15000, 15000, 3), (60000, 60000, 3))
    >>> round(plan.output_bytes / 2**30, 1)
    24.1
    """
    def nbytes(shape, dtype) -> int:
        return int(np.prod(shape)) * np.dtype(dtype).itemsize

    lr_shape, sr_shape = _plan_shape(lr_shape, "lr_shape"), _plan_shape(sr_shape, "sr_shape")
    if std_shape is not None:
        std_shape = _plan_shape(std_shape, "std_shape")
    total = (0 if held[0] else nbytes(lr_shape, lr_dtype)) + (
        0 if held[1] else nbytes(sr_shape, sr_dtype))
    total += int(sr_shape[0]) * int(sr_shape[1]) * AUDIT_WORK_BYTES_PER_SR_PX
    if std_shape is not None and not held[2]:
        total += nbytes(std_shape, std_dtype)
    return JobPlan("audit search", int(total), None, False)


#: Peak memory per pixel of rendering a synthetic micrograph (labels, boundaries, the RGB
#: image and the renderer's temporaries; ``benchmarks/bench_memory_plans.py``: 25-32
#: B/px added per pixel over three runs).
RENDER_BYTES_PER_PX = 36
#: What is kept after rendering (int32 labels, bool boundaries, uint8 RGB, and the
#: labels sorted once more to count the grains), to which a grey image adds its float64
#: temporaries (:data:`GREY_BYTES_PER_PX`).
KEPT_BYTES_PER_PX = 12
#: The float64 luminance of a grey synthetic image and its temporaries (grey images
#: measured 27-36 B/px added per pixel in all, ``benchmarks/bench_memory_plans.py``).
GREY_BYTES_PER_PX = 28


def plan_microstructure(shape, *, rgb: bool = True) -> JobPlan:
    """Estimate a synthetic micrograph rendered in memory
    (:func:`napari_srmat.synth.generate_microstructure`).

    The rendering peaks at :data:`RENDER_BYTES_PER_PX`; a grey image
    (``rgb=False``) is then computed from the RGB one in float64 while the rest is kept
    (:data:`KEPT_BYTES_PER_PX` + :data:`GREY_BYTES_PER_PX`). ``output_bytes`` is the
    larger of the two. No time is estimated.

    Parameters
    ----------
    shape : tuple
        ``(H, W)``.
    rgb : bool
        Colour (default) or grey.

    Returns
    -------
    JobPlan

    Examples
    --------
    >>> round(plan_microstructure((100000, 100000)).output_bytes / 2**30)
    335
    >>> round(plan_microstructure((100000, 100000), rgb=False).output_bytes / 2**30)
    373
    """
    h, w = _plan_shape(shape)[:2]
    grey = 0 if rgb else KEPT_BYTES_PER_PX + GREY_BYTES_PER_PX
    return JobPlan("synthetic micrograph", int(h * w * max(RENDER_BYTES_PER_PX, grey)),
                   None, False)


def plan_synthetic_set(n: int, shape, bytes_per_px: int) -> JobPlan:
    """Estimate a training set of ``n`` synthetic micrographs held in memory together
    (``srmat sr train --synthetic N``, ``srmat edges train --pretrain-synthetic N``):
    ``n`` images of ``shape`` at ``bytes_per_px`` as the trainer keeps them. No time is
    estimated.

    Parameters
    ----------
    n : int
        How many.
    shape : tuple
        ``(H, W)`` of each.
    bytes_per_px : int
        What the trainer keeps per pixel (e.g. uint8 RGB and int32 labels: 7).

    Returns
    -------
    JobPlan

    Examples
    --------
    >>> round(plan_synthetic_set(10**9, (256, 256), 7).output_bytes / 2**40)
    417
    """
    h, w = _plan_shape(shape)[:2]
    return JobPlan(f"{n} synthetic micrographs", int(n) * h * w * int(bytes_per_px), None,
                   False)


def check_in_memory(plan: JobPlan, func: str, *, advice: str,
                    error: type[Exception] = MemoryError,
                    available: int | None = None) -> None:
    """Refuse a job held in memory whose working memory does not fit.

    The one rule of the notebook API for whole-array functions given arrays larger than
    memory (a Dask or Zarr mosaic): refused before anything is read, in one line naming
    the function, the bytes it needs, the memory available and what to do, instead of
    numpy's "Unable to allocate" after part of the work.

    Parameters
    ----------
    plan : JobPlan
        The estimate (only shapes and dtypes went into it).
    func : str
        The function's name, e.g. ``"binarize_boundaries"``.
    advice : str
        What to do instead, e.g. ``"measure fields or crops of it"``.
    error : type
        The exception raised (default :class:`MemoryError`).
    available : int, optional
        Bytes available (None: :func:`~napari_srmat.outputs.available_memory_bytes`).

    Raises
    ------
    error
        ``plan.output_bytes`` is more than :data:`MEMORY_FRACTION` of ``available``.

    Examples
    --------
    >>> try:
    ...     check_in_memory(plan_mask_measurement((60000, 60000)), "measure_intercepts",
    ...                     advice="measure fields of it", available=16 * 2**30)
    ... except MemoryError as e:
    ...     print(*str(e).split(", "), sep=" |")
    ... # doctest: +NORMALIZE_WHITESPACE
    measure_intercepts needs 53.6 GiB of memory |more than 50% of the 16.0 GiB
    available: measure fields of it
    """
    avail = available_memory_bytes() if available is None else available
    if not plan.fits_in_memory(available=avail):
        raise error(f"{func} needs {format_bytes(plan.output_bytes)} of memory, "
                    f"more than {MEMORY_FRACTION:.0%} of the {format_bytes(avail)} "
                    f"available: {advice}")
