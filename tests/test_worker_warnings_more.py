"""A widget job's Python warnings: the route's swap, superqt's relay, a starting worker,
the threads a job starts (widgets._worker, _warnings_state)."""

from __future__ import annotations

import threading
import warnings

import pytest

pytest.importorskip("napari")
import napari_srmat._warnings_state as state  # noqa: E402
import napari_srmat.widgets._worker as worker_mod  # noqa: E402
from napari_srmat.jobs import Log, Progress  # noqa: E402

pytestmark = pytest.mark.gui

#: How long a test waits for a worker's step (ms); never reached when all goes well.
WAIT_MS = 20_000


@pytest.fixture
def two_free_threads():
    """Two more threads in Qt's pool than run now: the two jobs of a test run at once."""
    from qtpy.QtCore import QThreadPool

    pool = QThreadPool.globalInstance()
    size = pool.maxThreadCount()
    pool.setMaxThreadCount(max(size, pool.activeThreadCount() + 2))
    yield
    pool.setMaxThreadCount(size)


@pytest.fixture
def notified(monkeypatch) -> list[str]:
    """The warning notifications the jobs of the test show (show_log's)."""
    told: list[str] = []
    monkeypatch.setattr(worker_mod, "show_warning", told.append)
    return told


@pytest.fixture
def outside():
    """The warnings shown where they go without a job (napari's relay in napari)."""
    shown: list[str] = []
    with warnings.catch_warnings():
        warnings.showwarning = lambda m, *a, **k: shown.append(str(m))
        yield shown


def _start(make, events: list, ended: threading.Event):
    return worker_mod.start_job(
        make, on_event=lambda e: events.append(e.message) if isinstance(e, Log) else None,
        on_finished=ended.set)


def test_flush_tells_each_text_once_per_job():
    """The warnings a job gave while it was made and failed were flushed by running an
    empty job through ``_telling``; one flush (:func:`_flush`) tells them, each once per
    job, for every path."""
    told, seen = ["a", "b", "a"], set()
    assert [w.log.message for w in worker_mod._flush(told, seen)] == ["a", "b"]
    told.extend(["b", "c"])
    assert [w.log.message for w in worker_mod._flush(told, seen)] == ["c"]
    assert told == []


def _held_elsewhere(lock) -> bool:
    """Whether another thread than one asking now could not take ``lock`` (a plain or a
    re-entrant lock, which has no ``locked()`` in Python 3.11)."""
    took: list[bool] = []

    def take() -> None:
        took.append(lock.acquire(blocking=False))
        if took[0]:
            lock.release()

    thread = threading.Thread(target=take)
    thread.start()
    thread.join()
    return not took[0]


def test_the_routes_swap_is_made_under_the_states_lock(monkeypatch):
    """``_install_route`` read and swapped ``warnings.showwarning`` outside
    ``_warnings_state``'s lock: a command's collector installed meanwhile (``srmat`` from
    napari's console) was overwritten. The swap is made holding the lock now."""
    import types

    swaps: list[bool] = []

    class Module(types.ModuleType):
        def __setattr__(self, name, value):
            if name == "showwarning":
                swaps.append(_held_elsewhere(state._LOCK))
            setattr(warnings, name, value)

        def __getattr__(self, name):
            return getattr(warnings, name)

    proxy = Module("warnings")
    with warnings.catch_warnings():
        warnings.showwarning = lambda *a, **k: None
        monkeypatch.setattr(worker_mod, "warnings", proxy)
        monkeypatch.setattr(state, "warnings", proxy)
        state.hold()
        try:
            worker_mod._install_route()
            assert warnings.showwarning is worker_mod._route_warning
        finally:
            state.release()
    assert swaps == [True, True], swaps  # the route's, the release's put back


def test_superqts_relay_under_another_module_is_still_replaced(
        qtbot, monkeypatch, outside):
    """superqt's relay was recognised by its module's name only: a superqt release moving
    ``_qthreading`` left its relay installed, whose ``warned`` nobody hears, and the job's
    own warnings were lost. The relay of a worker the widgets started is recognised by
    the worker it sends to."""
    import superqt.utils._qthreading as qthreading

    monkeypatch.setattr(qthreading, "__name__", "superqt.utils._threading_v2")
    events: list[str] = []
    ended = threading.Event()

    def make(token):
        def job():
            warnings.warn("the scale is a guess", UserWarning, stacklevel=1)
            yield Progress(1, 1, "step")
        return job()

    _start(make, events, ended)
    qtbot.waitUntil(ended.is_set, timeout=WAIT_MS)
    assert events == ["the scale is a guess"], events
    assert outside == []


def test_an_unrecognised_relay_still_routes(qtbot, monkeypatch, outside):
    """Should superqt's relay not be recognised at all (a release changing it), the
    worker's ``warned`` still reaches the router: the job's warnings are the job's (its
    own package's deprecation too), the GUI thread's are shown as without a job."""
    from napari_srmat.metrics.standards import _warn_renamed

    monkeypatch.setattr(worker_mod, "_relay_worker", lambda shown: None)
    started, go = threading.Event(), threading.Event()
    events: list[str] = []
    ended = threading.Event()

    def make(token):
        def job():
            started.set()
            assert go.wait(WAIT_MS / 1000)
            warnings.warn("the job's own", UserWarning, stacklevel=1)
            _warn_renamed("old", "new", stacklevel=1)
            yield Progress(1, 1, "step")
        return job()

    _start(make, events, ended)
    assert started.wait(WAIT_MS / 1000)
    warnings.warn("the GUI's", UserWarning, stacklevel=1)
    go.set()
    qtbot.waitUntil(ended.is_set, timeout=WAIT_MS)
    assert events[0] == "the job's own" and len(events) == 2, events
    assert "'old' is renamed 'new'" in events[1], events
    assert outside == ["the GUI's"], outside


def test_a_starting_worker_does_not_swallow_a_running_jobs_warning(
        qtbot, monkeypatch, outside, two_free_threads):
    """Job A runs; job B's worker starts, and superqt's relay of B's ``warned`` (which
    nobody heard) is the process's ``showwarning`` until B's code first runs: A's
    warning given then was lost. Forced here: B's worker is held between its relay's
    install and its job until A has warned. A's warning is A's now."""
    from napari.qt.threading import GeneratorWorker

    a_started, b_in_window, a_warned = (threading.Event() for _ in range(3))
    a_events: list[str] = []
    b_events: list[str] = []
    a_end, b_end = threading.Event(), threading.Event()

    def make_a(token):
        def job():
            a_started.set()
            assert b_in_window.wait(WAIT_MS / 1000)
            warnings.warn("from A", UserWarning, stacklevel=1)
            a_warned.set()
            yield Progress(1, 1, "step")
        return job()

    def make_b(token):
        def job():
            yield Progress(1, 1, "step")
        return job()

    _start(make_a, a_events, a_end)
    assert a_started.wait(WAIT_MS / 1000)
    work = GeneratorWorker.work

    def held_work(self):  # in B's thread: superqt's relay is installed already
        b_in_window.set()
        assert a_warned.wait(WAIT_MS / 1000)
        return work(self)

    monkeypatch.setattr(GeneratorWorker, "work", held_work)
    _start(make_b, b_events, b_end)
    qtbot.waitUntil(lambda: a_end.is_set() and b_end.is_set(), timeout=WAIT_MS)
    assert a_events == ["from A"] and b_events == [], (a_events, b_events)
    assert outside == []


def _warn_chunk(block):
    warnings.warn("a chunk's scale is a guess", UserWarning, stacklevel=1)
    return block


def test_a_dask_jobs_chunk_warnings_are_the_jobs_once(qtbot, notified, outside):
    """A job computing a dask array (threaded scheduler) whose every chunk warns: the
    chunks run in dask's pool threads, whose warnings went to napari's handler, once
    per chunk (superqt's 'always' filter), and not as the job's. One notification of
    the job now."""
    da = pytest.importorskip("dask.array")
    ended = threading.Event()

    def make(token):
        def job():
            x = da.ones((8, 8), chunks=(2, 2)).map_blocks(_warn_chunk, dtype=float)
            x.compute(scheduler="threads", num_workers=2)
            yield Progress(1, 1, "computed")
        return job()

    worker_mod.start_job(make, on_finished=ended.set)
    qtbot.waitUntil(ended.is_set, timeout=WAIT_MS)
    assert notified == ["napari-srmat: a chunk's scale is a guess"], notified
    assert outside == [], outside


def test_a_plain_pools_warnings_are_shown_once_while_a_job_runs(qtbot, notified, outside):
    """A thread pool that does not carry the job's context (``ThreadPoolExecutor``): its
    threads' warnings, repeated per task ('always' while a job runs), were shown once per
    task; each distinct one is shown once while jobs run now."""
    from concurrent.futures import ThreadPoolExecutor

    ended = threading.Event()

    def task(_):
        warnings.warn("invalid value encountered", RuntimeWarning, stacklevel=1)

    def make(token):
        def job():
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(task, range(4)))
            yield Progress(1, 1, "computed")
        return job()

    worker_mod.start_job(make, on_finished=ended.set)
    qtbot.waitUntil(ended.is_set, timeout=WAIT_MS)
    assert notified == []
    assert outside == ["invalid value encountered"], outside


def test_a_pool_threads_warning_as_the_jobs_step_ends_is_not_lost(
        qtbot, monkeypatch, notified, outside):
    """A thread carrying the job's context found the job's code running, and appended
    its warning after the job's last flush: told to no one. Forced here: the thread is
    held between finding the job and collecting the text until the job has ended. It is
    shown outside now."""
    import contextvars

    text = worker_mod._warning_text
    found, job_ended = threading.Event(), threading.Event()

    def held_text(message, category):
        if str(message) == "late":
            found.set()
            assert job_ended.wait(WAIT_MS / 1000)
        return text(message, category)

    monkeypatch.setattr(worker_mod, "_warning_text", held_text)
    threads: list[threading.Thread] = []

    def late() -> None:
        warnings.warn("late", UserWarning, stacklevel=1)

    def make(token):
        def job():
            thread = threading.Thread(target=contextvars.copy_context().run, args=(late,))
            threads.append(thread)
            thread.start()
            assert found.wait(WAIT_MS / 1000)
            yield Progress(1, 1, "step")
        return job()

    worker_mod.start_job(make, on_finished=job_ended.set)
    qtbot.waitUntil(job_ended.is_set, timeout=WAIT_MS)
    threads[0].join(WAIT_MS / 1000)
    assert notified == [] and outside == ["late"], (notified, outside)


class _WarnsWhenCollected:
    """Cyclic garbage whose finalizer warns, as an unclosed file's (ResourceWarning)."""

    def __init__(self) -> None:
        self.cycle = self

    def __del__(self) -> None:
        warnings.warn("an unclosed file", ResourceWarning, stacklevel=1)


def _fresh(lock):
    """A new lock of ``lock``'s kind (``threading.Lock`` or ``threading.RLock``)."""
    return threading.RLock() if isinstance(lock, type(threading.RLock())) else threading.Lock()


def test_a_warning_of_the_garbage_collector_under_the_lock_does_not_hang(outside):
    """The collector runs finalizers wherever a thread allocates, also while it holds the
    lock of the router and the state (a generator made under it); a finalizer's
    warning (an unclosed file's, shown while superqt's 'always' is on) then reached the
    router, which took the same lock again in the same thread: that thread hung, holding
    it, and the GUI's next job start or warning hung too. Forced here: the collector runs
    under the lock (automatic collection off meanwhile; a fresh lock of the module's
    kind, so that a hang holds only this test's)."""
    import gc

    gc.disable()
    warnings.simplefilter("always")
    state.hold()
    try:
        worker_mod._install_route()
        saved = state._LOCK
        lock = state._LOCK = _fresh(saved)

        def collect_under_the_lock() -> None:
            with lock:
                _WarnsWhenCollected()
                gc.collect()

        try:
            thread = threading.Thread(target=collect_under_the_lock, daemon=True)
            thread.start()
            thread.join(WAIT_MS / 1000 / 4)
        finally:
            state._LOCK = saved
    finally:
        state.release()
        gc.enable()
    assert not thread.is_alive(), "the thread hung on the lock it held"
    assert "an unclosed file" in outside, outside


def test_another_plugins_worker_starting_does_not_swallow_a_jobs_warnings(
        qtbot, outside, two_free_threads):
    """A superqt worker the widgets did not start (another plugin's ``thread_worker``,
    whose ``warned`` napari never hears) began while a job ran: its relay stayed the
    process's ``showwarning`` (only the widgets' own workers' relays gave way to the
    router), and the job's warnings of its next steps were lost until it ended. They are
    the job's now; the other worker's own go where they went without a job."""
    from napari.qt.threading import create_worker

    a_started, other_running, other_go = (threading.Event() for _ in range(3))
    events: list[str] = []
    ended = threading.Event()

    def make(token):
        def job():
            a_started.set()
            assert other_running.wait(WAIT_MS / 1000)
            yield Progress(1, 2, "step")
            warnings.warn("the job's step 2", UserWarning, stacklevel=1)
            yield Progress(2, 2, "step")
        return job()

    def other() -> None:
        other_running.set()
        assert other_go.wait(WAIT_MS / 1000)
        warnings.warn("the other plugin's", UserWarning, stacklevel=1)

    _start(make, events, ended)
    assert a_started.wait(WAIT_MS / 1000)
    other_worker = create_worker(other, _start_thread=False)
    other_ended = threading.Event()
    other_worker.finished.connect(other_ended.set)
    other_worker.start()
    qtbot.waitUntil(ended.is_set, timeout=WAIT_MS)
    other_go.set()
    qtbot.waitUntil(other_ended.is_set, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: state._state.holders == 0, timeout=WAIT_MS)  # counted in
    assert events == ["the job's step 2"], events
    assert outside == ["the other plugin's"], outside


def waiting_job(running: threading.Event, go: threading.Event):
    """A job's ``make_generator`` whose code sets ``running``, waits for ``go``, then
    takes its one step."""

    def make(token):
        def job():
            running.set()
            assert go.wait(WAIT_MS / 1000)
            yield Progress(1, 1, "step")

        return job()

    return make


def _left_after_all(qtbot):
    """The ``showwarning`` and the filters once nobody holds the warnings state."""
    qtbot.waitUntil(lambda: state._state.holders == 0, timeout=WAIT_MS)
    return warnings.showwarning, list(warnings.filters)


def test_a_worker_running_before_a_job_and_ending_first_leaves_no_relay(
        qtbot, two_free_threads):
    """Another plugin's superqt worker (napari's histogram, a ``thread_worker``) ran when
    a job started: the jobs' first hold saved its relay as the state before them, and put
    it back when the job ended after that worker: for the rest of the session every
    Python warning went to the ended worker's ``warned``, heard by nobody, under its
    'always' filter. The state that worker put back at its end is the one put back now.

    The job's code runs before the other worker ends (``job_running``); a job's thread
    starting only after the other's end had put its state back (a thread slow to start,
    on a loaded machine) is test_worker_warnings_race.py's (the state its start saw is
    taken); a job's end restoring the router in between is test_worker_warnings_race.py's
    too (the state before the jobs last seen is taken)."""
    from napari.qt.threading import create_worker

    shown: list[str] = []
    other_running, other_go, job_go, job_running = (threading.Event() for _ in range(4))
    other_ended, job_ended = threading.Event(), threading.Event()

    def other() -> None:
        other_running.set()
        assert other_go.wait(WAIT_MS / 1000)

    make = waiting_job(job_running, job_go)

    with warnings.catch_warnings():
        warnings.showwarning = before = lambda m, *a, **k: shown.append(str(m))
        filters = list(warnings.filters)
        other_worker = create_worker(other, _start_thread=False)
        other_worker.finished.connect(other_ended.set)
        other_worker.start()
        assert other_running.wait(WAIT_MS / 1000)
        worker_mod.start_job(make, on_finished=job_ended.set)
        assert job_running.wait(WAIT_MS / 1000)
        other_go.set()
        qtbot.waitUntil(other_ended.is_set, timeout=WAIT_MS)
        # its end's state taken before the job ends (a job's end restoring the router
        # in between: the state last seen, test_worker_warnings_race.py)
        qtbot.waitUntil(lambda: state.outer_showwarning() is before, timeout=WAIT_MS)
        job_go.set()
        qtbot.waitUntil(job_ended.is_set, timeout=WAIT_MS)
        after, after_filters = _left_after_all(qtbot)
    assert after is before, after
    assert after_filters == filters


def test_a_worker_ended_before_its_end_is_awaited_leaves_no_relay(qtbot):
    """The same, the other worker ending between the first hold and the wait for its
    end (its ``finished`` already gone): the state it put back is taken at once."""
    from napari.qt.threading import create_worker

    other_worker = create_worker(lambda: None, _start_thread=False)
    ended = threading.Event()
    other_worker.finished.connect(ended.set)
    other_worker.start()
    qtbot.waitUntil(ended.is_set, timeout=WAIT_MS)
    with warnings.catch_warnings():
        warnings.showwarning = relay = lambda *w: other_worker.warned.emit(w)
        state.hold(filters=True)
        warnings.showwarning = before = lambda *a, **k: None  # what its end put back
        try:
            worker_mod._watch_outer_relay()
        finally:
            state.release()
        after = warnings.showwarning
    assert after is before and after is not relay, after


@pytest.mark.parametrize("begins", ["during the last step", "after the job's code"])
def test_a_worker_begun_during_a_job_and_ending_after_it_leaves_no_router(
        qtbot, two_free_threads, begins):
    """Another plugin's superqt worker begun while a job ran saved the jobs' state (the
    router, superqt's 'always' filter) and put it back at its end, after the job's: for
    the rest of the session the router, with no job, sent every warning to the standard
    error, not napari, and 'always' repeated each. It counts among the holders until its
    end now: the state before the jobs is what is left."""
    from napari.qt.threading import create_worker
    from qtpy.QtCore import QThreadPool

    job_started, job_go, other_running, other_go = (threading.Event() for _ in range(4))
    job_ended, other_ended = threading.Event(), threading.Event()

    def make(token):
        def job():
            yield Progress(0, 1, "step")
            job_started.set()  # its last step: no step of it follows
            assert job_go.wait(WAIT_MS / 1000)
        return job()

    def other() -> None:
        other_running.set()
        assert other_go.wait(WAIT_MS / 1000)

    def start_other() -> None:  # in the pool now (superqt's start() waits for the loop)
        other_worker = create_worker(other, _start_thread=False)
        other_worker.finished.connect(other_ended.set)
        QThreadPool.globalInstance().start(other_worker)
        assert other_running.wait(WAIT_MS / 1000)

    def finished() -> None:  # before the job's end reaches _released, its next slot
        if begins == "after the job's code":
            start_other()
        job_ended.set()

    with warnings.catch_warnings():
        warnings.showwarning = before = lambda *a, **k: None
        filters = list(warnings.filters)
        worker_mod.start_job(make, on_finished=finished)
        assert job_started.wait(WAIT_MS / 1000)
        if begins == "during the last step":
            start_other()
        job_go.set()
        qtbot.waitUntil(job_ended.is_set, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: worker_mod._RUNNING[0] == 0, timeout=WAIT_MS)
        other_go.set()
        qtbot.waitUntil(other_ended.is_set, timeout=WAIT_MS)
        after, after_filters = _left_after_all(qtbot)
    assert after is before, after
    assert after_filters == filters


class _SaysWhenWaitedFor:
    """A re-entrant lock that sets :attr:`waited` when a thread has to wait for it."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.waited = threading.Event()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._lock.acquire(blocking=False):
            return True
        if not blocking:
            return False
        self.waited.set()
        return self._lock.acquire(True, timeout)

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()


def test_the_router_and_the_state_share_one_lock_read_at_each_use(outside):
    """The router's lock and the state's were two: a finalizer's warning (the collector
    runs wherever a thread allocates) given in a thread holding the router's lock routed
    to the state's (``outer_showwarning``), and one given in a thread holding the state's
    routed to the router's (``_collector``): the two threads, each waiting for the
    other's lock, hung, and with them the GUI's next warning. One lock guards both now,
    :data:`napari_srmat._warnings_state._LOCK`, read at each use. Forced: while a thread
    holds the state's lock (a lock that says when it is waited for, swapped in), a job's
    thread entering its code (the router's table of sinks) must wait for it; then the
    holder routes a warning (the lock re-entered), the job's thread one of its own.
    (This test's former version had both threads hold the same lock, which could not
    fail, and waited 1 s for an event that could not come.)"""
    saved = state._LOCK
    lock = _SaysWhenWaitedFor()
    holds, done = threading.Event(), []
    told: list[str] = []
    state.hold()
    try:
        worker_mod._install_route()
        state._LOCK = lock

        def holder() -> None:
            with lock:
                holds.set()
                if lock.waited.wait(WAIT_MS / 1000 / 4):
                    done.append("waited for")
                worker_mod._route_warning(UserWarning("a finalizer's"), UserWarning,
                                          __file__, 1)

        def job() -> None:
            assert holds.wait(WAIT_MS / 1000 / 4)
            with worker_mod._sink(told):
                worker_mod._route_warning(UserWarning("the job's"), UserWarning, __file__, 1)

        threads = [threading.Thread(target=target, daemon=True) for target in (holder, job)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT_MS / 1000 / 2)
    finally:
        state._LOCK = saved
        state.release()
    assert not any(thread.is_alive() for thread in threads), "the threads hung"
    assert done == ["waited for"], "the router's table of sinks took another lock"
    assert outside == ["a finalizer's"], outside  # no worker counted: shown
    assert told == ["the job's"], told


def test_a_warning_repeated_in_one_step_is_kept_once():
    """A job's warning given in a loop of one step (superqt's 'always' shows each time)
    was kept once per time until the step's flush, which took them one by one from the
    front: a step warning a million times held a million texts and spent minutes
    flushing them. Each text is kept once a step now."""
    told: list[str] = []
    with worker_mod._sink(told):
        for _ in range(3):
            assert worker_mod._collected(told, "a chunk's scale is a guess")
        assert worker_mod._collected(told, "another")
    assert told == ["a chunk's scale is a guess", "another"], told


def test_a_warning_the_filters_ignore_is_not_shown_while_a_job_runs(qtbot, notified):
    """superqt's worker turns 'always' on for the process while it runs: a warning that
    the filters ignore (Python's defaults: a library's DeprecationWarning, an unclosed
    file's ResourceWarning) given by the GUI, or by a library in the job's code, while a
    job ran was shown as a napari notification, never without a job. The filters before
    the jobs decide for those now; the job's own warnings are the job's as before."""
    started, go, ended = threading.Event(), threading.Event(), threading.Event()
    shown: list[str] = []

    def make(token):
        def job():
            started.set()
            assert go.wait(WAIT_MS / 1000)
            warnings.warn("a library's deprecation in the job", DeprecationWarning,
                          stacklevel=1)
            warnings.warn("the job's", UserWarning, stacklevel=1)
            yield Progress(1, 1, "step")
        return job()

    with warnings.catch_warnings():
        warnings.resetwarnings()
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.showwarning = lambda m, *a, **k: shown.append(str(m))
        worker_mod.start_job(make, on_finished=ended.set)
        assert started.wait(WAIT_MS / 1000)
        warnings.warn("a library's deprecation", DeprecationWarning, stacklevel=1)
        warnings.warn("the GUI's", UserWarning, stacklevel=1)
        go.set()
        qtbot.waitUntil(ended.is_set, timeout=WAIT_MS)
    assert shown == ["the GUI's"], shown
    assert notified == ["napari-srmat: the job's"], notified


def test_the_warnings_shown_once_outside_the_jobs_are_bounded(monkeypatch, outside):
    """The (category, text) of each warning shown outside the jobs was kept while the
    widgets' workers ran, emptied only when none ran: a thread pool's warning naming a
    chunk ("chunk 1234 ...") added one for each, without bound, in a session whose jobs
    overlap. At most :data:`SHOWN_OUTSIDE_LIMIT` are kept now, the latest; a repeated
    one of those is still shown once."""
    limit = getattr(worker_mod, "SHOWN_OUTSIDE_LIMIT", 1024)
    monkeypatch.setattr(worker_mod, "_RUNNING", [1])
    monkeypatch.setattr(worker_mod, "_SHOWN_OUTSIDE", type(worker_mod._SHOWN_OUTSIDE)())
    for i in range(limit + 10):
        worker_mod._route_warning(UserWarning(f"chunk {i}"), UserWarning, __file__, 1)
    worker_mod._route_warning(UserWarning(f"chunk {limit + 9}"), UserWarning, __file__, 1)
    assert len(worker_mod._SHOWN_OUTSIDE) <= limit
    assert outside == [f"chunk {i}" for i in range(limit + 10)]


def test_a_warning_repeated_among_many_others_is_shown_once(monkeypatch, outside):
    """The bounded set of the warnings shown once outside the jobs dropped its oldest
    entry even when it was the one repeated all along: a pool task's warning repeated
    once per task, each task also warning of its own chunk ("chunk 1234 ..."), was
    shown again every :data:`SHOWN_OUTSIDE_LIMIT` tasks. The least recently shown is
    dropped now: a warning repeated within the limit is shown once."""
    limit = worker_mod.SHOWN_OUTSIDE_LIMIT
    monkeypatch.setattr(worker_mod, "_RUNNING", [1])
    monkeypatch.setattr(worker_mod, "_SHOWN_OUTSIDE", type(worker_mod._SHOWN_OUTSIDE)())
    for i in range(3 * limit):
        worker_mod._route_warning(UserWarning("the pool's"), UserWarning, __file__, 1)
        worker_mod._route_warning(UserWarning(f"chunk {i}"), UserWarning, __file__, 1)
    assert outside.count("the pool's") == 1, outside.count("the pool's")
    assert len(worker_mod._SHOWN_OUTSIDE) <= limit
