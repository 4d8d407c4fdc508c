"""The Boundary mask tab says that the grid's "Number of lines" is per direction."""

from __future__ import annotations

import numpy as np

from napari_srmat.metrics.heyn import measure_intercepts
from napari_srmat.widgets.heyn_widget import GrainSizeWidget


def test_grid_number_of_lines_is_said_per_direction(make_napari_viewer):
    """Was: "Number of lines" 50 with the grid pattern measured 100 lines (50 rows and 50
    columns) while the label and tooltip spoke of the test lines laid: the summary's
    "lines = 100" read as a fault. Now the grid's label is "Lines per direction" and its
    tooltip says 2N test lines; random keeps "Number of lines"."""
    viewer = make_napari_viewer()
    w = GrainSizeWidget(viewer)
    w.pattern.setCurrentText("grid")
    w.n_lines.setValue(5)
    mask = np.zeros((64, 64), np.uint8)
    mask[:, 31] = 1
    measured = measure_intercepts(mask, pattern="grid", n_lines=w.n_lines.value()).n_lines
    assert measured == 2 * w.n_lines.value()  # the fact the label tells
    assert w.n_lines_label.text() == "Lines per direction"
    assert "2N test lines" in w.n_lines.toolTip()
    w.pattern.setCurrentText("random")
    assert w.n_lines_label.text() == "Number of lines"
    assert "2N" not in w.n_lines.toolTip()
