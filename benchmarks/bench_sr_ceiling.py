"""How much can x4 SR gain over bicubic? The TBM data against a clean control.

Two measurements, both against bicubic in the same run:

1. **TBM test split**: PSNR of the *band-limited oracle*
   (:func:`napari_srmat.metrics.sr.band_limit`), which restores every frequency the
   LR image represents exactly and nothing above it, plus a per-pixel noise
   estimate of the HR images (Immerkaer's Laplacian estimator) and their JPEG
   8x8 blockiness. If the oracle is
   only a little above bicubic, any further gain must come from predicting the
   out-of-band (above LR Nyquist) content of the HR images.
2. **Control**: the shipped ``cnn`` recipe (32 features, 8 blocks, batch 12 of 96 px,
   lr 5e-4, EMA 0.998, L1, plain antialiased bicubic degradation) trained from
   scratch on synthetic micrographs (:func:`napari_srmat.synth.generate_microstructure`,
   exact structure, per-pixel ``--noise``), then evaluated on other synthetic
   micrographs. A large gain there shows that the model and training are able to
   predict out-of-band detail when the data has predictable detail.

Usage (CPU, about 10 min per control run with one thread)::

    python benchmarks/bench_sr_ceiling.py --noise 0.0 --steps 1500 --json
    python benchmarks/bench_sr_ceiling.py --noise 0.02 --steps 1500
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from bench_sr_models import DEFAULT_DATA, _load, _lr  # the same data and LR protocol


def noise_sigma(image: np.ndarray) -> float:
    """Immerkaer (1996) estimate of white-noise sigma, averaged over channels."""
    from scipy.signal import convolve2d

    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], float)
    img = np.atleast_3d(np.asarray(image, float))
    sig = [np.sqrt(np.pi / 2) * np.abs(convolve2d(img[..., c], kernel, mode="valid")).mean() / 6
           for c in range(img.shape[2])]
    return float(np.mean(sig))


def blockiness(image: np.ndarray) -> float:
    """JPEG 8x8 blocking: mean horizontal step across block borders / elsewhere (1 = none)."""
    steps = np.abs(np.diff(np.asarray(image, float), axis=1)).mean(axis=(0, 2) if np.ndim(
        image) == 3 else 0)
    border = np.arange(steps.size) % 8 == 7
    return float(steps[border].mean() / steps[~border].mean())


def compare(hrs: list[np.ndarray], model=None, scale: int = 4) -> dict:
    """Mean PSNR of bicubic, the band-limited oracle and (optionally) ``model``."""
    from skimage.metrics import peak_signal_noise_ratio

    from napari_srmat.metrics.sr import band_limit, spectral_error_split
    from napari_srmat.sr import load_model

    def psnr(reference, estimate):
        return peak_signal_noise_ratio(reference, estimate, data_range=1.0)

    bicubic = load_model("bicubic", scale=scale)
    rows: dict[str, list[float]] = {"bicubic": [], "oracle": [], "model": [], "model_oob": []}
    for hr in hrs:
        lr = _lr(hr, scale)
        rows["bicubic"].append(psnr(hr, np.clip(bicubic.predict(lr)[0].transpose(1, 2, 0), 0, 1)))
        rows["oracle"].append(psnr(hr, band_limit(hr, scale)))
        if model is not None:
            sr = np.clip(model.predict(lr)[0].transpose(1, 2, 0), 0, 1)
            rows["model"].append(psnr(hr, sr))
            rows["model_oob"].append(spectral_error_split(hr, sr, scale)["out_of_band_captured"])
    out = {k: float(np.mean(v)) for k, v in rows.items() if v}
    out["oracle_gain_db"] = out["oracle"] - out["bicubic"]
    if model is not None:
        out["model_gain_db"] = out["model"] - out["bicubic"]
    out["noise_sigma_gray"] = float(np.mean([noise_sigma(hr * 255) for hr in hrs]))
    out["jpeg_blockiness"] = float(np.mean([blockiness(hr) for hr in hrs]))
    out["n_images"] = len(hrs)
    return out


def _synthetic(n: int, seed: int, noise: float) -> list[np.ndarray]:
    from napari_srmat.synth import generate_microstructure

    rng = np.random.default_rng(seed)
    return [generate_microstructure((256, 256), mean_grain_size_px=float(rng.uniform(15, 45)),
                                    seed=seed + i, noise=noise).image for i in range(n)]


def control(noise: float, steps: int, workdir: Path) -> dict:
    """Train the shipped cnn recipe on synthetic micrographs and evaluate it."""
    from PIL import Image

    from napari_srmat.jobs import run_job
    from napari_srmat.sr import load_model
    from napari_srmat.sr.train import train_sr_job, trained_checkpoint

    train, val, test = (_synthetic(40, 1000, noise), _synthetic(6, 2000, noise),
                        _synthetic(9, 3000, noise))
    val_dir = workdir / "val"
    val_dir.mkdir(parents=True, exist_ok=True)
    for i, v in enumerate(val):
        Image.fromarray(v).save(val_dir / f"{i}.png")
    cfg = dict(model="cnn", scale=4, out=str(workdir / "run"), data=train, val=str(val_dir),
               steps=steps, batch_size=12, patch=96, lr=5e-4, ema=0.998, val_every=250,
               arch={"n_feats": 32, "n_blocks": 8}, num_threads=1, seed=0,
               overwrite=True)  # a rerun trains again
    res = run_job(train_sr_job(cfg), quiet=True)
    model = load_model(checkpoint=trained_checkpoint(res), device="cpu")
    out = compare([t.astype(np.float32) / 255 for t in test], model)
    out.update(noise=noise, steps=res["step"], train_seconds=res["seconds"])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="TBM HR test images")
    ap.add_argument("--noise", type=float, default=0.0, help="per-pixel noise of the control")
    ap.add_argument("--steps", type=int, default=1500, help="control training steps; 0 = skip")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    res = {"tbm": compare(_load(args.data))}
    if args.steps > 0:
        with tempfile.TemporaryDirectory() as tmp:
            res["synthetic_control"] = control(args.noise, args.steps, Path(tmp))
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    for name, r in res.items():
        line = (f"{name:<18} bicubic {r['bicubic']:.2f} dB, band-limited oracle "
                f"{r['oracle_gain_db']:+.2f} dB, noise sigma {r['noise_sigma_gray']:.1f} gray, "
                f"JPEG blockiness {r['jpeg_blockiness']:.2f}")
        if "model" in r:
            line += (f", cnn {r['model_gain_db']:+.2f} dB (out-of-band captured "
                     f"{r['model_oob']:.2f})")
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
