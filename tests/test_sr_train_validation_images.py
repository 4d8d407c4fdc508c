"""SR training's validation images are read by the training-image reader
(``sr.train.load_training_images``) and refused in its words, named as validation
images, not training images."""

from __future__ import annotations

import re

import numpy as np
import pytest

pytest.importorskip("torch")

from napari_srmat import cli  # noqa: E402
from napari_srmat.sr.base import SRError  # noqa: E402
from napari_srmat.sr.train import load_training_images  # noqa: E402


@pytest.fixture
def nan_image_folder(tmp_path):
    import tifffile

    folder = tmp_path / "val"
    folder.mkdir()
    image = np.random.default_rng(0).random((40, 40)).astype(np.float32)
    image[3, 4] = np.nan
    tifffile.imwrite(folder / "bad.tif", image)
    return folder


def test_a_nan_validation_image_is_named_a_validation_image(tmp_path, capsys, nan_image_folder):
    """`srmat sr train --val DIR` with a NaN image in DIR said 'training image DIR/bad.tif
    has NaN or infinite pixels' (failed before): it is a validation image."""
    rc = cli.main(["sr", "train", "--synthetic", "1", "--model", "cnn", "--scale", "2",
                   "--train-steps", "1", "--batch-size", "1", "--patch", "16",
                   "--threads", "1", "--device", "cpu", "--val", str(nan_image_folder),
                   "--out", str(tmp_path / "out")])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert err.splitlines()[-1] == (
        f"srmat sr train: error: validation image {nan_image_folder / 'bad.tif'} has NaN "
        "or infinite pixels"
    )


def test_the_reader_names_the_role_it_is_given(nan_image_folder):
    """The one reader, told the role: 'training' by default, as before."""
    bad = nan_image_folder / "bad.tif"
    with pytest.raises(SRError, match=f"^training image {re.escape(str(bad))} has NaN"):
        load_training_images([str(nan_image_folder)])
    with pytest.raises(SRError, match=f"^validation image {re.escape(str(bad))} has NaN"):
        load_training_images([str(nan_image_folder)], role="validation")
