"""How a training command (``srmat sr train``, ``srmat edges train``) runs its job and
ends when stopped: the one rule of both.

A Ctrl-C asks the job to stop (:func:`napari_srmat.jobs.stop_on_ctrl_c`), as the Train
widget's Stop does: the job saves its resumable state at the point it reached and says
so; a second Ctrl-C interrupts at once. Either way the command's one line then says
what a rerun does, read from the run folder (the training module's ``RESUME_RECORD``),
never assumed: ``rerun it with --resume to continue from step 200 (OUT/train_state)``,
or, with no state kept, that a rerun starts over. Until 2026-12-06 it always said
"rerun it with --resume to continue from what was kept", and after a Ctrl-C of
``srmat sr train --synthetic 2`` (no ``--val``: its state was written only at
validation) that rerun warned "nothing to resume" and started over: 200 steps lost.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

from ..errors import Option, disk_full_hint, error_message
from ..jobs import ResumeRecord, StopToken, stop_on_ctrl_c
from ..outputs import RESUME, START_OVER
from . import _RUNNING_COMMAND, _TERMINATED, Interrupted, note_line, run_cli_job

_STOPS = "the training stops at its next step and keeps its state"
#: What a training command says at once at the first Ctrl-C (the job stops at its next
#: step, which may be minutes away: after a data load, a validation).
CTRL_C_STOPPING = f"Ctrl-C: {_STOPS} (Ctrl-C again to interrupt at once)"
#: What it says instead at a SIGTERM (``kill``, ``scancel``, a shutdown), which the
#: console's command takes as a first Ctrl-C (:data:`napari_srmat.cli.EXIT_TERMINATED`).
#: Until 2026-12-07 a SIGTERM was told as a Ctrl-C. It offers no Ctrl-C: a job started
#: in the background (SIGINT ignored) takes none.
SIGTERM_STOPPING = f"terminated (SIGTERM): {_STOPS} (SIGTERM again to interrupt at once)"


#: What :func:`rerun_after_stop` tells to do, in an ``srmat`` command's words (``flag``)
#: and in the Train widget's (``gui``: its controls, as
#: :data:`napari_srmat.outputs.RESUME` and :data:`~napari_srmat.outputs.START_OVER`
#: name them): a resume, a start over, a rerun that starts over by itself.
RERUN_RESUMES = Option("rerun it with resume=True", "rerun it with --resume",
                       f"{RESUME.gui} and run it again")
RERUN_STARTS_OVER = Option("rerun it with resume=False and overwrite=True",
                           "rerun it with --overwrite (without --resume)",
                           f"run it again {START_OVER.gui}")
RERUN_ANEW = Option("a rerun", "a rerun", "running it again")


def rerun_after_stop(out: str | os.PathLike, record: ResumeRecord,
                     earlier_run: Callable[[Path], str | None], *,
                     replaced: tuple | None = None, gui: bool = False) -> str:
    """What a rerun of a stopped training command does, from what ``out`` holds.

    Parameters
    ----------
    out : path-like
        The run folder.
    record : ResumeRecord
        Where the training records the point a resume continues from (its module's
        ``RESUME_RECORD``).
    earlier_run : callable
        The training module's description of the checkpoints a folder holds (None:
        none): a new run into it needs ``--overwrite``.
    replaced : tuple, optional
        The record's :meth:`~napari_srmat.jobs.ResumeRecord.stamp` before a run that
        does not resume (``--overwrite``): still the same, it is the earlier run's, which
        the stopped run was replacing, not a point to continue this one from (until
        2026-12-06 the line offered it: a resume of the other settings' run).
    gui : bool
        Worded for the Train widget (its Resume and Overwrite controls, never a flag:
        the ``gui`` of :data:`RERUN_RESUMES` and the like), as its disk full's hint
        says it.

    Returns
    -------
    str
        ``rerun it with --resume to continue from step 200 (OUT/train_state)``; with no
        state kept, ``nothing resumable was kept: a rerun starts over`` (and needs
        ``--overwrite`` where ``out`` holds checkpoints). With ``gui``: ``tick 'Resume'
        and run it again to continue ...``.

    Examples
    --------
    >>> from napari_srmat.edges.train import RESUME_RECORD, _earlier_run
    >>> rerun_after_stop("nowhere", RESUME_RECORD, _earlier_run, gui=True)
    'nothing resumable was kept: running it again starts over'
    """
    def told(option: Option) -> str:
        return option.gui if gui else option.flag

    found = record.point(out)
    if found is not None and (replaced is None or record.stamp(out) != replaced):
        state, where = found
        return f"{told(RERUN_RESUMES)} to continue {where} ({state})"
    if earlier_run(Path(out)) is not None:
        return f"nothing resumable was kept: {told(RERUN_STARTS_OVER)} to start over"
    return f"nothing resumable was kept: {told(RERUN_ANEW)} starts over"


def disk_full_told(message: str, rerun: str) -> str:
    """``message``, a note that quotes an error's line (``WHAT: ERROR`` of
    :func:`napari_srmat.jobs.keep_at_interrupt`, worded before the rerun was known), whose
    disk-full hint says what a rerun of the training does, ``rerun``
    (:func:`rerun_after_stop`), as the command's interrupted line:
    :func:`napari_srmat.errors.disk_full_hint`, the one wording, with and without it. An
    error's own line takes it at once (``error_message(exc, rerun=...)``).

    Examples
    --------
    >>> told = "run/last: no space left on device" + disk_full_hint()
    >>> disk_full_told(told, "rerun it with --resume to continue from step 3 (run/train_state)")
    'run/last: no space left on device (disk full: free space; rerun it with --resume to continue from step 3 (run/train_state))'
    """  # noqa: E501
    return message.replace(disk_full_hint(), disk_full_hint(rerun))


@contextlib.contextmanager
def rerun_on_disk_full(out: str | os.PathLike, record: ResumeRecord,
                       earlier_run: Callable[[Path], str | None], *, resume: bool,
                       gui: bool = False) -> Iterator[Callable[[], str]]:
    """Within the block, a training into ``out`` runs; a disk full (ENOSPC) raised from
    it carries what a rerun does (:func:`rerun_after_stop`, read from ``out`` once it
    failed): the command's error line (``exc.cli_message``) or, with ``gui``, the rerun
    the Train widget tells (``exc.gui_rerun``, said by
    :func:`napari_srmat.errors.error_message`). The one rule of ``srmat``'s training
    commands (:func:`run_training`) and the Train widget.

    Parameters
    ----------
    out : path-like
        The run folder.
    record, earlier_run
        As for :func:`rerun_after_stop`.
    resume : bool
        The run resumes the state in ``out``; else the record's stamp is taken before
        the block (``replaced`` of :func:`rerun_after_stop`): a state there is an
        earlier run's until this one writes its own.
    gui : bool
        Worded for the Train widget.

    Yields
    ------
    callable
        ``rerun()``: :func:`rerun_after_stop` for ``out`` as it is when called.
    """
    replaced = None if resume else record.stamp(out)

    def rerun() -> str:
        return rerun_after_stop(out, record, earlier_run, replaced=replaced, gui=gui)

    try:
        yield rerun
    except OSError as exc:
        if exc.errno == errno.ENOSPC:  # its line says how it resumes
            if gui:
                exc.gui_rerun = rerun()
            else:
                exc.cli_message = error_message(exc, rerun=rerun())
        raise


def run_training(job: Callable[[Any], Generator], out: str | os.PathLike,
                 record: ResumeRecord, earlier_run: Callable[[Path], str | None], *,
                 resume: bool, on_event: Callable[[Any], None] | None = None) -> Any:
    """Run a training job for a command (:func:`napari_srmat.cli.run_cli_job`), a Ctrl-C
    or a SIGTERM (the console's, told as such) asking it to stop; return its result.

    A disk full's hint, in the error line, in the ``during an error`` part of the
    interrupted line (the :class:`~napari_srmat.cli.Interrupted`'s ``rerun``) and in the
    notes of an interrupt (a write at it that failed), says the rerun of
    :func:`rerun_after_stop` (:func:`napari_srmat.errors.disk_full_hint`), as the
    interrupted line does, not the generic "rerun the same command to resume" (refused
    in a folder that holds a run).

    Parameters
    ----------
    job : callable
        ``job(stop)``: the job generator, polling the :class:`~napari_srmat.jobs.StopToken`.
    out : path-like
        Its run folder.
    record, earlier_run
        As for :func:`rerun_after_stop`.
    resume : bool
        The run resumes the state in ``out`` (``--resume``); else a state there is an
        earlier run's until this one writes its own.
    on_event : callable, optional
        As for :func:`~napari_srmat.cli.run_cli_job`.

    Returns
    -------
    object
        The job's result.

    Raises
    ------
    Interrupted
        The job stopped (a Ctrl-C or SIGTERM, or a stop on request) or was interrupted
        (a second one): what it said it kept, if it did, and :func:`rerun_after_stop`.
    """
    stop = StopToken()
    where = _RUNNING_COMMAND.get()()

    def tell_stopping() -> None:  # in the signal handler: never raises
        said = SIGTERM_STOPPING if _TERMINATED.is_set() else CTRL_C_STOPPING
        try:
            print(note_line(where, said), file=sys.stderr, flush=True)
        except (RuntimeError, OSError, ValueError):  # stderr mid-write (a reentrant
            pass  # call) or closed: the job's stop line tells it anyway

    with rerun_on_disk_full(out, record, earlier_run, resume=resume) as rerun:
        try:
            with stop_on_ctrl_c(stop, on_request=tell_stopping):
                return run_cli_job(job(stop), on_event=on_event)
        except KeyboardInterrupt as exc:  # Interrupted: the job's Stopped message
            said = str(exc) if isinstance(exc, Interrupted) else None
            told = rerun()
            if getattr(exc, "__notes__", None):  # what a failed write at
                # it did not keep
                exc.__notes__ = [disk_full_told(note, told) for note in exc.__notes__]
            raise Interrupted("; ".join(filter(None, (said, told))),
                              rerun=told) from exc
