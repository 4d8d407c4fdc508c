"""Model-free measurement: Heyn lineal-intercept grain size and boundary-map metrics.

* :mod:`napari_srmat.metrics.heyn` -- ASTM E112 Heyn lineal intercept on boundary masks.
* :mod:`napari_srmat.metrics.edges` -- streaming AP / ROC-AUC / F1 and ``evaluate_maps``.
* :mod:`napari_srmat.metrics.sr` -- SR error split at the LR Nyquist limit and the
  band-limited oracle (what an SR model can gain at all).
"""

from . import edges, heyn, sr
from .edges import EdgeHistogram, binarize_boundaries, evaluate_maps, plot_pr_roc
from .heyn import HeynResult, astm_grain_size_number, heyn_error, measure_intercepts

__all__ = [
    "edges",
    "heyn",
    "sr",
    "EdgeHistogram",
    "binarize_boundaries",
    "evaluate_maps",
    "plot_pr_roc",
    "HeynResult",
    "astm_grain_size_number",
    "heyn_error",
    "measure_intercepts",
]
