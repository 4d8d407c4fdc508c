"""A job's Python warnings reach the user of the widget that ran it."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("napari")
from napari_srmat.widgets.sr_widget import SuperResolutionWidget  # noqa: E402

pytestmark = pytest.mark.gui


def test_default_sr_model_without_x2_weights_is_told(make_napari_viewer, qtbot, monkeypatch):
    """Super-resolution x2 with the default model: the library warns "no shipped weights
    for 'cnn' x2: the network is untrained (its output equals bicubic)" (srmat sr prints
    it), but in the widget the warning reached no one (napari's relay of a worker's
    warnings is never connected): the status said "done: m SR x2", no notification, and
    the metallurgist took bicubic for the learned model. It is a napari notification now,
    once."""
    import napari_srmat.widgets._worker as worker_mod

    told: list[str] = []
    monkeypatch.setattr(worker_mod, "show_warning", told.append)
    viewer = make_napari_viewer()
    rng = np.random.default_rng(0)
    layer = viewer.add_image(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8), rgb=True,
                             name="m")
    w = SuperResolutionWidget(viewer)
    qtbot.addWidget(w)
    w.layer_combo.value = layer
    w.scale.setCurrentText("2")
    w.device.setCurrentText("cpu")
    w.run_btn.click()
    qtbot.waitUntil(lambda: w.last_layer is not None, timeout=30_000)
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=10_000)
    untrained = [t for t in told if "no shipped weights for 'cnn' x2" in t]
    assert len(untrained) == 1, told
    assert untrained[0].startswith("napari-srmat: ") and "\n" not in untrained[0]
    # since b4d89fbd the done line keeps the note (a notification is transient)
    assert w.status.text().startswith("done: m SR x2; cnn x2 has no trained weights")


def _waiting_job(started, go, warn_first: str | None = None, warn_after: str | None = None):
    """A job that warns ``warn_first``, says it started, waits for ``go``, then warns
    ``warn_after`` and ends."""
    import warnings

    from napari_srmat.jobs import Progress

    def make(token):
        def job():
            if warn_first:
                warnings.warn(warn_first, UserWarning, stacklevel=1)
            started.set()
            assert go.wait(20)
            if warn_after:
                warnings.warn(warn_after, UserWarning, stacklevel=1)
            yield Progress(1, 1, "step")
            return "ok"
        return job()
    return make


def _start(make, events: list, ended: list):
    from napari_srmat.jobs import Log
    from napari_srmat.widgets._worker import start_job

    return start_job(make, on_event=lambda e: events.append(e.message)
                     if isinstance(e, Log) else None,
                     on_finished=lambda: ended.append(True))


def test_gui_threads_warning_is_not_told_as_the_jobs(qtbot, monkeypatch):
    """While a job ran, a warning given on the GUI thread (napari's, a console command's)
    went through the worker's relay too, and was told as the job's: "napari-srmat: ..."
    and on the job's status line. It goes where it went before the job began now."""
    import threading
    import warnings

    import napari_srmat.widgets._worker as worker_mod

    told: list[str] = []
    monkeypatch.setattr(worker_mod, "show_warning", told.append)
    started, go = threading.Event(), threading.Event()
    events: list[str] = []
    ended: list[bool] = []
    outside: list[str] = []
    with warnings.catch_warnings():
        warnings.showwarning = lambda m, *a, **k: outside.append(str(m))
        _start(_waiting_job(started, go, warn_after="the job's own"), events, ended)
        assert started.wait(20)
        warnings.warn("the GUI's", UserWarning, stacklevel=1)
        go.set()
        qtbot.waitUntil(lambda: bool(ended), timeout=20_000)
    assert events == ["the job's own"], events
    assert "the GUI's" in outside and not told


def test_two_jobs_warnings_are_each_their_own(qtbot):
    """Two jobs at once: superqt's relay is one for the process, so job A's warning was
    told as job B's (the later started), and B's warning after A had ended reached no
    one (A's end put back the state before A). Each is its own job's now."""
    import threading

    a_started, a_go = threading.Event(), threading.Event()
    b_started, b_go = threading.Event(), threading.Event()
    a_events: list[str] = []
    b_events: list[str] = []
    a_end: list[bool] = []
    b_end: list[bool] = []
    _start(_waiting_job(a_started, a_go, warn_after="from A"), a_events, a_end)
    assert a_started.wait(20)
    _start(_waiting_job(b_started, b_go, warn_after="from B"), b_events, b_end)
    assert b_started.wait(20)
    a_go.set()
    qtbot.waitUntil(lambda: bool(a_end), timeout=20_000)
    b_go.set()
    qtbot.waitUntil(lambda: bool(b_end), timeout=20_000)
    assert a_events == ["from A"] and b_events == ["from B"], (a_events, b_events)


def test_a_repeated_warning_is_told_once_per_job(qtbot, monkeypatch):
    """A job warning the same for each tile is one notification, also without a
    ProgressForwarder (``on_event`` None: each went to show_log)."""
    import threading
    import warnings

    import napari_srmat.widgets._worker as worker_mod
    from napari_srmat.jobs import Progress
    from napari_srmat.widgets._worker import start_job

    told: list[str] = []
    monkeypatch.setattr(worker_mod, "show_warning", told.append)
    ended = threading.Event()

    def make(token):
        def job():
            for i in range(3):
                warnings.warn("the scale is a guess", UserWarning, stacklevel=1)
                yield Progress(i + 1, 3, "tiles")
        return job()

    start_job(make, on_finished=ended.set)
    qtbot.waitUntil(ended.is_set, timeout=20_000)
    assert told == ["napari-srmat: the scale is a guess"], told


def test_a_function_workers_warning_is_not_lost(qtbot):
    """start_function's worker (a threshold slider's, an overlay's): its warnings went to
    superqt's relay of the worker's ``warned``, which nobody hears. They go where the
    process's warnings went before any worker now."""
    import threading
    import warnings

    from napari_srmat.widgets._worker import start_function

    done = threading.Event()
    outside: list[str] = []

    def warn() -> None:
        warnings.warn("from the function", UserWarning, stacklevel=1)

    with warnings.catch_warnings():
        warnings.showwarning = lambda m, *a, **k: outside.append(str(m))
        worker = start_function(warn, on_returned=lambda _: done.set())
        qtbot.waitUntil(done.is_set, timeout=20_000)
        qtbot.waitUntil(lambda: not worker.is_running, timeout=20_000)
    assert outside == ["from the function"], outside


def test_a_quit_jobs_thread_reused_keeps_no_sink(qtbot):
    """A quit job's generator is left suspended and its pool thread runs the next worker
    before the GUI thread processes the job's end: the job's sink, kept by thread id for
    the job's life, collected that worker's warning for a job that told nothing more."""
    import threading
    import warnings

    from qtpy.QtCore import QThreadPool

    from napari_srmat.jobs import Progress
    from napari_srmat.widgets._worker import start_function, start_job

    pool = QThreadPool.globalInstance()
    max_threads = pool.maxThreadCount()
    started, go, warned = threading.Event(), threading.Event(), threading.Event()
    ended: list[bool] = []
    outside: list[str] = []

    def make(token):
        def job():
            started.set()
            assert go.wait(20)
            while True:
                yield Progress(1, 1, "step")
        return job()

    def warn() -> None:
        warnings.warn("the next worker's", UserWarning, stacklevel=1)
        warned.set()

    pool.setMaxThreadCount(1)  # the next worker runs in the quit job's thread
    try:
        with warnings.catch_warnings():
            warnings.showwarning = lambda m, *a, **k: outside.append(str(m))
            worker, _ = start_job(make, on_finished=lambda: ended.append(True))
            assert started.wait(20)
            worker.quit()
            start_function(warn)
            go.set()
            assert warned.wait(20)  # no Qt event processed: the job's end is not yet told
            qtbot.waitUntil(lambda: bool(ended), timeout=20_000)
    finally:
        pool.setMaxThreadCount(max_threads)
    assert outside == ["the next worker's"], outside


def test_the_router_never_raises():
    """A warning whose text cannot be made (its ``__str__`` raises) failed the job's code
    that gave it, a traceback for a warning; the job tells its kind now."""
    import threading
    import warnings

    import napari_srmat.widgets._worker as worker_mod

    class Unprintable(UserWarning):
        def __str__(self) -> str:
            raise ValueError("no text")

    told: list[str] = []
    with worker_mod._sink(told), warnings.catch_warnings():
        warnings.showwarning = lambda *a, **k: None
        worker_mod._route_warning(Unprintable(), Unprintable, __file__, 1, file=None)
    assert told == ["Unprintable (its message has no text)"], told
    assert threading.get_ident() not in worker_mod._SINKS


def test_a_librarys_deprecation_is_not_told_as_the_jobs(qtbot, monkeypatch):
    """superqt's worker shows every warning ("always" filter): a library's
    DeprecationWarning / FutureWarning given in the job's thread (torch, dask, numpy) was
    a napari-srmat notification of the job, each time. The job tells what its user reads
    about the result (a UserWarning, napari-srmat's own warnings: its renamed summary key);
    a library's deprecation goes where it went before the job began."""
    import threading
    import warnings

    import napari_srmat.widgets._worker as worker_mod
    from napari_srmat.jobs import Progress
    from napari_srmat.metrics.standards import _warn_renamed

    told: list[str] = []
    monkeypatch.setattr(worker_mod, "show_warning", told.append)
    ended = threading.Event()
    outside: list[str] = []

    def make(token):
        def job():
            warnings.warn("a library's old API", DeprecationWarning, stacklevel=1)
            warnings.warn("a library's change", FutureWarning, stacklevel=1)
            warnings.warn("the scale is a guess", UserWarning, stacklevel=1)
            _warn_renamed("old", "new", stacklevel=1)
            yield Progress(1, 1, "step")
        return job()

    with warnings.catch_warnings():
        warnings.showwarning = lambda m, *a, **k: outside.append(str(m))
        worker_mod.start_job(make, on_finished=ended.set)
        qtbot.waitUntil(ended.is_set, timeout=20_000)
    assert told[0] == "napari-srmat: the scale is a guess", told
    assert len(told) == 2 and "'old' is renamed 'new'" in told[1], told
    # the DeprecationWarning is one pyproject's filters ignore, as they did before the job
    assert outside == ["a library's change"], outside


def test_the_same_job_run_twice_tells_its_warnings_both_times(qtbot):
    """Guard: a job run a second time in the session (the same code, the same lines)
    tells its warnings again: a UserWarning and napari-srmat's own DeprecationWarning
    (a renamed summary key), each run's under superqt's 'always' while it runs. Python's
    'default' action shows a warning once per place, and the place remembered by the
    first run (its module's ``__warningregistry__``) would hide the second run's; the
    DeprecationWarning is one the filters before the job ignore. After each run, once
    nobody holds the warnings state, the test's own ``showwarning`` is the process's
    again, no worker's relay. (A relay left over between the runs would not hide the
    second run's warnings, whose job installs its router in its place: that is
    test_worker_warnings_race.py's.)"""
    import warnings

    import napari_srmat._warnings_state as state
    import napari_srmat.widgets._worker as worker_mod
    from napari_srmat.jobs import Progress
    from napari_srmat.metrics.standards import _warn_renamed

    def make(token):
        def job():
            warnings.warn("the scale is a guess", UserWarning, stacklevel=1)
            _warn_renamed("old", "new", stacklevel=1)
            yield Progress(1, 1, "step")

        return job()

    runs: list[list[str]] = []
    with warnings.catch_warnings():
        warnings.showwarning = mine = lambda *a, **k: None
        for _ in range(2):
            events: list[str] = []
            ended: list[bool] = []
            _start(make, events, ended)
            qtbot.waitUntil(lambda: bool(ended), timeout=20_000)  # noqa: B023 - waited here
            qtbot.waitUntil(lambda: state.holders() == 0, timeout=20_000)
            assert warnings.showwarning is mine, warnings.showwarning
            assert worker_mod._relay_worker(warnings.showwarning) is None
            runs.append(events)
    for events in runs:
        assert len(events) == 2 and events[0] == "the scale is a guess", runs
        assert "'old' is renamed 'new'" in events[1], runs
