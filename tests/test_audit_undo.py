"""A verdict given by mistake is undone (``AuditSession.undo``): an entry of its own in
the log, nothing erased; the file, the CSV and the report say so and count the final
decision per candidate."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from napari_srmat.audit import AuditSession, Candidate
from napari_srmat.audit import session as session_mod
from napari_srmat.audit.report import summarize, write_report
from napari_srmat.audit.session import (
    SCHEMA_VERSION,
    UNDO_SCHEMA_VERSION,
    AuditFileError,
    csv_earlier_verdicts,
)


def _pair():
    """The 32² LR / 128² SR pair of :func:`_session`."""
    lr = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    return lr, np.kron(lr, np.ones((4, 4), np.uint8))


def _session(tmp_path, n=3) -> AuditSession:
    """A session of ``n`` candidates over a 32² LR / 128² SR pair, saved at
    ``tmp_path / "audit.json"`` (its verdicts saved as they are given)."""
    lr, sr = _pair()
    cands = [
        Candidate(
            id=i + 1,
            bbox=[10 + 30 * i, 20, 30 + 30 * i, 40],
            score=9.0 - i,
            kind="new_boundary",
            new_boundary_length_px=10.0 * (i + 1),
        )
        for i in range(n)
    ]
    s = AuditSession.create(lr, sr, cands, reviewer="ana")
    s.save(tmp_path / "audit.json")
    return s


def test_undo_takes_the_last_verdict_back_and_the_log_keeps_both(tmp_path):
    """An expert who pressed "hallucinated" on the wrong candidate could only give it
    another verdict: it stayed reviewed for good (no way back to unreviewed)."""
    s = _session(tmp_path)
    s.decide("real", note="clear")  # candidate 1
    s.decide("hallucinated")  # candidate 2: the mistake
    undone = s.undo(reviewer="bo")
    assert undone.verdict == "hallucinated"
    assert s.current.id == 2  # shown again
    assert sorted(s.decisions) == [1]  # 2 is unreviewed again
    assert s.progress_text() == "1/3 reviewed"
    assert [e["action"] for e in s.log] == ["verdict", "verdict", "undo"]  # nothing erased
    assert s.log[-1] == {
        "action": "undo",
        "candidate": 2,
        "verdict": "hallucinated",
        "reviewer": "bo",
        "timestamp": s.log[-1]["timestamp"],
    }
    # the next undo takes back the verdict given before it (the reverse order)
    assert s.undo().verdict == "real"
    assert s.current.id == 1 and s.decisions == {}
    with pytest.raises(ValueError, match="no verdict to undo"):
        s.undo()
    # saved with each undo: the file reads back the same
    t = AuditSession.load(s.path)
    assert t.decisions == {} and [e["action"] for e in t.log] == [
        "verdict",
        "verdict",
        "undo",
        "undo",
    ]


def test_undoing_a_changed_verdict_gives_the_one_before_back(tmp_path):
    """real, then hallucinated by mistake: undone, the candidate is real again, with
    that verdict's reviewer, note and time (the log's own record)."""
    s = _session(tmp_path)
    first = s.decide("real", note="twin", reviewer="ana")
    s.decide("hallucinated", candidate_id=1, reviewer="bo", advance=False)
    s.undo(1)
    assert s.decisions[1] == first
    assert s.earlier_verdicts(1) == [
        f"hallucinated (bo, {s.log[1]['timestamp']}; undone by ana, {s.log[2]['timestamp']})"
    ]
    t = AuditSession.load(s.path)
    assert t.decisions[1] == first
    with pytest.raises(ValueError, match="candidate 2 has no verdict to undo"):
        s.undo(2)
    with pytest.raises(ValueError, match="no candidate with id 9"):
        s.undo(9)


def test_a_session_file_with_an_undo_is_a_version_older_readers_refuse_by_its_number(
    tmp_path, monkeypatch
):
    """Without an undo the file stays version 2 (read by every version since
    2026-12-04); with one it is version 4, which a reader of versions 1-3 refuses as a
    version it does not read, in one line."""
    s = _session(tmp_path)
    s.decide("hallucinated")
    assert json.loads(s.path.read_text())["schema_version"] == SCHEMA_VERSION == 2
    s.undo()
    assert json.loads(s.path.read_text())["schema_version"] == UNDO_SCHEMA_VERSION == 4
    monkeypatch.setattr(session_mod, "READ_VERSIONS", (1, 2, 3))
    with pytest.raises(
        AuditFileError,
        match=r"unsupported schema_version 4 \(this version "
        r"reads 1, 2, 3\)",
    ):
        AuditSession.load(s.path)


def test_an_undo_edited_by_hand_is_refused_with_its_line(tmp_path):
    s = _session(tmp_path)
    s.decide("hallucinated")
    s.undo()
    d = json.loads(s.path.read_text())
    d["log"][-1]["verdict"] = "real"  # not the verdict it takes back
    s.path.write_text(json.dumps(d, indent=2))
    with pytest.raises(
        AuditFileError,
        match=r"line \d+: malformed audit session: log "
        r"entry 2: an undo of verdict 'real'",
    ):
        AuditSession.load(s.path)
    d["log"][-1]["verdict"] = "hallucinated"
    d["decisions"] = {"1": d["log"][0] | {"action": None}}  # the undone verdict kept
    del d["decisions"]["1"]["action"], d["decisions"]["1"]["candidate"]
    s.path.write_text(json.dumps(d, indent=2))
    with pytest.raises(AuditFileError, match="the log does not lead to the decisions"):
        AuditSession.load(s.path)


def test_a_failed_save_undoes_nothing(tmp_path, monkeypatch):
    s = _session(tmp_path)
    s.decide("hallucinated")
    s.next()

    def refused(path=None):
        raise OSError("disk full")

    monkeypatch.setattr(s, "save", refused)
    with pytest.raises(OSError):
        s.undo()
    assert s.decisions[1].verdict == "hallucinated"
    assert [e["action"] for e in s.log] == ["verdict"] and s.position == 2


def test_the_csv_and_the_report_count_the_final_decision(tmp_path):
    """Candidate 2 hallucinated by mistake, undone: the report counts it unreviewed (not
    hallucinated, its 20 px not in the length), its row shows the verdict undone; the
    CSV lists it in earlier_verdicts marked undone."""
    s = _session(tmp_path)
    s.decide("hallucinated")  # 1: 10 px
    s.decide("hallucinated")  # 2: 20 px, the mistake
    s.undo()
    s.decide("real", candidate_id=3)
    summary = summarize(s)
    assert summary["counts"] == {"real": 1, "hallucinated": 1, "unsure": 0, "unreviewed": 1}
    assert summary["hallucinated_length_px"] == 10.0
    assert summary["verdicts_changed"] == 1
    rows = list(csv.DictReader(s.path.with_suffix(".csv").open(encoding="utf-8")))
    assert rows[1]["verdict"] == ""
    assert csv_earlier_verdicts(rows[1]["earlier_verdicts"]) == [
        {
            "verdict": "hallucinated",
            "reviewer": "ana",
            "timestamp": s.log[1]["timestamp"],
            "undone": True,
            "undone_by": "ana",
            "undone_at": s.log[2]["timestamp"],
        }
    ]
    assert rows[0]["earlier_verdicts"] == rows[2]["earlier_verdicts"] == ""
    res = write_report(AuditSession.load(s.path), tmp_path / "r.md", thumbnails=False)
    assert res["pooled"]["counts"]["hallucinated"] == 1
    text = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert (
        f"| 2 | 2 | new_boundary | 8.0 | 20 | - (earlier: hallucinated (ana, "
        f"{s.log[1]['timestamp']}; undone by ana, {s.log[2]['timestamp']})) |"
    ) in text
    assert "1 verdict(s) changed or undone during the review" in text


def test_a_session_whose_verdicts_were_all_undone_is_kept_when_replaced(tmp_path):
    """A session whose verdicts were all undone held no decision and no region, so it
    counted as unreviewed: a new session saved to its file replaced it, and the only
    copy kept (``audit.json.bak``) was the save before the undo, showing the verdict
    taken back. Its log is the review: it is kept under its own name, undo included."""
    from napari_srmat.audit.session import holds_review, review_counts

    a = _session(tmp_path)
    a.decide("hallucinated", note="by mistake")
    a.undo(reviewer="ana")
    path = tmp_path / "audit.json"
    assert review_counts(path) == (0, 0, 2) and holds_review(review_counts(path))
    lr, sr = _pair()
    b = AuditSession.create(lr, sr, a.candidates, reviewer="bo")
    b.created = "2026-12-07T10:00:00+00:00"  # another session
    b.save(path)
    assert b.kept_replaced is not None
    kept = json.loads(b.kept_replaced.read_text())
    assert kept["created"] == a.created
    assert [e["action"] for e in kept["log"]] == ["verdict", "undo"]
    assert kept["decisions"] == {}
    # a session never reviewed is still replaced without a copy
    c = AuditSession.create(lr, sr, a.candidates, reviewer="cy")
    c.created = "2026-12-07T11:00:00+00:00"
    c.save(tmp_path / "fresh.json")
    d = AuditSession.create(lr, sr, a.candidates, reviewer="di")
    d.save(tmp_path / "fresh.json")
    assert d.kept_replaced is None


def test_the_report_and_the_csv_say_who_undid_a_verdict_and_when(tmp_path):
    """Only the JSON log said who undid a verdict and when: the report's row said
    "undone", the CSV ``"undone": true``, and the undo's signer was not among the
    report's reviewers."""
    s = _session(tmp_path)
    s.decide("hallucinated", reviewer="ana")  # 1
    s.decide("real", reviewer="ana")  # 2
    s.undo(1, reviewer="carl")
    t_undo = s.log[-1]["timestamp"]
    rows = list(csv.DictReader(s.path.with_suffix(".csv").open(encoding="utf-8")))
    (entry,) = csv_earlier_verdicts(rows[0]["earlier_verdicts"])
    assert entry["undone_by"] == "carl" and entry["undone_at"] == t_undo
    assert json.loads(rows[0]["earlier_verdicts"])[0]["undone_by"] == "carl"
    assert summarize(s)["reviewers"] == ["ana", "carl"]
    write_report(s, tmp_path / "r.md", thumbnails=False)
    text = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert f"; undone by carl, {t_undo})) |" in text
    assert "Reviewers: ana, carl;" in text


def test_the_report_says_undone_only_with_an_undo_and_changed_only_when_it_changed(tmp_path):
    """Every report said "N verdict(s) changed or undone", a session with no undo (one
    of before undo existed) too, so its report was no longer the one it gave; and a
    verdict undone and given again read "changed" though it never changed."""
    s = _session(tmp_path)
    s.decide("hallucinated", candidate_id=1, reviewer="ana")
    s.decide("real", candidate_id=1, reviewer="bob", note="changed my mind")
    s.recalibrate(0.3)  # a version-3 session, as written before undo
    write_report(s, tmp_path / "r.md", thumbnails=False)
    text = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert " 1 verdict(s) changed during the review (the table gives the earlier ones)." in text
    assert "undone" not in text
    assert f"| real (changed; earlier: hallucinated (ana, {s.log[0]['timestamp']})) |" in text
    # given, undone, given again: no change, but the undo is told
    s.decide("hallucinated", candidate_id=2, reviewer="ana")
    s.undo(2, reviewer="carl")
    s.decide("hallucinated", candidate_id=2, reviewer="ana")
    given, undo = s.log[-3], s.log[-2]
    write_report(s, tmp_path / "r.md", thumbnails=False)
    text = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert " 2 verdict(s) changed or undone during the review" in text
    assert (
        f"| hallucinated (earlier: hallucinated (ana, {given['timestamp']}; undone by carl, "
        f"{undo['timestamp']})) |"
    ) in text
    assert "| real (changed; earlier: hallucinated (ana, " in text
