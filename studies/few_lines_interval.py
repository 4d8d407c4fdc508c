"""A better 95 % interval of ℓ̄ with few test lines? (synthetic micrographs only)

Today's line-sampling term (:func:`napari_srmat.metrics.standards.floored_relative_half`,
inverted by :func:`napari_srmat.grainsize.sampling_log_terms`) is ``ℓ̄ [1/(1+r'),
1/(1-r')]``, ``r' = max(r, c)``, ``r = t(0.975, n-1) s / (sqrt(n) d̄)`` of the n lines'
densities and ``c = t(0.975, n-1) sqrt(n/12) / P``. On studies/heyn_interval_coverage.py
two random lines cover 99.4 % (t(1) = 12.7 makes ``c`` large) and ``grid`` fields with
P < 25 cover 92.1 %. Every candidate below is a function of ``(r, P, n)`` alone, so that
it can stay the one rule every caller uses (``srmat heyn``'s pooled interval,
``summarize_fields``, the grain-size interval).

Candidates (written before any run):

* ``today``: ``max(r, c)``;
* ``moderated(φ, ν₀)``: the between-line variance pooled with a count model, as a prior
  of ``ν₀`` degrees of freedom: the relative variance of the mean density is
  ``v = ((n-1) (r / t(n-1))² + ν₀ φ / P) / (n - 1 + ν₀)`` (``φ / P`` the relative
  variance of a count P with dispersion φ: 1 for a Poisson count, below 1 for crossings
  more regular than Poisson) and ``r' = t(0.975, n - 1 + ν₀) sqrt(v)``; for
  φ in ``PHIS`` and ν₀ in ``NU0S``;
* ``count_floor(φ)``: ``max(r, 1.96 sqrt(φ / P))`` (the count model as a floor), φ in
  ``PHIS``;
* added after a first look at the selection fields (which showed that the count model
  under-covers random lines on anisotropic structures, where the lines' directions and
  not their counts make the scatter): ``c_z``, ``max(r, 1.96 sqrt(n / 12) / P)`` (the
  counting floor at the normal quantile: the 1/12 variance is known, not estimated),
  and ``scatter_moderated(φ, ν₀)``, ``max(r, moderated(φ, ν₀))`` (the scatter kept as
  a floor), φ in ``SMALL_PHIS``, ν₀ in ``NU0S``.

Fields (each regime is a pattern and a number of lines ``n_lines``, the package's
parameter: random lines ``n_lines`` in all, ``grid`` ``n_lines`` per axis, ``circles``
its three circles): synthetic structures (``generate_microstructure``, 512², seed-grid
spacing h in ``SPACINGS``: ℓ̄ about 10-80 px; ``isotropic`` and ``anisotropic``, the
latter generated at 512 x 256 and stretched 2 x along the rows), their boundary masks
thinned as ``srmat grain-size --mask`` thins. Random-line
fields: ``n_lines`` lines drawn from a pool of ``POOL_LINES`` random lines on the mask
(``TRIALS`` fields per n), truth the ℓ̄ of ``REFERENCE_LINES`` other random lines on it;
grid and circles fields: ``CROPS`` squares of 128 and 256 px at random places, truth
the ℓ̄ of a grid line through every pixel row and column of the square (grid) or of
``CROP_REFERENCE_LINES`` random lines on it (circles). A field with P = 0 has no ℓ̄
and is left out (counted). Coverage (%) and the median width ``hi / lo`` of the
sampling term per regime, per grain size, per structure kind, per band of P and per
kind and n_lines.

Two disjoint sets of seeds (structures, lines and crops): ``selection`` and
``confirmation``. Decision rules, written before either was run:

1. Selection (on ``selection`` only): a candidate is feasible when its coverage is
   >= 94.5 % in every regime (pattern x n_lines; pattern x h; pattern x kind), or no
   lower than today's where today's is below 94.5 % (amended with the candidates
   above: today itself misses 94.5 % with three random lines), and its
   median width is no wider than today's (rounded to 3 decimals) in every such regime
   where today covers >= 95.0 %, and it improves on today: a smaller width score (the
   mean over the pattern x n_lines regimes of the log of the median width, widths
   capped at ``WIDTH_CAP``: over half the intervals of two random lines have no upper
   end, today's as the scatter's alone) or >= 94.5 % in a regime where today is below
   (amended with the candidates above). The chosen rule is the feasible candidate with
   the smallest width score. With none feasible, the best try (fewest regimes wider
   than today, one below 94.5 % counting as 100; then the width score) is confirmed
   and reported (amended with the candidates above; adoption is then expected to
   fail).
2. Adoption (on ``confirmation`` only, the chosen rule against today): coverage
   >= 94.0 % in every regime, or above today's where today is below 94.0 %; and a
   median width no wider than today's (3 decimals) in every regime where today covers
   >= 95.0 %. Otherwise the package keeps ``today`` and the negative result is
   documented.

Only the chosen rule and today are evaluated on the confirmation seeds. The boundary
masks were first built from the label image's changes (1 px, thinned); they were
changed to the generator's own boundary mask, thinned (as
studies/heyn_interval_coverage.py and ``srmat grain-size --mask``), after that first
look at the selection fields, before any confirmation field was seen.

    PYTHONPATH=src python studies/few_lines_interval.py   # ~3 CPU-min

Writes studies/results/few_lines_interval.json. Quoted in docs/grain_size.md ("The
95 % interval"; pinned by tests/test_docs_numbers.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from _common import save, thinned_boundaries
from scipy.special import stdtrit

SIDE = 512
SPACINGS = (12, 24, 48, 96)
KINDS = ("isotropic", "anisotropic")
STRETCH = 2
N_LINES = (2, 3, 5, 10, 50)
TRIALS = 100
POOL_LINES = 4000
REFERENCE_LINES = 4000
CROP_SIDES = (128, 256)
CROPS = 20
CROP_REFERENCE_LINES = 1000
SEEDS = {"selection": {"structures": (0, 1, 2), "lines": 1000, "crops": 7},
         "confirmation": {"structures": (10, 11, 12), "lines": 5000, "crops": 8}}
PHIS = (0.2, 0.3, 0.4, 0.5, 0.7, 1.0)
NU0S = (1, 2, 3, 5, 10, 20)
SMALL_PHIS = (0.05, 0.1, 0.2)
BANDS = ((0, 25), (25, 50), (50, 100), (100, 200), (200, math.inf))
MIN_SELECTION_COVERAGE = 94.5
WIDTH_CAP = 100.0
MIN_ADOPTION_COVERAGE = 94.0
NOMINAL = 95.0
Z95 = 1.959963984540054


def _t(dof):
    return stdtrit(np.asarray(dof, float), 0.975)


def today(r, p, n):
    c = _t(n - 1) * np.sqrt(n / 12.0) / p
    return np.maximum(r, c)


def moderated(phi: float, nu0: float) -> Callable:
    def rule(r, p, n):
        v_s = (r / _t(n - 1)) ** 2
        v = ((n - 1) * v_s + nu0 * phi / p) / (n - 1 + nu0)
        return _t(n - 1 + nu0) * np.sqrt(v)
    return rule


def count_floor(phi: float) -> Callable:
    return lambda r, p, n: np.maximum(r, Z95 * np.sqrt(phi / p))


def c_z(r, p, n):
    return np.maximum(r, Z95 * np.sqrt(n / 12.0) / p)


def scatter_moderated(phi: float, nu0: float) -> Callable:
    mod = moderated(phi, nu0)
    return lambda r, p, n: np.maximum(r, mod(r, p, n))


def candidates() -> dict[str, Callable]:
    out = {"today": today}
    out |= {f"moderated(phi={f}, nu0={v})": moderated(f, v) for f in PHIS for v in NU0S}
    out |= {f"count_floor(phi={f})": count_floor(f) for f in PHIS}
    out["c_z"] = c_z
    out |= {f"scatter_moderated(phi={f}, nu0={v})": scatter_moderated(f, v)
            for f in SMALL_PHIS for v in NU0S}
    return out


def _structure(h: int, kind: str, seed: int) -> np.ndarray:
    """The generator's boundary mask, thinned (as studies/heyn_interval_coverage.py)."""
    from napari_srmat.metrics.heyn import _skeletonize
    from napari_srmat.synth import generate_microstructure

    if kind == "isotropic":
        return thinned_boundaries((SIDE, SIDE), h, seed)
    ms = generate_microstructure((SIDE, SIDE // STRETCH), mean_grain_size_px=h, seed=seed,
                                 rgb=False)
    return _skeletonize(np.repeat(np.asarray(ms.boundaries, bool), STRETCH, axis=1))


def _row(pattern, n, h, kind, p_line, lengths, truth) -> dict | None:
    from napari_srmat.metrics.heyn import confidence_interval

    p, length = float(np.sum(p_line)), float(np.sum(lengths))
    if p <= 0:
        return None
    ok = lengths > 0
    _, _, ra = confidence_interval(p_line[ok] / lengths[ok])
    return {"pattern": pattern, "n_lines": n, "h": h, "kind": kind, "count": p,
            "lines": int(ok.sum()), "r": ra / 100.0, "ell": length / p, "truth": truth}


def fields(seeds: dict) -> tuple[list[dict], dict]:
    from napari_srmat.metrics.heyn import measure_intercepts

    rows: list[dict] = []
    skipped = {"random": 0, "grid": 0, "circles": 0}
    rng = np.random.default_rng(seeds["crops"])
    for h in SPACINGS:
        for kind in KINDS:
            for s in seeds["structures"]:
                mask = _structure(h, kind, s)
                truth = measure_intercepts(mask, pattern="random", n_lines=REFERENCE_LINES,
                                           seed=seeds["lines"] + 999).mean_intercept_px
                pool = measure_intercepts(mask, pattern="random", n_lines=POOL_LINES,
                                          seed=seeds["lines"] + s)
                pl, ln = pool.per_line_intersections, pool.per_line_length_px
                for n in N_LINES:
                    for _ in range(TRIALS):
                        idx = rng.choice(POOL_LINES, n, replace=False)
                        row = _row("random", n, h, kind, pl[idx], ln[idx], truth)
                        skipped["random"] += row is None
                        rows += [row] if row else []
                for side in CROP_SIDES:
                    for _ in range(CROPS):
                        y, x = (int(v) for v in rng.integers(0, SIDE - side + 1, 2))
                        crop = mask[y:y + side, x:x + side]
                        dense = measure_intercepts(crop, pattern="grid", n_lines=side)
                        ref = measure_intercepts(crop, pattern="random",
                                                 n_lines=CROP_REFERENCE_LINES,
                                                 seed=seeds["lines"])
                        if dense.mean_intercept_px is None or ref.mean_intercept_px is None:
                            continue
                        for n in N_LINES:
                            g = measure_intercepts(crop, pattern="grid", n_lines=n)
                            row = _row("grid", n, h, kind, g.per_line_intersections,
                                       g.per_line_length_px, dense.mean_intercept_px)
                            skipped["grid"] += row is None
                            rows += [row] if row else []
                        c = measure_intercepts(crop, pattern="circles")
                        row = _row("circles", 3, h, kind, c.per_line_intersections,
                                   c.per_line_length_px, ref.mean_intercept_px)
                        skipped["circles"] += row is None
                        rows += [row] if row else []
    return rows, skipped


def as_columns(rows: list[dict]) -> dict[str, np.ndarray]:
    """The rows (dicts with the same keys) as one array per key."""
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


def evaluate(a: dict[str, np.ndarray], rule: Callable) -> tuple[np.ndarray, np.ndarray]:
    """(covered, width hi/lo) of every field under ``rule``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rp = rule(a["r"], a["count"], a["lines"].astype(float))
        lo = a["ell"] / (1 + rp)
        hi = np.where(rp < 1, a["ell"] / (1 - rp), np.inf)
        width = np.where(rp < 1, (1 + rp) / (1 - rp), np.inf)
    return (lo <= a["truth"]) & (a["truth"] <= hi), width


def regimes(a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The regimes of the decision rules (boolean selections)."""
    out = {}
    for pat in ("random", "grid", "circles"):
        isp = a["pattern"] == pat
        for n in sorted(set(a["n_lines"][isp])):
            out[f"{pat} n={n}"] = isp & (a["n_lines"] == n)
        for h in SPACINGS:
            out[f"{pat} h={h}"] = isp & (a["h"] == h)
        for kind in KINDS:
            out[f"{pat} {kind}"] = isp & (a["kind"] == kind)
    return out


def bands(a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {f"{pat} P {lo}-{hi}": (a["pattern"] == pat) & (a["count"] >= lo)
            & (a["count"] < hi) for pat in ("random", "grid", "circles") for lo, hi in BANDS}


def breakdown(a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Pattern x kind x n_lines (reported, not in the decision rules)."""
    return {f"{pat} {kind} n={n}": (a["pattern"] == pat) & (a["kind"] == kind)
            & (a["n_lines"] == n) for pat in ("random", "grid", "circles") for kind in KINDS
            for n in N_LINES}


def table(a, rule, sel: dict[str, np.ndarray]) -> dict[str, dict]:
    cov, width = evaluate(a, rule)
    return {k: {"n": int(m.sum()), "coverage_pct": round(100 * float(cov[m].mean()), 1),
                "median_width": round(float(np.median(width[m])), 3),
                "capped_median_width": round(float(np.median(np.minimum(width[m], WIDTH_CAP))),
                                             3)}
            for k, m in sel.items() if m.any()}


def width_score(t: dict[str, dict]) -> float:
    return round(float(np.mean([math.log(v["capped_median_width"]) for k, v in t.items()
                                if " n=" in k])), 4)


def _ok_width(new: dict, old: dict) -> bool:
    return old["coverage_pct"] < NOMINAL or new["median_width"] <= old["median_width"]


def select(a) -> tuple[str, dict]:
    sel = regimes(a)
    base = table(a, today, sel)
    report = {}
    base_score = width_score(base)
    for name, rule in candidates().items():
        t = table(a, rule, sel)
        covers = all(t[k]["coverage_pct"] >= MIN_SELECTION_COVERAGE
                     or t[k]["coverage_pct"] >= base[k]["coverage_pct"] for k in t)
        fixes = any(base[k]["coverage_pct"] < MIN_SELECTION_COVERAGE
                    <= t[k]["coverage_pct"] for k in t)
        score = width_score(t)
        wider = [k for k in t if not _ok_width(t[k], base[k])]
        report[name] = {
            "feasible": covers and not wider and (score < base_score or fixes),
            "lowest_coverage_pct": min(v["coverage_pct"] for v in t.values()),
            "width_score": score, "fixes_a_regime_below_94.5": fixes,
            "wider_than_today_where_today_covers": wider}
    feasible = [k for k, v in report.items() if v["feasible"] and k != "today"]
    tries = [k for k, v in report.items() if k != "today"]
    chosen = (min(feasible, key=lambda k: report[k]["width_score"]) if feasible
              else min(tries, key=lambda k: (len(report[k]["wider_than_today_where_today_covers"])
                                             + 100 * (report[k]["lowest_coverage_pct"]
                                                      < MIN_SELECTION_COVERAGE),
                                             report[k]["width_score"])))
    return chosen, report


def adopt(new: dict, old: dict) -> tuple[bool, list[str]]:
    fails = []
    for k in old:
        if new[k]["coverage_pct"] < MIN_ADOPTION_COVERAGE and not (
                old[k]["coverage_pct"] < MIN_ADOPTION_COVERAGE
                and new[k]["coverage_pct"] > old[k]["coverage_pct"]):
            fails.append(f"{k}: coverage {new[k]['coverage_pct']} %")
        if not _ok_width(new[k], old[k]):
            fails.append(f"{k}: width {new[k]['median_width']} > {old[k]['median_width']}")
    return not fails, fails


def main() -> None:
    out: dict = {}
    rows, skipped = fields(SEEDS["selection"])
    a = as_columns(rows)
    chosen, report = select(a)
    rules = candidates()
    sel = regimes(a) | bands(a) | breakdown(a)
    out["selection"] = {"seeds": SEEDS["selection"], "n_fields": len(rows),
                        "fields_without_crossing": skipped, "chosen": chosen,
                        "candidates": report,
                        "today": table(a, today, sel), "chosen_table": table(a, rules[chosen], sel)}
    print("chosen on selection:", chosen, report[chosen])
    rows, skipped = fields(SEEDS["confirmation"])
    a = as_columns(rows)
    sel = regimes(a) | bands(a) | breakdown(a)
    old, new = table(a, today, sel), table(a, rules[chosen], sel)
    ok, fails = adopt({k: new[k] for k in regimes(a)}, {k: old[k] for k in regimes(a)})
    out["confirmation"] = {"seeds": SEEDS["confirmation"], "n_fields": len(rows),
                           "fields_without_crossing": skipped, "today": old,
                           "chosen_table": new, "adopted": ok, "failures": fails}
    for k in sel:
        if k in old:
            print(f"{k:24s} today {old[k]['coverage_pct']:5.1f} % {old[k]['median_width']:7.3f}"
                  f"   chosen {new[k]['coverage_pct']:5.1f} % {new[k]['median_width']:7.3f}"
                  f"  (n {old[k]['n']})")
    print("adopted:", ok, fails)
    save("few_lines_interval", out)


if __name__ == "__main__":
    from _common import no_options

    no_options(__doc__)
    main()
