"""A first session's layer names: one word for one thing across the grain-size tabs."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
from napari_srmat.metrics import heyn  # noqa: E402
from napari_srmat.synth import generate_microstructure  # noqa: E402
from napari_srmat.widgets.heyn_widget import GrainSizeWidget  # noqa: E402
from napari_srmat.widgets.layers import intersections_layer_name  # noqa: E402

pytestmark = pytest.mark.gui


def test_specimen_crossings_are_intersections_beside_the_mask_tabs(make_napari_viewer,
                                                                   qtbot):
    """The Boundary mask tab shows its crossings as ``"gb intersections"``; the Specimen
    (E112) tab showed the same kind of points, measured on the same layer, as ``"gb
    intercepts"`` (an intercept is the segment between two crossings, ℓ̄ their mean).
    They are ``"gb intersections (specimen)"`` now, and leave the mask tab's layer, which
    lies on its own test lines, as it was."""
    viewer = make_napari_viewer()
    ms = generate_microstructure((128, 128), mean_grain_size_px=16, seed=4)
    gb = viewer.add_labels(ms.boundaries.astype(np.uint8), name="gb")
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    w.layer_combo.value = gb
    w.run_btn.click()
    qtbot.waitUntil(lambda: w.measurement is not None, timeout=20_000)
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=10_000)
    mask_points = np.array(viewer.layers["gb intersections"].data)
    ref = heyn.measure_intercepts(ms.boundaries, pattern=w.pattern.currentText(),
                                  n_lines=w.n_lines.value(), seed=w.seed.value())
    assert len(mask_points) == ref.n_intersections

    panel = w.specimen
    panel.select_fields(["gb"])
    panel.run_btn.click()
    qtbot.waitUntil(lambda: panel.result is not None, timeout=20_000)
    qtbot.waitUntil(panel.run_btn.isEnabled, timeout=10_000)
    names = [lay.name for lay in viewer.layers]
    assert not any("intercepts" in name for name in names), names
    specimen = viewer.layers[intersections_layer_name("gb", "specimen")]
    assert specimen.name == "gb intersections (specimen)"
    assert specimen._type_string == "points"
    assert len(specimen.data) == panel.result.report["images"][0]["n_crossings"]
    # the mask tab's crossings still lie on its test lines
    np.testing.assert_array_equal(viewer.layers["gb intersections"].data, mask_points)
