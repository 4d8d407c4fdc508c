"""A widget's job always ends: the Run button comes back and the warnings state is
released, whatever the job's code raised (widgets._worker)."""

from __future__ import annotations

import asyncio
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


@pytest.mark.parametrize(
    "raised", [SystemExit(2), KeyboardInterrupt(), asyncio.CancelledError("a task's")],
    ids=["SystemExit", "KeyboardInterrupt", "CancelledError"])
def test_a_job_raising_systemexit_ends_and_releases_the_state(
        qtbot, tool, told, warnings_before, raised):
    """A job's code raising SystemExit (a library calling ``sys.exit``) or
    KeyboardInterrupt, not an ``Exception``, escaped superqt's worker, which then never
    sent ``finished``: the Run button stayed off for the session, the warnings state
    stayed held (superqt's 'always' filter and the router installed for good). The job
    ends as a failed one now: one line, no traceback dialog, Run on again, the state
    released. asyncio's CancelledError (the job's own code cancelled it: an awaited
    task's) went to the excepthook, a traceback, and the status line did not say the
    job had failed; it is the job's failure as those are."""
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


@pytest.mark.parametrize("ends", ["raising SystemExit", "raising CancelledError",
                                  "returning a RuntimeError", "with its signals deleted"])
def test_a_function_worker_always_finishes(qtbot, told, warnings_before, ends):
    """A function worker (:func:`start_function`) whose call raised SystemExit, or
    returned a RuntimeError (superqt's "RuntimeError in aborted thread" path), never
    sent ``finished``: the warnings state stayed held for the session. It finishes now,
    a SystemExit told as one line, no traceback, and reaching ``on_errored`` (raised
    again in the main thread by superqt's relay, it exited napari); asyncio's
    CancelledError as well (it reached the excepthook, never ``on_errored``). One whose
    signals' Qt object was deleted, which no slot can hear, releases the state itself."""
    errors: list[BaseException] = []
    ended: list[bool] = []
    connected = threading.Event()

    def call() -> RuntimeError:
        assert connected.wait(WAIT_MS / 1000)
        if ends == "raising SystemExit":
            raise SystemExit(3)
        if ends == "raising CancelledError":
            raise asyncio.CancelledError()
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
    line = {"raising SystemExit": "SystemExit in the job's code (3)",
            "raising CancelledError": "CancelledError in the job's code"}.get(ends)
    if line is not None:
        assert [worker_mod.failed_line(exc) for exc in errors] == [f"failed: {line}"], errors
        assert told == {"line": [f"napari-srmat: {line}"], "traceback": []}, told


def _quit_while_its_first_step_waits(tool, raised: BaseException):
    """A job of ``tool`` whose clean-up (a ``finally``) raises ``raised``, quit with
    ``worker.quit()`` while its first step waits."""
    started, go = threading.Event(), threading.Event()

    def make(token):
        def job():
            try:
                started.set()
                assert go.wait(WAIT_MS / 1000)
                yield Progress(1, 2, "step")
                yield Progress(2, 2, "step")
            finally:
                raise raised
        return job()

    worker = tool._start_single_job(make, on_result=lambda result: None)
    assert started.wait(WAIT_MS / 1000)
    worker.quit()
    go.set()


def test_a_quit_job_whose_clean_up_raises_systemexit_ends(
        qtbot, tool, told, warnings_before):
    """A quit job's generator is closed at its worker's end, in the main thread; its
    clean-up (a ``finally``) raising SystemExit, not an ``Exception``, escaped the end's
    slot: ``on_finished`` never ran (Run stayed off), and a SystemExit raised there exits
    napari. It ends as a failed job now, as the job's code raising it does. Forced: the
    worker is quit while the job's first step waits."""
    raised = SystemExit(4)
    _quit_while_its_first_step_waits(tool, raised)
    qtbot.waitUntil(tool.run_btn.isEnabled, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: _released(warnings_before), timeout=WAIT_MS)
    assert told == {"line": [f"napari-srmat: {worker_mod._error_line(raised)}"],
                    "traceback": []}, told
    assert tool.status.text() == worker_mod.failed_line(raised)


@pytest.mark.parametrize("raised", [KeyboardInterrupt(), asyncio.CancelledError("a task's")],
                         ids=["KeyboardInterrupt", "CancelledError"])
def test_a_quit_job_whose_clean_up_is_interrupted_ends_as_stopped(
        qtbot, tool, told, warnings_before, monkeypatch, raised):
    """``worker.quit()`` is a stop (napari quits every worker as it quits; a script):
    a quit job whose clean-up then raised KeyboardInterrupt or CancelledError was told
    as failed ("napari-srmat: KeyboardInterrupt in the job's code" as napari closed),
    its token stopped only after that clean-up. Failed before: that line was told. It
    ends as a Stop's interrupt does now (ffe6847): stopped, no error, Run on again."""
    infos: list[str] = []
    monkeypatch.setattr(worker_mod, "show_info", infos.append)
    _quit_while_its_first_step_waits(tool, raised)
    qtbot.waitUntil(tool.run_btn.isEnabled, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: _released(warnings_before), timeout=WAIT_MS)
    assert told == {"line": [], "traceback": []}, told
    assert tool.status.text() == worker_mod.STOPPED
    assert infos == [f"napari-srmat: {worker_mod.Stopped().message}"], infos


class _Cancelled(BaseException):
    """A ``BaseException`` none of those a job's code ends with as a failed job
    (``worker_mod._ENDS_A_JOB``): a library's own."""


@pytest.mark.parametrize("kind", ["job", "function"])
def test_another_baseexception_of_a_worker_still_reaches_the_excepthook(
        qtbot, tool, told, warnings_before, kind):
    """A ``BaseException`` other than SystemExit, KeyboardInterrupt and CancelledError
    escaping the work went to ``sys.excepthook`` (napari's notification, with its traceback) before
    the workers always finished; since, it was dropped without a word: the job ended
    as if nothing had happened. The worker finishes (state released, Run on) and the
    error still reaches the excepthook, once."""
    connected = threading.Event()
    ended: list[bool] = []

    def call() -> None:
        assert connected.wait(WAIT_MS / 1000)
        raise _Cancelled("cancelled by a library")

    with qtbot.captureExceptions() as caught:
        if kind == "job":
            def make(token):
                def job():
                    yield Progress(1, 2, "step")
                    call()
                return job()

            worker = tool._start_single_job(make, on_result=lambda result: None)
        else:
            worker = worker_mod.start_function(call)
        worker.finished.connect(lambda: ended.append(True))
        connected.set()
        qtbot.waitUntil(lambda: ended == [True], timeout=WAIT_MS)
        qtbot.waitUntil(lambda: _released(warnings_before), timeout=WAIT_MS)
        if kind == "job":
            qtbot.waitUntil(tool.run_btn.isEnabled, timeout=WAIT_MS)
    assert [raised for raised, *_ in caught] == [_Cancelled], caught
    assert told == {"line": [], "traceback": []}, told


def test_a_function_worker_whose_signals_are_gone_before_its_run_releases_the_state(
        qtbot, told, warnings_before, monkeypatch):
    """A worker whose signals' Qt object was deleted before the pool ran it failed at
    its first connect, before superqt's run: the error escaped, nothing could send
    ``finished``, and its hold of the warnings state was never released. It releases
    it now (its call never runs). Forced: the worker is handed to the pool only after
    its signals are deleted."""
    from qtpy import sip
    from qtpy.QtCore import QThreadPool

    held: list = []
    monkeypatch.setattr(worker_mod._FunctionJobWorker, "start", lambda self: held.append(self))
    called: list[bool] = []
    worker = worker_mod.start_function(lambda: called.append(True))
    assert held == [worker]
    assert not _released(warnings_before)  # held from the worker's making
    sip.delete(worker.signals)
    QThreadPool.globalInstance().start(worker)
    qtbot.waitUntil(lambda: _released(warnings_before), timeout=WAIT_MS)
    assert called == []
    assert told == {"line": [], "traceback": []}, told


@pytest.mark.parametrize("raised", [asyncio.CancelledError("a task's"), KeyboardInterrupt()],
                         ids=["CancelledError", "KeyboardInterrupt"])
@pytest.mark.parametrize("stopping", ["after a Stop", "after its Stopped event"])
def test_an_interrupt_while_stopping_ends_the_job_as_stopped(
        qtbot, tool, told, warnings_before, monkeypatch, raised, stopping):
    """A job the user Stopped whose code then raised asyncio's CancelledError or
    KeyboardInterrupt while stopping (an awaited task cancelled by the stop) was told as
    failed: "napari-srmat: CancelledError in the job's code" and a ``failed:`` status
    line. It ends as a Stop does now: ``stopped`` (told once, also when the job said it
    stopped before raising), no error, Run on again, the warnings state released."""
    infos: list[str] = []
    monkeypatch.setattr(worker_mod, "show_info", infos.append)
    results: list = []

    def make(token):
        def job():
            yield Progress(1, 2, "step")
            while not token.stop_requested:
                threading.Event().wait(0.01)
            if stopping == "after its Stopped event":
                yield worker_mod.Stopped()
            raise raised
        return job()

    tool._start_single_job(make, on_result=results.append)
    qtbot.waitUntil(lambda: tool.progress.value() == 1, timeout=WAIT_MS)
    tool.cancel_btn.click()
    qtbot.waitUntil(tool.run_btn.isEnabled, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: _released(warnings_before), timeout=WAIT_MS)
    assert told == {"line": [], "traceback": []}, told
    assert tool.status.text() == worker_mod.STOPPED
    assert infos == [f"napari-srmat: {worker_mod.Stopped().message}"], infos
    assert results == [] and not tool.cancel_btn.isEnabled()


def test_systemexit_while_stopping_still_fails(qtbot, tool, told, warnings_before):
    """A SystemExit after a Stop (a library calling ``sys.exit``) is no stop's
    consequence: still the job's one-line failure."""
    def make(token):
        def job():
            yield Progress(1, 2, "step")
            while not token.stop_requested:
                threading.Event().wait(0.01)
            raise SystemExit(5)
        return job()

    tool._start_single_job(make, on_result=lambda result: None)
    qtbot.waitUntil(lambda: tool.progress.value() == 1, timeout=WAIT_MS)
    tool.cancel_btn.click()
    qtbot.waitUntil(tool.run_btn.isEnabled, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: _released(warnings_before), timeout=WAIT_MS)
    assert told == {"line": ["napari-srmat: SystemExit in the job's code (5)"],
                    "traceback": []}, told
    assert tool.status.text() == worker_mod.failed_line(SystemExit(5))
