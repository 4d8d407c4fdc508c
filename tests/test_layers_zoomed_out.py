"""Boundary layers and napari's multiscale (display) pyramids.

A 1 px boundary map shown zoomed out breaks up on screen (napari samples one texel per
screen pixel). A max-pooled multiscale pyramid would keep more of its lines, but the
plugin's own boundary layers are not display-only: the ``boundaries`` layer is written
in place by the threshold slider and may be painted, and the Simple tab's
``boundaries (grain size)`` layer is taken to the *Boundary mask* tab or saved for
``srmat heyn``. These tests pin what those uses need, and that a multiscale boundary
layer a user adds (a pooled pyramid, an OME-Zarr mask) is measured at level 0.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("napari")
from napari_srmat.widgets.heyn_widget import GrainSizeWidget  # noqa: E402
from napari_srmat.widgets.layers import (  # noqa: E402
    BoundaryMaps,
    add_boundary_result,
    layer_image_data,
    measure_heyn,
    show_grain_size_overlays,
)

pytestmark = pytest.mark.gui

#: Side of the boundary maps here (px): large enough for a three-level pyramid.
MAP_SIDE = 2048
#: Spacing of the grid of 1 px boundaries (px).
GRID_STEP = 61


def _grid_and_ring(side: int = MAP_SIDE) -> np.ndarray:
    """A uint8 0/1 map: a grid of 1 px lines and a 1 px ring (8-connected, closed)."""
    from skimage.draw import circle_perimeter

    m = np.zeros((side, side), np.uint8)
    m[::GRID_STEP] = 1
    m[:, ::GRID_STEP] = 1
    rr, cc = circle_perimeter(side // 2, side // 2, side // 3)
    m[rr, cc] = 1
    return m


def _max_pooled(level0: np.ndarray, smallest: int = 512) -> list[np.ndarray]:
    """Level 0, then 2 x 2 max-pooled levels down to ``smallest`` px (a test pyramid)."""
    levels = [level0]
    while max(levels[-1].shape) > smallest:
        h, w = levels[-1].shape
        levels.append(levels[-1].reshape(h // 2, 2, w // 2, 2).max(axis=(1, 3)))
    return levels


def test_multiscale_boundary_layer_is_measured_at_level_0(make_napari_viewer, qtbot):
    """A max-pooled multiscale Labels layer picked in the *Boundary mask* tab is measured
    on its exact level 0 (:func:`layer_image_data`), not on a pooled display level: the
    same ℓ̄ and crossings as the array itself, and a new corrections layer of level 0's
    shape."""
    viewer = make_napari_viewer()
    mask = _grid_and_ring()
    layer = viewer.add_labels(_max_pooled(mask), multiscale=True, name="gb")
    assert layer.multiscale and len(layer.level_shapes) == 3
    assert layer_image_data(layer) is mask
    ref = measure_heyn(mask.astype(bool))
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    w.layer_combo.value = layer
    w.run_btn.click()
    qtbot.waitUntil(lambda: w.measurement is not None, timeout=60_000)
    got = w.measurement.result
    np.testing.assert_array_equal(w.measured_mask, mask.astype(bool))
    assert got.n_intersections == ref.n_intersections > 0
    assert got.mean_intercept_px == pytest.approx(ref.mean_intercept_px, rel=1e-12)
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=10_000)
    corrections = w.add_corrections_layer()
    assert corrections.data.shape == mask.shape and not corrections.multiscale


def test_plugin_boundary_layers_stay_editable_single_scale_maps(make_napari_viewer, tmp_path):
    """The uses a display pyramid would break: napari does not let a layer change from
    multiscale to single-scale (the threshold slider writes the ``boundaries`` layer's
    data in place), paints no multiscale Labels layer, and its TIFF writer refuses one
    (File > Save Selected Layer, for ``srmat heyn``). Both boundary layers of the plugin
    are single-scale, paintable and saved as the exact map."""
    import tifffile

    viewer = make_napari_viewer()
    image = viewer.add_image(np.zeros((64, 64), np.uint8), name="scan", scale=(0.5, 0.5))
    mask = _grid_and_ring(256)
    maps = BoundaryMaps(prob=mask.astype(np.float32), uncertainty=np.zeros((256, 256)),
                        threshold=0.5)
    # the Simple tab's map is at the inference scale (x4 of the 64 px image)
    same = viewer.add_image(np.zeros((256, 256), np.uint8), name="same", scale=(0.5, 0.5))
    bnd = add_boundary_result(viewer, same, maps, boundaries=mask).boundaries
    result = SimpleNamespace(boundaries=mask.astype(bool), heyn=measure_heyn(mask.astype(bool)),
                             inference_scale=4.0)
    show_grain_size_overlays(viewer, image, result, boundaries=mask)
    shown = viewer.layers["scan boundaries (grain size)"]
    for lay in (bnd, shown):
        assert not lay.multiscale and lay.editable
        lay.mode = "paint"
        assert lay.mode == "paint"
        lay.mode = "pan_zoom"
        np.testing.assert_array_equal(lay.data, mask)
        path = tmp_path / f"{lay.name}.tif"
        lay.save(str(path))
        np.testing.assert_array_equal(tifffile.imread(path) > 0, mask > 0)
    bnd.data = np.zeros_like(mask)  # the slider's in-place update
    assert not bnd.data.any()
