"""Leave-scan-out cross-validation: whole scans to folds, never a scan in two folds.

Regions cut from one scan share its preparation, illumination, colours and grain
size, so a split that puts regions of one scan on both sides measures how well a
model recognises a scan it has already seen, not how it does on a new micrograph.
Here every image is assigned to a *scan* (its file name's prefix, ``SCAN-Y-X.png``)
and whole scans are distributed over the folds.

Qt-free and torch-free.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ..errors import check_number, check_seed

__all__ = ["CVError", "scan_id", "scan_folds", "fold_splits"]

PathLike = str | os.PathLike


class CVError(ValueError):
    """A cross-validation split cannot be made as asked."""


def scan_id(path: PathLike, *, pattern: str | None = None) -> str:
    """Scan a region image was cut from, read from its file name.

    Parameters
    ----------
    path : path-like
        Image path; only the file name is used. TBM regions are named
        ``SCAN-Y-X.png`` (the scan number first, then the region's offset).
    pattern : str, optional
        Regular expression whose first group (or whole match) is the scan id,
        searched in the file stem (:func:`napari_srmat.io.image_stem`, the stem images
        and masks pair by: ``s13.ome.tif`` is ``s13``). Default: everything before the
        first ``-`` (the whole stem when there is none, i.e. every such image is its
        own scan).

    Returns
    -------
    str

    Examples
    --------
    >>> scan_id("data/train/images/14-0-512.png"), scan_id("s13.ome.tif")
    ('14', 's13')
    """
    from ..io import image_stem

    stem = image_stem(path)
    if pattern is None:
        return stem.split("-", 1)[0]
    m = re.search(pattern, stem)
    if m is None:
        raise CVError(f"scan id pattern {pattern!r} does not match {Path(path).name!r}")
    return m.group(1) if m.groups() else m.group(0)


def scan_folds(paths: Sequence[PathLike], n_folds: int = 5, seed: int = 0, *,
               pattern: str | None = None) -> list[list[PathLike]]:
    """Assign whole scans to ``n_folds`` folds, balanced by image count.

    Scans are placed largest first (ties in a random order drawn from ``seed``), each
    into the fold that holds the fewest images so far (ties: fewest scans, then the
    lowest fold index); then single moves and swaps of scans between folds that make
    the fold sizes more equal are applied while there are any. The result depends
    only on the file names, their order in ``paths`` and ``seed``.

    Parameters
    ----------
    paths : sequence of path-like
        Image paths (file names give the scan, see :func:`scan_id`).
    n_folds : int
        Number of folds, an integer, 2 <= n_folds <= number of scans
        (:func:`napari_srmat.errors.check_number`: ``2.0`` is 2, ``2.7`` is refused).
    seed : int
        Seed of the tie-breaking order between scans of equal size (an integer >= 0:
        :func:`napari_srmat.errors.check_seed`).
    pattern : str, optional
        Passed to :func:`scan_id`.

    Returns
    -------
    list of lists
        ``n_folds`` folds, each the given paths of its scans in their input order.
        Every path is in exactly one fold and no scan is in two folds.

    Raises
    ------
    CVError
        Too few scans for the folds, a duplicated path, an ``n_folds`` that is not an
        integer >= 2, or a ``seed`` that is not an integer >= 0.
    """
    paths = list(paths)
    n_folds = check_number("n_folds", n_folds, lo=2, integer=True, error=CVError)
    keys = [os.fspath(p) for p in paths]
    if len(set(keys)) != len(keys):
        raise CVError("a path is given twice")
    by_scan: dict[str, list[int]] = {}
    for i, p in enumerate(paths):
        by_scan.setdefault(scan_id(p, pattern=pattern), []).append(i)
    scans = sorted(by_scan)
    if len(scans) < n_folds:
        raise CVError(f"{len(scans)} scan(s) cannot fill {n_folds} folds (a scan is never "
                      "split between folds)")
    rng = np.random.default_rng(check_seed(seed, error=CVError))
    tiebreak = {s: int(r) for s, r in zip(scans, rng.permutation(len(scans)))}
    order = sorted(scans, key=lambda s: (-len(by_scan[s]), tiebreak[s]))
    sizes = [0] * n_folds
    n_scans = [0] * n_folds
    members: list[list[int]] = [[] for _ in range(n_folds)]
    assign: dict[str, int] = {}
    for s in order:
        k = min(range(n_folds), key=lambda f: (sizes[f], n_scans[f], f))
        assign[s] = k
        sizes[k] += len(by_scan[s])
        n_scans[k] += 1
    _rebalance(assign, {s: len(v) for s, v in by_scan.items()}, order, n_folds)
    for s in order:
        members[assign[s]].extend(by_scan[s])
    return [[paths[i] for i in sorted(m)] for m in members]


def _rebalance(assign: dict[str, int], size: dict[str, int], order: list[str],
               n_folds: int) -> None:
    """Improve a greedy assignment by moves and swaps of scans (in place, deterministic).

    Each round applies the single move or swap that lowers the sum of squared fold
    sizes most (first found in ``order`` on ties), keeping every fold non-empty.
    """
    def totals() -> tuple[list[int], list[int]]:
        t, c = [0] * n_folds, [0] * n_folds
        for s, k in assign.items():
            t[k] += size[s]
            c[k] += 1
        return t, c

    for _ in range(10 * len(order)):
        t, c = totals()
        best_gain, best = 0, None
        for s in order:
            a = assign[s]
            for b in range(n_folds):
                if b == a:
                    continue
                if c[a] > 1:  # move s: a -> b
                    d = size[s]
                    gain = t[a] ** 2 + t[b] ** 2 - (t[a] - d) ** 2 - (t[b] + d) ** 2
                    if gain > best_gain:
                        best_gain, best = gain, ((s, b),)
                for u in order:  # swap s (in a) with u (in b)
                    if assign[u] != b:
                        continue
                    d = size[s] - size[u]
                    gain = t[a] ** 2 + t[b] ** 2 - (t[a] - d) ** 2 - (t[b] + d) ** 2
                    if gain > best_gain:
                        best_gain, best = gain, ((s, b), (u, a))
        if best is None:
            return
        for s, k in best:
            assign[s] = k


def fold_splits(folds: Sequence[Sequence[PathLike]]
                ) -> Iterator[tuple[int, list[PathLike], list[PathLike]]]:
    """``(k, train, held_out)`` for every fold ``k``: train = all other folds' paths."""
    for k, held in enumerate(folds):
        train = [p for j, f in enumerate(folds) if j != k for p in f]
        yield k, list(train), list(held)
