"""A stored tiled run on a cluster (``scheduler=``) stopped or interrupted tells what a
rerun reuses in the local engine's words (``tiling._engine.stopped_line``): until
session 50 its stop said "stopped after 0 of 36 tiles; partial output kept" with no
chunk finished, and its Ctrl-C recorded nothing for the command's line."""

from __future__ import annotations

import re

import numpy as np
import pytest

pytest.importorskip("distributed")

from test_tiling_stop_kept import _ctrl_c_at_progress  # noqa: E402

from napari_srmat.jobs import Stopped, StopToken, run_job  # noqa: E402
from napari_srmat.tiling import _distributed, tiled_apply_job  # noqa: E402
from napari_srmat.tiling._engine import kept_at_interrupt  # noqa: E402


@pytest.fixture(scope="module")
def client():  # one worker process, as ``--scheduler local:1`` starts
    with _distributed.dask_client("local:1") as c:
        yield c


def _image(side):
    return (np.arange(side * side) % 251).astype(np.uint8).reshape(side, side)


@pytest.mark.slow
def test_a_stop_before_any_chunk_says_nothing_is_kept(client, tmp_path):
    """1024² at 256/32 tiles: 36 tiles, one output chunk, stopped before it is written."""
    out = tmp_path / "one.ome.zarr"
    token, events = StopToken(), []
    token.request_stop()
    run_job(
        tiled_apply_job(
            _image(1024),
            np.positive,
            tile=256,
            overlap=32,
            batch_size=1,
            out=out,
            stop=token,
            scheduler=client,
        ),
        quiet=True,
        on_event=events.append,
    )
    assert [e.message for e in events if isinstance(e, Stopped)] == [
        "stopped after 0 of 36 tiles; nothing kept: none of the 1 output chunk (1176x1176 "
        f"px) was finished, so a rerun computes every tile again ({out}.partial holds no "
        "finished chunk)"
    ]


@pytest.mark.slow
def test_a_ctrl_c_records_the_chunks_kept(client, tmp_path):
    """2048² at 512/32 tiles: 4 output chunks. The interrupt carries the line the
    command's 'interrupted' line tells (kept_at_interrupt), counting the chunks the
    partial holds once the cluster's tasks returned."""
    out = tmp_path / "c.ome.zarr"
    with pytest.raises(KeyboardInterrupt) as caught:
        run_job(
            _ctrl_c_at_progress(
                tiled_apply_job(
                    _image(2048),
                    np.positive,
                    tile=512,
                    overlap=32,
                    batch_size=1,
                    out=out,
                    scheduler=client,
                ),
                1,  # the first chunk written
            ),
            quiet=True,
        )
    kept = kept_at_interrupt(caught.value)
    assert kept is not None
    said = re.fullmatch(
        r"after \d+ of 25 tiles; (\d) of 4 output chunks \(1224x1224 px\) "
        rf"kept in {re.escape(str(out))}\.partial: a rerun computes the rest",
        kept,
    )
    assert said, kept
    written = len(list((tmp_path / "c.ome.zarr.partial" / ".srmat_done").iterdir()))
    assert int(said.group(1)) == written >= 1


#: What the blocking interpolation of the in-process cluster's test shares with the test
#: (module globals: a task's function travels by reference).
_GATE: dict = {}


def _slow_first_chunk(window, out_dtype):
    """An interpolation (``chunk_fn``) whose first call asks the run to stop and ends
    only once the run tells the cluster's tasks to stop: a task past its last look at
    the stop, which writes its chunk after the stop."""
    if not _GATE["calls"]:
        _GATE["calls"].append(1)
        _GATE["token"].request_stop()
        assert _GATE["released"].wait(60)
    return np.array(window, dtype=out_dtype)


@pytest.mark.slow
def test_a_stop_counts_the_chunks_its_running_tasks_wrote(tmp_path, monkeypatch):
    """96² at 32/4 tiles, 24 px chunks (16 chunks of 1 tile), one worker thread in this
    process (processes=False). The first chunk's task is running when the stop comes
    and writes its chunk once the run has told the tasks to stop. The Stopped line was
    built before the run waited for its running tasks: "nothing kept" while OUT.partial
    held the chunk and a rerun resumed it (s51 E1); now it counts what OUT.partial holds
    once they returned, and the rerun resumes as many."""
    import threading

    import distributed

    from napari_srmat.jobs import Progress

    token, released = StopToken(), threading.Event()
    _GATE.update(calls=[], token=token, released=released)
    set_stop = _distributed._set_stop

    def releasing(event):  # the run tells its tasks to stop: the running one ends
        released.set()
        set_stop(event)

    monkeypatch.setattr(_distributed, "_set_stop", releasing)
    out = tmp_path / "s.ome.zarr"
    job = dict(tile=32, overlap=4, chunk_size=24, out=out, chunk_fn=_slow_first_chunk)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        events = []
        assert run_job(tiled_apply_job(_image(96), np.positive, stop=token, scheduler=client,
                                       **job), quiet=True, on_event=events.append) is None
    written = len(list((tmp_path / "s.ome.zarr.partial" / ".srmat_done").iterdir()))
    assert written >= 1  # the running task's chunk
    [stopped] = [e.message for e in events if isinstance(e, Stopped)]
    said = re.fullmatch(
        r"stopped after (\d+) of 16 tiles; (\d+) of 16 output chunks \(24x24 px\) "
        rf"kept in {re.escape(str(out))}\.partial: a rerun computes the rest",
        stopped,
    )
    assert said, stopped
    assert int(said.group(1)) == int(said.group(2)) == written
    rerun = []
    _GATE["calls"].append(1)  # the rerun's calls do not wait
    run_job(tiled_apply_job(_image(96), np.positive, **job), quiet=True,
            on_event=rerun.append)
    assert max(e.resumed for e in rerun if isinstance(e, Progress)) == written
