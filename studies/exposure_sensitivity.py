"""How much does the exposure of its input move the grain size the shipped model reads?

Every 4th tbm/train region and every tbm/val region (never tbm/test), as float images
multiplied by a gain g (0.25 ... 2, clipped to [0, 1]), measured by
``measure_grain_size`` at inference scale 1 with the shipped model, (a) without the
exposure gain (the model sees the dim image as it is: what the code did before
``edges.data.exposure_gain``) and (b) as shipped (images under ``EXPOSURE_DIM_LIMIT``
brightened). Reported: per gain, the median and range over regions of ℓ̄(g) / ℓ̄(1), and the
fraction of saturated pixels (``edges.data.saturated_fraction``) of the brighter copies.
Also one region (``15-0-0``) saved as 12-bit data in a 16-bit array, both ways.

    OMP_NUM_THREADS=1 PYTHONPATH=src python studies/exposure_sensitivity.py   # ~6 CPU-min

Writes studies/results/exposure_sensitivity.json.
"""

from __future__ import annotations

import numpy as np
from _common import q, save, tbm_pairs

GAINS = (0.25, 0.5, 0.7, 0.85, 1.0, 1.15, 1.3, 1.6, 2.0)
TWELVE_BIT_REGION = "15-0-0"
SATURATION_BINS = ((0.0, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.5), (0.5, 1.01))


def _measure(image, model, guard: bool) -> float | None:
    from napari_srmat import measure_grain_size

    if not guard:  # the model as it was: every image fed as it is
        model.exposure_gain = lambda image: 1.0
    try:
        return measure_grain_size(image, model=model, inference_scale=1.0).mean_intercept_px
    finally:
        model.__dict__.pop("exposure_gain", None)


def main() -> int:
    import torch

    from napari_srmat.edges import load_boundary_model
    from napari_srmat.edges.data import saturated_fraction, to_model_image
    from napari_srmat.io import read_image, to_float01

    torch.set_num_threads(1)
    model = load_boundary_model(device="cpu")
    pairs = tbm_pairs(every_train=4)
    ratios = {arm: {g: [] for g in GAINS} for arm in ("no_gain", "shipped")}
    saturated = {g: [] for g in GAINS}
    for _, image_path, _ in pairs:
        image = to_float01(np.asarray(read_image(image_path).data))
        for g in GAINS:
            saturated[g].append(saturated_fraction(to_model_image(np.clip(image * g, 0, 1))))
        for arm, guard in (("no_gain", False), ("shipped", True)):
            lengths = {g: _measure(np.clip(image * g, 0, 1).astype(np.float32), model, guard)
                       for g in GAINS}
            for g in GAINS:
                if lengths[g] is not None and lengths[1.0]:
                    ratios[arm][g].append(lengths[g] / lengths[1.0])
    region = next(p for _, p, _ in pairs if p.stem == TWELVE_BIT_REGION)
    img8 = np.asarray(read_image(region).data)
    img12 = (img8.astype(np.uint32) * 4095 // 255).astype(np.uint16)
    twelve = {"region": TWELVE_BIT_REGION, "uint8": _measure(img8, model, True),
              "uint16_12bit_no_gain": _measure(img12, model, False),
              "uint16_12bit_shipped": _measure(img12, model, True)}
    report = {
        "data": "every 4th tbm/train region and tbm/val (never test)",
        "n_regions": len(pairs), "gains": list(GAINS),
        "ratio_to_gain_1": {arm: {str(g): {"q10_median_q90": q(v, (0.1, 0.5, 0.9)),
                                           "min": round(float(min(v)), 3),
                                           "max": round(float(max(v)), 3), "n": len(v)}
                                  for g, v in by_gain.items()}
                            for arm, by_gain in ratios.items()},
        "saturated_fraction": {str(g): {"q10_median_q90": q(v, (0.1, 0.5, 0.9)),
                                        "max": round(float(max(v)), 3)}
                               for g, v in saturated.items()},
        "ratio_vs_saturated_fraction": [
            {"gain": g, "saturated": round(float(saturated[g][i]), 3),
             "ratio": round(float(ratios["shipped"][g][i]), 3)}
            for g in GAINS if g > 1 for i in range(len(saturated[g]))
            if len(ratios["shipped"][g]) == len(saturated[g])],
        "twelve_bit_example_l_px": {k: (round(v, 2) if isinstance(v, float) else v)
                                    for k, v in twelve.items()},
    }
    rows = report["ratio_vs_saturated_fraction"]
    report["ratio_by_saturated_fraction"] = [
        {"saturated": [lo, hi], "n": len(r), "median": round(float(np.median(r)), 3),
         "min": min(r), "max": max(r),
         "share_off_by_more_than_10pct": round(float(np.mean(np.abs(np.array(r) - 1) > 0.1)),
                                               2)}
        for lo, hi in SATURATION_BINS
        if (r := [e["ratio"] for e in rows if lo <= e["saturated"] < hi])]
    save("exposure_sensitivity", report)
    return 0


if __name__ == "__main__":
    from _common import no_options

    no_options(__doc__)
    raise SystemExit(main())
