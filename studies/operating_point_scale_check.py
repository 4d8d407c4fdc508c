"""Scale consistency of candidate operating points (threshold rule x TTA) of the grain size.

The acceptance check of ``tests/test_grainsize.py::test_model_scale_consistency_synthetic``
(a synthetic micrograph, ℓ̄ = 44 px at x1, rescaled x0.5, x1, x2, x4 and measured by
:func:`napari_srmat.grainsize.measure_grain_size` with the shipped weights: ℓ̄ in µm must
agree within 5 %), repeated for the operating points considered as the shipped default
(docs/boundaries.md, "An operating point per image") on that structure and on four more
seeds. Synthetic micrographs only.

    OMP_NUM_THREADS=1 PYTHONPATH=../src python operating_point_scale_check.py

Writes studies/results/operating_point_scale_check.json.
"""

from __future__ import annotations

import sys

import numpy as np
from _common import save

POINTS = (("otsu_scaled", "none"), ("bridge", "none"), ("prune", "none"),
          ("global", "none"), ("otsu_scaled", "d4"), ("bridge", "d4"), ("global", "d4"))
SCALES = (0.5, 1, 2, 4)
SEEDS = (3, 4, 5, 6, 7)  # 3: the acceptance test's structure


def main() -> int:
    from napari_srmat.edges import load_boundary_model
    from napari_srmat.grainsize import measure_grain_size, resample
    from napari_srmat.synth import generate_microstructure

    images = {}
    for seed in SEEDS:
        ms = generate_microstructure((384, 384), mean_grain_size_px=56, seed=seed)
        images[seed] = (ms.image.astype(np.float32) / 255, float(ms.mean_intercept_px))
    out = {}
    for rule, tta in POINTS:
        model = load_boundary_model(device="cpu", tta=tta, threshold_rule=rule)
        rows = []
        for seed, (img, truth) in images.items():
            um = [measure_grain_size(resample(img, s), model=model,
                                     pixel_size_um=1.0 / s).mean_intercept_um for s in SCALES]
            ok = all(v is not None for v in um)
            rows.append({"seed": seed, "true_um": round(truth, 3),
                         "um_by_scale": [None if v is None else round(v, 3) for v in um],
                         "spread_max_over_min": round(max(um) / min(um), 4) if ok else None})
        spreads = [r["spread_max_over_min"] for r in rows if r["spread_max_over_min"]]
        out[f"{rule}/{tta}"] = {"rows": rows, "acceptance_seed_spread": rows[0][
            "spread_max_over_min"], "median_spread": round(float(np.median(spreads)), 4),
            "n_within_5pct": int(sum(s < 1.05 for s in spreads))}
        print(f"{rule}/{tta}: spreads {spreads}", file=sys.stderr)
    save("operating_point_scale_check", {"scales": list(SCALES), "seeds": list(SEEDS),
                                         "points": out})
    return 0


if __name__ == "__main__":
    from _common import no_options

    no_options(__doc__)
    sys.exit(main())
