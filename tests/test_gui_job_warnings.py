"""A job's Python warnings reach the user of the widget that ran it."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("napari")
from napari_srmat.widgets.sr_widget import SuperResolutionWidget  # noqa: E402

pytestmark = pytest.mark.gui


def test_default_sr_model_without_x2_weights_is_told(make_napari_viewer, qtbot, monkeypatch):
    """Super-resolution x2 with the default model: the library warns "no shipped weights
    for 'cnn' x2: the network is untrained (its output equals bicubic)" (srmat sr prints
    it), but in the widget the warning reached no one (napari's relay of a worker's
    warnings is never connected): the status said "done: m SR x2", no notification, and
    the metallurgist took bicubic for the learned model. It is a napari notification now,
    once."""
    import napari_srmat.widgets._worker as worker_mod

    told: list[str] = []
    monkeypatch.setattr(worker_mod, "show_warning", told.append)
    viewer = make_napari_viewer()
    rng = np.random.default_rng(0)
    layer = viewer.add_image(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8), rgb=True,
                             name="m")
    w = SuperResolutionWidget(viewer)
    qtbot.addWidget(w)
    w.layer_combo.value = layer
    w.scale.setCurrentText("2")
    w.device.setCurrentText("cpu")
    w.run_btn.click()
    qtbot.waitUntil(lambda: w.last_layer is not None, timeout=30_000)
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=10_000)
    untrained = [t for t in told if "no shipped weights for 'cnn' x2" in t]
    assert len(untrained) == 1, told
    assert untrained[0].startswith("napari-srmat: ") and "\n" not in untrained[0]
    assert w.status.text() == "done: m SR x2"
