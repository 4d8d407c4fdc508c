"""Tiled, seamless, out-of-core application of a model to large images.

See :func:`tiled_apply_job` for the geometry (tile, overlap, blending) and the
streaming/resume behaviour, and :func:`tiled_apply_dask` for Dask clusters.
"""

from ._distributed import SchedulerError, dask_client, tiled_apply_dask
from ._engine import (
    BATCH_OUTPUT_BUDGET,
    BOUNDARY_OVERLAP,
    BOUNDARY_TILE,
    DEFAULT_BATCH_SIZE,
    DEFAULT_OVERLAP,
    DEFAULT_TILE,
    NonFiniteInputError,
    TilingError,
    blend_weights,
    check_tile_overlap,
    effective_batch_size,
    effective_tile,
    input_identity,
    is_out_of_memory,
    overlap_used,
    tiled_apply,
    tiled_apply_job,
)

__all__ = [
    "BATCH_OUTPUT_BUDGET",
    "BOUNDARY_OVERLAP",
    "BOUNDARY_TILE",
    "DEFAULT_OVERLAP",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_TILE",
    "NonFiniteInputError",
    "SchedulerError",
    "TilingError",
    "blend_weights",
    "check_tile_overlap",
    "dask_client",
    "effective_batch_size",
    "effective_tile",
    "input_identity",
    "is_out_of_memory",
    "overlap_used",
    "tiled_apply",
    "tiled_apply_dask",
    "tiled_apply_job",
]
