"""A job's worker thread starting between another (uncounted) worker's restore of the
warnings state and that worker's ``finished`` (widgets._worker, _warnings_state): the
order forced, as reviewer R2's repro did."""

from __future__ import annotations

import contextlib
import threading
import warnings

import pytest

pytest.importorskip("napari")
from test_worker_warnings_more import WAIT_MS, two_free_threads  # noqa: E402, F401 - its fixture

import napari_srmat._warnings_state as state  # noqa: E402
import napari_srmat.widgets._worker as worker_mod  # noqa: E402
from napari_srmat.jobs import Progress  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.mark.usefixtures("two_free_threads")
@pytest.mark.parametrize("job_code_first", [False, True],
                         ids=["its-relay-installed", "its-code-running"])
def test_a_job_thread_starting_after_another_worker_s_restore_leaves_no_relay(
        qtbot, monkeypatch, job_code_first):
    """Another plugin's superqt worker ran as a job started (its relay the state before
    the jobs); the job's worker thread started only after that worker's end had put back
    the state before it, and before its ``finished`` came: the job's start saved that
    state, and the other's end, seeing the job's relay (or the router its code installed
    in place of it), took nothing. After the job, the ended worker's relay stayed the
    process's ``showwarning`` and its 'always' filter the first: every warning outside a
    job for the rest of the session reached nobody (R2: 3 of 3 lost). The state the
    job's worker saw as it started is taken as the one before the jobs now."""
    from napari.qt.threading import create_worker
    from qtpy.QtCore import Qt

    shown: list[str] = []
    other_running, other_go, job_go, job_running, gate = (
        threading.Event() for _ in range(5))
    other_ended, job_ended = threading.Event(), threading.Event()

    def other() -> None:
        other_running.set()
        assert other_go.wait(WAIT_MS / 1000)

    def make(token):
        def job():
            assert job_go.wait(WAIT_MS / 1000)
            yield Progress(1, 1, "step")
        job_running.set()
        return job()

    real_run, real_sink = worker_mod._JobWorker.run, worker_mod._sink

    def late_run(self) -> None:  # the job's thread starts after the other's restore
        assert gate.wait(WAIT_MS / 1000)
        real_run(self)

    @contextlib.contextmanager
    def late_sink(told):  # the job's code (its router) only after the other's end
        assert other_ended.wait(WAIT_MS / 1000)
        with real_sink(told):
            yield

    def restored(*_) -> None:  # the other's thread, after its restore, before finished
        gate.set()
        if job_code_first:
            assert job_running.wait(WAIT_MS / 1000)  # the router in place of its relay
            return
        for _ in range(WAIT_MS // 10):  # the job's start has saved the state
            if worker_mod._relay_worker(warnings.showwarning) is not None:
                return
            threading.Event().wait(0.01)
        raise AssertionError("the job's worker never started")

    monkeypatch.setattr(worker_mod._JobWorker, "run", late_run)
    if not job_code_first:
        monkeypatch.setattr(worker_mod, "_sink", late_sink)

    with warnings.catch_warnings():
        warnings.showwarning = before = lambda m, *a, **k: shown.append(str(m))
        filters = list(warnings.filters)
        other_worker = create_worker(other, _start_thread=False)
        other_worker.finished.connect(other_ended.set)
        other_worker.returned.connect(restored, Qt.ConnectionType.DirectConnection)
        other_worker.start()
        assert other_running.wait(WAIT_MS / 1000)
        worker_mod.start_job(make, on_finished=job_ended.set)
        other_go.set()
        qtbot.waitUntil(other_ended.is_set, timeout=WAIT_MS)
        job_go.set()
        qtbot.waitUntil(job_ended.is_set, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: state._state.holders == 0, timeout=WAIT_MS)
        after, after_filters = warnings.showwarning, list(warnings.filters)
        warnings.warn("a warning outside the jobs", UserWarning, stacklevel=1)
    assert worker_mod._relay_worker(after) is None, after
    assert after is before
    assert after_filters == filters
    assert shown == ["a warning outside the jobs"], shown


def test_the_state_taken_instead_is_never_a_holders(monkeypatch):
    """The state a worker of the widgets saw as it began is taken as the one before the
    jobs only when no holder installed it: the latest such one; never the router, a
    relay, or a command's collector (one installed while jobs ran chains to the
    router: put back after the last job, it would route to itself)."""
    plain = lambda *a, **k: None  # noqa: E731 - the state an end put back
    with warnings.catch_warnings(), state.collecting():
        collector = warnings.showwarning
    begun = {1: (plain, ()), 2: (collector, ()), 3: (worker_mod._route_warning, ())}
    monkeypatch.setattr(worker_mod, "_BEGUN_WITH", begun)
    assert worker_mod._put_back_meanwhile() == (plain, ())
    del begun[1]
    assert worker_mod._put_back_meanwhile() is None
