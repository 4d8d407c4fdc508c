"""Pixel-wise boundary-map metrics that stream over many and gigapixel maps.

:class:`EdgeHistogram` accumulates histograms of predicted boundary probabilities for
boundary and background pixels (``n_bins`` equal bins on [0, 1]); every curve and score
is computed from the two histograms, so memory is constant whatever the number or
size of the maps (Dask arrays are consumed block by block).

Thresholds are bin edges ``k / n_bins``: a pixel is predicted "boundary" at threshold
``t`` when ``prob >= t``. The scores are then exact for the probabilities quantized
to the bins (identical to scikit-learn's ``average_precision_score`` /
``roc_auc_score`` on ``floor(prob * n_bins)``), and
:func:`binarize_boundaries` at a returned threshold selects exactly the pixels counted.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import check_flag, check_number
from ..io import all_finite, as_bool_mask, to_float01
from ..jobs import (
    Log,
    Metric,
    Progress,
    Stopped,
    StopToken,
    check_stop,
    plain_version,
    run_job,
)
from .heyn import HEYN_MARGIN, HEYN_N_LINES, HEYN_SEED

__all__ = [
    "EdgeMetricsError",
    "EdgeHistogram",
    "check_n_bins",
    "binarize_boundaries",
    "evaluate_maps",
    "evaluate_maps_job",
    "threshold_warnings",
    "plot_pr_roc",
]


class EdgeMetricsError(ValueError):
    """Bad input to the edge metrics (shapes, values, empty sets)."""


def _to_prob(prob: Any) -> np.ndarray:
    # the float rule of napari_srmat.io; float64 maps stay float64 (thresholds compare
    # exactly)
    return to_float01(prob, dtype=None)


@dataclass
class _Counts:
    tp: np.ndarray  # positives with prob >= threshold k/n, per threshold index k
    fp: np.ndarray
    thresholds: np.ndarray
    n_pos: int
    n_neg: int


#: Most bins a histogram may have (two int64 arrays of this length; 1e9 bins meant 16 GB).
MAX_BINS = 1 << 20


def check_n_bins(n_bins: Any, field: str = "n_bins") -> int:
    """The one rule for the number of histogram bins of :class:`EdgeHistogram` (also
    ``srmat eval-maps --bins``): an integer in ``[2, MAX_BINS]`` (the rule of
    :func:`napari_srmat.errors.check_number`: ``2.7`` and ``"12"`` are refused, ``12.0``
    passes).

    Parameters
    ----------
    n_bins : Any
        The number of bins.
    field : str
        Its name in the message.

    Returns
    -------
    int

    Raises
    ------
    EdgeMetricsError
        Out of range, not an integer, or not a number.

    Examples
    --------
    >>> check_n_bins(1024)
    1024
    >>> check_n_bins(2.7)
    Traceback (most recent call last):
    ...
    napari_srmat.metrics.edges.EdgeMetricsError: n_bins must be an integer in [2, 1048576], got 2.7
    """
    return check_number(field, n_bins, lo=2, hi=MAX_BINS, integer=True, error=EdgeMetricsError)


class EdgeHistogram:
    """Streaming positive/negative probability histograms.

    Parameters
    ----------
    n_bins : int
        Number of equal bins on [0, 1] (thresholds are the bin edges).

    Examples
    --------
    >>> import numpy as np
    >>> h = EdgeHistogram(n_bins=4)
    >>> _ = h.update(np.array([[0.9, 0.8, 0.3, 0.1]]), np.array([[1, 1, 0, 0]]))
    >>> h.average_precision(), h.roc_auc()
    (1.0, 1.0)
    """

    def __init__(self, n_bins: int = 1024) -> None:
        n_bins = check_n_bins(n_bins)
        self.n_bins = n_bins
        self.pos = np.zeros(n_bins, np.int64)
        self.neg = np.zeros(n_bins, np.int64)
        self._edges = np.arange(n_bins + 1, dtype=np.float64) / n_bins

    # ------------------------------------------------------------- updating
    def bin_index(self, prob: np.ndarray) -> np.ndarray:
        """Bin of each probability (``prob >= k/n_bins`` exactly iff index >= k)."""
        p = np.clip(_to_prob(prob).astype(np.float64, copy=False), 0.0, 1.0)
        idx = np.floor(p * self.n_bins).astype(np.int64)
        np.clip(idx, 0, self.n_bins - 1, out=idx)
        # exactness against the edges (guards against rounding in p * n_bins)
        low = p < self._edges[idx]
        idx[low] -= 1
        up = (idx + 1 < self.n_bins) & (p >= self._edges[np.minimum(idx + 1, self.n_bins)])
        idx[up] += 1
        return idx

    def update(self, prob: Any, mask: Any, valid: Any = None) -> EdgeHistogram:
        """Add one probability map and its ground-truth mask.

        Parameters
        ----------
        prob : array (H, W)
            Boundary probability in [0, 1] (float), or uint8/uint16 scaled to [0, 1].
            NumPy or Dask (consumed block by block).
        mask : array (H, W)
            Ground truth (binarized with :func:`napari_srmat.io.as_bool_mask`).
        valid : array (H, W) of bool, optional
            Pixels to count (default: all finite probabilities).

        Returns
        -------
        EdgeHistogram
            ``self``, for chaining.

        Raises
        ------
        ValueError
            Values the float rule would misread (:func:`napari_srmat.io.
            check_pixel_values`: a float map in 0..255, 8-bit values in an int64 array),
            checked on the whole map before anything is counted.
        """
        from ..io import check_pixel_values

        # as binarize_boundaries: an int64 map of 0..255 read as ~0 gave threshold 0
        check_pixel_values(prob, name="prob")
        if _is_dask(prob) or _is_dask(mask):
            self._update_dask(prob, mask, valid)
        else:
            self._add(prob, mask, valid)
        return self

    def _add(self, prob: Any, mask: Any, valid: Any) -> None:
        """:meth:`update` of an in-memory map whose values are checked."""
        p = np.asarray(prob)
        m = np.asarray(mask)
        if p.ndim == 3 and p.shape[-1] == 1:
            p = p[..., 0]
        mb = as_bool_mask(m, name="ground-truth mask")
        if p.shape != mb.shape:
            raise EdgeMetricsError(f"probability map {p.shape} and mask {mb.shape} differ in shape")
        pf = _to_prob(p)
        ok = np.isfinite(pf)
        if valid is not None:
            ok &= np.asarray(valid, bool)
        if not ok.all():
            pf, mb = pf[ok], mb[ok]
        idx = self.bin_index(pf).ravel()
        mb = mb.ravel()
        self.pos += np.bincount(idx[mb], minlength=self.n_bins)
        self.neg += np.bincount(idx[~mb], minlength=self.n_bins)

    def _update_dask(self, prob, mask, valid) -> None:
        import dask
        import dask.array as da

        p = prob if _is_dask(prob) else da.from_array(np.asarray(prob), chunks="auto")
        if p.ndim == 3 and p.shape[-1] == 1:
            p = p[..., 0]
        m = mask if _is_dask(mask) else da.from_array(np.asarray(mask))
        if p.shape != m.shape[:2] or m.ndim not in (2, 3):
            raise EdgeMetricsError(f"probability map {p.shape} and mask {m.shape} differ in shape")
        # colour masks keep their channels: each block is binarised by as_bool_mask, as
        # in memory (alpha dropped, any colour channel; not the first channel alone)
        m = m.rechunk(p.chunks + ((m.shape[2],),) if m.ndim == 3 else p.chunks)
        v = None
        if valid is not None:
            v = (valid if _is_dask(valid) else da.from_array(np.asarray(valid))).rechunk(p.chunks)
        for block in np.ndindex(*p.numblocks):
            parts = [p.blocks[block], m.blocks[block]] + (
                [v.blocks[block]] if v is not None else []
            )
            arrs = dask.compute(*parts)
            self._add(arrs[0], arrs[1], arrs[2] if v is not None else None)

    def merge(self, other: EdgeHistogram) -> EdgeHistogram:
        """Add the counts of another histogram with the same ``n_bins``."""
        if other.n_bins != self.n_bins:
            raise EdgeMetricsError(
                f"cannot merge histograms with {other.n_bins} and {self.n_bins} bins"
            )
        self.pos += other.pos
        self.neg += other.neg
        return self

    __iadd__ = merge

    @property
    def n_pos(self) -> int:
        return int(self.pos.sum())

    @property
    def n_neg(self) -> int:
        return int(self.neg.sum())

    # --------------------------------------------------------------- curves
    def _counts(self) -> _Counts:
        # counts at thresholds k/n for k = 0..n-1 (prob >= k/n): reverse cumulative sums
        tp = np.cumsum(self.pos[::-1])[::-1]
        fp = np.cumsum(self.neg[::-1])[::-1]
        return _Counts(tp, fp, self._edges[:-1], self.n_pos, self.n_neg)

    def _need(self, pos: bool = True, neg: bool = False) -> None:
        if pos and self.n_pos == 0:
            raise EdgeMetricsError("no boundary (positive) pixels were accumulated")
        if neg and self.n_neg == 0:
            raise EdgeMetricsError("no background (negative) pixels were accumulated")

    def pr_curve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Precision-recall curve over the distinct thresholds, highest threshold first.

        Returns
        -------
        precision, recall, thresholds : ndarray
            One point per occupied bin (like scikit-learn, thresholds where nothing
            changes are dropped), threshold descending.
        """
        self._need(pos=True)
        c = self._counts()
        occupied = (self.pos + self.neg) > 0
        k = np.flatnonzero(occupied)[::-1]
        tp, fp = c.tp[k].astype(float), c.fp[k].astype(float)
        precision = tp / np.maximum(tp + fp, 1)
        recall = tp / c.n_pos
        return precision, recall, c.thresholds[k]

    def average_precision(self) -> float:
        """Area under the PR curve, step-wise: ``Σ (R_k - R_{k-1}) P_k`` (sklearn's AP)."""
        precision, recall, _ = self.pr_curve()
        prev = np.concatenate([[0.0], recall[:-1]])
        return float(np.sum((recall - prev) * precision))

    def roc_curve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """ROC curve (FPR, TPR, thresholds) from (0, 0) to (1, 1), threshold descending.

        The first point has threshold ``inf`` (nothing predicted positive).
        """
        self._need(pos=True, neg=True)
        c = self._counts()
        occupied = (self.pos + self.neg) > 0
        k = np.flatnonzero(occupied)[::-1]
        tpr = np.concatenate([[0.0], c.tp[k] / c.n_pos])
        fpr = np.concatenate([[0.0], c.fp[k] / c.n_neg])
        thr = np.concatenate([[np.inf], c.thresholds[k]])
        return fpr, tpr, thr

    def roc_auc(self) -> float:
        """Area under the ROC curve (trapezoids; ties between bins count one half)."""
        fpr, tpr, _ = self.roc_curve()
        return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))

    def _threshold_index(self, t: float) -> int:
        t = check_number("threshold", t, lo=0.0, hi=1.0, error=EdgeMetricsError)
        # first bin whose lower edge is >= t (thresholds are quantized to bin edges)
        return int(np.searchsorted(self._edges[:-1], t - 1e-12, side="left"))

    def scores_at(self, t: float) -> dict:
        """Precision, recall and F1 of ``prob >= t`` (t rounded up to a bin edge)."""
        k = self._threshold_index(t)
        tp = float(self.pos[k:].sum())
        fp = float(self.neg[k:].sum())
        fn = float(self.n_pos) - tp
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        thr = float(self._edges[k]) if k < self.n_bins else 1.0
        return {"threshold": thr, "precision": precision, "recall": recall, "f1": f1}

    def f1_at(self, t: float) -> float:
        """F1 score of ``prob >= t``."""
        return self.scores_at(t)["f1"]

    def best_f1(self) -> tuple[float, float]:
        """Threshold (a bin edge) maximizing F1, and that F1.

        Returns
        -------
        (threshold, f1)
            Ties go to the lowest threshold.
        """
        self._need(pos=True)
        c = self._counts()
        denom = c.tp + c.fp + c.n_pos  # 2TP + FP + FN = TP + FP + P
        f1 = np.where(denom > 0, 2.0 * c.tp / np.maximum(denom, 1), 0.0)
        k = int(np.argmax(f1))
        return float(c.thresholds[k]), float(f1[k])


def threshold_warnings(hist: EdgeHistogram, threshold: float) -> list[str]:
    """Why binarising the maps of ``hist`` at ``threshold`` gives no boundary map.

    The one check of degenerate probability maps, used wherever maps are evaluated
    (:func:`evaluate_maps`, ``napari_srmat.edges.evaluate``): a constant map (every
    probability in one histogram bin) has no threshold that separates boundary from
    background (its max-F1 threshold is 0: everything is "boundary"); a threshold at
    or below the lowest probability marks every pixel boundary, one above the highest
    none. The Heyn figures of such maps would be nonsense (e.g. an error of 19000 %),
    so callers withhold them when this returns reasons.

    Parameters
    ----------
    hist : EdgeHistogram
        Pooled histogram of the maps.
    threshold : float
        The binarisation threshold.

    Returns
    -------
    list of str
        Empty when the threshold splits the maps' pixels.
    """
    occupied = np.flatnonzero((hist.pos + hist.neg) > 0)
    if occupied.size == 0:
        return ["no finite probabilities were evaluated"]
    if occupied.size == 1:
        lo = hist._edges[occupied[0]]
        return [f"the probability maps are constant (every value in [{lo:.4g}, "
                f"{lo + 1 / hist.n_bins:.4g})): no threshold separates boundary from "
                "background, so no Heyn figures are reported"]
    k = hist._threshold_index(float(threshold))
    if k <= occupied[0]:
        return [f"at threshold {threshold:.4g} every pixel is predicted boundary (the lowest "
                f"probability is >= {hist._edges[occupied[0]]:.4g}): no Heyn figures are "
                "reported"]
    if k > occupied[-1]:
        return [f"at threshold {threshold:.4g} no pixel is predicted boundary (every "
                f"probability is < {hist._edges[occupied[-1] + 1]:.4g}): no Heyn figures are "
                "reported"]
    return []


def _is_dask(x: Any) -> bool:
    return type(x).__module__.startswith("dask") and hasattr(x, "compute")


def binarize_boundaries(prob: Any, threshold: float, skeletonize: bool = True) -> np.ndarray:
    """Binarize a probability map: ``prob >= threshold``, optionally thinned to 1 px.

    Parameters
    ----------
    prob : array (H, W)
        Probabilities in [0, 1] (uint8/uint16 are scaled).
    threshold : float
        Threshold in [0, 1].
    skeletonize : bool
        Thin the result to one-pixel lines (scikit-image ``skeletonize``).

    Returns
    -------
    ndarray of bool

    Raises
    ------
    EdgeMetricsError
        Not 2-D, no pixels (a side of 0 px), a threshold outside [0, 1], NaN/Inf values,
        ``skeletonize`` not True or False, or a map too large to hold in memory
        (:func:`napari_srmat.estimates.plan_mask_measurement`; checked from its shape
        and dtype before any pixel is read).
    TypeError
        ``prob`` is None, a path or not numeric (:func:`napari_srmat.io.image_data`).
    ValueError
        Values the float rule would misread, e.g. a float map in 0..255
        (:func:`napari_srmat.io.check_pixel_values`).

    Examples
    --------
    A boundary two pixels wide, thinned to one:

    >>> prob = np.zeros((9, 9), np.float32)
    >>> prob[:, 3], prob[:, 4] = 0.6, 0.9
    >>> int(binarize_boundaries(prob, 0.5, skeletonize=False).sum())
    18
    >>> mask = binarize_boundaries(prob, 0.5)
    >>> mask.dtype, int(mask.sum(axis=1).max())
    (dtype('bool'), 1)
    """
    from ..io import check_pixel_values, image_data

    prob, _ = image_data(prob, name="prob")
    # checked before any pixel is read (a 4-D Dask array was computed first)
    if not (len(prob.shape) == 2 or (len(prob.shape) == 3 and prob.shape[-1] == 1)):
        raise EdgeMetricsError(f"probability map must be 2-D, got shape {tuple(prob.shape)}")
    if 0 in prob.shape:  # a 0 x 0 map gave back an empty mask without a word
        raise EdgeMetricsError(f"probability map has no pixels (shape {tuple(prob.shape)})")
    threshold = check_number("threshold", threshold, lo=0.0, hi=1.0, error=EdgeMetricsError)
    skeletonize = check_flag("skeletonize", skeletonize, error=EdgeMetricsError)  # "no"
    from ..estimates import check_in_memory, plan_mask_measurement

    # read whole: a map larger than memory is refused before any pixel is read
    check_in_memory(plan_mask_measurement(prob.shape, prob.dtype, to_float=True,
                                          held=isinstance(prob, np.ndarray)),
                    "binarize_boundaries", advice="binarize fields or crops of it",
                    error=EdgeMetricsError)
    check_pixel_values(prob, name="prob")
    if hasattr(prob, "compute") and not isinstance(prob, np.ndarray):
        prob = prob.compute()
    p = _to_prob(np.asarray(prob))
    if p.ndim == 3:
        p = p[..., 0]
    if not all_finite(p):  # NaN compares False: it would silently be "no boundary"
        raise EdgeMetricsError("prob has NaN or Inf values: replace them first (e.g. "
                               "numpy.nan_to_num)")
    b = p >= threshold
    if skeletonize:
        from skimage.morphology import skeletonize as _skel

        b = _skel(b)
    return b


def _as_list(maps: Any, what: str) -> list:
    if maps is None:
        return []
    if isinstance(maps, np.ndarray) and maps.ndim == 2:
        return [maps]
    out = list(maps)
    if not out:
        raise EdgeMetricsError(f"no {what} given")
    return out


def _check_all_counted(counted: int, prob: Any, name: str) -> None:
    """Refuse a map some of whose pixels the histogram left out (NaN or Inf values).

    :meth:`EdgeHistogram.update` counts the finite pixels only, so an all-NaN map read
    as "the ground-truth masks have no boundary pixels", and a partly NaN one was
    refused later by :func:`binarize_boundaries` naming no map.
    """
    if counted < int(np.prod(np.shape(prob)[:2])):
        raise EdgeMetricsError(f"{name}: probability map has NaN or Inf values: replace "
                               "them first (e.g. numpy.nan_to_num)")


def evaluate_maps_job(
    prob_maps: Sequence[Any],
    masks: Sequence[Any],
    *,
    val_prob_maps: Sequence[Any] | None = None,
    val_masks: Sequence[Any] | None = None,
    threshold: float | None = None,
    skeletonize: bool = True,
    heyn_pattern: str = "random",
    n_lines: int = HEYN_N_LINES,
    seed: int = HEYN_SEED,
    n_bins: int = 1024,
    names: Sequence[str] | None = None,
    margin: float = HEYN_MARGIN,
    stop: StopToken | None = None,
) -> Iterator:
    """Job version of :func:`evaluate_maps` (yields progress; returns the dict)."""
    stop = check_stop(stop)
    probs = _as_list(prob_maps, "probability maps")
    gts = _as_list(masks, "masks")
    if len(probs) != len(gts):
        raise EdgeMetricsError(f"{len(probs)} probability maps but {len(gts)} masks")
    names = list(names) if names is not None else [f"image_{i}" for i in range(len(probs))]
    if len(names) != len(probs):
        raise EdgeMetricsError("names must have one entry per probability map")
    vprobs = _as_list(val_prob_maps, "validation maps")
    vgts = _as_list(val_masks, "validation masks")
    if len(vprobs) != len(vgts):
        raise EdgeMetricsError(f"{len(vprobs)} validation maps but {len(vgts)} validation masks")
    from .heyn import compare_intercepts, summarize_heyn_rows

    total = len(probs) * 2 + len(vprobs)
    done = 0
    hist = EdgeHistogram(n_bins)
    per_image_hist = []
    for i, (p, g) in enumerate(zip(probs, gts)):
        if stop is not None and stop.stop_requested:
            yield Stopped("evaluation stopped")
            return None
        if np.shape(p)[:2] != np.shape(g)[:2]:
            raise EdgeMetricsError(
                f"{names[i]}: probability map {np.shape(p)} and mask {np.shape(g)} differ in shape"
            )
        h = EdgeHistogram(n_bins).update(p, g)
        _check_all_counted(h.n_pos + h.n_neg, p, names[i])
        per_image_hist.append(h)
        hist.merge(h)
        done += 1
        yield Progress(done, total, "histograms")
    if hist.n_pos == 0:
        raise EdgeMetricsError(
            f"the ground-truth masks ({len(gts)}) have no boundary pixels, so AP and F1 are "
            "undefined: check that the masks mark the boundaries (non-zero)")
    source = "given"
    if threshold is None:
        if vprobs:
            vh = EdgeHistogram(n_bins)
            for j, (p, g) in enumerate(zip(vprobs, vgts)):
                if stop is not None and stop.stop_requested:
                    yield Stopped("evaluation stopped")
                    return None
                before = vh.n_pos + vh.n_neg
                vh.update(p, g)
                _check_all_counted(vh.n_pos + vh.n_neg - before, p, f"validation map {j}")
                done += 1
                yield Progress(done, total, "validation")
            if vh.n_pos == 0:
                raise EdgeMetricsError(
                    f"the validation masks ({len(vgts)}) have no boundary pixels, so no "
                    "max-F1 threshold can be chosen on them: check the masks, or give a "
                    "threshold")
            threshold, _ = vh.best_f1()
            source = "validation max-F1"
        else:
            threshold, _ = hist.best_f1()
            source = "max-F1 on the evaluated set"
        yield Log(f"threshold {threshold:.4f} ({source})")
    else:
        done += len(vprobs)
    scores = hist.scores_at(float(threshold))
    withhold = threshold_warnings(hist, float(threshold))
    rows, heyn_rows = [], []
    # compare_intercepts: a map more than half boundary before thinning gets no figure
    kw = dict(pattern=heyn_pattern, n_lines=n_lines, seed=seed, margin=margin,
              skeletonize=skeletonize)
    for i, (p, g) in enumerate(zip(probs, gts)):
        if stop is not None and stop.stop_requested:
            yield Stopped("evaluation stopped")
            return None
        # not skeletonised here: measure_intercepts checks the binarised map first
        pred = binarize_boundaries(p, float(threshold), skeletonize=False)
        gt = as_bool_mask(g, name="ground-truth mask")
        hr = compare_intercepts(pred, gt, **kw)
        heyn_rows.append(hr)
        rp = None if withhold else hr["pred_px"]
        rg = hr["gt_px"]
        ih = per_image_hist[i]
        row = {
            "name": names[i],
            "ap": ih.average_precision() if ih.n_pos else None,
            "roc_auc": ih.roc_auc() if ih.n_pos and ih.n_neg else None,
            "f1": ih.f1_at(float(threshold)) if ih.n_pos else None,
            "heyn_pred_px": rp,
            "heyn_gt_px": rg,
            "heyn_error_pct": (
                100.0 * abs(rp - rg) / rg if rp is not None and rg is not None else None
            ),
            "warnings": hr["warnings"],
        }
        rows.append(row)
        done += 1
        yield Progress(done, total, "heyn")
    heyn = summarize_heyn_rows(heyn_rows, names, withhold=withhold)
    for w in heyn["warnings"]:
        yield Log(w, level="warning")
    heyn_pred, heyn_gt, err = heyn["heyn_pred_px"], heyn["heyn_gt_px"], heyn["heyn_error_pct"]
    result = {
        "ap": hist.average_precision(),
        "roc_auc": hist.roc_auc() if hist.n_neg else None,
        "threshold": float(threshold),
        "threshold_source": source,
        "f1": scores["f1"],
        "precision": scores["precision"],
        "recall": scores["recall"],
        "heyn_pred_px": heyn_pred,
        "heyn_gt_px": heyn_gt,
        "delta_px": heyn["delta_px"],
        "heyn_error_pct": err,
        "heyn_pattern": heyn_pattern,
        "n_lines": n_lines,
        "skeletonize": skeletonize,
        "n_images": len(probs),
        "warnings": heyn["warnings"],
        "per_image": rows,
    }
    yield Metric(0, {k: result[k] for k in ("ap", "f1") if result[k] is not None}, split="test")
    result["_histogram"] = hist
    return result


def _evaluate_maps_keywords() -> None:
    """What :func:`evaluate_maps` takes: :func:`evaluate_maps_job`'s arguments and
    ``return_histogram`` (its signature, for :func:`napari_srmat.jobs.plain_version`)."""


_evaluate_maps_keywords.__signature__ = inspect.signature(evaluate_maps_job).replace(
    parameters=[*inspect.signature(evaluate_maps_job).parameters.values(),
                inspect.Parameter("return_histogram", inspect.Parameter.KEYWORD_ONLY,
                                  default=False, annotation="bool")])


# the keywords listed by help() and completion, and a misspelt one is a TypeError naming
# evaluate_maps and the closest keyword (it named evaluate_maps_job, with no suggestion)
@plain_version(_evaluate_maps_keywords)
def evaluate_maps(
    prob_maps: Sequence[Any],
    masks: Sequence[Any],
    *,
    return_histogram: bool = False,
    **kw: Any,
) -> dict:
    """Evaluate boundary probability maps against ground-truth masks.

    Parameters
    ----------
    prob_maps : sequence of arrays (H, W)
        Boundary probabilities in [0, 1] (uint8 0-255 accepted), NumPy or Dask.
    masks : sequence of arrays (H, W)
        Ground-truth masks, paired by position (binarized with
        :func:`napari_srmat.io.as_bool_mask`).
    val_prob_maps, val_masks : sequences, optional
        A validation set: the threshold is then the max-F1 threshold on it.
    threshold : float, optional
        Fixed threshold (overrides the validation / self max-F1 choice).
    skeletonize : bool
        Thin binarized predictions and the GT masks to one pixel before Heyn.
    heyn_pattern : str
        Test-line pattern for the Heyn comparison (same lines for prediction and GT).
    n_lines : int
        Lines of the Heyn pattern.
    seed : int
        Seed of the random Heyn pattern.
    n_bins : int
        Histogram bins (threshold resolution).
    names : sequence of str, optional
        Names of the images for the per-image rows.
    margin : float
        Heyn margin fraction.
    stop : StopToken, optional
        Checked between maps (a stopped evaluation returns None).
    return_histogram : bool
        Also return the pooled histogram (not JSON-serialisable).

    Returns
    -------
    dict
        ``ap`` and ``roc_auc`` (pooled over all pixels of all images), ``threshold`` and
        ``threshold_source``, ``f1``/``precision``/``recall`` at the threshold (pixel-wise,
        no distance tolerance), ``heyn_pred_px``/``heyn_gt_px`` (means over images of
        each image's ℓ̄), ``heyn_error_pct`` (``100 |pred - gt| / gt``), ``n_images``,
        ``delta_px`` (pred - gt), ``warnings`` and ``per_image`` rows (``name``, ``ap``,
        ``roc_auc``, ``f1``, ``heyn_pred_px``,
        ``heyn_gt_px``, ``heyn_error_pct``, ``warnings``). Heyn figures that would be
        nonsense (constant maps, a threshold that marks every pixel or none, a binarised
        map that is not a boundary map: see :func:`threshold_warnings` and
        :func:`napari_srmat.metrics.heyn.summarize_heyn_rows`) are ``None``, and
        ``warnings`` says why. JSON-serialisable. With ``return_histogram=True`` the pooled
        :class:`EdgeHistogram` is added under ``"_histogram"`` (e.g. for
        :func:`plot_pr_roc`); the job version always returns it there.
    """
    res = run_job(evaluate_maps_job(prob_maps, masks, **kw), quiet=True)
    if res is not None and not return_histogram:
        res.pop("_histogram", None)
    return res


def _draw_curves(ax, histograms_by_name: Mapping[str, EdgeHistogram], kind: str) -> None:
    for name, h in histograms_by_name.items():
        if kind == "pr":
            p, r, _ = h.pr_curve()
            # each point's precision over the recall it adds, (R_{k-1}, R_k], from
            # recall 0: the area under the line is the AP of the legend
            xs = np.column_stack([np.concatenate([[0.0], r[:-1]]), r]).ravel()
            ax.plot(xs, np.repeat(p, 2), label=f"{name} (AP {h.average_precision():.3f})")
        elif h.n_neg:
            fpr, tpr, _ = h.roc_curve()
            ax.plot(fpr, tpr, label=f"{name} (AUC {h.roc_auc():.3f})")
    if kind == "pr":
        ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title="PR")
    else:
        ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--")
        ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1),
               ylim=(0, 1.02), title="ROC")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left" if kind == "pr" else "lower right", fontsize=8)


#: ``kind`` of the figures :func:`plot_pr_roc` writes (:func:`napari_srmat.outputs.is_our_figure`).
PR_ROC_FIGURE = "PR and ROC curves"


def plot_pr_roc(
    histograms_by_name: Mapping[str, EdgeHistogram], path: str | Path, *,
    title: str | None = None, roc_path: str | Path | None = None, overwrite: bool = True,
) -> Path:
    """Write the PR curves and ROC curves of several histograms as PNG (the one plotter).

    Parameters
    ----------
    histograms_by_name : mapping of str to EdgeHistogram
        One curve per entry (label = name, with its AP / AUC).
    path : path-like
        Output PNG (written atomically): PR (left) and ROC (right), or only the PR
        curves when ``roc_path`` is given.
    title : str, optional
        Figure title.
    roc_path : path-like, optional
        Write the ROC curves to this separate PNG.
    overwrite : bool
        Whether an existing figure of napari-srmat's may be replaced (a file it did not
        write never is: :func:`napari_srmat.outputs.save_figure_png`).

    Returns
    -------
    Path
        ``path``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ..outputs import save_figure_png

    if not histograms_by_name:
        raise EdgeMetricsError("no histograms to plot")
    if roc_path is None:
        jobs = [(Path(path), ("pr", "roc"), (10, 4.5))]
    else:
        jobs = [(Path(path), ("pr",), (4.5, 4.2)), (Path(roc_path), ("roc",), (4.5, 4.2))]
    for out, kinds, size in jobs:
        fig = Figure(figsize=size, dpi=100)
        FigureCanvasAgg(fig)
        axes = np.atleast_1d(fig.subplots(1, len(kinds)))
        for ax, kind in zip(axes, kinds):
            _draw_curves(ax, histograms_by_name, kind)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        save_figure_png(fig, out, kind=PR_ROC_FIGURE, overwrite=overwrite)
    return Path(path)
