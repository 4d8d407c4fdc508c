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
