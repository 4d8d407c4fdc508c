"""jobs.stop_on_ctrl_c: the Ctrl-C handler of the training commands (f8b8151) is put back
on every way out of its block, changes nothing where Python cannot set one (a worker
thread: a notebook's or a GUI's job), and the first press is told at once."""

from __future__ import annotations

import signal
import threading

import pytest
from _ctrl_c import python_ctrl_c  # noqa: F401

from napari_srmat.jobs import StopToken, stop_on_ctrl_c

pytestmark = pytest.mark.usefixtures("python_ctrl_c")


def test_the_handler_is_put_back_after_the_block_and_after_an_error():
    before = signal.getsignal(signal.SIGINT)
    with stop_on_ctrl_c(StopToken()):
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before
    with pytest.raises(ZeroDivisionError), stop_on_ctrl_c(StopToken()):
        1 / 0  # noqa: B018
    assert signal.getsignal(signal.SIGINT) is before


def test_the_first_press_asks_to_stop_the_second_interrupts_and_nesting_unwinds():
    before = signal.getsignal(signal.SIGINT)
    outer, inner = StopToken(), StopToken()
    with stop_on_ctrl_c(outer):
        outer_handler = signal.getsignal(signal.SIGINT)
        with stop_on_ctrl_c(inner):
            signal.raise_signal(signal.SIGINT)
            assert inner.stop_requested and not outer.stop_requested
        assert signal.getsignal(signal.SIGINT) is outer_handler
        signal.raise_signal(signal.SIGINT)
        assert outer.stop_requested
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def test_a_worker_thread_runs_the_block_unchanged():
    """signal.signal raises ValueError off the main thread: a job a notebook or the GUI
    runs in a worker must still run, the main thread's handler untouched."""
    before, seen = signal.getsignal(signal.SIGINT), []

    def work():
        try:
            with stop_on_ctrl_c(StopToken()) as token:
                seen.append((token.stop_requested, signal.getsignal(signal.SIGINT)))
        except BaseException as exc:  # noqa: BLE001 - what the worker would die of
            seen.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [(False, before)]
    assert signal.getsignal(signal.SIGINT) is before


def test_a_sigint_python_does_not_handle_is_left_alone():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with stop_on_ctrl_c(StopToken()):
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_the_first_press_is_told_at_once():
    """The first Ctrl-C only asked the job to stop, saying nothing until the job reached
    its next step (after a data load or a validation: minutes): a user who saw nothing
    pressed again, which interrupts at once, without the save the first press asked for
    (failed before: no on_request)."""
    told = []
    token = StopToken()
    with stop_on_ctrl_c(token, on_request=lambda: told.append(token.stop_requested)):
        signal.raise_signal(signal.SIGINT)
    assert told == [True]
