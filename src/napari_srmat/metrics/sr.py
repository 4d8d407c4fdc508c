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
"""

from __future__ import annotations

import numpy as np

__all__ = ["band_limit", "spectral_error_split"]


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
