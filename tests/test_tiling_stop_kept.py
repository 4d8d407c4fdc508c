"""What a stopped or interrupted stored tiled run keeps: its stop line says what a rerun
reuses (whole output chunks), in the numbers the rerun then resumes with."""

from __future__ import annotations

import numpy as np
import pytest

from napari_srmat.jobs import Log, Progress, Stopped, StopToken, run_job
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


def _oom_first(computed):
    """A ``fn`` whose first call runs out of memory (the runner retries at half the batch
    and warns), recording the tiles it computed in ``computed``."""
    ooms = []

    def fn(batch, tile_ids=None):
        if not ooms:
            ooms.append(1)
            raise MemoryError("out of memory")
        computed.update(tuple(t[:2]) for t in tile_ids)
        return batch

    return fn


def _oom_job(out, whole, computed):
    """A stored run of a 72² image (32/4 tiles, 9 tiles; 48 px chunks: 4 chunks owning
    4, 2, 2 and 1 tiles, the first one batch of 4), or with ``whole`` a 24² image in one
    ``fn`` call, whose first call runs out of memory (a warning event)."""
    return tiled_apply_job(_image(24 if whole else 72), _oom_first(computed), tile=32,
                           overlap=4, batch_size=4, chunk_size=48, out=out,
                           whole_image=whole)


def _interrupted_at(index, how, out, *, whole=False):
    """:func:`_oom_job` interrupted at its event ``index``: ``how`` "close" (a notebook's
    ``close()``) or "ctrl_c" (a KeyboardInterrupt thrown in). Returns ``(events, tiles
    computed, interrupt)``."""
    computed = set()
    gen = _oom_job(out, whole, computed)
    events, caught = [], None
    for _ in range(index + 1):
        events.append(next(gen))
    if how == "close":
        gen.close()
    else:
        with pytest.raises(KeyboardInterrupt) as info:
            gen.throw(KeyboardInterrupt())
        caught = info.value
    return events, computed, caught


def _chunks_finished(computed, whole):
    """The chunks whose owned tiles were all computed (72² at 32/4, 48 px chunks)."""
    if whole:
        return {(0, 0)} if computed else set()
    owner = {0: 0, 1: 0, 2: 1}  # tile row/column -> chunk row/column (stride 24, chunk 48)
    return {(a, b) for a in (0, 1) for b in (0, 1)
            if all((j, i) in computed for j in range(3) for i in range(3)
                   if (owner[j], owner[i]) == (a, b))}


def _written(out):
    done = out.parent / f"{out.name}.partial" / ".srmat_done"
    return {tuple(int(v) for v in p.name.split("_")) for p in done.iterdir()} \
        if done.is_dir() else set()


@pytest.mark.parametrize("whole", [False, True], ids=["tiles", "whole_image"])
def test_an_interrupt_at_any_event_keeps_every_chunk_computed_and_says_so(tmp_path, whole):
    """At every event of a stored run (progress, the "about ... left" line, the
    out-of-memory warning, the "building pyramid" line), a close() or a Ctrl-C leaves
    OUT.partial holding every chunk whose tiles were all computed; the Ctrl-C's line
    (kept_at_interrupt) counts those chunks, the close keeps as many, and the rerun
    resumes them and ends equal to an uninterrupted run. Was (s51 E1): the "about ...
    left" line and the warning came before a chunk finished in that batch was written,
    so an interrupt there lost it (computed, never written: the line said "nothing
    kept", the rerun computed it again); the whole-image run's warning likewise came
    before its chunks were written. Was (s51 F2, after 74f2512a): a Ctrl-C at the
    "building pyramid" line recorded no line (the command said "a partial output, if
    any, is kept" with every chunk in OUT.partial); it now says they all are and that
    a rerun only builds the pyramid."""
    from napari_srmat.io import read_image

    reference = np.asarray(read_image(run_job(tiled_apply_job(
        _image(24 if whole else 72), lambda b: b, tile=32, overlap=4, chunk_size=48,
        out=tmp_path / "ref.ome.zarr", whole_image=whole), quiet=True)).data)
    every = []  # the events of the run not interrupted: every index is tried
    run_job(_oom_job(tmp_path / "all.ome.zarr", whole, set()), quiet=True,
            on_event=every.append)
    assert every[-1] == Log(f"building pyramid of {tmp_path / 'all.ome.zarr'}")
    for index in range(len(every)):
        kept = {}
        for how in ("ctrl_c", "close"):
            out = tmp_path / f"{how}{index}.ome.zarr"
            events, computed, caught = _interrupted_at(index, how, out, whole=whole)
            written = _written(out)
            assert written == _chunks_finished(computed, whole), (how, events)
            kept[how] = len(written)
            if caught is not None and index == 0:  # before the tiles: the command's line
                assert kept_at_interrupt(caught) is None
                assert not written
            elif caught is not None:
                line = kept_at_interrupt(caught)
                n = 4 ** (not whole)
                rest = "only builds the pyramid" if len(written) == n else "computes the rest"
                assert line is not None, events
                assert line.endswith(
                    f"; {len(written)} of {n} output chunk{'s' * (n > 1)} "
                    "(48x48 px) kept in "
                    f"{out}.partial: a rerun {rest}"
                    if written else f"({out}.partial holds no finished chunk)"), line
            rerun = []
            path = run_job(tiled_apply_job(
                _image(24 if whole else 72), lambda b: b, tile=32, overlap=4, chunk_size=48,
                out=out, whole_image=whole), quiet=True, on_event=rerun.append)
            owned = {(0, 0): 4, (0, 1): 2, (1, 0): 2, (1, 1): 1}
            assert _resumed(rerun) == (
                (1 if written else 0) if whole else sum(owned[k] for k in written))
            np.testing.assert_array_equal(np.asarray(read_image(path).data), reference)
        assert kept["close"] == kept["ctrl_c"], index


@pytest.mark.parametrize("whole", [False, True], ids=["tiles", "whole_image"])
@pytest.mark.parametrize("fails", ["disk_full", "ctrl_c"])
def test_a_failed_chunk_write_tells_its_tiles_warnings_first(tmp_path, monkeypatch, whole,
                                                             fails):
    """The first chunk's write fails (disk full: OSError ENOSPC; or a Ctrl-C landing in
    it) after an out-of-memory fall-back in that chunk's batch: the warning is told
    before the error ends the run, which is raised unchanged. Was (s51 F2, a regression
    of 74f2512a, which tells a chunk's last warnings after its write): the warning was
    never told (ae7e0f5c told it). A close() at that warning ends the run cleanly."""
    from napari_srmat.io import _write

    error = OSError(28, "No space left on device") if fails == "disk_full" \
        else KeyboardInterrupt()

    def write_block(self, *args, **kwargs):
        raise error

    monkeypatch.setattr(_write.OmeZarrStreamWriter, "write_block", write_block)
    warning = Log("out of memory at batch size 4: retrying with 2", level="warning")
    events = []
    with pytest.raises(type(error)) as caught:
        run_job(_oom_job(tmp_path / "o.ome.zarr", whole, set()), quiet=True,
                on_event=events.append)
    assert caught.value is error
    assert events[-1] == warning, events
    if fails == "ctrl_c":
        assert "nothing kept" in kept_at_interrupt(caught.value)

    gen = _oom_job(tmp_path / "c.ome.zarr", whole, set())
    while next(gen) != warning:
        pass
    gen.close()  # no "generator ignored GeneratorExit"
