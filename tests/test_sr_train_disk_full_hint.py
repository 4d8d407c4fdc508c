"""`srmat sr train`'s disk-full hint says what a rerun does, as its interrupted line: a
training resumes with --resume from the step its train_state holds; the same command
without --resume is refused in a folder that holds a run."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

pytest.importorskip("torch")

from test_train_stops import _ctrl_c_in_caller_at  # noqa: E402

from napari_srmat import cli  # noqa: E402
from napari_srmat.sr import registry  # noqa: E402
from napari_srmat.sr import train as sr_train  # noqa: E402

ARGS = ["sr", "train", "--synthetic", "2", "--model", "cnn", "--scale", "2",
        "--train-steps", "12", "--batch-size", "1", "--patch", "16", "--threads", "1",
        "--device", "cpu", "--out"]  # fmt: skip


def _last_fails_once(monkeypatch, out: Path, when) -> None:
    """The write of OUT/last fails with a disk full the first time ``when()`` holds."""
    real_save, failed = registry.save_model_checkpoint, []

    def save(model, path, **kwargs):
        if not failed and Path(path) == out / "last" and when():
            failed.append(path)
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_save(model, path, **kwargs)

    monkeypatch.setattr(registry, "save_model_checkpoint", save)


def test_a_ctrl_c_whose_last_write_finds_the_disk_full_says_resume_as_its_line(
    tmp_path, capsys, monkeypatch
):
    """The interrupted line said 'rerun it with --resume to continue from step 3
    (OUT/train_state)', the warning after it '... no space left on device (disk full:
    free space and rerun the same command to resume)' (failed before): the same command,
    without --resume, is refused. Both now say the --resume rerun."""
    out = tmp_path / "out"
    pressed = _ctrl_c_in_caller_at(monkeypatch, 3)
    _last_fails_once(monkeypatch, out, lambda: bool(pressed))
    capsys.readouterr()
    assert cli.main(ARGS + [str(out)]) == cli.EXIT_INTERRUPTED
    err = capsys.readouterr().err.strip().splitlines()
    rerun = f"rerun it with --resume to continue from step 3 ({out / 'train_state'})"
    assert err[-2].startswith("srmat sr train: interrupted") and err[-2].endswith(rerun + ")")
    assert err[-1].endswith(
        f"{out / 'last'}: no space left on device (disk full: free space; {rerun})"
    ), err[-1]


def test_a_disk_full_error_says_resume_from_the_step_kept(tmp_path, capsys, monkeypatch):
    """A disk full at a save of the run (its state written, last/ not): the error line
    said 'rerun the same command to resume' (failed before); the same command without
    --resume is refused. It now says the --resume rerun from the step kept."""
    out = tmp_path / "out"
    monkeypatch.setattr(sr_train, "TRAIN_STATE_EVERY_S", 0.0)  # a save every step
    kept_at_2 = (out / "train_state", "from step 2")
    _last_fails_once(monkeypatch, out, lambda: sr_train.RESUME_RECORD.point(out) == kept_at_2)
    capsys.readouterr()
    assert cli.main(ARGS + [str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        f"srmat sr train: error: {out / 'last'}: no space left on device (disk full: free "
        f"space; rerun it with --resume to continue from step 2 ({out / 'train_state'}))"
    ), err
