"""The background display-level pass (``_napari_io.levels_in_background``) shares no
dask callback with napari's GUI thread, and stops when no layer shows its levels
(s51 X2 findings 1 and 2)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("napari")

from test_napari_io_background import PASS  # noqa: E402


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
