"""A rescan plan's Shapes layer read as whole arrays (``layers._shape_rois``, s51 E4 #3):
the rules of each shape kept."""

from __future__ import annotations

import numpy as np
import pytest

napari = pytest.importorskip("napari")

from napari_srmat.sr.rescan import RescanPlan  # noqa: E402
from napari_srmat.widgets import layers  # noqa: E402


def _plan() -> RescanPlan:
    """Four 16 px rectangles of a 64² LR image at 0.5 µm/px (as
    ``benchmarks/bench_rescan_plan_edits.py`` makes its plans)."""
    rois = [[0, 0, 16, 16], [0, 16, 16, 32], [16, 0, 32, 16], [16, 16, 32, 32]]
    ramp = np.linspace(0.0, 1.0, 64 * 64, dtype=np.float32).reshape(64, 64)
    return RescanPlan(rois, [0.4, 0.3, 0.2, 0.1], 0.3, 0.5, 0.5, 4, 0.3, 1.0, 16, "flips",
                      "", "cnn", [64, 64], 0.5, pixel_size_um=0.5, uncertainty=ramp,
                      focus_blocks=ramp[::16, ::16].copy())


def test_each_shape_s_rectangle_reason_and_rank():
    """guard: passed before (the per-shape loop it replaces). A moved rectangle, a line,
    a path, a shape outside the image, one thinner than a pixel, a polygon, a copy of a
    planned row (its rank taken: added by hand) and one with a rank the plan has not:
    each gets the rectangle, reason and rank of the one rule."""
    plan = _plan()
    rects = layers.rescan_rectangles(plan)
    data = [rects[0] + 2, rects[1], np.array([[5.0, 5.0], [5.0, 40.0]]),
            np.array([[1.0, 1.0], [9.0, 3.0], [4.0, 7.0]]),
            np.array([[-50.0, -50.0], [-10.0, -10.0]]),
            np.array([[3.2, 3.2], [3.4, 9.0]]),
            np.array([[2.0, 2.0], [30.0, 4.0], [12.0, 25.0]]), rects[1] + 1, rects[3]]
    types = ["rectangle", "rectangle", "line", "path", "rectangle", "rectangle", "polygon",
             "rectangle", "rectangle"]
    shapes = napari.layers.Shapes(data, shape_type=types)
    shapes.features = {"rank": np.array([1, 2, np.nan, 3, 4, np.nan, 2.5, 2, 9], float)}
    shown = layers.show_plan_figures(shapes, plan)
    assert shown.rois == [[2, 2, 18, 18], [0, 16, 16, 32], [2, 2, 31, 26], [1, 17, 17, 33],
                          [16, 16, 32, 32]]
    assert shown.ranks == [1, 2, None, None, None]
    # the first shape bearing a planned rank keeps it (a path or a shape over no pixel
    # too); a copy of a row and a rank the plan has not: added by hand
    rank = shapes.features["rank"].to_numpy()
    assert rank[[0, 1, 3, 4]].tolist() == [1, 2, 3, 4] and np.isnan(rank[[2, 5, 6, 7, 8]]).all()
    reasons = shapes.features["reason"].tolist()
    assert reasons[2:6] == [layers.NO_AREA, layers.NO_AREA, layers.NO_PIXEL_INSIDE,
                            layers.NO_PIXEL_INSIDE]
    assert reasons[7] == reasons[8] == "added by hand"
    assert np.isnan(shapes.features["uncertainty"].to_numpy()[2:6]).all()
    assert shapes.features["y1_um"].tolist()[:2] == [9.0, 8.0]
    assert layers.plan_layer_left_out(shapes) == (
        "2 line/path shape(s) not saved: a rescan area is a rectangle or polygon; "
        "2 shape(s) over no pixel of the image not saved")


def test_an_empty_layer_reads_as_no_shape():
    """guard: passed before. A plan's layer with every shape deleted."""
    shapes = napari.layers.Shapes([], shape_type="rectangle")
    assert layers.rescan_plan_shown(shapes, _plan()).rois == []
