"""napari-srmat: trustworthy super-resolution for quantitative metallography.

The core library (``io``, ``tiling``, ``sr``, ``edges``, ``metrics``, ``synth``,
``jobs``, ``audit``) has no Qt imports; ``napari_srmat.widgets`` is the thin napari
layer on top, and ``napari_srmat.cli`` the command-line tool ``srmat``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
