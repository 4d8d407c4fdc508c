"""Grey inputs: how far off is the grain size, and can a grey image be told from colour?

The shipped boundary model learned colour polarized-light micrographs (tbm). Two kinds
of grey input a laboratory has:

* a grey copy of such a micrograph (luminance, 0.299 R + 0.587 G + 0.114 B): every 4th
  tbm/train region and every tbm/val region (never tbm/test), measured in colour and in
  grey against its hand-drawn truth, at inference scale 1 and at the automatic scale;
* a bright-field etched micrograph (light grains of slightly different shades, dark
  boundary lines about 3 px wide, a little noise and blur), made here from the labels of
  ``napari_srmat.synth.generate_microstructure`` (exact ℓ̄), five seeds.

Also the colourfulness (``edges.data.colourfulness``) of every tbm/train + val region
and of the scans in no split (``scans/scan_32``-``42`` and ``extra_*``), against which
``GREY_COLOURFULNESS_LIMIT`` is set.

    OMP_NUM_THREADS=1 PYTHONPATH=src python studies/grey_input_check.py   # ~5 CPU-min

Writes studies/results/grey_input_check.json.
"""

from __future__ import annotations

import numpy as np
from _common import DATA, gt_intercept, q, save, tbm_pairs

from napari_srmat.channels import LUMA_WEIGHTS

LUMA = np.array(LUMA_WEIGHTS, np.float32)
BRIGHT_FIELD_SEEDS = (1, 2, 3, 4, 5)
UNSPLIT_SCANS = [f"scan_{n}.jpg" for n in range(32, 43)] + [f"extra_{n}.jpg"
                                                             for n in range(10)]


def bright_field(seed: int, shape=(384, 384), grain_px: float = 30.0):
    """A synthetic bright-field etched micrograph and its exact ℓ̄ (px)."""
    from scipy import ndimage

    from napari_srmat.synth import generate_microstructure

    ms = generate_microstructure(shape, mean_grain_size_px=grain_px, seed=seed)
    labels = ms.labels
    boundary = ndimage.maximum_filter(labels, 3) != ndimage.minimum_filter(labels, 3)
    rng = np.random.default_rng(seed)
    shade = rng.uniform(0.65, 0.85, labels.max() + 1)[labels]
    image = np.where(boundary, 0.25, shade) + rng.normal(0.0, 0.02, labels.shape)
    return np.clip(ndimage.gaussian_filter(image, 0.7), 0, 1).astype(np.float32), float(
        ms.mean_intercept_px)


def _errors(pred, true) -> dict:
    e = [(p - t) / t for p, t in zip(pred, true) if p is not None]
    return {"per_image_pct": round(100 * float(np.mean(np.abs(e))), 2),
            "mean_signed_pct": round(100 * float(np.mean(e)), 2),
            "n_no_figure": sum(p is None for p in pred)}


def main() -> int:
    import torch

    from napari_srmat import measure_grain_size
    from napari_srmat.edges import load_boundary_model
    from napari_srmat.edges.data import colourfulness, to_model_image
    from napari_srmat.io import read_image, read_mask, to_float01

    torch.set_num_threads(1)
    model = load_boundary_model(device="cpu")

    def measure(image, scale):
        return measure_grain_size(image, model=model, inference_scale=scale).mean_intercept_px

    rows = []
    for _, image_path, mask_path in tbm_pairs(every_train=4):
        colour = to_float01(np.asarray(read_image(image_path).data))
        grey = colour @ LUMA
        true = gt_intercept(read_mask(mask_path))
        rows.append({"region": image_path.stem, "true": true,
                     **{f"{kind}_{tag}": measure(img, scale)
                        for kind, img in (("colour", colour), ("grey", grey))
                        for tag, scale in (("scale1", 1.0), ("auto", None))}})
    true = [r["true"] for r in rows]
    grey_copies = {f"{kind}_{tag}": _errors([r[f"{kind}_{tag}"] for r in rows], true)
                   for kind in ("colour", "grey") for tag in ("scale1", "auto")}
    ratio = [r["grey_scale1"] / r["colour_scale1"] for r in rows]
    bf = []
    for seed in BRIGHT_FIELD_SEEDS:
        image, true_l = bright_field(seed)
        bf.append({"seed": seed, "true": round(true_l, 2),
                   "scale1": measure(image, 1.0), "auto": measure(image, None)})
    labelled = [colourfulness(to_model_image(np.asarray(read_image(p).data)))
                for _, p, _ in tbm_pairs()]
    scans = [colourfulness(to_model_image(np.asarray(read_image(DATA.parent / "scans" / n)
                                                     .data)))
             for n in UNSPLIT_SCANS if (DATA.parent / "scans" / n).is_file()]
    report = {
        "data": "every 4th tbm/train region and tbm/val (never test); synthetic bright-field",
        "grey_copies": {"n_regions": len(rows), **grey_copies,
                        "grey_over_colour_scale1": {"q10_median_q90": q(ratio),
                                                    "min": round(min(ratio), 3),
                                                    "max": round(max(ratio), 3)}},
        "bright_field": {"rows": bf,
                         "scale1": _errors([r["scale1"] for r in bf], [r["true"] for r in bf]),
                         "auto": _errors([r["auto"] for r in bf], [r["true"] for r in bf])},
        "colourfulness": {
            "tbm_train_val": {"n": len(labelled), "min": round(min(labelled), 3),
                              "median": round(float(np.median(labelled)), 3),
                              "max": round(max(labelled), 3)},
            "scans_in_no_split": {"n": len(scans), "min": round(min(scans), 3),
                                  "median": round(float(np.median(scans)), 3),
                                  "max": round(max(scans), 3)}},
        "rows": rows,
    }
    save("grey_input_check", report)
    return 0


if __name__ == "__main__":
    from _common import no_options

    no_options(__doc__)
    raise SystemExit(main())
