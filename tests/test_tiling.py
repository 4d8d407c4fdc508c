"""Tests of the tiled engine: exactness, seamlessness, resume/cancel, OOM fallback, Dask."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from napari_srmat.io import read_image
from napari_srmat.jobs import Log, Progress, Stopped, StopToken, run_job
from napari_srmat.tiling import (
    TilingError,
    blend_weights,
    is_out_of_memory,
    tiled_apply,
    tiled_apply_dask,
    tiled_apply_job,
)

torch.set_num_threads(1)


def bicubic(scale):
    def fn(batch):
        return F.interpolate(torch.from_numpy(batch), scale_factor=scale, mode="bicubic",
                             align_corners=False).numpy()
    return fn


def conv_net(c_in=3, scale=2, layers=3, seed=0):
    """Random conv net, receptive radius = ``layers`` LR pixels, pixel-shuffle x scale."""
    torch.manual_seed(seed)
    mods = [torch.nn.Conv2d(c_in, 8, 3, padding=1), torch.nn.Tanh()]
    for _ in range(layers - 2):
        mods += [torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.Tanh()]
    mods += [torch.nn.Conv2d(8, c_in * scale * scale, 3, padding=1), torch.nn.PixelShuffle(scale)]
    net = torch.nn.Sequential(*mods).eval()

    def fn(batch):
        with torch.no_grad():
            return torch.sigmoid(net(torch.from_numpy(batch))).numpy()
    return fn


def untiled_reference(img01, fn, pad, scale):
    """One call of fn on the reflect-padded whole image, cropped back."""
    grey = img01.ndim == 2
    x = img01[..., None] if grey else img01
    xp = np.pad(x, ((pad, pad), (pad, pad), (0, 0)), mode="reflect").astype(np.float32)
    out = np.moveaxis(fn(np.moveaxis(xp, -1, 0)[None])[0], 0, -1)
    out = out[pad * scale : -pad * scale, pad * scale : -pad * scale]
    return out[..., 0] if grey and out.shape[-1] == 1 else out


@pytest.fixture
def rng():
    return np.random.default_rng(1)


def test_weights_partition_of_unity():
    w = blend_weights(64, 8, 2)
    assert w.shape == (128,) and w[:8].max() == 0 and w[-8:].max() == 0 and w[60] == 1
    s = (64 - 16) * 2
    total = w[: -s] + w[s:]
    # in the overlap band the two ramps are complementary
    band = slice(s + 8, 8 + 16 * 2)
    np.testing.assert_allclose(total[band.start - s : band.stop - s], 1.0, atol=1e-12)


def test_bicubic_tiled_equals_untiled(rng):
    img = rng.random((150, 203, 3)).astype(np.float32)
    fn = bicubic(4)
    out = tiled_apply(img, fn, scale=4, tile=48, overlap=4, chunk_size=200)
    assert out.shape == (600, 812, 3) and out.dtype == np.float32
    ref = untiled_reference(img, fn, 4, 4)
    np.testing.assert_allclose(out, ref, atol=1e-5)
    # and against plain bicubic of the unpadded image away from the border
    plain = np.moveaxis(fn(np.moveaxis(img, -1, 0)[None])[0], 0, -1)
    np.testing.assert_allclose(out[8:-8, 8:-8], plain[8:-8, 8:-8], atol=1e-5)


@pytest.mark.parametrize("shape", [(97, 131, 3), (37, 29)])
def test_conv_net_tiled_equals_untiled(rng, shape):
    img = (rng.random(shape) * 255).astype(np.uint8)
    c = 3 if len(shape) == 3 else 1
    fn = conv_net(c_in=c, scale=2, layers=3)
    out = tiled_apply(img, fn, scale=2, tile=40, overlap=6, out_dtype=np.float32, batch_size=3,
                      chunk_size=60)
    ref = untiled_reference(img / np.float32(255), fn, 6, 2)
    assert out.shape == ref.shape == (shape[0] * 2, shape[1] * 2, *shape[2:])
    np.testing.assert_allclose(out, ref, atol=1e-5)
    # the default output dtype is the input's; another batch composition may move the
    # float result by an ulp, and a value at x.5 grey levels then rounds the other way
    out8 = tiled_apply(img, fn, scale=2, tile=40, overlap=6)
    assert out8.dtype == np.uint8
    expect8 = np.rint(np.clip(out, 0, 1) * 255).astype(np.uint8)
    assert np.abs(out8.astype(np.int16) - expect8.astype(np.int16)).max() <= 1


def test_seamless_constant_and_identity(rng):
    img = rng.random((123, 77)).astype(np.float32)

    def const(batch):
        return np.full((batch.shape[0], 2, batch.shape[2] * 3, batch.shape[3] * 3), 0.37,
                       np.float32)

    out = tiled_apply(img, const, scale=3, out_channels=2, tile=32, overlap=7, chunk_size=100)
    assert out.shape == (369, 231, 2)
    np.testing.assert_allclose(out, 0.37, rtol=0, atol=1e-7)
    u8 = (img * 255).astype(np.uint8)
    ident = tiled_apply(u8, lambda b: b, tile=32, overlap=5, chunk_size=44)
    np.testing.assert_array_equal(ident, u8)
    u16 = (rng.random((50, 61, 3)) * 65535).astype(np.uint16)
    np.testing.assert_array_equal(tiled_apply(u16, lambda b: b, tile=24, overlap=4), u16)


def test_small_image_and_overlap_zero(rng):
    img = rng.random((5, 3, 3)).astype(np.float32)
    out = tiled_apply(img, bicubic(2), scale=2, tile=64, overlap=8)
    assert out.shape == (10, 6, 3) and np.isfinite(out).all()
    img = rng.random((20, 13, 3)).astype(np.float32)
    out = tiled_apply(img, bicubic(2), scale=2, tile=64, overlap=8)
    np.testing.assert_allclose(out, untiled_reference(img, bicubic(2), 4, 2), atol=1e-5)
    img = rng.random((70, 70)).astype(np.float32)
    np.testing.assert_allclose(tiled_apply(img, lambda b: b * 2, tile=16, overlap=0), img * 2,
                               atol=1e-6)


def test_argument_validation(rng):
    img = rng.random((40, 40)).astype(np.float32)
    with pytest.raises(TilingError, match="larger than 2 x overlap"):
        tiled_apply(img, lambda b: b, tile=64, overlap=32)
    with pytest.raises(TilingError, match="scale must be a positive integer"):
        tiled_apply(img, lambda b: b, scale=1.5)
    with pytest.raises(TilingError, match="scale must be a positive integer"):
        tiled_apply(img, lambda b: b, scale=0)
    with pytest.raises(TilingError, match="out_channels=3"):
        tiled_apply(img, lambda b: np.repeat(b, 3, axis=1), tile=32, overlap=4)
    with pytest.raises(TilingError, match="upscales by 2"):
        tiled_apply(img, bicubic(2), tile=32, overlap=4)
    with pytest.raises(TilingError, match="shape"):
        tiled_apply(np.zeros((2, 3, 4, 5)), lambda b: b)
    assert issubclass(TilingError, ValueError)


def test_whole_image_with_a_scheduler_is_refused_in_the_caller_s_words(rng, tmp_path,
                                                                        capsys):
    """whole_image with a scheduler on an image that fits one tile was refused as
    'whole_image runs fn in this process: not with a scheduler': super_resolve's and
    srmat sr run's callers have no fn (the engine's internal). Python callers are now
    told the keywords (whole_image=True, scheduler=), srmat sr run its flags."""
    from PIL import Image

    from napari_srmat.cli import main

    img = rng.random((40, 40)).astype(np.float32)
    with pytest.raises(TilingError) as info:
        tiled_apply(img, lambda b: b, whole_image=True, scheduler="local:1")
    said = str(info.value)
    assert said.startswith("whole_image=True computes an image that fits one tile")
    assert "scheduler=" in said and "fn" not in said.split()
    Image.fromarray((img * 255).astype(np.uint8)).save(tmp_path / "small.png")
    rc = main(["sr", "run", str(tmp_path / "small.png"), str(tmp_path / "sr.ome.zarr"),
               "--model", "cnn", "--device", "cpu", "--whole-image",
               "--scheduler", "local:1"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert rc == 2 and err.startswith("srmat sr run: error: --whole-image computes"), err
    assert "--scheduler (the cluster's workers" in err and "fn" not in err.split()
    assert not (tmp_path / "sr.ome.zarr").exists()


class FakeOOM(RuntimeError):
    pass


def test_oom_halves_batch_then_tile(rng):
    img = rng.random((120, 100, 3)).astype(np.float32)
    fn = bicubic(2)
    ref = tiled_apply(img, fn, scale=2, tile=64, overlap=4, batch_size=1)
    seen = []

    def picky(batch):
        seen.append(batch.shape)
        if batch.shape[0] > 2:
            raise FakeOOM("CUDA out of memory. Tried to allocate 2.00 GiB")
        return fn(batch)

    events = []
    out = run_job(tiled_apply_job(img, picky, scale=2, tile=64, overlap=4, batch_size=8),
                  quiet=True, on_event=events.append)
    np.testing.assert_allclose(out, ref, atol=1e-6)
    sizes = [s[0] for s in seen]
    assert sizes[0] == 6 and sizes[1] == 4  # 6 tiles in one chunk, halved until it fits
    assert all(b <= 2 for b in sizes[2:]) and sum(sizes[2:]) == 6
    assert any(isinstance(e, Log) and "batch size" in e.message for e in events)

    def tiny_only(batch):
        if batch.shape[-1] > 32:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return fn(batch)

    out = tiled_apply(img, tiny_only, scale=2, tile=64, overlap=4, batch_size=2)
    np.testing.assert_allclose(out, ref, atol=1e-5)

    def never(batch):
        raise RuntimeError("CUDA error: out of memory")

    with pytest.raises(RuntimeError, match="out of memory with batch size 1"):
        tiled_apply(img, never, scale=2, tile=32, overlap=4)
    with pytest.raises(ValueError, match="boom"):
        tiled_apply(img, lambda b: (_ for _ in ()).throw(ValueError("boom")))
    assert is_out_of_memory(MemoryError()) and not is_out_of_memory(RuntimeError("x"))


def test_dask_input_and_dask_output_equal_numpy(rng):
    import dask.array as da

    img = (rng.random((210, 170, 3)) * 255).astype(np.uint8)
    fn = conv_net(scale=2, layers=2)
    kw = dict(scale=2, tile=48, overlap=6, out_dtype=np.float32, chunk_size=150)
    ref = tiled_apply(img, fn, **kw)
    lazy = da.from_array(img, chunks=(64, 50, 3))
    np.testing.assert_allclose(tiled_apply(lazy, fn, **kw), ref, rtol=0, atol=1e-6)
    d = tiled_apply_dask(lazy, fn, **kw)
    assert isinstance(d, da.Array) and d.shape == ref.shape and d.numblocks[0] > 1
    # torch convolutions may differ by an ulp with the batch composition
    np.testing.assert_allclose(d.compute(scheduler="sync"), ref, rtol=0, atol=1e-6)
    # a batch-invariant fn gives bit-identical results
    fn2 = bicubic(2)
    ref2 = tiled_apply(img, fn2, **kw)
    np.testing.assert_array_equal(tiled_apply_dask(lazy, fn2, **kw).compute(), ref2)


def test_zarr_and_micrograph_input(tmp_path, rng):
    import zarr

    from napari_srmat.io import write_ome_zarr

    img = (rng.random((90, 110)) * 65535).astype(np.uint16)
    z = zarr.open_array(tmp_path / "in.zarr", mode="w", shape=img.shape, chunks=(32, 32),
                        dtype=img.dtype)
    z[:] = img
    fn = bicubic(2)
    ref = tiled_apply(img, fn, scale=2, tile=32, overlap=4)
    assert ref.dtype == np.uint16 and ref.shape == (180, 220)
    np.testing.assert_array_equal(tiled_apply(z, fn, scale=2, tile=32, overlap=4), ref)
    mic = read_image(write_ome_zarr(img, tmp_path / "in.ome.zarr", pixel_size_um=0.8))
    out = tiled_apply(mic, fn, scale=2, tile=32, overlap=4, out=tmp_path / "o.ome.zarr")
    res = read_image(out)
    assert res.pixel_size_um == pytest.approx(0.4)  # taken from the Micrograph
    np.testing.assert_array_equal(res.data.compute(), ref)


@pytest.mark.slow
def test_distributed_local_cluster(rng):
    distributed = pytest.importorskip("distributed")
    img = rng.random((130, 150)).astype(np.float32)
    fn = bicubic(2)
    ref = tiled_apply(img, fn, scale=2, tile=40, overlap=4, chunk_size=128)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        d = tiled_apply_dask(img, fn, scale=2, tile=40, overlap=4, chunk_size=128)
        out = client.compute(d).result()
    np.testing.assert_array_equal(out, ref)


class Crash(Exception):
    pass


def test_stream_to_zarr_resume_after_crash(tmp_path, rng):
    img = (rng.random((300, 260, 3)) * 255).astype(np.uint8)
    fn = bicubic(2)
    kw = dict(scale=2, tile=40, overlap=4, batch_size=4, pixel_size_um=0.6,
              attrs={"model": "bicubic"}, chunk_size=128)
    calls = {"n": 0, "limit": 10**9, "tiles": 0}

    def counting(batch):
        calls["n"] += 1
        calls["tiles"] += len(batch)
        if calls["n"] > calls["limit"]:
            raise Crash("simulated crash")
        return fn(batch)

    full = tiled_apply(img, counting, out=tmp_path / "full.ome.zarr", **kw)
    n_uninterrupted, tiles_uninterrupted = calls["n"], calls["tiles"]
    assert tiles_uninterrupted == 10 * 8  # every tile computed exactly once
    ref = read_image(full)
    assert ref.data.shape == (600, 520, 3) and ref.data.numblocks[:2] == (1, 1)
    assert ref.pixel_size_um == pytest.approx(0.3)
    assert ref.metadata["srmat"]["model"] == "bicubic"
    assert ref.metadata["srmat"]["tiling"]["tile"] == 40
    np.testing.assert_array_equal(ref.data.compute(), tiled_apply(img, fn, scale=2, tile=40,
                                                                  overlap=4))
    target = tmp_path / "res.ome.zarr"
    partial = tmp_path / "res.ome.zarr.partial"
    calls.update(n=0, limit=n_uninterrupted // 2)
    with pytest.raises(Crash):
        tiled_apply(img, counting, out=target, **kw)
    assert not target.exists() and partial.exists()
    n_done_chunks = len(list((partial / ".srmat_done").iterdir()))
    assert 0 < n_done_chunks < 25  # 5 x 5 chunks of 128 px
    calls.update(n=0, limit=10**9, tiles=0)
    events = []
    path = run_job(tiled_apply_job(img, counting, out=target, **kw), quiet=True,
                   on_event=events.append)
    assert path == target and not partial.exists()
    res = read_image(target)
    assert res.n_levels == ref.n_levels
    for a, b in zip(res.levels, ref.levels):
        np.testing.assert_array_equal(a.compute(), b.compute())
    # the resumed run skipped the finished chunks (a little recompute at their edges only)
    assert calls["tiles"] < tiles_uninterrupted - n_done_chunks
    assert any(isinstance(e, Log) and "resuming" in e.message for e in events)
    prog = [e for e in events if isinstance(e, Progress)]
    assert prog[-1].done == prog[-1].total and prog[-1].stage == "tiles"
    # the progress says which tiles the earlier run had: the rest were computed now
    assert 0 < prog[-1].resumed < prog[-1].total
    assert calls["tiles"] >= prog[-1].total - prog[-1].resumed
    # other settings on the same partial are refused instead of mixing outputs
    calls.update(n=0, limit=3)
    with pytest.raises(Crash):
        tiled_apply(img, counting, out=tmp_path / "mm.ome.zarr", **kw)
    # in its user's words since s51 (was "attrs.model: stored 'bicubic' != requested 'x'")
    with pytest.raises(ValueError, match=r"\(model=bicubic, this run x\)"):
        tiled_apply(img, fn, out=tmp_path / "mm.ome.zarr", **{**kw, "attrs": {"model": "x"}})
    # the same command on the complete output: nothing recomputed, same store returned
    calls.update(n=0, limit=10**9, tiles=0)
    mtime = (target / "0" / ".zarray").stat().st_mtime_ns
    assert tiled_apply(img, counting, out=target, **kw) == target
    assert calls["tiles"] == 0 and (target / "0" / ".zarray").stat().st_mtime_ns == mtime
    # another input on the complete output is refused, naming what differs
    other = img.copy()
    other[0, 0] = 1.0 - other[0, 0]
    with pytest.raises(FileExistsError, match="input.pixels: stored"):
        tiled_apply(other, fn, out=target, **kw)


def test_cancel_leaves_only_partial(tmp_path, rng):
    img = rng.random((200, 200)).astype(np.float32)
    token = StopToken()
    seen = {"n": 0}

    def fn(batch):
        seen["n"] += 1
        if seen["n"] == 3:
            token.request_stop()
        return batch

    events = []
    res = run_job(tiled_apply_job(img, fn, tile=32, overlap=4, out=tmp_path / "c.ome.zarr",
                                  stop=token, batch_size=2, chunk_size=48),
                  quiet=True, on_event=events.append)
    assert res is None
    assert any(isinstance(e, Stopped) for e in events)
    assert not (tmp_path / "c.ome.zarr").exists()
    assert (tmp_path / "c.ome.zarr.partial").exists()
    # numpy output: stop also returns None
    token2 = StopToken()
    token2.request_stop()
    assert tiled_apply(img, lambda b: b, tile=32, overlap=4, stop=token2) is None


def test_effective_tile_clamps_small_images_and_keeps_the_grid():
    from napari_srmat.tiling import DEFAULT_OVERLAP, DEFAULT_TILE, effective_tile

    assert (DEFAULT_TILE, DEFAULT_OVERLAP) == (1024, 32)
    # one tile covering 100 px + 16 px context per side, rounded up to a multiple of 8
    assert effective_tile(100, 100, 1024, 32) == 136
    assert effective_tile(100, 60, 1024, 32) == 136  # one square tile for both axes
    assert effective_tile(3, 2, 1024, 32) == 72  # always > 2*overlap
    # a grid that already fits exactly keeps the requested tile (results as before)
    assert effective_tile(2 * 960 + 32, 500, 1024, 32) == 1024
    # 2048 px needs 3 tiles of 1024; 3 tiles of 736 cover it too
    assert effective_tile(2048, 2048, 1024, 32) == 736

    def n_tiles(size, t, o):
        b = 2 * o - 2 * (o // 2)
        return max(1, -(-(size - b) // (t - 2 * o)))

    rng = np.random.default_rng(0)
    for _ in range(300):
        o = int(rng.integers(0, 40))
        t = int(rng.integers(2 * o + 1, 2 * o + 600))
        H, W = (int(v) for v in rng.integers(1, 3000, 2))
        te = effective_tile(H, W, t, o)
        assert 2 * o < te <= t and (te == t or te % 8 == 0)
        assert n_tiles(H, te, o) == n_tiles(H, t, o)
        assert n_tiles(W, te, o) == n_tiles(W, t, o)


def test_small_image_with_huge_tile_calls_fn_with_a_small_tile(rng):
    img = rng.random((100, 100, 3)).astype(np.float32)
    fn = bicubic(4)
    seen = []

    def recording(batch):
        seen.append(batch.shape)
        return fn(batch)

    out = tiled_apply(img, recording, scale=4, tile=1024, overlap=32)
    assert seen == [(1, 3, 136, 136)]  # not a 1024^2 forward for a 100^2 image
    ref = untiled_reference(img, fn, 16, 4)
    np.testing.assert_allclose(out, ref, atol=1e-5)


def test_batch_size_is_capped_by_output_memory(rng, monkeypatch):
    import napari_srmat.tiling._engine as engine
    from napari_srmat.tiling import effective_batch_size

    assert effective_batch_size(4, 1024, 4, 3) == 1  # 200 MB per x4 RGB tile
    assert effective_batch_size(4, 256, 4, 3) == 4
    assert effective_batch_size(4, 8, 1, 1, budget=1) == 1
    img = rng.random((200, 200, 3)).astype(np.float32)
    fn = bicubic(2)
    ref = tiled_apply(img, fn, scale=2, tile=48, overlap=4, batch_size=8)
    per_tile = (48 * 2) ** 2 * 3 * 4
    monkeypatch.setattr(engine, "BATCH_OUTPUT_BUDGET", 2 * per_tile + 1)
    seen = []

    def recording(batch):
        seen.append(batch.shape)
        return fn(batch)

    out = tiled_apply(img, recording, scale=2, tile=48, overlap=4, batch_size=8)
    assert max(s[0] for s in seen) == 2 and all(s[-1] == 48 for s in seen)
    np.testing.assert_array_equal(out, ref)


# ---------------------------------------------------------------- tile identity
def _noisy(scale=2):
    """A stochastic fn seeded per tile from ``tile_ids`` (like the diffusion models)."""
    up = bicubic(scale)

    def fn(batch, *, tile_ids):
        assert len(tile_ids) == len(batch)
        noise = [np.random.default_rng(abs(hash(tuple(t))) % 2**32)
                 .normal(0, 0.05, (batch.shape[1], batch.shape[2] * scale,
                                   batch.shape[3] * scale)).astype(np.float32)
                 for t in tile_ids]
        return up(batch) + np.stack(noise)
    return fn


def test_fn_accepting_tile_ids_gets_each_tiles_grid_index(rng):
    from napari_srmat.tiling import effective_tile

    img = rng.random((150, 130, 3)).astype(np.float32)
    tile, overlap = 40, 4
    t = effective_tile(150, 130, tile, overlap)
    s, d = t - 2 * overlap, overlap // 2
    pad = 2 * t
    padded = np.pad(img, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
    fn = bicubic(2)
    seen = []

    def with_ids(batch, *, tile_ids):
        assert len(tile_ids) == len(batch)
        seen.extend(zip(tile_ids, batch))
        return fn(batch)

    out = tiled_apply(img, with_ids, scale=2, tile=tile, overlap=overlap, batch_size=3,
                      chunk_size=64)
    np.testing.assert_array_equal(out, tiled_apply(img, fn, scale=2, tile=tile,
                                                   overlap=overlap, chunk_size=64))
    ny, nx = -(-(150 - 2) // s), -(-(130 - 2) // s)
    assert {tuple(i) for i, _ in seen} == {(j, i) for j in range(ny) for i in range(nx)}
    for (j, i), x in seen:  # the id names the tile's position on the grid
        y0, x0 = j * s - d + pad, i * s - d + pad
        np.testing.assert_array_equal(x, np.moveaxis(padded[y0:y0 + t, x0:x0 + t], -1, 0))


def test_stochastic_fn_seeded_by_tile_id_is_independent_of_batching(tmp_path, rng):
    img = (rng.random((150, 130, 3)) * 255).astype(np.uint8)
    fn = _noisy()
    kw = dict(scale=2, tile=40, overlap=4, out_dtype=np.float32, chunk_size=64)
    ref = tiled_apply(img, fn, batch_size=1, **kw)
    np.testing.assert_allclose(tiled_apply(img, fn, batch_size=5, **kw), ref, atol=1e-6)
    np.testing.assert_allclose(tiled_apply_dask(img, fn, batch_size=3, **kw).compute(), ref,
                               atol=1e-6)
    # stopped and resumed: tiles of finished chunks are recomputed in other batches
    token = StopToken()

    def stop_early(ev):
        if isinstance(ev, Progress) and ev.done >= 6:
            token.request_stop()

    out = tmp_path / "n.ome.zarr"
    assert run_job(tiled_apply_job(img, fn, batch_size=4, out=out, stop=token, **kw),
                   quiet=True, on_event=stop_early) is None
    assert run_job(tiled_apply_job(img, fn, batch_size=4, out=out, **kw), quiet=True) == out
    np.testing.assert_allclose(read_image(out).data.compute(), ref, atol=1e-6)


def test_oom_sub_tiles_get_nested_ids(rng):
    img = rng.random((120, 100, 3)).astype(np.float32)
    fn = _noisy()
    seen = []

    def small_only(batch, *, tile_ids):
        if batch.shape[-1] > 32:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        seen.extend(tile_ids)
        return fn(batch, tile_ids=tile_ids)

    a = tiled_apply(img, small_only, scale=2, tile=64, overlap=4, batch_size=2)
    assert seen and all(len(t) == 4 for t in seen)
    ids = set(seen)
    assert len(ids) == len(seen)  # every sub-tile has its own id
    whole = []
    tiled_apply(img, lambda b, tile_ids: whole.extend(tile_ids) or fn(b, tile_ids=tile_ids),
                scale=2, tile=64, overlap=4)
    assert {t[:2] for t in ids} == set(whole) and len(whole) > 1
    seen.clear()
    b = tiled_apply(img, small_only, scale=2, tile=64, overlap=4, batch_size=1)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_tile_batches_is_the_one_batching_rule(rng):
    """_Engine.tile_batches batches the tiles of a chunk for the local engine and the
    cluster tasks alike: ``batch_size`` tiles per fn call in the order given, and once
    stop is requested one (None, None) and no further fn call."""
    from napari_srmat.tiling._engine import _Engine, _setup

    calls = []

    def fn(batch, tile_ids):
        calls.append(list(tile_ids))
        return batch * 2.0

    img = rng.random((100, 100)).astype(np.float32)
    src, geom, runner, co, odt = _setup(img, fn, 1, None, 32, 4, 3, None)
    eng = _Engine(src, runner, geom, co, odt)
    tiles = [(j, i) for j in range(geom.ny) for i in range(geom.nx)][:7]
    win = src.read(*eng.window_for([t[0] for t in tiles], [t[1] for t in tiles]))
    got = list(eng.tile_batches(win, tiles, 3))
    assert [batch for batch, _ in got] == calls == [tiles[:3], tiles[3:6], tiles[6:]]
    assert [outs.shape[0] for _, outs in got] == [3, 3, 1]
    calls.clear()
    stop = StopToken()
    batches = eng.tile_batches(win, tiles, 3, stop)
    assert next(batches)[0] == tiles[:3]
    stop.request_stop()
    assert next(batches) == (None, None)
    assert list(batches) == [] and calls == [tiles[:3]]


def test_a_tile_not_larger_than_twice_the_overlap_is_told_in_one_wording():
    """super_resolve and plan_rescan said 'tile (8) must be larger than 2 * overlap (64)',
    predict_boundaries and tiled_apply 'tile must be larger than 2*overlap (tile=8,
    overlap=4)': one rule (tiling.check_tile_overlap) now words it once, with the least
    tile to give."""
    import napari_srmat as srmat
    from napari_srmat.edges import load_boundary_model

    img = np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)
    said = r"^tile 8 must be larger than 2 x overlap 4 \(give tile=9 or more\)$"
    with pytest.raises(ValueError, match=said):
        srmat.super_resolve(img, "bicubic", tile=8, overlap=4)
    with pytest.raises(ValueError, match=said):
        srmat.plan_rescan(img, "bicubic", tile=8, overlap=4, budget=1.0, roi_px=8)
    with pytest.raises(ValueError, match=said):
        srmat.predict_boundaries(img, load_boundary_model(), tile=8, overlap=4)
    with pytest.raises(ValueError, match=said):
        tiled_apply(img.astype(np.float32), lambda b: b, tile=8, overlap=4)
