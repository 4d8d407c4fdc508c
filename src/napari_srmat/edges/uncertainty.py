"""Uncertainty that means something: the probability that a boundary pixel is wrong.

The UAED network gives a boundary probability ``p = sigmoid(mu)`` and a ``sigma`` head.
Measured on scans the model never saw, ``sigma`` is a poor detector of the model's own
pixel errors (it is largest on confident boundary centres, so its ROC-AUC as an error
score is below 0.5; see ``docs/boundaries.md``, "Uncertainty as an error detector").
This module turns a probability map into a map of ``P(pixel is wrong)`` that can be
read as a probability.

Definitions
-----------
pixel error
    ``predicted != truth`` where ``predicted`` is the binarised map
    (``prob >= threshold`` unless a boundary map is given) and ``truth`` the
    hand-drawn boundary mask; every pixel is scored.
error map
    ``e = q`` where the pixel is predicted background and ``e = 1 - q`` where it is
    predicted boundary, with ``q = P(boundary | features)`` a *recalibrated* boundary
    probability: a logistic regression of the truth on a few features of the
    probability map (see :data:`FEATURES`). ``q`` does not depend on the threshold, so
    the same fitted parameters serve any operating point; only the split into the
    two sides does.

Features (:data:`FEATURES`; each a small set of columns of the design matrix)
-----------------------------------------------------------------------------
``logit``
    piecewise-linear spline (hinges at :data:`LOGIT_KNOTS`) of ``logit(p)`` clipped to
    ``±LOGIT_CLIP``: a calibration curve of ``p`` itself.
``ridge``
    how far a pixel lies below the strongest response around it:
    ``logit(max_{RIDGE_SIZE x RIDGE_SIZE} p) - logit(p)`` (clipped), linear and one hinge.
    Boundary centres are local maxima across the boundary.
``smooth``
    ``logit`` of ``p`` smoothed with a Gaussian of ``SMOOTH_SIGMA`` px (context).
``sigma``
    the network's sigma map (optional input), linear.
``tta``
    D4 test-time-augmentation disagreement ``|p_d4 - p_none|`` (optional input; costs
    8 forward passes at inference), linear and square root.

All of it is numpy/scipy, float64 internally and deterministic: the fit is Newton's
method whose gradient and Hessian are ``numpy.einsum`` sums in a fixed order (no BLAS
threading, no random subsampling: a fixed pixel grid), and parameters are rounded to
:data:`PARAM_DECIMALS` decimals so they serialise exactly to JSON. The default model
(:data:`DEFAULT_FEATURES`) is a calibration curve of ``p`` alone: out of fold, context,
sigma and TTA disagreement did not improve it (docs/boundaries.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "FEATURES",
    "DEFAULT_FEATURES",
    "POINTWISE_FEATURES",
    "ECE_BINS",
    "ErrorModelError",
    "error_features",
    "fit_error_model",
    "error_probability",
    "calibrated_probability",
    "naive_error_probability",
    "pixel_errors",
    "roc_auc",
    "reliability_curve",
    "expected_calibration_error",
    "check_error_model",
]

#: Version of the parameter dictionary written by :func:`fit_error_model`.
PARAMS_VERSION = 1
#: Equal-width bins of :func:`reliability_curve` / :func:`expected_calibration_error`.
ECE_BINS = 15
#: ``logit(p)`` is clipped to ``±LOGIT_CLIP`` (float32 probabilities saturate near 17).
LOGIT_CLIP = 9.0
#: Hinge positions of the ``logit`` feature's spline (logit units).
LOGIT_KNOTS = (-6.0, -4.0, -3.0, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0,
               6.0)
#: Window (px) of the local maximum of the ``ridge`` feature.
RIDGE_SIZE = 7
#: Gaussian sigma (px) of the ``smooth`` feature.
SMOOTH_SIGMA = 2.0
#: Decimals kept in fitted parameters.
PARAM_DECIMALS = 6
#: Ridge penalty of the fit, per fitted pixel (keeps Newton's method well posed).
L2_PER_PIXEL = 1e-6
#: A spline hinge is fitted only when at least this many fitted pixels lie beyond it (else
#: its coefficient is 0: the curve continues linearly instead of following a few pixels).
MIN_KNOT_PIXELS = 1000

#: Feature groups and whether they need an input besides the probability map.
FEATURES = {"logit": None, "ridge": None, "smooth": None, "sigma": "sigma",
            "tta": "tta_disagreement"}
#: Feature groups that need only the probability of the pixel itself (no neighbourhood,
#: no other input): error maps of these can be computed block by block.
POINTWISE_FEATURES = ("logit",)
#: The features of the default error model: the calibration curve of ``p`` alone. Context,
#: sigma and TTA disagreement added nothing out of fold (studies/uncertainty_error_detection.py).
DEFAULT_FEATURES = ("logit",)


class ErrorModelError(ValueError):
    """Invalid error-model parameters or inputs that do not match them."""


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), 1e-12, 1 - 1e-12)
    return np.clip(np.log(p) - np.log1p(-p), -LOGIT_CLIP, LOGIT_CLIP)


def _check_map(name: str, a, shape: tuple[int, ...] | None = None) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 2:
        raise ErrorModelError(f"{name} must be a 2-D (H, W) map, got shape {arr.shape}")
    if shape is not None and arr.shape != tuple(shape):
        raise ErrorModelError(f"{name} has shape {arr.shape}, expected {tuple(shape)}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ErrorModelError(f"{name} contains NaN or Inf")
    return arr


def error_features(prob, features: Sequence[str] = DEFAULT_FEATURES, *, sigma=None,
                   tta_disagreement=None) -> tuple[np.ndarray, list[str]]:
    """Design matrix of one probability map.

    Parameters
    ----------
    prob : array
        ``(H, W)`` boundary probability in [0, 1].
    features : sequence of str
        Feature groups (keys of :data:`FEATURES`).
    sigma, tta_disagreement : array, optional
        ``(H, W)`` maps, required by the ``sigma`` / ``tta`` groups.

    Returns
    -------
    X : ndarray
        float64 ``(H * W, n_columns)`` (no intercept column).
    names : list of str
        Column names.
    """
    from scipy import ndimage as ndi

    p = np.clip(_check_map("prob", prob), 0.0, 1.0)
    unknown = [f for f in features if f not in FEATURES]
    if unknown:
        raise ErrorModelError(f"unknown error-model features {unknown}; known: {list(FEATURES)}")
    s = _logit(p)
    cols: list[np.ndarray] = []
    names: list[str] = []
    for f in features:
        if f == "logit":
            cols.append(s)
            names.append("logit")
            for k in LOGIT_KNOTS:
                cols.append(np.maximum(s - k, 0.0))
                names.append(f"logit>{k:g}")
        elif f == "ridge":
            r = np.clip(_logit(ndi.maximum_filter(p, RIDGE_SIZE, mode="reflect")) - s, 0.0,
                        2 * LOGIT_CLIP)
            cols += [r, np.maximum(r - 1.0, 0.0)]
            names += ["ridge", "ridge>1"]
        elif f == "smooth":
            cols.append(_logit(ndi.gaussian_filter(p, SMOOTH_SIGMA, mode="reflect")))
            names.append("smooth")
        elif f == "sigma":
            if sigma is None:
                raise ErrorModelError("the error model uses the sigma map; pass sigma=")
            cols.append(_check_map("sigma", sigma, p.shape))
            names.append("sigma")
        elif f == "tta":
            if tta_disagreement is None:
                raise ErrorModelError("the error model uses the D4 TTA disagreement "
                                      "|p_d4 - p_none|; pass tta_disagreement=")
            d = np.abs(_check_map("tta_disagreement", tta_disagreement, p.shape))
            cols += [d, np.sqrt(d)]
            names += ["tta", "sqrt_tta"]
    X = np.stack([c.ravel() for c in cols], axis=1)
    return X, names


def pixel_errors(prob, mask, threshold: float | None = None, *, predicted=None) -> np.ndarray:
    """Where the binarised map disagrees with the truth (bool ``(H, W)``).

    ``predicted`` (a bool map) wins; else ``prob >= threshold``.
    """
    from ..metrics.grainmap import as_bool_mask

    p = np.asarray(prob)
    m = as_bool_mask(mask, shape=p.shape)
    return _predicted(p, threshold, predicted) != m


def _predicted(prob: np.ndarray, threshold, predicted) -> np.ndarray:
    if predicted is not None:
        b = np.asarray(predicted)
        if b.shape != prob.shape or b.dtype != bool:
            raise ErrorModelError(f"predicted must be a bool map of shape {prob.shape}")
        return b
    if threshold is None:
        raise ErrorModelError("pass threshold= or predicted= (the binarised map)")
    return np.asarray(prob) >= float(threshold)


def fit_error_model(probs: Sequence, masks: Sequence, thresholds=None, *,
                    features: Sequence[str] = DEFAULT_FEATURES, sigmas: Sequence | None = None,
                    tta_disagreements: Sequence | None = None, stride: int = 2,
                    max_iter: int = 30) -> dict[str, Any]:
    """Fit the error model on calibration maps and their hand-drawn masks.

    The recalibrated boundary probability ``q`` is a logistic regression of the mask
    on :func:`error_features`; the error map follows from ``q`` and the binarised map
    (module docstring). Thresholds are not needed for the fit (``q`` is
    threshold-free); they are recorded (their mean) as the default operating point.

    Parameters
    ----------
    probs, masks : sequence of arrays
        ``(H, W)`` probability maps and boundary masks (any mask encoding of
        :func:`napari_srmat.metrics.grainmap.as_bool_mask`).
    thresholds : float or sequence of float, optional
        The operating point(s) the maps are binarised with (recorded).
    features : sequence of str
        Feature groups (:data:`FEATURES`).
    sigmas, tta_disagreements : sequence of arrays, optional
        Needed by the ``sigma`` / ``tta`` groups.
    stride : int
        Fit on every ``stride``-th pixel in each direction (a fixed grid, no
        randomness); 1 uses every pixel.
    max_iter : int
        Newton iterations at most.

    Returns
    -------
    dict
        JSON-serialisable parameters for :func:`error_probability`.
    """
    from ..metrics.grainmap import as_bool_mask

    probs = list(probs)
    masks = list(masks)
    if not probs or len(probs) != len(masks):
        raise ErrorModelError(f"need as many masks as probability maps, got {len(probs)} and "
                              f"{len(masks)}")
    stride = int(stride)
    if stride < 1:
        raise ErrorModelError(f"stride must be >= 1, got {stride}")
    blocks, ys = [], []
    names: list[str] = []
    for i, (p, m) in enumerate(zip(probs, masks)):
        p = np.asarray(p)
        X, names = error_features(
            p, features, sigma=None if sigmas is None else sigmas[i],
            tta_disagreement=None if tta_disagreements is None else tta_disagreements[i])
        keep = np.zeros(p.shape, bool)
        keep[::stride, ::stride] = True
        keep = keep.ravel()
        blocks.append(X[keep])
        ys.append(as_bool_mask(m, shape=p.shape).ravel()[keep])
    X = np.concatenate(blocks)
    y = np.concatenate(ys).astype(np.float64)
    if y.min() == y.max():
        raise ErrorModelError("the masks are all boundary or all background: nothing to fit")
    # hinges with too little support beyond them are left out (coefficient 0)
    used = np.array([not nm.startswith("logit>") or int(np.sum(X[:, j] > 0)) >= MIN_KNOT_PIXELS
                     for j, nm in enumerate(names)])
    X = X[:, used]
    # standardise for a well-conditioned Newton step; mapped back afterwards
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale == 0] = 1.0
    Z = np.concatenate([np.ones((len(X), 1)), (X - mean) / scale], axis=1)
    n, k = Z.shape
    lam = L2_PER_PIXEL * n * np.r_[0.0, np.ones(k - 1)]
    w = np.zeros(k)
    w[0] = np.log(y.mean() / (1 - y.mean()))
    for _ in range(int(max_iter)):
        eta = Z @ w
        q = 0.5 * (1.0 + np.tanh(0.5 * eta))
        grad = np.einsum("ni,n->i", Z, q - y) + lam * w
        zw = Z * np.sqrt(q * (1 - q))[:, None]
        hess = np.einsum("ni,nj->ij", zw, zw) + np.diag(lam + 1e-12)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-9:
            break
    coef_used = w[1:] / scale
    intercept = w[0] - float(np.sum(coef_used * mean))
    coef = np.zeros(len(names))
    coef[used] = coef_used
    if thresholds is None:
        thr = None
    else:
        t = np.atleast_1d(np.asarray(thresholds, np.float64))
        thr = round(float(t.mean()), PARAM_DECIMALS)
    return {
        "version": PARAMS_VERSION,
        "kind": "logistic_recalibration",
        "features": list(features),
        "columns": names,
        "coef": [round(float(c), PARAM_DECIMALS) for c in coef],
        "intercept": round(float(intercept), PARAM_DECIMALS),
        "threshold": thr,
        "n_pixels": int(n),
        "n_maps": len(probs),
        "stride": stride,
        "min_knot_pixels": MIN_KNOT_PIXELS,
        "constants": {"logit_clip": LOGIT_CLIP, "logit_knots": list(LOGIT_KNOTS),
                      "ridge_size": RIDGE_SIZE, "smooth_sigma": SMOOTH_SIGMA},
    }


def check_error_model(params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate error-model parameters (e.g. read from a checkpoint config).

    Raises
    ------
    ErrorModelError
        Another version, unknown features, columns or constants that differ from this
        code, or coefficients that are not finite numbers.
    """
    if not isinstance(params, Mapping):
        raise ErrorModelError(f"error-model parameters must be a dict, got {type(params).__name__}")
    if params.get("version") != PARAMS_VERSION:
        raise ErrorModelError(f"error-model version {params.get('version')!r} is not "
                              f"{PARAMS_VERSION}")
    feats = params.get("features")
    if not isinstance(feats, list) or not feats or any(f not in FEATURES for f in feats):
        raise ErrorModelError(f"error-model features must be a list of {list(FEATURES)}, got "
                              f"{feats!r}")
    _, names = error_features(np.full((3, 3), 0.5), feats, sigma=np.ones((3, 3)),
                              tta_disagreement=np.zeros((3, 3)))
    if params.get("columns") != names:
        raise ErrorModelError("error-model columns do not match this version of the features; "
                              "refit it")
    const = {"logit_clip": LOGIT_CLIP, "logit_knots": list(LOGIT_KNOTS),
             "ridge_size": RIDGE_SIZE, "smooth_sigma": SMOOTH_SIGMA}
    if params.get("constants") != const:
        raise ErrorModelError("error-model feature constants differ from this code; refit it")
    coef = params.get("coef")
    nums = [*coef, params.get("intercept")] if isinstance(coef, list) else None
    if (nums is None or len(coef) != len(names)
            or not all(isinstance(c, (int, float)) and not isinstance(c, bool)
                       and np.isfinite(c) for c in nums)):
        raise ErrorModelError(f"error-model coef must be {len(names)} finite numbers plus a "
                              "finite intercept")
    t = params.get("threshold")
    if t is not None and not (isinstance(t, (int, float)) and 0.0 <= t <= 1.0):
        raise ErrorModelError(f"error-model threshold must be in [0, 1] or null, got {t!r}")
    return dict(params)


def calibrated_probability(prob, params: Mapping[str, Any], *, sigma=None,
                           tta_disagreement=None) -> np.ndarray:
    """Recalibrated boundary probability ``q = P(boundary | features)`` (float32 ``(H, W)``)."""
    params = check_error_model(params)
    p = np.asarray(prob)
    X, _ = error_features(p, params["features"], sigma=sigma, tta_disagreement=tta_disagreement)
    eta = X @ np.asarray(params["coef"], np.float64) + float(params["intercept"])
    q = 0.5 * (1.0 + np.tanh(0.5 * eta))
    return q.reshape(p.shape).astype(np.float32)


def error_probability(prob, params: Mapping[str, Any], *, threshold: float | None = None,
                      predicted=None, sigma=None, tta_disagreement=None) -> np.ndarray:
    """Probability that each pixel of the binarised map is wrong.

    Parameters
    ----------
    prob : array
        ``(H, W)`` boundary probability.
    params : dict
        From :func:`fit_error_model`.
    threshold : float, optional
        Operating point: predicted boundary = ``prob >= threshold``. Default: the
        threshold recorded in ``params``.
    predicted : array of bool, optional
        The binarised map itself (e.g. from a per-image threshold rule); wins over
        ``threshold``.
    sigma, tta_disagreement : array, optional
        Needed when the model uses them.

    Returns
    -------
    ndarray
        float32 ``(H, W)`` in [0, 1].
    """
    params = check_error_model(params)
    p = np.asarray(prob)
    q = calibrated_probability(p, params, sigma=sigma, tta_disagreement=tta_disagreement)
    if predicted is None and threshold is None:
        threshold = params.get("threshold")
    b = _predicted(p, threshold, predicted)
    return np.where(b, 1.0 - q, q).astype(np.float32)


def naive_error_probability(prob, threshold: float | None = None, *,
                            predicted=None) -> np.ndarray:
    """The error probability ``p`` itself implies: ``1 - p`` on predicted boundary, else ``p``.

    Exact if ``p`` were calibrated; the baseline of the reliability diagram.
    """
    p = np.asarray(prob, np.float64)
    b = _predicted(p, threshold, predicted)
    return np.where(b, 1.0 - p, p).astype(np.float32)


def _scored(name: str, values, label_name: str, labels) -> tuple[np.ndarray, np.ndarray]:
    """``values`` as finite float64 and ``labels`` as bool, both flat and of one size
    (ValueError naming them otherwise): the inputs of :func:`roc_auc` and
    :func:`reliability_curve`."""
    v = np.asarray(values, np.float64).ravel()
    y = np.asarray(labels, bool).ravel()
    if v.shape != y.shape:
        raise ValueError(f"{name} and {label_name} sizes differ: {v.size} vs {y.size}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return v, y


def roc_auc(score, label) -> float:
    """ROC-AUC of ``score`` as a detector of ``label`` (ties count one half).

    The Mann-Whitney statistic with mid-ranks, so it does not depend on the order of
    tied scores. ``nan`` when ``label`` has one class only; a score that is NaN or
    infinite is refused (ValueError).
    """
    from scipy.stats import rankdata

    s, y = _scored("score", score, "label", label)
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(s)  # average ranks for ties
    return float((r[y].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def reliability_curve(prob, outcome, n_bins: int = ECE_BINS) -> dict[str, np.ndarray]:
    """Reliability diagram data with equal-width bins on [0, 1].

    Parameters
    ----------
    prob : array
        Predicted probabilities of the event.
    outcome : array of bool
        Whether the event happened.
    n_bins : int
        Number of equal-width bins (bin ``i`` is ``[i/n, (i+1)/n)``, the last one
        closed); an integer >= 1.

    Returns
    -------
    dict
        ``edges`` (n_bins + 1), ``count``, ``mean_predicted`` and ``frequency`` per bin
        (``nan`` for empty bins).
    """
    from ..errors import check_number

    n_bins = check_number("n_bins", n_bins, lo=1, integer=True)
    p, y = _scored("prob", prob, "outcome", outcome)
    p = np.clip(p, 0.0, 1.0)
    idx = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(idx, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(idx, p, n_bins) / count
        freq = np.bincount(idx, y.astype(np.float64), n_bins) / count
    return {"edges": np.linspace(0.0, 1.0, n_bins + 1), "count": count.astype(np.int64),
            "mean_predicted": mean_p, "frequency": freq}


def expected_calibration_error(prob, outcome, n_bins: int = ECE_BINS) -> float:
    """ECE: ``sum_b (n_b / N) |mean predicted_b - frequency_b|`` over equal-width bins.

    ``nan`` without any value (no data is not a perfect calibration).
    """
    c = reliability_curve(prob, outcome, n_bins)
    n = c["count"]
    if not n.sum():
        return float("nan")
    ok = n > 0
    return float(np.sum(n[ok] / n.sum() * np.abs(c["mean_predicted"][ok] - c["frequency"][ok])))
