"""Heyn lineal-intercept grain size (ASTM E112) on binary boundary masks.

A set of test lines (a *pattern*) is laid over a boundary mask. Each line is
rasterized into an ordered, 4-connected sequence of pixels (a "supercover" path: a
4-connected path cannot slip through an 8-connected one-pixel boundary), and every
run of consecutive boundary pixels along it counts as **one** intersection, so a
boundary drawn 5 px wide is counted once; on a tilted line the runs of one passage along
a boundary (a zig-zag across its staircase, :func:`_passage_merges`) are one crossing,
unless the line cut the corner of a third grain. The mean lineal intercept is the pooled
ratio ``ℓ̄ = ΣL / ΣP`` of total test-line length to the intersection count P (the
number of intersections, a drawn line's end on a boundary scoring 1/2:
:func:`scores_line_ends`).

Everything is vectorized: all lines are rasterized together and the mask is read
with a single fancy-index gather, so a 10000 x 10000 mask with 1000 random lines
takes about a second (see ``benchmarks/bench_heyn.py``).

Patterns
--------
``"random"``
    ``n_lines`` lines with direction θ uniform in [0, π) through a point uniform in
    the margin box, extended to and clipped by the margin box.
``"grid"``
    ``n_lines`` equally spaced horizontal and ``n_lines`` vertical lines spanning
    the margin box (``2 * n_lines`` lines; the TBM evaluation protocol is 50 + 50
    with a 5% margin).
``"circles"``
    The ASTM E112 Abrams three-circle pattern: three concentric, equally spaced circles
    centred in the image whose circumferences are in the ratio 250 : 166.7 : 83.3 (500
    mm in all on the standard's pattern; diameters 79.58, 53.05 and 26.53 mm, radii
    3 : 2 : 1), the largest inscribed in the margin box.
``"segments"``
    Explicit test lines: an ``(M, 2, 2)`` array ``[[r0, c0], [r1, c1]]`` or a list of
    ``(K, 2)`` polylines (see :func:`load_segments`). A boundary that a drawn line's end
    touches counts 1/2 (ASTM E112; :func:`scores_line_ends`).

Coordinates are ``(row, col)`` in pixels; pixel ``(r, c)`` covers
``[r - 0.5, r + 0.5) x [c - 0.5, c + 0.5)``. Lengths are Euclidean lengths of the
continuous test lines.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ..errors import check_flag, check_number, check_seed, compared_value
from ..io import check_pixel_size, file_not_found

if TYPE_CHECKING:
    from ..grainsize import GrainSizeResult

__all__ = [
    "COUNT_KEYS",
    "HeynError",
    "HeynResult",
    "PATTERNS",
    "HEYN_N_LINES",
    "HEYN_SEED",
    "HEYN_MARGIN",
    "check_n_lines",
    "check_margin",
    "check_mask_scale",
    "BLOCK_SCALE_MAX",
    "measure_intercepts",
    "heyn_error",
    "astm_grain_size_number",
    "mean_intercept_from_astm_g",
    "make_pattern",
    "load_segments",
    "SEGMENT_CLIP_TOLERANCE_PX",
    "confidence_interval",
    "t_quantile_95",
    "CI95_TAILS",
    "scores_line_ends",
    "LINE_END_SCORED_PATTERNS",
    "CROSSINGS_SCORING",
    "E112_SCORING",
    "HEYN_SCORINGS",
    "scoring_name",
    "scoring_triple_points",
    "compare_intercepts",
    "summarize_heyn_rows",
    "MIN_MASK_SIDE",
    "check_measurable_shape",
    "MAX_BOUNDARY_FRACTION",
    "MAX_THINNED_BOUNDARY_FRACTION",
    "THICK_BOUNDARY_WIDTH_PX",
    "boundary_width_px",
    "coarse_map_note",
    "as_boundary_mask",
    "DIRECTION_TOLERANCE_DEG",
    "directional_intercepts",
]

#: Smallest mask side (px) on which test lines are laid: a boundary pixel must have a
#: neighbour on each side along a line to be crossed.
MIN_MASK_SIDE = 3

#: A map measured with a larger fraction of boundary pixels is not a boundary map (grains
#: are mostly interior; an all-boundary mask, e.g. a probability map thresholded at 0,
#: would otherwise report one "intersection" per line and a plausible-looking G). The map
#: judged is the one measured: thinned when ``skeletonize=True`` (a probability map
#: binarised low, its bands over half the pixels, thins to a boundary network), up to
#: :data:`MAX_THINNED_BOUNDARY_FRACTION` before thinning.
MAX_BOUNDARY_FRACTION = 0.5

#: A map with a larger fraction of boundary pixels before thinning is not a boundary map
#: even thinned: its skeleton is the medial axis of the few grain pixels left (random
#: maps 95-99.9 % boundary thinned read ℓ̄ 11-20 px, G 8-11.4 on 512² px; an all-boundary
#: mask thins to a few pixels that one line crosses). Between
#: :data:`MAX_BOUNDARY_FRACTION` and this the thinned map is measured with a warning: the
#: tbm val probability map ``15-0-1024`` at threshold 0.30 is 52 % boundary and its
#: skeleton reads 17.34 px, its boundaries layer's figure.
MAX_THINNED_BOUNDARY_FRACTION = 0.75

#: Boundaries wider than this (px, mean: :func:`boundary_width_px`) measured without
#: thinning get a warning that ℓ̄ reads long (bands merge the crossings of close
#: boundaries and fill small grains). On the tbm val masks (hand-drawn, 2.9-3.3 px by that
#: rule) unthinned ℓ̄ is +0.7-3.8 % of thinned, their skeletons dilated to ~3.3 px +2-6 %,
#: to ~6 px +8-15 %; the val probability map ``15-0-1024`` binarised at 0.7 (3.5 px)
#: +0.9 %, at 0.5752 (4.5 px) +7.9 %, at 0.5 (5.3 px) +17 %, at 0.4 (6.5 px) +26 %.
THICK_BOUNDARY_WIDTH_PX = 4.0

PATTERNS = ("random", "grid", "circles", "segments")

#: The Heyn protocol defaults (library, CLI, widgets, benchmarks): random test lines
#: (or grid lines per axis), the seed of the random pattern, and the margin fraction
#: left out on each side.
HEYN_N_LINES = 50
#: More test lines than this are refused (1e6 lines take about 40 s and 2 GB; the
#: sampling error stops shrinking long before).
MAX_N_LINES = 100_000
HEYN_SEED = 1234
HEYN_MARGIN = 0.05

#: The two tail probabilities of the package's one confidence level, a two-sided 95 %
#: interval (ASTM E112 section 15): :func:`t_quantile_95`.
CI95_TAILS = (0.025, 0.975)

#: Patterns whose line ends are scored by E112 whatever ``triple_points`` says: a boundary
#: touched by an end counts 1/2 (:func:`scores_line_ends`).
LINE_END_SCORED_PATTERNS = ("segments",)

#: How the lab measurement on masks (``srmat heyn --scoring``, the Heyn widget's mask tab)
#: scores the intersection count P, named in their outputs (``"scoring"``):
#: every boundary run a line crosses counts 1 (``triple_points=False``, the TBM benchmark
#: protocol; a drawn line's touched end is 1/2 still, :func:`scores_line_ends`) ...
CROSSINGS_SCORING = "crossings"
#: ... or ASTM E112's scoring (``triple_points=True``): 1 1/2 at a triple point, 1/2
#: where a line's end touches a boundary.
E112_SCORING = "e112"
#: The scorings, by ``triple_points`` (False, True): :func:`scoring_name`.
HEYN_SCORINGS = (CROSSINGS_SCORING, E112_SCORING)

#: A drawn test line (``pattern="segments"``) that loses more than this length (px) to
#: the mask's edge is told as clipped (:func:`measure_intercepts`' warning): a line
#: dragged to the image's edge in napari may overshoot it by a fraction of a pixel.
SEGMENT_CLIP_TOLERANCE_PX = 0.5

#: Circumferences of the E112 Abrams three-circle pattern (mm): three concentric, equally
#: spaced circles of 500 mm in all (diameters 79.58, 53.05 and 26.53 mm); radii are
#: proportional.
ABRAMS_CIRCUMFERENCES = (250.0, 166.7, 83.3)


class HeynError(ValueError):
    """Bad input to the Heyn intercept measurement (mask, pattern or segments)."""


# --------------------------------------------------------------------------- ASTM
def astm_grain_size_number(mean_intercept_mm: float | np.ndarray) -> float | np.ndarray:
    """ASTM E112 grain size number G from the mean lineal intercept.

    ``G = -6.643856 log10(ℓ̄ / mm) - 3.288`` (E112, Table 6 / eq. for ℓ̄ in mm).

    Parameters
    ----------
    mean_intercept_mm : float or array
        Mean lineal intercept in millimetres (> 0).

    Returns
    -------
    float or array
        G (larger is finer). ``ℓ̄ = 0.32 mm`` gives ``G ≈ 0``, ``0.01 mm`` gives ``G ≈ 10``.
    """
    arr = np.asarray(mean_intercept_mm, dtype=float)
    if np.any(~(arr > 0)):
        raise HeynError("mean intercept must be positive to compute the ASTM G number")
    g = -6.643856 * np.log10(arr) - 3.288
    return float(g) if g.ndim == 0 else g


def mean_intercept_from_astm_g(g: float | np.ndarray) -> float | np.ndarray:
    """Inverse of :func:`astm_grain_size_number`: ℓ̄ in mm for a grain size number G."""
    out = 10.0 ** (-(np.asarray(g, dtype=float) + 3.288) / 6.643856)
    return float(out) if out.ndim == 0 else out


def finite_or_none(x: Any) -> float | None:
    """``float(x)``, or None for None, NaN and infinities (how figures go into JSON).

    Examples
    --------
    >>> finite_or_none(2), finite_or_none(float("inf")), finite_or_none(None)
    (2.0, None, None)
    """
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def scores_line_ends(pattern: str, triple_points: bool) -> bool:
    """Whether a boundary touched by a test line's end scores 1/2 (ASTM E112), not 1.

    The one rule of :func:`measure_intercepts`: with E112's scoring
    (``triple_points=True``) for every pattern, and always for drawn lines
    (:data:`LINE_END_SCORED_PATTERNS`), which are usually drawn from one boundary to
    another (a line across one grain then has P = 1, not 2). The generated patterns
    keep the run count of the TBM benchmark protocol without it: their ends fall where
    the margin box puts them, and the documented benchmark numbers were counted so.

    Examples
    --------
    >>> scores_line_ends("segments", False), scores_line_ends("random", False)
    (True, False)
    """
    return bool(triple_points) or pattern in LINE_END_SCORED_PATTERNS


def scoring_name(triple_points: bool) -> str:
    """The name of the scoring a ``triple_points`` flag of :func:`measure_intercepts`
    gives (:data:`HEYN_SCORINGS`), the ``"scoring"`` of ``srmat heyn``'s JSON and of the
    Heyn widget's statistics.

    Examples
    --------
    >>> scoring_name(False), scoring_name(True)
    ('crossings', 'e112')
    """
    return HEYN_SCORINGS[bool(triple_points)]


def scoring_triple_points(scoring: str) -> bool:
    """The ``triple_points`` flag of :func:`measure_intercepts` that a scoring name
    (:data:`HEYN_SCORINGS`: ``srmat heyn --scoring``, the Heyn widget's and
    ``add_heyn_measurement``'s ``scoring``) stands for: the inverse of
    :func:`scoring_name`.

    Parameters
    ----------
    scoring : str
        ``"crossings"`` (every boundary crossed counts 1) or ``"e112"`` (ASTM E112's
        scoring: 1 1/2 at a triple point, 1/2 where a line's end touches a boundary).

    Returns
    -------
    bool
        True for E112's scoring.

    Raises
    ------
    ValueError
        Any other name (the message lists the scorings).

    Examples
    --------
    >>> scoring_triple_points("crossings"), scoring_triple_points("e112")
    (False, True)
    """
    if scoring not in HEYN_SCORINGS:
        raise ValueError(f"scoring {scoring!r}: use one of {', '.join(HEYN_SCORINGS)}")
    return scoring == E112_SCORING


def t_quantile_95(dof: int) -> float:
    """The Student t quantile of a two-sided 95 % interval, ``t(0.975, dof)`` (the one
    confidence level of the package's field statistics, ASTM E112 section 15).

    Examples
    --------
    >>> round(t_quantile_95(4), 3)
    2.776
    """
    from scipy.special import stdtrit  # Student t quantile (light import)

    return float(stdtrit(dof, CI95_TAILS[1]))


def confidence_interval(values: Sequence[float] | np.ndarray) -> tuple[float, float, float]:
    """Mean, 95% Student-t half-width and relative accuracy (%RA) of field values.

    Parameters
    ----------
    values : sequence of float
        One value per field (or per test line), e.g. intercept counts per unit length.

    Returns
    -------
    (mean, half_width, relative_accuracy_pct)
        ``half_width = t(0.975, n-1) * s / sqrt(n)`` and ``%RA = 100 * half_width / mean``
        (ASTM E112 section 15). NaN when fewer than two values.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    n = v.size
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = float(v.mean())
    if n < 2:
        return mean, math.nan, math.nan
    half = t_quantile_95(n - 1) * float(v.std(ddof=1)) / math.sqrt(n)
    ra = 100.0 * half / mean if mean != 0 else math.nan
    return mean, half, ra


# ------------------------------------------------------------------ patterns
def check_n_lines(n_lines: Any, *, field: str = "n_lines") -> int:
    """The rule of the number of random lines (or grid lines per axis): an integer in
    ``[1, MAX_N_LINES]``.

    Parameters
    ----------
    n_lines : Any
        The value to check (an integral float such as ``10.0`` passes).
    field : str
        Its name in the message.

    Returns
    -------
    int

    Raises
    ------
    HeynError
        One line naming ``field``, the range and the value.

    Examples
    --------
    >>> check_n_lines(10.0)
    10
    """
    return check_number(field, n_lines, lo=1, hi=MAX_N_LINES, integer=True, error=HeynError)


def check_margin(margin: Any) -> float:
    """The rule of the margin: the fraction of each side left out of the test lines, a
    number in ``[0, 0.5)``.

    Parameters
    ----------
    margin : Any
        The value to check.

    Returns
    -------
    float

    Raises
    ------
    HeynError
        One line with the range and the value.

    Examples
    --------
    >>> check_margin(0.05)
    0.05
    """
    return check_number("margin", margin, lo=0, hi=0.5, hi_open=True, error=HeynError)


def check_mask_scale(mask_scale: Any) -> int | None:
    """The rule of a given mask scale (``measure_intercepts(mask_scale=)``): None (read
    it off the mask, :func:`_block_scale`) or an integer in ``[1, BLOCK_SCALE_MAX]``.

    Parameters
    ----------
    mask_scale : Any
        The value to check (an integral float such as ``4.0`` passes).

    Returns
    -------
    int or None

    Raises
    ------
    HeynError
        One line with the range and the value.

    Examples
    --------
    >>> check_mask_scale(4.0), check_mask_scale(None)
    (4, None)
    """
    if mask_scale is None:
        return None
    return check_number(
        "mask_scale", mask_scale, lo=1, hi=BLOCK_SCALE_MAX, integer=True, error=HeynError
    )


def check_measurable_shape(shape: Sequence[int], what: str, purpose: str,
                           error: type[Exception] = HeynError) -> None:
    """The rule of the smallest measurable input: both sides at least
    :data:`MIN_MASK_SIDE` pixels (one rule for a mask and for a micrograph).

    Parameters
    ----------
    shape : Sequence[int]
        The input's shape; its first two entries are rows and columns.
    what : str
        What the input is, as the message names it ("mask", "image").
    purpose : str
        What it is too small for ("to lay test lines on", "to measure").
    error : type[Exception]
        The exception raised.

    Raises
    ------
    Exception
        ``error``, one line with the size and the minimum.

    Examples
    --------
    >>> check_measurable_shape((2, 9), "mask", "to lay test lines on")
    Traceback (most recent call last):
    ...
    napari_srmat.metrics.heyn.HeynError: mask of 2 x 9 px is too small ... 3 x 3 px
    """
    rows, cols = shape[0], shape[1]
    if min(rows, cols) < MIN_MASK_SIDE:
        raise error(f"{what} of {rows} x {cols} px is too small {purpose}: it must be at "
                    f"least {MIN_MASK_SIDE} x {MIN_MASK_SIDE} px")


def _margin_box(shape: tuple[int, int], margin: float) -> tuple[float, float, float, float]:
    margin = check_margin(margin)
    h, w = shape
    return (margin * (h - 1), (1 - margin) * (h - 1), margin * (w - 1), (1 - margin) * (w - 1))


def _clip_line_to_box(p, d, box):
    """Clip the infinite lines ``p + t d`` to ``box``; returns (start, end) arrays (M, 2)."""
    r0, r1, c0, c1 = box
    tmin = np.full(len(p), -np.inf)
    tmax = np.full(len(p), np.inf)
    for axis, lo, hi in ((0, r0, r1), (1, c0, c1)):
        dd = d[:, axis]
        pp = p[:, axis]
        nz = np.abs(dd) > 1e-12
        with np.errstate(divide="ignore", invalid="ignore"):
            ta = np.where(nz, (lo - pp) / dd, -np.inf)
            tb = np.where(nz, (hi - pp) / dd, np.inf)
        tmin = np.maximum(tmin, np.minimum(ta, tb))
        tmax = np.minimum(tmax, np.maximum(ta, tb))
    return p + tmin[:, None] * d, p + tmax[:, None] * d


def make_pattern(
    shape: tuple[int, int],
    pattern: str = "random",
    *,
    n_lines: int = HEYN_N_LINES,
    seed: int = HEYN_SEED,
    margin: float = HEYN_MARGIN,
    segments: Any = None,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Test-line geometry of a pattern.

    Parameters
    ----------
    shape : (int, int)
        Image shape ``(H, W)``.
    pattern : {"random", "grid", "circles", "segments"}
        See the module docstring.
    n_lines : int
        Number of random lines, or of horizontal (and of vertical) grid lines; ignored by
        the circles, but refused there too when out of :func:`check_n_lines`'s range.
    seed : int
        Seed of the random pattern.
    margin : float
        Fraction of the image kept free on each side.
    segments : array, list of arrays or path, optional
        Explicit test lines for ``pattern="segments"``.

    Returns
    -------
    paths : list of (K, 2) float arrays
        Vertices ``(row, col)`` of each test line (polylines).
    closed : bool array
        Whether each path is a closed loop (circles).
    """
    if len(shape) < 2:
        raise HeynError(f"need a 2-D shape, got {shape}")
    shape = (int(shape[0]), int(shape[1]))
    if pattern not in PATTERNS:
        raise HeynError(f"unknown pattern {pattern!r}; choose one of {', '.join(PATTERNS)}")
    if pattern == "segments":
        if segments is None:
            raise HeynError('pattern="segments" needs segments= (array, list or file)')
        if isinstance(segments, (str, os.PathLike)):
            segments = load_segments(segments)
        paths = _as_paths(segments)
        return paths, np.zeros(len(paths), bool)
    if segments is not None:
        raise HeynError(f'segments= is only used with pattern="segments", not {pattern!r}')
    # ignored by the circles, but held to the same rule: n_lines=-5 passed silently
    n_lines = check_n_lines(n_lines)
    box = _margin_box(shape, margin)
    r0, r1, c0, c1 = box
    if pattern == "grid":
        rows = np.linspace(r0, r1, n_lines) if n_lines > 1 else np.array([(r0 + r1) / 2])
        cols = np.linspace(c0, c1, n_lines) if n_lines > 1 else np.array([(c0 + c1) / 2])
        paths = [np.array([[r, c0], [r, c1]]) for r in rows]
        paths += [np.array([[r0, c], [r1, c]]) for c in cols]
        return paths, np.zeros(len(paths), bool)
    if pattern == "random":
        if seed is not None:  # None: a fresh, unreproducible draw
            seed = check_seed(seed, error=HeynError)
        rng = np.random.default_rng(seed)
        p = np.column_stack([rng.uniform(r0, r1, n_lines), rng.uniform(c0, c1, n_lines)])
        theta = rng.uniform(0.0, np.pi, n_lines)
        d = np.column_stack([np.sin(theta), np.cos(theta)])
        a, b = _clip_line_to_box(p, d, box)
        return [np.stack([a[i], b[i]]) for i in range(n_lines)], np.zeros(n_lines, bool)
    # circles
    center = np.array([(r0 + r1) / 2, (c0 + c1) / 2])
    big = min(r1 - r0, c1 - c0) / 2
    paths = []
    for circ in ABRAMS_CIRCUMFERENCES:
        radius = big * circ / ABRAMS_CIRCUMFERENCES[0]
        n_vert = max(16, int(math.ceil(2 * math.pi * radius / 2)))  # vertices <= 2 px apart
        ang = np.linspace(0, 2 * np.pi, n_vert + 1)
        paths.append(center + radius * np.column_stack([np.sin(ang), np.cos(ang)]))
    return paths, np.ones(len(paths), bool)


def _as_paths(segments: Any) -> list[np.ndarray]:
    if isinstance(segments, np.ndarray) and segments.ndim == 3:
        if segments.shape[1:] != (2, 2) and segments.shape[2] != 2:
            raise HeynError(f"segments array must be (M, 2, 2), got {segments.shape}")
        items = list(segments)
    elif isinstance(segments, np.ndarray) and segments.ndim == 2 and segments.shape[1] == 4:
        items = [s.reshape(2, 2) for s in segments]
    elif isinstance(segments, (str, bytes, dict)) or not hasattr(segments, "__iter__"):
        raise HeynError("segments must be a list of polylines [[[r0, c0], [r1, c1], ...], "
                        f"...], got {type(segments).__name__}")
    else:
        items = list(segments)
    paths = []
    for i, s in enumerate(items):
        try:
            arr = np.asarray(s, dtype=float)
        except (TypeError, ValueError) as exc:
            raise HeynError(f"segment {i} is not numeric: {exc}") from None
        if arr.ndim == 1 and arr.size == 4:
            arr = arr.reshape(2, 2)
        if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 2:
            raise HeynError(
                f"segment {i} must be [[r0, c0], [r1, c1], ...] (K >= 2 points), got shape "
                f"{arr.shape}"
            )
        if not np.all(np.isfinite(arr)):
            raise HeynError(f"segment {i} has non-finite coordinates")
        if not np.any(arr != arr[0]):  # a click without a drag: its end on a boundary
            # would add 1/2 to P with no length of line
            raise HeynError(f"segment {i} has no length (its points coincide at "
                            f"{arr[0].tolist()}): delete it or draw it again")
        paths.append(arr)
    if not paths:
        raise HeynError("no segments given")
    return paths


def load_segments(path: str | os.PathLike) -> list[np.ndarray]:
    """Read test lines from a JSON or CSV file.

    JSON: a list of polylines ``[[[r0, c0], [r1, c1], ...], ...]`` or an object
    ``{"segments": [...]}``. CSV: one segment per row ``r0,c0,r1,c1`` (an optional
    header line is skipped).

    Parameters
    ----------
    path : path-like
        ``.json`` or ``.csv`` file.

    Returns
    -------
    list of (K, 2) arrays
    """
    path = Path(path)
    if path.is_dir():
        raise HeynError(f"{path} is a folder, not a segments file (.json or .csv)")
    if not path.is_file():
        raise file_not_found(path, "segments file")
    try:
        return _read_segments(path)
    except UnicodeDecodeError:
        raise HeynError(f"{path}: not a text file (a segments file is JSON or CSV "
                        "text)") from None
    except HeynError as exc:  # say which file the segments came from
        if str(path) in str(exc):
            raise
        raise HeynError(f"{path}: {exc}") from None


def _read_segments(path: Path) -> list[np.ndarray]:
    """The segments of an existing ``.json`` / ``.csv`` file (:func:`load_segments`)."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise HeynError(f"{path}: not valid JSON ({exc})") from None
        if isinstance(data, dict):
            if "segments" not in data:
                raise HeynError(f'{path}: JSON object needs a "segments" key')
            data = data["segments"]
        return _as_paths(data)
    if suffix == ".csv":
        rows = []
        with path.open(newline="") as fh:
            for lineno, row in enumerate(csv.reader(fh), 1):
                row = [x.strip() for x in row if x.strip() != ""]
                if not row:
                    continue
                try:
                    vals = [float(x) for x in row]
                except ValueError:
                    if lineno == 1:
                        continue  # header
                    raise HeynError(f"{path}:{lineno}: not numbers: {row}") from None
                if len(vals) != 4:
                    raise HeynError(
                        f"{path}:{lineno}: expected r0,c0,r1,c1, got {len(vals)} values"
                    )
                rows.append(np.array(vals).reshape(2, 2))
        return _as_paths(rows)
    raise HeynError(f"{path}: segments file must be .json or .csv")


# --------------------------------------------------------------- rasterizing
class _Supercover(NamedTuple):
    """Step layout of the concatenated 4-connected paths of segments ``a -> b``."""

    R0: np.ndarray  # first pixel (row, col) of each segment
    C0: np.ndarray
    R1: np.ndarray  # last pixel
    C1: np.ndarray
    sr: np.ndarray  # sign of the row / column steps
    sc: np.ndarray
    npix: np.ndarray  # pixels per segment
    offs: np.ndarray  # index of each segment's first pixel in the concatenation
    col_at: np.ndarray  # indices reached by a column step (all others: a row step)
    col_seg: np.ndarray  # segment of each column step


def _supercover(a: np.ndarray, b: np.ndarray) -> _Supercover:
    """4-connected "supercover" pixel paths of segments ``a -> b`` (arrays (S, 2)).

    The path lists, in order, every pixel the continuous segment passes through. It
    is built from the two interleaved sequences of pixel-border crossings: the j-th
    column-border crossing comes after ``nr(j)`` row-border crossings, where ``nr``
    follows from the row of the line at that border, so the merged order is known in
    closed form (no sorting, no per-pixel Python). Within a segment, the step taken to
    reach each pixel is a column step at ``col_at``, else a row step.
    """
    ra, ca = a[:, 0], a[:, 1]
    rb, cb = b[:, 0], b[:, 1]
    R0 = np.floor(ra + 0.5).astype(np.int64)
    C0 = np.floor(ca + 0.5).astype(np.int64)
    R1 = np.floor(rb + 0.5).astype(np.int64)
    C1 = np.floor(cb + 0.5).astype(np.int64)
    nrow = np.abs(R1 - R0)
    ncol = np.abs(C1 - C0)
    sr = np.sign(R1 - R0)
    sc = np.sign(C1 - C0)
    npix = nrow + ncol + 1
    offs = np.cumsum(npix) - npix
    n_ev = int(ncol.sum())
    if n_ev:
        segc = np.repeat(np.arange(len(a)), ncol)
        j = np.arange(n_ev, dtype=np.int64) - (np.cumsum(ncol) - ncol)[segc]
        border = C0[segc] + sc[segc] * (0.5 + j)
        t = (border - ca[segc]) / (cb - ca)[segc]
        rr = ra[segc] + t * (rb - ra)[segc]
        nr = np.clip(np.abs(np.floor(rr + 0.5).astype(np.int64) - R0[segc]), 0, nrow[segc])
        col_at = offs[segc] + j + nr + 1
    else:
        segc = col_at = np.zeros(0, np.int64)
    return _Supercover(R0, C0, R1, C1, sr, sc, npix, offs, col_at, segc)


class _BlockGrid(NamedTuple):
    """The pixel grid a mask was drawn on: ``scale`` x ``scale`` blocks (a nearest upscale,
    :func:`_block_scale`) whose first full block starts at ``row_offset``, ``col_offset``
    (a crop after upscaling leaves partial blocks at the edges); scale 1: the pixels."""

    scale: int = 1
    row_offset: int = 0
    col_offset: int = 0

    def _shift(self, axis: int) -> int:
        return (self.scale - (self.row_offset, self.col_offset)[axis]) % self.scale

    def block(self, x: np.ndarray, axis: int) -> np.ndarray:
        """The block index along ``axis`` (0 rows, 1 columns) of pixel coordinates ``x``."""
        return (x + self._shift(axis)) // self.scale

    def pixel(self, b: np.ndarray, axis: int, size: int) -> np.ndarray:
        """The pixel coordinate along ``axis`` of the middle of blocks ``b``, clipped to the
        mask's ``size`` on that axis (a partial edge block: a pixel of it). Every pixel of
        a block of a nearest upscale is the same; on a mask drawn at 1 / s and upscaled
        smoothly (bilinear, a blur) the block's middle is its pixel least moved."""
        mid = b * self.scale - self._shift(axis) + self.scale // 2
        return np.clip(mid, 0, size - 1)


#: The grid of a mask drawn at x 1 (no block scale): the 2 px bridge of :func:`_bridged`.
_PIXEL_GRID = _BlockGrid()


def _bridged(mask, er, ec, sr, sc, grid: _BlockGrid = _PIXEL_GRID):
    """Whether each run end ``(er, ec)`` joins the next run start ``(sr, sc)``.

    They join when 8-adjacent, or two pixels apart (Chebyshev) with a boundary pixel
    of ``mask`` 8-adjacent to both: the same boundary, seen twice by a zig-zagging
    digital line. On a nearest upscale (``grid``, :func:`_block_offsets`) the same rule
    on its blocks, the pixels of the mask drawn: the ends' blocks 8-adjacent, or two
    blocks apart with a boundary block next to both.
    """
    H, W = mask.shape
    er, ec = grid.block(er, 0), grid.block(ec, 1)
    sr, sc = grid.block(sr, 0), grid.block(sc, 1)
    nr, nc = grid.block(H - 1, 0) + 1, grid.block(W - 1, 1) + 1
    cheb = np.maximum(np.abs(sr - er), np.abs(sc - ec))
    joined = cheb <= 1
    two = cheb == 2
    if two.any():
        for qr in (-1, 0, 1):
            for qc in (-1, 0, 1):
                if qr == 0 and qc == 0:
                    continue
                rr, cc = er + qr, ec + qc
                ok = two & (np.abs(sr - rr) <= 1) & (np.abs(sc - cc) <= 1)
                ok &= (rr >= 0) & (rr < nr) & (cc >= 0) & (cc < nc)
                if ok.any():
                    k = np.flatnonzero(ok)
                    joined[k] |= mask[grid.pixel(rr[k], 0, H), grid.pixel(cc[k], 1, W)]
    return joined


#: Largest block size s that :func:`_block_scale` tries: a nearest upscale x16 reads as
#: x8 (a x16 upscale is also a x8 one), x11 as no upscale.
BLOCK_SCALE_MAX = 8
#: Pixels compared a step by :func:`_block_scale` (rows of the mask at a time): bounded
#: temporaries, and an early answer on a mask drawn at x 1 (its first rows).
_BLOCK_CHUNK_PIXELS = 1 << 16


def _gcd_of_gaps(pos: np.ndarray) -> int:
    """Greatest common divisor of the gaps between sorted positions (0: under two)."""
    return int(np.gcd.reduce(np.diff(pos))) if pos.size > 1 else 0


def _block_scale(mask: np.ndarray) -> int | None:
    """The block size ``s`` of a mask that is exactly a nearest (block) upscale, else None.

    A nearest upscale x ``s`` makes every pixel an ``s x s`` block; a crop afterwards
    shifts the block grid (one offset per axis, partial blocks at the edges). Such a
    mask changes from one row to the next only at rows of one residue modulo ``s``,
    and between columns likewise (a block is constant where its rows are equal within
    the block and its columns too), so ``s`` divides every gap between the rows that
    differ from the row before, and between such columns. Returned: the largest divisor
    of those gaps, both axes together, from :data:`BLOCK_SCALE_MAX` down to 2; None
    where it is 1, where either axis has under two changes (no evidence of a block
    grid: straight bands), or for an empty mask. Exact (no tolerance). O(N) time,
    temporaries of :data:`_BLOCK_CHUNK_PIXELS` pixels (no per-pixel memory); stops at
    the first rows that rule every ``s`` out (a mask drawn at x 1: its first rows).
    """
    H, W = mask.shape
    if H < 2 or W < 2:
        return None
    step = max(2, _BLOCK_CHUNK_PIXELS // W)
    last = np.zeros(0, np.int64)  # the last row differing from the row before
    g_rows = 0
    col_change = np.zeros(W - 1, bool)
    for a in range(0, H - 1, step - 1):
        block = mask[a : min(a + step, H)]  # overlapping by one row
        changed = np.flatnonzero((block[1:] != block[:-1]).any(axis=1)) + a + 1
        if changed.size:
            g_rows = math.gcd(g_rows, _gcd_of_gaps(np.concatenate([last, changed])))
            last = changed[-1:]
        col_change |= (block[:, 1:] != block[:, :-1]).any(axis=0)
        g = math.gcd(g_rows, _gcd_of_gaps(np.flatnonzero(col_change)))
        if g == 1:
            return None
    g_cols = _gcd_of_gaps(np.flatnonzero(col_change))
    if g_rows == 0 or g_cols == 0:
        return None
    g = math.gcd(g_rows, g_cols)
    return next((s for s in range(BLOCK_SCALE_MAX, 1, -1) if g % s == 0), None)


def _block_offsets(mask: np.ndarray, s: int, *, exact: bool = False) -> _BlockGrid:
    """The s x s block grid that fits ``mask`` best: on each axis the offset (residue
    modulo ``s``) at which the most pixels differ from the pixel before (above, or to the
    left), the first such residue on a tie, 0 on an axis without a change. On a nearest
    upscale x ``s`` (:func:`_block_scale`) every change lies on the one residue of its
    grid, so the grid is exact; on a mask drawn at 1 / ``s`` and upscaled smoothly
    (bilinear, a blur; ``measure_intercepts(mask_scale=)``) the edges of the bands along
    the axes still step there, oblique edges at every residue alike. Rows compared
    :data:`_BLOCK_CHUNK_PIXELS` pixels at a time (O(N) time, no per-pixel memory).

    ``exact``: ``mask`` is an exact nearest upscale x ``s`` (the scale found by
    :func:`_block_scale`, not given): every change lies on its grid's residue, so the
    first row and the first column that change give it (:func:`_block_scale`'s rule), and
    the rows are read only up to them (a mask's first rows), not counted whole."""
    H, W = mask.shape
    step = max(2, _BLOCK_CHUNK_PIXELS // max(W, 1))
    by_row = np.zeros(s)  # pixels differing from the one above, by row residue
    by_col = np.zeros(s)  # ... from the one to the left, by column residue
    for a in range(0, max(H - 1, 1), step - 1):
        block = mask[a : min(a + step, H)]  # overlapping by one row
        rows = np.count_nonzero(block[1:] != block[:-1], axis=1)
        by_row += np.bincount((np.arange(rows.size) + a + 1) % s, rows, minlength=s)
        block = block[1:] if a else block  # the overlapping row counted once
        cols = np.count_nonzero(block[:, 1:] != block[:, :-1], axis=0)
        by_col += np.bincount((np.arange(cols.size) + 1) % s, cols, minlength=s)
        if exact and by_row.any() and by_col.any():
            break  # one residue each: the first changes'
    return _BlockGrid(s, int(np.argmax(by_row)), int(np.argmax(by_col)))


#: Least share of grain corners per boundary edge (:func:`_oblique_share`) of the mask as
#: drawn at which a block scale found on a mask serves the rules of the mask as drawn
#: (:func:`_found_block_scale`). A rectilinear map (every grain a rectangle: square grids,
#: brick walls) has none; synthetic microstructures of 8-48 px grains, 1-5 px bands, and
#: their skeletons 0.16-0.51 (whole-diff reader W2).
MIN_OBLIQUE_SHARE = 0.05


def _oblique_share(drawn: np.ndarray) -> float:
    """Steps of oblique boundaries per boundary edge of a mask: the 2 x 2 windows in which
    a grain turns a concave corner (one boundary pixel of four) or a 1 px line steps
    diagonally (two on a diagonal, counted twice), over the pixel edges between boundary
    and grain. 0 where every grain is a rectangle (only axis-parallel boundaries); a
    line at angle θ from an axis steps about tan θ times a pixel. 0 without an edge."""
    n = drawn[:-1, :-1].astype(np.int8) + drawn[1:, :-1] + drawn[:-1, 1:] + drawn[1:, 1:]
    diagonal = (n == 2) & (drawn[:-1, :-1] == drawn[1:, 1:])
    steps = np.count_nonzero(n == 1) + 2 * np.count_nonzero(diagonal)
    rows = np.count_nonzero(drawn[1:] != drawn[:-1])
    edges = rows + np.count_nonzero(drawn[:, 1:] != drawn[:, :-1])
    return steps / edges if edges else 0.0


def _found_block_scale(mask: np.ndarray, s: int | None) -> int | None:
    """The block scale ``s`` read off ``mask`` (:func:`_block_scale`'s, no ``mask_scale``
    given) for the rules of the mask as drawn (thinning as drawn, triple points, the width
    as drawn): ``s`` where the mask as drawn (:func:`_drawn_mask`, its blocks' middles)
    has oblique boundaries (:func:`_oblique_share` at least :data:`MIN_OBLIQUE_SHARE`),
    else None. A micrograph's mask drawn and upscaled has boundaries in every direction,
    also one drawn as 1 px lines; a rectilinear map drawn at x 1 whose bands share a block
    grid (6 px bands every 96 px, 8 px every 100, a brick wall of 5 px bands every 40) is
    constant on blocks but reads the same as given: it is measured as given (a given
    ``mask_scale`` is always used). The zig-zag bridge takes ``s`` as found (an even grid
    drawn at x 1 reads as the grid it is an upscale of)."""
    if s is None:
        return None
    d = _drawn_mask(mask, _block_offsets(mask, s, exact=True))
    return s if _oblique_share(d) >= MIN_OBLIQUE_SHARE else None


#: Least radius (px) of the window in which :func:`_third_grain` follows the grains around
#: the pixel between two runs (a zig-zag's runs are a few pixels long).
GRAIN_WINDOW_RADIUS = 4
#: Largest radius (px) of that window: two runs whose pixel before or after lies farther
#: from the pixel between them (a line lying along a boundary that long) are joined
#: without the rule: 1 pair in 43 639 on 1-3 px synthetic boundaries beyond 64 px, 2.6 %
#: beyond 16 px. A passage along a boundary (:func:`_passage_merges`) reaches as far: a
#: line within half a degree of a boundary weaves across it every 1 / tan(angle) px,
#: 115 px at 0.5°, and its touches counted again beyond 64 px (2-46 times the exact
#: count at 0.25-0.5°, studies/heyn_long_passages.py); a passage reaching farther still
#: tells its grains apart in a corridor along the path (:data:`PASSAGE_CORRIDOR_RADIUS_PX`).
MAX_GRAIN_WINDOW_RADIUS = 256


def _window_labels(mask, gr, gc, radius: int) -> np.ndarray:
    """4-connected background grains of the square windows of ``radius`` centred on
    ``(gr, gc)``, one window a pixel: a ``(k, 2 radius + 1, 2 radius + 1)`` label stack,
    0 on boundary pixels and outside the mask (labels unique over the stack)."""
    from scipy import ndimage as ndi

    H, W = mask.shape
    k = gr.size
    off = np.arange(-radius, radius + 1)
    edge = (gr < radius) | (gr >= H - radius) | (gc < radius) | (gc >= W - radius)
    win = np.empty((k, off.size, off.size), bool)
    inner = np.flatnonzero(~edge)  # whole windows: copied row by row from a view
    if inner.size:  # some window fits: the mask is at least 2 radius + 1 both ways
        windows = np.lib.stride_tricks.sliding_window_view(mask, (off.size, off.size))
        win[inner] = windows[gr[inner] - radius, gc[inner] - radius]
    if edge.any():
        rr = gr[edge, None, None] + off[None, :, None]
        cc = gc[edge, None, None] + off[None, None, :]
        win[edge] = ((rr < 0) | (rr >= H) | (cc < 0) | (cc >= W)  # outside: no grain
                     | mask[np.clip(rr, 0, H - 1), np.clip(cc, 0, W - 1)])
    structure = np.zeros((3, 3, 3), bool)
    structure[1] = ndi.generate_binary_structure(2, 1)  # 4-connected, window by window
    grains, _ = ndi.label(~win, structure=structure)
    return grains


def _window_grains(mask, gr, gc, before, after, radius: int):
    """:func:`_third_grain` for windows of one ``radius`` (every pixel is inside)."""
    grains = _window_labels(mask, gr, gc, radius)
    idx = np.arange(gr.size)
    own = grains[idx, radius, radius]
    other = np.ones(gr.size, bool)
    for r, c in (before, after):
        seen = r >= 0
        other &= seen
        i = idx[seen]
        other[i] &= grains[i, r[i] - gr[i] + radius, c[i] - gc[i] + radius] != own[i]
    return other


def _third_grain(mask, gap, before, after):
    """Whether the pixel between two runs lies in a third grain (no zig-zag to bridge).

    ``gap``, ``before`` and ``after`` are ``(rows, cols)``: the first background pixel
    between the runs, the path's pixel before the first run and the one after the
    second (row -1: none, the path ends there: False). Grains are the 4-connected
    background regions of the square window centred on ``gap`` whose radius is
    :data:`GRAIN_WINDOW_RADIUS`, or the Chebyshev distance from ``gap`` to ``before`` or
    ``after`` where that is larger (the runs are longer): the window holds all three.
    A digital line that zig-zags along one boundary steps into a grain on one side of
    it (that of ``before`` or ``after``); one that passes a triple point just inside
    the corner of the third grain crosses two boundaries, and ``gap`` lies in neither
    grain. Local, not the whole mask's grains: a gap in a boundary far away does not
    join them. Beyond :data:`MAX_GRAIN_WINDOW_RADIUS`: False.
    """
    gr, gc = gap
    reach = np.full(gr.size, GRAIN_WINDOW_RADIUS, np.int64)
    for r, c in (before, after):
        far = np.maximum(np.abs(r - gr), np.abs(c - gc))
        reach = np.where(r >= 0, np.maximum(reach, far), reach)
    other = np.zeros(gr.size, bool)
    for radius in np.unique(reach[reach <= MAX_GRAIN_WINDOW_RADIUS]):
        same = np.flatnonzero(reach == radius)
        per_batch = max(1, _BATCH_PIXELS // (2 * int(radius) + 1) ** 2)
        for i in np.array_split(same, -(-same.size // per_batch)):
            other[i] = _window_grains(mask, gr[i], gc[i], (before[0][i], before[1][i]),
                                      (after[0][i], after[1][i]), int(radius))
    return other


def _ranges(first: np.ndarray, size: np.ndarray) -> np.ndarray:
    """The index ranges ``first[i]`` to ``first[i] + size[i] - 1``, concatenated."""
    before = np.cumsum(size) - size  # the sizes of the ranges before each one
    return np.repeat(first - before, size) + np.arange(int(size.sum()))


def _merge_runs(starts, ends, run_pid, merge, split):
    """Join run ``i + 1`` to run ``i`` where ``merge[i]`` (starts/ends stay aligned); a
    joined run is ``split`` where one of its runs was."""
    if merge.any():
        group = np.concatenate([[0], np.cumsum(~merge)])  # joined run of each run
        split = np.bincount(group, weights=split) > 0
        keep_s = np.ones(starts.size, bool)
        keep_s[1:] = ~merge
        keep_e = np.ones(ends.size, bool)
        keep_e[:-1] = ~merge
        starts, ends, run_pid = starts[keep_s], ends[keep_e], run_pid[keep_s]
    return starts, ends, run_pid, split


#: Longest stretch (px of the line's path) between two runs of a passage along one
#: boundary (:func:`_passage_merges`): a digital line at a few degrees to a digital
#: boundary weaves across it with stretches of up to about 1 / tan(angle) px between its
#: runs; the window that tells the grains apart reaches no farther either.
MAX_HUG_GAP_PX = MAX_GRAIN_WINDOW_RADIUS
#: Whether a passage along a boundary that crossed into another grain and comes back to
#: the grain it came from counts its crossing back (:func:`_passage_merges`; False: as
#: dacffc6-6fe6690 counted).
RETURN_CROSSES = True
#: Largest angle (degrees) between a test line and the boundary at both touches for two
#: runs to be one passage (a weave only arises along a boundary: 1.05 runs a crossing
#: at 10-20 deg, 1.00 beyond, studies/heyn_tilted_line_counting.py); a wiggly boundary
#: crossed at a larger angle counts each crossing. None: any angle (dacffc6-6fe6690).
PASSAGE_MAX_ANGLE_DEG: float | None = 20.0
#: Half-width (px, Chebyshev) of the corridor about the path in which a passage whose
#: square window would reach beyond :data:`MAX_GRAIN_WINDOW_RADIUS` tells the grains
#: apart (:func:`_corridor_grains`): a line within a fraction of a degree of a boundary
#: hugs it for thousands of pixels, every one of them within a pixel of it.
PASSAGE_CORRIDOR_RADIUS_PX = GRAIN_WINDOW_RADIUS
#: Radius (px) of the square window whose boundary pixels give the boundary's direction
#: at a touch (their principal axis, :func:`_boundary_sin`).
BOUNDARY_DIRECTION_RADIUS_PX = 3
#: The path's direction at a touch is the chord from this many path pixels before it to
#: as many after (within the path; :func:`_touch_sin`).
PATH_DIRECTION_HALF_PX = 8


def _boundary_sin(mask: np.ndarray, r: np.ndarray, c: np.ndarray, ur: np.ndarray,
                  uc: np.ndarray) -> np.ndarray:
    """|sin| of the angle between the unit directions ``(ur, uc)`` and the principal axis
    of the boundary pixels of ``mask`` in the window of
    :data:`BOUNDARY_DIRECTION_RADIUS_PX` around each ``(r, c)`` that are 8-connected
    within the window to the boundary pixel ``(r, c)``: the touched boundary's own
    pixels (the neighbouring lamellae of a twin stack, 2-3 px apart, are other
    boundaries and would turn the axis across them)."""
    from scipy import ndimage as ndi

    H, W = mask.shape
    k = BOUNDARY_DIRECTION_RADIUS_PX
    off = np.arange(-k, k + 1)
    dr, dc = (a.ravel() for a in np.meshgrid(off, off, indexing="ij"))
    rr, cc = r[:, None] + dr, c[:, None] + dc
    inside = (rr >= 0) & (rr < H) & (cc >= 0) & (cc < W)
    on = inside & mask[np.clip(rr, 0, H - 1), np.clip(cc, 0, W - 1)]
    if on.size:  # the touched boundary: 8-connected to the centre, window by window
        structure = np.zeros((3, 3, 3), bool)
        structure[1] = True
        lab, _ = ndi.label(on.reshape(-1, off.size, off.size), structure=structure)
        lab = lab.reshape(on.shape)
        centre = lab[:, lab.shape[1] // 2]
        on &= (lab == centre[:, None]) | (centre[:, None] == 0)
    n = np.maximum(on.sum(1), 1)
    mr, mc = (on * dr).sum(1) / n, (on * dc).sum(1) / n
    srr = (on * dr * dr).sum(1) / n - mr * mr
    scc = (on * dc * dc).sum(1) / n - mc * mc
    src = (on * dr * dc).sum(1) / n - mr * mc
    phi = 0.5 * np.arctan2(2 * src, srr - scc)  # from the row axis (isotropic: the row axis)
    return np.abs(np.cos(phi) * uc - np.sin(phi) * ur)


def _touch_sin(mask: np.ndarray, flat: np.ndarray, touch: np.ndarray, lo: np.ndarray,
               hi: np.ndarray) -> np.ndarray:
    """|sin| of the angle between the path and the boundary at path pixels ``touch``
    (indices into ``flat``; the path's pixels are ``lo`` to ``hi - 1``): the path's
    direction is the chord over :data:`PATH_DIRECTION_HALF_PX` pixels either side, the
    boundary's the principal axis of its pixels around the touch (:func:`_boundary_sin`).
    """
    W = mask.shape[1]
    ar, ac = np.divmod(flat[np.maximum(touch - PATH_DIRECTION_HALF_PX, lo)], W)
    br, bc = np.divmod(flat[np.minimum(touch + PATH_DIRECTION_HALF_PX, hi - 1)], W)
    norm = np.maximum(np.hypot(br - ar, bc - ac), 1e-9)
    r, c = np.divmod(flat[touch], W)
    return _boundary_sin(mask, r, c, (br - ar) / norm, (bc - ac) / norm)


def _boundary_neighbours(mask: np.ndarray, r: np.ndarray, c: np.ndarray,
                         centre: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """For each of the 8 neighbour offsets (and the pixel itself with ``centre``): the
    indices ``i`` of the pixels ``(r, c)`` whose neighbour there is a boundary pixel of
    ``mask`` (inside it), and that neighbour's flat index."""
    H, W = mask.shape
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr or dc or centre:
                rr, cc = r + dr, c + dc
                ok = np.flatnonzero((rr >= 0) & (rr < H) & (cc >= 0) & (cc < W))
                ok = ok[mask[rr[ok], cc[ok]]]
                yield ok, rr[ok] * W + cc[ok]


def _near_boundary(mask, r, c):
    """Whether each pixel ``(r, c)`` has a boundary pixel among its 8 neighbours."""
    near = np.zeros(r.size, bool)
    for i, _ in _boundary_neighbours(mask, r, c):
        near[i] = True
    return near


def _hugging_gaps(mask, flat, e, s2):
    """Whether every pixel of the path between run ends ``e`` and run starts ``s2``
    (indices into ``flat``) has a boundary pixel among its 8 neighbours."""
    W = mask.shape[1]
    # the middle pixel first: most stretches between runs leave the boundary there
    hug = _near_boundary(mask, *np.divmod(flat[(e + s2) // 2], W))
    i = np.flatnonzero(hug)
    g = s2[i] - e[i] - 1
    pix = _ranges(e[i] + 1, g)
    near = _near_boundary(mask, *np.divmod(flat[pix], W))
    far = np.bincount(np.repeat(np.arange(g.size), g), weights=~near, minlength=g.size)
    hug[i] = far == 0
    return hug


#: Forward steps (row, col) that pair each pixel with its 4- or 8-neighbours once.
_STEPS_4 = ((0, 1), (1, 0))
_STEPS_8 = ((0, 1), (1, -1), (1, 0), (1, 1))


def _keyed_components(node: np.ndarray, shape: tuple[int, int],
                      steps: Sequence[tuple[int, int]]) -> np.ndarray:
    """Connected components of keyed pixels: ``node`` holds sorted, unique keys
    ``group * (H * W) + flat pixel``, and two nodes of one group are joined where their
    pixels are one of ``steps`` apart (:data:`_STEPS_4`, :data:`_STEPS_8`). Returns the
    component of each node."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    H, W = shape
    nl, npx = np.divmod(node, H * W)
    nr, nc = np.divmod(npx, W)
    src, dst = [], []
    for dr, dc in steps:
        rr, cc = nr + dr, nc + dc
        ok = (rr < H) & (cc >= 0) & (cc < W)
        key = nl * (H * W) + rr * W + cc
        at = np.minimum(np.searchsorted(node, key), node.size - 1)
        hit = np.flatnonzero(ok & (node[at] == key))
        src.append(hit)
        dst.append(at[hit])
    src, dst = np.concatenate(src), np.concatenate(dst)
    graph = coo_matrix((np.ones(src.size, np.int8), (src, dst)), shape=(node.size,) * 2)
    return connected_components(graph, directed=False)[1]


def _one_boundary(mask: np.ndarray, flat: np.ndarray, e: np.ndarray,
                  s2: np.ndarray) -> np.ndarray:
    """Whether the run end ``e`` and the next run start ``s2`` (indices into ``flat``)
    lie on one boundary along the path: the boundary pixels 8-adjacent to (or on) the
    path's pixels from ``e`` to ``s2`` join them, 8-connected.

    A weave touches one boundary again and again: the staircase it hugs joins its
    touches. Two different boundaries that the line crosses in turn (the free-ending
    lamellae of one grain, two sides of a sliver) are not joined so near the line,
    even when every pixel between them is next to one of them.
    """
    H, W = mask.shape
    g = s2 - e + 1  # path pixels from e to s2, both ends included
    link = np.repeat(np.arange(g.size), g)
    pix = flat[_ranges(e, g)]
    pr, pc = np.divmod(pix, W)
    keys = [link[i] * (H * W) + q for i, q in _boundary_neighbours(mask, pr, pc, centre=True)]
    node = np.sort(np.concatenate(keys))  # (link, boundary pixel) pairs, once each
    node = node[np.concatenate([[True], node[1:] != node[:-1]])]
    comp = _keyed_components(node, mask.shape, _STEPS_8)
    ends_ = np.searchsorted(node, np.arange(g.size) * (H * W) + flat[e])
    starts_ = np.searchsorted(node, np.arange(g.size) * (H * W) + flat[s2])
    return comp[ends_] == comp[starts_]


def _corridor_grains(mask: np.ndarray, flat: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                     which: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Grain labels of path pixels in corridors along the path.

    The corridor of passage ``i`` is the background of ``mask`` within
    :data:`PASSAGE_CORRIDOR_RADIUS_PX` (Chebyshev) of the path's pixels ``lo[i]`` to
    ``hi[i]`` (indices into ``flat``, both included); its grains are its 4-connected
    regions, each passage's own. Local as the square window of :func:`_window_labels`
    is, but as long as the passage and only as wide as the band a line hugging a
    boundary needs: the two sides of the boundary it follows, a third grain that cuts in.

    Parameters
    ----------
    mask : np.ndarray
        The boundary mask (bool, H x W).
    flat : np.ndarray
        Flat pixel indices of the paths.
    lo, hi : np.ndarray
        First and last index into ``flat`` of each passage's stretch of path.
    which : np.ndarray
        The passage of each pixel to label.
    at : np.ndarray
        Index into ``flat`` of each pixel to label (a background pixel of its passage's
        stretch).

    Returns
    -------
    np.ndarray
        One label per pixel (int64, >= 0): equal labels, one grain of one corridor.
    """
    H, W = mask.shape
    k = PASSAGE_CORRIDOR_RADIUS_PX
    n = hi - lo + 1
    link = np.repeat(np.arange(n.size, dtype=np.int64), n)
    pr, pc = np.divmod(flat[_ranges(lo, n)], W)
    # a pixel one 4-step on from the one before adds the square's leading edge (2k + 1
    # pixels) to the corridor; the first pixel of a passage, or one after any other
    # step, adds its whole square
    dr, dc = np.diff(pr, prepend=0), np.diff(pc, prepend=0)
    step = np.abs(dr) + np.abs(dc) == 1
    step[np.cumsum(n) - n] = False
    whole, edge = np.flatnonzero(~step), np.flatnonzero(step)
    off = np.arange(-k, k + 1)
    cand_r = [np.repeat(pr[whole], off.size ** 2) + np.tile(np.repeat(off, off.size), whole.size),
              (pr[edge, None] + np.where(dr[edge, None] != 0, dr[edge, None] * k,
                                         off[None, :])).ravel()]
    cand_c = [np.repeat(pc[whole], off.size ** 2) + np.tile(np.tile(off, off.size), whole.size),
              (pc[edge, None] + np.where(dr[edge, None] != 0, off[None, :],
                                         dc[edge, None] * k)).ravel()]
    cand_l = [np.repeat(link[whole], off.size ** 2), np.repeat(link[edge], off.size)]
    rr, cc, ll = np.concatenate(cand_r), np.concatenate(cand_c), np.concatenate(cand_l)
    ok = np.flatnonzero((rr >= 0) & (rr < H) & (cc >= 0) & (cc < W))
    ok = ok[~mask[rr[ok], cc[ok]]]
    # (passage, background pixel) pairs, once each
    node = np.unique(ll[ok] * (H * W) + rr[ok] * W + cc[ok])
    comp = _keyed_components(node, mask.shape, _STEPS_4)
    return comp[np.searchsorted(node, which.astype(np.int64) * (H * W) + flat[at])]


def _passage_merges(mask, flat, path_offs, starts, ends, run_pid, tilted):
    """Which consecutive runs (``merge[i]``: run ``i + 1`` joins run ``i``) are one passage
    of a tilted line along one boundary, and which are two touches of one passage along
    the two sides of one boundary (``two_sided[i]``: runs ``i`` and ``i + 1`` are of one
    passage whose grains are at most two; :func:`_lies_along`).

    A digital line at a small angle to a digital boundary weaves across it: its
    4-connected path steps from one grain into the other and back several times while
    the continuous line crosses the boundary once. A *passage* is a chain of runs of
    one tilted path whose pixels between runs all have a boundary pixel among their 8
    neighbours (the path hugs the boundary), are at most :data:`MAX_HUG_GAP_PX` long,
    where the path runs along the boundary at both touches (at most
    :data:`PASSAGE_MAX_ANGLE_DEG` between them, :func:`_touch_sin`: a wiggly boundary
    crossed at a larger angle is crossed each time), and whose consecutive runs lie on
    one boundary along the path (:func:`_one_boundary`): crossings of two boundaries in
    turn (lamellae ending inside one grain, whose sides are one grain of the window)
    stay apart.
    Along it the path visits grains (4-connected background of the square window
    centred on the passage that holds the path's pixels before, between and after its
    runs; :func:`_window_labels`): a run is a crossing of its own when it leads into a
    grain the passage has not visited yet, and the passage counts at least one
    crossing (E112's tangent). So a weave ``A|B|A|B`` is one crossing, a touch before a
    crossing ``A|A|B`` one, and a line cutting a third grain's corner ``A|C|B`` two (the
    third-grain rule, :func:`_third_grain`). A passage that visited a new grain and ends
    in the grain it came from crossed back: its last run is a crossing of its own
    (:data:`RETURN_CROSSES`), so a line clipping a grain ``A|B|A`` counts two. A passage
    whose window would reach beyond :data:`MAX_GRAIN_WINDOW_RADIUS` (a line within about
    0.2° of a boundary hugs it for more than 512 px) tells its grains apart in a corridor
    along its path instead (:func:`_corridor_grains`), so a passage of any length along
    one boundary is one crossing (it was left as it was until then: every touch counted).
    """
    W = mask.shape[1]
    n_runs = starts.size
    merge = np.zeros(max(n_runs - 1, 0), bool)
    if n_runs < 2:
        return merge, merge.copy()
    e, s2 = ends[:-1], starts[1:]
    link = ((run_pid[1:] == run_pid[:-1]) & tilted[run_pid[1:]]
            & (s2 - e - 1 <= MAX_HUG_GAP_PX))
    idx = np.flatnonzero(link)
    if idx.size:
        link[idx] = _hugging_gaps(mask, flat, e[idx], s2[idx])
        idx = idx[link[idx]]
    if idx.size and PASSAGE_MAX_ANGLE_DEG is not None:  # the line runs along the boundary
        along = np.ones(idx.size, bool)
        lim = np.sin(np.radians(PASSAGE_MAX_ANGLE_DEG))
        pid = run_pid[idx]
        for touch in (e[idx], s2[idx]):
            along &= _touch_sin(mask, flat, touch, path_offs[pid], path_offs[pid + 1]) <= lim
        link[idx[~along]] = False
        idx = idx[along]
    if idx.size:  # the touches of one boundary, not crossings of two in turn
        er, ec = np.divmod(flat[e[idx]], W)
        sr, sc = np.divmod(flat[s2[idx]], W)
        idx = idx[np.maximum(np.abs(er - sr), np.abs(ec - sc)) > 1]  # else 8-adjacent
        if idx.size:
            link[idx] = _one_boundary(mask, flat, e[idx], s2[idx])
    if not link.any():
        return merge, link
    # passages: maximal chains of linked runs (first run f, last run l)
    chain = np.concatenate([[0], np.cumsum(~link)])  # passage of each run
    size = np.bincount(chain)
    first = np.searchsorted(chain, np.arange(size.size))
    keep = np.flatnonzero(size >= 2)
    f, n_in = first[keep], size[keep]
    last = f + n_in - 1
    pid = run_pid[f]
    p_lo, p_hi = path_offs[pid], path_offs[pid + 1]
    # the grain points of each passage: the pixel before its first run, then the pixel
    # after each run (-1: the path ends there, a grain not seen before)
    n_pts = n_in + 1
    pt_chain = np.repeat(np.arange(keep.size), n_pts)
    pos = _ranges(np.zeros_like(n_pts), n_pts)
    run_of_pt = f[pt_chain] + pos - 1  # the run each point follows (-1 + f: before)
    pt_idx = np.where(pos == 0, starts[f][pt_chain] - 1,
                      ends[np.maximum(run_of_pt, 0)] + 1)
    pt_ok = (pt_idx >= p_lo[pt_chain]) & (pt_idx < p_hi[pt_chain])
    pr, pc = np.divmod(flat[np.clip(pt_idx, 0, flat.size - 1)], W)
    centre = (starts[f] + ends[last]) // 2
    cr, cc = np.divmod(flat[centre], W)
    far = np.where(pt_ok, np.maximum(np.abs(pr - cr[pt_chain]), np.abs(pc - cc[pt_chain])), 0)
    reach = np.maximum(GRAIN_WINDOW_RADIUS,
                       np.maximum.reduceat(far, np.cumsum(n_pts) - n_pts))
    label = np.full(pt_chain.size, -1, np.int64)
    for radius in np.unique(reach[reach <= MAX_GRAIN_WINDOW_RADIUS]):
        same = np.flatnonzero(reach == radius)
        per_batch = max(1, _BATCH_PIXELS // (2 * int(radius) + 1) ** 2)
        for i in np.array_split(same, -(-same.size // per_batch)):
            grains = _window_labels(mask, cr[i], cc[i], int(radius))
            slot = np.full(keep.size, -1, np.int64)
            slot[i] = np.arange(i.size)
            q = np.flatnonzero((slot[pt_chain] >= 0) & pt_ok)
            k = slot[pt_chain[q]]
            label[q] = grains[k, pr[q] - cr[pt_chain[q]] + radius,
                              pc[q] - cc[pt_chain[q]] + radius]
    long_ = reach > MAX_GRAIN_WINDOW_RADIUS  # longer passages: a corridor along the path
    if long_.any():
        slot = np.cumsum(long_) - 1
        q = np.flatnonzero(long_[pt_chain] & pt_ok)
        lo = np.maximum(starts[f] - 1, p_lo)[long_]
        hi = np.minimum(ends[last] + 1, p_hi - 1)[long_]
        label[q] = label.max() + 1 + _corridor_grains(mask, flat, lo, hi,
                                                      slot[pt_chain[q]], pt_idx[q])
    # a point leads into a new grain unless an earlier point of its passage has its grain
    key = pt_chain.astype(np.int64) * (int(label.max()) + 2) + label
    _, first_seen = np.unique(key, return_index=True)
    new = np.ones(pt_chain.size, bool)
    new[label >= 0] = False
    new[first_seen[label[first_seen] >= 0]] = True
    new[pos == 0] = False  # the grain before the passage is where it comes from
    # runs 2..n of a passage join the run before unless they lead into a new grain, but
    # runs before its first new grain join it (a touch before the crossing)
    run_new = new[pos > 0]
    run_chain = pt_chain[pos > 0]
    run_idx = run_of_pt[pos > 0]
    n_new_before = np.cumsum(run_new) - run_new
    n_new_before -= np.repeat(n_new_before[np.cumsum(n_in) - n_in], n_in)
    joins = ((~run_new) | (n_new_before == 0)) & (run_idx > f[run_chain])
    # a passage that crossed into another grain and comes back to the grain it came from
    # crossed out of it again: its last run is a crossing of its own (RETURN_CROSSES)
    start_pt = np.cumsum(n_pts) - n_pts
    end_pt = start_pt + n_in
    back = ((label[start_pt] >= 0) & (label[end_pt] == label[start_pt])
            & (np.bincount(pt_chain, weights=new, minlength=keep.size) > 0))
    if RETURN_CROSSES:
        joins &= ~(back[run_chain] & (run_idx == last[run_chain]))
    merge[run_idx[joins] - 1] = True
    # the pairs of runs of a passage that visits at most two grains (the two sides of
    # the boundary it follows)
    seen = np.unique(key[label >= 0])
    n_grains = np.bincount(seen // (int(label.max()) + 2), minlength=keep.size)
    two_sided = np.zeros_like(link)
    two = n_grains <= 2
    two_sided[_ranges(f[two], n_in[two] - 1)] = True
    return merge, two_sided


def _lies_along(mask: np.ndarray, flat: np.ndarray, path_offs: np.ndarray,
                starts: np.ndarray, ends: np.ndarray, run_pid: np.ndarray,
                candidate: np.ndarray, longest_gap: np.ndarray) -> np.ndarray:
    """Which paths lie along one boundary from end to end (E112: coincident, 1).

    A path (an open, tilted line or piece; ``candidate``, whose runs are one passage of
    at most two grains, :func:`_passage_merges`) lies along a boundary when its pixels
    before its first run and after its last are no more than the longest stretch between
    two of its runs (``longest_gap``, before any runs were joined: its ends stray no
    farther from the boundary than the line does between its touches), every one of
    them has a boundary pixel among its 8 neighbours (the pixels between its runs do:
    they are one passage), and it runs along the boundary at both (at most
    :data:`PASSAGE_MAX_ANGLE_DEG`, :func:`_touch_sin`). A line within a pixel of a
    straight boundary over its whole length weaves across the boundary's staircase and
    its ends may lie in either grain or on the boundary: whether the continuous line
    crossed the boundary once or lies on it, E112 counts 1. A line that runs along a
    boundary and leaves its band before its end (a stretch longer than its weave's)
    touches it with one end (½) or is its tangent (1), as before.

    Parameters
    ----------
    mask : np.ndarray
        The boundary mask (bool, H x W).
    flat : np.ndarray
        Flat pixel indices of the paths.
    path_offs : np.ndarray
        Offsets of the paths into ``flat`` (``n_paths + 1``).
    starts, ends, run_pid : np.ndarray
        The runs (indices into ``flat``, path order) and each run's path.
    candidate : np.ndarray
        Which paths to test (bool per path).
    longest_gap : np.ndarray
        The longest stretch (pixels) between two consecutive runs of each path, before
        any were joined.

    Returns
    -------
    np.ndarray
        Bool per path.
    """
    W = mask.shape[1]
    n_paths = path_offs.size - 1
    along = np.zeros(n_paths, bool)
    first = np.searchsorted(run_pid, np.arange(n_paths))
    last = np.searchsorted(run_pid, np.arange(n_paths), side="right") - 1
    p = np.flatnonzero(candidate & (last >= first))
    if not p.size:
        return along
    lo, hi = path_offs[p], path_offs[p + 1]  # hi: one past the path's last pixel
    # the path's own ends next to the boundary first (most paths leave it far before)
    near = np.ones(p.size, bool)
    for i in (lo, hi - 1):
        on = mask.ravel()[flat[i]]
        near &= on | _near_boundary(mask, *np.divmod(flat[i], W))
    p, lo, hi = p[near], lo[near], hi[near]
    f, la = first[p], last[p]
    short = np.maximum(starts[f] - lo, hi - 1 - ends[la]) <= longest_gap[p]
    p, lo, hi, f, la = p[short], lo[short], hi[short], f[short], la[short]
    if p.size:  # every pixel before the first run and after the last
        size = np.concatenate([starts[f] - lo, hi - 1 - ends[la]])
        at = np.concatenate([lo, ends[la] + 1])
        pix = _ranges(at, size)
        off = np.bincount(np.repeat(np.arange(size.size), size),
                          weights=~_near_boundary(mask, *np.divmod(flat[pix], W)),
                          minlength=size.size)
        ok = (off[:p.size] == 0) & (off[p.size:] == 0)
        p, lo, hi, f, la = p[ok], lo[ok], hi[ok], f[ok], la[ok]
    if p.size and PASSAGE_MAX_ANGLE_DEG is not None:  # along the boundary at both
        lim = np.sin(np.radians(PASSAGE_MAX_ANGLE_DEG))
        ok = ((_touch_sin(mask, flat, starts[f], lo, hi) <= lim)
              & (_touch_sin(mask, flat, ends[la], lo, hi) <= lim))
        p, lo, hi = p[ok], lo[ok], hi[ok]
    if p.size:  # every pixel of the path off the boundary in the boundary's two sides
        p = p[_grains_on_path(mask, flat, lo, hi) <= 2]
    along[p] = True
    return along


def _grains_on_path(mask: np.ndarray, flat: np.ndarray, lo: np.ndarray,
                    hi: np.ndarray) -> np.ndarray:
    """How many grains of its corridor (:func:`_corridor_grains`) the pixels off the
    boundary of each stretch of path ``lo`` to ``hi - 1`` (indices into ``flat``) lie in.

    All of them, not only the grain points of :func:`_passage_merges`: the 1-2 px
    stretches between runs joined before the passage rule (a zig-zag along the
    staircase) are not among those, and past a T-junction they are a third grain.

    Parameters
    ----------
    mask : np.ndarray
        The boundary mask (bool, H x W).
    flat : np.ndarray
        Flat pixel indices of the paths.
    lo, hi : np.ndarray
        First index and one past the last index into ``flat`` of each stretch.

    Returns
    -------
    np.ndarray
        Grains per stretch (int64; a grain its corridor cuts in two counts twice).
    """
    n = hi - lo
    idx = _ranges(lo, n)
    which = np.repeat(np.arange(n.size, dtype=np.int64), n)
    off = ~mask.ravel()[flat[idx]]
    label = _corridor_grains(mask, flat, lo, hi - 1, which[off], idx[off])
    seen = np.unique(which[off] * (int(label.max(initial=0)) + 1) + label)
    return np.bincount(seen // (int(label.max(initial=0)) + 1), minlength=n.size)


# ---------------------------------------------------------------- measurement
#: The count keys that mean the same in every JSON output (:meth:`HeynResult.counts`: a
#: :func:`napari_srmat.metrics.standards.measure_field` row, ``srmat heyn``'s rows and
#: pooled result, the Heyn widget's export; docs/standards.md): the one list of them, in
#: the order ``counts()`` gives them, so that an output in which nothing was counted
#: (``srmat heyn`` when every mask fails) carries them too, ``null``. Also importable as
#: ``napari_srmat.metrics.standards.COUNT_KEYS``.
COUNT_KEYS = ("n_crossings", "intersection_count", "intercept_count", "n_triple_points",
              "n_line_end_touches")


@dataclass
class HeynResult:
    """Result of a Heyn lineal-intercept measurement.

    Built by :func:`measure_intercepts`; the fields after ``intersections`` are
    keyword-only (since 2026-12-06, when ``ci95_half_width_px``, the eighth, became a
    derived property: an eighth positional argument is a TypeError, not read as
    ``relative_accuracy_pct``).

    Attributes
    ----------
    mean_intercept_px : float or None
        Pooled ``ΣL / ΣP`` (``intersection_count``) in pixels; ``None`` when there is
        no valid measurement (no intersection was found, or the mask is not a boundary
        map): ``warnings`` says why.
    n_intersections : int
        ΣN, boundary runs crossed by all test lines.
    total_length_px : float
        ΣL, total test-line length in pixels.
    n_lines : int
        Number of test lines (paths).
    per_line_length_px, per_line_count : ndarray
        Length and intersection count of each line.
    intersections : ndarray (N, 2)
        ``(row, col)`` of each intersection (middle of the boundary run).
    ci95_half_width_px : float
        Read-only, derived from the fields below (a property; until 2026-12-06 a field
        set after construction, so not a constructor argument now). Half-width of the
        line-sampling 95% interval of ℓ̄: ``ℓ̄ r'`` with ``r`` the
        Student-t relative half-width of the per-line intersection densities
        ``P_i / L_i`` (``relative_accuracy_pct`` / 100) floored at their counts'
        resolution, ``r' = max(r, c)``, both of the ``n_lines_measured`` lines
        (:func:`napari_srmat.metrics.standards.floored_half_width`), the half-width
        whose inversion, ``ℓ̄ [1 / (1 + r'), 1 / (1 - r')]``, is the sampling term of the
        ``[low, high]`` pair (``mean_intercept_ci95_px`` of
        :func:`napari_srmat.grainsize.grain_size_from_heyn`, which adds the pixel and
        model terms in quadrature). NaN with fewer than 2 lines measured. Until
        2026-12-06 it was the unfloored ``ℓ̄ r``: 0 where the lines' counts agreed, next
        to a non-zero pair; and its floor (and the pair's) counted the lines an exclusion
        mask left without length as measured, narrowing both.
    relative_accuracy_pct : float
        ASTM E112 %RA = 100 · half-width / mean of the per-line ``P_i / L_i``: the
        scatter's, not floored (E112's figure; ``ci95_half_width_px`` is the floored one).
    mean_intercept_um, astm_g : float or None
        Read-only, derived from ``mean_intercept_px`` and ``pixel_size_um`` (properties,
        :func:`napari_srmat.grainsize.physical_figures`, the one rule of µm and G): ℓ̄ in
        micrometres and the ASTM E112 grain size number, None without a pixel size or a
        valid ℓ̄. Until 2026-12-07 fields set once, so a result whose pixel size was
        changed (``dataclasses.replace(res, pixel_size_um=...)``) kept the old ones.
    pattern : str
    paths : list of (K, 2) arrays
        Test-line geometry (for display).
    warnings : list of str
        Why the figures are withheld or doubtful (empty for a normal measurement).
    degenerate : bool
        True when the mask is not a boundary map (e.g. more than
        :data:`MAX_BOUNDARY_FRACTION` of the pixels of the map measured, thinned with
        ``skeletonize`` when at most :data:`MAX_THINNED_BOUNDARY_FRACTION` were before,
        are boundary): no figure is reported.
    n_boundary_px : int or None
        Boundary pixels of the mask measured (twins merged or added, before thinning);
        0: an all-zero mask, no measured field
        (:func:`napari_srmat.metrics.standards.is_measured_field`). None where unknown.
    per_line_intersections : ndarray of float
        E112 intersection count P of each line: every crossing counts 1, a crossing at a
        triple point 1.5 (with ``triple_points=True``) and a boundary touched by a line
        end 0.5 (:func:`scores_line_ends`); otherwise equal to ``per_line_count``.
    per_line_intercepts : ndarray of float
        E112 intercept count N of each line: grain segments between two crossings count
        1, a segment between a crossing and a line end (inside a grain) counts 1/2; a
        line that crosses no boundary (wholly inside one grain) has N = 0, as its P (so
        N = P for a line whose ends lie inside grains).
    intersection_count, intercept_count : float
        ΣP and ΣN over all lines.
    n_triple_points : int
        Crossings found at a junction of three or more grains, away from line ends (0
        unless ``triple_points=True``).
    n_line_end_touches : int
        Boundaries touched by one end of a line, scored 0.5 (0 unless
        ``triple_points=True`` or ``pattern="segments"``, :func:`scores_line_ends`; a
        line lying along a boundary from end to end scores 1/2 per end, 1, and is not
        counted here):
        ``intersection_count = n_intersections + 0.5 n_triple_points - 0.5
        n_line_end_touches``.
    triple_points : bool
        Whether E112's scoring (1.5 at triple points, 0.5 at line ends) was applied; ℓ̄ is
        then ``ΣL / ΣP``.
    intersection_is_triple : ndarray of bool
        For each row of ``intersections``: found at a triple point (scored 1.5).
    intersection_at_line_end : ndarray of bool
        For each row of ``intersections``: a line end lies on it (scored 0.5 where
        :func:`scores_line_ends`).
    intercepts_px : ndarray of float
        Lengths of the complete intercepts (between two consecutive crossings of a line;
        the partial ones at line ends are left out), for the distribution (ASTM E1382).
    line_angles_deg : ndarray of float
        Direction of each straight line, degrees counter-clockwise from the image's
        horizontal axis in [0, 180); NaN for circles and bent polylines.
    mean_intercept_by_direction_px : dict or None
        ``ΣL / ΣP`` per line direction (key: angle in degrees, e.g. ``"0"`` and ``"90"``
        for the grid); None for random lines and circles.
    anisotropy_index : float or None
        ℓ̄ along the horizontal-most direction / ℓ̄ along the other one, defined when the
        lines have exactly two directions (the grid, or user lines of two directions).
    twins_excluded : bool or None
        With a twin mask: whether twin boundaries were left out of the count (E112);
        None when no twin mask was given.
    excluded_length_px : float
        Test-line length that fell on the exclusion mask (not measured).
    block_scale : int
        The run count's zig-zag bridge was the 2 px rule on ``block_scale`` x
        ``block_scale`` blocks: the ``mask_scale`` given, else the mask is exactly a
        nearest upscale x ``block_scale`` (:func:`_block_scale`); 1: on its pixels
        (``mask_scale=1``, no upscale found, or no tilted line).
    mask_scale : int or None
        The ``mask_scale`` given to :func:`measure_intercepts` (checked); None: not
        given, the scale read off the mask. Recorded also where it does not act
        (``block_scale`` 1: no tilted line, such as the grid).
    """

    mean_intercept_px: float | None
    n_intersections: int
    total_length_px: float
    n_lines: int
    per_line_length_px: np.ndarray = field(repr=False)
    per_line_count: np.ndarray = field(repr=False)
    intersections: np.ndarray = field(repr=False)
    # keyword-only from here: the eighth field was ci95_half_width_px (now derived), so an
    # eighth positional argument is a TypeError, not silently relative_accuracy_pct
    _: KW_ONLY
    relative_accuracy_pct: float = math.nan
    pixel_size_um: float | None = None
    pattern: str = ""
    paths: list = field(default_factory=list, repr=False)
    warnings: list = field(default_factory=list)
    degenerate: bool = False
    n_boundary_px: int | None = None
    per_line_intersections: np.ndarray | None = field(default=None, repr=False)
    per_line_intercepts: np.ndarray | None = field(default=None, repr=False)
    intersection_count: float = 0.0
    intercept_count: float = 0.0
    n_triple_points: int = 0
    n_line_end_touches: int = 0
    triple_points: bool = False
    intercepts_px: np.ndarray | None = field(default=None, repr=False)
    line_angles_deg: np.ndarray | None = field(default=None, repr=False)
    mean_intercept_by_direction_px: dict | None = None
    anisotropy_index: float | None = None
    twins_excluded: bool | None = None
    excluded_length_px: float = 0.0
    intersection_is_triple: np.ndarray | None = field(default=None, repr=False)
    intersection_at_line_end: np.ndarray | None = field(default=None, repr=False)
    block_scale: int = 1
    mask_scale: int | None = None

    def __post_init__(self) -> None:
        if self.per_line_intersections is None:
            self.per_line_intersections = np.asarray(self.per_line_count, float)
        if self.per_line_intercepts is None:
            self.per_line_intercepts = np.asarray(self.per_line_count, float)
        if self.intercepts_px is None:
            self.intercepts_px = np.zeros(0)
        if self.line_angles_deg is None:
            self.line_angles_deg = np.full(len(self.per_line_count), np.nan)
        if self.intersection_is_triple is None:
            self.intersection_is_triple = np.zeros(len(self.intersections), bool)

    @property
    def n_lines_measured(self) -> int:
        """The lines with test length in the measured area (``per_line_length_px > 0``):
        the ``n`` of the lines' scatter (``relative_accuracy_pct``) and of the counts'
        resolution it is floored at (``ci95_half_width_px``, the row's
        ``mean_intercept_ci95_px``). ``n_lines`` less the lines that lie wholly on the
        exclusion mask (or, drawn, wholly outside the image), which measure nothing.

        Examples
        --------
        >>> import numpy as np
        >>> m = np.zeros((64, 64), bool); m[:, 20] = m[:, 40] = True
        >>> ex = np.zeros((64, 64), bool); ex[40:50] = True
        >>> res = measure_intercepts(m, pattern="segments", exclusion=ex,
        ...                          segments=[[[10, 2], [10, 60]], [[45, 2], [45, 60]]])
        >>> res.n_lines, res.n_lines_measured
        (2, 1)
        """
        return int(np.count_nonzero(np.asarray(self.per_line_length_px) > 0))

    @property
    def mean_intercept_um(self) -> float | None:
        """ℓ̄ in µm: ``mean_intercept_px`` × ``pixel_size_um`` (None without either), by
        :func:`napari_srmat.grainsize.physical_figures`. Read only, derived.

        Examples
        --------
        >>> import dataclasses
        >>> import numpy as np
        >>> from napari_srmat.metrics.heyn import measure_intercepts
        >>> m = np.zeros((200, 200), bool); m[:, 5::20] = True; m[5::20, :] = True
        >>> res = measure_intercepts(m, pattern="grid", n_lines=7, margin=0,
        ...                          pixel_size_um=0.5)
        >>> res.mean_intercept_um, dataclasses.replace(res, pixel_size_um=1.0).mean_intercept_um
        (9.95, 19.9)
        """
        return self._physical()["mean_intercept_um"]

    @property
    def astm_g(self) -> float | None:
        """ASTM E112 grain size number G of ``mean_intercept_um`` (None without it), by
        :func:`napari_srmat.grainsize.physical_figures`. Read only, derived."""
        return self._physical()["astm_g"]

    def _physical(self) -> dict:
        from ..grainsize import physical_figures  # the one rule of µm and G

        # a pixel size set by hand is checked, as to_dict checks it (PixelSizeError)
        return physical_figures(self.mean_intercept_px, None,
                                check_pixel_size(self.pixel_size_um))

    @property
    def ci95_half_width_px(self) -> float:
        """Half-width of the line-sampling 95 % interval of ℓ̄, derived from the result's
        own fields: ``mean_intercept_px`` × the scatter ``relative_accuracy_pct`` / 100
        floored at the counts' resolution of ``intersection_count`` over
        ``n_lines_measured`` lines
        (:func:`napari_srmat.metrics.standards.floored_half_width`, the one rule). Read
        only: until 2026-12-06 a stored field, patched after construction.

        Examples
        --------
        >>> import numpy as np
        >>> m = np.zeros((400, 400), bool); m[::100] = True; m[:, ::100] = True
        >>> res = measure_intercepts(m, pattern="grid", n_lines=2)  # 2 + 2 lines count 3
        >>> res.relative_accuracy_pct, round(res.ci95_half_width_px, 2)   # r = 0: ℓ̄ c
        (0.0, 18.33)
        """
        from .standards import floored_half_width

        return floored_half_width(self.mean_intercept_px, self.relative_accuracy_pct / 100.0,
                                  count=self.intersection_count, n_lines=self.n_lines_measured)

    def counts(self) -> dict:
        """The counts under the keys that mean the same in every JSON output
        (``to_dict``, ``srmat heyn``, ``measure_field`` / ``srmat grain-size --method``).

        ``n_crossings`` (boundary runs crossed), ``intersection_count`` (E112's P, the
        count ℓ̄ = ΣL / ΣP is made of), ``intercept_count`` (E112's N),
        ``n_triple_points`` and ``n_line_end_touches``. The older key
        ``n_intersections`` is kept as each output had it: the crossings in the Heyn
        outputs, P in ``measure_field`` rows (docs/standards.md).

        Examples
        --------
        >>> import numpy as np
        >>> m = np.zeros((64, 64), bool); m[:, 10] = m[:, 30] = m[:, 50] = True
        >>> res = measure_intercepts(m, pattern="segments",
        ...                          segments=[[[32, 10], [32, 50]]])  # ends on boundaries
        >>> c = res.counts()
        >>> c["n_crossings"], c["intersection_count"], c["n_line_end_touches"]
        (3, 2.0, 2)
        """
        values = (int(self.n_intersections), float(self.intersection_count),
                  float(self.intercept_count), int(self.n_triple_points),
                  int(self.n_line_end_touches))
        return dict(zip(COUNT_KEYS, values, strict=True))

    def same_measurement(self, other: Any) -> bool:
        """Whether ``other`` is this measurement or one equal to it (a copy, a pickled
        one): the same counts, lengths, scatter and warnings, the inputs of its figures
        (:func:`napari_srmat.grainsize.grain_size_from_heyn`). The pixel size is not
        compared: figures may be made at another (``srmat heyn --pixel-size-um``).

        Examples
        --------
        >>> import copy
        >>> import numpy as np
        >>> from napari_srmat.metrics.heyn import measure_intercepts
        >>> m = np.zeros((64, 64), bool); m[:, ::8] = True
        >>> res = measure_intercepts(m, pattern="grid", n_lines=3)
        >>> res.same_measurement(copy.deepcopy(res)), res.same_measurement(None)
        (True, False)
        """
        if other is self:
            return True
        if not isinstance(other, HeynResult):
            return False

        def key(r: HeynResult) -> tuple:
            return (r.mean_intercept_px, r.counts(), float(r.total_length_px),
                    int(r.n_lines), r.n_lines_measured,
                    finite_or_none(r.relative_accuracy_pct), list(r.warnings),
                    bool(r.degenerate), r.pattern, r.mask_scale, int(r.block_scale))

        return key(self) == key(other)

    def _check_figures(self, figures: GrainSizeResult) -> None:
        """Refuse figures that are not this measurement's at its own scale
        (:meth:`to_dict`)."""
        if not self.same_measurement(getattr(figures, "heyn", None)):
            raise HeynError("figures are not this measurement's: pass "
                            "grain_size_from_heyn(result, ...) of the result written")
        scale = getattr(figures, "inference_scale", 1.0)
        if scale != 1:
            raise HeynError(f"figures at inference scale {scale:g} are not in this "
                            "measurement's pixels: write them with their own counts "
                            "(GrainSizeResult.to_dict), not beside this result's")

    def to_dict(self, *, arrays: bool = False, figures: GrainSizeResult | None = None) -> dict:
        """JSON-friendly summary (missing, ``inf`` or NaN figures become ``None``).

        The field's figures -- ``mean_intercept_px``, ``ci95_half_width_px``,
        ``pixel_size_um``, ``mean_intercept_um`` and ``astm_g`` -- are those of
        :func:`napari_srmat.grainsize.grain_size_from_heyn`, the one place where a
        Heyn measurement becomes ℓ̄, its interval, G and G's interval, withheld or not
        (``srmat heyn``'s rows, the Heyn widget's exports): ``ci95_half_width_px`` is
        None where that place withholds ℓ̄'s interval
        (:func:`napari_srmat.grainsize.interval_half_width`; until 2026-12-07 it wrote
        386.3 beside ℓ̄ 38 px where the interval had no upper end).

        Parameters
        ----------
        arrays : bool
            Also include the per-line arrays and intersection coordinates.
        figures : GrainSizeResult, optional
            This measurement's figures as the caller made them
            (``grain_size_from_heyn(self, ...)``: ``srmat heyn`` passes its row's, with
            the pixel size it measured at); default ``grain_size_from_heyn(self,
            pixel_size_um=self.pixel_size_um)``. Their ``heyn`` must be this result (or
            one equal to it, :meth:`same_measurement`) at inference scale 1: the row's
            counts and lengths are this result's pixels.

        Returns
        -------
        dict
            The summary's figures under the keys of ``srmat heyn``'s rows.

        Raises
        ------
        HeynError
            ``figures`` of another measurement, or at an inference scale other than 1
            (until 2026-12-07 written beside this result's counts unchecked).

        Examples
        --------
        >>> import numpy as np
        >>> from napari_srmat.metrics.heyn import measure_intercepts
        >>> m = np.zeros((200, 200), bool); m[:, 5::20] = True; m[5::20, :] = True
        >>> d = measure_intercepts(m, pattern="grid", n_lines=7, margin=0,
        ...                        pixel_size_um=0.5).to_dict()
        >>> round(d["mean_intercept_px"], 1), round(d["mean_intercept_um"], 2)
        (19.9, 9.95)
        """
        if figures is None:
            from ..grainsize import grain_size_from_heyn

            figures = grain_size_from_heyn(self, pixel_size_um=self.pixel_size_um)
        self._check_figures(figures)
        shared = figures.to_dict()  # the one place's figures (finite or None)
        out = {
            "mean_intercept_px": shared["mean_intercept_px"],
            "n_intersections": int(self.n_intersections),
            "total_length_px": float(self.total_length_px),
            "n_lines": int(self.n_lines),
            # None where the row's interval is withheld (the rows' one rule)
            "ci95_half_width_px": figures.ci95_half_width_px,
            "relative_accuracy_pct": finite_or_none(self.relative_accuracy_pct),
            "pattern": self.pattern,
            "warnings": list(self.warnings),
            "degenerate": bool(self.degenerate),
            "n_boundary_px": self.n_boundary_px,
            **self.counts(),
            "triple_points": bool(self.triple_points),
            "n_complete_intercepts": int(len(self.intercepts_px)),
            "mean_intercept_by_direction_px": (
                None if self.mean_intercept_by_direction_px is None
                else {k: finite_or_none(v) for k, v in self.mean_intercept_by_direction_px.items()}
            ),
            "anisotropy_index": finite_or_none(self.anisotropy_index),
            "twins_excluded": self.twins_excluded,
            "excluded_length_px": float(self.excluded_length_px),
            "block_scale": int(self.block_scale),
            "mask_scale": None if self.mask_scale is None else int(self.mask_scale),
        }
        # the µm keys are always there, null without a pixel size (as GrainSizeResult)
        out.update({k: shared[k] for k in ("pixel_size_um", "mean_intercept_um", "astm_g")})
        if arrays:
            out["per_line_length_px"] = [float(x) for x in self.per_line_length_px]
            out["per_line_count"] = [int(x) for x in self.per_line_count]
            out["intersections"] = np.asarray(self.intersections).tolist()
            out["per_line_intersections"] = [float(x) for x in self.per_line_intersections]
            out["per_line_intercepts"] = [float(x) for x in self.per_line_intercepts]
            out["intercepts_px"] = [float(x) for x in self.intercepts_px]
        return out


#: Pixels rasterized per batch: keeps the temporary arrays cache-sized.
_BATCH_PIXELS = 1 << 18

_EPS = 1e-6


def _segments_of(paths, shape):
    """Segments of all paths, clipped to the image (Liang-Barsky).

    Returns ``a, b`` (S, 2), ``seg_path`` (S,), ``valid`` (S,) and ``seg_offsets``
    (n_paths + 1) so that path ``i`` owns segments ``seg_offsets[i]:seg_offsets[i+1]``.
    """
    nseg = np.array([len(p) - 1 for p in paths], np.int64)
    seg_offsets = np.concatenate([[0], np.cumsum(nseg)])
    a = np.concatenate([np.asarray(p, float)[:-1] for p in paths])
    b = np.concatenate([np.asarray(p, float)[1:] for p in paths])
    seg_path = np.repeat(np.arange(len(paths)), nseg)
    H, W = shape
    lo = (-0.5 + _EPS, -0.5 + _EPS)
    hi = (H - 0.5 - _EPS, W - 0.5 - _EPS)
    d = b - a
    t0 = np.zeros(len(a))
    t1 = np.ones(len(a))
    valid = np.ones(len(a), bool)
    for ax in (0, 1):
        nz = d[:, ax] != 0
        with np.errstate(divide="ignore", invalid="ignore"):
            ta = (lo[ax] - a[:, ax]) / d[:, ax]
            tb = (hi[ax] - a[:, ax]) / d[:, ax]
        t0 = np.maximum(t0, np.where(nz, np.minimum(ta, tb), -np.inf))
        t1 = np.minimum(t1, np.where(nz, np.maximum(ta, tb), np.inf))
        valid &= nz | ((a[:, ax] >= lo[ax]) & (a[:, ax] <= hi[ax]))
    valid &= t0 <= t1
    a2 = np.where((t0 > 0)[:, None], a + t0[:, None] * d, a)
    b2 = np.where((t1 < 1)[:, None], a + t1[:, None] * d, b)
    return a2, b2, seg_path, valid, seg_offsets


def _clipped_segments_note(
    paths: list[np.ndarray], in_image: np.ndarray, shape: tuple[int, int]
) -> str | None:
    """What the mask's edge took from drawn test lines (:func:`_segments_of` clips them).

    Parameters
    ----------
    paths : list of (K, 2) arrays
        The drawn lines, as given.
    in_image : array (M,)
        Each line's length inside the mask (px), before any exclusion.
    shape : (int, int)
        The mask's shape.

    Returns
    -------
    str or None
        A warning naming how many lines were clipped (more than
        :data:`SEGMENT_CLIP_TOLERANCE_PX` outside the mask) and the length dropped;
        None when none was.

    Raises
    ------
    HeynError
        A line lies wholly outside the mask, farther than
        :data:`SEGMENT_CLIP_TOLERANCE_PX` from it, while others lie inside it (lines
        drawn for another image); every line outside is refused by the caller.
    """
    drawn = np.array([float(np.hypot(*np.diff(p, axis=0).T).sum()) for p in paths])
    where = f"the {shape[0]} x {shape[1]} px mask"
    # a line within the tolerance of the pixels' extent (-0.5 .. H - 0.5) is one traced
    # along the edge, not drawn for another image: told as clipped below. The distance to
    # the extent is convex, so a polyline's farthest point is one of its vertices
    hi = np.array(shape, float) - 0.5
    past = [float(np.max(np.maximum(-0.5 - p, p - hi))) for p in map(np.asarray, paths)]
    far = np.array(past) > SEGMENT_CLIP_TOLERANCE_PX
    outside = np.flatnonzero((in_image <= 0) & far)
    if outside.size and np.count_nonzero(in_image > 0):
        which = _names([str(i) for i in outside])
        one = outside.size == 1
        raise HeynError(
            f"test line{'' if one else 's'} {which} "
            f"{'lies' if one else 'lie'} wholly outside {where} (rows 0-"
            f"{shape[0] - 1}, columns 0-{shape[1] - 1}): were the lines drawn "
            "for another image? delete or redraw it"
        )
    dropped = drawn - in_image
    clipped = dropped > SEGMENT_CLIP_TOLERANCE_PX
    if not clipped.any():
        return None
    return (
        f"{int(clipped.sum())} of {len(paths)} drawn test lines run off {where}: "
        f"{dropped[clipped].sum():.1f} of {drawn.sum():.1f} px of line lie outside it "
        "and are not measured (lines drawn for another image size?)"
    )


def _raster_flat(a, b, seg_path, n_paths, W):
    """Flat pixel indices (row * W + col) of the 4-connected paths of in-image segments.

    The paths of :func:`_supercover` (the pixel order of the reference rasteriser,
    ``tests/_heyn_oracle.py``), built with one cumulative sum of flat steps. The first
    pixel of a segment that repeats the previous segment's last pixel of the same path
    (polyline joints) is dropped. Returns ``flat``, path offsets and the offset of each
    segment's first kept pixel.
    """
    R0, C0, R1, C1, sr, sc, npix, offs, col_at, col_seg = _supercover(a, b)
    F0 = R0 * W + C0
    F1 = R1 * W + C1
    nseg = len(a)
    dflat = np.repeat(sr * W, npix)
    dflat[col_at] = sc[col_seg]
    prev_end = np.concatenate([[0], F1[:-1]])
    dflat[offs] = F0 - prev_end
    flat = np.cumsum(dflat)
    # polyline joints: drop a repeated first pixel
    cont = np.zeros(nseg, bool)
    cont[1:] = (seg_path[1:] == seg_path[:-1]) & (F0[1:] == F1[:-1])
    if cont.any():
        keep = np.ones(flat.size, bool)
        keep[offs[cont]] = False
        flat = flat[keep]
        npix = npix - cont
    per_path = np.bincount(seg_path, weights=npix, minlength=n_paths).astype(np.int64)
    seg_first = np.cumsum(npix) - npix
    return flat, np.concatenate([[0], np.cumsum(per_path)]), seg_first


def _runs_flat(m, flat, path_offs, closed, tilted, grid: _BlockGrid = _PIXEL_GRID):
    """Run counting on flat indices with path offsets (the reference is ``_count_runs``
    in ``tests/_heyn_oracle.py``, for the pixel grid).

    Returns ``counts`` per path, run ``starts`` and ``ends`` (indices into ``flat``),
    ``wrap_end``: for a run that continues through the first pixel of a closed path, the
    end index of its continuation there (-1 for every other run), and ``split``: whether
    a run was kept apart from a neighbouring run across the corner of a third grain
    (:func:`_third_grain`; the two are plain crossings, not triple points). Two runs of a
    tilted line are joined (a zig-zag across one boundary's staircase) when at most 2 px
    apart with a boundary pixel next to both (:func:`_bridged`); on a mask that is a
    nearest upscale x s (``grid``, :func:`_block_offsets`), the same rule on its s x s
    blocks (gaps of up to two blocks); never across the corner of a third grain. The
    runs of one passage of a tilted line along a boundary are then joined
    (:func:`_passage_merges`).
    """
    W = m.shape[1]
    n_paths = len(path_offs) - 1
    v = m.ravel()[flat]
    n = v.size
    if n == 0:
        z = np.zeros(0, np.int64)
        return np.zeros(n_paths, np.int64), z, z, z, np.zeros(0, bool)
    rise = np.empty(n, bool)
    rise[0] = v[0]
    np.greater(v[1:], v[:-1], out=rise[1:])
    fall = np.empty(n, bool)
    fall[-1] = v[-1]
    np.greater(v[:-1], v[1:], out=fall[:-1])
    nonempty = path_offs[1:] > path_offs[:-1]
    ps = path_offs[:-1][nonempty]
    pe = path_offs[1:][nonempty] - 1
    rise[ps] = v[ps]
    fall[pe] = v[pe]
    starts = np.flatnonzero(rise)
    ends = np.flatnonzero(fall)
    run_pid = np.searchsorted(path_offs, starts, side="right") - 1
    split = np.zeros(starts.size, bool)
    # the longest stretch of each path between two of its runs (0: one run or none)
    longest_gap = np.zeros(n_paths, np.int64)
    if starts.size > 1:
        e, s2 = ends[:-1], starts[1:]
        same = run_pid[1:] == run_pid[:-1]
        np.maximum.at(longest_gap, run_pid[1:][same], (s2 - e - 1)[same])
        # path pixels between the runs of a gap of two blocks: up to 2 (2 s − 1) on a
        # diagonal of the ×s path; 3 at s = 1, the 2 px bridge (until 2026-12-07 2 s + 1
        # on blocks, which never offered a diagonal gap of two blocks to _bridged)
        reach = 4 * grid.scale - 1
        cand = (run_pid[1:] == run_pid[:-1]) & (s2 - e <= reach) & tilted[run_pid[1:]]
        idx = np.flatnonzero(cand)
        if idx.size:
            er, ec = np.divmod(flat[e[idx]], W)
            sr_, sc_ = np.divmod(flat[s2[idx]], W)
            merge = np.zeros(cand.size, bool)
            merge[idx] = _bridged(m, er, ec, sr_, sc_, grid)
            idx = idx[merge[idx]]
            if idx.size:  # not across the corner of a third grain
                pid = run_pid[idx]
                b_i, a_i = starts[idx] - 1, ends[idx + 1] + 1
                b_rc = np.divmod(flat[np.maximum(b_i, 0)], W)
                a_rc = np.divmod(flat[np.minimum(a_i, n - 1)], W)
                third = _third_grain(
                    m, np.divmod(flat[e[idx] + 1], W),
                    (np.where(b_i >= path_offs[pid], b_rc[0], -1), b_rc[1]),
                    (np.where(a_i < path_offs[pid + 1], a_rc[0], -1), a_rc[1]))
                merge[idx[third]] = False
                split[idx[third]] = True
                split[idx[third] + 1] = True
            starts, ends, run_pid, split = _merge_runs(starts, ends, run_pid, merge, split)
        merge, two_sided = _passage_merges(m, flat, path_offs, starts, ends, run_pid, tilted)
        same = run_pid[1:] == run_pid[:-1]
        apart = np.bincount(run_pid[1:][same & ~two_sided], minlength=n_paths) > 0
        # the runs of one passage along a boundary
        starts, ends, run_pid, split = _merge_runs(starts, ends, run_pid, merge, split)
    else:
        apart = np.zeros(n_paths, bool)
    # a line lying along one boundary from end to end is one run holding both its ends
    along = _lies_along(m, flat, path_offs, starts, ends, run_pid, tilted & ~closed & ~apart,
                        longest_gap)
    if along.any():
        merge = (run_pid[1:] == run_pid[:-1]) & along[run_pid[1:]]
        starts, ends, run_pid, split = _merge_runs(starts, ends, run_pid, merge, split)
        k = np.flatnonzero(along[run_pid])
        starts[k], ends[k] = path_offs[run_pid[k]], path_offs[run_pid[k] + 1] - 1
    counts = np.bincount(run_pid, minlength=n_paths).astype(np.int64)
    wrap_end = np.full(starts.size, -1, np.int64)
    if np.any(closed):
        pid_ne = np.flatnonzero(nonempty)
        wrap = closed[pid_ne] & v[ps] & v[pe] & (counts[pid_ne] > 1)
        if np.any(wrap):
            counts[pid_ne[wrap]] -= 1
            keep = ~np.isin(starts, ps[wrap])
            first_ends = ends[~keep]  # the dropped first runs, in path order
            starts, ends, split = starts[keep], ends[keep], split[keep]
            wrap_end = np.full(starts.size, -1, np.int64)
            wrap_end[np.searchsorted(ends, pe[wrap])] = first_ends
    return counts, starts, ends, wrap_end, split


class _Trace(NamedTuple):
    """Everything counted along the test lines (see :func:`_measure_paths`)."""

    counts: np.ndarray  # boundary runs per path (int)
    lengths: np.ndarray  # measured length per path (px)
    intersections: np.ndarray  # (K, 2) centre pixel of each run
    run_path: np.ndarray  # path of each run
    run_triple: np.ndarray  # whether each run is at a triple point (all False if not asked)
    run_at_end: np.ndarray  # whether each run holds an open line's (or piece's) end pixel
    run_along: np.ndarray  # whether each run holds both ends: the line lies along it
    intercepts: np.ndarray  # E112 intercept count N per path (float)
    intercept_lengths: np.ndarray  # lengths of the complete intercepts (px)
    intercept_path: np.ndarray  # path of each complete intercept
    in_image_lengths: np.ndarray  # length per path inside the image, before exclusions
    block_scale: int  # the block grid of the zig-zag bridge (1: the 2 px bridge)


def _pieces(flat, offs, keep_px, closed):
    """Split paths into pieces at unmeasured pixels.

    A closed path with unmeasured pixels is rotated to start after its first unmeasured
    pixel, so that its measured stretch through the original start stays one piece.
    Returns ``orig`` (indices into ``flat`` in processing order), piece offsets into
    ``orig``, each piece's path, the paths rotated and their rotation start index.
    """
    n_paths = len(offs) - 1
    pid = np.searchsorted(offs, np.arange(flat.size), side="right") - 1
    excl_per_path = np.bincount(pid, weights=~keep_px, minlength=n_paths) > 0
    order = np.arange(flat.size)
    rot_start = np.full(n_paths, -1, np.int64)
    for p in np.flatnonzero(closed & excl_per_path):
        s, e = offs[p], offs[p + 1]
        k = s + int(np.flatnonzero(~keep_px[s:e])[0])
        order[s:e] = np.concatenate([np.arange(k, e), np.arange(s, k)])
        rot_start[p] = k
    q = np.flatnonzero(keep_px[order])
    orig = order[q]
    brk = np.ones(q.size, bool)
    if q.size > 1:
        brk[1:] = (q[1:] != q[:-1] + 1) | (pid[orig[1:]] != pid[orig[:-1]])
    piece_offs = np.concatenate([np.flatnonzero(brk), [q.size]]).astype(np.int64)
    piece_path = pid[orig[piece_offs[:-1]]]
    return orig, piece_offs, piece_path, excl_per_path, rot_start


def _measure_paths(m: np.ndarray, paths, closed, tilted, *, measured=None,
                   triple_points: bool = False, mask_scale: int | None = None) -> _Trace:
    """Counts, measured lengths, intercepts and crossings of every path (batched).

    ``measured`` (bool map, optional) marks the pixels that are measured: a path is cut
    into pieces at the other pixels, its length is reduced in proportion, each piece's
    ends are line ends. ``triple_points`` classifies each crossing with
    :func:`napari_srmat.metrics.grainmap.triple_point_runs`. ``mask_scale``: the block
    size of the zig-zag bridge as given (checked, :func:`check_mask_scale`; 1 the pixels),
    None: read off the mask (:func:`_block_scale`).
    """
    H, W = m.shape
    n_all = len(paths)
    a, b, seg_path, valid, seg_offsets = _segments_of(paths, m.shape)
    seg_len = np.where(valid, np.hypot(*(b - a).T), 0.0)
    lengths = np.bincount(seg_path, weights=seg_len, minlength=n_all)
    in_image = lengths.copy()
    est = np.where(valid, np.abs(b - a).sum(axis=1) + 2, 0)
    path_est = np.bincount(seg_path, weights=est, minlength=n_all)
    counts = np.zeros(n_all, np.int64)
    intercepts = np.zeros(n_all)
    inters, run_paths, run_r, run_c, run_len, run_end, run_along = [], [], [], [], [], [], []
    run_first, run_last = [], []
    run_split = []
    il_all, ip_all = [], []
    mflat = m.ravel()
    meas_flat = None if measured is None else measured.ravel()
    if mask_scale is not None:
        found = drawn = mask_scale if mask_scale > 1 else None
    elif tilted.any() or triple_points:
        found = _block_scale(m)  # once per mask
        drawn = _found_block_scale(m, found) if triple_points else None
    else:
        found = drawn = None
    scale = found if tilted.any() else None  # no tilted line: no zig-zag to bridge
    exact = mask_scale is None  # found on the mask: an exact block upscale
    grid = _PIXEL_GRID if scale is None else _block_offsets(m, scale, exact=exact)
    # the third grain of a triple point is looked for on the mask as drawn
    drawn_grid = (_PIXEL_GRID if drawn is None else grid if drawn == scale
                  else _block_offsets(m, drawn, exact=exact))
    start = 0
    while start < n_all:
        stop = start + 1
        acc = path_est[start]
        while stop < n_all and acc + path_est[stop] <= _BATCH_PIXELS:
            acc += path_est[stop]
            stop += 1
        sl = slice(seg_offsets[start], seg_offsets[stop])
        v = valid[sl]
        A, B, SP = a[sl][v], b[sl][v], seg_path[sl][v] - start
        nb = stop - start
        flat, offs, seg_first = _raster_flat(A, B, SP, nb, W)
        # arc length of the segments before each one, within its path
        slen = np.hypot(*(B - A).T)
        cum = np.cumsum(slen) - slen
        first_seg = np.searchsorted(SP, np.arange(nb))
        cum_before = cum - cum[np.minimum(first_seg, max(len(SP) - 1, 0))][SP] if len(SP) else cum
        unit = np.divide(B - A, slen[:, None], out=np.zeros_like(A), where=slen[:, None] > 0)
        blen = lengths[start:stop].copy()

        def pos_of(idx, A=A, unit=unit, slen=slen, cum_before=cum_before, flat=flat,
                   seg_first=seg_first):
            seg = np.searchsorted(seg_first, idx, side="right") - 1
            r, c = np.divmod(flat[idx], W)
            t = (r - A[seg, 0]) * unit[seg, 0] + (c - A[seg, 1]) * unit[seg, 1]
            return cum_before[seg] + np.clip(t, 0.0, slen[seg])

        keep_px = None if meas_flat is None else meas_flat[flat]
        if keep_px is None or keep_px.all():
            orig = None
            flat2, piece_offs = flat, offs
            piece_path = np.arange(nb)
            piece_closed = closed[start:stop]
            wrap_shift = None
        else:
            orig, piece_offs, piece_path, excl_p, rot_start = _pieces(
                flat, offs, keep_px, closed[start:stop]
            )
            flat2 = flat[orig]
            piece_closed = closed[start:stop][piece_path] & ~excl_p[piece_path]
            # measured length: each segment in proportion to its measured pixels
            seg_of_px = np.searchsorted(seg_first, orig, side="right") - 1
            npix_seg = np.diff(np.concatenate([seg_first, [flat.size]]))
            kept_seg = np.bincount(seg_of_px, minlength=len(slen))
            frac = np.divide(kept_seg, npix_seg, out=np.zeros(len(slen)), where=npix_seg > 0)
            blen = np.bincount(SP, weights=slen * frac, minlength=nb)
            pid_px = np.searchsorted(offs, orig, side="right") - 1
            rs = rot_start[pid_px]
            wrap_shift = np.where((rs >= 0) & (orig < rs), in_image[start:stop][pid_px], 0.0)
        lengths[start:stop] = blen

        def pos2(i, orig=orig, wrap_shift=wrap_shift, pos_of=pos_of):
            if orig is None:
                return pos_of(i)
            return pos_of(orig[i]) + wrap_shift[i]

        tl = tilted[start:stop][piece_path]
        c, s0, e0, wrap_end, split = _runs_flat(m, flat2, piece_offs, piece_closed, tl, grid)
        run_split.append(split)
        n_pieces = len(piece_offs) - 1
        counts[start:stop] = np.bincount(piece_path, weights=c, minlength=nb).astype(np.int64)
        mid = (s0 + e0) // 2
        r_, c_ = np.divmod(flat2[mid], W)
        inters.append(np.column_stack([r_, c_]).astype(np.int64))
        run_piece = np.searchsorted(piece_offs, s0, side="right") - 1
        run_paths.append(piece_path[run_piece] + start)
        run_r.append(r_)
        run_c.append(c_)
        run_len.append(e0 - s0 + 1)
        run_first.append(flat2[s0])
        run_last.append(flat2[e0])
        # a run holding a line end: the end touches that boundary (E112: half a crossing)
        at_start = ~piece_closed[run_piece] & (s0 == piece_offs[run_piece])
        at_stop = ~piece_closed[run_piece] & (e0 == piece_offs[run_piece + 1] - 1)
        run_end.append(at_start | at_stop)
        run_along.append(at_start & at_stop)  # the whole line (piece) lies on it
        # intercepts: complete ones between consecutive crossings, half ones at line ends
        piece_len = blen[piece_path]
        if s0.size:
            rpos_s = pos2(s0)
            rpos_e = pos2(e0)
            w = wrap_end >= 0
            if w.any():
                rpos_e[w] = pos2(wrap_end[w]) + piece_len[run_piece[w]]
            rmid = (rpos_s + rpos_e) / 2
            same = run_piece[1:] == run_piece[:-1]
            il = [(rmid[1:] - rmid[:-1])[same]]
            ip = [piece_path[run_piece[1:][same]]]
            # closed pieces: the intercept through the path's start
            has = c > 0
            first_run = np.searchsorted(run_piece, np.arange(n_pieces))
            last_run = np.searchsorted(run_piece, np.arange(n_pieces), side="right") - 1
            cl = np.flatnonzero(piece_closed & has)
            if cl.size:
                il.append(rmid[first_run[cl]] + piece_len[cl] - rmid[last_run[cl]])
                ip.append(piece_path[cl])
            il_all.append(np.concatenate(il))
            ip_all.append(np.concatenate(ip) + start)
        nonempty = piece_offs[1:] > piece_offs[:-1]
        vb = mflat[flat2]
        first_px = np.minimum(piece_offs[:-1], max(flat2.size - 1, 0))
        last_px = np.maximum(piece_offs[1:] - 1, 0)
        # a piece lying along a boundary from end to end has no end inside a grain
        lies = np.bincount(run_piece, weights=at_start & at_stop, minlength=n_pieces) > 0
        start_half = (nonempty & ~piece_closed & (c > 0) & ~vb[first_px] & ~lies if vb.size
                      else nonempty)
        end_half = (nonempty & ~piece_closed & (c > 0) & ~vb[last_px] & ~lies if vb.size
                    else nonempty)
        # E112's N: c - 1 whole intercepts and 1/2 per end inside a grain; a piece
        # without a crossing (wholly inside one grain) has none, as its P is 0
        n_piece = np.where(
            piece_closed,
            c.astype(float),
            np.maximum(c - 1, 0) + 0.5 * (start_half.astype(float) + end_half),
        )
        intercepts[start:stop] = np.bincount(piece_path, weights=n_piece, minlength=nb)
        start = stop

    def cat(xs, dtype):
        return np.concatenate(xs).astype(dtype) if xs else np.zeros(0, dtype)

    inter = np.concatenate(inters) if inters else np.zeros((0, 2), np.int64)
    rp = cat(run_paths, np.int64)
    triple = np.zeros(rp.size, bool)
    if triple_points and rp.size:
        from .grainmap import triple_point_runs

        rr, rc = cat(run_r, np.int64), cat(run_c, np.int64)
        if drawn_grid.scale > 1:
            triple = _drawn_triple_points(m, drawn_grid, rr, rc, cat(run_first, np.int64),
                                          cat(run_last, np.int64))
        else:
            triple = triple_point_runs(m, rr, rc, cat(run_len, np.int64))
        triple &= ~cat(run_split, bool)
    return _Trace(counts, lengths, inter, rp, triple, cat(run_end, bool), cat(run_along, bool),
                  intercepts, cat(il_all, float), cat(ip_all, np.int64), in_image, grid.scale)


def _drawn_mask(m: np.ndarray, grid: _BlockGrid) -> np.ndarray:
    """The mask as drawn: one pixel per ``grid`` block (its middle, :meth:`_BlockGrid.pixel`;
    a partial edge block: a pixel of it). A nearest upscale x s of a mask gives it back."""
    H, W = m.shape
    rows = grid.pixel(np.arange(grid.block(H - 1, 0) + 1), 0, H)
    cols = grid.pixel(np.arange(grid.block(W - 1, 1) + 1), 1, W)
    return m[np.ix_(rows, cols)]


def _drawn_triple_points(m, grid: _BlockGrid, rows, cols, first, last) -> np.ndarray:
    """:func:`napari_srmat.metrics.grainmap.triple_point_runs` on the mask as drawn
    (:func:`_drawn_mask`): each crossing at the block of its middle pixel ``(rows, cols)``,
    its run as long as the blocks it crosses (4-connected: rows and columns apart + 1,
    from its first to its last pixel, flat indices). Its window then follows the block
    scale: a nearest upscale x s finds the triple points of the mask drawn."""
    from .grainmap import triple_point_runs

    W = m.shape[1]
    (fr, fc), (lr, lc) = np.divmod(first, W), np.divmod(last, W)
    n_blocks = (np.abs(grid.block(lr, 0) - grid.block(fr, 0))
                + np.abs(grid.block(lc, 1) - grid.block(fc, 1)) + 1)
    return triple_point_runs(_drawn_mask(m, grid), grid.block(rows, 0), grid.block(cols, 1),
                             n_blocks)


def as_boundary_mask(mask: Any, threshold: float | None = None) -> np.ndarray:
    """The boundary mask that :func:`measure_intercepts` measures, as bool: the mask rule
    of :func:`napari_srmat.io.as_bool_mask` (a probability map binarised at
    ``threshold``), refused as a :class:`HeynError`, an empty mask too.

    Parameters
    ----------
    mask : array-like
        A boundary mask (bool, 0/1, 0/255 ...) or, with ``threshold``, a probability map.
    threshold : float, optional
        Binarise at this value (``>=``), as :func:`~napari_srmat.io.as_bool_mask`.

    Returns
    -------
    numpy.ndarray
        Bool, True on boundary pixels.

    Raises
    ------
    HeynError
        What :func:`~napari_srmat.io.as_bool_mask` refuses, or a mask without pixels.

    Examples
    --------
    >>> as_boundary_mask(np.array([[0, 255], [255, 0]], np.uint8)).tolist()
    [[False, True], [True, False]]
    """
    from ..io import MaskError, as_bool_mask

    try:
        m = as_bool_mask(mask, threshold=threshold, name="boundary mask")
    except MaskError as exc:
        raise HeynError(str(exc)) from None
    if m.size == 0:
        raise HeynError("boundary mask is empty")
    return m


def boundary_width_px(boundary_fraction: float, mean_intercept_px: float) -> float:
    """Mean width (px) of the boundaries of a map: their area per unit length.

    Stereology (ASTM E112, E1382): the boundary length per unit area is
    ``L_A = (π / 2) P_L`` with ``P_L = 1 / ℓ̄`` the intersections per unit test-line length,
    so bands covering the area fraction ``A_A`` are ``A_A / L_A = 2 A_A ℓ̄ / π`` wide: no
    skeleton needed. The rule of :data:`THICK_BOUNDARY_WIDTH_PX`.

    Parameters
    ----------
    boundary_fraction : float
        Fraction of the map's pixels that are boundary.
    mean_intercept_px : float
        ℓ̄ measured on the map (px).

    Returns
    -------
    float
        The mean boundary width (px).

    Examples
    --------
    1 px lines 10 px apart: isotropic test lines cross them every 10 π / 2 px.

    >>> round(boundary_width_px(0.1, 10 * math.pi / 2), 6)
    1.0
    """
    return 2.0 * boundary_fraction * mean_intercept_px / math.pi


def _thick_boundaries_note(width_px: float, scale: int = 1) -> str:
    """The warning for boundaries wider than :data:`THICK_BOUNDARY_WIDTH_PX` measured
    without thinning; ``width_px``: on the mask as drawn, ``scale``: its block scale
    (a mask drawn at 1 / s and upscaled, :func:`_drawn_scale`)."""
    shown = compared_value(width_px, ">", THICK_BOUNDARY_WIDTH_PX, decimals=1)
    drawn = "" if scale == 1 else f" as drawn (x{scale} upscale: ~{scale * width_px:.1f} px)"
    return (f"the boundaries are ~{shown} px wide{drawn} (more than "
            f"{THICK_BOUNDARY_WIDTH_PX:g} px) and were measured without thinning: wide bands "
            "merge close boundaries and fill small grains, so ℓ̄ reads long (+8-26 % at "
            "4.5-6.5 px on a tbm probability map); thin them first (skeletonize)")


def _drawn_scale(m: np.ndarray, mask_scale: int | None) -> int:
    """The block scale of the mask as drawn, for the width rule of unthinned boundaries
    (:data:`THICK_BOUNDARY_WIDTH_PX`): ``mask_scale`` given, else the scale found
    (:func:`_found_block_scale`: not on a rectilinear map drawn at x 1 on a block grid),
    else 1.
    An upscale x s makes bands drawn w px wide s w px wide, and merges no more close
    boundaries than the mask drawn did."""
    if mask_scale is not None:
        return mask_scale
    return _found_block_scale(m, _block_scale(m)) or 1


def _contradicted_scale_note(m: np.ndarray, mask_scale: int) -> str | None:
    """The warning for a ``mask_scale`` given that the mask contradicts: the mask is an
    exact nearest upscale x k (the scale read off it when none is given,
    :func:`_found_block_scale`) and ``mask_scale`` is not k. Measured on the wrong blocks
    its boundaries are thinned and bridged at the wrong scale: a x4 nearest upscale of a
    synthetic map (256², 24 px grains, 50 random lines, thinned) read ℓ̄ −13 % at 1,
    −6 % at 2, +25 % at 8 against the map drawn (−1.7 % at 4). None where the scales
    agree or the mask is no exact upscale (a bilinear or smooth one: nothing to judge by).
    """
    found = _found_block_scale(m, _block_scale(m))
    if found is None or found == mask_scale:  # no exact upscale: nothing contradicts it
        return None
    return (
        f"mask scale {mask_scale} given, but the mask is an exact nearest x{found} "
        f"upscale (constant on {found} x {found} blocks): measured on {mask_scale} x "
        f"{mask_scale} blocks ℓ̄ reads off (a x4 upscale of a synthetic map: −13 % at 1, "
        f"+25 % at 8); give {found}, or no mask scale to read it off the mask"
    )


def coarse_map_note(mean_intercept_px: float) -> str | None:
    """The warning for a boundary map whose ℓ̄ is under the finest a micrograph is
    measured at (:data:`napari_srmat.grainsize.MIN_INPUT_INTERCEPT_PX`, the one limit).

    A mask's advice (draw it finer); a micrograph's map, measured at inference scale, is
    told by :mod:`napari_srmat.grainsize`'s own scale checks instead.

    Parameters
    ----------
    mean_intercept_px : float
        ℓ̄ of the map (px).

    Returns
    -------
    str or None
        The warning, or None when ℓ̄ is not under the limit.
    """
    # it imports this module; UNDERSAMPLED_NOTE: the one wording of the limit (its
    # micrograph advice, super-resolve, is not a mask's)
    from ..grainsize import MIN_INPUT_INTERCEPT_PX, UNDERSAMPLED_NOTE

    if mean_intercept_px >= MIN_INPUT_INTERCEPT_PX:
        return None
    shown = compared_value(mean_intercept_px, "<", MIN_INPUT_INTERCEPT_PX, decimals=1)
    return (f"ℓ̄ is {shown} px on this boundary map (< {MIN_INPUT_INTERCEPT_PX:g} px): "
            f"{UNDERSAMPLED_NOTE}; grains this few pixels across read ℓ̄ long (+22-29 % on "
            "tbm val masks reduced ×4 to 6.6-7.2 px); measure a mask drawn at a finer pixel "
            "size")


def _region_fraction(
    m: np.ndarray, measured: np.ndarray | None, count: int | None = None,
) -> float:
    """Fraction of boundary pixels of ``m`` in the region measured (all of it, or the
    pixels ``measured`` outside an exclusion mask); ``count``: ``m``'s boundary pixels
    when already counted."""
    if measured is None:
        return (int(np.count_nonzero(m)) if count is None else count) / m.size
    return int(np.count_nonzero(m & measured)) / int(np.count_nonzero(measured))


def _boundary_map_rule(
    before: float, thinned: float | None, max_before_thinning: float,
) -> tuple[bool, str | None]:
    """The rule of :data:`MAX_BOUNDARY_FRACTION` and :data:`MAX_THINNED_BOUNDARY_FRACTION`.

    ``before``: the boundary fraction of the map as given; ``thinned``: of its skeleton
    (None when measured unthinned). Returns ``(degenerate, warning or None)``.
    """
    if thinned is None:
        judged, fraction, limit = "mask's", before, MAX_BOUNDARY_FRACTION
    elif before > max_before_thinning:
        judged, fraction, limit = "mask's", before, max_before_thinning
    else:
        judged, fraction, limit = "thinned mask's", thinned, MAX_BOUNDARY_FRACTION
    if fraction > limit:
        return True, (f"{100 * fraction:.0f}% of the {judged} pixels are boundary (more than "
                      f"{100 * limit:.0f}%): it is not a boundary map, so no grain size is "
                      "reported")
    if thinned is not None and before > MAX_BOUNDARY_FRACTION:
        return False, (
            f"{100 * before:.0f}% of the mask's pixels were boundary before thinning (more "
            f"than {100 * MAX_BOUNDARY_FRACTION:.0f}%): ℓ̄ is the thinned map's; boundaries "
            "this wide (a low threshold, or lines drawn wide) can merge close boundaries: "
            "check it against a higher threshold or thinner lines")
    return False, None


def _skeletonize(m: np.ndarray) -> np.ndarray:
    from skimage.morphology import skeletonize

    return skeletonize(m)


#: Line directions closer than this (degrees) are one direction (anisotropy, per
#: direction means).
DIRECTION_TOLERANCE_DEG = 1.0


def _thinned(m: np.ndarray, mask_scale: int | None) -> tuple[np.ndarray, int | None]:
    """The mask thinned (``skeletonize=True``) and the block scale to measure it with.

    A mask drawn at 1 / s and upscaled (s: ``mask_scale``, else the scale found,
    :func:`_found_block_scale`) is thinned as drawn: its blocks' middle pixels
    (:func:`_drawn_mask`) thinned, each block then given its pixel's value, on the same
    grid (:func:`_block_offsets`), so the measurement stays in this mask's pixels and the
    block rules count it as the mask drawn (returned s). Thinned at this resolution, an
    upscale's wide bands leave spurs (ℓ̄ −8 % random at x4 nearest, docs/heyn.md
    "Upscaled masks"). Otherwise (no scale, or 1) the mask thinned as given: also a thick
    rectilinear map drawn at this resolution that is constant on blocks (4 px bands every
    16 px, as x4 of a 1 px grid of period 4): its drawn form has no oblique boundary.
    """
    s = _found_block_scale(m, _block_scale(m)) if mask_scale is None else mask_scale
    if s is None or s <= 1:
        return _skeletonize(m), mask_scale
    grid = _block_offsets(m, s, exact=mask_scale is None)
    thin = _skeletonize(_drawn_mask(m, grid))
    H, W = m.shape
    return thin[np.ix_(grid.block(np.arange(H), 0), grid.block(np.arange(W), 1))], s


def _path_angle(p: np.ndarray) -> float:
    """Direction of a straight path in degrees [0, 180) from the horizontal, else NaN."""
    p = np.asarray(p, float)
    d = p[-1] - p[0]
    if not np.any(d):
        return math.nan
    if len(p) > 2:
        # every vertex must lie on the chord (a straight polyline)
        rel = p - p[0]
        cross = rel[:, 0] * d[1] - rel[:, 1] * d[0]
        if np.max(np.abs(cross)) / np.hypot(*d) > 0.5:
            return math.nan
    return math.degrees(math.atan2(-d[0], d[1])) % 180.0


def _direction_groups(angles: np.ndarray, tol: float = DIRECTION_TOLERANCE_DEG):
    """Group line directions (degrees, [0, 180)); returns (group id per line, mean angles).

    Directions within ``tol`` of 180 are folded onto 0. Lines with a NaN angle get -1.
    """
    ang = np.where(angles > 180.0 - tol, angles - 180.0, angles)
    gid = np.full(ang.size, -1, np.int64)
    ok = np.flatnonzero(np.isfinite(ang))
    if ok.size == 0:
        return gid, np.zeros(0)
    order = ok[np.argsort(ang[ok])]
    new = np.ones(order.size, bool)
    new[1:] = np.diff(ang[order]) > tol
    gid[order] = np.cumsum(new) - 1
    means = np.array([ang[gid == g].mean() for g in range(int(gid.max()) + 1)])
    return gid, np.where(np.abs(means) < 1e-9, 0.0, means) % 180.0


def _angle_key(a: float) -> str:
    return f"{round(float(a), 1):g}"


def directional_intercepts(
    lengths: np.ndarray, p_counts: np.ndarray, angles: np.ndarray
) -> tuple[dict | None, float | None]:
    """Mean intercept per line direction and the anisotropy index.

    Parameters
    ----------
    lengths, p_counts : arrays (M,)
        Length and intersection count P of each line.
    angles : array (M,)
        Direction of each line (degrees, [0, 180), NaN if not straight).

    Returns
    -------
    (by_direction, anisotropy_index)
        ``by_direction`` maps the direction (``"0"``, ``"90"``, ...) to ``ΣL / ΣP`` of its
        lines (None where ``ΣP = 0``); None when some line has no direction. The index is
        ℓ̄ of the direction nearest to horizontal divided by ℓ̄ of the other, when there
        are exactly two directions with crossings; else None.

    Examples
    --------
    >>> directional_intercepts(np.array([100., 100.]), np.array([5., 10.]),
    ...                        np.array([0., 90.]))
    ({'0': 20.0, '90': 10.0}, 2.0)
    """
    angles = np.asarray(angles, float)
    if angles.size == 0 or not np.all(np.isfinite(angles)):
        return None, None
    gid, means = _direction_groups(angles)
    by_dir: dict = {}
    vals = []
    for g, a in enumerate(means):
        sel = gid == g
        p = float(np.sum(p_counts[sel]))
        val = float(np.sum(lengths[sel])) / p if p > 0 else None
        by_dir[_angle_key(a)] = val
        vals.append(val)
    aniso = None
    if len(means) == 2 and all(v is not None for v in vals):
        dist = np.minimum(means, 180.0 - means)  # distance from horizontal
        h = int(np.argmin(dist))
        aniso = vals[h] / vals[1 - h]
    return by_dir, aniso


def measure_intercepts(
    mask: Any,
    *,
    pattern: str = "random",
    n_lines: int = HEYN_N_LINES,
    seed: int = HEYN_SEED,
    segments: Any = None,
    margin: float = HEYN_MARGIN,
    skeletonize: bool = False,
    pixel_size_um: float | None = None,
    twins: Any = None,
    exclude_twins: bool = True,
    exclusion: Any = None,
    triple_points: bool = False,
    max_fraction_before_thinning: float = MAX_THINNED_BOUNDARY_FRACTION,
    mask_scale: int | None = None,
) -> HeynResult:
    """Heyn lineal-intercept measurement on a boundary mask.

    Parameters
    ----------
    mask : array (H, W) or Micrograph
        Boundary mask: bool, 0/1, uint8 0/255, uint16, label map or a 0/1 float mask,
        the rule of :func:`napari_srmat.io.as_bool_mask` (a float probability map is
        refused: threshold it first). Dask arrays are computed; a
        :class:`~napari_srmat.io.Micrograph` (:func:`~napari_srmat.io.read_image` of a
        mask file) and a mask :func:`~napari_srmat.io.read_mask` read
        (:class:`~napari_srmat.io._mask.FileMask`) also give their file's pixel size.
    pattern : {"random", "grid", "circles", "segments"}
        Test-line pattern (see the module docstring).
    n_lines : int
        Random lines, or horizontal (= vertical) grid lines. Ignored for circles (but
        refused when out of :func:`check_n_lines`'s range) and segments.
    seed : int
        Seed of the random pattern (same seed, same lines for every mask of a shape).
    segments : array, list or path, optional
        Explicit test lines for ``pattern="segments"``.
    margin : float
        Fraction of the image left out on each side.
    skeletonize : bool
        Thin the mask to one-pixel lines first (counts are robust either way because a
        run of boundary pixels counts once, but thin masks avoid merging close
        boundaries: boundaries wider than :data:`THICK_BOUNDARY_WIDTH_PX` measured
        unthinned are warned; on an upscale, their width as drawn, :func:`_drawn_scale`).
        The map measured, thinned or not, is the one judged by
        :data:`MAX_BOUNDARY_FRACTION`, thinned only up to ``max_fraction_before_thinning``
        before thinning. Either way a map whose ℓ̄ is under
        :data:`napari_srmat.grainsize.MIN_INPUT_INTERCEPT_PX` is warned as under-sampled
        (:func:`coarse_map_note`). A
        mask drawn at 1 / s and upscaled (``mask_scale``, or an exact nearest upscale
        found whose drawn form has oblique boundaries, :func:`_found_block_scale`) is thinned
        as drawn and put back on its s x s blocks (:func:`_thinned`): a nearest upscale's
        thinned mask is the drawn one's thinned, upscaled.
    pixel_size_um : float, optional
        Pixel size; enables ``mean_intercept_um`` and ``astm_g`` (default: the file's of
        a Micrograph or a :func:`~napari_srmat.io.read_mask` mask; none, with a warning,
        when its pixels are not square). One given wins over the file's; where it
        differs from it a warning says so (:func:`~napari_srmat.io.pixel_size_note`, the
        rule of ``srmat heyn --pixel-size-um``).
    twins : array (H, W), optional
        Annealing-twin boundary mask (twin traces, possibly painted a few pixels wide;
        they may or may not also be in ``mask``).
    exclude_twins : bool
        With ``twins``: leave twin boundaries out of the count as ASTM E112 asks
        (:func:`napari_srmat.metrics.grainmap.merge_twins` decides which twin pixels no
        longer separate two grains), or count them as boundaries (False).
    exclusion : array (H, W), optional
        Pixels not measured (scratches, inclusions, damaged areas). Test lines are cut
        there: their length is reduced by the part that falls on the exclusion, and the
        pieces' ends are line ends for the intercept count.
    triple_points : bool
        Score intersections by ASTM E112: a crossing at a junction of three grains
        counts 1.5 (:func:`napari_srmat.metrics.grainmap.triple_point_runs`) and a
        boundary that a line's end touches (the end pixel lies on it) counts 0.5
        (E112: a line end is not an intersection unless it touches a boundary, when it
        scores half; a line drawn from one boundary to the next has P = 1, not 2; a
        line lying along a boundary from end to end, E112's tangent, counts 1); ℓ̄ is
        then ``ΣL / ΣP`` with these counts. Off by default (ℓ̄ = ΣL / number of
        crossings, every boundary run counting 1: the protocol of the TBM benchmark),
        except that drawn lines (``pattern="segments"``) always score a touched end
        0.5 (:func:`scores_line_ends`). On a mask drawn at 1 / s and upscaled (the
        block scale: ``mask_scale``, else the scale found, :func:`_found_block_scale`)
        the third grain is looked for on the mask as drawn, one pixel a block
        (:func:`_drawn_triple_points`): a nearest upscale finds the triple points drawn.
    max_fraction_before_thinning : float
        With ``skeletonize``, a map with a larger fraction of boundary pixels as given
        (before twins and thinning, in the region measured) is not a boundary map even
        thinned (default :data:`MAX_THINNED_BOUNDARY_FRACTION`); between
        :data:`MAX_BOUNDARY_FRACTION` and it the thinned map is measured with a warning.
        Threshold calibrations pass :data:`MAX_BOUNDARY_FRACTION`: a threshold marking
        more than half the pixels is no operating point.
    mask_scale : int, optional
        The mask was drawn at 1 / ``mask_scale`` of this resolution and upscaled (an
        integer from 1 to :data:`BLOCK_SCALE_MAX`): the zig-zag bridge of the run count
        is the 2 px rule of the mask as drawn, on ``mask_scale`` x ``mask_scale`` blocks,
        their grid the offset fitting the mask best (:func:`_block_offsets`); 1: the
        2 px bridge on the pixels. Give it for bilinear or smooth upscales (an SR map of
        an upscaled mask) and for an edited nearest upscale, whose scale cannot be read
        off the mask exactly: there the 2 px bridge counts the zig-zag of a thick
        oblique band twice and reads ℓ̄ short. Never for a mask drawn at this
        resolution (its wide bands' crossings would merge; docs/heyn.md, "Upscaled
        masks"). None (default): a mask that is exactly a nearest upscale is found
        (:func:`_block_scale`), any other gets the 2 px bridge. The rule used is
        :attr:`HeynResult.block_scale`. A scale given on a mask that is an exact nearest
        upscale of another scale is used, with a warning (since 2026-12-07; a x4
        upscale read ℓ̄ −13 % at 1, +25 % at 8).

    Returns
    -------
    HeynResult

    Examples
    --------
    Vertical stripes 10 px apart: horizontal lines cross one every 10 px, vertical
    lines none, so the 5 + 5 line grid gives twice the spacing.

    >>> import numpy as np
    >>> from napari_srmat.metrics.heyn import measure_intercepts
    >>> m = np.zeros((100, 100), bool); m[:, 3::10] = True
    >>> round(measure_intercepts(m, pattern="grid", n_lines=5, margin=0).mean_intercept_px)
    20

    A mask drawn at 1 / 4 of this resolution and upscaled smoothly (bilinear) is not
    constant on 4 x 4 blocks, so its scale is not read off it: the 2 px bridge counts
    the zig-zags of its wide oblique bands twice and ℓ̄ reads short. Given
    ``mask_scale=4`` they are counted as on the mask drawn, and ℓ̄ / 4 moves back
    towards the drawn mask's; ``block_scale`` tells the rule used.

    >>> from PIL import Image
    >>> from napari_srmat.synth import generate_microstructure
    >>> drawn = generate_microstructure((96, 96), mean_grain_size_px=16, seed=2,
    ...                                 boundary_width=1, rgb=False).boundaries
    >>> im = Image.fromarray(drawn.astype(np.uint8) * 255)
    >>> up = np.asarray(im.resize((384, 384), Image.BILINEAR)) > 127
    >>> without, given = measure_intercepts(up), measure_intercepts(up, mask_scale=4)
    >>> round(measure_intercepts(drawn).mean_intercept_px, 1)
    13.7
    >>> round(without.mean_intercept_px / 4, 1), round(given.mean_intercept_px / 4, 1)
    (12.8, 13.6)
    >>> without.block_scale, given.block_scale, given.mask_scale
    (1, 4, 4)
    """
    from ..io import image_data, pixel_size_note
    from ..io._mask import mask_micrograph

    # "no" is truthy: it would skeletonize / merge twins / weight triple points
    skeletonize = check_flag("skeletonize", skeletonize, error=HeynError)
    exclude_twins = check_flag("exclude_twins", exclude_twins, error=HeynError)
    triple_points = check_flag("triple_points", triple_points, error=HeynError)
    mask_scale = scale_given = check_mask_scale(mask_scale)  # thinning may set it
    # a read_mask mask measures as its file (srmat heyn's rule: the size given wins, one
    # that differs from the file's is told; until 2026-12-07 its pixel size was lost)
    mask = mask_micrograph(mask)
    pixel_note = pixel_size_note(mask, given=pixel_size_um)
    mask, file_px = image_data(mask, name="boundary mask", intensity=False)
    if pixel_size_um is None:
        pixel_size_um = file_px
    if len(mask.shape) >= 2:  # read whole: refused before any pixel is read
        from ..estimates import check_in_memory, plan_mask_measurement

        plan = plan_mask_measurement(mask.shape, mask.dtype,
                                     held=isinstance(mask, np.ndarray),
                                     twins=twins is not None and exclude_twins,
                                     exclusion=exclusion is not None)
        check_in_memory(plan, "measure_intercepts", advice="measure fields or crops of it",
                        error=HeynError)
    if not isinstance(mask, np.ndarray) and np.dtype(mask.dtype) == np.uint8:
        # read once (Dask, Zarr): the mask rule and the mid-grey check both read it
        mask = np.asarray(mask.compute() if hasattr(mask, "compute") else mask)
    m = as_boundary_mask(mask)
    check_measurable_shape(m.shape, "mask", "to lay test lines on")
    pixel_size_um = check_pixel_size(pixel_size_um)
    from ..io import micrograph_as_mask_note

    warnings_: list[str] = [n for n in (pixel_note, micrograph_as_mask_note(mask)) if n]
    # boundary pixels counted once: again below only where twins change the mask
    n_boundary_px = int(np.count_nonzero(m))
    # the map as given (before twins and thinning): the boundary-map rule's
    given, given_px = m, n_boundary_px
    if scale_given is not None:  # an exact upscale of another scale: told (R4 #3)
        scale_note = _contradicted_scale_note(given, scale_given)
        if scale_note:
            warnings_.append(scale_note)
    twins_excluded = None
    if twins is not None:
        from ..io import as_bool_mask
        from .grainmap import grains_from_boundaries, merge_twins

        t = as_bool_mask(twins, name="twin mask", shape=m.shape)
        if exclude_twins:
            m = merge_twins(grains_from_boundaries(m | t), t, boundaries=m | t).boundaries
        else:
            m = m | t
        twins_excluded = bool(exclude_twins)
        n_boundary_px = int(np.count_nonzero(m))  # twins merged or added
    measured = None
    if exclusion is not None:
        from ..io import as_bool_mask

        measured = ~as_bool_mask(exclusion, name="exclusion mask", shape=m.shape)
        if not measured.any():
            raise HeynError("the exclusion mask covers the whole image: nothing is measured")
    # for the width of boundaries measured unthinned (thinned: no width to warn of)
    unthinned_fraction = None if skeletonize else _region_fraction(m, measured,
                                                                   n_boundary_px)
    if skeletonize:
        m, mask_scale = _thinned(m, mask_scale)
    degenerate, note = _boundary_map_rule(
        _region_fraction(given, measured, given_px),
        _region_fraction(m, measured) if skeletonize else None,
        max_fraction_before_thinning)
    if note:
        warnings_.append(note)
    paths, closed = make_pattern(
        m.shape, pattern, n_lines=n_lines, seed=seed, margin=margin, segments=segments
    )
    tilted = np.array([bool(np.all(np.diff(p, axis=0) != 0, axis=1).any()) for p in paths])
    tr = _measure_paths(m, paths, closed, tilted, measured=measured,
                        triple_points=triple_points, mask_scale=mask_scale)
    counts, lengths, inter = tr.counts, tr.lengths, tr.intersections
    if pattern == "segments" and tr.in_image_lengths.any():  # none inside: refused below
        clip_note = _clipped_segments_note(paths, tr.in_image_lengths, m.shape)
        if clip_note:
            warnings_.append(clip_note)
    # E112's scoring (triple_points): 1.5 at a triple point, 0.5 at a line end (which
    # wins); run_triple is all False without it. Drawn lines always score their ends so.
    # A run holding both ends of a line (the line lies along the boundary) scores 1/2
    # per end, 1: E112's tangent
    at_end = tr.run_at_end & ~tr.run_along & scores_line_ends(pattern, triple_points)
    is_triple = tr.run_triple & ~tr.run_at_end
    p_line = counts + np.bincount(tr.run_path, weights=0.5 * is_triple - 0.5 * at_end,
                                  minlength=len(paths))
    n_tot = int(counts.sum())
    p_tot = float(p_line.sum())
    l_tot = float(lengths.sum())
    excluded = 0.0
    if measured is not None:
        excluded = float(tr.in_image_lengths.sum()) - l_tot
    if l_tot <= 0:
        where = "in the measured area of" if measured is not None else "inside"
        raise HeynError(f"no test line lies {where} the {m.shape[0]} x {m.shape[1]} px mask")
    if n_tot == 0 and not degenerate:
        warnings_.append(
            f"no test line crosses a boundary ({len(paths)} lines, {l_tot:.0f} px): the mean "
            "intercept is undefined"
        )
    mean = None if degenerate or n_tot == 0 else l_tot / p_tot
    if mean is not None:
        width = None if skeletonize else boundary_width_px(unthinned_fraction, mean)
        if width is not None and width > THICK_BOUNDARY_WIDTH_PX:  # as drawn: / its scale
            s = _drawn_scale(m, scale_given)
            if width / s > THICK_BOUNDARY_WIDTH_PX:
                warnings_.append(_thick_boundaries_note(width / s, s))
        coarse_note = coarse_map_note(mean)
        if coarse_note:
            warnings_.append(coarse_note)
    ok = lengths > 0
    _, half, ra = (
        confidence_interval(p_line[ok] / lengths[ok])
        if ok.sum() and mean is not None else (0, math.nan, math.nan)
    )
    if pattern == "grid":
        angles = np.array([0.0] * (len(paths) // 2) + [90.0] * (len(paths) // 2))
    elif pattern == "segments":
        angles = np.array([_path_angle(p) for p in paths])
    else:
        angles = np.array([_path_angle(p) for p in paths]) if pattern == "random" else None
    by_dir = aniso = None
    if pattern in ("grid", "segments") and mean is not None:
        by_dir, aniso = directional_intercepts(lengths, p_line, angles)
    res = HeynResult(
        mean_intercept_px=mean,
        n_intersections=n_tot,
        total_length_px=l_tot,
        n_lines=len(paths),
        per_line_length_px=lengths,
        per_line_count=counts,
        intersections=inter,
        relative_accuracy_pct=ra,
        pixel_size_um=pixel_size_um,  # ℓ̄ in µm and G follow from it (properties)
        pattern=pattern,
        paths=paths,
        warnings=warnings_,
        degenerate=degenerate,
        n_boundary_px=n_boundary_px,
        per_line_intersections=p_line,
        per_line_intercepts=tr.intercepts,
        intersection_count=p_tot,
        intercept_count=float(tr.intercepts.sum()),
        n_triple_points=int(is_triple.sum()),
        n_line_end_touches=int(at_end.sum()),
        triple_points=bool(triple_points),
        intercepts_px=tr.intercept_lengths,
        line_angles_deg=angles,
        mean_intercept_by_direction_px=by_dir,
        anisotropy_index=aniso,
        twins_excluded=twins_excluded,
        excluded_length_px=max(excluded, 0.0),
        intersection_is_triple=is_triple,
        intersection_at_line_end=tr.run_at_end,
        block_scale=tr.block_scale,
        mask_scale=scale_given,
    )
    return res


def compare_intercepts(pred: Any, gt: Any, **kw: Any) -> dict:
    """Mean intercepts of a predicted boundary mask and its ground truth (same lines).

    Parameters
    ----------
    pred, gt : array (H, W)
        Predicted and true boundary masks of the same shape.
    **kw
        Passed to :func:`measure_intercepts` for both; ``max_fraction_before_thinning``
        defaults to :data:`MAX_BOUNDARY_FRACTION` here, the one rule of every comparison
        (:func:`heyn_error`, ``evaluate_maps``, the UAED evaluation, the threshold fits):
        a map more than half boundary before thinning is no operating point to compare.

    Returns
    -------
    dict
        ``pred_px`` and ``gt_px`` (None without a valid ℓ̄), ``pred_degenerate`` and
        ``gt_degenerate`` (not a boundary map), ``warnings``.

    Notes
    -----
    Both are compared in pixels as plain boolean arrays (:func:`as_boundary_mask`, as
    ``evaluate_maps`` passes them): a file's pixel size (a ``read_mask`` mask, a
    Micrograph) plays no part, and its advice is not told (until 2026-12-07 a
    ``read_mask`` truth added "give the pixel size" to a comparison in pixels).
    """
    if np.shape(pred)[:2] != np.shape(gt)[:2]:
        raise HeynError(f"shapes differ {np.shape(pred)} vs {np.shape(gt)}")
    pred, gt = as_boundary_mask(pred), as_boundary_mask(gt)  # pixels only: no file's size
    kw.setdefault("max_fraction_before_thinning", MAX_BOUNDARY_FRACTION)
    rp = measure_intercepts(pred, **kw)
    rg = measure_intercepts(gt, **kw)
    return {
        "pred_px": rp.mean_intercept_px,
        "gt_px": rg.mean_intercept_px,
        "pred_degenerate": rp.degenerate,
        "gt_degenerate": rg.degenerate,
        "warnings": [f"prediction: {w}" for w in rp.warnings]
        + [f"ground truth: {w}" for w in rg.warnings],
    }


def _names(names: list[str]) -> str:
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def summarize_heyn_rows(rows: Sequence[dict], names: Sequence[str] | None = None,
                        *, withhold: Sequence[str] = ()) -> dict:
    """Set-level Heyn figures from per-image :func:`compare_intercepts` rows.

    The one rule of every Heyn comparison (``heyn_error``, ``evaluate_maps``, the UAED
    evaluation): the set's ℓ̄ are the means over images of each image's ℓ̄, the
    predicted and the true mean over the same images. A prediction without
    intersections where the truth has some (its ℓ̄ unbounded: every boundary missed)
    withholds the predicted figures (averaged over the other images only, such a
    prediction read as too short, or as exact); an image whose truth has no
    intersections is left out of both means (with a warning); if any image's
    predicted or true map is not a boundary map, or ``withhold`` gives reasons (e.g. a
    constant probability map), the predicted ℓ̄, the difference and the error are
    ``None`` instead of a number that looks valid.

    Parameters
    ----------
    rows : sequence of dict
        :func:`compare_intercepts` results.
    names : sequence of str, optional
        Image names for the warnings (default: their indices).
    withhold : sequence of str
        Reasons, found by the caller, not to report the predicted figures.

    Returns
    -------
    dict
        ``heyn_pred_px``, ``heyn_gt_px``, ``delta_px``, ``heyn_error_pct`` (each None when
        not valid) and ``warnings``.
    """
    names = [str(n) for n in names] if names is not None else [str(i) for i in range(len(rows))]
    warns = list(withhold)
    bad_pred = [n for n, r in zip(names, rows) if r["pred_degenerate"]]
    bad_gt = [n for n, r in zip(names, rows) if r["gt_degenerate"]]
    if bad_pred:
        warns.append(f"the binarised prediction of {_names(bad_pred)} is not a boundary map "
                     "(nearly all boundary): no predicted grain size or Heyn error is reported")
    if bad_gt:
        warns.append(f"the ground truth of {_names(bad_gt)} is not a boundary map: no Heyn "
                     "error is reported")
    none_pred = [n for n, r in zip(names, rows)
                 if r["pred_px"] is None and not r["pred_degenerate"]]
    none_gt = [n for n, r in zip(names, rows) if r["gt_px"] is None and not r["gt_degenerate"]]
    missed = [n for n, r in zip(names, rows) if r["pred_px"] is None
              and not r["pred_degenerate"] and r["gt_px"] is not None]
    if missed:
        warns.append(f"no test line crosses a predicted boundary in {_names(missed)}, whose "
                     "truth has boundaries: its predicted grain size is unbounded, so no "
                     "predicted mean intercept or Heyn error is reported for the set")
    elif none_pred:
        warns.append(f"no test line crosses a predicted boundary in {_names(none_pred)}: "
                     "left out of the mean intercepts")
    if none_gt:
        warns.append(f"no test line crosses a true boundary in {_names(none_gt)}: left out of "
                     "the true and the predicted mean intercept")
    # the truth's images: those with a true ℓ̄; the prediction is averaged over the same
    # ones (a prediction's ℓ̄ where the truth has none is left out)
    paired = [r for r in rows if r["pred_px"] is not None and r["gt_px"] is not None]
    gv = [r["gt_px"] for r in rows if r["gt_px"] is not None]
    pred = (float(np.mean([r["pred_px"] for r in paired]))
            if paired and not (bad_pred or bad_gt or withhold or missed) else None)
    gt = float(np.mean(gv)) if gv and not bad_gt else None
    delta = err = None
    if pred is not None and gt is not None and gt > 0:
        delta = pred - gt
        err = 100.0 * abs(delta) / gt
    return {"heyn_pred_px": pred, "heyn_gt_px": gt, "delta_px": delta,
            "heyn_error_pct": err, "warnings": warns}


def heyn_error(pred_masks: Any, gt_masks: Any, **kw: Any) -> dict:
    """Heyn grain-size error of predicted boundary masks against ground truth.

    Each image is measured with the same test lines (same ``pattern``/``seed``), and the
    per-image mean intercepts are averaged over the set: ``heyn_pred_px`` and
    ``heyn_gt_px`` are **means over images of each image's ℓ̄**, over the same images
    (an image whose truth has no intersection is left out of both, with a warning; a
    prediction with none where the truth has some withholds the predicted figures). See
    :func:`summarize_heyn_rows` for when figures are withheld (``None``).

    Parameters
    ----------
    pred_masks, gt_masks : array (H, W) or sequence of arrays
        Predicted and true boundary masks, paired by position.
    **kw
        Passed to :func:`measure_intercepts` (``pattern``, ``n_lines``, ``seed``,
        ``skeletonize``, ``margin``, ...).

    Returns
    -------
    dict
        ``heyn_pred_px``, ``heyn_gt_px``, ``delta_px`` (pred - gt),
        ``heyn_error_pct`` (``100 |pred - gt| / gt``), each None when not valid,
        ``warnings``, ``n_images``, and ``per_image`` (list of :func:`compare_intercepts`
        rows: ``pred_px``, ``gt_px``, ...).
    """
    if isinstance(pred_masks, np.ndarray) and pred_masks.ndim == 2:
        pred_masks = [pred_masks]
    if isinstance(gt_masks, np.ndarray) and gt_masks.ndim == 2:
        gt_masks = [gt_masks]
    pred_masks, gt_masks = list(pred_masks), list(gt_masks)
    if len(pred_masks) != len(gt_masks):
        raise HeynError(f"{len(pred_masks)} predicted masks but {len(gt_masks)} ground-truth masks")
    if not pred_masks:
        raise HeynError("no masks given")
    rows = []
    for i, (p, g) in enumerate(zip(pred_masks, gt_masks)):
        if np.shape(p)[:2] != np.shape(g)[:2]:
            raise HeynError(f"mask pair {i}: shapes differ {np.shape(p)} vs {np.shape(g)}")
        rows.append(compare_intercepts(p, g, **kw))
    return {**summarize_heyn_rows(rows), "n_images": len(rows), "per_image": rows}
