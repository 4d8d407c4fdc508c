"""Manual corrections of a boundary map (metrics.edits)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_srmat.metrics.edits import ADD_BOUNDARY, ERASE_BOUNDARY, apply_boundary_edits


def test_paint_and_erase_counts():
    mask = np.zeros((6, 6), bool)
    mask[2] = True
    edits = np.zeros((6, 6), np.uint8)
    edits[:, 3] = ADD_BOUNDARY            # 6 painted, 5 new (row 2 already boundary)
    edits[2, 0] = ERASE_BOUNDARY          # 1 erased
    edits[5, 5] = ERASE_BOUNDARY          # marked, but nothing to erase
    out, s = apply_boundary_edits(mask, edits)
    assert out.dtype == bool and out.sum() == 6 + 5 - 1
    assert (s.added_px, s.erased_px, s.painted_px, s.erase_marked_px) == (5, 1, 6, 2)
    assert s.changed and len(s.lines()) == 2
    assert not mask[:, 3].all()  # input untouched


def test_empty_edits_change_nothing():
    mask = np.eye(5, dtype=np.uint8) * 255
    out, s = apply_boundary_edits(mask, np.zeros((5, 5), np.int32))
    np.testing.assert_array_equal(out, mask > 0)
    assert not s.changed and s.lines() == []


@pytest.mark.parametrize("edits, match", [
    (np.zeros((4, 5), np.uint8), "shape"),
    (np.full((5, 5), 3, np.uint8), r"label\(s\) \[3\]"),
    (np.zeros((5, 5), np.float32), "integer labels"),
])
def test_bad_corrections_refused(edits, match):
    with pytest.raises(ValueError, match=match):
        apply_boundary_edits(np.zeros((5, 5), bool), edits)
