"""Out of fold: does the boundary model's tile size change the grain size?

`benchmarks/bench_uaed_speed.py` found that 512 px tiles run UAED about 3x faster than the
default 256 px tiles (fewer recomputed context pixels) but change the maps, so the default
tile is chosen here, on accuracy, the way every other choice is: with the five
leave-scan-out fold models of ``benchmarks/cv_uaed.py`` (variant ``plain``, final EMA
weights, TTA ``none``) on their held-out tbm/train+val regions (never test). Each region's
probability map is computed three ways: the whole image in one forward (how the
out-of-fold maps behind the operating point were made), and ``predict_boundaries`` with
tile 256 and 512 px (overlap 32). Scored: AP, ROC-AUC, per-image ℓ̄ error of
``otsu_scaled`` with the fold models' c (1.4, every fold's native fit), and the largest
difference from the whole-image map.

    OMP_NUM_THREADS=1 python studies/boundary_tile_oof.py --work out/cv_uaed

Writes studies/results/boundary_tile_oof.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from _common import DATA, FOLD_MODELS_C, HEYN, gt_intercept, load_fold_model, save

TILES = (256, 512)
OVERLAP = 32
C = FOLD_MODELS_C
LINES = 200


def _lbar(prob: np.ndarray) -> float | None:
    from napari_srmat.edges.thresholds import apply_threshold_rule
    from napari_srmat.metrics.heyn import measure_intercepts

    binary = apply_threshold_rule("otsu_scaled", prob, {"c": C})
    if not binary.any():
        return None
    return measure_intercepts(binary, n_lines=LINES, **HEYN).mean_intercept_px


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("out/cv_uaed"))
    args = ap.parse_args(argv)

    import torch

    from napari_srmat.edges import predict_boundaries
    from napari_srmat.edges.thresholds import intercept_errors
    from napari_srmat.io import read_image, read_mask, to_float01
    from napari_srmat.metrics.edges import EdgeHistogram

    torch.set_num_threads(1)
    folds = json.loads((args.work / "folds.json").read_text())
    paths = {p.stem: p for split in ("train", "val")
             for p in (DATA / split / "images").glob("*.png")}
    ways = ("whole", *[f"tile{t}" for t in TILES])
    hist = {w: EdgeHistogram() for w in ways}
    lbars: dict[str, list[float | None]] = {w: [] for w in ways}
    truths: list[float] = []
    max_diff = {w: 0.0 for w in ways}
    seconds = {w: 0.0 for w in ways}
    t_start = time.time()
    for k, names in enumerate(folds):
        model = load_fold_model(args.work, k)
        for name in names:
            path = paths[name]
            mask = read_mask(path.parent.parent / "masks" / path.name)
            truths.append(gt_intercept(mask))
            image = to_float01(np.asarray(read_image(path).data))
            maps = {}
            t0 = time.process_time()
            maps["whole"] = model.predict(image.transpose(2, 0, 1)[None])[0][0, 0]
            seconds["whole"] += time.process_time() - t0
            for t in TILES:
                t0 = time.process_time()
                maps[f"tile{t}"] = np.asarray(predict_boundaries(
                    image, model, tile=t, overlap=OVERLAP)[0], np.float32)
                seconds[f"tile{t}"] += time.process_time() - t0
            for w, prob in maps.items():
                hist[w].update(prob, mask)
                lbars[w].append(_lbar(prob))
                max_diff[w] = max(max_diff[w], float(np.abs(prob - maps["whole"]).max()))
        print(f"fold {k} done ({time.time() - t_start:.0f} s)", file=sys.stderr)
    result = {w: {"ap": round(hist[w].average_precision(), 4),
                  "roc_auc": round(hist[w].roc_auc(), 4),
                  "per_image_error_pct": round(
                      100 * intercept_errors(lbars[w], truths)["per_image"], 2),
                  "max_abs_diff_vs_whole": round(max_diff[w], 4),
                  "cpu_s_per_image": round(seconds[w] / len(truths), 3)} for w in ways}
    save("boundary_tile_oof", {"data": "tbm/train+val (never test), out-of-fold fold models",
                               "c": C, "overlap": OVERLAP, "n_images": len(truths),
                               "results": result})
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
