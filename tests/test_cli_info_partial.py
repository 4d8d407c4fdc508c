"""``srmat info OUT`` where ``OUT`` does not exist but a stopped run's ``OUT.partial``
does: one line naming it, what it holds (output chunks written of all) and how to resume
it (the command that started it), exit 2 as for any path that is not there (E6 finding
3, s51). Until then: ``srmat info: error: OUT: image not found``."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from napari_srmat.cli import main
from napari_srmat.io import OmeZarrStreamWriter
from napari_srmat.outputs import write_marker

COMMAND = ["/usr/local/bin/srmat", "sr", "run", "scan.png", "sr.zarr", "--model", "cnn"]


def _stopped(out, monkeypatch, *, argv=COMMAND):
    """A run stopped after 1 of its 6 output chunks (a 64x96 px output in 32-px chunks), as
    ``srmat sr run`` leaves it: ``OUT.partial`` with its manifest and one chunk done."""
    monkeypatch.setattr(sys, "argv", list(argv))
    identity = {"attrs": {"operation": "super_resolution", "model": "cnn", "scale": 4},
                "input": {"file": {"path": "/data/scan.png", "size": 1, "sha256": "ab"}}}
    w = OmeZarrStreamWriter(out, (64, 96), np.uint8, chunks=32, identity=identity)
    w.write_block((0, 1), None, np.ones((32, 32), np.uint8))
    w.close()  # stopped: no finalize, the partial stays
    assert not out.exists() and out.with_name(out.name + ".partial").is_dir()


def _info(capsys, *args) -> tuple[int, str, str]:
    rc = main(["info", *args])
    got = capsys.readouterr()
    return rc, got.out, got.err


def test_info_of_a_stopped_run_names_its_partial_and_the_command_to_resume(
        tmp_path, capsys, monkeypatch):
    """Failed before: 'srmat info: error: .../sr.zarr: image not found'."""
    out = tmp_path / "sr.zarr"
    _stopped(out, monkeypatch)
    rc, stdout, err = _info(capsys, str(out))
    assert rc == 2 and stdout == ""
    assert err == (f"srmat info: error: {out} does not exist; {out}.partial is a stopped "
                   "run (super-resolution of /data/scan.png): 1 of 6 output chunks (32x32 "
                   "px) written; rerun `srmat sr run scan.png sr.zarr --model cnn` (from the "
                   "folder it ran in) to resume it\n")
    rc, stdout, err = _info(capsys, str(out), "--json")  # the same line
    assert rc == 2 and stdout == "" and "1 of 6 output chunks" in err


def test_a_run_not_started_by_srmat_is_not_quoted(tmp_path, capsys, monkeypatch):
    """A napari session or a script started it: no command to quote. Failed before."""
    out = tmp_path / "sr.zarr"
    _stopped(out, monkeypatch, argv=["/usr/bin/napari"])
    rc, _, err = _info(capsys, str(out))
    assert rc == 2 and err.endswith("1 of 6 output chunks (32x32 px) written; rerun the "
                                    "command that started it, with the same input and "
                                    "settings, to resume it\n")


def test_edges_predict_folder_partial(tmp_path, capsys, monkeypatch):
    """``srmat edges predict``'s OUT.partial: its marker (kind, command) and its maps'
    store inside. Failed before."""
    out = tmp_path / "edges"
    partial = tmp_path / "edges.partial"
    partial.mkdir()
    monkeypatch.setattr(sys, "argv", ["srmat", "edges", "predict", "a.png", "--out", "edges"])
    write_marker(partial, "boundaries", identity={"input": {"file": {"path": "/d/a.png"}}},
                 complete=False)
    OmeZarrStreamWriter(partial / "stacked.ome.zarr", (64, 64, 2), np.float32, chunks=32,
                        identity={"attrs": {}}).close()
    rc, _, err = _info(capsys, str(out))
    assert rc == 2 and err == (
        f"srmat info: error: {out} does not exist; {partial} is a stopped run (boundary "
        "maps of /d/a.png): 0 of 4 output chunks (32x32 px) written; rerun `srmat edges "
        "predict a.png --out edges` (from the folder it ran in) to resume it\n")


@pytest.mark.parametrize("what", ["nothing", "foreign"])
def test_no_partial_of_ours_is_the_plain_not_found(tmp_path, capsys, what):
    """guard: passed before (s51): no OUT.partial, or a folder of someone else's under
    that name, is the plain "image not found"."""
    out = tmp_path / "sr.zarr"
    if what == "foreign":
        (tmp_path / "sr.zarr.partial").mkdir()
        (tmp_path / "sr.zarr.partial" / "notes.txt").write_text("mine")
    rc, _, err = _info(capsys, str(out))
    assert rc == 2 and err == f"srmat info: error: {out}: image not found\n"
