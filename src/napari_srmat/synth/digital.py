"""Small digital boundary masks built pixel by pixel, for checks of the Heyn counter.

Unlike :func:`~napari_srmat.synth.generate_microstructure` these masks are not rendered
from a continuous structure: each is the exact digital boundary a counting rule is
checked on (a test and a study build it from here, so both count the same pixels).
"""

from __future__ import annotations

import numpy as np

#: Side (px) of :func:`stepping_row_mask`'s square mask.
STEPPING_SIDE_PX = 300
#: Row of :func:`stepping_row_mask`'s boundary; it steps to the next row and back.
STEPPING_ROW = 150
#: Each stretch of :func:`stepping_row_mask`'s boundary on one row: at least the first,
#: fewer than the second pixels long (``numpy.random.Generator.integers``' bounds).
STEPPING_STRETCH_PX = (20, 40)
#: Seed of :func:`stepping_row_mask`'s stretch lengths.
STEPPING_SEED = 0


def stepping_row_mask(side: int = STEPPING_SIDE_PX, row: int = STEPPING_ROW,
                      stretch_px: tuple[int, int] = STEPPING_STRETCH_PX,
                      seed: int = STEPPING_SEED) -> np.ndarray:
    """A 1 px boundary along ``row`` that steps to ``row + 1`` and back across the mask.

    The boundary runs from column 0 to the last one, a stretch on one row then a stretch
    on the other, each of a random length in ``stretch_px``; at each step the column
    where it changes rows is a boundary pixel on both rows (8-connected steps made
    4-connected: the two grains, above and below, stay apart).

    Parameters
    ----------
    side : int
        Side (px) of the square mask; ``row + 1`` must lie inside it.
    row : int
        The upper of the boundary's two rows.
    stretch_px : tuple of int
        ``(low, high)``: each stretch is ``low`` to ``high - 1`` px long.
    seed : int
        Seed of the stretch lengths (``numpy.random.default_rng``).

    Returns
    -------
    numpy.ndarray
        Boolean ``(side, side)`` mask, True on the boundary.

    Examples
    --------
    >>> m = stepping_row_mask()
    >>> m.shape, int(m[150].sum() + m[151].sum()) > 300
    ((300, 300), True)
    >>> bool(m[:150].any() or m[152:].any())
    False
    """
    m = np.zeros((side, side), bool)
    rng = np.random.default_rng(seed)
    r, c = row, 0
    while c < side:
        n = int(rng.integers(*stretch_px))
        m[r, c:c + n] = True
        c += n
        if c < side:
            m[row:row + 2, c] = True
            r = 2 * row + 1 - r
    return m
