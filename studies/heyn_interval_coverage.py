"""Does the line-sampling term of ℓ̄'s 95 % interval cover, at every intersection count?

:func:`napari_srmat.grainsize.sampling_log_terms` turns the Student-t half-width ``r`` of
the per-line intersection densities (and the count P) into ℓ̄'s interval. Rules compared,
each on the same fields:

* ``step_at_50``: the rule until 0a6b0a2: below E112's 50 intersections the inverted
  density interval ``ℓ̄ [1/(1+r), 1/(1-r)]`` widened to the exact Poisson interval of P,
  from 50 on ``ℓ̄ exp(±r)``;
* ``symmetric``: ``ℓ̄ exp(±r)`` at every count;
* ``inverted``: ``ℓ̄ [1/(1+r), 1/(1-r)]`` at every count;
* ``inverted_poisson``: the same widened to the Poisson interval of P at every count;
* ``counting_normal``: ``inverted`` with the counting-resolution term of ``package``
  at 1.96 instead of Student's t;
* ``counting_hypot``: ``inverted`` of ``sqrt(r² + c²)``, with the counting resolution
  ``c = t(0.975, n - 1) sqrt(n / 12) / P`` for n lines (each line's count is an
  integer, read to ±½: a uniform error of variance 1/12 per line), so that lines whose
  counts agree by chance (``r = 0``) still get a term (the package's rule from 295d30c);
* ``counting_floor``: ``inverted`` of ``max(r, c)``: ``c`` only as a floor under a
  noisy ``r``, since for ``r > 0`` the per-line densities already carry their counts'
  quantisation (``counting_hypot`` counts it twice);
* ``package``: what :func:`sampling_log_terms` does now.

Decision rule between ``counting_hypot`` (a) and ``counting_floor`` (b), written
before the run that compared them: adopt (b) unless its coverage in some band of P of
either pattern (random and grid fields) is below 92 % or more than 1.5 points below
(a)'s in that band; else keep (a).

Data: synthetic micrographs (``napari_srmat.synth.generate_microstructure``, 384 x 384,
grain spacing 20 and 40 px, three seeds each), their exact boundary masks thinned as
``srmat grain-size --mask`` thins them. A field is one draw of ``n_lines`` random lines
(5 % margin, 2 to 40 lines, 150 seeds each: P from about 10 to 700). The truth the
sampling term must cover is the ℓ̄ the same measurement reads on the same mask with
4000 random lines (line sampling is all this term is about). Coverage (%) and the
median width ``hi / lo`` per band of P and per number of lines, and the share of
intervals without an upper end.
The package's ``grid`` pattern (``grid``: n horizontal and n vertical lines, n = 2 to
20) is checked alike on fields cut from the same six masks: ``GRID_CROPS`` squares of
128 and 256 px at random places per mask (P from about 5 to 900), its truth the ℓ̄ of
a grid line through every pixel row and column of the same field. Its lines all have
the same length and parallel lines a few pixels apart see the same grains, so the
between-line scatter alone can miss (``r = 0`` when all counts agree: recorded as
``fields_with_r_0``).
The package's whole mask-mode interval (sampling with the pixel term,
:func:`napari_srmat.grainsize.intercept_interval`) is also checked against the
structure's isotropic ℓ̄ (``whole_vs_isotropic``), which adds the thinned mask's own
bias: the grain changes along ``ISOTROPIC_LINES`` random lines on the generator's
continuous structure (``_common.continuous_crossings``, as in
studies/heyn_thinned_mask_bias.py). Before the rerun at the third-grain rule (aeb8d59)
that truth was the generator's ``mean_intercept_px`` (rows and columns of the label
image, 1.5-4.4 % above the isotropic ℓ̄ on these six structures; still recorded per
structure).
Quoted in docs/heyn.md ("Counting rules against the standards") and docs/grain_size.md
("The 95 % interval").

    PYTHONPATH=src python studies/heyn_interval_coverage.py   # ~6 CPU-min

Writes studies/results/heyn_interval_coverage.json.
"""

from __future__ import annotations

import math

import numpy as np
from _common import continuous_crossings, save

SHAPE = (384, 384)
SPACINGS = (20, 40)
STRUCTURE_SEEDS = (0, 1, 2)
N_LINES = (2, 3, 5, 8, 12, 20, 40)
TRIALS = 150
REFERENCE_LINES = 4000
ISOTROPIC_LINES = 1000
BANDS = ((0, 25), (25, 50), (50, 100), (100, 200), (200, math.inf))
GRID_N_LINES = (2, 3, 5, 8, 12, 20)
GRID_SIDES = (128, 256)
GRID_CROPS = 80
GRID_SEED = 7
RULES = ("step_at_50", "symmetric", "inverted", "inverted_poisson", "counting_normal",
         "counting_hypot", "counting_floor", "package")


def _poisson(p: float) -> tuple[float, float]:
    """``ln(P / μ_lo)`` style log half-widths of the exact (Garwood) Poisson interval."""
    from scipy.special import gammaincinv

    if p <= 0:
        return math.inf, math.inf
    mu_lo = float(gammaincinv(p, 0.025))
    mu_hi = float(gammaincinv(p + 1.0, 0.975))
    return math.log(mu_hi / p), (math.log(p / mu_lo) if mu_lo > 0 else math.inf)


def _inverted(r: float) -> tuple[float, float]:
    return math.log1p(r), (-math.log1p(-r) if r < 1 else math.inf)


def _terms(rule: str, r: float, p: float, n: int) -> tuple[float, float]:
    """(low, high) log half-widths of one rule (``n`` lines, count ``p``)."""
    from napari_srmat.grainsize import counting_half, sampling_log_terms

    if rule == "package":
        return sampling_log_terms(r, count=p, n_lines=n)
    if rule == "counting_normal":
        return _inverted(math.hypot(r, 1.96 * math.sqrt(n / 12) / p))
    if rule == "counting_hypot":
        return _inverted(math.hypot(r, counting_half(p, n)))
    if rule == "counting_floor":
        return _inverted(max(r, counting_half(p, n)))
    if rule == "symmetric" or (rule == "step_at_50" and p >= 50):
        return r, r
    lo, hi = _inverted(r)
    if rule == "inverted":
        return lo, hi
    plo, phi = _poisson(p)
    return max(lo, plo), max(hi, phi)


def _row(res, n: int, reference: float) -> dict | None:
    """One field's intervals by every rule (``None`` without an interval)."""
    ell, p = res.mean_intercept_px, res.intersection_count
    if ell is None or not math.isfinite(res.relative_accuracy_pct):
        return None
    r = res.relative_accuracy_pct / 100
    row = {"n_lines": n, "count": p, "r": r}
    for rule in RULES:
        lo, hi = _terms(rule, r, p, res.n_lines)
        row[rule] = (ell * math.exp(-lo), ell * math.exp(hi), reference)
    return row


def _fields(mask: np.ndarray, reference: float, truth: float) -> list[dict]:
    from napari_srmat.grainsize import intercept_interval
    from napari_srmat.metrics.heyn import measure_intercepts

    out = []
    for n in N_LINES:
        for trial in range(TRIALS):
            res = measure_intercepts(mask, pattern="random", n_lines=n, seed=1000 + trial)
            row = _row(res, n, reference)
            if row is None:
                continue
            whole, _ = intercept_interval(
                res.mean_intercept_px, sampling_half_px=res.ci95_half_width_px,
                intersection_count=res.intersection_count, n_lines=res.n_lines)
            row["whole_vs_isotropic"] = (*whole, truth)
            out.append(row)
    return out


def grid_fields(mask: np.ndarray, rng: np.random.Generator) -> list[dict]:
    """Grid fields: squares cut at random places, n + n grid lines each, against a grid
    line through every pixel row and column of the same square."""
    from napari_srmat.metrics.heyn import measure_intercepts

    out = []
    for side in GRID_SIDES:
        for _ in range(GRID_CROPS):
            y, x = (int(v) for v in rng.integers(0, mask.shape[0] - side + 1, 2))
            field = mask[y:y + side, x:x + side]
            dense = measure_intercepts(field, pattern="grid", n_lines=side).mean_intercept_px
            if dense is None:
                continue
            for n in GRID_N_LINES:
                row = _row(measure_intercepts(field, pattern="grid", n_lines=n), n, dense)
                if row is not None:
                    out.append({**row, "side": side})
    return out


def _summary(rows: list[dict], key: str, n_lines=N_LINES, per: str = "lines") -> dict:
    """Coverage (%), median width hi/lo (finite ones) and % without an upper end."""
    def one(sel):
        ivs = [r[key] for r in sel]
        cover = [lo <= t <= hi for lo, hi, t in ivs]
        width = [hi / lo for lo, hi, _ in ivs if math.isfinite(hi)]
        return {"n": len(sel), "coverage_pct": round(100 * float(np.mean(cover)), 1),
                "median_width": round(float(np.median(width)), 3) if width else None,
                "no_upper_end_pct": round(100 * (1 - len(width) / len(sel)), 1)}

    out = {"all": one(rows)}
    for a, b in BANDS:
        sel = [r for r in rows if a <= r["count"] < b]
        if sel:
            out[f"P {a}-{b}"] = one(sel)
    for n in n_lines:
        out[f"{n} {per}"] = one([r for r in rows if r["n_lines"] == n])
    return out


def main() -> None:
    from napari_srmat.metrics.heyn import _skeletonize, measure_intercepts
    from napari_srmat.synth import generate_microstructure

    rows = []
    grid = []
    structures = []
    rng = np.random.default_rng(GRID_SEED)
    for h in SPACINGS:
        for s in STRUCTURE_SEEDS:
            ms = generate_microstructure(SHAPE, mean_grain_size_px=h, seed=s, rgb=False)
            mask = _skeletonize(np.asarray(ms.boundaries, bool))
            ref = measure_intercepts(mask, pattern="random", n_lines=REFERENCE_LINES, seed=99)
            length, changes = continuous_crossings(
                ms, measure_intercepts(mask, pattern="random", n_lines=ISOTROPIC_LINES,
                                       seed=98).paths)
            structures.append({"spacing_px": h, "seed": s,
                               "true_mean_intercept_px": round(ms.mean_intercept_px, 3),
                               "isotropic_mean_intercept_px": round(length / changes, 3),
                               "reference_mean_intercept_px": round(ref.mean_intercept_px, 3)})
            rows += _fields(mask, ref.mean_intercept_px, length / changes)
            grid += grid_fields(mask, rng)
    summary = {key: _summary(rows, key) for key in (*RULES, "whole_vs_isotropic")}
    summary["fields_with_r_0"] = sum(r["r"] == 0 for r in rows)
    grid_summary = {key: _summary(grid, key, GRID_N_LINES, "per axis") for key in RULES}
    grid_summary["fields_with_r_0"] = {
        "all": sum(r["r"] == 0 for r in grid),
        **{f"{n} per axis": sum(r["r"] == 0 for r in grid if r["n_lines"] == n)
           for n in GRID_N_LINES}}
    for name, summ in (("random", summary), ("grid", grid_summary)):
        for key in RULES + (("whole_vs_isotropic",) if name == "random" else ()):
            print(name, key, summ[key]["all"], {k: (v["coverage_pct"], v["median_width"])
                                                for k, v in summ[key].items() if k != "all"})
        print(name, "fields with r = 0:", summ["fields_with_r_0"])
    save("heyn_interval_coverage", {"structures": structures, "n_fields": len(rows),
                                    "summary": summary, "n_grid_fields": len(grid),
                                    "grid_summary": grid_summary})


if __name__ == "__main__":
    from _common import no_options

    no_options(__doc__)
    main()
