"""napari-srmat: trustworthy super-resolution for quantitative metallography.

The core library (``io``, ``tiling``, ``sr``, ``edges``, ``metrics``, ``synth``,
``jobs``, ``audit``) has no Qt imports; ``napari_srmat.widgets`` is the thin napari
layer on top, and ``napari_srmat.cli`` the command-line tool ``srmat``.

Public API for notebooks and scripts
------------------------------------
The functions the command line and the widgets call, importable from the top level
(imported on first use, so ``import napari_srmat`` stays fast and imports neither Qt,
napari nor torch):

========================================  ==============================================
``read_image(path)``                      micrograph (lazy Dask levels + pixel size)
``read_mask(path, threshold=None)``       boundary mask file -> bool ``(H, W)``
``write_ome_zarr(data, path, ...)``       OME-Zarr pyramid with pixel size
``generate_microstructure(shape, ...)``   synthetic micrograph with true boundaries
``super_resolve(image, model=None)``      tiled super-resolution (shipped model)
``predict_boundaries(image, model=None)`` UAED boundary probability + uncertainty
``binarize_boundaries(prob, threshold)``  thresholded, thinned boundary mask
``measure_intercepts(mask, ...)``         Heyn lineal intercepts of a mask (ASTM E112)
``measure_grain_size(image, ...)``        micrograph -> mean intercept / ASTM G with CI
``find_hallucination_candidates(lr, sr)`` ranked SR regions to audit
                                          (``napari_srmat.audit.find_candidates``)
``plan_rescan(lr, model=None, ...)``      scan-enhance-rescan: rescan rectangles where
                                          the SR is uncertain, and the time ratio
``register_images(moving, fixed)``        scale and sub-pixel drift of an LR
                                          acquisition on an HR scan
========================================  ==============================================

Examples
--------
>>> import napari_srmat as srmat
>>> ms = srmat.generate_microstructure((256, 256), mean_grain_size_px=24, seed=0)
>>> res = srmat.measure_grain_size(ms.boundaries, mask=True, pixel_size_um=0.5)
>>> round(res.mean_intercept_px / ms.mean_intercept_px, 1)
1.0
>>> res.mean_intercept_um == res.mean_intercept_px * 0.5, res.warnings
(True, [])

See ``examples/notebook_api.py`` for the whole chain.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public name -> (module, attribute). Resolved lazily by :func:`__getattr__`.
_API = {
    "read_image": ("napari_srmat.io", "read_image"),
    "read_mask": ("napari_srmat.io", "read_mask"),
    "write_ome_zarr": ("napari_srmat.io", "write_ome_zarr"),
    "generate_microstructure": ("napari_srmat.synth", "generate_microstructure"),
    "super_resolve": ("napari_srmat.sr", "super_resolve"),
    "predict_boundaries": ("napari_srmat.edges", "predict_boundaries"),
    "binarize_boundaries": ("napari_srmat.metrics.edges", "binarize_boundaries"),
    "measure_intercepts": ("napari_srmat.metrics.heyn", "measure_intercepts"),
    "measure_grain_size": ("napari_srmat.grainsize", "measure_grain_size"),
    "find_hallucination_candidates": ("napari_srmat.audit", "find_candidates"),
    "plan_rescan": ("napari_srmat.sr.rescan", "plan_rescan"),
    "register_images": ("napari_srmat.sr.registration", "register_images"),
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    try:
        module, attr = _API[name]
    except KeyError:
        raise AttributeError(f"module 'napari_srmat' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    # the public API, the public submodules loaded (``grainsize`` once imported, as
    # ``io``) and the dunders: not the helpers this file imports (``Any``, ``importlib``,
    # ``annotations`` showed in tab completion) nor private modules (``_atomic``)
    own = {n for n, v in globals().items() if n.startswith("__") or (
        isinstance(v, type(importlib)) and v.__name__.startswith(f"{__name__}.")
        and not n.startswith("_"))}
    return sorted(own | set(__all__))
