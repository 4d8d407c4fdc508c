"""Should ``cnn`` see a 12-bit camera image (in a 16-bit file) brightened by the exposure rule?

Four tbm/val regions (never tbm/test) shrunk ×4 (bicubic, anti-aliased), stored as 8-bit
and as 12-bit data in ``uint16`` (``value * 4095 / 255``), super-resolved ×4 by the
shipped ``cnn``:

(a) as it is (the float rule reads the 12-bit image at 1/16 of full scale);
(b) brightened by the boundary model's exposure rule
    (:func:`napari_srmat.edges.data.exposure_gain`), the output (clipped to [0, 1] as
    always) divided by the same gain (``SRModel.predict(gain=)``).

Each output is brought to the HR region's 0-1 scale (``x 65535 / 4095`` for 12 bit) and
compared with the region: PSNR (clipped to [0, 1]), and the fraction of output values
outside the LR input's own value range (in the input's units). The 8-bit LR gets gain 1
(checked). ``super_resolve`` of the uint16 image itself is the last column (since the
SR path uses the exposure rule, it equals b). A uniform noise image 0..4093 (the
colleague's example) gives the largest output value each way.

    OMP_NUM_THREADS=1 PYTHONPATH=src python studies/sr_12bit_gain.py   # ~1 CPU-min

Writes studies/results/sr_12bit_gain.json.
"""

from __future__ import annotations

import functools

import numpy as np
from _common import DATA, save

N_IMAGES = 4
SCALE = 4
FULL_12 = 4095


def _psnr(sr: np.ndarray, hr: np.ndarray) -> float:
    mse = float(np.mean((np.clip(sr, 0.0, 1.0) - hr) ** 2))
    return float(10 * np.log10(1 / mse))


def main() -> int:
    import torch
    from skimage.transform import resize

    from napari_srmat import super_resolve
    from napari_srmat.edges.data import exposure_gain
    from napari_srmat.io import list_pairs, read_image, to_float01
    from napari_srmat.sr.registry import load_model
    from napari_srmat.tiling import tiled_apply

    torch.set_num_threads(1)
    model = load_model("cnn", scale=SCALE)

    def gain_of(lr):  # the exposure rule sees a (C, H, W) float image in [0, 1]
        return exposure_gain(np.moveaxis(to_float01(lr), -1, 0))

    def run(lr, gain):  # the model tiled on the input with this gain (not super_resolve,
        # which now applies the exposure rule itself), on the float rule's scale
        return tiled_apply(lr, functools.partial(model.predict, gain=gain), scale=SCALE,
                           out_channels=lr.shape[2], out_dtype=np.float32)

    rows = []
    for image_path, _ in list_pairs(DATA, "val")[:N_IMAGES]:
        hr = to_float01(np.asarray(read_image(image_path).data))
        lr = resize(hr, (hr.shape[0] // SCALE, hr.shape[1] // SCALE, hr.shape[2]), order=3,
                    anti_aliasing=True)
        lr8 = np.round(np.clip(lr, 0, 1) * 255).astype(np.uint8)
        lr12 = np.round(lr8.astype(np.float64) * FULL_12 / 255).astype(np.uint16)
        g8, g12 = gain_of(lr8), gain_of(lr12)
        row = {"image": image_path.name, "gain_8bit": g8, "gain_12bit": round(g12, 3)}
        row["psnr_8bit_db"] = round(_psnr(run(lr8, 1.0), hr), 3)
        lo, hi = int(lr12.min()), int(lr12.max())
        for arm, gain in (("as_is", 1.0), ("gain", g12)):
            sr = run(lr12, gain) * (65535 / FULL_12)  # on the 0-1 scale of the 12-bit data
            sr_units = sr * FULL_12
            row[f"psnr_12bit_{arm}_db"] = round(_psnr(sr, hr), 3)
            row[f"outside_input_range_{arm}"] = round(
                float(np.mean((sr_units < lo - 0.5) | (sr_units > hi + 0.5))), 5)
            row[f"max_out_{arm}"] = round(float(sr_units.max()), 1)
        # what super_resolve gives the uint16 image itself (since the exposure rule: b)
        now = np.asarray(super_resolve(lr12, model=model), np.float32) * (65535 / FULL_12)
        row["psnr_12bit_super_resolve_db"] = round(_psnr(now, hr), 3)
        row["input_range_12bit"] = [lo, hi]
        rows.append(row)
        print(row)
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 4094, (64, 64, 3)).astype(np.uint16)
    noise_row = {"input_max": int(noise.max()), "gain": round(gain_of(noise), 3)}
    for arm, gain in (("as_is", 1.0), ("gain", noise_row["gain"])):
        noise_row[f"max_out_{arm}"] = round(float(run(noise, gain).max() * 65535), 1)
    report = {
        "data": f"tbm/val (never test), first {N_IMAGES} regions, x{SCALE} bicubic down, "
                "shipped cnn; 12-bit = 8-bit LR * 4095/255 in uint16",
        "per_image": rows,
        "mean": {k: round(float(np.mean([r[k] for r in rows])), 4) for k in rows[0]
                 if k.startswith(("psnr", "outside", "gain"))},
        "noise_0_4093": noise_row,
    }
    save("sr_12bit_gain", report)
    print(report["mean"], noise_row)
    return 0


if __name__ == "__main__":
    from _common import no_options

    no_options(__doc__)
    raise SystemExit(main())
