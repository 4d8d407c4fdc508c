"""The tiled engine on a dask.distributed cluster (or any dask scheduler).

Task graph
----------
Every output chunk ``k`` (the grid of :func:`~napari_srmat.tiling.tiled_apply_job`) has
two tasks:

1. *owned* (:func:`_owned_task`): computes the tiles chunk ``k`` owns, in the same
   batches as the local engine, and cuts each weighted tile output into its piece of
   chunk ``k`` and the thin strips it spills into the next chunks (right, below,
   diagonal). Owned tasks are independent of each other.
2. *assemble* (:func:`_assemble_task`): adds the strips spilled into ``k`` by its
   neighbours (sorted by tile) and then its own pieces, in the local engine's order,
   converts to the output type and writes the chunk into ``OUT.partial`` (or returns
   it).

No tile is computed twice and the additions happen in the same order as in
``_Engine.chunk_gen``, so the result is bit-identical to the local run whenever ``fn``
gives the same numbers for the same batch (the tests check it for ``bicubic`` and
``cnn``).

Data safety
-----------
The starting process owns the output protocol of
:class:`~napari_srmat.io.OmeZarrStreamWriter`: it takes ``OUT.lock``, writes the
manifest, checks what a resumed ``OUT.partial`` already has, and at the end builds the
pyramid, writes the marker and swaps the store in. Workers only write level-0 chunks
and their done records (data first, record second) through a
:class:`~napari_srmat.io._write.PartialBlockWriter`, so the output path must be on a
file system the workers see at the same path. On stop (or an error) a cluster-wide
:class:`distributed.Event` is set, tasks return at their next tile batch without
writing, and the starting process waits for them before it releases the lock, so no
worker writes into a partial store that nobody holds.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import copy
import json
import re
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Generator, Iterator
from typing import Any

import numpy as np

from .._atomic import HeldInterrupt as _HeldInterrupt
from .._atomic import ctrl_c_held as _ctrl_c_held
from .._atomic import stop_signal as _stop_signal
from ..errors import exception_reason, one_line
from ..io import read_window
from ..jobs import Event, Log, Progress, Stopped, StopToken, format_duration
from ._engine import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_OVERLAP,
    DEFAULT_TILE,
    _accepts_tile_ids,
    _channels_last,
    _check_finite,
    _convert_out,
    _drive,
    _Engine,
    _Geometry,
    _note_kept,
    _Runner,
    _setup,
    _Source,
    _Window,
    stopped_line,
)

__all__ = [
    "SchedulerError",
    "WorkersDiedError",
    "SCHEDULER_CONNECT_TIMEOUT",
    "SCHEDULER_STOP_TIMEOUT",
    "check_scheduler",
    "dask_client",
    "map_job",
    "WorkerModel",
    "tiled_apply_dask",
]

#: Seconds to wait for a scheduler at an address before giving up (one-line error).
SCHEDULER_CONNECT_TIMEOUT = 10
#: Seconds the starting process waits, after a stop or an error, for the tasks that are
#: running on the cluster to return before it releases the output lock anyway.
SCHEDULER_STOP_TIMEOUT = 300
#: What a run that stopped tells of the tasks still running on a cluster it does not
#: close (:func:`_tell_tasks_left_running`): ``n``, ``why`` and ``partial`` filled in.
TASKS_LEFT_RUNNING = (
    "{n} task(s) were still running on the dask cluster when the run stopped waiting for "
    "them ({why}) and released the lock of {partial}: they may still write into it. A "
    "rerun that resumes is safe (a chunk is written whole, then recorded); wait for them "
    "to end (the dask dashboard) before one that starts it over (--overwrite, other "
    "settings), which could receive their chunks")
#: Seconds between two looks at the stop token while waiting for the cluster.
POLL_SECONDS = 0.2
#: Output chunks in flight per worker thread (bounds memory: a chunk's pieces live on
#: the cluster until the chunk is written).
CHUNKS_IN_FLIGHT_PER_THREAD = 2
#: Prefix of ``local:N`` (start a LocalCluster of N single-thread worker processes).
LOCAL_PREFIX = "local:"

#: Most ``local:N`` worker processes per CPU of this machine (:func:`local_worker_limit`):
#: each is a Python of its own, single-threaded; more only cost memory.
LOCAL_WORKERS_PER_CPU = 4
#: Variables of dask's ``distributed.nanny.pre-spawn-environ`` left out for ``local:N``
#: workers. dask sets ``MALLOC_TRIM_THRESHOLD_=65536``, which turns off glibc's dynamic
#: mmap threshold: every large torch buffer is then a fresh mmap and the cnn's tiles run
#: markedly slower in the worker (``slowdown_with_dask_malloc_trim_env`` of
#: ``benchmarks/bench_distributed.py``). See docs/distributed.md for clusters started
#: elsewhere.
LOCAL_WORKER_ENV_DROP = ("MALLOC_TRIM_THRESHOLD_",)

#: The module every ``local:N`` worker process runs at its start, also when its nanny
#: starts it again after it died: it ignores SIGINT (a terminal's Ctrl-C) and SIGTERM from
#: then on.
LOCAL_WORKER_PRELOAD = "napari_srmat.tiling._worker_setup"


class SchedulerError(ValueError):
    """A ``scheduler`` that is not an address, ``local:N`` or a Client, or that cannot
    be reached."""


class WorkersDiedError(OSError):
    """The cluster's workers died (killed, out of memory) every time they ran a task, as
    often as dask tries it again (``distributed.scheduler.allowed-failures`` + 1): a
    system error, told in one line (not as an internal error of napari-srmat)."""


#: Seconds a Ctrl-C pressed at the start of a blocking client call waits before it is
#: raised (:func:`_ctrl_c_after_call`): time for the client's event loop to start the
#: call, so that dask can cancel it.
CALL_START_SECONDS = POLL_SECONDS


@contextlib.contextmanager
def _ctrl_c_after_call() -> Iterator[None]:
    """Raise a Ctrl-C pressed during a blocking call into the dask client no sooner
    than :data:`CALL_START_SECONDS` after the call began, and no later.

    A blocking client call (``distributed.wait``, ``Future.result``: distributed's
    ``sync``) that a KeyboardInterrupt reaches before the client's event loop has
    started it schedules a cancellation that fails there (a NameError), printed as a
    ``tornado.application`` traceback above the command's one ``interrupted`` line. A
    press that early waits until the loop has had that time; a later one is raised at
    once, and the call is cancelled. (Holding the press until the call returned kept
    it for as long as a finished task's result took to come: seconds for a large chunk
    or a slow link, a whole task's rerun if the worker holding it died.) Nothing is
    changed outside the main thread, or where neither SIGINT nor SIGTERM has a Python
    handler (:func:`~napari_srmat._atomic.stop_signal`). With SIGINT ignored (``srmat
    ... &``) a SIGTERM, which ``srmat``'s handler makes a Ctrl-C
    (``cli._sigterm_as_ctrl_c``), waits the same (until 2026-12-07 it was raised at
    once).

    A press whose KeyboardInterrupt landed inside the call's ``threading.Condition.wait``
    after it released its lock and before its ``try`` (about 1 in 300 presses) left the
    lock released, and the wait's ``with`` raised ``RuntimeError('release unlocked
    lock')`` instead: when a SIGINT came during the call, that error is raised as the
    KeyboardInterrupt it is (:func:`_torn_by_ctrl_c`); any other error as it is.
    """
    import signal

    stopping = _stop_signal()  # SIGINT's, or SIGTERM's where SIGINT is ignored
    if stopping is None:
        yield
        return
    signum, previous = stopping
    started, pressed = time.monotonic(), False

    def after_start(signum, frame) -> None:
        nonlocal pressed
        pressed = True
        time.sleep(max(0.0, started + CALL_START_SECONDS - time.monotonic()))
        previous(signum, frame)  # Python's: a KeyboardInterrupt here

    signal.signal(signum, after_start)
    try:
        yield
    except RuntimeError as exc:
        if pressed and _torn_by_ctrl_c(exc):
            raise KeyboardInterrupt from exc
        raise
    finally:
        signal.signal(signum, previous)


#: What ``threading.Lock.release`` raises on a lock nobody holds: a lock's wait that a
#: KeyboardInterrupt left with the lock released (:func:`_ctrl_c_after_call`).
TORN_LOCK_MESSAGE = "release unlocked lock"


def _torn_by_ctrl_c(exc: BaseException) -> bool:
    """Whether ``exc`` is the ``RuntimeError('release unlocked lock')`` of a lock's wait
    that a KeyboardInterrupt left with its lock released: raised while that
    KeyboardInterrupt was (in its ``__context__`` chain).

    Parameters
    ----------
    exc : BaseException
        The error a blocking client call raised.

    Returns
    -------
    bool
        True only for that error with a KeyboardInterrupt in its context.
    """
    if not (isinstance(exc, RuntimeError) and str(exc) == TORN_LOCK_MESSAGE):
        return False
    seen: set[int] = set()
    context = exc.__context__
    while context is not None and id(context) not in seen:
        if isinstance(context, KeyboardInterrupt):
            return True
        seen.add(id(context))
        context = context.__context__
    return False


def _client_call(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``call(*args, **kwargs)``, a blocking call into the dask client, with a Ctrl-C
    meanwhile raised as :func:`_ctrl_c_after_call` says (the one rule of every such
    call: one made without it printed dask's tornado traceback above the command's
    ``interrupted`` line)."""
    with _ctrl_c_after_call():
        return call(*args, **kwargs)


def _poll(client, futures: list) -> set:
    """The futures among ``futures`` that are finished, waiting up to
    :data:`POLL_SECONDS` for the first (empty when none finished meanwhile); a Ctrl-C
    meanwhile is raised as :func:`_ctrl_c_after_call` says, one a finalizer dropped since
    the last look first (:class:`_LostCtrlC`)."""
    import distributed

    if isinstance(sys.unraisablehook, _LostCtrlC):
        sys.unraisablehook.raise_lost()
    try:
        with _ctrl_c_after_call(), client.as_current():
            return distributed.wait(futures, timeout=POLL_SECONDS,
                                    return_when="FIRST_COMPLETED").done
    except TimeoutError:
        return set()


def _result(future, after: str = "") -> Any:
    """``future.result()`` (a task's error is raised here), with dask's ``KilledWorker``
    told as a :class:`WorkersDiedError` (``after``: what the user may rerun, appended to
    the message). A Ctrl-C while the result is fetched or awaited is raised as
    :func:`_ctrl_c_after_call` says."""
    from distributed import KilledWorker

    try:
        with _ctrl_c_after_call():
            return future.result()
    except KilledWorker as exc:
        tries = exc.allowed_failures + 1 if isinstance(exc.allowed_failures, int) else "all"
        raise WorkersDiedError(
            f"the dask workers died each time they ran task {exc.task} ({tries} tries; "
            "out of memory, or killed? see the workers' logs)" + after) from exc


class _LostCtrlC:
    """``sys.unraisablehook`` of the starting process while its client is open
    (:func:`_ctrl_c_not_lost`): keeps a Ctrl-C that a finalizer dropped, for the job to
    raise at its next look at the cluster (:func:`_poll`) or as the client closes.

    Python raises a Ctrl-C's KeyboardInterrupt wherever the main thread is; inside a
    finalizer it is not raised but printed ("Exception ignored in ...") and dropped. The
    starting process drops the Future of every finished task (distributed's
    ``Future.__del__`` tells the scheduler), and a Ctrl-C that came just then was lost:
    the command ran on to its end. Any other unraisable error goes to the hook that was
    there before.
    """

    def __init__(self, previous: Callable[[Any], None]) -> None:
        self.previous = previous
        self.lost = 0

    def __call__(self, unraisable) -> None:
        if issubclass(unraisable.exc_type, KeyboardInterrupt):
            self.lost += 1
        else:
            self.previous(unraisable)

    def raise_lost(self) -> None:
        """Raise the KeyboardInterrupt of a Ctrl-C a finalizer dropped, if any (once)."""
        if self.lost:
            self.lost = 0
            raise KeyboardInterrupt


@contextlib.contextmanager
def _ctrl_c_not_lost() -> Iterator[None]:
    """Keep a Ctrl-C that a finalizer dropped while the block runs (:class:`_LostCtrlC`)
    and, if the job has not raised it before, tell it as a warning at the end of a block
    that ended (:func:`_late_ctrl_c`; an error on its way out goes on). Only in the main
    thread (the one a Ctrl-C reaches): elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    kept = _LostCtrlC(sys.unraisablehook)
    sys.unraisablehook = kept
    try:
        yield
    finally:
        if sys.unraisablehook is kept:
            sys.unraisablehook = kept.previous
    if kept.lost:  # the block ended (an error on its way out skips this line)
        tell_late_ctrl_c()


# --------------------------------------------------------------------------- client


@contextlib.contextmanager
def _workers_ignore_sigint() -> Iterator[_HeldInterrupt]:
    """Start ``local:N`` worker processes deaf to Ctrl-C and SIGTERM
    (:data:`~napari_srmat.tiling._worker_setup.IGNORED_SIGNALS`, not SIGINT only), and
    hold a Ctrl-C pressed meanwhile for the caller to deliver once the cluster can be
    closed.

    A terminal's Ctrl-C goes to the whole foreground process group: the workers of
    ``--scheduler local:N`` died of it mid-task, each printing a KeyboardInterrupt
    traceback, instead of being stopped by the starting process (its stop event, then
    the cluster's close). Every process spawned meanwhile (multiprocessing's
    ``spawnv_passfds``, whatever thread calls it: dask starts the workers from its own
    threads) starts with SIGINT and SIGTERM blocked, which the exec keeps and Python
    never undoes, so the worker never receives them; the way CPython starts its
    resource tracker. The starting process itself is not deaf: its SIGINT handler
    meanwhile counts the presses (:class:`_HeldInterrupt`), instead of raising a
    KeyboardInterrupt inside the cluster's start (which would leave it half started), and
    :meth:`_HeldInterrupt.deliver` hands a held press on to the previous handler. (It
    used to ignore SIGINT meanwhile, for the workers to inherit the ignore through
    exec; a Ctrl-C while the workers started was then lost.) A worker its nanny starts
    again later ignores SIGINT through :data:`LOCAL_WORKER_PRELOAD`. SIGTERM is blocked
    and ignored alike (:data:`~napari_srmat.tiling._worker_setup.IGNORED_SIGNALS`): a
    ``kill``/``scancel`` of the whole process group ends the command as a Ctrl-C does.

    Only from the main thread (a GUI job thread cannot change signal handlers; its
    workers are not in a terminal's group anyway): elsewhere nothing changes and nothing
    is held.

    Yields
    ------
    _HeldInterrupt
        The presses held; ``deliver()`` it once the workers are up.
    """
    import signal
    from multiprocessing import util

    held = _HeldInterrupt()
    if threading.current_thread() is not threading.main_thread():
        yield held
        return
    spawn = getattr(util, "spawnv_passfds", None)
    blocking = spawn is not None and hasattr(signal, "pthread_sigmask")  # POSIX

    from ._worker_setup import IGNORED_SIGNALS

    def spawn_stops_blocked(path, args, passfds):  # SIGINT and SIGTERM (IGNORED_SIGNALS)
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, set(IGNORED_SIGNALS))
        try:
            return spawn(path, args, passfds)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    patched = False
    try:  # both swaps inside: a press pending at the swap raises, and both are undone
        if blocking:
            util.spawnv_passfds = spawn_stops_blocked
            patched = True
        with _ctrl_c_held() as held:
            yield held
    finally:
        if patched:
            util.spawnv_passfds = spawn


#: The warning of a Ctrl-C that came as a run closed, after the run had ended
#: (:func:`_late_ctrl_c`).
CTRL_C_AT_CLOSE = ("a Ctrl-C came as the run closed (the output's swap into place or "
                   "the deletion of the earlier output it replaced, which the next run "
                   "finishes; the dask cluster, the output's lock), after it had ended: "
                   "nothing was left to stop")
#: The warning of a close that failed after the run had ended (:func:`close_after_run`):
#: ``what`` and ``error`` are filled in.
CLOSE_FAILED_AFTER_RUN = "{what} did not close cleanly after the run had ended ({error})"


def _late_ctrl_c(pressed: bool, ended: bool, deliver: Callable[[], None]) -> None:
    """The one rule of a Ctrl-C that is found only as a run closes: one held through a
    close (:func:`close_after_run`); one a finalizer dropped while the client was open
    (:func:`_ctrl_c_not_lost`) and one found as an ended run's store closes (the tiling
    engine) are told by its ended half, :func:`tell_late_ctrl_c`.

    When the run had not ended (an error or a Ctrl-C on its way out) it is raised
    (``deliver()``): the command's one ``interrupted`` line, exit 130. After a run that
    had ended nothing is left to stop, and raising it threw away complete results
    (``srmat grain-size --scheduler``: exit 130 without the grain sizes; an in-memory
    ``tiled_apply`` result): it is told as a warning (:data:`CTRL_C_AT_CLOSE`) instead.

    Parameters
    ----------
    pressed : bool
        Whether a Ctrl-C was held or dropped.
    ended : bool
        Whether the block that used the client ended without an exception.
    deliver : callable
        Raises the press (a KeyboardInterrupt).
    """
    if not pressed:
        return
    if ended:
        tell_late_ctrl_c(stacklevel=4)
        return
    deliver()


def tell_late_ctrl_c(*, stacklevel: int = 3) -> None:
    """Tell a Ctrl-C found at the close of a run that had ended (:data:`CTRL_C_AT_CLOSE`),
    once a run (:class:`_ClosesTellCtrlCOnce`); the ended half of :func:`_late_ctrl_c`."""
    told = _CTRL_C_AT_CLOSE_TOLD.get()
    if told is None or not told[0]:
        if told is not None:
            told[0] = True
        warnings.warn(CTRL_C_AT_CLOSE, UserWarning, stacklevel=stacklevel)


#: Whether the run closing now has told :data:`CTRL_C_AT_CLOSE` (a one-item list), None
#: when no run is closing (:class:`_ClosesTellCtrlCOnce`).
_CTRL_C_AT_CLOSE_TOLD: contextvars.ContextVar[list[bool] | None] = contextvars.ContextVar(
    "srmat_ctrl_c_at_close_told", default=None)


class _ClosesTellCtrlCOnce(contextlib.AbstractContextManager):
    """An ExitStack (what a run closes) whose closes tell :data:`CTRL_C_AT_CLOSE` once
    (:func:`_late_ctrl_c`), however many of them found a press: one held through the
    cluster's close and one a finalizer dropped each said it, two identical warnings.

    Set only while it closes (``__exit__`` runs through without a ``yield``), so a
    run's generator left suspended, never closed, leaves nothing set behind; closes
    inside another one's are the same run's.

    Parameters
    ----------
    closing : contextlib.ExitStack
        What the run closes.
    """

    def __init__(self, closing: contextlib.ExitStack) -> None:
        self.closing = closing

    def __enter__(self) -> contextlib.ExitStack:
        return self.closing.__enter__()

    def __exit__(self, *exc: Any) -> bool:
        if _CTRL_C_AT_CLOSE_TOLD.get() is not None:  # an outer run's close
            return self.closing.__exit__(*exc)
        token = _CTRL_C_AT_CLOSE_TOLD.set([False])
        try:
            return self.closing.__exit__(*exc)
        finally:
            _CTRL_C_AT_CLOSE_TOLD.reset(token)


def close_after_run(close: Callable[[], Any], error: BaseException | None,
                    what: str) -> None:
    """``close()`` what a run held (a dask client and the ``local:N`` cluster it started,
    an output's lock) with a Ctrl-C held until it has closed (:func:`_ctrl_c_held`); the
    one rule of every close at a run's end.

    Raised inside the close, a press left a ``local:N`` cluster to dask's atexit
    handler, which closed it 10 s later, and a remote scheduler's client unclosed; it is
    raised once closed, or told as a warning after a run that had ended
    (:func:`_late_ctrl_c`). A close that fails does not replace the run's own error
    (a Ctrl-C told as an internal error, exit 1 instead of 130): it is added to it as a
    note. After a run that had ended it is told as a warning
    (:data:`CLOSE_FAILED_AFTER_RUN`) and the run's results are kept (an in-memory result
    was lost, a complete store reported as a failure).

    Parameters
    ----------
    close : callable
        Closes it.
    error : BaseException or None
        The exception on its way out of the run, None when the run ended.
    what : str
        What closes, for the messages ("the dask client").
    """
    failed: Exception | None = None
    with _ctrl_c_held() as ctrl_c:
        try:
            close()
        except Exception as exc:  # a KeyboardInterrupt of a press is held
            failed = exc
    if failed is not None:
        told = one_line(failed) or type(failed).__name__
        if error is None:
            warnings.warn(CLOSE_FAILED_AFTER_RUN.format(what=what, error=told),
                          UserWarning, stacklevel=2)
        else:
            error.add_note(f"{what} also failed to close: {told}")
    _late_ctrl_c(ctrl_c.pressed > 0, error is None, ctrl_c.deliver)


@contextlib.contextmanager
def closed_after_run(close: Callable[[], Any], what: str) -> Iterator[None]:
    """A block after which ``close()`` runs once, told how the block ended
    (:func:`close_after_run`).

    Parameters
    ----------
    close : callable
        Closes what the block used.
    what : str
        What closes, for the messages.
    """
    error: BaseException | None = None
    try:
        yield
    except BaseException as exc:
        error = exc
        raise
    finally:
        close_after_run(close, error, what)


_DEAF_WORKER_KILL_REGISTERED = threading.Event()


def _register_deaf_worker_kill() -> None:
    """Register :func:`kill_deaf_workers_at_exit` with :mod:`atexit`, once a process."""
    if not _DEAF_WORKER_KILL_REGISTERED.is_set():
        import atexit
        import multiprocessing.util  # noqa: F401  its exit function first: ours runs before

        _DEAF_WORKER_KILL_REGISTERED.set()
        atexit.register(kill_deaf_workers_at_exit)


def kill_deaf_workers_at_exit() -> None:
    """Kill (SIGKILL) the daemon worker processes still alive as Python exits.

    ``local:N`` workers ignore SIGTERM (``_worker_setup.IGNORED_SIGNALS``), and
    multiprocessing ends its daemon children at exit with a SIGTERM and then waits for
    them without a limit: a worker left alive by a close that failed
    (:data:`CLOSE_FAILED_AFTER_RUN`) would hang the exit for ever. Registered with
    :mod:`atexit` when a ``local:N`` cluster starts, after multiprocessing's own exit
    function, so it runs before it; daemon children end at exit either way.
    """
    import multiprocessing

    for child in multiprocessing.active_children():
        if child.daemon and child.name.startswith(DASK_WORKER_PROCESS_NAME):
            child.kill()
            child.join(timeout=DEAF_WORKER_JOIN_SECONDS)


#: How long :func:`kill_deaf_workers_at_exit` waits for each killed worker.
DEAF_WORKER_JOIN_SECONDS = 5.0

#: How a nanny's worker process is named (``distributed.nanny``): the children
#: :func:`kill_deaf_workers_at_exit` kills, no other of the process's.
DASK_WORKER_PROCESS_NAME = "Dask Worker process"


@contextlib.contextmanager
def dask_client(scheduler) -> Iterator[Any]:
    """A ``distributed.Client`` for ``scheduler``; what it starts it closes.

    Parameters
    ----------
    scheduler : str or distributed.Client
        ``"local:N"``: a ``LocalCluster`` of ``N`` worker processes with one thread
        each (started here, closed on exit). An address such as
        ``"tcp://host:8786"`` (or ``"host:8786"``): an existing scheduler (``dask
        scheduler`` / ``dask worker``, dask-jobqueue, dask-kubernetes). A Client: used
        as it is and left open.

    Yields
    ------
    distributed.Client
        Not made the default dask scheduler (other dask work in the process stays
        local).

    Raises
    ------
    SchedulerError
        Bad ``local:N``, or no scheduler answers at the address (or it has no worker)
        within :data:`SCHEDULER_CONNECT_TIMEOUT` seconds.

    Notes
    -----
    A Ctrl-C that a finalizer dropped while the client is open is raised at the job's
    next look at the cluster, or as the client closes (:func:`_ctrl_c_not_lost`). One
    pressed while the client (and a ``local:N`` cluster) closes is held until it has
    closed (:func:`close_after_run`). Either is raised when the block did not end, and
    told as a warning when it had ended without an exception (:func:`_late_ctrl_c`);
    so is a close that fails.
    """
    with _ClosesTellCtrlCOnce(contextlib.ExitStack()) as closing:
        closing.enter_context(_ctrl_c_not_lost())
        yield closing.enter_context(_open_client(scheduler))


@contextlib.contextmanager
def _open_client(scheduler) -> Iterator[Any]:
    """The client of :func:`dask_client` (what it starts it closes)."""
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - distributed is a dependency
        raise SchedulerError("scheduler= needs the 'distributed' package "
                             "(pip install distributed)") from exc
    if isinstance(scheduler, distributed.Client):
        yield scheduler
        return
    text, n = check_scheduler(scheduler)
    if n is not None:
        import dask

        environ = {k: v for k, v in
                   (dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {}).items()
                   if k not in LOCAL_WORKER_ENV_DROP}
        # only while the workers are spawned (the nannies keep their environment):
        # the setting must not leak into the caller's dask config while we run
        with contextlib.ExitStack() as stack:
            with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}), \
                    _workers_ignore_sigint() as ctrl_c:
                # entered while a Ctrl-C is still held: from here on the cluster closes
                # whenever one arrives
                cluster = stack.enter_context(distributed.LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True,
                    dashboard_address=":0", preload=[LOCAL_WORKER_PRELOAD]))
            ctrl_c.deliver()  # a Ctrl-C while the workers started stops here: they close
            _register_deaf_worker_kill()
            client = stack.enter_context(distributed.Client(cluster, set_as_default=False))
            client.register_plugin(_quiet_task_errors())

            def close() -> None:
                with _kill_at_close_not_told():
                    stack.close()

            with closed_after_run(close, "the dask cluster"):
                yield client
        return
    try:
        client = distributed.Client(text, timeout=SCHEDULER_CONNECT_TIMEOUT,
                                    set_as_default=False)
    except (OSError, ValueError, TypeError) as exc:
        raise SchedulerError(
            f"cannot connect to the dask scheduler at {text!r} "
            f"({exception_reason(exc)}): start one with "
            "`dask scheduler` (and workers with `dask worker ADDRESS`), or use local:N"
        ) from None
    with closed_after_run(client.close, "the dask client"):
        try:
            client.wait_for_workers(1, timeout=SCHEDULER_CONNECT_TIMEOUT)
        except (TimeoutError, OSError) as exc:
            raise SchedulerError(
                f"the dask scheduler at {text!r} has no workers (none joined within "
                f"{SCHEDULER_CONNECT_TIMEOUT} s): start some with `dask worker {text}`"
            ) from exc
        yield client


#: What dask's nanny logs when a ``local:N`` worker has not stopped within its close
#: timeout (4 s; a loaded machine) and is killed.
WORKER_KILLED_AT_CLOSE = "Worker process still alive after"


def _not_a_kill_at_close(record) -> bool:
    """Logging filter: False for the nanny's :data:`WORKER_KILLED_AT_CLOSE` record."""
    return not str(record.msg).startswith(WORKER_KILLED_AT_CLOSE)


@contextlib.contextmanager
def _kill_at_close_not_told() -> Iterator[None]:
    """While a ``local:N`` cluster closes, its nanny's kill of a worker slow to stop is
    not told: the cluster is ours and closing, nothing is lost, and on a loaded machine
    the line came above the command's one ``interrupted`` or result line."""
    import logging

    log = logging.getLogger("distributed.nanny")
    log.addFilter(_not_a_kill_at_close)
    try:
        yield
    finally:
        log.removeFilter(_not_a_kill_at_close)


#: The loggers of a ``local:N`` worker that :func:`_not_told_by_srmat` filters.
QUIET_WORKER_LOGGERS = ("distributed.worker", "distributed.worker.state_machine")

#: What a ``local:N`` worker logs when its scheduler, in the starting process, is gone
#: or slow to answer: a heartbeat that failed (with a traceback), or one the scheduler
#: answered after it had removed the worker. Both come at the cluster's close when the
#: scheduler closes before the worker is told (a loaded machine), and the starting
#: process tells any failure of its own scheduler itself.
SCHEDULER_GONE_RECORDS = ("Failed to communicate with scheduler during heartbeat",
                          "Scheduler was unaware of this worker")


def _not_told_by_srmat(record) -> bool:
    """Logging filter of ``local:N`` workers: False for a record of what the starting
    process tells itself, in one line.

    A "Compute Failed" record of a napari-srmat task (keys ``srmat-...``): the task's
    exception is re-raised there. "Async instruction for <Task cancelled ...> ended with
    CancelledError": a task cut short as the cluster closes, which only the starting
    process does (a Ctrl-C, a stop, another task's error; every task of a ``local:N``
    cluster is the command's), and the command's ``interrupted`` or error line says so.
    A heartbeat the scheduler did not answer (:data:`SCHEDULER_GONE_RECORDS`): the
    scheduler is the starting process's, which tells what became of it.
    """
    msg = str(record.msg)
    if msg.startswith(SCHEDULER_GONE_RECORDS):
        return False
    if msg.startswith("Async instruction for") and msg.endswith("ended with CancelledError"):
        return False
    args = record.args if isinstance(record.args, tuple) else ()
    return not (msg.startswith("Compute Failed") and args
                and str(args[0]).startswith("srmat-"))


def _quiet_task_errors():
    """Worker plugin of ``local:N`` clusters: the workers share the user's terminal, and
    a failing task printed a multi-line "Compute Failed" block with its traceback there
    (one per worker) above the one-line error the starting process reports for it
    (the task's exception, re-raised there); a Ctrl-C printed a warning line per task
    cut short above the command's one ``interrupted`` line (:func:`_not_told_by_srmat`).
    Workers of clusters started elsewhere keep their logs (they go to the cluster's log
    files)."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class QuietTaskErrors(WorkerPlugin):
        name = "srmat-quiet-task-errors"
        idempotent = True

        def setup(self, worker) -> None:
            import logging

            for name in QUIET_WORKER_LOGGERS:
                logger = logging.getLogger(name)
                if _not_told_by_srmat not in logger.filters:
                    logger.addFilter(_not_told_by_srmat)

    return QuietTaskErrors()


#: A scheduler address dask can connect to: optional protocol, host (name, IPv4 or
#: bracketed IPv6) and port, or an in-process ``inproc://`` address. Without a port,
#: ``distributed.Client`` fails only after its close times out (20 s and a traceback
#: printed from ``__del__``).
_ADDRESS = re.compile(r"inproc://\S+|(?:(?:tcp|tls|ucx|ws|wss)://)?"
                      r"(?:\[[0-9A-Fa-f:.]+\]|[\w.-]+):\d{1,5}")


def workers_end_with_run(scheduler: Any) -> bool:
    """Whether a run given ``scheduler`` ends the workers its tasks run on: only a
    ``"local:N"`` it starts and closes; a scheduler at an address, or a client passed in,
    keeps its workers (and their running tasks) after the run.

    Examples
    --------
    >>> workers_end_with_run("local:2"), workers_end_with_run("tcp://host:8786")
    (True, False)
    """
    return isinstance(scheduler, str) and check_scheduler(scheduler)[1] is not None


def local_worker_limit() -> int:
    """The most worker processes ``local:N`` starts on this machine:
    :data:`LOCAL_WORKERS_PER_CPU` per CPU this process may use
    (:func:`napari_srmat.estimates.usable_cpus`: a batch job's share of a node, not the
    node's every CPU)."""
    from ..estimates import usable_cpus

    return LOCAL_WORKERS_PER_CPU * usable_cpus()


def check_scheduler(scheduler: str) -> tuple[str, int | None]:
    """Check the form of a scheduler string (no connection is made).

    Returns
    -------
    tuple
        ``(address, None)`` or ``("local:N", N)``.

    Raises
    ------
    SchedulerError
        Empty, not a string, ``local:`` without a positive integer or with more workers
        than :func:`local_worker_limit`, or an address without a port.
    """
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise SchedulerError(f"scheduler must be an address like tcp://host:8786 or "
                             f"local:N, got {scheduler!r}")
    text = scheduler.strip()
    if text.startswith(LOCAL_PREFIX):
        n = text[len(LOCAL_PREFIX):]
        if not n.isdigit() or int(n) < 1:
            raise SchedulerError(f"local:N needs a positive number of workers, got {text!r}")
        limit = local_worker_limit()  # read once: the line's numbers agree
        if int(n) > limit:  # local:100000 spawned Pythons until memory ran out
            cpus = limit // LOCAL_WORKERS_PER_CPU
            raise SchedulerError(
                f"{text} would start {int(n)} worker processes: at most "
                f"{LOCAL_WORKERS_PER_CPU} per CPU here ({limit} for {cpus} CPUs); "
                f"give local:{cpus}")
        return text, int(n)
    if not _ADDRESS.fullmatch(text):
        raise SchedulerError(f"scheduler must be an address with its port, like "
                             f"tcp://host:8786, or local:N, got {text!r}")
    return text, None


def _n_threads(client) -> int:
    workers = client.scheduler_info().get("workers", {})
    return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))


class _ClusterStop:
    """Worker-side stop token: a named ``distributed.Event`` the starting process sets."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._event = None

    def __getstate__(self) -> dict:
        return {"name": self.name, "_event": None}

    @property
    def stop_requested(self) -> bool:
        if self._event is None:
            from distributed import Event as DEvent

            self._event = DEvent(self.name)
        return self._event.is_set()


# --------------------------------------------------------------------------- plan


def _owned(geom: _Geometry, k: tuple[int, int]) -> tuple[list[int], list[int]]:
    """Tile rows and columns owned by chunk ``k``."""
    ky, kx = k
    tys = [j for j in geom.tiles_touching(ky, geom.H) if geom.owner(j) == ky]
    txs = [i for i in geom.tiles_touching(kx, geom.W) if geom.owner(i) == kx]
    return tys, txs


def _spill_targets(geom: _Geometry, k: tuple[int, int]) -> set[tuple[int, int]]:
    """Chunks (other than ``k``) that tiles owned by ``k`` spill into."""
    tys, txs = _owned(geom, k)
    ys = {a for j in tys for a in geom.chunks_of_tile(j, geom.H)}
    xs = {c for i in txs for c in geom.chunks_of_tile(i, geom.W)}
    return {(a, c) for a in ys for c in xs} - {k}


def _plan(geom: _Geometry) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """For every chunk, the chunks whose owned tiles spill into it (row-major earlier)."""
    sources: dict[tuple[int, int], list[tuple[int, int]]] = {
        (ky, kx): [] for ky in range(geom.ncy) for kx in range(geom.ncx)}
    for kk in sources:
        for k in sorted(_spill_targets(geom, kk)):
            sources[k].append(kk)
    return sources


def _window_box(src: _Source, eng: _Engine, k: tuple[int, int]):
    """``(raw-window bbox, reflected window)`` of the tiles chunk ``k`` owns, or None."""
    tys, txs = _owned(eng.geom, k)
    if not tys or not txs:
        return None
    box = eng.window_for(tys, txs)
    yi, xi = src.bbox(*box)
    return box, (int(yi.min()), int(yi.max()) + 1, int(xi.min()), int(xi.max()) + 1)


# --------------------------------------------------------------------------- worker side


def _worker_engine(shape_info, params, fn) -> _Engine:
    H, W, C, grey, dtype = shape_info
    scale, tile, overlap, m, co, odt, batch_size = params
    geom = _Geometry(H, W, scale, tile, overlap, m)
    runner = _Runner(fn, batch_size=batch_size, tile=tile, overlap=overlap, scale=scale,
                     out_channels=co)

    class _Pre(_Source):
        def __init__(self) -> None:
            self.H, self.W, self.C, self.grey = H, W, C, grey
            self.dtype = np.dtype(dtype)

    return _Engine(_Pre(), runner, geom, co, np.dtype(odt))


def _owned_task(raw, box, k, shape_info, params, fn, stop=None):
    """Compute the tiles chunk ``k`` owns (same batches as the local engine).

    Returns ``(own, spills, messages)``: ``own`` the pieces of chunk ``k`` in the order
    the local engine adds them, ``spills`` ``{chunk: [(tile, ys, xs, part), ...]}``
    for the next chunks, ``messages`` the runner's OOM notes; None when stopped.
    """
    if stop is not None and stop.stop_requested:
        return None
    eng = _worker_engine(shape_info, params, fn)
    g = eng.geom
    own: list = []
    spills: dict = {}
    if raw is None:
        return own, spills, []
    (y0, y1, x0, x1), (ylo, _, xlo, _) = box
    raw = np.asarray(raw)
    _check_finite(raw, ylo, xlo)
    yi, xi = eng.src.bbox(y0, y1, x0, x1)
    win = _Window(raw, y0, x0, yi - ylo, xi - xlo, eng.src.grey)
    tys, txs = _owned(g, k)
    owned = [(j, i) for j in tys for i in txs]  # chunk_gen's order
    for batch, outs in eng.tile_batches(win, owned, eng.runner.batch_size, stop):
        if batch is None:  # stopped
            return None
        for t, out in zip(batch, outs):
            for kk, ys, xs, part in eng.pieces(t, out, g.chunks_of_tile_yx(t)):
                if kk == k:
                    own.append((ys, xs, part))
                else:
                    spills.setdefault(kk, []).append((t, ys, xs, part))
    return own, spills, list(eng.runner.messages)


def _identity(value):
    """``value`` (a task whose result is ``value``: recomputed where it is lost)."""
    return value


def _part(res, i: int):
    """Item ``i`` of an owned task's result (None when the task was stopped)."""
    return None if res is None else res[i]


def _assemble_task(own, spill_dicts, k, shape_info, params, writer=None, stop=None):
    """Blend chunk ``k`` from its neighbours' strips and its own pieces (the local
    engine's order: strips sorted by tile first, then own tiles), convert it, and write
    it into ``writer`` (returns ``k``) or return it (``writer=None``); None if stopped."""
    if own is None or any(d is None for d in spill_dicts):
        return None
    if stop is not None and stop.stop_requested:
        return None
    H, W, C, grey, _ = shape_info
    scale, tile, overlap, m, co, odt, _ = params
    geom = _Geometry(H, W, scale, tile, overlap, m)
    (y0, y1), (x0, x1) = geom.chunk_range(k[0], H), geom.chunk_range(k[1], W)
    acc = np.zeros((co, (y1 - y0) * scale, (x1 - x0) * scale), np.float32)
    contributions = [c for d in spill_dicts for c in d.get(k, [])]
    contributions.sort(key=lambda c: c[0])
    for _, ys, xs, part in contributions:
        acc[:, ys[0] : ys[1], xs[0] : xs[1]] += part
    for ys, xs, part in own:
        acc[:, ys[0] : ys[1], xs[0] : xs[1]] += part
    res = _convert_out(_channels_last(acc, grey), np.dtype(odt))
    if writer is None:
        return res
    writer.write_block(k, (slice(y0 * scale, y1 * scale), slice(x0 * scale, x1 * scale)), res)
    return k


def _direct_task(raw, origin, k, shape_info, params, chunk_fn, context, writer=None,
                 stop=None):
    """Chunk ``k`` by the fast path ``chunk_fn`` (``_Engine.chunk_direct``) on its input
    window plus context (``raw``, already reflect padded, starting at input ``origin``);
    written into ``writer`` (returns ``k``) or returned; None if stopped."""
    if stop is not None and stop.stop_requested:
        return None
    eng = _worker_engine(shape_info, params, None)
    oy, ox = origin
    raw = np.asarray(raw)

    def read_raw(y0, y1, x0, x1):
        return raw[y0 - oy : y1 - oy, x0 - ox : x1 - ox]

    eng.src.read_raw = read_raw
    res = _drive(eng.chunk_direct(k[0], k[1], chunk_fn, context, stop))
    if res is None or writer is None:
        return res
    g = eng.geom
    (y0, y1), (x0, x1) = g.chunk_range(k[0], g.H), g.chunk_range(k[1], g.W)
    s = g.scale
    writer.write_block(k, (slice(y0 * s, y1 * s), slice(x0 * s, x1 * s)), res)
    return k


def _task_info(src: _Source, geom: _Geometry, runner: _Runner, co: int, odt: np.dtype):
    shape_info = (src.H, src.W, src.C, src.grey, src.dtype.str)
    params = (geom.scale, geom.tile, geom.overlap, geom.m, co, odt.str, runner.batch_size)
    return shape_info, params


# --------------------------------------------------------------------------- lazy array


def tiled_apply_dask(
    image,
    fn: Callable[[np.ndarray], Any],
    *,
    scale: int = 1,
    out_channels: int | None = None,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    batch_size: int = DEFAULT_BATCH_SIZE,
    out_dtype=None,
    chunk_size: int | None = None,
):
    """Lazy tiled application as a Dask array (runs on any Dask scheduler/cluster).

    The graph has two tasks per output chunk (at least about 1024 px, on the grid of
    :func:`tiled_apply_job`): one computes the tiles the chunk owns (reading only their
    input window, reflect padded at image borders), one blends the chunk from them and
    the thin strips its left/upper neighbours' tiles spill into it. Every tile is
    computed once, in the local engine's batches, and blended in its order, so the
    result equals :func:`tiled_apply` bit for bit for a ``fn`` that is deterministic per
    batch. ``fn`` must be picklable for process-based clusters. To stream into an
    OME-Zarr on a cluster (resumable, with progress and stop), use
    ``tiled_apply_job(..., out=PATH, scheduler=...)``, which runs the same tasks.

    Parameters
    ----------
    image, fn, scale, out_channels, tile, overlap, batch_size, out_dtype, chunk_size
        As in :func:`tiled_apply_job`.

    Returns
    -------
    dask.array.Array
        ``(H*scale, W*scale[, C_out])``; store it with ``da.to_zarr`` or
        :func:`napari_srmat.io.write_ome_zarr`.
    """
    import dask
    import dask.array as da

    src, geom, runner, co, odt = _setup(image, fn, scale, out_channels, tile, overlap,
                                           batch_size, out_dtype, chunk_size)
    arr = src.array
    if not isinstance(arr, da.Array):
        arr = da.from_array(arr, chunks=getattr(arr, "chunks", None) or "auto")
    eng = _Engine(src, runner, geom, co, odt)
    token = uuid.uuid4().hex[:12]
    shape_info, params = _task_info(src, geom, runner, co, odt)
    fn_d = dask.delayed(fn, name=f"srmat-fn-{token}")
    sources = _plan(geom)
    owns, spills = {}, {}
    rows = []
    for ky in range(geom.ncy):
        row = []
        for kx in range(geom.ncx):
            k = (ky, kx)
            wb = _window_box(src, eng, k)
            raw = None if wb is None else arr[wb[1][0]:wb[1][1], wb[1][2]:wb[1][3]]
            res = dask.delayed(_owned_task, pure=False)(
                raw, wb, k, shape_info, params, fn_d,
                dask_key_name=f"srmat-owned-{token}-{ky}-{kx}")
            owns[k] = dask.delayed(_part, pure=True)(
                res, 0, dask_key_name=f"srmat-own-{token}-{ky}-{kx}")
            spills[k] = dask.delayed(_part, pure=True)(
                res, 1, dask_key_name=f"srmat-spill-{token}-{ky}-{kx}")
            task = dask.delayed(_assemble_task, pure=False)(
                owns[k], [spills[kk] for kk in sources[k]], k, shape_info, params,
                dask_key_name=f"srmat-tiled-{token}-{ky}-{kx}")
            ys, xs = eng.chunk_hr(ky, kx)
            cshape = (ys.stop - ys.start, xs.stop - xs.start)
            if not (src.grey and co == 1):
                cshape = (*cshape, co)
            row.append(da.from_delayed(task, shape=cshape, dtype=odt))
        rows.append(da.concatenate(row, axis=1))
    return da.concatenate(rows, axis=0)


# --------------------------------------------------------------------------- streaming job


def _read_raw(src: _Source, wb) -> np.ndarray | None:
    if wb is None:
        return None
    ylo, yhi, xlo, xhi = wb[1]
    raw = read_window(src.array, ylo, yhi, xlo, xhi)
    _check_finite(raw, ylo, xlo)
    return raw


def run_chunks_distributed(client, src: _Source, runner: _Runner, geom: _Geometry, co: int,
                           odt: np.dtype, writer, result, stop: StopToken | None,
                           chunk_fn=None, chunk_context: int = 0,
                           workers_end_with_run: bool = False
                           ) -> Generator[Event, None, Any]:
    """Cluster counterpart of ``_engine._run_chunks`` (same arguments and result).

    ``workers_end_with_run``: the run closes the cluster, its workers with it
    (:func:`workers_end_with_run`); else tasks the run stopped waiting for are told
    (:func:`_tell_tasks_left_running`).

    Submits the owned/assemble tasks of every chunk ``writer`` does not have yet
    (row-major, at most :data:`CHUNKS_IN_FLIGHT_PER_THREAD` chunks per worker thread
    in flight), yields :class:`Progress` per written chunk, and on ``stop`` or an error
    sets the cluster-wide stop event and waits for the running tasks before returning;
    a stop's :class:`Stopped` line comes after that wait, so it counts the chunks those
    tasks wrote (a task past its last look at the stop still writes its chunk; until
    session 51 the line was told first and said "nothing kept" of them).
    With ``chunk_fn`` (the interpolation fast path of ``tiled_apply_job``, which
    arrives with the engine-speed work: ``_Engine.chunk_direct`` / ``_Source.read_raw``)
    every chunk is one independent task on its shipped window; ``tiled_apply_job``
    passes it once both are merged.
    """
    import distributed

    eng = _Engine(src, runner, geom, co, odt)
    shape_info, params = _task_info(src, geom, runner, co, odt)
    token = uuid.uuid4().hex[:12]
    stop_name = f"srmat-stop-{token}"
    event = None  # the cluster-wide stop, made in the `try` (a Ctrl-C there as anywhere)
    cstop = _ClusterStop(stop_name)
    bw = None if writer is None else writer.block_writer()
    sources = _plan(geom)
    chunks = list(sources)

    def n_owned(k):
        tys, txs = _owned(geom, k)
        return len(tys) * len(txs)

    total = geom.ny * geom.nx
    todo = [k for k in chunks if writer is None or not writer.is_done(k)]
    done = total - sum(n_owned(k) for k in todo)
    todo_set = set(todo)
    # owned tasks: every chunk to write and every chunk whose tiles spill into one
    need_owned = sorted(todo_set | {kk for k in todo for kk in sources[k]})
    if chunk_fn is not None:
        need_owned = sorted(todo_set)
        sources = {k: [] for k in sources}
    dependents = {kk: sum(1 for k in todo if kk in sources[k]) for kk in need_owned}
    resumed = done  # tiles of chunks an earlier run wrote (skipped)
    yield Progress(done, total, stage="tiles", resumed=resumed)
    spill_futures: dict = {}
    inflight: dict = {}  # assemble future -> chunk
    extra: set = set()  # owned futures of finished chunks (only their spills needed)
    n_msgs_seen: set = set()
    t_start, eta_said, done_before = time.perf_counter(), False, done
    queue = list(need_owned)
    rerun = ("" if writer is None else f": the chunks written are kept in {writer.partial}, "
             "rerun the same command to resume")
    ctrl_c = None  # a Ctrl-C out of the run: told what it kept once the tasks returned
    ended = False

    def tiles_kept() -> int:
        """The tiles done: with a writer, those of the chunks OUT.partial holds (the
        tasks' chunks written after the run stopped looking included)."""
        if writer is None:
            return done
        return sum(n_owned(k) for k in chunks if writer.is_done(k))

    def end_tasks() -> None:
        """Once: tell the running tasks to return without writing, then wait for them:
        the lock is released only when no worker can write into the partial store; a
        second Ctrl-C meanwhile stops the wait, not the cancel of what is queued (cancel
        does not stop a running task), and what still runs is told."""
        nonlocal ended
        if ended:
            return
        ended = True
        pending = [f for f in (*inflight, *extra) if not f.done()]
        if not pending:  # (else the event was made: tasks were submitted after it)
            return
        waited, left = False, pending
        try:
            try:
                _set_stop(event)
                with _ctrl_c_after_call(), contextlib.suppress(Exception), \
                        client.as_current():
                    distributed.wait(pending, timeout=SCHEDULER_STOP_TIMEOUT)
                waited = True
            finally:
                left = [f for f in pending if not f.done()]
                _client_call(client.cancel, pending)
        finally:
            if left and writer is not None and not workers_end_with_run:
                _tell_tasks_left_running(
                    len(left), writer.partial,
                    f"after {SCHEDULER_STOP_TIMEOUT} s" if waited else "a second Ctrl-C")

    try:
        # the run's first calls to the cluster, each under the Ctrl-C rule of every call
        event = _client_call(distributed.Event, stop_name, client=client)
        # a task, not scattered data: the scheduler keeps how to make it, so it is made
        # again when every worker holding it has died (scattered, it was lost for good and
        # the run failed with "FuturesCancelledError ... already forgotten")
        with warnings.catch_warnings():  # a large in-memory network travels with its
            # task once (by design: what makes it again); dask warns of any graph > 10 MB
            warnings.filterwarnings("ignore", message="Sending large graph",
                                    category=UserWarning)
            fn_future = _client_call(
                client.submit, _identity, runner.fn if chunk_fn is None else chunk_fn,
                pure=False, priority=1, key=f"srmat-fn-{token}")
        window = CHUNKS_IN_FLIGHT_PER_THREAD * _client_call(_n_threads, client)
        while queue or inflight:
            while queue and len(inflight) + len(extra) < window:
                if stop is not None and stop.stop_requested:
                    break
                k = queue.pop(0)
                if chunk_fn is not None:
                    (y0, y1), (x0, x1) = geom.chunk_range(k[0], geom.H), geom.chunk_range(
                        k[1], geom.W)
                    c = int(chunk_context)
                    raw = src.read_raw(y0 - c, y1 + c, x0 - c, x1 + c)
                    fut = client.submit(_direct_task, raw, (y0 - c, x0 - c), k, shape_info,
                                        params, fn_future, c, bw, cstop, pure=False,
                                        priority=-(k[0] * geom.ncx + k[1]),
                                        key=f"srmat-direct-{token}-{k[0]}-{k[1]}")
                    inflight[fut] = (k, None)
                    continue
                wb = _window_box(src, eng, k)
                raw = _read_raw(src, wb)
                owned = client.submit(_owned_task, raw, wb, k, shape_info, params, fn_future,
                                      cstop, key=f"srmat-owned-{token}-{k[0]}-{k[1]}",
                                      priority=-(k[0] * geom.ncx + k[1]), pure=False)
                spill_futures[k] = client.submit(_part, owned, 1, priority=1,
                                                 key=f"srmat-spill-{token}-{k[0]}-{k[1]}")
                if k in todo_set:
                    own = client.submit(_part, owned, 0, priority=1,
                                        key=f"srmat-own-{token}-{k[0]}-{k[1]}")
                    fut = client.submit(
                        _assemble_task, own, [spill_futures[kk] for kk in sources[k]], k,
                        shape_info, params, bw, cstop, priority=1, pure=False,
                        key=f"srmat-assemble-{token}-{k[0]}-{k[1]}")
                    msgs = client.submit(_part, owned, 2, priority=1,
                                         key=f"srmat-msgs-{token}-{k[0]}-{k[1]}")
                    inflight[fut] = (k, msgs)
                    for kk in sources[k]:
                        dependents[kk] -= 1
                        if dependents[kk] == 0:
                            spill_futures.pop(kk, None)
                else:
                    extra.add(owned)
                if dependents.get(k) == 0:
                    spill_futures.pop(k, None)
            if stop is not None and stop.stop_requested:
                # the tasks already running return first (a task past its last look at
                # the stop still writes its chunk): the line counts what OUT.partial
                # holds then (until session 51 it was told before: "nothing kept" while
                # a rerun resumed the chunks written after it)
                end_tasks()
                yield Stopped(stopped_line(geom, writer, tiles_kept()))
                return None
            for fut in _poll(client, list(inflight) + list(extra)):
                if fut in extra:
                    extra.discard(fut)
                    if fut.status == "error":
                        _result(fut, rerun)
                    continue
                k, msgs = inflight.pop(fut)
                value = _result(fut, rerun)  # raises the task's error here
                for msg in (_result(msgs, rerun) if msgs is not None else None) or []:
                    if (k, msg) not in n_msgs_seen:
                        n_msgs_seen.add((k, msg))
                        yield Log(msg, level="warning")
                if writer is None:
                    ys, xs = eng.chunk_hr(*k)
                    result[ys, xs] = value
                done += n_owned(k)
                if not eta_said and done_before < done < total:
                    eta_said = True
                    per_tile = (time.perf_counter() - t_start) / (done - done_before)
                    yield Log(f"about {format_duration(per_tile * (total - done))} left for "
                              f"{total - done} of {total} tiles ({per_tile:.2f} s per tile "
                              "on the cluster)")
                yield Progress(done, total, stage="tiles", resumed=resumed)
        return True if writer is not None else result
    except KeyboardInterrupt as interrupt:
        ctrl_c = interrupt
        raise
    finally:
        try:
            end_tasks()
        finally:
            if ctrl_c is not None:  # the chunks on disk now, the returned tasks' too
                _note_kept(ctrl_c, geom, writer, tiles_kept())
            spill_futures.clear()
            inflight.clear()
            extra.clear()


#: Ctrl-C presses held while the stop event is set (:func:`_set_stop`): one more is
#: raised at once, the way out of a scheduler that stopped answering.
STOP_SIGNAL_HOLDS_PRESSES = 1


def _set_stop(event) -> None:
    """Set the cluster-wide stop ``event`` (the running tasks' signal to return without
    writing), with a Ctrl-C meanwhile held until it is set (:func:`_ctrl_c_held`) and
    raised after: a second press that landed inside ``event.set`` left it unset, and
    the tasks untold. Raised after, it ends the wait for the tasks as any second Ctrl-C.
    Only :data:`STOP_SIGNAL_HOLDS_PRESSES` press is held: ``event.set`` waits as long as
    a scheduler reached but hung does not answer, and every press waited with it (only
    a kill ended the run); a further press is raised at once, the tasks maybe untold.

    Parameters
    ----------
    event : distributed.Event
        The run's stop event.
    """
    with _ctrl_c_held(STOP_SIGNAL_HOLDS_PRESSES) as ctrl_c:
        event.set()
    ctrl_c.deliver()


def _tell_tasks_left_running(n: int, partial, why: str) -> None:
    """Tell that ``n`` tasks still ran on a cluster the run does not close (a scheduler
    at an address, a client passed in) when the run stopped waiting for them (``why``)
    and released the output's lock (:data:`TASKS_LEFT_RUNNING`).

    ``client.cancel`` does not stop a running task: one that had not yet seen the stop
    event may still write its chunk into ``partial``. A rerun that resumes only gets a
    chunk it would write itself (written whole, then recorded done), but one that
    starts the store over deletes and remakes it, and a late chunk of the old run's
    settings could land in it as done. (A ``local:N`` cluster is closed, its workers
    ended, before the command returns.) Added as a note to the exception on its way out
    (the command's warning line after its ``interrupted`` line), else a warning.

    Parameters
    ----------
    n : int
        Tasks that had not returned.
    partial : path-like
        The partial store they write into.
    why : str
        What stopped the wait ("a second Ctrl-C", "after 300 s").
    """
    note = TASKS_LEFT_RUNNING.format(n=n, why=why, partial=partial)
    exc = sys.exc_info()[1]
    if isinstance(exc, (KeyboardInterrupt, Exception)):
        exc.add_note(note)
    else:  # stopped on request (no exception), or the job closed (GeneratorExit)
        warnings.warn(note, UserWarning, stacklevel=3)


# --------------------------------------------------------------------------- many files


def map_job(fn: Callable[..., Any], items: list, scheduler, *, stop: StopToken | None = None,
            stage: str = "files",
            on_result: Callable[[int, Any], None] | None = None,
            ) -> Generator[Event, None, list | None]:
    """Run ``fn(item)`` for every item as one task on a cluster (job generator).

    For work over many files (``srmat grain-size --scheduler``): each item (e.g. a path
    the workers can read at the same location) is one task; at most
    :data:`CHUNKS_IN_FLIGHT_PER_THREAD` tasks per worker thread are queued at a time.

    Parameters
    ----------
    fn : callable
        Picklable, module level (importable on the workers).
    items : list
        Picklable arguments, one task each.
    scheduler : str or distributed.Client
        As in :func:`dask_client`.
    stop : StopToken, optional
        Checked while waiting; the tasks not yet returned are cancelled (running ones
        are not waited for: they write nothing) and the job yields :class:`Stopped`.
    stage : str
        The progress stage's name.
    on_result : callable, optional
        Called on the client as ``on_result(index, fn(items[index]))`` when each task's
        result arrives (in the order they finish), so that a command can tell an item's
        outcome before all are done (``srmat grain-size``'s lines of each image).

    Yields
    ------
    Progress
        ``Progress(done, len(items), stage=stage)`` per finished item.

    Returns
    -------
    list or None
        ``fn(item)`` in the order of ``items``; None when stopped. The first task error
        is raised (the others are cancelled).
    """

    results: list = [None] * len(items)
    with dask_client(scheduler) as client:
        token = uuid.uuid4().hex[:12]
        queue = list(range(len(items)))
        inflight: dict = {}
        done = 0
        yield Progress(0, len(items), stage=stage)
        try:  # the job's once-per-run calls too under the Ctrl-C rule (_client_call)
            window = CHUNKS_IN_FLIGHT_PER_THREAD * _client_call(_n_threads, client)
            while queue or inflight:
                while queue and len(inflight) < window:
                    i = queue.pop(0)
                    inflight[client.submit(fn, items[i], key=f"srmat-item-{token}-{i}",
                                           pure=False)] = i
                if stop is not None and stop.stop_requested:
                    yield Stopped(f"stopped after {done} of {len(items)} {stage}")
                    return None
                for fut in _poll(client, list(inflight)):
                    i = inflight.pop(fut)
                    results[i] = _result(fut)
                    if on_result is not None:
                        on_result(i, results[i])
                    done += 1
                    yield Progress(done, len(items), stage=stage)
            return results
        finally:
            if inflight:  # a second Ctrl-C during the cancel comes by the rule too
                _client_call(client.cancel, list(inflight))


# --------------------------------------------------------------------------- models on workers

#: How many models (:class:`WorkerModel`, one per loader's settings, method and weights
#: digest) a process keeps: a long-lived cluster's worker that is handed another
#: checkpoint's content, device, TTA or threshold rule drops the least recently used
#: one beyond these (some 0.26 GB each for the efficientnet-b7 boundary model).
WORKER_MODELS_KEPT = 4
#: The kept models by :attr:`WorkerModel.key`, least recently used first.
_WORKER_MODELS: dict[str, Any] = {}
#: The models being built by this process, by key: the build of the thread that asked
#: first, whose end the threads asking meanwhile wait for (:meth:`WorkerModel.load`).
_WORKER_MODELS_BUILDING: dict[str, concurrent.futures.Future] = {}
#: Guards both tables for the moment they are looked at or changed, never for a build:
#: a dask worker runs several threads, and one building a model (a checkpoint read, some
#: seconds) under it held up the others' batches of models kept already.
_WORKER_MODELS_LOCK = threading.Lock()


def _own_error(exc: Exception) -> Exception:
    """A copy of ``exc``, another thread's build error, for a thread that waited for that
    build to raise as its own: raised by each waiter, the one error object gathered the
    frames of every waiting thread into the builder's traceback (a task's error then
    showed other tasks' frames). ``exc`` itself when it cannot be copied.

    Parameters
    ----------
    exc : Exception
        The build's error.

    Returns
    -------
    Exception
        A new error of the same type and arguments, or ``exc``.
    """
    try:
        own = copy.copy(exc)
    except Exception:
        return exc
    return own if type(own) is type(exc) and own is not exc else exc


class WorkerModel:
    """Picklable ``fn`` that builds its model on each worker instead of shipping it.

    ``loader(**kwargs)`` (a module-level function, e.g. a registry's ``load_model``)
    runs once per worker process and settings (the :data:`WORKER_MODELS_KEPT` most
    recently used are kept); the model's
    ``weights_digest()`` must equal ``digest`` (the starting process's), so every tile
    of an output comes from the same weights; then ``getattr(model, method)`` is
    called on each batch (with ``tile_ids`` when the engine gives them and the method
    takes them).

    Parameters
    ----------
    loader : callable
        Builds the model from ``kwargs`` (paths in them must exist on the workers).
    kwargs : dict
        Picklable arguments of ``loader``.
    method : str
        Name of the batch method (``"predict"``, ``"predict_stacked"``).
    digest : str or None
        Expected ``weights_digest()`` (None: weight-free models, not checked).
    describe : str
        Short name for messages.
    call_kwargs : dict, optional
        Picklable keyword arguments of every method call (e.g. the whole image's
        statistics for a model that normalises its input).
    """

    def __init__(self, loader: Callable[..., Any], kwargs: dict, method: str,
                 digest: str | None, describe: str = "model",
                 call_kwargs: dict | None = None) -> None:
        self.loader, self.kwargs, self.method = loader, dict(kwargs), method
        self.call_kwargs = dict(call_kwargs or {})
        self.digest, self.describe = digest, describe
        # weights passed in kwargs (an in-memory network) are covered by the digest
        settings = {k: v for k, v in self.kwargs.items() if k != "state"}
        self.key = json.dumps([getattr(loader, "__module__", ""),
                               getattr(loader, "__qualname__", ""), settings, method, digest],
                              sort_keys=True, default=str)

    def load(self):
        """The model in this process: built on first use, then kept while it is among
        the :data:`WORKER_MODELS_KEPT` most recently used.

        Built outside the lock of the kept models: the worker's other threads get theirs
        meanwhile. Threads asking for a model being built wait for that build, and get
        its model or its error (a :class:`~napari_srmat.checkpoint.CheckpointError` of
        other weights); one interrupted (a ``KeyboardInterrupt``) is begun again by the
        next thread asking."""
        while True:
            with _WORKER_MODELS_LOCK:
                model = _WORKER_MODELS.pop(self.key, None)
                if model is not None:
                    _WORKER_MODELS[self.key] = model  # put back last: most recent
                    return model
                building = _WORKER_MODELS_BUILDING.get(self.key)
                if building is not None and building.done():
                    # a build whose end was interrupted before it was unregistered: its
                    # model was never kept, and would be handed out unkept for good
                    building = None
                if building is None:
                    building = _WORKER_MODELS_BUILDING[self.key] = concurrent.futures.Future()
                    break
            try:
                model = building.result()  # another thread's build: its model or its error
            except Exception as exc:
                own = _own_error(exc)
                if own is exc:
                    raise
                raise own from exc  # its cause: the build's error, with the build's frames
            if model is not None:
                return model
        return self._build(building)

    def _build(self, building: concurrent.futures.Future):
        """Build the model, check its weights, keep it (dropping the least recently used
        beyond :data:`WORKER_MODELS_KEPT`) and give it to the threads waiting for
        ``building``: its error, when refused; None, when interrupted (they try
        again)."""
        model = error = None
        try:
            model = self.loader(**self.kwargs)
            got = model.weights_digest() if self.digest is not None else None
            if got != self.digest:
                from ..checkpoint import CheckpointError

                raise CheckpointError(
                    f"the {self.describe} weights on this worker differ from the starting "
                    f"process's (sha256 {got} != {self.digest}): install the same "
                    "napari-srmat and checkpoints on every worker")
        except BaseException as exc:
            model, error = None, exc
            raise
        finally:
            # the waiters are answered whatever ends the build, its keeping included (a
            # waiter whose build was never answered waited for the worker's life)
            try:
                self._built(building, model)
            finally:
                if isinstance(error, Exception):
                    building.set_exception(error)
                else:  # built, or None: interrupted, the next asker builds again
                    building.set_result(model)
        return model

    def _built(self, building: concurrent.futures.Future, model: Any = None) -> None:
        """The build of ``building`` has ended: kept (``model``, None when it failed),
        no longer being built."""
        with _WORKER_MODELS_LOCK:
            if _WORKER_MODELS_BUILDING.get(self.key) is building:
                del _WORKER_MODELS_BUILDING[self.key]
            if model is not None:
                _WORKER_MODELS[self.key] = model
                while len(_WORKER_MODELS) > WORKER_MODELS_KEPT:
                    del _WORKER_MODELS[next(iter(_WORKER_MODELS))]  # least recently used

    def __call__(self, batch, *, tile_ids=None):
        fn = getattr(self.load(), self.method)
        if tile_ids is not None and _accepts_tile_ids(fn):
            return fn(batch, tile_ids=tile_ids, **self.call_kwargs)
        return fn(batch, **self.call_kwargs)

    def __repr__(self) -> str:
        return f"WorkerModel({self.describe})"
