"""One colour bar per canvas corner (``show_colorbar``): the bar drawn is a visible map's."""

from __future__ import annotations

import numpy as np
import pytest

from napari_srmat.widgets.layers import show_colorbar

pytestmark = pytest.mark.gui

CORNER = "bottom_left"


def _map(viewer, name: str, visible: bool = True):
    return viewer.add_image(np.zeros((8, 8), np.float32), name=name, visible=visible)


def _drawn(viewer) -> list[str]:
    """The maps whose bar napari draws: bar on and layer visible."""
    return [lay.name for lay in viewer.layers if lay.colorbar.visible and lay.visible]


def test_a_hidden_map_does_not_take_the_corner_of_a_visible_maps_bar(make_napari_viewer):
    """The Specimen tab's grain-area maps and the Boundaries error map (added hidden)
    share bottom_left, and napari draws a bar only while its layer is visible: the error
    map's bar turned the grain-area bar off and none was drawn; ticking the error map's
    eye later drew none either, nor did deleting or hiding the shown map leave another
    visible map's. Now the corner's bar is a visible map's, rechosen on those events."""
    viewer = make_napari_viewer()
    f1, f2 = _map(viewer, "f1 grain area"), _map(viewer, "f2 grain area")
    show_colorbar(f1, CORNER, viewer, shown=False)
    show_colorbar(f2, CORNER, viewer, shown=False)
    show_colorbar(f2, CORNER, viewer)
    err = _map(viewer, "error probability", visible=False)
    show_colorbar(err, CORNER, viewer)
    assert _drawn(viewer) == ["f2 grain area"]
    err.visible = True  # its eye ticked: its bar
    assert _drawn(viewer) == ["error probability"]
    viewer.layers.remove(err)
    assert _drawn(viewer) == ["f2 grain area"]
    f2.visible = False
    assert _drawn(viewer) == ["f1 grain area"]
    viewer.layers.remove(f1)
    f2.visible = True
    assert _drawn(viewer) == ["f2 grain area"]


def test_the_error_map_first_its_bar_drawn_once_its_eye_is_ticked(make_napari_viewer):
    """The other order: Boundaries (hidden error map), then the Specimen maps."""
    viewer = make_napari_viewer()
    err = _map(viewer, "error probability", visible=False)
    show_colorbar(err, CORNER, viewer)
    f1 = _map(viewer, "f1 grain area")
    show_colorbar(f1, CORNER, viewer, shown=False)
    show_colorbar(f1, CORNER, viewer)
    assert _drawn(viewer) == ["f1 grain area"]
    err.visible = True
    assert _drawn(viewer) == ["error probability"]
    other = _map(viewer, "probability")
    show_colorbar(other, "top_right", viewer)  # another corner: its own bar
    viewer.layers.selection.active = f1
    assert _drawn(viewer) == ["f1 grain area", "probability"]
