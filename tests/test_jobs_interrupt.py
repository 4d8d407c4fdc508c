"""A Ctrl-C that lands in :func:`napari_srmat.jobs.run_job`'s own code (the bar's redraw,
the caller's ``on_event``: a notebook's live plot) and not in the job it drives.

It left the job paused at its event, to be closed later (``GeneratorExit``, which no
``except KeyboardInterrupt`` catches): a training kept nothing of its epoch. It is now
thrown into the job there, as if it had landed in it, then goes on. The trainings' own
tests are in ``test_train_stops.py``.
"""

from __future__ import annotations

import pytest

from napari_srmat.jobs import Progress, run_job


def _interrupt_at(done: int):
    def on_event(event):
        if isinstance(event, Progress) and event.done == done:
            raise KeyboardInterrupt
    return on_event


def _ended_at_interrupt(gen, done: int) -> bool:
    """Drive job ``gen`` by run_job, its ``on_event`` raising a KeyboardInterrupt at
    ``Progress(done)``, which reaches the caller; whether the job has ended (the caller
    keeps ``gen``: a job dropped would end when collected)."""
    with pytest.raises(KeyboardInterrupt):
        run_job(gen, quiet=True, on_event=_interrupt_at(done))
    return gen.gi_frame is None


def test_an_interrupt_in_on_event_reaches_the_job_at_its_event():
    """The job that catches it sees it at the event it yielded (failed before: it saw
    none; its generator stayed paused)."""
    seen = []

    def job():
        for i in range(5):
            try:
                yield Progress(i + 1, 5)
            except KeyboardInterrupt:
                seen.append(i + 1)  # a training keeps its steps here
                raise
        return "done"

    gen = job()
    assert _ended_at_interrupt(gen, 2) and seen == [2]  # it ended there  # the job ended


def test_a_job_that_catches_no_interrupt_ends_its_finally_blocks_run():
    """A job that catches none ends at its event: its ``finally`` runs there (a partial
    output cleared, none swapped in), before the interrupt reaches the caller."""
    steps = []

    def job():
        try:
            for i in range(5):
                yield Progress(i + 1, 5)
            steps.append("swapped in")  # what a finished job would do
        finally:
            steps.append("finally")
        return "done"

    gen = job()
    assert _ended_at_interrupt(gen, 3) and steps == ["finally"]


def test_a_job_that_yields_after_the_interrupt_is_closed_and_the_interrupt_goes_on():
    """A job that goes on after it (yields another event) is closed there; the interrupt
    reaches the caller, not the job's later events."""
    events = []

    def job():
        try:
            yield Progress(1, 2)
        except KeyboardInterrupt:
            try:
                yield Progress(2, 2)  # goes on
            finally:
                events.append("closed")
        return "done"

    gen = job()
    assert _ended_at_interrupt(gen, 1) and events == ["closed"]


def test_an_error_the_job_raises_at_the_interrupt_goes_on_in_its_place():
    """Where the job fails at it (its state could not be kept), that error reaches the
    caller, raised from the interrupt."""
    def job():
        try:
            yield Progress(1, 2)
        except KeyboardInterrupt:
            raise OSError("disk full")  # noqa: B904 - as a failed write raises it
        yield Progress(2, 2)

    with pytest.raises((OSError, KeyboardInterrupt)) as raised:  # (either: the session
        # goes on where it fails)
        run_job(job(), quiet=True, on_event=_interrupt_at(1))
    assert isinstance(raised.value, OSError) and str(raised.value) == "disk full"
    assert isinstance(raised.value.__context__, KeyboardInterrupt)
