"""The SR training reads a source folder as a Zarr store by the reader's one rule
(:func:`napari_srmat.io.is_zarr_store`: a folder holding ``.zgroup``, ``.zarray``,
``.zmetadata`` or ``zarr.json``), not by its own (a ``.zarr`` name, a ``.zattrs`` or a
``zarr.json``), which took some folders of PNGs for stores (refused by the reader as
folders) and a Zarr v2 store named without ``.zarr`` for a folder without images."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
zarr = pytest.importorskip("zarr")

from test_io_zarr_store_rule import _png_folder, stray_zattrs  # noqa: E402

from napari_srmat.jobs import run_job  # noqa: E402
from napari_srmat.sr.train import (  # noqa: E402
    load_training_images,
    source_image_files,
    train_sr_job,
)

PIXELS = np.random.default_rng(0).integers(0, 256, (48, 40, 3), dtype=np.uint8)


def named_zarr(tmp_path):
    """A folder of PNGs named ``pngs.zarr`` (lower case, which the training's own rule
    took for a store), without Zarr metadata."""
    return _png_folder(tmp_path / "pngs.zarr")


@pytest.mark.parametrize("make", [stray_zattrs, named_zarr], ids=lambda make: make.__name__)
def test_a_folder_of_pngs_without_zarr_metadata_trains_on_its_pngs(tmp_path, make):
    """A folder of PNGs with a stray ``.zattrs``, or named ``pngs.zarr``: was a store to
    the training (source_image_files gave the folder itself, whose read the reader
    refuses as a folder); now its images, as the reader sees it."""
    folder = make(tmp_path)
    assert source_image_files(folder) == [folder / "a.png"]
    (image,) = load_training_images([str(folder)], patch=32)
    grey = np.asarray(Image.open(folder / "a.png"))
    assert np.array_equal(np.asarray(image), np.repeat(grey[..., None], 3, axis=2))


def test_a_zarr_v2_store_named_without_zarr_trains_as_one_image(tmp_path):
    """A Zarr v2 array (``.zarray``, no ``.zattrs``) named ``scan``: was a folder to the
    training, refused as holding no images; now the one image the reader reads it as."""
    store = tmp_path / "scan"
    zarr.create_array(str(store), shape=PIXELS.shape, dtype=PIXELS.dtype,
                      zarr_format=2)[:] = PIXELS
    (store / ".zattrs").unlink(missing_ok=True)  # zarr writes an empty one; others do not
    assert source_image_files(store) == [store]
    (image,) = load_training_images([str(store)], patch=32)
    assert np.array_equal(np.asarray(image[:, :]), PIXELS)
    result = run_job(train_sr_job({
        "model": "cnn", "scale": 2, "out": str(tmp_path / "run"), "data": [str(store)],
        "steps": 1, "batch_size": 1, "patch": 32, "arch": {"n_feats": 8, "n_blocks": 1},
        "device": "cpu", "num_threads": 1}), quiet=True)
    assert result["step"] == 1
