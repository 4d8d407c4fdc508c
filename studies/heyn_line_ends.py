"""How much does E112's 1/2 for a line end on a boundary move the Heyn default's ℓ̄?

The default run count of :func:`napari_srmat.metrics.heyn.measure_intercepts` (random
lines and the grid; the TBM benchmark protocol) counts a boundary that a test line's end
lies on as 1; E112 scores it 1/2. On the skeletonized hand-drawn masks of tbm/train and
tbm/val (never tbm/test), with the defaults (50 random lines or 50 + 50 grid lines, 5 %
margin, seed 1234): the line ends on a boundary per region (the E112 scoring's
``n_line_end_touches``), and the change of each region's ℓ̄ if they scored 1/2 and every
other run 1 (%). Quoted in docs/heyn.md ("Counting rules against the standards").

    PYTHONPATH=src python studies/heyn_line_ends.py   # ~1 CPU-min

Writes studies/results/heyn_line_ends.json.
"""

from __future__ import annotations

import numpy as np
from _common import save, tbm_pairs

PATTERNS = {"random": 50 * 2, "grid": 100 * 2}  # line ends per region


def _ends(mask, pattern: str) -> dict | None:
    """One region and pattern: the ends on a boundary, the crossings, the ℓ̄ change."""
    from napari_srmat.metrics.heyn import measure_intercepts

    runs, e112 = (measure_intercepts(mask, pattern=pattern, skeletonize=True,
                                     triple_points=scored) for scored in (False, True))
    if runs.mean_intercept_px is None:
        return None
    half = runs.n_intersections - 0.5 * e112.n_line_end_touches
    return {"end_touches": e112.n_line_end_touches, "crossings": runs.n_intersections,
            "change_pct": 100 * (runs.total_length_px / half / runs.mean_intercept_px - 1)}


def main() -> None:
    from napari_srmat.io import read_mask

    rows = [{"split": split, "mask": path.name,
             **{p: _ends(read_mask(path), p) for p in PATTERNS}}
            for split, _image, path in tbm_pairs()]
    summary = {"n_regions": len(rows)}
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
        }
    print(summary)
    save("heyn_line_ends", {"summary": summary, "regions": rows})


if __name__ == "__main__":
    from _common import no_options

    no_options(__doc__)
    main()
