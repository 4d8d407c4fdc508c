"""`srmat grain-size --method`: the standards' measurement (ASTM E112 / ISO 643) from the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _helpers import count_zarr_reads
from PIL import Image

from napari_srmat.cli import main
from napari_srmat.metrics.heyn import confidence_interval
from napari_srmat.metrics.planimetric import planimetric
from napari_srmat.synth import generate_microstructure


def _mask_file(path, seed):
    ms = generate_microstructure((256, 256), mean_grain_size_px=24, seed=seed)
    Image.fromarray(ms.boundaries.astype(np.uint8) * 255).save(path)
    return ms


def test_planimetric_fields_and_specimen_summary(tmp_path, capsys):
    paths, exact = [], []
    for seed in (1, 2, 3):
        ms = _mask_file(tmp_path / f"f{seed}.png", seed)
        paths.append(str(tmp_path / f"f{seed}.png"))
        # the library on the same mask (its accuracy against the exact Jeffries count of
        # the label map is tested in test_standards.py)
        exact.append(planimetric(ms.boundaries, pixel_size_um=0.5,
                                 rule="iso643").grains_per_mm2)
    rc = main(["grain-size", *paths, "--mask", "--method", "planimetric", "--rule", "iso643",
               "--pixel-size-um", "0.5", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert [f["name"] for f in out["images"]] == paths
    for f, n_a in zip(out["images"], exact):
        assert f["grains_per_mm2"] == pytest.approx(n_a, rel=1e-9)
        assert f["standard"].startswith("ISO 643")
        assert {"n_grains_inside", "n_grains_edge", "grain_areas_um2", "mean_intercept_um",
                "intercepts_um", "anisotropy_index", "astm_g"} <= set(f)
    s = out["summary"]
    assert s["n_fields"] == 3 and s["standard"].startswith("ISO 643")
    values = [f["grains_per_mm2"] for f in out["images"]]
    mean, half, ra = confidence_interval(values)
    assert s["relative_accuracy_pct"] == pytest.approx(ra)
    assert s["astm_g_ci95"][0] <= s["astm_g"] <= s["astm_g_ci95"][1]
    # fewer than 5 fields: the E112 advice says so
    assert any("5" in a for a in s["advice"])


def test_exclusions_and_twins_need_masks_and_are_honoured(tmp_path, capsys):
    _mask_file(tmp_path / "m.png", 4)
    excl = np.zeros((256, 256), np.uint8)
    excl[:, :128] = 255  # left half not measured
    Image.fromarray(excl).save(tmp_path / "excl.png")
    args = ["grain-size", str(tmp_path / "m.png"), "--mask", "--method", "intercept",
            "--pixel-size-um", "1", "--json"]
    assert main(args) == 0
    full = json.loads(capsys.readouterr().out)["images"][0]
    assert main([*args, "--exclusions", str(tmp_path / "excl.png")]) == 0
    half = json.loads(capsys.readouterr().out)["images"][0]
    assert half["n_grains_inside"] < 0.7 * full["n_grains_inside"]
    assert len(half["intercepts_um"]) < len(full["intercepts_um"])
    # without --mask (or --method) they are refused in one line
    rc = main(["grain-size", str(tmp_path / "m.png"), "--exclusions",
               str(tmp_path / "excl.png")])
    assert rc == 2 and "need --method and --mask" in capsys.readouterr().err


def test_method_with_a_bad_field_withholds_the_specimen_summary(tmp_path, capsys):
    """A field that cannot be measured is told (exit 2) and the specimen summary is
    withheld rather than computed silently from the other fields; the good fields are
    still reported."""
    good = tmp_path / "m.png"
    m = np.zeros((96, 96), np.uint8)
    m[:, 5::12] = 255
    m[5::12, :] = 255
    Image.fromarray(m).save(good)
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    argv = ["grain-size", str(good), str(bad), "--mask", "--method", "intercept",
            "--pixel-size-um", "1"]
    assert main(argv + ["--json"]) == 2
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["summary"] is None and len(doc["images"]) == 1
    assert [e["path"] for e in doc["errors"]] == [str(bad)]
    assert f"srmat grain-size: error: {bad}: " in err
    assert main(argv) == 2
    out = capsys.readouterr().out
    assert "specimen: not summarised (1 of 2 fields could not be measured)" in out


def test_method_with_only_failed_images_prints_only_their_errors(tmp_path, capsys):
    """`--mask --method` on a mask that cannot be read printed its one-line error and then
    'specimen: not summarised (1 of 1 fields could not be measured)' on stdout, where a run
    without --method whose every image fails prints its errors only: the same now (exit 2,
    stdout empty); with a measured field the line still says what was left out (above)."""
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    assert main(["grain-size", str(bad), "--mask", "--method", "intercept"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.splitlines() == [
        f"srmat grain-size: error: {bad}: cannot read boundary mask: unsupported or corrupt "
        "image file (suffix '.png', not a PNG, JPEG, TIFF or Zarr store)"]


def test_method_reads_masks_by_the_mask_rule(tmp_path, capsys):
    """`--mask --method` took every nonzero pixel as boundary, not the mask rule of
    `io.as_bool_mask` (0/255 masks: > 127) that `--mask` alone and `srmat heyn` use: a
    0/255 mask saved as JPEG gained a boundary speck at every compression ripple (G 12.6
    instead of 8.5)."""
    ms = generate_microstructure((256, 256), mean_grain_size_px=20, seed=1)
    mask = ms.boundaries.astype(np.uint8) * 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    Image.fromarray(mask).save(tmp_path / "m.jpg", quality=85)
    fields = {}
    for name in ("m.png", "m.jpg"):
        assert main(["grain-size", str(tmp_path / name), "--mask", "--method", "intercept",
                     "--pixel-size-um", "1", "--json"]) == 0
        fields[name] = json.loads(capsys.readouterr().out)["images"][0]
    png, jpg = fields["m.png"], fields["m.jpg"]
    assert jpg["astm_g"] == pytest.approx(png["astm_g"], abs=0.1)
    assert jpg["n_grains_inside"] == pytest.approx(png["n_grains_inside"], rel=0.05)


def test_method_honours_the_test_line_flags(tmp_path, capsys):
    """--pattern/--lines/--seed/--margin were ignored with --method (the fields were
    always measured on the default 50 + 50 line grid); without --pattern the standards'
    default, the grid (which gives the anisotropy index), stays."""
    _mask_file(tmp_path / "m.png", 5)
    base = ["grain-size", str(tmp_path / "m.png"), "--mask", "--method", "intercept",
            "--pixel-size-um", "1", "--json"]

    def field(*extra):
        assert main([*base, *extra]) == 0
        return json.loads(capsys.readouterr().out)["images"][0]

    grid = field()
    assert grid["pattern"] == "grid" and grid["n_lines"] == 100
    assert grid["anisotropy_index"] is not None
    assert field("--lines", "20")["n_lines"] == 40
    circ = field("--pattern", "circles")
    assert circ["pattern"] == "circles" and circ["n_lines"] == 3
    rnd = field("--pattern", "random", "--lines", "30", "--seed", "7", "--margin", "0.1")
    assert rnd["pattern"] == "random" and rnd["n_lines"] == 30
    assert rnd["total_line_length_px"] != field("--pattern", "random", "--lines", "30",
                                                 "--seed", "8")["total_line_length_px"]


def test_method_field_says_why_its_pixel_size_was_not_used(tmp_path, capsys):
    """A mask whose pixels are not square (X 0.5 µm, Y 0.25 µm) gets no µm and no G; the
    field's own warnings said only "no pixel size", not why."""
    import warnings

    import tifffile

    ms = generate_microstructure((160, 160), mean_grain_size_px=16, seed=3)
    tifffile.imwrite(tmp_path / "ns.tif", ms.boundaries.astype(np.uint8) * 255,
                     resolution=(20000, 40000), resolutionunit="CENTIMETER")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["grain-size", str(tmp_path / "ns.tif"), "--mask", "--method",
                     "intercept", "--json"]) == 0
    f = json.loads(capsys.readouterr().out)["images"][0]
    assert f["path"] == str(tmp_path / "ns.tif")  # as the rows without --method
    assert f["astm_g"] is None and f["pixel_size_um"] is None
    assert any("pixels are not square (X 0.5 µm, Y 0.25 µm)" in w for w in f["warnings"])


def _fine_micrograph_rows(tmp_path, capsys) -> tuple[dict, dict]:
    """`srmat grain-size IMAGE --json` and `... --method intercept --json` of a small
    micrograph with fine grains (0.5 µm pixels, measured enlarged): its two rows."""
    import warnings

    from napari_srmat.io import png_bytes

    ms = generate_microstructure((160, 160), mean_grain_size_px=20, seed=0)
    path = tmp_path / "fine.png"
    path.write_bytes(png_bytes(ms.image, pixel_size_um=0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the scale warnings of a small, fine image
        assert main(["grain-size", str(path), "--json"]) == 0
        plain = json.loads(capsys.readouterr().out)["images"][0]
        assert main(["grain-size", str(path), "--method", "intercept", "--json"]) == 0
    return plain, json.loads(capsys.readouterr().out)["images"][0]


def test_a_micrographs_field_says_the_scale_its_pixels_are_at(tmp_path, capsys):
    """`srmat grain-size IMAGE --method intercept` measures the model's map at the
    inference scale (docs/standards.md), so its row's px figures and pixel size are in
    inference pixels (ℓ̄ 33.9 px and 0.244 µm for a 0.5 µm image measured x2.05, whose
    row without --method says 16.6 px), but the row did not say that scale: a script
    reading ``mean_intercept_px`` took it for input pixels, twice the grain size. Each
    field row now carries ``inference_scale`` (1.0 for --mask), the factor between its
    pixels and the input's."""
    plain, field = _fine_micrograph_rows(tmp_path, capsys)
    scale = plain["inference_scale"]
    assert scale > 1.5 and field["inference_scale"] == scale
    assert field["pixel_size_um"] * scale == pytest.approx(0.5)
    # the same map at the same scale: ℓ̄ in input px within the patterns' difference
    assert field["mean_intercept_px"] / scale == pytest.approx(plain["mean_intercept_px"],
                                                               rel=0.25)
    _mask_file(tmp_path / "m.png", 0)
    assert main(["grain-size", str(tmp_path / "m.png"), "--mask", "--method", "intercept",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["images"][0]["inference_scale"] == 1.0


def test_rule_without_method_is_refused_not_ignored(tmp_path, capsys):
    """`srmat grain-size m.png --mask --rule iso643` measured the mean intercept and
    ignored the counting rule without a word (its default hid whether it was given)."""
    mask = np.zeros((64, 64), np.uint8)
    mask[::8] = mask[:, ::8] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    assert main(["grain-size", str(tmp_path / "m.png"), "--mask", "--rule", "iso643"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == ("srmat grain-size: error: --rule is the counting rule of "
                                 "--method: give --method too\n")
    args = ["grain-size", str(tmp_path / "m.png"), "--mask", "--method", "planimetric",
            "--pixel-size-um", "1", "--json"]
    assert main(args) == 0  # the default rule: e112
    assert json.loads(capsys.readouterr().out)["images"][0]["standard"].startswith("ASTM E112")
    assert main([*args, "--rule", "iso643"]) == 0
    assert json.loads(capsys.readouterr().out)["images"][0]["standard"].startswith("ISO 643")


@pytest.mark.parametrize("flag", ["--twins", "--exclusions"])
@pytest.mark.parametrize("bad", ["missing.png", "broken.png"])
def test_region_mask_files_are_checked_before_any_image_is_measured(tmp_path, capsys,
                                                                   monkeypatch, flag, bad):
    """A missing or unreadable --twins / --exclusions file was told only after every
    image had been measured (minutes with the model), once per image; it is now refused
    before any measurement, in one line naming the file."""
    import napari_srmat.grainsize as grainsize

    paths = [str(tmp_path / f"f{seed}.png") for seed in (1, 2)]
    for seed, path in zip((1, 2), paths):
        _mask_file(path, seed)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    measured = []
    real = grainsize.measure_grain_size_job
    monkeypatch.setattr(grainsize, "measure_grain_size_job",
                        lambda *a, **k: measured.append(1) or real(*a, **k))
    rc = main(["grain-size", *paths, "--mask", "--method", "intercept", flag,
               str(tmp_path / bad)])
    out, err = capsys.readouterr()
    assert rc == 2 and measured == [] and out == ""
    which = "twin mask" if flag == "--twins" else "exclusion mask"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"srmat grain-size: error: {tmp_path / bad}: ")
    assert which in lines[0]
    assert ("not found" if bad == "missing.png" else "cannot read") in lines[0]


@pytest.mark.parametrize("suffix", [".npy", ".png"])
def test_heyn_and_grain_size_mask_read_the_same_mask_files(tmp_path, capsys, suffix):
    """`srmat heyn` read .npy masks and `srmat grain-size --mask` refused them ("not a
    PNG, JPEG, TIFF or Zarr store"): both read a mask file by one rule
    (io.open_mask_file) and measure the same mean intercept from a .npy and a PNG."""
    ms = generate_microstructure((160, 160), mean_grain_size_px=16, seed=4)
    path = tmp_path / f"m{suffix}"
    if suffix == ".npy":
        np.save(path, ms.boundaries)
    else:
        Image.fromarray(ms.boundaries.astype(np.uint8) * 255).save(path)
    common = ["--pattern", "grid", "--lines", "10", "--pixel-size-um", "0.5", "--json"]
    assert main(["heyn", str(path), *common]) == 0
    heyn = json.loads(capsys.readouterr().out)
    assert main(["grain-size", str(path), "--mask", *common]) == 0
    row = json.loads(capsys.readouterr().out)["images"][0]
    assert row["path"] == str(path) and row["mean_intercept_px"] is not None
    # the same measurement (srmat grain-size --mask thins the mask first, as
    # srmat heyn --skeletonize); the boundaries are 1 px wide already
    assert main(["heyn", str(path), *common, "--skeletonize"]) == 0
    thinned = json.loads(capsys.readouterr().out)
    assert row["mean_intercept_px"] == pytest.approx(thinned["mean_intercept_px"])
    assert heyn["mean_intercept_px"] == pytest.approx(thinned["mean_intercept_px"], rel=0.05)


def test_region_mask_warning_is_said_once_per_field(tmp_path, capsys, recwarn):
    """The early read of the --twins files (before any image is measured) printed the
    mask reader's "looks like a micrograph" warning once more than the fields' reads:
    three times for two fields. It is said once per field measured."""
    paths = [str(tmp_path / f"f{seed}.png") for seed in (1, 2)]
    for seed, path in zip((1, 2), paths):
        _mask_file(path, seed)
    micrograph = generate_microstructure((256, 256), mean_grain_size_px=24, seed=5).image
    grey = micrograph if micrograph.ndim == 2 else micrograph[..., 0]
    Image.fromarray(grey).save(tmp_path / "twins.png")  # mid-grey: "looks like a micrograph"
    rc = main(["grain-size", *paths, "--mask", "--method", "intercept", "--twins",
               str(tmp_path / "twins.png")])
    err = capsys.readouterr().err
    said = [w for w in recwarn if "mid-grey" in str(w.message)]  # pytest holds them
    assert rc == 0, err
    assert len(said) == 2, [str(w.message) for w in said]


@pytest.mark.parametrize("flag", ["--twins", "--exclusions"])
def test_region_mask_of_another_shape_is_told_naming_its_file(tmp_path, capsys, flag):
    """A --twins / --exclusions mask of another shape than the field was told as
    ``IMAGE: twin mask has shape (3, 3), expected (256, 256)``: the image's file was
    named, not the mask's that is wrong. Both are named now."""
    _mask_file(tmp_path / "m.png", 4)
    Image.fromarray(np.zeros((3, 3), np.uint8)).save(tmp_path / "small.png")
    rc = main(["grain-size", str(tmp_path / "m.png"), "--mask", "--method", "intercept",
               flag, str(tmp_path / "small.png")])
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if "error:" in x)
    assert rc == 2
    assert f"{tmp_path / 'small.png'}: " in line and "has shape (3, 3)" in line
    assert str(tmp_path / "m.png") in line


def test_a_field_too_large_for_memory_is_refused_before_any_measurement(tmp_path, capsys,
                                                                        monkeypatch):
    """`srmat grain-size --mask --method` measured the mean intercept (the Heyn plan
    fitted) before measure_field refused the field (its label maps, 56 B/px more): a
    field too large did the work first, then refused it. The field's plan (the file read
    whole, the standards' measurement) is checked before any measurement."""
    import napari_srmat.grainsize as grainsize
    import napari_srmat.metrics.standards as standards
    from napari_srmat import estimates
    from napari_srmat.estimates import MEMORY_FRACTION, plan_mask_measurement

    path = tmp_path / "f.png"
    _mask_file(path, 1)
    measured = []
    for module, func in ((grainsize, "measure_grain_size_job"), (grainsize,
                         "measure_intercepts"), (standards, "measure_field")):
        real = getattr(module, func)
        monkeypatch.setattr(module, func, lambda *a, _r=real, _f=func, **k:
                            measured.append(_f) or _r(*a, **k))
    # enough for the mean intercept, not for the field held in memory (measure_field's
    # own check): the ℓ̄ was measured, then the field refused
    need = plan_mask_measurement((256, 256), np.uint8, held=True, field=True).output_bytes
    monkeypatch.setattr(estimates, "available_memory_bytes",
                        lambda: int(need / MEMORY_FRACTION) - 1)
    args = ["grain-size", str(path), "--mask", "--method", "intercept", "--json"]
    assert main(args) == 2
    out, err = capsys.readouterr()
    lines = [x for x in err.splitlines() if "error:" in x]
    assert measured == [] and len(lines) == 1, (measured, lines)
    assert lines[0].startswith(f"srmat grain-size: error: {path}: measure_field needs ")
    assert json.loads(out)["errors"][0]["path"] == str(path)
    # with the memory for the file read whole and the field: measured as before
    need = plan_mask_measurement((256, 256), np.uint8, field=True).output_bytes
    monkeypatch.setattr(estimates, "available_memory_bytes",
                        lambda: int(need / MEMORY_FRACTION) + 1)
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["images"][0]["mean_intercept_px"] > 0


@pytest.mark.parametrize("flag", ["--twins", "--exclusions"])
def test_a_region_mask_too_large_for_memory_is_refused_before_it_is_read(tmp_path, capsys,
                                                                          monkeypatch, flag):
    """--twins / --exclusions masks were read whole (before any image, and again for
    each field) without the memory check the images and boundary masks get: a mask
    larger than memory ran out of it. It is refused before any pixel is read, in one
    line naming the file, by the rule of `srmat heyn` (cli.check_mask_fits)."""
    import zarr

    import napari_srmat.grainsize as grainsize
    from napari_srmat import estimates
    from napari_srmat.estimates import MEMORY_FRACTION, plan_mask_measurement

    _mask_file(tmp_path / "f.png", 1)
    region = tmp_path / "region.zarr"
    zarr.open(str(region), mode="w", shape=(256, 256), chunks=(64, 64), dtype="uint8")[:] = 0
    reads, measured = count_zarr_reads(monkeypatch), []
    real = grainsize.measure_grain_size_job
    monkeypatch.setattr(grainsize, "measure_grain_size_job",
                        lambda *a, **k: measured.append(1) or real(*a, **k))
    need = plan_mask_measurement((256, 256), np.uint8).output_bytes
    monkeypatch.setattr(estimates, "available_memory_bytes",
                        lambda: int(need / MEMORY_FRACTION) - 1)
    args = ["grain-size", str(tmp_path / "f.png"), "--mask", "--method", "intercept", flag,
            str(region)]
    assert main(args) == 2
    out, err = capsys.readouterr()
    which = "twin mask" if flag == "--twins" else "exclusion mask"
    assert out == "" and reads == [] and measured == []
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"srmat grain-size: error: {region}: reading the {which} needs "), lines
    assert lines[0].endswith("available: measure fields or crops of it")
    # with the memory for it (and the field): measured as before
    monkeypatch.setattr(estimates, "available_memory_bytes", lambda: 2**40)
    assert main(args) == 0
    assert reads and measured == [1]


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_method_that_measures_no_field_fails_as_without_method(tmp_path, capsys, json_flag):
    """`srmat grain-size empty.png --mask --method intercept` printed `G = n/a` and exited
    0, where the same command without --method (and `srmat heyn`) ends with `no grain size
    measured` and exit 2: a batch script carried on as if the specimen were measured. The
    summary's warnings and advice were printed as `srmat grain-size: MESSAGE`, without
    the `warning:` of every other line."""
    Image.fromarray(np.zeros((128, 128), np.uint8)).save(tmp_path / "empty.png")
    args = ["grain-size", str(tmp_path / "empty.png"), "--mask", "--pixel-size-um", "1",
            *json_flag]
    assert main(args) == 2
    capsys.readouterr()
    assert main([*args, "--method", "intercept"]) == 2
    out, err = capsys.readouterr()
    if json_flag:  # the fields and the summary are still printed, as JSON
        assert json.loads(out)["images"][0]["mean_intercept_px"] is None
    else:
        assert "G = n/a" in out
    lines = [line for line in err.splitlines() if not line.startswith("[progress]")]
    # a field without any boundary pixel is not measured (blank, or one grain): no N_L
    assert lines[-1] == ("srmat grain-size: error: no grain size measured: the field gives "
                         "no valid N_L (see the warnings)")
    assert any(line.startswith("srmat grain-size: warning: field(s) ") and
               line.endswith("empty.png have no boundary at all: not segmented, or one grain "
                             "covers the whole field; left out of the statistics")
               for line in lines), lines
    assert all(line.split(": ")[1] in ("warning", "note", "error") for line in lines), lines
    # boundary pixels no test line crosses: N_L = 0, a field value (not left out), no G
    ring = np.zeros((128, 128), np.uint8)
    ring[1:6, 1:6] = 255
    ring[2:5, 2:5] = 0
    Image.fromarray(ring).save(tmp_path / "ring.png")
    assert main(["grain-size", str(tmp_path / "ring.png"), *args[2:], "--method",
                 "intercept"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1] == ("srmat grain-size: error: no grain size measured: N_L is 0, no "
                         "test line of the field crosses a boundary (see the warnings)")
    assert any(line.startswith("srmat grain-size: warning: field(s) ") and
               "ring.png have no boundary crossing (N_L = 0" in line for line in lines), lines
    assert not any("left out" in line for line in lines), lines
    # a mask that is no boundary map (all boundary) gives no value: no valid N_L
    Image.fromarray(np.full((128, 128), 255, np.uint8)).save(tmp_path / "full.png")
    assert main(["grain-size", str(tmp_path / "full.png"), *args[2:], "--method",
                 "intercept"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1] == ("srmat grain-size: error: no grain size measured: the field gives "
                         "no valid N_L (see the warnings)")
    assert "srmat grain-size: warning: 1 field(s) without a valid value are left out" in lines
    # a field that is measured still exits 0
    _mask_file(tmp_path / "m.png", 5)
    assert main(["grain-size", str(tmp_path / "m.png"), "--mask", "--method", "intercept",
                 "--pixel-size-um", "1", *json_flag]) == 0


def test_device_with_mask_is_refused_not_ignored(tmp_path, capsys):
    """`srmat grain-size m.png --mask --device cuda` measured without a word about the
    device no model uses, while --checkpoint, --tta, --threshold-rule and
    --inference-scale are refused with --mask (and `srmat audit candidates` refuses
    --device without --uaed)."""
    _mask_file(tmp_path / "m.png", 6)
    assert main(["grain-size", str(tmp_path / "m.png"), "--mask", "--device", "cpu"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == (
        "srmat grain-size: error: --checkpoint, --tta, --threshold-rule, --inference-scale "
        "and --device are for images (the model), not --mask\n")


def test_text_output_gives_g_to_a_tenth_and_the_fields_in_the_statistics(tmp_path, capsys):
    """`srmat grain-size` text lines printed G with two decimals ('G = 11.81 [11.26,
    12.26]', a field 'G = 12.22') where E112 reports G to 0.1 (the report does since
    db7afc9), and 'specimen (3 fields)' beside statistics of the 2 fields that had
    crossings (an empty field is left out). G is now to a tenth in every text line
    (`--json` keeps the full value), and the specimen line says how many fields its
    statistics use."""
    paths = []
    for seed in (1, 2):
        _mask_file(tmp_path / f"f{seed}.png", seed)
        paths.append(str(tmp_path / f"f{seed}.png"))
    # a mask that is all boundary gives no value (an empty one gives N_L = 0, a value)
    Image.fromarray(np.full((256, 256), 255, np.uint8)).save(tmp_path / "empty.png")
    args = ["grain-size", *paths, str(tmp_path / "empty.png"), "--mask", "--method",
            "intercept", "--pixel-size-um", "0.5"]
    assert main([*args, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    for path, field, line in zip(paths, doc["images"], lines):
        # with the field's own interval, as its JSON (until 2026-12-06: G alone)
        lo, hi = field["astm_g_ci95"]
        assert line == (f"{path}: {field['standard']}: G = {field['astm_g']:.1f} "
                        f"[{lo:.1f}, {hi:.1f}]")
    s = doc["summary"]
    assert (s["n_fields"], s["n_fields_in_statistics"]) == (3, 2)
    lo, hi = s["astm_g_ci95"]
    assert lines[-1].startswith(f"specimen of 3 fields (2 in the statistics): G = "
                                f"{s['astm_g']:.1f} [{lo:.1f}, {hi:.1f}]"), lines[-1]
    # the one-image line of the default method, and srmat heyn, the same way
    assert main(["grain-size", paths[0], "--mask", "--pixel-size-um", "0.5", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["images"][0]
    assert main(["grain-size", paths[0], "--mask", "--pixel-size-um", "0.5"]) == 0
    lo, hi = row["astm_g_ci95"]
    assert f"G = {row['astm_g']:.1f} [{lo:.1f}, {hi:.1f}]" in capsys.readouterr().out
    assert main(["heyn", paths[0], "--pixel-size-um", "0.5", "--json"]) == 0
    g = json.loads(capsys.readouterr().out)["astm_g"]
    assert main(["heyn", paths[0], "--pixel-size-um", "0.5"]) == 0
    assert f"ASTM G = {g:.1f}" in capsys.readouterr().out


def _grid_mask_file(path, step=100):
    """A 400² mask with boundaries every ``step`` px (100: a 2 + 2 grid counts 3 on every
    line)."""
    mask = np.zeros((400, 400), np.uint8)
    mask[::step, :] = 1
    mask[:, ::step] = 1
    np.save(path, mask)
    return str(path)


def test_srmat_heyn_text_prints_the_interval_its_json_reports(tmp_path, capsys):
    """`srmat heyn`'s text line printed the pooled line-sampling half-width alone: on a
    400² mask with boundaries every 100 px and a 2 + 2 grid (all four lines count 3, so
    the lines' scatter is 0) it printed '± 0.00 (95% CI, %RA 0.0)' while its JSON's
    per_image mean_intercept_ci95_px was the whole interval (counting floor and pixel
    term), about ℓ̄ x [0.87, 1.18]. The pooled JSON now has mean_intercept_ci95_px (one
    image: that image's interval; several: the images' scatter floored at their counts'
    resolution, metrics.standards.floored_relative_half) and the text prints it."""
    path = _grid_mask_file(tmp_path / "grid.npy")
    # two files with the same pixels: two fields (one file twice is refused)
    for paths in ([path], [path, _grid_mask_file(tmp_path / "grid 2.npy")]):
        args = ["heyn", *paths, "--pattern", "grid", "--lines", "2"]
        assert main([*args, "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        lo, hi = doc["mean_intercept_ci95_px"]
        assert doc["relative_accuracy_pct"] == 0.0 and lo < 0.88 * doc["mean_intercept_px"]
        if len(paths) == 1:
            assert [lo, hi] == doc["per_image"][0]["mean_intercept_ci95_px"]
        assert main(args) == 0
        line = capsys.readouterr().out.strip().splitlines()[-1]
        assert line == (f"pooled: mean intercept {doc['mean_intercept_px']:.2f} px, 95% CI "
                        f"[{lo:.2f}, {hi:.2f}] px (scatter %RA 0.0)"), line


def test_srmat_heyn_text_prints_g_with_its_interval(tmp_path, capsys):
    """`srmat heyn`'s text line printed the pooled G alone ('ASTM G = 7.7') while its
    --json had astm_g_ci95 and `srmat grain-size` prints G with it. It now writes G by
    the same rule (report.format_g): 'ASTM G = 7.7 [lo, hi]'."""
    from napari_srmat.report import format_g

    path = _grid_mask_file(tmp_path / "grid.npy")
    args = ["heyn", path, "--pattern", "grid", "--lines", "2", "--pixel-size-um", "0.5"]
    assert main([*args, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["astm_g_ci95"] is not None
    assert main(args) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.endswith(f"ASTM G = {format_g(doc['astm_g'], doc['astm_g_ci95'])}"), line
    assert format_g(doc["astm_g"], doc["astm_g_ci95"]).count("[") == 1


def test_srmat_heyn_pooled_interval_is_the_inverted_interval_of_n_l(tmp_path, capsys):
    """`srmat heyn`'s pooled interval of several images was ℓ̄ x [1 - r', 1 + r'], r' the
    relative half-width of the images' N_L: an interval of N_L = 1 / ℓ̄ taken as one of
    ℓ̄, so two images at very different N_L read a negative lower end (N_L 0.01 and 0.02
    per px: [-215.7, 349.0] px). It is now the interval of N_L inverted,
    ℓ̄ x [1 / (1 + r'), 1 / (1 - r')] (unbounded above for r' >= 1), the rule of each
    image's line-sampling term (grainsize.sampling_log_terms) and of summarize_fields.
    Unbounded above it was written [low, null] (text: [low, ∞]) where a row's interval
    without an upper end is null with a warning and an interval_note giving the low end
    (grainsize.interval_note); it now follows the rows, in px and, for masks of
    different pixel sizes pooled in µm, in µm (summarize_fields)."""
    import tifffile

    from napari_srmat.grainsize import NO_INTERVAL_NOTE
    from napari_srmat.metrics.standards import floored_relative_half, no_upper_end_note

    paths = [_grid_mask_file(tmp_path / "a.npy", 100), _grid_mask_file(tmp_path / "b.npy", 25)]
    args = ["heyn", *paths, "--pattern", "grid", "--lines", "2"]
    assert main([*args, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    nl = [r["intersection_count"] / r["total_length_px"] for r in doc["per_image"]]
    assert max(nl) > 3 * min(nl)
    r = floored_relative_half(doc["relative_accuracy_pct"] / 100.0,
                              count=sum(x["intersection_count"] for x in doc["per_image"]),
                              n_lines=2)
    mean = doc["mean_intercept_px"]
    assert r >= 1 and doc["mean_intercept_ci95_px"] is None
    note = no_upper_end_note(mean / (1 + r), "px")
    assert note.startswith(NO_INTERVAL_NOTE) and f"ℓ̄ ≥ {mean / (1 + r):.3g} px" in note
    assert doc["interval_note"] == note and note in doc["warnings"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    line = out.strip().splitlines()[-1]
    assert line == f"pooled: mean intercept {mean:.2f} px", line
    assert f"srmat heyn: warning: {note}" in err.splitlines()
    # masks of different pixel sizes, pooled in µm by summarize_fields: the same rule
    for name, step, px in (("a.tif", 100, 0.5), ("b.tif", 25, 1.0)):
        mask = np.zeros((400, 400), np.uint8)
        mask[::step, :] = mask[:, ::step] = 255
        tifffile.imwrite(tmp_path / name, mask, resolution=(1e4 / px, 1e4 / px),
                         resolutionunit="CENTIMETER")
    assert main(["heyn", str(tmp_path / "a.tif"), str(tmp_path / "b.tif"), "--pattern",
                 "grid", "--lines", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["mean_intercept_um"] is not None and doc["astm_g"] is not None
    assert doc["mean_intercept_ci95_um"] is None and doc["astm_g_ci95"] is None
    (told,) = [w for w in doc["warnings"] if w.startswith(NO_INTERVAL_NOTE)]
    assert doc["interval_note"] == told and " µm at 95 %" in told
    # below r' = 1 both ends: the two copies of one mask (the counting floor alone)
    assert main(["heyn", paths[0], _grid_mask_file(tmp_path / "a2.npy", 100), "--pattern",
                 "grid", "--lines", "2",
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    r = floored_relative_half(0.0, count=2 * doc["per_image"][0]["intersection_count"],
                              n_lines=2)
    mean = doc["mean_intercept_px"]
    assert doc["mean_intercept_ci95_px"] == pytest.approx([mean / (1 + r), mean / (1 - r)])


def test_a_specimen_of_fields_that_agree_gets_the_counting_floor(tmp_path, capsys):
    """summarize_fields gave fields whose values agree a zero-width interval: three
    copies of one field (N_L alike) read G = x [x, x] and ℓ̄ [y, y]. The fields' integer
    counts are known to ±½ each, so the interval's half-width is now floored at
    c = t(n-1) sqrt(n / 12) / P of the n fields counting P in all, the one rule of the
    line-sampling term (metrics.standards.floored_relative_half); E112's %RA of the
    scatter stays 0."""
    from scipy.stats import t

    from napari_srmat.metrics.standards import summarize_fields

    path = _grid_mask_file(tmp_path / "grid.npy")
    args = ["grain-size", path, _grid_mask_file(tmp_path / "grid 2.npy"),
            _grid_mask_file(tmp_path / "grid 3.npy"), "--mask", "--method", "intercept",
            "--pattern", "grid", "--lines", "2", "--pixel-size-um", "0.5", "--json"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    p = sum(f["n_intersections"] for f in doc["images"])
    c = t.ppf(0.975, 2) * np.sqrt(3 / 12) / p
    s = doc["summary"]
    assert s["relative_accuracy_pct"] == 0.0
    assert s["ci95_half_width"] == pytest.approx(c * s["mean"])
    lo, hi = s["mean_intercept_ci95_um"]
    assert lo == pytest.approx(s["mean_intercept_um"] / (1 + c))
    assert hi == pytest.approx(s["mean_intercept_um"] / (1 - c))
    g_lo, g_hi = s["astm_g_ci95"]
    assert g_lo < s["astm_g"] - 0.1 and g_hi > s["astm_g"] + 0.1
    # the floor is the package's one rule: the same summary from the fields themselves
    again = summarize_fields(doc["images"])
    assert again["ci95_half_width"] == pytest.approx(s["ci95_half_width"])


def test_srmat_heyn_pooled_half_width_is_the_floored_interval_s(tmp_path, capsys):
    """`srmat heyn --json` of two copies of one mask (the images' N_L agree: scatter 0)
    gave `ci95_half_width_px` 0.0, the bare scatter's, next to the non-zero pair
    `mean_intercept_ci95_px` floored at the counts' resolution: two keys of one interval
    that disagreed. The half-width is now the interval's, ℓ̄ r' with r' = max(r, c)
    (metrics.standards.floored_relative_half), the half-width the pair inverts
    (ℓ̄ [1 / (1 + r'), 1 / (1 - r')]) and summarize_fields' `ci95_half_width` over the same
    fields; `relative_accuracy_pct` stays E112's %RA of the scatter, as summarize_fields'."""
    from napari_srmat.metrics.standards import summarize_fields

    path = _grid_mask_file(tmp_path / "grid.npy")
    again = _grid_mask_file(tmp_path / "grid 2.npy")  # the same pixels: another field
    assert main(["heyn", path, again, "--pattern", "grid", "--lines", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    mean, half = doc["mean_intercept_px"], doc["ci95_half_width_px"]
    assert half > 0 and doc["relative_accuracy_pct"] == 0.0
    assert doc["mean_intercept_ci95_px"] == pytest.approx(
        [mean / (1 + half / mean), mean / (1 - half / mean)])
    summary = summarize_fields([
        {"intersections_per_px": r["intersection_count"] / r["total_length_px"],
         "n_intersections": r["intersection_count"]} for r in doc["per_image"]])
    assert half / mean == pytest.approx(summary["ci95_half_width"] / summary["mean"])
    assert doc["relative_accuracy_pct"] == summary["relative_accuracy_pct"]


@pytest.mark.parametrize("method", ["intercept", "planimetric"])
def test_method_rows_carry_the_grain_size_schema_keys(tmp_path, capsys, method):
    """Was: a `--method` field row lacked `mean_intercept_ci95_px`, `_um`, `astm_g_ci95`,
    `n_intercepts`, `interval_scope`: a script reading `images[i][key]` of a plain run
    broke (KeyError) when `--method` was added. Every row has SCHEMA_KEYS now (the
    field's own interval: test_method_rows_give_the_fields_interval_of_the_one_rule)."""
    from napari_srmat.grainsize import SCHEMA_KEYS

    _mask_file(tmp_path / "m.png", 5)
    rc = main(["grain-size", str(tmp_path / "m.png"), "--mask", "--method", method,
               "--pixel-size-um", "0.5", "--json"])
    assert rc == 0
    row = json.loads(capsys.readouterr().out)["images"][0]
    assert set(SCHEMA_KEYS) <= set(row), set(SCHEMA_KEYS) - set(row)
    assert row["n_intercepts"] == row["n_crossings"] > 0
    assert row["inference_scale"] == 1.0


def _field_rule(path, method, pixel_size_um, **kw):
    """The library's one rule of a field's interval (oracle): the field's Heyn result
    (``measure_specimen_job``, the job ``--method`` measures a field by) through
    ``grain_size_from_heyn`` (line sampling floored at the counts' resolution, pixel)."""
    from napari_srmat.grainsize import grain_size_from_heyn
    from napari_srmat.io import read_mask
    from napari_srmat.jobs import run_job
    from napari_srmat.metrics.standards import measure_specimen_job

    job = measure_specimen_job([read_mask(path)], method=method, pixel_size_um=pixel_size_um,
                               **kw)
    return grain_size_from_heyn(run_job(job, quiet=True).heyn[0],
                                pixel_size_um=pixel_size_um).to_dict()


@pytest.mark.parametrize("method", ["intercept", "planimetric"])
def test_method_rows_give_the_fields_interval_of_the_one_rule(tmp_path, capsys, method):
    """Was: every `--method` field row had `mean_intercept_ci95_px`, `_um`,
    `astm_g_ci95` and `interval_scope` null, though the field's ℓ̄ is a mean over its
    test lines, which the package's one rule gives a 95 % interval (line sampling
    floored at the counts' resolution, the pixel term: `grain_size_from_heyn`). Now ℓ̄'s
    interval is that rule's; G's for the intercept method too. The planimetric G is one
    Jeffries count: its interval stays null and `interval_note` says why."""
    _mask_file(tmp_path / "m.png", 5)
    rc = main(["grain-size", str(tmp_path / "m.png"), "--mask", "--method", method,
               "--pixel-size-um", "0.5", "--json"])
    assert rc == 0
    row = json.loads(capsys.readouterr().out)["images"][0]
    rule = _field_rule(str(tmp_path / "m.png"), method, 0.5)
    assert row["mean_intercept_px"] == pytest.approx(rule["mean_intercept_px"], rel=1e-12)
    assert row["mean_intercept_ci95_px"] == pytest.approx(rule["mean_intercept_ci95_px"],
                                                          rel=1e-12)
    lo, hi = row["mean_intercept_ci95_px"]
    assert lo < row["mean_intercept_px"] < hi
    assert row["mean_intercept_ci95_um"] == pytest.approx([lo * 0.5, hi * 0.5], rel=1e-12)
    assert row["interval_scope"] == "field"
    if method == "intercept":
        assert row["astm_g_ci95"] == pytest.approx(rule["astm_g_ci95"], rel=1e-12)
        assert row["astm_g_ci95"][0] < row["astm_g"] < row["astm_g_ci95"][1]
        assert row["interval_note"] is None
    else:
        assert row["astm_g_ci95"] is None and row["astm_g"] is not None
        assert "one Jeffries count" in row["interval_note"]
        assert "summary" in row["interval_note"]


def test_method_row_of_one_test_line_says_why_it_has_no_interval(tmp_path, capsys):
    """One test line has no scatter to form an interval: the row's interval keys are
    null and `interval_note` (and its warnings) say why, where before they were null
    without a word."""
    _mask_file(tmp_path / "m.png", 5)
    rc = main(["grain-size", str(tmp_path / "m.png"), "--mask", "--method", "intercept",
               "--pattern", "random", "--lines", "1", "--pixel-size-um", "0.5", "--json"])
    assert rc == 0
    row = json.loads(capsys.readouterr().out)["images"][0]
    assert row["mean_intercept_px"] is not None
    assert row["mean_intercept_ci95_px"] is None and row["astm_g_ci95"] is None
    assert "fewer than two test lines" in row["interval_note"]
    assert any("fewer than two test lines" in w for w in row["warnings"])


def test_a_micrographs_field_interval_holds_the_models_term(tmp_path, capsys):
    """A micrograph's `--method` field is the model's map: its interval, like the row's
    without `--method`, holds the model's calibrated term (the row's `uncertainty`
    `model_low` / `model_high`), not only its test lines' (before: null)."""
    import math

    plain, field = _fine_micrograph_rows(tmp_path, capsys)
    terms, mean = plain["uncertainty"], field["mean_intercept_px"]
    lo, hi = field["mean_intercept_ci95_px"]
    assert math.log(mean / lo) >= terms["model_low"] > 0
    assert math.log(hi / mean) >= terms["model_high"] > 0
    assert field["astm_g_ci95"][0] < field["astm_g"] < field["astm_g_ci95"][1]
    assert field["interval_scope"] == "field" and field["interval_note"] is None


@pytest.mark.parametrize("method,flags", [
    ("intercept", []), ("planimetric", []),
    ("intercept", ["--pattern", "random", "--lines", "1", "--seed", "3"]),
], ids=["intercept", "planimetric", "one-test-line"])
def test_the_librarys_field_rows_give_the_interval_the_cli_prints(tmp_path, capsys, method,
                                                                  flags):
    """Was: `measure_field` / `measure_specimen` rows (the widget's Specimen tab, a
    notebook) had no `mean_intercept_ci95_px`, `_um`, `astm_g_ci95`, `interval_scope`
    nor `interval_note` (KeyError): only `srmat grain-size --method` computed a field's
    interval. Now the library's row carries it, the one the command prints, with the
    note (and warning) where there is none."""
    from napari_srmat.io import read_mask
    from napari_srmat.metrics.standards import measure_field, measure_specimen

    path = str(tmp_path / "m.png")
    _mask_file(path, 5)
    rc = main(["grain-size", path, "--mask", "--method", method, "--pixel-size-um", "0.5",
               *flags, "--json"])
    assert rc == 0
    row = json.loads(capsys.readouterr().out)["images"][0]
    kw = {"pattern": "random", "n_lines": 1, "seed": 3} if flags else {}
    mask = read_mask(path)
    lib = json.loads(json.dumps(measure_field(mask, pixel_size_um=0.5, method=method, **kw)))
    spec = measure_specimen([mask], method=method, pixel_size_um=0.5, **kw)["images"][0]
    for got in (lib, json.loads(json.dumps(spec))):
        for key in ("mean_intercept_ci95_px", "mean_intercept_ci95_um", "astm_g_ci95",
                    "interval_scope", "interval_note"):
            assert got[key] == (pytest.approx(row[key], rel=1e-12)
                                if isinstance(row[key], list) else row[key]), key
        assert got["warnings"] == row["warnings"]
    if flags:  # the case without an interval says why, in its note and its warnings
        assert lib["mean_intercept_ci95_px"] is None
        assert "fewer than two test lines" in lib["interval_note"]
    elif method == "intercept":
        assert lib["astm_g_ci95"][0] < lib["astm_g"] < lib["astm_g_ci95"][1]
    else:
        assert lib["astm_g_ci95"] is None and "one Jeffries count" in lib["interval_note"]


def test_measure_fields_model_term_widens_its_interval_as_the_rows_rule():
    """`measure_field(model_log_terms=...)` (a boundary model's map, as `srmat grain-size
    --method` passes for a micrograph): the interval holds the model's term by the rule
    of the rows without `--method` (`grain_size_from_heyn` with the model's ℓ̄ range);
    an end not known gives no interval and says so."""
    import math

    from napari_srmat.grainsize import grain_size_from_heyn
    from napari_srmat.metrics.standards import measure_field

    ms = generate_microstructure((256, 256), mean_grain_size_px=24, seed=5)
    plain, hr = measure_field(ms.boundaries, pixel_size_um=0.5, return_heyn=True)
    row = measure_field(ms.boundaries, pixel_size_um=0.5, model_log_terms=(0.2, 0.3))
    mean = row["mean_intercept_px"]
    oracle = grain_size_from_heyn(hr, pixel_size_um=0.5, model_range_px=(
        mean * math.exp(-0.2), mean * math.exp(0.3))).to_dict()
    assert row["mean_intercept_ci95_px"] == pytest.approx(oracle["mean_intercept_ci95_px"],
                                                          rel=1e-12)
    lo, hi = row["mean_intercept_ci95_px"]
    assert math.log(mean / lo) >= 0.2 and math.log(hi / mean) >= 0.3
    plo, phi = plain["mean_intercept_ci95_px"]
    assert lo < plo < mean < phi < hi
    unknown = measure_field(ms.boundaries, pixel_size_um=0.5, model_log_terms=(None, 0.3))
    assert unknown["mean_intercept_ci95_px"] is None and unknown["astm_g_ci95"] is None
    assert "model's uncertainty range is not known" in unknown["interval_note"]


@pytest.mark.parametrize(
    "flags",
    [[], ["--pattern", "random", "--lines", "1", "--seed", "3"]],
    ids=["interval", "one-test-line"],
)
def test_rows_without_method_say_why_they_have_no_interval_as_method_rows(tmp_path, capsys, flags):
    """Was: a row of `srmat grain-size` without `--method` (and of `srmat heyn`) had no
    `interval_note` (KeyError), while a `--method` row said why its interval is null:
    two paths, one with the rule and one without. Now every row carries it, by the one
    rule (`grainsize.interval_note`): the same note for the same field in both paths,
    null where the row has its interval."""
    path = str(tmp_path / "m.png")
    _mask_file(path, 5)
    common = [path, "--pixel-size-um", "0.5", *flags, "--json"]
    if not flags:
        common[-1:-1] = ["--pattern", "grid"]  # --method's default, for the same lines
    assert main(["grain-size", "--mask", *common]) == 0
    plain = json.loads(capsys.readouterr().out)["images"][0]
    assert main(["grain-size", "--mask", "--method", "intercept", *common]) == 0
    field = json.loads(capsys.readouterr().out)["images"][0]
    assert main(["heyn", "--skeletonize", *common]) == 0
    heyn = json.loads(capsys.readouterr().out)["per_image"][0]
    assert plain["mean_intercept_px"] is not None
    for row in (plain, heyn):
        assert row["interval_note"] == field["interval_note"]
    if flags:
        assert plain["mean_intercept_ci95_px"] is None
        assert plain["interval_note"].startswith("no 95% interval: fewer than two test lines")
    else:
        assert plain["mean_intercept_ci95_px"] is not None and plain["interval_note"] is None


def test_fields_that_give_no_value_are_not_refused_as_of_mixed_pixel_sizes(tmp_path, capsys):
    """Two blank masks, one with a pixel size and one without, give no N_L at all: the
    counted fields were empty, so every field counted and ``srmat grain-size --method``
    was refused with "fields with and without a pixel size are not pooled", with a
    warning withholding figures there were none of. Now no field counted is no mixed
    pixel sizes: refused as "none of the 2 fields gives a valid N_L". Failed before."""
    import tifffile

    from napari_srmat.metrics.standards import mixed_pixel_sizes_warning

    a, b = str(tmp_path / "a.tif"), str(tmp_path / "b.png")
    tifffile.imwrite(a, np.zeros((128, 128), np.uint8), resolution=(1e4 / 0.3, 1e4 / 0.3),
                     resolutionunit="CENTIMETER")
    Image.fromarray(np.zeros((128, 128), np.uint8)).save(b)
    assert main(["grain-size", a, b, "--mask", "--method", "intercept", "--json"]) == 2
    out, err = capsys.readouterr()
    fields = json.loads(out)["images"]
    assert [f["pixel_size_um"] is None for f in fields] == [False, True]
    assert mixed_pixel_sizes_warning(fields, "intercept") is None
    assert "not pooled" not in err and "pixel sizes" not in err, err
    assert err.splitlines()[-1] == ("srmat grain-size: error: no grain size measured: none "
                                    "of the 2 fields gives a valid N_L (see the warnings)")
