"""A stopped or interrupted training keeps its work and says what a rerun does.

``srmat sr train`` wrote its ``train_state`` only at validation: a Ctrl-C with no
``--val`` lost every step, while its line said "rerun it with --resume", and that rerun
warned "nothing to resume" and started over. Now a Ctrl-C asks the job to stop (the GUI's
Stop), which saves the state at the step reached; a KeyboardInterrupt between steps saves
it too; the state is also written every ``TRAIN_STATE_EVERY_S`` seconds; and the line is
read from the run folder (``napari_srmat.cli._training``).
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _ctrl_c import python_ctrl_c  # noqa: E402,F401

import napari_srmat.jobs as jobs  # noqa: E402
from napari_srmat import cli  # noqa: E402
from napari_srmat.cli._training import CTRL_C_STOPPING, SIGTERM_STOPPING  # noqa: E402
from napari_srmat.jobs import Progress, run_job  # noqa: E402
from napari_srmat.sr import train as sr_train  # noqa: E402
from napari_srmat.sr.train import train_sr_job  # noqa: E402


def _png(path, shape, seed=0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    Image.fromarray((rng.random(shape) * 255).astype(np.uint8)).save(path)
    return str(path)


def _cfg(tmp_path, out, **kw):
    data = tmp_path / "hr"
    if not data.is_dir():
        data.mkdir()
        for i in range(2):
            _png(data / f"i{i}.png", (48, 48, 3), seed=i)
    cfg = dict(model="cnn", scale=2, out=str(tmp_path / out), data=[str(data)], steps=6,
               batch_size=2, patch=16, lr=3e-3, warmup=2, ema=0.8, log_every=1,
               arch={"n_feats": 8, "n_blocks": 1}, num_threads=1, device="cpu")
    cfg.update(kw)
    return cfg


def _weights(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def _same_weights(a, b) -> bool:
    wa, wb = _weights(a), _weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def _state_step(out) -> int:
    return json.loads((out / "train_state" / "config.json").read_text())["step"]


def _resume(cfg):
    events = []
    result = run_job(train_sr_job(dict(cfg, resume=True)), quiet=True,
                     on_event=events.append)
    return [e for e in events if isinstance(e, Progress)], result


def _interrupted_at(gen, done: int, where: str) -> None:
    """Drive job ``gen``, a KeyboardInterrupt at its ``Progress(done)``: thrown in there
    (``where`` "job": a Ctrl-C landing in the job), or raised by the caller's
    ``on_event`` in :func:`run_job` ("caller": one landing in a notebook's live plot)."""
    def on_event(event):
        if isinstance(event, Progress) and event.done == done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        if where == "caller":
            run_job(gen, quiet=True, on_event=on_event)
        for event in gen:
            if isinstance(event, Progress) and event.done == done:
                gen.throw(KeyboardInterrupt)


@pytest.mark.parametrize("where", ["job", "caller"])
def test_an_interrupt_between_steps_saves_the_step_reached(tmp_path, where):
    """A KeyboardInterrupt at step 3 of a run with no validation (a notebook's Ctrl-C)
    wrote nothing: the resume started at step 0 (failed before: no train_state). It now
    saves the state at step 3; the resumed run continues from there and ends with the
    weights of an uninterrupted run. One that lands in run_job's caller (its on_event)
    left the job paused and saved nothing either (failed before, "caller": no
    train_state); run_job throws it into the job."""
    run_job(train_sr_job(_cfg(tmp_path, "whole")), quiet=True)
    cfg = _cfg(tmp_path, "cut")
    _interrupted_at(train_sr_job(cfg), 3, where)
    out = tmp_path / "cut"
    assert _state_step(out) == 3
    progress, result = _resume(cfg)
    assert (progress[0].done, progress[0].resumed) == (3, 3) and result["step"] == 6
    for name in ("train_state", "last"):
        assert _same_weights(tmp_path / "whole" / name, out / name), name


def test_the_state_is_written_periodically(tmp_path, monkeypatch):
    """A run killed outright (no handler runs: here the generator closed) lost every step
    since its last validation (failed before: no train_state). The state is written at
    least every TRAIN_STATE_EVERY_S seconds (0 here: every step); the resume continues
    from the last one, as the uninterrupted run."""
    run_job(train_sr_job(_cfg(tmp_path, "whole")), quiet=True)
    monkeypatch.setattr(sr_train, "TRAIN_STATE_EVERY_S", 0.0, raising=False)
    cfg = _cfg(tmp_path, "killed")
    gen = train_sr_job(cfg)
    for event in gen:
        if isinstance(event, Progress) and event.done == 4:
            gen.close()  # at step 4's event: its periodic write comes after it
            break
    out = tmp_path / "killed"
    assert _state_step(out) == 3
    progress, _ = _resume(cfg)
    assert progress[0].done == 3
    assert _same_weights(tmp_path / "whole" / "last", out / "last")
    monkeypatch.undo()
    assert sr_train.TRAIN_STATE_EVERY_S > 0


def _sigint_at(monkeypatch, done: int, signum: int = signal.SIGINT, times: int = 1,
               ctrl_c_first: bool = False) -> None:
    """A real Ctrl-C (SIGINT; or ``signum``), ``times`` in a row, once the job of the
    next command yields ``Progress(done)``; with ``ctrl_c_first``, a SIGINT before each.

    Once only, whoever calls it: a module importing ``run_job`` by name while it is
    patched (the first ``cli.main`` imports the commands' modules, e.g.
    ``studies.sr_vs_original``) keeps this wrapper after the test; it had pressed Ctrl-C
    in a later test's job (``test_sr_vs_original_experiment_small`` after this file:
    ``KeyboardInterrupt`` → rc 1)."""
    real = jobs.run_job
    armed = [True]

    def pressed(gen):
        for event in gen:
            yield event
            if isinstance(event, Progress) and event.done == done:
                for _ in range(times):
                    if ctrl_c_first:
                        signal.raise_signal(signal.SIGINT)
                    signal.raise_signal(signum)

    def run_job(gen, **kwargs):
        if not armed[0]:
            return real(gen, **kwargs)
        armed[0] = False
        monkeypatch.setattr(jobs, "run_job", real)
        return real(pressed(gen), **kwargs)

    monkeypatch.setattr(jobs, "run_job", run_job)


@pytest.mark.usefixtures("python_ctrl_c")
def test_srmat_sr_train_ctrl_c_keeps_the_steps_and_the_rerun_resumes_them(
        tmp_path, capsys, monkeypatch):
    """QA: `srmat sr train --synthetic 2` with no --val, Ctrl-C: every step was lost, the
    line said 'rerun it with --resume to continue from what was kept', and that rerun
    warned 'nothing to resume' and started over. Now the Ctrl-C stops the run at the step
    it reached with its state saved, the line says so, and the rerun resumes there."""
    out = tmp_path / "ck"
    argv = ["sr", "train", "--synthetic", "2", "--model", "cnn", "--scale", "2",
            "--train-steps", "12", "--batch-size", "1", "--patch", "16", "--out", str(out),
            "--threads", "1", "--device", "cpu"]
    _sigint_at(monkeypatch, 7)
    assert cli.main(argv) == cli.EXIT_INTERRUPTED
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == (f"srmat sr train: interrupted (training stopped at step 7; checkpoint "
                       f"in {out / 'last'}; rerun it with --resume to continue from step 7 "
                       f"({out / 'train_state'}))")
    assert _state_step(out) == 7
    # said at the press, before the job reached its next step (failed before: unsaid)
    said = err.index(f"srmat sr train: note: {CTRL_C_STOPPING}")
    assert err[said + 1] == f"[checkpoint] {out / 'last'}"  # then the job's save
    assert cli.main([*argv, "--resume"]) == 0
    err = capsys.readouterr().err
    assert f"resumed from {out / 'train_state'} at step 7" in err
    assert "nothing to resume" not in err and _state_step(out) == 12


def _terminated(monkeypatch, argv, done: int, times: int = 1,
                sigint: str = "normal") -> int:
    """``cli.main(argv)`` with the console's SIGTERM handler (``main(None)`` installs
    it), sent ``times`` SIGTERMs once the job yields ``Progress(done)``; with ``sigint``
    "ignored", SIGINT ignored as a job a script starts in the background (``srmat ...
    &``) inherits it, and a Ctrl-C pressed before each SIGTERM (ignored)."""
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    cli._sigterm_as_ctrl_c()
    if sigint == "ignored":
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _sigint_at(monkeypatch, done, signal.SIGTERM, times, sigint == "ignored")
        return cli.main(argv)
    finally:
        signal.signal(signal.SIGTERM, before[0])
        signal.signal(signal.SIGINT, before[1])
        cli._TERMINATED.clear()


@pytest.mark.usefixtures("python_ctrl_c")
@pytest.mark.parametrize("sigint", ["normal", "ignored"])
@pytest.mark.parametrize("times", [1, 2])
def test_srmat_sr_train_sigterm_is_told_as_a_sigterm(tmp_path, capsys, monkeypatch, times,
                                                     sigint):
    """A SIGTERM (``kill``, ``scancel``) to `srmat sr train`, which the console's command
    takes as a first Ctrl-C, was told 'Ctrl-C: the training stops at its next step'
    (failed before). Now it says 'terminated (SIGTERM)', keeps the step reached and
    exits with EXIT_TERMINATED. A second SIGTERM interrupts at once, as the note says
    (guard: passed before): no checkpoint of the stop, the same exit code.

    With SIGINT ignored (``srmat sr train ... &`` in a script) the first SIGTERM
    interrupted at once, no note, as a second Ctrl-C (failed before, 2026-12-07); now
    the same as with SIGINT not ignored, the Ctrl-C presses staying ignored."""
    out = tmp_path / "ck"
    argv = ["sr", "train", "--synthetic", "2", "--model", "cnn", "--scale", "2",
            "--train-steps", "12", "--batch-size", "1", "--patch", "16", "--out", str(out),
            "--threads", "1", "--device", "cpu"]
    assert _terminated(monkeypatch, argv, 3, times, sigint) == cli.EXIT_TERMINATED
    err = capsys.readouterr().err.splitlines()
    said = err.index(f"srmat sr train: note: {SIGTERM_STOPPING}")
    assert not any("Ctrl-C:" in line for line in err), err
    if times == 1:
        assert err[said + 1] == f"[checkpoint] {out / 'last'}"
        assert _state_step(out) == 3
    else:
        assert err[said + 1:] == ["srmat sr train: interrupted (nothing resumable was kept: "
                                  "a rerun starts over)"], err


@pytest.mark.usefixtures("python_ctrl_c")
def test_srmat_edges_train_ctrl_c_line_names_the_epoch_a_rerun_continues_after(
        tmp_path, capsys, monkeypatch):
    """`srmat edges train`, Ctrl-C in its first epoch: nothing was saved (its state is
    written at each epoch's end), yet the line said 'rerun it with --resume to continue
    from what was kept'. The Ctrl-C now asks the job to stop: the epoch it was in ends
    (saved), the line names the epoch a rerun with --resume continues after, and it
    does."""
    out = tmp_path / "out"
    argv = ["edges", "train", "--data", _edges_data(tmp_path), "--out", str(out), "--epochs",
            "2", "--steps-per-epoch", "1", "--batch-size", "1", "--crop", "128",
            "--device", "cpu", "--threads", "1"]
    _sigint_at(monkeypatch, 1)  # epoch 1's only step: pressed before its save
    assert cli.main(argv) == cli.EXIT_INTERRUPTED
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == (f"srmat edges train: interrupted (stopped in epoch 2/2 before step "
                       f"1/1; {out / 'last'} holds epoch 1; rerun it with --resume to "
                       f"continue after epoch 1 ({out / 'last'}))")
    assert cli.main([*argv, "--resume"]) == 0
    # the point as the interrupt line tells it (was 'at epoch 1', then [train 2])
    assert f"resumed from {out / 'last'} after epoch 1" in capsys.readouterr().err


@pytest.mark.usefixtures("python_ctrl_c")
def test_srmat_edges_train_sigterm_is_told_as_a_sigterm(tmp_path, capsys, monkeypatch):
    """Guard (passed before): a SIGTERM to `srmat edges train` is told as a SIGTERM, not
    as a Ctrl-C, the epoch it was in ends saved, and the exit code is EXIT_TERMINATED."""
    out = tmp_path / "out"
    argv = ["edges", "train", "--data", _edges_data(tmp_path), "--out", str(out), "--epochs",
            "2", "--steps-per-epoch", "1", "--batch-size", "1", "--crop", "128",
            "--device", "cpu", "--threads", "1"]
    assert _terminated(monkeypatch, argv, 1) == cli.EXIT_TERMINATED
    err = capsys.readouterr().err.splitlines()
    assert f"srmat edges train: note: {SIGTERM_STOPPING}" in err
    assert not any("Ctrl-C:" in line for line in err), err
    assert err[-1] == (f"srmat edges train: interrupted (stopped in epoch 2/2 before step "
                       f"1/1; {out / 'last'} holds epoch 1; rerun it with --resume to "
                       f"continue after epoch 1 ({out / 'last'}))")


def test_a_replaced_run_s_state_is_not_offered_to_resume(tmp_path, capsys, monkeypatch):
    """`srmat sr train --overwrite` into a folder of an earlier run (other settings), a
    second Ctrl-C while its data load (nothing of this run saved): the line read the
    earlier run's train_state and said 'rerun it with --resume to continue from step 3',
    a resume of the run the command was replacing, with other settings (failed before:
    that line). The record counts only where this run wrote it, or resumes it."""
    out = tmp_path / "ck"
    argv = ["sr", "train", "--synthetic", "1", "--model", "cnn", "--scale", "2",
            "--train-steps", "3", "--batch-size", "1", "--patch", "16", "--out", str(out),
            "--threads", "1", "--device", "cpu"]
    assert cli.main(argv) == 0 and _state_step(out) == 3
    capsys.readouterr()

    def pressed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sr_train, "_synthetic_images", pressed)
    new = [*argv[:7], "4", *argv[8:], "--overwrite"]  # x4 now
    assert cli.main(new) == cli.EXIT_INTERRUPTED
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == ("srmat sr train: interrupted (nothing resumable was kept: rerun it "
                       "with --overwrite (without --resume) to start over)"), err
    monkeypatch.undo()  # a resumed run stopped before its first step: the state it
    _sigint_at(monkeypatch, 3)  # resumed, unchanged, is offered again
    assert cli.main([*argv, "--train-steps", "5", "--resume"]) == cli.EXIT_INTERRUPTED
    assert capsys.readouterr().err.splitlines()[-1].endswith(
        f"rerun it with --resume to continue from step 3 ({out / 'train_state'}))")


def _edges_data(tmp_path):
    from PIL import Image

    root = tmp_path / "d" / "train"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    _png(root / "images" / "r0.png", (128, 128, 3))
    mask = np.zeros((128, 128), np.uint8)
    mask[::16], mask[:, ::16] = 255, 255
    Image.fromarray(mask).save(root / "masks" / "r0.png")
    return str(tmp_path / "d")


def test_sr_train_s_writer_loader_and_stop_line_follow_one_resume_record(tmp_path,
                                                                         monkeypatch):
    """Where an SR run's resume point lies was written in three places: RESUME_RECORD
    (what a Ctrl-C's line promises), the state's writer and loader and _earlier_run
    (each reading train_state/config.json["step"] itself). They now all follow
    RESUME_RECORD: with its key changed, the line, the earlier run's summary and the
    resume still agree (failed before: the line found no record, point() None)."""
    from dataclasses import replace

    monkeypatch.setattr(sr_train, "RESUME_RECORD",
                        replace(sr_train.RESUME_RECORD, key="resume_step"))
    cfg = _cfg(tmp_path, "ck", steps=3)
    run_job(train_sr_job(cfg), quiet=True)
    out = tmp_path / "ck"
    assert sr_train.RESUME_RECORD.point(out) == (out / "train_state", "from step 3")
    assert sr_train._earlier_run(out).startswith("3 steps")
    events = []
    run_job(train_sr_job(dict(cfg, resume=True, steps=4)), quiet=True,
            on_event=events.append)
    assert f"resumed from {out / 'train_state'} at step 3" in [
        getattr(e, "message", None) for e in events]


def test_edges_train_s_writer_loader_and_stop_line_follow_one_resume_record(tmp_path,
                                                                            monkeypatch):
    """The edges counterpart: RESUME_RECORD named last/training_state.json["epoch"] for
    the Ctrl-C line while the writer, the loader and _earlier_run named it themselves.
    With its key changed they still agree (failed before: point() None)."""
    from dataclasses import replace

    from napari_srmat.edges import train as edges_train

    monkeypatch.setattr(edges_train, "RESUME_RECORD",
                        replace(edges_train.RESUME_RECORD, key="epoch_done"))
    out = tmp_path / "out"
    cfg = dict(data_root=_edges_data(tmp_path), out=str(out), epochs=1, steps_per_epoch=1,
               batch_size=1, crop=128, device="cpu", num_threads=1)
    run_job(edges_train.train_boundaries_job(cfg), quiet=True)
    assert edges_train.RESUME_RECORD.point(out) == (out / "last", "after epoch 1")
    assert edges_train._earlier_run(out).startswith("1 epoch")
    events = []
    run_job(edges_train.train_boundaries_job(dict(cfg, epochs=2, resume=True)), quiet=True,
            on_event=events.append)
    assert f"resumed from {out / 'last'} after epoch 1" in [
        getattr(e, "message", None) for e in events]


def _files(out, names) -> dict:
    """The bytes of every file of the folders ``names`` of ``out`` (None: missing)."""
    return {n: ({p.name: p.read_bytes() for p in sorted((out / n).iterdir())}
                if (out / n).is_dir() else None) for n in names}


def _stopped_at_once(job_cfg, job=train_sr_job):
    """Run ``job(job_cfg)`` with a stop asked before it starts: ``(events, result)``."""
    token = jobs.StopToken()
    token.request_stop()
    events = []
    result = run_job(job(job_cfg, stop=token), quiet=True, on_event=events.append)
    return events, result


SR_RUN_FOLDERS = ("train_state", "last", "best")


def test_sr_train_stopped_before_its_first_step_saves_nothing(tmp_path):
    """A run stopped before its first step (a Stop or Ctrl-C while its data loaded) saved
    a 'step 0' train_state, last and best (untrained weights as the best model), said
    'checkpoint in OUT/last', and a rerun with --resume said 'resumed at step 0'; into
    an earlier run's folder (overwrite) they replaced that run's checkpoints with
    nothing trained (failed before: train_state written). It now saves nothing: a new
    run's folder holds no checkpoint, an earlier run's are left as they were, and a
    fine-tune does not validate its starting point first."""
    out = tmp_path / "new"
    events, result = _stopped_at_once(_cfg(tmp_path, "new"))
    assert result["stopped"] and result["step"] == 0
    assert _files(out, SR_RUN_FOLDERS) == dict.fromkeys(SR_RUN_FOLDERS)
    assert result["last"] is None and result["best"] is None
    assert not any(isinstance(e, jobs.Checkpoint) for e in events)
    assert events[-1] == jobs.Stopped("training stopped before its first step; nothing "
                                      "was saved")
    assert sr_train.RESUME_RECORD.point(out) is None and sr_train._earlier_run(out) is None
    # an earlier run's folder, replaced (overwrite) or resumed: left as it was
    earlier = _cfg(tmp_path, "earlier", steps=2)
    run_job(train_sr_job(earlier), quiet=True)
    before = _files(tmp_path / "earlier", SR_RUN_FOLDERS)
    for again in (dict(earlier, seed=5, overwrite=True), dict(earlier, steps=4, resume=True)):
        events, result = _stopped_at_once(again)
        assert _files(tmp_path / "earlier", SR_RUN_FOLDERS) == before
        assert not any(isinstance(e, jobs.Checkpoint) for e in events)
    # resumed: its own state is where it stands
    assert result["last"] == str(tmp_path / "earlier" / "last") and result["step"] == 2
    # a fine-tune: its starting point is neither validated nor saved as best
    events, result = _stopped_at_once(_cfg(
        tmp_path, "tune", init_checkpoint=str(tmp_path / "earlier" / "last"),
        val=str(tmp_path / "hr")))
    assert _files(tmp_path / "tune", SR_RUN_FOLDERS) == dict.fromkeys(SR_RUN_FOLDERS)
    assert not any(isinstance(e, jobs.Metric) and "psnr" in e.values for e in events)


def test_edges_train_stopped_before_its_first_step_saves_nothing(tmp_path):
    """The edges counterpart (checked: it already saved nothing, its state is written at
    an epoch's end): a new run's folder holds no checkpoint, a resumed run's last is as
    it was."""
    from napari_srmat.edges.train import train_boundaries_job

    out = tmp_path / "out"
    cfg = dict(data_root=_edges_data(tmp_path), out=str(out), epochs=1, steps_per_epoch=1,
               batch_size=1, crop=128, device="cpu", num_threads=1)
    folders = ("last", "best", "top", "history.json")
    events, result = _stopped_at_once(cfg, train_boundaries_job)
    assert result.stopped and result.epochs_done == 0 and result.best_checkpoint is None
    assert not any((out / n).exists() for n in folders)
    run_job(train_boundaries_job(cfg), quiet=True)
    before = _files(out, ("last", "best"))
    events, result = _stopped_at_once(dict(cfg, epochs=2, resume=True), train_boundaries_job)
    assert result.stopped and _files(out, ("last", "best")) == before
    assert events[-1].message.endswith(f"{out / 'last'} holds epoch 1")


def _val_psnrs(events) -> dict:
    """``{step: psnr}`` of the validations among ``events``."""
    return {e.step: e.values["psnr"] for e in events
            if isinstance(e, jobs.Metric) and e.split == "val" and "psnr" in e.values}


def _best(out) -> tuple:
    config = json.loads((out / "best" / "config.json").read_text())
    return config["training"]["step"], _weights(out / "best")


def _best_writes(events) -> list:
    """The steps whose model was written as ``best`` among ``events``."""
    return [e.step for e in events
            if isinstance(e, jobs.Checkpoint) and Path(e.path).name == "best"]


@pytest.mark.parametrize("at", ["progress", "validating", "saving best", "metric"])
def test_sr_train_interrupted_at_a_validation_validates_it_on_resume(tmp_path, monkeypatch,
                                                                     at):
    """A KeyboardInterrupt at step 3, whose validation was due (val_every 3): at its
    Progress event, during the validation itself, or at its Metric (before ``best`` was
    written). The handler saved the state at step 3 and the resume went on from there:
    step 3 was never validated (its PSNR lost) or, interrupted at the Metric, never
    considered for ``best`` (failed before: no validation of step 3 on resume; best of
    step 6 where the uninterrupted run's was step 3's). The state now records the step
    last validated; a resume validates the step it starts from when it was due and
    not done, and ends as the uninterrupted run (same PSNRs, same best). Interrupted
    while writing ``best`` (its PSNR better): the state kept that PSNR as the best
    while ``best/`` was not written, and the resume's validation did not beat it: no
    step 3's ``best/`` (failed before 'saving best': best written at step 6 only)."""
    cfg = _cfg(tmp_path, "whole", val=str(tmp_path / "hr"), val_every=3, max_val_images=1)
    whole = []
    run_job(train_sr_job(cfg), quiet=True, on_event=whole.append)
    assert sorted(_val_psnrs(whole)) == [3, 6]
    cut = dict(cfg, out=str(tmp_path / "cut"))
    if at == "validating":  # the first call validates bicubic, the second step 3
        calls, real = [], sr_train.evaluate_sr

        def interrupted(*args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                raise KeyboardInterrupt
            return real(*args, **kwargs)

        monkeypatch.setattr(sr_train, "evaluate_sr", interrupted)
    if at == "saving best":  # the first write of best/, step 3's
        from napari_srmat.sr import registry

        real_save = registry.save_model_checkpoint

        def save(model, path, **kwargs):
            if Path(path).name == "best":
                raise KeyboardInterrupt
            return real_save(model, path, **kwargs)

        monkeypatch.setattr(registry, "save_model_checkpoint", save)
    events = []
    gen = train_sr_job(cut)
    with pytest.raises(KeyboardInterrupt):
        for event in gen:
            events.append(event)
            if (at == "progress" and isinstance(event, Progress) and event.done == 3
                    or at == "metric" and _val_psnrs([event])):
                gen.throw(KeyboardInterrupt)
    monkeypatch.undo()
    out = tmp_path / "cut"
    assert _state_step(out) == 3
    if 3 in _val_psnrs(events):  # told: considered for best (the first: it is)
        assert _best(out)[0] == 3
    resumed = []
    run_job(train_sr_job(dict(cut, resume=True)), quiet=True, on_event=resumed.append)
    assert {**_val_psnrs(events), **_val_psnrs(resumed)} == _val_psnrs(whole)
    assert 3 not in _val_psnrs(events) or 3 not in _val_psnrs(resumed)  # validated once
    step, weights = _best(out)
    assert step == _best(tmp_path / "whole")[0]
    # each validation that improved wrote best/ (one told before the interrupt excepted)
    assert _best_writes(resumed) == [s for s in _best_writes(whole)
                                     if s not in _val_psnrs(events)]
    assert all(torch.equal(weights[k], v) for k, v in _best(tmp_path / "whole")[1].items())
    for name in ("train_state", "last"):
        assert _same_weights(tmp_path / "whole" / name, out / name), name


def test_sr_train_interrupted_at_its_last_validation_is_not_already_complete(tmp_path):
    """Interrupted at its last step, before the validation of that step: the resume with
    the same steps said 'already complete' and trained and validated nothing (failed
    before: AlreadyComplete, no validation). It now validates that step, then ends."""
    cfg = _cfg(tmp_path, "cut", val=str(tmp_path / "hr"), val_every=4, max_val_images=1)
    _interrupted_at(train_sr_job(cfg), 6, "job")
    assert _state_step(tmp_path / "cut") == 6
    events = []
    result = run_job(train_sr_job(dict(cfg, resume=True)), quiet=True, on_event=events.append)
    assert not any(isinstance(e, jobs.AlreadyComplete) for e in events)
    assert sorted(_val_psnrs(events)) == [6] and result["best_psnr"] == _val_psnrs(events)[6]
    assert _best(tmp_path / "cut")[0] == 6
    events = []  # validated now: a rerun is complete
    run_job(train_sr_job(dict(cfg, resume=True)), quiet=True, on_event=events.append)
    assert any(isinstance(e, jobs.AlreadyComplete) for e in events)
    assert not _val_psnrs(events)


def _edges_cfg(tmp_path, out, **kw):
    from test_edges_train import _arrays

    imgs, masks = _arrays(4)
    vimgs, vmasks = _arrays(2, seed=5)
    cfg = dict(train_images=imgs, train_masks=masks, val_images=vimgs, val_masks=vmasks,
               out=str(tmp_path / out), encoder="tiny", epochs=2, steps_per_epoch=3,
               batch_size=2, crop=32, lr=1e-3, device="cpu", num_threads=1,
               photometric_augment="gamma,noise")
    cfg.update(kw)
    return cfg


def _tensors(folder, name) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / name))


@pytest.mark.parametrize("done", [2, 4])  # in the first epoch, in the second
def test_edges_train_stopped_mid_epoch_resumes_at_the_step_it_reached(tmp_path, done):
    """A run stopped mid-epoch kept nothing of that epoch (its state was written at an
    epoch's end) and the resume trained the whole epoch again (failed before: the
    resume's first Progress at the epoch's start, 0 or 3 of 6). Its state now holds the
    steps done in the epoch, their losses and the random generators' states: the resume
    trains the steps left only, on the same crops, and ends as the uninterrupted run
    (same history, same weights), its line and its earlier-run summary saying where."""
    from napari_srmat.edges import train as edges_train

    job = edges_train.train_boundaries_job
    whole = run_job(job(_edges_cfg(tmp_path, "whole")), quiet=True)
    cfg = _edges_cfg(tmp_path, "cut")
    token = jobs.StopToken()
    events = []

    def on_event(event):
        events.append(event)
        if isinstance(event, Progress) and event.done == done:
            token.request_stop()

    cut = run_job(job(cfg, stop=token), quiet=True, on_event=on_event)
    out = tmp_path / "cut"
    epoch, step = divmod(done, 3)  # 0-based epoch, steps done in it
    assert cut.stopped and events[-1].message == (
        f"stopped in epoch {epoch + 1}/2 before step {step + 1}/3; {out / 'last'} holds "
        + (f"epoch {epoch} and " if epoch else "") + f"{step} step{'s' * (step > 1)} of "
        f"epoch {epoch + 1}")
    assert edges_train.RESUME_RECORD.point(out) == (
        out / "last", f"after step {step} of epoch {epoch + 1}")
    resumed = []
    result = run_job(job(dict(cfg, resume=True)), quiet=True, on_event=resumed.append)
    progress = [e for e in resumed if isinstance(e, Progress)]
    assert progress[0] == Progress(done, 6, "steps", resumed=done)
    assert [e.done for e in progress[1:]] == list(range(done + 1, 7))
    assert f"resumed from {out / 'last'} at step {step + 1} of epoch {epoch + 1}" in [
        getattr(e, "message", None) for e in resumed]
    _same_edges_run(tmp_path, whole, result, out)


def test_edges_train_stopped_mid_epoch_resumes_on_another_device(tmp_path):
    """A run stopped mid-epoch on one kind of device and resumed on another (device may
    change on resume): torch's generator state of a GPU (16 bytes) does not fit the
    CPU's; it is left, with a warning, and the resume trains the steps left."""
    from napari_srmat.edges import train as edges_train

    cfg = _edges_cfg(tmp_path, "cut")
    token = jobs.StopToken()
    run_job(edges_train.train_boundaries_job(cfg, stop=token), quiet=True,
            on_event=lambda e: isinstance(e, Progress) and e.done == 4
            and token.request_stop())
    state_file = tmp_path / "cut" / "last" / "training_state.json"
    state = json.loads(state_file.read_text())
    state["torch_rng"] = {"device": "cuda", "state": list(range(16))}
    state_file.write_text(json.dumps(state))
    events = []
    result = run_job(edges_train.train_boundaries_job(dict(cfg, resume=True)), quiet=True,
                     on_event=events.append)
    assert not result.stopped and len(result.history) == 2
    assert any(getattr(e, "level", None) == "warning" and "stopped on a cuda device"
               in e.message for e in events)


@pytest.mark.parametrize("pretrain", [0, 1])
def test_edges_train_stopped_mid_epoch_is_not_complete_with_fewer_epochs(tmp_path, pretrain):
    """A run stopped part-way through its last epoch, resumed with epochs that end before
    that epoch (as many as it finished), said 'already complete' (failed before: no
    error), its last/ holding weights from part-way through an epoch, not a finished
    run's. It is refused in one line naming the epoch and step it stopped at and the
    epochs that finish it (counted as --epochs counts, without pretraining), nothing in
    the folder changed; resumed with them, it finishes that epoch."""
    from napari_srmat.edges import train as edges_train

    job = edges_train.train_boundaries_job
    cfg = _edges_cfg(tmp_path, "cut", pretrain_synthetic=2 * pretrain,
                     pretrain_epochs=pretrain)
    token = jobs.StopToken()
    done = 3 * (1 + pretrain) + 1  # one step of the last epoch
    run_job(job(cfg, stop=token), quiet=True, on_event=lambda e: isinstance(e, Progress)
            and e.done == done and token.request_stop())
    out = tmp_path / "cut"
    before = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    events = []
    with pytest.raises(ValueError) as caught:
        run_job(job(dict(cfg, epochs=1, resume=True)), quiet=True, on_event=events.append)
    told = (f"epoch {2 + pretrain}" if not pretrain
            else "epoch 3 (labelled epoch 2, after 1 pretraining epoch)")
    assert str(caught.value) == (
        f"cannot resume {out}: it stopped in {told} after step 1 ({out / 'last'} holds "
        "part of that epoch, not a finished run) and the run asks for 1 epoch; pass "
        "epochs=2 or more to finish it")
    assert "pass --epochs 2 or more" in caught.value.cli_message
    assert "set 'Epochs' to 2 or more" in caught.value.gui_message
    assert not any(isinstance(e, (jobs.AlreadyComplete, Progress)) for e in events)
    assert {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == before
    result = run_job(job(dict(cfg, resume=True)), quiet=True)
    assert not result.stopped and len(result.history) == 2 + pretrain


def test_edges_train_interrupted_at_a_validation_redoes_it_on_resume(tmp_path):
    """Checked (passed before): a KeyboardInterrupt at epoch 2's validation Metric: the
    resume ends as the uninterrupted run. (Until 2026-12-06 the epoch's events came
    before its state was written, and the resume trained that epoch again; they are
    told after it now: test_edges_train_interrupted_at_an_epoch_s_metric_keeps_the_epoch.)"""
    from napari_srmat.edges import train as edges_train

    job = edges_train.train_boundaries_job
    whole = run_job(job(_edges_cfg(tmp_path, "whole", top_k=1)), quiet=True)
    cfg = _edges_cfg(tmp_path, "cut", top_k=1)
    gen = job(cfg)
    with pytest.raises(KeyboardInterrupt):
        for event in gen:
            if isinstance(event, jobs.Metric) and event.step == 1 and event.split == "val":
                gen.throw(KeyboardInterrupt)
    result = run_job(job(dict(cfg, resume=True)), quiet=True)
    strip = [{k: v for k, v in h.items() if k != "elapsed_s"} for h in result.history]
    assert strip == [{k: v for k, v in h.items() if k != "elapsed_s"} for h in whole.history]
    assert result.best_val_ap == whole.best_val_ap
    for folder in ("last", "best"):
        a = _tensors(tmp_path / "whole" / folder, "model.safetensors")
        b = _tensors(tmp_path / "cut" / folder, "model.safetensors")
        assert all(torch.equal(a[k], b[k]) for k in a), folder
    assert sorted(p.name for p in (tmp_path / "cut" / "top").iterdir()) == sorted(
        p.name for p in (tmp_path / "whole" / "top").iterdir())


def test_sr_train_a_resume_stopped_at_once_leaves_its_validation_to_the_next(tmp_path):
    """A resume whose step awaits its validation, stopped before it began: it validated
    and saved anyway (failed before: a val Metric and a Checkpoint); it now leaves the
    state as it was, for the next resume to validate."""
    cfg = _cfg(tmp_path, "cut", val=str(tmp_path / "hr"), val_every=3, max_val_images=1)
    _interrupted_at(train_sr_job(cfg), 3, "job")
    before = _files(tmp_path / "cut", SR_RUN_FOLDERS)
    events, result = _stopped_at_once(dict(cfg, resume=True))
    assert not _val_psnrs(events) and not any(isinstance(e, jobs.Checkpoint) for e in events)
    assert _files(tmp_path / "cut", SR_RUN_FOLDERS) == before
    assert events[-1].message == "training stopped before its first step; nothing was saved"
    resumed = []
    run_job(train_sr_job(dict(cfg, resume=True)), quiet=True, on_event=resumed.append)
    assert sorted(_val_psnrs(resumed)) == [3, 6]


def test_trained_checkpoint_of_a_run_that_trained_nothing_is_one_error(tmp_path):
    """A run whose time limit is reached before its first step names no checkpoint
    (645235a5); the scripts and studies passed that None to load_model, which loaded the
    shipped default model and evaluated or installed it as the trained one. They take the
    folder through trained_checkpoint now, which refuses it in one line (new). The
    warning said 'time limit 0 s' for a limit under a second (failed before: '0 s')."""
    from napari_srmat.sr.base import SRError

    events = []
    result = run_job(train_sr_job(_cfg(tmp_path, "out", time_limit_s=0.001)), quiet=True,
                     on_event=events.append)
    assert result["step"] == 0 and result["best"] is None and result["last"] is None
    assert "time limit 0.001 s reached at step 0" in [
        getattr(e, "message", None) for e in events]
    for which in ("best", "last"):
        with pytest.raises(SRError, match=f"wrote no '{which}' checkpoint"):
            sr_train.trained_checkpoint(result, which)
    assert sr_train.trained_checkpoint({"best": tmp_path, "last": None}) == str(tmp_path)


def _slow_start_validation(monkeypatch, seconds: float) -> None:
    """Make each validation of the model (not the bicubic baseline's) last ``seconds``."""
    import time

    evaluate = sr_train.evaluate_sr

    def slow(model, *args, **kwargs):
        if getattr(model, "name", None) != "bicubic":
            time.sleep(seconds)
        return evaluate(model, *args, **kwargs)

    monkeypatch.setattr(sr_train, "evaluate_sr", slow)


@pytest.mark.parametrize("limit", [1e-6, "during"])
def test_sr_fine_tune_whose_time_limit_ends_before_its_first_step_saves_nothing(
        tmp_path, monkeypatch, capsys, limit):
    """A fine-tune with validation images validated its starting point and wrote it as
    OUT/best before its first step, even when --time-limit then ended the run there
    (645235a5 saved nothing only for a Stop): a new folder held best/ while the CLI said
    'nothing was trained or saved', --overwrite over an earlier run replaced that run's
    best/ by the starting weights (its train_state/ and last/ kept: a resume went on with
    a foreign best), and trained_checkpoint named the untrained weights (failed before).
    Now the starting point is kept in memory, the best to beat, and written with the first
    trained step; a limit already reached skips its validation."""
    earlier = _cfg(tmp_path, "earlier", steps=2, val=str(tmp_path / "hr"), val_every=1)
    run_job(train_sr_job(earlier), quiet=True)
    before = _files(tmp_path / "earlier", SR_RUN_FOLDERS)
    start = str(tmp_path / "earlier" / "last")
    if limit == "during":  # reached in the starting point's validation
        limit = 1.0
        _slow_start_validation(monkeypatch, limit)
    for cfg in (_cfg(tmp_path, "tune", init_checkpoint=start, val=str(tmp_path / "hr"),
                     time_limit_s=limit),
                dict(earlier, overwrite=True, init_checkpoint=start, time_limit_s=limit)):
        events = []
        result = run_job(train_sr_job(cfg), quiet=True, on_event=events.append)
        assert result["step"] == 0 and result["best"] is None and result["last"] is None
        assert not any(isinstance(e, jobs.Checkpoint) for e in events)
        with pytest.raises(sr_train.SRError, match="wrote no 'best' checkpoint"):
            sr_train.trained_checkpoint(result)
    assert _files(tmp_path / "tune", SR_RUN_FOLDERS) == dict.fromkeys(SR_RUN_FOLDERS)
    assert _files(tmp_path / "earlier", SR_RUN_FOLDERS) == before
    # the command: one error line, no checkpoint written
    capsys.readouterr()
    assert cli.main(["sr", "train", "--data", str(tmp_path / "hr"), "--val",
                     str(tmp_path / "hr"), "--out", str(tmp_path / "tune2"), "--model",
                     "cnn", "--scale", "2", "--train-steps", "6", "--batch-size", "2",
                     "--patch", "16", "--init-checkpoint", start, "--time-limit",
                     f"{limit:g}", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "a fine-tune's validation of its starting point" in err
    assert _files(tmp_path / "tune2", SR_RUN_FOLDERS) == dict.fromkeys(SR_RUN_FOLDERS)


def test_sr_fine_tune_writes_its_starting_point_as_best_with_its_first_step(
        tmp_path, monkeypatch):
    """The starting point kept in memory is written as OUT/best once a step is trained,
    the validations after it not beating it (as before the fix)."""
    run_job(train_sr_job(_cfg(tmp_path, "earlier", steps=2)), quiet=True)
    start = tmp_path / "earlier" / "last"
    psnrs = iter([30.0, 20.0, 20.0])  # the start's validation, then steps 1 and 2

    def evaluate(model, *args, **kwargs):
        bicubic = getattr(model, "name", None) == "bicubic"
        return {"psnr": 10.0 if bicubic else next(psnrs), "ssim": 0.5}

    monkeypatch.setattr(sr_train, "evaluate_sr", evaluate)
    events = []
    result = run_job(train_sr_job(_cfg(tmp_path, "tune", init_checkpoint=str(start),
                                       val=str(tmp_path / "hr"), val_every=1, steps=2)),
                     quiet=True, on_event=events.append)
    assert result["best_psnr"] == 30.0 and result["best"] == str(tmp_path / "tune" / "best")
    best = [e for e in events if isinstance(e, jobs.Checkpoint) and e.path == result["best"]]
    assert [(e.step, e.score) for e in best] == [(0, 30.0)]
    assert _same_weights(tmp_path / "tune" / "best", start)
    assert not _same_weights(tmp_path / "tune" / "last", start)


def test_edges_mid_epoch_state_keeps_the_generator_an_mps_run_draws_from(monkeypatch):
    """An ``mps`` run's loss draws its noise from the MPS generator; the mid-epoch state
    kept the CPU's as if it were that one (failed before: device 'cpu'), so a resume on
    MPS restored a generator nothing draws from and silently drew other noise. It now
    keeps and restores the MPS generator's, and another kind's is told apart."""
    from napari_srmat.edges import train as edges_train

    restored = []
    monkeypatch.setattr(torch.mps, "get_rng_state",
                        lambda *a: torch.tensor([7, 8], dtype=torch.uint8))
    monkeypatch.setattr(torch.mps, "set_rng_state", lambda state, *a: restored.append(state))
    saved = edges_train._torch_rng_state("mps")
    assert saved == {"device": "mps", "state": [7, 8]}
    assert edges_train._set_torch_rng_state(saved, "mps") and restored[0].tolist() == [7, 8]
    cpu = edges_train._torch_rng_state("cpu")
    assert cpu["device"] == "cpu" and not edges_train._set_torch_rng_state(cpu, "mps")
    assert not edges_train._set_torch_rng_state(saved, "cpu")


class _CountingScaler:
    """A stand-in for torch's GradScaler, enabled on the CPU: counts its updates."""

    def __init__(self, *args, **kwargs):
        self.updates = 0

    def is_enabled(self):
        return True

    def scale(self, loss):
        return loss

    def unscale_(self, opt):
        pass

    def step(self, opt):
        opt.step()

    def update(self):
        self.updates += 1

    def get_scale(self):  # never backed off: no step skipped
        return 1024.0

    def state_dict(self):
        return {"scale": self.get_scale(), "_growth_tracker": self.updates}

    def load_state_dict(self, state):
        self.updates = state["_growth_tracker"]


@pytest.mark.parametrize("done", [3, 4])  # at an epoch's end, mid-epoch
def test_edges_train_resume_keeps_the_mixed_precision_loss_scale(tmp_path, monkeypatch,
                                                                  done):
    """With AMP (a CUDA run's default) the GradScaler's scale and growth count were kept
    in no state: every resume started again from 65536 and skipped the steps whose
    gradients overflowed there, which an uninterrupted run did not (failed before: no
    'scaler' in the state). The state now keeps it and a resume with AMP restores it:
    checked on the CPU with a stand-in scaler that counts its updates."""
    from napari_srmat.edges import train as edges_train

    monkeypatch.setattr(torch.amp, "GradScaler", _CountingScaler)
    job = edges_train.train_boundaries_job
    run_job(job(_edges_cfg(tmp_path, "whole")), quiet=True)
    cfg = _edges_cfg(tmp_path, "cut")
    token = jobs.StopToken()
    run_job(job(cfg, stop=token), quiet=True, on_event=lambda e: isinstance(e, Progress)
            and e.done == done and token.request_stop())
    run_job(job(dict(cfg, resume=True)), quiet=True)
    states = [json.loads((tmp_path / out / "last" / "training_state.json").read_text())
              for out in ("whole", "cut")]
    assert states[0]["scaler"] == states[1]["scaler"] == {"scale": 1024.0,
                                                         "_growth_tracker": 6}


def _same_edges_run(tmp_path, whole, result, out) -> None:
    """``result`` (a resumed run into ``out``) ends as the uninterrupted ``whole``."""
    strip = [{k: v for k, v in h.items() if k != "elapsed_s"} for h in result.history]
    assert strip == [{k: v for k, v in h.items() if k != "elapsed_s"} for h in whole.history]
    for folder, name in (("last", "model.safetensors"), ("last", "ema.safetensors"),
                         ("best", "model.safetensors")):
        a, b = _tensors(tmp_path / "whole" / folder, name), _tensors(out / folder, name)
        assert all(torch.equal(a[k], b[k]) for k in a), (folder, name)


@pytest.mark.parametrize("done, where", [(3, "job"), (4, "job"),  # before epoch 1's
                                         (4, "caller")])  # validation, mid-epoch 2
def test_edges_train_interrupted_between_steps_keeps_the_epoch_s_steps(tmp_path, done,
                                                                       where):
    """A KeyboardInterrupt between two steps (a notebook's Ctrl-C; a second Ctrl-C where
    the first asked the job to stop) kept nothing of the epoch it was in, while `srmat
    sr train` keeps its steps (failed before: the state said 'after epoch 1', or held
    nothing). The steps done are now kept, as by a stop, the interrupt then goes on; the
    resume trains the steps left (none: it validates the epoch) and ends as the
    uninterrupted run. One that lands in run_job's caller (its on_event: a live plot)
    left the job paused, closed later, and kept nothing (failed before, "caller": 'after
    epoch 1'); run_job throws it into the job. (A close of the paused job, with no
    interrupt, keeps nothing: a kill's.)"""
    from napari_srmat.edges import train as edges_train

    job = edges_train.train_boundaries_job
    whole = run_job(job(_edges_cfg(tmp_path, "whole")), quiet=True)
    cfg = _edges_cfg(tmp_path, "cut")
    _interrupted_at(job(cfg), done, where)
    out = tmp_path / "cut"
    epoch, step = divmod(done - 1, 3)
    assert edges_train.RESUME_RECORD.point(out) == (
        out / "last", f"after step {step + 1} of epoch {epoch + 1}")
    events = []
    result = run_job(job(dict(cfg, resume=True)), quiet=True, on_event=events.append)
    assert [e.done for e in events if isinstance(e, Progress)] == list(range(done, 7))
    where = (f"step {step + 2} of epoch {epoch + 1}" if step + 1 < 3
             else f"the validation of epoch {epoch + 1}")
    assert f"resumed from {out / 'last'} at {where}" in [
        getattr(e, "message", None) for e in events]
    _same_edges_run(tmp_path, whole, result, out)


def test_edges_train_second_ctrl_c_in_its_stop_s_write_keeps_the_epoch_s_steps(
        tmp_path, monkeypatch):
    """A Ctrl-C asks the job to stop; it writes the epoch's steps at its next step; a
    second Ctrl-C during that write lost them: the write, atomic, left the state of the
    epoch before, and the interrupt went on (failed before: 'after epoch 1'). The state
    is now written again (whole, swapped in), then the interrupt goes on; nothing of the
    interrupted write is left, and the resume ends as the uninterrupted run."""
    from napari_srmat import checkpoint
    from napari_srmat.edges import train as edges_train

    job = edges_train.train_boundaries_job
    whole = run_job(job(_edges_cfg(tmp_path, "whole")), quiet=True)
    cfg = _edges_cfg(tmp_path, "cut")
    real, pressed = checkpoint.write_safetensors, []

    def write(path, tensors, *args, **kwargs):  # the second Ctrl-C, once, mid-write
        if Path(path).name == checkpoint.OPTIMIZER_STATE_NAME and token.stop_requested \
                and not pressed:
            pressed.append(path)
            raise KeyboardInterrupt
        return real(path, tensors, *args, **kwargs)

    monkeypatch.setattr(checkpoint, "write_safetensors", write)
    token = jobs.StopToken()
    gen = job(cfg, stop=token)
    with pytest.raises(KeyboardInterrupt):
        for event in gen:
            if isinstance(event, Progress) and event.done == 4:
                token.request_stop()
    assert pressed
    out = tmp_path / "cut"
    assert edges_train.RESUME_RECORD.point(out) == (out / "last", "after step 1 of epoch 2")
    assert [p.name for p in out.iterdir() if p.name.endswith((".partial", ".old"))] == []
    monkeypatch.undo()
    result = run_job(job(dict(cfg, resume=True)), quiet=True)
    _same_edges_run(tmp_path, whole, result, out)


def _broken_state(state: dict, how: str) -> dict | list:
    """``state`` (an edges mid-epoch training state) made unusable by ``how``."""
    if how == "torch_rng list":  # as written between 22b788cb and f22e93c7
        return {**state, "torch_rng": state["torch_rng"]["state"]}
    if how.startswith("no "):
        return {k: v for k, v in state.items() if k != how[3:]}
    if how == "epoch text":
        return {**state, "epoch": "one"}
    if how == "top ints":
        return {**state, "top": [1]}
    if how.startswith("epoch_steps "):  # its losses name steps it does not hold
        return {**state, "epoch_steps": {"text": "1", "negative": -1}[how.split()[1]]}
    if how == "rng of another kind":
        return {**state, "rng": {"bit_generator": "MT19937"}}
    if how == "a list":
        return [state]
    assert how == "not JSON"
    return None


@pytest.mark.parametrize("how", ["torch_rng list", "no epoch_losses", "no optimizer_shapes",
                                 "no epoch", "epoch text", "top ints",
                                 "rng of another kind", "a list", "not JSON",
                                 "ema.safetensors cut", "optimizer.safetensors cut",
                                 "epoch_steps text", "epoch_steps negative"])
def test_srmat_edges_train_resume_of_a_malformed_state_is_refused_in_one_line(
        tmp_path, capsys, how):
    """A training state of another shape than this version writes (a mid-epoch state
    written between 22b788cb and f22e93c7 keeps `torch_rng` as a list; a key missing, a
    value of another type, a file that is no JSON object, a tensor file cut short) failed
    its resume with a traceback (AttributeError, KeyError, TypeError) or a line naming
    neither the file nor what to do (failed before). It is refused in one line naming the
    file and how to start over, exit 2, the folder unchanged; rerun with --overwrite
    (without --resume), it trains anew. A wrong 'epoch_steps' (a string, a negative
    number) was told as its 'epoch_losses' (failed before); it is named itself."""
    from napari_srmat.edges import train as edges_train

    out = tmp_path / "out"
    data = _edges_data(tmp_path)
    argv = ["edges", "train", "--data", data, "--out", str(out), "--epochs", "2",
            "--steps-per-epoch", "2", "--batch-size", "1", "--crop", "128", "--device",
            "cpu", "--threads", "1"]
    token = jobs.StopToken()  # stopped after one step of epoch 2: a mid-epoch state
    run_job(edges_train.train_boundaries_job(dict(
        data_root=data, out=str(out), epochs=2, steps_per_epoch=2, batch_size=1, crop=128,
        device="cpu", num_threads=1), stop=token), quiet=True,
        on_event=lambda e: isinstance(e, Progress) and e.done == 3 and token.request_stop())
    state_file = out / "last" / "training_state.json"
    if how.endswith(".safetensors cut"):  # a file of the state's tensors cut short
        state_file = out / "last" / how.split()[0]
        state_file.write_bytes(state_file.read_bytes()[:100])
    else:
        broken = _broken_state(json.loads(state_file.read_text()), how)
        state_file.write_text("{'epoch': 0" if broken is None else json.dumps(broken))
    before = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    capsys.readouterr()
    assert cli.main([*argv, "--resume"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count(": error: ") == 1, err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"srmat edges train: error: cannot resume {state_file}: "), err
    assert line.endswith("; rerun without --resume and with --overwrite to start over, "
                         "or choose a new output folder"), err
    if how.startswith("epoch_steps "):
        kind = "a JSON string" if how.endswith("text") else "a JSON number"
        assert f": its 'epoch_steps' ({kind}) is not a number of steps of its epoch " in line
    assert {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == before
    assert cli.main([*argv, "--overwrite"]) == 0
    assert edges_train.RESUME_RECORD.point(out) == (out / "last", "after epoch 2")


def test_edges_resume_keeps_the_optimiser_step_count_where_torch_keeps_it():
    """The optimiser's state loaded on resume went whole to the weights' device, its step
    count too, which torch's AdamW (neither fused nor capturable) keeps on the CPU: on a
    GPU every step of a resumed run then read each weight's count back from the device
    (two host syncs per weight tensor per step; an uninterrupted run does none). Checked
    with the 'meta' device standing in for a GPU (failed before: the step on 'meta'):
    the moments go to the weights' device, the step stays on the CPU."""
    from napari_srmat.edges import train as edges_train

    weight = torch.nn.Parameter(torch.ones(3, 2))
    trained = torch.optim.AdamW([weight], lr=0.1)
    weight.grad = torch.ones(3, 2)
    trained.step()
    tensors, shapes = edges_train._optimizer_state_tensors(trained)
    on_device = torch.nn.Parameter(torch.empty(3, 2, device="meta"))
    resumed = torch.optim.AdamW([on_device], lr=0.1)
    edges_train._load_optimizer_state(resumed, tensors, shapes)
    state = resumed.state[on_device]
    assert state["step"].device.type == "cpu" and float(state["step"]) == 1.0
    assert {state[k].device.type for k in ("exp_avg", "exp_avg_sq")} == {"meta"}
    assert resumed.param_groups[0]["lr"] == 0.1


@pytest.mark.parametrize("change", [dict(steps_per_epoch=1),  # 2 steps kept of 3, now 1
                                    dict(photometric_augment="gamma,noise")],  # off, on
                         ids=["steps_per_epoch", "photometric"])
def test_edges_train_mid_epoch_state_resumed_with_other_settings_is_refused_as_such(
        tmp_path, change):
    """A good mid-epoch state resumed with another setting that shapes it (fewer steps an
    epoch than it holds; the photometric generator it has none of) was refused as
    malformed, with the advice to start over, which throws it away (failed before:
    "its 'epoch_steps' ... is not a number of steps of its epoch"; "its 'prng' ... is
    not the photometric generator's state"). It is refused as trained with other
    settings, resumable with its own; the folder unchanged."""
    from napari_srmat.edges import train as edges_train
    from napari_srmat.outputs import OutputMismatchError

    job = edges_train.train_boundaries_job
    cfg = _edges_cfg(tmp_path, "cut", photometric_augment=None)
    token = jobs.StopToken()
    run_job(job(cfg, stop=token), quiet=True, on_event=lambda e: isinstance(e, Progress)
            and e.done == 2 and token.request_stop())
    out = tmp_path / "cut"
    before = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    with pytest.raises(OutputMismatchError) as refused:
        run_job(job(dict(cfg, resume=True, **change)), quiet=True)
    assert str(refused.value).startswith(
        f"cannot resume {out / 'last'}: it was trained with other settings ("), refused.value
    assert "resume it with the same settings" in str(refused.value)
    assert {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == before
    result = run_job(job(dict(cfg, resume=True)), quiet=True)  # with its own: it resumes
    assert not result.stopped and edges_train.RESUME_RECORD.point(out) == (
        out / "last", "after epoch 2")


def test_srmat_edges_train_ctrl_c_whose_state_cannot_be_written_tells_both(
        tmp_path, capsys, monkeypatch):
    """A Ctrl-C between steps whose write of the epoch's steps fails (a disk full;
    weights no longer finite): the write's error replaced the interrupt, and srmat
    printed an error line, exit 1, instead of its interrupted line (failed before). The
    interrupt goes on (exit 130, its line), the failure told after it in a warning line
    naming what was not kept and why; the state is the epoch before's, whole."""
    import errno

    from napari_srmat.edges import train as edges_train

    out = tmp_path / "out"
    data = _edges_data(tmp_path)
    real_run_job, real_write, pressed = jobs.run_job, edges_train._write_last, []

    def on_event(event):  # a Ctrl-C in the caller's code: thrown into the job by run_job
        if isinstance(event, Progress) and event.done == 3 and not pressed:
            pressed.append(event)
            raise KeyboardInterrupt

    def write(out_dir, *args, **kwargs):
        if pressed:
            raise OSError(errno.ENOSPC, "No space left on device", str(out_dir / "last"))
        return real_write(out_dir, *args, **kwargs)

    monkeypatch.setattr(jobs, "run_job", lambda gen, **kw: real_run_job(
        gen, **dict(kw, on_event=on_event)))
    monkeypatch.setattr(edges_train, "_write_last", write)
    capsys.readouterr()
    assert cli.main(["edges", "train", "--data", data, "--out", str(out), "--epochs", "2",
                     "--steps-per-epoch", "2", "--batch-size", "1", "--crop", "128",
                     "--device", "cpu", "--threads", "1"]) == cli.EXIT_INTERRUPTED
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-2].startswith("srmat edges train: interrupted ("), err
    assert err[-1] == (f"srmat edges train: warning: 1 step of epoch 2 not kept in "
                       f"{out / 'last'}: {out / 'last'}: no space left on device (disk "
                       "full: free space; rerun it with --resume to continue after epoch 1 "
                       f"({out / 'last'}))"), err
    assert edges_train.RESUME_RECORD.point(out) == (out / "last", "after epoch 1")


def _ctrl_c_in_caller_at(monkeypatch, done: int) -> list:
    """A Ctrl-C in srmat's own code (its on_event: thrown into the job by run_job) at the
    job's ``Progress(done)``, once; the list it returns holds that event once pressed."""
    real_run_job, pressed = jobs.run_job, []

    def on_event(event):
        if isinstance(event, Progress) and event.done == done and not pressed:
            pressed.append(event)
            raise KeyboardInterrupt

    monkeypatch.setattr(jobs, "run_job", lambda gen, **kw: real_run_job(
        gen, **dict(kw, on_event=on_event)))
    return pressed


def test_srmat_sr_train_ctrl_c_whose_state_cannot_be_written_tells_both(
        tmp_path, capsys, monkeypatch):
    """A Ctrl-C between steps whose write of the steps fails (weights no longer finite;
    a disk full): the write's error replaced the interrupt, and srmat printed an error
    line, exit 2 (the diverged ValueError, a user error; a disk full's OSError: exit 1),
    with no resume hint (failed before). As srmat edges train (one rule,
    jobs.keep_at_interrupt): the interrupt goes on (exit 130, its line), the failure told
    after it in a warning line naming what was not kept and why; nothing was written."""
    from napari_srmat.device import diverged_error

    out = tmp_path / "out"
    real_check, pressed = sr_train.check_finite_weights, _ctrl_c_in_caller_at(monkeypatch, 3)

    def check(*models, step, **kwargs):
        if pressed:
            raise diverged_error("the model's weights", step=step)
        return real_check(*models, step=step, **kwargs)

    monkeypatch.setattr(sr_train, "check_finite_weights", check)
    capsys.readouterr()
    assert cli.main(["sr", "train", "--synthetic", "2", "--model", "cnn", "--scale", "2",
                     "--train-steps", "12", "--batch-size", "1", "--patch", "16", "--out",
                     str(out), "--threads", "1", "--device", "cpu"]) == cli.EXIT_INTERRUPTED
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-2].startswith("srmat sr train: interrupted"), err
    assert err[-1].startswith(f"srmat sr train: warning: 3 steps to step 3 not kept in "
                              f"{out / 'train_state'}: the training diverged at step 3"), err
    assert not (out / "train_state").exists()


@pytest.mark.parametrize("where", ["job", "caller"])
@pytest.mark.parametrize("split", ["train", "val"])
def test_edges_train_interrupted_at_an_epoch_s_metric_keeps_the_epoch(tmp_path, where,
                                                                     split):
    """A KeyboardInterrupt at epoch 1's Metric events (a Ctrl-C while srmat prints them;
    one in a notebook's live plot, which run_job throws into the job): they came after
    the validation, outside the rule that keeps the steps done, before the epoch's state
    was written: the epoch's steps and its validation were lost (failed before: no
    state). They are told once the epoch's state is written: it holds epoch 1, and the
    resume ends as the uninterrupted run."""
    from napari_srmat.edges import train as edges_train

    job = edges_train.train_boundaries_job
    whole = run_job(job(_edges_cfg(tmp_path, "whole")), quiet=True)
    cfg = _edges_cfg(tmp_path, "cut")
    gen = job(cfg)

    def at(event) -> bool:
        return isinstance(event, jobs.Metric) and event.step == 0 and event.split == split

    def on_event(event):
        if at(event):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        if where == "caller":
            run_job(gen, quiet=True, on_event=on_event)
        for event in gen:
            if at(event):
                gen.throw(KeyboardInterrupt)
    out = tmp_path / "cut"
    assert edges_train.RESUME_RECORD.point(out) == (out / "last", "after epoch 1")
    result = run_job(job(dict(cfg, resume=True)), quiet=True)
    _same_edges_run(tmp_path, whole, result, out)


def test_srmat_sr_train_ctrl_c_whose_last_cannot_be_written_tells_what_was_kept(
        tmp_path, capsys, monkeypatch):
    """A Ctrl-C at step 3 whose write of train_state succeeds and of last/ fails (a disk
    full): the warning said "3 steps to step 3 not kept in OUT/train_state" after an
    interrupted line pointing at that state (failed before). It now says the steps are
    kept there and last/ (the weights to run) was not written, and why; the resume of
    the folder continues from step 3 and ends as the uninterrupted run, last/ written."""
    import errno

    from napari_srmat.sr import registry

    args = ["sr", "train", "--synthetic", "2", "--model", "cnn", "--scale", "2",
            "--train-steps", "12", "--batch-size", "1", "--patch", "16", "--threads", "1",
            "--device", "cpu", "--out"]
    assert cli.main(args + [str(tmp_path / "whole")]) == 0
    out = tmp_path / "out"
    real_save, pressed = registry.save_model_checkpoint, _ctrl_c_in_caller_at(monkeypatch, 3)

    def save(model, path, **kwargs):
        if pressed and Path(path) == out / "last":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_save(model, path, **kwargs)

    monkeypatch.setattr(registry, "save_model_checkpoint", save)
    capsys.readouterr()
    assert cli.main(args + [str(out)]) == cli.EXIT_INTERRUPTED
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-2].startswith("srmat sr train: interrupted") and "step 3" in err[-2], err
    assert err[-1].startswith(
        f"srmat sr train: warning: the steps to step 3 are kept in {out / 'train_state'}; "
        f"{out / 'last'} (the weights to run) was not written: {out / 'last'}: no space "
        "left on device"), err
    assert _state_step(out) == 3 and not (out / "last").exists()
    monkeypatch.undo()
    assert cli.main(args + [str(out), "--resume"]) == 0
    assert f"resumed from {out / 'train_state'} at step 3" in capsys.readouterr().err
    assert _state_step(out) == 12
    for name in ("train_state", "last"):
        assert _same_weights(tmp_path / "whole" / name, out / name), name
