"""Pixel-level PR/ROC statistics of probability maps.

Uses :class:`napari_srmat.metrics.edges.EdgeHistogram` when that module is
available; :class:`LocalEdgeHistogram` is a minimal equivalent (same binning
convention: ``n_bins`` equal bins on [0, 1], thresholds at the bin edges, a pixel
is positive when ``prob >= threshold``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["LocalEdgeHistogram", "make_histogram"]


class LocalEdgeHistogram:
    """Accumulates positive/negative pixel counts per probability bin."""

    def __init__(self, n_bins: int = 1024) -> None:
        self.n_bins = int(n_bins)
        self.pos = np.zeros(self.n_bins, np.int64)
        self.neg = np.zeros(self.n_bins, np.int64)

    def update(self, prob: np.ndarray, mask: np.ndarray) -> None:
        p = np.clip(np.asarray(prob, np.float64).ravel(), 0, 1)
        m = np.asarray(mask).ravel().astype(bool)
        idx = np.minimum((p * self.n_bins).astype(np.int64), self.n_bins - 1)
        self.pos += np.bincount(idx[m], minlength=self.n_bins)
        self.neg += np.bincount(idx[~m], minlength=self.n_bins)

    def _cum(self):
        # predictions positive at threshold t_k = k / n_bins -> bins k..n-1
        tp = np.cumsum(self.pos[::-1])[::-1].astype(np.float64)
        fp = np.cumsum(self.neg[::-1])[::-1].astype(np.float64)
        thr = np.arange(self.n_bins) / self.n_bins
        return thr, tp, fp

    def pr_curve(self):
        thr, tp, fp = self._cum()
        P = max(self.pos.sum(), 1)
        prec = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 1.0)
        rec = tp / P
        return prec, rec, thr

    def roc_curve(self):
        thr, tp, fp = self._cum()
        fpr = fp / max(self.neg.sum(), 1)
        tpr = tp / max(self.pos.sum(), 1)
        return fpr, tpr, thr

    def average_precision(self) -> float:
        prec, rec, _ = self.pr_curve()
        # thresholds descending -> recall ascending
        r = np.concatenate([[0.0], rec[::-1]])
        p = prec[::-1]
        return float(np.sum((r[1:] - r[:-1]) * p))

    def roc_auc(self) -> float:
        fpr, tpr, _ = self.roc_curve()
        x = np.concatenate([[0.0], fpr[::-1], [1.0]])
        y = np.concatenate([[0.0], tpr[::-1], [1.0]])
        return float(np.trapezoid(y, x))

    def f1_at(self, t: float) -> float:
        prec, rec, thr = self.pr_curve()
        k = int(np.clip(np.searchsorted(thr, t, side="left"), 0, self.n_bins - 1))
        p, r = prec[k], rec[k]
        return float(2 * p * r / (p + r)) if p + r > 0 else 0.0

    def best_f1(self) -> tuple[float, float]:
        prec, rec, thr = self.pr_curve()
        f1 = np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-12), 0)
        k = int(np.argmax(f1))
        return float(thr[k]), float(f1[k])


def make_histogram(n_bins: int = 1024):
    """An ``EdgeHistogram`` (from ``napari_srmat.metrics.edges`` if present)."""
    try:
        from ..metrics.edges import EdgeHistogram
    except ImportError:
        return LocalEdgeHistogram(n_bins)
    return EdgeHistogram(n_bins=n_bins)
