"""``srmat info`` on a training's checkpoint describes what its ``config.json`` records.

Before, ``srmat info srt/best`` said 'srt/best is a folder, not an image file or a Zarr
store: give the files in it (e.g. srt/best/*.png)' and ``srmat info
srt/best/model.safetensors`` 'unsupported or corrupt image file'.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from napari_srmat.cli import main  # noqa: E402
from napari_srmat.jobs import run_job  # noqa: E402


@pytest.fixture(scope="module")
def sr_run(tmp_path_factory):
    """A 1-step SR training on synthetic textures (tests/test_sr_train.py's)."""
    from PIL import Image
    from test_sr_train import _cfg, _texture

    from napari_srmat.sr.train import train_sr_job

    tmp = tmp_path_factory.mktemp("info")
    hr = tmp / "hr"
    hr.mkdir()
    for i in range(2):
        Image.fromarray(_texture(64, 72, i)).save(hr / f"img_{i}.png")
    Image.fromarray(_texture(64, 64, 7)).save(hr / "held_out.png")
    run_job(train_sr_job(_cfg(tmp, hr, steps=1)), quiet=True)
    return tmp / "run"


@pytest.mark.parametrize("name", ["best", "best/model.safetensors"])
def test_srmat_info_describes_an_sr_checkpoint(sr_run, name, capsys):
    assert main(["info", str(sr_run / name)]) == 0
    out = capsys.readouterr().out
    assert f"checkpoint:  {sr_run / 'best'} " in out
    assert "model:       cnn, scale 2\n" in out
    assert "trained to:  step 1\n" in out
    assert "(2 files, sha256 " in out and "lr=0.003" in out and "patch=32" in out


def test_srmat_info_json_of_a_training_state(sr_run, capsys):
    assert main(["info", str(sr_run / "train_state"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["train_state"] is True and info["model"] == "cnn" and info["step"] == 1
    assert info["scale"] == 2 and info["settings"]["batch_size"] == 4
    assert info["inputs"]["data"][0]["files"] == 2
    assert info["validation"] == {}  # best_psnr -inf: no validation yet


def test_a_broken_checkpoint_is_one_line(sr_run, tmp_path, capsys):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(sr_run / "best", broken)
    (broken / "config.json").write_text("[1")
    assert main(["info", str(broken)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "config.json is not valid JSON" in err


def test_reading_a_checkpoint_folder_as_an_image_names_it(sr_run):
    from napari_srmat.io import ImageReadError, image_info

    with pytest.raises(ImageReadError, match="is a training's checkpoint, not an image"):
        image_info(sr_run / "best")


def test_srmat_info_describes_a_uaed_checkpoint(tmp_path, capsys):
    """A 1-epoch UAED training on arrays (tests/test_edges_train.py's)."""
    from test_edges_train import _cfg

    from napari_srmat.edges.train import train_boundaries_job

    cfg = _cfg(tmp_path, epochs=1, steps_per_epoch=1, num_threads=1)
    run_job(train_boundaries_job(cfg), quiet=True)
    assert main(["info", str(tmp_path / "run" / "best")]) == 0
    out = capsys.readouterr().out
    assert "model:       uaed-unetpp, encoder tiny\n" in out
    assert "trained to:  epoch 1\n" in out and "val_ap " in out and "threshold " in out
    assert "inputs:      train: <3 arrays> (sha256 " in out and "crop=32" in out
