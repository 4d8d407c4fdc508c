"""A result shown in steps (one per event-loop turn) meets a closed viewer, a closed dock
or a late Cancel (s51 F6: review R5 of 573274f0)."""

from __future__ import annotations

import pytest
from _helpers import configure
from qtpy.QtCore import QTimer
from test_widget_sr_result_turns import _viewer_with_input

from napari_srmat.widgets.layers import kept_on
from napari_srmat.widgets.sr_widget import SuperResolutionWidget

pytestmark = pytest.mark.gui


def _sr_widget_in_a_dock(viewer, layer):
    w = SuperResolutionWidget(viewer)
    dock = viewer.window.add_dock_widget(w, name="SR")
    configure(w, layer, model="bicubic", scale="2", tile=32, overlap=8, device="cpu",
              output="")
    return w, dock


def _when_the_result_layer_is_added(viewer, action) -> None:
    """Call ``action`` in the event-loop turn after the SR result's layer is added (the
    user's click between the result's steps)."""
    viewer.layers.events.inserted.connect(
        lambda e: QTimer.singleShot(0, action) if e.value.name != "lr" else None)


def test_closing_the_viewer_while_an_sr_result_is_shown_raises_nothing(make_napari_viewer,
                                                                       qtbot):
    """napari's window closed between the steps of an SR result (the layer added, the
    rest to come) deletes the dock's widget; the next step's check of a closed dock read
    an attribute of the deleted widget first: "RuntimeError: wrapped C/C++ object of type
    SuperResolutionWidget has been deleted" (rc 134 in a script). Failed before: that
    error."""
    viewer, layer = _viewer_with_input(make_napari_viewer)
    w, _dock = _sr_widget_in_a_dock(viewer, layer)
    _when_the_result_layer_is_added(viewer, viewer.close)
    with qtbot.capture_exceptions() as errors:
        w.run()
        qtbot.waitUntil(lambda: w._job_outcome == "result", timeout=60_000)
        qtbot.wait(1000)  # the turns after the close
    assert not errors, [str(e[1]) for e in errors]


def test_a_dock_closed_while_an_sr_result_is_shown_leaves_its_layer_on_its_input(
        make_napari_viewer, qtbot):
    """The SR dock closed in the turn after its layer was added: the layer stayed
    unlinked from its input (the link was the next step, which a closed dock does not
    get), so moving the input left it behind. The layer is added and kept on its input
    in one step now. Failed before: not linked, translate (-0.25, -0.25) after the input
    moved."""
    viewer, layer = _viewer_with_input(make_napari_viewer)
    w, dock = _sr_widget_in_a_dock(viewer, layer)
    _when_the_result_layer_is_added(viewer, lambda: viewer.window.remove_dock_widget(dock))
    w.run()
    qtbot.waitUntil(lambda: len(viewer.layers) == 2, timeout=60_000)
    qtbot.wait(500)
    sr = viewer.layers["lr SR x2"]
    assert kept_on(viewer, sr) is not None
    layer.translate = (10.0, 10.0)
    assert tuple(sr.translate) == (9.75, 9.75)  # + (1/2 - 1)/2 of an LR pixel
