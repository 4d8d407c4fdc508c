"""Native-sharp inputs with a fine estimate: measured at scale 1 instead of enlarged?

``grainsize.choose_inference_scale`` enlarges a native-sharp input whose
autocorrelation estimate of ℓ̄ is under ``TARGET_INTERCEPT_PX`` / (1 +
``SCALE_TOLERANCE``) (≈ 22.6 px) by target / estimate. On the crops of
``studies/small_field_policy_oof.py`` the native-sharp ones that are enlarged read ℓ̄
closer to the truth at scale 1. The candidate rule: a native-sharp input whose
estimate is at least ``L`` px is measured at scale 1; below ``L`` it is enlarged as now.
Down-sampled copies stay native-sharp and may need their enlargement (the ×0.5 copy of
``test_model_scale_consistency_synthetic``, estimate 15.6 px, does), so they are part
of the data.

Data (tbm/train+val only, never tbm/test): the 1197 crops (64-256 px squares and
strips) stored in ``studies/results/small_field_policy_oof.json`` at ×1 (each measured
at the policy's estimate scale and, where the rule could keep it, at scale 1), and every
whole region (256 px) down-sampled ×0.8, ×0.65 and ×0.5 (antialiased bilinear,
``grainsize.resample``, as ``studies/grain_size_scale.py``; stored as uint8), measured
the same way here (shipped weights); the truth of a copy is the region's hand-drawn ℓ̄
times the factor. Every other rule (``SMALL_FIELD_PX`` included) as shipped.

``L`` in ``none`` (the current policy), 16, 17, 18, 19, 20, 22 px is chosen on four
leave-scan-out folds (``edges.cv.scan_folds``, 5 folds, the folds of the stored study)
by the lowest mean per-image |error| of ℓ̄ (ties: none, then the larger ``L``) and
scored on the fifth (mean |error| %, the 95 % interval's coverage %). Twice: over every
candidate, and over the admissible ones only (``L`` more than 10 % above the synthetic
copy's 15.6 px: 18-22, known before these data). Reported also: every fixed ``L``
per fold, tbm/val alone (never trained on by the shipped model), the down-sampled
copies alone, and the same with the ×0.65 / ×0.5 copies (166 / 128 px, which
``SMALL_FIELD_PX`` keeps at scale 1 whatever ``L`` is) judged as large fields: they
stand for a large micrograph taken at a lower magnification, which the rule reaches.

    OMP_NUM_THREADS=1 PYTHONPATH=src nice python studies/native_keep_scale_oof.py  # ~4 CPU-min

Writes studies/results/native_keep_scale_oof.json.
"""

from __future__ import annotations

import json

import numpy as np
from _common import RESULTS, no_options, save, tbm_pairs
from small_field_policy_oof import CURRENT, N_FOLDS, _mean_sd, _outcome, _row, _scored

FACTORS = (0.8, 0.65, 0.5)
CANDIDATES = (None, 16, 17, 18, 19, 20, 22)
SYNTHETIC_COPY_ESTIMATE_PX = 15.6  # the x0.5 copy of test_model_scale_consistency_synthetic
ADMISSIBLE = tuple(c for c in CANDIDATES if c is None or c > 1.1 * SYNTHETIC_COPY_ESTIMATE_PX)


def _kept(row: dict, limit: float | None, large: bool = False) -> dict:
    """The measurement one crop gets with the keep rule at ``limit`` (None: as now);
    ``large``: a down-sampled copy judged as a large field (no small-field rule)."""
    now = _outcome(row, 0 if large and "factor" in row else CURRENT)
    if limit is None or not row["can_be_small"] or row["kept_estimate_px"] < limit:
        return now
    return row["at_1"]


def _scores(rows: list[dict], limit: float | None, large: bool = False) -> dict:
    return _scored([(r, _kept(r, limit, large)) for r in rows])


def _name(limit: float | None) -> str:
    return "none" if limit is None else str(limit)


def _choose(rows: list[dict], candidates: tuple, large: bool = False) -> float | None:
    """The candidate of the lowest mean |error| (ties: none, then the larger)."""
    scored = [
        (_scores(rows, c, large)["mean_abs_error_pct"], c is not None, -(c or 0), i)
        for i, c in enumerate(candidates)
    ]
    return candidates[min(scored)[3]]


def _oof(rows: list[dict], folds: list[set], candidates: tuple, large: bool = False) -> dict:
    per_fold = []
    for held_scans in folds:
        train = [r for r in rows if r["scan"] not in held_scans]
        held = [r for r in rows if r["scan"] in held_scans]
        c = _choose(train, candidates, large)
        per_fold.append(
            {
                "held_scans": sorted(held_scans),
                "chosen": _name(c),
                "held_out": _scores(held, c, large),
                "current": _scores(held, None, large),
            }
        )
    err = [f["held_out"]["mean_abs_error_pct"] for f in per_fold]
    cur = [f["current"]["mean_abs_error_pct"] for f in per_fold]
    return {
        "candidates": [_name(c) for c in candidates],
        "per_fold": per_fold,
        "held_out_mean_abs_error_pct_mean_sd": _mean_sd(err),
        "held_out_coverage_pct_mean_sd": _mean_sd(
            [f["held_out"]["coverage_pct"] for f in per_fold]
        ),
        "current_mean_abs_error_pct_mean_sd": _mean_sd(cur),
        "current_coverage_pct_mean_sd": _mean_sd([f["current"]["coverage_pct"] for f in per_fold]),
        "folds_better": sum(e < c for e, c in zip(err, cur)),
        "folds_worse": sum(e > c for e, c in zip(err, cur)),
    }


def _fixed(rows: list[dict], folds: list[set]) -> dict:
    """Every candidate on every held-out fold, and the folds where it beats none."""
    out = {}
    for c in CANDIDATES:
        per = [_scores([r for r in rows if r["scan"] in f], c) for f in folds]
        now = [_scores([r for r in rows if r["scan"] in f], None) for f in folds]
        err = [s["mean_abs_error_pct"] for s in per]
        out[_name(c)] = {
            "per_fold_mean_abs_error_pct": err,
            "per_fold_coverage_pct": [s["coverage_pct"] for s in per],
            "mean_abs_error_pct_mean_sd": _mean_sd(err),
            "coverage_pct_mean_sd": _mean_sd([s["coverage_pct"] for s in per]),
            "folds_better_than_none": sum(e < n["mean_abs_error_pct"] for e, n in zip(err, now)),
            "changed_rows": sum(_kept(r, c) is not _kept(r, None) for r in rows),
        }
    return out


def _signed(down: list[dict]) -> dict:
    """Per factor and estimate bin, the copies the rule could keep: mean signed and
    |error| % at scale 1 and enlarged by the estimate."""
    out = {}
    for f in FACTORS:
        for lo, hi in ((15, 18), (18, 20), (20, 23)):
            sel = [
                r
                for r in down
                if r["factor"] == f and r["can_be_small"] and lo <= r["kept_estimate_px"] < hi
            ]
            if not sel:
                continue
            cell = {"n": len(sel)}
            for key in ("at_1", "at_estimate"):
                e = [100 * (r[key]["l_px"] / r["true_px"] - 1) for r in sel]
                cell[key] = {
                    "signed_pct": round(float(np.mean(e)), 1),
                    "abs_pct": round(float(np.mean(np.abs(e))), 1),
                }
            out[f"x{f:g} estimate {lo}-{hi} px"] = cell
    return out


def _down_sampled(pairs, model, whole: dict) -> list[dict]:
    """Every whole region at each of :data:`FACTORS`, measured as the stored crops."""
    from napari_srmat.edges.cv import scan_id
    from napari_srmat.grainsize import resample
    from napari_srmat.io import read_image
    from napari_srmat.io._float import to_uint8

    rows = []
    for split, image_path, _ in pairs:
        scan = scan_id(image_path)
        raw = np.asarray(read_image(image_path).data)[..., :3]
        truth = whole[(split, scan, raw.shape[:2])]
        for f in FACTORS:
            img = to_uint8(resample(raw.astype(np.float32) / 255, f))
            box = (0, 0, *img.shape[:2])
            row = _row(img, truth * f, model, split, scan, f"x{f:g}", box)
            rows.append({**row, "factor": f})
        print(image_path.stem, len(rows), flush=True)
    return rows


def main() -> int:
    from napari_srmat.edges import load_boundary_model
    from napari_srmat.edges.cv import scan_folds, scan_id

    stored = json.loads((RESULTS / "small_field_policy_oof.json").read_text())
    crops = stored["rows"]
    whole = {
        (r["split"], r["scan"], tuple(r["shape"])): r["true_px"]
        for r in crops
        if r["kind"] == "square"
        and r["box"][:2] == [0, 0]
        and r["shape"] == r["box"][2:]
        and min(r["shape"]) == 256
    }
    pairs = tbm_pairs()
    folds = [{scan_id(p) for p in f} for f in scan_folds([p for _, p, _ in pairs], N_FOLDS)]
    assert [sorted(f) for f in folds] == stored["folds"], "folds differ from the stored study"
    down = _down_sampled(pairs, load_boundary_model(), whole)
    save("native_keep_scale_oof", _analysis(crops, down, folds))
    return 0


def _analysis(crops: list[dict], down: list[dict], folds: list[set]) -> dict:
    rows = crops + down
    val = [r for r in rows if r["split"] == "val"]
    result = {
        "data": f"{len(crops)} stored crops of small_field_policy_oof.json at x1 and "
        f"{len(down)} whole regions down-sampled x{FACTORS} (tbm/train+val, never test)",
        "folds": [sorted(f) for f in folds],
        "admissible": [_name(c) for c in ADMISSIBLE],
        "oof_all_candidates": _oof(rows, folds, CANDIDATES),
        "oof_admissible": _oof(rows, folds, ADMISSIBLE),
        "fixed": _fixed(rows, folds),
        # the shipped model was trained on tbm/train at its own scale: val is out of sample
        "val_only": {_name(c): _scores(val, c) for c in CANDIDATES},
        "down_sampled_only": {
            f"x{f:g}": {
                _name(c): _scores([r for r in down if r["factor"] == f], c) for c in CANDIDATES
            }
            for f in FACTORS
        },
        # the x0.65 / x0.5 copies (166 / 128 px) are small fields, kept at scale 1 by
        # SMALL_FIELD_PX whatever L is: judged as large fields they stand for a large
        # down-sampled micrograph (its estimate would read less short than theirs)
        "oof_admissible_copies_as_large_fields": _oof(rows, folds, ADMISSIBLE, large=True),
        "down_sampled_as_large_fields": {
            f"x{f:g}": {
                _name(c): _scores([r for r in down if r["factor"] == f], c, True)
                for c in CANDIDATES
            }
            for f in FACTORS
        },
        "down_sampled_signed_error_by_estimate": _signed(down),
        "down_sampled_rows": down,
    }
    for key, v in result.items():
        if key not in ("down_sampled_rows", "folds"):
            print(key, v)
    return result


if __name__ == "__main__":
    no_options(__doc__)
    raise SystemExit(main())
