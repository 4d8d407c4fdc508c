"""grainsize.measured_settings / is_shipped_boundary_model: the boundary model a
measurement ran, as its report names it ("shipped default" only for the shipped weights)."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("torch")


def _tiny_checkpoint(path):
    """A user's own boundary weights: an untrained tiny UAED saved as a checkpoint."""
    import torch

    from napari_srmat.checkpoint import save_checkpoint
    from napari_srmat.edges.model import UAEDNet, default_arch_config

    torch.manual_seed(0)
    save_checkpoint(path, UAEDNet("tiny").state_dict(),
                    {**default_arch_config("tiny"), "threshold": 0.5})
    return path


def test_the_shipped_weights_digest_is_the_one_pinned():
    """The shipped weights are named so by their digest: retraining them
    (scripts/train_uaed_weights.sh) must update SHIPPED_BOUNDARY_WEIGHTS_SHA256 (and
    re-measure the model term and operating point measured with them)."""
    from napari_srmat.edges.infer import load_boundary_model
    from napari_srmat.grainsize import (
        SHIPPED_BOUNDARY_MODEL,
        SHIPPED_BOUNDARY_WEIGHTS_SHA256,
        is_shipped_boundary_model,
        measured_settings,
    )

    model = load_boundary_model(device="cpu")
    assert model.weights_digest() == SHIPPED_BOUNDARY_WEIGHTS_SHA256
    assert is_shipped_boundary_model(model)
    assert measured_settings(model)["boundary model"] == SHIPPED_BOUNDARY_MODEL


def test_other_weights_in_the_shipped_folder_are_not_named_shipped(tmp_path, monkeypatch):
    """A model loaded from the shipped weights' folder was named "shipped default"
    whatever weights that folder held (a user's weights trained into it, as
    scripts/train_uaed_weights.sh writes there) or the model held (the shipped weights
    changed in memory), and _calibration_warnings took its error calibration as
    applying. Only the shipped weights (their digest) are named so now; others are
    named by their folder, and the calibration warning is given."""
    import torch

    import napari_srmat.edges.infer as infer
    from napari_srmat.edges.infer import load_boundary_model
    from napari_srmat.grainsize import (
        SHIPPED_BOUNDARY_MODEL,
        UNSAVED_BOUNDARY_MODEL,
        _calibration_warnings,
        is_shipped_boundary_model,
        measured_settings,
    )

    folder = _tiny_checkpoint(tmp_path / "uaed_default")
    monkeypatch.setattr(infer, "default_checkpoint_path", lambda: folder)
    mine = load_boundary_model(device="cpu")  # the "shipped" folder holds the user's
    assert not is_shipped_boundary_model(mine)
    settings = measured_settings(mine)
    assert settings["boundary model"] == mine.path != SHIPPED_BOUNDARY_MODEL
    assert any("indicative only" in w for w in _calibration_warnings(mine, None))
    monkeypatch.undo()

    shipped = load_boundary_model(device="cpu")
    with torch.no_grad():  # fine-tuned in memory: no longer the shipped weights
        next(shipped.net.parameters()).add_(1.0)
    assert measured_settings(shipped)["boundary model"] == shipped.path
    shipped.path = None  # built in memory
    assert measured_settings(shipped)["boundary model"] == UNSAVED_BOUNDARY_MODEL


def test_the_shipped_weights_copied_elsewhere_are_named_by_their_folder(tmp_path):
    """A copy of the shipped weights in a folder of the user's (whose config may differ)
    is named by that folder; its digest says the weights are the shipped ones."""
    from napari_srmat.edges.infer import default_checkpoint_path, load_boundary_model
    from napari_srmat.grainsize import SHIPPED_BOUNDARY_WEIGHTS_SHA256, measured_settings

    copy = tmp_path / "my copy"
    shutil.copytree(default_checkpoint_path(), copy)
    model = load_boundary_model(copy, device="cpu")
    name, digest, _ = measured_settings(model).values()
    assert (name, digest) == (model.path, SHIPPED_BOUNDARY_WEIGHTS_SHA256)
    assert "my copy" in name
