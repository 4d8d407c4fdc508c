"""The one rule for pixel sizes given by a user (CLI flags, library arguments, widgets)."""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = ["PixelSizeError", "check_pixel_size"]


class PixelSizeError(ValueError):
    """A pixel size that is not a finite positive number."""


def check_pixel_size(value: Any, *, name: str = "pixel_size_um") -> float | None:
    """Validate a pixel size in micrometres per pixel.

    Every entry that accepts a pixel size (``measure_intercepts``, the synthetic
    generator, the OME-Zarr writers, tiling, the audit report, the ``srmat`` flags and
    the widgets) goes through this function, so ``inf``, ``nan``, zero and negative
    values are refused in one place instead of producing ``G = -inf``.

    Parameters
    ----------
    value : float or None
        The pixel size; ``None`` means unknown and is returned unchanged.
    name : str
        Name used in the message (e.g. the CLI flag).

    Returns
    -------
    float or None

    Raises
    ------
    PixelSizeError
        If ``value`` is not a finite number > 0 (bools and strings are refused too).
    """
    if value is None:
        return None
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    v = float(value) if ok else math.nan
    if not (math.isfinite(v) and v > 0):
        raise PixelSizeError(
            f"{name} must be a finite positive number (micrometres per pixel), got {value!r}"
        )
    return v
