"""The SR pixel size changed during a review (the Audit widget follows its SR layer's
calibration) was told only in the widget's status line: the session's log and the report
kept no trace of when, from what, or by whom. It is now a ``recalibrate`` log entry,
listed by the report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_srmat.audit import AuditFileError, AuditSession, Candidate, summarize, write_report


def _session(tmp_path) -> AuditSession:
    lr = np.zeros((16, 16), np.uint8)
    sr = np.zeros((64, 64), np.uint8)
    cand = Candidate(1, [8, 8, 24, 24], 30.0, "new_boundary", 16.0)
    s = AuditSession.create(lr, sr, [cand], reviewer="ana", pixel_size_um=0.25)
    s.save(tmp_path / "a.json")
    return s


def test_a_pixel_size_change_is_logged_saved_and_reported(tmp_path):
    s = _session(tmp_path)
    s.decide("hallucinated")
    assert s.recalibrate(0.125, reviewer="bo")
    assert not s.recalibrate(0.125)  # the same size: nothing logged
    saved = AuditSession.load(tmp_path / "a.json")
    changes = saved.pixel_size_changes()
    assert [(e["previous_pixel_size_um"], e["pixel_size_um"], e["reviewer"]) for e in changes] == [
        (0.25, 0.125, "bo")
    ]
    assert [e["action"] for e in saved.log] == ["verdict", "recalibrate"]
    sm = summarize(saved)
    assert sm["pixel_size_changes"] == [{k: v for k, v in changes[0].items() if k != "action"}]
    with pytest.warns(UserWarning, match="candidate search ran at 0.25"):
        write_report(saved, tmp_path / "r.md", thumbnails=False)
    text = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert (
        f"SR pixel size changed during the review: 0.25 → 0.125 µm (bo, {changes[0]['timestamp']})."
    ) in text
    # a session never recalibrated says nothing of it
    assert summarize(AuditSession(pixel_size_um=0.25))["pixel_size_changes"] == []


def test_a_failed_save_of_a_pixel_size_logs_nothing(tmp_path, monkeypatch):
    s = _session(tmp_path)

    def fail(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(AuditSession, "save", fail)
    with pytest.raises(OSError):
        s.recalibrate(0.125)
    assert s.pixel_size_um == 0.25 and s.log == []


@pytest.mark.parametrize("value, told", [(-1.0, "pixel"), ("0.125", "pixel"), (None, None)])
def test_a_recalibrate_entry_edited_by_hand_is_read_by_the_pixel_size_rule(tmp_path, value, told):
    s = _session(tmp_path)
    s.recalibrate(0.125)
    d = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))
    d["log"][0]["previous_pixel_size_um"] = value
    (tmp_path / "a.json").write_text(json.dumps(d), encoding="utf-8")
    if told is None:  # unknown before: a size of None is read
        assert (
            AuditSession.load(tmp_path / "a.json").pixel_size_changes()[0]["previous_pixel_size_um"]
            is None
        )
    else:
        with pytest.raises(AuditFileError, match="log entry 1: .*" + told):
            AuditSession.load(tmp_path / "a.json")


@pytest.mark.gui
def test_the_sr_layer_calibrated_alone_mid_review_is_in_the_saved_log(
    make_napari_viewer, qtbot, tmp_path
):
    pytest.importorskip("napari")
    from test_audit_widget import _calibrated_session, _saved

    viewer = make_napari_viewer()
    w, _lr_layer, sr_layer, cand, (lr, sr) = _calibrated_session(viewer, qtbot, tmp_path)
    path = tmp_path / "a.json"
    w.set_session(AuditSession.create(lr, sr, [cand], pixel_size_um=0.25), path)
    w.reviewer_edit.setText("bo")
    w.decide("hallucinated")
    _saved()
    # the SR layer's own calibration, the LR's left as it is
    sr_layer.metadata = {**sr_layer.metadata, "pixel_size_um": 0.125}
    sr_layer.scale = (0.125, 0.125)
    _saved()
    saved = AuditSession.load(path)
    assert saved.pixel_size_um == 0.125
    assert [
        (e["previous_pixel_size_um"], e["pixel_size_um"], e["reviewer"])
        for e in saved.pixel_size_changes()
    ] == [(0.25, 0.125, "bo")]
