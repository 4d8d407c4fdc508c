"""The Boundary mask tab's pixel-size placeholder names the layer a new map is kept on."""

from __future__ import annotations

import numpy as np

from napari_srmat.widgets.heyn_widget import GrainSizeWidget
from napari_srmat.widgets.layers import keep_on_layer, overlay_geometry, upsert_layer


def test_placeholder_of_a_map_chosen_before_it_was_kept(make_napari_viewer):
    """Was: a boundaries layer at factor 1.6 added over an RGB micrograph while the tab's
    combo was empty was chosen by the combo as it was added (upsert_layer), before
    keep_on_layer linked it to the micrograph: the placeholder said "unknown" and stayed
    so until the choice was made again. Now a new link tells the layer's calibration
    followers (the link is part of what they show): the placeholder names the
    micrograph and the factor at once."""
    viewer = make_napari_viewer()
    rgb = np.random.default_rng(0).random((64, 64, 3)).astype(np.float32)
    img = viewer.add_image(rgb, rgb=True, name="src")
    widget = GrainSizeWidget(viewer)
    mask = (np.random.default_rng(1).random((40, 40)) > 0.8).astype(np.uint8)
    lab = upsert_layer(viewer, "src boundaries", "labels", mask, **overlay_geometry(img, 1.6))
    keep_on_layer(viewer, lab, img, 1.6)
    assert widget.layer_combo.value is lab
    shown = widget.pixel_size.placeholderText()
    widget._layer_changed()  # read again: the same
    assert shown == widget.pixel_size.placeholderText()
    assert "'src''s / 1.6" in shown
