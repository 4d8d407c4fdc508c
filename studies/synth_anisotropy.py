"""Is the synthetic ground truth ℓ̄ what isotropic test lines measure? (synthetic only)

``generate_microstructure(...).mean_intercept_px`` is the exact mean intercept of the
label image along all its rows and columns (``synth.true_mean_intercept``). That equals
the stereological ℓ̄ = π A / (2 L) only when the boundaries have no preferred direction;
the generator places its grains on a jittered square grid. This script measures the
label image itself (no boundary mask, no skeleton), for several grain sizes and seeds:

* ℓ̄ along rows and columns (the reported value) and along the two diagonals (pixel
  steps of √2);
* the 4-direction estimate of the isotropic ℓ̄: one over the mean over the four
  directions of the crossing density 1/ℓ̄ (a Crofton estimate; lines through the digital
  image at other angles cross the pixel staircase of a boundary several times, so they
  are not used);
* for reference, ``metrics.heyn.measure_intercepts`` of the 1 px boundary mask, skeletonized,
  with the studies' settings (``_common.HEYN``, 500 lines) — the measurement the
  docs' "Heyn on the mask reads 2-4 % high" is about.

Writes studies/results/synth_anisotropy.json. ``python studies/synth_anisotropy.py``
(about 10 CPU-s).
"""

from __future__ import annotations

import numpy as np
from _common import GT_LINES, HEYN, no_options, save

#: Grain sizes (``mean_grain_size_px``), seeds and image side of the structures.
GRAIN_SIZES = (16.0, 24.0, 32.0, 48.0)
SEEDS = (0, 1, 2, 3)
SIDE = 1024
#: Boundary width of the mask Heyn measures (the generator's default is 2 px).
BOUNDARY_WIDTH = 1


def axis_intercepts(labels: np.ndarray) -> dict[str, float]:
    """ℓ̄ (px) along rows, columns and both diagonals of a label image."""
    h, w = labels.shape
    rows = np.count_nonzero(labels[:, 1:] != labels[:, :-1])
    cols = np.count_nonzero(labels[1:, :] != labels[:-1, :])
    diag = np.count_nonzero(labels[1:, 1:] != labels[:-1, :-1])
    anti = np.count_nonzero(labels[1:, :-1] != labels[:-1, 1:])
    diag_len = (h - 1) * (w - 1) * np.sqrt(2.0)
    return {"rows": h * (w - 1) / rows, "columns": w * (h - 1) / cols,
            "rows_and_columns": (h * (w - 1) + w * (h - 1)) / (rows + cols),
            "diagonal": diag_len / diag, "antidiagonal": diag_len / anti}


def main() -> None:
    from napari_srmat.metrics.heyn import measure_intercepts
    from napari_srmat.synth import generate_microstructure

    rows = []
    for size in GRAIN_SIZES:
        for seed in SEEDS:
            ms = generate_microstructure((SIDE, SIDE), mean_grain_size_px=size, seed=seed,
                                         boundary_width=BOUNDARY_WIDTH)
            labels = np.asarray(ms.labels)
            axes = axis_intercepts(labels)
            iur = 4.0 / sum(1.0 / axes[k] for k in ("rows", "columns", "diagonal",
                                                    "antidiagonal"))
            mask = measure_intercepts(np.asarray(ms.boundaries), n_lines=GT_LINES,
                                      **HEYN).mean_intercept_px
            rows.append({"mean_grain_size_px": size, "seed": seed,
                         "reported_px": float(ms.mean_intercept_px),
                         "axes_px": {k: float(v) for k, v in axes.items()},
                         "four_directions_px": float(iur),
                         "mask_skeleton_heyn_px": float(mask)})
            r = rows[-1]
            print(f"h {size:4.0f} seed {seed}: reported {r['reported_px']:.3f}, diagonals "
                  f"{axes['diagonal']:.3f}/{axes['antidiagonal']:.3f}, four directions "
                  f"{iur:.3f} ({100 * (r['reported_px'] / iur - 1):+.2f} %), mask "
                  f"{mask:.3f} ({100 * (mask / iur - 1):+.2f} % of four directions)")
    summary = {}
    for size in GRAIN_SIZES:
        sel = [r for r in rows if r["mean_grain_size_px"] == size]
        rep = np.array([r["reported_px"] / r["four_directions_px"] - 1 for r in sel]) * 100
        msk = np.array([r["mask_skeleton_heyn_px"] / r["four_directions_px"] - 1
                        for r in sel]) * 100
        msk_rep = np.array([r["mask_skeleton_heyn_px"] / r["reported_px"] - 1
                            for r in sel]) * 100
        diag = np.array([0.5 * (r["axes_px"]["diagonal"] + r["axes_px"]["antidiagonal"])
                         / r["axes_px"]["rows_and_columns"] - 1 for r in sel]) * 100
        summary[str(size)] = {
            "reported_vs_four_directions_pct": [round(float(rep.min()), 2),
                                             round(float(rep.max()), 2)],
            "diagonals_vs_rows_and_columns_pct": [round(float(diag.min()), 2),
                                                  round(float(diag.max()), 2)],
            "mask_vs_four_directions_pct": [round(float(msk.min()), 2), round(float(msk.max()), 2)],
            "mask_vs_reported_pct": [round(float(msk_rep.min()), 2),
                                     round(float(msk_rep.max()), 2)],
        }
    save("synth_anisotropy", {
        "what": "label-image ℓ̄ of generate_microstructure: rows/columns (reported) vs "
                "diagonals vs the four-direction estimate; Heyn of the skeletonized mask",
        "side": SIDE, "boundary_width": BOUNDARY_WIDTH,
        "heyn": HEYN, "gt_lines": GT_LINES, "summary": summary, "rows": rows})
    for size, s in summary.items():
        print(size, s)


if __name__ == "__main__":
    no_options(__doc__)
    main()
