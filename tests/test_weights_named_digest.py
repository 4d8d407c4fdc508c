"""A boundary model's kept inference copy follows the digest a job names: a change in
place that keeps each tensor's bit sum (one conv's output channels flipped through
``.data``) keeps :func:`~napari_srmat.checkpoint._weights_key`, but the job's
``weights_digest()`` call names the new weights, and its predictions are made with them.

Before: ``edges predict`` wrote ``weights_sha256`` of the new weights while its tiles
came from the copy of the old ones (max |difference| 0.878 on the reviewer's image).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def test_copy_follows_the_named_digest_after_a_bit_sum_keeping_change():
    """Failed before: the second prediction came from the kept copy of the weights
    before the flip (predictions differed from a freshly loaded model's)."""
    from napari_srmat.checkpoint import _weights_key
    from napari_srmat.edges.infer import BoundaryModel, load_boundary_model

    model = load_boundary_model(device="cpu")
    image = np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)
    before = model.predict(image)[0]
    conv = next(m for m in model.net.modules() if isinstance(m, torch.nn.Conv2d)
                and m.out_channels > 1)
    key = _weights_key(model.net)
    conv.weight.data.copy_(conv.weight.data.flip(0))  # output channels permuted
    assert _weights_key(model.net) == key  # the change the key does not see
    model.weights_digest()  # as a job does at its start
    got = model.predict(image)[0]
    fresh = BoundaryModel(model.net, model.config, device="cpu")
    expected = fresh.predict(image)[0]
    assert np.abs(expected - before).max() > 1e-3  # the flip changes predictions
    np.testing.assert_allclose(got, expected, atol=1e-6)


def _job_prob(model, image, between_tiles=None):
    """The probability map of one in-memory boundary job on ``image`` (9 tiles, one
    per batch); ``between_tiles()`` is called once its first tile is done."""
    from napari_srmat.edges.infer import predict_boundaries_job
    from napari_srmat.jobs import Progress

    job = predict_boundaries_job(image, model, tile=96, overlap=16, batch_size=1,
                                 scale_check=False)
    try:
        while True:
            event = next(job)
            if isinstance(event, Progress) and event.done == 1 and between_tiles:
                between_tiles()
    except StopIteration as end:
        return end.value[0]


def test_a_job_predicts_all_its_tiles_with_the_copy_taken_at_its_start():
    """A job takes its inference copy once, at its start (after the digest its output is
    named by), and uses it for all its tiles: weights changed while it runs (a training
    step, another caller) do not reach its remaining tiles, and it reads no weights key
    per tile. Failed before: each tile's predict read the key and the tiles after the
    change came from a copy of the new weights (the map mixed two sets of weights)."""
    from napari_srmat.edges.infer import load_boundary_model

    image = np.random.default_rng(0).random((192, 192), dtype=np.float32)
    expected = _job_prob(load_boundary_model(device="cpu"), image)
    model = load_boundary_model(device="cpu")

    def change():
        with torch.no_grad():
            for p in model.net.parameters():
                p.mul_(1.5)

    got = _job_prob(model, image, between_tiles=change)
    changed = _job_prob(model, image)  # the next job: the new weights
    assert np.abs(changed - expected).max() > 1e-3  # the change changes predictions
    np.testing.assert_array_equal(got, expected)


def _changed_after_naming(model):
    """Make ``model.input_stats`` (which a job calls once its output is named by the
    digest, before it takes its copy) scale the weights first: a change made between
    the digest and the copy (a training step, another thread)."""
    real = model.input_stats

    def stats(image):
        with torch.no_grad():
            for p in model.net.parameters():
                p.mul_(1.5)
        return real(image)

    model.input_stats = stats


def test_weights_changed_between_the_digest_and_the_copy_refuse_the_job(tmp_path):
    """An ``edges predict`` folder is named by the digest taken at the job's start; its
    tiles must come from those weights. Failed before: the copy was taken from the
    changed weights, so the folder's marker named the weights before the change while
    its map came from the scaled ones (max difference 0.63 from their map)."""
    from napari_srmat.edges.infer import load_boundary_model, predict_boundaries_job
    from napari_srmat.jobs import run_job

    image = np.random.default_rng(0).random((96, 96), dtype=np.float32)
    model = load_boundary_model(device="cpu")
    _changed_after_naming(model)
    out = tmp_path / "pred"
    with pytest.raises(RuntimeError, match="changed after the digest") as refused:
        run_job(predict_boundaries_job(image, model, tile=64, overlap=16, out=out,
                                       scale_check=False), quiet=True)
    assert refused.type.__name__ == "WeightsChangedError"
    assert not out.exists() and not out.with_name("pred.partial").exists()


def test_a_cluster_jobs_workers_are_checked_against_the_digest_its_output_names():
    """With a scheduler the workers' weights are checked against the digest the job's
    output is named by, not one taken again when the tile function is made. Failed
    before: ``_tile_function`` took no ``named`` and the workers' digest was that of the
    weights changed since (and computed a second time)."""
    from napari_srmat.edges import infer

    image = np.random.default_rng(0).random((96, 96), dtype=np.float32)
    model = infer.load_boundary_model(device="cpu")
    named = model._name_weights()
    _changed_after_naming(model)
    remote = infer._tile_function(model, image, "tcp://127.0.0.1:8786", "cpu", 1.0,
                                  named=named)
    assert remote.digest == named[0] != model.weights_digest()


def test_a_job_keeps_the_tta_and_device_it_started_with():
    """An ``edges predict`` folder's identity names the TTA mode at the job's start; all
    its tiles are predicted with it (and on the device its copy was made for), whatever
    is set on the model while it runs. Failed before: each tile read ``model.tta``, so
    the tiles after ``tta = "d4"`` was set were averaged over the 8 flips (the map mixed
    two modes)."""
    from napari_srmat.edges.infer import load_boundary_model

    image = np.random.default_rng(0).random((192, 192), dtype=np.float32)
    expected = _job_prob(load_boundary_model(device="cpu", tta="none"), image)
    model = load_boundary_model(device="cpu", tta="none")

    def change():
        model.tta = "d4"

    got = _job_prob(model, image, between_tiles=change)
    d4 = _job_prob(model, image)  # the next job: d4
    assert np.abs(d4 - expected).max() > 1e-3  # the mode changes predictions
    np.testing.assert_array_equal(got, expected)
