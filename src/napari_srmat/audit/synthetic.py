"""Synthetic false boundaries for validating the hallucination detector.

:func:`inject_false_boundaries` draws dark, curved, 2-3 px wide lines (quadratic
Bezier curves, 20-60 px long) into grain interiors of an image, away from the
ground-truth boundaries, and returns their bounding boxes so that a detector's
recall can be measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from ..errors import check_seed
from .detector import AuditInputError

__all__ = ["InjectedLine", "inject_false_boundaries", "bbox_overlap", "recall_at"]


@dataclass
class InjectedLine:
    """One injected line: ``bbox`` ``[x0, y0, x1, y1]`` (exclusive ends), its length and width."""

    bbox: list[int]
    length_px: float
    width_px: float


def _bezier(p0, p1, p2, n):
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def inject_false_boundaries(
    image: np.ndarray,
    boundary_mask: np.ndarray | None = None,
    *,
    n_lines: int = 4,
    length_range: tuple[float, float] = (20.0, 60.0),
    width_range: tuple[float, float] = (2.0, 3.0),
    contrast: float = 0.5,
    min_distance_px: float = 10.0,
    seed: int = 0,
    max_tries: int = 2000,
) -> tuple[np.ndarray, list[InjectedLine]]:
    """Draw dark curved lines into grain interiors.

    Parameters
    ----------
    image : ndarray
        ``(H, W)`` or ``(H, W, C)`` uint8 or float image (not modified).
    boundary_mask : ndarray, optional
        Ground-truth boundaries (non-zero = boundary). Lines keep at least
        ``min_distance_px`` away from them, from the border and from each other.
    n_lines : int
        Number of lines to inject (fewer if no room is found).
    length_range, width_range : tuple of float
        Arc length and line width ranges in pixels.
    contrast : float
        Relative darkening at the line centre (0..1).
    min_distance_px : float
        Clearance to GT boundaries, the image border and other lines.
    seed : int
        Random seed: an integer >= 0 (:func:`napari_srmat.errors.check_seed`).
    max_tries : int
        Placement attempts in all.

    Returns
    -------
    image, lines
        Copy of the image (same dtype) with the lines and the list of :class:`InjectedLine`.

    Raises
    ------
    AuditInputError
        A ``seed`` that is not an integer >= 0.
    """
    rng = np.random.default_rng(check_seed(seed, error=AuditInputError))
    img = np.asarray(image)
    H, W = img.shape[:2]
    free = np.ones((H, W), bool)
    if boundary_mask is not None:
        free &= np.asarray(boundary_mask)[:H, :W] == 0
    free[0, :] = free[-1, :] = free[:, 0] = free[:, -1] = False
    dist = ndi.distance_transform_edt(free)
    darken = np.zeros((H, W), np.float32)
    lines: list[InjectedLine] = []
    yy, xx = np.mgrid[0:H, 0:W]
    tries = 0
    while len(lines) < n_lines and tries < max_tries:
        tries += 1
        length = rng.uniform(*length_range)
        width = rng.uniform(*width_range)
        p0 = rng.uniform([0, 0], [H, W])
        ang = rng.uniform(0, 2 * np.pi)
        p2 = p0 + 0.85 * length * np.array([np.sin(ang), np.cos(ang)])
        mid = (p0 + p2) / 2
        normal = np.array([np.cos(ang), -np.sin(ang)])
        p1 = mid + normal * rng.uniform(-0.35, 0.35) * length
        pts = _bezier(p0, p1, p2, 200)
        seg = np.diff(pts, axis=0)
        arc = float(np.hypot(seg[:, 0], seg[:, 1]).sum())
        pts = pts * (length / arc) + p0 * (1 - length / arc)  # rescale to the wanted length
        ri, ci = np.round(pts[:, 0]).astype(int), np.round(pts[:, 1]).astype(int)
        if ri.min() < 0 or ci.min() < 0 or ri.max() >= H or ci.max() >= W:
            continue
        if dist[ri, ci].min() < min_distance_px + width / 2:
            continue
        pad = 3 * width
        y0 = max(int(pts[:, 0].min() - pad), 0)
        y1 = min(int(pts[:, 0].max() + pad) + 1, H)
        x0 = max(int(pts[:, 1].min() - pad), 0)
        x1 = min(int(pts[:, 1].max() + pad) + 1, W)
        sub_y, sub_x = yy[y0:y1, x0:x1], xx[y0:y1, x0:x1]
        d = np.full(sub_y.shape, np.inf, np.float32)
        for py, px in pts[::2]:
            d = np.minimum(d, np.hypot(sub_y - py, sub_x - px))
        prof = np.clip(width / 2 + 0.5 - d, 0.0, 1.0)  # anti-aliased width
        darken[y0:y1, x0:x1] = np.maximum(darken[y0:y1, x0:x1], prof * contrast)
        on = prof > 0
        oy, ox = np.nonzero(on)
        lines.append(InjectedLine(bbox=[int(ox.min() + x0), int(oy.min() + y0),
                                        int(ox.max() + x0) + 1, int(oy.max() + y0) + 1],
                                  length_px=float(length), width_px=float(width)))
        # keep other lines away from this one
        blocked = np.zeros((H, W), bool)
        blocked[ri, ci] = True
        dist = np.minimum(dist, ndi.distance_transform_edt(~blocked))
    factor = 1.0 - darken
    if img.ndim == 3:
        factor = factor[..., None]
    if img.dtype == np.uint8:
        out = np.clip(np.round(img.astype(np.float32) * factor), 0, 255).astype(np.uint8)
    elif img.dtype == np.uint16:
        out = np.clip(np.round(img.astype(np.float32) * factor), 0, 65535).astype(np.uint16)
    else:
        out = (img.astype(np.float32) * factor).astype(img.dtype)
    return out, lines


def bbox_overlap(a, b) -> bool:
    """True when two ``[x0, y0, x1, y1]`` boxes (exclusive ends) overlap."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def recall_at(candidates, lines, k: int | None = None) -> float:
    """Fraction of injected ``lines`` hit by one of the top-``k`` candidates (bbox overlap).

    Parameters
    ----------
    candidates : list of Candidate
        Sorted most suspicious first.
    lines : list of InjectedLine
    k : int, optional
        Number of top candidates considered (all when None).
    """
    if not lines:
        return float("nan")
    top = list(candidates)[: (len(candidates) if k is None else k)]
    hit = sum(any(bbox_overlap(c.bbox, ln.bbox) for c in top) for ln in lines)
    return hit / len(lines)
