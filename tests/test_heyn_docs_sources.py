"""docs/heyn.md's junction paragraph: each figure is a committed result's or labelled as
measured once and not kept (no figure without a source)."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
N = r"([+−-]?\d+\.\d+)"


def _text() -> str:
    return " ".join((ROOT / "docs" / "heyn.md").read_text(encoding="utf-8").split())


def _result(name: str) -> dict:
    return json.loads((ROOT / "studies" / "results" / name).read_text(encoding="utf-8"))


def _quotes(text: str, value: float) -> bool:
    text = text.replace("−", "-")
    decimals = len(text.split(".")[1]) if "." in text else 0
    return abs(float(text) - value) <= 0.5 * 10 ** -decimals + 1e-12


def test_the_run_count_beside_a_junction_names_each_bin():
    """"0.997, then 1.003" read as if 1.003 began at 2.5 px, where the 2.5-3 px bin reads
    0.997 (heyn_junction_grazing.json): each bin is named now."""
    bins = _result("heyn_junction_grazing.json")["results"]["before"]["windows_by_distance"]
    m = re.search(rf"{N}, then {N} at 2\.5-3 px and {N} beyond 3 px\)", _text())
    assert m, "the run count's far bins are not named"
    assert _quotes(m.group(1), bins["2-2.5"]["runs_over_truth"])
    assert _quotes(m.group(2), bins["2.5-3"]["runs_over_truth"])
    assert all(_quotes(m.group(3), bins[b]["runs_over_truth"]) for b in ("3-4", "4-inf"))


def test_the_candidates_tilted_line_figures_have_their_sources():
    """The candidate rule's tilted-line figures (+1.20 → +3.02 % ..., 4.59 → 5.90) were
    quoted from a rerun at 12726ce whose JSON was not committed. The figures without the
    rule are the committed JSON's (thinned masks); those with it are labelled as measured
    once and not kept."""
    text = _text()
    m = re.search(rf"E112's ℓ̄ bias went {N} → {N} % at 10 px grains, {N} → {N} % at 20 px, "
                  rf"{N} → {N} % at 40 px and {N} → {N} % at 80 px", text)
    assert m, "the thinned masks' figures are not where the test looks"
    summary = _result("heyn_tilted_line_counting.json")["thinned"]["summary"]
    for cell, size in zip(m.groups()[::2], (10, 20, 40, 80), strict=True):
        assert _quotes(cell, summary[f"{size} px"]["e112_on_bias_pct"]), (cell, size)
    sources = text[m.end():m.end() + 1200]
    assert "were measured once, on 12726ce" in sources and "was not kept" in sources
    assert all(v in sources for v in ("+3.02", "+0.86", "+0.05", "−0.03", "5.90"))
    assert "git show 6fe6690:studies/results/heyn_tilted_line_counting.json" in sources


def test_every_heyn_study_has_a_row_in_the_studies_readme():
    """studies/README.md had no row for heyn_long_passages.py and heyn_junction_grazing.py
    (81c763f, ae16b19): each ``studies/heyn_*.py`` has one, naming its JSON's page."""
    rows = _readme_rows()
    scripts = {p.name for p in (ROOT / "studies").glob("heyn_*.py")}
    assert scripts and scripts <= rows, sorted(scripts - rows)


def _readme_rows() -> set[str]:
    """The scripts studies/README.md's table has a row for."""
    readme = (ROOT / "studies" / "README.md").read_text(encoding="utf-8")
    return {line.split("|")[1].strip().split()[0].strip("`")
            for line in readme.splitlines() if line.startswith("| `")}


def test_every_study_has_a_row_in_the_studies_readme():
    """Seven studies had no row (boundary_tile_oof, final_test_table,
    gpu_aug_big_decision, lzw_fuzz, peak_intercepts_decision, sr_12bit_gain,
    watershed_decision): every ``studies/*.py`` but the shared ``_*`` modules has one."""
    scripts = {p.name for p in (ROOT / "studies").glob("*.py") if not p.name.startswith("_")}
    assert scripts and scripts <= _readme_rows(), sorted(scripts - _readme_rows())
