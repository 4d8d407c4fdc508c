"""What an unwritable output place and a model folder are told as (s51 E13, X2 #7, X1 #7)."""

from __future__ import annotations

import json

import pytest

from napari_srmat import cli
from napari_srmat.checkpoint import CheckpointError, resolve_checkpoint_dir
from napari_srmat.outputs import OutputError, check_free_space


def test_a_pseudo_filesystem_is_not_told_as_a_full_disk():
    """Was 'needs up to 6.4 MiB, 0 B free on /proc: free space or choose another disk'."""
    with pytest.raises(OutputError) as caught:
        check_free_space("/proc/x.ome.zarr", 1000)
    text = str(caught.value)
    assert "cannot write" in text and "/proc" in text and "free space" not in text


def _pipeline(folder):
    folder.mkdir()
    (folder / "model_index.json").write_text("{}")
    (folder / "unet").mkdir()
    (folder / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"x")
    return folder


def test_a_pipeline_given_as_a_checkpoint_names_the_diffusers_local_model(tmp_path):
    """Was 'checkpoint mypipe has no model.safetensors' only."""
    with pytest.raises(CheckpointError, match="--model diffusers-local"):
        resolve_checkpoint_dir(_pipeline(tmp_path / "mypipe"))


def test_the_pickle_refusal_tells_what_a_cli_user_can_do(tmp_path):
    """Was 'convert them to safetensors or pass allow_pickle=True', an option srmat has
    not."""
    from napari_srmat.sr.diffusers_local import _check_pipeline_dir

    with pytest.raises(CheckpointError) as caught:
        _check_pipeline_dir(_pipeline(tmp_path / "pk"), allow_pickle=False)
    assert "save_pretrained" in str(caught.value) and "in Python only" in str(caught.value)


def test_info_of_a_pipeline_and_of_a_training_run_says_what_they_are(tmp_path, capsys):
    """Both were refused as 'a folder, not an image file or a Zarr store'."""
    pipe = _pipeline(tmp_path / "mypipe")
    run = tmp_path / "runA"
    for d in ("best", "last"):
        (run / d).mkdir(parents=True)
        (run / d / "model.safetensors").write_bytes(b"")
        (run / d / "config.json").write_text(json.dumps({"model": "cnn"}))
    assert cli.main(["info", str(pipe)]) == 2
    err = capsys.readouterr().err.strip()
    assert "diffusers pipeline folder" in err and "--model diffusers-local" in err
    assert cli.main(["info", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert "training run folder" in err and f"srmat info {run / 'best'}" in err
    assert len(err.splitlines()) == 1
