"""Tests of the ``cgan`` (pix2pix-style) and ``refsr`` (reference-based) SR model kinds."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_srmat.jobs import run_job  # noqa: E402
from napari_srmat.sr import load_model, save_model_checkpoint, super_resolve  # noqa: E402
from napari_srmat.sr.base import SRError  # noqa: E402
from napari_srmat.sr.degrade import bicubic_downsample  # noqa: E402
from napari_srmat.sr.train import PatchSampler, load_training_images, train_sr_job  # noqa: E402
from napari_srmat.synth import generate_microstructure  # noqa: E402

CGAN = {"n_feats": 8, "depth": 2, "d_feats": 8, "d_layers": 2}
REFSR = {"n_feats": 8, "n_blocks": 1, "t_feats": 8, "v_feats": 2}

#: Synthetic "materials": the same generator settings give the same material.
MATERIALS = {
    "fine": {"mean_grain_size_px": 10},
    "coarse": {"mean_grain_size_px": 40},
    "grey_mottled": {"mean_grain_size_px": 20, "rgb": False, "texture": 0.6},
}


def _micrograph(material: str, seed: int, size: int = 128) -> np.ndarray:
    return generate_microstructure((size, size), seed=seed, **MATERIALS[material]).image


def _lr_of(hr_uint8: np.ndarray, scale: int) -> np.ndarray:
    hr = hr_uint8.astype(np.float32) / 255
    if hr.ndim == 2:
        hr = np.repeat(hr[..., None], 3, axis=2)
    t = torch.from_numpy(np.ascontiguousarray(hr.transpose(2, 0, 1)))[None]
    return bicubic_downsample(t, scale)[0].numpy().transpose(1, 2, 0)


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    from PIL import Image

    d = tmp_path_factory.mktemp("hr")
    for i in range(3):
        Image.fromarray(_micrograph("fine", seed=i, size=96)).save(d / f"fine_{i}.png")
    return d


def _cfg(tmp_path, image_dir, **kw):
    cfg = dict(scale=2, out=str(tmp_path / "run"), data=[str(image_dir)], steps=40,
               batch_size=4, patch=32, lr=3e-3, warmup=2, ema=0.8, log_every=5,
               val_every=1000, num_threads=1)
    cfg.update(kw)
    return cfg


def _fixed_batch(image_dir, scale=2):
    hr = torch.from_numpy(PatchSampler(load_training_images([str(image_dir)]), 32,
                                       seed=123).sample(8))
    return bicubic_downsample(hr, scale), hr


# --------------------------------------------------------------------------- cgan
@pytest.mark.parametrize("scale", [2, 4])
def test_cgan_shapes_and_untrained_equals_bicubic(scale):
    m = load_model("cgan", scale=scale, pretrained=False, device="cpu", **CGAN)
    x = np.random.default_rng(0).random((2, 3, 12, 14), dtype=np.float32)  # not a multiple of 4
    y = m.predict(x)
    assert y.shape == (2, 3, 12 * scale, 14 * scale) and y.dtype == np.float32
    ref = load_model("bicubic", scale=scale).predict(x)
    np.testing.assert_allclose(y, ref, atol=1e-6)  # zero-initialised output conv


def test_cgan_discriminator_step_leaves_the_generator_alone():
    m = load_model("cgan", scale=2, pretrained=False, device="cpu", **CGAN)
    g_before = {k: v.clone() for k, v in m.net.state_dict().items()}
    lr, hr = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 16, 16)
    loss = m.training_loss(lr, hr)
    # generator loss = adversarial + 100 * L1; the untrained generator output is bicubic
    up = torch.nn.functional.interpolate(lr, scale_factor=2, mode="bicubic")
    l1 = float(torch.nn.functional.l1_loss(up, hr))
    assert m.last_losses["l1"] == pytest.approx(l1, rel=1e-5)
    assert float(loss.detach()) == pytest.approx(m.last_losses["g_adv"] + 100 * l1, rel=1e-5)
    # gradients reach the generator only
    loss.backward()
    assert all(p.grad is None for p in m.disc.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.net.parameters())
    # a second call moves the discriminator again, never the generator
    d_before = {k: v.clone() for k, v in m.disc.state_dict().items()}
    m.training_loss(lr, hr)
    assert any(not torch.equal(d_before[k], v) for k, v in m.disc.state_dict().items())
    assert all(torch.equal(g_before[k], v) for k, v in m.net.state_dict().items())


def _untiled_reference(model, img, pad):
    """One untiled call on the reflect-padded image, cropped (what the engine reproduces)."""
    padded = np.pad(img, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
    out = model.predict(padded.transpose(2, 0, 1)[None])[0].transpose(1, 2, 0)
    s = model.scale
    return out[s * pad:-s * pad, s * pad:-s * pad]


def test_cgan_tiled_equals_untiled_on_an_aligned_grid():
    m = load_model("cgan", scale=2, pretrained=False, device="cpu", **CGAN)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in m.net.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05)
    # an even context (LR px) at x2: tiles start on the U-Net's 2**depth = 4 HR-pixel grid
    r = m.receptive_field + m.receptive_field % 2
    img = _lr_of(_micrograph("fine", 3, 140), 2)  # 70 x 70 LR
    tiled = super_resolve(img, m, tile=2 * (2 * r) + 12, overlap=2 * r, batch_size=3)
    ref = _untiled_reference(m, img, r + 2)
    assert tiled.shape == ref.shape == (140, 140, 3)
    np.testing.assert_allclose(tiled, ref, atol=1e-4)


def test_cgan_training_improves_and_round_trips(tmp_path, image_dir):
    cfg = _cfg(tmp_path, image_dir, model="cgan", arch=CGAN, steps=40)
    res = run_job(train_sr_job(cfg), quiet=True)
    assert res["step"] == 40 and not res["stopped"]
    trained = load_model(checkpoint=res["last"])
    assert trained.name == "cgan" and trained.arch == load_model(
        "cgan", scale=2, pretrained=False, **CGAN).arch
    lr, hr = _fixed_batch(image_dir)
    untrained = load_model("cgan", scale=2, pretrained=False, **CGAN)
    with torch.no_grad():
        before = float((untrained.train_forward(lr)[0] - hr).abs().mean())
        after = float((trained.train_forward(lr)[0] - hr).abs().mean())
    assert after < 0.95 * before, (before, after)
    # checkpoint: generator weights only (no discriminator), JSON config
    from safetensors.torch import load_file

    keys = load_file(str(tmp_path / "run" / "last" / "model.safetensors")).keys()
    assert keys == trained.net.state_dict().keys()
    config = json.loads((tmp_path / "run" / "last" / "config.json").read_text())
    assert config["model"] == "cgan" and config["arch"]["lambda_l1"] == 100
    save_model_checkpoint(trained, tmp_path / "copy")
    again = load_model(checkpoint=tmp_path / "copy")
    x = lr[:2].numpy()
    np.testing.assert_array_equal(again.predict(x), trained.predict(x))


def test_cgan_resume_restores_the_discriminator(tmp_path, image_dir):
    from napari_srmat.checkpoint import load_checkpoint
    from napari_srmat.sr.cgan import CGANSR

    cfg = _cfg(tmp_path, image_dir, model="cgan", arch=CGAN, steps=3, batch_size=2)
    run_job(train_sr_job(cfg), quiet=True)
    tensors, _ = load_checkpoint(tmp_path / "run" / "train_state")
    saved = {k[len("extra.disc."):]: v for k, v in tensors.items()
             if k.startswith("extra.disc.")}
    assert saved and any(k.startswith("extra.dopt.") for k in tensors)
    restored = []
    real = CGANSR.load_extra_train_state

    def spy(self, t):
        real(self, t)
        restored.append({k: v.clone() for k, v in self.disc.state_dict().items()})

    import unittest.mock as mock

    with mock.patch.object(CGANSR, "load_extra_train_state", spy):
        res = run_job(train_sr_job(dict(cfg, steps=4, resume=True)), quiet=True)
    assert res["step"] == 4 and len(restored) == 1
    assert restored[0].keys() == saved.keys()
    assert all(torch.equal(restored[0][k], saved[k].float()) for k in saved)


# --------------------------------------------------------------------------- refsr
@pytest.fixture(scope="module")
def refsr_run(tmp_path_factory, image_dir):
    """A tiny refsr training run on synthetic micrographs of two materials."""
    from PIL import Image

    d = tmp_path_factory.mktemp("train_two_materials")
    for i in range(2):
        Image.fromarray(_micrograph("fine", seed=10 + i, size=96)).save(d / f"fine_{i}.png")
        Image.fromarray(_micrograph("coarse", seed=20 + i, size=96)).save(d / f"coarse_{i}.png")
    out = tmp_path_factory.mktemp("refsr_run")
    cfg = _cfg(out, d, model="refsr", arch=REFSR, steps=40, batch_size=6)
    return run_job(train_sr_job(cfg), quiet=True)


def test_refsr_needs_a_reference_and_has_shapes():
    m = load_model("refsr", scale=4, pretrained=False, device="cpu", **REFSR)
    x = np.random.default_rng(0).random((2, 3, 10, 12), dtype=np.float32)
    with pytest.raises(SRError, match="reference") as e:
        m.predict(x)
    # worded for each caller (errors.worded_error), not "(CLI: --reference DIR)" in Python
    assert str(e.value) == ("refsr needs a reference image: call set_reference(image) or "
                            "use_reference_dir(image, DIR)")
    assert e.value.cli_message == "refsr needs a reference image: give --reference DIR"
    assert e.value.gui_message == "refsr needs a reference image: choose a folder in 'Reference'"
    m.set_reference(_micrograph("fine", 1, 64))
    y = m.predict(x)
    assert y.shape == (2, 3, 40, 48) and y.dtype == np.float32
    # untrained (zero tail) = bicubic; a grey batch works on the RGB network
    np.testing.assert_allclose(y, load_model("bicubic", scale=4).predict(x), atol=1e-6)
    assert m.predict(x[:, :1]).shape == (2, 1, 40, 48)


def test_refsr_training_improves_loss_and_round_trips(refsr_run, image_dir, tmp_path):
    assert refsr_run["step"] == 40
    trained = load_model(checkpoint=refsr_run["last"])
    untrained = load_model("refsr", scale=2, pretrained=False, **REFSR)
    lr, hr = _fixed_batch(image_dir)
    with torch.no_grad():
        before = float((untrained.train_forward(lr, hr=hr)[0] - hr).abs().mean())
        after = float((trained.train_forward(lr, hr=hr)[0] - hr).abs().mean())
    assert after < 0.95 * before, (before, after)
    hist = [h["loss"] for h in refsr_run["history"]]
    assert hist[-1] < hist[0]
    # round trip; the reference is a run setting, not saved with the model
    trained.set_reference(_micrograph("fine", 2, 64), name="ref.png")
    save_model_checkpoint(trained, tmp_path / "copy")
    config = json.loads((tmp_path / "copy" / "config.json").read_text())
    assert config["model"] == "refsr" and "reference" not in config["options"]
    again = load_model(checkpoint=tmp_path / "copy")
    again.set_reference(_micrograph("fine", 2, 64))
    x = lr[:2].numpy()
    np.testing.assert_array_equal(again.predict(x), trained.predict(x))
    # the reference is part of the output identity (resume refuses another reference)
    digest = again.weights_digest()
    again.set_reference(_micrograph("coarse", 2, 64))
    assert again.weights_digest() != digest


def test_refsr_picks_the_reference_of_the_same_material(refsr_run, tmp_path):
    from PIL import Image

    from napari_srmat.sr.refsr import pick_reference

    model = load_model(checkpoint=refsr_run["best"])
    refs = tmp_path / "refs"
    refs.mkdir()
    for name in MATERIALS:  # one HR micrograph per material, other seeds than the input's
        Image.fromarray(_micrograph(name, seed=50, size=192)).save(refs / f"{name}.png")
    (refs / "notes.txt").write_text("not an image")
    for material in ("fine", "coarse"):
        lr = _lr_of(_micrograph(material, seed=77, size=192), 2)
        best, scores = pick_reference(model, lr, refs)
        assert best.name == f"{material}.png", scores
        assert len(scores) == 3
    (tmp_path / "empty").mkdir()
    with pytest.raises(SRError, match="no reference images"):
        pick_reference(model, lr, tmp_path / "empty")


def test_refsr_reference_features_once_per_run_not_per_tile(refsr_run, monkeypatch):
    model = load_model(checkpoint=refsr_run["best"])
    model.set_reference(_micrograph("fine", 5, 96))
    calls = []
    real = model.net.values
    monkeypatch.setattr(model.net, "values", lambda hr: calls.append(hr.shape) or real(hr))
    img = _lr_of(_micrograph("fine", 6, 160), 2)  # 80 x 80 LR, several tiles
    r = model.receptive_field
    tiled = super_resolve(img, model, tile=4 * r + 16, overlap=2 * r, batch_size=2)
    assert len(calls) == 1
    ref = _untiled_reference(model, img, r + 2)
    assert tiled.shape == ref.shape == (160, 160, 3)
    # every tile attends to the same reference bank: tiled equals untiled
    np.testing.assert_allclose(tiled, ref, atol=1e-4)


def test_cli_sr_run_refsr_with_reference_dir(refsr_run, tmp_path, capsys):
    from PIL import Image

    from napari_srmat.cli import main

    refs = tmp_path / "refs"
    refs.mkdir()
    for name in MATERIALS:
        Image.fromarray(_micrograph(name, seed=60, size=192)).save(refs / f"{name}.png")
    lr = (_lr_of(_micrograph("coarse", seed=61, size=192), 2) * 255).round().astype(np.uint8)
    Image.fromarray(lr).save(tmp_path / "lr.png")
    rc = main(["sr", "run", str(tmp_path / "lr.png"), str(tmp_path / "out.zarr"), "--model",
               "refsr", "--checkpoint", refsr_run["best"], "--reference", str(refs),
               "--tile", "64", "--overlap", "16", "--json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"] == "refsr" and summary["output_shape"] == [192, 192, 3]
    assert summary["reference"].endswith("coarse.png")
    # --reference on another model, refsr without one: one-line errors
    rc = main(["sr", "run", str(tmp_path / "lr.png"), str(tmp_path / "o2.zarr"), "--model",
               "bicubic", "--reference", str(refs)])
    assert rc != 0 and "--reference DIR applies to the refsr model only" in capsys.readouterr().err
    rc = main(["sr", "run", str(tmp_path / "lr.png"), str(tmp_path / "o3.zarr"),
               "--checkpoint", refsr_run["best"]])
    err = capsys.readouterr().err
    assert rc != 0 and "needs --reference DIR" in err and "Traceback" not in err


def test_cli_sr_train_cgan_then_run(image_dir, tmp_path, capsys):
    from napari_srmat.cli import main
    from napari_srmat.io import read_image

    ckpt = tmp_path / "ck"
    rc = main(["sr", "train", "--data", str(image_dir), "--model", "cgan", "--scale", "2",
               "--train-steps", "2", "--batch-size", "2", "--patch", "32", "--out", str(ckpt),
               "--threads", "1", "--device", "cpu", "--json"])
    assert rc == 0
    assert json.loads(capsys.readouterr().out)["step"] == 2
    assert json.loads((ckpt / "best" / "config.json").read_text())["model"] == "cgan"
    out = tmp_path / "sr.zarr"
    rc = main(["sr", "run", str(image_dir / "fine_0.png"), str(out), "--checkpoint",
               str(ckpt / "best"), "--tile", "64", "--overlap", "24", "--json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"] == "cgan" and "reference" not in summary
    assert tuple(read_image(out).data.shape) == (192, 192, 3)


def test_refsr_refuses_a_cluster_before_touching_the_output(tmp_path, capsys):
    """refsr's reference is not sent to dask workers: a scheduler is refused up front,
    before OUT.partial exists, in the caller's words: super_resolve told a Python caller
    'run it without --scheduler' (a flag of srmat); it now says scheduler=None, and
    srmat sr run still names --scheduler."""
    from PIL import Image

    from napari_srmat.cli import main

    m = load_model("refsr", scale=2, pretrained=False, device="cpu", **REFSR)
    m.set_reference(_micrograph("fine", 1, 64))
    out = tmp_path / "o.zarr"
    img = _micrograph("fine", 2, 48)
    with pytest.raises(SRError) as info:
        super_resolve(img, m, out=out, scheduler="local:1")
    assert str(info.value) == (
        "refsr runs on this machine only (its reference image is not sent to cluster "
        "workers): run it with scheduler=None")
    assert not out.exists() and not (tmp_path / "o.zarr.partial").exists()
    refs = tmp_path / "refs"
    refs.mkdir()
    Image.fromarray(_micrograph("fine", 1, 64)).save(refs / "ref.png")
    Image.fromarray(img).save(tmp_path / "lr.png")
    rc = main(["sr", "run", str(tmp_path / "lr.png"), str(out), "--model", "refsr",
               "--checkpoint", str(save_model_checkpoint(m, tmp_path / "ck")),
               "--reference", str(refs), "--device", "cpu", "--scheduler", "local:1"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert rc == 2 and err == (
        "srmat sr run: error: refsr runs on this machine only (its reference image is not "
        "sent to cluster workers): run it without --scheduler"), err
    assert not out.exists() and not (tmp_path / "o.zarr.partial").exists()


def test_refsr_reference_candidates_follow_the_float_rule_and_are_named(tmp_path, capsys):
    """A 0-1000 float TIFF in the reference folder was picked and used as it was (read as
    white); a candidate too small to embed stopped the run with 'image 50x1 is too small'
    naming no file."""
    import shutil

    import tifffile
    from _helpers import tiny_refsr_and_references
    from PIL import Image

    from napari_srmat.cli import main

    ckpt, refs = tiny_refsr_and_references(tmp_path)
    m = load_model(checkpoint=ckpt, device="cpu")
    lr = _micrograph("fine", 2, 48)
    bright = np.random.default_rng(0).random((96, 96)).astype(np.float32) * 1000
    with pytest.raises(ValueError, match="reference is a float image"):
        m.set_reference(bright)
    for name, bad, message in (("bright.tif", bright, "float"),
                               ("thin.tif", np.zeros((50, 1), np.uint8), "too small")):
        folder = shutil.copytree(refs, tmp_path / f"refs_{name}")
        tifffile.imwrite(folder / name, bad)
        with pytest.raises(SRError, match=f"reference {folder / name}: .*{message}"):
            m.use_reference_dir(lr, folder)
        lr_file = tmp_path / "lr.png"
        Image.fromarray(lr).save(lr_file)
        out = tmp_path / f"{name}.zarr"
        rc = main(["sr", "run", str(lr_file), str(out), "--checkpoint", str(ckpt),
                   "--reference", str(folder)])
        err = capsys.readouterr().err
        assert rc == 2 and name in err and "Traceback" not in err and not out.exists(), err
    # the folder of good references still gives the same pick
    assert m.use_reference_dir(lr, refs)["reference"].startswith(str(refs))


def test_a_float_lr_input_of_refsr_is_named_the_image_not_the_reference(tmp_path):
    """The float rule of the references (80c67f3) was applied to the LR input's
    embedding too, under the name 'reference': a 0-255 float LR (a napari layer, a
    library array) with good references was refused as 'reference is a float image',
    sending the user to the reference folder."""
    from _helpers import tiny_refsr_and_references

    from napari_srmat.sr.refsr import embedding_similarity

    ckpt, refs = tiny_refsr_and_references(tmp_path)
    m = load_model(checkpoint=ckpt, device="cpu")
    lr = _micrograph("fine", 2, 48).astype(np.float32)  # 0-255 as float
    good_ref = _micrograph("fine", 3, 96)
    for call in (lambda: m.use_reference_dir(lr, refs),
                 lambda: embedding_similarity(m, lr, good_ref)):
        with pytest.raises(ValueError, match=r"^image is a float image") as info:
            call()
        assert "reference" not in str(info.value)
    # the same pixels as [0, 1] floats are the LR they were
    assert m.use_reference_dir(lr / 255, refs)["reference"].startswith(str(refs))
