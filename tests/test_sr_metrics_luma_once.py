"""``metrics.sr.evaluate_sr_pair`` takes the pair's float check, crop and luma once for
its ``psnr_y`` and ``ssim_y`` (they were taken again by each), with the same figures."""

from __future__ import annotations

import numpy as np
import pytest

import napari_srmat.metrics.sr as metrics_sr
from napari_srmat.metrics.sr import evaluate_sr_pair, psnr, rgb_to_y, shave, ssim


def _pair(kind: str, shape: tuple[int, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    hr = rng.random(shape)
    sr = np.clip(hr + rng.normal(scale=0.05, size=shape), 0, 1)
    if kind == "uint8":
        return (hr * 255).astype(np.uint8), (sr * 255).astype(np.uint8)
    if kind == "float32":
        return hr.astype(np.float32), sr.astype(np.float32)
    return hr, sr


def _old_figures(hr, sr, scale: int) -> tuple[float, float]:
    """The figures as evaluate_sr_pair took them before: psnr_y and ssim_y of its cropped
    pair, each taking the pair's check, crop and luma again."""
    a, b, s = metrics_sr._evaluated_pair(hr, sr, scale)
    a, b, s = metrics_sr._evaluated_pair(a, b, s)
    ya, yb = shave(rgb_to_y(a), s), shave(rgb_to_y(b), s)
    return psnr(ya, yb), ssim(ya, yb)


@pytest.mark.parametrize(
    ("kind", "shape", "scale", "seed"),
    [
        ("float64", (37, 41, 3), 2, 0),
        ("uint8", (48, 52, 3), 4, 1),
        ("float32", (45, 39), 3, 2),
        ("uint8", (64, 64), 2, 3),
        ("float64", (50, 47, 4), 4, 4),  # alpha dropped
    ],
)
def test_evaluate_sr_pair_gives_the_figures_of_the_old_path_bit_for_bit(kind, shape, scale, seed):
    """Guard (passed before): the same arithmetic, so the same floats."""
    hr, sr = _pair(kind, shape, seed)
    result = evaluate_sr_pair(hr, sr, scale)
    assert (result["psnr_y"], result["ssim_y"]) == _old_figures(hr, sr, scale)
    assert result["psnr_y"] == metrics_sr.psnr_y(hr, sr, scale)
    assert result["ssim_y"] == metrics_sr.ssim_y(hr, sr, scale)


def test_evaluate_sr_pair_takes_the_pair_once(monkeypatch):
    """Was: 3 takes of the pair (its own, psnr_y's and ssim_y's: the float check and luma
    of 1024 px images three times, about 0.08 s of 0.61 s). Now 1."""
    real, calls = metrics_sr._evaluated_pair, []

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(metrics_sr, "_evaluated_pair", counted)
    hr, sr = _pair("float64", (40, 40, 3), 5)
    evaluate_sr_pair(hr, sr, 2)
    assert len(calls) == 1
