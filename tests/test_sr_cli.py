"""Tests of ``srmat sr`` (run / train / models)."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest

pytest.importorskip("torch")

from napari_srmat.cli import main  # noqa: E402


@pytest.fixture()
def small_png(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    img = (rng.random((20, 24, 3)) * 255).astype(np.uint8)
    path = tmp_path / "small.png"
    Image.fromarray(img).save(path)
    return path


def _json(capsys):
    out = capsys.readouterr().out
    return json.loads(out)


def test_sr_run_writes_readable_ome_zarr(small_png, tmp_path, capsys):
    from napari_srmat.io import read_image

    out = tmp_path / "out.zarr"
    rc = main(["sr", str(small_png), str(out), "--model", "bicubic", "--tile", "16",
               "--overlap", "4", "--json"])
    assert rc == 0
    summary = _json(capsys)
    assert summary["output_shape"] == [80, 96, 3]
    assert summary["model"] == "bicubic" and summary["scale"] == 4
    assert summary["megapixels_per_s"] > 0 and summary["seconds"] > 0
    mg = read_image(out)
    assert tuple(mg.data.shape) == (80, 96, 3)
    # the same with explicit `run`, options first, default (shipped) model
    out2 = tmp_path / "out2.zarr"
    rc = main(["sr", "run", "--tile", "96", str(small_png), str(out2), "--json"])
    assert rc == 0
    s2 = _json(capsys)
    assert tuple(read_image(out2).data.shape) == (80, 96, 3)
    assert s2["model"] in ("cnn", "onestep")
    assert summary["warnings"] == [] and s2["warnings"] == []
    # a warning printed on stderr is in the JSON too (it was only on stderr): cnn x2 has
    # no shipped weights
    with pytest.warns(UserWarning, match="no shipped weights") as printed:  # still shown
        rc = main(["sr", "run", "--model", "cnn", "--scale", "2", str(small_png),
                   str(tmp_path / "x2.zarr"), "--json"])
    assert rc == 0
    told = _json(capsys)["warnings"]
    assert len(told) == 1 and told[0].startswith("no shipped weights for 'cnn' x2")
    # one wording for every caller, not the keyword, flag and field of all three at once
    assert told[0].endswith("give its best/ folder as the model's checkpoint")
    assert [" ".join(str(w.message).split()) for w in printed] == told
    # existing output is refused without --overwrite
    assert main(["sr", str(small_png), str(out), "--model", "bicubic"]) == 2
    assert "exists" in capsys.readouterr().err


def test_sr_run_keeps_non_square_pixel_sizes_per_axis(tmp_path, capsys):
    """A TIFF with 0.5 (X) x 0.25 (Y) µm pixels gave an SR store with no pixel size at
    all: the calibration was lost. Now level 0 has (Y, X) / scale per axis and every
    level its 2**k multiple, read back as non-square by the readers."""
    import tifffile

    from napari_srmat.io import OmeZarrStreamWriter, read_image

    img = (np.random.default_rng(1).random((40, 30)) * 255).astype(np.uint8)
    src = tmp_path / "ns.tif"  # X 0.5 µm (20000 px/cm), Y 0.25 µm
    tifffile.imwrite(src, img, resolution=(20000, 40000), resolutionunit="CENTIMETER")
    out = tmp_path / "ns_x2.ome.zarr"
    with pytest.warns(UserWarning, match="not square"):
        rc = main(["sr", str(src), str(out), "--model", "bicubic", "--scale", "2"])
    assert rc == 0
    with pytest.warns(UserWarning, match=r"not square \(X 0.25 µm, Y 0.125 µm\)"):
        m = read_image(out)
    assert m.pixel_size_yx_um == pytest.approx((0.125, 0.25))
    attrs = json.loads((out / ".zattrs").read_text())
    ms = attrs["multiscales"][0]
    assert [a.get("unit") for a in ms["axes"]] == ["micrometer", "micrometer"]
    scales = [d["coordinateTransformations"][0]["scale"] for d in ms["datasets"]]
    assert scales == [[0.125 * 2**k, 0.25 * 2**k] for k in range(len(scales))]
    assert attrs["srmat"]["pixel_size_yx_um"] == [0.125, 0.25]
    # a square pair is one size (the readers' rule: X); a broken one is refused
    w = OmeZarrStreamWriter(tmp_path / "sq.ome.zarr", (8, 8), np.uint8, chunks=(8, 8),
                            pixel_size_um=(0.5, 0.5))
    w.write_block((0, 0), None, np.zeros((8, 8), np.uint8))
    w.finalize()
    assert read_image(tmp_path / "sq.ome.zarr").pixel_size_um == pytest.approx(0.5)
    with pytest.raises(ValueError, match="pixel_size_um"):
        OmeZarrStreamWriter(tmp_path / "bad.ome.zarr", (8, 8), np.uint8, chunks=(8, 8),
                            pixel_size_um=(0.5, -1.0))


def test_sr_run_and_edges_predict_take_a_pixel_size(small_png, tmp_path, capsys):
    """``super_resolve(pixel_size_um=)`` and ``predict_boundaries(pixel_size_um=)`` record
    a pixel size in their stores, but ``srmat sr run`` and ``srmat edges predict`` had no
    ``--pixel-size-um``: a PNG without one (the TBM images) gave outputs without a pixel
    size, which ``srmat grain-size`` then measured in px only. The flags give it, as the
    API does; one that differs from the file's is told."""
    from napari_srmat.io import read_image
    from napari_srmat.sr import super_resolve

    out = tmp_path / "x2.ome.zarr"
    assert main(["sr", "run", str(small_png), str(out), "--model", "bicubic", "--scale", "2",
                 "--pixel-size-um", "0.5", "--json"]) == 0
    assert _json(capsys)["warnings"] == []
    api = super_resolve(read_image(small_png), "bicubic", scale=2, pixel_size_um=0.5,
                        out=tmp_path / "api_x2.ome.zarr")
    assert read_image(out).pixel_size_um == read_image(api).pixel_size_um == 0.25
    # the output (0.25 µm recorded) again, with another size: used, and told
    with pytest.warns(UserWarning, match="the file records 0.25 µm per pixel; the given 0.2"):
        assert main(["sr", "run", str(out), str(tmp_path / "x4.ome.zarr"), "--model",
                     "bicubic", "--scale", "2", "--pixel-size-um", "0.2", "--json"]) == 0
    assert "the given 0.2" in _json(capsys)["warnings"][0]
    assert read_image(tmp_path / "x4.ome.zarr").pixel_size_um == pytest.approx(0.1)
    # the boundary maps
    assert main(["edges", "predict", str(small_png), "--out", str(tmp_path / "maps"),
                 "--tile", "32", "--overlap", "8", "--pixel-size-um", "0.5", "--json"]) == 0
    capsys.readouterr()
    for name in ("prob.ome.zarr", "uncertainty.ome.zarr"):
        assert read_image(tmp_path / "maps" / name).pixel_size_um == 0.5
    with pytest.raises(SystemExit) as bad:  # argparse: one line naming the flag
        main(["sr", "run", str(small_png), str(tmp_path / "bad.zarr"), "--pixel-size-um", "0"])
    assert bad.value.code == 2 and "--pixel-size-um" in capsys.readouterr().err


def test_edges_predict_json_lists_its_warnings_as_sr_run_does(tmp_path, capsys):
    """`srmat edges predict --json` had no ``warnings`` key: a --pixel-size-um that
    differs from the file's (recorded in the maps, every µm figure measured on them off
    by the ratio) was told on stderr only, while `srmat sr run --json` lists the same
    warning in its JSON for a script that reads stdout."""
    from PIL import Image

    rng = np.random.default_rng(0)
    src = tmp_path / "cal.png"
    Image.fromarray((rng.random((40, 48, 3)) * 255).astype(np.uint8)).save(
        src, dpi=(25400 / 0.5, 25400 / 0.5))
    told = "the file records 0.5 µm per pixel; the given 0.25 µm (2x smaller) was used"
    argv = ["edges", "predict", str(src), "--tile", "32", "--overlap", "8", "--device", "cpu",
            "--json", "--out"]
    from napari_srmat.grainsize import is_scale_warning

    def told_besides_the_scale() -> list[str]:  # noise reads as too coarse (bdb971f)
        return [w for w in _json(capsys)["warnings"] if not is_scale_warning(w)]

    with pytest.warns(UserWarning, match="the file records 0.5"):
        assert main([*argv, str(tmp_path / "maps"), "--pixel-size-um", "0.25"]) == 0
    assert told_besides_the_scale() == [told]
    assert main([*argv, str(tmp_path / "maps2"), "--pixel-size-um", "0.5"]) == 0
    assert told_besides_the_scale() == []


def test_sr_run_prints_its_result_on_stdout(small_png, tmp_path, capsys):
    """`srmat sr run` printed its result line ("wrote OUT: ...") on stderr, where the
    progress goes, unlike the other commands; it is on stdout."""
    out = tmp_path / "o.zarr"
    assert main(["sr", "run", str(small_png), str(out), "--model", "bicubic", "--tile", "16",
                 "--overlap", "4"]) == 0
    said, err = capsys.readouterr()
    assert said.startswith(f"wrote {out}: (80, 96, 3) with bicubic x4 in ")
    assert said.count("\n") == 1 and "wrote" not in err


def test_sr_run_speed_is_over_the_tiles_computed_by_this_run(tmp_path, capsys):
    """A repeated `srmat sr run` on a complete OUTPUT reported megapixels/s of the whole
    image over the time it took to find that nothing was left to do (faster than the run
    that did the work); a resumed run counted the tiles an earlier run wrote. The speed
    is now over the tiles computed by this run, and None when there were none."""
    from PIL import Image

    from napari_srmat.io import read_image
    from napari_srmat.jobs import Progress, StopToken, run_job
    from napari_srmat.sr import load_model, super_resolve_job

    rng = np.random.default_rng(0)
    src = tmp_path / "big.png"
    Image.fromarray((rng.random((600, 200)) * 255).astype(np.uint8)).save(src)
    out = tmp_path / "out.ome.zarr"
    argv = ["sr", "run", str(src), str(out), "--model", "bicubic", "--scale", "4",
            "--tile", "64", "--overlap", "8", "--device", "cpu"]
    # an earlier run stopped after some chunks: OUTPUT.partial
    token = StopToken()

    def stop_halfway(event):
        if isinstance(event, Progress) and event.done >= event.total // 2:
            token.request_stop()

    model = load_model("bicubic", scale=4, device="cpu")
    assert run_job(super_resolve_job(read_image(src), model, tile=64, overlap=8,
                                     batch_size=4, out=out, stop=token),
                   quiet=True, on_event=stop_halfway) is None
    assert not out.exists()
    assert main([*argv, "--json"]) == 0
    resumed = _json(capsys)
    assert 0 < resumed["tiles_computed"] < resumed["tiles_total"]
    assert resumed["nothing_to_do"] is False and resumed["megapixels_per_s"] > 0
    share = resumed["tiles_computed"] / resumed["tiles_total"]
    assert resumed["megapixels_per_s"] == pytest.approx(
        600 * 200 * share / 1e6 / resumed["seconds"])
    # the same command again: nothing left to do, and no speed
    assert main([*argv, "--json"]) == 0
    again = _json(capsys)
    assert again["nothing_to_do"] is True and again["tiles_computed"] == 0
    assert again["megapixels_per_s"] is None and again["output_megapixels_per_s"] is None
    assert main(argv) == 0
    said, err = capsys.readouterr()  # the result on stdout (it was on stderr)
    assert said == f"{out} was already complete (same input and settings): nothing left to do\n"
    assert "wrote" not in said + err


def test_sr_run_json_reports_the_tile_the_store_was_written_with(tmp_path, capsys):
    """`srmat sr run --tile 1000` on a 300 x 260 image wrote its store with a 336 px tile
    (a small image uses the smallest tile with the same grid) and --json said 1000: the
    tile is now the one used (the store's tiling attrs), with the one asked for beside."""
    from PIL import Image

    from napari_srmat.io import read_image

    rng = np.random.default_rng(1)
    src = tmp_path / "a.png"
    Image.fromarray((rng.random((300, 260)) * 255).astype(np.uint8)).save(src)
    out = tmp_path / "a.ome.zarr"
    argv = ["sr", "run", str(src), str(out), "--model", "bicubic", "--scale", "2",
            "--tile", "1000", "--device", "cpu", "--json"]
    for _ in range(2):  # written, then complete already: the same report
        assert main(argv) == 0
        d = _json(capsys)
        used = read_image(out).metadata["srmat"]["tiling"]
        assert d["tile"] == used["tile"] < 1000 and d["tile_requested"] == 1000
        assert d["overlap"] == used["overlap"]


@pytest.mark.parametrize("name", ["out.png", "out.TIF", "scan.tiff", "x.jpg"])
def test_sr_run_output_named_like_an_image_file_is_refused(small_png, tmp_path, capsys, name):
    """`srmat sr run in.png out.png` wrote an OME-Zarr folder called out.png, which no
    image viewer opens as a PNG; such a name is now refused before anything is written,
    with the name to give instead."""
    out = tmp_path / name
    assert main(["sr", "run", str(small_png), str(out), "--model", "bicubic"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"srmat sr run: error: {out}: ")
    assert "OME-Zarr" in err[0] and ".ome.zarr" in err[0]
    assert not out.exists() and list(tmp_path.iterdir()) == [small_png]


def test_sr_errors(small_png, tmp_path, capsys):
    assert main(["sr", str(tmp_path / "missing.png"), str(tmp_path / "o.zarr"),
                 "--model", "bicubic"]) == 2
    assert main(["sr", str(small_png), str(tmp_path / "o.zarr"), "--model", "nope"]) == 2
    assert "unknown SR model" in capsys.readouterr().err
    assert main(["sr", str(small_png), str(tmp_path / "o.zarr"),
                 "--checkpoint", str(tmp_path / "w.pt")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err  # a typo, not a pickle
    (tmp_path / "w.pt").write_bytes(b"not loaded")
    assert main(["sr", str(small_png), str(tmp_path / "o.zarr"),
                 "--checkpoint", str(tmp_path / "w.pt")]) == 2
    assert "pickle" in capsys.readouterr().err


def test_sr_models_lists(capsys):
    assert main(["sr", "models", "--json"]) == 0
    data = _json(capsys)
    names = [m["name"] for m in data["models"]]
    assert {"bicubic", "lanczos", "cnn", "onestep", "ddpm", "diffusers-local"} <= set(names)
    assert data["default"] in names
    # the factors each model runs at (--scale's help pointed to '2 or 4' only)
    scales = {m["name"]: m["scales"] for m in data["models"]}
    assert scales["cnn"] == [2, 4] and scales["bicubic"] == [2, 3, 4, 8]
    assert main(["sr", "models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "bicubic  x2, x3, x4, x8" in lines
    assert "cnn (default)  x2, x4; shipped weights: x4" in lines


def test_sr_train_then_run_checkpoint(small_png, tmp_path, capsys):
    from napari_srmat.io import read_image

    ckpt = tmp_path / "ckpt"
    rc = main(["sr", "train", "--data", str(small_png), "--model", "cnn", "--scale",
               "2", "--train-steps", "3", "--batch-size", "2", "--patch", "16", "--out", str(ckpt),
               "--threads", "1", "--device", "cpu", "--json"])
    assert rc == 0
    res = _json(capsys)
    assert res["step"] == 3 and (ckpt / "best" / "model.safetensors").is_file()
    out = tmp_path / "sr.zarr"
    rc = main(["sr", str(small_png), str(out), "--checkpoint", str(ckpt / "best"),
               "--tile", "96", "--json"])
    assert rc == 0
    s = _json(capsys)
    assert s["scale"] == 2 and s["checkpoint"].endswith("best")
    assert tuple(read_image(out).data.shape) == (40, 48, 3)
    # the training folder itself given as the checkpoint: the message names its models
    assert main(["sr", str(small_png), str(tmp_path / "sr2.zarr"), "--checkpoint",
                 str(ckpt)]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"srmat sr run: error: checkpoint {ckpt} has no model.safetensors; it is a training "
        f"folder: use {ckpt / 'best'} or {ckpt / 'last'}")
    # without --json, the last line says what best/ is (it read "(val PSNR None)")
    rc = main(["sr", "train", "--data", str(small_png), "--model", "cnn", "--scale",
               "2", "--train-steps", "2", "--batch-size", "2", "--patch", "16", "--out",
               str(tmp_path / "ck2"), "--threads", "1", "--device", "cpu"])
    assert rc == 0
    said, err = capsys.readouterr()  # the result on stdout (it was on stderr)
    assert said == (f"best checkpoint: {tmp_path / 'ck2' / 'best'} (nothing validated: the "
                    "final model)\n")
    assert "best checkpoint" not in err


def test_steps_flags_have_one_meaning_each(capsys):
    """--sampling-steps / --train-steps / --stages; the old --steps is a hidden alias."""
    import argparse

    from napari_srmat.cli import build_parser
    from napari_srmat.cli.sr import build_sr_parser

    sr = build_sr_parser()
    for argv, dest, value in ((["run", "a.png", "b.zarr", "--steps", "7"], "sampling_steps", 7),
                              (["run", "a.png", "b.zarr", "--sampling-steps", "7"],
                               "sampling_steps", 7),
                              (["train", "--out", "o", "--steps", "9"], "train_steps", 9),
                              (["train", "--out", "o", "--train-steps", "9"], "train_steps", 9)):
        ns = sr.parse_args(argv)
        assert getattr(ns, dest) == value and not hasattr(ns, "steps")
    assert sr.parse_args(["run", "a.png", "b.zarr"]).sampling_steps is None
    top = build_parser()
    assert top.parse_args(["demo", "--steps", "heyn"]).stages == "heyn"
    assert top.parse_args(["demo"]).stages == "heyn,sr,boundaries"
    subs = {a.dest: a for a in sr._actions if isinstance(a, argparse._SubParsersAction)}
    helps = {name: p.format_help() for name, p in next(iter(subs.values())).choices.items()}
    assert "--sampling-steps" in helps["run"] and "--steps " not in helps["run"]
    assert "--train-steps" in helps["train"] and "--steps " not in helps["train"]


def test_ctrl_c_while_the_subcommands_load_is_one_line(monkeypatch, capsys):
    """Building the parser imports torch (seconds): a Ctrl-C then printed a
    KeyboardInterrupt traceback; now one line and exit 130, like an interrupted run."""
    from napari_srmat import cli

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["sr", "run", "in.png", "out.zarr"]) == 130
    assert capsys.readouterr().err == "srmat: interrupted\n"
    with pytest.raises(KeyboardInterrupt):  # --debug: the traceback
        cli.main(["--debug", "sr", "run", "in.png", "out.zarr"])


def test_sr_train_resume_with_nothing_to_resume_says_it_starts_a_new_run(small_png, tmp_path,
                                                                          capsys):
    """--resume into a folder without OUT/train_state started a new run without a word;
    it still starts one (the staged workflows pass --resume from their first stage on)
    and says so in one line. A real resume does not print it."""
    ckpt = tmp_path / "ckpt"
    args = ["sr", "train", "--data", str(small_png), "--model", "cnn", "--scale", "2",
            "--batch-size", "2", "--patch", "16", "--out", str(ckpt), "--threads", "1",
            "--device", "cpu", "--resume", "--json"]
    assert main([*args, "--train-steps", "2"]) == 0
    captured = capsys.readouterr()
    line = (f"srmat sr train: warning: nothing to resume at {ckpt} (no train_state): "
            "starting a new run")
    assert line in captured.err.splitlines()
    assert json.loads(captured.out)["step"] == 2
    assert main([*args, "--train-steps", "3"]) == 0
    captured = capsys.readouterr()
    assert "nothing to resume" not in captured.err and "resumed from" in captured.err
    assert json.loads(captured.out)["step"] == 3


def _one_error_line(capsys, command):
    """The one stderr line of a refused command (no traceback)."""
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith(f"{command}: error: ")]
    assert len(errors) == 1 and "Traceback" not in "\n".join(err), err
    return errors[0]


@pytest.mark.parametrize("side", [1, 2, 3])
def test_sr_run_refuses_an_image_below_the_least_side(tmp_path, capsys, side):
    """`srmat sr run` on a 1 x 1 (2 x 2, 3 x 3) PNG wrote a 4 x 4 (...) store and exit 0:
    an input below io.MIN_IMAGE_SIDE is refused before the job, naming the file; nothing
    is written."""
    from PIL import Image

    from napari_srmat.io import MIN_IMAGE_SIDE

    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.full((side, side), 128, np.uint8)).save(tiny)
    out = tmp_path / "o.zarr"
    assert main(["sr", "run", str(tiny), str(out), "--model", "bicubic"]) == 2
    line = _one_error_line(capsys, "srmat sr run")
    assert line == (f"srmat sr run: error: {tiny}: image is {side} x {side} px, smaller than "
                    f"the smallest image side napari-srmat takes ({MIN_IMAGE_SIDE} px)")
    assert not out.exists() and not (tmp_path / "o.zarr.partial").exists()
    # the least side itself is taken
    ok = tmp_path / "ok.png"
    Image.fromarray(np.full((MIN_IMAGE_SIDE, MIN_IMAGE_SIDE), 128, np.uint8)).save(ok)
    assert main(["sr", "run", str(ok), str(out), "--model", "bicubic", "--json"]) == 0
    assert _json(capsys)["output_shape"] == [4 * MIN_IMAGE_SIDE] * 2


def test_sr_run_input_errors_name_the_file(tmp_path, capsys):
    """The input errors of `srmat sr run` (values the float rule would misread, NaN
    pixels found as the tiles are read, channels the model does not take) did not say
    which file they were about; they now start with its path, as those of `srmat
    grain-size`. An error of the output does not name the input."""
    import tifffile

    rng = np.random.default_rng(0)
    nan = rng.random((32, 32)).astype(np.float32)
    nan[3, 5] = np.nan
    cases = {
        "nan.tif": (nan, "the input has NaN or Inf pixels"),
        "bright.tif": ((rng.random((32, 32)) * 3).astype(np.float32),
                       "is a float image with values in"),
        "negative.tif": (rng.integers(-5, 5, (32, 32)).astype(np.int32),
                         "negative values would be negative intensities"),
    }
    for name, (pixels, says) in cases.items():
        path = tmp_path / name
        tifffile.imwrite(path, pixels)
        assert main(["sr", "run", str(path), str(tmp_path / f"{name}.zarr"),
                     "--model", "bicubic"]) == 2, name
        line = _one_error_line(capsys, "srmat sr run")
        assert line.startswith(f"srmat sr run: error: {path}: ") and says in line, line
    # an output error is the output's: not put on the input file
    good = tmp_path / "good.png"
    from PIL import Image

    Image.fromarray((rng.random((32, 32)) * 255).astype(np.uint8)).save(good)
    mine = tmp_path / "mine.zarr"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert main(["sr", "run", str(good), str(mine), "--model", "bicubic"]) == 2
    line = _one_error_line(capsys, "srmat sr run")
    assert str(good) not in line and str(mine) in line


def test_sr_train_refuses_images_smaller_than_the_patch(tmp_path, capsys):
    """`srmat sr train --patch 32` on a 20 x 24 px image trained on reflect-padded crops
    (mostly mirror copies) without a word; the image is refused before training, naming
    it, its size and the patch, and no checkpoint folder is made."""
    from PIL import Image

    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((64, 64)) * 255).astype(np.uint8)).save(data / "big.png")
    Image.fromarray((rng.random((20, 24)) * 255).astype(np.uint8)).save(data / "small.png")
    ckpt = tmp_path / "ckpt"
    argv = ["sr", "train", "--data", str(data), "--model", "cnn", "--scale", "2",
            "--train-steps", "1", "--batch-size", "1", "--out", str(ckpt), "--threads", "1",
            "--device", "cpu"]
    assert main([*argv, "--patch", "32"]) == 2
    assert _one_error_line(capsys, "srmat sr train") == (
        f"srmat sr train: error: training image {data / 'small.png'} is 20 x 24 px, smaller "
        "than the training patch (32 px)")
    assert not ckpt.exists()
    assert main([*argv, "--patch", "16", "--json"]) == 0  # every image holds a patch
    assert _json(capsys)["step"] == 1


@pytest.mark.parametrize("command", [["sr", "run", "./missing.png", "out.ome.zarr"],
                                     ["edges", "predict", "./missing.png", "--out", "maps"]])
def test_input_file_given_with_dot_slash_is_named_once(command, tmp_path, capsys,
                                                       monkeypatch):
    """``srmat sr run ./missing.png`` said "./missing.png: missing.png: no such file": the
    file was named as given and as pathlib writes it. It is named once."""
    monkeypatch.chdir(tmp_path)
    assert main(command) != 0
    line = _one_error_line(capsys, f"srmat {command[0]} {command[1]}")
    assert line.endswith(": error: missing.png: image not found"), line
    assert line.count("missing.png") == 1


def test_sr_run_refuses_a_bad_input_before_loading_the_model(tmp_path, capsys, monkeypatch):
    """`srmat sr run` loaded the model (seconds for a diffusion model, a checkpoint read)
    before it looked at the input's size and values; a 3 x 3 file is refused first."""
    from PIL import Image

    import napari_srmat.sr as sr

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the input was checked")

    monkeypatch.setattr(sr, "load_model", no_model)
    Image.fromarray(np.zeros((3, 3), np.uint8)).save(tmp_path / "t3.png")
    assert main(["sr", "run", str(tmp_path / "t3.png"), str(tmp_path / "o.ome.zarr")]) == 2
    assert _one_error_line(capsys, "srmat sr run").endswith(
        "t3.png: image is 3 x 3 px, smaller than the smallest image side napari-srmat takes "
        "(8 px)")


@pytest.mark.parametrize("channels", [1, 2])
def test_sr_run_reads_the_value_sample_once(tmp_path, capsys, monkeypatch, channels):
    """`srmat sr run` read a float image's value sample twice: the command's check before
    the model loads (check_sr_input) and the job's. The command passes the job its input
    marked as checked (napari_srmat.io._checked), so it is read once (counted at the
    reader); the job still applies the model's part of the rule (grey + alpha -> grey),
    and the pixels equal super_resolve's of the same array."""
    import tifffile
    import zarr

    import napari_srmat.io._float as _float
    from napari_srmat.io import read_image
    from napari_srmat.sr import load_model, super_resolve

    rng = np.random.default_rng(3)
    img = rng.random((40, 48) if channels == 1 else (40, 48, channels)).astype(np.float32)
    if channels == 1:
        path = tmp_path / "in.tif"
        tifffile.imwrite(path, img)
    else:  # kept as (H, W, 2) by the reader (a TIFF's extra sample is dropped there)
        path = tmp_path / "in.zarr"
        zarr.open(str(path), mode="w", shape=img.shape, chunks=(20, 24, channels),
                  dtype="float32")[:] = img
    read = []
    real = _float._value_sample
    monkeypatch.setattr(_float, "_value_sample",
                        lambda *a, **k: read.append(1) or real(*a, **k))
    out = tmp_path / "out.ome.zarr"
    assert main(["sr", "run", str(path), str(out), "--model", "bicubic", "--scale", "2",
                 "--tile", "32", "--overlap", "8", "--device", "cpu", "--json"]) == 0
    capsys.readouterr()
    assert len(read) == 1
    got = np.asarray(read_image(out).data)
    want = super_resolve(img, load_model("bicubic", scale=2, device="cpu"), tile=32,
                         overlap=8)
    assert got.shape == (80, 96) == want.shape[:2]
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_a_check_is_skipped_only_for_input_that_passed_it():
    """The job skips its input rule only for input marked by running that rule: the
    marker cannot be made without the rule, one rule's marker is not another's, and
    predict_boundaries_job has no public flag to skip its check (its ``checked=True``
    skipped it for any input)."""
    import inspect

    from napari_srmat.edges import predict_boundaries_job
    from napari_srmat.edges.infer import check_boundary_input
    from napari_srmat.io._checked import Checked, checked, passed
    from napari_srmat.sr import super_resolve
    from napari_srmat.sr.apply import check_sr_input

    bad = np.full((16, 16), 200.0, np.float32)  # a float image beyond [0, 1]
    with pytest.raises(TypeError, match="made by napari_srmat.io._checked.checked"):
        Checked(bad, check_sr_input, (bad, bad.shape, 1), object())
    with pytest.raises(ValueError, match="float image with values in 200..200"):
        checked(check_sr_input, bad)
    good = np.full((16, 16), 0.5, np.float32)
    marked = checked(check_boundary_input, good)
    assert passed(marked, check_boundary_input) is marked
    assert passed(marked, check_sr_input) is None and passed(good, check_sr_input) is None
    assert "checked" not in inspect.signature(predict_boundaries_job).parameters
    with pytest.raises(ValueError, match="float image with values in 200..200"):
        super_resolve(bad, "bicubic", scale=2)


def test_dim_12bit_image_is_super_resolved_brightened_by_the_exposure_rule(tmp_path, capsys):
    """12-bit camera data in a uint16 file reached the network at 1/16 of the brightness
    it was trained on (divided by 65535): ``cnn`` x4 was 0.68 dB below the same data in
    8 bit on tbm/val (studies/sr_12bit_gain.py). A network now sees such an image
    brightened by the boundary model's exposure rule, the output divided back: the store
    stays uint16 on the input's scale and records the gain (also in --json); an 8-bit
    image of the usual brightness gets gain 1, no gain in its store's identity, and the
    same pixels, bit for bit, as the model applied by the tiling engine directly."""
    import tifffile

    import napari_srmat as srmat
    from napari_srmat.edges.infer import image_exposure_gain
    from napari_srmat.io import read_image, to_float01
    from napari_srmat.sr import load_model
    from napari_srmat.tiling import tiled_apply

    lr8 = srmat.generate_microstructure((48, 48), mean_grain_size_px=10, seed=3).image
    lr12 = np.round(lr8.astype(np.float64) * 4095 / 255).astype(np.uint16)
    model = load_model("cnn")
    gain = image_exposure_gain(lr12)
    assert gain > 10 and image_exposure_gain(lr8) == 1.0
    got = srmat.super_resolve(lr12, model, overlap=24)
    # what the network gives for the image brightened by the rule, divided back
    bright = to_float01(lr12) * np.float32(gain)
    want = srmat.super_resolve(bright, model, overlap=24) / np.float32(gain)
    np.testing.assert_allclose(got, want, atol=1e-6)
    # the output range: the brightened image's [0, 1] on the input's scale (as-is, cnn
    # gave values far above the input's brightest)
    assert got.max() <= 1 / gain + 1e-7
    tif = tmp_path / "dim.tif"
    tifffile.imwrite(tif, lr12, photometric="rgb")
    out = tmp_path / "dim_sr.ome.zarr"
    assert main(["sr", "run", str(tif), str(out), "--model", "cnn", "--overlap", "24",
                 "--json"]) == 0
    assert _json(capsys)["exposure_gain"] == pytest.approx(gain)
    mg = read_image(out)
    assert mg.metadata["srmat"]["exposure_gain"] == pytest.approx(gain)
    stored = np.asarray(mg.data)
    assert stored.dtype == np.uint16  # the input's dtype, on the input's scale
    assert np.abs(stored.astype(np.float64) - got * 65535.0).max() <= 1.0
    assert stored.max() < 1.1 * lr12.max()
    # normal 8-bit: unchanged
    png = tmp_path / "normal.png"
    from PIL import Image

    Image.fromarray(lr8).save(png)
    out8 = tmp_path / "normal_sr.ome.zarr"
    assert main(["sr", "run", str(png), str(out8), "--model", "cnn", "--overlap", "24",
                 "--json"]) == 0
    assert _json(capsys)["exposure_gain"] == 1.0
    mg8 = read_image(out8)
    assert "exposure_gain" not in mg8.metadata["srmat"]
    direct = tiled_apply(lr8, model.predict, scale=4, out_channels=3, overlap=24,
                         out_dtype=np.float32)
    assert np.array_equal(srmat.super_resolve(lr8, model, overlap=24), direct)


def test_a_dark_field_image_keeps_its_bright_particles():
    """A dark-field micrograph is dark except for a few bright particles, so its 99.5th
    percentile is dim and the exposure rule gave it gain ~18: the network's output,
    clipped to [0, 1] and divided back, put the 8-bit particles (255) at 14. The SR gain
    now stops where the brightest sampled value reaches 1: such an image gets gain 1 and
    its particles stay bright; a dim image without them is still brightened, as far as
    its brightest value allows."""
    import napari_srmat as srmat
    from napari_srmat.edges.infer import image_exposure_gain
    from napari_srmat.sr import load_model
    from napari_srmat.sr.apply import sr_exposure_gain

    rng = np.random.default_rng(0)
    dark = rng.integers(0, 12, (64, 64)).astype(np.uint8)  # the dark field
    dark[30:34, 40:44] = 255  # a bright particle: 0.4 % of the pixels
    model = load_model("cnn")
    assert image_exposure_gain(dark) > 10  # the boundary model's rule: dim
    assert sr_exposure_gain(dark, model) == 1.0
    out = srmat.super_resolve(dark, model, overlap=24)
    assert out[120:136, 160:176].max() > 0.9  # the particle, x4
    # a dim image (values to 40) with a pixel at 60: brightened until that reaches 1
    dim = (rng.random((64, 64)) * 40).astype(np.uint8)
    dim[0, 0] = 60
    assert image_exposure_gain(dim) > 255 / 60
    assert sr_exposure_gain(dim, model) == pytest.approx(255 / 60)


def test_cluster_workers_get_the_exposure_gain():
    """``--scheduler`` runs the model on dask workers (sr.remote.RemoteModel): they must
    see a dim image with the same gain as this process, or a cluster run's pixels would
    differ from the local run's."""
    import pickle

    from napari_srmat.sr import load_model
    from napari_srmat.sr.remote import RemoteModel

    model = load_model("cnn")
    batch = np.random.default_rng(0).random((1, 3, 20, 20), dtype=np.float32) / 16
    on_worker = pickle.loads(pickle.dumps(RemoteModel(model, gain=12.5)))
    got = on_worker(batch, tile_ids=[(0, 0)])
    np.testing.assert_array_equal(got, model.predict(batch, gain=12.5))
    assert not np.array_equal(got, model.predict(batch))
    np.testing.assert_array_equal(RemoteModel(model)(batch), model.predict(batch))


@pytest.mark.parametrize("source", ["file", "given"])
def test_an_input_pixel_size_too_fine_for_the_sr_output_is_refused_up_front(
        small_png, tmp_path, capsys, source):
    """A TIFF calibrated at 1e-05 µm per pixel (the smallest pixel size napari-srmat
    takes) or a ``--pixel-size-um 2e-05``, both accepted, made ``srmat sr run`` refuse
    after loading the model, when the store was opened: 'pixel_size_um must be between
    1e-05 and 100000 micrometres per pixel, got 2.5e-06', a keyword and a value the user
    never gave, without the file. The output's pixel size (the input's / scale) is now
    checked before the run (io.check_finer_pixel_size), in words naming the file's (or
    the given) size and the output's; nothing is written."""
    import tifffile
    from PIL import Image

    out = tmp_path / "sr.ome.zarr"
    if source == "file":
        src = tmp_path / "fine.tif"
        tifffile.imwrite(src, np.asarray(Image.open(small_png)), resolution=(1e9, 1e9),
                         resolutionunit="CENTIMETER")  # 1e-05 µm per pixel
        argv = ["sr", "run", str(src), str(out), "--model", "bicubic", "--scale", "4"]
        said = f"{src} records 1e-05 µm per pixel"
    else:
        argv = ["sr", "run", str(small_png), str(out), "--model", "bicubic", "--scale", "4",
                "--pixel-size-um", "2e-05"]
        said = "the pixel size given, 2e-05 µm,"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the given size differs from none: no matter here
        assert main(argv) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("[")]
    assert len(err) == 1 and err[0].startswith("srmat sr run: error: ")
    assert said in err[0] and "x4 output, whose pixel size would be" in err[0]
    assert "pixel_size_um" not in err[0] and "Traceback" not in err[0]
    assert not out.exists() and not (tmp_path / "sr.ome.zarr.partial").exists()


def test_sr_run_json_lists_the_jobs_warnings_it_printed(small_png, tmp_path, capsys,
                                                        monkeypatch):
    """Since c231453 a job's warning (the tiled runner's out-of-memory fall-back) is
    printed as ``srmat sr run: warning: ...``, the line of every warning ``--json`` lists
    in ``warnings`` ("the lines also printed as ..."), but only Python warnings were
    listed: the line was on stderr and missing from the JSON. Now listed too."""
    import napari_srmat.sr as sr
    from napari_srmat.jobs import Log

    fallback = "out of memory at batch size 8: retrying with 4"
    real = sr.super_resolve_job

    def job(*args, **kwargs):
        yield Log(fallback, level="warning")
        return (yield from real(*args, **kwargs))

    monkeypatch.setattr(sr, "super_resolve_job", job)
    assert main(["sr", "run", str(small_png), str(tmp_path / "o.zarr"), "--model",
                 "bicubic", "--tile", "16", "--overlap", "4", "--json"]) == 0
    out, err = capsys.readouterr()
    assert f"srmat sr run: warning: {fallback}" in err.splitlines()
    assert json.loads(out)["warnings"] == [fallback]


def test_sr_train_refuses_a_data_source_given_twice(small_png, tmp_path, capsys):
    """Was accepted: `srmat sr train --data a.png ./a.png` (or a folder twice, or a
    symlink) trained on a.png twice as often as on the other images (PatchSampler draws
    an image, then a crop), without a word, as `srmat edges pretrain` did until
    d6fab496. Refused now by the same rule (check_distinct_inputs): one line, exit 2,
    nothing written (failed before: rc 0)."""
    from napari_srmat.cli.edges import EACH_IMAGE_ONCE

    (tmp_path / "link.png").symlink_to(small_png)
    folder = small_png.parent
    out = tmp_path / "ck"
    for first, again in ((str(small_png), f"{folder}/./{small_png.name}"),
                         (str(small_png), str(tmp_path / "link.png")),
                         (str(folder), f"{folder}/.")):
        rc = main(["sr", "train", "--data", first, again, "--model", "cnn", "--scale", "2",
                   "--train-steps", "1", "--batch-size", "1", "--patch", "16",
                   "--out", str(out), "--threads", "1", "--device", "cpu"])
        said, err = capsys.readouterr()
        assert rc == 2 and said == ""
        assert err.strip() == (f"srmat sr train: error: training source {first} is given "
                               f"twice (also as {again}): {EACH_IMAGE_ONCE}"), err
        assert not out.exists()


def _sr_train_with_val(tmp_path, *extra):
    """Run `srmat sr train` for 2 steps, validated at its last, on two 48 x 48 PNGs (one
    trained on, one validated on); returns its rc and its out folder."""
    from PIL import Image

    data, val, out = tmp_path / "data", tmp_path / "val", tmp_path / "run"
    for folder, seed in ((data, 1), (val, 2)):
        folder.mkdir(exist_ok=True)
        rng = np.random.default_rng(seed)
        Image.fromarray((rng.random((48, 48, 3)) * 255).astype(np.uint8)).save(
            folder / "i.png")
    rc = main(["sr", "train", "--data", str(data), "--val", str(val), "--model", "cnn",
               "--scale", "2", "--train-steps", "2", "--val-every", "2", "--batch-size",
               "1", "--patch", "16", "--out", str(out), "--threads", "1", "--device",
               "cpu", *extra])
    return rc, out


def test_sr_train_s_last_line_names_the_rule_of_an_older_versions_best(tmp_path, capsys):
    """A complete run an older version wrote (its state records no val_metric: its best
    is the PSNR of RGB with the border in), resumed with as many steps: the last line
    called its RGB figure 'val PSNR (Y)' (failed before). The result carries the rule
    (val_metric; None for an older state's best) and the line names it as _earlier_run
    does; a run of this version's says (Y)."""
    from napari_srmat.cli import ALREADY_COMPLETE_NOTE

    rc, out = _sr_train_with_val(tmp_path, "--json")
    res = _json(capsys)
    assert rc == 0 and res["val_metric"] == "psnr_y"
    state = out / "train_state" / "config.json"
    config = json.loads(state.read_text())
    del config["settings"]["val_metric"]  # as an older version wrote it: an RGB best
    config["best_psnr"] = rgb = config["best_psnr"] - 5.0
    state.write_text(json.dumps(config))
    assert _sr_train_with_val(tmp_path, "--resume")[0] == 0
    assert capsys.readouterr().out == (
        f"best checkpoint: {out / 'best'} (val PSNR (RGB, an older version's rule) "
        f"{rgb:.2f} dB){ALREADY_COMPLETE_NOTE}\n")
    assert _sr_train_with_val(tmp_path, "--resume", "--json")[0] == 0
    res = _json(capsys)
    assert res["val_metric"] is None and res["best_psnr"] == rgb
    assert _sr_train_with_val(tmp_path, "--overwrite")[0] == 0
    best = json.loads(state.read_text())["best_psnr"]
    assert capsys.readouterr().out == (
        f"best checkpoint: {out / 'best'} (val PSNR (Y) {best:.2f} dB)\n")


@pytest.mark.parametrize("name", ["no_such_folder", "no_such.png"])
def test_sr_train_names_a_missing_val_as_validation_data(small_png, tmp_path, capsys, name):
    """`srmat sr train --val MISSING` said 'MISSING: training source not found' (failed
    before): the validation data is read by the training images' reader. It names it as
    what it is, in one line, exit 2, before anything is written."""
    out, missing = tmp_path / "ck", tmp_path / name
    rc = main(["sr", "train", "--data", str(small_png), "--val", str(missing), "--model",
               "cnn", "--scale", "2", "--train-steps", "1", "--batch-size", "1", "--patch",
               "16", "--out", str(out), "--threads", "1", "--device", "cpu"])
    assert rc == 2 and _one_error_line(capsys, "srmat sr train") == (
        f"srmat sr train: error: {missing}: validation data not found")
    assert not out.exists()


@pytest.mark.parametrize("cut", ["finish", "swap_in_whole"])
def test_sr_run_resume_that_finished_the_output_is_not_nothing_to_do(tmp_path, capsys,
                                                                      monkeypatch, cut):
    """An `srmat sr run` interrupted after its tiles (while building the pyramid, or
    before the swap into place) and rerun finished the output (pyramid, metadata, the
    swap) yet said "was already complete ... nothing left to do" and --json
    ``"nothing_to_do": true``: a script skipping later steps on it would skip wrongly.
    The rerun now says what it finished, and ``nothing_to_do`` is false."""
    from PIL import Image

    from napari_srmat.io import OmeZarrStreamWriter, read_image
    from napari_srmat.jobs import run_job
    from napari_srmat.sr import load_model, super_resolve_job

    rng = np.random.default_rng(0)
    src = tmp_path / "a.png"
    Image.fromarray((rng.random((60, 50)) * 255).astype(np.uint8)).save(src)
    out = tmp_path / "out.ome.zarr"

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    argv = ["sr", "run", str(src), str(out), "--model", "bicubic", "--scale", "2",
            "--tile", "32", "--overlap", "8", "--device", "cpu"]
    model = load_model("bicubic", scale=2, device="cpu")
    for flags in (["--json"], []):
        shutil.rmtree(out, ignore_errors=True)  # the second time: a fresh start
        with monkeypatch.context() as patch:
            patch.setattr(OmeZarrStreamWriter, cut, interrupted)
            with pytest.raises(KeyboardInterrupt):
                run_job(super_resolve_job(read_image(src), model, tile=32, overlap=8,
                                          out=out), quiet=True)
        assert (tmp_path / "out.ome.zarr.partial").exists()
        assert main([*argv, *flags]) == 0
        said, err = capsys.readouterr()
        if flags:
            resumed = json.loads(said)
            assert resumed["nothing_to_do"] is False and resumed["tiles_computed"] == 0
        else:
            assert said.startswith(f"wrote {out}: (120, 100) with bicubic x2 in ")
            assert "nothing" not in said + err and "already complete" not in said + err
        assert read_image(out).data.shape == (120, 100)
    assert main([*argv, "--json"]) == 0  # now complete: nothing to do
    assert _json(capsys)["nothing_to_do"] is True


def test_sr_run_on_a_damaged_complete_output_names_overwrite(tmp_path, capsys):
    """`srmat sr run` again on its complete OUTPUT that lost a chunk printed "[notice]
    ... already complete: nothing to do" and then "error: ... is damaged", without the
    remedy. Now one error line, naming --overwrite, which writes it again."""
    from PIL import Image

    from napari_srmat.io import read_image

    rng = np.random.default_rng(2)
    src = tmp_path / "a.png"
    Image.fromarray((rng.random((60, 50)) * 255).astype(np.uint8)).save(src)
    out = tmp_path / "out.ome.zarr"
    argv = ["sr", "run", str(src), str(out), "--model", "bicubic", "--scale", "2",
            "--tile", "32", "--overlap", "8", "--device", "cpu"]
    assert main(argv) == 0
    capsys.readouterr()
    chunk = next(p for p in (out / "0").rglob("*") if p.is_file() and p.name[0] != ".")
    chunk.unlink()
    assert main(argv) != 0
    said, err = capsys.readouterr()
    told = [line for line in err.splitlines() if not line.startswith("[info]")]
    assert said == "" and len(told) == 1 and "complete" not in err, err
    assert told[0].startswith(f"srmat sr run: error: {out} is damaged: ")  # not a.png's
    assert told[0].endswith("; pass --overwrite to write it again")
    assert main([*argv, "--overwrite"]) == 0
    assert read_image(out).data.shape == (120, 100)


def test_sr_run_json_says_whether_the_network_is_trained(small_png, tmp_path, capsys):
    """`srmat sr run --json` named the model and its checkpoint but not whether the
    network had trained weights: the default cnn at x2 (no shipped weights: its SR equals
    bicubic) read as any other run but for a line in ``warnings``; the summary now has
    ``weights`` (:func:`napari_srmat.sr.rescan.model_weights`), as the SR layer has."""
    with pytest.warns(UserWarning, match="no shipped weights"):
        assert main(["sr", "run", "--model", "cnn", "--scale", "2", str(small_png),
                     str(tmp_path / "x2.zarr"), "--json"]) == 0
    assert _json(capsys)["weights"] == "untrained"
    assert main(["sr", "run", "--model", "bicubic", "--scale", "2", str(small_png),
                 str(tmp_path / "bicubic.zarr"), "--json"]) == 0
    assert _json(capsys)["weights"] == "analytic"
    # the shipped x4 weights
    assert main(["sr", "run", "--model", "cnn", "--scale", "4", str(small_png),
                 str(tmp_path / "x4.zarr"), "--json"]) == 0
    assert _json(capsys)["weights"] == "trained"


def test_sr_run_finishing_a_damaged_finished_partial_names_overwrite(tmp_path, capsys,
                                                                     monkeypatch):
    """An `srmat sr run` stopped after its partial was finished, before the swap, whose
    partial then lost a chunk: the rerun moved it into place unread and said "wrote ..."
    (exit 0) of a damaged output. Now read as a complete output found is (the writer's
    damage rule): one error line naming --overwrite, which writes it again."""
    from PIL import Image

    from napari_srmat.io import OmeZarrStreamWriter, read_image
    from napari_srmat.jobs import run_job
    from napari_srmat.sr import load_model, super_resolve_job

    src = tmp_path / "a.png"
    Image.fromarray((np.random.default_rng(3).random((60, 50)) * 255).astype(np.uint8)).save(src)
    out = tmp_path / "out.ome.zarr"

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(OmeZarrStreamWriter, "swap_in_whole", interrupted)
        with pytest.raises(KeyboardInterrupt):
            run_job(super_resolve_job(read_image(src), load_model("bicubic", scale=2),
                                      tile=32, overlap=8, out=out), quiet=True)
    partial = tmp_path / "out.ome.zarr.partial"
    next(p for p in (partial / "0").rglob("*") if p.is_file() and p.name[0] != ".").unlink()
    argv = ["sr", "run", str(src), str(out), "--model", "bicubic", "--scale", "2",
            "--tile", "32", "--overlap", "8", "--device", "cpu"]
    assert main(argv) != 0
    said, err = capsys.readouterr()
    told = [line for line in err.splitlines() if not line.startswith("[info]")]
    assert said == "" and len(told) == 1, err
    assert told[0].startswith(f"srmat sr run: error: {out} is damaged: ")
    assert told[0].endswith("; pass --overwrite to write it again")
    assert main([*argv, "--overwrite"]) == 0
    assert read_image(out).data.shape == (120, 100)


def test_sr_run_s_first_line_keeps_the_channels_of_the_output_shape(tmp_path, capsys):
    """`srmat sr run` of an RGB image said "(60, 50, 3) -> (120, 100)" in its first line
    and "(120, 100, 3)" in its last: the SR keeps the channels, both say them now."""
    from PIL import Image

    src = tmp_path / "a.png"
    rgb = (np.random.default_rng(4).random((60, 50, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(src)
    out = tmp_path / "out.ome.zarr"
    assert main(["sr", "run", str(src), str(out), "--model", "bicubic", "--scale", "2"]) == 0
    said, err = capsys.readouterr()
    assert "bicubic x2: (60, 50, 3) -> (120, 100, 3), tile up to" in err, err
    assert said.startswith(f"wrote {out}: (120, 100, 3) with bicubic x2 in ")
