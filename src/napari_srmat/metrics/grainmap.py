"""Grain maps: from boundary masks to labelled grains and back, twins, triple points.

The standards' counting rules (:mod:`napari_srmat.metrics.planimetric`,
:mod:`napari_srmat.metrics.heyn`) need to know *which grain* a pixel belongs to, not only
where boundaries are. This module holds the one definition of a grain used everywhere:

* :func:`grains_from_boundaries` -- grains are the 4-connected components of the
  non-boundary pixels (an 8-connected one-pixel boundary separates 4-connected regions).
  Components smaller than ``min_grain_px`` are specks inside thick boundaries, not
  grains, and are treated as boundary. The boundary pixels are then **shared out to the
  nearest grain** (Euclidean distance transform, the rule of
  ``skimage.segmentation.expand_labels`` without a distance limit), so the grain areas
  tile the image and sum to the measured area: a one-pixel boundary is split between the
  two grains it separates.
* :func:`grains_from_labels` -- a user label map (0 = unassigned) is split into
  connected pieces (one label drawn as two separate regions is two grain sections) and
  its unassigned pixels are shared out the same way.
* :func:`boundaries_from_labels` -- a one-pixel boundary mask of a label map.
* :func:`merge_twins` -- annealing-twin boundaries are not grain boundaries (ASTM E112
  counts twinned grains as one grain): regions separated mainly by twin-mask pixels are
  merged (see the function for the rule).
* :func:`triple_point_runs` -- whether a boundary crossing of a test line lies at a
  junction of three or more grains.

Everything is Qt-free and works on NumPy arrays ``(H, W)``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..io import MaskError, as_bool_mask

__all__ = [
    "MIN_GRAIN_PX",
    "TWIN_MERGE_FRACTION",
    "TWIN_MIN_INTERFACE_PX",
    "GrainMapError",
    "TwinMerge",
    "as_label_map",
    "grains_from_boundaries",
    "grains_from_labels",
    "share_out",
    "boundaries_from_labels",
    "merge_twins",
    "triple_point_runs",
]

#: Non-boundary components smaller than this (px) are specks inside a thick boundary,
#: not grains: they are treated as boundary and shared out to the neighbours.
MIN_GRAIN_PX = 5

#: Two regions are one twinned grain when more than this fraction of the pixel pairs
#: along their common interface lie on the twin mask.
TWIN_MERGE_FRACTION = 0.5

#: ... and when that twin interface is at least this long (4-adjacent pixel pairs):
#: two regions that only touch where a twin trace crosses a grain boundary are not
#: merged.
TWIN_MIN_INTERFACE_PX = 2


class GrainMapError(MaskError):
    """Bad input to a grain-map operation (shape, dtype, mismatched masks)."""


# ---------------------------------------------------------------- conversions
def as_label_map(labels: Any, *, name: str = "labels") -> np.ndarray:
    """A 2-D integer label map (``int64``); 0 means unassigned."""
    if hasattr(labels, "compute") and not isinstance(labels, np.ndarray):
        labels = labels.compute()
    lab = np.asarray(labels)
    if lab.ndim != 2:
        raise GrainMapError(f"{name} must be 2-D (H, W), got shape {lab.shape}")
    if lab.dtype == bool or not np.issubdtype(lab.dtype, np.integer):
        raise GrainMapError(f"{name} must be an integer label map, got dtype {lab.dtype}")
    if lab.size and lab.min() < 0:
        raise GrainMapError(f"{name} has negative labels")
    return lab.astype(np.int64, copy=False)


# ------------------------------------------------------------------- labelling
def share_out(labels: np.ndarray) -> np.ndarray:
    """Give every unassigned (0) pixel the label of the nearest labelled pixel.

    The nearest pixel is found with the exact Euclidean distance transform; ties (a
    one-pixel boundary is equidistant from both grains) go to one side consistently, so
    on average each grain receives half of its boundary.

    Parameters
    ----------
    labels : ndarray of int (H, W)
        0 = unassigned.

    Returns
    -------
    ndarray of int
        Same shape, no zeros unless ``labels`` is all zero.

    Examples
    --------
    >>> lab = np.array([[1, 0, 0, 2]])
    >>> share_out(lab).tolist()
    [[1, 1, 2, 2]]
    """
    from scipy import ndimage as ndi

    lab = np.asarray(labels)
    zero = lab == 0
    if not zero.any() or zero.all():
        return lab.copy()
    idx = ndi.distance_transform_edt(zero, return_distances=False, return_indices=True)
    return lab[tuple(idx)]


def _relabel_sequential(lab: np.ndarray) -> np.ndarray:
    """Labels 1..n in order of first appearance of their value (0 stays 0)."""
    uniq, inv = np.unique(lab, return_inverse=True)
    inv = inv.reshape(lab.shape)
    if uniq.size and uniq[0] == 0:
        return inv.astype(np.int64)
    return (inv + 1).astype(np.int64)


def _drop_small(lab: np.ndarray, min_grain_px: int) -> np.ndarray:
    if min_grain_px <= 1:
        return lab
    sizes = np.bincount(lab.ravel())
    small = sizes < min_grain_px
    small[0] = False
    if small.any():
        lab = np.where(small[lab], 0, lab)
        lab = _relabel_sequential(lab)
    return lab


def grains_from_boundaries(
    boundaries: Any, *, min_grain_px: int = MIN_GRAIN_PX, share: bool = True
) -> np.ndarray:
    """Grain label map of a boundary mask.

    Grains are the 4-connected components of the non-boundary pixels; components of
    fewer than ``min_grain_px`` pixels are treated as boundary. With ``share=True`` the
    boundary pixels are then given to the nearest grain (:func:`share_out`).

    Parameters
    ----------
    boundaries : array (H, W)
        Boundary mask (bool, 0/1 or 0/255).
    min_grain_px : int
        Smallest grain kept (pixels, before sharing out).
    share : bool
        Share the boundary pixels out (default) or leave them 0.

    Returns
    -------
    ndarray of int64 (H, W)
        Labels ``1..n``.

    Examples
    --------
    A vertical one-pixel line splits a 6 x 6 image into two grains; the line's pixels
    go to one of them:

    >>> m = np.zeros((6, 6), bool); m[:, 2] = True
    >>> lab = grains_from_boundaries(m, min_grain_px=1)
    >>> int(lab.max()), sorted(np.bincount(lab.ravel())[1:].tolist())
    (2, [18, 18])
    """
    from scipy import ndimage as ndi

    b = as_bool_mask(boundaries, name="boundary mask")
    lab, _ = ndi.label(~b)  # default structure: 4-connectivity
    lab = _drop_small(lab.astype(np.int64), int(min_grain_px))
    return share_out(lab) if share else lab


def grains_from_labels(
    labels: Any, *, min_grain_px: int = 1, share: bool = True
) -> np.ndarray:
    """Connected grain sections of a label map, renumbered ``1..n``.

    Each label is split into its 4-connected pieces (a label drawn as two separate
    regions is two grain sections in the plane of polish); pixels labelled 0 are
    unassigned and shared out to the nearest grain with ``share=True``.

    Parameters
    ----------
    labels : array of int (H, W)
        Label map, 0 = unassigned (boundary).
    min_grain_px : int
        Pieces smaller than this are set to 0 (then shared out).
    share : bool
        Share out unassigned pixels.

    Returns
    -------
    ndarray of int64

    Examples
    --------
    >>> lab = np.array([[1, 1, 2, 1]])
    >>> grains_from_labels(lab).tolist()
    [[1, 1, 2, 3]]
    """
    from skimage.measure import label as cc_label

    lab = as_label_map(labels)
    pieces = cc_label(lab, background=0, connectivity=1).astype(np.int64)
    pieces = _drop_small(pieces, int(min_grain_px))
    return share_out(pieces) if share else pieces


def boundaries_from_labels(labels: Any) -> np.ndarray:
    """One-pixel boundary mask of a label map.

    A pixel is boundary when its right or lower neighbour has another label. The marks
    lie on one side of each interface, 4-adjacent non-boundary pixels always share a
    label, so :func:`grains_from_boundaries` recovers the grains (minus the boundary
    pixels, which it shares out again).

    Parameters
    ----------
    labels : array of int (H, W)

    Returns
    -------
    ndarray of bool

    Examples
    --------
    >>> boundaries_from_labels(np.array([[1, 1, 2, 2]])).astype(int).tolist()
    [[0, 1, 0, 0]]
    """
    lab = np.asarray(labels)
    if lab.ndim != 2:
        raise GrainMapError(f"labels must be 2-D (H, W), got shape {lab.shape}")
    b = np.zeros(lab.shape, bool)
    b[:, :-1] |= lab[:, :-1] != lab[:, 1:]
    b[:-1, :] |= lab[:-1, :] != lab[1:, :]
    return b


# ----------------------------------------------------------------------- twins
class TwinMerge(NamedTuple):
    """Result of :func:`merge_twins`."""

    labels: np.ndarray  #: grain labels after merging twinned regions (1..n, shared out)
    boundaries: np.ndarray  #: boundary mask without the twin-only pixels
    n_merged: int  #: regions merged away (number of twin interfaces removed)


def _interfaces(lab: np.ndarray, twin: np.ndarray, grain_bnd: np.ndarray):
    """Label pairs of all 4-adjacent pixel pairs with different labels, and their votes.

    A pair votes "twin" (+1) when one of its pixels is on the twin mask and neither is a
    grain-boundary pixel off the twin mask, "grain boundary" (-1) when one is such a
    grain-boundary pixel and neither is on the twin mask, and abstains (0) when it
    touches both (where a twin trace meets a grain boundary). A twin trace running
    alongside a grain boundary does not make that boundary a twin.
    """
    pairs = []
    votes = []
    for sa, sb in (
        ((slice(None), slice(None, -1)), (slice(None), slice(1, None))),
        ((slice(None, -1), slice(None)), (slice(1, None), slice(None))),
    ):
        a, b = lab[sa], lab[sb]
        d = a != b
        lo = np.minimum(a[d], b[d])
        hi = np.maximum(a[d], b[d])
        pairs.append(np.column_stack([lo, hi]))
        tw = twin[sa][d] | twin[sb][d]
        gb = grain_bnd[sa][d] | grain_bnd[sb][d]
        votes.append(tw.astype(np.int8) - gb.astype(np.int8))
    return np.concatenate(pairs), np.concatenate(votes)


def merge_twins(
    grains: np.ndarray,
    twins: Any,
    *,
    boundaries: Any = None,
    merge_fraction: float = TWIN_MERGE_FRACTION,
    min_interface_px: int = TWIN_MIN_INTERFACE_PX,
) -> TwinMerge:
    """Merge regions separated by annealing-twin boundaries into one grain.

    Rule: along the interface of two regions of the shared-out grain map, each pair of
    4-adjacent pixels votes "twin" when it touches the twin mask's centre line (its
    skeleton, widened by one pixel) and no other boundary pixel, "grain boundary" when it
    touches a boundary pixel off that line and not the line, and abstains when it
    touches both (where a twin meets a grain boundary). The regions are one twinned
    grain when at least ``min_interface_px`` pairs vote twin and they are more than
    ``merge_fraction`` of the votes. The two halves of a twinned grain are separated by
    twin pixels along their whole interface, whereas a twin that ends on a grain
    boundary, or runs alongside one, leaves the neighbours' interface voting "grain".

    Measured on synthetic structures (``tests/test_standards.py``, docs/standards.md):
    one-pixel twin traces inside grains are merged exactly; a twin mask painted 3 px
    wide over the traces loses at most one grain in 150, 5 px wide up to 3 in 150.

    Parameters
    ----------
    grains : ndarray of int (H, W)
        Shared-out grain map, e.g. :func:`grains_from_boundaries` of the boundary mask
        *with* the twin traces drawn in (``boundaries | twins``).
    twins : array (H, W)
        Twin-boundary mask (painted traces may be a few pixels wide).
    boundaries : array (H, W), optional
        The boundary mask; returned without its twin-only pixels. Default:
        :func:`boundaries_from_labels` of ``grains`` ORed with ``twins``.
    merge_fraction, min_interface_px
        See the rule.

    Returns
    -------
    TwinMerge
        ``labels`` (merged, renumbered ``1..n``), ``boundaries`` (the mask without the
        twin pixels, except where the twin mask covered part of a grain boundary: there
        the twin pixels on the one-pixel interface of the merged grains are kept, so the
        boundary stays closed) and ``n_merged``.

    Examples
    --------
    A grain cut in two by a twin line is one grain again:

    >>> b = np.zeros((20, 20), bool); b[:, 9] = True   # a grain boundary
    >>> t = np.zeros((20, 20), bool); t[10, :9] = True  # a twin in the left grain
    >>> g = grains_from_boundaries(b | t)
    >>> int(g.max()), int(merge_twins(g, t, boundaries=b | t).labels.max())
    (3, 2)
    """
    from scipy import ndimage as ndi
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    lab = np.asarray(grains)
    tw = as_bool_mask(twins, name="twin mask", shape=lab.shape)
    if boundaries is None:
        bnd = boundaries_from_labels(lab) | tw
    else:
        bnd = as_bool_mask(boundaries, name="boundary mask", shape=lab.shape)
    n_lab = int(lab.max(initial=0))
    if not tw.any() or n_lab < 2:
        return TwinMerge(_relabel_sequential(lab), bnd.copy(), 0)
    from skimage.morphology import skeletonize

    # votes look at the twin's centre line (within one pixel): a painted twin mask also
    # covers the ends of the grain boundaries it touches, which still vote "grain"
    axis = ndi.binary_dilation(skeletonize(tw), structure=np.ones((3, 3), bool)) & tw
    pairs, votes = _interfaces(lab, axis, (bnd | tw) & ~axis)
    if pairs.size == 0:
        return TwinMerge(_relabel_sequential(lab), bnd.copy(), 0)
    key = pairs[:, 0] * (n_lab + 1) + pairs[:, 1]
    uniq, inv = np.unique(key, return_inverse=True)
    twin_n = np.bincount(inv, weights=votes == 1)
    grain_n = np.bincount(inv, weights=votes == -1)
    merge = (twin_n > merge_fraction * (twin_n + grain_n)) & (twin_n >= min_interface_px)
    a, b = np.divmod(uniq[merge], n_lab + 1)
    graph = coo_matrix((np.ones(a.size), (a, b)), shape=(n_lab + 1, n_lab + 1))
    n_comp, comp = connected_components(graph, directed=False)
    merged = comp[lab]
    merged = _relabel_sequential(merged)
    n_merged = int(np.unique(lab).size - np.unique(merged).size)
    # twin pixels leave the boundary mask; where a twin mask overlapping a grain boundary
    # opens a gap in it (a region of the remaining mask spans two merged grains), the
    # twin pixels on the one-pixel interface of the merged grains close it again
    base = bnd & ~tw
    comp, n_comp_px = ndi.label(~base)
    interior = ~(bnd | tw)
    pairs = np.unique(np.column_stack([comp[interior], merged[interior]]), axis=0)
    leaky = np.zeros(n_comp_px + 1, bool)
    leaky[pairs[:, 0]] = np.bincount(pairs[:, 0], minlength=n_comp_px + 1)[pairs[:, 0]] > 1
    keep_twin = tw & boundaries_from_labels(merged) & leaky[comp]
    return TwinMerge(merged, base | keep_twin, n_merged)


# ----------------------------------------------------------------- triple points
def triple_point_runs(
    mask: np.ndarray, rows: np.ndarray, cols: np.ndarray, run_len: np.ndarray,
    *, max_radius: int = 8,
) -> np.ndarray:
    """Whether boundary crossings lie at a junction of three or more grains.

    For a crossing centred at ``(row, col)`` whose run of boundary pixels along the test
    line is ``run_len`` pixels long, a square window of radius
    ``r = min(run_len // 2 + 1, max_radius)`` (the smallest that reaches the grains on
    both sides of the run) is cut out of the mask. The
    crossing is at a triple point when the non-boundary pixels of the window form three
    or more 4-connected regions that reach the window's border (grains; specks inside a
    thick boundary do not reach the border). A crossing of a plain boundary sees two.

    Parameters
    ----------
    mask : ndarray of bool (H, W)
        Boundary mask.
    rows, cols : int arrays (K,)
        Centre pixel of each crossing.
    run_len : int array (K,)
        Boundary pixels of each crossing along its test line.
    max_radius : int
        Largest window radius.

    Returns
    -------
    ndarray of bool (K,)

    Examples
    --------
    Three sectors meeting at the centre: the crossing at the centre is a triple point,
    one on a single boundary is not.

    >>> yy, xx = np.mgrid[:41, :41]
    >>> ang = np.degrees(np.arctan2(20 - yy, xx - 20)) % 360
    >>> from napari_srmat.metrics.grainmap import boundaries_from_labels
    >>> m = boundaries_from_labels(((ang + 30) // 120).astype(int))
    >>> triple_point_runs(m, np.array([20, 5]), np.array([20, 20]), np.array([1, 1])).tolist()
    [True, False]
    """
    from scipy import ndimage as ndi

    rows = np.asarray(rows, np.int64)
    cols = np.asarray(cols, np.int64)
    out = np.zeros(rows.size, bool)
    if rows.size == 0:
        return out
    H, W = mask.shape
    radius = np.clip(np.asarray(run_len, np.int64) // 2 + 1, 1, max_radius)
    structure = np.zeros((3, 3, 3), bool)
    structure[1] = ndi.generate_binary_structure(2, 1)  # in-plane 4-connectivity only
    for r in np.unique(radius):
        sel = np.flatnonzero(radius == r)
        for chunk in np.array_split(sel, max(1, sel.size * (2 * r + 1) ** 2 // 4_000_000 + 1)):
            off = np.arange(-r, r + 1)
            rr = np.clip(rows[chunk, None, None] + off[None, :, None], 0, H - 1)
            cc = np.clip(cols[chunk, None, None] + off[None, None, :], 0, W - 1)
            win = ~mask[rr, cc]
            lab, _ = ndi.label(win, structure=structure)
            border = np.concatenate(
                [lab[:, 0, :], lab[:, -1, :], lab[:, 1:-1, 0], lab[:, 1:-1, -1]], axis=1
            )
            border = np.sort(border, axis=1)
            distinct = (border[:, 1:] != border[:, :-1]) & (border[:, 1:] > 0)
            n_regions = distinct.sum(axis=1) + (border[:, 0] > 0)
            out[chunk] = n_regions >= 3
    return out
