"""The three-arm experiment: does super-resolution help the grain-size measurement?

For every labelled micrograph the whole measurement (:func:`napari_srmat.grainsize.
measure_grain_size`, automatic inference scale) is run on

* **HR**: the micrograph as it is;
* **LR**: a ×``scale`` antialiased bicubic down-sampling of it, measured directly;
* **SR(LR)**: that low-resolution copy super-resolved back by each SR model;
* **SR(HR)**: the micrograph super-resolved by ``scale`` (a larger image of the same field).

Every ℓ̄ is expressed in the micrograph's own (native) pixels and compared with ℓ̄ of its
hand-drawn mask, measured with the same test lines on the skeletonized mask
(:data:`napari_srmat.edges.thresholds.HEYN_KW`). Per arm: per-image and pooled ℓ̄ errors
(:func:`napari_srmat.edges.thresholds.intercept_errors`; an image the measurement
refuses counts as 100 %), how often the 95 % interval holds the true ℓ̄ and its median
half-width, and AP / ROC-AUC of the boundary probability resampled onto the native
grid (so the arms are scored on the same hand-drawn pixels).

The job (:func:`three_arm_job`) yields progress and returns a :class:`ThreeArmResult`;
:func:`merge_three_arm` pools results (e.g. one per cross-validation fold, each measured
with the model that did not see it); :meth:`ThreeArmResult.summary` gives the table and
:func:`plot_three_arm` the figure.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..jobs import Event, Log, Progress, Stopped, StopToken

__all__ = [
    "THREE_ARM_SCALE",
    "THREE_ARM_SR_MODELS",
    "SR_OF_NATIVE_MODEL",
    "ArmMeasurement",
    "ThreeArmResult",
    "arm_names",
    "downsample_uint8",
    "three_arm_job",
    "measure_arms_job",
    "run_three_arm",
    "merge_three_arm",
    "plot_three_arm",
    "write_three_arm_report",
    "is_three_arm_report",
    "is_three_arm_plot",
]

#: Down-sampling (and SR) factor of the experiment.
THREE_ARM_SCALE = 4
#: SR models applied to the low-resolution copy (registry names).
THREE_ARM_SR_MODELS = ("bicubic", "cnn", "onestep")
#: SR model of the SR(HR) arm.
SR_OF_NATIVE_MODEL = "cnn"
#: Signed errors beyond this (%) are drawn at the edge of the figure.
PLOT_ERROR_CAP_PCT = 60.0
REPORT_KIND = "srmat three-arm experiment"
HR_ARM = "HR (native region)"
LR_ARM = "LR (x{s} down, measured directly)"


def arm_names(sr_models: Sequence[str] = THREE_ARM_SR_MODELS,
              sr_of_native: str | None = SR_OF_NATIVE_MODEL,
              scale: int = THREE_ARM_SCALE) -> list[str]:
    """Names of the arms in table order.

    Examples
    --------
    >>> arm_names(("bicubic",), "cnn")
    ['HR (native region)', 'LR (x4 down, measured directly)', 'SR(LR) bicubic', 'SR(HR) cnn']
    """
    names = [HR_ARM, LR_ARM.format(s=scale)] + [f"SR(LR) {m}" for m in sr_models]
    return names + ([f"SR(HR) {sr_of_native}"] if sr_of_native else [])


@dataclass
class ArmMeasurement:
    """One micrograph measured in one arm (ℓ̄ in the micrograph's native pixels).

    Attributes
    ----------
    l_px : float or None
        ℓ̄ in native pixels; None where the measurement gave no figure (refused).
    ci95_px : [low, high] or None
        Its 95 % interval in native pixels.
    inference_scale : float or None
        Factor by which the arm's input was resampled before the boundary model (in the
        arm's pixels: 0.25 for a ×4 SR image measured at the native scale).
    warnings : list of str
        The measurement's warnings.
    estimated_px : float or None
        The autocorrelation estimate of ℓ̄ of the arm's input, in native pixels.
    """

    l_px: float | None
    ci95_px: list[float] | None
    inference_scale: float | None
    warnings: list[str] = field(default_factory=list)
    estimated_px: float | None = None

    @classmethod
    def from_result(cls, res: Any, factor: float = 1.0) -> ArmMeasurement:
        """A :class:`~napari_srmat.grainsize.GrainSizeResult` in native pixels
        (``factor`` = the arm's pixels per native pixel)."""
        ci = res.mean_intercept_ci95_px
        est = res.estimated_intercept_px
        return cls(l_px=None if res.mean_intercept_px is None
                   else res.mean_intercept_px / factor,
                   ci95_px=None if ci is None else [ci[0] / factor, ci[1] / factor],
                   inference_scale=res.inference_scale, warnings=list(res.warnings),
                   estimated_px=None if est is None else est / factor)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        return {"l_px": self.l_px, "ci95_px": self.ci95_px,
                "inference_scale": self.inference_scale, "warnings": list(self.warnings),
                "estimated_px": self.estimated_px}


@dataclass
class ThreeArmResult:
    """Per-image measurements of every arm, and the arms' probability histograms.

    Attributes
    ----------
    names : list of str
        Image names.
    true_l_px : list of float
        ℓ̄ of each hand-drawn mask (native pixels).
    arms : dict
        Arm name -> one :class:`ArmMeasurement` per image.
    histograms : dict
        Arm name -> :class:`napari_srmat.metrics.edges.EdgeHistogram` of the arm's
        probability maps on the native grid against the masks.
    """

    names: list[str]
    true_l_px: list[float]
    arms: dict[str, list[ArmMeasurement]]
    histograms: dict[str, Any]

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per arm: ℓ̄ errors (%), interval coverage and AP / ROC-AUC.

        Returns
        -------
        dict
            Arm -> ``per_image_pct``, ``pooled_pct``, ``n_without_figure``,
            ``per_image_measured_pct`` (mean over the images with a figure),
            ``per_image_errors_pct``, ``coverage_pct``, ``n`` (images with an
            interval), ``median_half_width_pct``, ``n_measured_with_scale_warning``
            (images with a figure and a warning about their scale,
            :func:`napari_srmat.grainsize.is_scale_warning`), ``ap``, ``roc_auc``.
        """
        from ..grainsize import is_scale_warning

        return {arm: {**arm_errors([m.l_px for m in rows], self.true_l_px),
                      **interval_coverage(rows, self.true_l_px),
                      "n_measured_with_scale_warning": sum(
                          m.l_px is not None and any(map(is_scale_warning, m.warnings))
                          for m in rows),
                      **_ranking(self.histograms.get(arm))}
                for arm, rows in self.arms.items()}

    def table(self) -> dict[str, dict[str, Any]]:
        """:meth:`summary` without the per-image error lists (one row per arm)."""
        return {arm: {k: v for k, v in row.items() if k != "per_image_errors_pct"}
                for arm, row in self.summary().items()}

    def to_dict(self, with_summary: bool = True) -> dict[str, Any]:
        """JSON-ready: names, true ℓ̄, per-image rows and (``with_summary``) the summary."""
        out = {"names": list(self.names),
               "true_l_px": [round(float(t), 3) for t in self.true_l_px],
               "rows": {arm: [m.to_dict() for m in rows] for arm, rows in self.arms.items()}}
        return {**out, "summary": self.summary()} if with_summary else out


def arm_errors(pred: Sequence[float | None], true: Sequence[float]) -> dict[str, Any]:
    """ℓ̄ errors of one arm in % (the project's rule,
    :func:`napari_srmat.edges.thresholds.intercept_errors`).

    Parameters
    ----------
    pred : sequence of float or None
        Measured ℓ̄ per image (None: no figure, counted as 100 %).
    true : sequence of float
        True ℓ̄ per image, same units.

    Returns
    -------
    dict
        ``per_image_pct``, ``pooled_pct``, ``n_without_figure``,
        ``per_image_measured_pct`` and ``per_image_errors_pct``.

    Examples
    --------
    >>> arm_errors([11.0, None], [10.0, 10.0])["per_image_pct"]
    55.0
    """
    from ..edges.thresholds import intercept_errors

    e = intercept_errors(pred, true)
    per = np.asarray(e["per_image_errors"], float)
    measured = per[[v is not None and np.isfinite(v) for v in pred]]
    return {"per_image_pct": round(100 * e["per_image"], 2),
            "pooled_pct": None if e["pooled"] is None else round(100 * float(e["pooled"]), 2),
            "n_without_figure": e["n_invalid"],
            "per_image_measured_pct": round(100 * float(measured.mean()), 2)
            if measured.size else None,
            "per_image_errors_pct": [round(100 * float(v), 2) for v in per]}


def interval_coverage(rows: Sequence[ArmMeasurement], true: Sequence[float]) -> dict[str, Any]:
    """Share of images whose 95 % interval holds the true ℓ̄, and the median relative
    half-width.

    Parameters
    ----------
    rows : sequence of ArmMeasurement
        One arm's measurements.
    true : sequence of float
        True ℓ̄ per image (native pixels).

    Returns
    -------
    dict
        ``coverage_pct`` and ``median_half_width_pct`` (None without any interval) and
        ``n``, the images with an interval (the others are left out).
    """
    inside, widths = [], []
    for m, t in zip(rows, true):
        if m.ci95_px is None or m.l_px is None:
            continue
        lo, hi = m.ci95_px
        inside.append(lo <= t <= hi)
        widths.append(0.5 * (hi - lo) / m.l_px)
    return {"coverage_pct": round(100 * float(np.mean(inside)), 1) if inside else None,
            "n": len(inside),
            "median_half_width_pct": round(100 * float(np.median(widths)), 1) if widths
            else None}


def _ranking(hist) -> dict[str, float | None]:
    if hist is None or not hist.pos.any() or not hist.neg.any():
        return {"ap": None, "roc_auc": None}
    return {"ap": round(float(hist.average_precision()), 4),
            "roc_auc": round(float(hist.roc_auc()), 4)}


def downsample_uint8(image: np.ndarray, scale: int = THREE_ARM_SCALE) -> np.ndarray:
    """The low-resolution copy: antialiased bicubic ×1/``scale``
    (:func:`napari_srmat.sr.degrade.bicubic_downsample`) of a uint8 ``(H, W, 3)`` image.

    Examples
    --------
    >>> downsample_uint8(np.zeros((64, 48, 3), np.uint8)).shape
    (16, 12, 3)
    """
    import torch

    from ..io._float import to_uint8
    from ..sr.degrade import bicubic_downsample

    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].float() / 255
    return to_uint8(bicubic_downsample(x, scale)[0].numpy().transpose(1, 2, 0))


def _on_native_grid(prob: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A probability map resampled onto the native ``shape`` (bilinear)."""
    if prob.shape[:2] == tuple(shape):
        return prob
    from ..edges.data import resize_bilinear

    return resize_bilinear(np.asarray(prob, np.float32), tuple(shape))


def _rgb_uint8(image: Any, name: str) -> np.ndarray:
    from ..io import all_finite, as_rgb, to_uint8

    a = np.asarray(image)
    if not all_finite(a):  # which of the folder's images
        raise ValueError(f"{name}: the image has NaN or infinite pixels")
    return np.ascontiguousarray(to_uint8(as_rgb(a)))


def _native_image(image: Any, name: str) -> tuple[np.ndarray, float | None, str | None]:
    """``image`` as RGB ``uint8``, its pixel size in µm (the rule of
    :func:`napari_srmat.io.image_data`: a :class:`~napari_srmat.io.Micrograph`'s with
    square pixels, else None) and why it has none although its file records one
    (:func:`napari_srmat.io.pixel_size_note`)."""
    from ..io import image_data, pixel_size_note

    data, pixel_size_um = image_data(image, name=name)
    return _rgb_uint8(data, name), pixel_size_um, pixel_size_note(image)


def three_arm_job(
    images: Sequence[Any],
    masks: Sequence[Any],
    *,
    names: Sequence[str] | None = None,
    model: Any = None,
    sr_models: Sequence[Any] = THREE_ARM_SR_MODELS,
    sr_of_native: Any = SR_OF_NATIVE_MODEL,
    scale: int = THREE_ARM_SCALE,
    device: str = "auto",
    sr_lr_inference_scale: float | None = None,
    stop: StopToken | None = None,
) -> Generator[Event, Any, ThreeArmResult | None]:
    """Measure each labelled micrograph in every arm (job generator).

    Parameters
    ----------
    images : sequence of arrays (H, W) or (H, W, 3), or of Micrograph
        Micrographs (uint8, uint16 or float in [0, 1]), held in memory one at a time
        with their ×``scale`` SR copy: regions, not whole mosaics. Each is cropped
        (with its mask) to a multiple of ``scale`` pixels so that the LR copy has
        whole pixels. A :class:`~napari_srmat.io.Micrograph`'s pixel size is carried
        to every arm's measurement (an array has none: its rows warn 'no pixel size').
    masks : sequence of arrays (H, W)
        Their hand-drawn boundary masks.
    names : sequence of str, optional
        Image names (default ``image-0``, ``image-1``, ...).
    model : BoundaryModel, optional
        Boundary model (default: the shipped one with its defaults).
    sr_models : sequence of str or SRModel
        Models of the SR(LR) arms (registry names or loaded ×``scale`` models).
    sr_of_native : str or SRModel or None
        Model of the SR(HR) arm (None: no such arm).
    scale : int
        Down-sampling and SR factor.
    device : str
        Device of the SR models given by name (``"auto"``: the GPU when there is one).
    sr_lr_inference_scale : float, optional
        Inference scale of the SR(LR) arms. None (default): automatic, as a user's
        measurement of an SR image gets it; 1.0 measures them at their own pixels,
        which here are the native ones (a diagnostic of the scale policy).
    stop : StopToken, optional
        Checked between measurements; a stopped job returns None.

    Returns
    -------
    ThreeArmResult or None
    """
    from ..edges import load_boundary_model
    from ..edges.thresholds import mean_intercept
    from ..io import as_bool_mask
    from ..metrics.edges import EdgeHistogram

    if len(images) != len(masks) or not len(images):
        raise ValueError(f"need as many images as masks, at least one (got {len(images)}, "
                         f"{len(masks)})")
    names = [f"image-{i}" for i in range(len(images))] if names is None else list(names)
    if len(names) != len(images):
        raise ValueError(f"got {len(names)} names for {len(images)} images")
    loaded, arm_list = _load_sr_models(sr_models, sr_of_native, scale, device)
    model = load_boundary_model() if model is None else model
    rows: dict[str, list[ArmMeasurement]] = {a: [] for a in arm_list}
    hists = {a: EdgeHistogram() for a in arm_list}
    truth: list[float] = []
    total = len(images) * len(arm_list)
    for i, (image, mask, name) in enumerate(zip(images, masks, names)):
        rgb, pixel_size_um, pixel_note = _native_image(image, name)
        m = as_bool_mask(np.asarray(mask), name=f"mask of {name}")
        if m.shape != rgb.shape[:2]:
            raise ValueError(f"{name}: image {rgb.shape[:2]} and mask {m.shape} differ in size")
        rgb = _crop_to_scale(rgb, scale, name)
        m = m[:rgb.shape[0], :rgb.shape[1]]
        t = mean_intercept(m)
        if t is None:
            raise ValueError(f"{name}: its mask gives no mean intercept (no boundaries?)")
        truth.append(float(t))
        measured = yield from _arms_of_image(
            rgb, name=name, loaded=loaded, arm_list=arm_list, sr_models=sr_models,
            sr_of_native=sr_of_native, model=model, scale=scale,
            sr_lr_inference_scale=sr_lr_inference_scale, stop=stop,
            done=i * len(arm_list), total=total, pixel_size_um=pixel_size_um,
            pixel_note=pixel_note)
        if measured is None:
            yield Stopped(message=f"three-arm experiment stopped at {name}")
            return None
        for arm, (row, prob) in measured.items():
            rows[arm].append(row)
            if prob is not None:
                hists[arm].update(_on_native_grid(prob, m.shape), m)
        yield Log(f"{name}: true ℓ̄ {truth[-1]:.1f} px; " + _log_line(rows))
    yield Progress(total, total, stage="done")
    return ThreeArmResult(names, truth, rows, hists)


def measure_arms_job(
    image: Any,
    *,
    name: str = "image",
    model: Any = None,
    sr_models: Sequence[Any] = THREE_ARM_SR_MODELS,
    sr_of_native: Any = SR_OF_NATIVE_MODEL,
    scale: int = THREE_ARM_SCALE,
    device: str = "auto",
    sr_lr_inference_scale: float | None = None,
    stop: StopToken | None = None,
) -> Generator[Event, Any, dict[str, ArmMeasurement] | None]:
    """Measure one micrograph without labels in every arm (job generator).

    The arms and their measurement are those of :func:`three_arm_job`; without a
    hand-drawn mask there are no errors, but the arms can be compared with each other
    (e.g. how often the LR copy is refused or warned, how far SR(LR) reads from HR) on
    micrographs that have no labels.

    Parameters
    ----------
    image : array (H, W) or (H, W, 3), or Micrograph
        One micrograph (a region: it is held in memory with its ×``scale`` SR copy),
        cropped to a multiple of ``scale`` pixels; a Micrograph's pixel size is
        carried to every arm.
    name : str
        Its name in progress messages.
    model, sr_models, sr_of_native, scale, device, sr_lr_inference_scale, stop
        As in :func:`three_arm_job` (give loaded SR models when measuring many images,
        so that they are loaded once).

    Returns
    -------
    dict or None
        Arm name (table order, :func:`arm_names`) to :class:`ArmMeasurement`, ℓ̄ in the
        micrograph's native pixels; None when stopped.
    """
    from ..edges import load_boundary_model

    loaded, arm_list = _load_sr_models(sr_models, sr_of_native, scale, device)
    model = load_boundary_model() if model is None else model
    rgb, pixel_size_um, pixel_note = _native_image(image, name)
    measured = yield from _arms_of_image(
        _crop_to_scale(rgb, scale, name), name=name, loaded=loaded, arm_list=arm_list,
        sr_models=sr_models, sr_of_native=sr_of_native, model=model, scale=scale,
        sr_lr_inference_scale=sr_lr_inference_scale, stop=stop, done=0,
        total=len(arm_list), pixel_size_um=pixel_size_um, pixel_note=pixel_note)
    if measured is None:
        yield Stopped(message=f"arms of {name} stopped")
        return None
    yield Progress(len(arm_list), len(arm_list), stage="done")
    return {arm: row for arm, (row, _) in measured.items()}


def _load_sr_models(sr_models: Sequence[Any], sr_of_native: Any, scale: int,
                    device: str) -> tuple[dict[int, Any], list[str]]:
    """The SR models by ``id`` of their argument (names loaded, bad names refused before
    anything is measured) and the arm names."""
    from ..sr import load_model

    if not len(sr_models):
        raise ValueError("give at least one SR model for the SR(LR) arms")
    loaded = {id(m): load_model(m, scale=scale, device=device) if isinstance(m, str) else m
              for m in [*sr_models, *([sr_of_native] if sr_of_native is not None else [])]}
    wrong = [_label(m) for m in loaded.values() if getattr(m, "scale", scale) != scale]
    if wrong:
        raise ValueError(f"SR model(s) {', '.join(wrong)} are not x{scale}")
    arm_list = arm_names([_label(m) for m in sr_models],
                         None if sr_of_native is None else _label(sr_of_native), scale)
    if len(set(arm_list)) != len(arm_list):
        raise ValueError(f"two SR arms have the same name: {', '.join(arm_list[2:])}")
    return loaded, arm_list


def _crop_to_scale(rgb: np.ndarray, scale: int, name: str) -> np.ndarray:
    """``rgb`` cropped to a multiple of ``scale`` pixels (whole LR pixels)."""
    h, w = (rgb.shape[0] // scale) * scale, (rgb.shape[1] // scale) * scale
    if min(h, w) < scale:
        raise ValueError(f"{name}: {rgb.shape[0]}x{rgb.shape[1]} px is too small for x{scale}")
    return rgb[:h, :w]


def _arms_of_image(rgb: np.ndarray, *, name: str, loaded: dict[int, Any],
                   arm_list: list[str], sr_models: Sequence[Any], sr_of_native: Any,
                   model: Any, scale: int, sr_lr_inference_scale: float | None,
                   stop: StopToken | None, done: int, total: int,
                   pixel_size_um: float | None = None, pixel_note: str | None = None,
                   ) -> Generator[Event, Any, dict[str, tuple[ArmMeasurement, Any]] | None]:
    """Every arm of one (cropped) micrograph: arm -> (measurement, probability map);
    None when stopped. Each arm is measured with the size of its own pixels
    (``pixel_size_um`` of the native ones, µm; None: none known, ``pixel_note`` saying
    why where the file records one)."""
    from ..grainsize import NO_PIXEL_SIZE_NOTE, measure_grain_size_job
    from ..io import to_uint8
    from ..sr import super_resolve_job

    lr = downsample_uint8(rgb, scale)
    steps = [(arm_list[0], rgb, None, 1.0), (arm_list[1], lr, None, 1.0 / scale)]
    steps += [(arm_list[2 + k], lr, srm, 1.0) for k, srm in enumerate(sr_models)]
    if sr_of_native is not None:
        steps.append((arm_list[-1], rgb, sr_of_native, float(scale)))
    out: dict[str, tuple[ArmMeasurement, Any]] = {}
    for k, (arm, x, srm, factor) in enumerate(steps):
        if stop is not None and stop.stop_requested:
            return None
        yield Progress(done + k, total, stage=f"{name}: {arm}")
        if srm is not None:
            x = yield from super_resolve_job(x, loaded[id(srm)], stop=stop)
            if x is None:
                return None
            x = to_uint8(np.asarray(x))
        fixed = sr_lr_inference_scale if arm.startswith("SR(LR)") else None
        px = None if pixel_size_um is None else pixel_size_um / factor
        res = yield from measure_grain_size_job(x, pixel_size_um=px, model=model,
                                                inference_scale=fixed, stop=stop)
        if res is None:
            return None
        row = ArmMeasurement.from_result(res, factor)
        if pixel_note:  # the file's reason, not the generic one of a bare array
            row.warnings = [pixel_note if w == NO_PIXEL_SIZE_NOTE else w for w in row.warnings]
        out[arm] = (row, res.probability)
    return out


def _log_line(rows: dict[str, list[ArmMeasurement]]) -> str:
    """The last image's ℓ̄ per arm, for the job log."""
    return ", ".join(f"{a.split(' (')[0]} {'-' if r[-1].l_px is None else f'{r[-1].l_px:.1f}'}"
                     for a, r in rows.items())


def _label(sr_model) -> str:
    """Arm label of an SR model: its registry name, or a loaded model's ``name``."""
    if isinstance(sr_model, str):
        return sr_model
    return str(getattr(sr_model, "name", type(sr_model).__name__))


def run_three_arm(images: Sequence[Any], masks: Sequence[Any], **kwargs: Any) -> ThreeArmResult:
    """Blocking version of :func:`three_arm_job` (same arguments)."""
    from ..jobs import run_job

    return run_job(three_arm_job(images, masks, **kwargs), quiet=True)


def merge_three_arm(results: Sequence[ThreeArmResult]) -> ThreeArmResult:
    """Pool results with the same arms (images concatenated, histograms added).

    Examples
    --------
    >>> from napari_srmat.metrics.edges import EdgeHistogram
    >>> a = ThreeArmResult(["a"], [10.0], {"HR": [ArmMeasurement(9.0, None, 1.0)]},
    ...                    {"HR": EdgeHistogram()})
    >>> merge_three_arm([a, a]).names
    ['a', 'a']
    """
    from ..metrics.edges import EdgeHistogram

    if not results:
        raise ValueError("nothing to merge")
    arms = list(results[0].arms)
    if any(list(r.arms) != arms for r in results):
        raise ValueError("results with different arms cannot be merged")
    hists = {}
    for a in arms:
        hists[a] = EdgeHistogram(results[0].histograms[a].n_bins)
        for r in results:
            hists[a].merge(r.histograms[a])
    return ThreeArmResult([n for r in results for n in r.names],
                          [t for r in results for t in r.true_l_px],
                          {a: [m for r in results for m in r.arms[a]] for a in arms}, hists)


def plot_three_arm(result: ThreeArmResult, path, *, title: str = "",
                   overwrite: bool = True):
    """Figure of the experiment, written to ``path`` (PNG, atomically).

    Left: the signed ℓ̄ error of every image in each arm (jittered; images the
    measurement refused are crosses at the top; the grey band is ±5 %), with the arm's
    per-image mean absolute error under it. Right: how often each arm's 95 % interval
    holds the true ℓ̄ (dashed: 90 %). An existing file is replaced only when it is a
    figure of napari-srmat's and ``overwrite`` is set
    (:func:`napari_srmat.outputs.save_figure_png`).

    Returns
    -------
    Path
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ..outputs import save_figure_png

    arms = list(result.arms)
    truth = np.asarray(result.true_l_px, float)
    summary = result.summary()
    fig = Figure(figsize=(11, 4.4), dpi=110)
    FigureCanvasAgg(fig)
    ax, ax2 = fig.subplots(1, 2, width_ratios=(3, 1.3))
    cap = PLOT_ERROR_CAP_PCT
    rng = np.random.default_rng(0)  # horizontal jitter only
    refused_label = "refused (no figure)"
    for i, arm in enumerate(arms):
        l_px = np.array([np.nan if m.l_px is None else m.l_px for m in result.arms[arm]])
        err = 100 * (l_px - truth) / truth
        x = i + rng.uniform(-0.18, 0.18, err.size)
        ok = np.isfinite(err)
        ax.scatter(x[ok], np.clip(err[ok], -cap, cap), s=14, alpha=0.7, color="C0")
        if (~ok).any():
            ax.scatter(x[~ok], np.full(int((~ok).sum()), cap * 1.08), marker="x",
                       color="C3", s=18, label=refused_label)
            refused_label = None
        ax.text(i, -cap * 1.2, f"{summary[arm]['per_image_pct']:.1f} %", ha="center",
                fontsize=8)
    ax.axhspan(-5, 5, color="0.85", zorder=0)
    ax.axhline(0, color="0.4", lw=0.8)
    ax.set_xticks(range(len(arms)), [a.split(" (")[0] for a in arms], fontsize=8)
    ax.set_ylim(-cap * 1.3, cap * 1.2)
    ax.set_ylabel(f"signed error of the mean intercept (%, clipped at ±{cap:g})",
                  fontsize=8)
    ax.set_title("per image (under each arm: mean |error|, refused = 100 %)", fontsize=9)
    if refused_label is None:
        ax.legend(fontsize=8, loc="upper right")
    cov = [np.nan if summary[a]["coverage_pct"] is None else summary[a]["coverage_pct"]
           for a in arms]
    ax2.barh(range(len(arms)), cov, color="C2")
    for i, arm in enumerate(arms):
        n = summary[arm]["n"]
        ax2.text(2, i, f"{cov[i]:.0f} % of {n}" if n else "no interval", va="center",
                 fontsize=7, color="white" if n else "0.2")
    ax2.axvline(90, color="0.3", ls="--", lw=0.8)
    ax2.set_yticks(range(len(arms)), [a.split(" (")[0] for a in arms], fontsize=8)
    ax2.invert_yaxis()
    ax2.set_xlim(0, 100)
    ax2.set_xlabel("95 % interval holds the truth (%)")
    fig.suptitle(title or f"three-arm experiment ({len(truth)} images)", fontsize=10)
    fig.tight_layout()
    return save_figure_png(fig, path, kind=REPORT_KIND, overwrite=overwrite)


def is_three_arm_plot(path) -> bool:
    """Whether ``path`` is a PNG written by :func:`plot_three_arm`."""
    from ..outputs import is_our_figure

    return is_our_figure(path, REPORT_KIND)


def is_three_arm_report(path) -> bool:
    """Whether ``path`` is a JSON report written by :func:`write_three_arm_report`."""
    import json

    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh).get("kind") == REPORT_KIND
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return False


def write_three_arm_report(result: ThreeArmResult, path, *, overwrite: bool = False,
                           inputs: Iterable[str | os.PathLike | None] = (),
                           **context: Any) -> Path:
    """Write the result (:meth:`ThreeArmResult.to_dict` and ``context``) as JSON, atomically.

    Parameters
    ----------
    result : ThreeArmResult
    path : path-like
        The JSON file. An existing file is replaced only with ``overwrite`` and only when
        it is a report of this function (:func:`is_three_arm_report`); a file napari-srmat
        did not write never is (:func:`napari_srmat.outputs.check_output_file`).
    overwrite : bool
        Whether an earlier report may be replaced.
    inputs : iterable of path-like
        Paths the report must not be or lie in (the measured images, the checkpoint).
    **context
        Extra JSON entries (the folder, checkpoint, ...).

    Returns
    -------
    Path

    Raises
    ------
    napari_srmat.outputs.OutputError
        When the report may not be written there.
    """
    import json

    from .._atomic import atomic_write_text
    from ..outputs import check_output_file

    check_output_file(path, inputs=inputs, overwrite=overwrite, ours=is_three_arm_report)
    payload = {"kind": REPORT_KIND, **context, **result.to_dict()}
    return atomic_write_text(path, json.dumps(payload, indent=1, default=float) + "\n")
