"""The SR training validates with the SSIM ``srmat sr eval`` reports (``ssim_y``: the
Gaussian-window SSIM of the luma, less a ``scale`` px border), not another rule."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from napari_srmat.io import ImageSizeError
from napari_srmat.metrics.sr import evaluate_sr_pair
from napari_srmat.sr import load_model
from napari_srmat.sr.train import evaluate_sr, train_sr


def _micrograph(side: int, seed: int = 0) -> np.ndarray:
    """A smooth float32 RGB image in [0, 1] with some structure."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:side, :side] / side
    base = 0.5 + 0.3 * np.sin(9 * x + 4 * y) * np.cos(7 * y)
    rgb = np.stack([base, base * 0.9 + 0.05, base * 0.8 + 0.1], axis=-1)
    return np.clip(rgb + rng.normal(0, 0.03, rgb.shape), 0, 1).astype(np.float32)


@pytest.mark.parametrize("scale", [2, 4])
def test_validation_ssim_is_the_ssim_sr_eval_reports(scale):
    """Was scikit-image's 7x7 uniform-window SSIM of the three RGB channels: another
    figure than the ssim_y of ``srmat sr eval`` for the same images."""
    import torch

    from napari_srmat.sr.degrade import bicubic_downsample

    model = load_model("bicubic", scale=scale)
    hr = _micrograph(64)
    lr = bicubic_downsample(torch.from_numpy(hr.transpose(2, 0, 1).copy())[None], scale)
    sr = np.clip(model.predict(lr.numpy())[0].transpose(1, 2, 0), 0, 1)
    reported = evaluate_sr_pair(hr, sr, scale)["ssim_y"]
    assert evaluate_sr(model, [hr])["ssim"] == pytest.approx(reported, abs=1e-9)


def test_a_validation_image_too_small_for_the_ssim_window_is_refused(tmp_path):
    """Was accepted (the uniform 7 px window fitted a 16 px image); the SSIM of ``srmat
    sr eval`` at x4 needs 20 px (a multiple of 4, less a 4 px border, holding its 11 px
    window): refused, naming the file, before anything is written, not at the first
    validation."""
    data, val = tmp_path / "data", tmp_path / "val"
    data.mkdir()
    val.mkdir()
    Image.fromarray((_micrograph(32) * 255).astype(np.uint8)).save(data / "a.png")
    small = val / "v.png"
    Image.fromarray((_micrograph(16, 1) * 255).astype(np.uint8)).save(small)
    out = tmp_path / "ck"
    with pytest.raises(ImageSizeError) as told:
        train_sr({"model": "cnn", "scale": 4, "data": [str(data)], "val": str(val),
                  "steps": 1, "batch_size": 1, "patch": 16, "out": str(out),
                  "device": "cpu", "num_threads": 1})
    assert str(told.value).startswith(f"validation image {small} is 16 x 16 px, smaller "
                                      "than the least side evaluated at x4")
    assert not out.exists()
