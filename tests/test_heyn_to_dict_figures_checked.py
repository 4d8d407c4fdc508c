"""``HeynResult.to_dict(figures=)`` writes only its own figures at scale 1 beside its
counts (s51 F4 #3; review R4 of ddbe1d84)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from _masks import GRID_LINES, grid_mask

from napari_srmat.grainsize import grain_size_from_heyn
from napari_srmat.metrics.heyn import HeynError, measure_intercepts


def test_to_dict_refuses_figures_of_another_result_or_scale():
    """Was: figures of another measurement (ℓ̄ 39.9 px beside this one's ΣL/ΣP 19.9) or at
    inference scale 2 were written beside this result's counts unchecked."""
    r = measure_intercepts(grid_mask(), **GRID_LINES)
    other = measure_intercepts(np.kron(grid_mask(), np.ones((2, 2), bool)), **GRID_LINES)
    with pytest.raises(HeynError, match="not this measurement's"):
        r.to_dict(figures=grain_size_from_heyn(other, pixel_size_um=0.5))
    with pytest.raises(HeynError, match="inference scale 2"):
        r.to_dict(figures=grain_size_from_heyn(r, pixel_size_um=0.5, inference_scale=2))
    # its own figures, also of an equal copy and at another pixel size, are written
    same = r.to_dict(figures=grain_size_from_heyn(copy.deepcopy(r), pixel_size_um=0.25))
    assert same["pixel_size_um"] == 0.25
