"""GUI test: an Audit widget's ended saves keep none of the session snapshots they took.

napari keeps every worker made while a viewer exists (its window's task list holds each
one's ``quit``, finished or not), and with it the worker's signal connections: a save's
callbacks that held its job kept the job's two snapshots of the session (the review
before the change, the copy saved) for the viewer's life, about two session copies per
decision of a long review.
"""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from napari_srmat.audit import AuditSession, Candidate  # noqa: E402

pytestmark = pytest.mark.gui

#: The candidates of the reviewed session: a long review's session size
CANDIDATES = 2000
#: The decisions made, each saved before the next
DECISIONS = 20
#: How long the test waits for the saves' worker threads to end, in ms
WORKERS_WAIT_MS = 60_000


def _saves_ended() -> None:
    """Wait until the Audit widgets' saves are made and their worker threads have ended
    (a thread's frame holds the value it returned until it ends), their signals handled."""
    import time

    from qtpy.QtCore import QThreadPool
    from qtpy.QtWidgets import QApplication

    from napari_srmat.widgets.audit_widget import saves_pending

    end = time.monotonic() + WORKERS_WAIT_MS / 1000
    while saves_pending():
        assert time.monotonic() < end, "the audit saves did not end"
        QApplication.processEvents()
        time.sleep(0.002)
    assert QThreadPool.globalInstance().waitForDone(WORKERS_WAIT_MS)
    QApplication.processEvents()


def _reviewed_widget(viewer, qtbot, tmp_path, n: int = CANDIDATES):
    """An Audit widget over an "lr" and an "sr" layer showing a session of ``n``
    candidates, saved to ``tmp_path / "audit.json"``."""
    from napari_srmat.widgets.audit_widget import AuditWidget

    lr = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    sr = np.kron(lr, np.ones((4, 4), np.uint8))
    viewer.add_image(lr, name="lr")
    viewer.add_image(sr, name="sr")
    w = AuditWidget(viewer)
    qtbot.addWidget(w)
    w.lr_combo.setCurrentText("lr")
    w.sr_combo.setCurrentText("sr")
    cands = [Candidate(id=i + 1, bbox=[10 * (i % 10), 10 * (i // 10 % 10),
                                       10 * (i % 10) + 8, 10 * (i // 10 % 10) + 8],
                       score=float(n - i), kind="new_boundary", new_boundary_length_px=12.0)
             for i in range(n)]
    w.set_session(AuditSession.create(lr, sr, cands), tmp_path / "audit.json")
    _saves_ended()
    return w


def test_ended_saves_keep_no_session_snapshot(make_napari_viewer, qtbot, tmp_path,
                                              monkeypatch):
    viewer = make_napari_viewer()
    w = _reviewed_widget(viewer, qtbot, tmp_path)
    taken: list[weakref.ref] = []
    real = AuditSession.snapshot

    def snapshot(self):
        snap = real(self)
        taken.append(weakref.ref(snap))
        return snap

    monkeypatch.setattr(AuditSession, "snapshot", snapshot)
    for _ in range(DECISIONS):
        w.decide("real")
        _saves_ended()
    assert len(w.session.decisions) == DECISIONS  # each decision made and saved
    # at least one snapshot to put the review back and one saved, per decision
    assert len(taken) >= 2 * DECISIONS
    gc.collect()
    alive = sum(r() is not None for r in taken)
    assert alive == 0, f"{alive} of the {len(taken)} snapshots taken are alive"
