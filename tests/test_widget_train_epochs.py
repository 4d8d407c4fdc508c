"""The metric table of a UAED training counts epochs as its status line does.

The UAED job's ``Metric`` steps are epoch indices from 0, its progress says ``epoch 2/2``
from 1: the table's "step" column read 1 beside the status line's "epoch 2/2". The column
of a UAED training is now "epoch", numbered from 1 as everywhere (``Metric.told_step``,
``jobs.told_epoch``: the log's ``[val 2]`` too; and so is the loss curve); an SR
training's stays "step", its steps as told.
"""

from __future__ import annotations

import pytest

pytest.importorskip("qtpy")

from napari_srmat.jobs import Metric, Progress  # noqa: E402
from napari_srmat.widgets.train_widget import (  # noqa: E402
    SR_TRAIN,
    UAED_TRAIN,
    JobSpec,
    TrainEvaluateWidget,
)

pytestmark = pytest.mark.gui


def _running(make_napari_viewer, kind):
    w = TrainEvaluateWidget(make_napari_viewer())
    w.current = JobSpec(kind, {})  # as _start_next sets a job running
    w.metrics, w.loss = w.current.metrics, w.current.loss
    return w


def _column(w, name):
    rows = {w.table.item(i, 0).text(): w.table.item(i, 1).text()
            for i in range(w.table.rowCount())}
    return w.table.horizontalHeaderItem(1).text(), rows[name]


def test_uaed_epochs_are_numbered_as_the_status_line(make_napari_viewer):
    w = _running(make_napari_viewer, UAED_TRAIN)
    w._on_event(Progress(4, 4, "epoch 2/2"))  # the job's progress in its second epoch
    w._on_event(Metric(1, {"loss": 0.5}, split="train", unit="epoch"))  # (index 1)
    w._on_event(Metric(1, {"ap": 0.7}, split="val", unit="epoch"))
    assert "epoch 2/2" in w.status.text()
    assert _column(w, "val ap") == ("epoch", "2")
    assert w.loss["train"] == [(2, 0.5)]


def test_sr_steps_stay_as_told(make_napari_viewer):
    w = _running(make_napari_viewer, SR_TRAIN)
    w._on_event(Metric(200, {"loss": 0.5}, split="train"))
    assert _column(w, "train loss") == ("step", "200")
    assert w.loss["train"] == [(200, 0.5)]


@pytest.mark.parametrize(("kind", "unit", "told"), [(SR_TRAIN, "epoch", "3"),
                                                    (UAED_TRAIN, "step", "2")])
def test_the_column_is_named_by_the_metric_s_unit_not_the_job_s_kind(
        make_napari_viewer, kind, unit, told):
    """One rule (``Metric.unit``, which ``told_step`` reads): the header was decided by
    the job's kind, so epochs of another job read "step 3" and steps of a UAED training
    "epoch 2" (failed before)."""
    w = _running(make_napari_viewer, kind)
    w._on_event(Metric(2, {"loss": 0.5}, split="train", unit=unit))
    assert _column(w, "train loss") == (unit, told)


def test_a_training_whose_threshold_marks_every_pixel_ends_with_its_warning(
        make_napari_viewer, qtbot, tmp_path, monkeypatch):
    """The warning of ``degenerate_threshold_warning`` is the end of the status line (and
    a notification), not a bare ``done``."""
    from test_edges_train import _write_dataset

    from napari_srmat.edges import train as train_mod

    def validate(model, samples, device):  # an untrained model's validation
        return {"ap": 0.4, "roc_auc": 0.5, "f1": 0.2, "threshold": 0.0,
                "boundary_fraction": 1.0}

    monkeypatch.setattr(train_mod, "validate", validate)
    root = _write_dataset(tmp_path / "data")
    w = TrainEvaluateWidget(make_napari_viewer())
    qtbot.addWidget(w)
    spec = JobSpec(UAED_TRAIN, {"data": str(root), "out": str(tmp_path / "run"),
                                "encoder": "tiny", "epochs": 1, "lr": 1e-3, "batch_size": 2,
                                "crop": 32, "device": "cpu",
                                "extra": {"num_threads": 1, "steps_per_epoch": 1}})
    w.enqueue(spec)
    qtbot.waitUntil(lambda: not w.is_running and spec.status != "running", timeout=120_000)
    assert spec.status == "done", spec.result
    assert w.status.text().startswith("UAED training: done: the model is not trained enough: "
                                      "threshold 0.000 marks every pixel boundary")
