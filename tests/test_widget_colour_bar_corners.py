"""The canvas corners of the maps' colour bars are named once (``widgets.layers``)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def test_the_maps_that_take_turns_at_a_bar_share_the_named_corner():
    """The Boundaries error map and the Specimen tab's grain-area maps take turns at one
    corner's bar (``_one_bar``): both modules spelled it ``"bottom_left"``. The corner is
    ``layers.SHARED_MAP_BAR``; the probability and uncertainty bars have corners of
    their own."""
    from napari_srmat.widgets import specimen_panel
    from napari_srmat.widgets.layers import PROBABILITY_BAR, SHARED_MAP_BAR, UNCERTAINTY_BAR

    assert specimen_panel.GRAIN_AREA_BAR == SHARED_MAP_BAR
    assert len({PROBABILITY_BAR, UNCERTAINTY_BAR, SHARED_MAP_BAR}) == 3
