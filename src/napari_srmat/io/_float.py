"""The one rule for pixel values: images <-> float32 in [0, 1], and the channel rule.

Models, metrics and the audit see float32 images in [0, 1]; every conversion goes
through :func:`to_float01` (and :func:`to_uint8` for the way back to 8-bit files).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["all_finite", "as_rgb", "check_pixel_values", "float_bit_depth_divisor", "grey_or_rgb",
           "looks_binary", "to_float01", "to_uint8"]

#: How far outside [0, 1] a float image may reach before :func:`check_pixel_values` refuses it
#: (interpolation and SR outputs overshoot a little; a 0-255 float image reaches 255).
FLOAT_SLACK = 0.5
#: A float image with more than this fraction of its sampled pixels below
#: ``-NEGATIVE_FLOAT_TOLERANCE`` is refused by :func:`check_pixel_values`: a zero-centred
#: image (``img / 255 - 0.5``, inside the slack) would be read with every dark pixel as a
#: negative intensity. ``studies/zero_centred_check.py``: 78 of 84 zero-centred
#: tbm/train+val regions and unsplit scans have more (median 57 %); a cubic-spline x4
#: copy, not clipped, of a TBM region at most 0.001 %, of a grid of 2-4 px
#: black lines on white at most 17 %.
NEGATIVE_FLOAT_FRACTION = 0.25
#: How far below 0 a float pixel counts as negative for :data:`NEGATIVE_FLOAT_FRACTION`.
NEGATIVE_FLOAT_TOLERANCE = 0.02
#: Side of the central window :func:`check_pixel_values` reads (numpy, Dask or Zarr).
PIXEL_CHECK_WINDOW = 512
#: :func:`check_pixel_values` also reads a ``PIXEL_CHECK_GRID x PIXEL_CHECK_GRID`` grid of
#: :data:`PIXEL_CHECK_GRID_WINDOW` px windows spread over the whole image (one in the
#: middle of each cell), so values outside the central window are seen too. Windows, not
#: a strided read: ``a[::s, ::s]`` of a Dask or Zarr mosaic decodes every chunk (5 s for
#: a 20000 x 20000 float32 Zarr store with 1024 px chunks), the windows about one chunk
#: each (about 0.4 s for the same store, the central window included).
PIXEL_CHECK_GRID = 4
#: Side of each grid window of :data:`PIXEL_CHECK_GRID`.
PIXEL_CHECK_GRID_WINDOW = 64
#: A 32/64-bit integer image (divided by its dtype's maximum, which no camera reaches)
#: whose sampled values all lie below this fraction of that maximum is refused by
#: :func:`check_pixel_values`: all of it would read darker than one grey level of an
#: 8-bit image (17-bit camera data in ``uint32``: 3e-5 of full scale, black).
WIDE_INT_MIN_FULL_SCALE = 1 / 256


def to_float01(arr: Any, *, dtype: Any = np.float32, out: np.ndarray | None = None
               ) -> np.ndarray:
    """Convert an image to floats in [0, 1] according to its dtype: the one float rule.

    * bool: 0 / 1.
    * integers: divided by the dtype's maximum (``uint8`` / 255, ``uint16`` / 65535,
      ``int32`` / 2147483647, ...), as in :func:`skimage.util.img_as_float`.
    * floats: only cast (they are taken to be in [0, 1] already; values are not clipped
      or rescaled).

    Parameters
    ----------
    arr : array-like
        Any shape (Dask arrays are read into memory).
    dtype : numpy dtype or None
        Output float dtype (default float32). ``None`` keeps float inputs in their own
        precision (float64 stays float64) and gives float32 for the others.
    out : ndarray, optional
        Float array of ``arr``'s shape to write into (its dtype replaces ``dtype``):
        the same values in one pass, without temporaries (the tiling engine fills its
        tile batches this way, straight from a transposed view of the raw pixels).

    Returns
    -------
    ndarray of float
        ``out`` when given.

    Examples
    --------
    >>> import numpy as np
    >>> to_float01(np.array([0, 255], np.uint8)).tolist()
    [0.0, 1.0]
    >>> to_float01(np.array([0, 65535], np.uint16)).tolist()
    [0.0, 1.0]
    >>> to_float01(np.array([True, False])).tolist()
    [1.0, 0.0]
    """
    a = np.asarray(arr)
    if out is not None:
        return _to_float01_into(a, out)
    if dtype is None:
        dtype = a.dtype if np.issubdtype(a.dtype, np.floating) else np.float32
    if a.dtype == np.bool_:
        return a.astype(dtype)
    if np.issubdtype(a.dtype, np.integer):
        return (a.astype(dtype) / np.asarray(np.iinfo(a.dtype).max, dtype)).astype(dtype)
    return a.astype(dtype, copy=False)


def _to_float01_into(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """:func:`to_float01` written into ``out``: bit for bit ``to_float01(a, dtype=out.dtype)``
    (the cast to ``out``'s dtype, then one division by the integer maximum in that dtype)."""
    if not np.issubdtype(out.dtype, np.floating):
        raise TypeError(f"out must be a float array, got {out.dtype}")
    if out.shape != a.shape:
        raise ValueError(f"out has shape {out.shape}, the image {a.shape}")
    if np.issubdtype(a.dtype, np.integer):
        # the loop casts a to out.dtype (as astype) and divides in out.dtype
        np.divide(a, np.asarray(np.iinfo(a.dtype).max, out.dtype), out=out,
                  dtype=out.dtype, casting="unsafe")
    else:
        np.copyto(out, a, casting="unsafe")
    return out


def grey_or_rgb(arr: Any) -> np.ndarray:
    """The channel rule: ``(H, W)`` grey or ``(H, W, 3)`` colour, alpha dropped.

    ``(H, W, 1)`` and grey + alpha ``(H, W, 2)`` keep channel 0; ``(H, W, C >= 3)`` keeps
    the first three channels. Values and dtype are unchanged. Dask and Zarr arrays stay
    lazy (a Zarr array whose channels are dropped becomes a Dask array); anything else
    becomes a numpy array.
    """
    if not _is_lazy(arr):
        a = np.asarray(arr)
    elif len(arr.shape) != 3 or arr.shape[2] == 3:
        return arr
    elif not hasattr(arr, "compute"):  # Zarr: slicing it would read every pixel
        import dask.array as da

        a = da.from_array(arr, chunks=getattr(arr, "chunks", "auto"))
    else:
        a = arr
    if a.ndim == 3:
        a = a[..., 0] if a.shape[2] in (1, 2) else a[..., :3]
    return a


def channel_rule_note(shape: Sequence[int], *, source: str = "the image") -> str | None:
    """What :func:`grey_or_rgb` drops from an image whose channels are not grey or RGB.

    A file's alpha is dropped when it is read, so channels left over are data: two
    channels (two detectors, or an alpha the file does not mark) become channel 0, four
    or more become the first three as RGB. That is silent in :func:`grey_or_rgb`; the
    readers tell it once with this line. ``None`` for ``(H, W)``, ``(H, W, 1)`` and
    ``(H, W, 3)``.

    Examples
    --------
    >>> channel_rule_note((64, 64, 3)) is None
    True
    >>> channel_rule_note((64, 64, 2), source="a.tif").split(";")[0]
    'a.tif: 2 channels that are not grey or RGB'
    """
    if len(shape) != 3 or int(shape[2]) in (1, 3):
        return None
    n = int(shape[2])
    used = "only channel 0 is used (as grey)" if n == 2 else "channels 0-2 are used as RGB"
    return (f"{source}: {n} channels that are not grey or RGB; {used} by measurements, "
            "super-resolution and boundaries; save the channel you want as its own image "
            "to use another")


def _is_lazy(arr: Any) -> bool:
    """A Dask or Zarr array (pixels read on demand)."""
    if isinstance(arr, np.ndarray | np.generic) or not hasattr(arr, "shape"):
        return False
    return hasattr(arr, "compute") or type(arr).__module__.split(".")[0] == "zarr"


def check_pixel_values(image: Any, *, name: str = "image") -> None:
    """Refuse pixel values that :func:`to_float01` would misread, without an error.

    * floats are cast as they are, so a float image in 0-255 or 0-65535 (e.g.
      ``img.astype(float)``) would be read as white everywhere: it must lie within
      [-:data:`FLOAT_SLACK`, 1 + :data:`FLOAT_SLACK`], and at most
      :data:`NEGATIVE_FLOAT_FRACTION` of it may be negative (a zero-centred image,
      ``img / 255 - 0.5``, lies inside the slack);
    * integers are divided by their dtype's maximum, so 8- or 16-bit values held in a
      32/64-bit integer array (``img.astype(int)``, ``np.array(..., dtype=int)``) would
      be read as black (255 / (2**63 - 1)), and so would 17- to 24-bit camera data in
      ``uint32``: such an array whose values all lie below
      :data:`WIDE_INT_MIN_FULL_SCALE` (1/256) of the dtype's maximum is refused, naming
      the fix (``uint8`` / ``uint16``, or floats divided by the data's full scale);
    * signed integers (``int8`` ... ``int64``) are divided by their positive maximum
      (``int16`` / 32767), so a negative value would become a negative intensity (and
      unsigned 16-bit data read as ``int16`` wraps to negative above 32767): a signed
      image with a negative value is refused; 0..max maps to [0, 1] and passes.

    A bounded sample is read, the same for numpy, Dask and Zarr (:func:`_value_sample`):
    the central :data:`PIXEL_CHECK_WINDOW` px window and a :data:`PIXEL_CHECK_GRID` x
    :data:`PIXEL_CHECK_GRID` grid of :data:`PIXEL_CHECK_GRID_WINDOW` px windows spread
    over the whole image (at most 327,680 pixels per channel, about one chunk per
    window); bad values only between the windows are not seen. NaN/Inf are left to the
    callers' own checks. bool, ``uint8`` and ``uint16`` images always pass.

    Parameters
    ----------
    image : array ``(H, W)`` or ``(H, W, C)``
        numpy, Dask or Zarr.
    name : str
        The argument's name, used in the error message.

    Raises
    ------
    ValueError
        Values the float rule would misread.

    Examples
    --------
    >>> import numpy as np
    >>> check_pixel_values(np.array([[0.0, 1.02]]))
    >>> check_pixel_values(np.array([[0.0, 255.0]]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: image is a float image with values in 0..255: ...
    >>> check_pixel_values(np.linspace(0, 1, 100).reshape(10, 10) - 0.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: image is a float image with values in -0.5..0.5, 48% of them negative: ...
    """
    dtype = np.dtype(image.dtype)
    is_float = np.issubdtype(dtype, np.floating)
    wide_int = np.issubdtype(dtype, np.integer) and dtype.itemsize > 2
    signed = np.issubdtype(dtype, np.signedinteger)
    if not (is_float or wide_int or signed) or len(image.shape) < 2:
        return
    win = _value_sample(image)
    if is_float:
        win = win[np.isfinite(win)]
    if win.size == 0:
        return
    lo, hi = win.min().item(), win.max().item()
    if is_float and (lo < -FLOAT_SLACK or hi > 1.0 + FLOAT_SLACK):
        raise ValueError(f"{name} is a float image with values in {lo:g}..{hi:g}: float "
                         "images must be in [0, 1]; divide by 255 (8-bit) or 65535 (16-bit), "
                         "or pass the integer array (a file: save it with 8- or 16-bit integer "
                         "pixels)")
    if is_float:
        negative = float(np.mean(win < -NEGATIVE_FLOAT_TOLERANCE))
        if negative > NEGATIVE_FLOAT_FRACTION:
            raise ValueError(f"{name} is a float image with values in {lo:g}..{hi:g}, "
                             f"{negative:.0%} of them negative: float images must be in "
                             "[0, 1] (a zero-centred image? add back what was subtracted, "
                             "e.g. image + 0.5, or rescale it to [0, 1])")
    if signed and lo < 0:
        hint = (f"image.view(np.uint{8 * dtype.itemsize}) if it is unsigned data read as "
                "signed, else " if dtype.itemsize <= 2 else "")
        raise ValueError(f"{name} is an {dtype.name} image with values in {lo}..{hi}: integer "
                         f"images are divided by their dtype's maximum ({np.iinfo(dtype).max})"
                         ", so negative values would be negative intensities; pass "
                         f"non-negative pixels ({hint}a float image rescaled to [0, 1])")
    top = np.iinfo(dtype).max if wide_int else 0
    if wide_int and hi < top * WIDE_INT_MIN_FULL_SCALE:
        if hi <= 65535:
            target = "uint8" if hi <= 255 else "uint16"
            fix = f"pass it as {target} (image.astype(np.{target}))"
        else:  # wider than 16 bits: only the user knows the full scale; name the bit depth
            bits = int(hi).bit_length()
            fix = (f"its values need {bits} bits: pass it as floats divided by its full scale "
                   f"(image / {2 ** bits - 1} for {bits}-bit data), or as uint16 "
                   f"((image >> {bits - 16}).astype(np.uint16))")
        raise ValueError(f"{name} is an {dtype.name} image with values in {lo}..{hi}: integer "
                         f"images are divided by their dtype's maximum ({top}), so it would "
                         f"read as black (under {WIDE_INT_MIN_FULL_SCALE:.2%} of full scale); "
                         f"{fix}")


def float_bit_depth_divisor(image: Any) -> int | None:
    """255 or 65535 when ``image`` is an 8- or 16-bit image held as floats, else None.

    The float images :func:`check_pixel_values` refuses for lying beyond [0, 1] whose
    values (the same sample) are non-negative and at most 255 (or 65535), within
    :data:`FLOAT_SLACK`: dividing by that maximum gives what :func:`to_float01` gives the
    integer image. None for any other image (a float image in [0, 1], integers,
    negative or larger values). Whether to divide is the caller's (the user's) choice.

    Examples
    --------
    >>> import numpy as np
    >>> float_bit_depth_divisor(np.array([[0.0, 255.0]])), float_bit_depth_divisor(
    ...     np.array([[0.0, 1.0]]))
    (255, None)
    >>> float_bit_depth_divisor(np.array([[12.0, 4095.0]]))
    65535
    """
    dtype = np.dtype(image.dtype)
    if not np.issubdtype(dtype, np.floating) or len(image.shape) < 2:
        return None
    win = _value_sample(image)  # read once: the sample check_pixel_values judges
    win = win[np.isfinite(win)]
    if win.size == 0 or win.min() < -FLOAT_SLACK:
        return None
    hi = win.max().item()
    if hi <= 1.0 + FLOAT_SLACK:  # check_pixel_values accepts it: nothing to divide
        return None
    for divisor in (255, 65535):
        if hi <= divisor + FLOAT_SLACK:
            return divisor
    return None


#: Fewest sampled values for :func:`looks_binary` to call an image with two values binary.
BINARY_MIN_SAMPLE = 256


def looks_binary(image: Any) -> bool:
    """Whether an image is a binary mask rather than a micrograph.

    True for a ``bool`` image, or one whose sampled pixels (the value sample of
    :func:`check_pixel_values`; at least :data:`BINARY_MIN_SAMPLE` values, all channels)
    take exactly two values: a boundary mask saved as 0/255 (or 0/1) PNG. A micrograph
    of that size never has only two grey levels.

    Examples
    --------
    >>> import numpy as np
    >>> looks_binary(np.zeros((32, 32), bool))
    True
    >>> mask = np.zeros((32, 32), np.uint8); mask[::8] = 255
    >>> looks_binary(mask), looks_binary(np.arange(1024, dtype=np.uint8).reshape(32, 32))
    (True, False)
    """
    if np.dtype(image.dtype) == np.bool_:
        return True
    if len(image.shape) < 2:
        return False
    sample = _value_sample(image)
    return sample.size >= BINARY_MIN_SAMPLE and np.unique(sample).size == 2


def _value_sample(image: Any) -> np.ndarray:
    """The pixels the pixel-value checks look at, read into memory as one flat array: the
    central :data:`PIXEL_CHECK_WINDOW` px window and the middle
    :data:`PIXEL_CHECK_GRID_WINDOW` px window of each cell of a :data:`PIXEL_CHECK_GRID`
    x :data:`PIXEL_CHECK_GRID` grid over the image (numpy, Dask or Zarr: only these
    windows are read); the whole image when the central window covers it."""
    from ._read import read_window

    h, w = (int(v) for v in image.shape[:2])
    side, small, k = PIXEL_CHECK_WINDOW, PIXEL_CHECK_GRID_WINDOW, PIXEL_CHECK_GRID
    y0, x0 = max(0, (h - side) // 2), max(0, (w - side) // 2)
    parts = [read_window(image, y0, y0 + side, x0, x0 + side)]
    if h > side or w > side:
        for i in range(k):
            yc = min(max(0, (2 * i + 1) * h // (2 * k) - small // 2), max(0, h - small))
            for j in range(k):
                xc = min(max(0, (2 * j + 1) * w // (2 * k) - small // 2), max(0, w - small))
                parts.append(read_window(image, yc, yc + small, xc, xc + small))
    return np.concatenate([p.ravel() for p in parts])


def all_finite(a: Any) -> bool:
    """Whether every value of an image is finite (integer images always are): one sum
    (NaN/Inf propagate into it), and the element-wise test only when the sum is not
    finite (NaN/Inf, or an overflow).

    A Dask or Zarr array is tested chunk by chunk (bounded memory; every pixel is read).

    Examples
    --------
    >>> import numpy as np
    >>> all_finite(np.array([0.0, 1.0])), all_finite(np.array([0.0, np.nan]))
    (True, False)
    >>> all_finite(np.array([np.inf, -np.inf]))  # no "invalid value" RuntimeWarning
    False
    """
    if not isinstance(a, np.ndarray) and hasattr(a, "chunks") and hasattr(a, "dtype"):
        if not np.issubdtype(np.dtype(a.dtype), np.floating):  # Dask or Zarr
            return True
        import dask.array as da

        lazy = a if isinstance(a, da.Array) else da.from_array(a, chunks=a.chunks)
        return bool(da.isfinite(lazy).all().compute())
    a = np.asarray(a)
    if not np.issubdtype(a.dtype, np.floating):
        return True
    with np.errstate(invalid="ignore", over="ignore"):  # inf + -inf, an overflow: no warning
        total = np.add.reduce(a, axis=None)
    return bool(np.isfinite(total)) or bool(np.isfinite(a).all())


def as_rgb(arr: Any) -> np.ndarray:
    """An image as three colour channels ``(H, W, 3)``: the channel rule, grey repeated.

    :func:`grey_or_rgb` picks the channels (``(H, W, 2)`` is grey + alpha, alpha is
    dropped), then a grey image is repeated into three equal channels. Values and dtype
    are unchanged, so ``to_uint8(as_rgb(a))`` and ``to_float01(as_rgb(a))`` give the two
    usual forms.

    Raises
    ------
    ValueError
        Not an ``(H, W)`` or ``(H, W, C)`` array.

    Examples
    --------
    >>> import numpy as np
    >>> as_rgb(np.zeros((4, 5), np.uint8)).shape
    (4, 5, 3)
    >>> as_rgb(np.dstack([np.full((2, 2), 7), np.full((2, 2), 255)]))[0, 0].tolist()
    [7, 7, 7]
    """
    a = np.asarray(arr)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] == 0):
        raise ValueError(f"expected an (H, W) or (H, W, C) image, got shape {a.shape}")
    a = grey_or_rgb(a)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    return a


def to_uint8(arr: Any) -> np.ndarray:
    """An image as ``uint8`` for 8-bit files: the inverse of :func:`to_float01`.

    ``uint8`` is returned unchanged; other dtypes go through :func:`to_float01`, are
    clipped to [0, 1] and rounded (``uint16`` becomes ``round(v / 257)``). Floats are in
    [0, 1] (a super-resolved image that overshoots 1 is clipped, not rescaled).

    Examples
    --------
    >>> import numpy as np
    >>> to_uint8(np.array([0.0, 0.5, 1.2])).tolist()
    [0, 128, 255]
    """
    a = np.asarray(arr)
    if a.dtype == np.uint8:
        return a
    f = np.clip(to_float01(a), 0.0, 1.0)
    return (f * 255 + 0.5).astype(np.uint8)
