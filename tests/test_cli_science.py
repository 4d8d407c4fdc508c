"""CLI: srmat synth / heyn / eval-maps through napari_srmat.cli.main."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _helpers import EVAL_MAPS_KEYS, fake_predictions
from PIL import Image

from napari_srmat.cli import main


def run_json(capsys, argv):
    code = main(argv)
    out = capsys.readouterr().out
    assert code == 0
    return json.loads(out)


@pytest.fixture
def synth_dir(tmp_path, capsys):
    out = tmp_path / "syn"
    data = run_json(
        capsys, ["synth", str(out), "--size-px", "128", "--grain-size-px", "16", "--n", "2",
                 "--json"]
    )
    assert data["n"] == 2
    return out, data


def test_synth_writes_files(synth_dir):
    import tifffile

    out, data = synth_dir
    for item in data["images"]:
        img = np.asarray(Image.open(out / item["files"]["image"]))
        mask = np.asarray(Image.open(out / item["files"]["mask"]))
        labels = tifffile.imread(out / item["files"]["labels"])
        assert img.shape == (128, 128, 3) and mask.shape == labels.shape == (128, 128)
        assert set(np.unique(mask)) <= {0, 255}
        meta = json.loads((out / f"{item['name']}.json").read_text())
        assert meta["mean_intercept_px"] == pytest.approx(item["mean_intercept_px"])
        from napari_srmat.synth import true_mean_intercept

        assert meta["mean_intercept_px"] == pytest.approx(true_mean_intercept(labels))
    # no temporary files left; only the marker that makes the folder ours
    assert [p.name for p in out.glob(".*")] == [".srmat_output.json"]


@pytest.mark.parametrize("px", [1e-4, 264.6, 352.75, 3e4])
def test_a_pixel_size_no_png_can_carry_is_refused_before_anything_is_written(px, tmp_path,
                                                                            capsys):
    """PNG pHYs holds whole pixels per metre in 32 bits: 1e-4 µm overflowed (internal
    error after the folder was made), 264.6 / 352.75 µm landed on 96 / 72 dpi (read back
    as no pixel size), 3e4 µm rounded 1 % off. synth and demo refuse such a size first;
    every size a PNG carries reads back within 1 %."""
    from napari_srmat.cli import main
    from napari_srmat.io import png_bytes, read_image
    from napari_srmat.io._write import png_pixel_size
    from napari_srmat.studies.demo import run_demo

    assert png_pixel_size(px) is None
    out = tmp_path / "syn"
    assert main(["synth", str(out), "--size-px", "32", "--pixel-size-um", f"{px:g}"]) == 2
    err = capsys.readouterr().err
    assert "cannot be stored in a PNG" in err and err.count("\n") == 1
    assert not out.exists()
    with pytest.raises(ValueError, match="cannot be stored in a PNG"):
        run_demo(tmp_path / "demo", size=96, pixel_size_um=px * 4 if px < 1 else px,
                 steps=("sr",) if px < 1 else ("heyn",))
    assert not (tmp_path / "demo").exists()
    for ok in (2.5e-4, 0.3217, 100.0, 9000.0):
        path = tmp_path / f"{ok:g}.png"
        path.write_bytes(png_bytes(np.zeros((8, 8), np.uint8), ok))
        assert read_image(path).pixel_size_um == pytest.approx(ok, rel=0.01)


def test_synth_and_demo_files_carry_their_pixel_size(tmp_path, capsys):
    """``srmat synth --pixel-size-um`` recorded the size in <name>.json only, and the demo
    (0.5 µm) in its report only: their PNGs had no pHYs, so ``srmat grain-size`` /
    ``read_image`` of them gave ℓ̄ in px only, with no µm and no G. The files now carry it
    (``io.png_bytes``), and the µm figure of a measurement agrees with the truth's."""
    from napari_srmat.io import png_bytes, read_image
    from napari_srmat.studies.demo import run_demo

    out = tmp_path / "syn"
    data = run_json(capsys, ["synth", str(out), "--size-px", "128", "--grain-size-px", "16",
                             "--pixel-size-um", "0.5", "--json"])
    item = data["images"][0]
    files = item["files"]
    for key in ("image", "mask", "labels"):
        assert read_image(out / files[key]).pixel_size_um == pytest.approx(0.5)
    row = run_json(capsys, ["grain-size", str(out / files["mask"]), "--mask",
                            "--json"])["images"][0]
    assert row["pixel_size_um"] == pytest.approx(0.5)
    assert row["mean_intercept_um"] == pytest.approx(row["mean_intercept_px"] * 0.5)
    assert row["mean_intercept_ci95_um"][0] < item["mean_intercept_um"] \
        < row["mean_intercept_ci95_um"][1]
    # without the flag: no pHYs, as before
    run_json(capsys, ["synth", str(tmp_path / "plain"), "--size-px", "32", "--grain-size-px", "8",
                      "--json"])
    assert read_image(tmp_path / "plain" / "synth_0000_image.png").pixel_size_um is None
    # the demo's PNGs
    report = run_demo(tmp_path / "demo", size=96, mean_grain_size_px=16, pixel_size_um=0.5,
                      steps=("heyn",))
    for key in ("micrograph", "true_boundaries"):
        assert read_image(tmp_path / "demo" / report["files"][key]).pixel_size_um == 0.5
    # an odd size survives the pHYs rounding (integer pixels per metre) within 1e-6
    with open(tmp_path / "odd.png", "wb") as fh:
        fh.write(png_bytes(np.zeros((8, 8), np.uint8), 0.3217))
    assert read_image(tmp_path / "odd.png").pixel_size_um == pytest.approx(0.3217, rel=1e-6)


@pytest.mark.parametrize(("px", "stages", "named"), [
    ("2e-05", "heyn", "--pixel-size-um 2e-05 µm cannot be stored in a PNG"),
    ("0.0005", "sr", "the SR image's pixel size (--pixel-size-um / 4) 0.000125 µm cannot"),
])
def test_srmat_demo_s_png_pixel_size_refusal_names_the_flag(tmp_path, capsys, px, stages,
                                                            named):
    """srmat demo --pixel-size-um 2e-05 (or 0.0005 with the SR stage: 0.000125 µm for the
    SR PNG) was refused as 'pixel_size_um 2e-05 µm cannot be stored in a PNG' / 'the SR
    image's pixel size (pixel_size_um / 4) ...': a keyword the command's user never
    typed. The command now names its flag (errors.worded_error); Python callers of
    run_demo keep the keyword."""
    from napari_srmat.studies.demo import run_demo

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--size", "64", "--stages", stages,
                 "--device", "cpu", "--pixel-size-um", px]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("srmat demo: error: ")
    assert named in err[0] and "pixel_size_um" not in err[0]
    assert not out.exists()
    with pytest.raises(ValueError, match=r"pixel_size_um[ )].*cannot be stored in a PNG"):
        run_demo(out, size=64, pixel_size_um=float(px), steps=(stages,))


def test_demo_refuses_bad_parameters_before_clearing_the_earlier_run(tmp_path):
    """run_demo with a grain size the generator refuses (larger than the micrograph, or
    under 4 px) failed only after it had created the folder and removed the earlier
    demo's results; pixel_size_um=None failed with a TypeError after writing two PNGs."""
    from napari_srmat.io import PixelSizeError
    from napari_srmat.studies.demo import run_demo
    from napari_srmat.synth import SynthError

    out = tmp_path / "demo"
    run_demo(out, size=64, mean_grain_size_px=16, steps=("heyn",))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    for grain in (1000, 2):
        with pytest.raises(SynthError, match="mean_grain_size_px"):
            run_demo(out, size=64, mean_grain_size_px=grain, steps=("heyn",))
        with pytest.raises(SynthError, match="mean_grain_size_px"):
            run_demo(tmp_path / f"new{grain}", size=64, mean_grain_size_px=grain,
                     steps=("heyn",))
        assert not (tmp_path / f"new{grain}").exists()
    with pytest.raises(PixelSizeError, match="pixel_size_um is required"):
        run_demo(out, size=64, mean_grain_size_px=16, pixel_size_um=None, steps=("heyn",))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_heyn_pools_masks_of_one_calibration_read_from_different_formats(tmp_path, capsys):
    """Two masks of one 0.3217 µm calibration, a PNG (pHYs: whole pixels per metre) and
    an OME-Zarr, read 1e-8 apart: ``srmat heyn`` withheld the pooled µm and G ("different
    or unknown pixel sizes"). Sizes within the library's 1 % are one size."""
    from napari_srmat.io import png_bytes, read_image, write_ome_zarr
    from napari_srmat.synth import generate_microstructure

    masks = [generate_microstructure((128, 128), mean_grain_size_px=16, seed=s).boundaries
             for s in (0, 1)]
    png, zarr_ = tmp_path / "a.png", tmp_path / "b.ome.zarr"
    png.write_bytes(png_bytes(masks[0].astype(np.uint8) * 255, 0.3217))
    write_ome_zarr(masks[1].astype(np.uint8) * 255, zarr_, pixel_size_um=0.3217)
    assert read_image(png).pixel_size_um != read_image(zarr_).pixel_size_um  # 1e-8 apart
    out = run_json(capsys, ["heyn", str(png), str(zarr_), "--json"])
    assert out["pixel_size_um"] == pytest.approx(0.3217)
    assert out["mean_intercept_um"] == pytest.approx(out["mean_intercept_px"] * 0.3217)
    assert out["astm_g"] is not None
    assert not any("different or unknown" in w for w in out["warnings"])
    # sizes 2x apart are pooled in µm (each mask's N_L per mm), never in px
    write_ome_zarr(masks[1].astype(np.uint8) * 255, tmp_path / "c.ome.zarr",
                   pixel_size_um=0.6434)
    out = run_json(capsys, ["heyn", str(png), str(tmp_path / "c.ome.zarr"), "--json"])
    assert out["mean_intercept_px"] is None
    assert out["mean_intercept_um"] is not None and out["astm_g"] is not None


def test_heyn_cli_json(synth_dir, capsys):
    out, data = synth_dir
    masks = sorted(str(p) for p in out.glob("*_mask.png"))
    res = run_json(
        capsys,
        [
            "heyn",
            *masks,
            "--pattern",
            "grid",
            "--lines",
            "20",
            "--skeletonize",
            "--pixel-size-um",
            "0.5",
            "--json",
        ],
    )
    for key in (
        "mean_intercept_px",
        "n_intersections",
        "total_length_px",
        "n_lines",
        "mean_intercept_um",
        "astm_g",
        "ci95_half_width_px",
        "relative_accuracy_pct",
    ):
        assert key in res, key
    assert res["n_lines"] == 80 and res["n_images"] == 2
    assert res["mean_intercept_px"] == pytest.approx(
        res["total_length_px"] / res["n_intersections"]
    )
    assert res["mean_intercept_um"] == pytest.approx(res["mean_intercept_px"] * 0.5)
    true = np.mean([d["mean_intercept_px"] for d in data["images"]])
    assert res["mean_intercept_px"] == pytest.approx(true, rel=0.15)
    # same measurement through the library
    from napari_srmat.metrics.heyn import measure_intercepts

    lib = measure_intercepts(
        np.asarray(Image.open(masks[0])), pattern="grid", n_lines=20, skeletonize=True
    )
    assert res["per_image"][0]["n_intersections"] == lib.n_intersections


def test_heyn_cli_segments_and_text(tmp_path, capsys):
    m = np.zeros((60, 60), np.uint8)
    m[:, ::10] = 255
    Image.fromarray(m).save(tmp_path / "m.png")
    seg = tmp_path / "s.csv"
    seg.write_text("r0,c0,r1,c1\n30,0,30,59\n")
    res = run_json(
        capsys,
        [
            "heyn",
            str(tmp_path / "m.png"),
            "--pattern",
            "segments",
            "--segments",
            str(seg),
            "--json",
        ],
    )
    assert res["n_intersections"] == 6
    assert main(["heyn", str(tmp_path / "m.png")]) == 0
    assert "pooled: mean intercept" in capsys.readouterr().out


def test_heyn_cli_bad_file(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    assert main(["heyn", str(bad), "--json"]) == 2
    err = capsys.readouterr().err
    assert "cannot read" in err and "Traceback" not in err
    assert main(["heyn", str(tmp_path / "missing.png")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["heyn", str(bad), "--pattern", "segments"]) == 2


def _write_maps(folder, masks_folder, n, seed=0, drop=None):
    folder.mkdir(parents=True, exist_ok=True)
    masks_folder.mkdir(parents=True, exist_ok=True)
    probs, masks = fake_predictions(n, seed=seed, size=96, grain=16, gain=1.5, noise=0.05)
    for i, (p, mask) in enumerate(zip(probs, masks)):
        np.save(folder / f"img{i}.npy", p.astype(np.float32))
        if i != drop:
            Image.fromarray(mask).save(masks_folder / f"img{i}.png")


def _eval_maps_argv(tmp_path, *extra):
    """``srmat eval-maps`` on the maps that ``_write_maps`` wrote to prob/ and masks/."""
    argv = ["eval-maps", "--prob", str(tmp_path / "prob"), "--masks", str(tmp_path / "masks")]
    return [*argv, *extra]


def test_eval_maps_cli(tmp_path, capsys):
    _write_maps(tmp_path / "prob", tmp_path / "masks", 2)
    _write_maps(tmp_path / "vprob", tmp_path / "vmasks", 2, seed=1)
    plot = tmp_path / "curves.png"
    res = run_json(
        capsys,
        _eval_maps_argv(
            tmp_path,
            "--val-prob",
            str(tmp_path / "vprob"),
            "--val-masks",
            str(tmp_path / "vmasks"),
            "--plot",
            str(plot),
            "--lines",
            "20",
            "--json",
        ),
    )
    for key in EVAL_MAPS_KEYS:
        assert key in res
    assert res["n_images"] == 2 and [r["name"] for r in res["per_image"]] == ["img0", "img1"]
    assert res["threshold_source"].startswith("validation")
    assert plot.read_bytes()[:4] == b"\x89PNG"
    res2 = run_json(capsys, _eval_maps_argv(tmp_path, "--threshold", "0.5", "--json"))
    assert res2["threshold"] == 0.5


def test_eval_maps_cli_errors(tmp_path, capsys):
    _write_maps(tmp_path / "prob", tmp_path / "masks", 2, drop=1)
    assert main(_eval_maps_argv(tmp_path, "--json")) == 2
    err = capsys.readouterr().err
    assert "no mask" in err and "img1" in err and "Traceback" not in err
    Image.fromarray(np.zeros((50, 50), np.uint8)).save(tmp_path / "masks" / "img1.png")
    assert main(_eval_maps_argv(tmp_path)) == 2
    err = capsys.readouterr().err
    # both files are named (it was the stem alone: "img1: probability map ...")
    assert "differ in shape" in err and err.count("\n") == 1
    assert str(tmp_path / "masks" / "img1.png") in err and str(tmp_path / "prob") in err


@pytest.mark.parametrize("folder", ["prob", "vprob"])
def test_eval_maps_nan_map_names_its_file(tmp_path, capsys, folder):
    """A probability map with a NaN pixel was refused as ``prob has NaN or Inf values``
    (which of the files?), and as a validation map it was used without its NaN pixels;
    both name the file now (exit 2, stdout empty with --json)."""
    _write_maps(tmp_path / "prob", tmp_path / "masks", 2)
    _write_maps(tmp_path / "vprob", tmp_path / "vmasks", 2, seed=1)
    bad = tmp_path / folder / "img1.npy"
    p = np.load(bad)
    p[5, 5] = np.nan
    np.save(bad, p)
    argv = _eval_maps_argv(tmp_path, "--val-prob", str(tmp_path / "vprob"),
                           "--val-masks", str(tmp_path / "vmasks"), "--json")
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"srmat eval-maps: error: {bad}: probability map has NaN or Inf")


def test_eval_maps_text_report_without_background_pixels(tmp_path, capsys):
    """Masks that are boundary everywhere have no ROC-AUC (``None`` in the JSON); the
    text report formatted it as a number and ended in an internal TypeError."""
    _write_maps(tmp_path / "prob", tmp_path / "masks", 1)
    Image.fromarray(np.full((96, 96), 255, np.uint8)).save(tmp_path / "masks" / "img0.png")
    assert main(_eval_maps_argv(tmp_path)) == 0
    captured = capsys.readouterr()
    assert "ROC-AUC n/a (no background pixels)" in captured.out
    assert "internal error" not in captured.err


@pytest.mark.parametrize("bins", ["0", "1", "abc", "2.5", "2.7", str(2**21)])
def test_eval_maps_bad_bins_named_before_any_map_is_read(tmp_path, capsys, monkeypatch, bins):
    """--bins 0 was read as a bare int and refused only after every map had been read, as
    ``n_bins must be between ...`` (a library name); the rule of check_n_bins is now the
    flag's type, told by argparse naming --bins before anything is read."""
    import napari_srmat.cli.evalmaps as evalmaps

    _write_maps(tmp_path / "prob", tmp_path / "masks", 1)
    monkeypatch.setattr(evalmaps, "_pairs", lambda *a: pytest.fail("maps read"))
    with pytest.raises(SystemExit) as exc:
        main(_eval_maps_argv(tmp_path, "--bins", bins))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "argument --bins: the number of bins must be an integer in [2, 1048576], got " in err
    assert "Traceback" not in err


def test_eval_maps_integer_bins_reach_the_histogram(tmp_path, capsys, monkeypatch):
    """--bins as argparse passes it (text) and an integral '16.0' keep working under the
    one integer rule (check_number refuses strings and non-integers): the histogram gets
    that many bins."""
    import napari_srmat.metrics.edges as edges

    seen = []
    real = edges.EdgeHistogram.__init__
    monkeypatch.setattr(edges.EdgeHistogram, "__init__",
                        lambda self, n_bins=1024: seen.append(n_bins) or real(self, n_bins))
    _write_maps(tmp_path / "prob", tmp_path / "masks", 1)
    for text in ("12", "16.0"):
        seen.clear()
        run_json(capsys, _eval_maps_argv(tmp_path, "--bins", text, "--json"))
        assert seen and set(seen) == {int(float(text))}
        assert all(type(n) is int for n in seen)


def test_eval_maps_empty_plot_path_is_refused_not_skipped(tmp_path, capsys, monkeypatch):
    """``--plot ""`` was false-y and quietly wrote no plot (exit 0); it names no file and
    is refused, naming the flag, before any map is read (the rule of
    :func:`napari_srmat.outputs.check_output_location`)."""
    import napari_srmat.cli.evalmaps as evalmaps

    _write_maps(tmp_path / "prob", tmp_path / "masks", 1)
    monkeypatch.setattr(evalmaps, "_pairs", lambda *a: pytest.fail("maps read"))
    assert main(_eval_maps_argv(tmp_path, "--plot", "")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        "srmat eval-maps: error: --plot: output path '' names no file")
    assert "e.g. figure.png" in err


def test_a_demo_rerun_never_mixes_two_runs_in_its_folder(tmp_path, capsys):
    """A rerun with another seed and size rewrote the micrograph, then stopped at the
    earlier run's store ("made differently; pass --overwrite", a flag demo does not have),
    leaving the old report beside the new micrograph; a run of fewer stages kept the
    earlier previews. The earlier run's files go first; the user's other files stay."""
    from napari_srmat.io import read_image

    out = tmp_path / "demo"
    base = ["demo", "--out", str(out), "--stages", "heyn,sr"]
    assert main([*base, "--size", "64"]) == 0
    (out / "my_notes.txt").write_text("mine")
    assert main([*base, "--size", "80", "--seed", "3"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["synthetic"]["shape"][:2] == [80, 80] and report["synthetic"]["seed"] == 3
    assert read_image(out / "super_resolved.zarr").data.shape[:2] == (320, 320)
    assert main(["demo", "--out", str(out), "--stages", "heyn", "--size", "64"]) == 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "micrograph.png", "my_notes.txt", "report.json", "report.md", "true_boundaries.png"]
    assert (out / "my_notes.txt").read_text() == "mine"
    capsys.readouterr()


def test_a_demo_rerun_keeps_a_file_the_user_put_in_its_store(tmp_path, capsys):
    """The rerun deleted the earlier run's super_resolved.zarr whole, with a file the user
    had put in it; such a store is refused (check_replaceable_store), before anything of
    the earlier run is removed."""
    out = tmp_path / "demo"
    base = ["demo", "--out", str(out), "--stages", "heyn,sr", "--size", "64"]
    assert main(base) == 0
    notes = out / "super_resolved.zarr" / "my_notes.txt"
    notes.write_text("mine")
    micrograph = (out / "micrograph.png").read_bytes()
    capsys.readouterr()
    assert main([*base, "--seed", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "also holds files napari-srmat did not write" in err
    assert notes.read_text() == "mine"
    assert (out / "micrograph.png").read_bytes() == micrograph  # the earlier run is whole


def test_a_demo_stopped_while_super_resolving_reruns_with_other_settings(tmp_path, capsys):
    """A staging of the earlier run's SR store (stopped part-way) made the rerun fail
    with "pass resume=False (--no-resume)", a flag demo does not have."""
    from napari_srmat.jobs import Progress, StopToken, run_job
    from napari_srmat.sr import super_resolve_job

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--stages", "heyn", "--size", "64"]) == 0
    token = StopToken()
    image = np.random.default_rng(0).integers(0, 255, (96, 96, 3), dtype=np.uint8)
    run_job(super_resolve_job(image, "bicubic", out=out / "super_resolved.zarr", tile=32,
                              overlap=8, stop=token), quiet=True,
            on_event=lambda e: token.request_stop() if isinstance(e, Progress)
            and e.done >= 1 else None)
    assert (out / "super_resolved.zarr.partial").is_dir()
    assert main(["demo", "--out", str(out), "--stages", "heyn,sr", "--size", "64"]) == 0
    assert json.loads((out / "report.json").read_text())["super_resolution"]["scale"] == 4
    capsys.readouterr()


@pytest.mark.parametrize("folder, second, hidden", [
    ("prob", "img0.tif", False),  # a second map of one stem: .npy and .tif
    ("prob", "img0.ome.zarr", False),  # an (OME-)Zarr store of the stem of a .npy
    ("masks", "img0.npy", True),  # a second mask of one stem; ._img0.png is macOS's
])
def test_eval_maps_pairs_by_the_one_stem_rule(tmp_path, capsys, folder, second, hidden):
    """`srmat eval-maps` paired maps and masks by a rule of its own (cli/evalmaps._list),
    where training, edges eval and three-arm use io.images_by_stem: two files of one stem
    were refused as 'DIR: two files with stem 'img0'' (which two?), and macOS's hidden
    ._img0.png counted as a mask. One rule now, naming both files in one line, exit 2;
    hidden files are skipped."""
    _write_maps(tmp_path / "prob", tmp_path / "masks", 2)
    if hidden:  # skipped by the one rule: no "two files" refusal of its own
        (tmp_path / "masks" / "._img1.png").write_bytes(b"\x00\x05")
        res = run_json(capsys, _eval_maps_argv(tmp_path, "--lines", "20", "--json"))
        assert res["n_images"] == 2
    d = tmp_path / folder
    if second.endswith(".zarr"):
        import zarr

        zarr.open_array(str(d / second), mode="w", shape=(96, 96), dtype="f4")
    else:
        (d / second).write_bytes((d / ("img0.npy" if folder == "prob" else "img0.png"))
                                 .read_bytes())
    assert main(_eval_maps_argv(tmp_path, "--json")) == 2
    out, err = capsys.readouterr()
    first = "img0.npy" if folder == "prob" else "img0.png"
    names = ", ".join(sorted([first, second]))
    assert out == "" and err == (f"srmat eval-maps: error: {d}: two files with stem 'img0' "
                                 f"({names}): images and masks pair by stem; keep one\n")


def test_eval_maps_job_warnings_are_the_commands_warning_lines(tmp_path, capsys):
    """A job's warning was printed ``[warning] message`` (run_job's line), every other
    warning of a command ``srmat CMD: warning: message`` (with ``--json`` eval-maps
    printed the same warning in that form): one rule now, with and without ``--json``."""
    _write_maps(tmp_path / "prob", tmp_path / "masks", 2)
    np.save(tmp_path / "prob" / "img1.npy", np.zeros((96, 96), np.float32))  # no boundary
    told = []
    for extra in ([], ["--json"]):
        assert main(_eval_maps_argv(tmp_path, "--lines", "20", *extra)) == 0
        err = capsys.readouterr().err.splitlines()
        told.append([line for line in err if "warning" in line])
    assert told[0] == told[1] and len(told[0]) == 1
    assert told[0][0].startswith("srmat eval-maps: warning: no test line crosses a predicted "
                                 "boundary in img1")
