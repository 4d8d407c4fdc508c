"""`srmat synth` stopped part-way (Ctrl-C) said its partial output was "kept for a
rerun", but the same command then refused it: "OUT already holds synth_0000 (pass
--overwrite to replace it, ...)". The rerun now finishes the set, keeping the images the
stopped run finished with the same parameters (their records prove them)."""

from __future__ import annotations

import json

import pytest

from napari_srmat.cli import EXIT_INTERRUPTED, main
from napari_srmat.outputs import MARKER_NAME


def _interrupt_at_png(monkeypatch, n_calls: int) -> None:
    """A Ctrl-C at the ``n_calls``-th PNG written (two per image: image, mask)."""
    import napari_srmat.io as srmat_io

    real, calls = srmat_io.png_bytes, []

    def png_bytes(*args, **kwargs):
        calls.append(1)
        if len(calls) == n_calls:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(srmat_io, "png_bytes", png_bytes)


@pytest.fixture
def stopped(tmp_path, capsys, monkeypatch):
    """A set of 3 stopped at its second image's mask: synth_0000 finished, synth_0001
    unfinished, synth_0002 not begun."""
    out = tmp_path / "set"
    argv = ["synth", str(out), "--size-px", "32", "--grain-size-px", "8", "--n", "3"]
    with monkeypatch.context() as m:
        _interrupt_at_png(m, 4)
        assert main(argv) == EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "rerun the same command to resume" in err, err
    assert json.loads((out / MARKER_NAME).read_text())["complete"] is False
    return out, argv


def test_the_same_command_finishes_a_stopped_set_keeping_what_it_finished(stopped,
                                                                          capsys):
    out, argv = stopped
    first = {p.name: p.read_bytes() for p in out.glob("synth_0000*")}
    assert main(argv) == 0, capsys.readouterr().err
    said = capsys.readouterr().out.splitlines()
    assert said[0].startswith("synth_0000: ") and said[0].endswith(
        "(kept: written with these parameters by the run that stopped)")
    assert {p.name: p.read_bytes() for p in out.glob("synth_0000*")} == first
    for seed in (1, 2):
        record = json.loads((out / f"synth_000{seed}.json").read_text())
        assert "unfinished" not in record and record["n_grains"] > 0
    assert json.loads((out / MARKER_NAME).read_text())["complete"] is True
    assert main(argv) == 2  # a finished set: replaced only when asked
    assert "--overwrite" in capsys.readouterr().err


def test_a_stopped_set_is_not_finished_with_other_parameters(stopped, capsys):
    out, argv = stopped
    other = [*argv[:-4], "--grain-size-px", "9", *argv[-2:]]
    assert main(other) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and (f"{out} already holds synth_0000 written with other "
                                     "parameters (pass --overwrite") in err, err
    assert main([*other, "--overwrite"]) == 0
