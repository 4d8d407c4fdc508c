"""Train & evaluate widget: a tiny UAED training finishes, Stop stops, jobs queue."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
PIL = pytest.importorskip("PIL.Image")

from napari_srmat.jobs import Metric  # noqa: E402
from napari_srmat.widgets.layers import WidgetInputError  # noqa: E402
from napari_srmat.widgets.train_widget import (  # noqa: E402
    UAED_EVAL,
    UAED_TRAIN,
    JobSpec,
    TrainEvaluateWidget,
)

pytestmark = pytest.mark.gui


def _pair(rng, size=64, n=10):
    pts = rng.uniform(0, size, (n, 2))
    rr, cc = np.mgrid[:size, :size]
    lab = ((rr[..., None] - pts[:, 0]) ** 2 + (cc[..., None] - pts[:, 1]) ** 2).argmin(-1)
    m = np.zeros((size, size), bool)
    m[:-1] |= lab[:-1] != lab[1:]
    m[:, :-1] |= lab[:, :-1] != lab[:, 1:]
    colors = rng.integers(40, 220, (n, 3))
    img = colors[lab].astype(np.uint8)
    img[m] = 20
    return img, (m * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("tbm")
    rng = np.random.default_rng(0)
    for split, n in (("train", 4), ("val", 2), ("test", 2)):
        for sub in ("images", "masks"):
            (root / split / sub).mkdir(parents=True)
        for i in range(n):
            img, mask = _pair(rng)
            PIL.fromarray(img).save(root / split / "images" / f"{i}.png")
            PIL.fromarray(mask).save(root / split / "masks" / f"{i}.png")
    return root


def _uaed_spec(root, out, epochs=2, **extra):
    opts = {"data": str(root), "out": str(out), "encoder": "tiny", "epochs": epochs,
            "lr": 1e-3, "batch_size": 2, "crop": 32, "device": "cpu",
            "extra": {"num_threads": 1, "steps_per_epoch": 2, **extra}}
    return JobSpec(UAED_TRAIN, opts)


def test_tiny_uaed_training_then_evaluation_queued(make_napari_viewer, qtbot, data_root,
                                                   tmp_path):
    w = TrainEvaluateWidget(make_napari_viewer())
    qtbot.addWidget(w)
    train = _uaed_spec(data_root, tmp_path / "run")
    w.enqueue(train)
    ev = JobSpec(UAED_EVAL, {"data": str(data_root), "checkpoint": str(tmp_path / "run"),
                             "out": str(tmp_path / "eval")})
    w.enqueue(ev)
    assert w.current is train and w.queue == [ev]  # queued, not started
    qtbot.waitUntil(lambda: train.status == "done", timeout=120_000)
    assert train.result.epochs_done == 2
    assert (tmp_path / "run" / "best" / "model.safetensors").is_file()
    assert train.checkpoints and w.checkpoints
    # live loss: one train loss point per epoch (from 1, as the status line counts
    # them: tests/test_widget_train_epochs.py); validation metrics recorded
    assert [s for s, _ in train.loss["train"]] == [1, 2]
    assert "val ap" in train.metrics
    # the evaluation started by itself and ends with PR/ROC curves
    qtbot.waitUntil(lambda: ev.status in ("done", "failed"), timeout=120_000)
    assert ev.status == "done", ev.result
    assert 0.0 <= ev.result["ap"] <= 1.0
    assert (tmp_path / "eval" / "pr.png").is_file()
    assert len(w.figure.axes) == 2 and w.figure.axes[0].images
    assert "test ap" in w.metrics
    qtbot.waitUntil(lambda: not w.is_running, timeout=10_000)


def test_stop_mid_run_stops_cleanly(make_napari_viewer, qtbot, data_root, tmp_path):
    w = TrainEvaluateWidget(make_napari_viewer())
    qtbot.addWidget(w)
    spec = _uaed_spec(data_root, tmp_path / "run", epochs=50)
    w.enqueue(spec)
    qtbot.waitUntil(lambda: w.progress.value() >= 1, timeout=60_000)  # training started
    w.stop()
    qtbot.waitUntil(lambda: not w.is_running, timeout=60_000)
    assert spec.status == "stopped"
    assert spec.result.stopped and spec.result.epochs_done < 50
    # what Stop kept, in the status line (until 2026-12-07 only "UAED training: stopped")
    assert spec.stop_note.startswith("stopped in epoch ") and "last holds" in spec.stop_note
    assert w.status.text() == f"UAED training: {spec.stop_note}"


def test_form_builds_specs_and_rejects_bad_json(make_napari_viewer):
    w = TrainEvaluateWidget(make_napari_viewer())
    w.kind.setCurrentText(UAED_TRAIN)
    w.steps.setValue(3)
    w.extra.setText('{"steps_per_epoch": 1}')
    spec = w.current_spec()
    assert spec.kind == UAED_TRAIN and spec.options["epochs"] == 3
    assert spec.options["encoder"] == "tiny"
    assert spec.options["extra"] == {"steps_per_epoch": 1}
    w.extra.setText("{oops")
    with pytest.raises(WidgetInputError):
        w.current_spec()
    # metric events feed the table and the loss curve
    w._on_event(Metric(0, {"loss": 1.0}))
    w._on_event(Metric(1, {"loss": 0.5}))
    w._on_event(Metric(1, {"ap": 0.7}, split="val"))
    assert w.loss["train"] == [(0, 1.0), (1, 0.5)]
    assert w.metrics["val ap"] == (1, 0.7)
    assert w.table.rowCount() == 2


def test_a_bare_output_folder_name_goes_beside_the_data(make_napari_viewer, tmp_path,
                                                         monkeypatch):
    """Typed ``run1`` used to land in napari's working folder, wherever napari started."""
    (tmp_path / "cwd").mkdir()
    (tmp_path / "tbm").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    w = TrainEvaluateWidget(make_napari_viewer())
    w.kind.setCurrentText(UAED_TRAIN)
    w.data.setText(str(tmp_path / "tbm"))
    w.out.setText("run1")
    assert w.current_spec().options["out"] == str(tmp_path / "run1")
    assert w.out.text() == str(tmp_path / "run1")
    w.out.setText(str(tmp_path / "elsewhere" / "run2"))  # absolute: kept as typed
    assert w.current_spec().options["out"] == str(tmp_path / "elsewhere" / "run2")


def test_a_tilde_in_any_path_field_is_the_home_folder(make_napari_viewer, tmp_path,
                                                     monkeypatch):
    """Only the Output folder expanded ``~``: "~/tbm: data root not found" (Data folder)
    and "~/run1: checkpoint not found" (Checkpoint) for folders that exist. Every path
    field of the form now follows one rule (``_paths.typed_path``)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    w = TrainEvaluateWidget(make_napari_viewer())
    for kind in (UAED_TRAIN, UAED_EVAL):
        w.kind.setCurrentText(kind)
        w.data.setText(" ~/tbm ")
        w.checkpoint.setText("~/run1")
        w.out.setText("~/eval")
        o = w.current_spec().options
        assert (o["data"], o["checkpoint"], o["out"]) == (
            str(tmp_path / "tbm"), str(tmp_path / "run1"), str(tmp_path / "eval"))
    w.checkpoint.setText("default")  # the shipped weights: a word, not a path
    assert w.current_spec().options["checkpoint"] == "default"
    w.data.setText("  ")
    w.checkpoint.setText("")
    o = w.current_spec().options
    assert o["data"] is None and o["checkpoint"] is None


def test_sr_training_offers_every_trainable_kind(make_napari_viewer):
    """The SR training form lists the registry's trainable kinds (cgan, refsr included)
    and a chosen kind reaches the job spec."""
    from napari_srmat.sr.registry import TRAINABLE_MODELS
    from napari_srmat.widgets.train_widget import SR_TRAIN

    w = TrainEvaluateWidget(make_napari_viewer())
    w.kind.setCurrentText(SR_TRAIN)
    offered = [w.model.itemText(i) for i in range(w.model.count())]
    assert offered == list(TRAINABLE_MODELS) and {"cgan", "refsr"} <= set(offered)
    w.model.setCurrentText("cgan")
    assert w.current_spec().options["model"] == "cgan"


def test_training_from_layers(make_napari_viewer, qtbot, tmp_path):
    from napari_srmat.widgets.train_widget import SR_TRAIN

    viewer = make_napari_viewer()
    img, mask = _pair(np.random.default_rng(3), size=64)
    viewer.add_image(img, rgb=True, name="micrograph")
    viewer.add_labels((mask > 0).astype(np.uint8), name="boundaries")
    w = TrainEvaluateWidget(viewer)
    qtbot.addWidget(w)
    w.kind.setCurrentText(UAED_TRAIN)
    w.source.setCurrentText("layers")
    assert not w.data.isEnabled() and w.mask_layer.native.isEnabled()
    w.image_layer.value = viewer.layers["micrograph"]
    w.mask_layer.value = viewer.layers["boundaries"]
    w.steps.setValue(1)
    w.crop.setValue(32)
    w.device.setCurrentText("cpu")
    w.out.setText(str(tmp_path / "uaed"))
    w.extra.setText('{"steps_per_epoch": 1, "num_threads": 1}')
    spec = w.current_spec()
    assert spec.options["data"] is None
    np.testing.assert_array_equal(spec.options["image"], img)
    w.enqueue(spec)
    qtbot.waitUntil(lambda: spec.status in ("done", "failed"), timeout=120_000)
    assert spec.status == "done", spec.result
    assert (tmp_path / "uaed" / "best" / "model.safetensors").is_file()

    # SR training takes the image layer as its high-resolution source
    w.kind.setCurrentText(SR_TRAIN)
    assert not w.mask_layer.native.isEnabled()
    w.steps.setValue(2)
    w.batch.setValue(2)
    w.crop.setValue(32)  # the HR patch: the 64 px layer holds it (a larger one is refused)
    w.out.setText(str(tmp_path / "sr"))
    w.extra.setText('{"val_every": 1000, "num_threads": 1}')
    w.checkpoint.setText("default")  # fine-tune the shipped x4 cnn on the layer
    sr = w.current_spec()
    w.enqueue(sr)
    qtbot.waitUntil(lambda: sr.status in ("done", "failed"), timeout=120_000)
    assert sr.status == "done", sr.result
    import json

    from napari_srmat.sr import load_model

    cfg = json.loads((tmp_path / "sr" / "last" / "config.json").read_text())
    assert cfg["training"]["data"] == ["<array (64, 64, 3)>"]
    assert cfg["training"]["init_checkpoint"] == "default"
    # two small steps away from the shipped weights (a scratch network would be random)
    shipped = load_model("cnn", scale=4, device="cpu").net.state_dict()
    tuned = load_model(checkpoint=tmp_path / "sr" / "last", device="cpu").net.state_dict()
    assert tuned.keys() == shipped.keys()
    for k in shipped:
        assert float((tuned[k].float() - shipped[k].float()).abs().max()) < 0.01, k
    # a mask layer is required for UAED; evaluation reads folders only
    w.kind.setCurrentText(UAED_TRAIN)
    w.source.setCurrentText("layers")
    # the image is not offered as its own mask (test_widget_run_gates); without another
    # layer the mask is missing: Start waits, and the slot (scripts) refuses
    with pytest.raises(WidgetInputError, match="not available here"):
        w.mask_layer.value = viewer.layers["micrograph"]
    viewer.layers.remove("boundaries")
    assert w.mask_layer.value is None and not w.run_btn.isEnabled()
    with pytest.raises(WidgetInputError, match="mask"):
        w.current_spec()
    qtbot.waitUntil(lambda: not w.is_running, timeout=10_000)


def test_redraws_are_coalesced_and_a_deleted_canvas_prints_nothing(
        make_napari_viewer, qtbot, capfd):
    from qtpy import sip

    w = TrainEvaluateWidget(make_napari_viewer())
    drawn = []
    w.canvas.draw = lambda: drawn.append(1)
    for step in range(3):  # three events before the event loop runs: one draw
        w._on_event(Metric(step, {"loss": 1.0 / (step + 1)}))
    qtbot.waitUntil(lambda: len(drawn) > 0, timeout=5_000)
    qtbot.wait(50)
    assert len(drawn) == 1

    # the canvas's C++ object gone while a draw runs (seen when a job event arrives as
    # napari deletes the dock widget): nothing printed, nothing raised
    def deleted():
        raise RuntimeError("wrapped C/C++ object of type FigureCanvasQTAgg has been deleted")

    w.canvas.draw = deleted
    w._on_event(Metric(3, {"loss": 0.2}))
    qtbot.wait(100)
    assert "Traceback" not in capfd.readouterr().err
    w._on_event(Metric(4, {"loss": 0.1}))  # a redraw pending when the widget goes
    sip.delete(w)
    qtbot.wait(100)
    assert "Traceback" not in capfd.readouterr().err


def test_training_refuses_a_stack_layer(make_napari_viewer):
    """A (3, 64, 64) stack layer was handed to training as a 3 x 64 image with 64
    channels; now the form refuses it naming the shape, before anything is queued."""
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((3, 64, 64), np.uint8), name="series")
    viewer.add_labels(np.zeros((64, 64), np.uint8), name="boundaries")
    w = TrainEvaluateWidget(viewer)
    w.kind.setCurrentText(UAED_TRAIN)
    w.source.setCurrentText("layers")
    w.image_layer.value = viewer.layers["series"]
    w.mask_layer.value = viewer.layers["boundaries"]
    with pytest.raises(WidgetInputError, match=r"layer 'series' has shape \(3, 64, 64\)"):
        w.current_spec()
    assert not w.queue and w.current is None


def test_closing_the_dock_stops_the_job_and_drops_the_queue(make_napari_viewer, qtbot,
                                                            data_root, tmp_path):
    """Closing the dock left the training running in the background (and the queue went
    on), with no control left to see or stop it. Now the job stops cleanly (its `last`
    checkpoint written) and the queued jobs are cancelled."""
    viewer = make_napari_viewer()
    w = TrainEvaluateWidget(viewer)
    qtbot.addWidget(w)
    viewer.window.add_dock_widget(w, name="train")
    spec = _uaed_spec(data_root, tmp_path / "run", epochs=50)
    queued = _uaed_spec(data_root, tmp_path / "run2", epochs=1)
    w.enqueue(spec)
    w.enqueue(queued)
    qtbot.waitUntil(lambda: w.progress.value() >= 1, timeout=60_000)  # training started
    viewer.window.remove_dock_widget(w)
    qtbot.waitUntil(lambda: not w.is_running, timeout=60_000)
    assert spec.status == "stopped" and spec.result.epochs_done < 50
    assert queued.status == "cancelled" and not (tmp_path / "run2").exists()


def test_a_second_job_into_the_same_output_folder_is_refused(make_napari_viewer, qtbot,
                                                             data_root, tmp_path):
    """Clicking Start twice queued two identical jobs writing one output folder."""
    from napari_srmat.widgets.layers import WidgetInputError

    w = TrainEvaluateWidget(make_napari_viewer())
    qtbot.addWidget(w)
    first = _uaed_spec(data_root, tmp_path / "run", epochs=50)
    w.enqueue(first)
    with pytest.raises(WidgetInputError, match=rf"job #{first.id} .* already writes to"):
        w.enqueue(_uaed_spec(data_root, tmp_path / "run", epochs=1))
    assert len(w.queue) == 0
    other = _uaed_spec(data_root, tmp_path / "run2", epochs=1)
    w.enqueue(other)
    assert w.queue == [other]
    w.clear_queue()
    w.stop()
    qtbot.waitUntil(lambda: not w.is_running, timeout=60_000)


def test_failed_job_tells_why_and_metrics_do_not_carry_over(make_napari_viewer, qtbot,
                                                             data_root, tmp_path):
    """The status of a failed job read only 'UAED evaluation: failed' (the reason was in a
    notification that fades); and the metric table kept the previous job's numbers
    under the next job until that one reported its first metric."""
    w = TrainEvaluateWidget(make_napari_viewer())
    qtbot.addWidget(w)
    w.metrics["train loss"] = (3, 0.5)
    w._update_table()
    bad = JobSpec(UAED_EVAL, {"data": str(tmp_path / "nowhere"), "out": str(tmp_path / "e")})
    w.enqueue(bad)
    assert w.table.rowCount() == 0  # the new job's (empty) metrics, not the old ones
    qtbot.waitUntil(lambda: bad.status == "failed" and not w.is_running, timeout=60_000)
    text = w.status.text()
    assert text.startswith("UAED evaluation: failed: ") and len(text) > 26, text


def test_unknown_extra_options_and_unstartable_jobs_are_told_in_one_line(
        make_napari_viewer, qtbot, data_root, tmp_path, monkeypatch):
    """The Extra placeholder's own example, {"steps_per_epoch": 10}, is a UAED option:
    with SR training (or any unknown key with an evaluation) the job failed as an
    'internal error: TypeError: SRTrainConfig.__init__() got an unexpected keyword
    argument', with a traceback. And a job that could not start (no data folder) left
    the status line at 'idle' or at the previous job's outcome, the reason only in a
    notification that fades."""
    import napari_srmat.widgets._worker as worker_mod
    from napari_srmat.widgets.train_widget import SR_TRAIN

    relayed = []  # internal errors (napari's handler, with a traceback)
    monkeypatch.setattr(worker_mod, "relay_error", relayed.append)
    w = TrainEvaluateWidget(make_napari_viewer())
    qtbot.addWidget(w)
    w.kind.setCurrentText(SR_TRAIN)
    w.data.setText(str(data_root / "train" / "images"))
    w.out.setText(str(tmp_path / "sr"))
    w.extra.setText('{"steps_per_epoch": 10}')
    w.run_btn.click()
    qtbot.waitUntil(lambda: not w.is_running, timeout=60_000)
    assert w.finished_jobs[-1].status == "failed" and not relayed
    assert w.status.text().startswith(  # not 'steps', another quantity: the options
        "SR training: failed: unknown SR training option(s) in Extra: ['steps_per_epoch']; "
        "options: arch, batch_size, ")
    assert "did you mean" not in w.status.text()
    assert not (tmp_path / "sr").exists()
    w.extra.setText('{"setps": 10}')  # a typo: the option meant, not the whole list
    w.run_btn.click()
    qtbot.waitUntil(lambda: not w.is_running, timeout=60_000)
    assert w.status.text() == ("SR training: failed: unknown SR training option(s) in Extra: "
                               "['setps']; 'setps': did you mean 'steps'?")
    w.kind.setCurrentText(UAED_EVAL)
    w.out.setText(str(tmp_path / "eval"))
    w.data.setText(str(data_root))
    w.extra.setText('{"nosuch": 1}')
    w.run_btn.click()
    qtbot.waitUntil(lambda: not w.is_running, timeout=60_000)
    assert w.finished_jobs[-1].status == "failed" and not relayed
    assert w.status.text().startswith(
        "UAED evaluation: failed: unknown evaluation option(s) in Extra: ['nosuch']")
    w.kind.setCurrentText(SR_TRAIN)
    w.data.setText("")
    w.extra.setText("")
    w.run_btn.click()
    assert w.finished_jobs[-1].status == "failed"
    assert w.status.text() == ("SR training: failed: choose a data folder or an image layer "
                               "to train on")


def test_training_without_an_output_folder_is_refused_at_once(make_napari_viewer, qtbot,
                                                              data_root, tmp_path,
                                                              monkeypatch):
    """With the Output folder left empty, a UAED training ran to the end and saved no
    checkpoint at all (the status read 'done'); an SR training wrote 'sr_checkpoint'
    into napari's working folder. Both are refused when queued. An evaluation wrote its
    report.json, per_image.csv and curves into a /tmp/srmat-eval-* folder it never named
    nor removed, and said only "done": it is refused the same way."""
    import tempfile

    from napari_srmat.widgets.train_widget import SR_TRAIN

    w = TrainEvaluateWidget(make_napari_viewer())
    qtbot.addWidget(w)
    w.data.setText(str(data_root))
    for kind in (UAED_TRAIN, SR_TRAIN):
        w.kind.setCurrentText(kind)
        w.run_btn.click()
        assert w.status.text() == (f"{kind}: choose an output folder; the trained "
                                   "checkpoints are saved there")
        assert w.current is None and not w.queue and not w.finished_jobs
    # this test's own temporary folder: another process may make a /tmp/srmat-eval-*
    temp_dir = tmp_path / "temp"
    temp_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp_dir))
    w.kind.setCurrentText(UAED_EVAL)
    w.run_btn.click()
    assert w.status.text() == (f"{UAED_EVAL}: choose an output folder; the report "
                               "(report.json, per_image.csv) and the PR/ROC curves are "
                               "saved there")
    assert w.current is None and not w.queue and not w.finished_jobs
    assert not list(temp_dir.iterdir())


def test_a_data_folder_that_is_a_file_is_told_as_such(make_napari_viewer, qtbot, tmp_path):
    """A file typed as the UAED data folder failed with "data root not found: FILE", a
    file the user can see is there; the line now says it is a file, not a folder."""
    w = TrainEvaluateWidget(make_napari_viewer())
    qtbot.addWidget(w)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a data set")
    spec = _uaed_spec(notes, tmp_path / "run")
    w.enqueue(spec)
    qtbot.waitUntil(lambda: spec.status == "failed" and not w.is_running, timeout=60_000)
    assert w.status.text() == (f"UAED training: failed: data root {notes} is a file, not a "
                               "folder of <split>/images,masks")
    assert w.run_btn.isEnabled() and not w.stop_btn.isEnabled()


def test_closing_the_viewer_stops_the_job_and_starts_no_queued_one(make_napari_viewer, qtbot,
                                                                   data_root, tmp_path):
    """``viewer.close()`` deletes the docks without closing them: the training ran on, its
    events reached the deleted progress bar and plot, and its end started the next queued
    job on a widget no one could see. Now the job is asked to stop when the widget is
    deleted and nothing more reaches it, so the queue goes no further."""
    viewer = make_napari_viewer()
    w = TrainEvaluateWidget(viewer)
    viewer.window.add_dock_widget(w, name="train")
    spec = _uaed_spec(data_root, tmp_path / "run", epochs=50)
    queued = _uaed_spec(data_root, tmp_path / "run2", epochs=1)
    w.enqueue(spec)
    w.enqueue(queued)
    worker, token = w.worker, w.token
    qtbot.waitUntil(lambda: w.progress.value() >= 1, timeout=60_000)  # training started
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        viewer.close()
    assert token.stop_requested
    assert queued.status == "queued" and not (tmp_path / "run2").exists()


def test_a_job_whose_worker_quits_releases_its_run_lock(qtbot, tmp_path):
    """worker.quit() (a script driving napari: a widget's ``worker`` is public) ends
    napari's loop without closing the job generator, so a training run's RUN.lock stayed
    held until the worker was garbage-collected: the next run into the folder, from the
    same napari, was refused ('being written by process <its own pid>'). start_job closes
    the job when its worker finishes, however it finishes."""
    import itertools

    from napari_srmat.jobs import Progress
    from napari_srmat.outputs import holding, lock_run_folder
    from napari_srmat.widgets._worker import start_job

    def job(stop, held):
        lock_run_folder(held, tmp_path / "run")
        for k in itertools.count():
            yield Progress(k, 10**6)

    lock = tmp_path / "run.lock"
    worker = None

    def first(event) -> None:
        worker.quit()

    worker, _ = start_job(lambda stop: holding(job, stop), on_event=first)
    with qtbot.waitSignal(worker.finished, timeout=30000):
        pass
    qtbot.waitUntil(lambda: not lock.exists(), timeout=5000)
    assert worker is not None  # the worker is still referenced: not collected


def test_a_job_whose_clean_up_fails_after_quit_still_ends(qtbot):
    """Since start_job closes the job when its worker finishes, a job whose clean-up
    raised when closed after worker.quit() (a partial output that could not be flushed:
    a full disk) stopped _finished before on_finished: the widget stayed busy, its Run
    button off, and the error escaped from the Qt slot. The failure is told as the job's
    (on_error) and the end still follows."""
    import itertools

    from napari_srmat.jobs import Progress
    from napari_srmat.widgets._worker import start_job

    def job(stop):
        try:
            for k in itertools.count():
                yield Progress(k, 10**6)
        finally:
            raise OSError(28, "No space left on device", "out.zarr.partial")

    errors, ended = [], []
    worker = None

    def first(event) -> None:
        worker.quit()

    worker, _ = start_job(job, on_event=first, on_error=errors.append,
                          on_finished=lambda: ended.append(True))
    with qtbot.waitSignal(worker.finished, timeout=30000):
        pass
    qtbot.waitUntil(lambda: ended == [True], timeout=5000)
    assert [type(e) for e in errors] == [OSError]
    assert errors[0].filename == "out.zarr.partial"


def test_a_training_whose_worker_quits_is_told_stopped(make_napari_viewer, qtbot,
                                                       data_root, tmp_path):
    """A script ending the running training with ``worker.quit()``: the job was listed as
    'done' (no result came, and the widget took the end for a finished job). It is
    'stopped' now, as after Stop."""
    w = TrainEvaluateWidget(make_napari_viewer())
    qtbot.addWidget(w)
    spec = _uaed_spec(data_root, tmp_path / "run", epochs=50)
    w.enqueue(spec)
    qtbot.waitUntil(lambda: w.progress.value() >= 1, timeout=60_000)  # training started
    w.worker.quit()
    qtbot.waitUntil(lambda: not w.is_running, timeout=60_000)
    assert spec.status == "stopped"
    assert w.status.text().endswith("stopped")


def test_a_refused_training_names_the_widget_s_controls(make_napari_viewer, qtbot,
                                                        data_root, tmp_path, monkeypatch):
    """A training into the output folder of an earlier run was refused with 'pass
    resume=True to continue it or overwrite=True to start over': a Python caller's
    keywords, which the widget's user cannot pass (the widget had no such control). The
    widget has Resume and Overwrite checkboxes now, and the refusal names them."""
    import napari_srmat.widgets._worker as worker_mod

    shown = []
    monkeypatch.setattr(worker_mod, "show_error", shown.append)
    w = TrainEvaluateWidget(make_napari_viewer())
    qtbot.addWidget(w)
    w.kind.setCurrentText(UAED_TRAIN)
    w.data.setText(str(data_root))
    w.out.setText(str(tmp_path / "run"))
    w.model.setCurrentText("tiny")
    w.steps.setValue(1)
    w.batch.setValue(2)
    w.crop.setValue(32)
    w.device.setCurrentText("cpu")
    w.extra.setText('{"steps_per_epoch": 1, "num_threads": 1}')
    def train():
        spec = w.current_spec()
        w.enqueue(spec)
        qtbot.waitUntil(lambda: spec.status in ("done", "failed") and not w.is_running,
                        timeout=120_000)
        return spec

    assert train().status == "done"
    assert train().status == "failed" and len(shown) == 1
    resume, overwrite = w.resume.text(), w.overwrite.text()
    assert f"tick '{resume}' to continue it or tick '{overwrite}' to start over" in shown[0]
    assert "resume=True" not in shown[0] and "--resume" not in shown[0]
    assert f"tick '{resume}'" in w.status.text()
    w.resume.setChecked(True)  # as the message says
    spec = train()
    assert spec.status == "done", spec.result


def test_resume_and_overwrite_cannot_both_be_ticked(make_napari_viewer):
    """Resume and Overwrite could both be ticked, and the training then resumed without a
    word (resume wins): the user asked to start over and got the old run continued. The
    two are now exclusive: ticking one unticks the other, and the spec carries one."""
    w = TrainEvaluateWidget(make_napari_viewer())
    w.kind.setCurrentText(UAED_TRAIN)
    w.out.setText("run")
    w.resume.setChecked(True)
    w.overwrite.setChecked(True)
    assert w.overwrite.isChecked() and not w.resume.isChecked()
    options = w.current_spec().options
    assert (options["resume"], options["overwrite"]) == (False, True)
    w.resume.setChecked(True)
    assert w.resume.isChecked() and not w.overwrite.isChecked()
    options = w.current_spec().options
    assert (options["resume"], options["overwrite"]) == (True, False)
    w.resume.setChecked(False)  # neither: both may be unticked
    assert not w.resume.isChecked() and not w.overwrite.isChecked()


def test_a_rerun_of_a_stopped_training_tells_it_resumed(make_napari_viewer, qtbot, data_root,
                                                        tmp_path):
    """Stopped, then queued again with Resume: the UAED training continued from the epochs
    its ``last/`` held, but the status ended ``UAED training: done`` as after a fresh run
    (the job's resume notice had been replaced by the progress lines). It ends as the SR
    widget's does now, from the job's ``Progress.resumed`` (the steps of the epochs the
    stopped run trained): ``UAED training: done (resumed: 2/4 steps from an earlier run)``.
    """
    import json

    w = TrainEvaluateWidget(make_napari_viewer())
    qtbot.addWidget(w)
    out = tmp_path / "run"
    first = _uaed_spec(data_root, out, epochs=50)
    w.enqueue(first)
    # step 3 is in epoch 2: epoch 1 ended and was saved in last/
    qtbot.waitUntil(lambda: w.progress.value() >= 3, timeout=120_000)
    w.stop()
    qtbot.waitUntil(lambda: not w.is_running, timeout=60_000)
    assert first.status == "stopped"
    assert w.status.text() == f"UAED training: {first.stop_note}"  # what Stop kept
    state = json.loads((out / "last" / "training_state.json").read_text())
    epochs = state["epoch"] + 1
    # a Stop that lands mid-epoch keeps that epoch's steps done too (resumed with them):
    # until 2026-12-07 the test took the stop for one at an epoch's end, and failed when
    # the GUI thread told it sooner
    kept = 2 * epochs + int(state.get("epoch_steps") or 0)
    rerun = _uaed_spec(data_root, out, epochs=epochs + 1)  # one epoch more (2 steps)
    rerun.options["resume"] = True
    w.enqueue(rerun)
    qtbot.waitUntil(lambda: not w.is_running, timeout=120_000)
    assert rerun.status == "done", rerun.result
    assert rerun.result.epochs_done == epochs + 1
    assert w.status.text() == (f"UAED training: done (resumed: {kept}/{2 * epochs + 2} "
                               "steps from an earlier run)")
    # a fresh run into another folder says nothing of a resume
    w.enqueue(_uaed_spec(data_root, tmp_path / "fresh", epochs=1))
    qtbot.waitUntil(lambda: not w.is_running, timeout=120_000)
    assert w.status.text() == "UAED training: done"


def test_a_resumed_sr_training_tells_it_resumed(make_napari_viewer, qtbot, tmp_path):
    """Queued again with Resume and more steps, an SR training continued from its
    ``train_state`` but the status ended ``SR training: done`` as after a fresh run
    (sr.train yielded no ``Progress.resumed``, which the UAED training's end line reads).
    It ends ``SR training: done (resumed: 2/4 steps from an earlier run)``."""
    from napari_srmat.widgets.train_widget import SR_TRAIN

    viewer = make_napari_viewer()
    img, _ = _pair(np.random.default_rng(5), size=64)
    viewer.add_image(img, rgb=True, name="micrograph")
    w = TrainEvaluateWidget(viewer)
    qtbot.addWidget(w)
    w.kind.setCurrentText(SR_TRAIN)
    w.source.setCurrentText("layers")
    w.image_layer.value = viewer.layers["micrograph"]
    w.steps.setValue(2)
    w.batch.setValue(2)
    w.crop.setValue(32)
    w.device.setCurrentText("cpu")
    w.out.setText(str(tmp_path / "sr"))
    w.extra.setText('{"val_every": 1000, "num_threads": 1}')
    first = w.current_spec()
    w.enqueue(first)
    qtbot.waitUntil(lambda: not w.is_running, timeout=120_000)
    assert first.status == "done", first.result
    # from a layer, without validation: the warning ends the line
    # (tests/test_widget_train_sr_warnings.py)
    from napari_srmat.sr.train import NO_VALIDATION_WARNING

    assert w.status.text() == f"SR training: done: {NO_VALIDATION_WARNING}"
    w.steps.setValue(4)
    w.resume.setChecked(True)
    rerun = w.current_spec()
    w.enqueue(rerun)
    qtbot.waitUntil(lambda: not w.is_running, timeout=120_000)
    assert rerun.status == "done", rerun.result
    assert w.status.text() == ("SR training: done (resumed: 2/4 steps from an earlier run): "
                               f"{NO_VALIDATION_WARNING}")


def test_a_training_s_disk_full_tells_the_widget_s_rerun(make_napari_viewer, qtbot, data_root,
                                                         tmp_path, monkeypatch):
    """A disk full at a training's last/ write: the status line said 'free space and rerun
    the same command to resume' (failed before), a command the widget's user has none
    of, and a resume that the folder, nothing resumable kept, refuses. It says the
    widget's rerun (``rerun_after_stop`` worded for the GUI: its Resume and Overwrite
    controls, no flag); once an epoch is kept, to tick Resume. Its napari notification
    says the same rerun (failed before: 'free space and rerun the same command to
    resume', the status line's rerun told by the Train widget alone)."""
    import napari_srmat.widgets._worker as worker_mod
    from napari_srmat.edges import train as edges_train

    shown = []
    monkeypatch.setattr(worker_mod, "show_error", shown.append)
    real = edges_train._write_last

    def write_last(out, model, ema_state, opt, scaler, ckpt_config, state):
        if ckpt_config["epoch"] >= fail_at:
            raise OSError(28, "No space left on device", str(out / "last"))
        return real(out, model, ema_state, opt, scaler, ckpt_config, state)

    monkeypatch.setattr(edges_train, "_write_last", write_last)
    w = TrainEvaluateWidget(make_napari_viewer())
    qtbot.addWidget(w)
    run = tmp_path / "run"
    for fail_at, rerun in (
        (0, "nothing resumable was kept: run it again with 'Resume' unticked and "
            "'Overwrite' ticked to start over"),
        (1, f"tick 'Resume' and run it again to continue after epoch 1 ({run / 'last'})"),
    ):
        spec = _uaed_spec(data_root, run, epochs=2, overwrite=fail_at > 0)
        w.enqueue(spec)
        qtbot.waitUntil(lambda s=spec: s.status == "failed" and not w.is_running,
                        timeout=120_000)
        text = w.status.text()
        assert text.startswith(
            f"UAED training: failed: {run / 'last'}: no space left on device (disk full: "
            f"free space; {rerun}); epoch {fail_at + 1} (val AP "), text
        assert "--" not in text and "command" not in text
        failed = text.removeprefix("UAED training: failed: ")
        assert shown == [f"napari-srmat: {failed}"], (shown, text)
        shown.clear()


def test_an_sr_training_told_out_null_in_extra_is_one_line(tmp_path):
    """An Extra {"out": null} for SR training raised a TypeError (record.stamp(None))
    while the job was made, an internal error with a traceback; the job now tells it as
    the UAED branch does: train_sr_job's own one-line refusal (a user error)."""
    from PIL import Image

    from napari_srmat.errors import is_user_error
    from napari_srmat.jobs import run_job
    from napari_srmat.widgets.train_widget import SR_TRAIN, make_job

    data = tmp_path / "hr"
    data.mkdir()
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(data / "a.png")
    job = make_job(JobSpec(SR_TRAIN, {"data": str(data), "extra": {"out": None}}))
    with pytest.raises(Exception) as told:
        run_job(job(None), quiet=True)
    assert is_user_error(told.value), repr(told.value)
    assert "\n" not in str(told.value)


def test_a_checkpoint_of_another_encoder_is_refused_in_the_form_s_words(
    make_napari_viewer, qtbot, data_root, tmp_path
):
    """Checkpoint 'default' with encoder small failed 'init_checkpoint has encoder 'tiny',
    the run uses 'small'': a keyword, no remedy (explore_gui F3). The status line names
    the controls and what to choose; nothing is written."""
    w = TrainEvaluateWidget(make_napari_viewer())
    qtbot.addWidget(w)
    w.kind.setCurrentText(UAED_TRAIN)
    w.model.setCurrentText("small")
    w.data.setText(str(data_root))
    w.checkpoint.setText("default")
    w.out.setText(str(tmp_path / "run"))
    w.device.setCurrentText("cpu")
    w.run_btn.click()
    qtbot.waitUntil(lambda: not w.is_running, timeout=60_000)
    assert w.status.text() == (
        "UAED training: failed: 'Checkpoint' 'default' (the shipped weights) has encoder "
        "'tiny', the run uses 'Model / encoder' 'small': choose 'Model / encoder' 'tiny', "
        "or a checkpoint of encoder 'small' in 'Checkpoint'"
    )
    assert not (tmp_path / "run").exists()
