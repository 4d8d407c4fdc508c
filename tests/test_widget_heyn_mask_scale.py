"""``mask_scale=`` of the notebook / GUI helpers ``measure_heyn`` and
``add_heyn_measurement``: forwarded to ``measure_intercepts`` (the mask drawn at 1 / s and
upscaled: the zig-zag bridge on s x s blocks), checked by ``check_mask_scale``."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from napari_srmat.metrics.heyn import HeynError
from napari_srmat.synth import generate_microstructure
from napari_srmat.widgets import layers

S = 4


def _drawn_and_bilinear() -> tuple[np.ndarray, np.ndarray]:
    """A 1 px boundary mask as drawn (256², 24 px grains) and its x4 bilinear upscale
    (PIL's resize of the 0/255 mask, thresholded at 128): no exact block upscale, so its
    scale cannot be read off it."""
    mask = generate_microstructure(
        (256, 256), mean_grain_size_px=24, seed=4, boundary_width=1, rgb=False
    ).boundaries
    im = Image.fromarray(mask.astype(np.uint8) * 255)
    up = np.asarray(im.resize((256 * S, 256 * S), Image.BILINEAR)) > 127
    return mask, up


def test_measure_heyn_passes_mask_scale_and_the_upscale_reads_nearer_the_drawn_mask():
    """Fails before (no such keyword): given ``mask_scale=4`` a x4 bilinear upscale,
    thinned by the helper's default, is measured on 4 x 4 blocks and its ℓ̄ (µm at a
    quarter of the pixel size) moves toward the mask drawn at x1."""
    mask, up = _drawn_and_bilinear()
    x1 = layers.measure_heyn(mask, pixel_size_um=1.0).mean_intercept_um
    without = layers.measure_heyn(up, pixel_size_um=1.0 / S)
    given = layers.measure_heyn(up, pixel_size_um=1.0 / S, mask_scale=S)
    assert (without.block_scale, given.block_scale) == (1, S)
    assert abs(given.mean_intercept_um / x1 - 1) < abs(without.mean_intercept_um / x1 - 1)
    with pytest.raises(HeynError, match="mask_scale"):
        layers.measure_heyn(mask, mask_scale=S + 0.5)


@pytest.mark.gui
def test_add_heyn_measurement_passes_mask_scale_and_records_it(make_napari_viewer):
    """Fails before (no such keyword): the measurement shown on the upscaled layer is
    the one on 4 x 4 blocks (as ``measure_heyn``'s), its source says the scale given; a
    scale out of range is refused before any layer is added."""
    _mask, up = _drawn_and_bilinear()
    viewer = make_napari_viewer()
    layer = viewer.add_labels(up.astype(np.uint8), name="boundaries")
    shown = layers.add_heyn_measurement(viewer, layer, pixel_size_um=1.0 / S, mask_scale=S)
    alone = layers.measure_heyn(up, pixel_size_um=1.0 / S, mask_scale=S)
    assert shown.result.block_scale == S
    assert shown.result.mean_intercept_um == alone.mean_intercept_um
    assert shown.source["mask_scale"] == S
    n_layers = len(viewer.layers)
    with pytest.raises(HeynError, match="mask_scale"):
        layers.add_heyn_measurement(viewer, layer, mask_scale=0)
    assert len(viewer.layers) == n_layers
