"""Why do two studies disagree on the 95 % interval of ℓ̄ for grid fields with few crossings?

studies/heyn_interval_coverage.py measured ``grid`` fields with P < 25 covering 92.1 %,
studies/few_lines_interval.py 98.3 % (today's rule, ``ℓ̄ [1/(1+r'), 1/(1-r')]``, ``r' =
max(r, c)``: :func:`napari_srmat.metrics.standards.floored_relative_half` through
:func:`napari_srmat.grainsize.sampling_log_terms`, used here as the package uses it).

Part ``reproduce``: both studies' grid fields, re-run with their own code (heyn's
``grid_fields``, few_lines' ``fields`` on its confirmation seeds), their P < 25 band
broken down by structure kind, lines per axis and grain spacing, and, per design (spacing,
crop side, lines per axis; few_lines records no side, so its two sides are one design),
the fields of P < 25 from designs whose median P is >= 25 against all fields of those
designs.

Part ``controlled``: 768² maps of two structure kinds at seed spacing h in ``SPACINGS``
(``lattice``: ``generate_microstructure``, one seed jittered inside each cell of an h
grid, which leaves the crossing density of a row periodic in its row with period h;
``voronoi``: a Voronoi map of hard-core random seeds, the same number, at least 0.6 h
apart, no lattice), boundary masks thinned as ``srmat grain-size --mask`` thins. On each,
``CROPS`` squares of 128 and 256 px at random places; on each square k + k grid lines
(k in ``KS``) placed four ways in the 5 % margin box (``package``: the package's grid,
k lines from edge to edge of the box, spacing box / (k - 1); ``centred``: the centres of
k equal strips; ``random_phase``: the same spacing at a random offset; ``random``: k
uniform positions per axis); the same counting as ``measure_intercepts(pattern="grid")``.
Two truths: the square's (a grid line through every pixel row and column of its margin
box, as both studies) and the map's (the same over the whole map). Equally spaced lines
are ``aliased`` when their spacing is within ``ALIAS_TOLERANCE`` of a multiple m >= 1 of h
(``random`` lines: when the package grid of the same square and k is).
The realistic quick E112 check: k = 2-5 per axis, 10 <= P < 25 (``REGIME``). Also
recorded: today's rule with its t's at k - 1 degrees of freedom (one per axis's k lines)
in place of 2k - 1 (``field_dof_per_axis``), and how much a row's crossing density varies
with its phase y mod h (``row_phase_amplitude``: (max - min) / mean over the h phases).

Hypotheses, written after the exploration seeds (structures 0-3) and before the
confirmation seeds (structures 10-13) were run; each is checked on both:

* H1 (aliasing): on ``lattice``, ``package`` fields that are aliased cover >= 3 points
  less than those that are not; on ``voronoi`` and with ``random`` lines on ``lattice``
  the gap is below 1.5 points either way.
* H2 (no under-coverage of the square's ℓ̄ without a lattice): on ``voronoi``, the
  package grid in the realistic regime covers >= 94.5 % and >= 93.5 % at each k.
  Otherwise a fix of the rule would be looked for.
* H3 (selection by P): fields with P < 25 from designs whose median P is >= 25 cover
  >= 3 points less than all fields of those designs (both kinds, ``package``).
* H4 (the specimen's ℓ̄ is another estimand): against the map's ℓ̄ the package grid in
  the realistic regime covers < 94 % on both kinds (one field's lines cannot see the
  scatter between fields).

Part ``controlled``, third kind, added after 9fcef21 gave the generator
``seed_layout="poisson"`` (``poisson``: ``generate_microstructure(...,
seed_layout="poisson")``, a Poisson number of seeds of mean 1 in each cell of the h grid,
uniform in the cell: a stationary Poisson process, no lattice; rows vary 3.0-12.9 % with
their phase, studies/seed_layout_rows.py), on the confirmation seeds only (``POISSON_ON``),
after the two kinds above so that their crops and numbers stay as they were. Expectation,
written before the poisson maps were run (``expectation_poisson``; not one of H1-H4):

* E (poisson is like the Voronoi maps): its ``package`` fields that are aliased and those
  that are not cover within 1.5 points of each other (``H1_NONE``), and the quick E112
  check (``REGIME``) covers the square's ℓ̄ >= 95 % (``POISSON_REGIME``).

    PYTHONPATH=src python studies/grid_interval_aliasing.py   # ~3.5 CPU-min

Writes studies/results/grid_interval_aliasing.json. Quoted in docs/grain_size.md ("The
95 % interval"; pinned by tests/test_docs_numbers.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from _common import INTERVAL_MAP_PX, coverage, interval_structure, save, thinned_boundaries

MAP = INTERVAL_MAP_PX
SPACINGS = (20, 28, 40, 56, 80)
SIDES = (128, 256)
KS = (2, 3, 4, 5)
CROPS = 40
PLACEMENTS = ("package", "centred", "random_phase", "random")
SEEDS = {"exploration": {"structures": (0, 1, 2, 3), "crops": 1},
         "confirmation": {"structures": (10, 11, 12, 13), "crops": 2}}
ALIAS_TOLERANCE = 0.15
REGIME = {"k": (2, 5), "P": (10, 25)}
LOW_P = 25
H1_GAP, H1_NONE, H2_ALL, H2_EACH, H3_GAP, H4_BELOW = 3.0, 1.5, 94.5, 93.5, 3.0, 94.0
KINDS = ("lattice", "voronoi")
#: Seed sets that also run the generator's Poisson layout (after ``KINDS``).
POISSON_ON = ("confirmation",)
POISSON_REGIME = 95.0


def _positions(a0: float, a1: float, k: int, place: str, rng) -> np.ndarray:
    step = (a1 - a0) / k
    if place == "package":
        return np.linspace(a0, a1, k)
    if place == "centred":
        return a0 + (np.arange(k) + 0.5) * step
    if place == "random_phase":
        return a0 + (np.arange(k) + rng.uniform()) * step
    return np.sort(rng.uniform(a0, a1, k))


def _grid(field: np.ndarray, k: int, place: str, rng):
    """measure_intercepts(pattern="grid") with the k + k lines placed by ``place``."""
    import napari_srmat.metrics.heyn as heyn

    r0, r1, c0, c1 = heyn._margin_box(field.shape, heyn.HEYN_MARGIN)
    paths = [np.array([[r, c0], [r, c1]]) for r in _positions(r0, r1, k, place, rng)]
    paths += [np.array([[r0, c], [r1, c]]) for c in _positions(c0, c1, k, place, rng)]
    made = heyn.make_pattern
    heyn.make_pattern = lambda *a, **kw: (paths, np.zeros(len(paths), bool))
    try:
        return heyn.measure_intercepts(field, pattern="grid", n_lines=k)
    finally:
        heyn.make_pattern = made


def _covered(ell: float, ra: float, p: float, n: int, truth: float,
             dof_per_axis: bool = False) -> bool:
    """Whether today's interval (``dof_per_axis``: its t's at k - 1 degrees of freedom,
    k = n / 2 lines per axis, in place of n - 1) holds ``truth``."""
    from napari_srmat.grainsize import sampling_log_terms
    from napari_srmat.metrics.heyn import t_quantile_95

    r = ra / 100.0
    if dof_per_axis:
        k = n // 2
        t = t_quantile_95(k - 1) / t_quantile_95(n - 1) if k >= 2 else math.inf
        r, p = r * t, p / t  # c = t sqrt(n/12) / P: both t's at k - 1
    lo, hi = sampling_log_terms(r, count=p, n_lines=n)
    return bool(ell * math.exp(-lo) <= truth <= ell * math.exp(hi))


def row_phase_amplitude(mask: np.ndarray, h: int) -> float:
    """(max - min) / mean of the boundary runs a row meets, by the row's phase y mod h."""
    runs = (mask[:, 1:] & ~mask[:, :-1]).sum(axis=1)
    by = np.array([runs[np.arange(mask.shape[0]) % h == p].mean() for p in range(h)])
    return float((by.max() - by.min()) / by.mean())


def _spacing_ratio(side: int, k: int, place: str, h: int) -> float:
    box = (1 - 2 * 0.05) * (side - 1)
    return box / (k - 1 if place in ("package", "random") else k) / h


def controlled(seeds: dict, kinds: tuple[str, ...] = KINDS) -> tuple[list[dict], dict]:
    from napari_srmat.metrics.heyn import measure_intercepts

    rows, phase = [], {}
    rng = np.random.default_rng(seeds["crops"])
    for kind in kinds:
        for h in SPACINGS:
            for s in seeds["structures"]:
                mask = interval_structure(kind, h, s)
                phase.setdefault(f"{kind} h{h}", []).append(row_phase_amplitude(mask, h))
                whole = measure_intercepts(mask, pattern="grid", n_lines=MAP).mean_intercept_px
                for side in SIDES:
                    for _ in range(CROPS):
                        y, x = (int(v) for v in rng.integers(0, MAP - side + 1, 2))
                        f = mask[y:y + side, x:x + side]
                        own = measure_intercepts(f, pattern="grid", n_lines=side)
                        if own.mean_intercept_px is None:
                            continue
                        for k in KS:
                            for place in PLACEMENTS:
                                g = _grid(f, k, place, rng)
                                if g.mean_intercept_px is None:
                                    continue
                                q = _spacing_ratio(side, k, place, h)
                                args = (g.mean_intercept_px, g.relative_accuracy_pct,
                                        g.intersection_count, g.n_lines)
                                rows.append({
                                    "kind": kind, "h": h, "side": side, "k": k,
                                    "place": place, "P": g.intersection_count,
                                    "aliased": round(q) >= 1
                                    and abs(q - round(q)) <= ALIAS_TOLERANCE,
                                    "field": _covered(*args, own.mean_intercept_px),
                                    "map": _covered(*args, whole),
                                    "field_dof_per_axis": _covered(
                                        *args, own.mean_intercept_px, True)})
    return rows, {k: round(float(np.mean(v)), 3) for k, v in phase.items()}


def _regime(r: dict) -> bool:
    return (REGIME["k"][0] <= r["k"] <= REGIME["k"][1]
            and REGIME["P"][0] <= r["P"] < REGIME["P"][1])


def _selection_by_p(rows: list[dict], key: Callable) -> dict:
    """Designs (``key``) of median P >= LOW_P: all their fields and those with P < LOW_P."""
    designs: dict = {}
    for r in rows:
        designs.setdefault(key(r), []).append(r)
    hi = [d for d in designs.values() if np.median([r["P"] for r in d]) >= LOW_P]
    return {"designs_median_P_ge_25_all": coverage([r for d in hi for r in d]),
            "their_fields_P_lt_25": coverage([r for d in hi for r in d if r["P"] < LOW_P])}


def summarize(rows: list[dict], kinds: tuple[str, ...] = KINDS) -> dict:
    out: dict = {}
    for kind in kinds:
        ks = [r for r in rows if r["kind"] == kind]
        o: dict = {}
        for place in PLACEMENTS:
            x = [r for r in ks if r["place"] == place]
            reg = [r for r in x if _regime(r)]
            o[place] = {"all": coverage(x),
                        "aliased": coverage([r for r in x if r["aliased"]]),
                        "not_aliased": coverage([r for r in x if not r["aliased"]]),
                        "regime_field": coverage(reg), "regime_map": coverage(reg, "map"),
                        "regime_field_dof_per_axis": coverage(reg, "field_dof_per_axis"),
                        **{f"regime_k{k}_field": coverage([r for r in reg if r["k"] == k])
                           for k in KS},
                        **{f"regime_k{k}_map": coverage([r for r in reg if r["k"] == k], "map")
                           for k in KS}}
        pk = [r for r in ks if r["place"] == "package"]
        o["selection_by_P"] = _selection_by_p(pk, lambda r: (r["h"], r["side"], r["k"]))
        o["package_by_design"] = {
            f"h{h} side{side} k{k}": {
                **coverage(d := [r for r in pk if (r["h"], r["side"], r["k"]) == (h, side, k)]),
                "median_P": float(np.median([r["P"] for r in d])),
                "aliased": bool(d[0]["aliased"])}
            for h in SPACINGS for side in SIDES for k in KS}
        out[kind] = o
    return out


def hypotheses(s: dict) -> dict:
    def gap(kind, place):
        v = s[kind][place]
        return round(v["not_aliased"]["coverage_pct"] - v["aliased"]["coverage_pct"], 1)

    vp = s["voronoi"]["package"]
    sel = {k: s[k]["selection_by_P"] for k in ("lattice", "voronoi")}
    return {
        "H1": {"gaps": {"lattice package": gap("lattice", "package"),
                        "voronoi package": gap("voronoi", "package"),
                        "lattice random": gap("lattice", "random")},
               "holds": gap("lattice", "package") >= H1_GAP
               and abs(gap("voronoi", "package")) < H1_NONE
               and abs(gap("lattice", "random")) < H1_NONE},
        "H2": {"holds": vp["regime_field"]["coverage_pct"] >= H2_ALL
               and all(vp[f"regime_k{k}_field"]["coverage_pct"] >= H2_EACH for k in KS)},
        "H3": {"holds": all(v["designs_median_P_ge_25_all"]["coverage_pct"]
                            - v["their_fields_P_lt_25"]["coverage_pct"] >= H3_GAP
                            for v in sel.values())},
        "H4": {"holds": all(s[k]["package"]["regime_map"]["coverage_pct"] < H4_BELOW
                            for k in ("lattice", "voronoi"))}}


def expectation_poisson(s: dict) -> dict:
    """Whether the Poisson layout behaves like the Voronoi maps (the docstring's E)."""
    v = s["poisson"]["package"]
    gap = round(v["not_aliased"]["coverage_pct"] - v["aliased"]["coverage_pct"], 1)
    return {"gap": gap, "regime_field": v["regime_field"]["coverage_pct"],
            "holds": abs(gap) < H1_NONE
            and v["regime_field"]["coverage_pct"] >= POISSON_REGIME}


def reproduce() -> dict:
    """Both studies' grid fields (their code, their seeds) and their P < 25 band."""
    import few_lines_interval as fl
    import heyn_interval_coverage as hc

    rng = np.random.default_rng(hc.GRID_SEED)
    heyn = []
    for h in hc.SPACINGS:
        for s in hc.STRUCTURE_SEEDS:
            for r in hc.grid_fields(thinned_boundaries(hc.SHAPE, h, s), rng):
                lo, hi, t = r["package"]
                heyn.append({"kind": "isotropic", "h": h, "side": r["side"],
                             "k": r["n_lines"], "P": r["count"], "field": lo <= t <= hi})
    fields, _ = fl.fields(fl.SEEDS["confirmation"])
    a = fl.as_columns(fields)
    cov, _ = fl.evaluate(a, fl.today)
    few = [{"kind": str(a["kind"][i]), "h": int(a["h"][i]), "k": int(a["n_lines"][i]),
            "P": float(a["count"][i]), "field": bool(cov[i]), "side": 0}
           for i in range(len(fields)) if a["pattern"][i] == "grid"]
    out = {}
    for name, rows in (("heyn_interval_coverage", heyn), ("few_lines_interval", few)):
        low = [r for r in rows if r["P"] < LOW_P]
        iso = [r for r in low if r["kind"] == "isotropic"]
        out[name] = {
            "P_lt_25": coverage(low),
            **{f"P_lt_25 {kind}": coverage([r for r in low if r["kind"] == kind])
               for kind in sorted({r["kind"] for r in low})},
            **{f"P_lt_25 isotropic k{k}": coverage([r for r in iso if r["k"] == k])
               for k in sorted({r["k"] for r in iso})},
            **{f"P_lt_25 isotropic h{h}": coverage([r for r in iso if r["h"] == h])
               for h in sorted({r["h"] for r in iso})},
            **{f"isotropic k{k} all P": coverage([r for r in rows if r["kind"] == "isotropic"
                                               and r["k"] == k]) for k in (2, 3, 5)},
            "selection_by_P isotropic": _selection_by_p(
                [r for r in rows if r["kind"] == "isotropic"],
                lambda r: (r["h"], r["side"], r["k"]))}
    return out


def main() -> None:
    out: dict = {"reproduce": reproduce()}
    print(out["reproduce"])
    for name, seeds in SEEDS.items():
        kinds = KINDS + ("poisson",) * (name in POISSON_ON)
        rows, phase = controlled(seeds, kinds)
        s = summarize(rows, kinds)
        out[name] = {"seeds": seeds, "row_phase_amplitude": phase, "summary": s,
                     "hypotheses": hypotheses(s)}
        if "poisson" in kinds:
            out[name]["expectation_poisson"] = expectation_poisson(s)
            print(name, "expectation_poisson", out[name]["expectation_poisson"])
        print(name, phase)
        for kind in kinds:
            for place in PLACEMENTS:
                v = s[kind][place]
                print(name, kind, place, {k: v[k]["coverage_pct"] for k in
                                          ("all", "aliased", "not_aliased", "regime_field",
                                           "regime_map", "regime_field_dof_per_axis")})
            print(name, kind, s[kind]["selection_by_P"])
        print(name, out[name]["hypotheses"])
    save("grid_interval_aliasing", out)


if __name__ == "__main__":
    from _common import no_options

    no_options(__doc__)
    main()
