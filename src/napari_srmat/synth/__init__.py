"""Synthetic polarized-light microstructures with exact ground truth.

:func:`generate_microstructure` renders a grain structure (an in-memory
:class:`Microstructure`) and :func:`lazy_microstructure` the same structure as Dask
arrays computed chunk by chunk, so that arbitrarily large mosaics (24000 x 24000 and
more) can be browsed in napari. Both are built on the same point-wise definition, so
a region is identical whatever the chunking. Seeds lie on a jittered lattice by default
or, with ``seed_layout="poisson"``, form a Poisson point process (no lattice order).
"""

from .generator import (
    MIN_SYNTH_SIDE,
    SEED_LAYOUTS,
    LazyMicrostructure,
    Microstructure,
    SynthError,
    check_microstructure_params,
    generate_microstructure,
    lazy_microstructure,
    true_mean_intercept,
    twin_traces,
)

# Not exported: napari_srmat.synth.digital (stepping_row_mask and its STEPPING_*
# constants). Its masks are check fixtures of the Heyn counter, built pixel by pixel so
# that a test (tests/test_heyn_lying_along.py) and a study (studies/heyn_axis_passages.py)
# count the same pixels; they are no micrograph with ground truth, which is what this
# package offers (docs/api.md "Submodule names"). Import them from their module.
__all__ = [
    "MIN_SYNTH_SIDE",
    "SEED_LAYOUTS",
    "Microstructure",
    "LazyMicrostructure",
    "SynthError",
    "generate_microstructure",
    "check_microstructure_params",
    "lazy_microstructure",
    "true_mean_intercept",
    "twin_traces",
]
