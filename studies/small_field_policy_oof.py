"""Small-field scale policy out of fold: ``SMALL_FIELD_PX``, strips, coarse small fields.

``grainsize.small_field`` measures a native-sharp field whose window read by the
estimate (``judged_side``) is under ``SMALL_FIELD_PX`` (192) at its own scale when its
autocorrelation estimate of ℓ̄ is between ``COARSE_INPUT_INTERCEPT_PX`` (15 px) and the
target, instead of enlarging it by that estimate (which reads short on a small field,
``studies/small_field_grain_size.py``). Three open questions, settled here on
tbm/train+val only (never tbm/test), leave-scan-out:

1. the threshold: each candidate ``T`` (64: no field is small ... 288: every field of
   256 px is) is applied to every crop; ``T`` is chosen on four folds of scans
   (``edges.cv.scan_folds``, 5 folds, seed 0) by the lowest mean per-image |error| of ℓ̄
   and scored on the fifth (mean |error| %, the 95 % interval's coverage %);
2. strips: crops of 96 / 128 / 160 x 256 px (both orientations) are judged small by
   the geometric-mean side of the window (``judged_side``, the rule) or by their
   shorter side; both rules at the chosen ``T``, and the estimate over the truth of
   strips against squares of their shorter and of their geometric-mean side;
3. coarse small fields (estimate under 15 px, still enlarged): does any measured
   signal separate them from genuinely coarse images (the x4 antialiased reductions of
   the same regions, 64 px, ``studies.three_arm.downsample_uint8``)? Candidates: the
   sharpness, the estimate over the field's side, and the estimate of the central
   half-side window over the whole field's (a field-limited estimate shrinks with the
   window, a grain-limited one less).

Data: every tbm/train and tbm/val region (256 px, hand-drawn masks); squares of 64,
96, 128, 160, 192 and 224 px at the top-left and bottom-right corners and the whole
region; the strips at the centre. For each crop: the estimate and sharpness as the
measurement computes them (``grainsize._automatic_scale``), ℓ̄ and its 95 % interval
from ``measure_grain_size`` (shipped weights) at the estimate's scale
(``choose_inference_scale``) and, where the small-field rule could keep it, at scale 1;
the truth is the crop of the mask through ``edges.thresholds.mean_intercept``.

    OMP_NUM_THREADS=1 PYTHONPATH=src nice python studies/small_field_policy_oof.py  # ~9 CPU-min

Writes studies/results/small_field_policy_oof.json.
"""

from __future__ import annotations

import numpy as np
from _common import better_by_more_than_one_std, no_options, paired_with_means, save, tbm_pairs

SQUARES = (64, 96, 128, 160, 192, 224)
OFFSETS = ((0.0, 0.0), (1.0, 1.0))  # fractions of the free room
STRIPS = (96, 128, 160)  # short side; the long side is the region's (256)
THRESHOLDS = (64, 96, 128, 160, 192, 224, 256, 288)
CURRENT = 192
N_FOLDS = 5


def _windows(h: int, w: int):
    """(kind, (y, x, height, width)) of every crop of an h x w region."""
    for side in SQUARES:
        for fy, fx in OFFSETS:
            yield "square", (round((h - side) * fy), round((w - side) * fx), side, side)
    yield "square", (0, 0, h, w)
    for short in STRIPS:
        yield "strip", ((h - short) // 2, 0, short, w)
        yield "strip", (0, (w - short) // 2, h, short)


def _signals(img: np.ndarray) -> dict:
    """Estimate (before the too-few-grains rule withholds it), its kept value, the
    sharpness and the half-window estimate of one field."""
    from napari_srmat.grainsize import _automatic_scale, estimate_intercept_px

    kept, sharpness = _automatic_scale(img)[1:3]
    estimate = kept if kept is not None else estimate_intercept_px(img)
    h, w = img.shape[:2]
    half = img[h // 4 : h // 4 + h // 2, w // 4 : w // 4 + w // 2]
    try:
        est_half = estimate_intercept_px(half)
    except Exception:  # a window too small for the estimate
        est_half = None
    return {
        "estimate_px": estimate,
        "kept_estimate_px": kept,
        "sharpness": sharpness,
        "half_estimate_px": est_half,
    }


def _measured(img: np.ndarray, model, scale: float) -> dict:
    from napari_srmat.grainsize import measure_grain_size

    r = measure_grain_size(img, model=model, inference_scale=scale)
    ci = r.mean_intercept_ci95_px
    return {"l_px": r.mean_intercept_px, "ci_px": None if ci is None else list(ci)}


def _row(img: np.ndarray, truth: float, model, split: str, scan: str, kind: str, box) -> dict:
    from napari_srmat.grainsize import choose_inference_scale, is_coarse, native_sharp

    row = {
        "split": split,
        "scan": scan,
        "kind": kind,
        "box": list(box),
        "shape": list(img.shape[:2]),
        "true_px": truth,
        **_signals(img),
    }
    kept, sharp = row["kept_estimate_px"], row["sharpness"]
    row["estimate_scale"] = scale = choose_inference_scale(kept, sharpness=sharp)
    row["at_estimate"] = _measured(img, model, scale)
    row["can_be_small"] = bool(
        native_sharp(sharp) and kept is not None and not is_coarse(kept) and scale > 1.0
    )
    # at scale 1 too where the rule keeps it, or may (a coarse small field: question 3)
    row["at_1"] = (
        row["at_estimate"]
        if scale == 1.0
        else _measured(img, model, 1.0)
        if row["can_be_small"] or min(img.shape[:2]) < CURRENT
        else None
    )
    return row


def _side(row: dict, rule: str) -> float:
    from napari_srmat.grainsize import judged_side

    return judged_side(tuple(row["shape"])) if rule == "geometric" else min(row["shape"])


def _outcome(row: dict, threshold: float, rule: str = "geometric") -> dict:
    """The measurement the policy gives one crop."""
    small = row["can_be_small"] and _side(row, rule) < threshold
    return row["at_1"] if small else row["at_estimate"]


def _scores(rows: list[dict], threshold: float, rule: str = "geometric") -> dict:
    """Mean |error| % and coverage % of the policy (``threshold``, ``rule``) on ``rows``."""
    return _scored([(r, _outcome(r, threshold, rule)) for r in rows])


def _scored(pairs: list[tuple[dict, dict]]) -> dict:
    """Mean |error| % and coverage % of (row, its measurement) pairs."""
    errs, held = [], []
    for r, m in pairs:
        if m["l_px"] is None:
            continue
        errs.append(abs(m["l_px"] - r["true_px"]) / r["true_px"])
        held.append(m["ci_px"] is not None and m["ci_px"][0] <= r["true_px"] <= m["ci_px"][1])
    return {
        "n": len(pairs),
        "measured": len(errs),
        "mean_abs_error_pct": round(100 * float(np.mean(errs)), 2) if errs else None,
        "coverage_pct": round(100 * float(np.mean(held)), 1) if held else None,
    }


def _choose(rows: list[dict]) -> int:
    """The threshold of the lowest mean |error| (ties: the current one, then the lower)."""
    scored = [(_scores(rows, t)["mean_abs_error_pct"], t != CURRENT, t) for t in THRESHOLDS]
    return min(scored)[2]


def _mean_sd(values: list[float]) -> list[float]:
    return [round(float(np.mean(values)), 2), round(float(np.std(values, ddof=1)), 2)]


def _threshold_oof(rows: list[dict], folds: list[set]) -> dict:
    per_fold, chosen = [], []
    by_t = {t: [] for t in THRESHOLDS}
    for held_scans in folds:
        train = [r for r in rows if r["scan"] not in held_scans]
        held = [r for r in rows if r["scan"] in held_scans]
        t = _choose(train)
        chosen.append(t)
        per_fold.append(
            {
                "held_scans": sorted(held_scans),
                "chosen": t,
                "held_out": _scores(held, t),
                "current": _scores(held, CURRENT),
            }
        )
        for u in THRESHOLDS:
            by_t[u].append(_scores(held, u))
    err = [f["held_out"]["mean_abs_error_pct"] for f in per_fold]
    cov = [f["held_out"]["coverage_pct"] for f in per_fold]
    cur_err = [f["current"]["mean_abs_error_pct"] for f in per_fold]
    vs_256 = paired_with_means(
        [s["mean_abs_error_pct"] for s in by_t[CURRENT]],
        [s["mean_abs_error_pct"] for s in by_t[256]],
    )
    return {
        "chosen_per_fold": chosen,
        "per_fold": per_fold,
        "oof_mean_abs_error_pct_mean_sd": _mean_sd(err),
        "oof_coverage_pct_mean_sd": _mean_sd(cov),
        "current_mean_abs_error_pct_mean_sd": _mean_sd(cur_err),
        "held_out_by_threshold": {
            str(t): {
                "mean_abs_error_pct_mean_sd": _mean_sd([s["mean_abs_error_pct"] for s in v]),
                "coverage_pct_mean_sd": _mean_sd([s["coverage_pct"] for s in v]),
            }
            for t, v in by_t.items()
        },
        "256_vs_192_per_fold": vs_256,
        "256_better_by_more_than_one_std": better_by_more_than_one_std(vs_256),
    }


def _by_side(rows: list[dict]) -> dict:
    """Per square side: estimate / truth (median), mean |error| % enlarged by the estimate
    and at scale 1 on the crops the rule could keep, their coverage %."""
    out = {}
    for side in sorted({min(r["shape"]) for r in rows}):
        sel = [r for r in rows if min(r["shape"]) == side]
        can = [r for r in sel if r["can_be_small"]]
        out[str(side)] = {
            "n": len(sel),
            "can_be_small": len(can),
            "estimate_over_true_median": _median(
                [r["estimate_px"] / r["true_px"] for r in sel if r["estimate_px"]]
            ),
            "enlarged": _scores(can, 0),
            "at_scale_1": _scores(can, 10**6),
        }
    return out


def _median(values) -> float | None:
    return round(float(np.median(values)), 3) if len(values) else None


def _strips(rows: list[dict], folds: list[set], threshold: int) -> dict:
    from napari_srmat.grainsize import judged_side

    strips = [r for r in rows if r["kind"] == "strip"]
    squares = [r for r in rows if r["kind"] == "square"]
    out = {
        "rules_at_threshold": threshold,
        "geometric": _scores(strips, threshold, "geometric"),
        "shorter": _scores(strips, threshold, "shorter"),
        "per_fold_mean_abs_error_pct": {
            rule: [
                _scores([r for r in strips if r["scan"] in f], threshold, rule)[
                    "mean_abs_error_pct"
                ]
                for f in folds
            ]
            for rule in ("geometric", "shorter")
        },
        "per_short_side": {},
    }
    for short in STRIPS:
        sel = [r for r in strips if min(r["shape"]) == short]
        geo = judged_side(tuple(sel[0]["shape"]))
        nearest = min(SQUARES + (256,), key=lambda s: abs(s - geo))

        def ratio(rs):
            return _median([r["estimate_px"] / r["true_px"] for r in rs if r["estimate_px"]])

        can = [r for r in sel if r["can_be_small"]]
        out["per_short_side"][str(short)] = {
            "judged_side": round(geo, 1),
            "n": len(sel),
            "can_be_small": len(can),
            "estimate_over_true_median": ratio(sel),
            "square_of_shorter_side": ratio([r for r in squares if min(r["shape"]) == short]),
            f"square_of_{nearest}_px": ratio([r for r in squares if min(r["shape"]) == nearest]),
            "enlarged": _scores(can, 0),
            "at_scale_1": _scores(can, 10**6),
        }
    return out


def _coarse_separation(rows: list[dict], lr: list[dict]) -> dict:
    """Native crops under 192 px with a coarse estimate against the x4-reduced copies."""
    from napari_srmat.grainsize import is_coarse

    small = [
        r
        for r in rows
        if r["kind"] == "square"
        and min(r["shape"]) < CURRENT
        and r["kept_estimate_px"] is not None
        and is_coarse(r["kept_estimate_px"])
    ]
    coarse = [r for r in lr if is_coarse(r["estimate_px"])]

    def signals(rs):
        return {
            "sharpness": [r["sharpness"] for r in rs],
            "estimate_over_side": [r["estimate_px"] / min(r["shape"]) for r in rs],
            "half_over_whole": [
                r["half_estimate_px"] / r["estimate_px"] for r in rs if r["half_estimate_px"]
            ],
        }

    a, b = signals(small), signals(coarse)
    out = {
        "small_fields_n": len(small),
        "x4_reduced_n": len(coarse),
        "small_fields_by_side": {str(s): sum(min(r["shape"]) == s for r in small) for s in SQUARES},
        "small_fields_enlarged": _scores(small, 0),
        "small_fields_at_scale_1": _scored([(r, r["at_1"]) for r in small]),
    }
    for key in a:
        lo, hi = min(b[key]), max(b[key])
        out[key] = {
            "small_fields_q10_50_90": _q(a[key]),
            "x4_reduced_q10_50_90": _q(b[key]),
            "x4_reduced_range": [round(lo, 3), round(hi, 3)],
            "small_fields_outside_that_range": sum(not lo <= v <= hi for v in a[key]),
            "auc": _auc(a[key], b[key]),
        }
    return out


def _q(values) -> list[float]:
    return [round(float(x), 3) for x in np.quantile(values, (0.1, 0.5, 0.9))]


def _auc(a, b) -> float:
    """P(a value of ``a`` > one of ``b``) (ties count half)."""
    a, b = np.asarray(a, float)[:, None], np.asarray(b, float)[None, :]
    return round(float(np.mean((a > b) + 0.5 * (a == b))), 3)


def main() -> int:
    from napari_srmat.edges import load_boundary_model
    from napari_srmat.edges.cv import scan_folds, scan_id
    from napari_srmat.edges.thresholds import mean_intercept
    from napari_srmat.io import read_image, read_mask
    from napari_srmat.studies.three_arm import downsample_uint8

    model = load_boundary_model()
    pairs = tbm_pairs()
    folds = [{scan_id(p) for p in f} for f in scan_folds([p for _, p, _ in pairs], N_FOLDS)]
    rows, lr = [], []
    for split, image_path, mask_path in pairs:
        raw = np.asarray(read_image(image_path).data)[..., :3]
        mask = read_mask(mask_path)
        scan = scan_id(image_path)
        for kind, (y, x, h, w) in _windows(*raw.shape[:2]):
            truth = mean_intercept(mask[y : y + h, x : x + w])
            if truth is not None:
                rows.append(
                    _row(
                        raw[y : y + h, x : x + w],
                        float(truth),
                        model,
                        split,
                        scan,
                        kind,
                        (y, x, h, w),
                    )
                )
        small = downsample_uint8(raw)
        lr.append({"scan": scan, "shape": list(small.shape[:2]), **_signals(small)})
        print(image_path.stem, len(rows), flush=True)
    save("small_field_policy_oof", _analysis(rows, lr, folds, len(pairs)))
    return 0


def _analysis(rows: list[dict], lr: list[dict], folds: list[set], regions: int) -> dict:
    """The result file of the measured ``rows`` (and ``lr``, the x4-reduced copies)."""
    squares = [r for r in rows if r["kind"] == "square"]
    val = [r for r in rows if r["split"] == "val"]
    result = {
        "data": f"every tbm/train and tbm/val region (never test), {regions} regions of "
        f"{len({r['scan'] for r in rows})} scans; squares {SQUARES} px at {OFFSETS} and "
        f"whole; strips {STRIPS} x 256 px at the centre, both orientations",
        "folds": [sorted(f) for f in folds],
        "thresholds": THRESHOLDS,
        "threshold": _threshold_oof(rows, folds),
        "by_side": _by_side(squares),
        # the shipped model was trained on tbm/train at its own scale: tbm/val alone is
        # out of the model's sample
        "val_only": {
            "by_side": _by_side([r for r in val if r["kind"] == "square"]),
            "by_threshold": {str(t): _scores(val, t) for t in THRESHOLDS},
        },
        "strips": _strips(rows, folds, CURRENT),
        "coarse_small_fields": _coarse_separation(rows, lr),
        "rows": rows,
        "x4_reduced": lr,
    }
    for key in ("threshold", "by_side", "val_only", "strips", "coarse_small_fields"):
        print(key, {k: v for k, v in result[key].items() if k != "per_fold"})
    return result


if __name__ == "__main__":
    no_options(__doc__)
    raise SystemExit(main())
