"""npe2 manifest, reader and writer of the napari plugin."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest

npe2 = pytest.importorskip("npe2")
PIL = pytest.importorskip("PIL.Image")

from napari_srmat._napari_io import (  # noqa: E402
    get_reader,
    layer_pixel_size_um,
    layer_unitless_scale,
)

PLUGIN = "napari-srmat"
OWNED = (
    "napari-srmat.get_reader",
    "napari-srmat.write_image",
    "napari-srmat.sample_micrograph",
    "napari-srmat.sample_mosaic",
    "napari-srmat.super_resolution",
    "napari-srmat.boundaries",
    "napari-srmat.grain_size",
    "napari-srmat.train_evaluate",
)


@pytest.fixture(autouse=True)
def _discovered():
    """Make sure the npe2 plugin manager knows this (installed) plugin."""
    pm = npe2.PluginManager.instance()
    if PLUGIN not in pm._manifests:
        pm.discover()
    assert PLUGIN in pm._manifests


def test_manifest_validates_and_python_names_resolve():
    mf = npe2.PluginManifest.from_distribution(PLUGIN)
    assert mf.name == PLUGIN
    by_id = {c.id: c for c in mf.contributions.commands}
    for cid in OWNED:
        mod, _, attr = by_id[cid].python_name.partition(":")
        assert callable(getattr(importlib.import_module(mod), attr)), cid
    exe = shutil.which("npe2")
    cmd = [exe, "validate", PLUGIN] if exe else [sys.executable, "-m", "npe2", "validate", PLUGIN]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_reader_declines_what_it_cannot_read(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "plain_dir").mkdir()
    assert get_reader(str(tmp_path / "notes.txt")) is None
    assert get_reader(str(tmp_path / "plain_dir")) is None
    assert get_reader(str(tmp_path / "missing.png")) is None
    assert get_reader([str(tmp_path / "notes.txt"), str(tmp_path / "x.png")]) is None


def test_reader_declines_a_folder_it_may_not_read(tmp_path, monkeypatch):
    """A folder without read permission made get_reader raise PermissionError (from
    looking for Zarr metadata in it) instead of returning None for napari's next reader.
    Simulated (the tests may run as root): looking inside the folder is refused."""
    import os
    from pathlib import Path

    locked = tmp_path / "locked"  # a Zarr store by its content, not its name
    locked.mkdir()
    (locked / ".zgroup").write_text('{"zarr_format": 2}')
    assert get_reader(str(locked)) is not None
    stat = os.stat

    def refuse(path, *args, **kwargs):
        if locked in Path(path).parents:
            raise PermissionError(13, "Permission denied", str(path))
        return stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", refuse)
    assert get_reader(str(locked)) is None
    assert get_reader([str(locked), str(locked / ".zattrs")]) is None


def test_read_png_lazily_as_rgb(tmp_path):
    img = np.random.default_rng(0).integers(0, 255, (120, 90, 3), dtype=np.uint8)
    PIL.fromarray(img).save(tmp_path / "m.png")
    assert callable(get_reader(str(tmp_path / "m.png")))
    [(data, kwargs, kind)] = npe2.read([str(tmp_path / "m.png")], stack=False,
                                       plugin_name=PLUGIN)
    assert kind == "image"
    assert hasattr(data, "dask") and data.shape == (120, 90, 3)  # lazy
    assert kwargs["rgb"] is True and kwargs["multiscale"] is False
    assert "scale" not in kwargs  # no pixel size in a plain PNG
    np.testing.assert_array_equal(np.asarray(data), img)


def test_png_and_jpeg_above_pillows_pixel_limit_open(tmp_path, monkeypatch):
    """A stitched PNG/JPEG mosaic above Pillow's decompression-bomb limit (179 MP, here
    lowered to 1000 px) was refused: "image too large for Pillow (... could be
    decompression bomb DOS attack)". It opens; what the decode needs is checked against
    the memory available instead, and Pillow's limit is left as it was."""
    import napari_srmat.outputs as outputs
    from napari_srmat.io import ImageReadError

    monkeypatch.setattr(PIL, "MAX_IMAGE_PIXELS", 1000)
    img = np.random.default_rng(5).integers(0, 255, (60, 70, 3), dtype=np.uint8)
    PIL.fromarray(img).save(tmp_path / "mosaic.png")
    PIL.fromarray(img[..., 0]).save(tmp_path / "mosaic.jpg", quality=95)
    [(data, kwargs, _)] = npe2.read([str(tmp_path / "mosaic.png")], stack=False,
                                    plugin_name=PLUGIN)
    np.testing.assert_array_equal(np.asarray(data), img)
    assert kwargs["rgb"] is True
    [(data, kwargs, _)] = npe2.read([str(tmp_path / "mosaic.jpg")], stack=False,
                                    plugin_name=PLUGIN)
    assert data.shape == (60, 70) and kwargs["rgb"] is False
    assert PIL.MAX_IMAGE_PIXELS == 1000
    # too large for the memory left: one line naming the file and what to do
    monkeypatch.setattr(outputs, "available_memory_bytes", lambda: 30_000)
    with pytest.raises(ImageReadError, match=r"mosaic\.png: decoding this 70 x 60 PNG image "
                                             r"needs .* of memory, .* available .* tiled TIFF"):
        get_reader(str(tmp_path / "mosaic.png"))(str(tmp_path / "mosaic.png"))


def test_memory_check_of_a_16_bit_colour_png_counts_its_real_bytes(tmp_path, monkeypatch):
    """A 16-bit RGB PNG was sized from Pillow's mode (8-bit RGB, 4 B/px) while imagecodecs
    decodes it at 6 B/px: with the memory between the two needs it was decoded anyway.
    The check now sizes it by the file's bit depth and channels; an 8-bit RGB PNG of the
    same size still fits that memory."""
    imagecodecs = pytest.importorskip("imagecodecs")
    import napari_srmat.outputs as outputs
    from napari_srmat.io import ImageReadError, read_image

    h, w = 30, 40
    rgb16 = np.random.default_rng(6).integers(0, 65535, (h, w, 3), dtype=np.uint16)
    p16, p8 = tmp_path / "rgb16.png", tmp_path / "rgb8.png"
    p16.write_bytes(imagecodecs.png_encode(rgb16))
    PIL.fromarray((rgb16 >> 8).astype(np.uint8)).save(p8)
    old_need, true_need = 2 * h * w * 4, 2 * h * w * 6  # twice: decoded + its copy
    monkeypatch.setattr(outputs, "available_memory_bytes",
                        lambda: (old_need + true_need) // 2)
    assert read_image(p8).shape == (h, w, 3)
    with pytest.raises(ImageReadError, match=r"rgb16\.png: decoding this 40 x 30 PNG image "
                                             r"needs 14\.1 KiB of memory"):
        read_image(p16)
    monkeypatch.setattr(outputs, "available_memory_bytes", lambda: true_need)
    np.testing.assert_array_equal(np.asarray(read_image(p16).data), rgb16)


def test_write_read_roundtrip_multiscale_with_pixel_size(tmp_path):
    rng = np.random.default_rng(1)
    img = rng.integers(0, 4000, (1100, 1040), dtype=np.uint16)
    meta = {"scale": (0.25, 0.25), "units": ("micrometer", "micrometer"), "rgb": False,
            "metadata": {}, "name": "x"}
    [written] = npe2.write(str(tmp_path / "out.zarr"), [(img, meta, "image")],
                           plugin_name=PLUGIN)
    assert written.endswith("out.zarr")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # atomic
    [(data, kwargs, _)] = npe2.read([written], stack=False, plugin_name=PLUGIN)
    assert kwargs["multiscale"] is True and isinstance(data, list) and len(data) >= 2
    np.testing.assert_array_equal(np.asarray(data[0]), img)
    assert data[1].shape[0] < data[0].shape[0]
    assert kwargs["scale"] == pytest.approx((0.25, 0.25))
    assert kwargs["metadata"]["pixel_size_um"] == pytest.approx(0.25)
    assert kwargs["units"] == ("micrometer", "micrometer")


def test_write_rgb_multiscale_layer_and_open_in_viewer(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    rgb = np.random.default_rng(2).integers(0, 255, (64, 80, 3), dtype=np.uint8)
    layer = viewer.add_image(rgb, rgb=True, metadata={"pixel_size_um": 1.5})
    data, meta, _ = layer.as_layer_data_tuple()
    [written] = npe2.write(str(tmp_path / "rgb"), [(data, meta, "image")], plugin_name=PLUGIN)
    assert written.endswith("rgb.zarr")
    [opened] = viewer.open(written, plugin=PLUGIN)
    assert opened.rgb
    np.testing.assert_allclose(opened.scale, (1.5, 1.5))
    np.testing.assert_array_equal(np.asarray(opened.data), rgb)
    assert str(opened.units[-1]) == "micrometer"


def test_writer_takes_a_zarr_ending_in_any_case(tmp_path):
    """Saving to "scan.ZARR" (napari matches the writer's .zarr case-insensitively) wrote
    "scan.ZARR.zarr"; a name without the ending still gets it."""
    layer = [(np.zeros((8, 8), np.uint8), {"rgb": False}, "image")]
    assert npe2.write(str(tmp_path / "scan.ZARR"), layer, plugin_name=PLUGIN) == [
        str(tmp_path / "scan.ZARR")]
    assert npe2.write(str(tmp_path / "plain"), layer, plugin_name=PLUGIN) == [
        str(tmp_path / "plain.zarr")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.zarr", "scan.ZARR"]


def test_a_layer_saved_and_reopened_keeps_its_place(make_napari_viewer, tmp_path):
    """An SR layer sits 3/8 of an input pixel up-left of its own pixel grid (translate,
    so that it covers its input). Saved through napari and reopened, it lost its
    translate: 1.5 SR px off its input. The store now records it (an NGFF translation,
    each coarser level's shifted by its own half pixel) and the reader gives it back;
    another tool's translation in nanometres is read in µm."""
    import zarr

    from napari_srmat.io import ImageReadError, read_image
    from napari_srmat.widgets.layers import sr_world_transform

    viewer = make_napari_viewer()
    scale, translate = sr_world_transform((0.5, 0.5), (3.0, 4.0), 4)
    sr = np.random.default_rng(6).integers(0, 255, (1100, 1040), dtype=np.uint8)
    layer = viewer.add_image(sr, scale=scale, translate=translate,
                             units=("micrometer", "micrometer"))
    data, meta, _ = layer.as_layer_data_tuple()
    [written] = npe2.write(str(tmp_path / "sr.zarr"), [(data, meta, "image")],
                           plugin_name=PLUGIN)
    [back] = viewer.open(written, plugin=PLUGIN)
    np.testing.assert_allclose(back.scale, scale)
    np.testing.assert_allclose(back.translate, translate)  # (2.8125, 3.8125)
    np.testing.assert_array_equal(np.asarray(back.data[0]), sr)
    level1 = zarr.open_group(written, mode="r").attrs["multiscales"][0]["datasets"][1]
    assert level1["coordinateTransformations"][1]["translation"] == pytest.approx(
        [translate[0] + 0.125 / 2, translate[1] + 0.125 / 2])
    # a layer without a pixel size keeps its place unit-less (no µm origin)
    plain = viewer.add_image(sr[:64, :64], translate=(5.0, 5.0))
    data, meta, _ = plain.as_layer_data_tuple()
    [written] = npe2.write(str(tmp_path / "plain.zarr"), [(data, meta, "image")],
                           plugin_name=PLUGIN)
    assert "origin_um" not in read_image(written).metadata
    assert read_image(written).metadata["unitless_grid"] == {"scale": [1.0, 1.0],
                                                             "origin": [5.0, 5.0]}
    # another tool's store: translation in nanometres (global translation added)
    path = tmp_path / "other.ome.zarr"
    g = zarr.open_group(str(path), mode="w", zarr_format=2)
    g.create_array("0", data=sr[:32, :32])
    axes = [{"name": n, "type": "space", "unit": "nanometer"} for n in "yx"]
    g.attrs["multiscales"] = [{"version": "0.4", "axes": axes, "datasets": [
        {"path": "0", "coordinateTransformations": [
            {"type": "scale", "scale": [250, 250]},
            {"type": "translation", "translation": [1000, 2000]}]}],
        "coordinateTransformations": [{"type": "translation", "translation": [0, 500]}]}]
    [(_, kwargs, _)] = npe2.read([str(path)], stack=False, plugin_name=PLUGIN)
    assert kwargs["translate"] == pytest.approx((1.0, 2.5))
    ms = g.attrs["multiscales"]
    ms[0]["datasets"][0]["coordinateTransformations"][1]["translation"] = ["a", 1]
    g.attrs["multiscales"] = ms
    with pytest.raises(ImageReadError, match="damaged OME-NGFF"):
        read_image(path)


def _feature_centroid(layer) -> np.ndarray:
    """Intensity-weighted (row, column) data coordinates of a layer's bright pixels."""
    data = np.asarray(layer.data[0] if layer.multiscale else layer.data, float)
    rows, cols = np.indices(data.shape)
    return np.array([(rows * data).sum(), (cols * data).sum()]) / data.sum()


@pytest.mark.parametrize("factor", [2, 4])
@pytest.mark.parametrize("pixel_size", [None, 0.5])
def test_an_sr_run_output_opens_over_its_input(make_napari_viewer, tmp_path, factor,
                                               pixel_size):
    """`srmat sr run` wrote no place: opened beside its input, the x4 output lay 1.5 SR
    px down-right of it (with a pixel size), or at 4 times its size (without one). It
    now records the half-pixel shift plus the input's own translation (µm; without a
    pixel size a unit-less scale 1/s and translation in input pixels), so a feature at
    input pixel (r, c) has one world position in both layers, which the audit widget
    then leaves where they are; `srmat edges predict` on the output keeps its place."""
    from napari_srmat.cli import main
    from napari_srmat.io import write_ome_zarr
    from napari_srmat.widgets.audit_widget import align_sr_layer

    img = np.zeros((20, 24), np.uint8)
    img[7, 13] = 255  # the feature, far from the borders
    if pixel_size is None:
        source = tmp_path / "in.png"
        PIL.fromarray(img).save(source)
    else:  # a store with a pixel size and its own translation
        source = write_ome_zarr(img, tmp_path / "in.ome.zarr", pixel_size_um=pixel_size,
                                origin_um=(3.0, -2.0))
    out = tmp_path / "sr.ome.zarr"
    assert main(["sr", "run", str(source), str(out), "--model", "bicubic", "--scale",
                 str(factor)]) == 0
    viewer = make_napari_viewer()
    [lr] = viewer.open(str(source), plugin=PLUGIN)
    [sr] = viewer.open(str(out), plugin=PLUGIN)
    lr_world = np.asarray(lr.data_to_world(_feature_centroid(lr)))
    np.testing.assert_allclose(np.asarray(sr.data_to_world(_feature_centroid(sr))),
                               lr_world, atol=1e-6)
    translate = tuple(sr.translate)
    assert not align_sr_layer(lr, sr, factor)  # the store's place: not corrected again
    assert tuple(sr.translate) == translate
    # a map at scale 1 of the SR output (edges predict) keeps its input's place
    assert main(["edges", "predict", str(out), "--out", str(tmp_path / "edges")]) == 0
    [prob] = viewer.open(str(tmp_path / "edges" / "prob.ome.zarr"), plugin=PLUGIN)
    np.testing.assert_allclose(prob.scale, sr.scale)
    np.testing.assert_allclose(prob.translate, sr.translate)


def test_a_layer_without_a_pixel_size_saved_and_reopened_keeps_its_place(make_napari_viewer,
                                                                          tmp_path):
    """An SR layer of an image without a pixel size (unit-less scale 1/4 and translate
    -3/8 over its input's pixels) saved through napari reopened at scale 1, translate 0:
    4 times its input's size, off its input. The writer now records them as the store's
    unit-less grid (write_ome_zarr's unitless_grid), which the reader gives back; a
    feature keeps its world position. That scale (metadata["unitless_grid"]) is then no
    pixel-size hint: the widgets suggested "0.25" as µm/px."""
    from napari_srmat.widgets.layers import pixel_size_hint, sr_world_transform

    viewer = make_napari_viewer()
    lr = viewer.add_image(np.zeros((20, 24), np.uint8))
    scale, translate = sr_world_transform(lr.scale, lr.translate, 4)
    img = np.zeros((80, 96), np.uint8)
    img[29:31, 53:55] = 255  # the feature: input pixel (7, 13)
    sr = viewer.add_image(img, scale=scale, translate=translate)
    assert layer_pixel_size_um(sr) is None
    world = np.asarray(sr.data_to_world(_feature_centroid(sr)))
    np.testing.assert_allclose(world, (7.0, 13.0))
    data, meta, _ = sr.as_layer_data_tuple()
    [written] = npe2.write(str(tmp_path / "sr.zarr"), [(data, meta, "image")],
                           plugin_name=PLUGIN)
    [back] = viewer.open(written, plugin=PLUGIN)
    np.testing.assert_allclose(back.scale, scale)
    np.testing.assert_allclose(back.translate, translate)
    np.testing.assert_allclose(np.asarray(back.data_to_world(_feature_centroid(back))), world)
    assert layer_pixel_size_um(back) is None
    assert back.metadata["unitless_grid"]["scale"] == pytest.approx([0.25, 0.25])
    assert layer_unitless_scale(back) is None and pixel_size_hint(back) == ""
    # a unit-less scale typed by hand is still a hint
    typed = viewer.add_image(img, scale=(0.25, 0.25))
    assert "0.25" in pixel_size_hint(typed)


def test_an_sr_store_without_its_place_is_still_complete(tmp_path):
    """The place is not part of an SR store's identity: a store written before it was
    recorded (here: the same store with its translation removed) is still the same
    work, reused as it is, not refused as made differently (nor rewritten). Checked by
    hand too: a partial and a complete store of the code before resume and are reused."""
    import json

    from napari_srmat.cli import main
    from napari_srmat.io import read_image

    source = tmp_path / "in.png"
    PIL.fromarray(np.arange(96, dtype=np.uint8).reshape(8, 12)).save(source)
    out = tmp_path / "sr.ome.zarr"
    argv = ["sr", "run", str(source), str(out), "--model", "bicubic", "--scale", "4",
            "--pixel-size-um", "0.5"]
    assert main(argv) == 0
    assert read_image(out).metadata["origin_um"] == pytest.approx([-0.1875, -0.1875])
    attrs = json.loads((out / ".zattrs").read_text())
    for ds in attrs["multiscales"][0]["datasets"]:
        ds["coordinateTransformations"] = ds["coordinateTransformations"][:1]
    (out / ".zattrs").write_text(json.dumps(attrs))
    marker = json.loads((out / ".srmat_output.json").read_text())
    marker["identity"].pop("origin_um", None)  # as written before: no place in it
    (out / ".srmat_output.json").write_text(json.dumps(marker))
    assert main(argv) == 0
    assert "origin_um" not in read_image(out).metadata


def test_writer_rejects_stacks(tmp_path):
    from napari_srmat._napari_io import write_image

    with pytest.raises(ValueError, match="2-D"):
        write_image(str(tmp_path / "s.zarr"), np.zeros((3, 8, 8, 2)), {"rgb": False})


def test_pixel_size_from_layer_attributes():
    assert layer_pixel_size_um({"metadata": {"pixel_size_um": 0.3}, "scale": (1, 1)}) == 0.3
    assert layer_pixel_size_um({"scale": (1.0, 1.0)}) is None
    assert layer_pixel_size_um({"scale": (1.0, 1.0), "units": ("µm", "µm")}) == 1.0
    # a scale without a micrometre unit is not a pixel size (one rule with the widgets)
    assert layer_pixel_size_um({"scale": (0.7, 0.7)}) is None
    assert layer_pixel_size_um({"scale": (0.7, 0.7), "units": ("pixel", "pixel")}) is None
    assert layer_pixel_size_um({"scale": (0.7, 0.7), "units": ("um", "um")}) == 0.7
    # other length units are converted with the file readers' unit table
    assert layer_pixel_size_um({"scale": (700, 700), "units": ("nm", "nanometer")}) == (
        pytest.approx(0.7))
    assert layer_pixel_size_um({"scale": (7e-4, 7e-4), "units": ("mm", "millimeter")}) == (
        pytest.approx(0.7))
    assert layer_pixel_size_um({"scale": (0.7, 0.7), "units": ("second", "second")}) is None
    # a unit-less scale is only offered as a hint
    assert layer_unitless_scale({"scale": (0.7, 0.7), "units": ("pixel", "pixel")}) == 0.7
    assert layer_unitless_scale({"scale": (0.7, 0.7)}) == 0.7
    assert layer_unitless_scale({"scale": (1.0, 1.0)}) is None
    assert layer_unitless_scale({"scale": (0.7, 0.7), "units": ("um", "um")}) is None
    assert layer_unitless_scale({"metadata": {"pixel_size_um": 0.3}, "scale": (0.7, 0.7)}) is None


def test_pixel_size_of_a_layer_is_one_rule(make_napari_viewer):
    from napari_srmat.widgets.layers import layer_pixel_size_um as widget_rule

    viewer = make_napari_viewer()
    for kw, px in (({"scale": (0.5, 0.5)}, None), ({"metadata": {"pixel_size_um": 0.2}}, 0.2),
                   ({"scale": (0.5, 0.5), "units": "micrometer"}, 0.5)):
        layer = viewer.add_image(np.zeros((4, 4)), **kw)
        assert widget_rule(layer) == layer_pixel_size_um(layer) == px
        assert layer_pixel_size_um(layer.as_layer_data_tuple()[1]) == px


def test_two_channel_image_opens_as_one_2d_layer_per_channel(make_napari_viewer, tmp_path):
    """A (2, H, W) OME-Zarr with a pixel size used to fail in napari ("units must have
    length ndim=3"); without one it was shown as a 3-D stack sliced along its rows."""
    import zarr

    img = np.random.default_rng(3).integers(0, 255, (2, 40, 50), dtype=np.uint8)
    path = tmp_path / "two channels.ome.zarr"
    g = zarr.open_group(str(path), mode="w", zarr_format=2)
    g.create_array("0", data=img)
    axes = [{"name": "c", "type": "channel"}, {"name": "y", "type": "space", "unit": "nanometer"},
            {"name": "x", "type": "space", "unit": "nanometer"}]
    g.attrs["multiscales"] = [{"version": "0.4", "axes": axes, "datasets": [
        {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1, 250, 250]}]}]}]
    viewer = make_napari_viewer()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # split into grey layers: no channel note
        layers = viewer.open(str(path), plugin=PLUGIN)
    assert len(layers) == 2
    for i, layer in enumerate(layers):
        assert layer.ndim == 2 and not layer.rgb
        assert not layer.metadata.get("read_warnings")
        np.testing.assert_allclose(layer.scale, (0.25, 0.25))
        assert layer_pixel_size_um(layer) == pytest.approx(0.25)
        np.testing.assert_array_equal(np.asarray(layer.data), img[i])


def _non_square_tiff(tmp_path):
    import tifffile

    img = np.arange(40 * 30, dtype=np.uint16).reshape(40, 30)
    path = tmp_path / "ns.tif"  # X 0.5 µm (20000 px/cm), Y 0.25 µm
    tifffile.imwrite(path, img, resolution=(20000, 40000), resolutionunit="CENTIMETER")
    return path, img


def test_reader_gives_non_square_pixels_their_aspect(tmp_path):
    """A file with 0.5 x 0.25 µm pixels opened with scale (0.5, 0.5): squashed by half."""
    path, img = _non_square_tiff(tmp_path)
    with pytest.warns(UserWarning, match="pixels are not square"):
        [(data, kwargs, _)] = get_reader(str(path))(str(path))
    np.testing.assert_array_equal(np.asarray(data), img)
    assert kwargs["scale"] == pytest.approx((0.25, 0.5))  # (y, x)
    assert kwargs["units"] == ("micrometer", "micrometer")
    assert kwargs["metadata"]["pixel_size_um"] == pytest.approx(0.5)  # X, the reader's rule
    assert kwargs["metadata"]["pixel_size_yx_um"] == pytest.approx([0.25, 0.5])
    # no single pixel size for the widgets' µm figures (as image_data for the file)
    assert layer_pixel_size_um(kwargs) is None


def test_writer_keeps_non_square_layers_per_axis(tmp_path):
    """A layer with scale (0.5, 0.25) was saved with 0.25 µm for both directions (then
    refused); a length unit now gives the store a per-axis scale, read back as such."""
    from napari_srmat._napari_io import layer_non_square, write_image
    from napari_srmat.io import read_image

    img = np.zeros((16, 16), np.uint8)
    meta = {"scale": (0.5, 0.25), "units": ("micrometer", "micrometer"), "rgb": False,
            "metadata": {}}
    assert layer_non_square(meta) == (0.5, 0.25)
    assert layer_pixel_size_um(meta) is None
    [written] = write_image(str(tmp_path / "ns.zarr"), img, meta)
    with pytest.warns(UserWarning, match="not square"):
        assert read_image(written).pixel_size_yx_um == pytest.approx((0.5, 0.25))
    # no unit: the aspect cannot be written in µm, and is not silently lost
    with pytest.raises(ValueError, match=r"not square \(scale Y 2, X 1\) .* no length unit"):
        write_image(str(tmp_path / "nounit.zarr"), img, {"scale": (2.0, 1.0), "rgb": False})
    assert not (tmp_path / "nounit.zarr").exists()
    # a layer read from a non-square file (scale and metadata as the reader sets them)
    path, _ = _non_square_tiff(tmp_path)
    with pytest.warns(UserWarning):
        [(data, kwargs, _)] = get_reader(str(path))(str(path))
    [again] = write_image(str(tmp_path / "again.zarr"), data, kwargs)
    with pytest.warns(UserWarning, match="not square"):
        back = read_image(again)
    assert back.pixel_size_yx_um == pytest.approx((0.25, 0.5))
    np.testing.assert_array_equal(np.asarray(back.data), np.asarray(data))
    # square layers are written as before
    square = {**meta, "scale": (0.25, 0.25)}
    assert layer_non_square(square) is None
    [written] = write_image(str(tmp_path / "sq.zarr"), img, square)
    assert written.endswith("sq.zarr")


def _half(a: np.ndarray) -> np.ndarray:
    """Reference 2x2 mean of a uint8 image: odd sides extended by their edge, rounded half
    to even (exact in float64)."""
    a = np.pad(a, [(0, a.shape[0] % 2), (0, a.shape[1] % 2)] + [(0, 0)] * (a.ndim - 2),
               mode="edge").astype(np.float64)
    return np.round((a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]) / 4
                    ).astype(np.uint8)


@pytest.mark.parametrize("column", range(8))
def test_display_levels_keep_a_one_pixel_line_at_every_offset(monkeypatch, column):
    """The display levels took every 2nd, 4th, ... pixel: a 1-px boundary vanished at
    coarse levels unless its column was a multiple of the step (it flickered as the
    view moved). Block means keep its trace at every offset; a mask keeps it whole."""
    import napari_srmat._napari_io as nio

    monkeypatch.setattr(nio, "DISPLAY_PYRAMID_MIN_SIDE", 32)
    monkeypatch.setattr(nio, "DISPLAY_PYRAMID_TOP_SIDE", 8)
    img = np.full((40, 64), 12, np.uint8)  # an image: the line on a grey background
    img[:, column] = 255
    levels = nio.display_levels(img)
    assert [lv.shape for lv in levels] == [(40, 64), (20, 32), (10, 16), (5, 8)]
    coarse = np.asarray(levels[3])  # 8x: a striding at this offset kept it only at 0
    assert coarse.dtype == np.uint8
    assert (coarse[:, 0] == np.round(12 + (255 - 12) / 8)).all()
    assert (coarse[:, 1:] == 12).all()
    np.testing.assert_array_equal(coarse, _half(_half(_half(img))))
    line = np.tile(np.arange(8) == 0, (5, 1))
    mask = nio.display_levels(img == 255)  # boolean: max, the line stays whole
    assert np.asarray(mask[3]).dtype == bool
    np.testing.assert_array_equal(np.asarray(mask[3]), line)
    labels = nio.display_levels((img == 255).astype(np.int32) * 7, reduce="max")
    assert set(np.unique(np.asarray(labels[3]))) == {0, 7}  # never a label in between
    # a mask saved as 0/255 (or 0/1, or as floats) is shown whole as well: its line
    # faded to 255/8 = 32 at this level
    for saved in (np.uint8(255), np.uint8(1), np.float32(1.0)):
        as_saved = (img == 255) * saved
        shown = np.asarray(nio.display_levels(as_saved)[3])
        assert shown.dtype == as_saved.dtype
        np.testing.assert_array_equal(shown, line * saved)


def test_display_levels_are_lazy_and_made_as_the_stores_pyramid(monkeypatch, tmp_path):
    """Each level is a Dask graph over the one before (nothing read while opening); an
    OME-Zarr store written by napari-srmat gets the same levels (one rule)."""
    import dask.array as da

    import napari_srmat._napari_io as nio
    from napari_srmat.io import read_image, write_ome_zarr

    monkeypatch.setattr(nio, "DISPLAY_PYRAMID_MIN_SIDE", 64)
    monkeypatch.setattr(nio, "DISPLAY_PYRAMID_TOP_SIDE", 24)
    img = np.random.default_rng(4).integers(0, 256, (90, 75, 3), dtype=np.uint8)
    reads = []

    class Counted:  # an array that counts the reads of its pixels
        shape, dtype, ndim = img.shape, img.dtype, img.ndim

        def __getitem__(self, key):
            reads.append(key)
            return img[key]

    levels = nio.display_levels(da.from_array(Counted(), chunks=(32, 32, 3)))
    assert reads == [] and all(isinstance(lv, da.Array) for lv in levels[1:])
    assert [lv.shape for lv in levels] == [(90, 75, 3), (45, 38, 3), (23, 19, 3)]
    assert levels[2].dtype == np.uint8
    assert levels[1].chunksize[:2] == (32, 32)  # level 0's chunks: no ever smaller tasks
    np.testing.assert_array_equal(np.asarray(levels[2]), _half(_half(img)))
    store = read_image(write_ome_zarr(img, tmp_path / "x.ome.zarr", n_levels=3))
    assert len(store.levels) == len(levels) == 3
    for shown, stored in zip(levels, store.levels):
        np.testing.assert_array_equal(np.asarray(shown), np.asarray(stored))


def test_a_mask_saved_as_0_255_keeps_its_lines_in_a_written_pyramid(tmp_path):
    """The pyramid of an OME-Zarr store holding a 0/255 mask takes each block's max (its
    1-px lines faded to 255/4 per level); an image with a 0 in it keeps the mean."""
    from napari_srmat.io import read_image, write_ome_zarr

    mask = np.zeros((64, 48), np.uint8)
    mask[:, 5] = 255
    mask[17, :] = 255
    levels = read_image(write_ome_zarr(mask, tmp_path / "m.ome.zarr", n_levels=3)).levels
    coarse = np.asarray(levels[2])
    assert coarse.dtype == np.uint8 and set(np.unique(coarse)) == {0, 255}
    np.testing.assert_array_equal(coarse > 0, np.asarray(levels[0]).reshape(
        16, 4, 12, 4).max(axis=(1, 3)) > 0)
    image = mask // 2
    image[0, 0] = 9  # a third value: an image, averaged
    levels = read_image(write_ome_zarr(image, tmp_path / "i.ome.zarr", n_levels=2)).levels
    np.testing.assert_array_equal(np.asarray(levels[1]), _half(image))


def test_a_large_single_level_image_opens_with_display_levels(make_napari_viewer, tmp_path,
                                                               monkeypatch):
    """napari drew a single-level image larger than its texture limit as one downsampled
    texture: zooming in never showed its full resolution. It now opens as a multiscale
    layer of lazy 2x2-mean levels; jobs, measurements and the writer still take level 0."""
    import napari_srmat._napari_io as nio
    from napari_srmat.widgets.layers import micrograph_data

    monkeypatch.setattr(nio, "DISPLAY_PYRAMID_MIN_SIDE", 256)  # a small file in the test
    monkeypatch.setattr(nio, "DISPLAY_PYRAMID_TOP_SIDE", 64)
    img = np.random.default_rng(3).integers(0, 255, (300, 200, 3), dtype=np.uint8)
    path = tmp_path / "mosaic.png"
    PIL.fromarray(img).save(path, dpi=(25400 / 0.5, 25400 / 0.5))
    viewer = make_napari_viewer()
    [layer] = viewer.open(str(path), plugin=PLUGIN)
    assert layer.multiscale and layer.rgb
    assert [tuple(lv.shape) for lv in layer.data] == [(300, 200, 3), (150, 100, 3),
                                                       (75, 50, 3), (38, 25, 3)]
    np.testing.assert_array_equal(np.asarray(layer.data[2]), _half(_half(img)))
    np.testing.assert_array_equal(np.asarray(micrograph_data(layer)), img)
    assert layer_pixel_size_um(layer) == pytest.approx(0.5)
    data, meta, _ = layer.as_layer_data_tuple()
    [written] = npe2.write(str(tmp_path / "copy"), [(data, meta, "image")],
                           plugin_name=PLUGIN)
    from napari_srmat.io import read_image

    back = read_image(written)
    np.testing.assert_array_equal(np.asarray(back.data), img)
    assert back.pixel_size_um == pytest.approx(0.5)
    # at most DISPLAY_PYRAMID_MIN_SIDE: one level, as before
    PIL.fromarray(img[:200]).save(tmp_path / "small.png")
    [small] = viewer.open(str(tmp_path / "small.png"), plugin=PLUGIN)
    assert not small.multiscale


def test_a_large_single_level_file_opens_without_reading_it(make_napari_viewer, qtbot,
                                                            tmp_path, monkeypatch):
    """napari reads the coarsest level of a multiscale layer when it makes the layer, and
    a coarse level for a zoomed-out view; the display levels made them from level 0, so
    opening a 20000² single-level TIFF decoded all of it on the GUI thread (5.9 s frozen,
    +670 MB). The coarse display levels are now computed in a background thread and the
    layer redrawn with them: the open reads a bounded part of the file (failed before:
    all of it)."""
    import threading
    from dataclasses import replace

    import dask
    import dask.array as da

    import napari_srmat._napari_io as nio
    import napari_srmat.io as sio

    # a smaller file in the test; level 1 above napari's first view (2048 px)
    monkeypatch.setattr(nio, "DISPLAY_PYRAMID_MIN_SIDE", 4096)
    monkeypatch.setattr(nio, "DISPLAY_PYRAMID_TOP_SIDE", 600)
    img = np.random.default_rng(5).integers(0, 250, (4400, 4200), dtype=np.uint8)
    path = tmp_path / "mosaic.png"
    PIL.fromarray(img[:8, :8]).save(path)  # its pixels come from ``img`` below
    read = []

    def counted(block):  # the file's pixels, counting those read
        read.append(block.size)
        return block

    real = sio.read_image

    def read_counted(p, **kwargs):
        level0 = da.from_array(img, chunks=(512, 512)).map_blocks(counted, dtype=img.dtype)
        return replace(real(p, **kwargs), data=level0, levels=[level0])

    monkeypatch.setattr(sio, "read_image", read_counted)
    held = threading.Event()  # the background levels wait until the open is over
    compute = dask.compute

    def held_compute(*args, **kwargs):
        if threading.current_thread().name == "napari-srmat display levels":
            held.wait(20)
        return compute(*args, **kwargs)

    monkeypatch.setattr(dask, "compute", held_compute)
    viewer = make_napari_viewer()
    [layer] = viewer.open(str(path), plugin=PLUGIN)
    assert sum(read) < img.size // 4
    assert [tuple(lv.shape) for lv in layer.data] == [(4400, 4200), (2200, 2100),
                                                       (1100, 1050), (550, 525)]
    read.clear()
    held.set()
    coarse = layer.data[2:]
    assert all(lv.done.wait(20) for lv in coarse)
    assert sum(read) == img.size  # once, in the background
    np.testing.assert_array_equal(np.asarray(coarse[0]), _half(_half(img)))
    np.testing.assert_array_equal(np.asarray(coarse[1]), _half(_half(_half(img))))
    # the layer is redrawn with them: its thumbnail is not the blank level's
    qtbot.waitUntil(lambda: layer.thumbnail[..., :3].max() > 0, timeout=10_000)
    from napari_srmat.widgets.layers import micrograph_data

    assert micrograph_data(layer) is layer.data[0]  # jobs: level 0, lazy


def test_layer_names_drop_the_ome_ending():
    """A layer opened from scan.ome.zarr or scan.ome.tif was named "scan.ome"."""
    from napari_srmat._napari_io import _layer_name

    assert [_layer_name(p) for p in ("a/scan.ome.zarr", "scan.ome.tif", "scan.png",
                                     "b/.ome.zarr", "x.OME.TIFF")] == [
        "scan", "scan", "scan", ".ome", "x"]


def _store_with_records(tmp_path, case: str) -> str:
    """A file whose reader records a pixel size in µm (with a µm origin), ``(Y, X)``
    sizes, or a unit-less grid (an SR store of an image without a pixel size)."""
    from napari_srmat.io import write_ome_zarr

    img = np.zeros((40, 30), np.uint8)
    if case == "non-square":
        return str(_non_square_tiff(tmp_path)[0])
    if case == "unit-less grid":
        return str(write_ome_zarr(img, tmp_path / "sr.ome.zarr", unitless_grid={
            "scale": [0.25, 0.25], "origin": [-0.375, -0.375]}))
    return str(write_ome_zarr(img, tmp_path / "scan.ome.zarr", pixel_size_um=0.8,
                              origin_um=(3.0, -2.0)))


def _grid(meta: dict) -> list[float]:
    """A recorded ``unitless_grid`` as ``[scale Y, X, origin Y, X]``."""
    grid = meta["unitless_grid"]
    return [float(v) for v in (*grid["scale"], *grid["origin"])]


@pytest.mark.gui
@pytest.mark.parametrize("case", ["µm", "non-square", "unit-less grid"])
def test_a_read_layers_records_follow_its_scale_set_by_hand(make_napari_viewer, tmp_path,
                                                            case):
    """The reader records a layer's pixel size (``pixel_size_um``, ``pixel_size_yx_um``)
    and place (``origin_um``, ``unitless_grid``) in its metadata; its scale or translate
    set by hand (layer controls, console) left them as read, so the metadata shown said
    0.8 µm/px where the layer showed (and every widget read) 0.5. The displayed scale is
    the truth: with a napari-srmat widget open the records follow it (a scale set before
    the widget opened, at its opening), by the rule of derived layers' records. They are
    written with their metadata event, after the scale event: a listener of the layer's
    calibration is told of them (the widgets' followers act once: CalibrationSeen)."""
    from napari_srmat.widgets.calibration_widget import CalibrationWidget
    from napari_srmat.widgets.layers import follow_calibration

    viewer = make_napari_viewer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the non-square file's note
        [layer] = viewer.open(_store_with_records(tmp_path, case), plugin=PLUGIN)
    units = tuple(layer.units)
    layer.scale = (0.6, 0.6)  # before any widget: recorded when one opens
    CalibrationWidget(viewer)
    meta = layer.metadata
    if case == "unit-less grid":
        assert meta["pixel_size_um"] is None
        assert _grid(meta) == pytest.approx([0.6, 0.6, -0.375, -0.375])
    else:
        assert meta["pixel_size_um"] == pytest.approx(0.6)
        assert "pixel_size_yx_um" not in meta  # square now
    # set by hand with the widget open
    events: list = []
    follow_calibration(layer, events.append, True)
    layer.scale = (0.5, 0.25)
    assert sorted(e.type for e in events) == ["metadata", "scale"]
    layer.translate = (1.0, -1.0)
    meta = layer.metadata
    if case == "unit-less grid":
        assert meta["pixel_size_um"] is None and tuple(layer.units) == units
        assert _grid(meta) == pytest.approx([0.5, 0.25, 1.0, -1.0])
        assert layer_unitless_scale(layer) is None  # a grid, not a pixel-size hint
    else:
        assert meta["pixel_size_um"] == pytest.approx(0.25)
        assert meta["pixel_size_yx_um"] == pytest.approx([0.5, 0.25])
        assert layer_pixel_size_um(layer) is None  # not square: no single size
    if case == "µm":
        assert meta["origin_um"] == pytest.approx((1.0, -1.0))
    layer.scale = (0.5, 0.5)
    assert layer.metadata["pixel_size_um"] == (None if case == "unit-less grid" else 0.5)
    assert "pixel_size_yx_um" not in layer.metadata


@pytest.mark.gui
def test_a_scale_typed_on_a_layer_read_without_a_pixel_size_stays_a_hint(make_napari_viewer,
                                                                        tmp_path):
    """A file without a pixel size reads as a layer recording ``pixel_size_um: None``; a
    scale typed on it without a unit (``layer.scale = (0.5, 0.5)``) may be a pixel size,
    which the widgets hint at. Its records following the scale must not make it a grid
    (``unitless_grid``: an SR store's place, never hinted), which hid the hint."""
    from napari_srmat.widgets.calibration_widget import CalibrationWidget
    from napari_srmat.widgets.layers import pixel_size_hint

    PIL.fromarray(np.zeros((40, 30), np.uint8)).save(tmp_path / "scan.png")
    viewer = make_napari_viewer()
    [layer] = viewer.open(str(tmp_path / "scan.png"), plugin=PLUGIN)
    cal = CalibrationWidget(viewer)
    layer.scale = (0.5, 0.5)
    layer.translate = (2.0, 3.0)
    assert "unitless_grid" not in layer.metadata and layer.metadata["pixel_size_um"] is None
    assert layer_unitless_scale(layer) == 0.5
    assert "its scale 0.5 has no length unit" in pixel_size_hint(layer)
    assert "its scale 0.5 has no length unit" in cal.current.text()


@pytest.mark.gui
def test_records_are_kept_once_however_many_widgets_open_and_hold_no_layer(
        make_napari_viewer, tmp_path, monkeypatch):
    """Each napari-srmat widget calls keep_own_records: with three open, a layer's scale
    set (one there before them, one added after) is recorded once, not once per widget;
    and its handlers hold no layer: a read layer deleted is freed at once."""
    import gc
    import weakref

    import napari_srmat.widgets.layers as layers_mod
    from napari_srmat.widgets.audit_widget import AuditWidget
    from napari_srmat.widgets.calibration_widget import CalibrationWidget

    viewer = make_napari_viewer()
    path = _store_with_records(tmp_path, "µm")
    [before] = viewer.open(path, plugin=PLUGIN)
    CalibrationWidget(viewer)
    CalibrationWidget(viewer)
    AuditWidget(viewer)
    [after] = viewer.open(path, plugin=PLUGIN)
    recorded: list = []
    own = layers_mod.own_records
    monkeypatch.setattr(layers_mod, "own_records",
                        lambda lay: recorded.append(lay) or own(lay))
    for layer in (before, after):
        layer.scale = (0.5, 0.5)
        assert layer.metadata["pixel_size_um"] == pytest.approx(0.5)
    assert recorded == [before, after], recorded
    recorded.clear()
    gone = weakref.ref(after)
    viewer.layers.remove(after)
    del after, layer
    gc.collect()
    assert gone() is None


@pytest.mark.gui
def test_closed_widgets_are_freed_and_records_follow_after_all_closed(make_napari_viewer,
                                                                      tmp_path):
    """A layer's records follow its scale from the first widget opened on, for the
    viewer's life, every widget closed too: they are the layer's, as its scale is. But a
    closed widget must not be held by what it connected: the Audit widget connected a
    lambda to the viewer's layer insertions, which napari holds strongly, so a closed
    Audit widget lived (and re-listed layers at each one added) for the viewer's life;
    the grain-size widget too (its Report panel held it, its Specimen panel connected a
    lambda). Each closed widget of the manifest is freed now
    (tests/test_widget_lifetime.py: their panels, their jobs), and a scale set after all
    are closed, after the viewer is closed too, raises nothing and is recorded."""
    import gc
    import weakref

    from napari_srmat.widgets.workbench import WORKBENCH_TABS, WorkbenchWidget

    viewer = make_napari_viewer()
    path = _store_with_records(tmp_path, "µm")
    [layer] = viewer.open(path, plugin=PLUGIN)
    closed = {}
    for kind in (WorkbenchWidget, *(cls for _title, _attr, cls in WORKBENCH_TABS)):
        widget = kind(viewer)
        closed[kind.__name__] = weakref.ref(widget)
        widget.close()
        del widget
    [added] = viewer.open(path, plugin=PLUGIN)  # a layer added after they closed
    gc.collect()
    assert [name for name, ref in closed.items() if ref() is not None] == []
    for lay in (layer, added):
        lay.scale = (0.5, 0.5)
        assert lay.metadata["pixel_size_um"] == pytest.approx(0.5)
    viewer.close()
    layer.scale = (0.25, 0.25)
    assert layer.metadata["pixel_size_um"] == pytest.approx(0.25)


@pytest.mark.gui
def test_records_follow_on_a_layer_holding_an_array_in_its_metadata(make_napari_viewer):
    """A script's layer recording a pixel size beside an array (a profile, a lookup
    table) in its metadata: comparing its records asked the array for one truth value,
    and its scale set raised (ValueError) once a widget had opened."""
    from napari_srmat.widgets.calibration_widget import CalibrationWidget

    viewer = make_napari_viewer()
    profile = np.arange(5.0)
    layer = viewer.add_image(np.zeros((40, 30), np.uint8), scale=(0.8, 0.8),
                             units=("micrometer", "micrometer"),
                             metadata={"pixel_size_um": 0.8, "profile": profile})
    CalibrationWidget(viewer)
    layer.scale = (0.5, 0.5)
    assert layer.metadata["pixel_size_um"] == pytest.approx(0.5)
    assert layer.metadata["profile"] is profile


@pytest.mark.gui
def test_the_new_records_are_told_to_listeners_of_either_order(make_napari_viewer, tmp_path):
    """A read layer's records are written at its scale set once a widget is open, but
    were written with the metadata event blocked: a listener of the layer's calibration
    (follow_calibration, or a metadata listener: another plugin, a script) was never told
    of the new records. Then they were written after the scale event's listeners
    connected before the widget opened (napari calls a layer's listeners in the order
    they were connected): a script's or notebook's ``layer.events.scale`` callback read
    the file's 0.8 µm/px and origin while the layer showed 0.5. The records are written
    first now, however early a listener was connected: each reads 0.5 at every event
    (the metadata event, during the scale event, first)."""
    from napari_srmat.widgets.calibration_widget import CalibrationWidget
    from napari_srmat.widgets.layers import follow_calibration

    viewer = make_napari_viewer()
    [layer] = viewer.open(_store_with_records(tmp_path, "µm"), plugin=PLUGIN)
    seen: dict[str, list] = {"before": [], "after": [], "metadata": [], "script": []}

    def listener(key):
        return lambda event: seen[key].append((event.type, layer.metadata["pixel_size_um"]))

    layer.events.scale.connect(listener("script"))  # a notebook's, before any widget
    layer.events.translate.connect(
        lambda event: seen["script"].append((event.type, layer.metadata["origin_um"])))
    follow_calibration(layer, listener("before"), True)
    CalibrationWidget(viewer)
    follow_calibration(layer, listener("after"), True)
    layer.events.metadata.connect(listener("metadata"))
    layer.scale = (0.5, 0.5)
    layer.translate = (1.0, -1.0)
    new = pytest.approx(0.5)
    assert seen["script"] == [("scale", new), ("translate", pytest.approx((1.0, -1.0)))], seen
    for key in ("before", "after"):
        # the translate's metadata event: the origin recorded anew
        assert seen[key] == [("metadata", new), ("scale", new), ("metadata", new)], (
            key, seen)
    assert seen["metadata"] == [("metadata", new)] * 2, seen


@pytest.mark.gui
def test_a_derived_layers_scale_listener_reads_its_new_records(make_napari_viewer):
    """A layer kept on the layer it was made from (an SR result, a boundary map:
    keep_on_layer) records its pixel size anew when its source's scale is set, but its
    keeper wrote the records after moving it: a listener of the derived layer's own
    ``scale`` read its old records (0.2 µm/px at the x4 SR layer of an LR set to 0.4).
    They are written at the derived layer's scale event, before its listeners."""
    from napari_srmat.widgets.layers import keep_on_layer

    viewer = make_napari_viewer()
    um = ("micrometer", "micrometer")
    lr = viewer.add_image(np.zeros((10, 10), np.uint8), scale=(0.8, 0.8), units=um)
    sr = viewer.add_image(np.zeros((40, 40), np.uint8), metadata={"pixel_size_um": 0.2})
    keep_on_layer(viewer, sr, lr, 4.0)
    seen: list = []
    sr.events.scale.connect(lambda event: seen.append(
        (tuple(sr.scale), sr.metadata["pixel_size_um"])))
    lr.scale = (0.4, 0.4)
    assert seen == [(pytest.approx((0.1, 0.1)), pytest.approx(0.1))], seen
