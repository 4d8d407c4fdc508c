"""An SR training's warnings end the Train widget's status line, as a UAED training's do.

The SR training told its lack of validation images (``NO_VALIDATION_WARNING``: best/ is
the last step's model) while it ran, but its result dict had no ``warnings``: the status
line then ended a bare ``SR training: done`` where a UAED training's ends with its
warnings (``TrainResult.warnings``). The SR result now has ``warnings`` too, and the
widget reads either.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("qtpy")

from napari_srmat.sr.train import NO_VALIDATION_WARNING  # noqa: E402
from napari_srmat.widgets.train_widget import (  # noqa: E402
    SR_TRAIN,
    TrainEvaluateWidget,
    training_warnings,
)

pytestmark = pytest.mark.gui


def sr_widget_on_a_layer(make_napari_viewer, qtbot, out, steps: int = 2):
    """A Train widget set for a small CPU SR training on a 64 px layer into ``out`` (no
    validation: the widget has no validation control)."""
    viewer = make_napari_viewer()
    rng = np.random.default_rng(5)
    viewer.add_image(rng.random((64, 64, 3), dtype=np.float32), rgb=True, name="micrograph")
    w = TrainEvaluateWidget(viewer)
    qtbot.addWidget(w)
    w.kind.setCurrentText(SR_TRAIN)
    w.source.setCurrentText("layers")
    w.image_layer.value = viewer.layers["micrograph"]
    w.steps.setValue(steps)
    w.batch.setValue(2)
    w.crop.setValue(32)
    w.device.setCurrentText("cpu")
    w.out.setText(str(out))
    w.extra.setText('{"val_every": 1000, "num_threads": 1}')
    return w


def test_an_sr_training_without_validation_ends_with_its_warning(
    make_napari_viewer, qtbot, tmp_path
):
    w = sr_widget_on_a_layer(make_napari_viewer, qtbot, tmp_path / "sr")
    spec = w.current_spec()
    w.enqueue(spec)
    qtbot.waitUntil(lambda: not w.is_running and spec.status != "running", timeout=120_000)
    assert spec.status == "done", spec.result
    assert spec.result["warnings"] == [NO_VALIDATION_WARNING]
    assert w.status.text() == f"SR training: done: {NO_VALIDATION_WARNING}"


def test_training_warnings_reads_both_result_shapes():
    """Guard: a UAED TrainResult's attribute and an SR result's entry, none without."""
    from napari_srmat.edges.train import TrainResult

    uaed = TrainResult(None, 0.5, 0.5, 1, [], warnings=["threshold"])
    assert training_warnings(uaed) == ["threshold"]
    assert training_warnings({"step": 2, "warnings": ["no validation"]}) == ["no validation"]
    assert training_warnings({"step": 2}) == training_warnings(None) == []
