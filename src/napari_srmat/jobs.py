"""Long-running jobs as generators of typed progress events.

Every long operation in napari-srmat (tiled super-resolution, training, evaluation,
audit candidate search) is a generator function that yields events defined here and
checks a :class:`StopToken` between units of work. The same generator is driven by

* the GUI, through napari's ``thread_worker`` (see ``napari_srmat.widgets``),
* the CLI, through :func:`run_job` with a progress bar,
* a notebook, by iterating it directly or calling :func:`run_job`.

A job's return value (``StopIteration.value``) is its result; :func:`run_job`
returns it.

Examples
--------
>>> def count(n, stop=None):
...     for i in range(n):
...         if stop is not None and stop.stop_requested:
...             yield Stopped(message="stopped")
...             return None
...         yield Progress(done=i + 1, total=n)
...     return n
>>> run_job(count(3), quiet=True)
3
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import inspect
import re
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = [
    "Event",
    "Progress",
    "Log",
    "AlreadyComplete",
    "training_already_complete",
    "Metric",
    "told_epoch",
    "Checkpoint",
    "Stopped",
    "StopToken",
    "check_stop",
    "stop_on_ctrl_c",
    "ResumeRecord",
    "JobCancelled",
    "run_job",
    "keep_at_interrupt",
    "plain_version",
    "EtaEstimator",
    "format_duration",
    "closest_name",
    "unknown_names_hint",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Event:
    """Base class of all job events."""


@dataclass(frozen=True)
class Progress(Event):
    """Fraction of work done.

    Parameters
    ----------
    done, total : int
        Units of work finished and in all (tiles, steps, images).
    stage : str
        Short name of the current stage, e.g. ``"tiles"`` or ``"epoch 3"``.
    resumed : int
        Units of ``done`` that an earlier run had finished (a resumed job skips them):
        ``done - resumed`` is the work this run did, e.g. for its speed.
    """

    done: int
    total: int
    stage: str = ""
    resumed: int = 0

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


@dataclass(frozen=True)
class Log(Event):
    """A human-readable message.

    Parameters
    ----------
    message : str
        One line, as the CLI prints it after ``[level]`` (a warning's and an error's
        after the command's ``srmat CMD: warning:`` / ``srmat CMD: error:``,
        :func:`napari_srmat.cli.run_cli_job`).
    level : str
        ``"info"`` (what the job is doing: a widget's status line only), ``"notice"``
        (what the user must know of the outcome: an output resumed or already complete;
        a widget also shows a napari notification), ``"warning"`` or ``"error"``
        (napari notifications of that severity; see
        :func:`napari_srmat.widgets._worker.show_log`).
    """

    message: str
    level: str = "info"


@dataclass(frozen=True)
class AlreadyComplete(Log):
    """A notice that the job's output ``path`` was already complete for the same input
    and settings: nothing was written, the job returns it as it is.

    The outcome is the type and ``path``, never the wording: a caller that must know it
    (``srmat edges predict``'s ``nothing_to_do``) tests
    ``isinstance(event, AlreadyComplete) and Path(event.path) == out`` (an inner store a
    job resumes, e.g. a staging folder's, is another path).

    Parameters
    ----------
    message : str
        The line told, as for :class:`Log`.
    level : str
        ``"notice"``.
    path : str
        The output that was already complete, as the job was given it.

    Examples
    --------
    >>> event = AlreadyComplete("out.zarr is already complete", path="out.zarr")
    >>> isinstance(event, Log), event.level
    (True, 'notice')
    """

    level: str = "notice"
    path: str = ""


def training_already_complete(out: Any, holder: Any, done: int, asked: int,
                              unit: str) -> AlreadyComplete:
    """The :class:`AlreadyComplete` of a training resumed with no more units ``unit``
    (``"epoch"``, ``"step"``) than ``holder`` (its state folder) holds: nothing to train;
    a notice when it asks for as many, a warning when for fewer. The one wording of the
    UAED and SR trainings.

    Examples
    --------
    >>> e = training_already_complete("run", "run/last", 3, 2, "epoch")
    >>> e.message, e.level, e.path
    ('run is already complete from an earlier run (run/last holds 3 epochs, the run asks for 2): nothing to train (give more epochs to continue it)', 'warning', 'run')
    """  # noqa: E501
    return AlreadyComplete(
        f"{out} is already complete from an earlier run ({holder} holds {done} "
        f"{unit}{'s' if done != 1 else ''}, the run asks for {asked}): nothing to train "
        f"(give more {unit}s to continue it)", path=str(out),
        level="notice" if done == asked else "warning")


def told_epoch(index: int) -> int:
    """The number the epoch of 0-based ``index`` is told by: epochs are told from 1.

    The one rule of every epoch number a user reads: a training's progress
    (``epoch 3/10``), its log lines (``[val 3] ap=...``, :attr:`Metric.told_step`), the
    Train widget's table, its messages and its checkpoint folders (``top/epoch-003``).
    Records keep the index (the ``"epoch"`` of a training state, a history entry, a
    checkpoint's ``config.json``; a :class:`Metric`'s ``step``): a run written by any
    version reads the same. Until 2026-12-07 the log lines and ``top/`` folders of the
    UAED training told the index (``[val 2]`` and ``top/epoch-002`` beside ``epoch 3/10``
    on screen).

    Examples
    --------
    >>> told_epoch(0)
    1
    """
    return int(index) + 1


@dataclass(frozen=True)
class Metric(Event):
    """Named scalar values at a step (losses, validation scores).

    Parameters
    ----------
    step : int
        Training step (the steps done) or epoch (its 0-based index, ``unit`` "epoch")
        the values belong to.
    values : dict
        Mapping of metric name to value, e.g. ``{"loss": 0.31}``.
    split : str
        ``"train"``, ``"val"`` or ``"test"``.
    unit : str
        What ``step`` counts: ``"step"`` or ``"epoch"``.

    Examples
    --------
    >>> Metric(2, {"ap": 0.7}, split="val", unit="epoch").told_step
    3
    """

    step: int
    values: dict[str, float] = field(default_factory=dict)
    split: str = "train"
    unit: str = "step"

    @property
    def told_step(self) -> int:
        """``step`` as a user reads it (:func:`run_job`'s lines, the Train widget's
        table): an epoch told from 1 (:func:`told_epoch`), a step as it is."""
        return told_epoch(self.step) if self.unit == "epoch" else self.step


@dataclass(frozen=True)
class Checkpoint(Event):
    """A checkpoint was written to ``path``."""

    path: str
    step: int = 0
    score: float | None = None


@dataclass(frozen=True)
class Stopped(Event):
    """The job stopped early because a stop was requested."""

    message: str = "stopped on request"


@dataclass(frozen=True)
class ResumeRecord:
    """Where a training job records, in its run folder, the point ``resume=True``
    continues from: what a stopped run's rerun does
    (:func:`napari_srmat.cli._training.rerun_after_stop`).

    Parameters
    ----------
    folder : str
        The state's folder in the run folder (``"train_state"``).
    file : str
        Its JSON file (``"config.json"``).
    key : str
        The JSON key of the count done (``"step"``).
    where : str
        The point in words, ``{n}`` the count plus ``offset`` (``"from step {n}"``).
    offset : int
        Added to the recorded count (1: a 0-based epoch index, told from 1).
    part_key : str, optional
        The JSON key of the part of the next unit done (``"epoch_steps"``: the steps of
        an epoch a run stopped in); where it is above 0 the point is told by
        ``part_where`` instead.
    part_where : str
        The point in words with a part done: ``{k}`` the part, ``{n}`` as in ``where``,
        ``{next}`` the unit it is part of (``"after step {k} of epoch {next}"``).

    Examples
    --------
    >>> ResumeRecord("train_state", "config.json", "step", "from step {n}").point("nowhere")
    """

    folder: str
    file: str
    key: str
    where: str
    offset: int = 0
    part_key: str | None = None
    part_where: str = ""

    def point(self, out: Any) -> tuple[Any, str] | None:
        """The state folder (a ``Path``) and the point in words; None where ``out``
        holds no readable record: a resumed run would start over."""
        import json
        from pathlib import Path

        state = Path(out) / self.folder
        try:
            record = json.loads((state / self.file).read_text())
            count = int(record[self.key]) + self.offset
            part = int(record.get(self.part_key) or 0) if self.part_key else 0
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        if part > 0:
            return state, self.part_where.format(k=part, n=count, next=count + 1)
        return state, self.where.format(n=count)

    def stamp(self, out: Any) -> tuple[int, int, int] | None:
        """What tells this record's file in ``out`` from another written later (its
        inode, modification time in ns and size; a write swaps a new file in); None
        where there is none. Compared before and after a run: the same stamp is a
        record this run did not write."""
        import os
        from pathlib import Path

        try:
            st = os.stat(Path(out) / self.folder / self.file)
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size


class JobCancelled(RuntimeError):
    """Raised by :func:`run_job` when ``raise_on_stop`` is set and the job stopped."""


class StopToken:
    """Thread-safe flag a job polls between units of work.

    The GUI calls :meth:`request_stop` from the main thread; the job, running in a
    worker thread, checks :attr:`stop_requested` and finishes cleanly (yielding
    :class:`Stopped`) at the next safe point.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def request_stop(self) -> None:
        """Ask the job to stop at its next safe point."""
        self._event.set()

    @property
    def stop_requested(self) -> bool:
        return self._event.is_set()

    def __bool__(self) -> bool:  # pragma: no cover - convenience
        return self.stop_requested


def check_stop(stop: Any) -> Any:
    """The one rule of a ``stop=`` argument: None or a :class:`StopToken`.

    Jobs poll ``stop.stop_requested``; an object that has it (a :class:`StopToken`, or a
    token of the same shape, such as the distributed runner's) is accepted, anything
    else refused here rather than with an AttributeError once the job has started (or,
    where nothing polled it, ignored).

    Parameters
    ----------
    stop : StopToken or None

    Returns
    -------
    StopToken or None
        ``stop`` itself.

    Raises
    ------
    TypeError
        Neither None nor an object with a ``stop_requested`` attribute (a class, such
        as ``StopToken`` instead of ``StopToken()``, is refused).

    Examples
    --------
    >>> check_stop(None) is None, isinstance(check_stop(StopToken()), StopToken)
    (True, True)
    >>> check_stop("yes")
    Traceback (most recent call last):
    ...
    TypeError: stop must be None or a napari_srmat.jobs.StopToken, got 'yes' (str)
    """
    # the StopToken class itself has the attribute (a property object, truthy: the job
    # stopped at once, without an error)
    if stop is None or (hasattr(stop, "stop_requested") and not isinstance(stop, type)):
        return stop
    raise TypeError(f"stop must be None or a napari_srmat.jobs.StopToken, got {stop!r:.60} "
                    f"({type(stop).__name__})")


@contextlib.contextmanager
def stop_on_ctrl_c(stop: StopToken, on_request: Callable[[], None] | None = None
                   ) -> Iterator[StopToken]:
    """Within the block, the first Ctrl-C (SIGINT) asks ``stop`` to stop: the job polling
    it ends at its next safe point as a GUI stop ends it (a training saves its resumable
    state at the step it reached), instead of a KeyboardInterrupt landing anywhere in
    it (mid-step: nothing saved since the last save). A second Ctrl-C raises
    KeyboardInterrupt as Python's own handler does (the impatient user's way out; what
    is on disk is then what the job last saved, whole: checkpoints are swapped in).

    Nothing is changed outside the main thread, or where neither SIGINT nor SIGTERM has
    a Python handler: a Ctrl-C there does what it did. Where SIGINT has none (ignored: a
    job a script starts in the background, ``srmat ... &``) and SIGTERM has one (the
    stop signal, :func:`~napari_srmat._atomic.stop_signal`), that handler finds the
    first press's stop as SIGINT's handler for its call only: ``srmat``'s (which ends
    the command on SIGTERM as on a Ctrl-C) stops the job at its next step at the first
    SIGTERM and interrupts it at the second, the presses staying ignored. Until
    2026-12-07 a SIGTERM there interrupted a training at once, as a second Ctrl-C does.

    Parameters
    ----------
    stop : StopToken
        The token the job polls.
    on_request : callable, optional
        Called (in the signal handler) at the first press, once ``stop`` is asked: to
        say so at once (the job may take minutes to reach its next step; a user who
        sees nothing presses again, which interrupts without the save asked for). It
        must not raise.

    Yields
    ------
    StopToken
        ``stop``.

    Examples
    --------
    >>> with stop_on_ctrl_c(StopToken()) as token:  # a Ctrl-C here would set it
    ...     token.stop_requested
    False
    """
    import signal

    from ._atomic import stop_signal

    stopping = stop_signal()
    if stopping is None:
        yield stop
        return
    signum, previous = stopping
    sigint = signal.getsignal(signal.SIGINT)  # SIGTERM's case: ignored, or the default
    interrupt = previous if signum == signal.SIGINT else signal.default_int_handler

    def first_asks_to_stop(signum, frame) -> None:
        if stop.stop_requested:  # asked already: the second press interrupts
            interrupt(signum, frame)
            return
        stop.request_stop()
        if on_request is not None:
            on_request()

    def terminated(signum, frame) -> None:
        """SIGTERM's handler, SIGINT's being the first press's stop for its call (an
        inner block's stop, there already, is left there)."""
        if callable(signal.getsignal(signal.SIGINT)):
            previous(signum, frame)
            return
        try:  # a second SIGTERM as it is set interrupts: SIGINT as it was again after
            signal.signal(signal.SIGINT, first_asks_to_stop)
            previous(signum, frame)
        finally:
            signal.signal(signal.SIGINT, sigint)

    signal.signal(signum, first_asks_to_stop if signum == signal.SIGINT else terminated)
    try:
        yield stop
    finally:
        signal.signal(signum, previous)


JobGenerator = Generator[Event, None, T]


def run_job(
    gen: Generator[Event, Any, T],
    *,
    quiet: bool = False,
    on_event: Callable[[Event], None] | None = None,
    raise_on_stop: bool = False,
    stream=None,
    show_stopped: bool = True,
    level_lines: Mapping[str, Callable[[str], str | None]] | None = None,
) -> T:
    """Drive a job generator to completion and return its result.

    Parameters
    ----------
    gen : generator
        A job generator yielding :class:`Event` objects.
    quiet : bool
        If False, show a progress bar (tqdm, on ``stream``) and log messages; on a
        stream that is not a terminal (a log file, a pipe) plain ``[progress]`` lines
        instead, one per stage and per :data:`PLAIN_PROGRESS_STEP_PCT` percent.
    on_event : callable, optional
        Called with every event (e.g. to collect metrics).
    raise_on_stop : bool
        Raise :class:`JobCancelled` if the job yields :class:`Stopped`.
    stream : file-like, optional
        Where progress goes; defaults to ``sys.stderr`` so that ``--json`` output on
        stdout stays clean.
    show_stopped : bool
        Print a :class:`Stopped` event's ``[stopped]`` line (unless ``quiet``); False
        where the caller tells the stop itself (``srmat``'s one ``interrupted`` line,
        :func:`napari_srmat.cli.run_cli_job`).
    level_lines : mapping of str to callable, optional
        How the :class:`Log` events of some levels are written, by level: the line from
        the message (``srmat``'s one-line rule, ``srmat CMD: warning: message`` and
        ``srmat CMD: error: message``: :func:`napari_srmat.cli.run_cli_job`), or None
        where the caller tells the message itself (nothing printed here). Other levels
        (all, without it): ``[level] message``.

    Returns
    -------
    result
        The generator's return value.

    Raises
    ------
    KeyboardInterrupt
        A Ctrl-C, in the job or here (the bar's redraw, ``on_event``: a notebook's live
        plot); one here is first thrown into the job, paused at its event, as if it had
        landed there (:func:`_interrupt_paused_job`).
    """
    stream = sys.stderr if stream is None else stream
    # a log file or pipe gets plain lines: a bar's carriage returns would glue the next
    # message onto its last state
    plain = not _is_terminal(stream)
    plain_last: tuple[str, int] | None = None
    bar = None
    stopped = False
    try:
        while True:
            try:
                event = next(gen)
            except StopIteration as stop:
                return stop.value
            if on_event is not None:
                on_event(event)
            if isinstance(event, Stopped):
                stopped = True
            if quiet:
                continue
            if isinstance(event, Progress) and plain:
                plain_last = _plain_progress(event, plain_last, stream)
                continue
            if isinstance(event, Progress):
                # a new bar for a new total, or for a count that starts again lower
                # (tqdm's remaining time counts from the bar's initial value)
                if bar is None or bar.total != event.total or event.done < bar.n:
                    if bar is not None:
                        bar.close()
                    from tqdm.auto import tqdm

                    # no rate: a job's units (tiles, stages, steps) can jump several at once;
                    # the bar starts at the event's count (a resumed job), drawn once
                    bar = tqdm(total=event.total, initial=event.done, desc=event.stage,
                               file=stream, leave=False, bar_format=BAR_FORMAT)
                    continue
                bar.set_description_str(event.stage, refresh=False)
                bar.n = event.done
                bar.refresh()
                continue
            if isinstance(event, Log) and event.level in (level_lines or {}):
                line = level_lines[event.level](event.message)
                if line is None:  # the caller tells it
                    continue
            elif isinstance(event, Log):
                line = f"[{event.level}] {event.message}"
            elif isinstance(event, Metric):
                vals = ", ".join(f"{k}={v:.4g}" for k, v in event.values.items())
                line = f"[{event.split} {event.told_step}] {vals}"
            elif isinstance(event, Checkpoint):
                line = f"[checkpoint] {event.path}"
            elif isinstance(event, Stopped):
                if not show_stopped:
                    continue
                line = f"[stopped] {event.message}"
            else:
                continue
            # above an open bar (tqdm clears and redraws it), else a plain line
            if bar is not None:
                bar.write(line, file=stream)
            else:
                print(line, file=stream)
    except KeyboardInterrupt as exc:
        if getattr(gen, "gi_suspended", False):  # it landed here, not in the job
            _interrupt_paused_job(gen, exc)
        raise
    finally:
        if bar is not None:
            bar.close()
        if stopped and raise_on_stop:
            raise JobCancelled("job stopped before completion")


def _interrupt_paused_job(gen: Generator, interrupt: KeyboardInterrupt) -> None:
    """Throw ``interrupt`` (a Ctrl-C that landed in :func:`run_job`'s own code, between
    two of the job's events) into ``gen``, paused at its last event, so that the job ends
    as on a Ctrl-C landing in it: a training keeps the steps it did, as it does between
    steps, and a job that catches none ends there, its ``finally`` blocks run. Left
    paused, it was closed later (``GeneratorExit``, which no ``except
    KeyboardInterrupt`` catches): a training kept nothing of its epoch (until
    2026-12-06). The caller raises ``interrupt`` then; an error the job raises instead
    (its state could not be kept) goes on in its place; a job that goes on after it (it
    yields again) is closed."""
    try:
        gen.throw(interrupt)
    except (KeyboardInterrupt, StopIteration):  # it went on in the job, or the job ended
        return
    gen.close()


def keep_at_interrupt(interrupt: KeyboardInterrupt, keep: Callable[[], None],
                      what: str) -> None:
    """Run ``keep``, a job's write of the work it did, in its ``except KeyboardInterrupt``
    handler, before it raises ``interrupt`` again. Where the write fails (weights no
    longer finite, a disk full), the interrupt still goes on, carrying the failure as a
    note, ``WHAT: WHY`` (``srmat`` tells it as a warning line after its ``interrupted``
    line): the user learns both that the run was interrupted and that
    this was not kept. Until 2026-12-06 the error replaced the interrupt (``srmat edges
    train`` printed an error line, exit 1 or 2, instead of its ``interrupted`` line).

    Parameters
    ----------
    interrupt : KeyboardInterrupt
        The interrupt being handled.
    keep : callable
        The write; a KeyboardInterrupt in it (another Ctrl-C) goes on.
    what : str
        What a failed write did not keep, in words (``"2 steps of epoch 2 not kept in
        RUN/last"``).

    Examples
    --------
    >>> def fails():
    ...     raise ValueError("weights not finite")
    >>> ctrl_c = KeyboardInterrupt()
    >>> keep_at_interrupt(ctrl_c, fails, "2 steps of epoch 2 not kept")
    >>> ctrl_c.__notes__
    ['2 steps of epoch 2 not kept: weights not finite']
    """
    try:
        keep()
    except Exception as error:  # told with the interrupt, not instead of it
        from .errors import error_message

        interrupt.add_note(f"{what}: {error_message(error)}")


def plain_version(job: Callable[..., Generator]) -> Callable[[Callable], Callable]:
    """Decorator of the blocking (plain) version of a job generator function.

    The plain version, ``f(*args, **kwargs)`` calling ``run_job(job(*args, **kwargs))``,
    gets the job's signature (``help()``, ``inspect.signature`` and a notebook's
    completion show the keywords instead of ``**kwargs``), the job's *Parameters*
    section when its own docstring has none, and argument errors that name it rather
    than the job, with the closest keyword for a misspelt one.

    Examples
    --------
    >>> def count_job(n, *, step=1):
    ...     \"""Count (job).
    ...
    ...     Parameters
    ...     ----------
    ...     n : int
    ...     step : int
    ...     \"""
    ...     yield Progress(done=n, total=n)
    ...     return n // step
    >>> @plain_version(count_job)
    ... def count(n, **kwargs):
    ...     \"""Blocking version of count_job.\"""
    ...     return run_job(count_job(n, **kwargs), quiet=True)
    >>> str(inspect.signature(count))
    '(n, *, step=1)'
    >>> count(6, stpe=2)
    Traceback (most recent call last):
    ...
    TypeError: count() got an unexpected keyword argument 'stpe' (did you mean 'step'?)
    """
    job_sig = inspect.signature(job)

    def decorate(fn: Callable) -> Callable:
        sig = job_sig.replace(return_annotation=inspect.signature(fn).return_annotation)
        name = fn.__name__

        @functools.wraps(fn)
        def plain(*args, **kwargs):
            try:
                sig.bind(*args, **kwargs)
            except TypeError as exc:
                raise TypeError(_argument_error(name, exc, kwargs, sig)) from None
            return fn(*args, **kwargs)

        plain.__signature__ = sig
        plain.__doc__ = _with_parameters(fn.__doc__, job.__doc__)
        return plain

    return decorate


def _argument_error(name: str, exc: TypeError, kwargs: dict, sig: inspect.Signature) -> str:
    """``name()`` + Python's binding error, and the closest keyword of a misspelt one."""
    msg = f"{name}() {exc}"
    keywords = [p.name for p in sig.parameters.values()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = [k for k in kwargs if k not in sig.parameters]
    close = closest_name(unknown[0], keywords) if unknown else None
    if close:
        msg += f" (did you mean {close!r}?)"
    return msg


#: How alike (:class:`difflib.SequenceMatcher`'s ratio) a misspelt name and the name
#: meant are at least (``stpes``: ``steps`` 0.8, ``lr_schdule``: ``lr_schedule`` 0.95),
#: and each word of them (:func:`_same_quantity`): difflib's default 0.6 took ``epoch``
#: for ``patch``, ``iterations`` for ``degradation``, ``threads`` for ``threshold``.
CLOSE_NAME_CUTOFF = 0.75

#: What separates the words of a name (``patch_size``, ``out-dir``).
NAME_SEPARATORS = "_-"

#: Last words that merely restate the known name they follow (``patch_size``: ``patch``,
#: ``out_dir``: ``out``, ``lr_rate``: ``lr``): :func:`closest_name` names the known one.
#: Any other (``lr_decay``, ``tile_overlap``, ``mask_threshold``) is another quantity.
RESTATING_SUFFIXES = ("size", "dir", "path", "name", "factor", "from", "rate", "file")

#: Last words that restate one known name only, what that name counts or is (an SR
#: training's ``warmup`` is counted in steps, its ``ema`` is the EMA's decay: other
#: libraries' ``warmup_steps``, ``warmup_iters``, ``ema_decay``, and the boundary
#: training's ``ema_decay``): :func:`closest_name` names it after that name only. After
#: another (``lr_decay``, ``lr_steps``, ``warmup_epochs``) they name another quantity.
RESTATING_SUFFIXES_OF = {"warmup": ("steps", "iters", "iterations"), "ema": ("decay",)}


def _words(name: str) -> list[str]:
    """The words of ``name``, split at :data:`NAME_SEPARATORS`."""
    return re.split(f"[{re.escape(NAME_SEPARATORS)}]", name)


def _same_quantity(word: str, name: str) -> bool:
    """Whether look-alike ``name`` can be ``word`` misspelt rather than another quantity:
    word by word (joined where their counts differ: ``batchsize``, ``batch_size``) of the
    same first letter (``patch``, ``batch``) and alike (:data:`CLOSE_NAME_CUTOFF`:
    ``threshold_value`` is not ``threshold_rule``)."""
    words, named = _words(word), _words(name)
    if len(words) != len(named):
        words, named = ["".join(words)], ["".join(named)]
    return all(w[:1] == n[:1]
               and difflib.SequenceMatcher(None, w, n).ratio() >= CLOSE_NAME_CUTOFF
               for w, n in zip(words, named))


def _folded(name: str) -> str:
    """``name`` in lower case with ``-`` for ``_`` (:func:`closest_name`'s step 0)."""
    return name.lower().replace("-", "_")


def closest_name(word: str, names: Iterable[str]) -> str | None:
    """The name of ``names`` meant by ``word``, an unknown one, or None: the one rule of
    the "did you mean" hints (a plain function's keyword, :func:`plain_version`; a
    training option, :func:`napari_srmat.sr.train.check_options`; a model option of
    :func:`napari_srmat.sr.load_model`; an option in the Train widget's Extra). A hint
    that names another quantity is worse than none: it is followed, and the run does
    something else.

    0. The name ``word`` is in another letter case or with ``-`` for ``_``
       (``Threshold``, ``INPUT-NORM``).
    1. The shortest name ``word`` begins (cut short: ``ema`` for ``ema_decay``,
       ``batch`` for ``batch_size`` rather than its look-alike ``patch``).
    2. Else the most alike, at least :data:`CLOSE_NAME_CUTOFF` (difflib), where it is
       the same quantity (:func:`_same_quantity`: ``lr_schedule`` for ``lr_schdule``,
       never ``batch_size`` for ``patch_size``).
    3. Else the longest name that begins ``word`` at a ``_`` (or ``-``) followed by a
       word that merely restates it (:data:`RESTATING_SUFFIXES`: ``patch`` for
       ``patch_size``, ``out`` for ``out_dir``; not ``lr`` for ``lr_decay``), or that
       restates that name only (:data:`RESTATING_SUFFIXES_OF`: ``warmup`` for
       ``warmup_steps``, ``ema`` for ``ema_decay``).
    4. Else None.

    Until 2026-12-07 the widget's rule was difflib's alone at its default 0.6 and the
    library's took a name that begins ``word`` or that ``word`` begins first, the
    longest; 7da010b7 (one rule) took ``batch_size`` for ``patch_size``; 2792e155 took
    any name that begins ``word`` at a ``_``: ``lr`` for ``lr_decay``, ``tile`` for
    ``tile_overlap``, ``mask`` for ``mask_threshold``; until 2026-12-07 (s51) an SR
    training's ``warmup_steps`` and ``ema_decay`` had no hint, and ``Threshold`` was
    near no name (a boundary checkpoint's config then loaded the default threshold).

    Parameters
    ----------
    word : str
        The name given.
    names : iterable of str
        The names known.

    Returns
    -------
    str or None

    Examples
    --------
    >>> from napari_srmat.jobs import closest_name
    >>> names = ["batch_size", "lr", "lr_schedule", "out", "patch"]
    >>> closest_name("batch", names), closest_name("patch_size", names)
    ('batch_size', 'patch')
    >>> closest_name("lr_schdule", names), closest_name("lr_rate", names)
    ('lr_schedule', 'lr')
    >>> closest_name("lr_decay", names) is None, closest_name("epochs", names) is None
    (True, True)
    >>> closest_name("warmup_steps", ["ema", "lr", "warmup"]), closest_name(
    ...     "ema_decay", ["ema", "lr", "warmup"])
    ('warmup', 'ema')
    >>> closest_name("Threshold", ["encoder", "threshold"])
    'threshold'
    """
    names = sorted(set(names))
    if not word:
        return None
    folded = [n for n in names if _folded(n) == _folded(word)]
    if folded and word not in names:
        return folded[0]
    begun = [n for n in names if n.startswith(word)]
    if begun:
        return min(begun, key=len)
    alike = difflib.get_close_matches(word, names, n=1, cutoff=CLOSE_NAME_CUTOFF)
    if alike and _same_quantity(word, alike[0]):
        return alike[0]
    stems = [n for n in names if word.startswith(n) and word[len(n)] in NAME_SEPARATORS
             and word[len(n) + 1:] in (*RESTATING_SUFFIXES,
                                       *RESTATING_SUFFIXES_OF.get(n, ()))]
    return max(stems, key=len, default=None)


def unknown_names_hint(unknown: Iterable[str], names: Iterable[str]) -> str:
    """The one wording of what follows a refusal of unknown options (a model's,
    :func:`napari_srmat.sr.load_model`; the Train widget's Extra): the name meant of
    each (:func:`closest_name`), and the names known listed where one has none.

    Until 2026-12-07 ``load_model`` put its hints in parentheses (a single one without
    its option) and always listed the options; the widget listed the options instead
    of any hint where one option had none.

    Parameters
    ----------
    unknown : iterable of str
        The names given that are not known.
    names : iterable of str
        The names known.

    Returns
    -------
    str

    Examples
    --------
    >>> from napari_srmat.jobs import unknown_names_hint
    >>> unknown_names_hint(["stpes"], ["lr", "steps"])
    "'stpes': did you mean 'steps'?"
    >>> unknown_names_hint(["stpes", "foo"], ["lr", "steps"])
    "'stpes': did you mean 'steps'?; options: lr, steps"
    """
    names = sorted(set(names))
    close = {k: closest_name(k, names) for k in unknown}
    parts = [f"{k!r}: did you mean {m!r}?" for k, m in close.items() if m]
    if not all(close.values()):
        parts.append(f"options: {', '.join(names)}")
    return "; ".join(parts)


def _section(doc: str, title: str) -> str | None:
    """A numpydoc section (title, dashes, body up to the next section) of ``doc``."""
    lines = inspect.cleandoc(doc).splitlines()
    for i in range(len(lines) - 1):
        if lines[i].strip() == title and set(lines[i + 1].strip()) == {"-"}:
            end = len(lines)
            for j in range(i + 2, len(lines) - 1):
                if lines[j].strip() and set(lines[j + 1].strip()) == {"-"} \
                        and not lines[j].startswith(" "):
                    end = j
                    break
            return "\n".join(lines[i:end]).rstrip()
    return None


#: Sections of a job's docstring that a plain version without its own takes over, in
#: numpydoc order (before the plain version's own text: Examples, Notes).
JOB_DOC_SECTIONS = ("Parameters", "Returns", "Raises")


def _with_parameters(doc: str | None, job_doc: str | None) -> str | None:
    """``doc`` with the job's Parameters, Returns and Raises sections
    (:data:`JOB_DOC_SECTIONS`) after its summary, each unless ``doc`` has its own (the
    plain version returns what the job returns)."""
    if not doc or not job_doc:
        return doc
    taken = [_section(job_doc, title) for title in JOB_DOC_SECTIONS
             if _section(doc, title) is None]
    if not any(taken):
        return doc
    summary, _, rest = inspect.cleandoc(doc).partition("\n\n")
    return "\n\n".join(part for part in (summary, *taken, rest) if part)


def _is_terminal(stream) -> bool:
    """A terminal, or a notebook's output (tqdm.auto draws a widget there)."""
    if type(stream).__module__.startswith("ipykernel"):
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


#: Without a terminal, :func:`run_job` prints a progress line per stage and per this
#: many percent.
PLAIN_PROGRESS_STEP_PCT = 10


def _plain_progress(event: Progress, last: tuple[str, int] | None, stream):
    """Print ``[progress] stage: 40% (4/10)`` when the stage changes or the percentage
    passes the next :data:`PLAIN_PROGRESS_STEP_PCT`; returns the new (stage, bucket)."""
    total = max(int(event.total), 1)
    pct = int(100 * min(max(event.done, 0), total) / total)
    bucket = pct // PLAIN_PROGRESS_STEP_PCT
    state = (str(event.stage), bucket)
    if last is None or state[0] != last[0] or state[1] > last[1]:
        print(f"[progress] {event.stage}: {pct}% ({event.done}/{event.total})", file=stream)
        return state
    return last


#: Progress bar of :func:`run_job` (tqdm ``bar_format``): stage, percentage, bar, count,
#: elapsed and remaining time.
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]"


def format_duration(seconds: float) -> str:
    """Short human duration: ``'45 s'``, ``'12 min'``, ``'2.5 h'``.

    Examples
    --------
    >>> format_duration(30), format_duration(600), format_duration(9000)
    ('30 s', '10 min', '2.5 h')
    """
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class EtaEstimator:
    """Time left of a job from its :class:`Progress` events (per stage).

    The rate is measured from the first event of a stage, so work a resumed job skips
    at its start (a burst of progress) does not make the estimate optimistic once real
    work has been timed.

    Examples
    --------
    >>> eta = EtaEstimator()
    >>> eta.update(Progress(0, 10, stage="tiles"), now=0.0) is None
    True
    >>> eta.update(Progress(2, 10, stage="tiles"), now=4.0)
    16.0
    """

    def __init__(self) -> None:
        self._stage: str | None = None
        self._t0 = 0.0
        self._done0 = 0

    def update(self, event: Progress, now: float | None = None) -> float | None:
        """Seconds left (None until a rate is known or when finished)."""
        now = time.monotonic() if now is None else float(now)
        if event.stage != self._stage or event.done < self._done0:
            self._stage, self._t0, self._done0 = event.stage, now, int(event.done)
            return None
        if event.done <= self._done0 or event.done >= event.total or now <= self._t0:
            return None
        rate = (event.done - self._done0) / (now - self._t0)
        return (event.total - event.done) / rate
