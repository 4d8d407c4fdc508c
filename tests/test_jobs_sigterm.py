"""jobs.stop_on_ctrl_c with SIGINT ignored (a job a script starts in the background,
``srmat ... &``): ``srmat``'s SIGTERM handler, which ends the command as a Ctrl-C does,
finds the block's stop; the Ctrl-C presses stay ignored. The commands' own tests are in
``test_train_stops.py``."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator

import pytest

from napari_srmat import cli
from napari_srmat.jobs import StopToken, stop_on_ctrl_c

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.fixture
def sigint_ignored() -> Iterator[None]:
    """SIGINT ignored and ``srmat``'s SIGTERM handler, as in ``srmat sr train ... &``."""
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cli._sigterm_as_ctrl_c()
    yield
    signal.signal(signal.SIGINT, before[0])
    signal.signal(signal.SIGTERM, before[1])
    cli._TERMINATED.clear()


def _first_sigterm() -> None:
    """Send a SIGTERM that must not interrupt (a KeyboardInterrupt would end pytest)."""
    try:
        signal.raise_signal(signal.SIGTERM)
    except KeyboardInterrupt:
        pytest.fail("the first SIGTERM interrupted at once")


@pytest.mark.usefixtures("sigint_ignored")
def test_the_first_sigterm_asks_the_stop_the_second_interrupts_presses_ignored():
    """The first SIGTERM raised KeyboardInterrupt at once (failed before, 2026-12-07): a
    training was interrupted wherever it was. Now it asks the stop (and says so), a
    second interrupts, a Ctrl-C does nothing, and the handlers are put back after."""
    routed, told = signal.getsignal(signal.SIGTERM), []
    with stop_on_ctrl_c(StopToken(), on_request=lambda: told.append("stopping")) as token:
        signal.raise_signal(signal.SIGINT)
        assert not token.stop_requested
        _first_sigterm()
        assert token.stop_requested and told == ["stopping"]
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        signal.raise_signal(signal.SIGINT)  # still ignored once the stop is asked
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is routed
    assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN


@pytest.mark.usefixtures("sigint_ignored")
def test_a_sigterm_asks_the_inner_block_s_stop():
    """Blocks nested (a job in a job): the SIGTERM asks the innermost's stop, as a
    Ctrl-C does with SIGINT not ignored."""
    with stop_on_ctrl_c(StopToken()) as outer, stop_on_ctrl_c(StopToken()) as inner:
        _first_sigterm()
        assert inner.stop_requested and not outer.stop_requested


@pytest.mark.parametrize("sigint", ["ignored", "python's"])
def test_a_sigterm_held_through_a_swap_interrupts_after_it(sigint):
    """A SIGTERM during a block held whole (:func:`ctrl_c_held`: an output's swap, a
    run's closes) was only counted with SIGINT ignored, and delivered as a SIGINT, which
    stayed ignored: the command went on, its exit 0 (failed before, 2026-12-07). Now it
    is held, then delivered as the SIGTERM it was, in both modes of SIGINT."""
    from napari_srmat._atomic import ctrl_c_held

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    if sigint == "ignored":
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    cli._sigterm_as_ctrl_c()
    try:
        with ctrl_c_held() as held:
            signal.raise_signal(signal.SIGTERM)  # held: not raised inside the block
        assert cli._TERMINATED.is_set()
        with pytest.raises(KeyboardInterrupt):
            held.deliver()
        held.deliver()  # delivered once
    finally:
        signal.signal(signal.SIGINT, before[0])
        signal.signal(signal.SIGTERM, before[1])
        cli._TERMINATED.clear()


#: A console ``srmat`` whose SIGTERM lands between the two handler changes of
#: ``cli._ctrl_c_after_the_command`` (SIGINT ignored already, SIGTERM still srmat's).
_SIGTERM_AS_THE_COMMAND_ENDS = """
import signal, sys
real = signal.signal
def signal_then_term(signum, handler):
    out = real(signum, handler)
    if signum == signal.SIGINT and handler == signal.SIG_IGN:
        signal.raise_signal(signal.SIGTERM)
    return out
signal.signal = signal_then_term
from napari_srmat import cli
sys.argv = ["srmat", "--version"]
sys.exit(cli.main())
"""


def test_a_sigterm_as_the_command_ends_has_its_default_action():
    """A SIGTERM once the command had returned, as SIGINT was being ignored, reached
    Python's SIGINT handler: a KeyboardInterrupt traceback, exit 130 (failed before,
    2026-12-07). Now the command's SIGTERM handler is over there: killed by it, quietly,
    as by default."""
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-c", _SIGTERM_AS_THE_COMMAND_ENDS],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "Traceback" not in proc.stderr and "KeyboardInterrupt" not in proc.stderr
    assert proc.returncode == -signal.SIGTERM


@pytest.mark.usefixtures("sigint_ignored")
def test_a_sigterm_as_the_stop_s_handler_is_set_leaves_sigint_ignored(monkeypatch):
    """A second SIGTERM landing just as the SIGTERM handler set the block's stop as
    SIGINT's handler interrupted before its ``try``: SIGINT's handler was left the
    stop's, the Ctrl-C presses no longer ignored (failed before, 2026-12-07). Now SIGINT
    is ignored again after the interrupt."""
    real, fired = signal.signal, []

    def signal_then_term(signum, handler):
        out = real(signum, handler)
        if signum == signal.SIGINT and getattr(handler, "__name__", "") == "first_asks_to_stop":
            if not fired:
                fired.append(True)
                signal.raise_signal(signal.SIGTERM)
        return out

    with stop_on_ctrl_c(StopToken()) as token:
        token.request_stop()  # asked already: the next SIGTERM interrupts
        monkeypatch.setattr(signal, "signal", signal_then_term)
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGTERM)
        monkeypatch.undo()
    assert fired and signal.getsignal(signal.SIGINT) == signal.SIG_IGN


@pytest.mark.usefixtures("sigint_ignored")
def test_a_sigterm_in_a_dask_client_call_waits_for_the_call_s_start(monkeypatch):
    """With SIGINT ignored, a blocking dask client call held nothing: a SIGTERM raised
    its KeyboardInterrupt at once, also before the client's loop had started the call
    (a tornado traceback above the line; failed before, 2026-12-07). Now it waits for
    the call's start as a Ctrl-C does, then interrupts; the handlers are put back."""
    from napari_srmat.tiling import _distributed

    routed, waited = signal.getsignal(signal.SIGTERM), []
    monkeypatch.setattr(_distributed.time, "sleep", waited.append)
    with pytest.raises(KeyboardInterrupt), _distributed._ctrl_c_after_call():
        signal.raise_signal(signal.SIGTERM)
    monkeypatch.undo()
    assert len(waited) == 1
    assert signal.getsignal(signal.SIGTERM) is routed
    assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN


@pytest.mark.usefixtures("sigint_ignored")
def test_a_sigterm_with_debug_exits_143_with_the_traceback(monkeypatch, tmp_path, capsys):
    """``--debug`` let the SIGTERM's KeyboardInterrupt out of ``cli.main``: exit 130, as
    a Ctrl-C (failed before, 2026-12-07). Now the traceback is printed and the exit is
    :data:`cli.EXIT_TERMINATED`."""
    from napari_srmat.cli import synth

    def killed(args) -> int:
        signal.raise_signal(signal.SIGTERM)
        return 0

    monkeypatch.setattr(synth, "_run", killed)
    try:
        code = cli.main(["--debug", "synth", str(tmp_path / "out")])
    except KeyboardInterrupt:
        code = "KeyboardInterrupt out of main"
    assert code == cli.EXIT_TERMINATED
    assert "KeyboardInterrupt" in capsys.readouterr().err


@pytest.mark.usefixtures("sigint_ignored")
def test_a_sigterm_while_the_arguments_are_parsed_is_one_line_exit_143(
    monkeypatch, tmp_path, capsys
):
    """A SIGTERM outside ``_command``'s handlers (here while the arguments are parsed)
    printed the KeyboardInterrupt's traceback without ``--debug`` (failed before,
    2026-12-07). Now one line, exit :data:`cli.EXIT_TERMINATED`."""

    def parse_killed(self, args=None, namespace=None):
        signal.raise_signal(signal.SIGTERM)

    monkeypatch.setattr(cli.OneLineErrorParser, "parse_args", parse_killed)
    code = cli.main(["synth", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_TERMINATED
    assert "Traceback" not in err
    assert err == "srmat: interrupted\n"
