"""GUI test: the boundary layers the Boundary mask tab and the Specimen tab's fields, twins
and exclusions offer (one rule, ``layers.is_boundary_layer``), and how the lists follow a
layer's metadata set after it was added."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

pytestmark = pytest.mark.gui

#: What every list offers of the viewer :func:`_viewer_with_our_maps` makes (the Specimen
#: fields list, the Boundary mask tab's boundary layer, the twins and exclusions after
#: "(none)"): the micrograph, the boundary probability map and boundaries, the user's mask.
OFFERED = ["scan", "scan boundary probability", "scan boundaries", "my mask"]


def _items(combo) -> list[str]:
    return [combo.native.itemText(i) for i in range(combo.native.count())]


def _fields(panel) -> list[str]:
    return [panel.fields_list.item(i).text() for i in range(panel.fields_list.count())]


def _viewer_with_our_maps(make_napari_viewer, qtbot):
    """A viewer with a micrograph, the maps the Boundaries dock adds (with an error
    probability map), an Audit dock's boundary overlay, an SR result, a user's Labels
    mask and the Boundary mask tab's corrections layer over the boundaries, added by the
    tab: (viewer, widget)."""
    from napari_srmat.widgets.heyn_widget import GrainSizeWidget
    from napari_srmat.widgets.layers import (
        BoundaryMaps,
        add_boundary_result,
        add_super_resolution_result,
    )

    viewer = make_napari_viewer()
    rng = np.random.default_rng(0)
    scan = viewer.add_image(rng.random((32, 32), np.float32), name="scan")
    prob = rng.random((32, 32)).astype(np.float32)
    layers = add_boundary_result(viewer, scan, BoundaryMaps(prob=prob, uncertainty=prob / 2,
                                                            threshold=0.5),
                                 skeletonize=False)
    viewer.add_image(prob, name="scan error probability",
                     metadata={"kind": "error probability"})
    viewer.add_image(prob, name="SR boundaries", metadata={"kind": "boundary overlay"})
    add_super_resolution_result(viewer, scan, rng.random((64, 64), np.float32), 2)
    viewer.add_labels(np.zeros((32, 32), np.uint8), name="my mask")
    widget = GrainSizeWidget(viewer)
    qtbot.addWidget(widget)
    widget.layer_combo.value = layers.boundaries
    corr = widget.add_corrections_layer()
    assert corr.name == "scan boundaries corrections"
    return viewer, widget


def test_boundary_mask_tab_offers_the_specimen_fields_not_our_other_maps(make_napari_viewer,
                                                                        qtbot):
    """The Boundary mask tab's boundary layer offered every 2-D greyscale layer: the
    uncertainty and error-probability maps, its own corrections layer, an SR result. It
    now offers what the Specimen tab offers as fields (is_boundary_layer), and neither
    lists the corrections layer the tab adds (its kind, CORRECTIONS_KIND). (The
    Specimen fields offered them all but the grain-area maps until cd0d359.)"""
    from napari_srmat.widgets._common import WidgetInputError

    viewer, widget = _viewer_with_our_maps(make_napari_viewer, qtbot)
    assert _items(widget.layer_combo) == OFFERED
    assert widget.layer_combo.value is viewer.layers["scan boundaries"]
    assert _fields(widget.specimen) == OFFERED
    with pytest.raises(WidgetInputError, match="not a 2-D boundary layer: scan uncertainty"):
        widget.specimen.select_fields(["scan uncertainty"])


def test_specimen_twins_and_exclusions_are_masks_not_our_other_maps(make_napari_viewer,
                                                                   qtbot):
    """The twin and exclusion choices offered every 2-D greyscale layer (an uncertainty
    map read as a mask at the boundary threshold, a corrections layer, an SR result of
    another size); now Shapes and the layers the fields rule offers."""
    viewer, widget = _viewer_with_our_maps(make_napari_viewer, qtbot)
    viewer.add_shapes([np.array([[2, 2], [2, 20], [20, 20]], float)], shape_type="polygon",
                      name="drawn")
    panel = widget.specimen
    for combo in (panel.twins_combo, panel.exclusions_combo):
        assert _items(combo) == ["(none)", *OFFERED, "drawn"]


def test_layer_lists_follow_metadata_set_after_the_layer_was_added(make_napari_viewer,
                                                                   qtbot):
    """A layer whose metadata were set after it was added (a script's
    ``layer.metadata = {...}``) stayed listed, or unlisted, as its metadata were when
    it was added: the lists followed data events only. Now a
    metadata event re-lists them, and a chosen layer that came back is chosen again."""
    from napari_srmat.widgets.heyn_widget import GrainSizeWidget

    viewer = make_napari_viewer()
    layer = viewer.add_labels(np.zeros((16, 16), np.uint8), name="m")
    widget = GrainSizeWidget(viewer)
    qtbot.addWidget(widget)
    assert widget.layer_combo.value is layer and _fields(widget.specimen) == ["m"]
    layer.metadata = {"kind": "uncertainty"}
    assert _items(widget.layer_combo) == [] and widget.layer_combo.value is None
    assert _fields(widget.specimen) == []
    assert _items(widget.specimen.twins_combo) == ["(none)"]
    layer.metadata = {}
    assert widget.layer_combo.value is layer and _fields(widget.specimen) == ["m"]
