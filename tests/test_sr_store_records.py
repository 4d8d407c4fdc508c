"""The factor an SR store's layer records is the library's reading of the store (s51 F10 #1)."""
from types import SimpleNamespace

import numpy as np
import pytest

from napari_srmat._napari_io import sr_store_records
from napari_srmat.grainsize import recorded_upscale_factor
from napari_srmat.io import Micrograph
from napari_srmat.widgets.layers import layer_upscale_factor

SR_KIND = "super_resolution"


@pytest.mark.parametrize("srmat", [
    {"operation": SR_KIND, "model": "cnn", "tiling": {"scale": 2}},  # tiling only
    {"operation": SR_KIND, "model": "cnn", "scale": 4, "tiling": {"scale": 4}},
    {"operation": SR_KIND, "model": "cnn", "scale": "x2"},  # damaged: none
    {"operation": SR_KIND, "model": "cnn", "scale": 2.5},  # not whole: none
])
def test_the_widgets_read_the_same_factor_as_the_library(srmat):
    """A store recording its factor only in its tiling (widget: None, library: 2 before)
    or a damaged one: the layer's factor (the Simple tab's and Boundaries widget's
    ``upscale_factor``) is the one ``srmat grain-size STORE`` uses."""
    layer = SimpleNamespace(metadata=sr_store_records({"srmat": srmat}))
    image = Micrograph(data=np.zeros((8, 8)), metadata={"srmat": srmat})
    assert layer_upscale_factor(layer) == recorded_upscale_factor(image)
