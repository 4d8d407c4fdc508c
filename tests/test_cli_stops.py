"""How an ``srmat`` run that stops before completion ends (``napari_srmat.cli.run_cli_job``).

One rule for every command: a job that stops on request (a :class:`Stopped` event) ends
the command as a Ctrl-C does, exit ``EXIT_INTERRUPTED`` (130, distinct from bad input, 2,
and errors, 1) with one line on stderr saying what was kept and, where the command
resumes, how; nothing on stdout. A time budget the user gave that is reached is a normal
end (exit 0, the result on stdout).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

import napari_srmat.jobs as jobs  # noqa: E402
from napari_srmat import cli  # noqa: E402
from napari_srmat.cli.sr import TIME_LIMIT_BEFORE_FIRST_STEP  # noqa: E402

#: What the stopped job says it kept (the jobs' Stopped messages say it).
KEPT = "stopped on request; 3 of 9 tiles kept in out.partial"


@pytest.fixture()
def stopping_jobs(monkeypatch):
    """Every job the CLI starts stops at its first check, as a job does when a stop is
    requested: it yields ``Stopped`` and returns None (before it does any work).

    A module first imported meanwhile keeps this ``run_job`` (``from ..jobs import
    run_job``): it is the real one again once the test is over."""
    real = jobs.run_job
    on = [True]

    def stopped_at_once():
        yield jobs.Stopped(KEPT)
        return None

    def run_job(gen, **kwargs):
        if not on[0]:
            return real(gen, **kwargs)
        gen.close()  # never started
        return real(stopped_at_once(), **kwargs)

    monkeypatch.setattr(jobs, "run_job", run_job)
    yield
    on[0] = False


def _png(path, shape, seed=0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    Image.fromarray((rng.random(shape) * 255).astype(np.uint8)).save(path)
    return str(path)


def _pairs(root, n=1, size=64):
    """``root/images`` and ``root/masks`` with ``n`` pairs (a grid of boundaries)."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    mask = np.zeros((size, size), np.uint8)
    mask[::16], mask[:, ::16] = 255, 255
    for i in range(n):
        _png(root / "images" / f"r{i}.png", (size, size, 3), seed=i)
        from PIL import Image

        Image.fromarray(mask).save(root / "masks" / f"r{i}.png")
    return root


def _argv(name, tmp_path):
    """The command line of each command that runs a job, on small inputs."""
    img = _png(tmp_path / "a.png", (64, 64, 3))
    out = str(tmp_path / "out")
    if name == "sr run":
        return ["sr", "run", img, out + ".zarr", "--model", "bicubic"]
    if name == "sr train":
        return ["sr", "train", "--data", img, "--model", "cnn", "--scale", "2",
                "--train-steps", "2", "--patch", "16", "--out", out, "--device", "cpu"]
    if name == "plan-rescan":
        return ["plan-rescan", img, "--model", "bicubic", "--roi-size-px", "16",
                "--device", "cpu"]
    if name == "grain-size":
        return ["grain-size", str(_pairs(tmp_path / "d") / "masks" / "r0.png"), "--mask"]
    if name == "edges train":  # ROOT/train/{images,masks}
        _pairs(tmp_path / "d" / "train", size=128)
        return ["edges", "train", "--data", str(tmp_path / "d"), "--out", out, "--epochs",
                "1", "--steps-per-epoch", "1", "--batch-size", "1", "--crop", "128",
                "--device", "cpu"]
    if name == "edges pretrain":
        return ["edges", "pretrain", img, "--out", out, "--device", "cpu"]
    if name == "edges predict":
        return ["edges", "predict", img, "--out", out, "--tta", "none", "--device", "cpu"]
    if name == "edges eval":
        d = _pairs(tmp_path / "d")
        return ["edges", "eval", "--images", str(d / "images"), "--masks", str(d / "masks"),
                "--device", "cpu"]
    if name == "eval-maps":
        import shutil

        d = _pairs(tmp_path / "d")  # maps of their own: one folder as both is refused
        shutil.copytree(d / "masks", d / "prob")
        return ["eval-maps", "--prob", str(d / "prob"), "--masks", str(d / "masks")]
    if name == "experiment sr-vs-original":
        return ["experiment", "sr-vs-original", "--data", str(_pairs(tmp_path / "d")),
                "--out", out, "--device", "cpu"]
    if name == "experiment three-arm":
        return ["experiment", "three-arm", str(_pairs(tmp_path / "d")),
                "--sr-models", "bicubic", "--sr-of-native", "none", "--device", "cpu"]
    if name == "audit candidates":
        sr = _png(tmp_path / "sr.png", (256, 256, 3), seed=1)
        return ["audit", "candidates", img, sr, "--out", str(tmp_path / "s.json")]
    if name == "demo":
        return ["demo", "--out", out, "--stages", "heyn"]
    if name == "info --verify":
        return ["info", img, "--verify"]
    raise AssertionError(name)


#: What a rerun of a training stopped before it saved a state does (the line reads it
#: from the run folder: napari_srmat.cli._training; tests/test_train_stops.py).
TRAINING_NOTHING_KEPT = "nothing resumable was kept: a rerun starts over"

#: The commands that resume what a stopped run kept, and how the line says to.
RESUMES = {"sr run": cli.RERUN_TO_RESUME, "edges predict": cli.RERUN_TO_RESUME,
           "sr train": TRAINING_NOTHING_KEPT, "edges train": TRAINING_NOTHING_KEPT}

#: The training commands: their Ctrl-C's line says what a rerun does, not what "a
#: partial output" may be.
TRAININGS = ("sr train", "edges train")


@pytest.mark.parametrize("name", [
    "sr run", "sr train", "plan-rescan", "grain-size", "edges train", "edges pretrain",
    "edges predict", "edges eval", "eval-maps", "experiment sr-vs-original",
    "experiment three-arm", "audit candidates", "demo", "info --verify",
])
def test_a_stopped_job_ends_every_command_as_an_interrupt(tmp_path, capsys, stopping_jobs,
                                                         name):
    """A stopped job exited 1 (`sr run`, `sr train`, `plan-rescan`), 2 (`edges
    predict/eval`, `experiment`: 'prediction stopped' as a user error), 0 with
    "stopped": true (`edges train`) or with an internal error (the commands that did not
    look: a None result). Now every command: exit 130 and one line."""
    argv = _argv(name, tmp_path)
    capsys.readouterr()
    assert cli.main(argv) == cli.EXIT_INTERRUPTED == 130
    out, err = capsys.readouterr()
    said = "; ".join(filter(None, (KEPT, RESUMES.get(name))))
    command = "srmat " + name.removesuffix(" --verify")
    assert out == ""
    assert err.splitlines()[-1] == f"{command}: interrupted ({said})"
    assert "error" not in err
    assert err.count(KEPT) == 1, err  # told once (run_job's [stopped] line said it too)


def test_a_stop_is_not_one_image_s_error(tmp_path, capsys, stopping_jobs):
    """`srmat grain-size` goes on with the next image after an image's error; a stop ends
    the run, as a Ctrl-C does, instead of being told per image."""
    d = _pairs(tmp_path / "d", n=2)
    assert cli.main(["grain-size", str(d / "masks" / "r0.png"), str(d / "masks" / "r1.png"),
                     "--mask"]) == cli.EXIT_INTERRUPTED
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == f"srmat grain-size: interrupted ({KEPT})"
    assert not any("r1.png" in line for line in err)


def test_a_reached_time_limit_is_a_normal_end(tmp_path, capsys):
    """`srmat sr train --time-limit S`: the budget the user gave, reached, ends the run
    with its checkpoints, exit 0 and the result on stdout; a warning line says so. S
    counts from the start, the loading (imports too) within it: a first run imports
    what the training needs, and S is 3 s, not 0.5 s (reached before the first step on
    a busy machine, where nothing is saved: the next test)."""
    img = _png(tmp_path / "a.png", (64, 64, 3))
    out = tmp_path / "ck"
    assert cli.main(["sr", "train", "--data", img, "--model", "cnn", "--scale", "2",
                     "--train-steps", "1", "--batch-size", "1", "--patch", "16",
                     "--out", str(tmp_path / "warm"), "--threads", "1", "--device", "cpu"]) == 0
    capsys.readouterr()
    assert cli.main(["sr", "train", "--data", img, "--model", "cnn", "--scale", "2",
                     "--train-steps", "100000", "--batch-size", "1", "--patch", "16",
                     "--out", str(out), "--threads", "1", "--device", "cpu",
                     "--time-limit", "3"]) == 0
    said, err = capsys.readouterr()
    assert said.startswith(f"best checkpoint: {out / 'best'} ")
    assert "time limit" in err and "interrupted" not in err
    assert (out / "last").is_dir()


def test_a_time_limit_reached_before_the_first_step_is_one_line(tmp_path, capsys):
    """`srmat sr train --time-limit S` whose S ran out while the data and the model loaded:
    the job trains and saves nothing (a run stopped before its first step), and the
    command printed 'best checkpoint: None (nothing validated: the final model)', exit 0
    (failed before: rc 0). It is now one line on stderr naming the limit, exit 2, and
    nothing on stdout."""
    img = _png(tmp_path / "a.png", (64, 64, 3))
    out = tmp_path / "ck"
    for json_flag in ([], ["--json"]):
        assert cli.main(["sr", "train", "--data", img, "--model", "cnn", "--scale", "2",
                         "--train-steps", "5", "--batch-size", "1", "--patch", "16",
                         "--out", str(out), "--threads", "1", "--device", "cpu",
                         "--time-limit", "1e-9", "--overwrite", *json_flag]) == 2
        said, err = capsys.readouterr()
        assert said == ""
        assert err.splitlines()[-1] == "srmat sr train: error: " + (
            TIME_LIMIT_BEFORE_FIRST_STEP.format(1e-9)), err
        assert "Traceback" not in err
        assert not any((out / n).exists() for n in ("last", "best", "train_state"))


def _thrown_into_jobs(monkeypatch, error: type[BaseException]) -> list:
    """``error()`` is raised inside every job the CLI starts, once it has done ``after``
    tiles or training steps (its first event when ``after`` is 0), where Python raises a
    Ctrl-C, and the job's own clean-up runs. Returns ``after``: set ``after[0]``; None
    lets the jobs run to the end (a rerun)."""
    real = jobs.run_job
    after = [0]

    def interrupted(gen):
        while True:
            try:
                event = next(gen)
            except StopIteration as end:
                return end.value
            yield event
            done = getattr(event, "done", 0) if isinstance(event, jobs.Progress) else 0
            if after[0] is not None and done >= after[0]:
                gen.throw(error())

    def run_job(gen, **kwargs):
        return real(gen if after[0] is None else interrupted(gen), **kwargs)

    monkeypatch.setattr(jobs, "run_job", run_job)
    return after


@pytest.fixture()
def ctrl_c_in_jobs(monkeypatch):
    """A Ctrl-C lands in every job the CLI starts (:func:`_thrown_into_jobs`)."""
    return _thrown_into_jobs(monkeypatch, KeyboardInterrupt)


#: The commands of this test that write no file (their parsers' cli.WRITES_OUTPUT).
WRITES_NO_FILE = {"grain-size", "plan-rescan"}  # plan-rescan: no --out


@pytest.mark.parametrize("name", ["sr run", "sr train", "edges predict", "edges train",
                                  "plan-rescan", "grain-size"])
def test_a_ctrl_c_says_how_to_resume(tmp_path, capsys, ctrl_c_in_jobs, name):
    """A Ctrl-C, the only stop a user can make, said 'a partial output, if any, is kept
    for a rerun' in every command, without the commands' resume line that the stopped
    job got (docs/safety.md: 'for the commands that resume, how'): after a Ctrl-C of
    `srmat sr train` the rerun was refused (it takes --resume). A training's line says
    what its rerun does: pressed at its first event, it kept nothing, and said 'rerun it
    with --resume to continue from what was kept' (the rerun warned 'nothing to
    resume')."""
    argv = _argv(name, tmp_path)
    capsys.readouterr()
    assert cli.main(argv) == cli.EXIT_INTERRUPTED
    out, err = capsys.readouterr()
    said = (RESUMES[name] if name in TRAININGS
            else f"{cli.CTRL_C_KEPT}; {RESUMES[name]}" if name in RESUMES
            else cli.CTRL_C_NO_OUTPUT if name in WRITES_NO_FILE else cli.CTRL_C_NO_RESUME)
    assert out == "" and err.splitlines()[-1] == f"srmat {name}: interrupted ({said})"
    assert "Traceback" not in err


def test_sr_run_resumes_as_its_ctrl_c_line_says(tmp_path, capsys, ctrl_c_in_jobs):
    """`srmat sr run` stopped by a Ctrl-C after 6 of 9 tiles: the line says what was kept
    (the stop line's words, as `srmat edges predict`'s: until session 50 'a partial
    output, if any, is kept') and to rerun the same command, which then computes only
    the chunks left; with --no-resume the same command starts over, so the line says to
    rerun without it."""
    img = _png(tmp_path / "a.png", (512, 512))  # 9 tiles, 4 output chunks
    out = tmp_path / "o.zarr"
    argv = ["sr", "run", img, str(out), "--model", "bicubic", "--tile", "256", "--overlap",
            "4", "--batch-size", "1"]
    ctrl_c_in_jobs[0] = 6  # the first two chunks are written (before their progress)
    assert cli.main(argv + ["--no-resume"]) == cli.EXIT_INTERRUPTED
    err = capsys.readouterr().err.splitlines()[-1]
    assert err == (f"srmat sr run: interrupted (after 6 of 9 tiles; 2 of 4 output chunks "
                   f"(1408x1408 px) kept in {out}.partial: a rerun computes the rest; "
                   f"{cli.RERUN_WITHOUT_NO_RESUME})")
    assert cli.main(argv) == cli.EXIT_INTERRUPTED
    assert capsys.readouterr().err.splitlines()[-1].endswith(f"; {cli.RERUN_TO_RESUME})")
    assert not out.exists() and (tmp_path / "o.zarr.partial").is_dir()
    ctrl_c_in_jobs[0] = None
    assert cli.main(argv) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"wrote {out}: ") and "tiles written by an earlier run" in said


def test_a_ctrl_c_while_the_cluster_closes_keeps_complete_results(tmp_path, capsys,
                                                                 monkeypatch):
    """`srmat grain-size --scheduler local:N` pressed Ctrl-C while its cluster closed,
    every image already measured: the press held through the close was raised after it,
    exit 130 and no grain size printed (failed before: rc 130, stdout empty). Nothing was
    left to stop: the results are printed, exit 0, and a warning says why the press did
    not interrupt the run."""
    import os
    import signal
    import warnings

    distributed = pytest.importorskip("distributed")

    class PressedAtClose(distributed.LocalCluster):
        """`local:N`'s cluster, pressed Ctrl-C into as it closes."""

        closed = []

        def close(self, *args, **kwargs):
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the cluster closes
            sum(range(1000))  # the handler runs
            result = super().close(*args, **kwargs)
            self.closed.append(self.status.name)
            return result

    monkeypatch.setattr(distributed, "LocalCluster", PressedAtClose)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's own
    try:
        argv = _argv("grain-size", tmp_path) + ["--scheduler", "local:1"]
        capsys.readouterr()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rc = cli.main(argv)
    except KeyboardInterrupt:  # not to end the test session
        pytest.fail("the press came out of the command")
    finally:
        signal.signal(signal.SIGINT, before)
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert out.startswith(f"{argv[1]}: ℓ̄ = ") and "interrupted" not in err
    assert PressedAtClose.closed == ["closed"]
    from napari_srmat.tiling._distributed import CTRL_C_AT_CLOSE

    assert [str(w.message) for w in caught
            if "Ctrl-C" in str(w.message)] == [CTRL_C_AT_CLOSE]


class _DiskGone(OSError):
    def __init__(self) -> None:
        super().__init__("the disk went away")


@pytest.mark.parametrize("error, rc, line", [
    (KeyboardInterrupt, cli.EXIT_INTERRUPTED, f"interrupted ({cli.CTRL_C_NO_OUTPUT})"),
    (_DiskGone, 1, "error: the disk went away"),
])
def test_a_cluster_that_failed_to_close_as_a_run_stopped_is_told(
        tmp_path, capsys, monkeypatch, error, rc, line):
    """`srmat grain-size --scheduler local:1` stopped by a Ctrl-C or an error, and then
    its cluster failed to close: the close's failure was noted on the run's own error
    (close_after_run), but the command's one line does not show notes, so the user never
    learnt it (only with --debug; failed before: nothing after the one line). It is a
    warning line after it now; the exit code and the one line are the run's own, still
    without a traceback."""
    distributed = pytest.importorskip("distributed")

    class FailingClose(distributed.LocalCluster):
        """`local:N`'s cluster, whose close fails once it has closed."""

        def close(self, *args, **kwargs):
            super().close(*args, **kwargs)
            raise OSError("the scheduler went away")

    monkeypatch.setattr(distributed, "LocalCluster", FailingClose)
    _thrown_into_jobs(monkeypatch, error)
    argv = _argv("grain-size", tmp_path) + ["--scheduler", "local:1"]
    capsys.readouterr()
    assert cli.main(argv) == rc
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert err.splitlines()[-2:] == [
        f"srmat grain-size: {line}",
        "srmat grain-size: warning: the dask cluster also failed to close: "
        "the scheduler went away"]
