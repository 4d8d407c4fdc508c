"""Passages longer than the 64 px window: how often is a shallow line along a boundary
counted, and what does a wider window cost?

The passage rule (``metrics.heyn._passage_merges``) joins the touches of a tilted test
line weaving along a digital boundary only while the stretch between two touches is at
most ``MAX_HUG_GAP_PX`` and the window that tells the grains apart reaches at most
``MAX_GRAIN_WINDOW_RADIUS`` (both 64 px at 018294f). Below about 1° the weave's stretches
are longer (about 1 / tan δ px) and every touch counts again (docs/heyn.md: the count
per unit length at δ < 2° is 4.7 × the exact one).

Construction (exact): the digital parallel lines of ``heyn_tilted_line_counting``
(``SPACING_PX`` apart, at α = ``ALPHAS_DEG``); ``OFFSETS`` drawn test lines of
``LINE_PX`` through the map's centre at α + δ (δ in ``DELTAS_DEG``), offset across the
boundaries in equal steps over one spacing. The exact crossings of a line are
``LINE_PX sin δ / SPACING_PX`` on average over the offsets; reported: the run count over
that (``runs / exact``) per α and δ, for the module at ``BEFORE_REVISION`` (``before``)
and the working tree (``current``, where it differs). And the CPU time (best of
``REPEATS``) of ``measure_intercepts`` with ``TIMING_LINES`` random lines on a 3000²
thinned synthetic mask (30 px grains), a 3000² mask of 20 % noise and the 512² map of
parallel lines at 10°, both arms.

A pilot before this script (the same lines; both limits raised to 256 px by hand):
runs / exact at δ = 0.25° 46.4 / 11.2 / 26.4 → 2.9 / 2.9 / 3.2 (α = 10 / 25 / 40°),
at 0.5° 21.3 / 5.4 / 12.6 → 1.7 / 1.9 / 2.0, at 1° and beyond unchanged; the 3000²
masks' time unchanged (0.33 → 0.36 s and 2.39 → 2.34 s CPU).

Expectations (written before this script was run; ``E1``..``E3`` in the JSON), for a
working tree whose limits are 256 px:

* E1: at δ <= 0.5° runs / exact falls to at most 3.5 at every α (from above 5).
* E2: at δ >= 1° runs / exact changes by less than 0.02 at every α.
* E3: the 3000² masks' CPU time grows by less than 15 %, the parallel-lines map's by
  less than 50 %.

    PYTHONPATH=src python studies/heyn_long_passages.py   # ~2 CPU-min

Writes studies/results/heyn_long_passages.json.
"""

from __future__ import annotations

import math
import time

import numpy as np
from _common import save
from heyn_tilted_line_counting import SPACING_PX, parallel_lines
from heyn_wiggly_boundaries import module_at, working_tree

#: The module counted as ``before``.
BEFORE_REVISION = "018294f"
ALPHAS_DEG = (10.0, 25.0, 40.0)
DELTAS_DEG = (0.25, 0.5, 1.0, 1.5, 3.0)
OFFSETS = 24
LINE_PX = 400.0
#: Timing: random lines, repeats (best of), the masks' side and grain size.
TIMING_LINES = 1000
REPEATS = 2
TIMING_SIDE_PX = 3000
TIMING_GRAIN_PX = 30
NOISE_FRACTION = 0.2


def ratios(mod) -> dict:
    """runs / exact per α and δ."""
    out = {}
    centre = np.array([256.0, 256.0])
    for alpha in ALPHAS_DEG:
        m = parallel_lines(alpha)
        for delta in DELTAS_DEG:
            th = math.radians(alpha + delta)
            u = np.array([math.sin(th), math.cos(th)])
            segs = []
            for off in np.arange(OFFSETS) * SPACING_PX / OFFSETS:
                c = centre + off * np.array([u[1], -u[0]])
                segs.append([c - LINE_PX / 2 * u, c + LINE_PX / 2 * u])
            runs = mod.measure_intercepts(m, pattern="segments", segments=segs).n_intersections
            exact = OFFSETS * LINE_PX * math.sin(math.radians(delta)) / SPACING_PX
            out[f"alpha {alpha:g}, delta {delta:g}"] = round(runs / exact, 3)
    return out


def timings(mod) -> dict:
    """Best-of CPU seconds of the default measurement on the timing masks."""
    from skimage.morphology import skeletonize

    from napari_srmat.synth import generate_microstructure

    side = (TIMING_SIDE_PX, TIMING_SIDE_PX)
    masks = {
        "thinned 3000²": skeletonize(generate_microstructure(
            side, mean_grain_size_px=TIMING_GRAIN_PX, seed=3).boundaries),
        "noise 3000²": np.random.default_rng(0).random(side) < NOISE_FRACTION,
        "parallel lines 512², 10°": parallel_lines(10.0),
    }
    out = {}
    for name, mask in masks.items():
        best = math.inf
        for _ in range(REPEATS):
            t = time.process_time()
            mod.measure_intercepts(mask, n_lines=TIMING_LINES)
            best = min(best, time.process_time() - t)
        out[name] = round(best, 3)
    return out


def expectations(res: dict) -> dict:
    b, c = res["before"]["ratios"], res["current"]["ratios"]
    small = [k for k in c if float(k.split("delta ")[1]) <= 0.5]
    wide = [k for k in c if float(k.split("delta ")[1]) >= 1.0]
    tb, tc = res["before"]["cpu_s"], res["current"]["cpu_s"]
    return {
        "E1_small_delta_at_most_3.5": bool(all(c[k] <= 3.5 for k in small)),
        "E2_wide_delta_unchanged": bool(all(abs(c[k] - b[k]) < 0.02 for k in wide)),
        "E3_cost": bool(all(tc[k] < 1.15 * tb[k] for k in tb if "3000" in k)
                        and all(tc[k] < 1.5 * tb[k] for k in tb if "parallel" in k)),
    }


def main() -> None:
    import napari_srmat.metrics.heyn as current

    before, src = module_at("before", BEFORE_REVISION)
    mods = {"before": before}
    if open(current.__file__).read() != src:
        mods["current"] = current
    res = {}
    for arm, mod in mods.items():
        res[arm] = {"ratios": ratios(mod), "cpu_s": timings(mod)}
        print(arm, res[arm], flush=True)
    checks = expectations(res) if "current" in res else {}
    print(checks)
    save("heyn_long_passages", {
        "arms": {"before": BEFORE_REVISION,
                 **({"current": working_tree()} if "current" in mods else {})},
        "line_px": LINE_PX, "offsets": OFFSETS, "spacing_px": SPACING_PX,
        "results": res, "expectations": checks})


if __name__ == "__main__":
    from _common import no_options

    no_options(__doc__)
    main()
