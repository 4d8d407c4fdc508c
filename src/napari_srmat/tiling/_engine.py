"""Out-of-core tiled application of a batch function (super-resolution, boundary maps).

Geometry
--------
The requested tile is first shrunk to :func:`effective_tile` (same number of tiles
per axis, smallest multiple of 8) and the batch size capped by
:func:`effective_batch_size` (:data:`BATCH_OUTPUT_BUDGET` of float32 output).
``tile`` is the input tile size ``t`` handed to ``fn``, ``overlap`` the context ``o``
kept on each side. Tiles start every ``s = t - 2*o`` input pixels; tile ``j`` covers
input rows ``[j*s - d, j*s - d + t)`` with ``d = o // 2`` (rows outside the image are
read with reflect padding). Its blending weight is 0 in the outer ``d`` pixels (where
``fn`` lacks context), rises with a raised-cosine ramp over ``b = 2*o - 2*d`` pixels,
is flat 1 in the middle and falls symmetrically. Neighbouring ramps are
complementary (``sin^2 + cos^2``) and the weights are additionally normalised by their
per-axis sum, so the blend is a partition of unity: a constant ``fn`` gives exactly the
constant, pixels at the image border (no neighbour) keep full weight, and any ``fn``
whose output at a pixel depends only on inputs within ``r <= d`` pixels gives the same
result as one untiled call on the reflect-padded image.

Out-of-core order
-----------------
The output is produced chunk by chunk on a grid of ``m`` tile strides
(``chunk = m * s * scale`` output pixels: the smallest multiple of the stride
>= 1024, e.g. 1536 at tile 256 / overlap 32 x4 and 3840 at the default 1024/32 x4;
an image that needs one tile is one chunk), row-major. Each tile is
*owned* by the chunk where its positive-weight region starts and is computed once,
while processing its owner; the thin strip (``b`` input pixels) it spills into the next
chunks is kept until they are processed. A chunk is written once, complete, so peak
memory is a few tiles plus one chunk row of spill strips, independent of image height.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..io import all_finite, image_data, read_window
from ..jobs import (
    AlreadyComplete,
    Event,
    Log,
    Progress,
    Stopped,
    StopToken,
    format_duration,
    run_job,
)

__all__ = [
    "DEFAULT_TILE",
    "DEFAULT_OVERLAP",
    "DEFAULT_BATCH_SIZE",
    "BATCH_OUTPUT_BUDGET",
    "TilingError",
    "check_tile_overlap",
    "overlap_used",
    "effective_tile",
    "effective_batch_size",
    "tiled_apply_job",
    "tiled_apply",
    "input_identity",
    "BOUNDARY_OVERLAP",
    "BOUNDARY_TILE",
    "blend_weights",
    "is_out_of_memory",
]

#: Approximate output chunk side (pixels) of the streaming engine.
TARGET_CHUNK = 1024

#: Default input tile side (pixels, context included) of the engine and of everything
#: built on it for super-resolution (``sr.super_resolve``, ``srmat sr``, the SR widget).
#: Large tiles keep the recomputed context small: the model processes
#: ``(tile / (tile - 2*overlap))**2`` times the image (1.14x at 1024/32, 1.78x at 256/32).
DEFAULT_TILE = 1024
#: Default context per tile side (input pixels).
DEFAULT_OVERLAP = 32
#: The refusal of ``whole_image`` with a ``scheduler`` for an image that fits one tile,
#: worded with the caller's names: ``whole_image=True`` / ``scheduler=`` in Python,
#: ``--whole-image`` / ``--scheduler`` in ``srmat sr run``.
WHOLE_IMAGE_WITH_SCHEDULER = (
    "{whole} computes an image that fits one tile in this process, in one call; it cannot "
    "be combined with {scheduler} (the cluster's workers compute the tiles): leave one "
    "of them out")
#: Default number of tiles per ``fn`` call (the batch size) of the engine and of the
#: inference built on it (``sr.super_resolve``, ``edges.predict_boundaries``, the rescan
#: plan, ``srmat sr run``, the SR widget); capped by :func:`effective_batch_size` and
#: halved on out-of-memory errors.
DEFAULT_BATCH_SIZE = 4
#: Default tile side and context of the UAED boundary model (``edges.predict_boundaries``,
#: ``srmat edges predict``, the boundaries widget, ``srmat grain-size``). 512 px: out of
#: fold the same accuracy as 256 px tiles (AP 0.582 both, per-image ℓ̄ error 9.38 vs
#: 9.43 %, ``studies/boundary_tile_oof.py``) with less recomputed context (1.31x the image
#: instead of 1.78x; a 256² region is one tile instead of four).
BOUNDARY_TILE = 512
BOUNDARY_OVERLAP = 32
#: Bytes of float32 ``fn`` output one batch may hold; caps the batch size so that large
#: tiles (a 1024 tile at x4 RGB gives 200 MB per tile) do not multiply peak memory.
BATCH_OUTPUT_BUDGET = 256 * 2**20
#: Outputs at least this large get a log line with their size and the free space.
SIZE_LOG_BYTES = 64 * 2**20
#: Effective (shrunk) tiles are rounded up to a multiple of this.
TILE_MULTIPLE = 8
#: Bytes of float32 the float -> integer output conversion handles at a time: its
#: multiply, round and clip passes then stay in the CPU cache instead of each streaming
#: the whole chunk through memory.
CONVERT_STRIP_BYTES = 2**19
#: Lazy (Dask / Zarr) inputs of at most this many bytes are read into memory once, at
#: the first window, instead of window by window (every lazy read builds a graph and
#: goes through a scheduler: about 1 ms per window for a TIFF-backed Dask array).
INPUT_CACHE_BYTES = 64 * 2**20


class TilingError(ValueError):
    """Invalid tiling arguments or a ``fn`` that returns the wrong shape."""


class NonFiniteInputError(TilingError):
    """NaN or Inf input pixels, found as the tiles are read (an error of the input, which
    a command names by its file)."""


# --------------------------------------------------------------------------- geometry


def _ramp(k: np.ndarray, b: int) -> np.ndarray:
    if b <= 0:
        return np.ones_like(k, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    out = np.sin(0.5 * np.pi * (k + 0.5) / b) ** 2
    return np.where(k >= b, 1.0, out)


def blend_weights(tile: int, overlap: int, scale: int = 1) -> np.ndarray:
    """1-D blending window of one tile in output pixels (length ``tile * scale``).

    Parameters
    ----------
    tile, overlap : int
        Input tile size and per-side context.
    scale : int
        Output pixels per input pixel.

    Returns
    -------
    ndarray
        float64 weights: 0 over the outer ``overlap // 2`` input pixels, a raised
        cosine ramp over the next ``overlap`` (rounded up to even) pixels, 1 inside.
    """
    d = overlap // 2
    b = 2 * overlap - 2 * d
    s = tile - 2 * overlap
    n = tile * scale
    x = np.arange(n)
    u = x - d * scale
    span = (s + b) * scale
    w = _ramp(u, b * scale) * _ramp(span - 1 - u, b * scale)
    w[(u < 0) | (u >= span)] = 0.0
    return w


def effective_tile(H: int, W: int, tile: int, overlap: int) -> int:
    """Tile actually used for an ``H x W`` image: the smallest one giving the same grid.

    With stride ``s = tile - 2*overlap`` an axis of length ``L`` needs
    ``n = max(1, ceil((L - b) / s))`` tiles (``b`` = the blending ramp, see the module
    docstring). The returned tile is the smallest multiple of :data:`TILE_MULTIPLE`
    (and at most ``tile``) for which ``n`` tiles still cover each axis, so a small
    image does not pay for a huge tile and the last tile of a large image is not mostly
    reflect padding. The number of tiles per axis is unchanged and the result is a pure
    function of its arguments (deterministic for resume). When ``(L - b)`` is a multiple
    of ``s`` along the longer-stride axis the tile is returned unchanged.

    Parameters
    ----------
    H, W : int
        Image size (input pixels).
    tile, overlap : int
        Requested tile and per-side context (``tile > 2*overlap``).

    Returns
    -------
    int
        ``2*overlap < t <= tile``.
    """
    tile, overlap = int(tile), int(overlap)
    b = 2 * overlap - 2 * (overlap // 2)
    s = tile - 2 * overlap
    need = 2 * overlap + 1
    for size in (int(H), int(W)):
        n = max(1, math.ceil((size - b) / s))
        need = max(need, max(1, math.ceil((size - b) / n)) + 2 * overlap)
    need = -(-need // TILE_MULTIPLE) * TILE_MULTIPLE
    return min(tile, need)


def effective_batch_size(batch_size: int, tile: int, scale: int, out_channels: int,
                         budget: int | None = None) -> int:
    """Batch size capped so that one batch of float32 outputs fits ``budget`` bytes.

    Returns ``max(1, min(batch_size, budget // (tile**2 * scale**2 * out_channels * 4)))``
    with ``budget`` defaulting to :data:`BATCH_OUTPUT_BUDGET`.
    """
    if budget is None:
        budget = BATCH_OUTPUT_BUDGET
    per_tile = int(tile) ** 2 * int(scale) ** 2 * int(out_channels) * 4
    return max(1, min(int(batch_size), int(budget) // per_tile))


@dataclass(frozen=True)
class _Geometry:
    H: int
    W: int
    scale: int
    tile: int
    overlap: int
    m: int

    @property
    def d(self) -> int:
        return self.overlap // 2

    @property
    def b(self) -> int:
        return 2 * self.overlap - 2 * self.d

    @property
    def s(self) -> int:
        return self.tile - 2 * self.overlap

    def n_tiles(self, size: int) -> int:
        return max(1, math.ceil((size - self.b) / self.s))

    @property
    def ny(self) -> int:
        return self.n_tiles(self.H)

    @property
    def nx(self) -> int:
        return self.n_tiles(self.W)

    @property
    def chunk_lr(self) -> int:
        return self.m * self.s

    @property
    def chunk(self) -> int:
        return self.chunk_lr * self.scale

    @property
    def ncy(self) -> int:
        return math.ceil(self.H / self.chunk_lr)

    @property
    def ncx(self) -> int:
        return math.ceil(self.W / self.chunk_lr)

    def chunk_range(self, k: int, size: int) -> tuple[int, int]:
        """Input-pixel range of chunk ``k`` along an axis of length ``size``."""
        return k * self.chunk_lr, min((k + 1) * self.chunk_lr, size)

    def tiles_touching(self, k: int, size: int) -> list[int]:
        """Tiles whose positive-weight region intersects chunk ``k`` (one axis)."""
        a, e = self.chunk_range(k, size)
        n = self.n_tiles(size)
        span = self.s + self.b
        lo = max(0, (a - span) // self.s)
        return [j for j in range(lo, n) if j * self.s < e and j * self.s + span > a]

    def owner(self, j: int) -> int:
        return (j * self.s) // self.chunk_lr

    def owned_tiles(self, ky: int, kx: int) -> int:
        """The tiles chunk ``(ky, kx)`` owns (:meth:`owner` along both axes): those the
        progress counts done once the chunk is written (or skipped, resumed)."""
        return (sum(1 for j in self.tiles_touching(ky, self.H) if self.owner(j) == ky)
                * sum(1 for i in self.tiles_touching(kx, self.W) if self.owner(i) == kx))

    def chunks_of_tile(self, j: int, size: int) -> list[int]:
        a = j * self.s
        e = min(a + self.s + self.b, size)
        return list(range(a // self.chunk_lr, (e - 1) // self.chunk_lr + 1))

    def chunks_of_tile_yx(self, t: tuple[int, int]) -> list[tuple[int, int]]:
        """The chunks ``(ky, kx)`` tile ``t = (j, i)`` contributes to, row-major (the
        product of :meth:`chunks_of_tile` along Y and along X)."""
        return [(a, c) for a in self.chunks_of_tile(t[0], self.H)
                for c in self.chunks_of_tile(t[1], self.W)]

    def tile_sum(self, profile: np.ndarray, size: int, dtype) -> np.ndarray:
        """Sum over the tiles along one axis of ``profile`` (one tile's value per output
        pixel), each placed at its tile's output position (length ``size*scale``)."""
        total = np.zeros(size * self.scale, dtype)
        for j in range(self.n_tiles(size)):
            start = (j * self.s - self.d) * self.scale
            lo, hi = max(0, start), min(total.size, start + profile.size)
            if hi > lo:
                total[lo:hi] += profile[lo - start : hi - start]
        return total

    def norm_weights(self, size: int) -> np.ndarray:
        """Sum of tile weights per output pixel along one axis (length ``size*scale``)."""
        return self.tile_sum(blend_weights(self.tile, self.overlap, self.scale), size,
                             np.float64)


def _reflect(idx: np.ndarray, n: int) -> np.ndarray:
    """numpy ``mode="reflect"`` index mapping (edge not repeated), any distance."""
    if n == 1:
        return np.zeros_like(idx)
    period = 2 * (n - 1)
    idx = np.mod(idx, period)
    return np.where(idx >= n, period - idx, idx)


def _runs(idx: np.ndarray) -> list[tuple[int, int, slice]] | None:
    """Split an index vector into runs of step +1 or -1: ``[(a, b, src), ...]`` with
    ``idx[a:b]`` equal to ``range(n)[src]``; None when some step is neither (a 1-pixel
    axis). A reflected window is one run inside the image and one more per border, so
    a reflect-padded copy is a few slice copies instead of a gather per pixel."""
    n = int(idx.size)
    if n == 0:
        return []
    if n == 1:
        return [(0, 1, slice(int(idx[0]), int(idx[0]) + 1))]
    d = np.diff(idx)
    if not np.all((d == 1) | (d == -1)):
        return None
    cuts = [0, *(np.flatnonzero(d[1:] != d[:-1]) + 1).tolist(), n]
    runs = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        first, last = int(idx[a]), int(idx[b - 1])
        if b - a == 1 or d[a] == 1:
            runs.append((a, b, slice(first, last + 1)))
        else:
            runs.append((a, b, slice(first, last - 1 if last > 0 else None, -1)))
    return runs


def _gather(raw: np.ndarray, yi: np.ndarray, xi: np.ndarray, out: np.ndarray | None = None,
            convert: Callable[[np.ndarray, np.ndarray], Any] | None = None) -> np.ndarray:
    """``raw[np.ix_(yi, xi)]`` (channels-last): a view when both are contiguous ranges
    and ``out`` is None, else copied (or ``convert(src, dst)``-ed) block by block into
    ``out`` (default: a new array of ``raw``'s dtype)."""
    ry, rx = _runs(yi), _runs(xi)
    if out is None:
        if ry is not None and rx is not None and len(ry) == len(rx) == 1 \
                and ry[0][2].step is None and rx[0][2].step is None:
            return raw[ry[0][2], rx[0][2]]
        out = np.empty((yi.size, xi.size, *raw.shape[2:]), raw.dtype)
    if ry is None or rx is None:  # a 1-pixel axis: plain gather
        src = raw[np.ix_(yi, xi)]
        if convert is None:
            np.copyto(out, src)
        else:
            convert(src, out)
        return out
    for ya, yb, ys in ry:
        for xa, xb, xs in rx:
            if convert is None:
                out[ya:yb, xa:xb] = raw[ys, xs]
            else:
                convert(raw[ys, xs], out[ya:yb, xa:xb])
    return out


# --------------------------------------------------------------------------- fn runner


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an (accelerator or host) out-of-memory error.

    True for ``torch.cuda.OutOfMemoryError``, :class:`MemoryError`, and any
    ``RuntimeError`` whose message contains "out of memory".
    """
    try:
        import torch

        if isinstance(exc, torch.cuda.OutOfMemoryError):
            return True
    except (ImportError, AttributeError):  # pragma: no cover - torch is a dependency
        pass
    if isinstance(exc, MemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def _free_accelerator_memory() -> None:
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # pragma: no cover - best effort
        pass


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach()
        if hasattr(x, "float") and str(getattr(x, "dtype", "")) in ("torch.float16",
                                                                    "torch.bfloat16"):
            x = x.float()
        x = x.cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def _accepts_tile_ids(fn) -> bool:
    """Whether ``fn`` takes a ``tile_ids`` keyword (named, not just ``**kwargs``)."""
    try:
        p = inspect.signature(fn).parameters.get("tile_ids")
    except (TypeError, ValueError):  # builtins without a signature
        return False
    return p is not None and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)


class _Runner:
    """Calls ``fn`` in batches, halving the batch and then the tile on OOM.

    When ``fn`` takes a ``tile_ids`` keyword it gets one id per tile: ``prefix`` + the
    tile's grid index ``(j, i)`` (``prefix`` is the parent tile's id for OOM sub-tiles,
    giving ``(j, i, sub_j, sub_i)``), so stochastic models can seed each tile's noise
    independently of the batching.
    """

    def __init__(self, fn, *, batch_size: int, tile: int, overlap: int, scale: int,
                 out_channels: int, prefix: tuple[int, ...] | None = ()) -> None:
        self.fn = fn
        self.pass_ids = _accepts_tile_ids(fn)
        self.prefix = prefix
        self.batch_size = int(batch_size)
        self.tile = tile
        self.overlap = overlap
        self.scale = scale
        self.out_channels = out_channels
        self.sub_tile: int | None = None
        self.calls = 0
        self.messages: list[str] = []

    def _call(self, batch: np.ndarray, ids: list | None = None) -> np.ndarray:
        self.calls += 1
        if self.pass_ids and ids is not None and self.prefix is not None:
            out = _to_numpy(self.fn(batch, tile_ids=[(*self.prefix, *t) for t in ids]))
        else:
            out = _to_numpy(self.fn(batch))
        b, _, th, tw = batch.shape
        expect = (b, self.out_channels, th * self.scale, tw * self.scale)
        if out.shape != expect:
            hint = ""
            if out.ndim == 4 and out.shape[1] != self.out_channels and out.shape[0] == b:
                hint = f" (fn returned {out.shape[1]} channels: pass out_channels={out.shape[1]})"
            elif out.ndim == 4 and out.shape[2] != th * self.scale and th:
                hint = f" (fn upscales by {out.shape[2] / th:g}, scale={self.scale})"
            raise TilingError(
                f"fn returned an array of shape {tuple(out.shape)} for input {tuple(batch.shape)}; "
                f"expected {expect}{hint}"
            )
        if not all_finite(out):
            raise TilingError("the model returned NaN or Inf values (a diverged or broken "
                              "model?): nothing was written for these tiles")
        return out

    def _subtiled(self, one: np.ndarray, exc: BaseException, tile_id=None) -> np.ndarray:
        t = one.shape[-1]
        sub = self.sub_tile or t // 2
        if sub <= 2 * self.overlap:
            raise RuntimeError(
                f"fn ran out of memory with batch size 1 and tile {t}; a smaller tile would "
                f"not exceed 2*overlap={2 * self.overlap}. Reduce overlap or use a smaller "
                f"model/device ({exc})"
            ) from exc
        self.messages.append(f"out of memory at batch 1, tile {t}: sub-tiling with tile {sub}")
        img = np.moveaxis(one[0], 0, -1)
        prefix = None if tile_id is None or self.prefix is None else (*self.prefix, *tile_id)
        inner = _Runner(self.fn, batch_size=1, tile=sub, overlap=self.overlap,
                        scale=self.scale, out_channels=self.out_channels, prefix=prefix)
        try:
            res = _tiled_numpy(img, inner, tile=sub, overlap=self.overlap, scale=self.scale)
        finally:
            self.calls += inner.calls
            self.messages.extend(inner.messages)
        self.sub_tile = inner.sub_tile or sub
        return np.moveaxis(res, -1, 0)[None]

    def __call__(self, tiles: np.ndarray, tile_ids: list | None = None) -> np.ndarray:
        outs = []
        i = 0
        while i < len(tiles):
            bs = self.batch_size
            part = tiles[i : i + bs]
            ids = None if tile_ids is None else tile_ids[i : i + bs]
            try:
                if self.sub_tile is not None and len(part) == 1 and self.sub_tile < part.shape[-1]:
                    raise MemoryError("out of memory (remembered)")
                res = self._call(part, ids)
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
                _free_accelerator_memory()
                if bs > 1:
                    self.batch_size = max(1, bs // 2)
                    self.messages.append(
                        f"out of memory at batch size {bs}: retrying with {self.batch_size}"
                    )
                    continue
                res = self._subtiled(part, exc, None if ids is None else ids[0])
            outs.append(res)
            i += len(part)
        return np.concatenate(outs, axis=0) if len(outs) > 1 else outs[0]


# --------------------------------------------------------------------------- source


class _Source:
    """Uniform window reader over numpy / dask / zarr arrays, with reflect padding."""

    def __init__(self, image) -> None:
        self.array = image
        shape = tuple(int(s) for s in image.shape)
        if len(shape) not in (2, 3) or shape[0] < 1 or shape[1] < 1:
            raise TilingError(f"image must be (H, W) or (H, W, C), got shape {shape}")
        self.shape = shape
        self.H, self.W = shape[:2]
        self.C = shape[2] if len(shape) == 3 else 1
        self.grey = len(shape) == 2
        self.dtype = np.dtype(image.dtype)
        if not (np.issubdtype(self.dtype, np.number) or self.dtype == np.bool_):
            raise TilingError(f"unsupported image dtype {self.dtype}")
        if isinstance(image, np.ndarray):
            _check_finite(image, 0, 0)
        self._pixels: Any = None

    def pixels(self) -> Any:
        """The array windows are read from: the input, or (lazy inputs of at most
        :data:`INPUT_CACHE_BYTES`) its pixels read into memory at the first call."""
        if getattr(self, "_pixels", None) is None:
            arr = self.array
            nbytes = math.prod(self.shape) * self.dtype.itemsize
            if not isinstance(arr, np.ndarray) and nbytes <= INPUT_CACHE_BYTES:
                arr = read_window(arr, 0, self.H, 0, self.W)
            self._pixels = arr
        return self._pixels

    def bbox(self, y0: int, y1: int, x0: int, x1: int) -> tuple[np.ndarray, np.ndarray]:
        yi = _reflect(np.arange(y0, y1), self.H)
        xi = _reflect(np.arange(x0, x1), self.W)
        return yi, xi

    def read(self, y0: int, y1: int, x0: int, x1: int) -> _Window:
        """Read rows ``[y0, y1)`` x cols ``[x0, x1)`` (may extend outside: reflect)."""
        yi, xi = self.bbox(y0, y1, x0, x1)
        ylo, yhi, xlo, xhi = int(yi.min()), int(yi.max()) + 1, int(xi.min()), int(xi.max()) + 1
        raw = read_window(self.pixels(), ylo, yhi, xlo, xhi)
        _check_finite(raw, ylo, xlo)
        return _Window(raw, y0, x0, yi - ylo, xi - xlo, self.grey)

    def read_raw(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Rows ``[y0, y1)`` x cols ``[x0, x1)`` in the input's dtype, ``(h, w[, C])``
        (reflect padding outside the image, as :meth:`read`)."""
        yi, xi = self.bbox(y0, y1, x0, x1)
        ylo, yhi, xlo, xhi = int(yi.min()), int(yi.max()) + 1, int(xi.min()), int(xi.max()) + 1
        raw = np.asarray(read_window(self.pixels(), ylo, yhi, xlo, xhi))
        _check_finite(raw, ylo, xlo)
        return _gather(raw, yi - ylo, xi - xlo)


def _check_finite(raw: np.ndarray, ylo: int, xlo: int) -> None:
    """Refuse NaN/Inf input pixels (the model would spread them; nothing is filled in)."""
    if not np.issubdtype(raw.dtype, np.floating):
        return
    bad = ~np.isfinite(raw)
    if bad.any():
        pos = np.argwhere(bad)[0]
        raise NonFiniteInputError(
            f"the input has NaN or Inf pixels ({int(bad.sum())} in rows {ylo}:"
            f"{ylo + raw.shape[0]}, first at row {ylo + int(pos[0])}, column "
            f"{xlo + int(pos[1])}): replace them first (e.g. numpy.nan_to_num) - "
            "napari-srmat does not invent pixel values")


class _Window:
    """Raw input pixels around some tiles (input dtype, reflect indices ``yi``/``xi``
    relative to ``data``); tiles are normalised (:func:`to_float01`) as they are cut."""

    def __init__(self, data, y0, x0, yi, xi, grey) -> None:
        self.data = data if data.ndim == 3 else data[..., None]
        self.y0, self.x0, self.yi, self.xi = y0, x0, yi, xi

    def fill_tile(self, out: np.ndarray, ty: int, tx: int) -> np.ndarray:
        """Write the float32 tile starting at input (ty, tx) into ``out`` ``(C, th, tw)``:
        one pass (transpose, normalisation and reflect padding together)."""
        ry = self.yi[ty - self.y0 : ty - self.y0 + out.shape[-2]]
        rx = self.xi[tx - self.x0 : tx - self.x0 + out.shape[-1]]
        _gather(self.data, ry, rx, np.moveaxis(out, 0, -1), _to_float01_hwc)
        return out


def _to_float01_hwc(src: np.ndarray, dst: np.ndarray) -> None:
    from ..io import to_float01

    to_float01(src, out=dst)


# --------------------------------------------------------------------------- chunk core


def _convert_into(acc: np.ndarray, out: np.ndarray, axis: int = 0) -> np.ndarray:
    """Write the float32 [0, 1] values ``acc`` into ``out`` in ``out``'s dtype (the one
    output rule of the engine); ``acc`` is not modified.

    Integers: ``clip(rint(acc * max), min, max)``, computed :data:`CONVERT_STRIP_BYTES`
    at a time along ``axis`` (the three passes stay in the CPU cache); bool: ``acc > 0.5``;
    floats: cast. ``0.0 + acc`` gives the same ``out`` (also for ``-0.0``), so a pixel
    with a single contribution of weight 1 is converted straight from the tile output.
    """
    dtype = out.dtype
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        top = float(info.max)
        lo = 0 if info.min >= 0 else info.min
        if acc.size == 0:
            return out
        a_, o_ = np.moveaxis(acc, axis, 0), np.moveaxis(out, axis, 0)
        rows = max(1, CONVERT_STRIP_BYTES // max(1, a_[:1].nbytes))
        tmp = np.empty(a_[:rows].shape, np.float32)
        for r in range(0, a_.shape[0], rows):
            a = a_[r : r + rows]
            t = tmp[: a.shape[0]]
            np.multiply(a, top, out=t)
            np.rint(t, out=t)
            np.clip(t, lo, top, out=o_[r : r + rows], casting="unsafe")
    elif dtype == np.bool_:
        np.greater(acc, 0.5, out=out)
    else:
        # + 0.0: -0.0 becomes 0.0, as when it is added to a zeroed accumulator
        np.add(acc, np.float32(0.0), out=out, dtype=np.float32, casting="unsafe")
    return out


def _channels_last(chunk: np.ndarray, grey: bool) -> np.ndarray:
    """A ``(C, h, w)`` output chunk as the output lays it out: ``(h, w)`` for one channel
    from a grey input, else ``(h, w, C)`` (a view)."""
    res = np.moveaxis(chunk, 0, -1)
    return res[..., 0] if grey and chunk.shape[0] == 1 else res


def _convert_out(acc: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """float32 [0, 1] accumulator -> a new array of ``dtype`` with ``acc``'s memory
    layout (:func:`_convert_into`; a channels-last view of a channels-first chunk stays
    channels-first in memory, which is what the OME-Zarr store writes)."""
    if np.issubdtype(dtype, np.integer):
        return _convert_into(acc, np.empty_like(acc, dtype=dtype))
    if dtype == np.bool_:
        return acc > 0.5
    return acc.astype(dtype, copy=False)


def _ones_span(w: np.ndarray) -> tuple[int, int]:
    """``(a, b)`` with ``w[a:b] == 1`` exactly and nowhere else, or ``(0, 0)``."""
    one = np.flatnonzero(w == 1.0)
    if one.size == 0 or one.size != one[-1] + 1 - one[0]:
        return 0, 0
    return int(one[0]), int(one[-1]) + 1


def _add_weighted(dst: np.ndarray, src: np.ndarray, wy: np.ndarray, wx: np.ndarray,
                  skip: tuple[int, int, int, int] | None = None) -> None:
    """``dst += src * wy[:, None] * wx`` (``(C, h, w)`` float32, separable weights) in place.

    Bit for bit ``dst += (src * wy[:, None]) * wx`` without full-size temporaries: where
    a weight is exactly 1 its product is skipped (``x * 1 == x``), so the flat middle of a
    tile is added as it is and only the thin blending bands are multiplied. ``skip`` =
    ``(y0, y1, x0, x1)``, inside the flat middle, is left out (the engine converts that
    part straight from ``src``).
    """
    r0, r1 = _ones_span(wy)
    c0, c1 = _ones_span(wx)
    h, w = src.shape[1:]
    if skip is not None and not (r0 <= skip[0] <= skip[1] <= r1
                                 and c0 <= skip[2] <= skip[3] <= c1):
        raise ValueError(f"skip {skip} is not inside the flat middle {(r0, r1, c0, c1)}")
    if r1 > r0 and c1 > c0:
        if skip is None:
            dst[:, r0:r1, c0:c1] += src[:, r0:r1, c0:c1]
        else:
            y0, y1, x0, x1 = skip
            for ya, yb, xa, xb in ((r0, y0, c0, c1), (y1, r1, c0, c1), (y0, y1, c0, x0),
                                   (y0, y1, x1, c1)):
                if yb > ya and xb > xa:
                    dst[:, ya:yb, xa:xb] += src[:, ya:yb, xa:xb]
        for a, b in ((0, c0), (c1, w)):
            if b > a:
                dst[:, r0:r1, a:b] += src[:, r0:r1, a:b] * wx[a:b]
        rows: tuple[tuple[int, int], ...] = ((0, r0), (r1, h))
    else:
        rows = ((0, h),)
    for a, b in rows:
        if b > a:
            part = src[:, a:b] * wy[a:b, None]
            part *= wx
            dst[:, a:b] += part


def _complement(h: int, w: int, rects: list[tuple[int, int, int, int]]
                ) -> list[tuple[int, int, int, int]] | None:
    """Rectangles covering ``[0, h) x [0, w)`` minus ``rects`` (disjoint, forming a
    product of row and column spans, as the sole regions of a grid of tiles do); None
    when they do not."""
    ys = sorted({(r[0], r[1]) for r in rects})
    xs = sorted({(r[2], r[3]) for r in rects})
    if len(ys) * len(xs) != len(rects) or set(rects) != {(*y, *x) for y in ys for x in xs}:
        return None

    def gaps(spans, n):
        out, at = [], 0
        for a, b in spans:
            if a < at:
                return None
            if a > at:
                out.append((at, a))
            at = b
        if at < n:
            out.append((at, n))
        return out

    gy, gx = gaps(ys, h), gaps(xs, w)
    if gy is None or gx is None:
        return None
    return [(a, b, 0, w) for a, b in gy] + [(a, b, c, d) for a, b in ys for c, d in gx]


class _Engine:
    def __init__(self, src: _Source, runner: _Runner, geom: _Geometry, out_channels: int,
                 out_dtype: np.dtype, *, reuse_buffers: bool = False) -> None:
        self.src = src
        self.runner = runner
        self.geom = geom
        self.co = out_channels
        self.out_dtype = out_dtype
        g = geom
        self.wy = g.norm_weights(g.H)
        self.wx = g.norm_weights(g.W)
        self.w1 = blend_weights(g.tile, g.overlap, g.scale)
        # one accumulator for every chunk (a fresh ~chunk^2*C*4-byte array per chunk costs
        # page faults: system time); only where the result is consumed before the next
        # chunk (the local engine), not in dask tasks that return it
        self.reuse_buffers = reuse_buffers
        self._bufs: dict[str, np.ndarray] = {}
        self.ny_count = self._contributors(g.H)
        self.nx_count = self._contributors(g.W)
        self._wcache: dict[tuple[int, int], tuple[int, np.ndarray]] = {}

    def _buffer(self, name: str, h: int, w: int, dtype) -> np.ndarray:
        """``(C, h, w)`` uninitialised; one per ``name`` reused for every chunk when
        ``reuse_buffers`` (a chunk's result is consumed before the next chunk)."""
        if not self.reuse_buffers:
            return np.empty((self.co, h, w), dtype)
        buf = self._bufs.get(name)
        if buf is None or buf.shape[1] < h or buf.shape[2] < w or buf.dtype != dtype:
            # the largest chunk there is: the first chunk's view is contiguous
            g = self.geom
            ch, cw = min(g.chunk, g.H * g.scale), min(g.chunk, g.W * g.scale)
            buf = self._bufs[name] = np.empty((self.co, max(h, ch), max(w, cw)), dtype)
        return buf[:, :h, :w]

    def _contributors(self, size: int) -> np.ndarray:
        """Number of tiles with a positive weight at each output pixel along one axis."""
        return self.geom.tile_sum((self.w1 > 0).astype(np.int32), size, np.int32)

    def _own_span(self, lo: int, hi: int, count: np.ndarray, w: np.ndarray
                  ) -> tuple[int, int] | None:
        """Piece-relative span of output pixels ``[lo, hi)`` (weights ``w``) where this
        tile is the only one with a positive weight, inside its flat middle; or None."""
        one = np.flatnonzero(count[lo:hi] == 1)
        if one.size == 0 or one.size != one[-1] + 1 - one[0]:
            return None
        a, b = int(one[0]), int(one[-1]) + 1
        f0, f1 = _ones_span(w)
        return (a, b) if f0 <= a < b <= f1 else None

    def _sole_rects(self, ky: int, kx: int, owned: list[tuple[int, int]]
                    ) -> dict[tuple[int, int], tuple[int, int, int, int]]:
        """Chunk-relative rectangles ``(y0, y1, x0, x1)`` where an owned tile is the only
        contributor (weight exactly 1): its output there is the chunk's, unblended."""
        rects = {}
        for t in owned:
            for _, ys, xs, _, _, wyy, wxx in self.piece_boxes(t, [(ky, kx)]):
                cys, cxs = self.chunk_hr(ky, kx)
                sy = self._own_span(cys.start + ys[0], cys.start + ys[1], self.ny_count, wyy)
                sx = self._own_span(cxs.start + xs[0], cxs.start + xs[1], self.nx_count, wxx)
                if sy is not None and sx is not None:
                    rects[t] = (ys[0] + sy[0], ys[0] + sy[1], xs[0] + sx[0], xs[0] + sx[1])
        return rects

    # -- helpers
    def chunk_hr(self, ky: int, kx: int) -> tuple[slice, slice]:
        g = self.geom
        y0, y1 = g.chunk_range(ky, g.H)
        x0, x1 = g.chunk_range(kx, g.W)
        return slice(y0 * g.scale, y1 * g.scale), slice(x0 * g.scale, x1 * g.scale)

    def tile_weights(self, j: int, size_total: np.ndarray) -> tuple[int, np.ndarray]:
        """Start (output px) and normalised weights of tile ``j`` along one axis."""
        key = (j, id(size_total))  # self.wy or self.wx (kept for the engine's life)
        hit = self._wcache.get(key)
        if hit is None:
            hit = self._wcache[key] = self._tile_weights(j, size_total)
        return hit

    def _tile_weights(self, j: int, size_total: np.ndarray) -> tuple[int, np.ndarray]:
        g = self.geom
        start = (j * g.s - g.d) * g.scale
        w = self.w1.copy()
        lo, hi = max(0, start), min(size_total.size, start + w.size)
        w[: lo - start] = 0.0
        w[hi - start :] = 0.0
        seg = size_total[lo:hi]
        with np.errstate(divide="ignore", invalid="ignore"):
            w[lo - start : hi - start] = np.where(seg > 0, w[lo - start : hi - start] / seg, 0.0)
        return start, w.astype(np.float32)

    def window_for(self, tiles_y: Sequence[int], tiles_x: Sequence[int]) -> tuple[int, ...]:
        g = self.geom
        y0 = min(tiles_y) * g.s - g.d
        y1 = max(tiles_y) * g.s - g.d + g.tile
        x0 = min(tiles_x) * g.s - g.d
        x1 = max(tiles_x) * g.s - g.d + g.tile
        return y0, y1, x0, x1

    def compute_tiles(self, win: _Window, tiles: list[tuple[int, int]]) -> np.ndarray:
        g = self.geom
        # a fresh batch per call: fn may keep (or return) its input
        batch = np.empty((len(tiles), win.data.shape[2], g.tile, g.tile), np.float32)
        for b, (j, i) in enumerate(tiles):
            win.fill_tile(batch[b], j * g.s - g.d, i * g.s - g.d)
        ids = [(int(j), int(i)) for j, i in tiles]  # grid index: fn's tile_ids
        return self.runner(batch, ids)

    def tile_batches(self, win: _Window | None, tiles: list[tuple[int, int]], batch_size: int,
                     stop: StopToken | None = None
                     ) -> Generator[tuple[list | None, np.ndarray | None], None, None]:
        """Compute ``tiles`` (:meth:`compute_tiles` on ``win``) ``batch_size`` at a time.

        The one batching rule of the chunk computations (local engine and cluster
        tasks), so that both call ``fn`` with the same batches.

        Parameters
        ----------
        win : _Window or None
            The input window holding every tile (None only when ``tiles`` is empty).
        tiles : list of (int, int)
            Tile indices ``(j, i)``, computed in this order.
        batch_size : int
            Tiles per :meth:`compute_tiles` call (the last batch may be smaller).
        stop : StopToken, optional
            Checked before each batch.

        Yields
        ------
        (list, ndarray) or (None, None)
            ``(batch, outputs)`` per batch; ``(None, None)`` once, and nothing more is
            computed, when ``stop`` is requested before a batch (the caller stops).
        """
        for start in range(0, len(tiles), batch_size):
            if stop is not None and stop.stop_requested:
                yield None, None
                return
            batch = tiles[start : start + batch_size]
            yield batch, self.compute_tiles(win, batch)

    def pieces(self, tile_idx, out, targets) -> list[tuple[Any, tuple, tuple, np.ndarray]]:
        """Split a weighted tile output into pieces for the chunks ``targets``."""
        res = []
        for k, ys, xs, src, wyy, wxx in self.piece_views(tile_idx, out, targets):
            # separable float32 weighting: no (tile*scale)^2 float64 temporaries
            part = src * wyy[:, None]
            part *= wxx[None, :]
            res.append((k, ys, xs, part))
        return res

    def piece_views(self, tile_idx, out, targets):
        """Per target chunk: ``(k, ys, xs, view of out, wy, wx)`` (unweighted view, its
        row/column weights; ``ys``/``xs`` are chunk-relative bounds)."""
        return [(k, ys, xs, out[:, oy[0] : oy[1], ox[0] : ox[1]], wyy, wxx)
                for k, ys, xs, oy, ox, wyy, wxx in self.piece_boxes(tile_idx, targets)]

    def piece_boxes(self, tile_idx, targets):
        """Per target chunk: ``(k, ys, xs, oy, ox, wy, wx)``: chunk-relative bounds, the
        same region's bounds in the tile's output, its row/column weights."""
        j, i = tile_idx
        sy, wy = self.tile_weights(j, self.wy)
        sx, wx = self.tile_weights(i, self.wx)
        res = []
        for ky, kx in targets:
            cys, cxs = self.chunk_hr(ky, kx)
            ylo, yhi = max(cys.start, sy), min(cys.stop, sy + wy.size)
            xlo, xhi = max(cxs.start, sx), min(cxs.stop, sx + wx.size)
            if yhi <= ylo or xhi <= xlo:
                continue
            wyy = wy[ylo - sy : yhi - sy]
            wxx = wx[xlo - sx : xhi - sx]
            nzy = np.flatnonzero(wyy)
            nzx = np.flatnonzero(wxx)
            if nzy.size == 0 or nzx.size == 0:
                continue
            ya, yb = int(ylo + nzy[0]), int(ylo + nzy[-1] + 1)
            xa, xb = int(xlo + nzx[0]), int(xlo + nzx[-1] + 1)
            res.append(
                ((ky, kx), (ya - cys.start, yb - cys.start), (xa - cxs.start, xb - cxs.start),
                 (ya - sy, yb - sy), (xa - sx, xb - sx), wy[ya - sy : yb - sy],
                 wx[xa - sx : xb - sx])
            )
        return res

    def chunk_gen(
        self,
        ky: int,
        kx: int,
        *,
        pending: list | None = None,
        have_piece: Callable[[tuple[int, int]], bool] = lambda t: False,
        spill: Callable[[tuple[int, int], list], None] | None = None,
        spill_targets: Callable[[tuple[int, int]], bool] = lambda k: False,
        batch_size: int = DEFAULT_BATCH_SIZE,
        stop: StopToken | None = None,
    ) -> Generator[int, None, np.ndarray | None]:
        """Compute chunk ``(ky, kx)``; yields numbers of owned tiles finished."""
        g = self.geom
        tys = g.tiles_touching(ky, g.H)
        txs = g.tiles_touching(kx, g.W)
        owned, others = [], []
        for j in tys:
            for i in txs:
                (owned if (g.owner(j), g.owner(i)) == (ky, kx) else others).append((j, i))
        cys, cxs = self.chunk_hr(ky, kx)
        h, w = cys.stop - cys.start, cxs.stop - cxs.start
        # where an owned tile is the only contributor its output is converted straight
        # into the result; the accumulator holds (and is zeroed) only elsewhere
        sole = self._sole_rects(ky, kx, owned)
        rest = _complement(h, w, list(sole.values()))
        if rest is None:
            sole, rest = {}, [(0, h, 0, w)]
        acc = self._buffer("acc", h, w, np.float32)
        for y0, y1, x0, x1 in rest:
            acc[:, y0:y1, x0:x1] = 0.0
        res = self._buffer("out", h, w, self.out_dtype)
        contributions = list(pending or [])
        missing = [t for t in others if not have_piece(t)]
        # read only the input under the tiles computed here (none when every tile of
        # this chunk came as a strip from an earlier chunk)
        todo = missing + owned
        win = self.src.read(*self.window_for([t[0] for t in todo], [t[1] for t in todo])) \
            if todo else None
        for batch, outs in self.tile_batches(win, missing, batch_size, stop):
            if batch is None:  # stopped
                return None
            for t, out in zip(batch, outs):
                for _, ys, xs, part in self.pieces(t, out, [(ky, kx)]):
                    contributions.append((t, ys, xs, part))
        contributions.sort(key=lambda c: c[0])
        for _, ys, xs, part in contributions:
            acc[:, ys[0] : ys[1], xs[0] : xs[1]] += part
        del contributions
        for batch, outs in self.tile_batches(win, owned, batch_size, stop):
            if batch is None:  # stopped
                return None
            for t, out in zip(batch, outs):
                targets = [k for k in g.chunks_of_tile_yx(t)
                           if k == (ky, kx) or spill_targets(k)]
                for k, ys, xs, src, wyy, wxx in self.piece_views(t, out, targets):
                    if k == (ky, kx):
                        r = sole.get(t)
                        skip = None if r is None else (r[0] - ys[0], r[1] - ys[0],
                                                       r[2] - xs[0], r[3] - xs[0])
                        _add_weighted(acc[:, ys[0] : ys[1], xs[0] : xs[1]], src, wyy, wxx,
                                      skip)
                        if skip is not None:
                            _convert_into(src[:, skip[0] : skip[1], skip[2] : skip[3]],
                                          res[:, r[0] : r[1], r[2] : r[3]], axis=1)
                    elif spill is not None:
                        part = src * wyy[:, None]
                        part *= wxx[None, :]
                        spill(k, [(t, ys, xs, part)])
            del outs
            yield len(batch)
        for y0, y1, x0, x1 in rest:
            _convert_into(acc[:, y0:y1, x0:x1], res[:, y0:y1, x0:x1], axis=1)
        return _channels_last(res, self.src.grey)

    def whole_output(self) -> np.ndarray:
        """``fn`` once on the whole image (no reflect-padded context): float32
        ``(C_out, H*scale, W*scale)``, tile id ``(0, 0)``."""
        g = self.geom
        win = self.src.read(0, g.H, 0, g.W)
        batch = np.empty((1, win.data.shape[2], g.H, g.W), np.float32)
        win.fill_tile(batch[0], 0, 0)
        return self.runner(batch, [(0, 0)])[0]

    def chunk_from(self, full: np.ndarray, ky: int, kx: int) -> np.ndarray:
        """Chunk ``(ky, kx)`` of a whole float32 output, converted (channels-last)."""
        ys, xs = self.chunk_hr(ky, kx)
        res = self._buffer("out", ys.stop - ys.start, xs.stop - xs.start, self.out_dtype)
        _convert_into(full[:, ys, xs], res, axis=1)
        return _channels_last(res, self.src.grey)

    def chunk_direct(self, ky: int, kx: int, chunk_fn: Callable, context: int,
                     stop: StopToken | None = None
                     ) -> Generator[int, None, np.ndarray | None]:
        """Chunk ``(ky, kx)`` by ``chunk_fn`` on its input window plus ``context`` pixels
        per side (reflect padded at the image border), cropped: no tiles, no blending.

        The chunk is done in strips of one tile stride, so progress (counted in the tiles
        of the blended path: yields the owned tiles finished) and ``stop`` come as often
        as on the tiled path; returns None when stopped.
        """
        g = self.geom
        s, c = g.scale, int(context)
        y0, y1 = g.chunk_range(ky, g.H)
        x0, x1 = g.chunk_range(kx, g.W)
        n_rows = sum(1 for j in g.tiles_touching(ky, g.H) if g.owner(j) == ky)
        n_x = sum(1 for i in g.tiles_touching(kx, g.W) if g.owner(i) == kx)
        flat = self.src.grey and self.co == 1
        starts = list(range(y0, y1, g.s))
        # one strip (the usual case: a chunk of one tile stride) is returned as it is
        res = None if len(starts) == 1 else np.empty(
            ((y1 - y0) * s, (x1 - x0) * s) + (() if flat else (self.co,)), self.out_dtype)
        for k, a in enumerate(starts):
            if stop is not None and stop.stop_requested:
                return None
            e = min(a + g.s, y1)
            raw = self.src.read_raw(a - c, e + c, x0 - c, x1 + c)
            out = np.asarray(chunk_fn(raw, self.out_dtype))
            expect = ((e - a + 2 * c) * s, (x1 - x0 + 2 * c) * s)
            if out.shape[:2] != expect:
                raise TilingError(f"chunk_fn returned shape {out.shape} for a window of "
                                  f"shape {raw.shape}; expected {expect} (scale {s})")
            out = out[c * s : c * s + (e - a) * s, c * s : c * s + (x1 - x0) * s]
            if out.ndim == 2 and not flat:
                out = out[..., None]
            if out.dtype != self.out_dtype:
                if not np.issubdtype(out.dtype, np.floating):
                    raise TilingError(f"chunk_fn returned {out.dtype}, expected "
                                      f"{self.out_dtype} or float32 in [0, 1]")
                if not all_finite(out):
                    raise TilingError("chunk_fn returned NaN or Inf values: nothing was "
                                      "written for this chunk")
                out = _convert_out(np.asarray(out, np.float32), self.out_dtype)
            if res is None:
                res = out
            else:
                res[(a - y0) * s : (e - y0) * s] = out
            last = k == len(starts) - 1
            yield (n_x * max(0, n_rows - k) if last else n_x) if k < n_rows else 0
        return res


def _drive(gen: Generator) -> Any:
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


# --------------------------------------------------------------------------- setup


def check_tile_overlap(tile: int, overlap: int, *,
                       error: type[ValueError] = TilingError,
                       tile_words: tuple[str, str] = ("tile {}", "tile={}"),
                       overlap_words: str | None = None) -> None:
    """The one rule for a tile and its overlap (``super_resolve``, ``plan_rescan``,
    ``predict_boundaries``, ``tiled_apply``, and the ``srmat`` commands through
    :func:`napari_srmat.cli.check_tile_flags`, which words it with their flags): the
    tile is larger than twice the overlap, else no pixel of it is its own.

    Parameters
    ----------
    tile, overlap : int
        The tile side and the overlap used, in input px.
    error : type of ValueError
        The exception raised.
    tile_words : (str, str)
        How the message names the tile given and the least tile to give, each with a
        ``{}`` for the number: ``("tile {}", "tile={}")`` for Python callers,
        ``("--tile {}", "--tile {}")`` for a command.
    overlap_words : str, optional
        How the message names the overlap used (default ``"overlap N"``; a command
        names its flag, its default or the model's receptive field).

    Examples
    --------
    >>> check_tile_overlap(9, 4)
    >>> check_tile_overlap(8, 4)
    Traceback (most recent call last):
    ...
    napari_srmat.tiling._engine.TilingError: tile 8 must be larger than 2 x overlap 4 (give tile=9 or more)
    """  # noqa: E501
    if tile <= 2 * overlap:
        named = f"overlap {overlap}" if overlap_words is None else overlap_words
        raise error(f"{tile_words[0].format(tile)} must be larger than 2 x {named} "
                    f"(give {tile_words[1].format(2 * overlap + 1)} or more)")


def overlap_used(overlap: int | None, receptive_field: int = 0) -> int:
    """The overlap a tiled run of a model uses: the one given (None: the default,
    :data:`DEFAULT_OVERLAP`) raised to the model's receptive field, the least that shows
    no seams. The one rule of :func:`napari_srmat.sr.apply.resolve_overlap` (which
    warns when it raises a given overlap) and of the ``srmat`` commands' check of
    ``--tile`` (:func:`napari_srmat.cli.check_tile_flags`).

    Parameters
    ----------
    overlap : int or None
        The overlap given, in input px (checked by the caller); None: not given.
    receptive_field : int
        The model's receptive field in input px (0: none known, as before a model is
        loaded).

    Examples
    --------
    >>> overlap_used(None), overlap_used(None, 40), overlap_used(8, 2), overlap_used(8, 12)
    (32, 40, 8, 12)
    """
    return max(DEFAULT_OVERLAP if overlap is None else int(overlap), int(receptive_field))


def _validate(scale, tile, overlap, batch_size) -> tuple[int, int, int, int]:
    if isinstance(scale, bool) or not isinstance(scale, int | np.integer) or scale < 1:
        raise TilingError(f"scale must be a positive integer, got {scale!r}")
    for name, v in (("tile", tile), ("overlap", overlap), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            raise TilingError(f"{name} must be an integer, got {v!r}")
    if overlap < 0:
        raise TilingError(f"overlap must be >= 0, got {overlap}")
    check_tile_overlap(tile, overlap)
    if batch_size < 1:
        raise TilingError(f"batch_size must be >= 1, got {batch_size}")
    return int(scale), int(tile), int(overlap), int(batch_size)


def _setup(image, fn, scale, out_channels, tile, overlap, batch_size, out_dtype,
           chunk_size=None):
    scale, tile, overlap, batch_size = _validate(scale, tile, overlap, batch_size)
    if not callable(fn):
        raise TilingError("fn must be callable: float32 (B, C, t, t) -> (B, C_out, t*s, t*s)")
    arr, _ = image_data(image)
    src = _Source(arr)
    co = src.C if out_channels is None else int(out_channels)
    if co < 1:
        raise TilingError(f"out_channels must be >= 1, got {out_channels}")
    tile = effective_tile(src.H, src.W, tile, overlap)
    batch_size = effective_batch_size(batch_size, tile, scale, co)
    s = tile - 2 * overlap
    if chunk_size is None:
        m = max(1, math.ceil(TARGET_CHUNK / (s * scale)))
        b = 2 * overlap - 2 * (overlap // 2)
        if max(src.H, src.W) - b <= s:
            # one tile: one chunk for the whole image (an image of s..s+b px would
            # otherwise get thin edge chunks, each a full-size Zarr chunk to encode)
            m = max(m, math.ceil(max(src.H, src.W) / s))
    else:
        if int(chunk_size) < 1:
            raise TilingError(f"chunk_size must be positive, got {chunk_size}")
        m = max(1, int(chunk_size) // (s * scale))
    geom = _Geometry(src.H, src.W, scale, tile, overlap, m)
    odt = np.dtype(out_dtype) if out_dtype is not None else src.dtype
    runner = _Runner(fn, batch_size=batch_size, tile=tile, overlap=overlap, scale=scale,
                     out_channels=co)
    return src, geom, runner, co, odt


def _out_shape(src: _Source, geom: _Geometry, co: int) -> tuple[int, ...]:
    shape = (src.H * geom.scale, src.W * geom.scale)
    return shape if (src.grey and co == 1) else (*shape, co)


def _tiled_numpy(img: np.ndarray, runner: _Runner, *, tile: int, overlap: int, scale: int
                 ) -> np.ndarray:
    """Float32 in-memory tiled application (used for sub-tiling after OOM)."""
    src = _Source(img)
    s = tile - 2 * overlap
    geom = _Geometry(src.H, src.W, scale, tile, overlap, max(1, math.ceil(TARGET_CHUNK / s)))
    eng = _Engine(src, runner, geom, runner.out_channels, np.dtype(np.float32),
                  reuse_buffers=True)
    out = np.zeros((src.H * scale, src.W * scale, runner.out_channels), np.float32)
    for ky in range(geom.ncy):
        for kx in range(geom.ncx):
            ys, xs = eng.chunk_hr(ky, kx)
            res = _drive(eng.chunk_gen(ky, kx, batch_size=1))
            out[ys, xs] = res if res.ndim == out.ndim else res[..., None]
    return out


# --------------------------------------------------------------------------- public


def tiled_apply_job(
    image,
    fn: Callable[[np.ndarray], Any],
    *,
    scale: int = 1,
    out_channels: int | None = None,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    batch_size: int = DEFAULT_BATCH_SIZE,
    out: str | os.PathLike | None = None,
    out_dtype=None,
    stop: StopToken | None = None,
    resume: bool = True,
    pixel_size_um: float | tuple[float, float] | None = None,
    attrs: dict | None = None,
    n_levels: int | None = None,
    overwrite: bool = False,
    chunk_size: int | None = None,
    kind: str = "tiled",
    chunk_fn: Callable[[np.ndarray, np.dtype], np.ndarray] | None = None,
    chunk_context: int = 0,
    scheduler=None,
    whole_image: bool = False,
) -> Generator[Event, None, np.ndarray | Path | None]:
    """Apply ``fn`` tile by tile with seamless blending (job generator).

    Parameters
    ----------
    image : ndarray, dask array, zarr array or Micrograph
        ``(H, W)`` or ``(H, W, C)``; uint8, uint16 or float (uint8/uint16 are scaled to
        [0, 1], floats passed as they are). Dask/Zarr input is read window by window.
    fn : callable
        Maps a float32 batch ``(B, C, tile, tile)`` to ``(B, C_out, tile*scale,
        tile*scale)`` (numpy or torch tensor).
    scale : int
        Output pixels per input pixel.
    out_channels : int, optional
        ``C_out`` (default: the input's channel count).
    tile : int
        Largest input tile size given to ``fn`` (default :data:`DEFAULT_TILE`). The
        tile actually used is :func:`effective_tile`: the smallest multiple of 8 (at
        most ``tile``) with the same number of tiles per axis, so small images get one
        small tile and the grid does not overshoot the image by much.
    overlap : int
        Context per tile side; tiles advance by ``tile - 2*overlap``. Results equal one
        untiled call on the reflect-padded image when ``fn``'s receptive radius is at
        most ``overlap // 2``.
    batch_size : int
        Tiles per ``fn`` call, capped by :func:`effective_batch_size` so that one
        batch of float32 outputs stays within :data:`BATCH_OUTPUT_BUDGET` (256 MB;
        at least 1 tile). On out-of-memory errors (``torch.cuda.OutOfMemoryError``
        or "out of memory" ``RuntimeError``) it is halved, and at 1 the tile is
        sub-tiled with half its size (kept > 2*overlap).
    out : path-like, optional
        Stream into this OME-Zarr (via :class:`~napari_srmat.io.OmeZarrStreamWriter`):
        resumable (finished chunks are skipped on a rerun), cancellable, atomic.
    out_dtype : dtype, optional
        Output type (default: the input's; float outputs are not clipped).
    stop : StopToken, optional
        Checked between tile batches; on stop the job yields :class:`Stopped` and
        returns None, leaving only ``out.partial`` for a later resume.
    resume : bool
        Continue a matching ``out.partial`` (else start over).
    pixel_size_um : float or (float, float), optional
        Input pixel size, or ``(Y, X)`` sizes; the output gets ``pixel_size_um / scale``
        (default: the Micrograph's :attr:`~napari_srmat.io.Micrograph.store_pixel_size`,
        per axis when its pixels are not square). The output also records its place
        over the input (:func:`_output_place`: ``(s - 1)/(2s)`` input px up-left, plus
        a Micrograph's own translation), in µm, or without a pixel size in the input's
        pixels (a unit-less scale ``1/s`` and translation), so that napari shows it over
        its input.
    attrs : dict, optional
        Extra metadata stored in the OME-Zarr (``attrs["srmat"]``), e.g. the model.
    n_levels : int, optional
        Pyramid levels of the OME-Zarr output.
    overwrite : bool
        Replace an existing ``out`` (only a store napari-srmat wrote). Without it an
        existing ``out`` made from the same input with the same parameters is
        returned as it is ("already complete"), and one made differently is refused
        (:class:`napari_srmat.io.StreamMismatchError` naming the difference).
    chunk_size : int, optional
        Output chunk side in output pixels (rounded down to a multiple of
        ``(t - 2*overlap) * scale`` with ``t`` the effective tile, at least one
        stride); default: the smallest multiple >= 1024, or the whole image when it
        needs one tile. Also the Zarr chunk size of
        ``out``, e.g. 3840 px (one stride) for x4 at the default 1024/32 tiles.
    kind : str
        Kind of output recorded in the store's marker (``"super_resolution"``, ...).
    chunk_fn : callable, optional
        Fast path for a shift-equivariant ``fn`` (interpolation): called once per output
        chunk as ``chunk_fn(window, out_dtype)`` with the chunk's input window plus
        ``chunk_context`` pixels per side (``(h, w[, C])`` in the input's dtype, reflect
        padded at the image border) and returning ``(h*scale, w*scale[, C])`` in
        ``out_dtype`` (or float32 on the [0, 1] scale, converted like ``fn``'s output);
        the centre is cropped. No tiles, no blending: equal to the blended result (up to
        float rounding) when ``fn`` and ``chunk_fn`` compute the same function and its
        receptive radius is at most ``chunk_context`` and ``overlap // 2``. ``fn`` is
        then not called; the chunk grid, the store and the progress (in tiles) are those
        of the tiled path.
    chunk_context : int
        Input pixels of context per window side for ``chunk_fn``.
    scheduler : str or distributed.Client, optional
        Run the tiles on a dask.distributed cluster: an address (``"tcp://host:8786"``),
        ``"local:N"`` (a LocalCluster of N single-thread worker processes, closed at
        the end) or a Client. Workers write their own chunks into ``out.partial``
        (which must be on a file system they see at the same path) while this process
        holds the lock and writes the manifest, marker and pyramid; the result is
        bit-identical to the local run for a ``fn`` that is deterministic per batch.
        ``fn`` must be picklable. See :mod:`napari_srmat.tiling._distributed`.
    whole_image : bool
        When the image needs one tile (``max(H, W) <= tile - overlap`` for an even
        overlap), call ``fn`` once on the image itself, ``(1, C, H, W)``, instead of on
        the reflect-padded tile: no padded context is computed (a 992² image at the
        default 1024 px tile: 6 % less work) and the result is ``fn``'s untiled output,
        with ``fn``'s own border handling instead of reflect padding within its receptive
        field of the border. Larger images are tiled as usual. Recorded in the output's
        identity (``tiling.whole_image``); not with ``scheduler``.

    Notes
    -----
    The write protocol (docs/safety.md): ``out`` is written into ``out.partial`` and
    renamed when complete; ``out.lock`` refuses a second writer; the identity
    (:func:`input_identity` of the image, the tiling geometry and ``attrs``) decides
    whether a partial or complete store may be reused. Before starting, the output
    size is compared with the free disk (or memory for ``out=None``) and refused when
    it cannot fit. Non-finite input pixels are refused, and so is a ``fn`` that
    returns NaN or Inf.

    Yields
    ------
    Progress
        ``Progress(done, total, stage="tiles", resumed=n)`` per batch (``n`` tiles
        skipped because a resumed store had them); :class:`Log` on OOM
        retries; :class:`Stopped` when stopped.

    Returns
    -------
    ndarray or Path or None
        The output array (``out=None``), the OME-Zarr path, or None when stopped.

    Raises
    ------
    TilingError
        Bad arguments or ``fn`` returning a wrong shape.
    """
    from ..io._read import input_pixel_size
    from ..outputs import check_free_space, discarded_when_refused

    # the input's: given, else the Micrograph's ((Y, X) for pixels that are not square,
    # which image_data gives no single size), kept per axis in the store
    pixel_size_um = input_pixel_size(image, pixel_size_um)
    if chunk_fn is not None and (not callable(chunk_fn) or int(chunk_context) < 0):
        raise TilingError("chunk_fn must be callable and chunk_context >= 0")
    src, geom, runner, co, odt = _setup(image, fn, scale, out_channels, tile, overlap,
                                           batch_size, out_dtype, chunk_size)
    from ..errors import Option, check_flag, worded_error

    # "no" is truthy: it would run the bare model on the whole image
    whole_image = check_flag("whole_image", whole_image, error=TilingError)
    whole = whole_image and geom.ny == 1 and geom.nx == 1 and chunk_fn is None
    if whole and scheduler is not None:  # in the caller's words (worded_error)
        raise worded_error(TilingError, WHOLE_IMAGE_WITH_SCHEDULER,
                           whole=Option("whole_image=True", "--whole-image"),
                           scheduler=Option("scheduler=", "--scheduler"))
    out_px = (None if pixel_size_um is None
              else tuple(v / geom.scale for v in pixel_size_um)
              if isinstance(pixel_size_um, tuple) else pixel_size_um / geom.scale)
    shape = _out_shape(src, geom, co)
    out_bytes = int(np.prod(shape, dtype=np.float64)) * odt.itemsize
    writer = None
    result = None
    # each close runs once, last opened first, told how the run ended (closed_after_run)
    from ._distributed import _ClosesTellCtrlCOnce

    with _ClosesTellCtrlCOnce(contextlib.ExitStack()) as closing:  # a late Ctrl-C: once
        # the output's closes (its lock's release), entered first to run last: after the
        # cluster has closed, whose workers may write into OUT.partial until then
        output_closing = closing.enter_context(contextlib.ExitStack())
        client = None
        # connect before touching the output (a bad address leaves nothing behind)
        if scheduler is not None:
            from ._distributed import dask_client

            client = closing.enter_context(dask_client(scheduler))
        if out is not None:
            from ..io import OmeZarrStreamWriter
            from ._distributed import closed_after_run

            if not Path(out).exists() and not Path(f"{out}.partial").exists():
                check_free_space(out, out_bytes * 4 // 3, what=f"output {Path(out).name}")
            meta = dict(attrs or {})
            # geom.tile is the effective tile
            meta["tiling"] = {"tile": geom.tile, "overlap": geom.overlap, "scale": geom.scale,
                              "input_shape": list(src.shape), "input_dtype": str(src.dtype)}
            if whole:  # only then: stores written without it keep their identity
                meta["tiling"]["whole_image"] = True
            writer = OmeZarrStreamWriter(
                out, shape, odt, chunks=(geom.chunk, geom.chunk),
                axes="YX" if len(shape) == 2 else "YXC",
                pixel_size_um=out_px,
                **_output_place(image, pixel_size_um, geom.scale),
                attrs=meta, resume=resume, overwrite=overwrite,
                identity={"input": input_identity(image)}, kind=kind,
                inputs=[_input_path(image)],
            )
            output_closing.enter_context(closed_after_run(writer.close, f"the lock of {out}"))
            # a partial this run created is not left behind by an error that every
            # rerun repeats
            output_closing.enter_context(discarded_when_refused(
                writer.partial, created=not (writer.resumed or writer.complete)))
            if writer.moved_into_place:  # finished here: not found complete
                # read as a complete output found is (the writer's rule): one that lost a
                # chunk is refused naming --overwrite, not told finished
                from ..io._write import _check_not_damaged

                _check_not_damaged(writer.path)
                yield Log(f"moved {writer.partial} into place: an earlier run finished it "
                          "but was stopped before its swap", level="notice")
                return writer.path
            if writer.complete:
                yield AlreadyComplete(f"{out} is already complete (same input and "
                                      "parameters): nothing to do", path=str(out))
                return writer.path  # its lock released as the run closes
            left = 1.0 - writer.n_done() / writer.n_blocks
            # level 0 still to write plus the pyramid (a third of level 0)
            space = check_free_space(out, int(out_bytes * (left + 1 / 3)),
                                     what=f"output {Path(out).name}")
            if out_bytes >= SIZE_LOG_BYTES:
                yield Log(f"output {space}")
            if writer.resumed:
                yield Log(f"resuming {writer.partial}: {writer.n_done()} of "
                          f"{writer.n_blocks} chunks already written", level="notice")
                for key, value in writer.started_with.items():
                    yield Log(f"{writer.partial} was started with {key} {value}: "
                              "recorded as started_with beside this run's", level="notice")
        else:
            space = check_free_space(None, out_bytes, what="in-memory result")
            if out_bytes >= SIZE_LOG_BYTES:
                yield Log(f"result {space}")
            result = np.zeros(shape, odt)
        if client is None:
            result = yield from _run_chunks(src, runner, geom, co, odt, writer, result,
                                            stop, chunk_fn, chunk_context, whole)
        else:
            from ._distributed import run_chunks_distributed, workers_end_with_run

            yield Log("running the tiles on the dask cluster at "
                      f"{client.scheduler.address}")
            result = yield from run_chunks_distributed(
                client, src, runner, geom, co, odt, writer, result, stop, chunk_fn,
                chunk_context, workers_end_with_run=workers_end_with_run(scheduler))
        if result is None or writer is None:
            return result
        # an error or a Ctrl-C here leaves OUT.partial for a rerun, OUT untouched; a
        # Ctrl-C's line counts every chunk kept (the rerun only builds the pyramid)
        try:
            yield Log(f"building pyramid of {out}")
            writer.finish(n_levels)
        except KeyboardInterrupt as interrupt:
            _note_kept(interrupt, geom, writer, geom.ny * geom.nx)
            raise
        from ._distributed import tell_late_ctrl_c

        # the swap's renames run whole: a press waits for their end; the run had ended
        # then: told as it closes, once (the lock's release after the cluster's close),
        # and the earlier output replaced is left aside for the next writer to delete; a
        # press during its deletion stops it, told the same
        if writer.swap_in_whole().pressed:
            closing.callback(tell_late_ctrl_c)
        else:
            try:
                writer.remove_replaced()
            except KeyboardInterrupt:
                closing.callback(tell_late_ctrl_c)
        return writer.path


def _input_path(image) -> Path | None:
    path = getattr(image, "path", None) if _is_micrograph(image) else None
    return None if path is None else Path(path)


def _output_place(image, pixel_size_um, scale: int) -> dict:
    """Where an output's pixels lie, as :class:`~napari_srmat.io.OmeZarrStreamWriter`
    takes it: the input's place (a Micrograph's ``metadata["origin_um"]`` or
    ``["unitless_grid"]``; an array's: origin 0 at scale 1) on the ``scale``-times finer
    grid (:func:`~napari_srmat.io._pixel.finer_grid`: an SR output sits
    ``(s - 1)/(2s)`` input px up-left of its input's grid, so that it covers its input;
    a map at ``scale`` 1 keeps its input's place). ``origin_um`` with the input pixel
    size ``pixel_size_um``, else ``unitless_grid`` in the input's coordinates."""
    from ..io._pixel import finer_grid, pixel_size_yx

    meta = (image.metadata if _is_micrograph(image) else None) or {}
    if pixel_size_um is not None:
        origin = meta.get("origin_um") or (0.0, 0.0)
        return {"origin_um": finer_grid(pixel_size_yx(pixel_size_um), origin, scale)[1]}
    grid = meta.get("unitless_grid") or {"scale": (1.0, 1.0), "origin": (0.0, 0.0)}
    scale_yx, origin = finer_grid(grid["scale"], grid["origin"], scale)
    return {"unitless_grid": {"scale": scale_yx, "origin": origin}}


def _is_micrograph(image) -> bool:
    from ..io import Micrograph

    return isinstance(image, Micrograph)


def input_identity(image) -> dict:
    """Identity of a tiled job's input: shape, dtype, pixel fingerprint (and its file).

    Parameters
    ----------
    image : ndarray, dask array, zarr array or Micrograph
        The input. A Micrograph read from a file also records the file's
        :func:`napari_srmat.outputs.path_fingerprint`.

    Returns
    -------
    dict
        JSON-able, part of the output's identity (resume only on an exact match).
    """
    from ..outputs import array_fingerprint, path_fingerprint

    arr, _ = image_data(image)
    ident = {"shape": [int(v) for v in arr.shape], "dtype": np.dtype(arr.dtype).str,
             "pixels": array_fingerprint(arr)}
    path = _input_path(image)
    if path is not None and path.exists():
        ident["file"] = path_fingerprint(path)
    return ident


def stopped_line(geom: _Geometry, writer: Any, done: int, how: str = "stopped") -> str:
    """The one line of a tiled run stopped (or interrupted) after ``done`` tiles: what a
    rerun reuses. A rerun resumes whole output chunks (those ``writer`` recorded written),
    so the tiles done of chunks not finished are computed again; a run that finished
    none keeps nothing (an image within one chunk: every tile). How many tiles a rerun
    computes is not said: a kept chunk's edge tiles are computed again for the chunks
    beside it (a stop at 12 of 25 tiles keeping 9: the rerun made 23 model calls, not
    16; R5, session 50). Until 2026-12-07 every
    stop of a stored run said "partial output kept" (explorers: a Cancel at 512 of 1521
    tiles of a one-chunk SR store, and a Ctrl-C of ``srmat edges predict`` at 24 of 36
    tiles, were rerun from tile 0). The SR widget's Cancel and a stop token's
    :class:`~napari_srmat.jobs.Stopped` tell it, and ``srmat edges predict``'s
    ``interrupted`` line after a Ctrl-C (:func:`kept_at_interrupt`).

    Parameters
    ----------
    geom : _Geometry
        The run's tiling (its chunk grid and the tiles each chunk owns).
    writer : OmeZarrStreamWriter or None
        The run's output store; None for an in-memory run (nothing kept).
    done : int
        Tiles done (resumed ones included): on a local run the progress's count; on a
        cluster (``scheduler=``) the tiles owned by the chunks ``writer`` holds once the
        running tasks returned, which may exceed the last progress (a task past its
        last look at the stop still wrote its chunk).
    how : str
        ``"stopped"``, or ``""`` for a command's ``interrupted (after ...)`` line.

    Returns
    -------
    str
        E.g. ``"stopped after 12 of 25 tiles; 1 of 4 output chunks (1224x1224 px) kept
        in OUT.partial: a rerun computes the rest"``; with every chunk kept (a Ctrl-C
        at the last progress or while the pyramid is built) ``"... 4 of 4 output chunks
        (1224x1224 px) kept in OUT.partial: a rerun only builds the pyramid"``.
    """
    line = f"{how} after {done} of {geom.ny * geom.nx} tiles".lstrip()
    if writer is None:
        return line
    n = geom.ncy * geom.ncx
    kept = [(ky, kx) for ky in range(geom.ncy) for kx in range(geom.ncx)
            if writer.is_done((ky, kx))]
    chunks = (f"output chunk{'s' if n != 1 else ''} ({geom.chunk}x{geom.chunk} px)")
    if not kept:
        return (f"{line}; nothing kept: none of the {n} {chunks} was finished, so a "
                f"rerun computes every tile again ({writer.partial} holds no finished chunk)")
    rest = "only builds the pyramid" if len(kept) == n else "computes the rest"
    return f"{line}; {len(kept)} of {n} {chunks} kept in {writer.partial}: a rerun {rest}"


#: The attribute of a KeyboardInterrupt of a stored tiled run (a Ctrl-C) that says what it
#: kept (:func:`stopped_line`, without its first word), for a command's ``interrupted``
#: line (:func:`kept_at_interrupt`).
KEPT_AT_INTERRUPT_ATTR = "srmat_tiles_kept"


def _note_kept(interrupt: KeyboardInterrupt, geom: _Geometry, writer: Any, done: int) -> None:
    """Record on ``interrupt`` (a Ctrl-C of a stored run) what it kept
    (:data:`KEPT_AT_INTERRUPT_ATTR`), once: the innermost run's."""
    if writer is not None and not hasattr(interrupt, KEPT_AT_INTERRUPT_ATTR):
        setattr(interrupt, KEPT_AT_INTERRUPT_ATTR, stopped_line(geom, writer, done, how=""))


def kept_at_interrupt(exc: BaseException) -> str | None:
    """What a stored tiled run interrupted by ``exc`` (or by the interrupt it was raised
    from) kept, as :func:`stopped_line` words it without its first word (``"after 13 of 25
    tiles; 1 of 4 output chunks ... kept in OUT.partial: ..."``); None when no tiled run
    recorded it (an interrupt outside the tiles, an in-memory run).

    Examples
    --------
    >>> kept_at_interrupt(KeyboardInterrupt()) is None
    True
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        kept = getattr(exc, KEPT_AT_INTERRUPT_ATTR, None)
        if kept is not None:
            return kept
        exc = exc.__cause__ or exc.__context__
    return None


def _run_chunks(src, runner, geom, co, odt, writer, result, stop, chunk_fn=None,
                chunk_context=0, whole=False):
    """Compute every output chunk (skipping those a resumed writer has) into
    ``writer`` or ``result``; returns ``result`` (True for a writer) or None if stopped.
    ``whole``: one ``fn`` call on the whole (one-tile) image, cut into the chunks.

    A chunk whose tiles are all computed is written before any event is yielded (its
    progress, the "about ... left" line, a warning), so a Ctrl-C or ``close()`` at any
    event keeps every chunk computed, and a Ctrl-C's line counts them
    (:func:`_note_kept`). Until session 51 the "about ... left" line and the warnings of
    a chunk's last batch (and of a whole-image call) came before it was written: an
    interrupt there lost it, the line said "nothing kept" and the rerun computed it again.
    """
    eng = _Engine(src, runner, geom, co, odt, reuse_buffers=True)
    total = geom.ny * geom.nx
    done = 0
    pending: dict[tuple[int, int], list] = {}
    processed: set[tuple[int, int]] = set()
    n_msgs = 0
    eta_said = False
    done_before: int | None = None
    t_start = 0.0
    resumed = 0  # tiles of chunks an earlier run wrote (skipped)

    def is_done(k):
        return writer is not None and writer.is_done(k)

    def spill(k, parts):
        pending.setdefault(k, []).extend(parts)

    def put(k, res):
        ys, xs = eng.chunk_hr(*k)
        if writer is not None:
            writer.write_block(k, (ys, xs), res)
        else:
            result[ys, xs] = res

    def told(eta=True):  # the events of the tiles computed (and written) so far
        nonlocal eta_said, n_msgs
        if eta and not eta_said and done_before is not None and done_before < done < total:
            eta_said = True
            per_tile = (time.perf_counter() - t_start) / (done - done_before)
            yield Log(f"about {format_duration(per_tile * (total - done))} left for "
                      f"{total - done} of {total} tiles ({per_tile:.2f} s per tile)")
        while n_msgs < len(runner.messages):
            yield Log(runner.messages[n_msgs], level="warning")
            n_msgs += 1

    def telling(call, *args):  # a chunk's end or write (no event in it) that fails (disk
        try:  # full, a Ctrl-C) tells the warnings of its tiles first, then fails
            return call(*args)
        except GeneratorExit:  # (never raised by call: no yield while it runs)
            raise
        except BaseException:
            yield from told(eta=False)
            raise

    yield Progress(0, total, stage="tiles")  # (a Ctrl-C here: the command's own line)
    try:  # a Ctrl-C (thrown in at an event, or landing in a tile) tells what it kept
        if whole:
            todo = [(ky, kx) for ky in range(geom.ncy) for kx in range(geom.ncx)
                    if not is_done((ky, kx))]
            # one forward pass on the whole image, or none when a resumed store has it all
            resumed = 0 if todo else total
            if todo:
                if stop is not None and stop.stop_requested:
                    yield Stopped(stopped_line(geom, writer, 0))
                    return None
                full = yield from telling(eng.whole_output)
                for k in todo:  # written before its warnings are told
                    yield from telling(lambda k=k: put(k, eng.chunk_from(full, *k)))
                del full
                done = total
                yield from told()
            yield Progress(total, total, stage="tiles", resumed=resumed)
            return True if writer is not None else result
        for ky in range(geom.ncy):
            for kx in range(geom.ncx):
                k = (ky, kx)
                n_owned = geom.owned_tiles(ky, kx)
                if is_done(k):
                    pending.pop(k, None)
                    done += n_owned
                    resumed += n_owned
                    yield Progress(done, total, stage="tiles", resumed=resumed)
                    continue
                if stop is not None and stop.stop_requested:
                    yield Stopped(stopped_line(geom, writer, done))
                    return None
                if done_before is None:
                    done_before, t_start = done, time.perf_counter()
                if chunk_fn is not None:
                    gen = eng.chunk_direct(ky, kx, chunk_fn, chunk_context, stop)
                else:
                    gen = eng.chunk_gen(
                        ky, kx,
                        pending=pending.pop(k, []),
                        have_piece=lambda t: (geom.owner(t[0]), geom.owner(t[1])) in processed,
                        spill=spill,
                        spill_targets=lambda kk, k=k: kk > k and not is_done(kk),
                        batch_size=runner.batch_size,
                        stop=stop,
                    )
                got = 0  # the chunk's owned tiles done
                while True:
                    try:
                        n = next(gen)
                    except StopIteration as fin:
                        res = fin.value
                        break
                    done += n
                    got += n
                    if got == n_owned:  # its last tiles: the chunk is written before any
                        # event tells them (an interrupt there lost it)
                        res = yield from telling(_drive, gen)
                        break
                    yield from told()
                    yield Progress(done, total, stage="tiles", resumed=resumed)
                if res is None:
                    yield from told(eta=False)
                    yield Stopped(stopped_line(geom, writer, done))
                    return None
                processed.add(k)
                yield from telling(put, k, res)
                if got == n_owned:
                    yield from told()
                    yield Progress(done, total, stage="tiles", resumed=resumed)
        yield from told()
    except KeyboardInterrupt as interrupt:
        _note_kept(interrupt, geom, writer, done)
        raise
    return True if writer is not None else result


def tiled_apply(image, fn, **kwargs) -> np.ndarray | Path | None:
    """Plain (non-generator) :func:`tiled_apply_job`; same arguments and result."""
    return run_job(tiled_apply_job(image, fn, **kwargs), quiet=True)
