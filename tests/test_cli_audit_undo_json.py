"""``srmat audit undo --json`` gives the session's progress as integers beside its words
(s51 F5 finding 7, review R6 of 31badcc5): before, only ``"reviewed": "1/3 reviewed"``."""

from __future__ import annotations

import json

import numpy as np

from napari_srmat.audit import AuditSession, Candidate
from napari_srmat.cli import main


def test_undo_json_gives_the_progress_as_integers(tmp_path, capsys):
    """Failed before: no n_reviewed / n_candidates (a script parsed '1/3 reviewed')."""
    lr = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    sr = np.kron(lr, np.ones((4, 4), np.uint8))
    s = AuditSession.create(lr, sr, [Candidate(i, [0, 0, 2, 2], 1.0, "new_boundary", 2.0)
                                     for i in (1, 2, 3)], reviewer="ana")
    path = tmp_path / "audit.json"
    s.save(path)
    s.decide("real", candidate_id=1)
    s.decide("hallucinated", candidate_id=2)
    assert main(["audit", "undo", str(path), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert (got["n_reviewed"], got["n_candidates"], got["reviewed"]) == (1, 3, "1/3 reviewed")
    assert got["candidate"] == 2
