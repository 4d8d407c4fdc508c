"""UAED training job: events, checkpoints, stop, resume, CLI."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from napari_srmat.edges.data import (
    BoundaryDataError,
    BoundarySample,
    dilate_boundaries,
    random_crop_augment,
    synthetic_samples,
    to_model_image,
)
from napari_srmat.edges.train import BoundaryTrainConfig, train_boundaries, train_boundaries_job
from napari_srmat.jobs import (
    AlreadyComplete,
    Checkpoint,
    Metric,
    Progress,
    Stopped,
    StopToken,
    run_job,
)

torch.set_num_threads(1)


def _arrays(n=3, size=40, seed=0):
    """Images with a bright band on a dark background and the band's edges as masks."""
    rng = np.random.default_rng(seed)
    imgs, masks = [], []
    for _ in range(n):
        img = (rng.random((size, size, 3)) * 40).astype(np.uint8)
        r = int(rng.integers(8, size - 16))
        img[r : r + 8] += 150
        m = np.zeros((size, size), np.uint8)
        m[r - 1 : r + 2] = 255
        m[r + 7 : r + 10] = 255
        imgs.append(img)
        masks.append(m)
    return imgs, masks


def _write_dataset(root: Path, n=(3, 2, 2), size=40):
    from PIL import Image

    for split, k in zip(("train", "val", "test"), n):
        imgs, masks = _arrays(k, size, seed={"train": 1, "val": 2, "test": 3}[split])
        (root / split / "images").mkdir(parents=True)
        (root / split / "masks").mkdir(parents=True)
        for i, (im, m) in enumerate(zip(imgs, masks)):
            Image.fromarray(im).save(root / split / "images" / f"im{i}.png")
            Image.fromarray(m).save(root / split / "masks" / f"im{i}.png")
    return root


def _cfg(tmp_path, **kw):
    imgs, masks = _arrays()
    vimgs, vmasks = _arrays(2, seed=5)
    base = dict(train_images=imgs, train_masks=masks, val_images=vimgs, val_masks=vmasks,
                out=str(tmp_path / "run"), encoder="tiny", epochs=2, steps_per_epoch=2,
                crop=32, lr=1e-3, device="cpu")
    base.update(kw)
    return base


def test_data_helpers():
    img = to_model_image(np.full((5, 6), 65535, np.uint16))
    assert img.shape == (3, 5, 6) and img.dtype == np.float32 and np.allclose(img, 1)
    assert to_model_image(np.zeros((4, 4, 4), np.uint8)).shape == (3, 4, 4)
    # grey + alpha is grey (the io channel rule); five channels suggest a wrong axis order
    grey_alpha = np.dstack([np.full((4, 4), 51, np.uint8), np.full((4, 4), 255, np.uint8)])
    assert np.allclose(to_model_image(grey_alpha), 0.2)
    with pytest.raises(BoundaryDataError):
        to_model_image(np.zeros((4, 4, 5)))
    thin = np.zeros((20, 20), bool)
    thin[10] = True
    assert dilate_boundaries(thin, 3).sum() == 3 * 20
    rng = np.random.default_rng(0)
    image = np.arange(3 * 8 * 8, dtype=np.float32).reshape(3, 8, 8)
    mask = image[0] > 30
    ci, cm = random_crop_augment(image, mask, 4, rng)
    assert ci.shape == (3, 4, 4) and cm.shape == (4, 4)
    # the mask follows the image through flips/rotations
    assert np.array_equal(cm, ci[0] > 30)


def test_synthetic_samples_have_thick_boundaries():
    s = synthetic_samples(1, (64, 64), seed=3, boundary_width=4)[0]
    assert s.image.shape == (3, 64, 64) and s.mask.dtype == bool
    assert 0.05 < s.mask.mean() < 0.6


def test_synthetic_samples_take_the_one_seed_rule():
    """seed=-1 failed with numpy's 'expected non-negative integer', 2.5 and 3.0 with
    'SeedSequence expects int or sequence of ints': the one seed rule
    (errors.check_seed), 3.0 used as 3."""
    for seed in (-1, 2.5, "1"):
        with pytest.raises(BoundaryDataError,
                           match=rf"^seed must be an integer >= 0, got {re.escape(repr(seed))}$"):
            synthetic_samples(1, (32, 32), seed=seed)
    a, b = synthetic_samples(1, (32, 32), seed=3.0)[0], synthetic_samples(1, (32, 32), seed=3)[0]
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
    assert a.name == b.name == "synthetic-3"


def test_training_events_and_checkpoint(tmp_path):
    events = []
    res = run_job(train_boundaries_job(_cfg(tmp_path, pretrain_synthetic=2, pretrain_epochs=1)),
                  quiet=True, on_event=events.append)
    assert not res.stopped
    assert [h["phase"] for h in res.history] == ["pretrain", "train", "train"]
    prog = [e for e in events if isinstance(e, Progress)]
    assert prog[-1].done == prog[-1].total == 3 * 2
    val = [e for e in events if isinstance(e, Metric) and e.split == "val"]
    assert len(val) == 3 and all(0 <= e.values["ap"] <= 1 for e in val)
    assert any(isinstance(e, Metric) and "loss" in e.values for e in events)
    ck = [e for e in events if isinstance(e, Checkpoint)]
    assert ck and res.best_checkpoint is not None
    cfg = json.loads((Path(res.best_checkpoint) / "config.json").read_text())
    assert cfg["model"] == "uaed-unetpp" and cfg["encoder"] == "tiny"
    assert 0 <= cfg["threshold"] <= 1 and cfg["val_ap"] == pytest.approx(res.best_val_ap)
    assert cfg["training"]["lr"] == 1e-3 and cfg["training"]["train_images"] == "<3 arrays>"
    # top-k directory and resumable state
    assert (tmp_path / "run" / "top").is_dir()
    assert (tmp_path / "run" / "last" / "optimizer.safetensors").is_file()
    # exactly the files a checkpoint write recognises as a run's state (one list of them)
    from napari_srmat.checkpoint import CHECKPOINT_FILES, TRAINING_STATE_FILES

    assert sorted(p.name for p in (tmp_path / "run" / "last").iterdir()) == sorted(
        CHECKPOINT_FILES + TRAINING_STATE_FILES)
    assert not list((tmp_path / "run").glob(".*partial"))
    from napari_srmat.edges.infer import load_boundary_model

    m = load_boundary_model(tmp_path / "run", device="cpu")
    assert m.threshold == pytest.approx(cfg["threshold"])


def test_best_without_an_output_folder_is_a_labelled_epoch(tmp_path):
    """Without ``out`` the result's best val AP and threshold could be a synthetic
    pretraining epoch's (with ``out``, ``best/`` is chosen among the labelled epochs only):
    the same run reported another model's scores. Both now follow the one criterion."""
    imgs, masks = _arrays(3, 64)
    cfg = _cfg(tmp_path, train_images=imgs, train_masks=masks, pretrain_synthetic=2,
               pretrain_epochs=1, epochs=1, seed=0)
    saved = train_boundaries(cfg)
    unsaved = train_boundaries(dict(cfg, out=None))
    assert [h["phase"] for h in unsaved.history] == ["pretrain", "train"]
    assert unsaved.history == [dict(h, elapsed_s=u["elapsed_s"])
                               for h, u in zip(saved.history, unsaved.history)]
    labelled = unsaved.history[1]
    assert unsaved.best_val_ap == saved.best_val_ap == labelled["val_ap"]
    assert unsaved.threshold == saved.threshold == labelled["threshold"]


def test_stop_mid_training(tmp_path):
    token = StopToken()
    gen = train_boundaries_job(_cfg(tmp_path, epochs=3), stop=token)
    events = []

    def on_event(ev):
        events.append(ev)
        if isinstance(ev, Progress) and ev.done == 3:  # in the second epoch
            token.request_stop()

    res = run_job(gen, quiet=True, on_event=on_event)
    assert res.stopped
    assert isinstance(events[-1], Stopped)
    assert sum(isinstance(e, Progress) for e in events) == 3
    assert len(res.history) == 1  # only the first epoch finished
    assert not list((tmp_path / "run").glob(".*partial"))
    assert (tmp_path / "run" / "last" / "model.safetensors").is_file()
    # counted as the progress bar counts ("epoch 2/3"; it said "epoch 1, step 1"), and
    # saying which epoch the checkpoint holds
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].stage == "epoch 2/3"
    # and the step of the epoch it stopped in, kept (it trained the epoch again)
    assert events[-1].message == (f"stopped in epoch 2/3 before step 2/2; "
                                  f"{tmp_path / 'run' / 'last'} holds epoch 1 and 1 step "
                                  "of epoch 2")


def test_resume_continues(tmp_path):
    first = train_boundaries(_cfg(tmp_path, epochs=1))
    assert len(first.history) == 1
    events = []
    second = run_job(train_boundaries_job(_cfg(tmp_path, epochs=2, resume=True)), quiet=True,
                     on_event=events.append)
    assert [h["epoch"] for h in second.history] == [0, 1]
    assert second.history[0] == first.history[0]
    # the first run's epoch told once in steps (Progress.resumed, what a widget's end line
    # says), then only epoch 1 was run, each step carrying the resumed count
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[0] == Progress(2, 4, "steps", resumed=2)
    assert [(e.done, e.resumed) for e in progress[1:]] == [(3, 2), (4, 2)]


def test_a_resume_puts_back_a_last_an_interrupted_swap_left_aside(tmp_path):
    """RUN/last missing and its earlier version aside as ``.last.<8 hex>.old`` (a kill
    between the two renames of its replacement, a failing second rename): resume=True
    took the folder for a run without state (failed before: refused as an earlier run's
    folder, 'cannot be resumed', its state hidden; with overwrite it would have started
    over). The copy is put back at the run's start, told as a warning, and the run
    resumes from it."""
    from napari_srmat.jobs import Log

    first = train_boundaries(_cfg(tmp_path, epochs=1))
    out = tmp_path / "run"
    (out / "last").rename(out / ".last.0a1b2c3d.old")
    events = []
    second = run_job(train_boundaries_job(_cfg(tmp_path, epochs=2, resume=True)), quiet=True,
                     on_event=events.append)
    assert [h["epoch"] for h in second.history] == [0, 1]
    assert second.history[0] == first.history[0]
    warned = [e.message for e in events if isinstance(e, Log) and e.level == "warning"]
    assert any(".last.0a1b2c3d.old" in m and "back in place" in m for m in warned), warned
    assert not (out / ".last.0a1b2c3d.old").exists() and (out / "last").is_dir()



@pytest.mark.parametrize("keeps", [(), ("config.json",), ("model.safetensors", "config.json")])
def test_a_last_copy_that_is_not_whole_is_never_put_back(tmp_path, keeps):
    """RUN/last missing (removed by you) and ``.last.<8 hex>.old`` holding less than a
    whole ``last`` (what a stopped deletion left: the config alone, or nothing; or no
    training state): it was put back as ``last`` and resume=True then failed in
    load_checkpoint ('no model.safetensors'), where without it the run started anew
    (failed before: CheckpointError). Only a whole ``last`` (weights, config and
    training state) is put back; this run starts over and leaves the copy as it is."""
    from napari_srmat.jobs import Log

    train_boundaries(_cfg(tmp_path, epochs=1))
    out = tmp_path / "run"
    copy = out / ".last.0a1b2c3d.old"
    (out / "last").rename(copy)
    for entry in copy.iterdir():
        if entry.name not in keeps:
            entry.unlink()
    events = []
    second = run_job(train_boundaries_job(_cfg(tmp_path, epochs=1, resume=True,
                                               overwrite=True)),
                     quiet=True, on_event=events.append)
    assert [h["epoch"] for h in second.history] == [0]
    assert not any("back in place" in e.message for e in events if isinstance(e, Log))
    assert (out / "last" / "training_state.json").is_file()
    assert sorted(os.listdir(copy)) == sorted(keeps)  # removed by a later write of last


def test_bad_training_input(tmp_path):
    with pytest.raises(BoundaryDataError, match="not found"):
        train_boundaries(BoundaryTrainConfig(data_root=str(tmp_path / "missing")))
    imgs, masks = _arrays(2)
    with pytest.raises(BoundaryDataError, match="mask"):
        train_boundaries({"train_images": imgs, "train_masks": [masks[0][:10]] * 2})
    # the plain functions' rule, with the closest field (until 2026-12-07 a ValueError
    # 'unknown training option(s)' with no hint)
    with pytest.raises(TypeError, match=r"argument 'epochz' \(did you mean 'epochs'\?\)$"):
        train_boundaries({"epochz": 3})
    with pytest.raises(ValueError, match="unknown encoder"):
        train_boundaries(_cfg(tmp_path, encoder="vgg"))
    # a NaN patch is refused before training, wherever it is: it used to pass when the
    # random crops missed it, and drive the loss to NaN when they did not
    nan_images = [np.asarray(im, np.float32) / 255.0 for im in imgs]
    nan_images[1][:3, :3] = np.nan
    with pytest.raises(BoundaryDataError, match="train image 1 has NaN or infinite pixels"):
        train_boundaries(_cfg(tmp_path, train_images=nan_images, train_masks=masks))
    assert not (tmp_path / "run").exists()
    for bad, match in [({"crop": 0}, "crop must be at least"), ({"epochs": 0}, "epochs"),
                       ({"resume": "no"}, "resume must be True or False"),
                       ({"pretrain_epochs": -1}, "pretrain_epochs"),
                       ({"steps_per_epoch": 0}, "steps_per_epoch"),
                       ({"lr": float("inf")}, "learning rate"),
                       ({"num_threads": -1}, "num_threads"),
                       # numpy's 'expected non-negative integer' after the data were read
                       ({"seed": -1}, r"^seed must be an integer >= 0, got -1$"),
                       ({"seed": 2.5}, r"^seed must be an integer >= 0, got 2.5$")]:
        with pytest.raises(ValueError, match=match):
            train_boundaries(_cfg(tmp_path, **bad))
    # a folder of the user's is refused before the data are read
    from napari_srmat.outputs import OutputError

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(OutputError, match="did not write"):
        train_boundaries(BoundaryTrainConfig(data_root=str(tmp_path / "missing"), out=str(mine)))
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_cli_train_json(tmp_path, capsys):
    from napari_srmat.cli import main

    root = _write_dataset(tmp_path / "data")
    rc = main(["edges", "train", "--data", str(root), "--epochs", "1", "--encoder", "tiny",
               "--crop", "32", "--steps-per-epoch", "1", "--learning-rate", "1e-3",
               "--threads", "1", "--device", "cpu", "--out", str(tmp_path / "run"), "--json"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["epochs_done"] == 1 and not report["stopped"]
    assert Path(report["best_checkpoint"]).is_dir()
    assert 0 <= report["best_val_ap"] <= 1
    rc = main(["edges", "train", "--data", str(tmp_path / "nope"), "--json"])
    assert rc == 2


@pytest.mark.slow
def test_sr_vs_original_experiment_small(tmp_path, capsys):
    from napari_srmat.cli import main
    from napari_srmat.studies.sr_vs_original import upscale_bilinear, upscale_mask

    up = upscale_bilinear(np.ones((4, 5, 3), np.float32) * 0.5, 2)
    assert up.shape == (8, 10, 3) and np.allclose(up, 0.5)
    m = np.zeros((10, 10), bool)
    m[5] = True
    assert upscale_mask(m, 3, "nearest").sum() == 3 * 30
    red = upscale_mask(m, 3, "redraw", boundary_width=3)
    assert red.shape == (30, 30) and 60 <= red.sum() <= 3 * 30 + 6  # thin line, 3 px wide

    root = _write_dataset(tmp_path / "data", n=(2, 1, 2), size=32)
    argv = ["experiment", "sr-vs-original", "--data", str(root), "--scale", "2",
            "--sr-model", "bicubic", "--epochs", "1", "--steps-per-epoch", "1",
            "--train-crop", "32", "--device", "cpu", "--out", str(tmp_path / "exp"), "--json"]
    assert main(argv) == 0
    capsys.readouterr()
    # the same command again redoes the experiment in its own run folders (training's
    # refusal of a rerun told it to pass --resume or --overwrite, flags it has not)
    assert main(argv) == 0
    rep = json.loads(capsys.readouterr().out)
    for arm in ("original", "sr"):
        assert {"ap", "roc_auc", "heyn_pred_px", "heyn_gt_px", "heyn_error_pct"} <= set(rep[arm])
        # intercepts are in upscaled pixels: GT identical for both arms
    assert rep["original"]["heyn_gt_px"] == pytest.approx(rep["sr"]["heyn_gt_px"])
    assert "| SR |" in rep["table"] and rep["settings"]["scale"] == 2
    for name in ("report.json", "table.md", "pr.png", "roc.png"):
        assert (tmp_path / "exp" / name).is_file()


def test_init_checkpoint_fine_tunes_from_given_weights(tmp_path):
    from napari_srmat.edges.infer import load_boundary_model

    shipped = load_boundary_model(device="cpu")
    # zero epochs: the saved model must be exactly the initial weights
    events = []
    res = run_job(train_boundaries_job(_cfg(tmp_path, epochs=1, steps_per_epoch=1, lr=0.0,
                                            init_checkpoint="default")),
                  quiet=True, on_event=events.append)
    tuned = load_boundary_model(res.best_checkpoint, device="cpu")
    ref = shipped.net.state_dict()
    for k, v in tuned.net.state_dict().items():
        if v.is_floating_point() and "running" not in k:
            assert torch.allclose(v, ref[k].float(), atol=1e-3), k
    # a random start differs from the shipped weights
    res2 = run_job(train_boundaries_job(_cfg(tmp_path / "b", epochs=1, steps_per_epoch=1,
                                             lr=0.0)), quiet=True)
    rand = load_boundary_model(res2.best_checkpoint, device="cpu").net.state_dict()
    assert not torch.allclose(rand["mean_head.weight"], ref["mean_head.weight"].float(), atol=1e-3)
    with pytest.raises(ValueError, match="encoder"):
        run_job(train_boundaries_job(_cfg(tmp_path / "c", encoder="small",
                                          init_checkpoint="default")), quiet=True)


@pytest.mark.parametrize("change", [{"encoder": "small"}, {"lr": 5e-2, "seed": 3},
                                    {"crop": None, "batch_size": 1}])
def test_resume_with_other_settings_is_refused(tmp_path, change):
    # the encoder raised an internal state_dict error; lr, seed, crop... were silently
    # mixed into the earlier run
    from napari_srmat.outputs import OutputMismatchError

    train_boundaries(_cfg(tmp_path, epochs=1, scale_augment=(0.8, 1.25)))
    with pytest.raises(OutputMismatchError, match="cannot resume .*other settings"):
        train_boundaries(_cfg(tmp_path, epochs=2, resume=True, scale_augment=(0.8, 1.25),
                              **change))
    # the same settings (more epochs, another thread count) still resume
    res = train_boundaries(_cfg(tmp_path, epochs=2, resume=True, num_threads=1,
                                scale_augment=(0.8, 1.25)))
    assert [h["epoch"] for h in res.history] == [0, 1]


def test_new_run_into_an_earlier_runs_folder(tmp_path):
    # the earlier run's top-k checkpoints stayed beside the new run's, and a new run
    # stopped before its first epoch reported the earlier run's best as its own
    train_boundaries(_cfg(tmp_path, epochs=3, top_k=3))
    run = tmp_path / "run"
    assert len(list((run / "top").iterdir())) == 3
    token = StopToken()
    token.request_stop()
    stopped = run_job(train_boundaries_job(_cfg(tmp_path, epochs=1, seed=4, overwrite=True),
                                           stop=token), quiet=True)
    assert stopped.stopped and stopped.best_checkpoint is None
    assert len(list((run / "top").iterdir())) == 3  # nothing of the earlier run lost yet
    events = []
    res = run_job(train_boundaries_job(_cfg(tmp_path, epochs=1, seed=4, overwrite=True)),
                  quiet=True, on_event=events.append)
    assert any("earlier training run" in getattr(e, "message", "") for e in events)
    assert sorted(p.name for p in (run / "top").iterdir()) == ["epoch-001"]
    state = json.loads((run / "last" / "training_state.json").read_text())
    assert [t[1] for t in state["top"]] == [0]
    assert len(json.loads((run / "history.json").read_text())) == 1
    assert res.best_checkpoint == str(run / "best")


@pytest.mark.parametrize("value", [0, 255])
def test_validation_masks_without_boundaries_or_background(tmp_path, value):
    # the run trained a whole epoch and then stopped with "no boundary (positive)
    # pixels were accumulated", without saying which data
    imgs, masks = _arrays(2, seed=5)
    flat = [np.full_like(m, value) for m in masks]
    events = []
    with pytest.raises(BoundaryDataError, match="validation masks .*undefined"):
        run_job(train_boundaries_job(_cfg(tmp_path, val_images=imgs, val_masks=flat)),
                quiet=True, on_event=events.append)
    assert not any(isinstance(e, Progress) for e in events)


def test_top_k(tmp_path):
    # top_k=0 failed after the first epoch with "min() arg is an empty sequence"
    res = train_boundaries(_cfg(tmp_path, epochs=1, top_k=0))
    assert res.best_checkpoint and not (tmp_path / "run" / "top").exists()
    with pytest.raises(ValueError, match="top_k must be"):
        train_boundaries(_cfg(tmp_path, epochs=1, top_k=-1))


@pytest.mark.parametrize("folder", ["images", "masks"])
def test_two_files_of_one_stem_are_refused(tmp_path, folder):
    # im0.png and im0.jpg: one of the masks was silently dropped, or two images were
    # trained against one mask
    from PIL import Image

    from napari_srmat.edges.data import list_image_mask_pairs

    root = _write_dataset(tmp_path / "data")
    d = root / "train" / folder
    Image.open(d / "im0.png").convert("RGB").save(d / "im0.jpg")
    with pytest.raises(BoundaryDataError, match="two files with stem 'im0'"):
        list_image_mask_pairs(root / "train" / "images", root / "train" / "masks")


def test_training_masks_without_boundaries_and_no_validation(tmp_path):
    # a GUI user training on one image layer with an empty mask layer: the message
    # names the training masks, not "validation masks" they never gave
    imgs, masks = _arrays(1)
    with pytest.raises(BoundaryDataError, match="the training masks .* no boundary"):
        train_boundaries(dict(train_images=imgs, train_masks=[np.zeros_like(masks[0])],
                              out=str(tmp_path / "run"), epochs=1, crop=32, device="cpu"))


def test_resume_from_another_working_folder(tmp_path, monkeypatch):
    # the top-k list kept the first run's relative paths: resumed from another folder,
    # an evicted checkpoint was removed relative to *that* folder (another run's files)
    first, other = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    other.mkdir()
    monkeypatch.chdir(first)
    train_boundaries(_cfg(tmp_path, epochs=1, out="run", top_k=1))
    decoy = other / "run" / "top" / "epoch-001"
    decoy.mkdir(parents=True)
    (decoy / "keep.txt").write_text("another run's file")
    monkeypatch.chdir(other)
    run = first / "run"
    train_boundaries(_cfg(tmp_path, epochs=3, out=str(run), top_k=1, resume=True))
    assert (decoy / "keep.txt").is_file()
    state = json.loads((run / "last" / "training_state.json").read_text())
    assert [Path(t[2]).parent for t in state["top"]] == [run / "top"]
    assert len(list((run / "top").iterdir())) == 1


def test_resume_with_nothing_to_resume_starts_a_new_run_and_says_so(tmp_path):
    """resume=True without OUT/last started a new run without a word (and, into an
    earlier run's folder, told the user to pass resume, which they had)."""
    from napari_srmat.jobs import Log

    events = []
    res = run_job(train_boundaries_job(_cfg(tmp_path, epochs=1, resume=True)), quiet=True,
                  on_event=events.append)
    assert len(res.history) == 1
    logs = [(e.level, e.message) for e in events if isinstance(e, Log)]
    out = tmp_path / "run"
    assert ("warning", f"nothing to resume at {out} (no last): starting a new run") in logs
    # an earlier run's folder without its last/: resume cannot continue it, and the new
    # run replaced its trained model with a warning only; refused unless overwrite
    import shutil

    from napari_srmat.outputs import OutputExistsError

    shutil.rmtree(out / "last")
    best = (out / "best" / "model.safetensors").read_bytes()
    with pytest.raises(OutputExistsError, match="cannot be resumed .* overwrite=True") as err:
        run_job(train_boundaries_job(_cfg(tmp_path, epochs=1, resume=True)), quiet=True)
    assert "--overwrite" in err.value.cli_message  # srmat edges train's words
    assert (out / "best" / "model.safetensors").read_bytes() == best
    events.clear()
    run_job(train_boundaries_job(_cfg(tmp_path, epochs=1, resume=True, overwrite=True)),
            quiet=True, on_event=events.append)
    logs = [e.message for e in events if isinstance(e, Log) and e.level == "warning"]
    assert [m for m in logs if "resume" in m] == [
        f"nothing to resume at {out} (no last): starting a new run (it replaces the earlier "
        "run's checkpoints there)"]


def test_cli_train_refuses_a_crop_larger_than_the_training_images(tmp_path, capsys):
    """`srmat edges train --crop 64` on 40 px images trained on 40 px crops without a word;
    it is refused before training, naming the smallest image, its size and the crop, and
    no run folder is made. The library refuses in-memory images alike."""
    from napari_srmat.cli import main

    root = _write_dataset(tmp_path / "data", size=40)
    out = tmp_path / "run"
    rc = main(["edges", "train", "--data", str(root), "--epochs", "1", "--encoder", "tiny",
               "--crop", "64", "--steps-per-epoch", "1", "--threads", "1", "--device", "cpu",
               "--out", str(out)])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"srmat edges train: error: training image im0 of {root / 'train' / 'images'}"
                   " is 40 x 40 px, smaller than the training crop (64 px)"]
    assert not out.exists()
    imgs, masks = _arrays(2, size=40)
    imgs[1], masks[1] = imgs[1][:, :36], masks[1][:, :36]  # the smallest is named
    with pytest.raises(ValueError, match=r"training image train-1 is 40 x 36 px, smaller than "
                                         r"the training crop \(48 px\)"):
        train_boundaries(_cfg(tmp_path, train_images=imgs, train_masks=masks, crop=48))


def test_ema_update_blends_weights_and_copies_counters():
    """The EMA of the weights (one fused update for all tensors): every float tensor
    becomes decay * ema + (1 - decay) * model, integer buffers (batch-norm counters) are
    copied, and the model is not touched."""
    import copy

    from napari_srmat.edges.model import build_uaed, default_arch_config
    from napari_srmat.edges.train import _ema_update

    torch.manual_seed(0)
    model = build_uaed(default_arch_config("tiny"))
    ema = copy.deepcopy(model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
        for b in model.buffers():
            if not b.dtype.is_floating_point:
                b.fill_(7)
    before = {k: v.clone() for k, v in ema.state_dict().items()}
    model_state = {k: v.clone() for k, v in model.state_dict().items()}
    _ema_update(ema, model, 0.9)
    after = ema.state_dict()
    n_float = n_int = 0
    for k, v in after.items():
        if v.dtype.is_floating_point:
            torch.testing.assert_close(v, 0.9 * before[k] + 0.1 * model_state[k])
            n_float += 1
        else:
            assert torch.equal(v, model_state[k]) and int(v.max()) == 7
            n_int += 1
    assert n_float > 10 and n_int > 0
    for k, v in model.state_dict().items():
        assert torch.equal(v, model_state[k])


def _other_dataset(root: Path) -> Path:
    """A dataset laid out like :func:`_write_dataset`'s, with other training images."""
    from PIL import Image

    _write_dataset(root)
    first = root / "train" / "images" / "im0.png"
    Image.fromarray(255 - np.asarray(Image.open(first))).save(first)
    return root


def test_resume_refuses_other_data_given_by_the_same_name(tmp_path, monkeypatch):
    """The run recorded ``data_root`` as typed ("et") and compared that text: resumed from
    another folder holding another dataset called ``et``, it continued on that one (the
    original folder given by its absolute path was refused); files changed in the same
    folder were accepted too. The resolved folder and its files decide now."""
    from napari_srmat.outputs import OutputMismatchError

    first, other = tmp_path / "a", tmp_path / "b"
    _write_dataset(first / "et")
    _other_dataset(other / "et")
    run = tmp_path / "run"
    kw = dict(train_images=None, train_masks=None, val_images=None, val_masks=None,
              out=str(run), epochs=1)
    monkeypatch.chdir(first)
    train_boundaries(_cfg(tmp_path, data_root="et", **kw))
    state = (run / "last" / "training_state.json").read_text()
    monkeypatch.chdir(other)
    with pytest.raises(OutputMismatchError, match=(
            rf"trained on other data \(training data: {other / 'et'}, the run was started "
            rf"with {first / 'et'}; validation data: .*\); resume it with the same data, or "
            "rerun with resume=False and overwrite=True to start over, or choose a new "
            "output folder$")):
        train_boundaries(_cfg(tmp_path, data_root="et", resume=True, **dict(kw, epochs=2)))
    assert (run / "last" / "training_state.json").read_text() == state
    # the same folder by its absolute path resumes
    res = train_boundaries(_cfg(tmp_path, data_root=str(first / "et"), resume=True,
                                **dict(kw, epochs=2)))
    assert [h["epoch"] for h in res.history] == [0, 1]
    record = json.loads((run / "last" / "config.json").read_text())["training"]
    assert record["data_root"] == str(first / "et")
    assert record["data"]["train"]["files"] == 6 and record["data"]["val"]["files"] == 4
    # a validation image changed in the same folder: "best" would compare other scores
    from PIL import Image

    val0 = first / "et" / "val" / "images" / "im0.png"
    Image.fromarray(255 - np.asarray(Image.open(val0))).save(val0)
    with pytest.raises(OutputMismatchError, match=(
            rf"validation data: the files in {first / 'et'} changed since the run was "
            r"started \(then 4 files, .*; now 4 files, .*\)")):
        train_boundaries(_cfg(tmp_path, data_root=str(first / "et"), resume=True,
                              **dict(kw, epochs=3)))


def test_srmat_edges_train_refuses_a_resume_on_other_data_in_its_flags(tmp_path, capsys):
    """srmat edges train --resume on other data is refused in one line naming srmat's
    flags (--resume, --overwrite); a Python caller is told the keywords
    (test_resume_refuses_other_data_given_by_the_same_name)."""
    from napari_srmat.cli import main

    first, other = _write_dataset(tmp_path / "a"), _other_dataset(tmp_path / "b")
    run = tmp_path / "run"
    args = ["edges", "train", "--encoder", "tiny", "--crop", "32", "--steps-per-epoch", "1",
            "--threads", "1", "--device", "cpu", "--out", str(run), "--epochs", "1"]
    assert main([*args, "--data", str(first)]) == 0
    state = (run / "last" / "training_state.json").read_text()
    capsys.readouterr()
    assert main([*args, "--data", str(other), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        f"srmat edges train: error: cannot resume {run / 'last'}: it was trained on other "
        f"data (training data: {other}, the run was started with {first}"), err
    assert err[0].endswith("resume it with the same data, or rerun without --resume and "
                           "with --overwrite to start over, or choose a new output folder")
    assert (run / "last" / "training_state.json").read_text() == state


def test_resume_of_a_run_recording_its_data_folder_only_as_typed(tmp_path, monkeypatch):
    """A run an older version wrote records ``data_root`` as typed and no fingerprint: an
    absolute folder is compared as a path (and a warning says the files were not), a
    relative one is refused, since which folder it was relative to is unknown."""
    from napari_srmat.jobs import Log
    from napari_srmat.outputs import OutputMismatchError

    root = _write_dataset(tmp_path / "et")
    run = tmp_path / "run"
    kw = dict(train_images=None, train_masks=None, val_images=None, val_masks=None,
              out=str(run), data_root=str(root))
    train_boundaries(_cfg(tmp_path, epochs=1, **kw))
    config_file = run / "last" / "config.json"
    config = json.loads(config_file.read_text())
    del config["training"]["data"]
    config["training"]["data_root"] = "et"
    config_file.write_text(json.dumps(config))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputMismatchError, match=(
            "training data: the run recorded it only as 'et', relative to the folder it was "
            "started from .*: which folder that was is unknown")):
        train_boundaries(_cfg(tmp_path, epochs=2, resume=True, **dict(kw, data_root="et")))
    config["training"]["data_root"] = str(root)
    config_file.write_text(json.dumps(config))
    events = []
    res = run_job(train_boundaries_job(_cfg(tmp_path, epochs=2, resume=True, **kw)),
                  quiet=True, on_event=events.append)
    assert [h["epoch"] for h in res.history] == [0, 1]
    assert ("warning", f"{run / 'last'} records no fingerprint of its data (an older version "
            "wrote it): only where the data lay was compared, not their files") in [
        (e.level, e.message) for e in events if isinstance(e, Log)]


def test_new_run_into_a_run_folder_needs_overwrite(tmp_path, capsys):
    """A rerun without --resume into a finished run's folder replaced its trained model
    (best/, top/, history.json) without a word; it is refused in one line unless
    --overwrite, and the earlier run is left as it was."""
    from napari_srmat.cli import main
    from napari_srmat.outputs import OutputExistsError

    root = _write_dataset(tmp_path / "data")
    run = tmp_path / "run"
    args = ["edges", "train", "--data", str(root), "--encoder", "tiny", "--crop", "32",
            "--steps-per-epoch", "1", "--threads", "1", "--device", "cpu", "--out", str(run)]
    assert main([*args, "--epochs", "2"]) == 0
    capsys.readouterr()
    best = (run / "best" / "model.safetensors").read_bytes()
    history = (run / "history.json").read_text()
    ap = json.loads((run / "best" / "config.json").read_text())
    summary = f"2 epochs, best val AP {ap['val_ap']:.4f} at epoch {ap['epoch'] + 1}"
    assert main([*args, "--epochs", "1", "--seed", "3"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"srmat edges train: error: {run} holds a training run ({summary}); pass --resume "
        "to continue it or --overwrite to start over"]
    assert (run / "best" / "model.safetensors").read_bytes() == best
    assert (run / "history.json").read_text() == history
    with pytest.raises(OutputExistsError) as info:  # the library too, in its keywords
        train_boundaries(dict(data_root=str(root), out=str(run), epochs=1, crop=32,
                              steps_per_epoch=1, device="cpu"))
    assert str(info.value) == (f"{run} holds a training run ({summary}); pass resume=True "
                               "to continue it or overwrite=True to start over")
    assert main([*args, "--epochs", "1", "--seed", "3", "--overwrite"]) == 0
    assert len(json.loads((run / "history.json").read_text())) == 1


def test_synthetic_pretraining_images_fit_small_training_images():
    """The pretraining images take the first training image's size; their random grain
    size (0.6-1.5x the mean) could exceed a small image's side, and training failed by
    seed with "mean_grain_size_px must be at most the image's larger side (40 px), got
    44.9", a size nobody typed. It is now capped at the image's side."""
    from napari_srmat.edges.data import synthetic_samples

    for seed in (4, 6):  # each draws a grain size above 40 px (44.4, 44.7)
        samples = synthetic_samples(3, (40, 40), seed=seed, mean_grain_size_px=30.0)
        assert all(s.image.shape == (3, 40, 40) and s.mask.any() for s in samples)


@pytest.mark.parametrize("steps", [1, 2])
def test_a_diverging_last_step_is_told_and_saves_nothing(tmp_path, steps):
    """lr=1e9: every loss is finite until the epoch's last step, whose update makes the
    weights NaN (or so large that the maps overflow). Validation then counted no
    finite pixel and the run failed with 'no boundary (positive) pixels were
    accumulated', about masks that have boundaries. It says the training diverged."""
    with pytest.raises(ValueError, match="training diverged|training loss became") as err:
        train_boundaries(_cfg(tmp_path, epochs=2, steps_per_epoch=steps, lr=1e9))
    assert "learning rate" in str(err.value)
    out = tmp_path / "run"
    assert not any((out / name).exists() for name in ("last", "best", "history.json"))
    assert not list(out.glob("top/*"))


def test_a_learning_rate_adamw_cannot_step_with_is_refused(tmp_path):
    """lr=1e38 is finite, but AdamW's first step (10 x the rate) overflows float32: the
    run failed with torch's RuntimeError ('value cannot be converted to type float
    without overflow'), an internal error. It is refused with the other bad rates."""
    with pytest.raises(ValueError, match="learning rate must be .* at most"):
        train_boundaries(_cfg(tmp_path, epochs=1, steps_per_epoch=1, lr=1e38))
    assert not (tmp_path / "run").exists()


def test_resume_with_fewer_epochs_than_done_says_so(tmp_path):
    """Resumed with --epochs 1 after 2 epochs, the run trained nothing, said nothing and
    reported epochs_done 1 beside a history of 2 epochs."""
    from napari_srmat.jobs import Log

    first = train_boundaries(_cfg(tmp_path, epochs=2))
    events = []
    again = run_job(train_boundaries_job(_cfg(tmp_path, epochs=1, resume=True)), quiet=True,
                    on_event=events.append)
    assert again.epochs_done == len(again.history) == 2 and again.history == first.history
    assert not any(isinstance(e, Progress) for e in events)
    assert any(isinstance(e, Log) and e.level == "warning" and "nothing to train" in e.message
               for e in events)
    assert [e.path for e in events if isinstance(e, AlreadyComplete)] == [_cfg(tmp_path)["out"]]


def test_a_run_resumed_with_no_more_epochs_is_already_complete(tmp_path, capsys):
    """A UAED training resumed with as many epochs as it had trained gave a warning and
    then ended as a new run ends (the Train widget's 'UAED training: done', `srmat edges
    train --resume`'s usual line). The job now yields AlreadyComplete for its folder (the
    widget's 'done (already complete from an earlier run)'), and srmat says so and exits
    0 with the earlier run's checkpoint."""
    from napari_srmat.cli import main

    root = _write_dataset(tmp_path / "data")
    run = tmp_path / "run"
    args = ["edges", "train", "--data", str(root), "--encoder", "tiny", "--crop", "32",
            "--steps-per-epoch", "1", "--threads", "1", "--device", "cpu",
            "--pretrain-synthetic", "0", "--out", str(run), "--epochs", "1"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "already complete" not in first
    best = sorted((run / "best").iterdir()), (run / "best" / "model.safetensors").read_bytes()
    events = []
    again = run_job(train_boundaries_job(BoundaryTrainConfig(
        data_root=str(root), out=str(run), encoder="tiny", crop=32, steps_per_epoch=1,
        num_threads=1, device="cpu", pretrain_synthetic=0, epochs=1, resume=True)),
        quiet=True, on_event=events.append)
    told = [e for e in events if isinstance(e, AlreadyComplete)]
    assert [(e.path, e.level) for e in told] == [(str(run), "notice")]
    assert told[0].message == (f"{run} is already complete from an earlier run ({run / 'last'} "
                               "holds 1 epoch, the run asks for 1): nothing to train (give "
                               "more epochs to continue it)")
    assert again.epochs_done == 1 and again.best_checkpoint == str(run / "best")
    assert main([*args, "--resume"]) == 0
    out, err = capsys.readouterr()
    assert out == first.rstrip("\n") + " (already complete from an earlier run)\n"
    assert told[0].message in err
    assert main([*args, "--resume", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["nothing_to_do"] is True
    assert (sorted((run / "best").iterdir()),
            (run / "best" / "model.safetensors").read_bytes()) == best


def test_a_resumed_sr_training_with_no_more_steps_is_already_complete(tmp_path, capsys):
    """The SR training says it as the UAED training does: resumed with as many steps as
    it had trained it told the resume as progress (and, with fewer, a done count past
    its total) and ended 'SR training: done (resumed: 2/2 steps ...)'. It now yields
    AlreadyComplete for its folder; `srmat sr train --resume` says so, exit 0."""
    from PIL import Image

    from napari_srmat.cli import main
    from napari_srmat.sr.train import train_sr_job

    image = tmp_path / "small.png"
    Image.fromarray((np.random.default_rng(0).random((20, 24, 3)) * 255).astype(np.uint8)
                    ).save(image)
    run = tmp_path / "sr_run"
    args = ["sr", "train", "--data", str(image), "--model", "cnn", "--scale", "2",
            "--train-steps", "2", "--batch-size", "2", "--patch", "16", "--out", str(run),
            "--threads", "1", "--device", "cpu"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "already complete" not in first
    cfg = dict(model="cnn", scale=2, data=[str(image)], steps=2, batch_size=2, patch=16,
               out=str(run), num_threads=1, device="cpu", resume=True)
    for steps, level in ((2, "notice"), (1, "warning")):
        events = []
        res = run_job(train_sr_job(dict(cfg, steps=steps)), quiet=True,
                      on_event=events.append)
        told = [e for e in events if isinstance(e, AlreadyComplete)]
        assert [(e.path, e.level) for e in told] == [(str(run), level)], steps
        assert told[0].message == (
            f"{run} is already complete from an earlier run ({run / 'train_state'} holds 2 "
            f"steps, the run asks for {steps}): nothing to train (give more steps to "
            "continue it)")
        assert res["step"] == 2 and not any(isinstance(e, Progress) for e in events)
    assert main([*args, "--resume"]) == 0
    out, err = capsys.readouterr()
    assert out == first.rstrip("\n") + " (already complete from an earlier run)\n"
    assert f"{run} is already complete from an earlier run" in err


def test_large_validation_images_are_validated_tile_by_tile(monkeypatch):
    """Validation ran each image through the network in one pass: a 4 MP image peaked at
    3.4 GB on the CPU, so training on a large image layer (its own validation) ran out of
    memory after the first epoch. Above the evaluation's whole-image limit it goes tile
    by tile, as evaluate_boundaries predicts; the scores stay those of the whole image."""
    import napari_srmat.edges.evaluate as evaluate
    import napari_srmat.tiling as tiling
    from napari_srmat.edges.model import build_uaed, default_arch_config
    from napari_srmat.edges.train import validate

    torch.manual_seed(0)
    net = build_uaed(default_arch_config("tiny")).eval()
    imgs, masks = _arrays(1, 300, seed=3)
    sample = BoundarySample(to_model_image(np.asarray(imgs[0])[:, :260]),
                            np.asarray(masks[0])[:, :260] > 0, "big")
    whole = validate(net, [sample], "cpu")
    sides = []
    net.register_forward_pre_hook(lambda _, args: sides.append(max(args[0].shape[2:])))
    monkeypatch.setattr(evaluate, "WHOLE_IMAGE_MAX_PIXELS", 128 * 128)
    monkeypatch.setattr(tiling, "BOUNDARY_TILE", 128)
    tiled = validate(net, [sample], "cpu")
    assert sides and max(sides) <= 128
    assert tiled["ap"] == pytest.approx(whole["ap"], abs=0.02)
    assert tiled["roc_auc"] == pytest.approx(whole["roc_auc"], abs=0.02)


def test_plain_training_overrides_do_not_change_the_callers_config(tmp_path):
    """train_boundaries(cfg, seed=5, out=...) set the overrides on the caller's
    BoundaryTrainConfig: a sweep's base config kept the last run's seed and folder."""
    base = BoundaryTrainConfig(**_cfg(tmp_path, epochs=1, steps_per_epoch=1, out=None))
    res = train_boundaries(base, seed=5, out=str(tmp_path / "s5"))
    assert (base.seed, base.out) == (0, None)
    assert res.best_checkpoint == str(tmp_path / "s5" / "best")
    # by the config's fields: a method's name failed with the constructor's TypeError
    for option in ("sed", "to_json"):
        with pytest.raises(TypeError, match=rf"^train_boundaries\(\) got an unexpected keyword "
                                            rf"argument '{option}'"):
            train_boundaries(base, **{option: 1})


def test_a_diverged_model_on_a_large_validation_image_is_told_so(monkeypatch):
    """A model whose maps are NaN (weights finite but so large that its outputs overflow)
    on a validation image validated tile by tile stopped the run with the tiling
    engine's 'the model returned NaN or Inf values ...: nothing was written for these
    tiles', not that the training diverged (as for a smaller image)."""
    import napari_srmat.edges.evaluate as evaluate
    import napari_srmat.tiling as tiling
    from napari_srmat.edges.model import build_uaed, default_arch_config
    from napari_srmat.edges.train import validate

    torch.manual_seed(0)
    net = build_uaed(default_arch_config("tiny")).eval()
    net.register_forward_hook(lambda _, __, out: (out[0] * float("nan"), out[1]))
    imgs, masks = _arrays(1, 200, seed=3)
    sample = BoundarySample(to_model_image(np.asarray(imgs[0])), np.asarray(masks[0]) > 0,
                            "big")
    for limit in (None, 96 * 96):  # the whole image, then tile by tile
        if limit:
            monkeypatch.setattr(evaluate, "WHOLE_IMAGE_MAX_PIXELS", limit)
            monkeypatch.setattr(tiling, "BOUNDARY_TILE", 96)
        with pytest.raises(ValueError, match="^the training diverged: the model's boundary "
                                             "probabilities on validation image big .*"
                                             "learning rate"):
            validate(net, [sample], "cpu")


def test_a_resumed_run_whose_best_holds_a_file_of_the_users_is_refused_at_once(tmp_path):
    """A file the user put into RUN/best (notes beside the model) is never replaced
    (checkpoint.check_replaceable_checkpoint), but a resumed run found that out only at
    its next best epoch, after training it. It is refused before any step."""
    from napari_srmat.outputs import OutputExistsError

    train_boundaries(_cfg(tmp_path, epochs=1))
    notes = tmp_path / "run" / "best" / "notes.txt"
    notes.write_text("mine")
    events = []
    with pytest.raises(OutputExistsError, match="best is not a checkpoint folder .*notes.txt"):
        run_job(train_boundaries_job(_cfg(tmp_path, epochs=3, resume=True)), quiet=True,
                on_event=events.append)
    assert not any(isinstance(e, Progress) for e in events)
    assert notes.read_text() == "mine"
    notes.unlink()  # once moved out, the run resumes
    assert train_boundaries(_cfg(tmp_path, epochs=2, resume=True)).epochs_done == 2


@pytest.mark.parametrize("where, how", [
    ("last", "resume"), ("last", "overwrite"), ("top", "overwrite"), ("best", "overwrite")])
def test_a_file_of_the_users_in_a_runs_checkpoint_folders_is_refused_not_lost(tmp_path,
                                                                              where, how):
    """RUN/last is replaced whole every epoch, RUN/top/epoch-* removed whole when
    evicted, and a new run (overwrite) removes an earlier run's best and top: a file the
    user put in one of them (notes beside the model) was deleted. The run is refused
    before its first step and the file kept."""
    from napari_srmat.outputs import OutputExistsError

    first = train_boundaries(_cfg(tmp_path, epochs=1, top_k=1))
    folder = {"last": tmp_path / "run" / "last", "best": Path(first.best_checkpoint),
              "top": next((tmp_path / "run" / "top").glob("epoch-*"))}[where]
    notes = folder / "notes.txt"
    notes.write_text("mine")
    events = []
    again = _cfg(tmp_path, epochs=3, top_k=1, **{how: True})
    with pytest.raises(OutputExistsError, match="is not a checkpoint folder .*notes.txt"):
        run_job(train_boundaries_job(again), quiet=True, on_event=events.append)
    assert not any(isinstance(e, Progress) for e in events)
    assert notes.read_text() == "mine"
    notes.unlink()  # once moved out, the run goes on
    assert train_boundaries(_cfg(tmp_path, epochs=2, top_k=1, **{how: True})).epochs_done == 2


@pytest.mark.parametrize("how", ["resume", "overwrite"])
def test_a_file_of_the_users_beside_the_top_checkpoints_is_left_alone(tmp_path, how):
    """RUN/top/epoch-notes.txt (a file) is never replaced nor removed by a run, which
    refused it as 'a file, not a checkpoint folder'; a file named as a top checkpoint the
    run writes (epoch-007) is still refused before the first step."""
    from napari_srmat.outputs import OutputExistsError

    train_boundaries(_cfg(tmp_path, epochs=1, top_k=1))
    notes = tmp_path / "run" / "top" / "epoch-notes.txt"
    notes.write_text("mine")
    assert train_boundaries(_cfg(tmp_path, epochs=2, top_k=1, **{how: True})).epochs_done == 2
    assert notes.read_text() == "mine"
    named = tmp_path / "run" / "top" / "epoch-007"
    named.write_text("mine")
    events = []
    with pytest.raises(OutputExistsError, match="epoch-007 is a file"):
        run_job(train_boundaries_job(_cfg(tmp_path, epochs=3, top_k=1, **{how: True})),
                quiet=True, on_event=events.append)
    assert not any(isinstance(e, Progress) for e in events)
    assert named.read_text() == "mine"


def test_a_file_put_into_last_during_a_run_stops_it_and_is_kept(tmp_path):
    """A file dropped into RUN/last while the run trains: the next epoch's state does not
    replace that folder (it would delete the file); the run stops saying why, and the
    earlier state stays resumable."""
    from napari_srmat.outputs import OutputExistsError

    notes = tmp_path / "run" / "last" / "notes.txt"
    job = train_boundaries_job(_cfg(tmp_path, epochs=3))
    with pytest.raises(OutputExistsError, match="last is not a checkpoint folder .*notes.txt"):
        for event in job:
            if isinstance(event, Checkpoint) and (tmp_path / "run" / "last").is_dir() \
                    and not notes.exists():
                notes.write_text("mine")
    assert notes.read_text() == "mine"
    assert json.loads((tmp_path / "run" / "last" / "training_state.json").read_text())[
        "epoch"] == 0


def test_a_run_folder_takes_one_run_and_a_killed_checkpoint_write_is_cleaned(tmp_path):
    """A second run into the folder of a running one was not refused, and a kill -9
    during a checkpoint write left hidden .last.<hex>.partial / top/.epoch-NNN.<hex>.partial
    copies that nothing removed. The run's lock refuses the second run in one line; a
    run holding it removes its own stale staging folders, nothing else."""
    from napari_srmat.outputs import OutputLock, OutputLockedError

    train_boundaries(_cfg(tmp_path, epochs=1))
    run = tmp_path / "run"
    with OutputLock(run), pytest.raises(OutputLockedError, match=f"^{run} is being written"):
        train_boundaries(_cfg(tmp_path, epochs=2, resume=True))
    killed = [run / ".last.0a1b2c3d.partial", run / "top" / ".epoch-001.0a1b2c3d.partial"]
    for k in killed:
        (k / "ckpt").mkdir(parents=True)
        (k / "ckpt" / "config.json").write_text("{}")
        (k / "ema.safetensors").write_bytes(b"half")
    mine = run / ".best.0a1b2c3d.partial" / "notes.txt"
    mine.parent.mkdir()
    mine.write_text("mine")
    train_boundaries(_cfg(tmp_path, epochs=2, resume=True))
    assert not any(k.exists() for k in killed) and mine.read_text() == "mine"


def test_training_masks_without_any_boundary_are_refused_naming_their_folder(tmp_path,
                                                                             capsys):
    """Found by a bad-input hunt: `srmat edges train` on a data set whose training masks
    are all blank (a failed or inverted export) trained without a word whenever val/ had
    boundaries (only the validation masks were checked): a model that learns 'no
    boundary anywhere'. Refused now before the run folder is made, naming the folder,
    one line, exit 2."""
    from PIL import Image

    from napari_srmat.cli import main

    root = _write_dataset(tmp_path / "data")
    masks = root / "train" / "masks"
    for m in masks.iterdir():
        Image.fromarray(np.zeros((40, 40), np.uint8)).save(m)
    with pytest.raises(BoundaryDataError, match=re.escape(
            f"the training masks in {masks} (3: im0, im1, im2) have no boundary pixels")):
        train_boundaries(dict(data_root=str(root), out=str(tmp_path / "lib"), epochs=1,
                              encoder="tiny", crop=32, steps_per_epoch=1, device="cpu"))
    out = tmp_path / "run"
    argv = ["edges", "train", "--data", str(root), "--epochs", "1", "--encoder", "tiny",
            "--crop", "32", "--steps-per-epoch", "1", "--threads", "1", "--device", "cpu",
            "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        f"srmat edges train: error: the training masks in {masks} (3: im0, im1, im2) have "
        "no boundary pixels, so there is nothing to train on")
    assert not out.exists()


def test_each_blank_or_all_boundary_training_mask_is_told(tmp_path, capsys):
    """A training mask with no boundary pixel (a blank export, or a single-grain field)
    or with more than MAX_BOUNDARY_FRACTION boundary (an inverted one) was trained on
    without a word; each is named in a warning now, and the run goes on (the set has
    boundaries)."""
    from PIL import Image

    from napari_srmat.cli import main
    from napari_srmat.metrics.heyn import MAX_BOUNDARY_FRACTION

    root = _write_dataset(tmp_path / "data")
    masks = root / "train" / "masks"
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(masks / "im0.png")
    inverted = 255 - np.asarray(Image.open(masks / "im2.png"))
    Image.fromarray(inverted).save(masks / "im2.png")
    share = np.count_nonzero(inverted) / inverted.size
    assert share > MAX_BOUNDARY_FRACTION
    argv = ["edges", "train", "--data", str(root), "--epochs", "1", "--encoder", "tiny",
            "--crop", "32", "--steps-per-epoch", "1", "--threads", "1", "--device", "cpu",
            "--out", str(tmp_path / "run")]
    assert main(argv) == 0
    warned = [w for w in capsys.readouterr().err.splitlines() if "warning" in w]
    assert (f"srmat edges train: warning: training mask {masks / 'im0.png'} has no "
            "boundary pixel: a blank or inverted export? (a field of one grain trains "
            "as all background)") in warned
    assert (f"srmat edges train: warning: training mask {masks / 'im2.png'} is "
            f"{100 * share:.0f}% boundary (more than 50%): it is not a boundary map "
            "(inverted?)") in warned
    assert not [w for w in warned if "im1.png" in w]


def test_many_blank_or_all_boundary_masks_are_named_up_to_a_few_then_counted():
    """Found in review of 0c96950: a warning named every blank or all-boundary mask, so a
    tile set of a coarse-grained specimen (hundreds of tiles inside one grain, legitimate
    "no boundary here" examples) printed one line per tile, and the training widget, whose
    distinct warnings are each a napari notification, raised hundreds of them. Now the
    first MASK_WARNINGS_NAMED of each kind are named and the rest counted in one line."""
    from napari_srmat.edges.data import MASK_WARNINGS_NAMED, mask_content_warnings

    n = MASK_WARNINGS_NAMED
    blank, full = np.zeros((8, 8), bool), np.ones((8, 8), bool)
    edge = np.zeros((8, 8), bool)
    edge[3] = True
    image = np.zeros((3, 8, 8), np.float32)
    masks = ([BoundarySample(image, blank, f"b{i}.png") for i in range(n + 7)]
             + [BoundarySample(image, edge, "ok.png")]
             + [BoundarySample(image, full, f"f{i}.png") for i in range(n + 2)])
    lines = mask_content_warnings(masks, "training")
    assert len(lines) == 2 * n + 2
    assert [s.split()[2] for s in lines[:n]] == [f"b{i}.png" for i in range(n)]
    assert [s.split()[2] for s in lines[n:2 * n]] == [f"f{i}.png" for i in range(n)]
    assert lines[2 * n:] == [
        f"7 more training masks have no boundary pixel (the first {n} are named above)",
        f"2 more training masks are more than 50% boundary (the first {n} are named above)"]
    # a few of each are all named, with no count line (the warnings of 0c96950 unchanged)
    few = mask_content_warnings(masks[:n] + masks[-n:], "training")
    assert len(few) == 2 * n and not [s for s in few if "more training masks" in s]


def test_training_masks_boundary_pixels_are_counted_once(monkeypatch):
    """check_has_boundaries and mask_content_warnings each counted every mask's boundary
    pixels (two passes over each training and validation mask); one count now, shared
    (BoundarySample.boundary_pixels), with the same refusal and warnings (failed before:
    6 counts of 3 masks)."""
    from napari_srmat.edges.data import check_has_boundaries, mask_content_warnings

    image = np.zeros((3, 8, 8), np.float32)
    edge = np.zeros((8, 8), bool)
    edge[3] = True
    samples = [BoundarySample(image, m.copy(), f"m{i}.png")
               for i, m in enumerate((edge, np.zeros((8, 8), bool), np.ones((8, 8), bool)))]
    counted = []
    count_nonzero = np.count_nonzero

    def counting(a, *args, **kwargs):
        counted.append(a.shape)
        return count_nonzero(a, *args, **kwargs)

    monkeypatch.setattr(np, "count_nonzero", counting)
    check_has_boundaries(samples, "training")
    lines = mask_content_warnings(samples, "training")
    assert len(counted) == 3
    assert [s.split()[2] for s in lines] == ["m1.png", "m2.png"]


def test_a_samples_boundary_count_follows_a_new_mask():
    """BoundarySample.boundary_pixels is cached (7a74a3c): a sample given another mask
    after a check had counted it kept the old count, so a blank mask replaced by a
    boundary map was still warned 'has no boundary pixel' (failed before: that line)."""
    from napari_srmat.edges.data import check_has_boundaries, mask_content_warnings

    image = np.zeros((3, 8, 8), np.float32)
    edge = np.zeros((8, 8), bool)
    edge[3] = True
    blank, other = (BoundarySample(image, np.zeros((8, 8), bool), n) for n in ("a", "b"))
    other.mask = edge
    check_has_boundaries([blank, other], "training")
    assert blank.boundary_pixels == 0
    blank.mask = edge.copy()
    assert blank.boundary_pixels == 8
    assert mask_content_warnings([blank, other], "training") == []
