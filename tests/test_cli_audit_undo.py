"""``srmat audit undo SESSION``: a verdict given by mistake is taken back from the command
line, by the library's rule (``AuditSession.undo``: an ``"undo"`` entry in the log,
nothing erased), as the Audit widget's Ctrl+Z does (E6 finding 1, s51). Until then only
the library and the widget could undo: ``srmat audit`` had no such action."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_srmat.audit import AuditSession, Candidate
from napari_srmat.audit.session import UNDO_SCHEMA_VERSION
from napari_srmat.cli import main


@pytest.fixture()
def reviewed(tmp_path):
    """A session of three candidates: 1 real, 2 hallucinated, then 1 unsure (ana)."""
    lr = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    sr = np.kron(lr, np.ones((4, 4), np.uint8))
    s = AuditSession.create(lr, sr, [Candidate(i, [0, 0, 2, 2], 1.0, "new_boundary", 2.0)
                                     for i in (1, 2, 3)], reviewer="ana")
    path = tmp_path / "audit.json"
    s.save(path)
    s.decide("real", candidate_id=1)
    s.decide("hallucinated", candidate_id=2)
    s.decide("unsure", candidate_id=1)
    return path


def test_undo_takes_back_the_last_verdict_and_logs_it(reviewed, capsys):
    """Failed before: ``srmat audit`` had no ``undo`` action (argparse's exit 2)."""
    assert main(["audit", "undo", str(reviewed), "--reviewer", "bo"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("candidate #1: verdict 'unsure' (ana) undone; its verdict is "
                          "'real' (ana) again -> ")
    assert out.rstrip().endswith("(2/3 reviewed)")
    s = AuditSession.load(reviewed)
    assert s.decisions[1].verdict == "real" and s.decisions[2].verdict == "hallucinated"
    assert [e["action"] for e in s.log] == ["verdict"] * 3 + ["undo"]  # nothing erased
    assert {k: s.log[-1][k] for k in ("candidate", "verdict", "reviewer")} == {
        "candidate": 1, "verdict": "unsure", "reviewer": "bo"}
    assert json.loads(reviewed.read_text())["schema_version"] == UNDO_SCHEMA_VERSION
    # the previous save kept, as every save keeps it
    assert len(AuditSession.load(reviewed.with_name("audit.json.bak")).log) == 3


def test_undo_of_a_candidate_and_its_json(reviewed, capsys):
    """``--candidate ID`` undoes that candidate's latest verdict; ``--json`` prints one
    object. Failed before (no such action)."""
    assert main(["audit", "undo", str(reviewed), "--candidate", "2", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["candidate"] == 2 and d["undone"]["verdict"] == "hallucinated"
    assert d["verdict"] is None and d["reviewed"] == "1/3 reviewed"
    assert d["warnings"] == []
    s = AuditSession.load(reviewed)
    assert sorted(s.decisions) == [1] and s.log[-1]["reviewer"] == "ana"  # the session's


@pytest.mark.parametrize(("args", "told"), [
    (["--candidate", "3"], "audit.json: candidate 3 has no verdict to undo"),
    (["--candidate", "9"], "audit.json: no candidate with id 9"),
    (["--candidate", "x"], "argument --candidate: an integer >= 0, got 'x'"),
])
def test_nothing_to_undo_is_one_line(reviewed, capsys, args, told):
    """Bad input: one line, exit 2, the file unchanged. Failed before (no such action)."""
    before = reviewed.read_bytes()
    try:
        rc = main(["audit", "undo", str(reviewed), *args])
    except SystemExit as exc:  # argparse's refusal of a flag's value
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err
    assert told in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert reviewed.read_bytes() == before


def test_every_verdict_undone_in_reverse_order_then_refused(reviewed, capsys):
    """Repeated, the verdicts are undone in the reverse order they were given; then
    "no verdict to undo" (exit 2). Failed before (no such action)."""
    for _ in range(3):
        assert main(["audit", "undo", str(reviewed)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["candidate #1", "candidate #2",
                                                    "candidate #1"]
    assert main(["audit", "undo", str(reviewed)]) == 2
    assert "audit.json: no verdict to undo" in capsys.readouterr().err
    assert AuditSession.load(reviewed).decisions == {}


def test_undo_json_gives_the_progress_as_integers(reviewed, capsys):
    """``--json`` gives the session's progress as integers beside its words (s51 F5
    finding 7, review R6 of 31badcc5; moved here from test_cli_audit_undo_json.py onto the
    ``reviewed`` fixture, s51 F10 #4). Failed before 31badcc5's fix: no n_reviewed /
    n_candidates (a script parsed '1/3 reviewed')."""
    assert main(["audit", "undo", str(reviewed), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)  # ana's 'unsure' of 1 undone: 1 real again
    assert (got["n_reviewed"], got["n_candidates"], got["reviewed"]) == (2, 3, "2/3 reviewed")
    assert got["candidate"] == 1
