"""Leave-scan-out fit of the ``otsu_scaled`` factor c inside the whole measurement.

The shipped operating point (``otsu_scaled``: each map's threshold = c x its Otsu
threshold) was chosen out of fold at the *native* scale of the TBM regions, but
``measure_grain_size`` runs the model at the inference scale its autocorrelation
estimate picks (``choose_inference_scale``). This study asks whether c fitted at native
scale is also right at the inference scale, out of fold:

* the five leave-scan-out fold models of ``benchmarks/cv_uaed.py`` (variant ``plain``,
  final EMA weights, TTA ``none``; each never saw its held-out scans) measure every
  tbm/train+val region of their held-out fold, resampled by u = 0.5, 1, 2 (an
  up-sampled region stands in for an SR output, a down-sampled one for a coarser
  micrograph), exactly as ``measure_grain_size`` does (estimate, inference scale,
  resample, tiled prediction), and for comparison at native scale (u = 1, no
  resampling: how c was fitted);
* ℓ̄ of every binarisation c x Otsu for c on a grid (200 random lines, thinned), in
  native pixels; truth: the hand-drawn mask (thinned, 500 lines);
* c is cross-fitted: fold k's inputs are scored with the c minimising the mean
  per-image error on the other four folds' inputs, once fitted on the native-scale
  inputs (today's practice) and once on the measurement's own inputs.

The same runs compare scale policies (which inference scale the measurement picks from
its autocorrelation estimate ``est``), each at the cross-fitted native c:
``current`` (``choose_inference_scale``: 26 / est unless within 15 % of 1), ``none`` (never
resample), ``pow2`` (the power of two nearest to 26 / est, at most
``MAX_INFERENCE_SCALE``: integer resampling ratios), ``range`` (resample only when est is
outside ``RELIABLE_INTERCEPT_PX``, to its nearest bound) and ``oracle`` (1 / u: back to
the native scale, which the measurement cannot know; a reference).

Never opens tbm/test. Needs the fold runs of ``benchmarks/cv_uaed.py`` (``--work``).

    OMP_NUM_THREADS=1 python studies/grain_size_c_inference_scale.py --work out/cv_uaed

Writes studies/results/grain_size_c_inference_scale.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from _common import (
    DATA,
    FOLD_MODELS_C,
    HEYN,
    gt_intercept,
    inference_scale_suffix,
    load_fold_model,
    q,
    save,
    scan_of,
    spearman,
)

C_GRID = tuple(round(0.8 + 0.05 * i, 2) for i in range(21))  # 0.80 ... 1.80
INPUT_SCALES = (0.5, 1.0, 2.0)
LINES = 200
#: c of the first pass of the ``two_pass`` policy (the fold models' native fit).
TWO_PASS_C = FOLD_MODELS_C


def intercepts_by_c(prob: np.ndarray) -> list[float | None]:
    """ℓ̄ (px at the map's scale) of c x Otsu for every c of the grid."""
    from napari_srmat.edges.thresholds import _otsu
    from napari_srmat.metrics.heyn import measure_intercepts

    otsu = _otsu(prob)
    out = []
    for c in C_GRID:
        t = float(np.clip(c * otsu, 1e-3, 1 - 1e-3))
        binary = prob >= t
        if not binary.any():
            out.append(None)
            continue
        r = measure_intercepts(binary, n_lines=LINES, **HEYN)
        out.append(None if r.mean_intercept_px is None else float(r.mean_intercept_px))
    return out


def _policies(est: float | None, u: float, truth_px: float) -> dict[str, float]:
    """Inference scale of each one-pass scale policy for an input with estimated ℓ̄
    ``est`` (``truth``: the same rule with the true ℓ̄ of the input, a reference)."""
    import math

    from napari_srmat.grainsize import (
        MAX_INFERENCE_SCALE,
        RELIABLE_INTERCEPT_PX,
        TARGET_INTERCEPT_PX,
        choose_inference_scale,
    )

    out = {"current": choose_inference_scale(est), "none": 1.0, "oracle": round(1.0 / u, 4),
           "truth": choose_inference_scale(u * truth_px)}
    if est is None or not est > 0:
        out.update(pow2=1.0, range=1.0)
        return out
    k = round(math.log2(TARGET_INTERCEPT_PX / est))
    out["pow2"] = float(min(2.0 ** k, MAX_INFERENCE_SCALE))
    lo, hi = RELIABLE_INTERCEPT_PX
    out["range"] = round(lo / est if est < lo else hi / est if est > hi else 1.0, 3)
    return out


def measure_inputs(model, image: np.ndarray, truth_px: float) -> list[dict]:
    """The measurement's inputs for one region: for u = native (no resampling at all) and
    each input scale u, ℓ̄ per c (native px) at the inference scale of every policy.

    ``two_pass``: the ``current`` measurement's ℓ̄ (c = :data:`TWO_PASS_C`) replaces the
    autocorrelation estimate and the model runs again at the scale it gives."""
    from napari_srmat.edges import predict_boundaries
    from napari_srmat.grainsize import (
        MODEL_OVERLAP,
        MODEL_TILE,
        choose_inference_scale,
        estimate_intercept_px,
        resample,
    )

    rows = []
    for u, auto in [(1.0, False)] + [(u, True) for u in INPUT_SCALES]:
        x_in = resample(image, u)
        est = estimate_intercept_px(x_in) if auto else None
        policies = _policies(est, u, truth_px) if auto else {"current": 1.0}
        by_scale: dict[str, list] = {}

        def run(s, x_in=x_in, u=u, by_scale=by_scale):
            if f"{s:g}" not in by_scale:
                x = resample(x_in, s)
                prob = np.asarray(predict_boundaries(x, model, tile=MODEL_TILE,
                                                     overlap=MODEL_OVERLAP)[0], np.float32)
                by_scale[f"{s:g}"] = [None if v is None else v / (u * s)
                                      for v in intercepts_by_c(prob)]
            return by_scale[f"{s:g}"]

        for s in sorted(set(policies.values())):
            run(s)
        if auto:
            first = by_scale[f"{policies['current']:g}"][C_GRID.index(TWO_PASS_C)]
            policies["two_pass"] = choose_inference_scale(None if first is None else u * first)
            run(policies["two_pass"])
        rows.append({"u": u, "auto": auto, "estimate_px": est, "policies": policies,
                     "inference_scale": policies["current"],
                     "native_px": by_scale[f"{policies['current']:g}"],
                     "by_scale": by_scale})
    return rows


def _errors(rows, truth) -> np.ndarray:
    """Per-image ℓ̄ error per row and c (the project's rule,
    ``edges.thresholds.intercept_errors``: 1.0 where no boundary was found)."""
    from napari_srmat.edges.thresholds import intercept_errors

    return np.array([intercept_errors([r["native_px"][j] for r in rows],
                                      truth)["per_image_errors"]
                     for j in range(len(C_GRID))]).T


def _signed(rows, truth, j) -> np.ndarray:
    return np.array([(r["native_px"][j] - t) / t if r["native_px"][j] is not None else np.nan
                     for r, t in zip(rows, truth)])


def analyse(records: list[dict]) -> dict:
    """Cross-fitted c (native-fit vs measurement-fit) and out-of-fold errors."""
    folds = sorted({r["fold"] for r in records})
    native = [r for r in records if not r["auto"]]
    meas = [r for r in records if r["auto"]]
    e_nat = _errors(native, [r["truth_px"] for r in native])
    e_meas = _errors(meas, [r["truth_px"] for r in meas])
    f_nat = np.array([r["fold"] for r in native])
    f_meas = np.array([r["fold"] for r in meas])
    u_meas = np.array([r["u"] for r in meas])
    per_fold = []
    for k in folds:
        j_nat = int(np.argmin(e_nat[f_nat != k].mean(0)))
        j_meas = int(np.argmin(e_meas[f_meas != k].mean(0)))
        held = f_meas == k
        row = {"fold": k, "c_native_fit": C_GRID[j_nat], "c_measurement_fit": C_GRID[j_meas],
               "error_native_fit_pct": round(100 * float(e_meas[held, j_nat].mean()), 2),
               "error_measurement_fit_pct": round(100 * float(e_meas[held, j_meas].mean()), 2),
               "error_native_at_native_fit_pct":
                   round(100 * float(e_nat[f_nat == k, j_nat].mean()), 2)}
        for u in INPUT_SCALES:
            sel = held & (u_meas == u)
            row[f"error_u{u:g}_native_fit_pct"] = round(100 * float(e_meas[sel, j_nat].mean()), 2)
            row[f"error_u{u:g}_measurement_fit_pct"] = round(
                100 * float(e_meas[sel, j_meas].mean()), 2)
        per_fold.append(row)

    def spread(key):
        v = np.array([r[key] for r in per_fold], float)
        return {"mean": round(float(v.mean()), 2), "std": round(float(v.std(ddof=1)), 2),
                "min": round(float(v.min()), 2), "max": round(float(v.max()), 2)}

    keys = [k for k in per_fold[0] if k.startswith("error_")]
    better = sum(r["error_measurement_fit_pct"] < r["error_native_fit_pct"] for r in per_fold)
    all_fit_nat = int(np.argmin(e_nat.mean(0)))
    all_fit_meas = int(np.argmin(e_meas.mean(0)))
    return {
        "per_fold": per_fold,
        "summary": {k: spread(k) for k in keys},
        "folds_measurement_fit_better": better,
        "c_all_native_fit": C_GRID[all_fit_nat],
        "c_all_measurement_fit": C_GRID[all_fit_meas],
        "c_ratio_measurement_over_native": round(C_GRID[all_fit_meas] / C_GRID[all_fit_nat], 4),
        "mean_error_by_c_native_pct": [round(100 * float(v), 2) for v in e_nat.mean(0)],
        "mean_error_by_c_measurement_pct": [round(100 * float(v), 2) for v in e_meas.mean(0)],
        "signed_error_at_native_fit_pct": {
            f"u{u:g}": q(100 * _signed([r for r in meas if r["u"] == u],
                                       [r["truth_px"] for r in meas if r["u"] == u],
                                       all_fit_nat)) for u in INPUT_SCALES},
        "inference_scale_by_u": {f"u{u:g}": q([r["inference_scale"] for r in meas
                                               if r["u"] == u]) for u in INPUT_SCALES},
    }


POLICIES = ("current", "none", "pow2", "range", "two_pass", "truth", "oracle")


def size_prior(records: list[dict], c: float = FOLD_MODELS_C) -> dict:
    """How the model's ℓ̄ follows the true size, at ``c`` × Otsu: least-squares slope of
    ln ℓ̄ (model, at inference scale) on ln ℓ̄ (true, as seen at that scale) over every
    resampled input and every scale it was run at, and across the native regions the
    slope and the correlation of the logs (1 would be a model without a size prior)."""
    j = C_GRID.index(c)
    x, y = [], []
    for r in records:
        if not r["auto"]:
            continue
        for s, values in r["by_scale"].items():
            if values[j] is not None:
                seen = r["u"] * float(s)
                x.append(np.log(r["truth_px"] * seen))
                y.append(np.log(values[j] * seen))
    nat = np.array([(np.log(r["truth_px"]), np.log(r["native_px"][j])) for r in records
                    if not r["auto"] and r["native_px"][j] is not None])
    return {"c": c, "slope_all_inputs_and_scales": round(float(np.polyfit(x, y, 1)[0]), 3),
            "n_maps": len(x),
            "native_slope": round(float(np.polyfit(nat[:, 0], nat[:, 1], 1)[0]), 3),
            "native_log_correlation": round(float(np.corrcoef(nat[:, 0], nat[:, 1])[0, 1]), 3)}


def cross_fitted_c(records: list[dict]) -> tuple[dict[int, int], np.ndarray, np.ndarray]:
    """Index in :data:`C_GRID` of the native-scale c for each fold (fitted on the other
    folds' native inputs), with the native per-image errors (rows x c) and their folds."""
    native = [r for r in records if not r["auto"]]
    e_nat = _errors(native, [r["truth_px"] for r in native])
    f_nat = np.array([r["fold"] for r in native])
    return ({k: int(np.argmin(e_nat[f_nat != k].mean(0))) for k in sorted(set(f_nat.tolist()))},
            e_nat, f_nat)


def measurement_vs_native(records: list[dict], c: float = FOLD_MODELS_C,
                          log_gap: float = 0.1) -> dict:
    """Native regions (u = 1) measured both ways at ``c`` × Otsu: where the whole
    measurement (``current`` policy) and the unresampled native run differ by more than
    ``log_gap`` in ln ℓ̄, which of the two is off? Per-image errors (%) of both, split by
    that gap, and the Spearman correlation of the signed gap with the measurement's
    signed log error."""
    j = C_GRID.index(c)
    native = {r["name"]: r["native_px"][j] for r in records if not r["auto"]}
    gap, err_meas, err_nat = [], [], []
    for r in records:
        m, n = r["native_px"][j], native.get(r["name"])
        if r["auto"] and r["u"] == 1.0 and m is not None and n is not None:
            gap.append(np.log(m / n))
            err_meas.append(np.log(m / r["truth_px"]))
            err_nat.append(np.log(n / r["truth_px"]))
    gap, err_meas, err_nat = (np.array(v) for v in (gap, err_meas, err_nat))
    apart = np.abs(gap) > log_gap

    def pct(e, sel):
        return round(100 * float(np.abs(np.expm1(e[sel])).mean()), 2) if sel.any() else None

    return {"c": c, "log_gap": log_gap, "n_regions": int(gap.size),
            "n_apart": int(apart.sum()),
            "apart": {"measurement_pct": pct(err_meas, apart), "native_pct": pct(err_nat, apart)},
            "close": {"measurement_pct": pct(err_meas, ~apart),
                      "native_pct": pct(err_nat, ~apart)},
            "spearman_gap_vs_measurement_signed_error": spearman(gap, err_meas)}


def analyse_policies(records: list[dict]) -> dict:
    """Out-of-fold per-image error of each scale policy at the cross-fitted native c."""
    j_of, e_nat, f_nat = cross_fitted_c(records)
    folds = sorted(j_of)
    out = {}
    for pol in POLICIES:
        rows = []
        for r in records:
            if not r["auto"]:
                continue
            v = r["by_scale"][f"{r['policies'][pol]:g}"][j_of[r["fold"]]]
            signed = 1.0 if v is None else (v - r["truth_px"]) / r["truth_px"]
            rows.append((r["fold"], r["u"], signed))
        fold = np.array([x[0] for x in rows])
        uu = np.array([x[1] for x in rows])
        sg = np.array([x[2] for x in rows])
        res = {}
        for label, sel in [("all", np.ones_like(sg, bool))] + [
                (f"u{u:g}", uu == u) for u in INPUT_SCALES]:
            per_fold = [100 * float(np.abs(sg[sel & (fold == k)]).mean()) for k in folds]
            res[label] = {"per_image_error_pct": round(float(np.mean(per_fold)), 2),
                          "fold_std": round(float(np.std(per_fold, ddof=1)), 2),
                          "per_fold": [round(v, 2) for v in per_fold],
                          "signed_q10_50_90_pct": q(100 * sg[sel]),
                          "within_5pct": round(float((np.abs(sg[sel]) <= 0.05).mean()), 3)}
        res["inference_scale_q10_50_90"] = {
            f"u{u:g}": q([r["policies"][pol] for r in records if r["auto"] and r["u"] == u])
            for u in INPUT_SCALES}
        out[pol] = res
    nat = [100 * float(e_nat[f_nat == k, j_of[k]].mean()) for k in folds]
    out["native_reference"] = {"per_image_error_pct": round(float(np.mean(nat)), 2),
                               "fold_std": round(float(np.std(nat, ddof=1)), 2),
                               "per_fold": [round(v, 2) for v in nat]}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("out/cv_uaed"),
                    help="work folder of benchmarks/cv_uaed.py (fold runs, folds.json)")
    ap.add_argument("--variant", default="plain",
                    help="fold models of this cv_uaed variant (plain, zoom, ...)")
    ap.add_argument("--cache", type=Path, default=None,
                    help="per-input measurements (resumable; default "
                         "WORK/c_inference_scale.json)")
    ap.add_argument("--tag", default="",
                    help="appended to the result and cache names (e.g. s1 for the fold "
                         "runs of a second cross-validation repetition)")
    args = ap.parse_args(argv)

    import torch

    from napari_srmat.io import read_image, read_mask, to_float01

    torch.set_num_threads(1)
    folds = json.loads((args.work / "folds.json").read_text())
    suffix = inference_scale_suffix(args.variant, args.tag)
    cache = args.cache or args.work / f"c_inference_scale{suffix}.json"
    records = json.loads(cache.read_text()) if cache.is_file() else []
    done = {r["name"] for r in records}
    t0 = time.time()
    paths = {p.stem: p for split in ("train", "val")
             for p in (DATA / split / "images").glob("*.png")}
    unfinished = []
    for k, names in enumerate(folds):
        todo = [n for n in names if n not in done]
        if not todo:
            continue
        meta = args.work / args.variant / f"fold-{k}" / "train_meta.json"
        if not (meta.is_file() and json.loads(meta.read_text()).get("done")):
            unfinished.append(k)  # still training: its weights are not the final ones
            continue
        model = load_fold_model(args.work, k, args.variant)
        for name in todo:
            img_path = paths[name]
            mask = read_mask(img_path.parent.parent / "masks" / img_path.name)
            truth = gt_intercept(mask)
            image = to_float01(np.asarray(read_image(img_path).data))
            for r in measure_inputs(model, image, truth):
                records.append({"name": name, "scan": scan_of(img_path), "fold": k,
                                "truth_px": truth, **r})
            tmp = cache.with_suffix(".partial")
            tmp.write_text(json.dumps(records))
            tmp.replace(cache)
            print(f"fold {k} {name} ({time.time() - t0:.0f} s)", file=sys.stderr)
    if unfinished:
        print(f"folds {unfinished} are not trained yet: measured the others, run again "
              "when they are", file=sys.stderr)
        return 1
    result = analyse(records)
    save(f"grain_size_c_inference_scale{suffix}", {
        "data": "tbm/train+val (never test), out-of-fold fold models (EMA, TTA none)",
        "variant": args.variant,
        "c_grid": list(C_GRID), "input_scales": list(INPUT_SCALES), "lines": LINES,
        "n_regions": len({r["name"] for r in records}), **result,
        "scale_policies": analyse_policies(records), "size_prior": size_prior(records),
        "measurement_vs_native": measurement_vs_native(records)})
    print(json.dumps(result["summary"], indent=1))
    pol = analyse_policies(records)
    for name in POLICIES:
        keys = ("all", *[f"u{u:g}" for u in INPUT_SCALES])
        print(name, {k: pol[name][k]["per_image_error_pct"] for k in keys})
    print("native reference", pol["native_reference"])
    print(json.dumps({k: result[k] for k in ("folds_measurement_fit_better", "c_all_native_fit",
                                             "c_all_measurement_fit")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
