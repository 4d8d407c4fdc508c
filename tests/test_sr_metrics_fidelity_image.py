"""``metrics.sr.fidelity_image``: the public rule of how the fidelity figures take an
image, which ``sr.train.evaluate_sr`` uses (it imported the private ``_float_image``)."""

from __future__ import annotations

import ast
import inspect

import numpy as np
import pytest

import napari_srmat.metrics.sr as metrics_sr
from napari_srmat.io import grey_or_rgb, to_float01


def test_the_fidelity_image_rule_is_public_and_sr_training_uses_no_private_metric():
    """Was: sr.train.evaluate_sr imported metrics.sr._float_image, a private name; the
    rule is now metrics.sr.fidelity_image, in __all__, and sr.train imports no private
    name of metrics.sr."""
    from napari_srmat.sr import train

    assert "fidelity_image" in metrics_sr.__all__
    private = [
        alias.name
        for node in ast.walk(ast.parse(inspect.getsource(train)))
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("metrics.sr")
        for alias in node.names
        if alias.name.startswith("_")
    ]
    assert private == []


@pytest.mark.parametrize(
    "image",
    [
        np.arange(48, dtype=np.uint8).reshape(6, 8),
        (np.arange(6 * 8 * 4) % 256).astype(np.uint8).reshape(6, 8, 4),  # alpha dropped
        np.linspace(0, 1, 6 * 8 * 3, dtype=np.float32).reshape(6, 8, 3),
        np.linspace(0, 1, 6 * 8).reshape(6, 8, 1),
    ],
)
def test_fidelity_image_is_the_packages_float_and_channel_rules_in_float64(image):
    got = metrics_sr.fidelity_image(image)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, to_float01(grey_or_rgb(image), dtype=np.float64))


def test_fidelity_image_refuses_nan_and_names_the_image():
    bad = np.zeros((8, 8), np.float32)
    bad[1, 1] = np.inf
    with pytest.raises(ValueError, match="^hr has NaN or Inf pixels: replace them first"):
        metrics_sr.fidelity_image(bad, "hr")
