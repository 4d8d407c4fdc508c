"""Is the passage rule of ``metrics.heyn`` (dacffc6, 6fe6690) right on curved and wiggly
boundaries?

dacffc6 joins the touches of one passage of a tilted test line along a thinned boundary
(the weave of a digital line across a straight boundary's staircase) unless a touch leads
into a grain the passage has not visited. On straight-edged synthetic Voronoi maps it
moved the E112-scored ℓ̄ bias from −1.1 / −1.6 % to −0.2 / −0.3 % (20 / 40 px grains),
but on the six hand-drawn tbm/val masks it lengthens ℓ̄ by +3.0 to +4.9 %: is that a
weave counted once (right) or a wiggly boundary crossed several times read as one
crossing (wrong)?

Structures with an exact continuous truth, each a label function of real ``(y, x)``
(seeds: random sequential adsorption, at least ``HARD_CORE`` grain sizes apart, over the
map and a margin around it):

* ``straight``: Voronoi, straight edges (control);
* ``curved``: multiplicatively weighted Voronoi (``argmin |p - s_i| / w_i``, ``w_i``
  uniform in ``1 ± CURVED_WEIGHT_SPREAD``): Apollonius arcs, radii about twice the
  grain size;
* ``wiggle A λ``: Voronoi whose distance to each seed is perturbed by a smooth random
  field of its own (``√2 A g_i(p)``, ``g_i`` a sum of ``WIGGLE_WAVES`` plane waves of
  wavelength λ, random directions and phases, RMS 1), so each boundary is displaced
  normal to itself by about ``A`` px RMS with wavelength about λ: hand-drawn wiggle.

Each map is rasterised at pixel centres (pixel ``(r, c)`` is the point ``(r, c)``), its
boundary mask drawn ``w`` = 1, 3, 5 px wide by the synthetic generator's rule
(``synth.generator._boundary_from_padded``: a pixel whose ``(w + 1)``² window holds two
labels) and measured by the public path as the tbm masks are (``measure_intercepts(mask,
skeletonize=True, triple_points=...)``, the package's default random pattern:
``HEYN_N_LINES`` lines, seed ``HEYN_SEED``, margin ``HEYN_MARGIN``). The truth per line is
the number of label changes of the continuous structure sampled every ``STEP_PX`` along
it (``TRUTH_CHECK_STEP_PX`` checks that it has converged). Counted with the module as it
was at ``dacffc6^`` (``old``) and at 6fe6690 (``new``, the passage rule as shipped), both
loaded from ``git show``, on the same lines (and the working tree's, ``current``, where it
differs from ``new``; the JSON's ``arms`` names its HEAD commit). Reported per structure,
grain size, width: ``(truth ΣP / measured ΣP − 1)`` in %, i.e. the measured ℓ̄'s bias
against the truth's on the same ΣL, for E112's P (``e112``) and the run count
(``runs``), pooled over ``SEEDS``.

Expectations (written before the first run; ``E1``..``E4`` in the JSON):

* E1 (control): on ``straight`` the new rule's E112 bias is nearer 0 than the old one's,
  pooled over grain sizes and widths.
* E2: on ``curved`` the same (arcs of radius ~2 grains are locally straight at the pixel
  scale).
* E3 (the reviewer's worry): on ``wiggle`` with A >= 1 px the new rule reads ℓ̄ long:
  its E112 bias, pooled over sizes, widths and λ, is above ``E3_LONG_PCT`` and farther
  from 0 than the old one's.
* E4: the new − old shift grows with the wiggle amplitude (A = 3 shift > A = 0.5 shift).

Decision (written before the first run): the new rule is *worse on realistic wiggle* when,
for a wiggle of amplitude in ``REALISTIC_AMPLITUDES_PX`` and either λ (pooled over sizes
and widths) that the old count resolves (``|bias_old| <= RESOLVED_OLD_BIAS_PCT``),
``|bias_new|`` exceeds ``|bias_old|`` by more than ``WORSE_MARGIN_POINTS``; then a rule
that keeps the weave fix and counts resolvable wiggle crossings is looked for. (A pilot
map, 15 px grains, A 2 px, λ 8 px, width 3, before this rule was written: truth 3097
changes, old 2180, new 2114 E112 P: such a wiggle is beyond the pixel count, and either
rule's bias there says nothing of the rule.)

    PYTHONPATH=src python studies/heyn_wiggly_boundaries.py   # ~5 CPU-min

Writes studies/results/heyn_wiggly_boundaries.json.
"""

from __future__ import annotations

import importlib.util
import itertools
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import numpy as np
from _common import ROOT, save

#: The counting compared: before the passage rule (``old``) and with it as 6fe6690 left
#: it (``new``); ``current``, the module of the working tree, is counted too where it
#: differs from ``new`` (a later rule).
ARM_REVISIONS = {"old": "dacffc6^", "new": "6fe6690"}
#: Side (px) of the square maps.
SIDE_PX = 400
#: Grain sizes (px): mean seed spacing, ``side² / h²`` seeds.
SIZES_PX = (15, 30, 60)
#: Boundary widths (px) drawn before thinning.
WIDTHS_PX = (1, 3, 5)
#: Maps per structure and size.
SEEDS = (0, 1)
#: Least seed distance, in grain sizes.
HARD_CORE = 0.6
#: Seeds are laid over the map and this many grain sizes around it.
SEED_MARGIN_GRAINS = 2.0
#: Multiplicative weights of ``curved``: uniform in 1 ± this.
CURVED_WEIGHT_SPREAD = 0.25
#: Wiggle amplitudes (px RMS normal displacement) and wavelengths (px).
AMPLITUDES_PX = (0.5, 1.0, 2.0, 3.0)
WAVELENGTHS_PX = (8.0, 24.0)
#: Plane waves per seed's perturbing field.
WIGGLE_WAVES = 6
#: Nearest seeds among which each point's label is sought (enough for the weights and
#: perturbations above: a farther seed is at least 1.3 x the nearest's distance).
CANDIDATES = 12
#: Truth sampling step along each line (px) and the finer step of its convergence check
#: (the first map of each structure).
STEP_PX = 0.05
TRUTH_CHECK_STEP_PX = 0.02
#: Points labelled per batch.
BATCH = 200_000
#: E3: the new rule's pooled E112 bias (%) on wiggle of A >= 1 px above this.
E3_LONG_PCT = 1.0
#: Decision: realistic hand-drawn wiggle, the margin (points of %) of "worse", and the
#: largest |old bias| (%) of a wiggle the pixel count resolves at all.
REALISTIC_AMPLITUDES_PX = (1.0, 2.0)
WORSE_MARGIN_POINTS = 0.5
RESOLVED_OLD_BIAS_PCT = 5.0


class Structure:
    """A grain structure as a label function of real points.

    Parameters
    ----------
    kind : str
        ``"straight"``, ``"curved"`` or ``"wiggle"``.
    h : float
        Grain size (mean seed spacing, px).
    seed : int
        Random seed of the seeds, weights and fields.
    amplitude, wavelength : float
        Wiggle amplitude and wavelength (px), ``"wiggle"`` only.
    """

    def __init__(self, kind: str, h: float, seed: int, amplitude: float = 0.0,
                 wavelength: float = 1.0) -> None:
        from scipy.spatial import cKDTree

        rng = np.random.default_rng([seed, int(h), int(10 * amplitude), int(wavelength)])
        lo, hi = -SEED_MARGIN_GRAINS * h, SIDE_PX + SEED_MARGIN_GRAINS * h
        n = int(round(((hi - lo) / h) ** 2))
        pts = np.empty((n, 2))
        m, dmin = 0, HARD_CORE * h
        while m < n:  # random sequential adsorption
            p = rng.uniform(lo, hi, 2)
            if m == 0 or np.min(np.hypot(*(pts[:m] - p).T)) >= dmin:
                pts[m], m = p, m + 1
        self.kind, self.seeds, self.tree = kind, pts, cKDTree(pts)
        self.weights = rng.uniform(1 - CURVED_WEIGHT_SPREAD, 1 + CURVED_WEIGHT_SPREAD, n)
        ang = rng.uniform(0, np.pi, (n, WIGGLE_WAVES))
        k = 2 * np.pi / wavelength
        self.waves = k * np.stack([np.cos(ang), np.sin(ang)], -1)  # (n, M, 2)
        self.phases = rng.uniform(0, 2 * np.pi, (n, WIGGLE_WAVES))
        self.amplitude = amplitude

    def labels(self, pts: np.ndarray) -> np.ndarray:
        """Seed index of each point of ``pts`` ``(N, 2)`` (``(y, x)``, px)."""
        out = np.empty(len(pts), np.int64)
        for a in range(0, len(pts), BATCH):
            p = pts[a:a + BATCH]
            d, idx = self.tree.query(p, k=CANDIDATES)
            if self.kind == "curved":
                d = d / self.weights[idx]
            elif self.kind == "wiggle":
                arg = np.einsum("nkmj,nj->nkm", self.waves[idx], p) + self.phases[idx]
                g = np.sqrt(2.0 / WIGGLE_WAVES) * np.cos(arg).sum(-1)
                d = d + np.sqrt(2.0) * self.amplitude * g
            out[a:a + BATCH] = idx[np.arange(len(p)), np.argmin(d, 1)]
        return out

    def raster(self) -> np.ndarray:
        """Labels at the pixel centres of the ``SIDE_PX``² map."""
        yy, xx = np.mgrid[0:SIDE_PX, 0:SIDE_PX]
        return self.labels(np.column_stack([yy.ravel(), xx.ravel()]).astype(float)
                           ).reshape(SIDE_PX, SIDE_PX)

    def changes(self, paths: list[np.ndarray], step: float = STEP_PX) -> int:
        """Label changes along the straight lines ``paths`` sampled every ``step`` px."""
        count = 0
        for path in paths:
            a, b = np.asarray(path[0], float), np.asarray(path[-1], float)
            t = np.linspace(0.0, 1.0, max(2, int(np.hypot(*(b - a)) / step) + 1))
            lab = self.labels(a + t[:, None] * (b - a))
            count += int((lab[1:] != lab[:-1]).sum())
        return count


def boundary_mask(lab: np.ndarray, width: int) -> np.ndarray:
    """The generator's boundary mask of ``width`` px on a label image (edge-padded)."""
    from napari_srmat.synth.generator import _boundary_from_padded, _window

    lo, hi = _window(width)
    return _boundary_from_padded(np.pad(lab, ((lo, hi), (lo, hi)), mode="edge"), width)


HEYN_PATH = "src/napari_srmat/metrics/heyn.py"


def module_at(arm: str, rev: str) -> tuple[ModuleType, str]:
    """``metrics.heyn`` as it was at ``rev`` and its source (its relative imports are the
    package's as it is: only the counting differs)."""
    src = subprocess.run(["git", "show", f"{rev}:{HEYN_PATH}"],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return module_from_source(arm, src), src


def module_from_source(arm: str, src: str) -> ModuleType:
    """A ``metrics.heyn`` of source ``src`` loaded as ``napari_srmat.metrics._heyn_<arm>``
    (its relative imports are the package's)."""
    path = Path(tempfile.mkdtemp()) / f"heyn_{arm}.py"
    path.write_text(src, encoding="utf-8")
    name = f"napari_srmat.metrics._heyn_{arm}"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def working_tree() -> str:
    """What the ``current`` arm counted: the working tree at its ``HEAD`` commit (and
    whether its ``metrics/heyn.py`` differed from that commit's), so that a result file
    names the rule it measured after the rule has changed again."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short=7", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run([*git, "diff", "--quiet", "HEAD", "--", HEYN_PATH]).returncode
    return f"working tree at {head}" + (f" ({HEYN_PATH} modified)" if dirty else "")


def arms() -> dict[str, ModuleType]:
    """The modules counted, by arm (``ARM_REVISIONS``, and ``current`` where it differs)."""
    import napari_srmat.metrics.heyn as current

    out, sources = {}, {}
    for arm, rev in ARM_REVISIONS.items():
        out[arm], sources[arm] = module_at(arm, rev)
    if (ROOT / HEYN_PATH).read_text() != sources["new"]:
        out["current"] = current
    return out


def structures() -> list[tuple[str, str, float, float]]:
    """(name, kind, amplitude, wavelength) of every structure."""
    out = [("straight", "straight", 0.0, 1.0), ("curved", "curved", 0.0, 1.0)]
    out += [(f"wiggle A{a:g} λ{lam:g}", "wiggle", a, lam)
            for a, lam in itertools.product(AMPLITUDES_PX, WAVELENGTHS_PX)]
    return out


def bias(rows: list[dict], key: str) -> float:
    """Pooled ``(truth ΣP / ΣP − 1)`` in % of ``rows``' ``key`` count."""
    return round(100 * (sum(r["truth"] for r in rows) / sum(r[key] for r in rows) - 1), 2)


COUNTS = ("e112", "runs")


def summarise(rows: list[dict], names: tuple[str, ...]) -> dict:
    """Pooled biases (arms ``names``) per structure, size and width, per structure, and
    per kind and width."""
    keys = [f"{c}_{a}" for c in COUNTS for a in names]

    def group(sel: list[dict]) -> dict:
        return {**{f"{k}_bias_pct": bias(sel, k) for k in keys},
                "truth": sum(r["truth"] for r in sel)}

    out: dict = {"by_structure_size_width": {}, "by_structure": {}, "by_width": {}}
    for name, *_ in structures():
        sel = [r for r in rows if r["structure"] == name]
        out["by_structure"][name] = group(sel)
        for h, w in itertools.product(SIZES_PX, WIDTHS_PX):
            out["by_structure_size_width"][f"{name}, {h} px, width {w}"] = group(
                [r for r in sel if r["grain_px"] == h and r["width_px"] == w])
    for kind in ("straight", "curved", "wiggle"):
        for w in WIDTHS_PX:
            out["by_width"][f"{kind}, width {w}"] = group(
                [r for r in rows if r["kind"] == kind and r["width_px"] == w])
    return out


def expectations(rows: list[dict]) -> dict:
    """E1-E4 and the decision, read from ``rows``."""
    def sel(pred) -> list[dict]:
        return [r for r in rows if pred(r)]

    def nearer(group: list[dict]) -> bool:
        return abs(bias(group, "e112_new")) < abs(bias(group, "e112_old"))

    wig = sel(lambda r: r["kind"] == "wiggle" and r["amplitude_px"] >= 1)
    a3 = sel(lambda r: r["kind"] == "wiggle" and r["amplitude_px"] == max(AMPLITUDES_PX))
    a05 = sel(lambda r: r["kind"] == "wiggle" and r["amplitude_px"] == min(AMPLITUDES_PX))
    shift = {name: round(bias(g, "e112_new") - bias(g, "e112_old"), 2)
             for name, g in (("A3", a3), ("A0.5", a05))}
    per = {}
    for amp, lam in itertools.product(REALISTIC_AMPLITUDES_PX, WAVELENGTHS_PX):
        g = sel(lambda r, a=amp, q=lam: r["kind"] == "wiggle" and r["amplitude_px"] == a
                and r["wavelength_px"] == q)
        per[f"A{amp:g} λ{lam:g}"] = {
            "resolved": abs(bias(g, "e112_old")) <= RESOLVED_OLD_BIAS_PCT,
            "abs_new_minus_abs_old_points": round(
                abs(bias(g, "e112_new")) - abs(bias(g, "e112_old")), 2)}
    worse = any(v["resolved"] and v["abs_new_minus_abs_old_points"] > WORSE_MARGIN_POINTS
                for v in per.values())
    return {
        "E1_straight_new_nearer": nearer(sel(lambda r: r["kind"] == "straight")),
        "E2_curved_new_nearer": nearer(sel(lambda r: r["kind"] == "curved")),
        "E3_wiggle_new_long": bool(bias(wig, "e112_new") > E3_LONG_PCT and not nearer(wig)),
        "E3_wiggle_e112_new_old_pct": [bias(wig, "e112_new"), bias(wig, "e112_old")],
        "E4_shift_grows": bool(shift["A3"] > shift["A0.5"]),
        "E4_shift_points": shift,
        "decision_realistic_wiggle": per,
        "decision_new_worse_on_realistic_wiggle": bool(worse),
    }


def truth_convergence(st: Structure, paths: list[np.ndarray], count: int) -> dict:
    """The truth at ``STEP_PX`` against ``TRUTH_CHECK_STEP_PX`` on the same lines."""
    return {"step": count, "finer_step": st.changes(paths, TRUTH_CHECK_STEP_PX)}


def main() -> None:
    mods = arms()
    rows, convergence = [], {}
    for (name, kind, amp, lam), h, s in itertools.product(structures(), SIZES_PX, SEEDS):
        st = Structure(kind, h, s, amp, lam)
        lab = st.raster()
        truth, paths = None, None
        for w in WIDTHS_PX:
            mask = boundary_mask(lab, w)
            row = {"structure": name, "kind": kind, "amplitude_px": amp, "wavelength_px": lam,
                   "grain_px": h, "seed": s, "width_px": w}
            for arm, mod in mods.items():
                r = mod.measure_intercepts(mask, skeletonize=True, triple_points=True)
                row[f"e112_{arm}"] = float(r.intersection_count)
                row[f"runs_{arm}"] = int(r.n_intersections)
                row["length_px"] = float(r.total_length_px)
                paths = r.paths
            if truth is None:
                truth = st.changes(paths)
                if s == SEEDS[0] and h == SIZES_PX[0]:
                    convergence[name] = truth_convergence(st, paths, truth)
            row["truth"] = truth
            rows.append(row)
        print(name, h, s, {k: v for k, v in rows[-1].items() if k[:4] in ("e112", "trut")},
              flush=True)
    summary = summarise(rows, tuple(mods))
    checks = expectations(rows)
    for k, v in summary["by_structure"].items():
        print(f"{k:18s}", v)
    for k, v in summary["by_width"].items():
        print(f"{k:18s}", v)
    print(checks)
    save("heyn_wiggly_boundaries", {
        "side_px": SIDE_PX, "sizes_px": SIZES_PX, "widths_px": WIDTHS_PX, "seeds": SEEDS,
        "amplitudes_px": AMPLITUDES_PX, "wavelengths_px": WAVELENGTHS_PX,
        "step_px": STEP_PX, "truth_convergence": convergence,
        "arms": {arm: ARM_REVISIONS.get(arm, working_tree()) for arm in mods},
        "expectations": checks, "summary": summary, "rows": rows})


if __name__ == "__main__":
    from _common import no_options

    no_options(__doc__)
    main()
