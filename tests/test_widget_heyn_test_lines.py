"""The Boundary mask tab's test-line layer is updated in place for paths (circles) too."""

from __future__ import annotations

import numpy as np

from napari_srmat.widgets.layers import show_test_lines


def _circles(n: int, r0: float) -> list[np.ndarray]:
    t = np.linspace(0.0, 2.0 * np.pi, 64)
    return [
        np.c_[128 + (r0 + 10 * i) * np.sin(t), 128 + (r0 + 10 * i) * np.cos(t)] for i in range(n)
    ]


def test_circles_update_the_test_lines_layer_in_place(make_napari_viewer):
    """Was: every result with circles (or drawn polylines) removed the "test lines" Shapes
    layer and added a new one (~0.8-0.9 s of GUI freeze per result: napari's removal runs
    gc.collect), while straight lines updated their Vectors layer in place. Now a paths
    result replaces the data of the same Shapes layer, whose lines keep the cyan colour
    and the given width, and its scale; a straight-lines result still gives a Vectors
    layer in its place, and paths after it a Shapes layer again."""
    viewer = make_napari_viewer()
    first = show_test_lines(viewer, "m test lines", _circles(3, 20), width=2.0)
    again = show_test_lines(viewer, "m test lines", _circles(5, 15), width=3.0, scale=(0.5, 0.5))
    assert again is first and [lyr.name for lyr in viewer.layers] == ["m test lines"]
    assert again.nshapes == 5 and set(again.shape_type) == {"path"}
    np.testing.assert_allclose(again.data[4], _circles(5, 15)[4])
    np.testing.assert_allclose(again.edge_width, [3.0] * 5)
    np.testing.assert_allclose(again.edge_color, [[0.0, 1.0, 1.0, 1.0]] * 5)
    np.testing.assert_allclose(again.scale, (0.5, 0.5))
    fewer = show_test_lines(viewer, "m test lines", _circles(2, 15), width=3.0, scale=(0.5, 0.5))
    assert fewer is first and fewer.nshapes == 2
    straight = show_test_lines(viewer, "m test lines", [np.array([[0.0, 0.0], [10.0, 10.0]])])
    assert straight._type_string == "vectors" and len(viewer.layers) == 1
    paths = show_test_lines(viewer, "m test lines", _circles(2, 15))
    assert paths._type_string == "shapes" and len(viewer.layers) == 1
