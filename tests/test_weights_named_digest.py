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
