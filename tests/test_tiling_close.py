"""What ``tiled_apply_job`` and ``dask_client`` do at a run's close: the output's lock and
the cluster close once each, told how the run ended, and a close that fails or a Ctrl-C
that comes then neither loses complete results nor hides the run's own error.

The cluster is a stand-in (``distributed.LocalCluster`` / ``Client`` replaced, the tiles
run by the local engine), so that a failing close or a Ctrl-C can be put at the moment
under test; the real ``dask_client`` closes it.
"""

from __future__ import annotations

import gc
import signal
import types
import warnings

import numpy as np
import pytest
from _ctrl_c import (  # noqa: F401
    SWAP_MOMENTS,
    ctrl_c_in_deletion,
    ctrl_c_in_swap,
    python_ctrl_c,
)

distributed = pytest.importorskip("distributed")

from napari_srmat.jobs import run_job  # noqa: E402
from napari_srmat.tiling import _distributed, _engine, tiled_apply, tiled_apply_job  # noqa: E402

KW = dict(scale=2, tile=32, overlap=8, chunk_size=32)


def _double(batch: np.ndarray) -> np.ndarray:
    return np.repeat(np.repeat(batch, 2, -1), 2, -2)


@pytest.fixture(scope="module")
def image():
    return (np.random.default_rng(0).random((60, 70)) * 255).astype(np.uint8)


class _Cluster:
    """A ``local:N`` cluster: counts its closes, and runs ``at_close`` in the close."""

    made: list = []
    at_close = None

    def __init__(self, **kwargs):
        self.closes = 0
        self.made.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.closes += 1
        at_close = vars(_Cluster)["at_close"]  # a plain function, not a method
        if at_close is not None:
            at_close()


class _Client:
    def __init__(self, cluster, **kwargs):
        self.scheduler = types.SimpleNamespace(address="inproc://stand-in")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def register_plugin(self, plugin):
        pass


@pytest.fixture
def cluster(monkeypatch):
    """``local:1`` starts a :class:`_Cluster`; the tiles run in this process. Yields the
    class (``made``: the clusters started, ``at_close``: set by the test)."""
    def local_run(client, src, runner, geom, co, odt, writer, result, stop, chunk_fn,
                  chunk_context, workers_end_with_run=False):
        return (yield from _engine._run_chunks(src, runner, geom, co, odt, writer, result,
                                               stop, chunk_fn, chunk_context))

    monkeypatch.setattr(distributed, "LocalCluster", _Cluster)
    monkeypatch.setattr(distributed, "Client", _Client)
    monkeypatch.setattr(_distributed, "run_chunks_distributed", local_run)
    monkeypatch.setattr(_Cluster, "made", [])
    monkeypatch.setattr(_Cluster, "at_close", None)
    return _Cluster


def _fail(exc: BaseException):
    def at_close():
        raise exc
    return at_close


def test_a_cluster_close_failing_after_an_ended_run_keeps_its_result(cluster, image):
    """The cluster's close failed (an OSError) after a run had ended: the job raised it
    and the complete in-memory result was lost (failed before: OSError out of
    tiled_apply). Now the result is returned, a warning says the close failed, and the
    cluster was closed once."""
    cluster.at_close = _fail(OSError("the scheduler went away"))
    with pytest.warns(UserWarning, match="did not close cleanly.*the scheduler went away"):
        got = tiled_apply(image, _double, scheduler="local:1", **KW)
    np.testing.assert_array_equal(got, tiled_apply(image, _double, **KW))
    assert [c.closes for c in cluster.made] == [1]


def test_a_close_failing_after_a_ctrl_c_keeps_the_ctrl_c(cluster, image, tmp_path,
                                                         monkeypatch):
    """A Ctrl-C in the tiles, then the output lock's release and the cluster's close
    failing: the close's error replaced the KeyboardInterrupt (exit 1 and 'internal
    error' instead of the one 'interrupted' line, exit 130; failed before: OSError). The
    Ctrl-C goes on, the close failures noted on it; the partial is kept for a resume and
    each close ran once."""
    from napari_srmat.io import OmeZarrStreamWriter

    closes = []

    def failing_close(self):
        closes.append(self)
        raise OSError("the lock's file system went away")

    def pressed(batch):
        raise KeyboardInterrupt

    monkeypatch.setattr(OmeZarrStreamWriter, "close", failing_close)
    cluster.at_close = _fail(OSError("the scheduler went away"))
    out = tmp_path / "o.ome.zarr"
    with pytest.raises(KeyboardInterrupt) as info:
        tiled_apply(image, pressed, out=out, scheduler="local:1", **KW)
    notes = getattr(info.value, "__notes__", [])
    assert any("lock" in n and "file system went away" in n for n in notes), notes
    assert any("scheduler went away" in n for n in notes), notes
    assert len(closes) == 1 and [c.closes for c in cluster.made] == [1]
    assert (tmp_path / "o.ome.zarr.partial").is_dir() and not out.exists()


def test_a_lock_release_failing_after_the_swap_leaves_the_output_complete(
        cluster, image, tmp_path, monkeypatch):
    """The output's lock release failing after the store was swapped in: released inside
    finalize, outside the run's close rule, it was raised as the run's error (a command
    failed over a complete output). It is released as the run closes, after the
    cluster, under the rule of every close after a run that ended: the output is
    returned, a warning says the release failed, nothing is left half swapped, and
    the lock and the cluster close once each."""
    from napari_srmat.io import OmeZarrStreamWriter, read_image

    release = OmeZarrStreamWriter.close
    calls = []

    def close_failing_once(self):
        calls.append(self)
        if len(calls) == 1:
            raise OSError("the lock's file system went away")
        release(self)

    monkeypatch.setattr(OmeZarrStreamWriter, "close", close_failing_once)
    out = tmp_path / "o.ome.zarr"
    with pytest.warns(UserWarning, match="lock of .*o.ome.zarr did not close cleanly.*"
                                         "file system went away"):
        assert run_job(tiled_apply_job(image, _double, out=out, scheduler="local:1",
                                       **KW), quiet=True) == out
    assert len(calls) == 1
    release(calls[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.ome.zarr"]
    np.testing.assert_array_equal(np.asarray(read_image(out).data),
                                  tiled_apply(image, _double, **KW))
    assert [c.closes for c in cluster.made] == [1]


class _DroppedCtrlC:
    """A finalizer a Ctrl-C lands in: Python prints and drops its KeyboardInterrupt
    (``sys.unraisablehook``), as in distributed's ``Future.__del__``."""

    def __del__(self):
        raise KeyboardInterrupt


@pytest.mark.usefixtures("python_ctrl_c")
def test_a_ctrl_c_a_finalizer_dropped_after_the_run_ended_keeps_its_result(cluster, image):
    """A Ctrl-C dropped by a finalizer after the run's last look at the cluster was
    raised once the client closed: exit 130 and the complete result thrown away
    (failed before: KeyboardInterrupt out of tiled_apply), where a press held through the
    cluster's close is a warning (CTRL_C_AT_CLOSE). One rule for both now: the result is
    returned with the warning."""
    def fn(batch):
        _DroppedCtrlC()  # dropped at once: its __del__ runs here
        gc.collect()
        return _double(batch)

    try:
        with pytest.warns(UserWarning, match="nothing was left to stop"):
            got = tiled_apply(image, fn, scheduler="local:1", **KW)
    except KeyboardInterrupt:  # not to end the test session
        pytest.fail("the press came out of a run that had ended")
    np.testing.assert_array_equal(got, tiled_apply(image, _double, **KW))
    assert [c.closes for c in cluster.made] == [1]


@pytest.mark.usefixtures("python_ctrl_c")
def test_a_ctrl_c_a_finalizer_dropped_in_a_failed_run_goes_on_as_the_error(cluster):
    """After a run that did not end the dropped press changes nothing: the run's error
    goes on, and no warning says the Ctrl-C came too late."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="a task failed"):
            with _distributed.dask_client("local:1"):
                _DroppedCtrlC()
                raise ValueError("a task failed")
    assert [c.closes for c in cluster.made] == [1]


@pytest.mark.usefixtures("python_ctrl_c")
def test_a_ctrl_c_while_the_output_lock_is_released_after_the_run_keeps_the_store(
        image, tmp_path, monkeypatch):
    """A Ctrl-C while the output's lock was released at the end of a local run that had
    written and swapped in its store came out of the job (failed before:
    KeyboardInterrupt; a command said 'interrupted', exit 130, over a complete store).
    It is held through the close and told as the warning of a Ctrl-C at the close."""
    from napari_srmat.io import OmeZarrStreamWriter, read_image

    release, pressed = OmeZarrStreamWriter.close, []

    def close_pressed(self):
        if not pressed:
            pressed.append(True)
            signal.raise_signal(signal.SIGINT)  # Ctrl-C while the lock is released
        release(self)

    monkeypatch.setattr(OmeZarrStreamWriter, "close", close_pressed)
    out = tmp_path / "o.ome.zarr"
    job = tiled_apply_job(image, _double, out=out, **KW)
    try:
        with pytest.warns(UserWarning, match="nothing was left to stop"):
            assert run_job(job, quiet=True) == out
    except KeyboardInterrupt:  # not to end the test session
        pytest.fail("the press came out of a run that had ended")
    assert pressed and sorted(p.name for p in tmp_path.iterdir()) == ["o.ome.zarr"]
    np.testing.assert_array_equal(np.asarray(read_image(out).data),
                                  tiled_apply(image, _double, **KW))


@pytest.mark.usefixtures("python_ctrl_c")
@pytest.mark.parametrize("to_store", [False, True])
def test_a_ctrl_c_held_at_the_close_and_one_a_finalizer_dropped_are_told_once(
        cluster, image, tmp_path, monkeypatch, to_store):
    """A Ctrl-C a finalizer dropped during the run and one pressed while the cluster
    closed (and, to a store, one as its lock was released), after the run had ended:
    each was told, identical CTRL_C_AT_CLOSE warnings (failed before: 2 == 1, 4 == 1).
    It is told once a run; the result is kept and the cluster closed once."""
    from napari_srmat.io import OmeZarrStreamWriter, read_image

    def fn(batch):
        _DroppedCtrlC()
        gc.collect()
        return _double(batch)

    def pressed(close):
        def close_pressed(*args):
            signal.raise_signal(signal.SIGINT)  # held through the close
            return close(*args)
        return close_pressed

    cluster.at_close = pressed(lambda: None)
    monkeypatch.setattr(OmeZarrStreamWriter, "close", pressed(OmeZarrStreamWriter.close))
    out = tmp_path / "o.ome.zarr" if to_store else None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = tiled_apply(image, fn, scheduler="local:1", out=out, **KW)
    except KeyboardInterrupt:  # not to end the test session
        pytest.fail("the press came out of a run that had ended")
    told = [str(w.message) for w in caught if "Ctrl-C" in str(w.message)]
    assert told == [_distributed.CTRL_C_AT_CLOSE]
    got = np.asarray(read_image(out).data) if to_store else got
    np.testing.assert_array_equal(got, tiled_apply(image, _double, **KW))
    assert [c.closes for c in cluster.made] == [1]


@pytest.mark.parametrize("ends", ["complete", "ctrl_c"])
def test_the_output_lock_is_held_until_the_local_cluster_has_closed(
        cluster, image, tmp_path, ends):
    """The output's lock was released before the ``local:N`` cluster closed (the seconds
    its workers take to stop), so a second run could lock the same output and write into
    OUT.partial while the old workers still could (failed before: a second writer took
    the lock while the cluster closed). It is released after the cluster has closed,
    whether the run ended or was interrupted; then it is free."""
    from napari_srmat.outputs import OutputLock, OutputLockedError

    out = tmp_path / "o.ome.zarr"
    second = []

    def second_writer():  # another run, starting while the cluster closes
        try:
            second.append(OutputLock(out).acquire())
        except OutputLockedError:
            second.append("refused")

    def pressed(batch):
        raise KeyboardInterrupt

    cluster.at_close = second_writer
    if ends == "complete":
        assert tiled_apply(image, _double, out=out, scheduler="local:1", **KW) == out
    else:
        with pytest.raises(KeyboardInterrupt):
            tiled_apply(image, pressed, out=out, scheduler="local:1", **KW)
    for got in second:
        if got != "refused":
            got.release()
    assert second == ["refused"] and [c.closes for c in cluster.made] == [1]
    OutputLock(out).acquire().release()  # free after the run


def _stored(out) -> np.ndarray:
    from napari_srmat.io import read_image

    return np.asarray(read_image(out).data)


@pytest.mark.usefixtures("python_ctrl_c")
@pytest.mark.parametrize("at", SWAP_MOMENTS)
def test_a_ctrl_c_in_the_swap_completes_it_and_is_told_once(image, tmp_path, monkeypatch,
                                                            at):
    """A Ctrl-C as the finished OUT.partial was swapped onto OUT: between the swap's two
    renames (OUT replaced, --overwrite) it came out of the run with OUT renamed aside
    and the new store still in OUT.partial (failed before: KeyboardInterrupt, no OUT);
    after the last rename the engine guessed from the paths on disk that the swap was
    done. The swap now runs whole, the press held until it is done and told once as a
    Ctrl-C at the close of a run that had ended: the new output is in place; an earlier
    output, left aside before its deletion (minutes for a large one), goes with the next
    run into OUT."""
    import os

    out = tmp_path / "o.ome.zarr"
    if at == "between_the_renames":  # an earlier output, from another input
        tiled_apply(image[::-1].copy(), _double, out=out, **KW)
    try:
        with warnings.catch_warnings(record=True) as caught, \
                ctrl_c_in_swap(monkeypatch, out, at) as pressed:
            warnings.simplefilter("always")
            got = tiled_apply(image, _double, out=out, overwrite=True, **KW)
    except KeyboardInterrupt:  # not to end the test session
        pytest.fail(f"the press came out of the swap ({sorted(os.listdir(tmp_path))})")
    assert pressed and got == out
    assert [str(w.message) for w in caught if "Ctrl-C" in str(w.message)] == [
        _distributed.CTRL_C_AT_CLOSE]
    np.testing.assert_array_equal(_stored(out), tiled_apply(image, _double, **KW))
    _the_earlier_output_left_aside_goes_with_the_next_run(
        image, out, left=at == "between_the_renames")


def _the_earlier_output_left_aside_goes_with_the_next_run(image, out, left: bool) -> None:
    """Whether an earlier output is ``left`` aside as our ``.OUT.<8 hex>.old`` beside the
    complete OUT; a rerun (OUT already complete) removes it."""
    from napari_srmat._atomic import SWAPPED_OUT

    aside = sorted(p.name for p in out.parent.iterdir() if p != out)
    assert len(aside) == left and all(SWAPPED_OUT.match(a) for a in aside), aside
    assert tiled_apply(image, _double, out=out, **KW) == out
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]


@pytest.mark.usefixtures("python_ctrl_c")
def test_a_ctrl_c_while_the_earlier_output_is_deleted_stops_it_and_is_told_once(
        image, tmp_path, monkeypatch):
    """A Ctrl-C while the run deleted the earlier OUT it had replaced (--overwrite)
    waited for the deletion's end: minutes for a large SR store, every press held (it
    ran inside the swap's Ctrl-C hold; failed before: steps 'began', 'deleted'). Only the
    swap's two renames hold Ctrl-C now: the press stops the deletion at once and is told
    once as a Ctrl-C at the close of a run that had ended, the new output in place; the
    next run into OUT removes what is left of the earlier one."""
    out = tmp_path / "o.ome.zarr"
    tiled_apply(image[::-1].copy(), _double, out=out, **KW)
    try:
        with warnings.catch_warnings(record=True) as caught, \
                ctrl_c_in_deletion(monkeypatch) as steps:
            warnings.simplefilter("always")
            got = tiled_apply(image, _double, out=out, overwrite=True, **KW)
    except KeyboardInterrupt:  # not to end the test session
        pytest.fail("the press came out of the run, whose output was complete")
    assert steps == ["began"] and got == out
    assert [str(w.message) for w in caught if "Ctrl-C" in str(w.message)] == [
        _distributed.CTRL_C_AT_CLOSE]
    np.testing.assert_array_equal(_stored(out), tiled_apply(image, _double, **KW))
    _the_earlier_output_left_aside_goes_with_the_next_run(image, out, left=True)


@pytest.mark.parametrize("error", [OSError("no space left on device"), KeyboardInterrupt()])
def test_a_failure_before_the_swap_leaves_the_partial_resumable_and_out_untouched(
        image, tmp_path, monkeypatch, error):
    """An error or a Ctrl-C while the pyramid was built (before the swap): OUT keeps the
    earlier output, OUT.partial holds every chunk and the lock is free; a rerun resumes
    it (no chunk computed again) and swaps it in."""
    from napari_srmat.io import _write
    from napari_srmat.outputs import OutputLock

    out = tmp_path / "o.ome.zarr"
    old = tiled_apply(image[::-1].copy(), _double, out=out, **KW)
    before = _stored(old)

    def failing(*args, **kwargs):
        raise error

    monkeypatch.setattr(_write, "_build_pyramid", failing)
    with pytest.raises(type(error)):
        tiled_apply(image, _double, out=out, overwrite=True, **KW)
    monkeypatch.undo()
    np.testing.assert_array_equal(_stored(out), before)
    assert (tmp_path / "o.ome.zarr.partial").is_dir()
    OutputLock(out).acquire().release()
    calls = []

    def counted(batch):
        calls.append(batch.shape[0])
        return _double(batch)

    events = []
    assert run_job(tiled_apply_job(image, counted, out=out, overwrite=True, **KW),
                   quiet=True, on_event=events.append) == out
    assert calls == [] and any("resuming" in getattr(e, "message", "") for e in events)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.ome.zarr"]
    np.testing.assert_array_equal(_stored(out), tiled_apply(image, _double, **KW))


def test_the_stream_writer_swaps_in_only_a_finished_store(tmp_path):
    """swap_in (the step the engine runs with a Ctrl-C held) moves only what finish
    finished: an unfinished partial is refused and OUT left absent; after finish it is
    moved, the lock still held until close."""
    from napari_srmat.io import OmeZarrStreamWriter
    from napari_srmat.outputs import OutputLock, OutputLockedError

    out = tmp_path / "o.ome.zarr"
    w = OmeZarrStreamWriter(out, (8, 8), np.uint8, chunks=8)
    w.write_block((0, 0), None, np.ones((8, 8), np.uint8))
    with pytest.raises(RuntimeError, match="not finished"):
        w.swap_in()
    assert not out.exists() and (tmp_path / "o.ome.zarr.partial").is_dir()
    w.finish(1)
    assert w.swap_in() == out and w.complete and out.is_dir()
    with pytest.raises(OutputLockedError):
        OutputLock(out).acquire()
    w.close()
    OutputLock(out).acquire().release()
