"""GUI: the Audit widget undoes a verdict (Ctrl+Z, the session's one rule) and writes
the audit report of ``srmat audit report`` in a worker."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from test_audit_widget import (  # noqa: E402
    WORKER_WAIT_MS,
    _press,
    _record_threads,
    _saved,
    _session_widget,
)

pytestmark = pytest.mark.gui


def test_ctrl_z_undoes_the_last_verdict_and_shows_its_candidate(
    make_napari_viewer, qtbot, tmp_path
):
    """A key pressed on the wrong candidate made it "reviewed" for good: no undo, no way
    back to unreviewed (explorer F15)."""
    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    w.reviewer_edit.setText("ana")
    _press(viewer, "r")  # candidate 1
    _press(viewer, "h")  # candidate 2, by mistake; the queue moved on to 3
    assert w.session.current.id == 3
    w.reviewer_edit.setText("bo")
    _press(viewer, "Ctrl+Z")
    assert w.session.current.id == 2 and w.queue.currentRow() == 1
    assert sorted(w.session.decisions) == [1]
    assert w.progress_label.text() == "1/3 reviewed"
    assert w.queue.item(1).text().endswith("score 49.0")  # no verdict shown
    assert list(w.boxes_layer.edge_color[1]) == [1.0, 0.0, 1.0, 1.0]  # magenta: undecided
    assert w.status.text() == "undone: hallucinated on #2; unreviewed again"
    saved = json.loads(path.read_text())
    assert sorted(saved["decisions"]) == ["1"]
    assert saved["log"][-1]["action"] == "undo" and saved["log"][-1]["reviewer"] == "bo"
    # the button does the same: the verdict before it, in the reverse order
    w.undo()
    _saved()
    assert w.session.decisions == {} and w.session.current.id == 1
    with pytest.raises(ValueError, match="no verdict to undo"):  # nothing left
        w.undo()
    assert json.loads(path.read_text())["log"] == w.session.log  # nothing recorded
    _press(viewer, "Ctrl+Z")  # the key: told in the status line
    assert w.status.text() == "no verdict to undo"


def test_the_report_button_writes_the_command_s_report_in_a_worker(
    make_napari_viewer, qtbot, tmp_path, monkeypatch
):
    """No audit report could be written from napari (explorer F7): the metallurgist had
    to leave it for ``srmat audit report``. The widget writes the same report, off the
    GUI thread."""
    from napari_srmat.audit import AuditSession, report
    from napari_srmat.cli import main

    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    _press(viewer, "h")
    _press(viewer, "r")
    on_main = _record_threads(monkeypatch, report, "write_report")
    out = tmp_path / "audit_report.md"
    w.write_report(out)
    qtbot.waitUntil(w.report_btn.isEnabled, timeout=WORKER_WAIT_MS)
    assert on_main == [False]
    assert w.status.text().startswith(
        f"report written to {out}: pooled over 1 image: "
        "candidates 1 real, 1 hallucinated, 0 unsure, "
        "1 unreviewed"
    )
    from_gui = out.read_text(encoding="utf-8")
    # the session was made from the layers (no files recorded): its thumbnails are the
    # layers' pixels, checked against the session's checksums (before, none: the
    # report said "thumbnails skipped")
    assert "thumbnails skipped" not in from_gui
    assert "![c1](audit_report_thumbs/s1_c1.png)" in from_gui
    assert (tmp_path / "audit_report_thumbs" / "s1_c1.png").stat().st_size > 0
    out.unlink()
    layers = [viewer.layers[name].data for name in ("lr", "sr")]
    report.write_report(AuditSession.load(path), out, images=[layers])
    assert out.read_text(encoding="utf-8") == from_gui  # the same function, same images
    out.unlink()
    # the command has no images to draw them from: the rest is the same
    with pytest.warns(UserWarning, match="made from images in memory"):
        assert main(["audit", "report", str(path), "--out", str(out)]) == 0
    from_cli = out.read_text(encoding="utf-8")
    assert "(thumbnails skipped: the session was made from images in memory" in from_cli
    assert [row.rsplit("|", 2)[0] for row in from_cli.splitlines() if row.startswith("| 1 ")] == [
        row.rsplit("|", 2)[0] for row in from_gui.splitlines() if row.startswith("| 1 ")
    ]
    # a file that is no report of ours is refused in one line, and kept
    notes = tmp_path / "notes.md"
    notes.write_text("mine")
    w.write_report(notes)
    qtbot.waitUntil(w.report_btn.isEnabled, timeout=WORKER_WAIT_MS)
    assert w.status.text().startswith("report not written: ")
    assert "\n" not in w.status.text() and notes.read_text() == "mine"


def test_a_search_asks_before_replacing_a_session_whose_verdicts_were_all_undone(
    make_napari_viewer, qtbot, tmp_path
):
    """The widget's look counted only decisions and regions: a session whose verdicts
    were all undone was replaced by a new search without asking (the undo lost). It
    holds a review by the save's one rule (its log): asked, and a no keeps it."""
    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    _press(viewer, "h")
    _press(viewer, "Ctrl+Z")
    _saved()
    assert json.loads(path.read_text())["decisions"] == {}
    asked = []
    w.ask = lambda title, text: asked.append(text) or False
    w.session_path_edit.setText(str(path))
    w.run_btn.click()
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=WORKER_WAIT_MS)  # its look
    assert w.worker is None and len(asked) == 1
    assert "0 decisions, 0 added regions, 2 log entries" in asked[0]
    assert [e["action"] for e in json.loads(path.read_text())["log"]] == ["verdict", "undo"]


def test_an_undo_after_the_sr_pixels_were_replaced_records_nothing(
    make_napari_viewer, qtbot, tmp_path
):
    """A verdict or a region is refused once the session's SR layer holds other pixels
    (a new SR result written into it), but an undo was recorded, and it signed after
    acting: the new result's calibration (0.125 µm/px, which the session no longer
    follows) was logged as the session's pixel size, after the undo. An undo follows
    the verdict's order now: refused first, nothing recorded or saved."""
    from test_audit_widget import _calibrated_session

    from napari_srmat.audit import AuditSession
    from napari_srmat.widgets.layers import WidgetInputError

    viewer = make_napari_viewer()
    w, _lr_layer, sr_layer, cand, (lr, sr) = _calibrated_session(viewer, qtbot, tmp_path)
    path = tmp_path / "a.json"
    w.set_session(AuditSession.create(lr, sr, [cand], pixel_size_um=0.25), path)
    w.decide("hallucinated")
    _saved()
    saved = path.read_bytes()
    log = list(w.session.log)
    sr_layer.data = sr[::-1].copy()  # a new SR result in the same layer
    sr_layer.metadata = {**sr_layer.metadata, "pixel_size_um": 0.125}  # calibrated
    sr_layer.scale = (0.125, 0.125)
    with pytest.raises(WidgetInputError, match="changed since this session was made"):
        w.undo()
    _saved()
    assert w.session.log == log and w.session.pixel_size_um == 0.25
    assert sorted(w.session.decisions) == [cand.id]
    assert path.read_bytes() == saved
