"""The Audit widget's boundary overlay that fails says so as every widget's job does
(widgets._worker.failed_line)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")

pytestmark = pytest.mark.gui

#: How long the test waits for the overlay's worker (ms); never reached when all goes well.
WAIT_MS = 30_000


@pytest.mark.parametrize("raised", [SystemExit(3), ValueError("the crop is empty")],
                         ids=["SystemExit", "ValueError"])
def test_a_failed_boundary_overlay_is_told_by_the_one_rule(make_napari_viewer, qtbot,
                                                            tmp_path, monkeypatch, raised):
    """The overlay's ``errored`` callback worded its error itself: an interrupted
    overlay (a SystemExit in its worker, an ``_Interrupted`` there) read "boundary
    overlay: internal error: _Interrupted: SystemExit in the job's code (3)". It is the
    jobs' one rule now, ``failed: <the notification's line>``."""
    import napari_srmat.widgets.audit_widget as audit_mod
    from napari_srmat.audit.detector import Candidate
    from napari_srmat.audit.session import AuditSession
    from napari_srmat.widgets._worker import failed_line

    def overlay_maps(*args, **kwargs):
        raise raised

    monkeypatch.setattr(audit_mod, "_overlay_maps", overlay_maps)
    monkeypatch.setattr("napari_srmat.widgets._worker.show_error", lambda message: None)
    monkeypatch.setattr("napari_srmat.widgets._worker.relay_error", lambda exc: None)
    monkeypatch.setattr("napari_srmat.widgets._worker._relayed_error", lambda exc: None)
    viewer = make_napari_viewer()
    lr = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    viewer.add_image(lr, name="lr")
    viewer.add_image(np.kron(lr, np.ones((4, 4), np.uint8)), name="sr")
    widget = audit_mod.AuditWidget(viewer)
    viewer.window.add_dock_widget(widget, name="audit")  # closed with its dock below
    widget.lr_combo.setCurrentText("lr")
    widget.sr_combo.setCurrentText("sr")
    cands = [Candidate(id=1, bbox=[10, 20, 30, 40], score=50.0, kind="new_boundary",
                       new_boundary_length_px=12.0)]
    widget.set_session(AuditSession.create(lr, np.kron(lr, np.ones((4, 4), np.uint8)),
                                           cands), tmp_path / "audit.json")
    widget.overlay_check.setChecked(True)
    expected = f"boundary overlay: {failed_line(raised)}"
    qtbot.waitUntil(lambda: widget.status.text().startswith("boundary overlay: "),
                    timeout=WAIT_MS)
    assert widget.status.text() == expected
    assert "\n" not in widget.status.text()
    # its session took napari's review keys: the dock's removal gives them back (left
    # held, they failed test_audit_widget's check that no panel holds them)
    viewer.window.remove_dock_widget(widget)
    assert not any(getattr(ref(), "holds_keys", False) for ref in audit_mod._KEY_TAKERS)
