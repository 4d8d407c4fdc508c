"""An SR network's weights digest (part of an ``srmat sr run`` output's identity, resume,
cluster workers' check; plan-rescan's "trained"/"untrained") is computed once per weights
state and kept until they change, by the rule the boundary model keeps its own by
(:class:`napari_srmat.checkpoint.KeptByWeights`).

Before: ``TorchSRModel.weights_digest`` and ``registry._network_digest`` hashed every
weight on each call: a run of an untrained ``cnn`` x2 (``srmat sr run``) computed it
twice (load_model's record of the weights as made, then the store's identity), never per
tile.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import test_weights_digest_once  # noqa: E402

#: Counts the calls of ``checkpoint.state_dict_digest`` (the boundary model's fixture).
digests = test_weights_digest_once.digests


def _untrained_cnn():
    from napari_srmat.sr import load_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no shipped weights for 'cnn' x2"
        return load_model("cnn", scale=2, device="cpu")


def test_a_tiled_run_and_its_resume_compute_the_digest_once(digests, tmp_path):
    """load_model, plan-rescan's weights note, a tiled run (16 tiles) and its rerun on
    the complete store: one digest. Failed before with 4 (load, the note, each run)."""
    from napari_srmat.jobs import run_job
    from napari_srmat.sr import super_resolve_job
    from napari_srmat.sr.rescan import model_weights

    model = _untrained_cnn()
    assert model_weights(model) == "untrained"
    image = np.random.default_rng(0).random((96, 96), dtype=np.float32)
    out = tmp_path / "sr.zarr"
    first = run_job(super_resolve_job(image, model, tile=64, overlap=21, out=out))
    again = run_job(super_resolve_job(image, model, tile=64, overlap=21, out=out))
    assert first == again
    assert len(digests) == 1


def _changes():
    def in_place(net):
        with torch.no_grad():
            next(net.parameters()).add_(0.5)

    def data_in_place(net):  # no version counter bump
        next(net.parameters()).data.mul_(1.5)

    def data_replaced(net):
        p = next(net.parameters())
        p.data = p.data * 2

    def numpy_view(net):
        next(net.parameters()).detach().numpy()[...] *= 1.1

    def load_state_dict(net):
        net.load_state_dict({k: v + 1 for k, v in net.state_dict().items()})

    return [in_place, data_in_place, data_replaced, numpy_view, load_state_dict]


@pytest.mark.parametrize("change", _changes(), ids=lambda f: f.__name__)
def test_the_kept_digest_follows_weights_changed_in_memory(digests, change):
    """Kept while the weights are the same; a weight changed in memory (also through
    ``.data`` or a numpy view, which torch's version counter misses) is digested again,
    so the output identity names the weights used and the note says "trained"."""
    from napari_srmat.checkpoint import state_dict_digest
    from napari_srmat.sr.rescan import model_weights

    model = _untrained_cnn()
    made = model.weights_digest()
    assert model.weights_digest() == made and len(digests) == 1
    change(model.net)
    now = model.weights_digest()
    assert now != made and now == state_dict_digest(model.net.state_dict())
    assert model_weights(model) == "trained"
    assert len(digests) == 3  # the change's digest once (+ the check's own above)


def test_a_refsr_reference_changes_its_digest_not_its_kept_network_digest(digests):
    """refsr's digest adds its reference to the weights' (both decide the output): a
    reference set after the digest was kept changes it; its network digest stays kept."""
    from napari_srmat.sr import load_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_model("refsr", scale=2, device="cpu")
    bare = model.weights_digest()
    ref = np.random.default_rng(1).random((64, 64), dtype=np.float32)
    model.set_reference(ref)
    assert model.weights_digest() != bare
    assert model.network_digest() == bare
    assert len(digests) == 1
