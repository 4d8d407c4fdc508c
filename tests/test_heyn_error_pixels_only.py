"""A Heyn comparison is in pixels: a ``read_mask`` truth's pixel-size advice is not
told (s51 F4 #5; review R4 of cb1b3bac)."""

from __future__ import annotations

import warnings

import numpy as np
from _masks import GRID_LINES, grid_mask

from napari_srmat.io import read_mask
from napari_srmat.metrics.heyn import heyn_error


def test_heyn_error_in_pixels_tells_no_pixel_size_advice(tmp_path):
    """Was: ``heyn_error([pred], [read_mask(p)])`` added the truth file's pixel-size
    advice (a 150 dpi PNG: "give the pixel size ...") to a comparison in pixels."""
    from PIL import Image

    p = tmp_path / "gt.png"  # a print resolution only: no pixel size, with advice
    Image.fromarray(grid_mask().astype(np.uint8) * 255).save(p, dpi=(150, 150))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gt = read_mask(p)
    r = heyn_error([np.asarray(gt)], [gt], **GRID_LINES)
    assert r["per_image"][0]["warnings"] == [] and r["warnings"] == []
    assert r["heyn_error_pct"] == 0.0
