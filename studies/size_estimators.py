"""Label-free estimates of ℓ̄ (px) that could choose the inference scale, compared.

``measure_grain_size`` picks its inference scale from the image autocorrelation
(``estimate_intercept_px``); its log error has a spread of about 0.2 on native TBM
regions, which costs about 4 points of per-image error (docs/boundaries.md, "Inside the
whole measurement"). Two model-free alternatives are compared with it on every tbm/train
and tbm/val region (never tbm/test) resampled by u = 0.5, 1, 2:

* ``gradient_acf``: the same half-length rule on the Sobel gradient magnitude (σ = 1);
* ``edge_density_q``: the skeleton of the pixels above the q-quantile of the gradient
  magnitude as boundary length per area L_A, and ℓ̄ = π / (2 L_A).

Reported: the correlation of ln(estimate) with ln(true ℓ̄ × u) over all inputs (how well it
follows a scale change) and over the native regions (how well it tells regions apart),
and the spread of ln(estimate / truth) after removing its median (what a scale choice
would inherit).

    OMP_NUM_THREADS=1 python studies/size_estimators.py

Writes studies/results/size_estimators.json.
"""

from __future__ import annotations

import math
import sys

import numpy as np
from _common import gt_intercept, save, tbm_pairs

INPUT_SCALES = (0.5, 1.0, 2.0)


def _gradient(img: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    img = img if img.ndim == 3 else img[..., None]
    return np.sqrt(sum(ndimage.sobel(ndimage.gaussian_filter(img[..., c], 1.0), axis) ** 2
                       for c in range(img.shape[2]) for axis in (0, 1)))


def gradient_acf(img: np.ndarray) -> float | None:
    from napari_srmat.grainsize import _acf_half_length

    length = _acf_half_length(_gradient(img)[..., None])
    return None if length is None else float(length)


def edge_density(img: np.ndarray, q: float) -> float | None:
    from skimage.morphology import skeletonize

    g = _gradient(img)
    la = skeletonize(g > np.quantile(g, q)).mean()
    return math.pi / (2 * la) if la > 0 else None


ESTIMATORS = {"acf": None, "gradient_acf": gradient_acf,
              "edge_density_0.85": lambda x: edge_density(x, 0.85),
              "edge_density_0.70": lambda x: edge_density(x, 0.70)}


def main() -> int:
    from napari_srmat.grainsize import estimate_intercept_px, resample
    from napari_srmat.io import read_image, read_mask, to_float01

    ESTIMATORS["acf"] = estimate_intercept_px
    rows = []
    for _, img_path, mask_path in tbm_pairs():
        truth = gt_intercept(read_mask(mask_path))
        image = to_float01(np.asarray(read_image(img_path).data))
        for u in INPUT_SCALES:
            x = resample(image, u)
            rows.append({"name": img_path.stem, "u": u, "truth_px": truth * u,
                         **{k: f(x) for k, f in ESTIMATORS.items()}})
        print(img_path.stem, file=sys.stderr)
    result = {}
    t_all = np.log([r["truth_px"] for r in rows])
    u_all = np.array([r["u"] for r in rows])
    for name in ESTIMATORS:
        v = np.array([math.log(r[name]) if r[name] else np.nan for r in rows])
        ok = np.isfinite(v)
        native = ok & (u_all == 1)
        d = t_all[ok] - v[ok]
        result[name] = {
            "corr_log_all_inputs": round(float(np.corrcoef(v[ok], t_all[ok])[0, 1]), 3),
            "corr_log_native": round(float(np.corrcoef(v[native], t_all[native])[0, 1]), 3),
            "log_error_sd_after_median": round(float((d - np.median(d)).std()), 3),
            "n_missing": int((~ok).sum())}
        print(name, result[name])
    save("size_estimators", {"data": "tbm/train+val regions (never test) at u = 0.5, 1, 2",
                             "n_regions": len(rows) // len(INPUT_SCALES),
                             "estimators": result})
    return 0


if __name__ == "__main__":
    from _common import no_options

    no_options(__doc__)
    raise SystemExit(main())
