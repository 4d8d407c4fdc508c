"""Spectral split of SR error and the band-limited oracle (napari_srmat.metrics.sr)."""

import numpy as np
import pytest
from scipy.fft import idctn

from napari_srmat.metrics.sr import band_limit, spectral_error_split


def _from_coeffs(coeffs):
    return idctn(coeffs, type=2, axes=(0, 1), norm="ortho")


def test_band_limit_keeps_in_band_and_removes_out_of_band_content():
    rng = np.random.default_rng(0)
    low = np.zeros((32, 40))
    low[:8, :10] = rng.normal(size=(8, 10))  # in band for scale 4
    high = np.zeros((32, 40))
    high[8:, :] = rng.normal(size=(24, 40))
    high[:8, 10:] = rng.normal(size=(8, 30))
    np.testing.assert_allclose(band_limit(_from_coeffs(low), 4), _from_coeffs(low), atol=1e-12)
    np.testing.assert_allclose(band_limit(_from_coeffs(high), 4), 0.0, atol=1e-12)
    both = _from_coeffs(low + high)
    np.testing.assert_allclose(band_limit(both, 4), _from_coeffs(low), atol=1e-12)


def test_band_limit_works_per_channel():
    rng = np.random.default_rng(1)
    img = rng.random((16, 16, 3))
    out = band_limit(img, 2)
    for c in range(3):
        np.testing.assert_allclose(out[..., c], band_limit(img[..., c], 2), atol=1e-12)


def test_error_split_adds_up_and_scores_oracle_and_perfect_result():
    rng = np.random.default_rng(2)
    hr = rng.random((24, 24, 3))
    noisy = hr + rng.normal(scale=0.05, size=hr.shape)
    split = spectral_error_split(hr, noisy, 4)
    assert split["mse"] == pytest.approx(np.mean((noisy - hr) ** 2), rel=1e-10)
    assert split["mse_in_band"] + split["mse_out_of_band"] == pytest.approx(split["mse"])
    # white noise spreads evenly: 1/16 of it falls below the x4 Nyquist limit
    assert split["mse_in_band"] / split["mse"] == pytest.approx(1 / 16, abs=0.03)

    oracle = spectral_error_split(hr, band_limit(hr, 4), 4)
    assert oracle["mse_in_band"] == pytest.approx(0.0, abs=1e-20)
    assert oracle["out_of_band_captured"] == pytest.approx(0.0, abs=1e-12)
    assert oracle["mse"] == pytest.approx(oracle["hr_out_of_band_energy"])
    assert spectral_error_split(hr, hr, 4)["out_of_band_captured"] == pytest.approx(1.0)
    # adding wrong detail is worse than adding none
    invented = band_limit(hr, 4) + rng.normal(scale=0.05, size=hr.shape)
    assert spectral_error_split(hr, invented, 4)["out_of_band_captured"] < 0


def test_bad_input_errors():
    a = np.zeros((4, 4))
    with pytest.raises(ValueError, match="shapes differ"):
        spectral_error_split(a, np.zeros((4, 5)), 2)
    with pytest.raises(ValueError, match="scale"):
        band_limit(a, 0)
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        band_limit(np.zeros(5), 2)


def test_psnr_and_ssim_refuse_values_outside_their_data_range():
    from napari_srmat.metrics.sr import essim, psnr, ssim

    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (32, 32), dtype=np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-3, 4, hr.shape), 0, 255).astype(np.uint8)
    # 8-bit images with the default data_range 1 gave -5.9 dB (42.3 dB with 255), an
    # 8-bit reference against a [0, 1] result -43.2 dB, without a word (SSIM's constants
    # were those of another range)
    for a, b in ((hr, sr), (hr, sr / 255.0)):
        with pytest.raises(ValueError, match=r"outside data_range 1 .*data_range=255"):
            psnr(a, b)
        with pytest.raises(ValueError, match=r"outside data_range 1 "):
            ssim(a, b)
    assert psnr(hr, sr, data_range=255) == pytest.approx(psnr(hr / 255.0, sr / 255.0))
    assert ssim(hr, sr, data_range=255) == pytest.approx(ssim(hr / 255.0, sr / 255.0))
    over = np.clip(hr / 255.0 * 1.1, 0, None)  # a result's overshoot stays measurable
    assert np.isfinite(psnr(hr / 255.0, over)) and 0 < essim(hr / 255.0, over) <= 1
    with pytest.raises(ValueError, match=r"\(H, W\).*rgb_to_y"):
        ssim(np.zeros((16, 16, 3)), np.zeros((16, 16, 3)))
