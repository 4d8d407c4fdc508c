"""A diffusers pipeline folder is told by one rule (``checkpoint.is_diffusers_pipeline_dir``)
with one advice, and the advice to load it as ``diffusers-local`` only where an SR model is
loaded (s51 H1 #1)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from napari_srmat import cli
from napari_srmat.checkpoint import CheckpointError, resolve_checkpoint_dir


def _pipeline(folder):
    folder.mkdir()
    (folder / "model_index.json").write_text("{}")
    return folder


def test_a_pipeline_given_to_grain_size_is_not_told_to_load_as_diffusers_local(
        tmp_path, capsys):
    """``srmat grain-size IMG --checkpoint PIPE`` said 'load it as model diffusers-local
    (srmat sr run --model diffusers-local)', advice for an SR model, not a boundary
    model. Failed before."""
    pipe = _pipeline(tmp_path / "mypipe")
    img = tmp_path / "img.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8)).save(img)
    rc = cli.main(["grain-size", str(img), "--checkpoint", str(pipe), "--pixel-size", "0.5"])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1, err
    assert "a diffusers SR pipeline folder, not a boundary model" in err
    assert "diffusers-local" not in err


def test_an_sr_load_and_srmat_info_give_the_same_advice(tmp_path, capsys):
    """The SR checkpoint hint and ``srmat info`` advise the same command
    (``checkpoint.diffusers_pipeline_use``): the hint said '(srmat sr run --model
    diffusers-local)', info 'run it with srmat sr run IMAGE OUT --model diffusers-local
    --checkpoint PIPE'. Failed before."""
    from napari_srmat.checkpoint import diffusers_pipeline_use

    pipe = _pipeline(tmp_path / "mypipe")
    advice = diffusers_pipeline_use(pipe)
    assert f"--model diffusers-local --checkpoint {pipe}" in advice
    with pytest.raises(CheckpointError) as caught:
        resolve_checkpoint_dir(pipe)
    assert str(caught.value).endswith(advice)
    assert cli.main(["info", str(pipe)]) == 2
    assert capsys.readouterr().err.strip().endswith(advice)


def test_one_rule_of_a_pipeline_folder(tmp_path):
    """The helper is new (ImportError before); the rule itself passed before in each
    place (each checked ``model_index.json``). The three places use
    ``is_diffusers_pipeline_dir``: a file named model_index.json is no pipeline folder,
    and the diffusers-local model refuses a folder without it."""
    from napari_srmat.checkpoint import is_diffusers_pipeline_dir
    from napari_srmat.cli.info import model_folder_line
    from napari_srmat.sr.diffusers_local import _check_pipeline_dir

    pipe = _pipeline(tmp_path / "pipe")
    assert is_diffusers_pipeline_dir(pipe)
    assert not is_diffusers_pipeline_dir(pipe / "model_index.json")
    assert not is_diffusers_pipeline_dir(tmp_path / "missing")
    assert "diffusers pipeline folder" in model_folder_line(str(pipe))
    other = tmp_path / "other"
    other.mkdir()
    assert model_folder_line(str(other)) is None
    with pytest.raises(CheckpointError, match="no model_index.json"):
        _check_pipeline_dir(other, allow_pickle=False)
    assert _check_pipeline_dir(pipe, allow_pickle=False) is True
