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
