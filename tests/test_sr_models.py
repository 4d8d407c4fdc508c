"""Tests of the SR model registry, models, checkpoints and tiled super-resolution."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_srmat.checkpoint import CheckpointError  # noqa: E402
from napari_srmat.sr import (  # noqa: E402
    ChannelError,
    ScaleError,
    UnknownModelError,
    available_models,
    color_fix,
    load_model,
    save_model_checkpoint,
)

TINY = {
    "bicubic": {},
    "lanczos": {},
    "cnn": {"n_feats": 8, "n_blocks": 2},
    "onestep": {"block_out_channels": (8, 16), "norm_num_groups": 4},
    "ddpm": {"block_out_channels": (8, 16), "norm_num_groups": 4, "num_inference_steps": 2},
}


def tiny(name, scale=4, **kw):
    opts = dict(TINY[name], **kw)
    if name in ("cnn", "onestep", "ddpm"):
        opts["pretrained"] = False
    return load_model(name, scale=scale, device="cpu", **opts)


def randomize(model, seed=0, std=0.05):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.net.parameters():
            p.add_(torch.randn(p.shape, generator=g) * std)
    return model


def smooth_batch(b=2, c=3, h=16, w=20, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.empty((b, c, h, w), np.float32)
    for i in range(b):
        for j in range(c):
            fy, fx, ph = rng.uniform(0.1, 0.4, 3)
            out[i, j] = 0.5 + 0.4 * np.sin(fy * yy + fx * xx + ph * 6)
    return out


def test_available_models():
    names = available_models()
    for n in ("bicubic", "lanczos", "cnn", "onestep", "ddpm", "diffusers-local"):
        assert n in names


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("name", ["bicubic", "lanczos", "cnn", "onestep", "ddpm"])
def test_models_shapes(name, scale):
    m = tiny(name, scale)
    x = smooth_batch(2, 3, 12, 16)
    y = m.predict(x)
    assert isinstance(y, np.ndarray)
    assert y.shape == (2, 3, 12 * scale, 16 * scale)
    assert y.dtype == np.float32
    assert 0.0 <= y.min() and y.max() <= 1.0
    assert m.name == name and m.scale == scale and m.receptive_field >= 2
    # torch in -> torch out
    yt = m.predict(torch.from_numpy(x))
    assert isinstance(yt, torch.Tensor) and tuple(yt.shape) == y.shape


def test_grey_input_on_rgb_network():
    m = randomize(tiny("cnn"))
    g = smooth_batch(1, 1, 10, 10)
    y = m.predict(g)
    assert y.shape == (1, 1, 40, 40)
    rgb = m.predict(np.repeat(g, 3, axis=1))
    np.testing.assert_allclose(y[:, 0], rgb.mean(axis=1), atol=1e-5)


def test_wrong_channels_and_shapes_are_clear_errors():
    m = tiny("cnn")
    with pytest.raises(ChannelError, match="channel"):
        m.predict(np.zeros((1, 2, 8, 8), np.float32))
    with pytest.raises(ChannelError, match=r"\(B, C, h, w\)"):
        m.predict(np.zeros((8, 8, 3), np.float32))


def test_bad_scale_and_name():
    with pytest.raises(ScaleError, match="scale"):
        load_model("cnn", scale=3, pretrained=False)
    with pytest.raises(ScaleError):
        load_model("bicubic", scale=0)
    with pytest.raises(UnknownModelError, match="available"):
        load_model("esrgan-9000")
    assert issubclass(ScaleError, ValueError)


def test_untrained_residual_models_equal_bicubic():
    x = smooth_batch()
    bic = load_model("bicubic").predict(x)
    np.testing.assert_allclose(tiny("cnn").predict(x), bic, atol=1e-6)
    np.testing.assert_allclose(tiny("onestep", color_fix="none").predict(x), bic, atol=1e-5)


def test_lanczos_constant_and_smooth():
    m = load_model("lanczos", scale=4)
    c = np.full((1, 1, 9, 11), 0.37, np.float32)
    np.testing.assert_allclose(m.predict(c), 0.37, atol=1e-5)
    # a slowly varying cosine is interpolated close to the analytic values
    n = 32
    xs = np.arange(n)
    row = 0.5 + 0.3 * np.cos(2 * np.pi * xs / 16)
    img = np.tile(row, (8, 1))[None, None].astype(np.float32)
    up = m.predict(img)[0, 0, 16]
    xo = (np.arange(n * 4) + 0.5) / 4 - 0.5
    ref = 0.5 + 0.3 * np.cos(2 * np.pi * xo / 16)
    assert np.abs(up - ref)[16:-16].max() < 0.01


def test_checkpoint_round_trip(tmp_path):
    for name in ("cnn", "onestep"):
        m = randomize(tiny(name, scale=2))
        x = smooth_batch(1, 3, 16, 16)
        path = save_model_checkpoint(m, tmp_path / name, training={"steps": 3})
        cfg = json.loads((path / "config.json").read_text())
        assert cfg["model"] == name and cfg["scale"] == 2 and cfg["arch"]
        assert cfg["training"]["steps"] == 3
        m2 = load_model(checkpoint=path, device="cpu")
        assert m2.name == name and m2.scale == 2 and m2.checkpoint == str(path)
        np.testing.assert_allclose(m2.predict(x), m.predict(x), atol=1e-6)
        with pytest.raises(ScaleError, match="x2"):
            load_model(checkpoint=path, scale=4)
        with pytest.raises(CheckpointError, match="not"):
            load_model("ddpm", checkpoint=path)


def test_pickle_and_missing_checkpoints_refused(tmp_path):
    pt = tmp_path / "weights.pt"
    pt.write_bytes(b"not really a pickle")
    with pytest.raises(CheckpointError, match="pickle"):
        load_model(checkpoint=pt)
    with pytest.raises(CheckpointError, match="not found"):
        load_model(checkpoint=tmp_path / "nope")
    d = tmp_path / "bin_only"
    d.mkdir()
    (d / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="safetensors"):
        load_model(checkpoint=d)


def test_ddpm_uncertainty():
    m = randomize(tiny("ddpm", scale=2), std=0.02)
    x = smooth_batch(1, 3, 8, 8)
    mean, std = m.predict_with_uncertainty(x, n_samples=3)
    assert mean.shape == std.shape == (1, 3, 16, 16)
    assert (std >= 0).all() and (std > 0).any()
    mean2, std2 = m.predict_with_uncertainty(x, n_samples=3)
    np.testing.assert_allclose(mean, mean2, atol=1e-6)  # seeded
    np.testing.assert_allclose(m.predict(x), m.predict(x), atol=1e-6)
    with pytest.raises(ValueError):
        m.predict_with_uncertainty(x, n_samples=0)


def test_color_fix():
    rng = np.random.default_rng(0)
    lr_up = torch.from_numpy(smooth_batch(1, 3, 64, 64))
    detail = torch.from_numpy(rng.normal(0, 0.05, (1, 3, 64, 64)).astype(np.float32))
    shifted = lr_up + detail + 0.2  # colour shift + high-frequency detail
    fixed = color_fix(shifted, lr_up, "wavelet")
    assert abs(float((fixed - lr_up).mean())) < 0.01
    assert float((fixed - lr_up).std()) > 0.02  # detail is kept
    ada = color_fix(shifted * 2, lr_up, "adain")
    np.testing.assert_allclose(ada.mean((2, 3)), lr_up.mean((2, 3)), atol=1e-4)
    np.testing.assert_allclose(ada.std((2, 3)), lr_up.std((2, 3)), rtol=1e-3)
    assert color_fix(shifted, lr_up, "none") is shifted
    with pytest.raises(ValueError, match="unknown"):
        color_fix(shifted, lr_up, "magic")


# ---------------------------------------------------------------- tiled inference
def _image(h, w, c=3, seed=1):
    return np.transpose(smooth_batch(1, c, h, w, seed)[0], (1, 2, 0))


def test_cnn_tiled_equals_untiled():
    from napari_srmat.sr import super_resolve

    m = randomize(tiny("cnn", scale=2), std=0.1)
    img = _image(70, 90)
    r = m.receptive_field
    overlap = 2 * r  # the engine is exact for receptive radius <= overlap // 2
    tiled = super_resolve(img, m, tile=2 * overlap + 12, overlap=overlap, batch_size=3)
    pad = r + 2
    padded = np.pad(img, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
    ref = m.predict(np.transpose(padded, (2, 0, 1))[None])[0].transpose(1, 2, 0)
    ref = ref[2 * pad:-2 * pad, 2 * pad:-2 * pad]
    assert tiled.shape == (140, 180, 3)
    np.testing.assert_allclose(tiled, ref, atol=1e-4)


def test_overlap_enlarged_to_receptive_field():
    from napari_srmat.sr.apply import resolve_overlap

    m = tiny("cnn")
    with pytest.warns(UserWarning, match="receptive field"):
        assert resolve_overlap(m, 2, 64) == m.receptive_field
    assert resolve_overlap(m, 40, 128) == 40
    with pytest.raises(ValueError, match="tile"):
        resolve_overlap(m, 40, 64)


def test_super_resolve_to_ome_zarr(tmp_path):
    from napari_srmat.io import read_image
    from napari_srmat.sr import super_resolve

    img = (_image(40, 48) * 255).astype(np.uint8)
    m = load_model("bicubic", scale=2)
    out = super_resolve(img, m, tile=32, overlap=8, out=tmp_path / "sr.zarr", pixel_size_um=0.5)
    mg = read_image(out)
    assert tuple(mg.data.shape) == (80, 96, 3)
    assert mg.pixel_size_um == pytest.approx(0.25)
    ref = super_resolve(img, m, tile=32, overlap=8)
    assert np.abs(np.asarray(mg.data) / 255.0 - ref).max() <= 1 / 255 + 1e-6
    attrs = json.loads((out / "zarr.json").read_text()) if (out / "zarr.json").exists() \
        else json.loads((out / ".zattrs").read_text())
    text = json.dumps(attrs)
    assert '"model": "bicubic"' in text and '"overlap": 8' in text and '"tile": 32' in text


# ---------------------------------------------------------------- diffusers-local
def _tiny_upscale_pipeline(path, safe=True):
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        DDPMScheduler,
        StableDiffusionUpscalePipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=7,
        out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
        attention_head_dim=8, use_linear_projection=True, num_class_embeds=100,
    )
    vae = AutoencoderKL(
        block_out_channels=[32, 32, 64], in_channels=3, out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 3, up_block_types=["UpDecoderBlock2D"] * 3,
        latent_channels=4, layers_per_block=1, scaling_factor=0.08333,
    )
    chars = "abcdefghijklmnopqrstuvwxyz"
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in chars:
        vocab[ch] = len(vocab)
        vocab[ch + "</w>"] = len(vocab)
    tok_dir = path.parent / (path.name + "_tok")
    tok_dir.mkdir()
    (tok_dir / "vocab.json").write_text(json.dumps(vocab))
    (tok_dir / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(tok_dir / "vocab.json"), str(tok_dir / "merges.txt"),
                              model_max_length=77)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32, intermediate_size=37,
        num_attention_heads=4, num_hidden_layers=2, vocab_size=len(vocab),
        max_position_embeddings=77, projection_dim=32,
    ))
    pipe = StableDiffusionUpscalePipeline(
        unet=unet, low_res_scheduler=DDPMScheduler(),
        scheduler=DDIMScheduler(prediction_type="v_prediction"), vae=vae,
        text_encoder=text_encoder, tokenizer=tokenizer, max_noise_level=350,
    )
    pipe.save_pretrained(str(path), safe_serialization=safe)
    return path


@pytest.mark.slow
def test_diffusers_local_round_trip(tmp_path):
    path = _tiny_upscale_pipeline(tmp_path / "pipe")
    m = load_model("diffusers-local", checkpoint=path, device="cpu", num_inference_steps=2)
    assert m.scale == 4 and m.name == "diffusers-local"
    x = smooth_batch(1, 3, 16, 16)
    y = m.predict(x)
    assert y.shape == (1, 3, 64, 64) and np.isfinite(y).all()
    np.testing.assert_allclose(m.predict(x), y, atol=1e-5)  # seeded
    g = m.predict(x[:, :1])
    assert g.shape == (1, 1, 64, 64)
    with pytest.raises(ScaleError):
        load_model("diffusers-local", checkpoint=path, scale=2)

    pk = _tiny_upscale_pipeline(tmp_path / "pickled", safe=False)
    assert list(pk.rglob("*.bin"))  # unet/vae pickled (transformers may still write safetensors)
    with pytest.raises(CheckpointError, match="pickle"):
        load_model("diffusers-local", checkpoint=pk)
    m2 = load_model("diffusers-local", checkpoint=pk, allow_pickle=True, num_inference_steps=1)
    assert m2.predict(x).shape == (1, 3, 64, 64)
    with pytest.raises(CheckpointError, match="model_index"):
        load_model("diffusers-local", checkpoint=tmp_path)
