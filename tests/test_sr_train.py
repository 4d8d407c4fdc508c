"""Tests of SR degradations and the SR training job."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _helpers import drive_and_stop  # noqa: E402

from napari_srmat.jobs import Checkpoint, Progress, Stopped, StopToken, run_job  # noqa: E402
from napari_srmat.outputs import OutputError  # noqa: E402
from napari_srmat.sr import load_model  # noqa: E402
from napari_srmat.sr.base import SRError  # noqa: E402
from napari_srmat.sr.degrade import (  # noqa: E402
    DegradationConfig,
    anisotropic_gaussian_kernel,
    degrade,
    jpeg_compress,
)
from napari_srmat.sr.train import PatchSampler, load_training_images, train_sr_job  # noqa: E402


def _texture(h, w, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for _ in range(6):
        f = rng.uniform(0.05, 0.5, 2)
        # sharp-edged stripes: bicubic blurs them, a trained model can sharpen them
        img += rng.uniform(0.2, 1.0, 3) * (np.sin(f[0] * yy + f[1] * xx + rng.uniform(0, 6))[
            ..., None] > 0)
    img = (img - img.min()) / (img.max() - img.min())
    return (img * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    from PIL import Image

    d = tmp_path_factory.mktemp("hr")
    for i in range(3):
        Image.fromarray(_texture(64, 72, i)).save(d / f"img_{i}.png")
    Image.fromarray(_texture(40, 40, 9)[..., 0]).save(d / "grey.png")
    Image.fromarray(_texture(64, 64, 7)).save(d / "held_out.png")
    return d


def _cfg(tmp_path, image_dir, **kw):
    cfg = dict(model="cnn", scale=2, out=str(tmp_path / "run"), data=[str(image_dir)],
               exclude=["held_out"], steps=30, batch_size=4, patch=32, lr=3e-3, warmup=2,
               ema=0.8, log_every=5, val_every=1000, arch={"n_feats": 8, "n_blocks": 2},
               num_threads=1)
    cfg.update(kw)
    return cfg


# ----------------------------------------------------------------- degradations
@pytest.mark.parametrize("mode", ["bicubic", "classical", "realesrgan"])
@pytest.mark.parametrize("scale", [2, 4])
def test_degrade_shapes(mode, scale):
    hr = torch.rand(3, 3, 32, 32)
    cfg = DegradationConfig(mode=mode, p_degrade=1.0, jpeg_prob=0.5)
    lr = degrade(hr, scale, cfg, np.random.default_rng(0))
    assert tuple(lr.shape) == (3, 3, 32 // scale, 32 // scale)
    assert float(lr.min()) >= 0 and float(lr.max()) <= 1


def test_degradation_components():
    k = anisotropic_gaussian_kernel(11, 2.0, 0.5, 0.3)
    assert k.shape == (11, 11) and abs(k.sum() - 1) < 1e-5
    assert not np.allclose(k, k.T)  # anisotropic and rotated
    x = torch.rand(2, 3, 16, 16)
    j = jpeg_compress(x, 50)
    assert j.shape == x.shape and float((j - x).abs().mean()) > 0.01
    with pytest.raises(ValueError, match="divisible"):
        degrade(torch.rand(1, 3, 30, 30), 4)
    with pytest.raises(ValueError, match="mode"):
        DegradationConfig(mode="sharpen")


def test_sampler_and_sources(image_dir, tmp_path):
    imgs = load_training_images([str(image_dir)], exclude=["held_out"])
    assert len(imgs) == 4 and all(im.shape[2] == 3 for im in imgs)
    s = PatchSampler(imgs, 48, seed=0)  # larger than the grey image: reflect padded
    b = s.sample(5)
    assert b.shape == (5, 3, 48, 48) and b.dtype == np.float32 and b.max() <= 1
    with pytest.raises(SRError, match="not found"):
        load_training_images([str(tmp_path / "missing")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SRError, match="no images"):
        load_training_images([str(tmp_path / "empty")])


def test_exclude_leaves_out_an_ome_tiff_by_either_stem(tmp_path):
    """``--exclude s13`` leaves out ``s13.ome.tif`` (the package's stem drops ``.ome``);
    the plain stem ``s13.ome`` still does too (runs started before keep theirs)."""
    import tifffile

    for name in ("s13.ome.tif", "s14.ome.tif", "s15.png"):
        if name.endswith(".tif"):
            tifffile.imwrite(tmp_path / name, _texture(32, 32, 1))
        else:
            from PIL import Image
            Image.fromarray(_texture(32, 32, 2)).save(tmp_path / name)
    assert len(load_training_images([str(tmp_path)])) == 3
    for exclude in (["s13"], ["s13.ome"]):
        assert len(load_training_images([str(tmp_path)], exclude=exclude)) == 2, exclude


# ----------------------------------------------------------------- training
def _fixed_loss(model, image_dir):
    from napari_srmat.sr.degrade import bicubic_downsample

    hr = torch.from_numpy(PatchSampler(load_training_images([str(image_dir)]), 32,
                                       seed=123).sample(8))
    lr = bicubic_downsample(hr, model.scale)
    with torch.no_grad():
        pred, _ = model.train_forward(lr)
    return float((pred - hr).abs().mean())


@pytest.mark.parametrize("name", ["cnn", "onestep"])
def test_training_reduces_loss(name, tmp_path, image_dir):
    arch = {"n_feats": 8, "n_blocks": 2} if name == "cnn" else \
        {"block_out_channels": [8, 16], "norm_num_groups": 4}
    cfg = _cfg(tmp_path, image_dir, model=name, arch=arch, steps=60 if name == "cnn" else 50,
               lr=3e-3 if name == "cnn" else 2e-3)
    res = run_job(train_sr_job(cfg), quiet=True)
    assert res["step"] == cfg["steps"] and not res["stopped"]
    untrained = load_model(name, scale=2, pretrained=False, **arch)
    trained = load_model(checkpoint=res["last"])
    before, after = _fixed_loss(untrained, image_dir), _fixed_loss(trained, image_dir)
    assert after < 0.95 * before, (before, after)
    hist = [h["loss"] for h in res["history"]]
    assert len(hist) >= 5 and all(np.isfinite(hist))


def test_ddpm_training_runs(tmp_path, image_dir):
    cfg = _cfg(tmp_path, image_dir, model="ddpm", steps=3, log_every=1,
               arch={"block_out_channels": [8, 16], "norm_num_groups": 4,
                     "num_inference_steps": 2})
    res = run_job(train_sr_job(cfg), quiet=True)
    assert res["step"] == 3 and len(res["history"]) == 3
    m = load_model(checkpoint=res["best"])
    x = np.random.default_rng(0).random((1, 3, 8, 8), dtype=np.float32)
    assert m.name == "ddpm" and m.predict(x).shape == (1, 3, 16, 16)


def test_validation_resume_and_stop(tmp_path, image_dir):
    cfg = _cfg(tmp_path, image_dir, steps=6, val=str(image_dir), val_every=3,
               max_val_images=2)
    events = []
    res = run_job(train_sr_job(cfg), quiet=True, on_event=events.append)
    assert res["step"] == 6 and res["best_psnr"] is not None
    assert any(isinstance(e, Checkpoint) and e.path.endswith("best") for e in events)
    assert "psnr" in res["val"] and "ssim" in res["val"] and res["bicubic_val"]

    # resume continues the step count
    cfg2 = dict(cfg, steps=10, resume=True)
    events = []
    res2 = run_job(train_sr_job(cfg2), quiet=True, on_event=events.append)
    assert res2["step"] == 10
    progress = [e for e in events if isinstance(e, Progress)]
    # the resume told as progress (the steps the earlier run trained), every later step
    # carrying it (the Train widget's 'done (resumed: 6/10 steps ...)'; before: resumed 0)
    assert [(e.done, e.resumed) for e in progress[:2]] == [(6, 6), (7, 6)]
    assert progress[-1].done == 10 and {e.resumed for e in progress} == {6}
    assert [h["step"] for h in res2["history"]][:1] == [5]  # history carried over

    # a stop request ends cleanly with a loadable checkpoint
    token = StopToken()
    out = tmp_path / "stopped"
    events, result = drive_and_stop(
        train_sr_job(dict(cfg, out=str(out), steps=50, val=None), stop=token), token, 3)
    assert isinstance(events[-1], Stopped)
    assert result["stopped"] and result["step"] == 3
    config = json.loads((out / "last" / "config.json").read_text())
    assert config["training"]["step"] == 3
    assert load_model(checkpoint=out / "last").name == "cnn"
    res3 = run_job(train_sr_job(dict(cfg, out=str(out), steps=5, val=None, resume=True)),
                   quiet=True)
    assert res3["step"] == 5


def test_resumed_run_equals_an_uninterrupted_one(tmp_path, image_dir):
    """A stopped and resumed run drew new crops and degradations (its generators were
    re-seeded from the step) and took its EMA from ``last`` (fp16 with ``half``): its
    weights differed from an uninterrupted run of the same seed. The state now keeps
    the generators and the float32 EMA: the weights are identical. A state without them
    (an older version's) still resumes, with a warning."""
    from safetensors.torch import load_file

    cfg = _cfg(tmp_path, image_dir, steps=6, batch_size=2, val=str(image_dir), val_every=3,
               max_val_images=1, log_every=1, half=True)
    whole = run_job(train_sr_job(dict(cfg, out=str(tmp_path / "a"))), quiet=True)
    token = StopToken()
    drive_and_stop(train_sr_job(dict(cfg, out=str(tmp_path / "b")), stop=token), token, 2)
    resumed = run_job(train_sr_job(dict(cfg, out=str(tmp_path / "b"), resume=True)),
                      quiet=True)
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in whole["history"]]
    for name in ("train_state", "last", "best"):
        a = load_file(str(tmp_path / "a" / name / "model.safetensors"))
        b = load_file(str(tmp_path / "b" / name / "model.safetensors"))
        assert all(torch.equal(a[k], b[k]) for k in a), name

    config_file = tmp_path / "b" / "train_state" / "config.json"
    config = json.loads(config_file.read_text())
    del config["rng"]
    config_file.write_text(json.dumps(config))
    events = []
    run_job(train_sr_job(dict(cfg, out=str(tmp_path / "b"), steps=8, resume=True)),
            quiet=True, on_event=events.append)
    assert any(getattr(e, "level", None) == "warning" and "records no random-generator "
               "state" in e.message for e in events)


def test_a_new_run_replaces_an_earlier_runs_checkpoints(tmp_path, image_dir):
    """A second run into the same folder (``overwrite``; the shipped weights' fine-tunes
    re-enter their folder) used to end cleanly and report ``best/``, which still held the
    first run's model when nothing was validated, and to skip its own ``last/`` when the first run's
    had the same step count: the new model was lost. Its own checkpoints are written.
    A stopped run resumed without validation ends with ``best/`` at its final step."""
    out = tmp_path / "run"
    cfg = _cfg(tmp_path, image_dir, steps=2)
    run_job(train_sr_job(cfg), quiet=True)
    first = {n: (out / n / "model.safetensors").read_bytes() for n in ("best", "last")}
    res = run_job(train_sr_job(dict(cfg, seed=7, overwrite=True)), quiet=True)
    assert res["best"] == str(out / "best") and res["last"] == str(out / "last")
    for name in ("best", "last"):
        config = json.loads((out / name / "config.json").read_text())
        assert config["training"]["seed"] == 7 and config["training"]["step"] == 2, name
        assert (out / name / "model.safetensors").read_bytes() != first[name], name
    assert (out / "best" / "model.safetensors").read_bytes() == \
        (out / "last" / "model.safetensors").read_bytes()  # no validation: the final model

    token = StopToken()
    drive_and_stop(train_sr_job(dict(cfg, out=str(tmp_path / "s"), steps=6), stop=token),
                   token, 3)
    run_job(train_sr_job(dict(cfg, out=str(tmp_path / "s"), steps=6, resume=True)),
            quiet=True)
    for name in ("best", "last"):
        config = json.loads((tmp_path / "s" / name / "config.json").read_text())
        assert config["training"]["step"] == 6, name


def test_resume_refuses_other_settings(tmp_path, image_dir):
    """resume continues only a run started with the same settings: more steps are fine,
    another loss, noise or data is refused in one line and the saved state is kept."""
    cfg = _cfg(tmp_path, image_dir, steps=2)
    run_job(train_sr_job(cfg), quiet=True)
    state = tmp_path / "run" / "train_state" / "config.json"
    before = state.read_text()
    with pytest.raises(SRError, match=r"other settings \(loss: stored 'l1' != requested 'mse'\)"):
        run_job(train_sr_job(dict(cfg, steps=4, resume=True, loss="mse")), quiet=True)
    with pytest.raises(SRError, match="other settings"):
        run_job(train_sr_job(dict(cfg, steps=4, resume=True, synthetic=1)), quiet=True)
    assert state.read_text() == before
    res = run_job(train_sr_job(dict(cfg, steps=4, resume=True, log_every=1)), quiet=True)
    assert res["step"] == 4


def test_bad_training_config(tmp_path, image_dir):
    with pytest.raises(SRError, match="train"):
        run_job(train_sr_job(_cfg(tmp_path, image_dir, model="bicubic")), quiet=True)
    with pytest.raises(SRError, match="patch"):
        run_job(train_sr_job(_cfg(tmp_path, image_dir, patch=30)), quiet=True)
    with pytest.raises(SRError, match="no training data"):
        run_job(train_sr_job(_cfg(tmp_path, image_dir, data=[])), quiet=True)
    for bad, match in [({"patch": 0}, "patch"), ({"synthetic": -1}, "synthetic"),
                       ({"resume": "no"}, "resume must be True or False"),
                       ({"time_limit_s": -1.0}, "time_limit_s"),
                       ({"time_limit_s": float("nan")}, "time_limit_s"),
                       ({"lr": float("inf")}, "learning rate"), ({"lr": -1e-3}, "learning rate"),
                       ({"num_threads": -1}, "num_threads"),
                       ({"seed": -1}, r"^seed must be an integer >= 0, got -1$"),
                       ({"seed": 2.5}, r"^seed must be an integer >= 0, got 2.5$")]:
        with pytest.raises((SRError, ValueError), match=match):
            run_job(train_sr_job(_cfg(tmp_path, image_dir, out=str(tmp_path / "bad"), **bad)),
                    quiet=True)
        assert not (tmp_path / "bad").exists()  # refused before the folder is made
    # a folder of the user's is refused before any training data is read
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(OutputError, match="did not write"):
        missing = [str(tmp_path / "none")]
        run_job(train_sr_job(_cfg(tmp_path, image_dir, out=str(mine), data=missing)), quiet=True)
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_training_stops_on_a_non_finite_loss(tmp_path):
    """A NaN pixel in a training image is refused when read (it would have been cast to
    0); a loss that becomes NaN anyway (e.g. a diverging learning rate) stops the run."""
    import tifffile

    data = tmp_path / "nan"
    data.mkdir()
    img = np.random.default_rng(0).random((64, 64, 3)).astype(np.float32)
    img[:] = np.nan
    tifffile.imwrite(data / "a.tif", img)
    cfg = {"data": [str(data)], "out": str(tmp_path / "run"), "model": "cnn", "scale": 2,
           "patch": 32, "steps": 3, "batch_size": 1, "arch": {"n_feats": 8, "n_blocks": 1}}
    with pytest.raises(SRError, match="NaN or infinite pixels"):  # refused when read
        run_job(train_sr_job(cfg), quiet=True)
    assert not (tmp_path / "run").exists()  # a run failing on its inputs leaves no folder
    # a layer's (Dask) data and a Zarr store are checked whole, chunk by chunk: a NaN
    # patch the random crops would miss used to train to "done"
    import dask.array as da
    import zarr

    from napari_srmat.sr.train import load_training_images

    good = np.random.default_rng(1).random((256, 256, 3)).astype(np.float32)
    patched = good.copy()
    patched[250:, 250:] = np.nan
    assert len(load_training_images([da.from_array(good, chunks=64)])) == 1
    with pytest.raises(SRError, match="array or layer.*NaN or infinite"):
        load_training_images([da.from_array(patched, chunks=64)])
    store = zarr.open(str(tmp_path / "img.zarr"), mode="w", shape=patched.shape,
                      chunks=(64, 64, 3), dtype="f4")
    store[:] = patched
    with pytest.raises(SRError, match=r"img\.zarr has NaN or infinite"):
        load_training_images([str(tmp_path / "img.zarr")])
    from napari_srmat.device import finite_loss

    with pytest.raises(ValueError, match="training loss became nan at step 7"):
        finite_loss(torch.tensor(float("nan")), 7)


def test_fine_tune_from_checkpoint_with_mse(tmp_path, image_dir):
    from napari_srmat.checkpoint import CheckpointError
    from napari_srmat.sr.train import _load_val, evaluate_sr

    base = run_job(train_sr_job(_cfg(tmp_path, image_dir, steps=20)), quiet=True)
    init = load_model(checkpoint=base["last"])
    val = _load_val(str(image_dir), 2)
    start_psnr = evaluate_sr(init, val)["psnr"]

    events = []
    cfg = _cfg(tmp_path, image_dir, out=str(tmp_path / "ft"), steps=20, lr=1e-3,
               init_checkpoint=base["last"], loss="mse", val=str(image_dir), val_every=10,
               max_val_images=2, arch={"n_feats": 99})  # arch comes from the checkpoint
    res = run_job(train_sr_job(cfg), quiet=True, on_event=events.append)
    # the starting point is validated and kept as "best" until beaten
    first = next(e for e in events if isinstance(e, Checkpoint))
    assert first.step == 0 and first.score == pytest.approx(start_psnr, abs=1e-4)
    assert res["best_psnr"] >= start_psnr - 1e-6
    tuned = load_model(checkpoint=res["last"])
    assert tuned.arch["n_feats"] == init.arch["n_feats"] == 8
    moved = [not torch.equal(a, b) for a, b in
             zip(tuned.net.state_dict().values(), init.net.state_dict().values())]
    assert any(moved)

    with pytest.raises(CheckpointError, match="cnn"):
        run_job(train_sr_job(dict(cfg, model="onestep", out=str(tmp_path / "x"))), quiet=True)
    with pytest.raises(SRError, match="loss"):
        run_job(train_sr_job(dict(cfg, loss="huber")), quiet=True)
    with pytest.raises(SRError, match="no shipped weights"):  # none ship for x2
        run_job(train_sr_job(dict(cfg, init_checkpoint="default", out=str(tmp_path / "y"))),
                quiet=True)


def test_fine_tune_from_shipped_weights(tmp_path, image_dir):
    from napari_srmat.sr.train import _load_val, evaluate_sr

    cfg = _cfg(tmp_path, image_dir, scale=4, steps=1, init_checkpoint="default",
               val=str(image_dir), val_every=1, max_val_images=2, arch={})
    events = []
    run_job(train_sr_job(cfg), quiet=True, on_event=events.append)
    shipped = load_model("cnn", scale=4, device="cpu")
    expected = evaluate_sr(shipped, _load_val(str(image_dir), 2))["psnr"]
    first = next(e for e in events if isinstance(e, Checkpoint))
    assert first.step == 0 and first.score == pytest.approx(expected, abs=1e-3)


def test_training_images_from_an_rgb_ome_zarr_are_channels_last(tmp_path):
    """An RGB OME-Zarr store keeps its level 0 as (c, y, x): SR training read that raw
    array, took the 3 channels for rows (crops of rows 0-3 of a channels-first array;
    since the patch check, "is 3 x 300 px, smaller than the training patch"). Stores are
    now read as every image is (``read_image``: lazy, (H, W, C))."""
    from napari_srmat import write_ome_zarr

    rgb = (np.random.default_rng(0).random((300, 280, 3)) * 255).astype(np.uint8)
    write_ome_zarr(rgb, tmp_path / "rgb.ome.zarr")
    (image,) = load_training_images([str(tmp_path / "rgb.ome.zarr")], patch=96)
    assert image.shape == (300, 280, 3)
    np.testing.assert_array_equal(image[10:20, 30:40], rgb[10:20, 30:40])


def test_synthetic_training_images_are_at_least_a_patch(tmp_path, monkeypatch):
    """Synthetic images of ``synthetic_size`` px smaller than the patch were trained on
    reflect-padded crops (and the CLI has no --synthetic-size): they are made one patch
    large instead; larger ones keep their size."""
    from napari_srmat.sr import train as train_mod

    sizes = []
    real = train_mod._synthetic_images

    def recording(n, size, seed, **kw):
        sizes.append(size)
        return real(n, size, seed, **kw)

    monkeypatch.setattr(train_mod, "_synthetic_images", recording)
    base = {"synthetic": 1, "model": "cnn", "scale": 2, "steps": 1, "batch_size": 1,
            "arch": {"n_feats": 8, "n_blocks": 1}}
    run_job(train_sr_job({**base, "synthetic_size": 48, "patch": 64,
                          "out": str(tmp_path / "a")}), quiet=True)
    run_job(train_sr_job({**base, "synthetic_size": 96, "patch": 64,
                          "out": str(tmp_path / "b")}), quiet=True)
    assert sizes == [64, 96]


def test_a_synth_folder_trains_on_its_micrographs_only(tmp_path):
    """``srmat synth`` writes a boundary mask and a label TIFF beside each micrograph:
    ``sr train --data`` on its folder counted 3 training images per micrograph and
    validated on the masks (bicubic PSNR inf). Its records say which file is the image."""
    from PIL import Image

    from napari_srmat.cli import main
    from napari_srmat.jobs import Log, Metric

    synth = tmp_path / "trdata"
    assert main(["synth", str(synth), "--size-px", "64", "--n", "2"]) == 0
    images = load_training_images([str(synth)])
    assert len(images) == 2
    micrograph = np.asarray(Image.open(synth / "synth_0000_image.png").convert("RGB"))
    assert np.array_equal(images[0], micrograph)
    # an image of the user's in the same folder is still a training image
    Image.fromarray(_texture(64, 64, 3)).save(synth / "mine.png")
    assert len(load_training_images([str(synth)])) == 3
    (synth / "mine.png").unlink()
    events = []
    run_job(train_sr_job(dict(model="cnn", scale=2, out=str(tmp_path / "run"),
                              data=[str(synth)], val=str(synth), steps=1, batch_size=2,
                              patch=32, val_every=1, arch={"n_feats": 8, "n_blocks": 2},
                              num_threads=1)), quiet=True, on_event=events.append)
    assert "2 training images (0 synthetic)" in [e.message for e in events
                                                 if isinstance(e, Log)]
    bicubic = next(e for e in events if isinstance(e, Metric) and "bicubic_psnr" in e.values)
    assert np.isfinite(bicubic.values["bicubic_psnr"])


def test_resume_refuses_other_images_given_by_the_same_name(tmp_path, image_dir,
                                                          monkeypatch):
    """--data / --val were recorded as typed and compared as text: resumed from another
    folder holding other images under the same name, the run continued on them (the
    original folder given by its absolute path was refused), and files changed in the
    folder were accepted. The resolved folders and their files decide now."""
    import shutil

    from PIL import Image

    first, other = tmp_path / "a", tmp_path / "b"
    shutil.copytree(image_dir, first / "hr")
    shutil.copytree(image_dir, other / "hr")
    Image.fromarray(_texture(64, 72, 5)).save(other / "hr" / "img_0.png")
    monkeypatch.chdir(first)
    cfg = _cfg(tmp_path, image_dir, data=["hr"], val="hr", val_every=2, max_val_images=2,
               steps=2)
    run_job(train_sr_job(cfg), quiet=True)
    state = (tmp_path / "run" / "train_state" / "config.json").read_text()
    monkeypatch.chdir(other)
    with pytest.raises(SRError, match=(
            rf"trained on other images \(data: {other / 'hr'}, the run was started with "
            rf"{first / 'hr'}; val: {other / 'hr'}, the run was started with {first / 'hr'}\)"
            "; resume it with the same images, or rerun with resume=False and "
            "overwrite=True to start over, or choose a new output folder$")):
        run_job(train_sr_job(dict(cfg, steps=4, resume=True)), quiet=True)
    assert (tmp_path / "run" / "train_state" / "config.json").read_text() == state
    res = run_job(train_sr_job(dict(cfg, data=[str(first / "hr")], val=str(first / "hr"),
                                    steps=4, resume=True)), quiet=True)
    assert res["step"] == 4
    training = json.loads((tmp_path / "run" / "last" / "config.json").read_text())["training"]
    assert training["data"] == [str(first / "hr")]
    assert training["inputs"]["val"]["path"] == str(first / "hr")
    # a validation image changed in the same folder ("best" would compare other scores)
    Image.fromarray(_texture(64, 72, 6)).save(first / "hr" / "grey.png")
    with pytest.raises(SRError, match=(
            rf"val: the files in {first / 'hr'} changed since the run was started \(then 2 "
            r"files, .*; now 2 files, .*\)")):
        run_job(train_sr_job(dict(cfg, data=[str(first / "hr")], val=str(first / "hr"),
                                  steps=6, resume=True)), quiet=True)
    # an older version's state: its sources as typed; absolute ones are compared as paths
    config_file = tmp_path / "run" / "train_state" / "config.json"
    config = json.loads(config_file.read_text())
    del config["settings"]["inputs"]
    config["settings"].update(data=["hr"], val=None)
    config_file.write_text(json.dumps(config))
    monkeypatch.chdir(first)
    older = dict(cfg, val=None, steps=6, resume=True)
    with pytest.raises(SRError, match=(
            "data: the run recorded it only as 'hr', relative to the folder it was started "
            "from .*: which folder that was is unknown")):
        run_job(train_sr_job(older), quiet=True)
    config["settings"]["data"] = [str(first / "hr")]
    config_file.write_text(json.dumps(config))
    events = []
    assert run_job(train_sr_job(older), quiet=True, on_event=events.append)["step"] == 6
    assert any(getattr(e, "level", None) == "warning" and "records no fingerprint of its "
               "images" in e.message for e in events)


def test_srmat_sr_train_refuses_a_resume_of_other_settings_in_its_flags(tmp_path, image_dir,
                                                                       capsys):
    """srmat sr train --resume of a run started with other settings is refused in one
    line naming srmat's flags (--out, --resume, --overwrite); a Python caller is told
    the keywords (test_resume_refuses_other_images_given_by_the_same_name)."""
    from napari_srmat.cli import main

    run = tmp_path / "run"
    args = ["sr", "train", "--data", str(image_dir), "--exclude", "held_out", "--model",
            "cnn", "--scale", "2", "--patch", "32", "--batch-size", "2", "--train-steps", "2",
            "--threads", "1", "--device", "cpu", "--out", str(run)]
    assert main(args) == 0
    state = (run / "train_state" / "config.json").read_text()
    capsys.readouterr()
    assert main([*args, "--resume", "--seed", "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after an [info] line
    assert err.startswith(f"srmat sr train: error: cannot resume {run}"), err
    # the setting by its flag, as srmat edges train's (one rule: sr.train.resume_refused)
    assert err.endswith("other settings (--seed: stored 0 != requested 3); resume it with "
                        "the same settings (only --train-steps, --val-every, log_every, "
                        "--device, --threads, --time-limit and half may change), or rerun "
                        "without --resume and with --overwrite to start over, or choose a "
                        "new output folder"), err
    assert (run / "train_state" / "config.json").read_text() == state


def test_new_run_into_a_run_folder_needs_overwrite(tmp_path, image_dir, capsys):
    """A rerun without --resume into a run's folder replaced its trained model; it is
    refused in one line unless --overwrite. An output inside the data folder is refused,
    as ``edges train`` refuses it."""
    from napari_srmat.cli import main

    run = tmp_path / "run"
    args = ["sr", "train", "--data", str(image_dir), "--exclude", "held_out", "--model",
            "cnn", "--scale", "2", "--patch", "32", "--batch-size", "2", "--train-steps", "2",
            "--threads", "1", "--device", "cpu", "--out", str(run)]
    assert main(args) == 0
    capsys.readouterr()
    best = (run / "best" / "model.safetensors").read_bytes()
    assert main([*args, "--seed", "3"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"srmat sr train: error: {run} holds a training run (2 steps, nothing validated); "
        "pass --resume to continue it or --overwrite to start over"]
    assert (run / "best" / "model.safetensors").read_bytes() == best
    with pytest.raises(OutputError) as info:  # the library too, in its keywords
        run_job(train_sr_job(_cfg(tmp_path, image_dir, steps=2)), quiet=True)
    assert str(info.value) == (f"{run} holds a training run (2 steps, nothing validated); "
                               "pass resume=True to continue it or overwrite=True to start "
                               "over")
    assert main([*args, "--seed", "3", "--overwrite"]) == 0
    assert (run / "best" / "model.safetensors").read_bytes() != best
    # --resume where the state is gone (best/ alone): a new run replaced best/ with a
    # warning only; refused unless --overwrite
    import shutil

    shutil.rmtree(run / "train_state")
    best = (run / "best" / "model.safetensors").read_bytes()
    capsys.readouterr()
    # the plain rerun is not offered --resume for it (until 2026-12-07 it was, and
    # --resume then refused it)
    assert main(args) == 2
    refusal = capsys.readouterr().err
    assert "cannot be resumed (its state is missing)" in refusal
    assert "--resume" not in refusal
    assert main([*args, "--resume"]) == 2
    assert "cannot be resumed (its state is missing)" in capsys.readouterr().err
    assert (run / "best" / "model.safetensors").read_bytes() == best
    inside = image_dir / "run"
    assert main([*args[:-1], str(inside)]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"srmat sr train: error: output {inside} lies inside the input {image_dir}: choose "
        "another output")
    assert not inside.exists()


def test_resume_compares_where_the_init_checkpoint_lies(tmp_path, image_dir, monkeypatch):
    """init_checkpoint (and teacher, pairs) were compared as typed: resumed from another
    folder, the same relative name meant other weights and the run continued."""
    import shutil

    base = _cfg(tmp_path, image_dir, steps=2, out=str(tmp_path / "w"))
    run_job(train_sr_job(base), quiet=True)
    first, other = tmp_path / "a", tmp_path / "b"
    for folder, seed in ((first, 0), (other, 5)):
        folder.mkdir()
        if seed == 0:
            shutil.copytree(tmp_path / "w" / "last", folder / "init")
        else:  # other weights under the same name
            run_job(train_sr_job(dict(base, out=str(tmp_path / "w5"), seed=seed)), quiet=True)
            shutil.copytree(tmp_path / "w5" / "last", folder / "init")
    monkeypatch.chdir(first)
    cfg = _cfg(tmp_path, image_dir, steps=2, init_checkpoint="init")
    run_job(train_sr_job(cfg), quiet=True)
    monkeypatch.chdir(other)
    with pytest.raises(SRError, match="init_checkpoint"):
        run_job(train_sr_job(dict(cfg, steps=4, resume=True)), quiet=True)
    res = run_job(train_sr_job(dict(cfg, steps=4, resume=True,
                                    init_checkpoint=str(first / "init"))), quiet=True)
    assert res is not None


def test_a_diverged_model_is_told_and_not_saved(tmp_path, image_dir):
    """lr=1e20: the loss of the step is finite (it is taken before the update), the update
    leaves weights whose outputs are NaN; validation then gave PSNR NaN and the run
    saved that model as last/ and train_state/ (and best/, 'the final model'), exit 0.
    It says the training diverged and writes no checkpoint."""
    out = tmp_path / "run"
    with pytest.raises(ValueError, match="^the training diverged at step 1: .*learning rate"):
        run_job(train_sr_job(_cfg(tmp_path, image_dir, steps=1, lr=1e20, val=str(image_dir),
                                  val_every=1)), quiet=True)
    assert not any((out / name).exists() for name in ("best", "last", "train_state"))


@pytest.mark.parametrize("val", [False, True])
def test_a_model_whose_outputs_diverged_is_not_saved_unvalidated(tmp_path, image_dir, val):
    """lr=1e20, one step, no validation (or stopped before the step's validation): the
    weights stay finite (~4e19) but the network's outputs are NaN; only the weights were
    checked before last/, train_state/ and best/ ('the final model') were written, exit 0.
    The outputs on the last batch are checked when no validation saw them."""
    out = tmp_path / "run"
    token = StopToken()
    extra = dict(val=str(image_dir), val_every=5) if val else {}
    with pytest.raises(ValueError, match="^the training diverged at step 1: the model's "
                                         "outputs .*learning rate"):
        run_job(train_sr_job(_cfg(tmp_path, image_dir, steps=2 if val else 1, lr=1e20,
                                  **extra), stop=token), quiet=True,
                on_event=lambda e: isinstance(e, Progress) and token.request_stop())
    assert not any((out / name).exists() for name in ("best", "last", "train_state"))


@pytest.mark.parametrize("folder", ["best", "last"])
def test_a_run_whose_checkpoint_folder_holds_a_file_of_the_users_is_refused_at_once(
        tmp_path, image_dir, folder):
    """A file the user put into RUN/best or RUN/last is never replaced
    (checkpoint.check_replaceable_checkpoint), but a resumed run found that out only at
    its first save there, after training. It is refused before any step."""
    from napari_srmat.outputs import OutputExistsError

    run_job(train_sr_job(_cfg(tmp_path, image_dir, steps=2)), quiet=True)
    notes = tmp_path / "run" / folder / "notes.txt"
    notes.write_text("mine")
    events = []
    with pytest.raises(OutputExistsError, match=f"{folder} is not a checkpoint folder "
                                                ".*notes.txt"):
        run_job(train_sr_job(_cfg(tmp_path, image_dir, steps=4, resume=True)), quiet=True,
                on_event=events.append)
    assert not any(isinstance(e, Progress) for e in events)
    assert notes.read_text() == "mine"


def test_a_run_folder_takes_one_run_and_a_killed_checkpoint_write_is_cleaned(
        tmp_path, image_dir):
    """A second run into the folder of a running one was not refused (both wrote its
    checkpoints), and a kill -9 during a checkpoint write left a hidden
    .last.<hex>.partial copy of the weights that nothing removed. A run holds the
    folder's lock (RUN.lock, pid and host): a second is refused in one line before its
    data load; a run that holds it removes the stale staging folders of its own
    checkpoints, and nothing else."""
    from napari_srmat.jobs import Log
    from napari_srmat.outputs import OutputLock, OutputLockedError

    run_job(train_sr_job(_cfg(tmp_path, image_dir, steps=2)), quiet=True)
    run = tmp_path / "run"
    with OutputLock(run):  # another run is writing the folder
        events = []
        with pytest.raises(OutputLockedError, match=rf"^{run} is being written by process "
                                                    rf"\d+ on .*; wait for it") as info:
            run_job(train_sr_job(_cfg(tmp_path, image_dir, steps=4, resume=True)),
                    quiet=True, on_event=events.append)
        assert "\n" not in str(info.value) and events == []
    killed = run / ".last.0a1b2c3d.partial"  # what atomic_directory left at the kill
    killed.mkdir()
    (killed / "model.safetensors").write_bytes(b"half")
    kept = [run / ".last.9f8e7d6c.partial", run / ".notes.0a1b2c3d.partial"]
    for k in kept:  # a file no checkpoint write makes, another name: not ours to remove
        k.mkdir()
        (k / "mine.txt").write_text("mine")
    events = []
    run_job(train_sr_job(_cfg(tmp_path, image_dir, steps=4, resume=True)), quiet=True,
            on_event=events.append)
    assert not killed.exists() and all((k / "mine.txt").exists() for k in kept)
    assert any(isinstance(e, Log) and killed.name in e.message for e in events)
    assert not (tmp_path / "run.lock").exists()  # released at the end


def test_a_run_through_a_link_to_a_running_folder_is_refused(tmp_path, image_dir):
    """The lock was named after the path given: a second run given a symbolic link to
    the folder of a running one (runlink -> run) locked runlink.lock and trained into
    run/ beside it. The lock is the folder's own, whatever name it is reached by."""
    from napari_srmat.outputs import OutputLock, OutputLockedError

    run_job(train_sr_job(_cfg(tmp_path, image_dir, steps=2)), quiet=True)
    (tmp_path / "runlink").symlink_to("run")
    with OutputLock(tmp_path / "run"), pytest.raises(OutputLockedError,
                                                     match="is being written by process"):
        run_job(train_sr_job(_cfg(tmp_path, image_dir, steps=4, resume=True,
                                  out=str(tmp_path / "runlink"))), quiet=True)
    assert not (tmp_path / "runlink.lock").exists()


def test_trained_checkpoint_is_exported_with_train_sr():
    """``trained_checkpoint`` (in ``sr.train.__all__``) was not re-exported from
    ``napari_srmat.sr`` as ``train_sr`` is (failed before: ImportError)."""
    import napari_srmat.sr as sr
    from napari_srmat.sr import train as sr_train

    assert sr.trained_checkpoint is sr_train.trained_checkpoint
    assert "trained_checkpoint" in sr.__all__
