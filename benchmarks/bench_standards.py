"""Accuracy of the standards-conformant measurement on synthetic grain maps.

Prints one JSON object (and writes it with ``--out``) with the numbers quoted in
docs/standards.md:

* ``planimetric``: N_A from the boundary mask vs the exact Jeffries count of the label
  map (grains of >= 25 px, and all pieces), and the label-map count vs the true grain
  density of a window of a larger structure;
* ``intercept``: ℓ̄ error against the exact ℓ̄ of the label map, counting runs vs the E112
  triple-point rule, for boundary widths 1-3;
* ``anisotropy``: index of grains stretched 2x;
* ``twins``: grains and crossings changed by excluded twin masks of 1, 3 and 5 px;
* ``duplex``: decisions of the E1181 test on duplex maps and unimodal data, and of a
  two-component-only rule for comparison;
* ``timing``: CPU seconds of the main calls.

Usage::

    python benchmarks/bench_standards.py [--out benchmarks/bench_standards.json]
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
from scipy import ndimage as ndi
from skimage.measure import label as cc_label

from napari_srmat.metrics.distributions import duplex_test, fit_gaussian_mixture_1d
from napari_srmat.metrics.grainmap import boundaries_from_labels
from napari_srmat.metrics.heyn import measure_intercepts
from napari_srmat.metrics.planimetric import planimetric
from napari_srmat.metrics.standards import measure_field
from napari_srmat.synth import generate_microstructure, twin_traces

CLEAN = dict(texture=0, scratches=0, noise=0, blur=0, inclusions=0)


def synth(shape, h, seed, bw=1, **kw):
    return generate_microstructure(shape, mean_grain_size_px=h, seed=seed, boundary_width=bw,
                                   **{**CLEAN, **kw})


def exact_jeffries(labels, min_area=1):
    """E112-13's count of the image rectangle: inside 1, cut by the border 1/2, each image
    corner 1/4 for the piece holding it (not also 1/2)."""
    pieces = cc_label(labels + 1, background=0, connectivity=1)
    areas = np.bincount(pieces.ravel())
    border = np.zeros(areas.size, bool)
    border[np.concatenate([pieces[0], pieces[-1], pieces[:, 0], pieces[:, -1]])] = True
    ok = areas >= min_area
    ok[0] = False
    corners = [p for p in (pieces[0, 0], pieces[0, -1], pieces[-1, 0], pieces[-1, -1]) if ok[p]]
    n = (ok & ~border).sum() + 0.5 * ((ok & border).sum() - len(set(corners)))
    return (n + 0.25 * len(corners)) / labels.size


def pct(a, b):
    return round(100.0 * (a / b - 1.0), 2)


def bench_planimetric():
    out = {"mask_vs_label_jeffries_pct": {}, "mask_vs_label_all_pieces_pct": {},
           "label_vs_true_density_pct": []}
    for bw in (1, 2, 3):
        e25, eall = [], []
        for seed in range(4):
            ms = synth((512, 512), 24, seed, bw)
            na = planimetric(ms.boundaries).grains_per_px2
            e25.append(pct(na, exact_jeffries(ms.labels, 25)))
            eall.append(pct(na, exact_jeffries(ms.labels)))
        out["mask_vs_label_jeffries_pct"][f"bw{bw}"] = e25
        out["mask_vs_label_all_pieces_pct"][f"bw{bw}"] = eall
    H = 512
    for seed in range(3):
        big = synth((2 * H, 2 * H), 24, seed + 5, 2)
        win = (slice(H // 2, 3 * H // 2), slice(H // 2, 3 * H // 2))
        full = cc_label(big.labels + 1, background=0, connectivity=1)
        tot = np.bincount(full.ravel())
        inn = np.bincount(full[win].ravel(), minlength=tot.size)
        truth = (inn[1:] / tot[1:]).sum() / H**2
        row = {rule: pct(planimetric(labels=big.labels[win], rule=rule).grains_per_px2, truth)
               for rule in ("e112", "iso643", "e1382")}
        out["label_vs_true_density_pct"].append(row)
    return out


def bench_intercept():
    out = {}
    for bw in (1, 2, 3):
        rows = {"runs_random": [], "runs_grid": [], "e112_random": [], "e112_grid": []}
        for seed in (3, 4):
            ms = synth((768, 768), 32, seed, bw, curvature=0.05)
            for tp in (False, True):
                for pat in ("random", "grid"):
                    r = measure_intercepts(ms.boundaries, pattern=pat, n_lines=300, margin=0,
                                           triple_points=tp)
                    key = f"{'e112' if tp else 'runs'}_{pat}"
                    rows[key].append(pct(r.mean_intercept_px, ms.mean_intercept_px))
        out[f"bw{bw}_error_pct"] = rows
    return out


def bench_anisotropy():
    vals = []
    for seed in range(3):
        ms = synth((256, 256), 20, seed + 5)
        b = boundaries_from_labels(np.repeat(ms.labels, 2, axis=1))
        vals.append(round(measure_intercepts(b, pattern="grid", n_lines=80).anisotropy_index, 3))
    return {"stretched_2x_grid": vals}


def bench_twins():
    out = {}
    for width, it in (("1px", 0), ("3px", 1), ("5px", 2)):
        lost, dcross = [], []
        for seed in range(6, 12):
            ms = synth((320, 320), 24, seed, 1 + seed % 2)
            tw = twin_traces(ms.labels, ms.boundaries)
            painted = ndi.binary_dilation(tw, iterations=it) if it else tw
            ref = planimetric(ms.boundaries)
            p = planimetric(ms.boundaries | tw, twins=painted)
            lost.append(int(ref.n_grains_inside + ref.n_grains_edge
                            - p.n_grains_inside - p.n_grains_edge))
            a = measure_intercepts(ms.boundaries, pattern="grid", n_lines=60)
            b = measure_intercepts(ms.boundaries | tw, pattern="grid", n_lines=60, twins=painted)
            dcross.append(pct(b.n_intersections, a.n_intersections))
        out[width] = {"grains_lost_of_about_210": lost, "crossings_change_pct": dcross}
    return out


def two_component_rule(areas):
    """The plain rule for comparison: 2 Gaussians on log-area, ΔBIC > 10, Ashman's D >= 2."""
    x = np.log(np.asarray(areas, float))
    one, two = fit_gaussian_mixture_1d(x, 1), fit_gaussian_mixture_1d(x, 2)
    (m1, m2), (s1, s2) = two["means"], two["sds"]
    d = math.sqrt(2) * abs(m2 - m1) / math.sqrt(s1 * s1 + s2 * s2)
    return bool(one["bic"] - two["bic"] > 10 and d >= 2)


def bench_duplex():
    cases = []
    for wf, hc in ((256, 48), (192, 40), (128, 40), (256, 24), (384, 48), (448, 48)):
        for seed in (1, 2):
            fine = synth((384, wf), 12, seed).labels
            coarse = synth((384, 512 - wf), hc, seed + 10).labels
            lab = np.concatenate([fine, coarse + fine.max() + 1], axis=1)
            areas = planimetric(boundaries_from_labels(lab)).grain_areas_px2
            cases.append((f"duplex fine {wf} px | coarse h={hc} seed {seed}", True, areas))
    for sp in (0.0, 0.3, 0.6, 1.0):
        for seed in (4, 5):
            areas = planimetric(synth((512, 512), 20, seed, size_spread=sp).boundaries)
            cases.append((f"single size_spread={sp} seed {seed}", False, areas.grain_areas_px2))
    rng = np.random.default_rng(0)
    for name, a in (("lognormal", np.exp(rng.normal(5, 0.45, 600))),
                    ("gamma k=3", rng.gamma(3.0, 50.0, 600)),
                    ("exponential", rng.exponential(50.0, 600))):
        cases.append((name, False, a))
    rows = []
    for name, is_duplex, areas in cases:
        d = duplex_test(areas)
        coarse = d["populations"][1]["fraction"] if d["populations"] else None
        rows.append({"case": name, "duplex": is_duplex, "n": int(len(areas)),
                     "e1181_test": d["bimodal"], "two_component_rule": two_component_rule(areas),
                     "coarse_fraction": None if coarse is None else round(coarse, 3)})
    return rows


def bench_timing():
    tile = synth((2048, 2048), 32, 0).boundaries
    m = np.tile(tile, (2, 2))
    out = {}
    for name, kw in (("measure_intercepts_4096_random1000", {}),
                     ("measure_intercepts_4096_random1000_triple_points",
                      {"triple_points": True})):
        best = math.inf
        for _ in range(3):
            t = time.process_time()
            measure_intercepts(m, pattern="random", n_lines=1000, **kw)
            best = min(best, time.process_time() - t)
        out[name] = round(best, 3)
    t = time.process_time()
    planimetric(m[:2048, :2048])
    out["planimetric_2048"] = round(time.process_time() - t, 3)
    t = time.process_time()
    measure_field(m[:1024, :1024], pixel_size_um=0.5)
    out["measure_field_1024"] = round(time.process_time() - t, 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="also write the JSON here")
    args = ap.parse_args()
    res = {
        "planimetric": bench_planimetric(),
        "intercept": bench_intercept(),
        "anisotropy": bench_anisotropy(),
        "twins": bench_twins(),
        "duplex": bench_duplex(),
        "timing_cpu_s": bench_timing(),
    }
    text = json.dumps(res, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
