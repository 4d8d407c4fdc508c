"""A training whose chosen threshold marks (nearly) every pixel boundary says so.

``srmat edges train --epochs 1 --steps-per-epoch 1`` ended "best val AP 0.3951 at
threshold 0.000" with exit 0 and no warning; only ``srmat grain-size`` refused the
100 %-boundary map later. The one rule (:func:`degenerate_threshold_warning`) is told
as the job's warning: on stderr, in ``--json``'s ``warnings``, in the widget's
notifications, and in ``TrainResult.warnings``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_edges_train import _cfg, _write_dataset

from napari_srmat.edges import train as train_mod
from napari_srmat.edges.data import BoundarySample
from napari_srmat.edges.thresholds import degenerate_threshold_warning
from napari_srmat.jobs import Log, run_job
from napari_srmat.metrics.heyn import MAX_BOUNDARY_FRACTION, MAX_THINNED_BOUNDARY_FRACTION

torch.set_num_threads(1)

EVERY_PIXEL = "the model is not trained enough: threshold 0.000 marks every pixel boundary"


def test_the_rule():
    assert degenerate_threshold_warning(0.0, 1.0).startswith(EVERY_PIXEL)
    assert degenerate_threshold_warning(0.0, None).startswith(EVERY_PIXEL)  # old history
    over = degenerate_threshold_warning(0.125, 0.9)  # above what grain size thins
    assert "threshold 0.125 marks 90 % of the validation pixels boundary" in over
    assert over.endswith("train longer")
    assert degenerate_threshold_warning(0.125, MAX_BOUNDARY_FRACTION - 0.2) is None
    assert degenerate_threshold_warning(0.4, None) is None


def test_a_share_grain_size_thins_gets_the_softer_note():
    """Between MAX_BOUNDARY_FRACTION and MAX_THINNED_BOUNDARY_FRACTION grain size measures
    a probability map thinned, with a warning: not "not trained enough" (it was)."""
    assert MAX_BOUNDARY_FRACTION < 0.6 < MAX_THINNED_BOUNDARY_FRACTION
    note = degenerate_threshold_warning(0.3, 0.6)
    assert note.startswith(f"boundaries over {100 * MAX_BOUNDARY_FRACTION:g} % of the "
                           "validation pixels at the chosen threshold")
    assert "grain size thins such maps and warns; close boundaries may merge" in note
    assert "not trained enough" not in note


def _samples(prob_of_mask):
    mask = np.zeros((40, 40), bool)
    mask[10:13] = True  # 3 of 40 rows: 7.5 % boundary
    image = np.zeros((3, 40, 40), np.float32)
    return [BoundarySample(image, mask, "v0")], prob_of_mask(mask)


@pytest.mark.parametrize("prob_of_mask, fraction", [
    (lambda m: np.where(m, 0.9, 0.1), 0.075),  # separates: the mask's pixels only
    (lambda m: np.full(m.shape, 0.5), 1.0),     # untrained: best F1 at 0, every pixel
])
def test_validation_reports_the_share_its_threshold_marks(monkeypatch, prob_of_mask, fraction):
    samples, prob = _samples(prob_of_mask)
    monkeypatch.setattr(train_mod, "predict_probability", lambda *a: prob)
    vm = train_mod.validate(None, samples, "cpu")
    assert vm["boundary_fraction"] == pytest.approx(fraction)
    assert (vm["threshold"] == 0.0) == (fraction == 1.0)


def _validating(monkeypatch, threshold, fraction):
    def validate(model, samples, device):
        return {"ap": 0.4, "roc_auc": 0.5, "f1": 0.2, "threshold": threshold,
                "boundary_fraction": fraction}

    monkeypatch.setattr(train_mod, "validate", validate)


@pytest.mark.parametrize("out", [True, False])
def test_the_job_warns_of_a_threshold_marking_every_pixel(tmp_path, monkeypatch, out):
    _validating(monkeypatch, 0.0, 1.0)
    events = []
    cfg = _cfg(tmp_path, epochs=1, steps_per_epoch=1, **({} if out else {"out": None}))
    res = run_job(train_mod.train_boundaries_job(cfg), quiet=True, on_event=events.append)
    told = [e.message for e in events if isinstance(e, Log) and e.level == "warning"]
    assert [w for w in told if w.startswith(EVERY_PIXEL)] == res.warnings
    assert len(res.warnings) == 1
    assert res.history[-1]["val_boundary_fraction"] == 1.0


def test_a_threshold_that_splits_the_pixels_is_not_warned(tmp_path, monkeypatch):
    _validating(monkeypatch, 0.4, 0.1)
    res = train_mod.train_boundaries(_cfg(tmp_path, epochs=1, steps_per_epoch=1))
    assert res.warnings == []


def test_srmat_edges_train_warns_on_stderr_and_in_json(tmp_path, monkeypatch, capsys):
    from napari_srmat.cli import main

    _validating(monkeypatch, 0.0, 1.0)
    root = _write_dataset(tmp_path / "data")
    args = ["edges", "train", "--data", str(root), "--epochs", "1", "--encoder", "tiny",
            "--crop", "32", "--steps-per-epoch", "1", "--threads", "1", "--device", "cpu"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    captured = capsys.readouterr()
    assert "at threshold 0.000" in captured.out and EVERY_PIXEL in captured.err
    assert main([*args, "--out", str(tmp_path / "b"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [w for w in report["warnings"] if w.startswith(EVERY_PIXEL)] != []


def test_the_share_shown_stands_above_the_limit_shown(monkeypatch):
    """A share just over a limit was shown to 0 decimals: 75.04 % read "marks 75 %"
    beside "grain size refuses a map over 75 %", 50.04 % "marks 50 %" beside "over
    half"; and "half" was written out, not built from MAX_BOUNDARY_FRACTION. Now the
    share shown stands above the limit shown (errors.compared_value) and the softer
    note's limit is the constant's. Failed before."""
    import napari_srmat.edges.thresholds as thresholds

    hard = degenerate_threshold_warning(0.2, 0.7504)
    assert "marks 75.04 % of the validation pixels boundary" in hard, hard
    assert "refuses a map over 75 %" in hard
    soft = degenerate_threshold_warning(0.3, 0.5004)
    assert "threshold 0.300 marks 50.04 %" in soft, soft
    assert "threshold 0.125 marks 90 % of" in degenerate_threshold_warning(0.125, 0.9)
    monkeypatch.setattr(thresholds, "MAX_BOUNDARY_FRACTION", 0.6)
    assert degenerate_threshold_warning(0.3, 0.7).startswith(
        "boundaries over 60 % of the validation pixels at the chosen threshold")
