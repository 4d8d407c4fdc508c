"""The one rule that turns a mask (array or file) into a boolean ``(H, W)`` array.

Every place that reads or receives a boundary, twin or exclusion mask -- training and
evaluation data, ``srmat heyn``, ``srmat grain-size``, ``srmat eval-maps``, the Heyn and
planimetric measurements, the grain-size widget -- goes through :func:`as_bool_mask`
(arrays) or :func:`read_mask` (files), so a mask means the same everywhere.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from typing import Any

import numpy as np

from ..errors import check_flag, check_number, exception_reason, not_found_message, os_error_reason
from ._float import all_finite, check_pixel_values, to_float01
from ._read import (
    TRANSPARENT_WORDS,
    DamagedStoreError,
    ImageReadError,
    Micrograph,
    check_file_pixels,
    image_data,
    path_arg,
    pixel_size_note,
    read_image,
    unsupported_file_reason,
)

__all__ = ["MAX_MASK_GREY_FRACTION", "FileMask", "MaskError", "as_bool_mask",
           "cannot_read_message", "check_threshold", "file_not_found", "mask_micrograph",
           "micrograph_as_mask_note", "mid_grey_fraction", "open_mask_file", "read_array",
           "read_mask"]


class MaskError(ValueError):
    """A mask that cannot be turned into a boolean ``(H, W)`` array (shape, values)."""


def kept_colour_channels(n_channels: int) -> int:
    """How many of a ``(H, W, C)`` mask's ``C`` channels the mask rule reads as colour
    (alpha dropped): 1 of grey(+alpha), 3 of RGB(A). Also the memory plan's count
    (:func:`napari_srmat.estimates.plan_mask_measurement`)."""
    return 1 if n_channels in (1, 2) else 3


def _colour_channels(m: np.ndarray) -> np.ndarray:
    """``(H, W, C)`` -> ``(H, W, C')`` without alpha (:func:`kept_colour_channels`)."""
    return m[..., :kept_colour_channels(m.shape[-1])]


def check_threshold(threshold: Any, *, field: str = "threshold") -> float:
    """The rule of a binarisation threshold of a probability map: a number in [0, 1].

    Parameters
    ----------
    threshold : Any
        The value to check.
    field : str
        Its name in the message.

    Returns
    -------
    float

    Raises
    ------
    MaskError
        One line naming ``field``, the range and the value.

    Examples
    --------
    >>> from napari_srmat.io import check_threshold
    >>> check_threshold(0.5)
    0.5
    """
    return check_number(field, threshold, lo=0.0, hi=1.0, error=MaskError)


def as_bool_mask(mask: Any, *, threshold: float | None = None, name: str = "mask",
                 shape: tuple | None = None) -> np.ndarray:
    """A 2-D boolean mask: the one mask rule of napari-srmat.

    The rule, by dtype (True = boundary / inside the mask):

    * **bool**: itself.
    * **integers**: non-zero, except ``uint8`` masks whose maximum is above 1, which are
      0/255 masks binarized ``> 127`` (robust to JPEG/anti-aliasing noise). So 0/1 and
      0/255 ``uint8``, 0/1 and 0/65535 ``uint16`` and label maps (label > 0) all work.
      A signed integer array holding a negative value is not a mask and is refused
      (:class:`MaskError` "... is not a mask: it holds negative values"): random signed
      noise would be ~49 % "boundary", just under the 50 % line of
      :data:`~napari_srmat.metrics.heyn.MAX_BOUNDARY_FRACTION`, and an "ignore" label
      (-1) would be measured as grain interior; leave regions out with an exclusion mask.
    * **floats**: a float array whose values are all exactly 0 or 1 is a mask stored as
      float (non-zero). Any other float array is a *probability map* and needs an
      explicit ``threshold`` (True where ``value >= threshold``); without one it is
      refused (:class:`MaskError`), so a probability map is never silently binarized at
      an arbitrary level.
    * **threshold given**: bool masks, integer masks whose maximum is at most 1 and
      label maps (signed or wider than 16 bits: ``int32``, ``int64``, ...) follow the
      rules above; ``uint8`` / ``uint16`` maps and float maps are probability maps,
      scaled to [0, 1] by :func:`~napari_srmat.io.to_float01` (``uint8`` / 255,
      ``uint16`` / 65535) and compared ``>= threshold``.
    * **channels**: ``(H, W, C)`` masks with C in 1-4 drop an alpha channel (C = 2 or 4)
      and a pixel is True when *any* colour channel is True under the rules above (a red,
      white or grey boundary on black all work; an opaque alpha channel does not make the
      whole image a boundary).

    Dask and Zarr arrays are read into memory.

    Parameters
    ----------
    mask : array-like or Micrograph
        ``(H, W)`` or ``(H, W, C)`` mask (read as :func:`~napari_srmat.io.image_data`
        says).
    threshold : float, optional
        Level for probability maps, in [0, 1] (see above).
    name : str
        Name used in error messages ("boundary mask", "twin mask", ...).
    shape : tuple, optional
        Required ``(H, W)``.

    Returns
    -------
    ndarray of bool, shape (H, W)

    Raises
    ------
    MaskError
        If the mask is not 2-D (after the channel rule), has the wrong shape, has NaN or
        Inf values, negative integers, is a float map without a threshold, or the
        threshold is not in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from napari_srmat.io import as_bool_mask
    >>> as_bool_mask(np.array([[0, 1], [1, 0]], np.uint8)).tolist()
    [[False, True], [True, False]]
    >>> as_bool_mask(np.array([[0, 255], [200, 3]], np.uint8)).tolist()
    [[False, True], [True, False]]
    >>> as_bool_mask(np.array([[0.2, 0.7]]), threshold=0.5).tolist()
    [[False, True]]
    """
    mask, _ = image_data(mask, name=name, intensity=False)
    if hasattr(mask, "compute") and not isinstance(mask, np.ndarray):
        mask = mask.compute()
    m = np.asarray(mask)
    if m.ndim == 3 and m.shape[-1] in (1, 2, 3, 4):
        channels = _colour_channels(m)
        return np.logical_or.reduce(
            [as_bool_mask(channels[..., i], threshold=threshold, name=name, shape=shape)
             for i in range(channels.shape[-1])]
        )
    if m.ndim != 2:
        raise MaskError(f"{name} must be 2-D (H, W), got shape {m.shape}")
    if shape is not None and m.shape != tuple(shape):
        raise MaskError(f"{name} has shape {m.shape}, expected {tuple(shape)}")
    if m.dtype == bool:
        return m
    if not all_finite(m):  # NaN compares False: it would silently be "no boundary"
        raise MaskError(f"{name} has NaN or Inf values: replace them first (e.g. "
                        "numpy.nan_to_num)")
    if m.dtype.kind == "i" and (low := m.min(initial=0)) < 0:  # signed noise, -1 labels
        raise MaskError(f"{name} is not a mask: it holds negative values (down to {low}); "
                        "a mask is 0 and non-zero (boundary) or labels >= 0 (leave regions "
                        "out with an exclusion mask; OpenCV's watershed marks boundaries "
                        "-1: save labels == -1 as the mask)")
    if threshold is not None:
        t = check_threshold(threshold, field=f"threshold for the {name}")
        # probability maps: floats, and 8/16-bit maps beyond 0/1 (label maps, signed or
        # wider, keep the integer rule below)
        if np.issubdtype(m.dtype, np.floating) or (
                m.dtype in (np.uint8, np.uint16) and m.max(initial=0) > 1):
            try:  # the float rule: a float map in 0..255 was "boundary" almost everywhere
                check_pixel_values(m, name=name)
            except ValueError as exc:
                raise MaskError(str(exc)) from None
            return to_float01(m) >= t
    if np.issubdtype(m.dtype, np.integer):
        if m.dtype == np.uint8 and m.max(initial=0) > 1:
            return m > 127
        return m > 0
    if np.issubdtype(m.dtype, np.floating):
        binary = (m == 0) | (m == 1)
        if not binary.all():
            try:  # a 0/255 float mask: "divide by 255", as with a threshold (not a loop
                check_pixel_values(m, name=name)  # of "give a threshold" and back)
            except ValueError as exc:
                raise MaskError(str(exc)) from None
            raise MaskError(
                f"{name} is a float map with values other than 0 and 1 (a probability "
                "map?): give a threshold to binarize it"
            )
        return m == 1
    raise MaskError(f"{name} has unsupported dtype {m.dtype}")


def file_not_found(path: str | os.PathLike, what: str) -> FileNotFoundError:
    """The ``FileNotFoundError`` of a missing input file (a mask, an audit session, a
    segments file): its message is :func:`~napari_srmat.errors.not_found_message`'s, the
    one wording of a missing input (``PATH: WHAT not found``), kept there; this is only
    its exception, for the readers whose callers catch ``FileNotFoundError``
    (``io.file_not_found`` is public: ``metrics.heyn`` and ``audit.session`` use it).

    Examples
    --------
    >>> from napari_srmat.io import file_not_found
    >>> str(file_not_found("a.json", "audit session"))
    'a.json: audit session not found'
    """
    return FileNotFoundError(not_found_message(path, what))


def cannot_read_message(path: str | os.PathLike, what: str,
                        exc: BaseException | str) -> str:
    """``PATH: cannot read WHAT: REASON`` (one line; the reason without the path when it
    starts with it): a file's error starts with its path, as every per-file error of the
    commands that read several files (``srmat heyn``, ``srmat grain-size``, ``srmat audit
    report``). An OS error's reason is its own (``is a directory``), not Python's
    ``[Errno 21] ...`` line.

    Examples
    --------
    >>> from napari_srmat.io import cannot_read_message
    >>> cannot_read_message("a.png", "audit session", "not JSON text")
    'a.png: cannot read audit session: not JSON text'
    >>> cannot_read_message("d", "mask", IsADirectoryError(21, "Is a directory", "d"))
    'd: cannot read mask: is a directory'
    """
    if isinstance(exc, OSError) and exc.strerror:
        exc = os_error_reason(exc)
    reason = exception_reason(exc)
    if reason.startswith(f"{path}: "):
        reason = reason[len(f"{path}: "):]
    return f"{path}: cannot read {what}: {reason}"


def _stored_samples(mic: Micrograph) -> Micrograph:
    """A white-is-zero TIFF's samples as stored: a mask is its stored values.

    :func:`~napari_srmat.io.read_image` inverts white-is-zero grey for display, as
    viewers show it; a binary mask saved with ImageJ's inverting LUT (its default,
    "black background" off) stores the boundary as 255 and is shown black on white, so
    the inverted pixels made every such mask its complement. ImageJ, tifffile and
    scikit-image read the stored values, as 1-bit white-is-zero masks already were."""
    top = mic.metadata.get("white_is_zero_max")
    if top is None:
        return mic

    def undo(level):
        return ~level if level.dtype == bool else (top - level).astype(level.dtype)

    levels = [undo(level) for level in mic.levels]
    metadata = {k: v for k, v in mic.metadata.items()
                if k not in ("photometric", "white_is_zero_max")}
    return dataclasses.replace(mic, data=levels[0], levels=levels, metadata=metadata)


#: The dimensions of a ``.npy`` mask :func:`open_mask_file` takes: ``(H, W)`` and
#: ``(H, W, C)`` (channels first is told by the mask rule, with the axis to move).
NPY_MASK_NDIM = (2, 3)
#: What a ``.npy`` mask or map must hold, told when NumPy cannot load it (an object or
#: pickled array, a truncated or empty file).
NPY_EXPECTED = "not an array of numbers saved by numpy.save"


def open_mask_file(path: str | os.PathLike, *, what: str = "mask") -> Micrograph:
    """Open a mask (or probability-map) file lazily: the one rule for which files hold
    masks, used by :func:`read_array` / :func:`read_mask` (``srmat heyn``,
    ``srmat eval-maps``, training data) and by ``srmat grain-size --mask``.

    Every format :func:`~napari_srmat.io.read_image` reads (PNG, JPEG, TIFF, Zarr,
    OME-Zarr -- e.g. the output of ``srmat edges predict``), plus ``.npy`` (memory-mapped,
    no pixel size).

    Parameters
    ----------
    path : path-like
    what : str
        Word used in error messages ("mask", "boundary mask", "probability map").

    Returns
    -------
    Micrograph
        Its ``data`` as stored (dtype and channels), unread.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ImageReadError
        If the file cannot be decoded, or a ``.npy`` array is not 2-D or 3-D.
    """
    path = path_arg(path, "open_mask_file", example="mask.png")
    if not path.exists():
        raise file_not_found(path, what)
    if path.suffix.lower() != ".npy":
        try:
            with warnings.catch_warnings():  # a mask's transparent background is its
                warnings.filterwarnings(  # background: no crop-the-border advice
                    "ignore", message=f".*{TRANSPARENT_WORDS}", category=UserWarning)
                return _stored_samples(read_image(path))
        except DamagedStoreError:
            raise  # its one line names the store and what tells more
        except ImageReadError as exc:
            raise ImageReadError(cannot_read_message(path, what, exc)) from None
    import dask.array as da

    try:  # an OSError (permission denied) goes on as itself: the system's, exit 1
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, EOFError):  # not NumPy's words ("Array can't be memory-mapped")
        raise ImageReadError(cannot_read_message(path, what, unsupported_file_reason(
            ".npy", NPY_EXPECTED))) from None
    check_file_pixels(path, arr.dtype)
    if arr.ndim not in NPY_MASK_NDIM:  # a 0-d or 1-d array failed in the memory plan
        raise ImageReadError(f"{path}: a {what} is an (H, W) or (H, W, C) array, got "
                             f"shape {arr.shape}")
    data = da.from_array(arr, chunks=-1)
    axes = {2: "YX", 3: "YXC"}[arr.ndim]
    return Micrograph(data=data, levels=[data], axes=axes, path=path,
                      metadata={"format": "npy"})


def _opened(path: Any, func: str, what: str, **hint: str) -> Micrograph:
    """The mask file ``path`` opened by :func:`open_mask_file`, or ``path`` itself when it
    is a file's Micrograph already (its samples as stored)."""
    if isinstance(path, Micrograph) and path.path is not None:
        return _stored_samples(path)
    return open_mask_file(path_arg(path, func, example="mask.png", **hint), what=what)


def read_array(path: str | os.PathLike, *, what: str = "image",
               return_pixel_size: bool = False, notes: list | None = None):
    """Read a small image file fully into memory as a NumPy array.

    Every format :func:`~napari_srmat.io.read_image` reads (PNG, JPEG, TIFF, Zarr,
    OME-Zarr -- e.g. the output of ``srmat edges predict``), plus ``.npy``.

    Parameters
    ----------
    path : path-like or Micrograph
        The file, or what :func:`open_mask_file` returned for it: read from that, not
        opened (a PNG or TIFF decoded) again, e.g. after its size was checked.
    what : str
        Word used in error messages ("mask", "probability map").
    return_pixel_size : bool
        Also return the file's pixel size in µm (None when unknown, always for ``.npy``,
        and for a file whose pixels are not square: the rule of
        :func:`~napari_srmat.io.image_data`).
    notes : list, optional
        Receives the line that says why a file gives no pixel size although it records
        one (pixels not square, or a print resolution only), for a caller's report.

    Returns
    -------
    ndarray or (ndarray, float or None)
        ``(H, W)`` or ``(H, W, C)``, the stored dtype.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ImageReadError
        If the file cannot be decoded.
    """
    mic = _opened(path, "read_array", what)
    path = mic.path
    try:
        arr = np.asarray(mic.data.compute())
    except (OSError, RuntimeError, ValueError) as exc:  # e.g. a damaged Zarr chunk
        raise ImageReadError(cannot_read_message(path, what, exc)) from None
    _, px = image_data(mic, name=what, intensity=False, channels_first=True)
    if notes is not None and (why := pixel_size_note(mic)) is not None:
        notes.append(why)  # pixels not square, or a print resolution only
    return (arr, px) if return_pixel_size else arr


#: Largest fraction of a ``uint8`` mask's pixels that may be mid-grey (between 10 % and
#: 90 % of full scale) before it is said to look like a micrograph
#: (:func:`micrograph_as_mask_note`): 0/255 masks, also saved as JPEG, have almost none.
MAX_MASK_GREY_FRACTION = 0.25

#: Pixels per block of :func:`mid_grey_fraction` (bounded temporaries).
_GREY_BLOCK_PX = 1 << 20


def mid_grey_fraction(mask: Any) -> float:
    """Fraction of a ``uint8`` mask's values between 10 % and 90 % of full scale (0 for
    other dtypes): about 0 for 0/255 masks, also JPEG-saved ones; most of a micrograph.

    Counted in blocks of rows (the comparisons of the whole mask at once took twice its
    size in temporaries).

    Examples
    --------
    >>> import numpy as np
    >>> from napari_srmat.io import mid_grey_fraction
    >>> mid_grey_fraction(np.array([[0, 255], [128, 250]], np.uint8))
    0.25
    """
    if np.dtype(getattr(mask, "dtype", np.float64)) != np.uint8:
        return 0.0
    a = np.asarray(mask)
    if a.size == 0:
        return 0.0
    rows = max(1, _GREY_BLOCK_PX // max(1, a[0].size))
    n = 0
    for y in range(0, a.shape[0], rows):
        b = a[y:y + rows]
        n += int(np.count_nonzero((b > 25) & (b < 230)))
    return n / a.size


def micrograph_as_mask_note(mask: Any) -> str | None:
    """A warning line when a ``uint8`` image given as a boundary mask looks like a
    micrograph (:data:`MAX_MASK_GREY_FRACTION`): the mask rule would binarize it
    ``> 127`` and measure its bright pixels as boundaries. None for masks."""
    grey = mid_grey_fraction(mask)
    if grey <= MAX_MASK_GREY_FRACTION:
        return None
    return (f"{100 * grey:.0f}% of the mask's pixels are mid-grey: it looks like a "
            "micrograph, not a boundary mask (its pixels above 127 were taken as boundary); "
            "measure a micrograph with measure_grain_size (srmat grain-size)")


class FileMask(np.ndarray):
    """The boolean ``(H, W)`` mask :func:`read_mask` returns: an ``ndarray`` that keeps
    what its file says of its pixels (its path, pixel size and metadata; not its
    samples), so that a measurement given the mask takes the file's pixel size by the
    rule it takes a :class:`Micrograph`'s (:func:`mask_micrograph`:
    ``measure_intercepts(read_mask(path))`` reports µm and G as ``srmat heyn PATH``
    does; a pixel size given wins, and one that differs from the file's is warned,
    :func:`~napari_srmat.io.pixel_size_note`). Until 2026-12-07 ``read_mask`` returned a
    plain array and that pixel size was lost.

    Only the array :func:`read_mask` returned keeps it: a view, crop, copy or computed
    mask of it (``mask[10:], ~mask, numpy.kron(mask, ...)``: other pixels, perhaps) is a
    mask of unknown pixel size (:attr:`pixel_size_um` None), as a plain array.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from PIL import Image
    >>> from napari_srmat.io import read_mask
    >>> path = Path(tempfile.mkdtemp()) / "mask.tif"
    >>> Image.fromarray(np.eye(8, dtype=np.uint8) * 255).save(
    ...     path, resolution=20000, resolution_unit=3)   # 20000 px per cm: 0.5 µm
    >>> mask = read_mask(path)
    >>> mask.pixel_size_um, mask[2:].pixel_size_um
    (0.5, None)
    """

    #: The file's Micrograph without its samples (``data`` None); None: not read_mask's.
    _file: Micrograph | None = None

    def __array_finalize__(self, obj: Any) -> None:
        self._file = None  # views and computed masks: no file (their pixels may differ)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """Computed on its plain array: ``~mask``, ``mask & other``, ``mask.sum()`` give
        what they give for a plain array (a NumPy scalar, not a 0-d FileMask). Written
        in place (``mask &= roi``, ``numpy.logical_not(mask, out=mask)``) it returns the
        caller's ``out`` arrays, NumPy's contract: the same FileMask, its pixels' geometry
        and so its pixel size kept (until 2026-12-07 a plain array was returned, so
        ``mask &= roi`` rebound ``mask`` to one without its pixel size)."""
        def plain(items: tuple) -> tuple:
            return tuple(x.view(np.ndarray) if isinstance(x, FileMask) else x for x in items)

        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = plain(out)
        result = getattr(ufunc, method)(*plain(inputs), **kwargs)
        if out is None or method == "at":
            return result
        results = result if len(out) > 1 else (result,)
        returned = tuple(r if o is None else o for o, r in zip(out, results, strict=True))
        return returned if len(out) > 1 else returned[0]

    @property
    def pixel_size_um(self) -> float | None:
        """The file's pixel size in µm as :func:`read_mask` gives it
        (``return_pixel_size=True``): None when unknown or not square, or for a mask
        computed from this one."""
        return None if self._file is None else image_data(self._file_micrograph())[1]

    @property
    def path(self) -> Any:
        """The file it was read from (None for a mask computed from it)."""
        return None if self._file is None else self._file.path

    def _file_micrograph(self) -> Micrograph:
        data = self.view(np.ndarray)
        return dataclasses.replace(self._file, data=data, levels=[data], axes="YX")


def _file_mask(mask: np.ndarray, mic: Micrograph) -> FileMask:
    """``mask`` read from ``mic``'s file, keeping the file's pixel size and metadata."""
    out = mask.view(FileMask)
    out._file = dataclasses.replace(mic, data=None, levels=[])  # not its samples
    return out


def mask_micrograph(mask: Any) -> Any:
    """What a measurement reads of ``mask``: a :class:`FileMask` (:func:`read_mask`'s) as
    its file's :class:`Micrograph` holding the mask's pixels, so
    :func:`~napari_srmat.io.image_data` gives the file's pixel size and
    :func:`~napari_srmat.io.pixel_size_note` its notes (a given size that differs from
    it, pixels not square, a print resolution only), the rule of ``srmat heyn``'s files;
    anything else, itself.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_srmat.io._mask import mask_micrograph
    >>> a = np.zeros((4, 4), bool)
    >>> mask_micrograph(a) is a
    True
    """
    if isinstance(mask, FileMask) and mask._file is not None:
        return mask._file_micrograph()
    return mask


def read_mask(path: str | os.PathLike, *, threshold: float | None = None,
              name: str = "mask", return_pixel_size: bool = False,
              notes: list | None = None, shape: tuple[int, int] | None = None):
    """Read a mask file as a boolean ``(H, W)`` array (the rule of :func:`as_bool_mask`).

    Parameters
    ----------
    path : path-like or Micrograph
        Any format :func:`read_array` reads, or what :func:`open_mask_file` returned
        for it (read from that, not opened again).
    threshold : float, optional
        Level for probability maps (float or 8/16-bit maps that are not 0/1 masks).
    name : str
        Name used in error messages.
    return_pixel_size : bool
        Also return the file's pixel size in µm (None when unknown or when the pixels
        are not square, as :func:`read_array`).
    notes : list, optional
        As :func:`read_array`. A file that looks like a micrograph
        (:func:`micrograph_as_mask_note`) is a ``UserWarning``.
    shape : tuple, optional
        Required ``(H, W)`` (the rule of :func:`as_bool_mask`); a mask of another shape
        is refused naming the file (``PATH: twin mask has shape ..., expected ...``).

    Returns
    -------
    FileMask, or (FileMask, float or None)
        A boolean ``ndarray`` that keeps the file's pixel size (:class:`FileMask`):
        ``measure_intercepts(read_mask(path))`` measures in µm too where the file
        records a pixel size. Only this array keeps it: a pickled, copied or sent mask
        (``pickle``, ``copy.copy`` / ``copy.deepcopy``, a worker process, ``numpy.save``)
        is a mask of unknown pixel size (:class:`FileMask`); give ``pixel_size_um`` to
        the measurement there, or send ``return_pixel_size=True``'s size with it.

    Raises
    ------
    FileNotFoundError, ImageReadError, MaskError
    TypeError
        ``path`` is not a ``str`` or path-like (e.g. an array).

    Examples
    --------
    A 0/255 PNG (a diagonal boundary) and a probability map saved as 8-bit grey:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from PIL import Image
    >>> from napari_srmat.io import read_mask
    >>> folder = Path(tempfile.mkdtemp())
    >>> Image.fromarray(np.eye(8, dtype=np.uint8) * 255).save(folder / "mask.png")
    >>> mask = read_mask(folder / "mask.png")
    >>> mask.dtype, mask.shape, int(mask.sum())
    (dtype('bool'), (8, 8), 8)
    >>> Image.fromarray(np.full((8, 8), 153, np.uint8)).save(folder / "prob.png")
    >>> bool(read_mask(folder / "prob.png", threshold=0.5).all())  # 153 / 255 = 0.6
    True
    """
    return_pixel_size = check_flag("return_pixel_size", return_pixel_size)
    if notes is not None and not isinstance(notes, list):  # notes.append(...) below
        raise TypeError(f"notes must be a list (read notes are appended to it), got "
                        f"{type(notes).__name__}")
    mic = _opened(path, "read_mask", name, hint="an array needs no reading: pass it as "
                  "the mask (measure_intercepts, napari_srmat.io.as_bool_mask)")
    path = mic.path
    arr, px = read_array(mic, what=name, return_pixel_size=True, notes=notes)
    if threshold is None and (note := micrograph_as_mask_note(arr)) is not None:
        import warnings

        warnings.warn(f"{path.name}: {note}", UserWarning, stacklevel=2)
    try:
        mask = _file_mask(as_bool_mask(arr, threshold=threshold, name=name, shape=shape), mic)
    except MaskError as exc:
        raise MaskError(f"{path}: {exc}") from None
    return (mask, px) if return_pixel_size else mask
