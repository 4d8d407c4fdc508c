"""Does the SR of a field measure the ℓ̄ of the field? Today's automatic inference scale
against running a known ×f upscale at exactly 1/f (the LR's pixels).

The GUI explorer (session 50, F2) found the Simple tab's ℓ̄ of the same field moving by
−13..+11 % between an LR already in the model's reliable range (measured at inference
scale 1) and its ×2 / ×4 SR, which the automatic rule resamples to 0.80-0.86 or
1.14-1.21 × the LR's pixels: ℓ̄ (µm) follows ~ const / inference scale. An SR output
records its factor f (``attrs["srmat"]["scale"]`` of an ``srmat sr run`` store,
``sr_factor`` of the SR widget's layer). Two rules for such an input:

* ``today``: ``measure_grain_size``'s automatic scale (autocorrelation estimate and
  sharpness of the SR itself; the recorded factor is ignored);
* ``known``: where the LR-equivalent would be measured at scale 1, run at exactly 1/f;
  elsewhere ``today``. Two ways to know the LR-equivalent's scale: ``known_window``,
  the automatic scale of the SR's central window brought back ÷ f (what
  ``measure_grain_size`` could do with the SR alone, the window of
  ``studies/sr_provenance_decision.py``'s ``provenance_scale``); ``known_lr``, the
  automatic scale of the LR itself (known here; in the GUI only when the LR is open).

Inputs: tbm/val and every second tbm/train region (35 regions; never tbm/test, never
scans 13, 24, 28) as the LR, its ×2 ``bicubic`` SR and its ×4 ``cnn`` SR (the shipped
weights, CPU). Each is measured by ``measure_grain_size`` with the shipped boundary
model (it saw the train regions in training: their errors against the truth are in
sample; the consistency with the LR is the question). Truth: the region's hand-drawn mask,
``gt_intercept`` (500 random lines, the protocol of issue 12). Per image:
``|ℓ̄ − truth| / truth`` with ℓ̄ in LR pixels (SR ℓ̄ ÷ f), and ``ℓ̄_SR / ℓ̄_LR − 1``.

Decision rule (written before any measurement; no fitted parameter): adopt ``known``
(``known_window``, the one the library can apply) for SR inputs with a recorded factor
if, on both SR arms, (1) the mean paired difference of the per-image error
(known − today) is at most +0.5 points (``sr_provenance_decision.py``'s tolerance), and
(2) the mean |ℓ̄_SR / ℓ̄_LR − 1| is lower than today's.

    PYTHONPATH=src OMP_NUM_THREADS=1 nice python studies/grainsize_sr_consistency.py   # ~4 min

Writes studies/results/grainsize_sr_consistency.json.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
from _common import TEST_SCANS, gt_intercept, save, scan_of, tbm_pairs

EVERY_TRAIN = 2
ARMS = {"bicubic_x2": ("bicubic", 2), "cnn_x4": ("cnn", 4)}
RULES = ("today", "known_window", "known_lr")
DECIDING_RULE = "known_window"
MAX_WORSE_POINTS = 0.5


def lr_equivalent_scale(image: np.ndarray, factor: int) -> float:
    """Automatic inference scale of an upscale's central window brought back ÷ ``factor``."""
    from napari_srmat.grainsize import (
        ACF_WINDOW,
        _central_window,
        _float_image,
        automatic_inference_scale,
        resample,
    )

    window = _float_image(_central_window(image, ACF_WINDOW * factor))
    return automatic_inference_scale(resample(window, 1.0 / factor))[0]


def measure(image: np.ndarray, model, scale: float | None) -> tuple[float | None, float, int]:
    """ℓ̄ (input px), the inference scale used and the number of warnings."""
    from napari_srmat.grainsize import measure_grain_size

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = measure_grain_size(image, model=model, inference_scale=scale)
    v = None if r.mean_intercept_px is None else float(r.mean_intercept_px)
    return v, float(r.inference_scale), len(r.warnings) + len(caught)


def stats(values) -> dict:
    v = np.asarray([x for x in values if x is not None], float)
    return {
        "n": int(v.size),
        "mean": round(float(v.mean()), 2),
        "sd": round(float(v.std(ddof=1)), 2),
    }


def main() -> None:
    from napari_srmat.edges import load_boundary_model
    from napari_srmat.io import read_image, read_mask
    from napari_srmat.sr import load_model, super_resolve

    model = load_boundary_model()
    sr_models = {arm: load_model(kind, scale=f, device="cpu") for arm, (kind, f) in ARMS.items()}
    rows = []
    t0 = time.perf_counter()
    for split, img_path, mask_path in tbm_pairs(EVERY_TRAIN):
        if scan_of(img_path) in TEST_SCANS:
            raise SystemExit(f"refusing a test scan: {img_path.name}")
        lr = np.asarray(read_image(img_path).data)
        truth = gt_intercept(read_mask(mask_path))
        lr_px, lr_scale, lr_warn = measure(lr, model, None)
        row = {
            "name": img_path.stem,
            "split": split,
            "truth_px": truth,
            "lr_px": lr_px,
            "lr_scale": lr_scale,
            "lr_warnings": lr_warn,
        }
        for arm, (_, f) in ARMS.items():
            sr = np.asarray(super_resolve(lr, sr_models[arm]))
            window_scale = lr_equivalent_scale(sr, f)
            row[f"{arm}_lr_equivalent_scale"] = window_scale
            today = measure(sr, model, None)
            at_lr_pixels = None  # measured once for both known rules
            for rule in RULES:
                at_one = {
                    "today": False,
                    "known_window": window_scale == 1.0,
                    "known_lr": lr_scale == 1.0,
                }[rule]
                if at_one and at_lr_pixels is None:
                    at_lr_pixels = measure(sr, model, 1.0 / f)
                px, scale, n_warn = at_lr_pixels if at_one else today
                row[f"{arm}_{rule}_px"] = None if px is None else px / f
                row[f"{arm}_{rule}_scale_x_lr"] = scale * f
                row[f"{arm}_{rule}_warnings"] = n_warn
        rows.append(row)
        print(
            f"{row['name']:12s} truth {truth:5.1f}  LR {lr_px:5.1f} @{lr_scale:g}  "
            + "  ".join(
                f"{arm} {row[f'{arm}_today_px']:5.1f}@{row[f'{arm}_today_scale_x_lr']:.2f}→"
                f"{row[f'{arm}_known_window_px']:5.1f}@{row[f'{arm}_known_window_scale_x_lr']:.2f}"
                for arm in ARMS
            ),
            file=sys.stderr,
        )

    def err(r, key):
        v = r[key]
        return None if v is None else 100 * abs(v - r["truth_px"]) / r["truth_px"]

    def vs_lr(r, key):
        v = r[key]
        return None if v is None or r["lr_px"] is None else 100 * (v / r["lr_px"] - 1)

    summary = {"lr": {"error_pct": stats(err(r, "lr_px") for r in rows)}}
    decision = {}
    for arm in ARMS:
        summary[arm] = {}
        for rule in RULES:
            key = f"{arm}_{rule}_px"
            summary[arm][rule] = {
                "error_pct": stats(err(r, key) for r in rows),
                "vs_lr_pct": stats(vs_lr(r, key) for r in rows),
                "abs_vs_lr_pct": stats(
                    None if vs_lr(r, key) is None else abs(vs_lr(r, key)) for r in rows
                ),
                "paired_error_minus_today_pts": stats(
                    None
                    if err(r, key) is None or err(r, f"{arm}_today_px") is None
                    else err(r, key) - err(r, f"{arm}_today_px")
                    for r in rows
                ),
                "n_at_one_over_f": sum(r[f"{arm}_{rule}_scale_x_lr"] == 1.0 for r in rows),
                "n_warned": sum(r[f"{arm}_{rule}_warnings"] > 0 for r in rows),
            }
        s = summary[arm]
        decision[arm] = {
            "not_worse": s[DECIDING_RULE]["paired_error_minus_today_pts"]["mean"]
            <= MAX_WORSE_POINTS,
            "more_consistent": s[DECIDING_RULE]["abs_vs_lr_pct"]["mean"]
            < s["today"]["abs_vs_lr_pct"]["mean"],
        }
    adopt = all(all(d.values()) for d in decision.values())
    payload = {
        "data": "tbm/val + every 2nd tbm/train region (never test); shipped boundary "
        "model; bicubic x2 and cnn x4 SR (shipped weights, CPU)",
        "n_regions": len(rows),
        "lr_at_scale_one": sum(r["lr_scale"] == 1.0 for r in rows),
        "summary": summary,
        "decision": decision,
        "adopt": adopt,
        "runtime_s": round(time.perf_counter() - t0, 1),
        "rows": rows,
    }
    save("grainsize_sr_consistency", payload)
    print({k: payload[k] for k in ("n_regions", "lr_at_scale_one", "adopt", "runtime_s")})
    for arm in ARMS:
        for rule in RULES:
            s = summary[arm][rule]
            e, c, a = s["error_pct"], s["vs_lr_pct"], s["abs_vs_lr_pct"]
            p = s["paired_error_minus_today_pts"]
            print(
                f"{arm:11s} {rule:13s} error {e['mean']:5.2f} ± {e['sd']:5.2f} %"
                f"  vs LR {c['mean']:+6.2f} ± {c['sd']:5.2f} %"
                f"  |vs LR| {a['mean']:5.2f} ± {a['sd']:5.2f} %"
                f"  paired {p['mean']:+5.2f} ± {p['sd']:5.2f} pts"
                f"  at 1/f {s['n_at_one_over_f']}"
            )
    e = summary["lr"]["error_pct"]
    print(f"LR error {e['mean']:.2f} ± {e['sd']:.2f} %  decision {decision}")


if __name__ == "__main__":
    from _common import no_options

    no_options(__doc__)
    main()
