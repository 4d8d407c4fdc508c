"""A Zarr store given together with the image it is read as, inside it (``a.ome.zarr
a.ome.zarr/0``; ``scan.zarr scan.zarr/0`` of a bioformats2raw collection), is the same
input twice: the store is read as its level 0, the array is that level (or the same image
at another resolution). Another image of the store (``scan.zarr/1``, a label image) is
another input."""

from __future__ import annotations

import json

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


@pytest.fixture
def collection(tmp_path):
    """A bioformats2raw collection ``scan.zarr`` of two series of different pixels: the
    reader opens the collection as series 0 (``scan.zarr/0``)."""
    root = tmp_path / "scan.zarr"
    root.mkdir()
    (root / ".zgroup").write_text(json.dumps({"zarr_format": 2}))
    (root / ".zattrs").write_text(json.dumps({"bioformats2raw.layout": 3}))
    rng = np.random.default_rng(1)
    for series in ("0", "1"):
        write_ome_zarr(rng.integers(0, 256, (64, 64), dtype=np.uint8), root / series,
                       n_levels=2)
    return root


def test_a_collection_and_another_of_its_series_are_two_inputs(collection):
    """Was refused as given twice: ``scan.zarr`` is read as series 0, ``scan.zarr/1`` is
    another image (the fields of one multi-series scan pooled by ``srmat grain-size``)."""
    assert not np.array_equal(np.asarray(read_image(collection).data),
                              np.asarray(read_image(collection / "1").data))
    for paths in ([str(collection), str(collection / "1")],
                  [str(collection / "1"), str(collection)],
                  [str(collection), str(collection / "1" / "0")]):
        check_distinct_inputs(paths, "image")


@pytest.mark.parametrize("inside", ["0", "0/0", "0/1"])
def test_a_collection_and_its_first_series_are_given_twice(collection, inside):
    """The series the collection is read as, or a level of it, is the collection again."""
    np.testing.assert_array_equal(np.asarray(read_image(collection).data),
                                  np.asarray(read_image(collection / "0").data))
    series = str(collection / inside)
    with pytest.raises(UserError) as told:
        check_distinct_inputs([str(collection), series], "image")
    assert str(told.value) == (f"image {series} is given twice (also as {collection}, the "
                               "Zarr store it lies in): give each field once")


def test_a_store_and_its_labels_are_two_inputs(store):
    """Was refused as given twice: a label image of an OME-Zarr (``labels/x``, its level
    ``labels/x/0``) has pixels of its own."""
    labels = write_ome_zarr(np.zeros((64, 64), np.uint8), store / "labels" / "x")
    assert np.asarray(read_image(labels / "0").data).max() == 0
    for inside in (labels, labels / "0"):
        check_distinct_inputs([str(store), str(inside)], "image")
