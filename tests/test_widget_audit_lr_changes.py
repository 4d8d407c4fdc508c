"""GUI tests: the session's LR layer calibrated or removed while it is reviewed."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

pytestmark = pytest.mark.gui


def test_calibrating_the_lr_layer_rescales_the_sr_and_the_session(make_napari_viewer, qtbot,
                                                                  tmp_path):
    """F11: calibrating the LR layer (0.5 µm/px) left the SR layer at its old place (twice
    the LR's extent) and the session's pixel size unknown. Now the SR layer (and the boxes
    on it) follows: 0.125 µm/px at x4, the session takes it and logs a 'recalibrate'."""
    from test_audit_widget import _saved, _session_widget

    from napari_srmat._napari_io import layer_pixel_size_um
    from napari_srmat.widgets.audit_widget import layer_world_extent
    from napari_srmat.widgets.calibration_widget import set_layer_pixel_size

    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    assert w.session.pixel_size_um is None
    set_layer_pixel_size(viewer, viewer.layers["lr"], 0.5)
    _saved()
    sr = viewer.layers["sr"]
    assert layer_pixel_size_um(sr) == pytest.approx(0.125)
    lr_lo, lr_hi = layer_world_extent(viewer.layers["lr"])
    sr_lo, sr_hi = layer_world_extent(sr)
    assert np.allclose(lr_lo, sr_lo) and np.allclose(lr_hi, sr_hi)
    boxes = viewer.layers["audit candidates"]
    assert np.allclose(boxes.scale[-2:], sr.scale[-2:])
    assert w.session.pixel_size_um == pytest.approx(0.125)
    assert "0.125" in w.status.text()
    saved = json.loads(path.read_text())
    assert saved["pixel_size_um"] == pytest.approx(0.125)
    assert [e["action"] for e in saved["log"]].count("recalibrate") == 1


def test_blink_without_the_lr_layer_is_refused_and_told(make_napari_viewer, qtbot, tmp_path):
    """F4: with the LR layer deleted, blink hid the SR layer (boxes over nothing) and
    auto-blink flashed it, nothing said. Now blink leaves the SR shown, auto-blink stops
    and the status line says what to do; verdicts are still recorded."""
    from test_audit_widget import _press, _session_widget

    viewer = make_napari_viewer()
    w, _ = _session_widget(viewer, qtbot, tmp_path)
    w.auto_blink.setChecked(True)
    viewer.layers.remove("lr")
    _press(viewer, "b")
    assert viewer.layers["sr"].visible
    assert not w.auto_blink.isChecked()
    assert "'lr'" in w.status.text() and "blink" in w.status.text()
    _press(viewer, "r")
    assert 1 in w.session.decisions


@pytest.mark.parametrize("route", ["source_layer", "duplicate"])
def test_a_derived_sr_layer_follows_the_lr_calibration_once(make_napari_viewer, qtbot,
                                                            tmp_path, route):
    """W1 (b3f17bdc): an SR layer derived from the LR but not kept on it (one recording
    ``source_layer``; Layer > Duplicate of an SR widget result, the original deleted) was
    stretched twice when the LR was calibrated during an audit: by the Audit widget, then
    by :func:`set_layer_pixel_size` as a derived layer: 0.0625 µm/px, half the LR covered,
    two 'recalibrate' entries saved. Now it is placed once: 0.125 µm/px at x4 over the
    LR's extent, one entry."""
    from napari.layers._layer_actions import _duplicate_layer
    from test_audit_widget import _saved

    from napari_srmat._napari_io import layer_pixel_size_um
    from napari_srmat.audit import AuditSession
    from napari_srmat.audit.detector import Candidate
    from napari_srmat.widgets.audit_widget import AuditWidget, layer_world_extent
    from napari_srmat.widgets.calibration_widget import set_layer_pixel_size
    from napari_srmat.widgets.layers import add_super_resolution_result, kept_on

    viewer = make_napari_viewer()
    lr = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    sr = np.kron(lr, np.ones((4, 4), np.uint8))
    lr_layer = viewer.add_image(lr, name="lr")
    if route == "source_layer":
        sr_layer = viewer.add_image(sr, name="sr", metadata={"source_layer": "lr"})
    else:
        made = add_super_resolution_result(viewer, lr_layer, sr, 4, name="sr x4")
        viewer.layers.selection = {made}
        _duplicate_layer(viewer.layers)
        sr_layer = next(lay for lay in viewer.layers if lay.name not in ("lr", "sr x4"))
        viewer.layers.remove(made)
    assert kept_on(viewer, sr_layer) is None
    w = AuditWidget(viewer)
    qtbot.addWidget(w)
    w.lr_combo.setCurrentText("lr")
    w.sr_combo.setCurrentText(sr_layer.name)
    cands = [Candidate(id=1, bbox=[10, 20, 30, 40], score=50.0, kind="new_boundary",
                       new_boundary_length_px=12.0)]
    path = tmp_path / "audit.json"
    w.set_session(AuditSession.create(lr, sr, cands), path)
    _saved()
    set_layer_pixel_size(viewer, lr_layer, 0.5)
    _saved()
    assert layer_pixel_size_um(sr_layer) == pytest.approx(0.125)
    lr_lo, lr_hi = layer_world_extent(lr_layer)
    sr_lo, sr_hi = layer_world_extent(sr_layer)
    assert np.allclose(lr_lo, sr_lo) and np.allclose(lr_hi, sr_hi)
    assert w.session.pixel_size_um == pytest.approx(0.125)
    saved = json.loads(path.read_text())
    assert saved["pixel_size_um"] == pytest.approx(0.125)
    assert [e["action"] for e in saved["log"]].count("recalibrate") == 1
