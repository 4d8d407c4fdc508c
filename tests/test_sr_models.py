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
    SRError,
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


def test_model_argument_that_is_neither_a_name_nor_a_model():
    """super_resolve(image, 3) / plan_rescan(lr, 3) failed with "'int' object has no
    attribute 'receptive_field'" (an internal AttributeError); both load anything that is
    not an SRModel through load_model, which names the argument and what it takes."""
    from napari_srmat.sr import super_resolve
    from napari_srmat.sr.rescan import plan_rescan

    image = np.zeros((128, 128), np.float32)  # 0.1 of it holds a 32 px block
    for call in (lambda: super_resolve(image, 3), lambda: plan_rescan(image, 3.0),
                 lambda: load_model(["cnn"])):
        with pytest.raises(TypeError, match=r"^model must be an SR model name \(bicubic, .*"
                           r"a loaded SRModel .* or None \(the shipped default\), got "):
            call()


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


def test_a_weights_file_of_another_name_is_not_swapped_for_model_safetensors(tmp_path):
    """``--checkpoint ck/other.safetensors`` loaded ``ck/model.safetensors`` (the file's
    folder) without a word: the user's weights were never used."""
    path = save_model_checkpoint(tiny("cnn", scale=2), tmp_path / "ck")
    other = randomize(tiny("cnn", scale=2), seed=1)
    save_model_checkpoint(other, tmp_path / "other")
    (tmp_path / "other" / "model.safetensors").rename(path / "other.safetensors")
    with pytest.raises(CheckpointError, match="other.safetensors"):
        load_model(checkpoint=path / "other.safetensors")
    # the file named model.safetensors still names its checkpoint
    same = load_model(checkpoint=path / "model.safetensors")
    assert same.weights_digest() == load_model(checkpoint=path).weights_digest()
    assert same.weights_digest() != other.weights_digest()


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



# ---------------------------------------------------------------- per-tile sampling noise
STOCHASTIC = [
    pytest.param("ddpm", {}, id="ddpm"),
    pytest.param("ddpm", {"eta": 1.0}, id="ddpm-eta1"),  # noise in every scheduler step
    pytest.param("onestep", {"noise_std": 0.5}, id="onestep-noise"),
]


@pytest.mark.parametrize(("name", "kw"), STOCHASTIC)
def test_stochastic_tile_output_does_not_depend_on_its_batch(name, kw):
    m = randomize(tiny(name, scale=2, **kw), std=0.02)
    x = smooth_batch(3, 3, 16, 16)
    ids = [(0, 1), (4, 2), (7, 7)]
    y = m.predict(x, tile_ids=ids)
    for k in range(3):  # alone, or in another batch at another position: same pixels
        np.testing.assert_allclose(m.predict(x[k:k + 1], tile_ids=[ids[k]])[0], y[k],
                                   atol=1e-5)
    np.testing.assert_allclose(m.predict(x[::-1], tile_ids=ids[::-1]), y[::-1], atol=1e-5)
    # plain calls: the sample's index in the batch is its id
    plain = m.predict(x)
    for k in range(3):
        np.testing.assert_allclose(m.predict(x[k:k + 1], tile_ids=[k])[0], plain[k], atol=1e-5)
    np.testing.assert_allclose(m.predict(x[:2]), plain[:2], atol=1e-5)
    assert np.abs(m.predict(x[1:2], tile_ids=[(9, 9)]) - y[1]).max() > 0.01  # ids matter
    with pytest.raises(ValueError, match="tile_ids"):
        m.predict(x, tile_ids=ids[:2])


def test_deterministic_models_ignore_tile_ids():
    m = randomize(tiny("cnn", scale=2))
    x = smooth_batch(2, 3, 8, 8)
    np.testing.assert_array_equal(m.predict(x, tile_ids=[(0, 0), (5, 1)]), m.predict(x))


def test_ddpm_tiles_of_the_same_content_get_different_noise():
    from napari_srmat.sr import super_resolve

    m = randomize(tiny("ddpm", scale=2), std=0.02)
    # a flat image tiled in batches of 2: no tile repeats the noise of another tile
    o = m.receptive_field
    t = 2 * o + 40
    s = t - 2 * o
    b = 2 * o - 2 * (o // 2)
    img = np.full((t - 2 * o, b + 4 * s, 3), 0.5, np.float32)
    out = super_resolve(img, m, tile=t, overlap=o, batch_size=2)
    res = (out - 0.5).mean(axis=-1)
    flat = [res[:, 2 * (i * s + b):2 * (i + 1) * s].ravel() for i in range(4)]  # weight 1
    corr = np.corrcoef(np.stack(flat))
    assert np.abs(corr[np.triu_indices(4, 1)]).max() < 0.5
    x = np.repeat(smooth_batch(1, 3, 16, 16), 4, axis=0)
    y = m.predict(x, tile_ids=[(0, 0), (0, 1), (1, 0), (1, 1)])
    assert min(np.abs(y[a] - y[b]).mean() for a in range(4) for b in range(a)) > 0.02


def test_ddpm_stopped_and_resumed_equals_uninterrupted(tmp_path, monkeypatch):
    import napari_srmat.tiling._engine as engine
    from napari_srmat.io import read_image
    from napari_srmat.jobs import Progress, StopToken, run_job
    from napari_srmat.sr import super_resolve_job

    monkeypatch.setattr(engine, "TARGET_CHUNK", 64)  # several output chunks on a tiny image
    m = randomize(tiny("ddpm", scale=2), std=0.02)
    o = m.receptive_field
    t = 2 * o + 16
    img = (_image(3 * 16 + 20, 4 * 16 + 20) * 255).astype(np.uint8)
    kw = dict(tile=t, overlap=o)
    ref = tmp_path / "ref.ome.zarr"
    run_job(super_resolve_job(img, m, out=ref, batch_size=1, **kw), quiet=True)
    ref = np.asarray(read_image(ref).data)
    assert ref.dtype == np.uint8 and ref.shape == (136, 168, 3)

    path = tmp_path / "sr.ome.zarr"
    token = StopToken()

    def stop_after_a_few(ev):
        if isinstance(ev, Progress) and ev.done >= 5:
            token.request_stop()

    assert run_job(super_resolve_job(img, m, out=path, batch_size=3, stop=token, **kw),
                   quiet=True, on_event=stop_after_a_few) is None
    n_done = len(list((tmp_path / "sr.ome.zarr.partial" / ".srmat_done").iterdir()))
    assert not path.exists() and 0 < n_done < 9  # 3 x 3 chunks
    assert run_job(super_resolve_job(img, m, out=path, batch_size=3, **kw), quiet=True) == path
    got = np.asarray(read_image(path).data)
    assert np.abs(got.astype(int) - ref.astype(int)).max() <= 1


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
    # per-tile noise: a tile alone equals the same tile in a batch
    x2 = smooth_batch(2, 3, 16, 16, seed=3)
    y2 = m.predict(x2, tile_ids=[(0, 0), (2, 5)])
    np.testing.assert_allclose(m.predict(x2[1:], tile_ids=[(2, 5)])[0], y2[1], atol=1e-4)
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


@pytest.mark.slow
def test_diffusers_local_damaged_or_other_pipelines_are_one_line_errors(tmp_path, capsys):
    """A component config missing a field ended `srmat sr run` in 'internal error:
    IndexError' (exit 1), and a text-to-image pipeline loaded, then failed on the first
    tile with a message about its class labels."""
    import shutil

    from PIL import Image

    from napari_srmat.cli import main

    path = _tiny_upscale_pipeline(tmp_path / "pipe")
    damaged = shutil.copytree(path, tmp_path / "damaged")
    vae = json.loads((damaged / "vae" / "config.json").read_text())
    del vae["block_out_channels"]
    (damaged / "vae" / "config.json").write_text(json.dumps(vae))
    other = shutil.copytree(path, tmp_path / "text2img")
    index = json.loads((other / "model_index.json").read_text())
    index["_class_name"] = "StableDiffusionPipeline"
    (other / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match="damaged"):
        load_model("diffusers-local", checkpoint=damaged, device="cpu")
    with pytest.raises(CheckpointError, match="not an upscaling pipeline"):
        load_model("diffusers-local", checkpoint=other, device="cpu")
    img = tmp_path / "lr.png"
    Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(img)
    for ck, message in ((damaged, "cannot load diffusers pipeline"),
                        (other, "not an upscaling pipeline")):
        out = tmp_path / f"{ck.name}.zarr"
        rc = main(["sr", "run", str(img), str(out), "--model", "diffusers-local",
                   "--checkpoint", str(ck), "--sampling-steps", "1"])
        err = capsys.readouterr().err
        assert rc == 2 and message in err and "internal error" not in err, err
        assert not out.exists()


@pytest.mark.slow
def test_diffusers_local_whole_image_of_any_size_and_no_load_bars(tmp_path, capsys):
    """`srmat sr run --model diffusers-local --whole-image` on a 37 x 41 image was refused
    ("pipeline returned (144, 160) for input (37, 41); expected x4": the pipeline resizes
    its input down to a multiple of 4), and loading the pipeline drew diffusers'
    "Loading pipeline components..." bar on stderr. The input is now padded to the
    pipeline's multiple and the output cropped back; the bars are off while loading only."""
    import diffusers.utils.logging as dlog
    from PIL import Image

    from napari_srmat.cli import main
    from napari_srmat.io import read_image

    path = _tiny_upscale_pipeline(tmp_path / "pipe")
    img = tmp_path / "lr.png"
    rgb = np.random.default_rng(1).integers(0, 255, (37, 41, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(img)
    capsys.readouterr()
    out = tmp_path / "sr.zarr"
    rc = main(["sr", "run", str(img), str(out), "--model", "diffusers-local",
               "--checkpoint", str(path), "--whole-image", "--sampling-steps", "1"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert read_image(out).data.shape == (148, 164, 3)
    assert "Loading pipeline components" not in err and "Loading weights" not in err, err
    assert dlog.is_progress_bar_enabled()  # restored after the load
    # the model itself: any size in, exactly x4 out
    m = load_model("diffusers-local", checkpoint=path, device="cpu", num_inference_steps=1)
    assert m.predict(smooth_batch(1, 3, 13, 10)).shape == (1, 3, 52, 40)


def test_a_float_scale_loads_the_shipped_weights(recwarn):
    """scale=4.0 missed the shipped x4 weights (an ``isinstance(scale, int)`` test) and
    gave an untrained network, whose output equals bicubic, with only a warning."""
    from napari_srmat.sr import load_model
    from napari_srmat.sr.base import SRError

    four = load_model("cnn", scale=4.0, device="cpu")
    assert four.checkpoint is not None and four.checkpoint == load_model(
        "cnn", scale=4, device="cpu").checkpoint
    assert four.scale == 4 and isinstance(four.scale, int)
    assert not [w for w in recwarn if "no shipped weights" in str(w.message)]
    for bad in (2.5, "4", True):
        with pytest.raises(SRError, match="scale must be an integer"):
            load_model("cnn", scale=bad)


def test_a_model_without_shipped_weights_is_the_same_network_every_time():
    """cnn x2 (no shipped weights) got new random weights at every load: its weights'
    hash, part of an output's identity, never matched itself, so rerunning the same
    command was "made differently" and a stopped run could never be resumed. The
    global random state is left as it was."""
    import warnings

    import torch

    from napari_srmat.sr import load_model

    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no shipped weights"
        for name in ("cnn", "onestep", "cgan"):
            a, b = load_model(name, scale=2), load_model(name, scale=2)
            assert a.weights_digest() == b.weights_digest(), name
    assert torch.equal(torch.rand(3), expected_next)


def test_in_channels_of_a_checkpoint_is_its_own_and_refused_clearly_when_different(tmp_path):
    """load_model(checkpoint=..., in_channels=1), load_model("cnn", in_channels=1) (the
    shipped weights) and a config.json whose 'arch' names in_channels all failed with the
    constructor's "got multiple values for keyword argument 'in_channels'", even when the
    values agreed. The checkpoint's in_channels is one rule now: the same value is
    accepted, another one refused naming both."""
    grey = randomize(tiny("cnn", scale=2, in_channels=1))
    path = save_model_checkpoint(grey, tmp_path / "grey")
    x = smooth_batch(1, 1, 16, 16)
    same = load_model(checkpoint=path, in_channels=1, device="cpu")
    assert same.in_channels == 1
    np.testing.assert_allclose(same.predict(x), grey.predict(x), atol=1e-6)
    with pytest.raises(ChannelError, match=r"holds a model of grey input \(in_channels 1\); "
                                           r"in_channels=3 was requested") as err:
        load_model(checkpoint=path, in_channels=3)
    assert "multiple values" not in str(err.value)
    with pytest.raises(ChannelError, match=r"of RGB input \(in_channels 3\); "
                                           r"in_channels=1 was requested"):
        load_model("cnn", in_channels=1)  # the shipped x4 weights
    assert load_model("cnn", in_channels=3, device="cpu").in_channels == 3
    # config.json naming it in 'arch' too: the same value loads, another is one line
    cfg_path = path / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["arch"]["in_channels"] = 1
    cfg_path.write_text(json.dumps(cfg))
    np.testing.assert_allclose(load_model(checkpoint=path, device="cpu").predict(x),
                               grey.predict(x), atol=1e-6)
    del cfg["in_channels"]  # 'arch' alone says it
    cfg_path.write_text(json.dumps(cfg))
    assert load_model(checkpoint=path, device="cpu").in_channels == 1
    cfg["in_channels"], cfg["arch"]["in_channels"] = 1, 3
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"in_channels differs within it \(config\.json: "
                                              r"1, config\.json 'arch': 3\)"):
        load_model(checkpoint=path)


def test_an_rgb_image_on_a_grey_network_is_refused_in_words_a_user_can_act_on(tmp_path,
                                                                               capsys):
    """`srmat sr run rgb.png --checkpoint GREY_CNN` said "cnn takes 1 or 1 channel(s)
    (grey + alpha and RGBA drop their alpha); the image has 3", and predict on an RGB batch
    "the network takes 1 channel(s) (or 1 grey channel)": the grey network's refusal names
    what it takes and what to do now, in super_resolve, predict and srmat sr run."""
    from PIL import Image

    from napari_srmat.cli import main
    from napari_srmat.io import Micrograph
    from napari_srmat.sr import super_resolve

    grey = tiny("cnn", scale=2, in_channels=1)
    rgb = (_image(20, 24) * 255).astype(np.uint8)
    with pytest.raises(ChannelError) as err:
        super_resolve(rgb, grey)
    text = str(err.value)
    assert "1 or 1" not in text and "grey network" in text and "the image has 3" in text
    assert "convert the image to grey" in text, text
    with pytest.raises(ChannelError) as err:
        grey.predict(np.zeros((1, 3, 8, 8), np.float32))
    assert "1 grey channel" in str(err.value) and "(or 1" not in str(err.value)
    five = Micrograph(np.zeros((20, 24, 5), np.uint8), axes="YXC")  # a 5-channel file's
    with pytest.raises(ChannelError, match=r"3 channels \(RGB\) or 1 \(grey\).* has 5"):
        super_resolve(five, tiny("cnn", scale=2))  # (an array: the image-input rule's)
    path = save_model_checkpoint(grey, tmp_path / "grey")
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    rc = main(["sr", "run", str(tmp_path / "rgb.png"), str(tmp_path / "sr.zarr"),
               "--checkpoint", str(path)])
    err_text = capsys.readouterr().err.strip()
    assert rc == 2 and len(err_text.splitlines()) == 1 and "1 or 1" not in err_text, err_text
    assert "grey network" in err_text and "convert the image to grey" in err_text


def test_a_bad_option_given_with_a_checkpoint_is_the_option_s_error_not_the_checkpoint_s(
        tmp_path, capsys):
    """`srmat sr run --checkpoint DDPM --sampling-steps 0` said "checkpoint DIR:
    num_inference_steps must be an integer in [1, 1000], got 0 (model='ddpm', ...,
    arch={...})", and load_model(checkpoint=DDPM, seed=1.5) raised a CheckpointError:
    the user's option was blamed on a sound checkpoint, in Python's words in the CLI.
    Now it is the option's SRError (--sampling-steps in srmat)."""
    from PIL import Image

    from napari_srmat.cli import main
    from napari_srmat.sr import SRError

    path = save_model_checkpoint(tiny("ddpm", scale=2), tmp_path / "ddpm")
    for bad, field in ((dict(num_inference_steps=0), "num_inference_steps"),
                       (dict(seed=1.5), "seed"), (dict(eta=-1), "eta")):
        with pytest.raises(SRError, match=f"^{field} must be") as err:
            load_model(checkpoint=path, device="cpu", **bad)
        assert not isinstance(err.value, CheckpointError)
    big = json.loads((path / "config.json").read_text())  # the checkpoint's own fault stays
    big["arch"]["layers_per_block"] = 0
    (path / "config.json").write_text(json.dumps(big))
    with pytest.raises(CheckpointError, match="layers_per_block"):
        load_model(checkpoint=path, device="cpu", num_inference_steps=0)
    big["arch"]["layers_per_block"] = 1
    (path / "config.json").write_text(json.dumps(big))
    Image.fromarray((_image(20, 24) * 255).astype(np.uint8)).save(tmp_path / "lr.png")
    rc = main(["sr", "run", str(tmp_path / "lr.png"), str(tmp_path / "sr.zarr"),
               "--checkpoint", str(path), "--sampling-steps", "0"])
    err_text = capsys.readouterr().err.strip()
    assert rc == 2 and len(err_text.splitlines()) == 1, err_text
    assert "--sampling-steps must be an integer in [1, 1000], got 0" in err_text, err_text
    assert "checkpoint" not in err_text


def test_an_unknown_color_fix_is_refused_when_the_model_is_loaded(tmp_path):
    """load_model("onestep", color_fix="magic") (and the same with a checkpoint, or for
    ddpm / diffusers-local) loaded, and super_resolve failed on the first tile with a
    ValueError, an OME-Zarr run after its store was started. Now load_model refuses it
    (SRError naming the methods)."""
    for name in ("onestep", "ddpm"):
        with pytest.raises(SRError, match=r"unknown color_fix method 'magic'; use one of"):
            tiny(name, scale=2, color_fix="magic")
    path = save_model_checkpoint(tiny("onestep", scale=2), tmp_path / "onestep")
    with pytest.raises(SRError, match="color_fix") as err:
        load_model(checkpoint=path, device="cpu", color_fix="magic")
    assert not isinstance(err.value, CheckpointError)
    with pytest.raises(SRError, match="color_fix"):  # before looking for the pipeline
        load_model("diffusers-local", color_fix="magic")
    for ok in ("wavelet", "adain", "none", None):
        assert tiny("onestep", scale=2, color_fix=ok).options["color_fix"] == ok


@pytest.mark.parametrize("field, wrong, right", [("scale", 4, 2), ("scale", 3, 2),
                                                 ("in_channels", 1, 3)])
def test_a_config_json_naming_another_scale_or_channels_than_its_weights_says_which(
        tmp_path, capsys, field, wrong, right):
    """A checkpoint whose config.json says "scale": 4 for x2 weights (or in_channels 1
    for RGB weights) was refused as "does not match the architecture its config
    describes (...): 2 shape mismatch(es) (e.g. tail.weight: checkpoint (12, 8, 3, 3) vs
    config (48, 8, 3, 3))", leaving the user to work out the scale from tensor shapes.
    The refusal now names the field, the config's value and the weights' one; so does
    the refusal of a scale the model lacks ("cnn: unsupported scale 3; supported: 2, 4")."""
    from PIL import Image

    from napari_srmat.cli import main

    path = save_model_checkpoint(tiny("cnn", scale=2), tmp_path / "ck")
    cfg = json.loads((path / "config.json").read_text())
    cfg[field] = wrong
    (path / "config.json").write_text(json.dumps(cfg))
    said = (f"config.json says {field} {wrong}, but its weights are those of "
            f"{field} {right}: correct '{field}' in config.json")
    with pytest.raises(CheckpointError, match=said):
        load_model(checkpoint=path, device="cpu")
    Image.fromarray((_image(20, 24) * 255).astype(np.uint8)).save(tmp_path / "lr.png")
    rc = main(["sr", "run", str(tmp_path / "lr.png"), str(tmp_path / "sr.zarr"),
               "--checkpoint", str(path)])
    err_text = capsys.readouterr().err.strip()
    assert rc == 2 and len(err_text.splitlines()) == 1 and said in err_text, err_text


def test_a_checkpoint_folder_of_pickle_weights_says_they_are_pickles(tmp_path, capsys):
    """`srmat sr run --checkpoint DIR` on a folder holding config.json and model.pt (a
    PyTorch pickle) said only "checkpoint DIR has no model.safetensors", as for an
    empty folder; a .pt file given itself was refused as a pickle. The folder's pickle
    is now named, with why it is not loaded and what to do."""
    from PIL import Image

    from napari_srmat.cli import main

    path = save_model_checkpoint(tiny("cnn", scale=2), tmp_path / "ck")
    (path / "model.safetensors").rename(path / "model.pt")
    said = (f"checkpoint {path} has no model.safetensors: model.pt is a pickle, not "
            "loaded (pickles can run arbitrary code); convert it to model.safetensors")
    with pytest.raises(CheckpointError) as err:
        load_model(checkpoint=path)
    assert said in str(err.value)
    Image.fromarray((_image(20, 24) * 255).astype(np.uint8)).save(tmp_path / "lr.png")
    rc = main(["sr", "run", str(tmp_path / "lr.png"), str(tmp_path / "sr.zarr"),
               "--checkpoint", str(path)])
    err_text = capsys.readouterr().err.strip()
    assert rc == 2 and len(err_text.splitlines()) == 1 and said in err_text, err_text


@pytest.mark.slow
def test_diffusers_local_loads_without_the_libraries_log_lines(tmp_path, capfd):
    """Every `srmat sr run --model diffusers-local` printed diffusers' and transformers'
    log lines on stderr while loading (without accelerate: "Cannot initialize model with
    low cpu memory usage ... pip install accelerate", 5 lines; "[transformers]
    `CLIPImageProcessor` requires torchvision ..."), and a pipeline folder lacking its
    UNet weights gave "An error occurred while trying to fetch ..." before the one error
    line: 9 lines for one refusal. The libraries' logging is now at CRITICAL while the
    pipeline loads (restored after)."""
    import diffusers.utils.logging as dlog
    from PIL import Image

    from napari_srmat.cli import main

    path = _tiny_upscale_pipeline(tmp_path / "pipe")
    capfd.readouterr()
    before = dlog.get_verbosity()
    load_model("diffusers-local", checkpoint=path, device="cpu")
    assert capfd.readouterr().err == ""
    assert dlog.get_verbosity() == before
    for w in (path / "unet").glob("*.safetensors"):
        w.unlink()
    Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(tmp_path / "lr.png")
    rc = main(["sr", "run", str(tmp_path / "lr.png"), str(tmp_path / "sr.zarr"),
               "--model", "diffusers-local", "--checkpoint", str(path)])
    err = capfd.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert "cannot load diffusers pipeline" in err and "unet" in err, err


def _tiny_x2_upscale_pipeline(path):
    """:func:`_tiny_upscale_pipeline` with a VAE of two blocks: a x2 pipeline."""
    from diffusers import AutoencoderKL, StableDiffusionUpscalePipeline

    x4 = _tiny_upscale_pipeline(path.parent / (path.name + "_x4"))
    pipe = StableDiffusionUpscalePipeline.from_pretrained(str(x4), local_files_only=True)
    torch.manual_seed(0)
    pipe.register_modules(vae=AutoencoderKL(
        block_out_channels=[32, 64], in_channels=3, out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
        latent_channels=4, layers_per_block=1, scaling_factor=0.08333))
    pipe.save_pretrained(str(path))
    return path


@pytest.mark.slow
def test_a_x2_diffusers_pipeline_runs_at_its_own_scale_without_scale_given(tmp_path,
                                                                           capsys):
    """`srmat sr run --model diffusers-local --checkpoint X2_PIPELINE` (no --scale) was
    refused: "pipeline DIR magnifies x2, not x4", although a checkpoint of the other
    models runs at its own scale (--scale: "default 4 / checkpoint's"). A pipeline now
    runs at its own magnification unless another scale is asked for (then refused as
    before)."""
    from PIL import Image

    from napari_srmat.cli import main
    from napari_srmat.io import read_image

    path = _tiny_x2_upscale_pipeline(tmp_path / "pipe_x2")
    m = load_model("diffusers-local", checkpoint=path, device="cpu", num_inference_steps=1)
    assert m.scale == 2
    assert m.predict(smooth_batch(1, 3, 13, 10)).shape == (1, 3, 26, 20)
    with pytest.raises(ScaleError, match="magnifies x2, not x4"):
        load_model("diffusers-local", checkpoint=path, scale=4, device="cpu")
    Image.fromarray((_image(13, 17) * 255).astype(np.uint8)).save(tmp_path / "lr.png")
    rc = main(["sr", "run", str(tmp_path / "lr.png"), str(tmp_path / "sr.zarr"),
               "--model", "diffusers-local", "--checkpoint", str(path),
               "--sampling-steps", "1"])
    assert rc == 0, capsys.readouterr().err
    assert read_image(tmp_path / "sr.zarr").data.shape == (26, 34, 3)


@pytest.mark.slow
def test_a_pipeline_component_config_that_does_not_fit_its_weights_gives_no_library_advice(
        tmp_path):
    """A pipeline folder whose unet/config.json says in_channels 3 for weights of 7 was
    refused with diffusers' advice "You may consider adding `ignore_mismatched_sizes=True`
    in the model `from_pretrained` method": no option of load_model or srmat, and loading
    random weights in their place is what must not happen. The refusal now says the
    component's config.json does not describe its weights."""
    path = _tiny_upscale_pipeline(tmp_path / "pipe")
    cfg_path = path / "unet" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["in_channels"] = 3
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError) as err:
        load_model("diffusers-local", checkpoint=path, device="cpu")
    text = str(err.value)
    assert "ignore_mismatched_sizes" not in text and "\n" not in text, text
    assert "conv_in.weight" in text and "config.json does not describe its weights" in text
