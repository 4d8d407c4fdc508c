"""How much do the passage rules of ``metrics.heyn`` move ℓ̄ on the hand-drawn TBM masks?

dacffc6 (with 6fe6690) joined the touches of one passage of a tilted line along a boundary;
on tbm/val's six masks it lengthened the protocol's ℓ̄ by +3.0 to +4.9 % (mean +3.8 %).
studies/heyn_wiggly_boundaries.py found that on wiggly boundaries of hand-drawn amplitude
the rule also joined real crossings (a line along a boundary that wiggles across it, a
line that clips a grain and comes back); the rule of the working tree keeps a passage to
touches where the line runs along the boundary (``PASSAGE_MAX_ANGLE_DEG``) and counts the
crossing back of a passage that returns to the grain it came from (``RETURN_CROSSES``).

Here every mask of tbm/val and tbm/train (never tbm/test) is measured by the boundary
benchmark's protocol (``edges.thresholds.HEYN_KW``: random lines, skeletonized), run count
and E112 scoring, with ``metrics.heyn`` at ``dacffc6^`` (``old``), at 6fe6690 (``new``)
and as in the working tree (``current``; loaded as in heyn_wiggly_boundaries.py; the
JSON's ``arms`` names its HEAD commit), on the same lines. Reported per split: each
mask's ℓ̄ change against ``old`` in % (mean, range), and the crossings per mask.

Expectation (written before the first run): ``current`` moves tbm/val's protocol ℓ̄ by
less than half of ``new``'s +3.8 % (``EXPECTED_SHARE_OF_SHIFT``), since on synthetic
wiggle of 1-2 px amplitude it kept about half of the wiggle crossings ``new`` lost.

    PYTHONPATH=src python studies/heyn_passage_tbm.py   # ~1 CPU-min

Writes studies/results/heyn_passage_tbm.json.
"""

from __future__ import annotations

import numpy as np
from _common import SPLITS, save, tbm_pairs
from heyn_wiggly_boundaries import ARM_REVISIONS, module_at, working_tree

#: Expectation: ``current``'s mean tbm/val shift below this share of ``new``'s.
EXPECTED_SHARE_OF_SHIFT = 0.5
#: Scorings: the protocol's run count and E112's.
SCORINGS = {"runs": False, "e112": True}


def _change(rows: list[dict], split: str, scoring: str, arm: str) -> dict:
    """Mean, min and max over ``split``'s masks of the ℓ̄ change (%) of ``arm`` against
    ``old`` with ``scoring``."""
    ch = np.array([100 * (r[f"{scoring}_{arm}"] / r[f"{scoring}_old"] - 1)
                   for r in rows if r["split"] == split])
    return {"mean": round(float(ch.mean()), 2), "min": round(float(ch.min()), 2),
            "max": round(float(ch.max()), 2)}


def main() -> None:
    import napari_srmat.metrics.heyn as current
    from napari_srmat.edges.thresholds import HEYN_KW
    from napari_srmat.io import read_mask

    mods = {arm: module_at(arm, rev)[0] for arm, rev in ARM_REVISIONS.items()}
    mods["current"] = current
    rows = []
    for split, _image, path in tbm_pairs():
        mask = read_mask(path)
        row = {"split": split, "mask": path.name}
        for arm, mod in mods.items():
            for scoring, tp in SCORINGS.items():
                r = mod.measure_intercepts(mask, triple_points=tp, **HEYN_KW)
                row[f"{scoring}_{arm}"] = float(r.mean_intercept_px)
                row[f"{scoring}_crossings_{arm}"] = int(r.n_intersections)
        rows.append(row)
        print(row, flush=True)
    summary = {}
    for split in SPLITS:
        sel = [r for r in rows if r["split"] == split]
        summary[split] = {"n_masks": len(sel)}
        for scoring in SCORINGS:
            for arm in ("new", "current"):
                summary[split][f"{scoring}_{arm}_vs_old_pct"] = _change(rows, split, scoring,
                                                                        arm)
            summary[split][f"{scoring}_crossings_per_mask"] = {
                arm: round(float(np.mean([r[f"{scoring}_crossings_{arm}"] for r in sel])), 1)
                for arm in mods}
    val = summary["val"]
    expectation = {"current_below_share_of_new": bool(
        val["runs_current_vs_old_pct"]["mean"]
        < EXPECTED_SHARE_OF_SHIFT * val["runs_new_vs_old_pct"]["mean"])}
    print(summary, expectation)
    save("heyn_passage_tbm", {"protocol": HEYN_KW, "arms": {**ARM_REVISIONS,
                                                           "current": working_tree()},
                              "expectation": expectation, "summary": summary, "rows": rows})


if __name__ == "__main__":
    from _common import no_options

    no_options(__doc__)
    main()
