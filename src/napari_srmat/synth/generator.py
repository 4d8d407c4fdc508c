"""Point-wise definition of the synthetic microstructure and its renderers.

Grains
------
Seeds lie on a global grid of square cells of side ``h`` (``h = mean_grain_size_px``,
so ``h²`` is the mean grain area): one seed per cell, jittered uniformly inside the
central 80% of the cell, with a position, an additive power weight ``w`` and a
multiplicative weight ``a`` drawn from a counter-based hash of ``(seed, cell)``. A pixel
belongs to the seed minimizing ``(1 + a)·|x - s|² - w``:

* ``size_spread`` in [0, 1] scales the power weights (``w ≤ 1.5·h²·size_spread``,
  log-normal-like): 0 gives a centroidal-looking jittered Voronoi tessellation, 1 a
  broad grain-size distribution (some cells vanish, others grow);
* ``curvature`` in [0, 0.2] scales the multiplicative weights, bending the straight
  Voronoi facets into circular arcs (Apollonius diagram), which looks like annealed
  grains with curved boundaries.

With these bounds the winning seed is always within two cells of the pixel's own cell,
so every pixel is decided from a fixed 5 x 5 cell neighbourhood: the result depends on
the global pixel coordinates only, never on the chunk it is computed in.

Seed layouts
------------
``seed_layout="lattice"`` (the default) is the layout above: one seed per cell, so the
structure keeps the order of the h grid (a row's crossing density varies with its phase
``y mod h``, and an equally spaced test grid near a multiple of h aliases with it:
docs/heyn.md, ``studies/seed_layout_rows.py``). ``seed_layout="poisson"`` has none: each
cell holds a Poisson number of seeds of mean 1 (at most :data:`_POISSON_MAX_SEEDS`; the
tail beyond, 1.1e-10 of the cells, is cut there), each uniform in the whole cell, all
hashed from ``(seed, cell[, slot])``: a stationary Poisson process of intensity 1/h², so
the mean area per seed is h² exactly in expectation (the mean *grain* area a little more
where ``size_spread`` empties some). A pixel is first decided from the cells within
:data:`_POISSON_WINDOW` of its own; where its best score is not below the least score a
seed outside them can have (``(1 - curvature)·(R·h)² - 1.5·h²·size_spread``, R cells
away), it is decided again from the cells within :data:`_POISSON_REACH` (never short in
practice: a Poisson gap that wide has probability about e^-100; it would raise). Both
are functions of the global pixel coordinates only, so tiles, strips and lazy chunks
agree and memory stays bounded.

Ground truth
------------
``boundaries`` marks a pixel when the labels inside its ``(w+1) x (w+1)`` window (offsets
``-w//2 .. w - w//2``) are not all equal: exactly the pixels where labels change,
drawn ``boundary_width`` = w pixels wide, *including* boundaries rendered faint in the
image. ``mean_intercept_px`` is computed exactly from the label image (see
:func:`true_mean_intercept`).
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..channels import LUMA_WEIGHTS
from ..errors import check_flag, check_number, check_seed
from ..io._read import MIN_IMAGE_SIDE, _spatial_chunks

__all__ = [
    "MIN_SYNTH_SIDE",
    "SEED_LAYOUTS",
    "SynthError",
    "Microstructure",
    "LazyMicrostructure",
    "generate_microstructure",
    "check_microstructure_params",
    "lazy_microstructure",
    "true_mean_intercept",
]

_JITTER_LO, _JITTER_SPAN = 0.1, 0.8
_MAX_POWER = 1.5  # w <= _MAX_POWER * h^2 * size_spread
_MAX_CURVATURE = 0.2
_SCRATCH_CELL = 256
_INCLUSION_CELL = 64
_STRIP_ELEMENTS = 262_144  # pixels per strip of the label search (cache-friendly)
_LAZY_CHUNK = 1024  # px per side of a lazy_microstructure chunk unless told (chunks=None)

#: The generator's seed layouts (``seed_layout``), the default first: one jittered seed
#: per cell of the h grid, or a Poisson point process of the same intensity (no lattice).
SEED_LAYOUTS = ("lattice", "poisson")
#: Most seeds a cell holds in the ``"poisson"`` layout (P(N > 12) = 1.1e-10 at mean 1).
_POISSON_MAX_SEEDS = 12
#: Cells searched first around a pixel's own cell in the ``"poisson"`` layout (a 5 x 5
#: cell neighbourhood, as the lattice's).
_POISSON_WINDOW = 2
#: Cells searched around a pixel's own cell when the first window cannot prove its
#: nearest seed (labels leave room for seeds this far outside the image).
_POISSON_REACH = 8
#: Cells beyond the image whose seeds have labels of their own in the ``"poisson"`` layout:
#: twice the reach, so a padding pixel up to one reach outside the image (the blur's and
#: boundary window's padding) finds its seed with a label of its own. Pixels inside the
#: image and the boundary window's few pixels around it are exact whatever the padding; a
#: padding pixel farther out (a strong blur at the least h: 3 blur + 1 px beyond 8 cells)
#: whose nearest seed lay beyond this margin would take another seed's label, and so its
#: colour, in the blurred edge only.
_POISSON_LABEL_MARGIN = 2 * _POISSON_REACH
#: P(N <= k), k = 0 .. _POISSON_MAX_SEEDS - 1, of a Poisson count of mean 1.
_POISSON_CDF = np.cumsum([math.exp(-1.0) / math.factorial(k) for k in range(_POISSON_MAX_SEEDS)])


#: Smallest side (px) of a synthetic image, in Python (``shape``) and in ``srmat synth``
#: (``--size``): the library's least image side
#: (:data:`napari_srmat.io.MIN_IMAGE_SIDE`), below which the images it is made for
#: could be measured or super-resolved by no operation of the library.
MIN_SYNTH_SIDE = MIN_IMAGE_SIDE


class SynthError(ValueError):
    """Invalid parameters for the synthetic microstructure."""


# ------------------------------------------------------------------ hashing
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer (vectorized, wraps modulo 2**64)."""
    with np.errstate(over="ignore"):
        x = x + _GOLD
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
        return x ^ (x >> np.uint64(31))


def _hash(seed: int, stream: int, *keys: Any) -> np.ndarray:
    h = _mix(np.uint64((seed * 1000003 + stream) & 0xFFFFFFFFFFFFFFFF))
    for k in keys:
        k = np.asarray(k).astype(np.int64).astype(np.uint64)
        h = _mix(h ^ k)
    return h


def _uniform(seed: int, stream: int, *keys: Any) -> np.ndarray:
    """Uniform [0, 1) float64 from the hash of integer keys."""
    return (_hash(seed, stream, *keys) >> np.uint64(11)).astype(np.float64) * 2.0**-53


# --------------------------------------------------------------- parameters
@dataclass(frozen=True)
class _Params:
    shape: tuple[int, int]
    h: int
    seed: int
    size_spread: float
    curvature: float
    boundary_width: int
    missing_boundary_fraction: float
    texture: float
    scratches: float
    noise: float
    blur: float
    inclusions: float
    boundary_darkness: float
    seed_layout: str = SEED_LAYOUTS[0]

    @property
    def ncx(self) -> int:
        return -(-self.shape[1] // self.h)

    def label_of(self, cy, cx):
        return ((cy + 2) * (self.ncx + 4) + (cx + 2) + 1).astype(np.int32)


def _make_params(
    shape,
    mean_grain_size_px,
    seed,
    size_spread,
    curvature,
    boundary_width,
    missing_boundary_fraction,
    texture,
    scratches,
    noise,
    blur,
    inclusions,
    boundary_darkness,
    seed_layout=SEED_LAYOUTS[0],
) -> _Params:
    try:
        sides = tuple(shape)
    except TypeError:
        raise SynthError(f"shape must be (H, W), got {shape!r}") from None
    try:  # whole numbers of pixels: 64.5 and "64" were cast with int()
        sides = tuple(check_number("shape", v, lo=1, integer=True) for v in sides)
    except ValueError:
        sides = ()
    if len(sides) != 2:
        raise SynthError(f"shape must be (H, W) with positive integer sides (pixels), got {shape}")
    if min(sides) < MIN_SYNTH_SIDE:  # srmat synth's --size had its own minimum, 16 px
        raise SynthError(f"shape must have sides of at least {MIN_SYNTH_SIDE} px, got "
                         f"{sides}")
    shape = sides
    # "12" failed inside ">=" (a TypeError naming no argument); inf is refused below
    if not (isinstance(mean_grain_size_px, numbers.Real) and mean_grain_size_px == math.inf):
        mean_grain_size_px = check_number("mean_grain_size_px", mean_grain_size_px, lo=4,
                                          error=SynthError)
    if not mean_grain_size_px <= max(shape):  # also inf; the cell grid grows with it
        raise SynthError(f"mean_grain_size_px must be at most the image's larger side "
                         f"({max(shape)} px), got {mean_grain_size_px}")
    if not (isinstance(seed_layout, str) and seed_layout in SEED_LAYOUTS):
        raise SynthError(f"seed_layout must be one of {', '.join(SEED_LAYOUTS)}, got "
                         f"{seed_layout!r}")
    h = int(round(mean_grain_size_px))
    ncy, ncx = -(-shape[0] // h), -(-shape[1] // h)
    if seed_layout == "poisson":  # labels of every seed within reach of the image
        n_labels = ((ncy + 2 * _POISSON_LABEL_MARGIN) * (ncx + 2 * _POISSON_LABEL_MARGIN)
                    * _POISSON_MAX_SEEDS)
    else:
        n_labels = (ncy + 4) * (ncx + 4)
    if n_labels >= 2**31 - 2:
        raise SynthError("too many grains for int32 labels; use a larger mean_grain_size_px")
    checks = {
        "size_spread": (size_spread, 0.0, 1.0),
        "curvature": (curvature, 0.0, _MAX_CURVATURE),
        "missing_boundary_fraction": (missing_boundary_fraction, 0.0, 1.0),
        "texture": (texture, 0.0, 1.0),
        "scratches": (scratches, 0.0, 1.0),
        "noise": (noise, 0.0, 1.0),
        "blur": (blur, 0.0, 10.0),
        "inclusions": (inclusions, 0.0, 1.0),
        "boundary_darkness": (boundary_darkness, 0.0, 1.0),
    }
    for name, (val, lo, hi) in checks.items():
        # a number: float("0.5") and float(True) were taken, float("x") failed unnamed
        bad = isinstance(val, bool) or not isinstance(val, numbers.Real)
        if bad or not (lo <= float(val) <= hi):
            raise SynthError(f"{name} must be in [{lo}, {hi}], got {val!r}")
    try:  # a whole number of pixels: 2.5 was cast with int()
        check_number("boundary_width", boundary_width, lo=1, hi=16, integer=True)
    except ValueError:
        raise SynthError(f"boundary_width must be in 1..16, got {boundary_width}") from None
    seed = check_seed(seed, error=SynthError)
    return _Params(
        shape=shape,
        h=h,
        seed=int(seed),
        size_spread=float(size_spread),
        curvature=float(curvature),
        boundary_width=int(boundary_width),
        missing_boundary_fraction=float(missing_boundary_fraction),
        texture=float(texture),
        scratches=float(scratches),
        noise=float(noise),
        blur=float(blur),
        inclusions=float(inclusions),
        boundary_darkness=float(boundary_darkness),
        seed_layout=seed_layout,
    )


# ------------------------------------------------------------------- labels
def _weights(p: _Params, *keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Power weight ``w`` and multiplicative weight ``a`` (float64) of the seeds ``keys``."""
    # log-normal-like weights squashed into [0, 1]
    u1 = np.clip(_uniform(p.seed, 3, *keys), 1e-12, 1.0)
    u2 = _uniform(p.seed, 4, *keys)
    z = np.sqrt(-2 * np.log(u1)) * np.cos(2 * np.pi * u2)
    q = 1.0 / (1.0 + np.exp(-1.5 * z))
    w = _MAX_POWER * p.h * p.h * p.size_spread * q
    a = p.curvature * (2 * _uniform(p.seed, 5, *keys) - 1)
    return w, a


def _seeds(cy: np.ndarray, cx: np.ndarray, p: _Params):
    """Seed row, col, power weight, multiplicative weight and label of cells."""
    cy, cx = np.broadcast_arrays(cy, cx)
    uy = _uniform(p.seed, 1, cy, cx)
    ux = _uniform(p.seed, 2, cy, cx)
    sy = (cy + _JITTER_LO + _JITTER_SPAN * uy) * p.h
    sx = (cx + _JITTER_LO + _JITTER_SPAN * ux) * p.h
    w, a = _weights(p, cy, cx)
    return (
        sy.astype(np.float32),
        sx.astype(np.float32),
        w.astype(np.float32),
        a.astype(np.float32),
        p.label_of(cy, cx),
    )


def _cell_window(r0: int, r1: int, c0: int, c1: int, h: int):
    cy0, cy1 = r0 // h, (r1 - 1) // h
    cx0, cx1 = c0 // h, (c1 - 1) // h
    return cy0, cy1, cx0, cx1


def _labels_region(r0: int, r1: int, c0: int, c1: int, p: _Params) -> np.ndarray:
    """int32 labels of global pixels ``[r0, r1) x [c0, c1)`` (may extend outside)."""
    if p.seed_layout == "poisson":
        return _poisson_labels_region(r0, r1, c0, c1, p)
    cy0, cy1, cx0, cx1 = _cell_window(r0, r1, c0, c1, p.h)
    cy = np.arange(cy0 - 2, cy1 + 3)[:, None]
    cx = np.arange(cx0 - 2, cx1 + 3)[None, :]
    seeds = tuple(v[..., None] for v in _seeds(cy, cx, p))  # one seed a cell
    return _window_winners((r0, r1, c0, c1), (cy0, cy1, cx0, cx1), 2, seeds, p.h)[0]


def _window_winners(region: tuple, cells: tuple, reach: int, seeds: tuple, h: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The label and score of each pixel's best seed among those of the cells within
    ``reach`` of its own (the one search of both layouts).

    ``region``: global pixels ``(r0, r1, c0, c1)``; ``cells``: ``(cy0, cy1, cx0, cx1)``
    of :func:`_cell_window`; ``seeds``: row, col, power weight, multiplicative weight
    (float32) and label (int32) of the seeds of cells ``cy0 - reach .. cy1 + reach`` x
    ``cx0 - reach .. cx1 + reach``, one axis of slots last (an absent seed weighted
    -inf: it scores +inf). Returns the int32 labels and float32 scores of the region."""
    r0, r1, c0, c1 = region
    cy0, cy1, cx0, cx1 = cells
    sy, sx, w, a, lab = seeds
    ny, nx, slots = cy1 - cy0 + 1, cx1 - cx0 + 1, lab.shape[-1]
    side = 2 * reach + 1
    ys = (np.arange(cy0, cy1 + 1)[:, None] * h + np.arange(h)[None, :]).astype(np.float32)
    xs = (np.arange(cx0, cx1 + 1)[:, None] * h + np.arange(h)[None, :]).astype(np.float32)
    Y = ys[:, :, None, None]  # (ny, h, 1, 1)
    X = xs[None, None, :, :]  # (1, 1, nx, h)
    shape = (ny, h, nx, h)
    best = np.empty(shape, np.float32)
    d = np.empty(shape, np.float32)
    better = np.empty(shape, bool)
    which = np.zeros(shape, np.uint8 if side * side * slots <= 256 else np.uint16)
    k = 0
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            for s in range(slots):
                sl = (slice(reach + dy, reach + dy + ny), slice(reach + dx, reach + dx + nx),
                      s)
                f = (1 + a[sl])[:, None, :, None]
                # (1 + a) |x - s|^2 - w, split into a row part and a column part
                part_y = f * (Y - sy[sl][:, None, :, None]) ** 2 - w[sl][:, None, :, None]
                part_x = f * (X - sx[sl][:, None, :, None]) ** 2
                if k == 0:
                    np.add(part_y, part_x, out=best)
                else:
                    np.add(part_y, part_x, out=d)
                    np.less(d, best, out=better)
                    np.minimum(best, d, out=best)
                    np.copyto(which, which.dtype.type(k), where=better)
                k += 1
    # the winner k = ((dy + reach) * side + (dx + reach)) * slots + s
    cell, s = np.divmod(which.astype(np.int64), slots)
    kdy, kdx = np.divmod(cell, side)
    iy = np.arange(ny)[:, None, None, None]
    ix = np.arange(nx)[None, None, :, None]
    full = lab[iy + kdy, ix + kdx, s].reshape(ny * h, nx * h)
    oy, ox = r0 - cy0 * h, c0 - cx0 * h
    inside = (slice(oy, oy + (r1 - r0)), slice(ox, ox + (c1 - c0)))
    return (np.ascontiguousarray(full[inside]),
            best.reshape(ny * h, nx * h)[inside])


def _poisson_counts(cy: np.ndarray, cx: np.ndarray, p: _Params) -> np.ndarray:
    """Seeds in cells ``(cy, cx)`` of the ``"poisson"`` layout: Poisson of mean 1, capped."""
    u = _uniform(p.seed, 40, cy, cx)
    return np.minimum(np.searchsorted(_POISSON_CDF, u, side="right"), _POISSON_MAX_SEEDS)


def _poisson_seeds(cy: np.ndarray, cx: np.ndarray, slot: np.ndarray, p: _Params):
    """Seed row, col, power weight, multiplicative weight (float32), label (int32) and
    presence (bool) of seed ``slot`` of cells ``(cy, cx)`` in the ``"poisson"`` layout."""
    cy, cx, slot = np.broadcast_arrays(cy, cx, slot)
    present = slot < _poisson_counts(cy, cx, p)
    sy = (cy + _uniform(p.seed, 41, cy, cx, slot)) * p.h
    sx = (cx + _uniform(p.seed, 42, cy, cx, slot)) * p.h
    w, a = _weights(p, cy, cx, slot)
    r = _POISSON_LABEL_MARGIN
    label = ((cy + r) * (p.ncx + 2 * r) + (cx + r)) * _POISSON_MAX_SEEDS + slot + 1
    return (sy.astype(np.float32), sx.astype(np.float32), w.astype(np.float32),
            a.astype(np.float32), label.astype(np.int32), present)


def _poisson_cells(labels: np.ndarray, p: _Params):
    """``(cy, cx, slot)`` of ``"poisson"`` labels (the inverse of their label rule)."""
    r = _POISSON_LABEL_MARGIN
    cell, slot = np.divmod(labels.astype(np.int64) - 1, _POISSON_MAX_SEEDS)
    cy, cx = np.divmod(cell, p.ncx + 2 * r)
    return cy - r, cx - r, slot


def _poisson_bound(reach: int, p: _Params) -> float:
    """Least score a seed can have that lies outside the cells within ``reach`` of a
    pixel's own cell (it is at least ``reach·h`` away), less a float32 margin."""
    far = (1.0 - p.curvature) * (reach * p.h) ** 2 * (1.0 - 1e-4)
    return far - _MAX_POWER * p.h * p.h * p.size_spread


def _poisson_points(ys: np.ndarray, xs: np.ndarray, reach: int, p: _Params) -> np.ndarray:
    """int32 labels of pixels ``(ys, xs)`` (1-D) from every seed of the cells within
    ``reach`` of their own; raises where that cannot prove the nearest seed."""
    out = np.empty(ys.size, np.int32)
    offs = np.arange(-reach, reach + 1)
    dy = np.repeat(offs, offs.size)[None, :, None]
    dx = np.tile(offs, offs.size)[None, :, None]
    slot = np.arange(_POISSON_MAX_SEEDS)[None, None, :]
    for i in range(0, ys.size, 256):
        y = ys[i:i + 256].astype(np.float32)[:, None, None]
        x = xs[i:i + 256].astype(np.float32)[:, None, None]
        cy, cx = y.astype(np.int64) // p.h, x.astype(np.int64) // p.h
        sy, sx, w, a, lab, present = _poisson_seeds(cy + dy, cx + dx, slot, p)
        f = 1 + a
        d = (f * (y - sy) ** 2 - np.where(present, w, -np.inf)) + f * (x - sx) ** 2
        d, lab = d.reshape(d.shape[0], -1), lab.reshape(d.shape[0], -1)
        k = np.argmin(d, axis=1)
        if not (d[np.arange(k.size), k] < _poisson_bound(reach, p)).all():
            raise RuntimeError(f"no seed within {reach} cells proves a pixel's grain")
        out[i:i + 256] = lab[np.arange(k.size), k]
    return out


def _poisson_labels_region(r0: int, r1: int, c0: int, c1: int, p: _Params) -> np.ndarray:
    """:func:`_labels_region` of the ``"poisson"`` layout: the cells within
    :data:`_POISSON_WINDOW` of each pixel's own, the rare undecided pixels again from
    those within :data:`_POISSON_REACH` (both depend on the global coordinates only)."""
    R = _POISSON_WINDOW
    cy0, cy1, cx0, cx1 = _cell_window(r0, r1, c0, c1, p.h)
    cy = np.arange(cy0 - R, cy1 + R + 1)[:, None, None]
    cx = np.arange(cx0 - R, cx1 + R + 1)[None, :, None]
    slots = max(int(_poisson_counts(cy[..., 0], cx[..., 0], p).max()), 1)
    sy, sx, w, a, lab, present = _poisson_seeds(cy, cx, np.arange(slots)[None, None, :], p)
    w = np.where(present, w, np.float32(-np.inf))  # an absent seed scores +inf
    full, best = _window_winners((r0, r1, c0, c1), (cy0, cy1, cx0, cx1), R,
                                 (sy, sx, w, a, lab), p.h)
    far = np.nonzero(~(best < _poisson_bound(R, p)))
    if far[0].size:
        full[far] = _poisson_points(far[0] + r0, far[1] + c0, _POISSON_REACH, p)
    return full


def _labels_region_strips(r0, r1, c0, c1, p: _Params) -> np.ndarray:
    out = np.empty((r1 - r0, c1 - c0), np.int32)
    step = max(p.h, (_STRIP_ELEMENTS // max(c1 - c0, 1) // p.h) * p.h)
    for a in range(r0, r1, step):
        b = min(r1, a + step)
        out[a - r0 : b - r0] = _labels_region(a, b, c0, c1, p)
    return out


def _window(w: int) -> tuple[int, int]:
    return w // 2, w - w // 2


def _boundary_from_padded(lab: np.ndarray, w: int, want_pair: bool = False):
    """Boundary mask (and (min, max) label pair) of the interior of a padded label array."""
    lo_pad, hi_pad = _window(w)
    H = lab.shape[0] - lo_pad - hi_pad
    W = lab.shape[1] - lo_pad - hi_pad
    center = lab[lo_pad : lo_pad + H, lo_pad : lo_pad + W]
    mn = center.copy()
    mx = center.copy()
    for dy in range(-lo_pad, hi_pad + 1):
        for dx in range(-lo_pad, hi_pad + 1):
            v = lab[lo_pad + dy : lo_pad + dy + H, lo_pad + dx : lo_pad + dx + W]
            np.minimum(mn, v, out=mn)
            np.maximum(mx, v, out=mx)
    b = mn != mx
    return (b, mn, mx) if want_pair else b


def _boundaries_region(r0, r1, c0, c1, p: _Params) -> np.ndarray:
    lo, hi = _window(p.boundary_width)
    lab = _labels_region_strips(r0 - lo, r1 + hi, c0 - lo, c1 + hi, p)
    return _boundary_from_padded(lab, p.boundary_width)


# ------------------------------------------------------------------ texture
def _value_noise(rows: np.ndarray, cols: np.ndarray, scale: float, p: _Params, stream: int):
    """Smooth value noise in [-1, 1] on the global pixel lattice (bilinear, smoothstep)."""
    fy = rows / scale
    fx = cols / scale
    iy = np.floor(fy).astype(np.int64)
    ix = np.floor(fx).astype(np.int64)
    ty = fy - iy
    tx = fx - ix
    ty = (ty * ty * (3 - 2 * ty)).astype(np.float32)[:, None]
    tx = (tx * tx * (3 - 2 * tx)).astype(np.float32)[None, :]
    # lattice values on the (small) lattice covering the region, then gathered
    ly = np.arange(iy.min(), iy.max() + 2)
    lx = np.arange(ix.min(), ix.max() + 2)
    lat = _uniform(p.seed, stream, ly[:, None], lx[None, :]).astype(np.float32)
    jy = iy - ly[0]
    jx = ix - lx[0]
    # interpolate along columns on the lattice rows first, then along rows (same
    # arithmetic per pixel as a direct bilinear interpolation)
    lxi = lat[:, jx] + (lat[:, jx + 1] - lat[:, jx]) * tx  # (ly, W)
    top = lxi[jy]
    bot = lxi[jy + 1]
    return 2 * (top + (bot - top) * ty) - 1


@functools.lru_cache(maxsize=8)
def _noise_table(seed: int) -> np.ndarray:
    """Per-pixel noise table, tiled with co-prime periods 1021 x 1031 (looks aperiodic)."""
    r = np.arange(1021)[:, None]
    c = np.arange(1031)[None, :]
    n = _uniform(seed, 17, r, c) + _uniform(seed, 18, r, c) - 1.0
    return n.astype(np.float32)


def _hsv_to_rgb(hue, sat, val):
    i = np.floor(hue * 6).astype(np.int64) % 6
    f = hue * 6 - np.floor(hue * 6)
    pp = val * (1 - sat)
    q = val * (1 - f * sat)
    t = val * (1 - (1 - f) * sat)
    choices_r = [val, q, pp, pp, t, val]
    choices_g = [t, val, val, q, pp, pp]
    choices_b = [pp, pp, t, val, val, q]
    r = np.choose(i, choices_r)
    g = np.choose(i, choices_g)
    b = np.choose(i, choices_b)
    return np.stack([r, g, b], axis=-1)


def _apply_scratches(img, r0, c0, p: _Params):
    """Darken thin straight scratches of a planar (3, H, W) image (global 256-px cells)."""
    H, W = img.shape[1:]
    S = _SCRATCH_CELL
    cy0, cy1 = (r0 - S) // S, (r0 + H + S) // S
    cx0, cx1 = (c0 - S) // S, (c0 + W + S) // S
    for cy in range(cy0, cy1 + 1):
        for cx in range(cx0, cx1 + 1):
            if _uniform(p.seed, 20, cy, cx) >= p.scratches:
                continue
            my = (cy + _uniform(p.seed, 21, cy, cx)) * S
            mx = (cx + _uniform(p.seed, 22, cy, cx)) * S
            th = _uniform(p.seed, 23, cy, cx) * np.pi
            half = (0.25 + 0.25 * _uniform(p.seed, 24, cy, cx)) * S
            depth = 0.15 + 0.25 * _uniform(p.seed, 25, cy, cx)
            dy, dx = np.sin(th), np.cos(th)
            ay, ax = my - half * dy, mx - half * dx
            by, bx = my + half * dy, mx + half * dx
            ra = int(math.floor(min(ay, by) - 3)) - r0
            rb = int(math.ceil(max(ay, by) + 3)) - r0
            ca = int(math.floor(min(ax, bx) - 3)) - c0
            cb = int(math.ceil(max(ax, bx) + 3)) - c0
            ra, rb, ca, cb = max(ra, 0), min(rb, H), max(ca, 0), min(cb, W)
            if ra >= rb or ca >= cb:
                continue
            yy = (np.arange(ra, rb) + r0)[:, None] - ay
            xx = (np.arange(ca, cb) + c0)[None, :] - ax
            t = np.clip(yy * dy + xx * dx, 0, 2 * half)
            d2 = (yy - t * dy) ** 2 + (xx - t * dx) ** 2
            img[:, ra:rb, ca:cb] *= 1 - depth * np.exp(-d2 / (2 * 0.6**2))


def _apply_inclusions(img, r0, c0, p: _Params):
    """Small dark round particles in a planar (3, H, W) image (one per 64-px cell at most)."""
    H, W = img.shape[1:]
    S = _INCLUSION_CELL
    cys = np.arange((r0 - 8) // S, (r0 + H + 8) // S + 1)[:, None]
    cxs = np.arange((c0 - 8) // S, (c0 + W + 8) // S + 1)[None, :]
    cy, cx = np.broadcast_arrays(cys, cxs)
    present = _uniform(p.seed, 30, cy, cx) < p.inclusions
    for y, x in zip(cy[present], cx[present]):
        my = (y + _uniform(p.seed, 31, y, x)) * S
        mx = (x + _uniform(p.seed, 32, y, x)) * S
        rad = 1.0 + 2.5 * _uniform(p.seed, 33, y, x)
        ra, rb = int(math.floor(my - rad - 2)) - r0, int(math.ceil(my + rad + 2)) - r0
        ca, cb = int(math.floor(mx - rad - 2)) - c0, int(math.ceil(mx + rad + 2)) - c0
        ra, rb, ca, cb = max(ra, 0), min(rb, H), max(ca, 0), min(cb, W)
        if ra >= rb or ca >= cb:
            continue
        yy = (np.arange(ra, rb) + r0)[:, None] - my
        xx = (np.arange(ca, cb) + c0)[None, :] - mx
        d = np.sqrt(yy**2 + xx**2)
        cover = np.clip(rad + 0.5 - d, 0, 1)
        img[:, ra:rb, ca:cb] *= 1 - 0.85 * cover


def _grain_tables(keys: tuple, sy: np.ndarray, sx: np.ndarray, p: _Params):
    """Per-seed base colour (RGB at V=1 scaled by V) and shading-plane coefficients of
    the seeds ``keys`` (``(cy, cx)`` of the lattice, ``(cy, cx, slot)`` of the Poisson
    layout) at ``(sy, sx)``."""
    # tint-plate (Barker etch, crossed polarizers) palette: yellow/olive, blue, purple
    u = _uniform(p.seed, 10, *keys)
    v = _uniform(p.seed, 19, *keys)
    hue = np.where(u < 0.4, 0.11 + 0.08 * v, np.where(u < 0.8, 0.55 + 0.12 * v, 0.72 + 0.12 * v))
    sat = 0.2 + 0.45 * _uniform(p.seed, 11, *keys)
    val = 0.45 + 0.45 * _uniform(p.seed, 12, *keys)
    rgb = _hsv_to_rgb(hue, sat, val).astype(np.float32)
    ang = 2 * np.pi * _uniform(p.seed, 13, *keys)
    amp = 0.6 / (1.5 * p.h)
    gy, gx = amp * np.sin(ang), amp * np.cos(ang)
    k0 = -(gy * sy + gx * sx)
    return rgb, gy.astype(np.float32), gx.astype(np.float32), k0.astype(np.float32)


def _render(r0, r1, c0, c1, p: _Params, *, image: bool = True):
    """Labels, boundary mask and (optionally) uint8 RGB image of ``[r0, r1) x [c0, c1)``.

    All three come from one padded label computation, so they are consistent.
    """
    pad = int(math.ceil(3.0 * p.blur)) + 1 if (image and p.blur > 0) else 0
    R0, R1, C0, C1 = r0 - pad, r1 + pad, c0 - pad, c1 + pad
    lo, hi = _window(p.boundary_width)
    lab_pad = _labels_region_strips(R0 - lo, R1 + hi, C0 - lo, C1 + hi, p)
    bnd, mn, mx = _boundary_from_padded(lab_pad, p.boundary_width, want_pair=True)
    lab = lab_pad[lo : lo + (R1 - R0), lo : lo + (C1 - C0)]
    inner = (slice(pad, pad + (r1 - r0)), slice(pad, pad + (c1 - c0)))
    labels_out = np.ascontiguousarray(lab[inner])
    bnd_out = np.ascontiguousarray(bnd[inner])
    if not image:
        return labels_out, bnd_out, None
    # per-cell tables over the cells that can own a pixel of the region (the winning
    # seed is within two cells), indexed from the label: label - 1 = (cy + 2) * stride
    # + (cx + 2). Whole cell rows made a chunk's cost grow with the image's width
    if p.seed_layout == "poisson":  # tables of the seeds that own a pixel
        ids, idx = np.unique(lab, return_inverse=True)
        idx = idx.reshape(lab.shape)
        keys = _poisson_cells(ids, p)
        base, gy, gx, k0 = _grain_tables(keys, *_poisson_seeds(*keys, p)[:2], p)
    else:
        cy0, cy1, cx0, cx1 = _cell_window(R0, R1, C0, C1, p.h)
        stride = p.ncx + 4
        cys = np.arange(cy0 - 2, cy1 + 3)[:, None]
        cxs = np.arange(cx0 - 2, cx1 + 3)[None, :]
        base, gy, gx, k0 = _grain_tables((cys, cxs), *_seeds(cys, cxs, p)[:2], p)
        row, col = np.divmod(lab - np.int32(1), np.int32(stride))
        idx = ((row - np.int32(cys[0, 0] + 2)) * np.int32(cxs.size)
               + (col - np.int32(cxs[0, 0] + 2)))
    rows = np.arange(R0, R1, dtype=np.float32)
    cols = np.arange(C0, C1, dtype=np.float32)
    if p.texture > 0:
        shade = np.take(gy.ravel(), idx) * rows[:, None]
        shade += np.take(gx.ravel(), idx) * cols[None, :]
        shade += np.take(k0.ravel(), idx)
        shade += 0.6 * _value_noise(rows, cols, max(p.h / 2.0, 4.0), p, 14)
        shade += 0.4 * _value_noise(rows, cols, 4.0, p, 15)
        vmul = 1 + p.texture * shade
    else:
        vmul = None
    planes = []
    for ch in range(3):
        plane = np.take(base[..., ch].ravel(), idx)
        if vmul is not None:
            plane *= vmul
        planes.append(plane)
    rgb = np.stack(planes)  # (3, H, W) planar
    if p.boundary_darkness > 0:
        dark = np.zeros(bnd.shape, np.float32)
        dark[bnd] = p.boundary_darkness
        if p.missing_boundary_fraction > 0:
            faint = _uniform(p.seed, 16, mn[bnd], mx[bnd]) < p.missing_boundary_fraction
            dark[bnd] = np.where(faint, 0.12 * p.boundary_darkness, p.boundary_darkness)
        rgb *= 1 - dark
    if p.scratches > 0:
        _apply_scratches(rgb, R0, C0, p)
    if p.inclusions > 0:
        _apply_inclusions(rgb, R0, C0, p)
    if p.noise > 0:
        table = _noise_table(p.seed)
        n = table[(np.arange(R0, R1) % 1021)[:, None], (np.arange(C0, C1) % 1031)[None, :]]
        rgb += p.noise * 1.7 * n
    if p.blur > 0:
        from scipy.ndimage import gaussian_filter

        for ch in range(3):
            rgb[ch] = gaussian_filter(rgb[ch], sigma=p.blur, truncate=3.0, mode="nearest")
    rgb = rgb[(slice(None), *inner)] * 255.0
    np.rint(rgb, out=rgb)
    np.clip(rgb, 0, 255, out=rgb)
    img = np.ascontiguousarray(np.moveaxis(rgb.astype(np.uint8), 0, -1))
    return labels_out, bnd_out, img


def _render_tiled(p: _Params, tile: int = 1024):
    """Render the whole image in tiles on a thread pool (numpy releases the GIL)."""
    H, W = p.shape
    if H * W <= tile * tile:
        return _render(0, H, 0, W, p)
    labels = np.empty((H, W), np.int32)
    boundaries = np.empty((H, W), bool)
    image = np.empty((H, W, 3), np.uint8)

    def work(r0, c0):
        r1, c1 = min(H, r0 + tile), min(W, c0 + tile)
        lab, bnd, img = _render(r0, r1, c0, c1, p)
        labels[r0:r1, c0:c1] = lab
        boundaries[r0:r1, c0:c1] = bnd
        image[r0:r1, c0:c1] = img

    from concurrent.futures import ThreadPoolExecutor

    jobs = [(r, c) for r in range(0, H, tile) for c in range(0, W, tile)]
    with ThreadPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 1, 8)) as pool:
        list(pool.map(lambda rc: work(*rc), jobs))
    return labels, boundaries, image


def _image_region(r0, r1, c0, c1, p: _Params) -> np.ndarray:
    """uint8 RGB rendering of global pixels ``[r0, r1) x [c0, c1)``."""
    return _render(r0, r1, c0, c1, p)[2]


# ------------------------------------------------------------------ results
def true_mean_intercept(labels: Any) -> float:
    """Exact mean lineal intercept of a label image along all its rows and columns.

    ``ℓ̄ = (H(W-1) + W(H-1)) / (N_h + N_v)`` where ``N_h``/``N_v`` count the label
    changes between horizontally/vertically adjacent pixels: the mean intercept of
    every row and column of the image, each label change one intersection. By the
    Cauchy–Crofton formula the boundary length of the digital label image is
    ``L = (π/4)(N_h + N_v)``, so this equals the stereological ``ℓ̄ = π A / (2 L)``
    (up to the one-pixel border term) for boundaries with no preferred direction; the
    generator's structures read 1.4-2.0 % above a four-direction estimate
    (docs/heyn.md, ``studies/synth_anisotropy.py``).

    Parameters
    ----------
    labels : array (H, W)
        Integer labels (numpy or dask, or a nested list).

    Returns
    -------
    float
        ℓ̄ in pixels (``inf`` for a single grain).

    Raises
    ------
    SynthError
        ``labels`` is not 2-D, or not of an integer dtype (a bool array is a boundary
        mask, floats are no labels), from the shape and dtype only (a Dask array is not
        read). Until 2026-12-06 they were counted as labels without a word: an RGB
        image's three channels (ℓ̄ about a third), a mask's two changes per boundary.
    """
    lab = labels if hasattr(labels, "shape") and hasattr(labels, "dtype") else np.asarray(
        labels)
    if len(lab.shape) != 2:
        raise SynthError(f"labels must be a 2-D (H, W) label image, got shape "
                         f"{tuple(lab.shape)}")
    if lab.dtype == bool:
        raise SynthError("labels has dtype bool: a mask, not labels; pass the label image "
                         "(Microstructure.labels), or measure a boundary mask with "
                         "napari_srmat.measure_intercepts")
    if not np.issubdtype(lab.dtype, np.integer):
        raise SynthError(f"labels must be an integer label image, got dtype {lab.dtype}")
    H, W = lab.shape[:2]
    nh = (lab[:, 1:] != lab[:, :-1]).sum()
    nv = (lab[1:, :] != lab[:-1, :]).sum()
    n = nh + nv
    if hasattr(n, "compute"):
        n = n.compute()
    n = int(n)
    return (H * (W - 1) + W * (H - 1)) / n if n else math.inf


@dataclass
class Microstructure:
    """A synthetic micrograph with exact ground truth.

    Attributes
    ----------
    image : ndarray (H, W, 3) uint8 (or (H, W) if ``rgb=False``)
        Polarized-light-like rendering.
    boundaries : ndarray (H, W) bool
        True boundaries (pixels where labels change), including faint ones.
    labels : ndarray (H, W) int32
        Grain ids (global cell ids, not consecutive).
    mean_intercept_px : float
        Exact mean lineal intercept (:func:`true_mean_intercept`).
    n_grains : int
        Number of distinct grains in the image.
    pixel_size_um : float or None
    params : dict
        All generation parameters.
    """

    image: np.ndarray
    boundaries: np.ndarray
    labels: np.ndarray
    mean_intercept_px: float
    n_grains: int
    pixel_size_um: float | None = None
    params: dict = field(default_factory=dict)

    @property
    def mean_intercept_um(self) -> float | None:
        """Mean intercept in µm when ``pixel_size_um`` is set."""
        if self.pixel_size_um is None:
            return None
        return self.mean_intercept_px * self.pixel_size_um

    def to_dict(self) -> dict:
        """The ground truth as JSON-ready values (no arrays): what ``srmat synth`` writes
        beside the images.

        Examples
        --------
        >>> import json
        >>> ms = generate_microstructure((64, 64), mean_grain_size_px=16, seed=1)
        >>> sorted(ms.to_dict())[:4]
        ['mean_intercept_definition', 'mean_intercept_px', 'mean_intercept_um', 'n_grains']
        >>> _ = json.dumps(ms.to_dict())
        """
        from ..outputs import json_ready

        return {
            "shape": [int(v) for v in self.labels.shape],
            "mean_intercept_px": float(self.mean_intercept_px),
            "mean_intercept_definition": MEAN_INTERCEPT_DEFINITION,
            "n_grains": int(self.n_grains),
            "pixel_size_um": self.pixel_size_um,
            "mean_intercept_um": self.mean_intercept_um,
            "params": json_ready(self.params),
        }


#: What :attr:`Microstructure.mean_intercept_px` is (recorded with it).
MEAN_INTERCEPT_DEFINITION = ("exact mean intercept of the label image along all rows and "
                             "columns = pi*A/(2*L) with L the two-direction Cauchy-Crofton "
                             "boundary length (isotropic lines read 1-2 % less: docs/heyn.md)")


@dataclass
class LazyMicrostructure:
    """Dask arrays of a synthetic microstructure, computed chunk by chunk.

    Its exact ℓ̄ is the method :meth:`mean_intercept_px` where
    :attr:`Microstructure.mean_intercept_px` is a value: the eager one computes it at
    creation from labels in memory, the lazy one would stream every label chunk (about
    11 s for 8192² px, 1.5 min for the 24000² mosaic), which an attribute read (or an
    editor's completion that reads properties) should not start. A property of the same
    name would break ``lazy.mean_intercept_px()`` at once (a value that is also callable
    is no clean way to deprecate the call), so the call stays, computed once.

    Attributes
    ----------
    image : dask array (H, W, 3) uint8 (or (H, W))
    boundaries : dask array (H, W) bool
    labels : dask array (H, W) int32
    pixel_size_um : float or None
    params : dict
    """

    image: Any
    boundaries: Any
    labels: Any
    pixel_size_um: float | None = None
    params: dict = field(default_factory=dict)
    #: ``(labels, ℓ̄)`` of the last :meth:`mean_intercept_px`: kept for those labels.
    _mean_intercept: tuple[Any, float] | None = field(
        default=None, init=False, repr=False, compare=False)

    def mean_intercept_px(self) -> float:
        """Exact ℓ̄ (:func:`true_mean_intercept`, what
        :attr:`Microstructure.mean_intercept_px` holds): the first call computes all
        labels (streamed), later ones return it until ``labels`` is replaced.

        Returns
        -------
        float
            The mean intercept in pixels.

        Examples
        --------
        >>> lz = lazy_microstructure((64, 64), chunks=32, mean_grain_size_px=16, seed=1)
        >>> lz.mean_intercept_px() == generate_microstructure(
        ...     (64, 64), mean_grain_size_px=16, seed=1).mean_intercept_px
        True
        """
        if self._mean_intercept is None or self._mean_intercept[0] is not self.labels:
            self._mean_intercept = (self.labels, true_mean_intercept(self.labels))
        return self._mean_intercept[1]


def _synth_kwargs(arguments: dict) -> dict:
    """The rendering keyword arguments (those of :data:`_RENDER_DEFAULTS`) out of a
    caller's ``locals()``, in the order of :func:`generate_microstructure`'s signature
    (the order they are recorded in ``params``)."""
    return {k: arguments[k] for k in _RENDER_DEFAULTS}


def _common_doc_params(kw: dict) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in kw.items()}


def generate_microstructure(
    shape: tuple[int, int] = (512, 512),
    *,
    mean_grain_size_px: float = 32,
    seed: int = 0,
    size_spread: float = 0.3,
    curvature: float = 0.1,
    seed_layout: str = SEED_LAYOUTS[0],
    rgb: bool = True,
    texture: float = 0.15,
    scratches: float = 0.25,
    noise: float = 0.02,
    blur: float = 0.8,
    inclusions: float = 0.1,
    missing_boundary_fraction: float = 0.0,
    boundary_width: int = 2,
    boundary_darkness: float = 0.45,
    pixel_size_um: float | None = None,
) -> Microstructure:
    """Render a synthetic polarized-light micrograph with exact ground truth.

    Parameters
    ----------
    shape : (int, int)
        Image size ``(H, W)``, each side at least :data:`MIN_SYNTH_SIDE` (8) px.
    mean_grain_size_px : float
        Seed-grid spacing ``h`` (px): the mean grain area is about ``h²`` (one seed per
        ``h²`` in expectation in either ``seed_layout``). Rounded to an integer >= 4. The
        resulting mean intercept is about ``0.83 h`` (0.80-0.85 h at the default
        ``size_spread``, about 0.91 h at ``size_spread=1``; Poisson layout 0.82-0.86 h
        and 0.95 h, docs/heyn.md; exact value in ``mean_intercept_px``).
    seed : int
        Random seed; the same seed gives the same structure.
    size_spread : float in [0, 1]
        Grain-size spread (power-diagram weights; 0 = nearly equal grains).
    curvature : float in [0, 0.2]
        Boundary curvature (multiplicative weights bend facets into arcs).
    seed_layout : {"lattice", "poisson"}
        Where the seeds lie (:data:`SEED_LAYOUTS`). ``"lattice"`` (default): one seed
        jittered inside each cell of the h grid, whose order the structure keeps (a
        row's crossing density varies with its phase ``y mod h``; equally spaced test
        lines near a multiple of h alias with it). ``"poisson"``: a Poisson point process
        of the same intensity, no lattice (a Poisson number of seeds of mean 1 per cell,
        uniform in it): the mean area per seed is still h² in expectation, ground truth
        as exact; it takes about twice as long to render (more seeds per pixel).
    rgb : bool
        RGB image (True) or a grey one (luminance).
    texture : float in [0, 1]
        Intra-grain shading / mottling amplitude.
    scratches : float in [0, 1]
        Probability of a polishing scratch per 256 x 256 px cell.
    noise : float in [0, 1]
        Amplitude of per-pixel noise.
    blur : float
        Gaussian blur sigma (px) of the optics.
    inclusions : float in [0, 1]
        Probability of a small dark inclusion per 64 x 64 px cell.
    missing_boundary_fraction : float in [0, 1]
        Fraction of grain pairs whose shared boundary is rendered faint (nearly
        invisible) in the image; it stays in the ground-truth mask.
    boundary_width : int
        Width (px) of boundaries in the mask and the image.
    boundary_darkness : float in [0, 1]
        How dark boundaries are drawn.
    pixel_size_um : float, optional
        Nominal pixel size, recorded in the result.

    Returns
    -------
    Microstructure

    Raises
    ------
    SynthError
        A parameter out of range, or a ``shape`` too large to hold in memory
        (:func:`napari_srmat.estimates.plan_microstructure`; checked before rendering).

    Examples
    --------
    >>> ms = generate_microstructure((128, 128), mean_grain_size_px=16, seed=1)
    >>> ms.image.shape, ms.image.dtype, ms.boundaries.dtype
    ((128, 128, 3), dtype('uint8'), dtype('bool'))
    >>> round(ms.mean_intercept_px / 16, 1)  # about 0.83 h
    0.8
    """
    kw = _synth_kwargs(locals())
    p = _params_from(shape, kw)
    from ..estimates import check_in_memory, plan_microstructure

    check_in_memory(plan_microstructure(p.shape, rgb=rgb), "generate_microstructure",
                    advice="render it lazily (napari_srmat.synth.lazy_microstructure: a "
                    "Dask array, rendered by chunks)", error=SynthError)
    labels, boundaries, image = _render_tiled(p)
    if not rgb:
        image = _to_grey(image)
    return Microstructure(
        image=image,
        boundaries=boundaries,
        labels=labels,
        mean_intercept_px=true_mean_intercept(labels),
        n_grains=int(np.unique(labels).size),
        pixel_size_um=pixel_size_um,
        params=_common_doc_params({"shape": p.shape, **kw}),
    )


#: The rendering keyword arguments shared by :func:`generate_microstructure` and
#: :func:`lazy_microstructure` and their defaults, written once, in the signature of
#: :func:`generate_microstructure` (keyword-only arguments, in order):
#: :func:`lazy_microstructure` (which renders the same image for the same parameters) and
#: :func:`check_microstructure_params` take theirs from here.
_RENDER_DEFAULTS: dict[str, Any] = {
    name: prm.default for name, prm in inspect.signature(generate_microstructure).parameters.items()
    if prm.kind is inspect.Parameter.KEYWORD_ONLY}


def check_microstructure_params(shape: tuple[int, int] = (512, 512), **kwargs: Any) -> None:
    """Check parameters of :func:`generate_microstructure` without rendering anything.

    The same rule as the renderer (it raises the same errors), for callers that must
    refuse bad parameters before they create anything (``srmat synth`` and its folder).

    Parameters
    ----------
    shape : (int, int)
        Image size ``(H, W)``, each side at least :data:`MIN_SYNTH_SIDE` (8) px.
    **kwargs
        Keyword arguments of :func:`generate_microstructure`; the others take its
        defaults.

    Raises
    ------
    SynthError
        A parameter is out of range (the message starts with its name).
    TypeError
        An unknown keyword argument.

    Examples
    --------
    >>> check_microstructure_params((64, 64), mean_grain_size_px=16)
    >>> check_microstructure_params((64, 64), boundary_width=0)
    Traceback (most recent call last):
    ...
    napari_srmat.synth.generator.SynthError: boundary_width must be in 1..16, got 0
    """
    unknown = set(kwargs) - set(_RENDER_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown synthetic microstructure parameter(s): {sorted(unknown)}")
    _params_from(shape, {**_RENDER_DEFAULTS, **kwargs})


def _to_grey(img: np.ndarray) -> np.ndarray:
    """8-bit luminance of an RGB image (weights :data:`~napari_srmat.channels.LUMA_WEIGHTS`)."""
    wr, wg, wb = LUMA_WEIGHTS
    g = img[..., 0] * wr + img[..., 1] * wg + img[..., 2] * wb
    return np.clip(np.rint(g), 0, 255).astype(np.uint8)


def _params_from(shape, kw) -> _Params:
    from ..io import check_pixel_size

    check_pixel_size(kw.get("pixel_size_um"))
    check_flag("rgb", kw["rgb"], error=SynthError)  # "no" is truthy: it rendered colour
    return _make_params(
        shape,
        kw["mean_grain_size_px"],
        kw["seed"],
        kw["size_spread"],
        kw["curvature"],
        kw["boundary_width"],
        kw["missing_boundary_fraction"],
        kw["texture"],
        kw["scratches"],
        kw["noise"],
        kw["blur"],
        kw["inclusions"],
        kw["boundary_darkness"],
        kw["seed_layout"],
    )


def lazy_microstructure(
    shape: tuple[int, int],
    *,
    chunks: int | tuple[int, int] | None = (_LAZY_CHUNK, _LAZY_CHUNK),
    seed: int = _RENDER_DEFAULTS["seed"],
    mean_grain_size_px: float = _RENDER_DEFAULTS["mean_grain_size_px"],
    size_spread: float = _RENDER_DEFAULTS["size_spread"],
    curvature: float = _RENDER_DEFAULTS["curvature"],
    seed_layout: str = _RENDER_DEFAULTS["seed_layout"],
    rgb: bool = _RENDER_DEFAULTS["rgb"],
    texture: float = _RENDER_DEFAULTS["texture"],
    scratches: float = _RENDER_DEFAULTS["scratches"],
    noise: float = _RENDER_DEFAULTS["noise"],
    blur: float = _RENDER_DEFAULTS["blur"],
    inclusions: float = _RENDER_DEFAULTS["inclusions"],
    missing_boundary_fraction: float = _RENDER_DEFAULTS["missing_boundary_fraction"],
    boundary_width: int = _RENDER_DEFAULTS["boundary_width"],
    boundary_darkness: float = _RENDER_DEFAULTS["boundary_darkness"],
    pixel_size_um: float | None = _RENDER_DEFAULTS["pixel_size_um"],
) -> LazyMicrostructure:
    """The same microstructure as :func:`generate_microstructure`, as lazy Dask arrays.

    Every chunk is rendered independently from global pixel coordinates (seeds on a
    global cell grid, hashed from the cell index and ``seed``), so a region is the same
    for any chunking and equals the eager rendering of the same shape and parameters.
    Nothing is computed until a chunk is asked for; a 24000 x 24000 mosaic is cheap to
    create.

    Parameters
    ----------
    shape : (int, int)
        Full image size, each side at least :data:`MIN_SYNTH_SIDE` (8) px.
    chunks : int or (int, int), optional
        Chunk size (px) of the Dask arrays: the one ``chunks`` rule of the readers and
        writers (whole pixels >= 1, one size per axis, ``(c,)`` is ``(c, c)``; None:
        1024).
    seed, mean_grain_size_px, ... :
        As in :func:`generate_microstructure`.

    Returns
    -------
    LazyMicrostructure
    """
    import dask.array as da

    kw = _synth_kwargs(locals())
    p = _params_from(shape, kw)
    # the one chunks rule of the readers and writers: whole pixels, one size per axis
    chunks = _spatial_chunks(chunks, _LAZY_CHUNK, shape=p.shape, error=SynthError)
    H, W = p.shape
    norm = da.core.normalize_chunks(chunks, (H, W))
    ro = np.concatenate([[0], np.cumsum(norm[0])])
    co = np.concatenate([[0], np.cumsum(norm[1])])

    def region(block_id):
        i, j = block_id[0], block_id[1]
        return int(ro[i]), int(ro[i + 1]), int(co[j]), int(co[j + 1])

    def _lab_block(block_id=None):
        return _labels_region_strips(*region(block_id), p)

    def _bnd_block(block_id=None):
        return _boundaries_region(*region(block_id), p)

    def _img_block(block_id=None):
        img = _image_region(*region(block_id), p)
        return img if rgb else _to_grey(img)

    labels = da.map_blocks(_lab_block, chunks=norm, dtype=np.int32, meta=np.empty((0, 0), np.int32))
    boundaries = da.map_blocks(_bnd_block, chunks=norm, dtype=bool, meta=np.empty((0, 0), bool))
    if rgb:
        image = da.map_blocks(
            _img_block,
            chunks=(norm[0], norm[1], (3,)),
            dtype=np.uint8,
            meta=np.empty((0, 0, 0), np.uint8),
            new_axis=None,
        )
    else:
        image = da.map_blocks(
            _img_block, chunks=norm, dtype=np.uint8, meta=np.empty((0, 0), np.uint8)
        )
    return LazyMicrostructure(
        image=image,
        boundaries=boundaries,
        labels=labels,
        pixel_size_um=pixel_size_um,
        params=_common_doc_params({"shape": p.shape, "chunks": chunks, **kw}),
    )


def twin_traces(labels: np.ndarray, boundaries: np.ndarray, n: int = 12) -> np.ndarray:
    """Straight "twin" lines across the ``n`` largest grains that do not touch the border.

    Each line is the image row through the grain's median row, limited to the grain's
    pixels that are not boundary: an annealing-twin trace that ends on the grain's own
    boundaries. Used to check that twin boundaries are excluded from grain counts and
    intercepts as ASTM E112 requires.

    Parameters
    ----------
    labels : (H, W) int array
        Grain labels (e.g. :attr:`Microstructure.labels`).
    boundaries : (H, W) bool array
        The boundary mask of the same structure.
    n : int
        How many grains get a trace (the largest first).

    Returns
    -------
    (H, W) bool array
        The twin traces (never on a boundary pixel).

    Examples
    --------
    >>> ms = generate_microstructure((128, 128), mean_grain_size_px=24, seed=1, rgb=False)
    >>> tw = twin_traces(ms.labels, ms.boundaries, n=3)
    >>> bool(tw.any()), bool((tw & ms.boundaries).any())
    (True, False)
    """
    labels = np.asarray(labels)
    boundaries = np.asarray(boundaries, bool)
    ids, counts = np.unique(labels, return_counts=True)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    keep = ~np.isin(ids, border)
    traces = np.zeros(labels.shape, bool)
    for grain in ids[keep][np.argsort(counts[keep], kind="stable")[::-1][:n]]:
        rows, _ = np.nonzero(labels == grain)
        r = int(np.median(rows))
        traces[r] |= (labels[r] == grain) & ~boundaries[r]
    return traces
