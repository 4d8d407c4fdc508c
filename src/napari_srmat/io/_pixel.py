"""The one rule for pixel sizes given by a user (CLI flags, library arguments, widgets)."""

from __future__ import annotations

import math
import numbers
from typing import Any

from ..errors import as_scalar

__all__ = ["PixelSizeError", "check_pixel_size", "check_pixel_size_yx", "pixel_size_from_line",
           "pixel_size_from_path", "SQUARE_PIXEL_TOLERANCE", "pixels_square",
           "non_square_message", "pixel_size_yx", "pixel_size_text", "LENGTH_UNIT",
           "GIVE_PIXEL_SIZE", "check_finer_pixel_size"]


class PixelSizeError(ValueError):
    """A pixel size that is not a finite positive number."""


#: The length unit as every human-readable output writes it (CLI lines, help, warnings,
#: reports): "µm", never "um". JSON keys keep their ``_um`` suffix (users' scripts read
#: them).
LENGTH_UNIT = "µm"

#: What a note about a missing pixel size tells its reader to do. Such notes are stored
#: as text before anyone knows who reads them (a file's read warnings, a rescan plan's
#: warnings), so they name no caller's option: the option is called the pixel size in
#: each caller's words (``pixel_size_um=`` in Python, ``--pixel-size-um`` in srmat, the
#: Pixel size widget and the widgets' "Pixel size" fields), the one word all three know.
GIVE_PIXEL_SIZE = f"give the pixel size ({LENGTH_UNIT} per pixel)"


#: Pixel sizes (µm) outside this range are typing errors, not micrographs (10 pm to
#: 10 cm per pixel); beyond it the figures overflow or print hundreds of digits.
PIXEL_SIZE_RANGE_UM = (1e-5, 1e5)


#: Relative difference of a file's Y and X pixel sizes above which its pixels are not
#: square (1 %): the library has one pixel size (the X size), so such an image is
#: measured in pixels only (ℓ̄ in µm and ASTM G are not reported; docs/io.md).
SQUARE_PIXEL_TOLERANCE = 0.01


def pixels_square(y_um: float, x_um: float) -> bool:
    """Whether pixels of ``y_um`` by ``x_um`` are square (within :data:`SQUARE_PIXEL_TOLERANCE`).

    Examples
    --------
    >>> pixels_square(0.5, 0.5), pixels_square(0.501, 0.5), pixels_square(0.25, 0.5)
    (True, True, False)
    """
    y, x = float(y_um), float(x_um)
    return abs(y - x) <= SQUARE_PIXEL_TOLERANCE * max(abs(y), abs(x))


def given_pixel_size_message(given_um: float | tuple[float, float],
                             recorded_um: float | tuple[float, float]) -> str | None:
    """A warning line when a pixel size the user gives differs from the one the file
    records (by more than :data:`SQUARE_PIXEL_TOLERANCE`, on either axis): the given one
    is used, and a typo in it would change every µm figure and G without a word. None
    when they agree.

    Each size is one number or ``(Y, X)`` sizes (:func:`check_pixel_size_yx`'s forms).

    Examples
    --------
    >>> given_pixel_size_message(0.5, 0.5) is None
    True
    >>> given_pixel_size_message(0.25, 0.5)
    'the file records 0.5 µm per pixel; the given 0.25 µm (2x smaller) was used'
    >>> given_pixel_size_message(0.5, (0.25, 0.5))
    'the file records (Y, X) = (0.25, 0.5) µm per pixel; the given 0.5 µm was used'
    """
    (gy, gx), (ry, rx) = pixel_size_yx(given_um), pixel_size_yx(recorded_um)
    if pixels_square(gy, ry) and pixels_square(gx, rx):
        return None
    if gy == gx and ry == rx:  # one size each: say how far apart they are
        g, r = gx, rx
        ratio = max(g, r) / min(g, r)
        return (f"the file records {r:.6g} {LENGTH_UNIT} per pixel; the given {g:.6g} "
                f"{LENGTH_UNIT} ({ratio:.3g}x {'larger' if g > r else 'smaller'}) was used")
    return (f"the file records {pixel_size_text(recorded_um)} {LENGTH_UNIT} per pixel; the "
            f"given {pixel_size_text(given_um)} {LENGTH_UNIT} was used")


def pixel_size_text(value: float | tuple[float, float]) -> str:
    """A pixel size (µm, without the unit) as printed: ``0.5`` for one size,
    ``(Y, X) = (0.25, 0.5)`` for ``(Y, X)`` sizes that differ.

    Examples
    --------
    >>> pixel_size_text(0.5), pixel_size_text((0.25, 0.5))
    ('0.5', '(Y, X) = (0.25, 0.5)')
    """
    y_um, x_um = pixel_size_yx(value)
    if y_um == x_um:
        return f"{x_um:.6g}"
    return f"(Y, X) = ({y_um:.6g}, {x_um:.6g})"


def pixel_size_yx(value: float | tuple[float, float] | None) -> tuple[float, float] | None:
    """``(Y, X)`` sizes of a pixel size given as one size or a pair (the forms of
    :func:`check_pixel_size_yx` and :attr:`napari_srmat.io.Micrograph.store_pixel_size`);
    None stays None. The value is not checked (give it through
    :func:`check_pixel_size_yx` first).

    Examples
    --------
    >>> pixel_size_yx(0.5), pixel_size_yx((0.25, 0.5)), pixel_size_yx(None)
    ((0.5, 0.5), (0.25, 0.5), None)
    """
    if value is None:
        return None
    if _is_pair(value):
        return float(value[0]), float(value[1])
    return float(value), float(value)


def finer_grid(scale: Any, origin: Any, factor: float
               ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Pixel size and pixel-``(0, 0)`` centre of a ``factor``-times finer grid covering
    the same area as a grid of pixel size ``scale`` whose pixel ``(0, 0)`` is centred at
    ``origin`` (per axis, any unit): the one placement rule of a super-resolved image.

    Pixel ``i`` of the coarse grid covers ``[i - 1/2, i + 1/2]`` in its index units; fine
    pixel ``j`` covers ``[j/f - 1/2, (j + 1)/f - 1/2]``, centred at ``(j + 1/2)/f - 1/2``,
    so the fine grid has pixel size ``scale / f`` and origin
    ``origin + scale * (1/f - 1) / 2``: ``(s - 1)/(2s)`` of a coarse pixel up-left of
    ``origin`` (3/8 px, 1.5 fine px at x4; unchanged at ``f = 1``).

    Examples
    --------
    >>> finer_grid((0.5, 0.5), (0.0, 0.0), 4)
    ((0.125, 0.125), (-0.1875, -0.1875))
    """
    s = [float(v) for v in scale]
    return (tuple(v / factor for v in s),
            tuple(float(t) + v * (1.0 / factor - 1.0) / 2.0 for t, v in zip(origin, s)))


def check_finer_pixel_size(pixel_size_um: float | tuple[float, float] | None, factor: int,
                           *, source: str | None = None) -> None:
    """The one rule for the pixel size of an output ``factor`` times finer than its input
    (a x4 super-resolved store records ``pixel_size_um / 4``): like every pixel size it
    must lie in :data:`PIXEL_SIZE_RANGE_UM`, checked before the output is started (the
    store's writer refused it after the model was loaded, naming ``pixel_size_um`` and a
    size the user never gave).

    Parameters
    ----------
    pixel_size_um : float or (float, float) or None
        The input's pixel size, already checked (:func:`check_pixel_size_yx`); None:
        unknown, nothing to check.
    factor : int
        How many output pixels one input pixel becomes per axis.
    source : str, optional
        The file the size was read from (named in the message); None: given by the
        caller.

    Raises
    ------
    PixelSizeError
        The output's pixel size lies outside :data:`PIXEL_SIZE_RANGE_UM`.

    Examples
    --------
    >>> check_finer_pixel_size(0.5, 4)
    >>> check_finer_pixel_size(2e-5, 4)
    Traceback (most recent call last):
    ...
    napari_srmat.io._pixel.PixelSizeError: the pixel size given, 2e-05 µm, is too fine ...
    """
    if pixel_size_um is None:
        return
    given = pixel_size_yx(pixel_size_um)
    finer = tuple(v / factor for v in given)
    lo, hi = PIXEL_SIZE_RANGE_UM
    if all(lo <= v <= hi for v in finer):
        return
    what = (f"{source} records {pixel_size_text(given)} {LENGTH_UNIT} per pixel: too fine"
            if source else
            f"the pixel size given, {pixel_size_text(given)} {LENGTH_UNIT}, is too fine")
    fix = "if the file's is wrong" if source else "of the input"
    raise PixelSizeError(
        f"{what} for a x{factor} output, whose pixel size would be "
        f"{pixel_size_text(finer)} {LENGTH_UNIT}, outside the {lo:g}-{hi:g} {LENGTH_UNIT} "
        f"napari-srmat records; {GIVE_PIXEL_SIZE} {fix}")


#: How :func:`non_square_message` begins (the reader's note that a file's pixel size is
#: withheld; a pixel size the user gives replaces it, and its note).
NON_SQUARE_PREFIX = "pixels are not square "


def non_square_message(y_um: float, x_um: float) -> str:
    """The one line that says an image's pixels are not square and what follows from it.

    The reader's warning, ``srmat info`` and the warnings of the measurements that
    withhold µm figures for such an image all say this.

    Examples
    --------
    >>> non_square_message(0.25, 0.5)
    'pixels are not square (X 0.5 µm, Y 0.25 µm): grain-size measurements give ℓ̄ ...'
    """
    return (f"{NON_SQUARE_PREFIX}(X {float(x_um):.6g} {LENGTH_UNIT}, Y {float(y_um):.6g} "
            f"{LENGTH_UNIT}): grain-size measurements give ℓ̄ in px only, without "
            f"{LENGTH_UNIT} and ASTM G "
            "(pixel_size_um is the X size), until it is resampled to square pixels; "
            "super-resolution, boundaries and rescan plans keep both sizes")


def check_pixel_size(value: Any, *, name: str = "pixel_size_um") -> float | None:
    """Validate a pixel size in micrometres per pixel.

    Every entry that accepts a pixel size (``measure_intercepts``, the synthetic
    generator, the OME-Zarr writers, tiling, the audit report, the ``srmat`` flags and
    the widgets) goes through this function, so ``inf``, ``nan``, zero and negative
    values are refused in one place instead of producing ``G = -inf``.

    Parameters
    ----------
    value : float or None
        The pixel size; ``None`` means unknown and is returned unchanged. A ``(Y, X)``
        pair is refused, in words that say whether it is square
        (:func:`check_pixel_size_yx`'s rule) and, if it is, which one size to give.
    name : str
        Name used in the message (e.g. the CLI flag).

    Returns
    -------
    float or None

    Raises
    ------
    PixelSizeError
        If ``value`` is not a finite number > 0 (bools and strings are refused too) or
        lies outside :data:`PIXEL_SIZE_RANGE_UM`.
    """
    if value is None:
        return None
    if _is_pair(value):  # a (Y, X) pair, as the writers and the models take it: refused
        # by name (callers keep the value given, so it is not turned into one size here)
        v = check_pixel_size_yx(value, name=name)
        if isinstance(v, tuple):
            raise PixelSizeError(
                f"{name} (Y, X) = ({v[0]:g}, {v[1]:g}) {LENGTH_UNIT} is not square: this "
                "takes one size, for square pixels; resample the image to square pixels "
                "first")
        raise PixelSizeError(f"{name} takes one size here, got the pair {value!r}: give "
                             f"{v:g}")
    return _one_size(value, name)


def _is_pair(value: Any) -> bool:
    """A sequence given as a pixel size (a list, tuple or array with an axis)."""
    return isinstance(value, tuple | list) or bool(getattr(value, "ndim", 0))


def _one_size(value: Any, name: str) -> float:
    """One pixel size: a finite number > 0 within :data:`PIXEL_SIZE_RANGE_UM` (a 0-d
    array as its number, :func:`~napari_srmat.errors.as_scalar`)."""
    number = as_scalar(value)
    ok = isinstance(number, numbers.Real) and not isinstance(number, bool)
    v = float(number) if ok else math.nan
    if not (math.isfinite(v) and v > 0):
        raise PixelSizeError(
            f"{name} must be a finite positive number (micrometres per pixel), got {value!r}"
        )
    lo, hi = PIXEL_SIZE_RANGE_UM
    if not lo <= v <= hi:
        raise PixelSizeError(f"{name} must be between {lo:g} and {hi:g} micrometres per "
                             f"pixel, got {value!r}")
    return v


def check_pixel_size_yx(value: Any, *, name: str = "pixel_size_um"
                        ) -> float | tuple[float, float] | None:
    """A pixel size that may be given per axis: None, one size, or ``(Y, X)`` sizes.

    Each size goes through :func:`check_pixel_size`. A pair that is square within
    :data:`SQUARE_PIXEL_TOLERANCE` becomes its X size (the readers' rule,
    :attr:`napari_srmat.io.Micrograph.pixel_size_um`); writers of stores take the result
    as their ``scale`` (one size, or a per-axis pair).

    Raises
    ------
    PixelSizeError
        A bad size, or a sequence that is not a pair.

    Examples
    --------
    >>> check_pixel_size_yx((0.25, 0.5))
    (0.25, 0.5)
    >>> check_pixel_size_yx([0.5, 0.501])
    0.501
    >>> check_pixel_size_yx(0.5)
    0.5
    """
    if value is None:
        return None
    if _is_pair(value):
        if len(value) != 2:
            raise PixelSizeError(f"{name} must be one size or a (Y, X) pair, got {value!r}")
        y = _one_size(value[0], f"{name} (Y)")
        x = _one_size(value[1], f"{name} (X)")
        return x if pixels_square(y, x) else (y, x)
    return _one_size(value, name)


def pixel_size_from_line(start: Any, end: Any, known_length_um: Any) -> float:
    """Pixel size from a line drawn over a feature of known length.

    Draw a line along a stage micrometer's divisions or the micrograph's own scale bar;
    its length in pixels and the length it covers give the pixel size. The 2-point case
    of :func:`pixel_size_from_path`.

    Parameters
    ----------
    start, end : (row, col)
        The line's ends in the image's pixel coordinates.
    known_length_um : float
        The length the line covers, in micrometres.

    Returns
    -------
    float
        Micrometres per pixel (checked by :func:`check_pixel_size`).

    Raises
    ------
    PixelSizeError
        If the known length is not a finite positive number, or the line has no length.

    Examples
    --------
    >>> pixel_size_from_line((10, 10), (10, 210), 50.0)
    0.25
    """
    return pixel_size_from_path([start, end], known_length_um)


def pixel_size_from_path(vertices: Any, known_length_um: Any) -> float:
    """Pixel size from a line or path (polyline) drawn over a feature of known length.

    The path's length is the sum of its segments' lengths in pixels (a 2-point path is a
    line: its one segment), so a path drawn along the divisions of a bent or segmented
    scale counts every division.

    Parameters
    ----------
    vertices : sequence of (row, col)
        The path's vertices in order, in the image's pixel coordinates (at least two;
        extra leading coordinates, e.g. a plane index, are ignored).
    known_length_um : float
        The length the path covers, in micrometres.

    Returns
    -------
    float
        Micrometres per pixel (checked by :func:`check_pixel_size`).

    Raises
    ------
    PixelSizeError
        If the known length is not a finite positive number, the path has fewer than two
        vertices, or it is shorter than one pixel.

    Examples
    --------
    >>> pixel_size_from_path([(10, 10), (10, 110), (110, 110)], 50.0)
    0.25
    """
    if known_length_um is None:
        raise PixelSizeError(f"give the known length of the line in {LENGTH_UNIT}")
    ok = isinstance(known_length_um, numbers.Real) and not isinstance(known_length_um, bool)
    known = float(known_length_um) if ok else math.nan
    if not (math.isfinite(known) and known > 0):
        raise PixelSizeError("the known length must be a finite positive number of "
                             f"micrometres (the scale bar's length), got {known_length_um!r}")
    points = [[float(v) for v in p][-2:] for p in vertices]
    if len(points) < 2:
        raise PixelSizeError("a calibration line needs at least two points")
    length_px = sum(math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(points, points[1:]))
    if not (math.isfinite(length_px) and length_px >= 1.0):
        raise PixelSizeError("the calibration line is shorter than one pixel: draw it along "
                             "the whole scale bar or micrometer division")
    return check_pixel_size(known / length_px)
