"""Grain-size distributions: histograms (ASTM E1382), ALA grains (E930), duplex (E1181).

* :func:`histogram_figure`, :func:`distributions_figure` -- matplotlib ``Figure`` objects
  of intercept lengths and grain areas (no pyplot, no global state: safe in napari, in
  threads and in scripts).
* :func:`ala_grains` -- the largest grain observed ("as large as", E930) and whether it
  is an isolated coarse grain by the rule stated there.
* :func:`duplex_test` -- whether a grain-area distribution is bimodal (a duplex grain
  structure, E1181): Gaussian mixtures on log-area chosen by BIC, and a dip between two
  modes of the chosen density.
* :func:`fit_gaussian_mixture_1d` -- the EM fit it uses (NumPy only).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "ALA_MIN_G_DIFFERENCE",
    "ALA_MAX_AREA_FRACTION",
    "DUPLEX_MIN_DELTA_BIC",
    "DUPLEX_MAX_DIP_RATIO",
    "DUPLEX_MIN_FRACTION",
    "DUPLEX_MIN_GRAINS",
    "DUPLEX_MIN_POPULATION_GRAINS",
    "fit_gaussian_mixture_1d",
    "mixture_density",
    "duplex_test",
    "ala_grains",
    "histogram_figure",
    "distributions_figure",
]

#: A grain is an ALA (coarse) grain when its area-equivalent G is at least this much
#: lower (coarser) than the specimen's G, i.e. its area is >= 2**3 = 8x the mean area.
ALA_MIN_G_DIFFERENCE = 3.0

#: ... and such grains together cover less than this fraction of the measured area
#: (isolated coarse grains; more is a duplex structure, see :func:`duplex_test`).
ALA_MAX_AREA_FRACTION = 0.05

#: Bimodal only when the mixture chosen by BIC beats one Gaussian by more than this
#: ("very strong" evidence on the Kass & Raftery scale) ...
DUPLEX_MIN_DELTA_BIC = 10.0

#: ... its density dips between two modes to at most this fraction of the lower peak ...
DUPLEX_MAX_DIP_RATIO = 0.5

#: ... and each side of the dip holds at least this fraction of the grains.
DUPLEX_MIN_FRACTION = 0.03

#: ... and at least this many grains (two specks in a field of 60 grains pass the 3 %
#: bound but are no population; a few isolated coarse grains are the ALA rule's, E930).
DUPLEX_MIN_POPULATION_GRAINS = 10

#: No bimodality test below this many grains.
DUPLEX_MIN_GRAINS = 30

_LOG2_10 = 3.321928
_E112_NA = 2.954


def _grain_areas(areas: Sequence[float] | np.ndarray) -> np.ndarray:
    """The grain areas :func:`duplex_test` and :func:`ala_grains` take into account: the
    finite positive values of ``areas`` (float64, in their order); NaN, infinite, zero
    and negative areas are left out."""
    a = np.asarray(areas, float)
    return a[np.isfinite(a) & (a > 0)]


# ------------------------------------------------------------------ mixture
def _normal_logpdf(x, mu, var):
    return -0.5 * (np.log(2 * np.pi * var) + (x - mu) ** 2 / var)


def _em(x, mu, var, w, var_floor, n_iter=300, tol=1e-7):
    k = mu.size
    prev = -np.inf
    for _ in range(n_iter):
        lp = _normal_logpdf(x[:, None], mu[None, :], var[None, :]) + np.log(w)[None, :]
        mx = lp.max(axis=1, keepdims=True)
        ll_i = mx[:, 0] + np.log(np.exp(lp - mx).sum(axis=1))
        ll = float(ll_i.sum())
        resp = np.exp(lp - ll_i[:, None])
        nk = resp.sum(axis=0) + 1e-300
        w = nk / x.size
        mu = (resp * x[:, None]).sum(axis=0) / nk
        var = np.maximum((resp * (x[:, None] - mu[None, :]) ** 2).sum(axis=0) / nk, var_floor)
        if abs(ll - prev) < tol * max(1.0, abs(ll)):
            break
        prev = ll
    lp = _normal_logpdf(x[:, None], mu[None, :], var[None, :]) + np.log(w)[None, :]
    mx = lp.max(axis=1, keepdims=True)
    ll = float((mx[:, 0] + np.log(np.exp(lp - mx).sum(axis=1))).sum())
    order = np.argsort(mu)
    return mu[order], var[order], w[order], ll, k


def _inits(xs: np.ndarray, k: int):
    """Starting partitions of sorted data: contiguous splits at several quantiles."""
    n = xs.size
    if k == 2:
        cuts = [(q,) for q in (0.05, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 0.95)]
    else:
        cuts = [(0.05, 0.5), (0.1, 0.6), (0.2, 0.8), (0.33, 0.67), (0.05, 0.9), (0.1, 0.95),
                (0.5, 0.9), (0.5, 0.95), (0.6, 0.9), (0.02, 0.85), (0.15, 0.9)]
    for qs in cuts:
        idx = [0] + [max(1, min(n - 1, int(q * n))) for q in qs] + [n]
        if any(b - a < 2 for a, b in zip(idx[:-1], idx[1:])):
            continue
        parts = [xs[a:b] for a, b in zip(idx[:-1], idx[1:])]
        yield (np.array([p.mean() for p in parts]), np.array([p.var() for p in parts]),
               np.array([p.size for p in parts], float) / n)


def fit_gaussian_mixture_1d(x: Sequence[float] | np.ndarray, n_components: int) -> dict:
    """Maximum-likelihood Gaussian mixture of 1-D data (EM, several starts).

    Parameters
    ----------
    x : sequence of float
        Data, all finite: a NaN or inf is refused (a fit of the values left would
        describe other data without a word; drop them first if they mean "no value",
        ``x[np.isfinite(x)]``).
    n_components : {1, 2, 3}
        Number of components.

    Returns
    -------
    dict
        ``means``, ``sds``, ``weights`` (components sorted by mean), ``log_likelihood``,
        ``bic`` (``-2 logL + p ln n`` with ``p = 3k - 1`` parameters), ``n``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.normal(0, 1, 300), rng.normal(8, 1, 300)])
    >>> fit = fit_gaussian_mixture_1d(x, 2)
    >>> [round(m) for m in fit["means"]]
    [0, 8]
    """
    x = np.asarray(x, float).ravel()
    if n_components not in (1, 2, 3):
        raise ValueError(f"n_components must be 1, 2 or 3, got {n_components}")
    bad = int(np.count_nonzero(~np.isfinite(x)))
    if bad:
        raise ValueError(f"x has {bad} NaN or inf value(s) of {x.size}: drop them first "
                         "(x[np.isfinite(x)]) if they mean no value")
    n = x.size
    if n < 3 * n_components:
        raise ValueError(f"a mixture of {n_components} component(s) needs at least "
                         f"{3 * n_components} values, got {n}")
    sd = float(x.std()) or 1.0
    var_floor = (0.01 * sd) ** 2
    if n_components == 1:
        var = max(float(x.var()), var_floor)
        ll = float(_normal_logpdf(x, x.mean(), var).sum())
        best = (np.array([x.mean()]), np.array([var]), np.array([1.0]), ll, 1)
    else:
        best = None
        for mu, var, w in _inits(np.sort(x), n_components):
            fit = _em(x, mu, np.maximum(var, var_floor), w, var_floor)
            if best is None or fit[3] > best[3]:
                best = fit
    mu, var, w, ll, k = best
    p = 3 * k - 1
    return {
        "means": [float(v) for v in mu],
        "sds": [float(math.sqrt(v)) for v in var],
        "weights": [float(v) for v in w],
        "log_likelihood": ll,
        "bic": -2.0 * ll + p * math.log(n),
        "n": int(n),
    }


def mixture_density(fit: dict, x: np.ndarray) -> np.ndarray:
    """Density of a :func:`fit_gaussian_mixture_1d` mixture at ``x``."""
    x = np.asarray(x, float)
    out = np.zeros_like(x)
    for m, s, w in zip(fit["means"], fit["sds"], fit["weights"]):
        out += w * np.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))
    return out


def duplex_test(
    areas: Sequence[float] | np.ndarray,
    *,
    min_delta_bic: float = DUPLEX_MIN_DELTA_BIC,
    max_dip_ratio: float = DUPLEX_MAX_DIP_RATIO,
    min_fraction: float = DUPLEX_MIN_FRACTION,
    min_population: int = DUPLEX_MIN_POPULATION_GRAINS,
    min_grains: int = DUPLEX_MIN_GRAINS,
) -> dict:
    """Is the grain-area distribution bimodal (a duplex grain size, ASTM E1181)?

    Test (stated in full in docs/standards.md): Gaussian mixtures of 1, 2 and 3
    components are fitted to ``log(area)`` and the one with the lowest BIC is kept. The
    distribution is bimodal when that mixture has more than one component, beats the
    single Gaussian by more than ``min_delta_bic``, and its density has two modes
    separated by a dip down to at most ``max_dip_ratio`` of the lower peak, with at least
    ``min_fraction`` of the grains, and at least ``min_population`` grains, on each side
    of the dip. The two populations are the
    grains on either side of the deepest such dip.

    A third component is allowed because the section areas of a single population have
    a long tail of small sections in log scale: a two-component fit spends its second
    component on that tail and misses a coarse population of a few percent of the
    grains.

    Parameters
    ----------
    areas : sequence of float
        Grain areas (any unit; non-positive values are ignored), e.g. the inside grains
        of one or several fields.
    min_delta_bic, max_dip_ratio, min_fraction, min_population, min_grains
        Decision thresholds (see the module constants).

    Returns
    -------
    dict
        ``bimodal`` (bool, or None with fewer than ``min_grains`` grains), ``n_components``
        (of the BIC choice), ``delta_bic`` (BIC of one Gaussian minus BIC of the choice),
        ``dip_ratio``, ``components`` (``area`` = geometric mean area, ``sd_log``,
        ``weight``), ``populations`` (when bimodal: ``area`` = geometric mean, ``fraction``
        of grains, ``area_fraction`` of the summed area, below and above the dip),
        ``split_area``, ``n_grains``, ``test`` (the rule in words) and ``warning`` (the
        E1181 duplex message, or None).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> fine = np.exp(rng.normal(np.log(100), 0.3, 300))
    >>> coarse = np.exp(rng.normal(np.log(2000), 0.3, 100))
    >>> duplex_test(fine)["bimodal"], duplex_test(np.concatenate([fine, coarse]))["bimodal"]
    (False, True)
    """
    a = _grain_areas(areas)
    test = (
        f"Gaussian mixture of 1-3 components on log(area) chosen by BIC; bimodal when it "
        f"beats one Gaussian by more than {min_delta_bic:g} in BIC and its density has two "
        f"modes separated by a dip to <= {max_dip_ratio:g} of the lower peak, with >= "
        f"{100 * min_fraction:g}% of the grains and >= {min_population} grains on each side"
    )
    out: dict[str, Any] = {
        "bimodal": None, "n_components": None, "delta_bic": None, "dip_ratio": None,
        "components": None, "populations": None, "split_area": None,
        "n_grains": int(a.size), "test": test, "warning": None,
    }
    if a.size < max(min_grains, 9):
        out["reason"] = f"fewer than {min_grains} grains: bimodality not tested"
        return out
    x = np.log(a)
    fits = [fit_gaussian_mixture_1d(x, k) for k in (1, 2, 3)]
    best = min(fits, key=lambda f: f["bic"])
    k = len(best["means"])
    dbic = fits[0]["bic"] - best["bic"]
    comps = [
        {"area": float(math.exp(m)), "sd_log": float(s), "weight": float(w)}
        for m, s, w in zip(best["means"], best["sds"], best["weights"])
    ]
    out.update(n_components=k, delta_bic=float(dbic), components=comps, bimodal=False)
    if k == 1 or dbic <= min_delta_bic:
        return out
    grid = np.linspace(x.min(), x.max(), 1024)
    dens = mixture_density(best, grid)
    peaks = np.flatnonzero((dens[1:-1] > dens[:-2]) & (dens[1:-1] >= dens[2:])) + 1
    best_split = None
    for p1, p2 in zip(peaks[:-1], peaks[1:]):
        valley = p1 + int(np.argmin(dens[p1:p2 + 1]))
        ratio = float(dens[valley] / min(dens[p1], dens[p2]))
        n_below = int(np.count_nonzero(x < grid[valley]))
        below = n_below / x.size
        if min(below, 1 - below) < min_fraction or min(n_below, x.size - n_below) < min_population:
            continue
        if best_split is None or ratio < best_split[0]:
            best_split = (ratio, grid[valley])
    if best_split is None:
        return out
    ratio, cut = best_split
    out["dip_ratio"] = ratio
    if ratio > max_dip_ratio:
        return out
    lo, hi = a[x < cut], a[x >= cut]
    pops = [
        {"area": float(np.exp(np.log(p).mean())), "fraction": float(p.size / a.size),
         "area_fraction": float(p.sum() / a.sum())}
        for p in (lo, hi)
    ]
    out.update(bimodal=True, populations=pops, split_area=float(math.exp(cut)))
    out["warning"] = (
        f"the grain-area distribution is bimodal: two populations with mean areas "
        f"{pops[1]['area'] / pops[0]['area']:.1f}x apart, the coarse one "
        f"{100 * pops[1]['fraction']:.0f}% of the grains and {100 * pops[1]['area_fraction']:.0f}% "
        "of their area: a duplex grain size (ASTM E1181); one mean grain size does not "
        "describe it, report each population"
    )
    return out


# ------------------------------------------------------------------------ ALA
def ala_grains(
    areas: Sequence[float] | np.ndarray,
    *,
    mean_area: float | None = None,
    measured_area: float | None = None,
    area_to_mm2: float | None = None,
    min_g_difference: float = ALA_MIN_G_DIFFERENCE,
    max_area_fraction: float = ALA_MAX_AREA_FRACTION,
) -> dict:
    """The largest grain observed (ALA, ASTM E930) and whether coarse grains are isolated.

    Rule implemented: the ALA grain is the largest grain fully inside the measured area;
    its size is reported as the G of a single grain of that area (E112 planimetric
    relation with ``N_A = 1 / area``). Grains whose area is at least
    ``2**min_g_difference`` times the mean grain area (``min_g_difference`` G numbers
    coarser) are *coarse*; the field is flagged as having ALA grains when there is at
    least one coarse grain and the coarse grains cover less than ``max_area_fraction``
    of the measured area (isolated coarse grains: report "ALA G" beside the mean G). If
    they cover more, it is not an ALA situation (``flag`` False, ``duplex_suspected``
    True): test the distribution with :func:`duplex_test`.

    Parameters
    ----------
    areas : sequence of float
        Areas of the grains inside the measured area.
    mean_area : float, optional
        Mean grain area (e.g. ``1 / N_A`` of the Jeffries count); default: mean of
        ``areas``.
    measured_area : float, optional
        Measured area in the same unit; default: sum of ``areas``.
    area_to_mm2 : float, optional
        Factor from the area unit to mm² (``1e-6`` for µm²); enables ``ala_g``.
    min_g_difference, max_area_fraction
        See the rule.

    Returns
    -------
    dict
        ``largest_area``, ``ala_g`` (None without ``area_to_mm2``), ``area_ratio``
        (largest / mean), ``n_coarse``, ``coarse_area_fraction``, ``flag``,
        ``duplex_suspected``, ``rule``.

    Examples
    --------
    >>> r = ala_grains([100.0] * 400 + [2000.0], area_to_mm2=1e-6)
    >>> r["flag"], r["n_coarse"], round(r["ala_g"], 2)
    (True, 1, 6.01)
    """
    a = _grain_areas(areas)
    rule = (
        f"coarse grain: area >= {2 ** min_g_difference:g}x the mean grain area "
        f"({min_g_difference:g} G coarser); ALA flagged when coarse grains cover < "
        f"{100 * max_area_fraction:g}% of the measured area"
    )
    out: dict[str, Any] = {
        "largest_area": None, "ala_g": None, "area_ratio": None, "n_coarse": 0,
        "coarse_area_fraction": 0.0, "flag": False, "duplex_suspected": False, "rule": rule,
    }
    if a.size == 0:
        return out
    mean = float(mean_area) if mean_area else float(a.mean())
    total = float(measured_area) if measured_area else float(a.sum())
    largest = float(a.max())
    coarse = a >= mean * 2.0**min_g_difference
    frac = float(a[coarse].sum() / total) if total > 0 else 0.0
    out.update(
        largest_area=largest,
        area_ratio=largest / mean if mean > 0 else None,
        n_coarse=int(coarse.sum()),
        coarse_area_fraction=frac,
        flag=bool(coarse.any() and frac < max_area_fraction),
        duplex_suspected=bool(coarse.any() and frac >= max_area_fraction),
    )
    if area_to_mm2:
        out["ala_g"] = float(_LOG2_10 * math.log10(1.0 / (largest * area_to_mm2)) - _E112_NA)
    return out


# ------------------------------------------------------------------ figures
def _figure(figsize):
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _bin_edges(v: np.ndarray, bins: int | str) -> np.ndarray:
    """``np.histogram_bin_edges(v, bins)``; values equal but for rounding (a regular
    grid's intercepts: 7.0 and 7.000000000000001) go into one bin, as numpy puts equal
    values: it refuses to split so narrow a range ("Too many bins for data range")."""
    lo, hi = float(v.min()), float(v.max())
    if hi - lo <= 1e-9 * max(abs(lo), abs(hi), 1.0):
        mid = (lo + hi) / 2
        return np.array([mid - 0.5, mid + 0.5])
    return np.histogram_bin_edges(v, bins=bins)


def histogram_figure(
    values: Sequence[float] | np.ndarray,
    *,
    bins: int | str = "auto",
    log: bool = False,
    xlabel: str = "",
    title: str = "",
    mixture: dict | None = None,
    ax: Any = None,
) -> Any:
    """Histogram of one distribution as a matplotlib ``Figure`` (no pyplot).

    Parameters
    ----------
    values : sequence of float
        E.g. ``intercepts_um`` or ``grain_areas_um2``.
    bins : int or str
        NumPy bins specification.
    log : bool
        Logarithmic x axis with logarithmic bins (grain areas).
    xlabel, title : str
    mixture : dict, optional
        A :func:`fit_gaussian_mixture_1d` fit on ``log(values)`` drawn over the histogram
        (``log=True`` only), e.g. ``duplex_test(...)`` components.
    ax : matplotlib Axes, optional
        Draw into this axes instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = histogram_figure([1, 2, 2, 3], xlabel="intercept (µm)")
    >>> fig.axes[0].get_xlabel()
    'intercept (µm)'
    """
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if log:
        v = v[v > 0]
    if ax is None:
        fig = _figure((5, 3.4))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    if v.size:
        if log:
            edges = 10.0 ** _bin_edges(np.log10(v), bins)
        else:
            edges = _bin_edges(v, bins)
        ax.hist(v, bins=edges, color="#4c72b0", edgecolor="white", linewidth=0.5)
        if log:
            ax.set_xscale("log")
        if log and mixture is not None and mixture.get("means"):
            # density of log(x) mixture, scaled to counts per bin (bins uniform in log10)
            lx = np.linspace(np.log(v.min()), np.log(v.max()), 300)
            dens = np.zeros_like(lx)
            for m, s, w in zip(mixture["means"], mixture["sds"], mixture["weights"]):
                dens += w * np.exp(-0.5 * ((lx - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))
            width_ln = float(np.diff(np.log(edges)).mean())
            ax.plot(np.exp(lx), dens * v.size * width_ln, color="#c44e52", lw=1.5,
                    label="mixture fit")
            ax.legend(frameon=False, fontsize=8)
    else:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def distributions_figure(field: dict, *, title: str = "") -> Any:
    """Intercept-length and grain-area histograms of one field (or a pooled specimen).

    Parameters
    ----------
    field : dict
        A per-field dict of :func:`napari_srmat.metrics.standards.measure_field` (uses
        ``intercepts_um``/``grain_areas_um2``, or the ``_px`` lists without a pixel size,
        and ``duplex`` when present).
    title : str

    Returns
    -------
    matplotlib.figure.Figure
        Two panels.
    """
    from ..io import LENGTH_UNIT

    fig = _figure((9, 3.4))
    a1, a2 = fig.subplots(1, 2)
    um = field.get("intercepts_um") is not None
    inter = field.get("intercepts_um") if um else field.get("intercepts_px")
    areas = field.get("grain_areas_um2") if um else field.get("grain_areas_px2")
    histogram_figure(inter or [], xlabel=f"intercept length ({LENGTH_UNIT if um else 'px'})",
                     title="intercepts", ax=a1)
    duplex = field.get("duplex") or {}
    mixture = None
    if duplex.get("components"):
        comps = duplex["components"]
        mixture = {"means": [math.log(c["area"]) for c in comps],
                   "sds": [c["sd_log"] for c in comps],
                   "weights": [c["weight"] for c in comps]}
    area_unit = f"{LENGTH_UNIT}²" if um else "px²"
    histogram_figure(areas or [], log=True, xlabel=f"grain area ({area_unit})",
                     title="grain areas" + (" (bimodal)" if duplex.get("bimodal") else ""),
                     mixture=mixture, ax=a2)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig
