"""What a stopped or interrupted stored tiled run keeps: its stop line says what a rerun
reuses (whole output chunks), in the numbers the rerun then resumes with."""

from __future__ import annotations

import numpy as np
import pytest

from napari_srmat.jobs import Progress, Stopped, StopToken, run_job
from napari_srmat.tiling import tiled_apply_job
from napari_srmat.tiling._engine import kept_at_interrupt


def _image(side):
    return (np.arange(side * side) % 251).astype(np.uint8).reshape(side, side)


def _run(image, out, *, stop_at=None, ctrl_c_at=None, tile=512, calls=None):
    """A stored run (the boundary prediction's tiling: 512/32) stopped once ``stop_at``
    tiles are done, or interrupted (KeyboardInterrupt) in the call after ``ctrl_c_at``
    tiles; its events. ``calls``: a one-item list counting the tiles the model computed."""
    token, events = StopToken(), []
    calls = [0] if calls is None else calls

    def fn(batch):
        if ctrl_c_at is not None and calls[0] >= ctrl_c_at:
            raise KeyboardInterrupt
        calls[0] += len(batch)
        return batch

    def seen(event):
        events.append(event)
        if stop_at is not None and isinstance(event, Progress) and event.done >= stop_at:
            token.request_stop()

    run_job(
        tiled_apply_job(image, fn, tile=tile, overlap=32, batch_size=1, out=out, stop=token),
        quiet=True,
        on_event=seen,
    )
    return events


def _resumed(events):
    return max(e.resumed for e in events if isinstance(e, Progress))


def test_a_stop_at_half_tells_the_chunks_a_rerun_resumes(tmp_path):
    """2048² at 512/32 tiles (the effective tile 472): 25 tiles, 4 output chunks of
    1224 px, the first owning 9 tiles.
    Stopped at 12 tiles: chunk (0, 0) kept. Was "stopped after 12 of 25 tiles; partial
    output kept in ...", then (451ed72b) "... a rerun resumes after their 9 tiles and
    computes the 3 other tiles done again", which promised 16 model calls: the rerun
    makes 23, the kept chunk's edge tiles computed again for the chunks next to it
    (R5 s50). The line says only what is certain."""
    out = tmp_path / "p.ome.zarr"
    events = _run(_image(2048), out, stop_at=12)
    [stopped] = [e.message for e in events if isinstance(e, Stopped)]
    assert stopped == (
        f"stopped after 12 of 25 tiles; 1 of 4 output chunks (1224x1224 px) "
        f"kept in {out}.partial: a rerun computes the rest"
    )
    calls = [0]
    assert _resumed(_run(_image(2048), out, calls=calls)) == 9  # the progress's count
    assert calls[0] == 23  # 25 tiles less the 2 only the kept chunk needed
    assert out.is_dir()


def test_a_stop_within_one_chunk_says_nothing_is_kept(tmp_path):
    """1024² at 256/32 tiles: 36 tiles, one chunk. Was "partial output kept" (explorers
    s49 F7 / s50 F3: the rerun recomputed every tile)."""
    out = tmp_path / "one.ome.zarr"
    events = _run(_image(1024), out, stop_at=12, tile=256)
    [stopped] = [e.message for e in events if isinstance(e, Stopped)]
    assert stopped.startswith(
        "stopped after 12 of 36 tiles; nothing kept: none of the 1 "
        "output chunk (1176x1176 px) was finished, so a rerun computes "
        "every tile again"
    )
    assert _resumed(_run(_image(1024), out, tile=256)) == 0


def test_a_ctrl_c_records_what_it_kept(tmp_path):
    """A KeyboardInterrupt in a tile (Ctrl-C) carries the line (without its first word)
    for a command's 'interrupted' line (kept_at_interrupt); before, nothing said what
    was kept. An interrupt outside a tiled run carries none."""
    out = tmp_path / "c.ome.zarr"
    with pytest.raises(KeyboardInterrupt) as caught:
        _run(_image(2048), out, ctrl_c_at=10)
    assert kept_at_interrupt(caught.value) == (
        f"after 10 of 25 tiles; 1 of 4 output chunks (1224x1224 px) kept in "
        f"{out}.partial: a rerun computes the rest"
    )
    assert not hasattr(caught.value, "__notes__")  # the command's line tells it
    assert _resumed(_run(_image(2048), out)) == 9


def test_an_in_memory_stop_keeps_its_line(tmp_path):
    """Without a store nothing is kept, and nothing is said of a partial (guard)."""
    token = StopToken()
    token.request_stop()
    events = []
    run_job(
        tiled_apply_job(_image(1024), lambda b: b, tile=256, overlap=32, stop=token),
        quiet=True,
        on_event=events.append,
    )
    assert [e.message for e in events if isinstance(e, Stopped)] == ["stopped after 0 of 36 tiles"]


def _ctrl_c_at_progress(gen, at):
    """``gen``'s events, a KeyboardInterrupt (a Ctrl-C) thrown in at the first progress
    of ``at`` tiles or more."""
    send = lambda: next(gen)  # noqa: E731
    while True:
        try:
            event = send()
        except StopIteration as end:
            return end.value
        yield event
        if isinstance(event, Progress) and event.done >= at:
            send = lambda: gen.throw(KeyboardInterrupt())  # noqa: E731


def test_a_ctrl_c_at_a_chunk_s_last_progress_keeps_the_chunk(tmp_path):
    """2048² at 512/32: chunk (0, 0) owns 9 tiles. A Ctrl-C at the progress that counts
    its 9th tile lost the chunk (written only after that event: 'nothing kept', the
    rerun resumed 0); the chunk is now written before its last tiles are told."""
    out = tmp_path / "l.ome.zarr"
    with pytest.raises(KeyboardInterrupt) as caught:
        run_job(
            _ctrl_c_at_progress(
                tiled_apply_job(
                    _image(2048), lambda b: b, tile=512, overlap=32, batch_size=1, out=out
                ),
                9,
            ),
            quiet=True,
        )
    assert kept_at_interrupt(caught.value) == (
        f"after 9 of 25 tiles; 1 of 4 output chunks (1224x1224 px) kept in "
        f"{out}.partial: a rerun computes the rest"
    )
    assert _resumed(_run(_image(2048), out)) == 9
