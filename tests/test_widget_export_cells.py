"""The one rule of an interval's CSV cells (``widgets.export.interval_cells``) and the
columns of the Specimen tab's CSV (``SpecimenPanel.CSV_COLUMNS``): one cell per column
header, an interval two numeric cells, every other value one cell."""

from __future__ import annotations

import numpy as np
import pytest

from napari_srmat.errors import error_message
from napari_srmat.widgets.export import csv_cells, interval_cells, is_interval_key

PX = 0.5


@pytest.mark.parametrize("value", [7.5, "ab", ("a", "b"), [[1], [2]], [1, 2, 3], {1: 2}])
def test_a_value_that_is_not_a_pair_is_refused_in_one_line(value):
    """A ``_ci95`` value that is not two ends (no path of the library produces one) raised
    a bare TypeError for a number or a pair of lists ('float' object is not iterable,
    told as an internal error), "could not convert string to float" for a text, and a
    pair of texts: each is now the rule's one line naming the key. Failed before."""
    want = f"astm_g_ci95: an interval is a [low, high] pair of numbers, got {value!r}"
    for make in (interval_cells, csv_cells):
        with pytest.raises(ValueError) as info:
            make("astm_g_ci95", value)
        assert str(info.value) == want
        assert error_message(info.value) == want


def test_pairs_and_none_give_two_numeric_cells():
    """Guard (passed before): a tuple, a list, an array, None and ends not finite."""
    assert interval_cells("g_ci95", (7.25, 8)) == [("g_ci95_low", 7.25), ("g_ci95_high", 8.0)]
    assert interval_cells("g_ci95", np.array([7.25, np.inf])) == [
        ("g_ci95_low", 7.25),
        ("g_ci95_high", ""),
    ]
    assert interval_cells("g_ci95", [None, 8.5]) == [("g_ci95_low", ""), ("g_ci95_high", 8.5)]
    assert interval_cells("g_ci95", None) == [("g_ci95_low", ""), ("g_ci95_high", "")]


def _columns_not_one_cell(field: dict, columns) -> list[str]:
    """The keys of ``columns`` whose value in ``field`` is a list or tuple that
    ``interval_cells`` does not take (``csv_cells`` gives such a list one cell per item:
    the row's cells after it would move under the next headers)."""
    return [
        key
        for _, key in columns
        if isinstance(field.get(key), list | tuple) and not is_interval_key(key)
    ]


def test_every_specimen_csv_column_is_one_cell_or_an_interval(monkeypatch):
    """Guard (passed when written): a column added to ``SpecimenPanel.CSV_COLUMNS`` whose
    value is a list (a field's ``warnings``) would give a row more cells than the header
    and shift the columns after it, silently. Every column of a measured field (both
    methods' keys, an interval) is one cell or an interval's two, and every row has the
    header's cells; the check itself flags such a column."""
    pytest.importorskip("napari")
    from napari_srmat.metrics.standards import measure_specimen
    from napari_srmat.synth import generate_microstructure
    from napari_srmat.widgets.specimen_panel import SpecimenPanel, _csv_row

    fields = [
        generate_microstructure((160, 160), mean_grain_size_px=16.0, seed=s).boundaries
        for s in (1, 2)
    ]
    report = measure_specimen(fields, pixel_size_um=PX, names=["f1", "f2"])
    header = _csv_row({})
    for field in report["images"]:
        assert field.get("astm_g_ci95") is not None  # an interval's two cells are read
        assert _columns_not_one_cell(field, SpecimenPanel.CSV_COLUMNS) == []
        assert [name for name, _ in _csv_row(field)] == [name for name, _ in header]
    listed = (*SpecimenPanel.CSV_COLUMNS, ("warnings", "warnings"))
    field = {**report["images"][0], "warnings": ["a", "b"]}
    assert _columns_not_one_cell(field, listed) == ["warnings"]
