"""Make the figures of docs/standards.md from synthetic grain maps.

    python scripts/make_standards_figures.py

Writes ``docs/images/standards_methods.png`` (the counting rules: planimetric classes,
intercept crossings and triple points, anisotropy, twins, exclusions) and
``docs/images/standards_distributions.png`` (intercept and area histograms of a duplex
field, drawn by :func:`napari_srmat.metrics.distributions.distributions_figure`).
Everything is drawn with ``matplotlib.figure.Figure`` (no pyplot).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from napari_srmat.metrics.distributions import distributions_figure
from napari_srmat.metrics.grainmap import boundaries_from_labels, grains_from_boundaries
from napari_srmat.metrics.heyn import make_pattern, measure_intercepts
from napari_srmat.metrics.planimetric import planimetric
from napari_srmat.metrics.standards import measure_field
from napari_srmat.synth import generate_microstructure

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"
CLEAN = dict(texture=0, scratches=0, noise=0, blur=0, inclusions=0)


def _synth(shape, h, seed, bw=1):
    return generate_microstructure(shape, mean_grain_size_px=h, seed=seed, boundary_width=bw,
                                   **CLEAN)


def _show_mask(ax, mask, title):
    ax.imshow(~mask, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def panel_planimetric(ax):
    ms = _synth((160, 200), 26, 3)
    r = planimetric(ms.boundaries, rule="iso643")
    cls = np.zeros(r.labels.max() + 1, np.int64)
    cls[r.inside] = 1
    cls[r.edge] = 2
    cls[r.corner] = 3
    img = cls[r.labels]
    img[ms.boundaries] = 0
    cmap = ListedColormap(["#222222", "#9ecae1", "#fdae6b", "#e6550d"])
    ax.imshow(img, cmap=cmap, vmin=0, vmax=3, interpolation="nearest")
    ax.set_title(f"(a) planimetric: {r.n_grains_inside} inside (1), "
                 f"{r.n_grains_edge - r.n_grains_corner} edge (½),\n"
                 f"{r.n_grains_corner} corner (¼, ISO 643) → N = {r.n_equivalent:g}",
                 fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def panel_intercepts(ax):
    ms = _synth((160, 200), 26, 4)
    r = measure_intercepts(ms.boundaries, pattern="grid", n_lines=6, triple_points=True)
    _show_mask(ax, ms.boundaries, "")
    for p in r.paths:
        ax.plot(p[:, 1], p[:, 0], color="#3182bd", lw=0.8)
    pts = np.asarray(r.intersections)
    tp = r.intersection_is_triple
    ax.plot(pts[~tp, 1], pts[~tp, 0], "o", ms=3, color="#31a354")
    ax.plot(pts[tp, 1], pts[tp, 0], "s", ms=4, color="#e6550d")
    ax.set_title(f"(b) intercept grid: P = {r.intersection_count:g} "
                 f"({r.n_intersections} crossings,\n{r.n_triple_points} at triple points × 1.5), "
                 f"N = {r.intercept_count:g} intercepts", fontsize=9)


def panel_anisotropy(ax):
    ms = _synth((100, 100), 20, 5)
    lab = np.repeat(ms.labels, 2, axis=1)
    b = boundaries_from_labels(lab)
    r = measure_intercepts(b, pattern="grid", n_lines=40)
    _show_mask(ax, b, "")
    paths, _ = make_pattern(b.shape, "grid", n_lines=5)
    for p in paths:
        ax.plot(p[:, 1], p[:, 0], color="#3182bd", lw=0.8)
    by = r.mean_intercept_by_direction_px
    ax.set_title(f"(c) grains stretched 2× along x: ℓ̄ 0° = {by['0']:.1f} px,\n"
                 f"ℓ̄ 90° = {by['90']:.1f} px, anisotropy index {r.anisotropy_index:.2f}",
                 fontsize=9)


def panel_twins(ax):
    ms = _synth((160, 200), 30, 6)
    lab = ms.labels
    ids, counts = np.unique(lab, return_counts=True)
    border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    keep = ~np.isin(ids, border)
    tw = np.zeros(lab.shape, bool)
    for g in ids[keep][np.argsort(counts[keep])[::-1][:6]]:
        rr, cc = np.nonzero(lab == g)
        # a slanted twin through the grain's centre
        r0, c0 = rr.mean(), cc.mean()
        t = np.linspace(-40, 40, 400)
        r_ = np.round(r0 + 0.5 * t).astype(int)
        c_ = np.round(c0 + t).astype(int)
        ok = (r_ >= 0) & (r_ < lab.shape[0]) & (c_ >= 0) & (c_ < lab.shape[1])
        r_, c_ = r_[ok], c_[ok]
        inside = (lab[r_, c_] == g) & ~ms.boundaries[r_, c_]
        tw[r_[inside], c_[inside]] = True
    with_twins = ms.boundaries | tw
    n_with = planimetric(with_twins, twins=tw, exclude_twins=False).n_equivalent
    p = planimetric(with_twins, twins=tw)
    rng = np.random.default_rng(0)
    colours = rng.uniform(0.35, 0.95, (p.labels.max() + 1, 3))
    img = colours[p.labels]
    img[ms.boundaries] = 0.1
    img[tw] = (0.85, 0.1, 0.1)
    ax.imshow(img, interpolation="nearest")
    ax.set_title(f"(d) twins (red) excluded: {p.n_twins_merged} twinned grains count once,\n"
                 f"N = {p.n_equivalent:g} (counted as grains: {n_with:g})", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def panel_exclusion(ax):
    ms = _synth((160, 200), 26, 7)
    ex = np.zeros(ms.boundaries.shape, bool)
    yy, xx = np.mgrid[:160, :200]
    ex |= (yy - 60) ** 2 + (xx - 70) ** 2 < 28**2  # an inclusion
    ex |= np.abs((yy - 0.35 * xx) - 110) < 3  # a scratch
    r = measure_intercepts(ms.boundaries, pattern="grid", n_lines=6, exclusion=ex)
    p = planimetric(ms.boundaries, exclusion=ex)
    _show_mask(ax, ms.boundaries, "")
    ax.imshow(np.ma.masked_where(~ex, ex), cmap=ListedColormap(["#756bb1"]), alpha=0.6,
              interpolation="nearest")
    paths, _ = make_pattern(ms.boundaries.shape, "grid", n_lines=6)
    for path in paths:
        a, b = path
        n = int(max(abs(b - a))) + 1
        rr = np.round(np.linspace(a[0], b[0], n)).astype(int)
        cc = np.round(np.linspace(a[1], b[1], n)).astype(int)
        vis = np.where(ex[rr, cc], np.nan, 1.0)
        ax.plot(cc * vis, rr * vis, color="#3182bd", lw=0.8)
    frac = r.excluded_length_px / (r.excluded_length_px + r.total_length_px)
    ax.set_title(f"(e) exclusions (purple): {100 * frac:.0f}% of the line length and\n"
                 f"{100 * (1 - p.measured_area_px / ex.size):.0f}% of the area not measured",
                 fontsize=9)


def panel_field(ax):
    ms = _synth((160, 200), 26, 3)
    r = planimetric(ms.boundaries, margin=0.15)
    g = grains_from_boundaries(ms.boundaries)
    cls = np.ones(g.max() + 1, np.int64)  # 1: outside the field
    cls[r.inside] = 2
    cls[r.edge] = 3
    img = cls[g]
    img[ms.boundaries] = 0
    ax.imshow(img, cmap=ListedColormap(["#222222", "#8c8c8c", "#9ecae1", "#fdae6b"]),
              vmin=0, vmax=3, interpolation="nearest")
    h, w = g.shape
    r0, c0 = round(0.15 * h), round(0.15 * w)
    ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), w - 2 * c0, h - 2 * r0, fill=False,
                           ec="#e6550d", lw=1.5))
    e1382 = planimetric(ms.boundaries, margin=0.15, rule="e1382")
    ax.set_title(f"(f) field rectangle (15 % margin): E112 N_A = "
                 f"{1e4 * r.grains_per_px2:.2f},\nE1382 (edge grains and their area out) "
                 f"{1e4 * e1382.grains_per_px2:.2f} per 10⁴ px²", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(12, 7.6), layout="constrained")
    axes = fig.subplots(2, 3)
    panel_planimetric(axes[0, 0])
    panel_intercepts(axes[0, 1])
    panel_anisotropy(axes[0, 2])
    panel_twins(axes[1, 0])
    panel_exclusion(axes[1, 1])
    panel_field(axes[1, 2])
    path = OUT / "standards_methods.png"
    fig.savefig(path, dpi=110)
    print(path)

    fine = _synth((384, 256), 12, 1).labels
    coarse = _synth((384, 256), 48, 11).labels
    lab = np.concatenate([fine, coarse + fine.max() + 1], axis=1)
    field = measure_field(boundaries_from_labels(lab), pixel_size_um=0.5, n_lines=30)
    fig2 = distributions_figure(
        field, title="duplex field (fine left half, coarse right half): "
        f"E1181 test bimodal = {field['duplex']['bimodal']}"
    )
    path2 = OUT / "standards_distributions.png"
    fig2.savefig(path2, dpi=110)
    print(path2)


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()  # --help
    main()
