"""docs/grain_size.md "Why it reads short there" quotes studies/image_enlargement_short.py:
each number is its JSON's, rounded as printed, and the expectations it calls held or
failed are so in the JSON."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
N = r"([+−-]?\d+(?:\.\d+)?)"


def _quotes(text: str, value: float) -> bool:
    """Whether ``text`` (a number as the page prints it) is ``value`` rounded to its digits."""
    text = text.replace("−", "-")
    decimals = len(text.split(".")[1]) if "." in text else 0
    return abs(float(text) - value) <= 0.5 * 10 ** -decimals + 1e-12


def _paragraph() -> str:
    text = " ".join((ROOT / "docs" / "grain_size.md").read_text(encoding="utf-8").split())
    start = text.index("**Why it reads short there")
    return text[start:text.index("ASTM E112 and ISO 643 measure", start)]


def _study() -> dict:
    return json.loads((ROOT / "studies" / "results" / "image_enlargement_short.json")
                      .read_text(encoding="utf-8"))


def _check(pattern: str, values: list[float]) -> None:
    m = re.search(pattern, _paragraph())
    assert m, f"not where the test looks: {pattern[:60]}"
    for cell, value in zip(m.groups(), values, strict=True):
        assert _quotes(cell, value), (cell, value)


def test_factor_part_is_the_json():
    a = _study()["a"]
    med = [a[f"x{f}"]["median_log_error"] for f in ("1", "1.5", "2", "2.7", "3.25")]
    _check(rf"read ℓ̄ {N} \(median ln\(ℓ̄ / truth\)\) at ×1, {N} at ×1.5, {N} at ×2, {N} at "
           rf"×2.7, {N} at ×3.25, each h within {N} of the others; at the automatic factor "
           rf"h 20 is enlarged ×{N} and reads {N}, h 28 ×{N} {N}, h 40 ×{N} {N}\.",
           [*med, 0.09, a["h20_auto"]["median_factor"], a["h20_auto"]["median_log_error"],
            a["h28_auto"]["median_factor"], a["h28_auto"]["median_log_error"],
            a["h40_auto"]["median_factor"], a["h40_auto"]["median_log_error"]])
    ratios = [r["estimate_over_truth"] for r in _study()["rows"]["a"] if r["auto"]]
    _check(rf"autocorrelation estimate reads {N} × ℓ̄ on them \(median of the {N} automatic "
           rf"measurements, {N}-{N}\)",
           [float(np.median(ratios)), len(ratios), min(ratios), max(ratios)])
    _check(rf"enlarges these images about ×{N} more", [1 / float(np.median(ratios))])
    spread = max(max(v) - min(v) for v in
                 _study()["expectations"]["E1"]["median_by_factor_and_h"].values())
    _check(rf"{N} fields \(h 20, 28, 40, both layouts\) .*? each h within {N} of the others",
           [a["x1"]["n"], spread])


def test_mechanism_part_is_the_json():
    a = _study()["a"]
    x27, x1 = a["x2.7"], a["x1"]
    _check(rf"At ×2.7 the thinned model boundaries are {N} × as long as the true ones, and "
           rf"{N} % of their pixels lie beside the true line, .*? \(×1: {N} %, .*?\), {N} % "
           rf"further away: .*? per true crossing, \+{N} second crossings .*? \+{N} crossings "
           rf"more than two input pixels .*? -{N} missed\. .*? double, {N} at ×1 to {N} at ×2.7 "
           rf"\(the truth's {N}\)",
           [x27["median_length_ratio"], 100 * x27["median_off_centre_frac"],
            100 * x1["median_off_centre_frac"], 100 * x27["median_beyond_frac"],
            x27["median_double_per_true"], x27["median_far_per_true"],
            x27["median_missed_per_true"], x1["median_ends_per_1000px"],
            2.7 * x27["median_ends_per_1000px"], x1["median_true_ends_per_1000px"]])
    b = _study()["b"]
    _check(rf"\(×1: {N} %, though there \"off its centre\" starts {N} input pixels out, at "
           rf"×2.7 {N}\)", [100 * x1["median_off_centre_frac"], 1 / 2 + 1, (2.7 / 2 + 1) / 2.7])
    _check(rf"beside it is {N} at ×2.7 and {N} at ×3.25 \(a dip between two ridges\), {N} at "
           rf"×1 and {N} at ×3.25 without a dark line \(one ridge\); at ×2 it is {N} and a "
           rf"1-px line at ×3.25 keeps one ridge \({N}\) yet reads {N} at {N} × the true length",
           [x27["median_centre_over_side"], a["x3.25"]["median_centre_over_side"],
            x1["median_centre_over_side"], b["w2_d0_x3.25"]["median_centre_over_side"],
            a["x2"]["median_centre_over_side"], b["w1_d0.45_x3.25"]["median_centre_over_side"],
            b["w1_d0.45_x3.25"]["median_log_error"], b["w1_d0.45_x3.25"]["median_length_ratio"]])
    assert x27["median_centre_over_side"] < 1 < b["w2_d0_x3.25"]["median_centre_over_side"]
    _check(rf"in 2-D only {N} % of the pixels lie that far", [100 * x27["median_beyond_frac"]])


def test_rendering_and_tbm_parts_are_the_json():
    s = _study()
    b, c, cal = s["b"], s["c"], s["calibration_by_factor"]
    logs = [b[f"{r}_x{f}"]["median_log_error"] for f in ("3.25", "2")
            for r in ("w2_d0.45", "w1_d0.45", "w3_d0.45", "w2_d0")]
    _check(rf"at ×3.25 a 2-px dark line reads {N}, a 1-px one {N}, a 3-px one {N}, .*? "
           rf"-{N} \(×2: {N}, {N}, {N}, {N}\)", [*logs[:3], -logs[3], *logs[4:]])
    bins = ("1.9-2.5", "2.5-3", "3-3.3")
    _check(rf"\(×{N} and ×{N}, medians\) read {N} and \+{N}, with {N} % and {N} % second "
           rf"crossings .*? read a median {N}, {N} and {N} at factors .*? quantiles \({N}, "
           rf"{N}, {N}\) inside the shipped lower end {N}\.",
           [c["u0.5"]["median_factor"], c["u0.25"]["median_factor"],
            c["u0.5"]["median_log_error"], c["u0.25"]["median_log_error"],
            100 * c["u0.5"]["median_double_per_true"],
            100 * c["u0.25"]["median_double_per_true"],
            *(cal[k]["quantiles_2.5_50_97.5"][1] for k in bins),
            *(cal[k]["quantiles_2.5_50_97.5"][0] for k in bins), -0.355])
    _check(rf"one ridge \(centre over side {N} and {N}\)",
           [c["u0.5"]["median_centre_over_side"], c["u0.25"]["median_centre_over_side"]])
    sp = s["c_by_split"]
    val2, val4 = sp["u0.5_val"], sp["u0.25_val"]
    _check(rf"the {N} tbm/val regions alone \({N} scans\) read {N} at ×2 \(×{N}\) with {N} % "
           rf"second crossings and {N} at ×4 \(the {N} train regions {N} and \+{N}\): .*? "
           rf"\(their excess is crossings far from any drawn boundary, {N} per true one\), and "
           rf"E4's {N} would have failed on val alone at ×2\.",
           [val2["n"], len({r["scan"] for r in s["rows"]["c"] if r["split"] == "val"}),
            val2["median_log_error"], val2["median_factor"],
            100 * val2["median_double_per_true"], val4["median_log_error"],
            sp["u0.5_train"]["n"], sp["u0.5_train"]["median_log_error"],
            sp["u0.25_train"]["median_log_error"], val2["median_far_per_true"], -0.1])
    assert val2["median_log_error"] < -0.1


def test_merge_part_and_expectations_are_the_json():
    from napari_srmat.grainsize import MODEL_LOG_ERROR_95

    s = _study()
    a, c, e = s["a"], s["c"], s["expectations"]
    rows_c = [r for r in s["rows"]["c"] if r["u"] == 0.25]
    shift = [r["log_error_merged"] - r["log_error"] for r in rows_c
             if r["log_error_merged"] is not None]
    fine = [r["log_error_merged"] - r["log_error"] for r in s["rows"]["a"]
            if r["auto"] and r["h"] == 20]
    _check(rf"median from {N} to {N} but moves tbm's ×4 copies from \+{N} to \+{N} \({N} of "
           rf"{N} give no ℓ̄ at all\) and ×2 from {N} to {N} \(E5 failed\)\. .*? \+{N} to "
           rf"\+{N} on the h = 20 fields, up to \+{N} on tbm's ×4 copies\.",
           [a["x2.7"]["median_log_error"], a["x2.7"]["median_log_error_merged"],
            c["u0.25"]["median_log_error"], c["u0.25"]["median_log_error_merged"],
            len(rows_c) - len(shift), len(rows_c), c["u0.5"]["median_log_error"],
            c["u0.5"]["median_log_error_merged"], min(fine), max(fine), max(shift)])
    assert MODEL_LOG_ERROR_95[0] == -0.355
    assert e["E1"]["holds"] and e["E3"]["holds"] and e["E4"]["holds"]
    assert not e["E2"]["holds"] and not e["E5"]["holds"]


def test_what_it_means_is_the_json():
    from napari_srmat.grainsize import MODEL_LOG_ERROR_95

    a = _study()["a"]
    low = -MODEL_LOG_ERROR_95[0]
    x2, x27 = a["x2"]["median_log_error"], a["x2.7"]["median_log_error"]
    crossing = 2 + 0.7 * (-low - x2) / (x27 - x2)  # where the line ×2-×2.7 meets ln 0.355
    _check(rf"can read ℓ̄ {N}-{N} % short \(×2-×3.25\), from about ×{N} \(interpolated "
           rf"between ×2 and ×2.7\) by more than the interval's model term reaches above ℓ̄ "
           rf"\({N} in ln\)",
           [100 * (1 - math.exp(x2)), 100 * (1 - math.exp(a["x3.25"]["median_log_error"])),
            crossing, low])
    _check(rf"On those, ×1 \(`--inference-scale 1`\) read \+{N}\.",
           [a["x1"]["median_log_error"]])
