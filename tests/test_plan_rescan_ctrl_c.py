"""What ``srmat plan-rescan --out FILE`` says of a Ctrl-C."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

import napari_srmat.jobs as jobs  # noqa: E402
from napari_srmat import cli  # noqa: E402
from napari_srmat.cli.rescan import PLAN_WRITTEN_WHOLE  # noqa: E402


def _plan_stopped(tmp_path, monkeypatch, ctrl_c: KeyboardInterrupt) -> int:
    """``srmat plan-rescan a.png --out plan.csv`` given ``ctrl_c`` at its first event
    (an image ``a.png`` in ``tmp_path``); its exit code."""
    from PIL import Image

    rng = np.random.default_rng(0)
    img = tmp_path / "a.png"
    Image.fromarray((rng.random((96, 96, 3)) * 255).astype(np.uint8)).save(img)
    real = jobs.run_job

    def ctrl_c_at_first_event(gen, **kwargs):
        def interrupted():
            yield next(gen)
            gen.throw(ctrl_c)
        return real(interrupted(), **kwargs)

    monkeypatch.setattr(jobs, "run_job", ctrl_c_at_first_event)
    argv = ["plan-rescan", str(img), "--model", "bicubic", "--roi-size-px", "16",
            "--device", "cpu", "--out", str(tmp_path / "plan.csv")]
    return cli.main(argv)


def test_a_ctrl_c_of_plan_rescan_with_out_says_that_nothing_resumes(tmp_path, capsys,
                                                                    monkeypatch):
    """`srmat plan-rescan --out plan.csv` stopped by a Ctrl-C said "a partial output, if
    any, is kept for a rerun", but the plan is written whole at the end (atomically) and
    a rerun starts over. Its line now says so; no file is left."""
    assert _plan_stopped(tmp_path, monkeypatch, KeyboardInterrupt()) == cli.EXIT_INTERRUPTED
    said, err = capsys.readouterr()
    assert said == ""
    assert err.splitlines()[-1] == f"srmat plan-rescan: interrupted ({PLAN_WRITTEN_WHOLE})"
    assert cli.CTRL_C_KEPT not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_a_disk_full_behind_a_ctrl_c_of_plan_rescan_says_rerun_the_command(
        tmp_path, capsys, monkeypatch):
    """The OS error a Ctrl-C came during (a disk full) is told with its hint: it said
    "rerun the same command to resume", but nothing of the plan resumes (reviewer)."""
    ctrl_c = KeyboardInterrupt()
    ctrl_c.__cause__ = OSError(28, "No space left on device", "plan.csv")
    assert _plan_stopped(tmp_path, monkeypatch, ctrl_c) == cli.EXIT_INTERRUPTED
    line = capsys.readouterr().err.splitlines()[-1]
    assert "no space left on device" in line and "rerun the command" in line, line
    assert "resume" not in line.split(PLAN_WRITTEN_WHOLE)[-1], line
