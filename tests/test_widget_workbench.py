"""The workbench dock: every tool as a tab, and the canvas stays visible at 1600 x 1000."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
from napari_srmat.widgets.workbench import WORKBENCH_TABS, WorkbenchWidget  # noqa: E402

pytestmark = pytest.mark.gui


def test_tabs_hold_the_real_widgets(make_napari_viewer):
    viewer = make_napari_viewer()
    w = WorkbenchWidget(viewer)
    assert w.tabs.count() == len(WORKBENCH_TABS)
    for i, (title, attr, cls) in enumerate(WORKBENCH_TABS):
        assert w.tabs.tabText(i) == title
        assert isinstance(getattr(w, attr), cls)
    assert w.show_tab("grain_size") is w.grain_size
    assert w.tabs.currentIndex() == 3
    with pytest.raises(KeyError, match="no tab"):
        w.show_tab("nope")
    # the tabs see the viewer's layers like the separate docks do
    viewer.add_image(np.zeros((32, 32), np.float32), name="scan")
    assert w.calibration.layer_combo.value.name == "scan"
    assert w.super_resolution.layer_combo.value.name == "scan"


def test_canvas_stays_visible_on_a_1600x1000_screen(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    window = viewer.window._qt_window
    window.resize(1600, 1000)
    w = WorkbenchWidget(viewer)
    viewer.window.add_dock_widget(w, name="napari-srmat", area="right")
    for name in ("grain_size", "audit", "train"):
        w.show_tab(name)
        qtbot.wait(50)
        width, height = viewer.canvas.size[1], viewer.canvas.size[0]
        assert width >= 0.35 * window.width(), (name, viewer.canvas.size)
        assert height >= 0.5 * window.height(), (name, viewer.canvas.size)


def test_async_slicing_switch_sets_napari_preference(make_napari_viewer):
    from napari.settings import get_settings

    viewer = make_napari_viewer()
    w = WorkbenchWidget(viewer)
    settings = get_settings().experimental
    before = settings.async_
    try:
        w.async_slicing.setChecked(not before)
        assert settings.async_ is (not before)
        w.set_async_slicing(before)
        assert settings.async_ is before and w.async_slicing.isChecked() is before
    finally:
        settings.async_ = before


def test_closing_the_workbench_closes_its_tools(make_napari_viewer, qtbot):
    """Closing the workbench dock left its Train tab's queue running and the Audit tab's
    letter keys bound on the viewer (they kept recording verdicts). Now the tools are
    shut down as their own docks are."""
    from app_model.types import KeyBinding

    from napari_srmat.audit import AuditSession, Candidate
    from napari_srmat.widgets.train_widget import UAED_TRAIN, JobSpec

    viewer = make_napari_viewer()
    w = WorkbenchWidget(viewer)
    viewer.window.add_dock_widget(w, name="workbench")
    # the Audit tab takes the review keys when it shows a session
    img = np.zeros((16, 16), np.uint8)
    cand = Candidate(id=1, bbox=[0, 0, 8, 8], score=1.0, kind="new_boundary",
                     new_boundary_length_px=8.0)
    w.audit.set_session(AuditSession.create(img, np.kron(img, np.ones((4, 4), np.uint8)),
                                            [cand]))
    queued = JobSpec(UAED_TRAIN, {"data": "nowhere"})
    w.train.queue.append(queued)  # waiting behind a running job
    assert KeyBinding.from_str("R") in viewer.keymap
    viewer.window.remove_dock_widget(w)
    assert queued.status == "cancelled" and w.train.queue == []
    assert KeyBinding.from_str("R") not in viewer.keymap
    qtbot.addWidget(w)


def test_an_rgb_stack_is_refused_before_any_job(make_napari_viewer, qtbot):
    """A (5, H, W, 3) stack of colour planes (an RGB time series) passed the layer check
    because napari marks it RGB: each tab started a job that failed in the worker with
    'image must be (H, W) or (H, W, C)'. Now every tab refuses it at once, naming the
    shape and what to do, as it does a grey stack."""
    from napari_srmat.widgets.train_widget import SR_TRAIN

    viewer = make_napari_viewer()
    layer = viewer.add_image(np.zeros((5, 32, 32, 3), np.uint8), name="series")
    assert layer.rgb
    w = WorkbenchWidget(viewer)
    qtbot.addWidget(w)
    w.train.kind.setCurrentText(SR_TRAIN)
    w.train.source.setCurrentText("layers")
    panels = (w.super_resolution, w.boundaries, w.grain_size.simple, w.train)
    for panel in panels:
        panel.ask = lambda title, text: True
    buttons = [(w.super_resolution, w.super_resolution.run_btn),
               (w.super_resolution, w.super_resolution.plan_btn),
               (w.boundaries, w.boundaries.run_btn),
               (w.grain_size.simple, w.grain_size.simple.run_btn),
               (w.train, w.train.run_btn)]
    for panel, button in buttons:
        button.click()
        assert panel.worker is None, panel
        assert panel.status.text().startswith(
            "layer 'series' has shape (5, 32, 32, 3), which napari shows as a stack of "
            "planes"), panel.status.text()
        assert "layer.data[0]" in panel.status.text()
    assert not w.train.queue and not w.train.finished_jobs
