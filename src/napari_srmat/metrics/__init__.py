"""Model-free measurement: Heyn lineal-intercept grain size and boundary-map metrics.

* :mod:`napari_srmat.metrics.heyn` -- ASTM E112 Heyn lineal intercept on boundary masks.
* :mod:`napari_srmat.metrics.planimetric` -- Jeffries grain counting (E112, ISO 643, E1382).
* :mod:`napari_srmat.metrics.standards` -- a specimen's fields measured and summarized
  (mean, 95 % CI, %RA, E112 advice), conversions between G and the other grain sizes.
* :mod:`napari_srmat.metrics.distributions` -- intercept/area histograms, ALA grains
  (E930), duplex test (E1181).
* :mod:`napari_srmat.metrics.grainmap` -- grains from boundary masks, twins, triple points.
* :mod:`napari_srmat.metrics.edges` -- streaming AP / ROC-AUC / F1 and ``evaluate_maps``.
* :mod:`napari_srmat.metrics.sr` -- SR error split at the LR Nyquist limit and the
  band-limited oracle (what an SR model can gain at all).
"""

from . import distributions, edges, grainmap, heyn, planimetric, sr, standards
from .edges import EdgeHistogram, binarize_boundaries, evaluate_maps, plot_pr_roc
from .heyn import HeynResult, astm_grain_size_number, heyn_error, measure_intercepts
from .planimetric import PlanimetricResult
from .standards import measure_field, measure_specimen, summarize_fields

__all__ = [
    "distributions",
    "edges",
    "grainmap",
    "heyn",
    "planimetric",
    "sr",
    "standards",
    "EdgeHistogram",
    "binarize_boundaries",
    "evaluate_maps",
    "plot_pr_roc",
    "HeynResult",
    "astm_grain_size_number",
    "heyn_error",
    "measure_intercepts",
    "PlanimetricResult",
    "measure_field",
    "measure_specimen",
    "summarize_fields",
]
