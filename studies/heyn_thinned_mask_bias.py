"""Where does Heyn on a thinned synthetic boundary mask get its bias from?

The finding (studies/heyn_interval_coverage.py): random lines on the skeletonized
boundary mask of ``napari_srmat.synth.generate_microstructure`` read ℓ̄ 2-4 % above the
generator's ``mean_intercept_px``. Two terms are separated here, on the same lines:

* the truth's definition: ``mean_intercept_px`` is ℓ̄ along rows and columns of the label
  image; random lines see every direction. The isotropic truth is the count of grain
  changes along the very test lines measured, on the generator's *continuous* structure
  (its power diagram evaluated every 0.1 px along each line), ``continuous`` below;
* the measurement: ``runs`` is ``measure_intercepts(skeleton)`` (default run count),
  ``e112`` the same with E112 scoring (``triple_points=True``: 1½ at a triple point),
  each with the zig-zag bridge as it is and as it was until aeb8d59 (``*_bridge_all``:
  runs two pixels apart joined even across the corner of a third grain);
  ``runs_window_9x9`` the run count with the third-grain rule as aeb8d59 had it (grains
  of the 9 x 9 window only: runs whose pixel before or after is farther are joined;
  ``MAX_GRAIN_WINDOW_RADIUS`` set to ``GRAIN_WINDOW_RADIUS``, the same counts);
* the same run counts on the mask not thinned (``runs_unthinned``,
  ``runs_unthinned_window_9x9``: the default of ``measure_intercepts``; on 2-3 px
  boundaries a line runs along a boundary for several pixels before a junction).

Grain sizes 10, 20, 40 and 80 px, boundary widths 1-3 px (thinned but for the
``runs_unthinned*`` counts), three seeds each
(512² images, 12 grain sizes for 80 px), 200 random lines (5 % margin, seed 5).
Reported: ``(measured ℓ̄ / continuous ℓ̄ - 1)`` in % pooled over seeds, and
``mean_intercept_px / continuous - 1``. Image-edge pixels (d): the margin keeps test lines
5 % inside the image. Quoted in docs/heyn.md ("Counting details").

    PYTHONPATH=src python studies/heyn_thinned_mask_bias.py   # ~3 CPU-min

Writes studies/results/heyn_thinned_mask_bias.json.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import numpy as np
from _common import (
    CONTINUOUS_STEP_PX,
    bridge_across_third_grains,
    continuous_crossings,
    save,
)

SIZES = (10, 20, 40, 80)
WIDTHS = (1, 2, 3)
SEEDS = (0, 1, 2)
N_LINES = 200
LINE_SEED = 5


@contextmanager
def window_9x9() -> Iterator[None]:
    """The third-grain rule as aeb8d59 had it, inside the block: the grains of the 9 x 9
    window around the pixel between the runs, the rule not applied when the pixel before
    or after is outside it."""
    import napari_srmat.metrics.heyn as heyn

    largest = heyn.MAX_GRAIN_WINDOW_RADIUS
    heyn.MAX_GRAIN_WINDOW_RADIUS = heyn.GRAIN_WINDOW_RADIUS
    try:
        yield
    finally:
        heyn.MAX_GRAIN_WINDOW_RADIUS = largest


def main() -> None:
    import napari_srmat.metrics.heyn as heyn
    from napari_srmat.synth import generate_microstructure

    rows = []
    for h in SIZES:
        side = max(512, 12 * h)
        for s in SEEDS:
            truth = None
            for w in WIDTHS:
                ms = generate_microstructure((side, side), mean_grain_size_px=h, seed=s,
                                             rgb=False, boundary_width=w)
                sk = heyn._skeletonize(np.asarray(ms.boundaries, bool))
                row = {"grain_px": h, "seed": s, "width_px": w,
                       "exact_px": ms.mean_intercept_px}
                for bridge_all in (False, True):
                    with bridge_across_third_grains() if bridge_all else nullcontext():
                        for key, tp in (("runs", False), ("e112", True)):
                            r = heyn.measure_intercepts(sk, n_lines=N_LINES, seed=LINE_SEED,
                                                        triple_points=tp)
                            row[key + ("_bridge_all" if bridge_all else "")] = (
                                r.intersection_count)
                boundaries = np.asarray(ms.boundaries, bool)
                for key, m, window in (("runs_window_9x9", sk, window_9x9()),
                                       ("runs_unthinned", boundaries, nullcontext()),
                                       ("runs_unthinned_window_9x9", boundaries, window_9x9())):
                    with window:
                        row[key] = heyn.measure_intercepts(m, n_lines=N_LINES,
                                                           seed=LINE_SEED).intersection_count
                if truth is None:
                    truth = continuous_crossings(ms, r.paths)
                row["length_px"], row["continuous"] = truth
                rows.append(row)
                print(row, flush=True)
    keys = ("runs", "e112", "runs_bridge_all", "e112_bridge_all", "runs_window_9x9",
            "runs_unthinned", "runs_unthinned_window_9x9")
    summary = {}
    for h in SIZES:
        for w in WIDTHS:
            sel = [r for r in rows if r["grain_px"] == h and r["width_px"] == w]
            cont = sum(r["continuous"] for r in sel)
            length = sum(r["length_px"] for r in sel)
            out = {f"{k}_bias_pct": round(100 * (cont / sum(r[k] for r in sel) - 1), 2)
                   for k in keys}
            out["exact_vs_continuous_pct"] = round(
                100 * (np.mean([r["exact_px"] for r in sel]) / (length / cont) - 1), 2)
            out["continuous_px"] = round(length / cont, 3)
            out["continuous_intersections"] = cont
            summary[f"{h} px, width {w}"] = out
            print(h, w, out)
    save("heyn_thinned_mask_bias", {"sizes_px": SIZES, "widths_px": WIDTHS, "seeds": SEEDS,
                                    "n_lines": N_LINES, "step_px": CONTINUOUS_STEP_PX,
                                    "summary": summary, "rows": rows})


if __name__ == "__main__":
    from _common import no_options

    no_options(__doc__)
    main()
