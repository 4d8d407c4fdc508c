"""The canvas corners of the maps' colour bars are named once (``widgets.layers``)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")

pytestmark = pytest.mark.gui


def test_boundary_maps_bars_take_the_named_corners(make_napari_viewer):
    """The Boundaries error map and the Specimen tab's grain-area maps take turns at one
    corner's bar (``_one_bar``): the bar :func:`add_boundary_result` gives the error map
    is in the grain-area maps' corner (``layers.SHARED_MAP_BAR``); the probability and
    uncertainty bars have corners of their own, neither that one. Read from the layers
    a real viewer shows (the test before named one alias twice and could not fail)."""
    from napari_srmat.widgets import specimen_panel
    from napari_srmat.widgets.layers import BoundaryMaps, add_boundary_result

    viewer = make_napari_viewer()
    image = viewer.add_image(np.zeros((16, 16), np.float32), name="scan")
    prob = np.linspace(0, 1, 256, dtype=np.float32).reshape(16, 16)
    out = add_boundary_result(
        viewer,
        image,
        BoundaryMaps(prob=prob, uncertainty=prob / 2, threshold=0.5, error_model={"bins": []}),
        error=np.zeros((16, 16), np.float32),
    )
    corners = {
        name: str(lay.colorbar.position)
        for name, lay in (
            ("probability", out.probability),
            ("uncertainty", out.uncertainty),
            ("error", out.error),
        )
    }
    assert corners["error"] == str(specimen_panel.GRAIN_AREA_BAR)
    assert len(set(corners.values())) == 3, corners
    assert out.probability.colorbar.visible
