"""The fields' one pixel size is one rule (``metrics.standards.pixel_size_calibration``):
``srmat heyn``'s pool, ``summarize_fields``' µm and G and a specimen report's "pixel size"
row read the same pixel sizes the same way; the report's row is that of the fields in the
summary's statistics, as the summary's G is."""

from __future__ import annotations

import numpy as np
import pytest

from napari_srmat.metrics.standards import (
    NO_SIZE,
    ONE_SIZE,
    SIZES_DIFFER,
    SIZES_MIXED,
    common_pixel_size,
    measure_specimen,
    pixel_size_calibration,
    summarize_fields,
)
from napari_srmat.report import report_from_specimen
from napari_srmat.synth import generate_microstructure

ROW = "pixel size (µm/px)"

#: 0.3 µm read from a PNG's pHYs (whole pixels per metre: 0.30000003) and from a TIFF.
PNG_0_3_UM = 1e6 / round(1e6 / 0.3)


@pytest.mark.parametrize(
    ("sizes", "calibration", "one"),
    [
        ([0.5, 0.5], ONE_SIZE, 0.5),
        ([0.3, PNG_0_3_UM], ONE_SIZE, 0.3),
        ([None, None], NO_SIZE, None),
        ([0.5, 1.0], SIZES_DIFFER, None),
        ([0.5, None], SIZES_MIXED, None),
        ([None, 0.5, 0.5], SIZES_MIXED, None),
        ([], NO_SIZE, None),
    ],
)
def test_the_fields_pixel_sizes_stand_by_one_rule(sizes, calibration, one):
    """Guard (passed before as three copies: cli/heyn._calibration,
    report._fields_pixel_size, summarize_fields' has_um)."""
    assert pixel_size_calibration(sizes) == calibration
    assert common_pixel_size(sizes) == one


def _field(px: float | None, n_l_px: float) -> dict:
    return {
        "method": "intercept",
        "pixel_size_um": px,
        "intersections_per_px": n_l_px,
        "intersections_per_mm": None if px is None else n_l_px / px * 1000.0,
        "n_intersections": 200,
    }


@pytest.mark.parametrize(
    ("sizes", "quantity"),
    [
        ((0.5, 0.5), "N_L, intersections per mm"),
        ((0.5, 1.0), "N_L, intersections per mm"),
        ((None, None), "N_L, intersections per px"),
    ],
)
def test_summarize_fields_pools_in_mm_where_every_field_is_calibrated(sizes, quantity):
    """Guard (passed before): the summary's unit follows the rule (one size or each its
    own: per mm, with G; none: per px, without)."""
    s = summarize_fields([_field(px, v) for px, v in zip(sizes, (0.05, 0.06))])
    assert s["field_quantity"] == quantity
    assert (s["astm_g"] is not None) == quantity.endswith("per mm")


def _specimen(sizes: tuple, blank: float | None | str = "absent") -> dict:
    ms = generate_microstructure((160, 160), mean_grain_size_px=16, seed=2)
    fields = [
        {"boundaries": b, "pixel_size_um": p}
        for b, p in zip((ms.boundaries, ms.boundaries[::-1]), sizes)
    ]
    names = ["A", "B"]
    if blank != "absent":  # a field without any boundary pixel: no value, left out
        fields.append({"boundaries": np.zeros((160, 160), bool), "pixel_size_um": blank})
        names.append("C")
    return measure_specimen(fields, n_lines=12, names=names)


def _row(spec: dict) -> float | str | None:
    """The report's "pixel size" row of a specimen."""
    return dict(report_from_specimen(spec, histograms=False).summary)[ROW]


def test_a_blank_field_without_a_pixel_size_is_not_in_the_reports_pixel_size_row():
    """Fields at 0.5 µm/px and a blank one without a pixel size (no boundary pixel, left
    out of the statistics; the summary's G is at 0.5 µm/px): the report's summary row
    read "per field: 0.5, none (1 of 3 fields)" beside that G, as if a field of unknown
    size were in it. Now the row is the pixel size of the fields in the summary's
    statistics (the summary's rule): 0.5; the blank field's own warning names it, and
    the provenance still lists each field's. Failed before."""
    spec = _specimen((0.5, 0.5), blank=None)
    assert spec["summary"]["astm_g"] is not None
    rep = report_from_specimen(spec, histograms=False)
    assert dict(rep.summary)[ROW] == 0.5
    assert rep.provenance["pixel_size_um"] == [0.5, 0.5, None]
    assert any("C" in w and "left out of the statistics" in w for w in rep.warnings)


def test_a_blank_field_of_another_size_is_not_in_the_reports_range():
    """Fields at 1.0 and 0.5 µm/px and a blank one without a pixel size: the row read
    "per field: 0.5-1.0, none (1 of 3 fields)"; now "per field: 0.5-1.0". A blank field
    at 2.0 beside fields at 0.5 widened nothing either. Failed before."""
    assert _row(_specimen((1.0, 0.5), blank=None)) == "per field: 0.5-1.0"
    assert _row(_specimen((0.5, 0.5), blank=2.0)) == 0.5


def test_a_measured_field_without_a_pixel_size_is_still_said():
    """Guard (passed before): a field with a value and no pixel size is in the statistics
    (the summary withholds its pool), so the row says it."""
    assert _row(_specimen((1.0, None))) == "per field: 1.0, none (1 of 2 fields)"
