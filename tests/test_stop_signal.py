"""``_atomic.stop_signal``: the one rule of "SIGINT ignored, so SIGTERM is the stop
signal", which ``jobs.stop_on_ctrl_c``, ``tiling._distributed._ctrl_c_after_call`` and
``srmat``'s SIGTERM handler (``cli._sigterm_as_ctrl_c``) each decided in their own words."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator

import pytest
from test_jobs_sigterm import _first_sigterm

from napari_srmat._atomic import stop_signal

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.fixture
def handlers() -> Iterator[None]:
    """SIGINT's and SIGTERM's handlers put back after the test."""
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGINT, before[0])
    signal.signal(signal.SIGTERM, before[1])


def _term(signum, frame) -> None:
    """A SIGTERM handler set from Python (never called)."""


@pytest.mark.usefixtures("handlers")
def test_sigint_s_handler_while_it_has_one_else_sigterm_s():
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _term)
    assert stop_signal() == (signal.SIGINT, signal.default_int_handler)
    for sigint in (signal.SIG_IGN, signal.SIG_DFL):  # ignored (``srmat ... &``), default
        signal.signal(signal.SIGINT, sigint)
        assert stop_signal() == (signal.SIGTERM, _term)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    assert stop_signal() is None  # neither has a handler: nothing to change


@pytest.mark.usefixtures("handlers")
def test_none_outside_the_main_thread():
    signal.signal(signal.SIGINT, signal.default_int_handler)
    found: list[object] = []
    thread = threading.Thread(target=lambda: found.append(stop_signal()))
    thread.start()
    thread.join()
    assert found == [None]


@pytest.mark.usefixtures("handlers")
def test_a_job_s_stop_with_sigint_at_its_default_action_comes_by_sigterm():
    """``stop_on_ctrl_c`` took SIGTERM as the stop only with SIGINT ignored, the other two
    wherever SIGINT had no Python handler; the one rule now (SIGINT at its default
    action is set only by a program's own code: Python's start installs its handler)."""
    from napari_srmat import cli
    from napari_srmat.jobs import StopToken, stop_on_ctrl_c

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    command_ran = cli._COMMAND_RUNS.is_set()
    cli._sigterm_as_ctrl_c()
    try:
        with stop_on_ctrl_c(StopToken()) as token:
            _first_sigterm()  # srmat's handler's KeyboardInterrupt would end pytest
            assert token.stop_requested
            assert signal.getsignal(signal.SIGINT) == signal.SIG_DFL
    finally:
        cli._TERMINATED.clear()
        if not command_ran:  # set by _sigterm_as_ctrl_c: no command runs after the test
            cli._COMMAND_RUNS.clear()
