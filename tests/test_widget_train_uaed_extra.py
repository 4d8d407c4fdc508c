"""An unknown option in the Train widget's Extra (JSON) for UAED training is refused in
the widget's one line, with the option meant, as for SR training and evaluation."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("napari")
from napari_srmat.widgets.train_widget import (  # noqa: E402
    UAED_TRAIN,
    JobSpec,
    TrainEvaluateWidget,
    make_job,
)

pytestmark = pytest.mark.gui


def test_a_misspelt_uaed_training_option_is_told_in_one_line(
    make_napari_viewer, qtbot, tmp_path, monkeypatch
):
    """Was (W1, from 49945d31): {"epoch": 1} reached ``train_boundaries_job`` as a
    TypeError ("... (did you mean 'epochs'?)"), which ``is_user_error`` does not count:
    an internal error with a traceback. Now the widget's rule refuses it before the job
    starts, as it does for SR training; nothing is written."""
    import napari_srmat.widgets._worker as worker_mod

    relayed = []  # internal errors (napari's handler, with a traceback)
    monkeypatch.setattr(worker_mod, "relay_error", relayed.append)
    for sub in ("images", "masks"):
        (tmp_path / "data" / "train" / sub).mkdir(parents=True)
    w = TrainEvaluateWidget(make_napari_viewer())
    qtbot.addWidget(w)
    w.kind.setCurrentText(UAED_TRAIN)
    w.data.setText(str(tmp_path / "data"))
    w.out.setText(str(tmp_path / "out"))
    w.extra.setText('{"epoch": 1}')
    w.run_btn.click()
    qtbot.waitUntil(lambda: not w.is_running, timeout=60_000)
    assert w.finished_jobs[-1].status == "failed" and not relayed
    assert w.status.text() == (
        "UAED training: failed: unknown UAED training option(s) in Extra: ['epoch']; "
        "'epoch': did you mean 'epochs'?"
    )
    assert not (tmp_path / "out").exists()


def test_make_job_refuses_an_unknown_uaed_option_before_it_runs(tmp_path):
    """``make_job`` (the widget's factory, also a notebook's) refuses it at once."""
    from napari_srmat.widgets.layers import WidgetInputError

    spec = JobSpec(UAED_TRAIN, {"data": str(tmp_path), "extra": {"nosuch": 1}})
    with pytest.raises(WidgetInputError, match=r"unknown UAED training option\(s\)"):
        make_job(spec)
