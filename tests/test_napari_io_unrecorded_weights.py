"""napari's reader tells an SR store written before 2026-12-07 (no ``attrs.weights``, 4582ff5b)
that its learned network's weights are not recorded.

The reader warns an untrained network's store on opening (163928c9); a store written
before the weights were recorded opened silently, though its ``cnn`` x2 may have been an
untrained network (its SR bicubic). Now such a store's layer keeps
``WEIGHTS_NOT_RECORDED`` with the reader's notes and it is warned (a napari notification);
an interpolation's older store, whose weights need no record, opens without it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("torch")


def _older_store(tmp_path, name: str):
    """An SR store of ``name`` x2 as written before 2026-12-07: no ``weights`` entry."""
    import zarr

    from napari_srmat.sr import load_model, super_resolve

    image = np.random.default_rng(0).random((48, 48)).astype(np.float32)
    out = tmp_path / f"{name}.ome.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tiles' receptive-field note
        super_resolve(image, load_model(name, scale=2), out=out, tile=64, overlap=8)
    group = zarr.open_group(str(out), mode="r+")
    recorded = dict(group.attrs["srmat"])
    del recorded["weights"]
    group.attrs["srmat"] = recorded
    return out


def _opened(path):
    from napari_srmat._napari_io import read_micrograph

    with warnings.catch_warnings(record=True) as told:
        warnings.simplefilter("always")
        [(_, kwargs, _)] = read_micrograph(path)
    return kwargs["metadata"], [str(w.message) for w in told]


def test_an_older_store_of_a_learned_network_says_its_weights_are_not_recorded(tmp_path):
    from napari_srmat._napari_io import WEIGHTS_NOT_RECORDED

    meta, told = _opened(_older_store(tmp_path, "cnn"))
    assert (meta["sr_model"], meta["sr_factor"]) == ("cnn", 2)
    assert "sr_weights" not in meta  # what the store says: nothing
    note = (
        "cnn x2: weights not recorded (written by an older version): whether its "
        "network was trained is not known"
    )
    assert WEIGHTS_NOT_RECORDED in note
    assert note in meta["read_warnings"]
    assert [m for m in told if m.endswith(note)] != []


def test_an_older_store_of_an_interpolation_opens_without_the_note(tmp_path):
    """Guard (passed before): bicubic's weights need no record."""
    from napari_srmat._napari_io import WEIGHTS_NOT_RECORDED

    meta, told = _opened(_older_store(tmp_path, "bicubic"))
    assert meta["sr_model"] == "bicubic"
    assert not [m for m in [*told, *meta.get("read_warnings", [])] if WEIGHTS_NOT_RECORDED in m]
