"""The Boundaries widget labels its tile, overlap and augmentation fields with the
names its store's refusals give (``outputs.TILE_CONTROL``, ``OVERLAP_CONTROL``,
``TTA_CONTROL``), which copied its string literals (s51 H1 #2)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def test_the_boundaries_widgets_labels_are_the_named_controls(make_napari_viewer, qtbot):
    """guard: passed before (the literals were the same strings); it keeps the widget's
    labels and the constants one."""
    from qtpy.QtWidgets import QFormLayout

    from napari_srmat.outputs import OVERLAP_CONTROL, TILE_CONTROL, TTA_CONTROL
    from napari_srmat.widgets.boundaries_widget import BoundariesWidget

    w = BoundariesWidget(make_napari_viewer())
    qtbot.addWidget(w)
    labels = {}
    for form in w.findChildren(QFormLayout):
        for field in (w.tile, w.overlap, w.tta):
            label = form.labelForField(field)
            if label is not None:
                labels[field] = label.text()
    assert labels == {w.tile: TILE_CONTROL, w.overlap: OVERLAP_CONTROL, w.tta: TTA_CONTROL}
