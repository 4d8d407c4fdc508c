"""Manual corrections of a boundary map before it is measured.

A metallurgist fixes what the model got wrong: paints boundaries it missed and erases
false ones. The corrections are an integer map the size of the boundary map (a napari
Labels layer): :data:`ADD_BOUNDARY` (1) marks pixels that are boundary,
:data:`ERASE_BOUNDARY` (2) pixels that are not, 0 leaves the map as it is.
:func:`apply_boundary_edits` applies them and says what changed, in words that go into
the measurement's record and the report.

Examples
--------
>>> import numpy as np
>>> mask = np.zeros((5, 5), bool); mask[2] = True
>>> edits = np.zeros((5, 5), np.uint8); edits[:, 2] = ADD_BOUNDARY; edits[2, 4] = ERASE_BOUNDARY
>>> fixed, summary = apply_boundary_edits(mask, edits)
>>> int(fixed.sum()), summary.added_px, summary.erased_px
(8, 4, 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..io import as_bool_mask

__all__ = ["ADD_BOUNDARY", "ERASE_BOUNDARY", "EditSummary", "apply_boundary_edits"]

#: Label of painted (missing) boundary pixels in a corrections map.
ADD_BOUNDARY = 1
#: Label of erased (false) boundary pixels in a corrections map.
ERASE_BOUNDARY = 2


@dataclass(frozen=True)
class EditSummary:
    """What a corrections map changed.

    Attributes
    ----------
    added_px : int
        Pixels that became boundary (painted where there was none).
    erased_px : int
        Boundary pixels removed.
    painted_px, erase_marked_px : int
        Pixels marked with each label (including those that changed nothing).
    """

    added_px: int
    erased_px: int
    painted_px: int
    erase_marked_px: int

    @property
    def changed(self) -> bool:
        """Whether the map changed at all."""
        return bool(self.added_px or self.erased_px)

    def lines(self) -> list[str]:
        """One line per kind of change, for the measurement record and the report."""
        if not (self.painted_px or self.erase_marked_px):
            return []
        return [
            f"painted {self.painted_px} px as boundary ({self.added_px} px were not)",
            f"erased {self.erase_marked_px} px of boundary ({self.erased_px} px were)",
        ]


def apply_boundary_edits(mask: Any, edits: Any) -> tuple[np.ndarray, EditSummary]:
    """Apply a corrections map to a boundary mask.

    Parameters
    ----------
    mask : array (H, W)
        Boundary mask, read by the mask rule of :func:`napari_srmat.io.as_bool_mask`.
    edits : array of int (H, W)
        :data:`ADD_BOUNDARY` where a boundary is painted, :data:`ERASE_BOUNDARY` where
        one is erased, 0 elsewhere; any other label is refused.

    Returns
    -------
    (mask, summary)
        A new bool mask and an :class:`EditSummary`.

    Raises
    ------
    ValueError
        When the shapes differ or the map holds labels other than 0, 1, 2.
    """
    m = as_bool_mask(mask, name="boundary mask")
    e = np.asarray(edits)
    if e.shape != m.shape:
        raise ValueError(f"the corrections map has shape {e.shape}, the boundary map "
                         f"{m.shape}: draw the corrections on a layer of the same size")
    if e.dtype.kind not in "biu":
        raise ValueError(f"the corrections map must hold integer labels, not {e.dtype}")
    bad = np.setdiff1d(np.unique(e), [0, ADD_BOUNDARY, ERASE_BOUNDARY])
    if bad.size:
        raise ValueError(f"the corrections map holds label(s) {bad.tolist()}: use "
                         f"{ADD_BOUNDARY} to paint a boundary and {ERASE_BOUNDARY} to erase one")
    add = e == ADD_BOUNDARY
    erase = e == ERASE_BOUNDARY
    out = (m | add) & ~erase
    summary = EditSummary(added_px=int((add & ~m).sum()), erased_px=int((erase & m).sum()),
                          painted_px=int(add.sum()), erase_marked_px=int(erase.sum()))
    return out, summary
