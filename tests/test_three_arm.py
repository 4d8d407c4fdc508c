"""The three-arm experiment (HR, LR, SR(LR), SR(HR)): job, merge, figure and CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _helpers import drive_and_stop
from PIL import Image

from napari_srmat.cli import main
from napari_srmat.edges.thresholds import mean_intercept
from napari_srmat.jobs import Progress, Stopped, StopToken, run_job
from napari_srmat.studies.three_arm import (
    arm_names,
    downsample_uint8,
    is_three_arm_plot,
    is_three_arm_report,
    measure_arms_job,
    merge_three_arm,
    plot_three_arm,
    run_three_arm,
    three_arm_job,
)
from napari_srmat.synth import generate_microstructure

ARMS = ["HR (native region)", "LR (x4 down, measured directly)", "SR(LR) bicubic",
        "SR(HR) bicubic"]


@pytest.fixture(scope="module")
def model():
    from napari_srmat.edges import load_boundary_model

    return load_boundary_model()


@pytest.fixture(scope="module")
def micrographs():
    structures = [generate_microstructure((256, 256), mean_grain_size_px=40, seed=s)
                  for s in (11, 12)]
    return [m.image for m in structures], [m.boundaries for m in structures]


@pytest.fixture(scope="module")
def result(model, micrographs):
    images, masks = micrographs
    return run_three_arm(images, masks, names=["a", "b"], model=model,
                         sr_models=("bicubic",), sr_of_native="bicubic")


def test_arms_rows_and_native_units(result, micrographs):
    _, masks = micrographs
    assert list(result.arms) == ARMS == arm_names(("bicubic",), "bicubic")
    assert result.names == ["a", "b"]
    assert result.true_l_px == pytest.approx([mean_intercept(m) for m in masks])
    for rows in result.arms.values():
        assert len(rows) == 2
    hr = np.array([m.l_px for m in result.arms["HR (native region)"]])
    assert np.all(np.abs(hr / np.array(result.true_l_px) - 1) < 0.3)
    # the x4 SR of the field is measured in native pixels: same grains, same ℓ̄
    sr_hr = np.array([m.l_px for m in result.arms["SR(HR) bicubic"]])
    assert np.all(np.abs(sr_hr / hr - 1) < 0.25)
    for m in result.arms["SR(HR) bicubic"]:
        assert m.inference_scale < 0.5  # brought back towards the model's scale
        lo, hi = m.ci95_px
        assert lo < m.l_px < hi
    # the x4-down copy (~9 px grains) is up-sampled for the model, then refused or
    # reported in native pixels
    for m, t in zip(result.arms["LR (x4 down, measured directly)"], result.true_l_px):
        assert m.inference_scale > 2
        assert m.l_px is None or 0.5 < m.l_px / t < 2


def test_summary_follows_the_issue_definitions(result):
    summary = result.summary()
    truth = np.array(result.true_l_px)
    for arm, rows in result.arms.items():
        s = summary[arm]
        errors = [1.0 if m.l_px is None else abs(m.l_px - t) / t for m, t in zip(rows, truth)]
        assert s["per_image_pct"] == pytest.approx(100 * np.mean(errors), abs=0.01)
        assert s["n_without_figure"] == sum(m.l_px is None for m in rows)
        with_ci = [(m, t) for m, t in zip(rows, truth) if m.ci95_px is not None]
        assert s["n"] == len(with_ci)
        if with_ci:
            inside = np.mean([m.ci95_px[0] <= t <= m.ci95_px[1] for m, t in with_ci])
            assert s["coverage_pct"] == pytest.approx(100 * inside, abs=0.1)
        assert 0 < s["ap"] <= 1 and 0.5 < s["roc_auc"] <= 1
    d = json.loads(json.dumps(result.to_dict()))
    assert d["summary"]["SR(LR) bicubic"]["per_image_pct"] == \
        summary["SR(LR) bicubic"]["per_image_pct"]


def test_merge_pools_images_and_histograms(model, micrographs, result):
    images, masks = micrographs
    parts = [run_three_arm(images[i:i + 1], masks[i:i + 1], names=[n], model=model,
                           sr_models=("bicubic",), sr_of_native="bicubic")
             for i, n in enumerate(("a", "b"))]
    both = merge_three_arm(parts)
    assert both.names == result.names and both.true_l_px == result.true_l_px
    s_joint, s_merged = result.summary(), both.summary()
    for arm in result.arms:
        assert s_merged[arm] == s_joint[arm]
        np.testing.assert_array_equal(both.histograms[arm].pos, result.histograms[arm].pos)
        np.testing.assert_array_equal(both.histograms[arm].neg, result.histograms[arm].neg)
    other = type(result)(["c"], [10.0], {"HR (native region)": []}, {})
    with pytest.raises(ValueError, match="different arms"):
        merge_three_arm([result, other])


@pytest.mark.parametrize("stop_in", ["SR(LR) bicubic", "LR (x4"])
def test_job_stops_cleanly(model, micrographs, stop_in):
    """A stop asked during an SR step or between two measurements ends the job with a
    Stopped event and no result; the second image is never started."""
    images, masks = micrographs
    stop = StopToken()
    events, result = drive_and_stop(
        three_arm_job(images, masks, names=["a", "b"], model=model, sr_models=("bicubic",),
                      sr_of_native=None, stop=stop), stop,
        lambda e: e.stage.startswith(f"a: {stop_in}"))
    assert result is None
    assert isinstance(events[-1], Stopped)
    stages = [e.stage for e in events if isinstance(e, Progress)]
    assert not any(st.startswith("b:") for st in stages)
    assert not any(st.startswith("a: SR(LR)") for st in stages) or stop_in.startswith("SR")


def test_bad_inputs_are_value_errors(model, micrographs):
    images, masks = micrographs

    def run(imgs, msks, **kw):
        return run_job(three_arm_job(imgs, msks, model=model, **kw), quiet=True)

    with pytest.raises(ValueError, match="as many images as masks"):
        run(images, masks[:1])
    with pytest.raises(ValueError, match="2 names for"):
        run(images[:1] * 3, masks[:1] * 3, names=["a", "b"])
    with pytest.raises(ValueError, match="differ in size"):
        run(images[:1], [masks[0][:100]])
    with pytest.raises(ValueError, match="no mean intercept"):
        run(images[:1], [np.zeros_like(masks[0])])
    with pytest.raises(ValueError, match="NaN"):  # was cast to 0 with a RuntimeWarning
        run([np.where(masks[0], np.nan, 0.5)], masks[:1])
    # which image of a folder (it said "the image has NaN ...")
    with pytest.raises(ValueError, match="^b: the image has NaN"):
        run([images[0], np.where(masks[1], np.nan, 0.5)], masks, names=["a", "b"])
    with pytest.raises(ValueError, match="^c: the image has NaN"):
        run_job(measure_arms_job(np.where(masks[1], np.nan, 0.5), name="c", model=model,
                                 sr_models=("bicubic",), sr_of_native=None), quiet=True)
    with pytest.raises(ValueError, match="same name"):
        run(images[:1], masks[:1], sr_models=("bicubic", "bicubic"), sr_of_native=None)
    with pytest.raises(ValueError, match="not x4"):
        from napari_srmat.sr import load_model

        run(images[:1], masks[:1], sr_models=(load_model("bicubic", scale=2),))
    with pytest.raises(ValueError):  # an unknown SR model, before any measurement
        run(images[:1], masks[:1], sr_models=("no-such-model",))


def test_arms_without_labels_are_the_labelled_job_s_measurements(model, micrographs, result):
    """``measure_arms_job`` measures one unlabelled micrograph exactly as the labelled job
    does (same arms, same figures), and stops cleanly."""
    images, _ = micrographs
    from napari_srmat.sr import load_model

    bicubic = load_model("bicubic", scale=4)
    rows = run_job(measure_arms_job(images[1][:131, :131], name="b", model=model,
                                    sr_models=(bicubic,), sr_of_native=bicubic), quiet=True)
    assert list(rows) == ARMS
    cropped = run_three_arm([images[1][:128, :128]], [np.asarray(micrographs[1][1])[:128, :128]],
                            model=model, sr_models=("bicubic",), sr_of_native="bicubic")
    for arm in ARMS:
        assert rows[arm].to_dict() == cropped.arms[arm][0].to_dict()
    full = run_job(measure_arms_job(images[1], model=model, sr_models=("bicubic",),
                                    sr_of_native="bicubic"), quiet=True)
    for arm in ARMS:
        assert full[arm].to_dict() == result.arms[arm][1].to_dict()
    stop = StopToken()
    events, stopped = drive_and_stop(
        measure_arms_job(images[0], model=model, sr_models=(bicubic,), sr_of_native=None,
                         stop=stop), stop, lambda e: e.stage.endswith("SR(LR) bicubic"))
    assert stopped is None and isinstance(events[-1], Stopped)
    with pytest.raises(ValueError, match="too small"):
        run_job(measure_arms_job(images[0][:3], model=model, sr_models=(bicubic,)),
                quiet=True)


def test_sizes_that_are_not_multiples_of_the_scale_are_cropped(model, micrographs):
    """A 131 x 130 px region is measured on its 128 x 128 px part (whole LR pixels): the
    truth and every arm refer to the same field."""
    images, masks = micrographs
    img, m = images[0][:131, :130], masks[0][:131, :130]
    r = run_three_arm([img], [m], model=model, sr_models=("bicubic",), sr_of_native=None)
    assert r.true_l_px[0] == pytest.approx(mean_intercept(m[:128, :128]))
    assert r.histograms["HR (native region)"].pos.sum() + \
        r.histograms["HR (native region)"].neg.sum() == 128 * 128


def test_downsample_uint8_averages_blocks_and_keeps_flat_images():
    flat = np.full((64, 40, 3), 200, np.uint8)
    low = downsample_uint8(flat, 4)
    assert low.shape == (16, 10, 3) and low.dtype == np.uint8
    assert np.all(low == 200)
    # stripes 2 px wide (finer than the LR pixel) average out to mid grey: antialiased
    stripes = np.zeros((64, 64, 3), np.uint8)
    stripes[:, ::4] = stripes[:, 1::4] = 255
    inner = downsample_uint8(stripes, 4)[4:-4, 4:-4].astype(int)
    assert np.all(np.abs(inner - 128) <= 8)


def test_plot_is_recognised_as_ours(result, tmp_path):
    out = plot_three_arm(result, tmp_path / "fig.png")
    assert is_three_arm_plot(out)
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "other.png")
    assert not is_three_arm_plot(tmp_path / "other.png")
    assert not is_three_arm_plot(tmp_path / "missing.png")


def _folder(tmp_path, micrographs):
    images, masks = micrographs
    root = tmp_path / "labelled"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i, (img, m) in enumerate(zip(images, masks)):
        Image.fromarray(img).save(root / "images" / f"r{i}.png")
        Image.fromarray((m * 255).astype(np.uint8)).save(root / "masks" / f"r{i}.png")
    return root


def test_cli_writes_report_and_figure_and_protects_files(tmp_path, micrographs, capsys):
    root = _folder(tmp_path, micrographs)
    report, fig = tmp_path / "three_arm.json", tmp_path / "three_arm.png"
    argv = ["experiment", "three-arm", str(root), "--sr-models", "bicubic",
            "--sr-of-native", "none", "--report", str(report), "--plot", str(fig)]
    assert main(argv + ["--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert table["images"] == 2
    assert list(table["arms"]) == ARMS[:3]
    assert is_three_arm_report(report) and is_three_arm_plot(fig)
    saved = json.loads(report.read_text())
    assert saved["names"] == ["r0", "r1"]
    assert saved["summary"]["HR (native region)"]["per_image_pct"] == \
        table["arms"]["HR (native region)"]["per_image_pct"]
    # an existing output needs --overwrite; a file napari-srmat did not write is never replaced
    assert main(argv) == 2
    assert "exists" in capsys.readouterr().err
    foreign = tmp_path / "mine.png"
    foreign.write_bytes(b"not ours")
    assert main(argv[:-1] + [str(foreign), "--overwrite"]) == 2
    assert "not written by napari-srmat" in capsys.readouterr().err
    assert foreign.read_bytes() == b"not ours"
    assert main(argv + ["--overwrite"]) == 0
    assert "| HR (native region) |" in capsys.readouterr().out
    # outputs that would clash with each other or with the input folder are refused
    assert main(argv[:-4] + ["--report", str(report), "--plot", str(report)]) == 2
    assert "two different files" in capsys.readouterr().err
    inside = root / "images" / "fig.png"
    assert main(argv[:-1] + [str(inside), "--overwrite"]) == 2
    assert "inside the input" in capsys.readouterr().err and not inside.exists()


def test_cli_bad_folder_is_one_line(tmp_path, capsys):
    assert main(["experiment", "three-arm", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert "folder not found" in err and len(err.splitlines()) == 1
    (tmp_path / "images").mkdir()
    assert main(["experiment", "three-arm", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "masks" in err and len(err.splitlines()) == 1


def test_sr_lr_arms_at_a_given_inference_scale(model, micrographs, result):
    """The scale-policy diagnostic: the SR(LR) arms at their own pixels (scale 1), the
    other arms unchanged (automatic)."""
    images, masks = micrographs
    fixed = run_three_arm(images, masks, names=["a", "b"], model=model,
                          sr_models=("bicubic",), sr_of_native=None,
                          sr_lr_inference_scale=1.0)
    assert [m.inference_scale for m in fixed.arms["SR(LR) bicubic"]] == [1.0, 1.0]
    assert [m.inference_scale for m in fixed.arms["HR (native region)"]] == \
        [m.inference_scale for m in result.arms["HR (native region)"]]


def test_cli_folder_without_images_and_masks_says_which_are_missing(tmp_path, capsys):
    """It said "FOLDER/images: folder not found (expected ROOT/FOLDER/images and masks)";
    now it names the missing folder(s) plainly."""
    folder = tmp_path / "nodir"
    folder.mkdir()
    assert main(["experiment", "three-arm", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ROOT" not in err
    assert f"error: {folder / 'images'} and {folder / 'masks'} not found: " in err
    (folder / "images").mkdir()
    assert main(["experiment", "three-arm", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"error: {folder / 'masks'} not found: {folder} must hold" in err


def test_cli_image_of_misread_values_is_refused_naming_the_file(tmp_path, micrographs,
                                                                  capsys):
    """An 8-bit micrograph saved as an int64 TIFF was read as black (the float rule
    divides by the int64 maximum): every arm refused, a table of 100 % errors, exit 0.
    read_grey_or_rgb_float applies the float rule and names the file."""
    import tifffile

    from napari_srmat.io import read_grey_or_rgb_float

    root = _folder(tmp_path, micrographs)
    bad = root / "images" / "r1.tif"
    (root / "images" / "r1.png").unlink()
    tifffile.imwrite(bad, np.asarray(micrographs[0][1], np.int64))
    with pytest.raises(ValueError, match="int64 image with values in"):
        read_grey_or_rgb_float(bad)
    assert read_grey_or_rgb_float(root / "images" / "r0.png").max() > 0.5
    assert main(["experiment", "three-arm", str(root), "--sr-models", "bicubic",
                 "--sr-of-native", "none", "--json"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert captured.out == "" and len(err) == 1 and f"error: {bad}: image is an int64" in err[0]


@pytest.mark.parametrize("damage", ["a second file of one stem", "a folder named as an image"])
def test_cli_pairs_by_stem_as_training_and_evaluation_do(tmp_path, micrographs, capsys,
                                                          damage):
    """images/r0.png and images/r0.tif beside masks/r0.png: `srmat experiment three-arm`
    (io.list_pairs) measured r0.png and ignored r0.tif without a word, where `srmat edges
    train/eval` refuse two files of one stem; a folder images/r0.png was skipped, r0
    left out of the table (exit 0 both; failed before). One rule now
    (io.images_by_stem): the same one-line refusal, exit 2."""
    import tifffile

    root = _folder(tmp_path, micrographs)
    if damage == "a folder named as an image":
        (root / "images" / "r0.png").unlink()
        (root / "images" / "r0.png").mkdir()
        said = f"error: {root / 'images' / 'r0.png'} is a folder, not an image file"
    else:
        tifffile.imwrite(root / "images" / "r0.tif", np.asarray(micrographs[0][1]))
        said = (f"error: {root / 'images'}: two files with stem 'r0' (r0.png, r0.tif): "
                "images and masks pair by stem; keep one")
    assert main(["experiment", "three-arm", str(root), "--sr-models", "bicubic",
                 "--sr-of-native", "none", "--json"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert captured.out == "" and len(err) == 1 and said in err[0]


@pytest.mark.parametrize("flags", [["--sr-models", "bicubic,bogus"],
                                   ["--sr-models", "bicubic", "--sr-of-native", "bogus"]])
def test_cli_unknown_sr_model_is_refused_before_any_load(tmp_path, micrographs, capsys,
                                                         monkeypatch, flags):
    """An unknown --sr-models / --sr-of-native name was told only after the boundary model
    was loaded and every image read; it is refused first, naming the flag, one line."""
    import napari_srmat.edges
    import napari_srmat.io

    def must_not_run(*args, **kwargs):
        raise AssertionError("loaded before the SR model names were checked")

    monkeypatch.setattr(napari_srmat.edges, "load_boundary_model", must_not_run)
    monkeypatch.setattr(napari_srmat.io, "read_grey_or_rgb_float", must_not_run)
    root = _folder(tmp_path, micrographs)
    assert main(["experiment", "three-arm", str(root), *flags, "--json"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert captured.out == "" and len(err) == 1
    assert f"error: {flags[-2]}: unknown SR model 'bogus'; available: bicubic" in err[0]


def test_library_report_never_replaces_a_file_of_the_users(result, tmp_path):
    """write_three_arm_report (the notebook call) wrote over any file: a user's notes.json,
    or the measured image; it now follows the rule of the CLI's --report."""
    from napari_srmat.outputs import OutputError
    from napari_srmat.studies.three_arm import write_three_arm_report

    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": 1}')
    with pytest.raises(OutputError, match="not written by napari-srmat"):
        write_three_arm_report(result, notes, overwrite=True)
    assert notes.read_text() == '{"mine": 1}'
    image = tmp_path / "r0.png"
    image.write_bytes(b"pixels")
    with pytest.raises(OutputError, match="is the input"):
        write_three_arm_report(result, image, inputs=[image])
    assert image.read_bytes() == b"pixels"
    report = write_three_arm_report(result, tmp_path / "three_arm.json")
    assert is_three_arm_report(report)
    with pytest.raises(OutputError, match="exists"):  # an earlier report: with overwrite
        write_three_arm_report(result, report)
    assert is_three_arm_report(write_three_arm_report(result, report, overwrite=True))


def test_hidden_files_are_no_images_for_training_and_evaluation(tmp_path, micrographs):
    """macOS leaves ._r0.png beside r0.png on a copied drive: `srmat edges train/eval`
    (edges.data.list_image_mask_pairs) listed it as an image and refused the data set
    ('1 image(s) ... have no mask: ._r0.png'; failed before), where list_pairs skipped
    it. One rule (io.images_by_stem): skipped by both."""
    from napari_srmat.edges.data import list_image_mask_pairs
    from napari_srmat.io import list_pairs

    root = _folder(tmp_path, micrographs)
    (root / "images" / "._r0.png").write_bytes(b"\x00\x05\x16\x07")  # AppleDouble
    expected = list_pairs(root.parent, root.name)
    assert list_image_mask_pairs(root / "images", root / "masks") == expected
    assert [p.name for p, _ in expected] == sorted(
        p.name for p in (root / "images").iterdir() if not p.name.startswith("."))


def test_cli_measures_with_the_pixel_size_the_file_records(tmp_path, micrographs):
    """The folder's images were read as bare arrays: every row warned 'no pixel size
    (from the file or given)' although the PNG records 0.5 µm/px, as `srmat info` reads
    (failed before). Now each arm is measured with the file's pixel size (its own pixels'
    size: x4 coarser for LR); an image that records none still says so."""
    from napari_srmat.grainsize import NO_PIXEL_SIZE_NOTE

    root = _folder(tmp_path, micrographs)
    Image.fromarray(micrographs[0][0]).save(root / "images" / "r0.png", dpi=(50800, 50800))
    report = tmp_path / "three_arm.json"
    assert main(["experiment", "three-arm", str(root), "--sr-models", "bicubic",
                 "--sr-of-native", "none", "--report", str(report), "--json"]) == 0
    rows = json.loads(report.read_text())["rows"]
    assert list(rows) == ARMS[:3]
    for arm, (r0, r1) in rows.items():
        assert NO_PIXEL_SIZE_NOTE not in r0["warnings"], (arm, r0["warnings"])
        assert NO_PIXEL_SIZE_NOTE in r1["warnings"], (arm, r1["warnings"])
