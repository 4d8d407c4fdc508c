"""A save over another session's review keeps that review once: as
``PATH.<created>.bak`` (``replaced_session_path``), not also as ``PATH.bak`` with the
same bytes (E6 finding 1, s51)."""

from __future__ import annotations

import hashlib

import numpy as np

from napari_srmat.audit import AuditSession, Candidate


def _pair():
    lr = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    return lr, np.kron(lr, np.ones((4, 4), np.uint8))


def _new(created: str, reviewer: str) -> AuditSession:
    lr, sr = _pair()
    cands = [Candidate(id=i + 1, bbox=[10 + 30 * i, 20, 30 + 30 * i, 40], score=9.0 - i,
                       kind="new_boundary", new_boundary_length_px=10.0) for i in range(3)]
    s = AuditSession.create(lr, sr, cands, reviewer=reviewer)
    s.created = created  # another run
    return s


def _digests(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_a_replaced_review_is_kept_once_not_also_as_the_bak(tmp_path):
    """After `srmat audit candidates --overwrite` (a new session saved over a reviewed
    one), audit.json.bak and audit.json.<created>.bak held the same bytes, and each
    further review replaced by a new run made one more such pair. Failed before."""
    path = tmp_path / "audit.json"
    reviews = []
    for k in range(4):  # four runs, each reviewed, each replaced by the next
        s = _new(f"2026-12-0{k + 1}T08:00:00+00:00", f"r{k}")
        s.save(path)
        s.decide("real")
        s.decide("hallucinated")
        reviews.append(path.read_bytes())
    last = _new("2026-12-09T08:00:00+00:00", "r9")
    last.save(path)
    digests = _digests(tmp_path)
    assert len(set(digests.values())) == len(digests), sorted(digests)  # no two alike
    kept = sorted(tmp_path.glob("audit.json.*Z.bak"))
    assert [p.read_bytes() for p in kept] == reviews  # every review kept, once
    assert last.kept_replaced == kept[-1]
    assert not (tmp_path / "audit.json.bak").exists()
    # the new session's own saves rotate through PATH.bak as before, nothing more kept
    n_files = len(digests)
    last.decide("unsure")
    assert AuditSession.load(tmp_path / "audit.json.bak").decisions == {}
    last.decide("real")
    assert len(list(tmp_path.iterdir())) == n_files + 1
    assert len(AuditSession.load(tmp_path / "audit.json.bak").decisions) == 1
    assert [p.read_bytes() for p in sorted(tmp_path.glob("audit.json.*Z.bak"))] == reviews


def test_repeated_saves_of_one_session_keep_one_bak(tmp_path):
    """guard: passed before (s51): saves of the same session, changed or not, keep one
    PATH.bak and nothing more."""
    s = _new("2026-12-01T08:00:00+00:00", "ana")
    path = tmp_path / "audit.json"
    s.save(path)
    s.decide("real")
    for _ in range(5):
        s.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.csv", "audit.json",
                                                          "audit.json.bak"]
