"""A widget tells an OS error about a file and a user's instruction as one line, not a
traceback (errors.is_told_in_one_line, widgets._worker, checkpoint)."""

from __future__ import annotations

import pytest

from napari_srmat.checkpoint import WeightsChangedError
from napari_srmat.errors import error_message, is_told_in_one_line, is_user_error

#: How long a test waits for a job's end (ms); never reached when all goes well.
WAIT_MS = 20_000

DENIED = PermissionError(13, "Permission denied", "data/a.tif")


def test_weights_changed_is_the_users_error():
    """Its message tells the user what to do (run the job again), as CheckpointError's
    does. Failed before: it was a RuntimeError, told as 'internal error: ...' by the CLI
    and with its traceback by the GUI."""
    exc = WeightsChangedError("the network's weights changed: run the job again")
    assert is_user_error(exc) and is_told_in_one_line(exc)
    assert isinstance(exc, RuntimeError)  # callers catching it as before still do
    assert not error_message(exc).startswith("internal error")


def test_an_os_error_is_told_in_one_line():
    assert is_told_in_one_line(DENIED) and is_told_in_one_line(OSError(28, "No space"))
    assert not is_told_in_one_line(RuntimeError("bad state"))


@pytest.fixture
def told(monkeypatch) -> dict[str, list]:
    """The error notifications: one-line ones and those relayed with a traceback."""
    pytest.importorskip("napari")
    import napari_srmat.widgets._worker as worker_mod

    shown: dict[str, list] = {"line": [], "traceback": []}
    monkeypatch.setattr(worker_mod, "show_error", shown["line"].append)
    monkeypatch.setattr(worker_mod, "relay_error", shown["traceback"].append)
    return shown


def _run_a_job_raising(qtbot, raised: BaseException):
    """A single-job tool (``SingleJobMixin``) whose job raised ``raised``, ended."""
    from qtpy.QtWidgets import QFormLayout, QWidget

    import napari_srmat.widgets._worker as worker_mod

    class Tool(worker_mod.SingleJobMixin, QWidget):
        def __init__(self) -> None:
            super().__init__()
            self.worker = self.token = None
            self._add_job_controls(QFormLayout())

        def run(self) -> None:
            pass

    tool = Tool()
    qtbot.addWidget(tool)

    def make(token):
        def job():
            raise raised
            yield
        return job()

    tool._start_single_job(make, on_result=lambda result: None)
    qtbot.waitUntil(tool.run_btn.isEnabled, timeout=WAIT_MS)
    return tool


@pytest.mark.gui
@pytest.mark.parametrize("raised", [DENIED, WeightsChangedError("run the job again")],
                         ids=["PermissionError", "WeightsChangedError"])
def test_a_job_failing_on_a_file_or_weights_is_one_line(qtbot, told, raised):
    """A job reading a file it may not read (the Train tab's data folder: 1c29576 let
    the PermissionError through to be told as the CLI tells it), or whose weights
    changed, is told as one line naming the file. Failed before: both reached
    ``relay_error``, napari's traceback notification."""
    _run_a_job_raising(qtbot, raised)
    qtbot.waitUntil(lambda: bool(told["line"] or told["traceback"]), timeout=WAIT_MS)
    assert told["traceback"] == [], told
    assert told["line"] == [f"napari-srmat: {error_message(raised, gui=True)}"], told
    if isinstance(raised, OSError):
        assert told["line"] == ["napari-srmat: data/a.tif: permission denied"]


@pytest.mark.gui
def test_a_button_failing_on_a_file_is_one_line(qtbot, told):
    """A button's action (``user_action``) hitting an unreadable file is one line in the
    status, not an exception escaping the Qt slot. Failed before: it was raised."""
    from qtpy.QtWidgets import QLabel

    import napari_srmat.widgets._worker as worker_mod

    status = QLabel()
    qtbot.addWidget(status)

    def action():
        raise DENIED

    worker_mod.user_action(action, status)()
    assert status.text() == "data/a.tif: permission denied"
    assert told["line"] == ["napari-srmat: data/a.tif: permission denied"]


@pytest.mark.gui
def test_a_widget_s_disk_full_says_to_run_it_again_in_both_lines(qtbot, told):
    """A job of a widget that knows no rerun (a single-job tool) failing on a full disk:
    its notification and status line said "free space and rerun the same command to
    resume" (failed before), a command the widget's user has none of. Both say to run it
    again, the same line."""
    tool = _run_a_job_raising(qtbot, OSError(28, "No space left on device", "out.zarr"))
    qtbot.waitUntil(lambda: bool(told["line"]), timeout=WAIT_MS)
    line = "out.zarr: no space left on device (disk full: free space and run it again)"
    assert told["line"] == [f"napari-srmat: {line}"], told
    assert tool.status.text() == f"failed: {line}"
