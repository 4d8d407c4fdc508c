"""Run library job generators in napari's ``thread_worker``.

This is the only place where the GUI touches job execution: widgets build a
generator with a :class:`~napari_srmat.jobs.StopToken`, and :func:`start_job` runs it
in a worker thread, forwarding every yielded event to ``on_event`` in the main
thread. Errors become napari notifications.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from napari.qt.threading import GeneratorWorker, thread_worker
from napari.utils.notifications import show_error, show_info

from ..jobs import Event, Progress, Stopped, StopToken

__all__ = ["start_job", "ProgressForwarder"]


def start_job(
    make_generator: Callable[[StopToken], Generator[Event, Any, Any]],
    *,
    on_event: Callable[[Event], None] | None = None,
    on_result: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    on_finished: Callable[[], None] | None = None,
    token: StopToken | None = None,
) -> tuple[GeneratorWorker, StopToken]:
    """Start a job in a background thread.

    Parameters
    ----------
    make_generator : callable
        ``make_generator(stop_token)`` returns the job generator. Called in the
        worker thread, so heavy set-up (loading a model) does not block the GUI.
    on_event, on_result, on_error, on_finished : callable, optional
        Main-thread callbacks for each event, the job's return value, an
        exception (after a notification is shown) and the end of the job.
    token : StopToken, optional
        Use this token instead of creating one.

    Returns
    -------
    worker, token
        The started worker and the token whose ``request_stop()`` stops the job.
    """
    token = token or StopToken()

    @thread_worker(start_thread=False)
    def _run():
        result = yield from make_generator(token)
        return result

    worker = _run()
    if on_event is not None:
        worker.yielded.connect(on_event)
    if on_result is not None:
        worker.returned.connect(on_result)

    def _errored(exc: BaseException) -> None:
        show_error(f"napari-srmat: {type(exc).__name__}: {exc}")
        if on_error is not None:
            on_error(exc)

    worker.errored.connect(_errored)
    if on_finished is not None:
        worker.finished.connect(on_finished)
    worker.start()
    return worker, token


class ProgressForwarder:
    """Map job events onto a Qt progress bar (``setMaximum``/``setValue``) and a status label."""

    def __init__(self, progress_bar, status_label=None) -> None:
        self.bar = progress_bar
        self.label = status_label

    def __call__(self, event: Event) -> None:
        if isinstance(event, Progress):
            self.bar.setMaximum(max(int(event.total), 1))
            self.bar.setValue(int(event.done))
            if self.label is not None and event.stage:
                self.label.setText(f"{event.stage}: {event.done}/{event.total}")
        elif isinstance(event, Stopped):
            if self.label is not None:
                self.label.setText("stopped")
            show_info(f"napari-srmat: {event.message}")
