"""What ``napari_srmat.metrics.sr`` offers (``__all__``): its documented rules, not the
text of its messages (docs/api.md "Submodule names")."""

from __future__ import annotations

import napari_srmat.metrics.sr as metrics_sr


def test_the_data_range_margin_is_exported_and_the_essim_message_is_not():
    """Was: ``DATA_RANGE_MARGIN`` (the documented rule of how far ``psnr`` / ``ssim``
    inputs may lie outside their data range) was missing from ``metrics.sr.__all__``, so
    ``from napari_srmat.metrics.sr import *`` did not offer it. ``ESSIM_SCALE`` (the end
    of ``essim``'s error message) stays out."""
    namespace: dict = {}
    exec("from napari_srmat.metrics.sr import *", namespace)
    assert namespace["DATA_RANGE_MARGIN"] is metrics_sr.DATA_RANGE_MARGIN == 0.5
    assert "ESSIM_SCALE" not in metrics_sr.__all__ and "ESSIM_SCALE" not in namespace
