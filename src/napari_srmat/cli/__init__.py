"""The ``srmat`` command-line tool.

Each area registers its subcommands from its own module in this package
(``napari_srmat.cli.<area>``), exposing ``register(subparsers)``. A subcommand
handler receives the parsed ``argparse.Namespace`` and returns an exit code.
Handlers that report numbers accept ``--json`` and print exactly one JSON object
to stdout (progress goes to stderr).

Errors that are the user's (bad file, bad option, refused output) are raised as
:class:`UserError` or the library's ``ValueError``/``FileNotFoundError`` subclasses
and printed as one clear line (exit 2); system errors (permissions, disk full) and
internal errors also print one line (exit 1). A run that stops before completion, on
Ctrl-C or because its job stopped on request (:func:`run_cli_job`), is one line too and
exits with :data:`EXIT_INTERRUPTED`; a time budget the user gave that is reached
(``srmat sr train --time-limit``) is a normal end (exit 0). A result goes to stdout,
progress, notes, warnings and errors to stderr. ``srmat --debug ...`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import math
import os
import re
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from ..errors import (
    add_new_lines,
    error_message,
    error_notes,
    is_user_error,
    lines_raised_from,
    one_line,
    os_error_behind,
)

__all__ = ["main", "UserError", "print_json", "build_parser", "pixel_size_arg", "naming_file",
           "error_line", "command_error_message", "check_tile_flags", "command_name",
           "missing_action", "input_path_arg", "naming_roles", "EXIT_INTERRUPTED", "Interrupted",
           "run_cli_job", "add_new_lines", "DeprecatedAlias", "AlreadyCompleteWatch",
           "add_renamed_option", "print_json_result", "tell_listed", "check_distinct_inputs"]

#: Modules in this package that contribute subcommands, in help order.
SUBCOMMAND_MODULES = (
    "demo",
    "info",
    "synth",
    "heyn",
    "grainsize",
    "evalmaps",
    "sr",
    "rescan",
    "registration",
    "edges",
    "experiment",
    "audit",
)


#: help of the ``--device`` flags (the values of :func:`napari_srmat.device.resolve_device`)
DEVICE_HELP = ("where the model runs: auto (CUDA, then Apple MPS, else the CPU), cpu, cuda, "
               "cuda:N or mps (default %(default)s)")

#: help of the Heyn ``--pattern`` flags
PATTERN_HELP = ("test lines laid over the boundaries: random lines, a grid (rows and "
                "columns) or circles (default %(default)s)")


class UserError(Exception):
    """An error caused by the user's input; printed without a traceback."""


#: Exit code of a run that stopped before completion: interrupted (Ctrl-C) or its job
#: stopped on request. The shell's 128 + SIGINT, distinct from the user's errors (2) and
#: system or internal errors (1).
EXIT_INTERRUPTED = 130

#: Exit code of a command ended by SIGTERM (``kill``, ``scancel``, a shutdown): the
#: shell's 128 + SIGTERM. The command ends as after a Ctrl-C (:func:`_sigterm_as_ctrl_c`).
EXIT_TERMINATED = 143

#: How to resume, in the line of a stopped command that resumes its partial output.
RERUN_TO_RESUME = "rerun the same command to resume"

#: How to resume, in the line of a stopped command run with ``--no-resume`` (the same
#: command starts over).
RERUN_WITHOUT_NO_RESUME = "rerun without --no-resume to resume"


def rerun_to_resume(no_resume: bool) -> str:
    """How a command that resumes its ``OUT.partial`` (``srmat sr run``, ``srmat edges
    predict``) is resumed after a stop: the same command, unless it was given
    ``--no-resume`` (which starts over).

    Parameters
    ----------
    no_resume : bool
        The command's ``--no-resume``.

    Returns
    -------
    str
        :data:`RERUN_TO_RESUME` or :data:`RERUN_WITHOUT_NO_RESUME`.
    """
    return RERUN_WITHOUT_NO_RESUME if no_resume else RERUN_TO_RESUME


#: What a Ctrl-C kept, in its line, where the job does not say (a stored tiled run says
#: it: :func:`run_cli_job`).
CTRL_C_KEPT = "a partial output, if any, is kept"

#: What the line of a Ctrl-C says where its command's resume is not known (a command that
#: does not resume, or one that does pressed before its job started): the words of
#: :data:`CTRL_C_KEPT` and a rerun, as a job's Ctrl-C (``...; rerun the same command to
#: resume``). Until 2026-12-07 it said "... is kept for a rerun": ``srmat sr run`` told two
#: wordings of the same state, whether the press came before or in its job.
CTRL_C_NO_RESUME = f"{CTRL_C_KEPT}; rerun the same command"

#: Whether what a stored tiled run kept (:func:`napari_srmat.tiling._engine.stopped_line`'s
#: words) is nothing: its line then tells the rerun (``nothing kept: ... so a rerun
#: computes every tile again``), with no resume line after it.
_KEPT_NOTHING = "; nothing kept:"

#: What the line of a Ctrl-C says in a command that writes no file (``srmat heyn``): no
#: partial output to keep or resume.
CTRL_C_NO_OUTPUT = "it writes no file: rerun the command"

#: The parser default by which a command says whether it writes output files, which a
#: Ctrl-C can leave partial: ``p.set_defaults(**{WRITES_OUTPUT: False})`` for one that
#: writes none, a tuple of option names (``("plot",)``) for one that writes only when one
#: of them is given; unset, a command writes some (:func:`writes_output`,
#: :func:`interrupted_line`).
WRITES_OUTPUT = "writes_output"


def writes_output(args: argparse.Namespace) -> bool:
    """Whether the parsed command writes output files (its parser's :data:`WRITES_OUTPUT`).

    Parameters
    ----------
    args : argparse.Namespace
        The command's parsed arguments.

    Returns
    -------
    bool
        False where the parser says it writes none, or names output options of which
        none was given; True otherwise (also where it says nothing).

    Examples
    --------
    >>> writes_output(argparse.Namespace(**{WRITES_OUTPUT: ("plot",), "plot": None}))
    False
    >>> writes_output(argparse.Namespace(**{WRITES_OUTPUT: ("plot",), "plot": "c.png"}))
    True
    >>> writes_output(argparse.Namespace())
    True
    """
    said = getattr(args, WRITES_OUTPUT, True)
    if isinstance(said, tuple):
        return any(getattr(args, option, None) for option in said)
    return bool(said)


class Interrupted(KeyboardInterrupt):
    """A command's job stopped before completion on request, or by a Ctrl-C in a command
    that resumes (:func:`run_cli_job`).

    A :class:`KeyboardInterrupt`, so that it ends the command as a Ctrl-C does (no handler
    of errors of one input takes it for one): :func:`main` prints
    ``srmat CMD: interrupted (MESSAGE)`` and returns :data:`EXIT_INTERRUPTED`. ``rerun``
    (optional): what a rerun does (a training's ``rerun it with --resume ...``), which a
    disk full's hint in its line says too (:func:`interrupted_line`).
    """

    def __init__(self, *args: object, rerun: str | None = None) -> None:
        super().__init__(*args)
        self.rerun = rerun


#: What gives the command :func:`main` runs (:func:`command_name`, read when needed: ``srmat
#: sr`` names its action once it parses it), for the lines told on its behalf (a job's
#: warnings, :func:`run_cli_job`); ``"srmat"`` outside :func:`main`.
_RUNNING_COMMAND: ContextVar[Callable[[], str]] = ContextVar("srmat_command",
                                                             default=lambda: "srmat")
#: The list of the innermost :func:`told_warnings` block, if any: a job's warning lines
#: (:func:`run_cli_job`) are listed in it as Python warnings are.
_TOLD: ContextVar[list[str] | None] = ContextVar("srmat_told", default=None)


def run_cli_job(gen: Any, *, resume: str | None = None, quiet: bool = False,
                on_event: Callable[[Any], None] | None = None,
                warnings: list[str] | None = None,
                about: str | os.PathLike | None = None) -> Any:
    """Drive a job generator for a command (:func:`napari_srmat.jobs.run_job`, progress
    on stderr) and return its result; the one rule of a job that stops before completion,
    and of a job's warnings (a warning :class:`napari_srmat.jobs.Log`: the tiled runner's
    out-of-memory fall-backs, a distributed run's messages, ...), told once in every mode:
    into ``warnings`` where the command's result has its own list (the command prints and
    lists them with the result's other warnings); else printed as they come as the
    command's warning lines (:func:`warning_line`, ``srmat CMD: warning: message``; with
    ``quiet`` too: it silences progress and other messages only) and listed with them in
    a :func:`told_warnings` block (a ``--json`` result's top-level ``warnings``). An
    error event (of a job that goes on after it) is the command's error line
    (``srmat CMD: error: message``), in every mode too. Its other
    messages ``[info] ...``, ``[notice] ...``.

    Parameters
    ----------
    gen : generator
        The job.
    resume : str, optional
        How the command resumes what the stopped or interrupted (Ctrl-C) job kept (e.g.
        :data:`RERUN_TO_RESUME`); None for a command that does not resume.
    quiet : bool
        No progress nor ``[info]`` lines (``--json`` of some commands); warnings are
        still told.
    on_event : callable, optional
        Called with every event, as ``run_job``'s.
    warnings : list of str, optional
        The result's warnings, which the command tells (``srmat grain-size``'s image
        rows, ``srmat plan-rescan``'s plan), perhaps holding some already (what reading
        the image told): the job's warnings are appended to it (one line each) instead of
        being printed here. Where the job fails or stops, the result that would carry
        them is not made: its error carries the list, all of it, in order
        (:func:`carried_warnings`), told before its line by whoever tells it (``srmat``'s
        own line). Until 2026-12-06 it carried the job's lines only, and ``srmat
        grain-size`` carried its read notes again after them: a failed image told them
        after its job's warnings, a measured one before.
    about : str or os.PathLike, optional
        The input the job is about, one of several (``srmat grain-size``'s image): the
        lines told here and those its error carries name it (:func:`about_file`,
        ``srmat CMD: warning: PATH: message``), as the result's rows do.

    Returns
    -------
    object
        The job's result.

    Raises
    ------
    Interrupted
        The job yielded :class:`napari_srmat.jobs.Stopped`: its message (what was kept)
        and ``resume``; or a Ctrl-C (KeyboardInterrupt) came during the job of a command
        that resumes: what a stored tiled run kept
        (:func:`napari_srmat.tiling._engine.kept_at_interrupt`: ``after 4 of 36 tiles;
        2 of 9 output chunks ... kept ...``), else :data:`CTRL_C_KEPT`, and ``resume``;
        where the run kept nothing (``after 4 of 36 tiles; nothing kept: ... so a rerun
        computes every tile again``) that line alone: there is nothing to resume.
    KeyboardInterrupt
        A Ctrl-C during the job of a command that does not resume.
    """
    from ..jobs import Log, Stopped, run_job

    stops: list[Stopped] = []
    where, told = _RUNNING_COMMAND.get(), _TOLD.get()

    def job_warning(message: str) -> str | None:
        """Tell a job's warning once: into ``warnings``, or its printed line (None: not
        printed here), listed as told (``--json``)."""
        text = one_line(message)
        if warnings is not None:
            warnings.append(text)
            return None
        text = named(text)
        if told is not None:
            told.append(text)
        return warning_line(where(), text)

    def named(text: str) -> str:
        return text if about is None else about_file(about, text)

    def job_error(message: str) -> str:
        """The line of a job's error event (the job goes on), naming ``about``."""
        return message_line(where(), "error", named(message))

    # the levels told as the command's own lines in every mode (what the user must not
    # miss); the others are progress, silenced by quiet
    lines = {"warning": job_warning, "error": job_error}

    def note(event: Any) -> None:
        if isinstance(event, Stopped):
            stops.append(event)
        if quiet and isinstance(event, Log) and event.level in lines:
            line = lines[event.level](event.message)  # run_job shows nothing when quiet
            if line is not None:
                print(line, file=sys.stderr)
        if on_event is not None:
            on_event(event)

    # the job ends without a result to carry ``warnings``: its error (or interrupt, or
    # stop) carries them, once, told before its line
    with (contextlib.nullcontext() if warnings is None
          else carried_if_failed(warnings, about=about)):
        try:
            # the stop is told once, by main's "interrupted (MESSAGE)" line
            result = run_job(gen, quiet=quiet, on_event=note, show_stopped=False,
                             level_lines=lines)
        except KeyboardInterrupt as exc:  # a Ctrl-C: the line says what it kept (a stored
            if resume is None or isinstance(exc, Interrupted):  # tiled run's chunks) and
                raise  # how to resume, if it can
            from ..tiling._engine import kept_at_interrupt

            kept = kept_at_interrupt(exc)
            if kept is not None and _KEPT_NOTHING in kept:  # no "rerun to resume": nothing
                raise Interrupted(kept) from exc  # to resume (until 2026-12-07 it said so)
            raise Interrupted(f"{kept or CTRL_C_KEPT}; {resume}") from exc
        if stops:
            raise Interrupted("; ".join(filter(None, (stops[-1].message, resume))))
    return result


#: The attribute of an error (or interrupt) that carries the warnings its job told and no
#: result carries (:func:`run_cli_job`'s ``warnings``), for whoever tells the error to
#: tell them first (:func:`carried_warnings`).
CARRIED_WARNINGS_ATTR = "srmat_carried_warnings"


def carry_warnings(exc: BaseException, lines: Sequence[str]) -> None:
    """Let ``exc`` carry ``lines`` (warnings, one line each), told before those it carries
    already (what its block's own rules made it carry: a job's warnings, a measurement's
    fall-backs), each once (:func:`carried_warnings`, which also tells each once over the
    errors it was raised from): the one storing rule of :func:`carried_if_failed`. Until
    2026-12-06 there were two (this one put ``lines`` after, and checked repeats over the
    errors ``exc`` was raised from); only :func:`carried_if_failed` and tests called it.

    Parameters
    ----------
    exc : BaseException
        The error (or interrupt) of a block whose result would have carried them.
    lines : sequence of str
        The warnings' text, without ``srmat CMD: warning:``, as told (before the block's
        error).

    Examples
    --------
    >>> exc = ValueError("too small")
    >>> carry_warnings(exc, ["out of memory at batch size 8: retrying with 4"])
    >>> carry_warnings(exc, ["a.png: no pixel size", "a.png: no pixel size"])
    >>> carried_warnings(exc)
    ['a.png: no pixel size', 'out of memory at batch size 8: retrying with 4']
    """
    stored = list(dict.fromkeys(lines))
    add_new_lines(stored, getattr(exc, CARRIED_WARNINGS_ATTR, ()))
    setattr(exc, CARRIED_WARNINGS_ATTR, stored)


@contextlib.contextmanager
def carried_if_failed(told: list[str], about: str | os.PathLike | None = None
                      ) -> Iterator[list[str]]:
    """Let an error (or interrupt: a Ctrl-C, a stopped job) of the block carry the warnings
    told so far (:func:`carry_warnings`), the list ``told`` as it is when the block raises:
    the result that would carry them (an input's row, a plan) is not made, and whoever tells
    the error tells them first, once (``srmat``'s own line, also with ``--debug``;
    :class:`FailedInput`, an input of several, tells ``told`` itself). The one rule of what
    an input told before it failed: what reading it told (:func:`notes_of_reading`, a
    pixel-size note), then its job's warnings (:func:`run_cli_job`'s ``warnings``). Until
    2026-12-06 ``srmat heyn`` kept its read notes by a rule of its own (lost on a Ctrl-C,
    unnamed with ``--debug``) and ``srmat plan-rescan`` its pixel-size note not at all.

    Parameters
    ----------
    told : list of str
        The warnings' text, without ``srmat CMD: warning:``, filled as the block goes.
    about : str or os.PathLike, optional
        The input, one of several, they are about: each is carried named
        (:func:`about_file`), as its row's lines are told.

    Yields
    ------
    list of str
        ``told``.

    Examples
    --------
    >>> told = ["the file records 150 dpi"]
    >>> try:
    ...     with carried_if_failed(told, about="a.png"):
    ...         raise ValueError("too small")
    ... except ValueError as exc:
    ...     carried_warnings(exc)
    ['a.png: the file records 150 dpi']
    """
    try:
        yield told
    except BaseException as exc:  # told before what the error carries from its block
        carry_warnings(exc, [text if about is None else about_file(about, text)
                             for text in told])
        raise


def carried_warnings(exc: BaseException) -> list[str]:
    """The warnings ``exc`` and the errors it was raised from carry (:func:`carry_warnings`:
    a job that warned and then failed or stopped), each once, innermost last: what the
    one line of the error is to follow (:func:`main`, also with ``--debug``).

    Parameters
    ----------
    exc : BaseException
        The error (or interrupt) told.

    Returns
    -------
    list of str
        The warnings' text, without ``srmat CMD: warning:``; empty when none is carried.

    Examples
    --------
    >>> ctrl_c = KeyboardInterrupt()
    >>> carry_warnings(ctrl_c, ["out of memory at batch size 8: retrying with 4"])
    >>> try:
    ...     raise Interrupted("kept") from ctrl_c
    ... except Interrupted as exc:
    ...     carried_warnings(exc)
    ['out of memory at batch size 8: retrying with 4']
    """
    return lines_raised_from(exc, CARRIED_WARNINGS_ATTR)


def about_file(path: str | os.PathLike, text: str) -> str:
    """``text`` about one of several input files, naming it: ``PATH: text``, unless it
    names the file already (:func:`named_first`: its first words are the path, as given
    or as pathlib writes it: ``./a.png`` is ``a.png``). The one rule of an error
    (:func:`naming_file`) and a warning about one file (``srmat grain-size``'s image,
    ``srmat heyn``'s mask). Until 2026-12-06 the path anywhere in the text named it: a
    warning about the mask file ``mask`` that said "the mask's pixels" was told unnamed.

    Parameters
    ----------
    path : str or os.PathLike
        The input file.
    text : str
        The message about it.

    Returns
    -------
    str
        ``text``, named.

    Examples
    --------
    >>> about_file("./a.png", "mask is too small")
    './a.png: mask is too small'
    >>> about_file("./a.png", "a.png: no such file or directory")
    'a.png: no such file or directory'
    >>> about_file("grains", "no grains found")
    'grains: no grains found'
    """
    if named_first(path, text):
        return text
    return f"{path}: {text}"


def named_first(path: str | os.PathLike, text: str) -> str:
    """The path that ``text`` starts with, as the subject of its words, naming input file
    ``path``: as given or as pathlib writes it, followed by ``:`` (``a.png: too small``)
    or, for a name with a suffix or a folder, a space (``a.png is damaged``), the
    library's forms; ``""`` when it names the file elsewhere or not at all (the rule of
    :func:`about_file`). A bare name followed by a space is a word of the message: the
    empty mask ``no``'s "no boundary at all" names no file (until 2026-12-06 it was taken
    as named, and told unnamed).

    Parameters
    ----------
    path : str or os.PathLike
        The input file.
    text : str
        A message, perhaps about it.

    Returns
    -------
    str
        The path as ``text`` writes it, or ``""``.

    Examples
    --------
    >>> named_first("./a.png", "a.png is damaged")
    'a.png'
    >>> named_first("a.png", "cannot read a.png")
    ''
    >>> named_first("a", "a.png: too small")
    ''
    >>> named_first("no", "no boundary at all")
    ''
    """
    for name in dict.fromkeys((str(path), str(Path(path)))):
        if not text.startswith(name):
            continue
        end = text[len(name):len(name) + 1]
        if end == NAME_END or (end == PATH_NAME_END
                               and (Path(name).suffix or len(Path(name).parts) > 1)):
            return name
    return ""


#: What follows a path that a message starts with, naming its file (:func:`named_first`):
#: ``PATH: ...``; and ``PATH is ...`` where the name has a suffix or a folder.
NAME_END = ":"
PATH_NAME_END = " "


def failed_input(path: str | os.PathLike, message: str, warnings: Sequence[str]) -> dict:
    """The ``--json`` entry (under ``errors``) of one of several inputs that could not be
    read or measured: ``{"path", "error", "warnings"}``, its warnings as given: without
    the path (the entry's), as an input's row lists them.

    The one rule of several inputs (``srmat grain-size``'s images, ``srmat heyn``'s
    masks): an input that fails costs the others nothing. Its warnings and error line
    are told in the inputs' order as it fails, each measured input's row is reported,
    the failed one is listed in ``errors`` and the exit code says that not all were
    measured (:func:`failed_inputs_exit_code`); a figure pooled over the inputs (``srmat
    heyn``'s pooled ℓ̄, ``srmat grain-size --method``'s specimen summary) is withheld
    (null), since a smaller pool than the one given would be another specimen's figure
    without saying so.

    Parameters
    ----------
    path : str or os.PathLike
        The input.
    message : str
        Its error (:func:`command_error_message`).
    warnings : sequence of str
        What its run told before it failed, as told, not named (the lines its stderr
        names by :func:`about_file`). Until 2026-12-06 they were given named and the
        name was stripped again here.

    Returns
    -------
    dict
        The entry.

    Examples
    --------
    >>> failed_input("b.png", "b.png: too small", ["no pixel size"])
    {'path': 'b.png', 'error': 'b.png: too small', 'warnings': ['no pixel size']}
    """
    return {"path": str(path), "error": message, "warnings": list(warnings)}


@dataclasses.dataclass(frozen=True)
class FailedInput:
    """An input, one of several, that failed: the one rule of how its lines are told (what
    it told before it failed, named, once each, then its one error line, on stderr) and of
    its ``--json`` entry (:func:`failed_input`), ``srmat heyn``'s masks and ``srmat
    grain-size``'s images alike. Made where the input failed (:meth:`of`, also on a
    cluster's worker, whose stderr is not the user's: plain data, pickled back) and told
    by the command (:meth:`tell`), in its inputs' order. Until 2026-12-06 ``srmat
    grain-size`` told its images by a rule of its own (``_measure_or_error``'s tuple).
    What an input told is ``told`` alone: its error carries the same lines, named
    (:func:`carried_if_failed`; :func:`run_cli_job` appends its job's warnings to
    ``told``). Until 2026-12-06 :meth:`of` also added what the error carried besides,
    which no command's input could carry (only a monkeypatched test reached it).

    Attributes
    ----------
    where : str
        The command, e.g. ``"srmat heyn"``.
    path : str
        The input.
    warnings : tuple of str
        What it told before it failed, as told, not named, each once.
    line : str
        Its error line (:func:`error_line`).
    message : str
        Its error's message (:func:`command_error_message`), its ``--json`` entry's.
    user : bool
        Whether the error is the user's (:func:`napari_srmat.errors.is_user_error`).

    Examples
    --------
    >>> failed = FailedInput.of("srmat heyn", "b.png", ValueError("b.png: too small"),
    ...                         ["the file records 150 dpi", "the file records 150 dpi"])
    >>> failed.tell()  # its lines on stderr: the warning, named, then the error
    {'path': 'b.png', 'error': 'b.png: too small', 'warnings': ['the file records 150 dpi']}
    """

    where: str
    path: str
    warnings: tuple[str, ...]
    line: str
    message: str
    user: bool

    @classmethod
    def of(cls, where: str, path: str | os.PathLike, exc: BaseException,
           told: Sequence[str]) -> FailedInput:
        """Input ``path`` failed with ``exc`` after telling ``told``.

        Parameters
        ----------
        where : str
            The command.
        path : str or os.PathLike
            The input.
        exc : BaseException
            Its error.
        told : sequence of str
            What it told before it failed, not named (the list its
            :func:`carried_if_failed` block filled, which ``exc`` carries named).

        Returns
        -------
        FailedInput
        """
        return cls(where, str(path), tuple(dict.fromkeys(told)), error_line(where, exc),
                   command_error_message(exc), is_user_error(exc))

    def tell(self) -> dict:
        """Print its lines on stderr (its warnings, named, then its error line) and return
        its ``--json`` entry (:func:`failed_input`).

        Returns
        -------
        dict
            ``{"path", "error", "warnings"}``.
        """
        tell_about_file(self.where, self.path, self.warnings)
        print(self.line, file=sys.stderr)
        return self.entry()

    def entry(self) -> dict:
        """Its ``--json`` entry (:func:`failed_input`): ``{"path", "error", "warnings"}``."""
        return failed_input(self.path, self.message, self.warnings)


def tell_about_file(where: str, path: str | os.PathLike, warnings: Sequence[str]) -> None:
    """Print warnings about one input of several, a warning line each on stderr, naming it
    (:func:`about_file`): the one rule of an input's lines (``srmat grain-size``'s image
    rows, :meth:`FailedInput.tell`).

    Parameters
    ----------
    where : str
        The command, e.g. ``"srmat grain-size"``.
    path : str or os.PathLike
        The input.
    warnings : sequence of str
        What it told, not named.

    Examples
    --------
    >>> import contextlib, io
    >>> with contextlib.redirect_stderr(io.StringIO()) as err:
    ...     tell_about_file("srmat heyn", "a.png", ["no pixel size", "a.png: too dark"])
    >>> print(err.getvalue(), end="")
    srmat heyn: warning: a.png: no pixel size
    srmat heyn: warning: a.png: too dark
    """
    for text in warnings:
        print(warning_line(where, about_file(path, text)), file=sys.stderr)


@dataclasses.dataclass(frozen=True)
class OpenedInput:
    """One input of several (``srmat grain-size``'s image, ``srmat heyn``'s mask) as
    :func:`open_input` opened it.

    Attributes
    ----------
    image : Micrograph
        The file, opened (lazy).
    read : object
        What ``open_input``'s ``read`` returned (None without one).
    read_notes : list of str
        What opening and reading it told, not named (:func:`notes_of_reading`), for its
        row.
    pixel_note : str or None
        Its file's note on its pixel size (:func:`napari_srmat.io.pixel_size_note`).
    """

    image: Any
    read: Any
    read_notes: list[str]
    pixel_note: str | None


#: What a mask input of ``srmat heyn`` and ``srmat grain-size --mask`` is called in its
#: errors (``PATH: boundary mask not found``; :func:`open_input`'s ``what``).
MASK_INPUT = "boundary mask"


def open_input(path: str | os.PathLike, told: list[str], open_file: Callable[[Any], Any],
               *, what: str, pixel_size_um: float | None,
               read: Callable[[Any], Any] | None = None) -> OpenedInput:
    """Open one input of several and say what it told: the one rule of ``srmat
    grain-size``'s images and ``srmat heyn``'s masks. ``told`` (the list of the input's
    :func:`carried_if_failed` block) receives what opening and reading it told
    (:func:`notes_of_reading`), also when that fails, then, once it is open, its file's
    note on its pixel size (:func:`napari_srmat.io.pixel_size_note`: a 150 dpi print
    resolution taken for none, non-square pixels, a given size that differs from the
    file's), which its row carries: told if ``read`` or measuring it then refuses it
    (:class:`FailedInput`). Not the row's
    :data:`napari_srmat.grainsize.NO_PIXEL_SIZE_NOTE` ("no pixel size (from the file or
    given)": µm and G null), which says nothing of an input that gives no row. Until
    2026-12-06 each command wrote this block, ``srmat grain-size`` worked out the note
    again for ``--method``'s field, and an input refused by ``read``'s checks (too large
    for memory, ``--method``'s field) did not tell its file's note.

    Parameters
    ----------
    path : str or os.PathLike
        The input.
    told : list of str
        What the input told so far, not named; appended to.
    open_file : callable
        Opens ``path`` (``read_image``, ``open_mask_file``).
    what : str
        What the input is (``"image"``, ``"boundary mask"``): a missing one is told as
        ``PATH: WHAT not found`` (:func:`napari_srmat.io.file_not_found`, the one wording
        of a missing input), whichever reader opens it; until 2026-12-06 ``srmat
        grain-size`` said ``PATH: no such file or directory`` of an image, ``srmat heyn``
        ``PATH: boundary mask not found``.
    pixel_size_um : float or None
        ``--pixel-size-um``.
    read : callable, optional
        Called with the opened file, what reading it tells collected too (checks, the
        pixels read whole).

    Returns
    -------
    OpenedInput
    """
    from ..io import file_not_found, pixel_size_note

    if not os.path.exists(path):
        raise file_not_found(path, what)
    read_notes: list[str] = []
    note = None  # the file's note on its pixel size, once it is open
    try:
        with notes_of_reading(path, pixel_size_given=pixel_size_um is not None) as read_notes:
            image = open_file(path)
            note = pixel_size_note(image, given=pixel_size_um)
            value = None if read is None else read(image)
    finally:  # also what a read that then failed told, then the note
        told += read_notes
        if note is not None:
            told.append(note)
    return OpenedInput(image, value, read_notes, note)


def failed_inputs_exit_code(user_errors: Sequence[bool]) -> int:
    """The exit code of a command of several inputs some of which failed
    (:func:`failed_input`'s rule): 0 when none did, 2 when every error was the user's
    input, else 1.

    Parameters
    ----------
    user_errors : sequence of bool
        Whether each failed input's error was the user's
        (:func:`napari_srmat.errors.is_user_error`).

    Returns
    -------
    int
        The exit code.

    Examples
    --------
    >>> [failed_inputs_exit_code(e) for e in ([], [True], [True, False])]
    [0, 2, 1]
    """
    if not user_errors:
        return 0
    return 2 if all(user_errors) else 1


def not_measured_text(n_failed: int, n_inputs: int, inputs: str) -> str:
    """How a withheld pooled figure's line says why (:func:`failed_input`'s rule):
    ``K of N INPUTS could not be measured``.

    Parameters
    ----------
    n_failed : int
        The inputs that failed.
    n_inputs : int
        The inputs given.
    inputs : str
        What they are, plural (``"masks"``, ``"fields"``).

    Returns
    -------
    str

    Examples
    --------
    >>> not_measured_text(1, 3, "masks")
    '1 of 3 masks could not be measured'
    """
    return f"{n_failed} of {n_inputs} {inputs} could not be measured"


#: What a command's line adds when its job's output was already complete (nothing done).
ALREADY_COMPLETE_NOTE = " (already complete from an earlier run)"


class AlreadyCompleteWatch:
    """The ``on_event`` of :func:`run_cli_job` that notes whether the job said its output
    was already complete (:class:`napari_srmat.jobs.AlreadyComplete`: nothing was done),
    for the command to tell it (``"nothing_to_do"`` with ``--json``, its line ending in
    :data:`ALREADY_COMPLETE_NOTE`). The one rule of ``srmat edges train``, ``srmat edges
    predict`` and ``srmat sr train``.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Only the notice of this output (``srmat edges predict``'s OUT, not the inner
        store of its staging folder that the job resumes, also complete when a run was
        killed while writing the outputs from it); None: any.

    Attributes
    ----------
    events : list of AlreadyComplete
        The notices noted; the watch is true when there is one.

    Examples
    --------
    >>> from napari_srmat.jobs import AlreadyComplete, Log
    >>> watch = AlreadyCompleteWatch("out")
    >>> watch(Log("resuming"))
    >>> watch(AlreadyComplete("complete", path="out.partial/prob.ome.zarr"))
    >>> bool(watch)
    False
    >>> watch(AlreadyComplete("out is already complete", path="./out"))
    >>> bool(watch)
    True
    """

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = None if path is None else Path(path)
        self.events: list[Any] = []

    def __call__(self, event: Any) -> None:
        from ..jobs import AlreadyComplete

        if isinstance(event, AlreadyComplete) and (
                self.path is None or Path(event.path) == self.path):
            self.events.append(event)

    def __bool__(self) -> bool:
        return bool(self.events)


class DeprecatedAlias(argparse.Action):
    """An old option name that keeps working, hidden from ``--help``, with a one-line note
    on stderr naming the option to give instead
    (``srmat sr eval: warning: --lr is deprecated here: give --lr-image ...``).

    Parameters
    ----------
    option_strings, dest, **kwargs
        As :class:`argparse.Action` (``dest``: the new option's).
    new : str
        The option that replaces it.
    why : str
        Why, after the note (e.g. what else the old name means).
    """

    def __init__(self, option_strings, dest, *, new: str, why: str = "", **kwargs) -> None:
        kwargs.setdefault("help", argparse.SUPPRESS)
        kwargs.setdefault("default", argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)
        self.new, self.why = new, why

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        why = f" ({self.why})" if self.why else ""
        print(warning_line(parser.prog, f"{option_string} is deprecated here: give "
                           f"{self.new}{why}"), file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_renamed_option(parser: Any, new: str, old: str, *, why: str = "",
                       **kwargs: Any) -> argparse.Action:
    """Add option ``new`` and its old name ``old``: one option under two names, the old
    one hidden from ``--help`` and told with a one-line note on stderr
    (:class:`DeprecatedAlias`), the two refused together (the last one given would win).
    The one rule of srmat's renamed options (``--init`` -> ``--init-checkpoint``,
    ``--lr`` -> ``--learning-rate``, ...).

    Parameters
    ----------
    parser : argparse.ArgumentParser or argument group
        Where the option goes.
    new, old : str
        The option's name and its old name.
    why : str
        Why it was renamed, in the note (e.g. what else the old name means).
    **kwargs
        ``add_argument``'s, of ``new``; the old name takes its ``type``, ``choices`` and
        ``dest``.

    Returns
    -------
    argparse.Action
        The action of ``new``.

    Examples
    --------
    >>> parser = OneLineErrorParser(prog="srmat x")
    >>> _ = add_renamed_option(parser, "--train-steps", "--steps", type=int, default=1)
    >>> parser.parse_args(["--steps", "3"]).train_steps  # and the note on stderr
    3
    >>> "--steps" in parser.format_help()
    False
    """
    group = parser.add_mutually_exclusive_group()
    action = group.add_argument(new, **kwargs)
    same = {k: kwargs[k] for k in ("type", "choices") if k in kwargs}
    group.add_argument(old, dest=action.dest, action=DeprecatedAlias, new=new, why=why,
                       **same)
    return action


#: Why ``--lr`` became ``--learning-rate`` (the note of the old name).
LR_RENAMED_WHY = "elsewhere lr is the low-resolution image"

#: Why a length in pixels got its ``-px`` name (``--roi-size`` -> ``--roi-size-px``).
PX_RENAMED_WHY = "lengths in px end in -px, as _px in Python"


def add_learning_rate(parser: Any, default: float, help: str) -> argparse.Action:
    """Add ``--learning-rate`` (its old name ``--lr``, :func:`add_renamed_option`) to a
    training command; ``args.lr``, as the configs' ``lr=``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The command's parser.
    default : float
        The command's default (its config's).
    help : str
        The ``--help`` text.

    Returns
    -------
    argparse.Action
    """
    return add_renamed_option(parser, "--learning-rate", "--lr", why=LR_RENAMED_WHY,
                              type=lr_arg, default=default, dest="lr", metavar="RATE",
                              help=help)


def pixel_size_arg(text: str) -> float:
    """argparse ``type=`` of pixel-size flags: a finite positive number (one rule, see
    :func:`napari_srmat.io.check_pixel_size`); argparse reports the flag on failure."""
    from ..io import check_pixel_size

    return _checked_number_arg(text, lambda v: check_pixel_size(v, name="pixel size"))


def lines_arg(text: str) -> int:
    """argparse ``type=`` of ``--lines`` (Heyn test lines): the rule of
    :func:`napari_srmat.metrics.heyn.check_n_lines`, checked once before any file is read
    and reported with the flag."""
    from ..metrics.heyn import check_n_lines

    return checked_integer_arg(
        text, lambda v: check_n_lines(v, field="the number of test lines"))


def checked_integer_arg(text: str, check: Callable[[Any], int]) -> int:
    """``check`` of the number ``text`` stands for, for an integer flag whose rule is a
    library check (:func:`napari_srmat.errors.check_number` with ``integer=True``):
    ``'10'`` reaches it as ``10`` and ``'2.5'`` as ``2.5`` (for the rule to refuse), text
    that is no number as itself; the rule's ValueError becomes argparse's error naming
    the flag.

    Parameters
    ----------
    text : str
        The flag's value as typed.
    check : callable
        The rule: value -> int, raising ValueError.

    Returns
    -------
    int

    Raises
    ------
    argparse.ArgumentTypeError
        The rule's message.
    """
    value: Any = text
    for kind in (int, float):  # '10' -> 10, '2.5' -> 2.5 (refused by the rule)
        try:
            value = kind(text)
            break
        except ValueError:
            pass
    try:
        return check(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _checked_number_arg(text: str, check) -> float:
    """``check(float(text))`` (the text itself when it is not a number, for the rule to
    refuse), a rule's ValueError as argparse's error naming the flag."""
    try:
        value: Any = float(text)
    except ValueError:
        value = text
    try:
        return check(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def margin_arg(text: str) -> float:
    """argparse ``type=`` of ``--margin`` (fraction of each side without test lines): the
    rule of :func:`napari_srmat.metrics.heyn.check_margin`."""
    from ..metrics.heyn import check_margin

    return _checked_number_arg(text, check_margin)


def threshold_arg(text: str) -> float:
    """argparse ``type=`` of ``--threshold`` (binarising a probability map): the rule of
    :func:`napari_srmat.io.check_threshold`, checked once before any file is read."""
    from ..io import check_threshold

    return _checked_number_arg(text, check_threshold)


def lr_arg(text: str) -> float:
    """argparse ``type=`` of ``--learning-rate`` flags: the rule of
    :func:`napari_srmat.device.check_learning_rate` (a finite number >= 0), reported with
    the flag."""
    from ..device import check_learning_rate

    return _checked_number_arg(text, check_learning_rate)


def int_arg(minimum: int) -> Callable[[str], int]:
    """argparse ``type=`` of an integer flag with a lower bound, so that a bad value is
    reported with the flag (``argument --tile: an integer >= 1, got 0``) instead of the
    library parameter's name.

    Parameters
    ----------
    minimum : int
        The smallest value accepted.

    Returns
    -------
    callable
        ``text -> int``, raising :class:`argparse.ArgumentTypeError`.

    Examples
    --------
    >>> int_arg(1)("4")
    4
    >>> int_arg(1)("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: an integer >= 1, got 0
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"an integer >= {minimum}, got {value}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def float_arg(minimum: float | None = None, *, above: bool = False) -> Callable[[str], float]:
    """argparse ``type=`` of a number flag: finite, and ``>= minimum`` (``> minimum`` with
    ``above``), reported with the flag.

    Parameters
    ----------
    minimum : float, optional
        The lower bound (none: any finite number).
    above : bool
        Whether ``minimum`` itself is refused.

    Returns
    -------
    callable
        ``text -> float``, raising :class:`argparse.ArgumentTypeError`.

    Examples
    --------
    >>> float_arg(0)("2.5")
    2.5
    >>> float_arg(0, above=True)("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: a finite number > 0, got 0.0
    """
    rule = "a finite number" + ("" if minimum is None else
                                f" {'>' if above else '>='} {minimum:g}")

    def check(value):
        ok = isinstance(value, float) and math.isfinite(value) and (
            minimum is None or value > minimum or (value == minimum and not above))
        if not ok:
            raise ValueError(f"{rule}, got {value!r}")
        return value

    def parse(text: str) -> float:
        return _checked_number_arg(text, check)

    parse.__name__ = rule
    return parse


def check_tile_flags(tile: int, overlap: int | None, receptive_field: int = 0) -> None:
    """Refuse ``--tile`` not larger than twice the overlap used, naming the flags.

    The overlap used is ``--overlap`` raised to the model's receptive field
    (:func:`napari_srmat.tiling.overlap_used`, the rule of
    :func:`napari_srmat.sr.apply.resolve_overlap` too). The check is
    the tiling's (:func:`napari_srmat.tiling.check_tile_overlap`); this names the flags
    and the overlap used in it, which the library's message names by its parameters
    (``tile=``, ``overlap``) that a command does not have. The one rule of the commands
    with ``--tile`` and ``--overlap`` (``srmat sr run``, ``srmat edges predict``,
    ``srmat plan-rescan``), checked before a model is loaded and, with its receptive
    field, after.

    Parameters
    ----------
    tile : int
        ``--tile``.
    overlap : int or None
        ``--overlap``; None: not given, the library's default
        (:data:`napari_srmat.tiling.DEFAULT_OVERLAP`, raised to the receptive field).
    receptive_field : int
        The loaded model's receptive field in px (0 before it is loaded).

    Raises
    ------
    UserError
        ``tile <= 2 * max(overlap, receptive_field)``, with the smallest ``--tile`` to give.

    Examples
    --------
    >>> check_tile_flags(65, 32)
    >>> check_tile_flags(8, 32)
    Traceback (most recent call last):
    ...
    napari_srmat.cli.UserError: --tile 8 must be larger than 2 x --overlap 32 (give --tile 65 or more)
    >>> check_tile_flags(8, None)
    Traceback (most recent call last):
    ...
    napari_srmat.cli.UserError: --tile 8 must be larger than 2 x the default --overlap of 32 px (give --tile 65 or more)
    """  # noqa: E501
    from ..tiling import check_tile_overlap, overlap_used

    used = overlap_used(overlap, receptive_field)
    if used != overlap_used(overlap):  # raised to the receptive field
        why = f"the model's receptive field {used} px, the least overlap it needs"
    elif overlap is None:
        why = f"the default --overlap of {used} px"
    else:
        why = f"--overlap {overlap}"
    check_tile_overlap(tile, used, error=UserError, tile_words=("--tile {}", "--tile {}"),
                       overlap_words=why)


def threshold_rule_arg(parser: argparse.ArgumentParser) -> None:
    """Add ``--threshold-rule`` (the operating point; one flag for ``srmat edges`` and
    ``srmat grain-size``)."""
    from ..edges.thresholds import DEFAULT_THRESHOLD_RULE, DEFAULT_TTA, RULES

    parser.add_argument("--threshold-rule", choices=tuple(RULES), default=None,
                        metavar="RULE",
                        help=f"operating-point rule that binarises the probability map "
                             f"(default {DEFAULT_THRESHOLD_RULE} where the checkpoint stores its "
                             f"parameters, as the shipped one does for TTA {DEFAULT_TTA}, else "
                             f"global); one of {', '.join(RULES)}")


def missing_action(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """The handler of a command given without its action or subcommand (``srmat edges``,
    ``srmat``): one error line naming the choices, with a pointer to ``--help``, exit 2,
    as argparse's own errors (it printed the whole help instead, on stdout for some
    commands and on stderr for others, and no error line).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The command's parser (with its subparsers added).

    Returns
    -------
    callable
        ``args -> 2``, for ``parser.set_defaults(func=...)``.
    """

    def handler(args: argparse.Namespace | None = None) -> int:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        names = list(sub.choices)
        listed = ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]
        print(f"{parser.prog}: error: give {sub.metavar or 'an action'}: {listed} "
              f"(see `{parser.prog} --help`)", file=sys.stderr)
        return 2

    return handler


def seed_arg(text: str) -> int:
    """argparse ``type=`` of ``--seed`` flags: the seed rule
    (:func:`napari_srmat.errors.check_seed`, an integer >= 0), so that the error names the
    flag."""
    from ..errors import check_seed

    try:
        value: Any = int(text)
    except ValueError:
        value = text
    try:
        return check_seed(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


@contextlib.contextmanager
def naming_file(path: str | os.PathLike,
                only: tuple[type[BaseException], ...] = (Exception,)) -> Iterator[None]:
    """Say which input file an error is about: the message of an exception raised inside
    gets ``path: `` in front, unless it names the path already.

    The one rule of the commands that read input files (``srmat heyn``,
    ``srmat grain-size``, ``srmat sr run``, ``srmat edges predict``). The exception keeps
    its type (so its exit code); OS errors are told as ``path: reason`` by
    :func:`napari_srmat.errors.error_message` anyway.

    Parameters
    ----------
    path : str or os.PathLike
        The input file being read or measured.
    only : tuple of exception types
        The errors named (default all): around a job that also writes an output, only
        those of the input (e.g. :class:`napari_srmat.tiling.NonFiniteInputError`), so
        that an error of the output is not put on the input file.

    Examples
    --------
    >>> try:
    ...     with naming_file("a.png"):
    ...         raise ValueError("mask is too small")
    ... except ValueError as exc:
    ...     print(exc)
    a.png: mask is too small
    >>> try:
    ...     with naming_file("./a.png"):
    ...         raise ValueError("a.png: no such file or directory")
    ... except ValueError as exc:
    ...     print(exc)
    a.png: no such file or directory
    """
    try:
        yield
    except only as exc:
        if exc.args and isinstance(exc.args[0], str):
            text = exc.args[0]
            if about_file(path, text) != text:  # not named already
                _reword(exc, lambda text: about_file(path, text))
        raise


def _reword(exc: BaseException, rewrite: Callable[[str], str]) -> None:
    """Rewrite the message of ``exc`` (its first argument, a str) and its words for each
    caller (``cli_message``, ``gui_message``: :func:`napari_srmat.errors.worded_error`)
    alike: the one rule of :func:`naming_file` and :func:`naming_roles`."""
    exc.args = (rewrite(exc.args[0]), *exc.args[1:])
    for words in ("cli_message", "gui_message"):
        if getattr(exc, words, None):
            setattr(exc, words, rewrite(getattr(exc, words)))


def input_path_arg(text: str) -> str:
    """argparse ``type=`` of an input file argument: refuse an empty path, naming the
    argument as typed (``srmat info: error: argument file: the path is empty``), instead
    of the library's ``read_image('scan.tif')`` wording (:func:`napari_srmat.io.path_arg`).

    Examples
    --------
    >>> input_path_arg("a.png")
    'a.png'
    >>> input_path_arg("")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: the path is empty: give an image file or Zarr store
    """
    if not text:
        raise argparse.ArgumentTypeError("the path is empty: give an image file or Zarr store")
    return text


#: What :func:`check_distinct_inputs` asks of the fields of a pooled measurement.
EACH_FIELD_ONCE = "give each field once"


def check_distinct_inputs(paths: Sequence[str | None], what: str,
                          hint: str = EACH_FIELD_ONCE, *,
                          members: Callable[[str], Sequence[str | os.PathLike]] | None = None,
                          ) -> None:
    """Refuse a file given twice among the inputs of a command that needs them distinct:
    the fields of one that pools them (``srmat heyn``, ``srmat grain-size``: measured
    twice, one field is told as a specimen of two, its 95 % interval as narrow as if they
    agreed, %RA 0), the images one learns from (``srmat edges pretrain``; ``srmat sr
    train --data`` is refused by the training itself, :func:`napari_srmat.sr.train.
    train_sr`, before it loads any: one given twice is drawn from twice as often as the
    others),
    or an image and what it is compared with (``srmat eval-maps``, ``srmat sr eval``,
    ``srmat register``, ``srmat audit``: a perfect score of each file against itself).

    The rule of the library, :func:`napari_srmat.outputs.check_distinct_files` (what is
    the same file, what a folder stands for with ``members``), told as a
    :class:`UserError`.

    Parameters
    ----------
    paths : sequence of str or None
        The inputs, as given (None: an optional one not given, skipped).
    what : str
        What an input is, for the error (``"mask"``, ``"image"``, ``"folder"``).
    hint : str, optional
        What to do instead, the end of the error (default :data:`EACH_FIELD_ONCE`).
    members : callable, optional
        The files a folder among ``paths`` stands for, as the command reads them;
        None (default): a folder is one input.

    Raises
    ------
    UserError
        Two of ``paths`` are the same file, or one file is among the ``members`` of two.

    Examples
    --------
    >>> check_distinct_inputs(["a.png", "b.png"], "mask")
    >>> check_distinct_inputs(["a.png", "./a.png"], "mask")
    Traceback (most recent call last):
    ...
    napari_srmat.cli.UserError: mask a.png is given twice (also as ./a.png): give each field once
    """
    from ..outputs import check_distinct_files

    check_distinct_files(paths, what, hint, members=members, error=UserError)


@contextlib.contextmanager
def naming_roles(roles: Mapping[str, str | os.PathLike | None],
                 only: tuple[type[BaseException], ...] = (ValueError,)) -> Iterator[None]:
    """Say which file each role named in an error is: the library tells its images by
    role (``sr shape (256, 256) is not lr shape (64, 64) x scale 3``, ``HR and SR shapes
    differ``); inside the block, each role of ``roles`` standing as a word (not part of a
    name or path) in such a message gets its file after it
    (``sr b.png shape ... lr a.png shape ...``), in its words for each caller too (the
    flags' line a command tells, ``exc.cli_message``: :func:`_reword`).

    The one rule of the commands that pass several images to one library call
    (``srmat audit candidates``, ``srmat sr eval``); the exception keeps its type.

    Parameters
    ----------
    roles : mapping of str to path-like or None
        Role as the library writes it (case-sensitive) to its file; None: not given.
    only : tuple of exception types
        The errors whose message is rewritten (default ``ValueError``).

    Examples
    --------
    >>> try:
    ...     with naming_roles({"lr": "a.png", "sr": "b.png", "sr_std": None}):
    ...         raise ValueError("sr shape (9, 9) is not lr shape (2, 2) x scale 4")
    ... except ValueError as exc:
    ...     print(exc)
    sr b.png shape (9, 9) is not lr a.png shape (2, 2) x scale 4
    """
    try:
        yield
    except only as exc:
        given = {role: str(path) for role, path in roles.items() if path is not None}
        if given and exc.args and isinstance(exc.args[0], str):
            words = "|".join(re.escape(r) for r in sorted(given, key=len, reverse=True))
            _reword(exc, lambda text: re.sub(rf"(?<![\w/.-])({words})(?![\w/.-])",
                                             lambda m: f"{m.group(1)} {given[m.group(1)]}",
                                             text))
        raise


@contextlib.contextmanager
def told_warnings() -> Iterator[list[str]]:
    """Collect the one-line text of every warning printed inside the block (they are still
    printed as ``srmat CMD: warning: ...``), for a ``--json`` result's ``warnings`` key:
    Python warnings and the warnings of a job it runs (:func:`run_cli_job`).

    A Python warning is shown once per place in a process by default: the block starts
    with none shown yet (the filters unchanged), so that a second command in the same
    process (:func:`main` called again, in a notebook or a test) tells and lists the
    warnings it gives too. Until 2026-12-06 it told them nowhere.

    Python warnings are collected by the one counted, locked rule of the process's
    warnings state that the widgets' jobs follow too
    (:func:`napari_srmat._warnings_state.collecting`): those of this thread only, and
    the state as it was before is put back once the block and every overlapping holder
    (a widget's job, a command in another thread) have ended; until 2026-12-06 the one
    that ended first could leave the other's swap installed. Its limit (a widget's
    running worker takes the process's Python warnings) is told there.
    """
    import warnings

    from .._warnings_state import collecting

    with warnings.catch_warnings():  # entering and leaving forget the places shown
        pass
    with collecting(one_line) as told:
        listing = _TOLD.set(told)
        try:
            yield told
        finally:
            _TOLD.reset(listing)


def print_json_result(result: Mapping[str, Any]) -> None:
    """Print a command's ``--json`` object (:func:`print_json`) with the warnings told
    while the command ran in its top-level ``warnings``: its job's (:func:`run_cli_job`,
    printed as they came, ``--json`` or not) and Python's (``srmat CMD: warning: ...``),
    after the result's own ``warnings`` if it has some (``srmat edges eval``'s Heyn
    figures), each once. The one rule of the commands whose result has no warnings of
    its own per image or plan (``srmat grain-size``'s rows and ``srmat plan-rescan``'s
    plan carry theirs: :func:`run_cli_job`'s ``warnings``); :func:`main` collects what is
    told (:func:`told_warnings`) around every command.

    Parameters
    ----------
    result : mapping
        The command's JSON object.

    Examples
    --------
    >>> from napari_srmat.jobs import Log
    >>> def job():  # a run that warns (its line goes to stderr)
    ...     yield Log("the scale  is a guess", level="warning")
    >>> with told_warnings():
    ...     run_cli_job(job(), quiet=True)
    ...     print_json_result({"ap": 0.5, "warnings": ["AP from 1 image"]})
    {
      "ap": 0.5,
      "warnings": [
        "AP from 1 image",
        "the scale is a guess"
      ]
    }
    """
    lines = list(result.get("warnings") or [])
    add_new_lines(lines, _TOLD.get() or [])
    print_json({**result, "warnings": lines})


def tell_listed(kind: str, text: str) -> None:
    """Tell the running command's ``kind`` line (``srmat CMD: note: text``,
    :func:`message_line`) on stderr and list ``text`` as told, so that a ``--json``
    result (:func:`print_json_result`) lists it in its top-level ``warnings`` in the
    order told, with the Python and job warnings. The one way a command adds a line of
    its own there (``srmat audit``'s calibration notes and files kept).

    Parameters
    ----------
    kind : str
        ``"note"`` or ``"warning"``, as the line says it.
    text : str
        The message; told and listed on one line.

    Examples
    --------
    >>> import contextlib, io
    >>> with told_warnings(), contextlib.redirect_stderr(io.StringIO()) as err:
    ...     tell_listed("note", "the file  records no pixel size")
    ...     print_json_result({"n": 1})
    {
      "n": 1,
      "warnings": [
        "the file records no pixel size"
      ]
    }
    >>> err.getvalue()
    'srmat: note: the file records no pixel size\\n'
    """
    print(message_line(_RUNNING_COMMAND.get()(), kind, text), file=sys.stderr)
    told = _TOLD.get()
    if told is not None:
        told.append(one_line(text))


def check_mask_fits(mask: Any, func: str, **plan: bool) -> None:
    """Refuse a mask file whose measurement does not fit in memory, before any pixel is
    read: the rule of the library's whole-array functions
    (:func:`napari_srmat.estimates.check_in_memory` of
    :func:`~napari_srmat.estimates.plan_mask_measurement`) for the lazy file, which the
    commands read whole (``srmat heyn``; ``srmat grain-size --mask`` and its
    ``--twins`` / ``--exclusions`` masks).

    Parameters
    ----------
    mask : Micrograph
        The file as :func:`napari_srmat.io.open_mask_file` opened it (unread); read from
        it afterwards, not opened again.
    func : str
        What needs the memory, in the message (e.g. ``"measure_intercepts"``).
    **plan : bool
        ``to_float``, ``twins``, ``exclusion``, ``field`` of ``plan_mask_measurement``.

    Raises
    ------
    napari_srmat.metrics.heyn.HeynError
        One line naming ``func``, the memory needed and available, and what to do.
    """
    from ..estimates import check_in_memory, plan_mask_measurement
    from ..metrics.heyn import HeynError

    data = mask.data
    check_in_memory(plan_mask_measurement(data.shape, data.dtype, **plan), func,
                    advice="measure fields or crops of it", error=HeynError)


@contextlib.contextmanager
def notes_of_reading(path: str | os.PathLike, *, pixel_size_given: bool = False
                     ) -> Iterator[list[str]]:
    """Collect what reading ``path`` tells (the read warnings name the file:
    ``"PATH: the TIFF holds 2 images ..."``), without the path, for the image's row of
    ``--json`` instead of printing it at once; other warnings are shown as usual. The
    list is filled when the block ends, also when it raises: what a read told before it
    failed is the failed input's to tell (until 2026-12-06 it was lost). With
    ``pixel_size_given`` (a ``--pixel-size-um``), the note that a non-square file's pixel
    size is withheld is left out: the given size is used, and
    :func:`napari_srmat.io.pixel_size_note` names the file's sizes."""
    import warnings
    from pathlib import Path

    from ..io._pixel import NON_SQUARE_PREFIX

    notes: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield notes
    finally:  # the other warnings shown once the block's filters are put back
        prefix = f"{Path(path)}: "
        for w in caught:
            text = str(w.message)
            if issubclass(w.category, UserWarning) and text.startswith(prefix):
                if not (pixel_size_given
                        and text[len(prefix):].startswith(NON_SQUARE_PREFIX)):
                    notes.append(text[len(prefix):])
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def print_json(obj: Any) -> None:
    """Print one JSON object to stdout (numpy scalars and arrays converted).

    The output is strict JSON: a non-finite number (NaN, +-inf), which Python's ``json``
    would print as ``NaN``/``Infinity`` (not JSON; ``jq`` and most parsers refuse it),
    becomes ``null``.

    Examples
    --------
    >>> print_json({"ratio": float("inf"), "v": [1.5, float("nan")]})
    {
      "ratio": null,
      "v": [
        1.5,
        null
      ]
    }
    """
    from ..outputs import json_text

    sys.stdout.write(json_text(obj))
    sys.stdout.flush()


#: Namespace attribute holding the full name of the command that was parsed
#: (``"srmat sr run"``): each parser's default, so that the innermost subcommand's wins.
COMMAND_ATTR = "srmat_command"


def command_name(args: argparse.Namespace, default: str = "srmat") -> str:
    """The full command of parsed arguments, the prefix of its one-line errors and
    warnings (``srmat sr run``, ``srmat edges train``, ``srmat heyn``).

    Parameters
    ----------
    args : argparse.Namespace
        What a :class:`OneLineErrorParser` (or one of its subcommand parsers) parsed.
    default : str
        The name when ``args`` does not hold one.

    Examples
    --------
    >>> command_name(build_parser().parse_args(["edges", "eval", "--images", "i",
    ...                                         "--masks", "m"]))
    'srmat edges eval'
    """
    return getattr(args, COMMAND_ATTR, None) or default


class OneLineErrorParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``PROG: error: MESSAGE``) with a
    pointer to ``--help``, instead of the usage block before it; subcommand parsers
    inherit the class.

    Each parser records its full name (``prog``, e.g. ``srmat sr run``) in the parsed
    namespace (:func:`command_name`): argparse copies a subcommand's values over its
    parent's, so the innermost subcommand parsed names the command.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.set_defaults(**{COMMAND_ATTR: self.prog})

    def error(self, message: str):
        self.fail(self.prog, message)

    def fail(self, prog: str, message: str):
        """Exit 2 with the one line ``PROG: error: MESSAGE (see `PROG --help`)``."""
        self.exit(2, f"{prog}: error: {one_line(message)} "
                     f"(see `{prog} --help`)\n")

    def parse_args(self, args=None, namespace=None):
        """argparse's, but unrecognized arguments are told by the subcommand that was
        parsed (``srmat edges train: error: unrecognized arguments: ...``), not by the
        parser at the top (argparse's ``srmat: error: ...``)."""
        parsed, extra = self.parse_known_args(args, namespace)
        if extra:
            self.fail(command_name(parsed, self.prog),
                      f"unrecognized arguments: {' '.join(extra)}")
        return parsed


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = OneLineErrorParser(
        prog="srmat",
        description="Trustworthy super-resolution and grain-size measurement for metallography.",
    )
    parser.add_argument("--version", action="version", version=f"srmat {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of errors (for bug reports)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``srmat``; returns the process exit code.

    Errors never print a traceback unless ``--debug`` is given: the user's errors
    (bad input, refused output) exit with 2, system errors (disk full, permissions)
    and internal errors with 1, an interrupt or a stopped job with
    :data:`EXIT_INTERRUPTED`, a SIGTERM (the console's, :func:`_sigterm_as_ctrl_c`)
    with :data:`EXIT_TERMINATED`.

    As the console's entry (``argv`` None: ``srmat``, ``python -m napari_srmat``) the
    command ends the process: a Ctrl-C while the interpreter then exits is ignored
    (:func:`_ctrl_c_after_the_command`) and the exit code is the command's.
    """
    if argv is None:  # the console's process only, never a library caller's
        _TERMINATED.clear()
        _sigterm_as_ctrl_c()
    try:
        code = _command(argv)
        return EXIT_TERMINATED if code == EXIT_INTERRUPTED and _TERMINATED.is_set() else code
    except KeyboardInterrupt:  # --debug's, or a SIGTERM's outside _command's handlers
        if not _TERMINATED.is_set():
            raise
        if _debug_asked(argv):  # a SIGTERM's keeps its exit (was 130, a Ctrl-C's)
            traceback.print_exc()
        else:  # while parsing, before the command's handlers, or a second SIGTERM
            print("srmat: interrupted", file=sys.stderr)
        return EXIT_TERMINATED
    finally:
        if argv is None:
            _ctrl_c_after_the_command()


#: Set when SIGTERM came (:func:`_sigterm_as_ctrl_c`): the command's exit code is then
#: :data:`EXIT_TERMINATED`.
_TERMINATED = threading.Event()

#: Set while the console's command runs, from :func:`_sigterm_as_ctrl_c` to
#: :func:`_ctrl_c_after_the_command`: a SIGTERM then ends it as a Ctrl-C, after it as by
#: default.
_COMMAND_RUNS = threading.Event()


def _sigterm_as_ctrl_c() -> None:
    """End the console's command on SIGTERM as on a Ctrl-C: the SIGINT handler in force
    is called (Python's raises KeyboardInterrupt; one that holds a press through a swap
    holds this too), so the partial output is kept, the lock released and one line told,
    with exit :data:`EXIT_TERMINATED`. With SIGINT ignored (inherited so by a job a
    script starts in the background, ``srmat ... &``) a KeyboardInterrupt is raised as
    Python's handler does, the SIGINT presses staying ignored. After the command
    (:func:`_ctrl_c_after_the_command`) SIGTERM has its default action.

    Until 2026-12-07 a SIGTERM killed ``srmat sr run`` silently (exit -15, its ``.lock``
    left behind), and, with SIGINT ignored, every command (exit 143, no line, the lock
    left)."""
    import signal

    from .._atomic import stop_signal

    def terminated(signum, frame) -> None:
        if not _COMMAND_RUNS.is_set():  # the command has returned: the default action
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.raise_signal(signal.SIGTERM)
            return
        _TERMINATED.set()
        stopping = stop_signal()  # SIGINT's handler, unless SIGINT is ignored
        handler = stopping[1] if stopping and stopping[0] == signal.SIGINT \
            else signal.default_int_handler  # ignored: the stop a Ctrl-C would have made
        handler(signal.SIGTERM, frame)  # one holding presses holds it as a SIGTERM

    if threading.current_thread() is threading.main_thread():
        _COMMAND_RUNS.set()
        signal.signal(signal.SIGTERM, terminated)


def _ctrl_c_after_the_command() -> None:
    """Ignore SIGINT for the rest of the process, once the command has returned its exit
    code (only from the main thread, which holds Python's handler).

    The interpreter's exit after a command takes a while (a ``--scheduler`` run's
    atexit handlers, the teardown of torch's and dask's modules). A Ctrl-C then changed
    the code of a command that had already told its results: a KeyboardInterrupt
    traceback from an atexit handler ('Exception ignored in atexit callback'), or, once
    Python had put SIGINT back to its default action for the teardown, the process
    killed by it (exit -2 / 130 in a shell) after an exit 0. An ignored SIGINT stays
    ignored through the teardown, and a SIGTERM then has its default action (the
    process ends at once; :func:`_sigterm_as_ctrl_c` is for the command's time), from
    before SIGINT is ignored (until 2026-12-07 a SIGTERM between the two reached
    Python's SIGINT handler: a KeyboardInterrupt traceback, exit 130).
    """
    import signal
    import threading

    _COMMAND_RUNS.clear()  # first: srmat's SIGTERM handler acts as the default one
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _debug_asked(argv: Sequence[str] | None) -> bool:
    """Whether ``--debug`` is among the arguments (``sys.argv``'s for the console),
    read before they are parsed: an interrupt then shows its traceback."""
    return "--debug" in (sys.argv[1:] if argv is None else argv)


def _command(argv: Sequence[str] | None) -> int:
    """The command of :func:`main` (its exit code)."""
    if argv is None:  # the console, before any --help or error is printed
        _ascii_console_fallback()
    try:  # importing the subcommands (torch among them) takes seconds: Ctrl-C there too
        parser = build_parser()
    except KeyboardInterrupt:
        if _debug_asked(argv):
            raise
        print("srmat: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        return missing_action(parser)(args)

    def where() -> str:  # read when needed: `srmat sr` names its action once it parses it
        return command_name(args)

    if argv is None and not args.debug:  # the console: warnings on one line, no source
        _one_line_warnings(where)
        _quiet_pending_task_debris()
    running = _RUNNING_COMMAND.set(where)
    try:
        with told_warnings():  # for a --json result's warnings (print_json_result)
            return int(args.func(args) or 0)
    except BrokenPipeError:
        if args.debug or not _stdout_closed():
            raise
        return 141  # the reader of stdout is gone (`| head`): quietly, like other tools
    except KeyboardInterrupt as exc:  # Ctrl-C, or a job stopped on request (Interrupted)
        tell_carried_warnings(where(), exc)
        if args.debug:
            raise
        print(interrupted_line(where(), exc, writes_output=writes_output(args)),
              file=sys.stderr)
        _tell_notes(where(), exc)
        return EXIT_INTERRUPTED
    except Exception as exc:  # every error is one line (tracebacks with --debug)
        tell_carried_warnings(where(), exc)
        if args.debug:
            raise
        print(error_line(where(), exc), file=sys.stderr)
        _tell_notes(where(), exc)
        return 2 if is_user_error(exc) else 1
    finally:
        _RUNNING_COMMAND.reset(running)


#: How the line of an interrupt names the OS error it came during (:func:`interrupted_line`).
INTERRUPTED_DURING = "during an error"


def interrupted_line(where: str, exc: KeyboardInterrupt, *, writes_output: bool = True
                     ) -> str:
    """The one line of a command stopped by a Ctrl-C or a stop on request:
    ``srmat CMD: interrupted (what was kept)``, and the OS error it came during, if any
    (:func:`napari_srmat.errors.os_error_behind`: a disk full while the Ctrl-C was held
    around a swap), which the user would otherwise never learn; its disk-full hint says
    the rerun of an :class:`Interrupted` that gives one (``exc.rerun``), as the line
    does. Not a missing file, a
    busy lock or the like that code was handling as an answer when the Ctrl-C came
    (:data:`~napari_srmat.errors.ANSWER_OS_ERRORS`); a failure of the system (a disk
    full) that a handler was recovering from is named too: the exceptions cannot tell
    it from one that stands (the limit told in
    :func:`~napari_srmat.errors.os_error_behind`).

    Parameters
    ----------
    where : str
        The command, e.g. ``"srmat sr run"``.
    exc : KeyboardInterrupt
        The interrupt (an :class:`Interrupted` says what was kept).
    writes_output : bool, optional
        Whether the command writes output files (its parser's :data:`WRITES_OUTPUT`): a
        Ctrl-C of one that writes none says so (:data:`CTRL_C_NO_OUTPUT`), not that a
        partial output is kept (:data:`CTRL_C_NO_RESUME`).

    Returns
    -------
    str
        One line.

    Examples
    --------
    >>> ctrl_c = KeyboardInterrupt()  # held through a swap whose rename then failed
    >>> ctrl_c.__cause__ = OSError(28, "No space left on device", "out.tif")
    >>> interrupted_line("srmat demo", ctrl_c)  # doctest: +NORMALIZE_WHITESPACE
    'srmat demo: interrupted (a partial output, if any, is kept; rerun the same command)
     during an error: out.tif: no space left on device (disk full: free space and rerun the same
     command to resume)'
    >>> interrupted_line("srmat heyn", KeyboardInterrupt(), writes_output=False)
    'srmat heyn: interrupted (it writes no file: rerun the command)'
    """
    kept = CTRL_C_NO_RESUME if writes_output else CTRL_C_NO_OUTPUT
    line = f"{where}: interrupted ({exc if isinstance(exc, Interrupted) else kept})"
    behind = os_error_behind(exc)
    if behind is not None:
        told = error_message(behind, rerun=getattr(exc, "rerun", None))
        line += f" {INTERRUPTED_DURING}: {told}"
    return one_line(line)


def warning_line(where: str, message: str) -> str:
    """The one line of a warning: ``srmat CMD: warning: message`` (its runs of
    whitespace, newlines included, as single spaces).

    Examples
    --------
    >>> warning_line("srmat sr run", "the dask cluster  also failed to close")
    'srmat sr run: warning: the dask cluster also failed to close'
    """
    return message_line(where, "warning", message)


def message_line(where: str, kind: str, message: str) -> str:
    """The one line of a command's message of a kind (``warning``, ``note``, ``error``):
    ``srmat CMD: KIND: message``, its runs of whitespace, newlines included, as single
    spaces; the one form of :func:`warning_line`, :func:`note_line` and a job's error
    events (:func:`run_cli_job`).

    Parameters
    ----------
    where : str
        The command, e.g. ``"srmat heyn"``.
    kind : str
        The message's kind: ``"warning"``, ``"note"`` or ``"error"``.
    message : str
        Its text, perhaps over several lines.

    Returns
    -------
    str

    Examples
    --------
    >>> message_line("srmat info", "error", "tile 3 unreadable:\\n left empty")
    'srmat info: error: tile 3 unreadable: left empty'
    """
    return f"{where}: {kind}: {one_line(message)}"


def note_line(where: str, message: str) -> str:
    """The one line of a note (what the user should know of a result that is not a
    warning, e.g. E112's advice on fields): ``srmat CMD: note: message``, whitespace as
    :func:`warning_line`'s.

    Examples
    --------
    >>> note_line("srmat heyn", "only 2 fields:   E112 asks for at least 5")
    'srmat heyn: note: only 2 fields: E112 asks for at least 5'
    """
    return message_line(where, "note", message)


def tell_carried_warnings(where: str, exc: BaseException) -> None:
    """Print the warnings ``exc`` carries (:func:`carried_warnings`: its job warned and
    then failed or stopped; an input's, named, :func:`carried_if_failed`), a warning line
    each: before the line of the error or the interrupt, as they came before it.

    Parameters
    ----------
    where : str
        The command, e.g. ``"srmat heyn"``.
    exc : BaseException
        The error (or interrupt) about to be told.
    """
    for text in carried_warnings(exc):
        print(warning_line(where, text), file=sys.stderr)


def _tell_notes(where: str, exc: BaseException) -> None:
    """Print the notes of a command's error (:func:`error_notes`) after its one line, a
    warning line each: without them a close that failed as the run stopped was told only
    with ``--debug``'s traceback."""
    for note in error_notes(exc):
        print(warning_line(where, note), file=sys.stderr)


def error_line(where: str, exc: BaseException) -> str:
    """The one line that tells ``exc`` to the user: ``srmat CMD: error: message``, or for
    an internal error ``srmat CMD: internal error: ...`` with a pointer to ``--debug``.
    An error that names a Python keyword carries its words for the commands as
    ``exc.cli_message`` (the flag instead: :func:`napari_srmat.errors.worded_error`),
    told here instead of its message.

    Parameters
    ----------
    where : str
        The command, e.g. ``"srmat heyn"``.
    exc : BaseException
        The error.

    Returns
    -------
    str
        One line (exit code: 2 for :func:`napari_srmat.errors.is_user_error`, else 1).

    Examples
    --------
    >>> error_line("srmat heyn", ValueError("a.png: too small"))
    'srmat heyn: error: a.png: too small'
    """
    message = command_error_message(exc)
    if message.startswith("internal error"):
        return f"{where}: {message} (rerun with `srmat --debug ...` for the traceback)"
    return f"{where}: error: {message}"


def command_error_message(exc: BaseException) -> str:
    """The message of ``exc`` as a command tells it: :func:`napari_srmat.errors.error_message`,
    or the flags' words of a refusal that names what a caller passes (``exc.cli_message``,
    :func:`napari_srmat.errors.worded_error`), for :func:`error_line` and a ``--json``
    result's errors.

    Examples
    --------
    >>> from napari_srmat.outputs import exists_error
    >>> command_error_message(exists_error("plan.csv"))
    'plan.csv exists (pass --overwrite to replace it)'
    """
    if getattr(exc, "cli_message", None):  # the flag for the keyword a Python caller passes
        return one_line(exc.cli_message)
    return error_message(exc)


def _stdout_closed() -> bool:
    """Whether stdout's reader has gone (a pipe into ``head``); if so, stdout is pointed
    at the null device so that Python's final flush does not complain about it either."""
    import select

    try:
        fd = sys.stdout.fileno()
        if hasattr(select, "poll"):  # a pipe whose reader has gone reports an error
            poller = select.poll()
            poller.register(fd, select.POLLOUT)
            if not any(ev & select.POLLERR for _, ev in poller.poll(0)):
                return False
    except (OSError, ValueError):  # stdout closed or not a file
        return False
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
    return True


#: What asyncio logs, at exit, of each read zarr still had in flight when one of them
#: failed (a damaged chunk): ``Task was destroyed but it is pending!`` and the task.
PENDING_TASK_DEBRIS = "Task was destroyed but it is pending"
#: What Python warns, at exit, of such a pending read that had not yet started (zarr's
#: ``concurrent_map`` wraps each read in a coroutine ``run``): the same debris.
UNSTARTED_READ_DEBRIS = r"coroutine 'concurrent_map\.<locals>\.run' was never awaited"


class _PendingTaskDebris:
    """A logging filter that drops asyncio's :data:`PENDING_TASK_DEBRIS` records."""

    def filter(self, record) -> bool:
        return PENDING_TASK_DEBRIS not in record.getMessage()


def _quiet_pending_task_debris() -> None:
    """Keep the error of a damaged Zarr chunk one line: zarr reads chunks as concurrent
    asyncio tasks, and when one fails the others are left pending; at exit asyncio logs
    each of them with its repr (a dozen lines after the error), and Python warns of each
    one that had not started (:data:`UNSTARTED_READ_DEBRIS`, a second line one run in
    ten). They are debris of the failed read, not news; ``srmat --debug`` keeps them."""
    import logging
    import warnings

    log = logging.getLogger("asyncio")
    if not any(isinstance(f, _PendingTaskDebris) for f in log.filters):
        log.addFilter(_PendingTaskDebris())
    warnings.filterwarnings("ignore", message=UNSTARTED_READ_DEBRIS,
                            category=RuntimeWarning)


#: How the non-ASCII characters of srmat's text (the unit "µm", "ℓ̄", "±", ...) are
#: written to a console whose encoding lacks them (:func:`_ascii_console_fallback`);
#: another character is written by its NFKD letters, else as a backslash escape.
ASCII_SPELLINGS = {
    "µ": "u", "μ": "u", "±": "+/-", "²": "^2", "³": "^3", "ℓ": "l", "\u0304": "",
    "×": "x", "…": "...", "–": "-", "—": "-", "−": "-", "≈": "~", "≥": ">=", "≤": "<=",
    "≠": "!=", "→": "->", "°": " deg", "·": ".", "∞": "inf", "½": "1/2",
}
#: The codec error handler of :func:`_ascii_console_fallback`.
ASCII_ERRORS = "srmat-ascii-spelling"


def _ascii_spelling(err: UnicodeError) -> tuple[str, int]:
    """Codec error handler: the ASCII spelling (:data:`ASCII_SPELLINGS`) of the
    characters an encoding lacks."""
    import unicodedata

    if not isinstance(err, UnicodeEncodeError):
        raise err
    out = []
    for ch in err.object[err.start:err.end]:
        text = ASCII_SPELLINGS.get(ch)
        if text is None:
            text = (unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
                    or ch.encode("ascii", "backslashreplace").decode())
        out.append(text)
    return "".join(out), err.end


def _ascii_console_fallback() -> None:
    """Write what stdout's or stderr's encoding cannot (an ASCII console: ``LC_ALL=C``
    without Python's UTF-8 mode, ``PYTHONIOENCODING=ascii``) in ASCII spellings
    ("µm" as "um"), instead of failing on the first "µm" (an error instead of the
    result, a traceback for ``--help``). Consoles that can write them are left alone."""
    import codecs

    try:
        codecs.lookup_error(ASCII_ERRORS)
    except LookupError:
        codecs.register_error(ASCII_ERRORS, _ascii_spelling)
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None)
        if not encoding or not hasattr(stream, "reconfigure"):
            continue
        try:
            "".join(ASCII_SPELLINGS).encode(encoding)
        except UnicodeEncodeError:
            stream.reconfigure(errors=ASCII_ERRORS)
        except LookupError:  # an encoding Python does not know: leave it
            continue


def _one_line_warnings(where: str | Callable[[], str]) -> None:
    """Print Python warnings as ``srmat CMD: warning: message`` (one line, without the
    source line Python adds); ``where`` is the command or a function that gives it when
    a warning is printed."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):
        name = where() if callable(where) else where
        print(warning_line(name, message), file=sys.stderr if file is None else file)

    warnings.showwarning = show


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
