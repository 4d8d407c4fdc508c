"""Loading a session with its LR and SR images given the wrong way round."""

from __future__ import annotations

import numpy as np
import pytest

from napari_srmat.audit import AuditFileError, AuditSession, Candidate


def test_load_with_lr_and_sr_swapped_says_so(tmp_path):
    """F6: LR and SR given the wrong way round were refused only by a checksum mismatch;
    now the refusal says they look swapped. A wrong image of neither kind keeps the
    checksum line."""
    lr = np.random.default_rng(0).integers(0, 255, (16, 16), dtype=np.uint8)
    sr = np.kron(lr, np.ones((4, 4), np.uint8))
    cand = Candidate(id=1, bbox=[4, 4, 20, 20], score=1.0, kind="new_boundary",
                     new_boundary_length_px=12.0)
    path = AuditSession.create(lr, sr, [cand]).save(tmp_path / "a.json")
    with pytest.raises(AuditFileError, match="LR and SR look swapped"):
        AuditSession.load(path, lr=sr, sr=lr)
    with pytest.raises(AuditFileError, match="does not match the audited one") as info:
        AuditSession.load(path, lr=lr + 1, sr=sr)
    assert "swapped" not in str(info.value)
    assert AuditSession.load(path, lr=lr, sr=sr).candidates[0].id == 1
