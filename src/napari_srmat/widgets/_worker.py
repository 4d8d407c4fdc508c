"""Run library job generators in napari's ``thread_worker``.

This is the only place where the GUI touches job execution: widgets build a
generator with a :class:`~napari_srmat.jobs.StopToken`, and :func:`start_job` runs it
in a worker thread, forwarding every yielded event to ``on_event`` in the main
thread. Errors become napari notifications, and :func:`show_log` is the one rule of
how a widget tells a job's :class:`~napari_srmat.jobs.Log` messages. The Python
warnings a job's code gives are told as its warning ``Log``, once per job;
:func:`_route_warning` is the one rule of where a Python warning goes while the
widgets' workers run.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import sys
import threading
import warnings
from collections.abc import Callable, Generator, Iterator
from typing import Any

from napari.qt.threading import (
    FunctionWorker,
    GeneratorWorker,
    WorkerBase,
    create_worker,
    thread_worker,
)
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QHBoxLayout, QLabel, QLayout, QProgressBar, QPushButton, QVBoxLayout

from .. import _warnings_state
from .._warnings_state import (
    at_last_release,
    hold,
    holders,
    install_showwarning,
    is_collector,
    outer_ignores,
    outer_put_back,
    outer_showwarning,
    outer_state,
    release,
)
from ..errors import error_message, exception_reason, is_told_in_one_line, one_line
from ..jobs import (
    AlreadyComplete,
    EtaEstimator,
    Event,
    Log,
    Progress,
    Stopped,
    StopToken,
    format_duration,
)

__all__ = ["start_job", "start_function", "ProgressForwarder", "SingleJobMixin",
           "run_in_turns", "ask_yes_no", "user_action", "qt_alive", "show_log",
           "failed_line", "NotStarted", "DONE", "STOPPED", "FAILED"]

#: The words a widget's status line ends a job with, the same in every widget: ``done``
#: (:meth:`ProgressForwarder.done_line`, which also says a resumed or already complete
#: output), ``stopped`` (cancelled before a result) and ``failed: <why>``
#: (:func:`failed_line`). The Train widget puts its job's kind before them.
DONE, STOPPED, FAILED = "done", "stopped", "failed"


#: The ``BaseException`` (not ``Exception``) a library's code may raise in a worker
#: thread that end a job as a failed one (as a stopped one after a Stop, those of
#: :data:`_STOP_INTERRUPTS`): a ``sys.exit``, a re-raised Ctrl-C, and
#: asyncio's ``CancelledError`` (the job's own code cancelled it: an awaited task's,
#: a ``CancelledError`` re-raised). superqt's worker does not catch them: it never sent
#: ``finished``, and the widget's Run button stayed off; a ``CancelledError`` reached
#: the excepthook (a traceback) while the status line did not say the job had failed.
#: Not ``GeneratorExit`` (the job's generator being closed); another ``BaseException``
#: still reaches the excepthook (:class:`_AlwaysFinishes`).
_INTERRUPTS = (SystemExit, KeyboardInterrupt, asyncio.CancelledError)

#: What a job's code may raise that ends the job as a failed one: any ``Exception`` and
#: :data:`_INTERRUPTS`, told as one line (:func:`_error_line`, :func:`failed_line`). The
#: same for its clean-up (a quit job's generator closed at the worker's end, in the main
#: thread, where a ``SystemExit`` exits napari).
_ENDS_A_JOB = (Exception, *_INTERRUPTS)

#: Those of :data:`_INTERRUPTS` that a stop itself may raise in the job's code (an
#: awaited task cancelled as the job stops, a Ctrl-C relayed by its pool): raised after
#: the user asked the job to stop (its :class:`~napari_srmat.jobs.StopToken`), the job
#: ends as stopped, as a Stop does (:func:`_job_end`); without a Stop request it failed.
#: Not ``SystemExit``, which no stop makes: still the job's failure.
_STOP_INTERRUPTS = (KeyboardInterrupt, asyncio.CancelledError)


class _Interrupted(Exception):
    """One of :data:`_INTERRUPTS` (a ``SystemExit``) of a function worker's call
    (:func:`start_function`), as the ``Exception`` superqt's worker ends with: its own
    ``errored`` relay raises the error again in the main thread, and a ``SystemExit``
    raised there exited napari. Its text is :func:`_error_line`'s."""


def _error_line(exc: BaseException) -> str:
    """The one line a widget tells of a job that raised ``exc``: the
    :func:`~napari_srmat.errors.error_message` of an ``Exception`` as a widget words it;
    ``<its type> in the job's code (<why>)`` of one of :data:`_INTERRUPTS` (never a
    traceback).

    Examples
    --------
    >>> _error_line(SystemExit(2))
    "SystemExit in the job's code (2)"
    >>> _error_line(KeyboardInterrupt())
    "KeyboardInterrupt in the job's code"
    """
    if isinstance(exc, _Interrupted):
        return str(exc)
    if isinstance(exc, Exception):
        return error_message(exc, gui=True)
    reason = exception_reason(exc)
    name = type(exc).__name__
    return f"{name} in the job's code" + ("" if reason == name else f" ({reason})")


def failed_line(exc: BaseException) -> str:
    """The status line of a job that raised ``exc``: ``failed: <the notification's line>``
    (:func:`_error_line`)."""
    return f"{FAILED}: {_error_line(exc)}"


class NotStarted(Exception):
    """Raised by a job's code before its work began, when the user said No to a question
    asked from the job's worker (a lazy layer's float offer,
    :class:`~napari_srmat.widgets._float_offer.LazyFloatOffer`): the job ends as one
    never started, as a No before Run's job does. The question's code told why on the
    status line; :func:`start_job` tells nothing more (no notification, no result)."""


class _Failed:
    """The job raised ``exc`` (carried to the main thread as a yielded value)."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _InterruptedStop:
    """The job's code raised one of :data:`_STOP_INTERRUPTS` after a Stop (carried to the
    main thread as a yielded value): told as the job's
    :class:`~napari_srmat.jobs.Stopped`, unless it told one already."""


#: What a job's worker returns when the job gave no result (it failed, or a stop
#: interrupted it): ``on_result`` is not called.
_NO_RESULT = object()


def _job_end(exc: BaseException, token: StopToken) -> _Failed | _InterruptedStop:
    """How a job whose code (or clean-up) raised ``exc`` ends: stopped when ``exc`` is one
    of :data:`_STOP_INTERRUPTS` and the user had asked it to stop (``token``), else
    failed.

    Parameters
    ----------
    exc : BaseException
        One of :data:`_ENDS_A_JOB`.
    token : StopToken
        The job's stop token.

    Returns
    -------
    _Failed or _InterruptedStop
        The value carried to the main thread.
    """
    if isinstance(exc, _STOP_INTERRUPTS) and token.stop_requested:
        return _InterruptedStop()
    return _Failed(exc)


def notify_error(exc: BaseException, line: str) -> None:
    """The napari notification of a job's error ``exc``, the one rule of every widget: the
    user's errors and OS errors, and an interrupt (never a traceback dialog), as ``line``
    (the CLI's one line); internal errors through :func:`relay_error`, which keeps the
    traceback.

    Parameters
    ----------
    exc : BaseException
        The error.
    line : str
        Its one line as the widget tells it (without the ``napari-srmat: `` prefix).
    """
    if is_told_in_one_line(exc) or not isinstance(exc, Exception):
        show_error(f"napari-srmat: {line}")
    else:
        relay_error(exc)


def relay_error(exc: BaseException) -> None:
    """Hand an internal error to napari's notification manager (traceback kept)."""
    from napari.utils.notifications import notification_manager

    notification_manager.receive_error(type(exc), exc, exc.__traceback__)


def qt_alive(widget) -> bool:
    """Whether a widget's Qt object still exists (its parent may have deleted it: a
    closed viewer deletes its docks without closing them)."""
    try:
        widget.objectName()
    except RuntimeError:  # wrapped C/C++ object has been deleted
        return False
    return True


#: The running jobs' collectors of Python warnings, by the worker thread running each
#: (:func:`_route_warning`). The router's tables here (this one, :data:`_SHOWN_OUTSIDE`,
#: :data:`_RUNNING`) are guarded by the warnings state's lock,
#: :data:`napari_srmat._warnings_state._LOCK` (read there at each use): one lock for
#: both, re-entrant. A finalizer's warning given while a thread holds it is routed by
#: that thread, which takes it again; with a lock of their own, a thread holding the
#: router's and one holding the state's, each routing such a warning, waited for each
#: other for good.
_SINKS: dict[int, list[str]] = {}

#: The collector of the job whose code runs in this context (:func:`_sink`): carried to
#: the threads of a pool that copies its submitter's context (dask's threaded
#: scheduler), whose warnings are then the job's.
_JOB_TOLD: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "srmat_job_told", default=None)

#: The (category, text) of the warnings shown outside the jobs while the widgets'
#: workers run (:data:`_RUNNING` of them): superqt's 'always' filter repeated each (a
#: thread pool's, once per task); shown once for that time. The
#: :data:`SHOWN_OUTSIDE_LIMIT` latest shown or repeated, the least recent first (a dict
#: as an ordered set): one repeated all along is never the one dropped. A long text is
#: kept by its digest (:func:`~napari_srmat._warnings_state.kept_text`). Guarded by
#: :data:`~napari_srmat._warnings_state._LOCK`.
_SHOWN_OUTSIDE: dict[tuple[Any, str], None] = {}
#: How many warnings :data:`_SHOWN_OUTSIDE` keeps: emptied only when no worker runs,
#: it grew without bound in a session of overlapping jobs whose pool's warnings name a
#: chunk or tile ("chunk 1234 ..."). One not repeated among the latest this many
#: distinct ones is forgotten, and shown once more.
SHOWN_OUTSIDE_LIMIT = 1024
#: How many of the widgets' workers run (counted in by :func:`_hold_warnings`, out by
#: :func:`_released`), in a list so that it is changed in place; guarded by
#: :data:`~napari_srmat._warnings_state._LOCK`.
_RUNNING = [0]

#: The attribute marking a worker whose ``warned`` reaches :func:`_route_warning`
#: (:func:`_hold_warnings`): its superqt relay may give way to the router.
_ROUTED = "_srmat_warnings_routed"


#: The package whose own warnings of any category (its DeprecationWarning of a renamed
#: summary key, a RuntimeWarning of its computation) a job tells (:func:`_is_the_jobs`).
_OWN_PACKAGE = __name__.split(".")[0]

#: The modules between ``warnings.warn`` and :func:`_route_warning` (a command's collector,
#: :func:`napari_srmat._warnings_state.collecting`, wraps it), never a warning's issuer.
_RELAY_MODULES = frozenset({"warnings", f"{_OWN_PACKAGE}._warnings_state", __name__})


def _issuer() -> str:
    """The module that gave the warning :func:`_route_warning` is showing (called by
    :func:`_is_the_jobs`, from the router).

    Returns
    -------
    str
        The caller of the ``warnings`` module's frames, past the relays between them and
        the router (superqt's relay of a worker's ``warned``, whose Qt signal calls the
        router, a command's collector); the router called directly (no ``warnings``
        frame), its first caller outside :data:`_RELAY_MODULES`. "" when none is found.
    """
    first = frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__") != "warnings":
        frame = frame.f_back
    if frame is None:
        frame = first
    while frame is not None and frame.f_globals.get("__name__") in _RELAY_MODULES:
        frame = frame.f_back
    return "" if frame is None else str(frame.f_globals.get("__name__", ""))


def _is_the_jobs(category) -> bool:
    """Whether a warning given in a job's code is one its user reads about the result: a
    ``UserWarning`` (any library's), or any category issued by napari-srmat's own code
    (:data:`_OWN_PACKAGE`). A library's DeprecationWarning, FutureWarning or
    RuntimeWarning (torch, dask, numpy) is not: superqt's worker shows every warning
    ("always"), and each was a napari-srmat notification of the job, repeated.

    Parameters
    ----------
    category : type
        The warning's category.

    Returns
    -------
    bool
        True to tell it as the job's, False to pass it to where it went without a job.
    """
    if isinstance(category, type) and issubclass(category, UserWarning):
        return True
    issuer = _issuer()
    return issuer == _OWN_PACKAGE or issuer.startswith(f"{_OWN_PACKAGE}.")


def _warning_text(message, category) -> str:
    """The text a warning is told and known by.

    Parameters
    ----------
    message : Warning or str
        The warning's message.
    category : type
        The warning's category.

    Returns
    -------
    str
        One line of the message; its category's name when it has no text (a
        ``__str__`` that raises: a warning never fails the code that gave it).
    """
    try:
        return one_line(message)
    except Exception:
        return f"{getattr(category, '__name__', 'Warning')} (its message has no text)"


def _ignored_outside(message, category, filename, lineno) -> bool:
    """Whether a warning :func:`_route_warning` would tell outside the jobs is one the
    filters before the jobs ignore (:func:`~napari_srmat._warnings_state.outer_ignores`;
    superqt's 'always' let it through): a library's DeprecationWarning, a ResourceWarning
    under Python's defaults. Its module is the one ``warnings.warn`` attributed it to:
    the frame on this thread's stack at its file and line, else the file's name as
    ``warnings.warn_explicit`` makes one. (For a library's warning in a job's code it
    walks the stack after :func:`_issuer` did: both walks end within the few frames
    above the router, and one walk finding both measured no faster, 3.4 against 3.3 µs
    a routed warning.)

    Parameters
    ----------
    message, category, filename, lineno
        The warning, as ``warnings.showwarning`` is given it.

    Returns
    -------
    bool
        True to drop it.
    """
    filename = str(filename)
    frame = sys._getframe(1)
    while frame is not None and not (frame.f_code.co_filename == filename
                                     and frame.f_lineno == lineno):
        frame = frame.f_back
    if frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
    else:
        module = filename[:-3] if filename.lower().endswith(".py") else filename
    try:
        text = str(message)
    except Exception:  # a __str__ that raises: matched as no text
        text = ""
    return outer_ignores(category, text, module, lineno)


def _collector() -> list[str] | None:
    """The collector of the job whose code gave the warning being shown.

    Returns
    -------
    list of str or None
        This thread's (a job's worker thread while the job's code runs, :func:`_sink`),
        or the one this thread's context carries (a pool thread of dask's threaded
        scheduler, which copies its submitter's context) while that job's code still
        runs; None for any other thread (the GUI's, a plain ``ThreadPoolExecutor``'s).
    """
    carried = _JOB_TOLD.get()
    with _warnings_state._LOCK:
        told = _SINKS.get(threading.get_ident())
        if told is None and carried is not None and any(
                running is carried for running in _SINKS.values()):
            told = carried
    return told


def _collected(told: list[str], text: str) -> bool:
    """Collect ``text`` for a job while its code runs (its collector is in
    :data:`_SINKS`), once until the step's flush (a warning in a loop, shown each time
    under superqt's 'always', kept a text a time), under the lock its sink's end takes:
    a pool thread's warning given as the job's step ends is never appended after the
    step's flush (lost).

    Parameters
    ----------
    told : list of str
        The job's collector (:func:`_collector`).
    text : str
        The warning's text (:func:`_warning_text`).

    Returns
    -------
    bool
        False when the job's code no longer runs (the warning is shown outside).
    """
    with _warnings_state._LOCK:
        if not any(running is told for running in _SINKS.values()):
            return False
        if text not in told:
            told.append(text)
    return True


def _shown_once(category, text: str) -> bool:
    """Whether to show a warning outside the jobs: superqt's worker turns 'always' on
    while it runs, and a thread pool's warning was shown once per task.

    Parameters
    ----------
    category : type
        The warning's category.
    text : str
        Its text (:func:`_warning_text`).

    Returns
    -------
    bool
        False for a (category, text) shown already while the widgets' workers run
        (:data:`_SHOWN_OUTSIDE`, the :data:`SHOWN_OUTSIDE_LIMIT` latest shown or
        repeated); True otherwise, and always when none runs.
    """
    key = (category, _warnings_state.kept_text(text))  # a long one by its digest
    with _warnings_state._LOCK:
        if not _RUNNING[0]:
            return True
        if key in _SHOWN_OUTSIDE:  # the latest shown now: the last to be dropped
            _SHOWN_OUTSIDE[key] = _SHOWN_OUTSIDE.pop(key)
            return False
        while len(_SHOWN_OUTSIDE) >= SHOWN_OUTSIDE_LIMIT:
            del _SHOWN_OUTSIDE[next(iter(_SHOWN_OUTSIDE))]
        _SHOWN_OUTSIDE[key] = None
    return True


def _route_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` while jobs run: a warning given in a job's worker thread
    while the job's own code runs (:func:`_sink`) is collected for that job (told as its
    warning :class:`~napari_srmat.jobs.Log` by :func:`start_job`); any other thread's
    (the GUI's, a command run from the console) goes where it went before any job began
    (:func:`~napari_srmat._warnings_state.outer_showwarning`: napari's notification),
    each distinct one once while the widgets' workers run (:func:`_shown_once`), so are
    a library's warnings other than a ``UserWarning`` given in the job's code
    (:func:`_is_the_jobs`). The threads of a pool that carries the job's context
    (dask's threaded scheduler) are the job's (:func:`_collector`); those of one that
    does not (a plain ``ThreadPoolExecutor``) are told outside, once. Never raises.

    superqt's worker swaps ``showwarning`` for a relay of its own ``warned`` signal, one
    for the whole process: the warnings of another job, or of the GUI, were told as the
    last started job's, and those of a job still running after an earlier-started one
    had ended (its restore put back the state before it) reached no job. Its 'always'
    filter is undone for the warnings told outside the jobs: one the filters before the
    jobs ignore is dropped, as it was without a job (:func:`_ignored_outside`).
    """
    told = _collector()
    if told is not None and not _is_the_jobs(category):
        told = None  # a library's deprecation: shown as without a job
    text = _warning_text(message, category)
    if told is not None and _collected(told, text):
        return
    if _ignored_outside(message, category, filename, lineno) or not _shown_once(
            category, text):
        return
    outer = outer_showwarning()
    if outer is _route_warning:  # never its own fallback
        outer = getattr(warnings, "_showwarning_orig", None)
    if outer is not None:
        with contextlib.suppress(Exception):
            outer(message, category, filename, lineno, file, line)


@contextlib.contextmanager
def _sink(told: list[str]) -> Iterator[None]:
    """Collect this thread's warnings in ``told`` (:func:`_route_warning`) for the block:
    the time the job's own code runs (its making, each of its steps). Between steps the
    worker's thread is napari's, and a quit job's generator is left suspended while its
    pool thread runs the next worker: a sink kept for the job's life collected that
    worker's warnings for a job that told nothing more.

    The router is installed as the block begins (in place of a relay installed while
    the job waited: a worker begun between two steps, or before the job's code) and as
    it ends (:func:`_install_route`)."""
    _install_route()
    ident = threading.get_ident()
    with _warnings_state._LOCK:
        before = _SINKS.get(ident)
        _SINKS[ident] = told
    carried = _JOB_TOLD.set(told)
    try:
        yield
    finally:
        _JOB_TOLD.reset(carried)
        with _warnings_state._LOCK:
            if before is None:
                _SINKS.pop(ident, None)
            else:
                _SINKS[ident] = before
        # a relay installed meanwhile (a worker begun while the code ran): replaced, its
        # worker counted in, before this worker's end puts back the router it saw
        _install_route()


def _relay_worker(shown: Callable[..., Any]) -> WorkerBase | None:
    """The superqt worker a ``showwarning`` sends to: its ``__self__`` or the first
    value of its closure that is one (a superqt worker's relay closes over the worker).
    The router takes the place of such a relay, found by the worker it sends to, not by
    its module's name: one the widgets started, whose ``warned`` reaches the router too,
    or any other superqt worker (napari's histogram, another plugin's
    ``thread_worker``), whose ``warned`` nobody hears (napari's relay of it is never
    connected): kept installed, it swallowed the warnings of every job and of the GUI
    until it ended. A relay not found (a superqt release changing it) stays installed,
    and the ``warned`` of a worker the widgets started still reaches the router
    (:func:`_relay_warned`).

    Parameters
    ----------
    shown : callable
        A ``warnings.showwarning``.

    Returns
    -------
    WorkerBase or None
        None for any other ``showwarning``.
    """
    owner = getattr(shown, "__self__", None)
    if isinstance(owner, WorkerBase):
        return owner
    for cell in getattr(shown, "__closure__", None) or ():
        with contextlib.suppress(ValueError):  # an empty cell
            if isinstance(cell.cell_contents, WorkerBase):
                return cell.cell_contents
    return None


#: The attribute marking a superqt worker the widgets did not start whose end is
#: awaited (:func:`_watch_outer_relay`, :func:`_count_in`): once per worker.
_AWAITED = "_srmat_end_awaited"


def _first_await(worker: WorkerBase) -> bool:
    """Whether ``worker``, the superqt worker of a relay (:func:`_relay_worker`), is one
    the widgets did not start (napari's histogram, another plugin's ``thread_worker``)
    whose end is not awaited yet; it is marked as awaited (:data:`_AWAITED`) then.

    Parameters
    ----------
    worker : WorkerBase
        The worker.

    Returns
    -------
    bool
        False for a worker of the widgets' or one whose end is awaited already.
    """
    if getattr(worker, _ROUTED, False):
        return False
    with _warnings_state._LOCK:
        if getattr(worker, _AWAITED, False):
            return False
        setattr(worker, _AWAITED, True)
    return True


def _at_its_end(worker: WorkerBase, action: Callable[[], None]) -> None:
    """Run ``action`` once, in ``worker``'s thread after its end put back the warnings
    state it saw (its ``finished``, a direct connection), or at once when it has ended
    already (its ``finished`` may be gone). Any thread."""
    done = threading.Lock()

    def ended(*_: Any) -> None:
        if done.acquire(blocking=False):
            action()

    worker.finished.connect(ended, Qt.ConnectionType.DirectConnection)
    if not worker.is_running:
        ended()


def _count_in(relay: Callable[..., Any], worker: WorkerBase) -> None:
    """Count the worker of ``relay`` among the holders of the warnings state until its
    end (:func:`_at_its_end`), when it is a superqt worker the widgets did not start
    (napari's histogram, another plugin's ``thread_worker``); at its end, the state it
    put back is the one before the jobs if their first hold saw its relay
    (:func:`napari_srmat._warnings_state.outer_put_back`), and the router is put back
    for the jobs still running, before it is counted out.

    Uncounted, such a worker begun while jobs ran saved their state (the router,
    superqt's 'always' filter) and put it back after the last job's end: the router,
    with no job to route for, and 'always' stayed for the session. One running as the
    first job began had its relay saved as the state before the jobs, put back by the
    last job's end: every later warning of the session went to its ``warned``, heard by
    nobody. Any thread, holding the state.

    Parameters
    ----------
    relay : callable
        A ``warnings.showwarning`` seen: the one the first hold saved
        (:func:`_watch_outer_relay`), or one the router took the place of.
    worker : WorkerBase
        The worker it sends to (:func:`_relay_worker`).
    """
    if not _first_await(worker):
        return
    hold(filters=True)

    def ended() -> None:
        try:
            _take_put_back(relay)
            _install_route()
        finally:
            release()

    _at_its_end(worker, ended)


def _take_put_back(relay: Callable[..., Any]) -> None:
    """Take the state the ended worker of ``relay`` (the state before the jobs their
    first hold saved) put back at its end as the state before the jobs
    (:func:`~napari_srmat._warnings_state.outer_put_back`): the current one, when it
    may be the state before the jobs (:func:`_is_outside`: no holder's, no command's
    collector), else the one a worker of the widgets saw as it began, else the last one
    seen (:func:`_put_back_unseen`). Any thread, once that worker has ended
    (:func:`_count_in`, :func:`_put_back_if_ended`).

    A collector current then is a console command's whose start the job's worker saw
    (its restore put it back): taken, it was put back after the jobs chaining to the
    router, and no warning was shown again in the session (reviewer R1, s50)."""
    outer_put_back(relay, unless=lambda shown: not _is_outside(shown), instead=_put_back_unseen)
    _remember_outside()


def _put_back_if_ended() -> None:
    """:func:`_take_put_back` when the state before the jobs saved is the relay of a
    superqt worker that has ended (its ``is_running`` is False once its restore is
    done): called at each end of a widgets' worker, in its thread just after superqt's
    restore (its ``finished``, before its release), by the last release of the state,
    whoever's (a worker of the widgets, an uncounted one, a console command's
    :func:`~napari_srmat._warnings_state.collecting`:
    :func:`~napari_srmat._warnings_state.at_last_release`, holding the state's lock),
    and at each job's start (:func:`_hold_warnings`).

    That worker's own end (:func:`_count_in`) may see no state it put back: a job's
    thread whose start recorded the router (:data:`_BEGUN_WITH`) and whose
    ``catch_warnings`` saved that state only after the ended worker's restore
    (reviewer R7's window) puts it back at the job's end, taken then; a job's end
    putting the router back over it before that worker's ``finished`` (one begun before
    that end) leaves it seen by no one: the last holder takes the state before the
    jobs last seen instead (:func:`_put_back_unseen`). Either way the ended worker's
    relay, put back by the last release with its 'always' filter, swallowed every
    later warning of the session (tests/test_worker_warnings_race.py forces both
    orders). Takes the state's lock.

    What is left: the ``showwarning`` last seen is not the one the ended worker put
    back where another was installed after the last job's start and before that
    worker's: that change is lost, not every warning (the filters are the ones that
    worker saw, :func:`_put_back_unseen`). Until s50 the last release ran this only when
    it was a worker's: a console command's collector released last put the ended
    worker's relay back, and warnings were shown nowhere until the next job's start. A
    relay left otherwise (two other plugins' workers overlapping without a job: nobody
    holds the state) swallows the warnings given until the next job's start, which puts
    the state last seen back. A superqt worker whose run never clears its
    ``is_running`` (superqt's "RuntimeError in aborted thread" path, of a worker the
    widgets did not start) is never told ended: its relay stays."""
    relay = outer_showwarning()
    worker = _relay_worker(relay)
    if worker is not None and not worker.is_running:
        _take_put_back(relay)


at_last_release(_put_back_if_ended)


def _is_a_holders(shown: Callable[..., Any]) -> bool:
    """Whether ``shown`` is a holder's ``showwarning``, never the state an uncounted
    worker's end put back (:func:`_count_in`): the router or a worker's relay
    (:func:`_relay_worker`). Takes no lock."""
    return shown is _route_warning or _relay_worker(shown) is not None


def _is_outside(shown: Callable[..., Any]) -> bool:
    """Whether ``shown`` may be the state before the jobs: neither a holder's
    (:func:`_is_a_holders`) nor a command's collector
    (:func:`~napari_srmat._warnings_state.is_collector`: one a worker saw may chain to
    the router). Takes no lock."""
    return not (_is_a_holders(shown) or is_collector(shown))


def _put_back_meanwhile() -> tuple[Callable[..., Any], tuple] | None:
    """The state an uncounted worker's end put back, as the latest-begun running worker
    of the widgets that saw one saved it (:data:`_BEGUN_WITH`), or None. Called holding
    the state's lock, by that worker's end (:func:`_count_in`) when the current
    ``showwarning`` is a holder's (:func:`_is_a_holders`).

    A job's worker thread that began after that end had put its state back, and before
    its ``finished`` came, saved the state in superqt's ``catch_warnings`` and installed
    its relay (then its code the router): the end saw a holder's ``showwarning`` and took
    nothing, and the ended worker's relay stayed the state before the jobs, put back
    after the last job with its 'always' filter: every later warning of the session
    reached nobody (reviewer R2: 3 of 3). Only a state :func:`_is_outside` is taken.
    One saved after the start's record is taken at that job's end
    (:func:`_put_back_if_ended`)."""
    for shown, filters in reversed(list(_BEGUN_WITH.values())):
        if _is_outside(shown):
            return shown, filters
    return None


#: The filter superqt's worker puts first for the time it runs
#: (``warnings.filterwarnings("always")`` in its ``catch_warnings``): the filters it
#: saved as it began are the ones before it with this one first.
SUPERQT_ALWAYS = ("always", None, Warning, None, 0)


def _put_back_unseen() -> tuple[Callable[..., Any], tuple] | None:
    """:func:`_put_back_meanwhile`, else, for the last holder (no other's end can see
    the state the ended worker put back any more), the state before the jobs last seen
    (:data:`_SEEN_OUTSIDE`)'s ``showwarning`` with the filters the ended worker saw as
    it began (the saved ones, which it put back: the ones current then with superqt's
    :data:`SUPERQT_ALWAYS` first, which is left out), or that state's own filters where
    the saved ones do not begin with it. The ``outer_put_back``'s ``instead`` of
    :func:`_take_put_back`, called holding the state's lock.

    Those filters are the user's at that worker's start: one set at napari's console
    after the last job seen (``simplefilter('error', RuntimeWarning)``) was dropped with
    that job's copy (reviewer R1, s50). A ``showwarning`` the user installed in that
    window is still lost: no copy of it is kept but the ended worker's own, gone."""
    meanwhile = _put_back_meanwhile()
    if meanwhile is not None or holders() != 1 or not _SEEN_OUTSIDE:
        return meanwhile
    shown, filters = _SEEN_OUTSIDE[0]
    saved = outer_state()  # the ended worker's relay and the filters it saved
    if saved is not None and saved[1][:1] == (SUPERQT_ALWAYS,):
        return shown, saved[1][1:]
    return shown, filters


#: The state before the jobs last seen that no holder installed (:func:`_is_outside`):
#: its ``showwarning`` and filters as the jobs' first hold saved them or a take
#: (:func:`_take_put_back`) made them, at first the module's import's; what the last
#: holder puts back in place of an ended worker's relay when the state that worker put
#: back was seen by no one (:func:`_put_back_unseen`). One at most; guarded by
#: :data:`~napari_srmat._warnings_state._LOCK`.
_SEEN_OUTSIDE: list[tuple[Callable[..., Any], tuple]] = []


def _remember_outside() -> None:
    """Keep the state before the jobs saved now as :data:`_SEEN_OUTSIDE` when it is
    :func:`_is_outside`. Any thread."""
    saved = outer_state()
    if saved is not None and _is_outside(saved[0]):
        with _warnings_state._LOCK:
            _SEEN_OUTSIDE[:] = [saved]


if _is_outside(warnings.showwarning):
    _SEEN_OUTSIDE.append((warnings.showwarning, tuple(warnings.filters)))


def _watch_outer_relay() -> None:
    """:func:`_count_in` the worker whose relay the jobs' first hold saved as the state
    before them. Main thread, after the hold."""
    relay = outer_showwarning()
    worker = _relay_worker(relay)
    if worker is not None:
        _count_in(relay, worker)


def _install_route() -> None:
    """Make :func:`_route_warning` the process's ``showwarning`` in place of a worker's
    relay (:func:`_relay_worker`; a worker's start installs one) or of the state
    before the jobs (as their first hold saved it); never of a command's collector
    (``srmat`` from the console, :func:`napari_srmat._warnings_state.collecting`).
    The swap is :func:`~napari_srmat._warnings_state.install_showwarning`'s, under the
    lock of the state's other swaps. A worker the widgets did not start, whose relay
    it replaced, counts among the holders until its end (:func:`_count_in`). Any
    thread."""
    replaced: list[tuple[Callable[..., Any], WorkerBase]] = []

    def replaces(shown: Callable[..., Any]) -> bool:
        worker = _relay_worker(shown)
        if worker is not None:
            replaced.append((shown, worker))
        return worker is not None

    if install_showwarning(_route_warning, replaces=replaces) and replaced:
        _count_in(*replaced[0])


def _relay_warned(shown: tuple) -> None:
    """The slot of a worker's ``warned`` (superqt's relay), run in the thread that gave
    the warning: :func:`_route_warning` tells it as while the router is installed."""
    _route_warning(*shown)


class _Warned:
    """A Python warning the job gave (carried to the main thread as a yielded value)."""

    def __init__(self, text: str) -> None:
        self.log = Log(text, level="warning")


def _flush(told: list[str], seen: set[str]) -> Iterator[_Warned]:
    """The warnings a job gave since its last flush, each text once per job.

    Parameters
    ----------
    told : list of str
        The job's collector (:func:`_route_warning`), emptied.
    seen : set of str
        The texts the job told already, added to.

    Yields
    ------
    _Warned
        Each text not in ``seen``, in the order given.
    """
    while told:
        text = told.pop(0)
        if text not in seen:
            seen.add(text)
            yield _Warned(text)


def _telling(job: Generator[Event, Any, Any], told: list[str], seen: set[str]):
    """``yield from job``, with the warnings it gave since its last event (``told``,
    :func:`_route_warning`) yielded as :class:`_Warned`, each text once per job
    (:func:`_flush`)."""
    while True:
        try:
            with _sink(told):
                event = next(job)
        except StopIteration as stop:
            yield from _flush(told, seen)
            return stop.value
        except BaseException:
            yield from _flush(told, seen)
            raise
        yield from _flush(told, seen)
        yield event


#: The warnings state (``showwarning``, filters) each running worker of the widgets saw
#: as its thread began, the one superqt's ``catch_warnings`` saves and puts back at its
#: end, by worker (its ``id``), the latest begun last (:meth:`_AlwaysFinishes.run`,
#: :func:`_put_back_meanwhile`). Guarded by
#: :data:`~napari_srmat._warnings_state._LOCK`.
_BEGUN_WITH: dict[int, tuple[Callable[..., Any], tuple]] = {}

#: The attribute holding a worker's one release of the warnings state
#: (:func:`_hold_warnings`), called by its ``finished`` or, when its signals are gone,
#: by :meth:`_AlwaysFinishes.run`.
_RELEASE = "_srmat_release"


class _AlwaysFinishes:
    """A superqt worker that sends ``finished`` however its work ended (list it first
    among the worker's bases).

    superqt's ``run`` sends it only after its work returned, or raised an ``Exception``
    (:func:`start_job` and :func:`start_function` turn the :data:`_INTERRUPTS` of the
    job's code into one): a ``BaseException`` escaping
    the work, or its "RuntimeError in aborted thread" path (a work that returned a
    ``RuntimeError``), sent nothing, and the worker's hold of the warnings state
    (:func:`_hold_warnings`) was never released: superqt's 'always' filter and the
    router stayed installed for the session, and a widget's Run button stayed off.
    Such an end sends ``finished`` now, after superqt's restore of the warnings state
    as before; a worker whose signals' Qt object is gone (no slot can hear its end, from
    before its start on) releases its hold itself. What escaped superqt's run is raised
    again after the end (``sys.excepthook``: napari's notification, as before; another
    ``BaseException`` of the work, a library's own, was dropped without a word), unless
    the signals were gone (superqt's own failed ``emit``).
    """

    def run(self) -> None:
        with _warnings_state._LOCK:  # as superqt's catch_warnings saves it next
            _BEGUN_WITH[id(self)] = (warnings.showwarning, tuple(warnings.filters))
        try:
            self._run_to_its_end()
        finally:
            with _warnings_state._LOCK:
                _BEGUN_WITH.pop(id(self), None)

    def _run_to_its_end(self) -> None:
        """superqt's ``run``, then ``finished`` if it sent none (the class's doc)."""
        finished: list[bool] = []
        escaped: BaseException | None = None
        try:
            self.finished.connect(lambda: finished.append(True),
                                  Qt.ConnectionType.DirectConnection)
            super().run()  # type: ignore[misc]
        except BaseException as exc:  # noqa: BLE001 - superqt catches Exception only
            escaped = exc
        if not finished:
            self._running = False  # superqt's flag of a worker that has not ended
            try:
                self.finished.emit()
                self._finished.emit(self)  # superqt's: drops the worker from its set
            except RuntimeError:  # its signals' Qt object is deleted
                getattr(self, _RELEASE, lambda: None)()
                return
        if escaped is not None:
            raise escaped


class _JobWorker(_AlwaysFinishes, GeneratorWorker):
    """The worker of :func:`start_job` (:class:`_AlwaysFinishes`)."""


class _FunctionJobWorker(_AlwaysFinishes, FunctionWorker):
    """The worker of :func:`start_function` (:class:`_AlwaysFinishes`)."""


def _hold_warnings(worker: WorkerBase) -> None:
    """Count ``worker`` (before its ``start()``) among the holders of the process's
    warnings state (:func:`napari_srmat._warnings_state.hold`), released at its
    ``finished``.

    superqt's worker swaps ``warnings.showwarning`` and the filters for the time it
    runs, in a ``catch_warnings`` that restores what it saw when it began: two
    overlapping workers (or a worker and an ``srmat`` command run from the console), the
    first ending first, left the first's swap installed. The state as it was before the
    first holder is put back when the last has ended, one counted, locked rule with the
    commands' (:func:`napari_srmat.cli.told_warnings`). A worker's ``finished`` comes
    after its own restore; released once (:data:`_RELEASE`).
    """
    hold(filters=True)
    _watch_outer_relay()
    _put_back_if_ended()  # a relay left by an ended worker (a window not closed)
    _remember_outside()
    # superqt's relay, the process's showwarning from the worker's start until its code
    # installs the router, sent the warnings of the jobs already running there to this
    # worker's ``warned``, which nobody heard: they were lost. Heard in the thread that
    # gave each (a direct connection), as the router would; kept for the worker's life
    # (its relay, saved by another worker's start, may be put back after its end)
    warned = getattr(worker, "warned", None)  # a superqt without it: nothing to hear
    if warned is not None:
        warned.connect(_relay_warned, Qt.ConnectionType.DirectConnection)
        setattr(worker, _ROUTED, True)
    with _warnings_state._LOCK:
        if not _RUNNING[0]:
            _SHOWN_OUTSIDE.clear()
        _RUNNING[0] += 1
    # before the worker's start, so that the state its end puts back routes the warnings
    # of the jobs still running (:func:`_route_warning`), not the state before it
    _install_route()
    once = threading.Lock()

    def release_once() -> None:
        if once.acquire(blocking=False):
            _released()

    setattr(worker, _RELEASE, release_once)
    # first: its restore may have put back the state an ended worker's relay stands for
    # (_put_back_if_ended), taken before any release (the next, queued, runs after)
    worker.finished.connect(_put_back_if_ended, Qt.ConnectionType.DirectConnection)
    worker.finished.connect(release_once)


def _released() -> None:
    """A worker counted in by :func:`_hold_warnings` has finished (main thread; the
    worker's own when its signals are gone, :class:`_AlwaysFinishes`)."""
    with _warnings_state._LOCK:
        _RUNNING[0] = max(0, _RUNNING[0] - 1)
    _install_route()  # a worker begun after the job's code: counted in (_count_in)
    release()


def start_job(
    make_generator: Callable[[StopToken], Generator[Event, Any, Any]],
    *,
    on_event: Callable[[Event], None] | None = None,
    on_result: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    on_finished: Callable[[], None] | None = None,
    token: StopToken | None = None,
    owner=None,
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
    owner : QWidget, optional
        The widget showing the job. When Qt deletes it (``viewer.close()`` deletes the
        docks without closing them) the job is asked to stop, and nothing more reaches
        the callbacks, which would touch its deleted controls.

    Returns
    -------
    worker, token
        The started worker and the token whose ``request_stop()`` stops the job.
        ``worker.quit()`` also ends it, at its next event: the job generator is closed
        when the worker finishes (its ``finally``, a run folder's lock, runs then; a
        clean-up that raises reaches ``on_error``, and ``on_finished`` still follows),
        and the token is stopped before that clean-up, so a quit job ends as a stopped
        one (no result; ``token.stop_requested`` is what the widgets' status reads).
        A job asked to stop (``token``) whose code then raises a KeyboardInterrupt or
        asyncio's CancelledError (:data:`_STOP_INTERRUPTS`) ends as stopped: a
        :class:`~napari_srmat.jobs.Stopped` reaches ``on_event`` (unless the job told
        one), nothing reaches ``on_error`` or ``on_result``. A job whose code raises
        :class:`NotStarted` ends with nothing told (its code told it).
    """
    token = token if token is not None else StopToken()  # a StopToken is falsy until stopped
    jobs: list[Generator[Event, Any, Any]] = []
    # napari keeps every worker it made for the session, and with it this function (its
    # status slots' partials; start_function): taken out of its list once called, the
    # job's inputs (the images its closure holds) go when it ends
    pending = [make_generator]

    told: list[str] = []  # the job's Python warnings (_route_warning, _sink)
    seen: set[str] = set()  # the texts of those told (_flush)

    @thread_worker(start_thread=False, worker_class=_JobWorker)
    def _run():
        try:
            with _sink(told):
                jobs.append(pending.pop()(token))
            result = yield from _telling(jobs[0], told, seen)
        except NotStarted:  # the user said No, from the job's worker: told there
            yield from _flush(told, seen)
            return _NO_RESULT
        except _ENDS_A_JOB as exc:  # told once, on the main thread (below)
            yield from _flush(told, seen)  # warned while it was made
            yield _job_end(exc, token)
            return _NO_RESULT
        return result

    def _gone() -> bool:
        if owner is None or qt_alive(owner):
            return False
        token.request_stop()
        return True

    def _errored(exc: BaseException) -> None:
        notify_error(exc, _error_line(exc))
        if on_error is not None:
            on_error(exc)

    told_stopped: list[bool] = []  # the job told its Stopped (_InterruptedStop)

    def _yielded(event) -> None:
        if _gone():
            return
        if isinstance(event, _Failed):
            _errored(event.exc)
        elif isinstance(event, _InterruptedStop):
            # a stop's interrupt (an awaited task cancelled): the job ends as a Stop does,
            # not as failed ("CancelledError in the job's code")
            if not told_stopped and on_event is not None:
                on_event(Stopped())
        elif isinstance(event, _Warned):
            # a Python warning of the job: napari's relay of a worker's (superqt's
            # ``warned``) is never connected (its mixin's __init__ comes after
            # QRunnable's in the worker's bases), so it was lost: the default SR model's
            # "no shipped weights for 'cnn' x2 ... its output equals bicubic" reached no
            # one. Told as the job's warning Log: a notification once per job, and the
            # status line
            if on_event is not None:
                on_event(event.log)
            else:
                show_log(event.log)
        elif on_event is not None:
            if isinstance(event, Stopped):
                told_stopped.append(True)
            on_event(event)

    def _returned(result) -> None:
        if result is not _NO_RESULT and on_result is not None and not _gone():
            on_result(result)

    def _finished() -> None:
        # worker.quit() ends napari's loop without closing the job: its clean-up (a
        # training run's RUN.lock) would wait for the worker's garbage collection. The job
        # is not running once its worker has finished; closing an ended one does nothing.
        # A clean-up that fails is told as the job's failure, and the end still follows
        # (a widget whose on_finished never ran stayed busy, its Run button off)
        if worker.abort_requested:
            # quit (a script's, napari's own for every worker as it quits): a stop, whose
            # result, if any, never came; asked before the clean-up, whose interrupt (a
            # KeyboardInterrupt, an awaited task cancelled) ends it as a Stop's does
            token.request_stop()
        for job in jobs:
            try:
                job.close()
            except _ENDS_A_JOB as exc:  # its clean-up's SystemExit too: the job's failure
                _yielded(_job_end(exc, token))  # a Stop's (a quit's) interrupt: stopped
        jobs.clear()
        pending.clear()  # a job quit before it began
        try:
            if on_finished is not None and not _gone():
                on_finished()
        finally:
            _release()

    def _owner_deleted(*_: Any) -> None:
        token.request_stop()

    def _release() -> None:
        # the ended worker, still the widget's ``worker``, must not hold the widget: Qt
        # holds these slots (and through them the widget's callbacks) by references the
        # garbage collector does not see, so a closed widget lived for the session. Nor
        # may a slot outlive the job on the widget's ``destroyed``: called as the
        # collector deletes the widget, with its closure already cleared, it crashed. (A
        # widget deleted already has no connection left; its signal is not touched.)
        for signal, slot in connections:
            signal.disconnect(slot)
        if owner is not None and qt_alive(owner):
            owner.destroyed.disconnect(_owner_deleted)

    worker = _run()
    # a job's exception never reaches the worker's own ``errored`` relay (napari would
    # show it a second time, with its type name): it arrives as a _Failed event
    connections = ((worker.yielded, _yielded), (worker.returned, _returned),
                   (worker.finished, _finished))
    for signal, slot in connections:
        signal.connect(slot)
    if owner is not None:
        # stop at the next tile when the widget is deleted, before any event arrives
        owner.destroyed.connect(_owner_deleted)
    _hold_warnings(worker)
    worker.start()
    return worker, token


def _relayed_error(exc: BaseException) -> None:
    """A function worker's error in the main thread (:func:`start_function`): raised
    again, as superqt's worker does (napari's notification, with the traceback), but a
    ``SystemExit`` or ``KeyboardInterrupt`` of the call (:class:`_Interrupted`), told as
    one line: it was a traceback of an internal error."""
    if isinstance(exc, _Interrupted):
        show_error(f"napari-srmat: {exc}")
        return
    raise exc


def start_function(
    func: Callable[..., Any],
    args: tuple = (),
    *,
    on_returned: Callable[[Any], None] | None = None,
    on_errored: Callable[[BaseException], None] | None = None,
) -> FunctionWorker:
    """Start ``func(*args)`` in napari's worker thread; the worker holds ``args`` only
    until the call.

    napari keeps every worker it made for the viewer's session (its task list holds
    each one's ``quit``), and a worker keeps what it was given: the maps a threshold
    slider's worker thresholded, the images of an overlay, lived on after the widget had
    moved on to new ones. Main thread.

    Parameters
    ----------
    func : callable
        Called as ``func(*args)`` in the worker thread.
    args : tuple
        Its arguments, dropped by the worker once the call began.
    on_returned, on_errored : callable, optional
        Main-thread callbacks of ``func``'s return value and of its exception (which
        also reaches napari's notifications), connected before the worker starts.

    Returns
    -------
    FunctionWorker
        The started worker, counted in by :func:`_hold_warnings` as :func:`start_job`'s.
    """
    held = [args]

    @functools.wraps(func)  # napari names the task after the function
    def call() -> Any:
        # in place of superqt's relay of the worker's ``warned``, which nobody hears
        # (napari's is never connected): its warnings went nowhere
        _install_route()
        try:
            return func(*held.pop())
        except _INTERRUPTS as exc:
            raise _Interrupted(_error_line(exc)) from exc

    # superqt's own relay of ``errored`` (raise it again in the main thread, napari's
    # traceback) is ours: an interrupted call is one line (_relayed_error)
    worker = create_worker(call, _start_thread=False, _worker_class=_FunctionJobWorker,
                           _ignore_errors=True)
    worker.errored.connect(_relayed_error)
    if on_returned is not None:
        worker.returned.connect(on_returned)
    if on_errored is not None:
        worker.errored.connect(on_errored)
    _hold_warnings(worker)
    worker.start()
    return worker


def user_action(action: Callable[[], Any], status=None) -> Callable[..., None]:
    """A button's slot: run ``action()``; the user's errors become one line.

    Refused input and OS errors (:func:`~napari_srmat.errors.is_told_in_one_line`: a
    ``WidgetInputError``, a bad value, a missing or unreadable file) are shown as one
    napari notification and in ``status`` (a ``QLabel``, optional) instead of escaping
    from the Qt slot as an unhandled exception; internal errors still go to napari's
    handler with their traceback. Signal arguments (``clicked``'s ``checked``) are ignored.
    """

    def slot(*_: Any) -> None:
        try:
            action()
        except Exception as exc:
            if not is_told_in_one_line(exc):
                raise
            message = error_message(exc, gui=True)
            show_error(f"napari-srmat: {message}")
            if status is not None:
                status.setText(message)

    return slot


#: Levels of a job's :class:`~napari_srmat.jobs.Log` that a widget also tells as a napari
#: notification; the status line shows every level ("info" lines only there).
NOTIFIED_LOG_LEVELS = ("notice", "warning", "error")


def run_in_turns(steps: Generator[Any, None, Any], *, stop: Callable[[], bool],
                 on_end: Callable[[], None]) -> None:
    """Run the generator ``steps`` one step per event-loop turn (main thread): the first
    now, each next one from a zero-time ``QTimer`` once the events that came meanwhile
    (a repaint, a click) were processed. ``stop()`` true before a step: the generator
    is closed, no further step runs. ``on_end()`` follows the last step, a stop, or a
    step that raised (its exception then goes on, as a slot's does).

    Examples
    --------
    >>> from napari_srmat.widgets._worker import run_in_turns
    >>> done = []
    >>> def steps():
    ...     done.append(1)
    ...     yield
    >>> run_in_turns(steps(), stop=lambda: True, on_end=lambda: done.append("end"))
    >>> done
    ['end']
    """
    from qtpy.QtCore import QTimer

    def turn() -> None:
        try:
            if stop():
                steps.close()
            else:
                next(steps)
                QTimer.singleShot(0, turn)
                return
        except StopIteration:
            pass
        except BaseException:
            on_end()
            raise
        on_end()

    turn()


def show_log(event: Log, status_label=None) -> None:
    """Tell a job's :class:`~napari_srmat.jobs.Log` in a widget, as the CLI prints it.

    Every message goes to ``status_label`` (a ``QLabel``, optional), a warning's or an
    error's after ``warning: `` / ``error: ``; a "notice" (a resumed or already complete
    output), a "warning" or an "error" (:data:`NOTIFIED_LOG_LEVELS`) is also a napari
    notification of that severity, which stays in napari's notification list after the
    status line has moved on. Main thread; nothing is computed.
    """
    if status_label is not None:
        status_label.setText(event.message if event.level in ("info", "notice")
                             else f"{event.level}: {event.message}")
    if event.level in NOTIFIED_LOG_LEVELS:
        notify = {"notice": show_info, "warning": show_warning, "error": show_error}
        notify[event.level](f"napari-srmat: {event.message}")


class ProgressForwarder:
    """Map job events onto a Qt progress bar (``setMaximum``/``setValue``) and a status label.

    A :class:`~napari_srmat.jobs.Log` is told by :func:`show_log`: an "info" line each
    time (the status line says what the job does now), a notified one
    (:data:`NOTIFIED_LOG_LEVELS`) once per job (call :meth:`new_job` when one starts), not
    again for each tile or chunk that repeats it. The status line keeps the last message
    above the progress line (``tiles: 3/16, about 1 min left``) until the next one. A job
    that resumes an earlier run's work (a :class:`~napari_srmat.jobs.Progress` with
    ``resumed``) is noted in :attr:`resumed`, one whose output was already complete (a
    :class:`~napari_srmat.jobs.AlreadyComplete`) in :attr:`already_complete`; the end of
    the job says so (:meth:`resumed_note`, :meth:`done_line`).
    """

    def __init__(self, progress_bar, status_label=None) -> None:
        self.bar = progress_bar
        self.label = status_label
        if status_label is not None:  # a job's message (a path) wraps, never widens the dock
            status_label.setWordWrap(True)
        self.new_job()

    def new_job(self) -> None:
        """A job starts: no message of an earlier job is kept or counted as told."""
        self.eta = EtaEstimator()
        self.note = ""
        self._told: set[tuple[str, str]] = set()
        #: ``(resumed, total, stage)``: the most of a job's units that its progress says
        #: an earlier run had done (``Progress.resumed``, counted as the job meets them),
        #: of ``total``, in the units of the first event that said so (its ``stage``:
        #: ``tiles``, a training's ``steps``); None when it resumed nothing.
        self.resumed: tuple[int, int, str] | None = None
        #: whether the job told that its output was already complete (nothing computed)
        self.already_complete = False

    def resumed_note(self) -> str:
        """``" (resumed: 64/72 tiles from an earlier run)"`` for the end of a job that
        resumed an earlier run's work (:attr:`resumed`), ``" (already complete from an
        earlier run)"`` for one whose output was (:attr:`already_complete`), else ``""``.

        Examples
        --------
        >>> class Bar:  # what the forwarder calls of a QProgressBar
        ...     def setMaximum(self, n): pass
        ...     def setValue(self, n): pass
        >>> forward = ProgressForwarder(Bar())
        >>> forward(Progress(2, 6, "steps", resumed=2))
        >>> forward(Progress(3, 6, "epoch 2/3", resumed=2))
        >>> forward.done_line("model.pt")
        'done (resumed: 2/6 steps from an earlier run): model.pt'
        """
        if self.already_complete:
            return " (already complete from an earlier run)"
        if self.resumed is None:
            return ""
        done, total, stage = self.resumed
        return f" (resumed: {done}/{total}{f' {stage}' if stage else ''} from an earlier run)"

    def done_line(self, what: str = "") -> str:
        """The status line of a job that ended with a result: ``done``, what resumed or
        was already complete (:meth:`resumed_note`), then ``: what`` (the result: a
        layer's name, the thresholds of a map), when given."""
        return f"{DONE}{self.resumed_note()}" + (f": {what}" if what else "")

    def __call__(self, event: Event) -> None:
        if isinstance(event, Progress):
            if event.resumed and (self.resumed is None or event.resumed > self.resumed[0]):
                stage = event.stage if self.resumed is None else self.resumed[2]
                self.resumed = (int(event.resumed), int(event.total), stage)
            self.bar.setMaximum(max(int(event.total), 1))
            self.bar.setValue(int(event.done))
            left = self.eta.update(event)
            if self.label is not None and event.stage:
                line = (f"{event.stage}: {event.done}/{event.total}"
                        + ("" if left is None else f", about {format_duration(left)} left"))
                self.label.setText(f"{self.note}\n{line}" if self.note else line)
        elif isinstance(event, Log):
            if isinstance(event, AlreadyComplete):
                self.already_complete = True
            told = (event.level, event.message)
            if event.level in NOTIFIED_LOG_LEVELS and told in self._told:
                return  # a runner's warning repeated for another tile or chunk
            self._told.add(told)
            show_log(event, self.label)
            self.note = self.label.text() if self.label is not None else event.message
        elif isinstance(event, Stopped):
            if self.label is not None:
                self.label.setText(STOPPED)
            show_info(f"napari-srmat: {event.message}")


def divided_by(image: Any, divisor: int | None) -> Any:
    """``image`` as float32 divided by ``divisor`` (worker side of
    :meth:`SingleJobMixin.confirm_float_divisor`); ``image`` itself when None. A lazy
    image (Dask, Zarr) stays lazy: its tiles are divided as the job reads them."""
    if not divisor:
        return image
    import numpy as np

    if not isinstance(image, np.ndarray) and hasattr(image, "chunks"):
        import dask.array as da

        lazy = image if isinstance(image, da.Array) else da.from_array(image)
        return lazy.astype(np.float32) / np.float32(divisor)
    return np.asarray(image, np.float32) / np.float32(divisor)


def float_sample(data: Any) -> Any:
    """What :meth:`SingleJobMixin.confirm_float_divisor` samples on the GUI thread for
    its offer: an in-memory array itself; None for a lazy one (Dask, Zarr), whose sample
    its job's worker reads (:class:`~napari_srmat.widgets._float_offer.LazyFloatOffer`).
    Reading a lazy layer's sample on the GUI thread stalled it (0.5-1 s for a 12000²
    float32 Zarr of 1024² chunks, s50, withdrawn the same day:
    ``test_the_float_divisor_offer_computes_no_lazy_block_on_the_gui_thread``).

    Parameters
    ----------
    data : array-like
        A layer's data: a NumPy array, or a lazy array (Dask, Zarr).

    Returns
    -------
    array-like or None
        ``data`` itself where it is a NumPy array; None otherwise (a lazy layer: its
        offer is decided in its job's worker, :func:`~napari_srmat.widgets._float_offer.
        lazy_float_offer`).

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> float_sample(np.zeros((4, 4), np.float32)) is not None
    True
    >>> float_sample(da.zeros((4096, 4096), chunks=512)) is None
    True
    """
    import numpy as np

    return data if isinstance(data, np.ndarray) else None


def ask_yes_no(title: str, text: str) -> bool:
    """A modal Yes/No question (default No)."""
    from qtpy.QtWidgets import QMessageBox

    answer = QMessageBox.question(None, title, text,
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


class ShutDownWhenClosedMixin:
    """A dock widget whose :meth:`shut_down` runs when its dock is closed.

    napari takes a closed dock's widget out of its window (a parent change) rather than
    closing it; a widget that was docked and has no parent any more, or that gets a
    close event, shuts down (jobs, queues, timers, key bindings: nothing could show or
    stop them any more). List it first among the widget's bases.
    """

    def event(self, ev) -> bool:
        from qtpy.QtCore import QEvent

        if ev.type() == QEvent.Type.ParentChange:
            if self.parent() is not None:
                self._docked = True
            elif getattr(self, "_docked", False):
                self.shut_down()
        return super().event(ev)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.shut_down()
        super().closeEvent(event)

    def shut_down(self) -> None:
        """Stop what the widget runs (override)."""
        raise NotImplementedError


class SingleJobMixin:
    """Start / cancel lifecycle of a dock widget that runs one job at a time.

    The widget (a ``QWidget`` listing this mixin first among its bases) sets
    ``worker = token = None`` and builds its layout with :meth:`_add_job_controls`.
    Its ``run()`` calls :meth:`_ensure_idle` before it touches any job state, then
    :meth:`_start_single_job`.
    """

    #: ``ask(title, text) -> bool`` used by :meth:`confirm_plan` (None: a Yes/No dialog).
    ask = None

    def _add_job_controls(self, form: QLayout) -> QVBoxLayout:
        """Lay out ``form`` above Run / Cancel buttons, a progress bar and a status label.

        Creates ``run_btn`` (runs ``self.run``), ``cancel_btn`` (:meth:`stop`),
        ``progress``, ``status`` and ``_forward`` (a :class:`ProgressForwarder` on
        them). Returns the widget's vertical layout.
        """
        self.run_btn = QPushButton("Run")
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.progress = QProgressBar()
        self.status = QLabel("idle")
        self.status.setWordWrap(True)  # long messages wrap instead of widening the dock
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_btn)
        buttons.addWidget(self.cancel_btn)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addLayout(buttons)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        lay.addStretch(1)
        self.run_btn.clicked.connect(user_action(self.run, self.status))
        self.cancel_btn.clicked.connect(self.stop)
        self._forward = ProgressForwarder(self.progress, self.status)
        return lay

    def confirm_plan(self, plan, *, does_not_fit: str | None = None) -> bool:
        """Ask before a long job (:class:`~napari_srmat.estimates.JobPlan`); True = go.

        Short jobs start without asking. The question goes through ``self.ask``
        (``ask(title, text) -> bool``, a Yes/No dialog by default; scripts and tests may
        replace it). With ``does_not_fit`` (what to do instead), a plan that does not fit
        in memory is refused first: ``WidgetInputError("<summary> That does not fit in
        memory: <does_not_fit>")``.
        """
        if does_not_fit is not None and not plan.fits_in_memory():
            from .layers import WidgetInputError

            raise WidgetInputError(
                f"{plan.summary()} That does not fit in memory: {does_not_fit}")
        if not plan.is_long:
            return True
        ask = self.ask or ask_yes_no
        go = ask("Start a long job?", plan.summary() + "\n\nStart it now?")
        if not go:
            self.status.setText("not started: " + plan.summary())
        return bool(go)

    def confirm_float_divisor(self, name: str, data: Any, purpose: str = "measured"
                              ) -> tuple[bool, Any]:
        """Offer to divide a float layer holding 0..255 / 0..65535 values; ``(go, divisor)``.

        For an in-memory float layer whose values look like an 8- or 16-bit image saved
        as floats (:func:`~napari_srmat.io.float_bit_depth_divisor` on
        :func:`float_sample`), ask (:func:`~napari_srmat.widgets._float_offer.
        ask_float_divisor`) whether to work on it divided by 255 / 65535, as the integer
        image would be read. ``(True, None)`` for any other layer; ``(False, divisor)``
        when the user says no (the status says why nothing started). A lazy float layer
        gets ``(True, LazyFloatOffer)``: its sample is read and the question asked from
        its job's worker (:mod:`~napari_srmat.widgets._float_offer`; nothing read here),
        where No ends the job as not started (:class:`NotStarted`), with the same line.
        The division itself runs in the worker (:func:`divided_by`), never on the GUI
        thread.
        """
        from ..io import float_bit_depth_divisor
        from ._float_offer import ask_float_divisor, lazy_float_offer

        sample = float_sample(data)
        if sample is None:  # lazy: its sample read in its job's worker
            return True, lazy_float_offer(self, name, data, purpose)
        divisor = float_bit_depth_divisor(sample)
        if not divisor:
            return True, None
        return ask_float_divisor(self, name, divisor, purpose), divisor

    def _ensure_idle(self, busy_message: str) -> None:
        """Raise ``WidgetInputError(busy_message)`` while a job of this widget runs."""
        from .layers import WidgetInputError

        # a started worker is not ``is_running`` until its thread picks it up: until the
        # job's end is processed here, as the buttons show it
        if getattr(self, "_job_on", False):
            raise WidgetInputError(busy_message)

    def _start_single_job(
        self,
        make_generator: Callable[[StopToken], Generator[Event, Any, Any]],
        *,
        on_result: Callable[[Any], None],
    ) -> GeneratorWorker:
        """Reset the progress, swap the buttons and start the job; return the worker.

        The status line ends as the job does: ``on_result``'s text (a ``done`` line,
        :meth:`ProgressForwarder.done_line`), ``failed: <the notification's line>``
        (:func:`failed_line`) or ``stopped`` (cancelled before a result; :data:`STOPPED`).

        ``on_result`` may be a generator function (its steps: adding the result's
        layers): its steps run one per event-loop turn (:func:`run_in_turns`), so that
        showing a result never holds the GUI thread for all its layers at once (an SR
        or boundaries result stalled napari 0.25-0.75 s, s50 GUI explorer F5). The job
        counts as running until the last step (Run stays off); Cancel is off from the
        result on: the job has ended, there is nothing left to stop. A widget closed
        meanwhile gets no further step.
        """
        self.progress.setValue(0)
        self._forward.new_job()
        self.status.setText("starting…")
        self.run_btn.setEnabled(False)
        self.cancel_btn.setEnabled(True)
        self._job_outcome = None
        self._job_on = True
        self._showing = False  # the result's steps are running (their end ends the job)
        self._ended = False  # the worker has finished
        token = StopToken()

        def closed() -> bool:  # a deleted widget (napari's window closed) first: its
            # attributes are not read then (RuntimeError: wrapped C/C++ object deleted)
            return not qt_alive(self) or getattr(self, "_dropped_token", None) is token

        def shown() -> None:
            self._showing = False
            if self._ended and not closed():
                self._on_finished()

        def _result(result) -> None:
            if closed():
                return  # the widget was closed while the job ran: nothing to show it in
            if result is not None:
                self._job_outcome = "result"
                self.cancel_btn.setEnabled(False)  # nothing left to stop
            steps = on_result(result)
            if isinstance(steps, Generator):
                self._showing = True
                run_in_turns(steps, stop=closed, on_end=shown)

        def _finished() -> None:
            self._ended = True
            if not self._showing:
                self._on_finished()

        self.worker, self.token = start_job(
            make_generator,
            on_event=self._forward,
            on_result=_result,
            on_error=self._on_job_error,
            on_finished=_finished,
            token=token,
            owner=self,
        )
        return self.worker

    def _shut_down_job(self) -> None:
        """The widget is going away (its dock closed): stop its job, and drop a result
        that still arrives, so that a closed tool adds no layers behind the user's back."""
        self._dropped_token = self.token
        if self.cancel_btn.isEnabled():  # a job is on (its end not processed yet)
            self.stop()

    def _on_job_error(self, exc: BaseException) -> None:
        self._job_outcome = "error"
        self.status.setText(failed_line(exc))

    def stop(self) -> None:
        """Ask the running job to stop at the next tile."""
        if self.token is not None:
            self.token.request_stop()
            self.status.setText("stopping…")

    def _on_finished(self) -> None:
        self._job_on = False
        self.run_btn.setEnabled(True)
        self.cancel_btn.setEnabled(False)
        stopped = self.token is not None and self.token.stop_requested
        if stopped and getattr(self, "_job_outcome", None) is None:
            self.status.setText(STOPPED)
