"""On a whole scan, one threshold for the image or one per region? Out of fold.

``measure_grain_size`` (``srmat grain-size``) binarises a whole image with one threshold:
``otsu_scaled`` = c × Otsu of the whole probability map. The rule was chosen and its c
fitted on 256 px regions, each with its own Otsu threshold. Which should a whole scan
get? The tbm/train + val regions lie inside their scans (``scans/scan_N.jpg``; see
``scan_crops_domain.py``), so each labeled region can be measured three ways with the
leave-scan-out ``plain`` fold models of ``benchmarks/cv_uaed.py`` (seed 0; a region is
only ever predicted by the fold model that never saw its scan; native scale, TTA
``none``; tbm/test is not opened and the test scans are not read):

* ``region_alone``: the model on the 256 px region cut from the JPEG scan, the region's
  own Otsu (what the cross-validation measures; reference);
* ``scan_map_region_otsu``: the model on the whole scan (``predict_boundaries``, default
  tiling), its map cut to the region, the region's own Otsu (per-region thresholds);
* ``scan_map_scan_otsu``: the same map, threshold c × Otsu of the *whole scan's* map
  (what ``measure_grain_size`` does for a whole scan).

c is fitted per arm on the other folds (cross-fitted); per-image ℓ̄ error of the labeled
regions (``napari_srmat.edges.thresholds.mean_intercept``).

Decision rule, written before any whole-scan map was computed: ``measure_grain_size``
keeps one threshold per image unless per-region thresholds (``scan_map_region_otsu``)
give a lower out-of-fold per-image error than ``scan_map_scan_otsu`` by more than one
standard deviation of the paired per-fold differences.

Added after that decision (it adopted per-region thresholds), as a check of what ships:
``shipped``, the whole scan's map binarised by
``napari_srmat.edges.thresholds.binarize_by_region`` (a fixed grid of 256-511 px cells,
not the labeled crops; cell thresholds kept within ``REGION_THRESHOLD_RATIO`` of the
scan's), each labeled region cut from that binary map. Written before it was run: if
``shipped`` is not better than ``scan_map_scan_otsu`` on average over the folds, the
change is taken back.

    OMP_NUM_THREADS=1 PYTHONPATH=src python studies/whole_scan_threshold.py --out-root out

Writes studies/results/whole_scan_threshold.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from _common import (
    DATA,
    ROOT,
    better_by_more_than_one_std,
    load_fold_model,
    paired_with_means,
    save,
)

sys.path.insert(0, str(ROOT / "benchmarks"))

ARMS = ("region_alone", "scan_map_region_otsu", "scan_map_scan_otsu", "shipped")
C_GRID = np.round(np.arange(0.4, 1.81, 0.025), 3)
REGION = 256


def scan_threshold(c: float, scale: float) -> float:
    """The threshold ``c × scale`` (the scan's Otsu threshold), kept inside (0, 1)."""
    return float(np.clip(c * scale, 0.01, 0.99))


def scan_otsu_intercepts(table, scale: np.ndarray) -> dict:
    """ℓ̄ of each region at ``c ×`` its scan's Otsu threshold, for every c of
    :data:`C_GRID` (thresholds rounded as ``InterceptTable`` does while fitting)."""
    return {float(c): [table.predicted("global", {"threshold": scan_threshold(c, scale[i])},
                                       i) for i in range(len(table))] for c in C_GRID}


def shipped_intercepts(scan_maps: dict, names: list[str]) -> dict:
    """ℓ̄ of each labeled region cut from its scan's map binarised by
    ``binarize_by_region`` (``otsu_scaled``), for every c of :data:`C_GRID`."""
    from napari_srmat.edges.thresholds import binarize_by_region, mean_intercept

    out = {}
    for c in C_GRID:
        binaries = {s: binarize_by_region("otsu_scaled", p, {"c": float(c)})[0]
                    for s, p in scan_maps.items()}
        out[float(c)] = []
        for n in names:
            scan, y, x = n.split("-")
            y, x = int(y), int(x)
            out[float(c)].append(mean_intercept(binaries[scan][y:y + REGION, x:x + REGION]))
    return out


def fit_c(intercepts: dict, true, idx) -> float:
    """The c of :data:`C_GRID` with the lowest per-image ℓ̄ error on images ``idx``."""
    def err(c):
        return np.mean([1.0 if intercepts[c][i] is None
                        else abs(intercepts[c][i] - true[i]) / true[i] for i in idx])
    return min(intercepts, key=err)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-root", type=Path, default=Path("out"),
                    help="folder holding cv_uaed/ of benchmarks/cv_uaed.py")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from cv_uaed import list_images
    from scan_crops_domain import load_scan, scan_crop

    from napari_srmat.edges import predict_boundaries
    from napari_srmat.edges.data import load_pairs
    from napari_srmat.edges.thresholds import InterceptTable, _otsu

    work = args.out_root / "cv_uaed"
    samples = {s.name: s for s in load_pairs(list_images(DATA))}
    folds = json.loads((work / "folds.json").read_text())
    names = [n for f in folds for n in f]
    fold_of = np.array([k for k, f in enumerate(folds) for _ in f])
    scans: dict = {}
    maps = {arm: {} for arm in ARMS[:2]}
    scan_otsu, scan_maps = {}, {}
    for k, fold in enumerate(folds):
        model = load_fold_model(work, k)
        for scan in sorted({n.split("-")[0] for n in fold}):
            prob, _ = predict_boundaries(load_scan(scans, scan)[..., :3], model)
            prob = np.asarray(prob, np.float32)
            scan_otsu[scan] = _otsu(prob)
            scan_maps[scan] = prob
            for n in (n for n in fold if n.split("-")[0] == scan):
                y, x = (int(v) for v in n.split("-")[1:])
                maps["scan_map_region_otsu"][n] = prob[y:y + REGION, x:x + REGION]
                region = scan_crop(scans, n).transpose(2, 0, 1)[None].astype(np.float32)
                maps["region_alone"][n] = model.predict(region / 255.0, gain=1.0)[0][0, 0]
        print(f"fold {k}: {len(fold)} regions", flush=True)
    masks = [samples[n].mask for n in names]
    tables = {arm: InterceptTable([maps[arm][n] for n in names], masks)
              for arm in ARMS[:2]}
    tables["scan_map_scan_otsu"] = tables["scan_map_region_otsu"]
    tables["shipped"] = tables["scan_map_region_otsu"]   # for .true only
    shipped = shipped_intercepts(scan_maps, names)
    scale = np.array([scan_otsu[n.split("-")[0]] for n in names])
    scan_fit = scan_otsu_intercepts(tables["scan_map_scan_otsu"], scale)
    per_fold = {arm: [] for arm in ARMS}
    params = {arm: [] for arm in ARMS}
    for k in range(len(folds)):
        held, cal = np.flatnonzero(fold_of == k), np.flatnonzero(fold_of != k)
        for arm in ARMS:
            table = tables[arm]
            if arm == "shipped":
                prm = {"c": fit_c(shipped, table.true, cal)}
                pred = [shipped[prm["c"]][i] for i in held]
            elif arm == "scan_map_scan_otsu":
                prm = {"c": fit_c(scan_fit, table.true, cal)}
                pred = [table.predicted("global", {"threshold": scan_threshold(
                    prm["c"], scale[i])}, int(i), exact=True) for i in held]
            else:
                prm = table.fit("otsu_scaled", cal)
                pred = [table.predicted("otsu_scaled", prm, int(i), exact=True) for i in held]
            err = [1.0 if p is None else abs(p - table.true[i]) / table.true[i]
                   for p, i in zip(pred, held)]
            per_fold[arm].append(round(100 * float(np.mean(err)), 3))
            params[arm].append(prm)
    diff = paired_with_means(per_fold["scan_map_scan_otsu"], per_fold["scan_map_region_otsu"])
    report = {"per_image_pct": {arm: {"per_fold": v, "mean": round(float(np.mean(v)), 3),
                                      "std": round(float(np.std(v, ddof=1)), 3)}
                                for arm, v in per_fold.items()},
              "params_per_fold": params,
              "scan_otsu": {s: round(v, 4) for s, v in sorted(scan_otsu.items())},
              "per_region_minus_whole_scan": diff,
              "adopt_per_region_thresholds": better_by_more_than_one_std(diff),
              "shipped_minus_whole_scan": paired_with_means(
                  per_fold["scan_map_scan_otsu"], per_fold["shipped"])}
    report["keep_shipped"] = (report["shipped_minus_whole_scan"]["diff_mean"] < 0)
    save("whole_scan_threshold", report)
    print(json.dumps({k: report[k] for k in ("per_image_pct", "per_region_minus_whole_scan",
                                             "adopt_per_region_thresholds",
                                             "shipped_minus_whole_scan", "keep_shipped")},
                     indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
