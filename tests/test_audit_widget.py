"""GUI test: the audit widget drives a 3-candidate session end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from napari_srmat.audit import AuditSession, Candidate  # noqa: E402

pytestmark = pytest.mark.gui


def _press(viewer, key):
    """Trigger the viewer key binding for ``key`` (as a key press would)."""
    from app_model.types import KeyBinding

    func = viewer.keymap[KeyBinding.from_str(key.upper())]
    func(viewer)


def test_widget_session_end_to_end(make_napari_viewer, tmp_path, qtbot):
    from napari_srmat.widgets.audit_widget import AuditWidget

    viewer = make_napari_viewer()
    lr = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    sr = np.kron(lr, np.ones((4, 4), np.uint8))
    viewer.add_image(lr, name="lr")
    viewer.add_image(sr, name="sr")
    w = AuditWidget(viewer)
    qtbot.addWidget(w)
    w.lr_combo.setCurrentText("lr")
    w.sr_combo.setCurrentText("sr")
    w.reviewer_edit.setText("cara")
    cands = [Candidate(id=i + 1, bbox=[10 + 30 * i, 20, 30 + 30 * i, 40], score=50.0 - i,
                       kind="new_boundary", new_boundary_length_px=12.0) for i in range(3)]
    path = tmp_path / "audit.json"
    w.set_session(AuditSession.create(lr, sr, cands), path)
    assert w.queue.count() == 3
    # the SR image layer stays active, so the letter keys are not taken by Shapes tools
    assert viewer.layers.selection.active is viewer.layers["sr"]
    assert w.progress_label.text() == "0/3 reviewed"
    # camera centred on the first candidate (row, col)
    assert tuple(viewer.camera.center[-2:]) == pytest.approx((30.0, 20.0))
    # LR layer aligned on the SR grid
    assert tuple(viewer.layers["lr"].scale) == (4.0, 4.0)
    # blink swaps visibility
    _press(viewer, "b")
    assert not viewer.layers["sr"].visible and viewer.layers["lr"].visible
    _press(viewer, "b")
    assert viewer.layers["sr"].visible and not viewer.layers["lr"].visible
    # boundary overlays around the current candidate
    w.overlay_check.setChecked(True)
    assert "SR boundaries" in viewer.layers and "LR-up boundaries" in viewer.layers
    assert viewer.layers["SR boundaries"].data.ndim == 2
    w.overlay_check.setChecked(False)
    assert not viewer.layers["SR boundaries"].visible
    # decisions by key
    w.note_edit.setText("clear twin")
    _press(viewer, "r")
    assert w.progress_label.text() == "1/3 reviewed"
    assert tuple(viewer.camera.center[-2:]) == pytest.approx((30.0, 50.0))
    _press(viewer, "h")
    _press(viewer, "p")
    assert w.session.position == 1
    _press(viewer, "n")
    _press(viewer, "u")
    assert w.progress_label.text() == "3/3 reviewed"
    saved = json.loads(path.read_text())
    verdicts = {k: v["verdict"] for k, v in saved["decisions"].items()}
    assert verdicts == {"1": "real", "2": "hallucinated", "3": "unsure"}
    assert saved["decisions"]["1"]["note"] == "clear twin"
    assert saved["decisions"]["1"]["reviewer"] == "cara"
    # a missed region from a Shapes rectangle
    viewer.add_shapes([np.array([[5, 6], [15, 26]])], shape_type="rectangle", name="missed")
    region = w.add_region_from_shapes()
    assert region.bbox == [6, 5, 26, 15]
    assert len(json.loads(path.read_text())["added_regions"]) == 1

    # resume in a fresh widget: same decisions and position
    w2 = AuditWidget(viewer)
    qtbot.addWidget(w2)
    w2.lr_combo.setCurrentText("lr")
    w2.sr_combo.setCurrentText("sr")
    s = w2.load_session(path)
    assert len(s.decisions) == 3 and s.position == w.session.position
    assert w2.progress_label.text() == "3/3 reviewed"


def test_widget_finds_candidates_in_worker(make_napari_viewer, tmp_path, qtbot):
    from napari_srmat.audit import inject_false_boundaries, resolve_degrade
    from napari_srmat.widgets.audit_widget import AuditWidget

    rng = np.random.default_rng(1)
    hr = np.clip(rng.normal(0.6, 0.01, (96, 96, 3)), 0, 1)
    hr = (hr * 255).astype(np.uint8)
    lr = (resolve_degrade()(hr, 4) * 255).round().astype(np.uint8)
    sr, lines = inject_false_boundaries(hr, None, n_lines=2, seed=3)
    viewer = make_napari_viewer()
    viewer.add_image(lr, name="lr", rgb=True)
    viewer.add_image(sr, name="sr", rgb=True)
    w = AuditWidget(viewer)
    qtbot.addWidget(w)
    w.lr_combo.setCurrentText("lr")
    w.sr_combo.setCurrentText("sr")
    w.session_path_edit.setText(str(tmp_path / "found.json"))
    w.find_candidates(tile=64)
    qtbot.waitUntil(lambda: w.session is not None, timeout=60000)
    assert len(w.session.candidates) >= len(lines)
    assert (tmp_path / "found.json").exists()
    qtbot.waitUntil(lambda: w.find_btn.isEnabled(), timeout=10000)
