"""A rescan plan's Shapes layer edited by hand in napari: lines and paths, the status line
after each edit, the shapes read once per edit, a moved out-of-focus rectangle."""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import configure

from napari_srmat.sr.rescan import FOCUS_THRESHOLD, REASON_OUT_OF_FOCUS, RescanPlan, plan_rescan
from napari_srmat.widgets import layers
from napari_srmat.widgets.sr_widget import SuperResolutionWidget

pytestmark = pytest.mark.gui

ROI = 16


def _plan() -> RescanPlan:
    """Two 32 px rectangles of a 64 x 64 px LR at 0.5 µm per px."""
    return RescanPlan(
        [[0, 0, 32, 32], [32, 32, 64, 64]],
        [0.3, 0.2],
        0.5,
        0.5625,
        0.4375,
        4,
        0.5,
        1.0,
        32,
        "flips",
        "",
        "cnn",
        [64, 64],
        0.5,
        pixel_size_um=0.5,
        uncertainty=np.full((64, 64), 0.1, np.float32),
    )


def _widget_with_plan(make_napari_viewer, qtbot, plan, shape=(64, 64)):
    viewer = make_napari_viewer()
    lr = viewer.add_image(
        np.zeros(shape, np.uint8), name="lr", scale=(0.5, 0.5), units=("um", "um")
    )
    w = SuperResolutionWidget(viewer)
    qtbot.addWidget(w)
    configure(w, lr)
    w.rescan_plan = plan
    return w, lr, w.rescan_layer


def test_a_line_or_path_drawn_on_a_plans_layer_is_not_saved_and_the_status_says_so(
    make_napari_viewer, qtbot, tmp_path
):
    """A line drawn along row 10 was saved as a 1 px strip [10, 5, 11, 41] (its bounding
    box), a path as its bounding box: no area was meant. They are left out of the plan,
    their features say why, and the status line (after the edit and after Save plan…)
    names them and what to draw instead."""
    w, _lr, shapes = _widget_with_plan(make_napari_viewer, qtbot, _plan())
    shapes.add_lines(np.array([[10.0, 5.0], [10.0, 40.0]]))
    shapes.add_paths(np.array([[40.0, 2.0], [50.0, 10.0], [60.0, 4.0]]))
    assert w.rescan_plan.rois == [[0, 0, 32, 32], [32, 32, 64, 64]]
    assert list(shapes.features["reason"][2:]) == [layers.NO_AREA] * 2
    assert shapes.metadata["rescan_plan"]["rois"] == [[0, 0, 32, 32], [32, 32, 64, 64]]
    assert "2 line/path shape(s) not saved: a rescan area is a rectangle or polygon" in (
        w.status.text()
    )
    out = w.save_rescan_plan(tmp_path / "plan.csv")
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3  # header + 2 rectangles
    assert "2 line/path shape(s) not saved" in w.status.text()
    # a polygon still counts as its bounding box
    shapes.add_polygons(np.array([[[40.0, 2.0], [50.0, 10.0], [60.0, 4.0]]]))
    assert w.rescan_plan.rois[-1] == [40, 2, 61, 11]


def test_the_status_line_follows_each_edit_of_the_plans_layer(make_napari_viewer, qtbot):
    """The status line gave the plan as made until a recalibration or a save: a
    rectangle moved or deleted by hand left it at the planned area and time. Now each
    edit (moved, deleted, drawn) gives the plan as the layer shows it."""
    w, _lr, shapes = _widget_with_plan(make_napari_viewer, qtbot, _plan())
    assert "2 rectangle(s), 50.0% of the area" in w.status.text()
    shapes.selected_data = {1}
    shapes.remove_selected()
    assert "1 rectangle(s), 25.0% of the area" in w.status.text()
    assert "0 rectangle(s) moved or resized, 0 added, 1 deleted" in w.status.text()
    data = [shapes.data[0] + 8]  # moved by 8 LR px
    shapes.data = data
    assert "1 rectangle(s) moved or resized, 0 added, 1 deleted" in w.status.text()
    shapes.add_rectangles(np.array([[39.5, 39.5], [47.5, 47.5]]))
    assert "2 rectangle(s)" in w.status.text() and "1 added" in w.status.text()


def test_an_edit_or_a_recalibration_reads_the_shapes_once(make_napari_viewer, qtbot, monkeypatch):
    """``show_plan_figures`` read the shapes of the plan's layer twice per edit (once for
    the plan, once for the features rows) and the widget's recalibration a third time
    for its status line: now once per edit and once per recalibration, the status line
    included."""
    w, lr, shapes = _widget_with_plan(make_napari_viewer, qtbot, _plan())
    reads = []
    real = layers._shape_rois

    def counted(*args, **kwargs):
        reads.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(layers, "_shape_rois", counted)
    shapes.selected_data = {1}
    shapes.remove_selected()
    assert len(reads) == 1 and "1 deleted" in w.status.text()
    reads.clear()
    lr.scale = (0.25, 0.25)  # calibrated anew
    assert len(reads) == 1 and "calibrated anew" in w.status.text()
    assert shapes.features["y1_um"].iloc[0] == 8.0


def _defocused_lr() -> np.ndarray:
    """A 64 x 128 px LR (x4 block mean of a synthetic micrograph), its right half out of
    focus (Gaussian of 1.5 LR px)."""
    from scipy import ndimage as ndi

    from napari_srmat.synth import generate_microstructure

    hr = generate_microstructure((256, 512), mean_grain_size_px=24, seed=1).image
    lr = hr.reshape(64, 4, 128, 4, 3).mean(axis=(1, 3))
    lr[:, 64:] = ndi.gaussian_filter(lr, (1.5, 1.5, 0))[:, 64:]
    return np.clip(np.rint(lr), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def defocused_plan():
    lr = _defocused_lr()
    return lr, plan_rescan(lr, "cnn", scale=4, budget=0.25, roi_px=ROI, device="cpu")


def test_an_out_of_focus_rectangle_moved_by_hand_has_its_focus_measured(
    defocused_plan, make_napari_viewer, qtbot
):
    """A rectangle planned "out of focus" moved by hand onto the sharp half kept that
    reason with its focus empty (not measured): nothing told it now lies on sharp
    pixels. Its focus is measured where it is now by the planner's rule (the mean focus
    of the blocks it touches), as its uncertainty is; in place, it keeps the planned
    figure."""
    lr, plan = defocused_plan
    assert plan.reasons[0] == REASON_OUT_OF_FOCUS and plan.focus[0] < FOCUS_THRESHOLD
    y0, x0, y1, x1 = plan.rois[0]
    assert x0 >= 64  # in the blurred half
    sharp = [y0, x0 - 64, y1, x1 - 64]
    moved = plan.edited([sharp], [1])
    assert moved.reasons == [REASON_OUT_OF_FOCUS] and moved.focus[0] > FOCUS_THRESHOLD
    assert plan.edited([plan.rois[0]], [1]).focus == [plan.focus[0]]
    assert "focus_blocks" not in plan.to_dict()
    # the same on the plan's layer in napari
    w, _lr, shapes = _widget_with_plan(make_napari_viewer, qtbot, plan, lr.shape[:2])
    data = list(shapes.data)
    data[0] = data[0] - np.array([0.0, 64.0])
    shapes.data = data
    assert shapes.features["focus"].iloc[0] == moved.focus[0]
    assert w.rescan_plan.focus[0] == moved.focus[0]


def test_a_plan_edited_by_hand_reads_the_same_shown_last_as_shown(make_napari_viewer):
    """Fails before: ``add_rescan_plan`` stored the plan as given in ``plan_shown_last``,
    which kept the "edited by hand" note of a plan already edited by hand while
    ``rescan_plan_shown`` (what Save plan… saves) and the layer's metadata dropped it."""
    from napari_srmat.sr.rescan import EDITED_LEAD

    plan = _plan().edited([[0, 0, 32, 32], [40, 40, 48, 48]], [1, None])
    assert any(note.startswith(EDITED_LEAD) for note in plan.warnings)
    viewer = make_napari_viewer()
    lr = viewer.add_image(
        np.zeros((64, 64), np.uint8), name="lr", scale=(0.5, 0.5), units=("um", "um")
    )
    shapes = layers.add_rescan_plan(viewer, lr, plan)
    shown = layers.rescan_plan_shown(shapes, plan).to_dict()
    assert layers.plan_shown_last(shapes).to_dict() == shown
    assert shapes.metadata["rescan_plan"] == shown
    assert shown["rois"] == [[0, 0, 32, 32], [40, 40, 48, 48]]
