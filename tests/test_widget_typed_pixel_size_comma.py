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


@pytest.mark.parametrize("text", ["1,000", "12,500", " 2,000 "])
def test_a_comma_that_may_group_thousands_is_refused(text):
    """Was (W1): "1,000" read as 1.0 (a decimal comma), 1000 times what a thousands
    separator means, silently. Now refused in one line naming both readings."""
    with pytest.raises(WidgetInputError) as info:
        typed_pixel_size(text)
    msg = str(info.value)
    digits = text.strip()
    assert "ambiguous" in msg and "\n" not in msg
    assert f"{digits.replace(',', '')} or {digits.replace(',', '.')}" in msg


@pytest.mark.parametrize(
    ("text", "value"), [("2,25", 2.25), ("12,5", 12.5), ("0,500", 0.5), ("1000,5", 1000.5)]
)
def test_a_comma_that_cannot_group_thousands_is_a_decimal_point(text, value):
    """Not three digits after the comma, or a first group no thousands grouping has
    ("0,", four digits): a decimal comma, as before."""
    assert typed_pixel_size(text) == value
