"""docs/heyn.md's "Why the circles read +2 % at ×4" and the residue lift of upscales quote
the committed results of studies/heyn_circles_upscale.py and studies/heyn_upscale_residue.py
(no figure without a source)."""

from __future__ import annotations

import re

from test_heyn_docs_sources import N, _quotes, _result, _text

HOWS = ("nearest", "bilinear", "smooth")


def _triple(text: str, prefix: str) -> tuple[str, ...]:
    m = re.search(rf"{prefix} {N} / {N} / {N} %", text)
    assert m, f"no figures after {prefix!r}"
    return m.groups()


def test_the_circles_figures_are_the_study_s():
    text = _text()
    start = text.index("Why the circles read +2 % at ×4")
    para = text[start : text.index("Nothing changed.", start)]
    tbm = _result("heyn_circles_upscale.json")["tbm"]
    for prefix, arm, pattern in (
        ("the default circles read ℓ̄", "own", "circles"),
        (r"\(×4 nearest / bilinear / smooth; random lines", "own", "random"),
        (r"\(`x · 4 \+ 1\.5`, the same lines\)", "paired", "circles"),
        (r"\(random lines", "paired", "random"),
    ):
        cells = _triple(para, prefix)
        for cell, how in zip(cells, HOWS, strict=True):
            assert _quotes(cell, tbm[arm][pattern][how]["ell_pct"]), (prefix, how, cell)
    assert f"({tbm['own']['circles']['nearest']['x1_crossings']} crossings at ×1)" in para
    # term (2): the passage rule on the upscale's pixels, and the prototype on blocks
    paired = tbm["paired"]
    m = re.search(rf"counts {N} % \(random\) and {N} % \(circles\) more than ×1", para)
    assert m, "no passage-rule figures"
    for cell, pattern in zip(m.groups(), ("random", "circles"), strict=True):
        assert _quotes(cell, -paired[pattern]["nearest"]["ell_pct"]), (pattern, cell)
    assert all(v["nearest"]["count_pct"] == 0 for v in tbm["paired_no_passage"].values())
    proto = tbm["paired_passage_xs"]
    m = re.search(rf"makes nearest count as ×1 \({N} %\)", para)
    assert m and _quotes(m.group(1), proto["random"]["nearest"]["ell_pct"]), m
    m = re.search(
        rf"reads ×4 bilinear {N} / {N} % and smooth {N} / {N} % \(random / circles\)", para
    )
    assert m, "no prototype figures"
    for cell, (how, pattern) in zip(
        m.groups(),
        [(h, p) for h in ("bilinear", "smooth") for p in ("random", "circles")],
        strict=True,
    ):
        assert _quotes(cell, proto[pattern][how]["ell_pct"]), (how, pattern, cell)
    # term (3): touching runs (E112's tangent hits) and runs into another grain
    touches = tbm["touches"]
    m = re.search(
        r"counted 1; (\d+) % of the random lines' runs at ×1, (\d+) % of the circles'", para
    )
    assert m, "no share of touching runs"
    for cell, pattern in zip(m.groups(), ("random", "circles"), strict=True):
        x1 = touches[pattern]["x1"]
        share = 100 * x1["touches"] / (x1["touches"] + x1["between_grains"])
        assert _quotes(cell, share), (pattern, cell, share)
    m = re.search(
        rf"drop {N} / {N} % \(random\) and {N} / {N} % \(circles\) at ×4 bilinear / smooth,"
        rf" the runs into another grain {N} / {N} % and {N} / {N} %",
        para,
    )
    assert m, "no figures of the touching runs"
    cells = iter(m.groups())
    for key in ("touches_pct", "between_grains_pct"):
        for pattern in ("random", "circles"):
            for how in ("bilinear", "smooth"):
                cell = next(cells)
                assert _quotes(cell, -touches[pattern][how][key]), (key, pattern, how, cell)
    changes = tbm["per_mask_nearest_change"]["circles"].values()
    assert (min(changes), max(changes)) == (-3, 3)


def test_the_residue_lifts_are_the_study_s():
    text = _text()
    res = _result("heyn_upscale_residue.json")
    x1 = res["x1"]
    assert f"masks drawn at ×1 reach at most {x1['tbm']['max_lift_quantiles'][-1]:.2f}" in text
    assert f"{x1['synthetic']['max_lift_quantiles'][-1]:.2f} (36 synthetic masks" in text
    assert f"{x1['skeletons']['max_lift_quantiles'][-1]:.2f} (their skeletons)" in text
    ups = res["upscales"]
    lo = min(v["lift_at_s_quantiles"][0] for k, v in ups.items() if k.startswith("x3"))
    assert f"{lo:.2f}-" in text
    sr = [r["sr"]["max_lift"] for r in res["model_maps"]["rows"]]
    assert f"{min(sr):.2f}-{max(sr):.2f} on the shipped SR model's" in text
