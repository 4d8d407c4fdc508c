"""A Zarr store given together with an array inside it (``a.ome.zarr a.ome.zarr/0``) is
the same input twice: the store is read as its level 0, the array is that level (or the
same image at another resolution)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from test_inputs_given_twice_library import refused_training

from napari_srmat.cli import UserError, check_distinct_inputs, main
from napari_srmat.io import read_image, write_ome_zarr
from napari_srmat.outputs import EACH_IMAGE_ONCE


@pytest.fixture
def store(tmp_path):
    """A two-level OME-Zarr of a 64 px RGB micrograph."""
    rng = np.random.default_rng(0)
    return write_ome_zarr(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8),
                          tmp_path / "a.ome.zarr", n_levels=2)


def test_a_level_reads_the_pixels_of_its_store(store):
    """Why it matters: the store and its level 0 are one image's pixels."""
    np.testing.assert_array_equal(np.asarray(read_image(store).data),
                                  np.asarray(read_image(store / "0").data))


@pytest.mark.parametrize("inside", ["0", "1"])
def test_a_store_and_an_array_inside_it_are_given_twice(store, inside):
    """Was accepted by every command that needs distinct inputs (``srmat heyn``, ``srmat
    sr eval``, ``srmat edges pretrain``, ...), whichever comes first."""
    level = str(store / inside)
    for paths in ([str(store), level], [level, str(store)]):
        with pytest.raises(UserError) as told:
            check_distinct_inputs(paths, "image")
        assert str(told.value) == (f"image {level} is given twice (also as {store}, the "
                                   "Zarr store it lies in): give each field once")


def test_a_folder_and_a_file_in_it_stay_two_inputs(tmp_path, store):
    """Only a Zarr store is read as one image: a plain folder and a file in it (a
    command that reads a folder as one input), or two levels of one store, or two
    stores in one folder, are not refused by this rule."""
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "m.png")
    check_distinct_inputs([str(tmp_path), str(tmp_path / "m.png")], "image")
    check_distinct_inputs([str(store / "0"), str(store / "1")], "image")
    other = write_ome_zarr(np.zeros((32, 32), np.uint8), tmp_path / "b.ome.zarr")
    check_distinct_inputs([str(store), str(other)], "image")


def test_train_sr_refuses_a_store_and_its_level(tmp_path, store):
    """Was accepted: ``train_sr(data=[a.ome.zarr, a.ome.zarr/0])`` (or ``srmat sr train
    --data`` with both) read one image as two sources; refused before anything is
    written, one line from the command."""
    told = refused_training([str(store), str(store / "0")], tmp_path / "ck")
    assert told == (f"training source {store / '0'} is given twice (also as {store}, the "
                    f"Zarr store it lies in): {EACH_IMAGE_ONCE}")


def test_edges_pretrain_refuses_a_store_and_its_level(tmp_path, capsys, store):
    """Was accepted: ``srmat edges pretrain a.ome.zarr a.ome.zarr/0`` drew from one image
    twice as often as from another."""
    out = tmp_path / "pre"
    rc = main(["edges", "pretrain", str(store), str(store / "0"), "--out", str(out),
               "--train-steps", "1", "--batch-size", "1", "--crop", "32", "--patch", "8",
               "--encoder", "tiny", "--device", "cpu", "--threads", "1"])
    said, err = capsys.readouterr()
    assert rc == 2 and said == "" and not out.exists(), err
    assert err.strip() == (f"srmat edges pretrain: error: image {store / '0'} is given twice "
                           f"(also as {store}, the Zarr store it lies in): {EACH_IMAGE_ONCE}")
