"""The SR training validates with the SSIM ``srmat sr eval`` reports (``ssim_y``: the
Gaussian-window SSIM of the luma, less a ``scale`` px border), not another rule."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from napari_srmat.io import ImageSizeError
from napari_srmat.metrics.sr import evaluate_sr_pair, psnr_y, ssim_y
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
    # what to do instead (was not said)
    assert str(told.value).endswith("(20 px): use an image of at least 20 px a side, or "
                                    "leave it out")
    assert not out.exists()


@pytest.mark.parametrize(("scale", "side"), [(2, 65), (4, 66)])
def test_ssim_y_is_what_sr_eval_reports_of_a_side_not_a_multiple_of_the_scale(scale, side):
    """ssim_y left out the crop to a multiple of ``scale`` that ``srmat sr eval`` makes
    (evaluate_sr_pair): 0.947622 vs 0.947796 for a 66 px image at x4. One rule now:
    evaluate_sr_pair reports ssim_y's figure."""
    hr = _micrograph(side)
    sr = np.clip(hr + np.random.default_rng(3).normal(0, 0.05, hr.shape), 0, 1)
    assert ssim_y(hr, sr, scale) == evaluate_sr_pair(hr, sr, scale)["ssim_y"]


def test_an_image_too_small_to_evaluate_is_refused_by_each_figure_in_one_wording():
    """A 19 px image at x4 was scored by ssim_y and psnr_y (its 11 px border-less luma
    holds the SSIM window) but refused by ``srmat sr eval`` (cropped to 16 px, less the
    border, it does not): refused by all three now, in one wording."""
    small = _micrograph(19)
    told = []
    for figure in (ssim_y, psnr_y, evaluate_sr_pair):
        with pytest.raises(ImageSizeError) as refused:
            figure(small, small, 4)
        told.append(str(refused.value))
    assert told == [told[-1]] * 3
    assert told[0] == (
        "each image is 19 x 19 px, smaller than the least side evaluated at x4 (a "
        "multiple of 4 px, less a 4 px border, holding the 11 px SSIM window) (20 px): "
        "use an image of at least 20 px a side, or leave it out")
