"""Synthetic polarized-light microstructures with exact ground truth.

:func:`generate_microstructure` renders a grain structure (an in-memory
:class:`Microstructure`) and :func:`lazy_microstructure` the same structure as Dask
arrays computed chunk by chunk, so that arbitrarily large mosaics (24000 x 24000 and
more) can be browsed in napari. Both are built on the same point-wise definition, so
a region is identical whatever the chunking.
"""

from .generator import (
    MIN_SYNTH_SIDE,
    LazyMicrostructure,
    Microstructure,
    SynthError,
    check_microstructure_params,
    generate_microstructure,
    lazy_microstructure,
    true_mean_intercept,
    twin_traces,
)

__all__ = [
    "MIN_SYNTH_SIDE",
    "Microstructure",
    "LazyMicrostructure",
    "SynthError",
    "generate_microstructure",
    "check_microstructure_params",
    "lazy_microstructure",
    "true_mean_intercept",
    "twin_traces",
]
