"""Data safety: no command loses a user's file or presents wrong output as complete.

One test (or more) per defect of the data-safety issue; each drives the real CLI
(``napari_srmat.cli.main``) or the library entry the CLI calls.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
import zarr
from _ctrl_c import SWAP_MOMENTS, ctrl_c_in_swap, python_ctrl_c  # noqa: F401
from PIL import Image

from napari_srmat.cli import main
from napari_srmat.io import read_image
from napari_srmat.jobs import Progress, StopToken, run_job
from napari_srmat.outputs import (
    MARKER_NAME,
    OutputError,
    OutputLock,
    array_fingerprint,
    check_not_input,
    identity_differences,
)
from napari_srmat.tiling import TilingError, tiled_apply

SR = ["sr", "run"]
FAST = ["--model", "bicubic", "--tile", "64", "--overlap", "8"]


def _png(path: Path, seed: int = 0, size: int = 48) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray((rng.random((size, size, 3)) * 255).astype(np.uint8)).save(path)
    return path


def _run(argv, capsys) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err
    return rc, cap.out, cap.err


def _one_error_line(err: str) -> bool:
    """The error is one line, the last one (progress and [info] lines may precede it)."""
    lines = err.strip().splitlines()
    errors = [ln for ln in lines if ln.startswith("srmat ")]
    return len(errors) == 1 and lines[-1] == errors[0]


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(read_image(path).data)


def _stopped_after_one_tile(image: Path, model, out: Path, **kwargs):
    """Super-resolve ``image`` into ``out`` and stop after the first tile: leaves
    ``out.partial`` for a resume (returns the job's result: None)."""
    from napari_srmat.sr import super_resolve_job

    token = StopToken()

    def stop_early(ev):
        if isinstance(ev, Progress) and ev.done >= 1:
            token.request_stop()

    return run_job(super_resolve_job(read_image(image), model, out=out, stop=token, **kwargs),
                   quiet=True, on_event=stop_early)


def _tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file()}


# --------------------------------------------------------------------------- 1: overwrite


def test_overwrite_never_deletes_a_folder_napari_srmat_did_not_write(tmp_path, capsys):
    inp = _png(tmp_path / "in.png")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "lab-book.txt").write_text("three weeks of measurements")
    before = _tree(notes)
    rc, _, err = _run([*SR, inp, notes, "--overwrite", *FAST], capsys)
    assert rc == 2 and "did not write" in err and _one_error_line(err)
    assert _tree(notes) == before
    # an empty folder of the user's is not taken over either
    empty = tmp_path / "empty.zarr"
    empty.mkdir()
    rc, _, err = _run([*SR, inp, empty, "--overwrite", *FAST], capsys)
    assert rc == 2 and "did not write" in err and empty.is_dir()
    # edges predict: same rule for its output folder
    rc, _, err = _run(["edges", "predict", inp, "--out", notes, "--overwrite", "--tile", "64",
                       "--overlap", "16", "--device", "cpu"], capsys)
    assert rc == 2 and "did not write" in err
    assert _tree(notes) == before


def test_overwrite_never_replaces_another_command_s_output_or_a_user_s_file_in_it(
        tmp_path, capsys):
    """``sr run --overwrite`` replaces only an SR store of its own that holds nothing else:
    not an ``edges predict`` folder, nor its own store once the user put a file in it."""
    inp = _png(tmp_path / "in.png")
    store = tmp_path / "sr.ome.zarr"
    assert _run([*SR, inp, store, *FAST], capsys)[0] == 0
    (store / "notes.txt").write_text("which sample this was")
    before = _tree(store)
    rc, _, err = _run([*SR, inp, store, "--overwrite", *FAST], capsys)
    assert rc == 2 and "notes.txt" in err and _one_error_line(err)
    assert _tree(store) == before
    (store / "notes.txt").unlink()  # without it, the store is replaced as asked
    assert _run([*SR, inp, store, "--overwrite", *FAST], capsys)[0] == 0
    edges = tmp_path / "edges"
    assert _run(["edges", "predict", inp, "--out", edges, "--device", "cpu"],
                capsys)[0] == 0
    before = _tree(edges)
    rc, _, err = _run([*SR, inp, edges, "--overwrite", *FAST], capsys)
    assert rc == 2 and "not this kind" in err and _one_error_line(err)
    assert _tree(edges) == before


def test_synth_never_writes_over_a_user_s_file_nor_silently_over_its_own(tmp_path, capsys):
    out = tmp_path / "synth"
    base = ["synth", out, "--size-px", "32", "--grain-size-px", "8"]
    assert _run(base, capsys)[0] == 0
    first = _tree(out)
    (out / "synth_0001_image.png").write_bytes(b"the user's own picture")
    rc, _, err = _run([*base, "--n", "2", "--overwrite"], capsys)
    assert rc == 2 and "did not write" in err and _one_error_line(err)
    assert _tree(out) == {**first, "synth_0001_image.png": b"the user's own picture"}
    (out / "synth_0001_image.png").unlink()
    rc, _, err = _run([*base, "--seed", "0"], capsys)  # its own image: only when asked
    assert rc == 2 and "--overwrite" in err and _tree(out) == first
    assert _run([*base, "--n", "2", "--overwrite"], capsys)[0] == 0
    assert json.loads((out / MARKER_NAME).read_text())["complete"] is True
    assert {"synth_0001_image.png", "synth_0001.json"} <= set(_tree(out))
    for size in ("1e9", "inf", "33"):  # a grain larger than the image is refused
        rc, _, err = _run(["synth", tmp_path / f"big{size}", "--size-px", "32", "--grain-size-px",
                           size], capsys)
        assert rc == 2 and "at most the image's larger side" in err and _one_error_line(err)


def test_synth_refuses_a_set_the_disk_cannot_hold_before_making_its_folder(
        tmp_path, capsys, monkeypatch):
    """--n had no bound: a set larger than the disk was started (and failed part-way), and
    --n 100000000000 created the folder, then checked its names for ever. The set's label
    TIFFs alone (int32, uncompressed) must fit in the free space, checked first."""
    import shutil

    out = tmp_path / "synth"
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage",
                        lambda p: real(p)._replace(free=3 * 4 * 64 * 64 - 1))
    rc, _, err = _run(["synth", out, "--size-px", "64", "--grain-size-px", "16", "--n", "3"],
                      capsys)
    assert rc == 2 and "free on" in err and _one_error_line(err) and not out.exists()
    monkeypatch.setattr(shutil, "disk_usage", real)
    rc, _, err = _run(["synth", out, "--size-px", "32", "--grain-size-px", "8", "--n",
                       str(10**11)], capsys)
    assert rc == 2 and "--n 100000000000" in err and _one_error_line(err)
    assert not out.exists()
    # a --size far too large was told "use a larger mean_grain_size_px" (no such flag)
    rc, _, err = _run(["synth", out, "--size-px", str(10**9)], capsys)
    assert rc == 2 and f"--size-px {10**9} needs" in err and _one_error_line(err)
    assert "mean_grain_size_px" not in err and not out.exists()


def test_synth_interrupted_part_way_finishes_on_the_same_command(tmp_path, capsys,
                                                                 monkeypatch):
    """Ctrl-C after a set's image and before its record: the image was taken for the
    user's ("napari-srmat did not write it"), the seed was blocked for good, also with
    --overwrite. The record is written first, marked unfinished."""
    import napari_srmat.io as srmat_io

    out = tmp_path / "synth"
    base = ["synth", out, "--size-px", "32", "--grain-size-px", "8", "--n", "2"]
    real, calls = srmat_io.png_bytes, []

    def interrupted_at_the_second_file(*a, **k):
        calls.append(1)
        if len(calls) == 2:  # the first set's mask
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(srmat_io, "png_bytes", interrupted_at_the_second_file)
    rc, _, err = _run(base, capsys)
    assert rc == 130 and "interrupted" in err
    monkeypatch.setattr(srmat_io, "png_bytes", real)
    assert (out / "synth_0000_image.png").exists() and not (out / "synth_0000_mask.png").exists()
    assert json.loads((out / "synth_0000.json").read_text())["unfinished"] is True
    rc, _, err = _run(base, capsys)  # the same command finishes, without --overwrite
    assert rc == 0, err
    record = json.loads((out / "synth_0000.json").read_text())
    assert "unfinished" not in record and record["n_grains"] > 0
    assert {f"synth_000{i}_{k}" for i in (0, 1) for k in ("image.png", "mask.png",
                                                          "labels.tif")} <= set(_tree(out))
    assert json.loads((out / MARKER_NAME).read_text())["complete"] is True
    rc, _, err = _run(base, capsys)  # a finished set: only when asked
    assert rc == 2 and "--overwrite" in err


@pytest.mark.parametrize("flag, value", [
    ("--grain-size-px", "0"), ("--grain-size-px", "1000"), ("--size-spread", "-3"),
    ("--missing-boundary-fraction", "2"), ("--boundary-width", "-1"),
])
def test_synth_bad_parameter_creates_nothing_and_names_the_flag(tmp_path, capsys, flag, value):
    """A rendering parameter out of range was found only after OUT_DIR had been created
    (with its marker), and the error named the library's parameter (mean_grain_size_px)
    instead of the flag the user typed."""
    out = tmp_path / "new"
    rc, _, err = _run(["synth", out, "--size-px", "128", flag, value], capsys)
    assert rc == 2 and _one_error_line(err)
    assert err.startswith(f"srmat synth: error: {flag} must be "), err
    assert not out.exists()


def test_synth_size_that_does_not_fit_in_memory_creates_nothing(tmp_path, capsys,
                                                               monkeypatch):
    """`srmat synth OUT --size 100000` created OUT (with an incomplete marker) and then
    failed with the library's memory message (``generate_microstructure needs 111.8 GiB
    ... render it lazily (napari_srmat.synth.lazy_microstructure ...)``); the memory rule
    is now checked with the other parameters, before OUT is created, naming --size."""
    from napari_srmat import estimates

    monkeypatch.setattr(estimates, "available_memory_bytes", lambda: 2 * 2**30)
    out = tmp_path / "new"
    rc, _, err = _run(["synth", out, "--size-px", "30000"], capsys)
    assert rc == 2 and _one_error_line(err)
    assert err.startswith("srmat synth: error: --size-px 30000 needs "), err
    assert "generate_microstructure" not in err and "smaller --size-px" in err
    assert not out.exists()
    assert _run(["synth", out, "--size-px", "64", "--grain-size-px", "8"], capsys)[0] == 0


@pytest.mark.parametrize("command", ["sr", "edges"])
@pytest.mark.parametrize("given", ["", "."])
def test_an_output_path_naming_no_entry_is_told_as_such(tmp_path, capsys, monkeypatch,
                                                         command, given):
    """`srmat sr run in.png ""` (and `edges predict --out ""`) was told as ``output .
    contains the input in.png``: the empty path, made a pathlib.Path, is the current
    folder. The location rule (check_output_location) comes first now, on the path as
    typed."""
    monkeypatch.chdir(tmp_path)
    _png(tmp_path / "in.png")
    argv = ([*SR, "in.png", given, *FAST] if command == "sr" else
            ["edges", "predict", "in.png", "--out", given, "--device", "cpu"])
    rc, _, err = _run(argv, capsys)
    assert rc == 2 and _one_error_line(err)
    assert f"output path {given!r} names no file or folder of its own" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_output_that_is_or_contains_the_input_is_refused(tmp_path, capsys):
    inp = _png(tmp_path / "in.png")
    before = inp.read_bytes()
    rc, _, err = _run([*SR, inp, inp, "--overwrite", *FAST], capsys)
    assert rc == 2 and "is the input" in err
    assert inp.read_bytes() == before
    # a Zarr input: neither itself nor a path inside it nor its parent folder
    rc, _, _ = _run([*SR, inp, tmp_path / "a.zarr", *FAST], capsys)
    assert rc == 0
    for out in (tmp_path / "a.zarr", tmp_path / "a.zarr" / "x.zarr", tmp_path):
        rc, _, err = _run([*SR, tmp_path / "a.zarr", out, "--overwrite", *FAST], capsys)
        assert rc == 2 and "input" in err
    assert read_image(tmp_path / "a.zarr").shape[:2] == (192, 192)
    with pytest.raises(OutputError, match="lies inside the input"):
        check_not_input(tmp_path / "in" / "x", [tmp_path / "in"])


def test_audit_output_is_never_an_input_nor_a_foreign_file(tmp_path, capsys):
    lr = _png(tmp_path / "lr.png", size=24)
    sr_path = tmp_path / "sr.png"
    img = np.asarray(Image.open(lr).resize((96, 96), Image.BICUBIC))
    Image.fromarray(img).save(sr_path)
    before = sr_path.read_bytes()
    rc, _, err = _run(["audit", "candidates", lr, sr_path, "--out", sr_path, "--overwrite",
                       "--quiet"], capsys)
    assert rc == 2 and "is the input" in err and sr_path.read_bytes() == before
    foreign = tmp_path / "mine.json"
    foreign.write_text('{"my": "data"}')
    rc, _, err = _run(["audit", "candidates", lr, sr_path, "--out", foreign, "--overwrite",
                       "--quiet"], capsys)
    assert rc == 2 and "not written by napari-srmat" in err
    assert foreign.read_text() == '{"my": "data"}'
    # our own session is replaced with --overwrite, and only with it
    ours = tmp_path / "audit.json"
    assert _run(["audit", "candidates", lr, sr_path, "--out", ours, "--quiet"], capsys)[0] == 0
    rc, _, err = _run(["audit", "candidates", lr, sr_path, "--out", ours, "--quiet"], capsys)
    assert rc == 2 and "--overwrite" in err
    assert _run(["audit", "candidates", lr, sr_path, "--out", ours, "--overwrite",
                 "--quiet"], capsys)[0] == 0
    # a report never replaces a Markdown file of the user's
    md = tmp_path / "notes.md"
    md.write_text("# my notes\n")
    rc, _, err = _run(["audit", "report", ours, "--out", md, "--no-thumbnails"], capsys)
    assert rc == 2 and md.read_text() == "# my notes\n"


# --------------------------------------------------------------------------- 2: identity


def test_a_complete_output_is_reused_only_for_the_same_input_and_settings(tmp_path, capsys):
    a, b = _png(tmp_path / "a.png", 1), _png(tmp_path / "b.png", 2)
    out = tmp_path / "out.zarr"
    assert _run([*SR, a, out, *FAST], capsys)[0] == 0
    ref_a = _pixels(out)
    stamp = (out / "0" / ".zarray").stat().st_mtime_ns
    # the same command again: nothing to do, nothing rewritten
    rc, _, err = _run([*SR, a, out, *FAST], capsys)
    assert rc == 0 and "already complete" in err
    assert (out / "0" / ".zarray").stat().st_mtime_ns == stamp
    # another input: refused, naming what differs; OUT untouched
    rc, _, err = _run([*SR, b, out, *FAST], capsys)
    assert rc == 2 and "input.pixels" in err
    np.testing.assert_array_equal(_pixels(out), ref_a)
    # another model: refused too
    rc, _, err = _run([*SR, a, out, "--model", "lanczos", "--tile", "64", "--overlap", "8"],
                      capsys)
    assert rc == 2 and "attrs.model" in err
    # --overwrite replaces our own store with the new result
    assert _run([*SR, b, out, "--overwrite", *FAST], capsys)[0] == 0
    assert _run([*SR, b, tmp_path / "ref_b.zarr", *FAST], capsys)[0] == 0
    ref_b = _pixels(tmp_path / "ref_b.zarr")
    np.testing.assert_array_equal(_pixels(out), ref_b)
    assert not np.array_equal(ref_a, ref_b)
    marker = json.loads((out / MARKER_NAME).read_text())
    assert marker["complete"] and marker["kind"] == "super_resolution"
    assert marker["identity"]["input"]["file"]["path"] == str(b.resolve())


@pytest.mark.parametrize("command", ["sr run", "edges predict"])
def test_overwrite_starts_over_a_partial_output_started_differently(tmp_path, capsys,
                                                                    command):
    """``srmat sr run --overwrite`` (and ``edges predict --overwrite``) into an OUT whose
    OUT.partial was started with other settings was refused ("pass --no-resume"):
    --overwrite, which replaces an output of ours made differently, did not replace an
    unfinished one, and the Super-resolution widget's Overwrite (its only control) did
    the same. It now starts it over; a file napari-srmat did not write in it is never
    deleted, and without --overwrite the refusal stays."""
    from napari_srmat.edges import load_boundary_model, predict_boundaries_job

    a = _png(tmp_path / "a.png", 1, 96)
    out = tmp_path / "out.zarr"
    partial = Path(f"{out}.partial")
    if command == "sr run":
        _stopped_after_one_tile(a, "bicubic", out, tile=32, overlap=8)
        argv = [*SR, a, out, "--model", "bicubic", "--tile", "48", "--overlap", "8"]
        ref = [*SR, a, tmp_path / "ref.zarr", *argv[4:]]
    else:
        token = StopToken()

        def stop_early(ev):
            if isinstance(ev, Progress) and ev.done >= 1:
                token.request_stop()

        model = load_boundary_model(device="cpu", tta="none")
        assert run_job(predict_boundaries_job(read_image(a), model, out=out, tile=32,
                                              overlap=8, stop=token),
                       quiet=True, on_event=stop_early) is None
        argv = ["edges", "predict", a, "--out", out, "--tta", "none", "--tile", "48",
                "--overlap", "8", "--device", "cpu"]
        ref = [*argv[:3], "--out", tmp_path / "ref.zarr", *argv[5:]]
    assert partial.is_dir() and not out.exists()
    rc, _, err = _run(argv, capsys)
    assert rc == 2 and _one_error_line(err) and "was started from another input" in err
    assert err.endswith("or pass --no-resume to start over\n") and partial.is_dir()
    note = partial / "my_note.txt"  # a file of the user's put in there
    note.write_text("mine")
    rc, _, err = _run([*argv, "--overwrite"], capsys)
    assert rc == 2 and _one_error_line(err) and "my_note.txt" in err
    assert note.read_text() == "mine"
    note.unlink()
    assert _run([*argv, "--overwrite"], capsys)[0] == 0
    assert not partial.exists()
    assert _run(ref, capsys)[0] == 0
    name = "" if command == "sr run" else "prob.ome.zarr"
    np.testing.assert_array_equal(_pixels(out / name), _pixels(tmp_path / "ref.zarr" / name))


def test_a_partial_output_is_resumed_only_with_the_same_input(tmp_path, capsys):

    a, b = _png(tmp_path / "a.png", 1, 96), _png(tmp_path / "b.png", 2, 96)
    out = tmp_path / "out.zarr"
    res = _stopped_after_one_tile(a, "bicubic", out, tile=32, overlap=8)
    assert res is None and Path(f"{out}.partial").is_dir() and not out.exists()
    rc, _, err = _run([*SR, b, out, "--model", "bicubic", "--tile", "32", "--overlap", "8"],
                      capsys)
    # the input in words (s51; "input.pixels: stored <digest> != requested <digest>" before)
    assert rc == 2 and "started from another input" in err and "input.pixels" not in err
    assert f"(the input image: other pixels than {Path(a).resolve()} held when it was " \
           "started); it is kept: give another output path, or rerun with the " \
           "input it was started from" in err
    assert "or pass --no-resume to start over" in err and "resume=False" not in err  # flag
    note = Path(f"{out}.partial") / "my_note.txt"  # a file of the user's put in there
    note.write_text("mine")
    start_over = [*SR, b, out, "--model", "bicubic", "--tile", "32", "--overlap", "8",
                  "--no-resume"]
    rc, _, err = _run(start_over, capsys)  # starting over removed it with the staging
    assert rc == 2 and _one_error_line(err) and "my_note.txt" in err
    assert note.read_text() == "mine"
    note.unlink()
    rc, _, err = _run(start_over, capsys)
    assert rc == 0
    assert _run([*SR, b, tmp_path / "ref.zarr", "--model", "bicubic", "--tile", "32",
                 "--overlap", "8"], capsys)[0] == 0
    np.testing.assert_array_equal(_pixels(out), _pixels(tmp_path / "ref.zarr"))


def test_a_moved_checkpoint_resumes_and_other_weights_do_not(tmp_path, capsys):
    # the checkpoint's path is recorded but not compared: its weights' hash decides
    import torch

    from napari_srmat.sr import load_model
    from napari_srmat.sr.registry import save_model_checkpoint

    a = _png(tmp_path / "a.png", 1, 96)
    first, moved, other = tmp_path / "ckpt", tmp_path / "moved", tmp_path / "other"
    torch.manual_seed(0)
    model = load_model("cnn", scale=2, pretrained=False, device="cpu")
    save_model_checkpoint(model, first)
    with torch.no_grad():
        for p in model.net.parameters():
            p.add_(0.01)
    save_model_checkpoint(model, other)
    out = tmp_path / "out.zarr"
    _stopped_after_one_tile(a, load_model("cnn", checkpoint=str(first), device="cpu"), out,
                            tile=64, overlap=24)
    assert Path(f"{out}.partial").is_dir() and not out.exists()
    first.rename(moved)
    args = [*SR, a, out, "--model", "cnn", "--tile", "64", "--overlap", "24", "--checkpoint"]
    rc, _, err = _run([*args, other], capsys)
    # in words, not the digests (s51: was "attrs.weights_sha256: stored ... != ...")
    assert rc == 2 and "the model's weights: not those of " in err and "_sha256" not in err
    rc, _, err = _run([*args, moved], capsys)
    assert rc == 0 and "resuming" in err
    assert _run([*SR, a, tmp_path / "ref.zarr", "--model", "cnn", "--tile", "64", "--overlap",
                 "24", "--checkpoint", moved], capsys)[0] == 0
    np.testing.assert_array_equal(_pixels(out), _pixels(tmp_path / "ref.zarr"))


def test_a_store_resumed_with_a_moved_checkpoint_records_both_paths(tmp_path, capsys):
    """A partial resumed after its checkpoint moved (same weights: the same output) was
    finished recording only the path of the last run: the path it was started with was
    lost. The store records the path the finishing run loaded (attrs.checkpoint, where
    the checkpoint is now) and the one it was started with (started_with); a rerun on
    the complete store changes nothing (it describes the run that made its pixels)."""
    import torch

    from napari_srmat.io import read_image
    from napari_srmat.sr import load_model
    from napari_srmat.sr.registry import save_model_checkpoint

    a = _png(tmp_path / "a.png", 1, 96)
    first, second, third = tmp_path / "ckpt", tmp_path / "moved", tmp_path / "again"
    torch.manual_seed(0)
    save_model_checkpoint(load_model("cnn", scale=2, pretrained=False, device="cpu"), first)
    out = tmp_path / "out.zarr"
    _stopped_after_one_tile(a, load_model("cnn", checkpoint=str(first), device="cpu"), out,
                            tile=64, overlap=24)
    first.rename(second)  # resumed from the new place, stopped again
    _stopped_after_one_tile(a, load_model("cnn", checkpoint=str(second), device="cpu"), out,
                            tile=64, overlap=24)
    assert Path(f"{out}.partial").is_dir() and not out.exists()
    second.rename(third)
    args = [*SR, a, out, "--model", "cnn", "--tile", "64", "--overlap", "24", "--checkpoint"]
    rc, _, err = _run([*args, third], capsys)
    assert rc == 0 and f"started with attrs.checkpoint {first}" in err
    marker = json.loads((out / MARKER_NAME).read_text())
    assert marker["identity"]["attrs"]["checkpoint"] == str(third)
    assert marker["started_with"] == {"attrs.checkpoint": str(first)}
    srmat = read_image(out).metadata["srmat"]
    assert srmat["checkpoint"] == str(third)
    assert srmat["started_with"] == {"attrs.checkpoint": str(first)}
    # the complete store rerun with the checkpoint moved again: nothing done or rewritten
    third.rename(first)
    before = _tree(out)
    rc, _, err = _run([*args, first], capsys)
    assert rc == 0 and "already complete" in err and _tree(out) == before
    # a run that was never resumed records no started_with
    plain = tmp_path / "plain.zarr"
    assert _run([*SR, a, plain, *args[4:], first], capsys)[0] == 0
    np.testing.assert_array_equal(_pixels(plain), _pixels(out))
    assert "started_with" not in json.loads((plain / MARKER_NAME).read_text())


def test_a_sampled_input_hash_is_backed_by_the_modification_time(tmp_path, capsys,
                                                                  monkeypatch):
    # files above FILE_FULL_HASH_BYTES are hashed in sampled blocks: a change between them
    # must still be refused on resume, so their identity also holds the modification time
    import napari_srmat.outputs as outputs
    from napari_srmat.outputs import path_fingerprint

    big = tmp_path / "big.bin"
    big.write_bytes(bytes(3 * outputs.FILE_SAMPLE_BLOCK * outputs.FILE_SAMPLE_BLOCKS))
    monkeypatch.setattr(outputs, "FILE_FULL_HASH_BYTES", big.stat().st_size - 1)
    before = path_fingerprint(big)
    with open(big, "r+b") as fh:  # a byte no sampled block reads
        fh.seek(outputs.FILE_SAMPLE_BLOCK + 12345)
        fh.write(b"\1")
    os.utime(big, ns=(1, 1_700_000_000_123_456_789))
    after = path_fingerprint(big)
    assert after["sha256"] == before["sha256"]  # what the sampled hash alone would miss
    assert identity_differences(before, after) == [
        "modified: stored '" + before["modified"] + "' != requested "
        "'2023-11-14T22:13:20.123456789Z'"]
    assert "modified" not in path_fingerprint(_png(tmp_path / "small.png"))
    # the same on a resume, with a small input and a small limit
    monkeypatch.setattr(outputs, "FILE_FULL_HASH_BYTES", 1000)
    a = _png(tmp_path / "a.png", 1, 96)
    out = tmp_path / "out.zarr"
    _stopped_after_one_tile(a, "bicubic", out, tile=32, overlap=8)
    args = ["--model", "bicubic", "--tile", "32", "--overlap", "8"]
    st = a.stat()
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    rc, _, err = _run([*SR, a, out, *args], capsys)
    # in words (s51: was "input.file.modified: stored ... != requested ...")
    assert rc == 2 and f"(the input file: {a.resolve()} changed since it was started (its " \
        "contents, size or time))" in err and _one_error_line(err)
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))
    moved = a.rename(tmp_path / "moved.png")  # a move keeps the time: resumed
    rc, _, err = _run([*SR, moved, out, *args], capsys)
    assert rc == 0 and "resuming" in err


def test_edges_predict_finishing_a_killed_run_is_not_nothing_to_do(tmp_path, capsys,
                                                                      monkeypatch):
    """A run killed while it wrote prob/uncertainty from its complete tiles: the rerun
    finds the staging's inner store already complete (a notice of that store), writes
    the outputs and says so; only OUT itself already complete is nothing to do."""
    import napari_srmat.io as srmat_io

    a = _png(tmp_path / "a.png", 1, 64)
    out = tmp_path / "pred"
    args = ["--tile", "64", "--overlap", "16", "--tta", "none", "--device", "cpu"]
    write = srmat_io.write_ome_zarr

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(srmat_io, "write_ome_zarr", killed)
    assert _run(["edges", "predict", a, "--out", out, *args], capsys)[0] != 0
    assert not out.exists() and (tmp_path / "pred.partial").is_dir()
    monkeypatch.setattr(srmat_io, "write_ome_zarr", write)
    rc, said, err = _run(["edges", "predict", a, "--out", out, *args, "--json"], capsys)
    assert rc == 0 and "[notice]" in err and "already complete" in err  # the inner store
    assert json.loads(said)["nothing_to_do"] is False and (out / "prob.ome.zarr").is_dir()


@pytest.mark.usefixtures("python_ctrl_c")
@pytest.mark.parametrize("at", SWAP_MOMENTS)
def test_a_ctrl_c_in_edges_predict_s_swap_completes_it(tmp_path, capsys, monkeypatch, at):
    """``srmat edges predict b --out e --overwrite`` over an earlier ``e``, a Ctrl-C as the
    finished folder was swapped in: between the two renames ``e`` was left missing (the
    earlier one aside as ``.e.*.old``, the new one in ``e.partial``) until a rerun;
    after the last rename the ``.old`` copy stayed beside it. The swap now runs whole
    with the press held: the press ends the command (one line, no traceback) over the
    complete new ``e``, before the earlier ``e`` is deleted (minutes for large maps): it
    stays aside as ``.e.<8 hex>.old`` until the rerun, which removes it and has nothing
    else to do."""
    a, b = _png(tmp_path / "a.png", 1, 64), _png(tmp_path / "b.png", 2, 64)
    out = tmp_path / "e"
    args = ["--tile", "64", "--overlap", "16", "--tta", "none", "--device", "cpu"]
    assert _run(["edges", "predict", a, "--out", out, *args], capsys)[0] == 0
    with ctrl_c_in_swap(monkeypatch, out, at) as pressed:
        rc, _, err = _run(["edges", "predict", b, "--out", out, *args, "--overwrite"],
                          capsys)
    from napari_srmat._atomic import SWAPPED_OUT

    assert pressed and rc != 0 and _one_error_line(err)
    aside = sorted({p.name for p in tmp_path.iterdir()} - {"a.png", "b.png", "e"})
    assert len(aside) == 1 and SWAPPED_OUT.match(aside[0]), aside
    kept = _pixels(out / "prob.ome.zarr")
    rc, _, err = _run(["edges", "predict", b, "--out", out, *args], capsys)
    assert rc == 0 and "already complete" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png", "e"]
    np.testing.assert_array_equal(_pixels(out / "prob.ome.zarr"), kept)


def test_edges_predict_identity_resume_and_rerun(tmp_path, capsys):
    a, b = _png(tmp_path / "a.png", 1, 64), _png(tmp_path / "b.png", 2, 64)
    out = tmp_path / "pred"
    args = ["--tile", "64", "--overlap", "16", "--tta", "none", "--device", "cpu"]
    assert _run(["edges", "predict", a, "--out", out, *args], capsys)[0] == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [MARKER_NAME, "prob.ome.zarr", "uncertainty.ome.zarr", "prob.png", "uncertainty.png"])
    prob = _pixels(out / "prob.ome.zarr")
    rc, said, err = _run(["edges", "predict", a, "--out", out, *args], capsys)
    assert rc == 0 and "already complete" in err and "nothing written" in err
    # an outcome, told as a notice (a napari notification in a widget), not [info]
    assert f"[notice] {out} is already complete" in err
    assert "wrote" not in said  # it printed "wrote ..." although it wrote nothing
    rc, said, _ = _run(["edges", "predict", a, "--out", out, *args, "--json"], capsys)
    assert rc == 0 and json.loads(said)["nothing_to_do"] is True
    rc, _, err = _run(["edges", "predict", b, "--out", out, *args], capsys)
    assert rc == 2 and "input.pixels" in err
    rc, _, err = _run(["edges", "predict", a, "--out", out, *args[:-2], "--tta", "d4"],
                      capsys)
    assert rc == 2 and "tta" in err
    np.testing.assert_array_equal(_pixels(out / "prob.ome.zarr"), prob)
    assert _run(["edges", "predict", b, "--out", out, "--overwrite", *args], capsys)[0] == 0
    assert not np.array_equal(_pixels(out / "prob.ome.zarr"), prob)
    assert not any(p.name.endswith((".partial", ".lock", ".old")) for p in tmp_path.iterdir())


def test_edges_predict_resumed_from_a_moved_input_records_both_paths(tmp_path):
    """As for SR stores: a staging resumed with its input moved (same pixels) records the
    input path of the run that finished it and the one it was started with."""
    from napari_srmat.edges import load_boundary_model, predict_boundaries_job

    a = _png(tmp_path / "a.png", 1, 96)
    model = load_boundary_model(device="cpu", tta="none")
    out, token = tmp_path / "pred", StopToken()

    def stop_early(ev):
        if isinstance(ev, Progress) and ev.done >= 1:
            token.request_stop()

    kw = dict(tile=32, overlap=8)
    assert run_job(predict_boundaries_job(read_image(a), model, out=out, stop=token, **kw),
                   quiet=True, on_event=stop_early) is None
    assert Path(f"{out}.partial").is_dir() and not out.exists()
    moved = a.rename(tmp_path / "moved.png")
    run_job(predict_boundaries_job(read_image(moved), model, out=out, **kw), quiet=True)
    marker = json.loads((out / MARKER_NAME).read_text())
    assert marker["complete"]
    assert marker["identity"]["input"]["file"]["path"] == str(moved.resolve())
    assert marker["started_with"] == {"input.file.path": str(a.resolve())}


def test_identity_differences_names_each_key():
    assert identity_differences({"a": {"b": 1}, "c": 2}, {"a": {"b": 1}, "c": 2}) == []
    d = identity_differences({"a": {"b": 1}, "c": 2}, {"a": {"b": 3}, "c": 2})
    assert d == ["a.b: stored 1 != requested 3"]
    # a moved input with the same content is the same input
    assert identity_differences({"input": {"file": {"path": "/x", "sha256": "1"}}},
                                {"input": {"file": {"path": "/y", "sha256": "1"}}}) == []
    assert identity_differences(None, {"a": 1})


def test_array_fingerprint_sees_content_of_lazy_arrays():
    import dask.array as da

    a = np.zeros((4000, 4000), np.uint8)
    lazy = da.from_array(a, chunks=512)
    b = a.copy()
    b[0, 0] = 1  # inside the first sampled window
    assert array_fingerprint(lazy) == array_fingerprint(da.from_array(a.copy(), chunks=1000))
    assert array_fingerprint(lazy) != array_fingerprint(da.from_array(b, chunks=512))


# --------------------------------------------------------------------------- 3: pyramid kill


def test_killed_while_building_the_pyramid_the_same_command_finishes(tmp_path, capsys,
                                                                     monkeypatch):
    import napari_srmat.io._write as w

    inp = _png(tmp_path / "in.png", size=160)
    out = tmp_path / "out.zarr"
    real = w._build_pyramid

    def killed_after_level_1(group, axes, dtype, n_levels, chunks):
        real(group, axes, dtype, min(n_levels, 2), chunks)  # level "1" is on disk
        raise KeyboardInterrupt  # the process dies here

    monkeypatch.setattr(w, "_build_pyramid", killed_after_level_1)
    rc, _, _ = _run([*SR, inp, out, *FAST], capsys)
    assert rc == 130 and (Path(f"{out}.partial") / "1").is_dir() and not out.exists()
    monkeypatch.setattr(w, "_build_pyramid", real)
    rc, _, err = _run([*SR, inp, out, *FAST], capsys)  # was: "An array exists ... '1'"
    assert rc == 0, err
    assert _run([*SR, inp, tmp_path / "ref.zarr", *FAST], capsys)[0] == 0
    got, ref = read_image(out), read_image(tmp_path / "ref.zarr")
    assert got.n_levels == ref.n_levels >= 2
    for x, y in zip(got.levels, ref.levels):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


# --------------------------------------------------------------------------- 4: lock


def test_a_second_run_into_the_same_output_is_refused(tmp_path, capsys):
    inp = _png(tmp_path / "in.png")
    out = tmp_path / "out.zarr"
    with OutputLock(out):
        rc, _, err = _run([*SR, inp, out, *FAST], capsys)
        assert rc == 2 and f"being written by process {os.getpid()}" in err
        rc, _, err = _run(["edges", "predict", inp, "--out", out, "--tile", "64",
                           "--overlap", "16", "--device", "cpu"], capsys)
        assert rc == 2 and "being written by" in err
    assert not out.exists() and not Path(f"{out}.lock").exists()
    # a lock file left by a killed process (no flock held) is taken over
    Path(f"{out}.lock").write_text(json.dumps({"pid": 999999, "host": "elsewhere"}))
    rc, _, err = _run([*SR, inp, out, *FAST], capsys)
    assert rc == 0, err
    assert out.is_dir() and not Path(f"{out}.lock").exists()
    # an empty one (killed between creating and writing it) too
    out2 = tmp_path / "out2.zarr"
    Path(f"{out2}.lock").write_text("")
    assert _run([*SR, inp, out2, *FAST], capsys)[0] == 0
    assert not Path(f"{out2}.lock").exists()


def test_a_file_of_the_users_named_like_the_lock_is_never_touched(tmp_path, capsys):
    """`srmat sr run in.png out.ome.zarr` beside a file of the user's named
    out.ome.zarr.lock truncated it, wrote its owner record into it and deleted it on
    release; a folder of that name failed with 'out.ome.zarr.lock: Is a directory' (exit 1).
    The lock is taken only over a lock file of ours."""
    inp = _png(tmp_path / "in.png")
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    (tmp_path / "f.zarr.lock").write_text("my notes on the run")
    (tmp_path / "d.zarr.lock").mkdir()
    (tmp_path / "d.zarr.lock" / "a.txt").write_text("mine")
    (tmp_path / "l.zarr.lock").symlink_to(notes)
    (tmp_path / "j.zarr.lock").write_text(json.dumps({"mine": 1}))
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    for name in ("f", "d", "l", "j"):
        out = tmp_path / f"{name}.zarr"
        rc, _, err = _run([*SR, inp, out, *FAST], capsys)
        assert rc == 2 and _one_error_line(err), name
        assert (f"{out}.lock exists and was not written by napari-srmat" in err), name
        assert not out.exists() and not Path(f"{out}.partial").exists()
        with pytest.raises(OutputError, match="was not written by napari-srmat"):
            OutputLock(out).acquire()
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


# --------------------------------------------------------------------------- 5: OS errors


def test_os_errors_are_one_line_and_keep_the_partial(tmp_path, capsys, monkeypatch):
    import napari_srmat.io._write as w

    inp = _png(tmp_path / "in.png", size=520)  # 3 x 3 output chunks of 1024 px
    afile = tmp_path / "afile"
    afile.write_text("x")
    rc, _, err = _run([*SR, inp, afile / "out.zarr", *FAST], capsys)
    assert rc == 2 and "is a file, not a folder" in err
    # disk full in the middle of the run: one line, partial kept, rerun resumes
    out = tmp_path / "out.zarr"
    real = w.OmeZarrStreamWriter.write_block
    calls = {"n": 0}

    def disk_full(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.partial))
        return real(self, *a, **k)

    monkeypatch.setattr(w.OmeZarrStreamWriter, "write_block", disk_full)
    args = [*SR, inp, out, "--model", "bicubic", "--tile", "32", "--overlap", "8"]
    rc, _, err = _run(args, capsys)
    assert rc == 1 and "no space left on device" in err and "disk full" in err
    assert _one_error_line(err) and Path(f"{out}.partial").is_dir()
    monkeypatch.setattr(w.OmeZarrStreamWriter, "write_block", real)
    rc, _, err = _run(args, capsys)
    assert rc == 0 and "resuming" in err
    assert _run([*SR, inp, tmp_path / "ref.zarr", *args[4:]], capsys)[0] == 0
    np.testing.assert_array_equal(_pixels(out), _pixels(tmp_path / "ref.zarr"))
    # a folder that cannot be written (simulated: the tests may run as root)
    monkeypatch.setattr("napari_srmat.outputs.os.access", lambda *a, **k: False)
    rc, _, err = _run([*SR, inp, tmp_path / "ro" / "x.zarr", *FAST], capsys)
    assert rc == 2 and "not writable" in err


@pytest.mark.parametrize("argv", [["synth", "--size-px", "32", "--grain-size-px", "8"],
                                  ["demo", "--stages", "heyn", "--size", "64", "--out"]])
def test_existing_folder_output_that_is_not_writable_is_named(tmp_path, capsys,
                                                              monkeypatch, argv):
    """An existing OUT folder that cannot be written (a read-only folder given as the
    output of `srmat synth` / `srmat demo` / a training run) failed on the marker's
    temporary file: ``OUT/..srmat_output.json.1a2b.tmp: Permission denied`` (exit 1).
    It is refused before anything is written, naming the folder (exit 2)."""
    out = tmp_path / "ro"
    out.mkdir()
    real = os.access
    # simulated (the tests may run as root): only the output folder is read-only
    monkeypatch.setattr("napari_srmat.outputs.os.access",
                        lambda p, mode, **k: Path(p) != out and real(p, mode, **k))
    rc, _, err = _run([*argv, out], capsys)
    assert rc == 2 and _one_error_line(err)
    assert f"cannot write {out}: folder {out} is not writable" in err
    assert list(out.iterdir()) == []


def test_corrupt_zarr_chunk_is_a_clear_error_and_info_verify_finds_it(tmp_path, capsys):
    z = zarr.open_array(tmp_path / "in.zarr", mode="w", shape=(512, 512), chunks=(256, 256),
                        dtype="uint8", zarr_format=2)
    z[:] = np.arange(512 * 512, dtype=np.uint32).reshape(512, 512) % 251
    chunk = tmp_path / "in.zarr" / "1.1"
    chunk.write_bytes(b"\x00garbage" + chunk.read_bytes()[8:])
    rc, out, _ = _run(["info", tmp_path / "in.zarr"], capsys)
    assert rc == 0 and "not checked" in out
    rc, out, _ = _run(["info", tmp_path / "in.zarr", "--verify"], capsys)
    assert rc == 2 and "1 of 4 blocks UNREADABLE" in out
    assert "rows 256:512 columns 256:512" in out
    rc, _, err = _run([*SR, tmp_path / "in.zarr", tmp_path / "out.zarr", *FAST], capsys)
    assert rc == 2 and "cannot read input pixels" in err and "--verify" in err


@pytest.mark.parametrize("command", ["sr", "edges"])
def test_corrupt_zarr_chunk_of_the_input_names_the_file(tmp_path, capsys, command):
    """A damaged chunk found as the job reads the input: `srmat sr run` told
    ``cannot read input pixels rows ...`` without the file, and `srmat edges predict`
    an internal error (the codec's RuntimeError from the whole-image sample of its
    exposure check, exit 1). Both are the input's error now, naming it (exit 2)."""
    path = tmp_path / "in.zarr"
    z = zarr.open_array(path, mode="w", shape=(512, 512), chunks=(256, 256),
                        dtype="uint8", zarr_format=2)
    z[:] = np.arange(512 * 512, dtype=np.uint32).reshape(512, 512) % 251
    chunk = path / "1.1"
    chunk.write_bytes(b"\x00garbage" + chunk.read_bytes()[8:])
    out = tmp_path / "out"
    argv = ([*SR, path, out, *FAST] if command == "sr" else
            ["edges", "predict", path, "--out", out, "--device", "cpu", "--tta", "none"])
    rc, _, err = _run(argv, capsys)
    assert rc == 2 and _one_error_line(err), err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"srmat {'sr run' if command == 'sr' else 'edges predict'}: "
                           f"error: {path}: cannot read input pixels"), line


@pytest.mark.parametrize("command", ["plan-rescan", "register-moving", "register-fixed",
                                     "audit", "audit-std", "sr-eval-hr", "sr-eval-sr"])
def test_corrupt_zarr_chunk_read_whole_is_the_input_s_error(tmp_path, capsys, command):
    """Commands that read a whole input into memory (plan-rescan, register, audit
    candidates, sr eval) let the codec's RuntimeError of a damaged chunk through: an
    ``internal error`` (exit 1) naming no file. They read through io.read_window now: one
    line naming the damaged file, exit 2."""
    bad = tmp_path / "bad.zarr"
    z = zarr.open_array(bad, mode="w", shape=(64, 64), chunks=(32, 32), dtype="uint8",
                        zarr_format=2)
    z[:] = np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) % 251
    chunk = bad / "1.1"
    chunk.write_bytes(b"\x00garbage" + chunk.read_bytes()[8:])
    good = _png(tmp_path / "good.png", size=64)
    argv = {
        "plan-rescan": ["plan-rescan", bad, "--model", "bicubic", "--scale", "2"],
        "register-moving": ["register", bad, good],
        "register-fixed": ["register", good, bad],
        "audit": ["audit", "candidates", good, bad, "--out", tmp_path / "a.json"],
        # a copy as SR: one file as both LR and SR is refused before --sr-std is read
        "audit-std": ["audit", "candidates", good, _png(tmp_path / "copy.png", size=64),
                      "--sr-std", bad, "--out", tmp_path / "a.json"],
        "sr-eval-hr": ["sr", "eval", bad, good],
        "sr-eval-sr": ["sr", "eval", good, bad],
    }[command]
    rc, _, err = _run(argv, capsys)
    assert rc == 2 and _one_error_line(err), err
    line = err.strip().splitlines()[-1]
    assert "internal error" not in line and f"{bad}" in line
    assert "cannot read input pixels" in line
    assert not (tmp_path / "a.json").exists()


# --------------------------------------------------------------------------- 6: sizes


def test_absurd_sizes_are_refused_before_any_work(tmp_path, capsys):
    zarr.open_array(tmp_path / "huge.zarr", mode="w", shape=(2_000_000, 2_000_000, 3),
                    chunks=(4096, 4096, 3), dtype="uint8", zarr_format=2)
    out = tmp_path / "out.zarr"
    rc, _, err = _run([*SR, tmp_path / "huge.zarr", out, "--model", "bicubic"], capsys)
    assert rc == 2 and "needs up to" in err and "TiB" in err and "free on" in err
    assert not out.exists() and not Path(f"{out}.partial").exists()
    # in memory: the result must fit in the available memory
    import dask.array as da

    big = da.zeros((400_000, 400_000), dtype=np.uint8, chunks=4096)
    calls = []
    with pytest.raises(OutputError, match="of memory"):
        tiled_apply(big, lambda b: calls.append(1) or b, scale=4)
    assert not calls


# --------------------------------------------------------------------------- 7: NaN


def test_nan_and_inf_are_refused_never_written(tmp_path, capsys):
    import tifffile

    img = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    img[10, 20] = np.nan
    with pytest.raises(TilingError, match="NaN or Inf.*row 10, column 20"):
        tiled_apply(img, lambda b: b)
    tifffile.imwrite(tmp_path / "nan.tif", img)
    rc, _, err = _run([*SR, tmp_path / "nan.tif", tmp_path / "o.zarr", *FAST], capsys)
    assert rc == 2 and "NaN or Inf" in err and _one_error_line(err)
    # nothing left behind: the partial could never be finished with this input
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nan.tif"]
    # a model that returns NaN: nothing written, nothing left
    good = np.random.default_rng(1).random((64, 64)).astype(np.float32)
    with pytest.raises(TilingError, match="model returned NaN"):
        tiled_apply(good, lambda b: b * np.nan, out=tmp_path / "m.zarr", tile=32, overlap=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nan.tif"]


def test_a_run_refused_on_its_input_leaves_no_partial(tmp_path, capsys):
    """`srmat sr run nan.tif out.ome.zarr` and `srmat edges predict nan.tif --out b` said
    the input has NaN pixels (exit 2) but left `out.ome.zarr.partial` (`b.partial`) behind:
    a partial no rerun could finish (the same input fails the same way, a fixed one is
    another input). A partial an earlier run wrote is kept (a failure while resuming it),
    and so is one stopped by a system error or an interrupt (tested with the faults)."""
    import tifffile

    from napari_srmat.outputs import discarded_when_refused

    img = np.random.default_rng(0).random((40, 40)).astype(np.float32)
    img[30, 5] = np.inf
    tifffile.imwrite(tmp_path / "inf.tif", img)
    rc, _, err = _run(["edges", "predict", tmp_path / "inf.tif", "--out", tmp_path / "b",
                       "--device", "cpu", "--tile", "64", "--overlap", "8"], capsys)
    assert rc == 2 and "NaN or Inf" in err and _one_error_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inf.tif"]
    # an earlier run's partial (created=False) and other errors keep the partial
    kept = tmp_path / "kept.partial"
    kept.mkdir()
    for created, exc in ((False, ValueError("bad input")), (True, OSError(28, "disk full")),
                         (True, RuntimeError("bug")), (True, KeyboardInterrupt())):
        with pytest.raises(type(exc)), discarded_when_refused(kept, created=created):
            raise exc
        assert kept.is_dir()


# --------------------------------------------------------------------------- CLI errors


def test_cli_errors_are_one_line_unless_debug(tmp_path, capsys, monkeypatch):
    rc, _, err = _run(["info", tmp_path / "missing.png"], capsys)
    assert rc == 2 and err.startswith("srmat info: error:") and _one_error_line(err)
    with pytest.raises(ValueError):
        main(["--debug", "info", str(tmp_path / "missing.png")])
    import napari_srmat.cli.info as info

    def boom(args):
        raise RuntimeError("unexpected state")

    monkeypatch.setattr(info, "_handler", boom)
    rc, _, err = _run(["info", "x"], capsys)
    assert rc == 1 and "internal error: RuntimeError: unexpected state" in err
    assert "--debug" in err


def test_folder_left_by_a_kill_during_its_creation_is_started_over(tmp_path, capsys):
    from napari_srmat.outputs import prepare_output_dir

    out = tmp_path / "demo"
    out.mkdir()
    (out / f".{MARKER_NAME}.1a2b3c4d.tmp").write_text("{")  # the marker's temp file
    assert prepare_output_dir(out, "demo") == out
    assert sorted(p.name for p in out.iterdir()) == [MARKER_NAME]
    # a folder with anything else in it stays the user's
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / f".{MARKER_NAME}.1a2b3c4d.tmp").write_text("{")
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(OutputError, match="did not write"):
        prepare_output_dir(mine, "demo")
    assert (mine / "notes.txt").read_text() == "keep"


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_user_s_file_is_not_offered_to_overwrite(tmp_path, overwrite):
    """A file napari-srmat did not write was refused with 'exists (pass --overwrite to
    replace it)', and with --overwrite then refused again as not ours: the first message
    pointed at a flag that cannot help. Both now say it will not be replaced."""
    from napari_srmat.outputs import OutputExistsError, check_figure_file

    plot = tmp_path / "my_figure.png"
    plot.write_bytes(b"the user's own picture")
    with pytest.raises(OutputExistsError) as info:
        check_figure_file(plot, kind="pr_roc", overwrite=overwrite)
    assert "was not written by napari-srmat" in str(info.value)
    assert "--overwrite" not in str(info.value)
    assert plot.read_bytes() == b"the user's own picture"


def test_a_python_caller_is_told_the_keyword_that_replaces_an_output(tmp_path, capsys):
    """write_report and write_rescan_plan over an earlier output of theirs told a Python
    caller 'exists (pass --overwrite to replace it)', a flag of srmat it does not have.
    They now name the keyword (overwrite=True); srmat plan-rescan still names its flag."""
    from napari_srmat.cli import error_line
    from napari_srmat.outputs import OutputExistsError
    from napari_srmat.report import report_from_heyn, write_report
    from napari_srmat.sr.rescan import RescanPlan, write_rescan_plan

    report = tmp_path / "report.html"
    write_report(report_from_heyn({"mean_intercept_px": 10.0}), report)
    plan = RescanPlan([[0, 32, 32, 96]], [0.1], 0.25, 0.31, 0.69, 4, 0.25, 1.0, 32,
                      "flips", "", "cnn", [128, 128], 0.5)
    plan_csv = tmp_path / "plan.csv"
    write_rescan_plan(plan, plan_csv)
    before = plan_csv.read_bytes(), report.read_bytes()
    for write, out, obj in ((write_report, report, report_from_heyn({})),
                            (write_rescan_plan, plan_csv, plan)):
        with pytest.raises(OutputExistsError) as info:
            write(obj, out)
        assert str(info.value) == f"{out} exists (pass overwrite=True to replace it)"
        assert error_line("srmat plan-rescan", info.value) == (
            f"srmat plan-rescan: error: {out} exists (pass --overwrite to replace it)")
    assert (plan_csv.read_bytes(), report.read_bytes()) == before
    write_rescan_plan(plan, plan_csv, overwrite=True)  # the keyword named does replace it


def test_a_python_caller_is_told_the_keywords_that_resume_or_replace_a_run(tmp_path):
    """A new training run into an earlier run's folder (train_sr_job, the boundary
    training job, check_no_earlier_run) told a Python caller 'pass --resume to continue it
    or --overwrite to start over', flags of srmat it does not have. It now names the
    keywords; srmat's one-line error still names the flags."""
    from napari_srmat.cli import error_line
    from napari_srmat.outputs import OutputExistsError, check_no_earlier_run

    run = tmp_path / "run"
    told = {}
    for resumable in (True, False):
        with pytest.raises(OutputExistsError) as info:
            check_no_earlier_run(run, "2 epochs", overwrite=False, resumable=resumable)
        told[resumable] = str(info.value), error_line("srmat sr train", info.value)
    assert told[True] == (
        f"{run} holds a training run (2 epochs); pass resume=True to continue it or "
        "overwrite=True to start over",
        f"srmat sr train: error: {run} holds a training run (2 epochs); pass --resume to "
        "continue it or --overwrite to start over")
    assert told[False] == (
        f"{run} holds a training run (2 epochs) that cannot be resumed (its state is "
        "missing): pass overwrite=True to start over there, or choose another output folder",
        f"srmat sr train: error: {run} holds a training run (2 epochs) that cannot be "
        "resumed (its state is missing): pass --overwrite to start over there, or choose "
        "another output folder")
    check_no_earlier_run(run, "2 epochs", overwrite=True)  # the keyword named starts over


def test_an_unfinished_output_is_not_read_as_an_image(tmp_path, capsys):
    """OUT.partial of a stopped `srmat sr run` was read like any image: `srmat info`
    described it, and heyn / grain-size / audit would have measured its empty (not yet
    written) blocks as pixels. It is now refused, with how to finish it; the finished
    output reads as before."""
    from napari_srmat.io import ImageReadError, image_info

    a = _png(tmp_path / "a.png", 1, 96)
    out = tmp_path / "out.zarr"
    res = _stopped_after_one_tile(a, "bicubic", out, tile=32, overlap=8)
    partial = Path(f"{out}.partial")
    assert res is None and partial.is_dir()
    for path in (partial, partial / "0"):
        for read in (read_image, image_info):
            with pytest.raises(ImageReadError, match="unfinished output") as info:
                read(path)
            assert "rerun the command that wrote it" in str(info.value)
    rc, out_text, err = _run(["grain-size", "--mask", partial], capsys)
    assert rc == 2 and "unfinished output" in err and out_text == ""
    assert _run([*SR, a, out, "--model", "bicubic", "--tile", "32", "--overlap", "8"],
                capsys)[0] == 0
    assert tuple(read_image(out).data.shape) == (384, 384, 3)


def test_a_string_overwrite_flag_is_refused_not_taken_as_yes(tmp_path):
    """``overwrite="no"`` is truthy: it replaced a store of ours the user meant to keep."""
    import napari_srmat as srmat
    from napari_srmat._atomic import atomic_directory
    from napari_srmat.outputs import OutputError, check_output_file

    store = tmp_path / "keep.zarr"
    srmat.write_ome_zarr(np.zeros((32, 32), np.uint8), store)
    before = sorted(p.relative_to(store) for p in store.rglob("*"))
    for flag in ("no", "False", 0, None):
        with pytest.raises(ValueError, match="overwrite must be True or False"):
            srmat.write_ome_zarr(np.full((32, 32), 9, np.uint8), store, overwrite=flag)
    assert sorted(p.relative_to(store) for p in store.rglob("*")) == before
    assert int(np.asarray(srmat.read_image(store).data[0]).max()) == 0
    with pytest.raises(OutputError, match="overwrite must be True or False"):
        check_output_file(tmp_path / "r.json", overwrite="yes")
    with pytest.raises(ValueError, match="overwrite must be True or False"):
        with atomic_directory(tmp_path / "d", overwrite="no"):
            pass
    assert not (tmp_path / "d").exists()
    srmat.write_ome_zarr(np.full((32, 32), 9, np.uint8), store, overwrite=np.True_)


def test_predict_boundaries_refuses_a_string_overwrite_flag(tmp_path):
    """predict_boundaries(out=..., overwrite="no") replaced an output folder made with
    other settings ("no" is truthy), as write_ome_zarr did before check_flag."""
    import torch

    from napari_srmat.checkpoint import save_checkpoint
    from napari_srmat.edges.infer import load_boundary_model, predict_boundaries
    from napari_srmat.edges.model import UAEDNet, default_arch_config

    torch.manual_seed(0)
    save_checkpoint(tmp_path / "ck", UAEDNet("tiny").state_dict(),
                    {**default_arch_config("tiny"), "threshold": 0.5})
    model = load_boundary_model(tmp_path / "ck", device="cpu")
    img = (np.random.default_rng(1).random((64, 64, 3)) * 255).astype(np.uint8)
    out = tmp_path / "out"
    predict_boundaries(img, model, tile=64, overlap=16, out=out, previews=False)
    before = np.asarray(read_image(out / "prob.ome.zarr").data)
    for flag in ("no", "False", None):
        with pytest.raises(ValueError, match="overwrite must be True or False"):
            predict_boundaries(img[:, ::-1].copy(), model, tile=64, overlap=16, out=out,
                               previews=False, overwrite=flag)
    with pytest.raises(ValueError, match="resume must be True or False"):
        predict_boundaries(img, model, tile=64, overlap=16, out=out, previews=False,
                           resume="yes")
    np.testing.assert_array_equal(np.asarray(read_image(out / "prob.ome.zarr").data), before)


@pytest.mark.parametrize("suffix", [".partial", ".lock", ".PARTIAL"])
def test_output_named_like_another_outputs_bookkeeping_is_refused(tmp_path, capsys, suffix):
    """``srmat sr run a.png x.ome.zarr.partial`` wrote a complete store where a run into
    ``x.ome.zarr`` builds its result: ``srmat sr run b.png x.ome.zarr --no-resume`` then
    deleted it (and a resumed run moved it onto ``x.ome.zarr``)."""
    from napari_srmat.outputs import OutputError
    from napari_srmat.sr import super_resolve

    img = np.zeros((16, 16), np.uint8)
    out = tmp_path / f"x.ome.zarr{suffix}"
    with pytest.raises(OutputError, match="kept for the bookkeeping of the output x.ome.zarr"):
        super_resolve(img, "bicubic", scale=2, out=out)
    png = _png(tmp_path / "a.png")
    assert main(["sr", "run", str(png), str(out), "--model", "bicubic"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "kept for the bookkeeping" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


@pytest.mark.parametrize("suffix", [".partial", ".lock"])
def test_boundary_folder_named_like_another_outputs_bookkeeping_is_refused(tmp_path, capsys,
                                                                          suffix):
    """``srmat edges predict a.png --out e.partial`` wrote a complete folder where a run
    into ``e`` builds its result: ``srmat edges predict b.png --out e --no-resume`` then
    deleted it as its own unfinished staging (and a resumed run of a.png moved it onto
    ``e``). The sr run rule (check_not_reserved) now holds for every output location."""
    from napari_srmat.edges.infer import predict_boundaries
    from napari_srmat.outputs import OutputError

    out = tmp_path / f"e{suffix}"
    with pytest.raises(OutputError, match="kept for the bookkeeping of the output e"):
        predict_boundaries(np.zeros((16, 16), np.uint8), out=out)
    png = _png(tmp_path / "a.png")
    rc, _out, err = _run(["edges", "predict", png, "--out", out, "--device", "cpu"], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "kept for the bookkeeping" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_an_output_named_like_a_swapped_out_copy_is_kept(tmp_path, capsys):
    """A run replacing ``e`` renames the earlier one aside as ``.e.<8 hex>.old`` and
    deletes it; the next run into ``e`` deleted every ``.e.*.old`` of ours, so
    ``srmat edges predict a.png --out .e.v1.old`` (a complete boundary folder, or an SR
    store ``.x.ome.zarr.v1.old``) was deleted by ``srmat edges predict b.png --out e``.
    Only the swap's own name is taken for it now, and that name is refused as an
    output (as ``e.partial`` is)."""
    from napari_srmat.outputs import OutputError
    from napari_srmat.sr import super_resolve

    img = np.zeros((16, 16), np.uint8)
    kept = tmp_path / ".x.ome.zarr.v1.old"
    super_resolve(img, "bicubic", scale=2, out=kept)
    assert kept.is_dir()
    super_resolve(img, "bicubic", scale=2, out=tmp_path / "x.ome.zarr")
    a, b = _png(tmp_path / "a.png"), _png(tmp_path / "b.png", seed=1)
    rc, _out, err = _run(["edges", "predict", a, "--out", tmp_path / ".e.v1.old",
                          "--device", "cpu"], capsys)
    assert rc == 0, err
    rc, _out, err = _run(["edges", "predict", b, "--out", tmp_path / "e", "--device", "cpu"],
                         capsys)
    assert rc == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".e.v1.old", ".x.ome.zarr.v1.old", "a.png", "b.png", "e", "x.ome.zarr"]
    # the swap's own name: refused as an output, in one line
    with pytest.raises(OutputError, match="kept for the bookkeeping of the output x.ome.zarr"):
        super_resolve(img, "bicubic", scale=2, out=tmp_path / ".x.ome.zarr.0123abcd.old")
    rc, _out, err = _run(["edges", "predict", a, "--out", tmp_path / ".e.0123abcd.old",
                          "--device", "cpu"], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "kept for the bookkeeping of the output e" in err
    assert not (tmp_path / ".e.0123abcd.old").exists()


@pytest.mark.parametrize("name", ["sr.png", "sr.TIF"])
def test_library_store_named_like_an_image_file_is_refused(tmp_path, name):
    """``super_resolve(img, out="sr.png")`` (the notebook call; the SR widget's store
    dialog) wrote an OME-Zarr folder called sr.png, which opens in no image viewer;
    ``srmat sr run`` refused it, the library writer now does too (check_store_name)."""
    from napari_srmat.outputs import OutputError
    from napari_srmat.sr import super_resolve

    img = np.zeros((16, 16), np.uint8)
    with pytest.raises(OutputError, match="give a name ending in .ome.zarr"):
        super_resolve(img, "bicubic", scale=2, out=tmp_path / name)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, advice", [("scan.ome.tiff", "scan.ome.zarr"),
                                          ("scan.OME.TIF", "scan.ome.zarr"),
                                          ("scan_x4.PNG", "scan_x4.ome.zarr")])
def test_a_store_named_like_an_image_file_is_told_a_name_that_is_one(tmp_path, capsys, name,
                                                                     advice):
    """The refusal of a store named like an OME-TIFF advised ``scan.ome.ome.zarr`` (the
    image suffix replaced, its ``.ome`` kept): the name given is the image's, as .ome.zarr."""
    png = _png(tmp_path / "a.png")
    assert main(["sr", "run", str(png), str(tmp_path / name), "--model", "bicubic"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith(f"e.g. {tmp_path / advice}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


@pytest.mark.parametrize("command", ["sr", "edges"])
def test_links_and_foreign_files_beside_the_output_are_refused_untouched(tmp_path, capsys,
                                                                         command):
    # OUT.partial and OUT.lock are built, truncated and removed by a run: never through a
    # symbolic link, never a file napari-srmat did not write
    a = _png(tmp_path / "a.png", 1, 48)
    out = tmp_path / "out.zarr"
    argv = ([*SR, a, out, *FAST] if command == "sr"
            else ["edges", "predict", a, "--out", out, "--tile", "64", "--overlap", "16",
                  "--tta", "none", "--device", "cpu"])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    partial, lock = Path(f"{out}.partial"), Path(f"{out}.lock")
    for target in (elsewhere, tmp_path / "missing"):  # an empty folder, a dangling link
        partial.symlink_to(target)
        rc, _, err = _run(argv, capsys)
        assert rc == 2 and _one_error_line(err) and "symbolic link" in err
        assert partial.is_symlink() and not out.exists()
        partial.unlink()
    assert elsewhere.is_dir() and not any(elsewhere.iterdir())
    lock.symlink_to(precious)
    rc, _, err = _run(argv, capsys)
    assert rc == 2 and _one_error_line(err) and "not written by napari-srmat" in err
    assert precious.read_text() == "keep me" and lock.is_symlink()
    lock.unlink()
    lock.write_text("my notes on the lock-in amplifier")
    rc, _, err = _run(argv, capsys)
    assert rc == 2 and _one_error_line(err) and "not written by napari-srmat" in err
    assert lock.read_text() == "my notes on the lock-in amplifier" and not out.exists()
    lock.unlink()
    rc, _, err = _run(argv, capsys)
    assert rc == 0 and out.exists() and not lock.exists()
    assert "warning" not in err  # (the two-channel staging store once drew a channel note)


@pytest.mark.parametrize("command", ["sr", "edges"])
def test_an_output_that_is_a_link_is_never_replaced_nor_what_it_points_to(tmp_path, capsys,
                                                                         command):
    """Replacing OUT when it was a symbolic link to an earlier result renamed the link
    aside and emptied the folder it pointed to (the clean-up followed the link), leaving
    a store marked complete with no pixels; the leftover link emptied it again on every
    later run into OUT."""
    from napari_srmat._atomic import remove_tree_marker_last

    a, b = _png(tmp_path / "a.png", 1, 48), _png(tmp_path / "b.png", 2, 48)

    def argv(image, out, *extra):
        if command == "sr":
            return [*SR, image, out, *FAST, *extra]
        return ["edges", "predict", image, "--out", out, "--tile", "64", "--overlap", "16",
                "--tta", "none", "--device", "cpu", *extra]

    result = tmp_path / "run_a.zarr"
    assert _run(argv(a, result), capsys)[0] == 0
    before = _tree(result)
    latest = tmp_path / "latest.zarr"
    latest.symlink_to(result.name)
    rc, _, err = _run(argv(b, latest, "--overwrite"), capsys)  # it would be replaced
    assert rc == 2 and _one_error_line(err) and "symbolic link" in err
    assert latest.is_symlink() and _tree(result) == before
    rc, _, err = _run(argv(b, latest), capsys)  # refused as made differently
    assert rc == 2 and _one_error_line(err) and latest.is_symlink() and _tree(result) == before
    rc, _, err = _run(argv(a, latest), capsys)  # complete: read through the link, kept
    assert rc == 0 and "already complete" in err and _tree(result) == before
    dangling = tmp_path / "gone.zarr"
    dangling.symlink_to("nowhere.zarr")  # would be written through the link
    rc, _, err = _run(argv(a, dangling), capsys)
    assert rc == 2 and "symbolic link" in err and not (tmp_path / "nowhere.zarr").exists()
    # a link renamed aside by an earlier version: left alone, and so is its target
    stale = tmp_path / ".result.zarr.0123abcd.old"
    stale.symlink_to(result.name)
    assert _run(argv(b, tmp_path / "result.zarr"), capsys)[0] == 0
    assert stale.is_symlink() and _tree(result) == before
    remove_tree_marker_last(stale)  # the clean-up removes a link, not what it points to
    assert not stale.is_symlink() and _tree(result) == before


def test_edges_predict_does_not_warn_about_its_own_intermediate_store(tmp_path, capsys):
    """Every `srmat edges predict` printed `warning: out.partial/stacked.ome.zarr: 2
    channels that are not grey or RGB; only channel 0 is used ...`: the reader's channel
    rule told about the command's own (prob, uncertainty) store, not about the user's
    image."""
    rc, _, err = _run(["edges", "predict", _png(tmp_path / "in.png"), "--out",
                       tmp_path / "b", "--device", "cpu", "--tile", "64", "--overlap", "8"],
                      capsys)
    assert rc == 0 and "warning" not in err and "not grey or RGB" not in err


def test_a_file_of_the_users_named_like_the_partial_is_refused_in_one_line(tmp_path, capsys):
    """A file (not a folder) of the user's named out.zarr.partial made `srmat sr run` and
    `srmat edges predict` fail with 'out.zarr.partial: Not a directory' (exit 1, an
    internal-looking system error); it is refused as not ours, and left as it was."""
    inp = _png(tmp_path / "in.png")
    (tmp_path / "a.zarr.partial").write_text("mine")
    (tmp_path / "b.partial").write_text("mine")
    for argv, staging in (([*SR, inp, tmp_path / "a.zarr", *FAST], "a.zarr.partial"),
                          (["edges", "predict", inp, "--out", tmp_path / "b", "--tile", "64",
                            "--overlap", "16", "--device", "cpu"], "b.partial")):
        rc, _, err = _run(argv, capsys)
        assert rc == 2 and _one_error_line(err)
        assert f"{staging} exists and was not written by napari-srmat" in err
        assert (tmp_path / staging).read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zarr.partial", "b.partial",
                                                          "in.png"]


def test_a_stagings_own_working_files_are_not_taken_for_the_users(tmp_path):
    """A boundary run killed while writing prob.ome.zarr leaves its staging, lock and
    swapped-out copy inside OUT.partial: starting over (--no-resume) refused them as
    "files napari-srmat did not write"."""
    from napari_srmat.edges.infer import BOUNDARY_OUTPUTS
    from napari_srmat.outputs import check_staging_holds_only_ours

    staging = tmp_path / "out.partial"
    staging.mkdir()
    (staging / MARKER_NAME).write_text("{}")
    (staging / "prob.ome.zarr.partial").mkdir()
    (staging / "prob.ome.zarr.lock").write_text("{}")
    (staging / ".prob.ome.zarr.0123abcd.old").mkdir()
    check_staging_holds_only_ours(staging, BOUNDARY_OUTPUTS)
    (staging / "prob.ome.zarr.notes").write_text("mine")
    with pytest.raises(OutputError, match="prob.ome.zarr.notes"):
        check_staging_holds_only_ours(staging, BOUNDARY_OUTPUTS)


def test_a_kill_while_a_partial_is_discarded_leaves_it_recognisably_ours(tmp_path,
                                                                         monkeypatch):
    """A partial store started with other settings is deleted to start over
    (``resume=False``, or ``overwrite`` since 0eb9076). A plain ``rmtree`` could delete
    its manifest (what makes it ours) before its chunks: a kill then left a folder that
    every later run refused as 'not written by napari-srmat', to be deleted by hand.
    The manifest now goes last, so a kill at any point leaves a partial a rerun starts
    over."""
    import os

    from napari_srmat.io._write import _MANIFEST, OmeZarrStreamWriter

    out = tmp_path / "o.ome.zarr"
    img = np.arange(64 * 64, dtype=np.uint8).reshape(64, 64) | 1
    w = OmeZarrStreamWriter(out, img.shape, img.dtype, chunks=(32, 32),
                            identity={"model": "a"})
    for block in list(w.iter_blocks())[:3]:
        ys, xs = w.block_slices(block)
        w.write_block(block, None, img[ys, xs])
    w.close()
    real_unlink = os.unlink

    def killed_after_the_manifest(p, *a, **k):
        real_unlink(p, *a, **k)
        if os.fspath(p).endswith(_MANIFEST):
            raise KeyboardInterrupt  # the process killed right after

    real_scandir = os.scandir

    class ManifestListedFirst:  # a file system's listing order (ext4 hashes names)
        def __init__(self, *a, **k):
            with real_scandir(*a, **k) as it:
                self.entries = sorted(it, key=lambda e: e.name != _MANIFEST)

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            pass

        def __iter__(self):
            return iter(self.entries)

    monkeypatch.setattr(os, "scandir", ManifestListedFirst)
    monkeypatch.setattr(os, "unlink", killed_after_the_manifest)
    with pytest.raises(KeyboardInterrupt):
        OmeZarrStreamWriter(out, img.shape, img.dtype, chunks=(32, 32),
                            identity={"model": "b"}, overwrite=True)
    monkeypatch.undo()
    w = OmeZarrStreamWriter(out, img.shape, img.dtype, chunks=(32, 32),
                            identity={"model": "b"}, overwrite=True)
    assert not w.resumed and w.n_done() == 0
    w.close()
