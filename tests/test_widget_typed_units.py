"""A length typed with its unit in a pixel-size or known-length field ("0.3 µm", "300 nm")
is read in µm (``widgets._qt.typed_number``, the one number rule of those fields)."""

from __future__ import annotations

import pytest

from napari_srmat.widgets._qt import AmbiguousNumberError, typed_number, typed_pixel_size
from napari_srmat.widgets.layers import WidgetInputError


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.3 µm", 0.3),  # the micro sign
        ("0.3 μm", 0.3),  # a Greek mu
        ("0.3µm", 0.3),
        ("0.3 um", 0.3),
        ("0,3 um", 0.3),  # a decimal comma too
        ("300 nm", 0.3),  # converted in decimal: not 0.30000000000000004
        ("300nm", 0.3),
        ("0.0003 mm", 0.3),
        ("2.5e-4 mm", 0.25),
        ("0.3 micron", 0.3),  # any length unit the image readers take
    ],
)
def test_a_number_with_a_length_unit_is_read_in_micrometres(text, value):
    """Was (s49 GUI explorer F10): "0.3 µm" refused "is not a number". Now the unit is
    converted to µm, the same number as typing it in µm."""
    assert typed_pixel_size(text) == value
    assert typed_number(text, "known length") == value


@pytest.mark.parametrize("text", ["0.3 µm/px", "0.3 um / pixel", "300 nm/px"])
def test_a_pixel_size_may_say_per_pixel_a_length_may_not(text):
    """The pixel-size fields are µm/px: "0.3 µm/px" is 0.3; a known length is no size
    per pixel."""
    assert typed_pixel_size(text) == 0.3
    with pytest.raises(WidgetInputError, match="is not a length unit"):
        typed_number(text, "known length")


@pytest.mark.parametrize("text", ["0.3 s", "0.3 px", "5 µm/s", "0.3 kg"])
def test_a_unit_that_is_no_length_is_refused_naming_the_units_taken(text):
    """Refused in one line that names the text, its unit and the units taken."""
    with pytest.raises(WidgetInputError) as info:
        typed_pixel_size(text)
    msg = str(info.value)
    assert msg.startswith(f"pixel size {text!r}: ") and "is not a length unit" in msg
    assert "µm, um, nm or mm" in msg and "\n" not in msg


def test_a_unit_keeps_the_decimal_comma_rules():
    """A unit keeps the comma rules: "1,000 nm" is as ambiguous as "1,000"
    (AmbiguousNumberError, both readings with the unit); "1,000.5 nm" is no number."""
    with pytest.raises(AmbiguousNumberError, match="such as 1000 nm or 1.000 nm"):
        typed_pixel_size("1,000 nm")
    with pytest.raises(WidgetInputError, match="is not a number"):
        typed_pixel_size("1,000.5 nm")
