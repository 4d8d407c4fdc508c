"""Robust statistics shared by the rescan planner and the audit detector: one rule for
``median + k * 1.4826 * MAD``."""

from __future__ import annotations

#: A normal distribution's standard deviation per median absolute deviation.
MAD_TO_SIGMA = 1.4826


def median_plus_mads(median: float, mad: float, k: float) -> float:
    """``median + k * MAD_TO_SIGMA * mad``: ``k`` robust standard deviations above the
    median.

    Parameters
    ----------
    median : float
        The median of the values.
    mad : float
        Their median absolute deviation.
    k : float
        Robust standard deviations above the median.

    Returns
    -------
    float

    Examples
    --------
    >>> from napari_srmat.robust_stats import median_plus_mads
    >>> round(median_plus_mads(3.0, 1.0, 3.0), 4)
    7.4478
    """
    return float(median + k * MAD_TO_SIGMA * mad)
