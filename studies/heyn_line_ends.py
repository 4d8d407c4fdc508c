"""How much does E112's 1/2 for a line end on a boundary move the Heyn default's ℓ̄, and
how much does E112's whole scoring (``srmat heyn --scoring e112``) move it?

The default run count of :func:`napari_srmat.metrics.heyn.measure_intercepts` (random
lines and the grid; the TBM benchmark protocol) counts a boundary that a test line's end
lies on as 1; E112 scores it 1/2. On the skeletonized hand-drawn masks of tbm/train and
tbm/val (never tbm/test), with the defaults (50 random lines or 50 + 50 grid lines, 5 %
margin, seed 1234): the line ends on a boundary per region (the E112 scoring's
``n_line_end_touches``), and the change of each region's ℓ̄ if they scored 1/2 and every
other run 1 (%). Quoted in docs/heyn.md ("Counting rules against the standards").

E112's whole scoring (``triple_points=True``: also 1 1/2 at a triple point), as ``srmat
heyn --skeletonize [--scoring e112]`` gives it on the same masks and lines (``scoring``
of each pattern): the pooled ℓ̄ = ΣL / ΣP of either scoring (px), its change (%), each
region's change (min, max), the triple points and touched ends per region, and the
change of G. Quoted in docs/heyn.md ("Scoring: crossings or E112"). And E112's P over the
crossings' on the six tbm/val masks with the grid (``val_grid_p_above_crossings_pct``,
min and max of the masks' ratios), thinned (``--skeletonize``) and as drawn, quoted in
docs/standards.md ("Several fields"). Both are pinned by tests/test_docs_numbers.py.

    PYTHONPATH=src python studies/heyn_line_ends.py   # ~5 CPU-s

Writes studies/results/heyn_line_ends.json.
"""

from __future__ import annotations

import numpy as np
from _common import save, tbm_pairs

PATTERNS = {"random": 50 * 2, "grid": 100 * 2}  # line ends per region
#: The split whose grid counts docs/standards.md quotes, thinned and as drawn.
VAL_SPLIT = "val"


def _pct(a: float, b: float) -> float:
    """How much ``a`` is above ``b`` (%)."""
    return 100 * (a / b - 1)


def _ends(mask, pattern: str) -> dict | None:
    """One region and pattern: the ends on a boundary, the crossings, the ℓ̄ change; the
    counts of either scoring (each P, the lines' length, E112's triple points)."""
    from napari_srmat.metrics.heyn import measure_intercepts

    runs, e112 = (measure_intercepts(mask, pattern=pattern, skeletonize=True,
                                     triple_points=scored) for scored in (False, True))
    if runs.mean_intercept_px is None:
        return None
    half = runs.n_intersections - 0.5 * e112.n_line_end_touches
    return {"end_touches": e112.n_line_end_touches, "crossings": runs.n_intersections,
            "change_pct": 100 * (runs.total_length_px / half / runs.mean_intercept_px - 1),
            "length_px": runs.total_length_px,
            "p_crossings": float(runs.intersection_count),
            "p_e112": float(e112.intersection_count),
            "triple_points": e112.n_triple_points}


def _drawn_grid(mask) -> float:
    """E112's P over the crossings' (%) of a mask as drawn (not thinned), grid lines."""
    from napari_srmat.metrics.heyn import measure_intercepts

    runs, e112 = (measure_intercepts(mask, pattern="grid", triple_points=scored)
                  for scored in (False, True))
    return _pct(e112.intersection_count, runs.intersection_count)


def _scoring(ok: list[dict]) -> dict:
    """E112's scoring against the crossings over the regions ``ok`` of one pattern."""
    from napari_srmat.metrics.heyn import astm_grain_size_number

    length = sum(v["length_px"] for v in ok)
    pooled = {key: length / sum(v[f"p_{key}"] for v in ok) for key in ("crossings", "e112")}
    each = np.array([_pct(v["p_crossings"], v["p_e112"]) for v in ok])  # ℓ̄ = L / P
    # G of ℓ̄ in mm at any pixel size: its change does not depend on it
    g = {key: astm_grain_size_number(value * 1e-3) for key, value in pooled.items()}
    return {"pooled_mean_intercept_px": {k: round(v, 2) for k, v in pooled.items()},
            "change_pct": round(_pct(pooled["e112"], pooled["crossings"]), 2),
            "region_change_pct": {"min": round(float(each.min()), 2),
                                  "max": round(float(each.max()), 2)},
            "triple_points_per_region": round(float(np.mean([v["triple_points"]
                                                             for v in ok])), 1),
            "end_touches_per_region": round(float(np.mean([v["end_touches"]
                                                           for v in ok])), 1),
            "g_change": round(float(g["e112"] - g["crossings"]), 4)}


def main() -> None:
    from napari_srmat.io import read_mask

    rows = []
    for split, _image, path in tbm_pairs():
        mask = read_mask(path)
        row = {"split": split, "mask": path.name, **{p: _ends(mask, p) for p in PATTERNS}}
        if split == VAL_SPLIT:
            row["grid_drawn_p_above_crossings_pct"] = _drawn_grid(mask)
        rows.append(row)
    summary: dict = {"n_regions": len(rows)}
    for pattern, n_ends in PATTERNS.items():
        ok = [r[pattern] for r in rows if r[pattern] is not None]
        change = np.array([v["change_pct"] for v in ok])
        touches = np.array([v["end_touches"] for v in ok])
        summary[pattern] = {
            "end_touches_per_region": round(float(touches.mean()), 1),
            "ends_on_a_boundary_pct": round(float(100 * touches.mean() / n_ends), 1),
            "crossings_per_region": round(float(np.mean([v["crossings"] for v in ok])), 1),
            "change_pct": {"mean": round(float(change.mean()), 2),
                           "min": round(float(change.min()), 2),
                           "max": round(float(change.max()), 2)},
            "scoring": _scoring(ok),
        }
    val = [r for r in rows if r["split"] == VAL_SPLIT]
    ratios = {"skeletonized": [_pct(r["grid"]["p_e112"], r["grid"]["p_crossings"])
                               for r in val],
              "as_drawn": [r["grid_drawn_p_above_crossings_pct"] for r in val]}
    summary["val_grid_p_above_crossings_pct"] = {
        "n_regions": len(val),
        **{key: {"min": round(min(v), 2), "max": round(max(v), 2)}
           for key, v in ratios.items()}}
    print(summary)
    save("heyn_line_ends", {"summary": summary, "regions": rows})


if __name__ == "__main__":
    from _common import no_options

    no_options(__doc__)
    main()
