"""Super-resolution widget: its result shown in steps, one per event-loop turn, and a
Cancel after the last tile told as it happened (s50 GUI explorer F5, F6)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from _helpers import configure
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QWidget

from napari_srmat.jobs import Progress
from napari_srmat.widgets._worker import SingleJobMixin
from napari_srmat.widgets.sr_widget import SuperResolutionWidget

pytestmark = pytest.mark.gui


def _viewer_with_input(make_napari_viewer, shape=(48, 40)):
    viewer = make_napari_viewer()
    img = np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)
    layer = viewer.add_image(img, name="lr", metadata={"pixel_size_um": 0.8})
    return viewer, layer


class _Turns:
    """A zero-time timer counting the GUI thread's event-loop turns."""

    def __init__(self) -> None:
        self.n = 0
        self.timer = QTimer()
        self.timer.setInterval(0)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def tick(self) -> None:
        self.n += 1


class _ThreeLayers(SingleJobMixin, QWidget):
    """A widget whose result adds three layers (one step each), as a boundaries result
    adds its probability, uncertainty and boundaries."""

    def __init__(self, viewer) -> None:
        super().__init__()
        self.viewer = viewer
        self.worker = self.token = None
        self._add_job_controls(self._form())
        self.turns: list[int] = []  # the turn each layer was added in
        self.counter: _Turns | None = None

    @staticmethod
    def _form():
        from qtpy.QtWidgets import QFormLayout

        return QFormLayout()

    def run(self):
        def job(stop):
            yield Progress(1, 1, "tiles")
            return np.zeros((8, 8), np.float32)

        return self._start_single_job(job, on_result=self._on_result)

    def _on_result(self, result):
        for name in ("a", "b", "c"):
            self.viewer.add_image(result, name=name)
            self.turns.append(self.counter.n)
            yield
        self.status.setText(self._forward.done_line("a, b, c"))


def test_a_result_s_layers_are_added_one_per_event_loop_turn(make_napari_viewer, qtbot):
    """A result's layers were all added in one callback of the GUI thread (a boundaries
    result: four layers and three colour bars, 0.25-0.75 s without a repaint or a click
    taken; s50 GUI explorer F5). A result callback that is a generator now runs one step
    per event-loop turn: each layer is added in a turn of its own, and the job counts as
    running (Run off, Cancel off: nothing left to stop) until the last step. Failed
    before: the generator was never run (no layer added)."""
    viewer = make_napari_viewer()
    w = _ThreeLayers(viewer)
    qtbot.addWidget(w)
    w.counter = _Turns()
    run_states: list[tuple[bool, bool]] = []
    viewer.layers.events.inserted.connect(
        lambda _e: run_states.append((w.run_btn.isEnabled(), w.cancel_btn.isEnabled())))
    w.run()
    qtbot.waitUntil(lambda: w.status.text() == "done: a, b, c", timeout=20_000)
    qtbot.waitUntil(lambda: w.run_btn.isEnabled(), timeout=5_000)
    w.counter.timer.stop()
    assert [lay.name for lay in viewer.layers] == ["a", "b", "c"]
    assert len(set(w.turns)) == 3, w.turns  # three turns, not one
    assert run_states == [(False, False)] * 3  # busy while shown; Cancel has nothing to stop
    assert not w.cancel_btn.isEnabled()


def test_a_closed_widget_gets_no_further_step(make_napari_viewer, qtbot):
    """The rule of a closed dock (no layer added after the close) holds between the
    steps of a result: closed after the first layer, no second one is added. Failed
    before: no step ran (no layer at all)."""
    viewer = make_napari_viewer()
    w = _ThreeLayers(viewer)
    qtbot.addWidget(w)
    w.counter = _Turns()
    viewer.layers.events.inserted.connect(lambda _e: setattr(w, "_dropped_token", w.token))
    w.run()
    qtbot.waitUntil(lambda: len(viewer.layers) == 1, timeout=20_000)
    qtbot.wait(200)
    w.counter.timer.stop()
    assert [lay.name for lay in viewer.layers] == ["a"]


def test_an_sr_store_is_opened_in_the_worker_not_on_the_gui_thread(make_napari_viewer,
                                                                     qtbot, tmp_path,
                                                                     monkeypatch):
    """The SR result layer of a store was made on the GUI thread from the store's path:
    its metadata and levels read there (``read_image``). The store is opened in the
    worker now; the GUI thread only adds the layer (and links it to its input, a turn
    later). Failed before: ``read_image`` ran on the GUI thread."""
    import napari_srmat.io as io_mod

    viewer, layer = _viewer_with_input(make_napari_viewer)
    reads: list[bool] = []  # on the GUI thread?
    real = io_mod.read_image

    def read_image(*args, **kwargs):
        reads.append(threading.current_thread() is threading.main_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(io_mod, "read_image", read_image)
    w = SuperResolutionWidget(viewer)
    qtbot.addWidget(w)
    configure(w, layer, model="bicubic", scale="2", tile=32, overlap=8, device="cpu",
              output=str(tmp_path / "sr.ome.zarr"))
    w.run()
    qtbot.waitUntil(lambda: w.last_layer is not None and w.run_btn.isEnabled(),
                    timeout=60_000)
    assert w.status.text() == "done: lr SR x2", w.status.text()
    assert w.last_layer.metadata["path"] == str(tmp_path / "sr.ome.zarr")
    assert reads and not any(reads), reads


def _stop_after_the_last_tile(job):
    """``job`` (a job function taking ``stop=``), asking its token to stop once its last
    tile is done, as a Cancel pressed while the result is written or handed over."""

    def stopping(*args, stop, **kwargs):
        gen = job(*args, stop=stop, **kwargs)
        try:
            while True:
                event = next(gen)
                if isinstance(event, Progress) and event.done == event.total > 0:
                    stop.request_stop()
                yield event
        except StopIteration as end:
            return end.value

    return stopping


@pytest.mark.parametrize("to_store", [False, True])
def test_cancel_after_the_last_tile_says_the_result_is_whole(make_napari_viewer, qtbot,
                                                             tmp_path, monkeypatch,
                                                             to_store):
    """Cancel pressed after the last SR tile (while the store's pyramid is built and it
    is moved into place, or the result handed over) said "stopped" and added no layer,
    though the store was complete on disk and an in-memory result whole (s50 GUI
    explorer F6). Now the result is shown and the status line says Cancel came too late
    to stop anything, and where the store keeps it. Failed before: "stopped", no
    layer."""
    import napari_srmat.widgets.sr_widget as sr_mod

    viewer, layer = _viewer_with_input(make_napari_viewer)
    monkeypatch.setattr(sr_mod, "super_resolution_job",
                        _stop_after_the_last_tile(sr_mod.super_resolution_job))
    store = tmp_path / "sr.ome.zarr"
    w = SuperResolutionWidget(viewer)
    qtbot.addWidget(w)
    configure(w, layer, model="bicubic", scale="2", tile=32, overlap=8, device="cpu",
              output=str(store) if to_store else "")
    w.run()
    qtbot.waitUntil(lambda: w.run_btn.isEnabled(), timeout=60_000)
    assert w.token.stop_requested
    kept = f" and kept in {store}" if to_store else ""
    assert w.status.text() == ("done: lr SR x2; Cancel came after the last tile: not "
                               f"stopped, the whole result is shown{kept}"), w.status.text()
    assert w.last_layer is not None and tuple(w.last_layer.level_shapes[0][:2]) == (96, 80)
    assert store.is_dir() == to_store
