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
                                  n_lines=w.n_lines.value(), seed=w.seed.value(),
                                  skeletonize=w.skeletonize.isChecked())
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


def test_simple_tabs_boundaries_remeasure_to_its_intercept(make_napari_viewer, qtbot):
    """The Simple tab showed its binarised boundary map as '<image> boundaries (grain
    size)', while its ℓ̄ was counted on that map thinned to 1 px lines. Taken to the
    Boundary mask tab (to correct it, say) with the default options, the layer read
    another ℓ̄: on the sample micrograph at 0.5 µm/px 14.28 µm (G 9.0) against the Simple
    tab's 12.86 µm (G 9.3). The layer holds the thinned map now: the same ℓ̄ again."""
    from _helpers import simple_tab_on_micrograph

    from napari_srmat.grainsize import MEASURED_SKELETONIZE

    viewer = make_napari_viewer()
    _, layer, w, panel = simple_tab_on_micrograph(viewer, qtbot)
    panel.run_btn.click()
    qtbot.waitUntil(lambda: panel.result is not None, timeout=30_000)
    qtbot.waitUntil(panel.run_btn.isEnabled, timeout=10_000)
    simple = panel.result.heyn
    shown = viewer.layers[f"{layer.name} boundaries (grain size)"]
    assert len(viewer.layers[intersections_layer_name(shown.name)].data) \
        == simple.n_intersections
    w.layer_combo.value = shown
    assert w.skeletonize.isChecked() is MEASURED_SKELETONIZE  # the mask tab's default
    w.run_btn.click()
    qtbot.waitUntil(lambda: w.measurement is not None, timeout=20_000)
    again = w.measurement.result
    assert again.n_intersections == simple.n_intersections
    assert again.mean_intercept_px == pytest.approx(simple.mean_intercept_px, rel=1e-12)
    assert w.measurement.stats["mean_intercept_um"] == pytest.approx(
        panel.result.mean_intercept_um, rel=1e-12)
