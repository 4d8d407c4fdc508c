"""Structure-modulated diffusion training noise (``--noise structure``): known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_srmat.sr.base import SRError  # noqa: E402
from napari_srmat.sr.diffusion import structure_noise, structure_regions  # noqa: E402
from napari_srmat.sr.train import PatchSampler, SRTrainConfig, train_sr  # noqa: E402


def test_region_noise_means_follow_the_region_means():
    # two regions per sample (left / right halves; sample 1 has them the other way)
    h, w = 64, 64
    hr = torch.empty(2, 3, h, w)
    hr[0, :, :, :32], hr[0, :, :, 32:] = 0.2, 0.9
    hr[1, :, :, :32], hr[1, :, :, 32:] = 0.9, 0.2
    hr[0, 1] += 0.05  # channels differ too
    regions = torch.zeros(2, h, w, dtype=torch.long)
    regions[:, :, 32:] = 7
    g = torch.Generator().manual_seed(0)
    strength = 1.0
    noise = structure_noise(hr, regions, strength=strength, generator=g)
    assert noise.shape == hr.shape
    n = 32 * 64  # pixels per region and channel: the sample mean is within 4/sqrt(n) = 0.09
    for b in range(2):
        for c in range(3):
            for sl in (np.s_[:, :32], np.s_[:, 32:]):
                got = float(noise[b, c][sl].mean())
                want = strength * (2 * float(hr[b, c][sl].mean()) - 1)
                assert abs(got - want) < 4 / np.sqrt(n)
                assert abs(float(noise[b, c][sl].std()) - 1) < 0.1  # unit variance kept
    # the same regions with a flat image: all offsets equal, zero for mean 0.5
    flat = structure_noise(torch.full((1, 1, h, w), 0.5), regions[:1],
                           generator=torch.Generator().manual_seed(0))
    ref = torch.randn((1, 1, h, w), generator=torch.Generator().manual_seed(0))
    assert torch.allclose(flat, ref)


def test_structure_noise_rejects_mismatched_regions():
    with pytest.raises(SRError, match="regions"):
        structure_noise(torch.zeros(1, 3, 8, 8), torch.zeros(1, 8, 4, dtype=torch.long))


def test_slic_regions_stay_inside_two_tone_areas():
    img = np.zeros((64, 64, 3))
    img[:, 32:] = 1.0
    lab = structure_regions(img, area=256)
    assert lab.shape == (64, 64) and lab.min() == 0 and len(np.unique(lab)) >= 4
    assert not set(np.unique(lab[:, :32])) & set(np.unique(lab[:, 32:]))


def test_sampler_crops_labels_with_the_image():
    rng = np.random.default_rng(0)
    labels = np.kron(rng.integers(0, 50, (8, 8)), np.ones((10, 10), int))  # 80x80 blocks
    image = np.repeat((labels * 5).astype(np.uint8)[..., None], 3, axis=2)
    a = PatchSampler([image], 32, seed=3, labels=[labels])
    b = PatchSampler([image], 32, seed=3, labels=[labels])
    patches, regions = a.sample(6, return_labels=True)
    assert np.array_equal(patches, b.sample(6))  # the same crops with or without labels
    assert regions.shape == (6, 32, 32)
    assert np.allclose(patches[:, 0] * 255, regions * 5, atol=1e-3)
    # an image without labels gets SLIC regions of its crop
    c = PatchSampler([image], 32, seed=3)
    _, slic_regions = c.sample(2, return_labels=True)
    assert slic_regions.shape == (2, 32, 32) and slic_regions.max() >= 1


def test_tiny_ddpm_training_with_structure_noise(tmp_path):
    from napari_srmat.sr import load_model

    cfg = dict(model="ddpm", scale=2, out=str(tmp_path / "run"), synthetic=2,
               synthetic_size=64, steps=3, batch_size=2, patch=32, warmup=1, log_every=1,
               val_every=1000, num_threads=1, noise="structure",
               arch={"block_out_channels": [8, 16], "norm_num_groups": 4,
                     "num_inference_steps": 2})
    res = train_sr(cfg)
    assert res["step"] == 3 and all(np.isfinite(h["loss"]) for h in res["history"])
    config = json.loads((tmp_path / "run" / "best" / "config.json").read_text())
    assert config["training"]["noise"] == "structure"
    m = load_model(checkpoint=res["best"])  # inference is unchanged
    x = np.random.default_rng(0).random((1, 3, 8, 8), dtype=np.float32)
    assert m.predict(x).shape == (1, 3, 16, 16)


def test_structure_noise_is_a_ddpm_option(tmp_path, capsys):
    with pytest.raises(SRError, match="ddpm"):
        SRTrainConfig(model="cnn", noise="structure").validate()
    with pytest.raises(SRError, match="noise"):
        SRTrainConfig(model="ddpm", noise="pink").validate()
    from napari_srmat.cli import main

    rc = main(["sr", "train", "--synthetic", "1", "--model", "cnn", "--noise", "structure",
               "--out", str(tmp_path / "o")])
    assert rc == 2 and "ddpm" in capsys.readouterr().err
