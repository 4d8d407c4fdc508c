"""Channel rules of the computations: the channels-last float layout and luminance.

One place for how an image given as ``(H, W)`` or ``(H, W, C)`` becomes the
``(H, W, C)`` float32 array the audit, the rescan planner and the registration compute
on (:func:`float_channels_last`: the io channel rule, then the io float rule), for
how such an array becomes one grey plane (:func:`luminance`, ITU-R BT.601 weights
:data:`LUMA_WEIGHTS`, the weights the synthetic generator's grey images use too), and
for the two in turn (:func:`image_luminance`: an image's luminance in [0, 1], as the
rescan planner and the registration compute on it).

The SR metrics' Y channel (:func:`napari_srmat.metrics.rgb_to_y`, MATLAB's
``rgb2ycbcr`` with its offset and 219/255 range) is another rule and stays there.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .io import check_channels_last, grey_or_rgb, to_float01

__all__ = ["LUMA_WEIGHTS", "float_channels_last", "image_luminance", "luminance"]

#: ITU-R BT.601 luma weights of R, G, B (sum 1): the luminance of a colour image.
LUMA_WEIGHTS: tuple[float, float, float] = (0.299, 0.587, 0.114)


def float_channels_last(image: Any, *, error: type[ValueError] = ValueError
                        ) -> np.ndarray:
    """An image as ``(H, W, C)`` float32 in [0, 1], ``C`` 1 (grey) or 3 (colour).

    The io channel rule (:func:`napari_srmat.io.check_channels_last`: a stack of
    planes, a channels-first array or more than 4 channels is refused;
    :func:`napari_srmat.io.grey_or_rgb`: alpha dropped) then the io float rule
    (:func:`napari_srmat.io.to_float01`: integers divided by their dtype's maximum,
    floats only cast); a grey image gets a channel axis of length 1.

    Parameters
    ----------
    image : array-like
        ``(H, W)`` or ``(H, W, C)`` image, any dtype (a Dask array is read).
    error : type of ValueError
        Raised (a subclass of ValueError: a layer's own error type) for an array that is
        not 2-D or 3-D, or not one image by the channel rule.

    Returns
    -------
    ndarray of float32
        ``(H, W, 1)`` or ``(H, W, 3)``.

    Raises
    ------
    ValueError
        ``error``, naming the shape, when ``image`` is neither ``(H, W)`` nor
        ``(H, W, C)`` with at most 4 channels (until 2026-12-06 a ``(10, H, W)`` stack
        was read as 10 rows of ``H`` px and 7 channels were cut to 3, without a word).

    Examples
    --------
    >>> import numpy as np
    >>> float_channels_last(np.full((2, 2), 255, np.uint8)).shape
    (2, 2, 1)
    >>> rgba = np.zeros((2, 2, 4), np.uint16)
    >>> float_channels_last(rgba).shape, float_channels_last(rgba).dtype
    ((2, 2, 3), dtype('float32'))
    >>> float_channels_last(np.zeros(5))
    Traceback (most recent call last):
    ...
    ValueError: expected an (H, W) or (H, W, C) image, got shape (5,)
    """
    a = np.asarray(image)
    if a.ndim not in (2, 3):
        raise error(f"expected an (H, W) or (H, W, C) image, got shape {a.shape}")
    check_channels_last(a.shape, error=error)
    a = to_float01(grey_or_rgb(a))
    if a.ndim == 2:
        a = a[..., None]
    return a


def luminance(image: np.ndarray) -> np.ndarray:
    """Luminance of an ``(H, W, C)`` float image, as float32 ``(H, W)``.

    Three channels are weighted by :data:`LUMA_WEIGHTS` (ITU-R BT.601); any other count
    (grey, ``C = 1``) is averaged; an ``(H, W)`` plane is its own luminance. Values keep
    their scale: no offset, no clipping.

    Parameters
    ----------
    image : ndarray
        ``(H, W, C)`` float image, as :func:`float_channels_last` gives it, or an
        ``(H, W)`` grey plane.

    Raises
    ------
    ValueError
        ``image`` is neither ``(H, W, C)`` nor ``(H, W)`` (a 2-D plane was an
        ``IndexError`` until 2026-12-06).

    Returns
    -------
    ndarray of float32
        ``(H, W)``.

    Examples
    --------
    >>> import numpy as np
    >>> rgb = np.zeros((1, 2, 3), np.float32)
    >>> rgb[0, 0] = 1.0  # white, then black
    >>> luminance(rgb).round(3).tolist()
    [[1.0, 0.0]]
    >>> luminance(float_channels_last(np.array([[0, 255]], np.uint8))).tolist()
    [[0.0, 1.0]]
    """
    image = np.asarray(image)
    if image.ndim == 2:
        return image.astype(np.float32)
    if image.ndim != 3:
        raise ValueError(f"luminance needs an (H, W, C) or (H, W) image, got shape "
                         f"{image.shape}")
    if image.shape[2] == 3:
        wr, wg, wb = LUMA_WEIGHTS
        return (wr * image[..., 0] + wg * image[..., 1] + wb * image[..., 2]
                ).astype(np.float32)
    return image.mean(axis=2).astype(np.float32)


def image_luminance(image: Any, *, error: type[ValueError] = ValueError) -> np.ndarray:
    """Luminance in [0, 1] of an ``(H, W)`` or ``(H, W, C)`` image, as float32 ``(H, W)``:
    :func:`float_channels_last` then :func:`luminance`, the one rule of the modules that
    compute on an image's luminance alone (the rescan planner, the registration), each
    with its own error type.

    Parameters
    ----------
    image : array-like
        ``(H, W)`` or ``(H, W, C)`` image, any dtype.
    error : type of ValueError
        Raised for an array that is neither (:func:`float_channels_last`'s ``error``).

    Returns
    -------
    ndarray of float32
        ``(H, W)``.

    Raises
    ------
    ValueError
        ``error``, as :func:`float_channels_last` raises it.

    Examples
    --------
    >>> import numpy as np
    >>> white_black = np.array([[[255, 255, 255], [0, 0, 0]]], np.uint8)
    >>> image_luminance(white_black).round(3).tolist()
    [[1.0, 0.0]]
    >>> from napari_srmat.sr.base import SRError  # the rescan planner's type
    >>> image_luminance(np.zeros(5), error=SRError)
    Traceback (most recent call last):
    ...
    napari_srmat.sr.base.SRError: expected an (H, W) or (H, W, C) image, got shape (5,)
    """
    return luminance(float_channels_last(image, error=error))
