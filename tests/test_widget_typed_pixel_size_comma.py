"""A pixel size typed with a decimal comma is read as with a point."""

from __future__ import annotations

import pytest

from napari_srmat.widgets._qt import typed_pixel_size
from napari_srmat.widgets.layers import WidgetInputError


def test_a_decimal_comma_is_a_decimal_point():
    """Was (F10): "0,5" in a pixel-size field was refused "is not a number". Now one
    decimal comma reads as a point; "1,000.5" and "0,5,1" are still refused."""
    assert typed_pixel_size("0,5") == 0.5
    assert typed_pixel_size(" 0.25 ") == 0.25
    for text in ("1,000.5", "0,5,1", "abc"):
        with pytest.raises(WidgetInputError, match="is not a number"):
            typed_pixel_size(text)
