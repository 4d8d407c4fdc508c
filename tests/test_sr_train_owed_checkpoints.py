"""A finished SR training run resumed with nothing to train writes the checkpoints its
``train_state`` owes the folder (a Ctrl-C whose write of ``last/`` failed after the
state's), from the state, and nothing else."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _ctrl_c import python_ctrl_c  # noqa: E402,F401

from napari_srmat.jobs import Progress, run_job  # noqa: E402
from napari_srmat.outputs import OutputExistsError  # noqa: E402
from napari_srmat.sr import registry  # noqa: E402
from napari_srmat.sr.train import _ckpt_step, train_sr_job  # noqa: E402

STEPS = 6  # of the interrupted run
PRESSED_AT = 3  # the step of its Ctrl-C


def _cfg(out: Path, **kw) -> dict:
    cfg = dict(
        model="cnn",
        scale=2,
        out=str(out),
        synthetic=2,
        synthetic_size=64,
        steps=STEPS,
        batch_size=1,
        patch=16,
        arch={"n_feats": 4, "n_blocks": 1},
        val_every=1000,
        num_threads=1,
        device="cpu",
    )
    cfg.update(kw)
    return cfg


def _val_folder(folder: Path) -> str:
    from PIL import Image

    folder.mkdir()
    rng = np.random.default_rng(5)
    Image.fromarray((rng.random((32, 32, 3)) * 255).astype(np.uint8)).save(folder / "v.png")
    return str(folder)


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def _state_ema(out: Path) -> dict:
    return {k[4:]: v for k, v in _weights(out / "train_state").items() if k.startswith("ema.")}


def _state_step(out: Path) -> int:
    return json.loads((out / "train_state" / "config.json").read_text())["step"]


def _at_progress(event) -> bool:
    return isinstance(event, Progress) and event.done == PRESSED_AT


def _ctrl_c_then_last_disk_full(last: Path, at):
    """A checkpoint writer and an event hook: a Ctrl-C at the first event ``at`` picks,
    then the write of ``last`` fails (a disk full); other writes are the real ones."""
    real_save, pressed = registry.save_model_checkpoint, []

    def save(model, path, **kwargs):
        if pressed and Path(path) == last:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_save(model, path, **kwargs)

    def on_event(event):
        if at(event) and not pressed:
            pressed.append(event)
            raise KeyboardInterrupt

    return save, on_event


def _interrupted_last_unwritten(cfg: dict, monkeypatch, at=_at_progress) -> KeyboardInterrupt:
    """Run ``cfg`` to a Ctrl-C at its event of step PRESSED_AT ``at`` picks whose write of
    ``last/`` fails (a disk full) after ``train_state``'s: what the interrupt carries."""
    save, on_event = _ctrl_c_then_last_disk_full(Path(cfg["out"]) / "last", at)
    with monkeypatch.context() as patch:
        patch.setattr(registry, "save_model_checkpoint", save)
        with pytest.raises(KeyboardInterrupt) as interrupt:
            run_job(train_sr_job(cfg), quiet=True, on_event=on_event)
    return interrupt.value


def _resume_done(cfg: dict) -> dict:
    """Resume ``cfg`` asking as many steps as the state holds: nothing to train."""
    return run_job(train_sr_job(dict(cfg, resume=True, steps=PRESSED_AT)), quiet=True)


def test_a_finished_resume_writes_the_last_and_best_its_state_owes(tmp_path, monkeypatch):
    """Ctrl-C at step 3, train_state written, last/ not (a disk full); nothing validated.
    A resume asking 3 steps said 'already complete' and left last/ and best/ missing
    (result's last and best None; failed before). It writes both from the state's EMA
    weights: last/ at step 3, and best/ (nothing validated: the final model)."""
    out = tmp_path / "out"
    cfg = _cfg(out)
    interrupt = _interrupted_last_unwritten(cfg, monkeypatch)
    assert _state_step(out) == PRESSED_AT
    assert "(the weights to run) was not written" in interrupt.__notes__[0]
    assert not (out / "last").exists() and not (out / "best").exists()
    result = _resume_done(cfg)
    assert result["last"] == str(out / "last") and result["best"] == str(out / "best")
    state = _state_ema(out)
    for name in ("last", "best"):
        assert _ckpt_step(out / name) == PRESSED_AT, name
        weights = _weights(out / name)
        assert weights.keys() == state.keys(), name
        assert all(torch.equal(w, state[k]) for k, w in weights.items()), name
    assert _state_step(out) == PRESSED_AT  # the state is the source, left as it is


def test_a_finished_resume_writes_a_lagging_last_and_leaves_a_validated_best(tmp_path, monkeypatch):
    """Validated every 2 steps: last/ at step 2, then step 4's validation whose write of
    last/ fails (a disk full) after train_state's (step 4, validated). A resume asking 4
    steps left last/ at step 2 (failed before); it writes last/ at 4 from the state, and
    leaves best/, a validated step's, as it was (the state holds no weights of it to
    write). (Until 2026-12-07 a Ctrl-C at step 4's validation Metric made it: a
    validation's state and last/ are now written before its events.)"""
    out = tmp_path / "out"
    cfg = _cfg(out, val=_val_folder(tmp_path / "val"), val_every=2)
    done = PRESSED_AT + 1  # a validated step
    real_save = registry.save_model_checkpoint

    def save(model, path, **kwargs):
        if Path(path) == out / "last" and kwargs["training"]["step"] == done:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_save(model, path, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(registry, "save_model_checkpoint", save)
        with pytest.raises(OSError, match="No space"):
            run_job(train_sr_job(cfg), quiet=True)
    assert _state_step(out) == done and _ckpt_step(out / "last") == 2
    best_before, best_step = _weights(out / "best"), _ckpt_step(out / "best")
    result = run_job(train_sr_job(dict(cfg, resume=True, steps=done)), quiet=True)
    assert result["step"] == done and result["best_psnr"] is not None
    assert _ckpt_step(out / "last") == done
    state = _state_ema(out)
    assert all(torch.equal(w, state[k]) for k, w in _weights(out / "last").items())
    assert _ckpt_step(out / "best") == best_step
    assert all(torch.equal(w, best_before[k]) for k, w in _weights(out / "best").items())


def test_an_owed_best_that_is_a_folder_of_the_users_is_refused_before_last(tmp_path, monkeypatch):
    """The owed last/ and best/ are both checked before either is written: a folder of the
    user's at best/ refuses the resume (OutputExistsError), last/ not written and the
    user's file kept (before: nothing written, nothing said; the reverted b9bff844 wrote
    last/ then refused at best/)."""
    out = tmp_path / "out"
    cfg = _cfg(out)
    _interrupted_last_unwritten(cfg, monkeypatch)
    (out / "best").mkdir()
    (out / "best" / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError):
        _resume_done(cfg)
    assert not (out / "last").exists()
    assert (out / "best" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("steps", [PRESSED_AT, STEPS])
def test_a_resume_whose_time_limit_is_reached_first_writes_nothing(tmp_path, monkeypatch, steps):
    """Guard (passed before): a resume whose time limit is reached before it trains a step
    (or, nothing to train, before its end) writes no checkpoint, the owed ones neither
    (the reverted b9bff844 wrote last/ then): a run timed out before step 1 saves
    nothing."""
    out = tmp_path / "out"
    cfg = _cfg(out)
    _interrupted_last_unwritten(cfg, monkeypatch)
    result = run_job(
        train_sr_job(dict(cfg, resume=True, steps=steps, time_limit_s=1e-9)), quiet=True
    )
    assert result["last"] is None and result["best"] is None
    assert not (out / "last").exists() and not (out / "best").exists()
    assert _state_step(out) == PRESSED_AT


def _cli_interrupted_last_unwritten(out: Path, monkeypatch) -> list[str]:
    """`srmat sr train` of STEPS steps into ``out``, Ctrl-C at step PRESSED_AT whose write
    of last/ fails (a disk full) after train_state's: its arguments, less --train-steps."""
    import napari_srmat.jobs as jobs
    from napari_srmat import cli

    args = ["sr", "train", "--synthetic", "2", "--model", "cnn", "--scale", "2",
            "--batch-size", "1", "--patch", "16", "--threads", "1", "--device", "cpu",
            "--out", str(out)]  # fmt: skip
    real_run_job = jobs.run_job
    save, interrupt_at_step = _ctrl_c_then_last_disk_full(out / "last", _at_progress)
    with monkeypatch.context() as patch:
        patch.setattr(registry, "save_model_checkpoint", save)
        patch.setattr(
            jobs,
            "run_job",
            lambda gen, **kw: real_run_job(gen, **dict(kw, on_event=interrupt_at_step)),
        )
        assert cli.main(args + ["--train-steps", str(STEPS)]) == cli.EXIT_INTERRUPTED
    assert _state_step(out) == PRESSED_AT and not (out / "last").exists()
    return args


@pytest.mark.usefixtures("python_ctrl_c")
def test_a_ctrl_c_before_the_owed_last_is_written_is_told_as_a_stop(tmp_path, capsys, monkeypatch):
    """`srmat sr train --resume` of a run whose Ctrl-C left last/ unwritten (a disk full),
    asking no more steps, with a Ctrl-C (a stop request) before its end: it wrote nothing
    (a stop comes first) and said 'best checkpoint: None (nothing validated: the final
    model)', exit 0, the Ctrl-C untold (failed before). The stop is told as a stop: exit
    130, the owed last/ named as not written, and the rerun that writes it."""
    import signal

    import napari_srmat.jobs as jobs
    from napari_srmat import cli

    out = tmp_path / "out"
    args = _cli_interrupted_last_unwritten(out, monkeypatch)
    real_run_job = jobs.run_job

    def ctrl_c_when_complete(told):  # the first Ctrl-C (a stop request) as it is told
        def on_event(event):
            told(event)
            if type(event).__name__ == "AlreadyComplete":
                signal.raise_signal(signal.SIGINT)

        return on_event

    monkeypatch.setattr(
        jobs,
        "run_job",
        lambda gen, **kw: real_run_job(
            gen, **dict(kw, on_event=ctrl_c_when_complete(kw["on_event"]))
        ),
    )
    capsys.readouterr()
    rc = cli.main(args + ["--train-steps", str(PRESSED_AT), "--resume"])
    captured = capsys.readouterr()
    assert "best checkpoint" not in captured.out, captured.err
    assert rc == cli.EXIT_INTERRUPTED, captured
    line = captured.err.strip().splitlines()[-1]
    assert line.startswith(
        f"srmat sr train: interrupted (training stopped before writing "
        f"{out / 'last'} and {out / 'best'} from {out / 'train_state'}; "
        "nothing was saved"
    ), line
    assert line.endswith(
        f"rerun it with --resume to continue from step {PRESSED_AT} ({out / 'train_state'}))"
    ), line
    assert not (out / "last").exists() and not (out / "best").exists()
    monkeypatch.setattr(jobs, "run_job", real_run_job)  # the rerun it names writes them
    assert cli.main(args + ["--train-steps", str(PRESSED_AT), "--resume"]) == 0
    assert _ckpt_step(out / "last") == PRESSED_AT and _ckpt_step(out / "best") == PRESSED_AT


def _validated_run(tmp_path: Path) -> dict:
    """A finished run of STEPS steps validated every 2 (best/, last/ and train_state at
    STEPS): its config."""
    cfg = _cfg(tmp_path / "out", val=_val_folder(tmp_path / "val"), val_every=2)
    run_job(train_sr_job(cfg), quiet=True)
    return cfg


def _warnings(cfg: dict) -> tuple[dict, list[str]]:
    """Run ``cfg``: its result and its warning lines."""
    from napari_srmat.jobs import Log

    told = []
    result = run_job(train_sr_job(cfg), quiet=True, on_event=told.append)
    return result, [e.message for e in told if isinstance(e, Log) and e.level == "warning"]


def test_a_finished_resume_whose_validated_best_is_missing_says_so(tmp_path):
    """A validated run whose best/ was deleted, resumed with nothing to train: it said
    'best checkpoint: None (val PSNR ... dB)' and nothing else (failed before). A warning
    names best/, says train_state does not hold its weights and last/ is the latest
    model; nothing is written."""
    import shutil

    cfg = _validated_run(tmp_path)
    out = Path(cfg["out"])
    shutil.rmtree(out / "best")
    result, warnings = _warnings(dict(cfg, resume=True))
    assert result["best"] is None and result["best_psnr"] is not None
    told = [w for w in warnings if str(out / "best") in w]
    assert len(told) == 1, warnings
    assert f"not in {out / 'train_state'}" in told[0]
    assert told[0].endswith(f"{out / 'last'} (step {STEPS}) is the latest model"), told[0]
    assert not (out / "best").exists() and _ckpt_step(out / "last") == STEPS


def _drop_state_ema(out: Path) -> None:
    """Make ``out``'s train_state an older version's: without its EMA weights."""
    from safetensors.torch import load_file, save_file

    path = out / "train_state" / "model.safetensors"
    tensors = load_file(str(path))
    save_file({k: v for k, v in tensors.items() if not k.startswith("ema.")}, str(path))


def test_an_older_state_without_ema_weights_says_what_it_cannot_write(tmp_path, monkeypatch):
    """A finished run whose last/ and best/ are owed, its train_state an older version's
    (no EMA weights): nothing can be written from it, skipped silently (failed before:
    no warning, 'best checkpoint: None'). One warning names the folders, what is missing
    and what to do; nothing written; more steps then train on and write them."""
    out = tmp_path / "out"
    cfg = _cfg(out)
    _interrupted_last_unwritten(cfg, monkeypatch)
    _drop_state_ema(out)
    result, warnings = _warnings(dict(cfg, resume=True, steps=PRESSED_AT))
    assert result["last"] is None and result["best"] is None
    told = [w for w in warnings if "EMA" in w]
    assert len(told) == 1, warnings
    assert told[0].startswith(
        f"{out / 'last'} and {out / 'best'} not written: {out / 'train_state'} holds no EMA weights"
    ), told[0]
    assert told[0].endswith("give more steps to train on from it, which writes them"), told[0]
    assert not (out / "last").exists() and not (out / "best").exists()
    result = run_job(train_sr_job(dict(cfg, resume=True)), quiet=True)
    assert _ckpt_step(out / "last") == STEPS and _ckpt_step(out / "best") == STEPS


@pytest.mark.usefixtures("python_ctrl_c")
def test_a_finished_resume_timed_out_says_it_was_complete(tmp_path, capsys, monkeypatch):
    """`srmat sr train --resume --time-limit` of a finished run whose last/ and best/ are
    owed, the limit reached before they are written: it said '--time-limit ... was reached
    before the first step ...: nothing was trained or saved' (failed before), wrong for a
    run with nothing to train. It says the run was already complete and which owed
    checkpoints the limit left unwritten, exit 2; without a limit the rerun writes them.
    A finished run owing nothing ends as complete under a limit too."""
    from napari_srmat import cli

    out = tmp_path / "out"
    args = _cli_interrupted_last_unwritten(out, monkeypatch) + ["--train-steps", str(PRESSED_AT)]
    capsys.readouterr()
    assert cli.main(args + ["--resume", "--time-limit", "1e-9"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[-1] == (
        f"srmat sr train: error: {out} was already complete at step {PRESSED_AT} (nothing to "
        f"train); --time-limit 1e-09 s was reached before writing {out / 'last'} and "
        f"{out / 'best'} from {out / 'train_state'}: nothing was saved; give a longer "
        "--time-limit"
    )
    assert not (out / "last").exists() and not (out / "best").exists()
    assert cli.main(args + ["--resume"]) == 0
    assert _ckpt_step(out / "last") == PRESSED_AT and _ckpt_step(out / "best") == PRESSED_AT
    capsys.readouterr()
    assert cli.main(args + ["--resume", "--time-limit", "1e-9"]) == 0
    assert capsys.readouterr().out.startswith(f"best checkpoint: {out / 'best'} (")
