"""Does Heyn's ℓ̄ (µm) of one hand-drawn mask stay put when the mask is upscaled?

The same TBM boundary mask upscaled x2 / x4 with its pixel size divided by 2 / 4 is the
same microstructure: ℓ̄ in µm should not move. Measured on 14 train / val masks (the
first of each scan, one per scan; never test, never scans 13, 24, 28),
256 px at 0.5 µm, each upscaled three ways:

* ``nearest``: every pixel becomes an s x s block (blocky, boundaries s times wider);
* ``bilinear``: PIL's bilinear resize of the 0/255 mask, thresholded at 128;
* ``smooth``: the nearest upscale blurred (Gaussian, sigma = s / 2) and thresholded at
  0.5 (what an SR model's map of a smooth boundary looks like).

``measure_intercepts`` at its defaults (50 random lines, seed 1234; the 25 + 25 grid;
the three circles), the mask as it is and thinned (``skeletonize=True``: an upscale's
block scale found or given, the mask thinned as drawn, ``metrics.heyn._thinned``; until
that rule ``thinned`` thinned the upscale at its own resolution), the zig-zag
bridge reaching s px where the mask is exactly a nearest upscale x s
(``metrics.heyn._block_scale``, shipped; ``block_scale`` per row);
``two_px_bridge`` is random lines with the 2 px bridge whatever the mask; ``given``
(``{random,grid,circles}_given``, ``random_thinned_given``) the scale given by the user,
``measure_intercepts(mask_scale=s)`` (x 1: ``mask_scale=1``). Reported:
per-mask ``ℓ̄(x s) / ℓ̄(x 1) - 1`` in %, median and mean over the masks, and the pooled
``ΣL / ΣP`` ratio.

Then the cause, on random lines with the 2 px bridge (x 1 is unchanged by every variant:
each scales with s):

* (a) ``consts_xs``: ``GRAIN_WINDOW_RADIUS``, ``PASSAGE_CORRIDOR_RADIUS_PX``,
  ``BOUNDARY_DIRECTION_RADIUS_PX``, ``PATH_DIRECTION_HALF_PX`` times s (monkeypatched
  here, not in src); ``hug_xs``: that and ``_near_boundary`` (the passage's "every pixel
  between two runs has a boundary pixel among its 8 neighbours") reaching s px instead
  of 1; ``bridge_xs``: the zig-zag bridge shipped for exact block upscales (the 2 px
  rule of ``_bridged`` on s x s blocks, ``_block_offsets``: gaps of up to two blocks)
  forced on every mask of scale s, thinned and smooth upscales too (the grid's offset
  the residue where most pixels change, a block's boundary looked up at its middle
  pixel, as ``mask_scale=s``; until the keyword the offset was read from the first
  differing row / column and the block's first pixel; until d2c0ea6c every two runs
  up to 2 s px apart were joined; the third-grain rule still applies), the constants
  as they are;
  ``bridge_consts_xs``: with them times s; ``bridge_hug_xs``: and the hug too;
  ``bridge_estimated``: the ``bridge_consts`` fix with s estimated from the mask
  itself (its boundary width, ``boundary_width_px``, over ``REFERENCE_WIDTH_PX``, at
  least 1; it may move x 1: ``x1_moved``); the shipped reach needs no scale given (``as_is`` against
  ``two_px_bridge``; ``x1_moved`` of ``two_px_bridge``);
* (b) thinning spurs: skeleton endpoints per mask, and the thinned mask with spurs
  shorter than ``SPUR_PX * s`` pixels pruned (``thinned_pruned``);
* (c) multiple crossings of thick boundaries by oblique lines: the extra runs per line
  at x s against x 1 (same lines), split by the line's angle to the nearest image axis
  (under ``AXIS_DEG`` or not).

    PYTHONPATH=src OMP_NUM_THREADS=1 nice python studies/heyn_mask_scale.py   # ~1 CPU-min

Writes studies/results/heyn_mask_scale.json. Quoted in docs/heyn.md ("Upscaled masks").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import numpy as np
from _common import DATA, SPLITS, TEST_SCANS, save

SCALES = (1, 2, 4)
UPSCALES = ("nearest", "bilinear", "smooth")
PATTERNS = ("random", "grid", "circles")
PIXEL_UM = 0.5
SPUR_PX = 3
AXIS_DEG = 15.0
#: Boundary width (px) of the masks the fixed constants were tuned on (x 1 TBM masks are
#: about this wide): ``random_bridge_estimated`` scales by width / this, at least 1.
REFERENCE_WIDTH_PX = 3.0
CONSTANTS = (
    "GRAIN_WINDOW_RADIUS",
    "PASSAGE_CORRIDOR_RADIUS_PX",
    "BOUNDARY_DIRECTION_RADIUS_PX",
    "PATH_DIRECTION_HALF_PX",
)


def mask_files() -> list:
    """The first mask of each scan of train and val (test scans left out)."""
    files, seen = [], set()
    for split in SPLITS:
        for f in sorted((DATA / split / "masks").glob("*.png")):
            scan = f.name.split("-")[0]
            if scan in TEST_SCANS or scan in seen:
                continue
            seen.add(scan)
            files.append(f)
    return files


def upscale(b: np.ndarray, s: int, how: str) -> np.ndarray:
    from PIL import Image
    from scipy import ndimage as ndi

    if s == 1:
        return b
    if how == "nearest":
        return np.kron(b, np.ones((s, s), bool))
    if how == "bilinear":
        im = Image.fromarray((b * 255).astype(np.uint8))
        return np.asarray(im.resize((b.shape[1] * s, b.shape[0] * s), Image.BILINEAR)) > 127
    blurred = ndi.gaussian_filter(np.kron(b, np.ones((s, s), np.float32)), s / 2)
    return blurred >= 0.5


@contextmanager
def scaled(
    s: float, hug: bool = False, bridge: bool = False, consts: bool = True
) -> Iterator[None]:
    """The fixed pixel constants of metrics.heyn times ``s`` (rounded; with ``consts``);
    with ``hug``, the passage's boundary neighbourhood (``_near_boundary``) s px wide; with
    ``bridge``, the zig-zag bridge of ``_runs_flat`` reaching ``k = round(s)`` on any
    mask (``_block_scale`` patched to k: the 2 px rule on k x k blocks), else the 2 px
    bridge (``_bridged``) on any mask. ``s`` = 1: the 2 px bridge, the constants as they
    are."""
    from scipy import ndimage as ndi

    import napari_srmat.metrics.heyn as heyn

    k = max(1, round(s))
    names = (*CONSTANTS, "_near_boundary", "_block_scale")
    old = {n: getattr(heyn, n) for n in names}
    heyn._block_scale = lambda mask: None
    cache: dict = {}

    def near_mask(mask):
        if id(mask) not in cache:
            cache.clear()
            cache[id(mask)] = ndi.binary_dilation(mask, np.ones((2 * k + 1,) * 2, bool))
        return cache[id(mask)]

    if k > 1:
        if consts:
            for n in CONSTANTS:
                setattr(heyn, n, round(old[n] * s))
        if hug:
            heyn._near_boundary = lambda mask, r, c: near_mask(mask)[r, c]
        if bridge:
            heyn._block_scale = lambda mask: k
    try:
        yield
    finally:
        for n, v in old.items():
            setattr(heyn, n, v)


def endpoints(sk: np.ndarray) -> np.ndarray:
    from scipy import ndimage as ndi

    nb = ndi.convolve(sk.astype(np.uint8), np.ones((3, 3), np.uint8), mode="constant") - 1
    return sk & (nb == 1)


def prune(sk: np.ndarray, k: int) -> np.ndarray:
    """The skeleton less its branches from an endpoint to a junction shorter than k px."""
    from scipy import ndimage as ndi

    nb = ndi.convolve(sk.astype(np.uint8), np.ones((3, 3), np.uint8), mode="constant") - 1
    junction = sk & (nb >= 3)
    branches, n = ndi.label(
        sk & ~ndi.binary_dilation(junction, np.ones((3, 3), bool)), structure=np.ones((3, 3), bool)
    )
    if n == 0:
        return sk
    size = np.bincount(branches.ravel(), minlength=n + 1)
    has_end = np.bincount(branches[endpoints(sk)], minlength=n + 1) > 0
    near_j = (
        np.bincount(
            branches[ndi.binary_dilation(junction, np.ones((5, 5), bool)) & (branches > 0)],
            minlength=n + 1,
        )
        > 0
    )
    drop = has_end & near_j & (size < k)
    drop[0] = False
    return sk & ~drop[branches]


def pct(ratios) -> dict:
    r = np.asarray(ratios, float)
    return {
        "median_pct": round(100 * (float(np.median(r)) - 1), 2),
        "mean_pct": round(100 * (float(np.mean(r)) - 1), 2),
        "max_abs_pct": round(100 * float(np.abs(r - 1).max()), 2),
    }


def main() -> None:
    from PIL import Image

    import napari_srmat.metrics.heyn as heyn

    files = mask_files()
    rows = []
    for f in files:
        b = np.asarray(Image.open(f)) > 127
        assert b.ndim == 2, f
        for s in SCALES:
            for how in UPSCALES if s > 1 else ("none",):
                u = upscale(b, s, how)
                sk = heyn._skeletonize(u)
                row = {
                    "mask": f"{f.parent.parent.name}/{f.name}",
                    "scale": s,
                    "upscale": how,
                    "endpoints": int(endpoints(sk).sum()),
                    "block_scale": heyn._block_scale(u) or 1,
                    "block_scale_thinned": heyn._block_scale(sk) or 1,
                }
                for p in PATTERNS:
                    for thin, given in (
                        ("as_is", None),
                        ("thinned", None),
                        ("given", s),
                        ("thinned_given", s),
                    ):
                        if thin == "thinned_given" and p != "random":
                            continue
                        r = heyn.measure_intercepts(
                            u,
                            pattern=p,
                            pixel_size_um=PIXEL_UM / s,
                            mask_scale=given,
                            skeletonize=thin.startswith("thinned"),
                        )
                        row[f"{p}_{thin}_L_um"] = r.total_length_px * PIXEL_UM / s
                        row[f"{p}_{thin}_P"] = r.intersection_count
                        if given:
                            row[f"{p}_{thin}_block_scale"] = r.block_scale
                        if p == "random" and thin == "as_is":
                            row["random_per_line"] = r.per_line_count.tolist()
                            row["random_angles_deg"] = r.line_angles_deg.tolist()
                width = heyn.boundary_width_px(
                    u.mean(), row["random_as_is_L_um"] / row["random_as_is_P"] * s / PIXEL_UM
                )
                row["width_px"] = round(float(width), 3)
                row["scale_estimated"] = est = max(1.0, width / REFERENCE_WIDTH_PX)
                for key, m, ctx in (
                    ("random_consts_xs", u, scaled(s)),
                    ("random_hug_xs", u, scaled(s, hug=True)),
                    ("random_bridge_xs", u, scaled(s, bridge=True, consts=False)),
                    ("random_bridge_consts_xs", u, scaled(s, bridge=True)),
                    ("random_bridge_hug_xs", u, scaled(s, hug=True, bridge=True)),
                    ("random_bridge_estimated", u, scaled(est, bridge=True)),
                    ("random_two_px_bridge", u, scaled(1)),
                    ("random_thinned_hug_xs", sk, scaled(s, hug=True)),
                    ("random_thinned_bridge_xs", sk, scaled(s, bridge=True)),
                    ("random_thinned_pruned", prune(sk, SPUR_PX * s), nullcontext()),
                ):
                    with ctx:
                        r = heyn.measure_intercepts(m, pixel_size_um=PIXEL_UM / s)
                    row[key + "_L_um"] = r.total_length_px * PIXEL_UM / s
                    row[key + "_P"] = r.intersection_count
                rows.append(row)
                print(
                    {
                        k: v
                        for k, v in row.items()
                        if not k.startswith("random_per") and k != "random_angles_deg"
                    },
                    flush=True,
                )
    keys = [f"{p}_{t}" for p in PATTERNS for t in ("as_is", "thinned", "given")] + [
        "random_thinned_given",
        "random_consts_xs",
        "random_hug_xs",
        "random_bridge_xs",
        "random_bridge_consts_xs",
        "random_bridge_hug_xs",
        "random_bridge_estimated",
        "random_two_px_bridge",
        "random_thinned_hug_xs",
        "random_thinned_bridge_xs",
        "random_thinned_pruned",
    ]
    base = {r["mask"]: r for r in rows if r["scale"] == 1}

    def ell(r, k):
        return r[k + "_L_um"] / r[k + "_P"]

    summary: dict = {"x1_um": {}}
    for k in keys:
        # the variants are the same measurement as x 1's (each scales with s)
        ref = (
            k
            if k.endswith(("as_is", "thinned"))
            else "random_thinned"
            if k.startswith("random_thinned")
            else k.removesuffix("_given") + "_as_is"
            if k.endswith("_given")
            else "random_as_is"
        )
        summary["x1_um"][k] = round(float(np.median([ell(r, k) for r in base.values()])), 3)
        summary.setdefault("x1_moved", {})[k] = pct(
            [ell(r, k) / ell(r, ref) for r in base.values()]
        )
        for s in SCALES[1:]:
            for how in UPSCALES:
                sel = [r for r in rows if r["scale"] == s and r["upscale"] == how]
                ratios = [ell(r, k) / ell(base[r["mask"]], ref) for r in sel]
                pooled = (sum(r[k + "_L_um"] for r in sel) / sum(r[k + "_P"] for r in sel)) / (
                    sum(base[r["mask"]][ref + "_L_um"] for r in sel)
                    / sum(base[r["mask"]][ref + "_P"] for r in sel)
                )
                summary.setdefault(f"x{s} {how}", {})[k] = {
                    **pct(ratios),
                    "pooled_pct": round(100 * (pooled - 1), 2),
                }
    # (b) endpoints; (c) extra runs per line by angle to the nearest axis
    for s in SCALES:
        for how in UPSCALES if s > 1 else ("none",):
            sel = [r for r in rows if r["scale"] == s and r["upscale"] == how]
            out = {
                "endpoints_median": float(np.median([r["endpoints"] for r in sel])),
                "width_px_quantiles": np.quantile([r["width_px"] for r in sel], (0, 0.5, 1))
                .round(2)
                .tolist(),
                "scale_estimated_quantiles": np.quantile(
                    [r["scale_estimated"] for r in sel], (0, 0.5, 1)
                )
                .round(2)
                .tolist(),
            }
            if s > 1:
                extra = {"axis": [], "oblique": []}
                for r in sel:
                    a = np.asarray(r["random_angles_deg"]) % 90
                    axis = np.minimum(a, 90 - a) < AXIS_DEG
                    d = np.asarray(r["random_per_line"]) - np.asarray(
                        base[r["mask"]]["random_per_line"]
                    )
                    n1 = np.asarray(base[r["mask"]]["random_per_line"])
                    for name, sel_l in (("axis", axis), ("oblique", ~axis)):
                        extra[name].append((d[sel_l].sum(), n1[sel_l].sum()))
                for name, v in extra.items():
                    dd, nn = np.sum(v, axis=0)
                    out[f"extra_runs_{name}_pct"] = round(100 * float(dd) / float(nn), 2)
            summary.setdefault(f"x{s} {how}", {}).update(out)
    print(summary)
    save(
        "heyn_mask_scale",
        {
            "masks": [r["mask"] for r in base.values()],
            "scales": SCALES,
            "upscales": UPSCALES,
            "pixel_um": PIXEL_UM,
            "spur_px_per_scale": SPUR_PX,
            "axis_deg": AXIS_DEG,
            "summary": summary,
            "rows": rows,
        },
    )


if __name__ == "__main__":
    from _common import no_options

    no_options(__doc__)
    main()
