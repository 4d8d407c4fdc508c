"""Tests of the shared infrastructure: jobs, atomic writes, checkpoints, device, CLI."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from _ctrl_c import (  # noqa: F401
    SWAP_MOMENTS,
    ctrl_c_after_unlinks,
    ctrl_c_in_deletion,
    ctrl_c_in_swap,
    python_ctrl_c,
    second_rename_fails,
)

from napari_srmat import jobs
from napari_srmat._atomic import (
    atomic_directory,
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
)
from napari_srmat.checkpoint import (
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from napari_srmat.cli import main
from napari_srmat.device import resolve_device


def _counting_job(n, stop=None):
    for i in range(n):
        if stop is not None and stop.stop_requested:
            yield jobs.Stopped()
            return i
        yield jobs.Progress(done=i + 1, total=n, stage="count")
        yield jobs.Metric(step=i, values={"loss": 1.0 / (i + 1)})
    return n


def test_run_job_returns_result_and_forwards_events():
    seen = []
    assert jobs.run_job(_counting_job(4), quiet=True, on_event=seen.append) == 4
    progress = [e for e in seen if isinstance(e, jobs.Progress)]
    assert [p.done for p in progress] == [1, 2, 3, 4]
    assert progress[-1].fraction == 1.0
    losses = [e.values["loss"] for e in seen if isinstance(e, jobs.Metric)]
    assert losses == pytest.approx([1, 0.5, 1 / 3, 0.25])


def test_stop_token_stops_job_cleanly_from_another_thread():
    token = jobs.StopToken()
    gen = _counting_job(10_000_000, stop=token)
    events = []
    stopper = threading.Timer(0.01, token.request_stop)
    stopper.start()
    result = jobs.run_job(gen, quiet=True, on_event=events.append)
    stopper.join()
    assert isinstance(events[-1], jobs.Stopped)
    assert result < 10_000_000


def test_run_job_raise_on_stop():
    token = jobs.StopToken()
    token.request_stop()
    with pytest.raises(jobs.JobCancelled):
        jobs.run_job(_counting_job(3, stop=token), quiet=True, raise_on_stop=True)


def test_run_job_progress_output_goes_to_stream(capsys):
    import io

    buf = io.StringIO()
    jobs.run_job(_counting_job(2), stream=buf)
    out = capsys.readouterr().out
    assert out == ""  # stdout stays clean for --json
    assert "loss=" in buf.getvalue()


class _Terminal:
    """A text buffer that says it is a terminal (so run_job draws its bar)."""

    def __init__(self):
        import io

        self.buf = io.StringIO()

    def write(self, text):
        return self.buf.write(text)

    def flush(self):
        pass

    def isatty(self):
        return True

    def getvalue(self):
        return self.buf.getvalue()


def test_run_job_without_a_terminal_prints_whole_progress_lines():
    """In a log file or pipe, progress is one plain line per stage and per 10 %, and
    messages are never glued to a bar (no carriage returns at all)."""
    import io

    def job():
        for i in range(101):
            yield jobs.Progress(i, 100, "tiles")
        yield jobs.Log("halfway")
        yield jobs.Progress(1, 2, "pyramid")
        return 7

    buf = io.StringIO()
    assert jobs.run_job(job(), stream=buf) == 7
    text = buf.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert lines[0] == "[progress] tiles: 0% (0/100)"
    assert [ln for ln in lines if ln.startswith("[progress] tiles")][-1] == \
        "[progress] tiles: 100% (100/100)"
    assert len([ln for ln in lines if ln.startswith("[progress] tiles")]) == 11
    assert lines[-2:] == ["[info] halfway", "[progress] pyramid: 50% (1/2)"]


def test_run_job_log_lines_are_whole_lines_while_a_bar_is_open():
    def job():
        yield jobs.Progress(0, 3, "tiles")
        yield jobs.Log("halfway")
        yield jobs.Progress(2, 3, "tiles")
        yield jobs.Log("done", level="warning")
        return 7

    buf = _Terminal()
    assert jobs.run_job(job(), stream=buf) == 7
    lines = buf.getvalue().replace("\r", "\n").splitlines()
    # each message on a line of its own, not glued to the bar's text
    assert "[info] halfway" in lines and "[warning] done" in lines
    assert any(line.startswith("tiles:") for line in lines)


def test_run_job_bar_opens_at_the_first_events_count_in_one_frame():
    def job():  # a resumed job: its first event already counts 5 of 8 done
        yield jobs.Progress(5, 8, "tiles")
        yield jobs.Progress(8, 8, "tiles")

    buf = _Terminal()
    jobs.run_job(job(), stream=buf)
    frames = [f for f in buf.getvalue().replace("\n", "\r").split("\r") if f.strip()]
    counts = [f.split("| ")[1].split(" ")[0] for f in frames if f.startswith("tiles:")]
    assert counts[:2] == ["5/8", "8/8"]  # no 0/8 frame, no repeated first frame

    def two_stages():  # the second stage counts again from below the first's start
        yield jobs.Progress(5, 8, "tiles")
        yield jobs.Progress(8, 8, "tiles")
        yield jobs.Progress(1, 8, "pyramid")
        yield jobs.Progress(8, 8, "pyramid")

    buf = _Terminal()
    jobs.run_job(two_stages(), stream=buf)
    assert "<-" not in buf.getvalue()  # no negative time left
    assert "pyramid: " in buf.getvalue()


def test_atomic_write_text_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "a.json"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_atomic_write_gives_the_usual_permissions(tmp_path):
    """Not the private 0600 of tempfile.mkstemp: lab members may share outputs."""
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"x")
    target = tmp_path / "model.safetensors"
    atomic_write_bytes(target, b"weights")
    assert target.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
    assert target.stat().st_mode & 0o044  # group/other can read under a usual umask


def test_checkpoint_files_get_the_usual_permissions(tmp_path):
    """safetensors' save_file makes 0600 files; checkpoints must stay shareable."""
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"x")
    ckpt = save_checkpoint(tmp_path / "ckpt", {"w": torch.zeros(2)}, {"model": "cnn"})
    for f in ckpt.iterdir():
        assert f.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777, f.name


def test_atomic_path_failure_keeps_original(tmp_path):
    target = tmp_path / "img.png"
    target.write_text("original")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "original"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.png"]


def test_atomic_directory_failure_leaves_nothing(tmp_path):
    target = tmp_path / "out.zarr"
    with pytest.raises(RuntimeError), atomic_directory(target) as tmp:
        (tmp / "x").write_text("partial")
        raise RuntimeError("cancelled")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_directory_refuses_existing_without_overwrite(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep").write_text("k")
    with pytest.raises(FileExistsError), atomic_directory(target) as tmp:
        (tmp / "x").write_text("new")
    assert (target / "keep").read_text() == "k"
    with atomic_directory(target, overwrite=True) as tmp:
        (tmp / "x").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["x"]


@pytest.mark.usefixtures("python_ctrl_c")
@pytest.mark.parametrize("at", SWAP_MOMENTS)
def test_a_ctrl_c_in_atomic_directory_s_swap_completes_it(tmp_path, monkeypatch, at):
    """A Ctrl-C as atomic_directory (save_checkpoint, the edge export, a training run's
    ``last``) swapped a new folder onto an earlier one: between the two renames the new
    folder was deleted on the way out and the earlier one left hidden as
    ``.NAME.<8 hex>.old``, which nothing cleans up or puts back (the user's previous
    checkpoint seemed gone); after the last rename the ``.old`` copy stayed beside it.
    The swap now runs whole with the press held, then the press goes on over the new
    folder, nothing else left."""
    target = tmp_path / "ck"
    target.mkdir()
    (target / "w").write_text("old")
    from napari_srmat._atomic import SWAPPED_OUT

    with ctrl_c_in_swap(monkeypatch, target, at) as pressed, \
            pytest.raises(KeyboardInterrupt), atomic_directory(target, overwrite=True) as tmp:
        (tmp / "w").write_text("new")
    assert pressed and (target / "w").read_text() == "new"
    # the press is raised before the earlier folder's deletion, which may take minutes:
    # it is left aside whole, for the next write (its `ours`) to remove
    aside = sorted(set(os.listdir(tmp_path)) - {"ck"})
    assert len(aside) == 1 and SWAPPED_OUT.match(aside[0])
    assert (tmp_path / aside[0] / "w").read_text() == "old"
    with atomic_directory(target, overwrite=True, ours=lambda p: (p / "w").is_file()) as tmp:
        (tmp / "w").write_text("newer")
    assert sorted(os.listdir(tmp_path)) == ["ck"]


@pytest.mark.usefixtures("python_ctrl_c")
def test_a_ctrl_c_while_an_earlier_checkpoint_is_deleted_stops_at_once(tmp_path,
                                                                       monkeypatch):
    """A Ctrl-C while a replaced checkpoint's earlier version was deleted (a large SR
    store: minutes) waited for the deletion's end: it ran inside the swap's Ctrl-C hold
    (failed before: steps 'began', 'deleted', the KeyboardInterrupt only after). Only
    the two renames hold Ctrl-C now: the press stops the deletion at once, the new
    checkpoint in place, and the earlier one left aside is removed by the next save."""
    from napari_srmat.checkpoint import is_checkpoint_folder

    net = torch.nn.Conv2d(3, 4, 3)
    ckpt = save_checkpoint(tmp_path / "ck", net.state_dict(), {"model": "conv"})
    with ctrl_c_in_deletion(monkeypatch) as steps, pytest.raises(KeyboardInterrupt):
        save_checkpoint(ckpt, net.state_dict(), {"model": "conv2"}, overwrite=True)
    assert steps == ["began"]
    assert '"conv2"' in (ckpt / "config.json").read_text()
    left = [p for p in tmp_path.iterdir() if p.name != "ck"]
    assert len(left) == 1 and is_checkpoint_folder(left[0])
    save_checkpoint(ckpt, net.state_dict(), {"model": "conv3"}, overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ["ck"]
    assert '"conv3"' in (ckpt / "config.json").read_text()


@pytest.mark.usefixtures("python_ctrl_c")
def test_a_deletion_a_ctrl_c_stopped_part_way_leaves_a_copy_still_recognised(
        tmp_path, monkeypatch):
    """The earlier folder's deletion stopped by a Ctrl-C after its first file: what is
    left still holds the files ``last`` names (deleted last), so the next write that
    recognises its copies by them (``ours``) removes it; without ``last`` a stopped
    deletion could leave debris no one recognises. (Failed before: the press was held
    and the deletion ran to its end; atomic_directory took no ``last``.)"""
    def ours(p):
        return (p / "w").is_file()

    target = tmp_path / "d"
    target.mkdir()
    for name in ("a", "b", "w"):
        (target / name).write_text("old")
    with ctrl_c_after_unlinks(monkeypatch, 1) as unlinked, pytest.raises(KeyboardInterrupt), \
            atomic_directory(target, overwrite=True, ours=ours, last=("w",)) as tmp:
        (tmp / "w").write_text("new")
    assert len(unlinked) == 1 and unlinked[0] != "w"
    left = [p for p in tmp_path.iterdir() if p.name != "d"]
    assert len(left) == 1 and ours(left[0])
    with atomic_directory(target, overwrite=True, ours=ours, last=("w",)) as tmp:
        (tmp / "w").write_text("newer")
    assert sorted(os.listdir(tmp_path)) == ["d"] and (target / "w").read_text() == "newer"


#: Folders a checkpoint write may replace that hold less than a whole checkpoint.
_HALF_CHECKPOINTS = {"empty": (), "config only": ("config.json",),
                     "weights only": ("model.safetensors",), "finder only": (".DS_Store",)}


def test_what_a_checkpoint_write_replaces_is_what_it_recognises_as_its_own(tmp_path):
    """Two rules told what a checkpoint folder is: check_replaceable_checkpoint let an
    empty folder, or one with only the weights or only the config, be replaced, but
    is_checkpoint_folder (then ``ours``: what a copy left aside was put back or removed
    by) wanted both files (failed before: True != False for 'empty', 'config only', ...).
    One rule now, with or without a training run's state files."""
    from napari_srmat.checkpoint import (
        TRAINING_STATE_FILES,
        check_replaceable_checkpoint,
        is_checkpoint_folder,
    )
    from napari_srmat.outputs import OutputExistsError

    holds = {**_HALF_CHECKPOINTS, "whole": ("model.safetensors", "config.json"),
             "whole, finder": ("model.safetensors", "config.json", ".DS_Store"),
             "state only": ("training_state.json",), "notes": ("notes.txt",),
             "whole, notes": ("model.safetensors", "config.json", "notes.txt")}
    folders = []
    for name, files in holds.items():
        folder = tmp_path / name
        folder.mkdir()
        for file in files:
            (folder / file).write_text("x")
        folders.append(folder)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "config.json").mkdir()
    (tmp_path / "file").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "whole", target_is_directory=True)
    folders += [tmp_path / "sub", tmp_path / "file", tmp_path / "link"]
    for state_files in ((), TRAINING_STATE_FILES):
        for folder in folders:
            try:
                check_replaceable_checkpoint(folder, state_files=state_files)
                replaceable = True
            except OutputExistsError:
                replaceable = False
            assert is_checkpoint_folder(folder, state_files=state_files) is replaceable, (
                folder.name, state_files)
    assert not is_checkpoint_folder(tmp_path / "missing")
    assert not is_checkpoint_folder(tmp_path / "state only")
    assert is_checkpoint_folder(tmp_path / "state only", state_files=TRAINING_STATE_FILES)


@pytest.mark.usefixtures("python_ctrl_c")
@pytest.mark.parametrize("holds", _HALF_CHECKPOINTS)
def test_a_half_checkpoint_folder_replaced_leaves_no_file_hidden(tmp_path, monkeypatch,
                                                                 holds):
    """Replacing a folder that holds less than a checkpoint (allowed: empty, only the
    config, ...): a Ctrl-C between the swap's renames left its copy aside as
    ``.ck.<8 hex>.old``, and the next save never removed it (``ck`` there). Now the next
    save removes a copy holding a checkpoint's file (is_checkpoint_copy); an empty one
    (or a file browser's file alone) proves nothing and is left as it is. With ``ck``
    missing (a kill between the renames) no such copy is put back (only a whole
    checkpoint is): the save writes ``ck``, the next one removes the copy as above; a
    second rename failing puts the copy this save moved back at once (as before)."""
    import shutil
    import warnings

    net = torch.nn.Conv2d(3, 4, 3)
    ck = tmp_path / "ck"
    removed = holds in ("config only", "weights only")  # holds a checkpoint's file

    def half() -> None:
        ck.mkdir()
        for name in _HALF_CHECKPOINTS[holds]:
            (ck / name).write_text("yours")

    def kept() -> bool:
        return (sorted(os.listdir(tmp_path)) == ["ck"]
                and sorted(os.listdir(ck)) == sorted(_HALF_CHECKPOINTS[holds])
                and all((ck / n).read_text() == "yours" for n in os.listdir(ck)))

    def left() -> list[str]:
        return sorted(set(os.listdir(tmp_path)) - {"ck"})

    half()  # a Ctrl-C between the renames: the save completes, the copy aside
    with ctrl_c_in_swap(monkeypatch, ck, "between_the_renames") as pressed, \
            pytest.raises(KeyboardInterrupt):
        save_checkpoint(ck, net.state_dict(), {"model": "conv"}, overwrite=True)
    assert pressed and len(left()) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        save_checkpoint(ck, net.state_dict(), {"model": "conv2"}, overwrite=True)
    assert len(left()) == (0 if removed else 1)
    for name in left():
        shutil.rmtree(tmp_path / name)
    shutil.rmtree(ck)
    half()  # killed between the renames: ck missing, the copy aside, never put back
    ck.rename(tmp_path / ".ck.0a1b2c3d.old")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        save_checkpoint(ck, net.state_dict(), {"model": "conv"}, overwrite=False)
        assert left() == [".ck.0a1b2c3d.old"]
        save_checkpoint(ck, net.state_dict(), {"model": "conv3"}, overwrite=True)
    assert left() == ([] if removed else [".ck.0a1b2c3d.old"])
    assert '"conv3"' in (ck / "config.json").read_text()
    for name in left():
        shutil.rmtree(tmp_path / name)
    shutil.rmtree(ck)
    half()  # the second rename failing
    with second_rename_fails(monkeypatch, ck), \
            pytest.warns(UserWarning, match="back in place"):
        save_checkpoint(ck, net.state_dict(), {"model": "conv"}, overwrite=True)
    assert kept()


@pytest.mark.usefixtures("python_ctrl_c")
@pytest.mark.parametrize("files_deleted", [1, 2])
def test_a_checkpoint_whose_deletion_a_ctrl_c_stopped_leaves_no_file_after_a_save(
        tmp_path, monkeypatch, files_deleted):
    """The earlier checkpoint's deletion stopped by a Ctrl-C after its weights (deleted
    before its config, ``last``) or after both files: what was left aside (the config
    alone, or an empty folder) was recognised by nothing, so the next save left it for
    good (failed before: ``.ck.<8 hex>.old`` still there). The config alone is a copy of
    ours (is_checkpoint_copy) and the next save removes it; an empty folder proves
    nothing and is left as it is, never put back (it holds nothing to lose)."""
    net = torch.nn.Conv2d(3, 4, 3)
    ck = save_checkpoint(tmp_path / "ck", net.state_dict(), {"model": "conv"})
    with ctrl_c_after_unlinks(monkeypatch, files_deleted) as unlinked, \
            pytest.raises(KeyboardInterrupt):
        save_checkpoint(ck, net.state_dict(), {"model": "conv2"}, overwrite=True)
    assert unlinked == ["model.safetensors", "config.json"][:files_deleted]
    assert len(os.listdir(tmp_path)) == 2 and '"conv2"' in (ck / "config.json").read_text()
    save_checkpoint(ck, net.state_dict(), {"model": "conv3"}, overwrite=True)
    left = sorted(set(os.listdir(tmp_path)) - {"ck"})
    assert len(left) == files_deleted - 1
    assert all(os.listdir(tmp_path / name) == [] for name in left)


@pytest.mark.usefixtures("python_ctrl_c")
def test_a_ctrl_c_held_through_a_swap_whose_rename_fails_is_raised(tmp_path, monkeypatch):
    """A Ctrl-C held through a swap's renames, then the second rename failing (OSError):
    the press was dropped, only the OSError raised (a run asked to stop went on as a
    failure, exit 1, and a caller holding Ctrl-C itself never heard of it; failed
    before: OSError, no KeyboardInterrupt). The press is raised, the error its cause;
    the earlier folder is back in place as for the error alone."""
    import signal

    from napari_srmat import _atomic

    target = tmp_path / "ck"
    target.mkdir()
    (target / "w").write_text("old")
    replace = os.replace

    def failing(src, dst, **kwargs):
        # the staging onto ck (not the earlier ck put back)
        if (os.path.abspath(dst) == os.path.abspath(target)
                and not _atomic.SWAPPED_OUT.match(os.path.basename(src))):
            signal.raise_signal(signal.SIGINT)
            raise OSError("the disk went away")
        replace(src, dst, **kwargs)

    with monkeypatch.context() as patch, \
            pytest.warns(UserWarning, match="back in place"), \
            pytest.raises(KeyboardInterrupt) as raised:
        patch.setattr(_atomic.os, "replace", failing)
        with atomic_directory(target, overwrite=True) as tmp:
            (tmp / "w").write_text("new")
    assert isinstance(raised.value.__cause__, OSError)
    assert sorted(os.listdir(tmp_path)) == ["ck"] and (target / "w").read_text() == "old"


@pytest.mark.parametrize("overwrite", [False, True])
def test_an_earlier_checkpoint_an_interrupted_swap_left_aside_is_put_back(tmp_path,
                                                                          overwrite):
    """``ck`` missing and its earlier version aside as ``.ck.<8 hex>.old`` (a swap that a
    Ctrl-C interrupted before 2026-12-05, a kill, a failing second rename): the next
    save wrote a new ``ck`` and left the earlier one hidden for ever (failed before: no
    warning, ``.ck.0a1b2c3d.old`` still there; without overwrite the save was not even
    refused). The earlier checkpoint is put back first, and said: then refused without
    overwrite, replaced with it."""
    net = torch.nn.Conv2d(3, 4, 3)
    ckpt = save_checkpoint(tmp_path / "ck", net.state_dict(), {"model": "conv"})
    before = (ckpt / "config.json").read_text()
    ckpt.rename(tmp_path / ".ck.0a1b2c3d.old")
    with pytest.warns(UserWarning, match=r"\.ck\.0a1b2c3d\.old .*back in place"):
        if overwrite:
            save_checkpoint(ckpt, net.state_dict(), {"model": "conv2"}, overwrite=True)
        else:
            with pytest.raises(FileExistsError, match="already exists"):
                save_checkpoint(ckpt, net.state_dict(), {"model": "conv2"}, overwrite=False)
    assert sorted(os.listdir(tmp_path)) == ["ck"]
    assert ('"conv2"' in (ckpt / "config.json").read_text()) is overwrite
    if not overwrite:
        assert (ckpt / "config.json").read_text() == before


def test_a_folder_of_yours_named_like_a_copy_left_aside_is_never_moved(tmp_path):
    """A folder ``.ck.<8 hex>.old`` that is no checkpoint (a file of yours in it) beside
    a missing ``ck`` is not taken for an earlier checkpoint: it stays where it is,
    whole, and the save writes ``ck`` (putting it back would have had the overwrite
    delete it)."""
    import warnings

    yours = tmp_path / ".ck.0a1b2c3d.old"
    yours.mkdir()
    (yours / "notes.txt").write_text("mine")
    net = torch.nn.Conv2d(3, 4, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        save_checkpoint(tmp_path / "ck", net.state_dict(), {"model": "conv"}, overwrite=True)
        with atomic_directory(tmp_path / "d", overwrite=True) as tmp:  # no `ours`: none
            (tmp / "w").write_text("new")
    assert sorted(os.listdir(tmp_path)) == [".ck.0a1b2c3d.old", "ck", "d"]
    assert os.listdir(yours) == ["notes.txt"] and (yours / "notes.txt").read_text() == "mine"


def test_two_earlier_checkpoints_left_aside_are_told_and_kept(tmp_path):
    """Two earlier checkpoints aside as ``.ck.<8 hex>.old`` and no ``ck``: which is the
    earlier output cannot be told, so neither is moved or deleted; the save is refused
    in one line naming them."""
    import shutil

    from napari_srmat.outputs import OutputError

    net = torch.nn.Conv2d(3, 4, 3)
    ckpt = save_checkpoint(tmp_path / "ck", net.state_dict(), {"model": "conv"})
    shutil.copytree(ckpt, tmp_path / ".ck.9f8e7d6c.old")
    ckpt.rename(tmp_path / ".ck.0a1b2c3d.old")
    with pytest.raises(OutputError, match=r"2 earlier versions.*\.ck\.0a1b2c3d\.old") as info:
        save_checkpoint(ckpt, net.state_dict(), {"model": "conv2"}, overwrite=True)
    assert "\n" not in str(info.value)
    assert sorted(os.listdir(tmp_path)) == [".ck.0a1b2c3d.old", ".ck.9f8e7d6c.old"]


def test_a_swap_failing_part_way_in_atomic_directory_puts_the_earlier_folder_back(
        tmp_path, monkeypatch):
    """atomic_directory's swap failing after the earlier folder was renamed aside (an
    OSError at the second rename): the new folder was deleted and the earlier one left
    hidden as ``.NAME.<8 hex>.old``, ``NAME`` missing. The earlier folder is back at
    ``NAME``, said, and the error raised; a folder of yours so named that was there
    before is not the one put back, and stays."""

    target = tmp_path / "ck"
    target.mkdir()
    (target / "w").write_text("old")
    (tmp_path / ".ck.00000000.old").mkdir()
    with second_rename_fails(monkeypatch, target), \
            pytest.warns(UserWarning, match="back in place"):
        with atomic_directory(target, overwrite=True) as tmp:
            (tmp / "w").write_text("new")
    assert sorted(os.listdir(tmp_path)) == [".ck.00000000.old", "ck"]
    assert (target / "w").read_text() == "old"


def test_an_existing_checkpoint_is_refused_in_the_caller_s_words(tmp_path):
    """atomic_directory (save_checkpoint, save_model_checkpoint) worded its refusal
    itself: 'pass overwrite=True' also in srmat's one-line error, and as a bare
    FileExistsError, not the OutputExistsError of every other existing output. It is
    now the one refusal of outputs.exists_error: the keyword in Python, --overwrite in
    srmat's error line."""
    from napari_srmat.cli import error_line
    from napari_srmat.outputs import OutputExistsError

    net = torch.nn.Conv2d(3, 4, 3)
    ckpt = save_checkpoint(tmp_path / "ck", net.state_dict(), {"model": "conv"})
    before = sorted(p.name for p in ckpt.iterdir())
    with pytest.raises(OutputExistsError) as info:
        save_checkpoint(ckpt, net.state_dict(), {"model": "conv"}, overwrite=False)
    assert str(info.value) == f"{ckpt} already exists (pass overwrite=True to replace it)"
    assert error_line("srmat x", info.value) == (
        f"srmat x: error: {ckpt} already exists (pass --overwrite to replace it)")
    assert sorted(p.name for p in ckpt.iterdir()) == before


def test_checkpoint_round_trip(tmp_path):
    net = torch.nn.Conv2d(3, 4, 3)
    ckpt = save_checkpoint(tmp_path / "ck", net.state_dict(), {"model": "conv", "k": 3})
    state, config = load_checkpoint(ckpt)
    assert config == {"model": "conv", "k": 3}
    other = torch.nn.Conv2d(3, 4, 3)
    other.load_state_dict(state)
    x = torch.rand(1, 3, 8, 8)
    for k, v in net.state_dict().items():  # the weights round-trip bit for bit
        assert torch.equal(other.state_dict()[k], v), k
    assert torch.allclose(net(x), other(x), rtol=0, atol=1e-6)
    # also loadable through the .safetensors file itself
    state2, _ = load_checkpoint(ckpt / "model.safetensors")
    assert set(state2) == set(state)


@pytest.mark.parametrize("name", ["model.pt", "weights.pth", "x.ckpt", "m.pkl", "p.bin"])
def test_checkpoint_refuses_pickles(tmp_path, name):
    path = tmp_path / name
    torch.save({"a": torch.zeros(1)}, path)
    with pytest.raises(CheckpointError, match="pickle"):
        load_checkpoint(path)


def test_a_missing_pickle_path_is_told_missing_not_unsafe(tmp_path):
    """A checkpoint path that does not exist but ends in .ckpt / .pt (a typo in a
    notebook) was refused as 'pickle checkpoints can run arbitrary code; convert it',
    a file that is not there (bad-input sweep of predict_boundaries(model=...))."""
    with pytest.raises(CheckpointError, match=r"^.*nope\.ckpt: checkpoint not found$"):
        load_checkpoint(tmp_path / "nope.ckpt")


def test_checkpoint_missing_and_incomplete(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text(json.dumps({"model": "x"}))
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_checkpoint(tmp_path / "half")
    with pytest.raises(CheckpointError, match="model"):
        save_checkpoint(tmp_path / "bad", {"w": torch.zeros(1)}, {"no_model": 1})


@pytest.mark.parametrize("name", ["model.png", "sr.OME.TIF"])
def test_a_checkpoint_folder_named_like_an_image_is_refused(tmp_path, name):
    """save_checkpoint (and so save_model_checkpoint, export_checkpoint) wrote a checkpoint
    folder named like an image file ("model.png"), which df53799 refuses for every other
    output folder; it is refused by the same rule (outputs.check_folder_name), nothing
    written."""
    from napari_srmat.outputs import OutputError
    from napari_srmat.sr import load_model, save_model_checkpoint

    with pytest.raises(OutputError, match="the output is a folder, not a "):
        save_checkpoint(tmp_path / name, {"w": torch.zeros(2)}, {"model": "x"})
    with pytest.raises(OutputError, match="the output is a folder, not a "):
        save_model_checkpoint(load_model("cnn", scale=2, device="cpu", pretrained=False,
                                         n_feats=8, n_blocks=1), tmp_path / name)
    assert not list(tmp_path.iterdir())


def test_checkpoint_corrupt_config(tmp_path):
    ckpt = save_checkpoint(tmp_path / "ck", {"w": torch.zeros(2)}, {"model": "x"})
    (ckpt / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="JSON"):
        load_checkpoint(ckpt)


def test_resolve_device():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in {"cpu", "cuda", "mps"}
    for bad in ("tpu", "cudax", "cuda:", 3):
        with pytest.raises(ValueError, match="device"):
            resolve_device(bad)
    # a cluster worker's device is checked by name, before anything runs: "tpu" was
    # silently ignored without a scheduler
    from napari_srmat import super_resolve

    with pytest.raises(ValueError, match="unknown worker_device 'tpu'"):
        super_resolve(np.zeros((16, 16), np.uint8), "bicubic", worker_device="tpu")
    assert super_resolve(np.zeros((16, 16), np.uint8), "bicubic", scale=2,
                         worker_device="CUDA:1").shape[:2] == (32, 32)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            resolve_device("cuda")


def test_cli_help_and_version(capsys):
    assert main([]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert "srmat" in capsys.readouterr().out


def test_json_value_handles_numpy_and_one_rule_serves_both_writers():
    """One JSON rule (``checkpoint.json_value``): strict for the project's JSON files,
    and ``outputs.json_ready`` the same for what it knows, ``str`` for the rest."""
    from napari_srmat.checkpoint import json_value
    from napari_srmat.outputs import json_ready

    value = {"a": np.float32(1.5), "b": np.arange(3), "p": Path("x") / "y"}
    text = json.dumps(value, default=json_value)
    assert json.loads(text) == {"a": 1.5, "b": [0, 1, 2], "p": str(Path("x") / "y")}
    assert json_ready(value) == json.loads(text)
    with pytest.raises(TypeError):
        json.dumps({"s": {1, 2}}, default=json_value)
    assert json_ready({"s": complex(1, 2)}) == {"s": "(1+2j)"}


def test_eta_estimator_times_real_work_not_skipped_work():
    from napari_srmat.jobs import EtaEstimator, Progress, format_duration

    eta = EtaEstimator()
    # a resumed job: 60 of 100 tiles were done before; the first event shows them
    assert eta.update(Progress(60, 100, stage="tiles"), now=0.0) is None
    assert eta.update(Progress(60, 100, stage="tiles"), now=1.0) is None
    # 10 real tiles in 20 s -> 30 left take 60 s
    assert eta.update(Progress(70, 100, stage="tiles"), now=20.0) == 60.0
    assert eta.update(Progress(100, 100, stage="tiles"), now=80.0) is None  # finished
    # a new stage starts over
    assert eta.update(Progress(0, 5, stage="pyramid"), now=81.0) is None
    assert eta.update(Progress(1, 5, stage="pyramid"), now=83.0) == 8.0
    assert format_duration(59) == "59 s" and format_duration(7200) == "2.0 h"


def test_the_device_guess_without_torch(monkeypatch):
    """What the widgets' time estimate assumes before torch is imported: a torch that
    another thread is still importing is not loaded (import torch would block the GUI
    thread on its lock); a CPU-only torch wheel runs on the CPU whatever driver the
    machine has (it returned "unknown", so a multi-hour CPU job started without asking);
    CUDA_VISIBLE_DEVICES="" hides NVIDIA devices; WSL's /dev/dxg is an NVIDIA driver."""
    import sys
    import types

    from napari_srmat import device

    built = device._torch_build_gpus()
    import torch

    assert built is not None
    assert ("cuda" in built) == (torch.version.cuda is not None)
    assert ("hip" in built) == (getattr(torch.version, "hip", None) is not None)

    half = types.ModuleType("torch")
    half.__spec__ = types.SimpleNamespace(_initializing=True)
    monkeypatch.setitem(sys.modules, "torch", half)
    assert not device.torch_loaded()
    half.__spec__ = types.SimpleNamespace(_initializing=False)
    assert device.torch_loaded()

    if sys.platform == "darwin":
        return
    exists = {"/dev/dxg"}
    monkeypatch.setattr(device.os.path, "exists", lambda p: p in exists)
    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(device, "_torch_build_gpus", lambda: {"cuda"})
    assert device._gpu_may_exist()  # WSL with a CUDA torch
    monkeypatch.setattr(device, "_torch_build_gpus", lambda: set())
    assert not device._gpu_may_exist()  # a CPU wheel
    monkeypatch.setattr(device, "_torch_build_gpus", lambda: None)
    assert device._gpu_may_exist()  # build unknown: the driver counts
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert not device._gpu_may_exist()


#: Copies aside as ``.ck.<8 hex>.old`` with ``ck`` missing that are no whole checkpoint:
#: never put back (a save refused, a load failing on them), never deleted unless they
#: hold a checkpoint's file (an empty one proves nothing).
_NOT_WHOLE_COPIES = {"empty": (), "finder only": (".DS_Store",),
                     "config only": ("config.json",)}


@pytest.mark.parametrize("holds", _NOT_WHOLE_COPIES)
def test_a_copy_aside_that_is_no_whole_checkpoint_is_never_put_back(tmp_path, holds):
    """``ck`` missing and a folder ``.ck.0a1b2c3d.old`` holding less than a checkpoint
    (an empty folder of yours, what a stopped deletion left): save_checkpoint(ck,
    overwrite=False) moved it to ``ck``, warned 'back in place', then refused 'already
    exists', on every rerun (failed before: FileExistsError). Only a whole checkpoint is
    put back now; this save writes ``ck`` and leaves the copy as it is, unsaid."""
    import warnings

    copy = tmp_path / ".ck.0a1b2c3d.old"
    copy.mkdir()
    for name in _NOT_WHOLE_COPIES[holds]:
        (copy / name).write_text('{"model": "conv"}')
    net = torch.nn.Conv2d(3, 4, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        save_checkpoint(tmp_path / "ck", net.state_dict(), {"model": "new"}, overwrite=False)
    assert '"new"' in (tmp_path / "ck" / "config.json").read_text()
    assert sorted(os.listdir(copy)) == sorted(_NOT_WHOLE_COPIES[holds])


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_refused_save_touches_no_copy_aside(tmp_path, overwrite):
    """``ck`` a folder of yours (notes.txt) and ``.ck.deadbeef.old`` holding only a
    config.json: save_checkpoint(ck, overwrite=False) deleted the copy, then refused
    (failed before: the copy gone). A save that is refused now touches nothing."""
    ck = tmp_path / "ck"
    ck.mkdir()
    (ck / "notes.txt").write_text("mine")
    copy = tmp_path / ".ck.deadbeef.old"
    copy.mkdir()
    (copy / "config.json").write_text("{}")
    net = torch.nn.Conv2d(3, 4, 3)
    with pytest.raises(FileExistsError):
        save_checkpoint(ck, net.state_dict(), {"model": "conv"}, overwrite=overwrite)
    assert sorted(os.listdir(tmp_path)) == [".ck.deadbeef.old", "ck"]
    assert os.listdir(ck) == ["notes.txt"] and os.listdir(copy) == ["config.json"]
    assert (copy / "config.json").read_text() == "{}"
