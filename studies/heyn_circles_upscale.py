"""Why do the three circles read ℓ̄ about 2 % long on ×4 bilinear / smooth upscales with
their scale given (``studies/heyn_mask_scale.py``) while random lines stay within 1 %?

The mask as in ``heyn_mask_scale.py`` (the first tbm mask of each train / val scan, 14,
never test, never scans 13, 24, 28; 256 px) and the same mask rolled by ``ROLLS`` (other
boundaries under the circles: 3 circles cross only about 54 boundaries a mask), upscaled
×4 three ways (``nearest``, ``bilinear``, ``smooth``; that study's ``upscale``), measured
with the scale given (``mask_scale=4``; ×1 ``mask_scale=1``), random lines (50, seed 1234)
and the three circles. Reported: the count change against ×1 in % of ×1's crossings,
pooled over the masks, ``-`` meaning ℓ̄ long, with its standard error over the
mask-rolls, and the pooled ℓ̄ change:

* ``own``: each scale's own default pattern, as ``heyn_mask_scale.py`` measures. The
  pattern's margin box is taken from pixel centres (``margin * (H - 1)``), so the ×4
  circles are not the ×1 circles upscaled: their radius is (4 H − 1) / (4 H − 4) times
  larger, +0.29 % at 256 px, other pixels under them (``per_mask_nearest``: the change
  per mask on the ×4 nearest upscale, which counts as ×1 on the same lines;
  ``own_on_x1``: the ×1 mask measured with the ×4 default pattern mapped back, the
  placement alone, ℓ̄ against the ×1 pattern's);
* ``paired``: the ×1 pattern mapped onto the ×4 pixels (``x * 4 + 1.5``, the middle of
  each pixel's block), ``metrics.heyn._measure_paths`` (the run count of
  ``measure_intercepts`` without E112's scoring): the rule, free of the sample;
* ``paired_no_passage``: the passage rule off at both scales (``MAX_HUG_GAP_PX = 0``):
  with the scale given the zig-zag bridge counts on 4 × 4 blocks, the passage rule
  (``_passage_merges``: a weave along a boundary is one crossing) on the pixels;
* ``paired_passage_xs``: a prototype of that rule on the blocks: at ×4 its fixed radii
  (``heyn_mask_scale.CONSTANTS``) times 4 and the boundary neighbours of the path
  (``_boundary_neighbours``: the hug, one boundary) within 4 px instead of 1
  (monkeypatched here, not in src);
* ``touches``: the runs of ``paired_no_passage`` that leave a band into the grain they
  entered it from (a line touching a band, E112's tangent hit, counted 1) and those
  that lead into another grain (4-connected grains of the mask measured), runs at a
  line end or through a circle's start left out.

Then on synthetic masks with an exact ℓ̄ (``SYNTH``: ``generate_microstructure``, 3 px
bands, 24 px grains, seeds 0-11, 256²), the same ×1 lines mapped onto each upscale: ℓ̄
measured (``paired``) over ℓ̄ of the generator's continuous structure along those lines
(``_common.continuous_crossings``' reading, every ``CONTINUOUS_STEP_PX`` along each
polygon side).

    PYTHONPATH=src OMP_NUM_THREADS=1 nice python studies/heyn_circles_upscale.py  # ~4 CPU-min

Writes studies/results/heyn_circles_upscale.json. Quoted in docs/heyn.md ("Upscaled masks").
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from unittest import mock

import numpy as np
from _common import CONTINUOUS_STEP_PX, save

S = 4
UPSCALES = ("nearest", "bilinear", "smooth")
PATTERNS = ("random", "circles")
#: (rows, columns) by which each mask is rolled: the original and three others.
ROLLS = ((0, 0), (37, 91), (101, 13), (173, 211))
SYNTH = {"shape": (256, 256), "mean_grain_size_px": 24, "boundary_width": 3}
SYNTH_SEEDS = range(12)


def patched(**values) -> AbstractContextManager:
    """``metrics.heyn``'s attributes set to ``values`` inside the block."""
    import napari_srmat.metrics.heyn as heyn

    return mock.patch.multiple(heyn, **values) if values else nullcontext()


def neighbours_within(s: int) -> Callable:
    """``_boundary_neighbours`` reaching ``s`` px (Chebyshev) instead of 1."""

    def neighbours(mask, r, c, centre=False):
        H, W = mask.shape
        for dr in range(-s, s + 1):
            for dc in range(-s, s + 1):
                if dr or dc or centre:
                    rr, cc = r + dr, c + dc
                    ok = np.flatnonzero((rr >= 0) & (rr < H) & (cc >= 0) & (cc < W))
                    ok = ok[mask[rr[ok], cc[ok]]]
                    yield ok, rr[ok] * W + cc[ok]

    return neighbours


def arm_patch(arm: str, s: int) -> dict:
    from heyn_mask_scale import CONSTANTS

    import napari_srmat.metrics.heyn as heyn

    if arm == "paired_no_passage":
        return {"MAX_HUG_GAP_PX": 0}
    if arm == "paired_passage_xs" and s > 1:
        return {
            **{n: round(getattr(heyn, n) * s) for n in CONSTANTS},
            "_boundary_neighbours": neighbours_within(s),
        }
    return {}


def tilted_of(paths) -> np.ndarray:
    return np.array([bool(np.all(np.diff(p, axis=0) != 0, axis=1).any()) for p in paths])


def runs(m: np.ndarray, paths, closed, s: int) -> tuple[float, int, int, int]:
    """(length / s, crossings, touches, runs between two grains) of ``paths`` on ``m``
    with the scale given (passage rule as patched)."""
    from scipy import ndimage as ndi

    import napari_srmat.metrics.heyn as heyn

    tilted = tilted_of(paths)
    tr = heyn._measure_paths(m, paths, closed, tilted, mask_scale=s)
    a, b, sp, valid, _ = heyn._segments_of(paths, m.shape)
    flat, offs, _ = heyn._raster_flat(a[valid], b[valid], sp[valid], len(paths), m.shape[1])
    grid = heyn._PIXEL_GRID if s == 1 else heyn._block_offsets(m, s)
    _, st, en, wrap, _ = heyn._runs_flat(m, flat, offs, closed, tilted, grid)
    lab = ndi.label(~m)[0].ravel()
    pid = np.searchsorted(offs, st, side="right") - 1
    inner = (st > offs[pid]) & (en < offs[pid + 1] - 1) & (wrap < 0)
    before = lab[flat[np.maximum(st - 1, 0)]]
    after = lab[flat[np.minimum(en + 1, flat.size - 1)]]
    touch = int((inner & (before == after)).sum())
    cross = int((inner & (before != after)).sum())
    return float(tr.lengths.sum()) / s, int(tr.counts.sum()), touch, cross


def on_blocks(paths, s: int) -> list[np.ndarray]:
    """The ×1 paths on the pixels of a ×s upscale (pixel i: the middle of its block)."""
    return [p * s + (s - 1) / 2 for p in paths]


def change(x1: list, xs: list) -> dict:
    """Count change (% of x1's) pooled, its standard error over the samples, and the
    pooled ℓ̄ change (%) from (L, P) pairs."""
    L1, P1 = np.sum([v[0] for v in x1]), np.sum([v[1] for v in x1])
    Ls, Ps = np.sum([v[0] for v in xs]), np.sum([v[1] for v in xs])
    d = np.array([b[1] - a[1] for a, b in zip(x1, xs)], float)
    return {
        "x1_crossings": int(P1),
        "crossings": int(Ps),
        "count_pct": round(100 * (Ps / P1 - 1), 2),
        "count_se_pct": round(100 * float(d.std(ddof=1)) * np.sqrt(d.size) / P1, 2),
        "ell_pct": round(100 * ((Ls / Ps) / (L1 / P1) - 1), 2),
    }


def tbm() -> dict:
    from heyn_mask_scale import mask_files, upscale
    from PIL import Image

    import napari_srmat.metrics.heyn as heyn

    arms = ("paired", "paired_no_passage", "paired_passage_xs")
    acc: dict = {}
    per_mask: dict = {}
    for f in mask_files():
        b0 = np.asarray(Image.open(f)) > 127
        for roll in ROLLS:
            b = np.roll(b0, roll, (0, 1))
            for how in ("x1", *UPSCALES):
                s = 1 if how == "x1" else S
                u = b if s == 1 else upscale(b, s, how)
                for p in PATTERNS:
                    r = heyn.measure_intercepts(u, pattern=p, mask_scale=s)
                    own = (r.total_length_px / s, r.intersection_count)
                    acc.setdefault(("own", p, how), []).append(own)
                    if roll == ROLLS[0] and how in ("x1", "nearest"):
                        per_mask.setdefault(p, {}).setdefault(f.name, []).append(own[1])
                    paths, closed = heyn.make_pattern(b.shape, p)
                    if how == "x1":  # the x S default pattern on the x 1 pixels
                        big, _ = heyn.make_pattern((S * b.shape[0], S * b.shape[1]), p)
                        back = [(q - (S - 1) / 2) / S for q in big]
                        acc.setdefault(("own_on_x1", p), []).append(runs(b, back, closed, 1))
                        acc.setdefault(("x1_pattern", p), []).append(runs(b, paths, closed, 1))
                    for arm in arms:
                        with patched(**arm_patch(arm, s)):
                            L, P, touch, cross = runs(u, on_blocks(paths, s), closed, s)
                        acc.setdefault((arm, p, how), []).append((L, P))
                        if arm == "paired_no_passage":
                            acc.setdefault(("touches", p, how), []).append((touch, cross))
        print(f.name, flush=True)
    out: dict = {}
    for arm in ("own", *arms):
        for p in PATTERNS:
            for how in UPSCALES:
                out.setdefault(arm, {}).setdefault(p, {})[how] = change(
                    acc[(arm, p, "x1")], acc[(arm, p, how)]
                )
    for p in PATTERNS:
        out.setdefault("own_on_x1", {})[p] = change(acc[("x1_pattern", p)], acc[("own_on_x1", p)])
        t1 = np.sum(acc[("touches", p, "x1")], axis=0)
        row = {"x1": {"touches": int(t1[0]), "between_grains": int(t1[1])}}
        for how in UPSCALES:
            t = np.sum(acc[("touches", p, how)], axis=0)
            row[how] = {
                "touches": int(t[0]),
                "between_grains": int(t[1]),
                "touches_pct": round(100 * (t[0] / t1[0] - 1), 2),
                "between_grains_pct": round(100 * (t[1] / t1[1] - 1), 2),
            }
        out.setdefault("touches", {})[p] = row
        out.setdefault("per_mask_nearest_change", {})[p] = {
            k: int(v[1] - v[0]) for k, v in per_mask[p].items()
        }
    return out


def continuous_count(ms, paths) -> tuple[float, int]:
    """(length, grain changes) along polylines on the generator's continuous structure."""
    from _common import _continuous_labels, _synth_params

    prm = _synth_params(ms)
    length, count = 0.0, 0
    for q in paths:
        q = np.asarray(q, float)
        side = np.hypot(*np.diff(q, axis=0).T)
        n_steps = np.maximum(2, (side / CONTINUOUS_STEP_PX).astype(int))
        steps = [np.linspace(0, 1, n, endpoint=False) for n in n_steps]
        pts = [a + t[:, None] * (b - a) for a, b, t in zip(q[:-1], q[1:], steps)]
        lab = _continuous_labels(np.concatenate([*pts, q[-1:]]), prm)
        length += float(side.sum())
        count += int((lab[1:] != lab[:-1]).sum())
    return length, count


def synthetic() -> dict:
    from heyn_mask_scale import upscale

    import napari_srmat.metrics.heyn as heyn
    from napari_srmat.synth import generate_microstructure

    acc: dict = {}
    for seed in SYNTH_SEEDS:
        ms = generate_microstructure(seed=seed, rgb=False, **SYNTH)
        for p in PATTERNS:
            paths, closed = heyn.make_pattern(ms.boundaries.shape, p)
            Lc, Pc = continuous_count(ms, paths)
            a = acc.setdefault(("continuous", p), [0.0, 0])
            a[0] += Lc
            a[1] += Pc
            for how in ("x1", *UPSCALES):
                s = 1 if how == "x1" else S
                u = ms.boundaries if s == 1 else upscale(ms.boundaries, s, how)
                L, P, _, _ = runs(u, on_blocks(paths, s), closed, s)
                a = acc.setdefault((how, p), [0.0, 0])
                a[0] += L
                a[1] += P
    out: dict = {}
    for p in PATTERNS:
        Lc, Pc = acc[("continuous", p)]
        out[p] = {"continuous_crossings": Pc}
        for how in ("x1", *UPSCALES):
            L, P = acc[(how, p)]
            out[p][how] = {
                "crossings": P,
                "ell_over_continuous_pct": round(100 * ((L / P) / (Lc / Pc) - 1), 2),
            }
    return out


def main() -> None:
    result = {"tbm": tbm(), "synthetic": synthetic()}
    print(result)
    save(
        "heyn_circles_upscale",
        {
            "scale": S,
            "upscales": UPSCALES,
            "rolls": ROLLS,
            "synth": SYNTH,
            "synth_seeds": list(SYNTH_SEEDS),
            **result,
        },
    )


if __name__ == "__main__":
    from _common import no_options

    no_options(__doc__)
    main()
