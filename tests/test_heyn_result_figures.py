"""A HeynResult's µm and G follow its pixel size: read-only properties computed by
``grainsize.physical_figures`` (s51 F4 #2; review R4 of ddbe1d84)."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest
from _masks import GRID_LINES, grid_mask

from napari_srmat.grainsize import physical_figures
from napari_srmat.metrics.heyn import measure_intercepts


def test_replace_pixel_size_moves_um_and_g_with_it():
    """Was: after ``dataclasses.replace(r, pixel_size_um=1.0)`` the fields read 9.95 µm /
    G 10.014 (set once at 0.5 µm) while ``to_dict`` read 19.9 µm / G 8.014."""
    r = measure_intercepts(grid_mask(), **GRID_LINES, pixel_size_um=0.5)
    r2 = dataclasses.replace(r, pixel_size_um=1.0)
    um = physical_figures(r.mean_intercept_px, None, 1.0)
    assert (r2.mean_intercept_um, r2.astm_g) == (um["mean_intercept_um"], um["astm_g"])
    d = r2.to_dict()
    assert (d["mean_intercept_um"], d["astm_g"]) == (r2.mean_intercept_um, r2.astm_g)
    r3 = measure_intercepts(grid_mask(), **GRID_LINES)
    r3.pixel_size_um = 0.5  # set after: the figures follow
    assert r3.mean_intercept_um == r3.to_dict()["mean_intercept_um"] == pytest.approx(9.95)
    with pytest.raises(AttributeError):
        r3.astm_g = 3.0  # read only: derived


def test_results_copy_pickle_and_replace_keep_their_figures():
    """Guard (passed before): copies and pickles of a result read the same µm and G."""
    r = measure_intercepts(grid_mask(), **GRID_LINES, pixel_size_um=0.5)
    for other in (copy.deepcopy(r), pickle.loads(pickle.dumps(r)),
                  dataclasses.replace(r, warnings=list(r.warnings))):
        assert (other.mean_intercept_um, other.astm_g) == (r.mean_intercept_um, r.astm_g)
        assert other.to_dict() == r.to_dict()
