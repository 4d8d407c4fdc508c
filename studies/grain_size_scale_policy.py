"""Which scale policy should ``measure_grain_size`` follow? (from grain_size_scale.json)

The scale study measured, per image, the model's ℓ̄ at inference scale,
``m(σ) = ℓ̄_pred(σ) · σ``, for resampling factors σ of the native image, and the
autocorrelation half-length of each resampled image. This script replays the
measurement's policy on those curves (log-linear interpolation in σ) for inputs at
scales u = 0.5, 1, 2 and 2.8 of the native images, without running the model again:

1. estimate ℓ̄ of the input with the autocorrelation: ``ACF_TO_INTERCEPT · half-length``;
2. σ = u · target / estimate;
3. up to k refinement passes: σ ← σ · target / m(σ) (stop when within the tolerance);
4. result = m(σ) / σ (native px), compared with the hand-drawn ℓ̄.

It reports the error of the result for targets and numbers of passes, the calibrated
``ACF_TO_INTERCEPT`` and the model's reliable range. tbm/train+val and synthetic only.

    python studies/grain_size_scale_policy.py

Writes studies/results/grain_size_scale_policy.json.
"""

from __future__ import annotations

import json
import sys

import numpy as np
from _common import RESULTS, q, save

INPUT_SCALES = (0.5, 1.0, 2.0, 2.8)
TARGETS = (22, 24, 26, 27, 28, 30, 32)
PASSES = (0, 1, 2, 3)
TOLERANCE = 0.05
SCALE_TOLERANCE = 0.15  # napari_srmat.grainsize.SCALE_TOLERANCE
MAX_INFERENCE_SCALE = 3.25  # napari_srmat.grainsize.MAX_INFERENCE_SCALE
RELIABLE_TOLERANCE = 0.10  # |median ratio - 1| allowed in the reliable range


def curves(rows):
    """Per image: sorted σ, m(σ) (inference px), gt, and ACF half-length per scale."""
    out = {}
    for r in rows:
        c = out.setdefault(r["image"], {"gt": r["gt_px"], "sigma": [], "m": [], "acf": {}})
        c["acf"][r["scale"]] = r["acf_half_px"]
        if r.get("pred_px") is not None:
            c["sigma"].append(r["scale"])
            c["m"].append(r["pred_px"] * r["scale"])
    for c in out.values():
        order = np.argsort(c["sigma"])
        c["sigma"] = np.log(np.asarray(c["sigma"])[order])
        c["m"] = np.log(np.asarray(c["m"])[order])
    return out


def m_of(c, sigma):
    return float(np.exp(np.interp(np.log(sigma), c["sigma"], c["m"])))


def replay(c, u, k_acf, target, passes):
    half = c["acf"].get(u)
    if not half:
        return None
    est = k_acf * half  # input px
    s = min(target / est, MAX_INFERENCE_SCALE)  # as choose_inference_scale
    if abs(s - 1) <= SCALE_TOLERANCE:
        s = 1.0
    sigma = u * s
    lo, hi = np.exp(c["sigma"][0]), np.exp(c["sigma"][-1])
    sigma = min(max(sigma, lo), hi)
    for _ in range(passes):
        m = m_of(c, sigma)
        if abs(m / target - 1) <= TOLERANCE:
            break
        sigma = min(max(sigma * target / m, lo), hi)
    return m_of(c, sigma) / sigma / c["gt"]


def main() -> int:
    data = json.loads((RESULTS / "grain_size_scale.json").read_text())
    rows = data["rows"]
    out = {"source": "studies/results/grain_size_scale.json"}
    for src in ("tbm", "synth"):
        sel = [r for r in rows if r["image"].startswith("synth") == (src == "synth")]
        # ACF calibration: median of gt / half-length over all scales >= 0.5
        k = float(np.median([r["x_px"] / r["acf_half_px"] for r in sel
                             if r["acf_half_px"] and r["scale"] >= 0.5]))
        out[f"{src}_acf_to_intercept"] = round(k, 3)
        # the estimator with the TBM factor: estimate / truth over all scales >= 0.5
        k_tbm = out.get("tbm_acf_to_intercept", k)
        out[f"{src}_acf_estimate_over_truth_q10_50_90"] = q(
            [k_tbm * r["acf_half_px"] / r["x_px"] for r in sel
             if r["acf_half_px"] and r["scale"] >= 0.5])
        # reliable range: bins of x where the median ratio is within RELIABLE_TOLERANCE
        mod = [r for r in sel if r.get("ratio") is not None]
        x = np.array([r["x_px"] for r in mod])
        y = np.array([r["ratio"] for r in mod])
        bins = {}
        for lo in range(10, 60, 2):
            m = (x >= lo) & (x < lo + 4)
            if m.sum() >= 4:
                bins[f"{lo}-{lo + 4}"] = [int(m.sum()), round(float(np.median(y[m])), 3)]
        out[f"{src}_median_ratio_by_x"] = bins
        good = [b for b, (_, med) in bins.items() if abs(med - 1) <= RELIABLE_TOLERANCE]
        out[f"{src}_bins_within_{int(RELIABLE_TOLERANCE * 100)}pct"] = good
        print(f"{src}: ACF_TO_INTERCEPT {k:.3f}; estimate/truth with the tbm factor "
              f"{out[f'{src}_acf_estimate_over_truth_q10_50_90']}; bins with |median ratio - 1|"
              f" <= {RELIABLE_TOLERANCE}: {good}")
    k_tbm = out["tbm_acf_to_intercept"]
    # how strongly the model's ℓ̄ at inference follows the true one (15-50 px):
    # ln(ratio) = a + b ln(x / 25), so ℓ̄_model ∝ x^(1 + b)
    for src in ("tbm", "synth"):
        mod = [r for r in rows if r["image"].startswith("synth") == (src == "synth")
               and r.get("ratio") and 15 < r["x_px"] < 50]
        b, a = np.polyfit(np.log([r["x_px"] / 25 for r in mod]),
                          np.log([r["ratio"] for r in mod]), 1)
        out[f"{src}_model_exponent_15_50px"] = round(float(1 + b), 3)
        print(f"{src}: model ℓ̄ at inference ∝ (true ℓ̄)^{1 + b:.2f} over 15-50 px")
    cs = curves(rows)
    policy = {}
    for src in ("tbm", "synth"):
        names = [n for n in cs if n.startswith("synth") == (src == "synth")]
        for target in TARGETS:
            for passes in PASSES:
                err = [replay(cs[n], u, k_tbm, target, passes) for n in names
                       for u in INPUT_SCALES]
                err = [e - 1 for e in err if e is not None]
                key = f"{src} target {target} passes {passes}"
                policy[key] = {"rel_error_q10_50_90": q(err),
                               "abs_rel_error_median": q(np.abs(err), (0.5,))[0],
                               "abs_rel_error_q90": q(np.abs(err), (0.9,))[0]}
                print(f"{key:>28}: error q10/50/90 {q(err)}  |err| median "
                      f"{policy[key]['abs_rel_error_median']} q90 "
                      f"{policy[key]['abs_rel_error_q90']}")
        # spread across input scales per image (the same image at x0.5 ... x2.8)
    spreads = {}
    for target in TARGETS:
        for passes in PASSES:
            sp = []
            for n in cs:
                v = [replay(cs[n], u, k_tbm, target, passes) for u in INPUT_SCALES]
                v = [e for e in v if e is not None]
                if len(v) == len(INPUT_SCALES):
                    sp.append(max(v) / min(v))
            spreads[f"target {target} passes {passes}"] = {
                "tbm_spread_q50_90": q([s for s, n in zip(sp, cs) if not n.startswith("synth")],
                                       (0.5, 0.9)),
                "synth_spread_q50_90": q([s for s, n in zip(sp, cs) if n.startswith("synth")],
                                         (0.5, 0.9))}
    # the chosen policy (target 26, one pass) by split
    by_split = {}
    for split in ("train", "val", "synth"):
        err = [replay(cs[n], u, k_tbm, 26, 0) for n in cs if n.startswith(split)
               for u in INPUT_SCALES]
        err = [e - 1 for e in err if e is not None]
        by_split[split] = {"n": len(err), "rel_error_q10_50_90": q(err),
                           "abs_rel_error_median": q(np.abs(err), (0.5,))[0]}
        print(f"target 26, one pass, {split}: {by_split[split]}")
    out["chosen_policy_by_split"] = by_split
    out["policy"] = policy
    out["spread_across_input_scales"] = spreads
    for key, v in spreads.items():
        print(f"spread max/min across x0.5..x2.8, {key}: {v}")
    save("grain_size_scale_policy", out)
    return 0


if __name__ == "__main__":
    from _common import no_options

    no_options(__doc__)
    sys.exit(main())
