"""start_job and start_function: what running jobs leave behind in the process."""

from __future__ import annotations

import threading
import warnings

import pytest

pytest.importorskip("napari")

from napari_srmat.jobs import Progress  # noqa: E402
from napari_srmat.widgets._worker import start_function, start_job  # noqa: E402

pytestmark = pytest.mark.gui

#: How long a test waits for a gate or a job (ms).
WAIT_MS = 10_000


@pytest.fixture
def two_free_threads():
    """Room for two more workers in Qt's global thread pool, whatever the machine's
    CPU count (the pool's default size) and whatever workers are still running: in a
    pool of one the second job began only after the first's gate had timed out, so the
    jobs never overlapped and the test passed without testing anything."""
    from qtpy.QtCore import QThreadPool

    pool = QThreadPool.globalInstance()
    size = pool.maxThreadCount()
    pool.setMaxThreadCount(max(size, pool.activeThreadCount() + 2))
    yield
    pool.setMaxThreadCount(size)


@pytest.mark.parametrize("second", ["job", "function"])
def test_two_overlapping_jobs_leave_the_warnings_state_as_they_found_it(
        qtbot, second, two_free_threads):
    """superqt's worker swaps ``warnings.showwarning`` (and the filters, with an
    'always' entry) for the time it runs, in a ``catch_warnings`` that restores what it
    saw when it began: with two jobs overlapping, the first to start ending first, the
    second put back the first's swap. Its showwarning (a lambda sending every later
    warning of the session to that finished worker's signal) and a stray 'always'
    filter stayed installed. Both are as before the first job once both ended."""
    shown, filters = warnings.showwarning, list(warnings.filters)
    gates = {"first": threading.Event(), "second": threading.Event()}
    began: set[str] = set()
    ended: list[str] = []
    timed_out: list[str] = []

    def wait(name: str) -> None:
        began.add(name)
        if not gates[name].wait(WAIT_MS / 1000):
            timed_out.append(name)  # the jobs did not overlap as the test needs

    def job(stop, name):
        wait(name)
        yield Progress(1, 1)

    start_job(lambda stop: job(stop, "first"), on_finished=lambda: ended.append("first"))
    if second == "job":
        start_job(lambda stop: job(stop, "second"),
                  on_finished=lambda: ended.append("second"))
    else:
        worker = start_function(wait, ("second",))  # held at its gate until connected
        worker.finished.connect(lambda: ended.append("second"))
    qtbot.waitUntil(lambda: began == {"first", "second"}, timeout=WAIT_MS)
    gates["first"].set()
    qtbot.waitUntil(lambda: ended == ["first"], timeout=WAIT_MS)
    gates["second"].set()
    qtbot.waitUntil(lambda: ended == ["first", "second"], timeout=WAIT_MS)
    assert timed_out == []
    assert warnings.showwarning is shown
    assert warnings.filters == filters
