"""An SR network's weights digest (part of an ``srmat sr run`` output's identity, resume,
cluster workers' check; plan-rescan's "trained"/"untrained") is computed from the weights
each time it is asked, exact for any change in memory, once per run (never per tile).

History: 6502690 kept it by :func:`napari_srmat.checkpoint._weights_key`, blind to a
change that keeps each tensor's bit sum (two elements swapped through ``.data``); now
never kept (0.4-8 ms per computation for the SR networks on a CPU).
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


def test_a_tiled_run_and_its_resume_compute_the_digest_once_each(digests, tmp_path):
    """load_model (its record of the weights as made), plan-rescan's weights note, a tiled
    run and its rerun on the complete store: one digest each, none per tile."""
    from napari_srmat.jobs import run_job
    from napari_srmat.sr import super_resolve_job
    from napari_srmat.sr.rescan import model_weights

    model = _untrained_cnn()
    assert len(digests) == 1
    assert model_weights(model) == "untrained"
    assert len(digests) == 2
    image = np.random.default_rng(0).random((96, 96), dtype=np.float32)
    out = tmp_path / "sr.zarr"
    first = run_job(super_resolve_job(image, model, tile=64, overlap=21, out=out))
    assert len(digests) == 3
    again = run_job(super_resolve_job(image, model, tile=64, overlap=21, out=out))
    assert first == again
    assert len(digests) == 4


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


def test_two_elements_swapped_through_data_change_the_digest():
    """The digest is an ``srmat sr run`` output's identity (resume) and the cluster
    workers' check: exact for any change of the weights. Failed before: a swap keeps
    :func:`~napari_srmat.checkpoint._weights_key` (same bit sums), so the digest kept
    for the weights as made was served for other weights."""
    from napari_srmat.checkpoint import _weights_key, state_dict_digest
    from napari_srmat.sr.rescan import model_weights

    model = _untrained_cnn()
    made = model.weights_digest()
    key = _weights_key(model.net)
    test_weights_digest_once._swap_two_elements(model.net)
    assert _weights_key(model.net) == key  # the blind spot this test is about
    now = model.weights_digest()
    assert now != made and now == state_dict_digest(model.net.state_dict())
    assert model.network_digest() == now
    assert model_weights(model) == "trained"


@pytest.mark.parametrize("change", _changes(), ids=lambda f: f.__name__)
def test_the_digest_follows_weights_changed_in_memory(change):
    """A weight changed in memory (also through ``.data`` or a numpy view, which torch's
    version counter misses): the output identity names the weights used and the note
    says "trained"."""
    from napari_srmat.checkpoint import state_dict_digest
    from napari_srmat.sr.rescan import model_weights

    model = _untrained_cnn()
    made = model.weights_digest()
    change(model.net)
    now = model.weights_digest()
    assert now != made and now == state_dict_digest(model.net.state_dict())
    assert model_weights(model) == "trained"


def test_a_refsr_reference_changes_its_digest_not_its_network_digest():
    """refsr's digest adds its reference to the weights' (both decide the output): a
    reference set after a first digest changes it; its network digest stays."""
    from napari_srmat.sr import load_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_model("refsr", scale=2, device="cpu")
    bare = model.weights_digest()
    ref = np.random.default_rng(1).random((64, 64), dtype=np.float32)
    model.set_reference(ref)
    assert model.weights_digest() != bare
    assert model.network_digest() == bare
