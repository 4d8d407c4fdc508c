"""Do the Heyn test patterns agree on real hand-drawn masks?

Random lines (50, the default), the E112 grid (50 + 50 lines) and the E112 Abrams
three circles measure the skeletonized hand-drawn masks of tbm/train and
tbm/val (never tbm/test) with the defaults of :func:`napari_srmat.metrics.heyn.measure_intercepts`
(5 % margin, seed 1234). Reported: the mean over regions of each pattern's ℓ̄ (px), the
mean per-region difference to the random lines (%), and the mean number of boundary
crossings per region (the circles cross far fewer boundaries: their per-region ℓ̄ is
noisier).

    PYTHONPATH=src python studies/heyn_patterns_check.py   # ~1 CPU-min

Writes studies/results/heyn_patterns_check.json.
"""

from __future__ import annotations

import numpy as np
from _common import save, tbm_pairs

PATTERNS = ("random", "grid", "circles")


def main() -> None:
    from napari_srmat.io import read_mask
    from napari_srmat.metrics.heyn import measure_intercepts

    rows = []
    for split, _image, mask_path in tbm_pairs():
        mask = read_mask(mask_path)
        row = {"split": split, "mask": mask_path.name}
        for pattern in PATTERNS:
            r = measure_intercepts(mask, pattern=pattern, skeletonize=True)
            row[pattern] = r.mean_intercept_px
            row[f"{pattern}_crossings"] = r.intersection_count
        rows.append(row)
    ok = [r for r in rows if all(r[p] is not None for p in PATTERNS)]
    summary = {
        "n_regions": len(ok),
        "mean_intercept_px": {p: round(float(np.mean([r[p] for r in ok])), 2)
                              for p in PATTERNS},
        "mean_difference_to_random_pct": {
            p: round(float(np.mean([100 * (r[p] - r["random"]) / r["random"] for r in ok])), 2)
            for p in PATTERNS[1:]},
        "mean_crossings": {p: round(float(np.mean([r[f"{p}_crossings"] for r in ok])), 1)
                           for p in PATTERNS},
    }
    print(summary)
    save("heyn_patterns_check", {"summary": summary, "regions": rows})


if __name__ == "__main__":
    from _common import no_options

    no_options(__doc__)
    main()
