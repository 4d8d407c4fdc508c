"""GUI test: what the widgets' layer lists do at a layer's data event, and which layers
the Specimen tab offers as fields."""

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


def test_specimen_fields_are_boundary_maps_not_the_other_maps_of_ours(make_napari_viewer,
                                                                     qtbot):
    """The Specimen tab offered as fields the uncertainty and error-probability maps the
    Boundaries dock adds, the Boundary mask tab's corrections, the Audit dock's boundary
    overlays and SR results: none is a boundary map of a field. Now the fields are the
    2-D greyscale Labels and Image layers that are not such a layer of ours
    (metadata the project writes); a user's layer (a boundary mask opened from a file,
    or a micrograph: they cannot be told apart without reading pixels) is still
    offered."""
    from napari_srmat.widgets.layers import (
        BoundaryMaps,
        add_boundary_result,
        add_super_resolution_result,
    )
    from napari_srmat.widgets.specimen_panel import SpecimenPanel

    viewer = make_napari_viewer()
    rng = np.random.default_rng(0)
    scan = viewer.add_image(rng.random((32, 32), np.float32), name="scan")
    prob = rng.random((32, 32)).astype(np.float32)
    add_boundary_result(viewer, scan, BoundaryMaps(prob=prob, uncertainty=prob / 2,
                                                   threshold=0.5), skeletonize=False)
    viewer.add_image(prob, name="scan error probability",
                     metadata={"kind": "error probability"})
    viewer.add_labels(np.zeros((32, 32), np.uint8), name="scan boundaries corrections",
                      metadata={"kind": "boundary corrections"})
    viewer.add_image(prob, name="SR boundaries", metadata={"kind": "boundary overlay"})
    add_super_resolution_result(viewer, scan, rng.random((64, 64), np.float32), 2)
    viewer.add_labels(np.zeros((32, 32), np.uint8), name="my mask")
    panel = SpecimenPanel(viewer)
    qtbot.addWidget(panel)
    listed = [panel.fields_list.item(i).text() for i in range(panel.fields_list.count())]
    assert listed == ["scan", "scan boundary probability", "scan boundaries", "my mask"]
    from napari_srmat.widgets._common import WidgetInputError

    with pytest.raises(WidgetInputError, match="not a 2-D boundary layer: scan uncertainty"):
        panel.select_fields(["scan uncertainty"])
