"""A boundary model's weights digest names its outputs (``edges predict`` folders and
resume, cluster workers' check, a report's "shipped default"): it is computed from the
weights each time it is asked, exact for any change in memory, and a job asks at most
:data:`DIGESTS_PER_JOB` times.

History: fef4417 kept it by :func:`napari_srmat.checkpoint._weights_key` (computed once per
load), blind to a change that keeps each tensor's bit sum (two elements swapped through
``.data``); now never kept (9 ms for the shipped weights, 0.36 s for an efficientnet-b7
UAED on a CPU, per computation).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

#: Most digests one job computes (a measurement: measured_settings, the calibration check;
#: an ``edges predict`` to a folder: its identity).
DIGESTS_PER_JOB = 2


@pytest.fixture
def digests(monkeypatch):
    """Count the calls of ``checkpoint.state_dict_digest`` (what the digest costs)."""
    import napari_srmat.checkpoint as checkpoint

    calls: list[int] = []
    real = checkpoint.state_dict_digest

    def counted(state):
        calls.append(1)
        return real(state)

    monkeypatch.setattr(checkpoint, "state_dict_digest", counted)
    return calls


def test_a_measurement_computes_the_digest_at_most_twice(digests):
    """The Simple tab's job: load, record measured_settings, measure (whose calibration
    check asks whether the weights are the shipped ones): two digests, each of the
    weights as they are then."""
    from napari_srmat.edges.infer import load_boundary_model
    from napari_srmat.grainsize import measure_grain_size, measured_settings
    from napari_srmat.synth import generate_microstructure

    model = load_boundary_model(device="cpu")
    assert digests == []  # loading computes none
    settings = measured_settings(model)
    assert len(digests) == 1  # the name and the digest row from one computation
    image = generate_microstructure((128, 128), mean_grain_size_px=24, seed=1).image
    measure_grain_size(image, model=model, inference_scale=1.0)
    assert len(digests) <= DIGESTS_PER_JOB
    assert model.weights_digest() == settings["boundary model weights sha256"]


def test_an_edges_predict_and_its_resume_compute_the_digest_once_each(digests, tmp_path):
    """``edges predict`` to a folder names it by the digest; its rerun checks the
    folder's identity: one digest per job, never one per tile."""
    from napari_srmat.edges.infer import load_boundary_model, predict_boundaries_job
    from napari_srmat.jobs import run_job

    model = load_boundary_model(device="cpu")
    image = np.random.default_rng(0).random((96, 96), dtype=np.float32)
    out = tmp_path / "pred"
    run_job(predict_boundaries_job(image, model, tile=64, overlap=16, out=out,
                                   scale_check=False), quiet=True)
    assert len(digests) == 1
    run_job(predict_boundaries_job(image, model, tile=64, overlap=16, out=out,
                                   scale_check=False), quiet=True)
    assert len(digests) == 2


def test_the_digest_follows_weights_changed_in_memory():
    """The digest describes the weights the model holds, not those it was loaded with:
    updated in place (fine-tuned), replaced or cast, it is that of the weights now, and
    the calibration warning is given as before (only the shipped weights, unchanged,
    have none)."""
    import torch

    from napari_srmat.checkpoint import state_dict_digest
    from napari_srmat.edges.infer import load_boundary_model
    from napari_srmat.grainsize import (
        SHIPPED_BOUNDARY_MODEL,
        SHIPPED_BOUNDARY_WEIGHTS_SHA256,
        _calibration_warnings,
        measured_settings,
    )

    def now() -> str:
        return state_dict_digest(model.net.state_dict())

    model = load_boundary_model(device="cpu")
    assert _calibration_warnings(model, None) == []
    assert measured_settings(model)["boundary model"] == SHIPPED_BOUNDARY_MODEL
    # a threshold of the caller's is not the operating point the calibration was made at
    assert any("indicative only" in w for w in _calibration_warnings(model, 0.5))
    weight = next(model.net.parameters())
    shipped = weight.detach().clone()
    with torch.no_grad():
        weight.add_(1.0)  # in place
    changed = model.weights_digest()
    assert changed != SHIPPED_BOUNDARY_WEIGHTS_SHA256 and changed == now()
    assert any("indicative only" in w for w in _calibration_warnings(model, None))
    assert measured_settings(model)["boundary model"] == model.path
    with torch.no_grad():
        weight.copy_(shipped)  # back: the shipped weights again (exact, any dtype)
    assert model.weights_digest() == SHIPPED_BOUNDARY_WEIGHTS_SHA256
    assert _calibration_warnings(model, None) == []
    weight.data = weight.data * 2  # replaced (no in-place update, version unchanged)
    assert model.weights_digest() not in (SHIPPED_BOUNDARY_WEIGHTS_SHA256, changed)
    assert model.weights_digest() == now()
    model.net.double()  # cast: another storage, same values as float32
    assert model.weights_digest() == now()

def _swap_two_elements(net) -> None:
    """Swap two different elements of the first weight through ``.data``: every tensor's
    bit sum, storage and version counter stay as they were
    (:func:`napari_srmat.checkpoint._weights_key` does not change)."""
    flat = next(net.parameters()).data.view(-1)
    j = int((flat != flat[0]).nonzero()[0])
    first, other = flat[0].clone(), flat[j].clone()
    flat[0], flat[j] = other, first


def test_two_elements_swapped_through_data_change_the_digest():
    """The digest names outputs (edges predict folders and resume, cluster workers'
    check, a report's "shipped default"): it is computed from the weights when asked,
    exact for any change. Failed before: a swap keeps :func:`_weights_key` (same bit
    sums), so the digest kept for the shipped weights was served for other weights."""
    from napari_srmat.checkpoint import _weights_key, state_dict_digest
    from napari_srmat.edges.infer import load_boundary_model
    from napari_srmat.grainsize import (
        SHIPPED_BOUNDARY_MODEL,
        SHIPPED_BOUNDARY_WEIGHTS_SHA256,
        measured_settings,
    )

    model = load_boundary_model(device="cpu")
    assert model.weights_digest() == SHIPPED_BOUNDARY_WEIGHTS_SHA256
    key = _weights_key(model.net)
    _swap_two_elements(model.net)
    assert _weights_key(model.net) == key  # the blind spot this test is about
    swapped = model.weights_digest()
    assert swapped == state_dict_digest(model.net.state_dict())
    assert swapped != SHIPPED_BOUNDARY_WEIGHTS_SHA256
    assert measured_settings(model)["boundary model"] != SHIPPED_BOUNDARY_MODEL
