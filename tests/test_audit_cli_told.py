"""``srmat audit candidates|report --json`` list what they told (their notes, Python's
and the search job's warnings) in the top-level ``warnings`` by the commands' one rule,
:func:`napari_srmat.cli.print_json_result`: each once, in the order told."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from napari_srmat.cli import main
from napari_srmat.jobs import Log

#: A warning the search job tells (as the tiled runner's fall-back).
JOB_WARNING = "out of memory at batch size 8: retrying with 4"

#: The SR store's pixel size (µm); another is given, so that a note is told.
SR_PIXEL_SIZE_UM = 0.25

#: A Python warning given during the search.
PY_WARNING = "the boundary detector saw a uniform tile"


@pytest.fixture
def pair(tmp_path):
    """An LR store and its x4 SR store (1 and 0.25 µm per pixel)."""
    from napari_srmat.audit import resolve_degrade
    from napari_srmat.io import write_ome_zarr

    # the LR of the detector's degradation: a nearest upscale of noise as the SR raises
    # the adaptive floor, which is a warning of its own (RESIDUAL_FLOOR_HIGH)
    sr = np.random.default_rng(1).integers(0, 255, (64, 64), dtype=np.uint8)
    lr = (np.clip(resolve_degrade()(sr, 4), 0, 1) * 255).round().astype(np.uint8)
    write_ome_zarr(lr, tmp_path / "lr.ome.zarr", pixel_size_um=1.0)
    write_ome_zarr(sr, tmp_path / "sr.ome.zarr", pixel_size_um=SR_PIXEL_SIZE_UM)
    return [str(tmp_path / "lr.ome.zarr"), str(tmp_path / "sr.ome.zarr")]


def test_candidates_json_lists_each_told_line_once(pair, tmp_path, capsys, monkeypatch):
    """The search job's warning told twice was listed twice in ``srmat audit candidates
    --json``'s ``warnings`` (the command kept its own list of what it told). Now the
    notes, the Python warning and the job's warning are listed once each, in the order
    told, and each printed on stderr."""
    import napari_srmat.audit as audit

    real = audit.find_candidates_job

    def job(*args, **kwargs):
        for _ in range(2):
            yield Log(JOB_WARNING, level="warning")
        warnings.warn(PY_WARNING, UserWarning, stacklevel=1)
        return (yield from real(*args, **kwargs))

    monkeypatch.setattr(audit, "find_candidates_job", job)
    out = tmp_path / "a.json"
    assert main(["audit", "candidates", *pair, "--out", str(out), "--quiet",
                 "--min-score", "0", "--pixel-size-um", "0.5", "--json"]) == 0
    captured = capsys.readouterr()
    listed = json.loads(captured.out)["warnings"]
    assert len(listed) == len(set(listed)) == 3, listed
    note, job_warning, py_warning = listed
    assert note.startswith(f"the file records {SR_PIXEL_SIZE_UM} µm per pixel")
    assert (job_warning, py_warning) == (JOB_WARNING, PY_WARNING)
    assert f"srmat audit candidates: note: {note}" in " ".join(captured.err.split())
    assert f"srmat audit candidates: warning: {JOB_WARNING}" in captured.err


def test_report_json_lists_its_warning_once(pair, tmp_path, capsys):
    """``srmat audit report --json`` lists the warning that ``--pixel-size-um`` replaced
    the sessions' size once, as printed."""
    session = tmp_path / "a.json"
    assert main(["audit", "candidates", *pair, "--out", str(session), "--quiet",
                 "--min-score", "0"]) == 0
    capsys.readouterr()
    assert main(["audit", "report", str(session), "--out", str(tmp_path / "r.md"),
                 "--pixel-size-um", "0.5", "--no-thumbnails", "--json"]) == 0
    captured = capsys.readouterr()
    listed = json.loads(captured.out)["warnings"]
    assert listed and len(listed) == len(set(listed)), listed
    for line in listed:
        assert line in " ".join(captured.err.split())


def test_report_prints_lines_not_json_without_json(tmp_path, capsys):
    """`srmat audit report` without --json printed the pooled summary as a JSON object
    (undocumented; every other command prints lines and JSON only with --json). It prints
    the pooled verdicts and hallucinated boundary as lines; --json is unchanged."""
    from napari_srmat.audit import AuditSession, Candidate

    cands = [Candidate(id=i + 1, bbox=[i, i, i + 10, i + 8], score=100.0 - i,
                       kind="new_boundary", new_boundary_length_px=10.0 + i) for i in range(3)]
    s = AuditSession.create(np.zeros((16, 16), np.uint8), np.zeros((64, 64), np.uint8), cands,
                            reviewer="ana", pixel_size_um=SR_PIXEL_SIZE_UM)
    s.total_boundary_length_px = 1000.0
    s.decide("hallucinated", save=False)
    path = s.save(tmp_path / "audit.json")
    argv = ["audit", "report", str(path), "--out", str(tmp_path / "r.md"), "--no-thumbnails"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        f"report -> {tmp_path / 'r.md'}",
        "pooled over 1 image: candidates 0 real, 1 hallucinated, 0 unsure, 2 unreviewed; "
        "reviewer-added regions 0 real, 0 hallucinated, 0 unsure",
        # two candidates unreviewed: a lower bound (audit.report.lower_bound_reason)
        f"hallucinated boundary: at least 10 px, "
        f"{10 / (64 * 64 * SR_PIXEL_SIZE_UM * 1e-3):.4g} mm per mm^2, 1.00% of the boundary "
        "length (a lower bound: 2 candidates not reviewed yet)"], out
    assert main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["pooled"]["n_images"] == 1
