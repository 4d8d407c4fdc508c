"""The background display-level pass (``_napari_io.levels_in_background``) shares no
dask callback with napari's GUI thread, and stops when no layer shows its levels
(s51 X2 findings 1 and 2)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("napari")
tifffile = pytest.importorskip("tifffile")

from test_napari_io_background import PASS, PLUGIN, _image, held_pass  # noqa: E402, F401


def test_the_pass_runs_no_global_dask_callback():
    """napari registers a global ``dask.cache.Cache`` (not thread-safe); the pass ran
    it in its thread while the GUI thread read chunks with it (``KeyError`` from the
    cache's ``_posttask``: coarse levels blank), and swapped the global callback set
    for an empty one while it ran (``dask.callbacks.local_callbacks``). Now the pass
    runs no global callback and leaves the global set as it is (failed before)."""
    import dask.array as da
    from dask.callbacks import Callback

    from napari_srmat._napari_io import levels_in_background

    ran_in, active_in_pass = [], []

    class Recorder(Callback):
        def _pretask(self, key, dsk, state):
            ran_in.append(threading.current_thread().name)

    def block(b):
        if threading.current_thread().name == PASS:
            active_in_pass.append(set(Callback.active))
        return b

    level0 = da.ones((64, 64), chunks=16, dtype=np.uint8).map_blocks(block)
    with Recorder() as recorder:
        levels = levels_in_background([level0, level0[::2, ::2], level0[::4, ::4]])
        assert levels[-1].done.wait(20)
    assert levels[-1].pixels is not None and int(levels[-1].pixels.sum()) == 16 * 16
    assert PASS not in ran_in
    assert active_in_pass and all(recorder._callback in s for s in active_in_pass)


def _open_held(viewer, tmp_path, **imwrite) -> list:
    """The layers of a 4200x4160 uint16 file (its background pass held, ``held_pass``)
    opened in ``viewer``; 2 channels (split into 2 layers) with ``channels=True``."""
    img = _image(np.uint16)
    if imwrite.pop("channels", False):
        img = np.stack([img, 60000 - img], -1)
        imwrite.update(photometric="minisblack", planarconfig="contig")
    tifffile.imwrite(tmp_path / "big.tif", img, tile=(64, 64), **imwrite)
    return viewer.open(str(tmp_path / "big.tif"), plugin=PLUGIN)


def test_removing_the_layer_stops_the_pass(make_napari_viewer, tmp_path, held_pass):  # noqa: F811
    """A removed layer's pass went on computing its levels (a reopened 20000² mosaic:
    peak +1,656 MB vs +447 MB for one open); it now stops before its next task, its
    levels blank (failed before: computed)."""
    viewer = make_napari_viewer()
    [layer] = _open_held(viewer, tmp_path)
    coarsest = layer.data[-1]
    viewer.layers.remove(layer)
    held_pass()  # waits for the pass's thread to end
    assert coarsest.pixels is None
    assert coarsest.stop.is_set() and coarsest.done.is_set()
    assert PASS not in {thread.name for thread in threading.enumerate()}


def test_closing_the_viewer_stops_the_pass(make_napari_viewer, tmp_path, held_pass):  # noqa: F811
    """Closing the viewer (its layers removed) stops the pass (failed before)."""
    viewer = make_napari_viewer()
    [layer] = _open_held(viewer, tmp_path)
    coarsest = layer.data[-1]
    viewer.close()
    held_pass()
    assert coarsest.pixels is None and coarsest.stop.is_set()


def test_the_pass_goes_on_while_a_channel_layer_shows_it(make_napari_viewer, tmp_path,
                                                         held_pass):  # noqa: F811
    """Removing one of a 2-channel file's two layers keeps the pass that the other
    shows: its levels are computed. guard: passed before (no pass was stopped)."""
    viewer = make_napari_viewer()
    first, second = _open_held(viewer, tmp_path, channels=True)
    viewer.layers.remove(first)
    held_pass()
    assert second.data[-1].pixels is not None and second.data[-1].pixels.any()
