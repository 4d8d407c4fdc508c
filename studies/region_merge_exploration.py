"""Exploration (not a decision): merge adjacent regions of similar colour after binarising.

In polarized light a grain boundary separates two orientations, hence two colours. The two
scans that dominate the per-image error are (a) scan 29, whose textured grains the model
cuts into pieces (ℓ̄ 21-36 % too short), and (b) scan 25, whose faint boundaries it misses
(ℓ̄ +12-21 % too long). A boundary segment whose two sides have the same mean colour is
more likely texture than a boundary. This script binarises each out-of-fold map with
``otsu_scaled`` (factor c), labels the regions between boundaries, and merges every pair
of adjacent regions whose mean colours differ by less than ``k`` x the image's own colour
spread (so a low-contrast scan is judged on its own scale); the boundaries left are those
between different merged regions. ``k = 0`` merges nothing but still drops boundary
pieces that separate nothing (spurs), reported apart from the plain ``otsu_scaled``.
(c, k) are cross-fitted (chosen on the other folds' regions by per-image ℓ̄ error). In the
JSON, ``prune_only`` is ``k = 0`` (the dropping alone, as the ``separating`` rule does it;
this script binarises with ``>`` where the rule uses ``>=``) and ``merge`` the best k.

This is an exploration on one repetition whose fold models already exist; it is
formulated after the repetition was trained and before any of its maps was binarised this
way. Nothing is adopted from it: a change of the shipped measurement needs a rule stated
before a fresh repetition, as every other decision in docs/boundaries.md.

    OMP_NUM_THREADS=1 PYTHONPATH=src python studies/region_merge_exploration.py \\
        --work out/cv_uaed_s1 --variant long

Writes studies/results/region_merge_exploration.json (tbm/test is not opened).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from _common import DATA, ROOT, paired_with_means, save

sys.path.insert(0, str(ROOT / "benchmarks"))

C_GRID = tuple(round(float(c), 2) for c in np.arange(0.6, 2.01, 0.1))
K_GRID = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4)


def region_graph(binary: np.ndarray, image: np.ndarray):
    """The regions between the boundaries and which of them touch, with how different
    their colours are (what :func:`merged_boundaries` needs for every ``k``).

    Parameters
    ----------
    binary : (H, W) bool
        Boundary map.
    image : (H, W, C) float
        The micrograph.

    Returns
    -------
    grown : (H, W) int
        :func:`napari_srmat.metrics.grainmap.grains_from_boundaries` with every region
        kept (the boundary pixels given to the nearest region).
    pairs : (N, 2) int
        Labels of the regions that touch in ``grown``.
    distance : (N,) float
        Distance of their mean colours (over their own pixels, boundaries excluded) in
        units of the image's colour spread (root of the summed channel variances).
    """
    from scipy import ndimage as ndi

    from napari_srmat.metrics.grainmap import grains_from_boundaries, share_out

    regions = grains_from_boundaries(binary, min_grain_px=1, share=False)
    n = int(regions.max(initial=0))
    if n < 2:  # nothing to separate
        return regions, np.empty((0, 2), np.int64), np.empty(0)
    index = np.arange(1, n + 1)
    means = np.stack([ndi.mean(image[..., ch], regions, index)
                      for ch in range(image.shape[-1])], axis=1)
    spread = float(np.sqrt(image.reshape(-1, image.shape[-1]).var(axis=0).sum()))
    grown = share_out(regions)
    pairs = [np.empty((0, 2), np.int64)]
    for a, b in ((grown[:, 1:], grown[:, :-1]), (grown[1:], grown[:-1])):
        diff = a != b
        pairs.append(np.column_stack([np.minimum(a[diff], b[diff]),
                                      np.maximum(a[diff], b[diff])]))
    pairs = np.unique(np.concatenate(pairs), axis=0)
    distance = np.linalg.norm(means[pairs[:, 0] - 1] - means[pairs[:, 1] - 1], axis=1)
    return grown, pairs, distance / spread if spread > 0 else np.full(len(pairs), np.inf)


def merged_boundaries(binary: np.ndarray, graph, k: float) -> np.ndarray:
    """Boundary pixels of ``binary`` that separate regions of different colour: touching
    regions of :func:`region_graph` closer than ``k`` colour spreads are one region, and a
    boundary pixel is kept where the merged label changes (``k = 0``: the dropping of
    ``edges.thresholds.separating_boundaries``)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from skimage.segmentation import find_boundaries

    grown, pairs, distance = graph
    n = int(grown.max(initial=0))
    if n < 2:
        return np.zeros_like(binary)
    a, b = pairs[distance < k].T
    same = coo_matrix((np.ones(a.size), (a, b)), shape=(n + 1, n + 1))
    merged = connected_components(same, directed=False)[1][grown]
    return binary & find_boundaries(merged, mode="thick")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True, help="a benchmarks/cv_uaed.py --work")
    ap.add_argument("--variant", default="long")
    ap.add_argument("--tta", default="none", choices=("none", "d4"))
    ap.add_argument("--name", default="region_merge_exploration")
    args = ap.parse_args(argv)
    from cv_uaed import list_images

    from napari_srmat.edges.data import load_pairs
    from napari_srmat.edges.thresholds import _clip_t, _otsu, mean_intercept

    folds = json.loads((args.work / "folds.json").read_text())
    have = [k for k in range(len(folds))
            if (args.work / args.variant / f"fold-{k}" / "oof.npz").is_file()]
    if len(have) < 2:
        raise SystemExit(f"need out-of-fold maps of at least 2 folds in {args.work}")
    probs, fold_of = {}, {}
    for k in have:
        z = np.load(args.work / args.variant / f"fold-{k}" / "oof.npz")
        for name, p in zip(z["names"], z[f"prob_{args.tta}"]):
            probs[str(name)], fold_of[str(name)] = p, k
    pairs = [(i, m) for i, m in list_images(DATA) if i.stem in probs]
    samples = load_pairs(pairs)
    names = [s.name for s in samples]
    t0 = time.process_time()
    true = np.array([mean_intercept(s.mask) for s in samples])
    # ℓ̄ for every image, c and k; column 0 of the k axis is plain otsu_scaled
    table = np.full((len(samples), len(C_GRID), len(K_GRID) + 1), np.nan)
    for i, s in enumerate(samples):
        p, img = probs[s.name], np.moveaxis(s.image, 0, -1)
        otsu = _otsu(p)
        for j, c in enumerate(C_GRID):
            b = p > _clip_t(c * otsu)
            table[i, j, 0] = mean_intercept(b) or np.nan
            graph = region_graph(b, img)  # the same for every k
            for m, k in enumerate(K_GRID):
                table[i, j, m + 1] = mean_intercept(merged_boundaries(b, graph, k)) or np.nan
        print(f"{s.name}: true {true[i]:.1f} px", flush=True)
    err = np.abs(table - true[:, None, None]) / true[:, None, None]
    err = np.where(np.isfinite(err), err, 1.0)
    fold_arr = np.array([fold_of[n] for n in names])
    per_fold = {"otsu_scaled": [], "merge": [], "prune_only": []}
    chosen = []
    per_image = {key: np.zeros(len(names)) for key in per_fold}
    for k in have:
        held, cal = fold_arr == k, fold_arr != k
        mean_cal = err[cal].mean(axis=0)
        jc0 = int(np.argmin(mean_cal[:, 0]))
        jc1 = int(np.argmin(mean_cal[:, 1]))
        jc, jk = np.unravel_index(int(np.argmin(mean_cal[:, 1:])), mean_cal[:, 1:].shape)
        chosen.append({"fold": k, "otsu_scaled_c": C_GRID[jc0], "prune_only_c": C_GRID[jc1],
                       "merge_c": C_GRID[jc], "merge_k": K_GRID[jk]})
        for key, e in (("otsu_scaled", err[:, jc0, 0]), ("prune_only", err[:, jc1, 1]),
                       ("merge", err[:, jc, jk + 1])):
            per_fold[key].append(100 * float(e[held].mean()))
            per_image[key][held] = e[held]
    scans = sorted({n.split("-")[0] for n in names}, key=int)
    report = {
        "work": str(args.work), "variant": args.variant, "tta": args.tta, "folds": have,
        "c_grid": C_GRID, "k_grid": K_GRID, "chosen": chosen,
        "per_image_pct": {key: {"per_fold": [round(v, 2) for v in vals],
                                "mean": round(float(np.mean(vals)), 2),
                                "all_images": round(100 * float(per_image[key].mean()), 2)}
                          for key, vals in per_fold.items()},
        "merge_vs_otsu_scaled": paired_with_means(per_fold["otsu_scaled"], per_fold["merge"]),
        "per_scan_abs_error_pct": {sc: {key: round(100 * float(np.mean(
            [per_image[key][i] for i, n in enumerate(names) if n.split("-")[0] == sc])), 1)
            for key in per_fold} for sc in scans},
        "cpu_s": round(time.process_time() - t0, 1)}
    save(args.name, report)
    print(json.dumps({k: report[k] for k in ("chosen", "per_image_pct",
                                             "merge_vs_otsu_scaled")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
