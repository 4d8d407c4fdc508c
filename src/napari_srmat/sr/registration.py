"""Registration of a low-resolution acquisition onto a high-resolution scan.

:func:`register_images` finds the scale and the drift between MOVING (e.g. a fast
LR acquisition) and FIXED (an HR scan of the same area):

* ``scale`` = FIXED pixels per MOVING pixel (4 for a x4 LR acquisition);
* ``offset_px`` = ``(row, col)`` position, in FIXED pixels, of MOVING's top-left
  *corner*: MOVING pixel ``(i, j)`` (centre) lies at FIXED pixel coordinates
  ``offset + ((i, j) + 0.5) * scale - 0.5`` (pixel-centre convention, as
  :func:`napari_srmat.audit.upscale_bicubic`);
* ``ssim`` = structural similarity of MOVING and FIXED resampled onto MOVING's
  grid (luminance, data range 1) at the solution: the match quality;
* ``trusted``: the SSIM is at least ``MIN_MATCH_SSIM`` and nothing casts doubt on the
  match (``doubts``: a scale at a limit of the range searched, images that look
  swapped).

Method (coarse to fine)
-----------------------
1. Luminance of both images in [0, 1]; if MOVING is larger than
   ``COARSE_MAX_PX`` on a side, both are shrunk by the same factor for steps 2-3.
2. Scale search: FIXED is resized by ``1 / s`` (area interpolation) for each ``s``
   of a geometric grid (ratio ``COARSE_STEP``) and the normalised cross-correlation
   with MOVING (OpenCV ``matchTemplate``, the smaller image inside the larger one)
   is maximised; then a finer grid (ratio ``FINE_STEP``) around the best ``s``,
   with a parabolic sub-pixel fit of the correlation peak.
3. Refinement: Nelder-Mead over ``(log scale, row, col)`` maximising the SSIM of
   MOVING against FIXED blurred (Gaussian, sigma ``BLUR_PER_SCALE * scale``) and
   sampled (cubic spline) at MOVING's pixel centres, on a central crop of MOVING of
   at most ``REFINE_MAX_PX`` per side at full resolution. This gives sub-pixel
   offsets.

One image must contain the other (MOVING inside FIXED, or FIXED inside MOVING);
the overlap must be at least ``MIN_OVERLAP_PX`` MOVING pixels per side.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import check_flag, check_number, compared_text
from ..io import LENGTH_UNIT, all_finite
from .base import SRError

__all__ = [
    "Registration",
    "RegistrationError",
    "RegistrationWarning",
    "overlap_box",
    "register_images",
    "resample_fixed",
    "SCALE_RANGE",
    "AT_SCALE_LIMIT",
    "LOOK_SWAPPED",
]

#: Default scale search range (FIXED px per MOVING px).
SCALE_RANGE = (1.0, 8.0)
#: Ratio of consecutive scales of the coarse / fine search grids.
COARSE_STEP = 1.04
FINE_STEP = 1.004
#: With a scale hint, the search covers ``hint / HINT_TOLERANCE .. hint * HINT_TOLERANCE``.
HINT_TOLERANCE = 1.1
#: A scale (hint) outside this range is refused: the moving image would be resized by
#: that factor (a hint of 0.01 meant a 100x enlargement and tens of GB).
SCALE_LIMITS = (1 / 16, 16.0)
#: Larger MOVING images are shrunk to this size (per side) for the scale search.
COARSE_MAX_PX = 256
#: Side of the central MOVING crop used by the SSIM refinement (full resolution).
REFINE_MAX_PX = 384
#: Anti-aliasing blur of FIXED before it is sampled on MOVING's grid (sigma / scale).
BLUR_PER_SCALE = 0.4
#: At most this many blurred copies of FIXED (one per scale, rounded to 0.01, that the
#: SSIM refinement visits: up to 6 seen at x6) are kept at once; the oldest goes first.
#: :func:`napari_srmat.estimates.plan_registration` counts them.
REFINE_BLUR_CACHE = 6
#: Smallest overlap (MOVING px per side).
MIN_OVERLAP_PX = 16
#: A registration whose SSIM is below this is no match (unrelated or swapped images:
#: warned; ``sr.pairs`` refuses such a pair, ``srmat register`` exits 2):
#: :attr:`Registration.trusted`.
MIN_MATCH_SSIM = 0.3
#: A doubt of :attr:`Registration.doubts`: the scale found lies at a limit of the scales
#: searched and the correlation still rises beyond it (the true scale is probably
#: outside); a limit where it falls off, such as 1 for two images of one resolution, is
#: no doubt.
AT_SCALE_LIMIT = "the scale found is at a limit of the scales searched"
#: A doubt of :attr:`Registration.doubts`: FIXED lies inside MOVING at the scale found
#: and the other order matches better (at least :data:`MIN_SWAPPED_NCC`).
LOOK_SWAPPED = "the images look swapped (the other order matches better)"
#: The other order's correlation below which it is no match, however it compares: no
#: :data:`LOOK_SWAPPED` then. That a trusted match's SSIM needs
#: (:data:`MIN_MATCH_SSIM`): a genuine noisy x4 pair (own ncc 0.16) was told swapped
#: for the other order's 0.18 at the limit of the scales searched. Measured
#: (``studies/registration_swap_margin.py``, 48 genuine and 48 swapped grey pairs, x2
#: and x4, LR noise sigma 0-0.5): the other order of a genuine pair reaches 0.24 at the
#: most (0 told swapped; an RGB variant 0.28), that of a swapped pair 0.31-0.92 up to
#: noise 0.2 (all 24 at their true scale, all told swapped) and 0.18-0.35 beyond
#: (0.19-0.35 for the 17 found at their true scale, within 5 %): 3 of those 24 told swapped
#: (0.30-0.35, all of seed 3), the other 21 no match by this rule, left untrusted by
#: their SSIM or a scale at the limit (0 of 48 swapped pairs trusted). A lower value
#: (0.25) would tell 6 more of them, 0.01 above the genuine pairs' highest.
MIN_SWAPPED_NCC = MIN_MATCH_SSIM
#: Relative difference between the scale found and the ratio of the pixel sizes the
#: two images record above which a warning names both.
PIXEL_SIZE_SCALE_TOLERANCE = 0.05


class RegistrationError(SRError):
    """The images cannot be registered (too small, no containment, bad options)."""


class RegistrationWarning(UserWarning):
    """A registration whose correlation peaked at a limit of the searched scales (not a
    maximum): the images are swapped, unrelated, or the scale hint is off."""


@dataclass
class Registration:
    """Result of :func:`register_images` (see the module docstring).

    Attributes
    ----------
    scale : float
        FIXED pixels per MOVING pixel.
    offset_px : tuple of float
        ``(row, col)`` of MOVING's top-left corner in FIXED pixels.
    ssim : float
        Match quality (SSIM of MOVING and resampled FIXED over the overlap).
    ncc : float
        Peak normalised cross-correlation of the coarse search.
    moving_shape, fixed_shape : tuple of int
        ``(H, W)`` of the two images.
    doubts : tuple of str
        Why the match is not trusted whatever its SSIM (:func:`register_images`): the
        scale found lies at a limit of the scales searched where the correlation still
        rises beyond it (:data:`AT_SCALE_LIMIT`), or
        the two images look swapped (:data:`LOOK_SWAPPED`); empty for a registration
        with no doubt.
    """

    scale: float
    offset_px: tuple[float, float]
    ssim: float
    ncc: float
    moving_shape: tuple[int, int]
    fixed_shape: tuple[int, int]
    doubts: tuple[str, ...] = ()

    @property
    def matched(self) -> bool:
        """Whether the SSIM is at least :data:`MIN_MATCH_SSIM` (False for a NaN SSIM):
        below it the scale and offset are no match."""
        return bool(self.ssim >= MIN_MATCH_SSIM)

    @property
    def trusted(self) -> bool:
        """Whether the scale and offset are to be trusted: the SSIM is at least
        :data:`MIN_MATCH_SSIM` (:attr:`matched`) and nothing casts doubt on the match
        (:attr:`doubts`: a scale at a limit of the range searched, which is no maximum
        of the correlation, or images that look swapped). The one rule of ``srmat
        register``'s exit code and ``"trusted"`` and of ``sr.pairs``; until 2026-12-07
        it was the SSIM alone, and a swapped pair of SSIM 0.72 or a scale at the edge of
        the range searched read ``"trusted": true`` beside a warning that said "not to be
        trusted"."""
        return self.matched and not self.doubts

    def match_text(self) -> str:
        """The SSIM as a line about a poor match (not :attr:`matched`) shows it:
        ``0.26 < 0.3``, or ``nan (not measured)`` (a NaN SSIM, below no threshold, is not
        trusted either). A match with :attr:`doubts` is named by them."""
        if math.isnan(self.ssim):
            return f"{self.ssim} (not measured)"
        return compared_text(self.ssim, "<", MIN_MATCH_SSIM)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (the fields and :attr:`trusted`)."""
        return {
            "scale": float(self.scale),
            "offset_px": [float(self.offset_px[0]), float(self.offset_px[1])],
            "ssim": float(self.ssim),
            "trusted": self.trusted,
            "doubts": list(self.doubts),
            "ncc": float(self.ncc),
            "moving_shape": [int(v) for v in self.moving_shape],
            "fixed_shape": [int(v) for v in self.fixed_shape],
        }


def _lum(arr: Any, name: str) -> np.ndarray:
    """Luminance in [0, 1] of an image's array (as :func:`~napari_srmat.io.image_data`
    gives it: perhaps lazy)."""
    from ..channels import image_luminance
    from ..io import ImageReadError, check_pixel_values, read_window

    if not isinstance(arr, np.ndarray) and len(np.shape(arr)) >= 2:  # lazy: a damaged
        try:  # chunk is the file's error, not the codec's RuntimeError
            arr = read_window(arr, 0, arr.shape[0], 0, arr.shape[1])
        except ImageReadError as exc:
            raise ImageReadError(f"the {name} image cannot be read: {exc}") from exc
    arr = np.asarray(arr)
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise RegistrationError(f"{name}: expected a non-empty (H, W) or (H, W, C) image, "
                                f"got shape {arr.shape}")
    # 8-bit values in an int64 array read as ~1e-17; "the moving image ..." names the file
    # in srmat register
    check_pixel_values(arr, name=f"the {name} image")
    return image_luminance(arr, error=RegistrationError)


def _resize(img: np.ndarray, factor: float) -> tuple[np.ndarray, tuple[float, float]]:
    """``img`` resized by ``factor`` (< 1: area interpolation); the exact per-axis factors."""
    import cv2

    h, w = img.shape
    nh, nw = max(1, int(round(h * factor))), max(1, int(round(w * factor)))
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    out = cv2.resize(img, (nw, nh), interpolation=interp)
    return out, (nh / h, nw / w)


def _match(fs: np.ndarray, m: np.ndarray) -> tuple[float, float, float, int] | None:
    """NCC peak of the smaller image inside the larger: (score, dy, dx, sign).

    ``(dy, dx)`` is the sub-pixel position of the smaller image's top-left corner in the
    larger one (pixels of ``fs``'s grid); ``sign`` is +1 when MOVING is inside FIXED.
    """
    import cv2

    if m.shape[0] <= fs.shape[0] and m.shape[1] <= fs.shape[1]:
        big, small, sign = fs, m, 1
    elif m.shape[0] >= fs.shape[0] and m.shape[1] >= fs.shape[1]:
        big, small, sign = m, fs, -1
    else:
        return None
    if min(small.shape) < 4 or small.std() < 1e-6:
        return None
    res = cv2.matchTemplate(big, small, cv2.TM_CCOEFF_NORMED)
    res = np.nan_to_num(res, nan=-1.0)
    py, px = np.unravel_index(int(np.argmax(res)), res.shape)
    score = float(res[py, px])

    def _parabola(a: float, b: float, c: float) -> float:
        d = a - 2 * b + c
        return 0.0 if d >= 0 else float(np.clip(0.5 * (a - c) / d, -0.5, 0.5))

    dy = py + (_parabola(res[py - 1, px], res[py, px], res[py + 1, px])
               if 0 < py < res.shape[0] - 1 else 0.0)
    dx = px + (_parabola(res[py, px - 1], res[py, px], res[py, px + 1])
               if 0 < px < res.shape[1] - 1 else 0.0)
    return score, dy, dx, sign


def _search(m: np.ndarray, f: np.ndarray, scales: np.ndarray
            ) -> tuple[float, float, float, float] | None:
    """Best (ncc, scale, row, col) over ``scales`` (offsets in ``f`` pixels)."""
    best = None
    for s in scales:
        fs, (ry, rx) = _resize(f, 1.0 / s)
        hit = _match(fs, m)
        if hit is None:
            continue
        score, dy, dx, sign = hit
        sy, sx = 1.0 / ry, 1.0 / rx  # exact f px per fs px
        if sign > 0:  # MOVING's corner at (dy, dx) of fs
            oy, ox = dy * sy, dx * sx
        else:  # fs's corner at (dy, dx) of MOVING: MOVING's corner at -(dy, dx) * s
            oy, ox = -dy * sy, -dx * sx
        if best is None or score > best[0]:
            best = (score, float(math.sqrt(sy * sx)), oy, ox)
    return best


def resample_fixed(fixed: np.ndarray, shape: tuple[int, int], scale: float,
                   offset_px: tuple[float, float], *, origin: tuple[int, int] = (0, 0),
                   blur: bool = True, order: int = 3) -> np.ndarray:
    """FIXED sampled at the pixel centres of a MOVING grid.

    Parameters
    ----------
    fixed : ndarray
        ``(H, W)`` or ``(H, W, C)`` float image.
    shape : tuple of int
        ``(h, w)`` of the MOVING grid region to sample.
    scale, offset_px
        The registration (see the module docstring).
    origin : tuple of int
        MOVING pixel of the region's top-left (default the whole grid from (0, 0)).
    blur : bool
        Anti-alias FIXED first (Gaussian, sigma ``BLUR_PER_SCALE * scale`` when
        ``scale > 1``).
    order : int
        Spline order of the sampling.

    Returns
    -------
    ndarray
        float32 ``(h, w[, C])``; points outside FIXED take the nearest edge value.
    """
    from scipy import ndimage as ndi  # here: the CLI's parser reads this module's constants

    fixed = np.asarray(fixed, np.float32)
    if blur and scale > 1:
        sig = (BLUR_PER_SCALE * scale,) * 2 + (0,) * (fixed.ndim - 2)
        fixed = ndi.gaussian_filter(fixed, sig, mode="nearest")
    ii = origin[0] + np.arange(shape[0], dtype=np.float64)
    jj = origin[1] + np.arange(shape[1], dtype=np.float64)
    ys = offset_px[0] + (ii + 0.5) * scale - 0.5
    xs = offset_px[1] + (jj + 0.5) * scale - 0.5
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    if fixed.ndim == 2:
        return ndi.map_coordinates(fixed, [yy, xx], order=order, mode="nearest"
                                   ).astype(np.float32)
    return np.stack([ndi.map_coordinates(fixed[..., c], [yy, xx], order=order,
                                         mode="nearest") for c in range(fixed.shape[2])],
                    axis=-1).astype(np.float32)


def overlap_box(mshape: Sequence[int], fshape: Sequence[int], scale: float,
                offset: Sequence[float], margin: int = 2) -> list[int]:
    """The MOVING pixels whose centres fall inside FIXED, less ``margin`` px on each side.

    MOVING pixel ``(i, j)`` lies at FIXED ``offset + ((i, j) + 0.5) * scale - 0.5`` (the
    module's pixel-centre convention, :attr:`Registration.offset_px`).

    Parameters
    ----------
    mshape, fshape : sequence of int
        ``(H, W, ...)`` of MOVING and of FIXED.
    scale : float
        FIXED px per MOVING px.
    offset : sequence of float
        ``(oy, ox)``: FIXED position of MOVING's pixel-centre origin.
    margin : int
        MOVING px dropped inside each edge of the overlap.

    Returns
    -------
    list of int
        ``[i0, i1, j0, j1]``: MOVING rows ``i0:i1`` and columns ``j0:j1``; empty ranges
        (``i1 <= i0``) when the images do not overlap.

    Examples
    --------
    >>> overlap_box((10, 10), (40, 40), 4.0, (0.0, 0.0), margin=0)
    [0, 10, 0, 10]
    >>> overlap_box((10, 10), (40, 40), 4.0, (8.0, 0.0), margin=1)
    [0, 7, 1, 9]
    """
    box = []
    for n, nf, o in zip(mshape, fshape, offset):
        lo = math.ceil((0.5 - o) / scale - 0.5) + margin
        hi = math.floor((nf - 0.5 - o) / scale - 0.5) - margin + 1
        box += [max(lo, 0), min(hi, n)]
    return box


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, data_range=1.0))


def _swapped_hint(moving_shape, fixed_shape, lowest_scale: float) -> str:
    """A hint for an error when MOVING is the larger image at every searched scale ≥ 1
    (moving and fixed given the other way round: moving is the low-resolution image)."""
    if lowest_scale >= 1 and all(a > b for a, b in zip(moving_shape, fixed_shape)):
        return ("; moving is larger than fixed at every searched scale: are they swapped? "
                "(moving = the low-resolution image, fixed = the high-resolution one)")
    return ""


def _rises_beyond(m: np.ndarray, f: np.ndarray, limit: float, step: float) -> bool:
    """Whether the correlation of ``m`` and ``f`` still rises at ``limit``, a limit of
    the scales searched: the scale ``limit * step``, just outside, matches at least as
    well, or either cannot be matched (the true scale may lie outside the range)."""
    at, beyond = (_search(m, f, np.array([v])) for v in (limit, limit * step))
    return at is None or beyond is None or beyond[0] >= at[0]


def register_images(moving: Any, fixed: Any, *, scale: float | None = None,
                    fit_scale: bool = True,
                    scale_range: tuple[float, float] = SCALE_RANGE,
                    refine: bool = True) -> Registration:
    """Find the scale and drift of MOVING (LR) relative to FIXED (HR).

    Parameters
    ----------
    moving, fixed : array-like or Micrograph
        ``(H, W)`` or ``(H, W, C)`` images, compared on luminance; pixel values follow
        the float rule (:func:`napari_srmat.io.check_pixel_values`: floats in [0, 1],
        8- or 16-bit values as ``uint8`` / ``uint16``, not ``int64``).
    scale : float, optional
        Known or approximate scale (FIXED px per MOVING px): with ``fit_scale`` the
        search covers ``scale / 1.1 .. scale * 1.1``; without, the scale is kept.
        None: search ``scale_range``.
    fit_scale : bool
        Estimate the scale (True) or take ``scale`` as exact (False).
    scale_range : tuple of float
        ``(min, max)`` scale searched when ``scale`` is None (the scale found, refined
        too, is never outside it); ``(s, s)`` holds the scale at ``s``.
    refine : bool
        Run the sub-pixel SSIM refinement (step 3 of the module docstring).

    Returns
    -------
    Registration
        Its :attr:`~Registration.doubts` name a scale at a limit of the range searched
        and images that look swapped, which make it not :attr:`~Registration.trusted`
        whatever its SSIM.

    Warns
    -----
    RegistrationWarning
        The correlation peaked at a limit of the scales searched and still rises just
        beyond it (one ``FINE_STEP`` outside; :data:`AT_SCALE_LIMIT`); FIXED lies inside
        MOVING at the scale found and the other order matches better, with a correlation
        of at least :data:`MIN_SWAPPED_NCC` (the two swapped: :data:`LOOK_SWAPPED`); the
        SSIM of the match is below :data:`MIN_MATCH_SSIM`; or the scale found differs by more than
        :data:`PIXEL_SIZE_SCALE_TOLERANCE` from the ratio of the pixel sizes both images
        record (:class:`~napari_srmat.io.Micrograph` inputs).

    Raises
    ------
    RegistrationError
        Images too small, uniform or with NaN pixels, neither contains the other at any
        searched scale, bad options, or images too large to hold in memory
        (:func:`napari_srmat.estimates.plan_registration`; checked before anything is
        read).
    ValueError
        Pixel values the float rule would misread (e.g. a float image in 0..255).

    Examples
    --------
    >>> reg = register_images(lr, hr)  # doctest: +SKIP
    >>> reg.scale, reg.offset_px, reg.ssim  # doctest: +SKIP
    (4.0, (37.25, 21.5), 0.93)
    """
    # "no" is truthy: it would fit the scale / refine
    fit_scale = check_flag("fit_scale", fit_scale, error=RegistrationError)
    refine = check_flag("refine", refine, error=RegistrationError)
    from scipy import ndimage as ndi

    from ..estimates import check_in_memory, plan_registration
    from ..io import image_data

    (m, m_px), (f, f_px) = image_data(moving, name="moving"), image_data(fixed, name="fixed")
    if all(np.ndim(a) in (2, 3) for a in (m, f)):  # both read whole: refused before that
        check_in_memory(plan_registration(np.shape(m), np.shape(f), m.dtype, f.dtype,
                                          held=(isinstance(m, np.ndarray),
                                                isinstance(f, np.ndarray))),
                        "register_images", error=RegistrationError,
                        advice="register crops of them (the LR one and the HR field it "
                        "covers)")
    m, f = _lum(m, "moving"), _lum(f, "fixed")
    for name, lum in (("moving", m), ("fixed", f)):
        if not all_finite(lum):
            raise RegistrationError(f"the {name} image has NaN or infinite pixels")
        if float(lum.max() - lum.min()) <= 0:
            raise RegistrationError(f"the {name} image is uniform: nothing to register")
    if min(m.shape) < MIN_OVERLAP_PX or min(f.shape) < 4:
        raise RegistrationError(f"images too small to register: moving {m.shape}, "
                                f"fixed {f.shape}")
    if scale is not None:
        scale = check_number("scale", scale, lo=SCALE_LIMITS[0], hi=SCALE_LIMITS[1],
                             error=RegistrationError)
        lo, hi = (scale / HINT_TOLERANCE, scale * HINT_TOLERANCE) if fit_scale \
            else (scale, scale)
    else:
        if not fit_scale:
            raise RegistrationError("fit_scale=False needs a scale")
        bad = RegistrationError(f"scale_range must be (min, max) scales with 0 < min <= max, "
                                f"got {scale_range!r}")
        if not (isinstance(scale_range, tuple | list) and len(scale_range) == 2):
            raise bad
        try:
            lo, hi = (check_number("scale_range", v, lo=0, lo_open=True) for v in scale_range)
        except ValueError:
            raise bad from None
        if lo > hi:
            raise bad
    # a one-value range (scale_range=(1, 1)) holds the scale, as fit_scale=False does: the
    # refinement fitted it anyway (0.82 for (1, 1), outside the range given). From here
    # fit_scale also says whether a range of scales is searched (lo < hi, else lo == hi)
    fit_scale = fit_scale and lo < hi
    # coarse level: MOVING at most COARSE_MAX_PX per side, FIXED shrunk alike
    k = max(1.0, max(m.shape) / COARSE_MAX_PX)
    mk = _resize(m, 1.0 / k)[0] if k > 1 else m
    fk = _resize(f, 1.0 / k)[0] if k > 1 else f
    if not fit_scale:
        grid = np.array([lo])
    else:
        n = max(2, int(math.ceil(math.log(hi / lo) / math.log(COARSE_STEP))) + 1)
        grid = np.geomspace(lo, hi, n)
    best = _search(mk, fk, grid)
    if best is None:
        raise RegistrationError(
            f"cannot register: at scales {lo:.3g}-{hi:.3g} neither image contains the other "
            f"(moving {m.shape}, fixed {f.shape}){_swapped_hint(m.shape, f.shape, lo)}")
    swapped = None
    if all(a * best[1] > b for a, b in zip(mk.shape, fk.shape)):
        # FIXED lies inside MOVING at the scale found: an HR field in an LR overview, or
        # the two swapped. A small swapped pair found a spurious match of the few MOVING
        # pixels FIXED covers (128 px HR as moving, 64 px LR as fixed: scale 4.3, ssim
        # 0.72, no word); the other order matching better is what tells them apart.
        # Until 2026-12-07 only where MOVING was the larger at every scale: a 120 px HR
        # crop as moving, its 192 px x2 LR as fixed, matched the 25 MOVING px FIXED
        # covers at scale 7.74 (ssim 0.33, trusted). No SSIM floor tells such a match:
        # spurious swapped matches reach 0.38, genuine noisy ones (noise sigma 0.05)
        # read 0.35-0.39 (a floor above 0.38 refused 4 of the 12 trusted genuine pairs,
        # studies/registration_swap_margin.py); the other order does.
        # Until 2026-12-07 however poor: a genuine x4 pair too noisy to be trusted (own
        # ncc 0.16) was told swapped for the other order's 0.18, a wrong hint
        other = _search(fk, mk, grid)
        if other is not None and other[0] > max(best[0], MIN_SWAPPED_NCC):
            swapped = (f"the other order matches better (ncc {other[0]:.2f} at scale "
                       f"{other[1]:.3g}, against {best[0]:.2f} at {best[1]:.3g})")
    # the correlation peaked on the first or last scale searched: not a maximum, the true
    # scale is probably outside the range (e.g. MOVING and FIXED swapped gave 7.995 for
    # 0.25, with an offset of -2398 px, and nothing said so)
    at_limit = fit_scale and not (lo * math.sqrt(COARSE_STEP) < best[1]
                                  < hi / math.sqrt(COARSE_STEP))
    if fit_scale:
        s0 = best[1]
        fine = np.geomspace(max(lo, s0 / COARSE_STEP), min(hi, s0 * COARSE_STEP),
                            2 * int(math.ceil(math.log(COARSE_STEP) / math.log(FINE_STEP))) + 1)
        best = max(best, _search(mk, fk, fine) or best, key=lambda b: b[0])
    ncc, s, oy, ox = best
    oy, ox = oy * k, ox * k  # fk px -> f px (the scale is shared by both levels)
    # the exact scale of a searched size rounded to whole pixels may lie just outside
    # the range (2.0 for (1.9, 1.995): 384 px / 1.995 -> 192 px); a one-value range holds it
    s = min(hi, max(lo, s))
    box = overlap_box(m.shape, f.shape, s, (oy, ox))
    if box[1] - box[0] < MIN_OVERLAP_PX // 2 or box[3] - box[2] < MIN_OVERLAP_PX // 2:
        raise RegistrationError("cannot register: the images barely overlap"
                                + _swapped_hint(m.shape, f.shape, lo))
    # refinement region: a central crop of the overlap, full resolution
    i0, i1, j0, j1 = box
    ci, cj = (i0 + i1) // 2, (j0 + j1) // 2
    hh, hw = min(REFINE_MAX_PX, i1 - i0) // 2, min(REFINE_MAX_PX, j1 - j0) // 2
    r0, c0 = ci - hh, cj - hw
    crop = m[r0:ci + hh, c0:cj + hw]
    blur_cache: dict[float, np.ndarray] = {}

    def sampled(sc: float, off: tuple[float, float]) -> np.ndarray:
        key = round(sc, 2)  # the anti-aliasing blur hardly depends on small changes
        if key not in blur_cache:
            if len(blur_cache) >= REFINE_BLUR_CACHE:  # bounded: each is FIXED's size
                blur_cache.pop(next(iter(blur_cache)))
            blur_cache[key] = ndi.gaussian_filter(f, BLUR_PER_SCALE * key, mode="nearest") \
                if key > 1 else f
        return resample_fixed(blur_cache[key], crop.shape, sc, off, origin=(r0, c0),
                              blur=False)

    quality = _ssim(crop, sampled(s, (oy, ox)))
    if refine:
        from scipy.optimize import minimize

        base = s

        def unpack(p: np.ndarray) -> tuple[float, tuple[float, float]]:
            # offsets in MOVING px (well conditioned), the scale as a log factor, kept in
            # the range searched (it drifted out: 2.0 for (1.5, 1.98) on a x2 pair)
            sc = min(hi, max(lo, base * math.exp(p[2]))) if fit_scale else base
            return sc, (oy + p[0] * base, ox + p[1] * base)

        def cost(p: np.ndarray) -> float:
            sc, off = unpack(p)
            return -_ssim(crop, sampled(sc, off))

        n = 3 if fit_scale else 2
        simplex = np.vstack([np.zeros(n), np.diag([0.3, 0.3, 0.004][:n])])
        res = minimize(cost, np.zeros(n), method="Nelder-Mead",
                       options={"initial_simplex": simplex, "xatol": 1e-3, "fatol": 1e-6,
                                "maxfev": 400})
        if -res.fun > quality:
            s, (oy, ox) = unpack(res.x)
            quality = float(-res.fun)
    import warnings

    at_limit = at_limit or (fit_scale and s in (lo, hi))  # refined onto a limit
    edge = "upper" if s > math.sqrt(lo * hi) else "lower"
    # a limit is no maximum only where the correlation still rises beyond it: a crop of
    # FIXED (scale 1.0, ssim 1.00) lay at the lower limit of the default range, 1
    at_limit = at_limit and _rises_beyond(mk, fk, hi if edge == "upper" else lo,
                                          FINE_STEP if edge == "upper" else 1 / FINE_STEP)
    doubts = tuple(d for d, seen in ((AT_SCALE_LIMIT, at_limit),
                                     (LOOK_SWAPPED, swapped is not None)) if seen)
    reg = Registration(scale=float(s), offset_px=(float(oy), float(ox)), ssim=quality,
                       ncc=float(ncc), moving_shape=tuple(m.shape),
                       fixed_shape=tuple(f.shape), doubts=doubts)
    if at_limit:
        warnings.warn(
            f"the scale found, {s:.4g}, is at or near the {edge} limit of the scales "
            f"searched ({lo:.4g}-{hi:.4g}; match ssim {quality:.2f}): the correlation had no "
            "maximum inside them; check the order (moving = the low-resolution image, fixed = "
            "the high-resolution one) or give the approximate scale",
            RegistrationWarning, stacklevel=2)
    elif not reg.matched:  # a scale and offset printed as if they were found
        warnings.warn(
            f"poor match (ssim {reg.match_text()}): the images may "
            "not show the same area, or are given the other way round (moving = the "
            "low-resolution image, fixed = the high-resolution one); the scale and offset are "
            "not to be trusted",
            RegistrationWarning, stacklevel=2)
    elif swapped is not None:
        warnings.warn(
            f"{swapped}: are they swapped? (moving = the low-resolution image, fixed = the "
            "high-resolution one); the scale and offset are not to be trusted",
            RegistrationWarning, stacklevel=2)
    if m_px is not None and f_px is not None and \
            abs(s / (m_px / f_px) - 1) > PIXEL_SIZE_SCALE_TOLERANCE:
        warnings.warn(
            f"the scale found, {s:.4g}, differs from the {m_px / f_px:.4g} the pixel sizes "
            f"the images record give (moving {m_px:g} {LENGTH_UNIT}, fixed {f_px:g} "
            f"{LENGTH_UNIT}): one pixel size or the registration is wrong",
            RegistrationWarning, stacklevel=2)
    return reg
