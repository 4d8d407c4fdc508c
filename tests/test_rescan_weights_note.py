"""What ``plan_rescan``'s note says of an SR network's weights (:func:`model_weights`,
:func:`plan_notes`): weights set in memory count as trained, and only the networks whose
untrained output equals bicubic (:data:`BICUBIC_WHEN_UNTRAINED`) are said to equal it."""

from __future__ import annotations

import warnings

import pytest

from napari_srmat.sr.registry import BICUBIC_WHEN_UNTRAINED, TRAINABLE_MODELS
from napari_srmat.sr.rescan import model_weights, plan_notes, plan_rescan

#: The note's words for a network whose untrained SR is bicubic.
EQUALS_BICUBIC = "equals bicubic"


def _untrained(name: str, scale: int = 2):
    """``name`` x``scale`` as load_model makes it without shipped weights."""
    from napari_srmat.sr import load_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no shipped weights for ..."
        return load_model(name, scale=scale, device="cpu")


@pytest.mark.parametrize("name", TRAINABLE_MODELS)
def test_only_the_bicubic_equal_networks_are_said_to_equal_bicubic(name):
    """Failed before for ddpm: its note said "has no trained weights (its SR equals
    bicubic)", while an untrained ddpm's SR is not bicubic (load_model's warning said
    so only for cnn, onestep, cgan and refsr)."""
    note = plan_notes(0, 12, 0, name, "samples", "untrained", 2)[0]
    assert note.startswith(f"{name} x2 has no trained weights (")
    assert (EQUALS_BICUBIC in note) == (name in BICUBIC_WHEN_UNTRAINED), note
    with pytest.warns(UserWarning, match="no shipped weights") as told:
        from napari_srmat.sr import load_model

        load_model(name, scale=2, device="cpu")
    assert (EQUALS_BICUBIC in str(told[0].message)) == (name in BICUBIC_WHEN_UNTRAINED)


#: Farther than this from bicubic (of 1) is "not bicubic"; closer is float rounding.
BICUBIC_ROUNDING = 1e-6


@pytest.mark.parametrize("name", [n for n in TRAINABLE_MODELS if n != "refsr"])
def test_an_untrained_networks_sr_is_bicubic_exactly_when_the_registry_says(name):
    """The measurement behind BICUBIC_WHEN_UNTRAINED and docs/rescan.md's figures: the
    largest difference of each untrained network's x2 SR of a 16 x 16 random RGB from
    bicubic (cnn, cgan 0, onestep 6e-8, ddpm 0.27; refsr needs a reference, so is not
    run here)."""
    import numpy as np
    import torch

    from napari_srmat.sr.classic import bicubic_upsample

    x = np.random.default_rng(0).random((1, 3, 16, 16), dtype=np.float32)
    bicubic = bicubic_upsample(torch.from_numpy(x), 2).clamp(0, 1).numpy()
    gap = float(np.abs(np.asarray(_untrained(name).predict(x)) - bicubic).max())
    print(f"{name}: {gap:.3g}")
    assert (gap < BICUBIC_ROUNDING) == (name in BICUBIC_WHEN_UNTRAINED), gap
    if name not in BICUBIC_WHEN_UNTRAINED:
        assert gap > 0.1, gap


def test_weights_set_in_memory_are_not_told_untrained():
    """cnn x2 (no shipped weights) given weights in memory (``load_state_dict``, as from a
    notebook) whose SR still equals bicubic (its zero last layer kept): the plan has no
    rectangle, and its note said "cnn x2 has no trained weights" (failed before:
    model_weights was "untrained" for every network without a checkpoint). It now tells
    the trained network's note; the network as made is still "untrained"."""
    from napari_srmat._sample_data import synthetic_micrograph

    net = _untrained("cnn")
    assert model_weights(net) == "untrained"
    net.load_state_dict(net.state_dict())  # the same weights: still untrained
    assert model_weights(net) == "untrained"
    net.load_state_dict({k: v * 1.5 for k, v in net.state_dict().items()})
    assert model_weights(net) == "trained"
    lr = synthetic_micrograph((128, 128))[0][0]
    plan = plan_rescan(lr, net, roi_px=32, pixel_size_um=0.5)
    assert plan.rois == [] and len(plan.warnings) == 1
    assert "has no trained weights" not in plan.warnings[0]
    assert plan.warnings[0].startswith("cnn's SR agrees with itself under flips")


def test_a_network_made_from_its_class_is_not_said_to_have_no_trained_weights():
    """A network made directly from its class (not by load_model) has weights the planner
    cannot tell trained or not: its note says it was loaded from no checkpoint, and
    what it equals if untrained, not that it has no trained weights."""
    from napari_srmat.sr.cnn import CNNSR

    net = CNNSR(scale=2, device="cpu")
    assert model_weights(net) == "unknown"
    note = plan_notes(0, 12, 0, "cnn", "flips", model_weights(net), 2)[0]
    assert note.startswith("cnn x2 was loaded from no checkpoint (")
    assert "has no trained weights" not in note and EQUALS_BICUBIC in note


def test_an_untrained_refsr_given_a_reference_is_still_told_untrained():
    """refsr x2 (no shipped weights) given a reference (``--reference DIR``, the widget's
    Reference folder: :meth:`~napari_srmat.sr.refsr.RefSR.set_reference`) has the
    weights it was made with: its plan's note says it has no trained weights. Failed
    before: the record compared ``weights_digest()``, which adds the reference's digest,
    so model_weights said "trained" and the note "refsr's SR agrees with itself under
    flips on every block with structure ... the time saved assumes the SR is right
    everywhere"."""
    import numpy as np

    net = _untrained("refsr")
    net.set_reference(np.random.default_rng(1).random((64, 64, 3)).astype(np.float32))
    assert model_weights(net) == "untrained"
    net.load_state_dict({k: v * 1.5 for k, v in net.state_dict().items()})
    assert model_weights(net) == "trained"
