"""Where super-resolution error lives in frequency: what the LR can and cannot tell.

A ×``scale`` low-resolution (LR) image of an ``H x W`` high-resolution (HR) image is
``H/scale x W/scale`` pixels, so it can only represent spatial frequencies below its
Nyquist limit, ``0.5 / scale`` cycles per HR pixel. Everything above that limit (the
*out-of-band* part of the HR image) has to be predicted by the SR model from
context; if it is noise, polishing scratches or JPEG blocking it cannot be.

This module splits images and SR errors at that limit with an orthonormal 2-D
DCT (type II, i.e. mirror-symmetric boundaries, so image borders add no spurious
high frequencies). Because the DCT is orthonormal, squared errors add up exactly:
``mse == mse_in_band + mse_out_of_band``.

The *band-limited oracle* (:func:`band_limit`) keeps the HR image's in-band
coefficients exactly and sets the rest to zero: the best reconstruction a method
can give that restores every frequency the LR represents but invents nothing
above it. A model beats it only by predicting out-of-band content correctly.

Fidelity metrics as SR papers report them (:func:`evaluate_sr_pair`):

* ``psnr_y`` / ``ssim_y`` (:func:`psnr_y`, :func:`ssim_y`): PSNR and SSIM on the Y
  channel of YCbCr (ITU-R BT.601 as in MATLAB ``rgb2ycbcr``, :func:`rgb_to_y`) of the
  image cropped to a multiple of ``scale``, less ``scale`` pixels at each border
  (:func:`shave`); SSIM with the 11x11
  Gaussian window (sigma 1.5) of Wang et al. 2004. Both are also the SR training's
  validation figures.
* ``essim``: SSIM of the Sobel edge maps (:func:`sobel_edges`) of the two Y images.
* the LDL artifact map (:func:`ldl_map`, Liang et al. 2022, "Details or Artifacts"):
  local variance of the residual ``|HR - SR|`` weighted by the residual's variance
  over the whole image; its no-reference variant (:func:`ldl_map_noref`) compares the
  SR image, degraded back to LR, with the LR input.
* a brightness / contrast domain-shift check (:func:`domain_shift`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "band_limit",
    "spectral_error_split",
    "Y_OFFSET",
    "Y_WEIGHTS",
    "SSIM_SIGMA",
    "LDL_WINDOW",
    "LDL_GAMMA",
    "SHIFT_MEAN_TOL",
    "SHIFT_STD_RATIO",
    "DATA_RANGE_MARGIN",
    "fidelity_image",
    "rgb_to_y",
    "shave",
    "psnr",
    "ssim",
    "psnr_y",
    "ssim_y",
    "check_evaluated_side",
    "sobel_edges",
    "essim",
    "ldl_map",
    "ldl_map_noref",
    "domain_shift",
    "degradation_recipe",
    "sr_output_scale",
    "evaluate_sr_pair",
]

#: ITU-R BT.601 luma of MATLAB ``rgb2ycbcr`` for R, G, B in [0, 1]:
#: ``Y = 16 + 65.481 R + 128.553 G + 24.966 B`` (on the 0..255 scale, so Y is in [16, 235]).
Y_OFFSET = 16.0
Y_WEIGHTS = (65.481, 128.553, 24.966)
#: Standard deviation (px) of the Gaussian SSIM window (Wang et al. 2004; 11x11 window).
SSIM_SIGMA = 1.5
#: Least side (px) of the images :func:`ssim` compares (its 11 x 11 window).
SSIM_MIN_SIDE = 11
#: Side (px) of the window of the LDL local residual variance (Liang et al. 2022).
LDL_WINDOW = 7
#: The LDL patch-level weight is ``var(residual) ** (1 / LDL_GAMMA)``.
LDL_GAMMA = 5.0
#: Largest accepted shift of the mean Y of the SR image (degraded to LR) from the LR
#: input's, in [0, 1] units (0.05 = 12.75 grey levels of 255).
SHIFT_MEAN_TOL = 0.05
#: Largest accepted ratio (or inverse ratio) of the Y standard deviations (contrast).
SHIFT_STD_RATIO = 1.25
#: A Y standard deviation at most this (in [0, 1] units, well under one 16-bit grey
#: level) is a uniform image: the float rounding of resampling a flat image (~1e-8) is
#: not contrast.
UNIFORM_STD = 1e-6


def _in_band_mask(shape: tuple[int, int], scale: int) -> np.ndarray:
    """Boolean ``(H, W)`` mask of DCT coefficients below the LR Nyquist limit.

    DCT-II index ``k`` of an axis of length ``N`` is the frequency ``k / (2N)``
    cycles/pixel; the LR limit ``0.5 / scale`` is index ``N / scale``.
    """
    h, w = shape
    rows = np.arange(h) < h / scale
    cols = np.arange(w) < w / scale
    return rows[:, None] & cols[None, :]


def _dct(image: np.ndarray) -> np.ndarray:
    from scipy.fft import dctn

    return dctn(image, type=2, axes=(0, 1), norm="ortho")


def _check(image: np.ndarray, scale: int, name: str = "image") -> np.ndarray:
    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim not in (2, 3):
        raise ValueError(f"{name} must be (H, W) or (H, W, C), got shape {arr.shape}")
    if int(scale) != scale or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    return arr


def band_limit(image: np.ndarray, scale: int) -> np.ndarray:
    """Keep only the spatial frequencies a ×``scale`` LR image can represent.

    Parameters
    ----------
    image : ndarray
        ``(H, W)`` or ``(H, W, C)`` HR image (any float range).
    scale : int
        Magnification; the cut-off is ``0.5 / scale`` cycles per pixel on each axis.

    Returns
    -------
    ndarray
        float64, same shape: the band-limited oracle reconstruction of ``image``.

    Examples
    --------
    >>> import numpy as np
    >>> flat = np.full((8, 8), 0.5)
    >>> bool(np.allclose(band_limit(flat, 4), flat))
    True
    """
    from scipy.fft import idctn

    arr = _check(image, scale)
    coeffs = _dct(arr)
    mask = _in_band_mask(arr.shape[:2], scale)
    coeffs[~mask] = 0.0
    return idctn(coeffs, type=2, axes=(0, 1), norm="ortho")


def spectral_error_split(hr: np.ndarray, sr: np.ndarray, scale: int) -> dict[str, float]:
    """Split the squared error of an SR result at the LR Nyquist frequency.

    Parameters
    ----------
    hr, sr : ndarray
        Reference and super-resolved image, same shape ``(H, W[, C])``.
    scale : int
        Magnification the SR result was made at.

    Returns
    -------
    dict
        ``mse`` (total, per pixel and channel), ``mse_in_band`` and
        ``mse_out_of_band`` (they sum to ``mse``), ``hr_out_of_band_energy`` (the
        mean squared out-of-band content of ``hr``, i.e. the MSE of the
        band-limited oracle) and ``out_of_band_captured``: the share of that energy
        the SR result reproduced, ``1 - mse_out_of_band / hr_out_of_band_energy``
        (1 = all of it, 0 = none, as with the oracle; negative when the SR result
        adds wrong detail).

    Raises
    ------
    ValueError
        If the shapes differ.
    """
    hr_arr = _check(hr, scale, "hr")
    sr_arr = _check(sr, scale, "sr")
    if hr_arr.shape != sr_arr.shape:
        raise ValueError(f"hr and sr shapes differ: {hr_arr.shape} vs {sr_arr.shape}")
    n = hr_arr.size
    mask = _in_band_mask(hr_arr.shape[:2], scale)
    err = _dct(sr_arr - hr_arr)
    hr_coeffs = _dct(hr_arr)
    in_band = float(np.sum(err[mask] ** 2)) / n
    out_band = float(np.sum(err[~mask] ** 2)) / n
    hr_out = float(np.sum(hr_coeffs[~mask] ** 2)) / n
    return {
        "mse": in_band + out_band,
        "mse_in_band": in_band,
        "mse_out_of_band": out_band,
        "hr_out_of_band_energy": hr_out,
        "out_of_band_captured": 1.0 - out_band / hr_out if hr_out > 0 else float("nan"),
    }


# --------------------------------------------------------------------------- fidelity
def fidelity_image(image: Any, name: str = "image") -> np.ndarray:
    """An image as the fidelity figures take it (:func:`psnr_y`, :func:`ssim_y`,
    :func:`evaluate_sr_pair`, :func:`ldl_map`, :func:`rgb_to_y`; the SR training's
    validation, :func:`napari_srmat.sr.train.evaluate_sr`): the package's float and
    channel rules, in float64.

    Parameters
    ----------
    image : array-like
        ``(H, W)`` or ``(H, W, C)``: integers are scaled to [0, 1]
        (:func:`napari_srmat.io.to_float01`), floats must be on the [0, 1] scale
        (:func:`napari_srmat.io.check_pixel_values`); one channel is grey, an alpha
        channel is dropped (:func:`napari_srmat.io.grey_or_rgb`).
    name : str
        The image, in the messages.

    Returns
    -------
    ndarray
        float64 ``(H, W)`` or ``(H, W, 3)`` in [0, 1].

    Raises
    ------
    ValueError
        NaN or Inf pixels (every fidelity figure of the image would be NaN), values
        off the float rule's scale, or another number of dimensions.

    Examples
    --------
    >>> fidelity_image(np.array([[0, 255]], np.uint8))
    array([[0., 1.]])
    >>> fidelity_image(np.array([[np.nan]]), "hr")
    Traceback (most recent call last):
    ...
    ValueError: hr has NaN or Inf pixels: replace them first (e.g. numpy.nan_to_num); every fidelity figure of it would be NaN
    """  # noqa: E501
    from ..io import check_pixel_values, grey_or_rgb, to_float01

    raw = np.asarray(image)
    if np.issubdtype(raw.dtype, np.inexact) and not np.isfinite(raw).all():
        raise ValueError(f"{name} has NaN or Inf pixels: replace them first (e.g. "
                         "numpy.nan_to_num); every fidelity figure of it would be NaN")
    # a float image in 0..255 or zero-centred gave a PSNR of -8 dB or 41 dB, silently
    check_pixel_values(raw, name=name)
    arr = to_float01(grey_or_rgb(raw), dtype=np.float64)
    if arr.ndim not in (2, 3):
        raise ValueError(f"{name} must be (H, W) or (H, W, C), got shape {arr.shape}")
    return arr


def rgb_to_y(image: Any) -> np.ndarray:
    """Y (luma) of YCbCr, ITU-R BT.601 as MATLAB ``rgb2ycbcr``, scaled to [0, 1].

    ``Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255`` with R, G, B in [0, 1] (integer
    images are converted by :func:`napari_srmat.io.to_float01`). A grey image is taken
    as ``R = G = B``, so ``Y = (16 + 219 v) / 255``. Y therefore lies in
    ``[16/255, 235/255]``, as in the SR literature's evaluation code.

    Parameters
    ----------
    image : array-like
        ``(H, W)`` grey, ``(H, W, 1)`` or ``(H, W, 3)`` RGB (alpha dropped).

    Returns
    -------
    ndarray
        float64 ``(H, W)``.

    Examples
    --------
    >>> round(float(rgb_to_y(np.ones((1, 1, 3)))[0, 0] * 255), 3)
    235.0
    >>> round(float(rgb_to_y(np.array([[[1.0, 0.0, 0.0]]]))[0, 0] * 255), 3)
    81.481
    """
    return _luma(fidelity_image(image, "image"))


def _luma(arr: np.ndarray) -> np.ndarray:
    """:func:`rgb_to_y` of an image :func:`fidelity_image` gave (its checks done)."""
    if arr.ndim == 2:
        y = Y_OFFSET + sum(Y_WEIGHTS) * arr
    else:
        y = Y_OFFSET + arr @ np.asarray(Y_WEIGHTS, dtype=np.float64)
    return y / 255.0


def shave(image: np.ndarray, border: int) -> np.ndarray:
    """Crop ``border`` pixels from each side of an ``(H, W[, C])`` image (SR protocol)."""
    b = int(border)
    if b < 0:
        raise ValueError(f"border must be >= 0, got {border}")
    if b == 0:
        return image
    if image.shape[0] <= 2 * b or image.shape[1] <= 2 * b:
        raise ValueError(f"image {image.shape[:2]} is too small to crop a {b} px border")
    return image[b:-b, b:-b]


#: How far past ``[0, data_range]`` the values of :func:`psnr` / :func:`ssim` may reach
#: (as a fraction of ``data_range``), the margin of the float rule's [-0.5, 1.5]
#: (:func:`napari_srmat.io.check_pixel_values`): a result's overshoot stays measurable,
#: 8-bit values against ``data_range=1`` do not.
DATA_RANGE_MARGIN = 0.5


def _check_data_range(func: str, data_range: float, fix: str | None = None,
                      **images: np.ndarray) -> None:
    """Refuse an image whose values lie far outside ``[0, data_range]``: 8-bit images
    with the default ``data_range=1`` gave a PSNR of -5.9 dB for one of 42.3 dB, an
    8-bit reference against a [0, 1] result -43 dB, without a word. ``fix``: what to
    do instead (default: one scale and its data_range)."""
    lo, hi = -DATA_RANGE_MARGIN * data_range, (1 + DATA_RANGE_MARGIN) * data_range
    for name, a in images.items():
        if a.size == 0:
            continue
        vmin, vmax = float(np.nanmin(a)), float(np.nanmax(a))
        if vmin < lo or vmax > hi:
            raise ValueError(
                f"{func}: {name} has values in {vmin:g}..{vmax:g}, outside data_range "
                f"{float(data_range):g} (0..{float(data_range):g}): " + (
                    fix or "give both images on one scale and its range, e.g. 8-bit "
                    "images with data_range=255, or both as "
                    "napari_srmat.io.to_float01(image) with the default 1"))


def psnr(reference: np.ndarray, test: np.ndarray, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio ``10 log10(data_range**2 / MSE)`` in dB (inf if equal).

    Both images are on one scale, ``0..data_range`` (default 1: floats in [0, 1]);
    values further than :data:`DATA_RANGE_MARGIN` x ``data_range`` outside it are a
    ValueError (8-bit images need ``data_range=255``).
    """
    a = np.asarray(reference, dtype=np.float64)
    b = np.asarray(test, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    _check_data_range("psnr", data_range, reference=a, test=b)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(float(data_range) ** 2 / mse)


#: How :func:`essim` takes its images: on the [0, 1] scale (no data_range). Not API (not
#: in ``__all__``): the end of :func:`essim`'s error message, text, not a setting.
ESSIM_SCALE = "give both as napari_srmat.io.to_float01(image)"


def _check_ssim_pair(func: str, a: np.ndarray, b: np.ndarray, data_range: float,
                     fix: str | None = None) -> None:
    """The checks of :func:`ssim`'s and :func:`essim`'s two images, in the words of
    ``func``: two ``(H, W)`` images of one shape, on the scale ``0..data_range``
    (``fix``: what to do instead, :func:`_check_data_range`'s), at least
    :data:`SSIM_MIN_SIDE` px a side."""
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"{func} needs two (H, W) images, got {a.shape}, {b.shape}: "
                         "compare one channel, or the luma of colour images "
                         "(rgb_to_y(image))")
    if a.shape != b.shape:
        raise ValueError(f"{func} needs two (H, W) images of one shape, got {a.shape}, "
                         f"{b.shape}")
    _check_data_range(func, data_range, fix=fix, reference=a, test=b)
    if min(a.shape) < SSIM_MIN_SIDE:
        raise ValueError(f"{func} needs images of at least {SSIM_MIN_SIDE}x{SSIM_MIN_SIDE} "
                         f"px, got {a.shape}")


def _ssim_value(a: np.ndarray, b: np.ndarray, data_range: float) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, data_range=float(data_range),
                                       gaussian_weights=True, sigma=SSIM_SIGMA,
                                       use_sample_covariance=False))


def ssim(reference: np.ndarray, test: np.ndarray, data_range: float = 1.0) -> float:
    """SSIM of two ``(H, W)`` images with the Gaussian window of Wang et al. (2004).

    scikit-image's ``structural_similarity`` with ``gaussian_weights=True``,
    ``sigma = SSIM_SIGMA`` (an 11x11 window), ``use_sample_covariance=False``, which
    reproduces the reference MATLAB implementation. Images must be at least 11x11, on
    one scale ``0..data_range`` as for :func:`psnr`.
    """
    a = np.asarray(reference, dtype=np.float64)
    b = np.asarray(test, dtype=np.float64)
    _check_ssim_pair("ssim", a, b, data_range)
    return _ssim_value(a, b, data_range)


def _evaluated_pair(hr: Any, sr: Any, scale: int) -> tuple[np.ndarray, np.ndarray, int]:
    """``hr`` and ``sr`` as the fidelity figures take them, the one rule of
    :func:`psnr_y`, :func:`ssim_y` and :func:`evaluate_sr_pair`: float ``(H, W[, C])`` of
    one shape, large enough (:func:`check_evaluated_side`), cropped to a multiple of
    ``scale`` (rows and columns beyond it left out); with ``scale`` as an int."""
    s = int(scale)
    if s < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    a = fidelity_image(hr, "hr")
    b = fidelity_image(sr, "sr")
    if a.shape != b.shape:  # a grey HR and a colour SR of the same size: not "the size"
        why = ("one is grey, the other colour: give both in grey or both in colour"
               if a.shape[:2] == b.shape[:2] else
               "the super-resolved image must be the size of its reference")
        raise ValueError(f"HR and SR shapes differ: {a.shape} vs {b.shape} ({why})")
    # cropped to a multiple of s, less an s px border, then compared by SSIM: a smaller
    # image was refused with the shape left after cropping ("image (0, 0) is too small")
    check_evaluated_side(a.shape, s)
    h, w = a.shape[0] // s * s, a.shape[1] // s * s
    return a[:h, :w], b[:h, :w], s


def _evaluated_lumas(hr: Any, sr: Any, scale: int
                     ) -> tuple[np.ndarray, np.ndarray, int, np.ndarray, np.ndarray]:
    """:func:`_evaluated_pair` of ``hr`` and ``sr`` (``a``, ``b``, ``s``) and the luma
    the fidelity figures compare of each: :func:`rgb_to_y` less an ``s`` px border
    (:func:`shave`), the SR protocol. The one step of :func:`psnr_y`, :func:`ssim_y` and
    :func:`evaluate_sr_pair`, which takes both figures from it once."""
    a, b, s = _evaluated_pair(hr, sr, scale)
    return a, b, s, shave(_luma(a), s), shave(_luma(b), s)


def psnr_y(hr: Any, sr: Any, scale: int) -> float:
    """PSNR of an SR image against its HR reference as ``srmat sr eval`` reports it
    (the ``psnr_y`` of :func:`evaluate_sr_pair`, which does not call this function but
    takes :func:`psnr` of the same luma, taken there once for both figures):
    :func:`psnr` (data range 1) of the luma, cropped to a multiple of ``scale`` less a
    ``scale`` px border, as :func:`ssim_y`. The one rule of the SR training's validation
    PSNR, by which its ``best`` checkpoint is chosen (:func:`napari_srmat.sr.train.evaluate_sr`).

    Parameters
    ----------
    hr, sr, scale
        As :func:`ssim_y`: reference and SR image of one shape in [0, 1], and the
        magnification, which is the border (px) left out.

    Returns
    -------
    float
        The PSNR in dB (``inf`` where the luma is identical).

    Raises
    ------
    ValueError
        As :func:`ssim_y`: shapes that differ, values outside the float rule; an image
        too small (:class:`~napari_srmat.io.ImageSizeError`,
        :func:`check_evaluated_side`).

    Examples
    --------
    >>> hr = np.full((16, 16), 0.5)
    >>> round(psnr_y(hr, hr + 0.01, 2), 2)
    41.32
    """
    return psnr(*_evaluated_lumas(hr, sr, scale)[3:])


def ssim_y(hr: Any, sr: Any, scale: int) -> float:
    """SSIM of an SR image against its HR reference as ``srmat sr eval`` reports it
    (the ``ssim_y`` of :func:`evaluate_sr_pair`, which does not call this function but
    takes :func:`ssim` of the same luma, taken there once for both figures): :func:`ssim`
    of their luma (:func:`rgb_to_y`), cropped to a multiple of ``scale`` less a
    ``scale`` px border.
    The one rule of the SR training's validation SSIM
    (:func:`napari_srmat.sr.train.evaluate_sr`) and of the evaluation.

    Parameters
    ----------
    hr, sr : array-like
        Reference and SR image ``(H, W[, C])`` of one shape, in [0, 1] (integers are
        converted by :func:`napari_srmat.io.to_float01`). Rows / columns beyond a
        multiple of ``scale`` are left out.
    scale : int
        Magnification (a positive integer): the border (px) left out.

    Returns
    -------
    float
        The SSIM, at most 1.

    Raises
    ------
    ValueError
        Shapes that differ, values outside the float rule
        (:func:`napari_srmat.io.check_pixel_values`), NaN or Inf pixels; an image too
        small (:class:`~napari_srmat.io.ImageSizeError`, :func:`check_evaluated_side`:
        20 px at x4).

    Examples
    --------
    >>> hr = np.linspace(0, 1, 20 * 20).reshape(20, 20)
    >>> ssim_y(hr, hr, 4)
    1.0
    """
    return ssim(*_evaluated_lumas(hr, sr, scale)[3:])


def check_evaluated_side(shape: Any, scale: int, name: str = "each image") -> None:
    """Refuse an image too small for the fidelity figures at x``scale``: cropped to a
    multiple of ``scale``, less a ``scale`` px border, it must hold the
    :data:`SSIM_MIN_SIDE` px SSIM window (20 px at x4, 16 px at x2).

    Parameters
    ----------
    shape : sequence of int
        ``(H, W[, C])``.
    scale : int
        Magnification.
    name : str
        The image, in the message.

    Raises
    ------
    napari_srmat.io.ImageSizeError
        One line naming ``name``, its size, the least side and what to do instead.

    Examples
    --------
    >>> check_evaluated_side((20, 24, 3), 4)
    >>> check_evaluated_side((16, 16), 4, name="validation image v.png")
    Traceback (most recent call last):
    ...
    napari_srmat.io._read.ImageSizeError: validation image v.png is 16 x 16 px, smaller than the least side evaluated at x4 (a multiple of 4 px, less a 4 px border, holding the 11 px SSIM window) (20 px): use an image of at least 20 px a side, or leave it out
    """  # noqa: E501
    from ..io import ImageSizeError, check_image_side

    s = int(scale)
    least = s * math.ceil((SSIM_MIN_SIDE + 2 * s) / s)
    try:
        check_image_side(shape, name=name, minimum=least,
                         what=f"the least side evaluated at x{s} (a multiple of {s} px, "
                              f"less a {s} px border, holding the {SSIM_MIN_SIDE} px SSIM "
                              "window)")
    except ImageSizeError as refused:  # what to do instead: the end of the one line
        if len(tuple(shape)) < 2:
            raise  # a shape that is no image, not a size: said as it is
        raise ImageSizeError(f"{refused}: use an image of at least {least} px a side, "
                             "or leave it out") from None


def sobel_edges(image: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of an ``(H, W)`` image (reflect borders), as ESSIM uses."""
    from skimage.filters import sobel

    return sobel(np.asarray(image, dtype=np.float64), mode="reflect")


def essim(reference: np.ndarray, test: np.ndarray) -> float:
    """Edge SSIM: :func:`ssim` of the :func:`sobel_edges` maps of two ``(H, W)`` images.

    Compares where the edges are and how strong they are, which plain SSIM weighs
    little in flat grain interiors. The images are on the [0, 1] scale (data range 1:
    the Sobel magnitude of a [0, 1] image stays below 1); they are checked as
    :func:`ssim` checks its own, an error naming ``essim``.
    """
    a = np.asarray(reference, dtype=np.float64)
    b = np.asarray(test, dtype=np.float64)
    _check_ssim_pair("essim", a, b, 1.0, fix=ESSIM_SCALE)
    return _ssim_value(sobel_edges(a), sobel_edges(b), 1.0)


def _local_variance(values: np.ndarray, window: int) -> np.ndarray:
    from scipy import ndimage as ndi

    m = ndi.uniform_filter(values, size=window, mode="reflect")
    m2 = ndi.uniform_filter(values * values, size=window, mode="reflect")
    return np.maximum(m2 - m * m, 0.0)


def ldl_map(hr: Any, sr: Any, *, window: int = LDL_WINDOW,
            gamma: float = LDL_GAMMA) -> np.ndarray:
    """LDL artifact map (Liang et al. 2022, "Details or Artifacts", CVPR).

    With the residual ``r = sum_c |HR_c - SR_c|`` (summed over channels, as the
    paper's code), the map is ``var(r) ** (1 / gamma) * localvar_window(r)``: the
    local variance of the residual in a ``window x window`` neighbourhood (reflect
    borders) weighted by the residual's variance over the whole image. High values
    mark noisy, wrong detail (artifacts); a smooth (blurred) error scores low.

    Parameters
    ----------
    hr, sr : array-like
        Reference and SR image, one shape ``(H, W[, C])`` (integers are converted by
        :func:`napari_srmat.io.to_float01`).
    window : int
        Side of the local window (default :data:`LDL_WINDOW` = 7).
    gamma : float
        Exponent of the image-level weight (default :data:`LDL_GAMMA` = 5).

    Returns
    -------
    ndarray
        float32 ``(H, W)``, >= 0; all zeros when ``sr == hr``.
    """
    a = fidelity_image(hr, "hr")
    b = fidelity_image(sr, "sr")
    if a.shape != b.shape:
        raise ValueError(f"hr and sr shapes differ: {a.shape} vs {b.shape}")
    r = np.abs(a - b)
    if r.ndim == 3:
        r = r.sum(axis=2)
    weight = float(np.var(r)) ** (1.0 / float(gamma))
    return (weight * _local_variance(r, int(window))).astype(np.float32)


def _degraded_back(lr: Any, sr: Any, scale: int, degrade: Callable | str | None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``(lr, sr degraded to lr's grid)`` as float images (the SR side cropped to fit)."""
    from ..audit.detector import resolve_degrade

    s = int(scale)
    low = fidelity_image(lr, "lr")
    high = fidelity_image(sr, "sr")
    h, w = low.shape[:2]
    if high.shape[0] < h * s or high.shape[1] < w * s or high.ndim != low.ndim:
        raise ValueError(f"sr {high.shape} does not match lr {low.shape} at x{s}")
    return low, fidelity_image(resolve_degrade(degrade)(high[:h * s, :w * s], s), "sr")


def _noref_from_back(low: np.ndarray, back: np.ndarray, scale: int, window: int,
                     gamma: float) -> np.ndarray:
    m = ldl_map(low, back, window=window, gamma=gamma)
    return np.kron(m, np.ones((int(scale), int(scale)), dtype=np.float32))


def ldl_map_noref(lr: Any, sr: Any, scale: int, *, degrade: Callable | str | None = None,
                  window: int = LDL_WINDOW, gamma: float = LDL_GAMMA) -> np.ndarray:
    """No-reference LDL map: :func:`ldl_map` of the LR input against the SR image degraded.

    Without an HR reference, the SR image is degraded back to LR (``degrade``, default
    the evaluation degradation: antialiased bicubic downsampling,
    :func:`napari_srmat.audit.bicubic_degrade`) and compared with the LR input; where
    the SR image is inconsistent with its input in a noisy, local way the map is high.
    It sees only the in-band (LR-visible) part of an artifact: wrong detail that
    averages out in the degradation is invisible to it.

    Parameters
    ----------
    lr : array-like
        LR input ``(h, w[, C])``.
    sr : array-like
        SR image ``(h*scale, w*scale[, C])`` (extra rows / columns are cropped).
    scale : int
    degrade : callable or str, optional
        As :func:`napari_srmat.audit.resolve_degrade` (``"bicubic"``, ``"gaussian-area"``
        or ``fn(image, scale)``).
    window, gamma
        As :func:`ldl_map`.

    Returns
    -------
    ndarray
        float32 ``(h*scale, w*scale)``: the LR-resolution map repeated over each
        ``scale x scale`` block.
    """
    low, back = _degraded_back(lr, sr, scale, degrade)
    return _noref_from_back(low, back, scale, window, gamma)


def domain_shift(lr: Any, sr: Any, scale: int, *, degrade: Callable | str | None = None,
                 mean_tol: float = SHIFT_MEAN_TOL,
                 std_ratio: float = SHIFT_STD_RATIO) -> dict[str, Any]:
    """Brightness / contrast drift of an SR image from its LR input.

    The SR image is degraded back to LR (as :func:`ldl_map_noref`) so that the two
    images are compared at one resolution (added detail would otherwise raise the
    SR image's standard deviation). On Y (:func:`rgb_to_y`):

    * ``mean_shift`` = mean(Y of SR degraded) - mean(Y of LR) (brightness);
    * ``std_ratio`` = std(Y of SR degraded) / std(Y of LR) (contrast; 1 for a flat LR
      and a flat SR, ``inf`` for a flat LR and an SR with contrast; a std of at most
      :data:`UNIFORM_STD` is flat).

    Parameters
    ----------
    lr : array-like
        LR input ``(h, w[, C])``.
    sr : array-like
        SR image ``(h*scale, w*scale[, C])``.
    scale : int
    degrade : callable or str, optional
        As :func:`ldl_map_noref`.
    mean_tol : float
        Largest accepted ``|mean_shift|`` (default :data:`SHIFT_MEAN_TOL`).
    std_ratio : float
        Largest accepted contrast ratio or inverse ratio (default
        :data:`SHIFT_STD_RATIO`).

    Returns
    -------
    dict
        ``mean_shift``, ``std_ratio``, ``shifted`` (bool) and ``warning`` (one line, or
        None): shifted when ``|mean_shift| > mean_tol`` or ``std_ratio`` is outside
        ``[1 / std_ratio, std_ratio]``.
    """
    low, back = _degraded_back(lr, sr, scale, degrade)
    return _shift_from_back(low, back, mean_tol, std_ratio)


def _shift_from_back(low: np.ndarray, back: np.ndarray, mean_tol: float,
                     std_ratio: float) -> dict[str, Any]:
    y_lr, y_back = rgb_to_y(low), rgb_to_y(back)
    shift = float(y_back.mean() - y_lr.mean())
    s_lr, s_back = float(y_lr.std()), float(y_back.std())
    if s_lr > UNIFORM_STD:
        ratio = s_back / s_lr
    else:  # a uniform input: any contrast of the SR image is new (was x7599054 or xinf)
        ratio = 1.0 if s_back <= UNIFORM_STD else math.inf
    problems = []
    if abs(shift) > mean_tol:
        problems.append(f"brightness shifted by {shift * 255:+.1f} grey levels (of 255)")
    if math.isinf(ratio):
        problems.append(f"contrast (std {s_back * 255:.2f} grey levels of 255) on a uniform "
                        "input")
    elif not (1.0 / std_ratio <= ratio <= std_ratio):
        problems.append(f"contrast (std) x{ratio:.2f}")
    warning = None
    if problems:
        warning = ("SR output drifts from its input: " + ", ".join(problems)
                   + "; intensities of this SR image are not comparable with the input's")
    return {"mean_shift": shift, "std_ratio": ratio, "shifted": bool(problems),
            "warning": warning}


def degradation_recipe(srmat_attrs: Mapping | None) -> dict | None:
    """The degradation recipe an SR output records, from its ``attrs["srmat"]``.

    ``srmat sr run`` stores the model and its checkpoint; a trained checkpoint's
    ``config.json`` holds the degradation its LR training inputs were made with
    (``training.degradation``). Interpolation models (``bicubic``, ``lanczos``) have
    none.

    Returns
    -------
    dict or None
        ``{"recipe": {...}, "source": "..."}`` or None when nothing is recorded.
    """
    if not srmat_attrs:
        return None
    if isinstance(srmat_attrs.get("degradation"), Mapping):
        return {"recipe": dict(srmat_attrs["degradation"]), "source": "sr output metadata"}
    ckpt = srmat_attrs.get("checkpoint")
    if not ckpt:
        return None
    from ..checkpoint import CheckpointError, read_checkpoint_config

    try:
        _, config = read_checkpoint_config(ckpt)
    except CheckpointError:
        return None
    training = config.get("training")
    recipe = training.get("degradation") if isinstance(training, Mapping) else None
    if not isinstance(recipe, Mapping):
        return None
    return {"recipe": dict(recipe),
            "source": f"training degradation of the model checkpoint {ckpt}"}


def _recorded_scale(srmat_attrs: Mapping | None) -> int | None:
    """The magnification an SR output's ``attrs["srmat"]`` records (``srmat sr run``:
    the model's ``scale``, else its tiling's), or None (none recorded, or not a whole
    number >= 1)."""
    from ..sr.apply import SR_OUTPUT_KIND

    if not isinstance(srmat_attrs, Mapping):
        return None
    value = srmat_attrs.get("scale")
    tiling = srmat_attrs.get("tiling")
    if value is None and srmat_attrs.get("operation") == SR_OUTPUT_KIND and isinstance(
            tiling, Mapping):
        value = tiling.get("scale")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if math.isfinite(value) and value >= 1 and value == int(value) else None


def sr_output_scale(srmat_attrs: Mapping | None, scale: int | None = None, *,
                    name: str = "the SR output", option: Any = None,
                    use: str = "evaluate it at", error: type[ValueError] = ValueError
                    ) -> int | None:
    """The magnification to evaluate an SR output at: the one its metadata records
    (``attrs["srmat"]`` of an ``srmat sr run`` store), else ``scale``.

    A given ``scale`` that contradicts the recorded one is refused, not used with a
    warning (the rule for a given pixel size, :func:`napari_srmat.io.given_pixel_size_message`,
    warns): the scale is also the border cropped and the grid of the LR comparison, so
    every metric would be wrong.

    Parameters
    ----------
    srmat_attrs : mapping or None
        The SR output's ``metadata["srmat"]`` (:func:`napari_srmat.io.read_image`).
    scale : int, optional
        The scale given (None: the recorded one).
    name : str
        The SR output in the message (its path).
    option : Option, optional
        How the message names the scale given (default ``scale=`` / ``--scale``; the
        grain size's ``upscale_factor=``, :func:`napari_srmat.grainsize.recorded_upscale_factor`).
    use : str
        What the scale given would do, in the message.
    error : type
        The exception raised (a ``ValueError``).

    Returns
    -------
    int or None
        The scale; None when none is given or recorded.

    Raises
    ------
    ValueError
        One line naming both scales, worded for each caller
        (:func:`~napari_srmat.errors.worded_error`: ``scale=3`` in Python, ``--scale 3`` in
        ``srmat sr eval``).

    Examples
    --------
    >>> sr_output_scale({"scale": 4}), sr_output_scale({"scale": 4}, 4), sr_output_scale({}, 2)
    (4, 4, 2)
    >>> sr_output_scale({"scale": 4}, 3, name="sr.zarr")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: sr.zarr records a x4 super-resolution: scale=3 would evaluate it at x3, ...
    """
    from ..errors import Option, worded_error

    recorded = _recorded_scale(srmat_attrs)
    if scale is None or recorded is None:
        return scale if recorded is None else recorded
    if int(scale) != recorded:
        option = option or Option("scale", "--scale")
        raise worded_error(
            error, "{name} records a x{recorded} super-resolution: {given} would "
            "{use} x{scale}, and every metric would be wrong (give {fix} or leave "
            "{option} out)", name=name, recorded=recorded, scale=scale, use=use,
            given=Option(f"{option.keyword}={scale}", f"{option.flag} {scale}"),
            fix=Option(f"{option.keyword}={recorded}", f"{option.flag} {recorded}"),
            option=option)
    return recorded


def evaluate_sr_pair(hr: Any, sr: Any, scale: int, *, lr: Any = None,
                     degradation: Any = None, degrade: Callable | str | None = None,
                     return_maps: bool = False) -> dict[str, Any]:
    """Fidelity of an SR image against its HR reference, as SR papers report it.

    Parameters
    ----------
    hr, sr : array-like
        Reference and SR image ``(H, W[, C])`` of one shape (integers are converted
        by :func:`napari_srmat.io.to_float01`). Rows / columns beyond a multiple of
        ``scale`` are cropped.
    scale : int
        Magnification; also the border (px) cropped before ``psnr_y`` / ``ssim_y`` /
        ``essim`` / ``ldl_mean``.
    lr : array-like, optional
        The LR input the SR image was made from (for the no-reference map and the
        domain-shift check); default ``degrade(hr)`` (the evaluation protocol).
    degradation : dict or str, optional
        The recipe that made the LR input; recorded as ``degradation`` in the result.
    degrade : callable or str, optional
        How the SR image is degraded back to LR (:func:`ldl_map_noref`).
    return_maps : bool
        Also return ``{"ldl": map, "ldl_noref": map}`` (full-size float32 maps).

    Returns
    -------
    dict (or (dict, dict) with ``return_maps``)
        ``scale``, ``border``, ``psnr_y``, ``ssim_y``, ``essim``, ``ldl_mean``,
        ``ldl_p99``, ``noref_ldl_mean``, ``lr_source``, ``domain_shift`` (see
        :func:`domain_shift`), ``degradation``.
    """
    a, b, s, ya, yb = _evaluated_lumas(hr, sr, scale)  # the rule of psnr_y and ssim_y
    h, w = a.shape[:2]
    full_ldl = ldl_map(a, b)
    ldl = shave(full_ldl, s)
    from ..audit.detector import resolve_degrade

    if lr is None:
        low = resolve_degrade(degrade)(a, s)
        lr_source = "degraded HR (the evaluation degradation)"
    else:
        low = fidelity_image(lr, "lr")
        if low.shape[0] * s != h or low.shape[1] * s != w:
            raise ValueError(f"LR {low.shape[:2]} x{s} does not match HR and SR {(h, w)}")
        lr_source = "given"
    low, back = _degraded_back(low, b, s, degrade)
    noref = _noref_from_back(low, back, s, LDL_WINDOW, LDL_GAMMA)
    result = {
        "scale": s,
        "border": s,
        "psnr_y": psnr(ya, yb),  # psnr_y's and ssim_y's figures, their luma taken once
        "ssim_y": ssim(ya, yb),
        "essim": essim(ya, yb),
        "ldl_mean": float(ldl.mean()),
        "ldl_p99": float(np.percentile(ldl, 99)),
        "noref_ldl_mean": float(shave(noref, s).mean()),
        "lr_source": lr_source,
        "domain_shift": _shift_from_back(low, back, SHIFT_MEAN_TOL, SHIFT_STD_RATIO),
        "degradation": degradation,
    }
    if return_maps:
        return result, {"ldl": full_ldl, "ldl_noref": noref}
    return result
