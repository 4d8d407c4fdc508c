"""How small an image can the autocorrelation estimate of ℓ̄ judge? Crops of a few grains.

The scale check (``grainsize.check_native_scale``: ``srmat edges predict``, the Boundaries
widget) and the automatic inference scale of ``measure_grain_size`` read ℓ̄ from the
autocorrelation of the image. On a crop of a few grains that estimate reads short: it
cannot exceed about 0.7 × the crop's side (the autocorrelation must halve inside half
the window) and the crop's own mean is subtracted. This study measures by how much, as
a function of how many grains the crop holds, and which rule on what the estimate can
see (the image's smaller side over the estimate: grains across by its own estimate)
tells the crops it misjudges, without touching the whole images the documented numbers
were measured on.

Data: every tbm/train + val region (never tbm/test) as it is (256 px, hand-drawn ℓ̄),
up-sampled ×4 (1024 px, bilinear: a super-resolved-like image), and synthetic
micrographs (``napari_srmat.synth``, 1024 px, spacing 12-96 px, 3 seeds, exact ℓ̄).
Crops of 16-768 px at the four corners and the centre. For each crop: its true grains
across (side / true ℓ̄), its estimated grains across (side / its estimate), its estimate
over the whole image's, and whether its scale check (``NativeScale``) warns differently
from the whole image's. A crop is *misjudged* when its estimate is off the whole
image's by more than 1.3 × either way (the estimator's own spread on native regions,
0.89-1.30 ×) or its warning differs. Also the estimated grains across of the whole
images of the three-arm experiment (HR 256 px; LR the ×4 antialiased bicubic copy,
64 px; ×4 up 1024 px): a rule must not reach them (tbm/test's documented numbers are
measured on those arms).

    OMP_NUM_THREADS=1 PYTHONPATH=src python studies/scale_estimate_crop_size.py  # ~6 CPU-min

Writes studies/results/scale_estimate_crop_size.json.
"""

from __future__ import annotations

import math

import numpy as np
from _common import gt_intercept, no_options, save, tbm_pairs

SIDES = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768)
SYNTH_SPACINGS = (12, 24, 48, 96)
SYNTH_SEEDS = (0, 1, 2)
CANDIDATES = (3.0, 3.5, 4.0, 4.5, 5.0)
TRUE_GRAIN_BINS = ((0, 2), (2, 4), (4, 6), (6, math.inf))
OFF_FACTOR = 1.3


def _crops(img: np.ndarray, side: int):
    h, w = img.shape[:2]
    for fy, fx in ((0, 0), (0, 1), (1, 0), (1, 1), (0.5, 0.5)):
        y, x = round((h - side) * fy), round((w - side) * fx)
        yield img[y:y + side, x:x + side]


def estimate_and_warning(img) -> tuple[float | None, bool]:
    """The autocorrelation estimate of ℓ̄ of ``img`` and whether the native-scale check
    warns on it."""
    from napari_srmat.grainsize import NativeScale, _automatic_scale, estimate_intercept_px

    est = estimate_intercept_px(img)
    sharp = _automatic_scale(img)[2]
    return est, NativeScale.of(est, sharp).warning is not None


def _crop_rows(img: np.ndarray, true_px: float, kind: str) -> list[dict]:
    full, full_warned = estimate_and_warning(img)
    rows = []
    for side in SIDES:
        if side >= min(img.shape[:2]):
            break
        for crop in _crops(img, side):
            est, warned = estimate_and_warning(crop)
            ratio = est / full
            rows.append({"kind": kind, "side": side, "true_grains": side / true_px,
                         "est_grains": side / est, "ratio": ratio,
                         "misjudged": bool(not 1 / OFF_FACTOR <= ratio <= OFF_FACTOR
                                           or warned != full_warned)})
    return rows


def _summary(rows: list[dict]) -> dict:
    out = {"n": len(rows), "by_true_grains": {}, "rules": {}}
    for lo, hi in TRUE_GRAIN_BINS:
        sel = [r for r in rows if lo <= r["true_grains"] < hi]
        if not sel:
            continue
        ratio = np.array([r["ratio"] for r in sel])
        out["by_true_grains"][f"{lo}-{hi}"] = {
            "n": len(sel), "misjudged_pct": round(100 * np.mean([r["misjudged"] for r in sel]), 1),
            "ratio_q10_median_q90": [round(float(v), 3) for v in np.quantile(ratio, (.1, .5, .9))],
            **{f"flagged_pct_at_{g:g}": round(100 * np.mean([r["est_grains"] < g for r in sel]), 1)
               for g in CANDIDATES}}
    for g in CANDIDATES:
        flagged = [r for r in rows if r["est_grains"] < g]
        kept = [r for r in rows if r["est_grains"] >= g]
        bad = [r for r in rows if r["misjudged"]]
        out["rules"][f"{g:g}"] = {
            "flagged": len(flagged),
            "misjudged_pct_of_flagged": round(100 * np.mean([r["misjudged"] for r in flagged]), 1)
            if flagged else None,
            "misjudged_pct_of_kept": round(100 * np.mean([r["misjudged"] for r in kept]), 1)
            if kept else None,
            "misjudged_caught_pct": round(100 * np.mean([r["est_grains"] < g for r in bad]), 1)
            if bad else None}
    return out


def main() -> int:
    from napari_srmat.grainsize import estimate_intercept_px, resample
    from napari_srmat.io import read_image, read_mask, to_float01
    from napari_srmat.studies.three_arm import downsample_uint8
    from napari_srmat.synth import generate_microstructure

    rows: list[dict] = []
    arms: dict[str, list[float]] = {"HR 256 px": [], "LR x4 down 64 px": [], "x4 up 1024 px": []}
    for _, image_path, mask_path in tbm_pairs():
        raw = np.asarray(read_image(image_path).data)
        img = to_float01(raw)
        true = gt_intercept(read_mask(mask_path))
        up = resample(img, 4)
        for name, a in zip(arms, (img, downsample_uint8(raw), up)):
            arms[name].append(min(a.shape[:2]) / estimate_intercept_px(a))
        rows += _crop_rows(img, true, "tbm")
        rows += _crop_rows(up, 4 * true, "tbm_x4_up")
        print(image_path.stem, len(rows), flush=True)
    for h in SYNTH_SPACINGS:
        for seed in SYNTH_SEEDS:
            ms = generate_microstructure((1024, 1024), mean_grain_size_px=h, seed=seed)
            rows += _crop_rows(ms.image, ms.mean_intercept_px, "synthetic")
    kinds = ("tbm", "tbm_x4_up", "synthetic")
    result = {
        "data": "tbm/train + val regions (never test), as they are and x4 up; synthetic "
                "1024 px micrographs; crops at the corners and the centre",
        "misjudged": f"estimate off the whole image's by > {OFF_FACTOR}x either way, or "
                     "another scale warning than the whole image's",
        "whole_images_est_grains_min": {k: round(min(v), 3) for k, v in arms.items()},
        "whole_images_est_grains_q10_median": {k: [round(float(x), 3) for x in
                                                   np.quantile(v, (.1, .5))]
                                               for k, v in arms.items()},
        **{k: _summary([r for r in rows if r["kind"] == k]) for k in kinds},
    }
    save("scale_estimate_crop_size", result)
    for k in kinds:
        print(k, result[k]["by_true_grains"], result[k]["rules"], sep="\n  ")
    print("whole images, smallest estimated grains across:",
          result["whole_images_est_grains_min"])
    return 0


if __name__ == "__main__":
    no_options(__doc__)
    raise SystemExit(main())
