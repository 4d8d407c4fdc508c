"""UAED training: what a failed checkpoint write tells, and the saved training state.

An epoch whose ``last/`` or ``best/`` write failed (a disk full) raised before its
events: the validation it computed was never told (GUI, ``srmat edges train``), only the
error. Now its Metric events are told before the error goes on, and a Checkpoint event
only for a folder that was written.
"""

from __future__ import annotations

import errno
import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from test_edges_train import _cfg, _write_dataset  # noqa: E402

from napari_srmat.edges import train as edges_train  # noqa: E402
from napari_srmat.jobs import Checkpoint, Metric, run_job  # noqa: E402

torch.set_num_threads(1)
_REAL_WRITE_LAST = edges_train._write_last


def _disk_full(path) -> OSError:
    return OSError(errno.ENOSPC, "No space left on device", str(path))


def _failing_last(monkeypatch, at_epoch: int) -> None:
    """Make the write of ``last/`` fail with a disk full from epoch ``at_epoch`` on."""
    real = edges_train._write_last

    def write_last(out, model, ema_state, opt, scaler, ckpt_config, state):
        if ckpt_config["epoch"] >= at_epoch:
            raise _disk_full(Path(out) / "last")
        return real(out, model, ema_state, opt, scaler, ckpt_config, state)

    monkeypatch.setattr(edges_train, "_write_last", write_last)


def _run(cfg) -> tuple[list, OSError]:
    events = []
    with pytest.raises(OSError) as caught:
        run_job(edges_train.train_boundaries_job(cfg), quiet=True, on_event=events.append)
    return events, caught.value


def _val_epochs(events) -> list[int]:
    return [e.step for e in events if isinstance(e, Metric) and e.split == "val"]


@pytest.mark.parametrize("at_epoch", [0, 1])
def test_a_failed_last_write_tells_the_epochs_validation_first(tmp_path, monkeypatch, at_epoch):
    """last/ of an epoch cannot be written: the epoch's train loss and validation are
    told, then the error; a Checkpoint event of it names only a folder written with it
    (the first epoch's best/ and top/ are: their AP beats none)."""
    _failing_last(monkeypatch, at_epoch=at_epoch)
    events, error = _run(_cfg(tmp_path, epochs=2, top_k=1))
    assert error.errno == errno.ENOSPC
    epochs = list(range(at_epoch + 1))
    assert _val_epochs(events) == epochs
    assert [e.step for e in events if isinstance(e, Metric) and e.split == "train"] == epochs
    told = [e for e in events if isinstance(e, Checkpoint) and e.step == at_epoch]
    for event in told:
        written = json.loads((Path(event.path) / "config.json").read_text())["epoch"]
        assert written == at_epoch
    if at_epoch == 0:
        assert sorted(Path(e.path).name for e in told) == ["best", "epoch-001"]
        assert not (tmp_path / "run" / "last").exists()
    else:
        state = json.loads((tmp_path / "run" / "last" / "training_state.json").read_text())
        assert state["epoch"] == 0  # the epoch before stands
    assert error.__notes__[-1].startswith(f"epoch {at_epoch + 1} (val AP ")


def test_a_failed_best_write_tells_the_validation_and_no_checkpoint(tmp_path, monkeypatch):
    """best/ of the first epoch cannot be written: its validation is told, no Checkpoint
    event (nothing of it was written), then the disk full."""
    real = edges_train.save_checkpoint

    def save_checkpoint(path, *args, **kwargs):
        if Path(path).name == edges_train.BEST_NAME:
            raise _disk_full(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(edges_train, "save_checkpoint", save_checkpoint)
    events, error = _run(_cfg(tmp_path, epochs=1, top_k=0))
    assert error.errno == errno.ENOSPC
    assert _val_epochs(events) == [0]
    assert not [e for e in events if isinstance(e, Checkpoint)]
    assert not (tmp_path / "run" / "best").exists()


def _train_args(tmp_path, epochs: int = 1) -> list[str]:
    """``srmat edges train``'s arguments: ``epochs`` of one step into ``tmp_path/run``."""
    root = tmp_path / "data"
    if not root.is_dir():  # (written once: a rerun trains on the same)
        _write_dataset(root)
    return [
        "edges",
        "train",
        "--data",
        str(root),
        "--epochs",
        str(epochs),
        "--encoder",
        "tiny",
        "--crop",
        "32",
        "--steps-per-epoch",
        "1",
        "--learning-rate",
        "1e-3",
        "--threads",
        "1",
        "--device",
        "cpu",
        "--out",
        str(tmp_path / "run"),
    ]


def test_srmat_edges_train_tells_the_validation_then_a_one_line_disk_full(
    tmp_path, monkeypatch, capsys
):
    from napari_srmat.cli import main

    _failing_last(monkeypatch, at_epoch=0)
    rc = main(_train_args(tmp_path))
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    lines = err.splitlines()
    errors = [i for i, line in enumerate(lines) if line.startswith("srmat edges train: error:")]
    assert len(errors) == 1 and "no space left on device" in lines[errors[0]]
    told = [i for i, line in enumerate(lines) if line.startswith("[val 1] ap=")]
    assert told and told[0] < errors[0]
    # what the run folder holds is told: the best/ written, and the epoch not kept
    assert all(
        Path(line.split("] ", 1)[1]).is_dir() for line in lines if line.startswith("[checkpoint]")
    )
    assert lines[errors[0] + 1] == (
        f"srmat edges train: warning: epoch 1 (val AP "
        f"{float(lines[told[0]].split('ap=')[1].split(',')[0]):.4f}"
        f") not kept in {tmp_path / 'run' / 'last'}"
    )


def _scaler_state(run: Path) -> dict:
    return json.loads((run / "last" / "training_state.json").read_text())["scaler"]


def test_a_resume_continues_the_mixed_precision_loss_scaler(tmp_path, monkeypatch):
    """The loss scaler's state (``scaler`` in last/'s training state) is saved and loaded
    by a resume: the resumed run ends with the scaler of an uninterrupted one. The job
    enables it on CUDA only (AMP); here a CPU scaler stands in for it, growing its scale
    every 3 steps, so that a state lost on resume (a fresh scaler) ends otherwise."""
    real = torch.amp.GradScaler
    monkeypatch.setattr(
        torch.amp,
        "GradScaler",
        lambda *args, **kwargs: real("cpu", enabled=True, growth_interval=3),
    )
    run_job(
        edges_train.train_boundaries_job(_cfg(tmp_path, out=str(tmp_path / "whole"))), quiet=True
    )
    first = _cfg(tmp_path, out=str(tmp_path / "resumed"), epochs=1)
    run_job(edges_train.train_boundaries_job(first), quiet=True)
    # 2 steps of 3 before a growth; 4 steps: grown once, 1 step since
    assert _scaler_state(tmp_path / "resumed")["_growth_tracker"] == 2
    run_job(edges_train.train_boundaries_job(dict(first, epochs=2, resume=True)), quiet=True)
    whole = _scaler_state(tmp_path / "whole")
    assert whole["scale"] == 2 * real("cpu").get_scale() and whole["_growth_tracker"] == 1
    assert _scaler_state(tmp_path / "resumed") == whole


def test_a_top_checkpoint_is_evicted_only_once_last_is_written(tmp_path, monkeypatch):
    """Epoch 2 beats epoch 1 for the one top-k place, and its last/ cannot be written:
    top/epoch-001, which last/ (epoch 1) still lists, stays. It was deleted before last/
    was written: the state kept named a checkpoint that was gone."""
    aps = iter([0.5, 0.7])
    monkeypatch.setattr(
        edges_train,
        "validate",
        lambda *args: {"ap": next(aps), "roc_auc": 0.5, "f1": 0.5, "threshold": 0.5},
    )
    _failing_last(monkeypatch, at_epoch=1)
    _run(_cfg(tmp_path, epochs=2, top_k=1))
    state = json.loads((tmp_path / "run" / "last" / "training_state.json").read_text())
    assert [Path(p).name for _, _, p in state["top"]] == ["epoch-001"]
    assert (tmp_path / "run" / "top" / "epoch-001" / "model.safetensors").is_file()


def _strict_json(path: Path):
    """The JSON of ``path``, refusing what strict JSON has not (``Infinity``, ``NaN``)."""

    def refuse(name):
        raise ValueError(f"{path} holds {name}, not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def _mixed_precision(
    monkeypatch, poisoned: set[int], *, gradients_only: bool = False
) -> list[float]:
    """Stand an enabled CPU loss scaler in for the job's CUDA one (as
    :func:`test_a_resume_continues_the_mixed_precision_loss_scaler` does) and make the
    loss of the steps numbered in ``poisoned`` (counted from 0 in this run) infinite, as
    a float16 overflow makes it; with ``gradients_only`` the loss stays finite and only
    its gradients are not (``0 * sqrt(0 * x)``: its value 0, its gradient NaN), as an
    overflow in the backward pass makes them. The list returned gets each step's loss."""
    real_scaler, real_loss = torch.amp.GradScaler, edges_train.uaed_loss
    monkeypatch.setattr(
        torch.amp, "GradScaler", lambda *args, **kwargs: real_scaler("cpu", enabled=True)
    )
    losses: list[float] = []

    def uaed_loss(*args, **kwargs):
        loss, parts = real_loss(*args, **kwargs)
        if len(losses) in poisoned and gradients_only:
            loss = loss + 0.0 * torch.sqrt(0.0 * args[0].float().sum())
        elif len(losses) in poisoned:
            loss = loss * float("inf")
        losses.append(float(loss.detach()))
        return loss, parts

    monkeypatch.setattr(edges_train, "uaed_loss", uaed_loss)
    return losses


@pytest.mark.parametrize("gradients_only", [False, True], ids=["loss", "gradients"])
def test_a_mixed_precision_step_skipped_stays_out_of_the_epochs_loss(
    tmp_path, monkeypatch, gradients_only
):
    """With mixed precision a step whose loss is infinite is skipped by the loss scaler;
    its loss was recorded all the same: the epoch's loss was inf, and history.json and
    last/'s state held ``Infinity``, which is no JSON (failed before: the run ends with an
    invalid history.json). The epoch's loss is the mean of the steps trained, the skipped
    one counted (``skipped_steps``, and in the train Metric). The scaler also skips a
    step whose loss is finite but whose gradients are not (``gradients``: an overflow in
    the backward pass); its loss stayed in the mean, ``skipped_steps`` 0 (failed before).
    A skip is counted as the scaler tells it: its scale decreased at ``update()``."""
    losses = _mixed_precision(monkeypatch, poisoned={1}, gradients_only=gradients_only)
    events = []
    run_job(
        edges_train.train_boundaries_job(_cfg(tmp_path, epochs=1, steps_per_epoch=3)),
        quiet=True,
        on_event=events.append,
    )
    run = tmp_path / "run"
    [rec] = _strict_json(run / "history.json")
    assert _strict_json(run / "last" / "training_state.json")["history"] == [rec]
    assert math.isfinite(losses[1]) == gradients_only and rec["skipped_steps"] == 1
    assert rec["loss"] == pytest.approx((losses[0] + losses[2]) / 2)
    [train] = [e for e in events if isinstance(e, Metric) and e.split == "train"]
    assert train.values == {"loss": rec["loss"], "skipped_steps": 1}
    # the scaler skipped it: its scale backed off once
    assert _scaler_state(run)["scale"] == torch.amp.GradScaler("cpu").get_scale() / 2


@pytest.mark.parametrize("earlier", [False, True], ids=["this version", "Infinity kept"])
def test_a_resume_after_a_skipped_step_keeps_it_out_of_the_loss(tmp_path, monkeypatch, earlier):
    """A run stopped mid-epoch after a skipped step (its loss infinite, mixed precision)
    and resumed ends with the uninterrupted run's history: the skipped step is kept as
    such (null) among the epoch's losses. A state an earlier version wrote, its
    ``Infinity`` kept as the step's loss and the epoch's, resumes too, the epoch's loss
    unknown (null) and history.json strict JSON (failed before: Infinity written)."""
    from napari_srmat.jobs import StopToken

    cfg = _cfg(tmp_path, epochs=2, steps_per_epoch=3)
    _mixed_precision(monkeypatch, poisoned={1, 4})  # step 2 of both epochs
    whole = run_job(
        edges_train.train_boundaries_job(dict(cfg, out=str(tmp_path / "whole"))), quiet=True
    )
    _mixed_precision(monkeypatch, poisoned={1, 4})
    token = StopToken()  # stopped after step 2 of epoch 2
    run_job(
        edges_train.train_boundaries_job(cfg, stop=token),
        quiet=True,
        on_event=lambda e: getattr(e, "done", None) == 5 and token.request_stop(),
    )
    state_file = tmp_path / "run" / "last" / "training_state.json"
    state = _strict_json(state_file)
    assert state["epoch_losses"][1] is None and state["history"][0]["skipped_steps"] == 1
    if earlier:  # as written before: the losses kept, the skipped one's infinite
        state["epoch_losses"][1] = float("inf")
        del state["history"][0]["skipped_steps"]
        state["history"][0]["loss"] = float("inf")
        state_file.write_text(json.dumps(state))
    _mixed_precision(monkeypatch, poisoned=set())
    resumed = run_job(edges_train.train_boundaries_job(dict(cfg, resume=True)), quiet=True)
    history = _strict_json(tmp_path / "run" / "history.json")
    assert history == resumed.history
    strip = [{k: v for k, v in h.items() if k != "elapsed_s"} for h in history]
    expected = [{k: v for k, v in h.items() if k != "elapsed_s"} for h in whole.history]
    assert [h["skipped_steps"] for h in expected] == [1, 1]
    if earlier:
        expected[0] = dict(expected[0], loss=None)
        del expected[0]["skipped_steps"]
    assert strip == expected


def test_an_epoch_of_skipped_steps_only_has_no_loss(tmp_path, monkeypatch):
    """Every step of the epoch skipped (mixed precision, infinite losses): its loss is
    unknown, null in history.json, and its train Metric tells only the steps skipped."""
    _mixed_precision(monkeypatch, poisoned={0, 1})
    events = []
    result = run_job(
        edges_train.train_boundaries_job(_cfg(tmp_path, epochs=1)),
        quiet=True,
        on_event=events.append,
    )
    [rec] = _strict_json(tmp_path / "run" / "history.json")
    assert rec["loss"] is None and rec["skipped_steps"] == 2 and result.history == [rec]
    [train] = [e for e in events if isinstance(e, Metric) and e.split == "train"]
    assert train.values == {"skipped_steps": 2}


def _config(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())


def test_an_overwrite_run_whose_first_last_fails_leaves_nothing_to_resume(tmp_path, monkeypatch):
    """A new run over an earlier one (overwrite) wrote its first best/ and top/epoch-001
    over the earlier run's, then failed to write last/: the folder held the earlier run's
    last/ beside this run's best/, and a resume continued the earlier run with another
    run's best/ (failed before: last/ still there). The earlier run is removed before
    this run's first checkpoint: what is left is this run's, and no resume."""
    from napari_srmat.outputs import OutputExistsError

    aps = iter([0.9, 0.8, 0.5])  # the earlier run's two epochs, then the new run's
    monkeypatch.setattr(
        edges_train,
        "validate",
        lambda *args: {"ap": next(aps), "roc_auc": 0.5, "f1": 0.5, "threshold": 0.5},
    )
    run_job(edges_train.train_boundaries_job(_cfg(tmp_path, top_k=2)), quiet=True)
    run = tmp_path / "run"
    assert sorted(p.name for p in (run / "top").iterdir()) == ["epoch-001", "epoch-002"]
    _failing_last(monkeypatch, at_epoch=0)
    _run(_cfg(tmp_path, epochs=1, top_k=2, seed=3, overwrite=True))
    assert not (run / "last").exists() and not (run / "history.json").exists()
    assert sorted(p.name for p in (run / "top").iterdir()) == ["epoch-001"]
    assert _config(run / "best")["val_ap"] == _config(run / "top" / "epoch-001")["val_ap"] == 0.5
    with pytest.raises(OutputExistsError, match="cannot be resumed"):
        run_job(edges_train.train_boundaries_job(_cfg(tmp_path, resume=True)), quiet=True)


def _validated(monkeypatch, aps: list[float]) -> None:
    """Each validation's AP, in turn (F1 and threshold 0.5)."""
    told = iter(aps)
    monkeypatch.setattr(
        edges_train,
        "validate",
        lambda *args: {"ap": next(told), "roc_auc": 0.5, "f1": 0.5, "threshold": 0.5},
    )


def _top_names(run: Path) -> list[str]:
    return sorted(p.name for p in (run / "top").iterdir())


def test_a_top_checkpoint_pushed_out_at_a_ctrl_c_after_last_is_removed_by_the_resume(
    tmp_path, monkeypatch
):
    """A Ctrl-C delivered once last/ was replaced (held through its renames): last/ no
    longer lists top/epoch-001, which epoch 2 pushed out, and nothing removed it, not
    even a resume (failed before: still there). The resume removes it."""
    _validated(monkeypatch, [0.5, 0.7])
    real = edges_train._write_last

    def write_last(out, model, ema_state, opt, scaler, ckpt_config, state):
        real(out, model, ema_state, opt, scaler, ckpt_config, state)
        if ckpt_config["epoch"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(edges_train, "_write_last", write_last)
    with pytest.raises(KeyboardInterrupt):
        run_job(edges_train.train_boundaries_job(_cfg(tmp_path, top_k=1)), quiet=True)
    run = tmp_path / "run"
    assert _top_names(run) == ["epoch-001", "epoch-002"]
    monkeypatch.setattr(edges_train, "_write_last", _REAL_WRITE_LAST)
    run_job(edges_train.train_boundaries_job(_cfg(tmp_path, top_k=1, resume=True)), quiet=True)
    assert _top_names(run) == ["epoch-002"]


def test_a_top_checkpoint_a_failed_last_left_unlisted_is_removed_by_the_resume(
    tmp_path, monkeypatch
):
    """Epoch 2's top/epoch-002 was written, its last/ not: the resume trains epoch 2
    again, which no longer enters the top-k; the top/epoch-002 of the failed session,
    which last/ never listed, stayed beside the one listed (failed before). It goes; a
    folder of the user's named so is left."""
    _validated(monkeypatch, [0.5, 0.7, 0.3])
    _failing_last(monkeypatch, at_epoch=1)
    _run(_cfg(tmp_path, top_k=1))
    run = tmp_path / "run"
    assert _top_names(run) == ["epoch-001", "epoch-002"]
    (run / "top" / "epoch-notes").mkdir()  # not a name the run writes
    monkeypatch.setattr(edges_train, "_write_last", _REAL_WRITE_LAST)
    run_job(edges_train.train_boundaries_job(_cfg(tmp_path, top_k=1, resume=True)), quiet=True)
    assert _top_names(run) == ["epoch-001", "epoch-notes"]


def test_a_refused_top_eviction_writes_no_unannounced_checkpoint(tmp_path, monkeypatch):
    """A file of the user's put in top/epoch-001 during the run: epoch 2, which pushes it
    out, is refused, and top/epoch-002 was written before the check, told by no
    Checkpoint event (failed before). Checked first: nothing of epoch 2 is written."""
    from napari_srmat.outputs import OutputExistsError

    run = tmp_path / "run"
    aps = iter([0.5, 0.7])

    def validate(*args):
        ap = next(aps)
        if ap == 0.7:
            (run / "top" / "epoch-001" / "notes.txt").write_text("mine")
        return {"ap": ap, "roc_auc": 0.5, "f1": 0.5, "threshold": 0.5}

    monkeypatch.setattr(edges_train, "validate", validate)
    events = []
    with pytest.raises(OutputExistsError):
        run_job(
            edges_train.train_boundaries_job(_cfg(tmp_path, top_k=1)),
            quiet=True,
            on_event=events.append,
        )
    assert _top_names(run) == ["epoch-001"]
    assert not [e for e in events if isinstance(e, Checkpoint) and e.step == 1]


def _not_kept(error: BaseException) -> list[str]:
    return [n for n in getattr(error, "__notes__", ()) if "not kept in" in n]


def test_a_widget_tells_the_epoch_not_kept_in_its_failed_line(tmp_path, monkeypatch):
    """A widget's line of the failed job (the Train widget's status and notification,
    error_message with gui) dropped the error's note 'epoch 1 (val AP ...) not kept in
    RUN/last' (failed before): it ends with it."""
    pytest.importorskip("qtpy")
    from napari_srmat.widgets._worker import failed_line

    _failing_last(monkeypatch, at_epoch=0)
    _, error = _run(_cfg(tmp_path, epochs=1))
    [note] = _not_kept(error)
    assert failed_line(error) == (
        f"failed: {tmp_path / 'run' / 'last'}: no space left on device (disk full: free "
        f"space and run it again); {note}"
    )  # a widget's words: no command (errors.DISK_FULL_RERUN_GUI)


def test_srmat_edges_train_ctrl_c_at_a_failed_epochs_event_tells_what_was_not_kept(
    tmp_path, monkeypatch, capsys
):
    """A Ctrl-C while srmat prints the events of an epoch whose last/ write failed: the
    interrupt carries the disk full as its context only, and the note 'epoch 1 (val AP
    ...) not kept in RUN/last' on it was not told (failed before). It is, after the
    interrupted line that names the disk full."""
    from napari_srmat import jobs
    from napari_srmat.cli import EXIT_INTERRUPTED, main

    _failing_last(monkeypatch, at_epoch=0)
    real_run_job = jobs.run_job

    def on_event(event):  # a Ctrl-C in srmat's code: thrown into the job by run_job
        if isinstance(event, Metric) and event.split == "val":
            raise KeyboardInterrupt

    monkeypatch.setattr(
        jobs, "run_job", lambda gen, **kw: real_run_job(gen, **dict(kw, on_event=on_event))
    )
    assert main(_train_args(tmp_path)) == EXIT_INTERRUPTED
    lines = capsys.readouterr().err.splitlines()
    assert lines[-2].startswith("srmat edges train: interrupted (") and (
        f"during an error: {tmp_path / 'run' / 'last'}: no space left on device" in lines[-2]
    ), lines
    assert lines[-1].startswith("srmat edges train: warning: epoch 1 (val AP ")
    assert lines[-1].endswith(f") not kept in {tmp_path / 'run' / 'last'}"), lines
    # the disk full it came during says the rerun the line says (no --resume: nothing
    # resumable was kept)
    rerun = "nothing resumable was kept: rerun it with --overwrite (without --resume) to start over"
    assert lines[-2] == (
        f"srmat edges train: interrupted ({rerun}) during an error: "
        f"{tmp_path / 'run' / 'last'}: no space left on device (disk full: free space; {rerun})"
    )


def test_a_failure_once_last_is_written_does_not_say_not_kept(tmp_path, monkeypatch):
    """Guard: a failure after last/ holds the epoch (here in the removal of the top
    checkpoints it no longer lists) says nothing of the epoch not kept: it was. (A note
    added whatever the failure passed every test before.)"""

    def fails(out, top):
        raise PermissionError(13, "Permission denied", str(Path(out) / "top"))

    monkeypatch.setattr(edges_train, "_remove_unlisted_top", fails)
    _, error = _run(_cfg(tmp_path, epochs=1))
    assert error.errno == errno.EACCES and not _not_kept(error)
    state = json.loads((tmp_path / "run" / "last" / "training_state.json").read_text())
    assert state["epoch"] == 0


@pytest.mark.parametrize("epochs", [1, 2])
def test_srmat_edges_train_disk_full_says_how_to_rerun(tmp_path, monkeypatch, capsys, epochs):
    """A disk full at the last epoch's last/ write said "free space and rerun the same
    command to resume", which srmat edges train refuses without --resume (failed
    before). After a kept epoch it says the --resume rerun; at the first epoch, whose
    folder cannot be resumed, the --overwrite rerun, which then runs."""
    from napari_srmat.cli import main

    _failing_last(monkeypatch, at_epoch=epochs - 1)
    assert main(_train_args(tmp_path, epochs)) == 1
    run = tmp_path / "run"
    [error] = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    rerun = (
        f"rerun it with --resume to continue after epoch 1 ({run / 'last'})"
        if epochs == 2
        else "nothing resumable was kept: rerun it with --overwrite (without --resume) "
        "to start over"
    )
    assert error == (
        f"srmat edges train: error: {run / 'last'}: no space left on device (disk full: "
        f"free space; {rerun})"
    )
    monkeypatch.setattr(edges_train, "_write_last", _REAL_WRITE_LAST)
    again = ["--resume"] if epochs == 2 else ["--overwrite"]
    assert main(_train_args(tmp_path, epochs) + again) == 0


def test_srmat_edges_train_rerun_of_a_failed_first_epoch_is_not_told_to_resume(
    tmp_path, monkeypatch, capsys
):
    """After a failed first epoch (best/ and top/ written, no last/) the same command
    was refused with "pass --resume to continue it", which --resume then refused (failed
    before): nothing there can be resumed, and the refusal says --overwrite only, as the
    failed run's disk-full hint did."""
    from napari_srmat.cli import main

    _failing_last(monkeypatch, at_epoch=0)
    assert main(_train_args(tmp_path)) == 1
    monkeypatch.setattr(edges_train, "_write_last", _REAL_WRITE_LAST)
    capsys.readouterr()
    assert main(_train_args(tmp_path)) == 2
    [error] = capsys.readouterr().err.strip().splitlines()
    run = tmp_path / "run"
    assert error.startswith(f"srmat edges train: error: {run} holds a training run (")
    assert error.endswith(
        "that cannot be resumed (its state is missing): pass --overwrite to start over "
        "there, or choose another output folder"
    )


@pytest.mark.parametrize("bad", [float("inf"), float("nan")])
def test_a_cpu_run_without_a_loss_scaler_stops_on_a_non_finite_loss(tmp_path, monkeypatch, bad):
    """Guard (passes before): only a mixed-precision scaler may skip a non-finite step
    (78d90e65); a run without one stops on it, at that step, and writes no history. A
    pass-through ``finite_loss`` passed every other test (its NaN weights were caught later
    as 'the training diverged')."""
    real = edges_train.uaed_loss
    calls = []

    def loss_fn(*args, **kwargs):
        loss, parts = real(*args, **kwargs)
        if len(calls) == 1:
            loss = loss * bad
        calls.append(1)
        return loss, parts

    monkeypatch.setattr(edges_train, "uaed_loss", loss_fn)
    with pytest.raises(ValueError, match="the training loss became (inf|nan) at step 2"):
        run_job(edges_train.train_boundaries_job(_cfg(tmp_path, epochs=1, steps_per_epoch=3)),
                quiet=True)
    assert not (tmp_path / "run" / "history.json").exists()


def test_a_file_of_the_users_put_in_the_earlier_runs_best_during_an_overwrite_is_kept(
        tmp_path, monkeypatch):
    """Guard (passes before): an ``--overwrite`` run removes the earlier run at its first
    epoch's end (d181b185) after checking its folders again: a file the user put in the
    earlier ``best/`` meanwhile is refused, not deleted with it (``shutil.rmtree(best,
    ignore_errors=True)`` would delete it silently). Nothing tested that re-check."""
    from napari_srmat.outputs import OutputExistsError

    run_job(edges_train.train_boundaries_job(_cfg(tmp_path, epochs=2, top_k=2)), quiet=True)
    notes = tmp_path / "run" / "best" / "notes.txt"
    real = edges_train.uaed_loss

    def loss_fn(*args, **kwargs):
        if not notes.exists():  # during the new run's first epoch, after its start's check
            notes.write_text("mine")
        return real(*args, **kwargs)

    monkeypatch.setattr(edges_train, "uaed_loss", loss_fn)
    with pytest.raises(OutputExistsError, match="notes.txt"):
        run_job(edges_train.train_boundaries_job(
            _cfg(tmp_path, epochs=1, seed=4, top_k=2, overwrite=True)), quiet=True)
    assert notes.read_text() == "mine"


@pytest.mark.parametrize("at, point, resumed", [
    ("told", "after step 3 of epoch 2", [6]),  # building its events (failed before)
    ("top", "after step 3 of epoch 2", [6]),  # its top/ checkpoint (failed before)
    ("best", "after step 3 of epoch 2", [6]),  # its best/ checkpoint (guard)
    ("last", "after step 3 of epoch 2", [6]),  # its last/ state (failed before)
    ("unlisted", "after epoch 2", []),  # once last/ holds it (guard)
])
def test_a_ctrl_c_from_an_epochs_validation_to_its_last_write_keeps_its_steps(
        tmp_path, monkeypatch, at, point, resumed):
    """A KeyboardInterrupt (a notebook's Ctrl-C, a second one in srmat) once epoch 2 was
    validated lost the epoch: last/ held epoch 1 and the resume trained epoch 2 again
    (failed before: 'after epoch 1'), while its record and events were built ("told":
    neither handler held it), and in its end writes (its top/ checkpoint, its last/
    state). From the validation's end to last/ holding the epoch, its steps are now
    kept as an interrupt in its validation keeps them (written whole, swapped in), then
    the interrupt goes on: so in its best/ write; once last/ holds it (in the removal of
    the top/ entries it no longer lists), the epoch stands. Nothing half-written is
    left; the resume only validates the epoch and ends as the uninterrupted run."""
    from test_train_stops import _edges_cfg, _same_edges_run

    from napari_srmat import checkpoint
    from napari_srmat._atomic import STAGING_DIRECTORY
    from napari_srmat.jobs import Progress

    job = edges_train.train_boundaries_job
    # seed 2: epoch 2 beats epoch 1 (val AP 0.360 > 0.352), its best/ is written
    whole = run_job(job(_edges_cfg(tmp_path, "whole", seed=2)), quiet=True)
    assert whole.history[1]["val_ap"] > whole.history[0]["val_ap"]
    cfg = _edges_cfg(tmp_path, "cut", seed=2)
    out = tmp_path / "cut"
    real_validate, real_write = edges_train.validate, checkpoint.write_safetensors
    real_metric, real_remove = edges_train.Metric, edges_train._remove_unlisted_top
    validated, pressed = [], []

    def validate(*args, **kwargs):
        result = real_validate(*args, **kwargs)
        validated.append(1)
        return result

    def press(where) -> None:  # once, after epoch 2's validation
        if where == at and len(validated) == 2 and not pressed:
            pressed.append(where)
            raise KeyboardInterrupt

    def metric(step, values, split="train", **kwargs):
        if split == "val":
            press("told")
        return real_metric(step, values, split=split, **kwargs)

    def write(path, tensors, *args, **kwargs):  # mid-write
        staging = STAGING_DIRECTORY.match(Path(path).parent.name)  # best/ being written
        if staging and staging["of"] == edges_train.BEST_NAME:
            press("best")
        if out / "top" in Path(path).parents:
            press("top")
        if Path(path).name == checkpoint.OPTIMIZER_STATE_NAME:
            press("last")
        return real_write(path, tensors, *args, **kwargs)

    def remove_unlisted_top(*args, **kwargs):
        press("unlisted")
        return real_remove(*args, **kwargs)

    monkeypatch.setattr(edges_train, "validate", validate)
    monkeypatch.setattr(edges_train, "Metric", metric)
    monkeypatch.setattr(checkpoint, "write_safetensors", write)
    monkeypatch.setattr(edges_train, "_remove_unlisted_top", remove_unlisted_top)
    with pytest.raises(KeyboardInterrupt):
        run_job(job(cfg), quiet=True)
    assert pressed == [at]
    assert edges_train.RESUME_RECORD.point(out) == (out / "last", point)
    for folder in (out, out / "top"):
        assert [p.name for p in folder.iterdir() if p.name.endswith((".partial", ".old"))] \
            == []
    monkeypatch.undo()
    events = []
    result = run_job(job(dict(cfg, resume=True)), quiet=True, on_event=events.append)
    assert [e.done for e in events if isinstance(e, Progress)] == resumed
    if resumed:
        assert f"resumed from {out / 'last'} at the validation of epoch 2" in [
            getattr(e, "message", None) for e in events]
    _same_edges_run(tmp_path, whole, result, out)
