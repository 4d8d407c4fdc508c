"""The process's warnings state (``warnings.showwarning`` and the filters), shared by
whoever swaps it for a while: ``srmat``'s commands, which collect the Python warnings
they print for a ``--json`` result (:func:`napari_srmat.cli.told_warnings`), and the
widgets' jobs, whose superqt worker swaps both for the time it runs
(:mod:`napari_srmat.widgets._worker`).

Python 3.11's warnings state is one for the process, and each of them swapped it and
put back what it had seen when it began. Overlapping (a command run from napari's
console while a widget's job runs, two commands in two threads, two jobs), the one that
ended first had its swap put back by the other: a finished worker's relay, or a
command's collector appending to a list nobody read, stayed installed for the session.

One counted, locked rule now (:func:`hold` / :func:`release`): the state as it was
before the first holder began is put back when the last has ended, whatever the order
they end in; where that state was another plugin's superqt worker's relay, the state its
end put back in its place, whichever holder ends last (:func:`at_last_release`, the
widgets' hook). While widgets' jobs run, ``showwarning`` is their router
(:func:`napari_srmat.widgets._worker._route_warning`, installed by
:func:`install_showwarning` under the same lock): a job's warnings are told as that
job's, any other thread's go to :func:`outer_showwarning`. A known limit, of Python's
one state: a command run from the console that began before a job does not list the
Python warnings it gives while the job runs in its ``--json`` ``warnings`` (they are
shown as before any job; a job's warnings, :func:`napari_srmat.cli.run_cli_job`, are
not Python warnings and are listed).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

__all__ = ["hold", "release", "at_last_release", "collecting", "outer_showwarning",
           "outer_ignores", "install_showwarning", "outer_put_back", "is_collector", "outer_state",
           "holders"]

#: Guards :data:`_state` and every swap of ``warnings.showwarning`` made here, and the
#: widgets' router's tables (:data:`napari_srmat.widgets._worker._SINKS`: one lock, no
#: order to keep between two). Re-entrant: the garbage collector may
#: run a finalizer that warns (an unclosed file's ResourceWarning) in a thread holding
#: it, whose warning the widgets' router shows through :func:`outer_showwarning`,
#: taking it again (a plain lock hung that thread).
_LOCK = threading.RLock()


class _SavedFilters:
    """A copy of ``warnings.filters`` saved as the filters before the holders
    (:attr:`_State.outer_filters`), hashed by identity: a new one is saved each time
    they change (a first :func:`hold`, :func:`outer_put_back`), so it is the key of
    :func:`outer_ignores`'s cached answers (:func:`_outer_action`) under which a
    changed filter is never answered from an earlier one's."""

    __slots__ = ("filters",)

    def __init__(self, filters: Sequence[tuple]) -> None:
        self.filters = tuple(filters)


class _State:
    """How many hold the warnings state, the state saved at the first, and whether a
    holder of this period asked for the filters to be put back too.

    Saved as our own copies (:attr:`outer_showwarning`, :attr:`outer_filters`), put back
    by the last :func:`release` through the ``warnings`` module's own attributes; no
    ``catch_warnings`` is entered for the holders (its private attributes were written
    to change what it put back, and it put back the filters of a holder that did not
    ask). ``warnings._showwarnmsg_impl`` (a ``catch_warnings(record=True)``'s recorder)
    is never swapped or put back."""

    holders = 0
    filters = False
    #: ``warnings.showwarning`` and a copy of ``warnings.filters`` at the first hold
    #: (None while nobody holds)
    outer_showwarning: Callable[..., Any] | None = None
    outer_filters: _SavedFilters | None = None


_state = _State()

#: The lists of the :func:`collecting` blocks the current context is inside: a warning is
#: collected by the blocks of the thread (context) that gave it, not by another's.
_COLLECTING: ContextVar[tuple[list[str], ...]] = ContextVar("srmat_collecting", default=())


def hold(*, filters: bool = False) -> None:
    """Count a holder of the warnings state in: the first saves it (``showwarning`` and
    the filters), to be put back by the last :func:`release`. Any thread.

    Parameters
    ----------
    filters : bool
        Whether the holder changes the filters, which are then put back too (superqt's
        worker adds an 'always' one). Without, the filters added meanwhile stay: a
        command that first imports a library (torch, dask) keeps the filters its import
        set, which an import does once per process.
    """
    with _LOCK:
        if _state.holders == 0:
            _state.outer_showwarning = warnings.showwarning
            _state.outer_filters = _SavedFilters(warnings.filters)
            _state.filters = False
        _state.holders += 1
        _state.filters = _state.filters or filters


#: What the last :func:`release` runs first, whoever's (a widget's job, a
#: :func:`collecting` block): at most one, set by :func:`at_last_release`.
_AT_LAST_RELEASE: list[Callable[[], None]] = []


def at_last_release(hook: Callable[[], None]) -> None:
    """Make ``hook()`` what the last :func:`release` runs, whoever holds the state (a
    widget's job or a command's :func:`collecting` block), holding :data:`_LOCK`,
    before the state is put back: it may take another state before the holders
    (:func:`outer_put_back`; the widgets' one in place of an ended worker's relay,
    :func:`napari_srmat.widgets._worker._put_back_if_ended`), no other holder counted in
    or out meanwhile. It replaces the one set before (a module imported again). An
    exception it raises is dropped.

    A hook passed by the releasing holder only ran when that holder was the last: a
    command's collector released last, after the jobs and the ended worker whose relay
    the first hold saved, put that relay back with superqt's 'always' filter, and every
    warning was shown nowhere until the next job's start.

    Parameters
    ----------
    hook : callable
        ``hook()``; called holding the lock, so it takes only this module's lock.
    """
    with _LOCK:
        _AT_LAST_RELEASE[:] = [hook]


def release() -> None:
    """Count a holder out: the last runs :func:`at_last_release`'s hook, then puts back
    the ``showwarning`` saved by the first :func:`hold` (or taken since,
    :func:`outer_put_back`), and the filters only if a holder asked (never
    ``record=True``'s recorder, which no holder swaps: a ``catch_warnings(record=True)``
    block of another thread that began before the first hold puts back its own). Any
    thread; once per :func:`hold`.

    The filters are put back in place under :data:`_LOCK`, then the ``warnings``
    module is told of the change (:func:`_tell_filters_changed`: the places shown are
    forgotten) once it is let go. Without a holder that asked, they are not touched:
    the filters before the holders were put back first (a ``catch_warnings``' exit,
    which tells), then the filters of the end written over them without a word; another
    thread's warning given in between, shown once at its place by the filters before
    ("default"), was remembered as shown under the new ones: never shown again in the
    session, whatever they said ('always').
    """
    with _LOCK:
        if _state.holders == 0:  # a release without its hold changes nothing
            return
        if _state.holders == 1:
            for hook in _AT_LAST_RELEASE:
                with contextlib.suppress(Exception):
                    hook()
        _state.holders -= 1
        if _state.holders:
            return
        put_back = _state.outer_filters if _state.filters else None
        warnings.showwarning = _state.outer_showwarning
        _state.outer_showwarning = _state.outer_filters = None
        if put_back is not None:
            warnings.filters[:] = put_back.filters
    _drop_outer_answers()
    if put_back is not None:
        _tell_filters_changed()


def _tell_filters_changed() -> None:
    """Tell the ``warnings`` module that its filters changed, as its ``filterwarnings``
    and ``catch_warnings`` do: the places remembered as shown are forgotten at the next
    warning (``__warningregistry__``'s ``version``). Python 3.11-3.14's
    ``warnings._filters_mutated``, else (a later Python without it) its
    ``_filters_mutated_lock_held`` under ``warnings._lock``. Never raises: where neither
    works the filters stay put back, only the places shown under the holders' filters
    may stay remembered.

    Called without :data:`_LOCK`: Python 3.14 gives a warning holding the ``warnings``
    lock, which telling takes, and a job's warning goes to the widgets' router, which
    takes :data:`_LOCK`; told holding it, a worker's warning at a job's end and the end
    waited for each other for good.
    """
    mutated = getattr(warnings, "_filters_mutated", None)
    if mutated is not None:
        try:
            mutated()
            return
        except Exception:  # a later Python's: try its other way
            pass
    held = getattr(warnings, "_filters_mutated_lock_held", None)
    lock = getattr(warnings, "_lock", None)
    if held is not None and lock is not None:
        with contextlib.suppress(Exception), lock:
            held()


def outer_showwarning() -> Callable[..., Any]:
    """The ``warnings.showwarning`` of the process outside its holders: the one the first
    :func:`hold` saved (napari's relay of the GUI thread's warnings, in napari), put back
    by the last :func:`release`; the current one while nobody holds. Any thread.

    Returns
    -------
    callable
        The ``showwarning`` function (the signature of :func:`warnings.showwarning`).
    """
    with _LOCK:
        saved = _state.outer_showwarning
        return saved if saved is not None else warnings.showwarning


def outer_state() -> tuple[Callable[..., Any], tuple] | None:
    """The state before the holders as the first :func:`hold` saved it (or
    :func:`outer_put_back` took it since): its ``showwarning`` and a copy of its
    filters. Any thread.

    Returns
    -------
    tuple or None
        ``(showwarning, filters)``; None while nobody holds the state.
    """
    with _LOCK:
        saved = _state.outer_filters
        if _state.outer_showwarning is None or saved is None:
            return None
        return _state.outer_showwarning, saved.filters


def holders() -> int:
    """How many hold the warnings state now (:func:`hold`). Any thread; asked holding
    :data:`_LOCK` (an ``outer_put_back``'s ``instead``), the count cannot change
    before the answer is used.

    Returns
    -------
    int
        The holders counted in and not yet out.
    """
    with _LOCK:
        return _state.holders


#: How many answers of :func:`outer_ignores` are kept (:func:`_outer_action`), the
#: least recently asked dropped first: warnings whose text names a tile or chunk are
#: each one more.
OUTER_IGNORES_CACHED = 1024
#: The longest warning text (characters) the warnings' tables keep as it is
#: (:func:`text_is_kept`): :func:`outer_ignores`' kept answers, the widgets' router's
#: warnings shown once outside the jobs. A longer one (an array's repr in its text) is
#: matched each time by the first and kept by its digest by the second
#: (:func:`kept_text`), so neither holds more than its bound of texts of this size.
WARNING_TEXT_KEPT = 1000


def text_is_kept(text: str) -> bool:
    """Whether a warning's ``text`` is kept as it is by a table of warnings: no longer
    than :data:`WARNING_TEXT_KEPT` characters (the one rule of :func:`outer_ignores`'
    cache and :func:`kept_text`)."""
    return len(text) <= WARNING_TEXT_KEPT


def kept_text(text: str) -> str:
    """A warning's ``text`` as a table of warnings keyed on it keeps it: itself when
    :func:`text_is_kept`, else its length and SHA-256 digest (a megabyte repr was kept
    whole by the widgets' router's table of the warnings shown once).

    Examples
    --------
    >>> kept_text("the scale is a guess")
    'the scale is a guess'
    >>> kept_text("x" * 2000)[:20]
    'sha256 2000 chars 5c'
    """
    if text_is_kept(text):
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"sha256 {len(text)} chars {digest}"


def outer_ignores(category: type, text: str, module: str, lineno: int) -> bool:
    """Whether the filters before the holders (the ones the first :func:`hold` saved)
    ignore a warning: a holder may have turned 'always' on (superqt's worker), under
    which a warning they ignore (Python's defaults: a library's DeprecationWarning, a
    ResourceWarning) is shown. Matched as ``warnings.warn_explicit`` does; False while
    nobody holds the state (the filters now decided already). Any thread.

    The answer of a warning asked already (its category, text, module and line) under
    the same saved filters and ``warnings.defaultaction`` is the one kept
    (:func:`_outer_action`; not for a text longer than :data:`WARNING_TEXT_KEPT`;
    those of an earlier copy of the filters dropped by :func:`_drop_outer_answers`):
    matching them was most of the cost of a warning the widgets' router tells outside
    the jobs. Filters changed in the ``warnings`` module while the state is held do not
    change the answer (they are not the filters before the holders, which the last
    :func:`release` puts back); saved anew, they do.

    Parameters
    ----------
    category : type
        The warning's category.
    text : str
        Its message's text (``str(message)``).
    module : str
        The name of the module the warning is attributed to.
    lineno : int
        Its line.

    Returns
    -------
    bool
        True when the first matching filter's action (else the default action) is
        'ignore'.
    """
    with _LOCK:
        saved = _state.outer_filters
    if saved is None:
        return False
    action = (_outer_action if text_is_kept(text)
              else _outer_action.__wrapped__)  # not kept: matched each time
    return action(saved, warnings.defaultaction, category, text, module, lineno) == "ignore"


@functools.lru_cache(maxsize=OUTER_IGNORES_CACHED)
def _outer_action(saved: _SavedFilters, default: str, category: type, text: str,
                  module: str, lineno: int) -> str:
    """The action of the first of ``saved``'s filters that matches a warning, else
    ``default`` (:func:`outer_ignores`, which keeps the answers: the key's ``saved`` is
    compared by identity, a new copy for filters changed).

    Parameters
    ----------
    saved : _SavedFilters
        The filters before the holders.
    default : str
        ``warnings.defaultaction``.
    category, text, module, lineno
        The warning, as :func:`outer_ignores` is given it.

    Returns
    -------
    str
        The action ('ignore', 'default', 'always', ...).
    """
    def matches(pattern: Any, value: str) -> bool:  # None, a string (the C defaults') or a regex
        return pattern is None or (pattern == value if isinstance(pattern, str)
                                   else bool(pattern.match(value)))

    for action, message, kind, where, line in saved.filters:
        if (matches(message, text) and issubclass(category, kind)
                and matches(where, module) and line in (0, lineno)):
            return str(action)
    return str(default)


def install_showwarning(show: Callable[..., Any], *,
                        replaces: Callable[[Callable[..., Any]], bool]) -> bool:
    """Make ``show`` the process's ``warnings.showwarning``, read and swapped under the
    lock of every swap made here (:func:`collecting`'s), in place of the one before the
    holders (:func:`outer_showwarning`) or of one ``replaces`` accepts (a worker's relay
    of its warnings); any other (a command's collector) is kept, and nothing is
    installed while nobody holds the state (no :func:`release` would put it back). Any
    thread.

    Parameters
    ----------
    show : callable
        The ``showwarning`` to install (the signature of :func:`warnings.showwarning`).
    replaces : callable
        ``replaces(current) -> bool``: whether ``show`` may take the place of the current
        ``showwarning``; called holding the lock, so it must be cheap and take no lock
        of this module. An exception it raises counts as False.

    Returns
    -------
    bool
        Whether ``show`` is the process's ``showwarning`` now.
    """
    if warnings.showwarning is show:  # installed already (a job's every step): no lock
        return True
    with _LOCK:
        shown = warnings.showwarning
        if shown is show:
            return True
        if _state.holders == 0:
            return False
        try:
            replace = shown is _state.outer_showwarning or bool(replaces(shown))
        except Exception:
            replace = False
        if replace:
            warnings.showwarning = show
        return replace


def outer_put_back(relay: Callable[..., Any], *,
                   unless: Callable[[Callable[..., Any]], bool],
                   instead: Callable[[], tuple[Callable[..., Any], Sequence[tuple]] | None]
                   | None = None) -> bool:
    """Take the process's ``showwarning`` and filters now as the state before the
    holders, in place of ``relay`` saved by the first :func:`hold`: a worker the
    holders do not count (another plugin's superqt worker) was running then, its relay
    installed, and has just put back, at its end, the state it saw before it began. Its
    relay, put back by the last :func:`release`, swallowed every later warning. Any
    thread.

    Parameters
    ----------
    relay : callable
        The ``showwarning`` the first hold saw (that worker's relay).
    unless : callable
        ``unless(current) -> bool``: True for a current ``showwarning`` that is not the
        one that worker put back (a holder's, installed since: the router, another
        worker's relay); nothing is taken then, but ``instead``'s state. Called holding
        the lock, as :func:`install_showwarning`'s ``replaces``.
    instead : callable, optional
        ``instead() -> (showwarning, filters) or None``: where ``unless`` refused, the
        state that worker put back as a holder saw it since (a holder's worker begun
        after that end saved it, then installed its own); None takes nothing. Called
        holding the lock.

    Returns
    -------
    bool
        Whether the saved state was ``relay``'s and is the one taken now (False when
        nobody holds the state, the first hold saw another, or ``unless`` refused and
        ``instead`` gave none).
    """
    with _LOCK:
        if _state.holders == 0 or _state.outer_showwarning is not relay:
            return False
        try:
            taken = ((warnings.showwarning, warnings.filters)
                     if not unless(warnings.showwarning)
                     else None if instead is None else instead())
        except Exception:
            return False
        if taken is None:
            return False
        # what the last release puts back (our own copies: no catch_warnings to write)
        _state.outer_showwarning = taken[0]
        _state.outer_filters = _SavedFilters(taken[1])
    _drop_outer_answers()
    return True


def _drop_outer_answers() -> None:
    """Drop :func:`outer_ignores`' kept answers once the copy of the filters they were
    answered under is no longer the saved one (the last :func:`release`, an
    :func:`outer_put_back`): their texts and copies go now, not
    :data:`OUTER_IGNORES_CACHED` warnings later. Called after leaving :data:`_LOCK`.

    Not a guarantee that none is left: :func:`outer_ignores` reads the saved copy under
    the lock but answers and keeps outside it (no lock on the GUI thread's path), so an
    answer another thread was making meanwhile may be kept after this clear. Such an
    entry is never served: its key holds the old copy, compared by identity and kept
    alive by the entry, which no copy saved later can be; it ages out of the bounded
    cache.
    """
    _outer_action.cache_clear()


#: The attribute marking a :func:`collecting` block's ``showwarning`` (:func:`is_collector`).
_COLLECTOR = "_srmat_collector"


def is_collector(shown: Callable[..., Any]) -> bool:
    """Whether ``shown`` is the ``showwarning`` of a :func:`collecting` block (a
    holder's, installed over the one it saw: never the state before the holders)."""
    return bool(getattr(shown, _COLLECTOR, False))


@contextlib.contextmanager
def collecting(text: Callable[[Any], str] = str) -> Iterator[list[str]]:
    """Collect the Python warnings shown inside the block, by this thread (context),
    as ``text(message)``; they are still shown as before. The state is held for the
    block (:func:`hold`): its swap of ``warnings.showwarning`` is undone at its end if
    it is still installed, else by the last holder's :func:`release`; a collector left
    in another's chain after its block collects nothing.

    Parameters
    ----------
    text : callable
        The text kept of a warning's message (e.g. one line of it).

    Yields
    ------
    list of str
        The texts, filled as the warnings are shown.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("always")
    ...     warnings.showwarning = lambda *a, **k: None  # shown nowhere in this example
    ...     with collecting() as told:
    ...         warnings.warn("the scale is a guess")
    >>> told
    ['the scale is a guess']
    """
    told: list[str] = []

    def mine() -> bool:
        return any(lines is told for lines in _COLLECTING.get())

    hold()
    with _LOCK:
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if mine():
                told.append(text(message))
            shown(message, category, filename, lineno, file, line)

        setattr(show, _COLLECTOR, True)
        warnings.showwarning = show
    token = _COLLECTING.set((*_COLLECTING.get(), told))
    try:
        yield told
    finally:
        _COLLECTING.reset(token)
        with _LOCK:
            if warnings.showwarning is show:
                warnings.showwarning = shown
        release()
