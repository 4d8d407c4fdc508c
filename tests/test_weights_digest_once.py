"""A loaded boundary model's weights digest is computed once (not once per caller), and
again only when its weights change in memory.

Before: a Simple run (and ``srmat grain-size``) computed the shipped weights' digest twice,
once for ``measured_settings`` and again for ``_calibration_warnings``
(``is_shipped_boundary_model``): 9 ms for the shipped weights, 0.5 s for an
efficientnet-b7 UAED on a CPU.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch")


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


def test_a_measurement_computes_the_digest_once_per_load(digests):
    """The Simple tab's job: load, record measured_settings, measure (whose calibration
    check asks whether the weights are the shipped ones): one digest. Failed before
    with 2 (the calibration check computed it again)."""
    from napari_srmat.edges.infer import load_boundary_model
    from napari_srmat.grainsize import measure_grain_size, measured_settings
    from napari_srmat.synth import generate_microstructure

    model = load_boundary_model(device="cpu")
    settings = measured_settings(model)
    image = generate_microstructure((128, 128), mean_grain_size_px=24, seed=1).image
    measure_grain_size(image, model=model, inference_scale=1.0)
    assert len(digests) == 1
    assert model.weights_digest() == settings["boundary model weights sha256"]
    assert len(digests) == 1
    again = load_boundary_model(device="cpu")  # another load: its own digest, once
    assert again.weights_digest() == again.weights_digest() == model.weights_digest()
    assert len(digests) == 2


def test_the_digest_follows_weights_changed_in_memory(digests):
    """The kept digest describes the weights the model holds, not those it was loaded
    with: updated in place (fine-tuned), replaced or cast, it is computed again, and the
    calibration warning is given as before (only the shipped weights, unchanged, have
    none)."""
    import torch

    from napari_srmat.edges.infer import load_boundary_model
    from napari_srmat.grainsize import (
        SHIPPED_BOUNDARY_MODEL,
        SHIPPED_BOUNDARY_WEIGHTS_SHA256,
        _calibration_warnings,
        measured_settings,
    )

    model = load_boundary_model(device="cpu")
    assert _calibration_warnings(model, None) == []
    assert measured_settings(model)["boundary model"] == SHIPPED_BOUNDARY_MODEL
    # a threshold of the caller's is not the operating point the calibration was made at
    assert any("indicative only" in w for w in _calibration_warnings(model, 0.5))
    assert len(digests) == 1
    weight = next(model.net.parameters())
    with torch.no_grad():
        weight.add_(1.0)  # in place
    changed = model.weights_digest()
    assert changed != SHIPPED_BOUNDARY_WEIGHTS_SHA256 and len(digests) == 2
    assert any("indicative only" in w for w in _calibration_warnings(model, None))
    assert measured_settings(model)["boundary model"] == model.path
    assert len(digests) == 2  # kept for the changed weights too
    with torch.no_grad():
        weight.sub_(1.0)  # back: the shipped weights again
    assert model.weights_digest() == SHIPPED_BOUNDARY_WEIGHTS_SHA256
    assert _calibration_warnings(model, None) == []
    assert len(digests) == 3
    weight.data = weight.data * 2  # replaced (no in-place update, version unchanged)
    assert model.weights_digest() != SHIPPED_BOUNDARY_WEIGHTS_SHA256
    assert len(digests) == 4
    model.net.double()  # cast: another storage, same values as float32
    model.weights_digest()
    assert len(digests) == 5
