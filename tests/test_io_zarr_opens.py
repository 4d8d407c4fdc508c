"""A marked (damage-checked) Zarr store opens each of its levels once per read."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import zarr

from napari_srmat.io import read_image, verify_image_job, write_ome_zarr
from napari_srmat.jobs import run_job


def _count_level_opens(monkeypatch) -> Counter:
    """How often each member of a Zarr group is opened (``group[name]``) from now on."""
    opens: Counter = Counter()
    plain = zarr.Group.__getitem__

    def counted(self, key):
        opens[str(key)] += 1
        return plain(self, key)

    monkeypatch.setattr(zarr.Group, "__getitem__", counted)
    return opens


@pytest.fixture
def marked(tmp_path):
    img = (np.arange(128 * 128).reshape(128, 128) % 251).astype(np.uint8)
    return write_ome_zarr(img, tmp_path / "m.ome.zarr", pixel_size_um=0.5, chunks=32,
                          n_levels=3)


def test_a_marked_store_opens_each_level_once(marked, monkeypatch):
    """Each level was opened twice per read_image (for the all-chunks check, then for
    the pixels) and three times by `srmat info --verify`: once now."""
    opens = _count_level_opens(monkeypatch)
    m = read_image(marked)
    assert m.n_levels == 3
    assert dict(opens) == {"0": 1, "1": 1, "2": 1}
    opens.clear()
    report = run_job(verify_image_job(marked), quiet=True)
    assert report["ok"] and report["chunks"]["n_chunks"] == 16 + 4 + 1
    assert dict(opens) == {"0": 1, "1": 1, "2": 1}


def test_a_level_of_a_marked_store_read_on_its_own_opens_once(marked, monkeypatch):
    """A level's folder read on its own (with the store's check) opens that level once
    from its image's group."""
    opens = _count_level_opens(monkeypatch)
    m = read_image(marked / "1", chunks=16)
    assert m.shape == (64, 64)
    assert opens["1"] == 1
