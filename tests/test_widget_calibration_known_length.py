"""The Calibration widget's known length is read by the number rule of the pixel-size
fields (``widgets._qt.typed_number``): one decimal comma is a decimal point, a length unit
is converted to µm; any finite positive length, not a pixel size's limits."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
from napari_srmat.widgets._common import layer_pixel_size_um  # noqa: E402
from napari_srmat.widgets.calibration_widget import CalibrationWidget  # noqa: E402

pytestmark = pytest.mark.gui


def _widget(viewer, qtbot) -> tuple[CalibrationWidget, object]:
    """The widget on a 200 x 300 image with a 200 px line drawn over its scale bar."""
    img = viewer.add_image(np.zeros((200, 300), np.float32), name="micrograph")
    shapes = viewer.add_shapes(
        [np.array([[180.0, 20.0], [180.0, 220.0]])], shape_type="line", name="scale bar"
    )
    w = CalibrationWidget(viewer)
    qtbot.addWidget(w)
    w.layer_combo.value = img
    w.shapes_combo.value = shapes
    return w, img


@pytest.mark.parametrize("typed", ["0,5", " 0,5 "])
def test_a_known_length_with_a_decimal_comma_calibrates(make_napari_viewer, qtbot, typed):
    """Was: "known length '0,5' is not a number" where the pixel-size field above it takes
    "0,5" (a8883966). Now 0,5 µm over 200 px is 0.0025 µm/px, as "0.5" gives."""
    w, img = _widget(make_napari_viewer(), qtbot)
    w.known_length.setText(typed)
    w.line_btn.click()
    assert layer_pixel_size_um(img) == pytest.approx(0.0025), w.status.text()
    w.known_length.setText("0.5")  # the line stays over the bar: the same reading
    assert w.calibrate_from_line() == pytest.approx(0.0025)


@pytest.mark.parametrize("typed", ["0.5 µm", "0,5µm", "500 nm", "0.0005 mm"])
def test_a_known_length_with_its_unit_calibrates(make_napari_viewer, qtbot, typed):
    """Was (s49 GUI explorer F10): "known length '0.5 µm' is not a positive number of µm:
    type the number only". Now the unit is read: 0.5 µm over 200 px is 0.0025 µm/px."""
    w, img = _widget(make_napari_viewer(), qtbot)
    w.known_length.setText(typed)
    w.line_btn.click()
    assert layer_pixel_size_um(img) == pytest.approx(0.0025), w.status.text()


NOT_A_NUMBER = (
    "is not a number: type a number of µm (such as 0.5 or 0,5) or a number and a length "
    "unit (such as 500 nm)"
)
NOT_POSITIVE = "is not a positive length: type the length the line covers, such as 50 or 50 µm"


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        *((typed, NOT_A_NUMBER) for typed in ("abc", "1,000.5", "0.3 µm px")),
        *((typed, NOT_POSITIVE) for typed in ("0", "-2", "inf", "-2 nm")),
    ],
)
def test_a_known_length_that_is_no_positive_length_is_refused(
    make_napari_viewer, qtbot, typed, said
):
    """Refused in one status line that names the text and says what to type; not a
    number in the words of the pixel-size fields' number rule (``typed_number``: told
    once, the same way; until 2026-12-07 the known length said "type the number only",
    and refused "0.3 µm"); the layer is not calibrated."""
    w, img = _widget(make_napari_viewer(), qtbot)
    w.known_length.setText(typed)
    w.line_btn.click()
    assert w.status.text() == f"known length {typed!r} {said}"
    assert layer_pixel_size_um(img) is None


def test_a_known_length_in_no_length_unit_is_refused(make_napari_viewer, qtbot):
    """A unit that is no length ("px", "/px": a known length is no size per pixel) is
    refused naming the units taken."""
    w, img = _widget(make_napari_viewer(), qtbot)
    for typed in ("50 px", "50 µm/px"):
        w.known_length.setText(typed)
        w.line_btn.click()
        assert "is not a length unit: type µm, um, nm or mm" in w.status.text()
        assert layer_pixel_size_um(img) is None


@pytest.mark.parametrize("typed", ["1,000", "12,500"])
def test_a_known_length_whose_comma_may_group_thousands_is_refused_naming_it(
    make_napari_viewer, qtbot, typed
):
    """Was (R8): "known length '1,000' is not a positive number of µm", its reason lost
    (and before W1 read as 1.0 µm: 0.005 µm/px instead of 5, silently). Now the status
    line says the comma may be a thousands separator and gives both readings."""
    w, img = _widget(make_napari_viewer(), qtbot)
    w.known_length.setText(typed)
    w.line_btn.click()
    msg = w.status.text()
    assert f"known length {typed!r} is ambiguous" in msg, msg
    assert "thousands separator" in msg
    assert f"{typed.replace(',', '')} or {typed.replace(',', '.')}" in msg
    assert layer_pixel_size_um(img) is None


def test_a_known_length_beyond_a_pixel_size_limits_calibrates(make_napari_viewer, qtbot):
    """Was (R8): "200000" (a 20 cm ruler) refused "is not a positive number of µm": the
    known length was checked against a pixel size's 1e-5..1e5 µm limits. Now the pixel
    size comes from the line: 200000 µm over 200 px is 1000 µm/px."""
    w, img = _widget(make_napari_viewer(), qtbot)
    w.known_length.setText("200000")
    w.line_btn.click()
    assert layer_pixel_size_um(img) == pytest.approx(1000.0), w.status.text()


def test_an_empty_known_length_is_asked_for(make_napari_viewer, qtbot):
    """An empty field asks for the length (``pixel_size_from_path``'s words)."""
    w, img = _widget(make_napari_viewer(), qtbot)
    w.line_btn.click()
    assert "give the known length" in w.status.text()
    assert layer_pixel_size_um(img) is None
