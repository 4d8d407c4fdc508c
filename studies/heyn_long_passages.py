"""Passages longer than the grain window: how often is a shallow line along a boundary
counted, and what does telling its grains apart cost?

The passage rule (``metrics.heyn._passage_merges``) joins the touches of a tilted test
line weaving along a digital boundary. Its grains were those of a square window about
the passage reaching at most ``MAX_GRAIN_WINDOW_RADIUS`` (64 px at 018294f, 256 px since
81c763f); a passage reaching farther was left as it was and every touch counted again:
below about 0.2° a line hugs a straight boundary for more than 512 px. Since the corridor
(``_corridor_grains``) such a passage's grains are those of a band
``PASSAGE_CORRIDOR_RADIUS_PX`` wide about the path.

Construction (exact): the digital parallel lines of ``heyn_tilted_line_counting``
(``SPACING_PX`` apart, at α = ``ALPHAS_DEG``); ``OFFSETS`` drawn test lines of
``LINE_PX`` through the map's centre at α + δ (δ in ``DELTAS_DEG``), offset across the
boundaries in equal steps over one spacing. The exact crossings of a line are
``LINE_PX sin δ / SPACING_PX`` on average over the offsets; reported: the run count over
that (``runs / exact``) per α and δ (at δ <= 0.5° most of these lines cross no boundary
and touch one: E112's tangent, 1 each, which the ratio counts as excess). Long lines
(``long``): one straight digital boundary through the centre of a ``LONG_SIDE_PX``² map,
``LONG_OFFSETS`` lines of ``LONG_LINE_PX`` through points within half a pixel of it at
α + δ (δ in ``LONG_DELTAS_DEG``, and ``LONG_RANDOM_LINES`` lines with δ uniform in
±``LONG_RANDOM_DELTA_DEG``): each crosses it once, so runs / exact is the mean run count
a line. For the module at ``ARM_REVISIONS`` (``before``: the 64 px window; ``window``:
the 256 px window alone) and the working tree (``current``, where it differs).

Unchanged elsewhere (``same``): every mask of tbm/train + tbm/val (never tbm/test) by the
benchmark's protocol (``edges.thresholds.HEYN_KW``) and ``SYNTH_LINES`` random lines on
``SYNTH_SIDE_PX``² synthetic masks (``napari_srmat.synth``, curvature ``CURVATURES``,
grains ``SYNTH_GRAINS_PX``, boundaries 1 and 3 px, as drawn and thinned), each with the
run count and E112's scoring: the masks on which some line's P differs between
``window`` and ``current``.

CPU time (best of ``REPEATS``, the arms alternating) of ``measure_intercepts`` with
``TIMING_LINES`` random lines on a ``TIMING_SIDE_PX``² synthetic mask (a 2048² tile of
``TIMING_GRAIN_PX`` px grains repeated, as benchmarks/bench_heyn.py), the same thinned,
and with ``SMALL_LINES`` lines on a 3000² thinned synthetic mask (30 px grains), a 3000²
mask of 20 % noise and the 512² map of parallel lines at 10°, every arm.

Where many passages are long (``worst_case``): CPU time (best of ``WORST_REPEATS``, the
arms alternating) and run count of ``WORST_LINES`` random lines of ``WORST_LINE_FRACTION``
of the side at δ = ``WORST_DELTA_DEG`` to digital boundaries ``WORST_SPACING_PX`` apart at
``WORST_ALPHA_DEG`` on maps of ``WORST_SIDES_PX``² for ``window``, ``current`` and
(4000² only) ``corridor`` (``WORST_REVISIONS``: the corridor as first written).

Expectations of the corridor (written before this script was run with it; ``E4``..``E6``
in the JSON, ``current`` against ``window``; ``E1``..``E3`` were 81c763f's, for the 256 px
window against 018294f, ``current`` against ``before``):

* E4: on the long lines at |δ| <= 0.2° and at δ uniform in ±1°, runs / exact is at most
  1.05 at every α (from above 10).
* E5: no line's P differs on the tbm and synthetic masks.
* E6: the 8000² masks' CPU time grows by at most 12 %, the other masks' by at most 25 %.

    PYTHONPATH=src python studies/heyn_long_passages.py   # ~10 CPU-min

Writes studies/results/heyn_long_passages.json.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import numpy as np
from _common import save, tbm_pairs
from heyn_tilted_line_counting import SPACING_PX, parallel_lines
from heyn_wiggly_boundaries import module_at, working_tree

#: The modules counted: ``before`` (the 64 px window), ``window`` (the 256 px window
#: alone, before the corridor).
ARM_REVISIONS = {"before": "018294f", "window": "e24dc4d"}
ALPHAS_DEG = (10.0, 25.0, 40.0)
DELTAS_DEG = (0.25, 0.5, 1.0, 1.5, 3.0)
OFFSETS = 24
LINE_PX = 400.0
#: Long lines: the map's side, the lines' length, their offsets from the boundary (px)
#: and angles to it, and the lines at a random angle within ±1°.
LONG_SIDE_PX = 3400
LONG_LINE_PX = 3000.0
LONG_OFFSETS = (-0.5, -0.3, -0.1, 0.0, 0.2, 0.4)
LONG_DELTAS_DEG = (0.05, 0.1, 0.2, 0.5, 1.0, -0.1, -0.5, -1.0)
LONG_RANDOM_LINES = 60
LONG_RANDOM_DELTA_DEG = 1.0
#: Sameness: synthetic masks' side, grain sizes, curvatures, random lines and seed.
SYNTH_SIDE_PX = 2048
SYNTH_GRAINS_PX = (15, 30, 60)
CURVATURES = (0.1, 0.2)
SYNTH_LINES = 500
SYNTH_SEED = 7
#: Timing: random lines, repeats (best of), the masks' side and grain size.
TIMING_LINES = 2000
REPEATS = 5
TIMING_SIDE_PX = 8000
TIMING_TILE_PX = 2048
TIMING_GRAIN_PX = 32
SMALL_SIDE_PX = 3000
SMALL_GRAIN_PX = 30
SMALL_LINES = 1000
NOISE_FRACTION = 0.2
#: The many-long-passages worst case: boundaries ``WORST_SPACING_PX`` apart at
#: ``WORST_ALPHA_DEG``, ``WORST_LINES`` random lines of ``WORST_LINE_FRACTION`` of the side
#: at δ = ``WORST_DELTA_DEG`` (each hugs a boundary for about 1150 px of 8600 at 8000²),
#: the sides, repeats (best of) and the arms timed only at some sides (``corridor``: the
#: corridor as first written, each path pixel's square built whole).
WORST_SPACING_PX = 15.0
WORST_ALPHA_DEG = 10.0
WORST_DELTA_DEG = 0.1
WORST_LINES = 2000
WORST_LINE_FRACTION = 0.9
WORST_SEED = 11
WORST_SIDES_PX = (4000, 8000)
WORST_REPEATS = 2
WORST_ARMS = {"corridor": (4000,)}
WORST_REVISIONS = {"corridor": "25b7e82"}
#: E6: the largest growth of the CPU time on the 8000² masks and on the others.
MAX_COST_GROWTH = 0.12
MAX_COST_GROWTH_SMALL = 0.25
#: E4: the largest runs / exact on the long lines at |δ| <= ``E4_DELTA_DEG`` (and the
#: random ones).
E4_MAX_RATIO = 1.05
E4_DELTA_DEG = 0.2


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


def long_ratios(mod) -> dict:
    """Mean runs a line (each crosses the boundary once) per α and δ on long lines."""
    out = {}
    c0 = LONG_SIDE_PX / 2
    rng = np.random.default_rng(0)
    for alpha in ALPHAS_DEG:
        a = math.radians(alpha)
        width = max(abs(math.cos(a)), abs(math.sin(a)))
        yy, xx = np.mgrid[0:LONG_SIDE_PX, 0:LONG_SIDE_PX]
        s = -(xx - c0) * math.sin(a) + (yy - c0) * math.cos(a)
        mask = (s >= -width / 2) & (s < width / 2)  # one pixel a column (a row)
        nrm = np.array([math.cos(a), -math.sin(a)])
        cases = {f"delta {d:g}": [d] * len(LONG_OFFSETS) for d in LONG_DELTAS_DEG}
        cases[f"delta uniform ±{LONG_RANDOM_DELTA_DEG:g}"] = list(rng.uniform(
            -LONG_RANDOM_DELTA_DEG, LONG_RANDOM_DELTA_DEG, LONG_RANDOM_LINES))
        for name, deltas in cases.items():
            segs = []
            for i, d in enumerate(deltas):
                th = math.radians(alpha + d)
                u = np.array([math.sin(th), math.cos(th)])
                c = c0 + LONG_OFFSETS[i % len(LONG_OFFSETS)] * nrm
                segs.append([c - LONG_LINE_PX / 2 * u, c + LONG_LINE_PX / 2 * u])
            r = mod.measure_intercepts(mask, pattern="segments", segments=segs)
            out[f"alpha {alpha:g}, {name}"] = round(r.n_intersections / len(segs), 3)
    return out


def _same_masks() -> Iterator[tuple[str, np.ndarray, dict]]:
    """(name, mask, keywords) of the masks whose counts should not move."""
    from skimage.morphology import skeletonize

    from napari_srmat.edges.thresholds import HEYN_KW
    from napari_srmat.io import read_mask
    from napari_srmat.synth import generate_microstructure

    for split, _image, path in tbm_pairs():
        yield f"tbm/{split}/{path.name}", read_mask(path), HEYN_KW
    kw = {"n_lines": SYNTH_LINES, "seed": SYNTH_SEED}
    for h in SYNTH_GRAINS_PX:
        for curv in CURVATURES:
            for w in (1, 3):
                b = generate_microstructure((SYNTH_SIDE_PX, SYNTH_SIDE_PX), mean_grain_size_px=h,
                                            seed=SYNTH_SEED, curvature=curv, boundary_width=w,
                                            rgb=False).boundaries
                name = f"synth {h} px, curvature {curv:g}, {w} px"
                yield name, b, kw
                yield f"{name}, thinned", skeletonize(b), kw


def sameness(mods: dict) -> dict:
    """The masks on which some line's P differs between the arms, per scoring, and the
    masks compared."""
    names, moved = [], {"runs": [], "e112": []}
    for name, mask, kw in _same_masks():
        names.append(name)
        for scoring, tp in (("runs", False), ("e112", True)):
            p = [m.measure_intercepts(mask, triple_points=tp, **kw).per_line_intersections
                 for m in mods.values()]
            if not np.array_equal(p[0], p[-1]):
                moved[scoring].append(name)
    return {"masks": len(names), "moved": moved}


def timing_masks() -> dict:
    """The masks timed and the random lines of each."""
    from skimage.morphology import skeletonize

    from napari_srmat.synth import generate_microstructure

    tile = generate_microstructure((TIMING_TILE_PX, TIMING_TILE_PX),
                                   mean_grain_size_px=TIMING_GRAIN_PX, seed=0, rgb=False
                                   ).boundaries
    reps = -(-TIMING_SIDE_PX // TIMING_TILE_PX)
    big = np.tile(tile, (reps, reps))[:TIMING_SIDE_PX, :TIMING_SIDE_PX]
    thin = np.tile(skeletonize(tile), (reps, reps))[:TIMING_SIDE_PX, :TIMING_SIDE_PX]
    small = (SMALL_SIDE_PX, SMALL_SIDE_PX)
    return {
        f"synthetic {TIMING_SIDE_PX}²": (big, TIMING_LINES),
        f"synthetic {TIMING_SIDE_PX}², thinned": (thin, TIMING_LINES),
        f"thinned {SMALL_SIDE_PX}²": (skeletonize(generate_microstructure(
            small, mean_grain_size_px=SMALL_GRAIN_PX, seed=3).boundaries), SMALL_LINES),
        f"noise {SMALL_SIDE_PX}²": (np.random.default_rng(0).random(small) < NOISE_FRACTION,
                                    SMALL_LINES),
        "parallel lines 512², 10°": (parallel_lines(10.0), SMALL_LINES),
    }


def timings(mods: dict, pattern: str = "random", repeats: int = REPEATS) -> dict:
    """Best-of-``repeats`` CPU seconds of the default measurement per arm and mask (the
    arms alternate, so that both see the same machine); with ``pattern="grid"`` as many
    lines, half of them rows."""
    out: dict = {arm: {} for arm in mods}
    for name, (mask, n_lines) in timing_masks().items():
        best = dict.fromkeys(mods, math.inf)
        n = n_lines if pattern == "random" else n_lines // 2
        for _ in range(repeats):
            for arm, mod in mods.items():
                t = time.process_time()
                mod.measure_intercepts(mask, pattern=pattern, n_lines=n)
                best[arm] = min(best[arm], time.process_time() - t)
        for arm in mods:
            out[arm][name] = round(best[arm], 3)
    return out


def worst_map(side: int) -> np.ndarray:
    """The many-long-passages map: digital parallel boundaries ``WORST_SPACING_PX`` apart
    at ``WORST_ALPHA_DEG`` on a ``side``² map (one pixel a column, as
    :func:`heyn_tilted_line_counting.parallel_lines`)."""
    a = math.radians(WORST_ALPHA_DEG)
    yy, xx = np.ogrid[0:side, 0:side]
    s = -xx * math.sin(a) + yy * math.cos(a)
    return np.mod(s, WORST_SPACING_PX) < max(abs(math.cos(a)), abs(math.sin(a)))


def worst_lines(side: int) -> list:
    """``WORST_LINES`` lines of ``WORST_LINE_FRACTION`` × ``side`` at ``WORST_ALPHA_DEG`` +
    ``WORST_DELTA_DEG``, their centres uniform where both ends lie on the map."""
    th = math.radians(WORST_ALPHA_DEG + WORST_DELTA_DEG)
    u = np.array([math.sin(th), math.cos(th)])
    half = WORST_LINE_FRACTION * side / 2 * u
    lo, hi = np.abs(half), side - 1 - np.abs(half)
    rng = np.random.default_rng(WORST_SEED)
    centres = lo + rng.random((WORST_LINES, 2)) * (hi - lo)
    return [[c - half, c + half] for c in centres]


def worst_case(mods: dict) -> dict:
    """Best-of CPU seconds and the run count per side and arm on the many-long-passages
    map (``WORST_ARMS``' own at the sides they name; the arms alternate)."""
    out: dict = {}
    for side in WORST_SIDES_PX:
        mask, segs = worst_map(side), worst_lines(side)
        arms = {arm: mod for arm, mod in mods.items() if side in WORST_ARMS.get(arm, (side,))}
        best, runs = dict.fromkeys(arms, math.inf), {}
        for _ in range(WORST_REPEATS):
            for arm, mod in arms.items():
                t = time.process_time()
                r = mod.measure_intercepts(mask, pattern="segments", segments=segs)
                best[arm] = min(best[arm], time.process_time() - t)
                runs[arm] = int(r.n_intersections)
        out[f"{side}²"] = {arm: {"cpu_s": round(best[arm], 2), "runs": runs[arm]}
                           for arm in arms}
        print(side, out[f"{side}²"], flush=True)
    return out


def expectations(res: dict) -> dict:
    b, c = res["before"]["ratios"], res["current"]["ratios"]
    small = [k for k in c if float(k.split("delta ")[1]) <= 0.5]
    wide = [k for k in c if float(k.split("delta ")[1]) >= 1.0]
    t0, tb, tc = res["before"]["cpu_s"], res["window"]["cpu_s"], res["current"]["cpu_s"]
    lc = res["current"]["long"]
    shallow = [k for k in lc if "uniform" in k
               or abs(float(k.split("delta ")[1])) <= E4_DELTA_DEG]
    big = [k for k in tb if str(TIMING_SIDE_PX) in k]
    return {
        "E1_small_delta_at_most_3.5": bool(all(c[k] <= 3.5 for k in small)),
        "E2_wide_delta_unchanged": bool(all(abs(c[k] - b[k]) < 0.02 for k in wide)),
        "E3_cost": bool(all(tc[k] < 1.15 * t0[k] for k in t0 if f"{SMALL_SIDE_PX}" in k)
                        and all(tc[k] < 1.5 * t0[k] for k in t0 if "parallel" in k)),
        "E4_long_lines_at_most_1.05": bool(all(lc[k] <= E4_MAX_RATIO for k in shallow)),
        "E5_same_counts": not any(res["same"]["moved"].values()),
        "E6_cost": bool(all(tc[k] <= (1 + MAX_COST_GROWTH) * tb[k] for k in big)
                        and all(tc[k] <= (1 + MAX_COST_GROWTH_SMALL) * tb[k]
                                for k in tb if k not in big)),
    }


def main() -> None:
    import napari_srmat.metrics.heyn as current

    mods, src = {}, ""
    for arm, rev in ARM_REVISIONS.items():
        mods[arm], src = module_at(arm, rev)
    if open(current.__file__).read() != src:
        mods["current"] = current
    res: dict = {arm: {"ratios": ratios(mod), "long": long_ratios(mod)}
                 for arm, mod in mods.items()}
    print(res, flush=True)
    for arm, cpu in timings(mods).items():
        res[arm]["cpu_s"] = cpu
    worst = {**mods, **{arm: module_at(arm, rev)[0] for arm, rev in WORST_REVISIONS.items()}}
    res["worst_case"] = worst_case({k: worst[k] for k in ("window", "corridor", "current")
                                    if k in worst})
    res["same"] = (sameness({k: mods[k] for k in ("window", "current")})
                   if "current" in mods else {})
    print(res, flush=True)
    checks = expectations(res) if "current" in res else {}
    print(checks)
    save("heyn_long_passages", {
        "arms": {**ARM_REVISIONS, **WORST_REVISIONS,
                 **({"current": working_tree()} if "current" in mods else {})},
        "line_px": LINE_PX, "offsets": OFFSETS, "spacing_px": SPACING_PX,
        "long_line_px": LONG_LINE_PX, "long_offsets_px": list(LONG_OFFSETS),
        "worst_case": {"spacing_px": WORST_SPACING_PX, "alpha_deg": WORST_ALPHA_DEG,
                       "delta_deg": WORST_DELTA_DEG, "lines": WORST_LINES,
                       "line_fraction_of_side": WORST_LINE_FRACTION,
                       "repeats": WORST_REPEATS},
        "results": res, "expectations": checks})


if __name__ == "__main__":
    from _common import no_options

    no_options(__doc__)
    main()
