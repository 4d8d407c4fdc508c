"""Automatic candidates for hallucinated structures in a super-resolved micrograph.

Three kinds of evidence are computed per SR pixel and combined into ranked
candidate regions:

(a) **data consistency** -- the SR image is degraded with the model's degradation
    (by default the SR models' antialiased bicubic downsampling, or Gaussian blur
    then area downsampling) and compared with the LR input; the
    residual (RMS over channels, LR grid) is upsampled to SR coordinates and
    normalised: ``c = clip((R - residual_floor) / residual_floor, 0, 3)``; by default
    the floor adapts to the image (``max(0.01, median(R) + 4 * 1.4826 * MAD(R))``,
    :func:`estimate_residual_floor`) so a generally imperfect SR model does not
    flood the queue.
(b) **boundary evidence** -- skeleton pixels of the SR boundary map with no
    boundary of the bicubic-upscaled LR within ``tolerance_px`` ("new boundary
    pixels"), weighted by the lack of LR gradient support
    ``u = clip((E_exp - E_lr) / (E_exp + e0), 0, 1)``, where ``E_exp`` is the local
    gradient energy the SR structure would leave in the LR (gradient energy of
    ``degrade(SR)``) and ``E_lr`` the gradient energy actually present in the LR.
(c) **sample spread** -- when the per-pixel standard deviation over several
    diffusion samples is given (``sr_std``): ``s = clip((std - std_floor) / std_floor, 0, 3)``.

Suspicious pixels (new boundary pixels with ``u >= min_support_deficit``, or
``c > 0``, or ``s > 0``) are linked by a dilation of ``link_px`` and the
connected components become :class:`Candidate` objects with::

    B     = sum over new boundary pixels of  u * (w0 + c + s)
    D     = sum over suspicious pixels of   (c + s) / scale
    score = B + gamma * D

(``w0 = prior_weight``, ``gamma = area_weight``). The ``kind`` is ``"new_boundary"``
when the region holds at least ``new_kind_min_px`` new boundary pixels (or ``B``
dominates), else the larger of the data / sample evidence. ``B`` is a length in SR pixels,
weighted by the lack of LR support and by the data/sample evidence along the
segment; ``D`` is the residual "mass" of the region in units of LR-pixel-length.
A perfectly data-consistent SR (``c = 0, u = 0``) therefore scores ~0 everywhere.
Candidates below ``min_score`` are dropped; the rest are sorted by score,
descending.

Everything is computed in overlapping tiles (a halo of ``halo`` SR pixels around
each core tile), components are labelled per core and merged across core borders
with a union-find, so the tiled result equals the untiled one up to the (tiny)
non-locality of skeletonisation.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Generator, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from ..channels import float_channels_last, luminance
from ..errors import Option, check_number, worded_error
from ..io import all_finite, to_float01
from ..jobs import Event, Log, Progress, Stopped, StopToken, plain_version, run_job
from ..robust_stats import median_plus_mads

__all__ = [
    "BBOX_ORDER",
    "Candidate",
    "CandidateList",
    "AuditInputError",
    "KINDS",
    "check_id",
    "bbox_coordinates",
    "check_bbox",
    "check_bbox_inside",
    "degrade",
    "bicubic_degrade",
    "resolve_degrade",
    "default_boundary_map",
    "upscale_bicubic",
    "boundary_evidence",
    "estimate_residual_floor",
    "find_candidates",
    "find_candidates_job",
]

KINDS = ("new_boundary", "data_inconsistency", "sample_spread")
#: Rounding slack around [0, 1] allowed in what a ``boundary_fn`` returns.
BOUNDARY_MAP_SLACK = 1e-4
#: The estimated data-consistency floor and a fixed one, as each caller gives them
#: (:func:`napari_srmat.errors.worded_error`); the Audit widget has no control for it
#: (it searches with the estimate), so its user is told the keyword.
RESIDUAL_FLOOR_AUTO = Option("residual_floor='auto'", "--residual-floor auto")
RESIDUAL_FLOOR_FIXED = Option("residual_floor=F", "--residual-floor F")
#: An adaptive floor (:func:`estimate_residual_floor`) above this is told as a warning: the
#: LR does not follow the detector's degradation. Measured on tbm/val (6 images of 256²,
#: x4, 2026-12-07): LR by the detector's degradation, SR = HR or HR + noise 0.02: 0.0100
#: (the minimum) on each; SR shifted 1 px along one axis: 0.026-0.036 (the usual range the
#: warning names); LR by plain subsampling
#: (``hr[::4, ::4]``), SR = HR: 0.087-0.110, where not even injected lines were found (0 of
#: 30, benchmarks/bench_audit_val.json ``subsampled_lr``); synthetic micrographs
#: subsampled: 0.101-0.105. (Such an LR is why a cut of long linked regions into 128-px
#: boxes was tried and withdrawn: docs/audit.md.) An SR that does not match the LR rises
#: above it too, with the detector's degradation (synthetic micrographs, seeds 0-1, W1,
#: 2026-12-07): shifted (rows, columns) by (1, 0) SR px 0.037, (1, 1) 0.056-0.063, (2, 0)
#: 0.070-0.077, (2, 2) 0.111-0.124, (3, 0) 0.106-0.110 (R8): above 0.05 once shifted by
#: more than about 1 SR px; gain x1.1 0.096-0.103, Gaussian blur sigma 2 0.079 (noise 0.05:
#: 0.025); the warning names these causes too.
RESIDUAL_FLOOR_HIGH = 0.05
#: The Audit widget's labels of its LR and SR layer lists, which its refusals name.
LR_CONTROL, SR_CONTROL = "LR layer", "SR layer"
#: The LR and SR images as each caller names them: the arguments ``lr`` / ``sr`` (also
#: ``srmat audit candidates``'), the widget's layers.
LR_IMAGE = Option("lr", "lr", f"the {LR_CONTROL}")
SR_IMAGE = Option("sr", "sr", f"the {SR_CONTROL}")


class AuditInputError(ValueError):
    """Bad input to the audit detector (shapes, scale, dtypes)."""


def check_id(value: Any, field: str = "id") -> int:
    """The one rule for a candidate's or an added region's id, given or read from a file:
    a whole number >= 0 (:func:`~napari_srmat.errors.check_number`; ``7.0`` is 7; no
    file napari-srmat writes has a negative id), or its digits as text (``"7"``, a cell
    of the session CSV). ``7.5``, ``True``, ``"true"`` or ``-1`` are refused (``int()``
    read the first three as 7 and 1: a verdict on another candidate).

    Examples
    --------
    >>> from napari_srmat.audit.detector import check_id
    >>> check_id(" 7 "), check_id(7.0)
    (7, 7)
    >>> check_id(7.5, "candidate_id")
    Traceback (most recent call last):
    ...
    ValueError: candidate_id must be an integer >= 0, got 7.5
    >>> check_id("-1", "candidate_id")
    Traceback (most recent call last):
    ...
    ValueError: candidate_id must be an integer >= 0, got -1
    """
    return _whole_number(value, field, lo=0)


#: The order of a box's numbers (SR pixels, x = column; ``x1``, ``y1`` exclusive), as
#: the session JSON (``bbox_order``) and CSV (columns) say it. A rescan plan's
#: rectangles are LR pixels in another order (:data:`napari_srmat.sr.rescan.ROI_ORDER`).
BBOX_ORDER = ("x0", "y0", "x1", "y1")
#: :data:`BBOX_ORDER` as the refusals write it.
_BBOX_WORDS = f"[{', '.join(BBOX_ORDER)}]"


def _whole_number(value: Any, field: str, lo: int | None = None) -> int:
    """``value`` as a whole number (>= ``lo`` when given) read by :func:`check_id`'s
    rule: a number (``7.0`` is 7) or its digits as text; else
    :func:`~napari_srmat.errors.check_number`'s ``ValueError`` naming ``field``."""
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9]+\s*", value):
        value = int(value)  # a cell of the session CSV
    return check_number(field, value, lo=lo, integer=True)


def bbox_coordinates(value: Any, field: str = "bbox") -> list[int]:
    """The four numbers of a box ``[x0, y0, x1, y1]`` (SR pixels), each read as
    :func:`check_id` reads an id (``7.0`` and ``"7"`` are 7; ``7.5`` or ``True`` are
    refused: ``int()`` read them as 7 and 1), negative ones too (a box drawn partly
    outside the image, which ``add_region`` clips). Their order is :func:`check_bbox`'s.

    Raises
    ------
    ValueError
        Not four whole numbers (a text such as ``"1234"`` is no box).

    Examples
    --------
    >>> from napari_srmat.audit.detector import bbox_coordinates
    >>> bbox_coordinates(["1", 2.0, 3, 4])
    [1, 2, 3, 4]
    >>> bbox_coordinates([0, 0, 7.5, 9], "region bbox")
    Traceback (most recent call last):
    ...
    ValueError: region bbox must be [x0, y0, x1, y1] in whole SR pixels, got [0, 0, 7.5, 9]
    """
    bad = ValueError(f"{field} must be {_BBOX_WORDS} in whole SR pixels, got {value!r}")
    if isinstance(value, str | bytes | dict) or not isinstance(value, Iterable):
        raise bad
    values = list(value)
    if len(values) != 4:
        raise bad
    try:
        return [_whole_number(v, field) for v in values]
    except ValueError:
        raise bad from None


def check_bbox(value: Any, field: str = "bbox", shape=None) -> list[int]:
    """The one rule for a candidate's or an added region's box, given or read from a
    session file: :func:`bbox_coordinates`, with ``0 <= x0 < x1`` and ``0 <= y0 < y1``
    (``x1``, ``y1`` exclusive), and inside ``shape`` ``(H, W)`` when given: the boxes the
    detector and :meth:`~napari_srmat.audit.AuditSession.add_region` write (a box of no
    area would count its diagonal as hallucinated length).

    Examples
    --------
    >>> from napari_srmat.audit.detector import check_bbox
    >>> check_bbox([0, 2, 10, 12], shape=(64, 64))
    [0, 2, 10, 12]
    >>> check_bbox([5, 5, 5, 9])
    Traceback (most recent call last):
    ...
    ValueError: bbox must be [x0, y0, x1, y1] with 0 <= x0 < x1, 0 <= y0 < y1 (SR pixels; x1, y1 exclusive), got [5, 5, 5, 9]
    """  # noqa: E501
    x0, y0, x1, y1 = box = bbox_coordinates(value, field)
    if not (0 <= x0 < x1 and 0 <= y0 < y1):
        raise _bbox_error(value, field, shape)
    return box if shape is None else check_bbox_inside(box, field, shape)


def check_bbox_inside(box: list[int], field: str, shape) -> list[int]:
    """``box``, a box :func:`check_bbox` took, checked to lie inside ``shape`` ``(H, W)``
    with :func:`check_bbox`'s words: a session file's boxes, read before the image size
    they must fit (each box checked once).

    Examples
    --------
    >>> from napari_srmat.audit.detector import check_bbox_inside
    >>> check_bbox_inside([0, 2, 10, 12], "bbox", (12, 10))
    [0, 2, 10, 12]
    >>> check_bbox_inside([0, 2, 10, 12], "bbox", (8, 8))
    Traceback (most recent call last):
    ...
    ValueError: bbox must be [x0, y0, x1, y1] with 0 <= x0 < x1 <= 8, 0 <= y0 < y1 <= 8 (SR pixels; x1, y1 exclusive), got [0, 2, 10, 12]
    """  # noqa: E501
    if box[2] > int(shape[1]) or box[3] > int(shape[0]):
        raise _bbox_error(box, field, shape)
    return box


def _bbox_error(value: Any, field: str, shape) -> ValueError:
    """The refusal of a box that is not :func:`check_bbox`'s (order, or ``shape``)."""
    h, w = (None, None) if shape is None else (int(shape[0]), int(shape[1]))
    within = "" if w is None else f" <= {w}"
    return ValueError(f"{field} must be {_BBOX_WORDS} with 0 <= x0 < x1{within}, "
                      f"0 <= y0 < y1{'' if h is None else f' <= {h}'} (SR pixels; x1, y1 "
                      f"exclusive), got {value!r}")


@dataclass
class Candidate:
    """A region of the SR image that may contain a hallucinated structure.

    Attributes
    ----------
    id : int
        Rank-independent identifier (1-based, assigned after sorting).
    bbox : list of int
        ``[x0, y0, x1, y1]`` in SR pixel coordinates (x = column); ``x1``/``y1``
        are exclusive.
    score : float
        Suspicion score (higher = more suspicious), see the module docstring.
    kind : str
        Dominant evidence: ``"new_boundary"``, ``"data_inconsistency"`` or
        ``"sample_spread"``.
    new_boundary_length_px : float
        Length (skeleton pixels, SR grid) of boundary with no LR counterpart.
    mean_residual : float
        Mean normalised data-consistency residual ``c`` over the region's pixels.
    mean_support_deficit : float
        Mean lack of LR gradient support ``u`` along the new boundary pixels.
    mean_spread : float
        Mean normalised sample spread ``s`` over the region's pixels.
    n_pixels : int
        Number of suspicious pixels in the region.
    """

    id: int
    bbox: list[int]
    score: float
    kind: str
    new_boundary_length_px: float
    mean_residual: float = 0.0
    mean_support_deficit: float = 0.0
    mean_spread: float = 0.0
    n_pixels: int = 0

    def __post_init__(self) -> None:
        self.id = check_id(self.id, "candidate id")
        self.bbox = check_bbox(self.bbox, "candidate bbox")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        d = asdict(self)
        d["bbox"] = [int(v) for v in self.bbox]
        for k in ("score", "new_boundary_length_px", "mean_residual", "mean_support_deficit",
                  "mean_spread"):
            d[k] = float(round(d[k], 6))
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Candidate:
        """Inverse of :meth:`to_dict`; raises ``ValueError`` on a malformed record."""
        try:
            kind = str(d.get("kind", "new_boundary"))
            if kind not in KINDS:
                raise ValueError(f"unknown kind {kind!r}")
            # numbers as written: true, "12" or 7.5 pixels are refused, not read as
            # 1.0, 12 or 7 (a file edited by hand)
            return cls(
                id=d["id"],  # both read by the rules of __post_init__
                bbox=d["bbox"],
                score=check_number("score", d["score"]),
                kind=kind,
                new_boundary_length_px=check_number(
                    "new_boundary_length_px", d.get("new_boundary_length_px", 0.0), lo=0),
                **{k: check_number(k, d.get(k, 0.0)) for k in
                   ("mean_residual", "mean_support_deficit", "mean_spread")},
                n_pixels=_whole_number(d.get("n_pixels", 0), "n_pixels", lo=0),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed candidate record {d!r}: {exc}") from exc


class CandidateList(list):
    """A ``list`` of :class:`Candidate` with detector context attached.

    Attributes
    ----------
    total_boundary_length_px : float
        Skeleton length of all SR boundaries found by the boundary map (for the
        "fraction of all boundary length" in reports).
    sr_shape : tuple
        ``(H, W)`` of the SR image.
    scale : int
        SR / LR scale factor.
    params : dict
        Detector settings used.
    """

    def __init__(self, items=(), *, total_boundary_length_px: float = 0.0,
                 sr_shape: tuple[int, int] = (0, 0), scale: int = 1,
                 params: dict | None = None) -> None:
        super().__init__(items)
        self.total_boundary_length_px = float(total_boundary_length_px)
        self.sr_shape = tuple(int(v) for v in sr_shape)
        self.scale = int(scale)
        self.params = dict(params or {})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary with ``candidates`` and context."""
        return {
            "candidates": [c.to_dict() for c in self],
            "n_candidates": len(self),
            "total_boundary_length_px": round(self.total_boundary_length_px, 3),
            "sr_shape": list(self.sr_shape),
            "scale": self.scale,
            "params": self.params,
        }


# ----------------------------------------------------------------------------- helpers


def _channels_last(a: np.ndarray) -> np.ndarray:
    """:func:`~napari_srmat.channels.float_channels_last` with the audit's error type."""
    return float_channels_last(a, error=AuditInputError)


def _degraded(degrade_fn: Callable, sr_t: np.ndarray, scale: int,
              lr_shape: tuple[int, ...]) -> np.ndarray:
    """``degrade_fn(sr_t, scale)`` as ``(h, w, C)`` float32, checked: the LR grid of the
    tile, finite (a wrong shape failed in numpy broadcasting; NaN values were taken as
    no residual, silently)."""
    out = degrade_fn(sr_t, scale)
    got = getattr(out, "shape", type(out).__name__)
    deg = _channels_last(out) if getattr(out, "ndim", 0) in (2, 3) else None
    if deg is None or deg.shape[:2] != tuple(lr_shape[:2]):
        raise AuditInputError(f"degrade_fn must return the LR image of an SR tile: shape "
                              f"{tuple(lr_shape[:2])} for an SR tile {sr_t.shape[:2]} at "
                              f"scale {scale}; got {got}")
    if not all_finite(deg):
        raise AuditInputError("degrade_fn returned NaN or Inf values")
    return deg


def _boundary_map(boundary_fn: Callable, image: np.ndarray) -> np.ndarray:
    """``boundary_fn(image)`` as float32, checked: one finite ``(H, W)`` map in [0, 1] (a
    tuple failed inside numpy, NaN read as "no boundary" and 0-255 values as boundary
    everywhere, silently)."""
    out = boundary_fn(image)
    H, W = image.shape[:2]
    if isinstance(out, tuple):
        raise AuditInputError(
            f"boundary_fn must return one (H, W) map, got a tuple of {len(out)} "
            "(predict_boundaries returns (probability, uncertainty): pass "
            "lambda image: predict_boundaries(image, scale_check=False)[0]; the scale "
            "check's grain-size advice does not apply to an audit's tiles)")
    b = np.asarray(out, dtype=np.float32)
    if b.shape != (H, W):
        raise AuditInputError(
            f"boundary_fn must return an (H, W) map; got {b.shape} for an SR tile {(H, W)}")
    if not all_finite(b):
        raise AuditInputError("boundary_fn returned NaN or Inf values")
    lo, hi = float(b.min()), float(b.max())
    if lo < -BOUNDARY_MAP_SLACK or hi > 1 + BOUNDARY_MAP_SLACK:
        raise AuditInputError(f"boundary_fn must return boundary strengths in [0, 1], got "
                              f"values in {lo:g}..{hi:g}")
    return b


def degrade(image: np.ndarray, scale: int, *, blur_sigma: float | None = None) -> np.ndarray:
    """Default SR degradation: Gaussian blur then area (block-mean) downsampling.

    Parameters
    ----------
    image : ndarray
        ``(H, W)`` or ``(H, W, C)`` image; H and W are cropped to multiples of ``scale``.
    scale : int
        Downsampling factor (>= 1).
    blur_sigma : float, optional
        Gaussian sigma in input pixels; default ``0.25 * scale`` (mild anti-aliasing on
        top of the area average).

    Returns
    -------
    ndarray
        float32 image of shape ``(H // scale, W // scale[, C])``.
    """
    scale = int(scale)
    if scale < 1:
        raise AuditInputError(f"scale must be >= 1, got {scale}")
    img = to_float01(image)
    sigma = 0.25 * scale if blur_sigma is None else float(blur_sigma)
    if sigma > 0:
        sig = (sigma, sigma) + (0,) * (img.ndim - 2)
        img = ndi.gaussian_filter(img, sig, mode="reflect")
    h, w = img.shape[0] // scale * scale, img.shape[1] // scale * scale
    img = img[:h, :w]
    shp = (h // scale, scale, w // scale, scale) + img.shape[2:]
    return img.reshape(shp).mean(axis=(1, 3)).astype(np.float32)


def bicubic_degrade(image: np.ndarray, scale: int) -> np.ndarray:
    """The SR models' evaluation degradation on a numpy image.

    Antialiased bicubic downsampling (``napari_srmat.sr.degrade.bicubic_downsample``,
    torch), wrapped for ``(H, W[, C])`` arrays.

    Parameters
    ----------
    image : ndarray
        ``(H, W)`` or ``(H, W, C)``; H and W must be multiples of ``scale``.
    scale : int
        Downsampling factor.

    Returns
    -------
    ndarray
        float32 ``(H // scale, W // scale[, C])`` in [0, 1].
    """
    import torch

    from ..sr.degrade import bicubic_downsample

    img = to_float01(image)
    grey = img.ndim == 2
    x = torch.from_numpy(np.ascontiguousarray(img[..., None] if grey else img))
    x = x.permute(2, 0, 1)[None].float()
    with torch.no_grad():
        y = bicubic_downsample(x, int(scale))[0].permute(1, 2, 0).numpy()
    return (y[..., 0] if grey else y).astype(np.float32)


def resolve_degrade(
    degrade_fn: Callable | str | None = None,
) -> Callable[[np.ndarray, int], np.ndarray]:
    """Return the degradation used by the detector.

    Parameters
    ----------
    degrade_fn : callable or str, optional
        A callable ``degrade_fn(image, scale) -> LR`` is returned as is.
        ``"bicubic"``: :func:`bicubic_degrade` (the SR models' evaluation degradation,
        from ``napari_srmat.sr.degrade``); ``"gaussian-area"``: :func:`degrade`.
        ``None`` (default): ``"bicubic"``.
    """
    if callable(degrade_fn):
        return degrade_fn
    if degrade_fn == "gaussian-area":
        return degrade
    if degrade_fn not in (None, "bicubic"):
        raise AuditInputError(
            f"unknown degrade_fn {degrade_fn!r} (a callable, 'bicubic' or 'gaussian-area')")
    return bicubic_degrade


def upscale_bicubic(image: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic upscaling on the pixel-centre grid (SR pixel ``i`` <-> LR ``(i+0.5)/s-0.5``).

    Parameters
    ----------
    image : ndarray
        ``(h, w)`` or ``(h, w, C)``.
    scale : int
        Integer factor.

    Returns
    -------
    ndarray
        float32 ``(h*scale, w*scale[, C])``, clipped to the input range.
    """
    img = to_float01(image)
    zoom = (scale, scale) + (1,) * (img.ndim - 2)
    out = ndi.zoom(img, zoom, order=3, grid_mode=True, mode="grid-mirror")
    return np.clip(out, float(img.min()), float(img.max())).astype(np.float32)


def default_boundary_map(image: np.ndarray) -> np.ndarray:
    """Cheap deterministic boundary map in [0, 1] (no trained model needed).

    The maximum of (i) a multi-scale dark-ridge response (Sato, sigmas 1 and 2 px)
    on luminance and (ii) the colour gradient magnitude (Gaussian derivative,
    sigma 1.5 px, max over channels), each divided by a fixed reference contrast
    and passed through ``1 - exp(-x)``. Fixed references (no per-image
    normalisation) keep the map tile-independent. 0.5 is a sensible threshold.

    Parameters
    ----------
    image : ndarray
        ``(H, W)`` or ``(H, W, C)``.

    Returns
    -------
    ndarray
        float32 ``(H, W)`` boundary strength in [0, 1].
    """
    from skimage.filters import sato

    img = _channels_last(image)
    lum = luminance(img)
    ridge = sato(lum, sigmas=(1.0, 2.0), black_ridges=True, mode="reflect")
    grad = np.max(
        np.stack([ndi.gaussian_gradient_magnitude(img[..., k], 1.5, mode="reflect")
                  for k in range(img.shape[2])]), axis=0)
    x = np.maximum(ridge / 0.04, grad / 0.06)
    return (1.0 - np.exp(-x)).astype(np.float32)


# ------------------------------------------------------------------- per-tile evidence


@dataclass
class _Params:
    scale: int
    tolerance_px: float
    boundary_threshold: float
    lr_threshold_factor: float
    residual_floor: float
    std_floor: float
    support_energy_floor: float
    min_support_deficit: float
    link_px: int
    prior_weight: float
    area_weight: float
    min_score: float
    min_new_length_px: float
    new_kind_min_px: float
    extra: dict = field(default_factory=dict)


def _grad_energy(lum: np.ndarray) -> np.ndarray:
    gy = ndi.sobel(lum, axis=0, mode="reflect") / 8.0
    gx = ndi.sobel(lum, axis=1, mode="reflect") / 8.0
    return ndi.gaussian_filter(gx * gx + gy * gy, 1.0, mode="reflect")


def _disk(r: float) -> np.ndarray:
    ri = int(math.ceil(r))
    yy, xx = np.mgrid[-ri:ri + 1, -ri:ri + 1]
    return (yy * yy + xx * xx) <= r * r + 1e-9


def boundary_evidence(sr: np.ndarray, lr_up: np.ndarray, *,
                      boundary_fn: Callable[[np.ndarray], np.ndarray] | None = None,
                      boundary_threshold: float = 0.5, lr_threshold_factor: float = 0.5,
                      tolerance_px: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """The detector's boundary evidence (b): the SR boundary skeleton and the LR band.

    Parameters
    ----------
    sr : ndarray
        SR pixels ``(H, W[, C])`` in [0, 1].
    lr_up : ndarray
        The LR upscaled onto the same grid (:func:`upscale_bicubic`).
    boundary_fn, boundary_threshold, lr_threshold_factor, tolerance_px
        As in :func:`find_candidates_job` (``boundary_fn`` None: :func:`default_boundary_map`).

    Returns
    -------
    skeleton, band : ndarray of bool
        Skeleton of ``boundary_fn(sr) >= boundary_threshold``, and
        ``boundary_fn(lr_up) >= boundary_threshold * lr_threshold_factor`` dilated by a
        disk of radius ``tolerance_px``; "new boundary" pixels are ``skeleton & ~band``.
    """
    from skimage.morphology import skeletonize

    boundary_fn = default_boundary_map if boundary_fn is None else boundary_fn
    skel = skeletonize(_boundary_map(boundary_fn, sr) >= boundary_threshold)
    band = _boundary_map(boundary_fn, lr_up) >= boundary_threshold * lr_threshold_factor
    if tolerance_px > 0:
        band = ndi.binary_dilation(band, structure=_disk(tolerance_px))
    return skel, band


def _tile_maps(lr: np.ndarray, sr: np.ndarray, std: np.ndarray | None, p: _Params,
               boundary_fn: Callable, degrade_fn: Callable) -> dict[str, np.ndarray]:
    """Evidence maps on one (halo-padded) tile; arrays on the SR grid of ``sr``."""
    s = p.scale
    # (a) data consistency on the LR grid
    deg = _degraded(degrade_fn, sr, s, lr.shape)
    lr_f = lr
    if deg.shape[2] != lr_f.shape[2]:
        deg, lr_f = deg.mean(axis=2, keepdims=True), lr_f.mean(axis=2, keepdims=True)
    h = min(deg.shape[0], lr_f.shape[0])
    w = min(deg.shape[1], lr_f.shape[1])
    deg, lr_f = deg[:h, :w], lr_f[:h, :w]
    resid = _residual_rms(lr_f, deg, 1, lambda x, _s: x)
    # LR gradient support: energy the SR structure implies vs energy present in the LR
    e_exp = _grad_energy(luminance(deg))
    e_lr = _grad_energy(luminance(lr_f))
    u_lr = np.clip((e_exp - e_lr) / (e_exp + p.support_energy_floor), 0.0, 1.0)
    H, W = sr.shape[:2]
    resid_up = upscale_bicubic(resid, s)[:H, :W]
    c = np.clip((resid_up - p.residual_floor) / p.residual_floor, 0.0, 3.0)
    u = upscale_bicubic(u_lr, s)[:H, :W]
    u = np.clip(u, 0.0, 1.0)
    # (b) boundary evidence on the SR grid
    skel, lr_band = boundary_evidence(
        sr, upscale_bicubic(lr, s)[:H, :W], boundary_fn=boundary_fn,
        boundary_threshold=p.boundary_threshold, lr_threshold_factor=p.lr_threshold_factor,
        tolerance_px=p.tolerance_px)
    new = skel & ~lr_band
    # (c) sample spread
    if std is not None:
        sd = std if std.ndim == 2 else np.sqrt(np.mean(std.astype(np.float32) ** 2, axis=2))
        sp = np.clip((sd - p.std_floor) / p.std_floor, 0.0, 3.0).astype(np.float32)
    else:
        sp = np.zeros((H, W), np.float32)
    newu = new & (u >= p.min_support_deficit)
    mask = newu | (c > 0) | (sp > 0)
    return {"c": c, "u": u, "s": sp, "skel": skel, "new": newu, "mask": mask}


def _residual_rms(lr_t: np.ndarray, sr_t: np.ndarray, scale: int, degrade_fn: Callable):
    deg = _degraded(degrade_fn, sr_t, scale, lr_t.shape)
    if deg.shape[2] != lr_t.shape[2]:
        deg, lr_t = deg.mean(axis=2, keepdims=True), lr_t.mean(axis=2, keepdims=True)
    h, w = min(deg.shape[0], lr_t.shape[0]), min(deg.shape[1], lr_t.shape[1])
    return np.sqrt(np.mean((deg[:h, :w] - lr_t[:h, :w]) ** 2, axis=2))


def _check_finite(tiles: dict[str, Any], rows: tuple[int, int],
                  cols: tuple[int, int]) -> None:
    """Refuse NaN or Inf pixels in the windows ``tiles`` (``name -> array or None``) read
    around SR ``rows`` x ``cols``: the one rule of the floor estimate and the tile loop
    (a NaN made the floor estimate blame the pairing: 'degrade(sr) does not match lr')."""
    for name, t in tiles.items():
        if t is not None and not all_finite(t):
            raise AuditInputError(
                f"{name} has NaN or Inf pixels (around SR rows {rows[0]}:{rows[1]}, columns "
                f"{cols[0]}:{cols[1]}): replace them first (e.g. numpy.nan_to_num)")


def _check_std(std: Any, rows: tuple[int, int], cols: tuple[int, int]) -> None:
    """Refuse negative values in the window ``std`` of ``sr_std`` read around SR ``rows`` x
    ``cols``: a standard deviation is never negative, and a signed map (a difference of
    two samples, a map stored with an offset) was read as no uncertainty at all."""
    if std is not None and std.size and float(np.min(std)) < 0:
        raise AuditInputError(
            f"sr_std has negative values (around SR rows {rows[0]}:{rows[1]}, columns "
            f"{cols[0]}:{cols[1]}); it is the per-pixel standard deviation of the SR "
            "samples, never negative")


def estimate_residual_floor(lr, sr, scale: int, *, degrade_fn=None, min_floor: float = 0.01,
                            k: float = 4.0, strip: int = 512, halo: int = 32) -> float:
    """Image-adaptive data-consistency floor: ``max(min_floor, median + k * 1.4826 * MAD)``.

    The residual RMS between ``degrade(SR)`` and ``LR`` is computed over the whole
    image in row strips (independent of the detector's tile size) and summarised by a
    histogram, so large images are never held in memory.

    Parameters
    ----------
    lr, sr : array-like
        LR and SR images (``sr`` = ``lr`` x ``scale``).
    scale : int
        SR factor.
    degrade_fn : callable or str, optional
        See :func:`resolve_degrade`.
    min_floor, k : float
        Lower bound and the number of robust standard deviations above the median.
    strip, halo : int
        Strip height and halo in SR rows.

    Returns
    -------
    float
        The floor (intensity units in [0, 1]).
    """
    degrade_fn = resolve_degrade(degrade_fn)
    H = int(sr.shape[0])
    strip = int(math.ceil(strip / scale) * scale)
    halo = int(math.ceil(halo / scale) * scale)
    bins = np.linspace(0.0, 1.0, 4097)
    hist = np.zeros(4096, np.int64)
    for y0 in range(0, H, strip):
        y1 = min(y0 + strip, H)
        py0, py1 = max(y0 - halo, 0), min(y1 + halo, H)
        sr_t = _channels_last(np.asarray(sr[py0:py1]))
        lr_t = _channels_last(np.asarray(lr[py0 // scale:py1 // scale]))
        _check_finite({"sr": sr_t, "lr": lr_t}, (py0, py1), (0, int(sr.shape[1])))
        r = _residual_rms(lr_t, sr_t, scale, degrade_fn)
        a = (y0 - py0) // scale
        r = r[a:a + (y1 - y0) // scale]
        hist += np.histogram(np.clip(r, 0, 1), bins=bins)[0]
    if hist.sum() == 0:
        return float(min_floor)
    centres = (bins[:-1] + bins[1:]) / 2
    cdf = np.cumsum(hist) / hist.sum()
    med = centres[np.searchsorted(cdf, 0.5)]
    dev = np.abs(centres - med)
    order = np.argsort(dev)
    cdev = np.cumsum(hist[order]) / hist.sum()
    mad = dev[order][np.searchsorted(cdev, 0.5)]
    return float(max(min_floor, median_plus_mads(med, mad, k)))


# --------------------------------------------------------------------- tiled driver


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def add(self, a: int) -> None:
        self.parent.setdefault(a, a)

    def find(self, a: int) -> int:
        root = a
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[a] != root:
            self.parent[a], a = root, self.parent[a]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _as_array_2d3d(a, name: str):
    from ..io import check_pixel_values, image_data

    a, _ = image_data(a, name=name)
    if len(a.shape) not in (2, 3):
        raise AuditInputError(f"{name} must be (H, W) or (H, W, C), got shape {tuple(a.shape)}")
    if name != "sr_std":  # a standard deviation is not an image in [0, 1]
        check_pixel_values(a, name=name)
    return a


def check_audit_memory(lr, sr, sr_std=None) -> None:
    """Refuse, before any pixel is read, an audit of images whose whole-image search does
    not fit in memory (:func:`napari_srmat.estimates.plan_audit`; arrays, Dask/Zarr or
    Micrographs): a 60000² SR image ran out of memory after minutes of reading. The one
    rule of :func:`find_candidates_job` and ``srmat audit candidates``.

    Raises
    ------
    AuditInputError
        One line: the memory needed and available, and to audit a region.
    """
    from ..estimates import check_in_memory, plan_audit
    from ..io import Micrograph

    def lazy(a):  # a Micrograph's level 0; None for what is no array (a list, a path,
        a = a.data if isinstance(a, Micrograph) else a  # None: refused or converted later)
        return a if hasattr(a, "shape") and hasattr(a, "dtype") else None

    lr, sr = lazy(lr), lazy(sr)
    if lr is None or sr is None or any(len(a.shape) not in (2, 3) for a in (lr, sr)):
        return  # the shape rule (_as_array_2d3d) names it; a 1-D sr had no sr_shape[1]
    std = None if sr_std is None else lazy(sr_std)
    plan = plan_audit(lr.shape, sr.shape, lr.dtype, sr.dtype,
                      std_shape=None if std is None else std.shape,
                      std_dtype=np.float32 if std is None else std.dtype,
                      held=tuple(isinstance(a, np.ndarray) for a in (lr, sr, std)))
    check_in_memory(plan, "find_candidates", error=AuditInputError,
                    advice="audit a region of it (crop the LR image and the same area of "
                    "the SR image)")


def _crop(a, y0, y1, x0, x1) -> np.ndarray:
    return np.asarray(a[y0:y1, x0:x1])


def find_candidates_job(
    lr,
    sr,
    *,
    scale: int | None = None,
    boundary_fn: Callable[[np.ndarray], np.ndarray] | None = None,
    degrade_fn: Callable[[np.ndarray, int], np.ndarray] | None = None,
    tolerance_px: float = 4.0,
    sr_std=None,
    tile: int = 512,
    halo: int = 48,
    boundary_threshold: float = 0.5,
    lr_threshold_factor: float = 0.5,
    residual_floor: float | str = "auto",
    std_floor: float = 0.03,
    support_energy_floor: float = 1e-4,
    min_support_deficit: float = 0.2,
    link_px: int = 3,
    prior_weight: float = 0.1,
    area_weight: float = 0.5,
    min_score: float = 10.0,
    min_new_length_px: float = 0.0,
    new_kind_min_px: float = 8.0,
    stop: StopToken | None = None,
) -> Generator[Event, None, CandidateList | None]:
    """Find suspicious (possibly hallucinated) regions of ``sr`` given ``lr`` (job).

    Parameters
    ----------
    lr, sr : array-like
        LR input and SR output, ``(h, w[, C])`` and ``(h*s, w*s[, C])``; numpy, Dask or
        Zarr arrays (read tile by tile), uint8/uint16/float.
    scale : int, optional
        SR factor; inferred from the shapes when omitted (must be an integer).
    boundary_fn : callable, optional
        ``boundary_fn(image (H, W[, C]) float) -> (H, W)`` boundary strength in [0, 1]
        (e.g. UAED probabilities). Default :func:`default_boundary_map`.
    degrade_fn : callable, optional
        ``degrade_fn(image, scale) -> LR image``; default :func:`resolve_degrade`.
    tolerance_px : float
        SR boundary pixels with an LR-up boundary within this distance are not "new".
    sr_std : array-like, optional
        Per-pixel std over several diffusion samples, ``(H, W[, C])`` on the SR grid;
        never negative (a negative value is refused: :class:`AuditInputError`).
    tile, halo : int
        Core tile size and halo (SR pixels; rounded up to multiples of ``scale``).
    boundary_threshold : float
        Threshold of the boundary map on SR; the LR-up map uses
        ``boundary_threshold * lr_threshold_factor`` (more permissive: blurred LR).
    lr_threshold_factor : float
        Factor (default 0.5) on ``boundary_threshold`` for the boundary map of the
        upsampled LR image: a boundary counts as present in LR at this lower level,
        because LR boundaries are blurred and weaker.
    residual_floor : float or "auto"
        Residual RMS (intensity in [0, 1]) below which there is no data-consistency
        evidence. ``"auto"``: :func:`estimate_residual_floor` (adapts to an SR model's
        overall inconsistency level; costs one extra pass over the image).
    std_floor : float
        Sample std below which there is no spread evidence.
    support_energy_floor : float
        Regulariser ``e0`` of the LR-support deficit ``u``.
    min_support_deficit : float
        New boundary pixels with ``u`` below this are ignored.
    link_px : int
        Suspicious pieces closer than about ``2 * link_px`` are linked into one candidate.
    prior_weight, area_weight : float
        ``w0`` and ``gamma`` of the score (module docstring).
    min_score : float
        Candidates scoring below this are dropped.
    min_new_length_px : float
        Drop ``new_boundary`` candidates shorter than this.
    new_kind_min_px : float
        A candidate with at least this much new boundary length is of kind
        ``"new_boundary"`` (also when its boundary term ``B`` dominates); otherwise
        ``"data_inconsistency"`` or ``"sample_spread"``, whichever sum is larger.
    stop : StopToken, optional
        Checked between tiles.

    Yields
    ------
    Event
        ``Progress`` per tile, ``Log``, ``Stopped``.

    Returns
    -------
    CandidateList or None
        Candidates sorted by score (descending); ``None`` when stopped.
    """
    from ..io import check_image_side
    from ..jobs import check_stop

    stop = check_stop(stop)
    check_audit_memory(lr, sr, sr_std)
    lr = _as_array_2d3d(lr, "lr")
    sr = _as_array_2d3d(sr, "sr")
    sr_std = None if sr_std is None else _as_array_2d3d(sr_std, "sr_std")
    h, w = int(lr.shape[0]), int(lr.shape[1])
    H, W = int(sr.shape[0]), int(sr.shape[1])
    if h == 0 or w == 0 or H == 0 or W == 0:
        raise AuditInputError(f"empty image: lr {tuple(lr.shape)}, sr {tuple(sr.shape)}")
    # an lr that super_resolve refuses has no SR (1 x 1 px was audited at scale 96)
    check_image_side(lr.shape, name="lr")
    if scale is None:
        if H % h or W % w or H // h != W // w:
            rule = ("{sr} is smaller than {lr}: are they swapped? ({lr} = the low-resolution "
                    "input, {sr} = its super-resolved version)" if H < h and W < w else
                    "{sr} must be {lr} enlarged by one integer factor on both axes: crop or "
                    "resize one of them")
            raise worded_error(AuditInputError, "cannot infer an integer scale from {lr} "
                               "{lr_shape} and {sr} {sr_shape}; " + rule, lr=LR_IMAGE,
                               sr=SR_IMAGE, lr_shape=(h, w), sr_shape=(H, W))
        scale = H // h
    scale = check_number("scale", scale, lo=1, integer=True, error=AuditInputError)
    if H != h * scale or W != w * scale:
        raise AuditInputError(
            f"sr shape {(H, W)} is not lr shape {(h, w)} x scale {scale}")
    if sr_std is not None and tuple(sr_std.shape[:2]) != (H, W):
        raise AuditInputError(f"sr_std shape {tuple(sr_std.shape)} != sr shape {(H, W)}")
    tile = check_number("tile", tile, lo=16, integer=True, error=AuditInputError)
    tile = int(math.ceil(tile / scale) * scale)
    halo = check_number("halo", halo, lo=0, integer=True, error=AuditInputError)
    halo = int(math.ceil(halo / scale) * scale)
    # the score's options: NaN compares False (area_weight=nan kept every candidate),
    # a negative weight or length turns a rule around, 2.5 px was cast with int()
    _num = functools.partial(check_number, error=AuditInputError)
    boundary_threshold = _num("boundary_threshold", boundary_threshold, lo=0, hi=1)
    lr_threshold_factor = _num("lr_threshold_factor", lr_threshold_factor, lo=0)
    support_energy_floor = _num("support_energy_floor", support_energy_floor, lo=0,
                                lo_open=True)
    min_support_deficit = _num("min_support_deficit", min_support_deficit, lo=0)
    link_px = _num("link_px", link_px, lo=0, integer=True)
    prior_weight = _num("prior_weight", prior_weight, lo=0)
    area_weight = _num("area_weight", area_weight, lo=0)
    min_new_length_px = _num("min_new_length_px", min_new_length_px, lo=0)
    new_kind_min_px = _num("new_kind_min_px", new_kind_min_px, lo=0)
    if boundary_fn is not None and not callable(boundary_fn):
        raise TypeError(f"boundary_fn must be a callable (image -> boundary map in [0, 1]) "
                        f"or None (the default map), got {type(boundary_fn).__name__}")
    boundary_fn = default_boundary_map if boundary_fn is None else boundary_fn
    degrade_fn = resolve_degrade(degrade_fn)
    if isinstance(residual_floor, str):
        if residual_floor != "auto":
            raise AuditInputError(f"residual_floor must be a number or 'auto', "
                                  f"got {residual_floor!r}")
        yield Log("audit: estimating the data-consistency floor")
        residual_floor = estimate_residual_floor(lr, sr, scale, degrade_fn=degrade_fn)
        yield Log(f"audit: residual_floor = {residual_floor:.4f}")
        if 1 >= residual_floor > RESIDUAL_FLOOR_HIGH:  # above 1: refused below
            yield Log(f"audit: the estimated data-consistency floor, {residual_floor:.3g}, is "
                      "far above its usual range (0.010-0.036 on tbm/val for an SR within 1 "
                      "SR px of the LR along one axis; told above "
                      f"{RESIDUAL_FLOOR_HIGH:g}): the LR "
                      "disagrees with the degraded SR everywhere, and hallucinations weaker "
                      "than that go unfound (on tbm/val not even injected lines were). Was "
                      "the LR made by another degradation (a plain subsampling, another "
                      "blur), or is the SR misregistered (shifted by more than about 1 SR px), "
                      "intensity-shifted (a gain) or blurred against it? Audit an LR made as "
                      "the detector assumes (antialiased bicubic; Python: degrade_fn= for the "
                      "one that made it) with the SR registered to it at its intensities",
                      "warning")
        if residual_floor > 1:  # the options check below would blame the user's option
            raise worded_error(
                AuditInputError, "degrade(sr) does not match lr anywhere (the estimated "
                "data-consistency floor, {auto}, is {floor} > 1): is sr the super-resolution "
                "of this lr at scale {scale}? (A fixed floor searches anyway: pass {fixed}, "
                "a number in (0, 1].)", auto=RESIDUAL_FLOOR_AUTO, floor=f"{residual_floor:.3g}",
                scale=scale, fixed=RESIDUAL_FLOOR_FIXED)
    if not (0 < float(residual_floor) <= 1 and 0 < float(std_floor) <= 1):
        raise AuditInputError(f"residual_floor and std_floor must be in (0, 1] (image units), "
                              f"got {residual_floor} and {std_floor}")
    if not (math.isfinite(float(tolerance_px)) and float(tolerance_px) >= 0):
        raise AuditInputError(f"tolerance_px must be a finite number >= 0, got {tolerance_px}")
    if not math.isfinite(float(min_score)):
        raise AuditInputError(f"min_score must be a finite number, got {min_score}")
    p = _Params(scale, float(tolerance_px), float(boundary_threshold), float(lr_threshold_factor),
                float(residual_floor), float(std_floor), float(support_energy_floor),
                float(min_support_deficit), int(link_px), float(prior_weight),
                float(area_weight), float(min_score), float(min_new_length_px),
                float(new_kind_min_px))
    params = {k: v for k, v in asdict(p).items() if k != "extra"}
    params.update(tile=tile, halo=halo,
                  boundary_fn=getattr(boundary_fn, "__name__", type(boundary_fn).__name__),
                  degrade_fn=getattr(degrade_fn, "__module__", "") + "." +
                  getattr(degrade_fn, "__name__", type(degrade_fn).__name__))
    link = _disk(p.link_px) if p.link_px > 0 else None

    ys = list(range(0, H, tile))
    xs = list(range(0, W, tile))
    total = len(ys) * len(xs)
    # per global component id: stats
    stats: dict[int, np.ndarray] = {}  # [n_new, B, sum_c, sum_s, n_mask, sum_u_new, y0,x0,y1,x1]
    uf = _UnionFind()
    edges: dict[tuple[int, int], dict[str, np.ndarray]] = {}
    next_id = 1
    total_len = 0.0
    done = 0
    yield Log(f"audit: {total} tile(s), scale x{scale}, SR {H}x{W}")
    for ti, y0 in enumerate(ys):
        for tj, x0 in enumerate(xs):
            if stop is not None and stop.stop_requested:
                yield Stopped("candidate search stopped")
                return None
            y1, x1 = min(y0 + tile, H), min(x0 + tile, W)
            py0, px0 = max(y0 - halo, 0), max(x0 - halo, 0)
            py1, px1 = min(y1 + halo, H), min(x1 + halo, W)
            sr_t = _channels_last(_crop(sr, py0, py1, px0, px1))
            lr_t = _channels_last(_crop(lr, py0 // scale, py1 // scale,
                                        px0 // scale, px1 // scale))
            std_t = None if sr_std is None else to_float01(_crop(sr_std, py0, py1, px0, px1))
            _check_finite({"sr": sr_t, "lr": lr_t, "sr_std": std_t}, (py0, py1), (px0, px1))
            _check_std(std_t, (py0, py1), (px0, px1))
            m = _tile_maps(lr_t, sr_t, std_t, p, boundary_fn, degrade_fn)
            mask = m["mask"]
            linked = ndi.binary_dilation(mask, structure=link) if link is not None else mask
            cy0, cx0 = y0 - py0, x0 - px0
            cs = (slice(cy0, cy0 + (y1 - y0)), slice(cx0, cx0 + (x1 - x0)))
            total_len += float(m["skel"][cs].sum())
            lab, n = ndi.label(linked[cs], structure=np.ones((3, 3), bool))
            ids = np.zeros(n + 1, np.int64)
            ids[1:] = np.arange(next_id, next_id + n)
            next_id += n
            gl = ids[lab]  # global ids on the core, 0 = background
            edges[(ti, tj)] = {"top": gl[0].copy(), "bottom": gl[-1].copy(),
                               "left": gl[:, 0].copy(), "right": gl[:, -1].copy()}
            mk = mask[cs]
            if n:
                rr, cc = np.nonzero(mk)
                gid = gl[rr, cc]
                c_v, s_v, u_v = m["c"][cs][rr, cc], m["s"][cs][rr, cc], m["u"][cs][rr, cc]
                nw = m["new"][cs][rr, cc]
                contrib_b = np.where(nw, u_v * (p.prior_weight + c_v + s_v), 0.0)
                uniq, inv = np.unique(gid, return_inverse=True)
                k = len(uniq)

                def _sum(v, inv=inv, k=k):
                    return np.bincount(inv, weights=v, minlength=k)

                n_new = _sum(nw.astype(np.float64))
                b_sum = _sum(contrib_b)
                c_sum = _sum(c_v.astype(np.float64))
                s_sum = _sum(s_v.astype(np.float64))
                n_mask = np.bincount(inv, minlength=k).astype(np.float64)
                u_sum = _sum(np.where(nw, u_v, 0.0))
                ymin = np.full(k, np.inf)
                xmin = np.full(k, np.inf)
                ymax = np.full(k, -np.inf)
                xmax = np.full(k, -np.inf)
                np.minimum.at(ymin, inv, rr + y0)
                np.minimum.at(xmin, inv, cc + x0)
                np.maximum.at(ymax, inv, rr + y0)
                np.maximum.at(xmax, inv, cc + x0)
                for i, g in enumerate(uniq):
                    stats[int(g)] = np.array([n_new[i], b_sum[i], c_sum[i], s_sum[i], n_mask[i],
                                              u_sum[i], ymin[i], xmin[i], ymax[i], xmax[i]])
            for g in np.unique(gl):
                if g:
                    uf.add(int(g))
            done += 1
            yield Progress(done, total, "audit tiles")

    # merge across core borders (8-connectivity)
    def _link(a: np.ndarray, b: np.ndarray) -> None:
        for off in (-1, 0, 1):
            if off < 0:
                aa, bb = a[1:], b[:-1]
            elif off > 0:
                aa, bb = a[:-1], b[1:]
            else:
                aa, bb = a, b
            both = (aa > 0) & (bb > 0)
            for ga, gb in zip(aa[both].tolist(), bb[both].tolist()):
                uf.union(ga, gb)

    for (ti, tj), e in edges.items():
        if (ti, tj + 1) in edges:
            _link(e["right"], edges[(ti, tj + 1)]["left"])
        if (ti + 1, tj) in edges:
            _link(e["bottom"], edges[(ti + 1, tj)]["top"])
        if (ti + 1, tj + 1) in edges:
            a, b = e["bottom"][-1], edges[(ti + 1, tj + 1)]["top"][0]
            if a and b:
                uf.union(int(a), int(b))
        if (ti + 1, tj - 1) in edges:
            a, b = e["bottom"][0], edges[(ti + 1, tj - 1)]["top"][-1]
            if a and b:
                uf.union(int(a), int(b))

    merged: dict[int, np.ndarray] = {}
    for g, st in stats.items():
        r = uf.find(g)
        if r in merged:
            m0 = merged[r]
            m0[:6] += st[:6]
            m0[6:8] = np.minimum(m0[6:8], st[6:8])
            m0[8:10] = np.maximum(m0[8:10], st[8:10])
        else:
            merged[r] = st.copy()

    cands: list[Candidate] = []
    for st in merged.values():
        n_new, b_sum, c_sum, s_sum, n_mask, u_sum, ymin, xmin, ymax, xmax = st.tolist()
        d_sum = (c_sum + s_sum) / scale
        score = b_sum + p.area_weight * d_sum
        if score < p.min_score:
            continue
        if n_new >= max(p.new_kind_min_px, 1.0) or (n_new > 0 and b_sum >= p.area_weight * d_sum):
            kind = "new_boundary"
            if n_new < p.min_new_length_px:
                continue
        elif c_sum >= s_sum:
            kind = "data_inconsistency"
        else:
            kind = "sample_spread"
        cands.append(Candidate(
            id=0,
            bbox=[int(xmin), int(ymin), int(xmax) + 1, int(ymax) + 1],
            score=float(score),
            kind=kind,
            new_boundary_length_px=float(n_new),
            mean_residual=float(c_sum / max(n_mask, 1.0)),
            mean_support_deficit=float(u_sum / n_new) if n_new else 0.0,
            mean_spread=float(s_sum / max(n_mask, 1.0)),
            n_pixels=int(n_mask),
        ))
    cands.sort(key=lambda c: (-c.score, c.bbox[1], c.bbox[0]))
    for i, c in enumerate(cands, 1):
        c.id = i
    yield Log(f"audit: {len(cands)} candidate(s) with score >= {p.min_score:g}")
    return CandidateList(cands, total_boundary_length_px=total_len, sr_shape=(H, W),
                         scale=scale, params=params)


@plain_version(find_candidates_job)
def find_candidates(lr, sr, **kwargs) -> CandidateList:
    """Plain version of :func:`find_candidates_job` (same parameters); returns the list.
    ``napari_srmat.find_hallucination_candidates`` at the top level.

    Examples
    --------
    >>> import napari_srmat as srmat
    >>> lr = srmat.generate_microstructure((256, 256), seed=0).image[::4, ::4]
    >>> cands = srmat.find_hallucination_candidates(lr, srmat.super_resolve(lr, "bicubic",
    ...                                                                      scale=4))
    >>> type(cands).__name__, cands.scale   # the scale from the shapes
    ('CandidateList', 4)
    >>> len(cands)   # bicubic draws no boundary the LR does not hold
    0
    """
    return run_job(find_candidates_job(lr, sr, **kwargs), quiet=True)
