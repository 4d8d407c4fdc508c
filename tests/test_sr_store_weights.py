"""An SR output store says whether its network was trained (``attrs["srmat"]["weights"]``,
told, not part of the output's identity)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")


def test_an_untrained_network_s_store_says_so_and_an_older_store_still_resumes(tmp_path):
    """Failed before: the store of an untrained cnn x2 (its SR equals bicubic) recorded
    model, checkpoint and weights_sha256 only; nothing said it was untrained. The key is
    informational: a store recorded without it (written before 2026-12-07) is the same
    work."""
    import zarr

    from napari_srmat.outputs import identity_differences
    from napari_srmat.sr import load_model, super_resolve

    image = np.random.default_rng(0).random((48, 48)).astype(np.float32)
    kinds = {}
    for name, scale in (("cnn", 2), ("bicubic", 2)):
        out = tmp_path / f"{name}.ome.zarr"
        super_resolve(image, load_model(name, scale=scale), out=out, tile=64, overlap=8)
        kinds[name] = zarr.open_group(str(out), mode="r").attrs["srmat"]["weights"]
    assert kinds == {"cnn": "untrained", "bicubic": "analytic"}
    requested = {"attrs": {"model": "cnn", "weights_sha256": "abc", "weights": "untrained"}}
    older = {"attrs": {"model": "cnn", "weights_sha256": "abc"}}
    assert identity_differences(older, requested) == []
    other = {"attrs": {"model": "cnn", "weights_sha256": "abd", "weights": "untrained"}}
    assert identity_differences(other, requested) != []  # the digest still decides


def test_a_reopened_sr_store_s_layer_says_its_weights_as_a_fresh_run_s_does(tmp_path):
    """Failed before: the layer napari's reader made of an SR store of an untrained cnn x2
    recorded nothing of its model or weights (a fresh run's layer has ``sr_model``,
    ``sr_factor``, ``sr_weights`` and its done line the untrained note); now the same
    records, and the note is warned (a notification in napari). An interpolation's store
    opens without a note."""
    import warnings

    from napari_srmat._napari_io import read_micrograph
    from napari_srmat.sr import load_model, super_resolve
    from napari_srmat.widgets.layers import untrained_note

    image = np.random.default_rng(0).random((48, 48)).astype(np.float32)
    metas = {}
    for name in ("cnn", "bicubic"):
        out = tmp_path / f"{name}.ome.zarr"
        super_resolve(image, load_model(name, scale=2), out=out, tile=64, overlap=8)
        with warnings.catch_warnings(record=True) as told:
            warnings.simplefilter("always")
            [(_, kwargs, _)] = read_micrograph(out)
        metas[name] = (kwargs["metadata"], [str(w.message) for w in told])
    meta, told = metas["cnn"]
    assert (meta["sr_model"], meta["sr_factor"], meta["sr_weights"]) == ("cnn", 2, "untrained")
    note = untrained_note(meta)
    assert note.startswith("cnn x2 has no trained weights (its SR equals bicubic)")
    assert [m for m in told if note in m] != []
    meta, told = metas["bicubic"]
    assert meta["sr_weights"] == "analytic"
    assert not [m for m in told if "trained weights" in m]
