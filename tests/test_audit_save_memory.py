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

import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from napari_srmat.audit import AuditSession  # noqa: E402

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
    from qtpy.QtCore import QThreadPool
    from qtpy.QtWidgets import QApplication

    from napari_srmat.widgets.audit_widget import wait_for_saves

    assert wait_for_saves(WORKERS_WAIT_MS / 1000), "the audit saves did not end"
    assert QThreadPool.globalInstance().waitForDone(WORKERS_WAIT_MS)
    QApplication.processEvents()


def test_ended_saves_keep_no_session_snapshot(make_napari_viewer, qtbot, tmp_path,
                                              monkeypatch):
    from test_audit_widget import _session_widget

    viewer = make_napari_viewer()
    w, _ = _session_widget(viewer, qtbot, tmp_path, n=CANDIDATES)
    _saves_ended()
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
