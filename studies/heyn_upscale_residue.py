"""Could the scale of a smooth or bilinear upscale be found on the mask, as an exact
nearest upscale's is (``metrics.heyn._block_scale``), without reaching masks drawn at ×1?

Without its scale such an upscale keeps the 2 px bridge and reads ℓ̄ 2-5 % short
(``studies/heyn_mask_scale.py``). Its block grid is not exact, but the edges of its bands
along the axes still step on one residue modulo s (``metrics.heyn._block_offsets``). The
*lift* of a scale s: the share of the row changes (pixels differing from the one above)
on their most common residue modulo s, times s (1: no residue preferred; s: all on
one), the smaller of the rows' and the columns'. Measured on:

* every tbm/train + val mask at ×1 (63; never test, never scans 13, 24, 28);
* synthetic ×1 masks (``generate_microstructure``, 256², 1-9 px bands, 16-48 px grains,
  seeds 0-1) and their skeletons (``metrics.heyn._skeletonize``);
* the 14 masks of ``heyn_mask_scale.py`` upscaled ×2, ×3, ×4, ×8 (bilinear, smooth;
  that study's ``upscale``) and cropped by (3, 1) px (the grid offset);
* the maps the package itself measures: synthetic micrographs (``SR_MAPS``: 512², 24 and
  48 px grains, seeds 0-1) through the shipped boundary model and its threshold rule
  (``grainsize._binary``), native and super-resolved ×4 from every fourth pixel by the
  shipped SR model (``super_resolve(scale=4)``), and the generator's own boundaries.

Reported: each set's lift quantiles at every s from 2 to 8 (×1) and at the true s
(upscales), and the s of the largest lift (``best``; upscales: how often it is a multiple
of the true s).

    PYTHONPATH=src OMP_NUM_THREADS=1 nice python studies/heyn_upscale_residue.py  # ~1 CPU-min

Writes studies/results/heyn_upscale_residue.json. Quoted in docs/heyn.md ("Upscaled masks").
"""

from __future__ import annotations

import numpy as np
from _common import DATA, SPLITS, TEST_SCANS, save

SCALES = range(2, 9)
UPSCALES = (
    (2, "bilinear"),
    (2, "smooth"),
    (3, "bilinear"),
    (3, "smooth"),
    (4, "bilinear"),
    (4, "smooth"),
    (8, "bilinear"),
    (8, "smooth"),
)
CROP = (3, 1)
SYNTH_WIDTHS = (1, 2, 3, 5, 7, 9)
SYNTH_GRAINS = (16, 32, 48)
SYNTH_SEEDS = (0, 1)
SR_MAPS = {"shape": (512, 512), "grains": (24, 48), "seeds": (0, 1), "scale": 4}


def lift(m: np.ndarray, s: int) -> float:
    """s times the share of the changes on their most common residue modulo s (the
    smaller of rows and columns)."""
    H, W = m.shape
    rows = np.count_nonzero(m[1:] != m[:-1], axis=1)
    cols = np.count_nonzero(m[:, 1:] != m[:, :-1], axis=0)
    by_row = np.bincount(np.arange(1, H) % s, rows, minlength=s)
    by_col = np.bincount(np.arange(1, W) % s, cols, minlength=s)
    share = min(by_row.max() / max(by_row.sum(), 1), by_col.max() / max(by_col.sum(), 1))
    return float(s * share)


def quantiles(values) -> list[float]:
    return np.quantile(values, (0, 0.5, 0.9, 1)).round(3).tolist()


def model_maps() -> dict:
    """Largest lift (any s) and lift at ``SR_MAPS["scale"]`` of the shipped boundary
    model's thresholded maps, native and of an SR x4 image, and of the true boundaries."""
    import napari_srmat as srmat
    from napari_srmat.edges.infer import load_boundary_model, predict_boundaries
    from napari_srmat.grainsize import _binary

    model = load_boundary_model(device="cpu")
    k = SR_MAPS["scale"]
    rows = []
    for g in SR_MAPS["grains"]:
        for seed in SR_MAPS["seeds"]:
            ms = srmat.generate_microstructure(SR_MAPS["shape"], mean_grain_size_px=g, seed=seed)
            sr = np.asarray(srmat.super_resolve(ms.image[::k, ::k], scale=k))
            row = {"grain_px": g, "seed": seed}
            for name, m in (
                ("native", _binary(predict_boundaries(ms.image, model)[0], model, None)[0]),
                ("sr", _binary(predict_boundaries(sr, model)[0], model, None)[0]),
                ("truth", ms.boundaries),
            ):
                lifts = [lift(m, s) for s in SCALES]
                row[name] = {"max_lift": round(max(lifts), 3), "lift_at_k": round(lifts[k - 2], 3)}
            rows.append(row)
            print(row, flush=True)
    return {"rows": rows}


def main() -> None:
    from heyn_mask_scale import mask_files, upscale
    from PIL import Image

    import napari_srmat.metrics.heyn as heyn
    from napari_srmat.synth import generate_microstructure

    drawn: dict = {"tbm": [], "synthetic": [], "skeletons": []}
    for split in SPLITS:
        for f in sorted((DATA / split / "masks").glob("*.png")):
            if f.name.split("-")[0] not in TEST_SCANS:
                drawn["tbm"].append(np.asarray(Image.open(f)) > 127)
    for w in SYNTH_WIDTHS:
        for g in SYNTH_GRAINS:
            for seed in SYNTH_SEEDS:
                b = generate_microstructure(
                    (256, 256), mean_grain_size_px=g, seed=seed, boundary_width=w, rgb=False
                ).boundaries
                drawn["synthetic"].append(b)
                drawn["skeletons"].append(heyn._skeletonize(b))
    out: dict = {"x1": {}, "upscales": {}}
    for name, masks in drawn.items():
        lifts = np.array([[lift(m, s) for s in SCALES] for m in masks])
        out["x1"][name] = {
            "n": len(masks),
            "max_lift_quantiles": quantiles(lifts.max(axis=1)),
            "by_s": {s: quantiles(lifts[:, i]) for i, s in enumerate(SCALES)},
        }
    originals = [np.asarray(Image.open(f)) > 127 for f in mask_files()]
    for s, how in UPSCALES:
        lifts = []
        for b in originals:
            u = upscale(b, s, how)[CROP[0] :, CROP[1] :]
            lifts.append([lift(u, k) for k in SCALES])
        lifts = np.array(lifts)
        best = np.array(SCALES)[lifts.argmax(axis=1)]
        out["upscales"][f"x{s} {how}"] = {
            "lift_at_s_quantiles": quantiles(lifts[:, s - 2]),
            "best_is_multiple_of_s": int((best % s == 0).sum()),
            "n": len(originals),
        }
    out["model_maps"] = model_maps()
    print(out)
    save("heyn_upscale_residue", {"crop": CROP, **out})


if __name__ == "__main__":
    from _common import no_options

    no_options(__doc__)
    main()
