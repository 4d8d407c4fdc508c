"""The process's warnings state is held by one counted, locked rule
(:mod:`napari_srmat._warnings_state`) by ``srmat``'s commands
(:func:`napari_srmat.cli.told_warnings`) and the widgets' jobs: overlapping holders,
in any order and any thread, leave it as it was before the first began, and a
command lists the warnings of its own thread only."""

from __future__ import annotations

import threading
import warnings

import pytest

from napari_srmat import _warnings_state
from napari_srmat.cli import told_warnings

#: How long a thread of these tests waits for its turn (s).
WAIT_S = 10.0


@pytest.fixture
def quiet_warnings(monkeypatch):
    """Warnings shown nowhere (not left to pytest), every one shown ('always')."""
    monkeypatch.setattr(warnings, "showwarning", lambda *args, **kwargs: None)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        yield warnings.showwarning


def _in_turns(steps: dict[str, list], order: list[tuple[str, int]]) -> dict[str, list]:
    """Run each name's steps (callables) in its own thread, step ``i`` of ``name`` only
    after the one before it in ``order``; returns what each step returned, by name."""
    turns = [threading.Event() for _ in order]
    done: dict[str, list] = {name: [] for name in steps}
    failed: list[BaseException] = []

    def run(name: str) -> None:
        try:
            for i, step in enumerate(steps[name]):
                k = order.index((name, i))
                if k and not turns[k - 1].wait(WAIT_S):
                    raise TimeoutError(f"{name} step {i}: its turn did not come")
                done[name].append(step())
                turns[k].set()
        except BaseException as exc:  # told by the test
            failed.append(exc)
            for turn in turns:
                turn.set()

    threads = [threading.Thread(target=run, args=(name,)) for name in steps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S * len(order))
    assert not failed, failed
    return done


def _command(name: str) -> list:
    """The steps of a command in a thread: enter :func:`told_warnings`, warn, leave."""
    block = told_warnings()
    return [block.__enter__,
            lambda: warnings.warn(f"{name} warns", UserWarning, stacklevel=1),
            lambda: block.__exit__(None, None, None)]


def test_two_commands_in_two_threads_leave_no_collector_installed(quiet_warnings):
    """``main()`` in two threads (a notebook's, the napari console's while another
    runs): the first ended first and put back the state it had seen, then the second
    put back the first's collector, which stayed installed for the session (and the
    first listed the second's warning as its own). The state is as before both now,
    and each lists its own warning only."""
    done = _in_turns({"a": _command("a"), "b": _command("b")},
                     [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2)])
    assert warnings.showwarning is quiet_warnings
    assert done["a"][0] == ["a warns"] and done["b"][0] == ["b warns"]


def _worker(relay: list[str]) -> list:
    """The steps of a widget's worker: counted in (the widgets' rule), superqt's swap
    for its run (a relay of every warning), its restore, counted out."""
    swap = warnings.catch_warnings()

    def start() -> None:
        _warnings_state.hold(filters=True)
        swap.__enter__()
        warnings.showwarning = lambda message, *args, **kwargs: relay.append(str(message))

    def end() -> None:
        swap.__exit__(None, None, None)
        _warnings_state.release()

    return [start, end]


@pytest.mark.parametrize("order", [
    [("worker", 0), ("cli", 0), ("cli", 1), ("worker", 1), ("cli", 2)],
    [("cli", 0), ("worker", 0), ("cli", 1), ("cli", 2), ("worker", 1)],
    [("worker", 0), ("cli", 0), ("cli", 1), ("cli", 2), ("worker", 1)],
    [("cli", 0), ("worker", 0), ("cli", 1), ("worker", 1), ("cli", 2)],
], ids=["worker ends first", "command ends first", "command inside", "worker inside"])
def test_a_command_beside_a_widgets_job_leaves_the_state_as_it_was(quiet_warnings, order):
    """A command run from napari's console while a widget's job runs, in every order:
    nothing of either is left installed once both have ended."""
    relay: list[str] = []
    _in_turns({"cli": _command("cli"), "worker": _worker(relay)}, order)
    assert warnings.showwarning is quiet_warnings
    assert _warnings_state._state.holders == 0


def test_many_overlapping_commands_and_jobs_leave_the_state_as_it_was(quiet_warnings):
    """Eight commands and four jobs in threads, overlapping as they come: the state is
    as before them all, and every command listed exactly its own warnings."""
    import random

    rng = random.Random(0)
    listed: dict[str, list[str]] = {}

    def command(name: str) -> None:
        with told_warnings() as told:
            for i in range(20):
                warnings.warn(f"{name} {i}", UserWarning, stacklevel=1)
                if rng.random() < 0.3:
                    threading.Event().wait(0.001)
        listed[name] = list(told)

    def job() -> None:
        start, end = _worker([])
        start()
        threading.Event().wait(0.005)
        end()

    threads = [threading.Thread(target=command, args=(f"c{i}",)) for i in range(8)]
    threads += [threading.Thread(target=job) for _ in range(4)]
    rng.shuffle(threads)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S)
    assert warnings.showwarning is quiet_warnings
    assert _warnings_state._state.holders == 0
    for name, told in listed.items():  # a job's relay may take some: none of another's
        assert all(text.startswith(f"{name} ") for text in told), (name, told)


def test_a_command_keeps_the_filters_a_first_import_set(quiet_warnings):
    """A command that imports a library for the first time keeps the filters its
    import set (once per process): only a holder that changes them (a widget's worker)
    has them put back."""
    rule = ("ignore", None, UserWarning, None, 0)
    with told_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)  # as an import does
    assert rule in warnings.filters


def test_a_command_leaves_no_other_threads_recording_installed():
    """A ``catch_warnings(record=True)`` block of another thread (a reader's, an audit's,
    :mod:`napari_srmat.edges.train`'s in a job) that began before a command and ended
    during it: the command's end put back the state of the first hold, that block's
    ``log.append`` as ``warnings._showwarnmsg_impl`` included, and every later warning
    of the session went into that finished block's list, shown nowhere. No holder swaps
    it: the one the block put back stays."""
    impl = warnings._showwarnmsg_impl
    entered, leave, left = threading.Event(), threading.Event(), threading.Event()

    def recording() -> None:
        with warnings.catch_warnings(record=True):
            entered.set()
            leave.wait(WAIT_S)
        left.set()

    thread = threading.Thread(target=recording)
    thread.start()
    assert entered.wait(WAIT_S)
    with told_warnings():
        leave.set()
        assert left.wait(WAIT_S)
    thread.join(WAIT_S)
    assert warnings._showwarnmsg_impl is impl
    assert _warnings_state._state.holders == 0


def _library_warns(registry: dict) -> None:
    """A library's warning at one place (``lib.py``, line 7), its module's
    ``__warningregistry__`` being ``registry``."""
    warnings.warn_explicit("the library warns", UserWarning, "lib.py", 7,
                           module="lib", registry=registry)


def test_a_warning_given_as_the_state_is_put_back_is_not_hidden_for_good(monkeypatch):
    """The filters a command's time changed (the user's ``simplefilter("always")`` from
    napari's console while a command ran) stay after it, and a library's warning is
    shown each time. The last release put the filters before the holders back first
    (``catch_warnings``' exit, which tells the ``warnings`` module of a change), then
    wrote the changed ones over them without a word: another thread's warning given in
    between, shown once at its place by the filters before ("default"), was remembered
    as shown under the new ones, and never shown again in the session, 'always'
    notwithstanding. Forced: the other thread warns when the ``warnings`` module is told
    of a change during the release."""
    registry: dict = {}  # the library module's __warningregistry__
    shown: list[str] = []

    told, warned = threading.Event(), threading.Event()

    def other_thread() -> None:
        told.wait(WAIT_S)
        _library_warns(registry)
        warned.set()

    real = warnings._filters_mutated

    def mutated() -> None:  # another thread's warning just after a change is told
        real()
        told.set()
        assert warned.wait(WAIT_S)

    with warnings.catch_warnings():
        warnings.simplefilter("default")  # before the command: once per place
        warnings.showwarning = lambda message, *args, **kwargs: shown.append(str(message))
        thread = threading.Thread(target=other_thread)
        thread.start()
        _warnings_state.hold()  # a command
        warnings.simplefilter("always", UserWarning)  # the user's, meanwhile
        monkeypatch.setattr(warnings, "_filters_mutated", mutated)
        _warnings_state.release()
        monkeypatch.undo()
        told.set()
        assert warned.wait(WAIT_S)
        thread.join(WAIT_S)
        _library_warns(registry)
        _library_warns(registry)
        assert warnings.filters[0][:3] == ("always", None, UserWarning)
    assert shown == ["the library warns"] * 3
    assert _warnings_state._state.holders == 0


@pytest.mark.parametrize("filters", [True, False], ids=["a job's", "a command's"])
def test_the_places_shown_are_forgotten_only_when_the_filters_change(filters):
    """Python shows a "default" warning once per place until the filters change. A job
    (superqt's 'always' filter, put back at its end) forgets the places, as any change
    of the filters does; a command's hold, which changes nothing, keeps them."""
    registry: dict = {}
    shown: list[str] = []

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = lambda message, *args, **kwargs: shown.append(str(message))
        _library_warns(registry)
        _warnings_state.hold(filters=filters)
        if filters:
            warnings.simplefilter("always")  # as superqt's worker does
        _warnings_state.release()
        _library_warns(registry)
        _library_warns(registry)
    assert shown == ["the library warns"] * (2 if filters else 1)


def _later_pythons_way(monkeypatch, way: str, tell) -> None:
    """The ``warnings`` module's way of being told of a change of the filters made
    ``tell`` (called as it): Python 3.11-3.14's ``_filters_mutated``, or a later one's
    ``_filters_mutated_lock_held`` under ``warnings._lock`` (where the first is gone)."""
    if way == "_filters_mutated":
        monkeypatch.setattr(warnings, "_filters_mutated", tell)
        return
    monkeypatch.setattr(warnings, "_filters_mutated", None)
    monkeypatch.setattr(warnings, "_filters_mutated_lock_held", tell, raising=False)
    monkeypatch.setattr(warnings, "_lock", threading.RLock(), raising=False)


@pytest.mark.parametrize("way", ["_filters_mutated", "_filters_mutated_lock_held"])
def test_the_warnings_module_is_told_without_the_states_lock(monkeypatch, way):
    """Python 3.14's ``warnings`` gives a warning holding its own lock, which telling it
    of a change takes (``_filters_mutated``, ``_lock``), and the warnings of a job's
    thread go to the router, which takes the state's lock
    (:func:`_warnings_state.outer_showwarning`). The last release told it holding the
    state's lock: a worker's warning at that moment and the job's end waited for each
    other for good (napari hung). Forced: a stand-in of the ``warnings`` lock, held by a
    thread showing a warning through the router as the release tells of the change."""
    warnings_lock = threading.RLock()  # the warnings module's (3.14), as a stand-in
    in_tell, holding = threading.Event(), threading.Event()
    got: list[bool] = []

    def tell() -> None:  # the warnings module told: it takes its lock
        in_tell.set()
        got.append(warnings_lock.acquire(timeout=2.0))
        if got[-1]:
            warnings_lock.release()

    def a_warning_shown() -> None:  # warn_explicit holding its lock -> the router
        with warnings_lock:
            holding.set()
            in_tell.wait(WAIT_S)
            _warnings_state.outer_showwarning()

    with warnings.catch_warnings():
        _warnings_state.hold(filters=True)  # a job
        warnings.simplefilter("always")  # superqt's
        thread = threading.Thread(target=a_warning_shown)
        thread.start()
        assert holding.wait(WAIT_S)
        _later_pythons_way(monkeypatch, way, tell)
        try:
            _warnings_state.release()
        finally:
            monkeypatch.undo()
        thread.join(WAIT_S)
    assert got == [True]
    assert _warnings_state._state.holders == 0


@pytest.mark.parametrize("way", ["_filters_mutated", "_filters_mutated_lock_held"])
def test_a_failed_telling_of_the_change_still_puts_the_state_back(monkeypatch, way):
    """A later Python whose way of telling the ``warnings`` module of a change raises
    (3.14's ``_filters_mutated_lock_held`` raises RuntimeError when its lock is not
    held): the last release raised it (the job's end, in Qt's slot: a traceback) and
    left the state before the holders saved (:func:`_warnings_state.outer_showwarning`
    gave it while nobody held). The state is put back, the filters in place, and the
    release does not raise."""
    def tell() -> None:
        raise RuntimeError("warnings lock is not held")

    with warnings.catch_warnings():
        shown = warnings.showwarning = lambda *args, **kwargs: None
        before = list(warnings.filters)
        _warnings_state.hold(filters=True)  # a job
        warnings.simplefilter("always")  # superqt's
        warnings.showwarning = print
        _later_pythons_way(monkeypatch, way, tell)
        try:
            _warnings_state.release()
        finally:
            monkeypatch.undo()
        assert warnings.filters == before and warnings.showwarning is shown
        assert _warnings_state.outer_showwarning() is shown
    assert _warnings_state._state.holders == 0
    assert _warnings_state._state.outer_filters is None


def test_the_last_release_runs_the_hook_whoever_holds(monkeypatch, quiet_warnings):
    """The hook set by :func:`_warnings_state.at_last_release` (the widgets' put-back of
    an ended worker's relay) runs at the last release only, holding the state's lock and
    before the state is put back, whoever's it is: a command's ``collecting`` block
    released last ran no hook (the relay saved by the first hold was put back, W1 s50).
    One it takes there (``outer_put_back``) is what is put back; an exception it
    raises is dropped."""
    monkeypatch.setattr(_warnings_state, "_AT_LAST_RELEASE", [])
    relay = warnings.showwarning
    taken = lambda *args, **kwargs: None  # noqa: E731 - the state the hook takes
    calls: list[tuple[int, bool]] = []

    def hook() -> None:
        locked = _warnings_state._LOCK._is_owned()
        calls.append((_warnings_state.holders(), locked))
        _warnings_state.outer_put_back(relay, unless=lambda shown: False)

    _warnings_state.at_last_release(hook)
    _warnings_state.hold(filters=True)  # a job
    with _warnings_state.collecting():
        _warnings_state.release()  # the job ends first: not the last
        assert calls == []
        warnings.showwarning = taken  # installed meanwhile (an ended worker's restore)
    assert calls == [(1, True)]
    assert warnings.showwarning is taken
    _warnings_state.at_last_release(lambda: 1 / 0)
    with _warnings_state.collecting():
        pass
    assert warnings.showwarning is taken
    assert _warnings_state._state.holders == 0
