"""A widget's job always ends: the Run button comes back and the warnings state is
released, whatever the job's code raised (widgets._worker)."""

from __future__ import annotations

import threading
import warnings

import pytest

pytest.importorskip("napari")
import napari_srmat._warnings_state as state  # noqa: E402
import napari_srmat.widgets._worker as worker_mod  # noqa: E402
from napari_srmat.jobs import Progress  # noqa: E402

pytestmark = pytest.mark.gui

#: How long a test waits for a job's end (ms); never reached when all goes well.
WAIT_MS = 20_000


@pytest.fixture
def told(monkeypatch) -> dict[str, list]:
    """The error notifications of the test's jobs: one-line ones (``show_error``) and
    those relayed with their traceback (napari's traceback dialog)."""
    shown: dict[str, list] = {"line": [], "traceback": []}
    monkeypatch.setattr(worker_mod, "show_error", shown["line"].append)
    monkeypatch.setattr(worker_mod, "relay_error", shown["traceback"].append)
    return shown


@pytest.fixture
def tool(qtbot):
    """A dock widget running one job at a time (:class:`SingleJobMixin`)."""
    from qtpy.QtWidgets import QFormLayout, QWidget

    class Tool(worker_mod.SingleJobMixin, QWidget):
        def __init__(self) -> None:
            super().__init__()
            self.worker = self.token = None
            self._add_job_controls(QFormLayout())

        def run(self) -> None:  # the Run button's slot: the tests start the jobs
            pass

    widget = Tool()
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def warnings_before():
    """The process's ``showwarning`` and filters before the test's jobs."""
    with warnings.catch_warnings():
        warnings.showwarning = lambda *args, **kwargs: None
        yield warnings.showwarning, list(warnings.filters)


def _released(before) -> bool:
    """Whether the warnings state is as before the jobs and nobody holds it."""
    shown, filters = before
    return (state._state.holders == 0 and worker_mod._RUNNING[0] == 0
            and warnings.showwarning is shown and warnings.filters == filters)


@pytest.mark.parametrize("raised", [SystemExit(2), KeyboardInterrupt()],
                         ids=["SystemExit", "KeyboardInterrupt"])
def test_a_job_raising_systemexit_ends_and_releases_the_state(
        qtbot, tool, told, warnings_before, raised):
    """A job's code raising SystemExit (a library calling ``sys.exit``) or
    KeyboardInterrupt, not an ``Exception``, escaped superqt's worker, which then never
    sent ``finished``: the Run button stayed off for the session, the warnings state
    stayed held (superqt's 'always' filter and the router installed for good). The job
    ends as a failed one now: one line, no traceback dialog, Run on again, the state
    released."""
    def make(token):
        def job():
            yield Progress(1, 2, "step")
            raise raised
        return job()

    tool._start_single_job(make, on_result=lambda result: None)
    qtbot.waitUntil(tool.run_btn.isEnabled, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: _released(warnings_before), timeout=WAIT_MS)
    name = type(raised).__name__
    assert told["traceback"] == [], told
    assert len(told["line"]) == 1 and name in told["line"][0], told
    assert "\n" not in told["line"][0]
    assert tool.status.text().startswith("failed: ") and name in tool.status.text()


@pytest.mark.parametrize("ends", ["raising SystemExit", "returning a RuntimeError",
                                  "with its signals deleted"])
def test_a_function_worker_always_finishes(qtbot, told, warnings_before, ends):
    """A function worker (:func:`start_function`) whose call raised SystemExit, or
    returned a RuntimeError (superqt's "RuntimeError in aborted thread" path), never
    sent ``finished``: the warnings state stayed held for the session. It finishes now,
    a SystemExit told as one line, no traceback, and reaching ``on_errored`` (raised
    again in the main thread by superqt's relay, it exited napari). One whose signals'
    Qt object was deleted, which no slot can hear, releases the state itself."""
    errors: list[BaseException] = []
    ended: list[bool] = []
    connected = threading.Event()

    def call() -> RuntimeError:
        assert connected.wait(WAIT_MS / 1000)
        if ends == "raising SystemExit":
            raise SystemExit(3)
        if ends == "with its signals deleted":
            from qtpy import sip

            sip.delete(worker.signals)
        return RuntimeError("a deleted Qt object")

    worker = worker_mod.start_function(call, on_errored=errors.append)
    worker.finished.connect(lambda: ended.append(True))
    connected.set()
    if ends != "with its signals deleted":
        qtbot.waitUntil(lambda: ended == [True], timeout=WAIT_MS)
    qtbot.waitUntil(lambda: _released(warnings_before), timeout=WAIT_MS)
    assert not worker.is_running
    if ends == "raising SystemExit":
        assert [worker_mod.failed_line(exc) for exc in errors] == [
            "failed: SystemExit in the job's code (3)"], errors
        assert told == {"line": ["napari-srmat: SystemExit in the job's code (3)"],
                        "traceback": []}, told
