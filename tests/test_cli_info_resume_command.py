"""The command ``srmat info OUT`` quotes to resume a stopped run (s51 F5, review R6 of
dd530271 / 9f0ff159): without the flags that throw away ``OUT.partial``'s chunks
(findings 1), shell-quoted from the recorded words (2); a store finished but not moved
into place is told as complete (4)."""

from __future__ import annotations

import shlex
import sys

import numpy as np
import pytest

from napari_srmat.cli import main
from napari_srmat.io import OmeZarrStreamWriter

IDENTITY = {"attrs": {"operation": "super_resolution", "model": "cnn", "scale": 4}}


def _stopped(out, monkeypatch, argv, *, finished=False):
    """``srmat sr run`` stopped after 1 of 6 output chunks (or, ``finished``, killed after
    its store was finished, before the rename)."""
    monkeypatch.setattr(sys, "argv", list(argv))
    w = OmeZarrStreamWriter(out, (64, 96), np.uint8, chunks=32, identity=IDENTITY)
    for by in range(2 if finished else 1):
        for bx in range(3 if finished else 1):
            w.write_block((by, bx), None, np.ones((32, 32), np.uint8))
    if finished:
        w.finish()  # pyramid + complete marker, no swap: a kill here
    w.close()
    assert not out.exists() and out.with_name(out.name + ".partial").is_dir()


def _quoted(capsys, out) -> str:
    rc = main(["info", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    return err.split("rerun `")[1].split("`")[0]


@pytest.mark.parametrize("flag", ["--no-resume", "--overwrite", "--no-res"])
def test_a_discarding_flag_is_not_quoted(tmp_path, capsys, monkeypatch, flag):
    """Failed before: the quoted command kept --no-resume/--overwrite, and running it
    started over, throwing away the chunks written (finding 1)."""
    out = tmp_path / "sr.zarr"
    _stopped(out, monkeypatch, ["/usr/bin/srmat", "sr", "run", "scan.png", "sr.zarr",
                                "--model", "cnn", flag, "--tile", "32"])
    assert _quoted(capsys, out) == "srmat sr run scan.png sr.zarr --model cnn --tile 32"


def test_the_quoted_command_is_shell_quoted(tmp_path, capsys, monkeypatch):
    """Failed before: 'srmat sr run my scans/scan 1.png ...' split into other words in a
    shell (finding 2): the words are recorded and quoted with shlex.join."""
    out = tmp_path / "out.zarr"
    argv = ["srmat", "sr", "run", "my scans/scan 1.png", "my scans/out.zarr", "--model", "cnn"]
    _stopped(out, monkeypatch, argv)
    assert shlex.split(_quoted(capsys, out)) == argv


def test_a_finished_store_not_moved_into_place_is_told_complete(tmp_path, capsys,
                                                                monkeypatch):
    """Failed before: 'no output chunk written yet; ... to resume it' of a store whose
    every chunk and pyramid were written (killed between finish and the rename; finding
    4)."""
    out = tmp_path / "sr.zarr"
    _stopped(out, monkeypatch, ["srmat", "sr", "run", "scan.png", "sr.zarr", "--model", "cnn"],
             finished=True)
    rc = main(["info", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "no output chunk" not in err
    assert err.endswith(f"{out}.partial is a finished run not moved into place "
                        "(super-resolution): its store is complete (every output chunk and "
                        "its pyramid written); rerun `srmat sr run scan.png sr.zarr --model "
                        "cnn` (from the folder it ran in) to move it into place (nothing is "
                        "computed again)\n")
