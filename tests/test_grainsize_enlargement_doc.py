"""docs/grain_size.md "Why it reads short there" quotes studies/image_enlargement_short.py:
each number is its JSON's, rounded as printed, and the expectations it calls held or
failed are so in the JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

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
    spread = max(max(v) - min(v) for v in
                 _study()["expectations"]["E1"]["median_by_factor_and_h"].values())
    assert spread <= 0.09 + 0.005


def test_mechanism_part_is_the_json():
    a = _study()["a"]
    x27, x1 = a["x2.7"], a["x1"]
    _check(rf"At ×2.7 the thinned model boundaries are {N} × as long as the true ones, and "
           rf"{N} % of their pixels lie beside the true line, .*? \(×1: {N} %\), {N} % further "
           rf"away: .*? per true crossing, \+{N} second crossings .*? \+{N} crossings more than "
           rf"two input pixels .*? -{N} missed\. .*? double, {N} at ×1 to {N} at ×2.7 \(the "
           rf"truth's {N}\)",
           [x27["median_length_ratio"], 100 * x27["median_off_centre_frac"],
            100 * x1["median_off_centre_frac"], 100 * x27["median_beyond_frac"],
            x27["median_double_per_true"], x27["median_far_per_true"],
            x27["median_missed_per_true"], x1["median_ends_per_1000px"],
            2.7 * x27["median_ends_per_1000px"], x1["median_true_ends_per_1000px"]])


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
