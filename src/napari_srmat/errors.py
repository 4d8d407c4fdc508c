"""How an error is told to the user: one line, the same in the CLI and the GUI."""

from __future__ import annotations

import contextlib
import errno
import math
import numbers
import operator
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, TypeVar

import numpy as np

__all__ = ["as_scalar", "check_flag", "check_number", "check_seed", "is_user_error",
           "is_told_in_one_line",
           "error_message", "Option", "worded_error", "not_found_message", "os_error_reason",
           "os_error_behind", "one_line", "ANSWER_OS_ERRORS", "compared_value",
           "compared_text", "error_notes", "lines_raised_from", "add_new_lines",
           "disk_full_hint", "DISK_FULL_RERUN", "DISK_FULL_RERUN_GUI", "os_errors_named"]

E = TypeVar("E", bound=BaseException)


def _bound(b: float) -> str:
    """A bound as the message prints it: exact when integral (``:g`` made the bins' bound
    1048576 read ``1.04858e+06``), ``:g`` otherwise."""
    return str(int(b)) if float(b).is_integer() and abs(b) < 2**53 else f"{b:g}"


def as_scalar(value: Any) -> Any:
    """A 0-d array (``np.array(0.5)``: a loaded ``.npy``, a reduction kept as an array, a
    0-d tensor) as its Python number, else ``value`` as it is: the one rule by which the
    number rules (:func:`check_number`, the pixel-size rule) take such a value.

    Examples
    --------
    >>> as_scalar(np.array(0.5)), as_scalar(np.array([0.5]))
    (0.5, array([0.5]))
    """
    item = getattr(value, "item", None)
    if getattr(value, "ndim", None) == 0 and callable(item):
        try:
            return item()
        except (TypeError, ValueError, RuntimeError):  # not readable as one number
            return value
    return value


def check_number(field: str | Option, value: Any, *, lo: float | None = None,
                 hi: float | None = None,
                 integer: bool = False, lo_open: bool = False, hi_open: bool = False,
                 error: type[ValueError] = ValueError) -> Any:
    """The one rule for a numeric option or argument; return it as ``int``/``float``.

    Bools, strings, None, NaN and infinities are refused; an integral float (``10.0``)
    is accepted where an integer is required, a 0-d array as its number
    (:func:`as_scalar`).

    Parameters
    ----------
    field : str or Option
        Name used in the message; an :class:`Option` names it for each caller
        (:func:`worded_error`: ``num_inference_steps`` in Python, ``--sampling-steps``
        in an ``srmat`` command).
    value : Any
        The value to check.
    lo, hi : float, optional
        Inclusive bounds (exclusive with ``lo_open`` / ``hi_open``).
    integer : bool
        Require an integer.
    error : type of ValueError
        The exception raised (each area has its own: ``SRError``, ``HeynError``, ...).

    Raises
    ------
    ValueError
        ``error``: one line naming ``field``, the accepted range and the value.

    Examples
    --------
    >>> check_number("n_lines", 10.0, lo=1, integer=True)
    10
    >>> check_number("threshold", 1.0, lo=0, hi=1, lo_open=True, hi_open=True)
    Traceback (most recent call last):
    ...
    ValueError: threshold must be a number in (0, 1), got 1.0
    """
    kind = "an integer" if integer else "a number"
    rng = ""
    if lo is not None and hi is not None:
        rng = f" in {'(' if lo_open else '['}{_bound(lo)}, {_bound(hi)}{')' if hi_open else ']'}"
    elif lo is not None:
        rng = f" {'>' if lo_open else '>='} {_bound(lo)}"
    elif hi is not None:
        rng = f" {'<' if hi_open else '<='} {_bound(hi)}"
    rule = f" must be {kind}{rng}, got {value!r}"
    bad = (worded_error(error, "{field}{rule}", field=field, rule=rule)
           if isinstance(field, Option) else error(f"{field}{rule}"))
    value = as_scalar(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise bad
    v = float(value)
    if not math.isfinite(v):
        raise bad
    if integer:
        if not v.is_integer():
            raise bad
        # an int as given (float() rounds past 2**53: seeds 2**53 and 2**53 + 1 were one)
        v = int(value) if isinstance(value, numbers.Integral) else int(v)
    if lo is not None and (v <= lo if lo_open else v < lo):
        raise bad
    if hi is not None and (v >= hi if hi_open else v > hi):
        raise bad
    return v


def check_seed(value: Any, *, error: type[ValueError] = ValueError) -> int:
    """The one rule for a random seed: an integer >= 0 (NumPy's ``SeedSequence`` rule),
    for every function and ``--seed`` flag that takes one.

    Examples
    --------
    >>> check_seed(3.0)
    3
    >>> check_seed(-1)
    Traceback (most recent call last):
    ...
    ValueError: seed must be an integer >= 0, got -1
    """
    return check_number("seed", value, lo=0, integer=True, error=error)


def check_flag(field: str, value: Any, *, error: type[ValueError] = ValueError) -> bool:
    """The one rule for a yes/no argument: ``True`` or ``False`` (NumPy bools too).

    A string such as ``"no"`` or ``"False"`` is truthy in Python: taken as given, it
    would replace what the user meant to keep (``overwrite="no"``), so it is refused.

    Examples
    --------
    >>> check_flag("overwrite", False)
    False
    >>> check_flag("overwrite", "no")
    Traceback (most recent call last):
    ...
    ValueError: overwrite must be True or False, got 'no'
    """
    if not isinstance(value, (bool, np.bool_)):
        raise error(f"{field} must be True or False, got {value!r}")
    return bool(value)


class Option(NamedTuple):
    """An option as a message names it (:func:`worded_error`).

    Attributes
    ----------
    keyword : str
        As a Python caller passes it (``"overwrite=True"``).
    flag : str
        As an ``srmat`` command takes it (``"--overwrite"``).
    gui : str or None
        What a widget's user does instead, naming the control as the widget labels it
        (``"tick 'Overwrite'"``): a template's ``pass {name}`` reads it alone (it says
        its own verb). None: the option has no control (a widget tells the keyword).
    """

    keyword: str
    flag: str
    gui: str | None = None


def worded_error(error: Callable[[str], E], template: str, **fields: Any) -> E:
    """The one rule for a refusal that names what the caller can pass: a Python caller
    is told the keyword (``overwrite=True``), an ``srmat`` command the flag
    (``--overwrite``), a widget's user the control (``tick 'Overwrite'``). The message
    names the keywords; ``exc.cli_message`` the flags, told by
    :func:`napari_srmat.cli.error_line` instead of the message; ``exc.gui_message`` the
    controls (:attr:`Option.gui`), told by the widgets (:func:`error_message` with
    ``gui=True``).

    Parameters
    ----------
    error : type of exception
        The exception to make (``OutputExistsError``, ``SRError``, ...).
    template : str
        The message, with a ``{name}`` field for each of ``fields``.
    **fields
        An :class:`Option` (worded for each caller) or any value (the same for both:
        a path, which is not read as a template).

    Returns
    -------
    exception
        To raise; ``cli_message`` holds the command's words, ``gui_message`` a widget's.

    Examples
    --------
    >>> exc = worded_error(ValueError, "{out} exists (pass {overwrite} to replace it)",
    ...                    out="a{1}.csv", overwrite=Option("overwrite=True", "--overwrite",
    ...                                                     "tick 'Overwrite'"))
    >>> str(exc)
    'a{1}.csv exists (pass overwrite=True to replace it)'
    >>> exc.cli_message
    'a{1}.csv exists (pass --overwrite to replace it)'
    >>> exc.gui_message
    "a{1}.csv exists (tick 'Overwrite' to replace it)"
    """
    def words(pick: Callable[[Option], str], text: str = template) -> str:
        return text.format(**{k: pick(v) if isinstance(v, Option) else v
                              for k, v in fields.items()})

    gui_template = template
    for k, v in fields.items():
        if isinstance(v, Option) and v.gui:  # its words say their verb
            gui_template = gui_template.replace(f"pass {{{k}}}", f"{{{k}}}")
    exc = error(words(lambda o: o.keyword))
    exc.cli_message = words(lambda o: o.flag)
    exc.gui_message = words(lambda o: o.gui or o.keyword, gui_template)
    return exc


def is_user_error(exc: BaseException) -> bool:
    """Whether ``exc`` is the user's (bad input, refused output, bad option).

    User errors are ``ValueError`` (``ImageReadError``, ``OutputError``,
    ``CheckpointError``, ...), ``FileNotFoundError``, ``FileExistsError`` and the
    CLI's ``UserError``; everything else is a system or internal error.
    """
    from .checkpoint import CheckpointError

    if type(exc).__name__ == "UserError":
        return True
    return isinstance(exc, ValueError | FileNotFoundError | FileExistsError | CheckpointError)


def is_told_in_one_line(exc: BaseException) -> bool:
    """Whether a widget tells ``exc`` as one line (:func:`error_message`), not with its
    traceback: a user error (:func:`is_user_error`) or any ``OSError`` (a file not
    readable or writable, a disk full: the user's to fix, its line naming the file),
    which the CLI tells as one line too (exit 1). The one rule of the widgets' jobs and
    buttons.

    Examples
    --------
    >>> is_told_in_one_line(PermissionError(13, "Permission denied", "a.tif"))
    True
    >>> is_told_in_one_line(RuntimeError("bad state"))
    False
    """
    return is_user_error(exc) or isinstance(exc, OSError)


def not_found_message(path: Any, what: str) -> str:
    """``PATH: WHAT not found``: the one wording of a missing input (a file, a folder, a
    checkpoint), starting with its path as every per-file error does.

    Examples
    --------
    >>> not_found_message("a.json", "audit session")
    'a.json: audit session not found'
    """
    return f"{path}: {what} not found"


def os_error_reason(exc: OSError) -> str:
    """An OS error's reason in the commands' words: its own, lower-case (``no such file
    or directory``, ``is a directory``), not Python's ``[Errno 2] ...`` line.

    Examples
    --------
    >>> os_error_reason(IsADirectoryError(21, "Is a directory", "d"))
    'is a directory'
    """
    reason = exc.strerror or str(exc) or type(exc).__name__
    return reason[:1].lower() + reason[1:]


@contextlib.contextmanager
def os_errors_named(path: str | os.PathLike,
                    within: str | os.PathLike | None = None) -> Iterator[None]:
    """Name ``path`` in an OS error out of the block that names no file (a write's or a
    close's: a disk full) or one inside ``within`` (a staging folder, whose name means
    nothing to the user): the one rule by which such an error's line
    (:func:`error_message`) says which output was being written. Until 2026-12-07 a
    disk full of ``srmat sr train`` / ``srmat edges train`` said ``error: no space left
    on device (disk full: ...)``, naming no path.

    Parameters
    ----------
    path : path-like
        The output being written (``RUN/last``).
    within : path-like, optional
        A folder whose files are named as ``path`` (the staging folder of ``path``).

    Examples
    --------
    >>> from napari_srmat.errors import error_message, os_errors_named
    >>> try:
    ...     with os_errors_named("run/last"):
    ...         raise OSError(28, "No space left on device")
    ... except OSError as full:
    ...     error_message(full).split(" (")[0]
    'run/last: no space left on device'
    """
    try:
        yield
    except OSError as exc:
        named = exc.filename
        # an error without an errno (``OSError("disk full")``) has no strerror to name a
        # file beside: a filename would turn its text into "[Errno None] None: 'path'"
        if exc.errno is not None and (
                named is None or (within is not None and _is_within(named, within))):
            exc.filename = os.fspath(path)
        raise


def _is_within(name: Any, folder: str | os.PathLike) -> bool:
    """Whether the path ``name`` is ``folder`` or inside it."""
    try:
        name, folder = os.path.abspath(os.fsdecode(name)), os.path.abspath(folder)
    except (TypeError, ValueError):  # a file descriptor, not a path
        return False
    return name == folder or name.startswith(folder.rstrip(os.sep) + os.sep)


#: OS errors that code handles as an answer, not a failure: about a path (not there,
#: already there, a folder or not), a lock or pipe that is busy, a process gone, and the
#: EINTR of a signal (a Ctrl-C's own). Reached as the error being handled (a
#: ``__context__``), such an error is one a fallback was dealing with, not one the
#: interrupt came during (:func:`os_error_behind`).
ANSWER_OS_ERRORS: tuple[type[OSError], ...] = (
    FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError,
    BlockingIOError, ChildProcessError, ProcessLookupError, InterruptedError)


def os_error_behind(exc: BaseException) -> OSError | None:
    """The OS error that ``exc`` was raised from or while handling (the chain Python's
    traceback shows: ``__cause__``, else ``__context__`` unless suppressed), nearest
    first: the disk full behind a Ctrl-C held while an output was swapped in, which
    the line of the interrupt would otherwise hide.

    An error raised *from* (``__cause__``: ``raise ... from error``, ``_atomic``'s held
    Ctrl-C) stands, whatever its kind. An error only being handled (``__context__``) is
    named when it is a failure of the system (a disk full, an I/O error, a broken pipe),
    not when it is one of :data:`ANSWER_OS_ERRORS`: code handles a missing file or a
    busy lock as an answer (a fallback reading another file, a lock taken by another
    run), and the EINTR of the press itself is no failure; the chain behind such an
    error is not searched either (it was older still). One behind an error being handled
    is being handled too, also where that error was raised from it (a ValueError ``from``
    a missing file, handled by a fallback). Until 2026-12-06 any OS error
    anywhere in the chain was named: a Ctrl-C in such a fallback said ``during an error:
    config.json: no such file or directory`` of a run in which nothing had failed.

    Limit: a failure of the system in ``__context__`` is named whether or not its
    handler would have dealt with it. Python sets ``__context__`` to the exception being
    handled whenever another is raised inside an ``except`` (or ``finally``) block, so a
    Ctrl-C that lands in a handler that recovers from an I/O error and one that lands in
    a cleanup that would have re-raised it (a disk full) leave the same chain: nothing in
    the exceptions tells the two apart. The context is kept, so that a real failure is
    not hidden; the line that names it (``during an error``) may then name one that was
    being handled.

    Parameters
    ----------
    exc : BaseException
        The error told (a KeyboardInterrupt, an ``Interrupted``).

    Returns
    -------
    OSError or None
        None when no such OS error is in the chain.

    Examples
    --------
    >>> try:
    ...     try:
    ...         raise OSError(28, "No space left on device", "out.tif")
    ...     except OSError:
    ...         raise KeyboardInterrupt
    ... except KeyboardInterrupt as ctrl_c:
    ...     os_error_behind(ctrl_c).filename
    'out.tif'
    >>> try:
    ...     try:
    ...         raise FileNotFoundError(2, "No such file or directory", "config.json")
    ...     except FileNotFoundError:  # a fallback: the defaults are used
    ...         raise KeyboardInterrupt
    ... except KeyboardInterrupt as ctrl_c:
    ...     print(os_error_behind(ctrl_c))
    None
    """
    seen: set[int] = {id(exc)}
    handled = False  # a context link was crossed: all behind it was being handled
    while True:
        handled = handled or exc.__cause__ is None
        behind = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        if behind is None or id(behind) in seen:
            return None
        if isinstance(behind, OSError):
            return None if handled and isinstance(behind, ANSWER_OS_ERRORS) else behind
        seen.add(id(behind))
        exc = behind


def add_new_lines(lines: list[str], new: Sequence[str]) -> None:
    """Append to ``lines`` each of ``new`` it does not hold yet, in order, once: the one
    rule of lines told once (a job's warnings added to the result that carries them,
    :func:`napari_srmat.cli.run_cli_job`; the walk of :func:`lines_raised_from`).

    Parameters
    ----------
    lines : list of str
        The lines told so far, extended in place.
    new : sequence of str
        Lines to tell; those already in ``lines`` (or repeated in ``new``) are skipped.

    Examples
    --------
    >>> lines = ["a", "b"]
    >>> add_new_lines(lines, ["b", "c", "c"])
    >>> lines
    ['a', 'b', 'c']
    """
    lines.extend([line for line in dict.fromkeys(new) if line not in lines])


def lines_raised_from(exc: BaseException, attr: str) -> list[str]:
    """The lines of attribute ``attr`` (a list of str) of ``exc`` and of the errors it was
    raised from (``raise ... from``), each once, innermost last: the one walk of
    :func:`error_notes` and the CLI's carried warnings.

    Examples
    --------
    >>> inner = KeyboardInterrupt()
    >>> inner.add_note("not kept")
    >>> outer = KeyboardInterrupt("kept")
    >>> outer.__cause__ = inner
    >>> lines_raised_from(outer, "__notes__")
    ['not kept']
    """
    lines: list[str] = []
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        add_new_lines(lines, getattr(link, attr, ()))
        link = link.__cause__
    return lines


def error_notes(exc: BaseException) -> list[str]:
    """The notes ``exc`` carries (``exc.add_note``: what a failed write did not keep, a
    close that failed as a run stopped): its own and those of the errors it was raised
    from (``raise ... from``), and of an interrupt the notes of the OS error it came
    during (:func:`os_error_behind`, which its line names), each once, innermost last.
    The one rule of the notes told with an error: the CLI prints a warning line of each
    after the error's line, a widget adds them to it (:func:`error_message` with
    ``gui``). Until 2026-12-07 the notes of the OS error behind an interrupt (a Ctrl-C
    while a failed epoch's events were told) were dropped, and a widget told none.

    Examples
    --------
    >>> try:
    ...     try:
    ...         full = OSError(28, "No space left on device", "run/last")
    ...         full.add_note("epoch 2 (val AP 0.5000) not kept in run/last")
    ...         raise full
    ...     except OSError:
    ...         raise KeyboardInterrupt
    ... except KeyboardInterrupt as ctrl_c:
    ...     error_notes(ctrl_c)
    ['epoch 2 (val AP 0.5000) not kept in run/last']
    """
    notes = lines_raised_from(exc, "__notes__")
    behind = os_error_behind(exc) if isinstance(exc, KeyboardInterrupt) else None
    if behind is not None:
        notes += [n for n in lines_raised_from(behind, "__notes__") if n not in notes]
    return notes


#: What a disk full's hint (:func:`disk_full_hint`) says to do once space is freed, where
#: no rerun of the command is given: a command that writes its output again resumes it.
DISK_FULL_RERUN = "rerun the same command to resume"

#: The same in a widget (``gui``), whose user has no command to rerun: its job run again.
DISK_FULL_RERUN_GUI = "run it again"


def disk_full_hint(rerun: str | None = None, *, gui: bool = False) -> str:
    """The end of a disk full's line (:func:`error_message`): `` (disk full: free space
    and RERUN)``, ``rerun`` what a rerun of the command does where the command knows it
    (a training: ``rerun it with --resume to continue after epoch 3 (RUN/last)``,
    :func:`napari_srmat.cli._training.rerun_after_stop`), else :data:`DISK_FULL_RERUN`
    (:data:`DISK_FULL_RERUN_GUI` with ``gui``: a widget tells it). The one wording of the
    hint: until 2026-12-07 ``srmat edges train`` said "rerun the same command to resume",
    which it refuses without ``--resume``, and so did every widget, which has no command.

    Examples
    --------
    >>> disk_full_hint()
    ' (disk full: free space and rerun the same command to resume)'
    >>> disk_full_hint(gui=True)
    ' (disk full: free space and run it again)'
    >>> disk_full_hint("rerun it with --resume to continue after epoch 3 (run/last)")
    ' (disk full: free space; rerun it with --resume to continue after epoch 3 (run/last))'
    """
    if rerun:
        return f" (disk full: free space; {rerun})"
    return f" (disk full: free space and {DISK_FULL_RERUN_GUI if gui else DISK_FULL_RERUN})"


def error_message(exc: BaseException, *, gui: bool = False, rerun: str | None = None) -> str:
    """One line describing ``exc`` for the user (no traceback).

    User errors and OS errors are their message (an OS error as ``path: reason``,
    with a hint when the disk is full); other errors are marked as internal with
    their type, to be reported with the traceback (``srmat --debug``). With ``gui``
    (a widget tells it), a refusal worded by :func:`worded_error` names the widgets'
    controls (``exc.gui_message``) instead of the Python keywords, and the line ends
    with its notes (:func:`error_notes`, ``; NOTE`` each), which the CLI tells as
    warning lines after it. ``rerun``: what a rerun of the command does, said by a disk
    full's hint (:func:`disk_full_hint`); with ``gui`` and no ``rerun``, the widget's
    rerun the error carries (``exc.gui_rerun``: a training's, worded with the Train
    widget's controls), else the hint's words for a widget. The one rule of every
    widget's line, its status line and its notification alike: until 2026-12-07 the
    notification of a training's disk full said "rerun the same command to resume"
    while its status line said the widget's rerun.

    Examples
    --------
    >>> error_message(FileNotFoundError(2, "No such file or directory", "a.png"))
    'a.png: no such file or directory'
    >>> error_message(RuntimeError("bad\\nstate"))
    'internal error: RuntimeError: bad state'
    >>> failed = ValueError("weights not finite")
    >>> failed.add_note("epoch 2 not kept in run/last")
    >>> error_message(failed, gui=True)
    'weights not finite; epoch 2 not kept in run/last'
    >>> full = OSError(28, "No space left on device", "run/last")
    >>> full.gui_rerun = "tick 'Resume' and run it again"
    >>> error_message(full, gui=True)
    "run/last: no space left on device (disk full: free space; tick 'Resume' and run it again)"
    """
    text = (gui and getattr(exc, "gui_message", None)) or str(exc) or type(exc).__name__
    if gui and rerun is None:
        rerun = getattr(exc, "gui_rerun", None)
    if isinstance(exc, OSError):
        if exc.filename and exc.strerror:
            text = f"{exc.filename}: {os_error_reason(exc)}"
        elif exc.strerror:  # its reason, not Python's "[Errno 32] Broken pipe"
            text = os_error_reason(exc)
        if exc.errno == errno.ENOSPC:
            text += disk_full_hint(rerun, gui=gui)
    elif isinstance(exc, MemoryError):
        text = ("out of memory (try a smaller tile or batch size, or write to an "
                "OME-Zarr store)")
    elif not is_user_error(exc):
        text = f"internal error: {type(exc).__name__}: {text}"
    if gui:
        text = "; ".join([text, *error_notes(exc)])
    return one_line(text)


def one_line(message: object) -> str:
    """A message as one line: its runs of whitespace, newlines included, as single
    spaces (every one-line message: an error's (:func:`error_message`), the CLI's warning
    and note lines, a ``--json`` result's ``warnings``).

    Examples
    --------
    >>> one_line("a\\n  b ")
    'a b'
    """
    return " ".join(str(message).split())


def exception_reason(exc: BaseException) -> str:
    """Why an exception was raised, as one line for a message's parentheses: its text
    (:func:`one_line`), or its type's name where it has none (an empty message read
    "corrupt ()" before).

    Examples
    --------
    >>> exception_reason(ValueError("bad\\n  code"))
    'bad code'
    >>> exception_reason(KeyError())
    'KeyError'
    """
    return one_line(exc) or type(exc).__name__


#: The comparisons :func:`compared_value` words, by their sign.
COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}

#: The most decimals :func:`compared_value` adds before it shows the value in full.
MAX_COMPARED_DECIMALS = 6


def compared_value(value: float, relation: str, limit: float, *, decimals: int = 2) -> str:
    """``value`` as a message that compares it with ``limit`` shows it: to ``decimals``
    decimals, or to as many more as it takes for the number shown to stand in
    ``relation`` to the limit shown (``:g``), so that the line agrees with its verdict:
    an SSIM of 0.2998 below 0.3 read 'ssim 0.30 < 0.3'. The one rule of such threshold
    lines (:func:`compared_text`).

    Parameters
    ----------
    value : float
        The value measured, which stands in ``relation`` to ``limit``.
    relation : str
        ``"<"``, ``"<="``, ``">"`` or ``">="`` (:data:`COMPARISONS`).
    limit : float
        The threshold.
    decimals : int
        The decimals shown when they suffice.

    Returns
    -------
    str
        The value's text (its full ``repr`` when :data:`MAX_COMPARED_DECIMALS` do not
        suffice, or it does not stand in ``relation`` at all).

    Examples
    --------
    >>> compared_value(0.2998, "<", 0.3), compared_value(0.26, "<", 0.3)
    ('0.2998', '0.26')
    >>> compared_value(10.04, ">", 10, decimals=1)
    '10.04'
    """
    holds = COMPARISONS[relation]
    shown_limit = float(f"{limit:g}")
    for digits in range(decimals, max(decimals, MAX_COMPARED_DECIMALS) + 1):
        text = f"{value:.{digits}f}"
        if holds(float(text), shown_limit):
            return text
    return repr(float(value))


def compared_text(value: float, relation: str, limit: float, *, decimals: int = 2) -> str:
    """``VALUE RELATION LIMIT`` (``0.2998 < 0.3``), the value as :func:`compared_value`
    shows it and the limit as ``:g``.

    Parameters
    ----------
    value, relation, limit, decimals
        As :func:`compared_value`'s.

    Returns
    -------
    str

    Examples
    --------
    >>> compared_text(0.2998, "<", 0.3)
    '0.2998 < 0.3'
    """
    return f"{compared_value(value, relation, limit, decimals=decimals)} {relation} {limit:g}"
