"""Calibration's status line names the other layers it changed, with their new size."""

from __future__ import annotations

import numpy as np

from napari_srmat.widgets.calibration_widget import CalibrationWidget


def test_status_names_the_other_layers_changed_and_their_size(make_napari_viewer):
    """Was (F10): calibrating a layer reported "(and 2 derived layer(s))" without naming
    them or their new size (for an SR layer, its LR source, which is not derived, too).
    Now the status names each other layer changed with its pixel size."""
    viewer = make_napari_viewer()
    img = viewer.add_image(np.zeros((100, 120), np.float32), name="scan")
    viewer.add_image(
        np.zeros((400, 480), np.float32),
        name="scan SR x4",
        scale=(0.25, 0.25),
        translate=(-0.375, -0.375),
        metadata={"source_layer": "scan"},
    )
    w = CalibrationWidget(viewer)
    w.layer_combo.value = img
    w.pixel_size.setText("0.8")
    changed = w.apply(w._typed())
    assert [lay.name for lay in changed] == ["scan", "scan SR x4"]
    assert w.status.text() == "scan: 0.8 µm/px (and 'scan SR x4': 0.2 µm/px)"
