"""Regression tests of the "data safety" issue: nonsense parameters and configs are refused
early with one clear line, and degenerate results carry a warning instead of a number
that looks valid."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_srmat.cli import main  # noqa: E402
from napari_srmat.sr import load_model  # noqa: E402

TINY_DDPM = {"block_out_channels": (8, 16), "norm_num_groups": 4}


@pytest.fixture()
def small_png(tmp_path):
    from PIL import Image

    img = (np.random.default_rng(0).random((12, 16, 3)) * 255).astype(np.uint8)
    path = tmp_path / "small.png"
    Image.fromarray(img).save(path)
    return path


# ------------------------------------------------------------ 1. sampling steps
@pytest.mark.parametrize("steps", [0, -3, 1001, 2.5, True, "10"])
def test_ddpm_sampling_steps_are_validated_by_the_library(steps):
    with pytest.raises(ValueError, match="num_inference_steps"):
        load_model("ddpm", scale=2, device="cpu", pretrained=False,
                   num_inference_steps=steps, **TINY_DDPM)


def test_ddpm_steps_cannot_exceed_the_training_schedule():
    with pytest.raises(ValueError, match="num_train_timesteps"):
        load_model("ddpm", scale=2, device="cpu", pretrained=False, num_train_timesteps=50,
                   num_inference_steps=100, **TINY_DDPM)
    m = load_model("ddpm", scale=2, device="cpu", pretrained=False, num_inference_steps=1,
                   **TINY_DDPM)
    assert m.options["num_inference_steps"] == 1


def test_diffusers_local_sampling_steps_are_validated_first(tmp_path):
    # refused before the pipeline directory is even looked at
    with pytest.raises(ValueError, match="num_inference_steps"):
        load_model("diffusers-local", checkpoint=tmp_path, device="cpu", num_inference_steps=0)


@pytest.mark.parametrize("name", ["bicubic", "lanczos", "cnn", "onestep"])
def test_sampling_steps_refused_for_models_without_them(name):
    with pytest.raises(ValueError, match=f"{name} has no sampling steps"):
        load_model(name, scale=2, device="cpu", pretrained=False, num_inference_steps=5)


def test_sampling_steps_refused_for_a_cnn_checkpoint(tmp_path):
    from napari_srmat.sr import save_model_checkpoint

    m = load_model("cnn", scale=2, device="cpu", pretrained=False, n_feats=8, n_blocks=1)
    path = save_model_checkpoint(m, tmp_path / "ck")
    with pytest.raises(ValueError, match="cnn has no sampling steps"):
        load_model(checkpoint=path, device="cpu", num_inference_steps=5)


def test_cli_sr_steps_errors_name_the_flag(small_png, tmp_path, capsys):
    rc = main(["sr", "run", str(small_png), str(tmp_path / "a.zarr"), "--model", "ddpm",
               "--steps", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and "srmat sr: error:" in err and "--steps" in err
    assert "Traceback" not in err
    rc = main(["sr", "run", str(small_png), str(tmp_path / "b.zarr"), "--model", "bicubic",
               "--steps", "5"])
    err = capsys.readouterr().err
    assert rc == 2 and "--steps" in err and "bicubic has no sampling steps" in err
    assert not (tmp_path / "b.zarr").exists()
