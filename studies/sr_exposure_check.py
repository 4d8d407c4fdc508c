"""Do the shipped SR models need the boundary model's exposure gain? (Dim images: yes.)

Every tbm/val region (never tbm/test) shrunk ×4 (bicubic, anti-aliased), super-resolved
×4 by the shipped ``cnn`` and ``onestep`` models as it is and at 1/2 and 1/16 of its
brightness (the output divided back by the same factor), PSNR against the region. The
models are tiled as :func:`napari_srmat.super_resolve` tiles them but without the exposure
rule it applies since 2026-12-04 (``studies/sr_12bit_gain.py``: a 12-bit image loses
0.68 dB with ``cnn`` without it).

    OMP_NUM_THREADS=1 PYTHONPATH=src python studies/sr_exposure_check.py   # ~2 CPU-min

Writes studies/results/sr_exposure_check.json.
"""

from __future__ import annotations

import numpy as np
from _common import DATA, save

FACTORS = (1.0, 0.5, 1 / 16)
MODELS = ("cnn", "onestep")


def main() -> int:
    import torch
    from skimage.transform import resize

    from napari_srmat.io import list_pairs, read_image, to_float01
    from napari_srmat.sr.apply import resolve_overlap
    from napari_srmat.sr.registry import load_model
    from napari_srmat.tiling import DEFAULT_TILE, tiled_apply

    torch.set_num_threads(1)
    psnr = {m: {str(f): [] for f in FACTORS} for m in MODELS}
    for image_path, _ in list_pairs(DATA, "val"):
        hr = to_float01(np.asarray(read_image(image_path).data))
        lr = resize(hr, (hr.shape[0] // 4, hr.shape[1] // 4, hr.shape[2]), order=3,
                    anti_aliasing=True).astype(np.float32)
        for name in MODELS:
            model = load_model(name)
            for f in FACTORS:
                # the model tiled as super_resolve tiles it, without the exposure rule
                # super_resolve applies since studies/sr_12bit_gain.py
                sr = tiled_apply(lr * np.float32(f), model.predict, scale=model.scale,
                                 out_channels=3, out_dtype=np.float32,
                                 overlap=resolve_overlap(model, None, DEFAULT_TILE)) / f
                mse = float(np.mean((np.clip(sr, 0, 1) - hr) ** 2))
                psnr[name][str(f)].append(10 * np.log10(1 / mse))
    report = {"data": "tbm/val (never test), x4 bicubic down, shipped SR models",
              "mean_psnr_db": {m: {f: round(float(np.mean(v)), 2) for f, v in by.items()}
                               for m, by in psnr.items()},
              "loss_vs_as_is_db": {m: {f: round(float(np.mean(by["1.0"]) - np.mean(v)), 2)
                                       for f, v in by.items()} for m, by in psnr.items()}}
    save("sr_exposure_check", report)
    print(report)
    return 0


if __name__ == "__main__":
    from _common import no_options

    no_options(__doc__)
    raise SystemExit(main())
