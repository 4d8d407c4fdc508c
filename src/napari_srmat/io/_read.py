"""Lazy readers for micrographs: PNG/JPEG, TIFF/BigTIFF/OME-TIFF, Zarr and OME-Zarr."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import threading
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import check_number, exception_reason, not_found_message, one_line
from ._float import channel_rule_note
from ._pixel import (
    GIVE_PIXEL_SIZE,
    LENGTH_UNIT,
    PIXEL_SIZE_RANGE_UM,
    check_pixel_size,
    check_pixel_size_yx,
    given_pixel_size_message,
    non_square_message,
    pixel_size_text,
    pixels_square,
)

__all__ = [
    "DamagedStoreError",
    "ImageReadError",
    "ImageSizeError",
    "MIN_IMAGE_SIDE",
    "Micrograph",
    "check_image_side",
    "image_data",
    "pixel_size_note",
    "unsupported_file_reason",
    "read_image",
    "image_info",
    "verify_image_job",
    "read_window",
    "DEFAULT_CHUNK",
]

#: Default spatial chunk size (pixels) of the Dask arrays returned by :func:`read_image`.
DEFAULT_CHUNK = 2048

# Unit name -> micrometres per unit.
_UNIT_TO_UM = {
    "micrometer": 1.0,
    "micrometre": 1.0,
    "micron": 1.0,
    "microns": 1.0,
    "um": 1.0,
    "µm": 1.0,
    "\u03bcm": 1.0,
    "nanometer": 1e-3,
    "nanometre": 1e-3,
    "nm": 1e-3,
    "millimeter": 1e3,
    "millimetre": 1e3,
    "mm": 1e3,
    "centimeter": 1e4,
    "centimetre": 1e4,
    "cm": 1e4,
    "meter": 1e6,
    "metre": 1e6,
    "m": 1e6,
    "angstrom": 1e-4,
    "å": 1e-4,
    "\u00c5": 1e-4,
    "picometer": 1e-6,
    "pm": 1e-6,
    "inch": 25400.0,
    "in": 25400.0,
}

#: Print, screen and scan resolutions (dots per inch): stored in inches or centimetres
#: (TIFF tags, ImageJ ``unit=inch``, PNG ``pHYs``, JPEG JFIF density), one of these is
#: what image editors (72 / 96 dpi defaults, 150 / 300 / 600 dpi exports) and flatbed
#: scanners write -- the size of a dot on paper, not the specimen's calibration -- and
#: gives no pixel size (:func:`pixel_size_note` says why). A micrograph's calibration is
#: tens of thousands of dots per inch (0.5 µm/px = 50 800 dpi); other values, sizes in mm
#: or µm units (TIFF/EP) and OME/ImageJ lengths are taken as they are.
PRINT_RESOLUTIONS_DPI = (72, 75, 96, 100, 120, 144, 150, 180, 200, 240, 250, 300, 350, 360,
                         400, 480, 600, 720, 800, 1200, 1440, 2400)

_PIL_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
_TIFF_SUFFIXES = {".tif", ".tiff", ".btf", ".tf8", ".tf2"}

#: Microscope vendor formats read through ``bioio`` and its reader plugins (optional:
#: ``pip install "napari-srmat[formats]"`` plus the plugin for the format, e.g.
#: ``bioio-czi``, ``bioio-nd2``, ``bioio-lif``).
MICROSCOPE_SUFFIXES = {".czi": "bioio-czi", ".nd2": "bioio-nd2", ".lif": "bioio-lif",
                       ".vsi": "bioio-bioformats", ".lsm": "bioio-tifffile",
                       ".oib": "bioio-bioformats", ".oir": "bioio-bioformats",
                       ".ims": "bioio-imaris"}


#: Serialises the swap of Pillow's global pixel limit (:func:`_open_pil`).
_PIL_LIMIT_LOCK = threading.Lock()


class ImageReadError(ValueError):
    """An image file could not be read (missing, truncated, corrupt or unsupported)."""


class DamagedStoreError(ImageReadError):
    """A Zarr store that napari-srmat completed with every chunk written lacks some, of
    level 0 (they would read as zeros: e.g. an edge map without its boundaries there) or
    of a coarser level (holes when napari shows it zoomed out). ``srmat info --verify
    STORE`` counts the missing chunks of every level."""


@dataclass
class Micrograph:
    """A (possibly multiscale) micrograph loaded lazily.

    Attributes
    ----------
    data : dask.array.Array
        Level 0 (full resolution), ``(H, W)`` or ``(H, W, C)``.
    levels : list of dask.array.Array
        All resolution levels, level 0 first (``levels[0] is data``).
    axes : str
        ``"YX"`` or ``"YXC"``.
    pixel_size_um : float or None
        Pixel size of level 0 in micrometres, if the file records one: the X size when
        the file gives different X and Y sizes (see :attr:`pixel_size_yx_um`).
    path : Path
        The file or store that was read.
    metadata : dict
        Format-specific extras (``format``, source axes, units, ...);
        ``pixel_size_yx_um`` = ``[Y, X]`` when the pixels are not square.
    """

    data: Any
    levels: list = field(default_factory=list)
    axes: str = "YX"
    pixel_size_um: float | None = None
    path: Path | None = None
    metadata: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.data.shape)

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    @property
    def format(self) -> str:
        return str(self.metadata.get("format", ""))

    @property
    def pixel_size_yx_um(self) -> tuple[float, float] | None:
        """``(Y, X)`` pixel sizes in µm: the file's two sizes when they differ by more
        than :data:`~napari_srmat.io._pixel.SQUARE_PIXEL_TOLERANCE`, else
        ``(pixel_size_um, pixel_size_um)``; None when unknown."""
        pair = self.metadata.get("pixel_size_yx_um")
        if pair is not None and len(pair) == 2:
            return float(pair[0]), float(pair[1])
        px = self.pixel_size_um
        return None if px is None else (float(px), float(px))

    @property
    def store_pixel_size(self) -> float | tuple[float, float] | None:
        """The pixel size a store written from this image records: :attr:`pixel_size_um`,
        or the ``(Y, X)`` sizes when the pixels are not square (a per-axis scale)."""
        return self.pixel_size_um if self.square_pixels else self.pixel_size_yx_um

    @property
    def square_pixels(self) -> bool:
        """False when the file gives different Y and X pixel sizes (:func:`image_data`
        then gives no pixel size: lengths in µm would be wrong in one direction)."""
        pair = self.pixel_size_yx_um
        return pair is None or pixels_square(*pair)

    def __setattr__(self, name: str, value: Any) -> None:
        """Refuse a new :attr:`pixel_size_um` for pixels that are not square: the
        ``(Y, X)`` sizes of :attr:`metadata` win over it, so ``m.pixel_size_um = 0.3`` was
        kept and never used (the image still measured in px only).

        Raises
        ------
        ValueError
            A new ``pixel_size_um`` while ``metadata["pixel_size_yx_um"]`` holds two
            sizes that differ.

        Examples
        --------
        >>> m = Micrograph(np.zeros((4, 4)), pixel_size_um=0.5,
        ...                metadata={"pixel_size_yx_um": [0.25, 0.5]})
        >>> m.pixel_size_um = 0.3
        Traceback (most recent call last):
        ...
        ValueError: this Micrograph's pixels are not square (Y 0.25 µm, X 0.5 µm): ...
        """
        if (name == "pixel_size_um" and "metadata" in self.__dict__  # not in __init__
                and not self.square_pixels and value != self.pixel_size_um):
            y, x = self.pixel_size_yx_um
            raise ValueError(
                f"this Micrograph's pixels are not square (Y {y:.6g} {LENGTH_UNIT}, X "
                f"{x:.6g} {LENGTH_UNIT}): a new pixel_size_um would not be used; give "
                "pixel_size_um= to the measurement instead (it wins over the file's "
                "sizes), or first remove metadata['pixel_size_yx_um'] to calibrate it "
                "anew with square pixels")
        super().__setattr__(name, value)


def image_data(image: Any, *, name: str = "image", intensity: bool = True,
               channels_first: bool = False) -> tuple[Any, float | None]:
    """The one rule for image-like inputs: ``(array, pixel size)`` of what a caller passed.

    * a :class:`Micrograph`: its level-0 ``data`` (lazy) and its ``pixel_size_um``;
    * an array with ``shape`` and ``dtype`` (numpy, Dask, Zarr, xarray): itself, unread;
      one whose dtype is not numpy's (a PyTorch CPU tensor): its numpy array; a numpy
      masked array with masked pixels is refused (they would be read like the others);
    * nested lists or tuples: a numpy array. Python integers have no bit depth, so
      integer lists become ``uint8`` when all values are in 0-255 and ``uint16`` when
      in 0-65535 (not ``int64``, which the float rule would divide by 2**63 - 1);
      other integer lists are refused. With ``intensity=False`` (masks and label maps,
      whose integers are labels, not grey levels) integer lists stay as numpy makes
      them.

    Pixels are bool, integer or float: complex, object, string and other dtypes are
    refused. The pixel size is None except for a Micrograph with square pixels: one
    whose file gives different Y and X sizes (:attr:`Micrograph.square_pixels`) has no
    single pixel size, so lengths in µm are not derived from it. Channels are last, at
    most 4: a 3-D array whose last axis is longer than 4 (``(3, H, W)`` from a
    channel-first reader, a stack of planes ``(N, H, W)``, ``(H, W, 7)``) is refused
    (:func:`check_channels_last`; the channel rule would read it as a 3-row image, a strip
    or 3 of its channels); a Micrograph with axes ``"YXC"`` follows its reader's rule
    instead (more than 4 channels: a warning, channels 0-2 used). Other dimensions are not
    checked (callers check the ones they need).

    Parameters
    ----------
    image : Micrograph, array-like
        The input.
    name : str
        The argument's name, used in error messages.
    intensity : bool
        Whether the pixels are grey levels (the bit-depth rule of integer lists) rather
        than labels.
    channels_first : bool
        The caller declared the array channel-first (and moves the axis itself): the
        channels-last check is skipped.

    Returns
    -------
    array : numpy, Dask or Zarr array
    pixel_size_um : float or None

    Raises
    ------
    TypeError
        None, a file path (read it with :func:`read_image` first) or something that is
        not numeric pixels (an array of complex, object or string dtype, ...).
    ValueError
        Ragged nested lists, integer lists outside 0-65535, or an array that is not one
        image (channels first, a stack, more than 4 channels).

    Examples
    --------
    >>> a, px = image_data([[0, 255], [128, 3]])
    >>> a.dtype.name, px
    ('uint8', None)
    """
    arr, px = _image_data(image, name, intensity)
    # a Micrograph read as YXC has its reader's channel rule (more than 4: warned, 0-2 used)
    if not channels_first and not (isinstance(image, Micrograph) and image.axes == "YXC"):
        check_channels_last(arr.shape, name)
    return arr, px


def pixel_size_note(image: Any, given: float | None = None) -> str | None:
    """What a measurement says about its pixel size, else None.

    Without ``given``: why :func:`image_data` gives no pixel size for ``image`` although
    its file has one (a :class:`Micrograph` whose pixels are not square, or whose file
    records only a print resolution: :data:`PRINT_RESOLUTIONS_DPI`), the line
    measurements put in their ``warnings`` when they withhold µm and ASTM G. With
    ``given`` (the user's pixel size, which wins): that it differs from the one the
    file records (:func:`~napari_srmat.io._pixel.given_pixel_size_message`).
    """
    if not isinstance(image, Micrograph):
        return None
    given = check_pixel_size(given)
    if given is not None:
        return _given_size_note(image, given)
    if not image.square_pixels:
        return non_square_message(*image.pixel_size_yx_um)
    return _print_resolution_note(image)


def warn_given_pixel_size(image: Any, given: float | tuple[float, float] | None) -> None:
    """Warn (a ``UserWarning``) when a pixel size given for a :class:`Micrograph` differs
    from the one its file records: the note measurements put in their ``warnings``
    (:func:`pixel_size_note`), for the functions that write the given size into their
    outputs (``super_resolve``, ``predict_boundaries``; ``srmat sr run`` and ``srmat
    edges predict`` print it as ``warning:``).

    Parameters
    ----------
    image : Micrograph or array-like
        The input (nothing is said for an array, which records no pixel size).
    given : float or (float, float), optional
        The pixel size given (None: the file's own is used, nothing to say).
    """
    if given is None or not isinstance(image, Micrograph):
        return
    # a (Y, X) pair is given for non-square pixels (the writers' form, check_pixel_size_yx)
    if (note := _given_size_note(image, check_pixel_size_yx(given))) is not None:
        warnings.warn(note, UserWarning, stacklevel=2)


def _given_size_note(image: Micrograph, given: float | tuple[float, float]) -> str | None:
    """That the ``given`` pixel size differs from the one ``image``'s file records (a
    non-square file's ``(Y, X)`` sizes are named), else None."""
    recorded = image.store_pixel_size
    return None if recorded is None else given_pixel_size_message(given, recorded)


def input_pixel_size(image: Any, given: Any) -> float | tuple[float, float] | None:
    """The pixel size of a job's input that its output store records (the one rule of
    ``super_resolve_job`` and ``tiled_apply_job``): ``given``, else a
    :class:`Micrograph`'s :attr:`~Micrograph.store_pixel_size`, else None (an array).

    Parameters
    ----------
    image : Micrograph or array-like
        The input.
    given : float or (float, float), optional
        The size given by the caller, checked by
        :func:`~napari_srmat.io.check_pixel_size_yx` (one size, or ``(Y, X)`` sizes).

    Returns
    -------
    float or (float, float) or None

    Raises
    ------
    PixelSizeError
        A bad ``given``.

    Examples
    --------
    >>> input_pixel_size(Micrograph(np.zeros((4, 4)), pixel_size_um=0.5), None)
    0.5
    >>> input_pixel_size(Micrograph(np.zeros((4, 4)), pixel_size_um=0.5), (0.25, 0.5))
    (0.25, 0.5)
    >>> input_pixel_size(np.zeros((4, 4)), None) is None
    True
    """
    given = check_pixel_size_yx(given)
    if given is None and isinstance(image, Micrograph):
        return image.store_pixel_size
    return given


def check_channels_last(shape: Sequence[int], name: str = "image", *,
                        error: type[ValueError] = ValueError) -> None:
    """The one rule for the axes of an image given in memory (shape only, nothing read):
    ``(H, W)`` or ``(H, W, C)`` with at most 4 channels; a 3-D array whose last axis is
    longer than 4 is not one image, and a ValueError (``error``, a subclass of it: a
    layer's own error type) names ``name`` and what it is.

    * first axis at most 4: channels first, ``(C, H, W)`` (tifffile, bioio, PyTorch);
    * first axis at most the last: a stack of planes ``(N, H, W)`` (a Z or time series);
    * else ``(H, W, C)`` with more than 4 channels (a spectral image, a wrong axis).

    Each would otherwise be read as an image of other sides or cut to 3 channels (a stack
    as ``N`` rows of ``W`` channels: a measured strip). Files get the readers' own stack
    rule (:func:`read_image`).

    Examples
    --------
    >>> check_channels_last((512, 512, 3))
    >>> check_channels_last((3, 512, 512), "lr")
    Traceback (most recent call last):
    ...
    ValueError: lr has shape (3, 512, 512), channels first: ...moveaxis(lr, 0, -1)
    >>> check_channels_last((10, 96, 96))
    Traceback (most recent call last):
    ...
    ValueError: image is a stack of 10 planes of 96 x 96 px (shape (10, 96, 96)), not one grey or colour image: pass one plane, e.g. image[0]
    >>> check_channels_last((96, 96, 7))
    Traceback (most recent call last):
    ...
    ValueError: image has 7 channels (shape (96, 96, 7)), not one grey or colour image (at most 4: grey, grey + alpha, RGB, RGBA): pass the channels to use, e.g. image[..., :3]
    """  # noqa: E501
    shape = tuple(int(v) for v in shape)
    if len(shape) != 3 or shape[2] <= 4:
        return
    if shape[0] <= 4:
        raise error(f"{name} has shape {shape}, channels first: images are (H, W) or "
                    f"(H, W, C) with C <= 4; pass numpy.moveaxis({name}, 0, -1)")
    one = "not one grey or colour image"
    if shape[0] <= shape[2]:
        raise error(f"{name} is a stack of {shape[0]} planes of {shape[1]} x "
                    f"{shape[2]} px (shape {shape}), {one}: pass one plane, e.g. "
                    f"{name}[0]")
    raise error(f"{name} has {shape[2]} channels (shape {shape}), {one} (at most 4: "
                f"grey, grey + alpha, RGB, RGBA): pass the channels to use, e.g. "
                f"{name}[..., :3]")


#: Smallest side (px) of an image given to a model (``super_resolve``,
#: ``predict_boundaries``; ``srmat sr run``, ``srmat edges predict`` and the widgets):
#: below it the input is not a micrograph (a 1 x 1 or 3 x 3 file, a wrong crop or axis),
#: and the models would see mostly their own padding (the boundary model pads each side
#: to a multiple of its encoder's stride, 16 to 32 px). No real micrograph is this small.
MIN_IMAGE_SIDE = 8


class ImageSizeError(ValueError):
    """An image smaller than an operation needs (:func:`check_image_side`)."""


def check_image_side(shape: Sequence[int], *, name: str = "image",
                     minimum: int = MIN_IMAGE_SIDE,
                     what: str = "the smallest image side napari-srmat takes") -> None:
    """The one rule for an image too small for what is done with it: both sides of
    ``shape`` (``(H, W[, C])``) at least ``minimum`` px.

    Used for model inputs (:data:`MIN_IMAGE_SIDE`) and for training images against the
    training patch or crop, so that the message has one form everywhere.

    Parameters
    ----------
    shape : sequence of int
        ``(H, W)`` or ``(H, W, C)``.
    name : str
        The image, in the message (a path, ``"training image a.png"``).
    minimum : int
        The least side in px.
    what : str
        What ``minimum`` is, in the message.

    Raises
    ------
    ImageSizeError
        One line naming ``name``, its size, ``what`` and ``minimum``.

    Examples
    --------
    >>> check_image_side((512, 512))
    >>> check_image_side((1, 1))
    Traceback (most recent call last):
    ...
    napari_srmat.io._read.ImageSizeError: image is 1 x 1 px, smaller than the smallest image side napari-srmat takes (8 px)
    >>> check_image_side((50,))
    Traceback (most recent call last):
    ...
    napari_srmat.io._read.ImageSizeError: image has shape (50,): an image is (H, W) or (H, W, C)
    """  # noqa: E501
    if len(tuple(shape)) < 2:
        raise ImageSizeError(f"{name} has shape {tuple(int(v) for v in shape)}: an image is "
                             "(H, W) or (H, W, C)")
    h, w = (int(v) for v in tuple(shape)[:2])
    if min(h, w) < minimum:
        raise ImageSizeError(f"{name} is {h} x {w} px, smaller than {what} ({minimum} px)")


def _image_data(image: Any, name: str, intensity: bool) -> tuple[Any, float | None]:
    if isinstance(image, Micrograph):
        px = image.pixel_size_um if image.square_pixels else None
        return _pixel_dtype(image.data, name), px
    if image is None:
        raise TypeError(f"{name} is None: expected an image array (numpy, Dask, Zarr) or "
                        "a Micrograph")
    if isinstance(image, str | os.PathLike):
        raise TypeError(f"{name} is a path ({str(image)!r}): read it first, e.g. "
                        "napari_srmat.read_image(path)")
    if isinstance(image, np.ma.MaskedArray):  # np.asarray drops the mask: the masked
        # pixels were measured as if they were not (silently)
        if np.ma.is_masked(image):
            raise ValueError(f"{name} is a masked array with masked pixels: they would be "
                             f"read like the others; pass {name}.filled(value) "
                             "(measure_intercepts leaves a region out with exclusion=)")
        image = np.ma.getdata(image)
    if hasattr(image, "shape") and hasattr(image, "dtype"):
        return _pixel_dtype(_numpy_dtyped(image, name), name), None
    try:
        arr = np.asarray(image)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{name} is not a rectangular array of pixels ({exc})") from None
    if intensity and np.issubdtype(arr.dtype, np.integer) and arr.dtype.itemsize > 2:
        lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
        if lo < 0 or hi > 65535:
            raise ValueError(f"{name} is a list of integers in {lo}..{hi}: its bit depth is "
                             "unknown; pass a numpy array of the intended dtype")
        arr = arr.astype(np.uint8 if hi <= 255 else np.uint16)
    elif arr.dtype.kind not in _PIXEL_KINDS:
        if isinstance(image, list | tuple) and arr.dtype.kind != "O":
            _pixel_dtype(arr, name)  # complex or string values
        raise TypeError(f"{name} must be an image array or a Micrograph, got "
                        f"{type(image).__name__}")
    return arr, None


#: dtype kinds of pixels: bool, unsigned and signed integers, floats.
_PIXEL_KINDS = "buif"


def _numpy_dtyped(arr: Any, name: str) -> Any:
    """``arr`` itself when its dtype is numpy's (numpy, Dask, Zarr, xarray), else its numpy
    copy (a PyTorch CPU tensor: it failed with "Cannot interpret 'torch.uint8' as a data
    type"), else a TypeError naming ``name``."""
    try:
        np.dtype(arr.dtype)
        return arr
    except TypeError:
        pass
    try:
        out = np.asarray(arr)
    except Exception:  # a GPU tensor, one that requires grad, ...
        out = None
    if out is None or out.shape != tuple(arr.shape):
        raise TypeError(f"{name} has dtype {arr.dtype}, not a numpy dtype, and is not "
                        f"readable as a numpy array: pass one (for a PyTorch tensor, "
                        f"{name}.detach().cpu().numpy())") from None
    return out


def _pixel_dtype(arr: Any, name: str) -> Any:
    """``arr`` if its dtype holds pixels (bool, integer, float), else a TypeError."""
    dtype = np.dtype(arr.dtype)
    if dtype.kind not in _PIXEL_KINDS:
        raise TypeError(f"{name} has dtype {dtype}: pixels must be bool, integer or float "
                        "(complex, object, string and other dtypes are not images)")
    return arr


def check_file_pixels(path: Path, dtype: Any) -> None:
    """Refuse a file whose pixels are not bool, integer or float (:data:`_PIXEL_KINDS`):
    the file's fault, an :class:`ImageReadError` naming it (an array of such values
    passed in code is a ``TypeError``, :func:`_pixel_dtype`)."""
    dtype = np.dtype(dtype)
    if dtype.kind not in _PIXEL_KINDS:
        raise ImageReadError(f"{path}: pixels of dtype {dtype} are not an image (bool, "
                             "integer or float; complex, string and other dtypes are not)")


def path_arg(path: Any, func: str, *, example: str = "scan.tif",
             hint: str = "pass an array straight to the analysis functions "
             "(super_resolve, measure_grain_size, ...)", name: str = "path",
             takes: str = "a path (a file or a Zarr store)") -> Path:
    """The one rule for file arguments: a ``str`` or path-like as a :class:`Path`.

    Anything else (an array, a Micrograph, None, bytes, a number) is a TypeError naming
    the argument (``name``), ``func`` and what was given, instead of pathlib's "expected
    str, bytes or os.PathLike object"; an empty string is a ValueError (``Path("")`` is
    the current folder: ``read_image("")`` said ". is a folder"). ``takes`` says what the
    argument accepts; the example is ``func(example)``, or ``func(..., name=example)``
    for an argument other than ``path``.
    """
    call = f"{func}({example!r})" if name == "path" else f"{func}(..., {name}={example!r})"
    if isinstance(path, str | os.PathLike):
        if not os.fspath(path):
            raise ValueError(f"{name} is empty; {func} takes {takes}, e.g. {call}")
        return Path(path)
    if isinstance(path, Micrograph):
        kind = "a Micrograph (already read)"
    elif hasattr(path, "shape") and hasattr(path, "dtype"):
        kind = "an array"
    else:
        tname = type(path).__name__
        kind = "None" if path is None else f"a{'n' * (tname[:1] in 'aeiou')} {tname}"
    raise TypeError(f"{name} is {kind}; {func} takes {takes}, e.g. {call}; {hint}")


# --------------------------------------------------------------------------- helpers


#: Unit names that say the size has no length unit (ImageJ's uncalibrated "pixel").
_NO_UNIT_NAMES = ("", "pixel", "pixels", "none")


def _unit_factor(unit: str | None) -> float | None:
    """Micrometres per ``unit`` (a name of :data:`_UNIT_TO_UM`, any case, or its plural:
    ImageJ's free-text unit may be "micrometers"); 1 for None (µm, the OME default);
    None for no length unit (:data:`_NO_UNIT_NAMES`) or one not known.

    Examples
    --------
    >>> _unit_factor("Micrometers"), _unit_factor("nm"), _unit_factor("pixel")
    (1.0, 0.001, None)
    """
    if unit is None:
        return 1.0
    key = str(unit).strip().lower()
    if key in _NO_UNIT_NAMES:
        return None
    if key not in _UNIT_TO_UM and key.endswith("s") and len(key) > 4:
        key = key[:-1]  # "micrometers", "nanometres" ("ms" is not metres)
    return _UNIT_TO_UM.get(key, _UNIT_TO_UM.get(str(unit).strip()))


def _valid_size(value: float | None) -> float | None:
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value) or value <= 0:
        return None
    return value


def _is_print_resolution(dpi: float) -> bool:
    """One of :data:`PRINT_RESOLUTIONS_DPI` (within 0.05 dpi: 300 dpi saved as 118.11
    px/cm is 299.9994): a print or scan setting, not a calibration."""
    return any(abs(dpi - d) < 0.05 for d in PRINT_RESOLUTIONS_DPI)


def _dpi_to_um(dpi: float | None, meta: dict | None = None) -> float | None:
    """Pixel size (µm) of a resolution in dots per inch; None for a print resolution
    (:func:`_is_print_resolution`), whose value is recorded as
    ``meta["print_resolution_dpi"]`` for :func:`_print_resolution_note`."""
    dpi = _valid_size(dpi)
    if dpi is None:
        return None
    if _is_print_resolution(dpi):
        if meta is not None:
            meta.setdefault("print_resolution_dpi", int(round(dpi)))
        return None
    return 25400.0 / dpi


#: Micrometres per TIFF / EXIF ``ResolutionUnit`` (the unit of ``XResolution`` and
#: ``YResolution``): 2 inch, 3 centimetre, and TIFF/EP's 4 millimetre and 5 micrometre
#: (tifffile writes them). 1 (no absolute unit: an aspect ratio) and others are absent:
#: no pixel size.
_RESOLUTION_UNIT_UM = {2: 25400.0, 3: 10000.0, 4: 1000.0, 5: 1.0}


def _resolution_um(xres: Any, yres: Any, unit: Any, meta: dict | None = None
                   ) -> tuple[float | None, float | None]:
    """The one rule for TIFF-style resolutions (TIFF tags, a JPEG's EXIF, ImageJ
    ``unit=inch``): ``(X, Y)`` pixel sizes (µm) of ``xres`` / ``yres`` pixels per
    ``unit`` (:data:`_RESOLUTION_UNIT_UM`; no unit, 1, gives none).

    Inches and centimetres follow the print rule of :func:`_dpi_to_um` (300 dpi saved as
    118.11 px/cm is the same print resolution as in inches; recorded in ``meta``);
    millimetres and micrometres are lengths given on purpose, taken as they are. Y is
    None where X is None or ``yres`` is missing (then square).

    Examples
    --------
    >>> _resolution_um(20000, 40000, 3)
    (0.5, 0.25)
    >>> _resolution_um(20000, 20000, 1), _resolution_um(300, 300, 2)
    ((None, None), (None, None))
    """
    try:
        um = _RESOLUTION_UNIT_UM.get(int(unit))
    except (TypeError, ValueError):
        um = None
    xres, yres = _valid_size(xres), _valid_size(yres)
    if xres is None or um is None:
        return None, None
    if int(unit) in (2, 3):  # dots per inch (or cm): the print rule
        size = _dpi_to_um(xres * 25400.0 / um, meta)
        return size, (_dpi_to_um(yres * 25400.0 / um) if size and yres else None)
    return um / xres, (um / yres if yres else None)


def _print_resolution_note(image: Any) -> str | None:
    """Why a file gives no pixel size although it records a resolution: a print or scan
    resolution (:data:`PRINT_RESOLUTIONS_DPI`), or None.

    Examples
    --------
    >>> import numpy as np
    >>> mic = Micrograph(data=np.zeros((2, 2)), metadata={"print_resolution_dpi": 300})
    >>> _print_resolution_note(mic)[:58]
    'no pixel size: the file records 300 dpi, a print or screen'
    """
    if not isinstance(image, Micrograph) or image.pixel_size_um is not None:
        return None
    dpi = image.metadata.get("print_resolution_dpi")
    if dpi is None:
        return None
    return (f"no pixel size: the file records {dpi} dpi, a print or screen resolution, not "
            f"the specimen's calibration; {GIVE_PIXEL_SIZE} for lengths in {LENGTH_UNIT} "
            "and ASTM G")


#: Where a file's pixel size can come from (``metadata["pixel_size_source"]``, set by
#: :func:`_pixel_sizes` for every reader) and the words ``srmat info`` says it in.
PIXEL_SIZE_SOURCES = {
    "ome": "OME-XML PhysicalSizeX/Y",
    "imagej": "ImageJ unit and the TIFF resolution tags",
    "tiff-resolution": "TIFF resolution tags",
    "png-phys": "PNG pHYs chunk",
    "jfif": "JPEG JFIF density",
    "exif": "EXIF resolution tags",
    "dpi": "file's resolution (dots per inch)",
    "ome-zarr": "OME-NGFF scale transformations",
    "zarr-attrs": "Zarr attribute pixel_size_um",
    "physical_pixel_sizes": "bioio reader's physical pixel sizes",
}


def pixel_size_source_text(meta: dict) -> str | None:
    """Where a file's pixel size came from, in words (:data:`PIXEL_SIZE_SOURCES`), or
    None without one.

    Examples
    --------
    >>> pixel_size_source_text({"pixel_size_source": "png-phys"})
    'the PNG pHYs chunk'
    """
    source = meta.get("pixel_size_source")
    return None if source is None else f"the {PIXEL_SIZE_SOURCES.get(source, source)}"


def _pixel_sizes(meta: dict, path: Path, x_um: float | None, y_um: float | None,
                 source: str | None = None) -> float | None:
    """The one rule for a file's X and Y pixel sizes: the X size is ``pixel_size_um``;
    a Y size that differs (pixels not square) is recorded as
    ``meta["pixel_size_yx_um"] = [Y, X]`` and warned about once by :func:`read_image`.
    A size outside :data:`~napari_srmat.io._pixel.PIXEL_SIZE_RANGE_UM` (1 px per metre,
    say) is a broken calibration: unknown, with a warning, instead of a refusal by every
    measurement later. ``meta["pixel_size_source"]`` is ``source`` (a key of
    :data:`PIXEL_SIZE_SOURCES`) when a size is kept, else None."""
    lo, hi = PIXEL_SIZE_RANGE_UM
    meta["pixel_size_source"] = source if x_um is not None else None
    for size in (x_um, y_um):
        if size is not None and not lo <= size <= hi:
            meta["pixel_size_source"] = None
            meta.setdefault("read_warnings", []).append(
                f"{path}: the file's pixel size ({size:g} {LENGTH_UNIT}) is outside "
                f"{lo:g}-{hi:g} {LENGTH_UNIT}, not a micrograph's: it is treated as unknown; "
                f"{GIVE_PIXEL_SIZE}")
            return None
    if x_um is not None and y_um is not None and not pixels_square(y_um, x_um):
        meta["pixel_size_yx_um"] = [float(y_um), float(x_um)]
        meta.setdefault("read_warnings", []).append(
            f"{path}: {non_square_message(y_um, x_um)}")
    return x_um


def _spatial_chunks(chunks, default: int = DEFAULT_CHUNK,
                    shape: Sequence[int] | None = None, *,
                    error: type[ValueError] = ValueError) -> tuple[int, int]:
    """``(cy, cx)`` from ``chunks`` (None = ``default``, int or tuple): the one rule of a
    ``chunks`` argument (readers, writers, the lazy synthetic generator).

    With the data's ``shape`` (a writer), a tuple has at most one entry per axis: a
    third one only for ``(H, W, C)`` data (checked, then unused: the channel axis is one
    chunk).

    Raises
    ------
    ValueError
        ``error``: not a positive integer or a non-empty tuple of them (``"auto"``,
        ``1.5``, ``0``), or more entries than ``shape`` has axes.
    """
    if chunks is None:
        chunks = default
    if isinstance(chunks, Sequence) and not isinstance(chunks, str | bytes):
        items = tuple(chunks)
    else:
        items = (chunks,)
    bad = error(f"chunks must be a positive integer or a tuple of them (pixels per "
                f"chunk along y and x), got {chunks!r}")
    if not items:
        raise bad
    try:
        sizes = [check_number("chunks", c, lo=1, integer=True) for c in items]
    except ValueError:
        raise bad from None
    if shape is not None and len(sizes) > max(2, len(shape)):
        most = "3 sizes (cy, cx, c)" if len(shape) == 3 else "2 sizes (cy, cx)"
        raise error(f"chunks must give at most {most} for data of shape "
                    f"{tuple(int(s) for s in shape)}, got {chunks!r}")
    return (sizes[0], sizes[min(1, len(sizes) - 1)])


def _chunks_for(shape: tuple[int, ...], chunks, channel_axis: int | None) -> tuple:
    """Dask chunks: spatial ``chunks`` (int or tuple), channel axis whole."""
    spatial = _spatial_chunks(chunks)
    out = []
    si = 0
    for ax, n in enumerate(shape):
        if ax == channel_axis:
            out.append(int(n))
        else:
            out.append(min(int(n), spatial[min(si, 1)]) or 1)
            si += 1
    return tuple(out)


def _lazy_array(zarr_arr, src_axes: str, name: str, chunks):
    """Dask view of a Zarr-like array in channels-last layout with our chunking.

    The dask chunks are set in ``from_array`` directly (spatial ``chunks``, other
    axes whole) rather than by a later ``rechunk``, whose graph is built eagerly and
    takes minutes for a store with millions of chunks.
    """
    import dask.array as da

    axes = src_axes.upper().replace("S", "C")
    spatial = _spatial_chunks(chunks)
    src_chunks = tuple(
        min(int(n), spatial[0] if a == "Y" else spatial[1]) or 1 if a in "YX" else int(n)
        for a, n in zip(axes, zarr_arr.shape)
    ) if len(axes) == len(zarr_arr.shape) else zarr_arr.chunks
    return _normalize_axes(da.from_array(zarr_arr, chunks=src_chunks), src_axes, name)


#: What an extra axis of a stack holds, in words (tifffile's axis letters, which
#: messages do not show; "Q", tifffile's and the OME-Zarr reader's axis of no known kind,
#: is a plain multi-page file's pages).
_AXIS_WORDS = {"T": "time points", "Z": "focal planes", "C": "channels",
               "Q": "pages", "I": "pages", "R": "tiles", "M": "mosaic tiles",
               "S": "samples", "A": "angles", "P": "phases", "E": "wavelengths",
               "H": "lifetime bins", "L": "exposures", "V": "events"}


def _normalize_axes(arr, axes: str, name: str):
    """Squeeze singleton non-spatial axes and move channels last.

    Returns ``(array, "YX" | "YXC")``.
    """
    import dask.array as da

    axes = axes.upper().replace("S", "C")
    if len(axes) != arr.ndim:
        raise ImageReadError(f"{name}: axes {axes!r} do not match the array's {arr.ndim} dims")
    if "Y" not in axes or "X" not in axes:
        raise ImageReadError(f"{name}: no Y/X axes found (axes {axes!r})")
    # drop singleton extra axes
    keep = [i for i, a in enumerate(axes) if a in "YX" or arr.shape[i] != 1]
    if len(keep) != arr.ndim:
        idx = tuple(slice(None) if i in keep else 0 for i in range(arr.ndim))
        arr = arr[idx]
        axes = "".join(axes[i] for i in keep)
    extra = [a for a in axes if a not in "YX"]
    if len(extra) > 1 or (extra and extra[0] != "C"):
        held = " by ".join(f"{arr.shape[i]} {_AXIS_WORDS.get(a, 'planes')}"
                           for i, a in enumerate(axes) if a not in "YX")
        raise ImageReadError(
            f"{name}: a stack of {held}, not one image; napari-srmat reads one grey or "
            "colour image per file (one time point and one focal plane): save the image "
            "to measure as a file of its own"
        )
    order = [axes.index("Y"), axes.index("X")] + ([axes.index("C")] if extra else [])
    if order != list(range(arr.ndim)):
        arr = da.transpose(arr, order) if isinstance(arr, da.Array) else np.transpose(arr, order)
    return arr, ("YXC" if extra else "YX")


def unsupported_file_reason(kind: str, detail: str) -> str:
    """Why a file no reader decodes is refused, after its path: the one wording of an
    image file (:func:`read_image`, ``srmat info``) and of a ``.npy`` mask or map
    (``srmat heyn``, ``srmat eval-maps``), rather than the decoder's own words.

    Parameters
    ----------
    kind : str
        What the file should have been (``"image"``, ``".npy"``).
    detail : str
        What was found, in the user's terms.

    Returns
    -------
    str

    Examples
    --------
    >>> unsupported_file_reason(".npy", "not an array of numbers")
    'unsupported or corrupt .npy file (not an array of numbers)'
    """
    return f"unsupported or corrupt {kind} file ({detail})"


def _detect_format(path: Path) -> str:
    if path.is_dir():
        return "zarr"
    if not path.exists():  # the one wording of a missing input, as every command's
        raise ImageReadError(not_found_message(path, "image"))  # ("no such file or
        # directory" until 2026-12-06: srmat info, register, sr run said it so, and
        # grain-size "image not found")
    # an OSError opening it (permission denied, an I/O error) is the system's, not the
    # file's content: it goes on as itself (exit 1, as for a folder or a segments file;
    # told "PATH: permission denied"), not as an ImageReadError of bad input (exit 2)
    with open(path, "rb") as fh:
        head = fh.read(16)
    if not head:
        raise ImageReadError(f"{path}: file is empty")
    if path.suffix.lower() in MICROSCOPE_SUFFIXES:
        return "bioio"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:2] == b"BM" or head[:4] in (b"GIF8",) or head[8:12] == b"WEBP":
        return "pil"
    suffix = path.suffix.lower()
    raise ImageReadError(f"{path}: " + unsupported_file_reason(
        "image", f"suffix {suffix or 'none'!r}, not a PNG, JPEG, TIFF or Zarr store"))


# --------------------------------------------------------------------------- PIL


#: The words of the read warning of transparent pixels (:func:`_alpha_dropped`), which a
#: mask reader filters (a mask's transparent background is its background).
TRANSPARENT_WORDS = "of its pixels are transparent"


def _alpha_dropped(alpha: np.ndarray, name: str, meta: dict, *,
                   sampled: bool = False) -> None:
    """The one rule of a dropped alpha channel (PNG: decoded whole, so counting is free;
    TIFF: :func:`_tiff_alpha_sample`): ``meta["alpha_dropped"]``, and when some pixels
    are not opaque, their share as ``meta["transparent_fraction"]`` and a read warning.
    The transparent, black border of a stitched mosaic was read, shown and measured as
    specimen without a word. ``sampled``: ``alpha`` is a sample of the image's alpha
    (the share is told as about so much)."""
    meta["alpha_dropped"] = True
    opaque = np.iinfo(alpha.dtype).max if alpha.dtype.kind in "ui" else 1.0
    share = float(np.count_nonzero(alpha < opaque)) / max(alpha.size, 1)
    if share:
        meta["transparent_fraction"] = round(share, 4)
        about, how = ("about ", "sampled, ") if sampled else ("", "")
        meta.setdefault("read_warnings", []).append(
            f"{name}: {about}{share:.0%} {TRANSPARENT_WORDS} ({how}alpha below opaque); "
            "the alpha channel is dropped and their stored colour read as if opaque (the "
            "empty border of a stitched mosaic measures as specimen): crop it away first")


def _grey_palette(lut: Any) -> bool:
    """The one palette rule (PNG, TIFF): a palette whose every entry is grey (R = G = B)
    is a grey image saved as indexed colours, and reads as grey (the entries' value);
    any colour entry keeps RGB. ``lut``: ``(n, 3)`` entries.

    Examples
    --------
    >>> _grey_palette([[0, 0, 0], [7, 7, 7]]), _grey_palette([[0, 0, 0], [7, 0, 0]])
    (True, False)
    """
    lut = np.asarray(lut).reshape(-1, 3)
    return bool(lut.size) and bool((lut == lut[:, :1]).all())


def _pil_to_array(im, name: str) -> tuple[np.ndarray, dict]:
    meta: dict = {"mode": im.mode}
    mode = im.mode
    if mode == "P" and "transparency" in im.info:  # transparent palette entries: alpha
        im, mode = im.convert("RGBA"), "RGBA"
    if im.getbands()[-1] in ("A", "a"):
        _alpha_dropped(np.asarray(im.getchannel(im.getbands()[-1])), name, meta)
    if mode == "P":  # Pillow's grey of a grey entry is its value (weights sum to 1)
        im = im.convert("L" if _grey_palette(im.getpalette() or []) else "RGB")
    elif mode in ("1", "LA", "PA"):
        im = im.convert("L")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        im = im.convert("RGB")
    elif mode == "RGBa":
        im = im.convert("RGBA")
    elif mode == "La":
        im = im.convert("L")
    arr = np.asarray(im)
    if arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[..., :3]
    if arr.dtype == np.int32:  # PIL mode "I" (16-bit PNG on some versions)
        arr = arr.astype(np.uint16) if arr.min() >= 0 and arr.max() < 65536 else arr
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return np.ascontiguousarray(arr), meta


def _pil_pixel_size(info: dict, meta: dict, fmt: str
                    ) -> tuple[float | None, float | None, str]:
    """``(X, Y)`` pixel sizes (µm) of Pillow's ``dpi`` (a PNG's ``pHYs``, a BMP's pixels
    per metre): dots per inch by :func:`_resolution_um` (a JPEG's:
    :func:`_jpeg_pixel_size`), and their source (:data:`PIXEL_SIZE_SOURCES`)."""
    dpi = info.get("dpi")
    source = "png-phys" if fmt == "png" else "dpi"
    try:
        return (*_resolution_um(dpi[0], dpi[-1], 2, meta), source)
    except (TypeError, IndexError):  # no dpi, or not a pair
        return None, None, source


#: Where Pillow puts a density without a unit (an aspect ratio only: pixels per unit
#: along X and Y) of each format that records one, and what the read warning calls it.
_ASPECT_ONLY = {"png": ("aspect", None, "PNG pHYs chunk"),
                "jpeg": ("jfif_density", "jfif_unit", "JPEG JFIF header")}


def _aspect_only_note(info: dict, fmt: str, path: Path,
                      sizes_um: tuple[float | None, float | None] = (None, None)
                      ) -> str | None:
    """The read warning of a density without a unit (an aspect ratio only, pixels per unit
    along X and Y: a PNG ``pHYs`` chunk or JPEG JFIF header of unit 0, where Pillow's
    ``info`` has it, :data:`_ASPECT_ONLY`) whose X and Y differ beyond
    :data:`~napari_srmat.io._pixel.SQUARE_PIXEL_TOLERANCE`: the pixels are not square,
    and there is no length to give a pixel size; None for an even (the usual 1:1), bad or
    absent one, or where the pixel sizes read (``sizes_um``, X and Y: a JPEG's EXIF) have
    that aspect already. Such a file was read as square without a word.

    Examples
    --------
    >>> _aspect_only_note({"aspect": (2000, 1000)}, "png", Path("a.png"))[:60]
    'a.png: its PNG pHYs chunk says its pixels are not square: ea'
    >>> _aspect_only_note({"jfif_unit": 0, "jfif_density": (2, 1)}, "jpeg", Path("a.jpg"))[:61]
    'a.jpg: its JPEG JFIF header says its pixels are not square: e'
    >>> _aspect_only_note({"aspect": (1, 1)}, "png", Path("a.png")) is None
    True
    """
    key, unit_key, record = _ASPECT_ONLY.get(fmt, (None, None, ""))
    if key is None or (unit_key is not None and info.get(unit_key) != 0):
        return None
    try:
        x, y = (_valid_size(v) for v in info.get(key))
    except (TypeError, ValueError):
        return None
    if x is None or y is None or pixels_square(1.0 / y, 1.0 / x):
        return None
    if None not in sizes_um and pixels_square(sizes_um[0] * x, sizes_um[1] * y):
        return None
    ratio, shape = (x / y, "high as wide") if x > y else (y / x, "wide as high")
    return (f"{path}: its {record} says its pixels are not square: each is "
            f"{ratio:.3g} times as {shape} ({x:g} and {y:g} pixels per unit along X and Y, "
            "with no length unit, so no pixel size); napari-srmat reads them as square, so "
            "lengths across the two directions do not compare: resample the image to "
            "square pixels first")


#: EXIF tags (of IFD0) of a JPEG's resolution: XResolution, YResolution, ResolutionUnit.
_EXIF_RESOLUTION_TAGS = (0x011A, 0x011B, 0x0128)


def _exif_resolution(im) -> tuple[Any, Any, Any] | None:
    """``(XResolution, YResolution, ResolutionUnit)`` of an image's EXIF (the unit
    defaults to inches, as in TIFF), None without an ``XResolution`` or with a damaged
    EXIF block."""
    try:
        exif = im.getexif()
        xtag, ytag, utag = _EXIF_RESOLUTION_TAGS
        if xtag not in exif:
            return None
        return exif.get(xtag), exif.get(ytag), exif.get(utag, 2)
    except Exception:  # noqa: BLE001 - a damaged EXIF block records nothing
        return None


def _jpeg_pixel_size(info: dict, exif: tuple | None, path: Path, meta: dict
                     ) -> tuple[float | None, float | None, str | None]:
    """``(X, Y)`` pixel sizes (µm) of a JPEG and their source (``"jfif"`` or ``"exif"``,
    :data:`PIXEL_SIZE_SOURCES`): its JFIF density when in inches or
    centimetres (and not 0), else its EXIF resolution (:func:`_exif_resolution`), both
    by the rule of :func:`_resolution_um` (Pillow's ``dpi`` read an EXIF resolution
    without a unit as dots per inch, and only its X).

    When the JFIF density is used and the EXIF records another calibration (a print
    resolution on one side, or sizes more than
    :data:`~napari_srmat.io._pixel.SQUARE_PIXEL_TOLERANCE` apart), which is right is
    unknown: no pixel size, and a read warning naming both.
    """
    unit, density = info.get("jfif_unit"), info.get("jfif_density")
    exif_meta: dict = {}
    from_exif = _resolution_um(*exif, exif_meta) if exif else (None, None)
    # unit 0: an aspect ratio; a density of 0 (which the JFIF spec forbids) records none
    if unit not in (1, 2) or not density or _valid_size(density[0]) is None:
        meta.update(exif_meta)
        return (*from_exif, "exif")
    jfif_meta: dict = {}
    jfif = _resolution_um(density[0], density[-1], {1: 2, 2: 3}[unit], jfif_meta)
    if from_exif[0] is not None and (jfif[0] is None or not (
            pixels_square(jfif[0], from_exif[0])
            and pixels_square(jfif[1] or jfif[0], from_exif[1] or from_exif[0]))):
        def said(sizes, dpi) -> str:
            if sizes[0] is None:
                return f"{dpi} dpi (a print or screen resolution)"
            return (f"{pixel_size_text((sizes[1] or sizes[0], sizes[0]))} {LENGTH_UNIT} "
                    "per pixel")

        meta.setdefault("read_warnings", []).append(
            f"{path}: its JFIF header records {said(jfif, jfif_meta.get('print_resolution_dpi'))}"
            f", its EXIF {said(from_exif, None)}: which is right is unknown, so it has no "
            f"pixel size; {GIVE_PIXEL_SIZE}")
        return None, None, None
    meta.update(jfif_meta)
    return (*jfif, "jfif")


#: Channels of the PNG colour types (IHDR byte 25) Pillow reads as 8 bits per channel
#: when their bit depth is 16: RGB, grey + alpha, RGBA.
_PNG16_COLOUR_CHANNELS = {2: 3, 4: 2, 6: 4}


def _png_16bit_colour(path: Path) -> int:
    """The channels of a 16-bit RGB, RGBA or grey + alpha PNG (IHDR bit depth 16, colour
    type 2, 6 or 4), 0 for any other file: Pillow reads those as 8 bits per channel (it
    keeps the high bytes only), imagecodecs at 2 bytes per channel."""
    with open(path, "rb") as fh:
        head = fh.read(26)
    if len(head) < 26 or head[12:16] != b"IHDR" or head[24] != 16:
        return 0
    return _PNG16_COLOUR_CHANNELS.get(head[25], 0)


def _png16_to_array(path: Path, mode: str) -> tuple[np.ndarray, dict]:
    """Decode a 16-bit colour PNG with imagecodecs (uint16, alpha dropped as for Pillow)."""
    import imagecodecs

    arr = np.asarray(imagecodecs.png_decode(path.read_bytes()))
    meta: dict = {"mode": f"{mode} (16 bits per channel)"}
    if arr.ndim == 3 and arr.shape[2] in (2, 4):
        _alpha_dropped(arr[..., -1], str(path), meta)
        arr = arr[..., 0] if arr.shape[2] == 2 else arr[..., :3]
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return np.ascontiguousarray(arr), meta


#: EXIF orientation values (tag 0x0112) and how a photo viewer turns the stored pixels.
_EXIF_TURNS = {2: "mirrored", 3: "turned 180°", 4: "mirrored vertically",
               5: "mirrored and turned", 6: "turned 90° clockwise", 7: "mirrored and turned",
               8: "turned 90° counter-clockwise"}


def _orientation_warning(orientation: Any, path: Path, tag: str = "EXIF orientation"
                         ) -> str | None:
    """The one warning of an orientation (EXIF / TIFF tag 274, :data:`_EXIF_TURNS`) that
    asks viewers to turn or mirror the stored pixels; None for 1 (as stored) or a value
    not known.

    The pixels are read as stored, as napari's own reader, tifffile, scikit-image,
    imageio and ImageJ read them, so that a boundary mask drawn on the image in those
    tools lines up with it; the user is told that photo viewers show the image turned.
    """
    try:
        turn = _EXIF_TURNS.get(int(orientation))
    except (TypeError, ValueError):
        return None
    if turn is None:
        return None
    return (f"{path.name}: its {tag} ({int(orientation)}) asks photo viewers to show "
            f"it {turn}; napari-srmat reads the pixels as stored (as napari, scikit-image "
            "and ImageJ do), so masks drawn on the stored image line up")


def _exif_orientation_warning(im, path: Path) -> str | None:
    """:func:`_orientation_warning` of a PNG/JPEG's EXIF orientation (Pillow image
    ``im``)."""
    try:
        orientation = im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - a damaged EXIF block: nothing to say
        return None
    return _orientation_warning(orientation, path)


def _tiff_orientation_warning(page, path: Path) -> str | None:
    """:func:`_orientation_warning` of a TIFF page's Orientation tag (274): a TIFF
    turned by its tag was read as stored without a word, while a JPEG's was told."""
    tag = page.tags.get("Orientation") if page is not None else None
    return None if tag is None else _orientation_warning(tag.value, path,
                                                         "orientation tag")


def _open_pil(path: Path):
    """``Image.open(path)`` without Pillow's decompression-bomb limit (179 megapixels).

    The limit guards web services against small files that decode to huge images; it
    refused a metallurgist's own stitched PNG/JPEG mosaic (13 500 x 13 500 px) as "could
    be decompression bomb DOS attack". What a decode needs is checked against the memory
    available instead (:func:`_check_pil_memory`).
    """
    from PIL import Image

    with _PIL_LIMIT_LOCK:  # the limit is Pillow's global: restored for other callers
        limit = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            return Image.open(path)
        finally:
            Image.MAX_IMAGE_PIXELS = limit


def _check_pil_memory(im, path: Path, fmt: str, png16_channels: int = 0) -> None:
    """Refuse a PNG/JPEG whose decode (done whole, at open) cannot fit in memory.

    The estimate is twice the decoded pixels (Pillow's copy and the array made from it),
    4 bytes per pixel for colour (Pillow's RGB layout), the band width for grey; a 16-bit
    colour PNG (``png16_channels``, :func:`_png_16bit_colour`), decoded by imagecodecs
    (:func:`_png16_to_array`), 2 bytes per channel of the file (6 for RGB: Pillow's mode
    says 8-bit RGB).
    """
    from ..outputs import available_memory_bytes, format_bytes

    band = 4 if im.mode in ("I", "F") else 2 if im.mode.startswith("I;16") else 1
    per_pixel = band * (4 if len(im.getbands()) > 1 or im.mode == "P" else 1)
    if png16_channels:
        per_pixel = 2 * png16_channels
    need = 2 * im.size[0] * im.size[1] * per_pixel
    free = available_memory_bytes()
    if need > free:
        raise ImageReadError(
            f"{path}: decoding this {im.size[0]} x {im.size[1]} {fmt.upper()} image needs "
            f"{format_bytes(need)} of memory, {format_bytes(free)} available (PNG and JPEG "
            "are decoded whole); convert it to a tiled TIFF or OME-Zarr, read chunk by chunk")


def _read_pil(path: Path, fmt: str, chunks) -> Micrograph:
    import dask.array as da
    from PIL import Image

    try:
        with _open_pil(path) as im:
            fmt_name = (im.format or fmt).lower()
            png16_channels = _png_16bit_colour(path) if fmt_name == "png" else 0
            _check_pil_memory(im, path, fmt, png16_channels)
            info = dict(im.info)
            if png16_channels:
                arr, meta = _png16_to_array(path, im.mode)
            else:
                im.load()
                arr, meta = _pil_to_array(im, str(path))
            turned = _exif_orientation_warning(im, path)
            exif = _exif_resolution(im) if fmt == "jpeg" else None
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"{path}: image too large for Pillow ({exc})") from None
    except (OSError, SyntaxError, ValueError, EOFError, RuntimeError) as exc:
        msg = exception_reason(exc)
        raise ImageReadError(f"{path}: cannot decode {fmt.upper()} image ({msg})") from None
    axes = "YXC" if arr.ndim == 3 else "YX"
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr, axes = arr[..., 0], "YX"
    data = da.from_array(arr, chunks=_chunks_for(arr.shape, chunks, 2 if arr.ndim == 3 else None))
    meta.update({"format": fmt_name, "dpi": info.get("dpi")})
    if turned:
        meta.setdefault("read_warnings", []).append(turned)
    # one rule for every format's dots per inch: print resolutions (scanners write JFIF
    # 150 / 300 dpi, editors PNG 300 dpi) are no calibration
    sizes = (_jpeg_pixel_size(info, exif, path, meta) if fmt == "jpeg"
             else _pil_pixel_size(info, meta, fmt_name))
    if aspect := _aspect_only_note(info, fmt_name, path, sizes[:2]):
        meta.setdefault("read_warnings", []).append(aspect)
    pixel_size = _pixel_sizes(meta, path, *sizes)
    return Micrograph(
        data=data,
        levels=[data],
        axes=axes,
        pixel_size_um=pixel_size,
        path=path,
        metadata=meta,
    )


# --------------------------------------------------------------------------- TIFF


def _unknown_unit_note(path, unit: str) -> str:
    """The read warning of a pixel size whose length unit is not known (it was dropped
    without a word)."""
    return (f"{path}: the pixel size's unit {unit!r} is not a length unit napari-srmat "
            f"knows: no pixel size; {GIVE_PIXEL_SIZE}")


def _ome_pixels_of(root, image: int, name: str | None):
    """The OME ``Pixels`` element of tifffile's series ``image`` (named ``name``):
    tifffile makes series only of the ``Image`` elements with data in the file
    (``TiffData``), in order; a name that one of them alone has decides."""
    def local(el) -> str:
        return el.tag.rsplit("}", 1)[-1]

    images = []
    for img in (el for el in root.iter() if local(el) == "Image"):
        pixels = next((el for el in img if local(el) == "Pixels"), None)
        if pixels is not None:
            has_data = any(local(el) == "TiffData" for el in pixels)
            images.append((img.get("Name"), pixels, has_data))
    with_data = [i for i in images if i[2]] or images
    named = [i for i in with_data if name and i[0] == name]
    if len(named) == 1:
        return named[0][1]
    return with_data[image][1] if image < len(with_data) else None


def _ome_pixel_size(xml: str | None, image: int = 0, unknown: list | None = None,
                    name: str | None = None) -> tuple[float | None, float | None]:
    """``(X, Y)`` pixel sizes (µm) of OME-XML ``PhysicalSizeX``/``Y`` and their units, of
    its ``image``-th image (tifffile's series, in the order of the OME ``Image``
    elements: a file may hold an overview or label image before the micrograph, whose
    size was taken for the micrograph's). Units it does not know are appended to
    ``unknown``."""
    if not xml:
        return None, None
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None, None
    el = _ome_pixels_of(root, image, name)
    if el is None:
        return None, None
    sizes = []
    for ax in "XY":
        size = _valid_size(el.get(f"PhysicalSize{ax}"))
        unit = el.get(f"PhysicalSize{ax}Unit", "µm")
        factor = _unit_factor(unit)
        if size is not None and factor is None and unknown is not None:
            unknown.append(unit)
        sizes.append(None if size is None or factor is None else size * factor)
    return sizes[0], sizes[1]


def _tag_ratio(page, name: str) -> float | None:
    """A TIFF RATIONAL tag (``XResolution``, ``YResolution``) as a float, else None."""
    tag = page.tags.get(name)
    if tag is None:
        return None
    try:
        num, den = tag.value
        return num / den if den else None
    except (TypeError, ValueError):
        return None


def _imagej_text(value: Any) -> str:
    """An ImageJ description value with ImageJ's escapes of non-ASCII characters
    (``\\u00B5m``, ``\\u03BCm``) decoded, as ImageJ reads it back.

    Examples
    --------
    >>> _imagej_text("\\u03BCm"), _imagej_text("micron")
    ('μm', 'micron')
    """
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), str(value))


def _tiff_pixel_size(tif, page=None, series: int = 0, unknown: list | None = None,
                     series_name: str | None = None, meta: dict | None = None
                     ) -> tuple[float | None, float | None, str | None]:
    """``(X, Y)`` pixel sizes (µm) and where they came from (``page``: the image's first
    page; ``series``: the image read, for OME-XML; units not known are appended to
    ``unknown``; a print resolution is recorded in ``meta``, :func:`_dpi_to_um`). Y
    follows the same rules as X (None where X is None)."""
    if tif.is_ome:
        size, size_y = _ome_pixel_size(tif.ome_metadata, series, unknown, series_name)
        if size is not None:
            return size, size_y, "ome"
    if page is None:
        page = tif.pages.first if hasattr(tif.pages, "first") else tif.pages[0]
    xres, yres = _tag_ratio(page, "XResolution"), _tag_ratio(page, "YResolution")
    ij = tif.imagej_metadata if tif.is_imagej else None
    if ij and ij.get("unit") and xres:
        unit = _imagej_text(ij["unit"])
        factor = _unit_factor(unit)
        if factor == _UNIT_TO_UM["inch"] and xres > 0:  # dots per inch: as the TIFF tags,
            size, size_y = _resolution_um(xres, yres, 2, meta)  # print resolutions are
            return size, size_y, ("imagej" if size else None)  # no calibration
        if factor is None and unit.strip().lower() not in _NO_UNIT_NAMES and (
                unknown is not None):  # said when no other size is found
            unknown.append(unit)
        # ImageJ writes "yunit=" when the Y unit is not the X one ("unit")
        yunit = _imagej_text(ij.get("yunit") or unit)
        factor_y = _unit_factor(yunit)
        if factor is not None and factor_y is None:  # Y in a unit not known: no size
            if unknown is not None:
                unknown.append(str(yunit))
            return None, None, None
        if factor is not None and xres > 0:
            return factor / xres, (factor_y / yres if yres and yres > 0 else None), "imagej"
    unit_tag = page.tags.get("ResolutionUnit")
    size, size_y = _resolution_um(xres, yres, int(unit_tag.value) if unit_tag else 2, meta)
    return size, size_y, ("tiff-resolution" if size else None)


def _tiff_has_alpha(page) -> bool:
    """Whether the page's samples are grey + alpha or RGB + alpha (one extra sample,
    marked as associated or unassociated alpha)."""
    extra = tuple(int(e) for e in (getattr(page, "extrasamples", None) or ()))
    return (len(extra) == 1 and extra[0] in (1, 2)
            and int(getattr(page, "samplesperpixel", 0)) in (2, 4))


def _tiff_colour_rule(page) -> tuple[str | None, Any]:
    """How the stored samples of a TIFF page become grey or RGB pixels, as Pillow (and
    every viewer) shows them: ``("palette", lut)``, ``("cmyk", None)``,
    ``("miniswhite", max value)``, ``("alpha", None)`` or ``(None, None)`` (as stored).
    A 1-bit white-is-zero page is read as stored: ``tifffile.imwrite(path, mask)`` of a
    bool mask writes one, and inverting it turned a boundary mask into its complement."""
    if page is None:
        return None, None
    photometric = int(getattr(page, "photometric", -1))
    spp = int(getattr(page, "samplesperpixel", 1))
    if photometric == 3 and spp == 1 and getattr(page, "colormap", None) is not None:
        cmap = np.asarray(page.colormap)  # (3, 2**bits) uint16
        lut = cmap // 256 if cmap.max() > 255 else cmap
        return "palette", np.ascontiguousarray(lut.T.astype(np.uint8))
    inkset = page.tags.get("InkSet")
    if photometric == 5 and spp == 4 and (inkset is None or int(inkset.value) == 1):
        return "cmyk", None
    if photometric == 0 and spp == 1:
        bits = int(getattr(page, "bitspersample", 8))
        if bits == 1:  # a bilevel mask (tifffile writes every bool array so): as stored,
            return None, None  # 1 = set, as tifffile, ImageJ and scikit-image read it
        return "miniswhite", (1 << bits) - 1
    if _tiff_has_alpha(page):
        return "alpha", None
    return None, None


def _tiff_colours(arr, axes: str, rule: tuple[str | None, Any]):
    """Apply :func:`_tiff_colour_rule`'s conversion to a lazy level: a palette becomes
    RGB through its colour map (grey through a grey one, :func:`_grey_palette`), CMYK
    becomes RGB (``255 - min(255, C + K)``, Pillow's formula), white-is-zero grey is
    inverted, alpha is dropped (RGBA -> RGB, grey + alpha -> grey, as for PNG)."""
    import dask.array as da

    kind, value = rule
    if kind == "palette" and axes == "YX" and arr.dtype.kind in "ub":
        lut = value
        if _grey_palette(lut):
            grey = np.ascontiguousarray(lut[:, 0])
            return arr.map_blocks(lambda b: grey[b.astype(np.intp)], dtype=grey.dtype), axes
        arr = arr.map_blocks(lambda b: lut[b.astype(np.intp)], dtype=lut.dtype, new_axis=2,
                             chunks=(*arr.chunks, (3,)))
        return arr, "YXC"
    if kind == "cmyk" and axes == "YXC" and arr.shape[-1] == 4 and arr.dtype.kind == "u":
        top = np.iinfo(arr.dtype).max
        wide = arr.astype(np.int64)
        rgb = top - da.minimum(wide[..., :3] + wide[..., 3:4], top)
        return rgb.astype(arr.dtype), "YXC"
    if kind == "miniswhite" and axes == "YX":
        if arr.dtype == bool:
            return ~arr, axes
        if arr.dtype.kind == "u":
            return (value - arr).astype(arr.dtype), axes
    if kind == "alpha" and axes == "YXC":
        arr = arr[..., :-1] if arr.shape[-1] > 2 else arr[..., 0]
        return arr, ("YXC" if arr.ndim == 3 else "YX")
    return arr, axes


#: The most alpha values a TIFF's transparent share is counted from at open
#: (:func:`_tiff_alpha_sample`): a level of at most this many pixels (the smallest level
#: of a pyramid) is counted whole; a larger one from whole tiles, strips or rows spread
#: evenly over it, this many pixels of them at most (64 tiles of 256 x 256 px, 7 % of an
#: 8000 x 8000 mosaic), so the open reads a bounded part of the file.
ALPHA_COUNT_PIXELS = 1 << 22


def _spread(n: int, k: int) -> list[int]:
    """``k`` of ``range(n)`` spread evenly (the centres of ``k`` equal bands).

    Examples
    --------
    >>> _spread(10, 3), _spread(4, 9)
    ([1, 5, 8], [0, 1, 2, 3])
    """
    k = max(1, min(k, n))
    return [(2 * i + 1) * n // (2 * k) for i in range(k)]


def _tiff_alpha_sample(source, src_axes: str, path: Path) -> tuple[np.ndarray, bool]:
    """The alpha values of a TIFF level that :func:`_alpha_dropped` counts, and whether
    they are a sample: the whole level when it has at most :data:`ALPHA_COUNT_PIXELS`
    pixels or is one block (a compressed level stored as one strip: the open's probe
    decoded it already, kept for its chunks up to :data:`DECODED_STRIP_CACHE_BYTES`);
    of a deflate strip over that (:class:`_InflatedStrip`), every k-th row (the last
    among them) and column, at most that many pixels, in the one pass that stands for the
    open's probe; else whole blocks (the file's tiles or strips; single rows of a level
    read in place, :class:`_TiffWindows`: reading part of a block decodes it whole)
    spread over it, at most that many pixels of them. ``source``: the level as stored
    (its Zarr view, :class:`_TiffWindows` or :class:`_InflatedStrip`, axes ``src_axes``,
    the alpha the last sample), read directly: a Dask slice of it read whole chunks."""
    axes = src_axes.upper()
    y, x = axes.index("Y"), axes.index("X")
    h, w = int(source.shape[y]), int(source.shape[x])
    if isinstance(source, _TiffWindows | _InflatedStrip):  # rows read alone
        block = (1, w)
    elif isinstance(source, _WholeStrip):  # one strip
        block = (h, w)
    elif len(axes) == len(source.shape):
        block = (int(source.chunks[y]), int(source.chunks[x]))
    else:
        block = tuple(source.shape[-2:])
    by, bx = (max(1, min(int(b), n)) for b, n in zip(block, (h, w)))
    budget = ALPHA_COUNT_PIXELS // (by * bx)

    def alpha(rows: slice, cols: slice) -> np.ndarray:
        index = [0 if n == 1 else -1 for n in source.shape]
        index[y], index[x] = rows, cols
        return np.ravel(source[tuple(index)])

    try:
        if isinstance(source, _InflatedStrip):
            k = max(1, math.ceil(math.sqrt(h * w / ALPHA_COUNT_PIXELS)))
            return alpha(slice((h - 1) % k, None, k), slice(k // 2, None, k)), k > 1
        if h * w <= ALPHA_COUNT_PIXELS or budget < 1:
            return alpha(slice(None), slice(None)), False
        ny, nx = -(-h // by), -(-w // bx)
        gy = min(ny, budget, max(1, round(math.sqrt(budget * ny / nx))))
        values = [alpha(slice(r * by, (r + 1) * by), slice(c * bx, (c + 1) * bx))
                  for r in _spread(ny, gy) for c in _spread(nx, budget // gy)]
    except ImageReadError:
        raise  # told once (a one-strip level's decode tells it)
    except Exception as exc:  # noqa: BLE001 - codecs raise many types
        raise _tiff_data_error(path, exc) from None
    return np.concatenate(values), True


def _yx_pixels(series) -> int:
    """Pixels of one plane of a tifffile series (its Y and X axes)."""
    axes = series.axes.upper()
    shape = series.shape
    if "Y" not in axes or "X" not in axes:
        return 0
    return int(shape[axes.index("Y")]) * int(shape[axes.index("X")])


def _largest_tiff_series(series: Sequence, path: Path) -> tuple[int, str | None]:
    """Index of the image a TIFF with several images is read as, and a warning naming it.

    A TIFF can hold several images (a thumbnail or preview beside the micrograph, pages of
    different sizes, separately written images): the largest is read (the first of equal
    ones), and a warning names it, so a preview is never measured in place of the
    micrograph without a word. Reduced-resolution levels of a pyramid are not separate
    images here (tifffile groups them under one series).
    """
    if len(series) <= 1:
        return 0, None
    sizes = [_yx_pixels(s) for s in series]
    index = max(range(len(sizes)), key=lambda i: (sizes[i], -i))
    shapes = ", ".join("×".join(str(n) for n in s.shape) for s in series)
    return index, (f"{path}: the TIFF holds {len(series)} images ({shapes}); reading "
                   f"image {index + 1}, the largest; the others are not read")


def _tiff_data_error(path: Path, why: Any) -> ImageReadError:
    """The one message of a TIFF whose pixel data cannot be read (one line: ``why``'s
    line breaks made spaces; an exception by :func:`~napari_srmat.errors.exception_reason`,
    its type's name where it has no text)."""
    reason = exception_reason(why) if isinstance(why, BaseException) else one_line(why)
    return ImageReadError(f"{path}: cannot read TIFF pixel data, file truncated or corrupt "
                          f"({reason})")


class _TiffChunks:
    """tifffile's Zarr view of a TIFF level whose read errors are the file's one
    :class:`ImageReadError` (:func:`_tiff_data_error`): a damaged strip or tile read
    by a lazy pass (napari's, ``srmat``'s) raised tifffile's and the codecs' own errors
    (TiffFileError, ImcdError, ValueError), no file named (a traceback in napari),
    until 2026-12-06. An index out of range stays an IndexError (the caller's)."""

    def __init__(self, array: Any, path: Path):
        self._array, self.path = array, path
        self.shape, self.dtype, self.chunks = array.shape, array.dtype, array.chunks
        self.ndim, self.size, self.nchunks = array.ndim, array.size, array.nchunks
        self.nbytes = array.nbytes
        import uuid

        self._token = uuid.uuid4().hex  # one view, one dask name (as a Zarr view's)

    def __dask_tokenize__(self) -> tuple:
        return type(self).__name__, self._token

    def __getitem__(self, index: Any) -> Any:
        try:
            return self._array[index]
        except (IndexError, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001 - tifffile and every codec: many types
            raise _tiff_data_error(self.path, exc) from None


def _check_tiff_data_offsets(series, path: Path) -> None:
    """Refuse a TIFF image (any level) whose first page has pixels but no data offsets.

    A file cut inside its strip or tile offset array loses that tag (tifffile logs it and
    drops it), and its pixels then read as zeros: a truncated download or copy was read
    as a black image of the right size, and ``srmat info --verify`` found every block
    readable.
    """
    for level in series.levels:
        page = level.pages[0] if level.pages else None
        if page is not None and math.prod(page.shape) and not len(page.dataoffsets):
            raise _tiff_data_error(path, "its strip or tile offsets are missing")


#: The most samples per pixel (interleaved: grey + alpha, RGB, RGBA) that
#: :class:`_TiffWindows` reads whole when a window asks for some of them.
_TIFF_SAMPLES_READ_WHOLE = 4


_INDEX_KINDS = ("only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) "
                "and integer or boolean arrays are valid indices")


def _outer_index(index: Any, shape: tuple[int, ...]) -> tuple[tuple, tuple]:
    """Split a numpy ``index`` of an array of ``shape`` into ``(take, then)``: per axis,
    the positions it needs (``take``: a slice of positive step, or a sorted 1-D array of
    unique positions), and the index of that outer window that gives numpy's result
    (``window[then] == full[index]``: each integer stays an integer, each integer
    array an array of the same shape, each slice a full or reversed slice, so numpy
    places and broadcasts them as in ``full[index]``; an Ellipsis stays where it was, as
    it parts the integer arrays around it). The one indexing rule of the lazy readers
    that read a window (:class:`_TiffWindows`, :class:`_InflatedStrip`); an index numpy
    refuses is an IndexError.

    >>> _outer_index((slice(None, None, -2), [4, 1, 4]), (5, 6))
    ((slice(0, 5, 2), array([1, 4])), (slice(None, None, -1), array([1, 0, 1])))
    >>> _outer_index((slice(None), [0, 1], ..., 0), (5, 6, 3))[1]
    (slice(None, None, None), array([0, 1]), Ellipsis, 0)
    >>> a = np.arange(30).reshape(5, 6)
    >>> index = ([4, 2], 1)
    >>> take, then = _outer_index(index, a.shape)
    >>> np.array_equal(a[take[0]][:, take[1]][then], a[index])
    True
    """
    items = [np.asarray(i) if isinstance(i, list | tuple) else i for i in (
        index if isinstance(index, tuple) else (index,))]

    def is_mask(i: Any) -> bool:
        return isinstance(i, np.ndarray) and i.dtype == bool and i.ndim > 0

    def axes_of(i: Any) -> int:  # the axes an item indexes
        if i is None or i is Ellipsis or isinstance(i, bool | np.bool_) or (
                isinstance(i, np.ndarray) and i.dtype == bool and i.ndim == 0):
            return 0
        return i.ndim if is_mask(i) else 1

    if sum(i is Ellipsis for i in items) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = sum(axes_of(i) for i in items)
    if used > len(shape):
        raise IndexError(f"too many indices for array: array is {len(shape)}-dimensional, "
                         f"but {used} were indexed")
    take: list = []
    then: list = []
    late = ""  # an integer array out of bounds: an error unless nothing is picked

    def full(count: int) -> None:  # ``count`` axes taken whole
        take.extend(slice(0, n, 1) for n in shape[len(take):len(take) + count])

    for i in items:
        if i is Ellipsis:  # the Ellipsis stays in ``then`` where it was: it parts the
            # integer arrays around it (even over no axis), as in ``full[index]``
            full(len(shape) - used)
            then.append(Ellipsis)
            continue
        if axes_of(i) == 0:  # None, a boolean scalar: an axis of the result only
            then.append(i)
            continue
        axis, n = len(take), shape[len(take)]
        if isinstance(i, slice):
            r = range(*i.indices(n))
            then.append(slice(None) if r.step > 0 else slice(None, None, -1))
            r = r if r.step > 0 else r[::-1]
            take.append(slice(r.start, r[-1] + 1, r.step) if r else slice(0, 0, 1))
            continue
        if is_mask(i):
            if any(b not in (0, n) for b, n in zip(i.shape, shape[axis:])):  # numpy
                # lets a mask's axis of length 0 stand for any axis (it picks nothing)
                raise IndexError(f"boolean index of shape {i.shape} does not match the "
                                 f"array's axes {tuple(shape[axis:axis + i.ndim])}")
            arrays = np.nonzero(i)
        elif isinstance(i, np.ndarray) and (i.dtype.kind in "iu" or i.size == 0):
            arrays = (i.astype(np.intp),)
        elif isinstance(i, int | np.integer) and not isinstance(i, bool):
            try:
                arrays = (np.asarray(i, np.intp),)
            except OverflowError:  # beyond the index type (2**70): numpy refuses it
                raise IndexError(_INDEX_KINDS) from None
        else:
            raise IndexError(_INDEX_KINDS)
        for a, n in zip(arrays, shape[axis:]):
            if a.size and not (-n <= a.min() and a.max() < n):
                bad = a.min() if a.min() < -n else a.max()
                out_of_bounds = (f"index {bad} is out of bounds for axis {len(take)} with "
                                 f"size {n}")
                if a.ndim == 0:
                    raise IndexError(out_of_bounds)
                a, late = np.zeros(a.shape, np.intp), late or out_of_bounds
                take.append(np.zeros(0, np.intp))  # none read: right if none is picked
                then.append(a)
                continue
            a = np.where(a < 0, a + n, a)
            if a.ndim == 0:  # an integer: a window of one
                take.append(slice(int(a), int(a) + 1, 1))
                then.append(0)
            else:
                take.append(np.unique(a))
                then.append(np.searchsorted(take[-1], a))
    full(len(shape) - len(take))  # the axes after the last item (no Ellipsis)
    if late:  # numpy checks an array's bounds only where the arrays pick any position
        try:
            picked = math.prod(np.broadcast_shapes(*(  # a boolean scalar: 1 or 0 picks
                (int(t),) if np.asarray(t).dtype == bool else np.shape(t) for t in then
                if isinstance(t, np.ndarray | bool | np.bool_))))
        except ValueError as e:
            raise IndexError(f"shape mismatch: {e}") from None
        if picked:
            raise IndexError(late)
    return tuple(take), tuple(then)


def _take_outer(arr: np.ndarray, take: Sequence) -> np.ndarray:
    """``arr`` at the positions ``take`` (slices or 1-D arrays) of its first axes, each
    axis on its own (an outer product: ``arr[take[0]][:, take[1]]...``)."""
    for axis, t in enumerate(take):
        if not (isinstance(t, slice) and t == slice(None)):
            arr = arr[(slice(None),) * axis + (t,)]
    return arr


class _TiffWindows:
    """The pixels of one uncompressed, contiguous TIFF image, read window by window at
    their place in the file; it travels (pickled) as its path and place.

    tifffile's Zarr view of such a file has one chunk: its single strip, which ImageJ
    and Fiji's stitching write for a whole mosaic. Every Dask chunk then decoded the
    whole image (a 64x64 window of an 8192x8192 mosaic read 64 MiB, a full pass was
    quadratic in the area); here a window reads its own bytes only: one read per
    contiguous run (a row of the window, with all its samples). Each read opens the file
    (threads share nothing), and a file cut or rewritten shorter since it was opened is
    an :class:`ImageReadError`, not a crash (a memory map dies of SIGBUS there). Values
    come in native byte order (a big-endian file's, converted per window).
    """

    def __init__(self, path: Path, offset: int, shape: tuple, file_dtype: Any):
        self.path, self.offset = path, int(offset)
        self.shape = tuple(int(n) for n in shape)
        self.file_dtype = np.dtype(file_dtype)
        self.dtype = self.file_dtype.newbyteorder("=")
        self.ndim = len(self.shape)

    @staticmethod
    def layout(tif, level_series) -> tuple | None:
        """``(offset, shape, file dtype)`` of a tifffile series level whose pixels lie
        contiguous and uncompressed (its ``dataoffset``, as ``tifffile.memmap``
        decides), else None (compressed, tiled, strips apart, bits packed, ...)."""
        offset, dtype = level_series.dataoffset, level_series.dtype
        if offset is None or dtype is None:
            return None
        if any(getattr(page, "parent", tif) is not tif for page in level_series.pages
               if page is not None):  # pages in another file of a multi-file OME series
            return None
        return (int(offset), tuple(level_series.shape),
                np.dtype(tif.byteorder + np.dtype(dtype).char))

    @classmethod
    def of(cls, path: Path, layout: tuple | None, like) -> _TiffWindows | None:
        """The windows of a :meth:`layout`, or None without one, where it does not give
        what the image's Zarr view ``like`` gives (shape and type), or where the file is
        shorter than its pixels (truncated: the Zarr view's read error tells it)."""
        if layout is None:
            return None
        offset, shape, file_dtype = layout
        if (shape != tuple(like.shape)
                or file_dtype.newbyteorder("=") != np.dtype(like.dtype).newbyteorder("=")):
            return None
        if os.path.getsize(path) < offset + math.prod(shape) * file_dtype.itemsize:
            return None
        return cls(Path(path).resolve(), offset, shape, file_dtype)  # for any worker

    def __getitem__(self, index) -> np.ndarray:
        """The pixels at ``index``, numpy's result for any numpy index
        (:func:`_outer_index`): reads the window from the first to the last position
        it asks on each axis only (Dask asks ``[..., 0]`` of a grey + alpha file,
        ``[::k]`` for an overview), then picks from it."""
        take, then = _outer_index(index, self.shape)
        lo, size, pick = [], [], []
        for t in take:
            if isinstance(t, slice):
                count = len(range(t.start, t.stop, t.step))
                lo.append(t.start)
                size.append((count - 1) * t.step + 1 if count else 0)
                pick.append(slice(None, None, t.step))
            else:
                lo.append(int(t[0]) if len(t) else 0)
                size.append(int(t[-1]) - lo[-1] + 1 if len(t) else 0)
                pick.append(t - lo[-1])
        if self.ndim and size[-1] < self.shape[-1] <= _TIFF_SAMPLES_READ_WHOLE:
            # part of the samples of interleaved pixels: read them all (one read per
            # row of the window, not one per pixel), then pick
            pick[-1] = take[-1]
            lo[-1], size[-1] = 0, self.shape[-1]
        out = np.empty(size, self.file_dtype)
        if out.size:
            self._read_into(out, lo, size)
        return _take_outer(out, pick)[then].astype(self.dtype, copy=False)

    def _read_into(self, out: np.ndarray, lo: list[int], size: list[int]) -> None:
        """Fill ``out`` (the window at ``lo`` of ``size``) with one read per contiguous
        run: the axes after the last one cut short are read whole with it."""
        import itertools

        item = self.file_dtype.itemsize
        strides = [math.prod(self.shape[i + 1:]) for i in range(self.ndim)]
        k = self.ndim  # the axes k.. are read whole
        while k > 0 and lo[k - 1] == 0 and size[k - 1] == self.shape[k - 1]:
            k -= 1
        run_axis = max(k - 1, 0)
        run = size[run_axis] * strides[run_axis] if self.ndim else 1
        rows = out.reshape(-1, run)
        outer = itertools.product(*(range(lo[i], lo[i] + size[i]) for i in range(run_axis)))
        with open(self.path, "rb") as fh:
            for row, at in zip(rows, outer):
                start = sum(a * st for a, st in zip(at, strides)) + lo[run_axis] * strides[
                    run_axis]
                fh.seek(self.offset + start * item)
                if fh.readinto(memoryview(row).cast("B")) != run * item:
                    raise _tiff_data_error(self.path, "the file is shorter than when it "
                                           "was opened (cut or rewritten since)")

    def __reduce__(self):
        return type(self), (self.path, self.offset, self.shape, self.file_dtype)


#: The most decoded bytes kept for compressed TIFFs read through one strip
#: (:class:`_WholeStrip`, and bands of rows of larger ones), all files together. A
#: compressed image level whose pixels are one strip or tile of tifffile's Zarr view, or
#: one per sample plane (ImageJ and Fiji save a whole mosaic so, deflate or LZW) and
#: whose decoded size is at most this is decoded once, and its pixels kept for its
#: chunks (the least recently read level dropped first; a file's pixels are dropped too
#: when the last lazy image reading it is freed, and all of them by
#: :func:`clear_decoded_strip_cache`). A larger deflate or LZW strip is decoded by each
#: chunk from the nearest resume point to the chunk's last row (:class:`_InflatedStrip`,
#: :class:`_LzwStrip`; planes apart), the band of rows kept here for its other chunks
#: when it is at most a :data:`_BAND_SHARE` th of this (a larger band when it fits
#: beside what is kept, in place of its plane's earlier bands); a larger one of another kind
#: (the floating-point predictor, PackBits, ...) is decoded whole by every chunk that
#: reads it, and the open warns (:func:`_whole_strip_note`): memory stays bounded (one
#: decoded strip per chunk being read) and a full pass is slow (convert it to a tiled
#: TIFF or OME-Zarr). The cap bounds the pixels kept, the bands of rows being decoded
#: and kept pixels dropped while chunks still read them (:meth:`_DecodedStrips.lend`);
#: not, per Dask thread, the chunk it reads, a streamed read's piece
#: (:data:`INFLATE_RESUME_BYTES` decoded at most, an LZW rest taken whole a Dask
#: chunk's bytes, :func:`_lzw_rest_whole`, and its compressed bytes) or a strip
#: decoded whole and not kept, nor the resume points: a threaded pass peaks at the cap
#: plus, per thread, its chunks and a piece (docs/io.md, measured).
DECODED_STRIP_CACHE_BYTES = 1 << 30

#: Decoded bytes between the points a deflate or LZW strip over the cache
#: (:class:`_InflatedStrip`, :class:`_LzwStrip`) is decoded again from: a read passing
#: one keeps the inflater's state there (its 32 KiB window and the compressed bytes
#: read but not used: about 100 KiB, not counted in the cap; 50 of them for a 1.6 GB
#: strip; LZW's: the bit after a Clear code), so a chunk decodes at most this much
#: before its first row.
INFLATE_RESUME_BYTES = 32 << 20
_INFLATE_IN_BYTES = 1 << 16  # compressed bytes read at a time (bounds a resume point)
#: A band of whole rows of a streamed strip (:class:`_InflatedStrip`) read for a chunk is
#: kept for the band's other chunks when it is at most this fraction of the cache (as
#: pixels are kept: the least recently read dropped first); a larger one only when it
#: fits beside what the cache holds, in place of its plane's earlier bands; room for a
#: band is reserved in the cap while it is decoded (:meth:`_DecodedStrips._reserve`).
_BAND_SHARE = 4
_INFLATE_OUT_BYTES = 4 << 20  # decoded bytes inflated at a time (whole rows, at least one)


#: Seconds at most a read waits for another read's decode of the same key before it
#: looks again whether that decode is over (:func:`_wait_turn`); the decode's end wakes
#: it at once: the look again only matters when a Ctrl+C left a turn's lock taken.
_TURN_RECHECK_S = 0.5


class _Turn:
    """A key's turn to decode it (:meth:`_DecodedStrips.get`): ``lock``, taken by the
    read decoding the key until that read is over, and ``over``, set by that read first
    thing in its clean-up (one attribute store, no call a Ctrl+C can stop) before it
    takes its record off and gives ``lock`` back. A read finding a turn ``over`` takes
    the record off, whatever became of its lock (a reader interrupted as it took it
    back, :func:`_wait_turn`)."""

    __slots__ = ("lock", "over")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lock.acquire()  # not seen by any other read until recorded
        self.over = False


def _wait_turn(turn: threading.Lock) -> None:
    """Wait until the read holding ``turn`` (the lock of a key's :class:`_Turn`) gives
    it back, :data:`_TURN_RECHECK_S` at most.

    The lock is taken only to be given back at once: a Ctrl+C between the two leaves it
    taken in this read only. Its decoder's read is over then (the lock is given back
    after its turn is marked ``over``), so the other reads waiting for it look again
    within :data:`_TURN_RECHECK_S` and take the key (until 2026-12-06 reads waited for
    a key's lock in ``with`` blocks, and one interrupted as it took the lock left it
    taken: every later read of the key waited for ever; until 2026-12-07 a read knew a
    turn's record left behind only by getting its lock back, and one interrupted as it
    did, after a Ctrl+C in the decoder's clean-up, left the key waited for for ever).
    """
    if turn.acquire(timeout=_TURN_RECHECK_S):
        turn.release()


class _DecodedStrips:
    """The decoded pixels of :class:`_WholeStrip` levels, at most
    :data:`DECODED_STRIP_CACHE_BYTES` together, the least recently read dropped first,
    and the resume points of :class:`_InflatedStrip` levels. A level is decoded by one
    thread at a time (chunks read together wait for it). A level's entries are dropped
    when the last reader of it (:class:`_OneStrip`) in this process is freed."""

    def __init__(self) -> None:
        from collections import Counter, OrderedDict, deque

        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple, np.ndarray] = OrderedDict()
        # key: the turn of the read decoding it
        self._decoding: dict[tuple, _Turn] = {}
        self._points: dict[tuple, dict[int, tuple]] = {}
        self._users: Counter = Counter()
        self._released: deque = deque()  # readers freed, told when the lock is free
        self.nbytes = 0
        self._rooms: dict[object, int] = {}  # a band's decode's record: its reserved bytes
        # pixels handed out by :meth:`lend` and still read: id -> [pixels, the records
        # of the reads lending them, dropped from the cache]; ``_lent_dropped``: the
        # bytes of those dropped
        self._lent: dict[int, list] = {}
        self._lent_dropped = 0

    @property
    def counted(self) -> int:
        """The bytes counted against :data:`DECODED_STRIP_CACHE_BYTES`: kept pixels,
        bands being decoded, and pixels dropped from the cache while chunks still read
        them (:meth:`lend`)."""
        return self.nbytes + self._reserved + self._lent_dropped

    @property
    def _reserved(self) -> int:
        """The bytes reserved for bands being decoded (:meth:`_reserve`)."""
        return sum(self._rooms.values())

    def _kept_array(self, key: tuple, lend: list | None = None) -> np.ndarray | None:
        """The kept pixels of ``key`` (lent to the read whose record is ``lend``), or
        None; call holding ``self._lock``."""
        self._drop_released()
        if key in self._kept:
            self._kept.move_to_end(key)
            return self._kept[key] if lend is None else self._lend(self._kept[key], lend)
        return None

    def _lend(self, arr: np.ndarray, lent: list) -> np.ndarray:
        """Count the read whose record is ``lent`` (:meth:`lend`) as a reader of ``arr``
        until :meth:`_give_back`; call holding ``self._lock``. ``arr`` goes into the
        record first, and the record among its readers in one step: wherever a
        KeyboardInterrupt stops it, the read's ``finally`` gives back all it counted."""
        lent.append(arr)
        self._lent.setdefault(id(arr), [arr, [], False])[1].append(lent)
        return arr

    def _give_back(self, lent: list) -> None:
        """The read whose record is ``lent`` (:meth:`_lend`) is done with its pixels."""
        with self._lock:
            for arr in lent:
                if (entry := self._lent.get(id(arr))) is None:
                    continue
                for i, reader in enumerate(entry[1]):
                    if reader is lent:
                        del entry[1][i]
                        break
                if not entry[1]:
                    del self._lent[id(arr)]
                    if entry[2]:
                        self._lent_dropped -= arr.nbytes
            lent.clear()

    def _forget(self, arr: np.ndarray) -> None:
        """Take ``arr`` (dropped from the cache) out of the kept bytes; they stay
        counted while it is lent (:meth:`lend`); call holding ``self._lock``."""
        self.nbytes -= arr.nbytes
        if (entry := self._lent.get(id(arr))) is not None and not entry[2]:
            entry[2] = True
            self._lent_dropped += arr.nbytes

    def _drop(self, keys: list) -> None:
        """Drop the entries of ``keys``; call holding ``self._lock``."""
        for old in keys:
            if old in self._kept:
                self._forget(self._kept.pop(old))
            self._points.pop(old, None)

    def _drop_stale(self, key: tuple) -> None:
        """Drop the kept pixels of ``key`` 's file as it was before (another size or
        time of change: rewritten since); call holding ``self._lock``."""
        self._drop([k for k in (*self._kept, *self._points)
                    if k[0] == key[0] and k[-2:] != key[-2:]])

    def _drop_released(self) -> None:
        """Drop the entries of levels whose last reader was freed; call holding
        ``self._lock``."""
        while self._released:
            level = self._released.popleft()
            self._users[level] -= 1
            if self._users[level] <= 0:
                del self._users[level]
                self._drop([k for k in (*self._kept, *self._points) if k[:3] == level])

    def hold(self, level: tuple) -> None:
        """Count a reader of ``level`` (``(path, series, level)``)."""
        with self._lock:
            self._users[level] += 1

    def release(self, level: tuple) -> None:
        """A reader of ``level`` was freed (a finalizer: it may run in a garbage
        collection inside this object's lock, so it only queues it there)."""
        self._released.append(level)
        if self._lock.acquire(blocking=False):
            try:
                self._drop_released()
            finally:
                self._lock.release()

    @contextlib.contextmanager
    def lend(self, key: tuple, decode, *, band: int = 0,
             alone: bool = False) -> Iterator[np.ndarray | None]:
        """:meth:`get` 's pixels of ``key`` for the ``with`` block, their bytes counted
        against :data:`DECODED_STRIP_CACHE_BYTES` until it ends, also when the cache
        drops them meanwhile (before 2026-12-06 a band dropped while chunks still took
        their columns from it was no longer counted: an 8192² deflate strip, cap
        16 MiB, 1024² chunks in 8 threads held three bands of half the cap at once).
        What :meth:`get` counts is recorded as it is counted, inside the ``try``: a
        KeyboardInterrupt between the count and the ``with`` block gives it back too
        (until this, one arriving after :meth:`get` returned and before the ``try``
        left the pixels counted as read for good: never dropped, their bytes taken
        from the cap)."""
        lent: list = []
        try:
            yield self.get(key, decode, band=band, alone=alone, lend=lent)
        finally:
            self._give_back(lent)

    def get(self, key: tuple, decode, *, band: int = 0,
            alone: bool = False, lend: list | None = None) -> np.ndarray | None:
        """The pixels of ``key`` (``(path, series, level, size, time of change)``), kept
        or ``decode()`` d (and kept when they fit; the file's older pixels dropped); one
        decode of ``key`` at a time (the others wait for it, :func:`_wait_turn`). The
        read that decodes takes the key's turn (:class:`_Turn`, its lock taken before
        any other read sees it) and records it in one step inside the ``try`` whose
        ``finally`` gives it back, with no call in between: wherever a KeyboardInterrupt
        stops a read, no turn stays taken.

        ``band``: the bytes of a band of rows (:meth:`_InflatedStrip._band_rows`), room
        for which is reserved in the cap before it is decoded (:meth:`_reserve`), so
        that what is kept and what is being decoded stay within
        :data:`DECODED_STRIP_CACHE_BYTES` together; None (nothing decoded) when there is
        no room. ``alone``: a band over a :data:`_BAND_SHARE` th of the cache, kept in
        place of its plane's other bands and only beside what the cache holds (nothing
        else dropped for it). ``lend``: the record of a read counting them as read
        until :meth:`_give_back` (:meth:`lend`).

        The turn is marked over first and its lock given back last, whether or not its
        record can be taken off: a Ctrl+C as the ``finally`` takes the cache's lock
        (held by another thread) left both until 2026-12-06, and every later read of the
        key waited for ever. A read that finds the record of a turn marked over takes it
        off and decodes the key itself, also when a Ctrl+C left the turn's lock taken by
        a read waiting for it (until 2026-12-07 a read knew such a record only by getting
        the lock back: the second Ctrl+C left the key waited for for ever)."""
        mine = None  # the key's turn, once this read holds it
        try:
            while True:
                with self._lock:
                    if (arr := self._kept_array(key, lend)) is not None:
                        return arr
                    turn = self._decoding.get(key)
                    if turn is not None and turn.over:
                        del self._decoding[key]  # its decoder could not take it off
                        turn = None
                    if turn is None:
                        self._drop_stale(key)
                        mine = self._decoding[key] = _Turn()  # the key's turn, one step
                        break
                _wait_turn(turn.lock)
            return self._decode_once(key, decode, band, alone, lend)
        finally:  # the turn goes back wherever an exception stopped the read, also
            if mine is not None:  # when one stops the take of the cache's lock
                mine.over = True  # first: the record may go from now on
                try:
                    with self._lock:
                        if self._decoding.get(key) is mine:
                            del self._decoding[key]
                finally:
                    mine.lock.release()  # the reads waiting for it go on

    def _decode_once(self, key: tuple, decode, band: int, alone: bool,
                     lend: list | None) -> np.ndarray | None:
        """:meth:`get` 's decode of ``key``, the read holding the key's turn. The
        band's room is taken (:meth:`_reserve`) inside the ``try`` whose ``finally``
        gives it back, recorded in one step: wherever an exception (a decode's error, a
        KeyboardInterrupt) stops it, nothing stays reserved and the next read decodes
        again (until 2026-12-06 a KeyboardInterrupt after :meth:`_reserve` returned and
        before the ``try``, or after ``decode()`` returned and before the room was given
        back, left the band's bytes reserved for good: 600 of a 1000-byte cap)."""
        room = object()  # this decode's record of its reserved room
        try:
            if band and not self._reserve(key, band, alone, room):
                return None
            arr = decode()
            with self._lock:  # the pixels' bytes are counted in the room's place
                self._rooms.pop(room, None)
                self._drop_stale(key)
                if lend is not None:
                    self._lend(arr, lend)
                cap = DECODED_STRIP_CACHE_BYTES - self._reserved - self._lent_dropped
                if alone:
                    self._drop(self._plane_bands(key))
                    if self.nbytes + arr.nbytes <= cap:
                        self._keep(key, arr)
                elif self._read_bytes() + arr.nbytes <= DECODED_STRIP_CACHE_BYTES:
                    self._drop_unread(arr.nbytes)  # bands in flight: after them, if
                    self._keep(key, arr)  # so; not beside pixels being read over
                    # the cap (kept beside them before 2026-12-06: 1.2x the cap kept
                    # at rest); nothing dropped when it cannot fit beside them
                    # (before: unread pixels dropped for it, and it was not kept)
        finally:  # the room goes back wherever an exception stopped the decode
            with self._lock:
                self._rooms.pop(room, None)
        return arr

    def _keep(self, key: tuple, arr: np.ndarray) -> None:
        """Keep ``arr`` as ``key`` 's pixels; call holding ``self._lock``."""
        self._kept[key] = arr
        self.nbytes += arr.nbytes

    def _reserve(self, key: tuple, nbytes: int, alone: bool, room: object) -> bool:
        """Reserve ``nbytes`` of the cap for band ``key`` being decoded, as the room of
        the decode whose record is ``room`` (given back by :meth:`_decode_once`): when
        what is kept, the bands being decoded and it fit :data:`DECODED_STRIP_CACHE_BYTES`, the
        plane's other kept bands dropped for it (Dask has read their chunks: it reads a
        band's chunks one after another) and, unless ``alone``, the least recently read
        pixels. Before 2026-12-06 the room was looked at but not taken: every thread of
        a threaded pass decoded a large band at once (a 2048² LZW strip, cap just under
        it, 8 threads: 3.5-5.8x the cap at its peak)."""
        cap = DECODED_STRIP_CACHE_BYTES
        with self._lock:
            if self._reserved + self._lent_dropped + nbytes > cap:
                return False
            if alone:
                bands = [k for k in self._plane_bands(key)  # those read now stay counted
                         if id(self._kept[k]) not in self._lent]
                others = sum(self._kept[k].nbytes for k in bands)
                if self.counted - others + nbytes > cap:
                    return False
                self._drop(bands)
            if not self._make_room(nbytes):  # pixels being read are not dropped for it
                return False
            self._rooms[room] = nbytes  # recorded and counted in one step
            return True

    def _make_room(self, nbytes: int) -> bool:
        """Drop the least recently read pixels not being read (:meth:`lend`) until
        ``nbytes`` more fit beside what is counted (:attr:`counted`) within
        :data:`DECODED_STRIP_CACHE_BYTES`, or none are left; whether they fit now. Call
        holding ``self._lock``."""
        if self._read_bytes() + self._reserved + nbytes > DECODED_STRIP_CACHE_BYTES:
            return False  # no room even with all of them dropped: none dropped
        self._drop_unread(nbytes)
        return True

    def _read_bytes(self) -> int:
        """The bytes of the pixels being read (:meth:`lend`), kept or dropped: those
        that dropping all others (:meth:`_drop_unread`) leaves counted, bands being
        decoded aside; call holding ``self._lock``."""
        return self._lent_dropped + sum(
            a.nbytes for a in self._kept.values() if id(a) in self._lent)

    def _drop_unread(self, nbytes: int) -> None:
        """Drop the least recently read pixels not being read (:meth:`lend`) until
        ``nbytes`` more fit beside what is counted (:attr:`counted`) within
        :data:`DECODED_STRIP_CACHE_BYTES`, or none are left; callers first check that
        ``nbytes`` fit beside :meth:`_read_bytes` (else nothing is dropped for them);
        call holding ``self._lock``."""
        for old in [k for k, a in self._kept.items() if id(a) not in self._lent]:
            if self.counted + nbytes <= DECODED_STRIP_CACHE_BYTES:
                break
            self._forget(self._kept.pop(old))

    def _plane_bands(self, key: tuple) -> list:
        """The keys of the kept bands of rows of ``key`` 's level and plane (``key``
        too: ``(path, series, level, ("rows", plane, first, stop), ...)``); call
        holding ``self._lock``."""
        return [k for k in self._kept if k[:3] == key[:3]
                and isinstance(k[3], tuple) and k[3][:2] == key[3][:2]]

    def resume_point(self, key: tuple, before: int) -> tuple[int, tuple] | None:
        """The last resume point of ``key`` at or before decoded byte ``before``:
        ``(decoded bytes, (compressed position, unread input, inflater))``, the inflater
        a copy to go on with; None without one."""
        with self._lock:
            self._drop_released()
            self._drop_stale(key)
            points = self._points.get(key, {})
            at = max((p for p in points if p <= before), default=None)
            if at is None:
                return None
            pos, tail, inflater = points[at]
            return at, (pos, tail, inflater if inflater is None else inflater.copy())

    def next_point(self, key: tuple, after: int) -> tuple[int, int] | None:
        """The first resume point of ``key`` past decoded byte ``after`` as an LZW
        strip keeps it: ``(decoded bytes, bit position)``; None without one."""
        with self._lock:
            points = self._points.get(key, {})
            at = min((p for p in points if p > after), default=None)
            return None if at is None else (at, points[at][0])

    def keep_point(self, key: tuple, at: int, point: tuple) -> None:
        """Keep ``point`` (as :meth:`resume_point` gives it; the inflater copied) at
        decoded byte ``at`` of ``key`` (an LZW strip's point: its bit position, no
        inflater)."""
        pos, tail, inflater = point
        with self._lock:
            self._points.setdefault(key, {}).setdefault(
                at, (pos, bytes(tail), inflater if inflater is None else inflater.copy()))

    def clear(self) -> None:
        with self._lock:
            self._drop(list(self._kept))
            self._points.clear()


_DECODED_STRIPS = _DecodedStrips()


def clear_decoded_strip_cache() -> None:
    """Free the decoded pixels kept for compressed one-strip TIFFs (ImageJ and Fiji
    mosaics: up to :data:`DECODED_STRIP_CACHE_BYTES`, 1 GiB, all files together) and the
    resume points of larger deflate strips.

    A file's entries go by themselves when the last lazy image reading it is freed (its
    layer removed, its :class:`Micrograph` dropped); this frees them while images still
    read them (they decode again at their next read).
    """
    _DECODED_STRIPS.clear()


class _OneStrip:
    """A level of a TIFF whose pixels are one compressed strip, read through
    :data:`_DECODED_STRIPS` (a reader counted there while it lives); it travels
    (pickled) as its path and place."""

    def __init__(self, path: Path, series: int, level: int, shape: tuple, dtype: Any,
                 *place: Any):
        self.path, self.series, self.level = Path(path), int(series), int(level)
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype).newbyteorder("=")
        self.ndim = len(self.shape)
        self._place = place
        import weakref

        name = (str(self.path), self.series, self.level)
        _DECODED_STRIPS.hold(name)
        weakref.finalize(self, _DECODED_STRIPS.release, name)

    def _key(self) -> tuple:
        """The cache key of the level as the file is now (its size, time of change)."""
        try:
            stat = os.stat(self.path)
        except OSError as exc:
            raise _tiff_data_error(self.path, exc.strerror or exc) from None
        return (str(self.path), self.series, self.level, stat.st_size, stat.st_mtime_ns)

    def __reduce__(self):
        return type(self), (self.path, self.series, self.level, self.shape, self.dtype,
                            *self._place)


class _WholeStrip(_OneStrip):
    """One level of a compressed TIFF whose pixels are one strip (or tile) of tifffile's
    Zarr view, read through :data:`_DECODED_STRIPS`: decoded once for all its chunks
    (a full pass of a 12000x12000 deflate mosaic decoded it 37 times, 21 s), again
    only when dropped from the cache or when the file changed (its size or time of
    change). Opens the file per decode and closes it."""

    @classmethod
    def of(cls, path: Path, series: int, level: int, like, chunks) -> _WholeStrip | None:
        """The level read through the cache when the Zarr view ``like`` has one chunk
        (or one per sample plane: samples stored planar, each plane one strip, which
        every Dask chunk decoded all of) that several Dask ``chunks`` would each decode,
        and it fits the cache; else None."""
        planes = (like.ndim == 3 and like.shape[0] <= _TIFF_SAMPLES_READ_WHOLE
                  and tuple(like.chunks) == (1, *like.shape[1:]))
        if (like.nchunks != 1 and not planes) or like.nbytes > DECODED_STRIP_CACHE_BYTES:
            return None
        cy, cx = _spatial_chunks(chunks)
        if math.prod(like.shape) <= cy * cx:  # one Dask chunk at most: nothing to share
            return None
        return cls(Path(path).resolve(), series, level, like.shape, like.dtype)

    def _decode(self) -> np.ndarray:
        import tifffile

        try:
            with tifffile.TiffFile(self.path) as tif:
                _check_lzw_decodes(tif.series[self.series].levels[self.level], self.path)
                arr = tif.asarray(series=self.series, level=self.level)
        except ImageReadError:
            raise
        except Exception as exc:  # noqa: BLE001 - codecs raise many types
            raise _tiff_data_error(self.path, exc) from None
        if tuple(arr.shape) != self.shape:
            raise _tiff_data_error(self.path, "the file changed since it was opened")
        return arr.astype(self.dtype, copy=False)

    def __getitem__(self, index) -> np.ndarray:
        with _DECODED_STRIPS.lend(self._key(), self._decode) as arr:
            return np.array(arr[index])  # a copy: the kept pixels are shared by every chunk


#: TIFF compression codes of a zlib (deflate) stream: Adobe deflate and the old code.
_DEFLATE_CODES = (8, 32946)


class _InflatedStrip(_OneStrip):
    """One level of a TIFF stored as one deflate strip larger than the decoded-strip
    cache (a stitched mosaic over :data:`DECODED_STRIP_CACHE_BYTES`), read row by row as
    the strip inflates: a read inflates from the last resume point before its first row
    (:data:`INFLATE_RESUME_BYTES` apart, kept as reads pass them) to its last row, keeps
    the rows (and columns, samples) it asks for and drops the others as they stream.
    Memory: the window read and :data:`_INFLATE_OUT_BYTES` of rows. Before, every chunk
    decoded the whole strip into memory (a full pass: chunks x strip). Opens the file per
    read; a file changed since it was opened is an :class:`ImageReadError`.

    ``place``: ``(offsets, byte counts, file dtype, predictor, (rows, columns, samples),
    (size, time of change) of the file, bytes of a Dask chunk)`` of the strip
    (:meth:`layout`, the file as opened; one offset and count, or one per sample plane:
    samples planar, each plane a strip of its own, streamed alone; the chunk's bytes:
    what a chunk read holds anyway); its rows are ``shape[-2:]`` or ``shape[-3:]``
    (samples interleaved, or planar: ``(samples, rows, columns)``) after axes of one."""

    _CODES: tuple[int, ...] = _DEFLATE_CODES  # the TIFF compressions read so

    @classmethod
    def layout(cls, level_series) -> tuple | None:
        """The place of a tifffile series level stored as one deflate strip of whole
        bytes per sample (one page, samples interleaved, or planar with one strip per
        plane; no predictor or the horizontal one of integers), else None."""
        pages = level_series.pages
        page = pages[0] if len(pages) == 1 else None
        if page is None or getattr(page, "is_tiled", True):
            return None
        dtype, spp = getattr(page, "dtype", None), int(page.samplesperpixel)
        planes = spp if spp > 1 and int(page.planarconfig) != 1 else 1
        if (int(page.compression) not in cls._CODES or dtype is None
                or len(page.dataoffsets) != planes
                or int(page.fillorder) != 1 or int(page.bitspersample) != 8 * dtype.itemsize
                or int(page.predictor) not in (1, 2)
                or (int(page.predictor) == 2 and dtype.kind not in "iu")
                or int(page.rowsperstrip) < int(page.imagelength)):
            return None
        return (tuple(int(n) for n in page.dataoffsets),
                tuple(int(n) for n in page.databytecounts),
                page.parent.byteorder + dtype.char, int(page.predictor),
                (int(page.imagelength), int(page.imagewidth), spp))

    @classmethod
    def of(cls, path: Path, series: int, level: int, layout: tuple | None, like,
           chunks: Any = None) -> _InflatedStrip | None:
        """The level read so when it has a :meth:`layout` whose rows are those of the
        Zarr view ``like`` and whose bytes the file holds (a cut one: the view tells
        it), else None; ``chunks``: the Dask chunks it is read by (as
        :func:`_spatial_chunks` takes them)."""
        if layout is None:
            return None
        offsets, counts, file_dtype, predictor, (h, w, spp) = layout
        rows = (h, w) if spp == 1 else (spp, h, w) if len(offsets) > 1 else (h, w, spp)
        lead = tuple(like.shape)[:like.ndim - len(rows)]
        if (tuple(like.shape)[len(lead):] != rows or any(n != 1 for n in lead)
                or np.dtype(file_dtype).newbyteorder("=") != np.dtype(like.dtype)
                .newbyteorder("=")):
            return None
        stat = os.stat(path)
        if stat.st_size < max(o + c for o, c in zip(offsets, counts)):
            return None
        cy, cx = _spatial_chunks(chunks)
        chunk_bytes = min(cy, h) * min(cx, w) * spp * np.dtype(like.dtype).itemsize
        return cls(Path(path).resolve(), series, level, like.shape, like.dtype, offsets,
                   counts, file_dtype, predictor, (h, w, spp),
                   (stat.st_size, stat.st_mtime_ns), chunk_bytes)

    @staticmethod
    def _read_input(fh, size: int) -> bytes:
        """The next ``size`` compressed bytes of ``fh`` (counted by the tests)."""
        return fh.read(size)

    @staticmethod
    def _read_input_into(fh, buf: memoryview) -> int:
        """Read the next compressed bytes of ``fh`` into ``buf``, as many as it holds
        (fewer at the file's end); how many were read (counted by the tests)."""
        return fh.readinto(buf)

    def __getitem__(self, index) -> np.ndarray:
        """The pixels at ``index``, numpy's result for any numpy index
        (:func:`_outer_index`): only the rows it asks are kept as the strip inflates, up
        to the last of them, each at the columns and samples it asks (all the positions
        an axis asks, with those of the others: for integer arrays on several axes,
        more than the result holds)."""
        take, then = _outer_index(index, self.shape)
        planar = len(self._place[0]) > 1
        y = self.ndim - (2 if self._place[4][2] == 1 or planar else 3)  # the rows' axis
        size = tuple(len(range(n)[t]) if isinstance(t, slice) else len(t)
                     for t, n in zip(take, self.shape))
        first = y - planar  # the planes' axis, or the rows'
        out = np.empty(size[first:], self.dtype)
        if math.prod(size):
            rows = np.arange(self.shape[y])[take[y]]
            if planar:
                for k, plane in enumerate(np.arange(self.shape[first])[take[first]]):
                    self._band_rows(rows, out[k], take[y + 1:], int(plane))
            else:
                self._band_rows(rows, out, take[y + 1:])
        return _take_outer(out.reshape((1,) * first + out.shape), take[:first])[then]

    def _band_rows(self, rows: np.ndarray, out: np.ndarray, within: tuple,
                   plane: int = 0) -> None:
        """Fill ``out`` as :meth:`_inflate_rows` does, through the band of whole rows
        from the first of ``rows`` to the last, kept in :data:`_DECODED_STRIPS` for the
        other chunks of that band (Dask reads a band's chunks one after another: a full
        pass then decodes the strip about once, not once per column of chunks) when
        ``rows`` are a run of several rows (a Dask chunk's) and their band is at most
        a :data:`_BAND_SHARE` th of the cache, or fits beside what it holds in place of
        the plane's earlier bands (before 2026-12-06 a larger band was decoded by each
        chunk of it: a pass of 16 chunks of a 4096² LZW strip, bands a quarter of it,
        decoded it 4 times); else the rows alone."""
        _, _, _, _, (h, w, spp), _, _ = self._place
        row = (w,) if spp == 1 or len(self._place[0]) > 1 else (w, spp)
        lo, hi = int(rows[0]), int(rows[-1]) + 1
        if len(rows) < 2 or hi - lo != len(rows):  # one row (a probe), or rows apart
            self._inflate_rows(rows, out, within, plane)
            return
        key = self._key()
        nbytes = (hi - lo) * math.prod(row) * self.dtype.itemsize

        def decode() -> np.ndarray:
            band = np.empty((hi - lo, *row), self.dtype)
            self._inflate_rows(rows, band, (slice(None),) * len(row), plane)
            return band

        with _DECODED_STRIPS.lend((*key[:3], ("rows", plane, lo, hi), *key[3:]), decode,
                                  band=nbytes, alone=nbytes > DECODED_STRIP_CACHE_BYTES
                                  // _BAND_SHARE) as band:
            if band is not None:  # the band is the rows: no copy of it (a copy per
                out[...] = _take_outer(band, (slice(None), *within))  # chunk before
                return  # 2026-12-06)
        self._inflate_rows(rows, out, within, plane)  # no room in the cache: its own rows

    def _strip(self, plane: int) -> tuple[int, int, int, tuple]:
        """``(offset, byte count, samples per row, cache key)`` of the strip of
        ``plane`` (0 unless samples are planar); the file checked unchanged."""
        offsets, counts, _, _, (_, _, spp), opened, _ = self._place
        key = self._key()
        if key[-2:] != tuple(opened):
            raise _tiff_data_error(self.path, "the file changed since it was opened")
        planar = len(offsets) > 1
        return (offsets[plane], counts[plane], 1 if planar else spp,
                (*key[:3], plane, *key[3:]) if planar else key)

    def _keep_rows(self, held: bytes, done: int, decoded: bytes, row_shape: tuple,
                   wanted: np.ndarray, out: np.ndarray, within: tuple, n_out: int
                   ) -> tuple[bytes, int]:
        """Put the rows ``wanted`` (of ``row_shape``: columns, samples) that
        ``decoded`` (the strip's bytes from ``done`` on) completes into ``out`` from its
        row ``n_out`` on; ``held``: the decoded bytes of the row ``done`` falls in,
        before ``done``. Returns the new ``held`` and ``n_out``. ``held`` is joined to
        the bytes that complete its row only (before 2026-12-06 to all of ``decoded``:
        a copy of a whole piece, up to a band of rows, per piece)."""
        row = math.prod(row_shape) * np.dtype(self._place[2]).itemsize
        if held and len(decoded) > (ends_row := -done % row):
            held, n_out = self._put_rows(held, done, decoded[:ends_row], row_shape,
                                         wanted, out, within, n_out)
            done, decoded = done + ends_row, memoryview(decoded)[ends_row:]
        return self._put_rows(held, done, decoded, row_shape, wanted, out, within, n_out)

    def _put_rows(self, held: bytes, done: int, decoded: bytes | memoryview,
                  row_shape: tuple, wanted: np.ndarray, out: np.ndarray, within: tuple,
                  n_out: int) -> tuple[bytes, int]:
        """:meth:`_keep_rows`, ``held + decoded`` joined."""
        file_dtype, predictor = np.dtype(self._place[2]), self._place[3]
        w, spp = row_shape
        row = w * spp * file_dtype.itemsize
        start = done - len(held)  # where held + decoded starts: a row's start, or a
        lead = -start % row  # resume point inside a row (its head not kept: dropped)
        data = memoryview(held + decoded if held else decoded)[lead:]
        first, n = (start + lead) // row, len(data) // row
        take = wanted[(wanted >= first) & (wanted < first + n)]
        if len(take):
            block = np.frombuffer(data, file_dtype, n * row // file_dtype.itemsize).reshape(
                (n, w) if spp == 1 else (n, w, spp))
            if predictor == 2:  # horizontal differencing, per row and sample
                block = np.cumsum(block[take[0] - first:take[-1] - first + 1], axis=1,
                                  dtype=self.dtype)
                take_in = take - take[0]
            else:
                take_in = take - first
            if take_in[-1] - take_in[0] + 1 == len(take_in):  # a run of rows: a view
                take_in = slice(int(take_in[0]), int(take_in[-1]) + 1)
            out[n_out:n_out + len(take)] = _take_outer(block[take_in], (slice(None), *within))
            n_out += len(take)
        return bytes(data[n * row:]), n_out

    def _inflate_rows(self, wanted: np.ndarray, out: np.ndarray, within: tuple,
                      plane: int = 0) -> None:
        """Fill ``out`` with the rows ``wanted`` (sorted, unique) of ``plane`` (samples
        planar; else 0), each at ``within`` (the columns and samples to keep: slices or
        sorted arrays, as :func:`_outer_index` gives them), inflating the strip from the
        last resume point before the first: a chunk's own rows and a band of rows
        decoded once for its chunks and kept (:meth:`_band_rows`) alike."""
        import zlib

        _, _, file_dtype, _, (_, w, _), _, _ = self._place
        offset, count, spp, key = self._strip(plane)
        file_dtype = np.dtype(file_dtype)
        row = w * spp * file_dtype.itemsize
        step = max(1, INFLATE_RESUME_BYTES // row) * row  # resume points: whole rows
        stop = (int(wanted[-1]) + 1) * row
        piece = max(1, _INFLATE_OUT_BYTES // row) * row
        found = _DECODED_STRIPS.resume_point(key, int(wanted[0]) * row)
        done, (pos, tail, inflater) = found or (0, (offset, b"", zlib.decompressobj()))
        end, n_out = offset + count, 0
        try:
            with open(self.path, "rb") as fh:
                while done < stop:
                    want = min(piece, stop - done, step - done % step)
                    buf = bytearray()
                    while len(buf) < want:
                        if not tail:
                            fh.seek(pos)
                            tail = self._read_input(fh, min(_INFLATE_IN_BYTES, end - pos))
                            if not tail:
                                raise ValueError("the strip ends before its pixels do")
                            pos += len(tail)
                        buf += inflater.decompress(tail, want - len(buf))
                        tail = inflater.unconsumed_tail
                        if inflater.eof and len(buf) < want:
                            raise ValueError("the deflate stream ends before its pixels")
                    _, n_out = self._keep_rows(b"", done, buf, (w, spp), wanted, out,
                                               within, n_out)  # whole rows: none held
                    done += want
                    if done % step == 0:
                        _DECODED_STRIPS.keep_point(key, done, (pos, tail, inflater))
        except OSError as exc:
            raise _tiff_data_error(self.path, exc.strerror or exc) from None
        except (ValueError, zlib.error) as exc:
            raise _tiff_data_error(self.path, exc) from None


#: TIFF compression code of LZW, and its Clear and end-of-information codes.
_LZW_COMPRESSION = 5
_LZW_CLEAR, _LZW_EOI = 256, 257
#: Bit widths of the codes after a Clear code, as TIFF's LZW grows them ("early change":
#: 9 bits up to table size 510, then 10, 11, 12); the table is full (4096 entries) after
#: the last, which must be a Clear.
_LZW_WIDTHS = np.array([9 if n < 511 else 10 if n < 1023 else 11 if n < 2047 else 12
                        for n in range(257, 4097)], np.int64)
_LZW_STARTS = np.concatenate([[0], np.cumsum(_LZW_WIDTHS)[:-1]])  # bit offsets
_LZW_SEGMENT_BYTES = int(_LZW_WIDTHS.sum()) // 8 + 2  # the most a segment spans
_LZW_FRESH_WIDTH = int(_LZW_WIDTHS[0])  # a code's width after a Clear code
_LZW_MOST_SEGMENTS = 4096  # decoded together at most (about 22 MiB compressed)
# per bit phase of a segment's start (0-7): each code's byte (from the start's byte),
# its right shift in the 24-bit big-endian word there, and the bit after it
# (32-bit: the scan's arrays stay small)
_LZW_AT = np.array([(p + _LZW_STARTS) >> 3 for p in range(8)], np.int32)
_LZW_SHIFT = np.array([24 - ((p + _LZW_STARTS) & 7) - _LZW_WIDTHS for p in range(8)],
                      np.int32)
_LZW_END = np.array([p + _LZW_STARTS + _LZW_WIDTHS for p in range(8)])
_LZW_MASK = ((1 << _LZW_WIDTHS) - 1).astype(np.int32)


#: The first code after a Clear code (or at a stream's start) must be one the fresh table
#: holds: a byte (below 256), or a Clear or end code. One of 258 or more names an entry not
#: made yet, which imagecodecs' LZW decoder (2026.3.6) then reads from whatever memory its
#: table held: a corrupt strip's stray pointer, the process killed by a segmentation fault
#: (a napari session closed, unsaved work lost) or garbage pixels. :func:`_lzw_check` and
#: the scan of :func:`_lzw_segment_ends` refuse such a stream before it is decoded.
_LZW_FIRST_ENTRY = 258
_LZW_UNDEFINED_AFTER_CLEAR = ("an LZW code right after a Clear code names a table entry "
                              "not made yet")
#: Zero bytes after a stream's bytes that a window of its codes may take
#: (:func:`_lzw_window`): a code's 24-bit word may start in its last byte.
_LZW_PAD_BYTES = 2


def _lzw_window(raw: np.ndarray, base: int, span: int) -> np.ndarray:
    """``raw[base:base + span]`` (``raw``: an LZW stream's bytes), with zero bytes for
    those past the stream's end, :data:`_LZW_PAD_BYTES` at most: the one rule of the
    codes' reads (:func:`_lzw_segment_ends`, :func:`_lzw_codes_at`) at a stream's end.
    A view of the stream's bytes, or a copy of the window alone where it runs past
    them (the check and the scan copied the whole stream, padded, until 2026-12-07:
    the check of an unscanned LZW piece held its compressed bytes twice)."""
    n = len(raw)
    want = min(span, n + _LZW_PAD_BYTES - base)
    if base + want <= n:
        return raw[base:base + want]
    window = np.zeros(want, np.uint8)
    window[:n - base] = raw[base:]
    return window


def _lzw_segment_ends(data: bytes | bytearray | np.ndarray, start: int,
                      most: int) -> tuple[list, bool]:
    """The Clear or end-of-information codes closing up to ``most`` segments of an LZW
    stream from bit ``start`` of ``data`` (its bytes, as bytes or a uint8 array, read
    where they are: :func:`_lzw_window`), a fresh code table there:
    ``[(bit position, width, is the end), ...]``, and whether the scan found a segment
    of no end code where the stream holds all of it (not an LZW stream the way TIFF
    writers write it: its codes cannot be split without decoding them). Raises
    ValueError for a segment whose first code the table does not hold yet
    (:data:`_LZW_FIRST_ENTRY`)."""
    raw = np.frombuffer(data, np.uint8)  # its bytes, whatever holds them: no copy
    nbits = len(raw) * 8
    ends: list = []
    first = _LZW_SCAN_FIRST_CODES  # codes read first of the scan's first segment
    while len(ends) < most:
        base, phase = start >> 3, start & 7
        n = int(np.searchsorted(_LZW_END[phase], nbits - 8 * base, "right"))
        if not n:
            return ends, False
        codes = _lzw_segment_codes(_lzw_window(raw, base, _LZW_SPAN[first]), phase,
                                   min(n, first))
        if codes[0] >= _LZW_FIRST_ENTRY:
            raise ValueError(_LZW_UNDEFINED_AFTER_CLEAR)
        hit = (codes | 1) == _LZW_EOI
        i = int(hit.argmax())
        if not hit[i] and len(codes) < n:  # no Clear among the first: all of them
            codes = _lzw_segment_codes(_lzw_window(raw, base, _LZW_SEGMENT_BYTES + 2),
                                       phase, n)
            hit = (codes | 1) == _LZW_EOI
            i = int(hit.argmax())
        if not hit[i]:
            return ends, n == len(_LZW_WIDTHS)
        ends.append((start + int(_LZW_STARTS[i]), int(_LZW_WIDTHS[i]),
                     int(codes[i]) == _LZW_EOI))
        if ends[-1][2]:
            break
        start = ends[-1][0] + ends[-1][1]
        first = _LZW_SCAN_FIRST_CODES if i < _LZW_SCAN_FIRST_CODES else len(_LZW_WIDTHS)
    return ends, False


#: Codes a scan (:func:`_lzw_segment_ends`) reads first of a segment that follows a
#: shorter one (or starts the scan): a Clear or end code among them closes it, else all
#: the codes a segment may hold are read. Every segment's were read at once until
#: 2026-12-06: a crafted stream alternating 3- and 300-code segments read 3839 codes a
#: segment (its check 43-54x its decode, now about 0.7 of that time: measured apart,
#: 2 shared CPUs); segments as TIFF writers write them (a Clear when the table is
#: full, 3839 codes) are read whole after a scan's first.
_LZW_SCAN_FIRST_CODES = 512
#: Bytes of a stream's window (:func:`_lzw_window`) from a segment's first byte that hold
#: its first :data:`_LZW_SCAN_FIRST_CODES` codes, or all a segment may hold, at any
#: phase (the bytes of its last code's 24-bit word included).
_LZW_SPAN = {_LZW_SCAN_FIRST_CODES: int(_LZW_AT[:, _LZW_SCAN_FIRST_CODES - 1].max()) + 3,
             len(_LZW_WIDTHS): _LZW_SEGMENT_BYTES + 2}


def _lzw_segment_codes(raw: np.ndarray, phase: int, n: int) -> np.ndarray:
    """The first ``n`` codes (widths :data:`_LZW_WIDTHS`: a fresh table) of a segment
    whose first code starts at bit ``phase`` of ``raw`` (:func:`_lzw_window` from the
    segment's first byte, the bytes of its ``n`` codes' 24-bit words at least:
    :data:`_LZW_SPAN`)."""
    b = raw.astype(np.int32)
    words = b[:-2] << 16  # the 24 bits from each byte of the codes on
    words |= b[1:-1] << 8
    words |= b[2:]
    codes = words[_LZW_AT[phase, :n]]
    codes >>= _LZW_SHIFT[phase, :n]
    codes &= _LZW_MASK[:n]
    return codes


#: Codes the codec reads past a segment of :data:`_LZW_WIDTHS` codes with no Clear code
#: (12 bits each, its table growing to 5120 entries, then refused): a Clear code among
#: them starts a segment the codec decodes, checked as any (:func:`_lzw_check`).
_LZW_PAST_FULL_CODES = 5120 - 4096
#: A segment of fewer codes than this is all 9-bit codes (the table short of 511
#: entries): a run of them is checked at once (:func:`_lzw_short_segments`), not one
#: scan per segment (a stream clearing every few codes took seconds so).
_LZW_NINE_BIT_CODES = int((_LZW_WIDTHS == _LZW_FRESH_WIDTH).sum())
_LZW_SHORT_RUN_CODES = (1 << 9, 1 << 16)  # 9-bit codes read at once: first, at most


def _lzw_codes_at(raw: np.ndarray, at: np.ndarray, width: int) -> np.ndarray:
    """The ``width``-bit codes (at most 17 bits, most significant bit first) at bit
    positions ``at`` of ``raw`` (an LZW stream's bytes; their words past its end read
    from a :func:`_lzw_window` of the positions' bytes).

    Precondition: ``at`` is sorted ascending (every caller's is a start plus a width
    times ``np.arange``), so its ends are its least and greatest (a scan of it for
    its min and max until 2026-12-07; a check of the order would cost that scan)."""
    b = at >> 3
    if b.size and int(b[-1]) + 3 > len(raw):  # the last words take bytes past the end
        first = int(b[0])
        raw, b = _lzw_window(raw, first, int(b[-1]) + 3 - first), b - first
    words = (raw[b].astype(np.int32) << 16) | (raw[b + 1].astype(np.int32) << 8) | raw[b + 2]
    return (words >> (24 - width - (at & 7))) & ((1 << width) - 1)


def _lzw_short_segments(raw: np.ndarray, start: int) -> tuple[int, bool]:
    """Check the segments of 9-bit codes only (shorter than
    :data:`_LZW_NINE_BIT_CODES`) of an LZW stream from bit ``start`` of ``raw``
    (an LZW stream's bytes; a fresh table there), their codes read in runs
    (:data:`_LZW_SHORT_RUN_CODES`: a short first one, a stream of long segments pays
    little; doubled while all are short).
    Returns the bit where the first longer segment starts, and whether the stream's
    end (its end code, or its last whole code) was reached. Raises ValueError as
    :func:`_lzw_check`."""
    nbits = len(raw) * 8
    run = _LZW_SHORT_RUN_CODES[0]
    while True:
        n = min(run, (nbits - start) // _LZW_FRESH_WIDTH)
        if n <= 0:
            return start, True
        codes = _lzw_codes_at(raw, start + _LZW_FRESH_WIDTH * np.arange(n),
                              _LZW_FRESH_WIDTH)
        hits = np.flatnonzero((codes | 1) == _LZW_EOI)
        firsts = np.concatenate([[0], hits[:-1] + 1])  # each segment's first code
        long = np.flatnonzero(hits - firsts >= _LZW_NINE_BIT_CODES)
        last = int(long[0]) if long.size else hits.size  # the segments read whole
        ended = np.flatnonzero(codes[hits[:last]] == _LZW_EOI)
        last = int(ended[0]) + 1 if ended.size else last  # none read past the end
        first = firsts[:last][firsts[:last] < hits[:last]]
        if (codes[first] >= _LZW_FIRST_ENTRY).any():
            raise ValueError(_LZW_UNDEFINED_AFTER_CLEAR)
        if ended.size:
            return nbits, True
        if last < hits.size or not hits.size:  # a longer segment, or none closed
            return start + _LZW_FRESH_WIDTH * int(firsts[last] if hits.size else 0), False
        start += _LZW_FRESH_WIDTH * (int(hits[-1]) + 1)
        run = min(2 * run, _LZW_SHORT_RUN_CODES[1])


def _lzw_check(data: bytes | bytearray, start: int = 0) -> None:
    """Refuse an LZW stream (TIFF's, most significant bit first; ``data`` from bit
    ``start``, a fresh table there) that imagecodecs' decoder cannot decode safely:
    the first code after a Clear code one the table does not hold yet
    (:data:`_LZW_FIRST_ENTRY`). Every segment, from Clear code to Clear code, is
    scanned as the codec reads it (:func:`_lzw_segment_ends`; runs of short ones at
    once, :func:`_lzw_short_segments`): about as long as the codec's decode of it.

    An old-style stream (codes least significant bit first, told as the codec tells it:
    its first byte 0, its second odd) is checked by the same rule as the codec reads
    it (:func:`_lzw_old_check`).

    Raises
    ------
    ValueError
        The stream names a table entry not made yet.
    """
    if _lzw_is_old(data):
        _lzw_old_check(data)
        return
    nbits, most, short = len(data) * 8, 1, True  # short: a run of short segments first
    total = int(_LZW_END[0, -1])  # bits of a full segment from its first code
    raw = np.frombuffer(data, np.uint8)  # read where it is (:func:`_lzw_window`)
    while start + _LZW_FRESH_WIDTH <= nbits:
        if short:
            start, ended = _lzw_short_segments(raw, start)
            if ended:
                return
        ends, stuck = _lzw_segment_ends(raw, start, most)
        if stuck:  # the codec reads on: 12-bit codes, a Clear among them starts anew
            width = int(_LZW_WIDTHS[-1])
            full = ends[-1][0] + ends[-1][1] if ends else start  # the stuck segment
            at = full + total + width * np.arange(_LZW_PAST_FULL_CODES)
            at = at[at + width <= nbits]
            codes = _lzw_codes_at(raw, at, width)
            hit = np.flatnonzero((codes | 1) == _LZW_EOI)
            if not hit.size or codes[hit[0]] == _LZW_EOI:
                return
            start, short = int(at[hit[0]]) + width, False
            continue
        if not ends or ends[-1][2]:
            return
        lengths = np.diff([start] + [at + width for at, width, _ in ends])
        short = bool((lengths < _LZW_NINE_BIT_CODES * _LZW_FRESH_WIDTH).any())
        most = 1 if short else min(2 * most, _LZW_MOST_SEGMENTS)
        start = ends[-1][0] + ends[-1][1]


#: Bit widths of the codes after a Clear code of old-style LZW (codes least significant
#: bit first, as early libtiff versions wrote them), as imagecodecs reads them: each
#: width one code later than TIFF's (9 bits while the table holds under 512 entries,
#: then 10, 11, 12; measured: streams of 3000-4200 codes a segment decode only so), up
#: to the 5120 entries after which the codec refuses the stream.
_LZW_OLD_WIDTHS = np.array([9 if n < 512 else 10 if n < 1024 else 11 if n < 2048 else 12
                            for n in range(257, 5120)], np.int64)
_LZW_OLD_STARTS = np.concatenate([[0], np.cumsum(_LZW_OLD_WIDTHS)[:-1]])
_LZW_OLD_MASK = ((1 << _LZW_OLD_WIDTHS) - 1).astype(np.int32)
_LZW_OLD_SPAN = int(_LZW_OLD_WIDTHS.sum()) // 8 + 3  # bytes a segment's codes span


def _lzw_old_check(data: bytes | bytearray) -> None:
    """:func:`_lzw_check` of an old-style LZW stream (codes least significant bit
    first, :data:`_LZW_OLD_WIDTHS`): every segment's first code read where the codec
    reads it (one scan of a segment's codes at a time: a stream clearing every few
    codes costs about 30 us a segment; old-style strips are rare). The stream is read
    where it is, a segment's window at its end padded (:func:`_lzw_window`): until
    2026-12-07 it was copied whole with zero bytes after it.

    Raises
    ------
    ValueError
        A segment's first code names a table entry not made yet
        (:data:`_LZW_FIRST_ENTRY`): imagecodecs' decoder crashes on it as on TIFF's.
    """
    nbits = len(data) * 8
    raw = np.frombuffer(data, np.uint8)  # its bytes where they are: no copy
    start = 0
    while start + _LZW_FRESH_WIDTH <= nbits:
        base = start >> 3
        at = (start & 7) + _LZW_OLD_STARTS
        n = int(np.searchsorted(at + _LZW_OLD_WIDTHS, nbits - 8 * base, "right"))
        b = _lzw_window(raw, base, _LZW_OLD_SPAN).astype(np.int32)
        i = at[:n] >> 3
        codes = ((b[i] | b[i + 1] << 8 | b[i + 2] << 16) >> (at[:n] & 7)) & _LZW_OLD_MASK[:n]
        if codes[0] >= _LZW_FIRST_ENTRY:
            raise ValueError(_LZW_UNDEFINED_AFTER_CLEAR)
        hit = np.flatnonzero((codes | 1) == _LZW_EOI)
        if not hit.size or codes[hit[0]] == _LZW_EOI:  # its end, or the codec refuses it
            return
        start = 8 * base + int(at[hit[0]] + _LZW_OLD_WIDTHS[hit[0]])


def _lzw_clears(count: int) -> bytes:
    """The whole bytes of ``count`` 9-bit Clear codes, most significant bit first (the
    bits of a last partial byte: the last Clear's low bits, zeros, left out)."""
    n = 9 * count
    bits = sum(_LZW_CLEAR << (9 * k) for k in range(count))
    return (bits << (-n % 8)).to_bytes((n + 7) // 8, "big")[:n // 8]


#: Per bit phase ``r`` (0-7) of a piece's first code: the bytes of Clear codes put
#: before its byte, ``r`` of them (8 for 0: 9 bytes) so that the last one ends ``r``
#: bits into it and the piece's bits keep their place in their bytes (no bit shift).
_LZW_HEADS = tuple(_lzw_clears(r or 8) for r in range(8))


def _lzw_put_code(buf: bytearray, at: int, code: int, width: int) -> None:
    """Write ``code`` as ``width`` bits (most significant first) at bit ``at`` of
    ``buf``, over the bits there, ``buf`` grown to hold it."""
    first, last = at >> 3, (at + width + 7) >> 3
    buf.extend(bytes(max(0, last - len(buf))))
    shift = (last << 3) - at - width
    span = int.from_bytes(buf[first:last], "big")
    span &= ~(((1 << width) - 1) << shift)
    buf[first:last] = (span | code << shift).to_bytes(last - first, "big")


def _lzw_piece(data: bytes, start: int, stop: int, end_width: int, *,
               more: int = 0) -> bytearray:
    """Bits ``start`` to ``stop`` of ``data`` as an LZW stream of their own: Clear
    codes (9 bits: the table there is fresh) before them, an end-of-information code of
    ``end_width`` bits after them (none for 0: to the end of ``data``, the strip's own
    end, decoded as the codec decodes a whole strip's end). ``more``: zero bytes of
    room after them, for the codes that follow ``data`` in the strip (read into it,
    :meth:`_LzwStrip._fill_piece`; ``end_width`` 0).

    The bits keep their place in their bytes (:data:`_LZW_HEADS`: as many Clear codes
    before them as their first bit's phase), so the piece is ``data`` 's bytes copied,
    not re-aligned bit by bit (an LZW strip streamed cost about 4x the codec's whole
    decode of it before, much of it in the shift of a Python integer as large as the
    piece)."""
    head = _LZW_HEADS[start & 7]
    codes = memoryview(data)[start >> 3:(stop + 7) >> 3]
    piece = bytearray(len(head) + len(codes) + more)
    piece[:len(head)] = head
    piece[len(head):len(head) + len(codes)] = codes  # one copy
    if len(codes):
        piece[len(head)] &= 0xFF >> (start & 7)  # the bits before start: the Clears'
    if end_width:
        _lzw_put_code(piece, (len(head) << 3) + (start & 7) + stop - start, _LZW_EOI,
                      end_width)
    return piece


#: A piece of an LZW strip (:class:`_LzwStrip`) is guessed to decode to at most this
#: many times the bytes per segment the read's earlier pieces gave (see
#: :func:`_lzw_decoded`).
_LZW_GUESS_SLACK = 2


def _lzw_decoded(piece: bytes | bytearray, size: int, *, to_end: bool,
                 scanned: bool = False, passed: set[bytes] | None = None) -> bytes:
    """The codec's decode of an LZW ``piece`` (:func:`_lzw_piece`), told its size (the
    codec then skips the pass that counts it: about 1.5x faster; untold, a streamed
    strip paid that pass on every piece). ``to_end``: the piece runs to the strip's
    end, ``size`` the bytes its rows hold (more are dropped, as tifffile decodes a
    strip to its size); else ``size`` is a guess (0: none), and a piece that fills it
    may hold more: decoded again untold. A piece not ``scanned`` (its codes read by
    :func:`_lzw_segment_ends`, here or by the read that kept its resume points) is
    checked first (:func:`_lzw_check`), unless its digest is in ``passed``
    (:func:`_lzw_check_once`)."""
    import imagecodecs

    if not scanned:
        _lzw_check_once(piece, passed)
    if size:
        decoded = imagecodecs.lzw_decode(piece, out=size)
        if to_end or len(decoded) < size:
            return decoded
    return imagecodecs.lzw_decode(piece)


#: How many passed LZW streams a level's checked decode remembers (by their
#: :data:`LZW_DIGEST_BYTES`-byte BLAKE2b digest, about 0.25 of the check's time: measured
#: 0.04 s against 0.15 s for the 32 strips of a 4096² uint8 image) so as not to check
#: them again (a 65536-tile level's set measured 6.1 MiB).
LZW_CHECKED_KEPT = 65536

#: Digest size of a remembered LZW stream: 32 bytes, so that a file crafted to pass a
#: damaged strip off as a checked one (a collision, which would crash imagecodecs) costs
#: about 2**128 work, not the 2**64 of a 16-byte digest; same hashing time.
LZW_DIGEST_BYTES = 32


def _lzw_check_once(data: bytes | bytearray, passed: set[bytes] | None, *,
                    reversed_bits: bool = False) -> None:
    """:func:`_lzw_check` of ``data`` (bit-reversed, FillOrder 2, when
    ``reversed_bits``: checked as the codec gets it, reversed back) unless the
    :data:`LZW_DIGEST_BYTES`-byte BLAKE2b digest of ``data`` is in ``passed`` (the
    digests of the streams that passed, up to :data:`LZW_CHECKED_KEPT`: the digest of
    one that passes is put there); ``passed`` None, or :data:`LZW_CHECKED_KEPT` 0:
    checked, not remembered, and no digest taken (one was taken for nothing with
    ``LZW_CHECKED_KEPT`` 0 until 2026-12-06: about a quarter of the check). The one
    memo rule of tifffile's checked decode (:func:`_check_lzw_decodes`) and of the
    streamed reader's unscanned pieces (:class:`_LzwStrip`: a one-chunk pass decoded
    the strip whole as the open's probe did, and checked it again).

    Raises
    ------
    ValueError
        As :func:`_lzw_check`.
    """
    key = None if passed is None or not LZW_CHECKED_KEPT else hashlib.blake2b(
        data, digest_size=LZW_DIGEST_BYTES).digest()
    if key is not None and key in passed:
        return
    if reversed_bits:
        import imagecodecs

        data = imagecodecs.bitorder_decode(data)
    _lzw_check(data)
    if key is not None and len(passed) < LZW_CHECKED_KEPT:
        passed.add(key)


def _check_lzw_decodes(level, path: Path) -> None:
    """Make the decode of every LZW strip or tile of tifffile's series ``level`` (of a
    TiffFile napari_srmat opened) check its stream first (:func:`_lzw_check`, the
    bytes as the codec gets them: bit-reversed ones, FillOrder 2, reversed back): a
    damaged one is refused with a ValueError, never handed to imagecodecs
    (:data:`_LZW_FIRST_ENTRY`). Only this file's decoders are wrapped (tifffile keeps
    one per page structure and file: the page's ``decode``, shared through its file's
    decoder cache with every page of the series): tifffile's process-wide table of
    decoders and any TiffFile opened by other code are left alone (from 764af41 to this
    the table itself was swapped: every LZW TIFF any library in the process read after
    one of ours was checked, at about twice its decode's time). Called right after a
    level is opened, before any of it is decoded (:func:`_read_tiff`, the workers'
    :meth:`_WholeStrip._decode`: the check travels with the reader, not the process);
    more calls are harmless. A stream that passed is remembered by its digest (up to
    :data:`LZW_CHECKED_KEPT` of them a level): a strip decoded again (by each Dask
    chunk across it, napari panning back, the open's probe of the last strip, a second
    pass) or identical to one read (uniform bands) is not checked again; bytes changed
    on disk since are.

    Raises
    ------
    ImageReadError
        The wrapped decode is not what ``path``'s page and decoder cache then hold
        (:func:`_lzw_unhooked`: a tifffile that keeps its decoders otherwise): its
        strips would reach imagecodecs unchecked, so none is read.
    """
    pages = list(level) if level.is_multifile else [level.keyframe]  # others: its files
    for page in pages:
        keyframe = getattr(page, "keyframe", None)
        if keyframe is None or keyframe.compression != _LZW_COMPRESSION:
            continue
        decode = keyframe.decode  # tifffile's (built and kept on first use)
        if getattr(decode, "lzw_checked", False):
            continue
        reversed_bits = keyframe.fillorder == 2

        passed: set[bytes] = set()  # digests of the streams that passed

        def checked(data, index, /, *, _decode=decode, _reversed=reversed_bits,
                    _passed=passed, **kwargs):
            if data is not None:
                _lzw_check_once(data, _passed, reversed_bits=_reversed)
            return _decode(data, index, **kwargs)

        checked.lzw_checked = True  # type: ignore[attr-defined]
        try:
            keyframe.__dict__["decode"] = checked  # the page's (a cached property) and
            decoders = keyframe.parent.root._decoders  # its file's, for the others
            decoders[keyframe.hash] = checked
            held = (keyframe.decode, decoders.get(keyframe.hash))
        except (AttributeError, TypeError):  # tifffile's private parts moved
            held = ()
        if not held or any(d is not checked for d in held):
            raise ImageReadError(_lzw_unhooked(path))


def _lzw_unhooked(path: Path) -> str:
    """The one line of an LZW TIFF whose strips :func:`_check_lzw_decodes` cannot put
    its check on (tifffile's page ``decode`` and file ``_decoders`` cache, private)."""
    import tifffile

    return (f"{path}: LZW strips not read: tifffile {tifffile.__version__} keeps its "
            "decoders where napari-srmat cannot check them (a damaged strip would crash "
            f"imagecodecs 2026.3.6); pip install \"tifffile=={_TIFFFILE_LZW_HOOKED}\" "
            "(the release napari-srmat was tested with) or save the file without LZW")


#: The tifffile release :func:`_check_lzw_decodes` was tested with (its page's cached
#: ``decode`` and its file's ``_decoders``: private, so checked at each open).
_TIFFFILE_LZW_HOOKED = "2026.3.3"


#: What streaming a byte of an LZW strip (:class:`_LzwStrip`) past its last known
#: resume point costs (its Clear codes found by a scan of the codes, then decoded from
#: one to the next), in bytes decoded in one piece as a read of the rest of the strip
#: decodes them (:func:`_lzw_decoded`: the codes checked, :func:`_lzw_check`, then
#: decoded, the codec told the size): measured 1.01-1.25, single repeats 0.72-2.23
#: (``scanned_over_checked_ratio`` of ``benchmarks/bench_tiff_strips_lzw.py``, medians of
#: six runs, 2048² and 4096² grey noise over a ramp, 2 shared CPUs, loaded:
#: ``bench_tiff_strips_lzw_costs_*.json``; streaming 2.15-2.37 codec decodes a byte, one
#: piece 1.80-2.03 since the check of 764af41; earlier best-of runs 0.61-1.11): about 1,
#: straddling it from run to run, so 1, the round value, not a tuned optimum (up to about
#: 1.25 is as well supported, for at most a quarter of a read's time, holding the larger
#: rest at once). It was 2.0 while one piece cost one codec decode (streaming: 2.0-2.3;
#: 3.1-3.3 before pieces kept their bytes and the codec was told their size): a rest
#: up to twice what a read wanted was then decoded and checked in one piece, about 2.5x
#: the cost of streaming the bytes it wanted. From a known resume point to the next no
#: scan is needed: 1.16-1.24 codec decodes (medians, the same runs). See
#: :func:`_lzw_rest_whole`.
LZW_STREAM_COST = 1.0


def _lzw_rest_whole(wanted: int, rest: int, held: int = 0) -> bool:
    """Whether a read of an LZW strip over the cache takes the ``rest`` of the strip
    (decoded bytes from its resume point to the strip's end) in one piece, its codes
    read whole and decoded up to the read's last row (no scan, no resume point kept),
    rather than streaming the ``wanted`` bytes (from its resume point to its last row)
    piece by piece: when the rest is at most :data:`LZW_STREAM_COST` times them (what
    streaming them costs, in bytes decoded in one piece) and fits what a read may
    hold (past the last resume point known only: to a known point the codes are decoded
    a resume step at a time, no scan; a kept band took the rest in one piece beside it,
    memory): the ``held`` bytes of a Dask chunk of the level (a chunk read holds them
    anyway: a level of one chunk is read in one piece, its probe at open too), for a
    chunk's own rows and a band of rows decoded for its chunks
    (:meth:`_InflatedStrip._band_rows`) alike. Until this a band kept for its chunks
    took a rest up to :data:`DECODED_STRIP_CACHE_BYTES` in one piece: its codes (twice:
    read, then copied into the piece), their check and its decoded rows beside the
    band reserved in the cap and counted nowhere (a 1024² strip, cap just under it,
    resume points dropped, its second band of 512 rows: 2.71x the cap at its peak,
    0.5x counted). Every chunk of the last bands read at once held the rest's codes and
    rows before 2026-12-06 (a 2048² strip, cap just under it, 8 chunks of its last 512
    rows in 8 threads: 3.6 strips at once; 0.9 streamed).

    A strip over the cache read by few chunks was slower streamed than decoded whole by
    each chunk as before 2026-12-06 (1024², 16 chunks: 0.11 -> 0.38 s); with this rule,
    byte-aligned pieces told their size and no scan between known resume points (and
    bands over a quarter of the cache kept where they fit), a full pass of 1, 4 and 16
    chunks of a 4096² strip takes 1.19, 0.25 and 0.18 times as long as then, after
    0e526679 (``few_chunks`` of ``benchmarks/bench_tiff_strips_lzw.json``; 1.19, 0.52
    and 0.21 in a run beside it; 0.89, 0.63 and 0.25 in an earlier run, one chunk
    0.93-1.26 in others; 2.7, 1.8 and 1.0 times before these; runs on 2 shared CPUs
    vary, up to 2x on the 4- and 16-chunk passes)."""
    return rest <= held and wanted * LZW_STREAM_COST >= rest


#: An LZW strip whose first segments (from Clear code to Clear code, at most
#: :data:`_LZW_DENSE_SEGMENTS` of them within :data:`_LZW_DENSE_PROBE_BYTES`) hold fewer
#: codes than this on average is not streamed (:func:`_lzw_dense`): its Clear codes are
#: found by a scan that costs about the same per segment whatever its length (TIFF
#: writers clear when the table is full: about 3800 codes), so a stream clearing every
#: few codes took seconds to open and a pass far longer (a Clear every 2 codes, 512²:
#: 5-8 s to open, 17 s a pass, 8 ms for tifffile; at gigapixel size hours). It is read
#: as tifffile reads it: decoded whole (kept when it fits the cache; else by each chunk,
#: and the open says so).
_LZW_DENSE_CODES = 128
_LZW_DENSE_SEGMENTS = 16
_LZW_DENSE_PROBE_BYTES = 1 << 16
#: The first bytes of a strip read to tell whether it is dense (:func:`_lzw_strip_dense`):
#: a head that is not dense by them is not dense by its first
#: :data:`_LZW_DENSE_PROBE_BYTES` either, as they hold more than the bits of
#: :data:`_LZW_DENSE_SEGMENTS` segments of :data:`_LZW_DENSE_CODES` 9-bit codes, their
#: Clear codes and one 12-bit code (about 2.3 kB): a Clear the longer probe finds past them
#: makes its segments' average longer than the threshold. Only a head dense by them is
#: read again to :data:`_LZW_DENSE_PROBE_BYTES` (2000 planes of 256² noise read 131 MB
#: to open, 0.50 s warm, before 2026-12-06).
_LZW_DENSE_FIRST_BYTES = 1 << 12


#: The first bytes of an LZW stream that tell whether it is old-style (:func:`_lzw_is_old`).
_LZW_OLD_HEAD_BYTES = 2


def _lzw_not_streamed(path: Path, offsets: tuple, counts: tuple) -> bool:
    """Whether any LZW strip at ``offsets`` (``counts`` bytes each) of ``path`` is
    old-style (:func:`_lzw_is_old`, its first :data:`_LZW_OLD_HEAD_BYTES` read) or, none
    being so, clears its code table every few codes (:func:`_lzw_strip_dense`): the
    level is then not streamed. Each head is read as it is looked at and dropped after
    it (until this, the dense probe of every strip was read at once and held for both: a
    page of 200 planes of 256² LZW noise, one strip each, peaked at 13.3 MB open; now
    0.26 MB: one head and its scan; a strip's first :data:`_LZW_DENSE_FIRST_BYTES` tell
    most strips, 64 KiB were read of each until 2026-12-06)."""
    with open(path, "rb") as fh:
        def heads():
            for offset, count in zip(offsets, counts):
                fh.seek(offset)
                yield fh.read(min(count, _LZW_OLD_HEAD_BYTES))

        return (any(map(_lzw_is_old, heads()))
                or any(_lzw_strip_dense(fh, offset, count)
                       for offset, count in zip(offsets, counts)))


def _lzw_strip_dense(fh, offset: int, count: int) -> bool:
    """:func:`_lzw_dense` of the first :data:`_LZW_DENSE_PROBE_BYTES` at most of the
    strip at ``offset`` (``count`` bytes) of the open file ``fh``, told by its first
    :data:`_LZW_DENSE_FIRST_BYTES` where they tell it (a strip written as TIFF writers
    write it, a Clear code every ~3800 codes: no Clear among them; a dense one: its
    first :data:`_LZW_DENSE_SEGMENTS` segments among them)."""
    probe = min(count, _LZW_DENSE_PROBE_BYTES)
    fh.seek(offset)
    head = fh.read(min(probe, _LZW_DENSE_FIRST_BYTES))
    dense = _lzw_dense(head, cut=len(head) < probe)
    if dense is None:  # dense by fewer segments than the longer probe may hold
        dense = _lzw_dense(head + fh.read(probe - len(head)))  # fh is just past head
    return bool(dense)


def _lzw_dense(data: bytes, *, cut: bool = False) -> bool | None:
    """Whether an LZW strip whose first bytes are ``data`` (:func:`_lzw_not_streamed`)
    clears its code table so often that streaming it costs more than decoding it whole:
    its first segments hold fewer than :data:`_LZW_DENSE_CODES` codes on average.
    ``cut``: ``data`` is cut short of the bytes that decide it (the first probe of
    :func:`_lzw_strip_dense`): None where more of them could tell otherwise (dense by
    fewer than :data:`_LZW_DENSE_SEGMENTS` segments, no end code among them)."""
    head = int.from_bytes(data[:2].ljust(2, b"\0"), "big")
    start = _LZW_FRESH_WIDTH if head >> 7 == _LZW_CLEAR else 0
    ends, _ = _lzw_segment_ends(data, start, _LZW_DENSE_SEGMENTS)
    cleared = [at for at, _, last in ends if not last]  # a last one may be short
    # the codes' bits, less the Clear codes' (9-bit codes below 254 a segment)
    bits = cleared[-1] - start - _LZW_FRESH_WIDTH * (len(cleared) - 1) if cleared else 0
    dense = bool(cleared) and bits < _LZW_DENSE_CODES * len(cleared) * _LZW_FRESH_WIDTH
    if (cut and dense and len(cleared) < _LZW_DENSE_SEGMENTS
            and not (ends and ends[-1][2])):
        return None
    return dense


def _lzw_is_old(head: bytes | bytearray) -> bool:
    """Whether an LZW stream starting with ``head`` is old-style (as early libtiff
    versions wrote it: codes least significant bit first, widths changed a code later),
    told as imagecodecs tells it: its first byte 0, its second odd (a Clear code so)."""
    return len(head) >= _LZW_OLD_HEAD_BYTES and head[0] == 0 and bool(head[1] & 1)


class _LzwStrip(_InflatedStrip):
    """One level of a TIFF stored as one LZW strip larger than the decoded-strip cache,
    read as :class:`_InflatedStrip` reads a deflate one: decoded from the last resume
    point before a read's first row to its last row, keeping only the rows (columns,
    samples) it asks. LZW starts a fresh code table at each Clear code (TIFF writers
    write one every 3839 codes, when the table is full): the strip is decoded from
    Clear code to Clear code in pieces of about :data:`_INFLATE_OUT_BYTES` (the codes'
    places found from their widths, which depend on their count since the last Clear
    only), and a resume point is the bit after a Clear code (kept every
    :data:`INFLATE_RESUME_BYTES` of decoded data). From a resume point to the next one
    already kept (the probe at open keeps them all), the codes are decoded in one piece
    without a scan (at most :data:`INFLATE_RESUME_BYTES` at once), the codec told the
    size, stopping at the read's last row. A read near the strip's end takes the rest
    in one piece when that costs less (:func:`_lzw_rest_whole`). Before, every chunk
    decoded the whole strip into memory (a full pass: chunks x strip). A stream whose
    codes cannot be split so is decoded in one piece from the last resume point to the
    read's last row (:meth:`_scanned_piece`), uncounted as a strip decoded whole for a
    chunk is (docs/io.md)."""

    _CODES = (_LZW_COMPRESSION,)

    def __init__(self, *args: Any):
        super().__init__(*args)
        #: Digests of the pieces decoded unscanned that passed the check
        #: (:func:`_lzw_check_once`): the open's probe and a one-chunk pass each decode
        #: the strip whole, checked once (twice before: 1.35-1.4x tifffile's read of it,
        #: which remembers it so, ``few_chunks`` of ``bench_tiff_strips_lzw.py``).
        self._passed: set[bytes] = set()

    @classmethod
    def of(cls, path: Path, series: int, level: int, layout: tuple | None, like,
           chunks: Any = None) -> _LzwStrip | None:
        """As :meth:`_InflatedStrip.of`, and None for old-style LZW (its codes least
        significant bit first) and for a strip clearing its code table every few codes
        (:func:`_lzw_not_streamed`), which tifffile reads."""
        if layout is not None and _lzw_not_streamed(path, layout[0], layout[1]):
            return None
        return super().of(path, series, level, layout, like, chunks)

    def _scanned_piece(self, fh, end: int, bit: int, target: int, per_segment: int,
                       rest: int, whole: bool, wanted: int
                       ) -> tuple[bytes, int, list, bool, int]:
        """Decode the codes of the strip in ``fh`` (its end at byte ``end``) from ``bit``
        (after a Clear code, or the stream's start) to the Clear code closing the
        segments that give about ``target`` bytes (``per_segment`` a segment, 0: not
        known yet), found by a scan of the codes, the ``rest`` of the strip's bytes at
        most; all of them to the strip's end when ``whole``, when the scan cannot split
        them or when it reaches the strip's end, then decoded up to the read's last row
        only (``wanted`` bytes from ``bit`` on: until 2026-12-06 a stream the scan
        could not split was decoded to the strip's end, every row of it, whatever the
        read wanted). Returns ``(decoded bytes, the bit after the closing Clear, the
        segment ends, whether the strip's end was reached, bytes per segment)``."""
        segments = int(min(_LZW_MOST_SEGMENTS, max(
            1, -(-target // per_segment) if per_segment else 1)))
        if whole and bit == _LZW_FRESH_WIDTH:  # from the stream's first code, a Clear:
            fh.seek(fh.tell() - 1)  # the strip's own bytes (not copied into a piece)
            return (_lzw_decoded(self._read_input(fh, end - fh.tell()), min(wanted, rest),
                                 to_end=True, passed=self._passed), bit, [], True,
                    per_segment)
        if whole:  # its first codes (the piece's first byte), the rest read into it
            data = self._read_input(fh, min(_LZW_SEGMENT_BYTES, end - fh.tell()))
            ends, last, stuck = [], True, False
        else:
            data = self._read_input(fh, min(segments * _LZW_SEGMENT_BYTES, end - fh.tell()))
            ends, stuck = _lzw_segment_ends(data, bit & 7, segments)
            last = stuck or not ends or ends[-1][2]
            if stuck:  # not split: decoded whole to its end
                ends = []
        if not ends:  # to the strip's end (its last codes, or the rest whole)
            # the last codes, no end code: the scan read them all (checked again before)
            more = end - fh.tell() if whole or stuck else 0  # the rest, read into it:
            piece = _lzw_piece(data, bit & 7, len(data) * 8, 0, more=more)
            del data  # in the piece now: the compressed bytes held once
            if more:
                self._fill_piece(fh, piece, more)
            decoded = _lzw_decoded(piece, min(wanted, rest), to_end=True,
                                   scanned=not (whole or stuck), passed=self._passed)
            return decoded, bit, ends, last, per_segment
        at, width, _ = ends[-1]
        decoded = _lzw_decoded(_lzw_piece(data, bit & 7, at, width), min(
            rest, _LZW_GUESS_SLACK * per_segment * len(ends)), to_end=False, scanned=True)
        return (decoded, bit + at - (bit & 7) + width, ends, last,
                max(1, len(decoded) // len(ends)))

    def _fill_piece(self, fh, piece: bytearray, more: int) -> None:
        """Read the strip's next ``more`` bytes into the room for them at the end of
        ``piece`` (:func:`_lzw_piece` 's ``more``), ``fh`` just past the codes before
        it; a file cut short leaves the piece as long as what it holds. Until 2026-12-06
        the rest was read, joined to the codes before it (a copy) and copied into the
        piece: the compressed bytes held twice at once (tracemalloc peak of such a
        piece's decode, 1.96x its compressed and decoded bytes;
        ``test_an_lzw_stream_that_cannot_be_split_holds_its_compressed_bytes_once``)."""
        got = 0
        with memoryview(piece)[len(piece) - more:] as room:
            while got < more and (n := self._read_input_into(fh, room[got:])):
                got += n
        del piece[len(piece) - more + got:]

    def _inflate_rows(self, wanted: np.ndarray, out: np.ndarray, within: tuple,
                      plane: int = 0) -> None:
        """Fill ``out`` with the rows ``wanted`` (sorted, unique) of ``plane``, each at
        ``within``, decoding the strip from the last resume point before the first (a
        band of rows kept for its chunks as a chunk's own rows: :func:`_lzw_rest_whole`)."""
        import imagecodecs

        _, _, file_dtype, _, (h, w, _), _, chunk_bytes = self._place
        offset, count, spp, key = self._strip(plane)
        file_dtype = np.dtype(file_dtype)
        row = w * spp * file_dtype.itemsize
        stop = (int(wanted[-1]) + 1) * row
        found = _DECODED_STRIPS.resume_point(key, int(wanted[0]) * row)
        done, bit = (found[0], found[1][0]) if found else (0, None)
        kept_at = done
        held, n_out, per_segment = b"", 0, 0  # decoded bytes a segment gave (0: none yet)
        whole = _lzw_rest_whole(stop - done, h * row - done, chunk_bytes)  # once, here
        try:
            with open(self.path, "rb") as fh:
                if bit is None:  # the stream's first code: a Clear (9 bits), or none
                    fh.seek(offset)
                    head = int.from_bytes(self._read_input(fh, 2).ljust(2, b"\0"), "big")
                    bit = 9 if head >> 7 == _LZW_CLEAR else 0
                while done < stop:
                    fh.seek(offset + (bit >> 3))
                    # the codes to a known point: no scan, at most a resume step at once
                    # (the rest in one piece only past the last known point: before
                    # 2026-12-06 a kept band read the rest's codes and rows in one piece)
                    ahead = _DECODED_STRIPS.next_point(key, done)
                    if ahead is not None:
                        data = self._read_input(fh, ((ahead[1] + 7) >> 3) - (bit >> 3))
                        size = min(ahead[0], stop) - done  # the codec stops there
                        decoded = _lzw_decoded(_lzw_piece(  # an end code after its Clear
                            data, bit & 7, ahead[1] - (bit & ~7), _LZW_FRESH_WIDTH),
                            size, to_end=True, scanned=True)
                        if len(decoded) < size:
                            raise ValueError("the strip ends before its pixels do")
                        bit, ends, last = ahead[1], [], False
                    else:
                        decoded, bit, ends, last, per_segment = self._scanned_piece(
                            fh, offset + count, bit, stop - done if whole else min(
                                _INFLATE_OUT_BYTES, stop - done, INFLATE_RESUME_BYTES
                                - done % INFLATE_RESUME_BYTES), per_segment,
                            h * row - done, whole, stop - done)
                    held, n_out = self._keep_rows(held, done, decoded, (w, spp), wanted,
                                                  out, within, n_out)
                    done += len(decoded)
                    if last:
                        break
                    if ends and done // INFLATE_RESUME_BYTES > kept_at // INFLATE_RESUME_BYTES:
                        _DECODED_STRIPS.keep_point(key, done, (bit, b"", None))
                        kept_at = done
            if done < stop:
                raise ValueError("the strip ends before its pixels do")
        except OSError as exc:
            raise _tiff_data_error(self.path, exc.strerror or exc) from None
        except (ValueError, imagecodecs.LzwError) as exc:
            raise _tiff_data_error(self.path, exc) from None


def _streamed_strip(level_series) -> tuple[type[_InflatedStrip], tuple] | None:
    """The reader (deflate or LZW) and place of a tifffile series level stored as one
    strip that can be decoded row by row (:meth:`_InflatedStrip.layout`), else None."""
    for reader in (_InflatedStrip, _LzwStrip):
        if (place := reader.layout(level_series)) is not None:
            return reader, place
    return None


def _whole_strip_note(path: Path, like, compression: str | None, chunks) -> str | None:
    """The warning for a TIFF level read through tifffile's Zarr view ``like`` whose
    stored strips or tiles are larger than :data:`DECODED_STRIP_CACHE_BYTES` and hold
    several Dask ``chunks`` (what no streamed reader takes: LZW or deflate with the
    floating-point predictor, old-style LZW, bits packed, PackBits, JPEG, ...): every
    chunk decodes a whole one, so a full pass decodes the image about once per chunk;
    else None."""
    stored = math.prod(like.chunks) * np.dtype(like.dtype).itemsize
    cy, cx = _spatial_chunks(chunks)
    if stored <= DECODED_STRIP_CACHE_BYTES or math.prod(like.chunks) <= cy * cx:
        return None
    return (f"{path}: its pixels are stored as {compression or 'compressed'} strips of "
            f"{stored / 2**20:.0f} MiB decoded, over the decoded-strip cache "
            f"({DECODED_STRIP_CACHE_BYTES / 2**20:.0f} MiB), that cannot be read in "
            "part: every chunk read decodes a whole strip (slow, and memory for one "
            "strip per chunk read at once); save it as a tiled TIFF or OME-Zarr "
            "(napari_srmat.io.write_ome_zarr) to read it fast")

def _read_tiff(path: Path, chunks) -> Micrograph:
    import tifffile
    import zarr

    try:
        with tifffile.TiffFile(path) as tif:
            if not tif.series:
                raise ImageReadError(f"{path}: TIFF contains no image series")
            series_index, several = _largest_tiff_series(tif.series, path)
            series = tif.series[series_index]
            _check_tiff_data_offsets(series, path)
            src_axes = series.axes
            n_levels = len(series.levels)
            layouts = [_TiffWindows.layout(tif, lv) for lv in series.levels]
            strips = [_streamed_strip(lv) for lv in series.levels]
            first_page = series.pages[0] if series.pages else None
            colours = _tiff_colour_rule(first_page)
            turned = _tiff_orientation_warning(first_page, path)
            unknown_units: list[str] = []
            resolution: dict = {}
            pixel_size, pixel_size_y, px_source = _tiff_pixel_size(
                tif, first_page if series_index else None, series_index, unknown_units,
                getattr(series, "name", None), resolution)
            meta = {
                **resolution,
                "format": "ome-tiff" if tif.is_ome else ("bigtiff" if tif.is_bigtiff else "tiff"),
                "source_axes": src_axes,
                "imagej": bool(tif.is_imagej),
                "bigtiff": bool(tif.is_bigtiff),
                "tiff_series": series_index,
                # a code tifffile does not know is a plain int (its decode fails below)
                "compression": str(getattr(first_page.compression, "name",
                                           first_page.compression))
                if first_page is not None else None,
            }
    except ImageReadError:
        raise
    except Exception as exc:  # tifffile raises many types on corrupt input
        raise ImageReadError(f"{path}: cannot read TIFF ({exception_reason(exc)})") from None

    pixel_size = _pixel_sizes(meta, path, pixel_size, pixel_size_y, px_source)
    for unit in dict.fromkeys(unknown_units) if pixel_size is None else ():
        meta.setdefault("read_warnings", []).append(_unknown_unit_note(path, unit))
    if several:
        meta.setdefault("read_warnings", []).insert(0, several)
    if turned:
        meta.setdefault("read_warnings", []).append(turned)
    if colours[0] not in (None, "alpha"):
        meta["photometric"] = colours[0]  # converted as Pillow converts it
    levels = []
    axes = "YX"
    for level in range(n_levels):
        try:
            with tifffile.TiffFile(path) as level_tif:  # closed here: the store's reads
                _check_lzw_decodes(level_tif.series[series_index].levels[level], path)
                store = level_tif.aszarr(  # open it and close it after each chunk (its
                    series=series_index, level=level, _openfiles=0)  # file cache's size)
            zarr_arr = _TiffChunks(zarr.open_array(store, mode="r"), path)
            # a map reaches the file's end (a truncated file is not mapped); else probe
            # the last block: catches truncated files early
            mapped = _TiffWindows.of(path, layouts[level], zarr_arr)
            if mapped is None and layouts[level] is None:  # compressed, one strip
                mapped = (_WholeStrip.of(path, series_index, level, zarr_arr, chunks)
                          or (strips[level] and strips[level][0].of(
                              path, series_index, level, strips[level][1], zarr_arr,
                              chunks)))
            source = zarr_arr if mapped is None else mapped  # what the pixels are read from
            if mapped is None and level == 0 and (note := _whole_strip_note(
                    path, zarr_arr, meta["compression"], chunks)):
                meta.setdefault("read_warnings", []).append(note)
            counts_alpha = colours[0] == "alpha" and level == n_levels - 1
            if (not isinstance(mapped, _TiffWindows) and level == 0 and zarr_arr.size
                    and not (counts_alpha and isinstance(mapped, _InflatedStrip))):
                # (an inflated strip's alpha count reads it to its end: that is its probe)
                source[tuple(slice(-1, None) for _ in zarr_arr.shape)]
        except ImageReadError:
            raise
        except Exception as exc:
            raise _tiff_data_error(path, exc) from None
        arr, axes = _lazy_array(source, src_axes, str(path), chunks)
        shown, axes = _tiff_colours(arr, axes, colours)
        if colours[0] == "miniswhite" and shown is not arr:  # inverted: what a mask
            meta["white_is_zero_max"] = int(colours[1])  # reader needs to undo it
        if counts_alpha:  # the smallest level's
            alpha, sampled = _tiff_alpha_sample(source, src_axes, path)
            _alpha_dropped(alpha, str(path), meta, sampled=sampled)
        levels.append(shown)
    return Micrograph(
        data=levels[0], levels=levels, axes=axes, pixel_size_um=pixel_size, path=path,
        metadata=meta,
    )


# --------------------------------------------------------------------------- bioio


def read_with_bioio(path: str | os.PathLike, *, chunks=None) -> Micrograph:
    """Open a microscope vendor file (CZI, ND2, LIF, ...) through ``bioio``.

    ``read_image`` calls this for the suffixes of :data:`MICROSCOPE_SUFFIXES`; any
    format a bioio reader plugin understands works. The first scene, time point and
    focal plane is read lazily as ``(H, W)`` or ``(H, W, C)`` (RGB samples or up to a few
    channels); the pixel size comes from the file's physical pixel size (µm).

    Raises
    ------
    ImageReadError
        bioio or the format's reader plugin is not installed, or the file cannot be
        read; the message says what to install.
    """
    path = path_arg(path, "read_with_bioio")
    plugin = MICROSCOPE_SUFFIXES.get(path.suffix.lower(), "a bioio reader plugin")
    try:
        from bioio import BioImage
    except ImportError:
        raise ImageReadError(
            f"{path}: {path.suffix} files are read through bioio: pip install "
            f"\"napari-srmat[formats]\" {plugin}") from None
    try:
        img = BioImage(path)
        dims = img.dims
        rgb = "S" in dims.order and getattr(dims, "S", 1) > 1
        channels = getattr(dims, "C", 1)
        if rgb:
            data, axes = img.get_image_dask_data("YXS", T=0, C=0, Z=0), "YXS"
        elif channels > 1:
            data, axes = img.get_image_dask_data("YXC", T=0, Z=0), "YXC"
        else:
            data, axes = img.get_image_dask_data("YX", T=0, C=0, Z=0), "YX"
        px = img.physical_pixel_sizes
        pixel_size = _valid_size(float(px.X)) if px.X is not None else None
        pixel_size_y = _valid_size(float(px.Y)) if px.Y is not None else None
        meta = {"format": f"bioio ({type(img.reader).__module__.split('.')[0]})",
                "source_axes": dims.order, "scenes": len(img.scenes)}
    except ImageReadError:
        raise
    except Exception as exc:  # bioio and its plugins raise many types
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageReadError(f"{path}: cannot read with bioio ({text}); the reader "
                             f"plugin for {path.suffix} is {plugin}") from None
    arr, axes = _normalize_axes(data, axes, str(path))
    arr = arr.rechunk(_chunks_for(arr.shape, chunks, 2 if axes == "YXC" else None))
    pixel_size = _pixel_sizes(meta, path, pixel_size, pixel_size_y, "physical_pixel_sizes")
    return Micrograph(data=arr, levels=[arr], axes=axes, pixel_size_um=pixel_size,
                      path=path, metadata=meta)


# --------------------------------------------------------------------------- Zarr


#: files at the root of a Zarr store (v2 group or array, consolidated metadata, v3):
#: :func:`is_zarr_store`'s rule
_ZARR_ROOT_FILES = (".zgroup", ".zarray", ".zmetadata", "zarr.json")


def is_zarr_store(path: str | os.PathLike) -> bool:
    """Whether :func:`read_image` reads ``path`` as a Zarr store: the one rule of what a
    Zarr store is, for the reader, the napari reader, the inputs given twice
    (:func:`napari_srmat.outputs.check_distinct_files`) and the SR training, which
    reads a source store as one image and any other folder as a folder of images
    (:func:`napari_srmat.sr.train.source_image_files`).

    A store is a folder holding a Zarr root file: ``.zgroup`` or ``.zarray`` (Zarr v2),
    ``.zmetadata`` (consolidated v2 metadata) or ``zarr.json`` (Zarr v3). Its name does
    not count: a ``.zarr`` (or ``.ZARR``) folder without one is a folder (read_image
    refuses it as one, "give the files in it"), and a folder of PNGs named ``scan`` that
    holds a ``.zgroup`` is a store. A stray ``.zattrs`` (attributes only, no group or
    array) makes no store. read_image reads a store with Zarr, whose errors a damaged one
    gets (e.g. ``not a readable Zarr store``); every other folder is refused as a folder.

    Parameters
    ----------
    path : str or path-like
        A file or folder; it need not exist.

    Returns
    -------
    bool
        False for a file, a missing path, or a folder that cannot be looked into.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp()) / "scan.zarr"
    >>> folder.mkdir()
    >>> is_zarr_store(folder)  # the name is no store
    False
    >>> _ = (folder / ".zattrs").write_text("{}")
    >>> is_zarr_store(folder)  # nor are attributes alone
    False
    >>> _ = (folder / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group"}')
    >>> is_zarr_store(folder)
    True
    """
    return os.path.isdir(path) and any(os.path.isfile(os.path.join(path, name))
                                       for name in _ZARR_ROOT_FILES)


def _check_finished(path: Path) -> None:
    """Refuse a store napari-srmat is still writing or was stopped while writing (its
    blocks are written as they are computed: the ones not yet written read as zeros).
    Such a store, or an array in it, has the writer's manifest at the store's root."""
    from ._write import _MANIFEST

    for store in (path, path.parent):
        if (store / _MANIFEST).is_file():
            raise ImageReadError(
                f"{path} is an unfinished output of napari-srmat (stopped or still being "
                f"written: blocks not yet computed would read as empty pixels); rerun the "
                f"command that wrote it to finish it, then read "
                f"{store.name.removesuffix('.partial')}")


def holds_checkpoint(path: Path) -> bool:
    """Whether folder ``path`` is a training's checkpoint: it holds a checkpoint's two
    files (:data:`napari_srmat.checkpoint.CHECKPOINT_FILES`), which ``srmat info``
    describes and the folder refusal names."""
    from ..checkpoint import CHECKPOINT_FILES

    return path.is_dir() and all((path / name).is_file() for name in CHECKPOINT_FILES)


def _open_zarr(path: Path):
    import zarr

    from ._codecs import guard_blosc

    guard_blosc()  # a truncated Blosc chunk: an error, not what lay past its bytes
    _check_finished(path)
    if path.is_dir() and not is_zarr_store(path):
        if holds_checkpoint(path):  # until 2026-12-07: 'give the files in it (*.png)'
            raise ImageReadError(
                f"{path} is a training's checkpoint, not an image: give a checkpoint "
                "option (--checkpoint, --init-checkpoint) to use it, or run srmat info "
                "on it to see what it records")
        raise ImageReadError(
            f"{path} is a folder, not an image file or a Zarr store: give the files in "
            f"it (e.g. {path}/*.png)")
    try:
        return zarr.open(str(path), mode="r")
    except Exception as exc:
        raise ImageReadError(
            f"{path}: not a readable Zarr store ({exception_reason(exc)})"
        ) from None


def _multiscales_attrs(path: Path, group) -> tuple[dict | None, str | None]:
    """The first OME-NGFF ``multiscales`` entry of ``group`` and its version (None, None
    when the group has none), checked by :func:`_check_multiscales`."""
    attrs = dict(group.attrs)
    ome = attrs.get("ome")
    if isinstance(ome, dict) and "multiscales" in ome:
        ms, version = ome["multiscales"], ome.get("version", "0.5")
    elif attrs.get("multiscales"):
        ms, version = attrs["multiscales"], None
    else:
        return None, None
    if not ms:
        return None, str(version)
    ms = _check_multiscales(path, ms)
    return ms, str(version if version is not None else ms.get("version", "0.4"))


def _check_multiscales(path: Path, value: Any) -> dict:
    """The first entry of an OME-NGFF ``multiscales`` attribute, refused with one
    :class:`ImageReadError` naming the file when its structure is not the one the
    specification gives (a list of objects whose ``datasets`` are objects with a
    ``path``, ``axes`` names or objects with a ``name``, transformations objects with a
    list of numbers as ``scale``, where given): a hand-edited or damaged store, not a crash."""

    def bad(what: str) -> ImageReadError:
        return ImageReadError(f"{path}: damaged OME-NGFF 'multiscales' metadata ({what}); "
                              "rewrite the store's metadata or open the array inside it")

    def transforms_ok(tr: Any) -> bool:
        return tr is None or (isinstance(tr, list) and all(
            isinstance(t, dict) and all(key not in t or (  # or a "path" to the values
                isinstance(t[key], list)
                and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                        for v in t[key])) for key in ("scale", "translation"))
            for t in tr))

    if not isinstance(value, list) or not isinstance(value[0], dict):
        raise bad(f"expected a list of objects, got {_short_json(value)}")
    ms = value[0]
    datasets = ms.get("datasets")
    if datasets is not None and not (isinstance(datasets, list) and all(
            isinstance(d, dict) and isinstance(d.get("path"), str) for d in datasets)):
        raise bad(f"'datasets' must be objects with a 'path', got {_short_json(datasets)}")
    axes = ms.get("axes")
    if axes is not None and not (isinstance(axes, list) and all(
            isinstance(a, str) or (isinstance(a, dict) and isinstance(a.get("name"), str))
            for a in axes)):
        raise bad(f"'axes' must be names or objects with a 'name', got {_short_json(axes)}")
    for tr in [ms.get("coordinateTransformations")] + [
            d.get("coordinateTransformations") for d in datasets or []]:
        if not transforms_ok(tr):
            raise bad(f"bad 'coordinateTransformations' {_short_json(tr)}")
    return ms


def _short_json(value: Any, limit: int = 60) -> str:
    """``value`` as JSON text, cut to ``limit`` characters (for a one-line message)."""
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _scale_of(transforms: list | None, kind: str = "scale") -> list[float] | None:
    """The values of the first ``kind`` ("scale" or "translation") transform, or None."""
    for tr in transforms or []:
        if tr.get("type") == kind and isinstance(tr.get(kind), list):
            return [float(v) for v in tr[kind]]
    return None


def _origin_um(names: list[str], units: dict, ds_transforms, ms_transforms,
               unitless: bool = False) -> list[float] | None:
    """``(Y, X)`` world position in µm of pixel ``(0, 0)``'s centre: level 0's
    ``translation`` (times the global scale) plus the global ``translation``; None
    without one, at ``(0, 0)``, or for an axis whose unit is not a known length
    (``unitless``: the position in the store's own unit-less coordinates, None for an
    axis with a unit)."""
    translation = _scale_of(ds_transforms, "translation")
    global_scale = _scale_of(ms_transforms)
    global_translation = _scale_of(ms_transforms, "translation")
    if translation is None and global_translation is None:
        return None
    def at(values, i: int, default: float) -> float:
        return values[i] if values is not None and i < len(values) else default

    origin = []
    for ax in "yx":
        unit = units.get(ax)
        factor = (1.0 if unit is None else None) if unitless else (
            _unit_factor(unit) if unit is not None else None)
        if factor is None or ax not in names:
            return None
        i = names.index(ax)
        value = (at(translation, i, 0.0) * at(global_scale, i, 1.0)
                 + at(global_translation, i, 0.0))
        if not math.isfinite(value):
            return None
        origin.append(value * factor)
    return origin if any(origin) else None


def _dataset(path: Path, group, ds: dict):
    """The array of one ``multiscales`` dataset, refused when the store lacks it or its
    array metadata is damaged (:func:`_unreadable_array`)."""
    try:
        return group[ds["path"]]
    except KeyError:
        raise ImageReadError(
            f"{path}: OME-Zarr dataset {ds['path']!r} is missing (incomplete store?)"
        ) from None
    except json.JSONDecodeError:  # told by _read_by_format: "... not valid JSON"
        raise
    except Exception as exc:  # noqa: BLE001 - Zarr's parsers raise many types
        raise _unreadable_array(path, ds["path"], exc) from None


def _unreadable_array(path: Path, level: Any, exc: BaseException) -> ImageReadError:
    """The one error of a Zarr array whose metadata Zarr cannot parse (a ``.zarray`` that
    is a list, a fill value its dtype cannot hold, a negative shape, an unknown codec, a
    ``..`` path): Zarr's own error, which named neither the store nor the array (an
    internal error for a TypeError)."""
    return ImageReadError(f"{path}: array {str(level)!r} is not a readable Zarr array "
                          f"({exception_reason(exc)})")


def _check_chunk_grid(path: Path, array) -> None:
    """Refuse a Zarr array whose chunk (or shard) shape has a side below 1: Zarr opens it,
    and every read of its pixels or count of its chunks divided by zero."""
    chunks = tuple(int(c) for c in (array.shards or array.chunks))
    if any(c < 1 for c in chunks):
        raise ImageReadError(f"{path}: damaged Zarr metadata: the chunk shape {chunks} "
                             "has a side below 1")


def _read_ome_zarr(path: Path, group, ms: dict, version: str, chunks,
                   arrays: list) -> Micrograph:
    """The Micrograph of an OME-Zarr image; ``arrays``: its levels, opened once
    (:func:`_level_arrays`). Its metadata's ``store_chunks``: level 0's chunks as
    stored, in the order of the axes it is read with (a store written ``(C, Y, X)`` with
    256 px chunks: ``[256, 256, 3]``), where the store names its axes (not a store of
    NGFF <= 0.2, which names none; ``srmat info`` tells them beside those it is read
    in)."""
    axes_meta = ms.get("axes")
    named = axes_meta is not None  # else the store's order is assumed, not known
    datasets = ms.get("datasets") or []
    if not datasets:
        raise ImageReadError(f"{path}: OME-Zarr multiscales lists no datasets")
    if axes_meta is None:  # NGFF <= 0.2 (0.3 named them): implicit tczyx
        first = arrays[0]
        axes_meta = [{"name": n} for n in "tczyx"[-first.ndim:]]
    names = []
    units: dict[str, str | None] = {}
    for ax in axes_meta:
        name = ax["name"] if isinstance(ax, dict) else str(ax)
        names.append(name.lower())
        units[name.lower()] = ax.get("unit") if isinstance(ax, dict) else None
    src_axes = "".join({"y": "Y", "x": "X", "c": "C", "z": "Z", "t": "T"}.get(n, "Q")
                       for n in names)
    levels = []
    axes = "YX"
    for zarr_arr in arrays:
        arr, axes = _lazy_array(zarr_arr, src_axes, str(path), chunks)
        levels.append(arr)
    scale = _scale_of(datasets[0].get("coordinateTransformations"))
    global_scale = _scale_of(ms.get("coordinateTransformations"))
    sizes: dict[str, float | None] = {}
    values: dict[str, float] = {}  # the scale as it is, in the axes' unit or none
    unknown_units: list[str] = []
    for ax in "xy":
        sizes[ax] = None
        values[ax] = 1.0
        if scale is not None and ax in names and names.index(ax) < len(scale):
            i = names.index(ax)
            value = scale[i] * (global_scale[i] if global_scale and i < len(global_scale)
                                else 1.0)
            values[ax] = value
            factor = _unit_factor(units.get(ax))
            if units.get(ax) is not None and factor is not None:
                sizes[ax] = _valid_size(value * factor)
            elif units.get(ax) is not None and str(units[ax]) not in unknown_units:
                unknown_units.append(str(units[ax]))
    for ax, other in (("y", "x"), ("x", "y")):
        if sizes[other] is not None and units.get(ax) is None and sizes[ax] is None and (
                ax in names and names.index(ax) < len(scale)):
            # a spatial axis without a unit beside one in a length unit: its scale is in
            # that unit (a y scale twice the x one was read as square pixels, the x size;
            # a unit on y alone gave no pixel size and dropped the scales without a word)
            sizes[ax] = _valid_size(values[ax] * _unit_factor(units[other]))
    attrs = dict(group.attrs)
    meta = {
        "format": "ome-zarr",
        "ngff_version": version,
        "source_axes": src_axes,
        "zarr_format": int(getattr(group.metadata, "zarr_format", 2)),
        "name": ms.get("name"),
    }
    pixel_size = _pixel_sizes(meta, path, sizes["x"], sizes["y"], "ome-zarr")
    for unit in unknown_units:
        meta.setdefault("read_warnings", []).append(_unknown_unit_note(path, unit))
    if "srmat" in attrs:
        meta["srmat"] = attrs["srmat"]
    stored = [int(c) for c in arrays[0].chunks]
    if named and len(stored) == len(src_axes) and set(axes) <= set(src_axes):
        meta["store_chunks"] = [stored[src_axes.index(a)] for a in axes]
    transforms = (names, units, datasets[0].get("coordinateTransformations"),
                  ms.get("coordinateTransformations"))
    origin = _origin_um(*transforms) if pixel_size else None
    if origin:
        meta["origin_um"] = origin
    elif not pixel_size and all(units.get(ax) is None and ax in names for ax in "yx"):
        # no unit: the store's own coordinates (an SR output's: its input's pixels)
        grid = {"scale": [values["y"], values["x"]],
                "origin": _origin_um(*transforms, unitless=True) or [0.0, 0.0]}
        if grid != {"scale": [1.0, 1.0], "origin": [0.0, 0.0]} and all(
                math.isfinite(v) and v > 0 for v in grid["scale"]):
            meta["unitless_grid"] = grid
    return Micrograph(
        data=levels[0], levels=levels, axes=axes, pixel_size_um=pixel_size, path=path,
        metadata=meta,
    )


def _guess_axes(shape: tuple[int, ...]) -> str:
    """Axes of a Zarr array that names none: a 3-D array is channels-last or -first when
    that axis has at most 4 entries; otherwise its shorter end axis is the extra one,
    channels when last, a stack when first (``"ZYX"``, refused by the stack rule: a
    (10, H, W) Z-stack was read as a 10-channel image, and an (H, W, 5) array as a
    W x 5 px image with H channels).

    Examples
    --------
    >>> [_guess_axes(s) for s in [(8, 9), (8, 9, 3), (3, 8, 9), (10, 128, 150),
    ...                           (128, 150, 5)]]
    ['YX', 'YXC', 'CYX', 'ZYX', 'YXC']
    """
    if len(shape) == 2:
        return "YX"
    if len(shape) == 3:
        if shape[2] <= 4:
            return "YXC"
        if shape[0] <= 4:
            return "CYX"
        return "YXC" if shape[2] < shape[0] else "ZYX"
    return "TZCYX"[-len(shape):] if len(shape) <= 5 else "Q" * len(shape)


#: Axis names of Zarr v3 ``dimension_names`` / xarray's ``_ARRAY_DIMENSIONS`` read as axes.
_DIMENSION_AXES = {"y": "Y", "x": "X", "c": "C", "channel": "C", "channels": "C",
                   "z": "Z", "t": "T", "time": "T"}


def _named_axes(zarr_arr, attrs: dict) -> str | None:
    """The axes a Zarr array names itself (Zarr v3 ``dimension_names``, or xarray's
    ``_ARRAY_DIMENSIONS`` attribute), when every name is one of
    :data:`_DIMENSION_AXES`; else None (then guessed)."""
    names = getattr(getattr(zarr_arr, "metadata", None), "dimension_names", None) \
        or attrs.get("_ARRAY_DIMENSIONS")
    if not names or len(names) != len(zarr_arr.shape) or any(n is None for n in names):
        return None
    axes = [_DIMENSION_AXES.get(str(n).strip().lower()) for n in names]
    if None in axes or len(set(axes)) != len(axes) or not {"Y", "X"} <= set(axes):
        return None
    return "".join(axes)


def _zarr_image(path: Path):
    """The image of a Zarr store: ``(group, multiscales, version)`` of an OME-Zarr, or
    ``(array, None, None)`` of a plain array (the only one of its group; a group of
    several is refused naming them by name, the one order of :func:`read_image` and
    :func:`zarr_image_paths`)."""
    import zarr

    node = _open_zarr(path)
    if isinstance(node, zarr.Group):
        ms, version = _multiscales_attrs(path, node)
        if ms is None and "0" in node and isinstance(node["0"], zarr.Group):
            # bioformats2raw layout: image 0 inside the top-level group
            ms, version = _multiscales_attrs(path, node["0"])
            if ms is not None:
                node = node["0"]
        if ms is not None:
            return node, ms, version or "0.4"
        # by name: Zarr lists a group's members as their metadata arrive, in an order
        # that varies from call to call (until 2026-12-07 the refusal below named them
        # so: read_image and zarr_image_paths, or two reads, listed them differently)
        arrays = sorted(k for k, v in node.members() if isinstance(v, zarr.Array))
        if len(arrays) != 1:
            raise ImageReadError(
                f"{path}: Zarr group has no OME-NGFF 'multiscales' metadata and "
                f"{len(arrays)} arrays ({', '.join(arrays[:5]) or 'none'}); open an array inside it"
            )
        node = node[arrays[0]]
    return node, None, None


def zarr_image_paths(store: str | os.PathLike) -> tuple[Path, tuple[Path, ...]]:
    """The paths of the image :func:`read_image` reads a Zarr store as: the reader's own
    choice, for a caller that must know what of the store is that image (an input given
    again inside the store it lies in, :func:`napari_srmat.outputs.check_distinct_files`).

    The image is the store's OME-NGFF multiscales group, series 0 of a bioformats2raw
    collection (``scan.zarr/0``), or the one array of a plain group or store; its levels
    are the ``datasets`` arrays of the multiscales, or the plain array.

    Parameters
    ----------
    store : str or path-like
        A Zarr store (:func:`is_zarr_store`).

    Returns
    -------
    image : Path
        The multiscales group (``store`` itself, or ``store/0`` of a collection) or the
        plain array (``store`` itself when the store is an array).
    levels : tuple of Path
        The image's arrays, finest first (the plain array alone).

    Raises
    ------
    ImageReadError
        ``store`` is no Zarr store, or read_image refuses it (damaged metadata, a group
        of several arrays and no multiscales, an unfinished output), in its words.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> from pathlib import Path
    >>> from napari_srmat.io import write_ome_zarr
    >>> store = Path(tempfile.mkdtemp()) / "scan.ome.zarr"
    >>> _ = write_ome_zarr(np.zeros((64, 64), np.uint8), store, n_levels=2)
    >>> image, levels = zarr_image_paths(store)
    >>> image == store, [p.name for p in levels]
    (True, ['0', '1'])
    """
    path = Path(store)
    if not is_zarr_store(path):
        raise ImageReadError(f"{path}: not a Zarr store (no .zgroup, .zarray, .zmetadata or "
                             "zarr.json in it)")
    try:
        node, ms, _ = _zarr_image(path)
    except json.JSONDecodeError as exc:
        raise _invalid_json(path, exc) from None
    image = path / node.path
    if ms is None:
        return image, (image,)
    return image, tuple(image / ds["path"] for ds in ms.get("datasets") or [])


#: How many folders up from a Zarr array :func:`_image_of_level` looks for the OME-Zarr
#: image listing it as a level (``image/0``; ``image/scale0/data`` of some writers).
LEVEL_PARENT_DEPTH = 3


def _image_of_level(path: Path) -> tuple | None:
    """``(group, multiscales with this level alone, version, index, image path)`` when the
    Zarr array at ``path`` is a level (a ``datasets`` entry) of an OME-Zarr image in a
    folder above it, else None: the level read on its own keeps its pixel size (a
    level's folder opened inside ``image.ome.zarr`` gave none, without a word). An
    unreadable or damaged folder above is no image (the array is read as it is)."""
    import zarr

    for image_path in list(path.parents)[:LEVEL_PARENT_DEPTH]:
        if not is_zarr_store(image_path):
            continue
        try:
            group = zarr.open_group(str(image_path), mode="r")
            ms, version = _multiscales_attrs(image_path, group)
        except Exception:  # noqa: BLE001 - not a readable group: no image above
            continue
        level = path.relative_to(image_path).as_posix()
        for index, ds in enumerate((ms or {}).get("datasets") or []):
            if ds["path"].strip("/") == level:
                return group, {**ms, "datasets": [ds]}, version or "0.4", index, image_path
    return None


def _all_chunks_written(node, ms: dict | None) -> bool:
    """Whether a Zarr image (:func:`_zarr_image`) is an OME-Zarr that napari-srmat
    completed with every chunk written (``attrs["srmat"]`` carries
    :data:`~napari_srmat.io._write.ALL_CHUNKS_WRITTEN`): an absent chunk is damage."""
    from ._write import ALL_CHUNKS_WRITTEN

    srmat = node.attrs.get("srmat") if ms is not None else None
    return isinstance(srmat, dict) and srmat.get(ALL_CHUNKS_WRITTEN) is True


def _missing_chunks(array) -> tuple[int, int]:
    """``(absent, all)`` chunks (shards of a sharded array) of a Zarr array, from one
    listing of its store (:func:`_stored_keys`): no chunk is read or decoded.

    Zarr's ``nchunks_initialized`` looks each chunk key up in a list (1.8 s for a level
    of 10 000 chunks on a local disk); this looks each key up in the set listed.
    """
    import itertools

    grid = [-(-int(n) // int(c)) for n, c in zip(array.shape, array.shards or array.chunks,
                                                 strict=True)]
    prefix = f"{array.store_path.path}/" if array.store_path.path else ""
    stored, key = _stored_keys(array.store_path.store, prefix), array.metadata.encode_chunk_key
    if math.prod(grid) <= len(stored):
        n_stored = sum(prefix + key(ix) in stored for ix in itertools.product(*map(range, grid)))
    else:  # more chunks than files (a shape of 10^9 x 10^9 px): look up the files instead
        n_stored = sum(_is_chunk_key(k[len(prefix):], grid, key) for k in stored
                       if k.startswith(prefix))
    return math.prod(grid) - n_stored, math.prod(grid)


def _is_chunk_key(name: str, grid: Sequence[int], key: Callable[[tuple], str]) -> bool:
    """Whether ``name`` (a file of a level, from its folder) is the key ``key`` gives a
    chunk of ``grid`` (its numbers, in the grid, encoded back to ``name``): the count of
    :func:`_missing_chunks` by the files when the grid has more chunks than files."""
    numbers = tuple(int(n) for n in re.findall(r"\d+", name))
    return (len(numbers) == len(grid) and all(n < g for n, g in zip(numbers, grid))
            and key(numbers) == name)


def _stored_keys(store, prefix: str) -> set[str]:
    """The keys of the files a Zarr 3 ``store`` holds under ``prefix`` (``"0/"``: a
    level's chunks and metadata).

    A local store (``zarr.storage.LocalStore``) is walked with ``os.scandir``, whose
    entries say whether they are files without a ``stat`` each: the same keys as the
    store's own ``list_prefix`` (``Path.rglob``, a ``stat`` per file; 0.13 s against
    0.008 s for a level of 10 000 chunks, ``benchmarks/bench_chunk_guard.py``). Other
    stores are listed by Zarr.
    """
    from zarr.core.sync import sync
    from zarr.storage import LocalStore

    if isinstance(store, LocalStore):
        root = Path(store.root)
        keys: set[str] = set()
        folders = [(root / prefix.rstrip("/"), prefix)] if prefix else [(root, "")]
        while folders:
            folder, key = folders.pop()
            try:
                entries = list(os.scandir(folder))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):  # as Zarr's rglob (a link to a
                    # folder is not walked: no loop), files through links counted
                    # (test_a_link_loop_inside_a_marked_store_does_not_stop_its_read)
                    folders.append((entry.path, f"{key}{entry.name}/"))
                elif entry.is_file():
                    keys.add(key + entry.name)
        return keys

    async def listing() -> set[str]:
        return {key async for key in store.list_prefix(prefix)}

    return sync(listing())


def _level_arrays(path: Path, node, ms: dict | None) -> list:
    """The Zarr arrays of a Zarr image (:func:`_zarr_image`): every level of an
    OME-Zarr, or the plain array. Opened once per read: the all-chunks check, the
    pixels and ``--verify``'s count share them."""
    arrays = [node] if ms is None else [_dataset(path, node, ds)
                                        for ds in ms.get("datasets") or []]
    for array in arrays:
        _check_chunk_grid(path, array)
    return arrays


def _refuse_missing_chunks(path: Path, node, ms: dict | None, arrays: list) -> None:
    """Refuse a store napari-srmat completed with every chunk that lacks some, in any
    level (:class:`DamagedStoreError`: a damaged level 0 reads as zeros, a damaged
    coarser level shows holes when napari shows the image zoomed out); any other store
    is read as it is (one listing of each level for a marked store, nothing for
    others); ``arrays``: its levels (:func:`_level_arrays`)."""
    if not _all_chunks_written(node, ms) or not ms.get("datasets"):
        return
    stored = _stored_chunks(node, ms, arrays)
    if stored["damaged"]:  # level 0 as "N of M chunks", another as "... of level L"
        said = ", ".join(f"{lv['n_missing']} of {lv['n_chunks']} chunks"
                         + (f" of level {lv['level']}" if lv["level"] else "")
                         for lv in stored["levels"] if lv["n_missing"])
        raise DamagedStoreError(f"{path} is damaged: {said} missing "
                                f"(srmat info --verify {path} tells more)")


def _read_zarr(path: Path, chunks, *, refuse_damaged: bool = True,
               opened: list[tuple[Any, dict | None, list]] | None = None) -> Micrograph:
    """The Micrograph of a Zarr store; ``opened`` (a list) gets ``(node, multiscales,
    level arrays)`` of :func:`_zarr_image` and :func:`_level_arrays`, for a caller that
    counts its chunks without opening it again (:func:`verify_image_job`)."""
    node, ms, version = _zarr_image(path)
    arrays = _level_arrays(path, node, ms)
    if opened is not None:
        opened.append((node, ms, arrays))
    if refuse_damaged:
        _refuse_missing_chunks(path, node, ms, arrays)
    if ms is not None:
        return _read_ome_zarr(path, node, ms, version, chunks, arrays)
    image = _image_of_level(path)
    if image is not None:
        group, level_ms, level_version, index, image_path = image
        level_arrays = _level_arrays(image_path, group, level_ms)
        if refuse_damaged:  # the store's mark covers its levels read one by one too
            _refuse_missing_chunks(image_path, group, level_ms, level_arrays)
        mic = _read_ome_zarr(path, group, level_ms, level_version, chunks, level_arrays)
        mic.metadata.setdefault("read_warnings", []).append(
            f"{path}: level {index} of the OME-Zarr image {image_path}, read as an image "
            "of its own with that level's pixel size; open it for the whole pyramid "
            f"({image_path})")
        return mic
    zarr_arr = node
    attrs = dict(zarr_arr.attrs)
    src_axes = attrs.get("axes") if isinstance(attrs.get("axes"), str) else None
    src_axes = src_axes or _named_axes(zarr_arr, attrs) or _guess_axes(tuple(zarr_arr.shape))
    arr, axes = _lazy_array(zarr_arr, src_axes, str(path), chunks)
    meta = {"format": "zarr", "source_axes": src_axes,
            "zarr_format": int(getattr(zarr_arr.metadata, "zarr_format", 2))}
    pixel_size = _pixel_sizes(meta, path, _valid_size(attrs.get("pixel_size_um")), None,
                              "zarr-attrs")
    return Micrograph(data=arr, levels=[arr], axes=axes, pixel_size_um=pixel_size, path=path,
                      metadata=meta)


# --------------------------------------------------------------------------- public


def read_image(path: str | os.PathLike, *, chunks: int | tuple | None = None) -> Micrograph:
    """Open a micrograph lazily as Dask arrays.

    Parameters
    ----------
    path : path-like
        PNG, JPEG (BMP/GIF/WebP via Pillow too), TIFF/BigTIFF/OME-TIFF (multiscale
        series become ``levels``), a Zarr array, or an OME-Zarr multiscale group
        (OME-NGFF 0.4 on Zarr v2 or 0.5 on Zarr v3).
    chunks : int or tuple, optional
        Spatial chunk size of the returned Dask arrays (default 2048); the channel
        axis is always one chunk.

    Returns
    -------
    Micrograph
        ``data`` is ``(H, W)`` or ``(H, W, C)`` (singleton T/Z/C squeezed,
        channel-first stores moved to channels-last), ``pixel_size_um`` comes from
        OME metadata, ImageJ metadata, TIFF resolution tags (inch/cm; the 72/96 dpi
        defaults are ignored), OME-Zarr ``coordinateTransformations`` or PNG ``pHYs``.
        Where the file gives different X and Y sizes (more than 1 % apart,
        :data:`~napari_srmat.io._pixel.SQUARE_PIXEL_TOLERANCE`) ``pixel_size_um`` is the
        X size, ``metadata["pixel_size_yx_um"]`` holds ``[Y, X]``, a ``UserWarning``
        says so once, and measurements report no µm figures for it.

    Raises
    ------
    ImageReadError
        If the file is missing, truncated, corrupt or of an unsupported kind, has no
        pixels, or its pixels are not bool, integer or float (a Zarr array of complex
        numbers or text).
    DamagedStoreError
        (An ``ImageReadError``.) A Zarr store napari-srmat completed with every chunk
        written lacks chunks of a level (deleted or lost files that would read as
        zeros); ``srmat info --verify`` tells more.
    TypeError
        ``path`` is not a ``str`` or path-like (e.g. an array: it needs no reading).

    Examples
    --------
    >>> m = read_image("scan.jpg")  # doctest: +SKIP
    >>> m.data.shape, m.axes, m.pixel_size_um  # doctest: +SKIP
    ((900, 1330, 3), 'YXC', None)
    """
    return _read_image(path, chunks, refuse_damaged=True)


def _read_image(path, chunks, *, refuse_damaged: bool,
                opened: list[tuple[Any, dict | None, list]] | None = None) -> Micrograph:
    """:func:`read_image`; ``refuse_damaged=False`` reads a damaged store too (absent
    chunks as zeros), for :func:`image_info` and :func:`verify_image_job`, which tell
    the damage; ``opened``: as :func:`_read_zarr`'s, for a Zarr store."""
    path = path_arg(path, "read_image")
    _spatial_chunks(chunks)  # a bad chunks argument fails before the file is read
    fmt = _detect_format(path)
    with warnings.catch_warnings(), _quiet_tifffile():  # the readers' libraries' own
        warnings.simplefilter("ignore")  # warnings and log lines are noise here
        micrograph = _read_by_format(path, fmt, chunks, refuse_damaged, opened)
    check_file_pixels(path, micrograph.data.dtype)
    if 0 in micrograph.data.shape[:2]:  # a Zarr array of shape (0, W) was read as an image
        raise ImageReadError(f"{path}: the image has no pixels (shape "
                             f"{tuple(int(n) for n in micrograph.data.shape)})")
    channels = channel_rule_note(micrograph.data.shape if micrograph.axes == "YXC" else (),
                                 source=str(path))
    if channels:
        micrograph.metadata.setdefault("read_warnings", []).append(channels)
    for message in micrograph.metadata.get("read_warnings", ()):
        warnings.warn(message, UserWarning, stacklevel=3)  # read_image's caller
    return micrograph


@contextlib.contextmanager
def _quiet_tifffile():
    """Drop tifffile's log records while a file is opened: on a damaged TIFF it logs each
    tag and series it cannot parse (several lines on stderr) before the one
    :class:`ImageReadError` that says what is wrong."""
    log = logging.getLogger("tifffile")
    drop = logging.Filter("tifffile-quiet")  # matches no logger name: drops everything
    log.addFilter(drop)
    try:
        yield
    finally:
        log.removeFilter(drop)


def _read_by_format(path: Path, fmt: str, chunks, refuse_damaged: bool = True,
                    opened: list[tuple[Any, dict | None, list]] | None = None
                    ) -> Micrograph:
    if fmt in ("png", "jpeg", "pil"):
        return _read_pil(path, fmt, chunks)
    if fmt == "tiff":
        return _read_tiff(path, chunks)
    if fmt == "bioio":
        return read_with_bioio(path, chunks=chunks)
    try:
        return _read_zarr(path, chunks, refuse_damaged=refuse_damaged, opened=opened)
    except json.JSONDecodeError as exc:
        raise _invalid_json(path, exc) from None


def _invalid_json(path: Path, exc: json.JSONDecodeError) -> ImageReadError:
    """The error of a Zarr store whose metadata (.zarray, .zattrs, zarr.json) is damaged."""
    return ImageReadError(f"cannot read {path}: its Zarr metadata is not valid JSON ({exc})")


def _chunk_summary(arr) -> list[int]:
    return [int(c[0]) for c in arr.chunks]


def image_info(path: str | os.PathLike) -> dict:
    """Describe an image without loading its pixels (PNG/JPEG are decoded once).

    Parameters
    ----------
    path : path-like
        Any file :func:`read_image` accepts.

    Returns
    -------
    dict
        ``path``, ``format``, ``shape``, ``dtype``, ``chunks`` (size of the first
        chunk along each axis), ``axes``, ``pixel_size_um``, ``pixel_size_source`` (a
        key of :data:`PIXEL_SIZE_SOURCES`, None without a size), ``n_levels``,
        ``level_shapes``, ``size_bytes`` (uncompressed level 0).

    Raises
    ------
    ImageReadError
        See :func:`read_image` (a damaged store is described, not refused).
    """
    m = _read_image(path, None, refuse_damaged=False)
    return {
        "path": str(m.path),
        "format": m.format,
        "shape": list(m.shape),
        "dtype": str(m.dtype),
        "chunks": _chunk_summary(m.data),
        "axes": m.axes,
        "pixel_size_um": m.pixel_size_um,
        "pixel_size_source": m.metadata.get("pixel_size_source"),
        "n_levels": m.n_levels,
        "level_shapes": [list(int(s) for s in lv.shape) for lv in m.levels],
        "size_bytes": int(np.prod(m.shape)) * m.dtype.itemsize,
        "metadata": {k: v for k, v in m.metadata.items() if _jsonable(v)},
    }


def _jsonable(value) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True



#: Unreadable blocks listed by :func:`verify_image_job` before it stops listing.
MAX_REPORTED_BAD_BLOCKS = 10
#: Block side (pixels) read by :func:`verify_image_job`: small enough to say where the
#: damage is, large enough to read few chunks more than once.
VERIFY_BLOCK = 256


def verify_image_job(path: str | os.PathLike, *, block: int = VERIFY_BLOCK, stop=None):
    """Decode every chunk of every level of an image and report those that fail (job).

    :func:`image_info` reads metadata only; a damaged chunk (truncated file, failed
    decompression) shows only when its pixels are read. This reads them all, block by
    block, in bounded memory, and counts the absent chunks of a Zarr store (read as
    zeros without an error).

    Parameters
    ----------
    path : path-like
        Any image :func:`read_image` opens.
    block : int
        Side of the blocks read (and reported), in pixels.
    stop : StopToken, optional
        Checked between blocks.

    Yields
    ------
    Progress
        ``Progress(done, total, stage="verify")`` per block.

    Returns
    -------
    dict or None
        ``{"path", "ok", "n_blocks", "n_bad", "bad": [{"level", "block", "rows",
        "columns", "error"}, ...], "chunks"}`` (at most :data:`MAX_REPORTED_BAD_BLOCKS`
        listed), or None when stopped. ``chunks`` counts the absent chunks of a Zarr
        store (:func:`_stored_chunks`; None for other files): ``ok`` is False when a
        store that napari-srmat completed with every chunk lacks some.
    """
    import itertools

    from ..jobs import Progress, Stopped

    opened: list[tuple[Any, dict | None, list]] = []  # the store as read, counted below
    mg = _read_image(path, block, refuse_damaged=False, opened=opened)  # damage counted
    # listing the store is cheap next to decoding it, and only --verify does it
    stored = _stored_chunks(*opened[0]) if opened else None
    grids = []
    for lv, arr in enumerate(mg.levels):
        bounds = [np.cumsum((0, *c)) for c in arr.chunks[:2]]
        grids.append((lv, arr, bounds))
    total = sum((len(b[0]) - 1) * (len(b[1]) - 1) for _, _, b in grids)
    done, n_bad, bad = 0, 0, []
    yield Progress(0, total, stage="verify")
    for lv, arr, (ys, xs) in grids:
        for iy, ix in itertools.product(range(len(ys) - 1), range(len(xs) - 1)):
            if stop is not None and stop.stop_requested:
                yield Stopped(f"verification stopped after {done} of {total} blocks")
                return None
            rows, cols = (int(ys[iy]), int(ys[iy + 1])), (int(xs[ix]), int(xs[ix + 1]))
            try:
                np.asarray(arr[rows[0]:rows[1], cols[0]:cols[1]].compute())
            except MemoryError:
                raise
            except Exception as exc:  # every codec has its own error types
                n_bad += 1
                if len(bad) < MAX_REPORTED_BAD_BLOCKS:
                    bad.append({"level": lv, "block": [iy, ix], "rows": list(rows),
                                "columns": list(cols),
                                "error": f"{type(exc).__name__}: {exc}"})
            done += 1
            yield Progress(done, total, stage="verify")
    damaged = stored is not None and stored["damaged"]
    return {"path": str(path), "ok": n_bad == 0 and not damaged, "n_blocks": total,
            "n_bad": n_bad, "bad": bad, "chunks": stored}


def _stored_chunks(node, ms: dict | None, arrays: list) -> dict:
    """Count the chunks of each level of a Zarr store that are absent (lists the store).

    Zarr reads an absent chunk as its fill value, so a store whose chunk files were
    deleted reads as zeros without an error. In a complete store that napari-srmat
    wrote with every chunk (``attrs["srmat"]`` carries
    :data:`~napari_srmat.io._write.ALL_CHUNKS_WRITTEN`) an absent chunk is damage;
    in another store it may be a chunk of fill values Zarr chose not to write.

    Parameters
    ----------
    node, ms
        The store as :func:`_zarr_image` opened it.
    arrays : list
        Its levels (:func:`_level_arrays`), opened once per read.

    Returns
    -------
    dict
        ``{"n_chunks", "n_missing", "levels": [{"level", "n_chunks", "n_missing"}],
        "all_chunks_written", "damaged"}``.
    """
    levels = [{"level": lv, "n_chunks": total, "n_missing": n} for lv, (n, total)
              in enumerate(map(_missing_chunks, arrays))]
    every = _all_chunks_written(node, ms)
    n_missing = sum(lv["n_missing"] for lv in levels)
    return {"n_chunks": sum(lv["n_chunks"] for lv in levels), "n_missing": n_missing,
            "levels": levels, "all_chunks_written": every,
            "damaged": every and n_missing > 0}


def read_window(array, ylo: int, yhi: int, xlo: int, xhi: int, *,
                step: int = 1) -> np.ndarray:
    """Pixels ``[ylo:yhi:step, xlo:xhi:step]`` of a numpy / dask / zarr array, as numpy.

    The one place lazy pixels are read for processing: a decoding or I/O failure
    (corrupt chunk, missing file) becomes one clear :class:`ImageReadError`.

    Parameters
    ----------
    array : array-like
        ``(H, W[, C])`` pixels.
    ylo, yhi, xlo, xhi : int
        The window.
    step : int
        Every ``step``-th row and column (a strided sample of the window).

    Raises
    ------
    ImageReadError
        The pixels cannot be read or decoded.
    """
    try:
        raw = array[ylo:yhi:step, xlo:xhi:step]
        if hasattr(raw, "compute"):
            raw = raw.compute()
        return np.asarray(raw)
    except MemoryError:
        raise
    except Exception as exc:  # codecs raise many types (zstd, blosc, tifffile, ...)
        raise ImageReadError(
            f"cannot read input pixels rows {ylo}:{yhi}, columns {xlo}:{xhi}: "
            f"{type(exc).__name__}: {exc} (is the file damaged? `srmat info --verify` "
            "checks every chunk)") from exc
