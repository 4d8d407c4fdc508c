"""The Simple tab measures an SR layer (its recorded factor f, ``metadata["sr_factor"]``)
of a field the model reads at scale 1 at exactly 1 / f, the field's own pixels, as
``measure_grain_size(upscale_factor=f)`` and ``srmat grain-size`` on the SR store do
(fce6607f; docs/grain_size.md "A super-resolved field")."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
from napari_srmat.widgets.heyn_widget import GrainSizeWidget  # noqa: E402

pytestmark = pytest.mark.gui

PX = 0.5
FACTOR = 2


def test_simple_tab_measures_an_sr_layer_at_its_fields_pixels(make_napari_viewer, qtbot):
    """An x2 SR layer (added as the SR widget adds its result) of a 256² synthetic field
    measured at scale 1: the tab ran it at its own automatic scale (0.488, not the
    field's pixels: ℓ̄ moved with it). Now at exactly 1/2, the factor in the result."""
    from napari_srmat.synth import generate_microstructure
    from napari_srmat.widgets.layers import SR_FACTOR_KEY, add_super_resolution_result

    viewer = make_napari_viewer()
    lr_image = generate_microstructure((256, 256), mean_grain_size_px=48, seed=0).image
    lr = viewer.add_image(lr_image, name="field", rgb=True, metadata={"pixel_size_um": PX})
    up = np.repeat(np.repeat(lr_image, FACTOR, 0), FACTOR, 1)
    sr = add_super_resolution_result(viewer, lr, up, FACTOR, model_name="nearest")
    assert sr.metadata[SR_FACTOR_KEY] == FACTOR
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    panel = w.simple
    panel.image_combo.value = sr
    panel.run()
    qtbot.waitUntil(lambda: panel.result is not None, timeout=240_000)
    qtbot.waitUntil(panel.run_btn.isEnabled, timeout=10_000)
    res = panel.result
    assert res.pixel_size_um == pytest.approx(PX / FACTOR)  # the SR layer's own
    assert res.inference_scale == 1 / FACTOR
    assert res.to_dict()["upscale_factor"] == FACTOR
    assert f"x{FACTOR} SR" in panel.detail_label.text()
