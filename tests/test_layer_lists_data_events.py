"""GUI test: what the widgets' layer lists do at a layer's data event (which layers they
offer: tests/test_boundary_layer_lists.py)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from napari_srmat.widgets._qt import LayerCombo  # noqa: E402
from napari_srmat.widgets.layers import is_2d_greyscale_layer  # noqa: E402

pytestmark = pytest.mark.gui


def _data_events(layer) -> list:
    """The data events ``layer`` emits from now on (napari may tell one set twice)."""
    told: list = []
    layer.events.data.connect(told.append)
    return told


def test_a_data_event_asks_the_combo_predicate_once(make_napari_viewer, qtbot):
    """A data event that changed the layers listed asked the predicate twice per layer
    on the GUI thread (once to see the change, once to list them): now once."""
    viewer = make_napari_viewer()
    layer = viewer.add_labels(np.zeros((16, 16), np.uint8), name="a")
    asked: list = []

    def predicate(lay) -> bool:
        asked.append(lay)
        return is_2d_greyscale_layer(lay)

    combo = LayerCombo(viewer, ("labels",), predicate=predicate)
    qtbot.addWidget(combo.native)
    assert combo.value is layer
    for data in (np.zeros((2, 16, 16), np.uint8), np.zeros((16, 16), np.uint8)):
        told = _data_events(layer)
        asked.clear()
        layer.data = data  # listed -> not listed -> listed again
        assert len(asked) == len(told)
        layer.events.data.disconnect(told.append)
    assert combo.value is layer
    told = _data_events(layer)
    asked.clear()
    layer.data = np.ones((16, 16), np.uint8)  # painted: the list is as it was
    assert len(asked) == len(told) and combo.value is layer


def test_a_data_event_lists_the_specimen_fields_once(make_napari_viewer, qtbot):
    """The Specimen tab's fields list, at a data event that changed the fields, listed the
    viewer's layers twice; now once, and the field made 2-D again is listed again."""
    from napari_srmat.widgets.specimen_panel import SpecimenPanel

    viewer = make_napari_viewer()
    layer = viewer.add_labels(np.zeros((16, 16), np.uint8), name="f")
    panel = SpecimenPanel(viewer)
    qtbot.addWidget(panel)
    listings: list = []
    field_layers = panel._field_layers

    def counted():
        listings.append(1)
        return field_layers()

    panel._field_layers = counted
    for data, listed in ((np.zeros((2, 16, 16), np.uint8), 0),
                         (np.zeros((16, 16), np.uint8), 1)):
        told = _data_events(layer)
        listings.clear()
        layer.data = data
        assert len(listings) == len(told)
        assert panel.fields_list.count() == listed
        layer.events.data.disconnect(told.append)
