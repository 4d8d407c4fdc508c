"""Reference (slow, obviously correct) Heyn rasteriser and run counter: the test oracle
of the fast flat-index path in :mod:`napari_srmat.metrics.heyn` (moved out of the
library, which uses only the fast path)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from napari_srmat.metrics.heyn import (
    BOUNDARY_DIRECTION_RADIUS_PX,
    GRAIN_WINDOW_RADIUS,
    MAX_GRAIN_WINDOW_RADIUS,
    MAX_HUG_GAP_PX,
    PASSAGE_CORRIDOR_RADIUS_PX,
    PASSAGE_MAX_ANGLE_DEG,
    PATH_DIRECTION_HALF_PX,
    RETURN_CROSSES,
    _bridged,
    _merge_runs,
    _supercover,
)


def _raster_segments(a: np.ndarray, b: np.ndarray):
    """Pixel paths of :func:`_supercover` as (row, col) coordinates.

    Returns
    -------
    rows, cols, seg_index : int arrays in path order.
    """
    R0, C0, R1, C1, sr, sc, npix, offs, col_at, _ = _supercover(a, b)
    total = int(npix.sum())
    nseg = len(a)
    idt = (
        np.int64
        if total >= 2**31 - 1 or max(np.abs(R0).max(), np.abs(C0).max()) > 2**30
        else np.int32
    )
    # step taken to reach each pixel: a column step at column-border events, else a
    # row step; the first pixel of each segment jumps from the previous segment's end
    is_col = np.zeros(total, bool)
    is_col[col_at] = True
    dr = np.repeat(sr.astype(idt), npix)
    dr[is_col] = 0
    dc = np.repeat(sc.astype(idt), npix)
    dc[~is_col] = 0
    prev_r = np.concatenate([[0], R1[:-1]])
    prev_c = np.concatenate([[0], C1[:-1]])
    dr[offs] = R0 - prev_r
    dc[offs] = C0 - prev_c
    ri = np.cumsum(dr, dtype=idt)
    ci = np.cumsum(dc, dtype=idt)
    seg = np.repeat(np.arange(nseg, dtype=idt), npix)
    return ri, ci, seg


def rasterize_paths(
    paths: Sequence[np.ndarray], shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ordered 4-connected pixels of polylines, clipped to the image.

    Parameters
    ----------
    paths : list of (K, 2) arrays
        Polyline vertices ``(row, col)``.
    shape : (int, int)
        Image shape; pixels outside are dropped.

    Returns
    -------
    rows, cols, path_index : int arrays
        Pixels in order along each path (paths concatenated in order). A pixel shared
        by two consecutive segments of a polyline appears once.
    """
    if not paths:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    counts = np.array([len(p) - 1 for p in paths])
    verts = np.concatenate([np.asarray(p, float) for p in paths])
    # segment i of path j: verts[off_j + i] -> verts[off_j + i + 1]
    offs = np.cumsum([len(p) for p in paths]) - np.array([len(p) for p in paths])
    first = np.repeat(offs, counts) + (
        np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    )
    a, b = verts[first], verts[first + 1]
    seg_path = np.repeat(np.arange(len(paths)), counts)
    ri, ci, seg = _raster_segments(a, b)
    pid = seg_path[seg]
    # drop pixels repeated at segment joins (same path, same pixel as previous)
    keep = np.ones(ri.size, bool)
    keep[1:] = ~((pid[1:] == pid[:-1]) & (ri[1:] == ri[:-1]) & (ci[1:] == ci[:-1]))
    # clip to image
    h, w = shape
    keep &= (ri >= 0) & (ri < h) & (ci >= 0) & (ci < w)
    return ri[keep], ci[keep], pid[keep]


def _in_third_grain(mask: np.ndarray, gap, before, after) -> bool:
    """The third-grain rule from its definition, one pair of runs at a time.

    ``gap``, ``before``, ``after``: ``(row, col)`` of the first pixel between the two
    runs and of the path's pixels before the first and after the second (None: the
    path ends there, the rule does not apply). Flood-fills the 4-connected background
    around ``gap`` inside the square window centred on it that reaches
    ``GRAIN_WINDOW_RADIUS`` px, or ``before`` and ``after`` where they are farther (up
    to ``MAX_GRAIN_WINDOW_RADIUS``, else the rule does not apply); the runs are kept
    apart when neither ``before`` nor ``after`` is reached.
    """
    if before is None or after is None:
        return False
    reach = max(GRAIN_WINDOW_RADIUS, *(max(abs(p[0] - gap[0]), abs(p[1] - gap[1]))
                                       for p in (before, after)))
    if reach > MAX_GRAIN_WINDOW_RADIUS:
        return False
    h, w = mask.shape
    r0, r1 = max(gap[0] - reach, 0), min(gap[0] + reach, h - 1)
    c0, c1 = max(gap[1] - reach, 0), min(gap[1] + reach, w - 1)
    seen = {tuple(gap)}
    todo = [tuple(gap)]
    while todo:
        r, c = todo.pop()
        for q in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if (q not in seen and r0 <= q[0] <= r1 and c0 <= q[1] <= c1
                    and not mask[q]):
                seen.add(q)
                todo.append(q)
    return tuple(before) not in seen and tuple(after) not in seen


def _grain_within(mask: np.ndarray, seed, inside) -> set:
    """The 4-connected background pixels ``q`` with ``inside(q)`` that ``seed`` reaches."""
    seen = {tuple(seed)}
    todo = [tuple(seed)]
    while todo:
        r, c = todo.pop()
        for q in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if q not in seen and inside(q) and not mask[q]:
                seen.add(q)
                todo.append(q)
    return seen


def _corridor(mask: np.ndarray, rows, cols, lo: int, hi: int) -> set:
    """The pixels of ``mask`` within ``PASSAGE_CORRIDOR_RADIUS_PX`` (Chebyshev) of the
    path's pixels ``lo`` to ``hi`` (both included): a long passage's corridor."""
    h, w = mask.shape
    k = PASSAGE_CORRIDOR_RADIUS_PX
    return {(int(rows[i]) + dr, int(cols[i]) + dc) for i in range(lo, hi + 1)
            for dr in range(-k, k + 1) for dc in range(-k, k + 1)
            if 0 <= rows[i] + dr < h and 0 <= cols[i] + dc < w}


def _along_boundary(mask, rows, cols, pid, i) -> bool:
    """Whether the path runs along the boundary at its pixel ``i``: the angle between
    the chord of the path from ``PATH_DIRECTION_HALF_PX`` pixels before ``i`` to as many
    after (within its path) and the principal axis of the boundary pixels in the window
    of ``BOUNDARY_DIRECTION_RADIUS_PX`` around it that are 8-connected to it within the
    window (the touched boundary's own pixels) is at most ``PASSAGE_MAX_ANGLE_DEG``."""
    if PASSAGE_MAX_ANGLE_DEG is None:
        return True
    same = np.flatnonzero(pid == pid[i])
    a = max(i - PATH_DIRECTION_HALF_PX, int(same[0]))
    b = min(i + PATH_DIRECTION_HALF_PX, int(same[-1]))
    u = np.array([rows[b] - rows[a], cols[b] - cols[a]], float)
    u /= max(float(np.hypot(*u)), 1e-9)
    k = BOUNDARY_DIRECTION_RADIUS_PX
    on = {(dr, dc) for dr in range(-k, k + 1) for dc in range(-k, k + 1)
          if 0 <= rows[i] + dr < mask.shape[0] and 0 <= cols[i] + dc < mask.shape[1]
          and mask[rows[i] + dr, cols[i] + dc]}
    todo = [(0, 0)]
    seen = {(0, 0)}
    while todo:  # flood the window's boundary pixels from the touch, 8-connected
        r, c = todo.pop()
        for q in ((r + dr, c + dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)):
            if q in on and q not in seen:
                seen.add(q)
                todo.append(q)
    pts = np.array(sorted(seen if (0, 0) in on else on), float).reshape(-1, 2)
    cov = np.cov(pts.T, bias=True) if len(pts) > 1 else np.zeros((2, 2))
    # principal axis: the angle phi from the row axis that maximises the variance
    phi = 0.5 * np.arctan2(2 * cov[0, 1], cov[0, 0] - cov[1, 1])
    return abs(np.cos(phi) * u[1] - np.sin(phi) * u[0]) <= np.sin(np.radians(PASSAGE_MAX_ANGLE_DEG))


def _near(mask, rows, cols, i) -> bool:
    """Whether the path's pixel ``i`` has a boundary pixel among its 8 neighbours."""
    h, w = mask.shape
    r, c = int(rows[i]), int(cols[i])
    return any(mask[r + dr, c + dc] for dr in (-1, 0, 1) for dc in (-1, 0, 1)
               if (dr or dc) and 0 <= r + dr < h and 0 <= c + dc < w)


def _passage_joins(mask, rows, cols, pid, starts, ends, run_pid,
                   tilted) -> tuple[np.ndarray, np.ndarray]:
    """The passage rule from its definition, passage by passage: consecutive runs of a
    tilted path whose pixels between them all have a boundary 8-neighbour (at most
    ``MAX_HUG_GAP_PX`` of them), along which the path runs along the boundary at both
    touches (:func:`_along_boundary`), joined by the boundary pixels on or next to the path
    between them, are one passage; a run of it that leads into a grain
    of the passage's window not visited before is a crossing of its own, the first such
    run takes the runs before it, the others join the run before them, except the last
    run of a passage that visited a new grain and ends in the grain it came from
    (``RETURN_CROSSES``: it crossed back). A passage whose window would reach beyond
    ``MAX_GRAIN_WINDOW_RADIUS`` takes its grains from its corridor (:func:`_corridor`)
    instead. Also returns, per pair of consecutive runs, whether they are of one passage
    that visits at most two grains (the two sides of one boundary)."""
    h, w = mask.shape
    m = rows.size

    def near(i):
        return _near(mask, rows, cols, i)

    def one_boundary(k):
        # the boundary pixels on or 8-adjacent to the path from run k's end to run
        # k + 1's start join the two, 8-connected
        near_px = {(int(rows[i]) + dr, int(cols[i]) + dc)
                   for i in range(ends[k], starts[k + 1] + 1)
                   for dr in (-1, 0, 1) for dc in (-1, 0, 1)}
        near_px = {q for q in near_px if 0 <= q[0] < h and 0 <= q[1] < w and mask[q]}
        goal = (int(rows[starts[k + 1]]), int(cols[starts[k + 1]]))
        todo = [(int(rows[ends[k]]), int(cols[ends[k]]))]
        seen = set(todo)
        while todo:
            r, c = todo.pop()
            for q in ((r + dr, c + dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)):
                if q in near_px and q not in seen:
                    seen.add(q)
                    todo.append(q)
        return goal in seen

    n = starts.size
    link = [bool(run_pid[k] == run_pid[k + 1] and (tilted is None or tilted[run_pid[k]])
                 and starts[k + 1] - ends[k] - 1 <= MAX_HUG_GAP_PX
                 and all(near(i) for i in range(ends[k] + 1, starts[k + 1]))
                 and _along_boundary(mask, rows, cols, pid, ends[k])
                 and _along_boundary(mask, rows, cols, pid, starts[k + 1])
                 and one_boundary(k))
            for k in range(n - 1)]
    merge = np.zeros(max(n - 1, 0), bool)
    two_sided = np.zeros(max(n - 1, 0), bool)
    k = 0
    while k < n - 1:
        if not link[k]:
            k += 1
            continue
        f = k
        while k < n - 1 and link[k]:
            k += 1
        last = k  # runs f..last form a passage
        on_path = [i if 0 <= i < m and pid[i] == run_pid[f] else None
                   for i in [starts[f] - 1] + [ends[j] + 1 for j in range(f, last + 1)]]
        centre = (starts[f] + ends[last]) // 2
        cr, cc = int(rows[centre]), int(cols[centre])
        reach = max([GRAIN_WINDOW_RADIUS] + [max(abs(int(rows[i]) - cr), abs(int(cols[i]) - cc))
                                             for i in on_path if i is not None])
        if reach > MAX_GRAIN_WINDOW_RADIUS:  # a corridor along the path, not the window
            same = np.flatnonzero(pid == run_pid[f])
            band = _corridor(mask, rows, cols, max(starts[f] - 1, int(same[0])),
                             min(ends[last] + 1, int(same[-1])))
            inside = band.__contains__
        else:
            box = (max(cr - reach, 0), min(cr + reach, h - 1), max(cc - reach, 0),
                   min(cc + reach, w - 1))

            def inside(q, box=box):
                return box[0] <= q[0] <= box[1] and box[2] <= q[1] <= box[3]
        grains = []  # the grains visited so far
        new = []
        for j, i in enumerate(on_path):
            px = None if i is None else (int(rows[i]), int(cols[i]))
            fresh = px is None or not any(px in g for g in grains)
            if px is not None and fresh:
                grains.append(_grain_within(mask, px, inside))
            if j:
                new.append(fresh)
        start, end = on_path[0], on_path[-1]
        back = (RETURN_CROSSES and start is not None and end is not None and any(new)
                and (int(rows[end]), int(cols[end])) in grains[0])
        crossed = False
        for j in range(1, last - f + 1):  # run f + j joins run f + j - 1
            crossed |= new[j - 1]
            merge[f + j - 1] = (not new[j] or not crossed) and not (back and j == last - f)
        two_sided[f:last] = len(grains) <= 2
    return merge, two_sided


def _lying_along(mask, rows, cols, pid, starts, ends, run_pid, p, longest_gap, grains) -> bool:
    """Whether path ``p`` (open, tilted, its runs one passage of at most two grains) lies
    along one boundary from end to end: its pixels before its first run and after its
    last are no more than ``longest_gap`` (the longest stretch between two of its runs
    before any were joined) and every one has a boundary 8-neighbour, and the path runs
    along the boundary at both (:func:`_along_boundary`), and its pixels off the boundary
    lie in at most two grains of the whole mask (``grains()``: its 4-connected
    background components, labelled once; the counter labels a corridor instead)."""
    runs = np.flatnonzero(run_pid == p)
    idx = np.flatnonzero(pid == p)
    if not runs.size:
        return False
    f, la = int(runs[0]), int(runs[-1])
    before = range(int(idx[0]), starts[f])
    after = range(ends[la] + 1, int(idx[-1]) + 1)
    return (max(len(before), len(after)) <= longest_gap
            and all(_near(mask, rows, cols, i) for i in [*before, *after])
            and _along_boundary(mask, rows, cols, pid, starts[f])
            and _along_boundary(mask, rows, cols, pid, ends[la])
            and np.unique(grains()[rows[idx], cols[idx]][~mask[rows[idx], cols[idx]]]).size <= 2)


def _count_runs(
    mask: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    pid: np.ndarray,
    n_paths: int,
    closed: np.ndarray,
    tilted: np.ndarray | None = None,
):
    """Runs of boundary pixels per path.

    On tilted (not axis-parallel) paths, two runs separated by at most two
    non-boundary pixels are one run when their facing end pixels are 8-connected
    through the boundary with at most one pixel in between: the digital line only
    zig-zagged along the staircase of the same boundary (without this, a tilted line
    crossing a shallow one-pixel boundary is counted several times), unless the pixel
    between them lies in a third grain (:func:`_in_third_grain`: the line cut a grain's
    corner at a triple point, two crossings). Axis-parallel
    paths have no such aliasing and are counted as they are. On a closed path a run
    through the first and last pixel counts once.

    Returns
    -------
    counts, run_start_idx, run_end_idx, run_path
    """
    v = mask[rows, cols]
    m = v.size
    if m == 0:
        z = np.zeros(0, np.int64)
        return np.zeros(n_paths, np.int64), z, z, z
    new_path = np.ones(m, bool)
    new_path[1:] = pid[1:] != pid[:-1]
    end_path = np.ones(m, bool)
    end_path[:-1] = pid[1:] != pid[:-1]
    prev = np.zeros(m, bool)
    prev[1:] = v[:-1]
    prev[new_path] = False
    nxt = np.zeros(m, bool)
    nxt[:-1] = v[1:]
    nxt[end_path] = False
    starts = np.flatnonzero(v & ~prev)
    ends = np.flatnonzero(v & ~nxt)  # aligned with starts, run by run
    run_pid = pid[starts]
    longest_gap = [max([int(starts[k + 1] - ends[k] - 1) for k in range(starts.size - 1)
                        if run_pid[k] == run_pid[k + 1] == p], default=0)
                   for p in range(n_paths)]
    if starts.size > 1:
        e, s2 = ends[:-1], starts[1:]
        cand = (run_pid[1:] == run_pid[:-1]) & (s2 - e <= 3)
        if tilted is not None:
            cand &= tilted[run_pid[1:]]
        merge = cand & _bridged(mask, rows[e], cols[e], rows[s2], cols[s2])
        # not across the corner of a third grain: the pixels before, between and after
        for k in np.flatnonzero(merge):
            b, a = starts[k] - 1, ends[k + 1] + 1
            rc = [(int(rows[i]), int(cols[i])) if 0 <= i < m and pid[i] == run_pid[k]
                  else None for i in (b, e[k] + 1, a)]
            merge[k] = not _in_third_grain(mask, rc[1], rc[0], rc[2])
        no_split = np.zeros(starts.size, bool)  # the reference does not classify runs
        starts, ends, run_pid, no_split = _merge_runs(starts, ends, run_pid, merge, no_split)
        merge, two = _passage_joins(mask, rows, cols, pid, starts, ends, run_pid, tilted)
        apart = {int(run_pid[k]) for k in range(two.size)
                 if run_pid[k] == run_pid[k + 1] and not two[k]}
        starts, ends, run_pid, _ = _merge_runs(starts, ends, run_pid, merge, no_split)
    else:
        apart = set()
    # a line lying along one boundary from end to end: one run holding both its ends
    labels: list = []

    def grains():
        if not labels:
            from scipy import ndimage

            labels.append(ndimage.label(~mask)[0])
        return labels[0]

    for p in range(n_paths):
        if (tilted is not None and tilted[p] and not closed[p] and p not in apart
                and _lying_along(mask, rows, cols, pid, starts, ends, run_pid, p,
                                 longest_gap[p], grains)):
            runs = np.flatnonzero(run_pid == p)
            idx = np.flatnonzero(pid == p)
            keep = ~np.isin(np.arange(starts.size), runs[1:])
            starts, ends, run_pid = starts[keep], ends[keep], run_pid[keep]
            starts[runs[0]], ends[runs[0]] = idx[0], idx[-1]
    counts = np.bincount(run_pid, minlength=n_paths).astype(np.int64)
    if np.any(closed):
        first_idx = np.flatnonzero(new_path)
        last_idx = np.flatnonzero(end_path)
        p_of = pid[first_idx]
        wrap = closed[p_of] & v[first_idx] & v[last_idx] & (counts[p_of] > 1)
        if np.any(wrap):
            counts[p_of[wrap]] -= 1
            # the first run continues the last one: drop it (starts/ends stay aligned)
            keep = ~np.isin(starts, first_idx[wrap])
            starts, ends, run_pid = starts[keep], ends[keep], run_pid[keep]
    return counts, starts, ends, run_pid
