"""Operating points: rules that turn a boundary probability map into a boundary map.

A model ranks pixels well on micrographs it has never seen, but one global threshold
does not transfer between scans: contrast, colour and the faintness of boundaries
differ, so the same probability means a different thing from one image to the next.
The rules here pick each image's binarisation, some from the image's own probability
statistics. Every rule is a pure function ``apply(prob, params) -> bool map`` with a
name; its parameters are fitted on calibration maps (e.g. the validation split, or
the training folds of a cross-validation) by :func:`fit_threshold_rule`.

Rules (``RULES``):

``global``
    ``prob >= t``; ``t`` = max-F1 over the pooled calibration pixels (the paper's
    protocol and the shipped default).
``heyn_global``
    ``prob >= t``; ``t`` minimises the mean per-image ℓ̄ error on the calibration maps.
``heyn_pooled``
    ``prob >= t``; ``t`` minimises the pooled ℓ̄ error (``heyn_calibrated_threshold``).
``quantile``
    per image, the top fraction ``q`` of pixels (``t_i`` = the ``1 - q`` quantile of the
    image's probabilities); ``q`` fitted for ℓ̄.
``density``
    per image, ``t_i`` such that the skeleton of ``prob >= t_i`` has the boundary
    density (skeleton pixels per pixel) of the calibration ground truth; no ℓ̄ fit.
``mass``
    per image, as many pixels as ``alpha`` times the image's probability mass
    ``sum(prob)`` (an estimate of its boundary pixel count): fraction
    ``q_i = alpha * mean(prob_i)``; ``alpha`` fitted for ℓ̄.
``otsu``
    per image, Otsu's threshold of the probability map; nothing fitted.
``otsu_scaled``
    per image, ``c * otsu(prob_i)``; ``c`` fitted for ℓ̄.
``relative``
    per image, ``c * percentile(prob_i, 99)``: relative to the image's strongest
    boundaries; ``c`` fitted for ℓ̄.
``regression``
    per image, ``t_i`` predicted by a ridge regression from the map's mean, 95th
    percentile and Otsu threshold, fitted to the calibration images' own best
    thresholds (the ones whose ℓ̄ is closest to the truth).
``hysteresis``
    ``skimage.filters.apply_hysteresis_threshold(prob, low, high)``: faint boundary
    pixels are kept where they connect to confident ones; ``low, high`` fitted for ℓ̄.
``closing``
    ``prob >= t`` then a binary closing with a disk of radius ``r`` (closes small gaps
    in boundaries); ``t, r`` fitted for ℓ̄.
``topology``
    per image, the threshold at which the skeleton of ``prob >= t`` looks most like a
    closed network of thin boundaries: on a grid of thresholds it minimises
    ``100 * endpoints / L + w * area / L`` (``L`` skeleton length; dangling ends of an
    open network at high thresholds against the mean width ``area / L`` of the bands a
    too-low threshold gives, whose skeletons have no boundary topology), then
    ``t_i = c * t_topo``; ``w, c`` fitted for ℓ̄.
``stable``
    per image, the threshold in the band ``[lo, lo + width]`` where ℓ̄ (the protocol's
    lines) changes least with the threshold (the plateau of ``|d log ℓ̄ / d t|``);
    ``lo, width`` fitted for ℓ̄.
``bridge``
    ``otsu_scaled`` (``t_i = c * otsu``), then gap closing: from every endpoint of the
    skeleton the map grows for ``r`` steps along pixels with ``prob >= f * t_i`` (along
    the probability ridge), joining boundaries broken by faint stretches; ``c, f, r``
    fitted for ℓ̄.
``prune``
    ``otsu_scaled``, then spur pruning of the skeleton: branches shorter than ``k``
    px that end in an endpoint and fragments shorter than about ``2 k`` px are
    removed; ``c, k`` fitted for ℓ̄.
``separating``
    ``otsu_scaled``, then only the boundary pixels that separate two regions
    (:func:`separating_boundaries`): spurs and loose fragments of any length are
    dropped; ``c`` fitted for ℓ̄ (evaluated, not adopted: docs/boundaries.md).
``watershed``
    closed one-pixel boundaries (:func:`watershed_boundaries`): watershed basins of the
    map from its h-minima, merged across every edge whose mean probability is below
    ``c * Otsu``; ``c, h`` fitted for ℓ̄ (evaluated, not adopted: docs/boundaries.md).

Boundary continuity (:func:`boundary_continuity`): skeleton endpoints per 100 px of
skeleton (gaps per boundary length; a closed network has none) and the number of
skeleton fragments.

ℓ̄ (the mean lineal intercept) is always measured with the evaluation protocol of
:mod:`napari_srmat.edges.evaluate`: skeletonised maps, ``M = 50`` random lines, seed
1234, 5 % margin (:data:`HEYN_KW`). Per-image error: mean over images of
``|l_pred - l_true| / l_true``; pooled: ``|mean l_pred - mean l_true| / mean l_true``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import compared_value
from ..metrics.heyn import (
    HEYN_MARGIN,
    HEYN_N_LINES,
    HEYN_SEED,
    MAX_BOUNDARY_FRACTION,
    MAX_THINNED_BOUNDARY_FRACTION,
)

__all__ = [
    "BoundaryThresholds",
    "DEFAULT_TTA",
    "TTA_MODES",
    "HEYN_KW",
    "RULES",
    "ThresholdRule",
    "InterceptTable",
    "mean_intercept",
    "apply_threshold_rule",
    "image_threshold",
    "RULE_REGION_PX",
    "REGION_THRESHOLD_RATIO",
    "region_edges",
    "binarize_by_region",
    "fit_threshold_rule",
    "intercept_errors",
    "boundary_continuity",
    "separating_boundaries",
    "degenerate_threshold_warning",
]


#: Test-time augmentation modes of the boundary model.
TTA_MODES = ("none", "d4")
#: The TTA mode of checkpoints whose config does not name one (the shipped checkpoint's
#: ``config["tta"]`` is this mode); ``edges.infer.DEFAULT_TTA`` is the same constant.
DEFAULT_TTA = "none"
#: The operating point used when none is asked for, chosen out of fold by the decision
#: rule of docs/boundaries.md ("An operating point per image"): the threshold rule of
#: ``BoundaryModel.binarize`` (when the checkpoint stores its calibrated parameters for
#: the TTA mode in use; else ``"global"``); ``edges.infer.DEFAULT_THRESHOLD_RULE`` is the
#: same constant (here, so that the CLI's parsers are built without loading torch).
DEFAULT_THRESHOLD_RULE = "otsu_scaled"


def degenerate_threshold_warning(threshold: float, boundary_fraction: float | None
                                 ) -> str | None:
    """Why a trained model's max-F1 threshold gives a doubtful boundary map, or None.

    The one rule of ``srmat edges train`` (its warning, on stderr and in ``--json``'s
    ``warnings``) and the Train / Evaluate widget (its notification and status line),
    matched to grain size's rule on probability maps (``metrics.heyn``): a threshold
    that is 0 (the lowest threshold the max-F1 search tries: every pixel) or marks more
    than :data:`~napari_srmat.metrics.heyn.MAX_THINNED_BOUNDARY_FRACTION` of the
    validation pixels boundary binarises to a map grain size refuses; a model trained
    too little (its probabilities not yet separating boundary from grain) chooses it.
    Between :data:`~napari_srmat.metrics.heyn.MAX_BOUNDARY_FRACTION` and that share the
    map is measured thinned with a warning, and this says so more softly.

    Parameters
    ----------
    threshold : float
        The chosen threshold (the best checkpoint's ``"threshold"``).
    boundary_fraction : float or None
        Fraction of the validation pixels with probability ``>= threshold`` (None:
        not known, e.g. a run resumed from a history without it).

    Returns
    -------
    str or None

    Examples
    --------
    >>> degenerate_threshold_warning(0.0, 1.0)[:64]
    'the model is not trained enough: threshold 0.000 marks every pix'
    >>> degenerate_threshold_warning(0.3, 0.6)[:52]
    'boundaries over 50 % of the validation pixels at the'
    >>> degenerate_threshold_warning(0.42, 0.08) is None
    True
    """
    every = threshold <= 0.0 or (boundary_fraction is not None and boundary_fraction >= 1.0)
    if not every and (boundary_fraction is None
                      or boundary_fraction <= MAX_BOUNDARY_FRACTION):
        return None
    share = 1.0 if boundary_fraction is None else boundary_fraction
    if not every and share <= MAX_THINNED_BOUNDARY_FRACTION:
        # the share shown stands above the limit shown (75.04 % is not "75 %")
        pct = compared_value(100 * share, ">", 100 * MAX_BOUNDARY_FRACTION, decimals=0)
        return (f"boundaries over {100 * MAX_BOUNDARY_FRACTION:g} % of the validation "
                f"pixels at the chosen threshold: threshold {threshold:.3f} marks {pct} %; "
                "grain size thins such maps and warns; close boundaries may merge")
    pct = compared_value(100 * share, ">", 100 * MAX_THINNED_BOUNDARY_FRACTION, decimals=0)
    marks = ("every pixel boundary" if every
             else f"{pct} % of the validation pixels boundary")
    of = (f"{pct} % of the validation pixels; " if every else "")
    return (f"the model is not trained enough: threshold {threshold:.3f} marks {marks} "
            f"({of}grain size refuses a map over "
            f"{100 * MAX_THINNED_BOUNDARY_FRACTION:g} %); train longer")


#: The checkpoint config keys :class:`BoundaryThresholds` reads and writes.
_PROB_KEYS = ("threshold", "threshold_heyn", *(f"threshold_{m}" for m in TTA_MODES))
_CONFIG_KEYS = (*_PROB_KEYS, "threshold_tta", "threshold_heyn_warnings", "threshold_rules",
                "error_model", "tta")


@dataclass(frozen=True)
class BoundaryThresholds:
    """The operating points a boundary checkpoint stores, as one typed object.

    It reads and writes exactly the ``config.json`` keys of a checkpoint (one field per
    key; ``None`` = key absent, so :meth:`to_config` gives back what
    :meth:`from_config` read) and is the one place they are validated.

    Attributes
    ----------
    threshold : float or None
        ``"threshold"``: max-F1 threshold on the validation split, chosen under
        ``threshold_tta`` (0.5 when absent).
    threshold_tta : str or None
        ``"threshold_tta"``: the TTA mode ``threshold`` and ``heyn`` were chosen under
        (``"none"`` when absent).
    per_mode : dict
        ``"threshold_<mode>"``: the max-F1 threshold of each calibrated TTA mode.
    heyn : float or None
        ``"threshold_heyn"``: the threshold minimising the Heyn ℓ̄ error (under
        ``threshold_tta``).
    heyn_warnings : list or None
        ``"threshold_heyn_warnings"``: why the Heyn calibration is doubtful.
    rules : dict or None
        ``"threshold_rules"``: ``{tta mode: {rule name: parameters}}`` (:data:`RULES`).
    error_model : dict or None
        ``"error_model"``: ``{tta mode: error-model parameters}``
        (:mod:`napari_srmat.edges.uncertainty`).
    tta : str or None
        ``"tta"``: the checkpoint's default TTA mode (:data:`DEFAULT_TTA` when absent).

    Examples
    --------
    >>> t = BoundaryThresholds.from_config({"threshold": 0.6, "threshold_d4": 0.55})
    >>> t.max_f1("none"), t.max_f1("d4"), t.to_config()
    (0.6, 0.55, {'threshold': 0.6, 'threshold_d4': 0.55})
    """

    threshold: float | None = None
    threshold_tta: str | None = None
    per_mode: Mapping[str, float] = field(default_factory=dict)
    heyn: float | None = None
    heyn_warnings: list | None = None
    rules: Mapping[str, Mapping[str, dict]] | None = None
    error_model: Mapping[str, dict] | None = None
    tta: str | None = None

    def __post_init__(self) -> None:
        self._validate()

    # ---------------------------------------------------------------- config.json
    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, source: Any = None
                    ) -> BoundaryThresholds:
        """The thresholds stored in a checkpoint config (other keys are ignored).

        Raises
        ------
        napari_srmat.checkpoint.CheckpointError
            A stored value is not valid (the message names ``source`` and the key).
        """
        from ..checkpoint import CheckpointError

        try:
            # a stored key means a value: null is refused, not read as "absent"
            for key in _CONFIG_KEYS:
                if key in config and config[key] is None:
                    what = ("a number in [0, 1]" if key in _PROB_KEYS
                            else "given a value (leave the key out instead)")
                    raise ValueError(f"{key!r} must be {what}, got None")
            return cls(
                threshold=config.get("threshold"),
                threshold_tta=config.get("threshold_tta"),
                per_mode={m: config[f"threshold_{m}"] for m in TTA_MODES
                          if f"threshold_{m}" in config},
                heyn=config.get("threshold_heyn"),
                heyn_warnings=config.get("threshold_heyn_warnings"),
                rules=config.get("threshold_rules"),
                error_model=config.get("error_model"),
                tta=config.get("tta"),
            )
        except ValueError as exc:
            where = "config.json" if source is None else f"checkpoint {source}: config.json"
            raise CheckpointError(f"{where} {exc}") from None

    def to_config(self) -> dict[str, Any]:
        """The ``config.json`` keys of these thresholds (absent fields are left out)."""
        out: dict[str, Any] = {}
        for key, value in (("threshold", self.threshold), ("threshold_tta", self.threshold_tta),
                           ("threshold_heyn", self.heyn),
                           ("threshold_heyn_warnings", self.heyn_warnings),
                           ("threshold_rules", self.rules), ("error_model", self.error_model),
                           ("tta", self.tta)):
            if value is not None:
                out[key] = value
        for mode, value in self.per_mode.items():
            out[f"threshold_{mode}"] = value
        return out

    def _validate(self) -> None:
        import math

        def check_prob(key: str, value: Any) -> None:
            ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
                  and math.isfinite(value) and 0.0 <= value <= 1.0)
            if not ok:
                raise ValueError(f"{key!r} must be a number in [0, 1], got {value!r}")

        def check_mode(key: str, value: Any) -> None:
            if value not in TTA_MODES:
                raise ValueError(f"{key!r} must be one of {TTA_MODES}, got {value!r}")

        if self.threshold is not None:
            check_prob("threshold", self.threshold)
        if self.heyn is not None:
            check_prob("threshold_heyn", self.heyn)
        if not isinstance(self.per_mode, Mapping):
            raise ValueError(f"'threshold_<mode>' must map a tta mode {TTA_MODES} to a "
                             f"threshold, got {self.per_mode!r}")
        for mode, value in self.per_mode.items():
            check_mode("threshold_<mode>", mode)
            check_prob(f"threshold_{mode}", value)
        if self.threshold_tta is not None:
            check_mode("threshold_tta", self.threshold_tta)
        if self.tta is not None:
            check_mode("tta", self.tta)
        if self.heyn_warnings is not None and not isinstance(self.heyn_warnings, list):
            raise ValueError("'threshold_heyn_warnings' must be a list of strings, got "
                             f"{self.heyn_warnings!r}")
        rules = {} if self.rules is None else self.rules
        if not isinstance(rules, Mapping) or not all(
                isinstance(v, Mapping) and all(isinstance(p, Mapping) for p in v.values())
                for v in rules.values()):
            raise ValueError("'threshold_rules' must map a tta mode to {rule name: "
                             "parameters}")
        errs = {} if self.error_model is None else self.error_model
        if not isinstance(errs, Mapping) or not all(m in TTA_MODES for m in errs):
            raise ValueError(f"'error_model' must map a tta mode {TTA_MODES} to error-model "
                             "parameters")
        from .uncertainty import ErrorModelError, check_error_model

        for mode, params in errs.items():
            try:
                check_error_model(params)
            except ErrorModelError as exc:
                raise ValueError(f"error_model[{mode!r}]: {exc}") from None

    # ---------------------------------------------------------------- per TTA mode
    @property
    def default_tta(self) -> str:
        """The TTA mode a model uses unless told otherwise."""
        return DEFAULT_TTA if self.tta is None else self.tta

    def max_f1(self, mode: str) -> float:
        """The max-F1 (global) threshold for TTA ``mode``.

        ``threshold`` (0.5 when absent), unless it was chosen under another mode and
        ``threshold_<mode>`` is stored: a threshold does not transfer exactly between
        TTA modes.
        """
        t = 0.5 if self.threshold is None else self.threshold
        if (self.threshold_tta or "none") != mode and mode in self.per_mode:
            t = self.per_mode[mode]
        return float(t)

    def heyn_threshold(self, mode: str) -> float | None:
        """The Heyn-calibrated threshold for TTA ``mode`` (None when not calibrated)."""
        if self.heyn is not None and (self.threshold_tta or "none") == mode:
            return float(self.heyn)
        return None

    def rule_params(self, mode: str) -> dict[str, dict]:
        """``{rule name: parameters}`` calibrated for TTA ``mode`` (maybe empty)."""
        return {k: dict(v) for k, v in (self.rules or {}).get(mode, {}).items()}

    def error_model_for(self, mode: str) -> dict[str, Any] | None:
        """The error-model parameters for TTA ``mode``, if fitted."""
        params = (self.error_model or {}).get(mode)
        return None if params is None else dict(params)


#: The Heyn protocol of the boundary evaluation (same lines for prediction and truth).
HEYN_KW = {"pattern": "random", "n_lines": HEYN_N_LINES, "seed": HEYN_SEED, "margin": HEYN_MARGIN,
           "skeletonize": True}

#: Threshold resolution of the ℓ̄ look-up used while fitting scalar-threshold rules.
FIT_STEP = 0.005
_T_MIN, _T_MAX = 0.01, 0.99


def mean_intercept(binary: np.ndarray) -> float | None:
    """ℓ̄ (px) of a binary boundary map with the protocol's lines (None when not valid:
    more than :data:`~napari_srmat.metrics.heyn.MAX_BOUNDARY_FRACTION` boundary before
    thinning is no operating point)."""
    from ..metrics.heyn import MAX_BOUNDARY_FRACTION, measure_intercepts

    return measure_intercepts(np.asarray(binary, bool), **HEYN_KW,
                              max_fraction_before_thinning=MAX_BOUNDARY_FRACTION
                              ).mean_intercept_px


def _skeleton_density(binary: np.ndarray) -> float:
    from skimage.morphology import skeletonize

    b = np.asarray(binary, bool)
    return float(skeletonize(b).sum()) / b.size if b.any() else 0.0


def _prob(prob: Any) -> np.ndarray:
    p = np.asarray(prob, dtype=np.float32)
    if p.ndim == 3 and p.shape[-1] == 1:
        p = p[..., 0]
    if p.ndim != 2:
        raise ValueError(f"probability map must be 2-D, got shape {p.shape}")
    return p


def _clip_t(t: float) -> float:
    return float(min(max(t, _T_MIN), _T_MAX))


# ----------------------------------------------------------------- per-image thresholds
def _t_global(prob, params):
    return float(params["threshold"])


def _t_quantile(prob, params):
    return _clip_t(float(np.quantile(prob, 1.0 - float(params["q"]))))


def _t_mass(prob, params):
    q = float(np.clip(float(params["alpha"]) * float(prob.mean()), 1e-4, 0.5))
    return _clip_t(float(np.quantile(prob, 1.0 - q)))


def _otsu(prob) -> float:
    from skimage.filters import threshold_otsu

    if float(prob.max()) - float(prob.min()) < 1e-6:
        return 0.5
    return float(threshold_otsu(prob, nbins=256))


def _t_otsu(prob, params):
    return _clip_t(_otsu(prob))


def _t_otsu_scaled(prob, params):
    return _clip_t(float(params["c"]) * _otsu(prob))


def _t_relative(prob, params):
    return _clip_t(float(params["c"]) * float(np.percentile(prob, 99.0)))


def _t_density(prob, params):
    """Highest threshold whose skeleton density reaches ``params["density"]``.

    The density rises as the threshold falls until the binary map fills up and its
    skeleton shrinks again, so the crossing is searched from the top: a coarse scan
    downwards, then bisection inside the bracket. When no threshold reaches the
    target, the one with the densest skeleton is used.
    """
    target = float(params["density"])
    grid = np.round(np.arange(0.95, 0.049, -0.05), 3)
    dens = []
    for t in grid:
        d = _skeleton_density(prob >= t)
        dens.append(d)
        if d >= target:
            break
    else:
        return float(grid[int(np.argmax(dens))])
    if len(dens) == 1:
        return float(grid[0])
    lo, hi = float(grid[len(dens) - 1]), float(grid[len(dens) - 2])  # d(lo) >= target > d(hi)
    for _ in range(6):
        mid = 0.5 * (lo + hi)
        if _skeleton_density(prob >= mid) >= target:
            lo = mid
        else:
            hi = mid
    return lo


# ------------------------------------------------------------------------ topology
#: Threshold grid of the curve-based rules (``topology``, ``stable``).
CURVE_GRID = tuple(float(t) for t in np.round(np.arange(0.1, 0.901, 0.025), 3))
#: Endpoints this close to the image border are not gaps (boundary continuity).
BORDER_PX = 2
_NEIGHBOURS = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]], np.uint8)


def _skeleton(binary: np.ndarray) -> np.ndarray:
    from skimage.morphology import skeletonize

    b = np.asarray(binary, bool)
    return skeletonize(b) if b.any() else b


def _neighbour_count(skel: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return ndimage.correlate(skel.astype(np.uint8), _NEIGHBOURS, mode="constant")


def _endpoints(skel: np.ndarray) -> np.ndarray:
    """Skeleton pixels with exactly one 8-neighbour (isolated pixels count too)."""
    return skel & (_neighbour_count(skel) <= 1)


def boundary_continuity(binary: Any, *, skeletonize: bool = True) -> dict[str, float]:
    """Gaps per boundary length of a boundary map.

    Parameters
    ----------
    binary : array (H, W) of bool
        Boundary map (thick maps are skeletonised first unless ``skeletonize=False``).

    Returns
    -------
    dict
        ``length_px`` (skeleton pixels), ``endpoints`` (skeleton pixels with one
        8-neighbour or none, more than :data:`BORDER_PX` px inside the image: dangling
        ends, i.e. about two per gap; boundaries that leave the image end there
        without a gap), ``endpoints_per_100px`` and ``fragments`` (8-connected
        skeleton components).
    """
    from scipy import ndimage

    b = np.asarray(binary, bool)
    s = _skeleton(b) if skeletonize else b
    n = int(s.sum())
    e = _endpoints(s)
    m = BORDER_PX
    ep = int(e[m:-m, m:-m].sum()) if min(e.shape) > 2 * m else 0
    return {"length_px": n, "endpoints": ep,
            "endpoints_per_100px": 100.0 * ep / n if n else None,
            "fragments": int(ndimage.label(s, np.ones((3, 3), bool))[1]) if n else 0}


def _digest(prob: np.ndarray) -> str:
    p = np.ascontiguousarray(prob, dtype=np.float32)
    return hashlib.sha1(p.tobytes() + str(p.shape).encode()).hexdigest()


_CURVE_CACHE: dict[tuple[str, str], Any] = {}
_CURVE_CACHE_MAX = 512


def _cached_curve(kind: str, prob: np.ndarray, compute: Callable) -> Any:
    """A per-image curve over :data:`CURVE_GRID`, memoised by the map's content.

    The rules stay pure functions of ``prob``: the cache only avoids recomputing the
    same curve for every candidate parameter while fitting.
    """
    key = (kind, _digest(prob))
    if key not in _CURVE_CACHE:
        if len(_CURVE_CACHE) >= _CURVE_CACHE_MAX:
            _CURVE_CACHE.pop(next(iter(_CURVE_CACHE)))
        _CURVE_CACHE[key] = compute(prob)
    return _CURVE_CACHE[key]


def clear_curve_cache() -> None:
    """Forget the memoised per-image curves (for timing a rule from scratch)."""
    _CURVE_CACHE.clear()


def _topology_curve(prob: np.ndarray) -> np.ndarray:
    """``(len(CURVE_GRID), 3)``: skeleton endpoints, skeleton length, area per threshold."""
    out = np.zeros((len(CURVE_GRID), 3))
    for j, t in enumerate(CURVE_GRID):
        b = prob >= t
        s = _skeleton(b)
        out[j] = (int(_endpoints(s).sum()), int(s.sum()), int(b.sum()))
    return out


def _t_topology(prob, params):
    c = _cached_curve("topology", prob, _topology_curve)
    n = np.maximum(c[:, 1], 1.0)
    crit = np.where(c[:, 1] > 0, 100.0 * c[:, 0] / n + float(params["w"]) * c[:, 2] / n,
                    np.inf)
    return _clip_t(float(params["c"]) * CURVE_GRID[int(np.argmin(crit))])


def _intercept_curve(prob: np.ndarray) -> np.ndarray:
    """log ℓ̄ of ``prob >= t`` over :data:`CURVE_GRID` (NaN where not valid)."""
    out = np.full(len(CURVE_GRID), np.nan)
    for j, t in enumerate(CURVE_GRID):
        lv = mean_intercept(prob >= t)
        if lv is not None and lv > 0:
            out[j] = np.log(lv)
    return out


def _t_stable(prob, params):
    ll = _cached_curve("intercept", prob, _intercept_curve)
    g = np.asarray(CURVE_GRID)
    lo, hi = float(params["lo"]), float(params["lo"]) + float(params["width"])
    band = np.flatnonzero((g >= lo - 1e-9) & (g <= hi + 1e-9))
    # central differences of log l inside the band (one-sided at the grid ends)
    d = np.abs(np.gradient(np.where(np.isfinite(ll), ll, 50.0), g))
    d = np.where(np.isfinite(ll), d, np.inf)[band]
    if not np.isfinite(d).any():
        return _clip_t(0.5 * (lo + hi))
    return _clip_t(float(g[band[int(np.argmin(d))]]))


def _bridge(prob: np.ndarray, binary: np.ndarray, low: float, steps: int) -> np.ndarray:
    """Grow ``binary`` from its skeleton's endpoints along ``prob >= low`` for ``steps``."""
    from scipy import ndimage

    if steps <= 0 or not binary.any():
        return binary
    allowed = (prob >= low) & ~binary
    seed = _endpoints(_skeleton(binary))
    grown = ndimage.binary_dilation(seed, np.ones((3, 3), bool), iterations=int(steps),
                                    mask=allowed | seed)
    return binary | grown


def _prune(skel: np.ndarray, k: int) -> np.ndarray:
    """Remove spurs (< ``k`` px, ending in an endpoint) and fragments (< ~``2k`` px)."""
    from scipy import ndimage

    if k <= 0 or not skel.any():
        return skel
    s = skel.copy()
    for _ in range(k):  # erode every open branch by k px
        s &= ~_endpoints(s)
    # restore the main branches: grow back from the pruned skeleton's ends inside
    # the original skeleton (spurs hang off junctions, which are not ends, so they
    # stay removed)
    ends = _endpoints(s)
    back = ndimage.binary_dilation(ends, np.ones((3, 3), bool), iterations=k, mask=skel)
    return s | back


def _b_bridge(prob, params):
    t = _t_otsu_scaled(prob, params)
    b = prob >= t
    return _bridge(prob, b, float(params["f"]) * t, int(params["r"]))


def _b_prune(prob, params):
    b = _skeleton(prob >= _t_otsu_scaled(prob, params))
    return _prune(b, int(params["k"]))


def separating_boundaries(binary: np.ndarray, *, min_grain_px: int = 1) -> np.ndarray:
    """The pixels of a boundary map that separate two different regions.

    The regions between the boundaries are the grains of
    :func:`napari_srmat.metrics.grainmap.grains_from_boundaries` (4-connected, grown over
    the boundary pixels: each takes its nearest grain's label); a boundary pixel is kept
    where that label changes. A spur ending inside a grain or a loose fragment has the
    same grain on every side and disappears, however long it is; closed boundaries stay,
    as a line about 2 px wide along their middle. A closed speck (a ring around a hole)
    stays unless its hole is smaller than ``min_grain_px``.

    Parameters
    ----------
    binary : (H, W) bool
        Boundary map.
    min_grain_px : int
        Regions smaller than this count as boundary (1: every region is a grain, as the
        ``separating`` rule was evaluated; the grain map's own default is
        :data:`napari_srmat.metrics.grainmap.MIN_GRAIN_PX`).

    Returns
    -------
    (H, W) bool
        The separating part of ``binary``.

    Examples
    --------
    >>> b = np.zeros((9, 9), bool)
    >>> b[4, :] = True          # a line across: separates top from bottom
    >>> b[0:3, 6] = True        # a spur from the top edge, ending inside the top region
    >>> kept = separating_boundaries(b)
    >>> bool(kept[4].all()), bool(kept[0:3, 6].any())
    (True, False)
    """
    from skimage.segmentation import find_boundaries

    from ..metrics.grainmap import grains_from_boundaries

    b = np.asarray(binary, bool)
    grains = grains_from_boundaries(b, min_grain_px=min_grain_px)
    return b & find_boundaries(grains, mode="thick")


def _b_separating(prob, params):
    return separating_boundaries(prob >= _t_otsu_scaled(prob, params))


def _grid_separating():
    return [{"c": float(c)} for c in np.round(np.arange(0.3, 1.601, 0.025), 3)]


# ------------------------------------------------------------------------ watershed
#: Gaussian smoothing (px) of the map before its minima seed the watershed.
WATERSHED_SMOOTH_PX = 1.0


def _watershed_edges(prob: np.ndarray, h: float) -> dict[str, np.ndarray]:
    """Over-segment ``prob`` and measure every edge between two basins.

    Markers are the h-minima (depth ``h``) of the map smoothed by
    :data:`WATERSHED_SMOOTH_PX`; the watershed of ``prob`` from them leaves one-pixel
    lines (label 0) along the probability ridges. Each line pixel is assigned to the
    pair (smallest, largest) of basin labels in its 3 x 3 neighbourhood; an edge's
    strength is the mean probability of its pixels.

    Returns ``labels`` (the basins, 0 on lines), ``pairs`` ((E, 2) basin labels) and
    ``strength`` ((E,) mean probability along each edge).
    """
    from scipy import ndimage
    from skimage.morphology import h_minima
    from skimage.segmentation import watershed

    smooth = ndimage.gaussian_filter(prob, WATERSHED_SMOOTH_PX)
    markers, _ = ndimage.label(h_minima(smooth, float(h)))
    labels = watershed(prob, markers, watershed_line=True).astype(np.int64)
    lo, hi = _neighbour_label_range(labels)
    on = (labels == 0) & (hi > 0) & (lo != hi)
    big = int(labels.max()) + 1
    key = lo[on] * big + hi[on]
    uniq, inverse = np.unique(key, return_inverse=True)
    strength = (np.bincount(inverse, weights=prob[on].astype(np.float64))
                / np.bincount(inverse))
    pairs = np.stack([uniq // big, uniq % big], axis=1)
    return {"labels": labels, "pairs": pairs, "strength": strength}


def _neighbour_label_range(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Smallest and largest non-zero label in each pixel's 3 x 3 neighbourhood (the
    smallest is ``labels.max() + 1`` and the largest 0 where there is none)."""
    from scipy import ndimage

    big = int(labels.max()) + 1
    hi = ndimage.maximum_filter(labels, size=3, mode="nearest")
    lo = ndimage.minimum_filter(np.where(labels == 0, big, labels), size=3, mode="nearest")
    return lo, hi


def watershed_boundaries(prob: Any, threshold: float, *, h: float = 0.02) -> np.ndarray:
    """Closed boundaries: watershed basins of ``prob`` merged across weak edges.

    The map is over-segmented by a watershed from its h-minima; every edge between two
    basins whose mean probability is below ``threshold`` is removed (the two basins
    become one grain, in one pass: an edge is judged on its own pixels, not on what
    was merged next to it). The lines left separate two different grains, so a gap in
    a boundary is closed when the rest of the edge is strong, and a spur or a loose
    fragment inside a grain never appears.

    Evaluated as a threshold rule out of fold and not adopted: 14.9 % per-image ℓ̄ error
    against 11.0 % with ``otsu_scaled`` (a pre-stated decision, docs/boundaries.md).

    Parameters
    ----------
    prob : (H, W) array
        Boundary probability.
    threshold : float
        Smallest mean probability of an edge that is kept.
    h : float
        Depth of the minima that seed the over-segmentation.

    Returns
    -------
    (H, W) bool
        One-pixel boundary lines.

    Examples
    --------
    A vertical ridge with a gap still separates two grains:

    >>> p = np.full((32, 32), 0.05, np.float32); p[:, 15] = 0.9; p[14:18, 15] = 0.1
    >>> b = watershed_boundaries(p, 0.5)
    >>> bool(b[:, 14:17].any(axis=1).all())
    True
    """
    p = _prob(prob)
    edges = _cached_curve(f"watershed:{float(h)!r}", p, lambda q: _watershed_edges(q, h))
    labels = edges["labels"]
    root = np.arange(int(labels.max()) + 1)

    def find(a: int) -> int:
        while root[a] != a:
            root[a] = root[root[a]]
            a = root[a]
        return a

    for (a, b), s in zip(edges["pairs"], edges["strength"]):
        if s < threshold:
            ra, rb = find(int(a)), find(int(b))
            if ra != rb:
                root[max(ra, rb)] = min(ra, rb)
    final = np.array([find(a) for a in range(root.size)])[labels]
    final[labels == 0] = 0
    lo, hi = _neighbour_label_range(final)
    return (labels == 0) & (hi > 0) & (lo != hi)


def _b_watershed(prob, params):
    return watershed_boundaries(prob, _t_otsu_scaled(prob, params), h=float(params["h"]))


def _grid_watershed():
    return [{"c": float(c), "h": h} for h in (0.02, 0.05)
            for c in np.round(np.arange(0.2, 2.401, 0.05), 3)]


# ------------------------------------------------------------------------- binarisers
def _b_hysteresis(prob, params):
    from skimage.filters import apply_hysteresis_threshold

    return apply_hysteresis_threshold(prob, float(params["low"]), float(params["high"]))


def _b_closing(prob, params):
    from scipy import ndimage
    from skimage.morphology import disk

    b = prob >= float(params["threshold"])
    r = int(params["radius"])
    if r <= 0:
        return b
    pad = r + 1  # closing near the border without the border acting as foreground
    bp = np.pad(b, pad, mode="reflect")
    return ndimage.binary_closing(bp, structure=disk(r))[pad:-pad, pad:-pad]


# --------------------------------------------------------------------------- fitting
def _fit_global(table, idx):
    from .evaluate import _pooled_histogram

    hist = _pooled_histogram([table.probs[i] for i in idx], [table.masks[i] for i in idx])
    return {"threshold": float(hist.best_f1()[0])}


def _fit_density(table, idx):
    return {"density": float(np.mean([_skeleton_density(table.masks[i]) for i in idx]))}


#: Image statistics the ``regression`` rule predicts each image's threshold from.
REGRESSION_FEATURES = ("mean", "p95", "otsu")


def _features(prob) -> np.ndarray:
    return np.array([float(prob.mean()), float(np.percentile(prob, 95.0)), _otsu(prob)])


def _oracle_thresholds(table, idx) -> np.ndarray:
    """Each image's best threshold on the fitting grid (ℓ̄ closest to its truth)."""
    grid = [g["threshold"] for g in _grid_t()]
    out = []
    for i in idx:
        errs = [np.inf if (lp := table.predicted("global", {"threshold": t}, i)) is None
                else abs(lp - table.true[i]) for t in grid]
        out.append(grid[int(np.argmin(errs))])
    return np.asarray(out)


def _fit_regression(table, idx, ridge: float = 1e-2):
    """Ridge regression of each calibration image's best threshold on its statistics."""
    x = np.stack([_features(table.probs[i]) for i in idx])
    y = _oracle_thresholds(table, idx)
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = (x - mu) / sd
    a = z.T @ z + ridge * len(idx) * np.eye(z.shape[1])
    w = np.linalg.solve(a, z.T @ (y - y.mean()))
    coef = w / sd
    return {"features": list(REGRESSION_FEATURES), "coef": [float(c) for c in coef],
            "intercept": float(y.mean() - coef @ mu)}


def _t_regression(prob, params):
    if list(params["features"]) != list(REGRESSION_FEATURES):
        raise ValueError(f"regression rule parameters use features {params['features']}, "
                         f"this version computes {list(REGRESSION_FEATURES)}")
    return _clip_t(float(params["intercept"]) + float(np.dot(params["coef"], _features(prob))))


def _one_param_grid(name: str, values: np.ndarray, decimals: int) -> Callable:
    """The ``grid`` of a rule with one parameter: ``name`` over ``values`` rounded to
    ``decimals`` (the one shape of :attr:`ThresholdRule.grid` for one-parameter rules)."""
    values = np.round(values, decimals)
    return lambda: [{name: float(v)} for v in values]


_grid_t = _one_param_grid("threshold", np.arange(0.05, 0.951, 0.01), 3)


def _grid_hysteresis():
    out = []
    for high in np.round(np.arange(0.3, 0.951, 0.05), 3):
        for low in np.round(np.arange(0.1, high - 0.001, 0.05), 3):
            out.append({"low": float(low), "high": float(high)})
    return out


def _grid_closing():
    return [{"threshold": float(t), "radius": r}
            for r in (1, 2) for t in np.round(np.arange(0.1, 0.901, 0.025), 3)]


def _grid_topology():
    return [{"w": float(w), "c": float(c)} for w in (0.5, 1.0, 2.0, 3.0, 5.0)
            for c in np.round(np.arange(0.5, 2.001, 0.025), 3)]


def _grid_stable():
    return [{"lo": float(lo), "width": float(w)} for lo in np.round(np.arange(0.2, 0.701, 0.05), 3)
            for w in (0.1, 0.2, 0.3)]


def _grid_bridge():
    return [{"c": float(c), "f": f, "r": r} for r in (3, 6) for f in (0.5, 0.75)
            for c in np.round(np.arange(0.6, 1.801, 0.05), 3)]


def _grid_prune():
    return [{"c": float(c), "k": k} for k in (3, 6, 10)
            for c in np.round(np.arange(0.4, 1.601, 0.05), 3)]


@dataclass(frozen=True)
class ThresholdRule:
    """A named binarisation rule.

    Attributes
    ----------
    name, summary : str
    threshold : callable or None
        ``(prob, params) -> t_i`` for rules that binarise ``prob >= t_i`` with one
        threshold per image (None for the others).
    binarize : callable or None
        ``(prob, params) -> bool map`` for the other rules.
    grid : callable or None
        Candidate parameters for the ℓ̄ fit (None: ``fit`` is used).
    fit : callable or None
        ``(table, idx) -> params`` for rules not fitted by a grid search
        (``table`` an :class:`InterceptTable`, ``idx`` the calibration images).
    objective : str
        What the grid is searched for: ``"per_image"`` or ``"pooled"`` ℓ̄ error.
    """

    name: str
    summary: str
    threshold: Callable | None = None
    binarize: Callable | None = None
    grid: Callable | None = None
    fit: Callable | None = None
    objective: str = "per_image"
    adaptive: bool = field(default=False)


RULES: dict[str, ThresholdRule] = {r.name: r for r in (
    ThresholdRule("global", "prob >= t, t = max-F1 on the calibration pixels",
                  threshold=_t_global, fit=_fit_global),
    ThresholdRule("heyn_global", "prob >= t, t minimises the per-image l error",
                  threshold=_t_global, grid=_grid_t),
    ThresholdRule("heyn_pooled", "prob >= t, t minimises the pooled l error",
                  threshold=_t_global, grid=_grid_t, objective="pooled"),
    ThresholdRule("quantile", "top fraction q of each image's pixels, q fitted for l",
                  threshold=_t_quantile, adaptive=True,
                  grid=_one_param_grid("q", np.geomspace(0.02, 0.4, 60), 5)),
    ThresholdRule("density", "t_i gives the skeleton density of the calibration truth",
                  threshold=_t_density, fit=_fit_density, adaptive=True),
    ThresholdRule("mass", "fraction alpha * mean(prob_i) of each image's pixels",
                  threshold=_t_mass, adaptive=True,
                  grid=_one_param_grid("alpha", np.geomspace(0.2, 3.0, 60), 5)),
    ThresholdRule("otsu", "Otsu threshold of each probability map", threshold=_t_otsu,
                  fit=lambda table, idx: {}, adaptive=True),
    ThresholdRule("otsu_scaled", "c * Otsu threshold of each map, c fitted for l",
                  threshold=_t_otsu_scaled, adaptive=True,
                  grid=_one_param_grid("c", np.arange(0.4, 1.81, 0.025), 3)),
    ThresholdRule("relative", "c * 99th percentile of each map, c fitted for l",
                  threshold=_t_relative, adaptive=True,
                  grid=_one_param_grid("c", np.arange(0.1, 1.001, 0.0125), 4)),
    ThresholdRule("regression", "t_i regressed on the map's mean, p95 and Otsu threshold",
                  threshold=_t_regression, fit=_fit_regression, adaptive=True),
    ThresholdRule("hysteresis", "hysteresis thresholds low/high fitted for l",
                  binarize=_b_hysteresis, grid=_grid_hysteresis),
    ThresholdRule("closing", "prob >= t, then closing with a disk of radius r; t, r for l",
                  binarize=_b_closing, grid=_grid_closing),
    ThresholdRule("topology", "c * the threshold minimising endpoints per skeleton length + "
                  "w * mean band width; w, c fitted for l",
                  threshold=_t_topology, grid=_grid_topology, adaptive=True),
    ThresholdRule("stable", "the threshold in [lo, lo + width] where l changes least",
                  threshold=_t_stable, grid=_grid_stable, adaptive=True),
    ThresholdRule("bridge", "otsu_scaled, then endpoints grown r px along prob >= f * t_i",
                  binarize=_b_bridge, grid=_grid_bridge, adaptive=True),
    ThresholdRule("prune", "otsu_scaled, then spurs < k px pruned from the skeleton",
                  binarize=_b_prune, grid=_grid_prune, adaptive=True),
    ThresholdRule("separating", "otsu_scaled, then only the boundary pixels that separate "
                  "two regions (spurs and loose fragments of any length dropped)",
                  binarize=_b_separating, grid=_grid_separating, adaptive=True),
    ThresholdRule("watershed", "watershed basins of the map merged across edges whose mean "
                  "probability is below c * Otsu; closed one-pixel boundaries; c, h fitted",
                  binarize=_b_watershed, grid=_grid_watershed, adaptive=True),
)}


def _rule(name: str) -> ThresholdRule:
    if isinstance(name, ThresholdRule):
        return name
    if name not in RULES:
        raise ValueError(f"unknown threshold rule {name!r}; choose one of {', '.join(RULES)}")
    return RULES[name]


def image_threshold(name: str, prob: Any, params: Mapping[str, Any]) -> float | None:
    """The threshold ``t_i`` a scalar-threshold rule uses for ``prob`` (None for others)."""
    rule = _rule(name)
    if rule.threshold is None:
        return None
    return float(rule.threshold(_prob(prob), params))


#: Side (px) of the regions the threshold rules were chosen and fitted on (the tbm
#: regions). :func:`binarize_by_region` gives a larger map one threshold per region of
#: about this size: out of fold, on the labeled regions inside their whole scans, that
#: was better than one threshold per scan (docs/boundaries.md, "One threshold per
#: region of a whole scan").
RULE_REGION_PX = 256
#: A region's own threshold is kept within this factor of the whole map's
#: (:func:`binarize_by_region`): a region without boundaries (a blank margin, one large
#: grain, a data bar) would otherwise get an Otsu threshold inside its noise.
REGION_THRESHOLD_RATIO = 2.0


def region_edges(n: int, region: int = RULE_REGION_PX) -> np.ndarray:
    """Edges of ``max(1, n // region)`` near-equal parts of ``0 … n``.

    Every part is at least ``region`` px long (when ``n >= region``) and shorter than
    ``2 * region``.

    Examples
    --------
    >>> region_edges(900).tolist()
    [0, 300, 600, 900]
    >>> region_edges(200).tolist()
    [0, 200]
    """
    k = max(1, int(n) // int(region))
    return np.linspace(0, int(n), k + 1).round().astype(int)


def binarize_by_region(name: str, prob: Any, params: Mapping[str, Any], *,
                       region: int = RULE_REGION_PX) -> tuple[np.ndarray, list[float] | None]:
    """Binary boundary map with an image-adaptive rule applied region by region.

    A rule with one threshold per map that depends on the map (e.g. ``otsu_scaled``)
    gets its own threshold in each cell of a grid of regions of ``region`` to
    ``2 * region - 1`` px (:func:`region_edges`), kept within a factor
    :data:`REGION_THRESHOLD_RATIO` of the whole map's threshold (so that a region
    without boundaries does not binarise its noise); a map smaller than ``2 * region``
    px in both directions is one region, exactly as :func:`apply_threshold_rule`. Fixed
    thresholds (``global``) and rules that are not one threshold (``bridge``,
    ``prune``, ``hysteresis``, ``closing``) are applied to the whole map.

    Parameters
    ----------
    name : str
        A key of :data:`RULES`.
    prob : array (H, W)
        Boundary probabilities in [0, 1].
    params : mapping
        The rule's parameters.
    region : int
        Side of the regions the rule was fitted on (:data:`RULE_REGION_PX`).

    Returns
    -------
    binary : numpy.ndarray of bool
    thresholds : list of float or None
        The threshold of each region, row by row (None for rules without one).

    Examples
    --------
    >>> import numpy as np
    >>> prob = np.zeros((600, 300))
    >>> prob[:300, ::10], prob[300:, ::10] = 0.9, 0.3      # one faint half
    >>> binary, ts = binarize_by_region("otsu", prob, {})
    >>> len(ts), bool(binary[300:].any())
    (2, True)
    """
    rule = _rule(name)
    p = _prob(prob)
    if rule.threshold is None:
        return apply_threshold_rule(name, p, params), None
    whole = float(rule.threshold(p, params))
    ys, xs = region_edges(p.shape[0], region), region_edges(p.shape[1], region)
    if not rule.adaptive or (len(ys) == 2 and len(xs) == 2):
        return p >= whole, [whole]
    lo, hi = whole / REGION_THRESHOLD_RATIO, whole * REGION_THRESHOLD_RATIO
    out = np.zeros(p.shape, bool)
    thresholds = []
    for y0, y1 in zip(ys[:-1], ys[1:]):
        for x0, x1 in zip(xs[:-1], xs[1:]):
            cell = p[y0:y1, x0:x1]
            t = float(np.clip(rule.threshold(cell, params), lo, hi))
            out[y0:y1, x0:x1] = cell >= t
            thresholds.append(t)
    return out, thresholds


def apply_threshold_rule(name: str, prob: Any, params: Mapping[str, Any]) -> np.ndarray:
    """Binary boundary map (not skeletonised) of ``prob`` under rule ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`RULES`.
    prob : array (H, W)
        Boundary probabilities in [0, 1].
    params : mapping
        The rule's parameters (from :func:`fit_threshold_rule`).

    Returns
    -------
    numpy.ndarray of bool
    """
    rule = _rule(name)
    p = _prob(prob)
    if rule.threshold is not None:
        return p >= rule.threshold(p, params)
    return np.asarray(rule.binarize(p, params), bool)


def intercept_errors(pred: Sequence[float | None], true: Sequence[float]) -> dict[str, Any]:
    """Per-image and pooled ℓ̄ errors (fractions, not %) of predicted vs true ℓ̄.

    An image without a valid predicted ℓ̄ counts as an error of 1 (100 %) in the
    per-image mean and is left out of the pooled means (``n_invalid`` says how many).
    """
    t = np.asarray(true, float)
    valid = np.array([p is not None and np.isfinite(p) for p in pred])
    p = np.array([float(x) if v else np.nan for x, v in zip(pred, valid)])
    per = np.where(valid, np.abs(p - t) / t, 1.0)
    pooled = (abs(p[valid].mean() - t[valid].mean()) / t[valid].mean()
              if valid.any() else None)
    return {"per_image": float(per.mean()) if per.size else None, "pooled": pooled,
            "per_image_errors": per.tolist(), "n_invalid": int((~valid).sum()),
            "mean_pred": float(p[valid].mean()) if valid.any() else None,
            "mean_true": float(t.mean()) if t.size else None}


class InterceptTable:
    """Calibration maps with a cache of ℓ̄ per image and binarisation, for fitting rules.

    Scalar-threshold rules are looked up at thresholds rounded to :data:`FIT_STEP`
    while fitting (their exact thresholds are used when they are applied), so the
    same few hundred binarisations per image serve every rule and every subset.

    Parameters
    ----------
    probs, masks : sequences of (H, W) arrays
        Probability maps and their ground-truth boundary masks.
    """

    def __init__(self, probs: Sequence[Any], masks: Sequence[Any]) -> None:
        if len(probs) != len(masks) or not len(probs):
            raise ValueError(f"need as many probability maps as masks (got {len(probs)}, "
                             f"{len(masks)})")
        self.probs = [_prob(p) for p in probs]
        self.masks = [np.asarray(m, bool) for m in masks]
        self.true = [mean_intercept(m) for m in self.masks]
        bad = [i for i, t in enumerate(self.true) if t is None]
        if bad:
            raise ValueError(f"ground-truth mask(s) {bad} give no valid mean intercept")
        self._cache: list[dict] = [{} for _ in self.probs]

    def __len__(self) -> int:
        return len(self.probs)

    def predicted(self, name: str, params: Mapping[str, Any], i: int, *,
                  exact: bool = False) -> float | None:
        """ℓ̄ of image ``i`` under a rule (rounded threshold unless ``exact``)."""
        rule = _rule(name)
        p = self.probs[i]
        if rule.threshold is not None:
            tkey = ("thr", rule.name, json.dumps(dict(params), sort_keys=True))
            if tkey not in self._cache[i]:
                self._cache[i][tkey] = float(rule.threshold(p, params))
            t = self._cache[i][tkey]
            if exact:
                return mean_intercept(p >= t)
            key = ("t", round(round(t / FIT_STEP) * FIT_STEP, 6))
            if key not in self._cache[i]:
                self._cache[i][key] = mean_intercept(p >= key[1])
            return self._cache[i][key]
        key = (rule.name, tuple(sorted(params.items())))
        if key not in self._cache[i]:
            self._cache[i][key] = mean_intercept(rule.binarize(p, params))
        return self._cache[i][key]

    def errors(self, name: str, params: Mapping[str, Any], idx: Sequence[int] | None = None,
               *, exact: bool = False) -> dict[str, Any]:
        """:func:`intercept_errors` of a rule on the images ``idx`` (default: all)."""
        idx = range(len(self)) if idx is None else idx
        return intercept_errors([self.predicted(name, params, i, exact=exact) for i in idx],
                                [self.true[i] for i in idx])

    def fit(self, name: str, idx: Sequence[int] | None = None) -> dict[str, Any]:
        """Parameters of rule ``name`` fitted on the images ``idx`` (default: all).

        Rules with a grid take the candidate with the lowest ℓ̄ error (per-image or
        pooled, as the rule says; the first on ties); the others use their own fit
        (``global``: max-F1, ``density``: the truth's skeleton density, ``regression``:
        a ridge fit to each image's best threshold, ``otsu``: none).
        """
        rule = _rule(name)
        idx = list(range(len(self))) if idx is None else list(idx)
        if rule.grid is None:
            return dict(rule.fit(self, idx))
        best, best_e = None, np.inf
        for params in rule.grid():
            e = self.errors(name, params, idx)[rule.objective]
            e = np.inf if e is None else e
            if e < best_e:
                best, best_e = params, e
        if best is None:
            raise ValueError(f"rule {name!r}: no candidate gives a valid ℓ̄ on the "
                             "calibration maps")
        return dict(best)


def fit_threshold_rule(name: str, probs: Sequence[Any], masks: Sequence[Any]) -> dict[str, Any]:
    """Fit the parameters of threshold rule ``name`` on calibration maps.

    Parameters
    ----------
    name : str
        A key of :data:`RULES`.
    probs, masks : sequences of (H, W) arrays
        Calibration probability maps (from the model the rule will be used with) and
        their ground-truth boundary masks; never the maps the rule is judged on.

    Returns
    -------
    dict
        The rule's parameters, for :func:`apply_threshold_rule`.
    """
    return InterceptTable(probs, masks).fit(name)
