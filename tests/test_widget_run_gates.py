"""Run buttons of the Specimen tab, the Train / evaluate widget and the audit widget wait
for the layer they need, as the other Run buttons do (widgets._qt.RunNeedsLayersMixin)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
from napari_srmat.widgets.heyn_widget import GrainSizeWidget  # noqa: E402

pytestmark = pytest.mark.gui


def test_specimen_train_and_audit_run_buttons_wait_for_their_layers(make_napari_viewer,
                                                                    qtbot):
    """Measure specimen, Train's Start / queue (data from layers) and the audit's Find
    candidates were enabled with no layer to run on, told only on the click ("select one
    or more boundary layers as fields", "select an image layer to train on", "select the
    LR and SR image layers"). They now wait as the other Run buttons do (disabled, the
    tooltip naming the layer): Train only while its data come from layers (a data folder
    needs none; boundary training needs its mask layer too), the audit while its LR / SR
    lists are empty."""
    from napari_srmat.widgets.audit_widget import AuditWidget
    from napari_srmat.widgets.train_widget import (
        DATA_SOURCES,
        NEEDS_TRAIN_IMAGE,
        NEEDS_TRAIN_MASK,
        SR_TRAIN,
        UAED_TRAIN,
        TrainEvaluateWidget,
    )

    viewer = make_napari_viewer()
    g, t, a = GrainSizeWidget(viewer), TrainEvaluateWidget(viewer), AuditWidget(viewer)
    for widget in (g, t, a):
        qtbot.addWidget(widget)
    specimen = g.specimen
    t.kind.setCurrentText(SR_TRAIN)
    t.source.setCurrentText(DATA_SOURCES[0])
    assert t.run_btn.isEnabled()  # a data folder: no layer needed
    t.source.setCurrentText(DATA_SOURCES[1])
    gated = [specimen.run_btn, t.run_btn, a.run_btn]
    assert not any(btn.isEnabled() for btn in gated)
    assert all(btn.toolTip().startswith("needs ") for btn in gated)
    assert NEEDS_TRAIN_IMAGE in t.run_btn.toolTip()
    img = viewer.add_image(np.random.default_rng(0).random((64, 64), np.float32), name="m")
    # one image layer: no SR image for the audit yet (test_find_candidates_waits_...)
    assert specimen.run_btn.isEnabled() and t.run_btn.isEnabled()
    assert not a.run_btn.isEnabled()
    t.kind.setCurrentText(UAED_TRAIN)  # its mask: another labels or image layer
    assert not t.run_btn.isEnabled() and NEEDS_TRAIN_MASK in t.run_btn.toolTip()
    assert t.mask_layer.value is None
    viewer.layers.remove(img)
    assert not any(btn.isEnabled() for btn in gated)
    assert NEEDS_TRAIN_MASK in t.run_btn.toolTip()
    t.source.setCurrentText(DATA_SOURCES[0])
    assert t.run_btn.isEnabled() and not t.run_btn.toolTip().startswith("needs ")
    viewer.add_labels(np.zeros((32, 32), np.uint8), name="gb")  # a field; no micrograph
    assert specimen.run_btn.isEnabled() and not a.run_btn.isEnabled()


def test_find_candidates_waits_for_a_second_image_layer(make_napari_viewer, qtbot):
    """With one image layer the audit's LR and SR lists both showed it, so Find
    candidates was enabled and refused only on the click ("the LR and SR layers are the
    same layer"). It now waits for the second image layer (its tooltip names the SR
    image) and is disabled again when one of the two goes."""
    from napari_srmat.widgets.audit_widget import NEEDS_LR, NEEDS_SR, AuditWidget

    viewer = make_napari_viewer()
    a = AuditWidget(viewer)
    qtbot.addWidget(a)
    rng = np.random.default_rng(0)
    lr = viewer.add_image(rng.random((32, 32), np.float32), name="lr")
    assert a.lr_combo.currentText() == a.sr_combo.currentText() == "lr"
    assert not a.run_btn.isEnabled()
    assert NEEDS_SR in a.run_btn.toolTip() and NEEDS_LR not in a.run_btn.toolTip()
    viewer.add_image(rng.random((128, 128), np.float32), name="sr")
    assert a.run_btn.isEnabled() and not a.run_btn.toolTip().startswith("needs ")
    assert (a.lr_combo.currentText(), a.sr_combo.currentText()) == ("lr", "sr")
    viewer.layers.remove(lr)
    assert not a.run_btn.isEnabled() and NEEDS_SR in a.run_btn.toolTip()


def test_boundary_training_waits_for_a_mask_other_than_its_image(make_napari_viewer,
                                                                 qtbot):
    """UAED training from layers offered the image layer as its own mask: with the
    micrograph open, Start / queue was enabled, and adding its mask left the mask list
    on the micrograph (still enabled); both refused on the click ("select the boundary
    mask layer of the image"). The mask list now leaves out the image chosen: Start
    waits for the mask, which is chosen when added."""
    from napari_srmat.widgets.train_widget import (
        DATA_SOURCES,
        NEEDS_TRAIN_MASK,
        UAED_TRAIN,
        TrainEvaluateWidget,
    )

    viewer = make_napari_viewer()
    t = TrainEvaluateWidget(viewer)
    qtbot.addWidget(t)
    t.kind.setCurrentText(UAED_TRAIN)
    t.source.setCurrentText(DATA_SOURCES[1])
    img = viewer.add_image(np.random.default_rng(0).random((64, 64), np.float32),
                           name="micrograph")
    assert t.image_layer.value is img and t.mask_layer.value is None
    assert not t.run_btn.isEnabled() and NEEDS_TRAIN_MASK in t.run_btn.toolTip()
    mask = viewer.add_labels(np.zeros((64, 64), np.uint8), name="mask")
    assert (t.image_layer.value, t.mask_layer.value) == (img, mask)
    assert t.run_btn.isEnabled()
    assert t.current_spec().options["mask"].shape == (64, 64)
    # a second micrograph chosen as the image: the first is offered as a mask, not it
    other = viewer.add_image(np.zeros((64, 64), np.float32), name="other")
    t.image_layer.value = other
    offered = [t.mask_layer.native.itemText(i) for i in range(t.mask_layer.native.count())]
    assert "other" not in offered and {"micrograph", "mask"} <= set(offered)


def test_layers_that_are_not_2d_are_not_listed_and_follow_their_data(make_napari_viewer,
                                                                     qtbot):
    """A (3, 32, 32) layer was listed as the Boundary mask tab's boundary layer and as a
    Specimen field (the filter only left out RGB), Run enabled, and refused on the click
    ("has shape (3, 32, 32); a 2-D boundary mask ... is needed"). It is now not listed and
    Run waits; its data replaced by a 2-D map list it (Run enabled), and by a stack again
    take it out (``events.data``; before, the lists followed only insertions, removals,
    moves and renames)."""
    from napari_srmat.widgets.specimen_panel import NEEDS_BOUNDARY_LAYER

    viewer = make_napari_viewer()
    g = GrainSizeWidget(viewer)
    qtbot.addWidget(g)
    specimen = g.specimen

    def listed() -> dict[str, list[str]]:
        return {"mask": [g.layer_combo.native.itemText(i)
                         for i in range(g.layer_combo.native.count())],
                "fields": [specimen.fields_list.item(i).text()
                           for i in range(specimen.fields_list.count())],
                "twins": [specimen.twins_combo.native.itemText(i)
                          for i in range(specimen.twins_combo.native.count())]}

    stack = viewer.add_image(np.zeros((3, 32, 32), np.float32), name="stack")
    labels = viewer.add_labels(np.zeros((2, 32, 32), np.uint8), name="labels stack")
    viewer.add_image(np.zeros((32, 32, 3), np.uint8), name="rgb", rgb=True)
    assert listed() == {"mask": [], "fields": [], "twins": ["(none)"]}
    for btn in (g.run_btn, specimen.run_btn):
        assert not btn.isEnabled() and NEEDS_BOUNDARY_LAYER in btn.toolTip()

    stack.data = np.zeros((32, 32), np.float32)  # now a 2-D probability map
    assert listed() == {"mask": ["stack"], "fields": ["stack"], "twins": ["(none)", "stack"]}
    assert g.layer_combo.value is stack
    assert g.run_btn.isEnabled() and specimen.run_btn.isEnabled()
    labels.data = np.zeros((32, 32), np.uint8)
    assert listed()["mask"] == ["stack", "labels stack"]
    assert g.layer_combo.value is stack  # the choice is kept

    stack.data = np.zeros((4, 32, 32), np.float32)
    labels.data = np.zeros((2, 32, 32), np.uint8)
    assert listed() == {"mask": [], "fields": [], "twins": ["(none)"]}
    assert g.layer_combo.value is None
    for btn in (g.run_btn, specimen.run_btn):
        assert not btn.isEnabled() and NEEDS_BOUNDARY_LAYER in btn.toolTip()


def test_a_chosen_layer_made_3d_leaves_nothing_chosen_and_comes_back_when_2d(
        make_napari_viewer, qtbot):
    """The chosen boundary layer's data made 3-D moved the choice to the other listed
    layer, Run enabled (the next Measure ran on a layer the user did not choose), and the
    choice stayed there when the layer became 2-D again. Now nothing is chosen (Run
    disabled, the empty list's tooltip) and the layer made 2-D is chosen again; a chosen
    layer removed from the viewer still hands the choice to the last listed layer."""
    from napari_srmat.widgets.specimen_panel import NEEDS_BOUNDARY_LAYER

    viewer = make_napari_viewer()
    g = GrainSizeWidget(viewer)
    qtbot.addWidget(g)
    first = viewer.add_labels(np.zeros((32, 32), np.uint8), name="first")
    other = viewer.add_labels(np.zeros((32, 32), np.uint8), name="other")
    g.layer_combo.value = first
    chosen = []
    g.layer_combo.native.currentTextChanged.connect(lambda *_: chosen.append(
        g.layer_combo.value))

    first.data = np.zeros((2, 32, 32), np.uint8)
    assert g.layer_combo.value is None and g.layer_combo.native.currentText() == ""
    assert not g.run_btn.isEnabled() and NEEDS_BOUNDARY_LAYER in g.run_btn.toolTip()
    other.data = np.ones((32, 32), np.uint8)  # another layer's edit re-lists nothing...
    other.data = np.zeros((3, 32, 32), np.uint8)  # ...nor one leaving and coming back
    other.data = np.zeros((32, 32), np.uint8)
    assert g.layer_combo.value is None and not g.run_btn.isEnabled()

    first.data = np.zeros((32, 32), np.uint8)
    assert g.layer_combo.value is first and g.run_btn.isEnabled()
    assert NEEDS_BOUNDARY_LAYER not in g.run_btn.toolTip()
    assert all(lay is not other for lay in chosen)  # never chosen silently

    first.data = np.zeros((2, 32, 32), np.uint8)
    g.layer_combo.value = other  # chosen since: the first one made 2-D stays unchosen
    first.data = np.zeros((32, 32), np.uint8)
    assert g.layer_combo.value is other

    viewer.layers.remove(other)  # removed: the last listed layer, as before
    assert g.layer_combo.value is first and g.run_btn.isEnabled()


def test_a_layer_added_while_a_chosen_one_is_3d_is_chosen_and_enables_run(
        make_napari_viewer, qtbot):
    """While the chosen layer made 3-D was remembered, every re-listing left the choice
    empty: a usable layer added was listed but not chosen, Run stayed disabled ("add one
    to the viewer"). Only the chosen layer's data change empties the choice: a layer
    added is chosen, as in an empty list, and the 3-D one made 2-D is not taken back."""
    from napari_srmat.widgets.specimen_panel import NEEDS_BOUNDARY_LAYER

    viewer = make_napari_viewer()
    g = GrainSizeWidget(viewer)
    qtbot.addWidget(g)
    a = viewer.add_labels(np.zeros((32, 32), np.uint8), name="a")
    viewer.add_labels(np.zeros((32, 32), np.uint8), name="b")
    g.layer_combo.value = a
    a.data = np.zeros((2, 32, 32), np.uint8)
    assert g.layer_combo.value is None and not g.run_btn.isEnabled()

    new = viewer.add_labels(np.zeros((32, 32), np.uint8), name="new")
    names = [g.layer_combo.native.itemText(i) for i in range(g.layer_combo.native.count())]
    assert names == ["b", "new"]
    assert g.layer_combo.value is new and g.run_btn.isEnabled()
    assert NEEDS_BOUNDARY_LAYER not in g.run_btn.toolTip()
    a.data = np.zeros((32, 32), np.uint8)  # forgotten: the choice stays
    assert g.layer_combo.value is new and g.run_btn.isEnabled()


def test_none_chosen_in_code_forgets_a_chosen_layer_made_3d(make_napari_viewer, qtbot):
    """``combo.value = None`` did not forget the chosen layer made 3-D: made 2-D again it
    was chosen again (twins left out that the user had turned off). Any choice made,
    none included, forgets it; Measure specimen (which needs a boundary layer, not twins)
    stays enabled throughout."""
    viewer = make_napari_viewer()
    g = GrainSizeWidget(viewer)
    qtbot.addWidget(g)
    specimen = g.specimen
    viewer.add_labels(np.zeros((32, 32), np.uint8), name="boundary")
    twins = viewer.add_labels(np.zeros((32, 32), np.uint8), name="twins")
    specimen.twins_combo.value = twins
    twins.data = np.zeros((2, 32, 32), np.uint8)
    assert specimen.twins_combo.native.currentText() == "(none)"
    assert specimen.run_btn.isEnabled()

    specimen.twins_combo.value = None
    twins.data = np.zeros((32, 32), np.uint8)
    assert specimen.twins_combo.value is None
    assert specimen.twins_combo.native.currentText() == "(none)"
    assert specimen.run_btn.isEnabled()
