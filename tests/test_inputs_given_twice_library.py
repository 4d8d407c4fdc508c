"""An image given twice to the SR training from Python is refused, as ``srmat sr train
--data`` refuses it: one rule (:func:`napari_srmat.outputs.check_distinct_files`)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from napari_srmat.outputs import EACH_IMAGE_ONCE
from napari_srmat.sr.base import SRError
from napari_srmat.sr.train import load_training_images, train_sr


@pytest.fixture
def data(tmp_path):
    """A folder of two RGB micrographs, 32 px a side."""
    folder = tmp_path / "data"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / name)
    return folder


def refused_training(sources: list, out) -> str:
    """The SRError of a one-step ``train_sr`` on ``sources`` into ``out``, which it left
    unwritten."""
    with pytest.raises(SRError) as told:
        train_sr({"model": "cnn", "scale": 2, "data": sources, "steps": 1,
                  "batch_size": 1, "patch": 16, "out": str(out), "device": "cpu",
                  "num_threads": 1})
    assert not out.exists()
    return str(told.value)


def test_train_sr_refuses_a_file_given_beside_its_folder(tmp_path, data):
    """Was accepted: ``train_sr(data=[dir, dir/a.png])`` drew from a.png twice as often as
    from b.png, without a word; refused before anything is written."""
    told = refused_training([str(data), str(data / "a.png")], tmp_path / "ck")
    assert told == (f"training source {data / 'a.png'} is given twice (also in folder "
                    f"{data}): {EACH_IMAGE_ONCE}")


def test_train_sr_refuses_one_image_under_two_names_or_in_two_folders(tmp_path, data):
    """Was accepted: one file under two names, or in two given folders, drawn from twice
    as often as the others."""
    link = tmp_path / "link.png"
    link.symlink_to(data / "a.png")
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.png").hardlink_to(data / "a.png")
    for sources in ([str(data / "a.png"), str(link)], [str(data), str(other)]):
        assert "is given twice" in refused_training(sources, tmp_path / "ck")
    # a folder and an array (no file to compare) are two sources
    assert len(load_training_images([str(data), np.zeros((32, 32, 3), np.uint8)])) == 3


def test_links_to_a_held_out_image_in_two_folders_are_not_given_twice(tmp_path, data):
    """Was refused: two folders each holding a hard link to an image ``exclude`` holds out
    in a third. The training reads neither link (a link to a held-out image, in any
    source, is held out), so the given-twice check does not count them either: one rule
    of the images a folder gives the training."""
    Image.open(data / "a.png").rotate(180).save(data / "s13.png")  # the held-out scan
    folders = []
    for name, link in (("d2", "x.png"), ("d3", "y.png")):
        folder = tmp_path / name
        folder.mkdir()
        (folder / link).hardlink_to(data / "s13.png")
        Image.open(data / "b.png").rotate(90).save(folder / f"{name}.png")
        folders.append(str(folder))
    sources = [str(data), *folders]
    assert len(load_training_images(sources, ["s13"])) == 4  # a, b, d2, d3: no link
    result = train_sr({"model": "cnn", "scale": 2, "data": sources, "exclude": ["s13"],
                       "steps": 1, "batch_size": 1, "patch": 16,
                       "out": str(tmp_path / "ck"), "device": "cpu", "num_threads": 1})
    assert result["step"] == 1
    training = json.loads((tmp_path / "ck" / "last" / "config.json").read_text())["training"]
    # the images recorded (compared on resume) are those trained on: no link either
    assert [i["files"] for i in training["inputs"]["data"]] == [2, 1, 1]
    # a link to an image that is not held out, in two folders, is still given twice
    told = refused_training(sources, tmp_path / "ck2")  # nothing held out
    assert told == (f"training source {tmp_path / 'd2' / 'x.png'} is given twice (in "
                    f"folder {data} and in folder {folders[0]}): {EACH_IMAGE_ONCE}")
