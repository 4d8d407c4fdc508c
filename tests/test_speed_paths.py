"""The speed paths of issue 15 compute what the plain paths compute.

* classic interpolation fast path (``SRModel.chunk_function``: OpenCV bicubic, Pillow
  Lanczos-3 on whole chunks): chunked output equals one untiled resize away from the
  borders, and the torch/blended path within a stated tolerance; without OpenCV the torch
  path is used;
* in-place blending (``_add_weighted``) is bit for bit the weighted sum it replaces;
* the engine's fused passes (tiles normalised while cut from the raw window, reflect
  padding by slices, output converted in strips and straight from a tile where it is the
  only contributor, small lazy inputs read once) give the outputs of the plain passes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import zarr

from napari_srmat.io import to_float01
from napari_srmat.jobs import run_job
from napari_srmat.sr import classic as classic_mod
from napari_srmat.sr import load_model, super_resolve
from napari_srmat.tiling import tiled_apply, tiled_apply_job

cv2 = pytest.importorskip("cv2")
torch.set_num_threads(1)

TILE, OVERLAP = 64, 16  # chunks of 256 LR px at x4: a 300-px image has 2 x 2 chunks


def _image(size=300, seed=0):
    """Smooth RGB uint8 image with full-range edges (bicubic overshoots and clips)."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((size // 10 + 2, size // 10 + 2, 3)).astype(np.float32)
    img = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_LINEAR)
    img = np.where(rng.random((size, size, 1)) < 0.02, 1.0, img)
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


def _fast(img, model, out_dtype=None, **kw):
    fn = model.chunk_function()
    assert fn is not None
    return tiled_apply(img, model.predict, scale=model.scale, tile=TILE, overlap=OVERLAP,
                       out_dtype=out_dtype, chunk_fn=fn,
                       chunk_context=model.receptive_field + 1, **kw)


def _torch(img, model, out_dtype=None, **kw):
    return tiled_apply(img, model.predict, scale=model.scale, tile=TILE, overlap=OVERLAP,
                       out_dtype=out_dtype, **kw)


def test_chunked_bicubic_equals_untiled_opencv_resize_away_from_borders():
    img = _image()
    m = load_model("bicubic", scale=4)
    fast = _fast(img, m)  # uint8 in, uint8 out: resized in uint8 per chunk window
    whole = cv2.resize(img, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    b = 4 * 3  # borders: reflect (engine) vs replicate (OpenCV) padding
    assert fast.shape == whole.shape == (1200, 1200, 3)
    np.testing.assert_array_equal(fast[b:-b, b:-b], whole[b:-b, b:-b])
    # the chunk seams (LR 256 -> HR 1024) are inside the compared region
    assert fast[1020:1030].std() > 0


def test_chunked_lanczos_equals_untiled_pillow_resize_away_from_borders():
    from PIL import Image

    img = _image(seed=1)
    m = load_model("lanczos", scale=2)
    fast = _fast(img, m, out_dtype=np.float32)
    x = to_float01(img)
    whole = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(x[..., c])).resize(
        (600, 600), Image.Resampling.LANCZOS)) for c in range(3)], -1).clip(0, 1)
    b = 2 * 4
    np.testing.assert_allclose(fast[b:-b, b:-b], whole[b:-b, b:-b], rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", ["bicubic", "lanczos"])
@pytest.mark.parametrize("kind", ["rgb_u8", "grey_u8", "float", "u16", "u8_to_float"])
def test_fast_path_matches_the_torch_path(name, kind):
    """Stated tolerance: float outputs within 1e-6 everywhere (borders included: both
    paths reflect-pad); integer outputs at most one level apart in < 0.5 % of pixels
    (uint8: < 0.01 %)."""
    img = _image(200, seed=2)
    out_dtype = None
    if kind == "grey_u8":
        img = img[..., 0]
    elif kind == "float":
        img = to_float01(img)
    elif kind == "u16":
        img = img.astype(np.uint16) * 257
    elif kind == "u8_to_float":
        out_dtype = np.float32
    m = load_model(name, scale=4)
    oc = {"out_channels": 1} if img.ndim == 2 else {}
    fast = _fast(img, m, out_dtype, **oc)
    ref = _torch(img, m, out_dtype, **oc)
    assert fast.shape == ref.shape and fast.dtype == ref.dtype
    diff = np.abs(fast.astype(np.float64) - ref)
    if np.issubdtype(ref.dtype, np.floating):
        assert diff.max() <= 1e-6
    else:
        assert diff.max() <= 1
        assert (diff > 0).mean() < (1e-4 if ref.dtype == np.uint8 else 5e-3)


def test_without_opencv_bicubic_uses_the_torch_path(monkeypatch):
    img = _image(120)
    m = load_model("bicubic", scale=2)
    monkeypatch.setattr(classic_mod, "_cv2", lambda: None)
    assert m.chunk_function() is None
    got = super_resolve(img, m, tile=TILE, overlap=OVERLAP)
    ref = _torch(img, m, np.float32)
    np.testing.assert_array_equal(got, ref)


def test_super_resolve_to_zarr_uses_and_records_the_fast_path(tmp_path, monkeypatch):
    img = _image(150)
    m = load_model("bicubic", scale=2)
    calls = []
    real = m.predict
    monkeypatch.setattr(m, "predict", lambda *a, **k: calls.append(1) or real(*a, **k))
    out = super_resolve(img, m, tile=TILE, overlap=OVERLAP, out=tmp_path / "o.ome.zarr")
    g = zarr.open_group(str(out), mode="r")
    assert g.attrs["srmat"]["fast_path"] == "opencv"
    assert not calls  # no torch tiles
    lv0 = np.moveaxis(np.asarray(g["0"]), 0, -1)
    whole = cv2.resize(img, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    np.testing.assert_array_equal(lv0[6:-6, 6:-6], whole[6:-6, 6:-6])


def test_add_weighted_is_the_weighted_sum_bit_for_bit():
    from napari_srmat.tiling._engine import _add_weighted

    rng = np.random.default_rng(3)
    src = rng.random((2, 40, 50)).astype(np.float32)
    wy = np.ones(40, np.float32)
    wx = np.ones(50, np.float32)
    wy[:7] = rng.random(7)
    wy[-5:] = rng.random(5)
    wx[:3] = rng.random(3)
    wx[-9:] = rng.random(9)
    for a, b in ((wy, wx), (rng.random(40).astype(np.float32), wx), (wy, np.ones(50, np.float32))):
        dst = rng.random((2, 40, 50)).astype(np.float32)
        ref = dst + (src * a[:, None]) * b
        _add_weighted(dst, src, a, b)
        np.testing.assert_array_equal(dst, ref)


def test_fast_path_stops_and_resumes_to_the_same_store(tmp_path):
    from napari_srmat.jobs import Progress, StopToken

    img = _image(300)
    m = load_model("bicubic", scale=4)
    out = tmp_path / "o.ome.zarr"
    stop = StopToken()
    seen = []

    def on_event(e):
        if isinstance(e, Progress) and e.done > 0:
            seen.append(e.done)
            stop.request_stop()

    from napari_srmat.sr import super_resolve_job

    assert run_job(super_resolve_job(img, m, tile=TILE, overlap=OVERLAP, out=out, stop=stop),
                   on_event=on_event, quiet=True) is None
    assert not out.exists() and seen
    done = super_resolve(img, m, tile=TILE, overlap=OVERLAP, out=out)
    lv0 = np.moveaxis(np.asarray(zarr.open_group(str(done), mode="r")["0"]), 0, -1)
    ref = run_job(tiled_apply_job(img, m.predict, scale=4, tile=TILE, overlap=OVERLAP,
                                  chunk_fn=m.chunk_function(), chunk_context=3), quiet=True)
    np.testing.assert_array_equal(lv0, ref)


def test_boundary_inference_copy_matches_the_network():
    from napari_srmat.edges.model import UAEDNet, inference_copy

    torch.manual_seed(0)
    net = UAEDNet("tiny")
    # non-trivial batch-norm statistics, so that folding them is tested
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.rand(2, 3, 64, 64))
    net.eval()
    x = torch.rand(3, 3, 64, 80)
    fast = inference_copy(net)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())  # untouched
    with torch.no_grad():
        ref = net(x)
        got = fast(x.contiguous(memory_format=torch.channels_last))
    for r, g in zip(ref, got):
        np.testing.assert_allclose(g.numpy(), r.numpy(), rtol=0, atol=1e-4)


def test_boundary_predict_is_batch_invariant_and_follows_weight_changes():
    from napari_srmat.edges.infer import BoundaryModel
    from napari_srmat.edges.model import UAEDNet

    torch.manual_seed(1)
    net = UAEDNet("tiny")
    m = BoundaryModel(net, {"encoder": "tiny"}, tta="none")
    x = np.random.default_rng(4).random((3, 3, 48, 48)).astype(np.float32)
    prob, sigma = m.predict(x)
    for k in range(3):
        p1, s1 = m.predict(x[k : k + 1])
        np.testing.assert_allclose(p1[0], prob[k], rtol=0, atol=1e-6)
        np.testing.assert_allclose(s1[0], sigma[k], rtol=0, atol=1e-6)
    with torch.no_grad():
        ref_logit, _ = net(torch.from_numpy(x))
    np.testing.assert_allclose(prob, torch.sigmoid(ref_logit).numpy(), rtol=0, atol=1e-5)
    with torch.no_grad():  # weights changed in place: the folded copy is made again
        net.mean_head.bias.add_(3.0)
        ref_logit, _ = net(torch.from_numpy(x))
    np.testing.assert_allclose(m.predict(x)[0], torch.sigmoid(ref_logit).numpy(), rtol=0,
                               atol=1e-5)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_integer_pyramid_equals_the_float_rounded_mean(tmp_path, dtype):
    """The pyramid of uint8/uint16 stores (integer 2x2 mean, half to even) equals the
    float32 mean rounded by numpy, ties and odd sizes (edge padding) included."""
    from napari_srmat.io._write import _build_pyramid, _rounded_mean_uint

    top = np.iinfo(dtype).max
    rng = np.random.default_rng(5)
    x = rng.integers(0, int(top) + 1, size=(3, 1, 30, 2, 20, 2)).astype(dtype)
    x[0, 0, :5] = top  # saturated blocks
    x[1, 0, :5] = np.array([0, 1], dtype)[None, :, None, None]  # 0.5: ties to even (0)
    x[1, 0, 5:10] = np.array([1, 2], dtype)[None, :, None, None]  # 1.5: ties to even (2)
    ref = np.round(x.astype(np.float32).mean(axis=(1, 3, 5))).astype(dtype)
    np.testing.assert_array_equal(_rounded_mean_uint(x, axis=(1, 3, 5)), ref)
    np.testing.assert_array_equal(_rounded_mean_uint(x[0, 0], axis=(1, 3)), ref[0])

    img = rng.integers(0, int(top) + 1, size=(3, 131, 97)).astype(dtype)
    g = zarr.open_group(str(tmp_path / "p.zarr"), mode="w", zarr_format=2)
    g.create_array("0", shape=img.shape, chunks=(3, 32, 32), dtype=dtype, fill_value=0)[:] = img
    _build_pyramid(g, "YXC", np.dtype(dtype), 3, (32, 32))
    prev = img
    for lv in (1, 2):
        p = np.pad(prev, [(0, 0), (0, prev.shape[1] % 2), (0, prev.shape[2] % 2)], mode="edge")
        p = p.astype(np.float32)
        m = (p[:, ::2, ::2] + p[:, 1::2, ::2] + p[:, ::2, 1::2] + p[:, 1::2, 1::2]) / 4
        prev = np.round(m).astype(dtype)
        np.testing.assert_array_equal(np.asarray(g[str(lv)]), prev)


# --------------------------------------------------------------------------- fused passes


@pytest.mark.parametrize("a", [
    np.arange(256, dtype=np.uint8),
    np.arange(65536, dtype=np.uint16),
    np.array([-2**31, -1, 0, 1, 2**24 + 1, 2**31 - 1], dtype=np.int32),
    np.array([True, False]),
    np.array([0.25, -0.0, 1.5, 1e-40], dtype=np.float64),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_to_float01_into_out_is_bit_for_bit_to_float01(a, dtype):
    out = np.full(a.shape, np.nan, dtype)
    assert to_float01(a, out=out) is out
    ref = to_float01(a, dtype=dtype)
    assert out.dtype == ref.dtype and out.tobytes() == ref.tobytes()
    img = np.resize(a, (7, 5, 3))  # into a channels-first view, as the engine does
    out = np.empty((3, 7, 5), dtype)
    to_float01(np.moveaxis(img, -1, 0), out=out)
    assert out.tobytes() == np.ascontiguousarray(np.moveaxis(to_float01(img, dtype=dtype),
                                                             -1, 0)).tobytes()


def test_reflect_gather_by_slices_equals_the_per_pixel_gather():
    from napari_srmat.tiling._engine import _gather, _reflect

    rng = np.random.default_rng(0)
    for h, w in ((1, 9), (9, 1), (2, 2), (13, 8), (40, 31)):
        raw = rng.integers(0, 256, (h, w, 2), dtype=np.uint8)
        for y0, y1, x0, x1 in ((-5, h + 7, -3, w + 2), (0, h, 0, w), (-30, -20, 2, 3),
                               (h - 1, h + 40, -1, w)):
            yi, xi = _reflect(np.arange(y0, y1), h), _reflect(np.arange(x0, x1), w)
            ref = raw[np.ix_(yi, xi)]
            np.testing.assert_array_equal(_gather(raw, yi, xi), ref)
            out = np.empty((ref.shape[2], *ref.shape[:2]), np.float32)
            _gather(raw, yi, xi, np.moveaxis(out, 0, -1),
                    lambda s, d: to_float01(s, out=d))
            assert out.tobytes() == np.ascontiguousarray(
                np.moveaxis(to_float01(ref), -1, 0)).tobytes()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32, np.float64,
                                   np.bool_])
def test_output_conversion_equals_the_plain_formula(dtype):
    from napari_srmat.tiling._engine import _convert_into, _convert_out

    rng = np.random.default_rng(1)
    k = rng.integers(-300, 600, (3, 50, 70)).astype(np.float32)
    acc = np.concatenate([(k + 0.5) / 255, rng.normal(0.5, 0.7, (3, 50, 70)).astype(
        np.float32), np.full((3, 50, 70), -0.0, np.float32)], axis=1)  # ties, clipping, -0
    if np.issubdtype(dtype, np.integer):
        top = float(np.iinfo(dtype).max)
        ref = np.clip(np.rint(acc * np.float32(top)), 0 if np.iinfo(dtype).min >= 0 else
                      np.iinfo(dtype).min, top).astype(dtype)
    elif dtype == np.bool_:
        ref = acc > 0.5
    else:
        ref = (np.zeros_like(acc) + acc).astype(dtype)  # a zeroed accumulator + acc
    out = np.empty(acc.shape, dtype)
    _convert_into(acc, out, axis=1)
    assert out.tobytes() == ref.tobytes()
    hwc = np.moveaxis(acc, 0, -1)
    conv = _convert_out(hwc, np.dtype(dtype))
    assert np.array_equal(conv, np.moveaxis(ref, 0, -1)) and conv.dtype == dtype


def _signed_fn(b):
    """x2 nearest upscale of a local nonlinear function with -0.0, ties and clipping."""
    p = np.pad(b, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="reflect")
    m = (p[:, :, :-2, 1:-1] + p[:, :, 2:, 1:-1] + p[:, :, 1:-1, :-2] + p[:, :, 1:-1, 2:]) / 4
    y = np.where(m < 0.2, -0.0, (m - 0.3) * 1.7).astype(np.float32)
    return np.repeat(np.repeat(y, 2, 2), 2, 3)


@pytest.mark.parametrize("out_dtype", [np.uint8, np.uint16, np.float32, np.bool_])
@pytest.mark.parametrize("tile,overlap", [(48, 8), (40, 12), (256, 16)])
def test_sole_tile_pixels_converted_directly_equal_the_blended_sum(monkeypatch, out_dtype,
                                                                     tile, overlap):
    from napari_srmat.tiling import _engine

    img = np.random.default_rng(2).integers(0, 256, (130, 101, 3), dtype=np.uint8)
    kw = dict(scale=2, tile=tile, overlap=overlap, out_dtype=out_dtype, chunk_size=100)
    fast = tiled_apply(img, _signed_fn, **kw)
    monkeypatch.setattr(_engine._Engine, "_sole_rects", lambda self, ky, kx, owned: {})
    plain = tiled_apply(img, _signed_fn, **kw)
    assert fast.dtype == plain.dtype and fast.tobytes() == plain.tobytes()


@pytest.mark.parametrize("cache", [True, False])
def test_lazy_input_read_once_or_by_window_gives_the_numpy_result(monkeypatch, cache):
    da = pytest.importorskip("dask.array")
    from napari_srmat.tiling import _engine

    img = _image(150)
    ref = tiled_apply(img, _signed_fn, scale=2, tile=48, overlap=8)
    if not cache:
        monkeypatch.setattr(_engine, "INPUT_CACHE_BYTES", 0)
    lazy = da.from_array(img, chunks=(64, 64, 3))
    np.testing.assert_array_equal(tiled_apply(lazy, _signed_fn, scale=2, tile=48, overlap=8),
                                  ref)
    m = load_model("bicubic", scale=2)
    np.testing.assert_array_equal(super_resolve(lazy, m, tile=TILE, overlap=OVERLAP),
                                  super_resolve(img, m, tile=TILE, overlap=OVERLAP))


# --------------------------------------------------------------------------- whole image


def test_whole_image_is_the_untiled_forward_and_larger_images_are_unchanged(tmp_path):
    m = load_model("cnn", scale=4)  # shipped weights
    kw = dict(tile=128, overlap=32)  # one tile up to 96 px
    rng = np.random.default_rng(5)
    small = _image(45, seed=5)[:, :38]
    x = np.moveaxis(to_float01(small), -1, 0)[None]
    bare = np.moveaxis(m.predict(x)[0], 0, -1)
    whole = super_resolve(small, m, whole_image=True, **kw)
    np.testing.assert_allclose(whole, bare, rtol=0, atol=1e-6)
    tiled = super_resolve(small, m, **kw)
    # the padded tile differs only within the receptive field of the border
    r = m.receptive_field * m.scale
    assert np.abs(tiled - bare).max() > 1e-3
    np.testing.assert_allclose(tiled[r:-r, r:-r], bare[r:-r, r:-r], rtol=0, atol=1e-5)
    big = rng.integers(0, 256, (150, 110, 3), dtype=np.uint8)  # several tiles: unaffected
    np.testing.assert_array_equal(super_resolve(big, m, whole_image=True, **kw),
                                  super_resolve(big, m, **kw))
    # the store: uint8 of the same forward, recorded in its identity
    out = super_resolve(small, m, whole_image=True, out=tmp_path / "w.ome.zarr", **kw)
    g = zarr.open_group(str(out), mode="r")
    lv0 = np.moveaxis(np.asarray(g["0"]), 0, -1)
    np.testing.assert_array_equal(lv0, np.clip(np.rint(whole * 255), 0, 255).astype(np.uint8))
    assert g.attrs["srmat"]["tiling"]["whole_image"] is True
    out2 = super_resolve(small, m, out=tmp_path / "t.ome.zarr", **kw)
    assert "whole_image" not in zarr.open_group(str(out2), mode="r").attrs["srmat"]["tiling"]


def test_one_tile_image_is_one_chunk_with_the_same_pixels(tmp_path):
    from napari_srmat.tiling import effective_tile

    # an image between the stride and stride + ramp (s < L <= s + b) needs one tile
    tile, overlap, scale = 300, 8, 4  # a stride of 284 * 4 output px: one per chunk
    s, b = tile - 2 * overlap, overlap
    L = s + b  # 292: one tile, two strides
    assert effective_tile(L, L, tile, overlap) == tile
    img = np.random.default_rng(6).integers(0, 256, (L, L - 3, 3), dtype=np.uint8)

    def fn(batch):
        return np.repeat(np.repeat(np.sqrt(batch), scale, 2), scale, 3)

    kw = dict(scale=scale, tile=tile, overlap=overlap)
    out = tiled_apply(img, fn, out=tmp_path / "o.ome.zarr", **kw)
    arr = zarr.open_group(str(out), mode="r")["0"]
    assert arr.chunks[1:] == arr.shape[1:]  # one chunk
    ref = tiled_apply(img, fn, chunk_size=s * scale, **kw)  # 2 x 2 chunks
    np.testing.assert_array_equal(np.moveaxis(np.asarray(arr), 0, -1), ref)
