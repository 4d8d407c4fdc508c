"""What a worker needs of a napari layer, read on the GUI thread (no pixels computed).

Workers must not compute on the GUI thread, and must not poke at live layers from
their own thread either: widgets take a :class:`LayerSnapshot` (data reference,
metadata) on the GUI thread and threshold it in the worker with :func:`as_mask`. Its
place is not copied: what a job draws over the layer takes the layer's place when the
job ends (:func:`~napari_srmat.widgets.layers.overlay_geometry`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from .layers import WidgetInputError, check_mask_layer_shape, layer_data_mask, layer_image_data

__all__ = ["LayerSnapshot", "snapshot", "frozen", "painted_data", "as_mask", "check_mask_fits"]


@dataclass
class LayerSnapshot:
    """What a worker needs of one napari layer (read on the GUI thread, no pixels)."""

    name: str
    data: Any
    kind: str
    metadata: dict


def snapshot(layer) -> LayerSnapshot:
    """Data reference, type and metadata of ``layer`` (no copy; see :func:`frozen` for a
    layer the user paints)."""
    return LayerSnapshot(name=layer.name, data=layer_image_data(layer),
                         kind=layer._type_string, metadata=dict(layer.metadata or {}))


def painted_data(layer) -> Any:
    """Level-0 data of a layer the user paints (a corrections Labels layer) as it is now,
    for a worker: a copy when it is a numpy array, taken on the GUI thread at Run time.

    napari paints a Labels layer in place, so a reference (:func:`snapshot`) changed
    under the worker while a measurement ran. The copy is a memory copy of the layer's
    own dtype (no pixels computed): a uint8 corrections layer of a 16384 x 16384 map is
    256 MiB and about 20 ms, less than the measurement's own boolean masks. Lazy data
    (dask, zarr) is not read on the GUI thread: it is passed on as it is.
    """
    data = layer_image_data(layer)
    return data.copy() if isinstance(data, np.ndarray) else data


def frozen(src: LayerSnapshot) -> LayerSnapshot:
    """``src`` with its data as they are now, for a worker: a Labels layer held in memory
    is copied (as :func:`painted_data` copies a corrections layer), other data are kept.

    napari paints a Labels layer in place, so a boundary layer painted while its
    measurement ran reached the job halfway. Call it after :func:`check_mask_fits`, which
    counts this copy: a layer too large to measure is refused before it is copied.
    """
    if src.kind != "labels" or not isinstance(src.data, np.ndarray):
        return src
    return dataclasses.replace(src, data=src.data.copy())


def check_mask_fits(src: LayerSnapshot, threshold: float | None = None, *,
                    field: bool = False) -> None:
    """Refuse a boundary layer whose measurement does not fit in memory
    (:func:`~napari_srmat.estimates.plan_mask_measurement`): :func:`as_mask` reads it
    whole in the worker, and a lazy gigapixel map would fill the memory. A float copy is
    counted only where the mask rule makes one: an image layer binarized at a given
    ``threshold`` (a Labels layer is ``data > 0``, an 8-bit mask ``> 127``); ``field``:
    the standards' measurement (the Specimen tab, its grain label maps). A layer that is
    not 2-D is refused first, by its shape
    (:func:`~napari_srmat.widgets.layers.check_mask_layer_shape`); the plan is given the
    layer's whole shape, as the library's is.

    Raises
    ------
    WidgetInputError
        Naming the layer's shape, or the memory needed and available.
    """
    from .. import estimates
    from ..outputs import format_bytes

    shape = np.shape(src.data)
    check_mask_layer_shape(shape, src.name)
    # a Labels layer in memory is copied by :func:`frozen`: counted as one more array
    held = isinstance(src.data, np.ndarray) and src.kind != "labels"
    plan = estimates.plan_mask_measurement(shape, src.data.dtype,
                                           held=held,
                                           to_float=src.kind != "labels"
                                           and threshold is not None, field=field)
    if not plan.fits_in_memory():
        raise WidgetInputError(
            f"measuring layer {src.name!r} needs {format_bytes(plan.output_bytes)} of "
            f"memory ({format_bytes(estimates.available_memory_bytes())} available): "
            "measure a region of it (add e.g. layer.data[:8192, :8192] as a layer)")


def as_mask(src: LayerSnapshot, shape: tuple[int, ...] | None = None,
            what: str = "layer", threshold: float | None = None) -> np.ndarray:
    """Bool mask of a snapshot; checks the shape.

    The widgets' rule (:func:`~napari_srmat.widgets.layers.boundary_mask`, through
    :func:`~napari_srmat.widgets.layers.layer_data_mask`); ``threshold`` as there
    (default: the layer's).
    """
    if src.kind == "shapes":
        raise WidgetInputError("internal: shapes reach the worker as DrawnShapes")
    mask = layer_data_mask(src.data, kind=src.kind, metadata=src.metadata, name=src.name,
                           threshold=threshold)
    if shape is not None and mask.shape != tuple(shape):
        raise WidgetInputError(f"{what} {src.name!r} has shape {mask.shape}, the boundary "
                               f"map has {tuple(shape)}: use a layer of the same size")
    return mask
