"""Shared helpers of the grain-size studies (tbm/train+val and synthetic data only).

Never point these scripts at tbm/test: every constant of ``napari_srmat.grainsize`` is
chosen from their output.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SRMAT_DATA", ROOT.parent / "shared" / "data")) / "tbm"
RESULTS = Path(__file__).resolve().parent / "results"
BENCHMARKS = ROOT / "benchmarks"
SPLITS = ("train", "val")  # never "test"
#: The tbm/test scans (their numbers, which start their file names): no study reads them.
TEST_SCANS = ("13", "24", "28")

#: Heyn settings of every study: the defaults of ``srmat grain-size`` with more lines
#: for the ground truth (less line-sampling noise in the reference).
HEYN = {"pattern": "random", "seed": 1234, "margin": 0.05, "skeletonize": True}
GT_LINES = 500
#: c of ``otsu_scaled`` for the leave-scan-out ``plain`` fold models of
#: ``benchmarks/cv_uaed.py`` (seed 0): cross-fitted, 1.4-1.425 in every fold of
#: benchmarks/cv_uaed.json.
FOLD_MODELS_C = 1.4


@contextmanager
def bridge_across_third_grains() -> Iterator[None]:
    """Heyn's zig-zag bridge as it was before aeb8d59, inside the block.

    Two runs of a tilted test line two pixels apart are joined even across the corner of
    a third grain (``metrics.heyn._third_grain`` answers False everywhere): the counting
    of every pattern and scoring as it was then.
    """
    import napari_srmat.metrics.heyn as heyn

    third_grain = heyn._third_grain
    heyn._third_grain = lambda mask, gap, *_: np.zeros(gap[0].size, bool)
    try:
        yield
    finally:
        heyn._third_grain = third_grain


#: Step (px) at which :func:`continuous_crossings` reads the generator's structure.
CONTINUOUS_STEP_PX = 0.1


def _synth_params(ms):
    """The generator's parameters of a ``generate_microstructure`` result."""
    from napari_srmat.synth.generator import _make_params

    k = dict(ms.params)
    if k.get("seed_layout", "lattice") != "lattice":  # _continuous_labels: 5 x 5 cells
        raise ValueError("the continuous structure is read for seed_layout='lattice' only")
    return _make_params(tuple(k["shape"]), k["mean_grain_size_px"], k["seed"],
                        k["size_spread"], k["curvature"], k["boundary_width"],
                        k["missing_boundary_fraction"], k["texture"], k["scratches"],
                        k["noise"], k["blur"], k["inclusions"], k["boundary_darkness"])


def _continuous_labels(pts: np.ndarray, p) -> np.ndarray:
    """Grain of float points (N, 2) on the generator's continuous power diagram."""
    from napari_srmat.synth.generator import _seeds

    y, x = pts[:, 0], pts[:, 1]
    cy, cx = np.floor(y / p.h).astype(np.int64), np.floor(x / p.h).astype(np.int64)
    best = np.full(y.size, np.inf)
    lab = np.zeros(y.size, np.int64)
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            sy, sx, w, a, label = _seeds(cy + dy, cx + dx, p)
            d = (1 + a.astype(float)) * ((y - sy) ** 2 + (x - sx) ** 2) - w
            win = d < best
            best[win], lab[win] = d[win], label[win]
    return lab


def continuous_crossings(ms, paths) -> tuple[float, int]:
    """(total length px, grain changes) along straight test lines on the *continuous*
    structure of a ``generate_microstructure`` result ``ms`` (its power diagram read every
    :data:`CONTINUOUS_STEP_PX` along each line from its first to its last path point):
    the isotropic ℓ̄ of the structure along those lines is length / changes, free of the
    pixel grid and of the rows/columns definition of ``mean_intercept_px``."""
    p = _synth_params(ms)
    length, count = 0.0, 0
    for path in paths:
        a, b = np.asarray(path[0], float), np.asarray(path[-1], float)
        ln = float(np.hypot(*(b - a)))
        t = np.linspace(0.0, 1.0, max(2, int(ln / CONTINUOUS_STEP_PX)))
        lab = _continuous_labels(a + t[:, None] * (b - a), p)
        length += ln
        count += int((lab[1:] != lab[:-1]).sum())
    return length, count


#: Side (px) of the square synthetic maps of the grid-interval studies
#: (``grid_interval_aliasing.py``, ``default_field_specimen.py``, ``seed_layout_rows.py``).
INTERVAL_MAP_PX = 768
#: Least distance between the random seeds of :func:`voronoi_boundaries`, in seed spacings.
VORONOI_HARD_CORE = 0.6
#: Seed offset of the Voronoi maps' random generator (apart from the generator's seeds).
VORONOI_SEED_OFFSET = 10_000


def thinned_boundaries(shape: tuple[int, int], h: float, seed: int, **kwargs) -> np.ndarray:
    """The generator's boundary mask of a grey map, thinned as ``srmat grain-size --mask``
    thins it.

    Parameters
    ----------
    shape : tuple of int
        ``(H, W)`` of the map.
    h : float
        Seed spacing (``mean_grain_size_px``) of ``generate_microstructure``.
    seed : int
        Its seed.
    **kwargs
        Its other parameters (e.g. ``seed_layout="poisson"``).

    Returns
    -------
    ndarray of bool
        ``(H, W)`` one-pixel boundaries.

    Examples
    --------
    >>> thinned_boundaries((64, 64), 16, 0).shape
    (64, 64)
    """
    from napari_srmat.metrics.heyn import _skeletonize
    from napari_srmat.synth import generate_microstructure

    ms = generate_microstructure(shape, mean_grain_size_px=h, seed=seed, rgb=False, **kwargs)
    return _skeletonize(np.asarray(ms.boundaries, bool))


def voronoi_boundaries(h: float, seed: int, side: int = INTERVAL_MAP_PX) -> np.ndarray:
    """Boundaries (thinned) of a ``side``² Voronoi map of hard-core random seeds, no
    lattice: ``side² / h²`` seeds at least ``VORONOI_HARD_CORE * h`` apart (random
    sequential adsorption).

    Parameters
    ----------
    h : float
        Mean seed spacing (px).
    seed : int
        Structure seed (the generator's is ``VORONOI_SEED_OFFSET + seed``).
    side : int
        Side (px) of the square map.

    Returns
    -------
    ndarray of bool
        ``(side, side)`` one-pixel boundaries.

    Examples
    --------
    >>> voronoi_boundaries(16, 0, side=64).shape
    (64, 64)
    """
    from scipy.spatial import cKDTree

    from napari_srmat.metrics.heyn import _skeletonize

    rng = np.random.default_rng(VORONOI_SEED_OFFSET + seed)
    n, dmin = int(round(side * side / h ** 2)), VORONOI_HARD_CORE * h
    pts, m = np.empty((n, 2)), 0
    while m < n:  # random sequential adsorption
        p = rng.uniform(0, side, 2)
        if m == 0 or np.min(np.hypot(*(pts[:m] - p).T)) >= dmin:
            pts[m], m = p, m + 1
    yy, xx = np.mgrid[0:side, 0:side]
    lab = cKDTree(pts).query(np.column_stack([yy.ravel(), xx.ravel()]))[1]
    lab = lab.reshape(side, side)
    b = np.zeros((side, side), bool)
    b[:, :-1] |= lab[:, :-1] != lab[:, 1:]
    b[:-1, :] |= lab[:-1, :] != lab[1:, :]
    return _skeletonize(b)


def interval_structure(kind: str, h: float, seed: int, side: int = INTERVAL_MAP_PX
                       ) -> np.ndarray:
    """Thinned boundaries of a ``side``² map of one structure kind of the grid-interval
    studies: ``"lattice"`` (the generator's default layout), ``"poisson"`` (its
    ``seed_layout="poisson"``) or ``"voronoi"`` (:func:`voronoi_boundaries`).

    Parameters
    ----------
    kind : str
        ``"lattice"``, ``"poisson"`` or ``"voronoi"``.
    h, seed, side : float, int, int
        Seed spacing (px), structure seed and map side (px), as
        :func:`voronoi_boundaries` takes them.

    Returns
    -------
    ndarray of bool
        The ``(side, side)`` thinned boundaries.

    Examples
    --------
    >>> interval_structure("poisson", 16, 0, side=64).shape
    (64, 64)
    """
    if kind == "voronoi":
        return voronoi_boundaries(h, seed, side)
    layout = {"poisson": {"seed_layout": "poisson"}}.get(kind, {})
    return thinned_boundaries((side, side), h, seed, **layout)


def coverage(rows: list[dict], truth: str = "field") -> dict:
    """How many ``rows`` and the % of them whose interval holds ``truth`` (a bool field
    of each row; ``None`` for no rows).

    Examples
    --------
    >>> coverage([{"field": True}, {"field": False}])
    {'n': 2, 'coverage_pct': 50.0}
    >>> coverage([], "map")
    {'n': 0, 'coverage_pct': None}
    """
    return {"n": len(rows),
            "coverage_pct": round(100 * float(np.mean([r[truth] for r in rows])), 1)
            if rows else None}


def inference_scale_suffix(variant: str, tag: str | None = None) -> str:
    """Suffix of ``grain_size_c_inference_scale.py``'s result (and cache) names for the
    fold models of ``variant`` in the repetition ``tag``: none for ``plain`` in the first
    repetition.

    Examples
    --------
    >>> inference_scale_suffix("plain"), inference_scale_suffix("gpu_aug", "s1")
    ('', '_gpu_aug_s1')
    """
    return ("" if variant == "plain" else f"_{variant}") + (f"_{tag}" if tag else "")


def inference_scale_path(variant: str, tag: str | None = None) -> Path:
    """``studies/results/grain_size_c_inference_scale[_VARIANT][_TAG].json``.

    Examples
    --------
    >>> inference_scale_path("long").name
    'grain_size_c_inference_scale_long.json'
    """
    return RESULTS / f"grain_size_c_inference_scale{inference_scale_suffix(variant, tag)}.json"


def inference_scale_result(variant: str, tag: str | None = None) -> dict:
    """The result of ``grain_size_c_inference_scale.py`` for ``variant`` and ``tag``
    (:func:`inference_scale_path`)."""
    return json.loads(inference_scale_path(variant, tag).read_text())


def benchmark_result(file: str, variant: str, tta: str = "none") -> dict:
    """The results of one variant and TTA mode in a ``benchmarks/cv_uaed.py`` report
    ``benchmarks/FILE``."""
    return json.loads((BENCHMARKS / file).read_text())["results"][f"{variant}/{tta}"]


def load_fold_model(work: Path, k: int, variant: str = "plain"):
    """The final EMA boundary model of fold ``k`` of ``variant`` in a
    ``benchmarks/cv_uaed.py`` run folder ``work`` (``WORK/VARIANT/fold-K/run``);
    ``benchmarks/`` is put on ``sys.path`` for ``cv_uaed``."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    from cv_uaed import load_final_ema

    return load_final_ema(work / variant / f"fold-{k}" / "run")


def no_options(doc: str | None) -> None:
    """The command line of a study that takes no options: ``--help`` prints what it does
    and exits, any argument is refused (``--help`` used to start the study and overwrite
    its committed result file)."""
    import argparse

    argparse.ArgumentParser(description=(doc or "").split("\n\n")[0]).parse_args()


def fold_models_args(doc: str | None, argv=None, *, stages: tuple[str, ...] = ()):
    """The command line of a study of the ``plain`` fold models of
    ``benchmarks/cv_uaed.py``: ``--work`` (their folder) and, with ``stages``, a required
    ``--stage``; ``benchmarks/`` is put on ``sys.path`` for ``cv_uaed``'s helpers."""
    import argparse

    ap = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    ap.add_argument("--work", type=Path, required=True,
                    help="work folder of benchmarks/cv_uaed.py with plain fold models")
    if stages:
        ap.add_argument("--stage", choices=stages, required=True)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    return args


def tbm_pairs(every_train: int = 1) -> list[tuple[str, Path, Path]]:
    """(split, image, mask) of tbm/val and every ``every_train``-th tbm/train image."""
    from napari_srmat.io import list_pairs

    out = []
    for split in SPLITS:
        pairs = list_pairs(DATA, split)
        if split == "train":
            pairs = pairs[::every_train]
        out += [(split, img, msk) for img, msk in pairs]
    return out


def scan_of(path: Path) -> str:
    """Scan number of a TBM region (``SCAN-Y-X.png``)."""
    return Path(path).name.split("-")[0]


def gt_intercept(mask: np.ndarray, n_lines: int = GT_LINES) -> float:
    """ℓ̄ of a hand-drawn mask (thinned, many random lines)."""
    from napari_srmat.metrics.heyn import measure_intercepts

    return float(measure_intercepts(mask, n_lines=n_lines, **HEYN).mean_intercept_px)


def spearman(a, b) -> float:
    """Spearman correlation of two sequences over the pairs where both are finite
    (3 decimals)."""
    from scipy.stats import spearmanr

    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    return round(float(spearmanr(a[ok], b[ok])[0]), 3)


def save(name: str, payload: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"script": f"studies/{name}.py", "argv": sys.argv[1:],
               "date": time.strftime("%Y-%m-%d %H:%M"), **payload}
    path.write_text(json.dumps(payload, indent=1, default=float) + "\n")
    print(f"wrote {path}", file=sys.stderr)
    return path


def q(values, qs=(0.1, 0.5, 0.9)) -> list[float]:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], float)
    return [round(float(x), 4) for x in np.quantile(v, qs)] if v.size else []


def paired_difference(a, b, *, lower_is_better: bool = True) -> dict:
    """Per-fold paired difference ``b − a``: each value, mean, standard deviation (ddof 1)
    and in how many folds ``b`` is better."""
    d = np.asarray(b, float) - np.asarray(a, float)
    return {"diff_per_fold": [round(float(x), 4) for x in d],
            "diff_mean": round(float(d.mean()), 4), "diff_std": round(float(d.std(ddof=1)), 4),
            "folds_better": int((d < 0).sum() if lower_is_better else (d > 0).sum()),
            "n_folds": int(d.size)}


def paired_with_means(a, b, *, lower_is_better: bool = True) -> dict:
    """:func:`paired_difference` with both means (reference ``a``, candidate ``b``)."""
    return {"reference_mean": round(float(np.mean(a)), 4),
            "candidate_mean": round(float(np.mean(b)), 4),
            **paired_difference(a, b, lower_is_better=lower_is_better)}


def better_by_more_than_one_std(paired: dict, *, lower_is_better: bool = True) -> bool:
    """The decision test of the studies: the candidate's mean paired per-fold difference
    is better than zero by more than one standard deviation of those differences."""
    gain = -paired["diff_mean"] if lower_is_better else paired["diff_mean"]
    return bool(gain > paired["diff_std"])


def rule_comparison(result: dict, reference: str, candidate: str) -> dict:
    """Paired per-fold comparison of two threshold rules in one ``benchmarks/cv_uaed.py``
    result entry (``results[VARIANT/TTA]``): per-image and pooled ℓ̄ error, correlation of
    predicted with true ℓ̄, per-scan bias and the fitted parameters."""
    rules = result["rules"]
    return {"per_image_pct": paired_with_means(rules[reference]["per_image_pct"]["per_fold"],
                                               rules[candidate]["per_image_pct"]["per_fold"]),
            "pooled_pct": paired_with_means(rules[reference]["pooled_pct"]["per_fold"],
                                            rules[candidate]["pooled_pct"]["per_fold"]),
            "corr_pred_true": {r: rules[r]["corr_pred_true"] for r in (reference, candidate)},
            "per_scan_bias_pct": {r: rules[r]["per_scan_bias_pct"]
                                  for r in (reference, candidate)},
            "params_per_fold": {r: rules[r]["params_per_fold"] for r in (reference, candidate)}}


def benchmark_rule_comparison(path: Path, key: str, reference: str, candidate: str) -> dict:
    """:func:`rule_comparison` of the entry ``key`` (``VARIANT/TTA``) of a
    ``benchmarks/cv_uaed.py`` result file."""
    return rule_comparison(json.loads(Path(path).read_text())["results"][key], reference,
                           candidate)


def rule_decision_checks(comparison: dict, max_pooled_loss_points: float = 1.0, *,
                         max_correlation_loss: float | None = None,
                         rules: tuple[str, str] | None = None) -> dict:
    """The checks of a threshold-rule decision on a :func:`rule_comparison`: per-image
    error lower by more than one std of the paired per-fold differences, pooled error not
    higher by more than ``max_pooled_loss_points`` and, with ``max_correlation_loss``, the
    correlation of predicted with true ℓ̄ not lower by more than that (``rules`` =
    (reference, candidate))."""
    checks = {"per_image_better_by_more_than_one_std":
              better_by_more_than_one_std(comparison["per_image_pct"]),
              "pooled_not_worse_beyond_limit":
              comparison["pooled_pct"]["diff_mean"] <= max_pooled_loss_points}
    if max_correlation_loss is not None:
        reference, candidate = rules
        corr = comparison["corr_pred_true"]
        checks[f"correlation_not_lower_by_more_than_{max_correlation_loss}"] = (
            corr[candidate] >= corr[reference] - max_correlation_loss)
    return checks


def save_rule_decision(name: str, report: dict, verdict: str) -> None:
    """Save a rule decision's report as ``results/<name>.json`` and print its checks,
    its ``verdict`` entry and the decisive per-image comparison."""
    save(name, report)
    print(json.dumps({k: report[k] for k in ("checks", verdict)}, indent=1))
    print(json.dumps(report["decisive"]["per_image_pct"], indent=1))
