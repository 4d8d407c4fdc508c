"""Masked-image pretraining of the boundary model (napari_srmat.edges.pretrain)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_srmat import jobs
from napari_srmat.checkpoint import CheckpointError
from napari_srmat.edges.pretrain import MaskedPretrainConfig, mask_patches, masked_pretrain_job
from napari_srmat.synth import generate_microstructure


def _images(n=2, size=64):
    return [generate_microstructure((size, size), mean_grain_size_px=12, seed=s).image
            for s in range(n)]


def test_mask_patches_hides_the_requested_fraction_with_the_visible_mean():
    rng = np.random.default_rng(1)
    crop = rng.random((3, 32, 32)).astype(np.float32)
    masked, hidden = mask_patches(crop, 8, 0.25, rng)
    assert hidden.sum() == 4 * 64  # 4 of the 16 squares
    assert np.array_equal(masked[:, ~hidden], crop[:, ~hidden])
    assert np.allclose(masked[:, hidden], crop[:, ~hidden].mean(axis=1)[:, None])
    # the fill tells nothing about what is hidden: changing the hidden pixels changes
    # nothing in the masked crop
    first, hidden = mask_patches(crop, 8, 0.25, np.random.default_rng(7))
    other = crop.copy()
    other[:, hidden] += 10.0
    second, hidden_again = mask_patches(other, 8, 0.25, np.random.default_rng(7))
    assert np.array_equal(hidden_again, hidden) and np.array_equal(second, first)
    # one square always stays visible (its mean fills the others), a single square is refused
    masked, hidden = mask_patches(crop, 16, 0.99, rng)
    assert hidden.sum() == 3 * 256 and np.all(np.isfinite(masked))
    with pytest.raises(ValueError, match="at least two"):
        mask_patches(crop, 32, 0.5, rng)
    with pytest.raises(ValueError, match="multiple"):
        mask_patches(crop, 5, 0.5, rng)


def _masked_loss(net, images, seed=5):
    """L1 of the standardised grey level on hidden squares of fixed crops (eval mode)."""
    import torch

    from napari_srmat.edges.pretrain import _standardised_grey
    from napari_srmat.io import to_float01

    rng = np.random.default_rng(seed)
    xs, ys, hs = [], [], []
    for im in images:
        a = to_float01(np.asarray(im)).transpose(2, 0, 1).astype(np.float32)
        for y0 in (0, 32):
            crop = a[:, y0:y0 + 32, :32]
            masked, hidden = mask_patches(crop, 8, 0.5, rng)
            xs.append(masked)
            ys.append(_standardised_grey(crop))
            hs.append(hidden)
    with torch.no_grad():
        mu, _ = net.eval()(torch.from_numpy(np.stack(xs)))
    err = (mu[:, 0] - torch.from_numpy(np.stack(ys))).abs()
    return float(err[torch.from_numpy(np.stack(hs))].mean())


def test_pretraining_learns_and_its_checkpoint_starts_a_boundary_run(tmp_path):
    import torch

    from napari_srmat.edges import load_boundary_model
    from napari_srmat.edges.model import build_uaed, default_arch_config
    from napari_srmat.edges.train import train_boundaries_job

    out = tmp_path / "mim"
    events = []
    cfg = MaskedPretrainConfig(images=_images(), out=str(out), steps=150, batch_size=2,
                               crop=32, patch=8, lr=3e-3, num_threads=1)
    path = jobs.run_job(masked_pretrain_job(cfg), quiet=True, on_event=events.append)
    assert path == str(out)
    steps = [e for e in events if isinstance(e, jobs.Progress)]
    assert len(steps) == 150 and steps[-1].done == 150
    assert [e.path for e in events if isinstance(e, jobs.Checkpoint)] == [str(out)]
    with pytest.raises(CheckpointError, match="not a boundary model"):
        load_boundary_model(out, device="cpu")  # its output is not a probability
    model = load_boundary_model(out, device="cpu", for_init=True)
    assert model.config["pretraining"]["kind"] == "masked_image_modelling"
    assert model.config["pretraining"]["images"] == 2
    # hidden squares of fixed crops are filled in better than by the untrained network
    # (which outputs about 0, the mean: measured 0.69 against 0.83)
    torch.manual_seed(0)
    untrained = build_uaed(default_arch_config("tiny"))
    assert _masked_loss(model.net, _images()) < 0.9 * _masked_loss(untrained, _images())
    # a boundary run starts from it (and its result predicts)
    img = _images(1)[0]
    mask = generate_microstructure((64, 64), mean_grain_size_px=12, seed=0).boundaries
    logs = []
    res = jobs.run_job(train_boundaries_job(dict(
        train_images=[img], train_masks=[mask], epochs=1, pretrain_synthetic=0, crop=32,
        batch_size=1, num_threads=1, init_checkpoint=str(out), out=str(tmp_path / "run"))),
        quiet=True, on_event=lambda e: logs.append(getattr(e, "message", "")))
    assert res.epochs_done == 1
    assert f"initialised from {out}" in logs
    load_boundary_model(tmp_path / "run", device="cpu")


def test_pretraining_refuses_bad_input_and_writes_nothing(tmp_path):
    import dask.array as da

    with pytest.raises(ValueError, match="no images"):
        jobs.run_job(masked_pretrain_job({"images": [], "out": str(tmp_path / "a")}))
    with pytest.raises(ValueError, match="smaller than the crop"):
        jobs.run_job(masked_pretrain_job({"images": _images(1, 16), "out": str(tmp_path / "b"),
                                          "crop": 32, "patch": 8}))
    # NaN or Inf pixels (here outside most crops: refused whatever the seed draws)
    nan = _images(1, 64)[0].astype(np.float32) / 255
    nan[63, 63] = np.nan
    for images in ([nan], [da.from_array(nan, chunks=16)]):
        with pytest.raises(ValueError, match="^image 0 has NaN or infinite pixels"):
            jobs.run_job(masked_pretrain_job({"images": images, "out": str(tmp_path / "n"),
                                              "crop": 32, "patch": 8}))
    assert not (tmp_path / "n").exists()
    (tmp_path / "exists").mkdir()
    with pytest.raises(ValueError, match="already exists"):
        jobs.run_job(masked_pretrain_job({"images": _images(1), "out": str(tmp_path / "exists")}))
    for bad, match in [({"steps": 0}, "at least 1"), ({"batch_size": 0}, "at least 1"),
                       ({"patch": 0}, "at least 1"), ({"mask_ratio": 1.0}, "mask_ratio"),
                       ({"crop": 30, "patch": 8}, "multiple"), ({"encoder": "huge"}, "encoder"),
                       ({"crop": 32, "patch": 32}, "single patch"),
                       ({"lr": float("inf"), "crop": 32, "patch": 8}, "learning rate"),
                       ({"num_threads": -1, "crop": 32, "patch": 8}, "threads"),
                       ({"seed": -1, "crop": 32, "patch": 8}, r"^seed must be an integer >= "
                        r"0, got -1$"),
                       ({"seed": 2.5, "crop": 32, "patch": 8}, r"^seed must be an integer >= "
                        r"0, got 2.5$")]:
        with pytest.raises(ValueError, match=match):
            jobs.run_job(masked_pretrain_job({"images": _images(1), "out": str(tmp_path / "c"),
                                              **bad}))
    assert not (tmp_path / "c").exists()


def test_pretraining_stopped_or_failing_leaves_nothing(tmp_path, monkeypatch):
    token = jobs.StopToken()
    out = tmp_path / "stopped"

    def stop_after_three(event):
        if isinstance(event, jobs.Progress) and event.done == 3:
            token.request_stop()

    res = jobs.run_job(masked_pretrain_job(MaskedPretrainConfig(
        images=_images(1), out=str(out), steps=20, crop=32, patch=8, num_threads=1),
        stop=token), quiet=True, on_event=stop_after_three)
    assert res is None and not out.exists()
    # a failure while writing the checkpoint leaves no partial folder behind
    import napari_srmat.checkpoint as checkpoint

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "write_safetensors", broken)
    with pytest.raises(OSError, match="disk full"):
        jobs.run_job(masked_pretrain_job(MaskedPretrainConfig(
            images=_images(1), out=str(tmp_path / "failed"), steps=2, crop=32, patch=8,
            num_threads=1)))
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_pretraining_takes_grey_and_16_bit_images(tmp_path):
    from napari_srmat.edges import load_boundary_model

    grey16 = (_images(1)[0].mean(axis=2) * 65535).astype(np.uint16)
    path = jobs.run_job(masked_pretrain_job(MaskedPretrainConfig(
        images=[grey16, _images(1)[0]], out=str(tmp_path / "g"), steps=2, crop=32, patch=8,
        num_threads=1)))
    assert load_boundary_model(path, device="cpu", for_init=True).config["pretraining"][
        "images"] == 2


def test_cli_pretrain_then_train_from_it(tmp_path, capsys):
    import json

    from PIL import Image
    from test_edges_train import _write_dataset

    from napari_srmat.cli import main

    paths = []
    for i, img in enumerate(_images(2)):
        paths.append(str(tmp_path / f"scan_{i}.png"))
        Image.fromarray((np.asarray(img) * 255).astype(np.uint8)).save(paths[-1])
    out = tmp_path / "mim"
    rc = main(["edges", "pretrain", *paths, "--out", str(out), "--steps", "3", "--crop", "32",
               "--patch", "8", "--batch-size", "1", "--threads", "1", "--json"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["checkpoint"] == str(out) and report["images"] == 2 and report["steps"] == 3
    root = _write_dataset(tmp_path / "data")
    rc = main(["edges", "train", "--data", str(root), "--epochs", "1", "--crop", "32",
               "--steps-per-epoch", "1", "--threads", "1", "--device", "cpu",
               "--pretrain-synthetic", "0", "--init-checkpoint", str(out),
               "--out", str(tmp_path / "run"), "--json"])
    assert rc == 0
    assert json.loads(capsys.readouterr().out)["epochs_done"] == 1
    # refused, one line each, nothing written: an existing output, a missing image, bad
    # settings
    for argv in (["edges", "pretrain", paths[0], "--out", str(out)],
                 ["edges", "pretrain", str(tmp_path / "nope.png"), "--out", str(tmp_path / "x")],
                 ["edges", "pretrain", paths[0], "--out", str(tmp_path / "y"), "--crop", "30",
                  "--patch", "8"]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "error" in err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


class _WindowOnly:
    """A lazy image that records every read and refuses any larger than a window."""

    def __init__(self, array, side):
        self.array, self.side, self.reads = array, side, []
        self.shape, self.dtype, self.ndim = array.shape, array.dtype, array.ndim

    def __getitem__(self, key):
        rows, cols = key[0], key[1]
        assert rows.stop - rows.start <= self.side and cols.stop - cols.start <= self.side
        self.reads.append(key)
        return self.array[key]


def test_lazy_images_are_read_crop_by_crop_with_the_same_result(tmp_path):
    import dask.array as da
    from safetensors.numpy import load_file

    arrays = [(np.asarray(img) * 255).astype(np.uint8) for img in _images(2, 80)]
    outs = {}
    lazy = [_WindowOnly(a, 32) for a in arrays]
    for name, images in [("numpy", arrays), ("dask", [da.from_array(a, chunks=(17, 23, 3))
                                                      for a in arrays]), ("lazy", lazy)]:
        path = jobs.run_job(masked_pretrain_job(MaskedPretrainConfig(
            images=images, out=str(tmp_path / name), steps=4, batch_size=2, crop=32,
            patch=8, num_threads=1)))
        w = load_file(str(tmp_path / name / "model.safetensors"))
        outs[name] = np.concatenate([w[k].ravel() for k in sorted(w)])
        assert path == str(tmp_path / name)
    assert sum(len(x.reads) for x in lazy) == 4 * 2  # one window per crop, nothing else
    assert np.array_equal(outs["numpy"], outs["dask"])
    assert np.array_equal(outs["numpy"], outs["lazy"])


@pytest.mark.parametrize("steps", [1, 2])
def test_pretraining_whose_last_step_diverges_writes_no_checkpoint(tmp_path, steps):
    """lr=1e9: the loss of the last step is finite, its update makes the weights NaN (or
    so large that the network's outputs are NaN in eval mode); the checkpoint was
    written with them (exit 0), and a training run from it failed. Refused, nothing
    written."""
    out = tmp_path / "p"
    with pytest.raises(ValueError, match="training diverged|training loss became"):
        jobs.run_job(masked_pretrain_job(MaskedPretrainConfig(
            images=_images(2), out=str(out), steps=steps, batch_size=2, crop=32, patch=16,
            lr=1e9, num_threads=1)))
    assert not out.exists()


def test_pretraining_picks_its_device_as_training_does():
    # Was "cpu": srmat edges pretrain (and the library) ran on the CPU of a GPU machine
    # without a word, while every other model command defaults to "auto"
    from napari_srmat.edges.config import BoundaryTrainConfig

    assert MaskedPretrainConfig().device == BoundaryTrainConfig().device == "auto"


@pytest.mark.parametrize("name", ["ck.png", "ck.ome.tif"])
def test_pretraining_refuses_a_checkpoint_folder_named_like_an_image(tmp_path, name):
    """masked_pretrain_job (Python) wrote its checkpoint folder under a name like an
    image file (out="ck.png"): only `srmat edges pretrain` refused it. The job refuses
    it too, before any step (outputs.check_folder_name, the rule of every output
    folder)."""
    from napari_srmat.outputs import OutputError

    with pytest.raises(OutputError, match="the output is a folder, not a "):
        jobs.run_job(masked_pretrain_job({"images": _images(1), "out": str(tmp_path / name),
                                          "steps": 1, "batch_size": 1, "crop": 32,
                                          "patch": 8, "num_threads": 1}), quiet=True)
    assert not list(tmp_path.iterdir())


def test_cli_pretrain_refuses_an_image_given_twice(tmp_path, capsys):
    """Was accepted: `srmat edges pretrain a.png ./a.png` pretrained on a.png twice as
    often as on the other images (its crops drawn from two entries), without a word. It
    is refused as the other commands refuse an input given twice
    (:func:`napari_srmat.cli.check_distinct_inputs`): one line, exit 2, nothing written."""
    from PIL import Image

    from napari_srmat.cli import main

    path = tmp_path / "scan.png"
    Image.fromarray((np.asarray(_images(1)[0]) * 255).astype(np.uint8)).save(path)
    (tmp_path / "link.png").symlink_to(path)
    out = tmp_path / "mim"
    # a new str each (str(path) is cached: the same object twice is one argument)
    for again in (f"{tmp_path}/scan.png", f"{tmp_path}/./scan.png", f"{tmp_path}/link.png"):
        rc = main(["edges", "pretrain", str(path), again, "--out", str(out), "--train-steps", "1",
                   "--crop", "32", "--patch", "8", "--batch-size", "1", "--threads", "1"])
        assert rc == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"srmat edges pretrain: error: image {path} is given twice "
                              f"(also as {again})"), err
        assert err.count("\n") == 0
        assert not out.exists()


def test_pretraining_loss_lines_count_the_steps_done(tmp_path, capsys):
    """Was ``[pretrain 2]`` after 3 of 3 steps (the 0-based index) beside ``3/3`` in the
    progress and ``step=3`` in the checkpoint: the log tells the steps done, as the SR
    training's does (Metric's "step" unit, jobs.Metric.told_step)."""
    events = []
    jobs.run_job(masked_pretrain_job(MaskedPretrainConfig(
        images=_images(1), out=str(tmp_path / "mim"), steps=3, batch_size=1, crop=32,
        patch=8, num_threads=1)), on_event=events.append)
    metrics = [e for e in events if isinstance(e, jobs.Metric)]
    assert [(m.step, m.told_step, m.split) for m in metrics] == [(3, 3, "pretrain")]
    assert "[pretrain 3] loss=" in capsys.readouterr().err
