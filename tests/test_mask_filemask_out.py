"""``read_mask``'s FileMask keeps NumPy's ``out`` contract: written in place, a ufunc
returns the caller's ``out`` arrays, the same FileMask with its pixel size (s51 F4 #4;
review R4 of cb1b3bac)."""

from __future__ import annotations

import numpy as np
from _masks import save_mask

from napari_srmat.io import read_mask


def _mask(tmp_path):
    m = np.zeros((40, 40), bool)
    m[:, 5::10] = True
    return read_mask(save_mask(tmp_path / "m.tif", m, pixel_size_um=0.5))


def test_in_place_ufuncs_return_the_callers_out(tmp_path):
    """Was: ``np.logical_not(g, out=g)`` returned a plain array (not ``g``), and
    ``g &= roi`` rebound ``g`` to a plain array without the file's pixel size."""
    g = _mask(tmp_path)
    h = g
    roi = np.zeros_like(g)
    roi[:20] = True
    g &= roi
    assert g is h and g.pixel_size_um == 0.5
    assert int(g.sum()) == 4 * 20
    r = np.logical_not(g, out=g)
    assert r is g and g.pixel_size_um == 0.5
    assert int(g.sum()) == 40 * 40 - 4 * 20
    other = np.zeros(g.shape, bool)
    assert np.logical_or(g, g, out=other) is other  # a plain out: itself too


def test_computed_masks_are_plain_as_before(tmp_path):
    """Guard (passed before): a ufunc without ``out`` gives what it gives for a plain
    array (a NumPy scalar for a reduction; a computed mask has no pixel size)."""
    g = _mask(tmp_path)
    assert type(~g) is np.ndarray and type(g & g) is np.ndarray
    assert not isinstance(g.sum(), np.ndarray)
    assert getattr(np.logical_and(g, g), "pixel_size_um", None) is None
