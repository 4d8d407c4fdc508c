"""ℓ̄ of small fields: crops of 64-256 px of tbm/train+val regions through the whole measurement.

A tester found ``srmat grain-size`` reading ℓ̄ 40-60 % short on crops of 96-128 px of
tbm regions (4-5 true grains across), with a 95 % interval that missed the truth and a
false "grains are only ~9 px across" warning. This study measures that per crop side
and tells which step goes wrong: the autocorrelation estimate of ℓ̄ before inference
(``grainsize.estimate_intercept_px``), the inference scale chosen from it
(``choose_inference_scale``), or the model on a small field at its own scale.

Data: tbm/val and every third tbm/train region (never tbm/test), 256 px with hand-drawn
masks. Crops of 64, 96, 128 and 192 px at three fixed offsets (top-left corner,
bottom-right corner, centre) and the whole 256 px region. For each crop: the estimate
(as the measurement computes it, before the too-few-grains rule withholds it), the
sharpness, the chosen inference scale, ℓ̄ and its 95 % interval from
``measure_grain_size`` (shipped weights, automatic scale) and at scale 1, the warnings,
and the true ℓ̄: the crop of the mask through the project's one rule
(``edges.thresholds.mean_intercept``: skeletonized, the default test lines of
``srmat grain-size``). A guard set: the ×4 antialiased bicubic reductions of the same
regions (64 px, ``studies.three_arm.downsample_uint8``; read in native pixels, x4,
against the region's true ℓ̄), whose scale choice a fix must not change. Per side:
mean |error| % over crops, the interval's coverage %, refusals, the estimate over the
truth and the scale (medians), the warnings (coarse or too coarse: ``grains are`` /
``grains look``; a small field kept at its own scale: ``the field holds only``).

Found (``results/small_field_grain_size_before.json``, before ``SMALL_FIELD_PX``): the
estimate reads short by the field's size (median 0.60 / 0.77 / 0.85 / 0.99 / 1.03 x the
true ℓ̄ at 64 / 96 / 128 / 192 / 256 px) and the enlargement chosen from it is the step
that goes wrong: mean |error| 36.7 / 29.0 / 22.6 / 12.8 / 9.5 % with the automatic scale,
19.5 / 13.8 / 10.6 / 7.9 / 8.5 % at scale 1; coverage 42.0 / 59.5 / 70.7 / 96.0 / 100 %.
The x4-down guard copies look the same by estimate and sharpness but need their
enlargement (at scale 1 they read 153 % long), so only estimates that are not coarse
(>= ``COARSE_INPUT_INTERCEPT_PX``) lose it (``grainsize.small_field``).

    OMP_NUM_THREADS=1 PYTHONPATH=src python studies/small_field_grain_size.py  # ~4 CPU-min

Writes studies/results/small_field_grain_size.json.
"""

from __future__ import annotations

import numpy as np
from _common import no_options, save, tbm_pairs

SIDES = (64, 96, 128, 192, 256)
OFFSETS = ((0.0, 0.0), (1.0, 1.0), (0.5, 0.5))  # fractions of the free room
EVERY_TRAIN = 3
LR_KIND = "lr_x4_down"


def _crops(raw: np.ndarray, side: int):
    h, w = raw.shape[:2]
    if side >= min(h, w):
        yield (0, 0), raw
        return
    for fy, fx in OFFSETS:
        y, x = round((h - side) * fy), round((w - side) * fx)
        yield (y, x), raw[y : y + side, x : x + side]


def _measure(
    img: np.ndarray, truth: float, model, kind: str, name: str, at: tuple, factor: float = 1.0
) -> dict:
    """One crop (ℓ̄ in the crop's pixels over ``factor``: native pixels)."""
    from napari_srmat.grainsize import _automatic_scale, measure_grain_size

    _, estimate, sharpness, unjudged, _ = _automatic_scale(img)
    if estimate is None and unjudged is not None:  # withheld: read it again, as it was
        from napari_srmat.grainsize import estimate_intercept_px

        estimate = estimate_intercept_px(img)
    r = measure_grain_size(img, model=model)
    row = {
        "kind": kind,
        "image": name,
        "side": int(min(img.shape[:2])),
        "at": list(at),
        "true_px": truth,
        "estimate_px": None if estimate is None else estimate / factor,
        "sharpness": sharpness,
        "scale": r.inference_scale,
        "l_px": None if r.mean_intercept_px is None else r.mean_intercept_px / factor,
        "ci_px": None
        if r.mean_intercept_ci95_px is None
        else [v / factor for v in r.mean_intercept_ci95_px],
        "warnings": [w for w in r.warnings if not w.startswith("no pixel size")],
    }
    if r.inference_scale != 1.0:
        r1 = measure_grain_size(img, model=model, inference_scale=1.0)
        row["l1_px"] = None if r1.mean_intercept_px is None else r1.mean_intercept_px / factor
    else:
        row["l1_px"] = row["l_px"]
    return row


def _summary(rows: list[dict]) -> dict:
    """Per side: crops, refused, mean |error| % (measured ones), coverage %, medians of
    estimate / truth and of the scale, mean |error| % at scale 1."""
    out = {}
    for side in sorted({r["side"] for r in rows}):
        sel = [r for r in rows if r["side"] == side]
        got = [r for r in sel if r["l_px"] is not None]
        err = [abs(r["l_px"] - r["true_px"]) / r["true_px"] for r in got]
        err1 = [
            abs(r["l1_px"] - r["true_px"]) / r["true_px"] for r in sel if r["l1_px"] is not None
        ]
        held = [
            r["ci_px"] is not None and r["ci_px"][0] <= r["true_px"] <= r["ci_px"][1] for r in got
        ]
        ratio = [r["estimate_px"] / r["true_px"] for r in sel if r["estimate_px"]]
        out[str(side)] = {
            "n": len(sel),
            "refused": len(sel) - len(got),
            "mean_abs_error_pct": round(100 * float(np.mean(err)), 1) if err else None,
            "signed_median_pct": round(
                100 * float(np.median([(r["l_px"] - r["true_px"]) / r["true_px"] for r in got])), 1
            )
            if got
            else None,
            "coverage_pct": round(100 * float(np.mean(held)), 1) if held else None,
            "estimate_over_true_median": round(float(np.median(ratio)), 3) if ratio else None,
            "scale_median": round(float(np.median([r["scale"] for r in sel])), 3),
            "upsampled": sum(r["scale"] > 1 for r in sel),
            "mean_abs_error_pct_at_scale_1": round(100 * float(np.mean(err1)), 1) if err1 else None,
            "scale_warned": sum(
                any(w.startswith(("grains are", "grains look")) for w in r["warnings"]) for r in sel
            ),
            "small_field_noted": sum(
                any(w.startswith("the field holds only") for w in r["warnings"]) for r in sel
            ),
        }
    return out


def main() -> int:
    from napari_srmat.edges import load_boundary_model
    from napari_srmat.edges.thresholds import mean_intercept
    from napari_srmat.io import read_image, read_mask
    from napari_srmat.studies.three_arm import downsample_uint8

    model = load_boundary_model()
    rows: list[dict] = []
    for _, image_path, mask_path in tbm_pairs(EVERY_TRAIN):
        raw = np.asarray(read_image(image_path).data)[..., :3]
        mask = read_mask(mask_path)
        for side in SIDES:
            for (y, x), crop in _crops(raw, side):
                truth = mean_intercept(mask[y : y + side, x : x + side])
                if truth is None:
                    continue
                rows.append(_measure(crop, float(truth), model, "crop", image_path.stem, (y, x)))
        whole = mean_intercept(mask)
        rows.append(
            _measure(
                downsample_uint8(raw),
                float(whole),
                model,
                LR_KIND,
                image_path.stem,
                (0, 0),
                factor=0.25,
            )
        )
        print(image_path.stem, len(rows), flush=True)
    crops = [r for r in rows if r["kind"] == "crop"]
    lr = [r for r in rows if r["kind"] == LR_KIND]
    result = {
        "data": f"tbm/val and every {EVERY_TRAIN}rd tbm/train region (never test); "
        f"crops {SIDES} px at offsets {OFFSETS} of the free room; the "
        "x4-down copies (64 px) as a guard, in native pixels",
        "crops": _summary(crops),
        "lr_x4_down": _summary(lr) | {"scales": sorted(r["scale"] for r in lr)},
        "rows": rows,
    }
    save("small_field_grain_size", result)
    for side, s in result["crops"].items():
        print(side, s)
    print("LR x4 down", result["lr_x4_down"])
    return 0


if __name__ == "__main__":
    no_options(__doc__)
    raise SystemExit(main())
