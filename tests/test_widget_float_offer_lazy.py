"""The "divided by 255?" offer of a lazy float layer, decided in its job's worker
(``widgets._float_offer``)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")

pytestmark = pytest.mark.gui


def test_the_simple_tab_measures_a_lazy_0_255_layer_divided_by_255(make_napari_viewer,
                                                                   qtbot):
    """A lazy (Dask) float micrograph holding 0..255 got no offer in the Simple tab, and
    its job failed telling the user to "pass the integer array" (failed before: nothing
    asked). Now the job's worker reads its sample and asks; Yes gives exactly the
    measurement of the 8-bit image and says so in the warnings."""
    import dask.array as da

    from napari_srmat import grainsize
    from napari_srmat.synth import generate_microstructure
    from napari_srmat.widgets.heyn_widget import GrainSizeWidget

    viewer = make_napari_viewer()
    ms = generate_microstructure((128, 128), mean_grain_size_px=32, seed=5)
    grey8 = ms.image if ms.image.ndim == 2 else ms.image[..., 0]
    lazy = da.from_array(grey8.astype(np.float32), chunks=64)
    layer = viewer.add_image(lazy, name="lazy float tiff", metadata={"pixel_size_um": 0.5})
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    panel = w.simple
    panel.image_combo.value = layer
    asked = []
    panel.ask = lambda title, text: asked.append(text) or True
    assert panel.run() is not None and asked == []
    # the job's end, whatever it is (a failed job is told here, not by a timeout)
    qtbot.waitUntil(lambda: panel.run_btn.isEnabled(), timeout=120_000)
    assert len(asked) == 1 and "divided by 255" in asked[0] and "'lazy float tiff'" in asked[0]
    assert panel.status.text().startswith("done"), panel.status.text()
    assert panel.result is not None
    ref = grainsize.measure_grain_size(grey8, pixel_size_um=0.5)
    assert panel.result.mean_intercept_um == pytest.approx(ref.mean_intercept_um, rel=1e-9)
    assert "pixel values divided by 255 (a float image in 0..255" in panel.warning_label.text()


def _simple_tab_on_lazy_floats(viewer, qtbot, monkeypatch, lazy):
    """The grain-size widget and its Simple tab on a lazy 0..255 float layer ``lazy``
    (hidden: napari reads none of its chunks for display), its questions answered Yes
    into ``asked``, and the error notifications of its jobs in ``errors`` (the widget
    is returned to be held: qtbot holds it weakly)."""
    import napari_srmat.widgets._worker as worker_mod
    from napari_srmat.widgets.heyn_widget import GrainSizeWidget

    layer = viewer.add_image(lazy, name="lazy floats", visible=False,
                             metadata={"pixel_size_um": 0.5})
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    panel = w.simple
    panel.image_combo.value = layer
    asked, errors = [], []
    panel.ask = lambda title, text: asked.append(text) or True
    monkeypatch.setattr(worker_mod, "show_error", errors.append)
    monkeypatch.setattr(worker_mod, "relay_error", errors.append)
    return w, panel, asked, errors


def _gated_ramp():
    """A lazy 0..255 float ramp whose blocks read in a worker (never those of the GUI
    thread) wait for ``gate``; ``reading`` is set when one is."""
    import threading

    import dask.array as da

    reading, gate = threading.Event(), threading.Event()

    def gated(block):
        if threading.current_thread() is not threading.main_thread():
            reading.set()
            gate.wait(60)
        return block

    ramp = np.tile(np.linspace(0, 255, 256, dtype=np.float32), (256, 1))
    return da.from_array(ramp, chunks=64).map_blocks(gated, dtype=np.float32), reading, gate


def test_a_stop_while_the_value_sample_is_read_ends_the_job_as_stopped(
        make_napari_viewer, qtbot, monkeypatch):
    """Stop pressed while the job's worker read a lazy layer's value sample: the offer
    gave the job the values undivided, and it ended as ``failed: ... float images must
    be in [0, 1]`` with an error notification (failed before: that status, one error).
    Now the question is not asked and the job ends as stopped, as a Stop does."""
    viewer = make_napari_viewer()
    lazy, reading, gate = _gated_ramp()
    w, panel, asked, errors = _simple_tab_on_lazy_floats(viewer, qtbot, monkeypatch, lazy)
    try:
        assert panel.run() is not None
        qtbot.waitUntil(reading.is_set, timeout=60_000)  # the sample is being read
        panel.stop()
    finally:
        gate.set()
    qtbot.waitUntil(lambda: panel.run_btn.isEnabled(), timeout=120_000)
    assert panel.status.text() == "stopped"
    assert asked == [] and errors == []
    assert panel.result is None


def test_napari_quitting_while_the_offer_waits_for_the_gui_ends_its_worker(
        make_napari_viewer, qtbot, monkeypatch):
    """napari's quit (``aboutToQuit``: ``WorkerBase.await_workers``, which quits every
    worker and holds the GUI thread until they end) while a lazy layer's job waited for
    the GUI thread to ask its question: the wait looked at the stop token only, which a
    quit does not stop, so napari hung until await_workers' timeout (15 s in napari;
    failed before: the workers did not quit within 20 s). Now the worker ends at once
    and the job as stopped, with nothing asked and no error."""
    from napari.qt.threading import WorkerBase

    viewer = make_napari_viewer()
    lazy, reading, gate = _gated_ramp()
    w, panel, asked, errors = _simple_tab_on_lazy_floats(viewer, qtbot, monkeypatch, lazy)
    try:
        assert panel.run() is not None
        qtbot.waitUntil(reading.is_set, timeout=60_000)  # the job's worker is in the offer
    finally:
        gate.set()  # the sample is read; its question waits for the GUI thread, held next
    WorkerBase.await_workers(msecs=20_000)  # RuntimeError when the workers did not end
    qtbot.waitUntil(lambda: panel.run_btn.isEnabled(), timeout=60_000)
    assert panel.status.text() == "stopped"
    assert asked == [] and errors == []
    assert panel.result is None


def test_the_offer_is_not_decided_on_the_gui_thread():
    """Guard (passed nowhere before: new code): deciding on the GUI thread would read
    chunks there and wait for itself; it raises instead, reading nothing."""
    import dask.array as da

    from napari_srmat.widgets._float_offer import lazy_float_offer

    read = []
    lazy = da.zeros((64, 64), dtype=np.float32, chunks=32).map_blocks(
        lambda b: read.append(b.shape) or b, dtype=np.float32)
    read.clear()  # dask's meta call
    offer = lazy_float_offer(None, "m", lazy, "measured")
    with pytest.raises(RuntimeError, match="not on the GUI thread"):
        bool(offer)
    assert read == []
