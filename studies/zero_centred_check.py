"""Zero-centred float images: where to draw the line against interpolation overshoot?

``io.check_pixel_values`` lets float images reach [-0.5, 1.5] (interpolation and SR
outputs overshoot a little), so a zero-centred image (``img / 255 - 0.5``) passed and
was read with every dark pixel as a negative intensity. The rule refuses a float image
with more than ``NEGATIVE_FLOAT_FRACTION`` of its sampled pixels below
``-NEGATIVE_FLOAT_TOLERANCE``. This script measures, per image:

* ``zero_centred``: the fraction of pixels of ``img / 255 - 0.5`` below the tolerance
  (what the rule must catch), for every tbm/train + tbm/val region (never tbm/test) and
  the scans in no split (``scans/scan_32``-``42`` and ``extra_*``);
* ``overshoot``: the same fraction in a cubic-spline x4 copy (``skimage`` ``rescale``,
  ``order=3``, not clipped) of the central 128 px of each tbm region (what must pass),
  and in such copies of grids of 1-4 px black lines on white (a worst case).

    PYTHONPATH=src python studies/zero_centred_check.py   # ~1 CPU-min

Writes studies/results/zero_centred_check.json.
"""

from __future__ import annotations

import numpy as np
from _common import DATA, q, save, tbm_pairs

from napari_srmat.io import read_image, to_float01
from napari_srmat.io._float import NEGATIVE_FLOAT_FRACTION, NEGATIVE_FLOAT_TOLERANCE

UNSPLIT_SCANS = [f"scan_{n}.jpg" for n in range(32, 43)] + [f"extra_{n}.jpg"
                                                             for n in range(10)]
CROP = 128


def negative_fraction(image: np.ndarray) -> float:
    return float(np.mean(image < -NEGATIVE_FLOAT_TOLERANCE))


def spline_x4(image: np.ndarray) -> np.ndarray:
    from skimage.transform import rescale

    return rescale(image, 4, order=3, clip=False,
                   channel_axis=-1 if image.ndim == 3 else None)


def line_grid(width: int, side: int = 64, period: int = 16) -> np.ndarray:
    grid = np.ones((side, side), np.float32)
    for k in range(width):
        grid[k::period] = 0
        grid[:, k::period] = 0
    return grid


def main() -> None:
    centred, overshoot = [], []
    for _, image_path, _ in tbm_pairs():
        img = to_float01(np.asarray(read_image(image_path).data))[..., :3]
        centred.append(negative_fraction(img - 0.5))
        h, w = img.shape[:2]
        y, x = max(0, h // 2 - CROP // 2), max(0, w // 2 - CROP // 2)
        overshoot.append(negative_fraction(spline_x4(img[y:y + CROP, x:x + CROP])))
    scans = []
    for name in UNSPLIT_SCANS:
        path = DATA.parent / "scans" / name
        if path.exists():
            img = to_float01(np.asarray(read_image(path).data))[..., :3]
            scans.append(negative_fraction(img - 0.5))
    grids = {w: negative_fraction(spline_x4(line_grid(w))) for w in (1, 2, 3, 4)}
    every = np.array(centred + scans)
    report = {
        "negative_float_fraction": NEGATIVE_FLOAT_FRACTION,
        "negative_float_tolerance": NEGATIVE_FLOAT_TOLERANCE,
        "zero_centred_tbm_q10_50_90": q(centred),
        "zero_centred_scans_q10_50_90": q(scans) if scans else None,
        "zero_centred_caught": f"{int(np.sum(every > NEGATIVE_FLOAT_FRACTION))} of "
                               f"{every.size}",
        "overshoot_tbm_max": float(np.max(overshoot)),
        "overshoot_line_grids": {f"{w}px": v for w, v in grids.items()},
        "line_grid_black_fraction": {f"{w}px": float(np.mean(line_grid(w) == 0))
                                     for w in grids},
    }
    print(save("zero_centred_check", report))
    for k, v in report.items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    from _common import no_options

    no_options(__doc__)
    main()
