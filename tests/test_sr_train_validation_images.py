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


def _val_folder_with_nan(tmp_path, nan_name: str, good_name: str):
    """A validation folder of a good 40x40 image and a NaN one (named so)."""
    import tifffile

    folder = tmp_path / "val"
    folder.mkdir()
    rng = np.random.default_rng(1)
    good = rng.random((40, 40, 3)).astype(np.float32)
    bad = rng.random((40, 40, 3)).astype(np.float32)
    bad[5, 6] = np.nan
    tifffile.imwrite(folder / good_name, good)
    tifffile.imwrite(folder / nan_name, bad)
    return folder


def test_only_the_validation_images_used_are_read(tmp_path):
    """`max_val_images` 1 of a folder whose second image (sorted by name) has a NaN pixel:
    every image was read and checked, and the NaN one, never used, refused the run (failed
    before). Only the first, as recorded (_source_identity's rule: the sorted listing's
    first), is read: the image returned is that file's."""
    from napari_srmat.outputs import files_fingerprint
    from napari_srmat.sr.train import _load_val, _source_identity

    folder = _val_folder_with_nan(tmp_path, "b.tif", "a.tif")
    images = _load_val(str(folder), 1, 2)
    assert len(images) == 1
    assert np.array_equal(images[0], _load_val(str(folder / "a.tif"), 1, 2)[0])
    assert _source_identity(str(folder), limit=1) == files_fingerprint(folder, [folder / "a.tif"])


def test_a_nan_in_a_validation_image_used_is_refused(tmp_path):
    """Guard (passed before): the NaN image among those used (the first by name) is still
    refused, named as a validation image."""
    from napari_srmat.sr.train import _load_val

    folder = _val_folder_with_nan(tmp_path, "a.tif", "b.tif")
    bad = re.escape(str(folder / "a.tif"))
    with pytest.raises(SRError, match=f"^validation image {bad} has NaN"):
        _load_val(str(folder), 1, 2)
    with pytest.raises(SRError, match=f"^validation image {bad} has NaN"):
        _load_val(str(folder), 2, 2)


@pytest.mark.parametrize("count", [0, -1, 1.5, True])
def test_max_val_images_below_one_or_not_an_integer_is_refused(tmp_path, count):
    """`max_val_images` 0, -1, 1.5 or True was taken: -1 validated every image of the folder
    but its last (a slice ``[:-1]``) until 1eed12b2, then none (the reader stops at once)
    while the resume record fingerprinted all but the last; 0 read the folder and
    validated nothing, the --val folder silently unused; 1.5 raised a TypeError from a
    slice (failed before: none refused). Refused now in one line naming the setting."""
    from napari_srmat.sr.train import SRTrainConfig

    cfg = SRTrainConfig(out=str(tmp_path / "out"), synthetic=1, max_val_images=count)
    with pytest.raises(SRError, match=r"^max_val_images must be an integer >= 1, got "):
        cfg.validate()


def test_a_training_without_validation_images_says_best_is_the_last_step(tmp_path, capsys):
    """Without validation images ``best/`` is the last step's model, not one validation
    chose; the Train widget's SR training (no validation control) ended 'done' with
    best_psnr None and no word of it (failed before). It is a warning now, as the UAED
    training warns that it validates on its training images; with --val, none."""
    import tifffile

    args = ["sr", "train", "--synthetic", "1", "--model", "cnn", "--scale", "2",
            "--train-steps", "1", "--batch-size", "1", "--patch", "16", "--threads", "1",
            "--device", "cpu"]  # fmt: skip
    line = (
        "srmat sr train: warning: no validation images: best/ will be the last "
        "step's model, not one chosen by validation PSNR"
    )
    assert cli.main([*args, "--out", str(tmp_path / "out")]) == 0
    assert line in capsys.readouterr().err.splitlines()
    val = tmp_path / "val"
    val.mkdir()
    tifffile.imwrite(val / "good.tif", np.random.default_rng(0).random((40, 40)).astype(np.float32))
    assert cli.main([*args, "--val", str(val), "--out", str(tmp_path / "out2")]) == 0
    assert "no validation images" not in capsys.readouterr().err
