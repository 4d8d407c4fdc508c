"""The background display levels of a large single-level file in napari
(``_napari_io.levels_in_background``): contrast, split channels, a damaged tile."""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("napari")
tifffile = pytest.importorskip("tifffile")

PLUGIN = "napari-srmat"
PASS = "napari-srmat display levels"  # the background pass's thread


@pytest.fixture
def held_pass(monkeypatch):
    """Files above 4096 px get display levels (from the third on, and napari's first
    view, from the background pass), and the pass waits until the test calls the
    returned function (after the open, as a large file's would), which then waits for
    the passes to end."""
    import dask

    import napari_srmat._napari_io as nio

    monkeypatch.setattr(nio, "DISPLAY_PYRAMID_MIN_SIDE", 4096)
    monkeypatch.setattr(nio, "DISPLAY_PYRAMID_TOP_SIDE", 600)
    held = threading.Event()
    compute = dask.compute

    def held_compute(*args, **kwargs):
        if threading.current_thread().name == PASS:
            held.wait(20)
        return compute(*args, **kwargs)

    monkeypatch.setattr(dask, "compute", held_compute)

    def release() -> None:
        held.set()
        for thread in threading.enumerate():
            if thread.name == PASS:
                thread.join(20)

    return release


def _image(dtype, shape=(4200, 4160)) -> np.ndarray:
    """Values 2600-50400 (uint16) or 10.1-13.4 (float): 4200x4160 for display levels
    of which napari's first view is a background one (above 4096 px, level 1 above
    2048 px), a smooth image with a little noise (quick to write)."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    base = (np.sin(yy / 300) + np.cos(xx / 200)) * 55 + 120 + rng.integers(0, 3, shape)
    if np.dtype(dtype) == np.uint16:
        return (base * 200 + 2600).astype(np.uint16)
    return (base / 72 + 10.1).astype(np.float32)


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_the_coarse_levels_contrast_limits_are_the_pixels(
    make_napari_viewer, qtbot, tmp_path, held_pass, dtype
):
    """A uint16 or float image stayed at contrast limits (0, 1), all white, after the
    background pass: the limits were reset from the still blank view (failed before)."""
    img = _image(dtype)
    tifffile.imwrite(tmp_path / "big.tif", img, tile=(64, 64), compression="zlib")
    viewer = make_napari_viewer()
    [layer] = viewer.open(str(tmp_path / "big.tif"), plugin=PLUGIN)
    assert layer.multiscale
    held_pass()
    lo, hi = float(img.min()), float(img.max())
    qtbot.waitUntil(lambda: layer.contrast_limits[1] > lo, timeout=10_000)
    assert lo <= layer.contrast_limits[0] < layer.contrast_limits[1] <= hi
    if img.dtype.kind == "f":  # an integer's range is its dtype's (napari's rule)
        assert lo <= layer.contrast_limits_range[0] < layer.contrast_limits_range[1] <= hi


def test_split_channels_show_their_coarse_levels(make_napari_viewer, tmp_path, held_pass):
    """napari slices each level of a file with non-RGB channels when it opens it (one
    layer per channel): the background levels' blank slices stayed blank zoomed out
    forever (failed before). Split channels kept lazy levels (62ec4769); since s51 each
    channel layer shows a channel view of the background levels."""
    import dask.array as da

    from napari_srmat._napari_io import display_levels

    grey = _image(np.uint16, (4200, 600))
    img = np.stack([grey, 60000 - grey], -1)
    tifffile.imwrite(
        tmp_path / "two.tif",
        img,
        tile=(64, 64),
        compression="zlib",
        photometric="minisblack",
        planarconfig="contig",
    )
    viewer = make_napari_viewer()
    layers = viewer.open(str(tmp_path / "two.tif"), plugin=PLUGIN)
    held_pass()
    expected = np.asarray(display_levels(da.from_array(img))[-1])
    assert len(layers) == 2
    for channel, layer in enumerate(layers):
        assert layer.multiscale
        np.testing.assert_array_equal(np.asarray(layer.data[-1]), expected[..., channel])


def _damage_a_tile(path, tile: int = 40) -> None:
    """Overwrite the compressed bytes of tile ``tile`` of the TIFF ``path`` (its first
    page) with 0xFF: a tile that fails to decode."""
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        offset, count = page.dataoffsets[tile], page.databytecounts[tile]
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(b"\xff" * count)


def test_a_damaged_tile_is_told(make_napari_viewer, qtbot, tmp_path, held_pass):
    """A damaged tile of a large single-level file: the open refused it in one line
    before the background levels; then the file opened, its coarse levels blank, and
    nothing was told (failed before). The pass's error is now told as a warning
    notification and kept in the layer's ``metadata["read_warnings"]``."""
    from napari.utils.notifications import notification_manager

    path = tmp_path / "damaged.tif"
    tifffile.imwrite(path, _image(np.uint16), tile=(64, 64), compression="zlib")
    _damage_a_tile(path)
    told = []
    notification_manager.notification_ready.connect(lambda n: told.append(str(n.message)))
    viewer = make_napari_viewer()
    [layer] = viewer.open(str(path), plugin=PLUGIN)
    held_pass()
    qtbot.waitUntil(lambda: bool(layer.metadata.get("read_warnings")), timeout=10_000)
    [note] = layer.metadata["read_warnings"]
    assert note.startswith(f"{path}: ") and "corrupt" in note and "\n" not in note
    assert note in told


def test_split_channels_open_without_reading_level_0(make_napari_viewer, qtbot, tmp_path,
                                                     held_pass, monkeypatch):
    """A large file whose channels napari splits into layers (2 channels, not RGB) kept
    lazy display levels: napari's first look at each channel layer's coarsest level
    decoded all of level 0 on the GUI thread (a 9000² 2-channel uint16 TIFF: all 81 M px
    read during the open, 7x level 0 by the time it was drawn zoomed out). Each channel
    layer now shows a channel of the background levels: the open reads under a quarter
    of level 0 (failed before: all of it), the pass reads it once, and each layer gets
    its channel's levels and contrast limits from its pixels."""
    from dataclasses import replace

    import dask.array as da

    import napari_srmat.io as sio
    from napari_srmat._napari_io import display_levels

    grey = _image(np.uint16, (4400, 600))
    img = np.stack([grey, 60000 - grey], -1)
    path = tmp_path / "two.tif"
    tifffile.imwrite(path, img[:8, :8], photometric="minisblack", planarconfig="contig")
    read = []

    def counted(block):  # the file's pixels, counting those read
        read.append(block.size // block.shape[-1])
        return block

    real = sio.read_image

    def read_counted(p, **kwargs):
        level0 = da.from_array(img, chunks=(512, 512, 2)).map_blocks(counted, dtype=img.dtype)
        return replace(real(p, **kwargs), data=level0, levels=[level0])

    monkeypatch.setattr(sio, "read_image", read_counted)
    viewer = make_napari_viewer()
    layers = viewer.open(str(path), plugin=PLUGIN)
    assert [layer.name for layer in layers] == ["two [channel 0]", "two [channel 1]"]
    assert sum(read) < grey.size // 4
    read.clear()
    held_pass()
    assert sum(read) == grey.size  # once, in the background
    expected = [np.asarray(lv) for lv in display_levels(da.from_array(img))[2:]]
    for channel, layer in enumerate(layers):
        assert layer.multiscale and len(layer.data) == 2 + len(expected)
        for level, pixels in zip(layer.data[2:], expected):
            np.testing.assert_array_equal(np.asarray(level), pixels[..., channel])
        lo, hi = float(img[..., channel].min()), float(img[..., channel].max())
        qtbot.waitUntil(lambda layer=layer, lo=lo: layer.contrast_limits[1] > lo,
                        timeout=10_000)
        assert lo <= layer.contrast_limits[0] < layer.contrast_limits[1] <= hi


def test_a_damaged_tile_of_split_channels_is_told_on_each_layer(make_napari_viewer, qtbot,
                                                                tmp_path, held_pass):
    """A damaged tile of a large 2-channel file: with lazy display levels napari read it
    on the GUI thread while making the layers (failed before: the open raised). Now the
    layers open, and the pass's error is told and kept in each channel layer's
    ``metadata["read_warnings"]``."""
    grey = _image(np.uint16, (4200, 600))
    path = tmp_path / "damaged_two.tif"
    tifffile.imwrite(path, np.stack([grey, 60000 - grey], -1), tile=(64, 64),
                     compression="zlib", photometric="minisblack", planarconfig="contig")
    _damage_a_tile(path)
    viewer = make_napari_viewer()
    layers = viewer.open(str(path), plugin=PLUGIN)
    assert len(layers) == 2
    held_pass()
    for layer in layers:
        qtbot.waitUntil(lambda layer=layer: bool(layer.metadata.get("read_warnings")),
                        timeout=10_000)
        assert any("corrupt" in note and note.startswith(f"{path}: ")
                   for note in layer.metadata["read_warnings"])
