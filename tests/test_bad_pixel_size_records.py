"""A layer whose ``metadata["pixel_size_um"]`` is no pixel size (a script's typo) has an
unknown pixel size, said once: never an error in napari's events, never a size used, and
the value is kept as typed (the records that follow the layer's scale never write None
over it). A square ``(Y, X)`` pair is read as the files' per-axis sizes are: its X size."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

pytest.importorskip("napari")
from napari_srmat._napari_io import layer_pixel_size_um  # noqa: E402
from napari_srmat.widgets.calibration_widget import CalibrationWidget  # noqa: E402
from napari_srmat.widgets.heyn_widget import GrainSizeWidget  # noqa: E402

pytestmark = pytest.mark.gui

#: Records that are no pixel size, and a square pair (read as its X size, 0.5 µm).
BAD = [(0.5, 0.5), "0.5 um", {"x": 0.5}, math.nan, -0.5, 0]
IDS = ["square pair", "word", "dict", "nan", "negative", "zero"]
WIDGETS = {"calibration": CalibrationWidget, "heyn": GrainSizeWidget}


def _expected(bad) -> float | None:
    return 0.5 if isinstance(bad, tuple) else None


def _kept(layer, bad) -> None:
    """The layer's record is the one typed (a pair read as 0.5 may be written so)."""
    now = layer.metadata["pixel_size_um"]
    if isinstance(bad, tuple):
        assert now in (bad, 0.5)
    else:
        assert repr(now) == repr(bad)


def _told(caught, bad) -> list[str]:
    said = [str(w.message) for w in caught if "pixel_size_um" in str(w.message)]
    if isinstance(bad, tuple):
        assert said == [], said
    else:  # once, naming the layer and the value
        assert len(said) == 1, said
        assert said[0].startswith("layer 'm': metadata['pixel_size_um']"), said
        assert repr(bad) in said[0] and "treated as unknown" in said[0], said
    return said


@pytest.mark.parametrize("widget", list(WIDGETS))
@pytest.mark.parametrize("bad", BAD, ids=IDS)
def test_a_layer_added_with_a_bad_record_while_a_widget_is_open(make_napari_viewer, bad,
                                                                  widget):
    """Before: viewer.add_image raised TypeError (the pair) inside napari's inserted
    event, as the record-following handler read the size; NaN and -0.5 were taken as
    pixel sizes."""
    viewer = make_napari_viewer()
    w = WIDGETS[widget](viewer)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layer = viewer.add_image(np.zeros((16, 16), np.float32), name="m",
                                 metadata={"pixel_size_um": bad})
        assert layer_pixel_size_um(layer) == _expected(bad)
    _kept(layer, bad)
    _told(caught, bad)
    if widget == "heyn":  # its layer combo followed the new layer
        assert w.layer_combo.value is layer
        assert w.pixel_size_um() == _expected(bad)


@pytest.mark.parametrize("widget", list(WIDGETS))
@pytest.mark.parametrize("bad", BAD, ids=IDS)
def test_a_widget_opened_with_a_bad_record_in_the_viewer(make_napari_viewer, bad, widget):
    """Before: CalibrationWidget(viewer) / GrainSizeWidget(viewer) raised (TypeError for
    the pair) when a layer with such a record was in the viewer."""
    viewer = make_napari_viewer()
    layer = viewer.add_image(np.zeros((16, 16), np.float32), name="m",
                             metadata={"pixel_size_um": bad})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        w = WIDGETS[widget](viewer)
        again = WIDGETS[widget](viewer)  # said once, not at each widget
    _kept(layer, bad)
    _told(caught, bad)
    if widget == "heyn":
        for each in (w, again):
            text = each.pixel_size.placeholderText()
            assert ("0.5 µm/px (from layer)" if _expected(bad) else "unknown") in text, text
            assert each.pixel_size_um() == _expected(bad)


@pytest.mark.parametrize("bad", BAD, ids=IDS)
def test_a_scale_set_calls_a_listener_connected_before_the_widgets(make_napari_viewer,
                                                                    bad):
    """Before: ``layer.scale = ...`` raised in our record-following handler, which runs
    first (position="first"), so a script's listener connected earlier was never called;
    an unreadable record was then written over with None."""
    viewer = make_napari_viewer()
    layer = viewer.add_image(np.zeros((16, 16), np.float32), name="m",
                             metadata={"pixel_size_um": bad})
    heard: list[tuple] = []
    layer.events.scale.connect(lambda event: heard.append(tuple(layer.scale)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        CalibrationWidget(viewer)
        GrainSizeWidget(viewer)
        layer.scale = (2.0, 2.0)
        layer.scale = (3.0, 3.0)
        assert layer_pixel_size_um(layer) == _expected(bad)
    assert heard == [(2.0, 2.0), (3.0, 3.0)]
    _kept(layer, bad)
    _told(caught, bad)


def test_a_pair_that_is_not_square_gives_the_sizes_of_pixels_that_are_not(
        make_napari_viewer):
    """A ``(Y, X)`` pair that differs is read as the readers read such a file's sizes:
    no single pixel size, the widgets say its pixels are not square; no warning. Before:
    TypeError in napari's inserted event."""
    from napari_srmat._napari_io import layer_pixel_sizes

    viewer = make_napari_viewer()
    w = GrainSizeWidget(viewer)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layer = viewer.add_image(np.zeros((16, 16), np.float32), name="m",
                                 metadata={"pixel_size_um": (0.25, 0.5)})
        layer.scale = (2.0, 2.0)
    sizes = layer_pixel_sizes(layer)
    assert sizes.size_um is None and sizes.non_square == (0.25, 0.5)
    assert w.pixel_size_um() is None
    assert layer.metadata["pixel_size_yx_um"] == [0.25, 0.5]  # recorded as the reader does
    assert [str(x.message) for x in caught if "pixel_size" in str(x.message)] == []


def test_the_warning_points_at_the_callers_line_and_a_write_says_it_once(tmp_path):
    """The warning pointed at napari-srmat's own read (``_napari_io.py``) whatever the
    caller, and napari's writer, given the layer's attributes, said it three times (its
    store size, its squareness, its place: three reads). It names the caller's line now,
    and a write reads the records once."""
    from napari_srmat._napari_io import write_image

    attributes = {"name": "m", "metadata": {"pixel_size_um": "0.5 um"}}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert layer_pixel_size_um(attributes) is None
        write_image(str(tmp_path / "m.zarr"), np.zeros((8, 8), np.uint8), attributes)
    said = [w for w in caught if "treated as unknown" in str(w.message)]
    assert [w.filename for w in said] == [__file__, __file__], [
        (w.filename, w.lineno) for w in said]


@pytest.mark.parametrize("records", [{"pixel_size_yx_um": [0.5, 0.5]},
                                     {"pixel_size_yx_um": (0.5, 0.5), "pixel_size_um": 0.4},
                                     {"pixel_size_yx_um": [0.5, 0.5], "pixel_size_um": "?"}],
                         ids=["alone", "beside another size", "beside no size"])
def test_a_square_per_axis_record_is_its_pixel_size(make_napari_viewer, records):
    """A layer recording its size only as a square ``pixel_size_yx_um`` pair (a script's
    ``metadata``) read as unknown, though ``pixel_size_um`` holding the same pair was
    0.5 µm: the one rule (a square pair is its X size; ``pixel_size_yx_um``, which the
    widgets write beside ``pixel_size_um`` for pixels that are not square only, wins)."""
    from napari_srmat._napari_io import layer_pixel_sizes

    assert layer_pixel_size_um({"metadata": records}) == 0.5
    viewer = make_napari_viewer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the unreadable neighbour's warning
        layer = viewer.add_image(np.zeros((16, 16), np.float32), name="m", metadata=records)
        w = GrainSizeWidget(viewer)
        assert layer_pixel_sizes(layer) == (0.5, None, None)
        assert w.pixel_size_um() == 0.5
