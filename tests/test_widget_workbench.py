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


@pytest.mark.parametrize("dock", ["super_resolution", "grain_size", "workbench"])
def test_closing_a_dock_stops_its_job_and_adds_nothing_after(make_napari_viewer, qtbot,
                                                              monkeypatch, dock):
    """Closing the Super-resolution, Grain size or Workbench dock while a job ran left the
    job running with nothing left to show or stop it, and its result layers appeared
    in the viewer afterwards. Now the close stops the job (as the Train and Audit docks
    do), and a result that still arrives is dropped."""
    import time

    import napari_srmat.widgets.heyn_widget as heyn_mod
    import napari_srmat.widgets.sr_widget as sr_mod
    from napari_srmat.jobs import Progress
    from napari_srmat.widgets.heyn_widget import GrainSizeWidget
    from napari_srmat.widgets.sr_widget import SuperResolutionWidget

    asked_to_stop = []

    def stubborn(result):
        """A job that finishes after a while whatever it is told (the worst case)."""
        def job(*_args, stop=None, **_kwargs):
            for i in range(20):
                time.sleep(0.05)
                yield Progress(i, 20, stage="fake")
            asked_to_stop.append(stop.stop_requested)
            return result
        return job

    monkeypatch.setattr(sr_mod, "super_resolution_job",
                        stubborn(np.zeros((64, 64), np.float32)))
    real_heyn = heyn_mod.corrected_heyn_job

    def slow_heyn(*args, stop=None, **kwargs):
        out = yield from stubborn(None)(stop=stop)
        assert out is None
        return (yield from real_heyn(*args, **kwargs))

    monkeypatch.setattr(heyn_mod, "corrected_heyn_job", slow_heyn)
    viewer = make_napari_viewer()
    image = viewer.add_image(np.zeros((16, 16), np.uint8), name="scan")
    mask = np.zeros((16, 16), np.uint8)
    mask[8] = 1
    viewer.add_labels(mask, name="gb")
    if dock == "workbench":
        top = WorkbenchWidget(viewer)
        widget = top.super_resolution
    else:
        top = widget = (SuperResolutionWidget if dock == "super_resolution"
                        else GrainSizeWidget)(viewer)
    viewer.window.add_dock_widget(top, name=dock)
    qtbot.addWidget(top)
    if isinstance(widget, SuperResolutionWidget):
        widget.layer_combo.value = image
        widget.model.setCurrentText("bicubic")
    else:
        widget.layer_combo.value = viewer.layers["gb"]
    before = [layer.name for layer in viewer.layers]
    widget.run_btn.click()
    assert widget.worker is not None and not widget.run_btn.isEnabled()
    viewer.window.remove_dock_widget(top)
    qtbot.waitUntil(widget.run_btn.isEnabled, timeout=30_000)  # the job has ended
    qtbot.wait(100)
    assert asked_to_stop == [True]
    assert [layer.name for layer in viewer.layers] == before
    assert widget.status.text() == "stopped"
    top.shut_down()  # again, idle: nothing to stop, the status stays
    assert widget.status.text() == "stopped"
