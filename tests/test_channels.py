"""napari_srmat.channels: the channel rule of the computations on a grey plane."""

from __future__ import annotations

import numpy as np
import pytest

from napari_srmat.channels import float_channels_last, image_luminance, luminance
from napari_srmat.sr.base import SRError


@pytest.mark.parametrize(("shape", "words"), [
    ((10, 96, 96), "stack of 10 planes"),  # was read as 10 rows of 96 px, 3 of 96 channels
    ((96, 96, 7), "7 channels"),  # was cut to its first 3 channels without a word
    ((3, 96, 96), "channels first"),
])
def test_float_channels_last_follows_the_image_input_rule(shape, words):
    image = np.zeros(shape, np.uint8)
    with pytest.raises(ValueError, match=words):
        float_channels_last(image)
    with pytest.raises(SRError, match=words):  # the caller's error type
        image_luminance(image, error=SRError)


def test_float_channels_last_keeps_what_the_rule_takes():
    assert float_channels_last(np.zeros((96, 96, 4), np.uint8)).shape == (96, 96, 3)
    assert float_channels_last(np.zeros((3, 40, 3), np.uint8)).shape == (3, 40, 3)
    assert float_channels_last(np.zeros((2, 5), np.uint8)).shape == (2, 5, 1)


def test_luminance_of_a_grey_plane_and_of_a_wrong_shape():
    grey = np.linspace(0, 1, 12, dtype=np.float64).reshape(3, 4)
    # an (H, W) plane was an IndexError ("tuple index out of range")
    out = luminance(grey)
    assert out.dtype == np.float32 and np.allclose(out, grey)
    with pytest.raises(ValueError, match=r"\(H, W, C\).*shape \(5,\)"):
        luminance(np.zeros(5, np.float32))
