"""The napari-side helpers of napari-srmat: the work behind the widgets, as plain
functions usable from scripts (public: ``napari_srmat.widgets.layers``).

Every widget of the plugin is a thin Qt front end over the functions here, so a
scripted session (``examples/scripted_session.py``) does exactly what a click does:

* :func:`add_super_resolution` -- super-resolve an image layer and add the result,
  aligned with the input in world coordinates (:func:`sr_world_transform`);
* :func:`add_boundary_layers` -- UAED boundary probability + uncertainty + a
  thresholded, skeletonized boundary layer;
* :func:`add_heyn_measurement` -- Heyn lineal intercepts on a boundary layer, with
  the intersections (Points) and test lines (Shapes) added to the viewer.

Long parts are job generators (``*_job``) that the widgets run in a worker thread via
:func:`napari_srmat.widgets._worker.start_job`; the ``add_*`` functions run the same
generators synchronously with :func:`napari_srmat.jobs.run_job`. Measurement export
is in :mod:`napari_srmat.widgets.export`, the Qt layer chooser in
:mod:`napari_srmat.widgets._qt`. No Qt import here.
"""

from __future__ import annotations

import math
import os
import weakref
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .._napari_io import (
    LayerPixelSizes,
    derived_layer_grid,
    layer_pixel_size_um,
    layer_pixel_sizes,
    layer_place,
    layer_store_pixel_size,
    layer_unitless_scale,
    unreadable_pixel_size_records,
)
from ..grainsize import MEASURED_SKELETONIZE
from ..jobs import Event, Log, Progress, StopToken, run_job
from ..metrics.heyn import (
    CROSSINGS_SCORING,
    HEYN_MARGIN,
    HEYN_N_LINES,
    HEYN_SEED,
    scoring_triple_points,
)
from ..tiling import (
    BOUNDARY_OVERLAP,
    BOUNDARY_TILE,
    DEFAULT_BATCH_SIZE,
    DEFAULT_OVERLAP,
    DEFAULT_TILE,
)

__all__ = [
    "WidgetInputError",
    "ANALYSIS_MAP_KINDS",
    "is_micrograph_layer",
    "check_mask_layer_shape",
    "is_2d_greyscale_layer",
    "is_boundary_layer",
    "CORRECTIONS_KIND",
    "layer_data_mask",
    "layer_image_data",
    "micrograph_data",
    "layer_pixel_size_um",
    "audit_pixel_size_on_layer",
    "layer_place",
    "layer_store_pixel_size",
    "pixel_size_hint",
    "pixel_size_placeholder",
    "typed_pixel_size_note",
    "show_colorbar",
    "PROBABILITY_BAR",
    "UNCERTAINTY_BAR",
    "SHARED_MAP_BAR",
    "intersections_layer_name",
    "show_test_lines",
    "sr_world_transform",
    "super_resolution_job",
    "add_super_resolution_result",
    "super_resolution_result_steps",
    "late_cancel_note",
    "run_steps",
    "OpenedSRResult",
    "open_sr_result",
    "add_super_resolution",
    "rescan_plan_job",
    "rescan_rectangles",
    "add_rescan_plan",
    "rescan_plan_on_layer",
    "rescan_features",
    "rescan_plan_shown",
    "show_plan_figures",
    "plan_shown_last",
    "plan_layer_left_out",
    "follow_rescan_plan",
    "follow_calibration",
    "CalibrationSeen",
    "keep_on_layer",
    "keep_all_on_layer",
    "keep_own_records",
    "own_records",
    "kept_on",
    "BoundaryMaps",
    "BoundaryLayers",
    "UNKNOWN_UNCERTAINTY_LIMITS",
    "uncertainty_contrast_limits",
    "boundaries_job",
    "layer_upscale_factor",
    "threshold_boundaries",
    "add_boundary_result",
    "boundary_result_steps",
    "add_boundary_layers",
    "boundary_mask",
    "shapes_to_segments",
    "rasterise_shapes",
    "HeynMeasurement",
    "heyn_statistics",
    "measure_heyn",
    "heyn_job",
    "prepare_heyn",
    "show_heyn_measurement",
    "add_heyn_measurement",
    "HeynOverlayData",
    "heyn_overlay_data",
    "lines_layer_data",
]


class WidgetInputError(ValueError):
    """A layer or option given to a widget function cannot be used."""


# --------------------------------------------------------------------------- layers


def layer_image_data(layer) -> Any:
    """Level-0 data of an image/labels layer (the full-resolution level if multiscale)."""
    data = layer.data
    if getattr(layer, "multiscale", False):
        data = data[0]
    return data


def file_pyramid(layer) -> list | None:
    """The pyramid levels (level 0 first) of a multiscale layer whose levels are its own
    (an OME-Zarr or pyramidal TIFF as the reader opens it, or a list of levels a script
    added), as :func:`napari_srmat.io.read_image` gives them to the CLI and the API;
    None for a single-level layer and for the display levels the reader makes of a
    large single-level file (``metadata["display_levels"]``: the CLI reads that file as
    one level).

    :func:`napari_srmat.measure_grain_size` resamples from the smallest level that has
    the resolution it needs: with level 0 alone the Simple tab read a x4 SR store 2 %
    apart from ``srmat grain-size`` on the same file.
    """
    if not getattr(layer, "multiscale", False) or \
            (getattr(layer, "metadata", None) or {}).get("display_levels"):
        return None
    return list(layer.data)


def micrograph_data(layer) -> Any:
    """Level-0 data of an image layer holding one 2-D micrograph, grey or RGB(A).

    napari shows a non-RGB layer of more than two dimensions as a stack of planes (a
    z or time series; a grey + alpha ``(H, W, 2)`` image too), which the models and
    measurements would read as an ``(H, W, C)`` image with one channel per column; an
    RGB layer of more than three, ``(N, H, W, 3)``, is a stack of colour planes.

    Raises
    ------
    WidgetInputError
        For such a stack, naming its shape.
    """
    data = layer_image_data(layer)
    shape = tuple(int(n) for n in data.shape)
    if len(shape) == (3 if getattr(layer, "rgb", False) else 2):
        return data
    hint = ("a grey + alpha image: add its grey plane, layer.data[..., 0], as a layer"
            if len(shape) == 3 and shape[-1] in (1, 2) else
            "add one plane, e.g. layer.data[0], as a layer")
    raise WidgetInputError(f"layer {layer.name!r} has shape {shape}, which napari shows as "
                           "a stack of planes, not one 2-D micrograph (grey or RGB): "
                           + hint)


def pixel_size_hint(layer, sizes: LayerPixelSizes | None = None) -> str:
    """Why a layer gives no pixel size, and what to do (``""`` when there is nothing to say).

    ``sizes``: the layer's :func:`~napari_srmat._napari_io.layer_pixel_sizes` when the
    caller has read them (a calibration event's handler reads the layer once).

    * pixels that are not square (:func:`~napari_srmat._napari_io.layer_non_square`):
      the widgets use no pixel size for them, as the library for such files;
    * a file that records only a print resolution (300 dpi:
      :data:`napari_srmat.io._read.PRINT_RESOLUTIONS_DPI`), which the reader does not
      take as a calibration;
    * a scale without a length unit: ``viewer.add_image(img, scale=(0.5, 0.5))`` gives a
      scale in napari's default unit "pixel", which is never taken as µm
      (:func:`layer_pixel_size_um`); the hint says how to use it if it is one.
    """
    if layer is None:
        return ""
    sizes = layer_pixel_sizes(layer) if sizes is None else sizes
    yx = sizes.non_square
    if yx is not None:
        return (f"its pixels are not square (Y {yx[0]:g}, X {yx[1]:g} per px): ℓ̄ is given "
                "in px only, without µm and G, until it is resampled to square pixels")
    dpi, _grid = _hint_metadata(layer)
    if dpi is not None and sizes.size_um is None:
        return (f"its file records {dpi} dpi, a print or screen resolution, not the "
                "specimen's calibration: type the pixel size or set it in Calibration")
    scale = layer_unitless_scale(layer)
    if scale is None:
        return ""
    return (f"its scale {scale:g} has no length unit; if that is µm/px, type it or set the "
            "pixel size in Calibration")


def _hint_metadata(layer) -> tuple[Any, bool]:
    """What :func:`pixel_size_hint` reads of ``layer``'s ``metadata`` besides its pixel
    sizes (:func:`~napari_srmat._napari_io.layer_pixel_sizes`), ``scale`` and ``units``:
    the print resolution it names (``print_resolution_dpi``) and whether the layer
    records a store's grid (``unitless_grid``: then its unit-less scale is that grid, not
    hinted at as a pixel size, :func:`layer_unitless_scale`). A follower showing the hint
    acts when they change (:class:`CalibrationSeen`); a grid's records following its scale
    change neither.

    Examples
    --------
    >>> _hint_metadata({"metadata": {"print_resolution_dpi": 300}})
    (300, False)
    >>> _hint_metadata({"scale": (0.5, 0.5)})
    (None, False)
    """
    md = (layer.get("metadata") if isinstance(layer, dict)
          else getattr(layer, "metadata", None)) or {}
    return md.get("print_resolution_dpi"), "unitless_grid" in md


def pixel_size_placeholder(viewer, layer, sizes: LayerPixelSizes | None = None) -> str:
    """What a widget's pixel-size field shows for ``layer`` while it is empty: the one
    rule of the Simple and Boundary mask tabs' fields.

    Its pixel size when it has one; for pixels that are not square, that ℓ̄ is in px (a
    typed size is taken as the X size and its sizes named beside the result:
    :func:`typed_pixel_size_note`); for a layer kept on the layer it was made from at a
    factor (an x4 SR result, the Simple tab's boundaries at its inference scale:
    :func:`kept_on`), that the size to type is this layer's, that layer's divided by the
    factor (the microscope's 1 µm/px typed on an x4 SR layer gave ℓ̄ 4x too large);
    else that it is unknown.

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer holding ``layer`` (and the layer it was made from).
    layer : napari layer
        The layer measured.
    sizes : LayerPixelSizes, optional
        The layer's :func:`~napari_srmat._napari_io.layer_pixel_sizes` when the caller has
        read them.

    Returns
    -------
    str
        The placeholder text (also the field's tooltip for a layer of unknown size).
    """
    from ..io import LENGTH_UNIT

    sizes = layer_pixel_sizes(layer) if sizes is None and layer is not None else sizes
    if sizes is not None and sizes.size_um:
        return f"{sizes.size_um:g} {LENGTH_UNIT}/px (from layer)"
    if sizes is not None and sizes.non_square is not None:
        return f"{LENGTH_UNIT}/px (pixels not square: ℓ̄ in px)"
    kept = kept_on(viewer, layer) if layer is not None else None
    if kept is not None and not math.isclose(kept[1], 1.0):
        return (f"{LENGTH_UNIT}/px of this layer: {kept[0].name!r}'s / {kept[1]:.4g} "
                "(unknown: type it)")
    return f"{LENGTH_UNIT}/px (unknown: type it for {LENGTH_UNIT} and G)"


def typed_pixel_size_note(viewer, layer, typed: float | None) -> str | None:
    """The warning a measurement of ``layer`` at a ``typed`` pixel size carries, else
    None: the CLI's rule for a pixel size given (``--pixel-size-um``: used, and
    :func:`~napari_srmat.io.given_pixel_size_message` when the file records another, a
    non-square file's ``(Y, X)`` sizes too), the layer's sizes for the file's; for pixels
    that are not square in no length unit (a scale ``(0.5, 0.25)`` in napari's "pixel"),
    that the typed size was used for both axes; for a layer of unknown size kept on the
    layer it was made from at a factor (:func:`kept_on`), which pixel size was typed:
    this layer's, that layer's being the factor times it.

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer holding ``layer``.
    layer : napari layer or None
        The layer measured.
    typed : float or None
        The pixel size typed (µm per pixel), None when none was.

    Returns
    -------
    str or None
        The warning line, None when there is nothing to tell.
    """
    from ..io import LENGTH_UNIT, given_pixel_size_message

    if typed is None or layer is None:
        return None
    sizes = layer_pixel_sizes(layer)
    recorded = sizes.store
    if recorded is not None:
        note = given_pixel_size_message(typed, recorded)
        return None if note is None else (
            f"layer {layer.name!r}: " + note.replace("the file records", "it records", 1))
    if sizes.non_square is not None:  # (Y, X) of a scale without a length unit
        y, x = sizes.non_square
        return (f"layer {layer.name!r}: its pixels are not square (Y {y:g}, X {x:g} per px, "
                f"no length unit); the given {typed:g} {LENGTH_UNIT} was used for both")
    kept = kept_on(viewer, layer)
    if kept is None or math.isclose(kept[1], 1.0):
        return None
    source, factor = kept
    return (f"the {typed:g} {LENGTH_UNIT}/px typed is layer {layer.name!r}'s own pixel size, "
            f"{factor:.4g}x finer than {source.name!r} (at {typed * factor:.4g} "
            f"{LENGTH_UNIT}/px); if {typed:g} is {source.name!r}'s, type "
            f"{typed / factor:.4g} here")


#: Canvas corners of the maps' colour bars (:func:`show_colorbar`): the boundary
#: probability's and the uncertainty's, each its own.
PROBABILITY_BAR, UNCERTAINTY_BAR = "top_right", "top_left"
#: The corner of the maps whose bars take turns (:func:`_one_bar`): the Boundaries error
#: probability map (added hidden) and the Specimen tab's grain-area maps.
SHARED_MAP_BAR = "bottom_left"

#: Layers given a colour bar by :func:`show_colorbar` in a viewer, with (weakly) that
#: viewer's layer list: of those in one corner, one shows its bar (:func:`_one_bar`).
_BARRED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def show_colorbar(layer, position: str, viewer=None, *, shown: bool = True) -> None:
    """Show napari's colour bar of an image layer (ticks follow its contrast limits).

    ``position`` is a canvas corner (``"top_right"``, ``"top_left"``, ...): maps shown
    together get different corners so that their bars do not cover each other. napari
    lays bars that share a corner side by side, unlabelled (five Specimen fields: five
    grain-area bars in a row, each of its field's range), and draws a bar only while its
    layer is visible; with ``viewer``, the bars this gave in one corner are one, by
    :func:`_one_bar`'s rule (``layer``'s now if it is visible). ``shown=False`` (with
    ``viewer``) makes ``layer``'s bar one of them without showing it (napari makes a
    bar's visual when it is first shown: 0.2-0.4 s on the GUI thread), until its map is
    selected or its eye ticked.
    """
    bar = layer.colorbar
    bar.position = position
    if viewer is None:
        bar.visible = True
        return
    _BARRED[layer] = weakref.ref(viewer.layers)
    if shown:
        _one_bar(layer)
    viewer.layers.selection.events.active.connect(_bar_of_active)
    viewer.layers.events.removed.connect(_bar_of_removed)
    layer.events.visible.connect(_bar_of_visible)


def _one_bar(layer, prefer: bool = True) -> None:
    """The one bar of ``layer``'s corner of its viewer, of the maps given a bar there by
    :func:`show_colorbar` (the others' hidden): ``layer``'s (``prefer``) if ``layer`` is
    visible, else the visible map's whose bar is shown, else the topmost visible map's.
    With no map of the corner visible, ``layer``'s (``prefer``) or the bars as they are.
    """
    layers = _BARRED[layer]()
    corner = str(layer.colorbar.position)
    maps = [m for m in list(layers or ()) if m in _BARRED and str(m.colorbar.position) == corner]
    seen = [m for m in maps if m.visible]
    if prefer and layer in seen:
        one = layer
    elif seen:
        one = next((m for m in reversed(seen) if m.colorbar.visible), seen[-1])
    elif prefer:
        one = layer
    else:
        return
    for other in maps:
        if other is not one:
            other.colorbar.visible = False
    one.colorbar.visible = True


def _bar_of_active(event) -> None:
    """The selected layer, one given a bar by :func:`show_colorbar`: its bar is the one
    shown in its corner if it is visible (another layer selected changes nothing)."""
    active = getattr(event, "value", None)
    if active is not None and active in _BARRED and _BARRED[active]() is not None:
        _one_bar(active)


def _bar_of_removed(event) -> None:
    """A layer given a bar by :func:`show_colorbar` deleted: its corner's bar is another
    visible map's (:func:`_one_bar`)."""
    gone = getattr(event, "value", None)
    if gone is not None and gone in _BARRED and _BARRED[gone]() is not None:
        _one_bar(gone, prefer=False)


def _bar_of_visible(event) -> None:
    """A layer given a bar by :func:`show_colorbar` shown (its bar the corner's) or
    hidden (another visible map's): :func:`_one_bar`."""
    layer = event.source
    if layer in _BARRED and _BARRED[layer]() is not None and layer in _BARRED[layer]():
        _one_bar(layer, prefer=bool(layer.visible))


def overlay_units(layer) -> dict:
    """``units`` of ``layer``'s last two axes, as strings (for 2-D layers drawn over
    ``layer``), or nothing for a layer without units."""
    units = getattr(layer, "units", None)
    return {"units": tuple(str(u) for u in units[-2:])} if units is not None else {}


def overlay_geometry(layer, factor: float = 1.0) -> dict[str, Any]:
    """``scale``, ``translate`` and ``units`` (last two axes) of a 2-D layer drawn over
    ``layer``, read from ``layer`` as it is now: a result drawn when its job ends takes
    the place of the layer then (calibrated while the job ran: its new pixel size), not
    the place it had at Run.

    Parameters
    ----------
    layer : napari layer
        The layer drawn over.
    factor : float
        How many of the drawn layer's pixels span one of ``layer``'s (per axis): 1 for a
        map or overlay on its pixels, 4 for a x4 SR result; its grid covers the same
        area (:func:`sr_world_transform`).

    Returns
    -------
    dict
        Keyword arguments of ``viewer.add_*``.
    """
    scale, translate = tuple(layer.scale[-2:]), tuple(layer.translate[-2:])
    if factor != 1:
        scale, translate = sr_world_transform(scale, translate, factor)
    return dict(scale=scale, translate=translate, **overlay_units(layer))


#: ``metadata`` key of the layers napari-srmat adds; its value is the name the layer was
#: added under. Only such a layer is updated or replaced by a later run; a user's layer
#: of the same name (a hand-drawn boundary map, say) is never touched, and the new layer
#: gets napari's next free name ("NAME [1]"), which later runs find by this key. A layer
#: of ours the user renamed is theirs from then on (:func:`_own_layer`).
OWN_LAYER_KEY = "napari_srmat_layer"


#: ``metadata`` key of a layer napari-srmat made from another layer: that layer's napari
#: ``unique_id`` (a string), beside its name (``source_layer``). The name alone broke the
#: link when the user renamed the source ("scan" to the sample's ID): calibrating it
#: left its boundary maps and overlays at the old scale, beside it; and calibrating a
#: new layer that took the old name rescaled them (:func:`is_derived_from`).
SOURCE_ID_KEY = "source_layer_id"
#: ``metadata`` key of an identity given to a layer before napari adds it (and gives it
#: a ``unique_id``): layers made with it record that identity under
#: :data:`SOURCE_ID_KEY`. The sample micrograph and its true boundaries are made
#: together; linked by name, the boundaries of a second opening followed the first
#: micrograph's calibration.
LAYER_ID_KEY = "napari_srmat_layer_id"


def source_metadata(layer, key: str = "source_layer") -> dict[str, str]:
    """``metadata`` entries linking a layer made from ``layer`` to it: its name under
    ``key`` and its identity under :data:`SOURCE_ID_KEY` (:func:`is_derived_from`)."""
    return {key: layer.name, SOURCE_ID_KEY: str(layer.unique_id)}


def is_derived_from(derived, source) -> bool:
    """Whether layer ``derived`` was made from layer ``source`` (:func:`source_metadata`).

    By the source's identity when ``derived`` records one (renaming either layer keeps
    the link; another layer later given the source's old name gets none), else by name
    (``source_layer`` or ``source``: layers added by earlier versions or by scripts).
    """
    meta = derived.metadata or {}
    recorded = meta.get(SOURCE_ID_KEY)
    if recorded is not None:  # napari's id, or one given before napari added the layer
        return recorded in (str(source.unique_id), (source.metadata or {}).get(LAYER_ID_KEY))
    return (meta.get("source_layer") or meta.get("source")) == source.name


#: ``metadata["kind"]`` of the boundary probability map napari-srmat adds
#: (:func:`add_boundary_result`): an analysis map that is a boundary map.
BOUNDARY_PROBABILITY_KIND = "boundary probability"
#: ``metadata["kind"]`` of the image layers napari-srmat adds that are analysis maps, not
#: micrographs: never offered where a micrograph is asked for (:func:`is_micrograph_layer`).
ANALYSIS_MAP_KINDS = (BOUNDARY_PROBABILITY_KIND, "uncertainty", "error probability",
                      "grain area", "boundary overlay")
#: ``metadata["kind"]`` of the Boundary mask tab's corrections layer: strokes painted over
#: a boundary map (added, removed), not one.
CORRECTIONS_KIND = "boundary corrections"
#: ``metadata["kind"]`` of the layers napari-srmat adds that are no boundary map of a
#: field: the analysis maps but the probability (uncertainty, error probability, grain
#: areas, the Audit dock's overlays of one candidate's box) and the corrections
#: (:func:`is_boundary_layer`).
NOT_BOUNDARY_KINDS = (*(k for k in ANALYSIS_MAP_KINDS if k != BOUNDARY_PROBABILITY_KIND),
                      CORRECTIONS_KIND)
#: ``metadata`` key of an SR result napari-srmat adds (its factor,
#: :func:`add_super_resolution_result`): a micrograph, no boundary map.
SR_FACTOR_KEY = "sr_factor"


def layer_upscale_factor(layer) -> int | None:
    """The recorded factor of an SR layer (its ``metadata`` :data:`SR_FACTOR_KEY`: the SR
    widget's result, an SR store opened), else None: the one rule of the Simple tab's
    and the Boundaries widget's ``upscale_factor`` (their scale choice runs such a layer
    at 1 / f, its field's own pixels, as ``srmat grain-size`` on the store does).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from napari_srmat.widgets.layers import layer_upscale_factor
    >>> layer_upscale_factor(SimpleNamespace(metadata={"sr_factor": 2}))
    2
    >>> layer_upscale_factor(SimpleNamespace(metadata=None)) is None
    True
    """
    return (layer.metadata or {}).get(SR_FACTOR_KEY)


def is_micrograph_layer(layer) -> bool:
    """Whether a layer may be offered as a micrograph (an SR, boundary, grain-size,
    training or audit input): not one of the analysis maps napari-srmat added
    (:data:`ANALYSIS_MAP_KINDS`: probability, uncertainty, grain-area colouring, ...).
    A layer of the user's is always offered."""
    return (layer.metadata or {}).get("kind") not in ANALYSIS_MAP_KINDS


def _own_layer(viewer, name: str):
    """The layer napari-srmat added under ``name`` (:data:`OWN_LAYER_KEY`) that still
    bears it (or napari's next free name, ``"NAME [1]"``), or None.

    A result layer the user renamed ("run 1 boundaries", to keep it beside the next
    run) or duplicated ("... copy") is theirs: a later run adds a new layer instead of
    replacing its data (until 2026-12-04 it was found by the key alone and overwritten).
    """
    for layer in viewer.layers:
        if _bears_own_name(layer, name):
            return layer
    return None


def _bears_own_name(layer, name: str) -> bool:
    """Whether ``layer`` was added by napari-srmat under ``name`` and still bears it (or
    napari's next free name, ``"NAME [1]"``): the rule of :func:`_own_layer`."""
    import re

    return (layer.metadata.get(OWN_LAYER_KEY) == name
            and re.fullmatch(re.escape(name) + r"( \[\d+\])?", layer.name) is not None)


def is_own_layer(viewer, layer) -> bool:
    """Whether ``layer`` is still napari-srmat's to update: in ``viewer`` and bearing the
    name it was added under (:func:`_own_layer`'s rule). A widget holding a result layer
    writes into it only while this holds: one the user deleted is not brought back, and
    one they renamed is theirs."""
    if layer is None or layer not in viewer.layers:
        return False
    name = (layer.metadata or {}).get(OWN_LAYER_KEY)
    return isinstance(name, str) and _bears_own_name(layer, name)


def _same_image_form(layer, data, kwargs: dict) -> bool:
    """Whether image ``data`` can replace ``layer.data`` in place: the same multiscale
    form, colour (rgb) and dtype. napari re-derives none of these on a data change (a
    pyramid given to a single-level layer raised; a uint8 result kept the [0, 1] contrast
    limits of a float one and showed white)."""
    multiscale = kwargs.get("multiscale")
    if multiscale is None:
        multiscale = isinstance(data, (list, tuple))
    level0 = data[0] if multiscale else data
    if bool(multiscale) != bool(layer.multiscale) or np.dtype(level0.dtype) != layer.dtype:
        return False
    return "rgb" not in kwargs or bool(kwargs["rgb"]) == bool(layer.rgb)


def upsert_layer(viewer, name: str, kind: str, data, **kwargs):
    """Replace the data of our layer ``name`` if it exists (same type; for images also the
    same multiscale form, rgb and dtype), else add a new layer (marked as ours,
    :data:`OWN_LAYER_KEY`), in place of an old one of another form.

    A replaced layer takes the new ``scale``, ``translate``, ``units``, ``metadata`` and
    ``contrast_limits`` (made from the new data: a grain-area map in µm² after a
    calibration, the range of a new uncertainty map; also the contrast slider's range,
    as a new layer gets them) when given; its other display
    settings (colormap, opacity, visibility) stay as the user set them.
    """
    given = "metadata" in kwargs
    meta = {**(kwargs.pop("metadata", None) or {}), OWN_LAYER_KEY: name}
    layer = _own_layer(viewer, name)
    if layer is not None:
        if layer._type_string == kind and (kind != "image"
                                           or _same_image_form(layer, data, kwargs)):
            layer.data = data
            if "contrast_limits" in kwargs:  # the slider's range too, as a new layer's
                # (napari only widens it: 1.6-37 µm² areas on a 26-593 slider)
                layer.contrast_limits_range = kwargs["contrast_limits"]
                layer.contrast_limits = kwargs["contrast_limits"]
            for key in ("scale", "translate"):  # each change refreshes the layer: skip equal
                if key in kwargs and not np.allclose(getattr(layer, key)[-len(kwargs[key]):],
                                                     kwargs[key]):
                    setattr(layer, key, kwargs[key])
            if "units" in kwargs and [str(u) for u in layer.units[-len(kwargs["units"]):]] != [
                    str(u) for u in kwargs["units"]]:
                layer.units = tuple(layer.units[:-len(kwargs["units"])]) + tuple(kwargs["units"])
            if given:
                layer.metadata = meta
            return layer
        viewer.layers.remove(layer)
    return getattr(viewer, f"add_{kind}")(data, name=name, metadata=meta, **kwargs)


# --------------------------------------------------------------------------- SR


def sr_world_transform(
    scale: Sequence[float], translate: Sequence[float], factor: float
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Scale and translate of an ``factor``-times super-resolved layer.

    napari puts the *centre* of data pixel ``i`` at ``translate + i * scale``, so input
    pixel ``i`` covers ``[i - 1/2, i + 1/2]`` in input index units. SR pixel ``j``
    covers ``[j/f - 1/2, (j + 1)/f - 1/2]``, centred at ``(j + 1/2)/f - 1/2``; in world
    coordinates that is ``translate + scale * ((1/f - 1)/2 + j/f)``, hence::

        scale_sr = scale / f
        translate_sr = translate + scale * (1/f - 1) / 2

    and the SR layer covers exactly the same world extent as the input
    (:func:`napari_srmat.io._pixel.finer_grid`, the rule ``srmat sr run``'s stores follow).

    Parameters
    ----------
    scale, translate : sequence of float
        The input layer's (spatial) scale and translate.
    factor : float
        SR factor (2, 4, ...).

    Returns
    -------
    scale_sr, translate_sr : tuple of float
    """
    from ..io._pixel import finer_grid

    if factor <= 0:
        raise WidgetInputError(f"SR factor must be positive, got {factor}")
    return finer_grid(scale, translate, factor)


def super_resolution_job(
    image,
    *,
    model: str | None = None,
    checkpoint: str | os.PathLike | None = None,
    scale: int = 4,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str = "auto",
    out: str | os.PathLike | None = None,
    pixel_size_um: float | tuple[float, float] | None = None,
    reference: str | os.PathLike | None = None,
    overwrite: bool = False,
    stop: StopToken | None = None,
    place: dict | None = None,
    on_model: Callable[[Any], None] | None = None,
) -> Generator[Event, Any, Any]:
    """Load an SR model and super-resolve ``image`` (job generator).

    Parameters
    ----------
    image : array-like
        ``(H, W)`` or ``(H, W, C)`` numpy/Dask/Zarr array.
    model : str, optional
        Registry name (:func:`napari_srmat.sr.available_models`); None = shipped default.
    checkpoint : path, optional
        Safetensors checkpoint directory for the model.
    scale : int
        SR factor.
    tile, overlap, batch_size : int
        Tiling parameters (LR pixels).
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``...
    out : path, optional
        Stream the result into this OME-Zarr store instead of memory.
    pixel_size_um : float or (float, float), optional
        Input pixel size (or ``(Y, X)`` sizes), recorded (divided by ``scale``) in the
        OME-Zarr output.
    reference : path, optional
        Folder of HR micrographs of the same material for a reference-based model
        (``refsr``); the best match is picked (:func:`napari_srmat.sr.refsr.use_reference`).
    overwrite : bool
        Replace an earlier SR result in ``out`` made with other settings (never a folder
        napari-srmat did not write).
    stop : StopToken, optional
    place : dict, optional
        Where the input's pixel ``(0, 0)`` lies, as its layer's store would record it
        (:func:`napari_srmat._napari_io.layer_place`: ``{"origin_um": (Y, X)}`` with
        ``pixel_size_um``, else ``{"unitless_grid": ...}``); the OME-Zarr output records
        it on the ``scale``-times finer grid, so that reopened it lies over its input. Not
        part of the output's identity. None: the input's pixel ``(0, 0)`` at the origin.
    on_model : callable, optional
        Called (in the job's thread) with the model loaded, before it runs: the widget
        records its name and weights (:func:`sr_model_records`).

    Returns
    -------
    numpy array, path, or None
        The SR image (or the OME-Zarr path); None when stopped before its last tile. A
        stop asked after it (while the store's pyramid is built, or the result handed
        over) comes too late: the whole result is returned (until 2026-12-07 it was
        dropped and the widget said "stopped", a complete store on disk).
    """
    from ..sr import super_resolve_job

    sr_model = yield from _load_sr_model(image, model, checkpoint, scale, device, reference)
    if on_model is not None:
        on_model(sr_model)
    if place:  # the engine's input place: a Micrograph's (tiling._output_place)
        from ..io import Micrograph

        image = Micrograph(data=image, levels=[image],
                           axes="YXC" if len(image.shape) == 3 else "YX",
                           metadata=dict(place))
    result = yield from super_resolve_job(
        image,
        sr_model,
        tile=tile,
        overlap=overlap,
        out=out,
        batch_size=batch_size,
        stop=stop,
        pixel_size_um=pixel_size_um,
        overwrite=overwrite,
    )
    return result  # None when the tiles were stopped; complete otherwise


def late_cancel_note(path: str | os.PathLike | None = None) -> str:
    """What the status line of an SR or boundaries job adds when Cancel came after its
    last tile (:func:`super_resolution_job`, :func:`boundaries_job` then return the whole
    result): it finished, whole, and where a store holds it (``path``); it said
    "stopped" until 2026-12-07 (s50 GUI explorer F6; boundaries: s51 F6).

    Examples
    --------
    >>> from napari_srmat.widgets.layers import late_cancel_note
    >>> late_cancel_note()
    'Cancel came after the last tile: not stopped, the whole result is shown'
    """
    kept = "" if path is None else f" and kept in {path}"
    return f"Cancel came after the last tile: not stopped, the whole result is shown{kept}"


def _load_sr_model(image, model, checkpoint, scale, device, reference
                   ) -> Generator[Event, Any, Any]:
    """Load the SR model of a widget job and give it its reference (``refsr``) picked for
    ``image`` from the ``reference`` folder (job generator; returns the model)."""
    from ..sr import load_model
    from ..sr.refsr import use_reference

    yield Log(f"loading SR model {model or '(default)'} x{scale}")
    sr_model = load_model(model, checkpoint=checkpoint, scale=scale, device=device)
    picked = use_reference(sr_model, image, reference, option="a reference folder")
    if picked is not None:
        yield Log(f"reference {picked['reference']} (similarity {picked['similarity']:.3f})")
    return sr_model


def rescan_plan_job(
    image,
    *,
    model: str | None = None,
    checkpoint: str | os.PathLike | None = None,
    scale: int = 4,
    device: str = "auto",
    reference: str | os.PathLike | None = None,
    stop: StopToken | None = None,
    **plan_options: Any,
) -> Generator[Event, Any, Any]:
    """Load an SR model as :func:`super_resolution_job` does and plan a rescan of
    ``image`` with it (job generator).

    Parameters
    ----------
    image : array-like
        The LR acquisition, ``(H, W)`` or ``(H, W, C)``.
    model, checkpoint, scale, device, reference
        As for :func:`super_resolution_job` (a ``refsr`` model takes its reference from
        the ``reference`` folder, as in a run).
    stop : StopToken, optional
    **plan_options
        ``budget``, ``dwell_ratio``, ``tile``, ``overlap``, ``batch_size``, ... of
        :func:`napari_srmat.sr.rescan.plan_rescan_job`.

    Returns
    -------
    RescanPlan or None
        None when stopped.
    """
    from ..sr.rescan import plan_rescan_job

    sr_model = yield from _load_sr_model(image, model, checkpoint, scale, device, reference)
    return (yield from plan_rescan_job(image, sr_model, scale=scale, stop=stop,
                                       **plan_options))


def input_removed_note(*layers) -> str:
    """The status line of a widget whose input layer (or layers: the fields of a specimen)
    was deleted while its job ran: no result layer is added for it (it would lie over
    nothing, named after a layer that is gone)."""
    names = ", ".join(repr(getattr(layer, "name", "")) for layer in layers)
    if len(layers) > 1:
        return (f"the input layers {names} were removed while the job ran: no result layer "
                "was added for them")
    return f"the input layer {names} was removed while the job ran: no result layer was added"


def removed_inputs_note(viewer, layers, text: str = "") -> str:
    """A job's status line ``text`` told that some of its input ``layers`` (None is
    skipped) are no longer in ``viewer``: their :func:`input_removed_note` first, then
    ``text``; ``text`` alone when none was removed. The one test of a job whose input may
    have been deleted while it ran: the numbers of what it read stay shown, nothing is
    drawn over a layer gone, and the status says why.

    Examples
    --------
    >>> removed_inputs_note(type("V", (), {"layers": []})(), [None], "done")
    'done'
    """
    gone = [layer for layer in layers if layer is not None and layer not in viewer.layers]
    if not gone:
        return text
    return "; ".join(part for part in (input_removed_note(*gone), text) if part)


def store_stamp(path: str | os.PathLike | None) -> int | None:
    """When the output store at ``path`` was last written (its marker's modification
    time, ns), None when there is none: a store replaced by a job has a new stamp."""
    if path is None:
        return None
    from ..outputs import MARKER_NAME

    try:
        return (Path(path) / MARKER_NAME).stat().st_mtime_ns
    except OSError:
        return None


def remove_layers_reading(viewer, path: str | os.PathLike, *, keep: str | None = None
                          ) -> list[str]:
    """Remove the layers that read the store at ``path`` (``metadata["path"]``: the
    plugin's reader and result layers), but the plugin's own layer named ``keep`` (the
    result layer about to be given the new data), for a store a job has just replaced:
    they showed another result under their old name and scale, or failed to draw when
    its chunks changed. Returns their names."""
    target = Path(path).resolve()
    kept = _own_layer(viewer, keep) if keep is not None else None
    stale = [lyr for lyr in list(viewer.layers) if lyr is not kept
             and (lyr.metadata or {}).get("path")
             and Path(lyr.metadata["path"]).resolve() == target]
    for lyr in stale:
        viewer.layers.remove(lyr)
    return [lyr.name for lyr in stale]


def recorded_pixel_sizes(metadata, size: float | tuple[float, float] | None) -> dict:
    """``metadata`` with the pixel sizes a layer of pixel size ``size`` (µm: one size,
    ``(Y, X)`` sizes, or None: unknown) records, as the reader sets them:
    ``pixel_size_um`` (the X size) and, for pixels that are not square,
    ``pixel_size_yx_um`` (a stale pair would win over a new square size:
    :func:`~napari_srmat._napari_io.layer_pixel_sizes`). The one writer of these entries
    for the widgets (Calibration, derived layers).

    Examples
    --------
    >>> recorded_pixel_sizes({"pixel_size_yx_um": [0.2, 0.4], "kind": "x"}, 0.1)
    {'kind': 'x', 'pixel_size_um': 0.1}
    >>> recorded_pixel_sizes({}, (0.2, 0.4))
    {'pixel_size_um': 0.4, 'pixel_size_yx_um': [0.2, 0.4]}
    """
    from ..io import pixel_size_yx
    from ..io._pixel import pixels_square

    meta = dict(metadata or {})
    meta.pop("pixel_size_yx_um", None)
    if size is None:
        meta["pixel_size_um"] = None
        return meta
    y, x = (float(v) for v in pixel_size_yx(size))
    meta["pixel_size_um"] = x
    if not pixels_square(y, x):
        meta["pixel_size_yx_um"] = [y, x]
    return meta


#: ``metadata`` key of a layer made from a micrograph that records no pixel size: the
#: size (µm per pixel of that micrograph) it was measured at, typed (the Simple tab's
#: field), which :func:`derived_records` takes for the micrograph's while it has none.
MEASURED_AT_KEY = "source_measured_at_um"


def _measured_at(metadata) -> float | None:
    """``metadata``'s :data:`MEASURED_AT_KEY` when it is a pixel size, else None."""
    value = (metadata or {}).get(MEASURED_AT_KEY)
    if isinstance(value, (int, float, np.number)) and math.isfinite(value) and value > 0:
        return float(value)
    return None


def derived_records(metadata, source, factor: float, scale: Sequence[float],
                    translate: Sequence[float]) -> dict:
    """``metadata`` of a layer made from layer ``source`` at ``factor`` (4: its x4 SR
    result; 1: a map of its pixels) and placed at ``scale`` / ``translate`` (last two
    axes), with what it records of its pixels as ``source`` is now: the pixel size
    ``source``'s / ``factor`` (:func:`recorded_pixel_sizes`; None when unknown) and, when
    ``source`` has none, its ``unitless_grid`` (:func:`~napari_srmat._napari_io.
    derived_layer_grid`: none for the identity grid, or one no store can record, e.g.
    a flipped scale). A ``source`` without a pixel size measured at a typed one
    (``metadata``'s :data:`MEASURED_AT_KEY`: the Simple tab's boundaries) counts as of
    that size until it has its own. The one rule of these records, when the layer is
    made and each time its source's place or calibration changes
    (:func:`keep_on_layer`): written once, they went stale after a scale set by hand.

    Examples
    --------
    >>> derived_records({"kind": "x"}, {"metadata": {"pixel_size_um": 0.8}}, 4,
    ...                 (0.25, 0.25), (-0.375, -0.375))
    {'kind': 'x', 'pixel_size_um': 0.2}
    >>> derived_records({}, {"scale": (2.0, 2.0)}, 4, (0.5, 0.5), (-0.75, -0.75))
    {'pixel_size_um': None, 'unitless_grid': {'scale': (0.5, 0.5), 'origin': (-0.75, -0.75)}}
    >>> derived_records({MEASURED_AT_KEY: 0.5}, {}, 1.6, (0.625, 0.625), (-0.1875, -0.1875))
    {'source_measured_at_um': 0.5, 'pixel_size_um': 0.3125}
    """
    store = layer_store_pixel_size(source)
    if store is None:
        store = _measured_at(metadata)
    if isinstance(store, (tuple, list)):
        store = tuple(float(v) / factor for v in store)
    elif store is not None:
        store = float(store) / factor
    meta = recorded_pixel_sizes(metadata, store)
    meta.pop("unitless_grid", None)
    if store is None:
        try:
            meta.update(derived_layer_grid(source, tuple(scale), tuple(translate)))
        except ValueError:  # a place a store cannot record (a flipped or zero scale)
            pass
    return meta


#: ``metadata`` entries of a derived layer that :func:`derived_records` writes: a layer
#: kept on its source (:func:`keep_on_layer`) holding any of them has them written anew.
DERIVED_RECORDS = ("pixel_size_um", "pixel_size_yx_um", "unitless_grid")


#: ``metadata`` key of an SR result napari-srmat adds: its model's weights, one of
#: :data:`napari_srmat.sr.rescan.MODEL_WEIGHTS` (:func:`sr_model_records`).
SR_WEIGHTS_KEY = "sr_weights"


def sr_model_records(model) -> dict[str, Any]:
    """What an SR result layer records of the ``model`` that made it: its name
    (``sr_model``) and its weights (:data:`SR_WEIGHTS_KEY`,
    :func:`napari_srmat.sr.rescan.model_weights`): a layer of an untrained network (no
    shipped weights at its scale: bicubic for a ``cnn``) says so where it stays.

    Parameters
    ----------
    model : SRModel
        The model that made the result.

    Returns
    -------
    dict
        ``{"sr_model": name, "sr_weights": one of sr.rescan.MODEL_WEIGHTS}``.
    """
    from ..sr.rescan import model_weights

    return {"sr_model": model.name, SR_WEIGHTS_KEY: model_weights(model)}


def untrained_note(metadata: Mapping) -> str:
    """The note an SR result's status line keeps when its network had no trained weights
    (its layer's ``metadata``: :func:`sr_model_records` and :data:`SR_FACTOR_KEY`), else
    ``""``.

    Parameters
    ----------
    metadata : mapping
        The SR result layer's metadata.

    Returns
    -------
    str
        The note, or ``""`` for a trained network or an interpolation.

    Examples
    --------
    >>> untrained_note({"sr_model": "cnn", "sr_weights": "untrained", "sr_factor": 2})[:45]
    'cnn x2 has no trained weights (its SR equals '
    >>> untrained_note({"sr_model": "bicubic", "sr_weights": "analytic", "sr_factor": 2})
    ''
    """
    from ..sr.registry import BICUBIC_WHEN_UNTRAINED

    if metadata.get(SR_WEIGHTS_KEY) != "untrained":
        return ""
    name = metadata.get("sr_model")
    what = ("its SR equals bicubic" if name in BICUBIC_WHEN_UNTRAINED
            else "its SR is an untrained network's, not bicubic")
    return (f"{name} x{metadata.get(SR_FACTOR_KEY)} has no trained weights ({what}): give "
            "a trained checkpoint (srmat sr train)")


@dataclass(frozen=True)
class OpenedSRResult:
    """An SR result as its layer takes it (:func:`open_sr_result`): the image, or the
    levels of its store (level 0 first), read where the job ran."""

    data: Any
    multiscale: bool
    path: str | None = None


def open_sr_result(result) -> OpenedSRResult:
    """Open an SR job's ``result`` for its layer: an array as it is, a store's levels
    (lazy) read from its path. Call it in the worker: opening a store reads its metadata
    from disk, which the GUI thread did when the layer was added.

    Parameters
    ----------
    result : array, path or OpenedSRResult
        :func:`super_resolution_job`'s result (an opened one is returned as it is).

    Returns
    -------
    OpenedSRResult

    Examples
    --------
    >>> import numpy as np
    >>> from napari_srmat.widgets.layers import open_sr_result
    >>> open_sr_result(np.zeros((4, 4), np.float32)).multiscale
    False
    """
    if isinstance(result, OpenedSRResult):
        return result
    if not isinstance(result, (str, os.PathLike)):
        return OpenedSRResult(result, False)
    import warnings

    from ..io import read_image

    with warnings.catch_warnings():  # the store just written: its notes (pixels not
        warnings.simplefilter("ignore")  # square, ...) are the input layer's, known
        mic = read_image(result)
    levels = list(mic.levels)  # level 0 first, never empty
    multiscale = len(levels) > 1
    return OpenedSRResult(levels if multiscale else levels[0], multiscale, str(result))


def add_super_resolution_result(viewer, layer, result, factor: int, *, name: str | None = None,
                                model_name: str | None = None,
                                model_records: Mapping | None = None):
    """Add an SR result as an image layer aligned with ``layer`` in world coordinates.

    Parameters
    ----------
    viewer : napari.Viewer
    layer : napari.layers.Image
        The input layer.
    result : array, path or OpenedSRResult
        SR image (numpy/Dask), the path of the OME-Zarr store it was written to, or
        either opened already (:func:`open_sr_result`, in a worker).
    factor : int
        SR factor.
    name : str, optional
        Layer name (default ``"<input> SR x<factor>"``).
    model_name : str, optional
        Recorded in the layer metadata.
    model_records : mapping, optional
        :func:`sr_model_records` of the model that made it (its name and weights), recorded
        in the layer metadata in place of ``model_name``.

    Returns
    -------
    napari.layers.Image
        Kept on ``layer`` both ways (:func:`keep_on_layer`, ``two_way``): ``layer``'s
        scale or translate set by hand (or by Calibration) moves it, and its own, set by
        hand, places ``layer`` at ``factor`` times its scale.
    """
    return run_steps(super_resolution_result_steps(
        viewer, layer, result, factor, name=name, model_name=model_name,
        model_records=model_records))


def run_steps(steps: Generator[None, None, Any]) -> Any:
    """Run the ``*_steps`` generator ``steps`` to its end at once; its return value.
    (A widget runs one step per event-loop turn instead:
    :meth:`napari_srmat.widgets._worker.SingleJobMixin._start_single_job`.)

    Examples
    --------
    >>> from napari_srmat.widgets.layers import run_steps
    >>> def steps():
    ...     yield
    ...     return 2
    >>> run_steps(steps())
    2
    """
    while True:
        try:
            next(steps)
        except StopIteration as end:
            return end.value


def super_resolution_result_steps(viewer, layer, result, factor: int, *,
                                  name: str | None = None, model_name: str | None = None,
                                  model_records: Mapping | None = None
                                  ) -> Generator[None, None, Any]:
    """:func:`add_super_resolution_result` in steps (a generator that yields between
    them and returns the layer): the layer added and kept on its input in one step (a
    dock closed between the two left the layer unlinked from its input, s51 F6), a turn
    for the caller's next step after it. A widget runs one step per event-loop turn, so
    that the GUI thread is never held by all of them at once; :func:`run_steps` runs
    them at once."""
    opened = open_sr_result(result)
    data, multiscale = opened.data, opened.multiscale
    level0 = data[0] if multiscale else data
    rgb = level0.ndim == 3 and level0.shape[-1] in (3, 4)
    geo = overlay_geometry(layer, factor)  # the same area, pixels 1/factor the size
    meta = derived_records({SR_FACTOR_KEY: int(factor), "sr_model": model_name,
                            **(model_records or {}), **source_metadata(layer)},
                           layer, factor, geo["scale"], geo["translate"])
    if opened.path is not None:
        meta["path"] = opened.path
    kwargs: dict[str, Any] = dict(rgb=rgb, metadata=meta, multiscale=multiscale, **geo)
    if np.issubdtype(level0.dtype, np.floating):
        kwargs["contrast_limits"] = _float_result_contrast_limits(layer)
    added = upsert_layer(viewer, name or sr_layer_name(layer, factor), "image", data,
                          **kwargs)
    # on its input both ways: either's place set by hand places the other
    keep_on_layer(viewer, added, layer, factor, two_way=True)
    yield
    return added


def sr_layer_name(layer, factor: int) -> str:
    """The name of the SR result layer of ``layer`` (``"<input> SR x<factor>"``)."""
    return f"{layer.name} SR x{int(factor)}"


def _float_result_contrast_limits(layer) -> tuple[float, float]:
    """Contrast limits of a float [0, 1] result made from image ``layer``.

    An integer layer's own limits, mapped by the pixel value rule
    (:func:`napari_srmat.io.to_float01`: divided by the dtype's maximum), so the result
    looks like its input: with fixed limits (0, 1) a 12-bit camera image in uint16
    (values up to 4095 / 65535 = 0.06) was shown black. Float layers: (0, 1).
    """
    from ..io import to_float01

    dtype = np.dtype(layer.dtype)
    if not np.issubdtype(dtype, np.integer):
        return (0.0, 1.0)
    info = np.iinfo(dtype)
    limits = np.clip(np.asarray(layer.contrast_limits, dtype=float), info.min, info.max)
    lo, hi = (float(v) for v in to_float01(limits.astype(dtype)))
    return (lo, hi) if hi > lo else (0.0, 1.0)


def rescan_rectangles(plan) -> list[np.ndarray]:
    """Napari rectangles (outer pixel corners, data coordinates) of a rescan plan's ROIs.

    The half-open LR pixel rectangle ``[y0, x0, y1, x1]`` spans pixel centres ``y0 ..
    y1 - 1``, so its outer corners are ``(y0 - 0.5, x0 - 0.5)`` and ``(y1 - 0.5, x1 - 0.5)``.
    """
    return [np.array([[y0 - 0.5, x0 - 0.5], [y1 - 0.5, x1 - 0.5]], float)
            for y0, x0, y1, x1 in plan.rois]


#: Per-rectangle columns of a rescan plan's Shapes layer (``features``): the
#: rectangle in µm from the image's top-left corner (NaN when the pixel size is unknown).
RESCAN_UM_FEATURES = ("y0_um", "x0_um", "y1_um", "x1_um")


def rescan_features(plan) -> dict[str, np.ndarray]:
    """Per-rectangle features of a rescan plan's Shapes layer: ``rank`` (1 = the first to
    rescan; NaN where added by hand: :func:`_rank_numbers`), ``reason`` (``"out of
    focus"``, ``"uncertainty"`` or ``"added by hand"``), ``uncertainty`` (mean, NaN where
    none) and ``focus`` (mean, NaN where none) and the corners in µm
    (:data:`RESCAN_UM_FEATURES`, NaN when the plan has no pixel size), in the order of
    ``plan.rois``."""
    n = len(plan.rois)
    um = plan.rois_um  # read once: it rounds one number at a time
    um = np.asarray(um, float) if um is not None else np.full((n, 4), np.nan)
    um = um.reshape(n, 4)

    def numbers(values) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in values], float)

    return {"rank": _rank_numbers(plan.ranks), "reason": np.asarray(plan.reasons, dtype=object),
            "uncertainty": numbers(plan.scores), "focus": numbers(plan.focus),
            **{key: um[:, k] for k, key in enumerate(RESCAN_UM_FEATURES)}}


def _rank_numbers(ranks: Sequence[int | None]) -> np.ndarray:
    """The ``rank`` feature of a plan's shapes: integers (shown "1", not "1.0"), or floats
    with NaN for a None (a shape added by hand) when there is one."""
    if None in ranks:
        return np.array([np.nan if r is None else r for r in ranks], float)
    return np.array(ranks, np.int64)


#: The ``reason`` of a shape of a rescan plan's layer that covers no pixel centre of its
#: LR image (outside it, or thinner than a pixel; :func:`rescan_plan_shown`): no
#: rectangle to rescan, not saved.
NO_PIXEL_INSIDE = "covers no pixel of the image: not saved"

#: Shape types of a rescan plan's layer that enclose no area (:func:`rescan_plan_shown`):
#: as their bounding box, a line drawn along a row saved a 1 px strip.
NO_AREA_SHAPE_TYPES = ("line", "path")

#: The ``reason`` of a line or path drawn on a rescan plan's layer (:data:`NO_AREA_SHAPE_TYPES`):
#: not saved; the widget's status line says so (:func:`plan_layer_left_out`).
NO_AREA = "a line or path encloses no area: draw a rectangle or polygon; not saved"

#: Actions of a Shapes layer's ``data`` event after which a rescan plan's layer shows its
#: plan anew (:func:`_follow_edits`, the Super-resolution widget's status line): an edit
#: done, not each step of a drag ("changing").
PLAN_EDIT_ACTIONS = ("added", "changed", "removed")


class _ShapeRois(NamedTuple):
    """The shapes of a rescan plan's layer read once (:func:`_shape_rois`), one row per
    shape: its LR pixel rectangle ``boxes[i]`` (``[y0, x0, y1, x1]``, meaningful where
    ``why[i]`` is None), why it is none (:data:`NO_AREA`, :data:`NO_PIXEL_INSIDE`) and
    its planned rank (``ranks[i]``, NaN: added by hand, or a rank already taken)."""

    boxes: np.ndarray  # (n, 4) int
    why: np.ndarray  # (n,) object: None or the reason it is no rectangle
    ranks: np.ndarray  # (n,) float, NaN where none

    @property
    def inside(self) -> np.ndarray:
        """Which shapes are rectangles of the plan (bool per shape)."""
        return np.equal(self.why, None)

    def rank_list(self, which: np.ndarray | None = None) -> list[int | None]:
        """The ranks as ints and None (of the shapes ``which`` selects; all: None)."""
        ranks = self.ranks if which is None else self.ranks[which]
        return [None if r != r else int(r) for r in ranks.tolist()]


def _shape_rois(shapes, plan) -> _ShapeRois:
    """Each shape of ``plan``'s Shapes layer as an LR pixel rectangle, the pixels whose
    centres its bounding box covers (the inverse of :func:`rescan_rectangles`), cut at the
    image's border, or why it is none (:data:`NO_AREA`: a line or path;
    :data:`NO_PIXEL_INSIDE`), and its planned rank (NaN: added by hand, or a rank
    already taken by an earlier shape: a copy napari made). Whole arrays, no loop over
    the shapes in Python (a loop per shape took 26 ms of an edit of 5000 rectangles,
    ``benchmarks/bench_rescan_plan_edits.py``)."""
    h, w = (int(v) for v in plan.lr_shape[:2])
    data = shapes.data
    n = len(data)
    if not n:
        return _ShapeRois(np.zeros((0, 4), int), np.zeros(0, object), np.zeros(0, float))
    ranks = (shapes.features["rank"].to_numpy(float) if "rank" in shapes.features
             else np.full(n, np.nan))
    # every shape's bounding box at once
    sizes = np.fromiter(map(len, data), np.int64, n)
    starts = np.concatenate([[0], np.cumsum(sizes[:-1])])
    corners = np.concatenate(data, axis=0)[:, -2:].astype(float, copy=False)
    lo = np.maximum(np.ceil(np.minimum.reduceat(corners, starts)), 0)  # pixel k's centre: k
    hi = np.minimum(np.floor(np.maximum.reduceat(corners, starts)) + 1, (h, w))
    boxes = np.concatenate([lo, hi], axis=1).astype(int)
    why = np.full(n, None, object)
    why[~((boxes[:, 0] < boxes[:, 2]) & (boxes[:, 1] < boxes[:, 3]))] = NO_PIXEL_INSIDE
    why[np.isin(np.asarray(shapes.shape_type, dtype=object), NO_AREA_SHAPE_TYPES)] = NO_AREA
    # a planned rank once: the first shape bearing it keeps it (napari's copy of a row
    # is added by hand)
    known = np.array([r for r in plan.ranks if r is not None], float)
    with np.errstate(invalid="ignore"):
        planned = np.isfinite(ranks) & (np.floor(ranks) == ranks) & np.isin(ranks, known)
    at = np.flatnonzero(planned)
    first = at[np.unique(ranks[at], return_index=True)[1]]
    kept = np.full(n, np.nan)
    kept[first] = ranks[first]
    return _ShapeRois(boxes, why, kept)


def _plan_of_shapes(shapes, plan):
    """:func:`rescan_plan_shown`, and :func:`_shape_rois` it was read from (the shapes
    read once: :func:`show_plan_figures` gives both)."""
    read = _shape_rois(shapes, plan)
    inside = read.inside
    return plan.edited(read.boxes[inside].tolist(), read.rank_list(inside)), read


def rescan_plan_shown(shapes, plan):
    """``plan`` as its Shapes layer ``shapes`` shows it now: the one rule of what "Save
    plan…" saves and the layer's features give. The user may move, resize, delete or
    draw rectangles on it in napari: each shape is the rectangle of its bounding box in LR
    pixels (:func:`_shape_rois`; a shape over no pixel and a line or path, which encloses
    no area, are left out), of its planned rank, or added by hand
    (:meth:`~napari_srmat.sr.rescan.RescanPlan.edited`: the µm, area and time are those
    of the rectangles now). ``plan``: the plan as made, at its LR's pixel size now
    (:func:`rescan_plan_on_layer`)."""
    return _plan_of_shapes(shapes, plan)[0]


def plan_layer_left_out(shapes) -> str | None:
    """What the status line says of the shapes of a rescan plan's layer that are not in
    its plan (:func:`show_plan_figures`' ``reason`` of them: :data:`NO_AREA`,
    :data:`NO_PIXEL_INSIDE`), or None when every shape is. Reads the features only."""
    if "reason" not in shapes.features:
        return None
    reasons = shapes.features["reason"]
    lines, outside = int((reasons == NO_AREA).sum()), int((reasons == NO_PIXEL_INSIDE).sum())
    told = [f"{lines} line/path shape(s) not saved: a rescan area is a rectangle or "
            "polygon"] if lines else []
    told += [f"{outside} shape(s) over no pixel of the image not saved"] if outside else []
    return "; ".join(told) or None


def rescan_plan_on_layer(plan, layer, sizes: LayerPixelSizes | None = None):
    """``plan`` at the pixel size its LR ``layer`` has now
    (:meth:`~napari_srmat.sr.rescan.RescanPlan.at_pixel_size` of
    :func:`layer_store_pixel_size`): the rule of a plan's µm figures, as
    :func:`overlay_geometry` is of its rectangles' place. A plan is made in LR pixels;
    the LR layer calibrated anew (Calibration, or its ``scale``) after the plan was made,
    or while it was made, gives its rectangles in µm at the calibration they are shown
    at, not the one of Run. ``sizes``: the layer's
    :func:`~napari_srmat._napari_io.layer_pixel_sizes` when the caller has read them (a
    calibration event's handler reads the layer once)."""
    return plan.at_pixel_size((layer_pixel_sizes(layer) if sizes is None else sizes).store)


#: Events of a layer after which its pixel size is read anew (a calibration: the pixel
#: size is read from its scale, units and metadata): by a rescan plan of an LR layer
#: (:func:`add_rescan_plan`), the audit session of an SR layer (the Audit widget) and
#: the widgets showing a chosen layer's pixel size (``LayerCombo.watch``), each through
#: :func:`follow_calibration`.
CALIBRATION_EVENTS = ("scale", "units", "metadata")


#: Events of a layer after which a layer drawn over its pixels is put at its place anew
#: (:func:`overlay_geometry`, :func:`keep_on_layer`).
GEOMETRY_EVENTS = ("scale", "translate", "units")


#: Events of a layer after which the layers kept on it (:func:`keep_on_layer`) are put at
#: its place and record its pixel size anew (:func:`derived_records`): a new
#: ``metadata["pixel_size_um"]`` of a layer without a length unit is its calibration.
KEEPER_SOURCE_EVENTS = tuple(dict.fromkeys(GEOMETRY_EVENTS + CALIBRATION_EVENTS))


def follow_calibration(layer, callback, on: bool,
                       events: tuple[str, ...] = CALIBRATION_EVENTS, *,
                       first: bool = False) -> None:
    """Connect (``on``) or disconnect ``callback`` to each of ``layer``'s
    :data:`CALIBRATION_EVENTS` (or ``events``, e.g. :data:`GEOMETRY_EVENTS`): the one way
    to follow a layer's pixel size. Connecting a callback twice connects it once;
    disconnecting one not connected does nothing. A callback is called once per event:
    one that needs several pixel sizes reads them together
    (:func:`~napari_srmat._napari_io.layer_pixel_sizes`). One change may come as several
    events: a scale set by hand and the ``metadata`` event of the layer's records of it
    (:func:`keep_own_records`), which are written first, before napari calls the
    ``scale`` event's other listeners, however early they were connected: every listener
    reads the new records at either event. A callback that acts on a change skips the
    events that change nothing it reads (:class:`CalibrationSeen`). ``first``: called
    before the listeners connected so far (napari's ``position="first"``, after napari's
    own): the one use is the handlers that write a layer's records from its place."""
    for key in events:
        emitter = getattr(layer.events, key, None)
        if emitter is None:
            continue
        if on:
            emitter.connect(callback, position="first" if first else "last")
        else:
            emitter.disconnect(callback)


class CalibrationSeen:
    """What a follower of a layer's calibration (:func:`follow_calibration`) last acted
    on: the one rule by which it reacts once to one change. A scale set by hand is told
    by its ``scale`` event and by the ``metadata`` event of the layer's records of it
    (:func:`keep_own_records`, during the ``scale`` event: the layer reads the same at
    both), which change no pixel size the layer gives: a follower
    re-planning a rescan or re-saving a session at each event would do it twice. A
    follower makes a new one whenever it starts following a layer (a change made while
    it did not follow is news). Holds the layer weakly."""

    def __init__(self) -> None:
        self._layer: Callable[[], Any] = lambda: None
        self._seen: tuple | None = None

    def news(self, layer) -> LayerPixelSizes | None:
        """``layer``'s pixel sizes (:func:`~napari_srmat._napari_io.layer_pixel_sizes`,
        the layer read once) when what the followers show differs from what was last seen
        on it, which it now is: those sizes and everything else :func:`pixel_size_hint`
        and :func:`pixel_size_placeholder` read (the ``scale`` and ``units``, a unit-less
        scale being hinted at, :func:`_hint_metadata`, the layer it is kept on:
        :func:`kept_on`); None when nothing changed (the event is skipped). Reads
        attributes only: for a handler on the GUI thread."""
        sizes = layer_pixel_sizes(layer)
        kept = _KEPT.get(layer)  # the layer it is kept on and the factor (the placeholder's)
        now = (sizes, tuple(layer.scale[-2:]),
               tuple(str(u) for u in (getattr(layer, "units", None) or ())[-2:]),
               _hint_metadata(layer),
               None if kept is None else (id(kept._layer()), kept.factor))
        if self._layer() is layer and now == self._seen:
            return None
        self._layer, self._seen = _weak(layer), now
        return sizes


def audit_pixel_size_on_layer(session, layer,
                              sizes: LayerPixelSizes | None = None) -> float | None:
    """The SR pixel size an audit ``session`` measures in while its SR ``layer`` is shown:
    the layer's now (:func:`layer_pixel_size_um`), as :func:`rescan_plan_on_layer` is for a
    plan: an SR layer calibrated anew (Calibration, its ``scale`` or metadata) after the
    search gives the session's µm and mm² at the new pixel size. None for pixels that are
    not square (no single size: lengths in px, as at the search); the session's recorded
    size while the layer has no calibration at all (an image opened without one, under a
    session given its size by ``srmat audit candidates --pixel-size-um``): the rule of
    :meth:`~napari_srmat.audit.AuditSession.pixel_size_followed`, a report's for the SR file.
    ``sizes``: the layer's :func:`~napari_srmat._napari_io.layer_pixel_sizes` when the
    caller has read them.

    Examples
    --------
    >>> from napari_srmat.audit import AuditSession
    >>> s = AuditSession(pixel_size_um=0.25)
    >>> audit_pixel_size_on_layer(s, {"metadata": {"pixel_size_um": 0.125}})
    0.125
    >>> audit_pixel_size_on_layer(s, {"scale": (1.0, 1.0)})
    0.25
    >>> audit_pixel_size_on_layer(s, {"metadata": {"pixel_size_yx_um": [0.25, 0.5]}}) is None
    True
    """
    sizes = layer_pixel_sizes(layer) if sizes is None else sizes  # the layer read once
    return session.pixel_size_followed(sizes.size_um, square=sizes.non_square is None)


#: The plan as made (at its LR's pixel size now) of each rescan plan's Shapes layer
#: (:func:`show_plan_figures`), which its rectangles edited by hand are read against.
_SHOWN_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


#: The plan each rescan plan's Shapes layer showed last (:func:`show_plan_figures`).
_PLANS_NOW: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def show_plan_figures(shapes, plan):
    """Put ``plan``'s figures, as its Shapes layer shows it (:func:`rescan_plan_shown`:
    its rectangles moved, deleted or drawn by hand), into ``shapes``:
    ``metadata["rescan_plan"]`` and one features row per shape (:func:`rescan_features`;
    a shape not in the plan: why, :data:`NO_PIXEL_INSIDE` or :data:`NO_AREA`). ``plan``:
    the plan as made, at its LR's pixel size now; the layer's edits show it again
    (:func:`_follow_edits`). Returns the plan shown (also :func:`plan_shown_last`), read
    from the shapes once."""
    _SHOWN_PLANS[shapes] = plan
    shown, read = _plan_of_shapes(shapes, plan)
    _PLANS_NOW[shapes] = shown
    shapes.metadata = {**shapes.metadata, "rescan_plan": shown.to_dict()}
    made = rescan_features(shown)
    inside = read.inside
    # a kept shape's rank is its rank in the plan shown (rescan_plan_shown)
    features = {"rank": _rank_numbers(read.rank_list())}
    for key, values in made.items():  # the plan's rows where its rectangles are, else NaN
        if key != "rank":
            features[key] = np.full(len(inside), np.nan, dtype=values.dtype)
            features[key][inside] = values
    features["reason"][~inside] = read.why[~inside]  # why it is not in the plan
    shapes.features = features
    return shown


def plan_shown_last(shapes):
    """The plan the rescan plan's Shapes layer ``shapes`` showed at its last edit or
    calibration (:func:`show_plan_figures`; what :func:`rescan_plan_shown` gives of it
    until the next), or None for a layer not showing a plan. Computes nothing: for a
    handler of each edit (the Super-resolution widget's status line)."""
    return _PLANS_NOW.get(shapes)


def _follow_edits(shapes) -> None:
    """Show the plan of ``shapes`` (:func:`show_plan_figures`) again after each edit of
    its rectangles in napari (moved, resized, deleted, drawn, pasted): its features and
    metadata are the rectangles as they are. A shape napari adds (always after the
    others) copies the last selected row's features: marked added by hand (no rank)."""
    ref = weakref.ref(shapes)
    count = [len(shapes.data)]

    def edited(event) -> None:
        shapes = ref()
        action = str(getattr(event, "action", ""))
        if shapes is None or action not in PLAN_EDIT_ACTIONS or shapes not in _SHOWN_PLANS:
            return
        n = len(shapes.data)
        if n > count[0] and len(shapes.features) == n:
            features = shapes.features.copy()
            features["rank"] = features["rank"].astype(float)  # NaN: no integer
            features.loc[features.index[count[0]:], "rank"] = np.nan
            shapes.features = features
        count[0] = n
        show_plan_figures(shapes, _SHOWN_PLANS[shapes])

    shapes.events.data.connect(edited)


#: The layers kept on the layer they were made from (:func:`keep_on_layer`): each
#: derived layer's :class:`_Keeper` (weak: a deleted layer drops out, and the keeper
#: holds no layer).
_KEPT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _weak(obj) -> Callable[[], Any]:
    """A weak reference to ``obj``; a strong one (same call) to an object that takes
    none (a test's stand-in viewer)."""
    try:
        return weakref.ref(obj)
    except TypeError:
        return lambda: obj


def _placed(geometry: dict[str, Any], corner: Sequence[float]) -> dict[str, Any]:
    """``geometry`` (:func:`overlay_geometry`) of a layer whose pixel ``(0, 0)`` is pixel
    ``corner`` of that grid (a crop drawn over it)."""
    if not any(corner):
        return geometry
    scale, translate = geometry["scale"], geometry["translate"]
    return dict(geometry, translate=tuple(float(t) + float(s) * float(c)
                                          for t, s, c in zip(translate, scale, corner)))


def _differs(now, value) -> bool:
    """Whether a layer's ``scale`` / ``translate`` / ``units`` ``now`` differs from the
    ``value`` it would be set to: numbers beyond rounding (a place computed there and back,
    x 4 then / 4, may differ in its last bit: set again it would emit again), units as
    text."""
    if len(now) != len(value):
        return True
    if all(isinstance(v, (int, float, np.number)) for v in (*now, *value)):
        return not np.allclose(np.asarray(now, float), np.asarray(value, float),
                               rtol=1e-12, atol=0.0)
    return [str(v) for v in now] != [str(v) for v in value]


class _Keeper:
    """:func:`keep_on_layer`'s link of a derived layer to its source, holding the
    viewer and both layers weakly: its :meth:`place` is connected to both layers'
    events as a bound method, which napari's emitters hold weakly (a closure they hold
    strongly), and :data:`_KEPT` holds it only while the derived layer lives. So a
    layer deleted from the viewer is freed at once, with the link."""

    def __init__(self, viewer, overlay, layer, factor: float,
                 corner: Sequence[float] = (0.0, 0.0), two_way: bool = False) -> None:
        self._viewer = _weak(viewer)
        self._overlay = weakref.ref(overlay)
        self._layer = weakref.ref(layer)
        self.factor = float(factor)
        self.corner = tuple(float(c) for c in corner)
        self.two_way = bool(two_way)
        self._placing = False  # set while it places: the events of its own sets

    def layers(self, viewer) -> tuple[Any, Any] | None:
        """The derived layer and its source while both live and are in ``viewer``."""
        overlay, layer = self._overlay(), self._layer()
        if (viewer is None or overlay is None or layer is None
                or overlay not in viewer.layers or layer not in viewer.layers):
            return None
        return overlay, layer

    def same_link(self, viewer, layer, factor: float, corner: Sequence[float],
                  two_way: bool) -> bool:
        """Whether this link, live in ``viewer``, is the one :func:`keep_on_layer` would
        make of ``layer``, ``factor``, ``corner`` and ``two_way``."""
        both = self.layers(viewer)
        return (both is not None and both[1] is layer and self._viewer() is viewer
                and self.factor == float(factor) and self.two_way == bool(two_way)
                and self.corner == tuple(float(c) for c in corner))

    def place(self, event=None) -> None:
        """Put the derived layer at its source's place, or (:attr:`two_way`, the derived
        layer's own place set) the source where the derived layer now is; unlink if
        either is gone. The events of its own sets are not followed (no loop), but the
        derived layer's records are written at each of its own (:meth:`_record`; this
        handler runs first: :meth:`follow`), so its other listeners read records of the
        place it shows."""
        if self._placing:
            if getattr(event, "source", None) is self._overlay():
                both = self.layers(self._viewer())
                if both is not None:
                    self._record(*both)
            return
        both = self.layers(self._viewer())
        if both is None:
            self.unlink()  # replaced or deleted: nothing to keep
            return
        overlay, layer = both
        self._placing = True
        try:
            if self.two_way and getattr(event, "source", None) is overlay:
                # the source at the place its derived layer was given (the inverse grid)
                geo = overlay_geometry(overlay, 1.0 / self.factor)
                _set_place(layer, _placed(geo, tuple(-c / self.factor for c in self.corner)))
            _set_place(overlay, _placed(overlay_geometry(layer, self.factor), self.corner))
            self._record(overlay, layer)
        finally:
            self._placing = False

    def _record(self, overlay, layer) -> None:
        """Write the derived layer's :data:`DERIVED_RECORDS`, if it holds any, anew from
        its source (:func:`derived_records`); equal ones are not set (no event)."""
        meta = dict(overlay.metadata or {})
        if not any(key in meta for key in DERIVED_RECORDS):
            return
        _set_records(overlay, derived_records(meta, layer, self.factor, overlay.scale[-2:],
                                              overlay.translate[-2:]))

    def follow(self, on: bool) -> None:
        """Connect (``on``) or disconnect :meth:`place` to the live layers' events: the
        source's place and calibration (:data:`KEEPER_SOURCE_EVENTS`), the derived
        layer's place, before its listeners connected earlier (its records are written
        there: :meth:`place`)."""
        for lay, events, first in ((self._layer(), KEEPER_SOURCE_EVENTS, False),
                                   (self._overlay(), GEOMETRY_EVENTS, True)):
            if lay is not None:
                follow_calibration(lay, self.place, on, events, first=first)

    def unlink(self) -> None:
        """End the link: disconnected, and out of :data:`_KEPT`."""
        self.follow(False)
        overlay = self._overlay()
        if overlay is not None and _KEPT.get(overlay) is self:
            del _KEPT[overlay]


def _records_differ(now, value) -> bool:
    """Whether ``metadata`` records ``now`` differ from ``value``: numbers beyond rounding
    (:func:`_differs`), lists and tuples alike (the reader's lists, the rule's tuples); an
    entry the rule left as it was (the same object: an array a script put there) is not
    compared, one that cannot be (arrays changed) differs."""
    if now is value:
        return False
    if isinstance(now, dict) and isinstance(value, dict):
        return now.keys() != value.keys() or any(_records_differ(now[k], value[k])
                                                 for k in now)
    if isinstance(now, (list, tuple)) and isinstance(value, (list, tuple)):
        return len(now) != len(value) or any(_records_differ(a, b)
                                             for a, b in zip(now, value))
    if isinstance(now, (int, float, np.number)) and isinstance(value, (int, float,
                                                                      np.number)):
        return _differs((now,), (value,))
    try:
        return bool(now != value)
    except (TypeError, ValueError):  # arrays: no single truth value
        return True


def _set_records(layer, meta: dict) -> None:
    """Set ``layer.metadata`` to ``meta`` unless it records the same (no event). Its
    ``metadata`` event tells whoever reads the records; the widgets' calibration
    followers skip it when it changes no pixel size (:class:`CalibrationSeen`)."""
    if _records_differ(dict(layer.metadata or {}), meta):
        layer.metadata = meta


#: ``metadata`` entries by which a layer records its own pixel size and place as a store
#: would (:func:`own_records`): the reader's (``pixel_size_um``, ``pixel_size_yx_um``,
#: ``unitless_grid``, ``origin_um``), Calibration's, a derived layer's.
OWN_RECORDS = (*DERIVED_RECORDS, "origin_um")


def own_records(layer) -> dict:
    """``layer``'s ``metadata`` with what it records of its own pixels as it shows them
    now: the pixel size of :func:`derived_records` (``layer`` its own source at factor
    1: the one rule) and, when it records one, its ``unitless_grid`` (a store's grid, e.g.
    an SR output's over its input's pixels) and ``origin_um``
    (:func:`~napari_srmat._napari_io.layer_place`). The displayed scale is the truth
    (:func:`layer_pixel_size_um` reads it): the records follow it, never the reverse. A
    record that is no pixel size (a script's ``metadata={"pixel_size_um": "0.5 um"}``:
    unknown, :func:`~napari_srmat._napari_io.layer_recorded_pixel_sizes`) is kept as
    typed while the layer has no size: never overwritten with None. A
    layer recording no grid gets none: its scale without a length unit stays what the
    widgets hint may be a pixel size (:func:`pixel_size_hint`), e.g. ``layer.scale =
    (0.5, 0.5)`` typed on an image read without one.

    Examples
    --------
    >>> own_records({"scale": (0.5, 0.5), "translate": (1.0, 2.0),
    ...              "units": ("micrometer", "micrometer"),
    ...              "metadata": {"pixel_size_um": 0.8, "origin_um": [3.0, -2.0]}})
    {'pixel_size_um': 0.5, 'origin_um': (1.0, 2.0)}
    >>> own_records({"scale": (0.5, 0.5), "metadata": {"pixel_size_um": None}})
    {'pixel_size_um': None}
    >>> own_records({"scale": (0.5, 0.5), "metadata": {"pixel_size_um": "0.5 um"}})
    {'pixel_size_um': '0.5 um'}
    >>> own_records({"scale": (0.5, 0.5), "translate": (1.0, 2.0), "metadata": {
    ...     "pixel_size_um": None, "unitless_grid": {"scale": [0.25, 0.25],
    ...                                              "origin": [0.0, 0.0]}}})
    {'pixel_size_um': None, 'unitless_grid': {'scale': (0.5, 0.5), 'origin': (1.0, 2.0)}}
    """
    def part(key, default=None):
        value = layer.get(key) if isinstance(layer, dict) else getattr(layer, key)
        return default if value is None else value

    scale = tuple(part("scale", (1.0, 1.0)))[-2:]
    translate = tuple(part("translate", (0.0, 0.0)))[-2:]
    meta = derived_records(part("metadata"), layer, 1.0, scale, translate)
    if meta.get("pixel_size_um") is None:  # a record that is no pixel size stays as typed
        meta.update(unreadable_pixel_size_records(part("metadata")))
    if "unitless_grid" not in (part("metadata") or {}):
        meta.pop("unitless_grid", None)  # a unit-less scale typed by hand: a hint
    if "origin_um" in meta:
        origin = layer_place({"scale": scale, "translate": translate, "units": part("units"),
                              "metadata": meta}).get("origin_um")
        if origin is None:
            del meta["origin_um"]
        else:
            meta["origin_um"] = origin
    return meta


#: ``metadata`` entries of :data:`OWN_RECORDS` that record a layer's place: the only ones
#: a ``translate`` set changes (a layer recording its pixel size only is not read then).
PLACE_RECORDS = ("unitless_grid", "origin_um")


def _holds(metadata: Mapping | None, keys: Sequence[str]) -> bool:
    """Whether a layer's ``metadata`` (None: none) holds any of ``keys``: the one rule of
    which layers' records follow their place (:data:`OWN_RECORDS`, :data:`PLACE_RECORDS`)."""
    return any(key in (metadata or {}) for key in keys)


#: Layers being placed with their records written first (:func:`place_with_records`):
#: their records do not follow each of the sets (a half-set place).
_PLACING: weakref.WeakSet = weakref.WeakSet()


def place_with_records(layer, scale: Sequence[float], translate: Sequence[float],
                       units: Sequence[str], *, record: bool = False) -> None:
    """Set ``layer``'s ``scale``, ``translate`` and ``units`` (every axis) with its
    records as they end (:func:`own_records` of that place) written first, once: one
    ``metadata`` event, and every listener of the three sets reads the records of where
    the layer ends. Its records follow each set otherwise (:func:`keep_own_records`):
    a layer recording a unit-less grid given a pixel size got three ``metadata`` events,
    two with the grid rewritten at a half-set place. Written when the layer holds any of
    :data:`OWN_RECORDS` (the rule of :func:`keep_own_records`), or with ``record``."""
    metadata = dict(layer.metadata or {})
    if record or _holds(metadata, OWN_RECORDS):
        _set_records(layer, own_records({"scale": tuple(scale), "translate": tuple(translate),
                                         "units": tuple(units), "metadata": metadata}))
    _PLACING.add(layer)
    try:
        layer.scale = scale
        layer.translate = translate
        layer.units = units
    finally:
        _PLACING.discard(layer)


def _record_own(event) -> None:
    """:func:`_record_own_layer` of the layer whose scale, translate or units were set."""
    layer = getattr(event, "source", None)
    if layer in _PLACING:
        return
    if getattr(event, "type", None) == "translate" and not _holds(
            getattr(layer, "metadata", None), PLACE_RECORDS):
        return
    _record_own_layer(layer)


def _record_own_layer(layer) -> None:
    """Write ``layer``'s records (:func:`own_records`) if it holds any and is not kept
    on another layer (its keeper records it from that layer), with their ``metadata``
    event. Called first at the layer's ``scale`` / ``translate`` / ``units`` event
    (:func:`_follow_own`), before the listeners connected earlier (a script's, a
    notebook's, another plugin's, connected before the first widget opened): each reads
    records of the place the layer shows. They change no pixel size the layer gives (a
    scale in a length unit wins over them; without one they are its calibration, written
    back as they were): the widgets' followers skip that event (:class:`CalibrationSeen`).
    Reads attributes only: no computing on the GUI thread (0.1-0.3 ms a call)."""
    if not _holds(getattr(layer, "metadata", None), OWN_RECORDS):
        return
    keeper = _KEPT.get(layer)
    if keeper is not None and keeper.layers(keeper._viewer()) is not None:
        return
    _set_records(layer, own_records(layer))


def _follow_own(layer) -> None:
    """Record ``layer``'s pixels as it shows them now and at each of its
    :data:`GEOMETRY_EVENTS` (:func:`_record_own`), before that event's other listeners,
    those connected earlier too."""
    follow_calibration(layer, _record_own, True, GEOMETRY_EVENTS, first=True)
    _record_own_layer(layer)


def _follow_inserted(event) -> None:
    _follow_own(event.value)


def keep_own_records(viewer) -> None:
    """Keep the records of every layer of ``viewer``, now and added later, on what it
    shows (:func:`own_records`): a scale or translate set by hand (layer controls,
    console) left a read layer's ``metadata["pixel_size_um"]`` (shown in the console,
    copied with the layer) at the file's where the layer shows, and every widget reads,
    another. Each napari-srmat widget calls it (``LayerCombo``, the Audit widget): the
    records follow from the first one opened on, for the viewer's life, every widget
    closed too (they are the layer's, as its scale is; its handlers are module functions:
    they hold no layer, widget or viewer, and a closed widget is freed). They are written
    first at each event (:func:`_record_own_layer`): every listener of the layer's
    ``scale`` reads the new records. Calling it again adds nothing (napari connects a
    callback once)."""
    viewer.layers.events.inserted.connect(_follow_inserted)
    for layer in viewer.layers:
        _follow_own(layer)


def _set_place(layer, geometry: dict[str, Any]) -> None:
    """Set ``layer``'s ``scale`` / ``translate`` / ``units`` (last two axes) that differ
    from ``geometry`` (:func:`overlay_geometry`); an equal one is not set (each set emits:
    its followers would place again)."""
    for key, value in geometry.items():
        now = tuple(getattr(layer, key))
        if _differs(now[-len(value):], value):
            setattr(layer, key, now[:-len(value)] + tuple(value))


def keep_on_layer(viewer, overlay, layer, factor: float = 1.0, *,
                  corner: Sequence[float] = (0.0, 0.0), two_way: bool = False) -> None:
    """Keep ``overlay``, a 2-D layer made from ``layer`` (its rescan plan's rectangles,
    boundary maps, Heyn intersections and test lines, its SR result...), at ``layer``'s
    place (:func:`overlay_geometry` at ``factor``: 2 for boundaries found at inference
    scale 2, 4 for a x4 SR result, which cover the same area; its pixel ``(0, 0)`` on
    pixel ``corner`` of that grid: a crop) while both are in the viewer: the one rule of
    a derived layer's place. It is put there now.

    ``layer``'s scale, translate or units set (:data:`GEOMETRY_EVENTS`; by hand or by
    Calibration) moves ``overlay``; ``overlay``'s own set otherwise (by hand, a script,
    Calibration stretching the layers made from ``layer`` after ``layer`` itself) puts
    it back: it shows ``layer``'s pixels, and elsewhere would show them at the wrong
    place (a copy, Layer > Duplicate, is placed freely). With ``two_way`` (an SR
    result: a micrograph calibrated or placed for itself, whose scale the Audit widget
    reads as its calibration) ``overlay``'s own set places ``layer`` instead, at
    ``factor`` times its scale, so the two never part. A layer kept anew (a result
    written into the same layer) drops its old link. Its handlers only set attributes
    (the GUI thread computes nothing), never on the events of their own sets (no loop);
    :func:`kept_on` gives the link; a new link is told to ``overlay``'s calibration
    followers (its ``metadata`` event: :class:`CalibrationSeen`). The link holds neither
    layer nor the viewer (:class:`_Keeper`): either layer deleted is freed. A layer kept
    again on the same layer, factor and corner (a result written into the same layers:
    the Boundaries widget run again) keeps its link, only placed: no handler is disconnected and
    connected again (napari looks each one up among the layer's listeners).
    """
    kept = _KEPT.get(overlay)
    if kept is not None and kept.same_link(viewer, layer, factor, corner, two_way):
        kept.place()
        return
    _unkeep(overlay)
    keeper = _Keeper(viewer, overlay, layer, factor, corner, two_way)
    _KEPT[overlay] = keeper
    keeper.follow(True)
    keeper.place()
    # the link is news to those following overlay's calibration (CalibrationSeen): a
    # widget that chose it as it was added, before the link, shows whose pixels it has
    overlay.events.metadata()


def keep_all_on_layer(viewer, overlays, layer, factor: float = 1.0) -> None:
    """:func:`keep_on_layer` for each of ``overlays``, the layers a result added over
    ``layer`` (its maps, its intersections and test lines); None (a layer not added:
    no error model, no test lines) is skipped."""
    for made in overlays:
        if made is not None:
            keep_on_layer(viewer, made, layer, factor)


def _unkeep(overlay) -> None:
    """End :func:`keep_on_layer`'s link of ``overlay`` (if any)."""
    kept = _KEPT.get(overlay)
    if kept is not None:
        kept.unlink()


def kept_on(viewer, overlay) -> tuple[Any, float] | None:
    """The layer ``overlay`` is kept on (:func:`keep_on_layer`) and its factor, while
    both are in ``viewer``; else None. Calibrating ``overlay`` is calibrating that layer
    (at its pixel size times the factor), as its place follows it."""
    kept = _KEPT.get(overlay)
    both = None if kept is None else kept.layers(viewer)
    return None if both is None else (both[1], kept.factor)


def add_rescan_plan(viewer, layer, plan, *, name: str = "rescan plan", follow: bool = True):
    """Show a :class:`~napari_srmat.sr.rescan.RescanPlan` as a Shapes layer on ``layer``.

    The rectangles sit on the LR layer's pixels (its scale and translate); the layer's
    metadata holds the plan (``rescan_plan``: ROIs in px and in µm, ``pixel_size_um``,
    ``roi_fraction``, ``time_ratio``, the uncertainty source) and each shape its rank,
    reason, mean uncertainty and focus, and corners in µm (:func:`rescan_features`).

    The µm figures are those of ``layer``'s pixel size now, and follow it while the
    Shapes layer is in the viewer (:func:`follow_rescan_plan`): calibrating the LR layer
    gives them at the new pixel size. Its rectangles keep the LR's place
    (:func:`keep_on_layer`), its scale set by hand or by Calibration. With
    ``follow=False`` the caller keeps them (:func:`show_plan_figures`), from the plan it
    recomputes once per calibration event for itself too (the Super-resolution widget).
    Rectangles moved, resized, deleted or drawn on the layer by hand: its features and
    metadata give the plan as shown (:func:`rescan_plan_shown`), after each edit and from
    the start (:func:`show_plan_figures`; :func:`plan_shown_last` gives the same plan,
    also of a plan already edited by hand).

    Returns
    -------
    napari.layers.Shapes
    """
    plan = rescan_plan_on_layer(plan, layer)
    rects = rescan_rectangles(plan)
    kwargs: dict[str, Any] = dict(
        shape_type="rectangle", edge_color="yellow", face_color="transparent",
        edge_width=1,
        **overlay_geometry(layer),  # its units too: without, napari drops the viewer's µm
        metadata={"rescan_plan": plan.to_dict(), **source_metadata(layer),
                  OWN_LAYER_KEY: name},
        features=rescan_features(plan), ndim=2,
    )
    if (own := _own_layer(viewer, name)) is not None:
        viewer.layers.remove(own)
    shapes = viewer.add_shapes(rects or None, name=name, **kwargs)
    # as its edits show it (a plan already edited by hand: its edit note is this one's)
    show_plan_figures(shapes, plan)
    _follow_edits(shapes)
    keep_on_layer(viewer, shapes, layer)
    if follow:
        follow_rescan_plan(viewer, shapes, layer, plan)
    return shapes


def follow_rescan_plan(viewer, shapes, layer, plan) -> None:
    """Keep the µm figures of ``shapes``, the Shapes layer of ``plan`` (as it shows it:
    :func:`add_rescan_plan`), at the pixel size of its LR ``layer`` while it is in the
    viewer: at each calibration event of ``layer`` the plan is read at its pixel size
    (:func:`rescan_plan_on_layer`, once) and shown (:func:`show_plan_figures`) when that
    changed. A few rectangles: on the GUI thread. The follower, held by ``layer``'s
    events, holds neither ``shapes`` nor the viewer (as :func:`keep_on_layer`'s link): a
    deleted plan layer is freed, and the follower disconnects at the next event."""
    seen = CalibrationSeen()
    shapes_ref, viewer_ref = _weak(shapes), _weak(viewer)

    def recalibrated(_event=None) -> None:
        nonlocal plan
        shapes, viewer = shapes_ref(), viewer_ref()
        if shapes is None or viewer is None or shapes not in viewer.layers:
            # replaced or deleted: it follows nothing more
            follow_calibration(layer, recalibrated, False)
            return
        sizes = seen.news(layer)
        if sizes is None:  # the same change told again (its records)
            return
        now = rescan_plan_on_layer(plan, layer, sizes)
        if now.pixel_size_um == plan.pixel_size_um:
            return
        plan = now
        show_plan_figures(shapes, plan)

    follow_calibration(layer, recalibrated, True)


def add_super_resolution(viewer, layer, *, model: str | None = None, scale: int = 4,
                         checkpoint=None, tile: int = DEFAULT_TILE,
                         overlap: int = DEFAULT_OVERLAP,
                         batch_size: int = DEFAULT_BATCH_SIZE, device: str = "auto",
                         out=None,
                         name: str | None = None):
    """Super-resolve an image layer and add the aligned result (synchronous).

    Parameters are those of :func:`super_resolution_job`; see
    :func:`add_super_resolution_result` for the layer added.

    Returns
    -------
    napari.layers.Image
    """
    result = run_job(
        super_resolution_job(
            layer_image_data(layer), model=model, checkpoint=checkpoint, scale=scale,
            tile=tile, overlap=overlap, batch_size=batch_size, device=device, out=out,
            pixel_size_um=layer_store_pixel_size(layer),  # (Y, X) when not square
            place=layer_place(layer),
        ),
        quiet=True,
    )
    return add_super_resolution_result(viewer, layer, result, scale, name=name,
                                       model_name=model)


# --------------------------------------------------------------------------- boundaries


@dataclass
class BoundaryMaps:
    """UAED output: boundary probability, uncertainty and the model's thresholds.

    ``threshold`` is the model's operating point for this map: the threshold its
    ``threshold_rule`` gives the image (the default rule picks one per image), or the
    max-F1 threshold for rules that are not one threshold. ``f1_threshold`` is the
    max-F1 threshold on the validation split (the paper's protocol); ``heyn_threshold``
    (when the checkpoint has one for the TTA mode used) the one whose skeletons
    reproduced the validation mean intercept best. ``native_scale`` is the scale check
    of the input (:class:`napari_srmat.grainsize.NativeScale`: its ``warning`` says when
    the model, run at these pixels, is outside the grain sizes it is reliable at).
    ``uncertainty_limits`` are the uncertainty layer's contrast limits
    (:func:`uncertainty_contrast_limits`), measured where the map is made
    (:func:`boundaries_job`, in the worker); None (maps made another way) shows it at
    :data:`UNKNOWN_UNCERTAINTY_LIMITS`: :func:`add_boundary_result` never reads the map.
    """

    prob: Any
    uncertainty: Any
    threshold: float
    heyn_threshold: float | None = None
    tta: str = "none"
    f1_threshold: float | None = None
    threshold_rule: str = "global"
    error_model: dict | None = None
    native_scale: Any = None
    uncertainty_limits: tuple[float, float] | None = None

    def error_map(self, threshold: float) -> np.ndarray | None:
        """P(pixel of ``prob >= threshold`` is wrong), or None without an error model.

        :func:`napari_srmat.edges.uncertainty.error_probability` (calibrated out of fold;
        unlike the sigma map it points at the model's mistakes). Call it in a worker.
        """
        if self.error_model is None:
            return None
        from ..edges.uncertainty import error_probability

        return error_probability(np.asarray(self.prob), self.error_model, threshold=threshold)


@dataclass
class BoundaryLayers:
    """Layers added by :func:`add_boundary_result` (``error`` None without an error model)."""

    probability: Any
    uncertainty: Any
    boundaries: Any
    error: Any = None


#: Contrast limits of an uncertainty map whose range is not known (maps made without
#: :func:`boundaries_job`) or holds no positive finite value.
UNKNOWN_UNCERTAINTY_LIMITS = (0.0, 1.0)


def uncertainty_contrast_limits(uncertainty) -> tuple[float, float]:
    """Contrast limits of an uncertainty (sigma) map: 0 to its largest finite value.

    A pass over the whole map: call it where the map is made (a worker thread), and hand
    the limits to :func:`add_boundary_result` in :attr:`BoundaryMaps.uncertainty_limits`.

    Parameters
    ----------
    uncertainty : array-like
        The ``(H, W)`` map (numpy, or dask: computed).

    Returns
    -------
    tuple of float
        ``(0, max)``, or :data:`UNKNOWN_UNCERTAINTY_LIMITS` for an empty map, one
        without a positive value, or one whose largest value is infinite.

    Examples
    --------
    >>> uncertainty_contrast_limits(np.array([[0.5, np.nan], [2.0, 0.0]]))
    (0.0, 2.0)
    >>> uncertainty_contrast_limits(np.zeros((2, 2)))
    (0.0, 1.0)
    """
    import warnings

    a = np.asarray(uncertainty)
    if not a.size:
        return UNKNOWN_UNCERTAINTY_LIMITS
    with warnings.catch_warnings():  # an all-NaN map: "All-NaN slice encountered"
        warnings.simplefilter("ignore", RuntimeWarning)
        hi = float(np.nanmax(a))
    return (0.0, hi) if math.isfinite(hi) and hi > 0 else UNKNOWN_UNCERTAINTY_LIMITS


def boundaries_job(
    image,
    *,
    checkpoint: str | os.PathLike | None = None,
    device: str = "auto",
    tile: int = BOUNDARY_TILE,
    overlap: int = BOUNDARY_OVERLAP,
    tta: str | None = None,
    upscale_factor: int | None = None,
    stop: StopToken | None = None,
) -> Generator[Event, Any, BoundaryMaps | None]:
    """Load the UAED model and predict boundary probability + uncertainty (job generator).

    ``tta`` is the test-time augmentation (``"none"``, ``"d4"``; None: the
    checkpoint's setting). The input's scale is checked first
    (:func:`napari_srmat.grainsize.check_native_scale`, kept in
    ``BoundaryMaps.native_scale``; its warning is also logged). ``upscale_factor`` is an
    SR layer's recorded factor (:func:`layer_upscale_factor`): the check suggests 1 / f,
    as the Simple tab measures it (until s51 F3 the layer's pixels alone were checked).

    Returns
    -------
    BoundaryMaps or None
        None when stopped before the last tile; a stop asked after it (a late Cancel)
        returns the whole maps (:func:`late_cancel_note`).
    """
    from ..edges import load_boundary_model, predict_boundaries_job
    from ..grainsize import native_scale_job

    yield Log(f"loading boundary model {checkpoint or '(shipped default)'}")
    model = load_boundary_model(checkpoint, device=device, tta=tta)
    # for the status line (a UserWarning in the worker thread would reach no one)
    scale = yield from native_scale_job(image, stop=stop, upscale_factor=upscale_factor)
    if scale is None:
        return None
    if scale.warning:
        yield Log(scale.warning, level="warning")
    res = yield from predict_boundaries_job(image, model, tile=tile, overlap=overlap, stop=stop,
                                            scale_check=False)
    if res is None:  # stopped at a tile; a stop after the last one keeps the whole maps,
        return None  # as an SR result's (late_cancel_note)
    prob, unc = res
    # the default rule: one threshold per map, as srmat edges predict's (a sample of a
    # map above THRESHOLD_SAMPLE_PIXELS)
    per_image = model.map_threshold(prob)
    return BoundaryMaps(prob=prob, uncertainty=unc,
                        threshold=float(model.threshold if per_image is None else per_image),
                        heyn_threshold=model.heyn_threshold, tta=model.tta,
                        f1_threshold=float(model.threshold),
                        threshold_rule=model.threshold_rule, error_model=model.error_model,
                        native_scale=scale, uncertainty_limits=uncertainty_contrast_limits(unc))


def threshold_boundaries(prob, threshold: float, *, skeletonize: bool = True) -> np.ndarray:
    """Threshold (and thin) a probability map into a ``uint8`` boundary mask (1 = boundary).

    Uses :func:`napari_srmat.metrics.edges.binarize_boundaries` so the GUI and the
    library give the same mask.
    """
    from ..metrics.edges import binarize_boundaries

    mask = binarize_boundaries(np.asarray(prob), float(threshold), skeletonize=skeletonize)
    return np.asarray(mask).astype(np.uint8)


def _names(layer_name: str) -> tuple[str, str, str]:
    return (
        f"{layer_name} boundary probability",
        f"{layer_name} uncertainty",
        f"{layer_name} boundaries",
    )


def add_boundary_result(viewer, layer, maps: BoundaryMaps, *, threshold: float | None = None,
                        skeletonize: bool = True, boundaries=None,
                        error=None) -> BoundaryLayers:
    """Add probability, uncertainty and thresholded-boundary layers over ``layer``.

    The three layers get the input's scale and translate. The probability layer
    (``magma``, additive) keeps the threshold in ``metadata["threshold"]`` so that the
    grain-size widget can binarize it; the uncertainty layer (``viridis``) starts
    hidden. ``boundaries`` is the thresholded mask when the caller computed it already
    (in a worker thread: the GUI thread does not threshold or skeletonize); the
    uncertainty layer's contrast limits are ``maps.uncertainty_limits`` (the map is not
    read here: a pass over it stalled the GUI thread). With an error model
    (``maps.error_model``) a fourth layer ``<layer> error probability`` (inferno,
    hidden) shows where the binarised map is likely wrong; ``error`` is that map when
    the caller computed it already. The input's scale check (``maps.native_scale``) is
    kept in every layer's ``metadata["native_scale"]``
    (:meth:`napari_srmat.grainsize.NativeScale.to_dict`: its ``warning`` and figures).
    A hidden map's colour bar is made when the map is shown (:func:`show_colorbar`).

    :func:`boundary_result_steps` run at once (:func:`run_steps`); the Boundaries widget
    runs one step per event-loop turn.

    Returns
    -------
    BoundaryLayers
    """
    return run_steps(boundary_result_steps(viewer, layer, maps, threshold=threshold,
                                           skeletonize=skeletonize, boundaries=boundaries,
                                           error=error))


def boundary_result_steps(viewer, layer, maps: BoundaryMaps, *,
                          threshold: float | None = None, skeletonize: bool = True,
                          boundaries=None, error=None
                          ) -> Generator[None, None, BoundaryLayers]:
    """:func:`add_boundary_result` in steps: a generator that yields after each layer
    added and each colour bar shown, and returns the :class:`BoundaryLayers`.

    A widget runs one step per event-loop turn
    (:meth:`napari_srmat.widgets._worker.SingleJobMixin._start_single_job`), so that the
    GUI thread is never held by all of them at once (napari makes each layer's Qt
    controls and vispy visual, and each shown colour bar's visual: a 768² result's four
    layers and three bars held it 1.7-5 s in one callback on the shared 2-core machine
    under Xvfb, s51 E10); :func:`run_steps` runs them at once. Each layer is kept on
    ``layer`` (:func:`keep_on_layer`) in the step that adds it. Nothing here reads the
    maps: pass ``boundaries`` (and ``error``) computed in the worker; without them the
    mask (and error map) are computed in the step that adds their layer.

    Parameters
    ----------
    viewer : napari.Viewer
    layer : napari.layers.Image
        The input layer.
    maps : BoundaryMaps
        The prediction.
    threshold : float, optional
        The boundaries' threshold (default ``maps.threshold``).
    skeletonize : bool
        Whether ``boundaries`` is (or is to be) thinned to 1 px.
    boundaries, error : array, optional
        The thresholded mask and the error-probability map, computed already.

    Returns
    -------
    generator
        Its return value (``StopIteration.value``) is the :class:`BoundaryLayers`.
    """
    thr = maps.threshold if threshold is None else float(threshold)
    n_prob, n_unc, n_bnd = _names(layer.name)
    geo = overlay_geometry(layer)
    meta = derived_records({**source_metadata(layer), "threshold": thr,
                            "model_threshold": maps.threshold, "skeletonize": skeletonize},
                           layer, 1.0, geo["scale"], geo["translate"])
    if maps.native_scale is not None:
        meta["native_scale"] = maps.native_scale.to_dict()

    def added(made, bar: str | None = None):
        keep_on_layer(viewer, made, layer)
        yield
        if bar is not None:
            # a hidden map's bar is made when it is shown (napari: 0.2-0.4 s a bar)
            show_colorbar(made, bar, viewer, shown=bool(made.visible))
            if made.visible:
                yield
        return made

    prob = yield from added(upsert_layer(
        viewer, n_prob, "image", maps.prob, colormap="magma", blending="additive",
        contrast_limits=(0.0, 1.0), metadata=dict(meta, kind=BOUNDARY_PROBABILITY_KIND),
        **geo), PROBABILITY_BAR)
    unc = yield from added(upsert_layer(
        viewer, n_unc, "image", maps.uncertainty, colormap="viridis", blending="additive",
        opacity=0.6, visible=False,
        contrast_limits=tuple(maps.uncertainty_limits or UNKNOWN_UNCERTAINTY_LIMITS),
        metadata=dict(meta, kind="uncertainty"), **geo), UNCERTAINTY_BAR)
    if boundaries is None:
        boundaries = threshold_boundaries(maps.prob, thr, skeletonize=skeletonize)
    bnd = yield from added(upsert_layer(viewer, n_bnd, "labels", boundaries,
                                        metadata=dict(meta, kind="boundaries"), **geo))
    err_layer = None
    if maps.error_model is not None:
        if error is None:
            error = maps.error_map(thr)
        err_layer = yield from added(upsert_layer(
            viewer, f"{layer.name} error probability", "image", error, colormap="inferno",
            blending="additive", opacity=0.7, visible=False, contrast_limits=(0.0, 1.0),
            metadata=dict(meta, kind="error probability"), **geo), SHARED_MAP_BAR)
    return BoundaryLayers(probability=prob, uncertainty=unc, boundaries=bnd, error=err_layer)


def add_boundary_layers(viewer, layer, *, checkpoint=None, device: str = "auto",
                        tile: int = BOUNDARY_TILE, overlap: int = BOUNDARY_OVERLAP,
                        threshold: float | None = None,
                        skeletonize: bool = True) -> BoundaryLayers:
    """Predict boundaries of an image layer and add the three result layers (synchronous)."""
    maps = run_job(
        boundaries_job(layer_image_data(layer), checkpoint=checkpoint, device=device,
                       tile=tile, overlap=overlap, upscale_factor=layer_upscale_factor(layer)),
        quiet=True,
    )
    return add_boundary_result(viewer, layer, maps, threshold=threshold,
                               skeletonize=skeletonize)


# --------------------------------------------------------------------------- Heyn


def boundary_mask(layer, threshold: float | None = None) -> np.ndarray:
    """Binary boundary mask (bool ``(H, W)``) from a Labels or Image layer.

    * Labels: label > 0.
    * Image: the mask rule of :func:`napari_srmat.io.as_bool_mask`; a float image (a
      probability map) is compared ``>= threshold``, by default the layer's
      ``metadata["threshold"]`` or 0.5.

    Raises
    ------
    WidgetInputError
        For layers that are not 2-D single-channel images.
    """
    return layer_data_mask(layer_image_data(layer), kind=layer._type_string,
                           metadata=layer.metadata, name=layer.name, threshold=threshold)


def check_mask_layer_shape(shape: Sequence[int], name: str) -> None:
    """Refuse a boundary layer that is not 2-D, by its shape alone (no pixel read).

    The widgets' boundary layers are 2-D single-channel maps: an RGB layer, or a stack
    napari shows plane by plane (a z or time series), is refused before it is read.

    Parameters
    ----------
    shape : sequence of int
        The layer's data shape (``np.shape`` of its level-0 data).
    name : str
        The layer's name, in the message.

    Raises
    ------
    WidgetInputError
        One line naming the layer and its shape.
    """
    if len(shape) != 2:
        raise WidgetInputError(
            f"layer {name!r} has shape {tuple(shape)}; a 2-D boundary mask or "
            "probability map is needed (not an RGB image or a stack)"
        )


def is_2d_greyscale_layer(layer) -> bool:
    """Whether ``layer`` is 2-D and not RGB: the layers a widget lists where a 2-D
    greyscale image or mask is needed (through :func:`is_boundary_layer`: the *Boundary
    mask* tab's boundary layer, the *Specimen* tab's fields, twins and exclusions), those
    :func:`check_mask_layer_shape` lets through.

    Read from the layer's attributes alone (``ndim``, ``rgb``; napari sets them before it
    tells ``events.data``), never from its pixels: :class:`~napari_srmat.widgets._qt.
    LayerCombo` asks it at every layer event, on the GUI thread.

    Parameters
    ----------
    layer : napari.layers.Layer
        Any layer.

    Returns
    -------
    bool
        True for a 2-D single-channel layer (an RGB image's ``ndim`` is 2 too: its
        channels are not a dimension to napari).
    """
    return layer.ndim == 2 and not getattr(layer, "rgb", False)


def is_boundary_layer(layer) -> bool:
    """Whether ``layer`` may be a field's boundary map: a 2-D greyscale Labels or Image
    layer (:func:`is_2d_greyscale_layer`) that is not one of the layers napari-srmat adds
    that are no boundary map (``metadata["kind"]`` in :data:`NOT_BOUNDARY_KINDS`: an
    uncertainty or error-probability map, grain areas, a corrections layer; an SR result,
    :data:`SR_FACTOR_KEY`). The one rule of the boundary layer the *Boundary mask* tab
    measures, and of the *Specimen* tab's fields and its twin and exclusion masks.

    A boundary mask, a probability map or a micrograph of the user's (opened from a file,
    added by a script) carries no such record: it is offered, as none of them can be told
    from the others by the layer's attributes (a micrograph measured as a mask is told by
    :func:`layer_data_mask`'s note). Read from attributes and metadata alone, never from
    pixels (asked at every layer event, on the GUI thread).

    Parameters
    ----------
    layer : napari.layers.Layer
        Any layer.

    Returns
    -------
    bool
        True for a Labels or Image layer that may be measured as a field.
    """
    meta = layer.metadata or {}
    return (layer._type_string in ("labels", "image") and is_2d_greyscale_layer(layer)
            and meta.get("kind") not in NOT_BOUNDARY_KINDS and SR_FACTOR_KEY not in meta)


def layer_data_mask(data, *, kind: str, metadata: dict | None, name: str,
                    threshold: float | None = None) -> np.ndarray:
    """The rule of :func:`boundary_mask` on a layer's data, type and metadata.

    Used directly by workers, which hold a snapshot of the layer rather than the layer.
    A layer that is not 2-D is refused by its shape before any pixel is read
    (:func:`check_mask_layer_shape`).
    """
    from ..io import as_bool_mask, micrograph_as_mask_note

    check_mask_layer_shape(np.shape(data), name)
    data = np.asarray(data)
    if kind == "labels":
        return data > 0
    if threshold is None and np.issubdtype(data.dtype, np.floating):
        threshold = (metadata or {}).get("threshold", 0.5)
    if threshold is None and (note := micrograph_as_mask_note(data)) is not None:
        import warnings  # a notification in napari, from a worker thread too

        warnings.warn(f"layer {name!r}: {note}", UserWarning, stacklevel=2)
    return as_bool_mask(data, threshold=threshold, name=f"layer {name!r}")


def _shape_vertices(kind: str, verts: np.ndarray) -> np.ndarray:
    if kind in ("line", "path"):
        return verts
    if kind == "ellipse":
        lo, hi = verts.min(0), verts.max(0)
        c, r = (lo + hi) / 2, (hi - lo) / 2
        t = np.linspace(0, 2 * np.pi, 65)
        return np.stack([c[0] + r[0] * np.sin(t), c[1] + r[1] * np.cos(t)], axis=1)
    # rectangle / polygon: closed
    return np.concatenate([verts, verts[:1]], axis=0)


def shapes_to_segments(shapes_layer, target_layer) -> list[np.ndarray]:
    """Test lines drawn in a Shapes layer, in ``target_layer`` data coordinates.

    Each shape becomes a polyline ``(K, 2)`` of (row, col) vertices: lines and paths
    as drawn, rectangles and polygons closed, ellipses sampled at 64 points. Vertices
    go through world coordinates, so differently scaled/translated layers match.
    """
    return [_in_layer_data(shapes_layer, _shape_vertices(kind, np.asarray(verts, float)[:, -2:]),
                           target_layer)
            for kind, verts in zip(shapes_layer.shape_type, shapes_layer.data)]


def _in_layer_data(shapes_layer, vertices: np.ndarray, target_layer) -> np.ndarray:
    """``(K, 2)`` vertices of ``shapes_layer`` in ``target_layer`` data (row, col)
    coordinates, through world coordinates."""
    return np.asarray([np.asarray(target_layer.world_to_data(shapes_layer.data_to_world(p)),
                                  dtype=float)[-2:] for p in vertices]).reshape(-1, 2)


@dataclass(frozen=True)
class DrawnShapes:
    """Shapes drawn in a Shapes layer, in another layer's data (row, col) coordinates:
    what :func:`rasterise_shapes` needs of the live layers, read on the GUI thread
    (:func:`drawn_shapes`, a few vertices), to rasterise in a worker (:meth:`mask`)."""

    kinds: tuple[str, ...]
    vertices: tuple[np.ndarray, ...]

    def mask(self, shape: tuple[int, int]) -> np.ndarray:
        """Bool ``shape`` mask of the shapes (napari's ``Shapes.to_labels`` rule: lines
        and paths one pixel wide). Call it in a worker: each shape is drawn over the
        whole mask (two shapes: 0.4 s at 2048 x 2048 px, 6 s at 8192 x 8192 measured;
        on the GUI thread that froze the window)."""
        from napari.layers import Shapes

        moved = Shapes(list(self.vertices), shape_type=list(self.kinds), ndim=2)
        return np.asarray(moved.to_labels(labels_shape=tuple(shape))) > 0


def drawn_shapes(shapes_layer, target_layer) -> DrawnShapes:
    """The shapes of ``shapes_layer`` over the pixels of ``target_layer``
    (:class:`DrawnShapes`; through world coordinates, as :func:`shapes_to_segments`)."""
    return DrawnShapes(
        kinds=tuple(shapes_layer.shape_type),
        vertices=tuple(_in_layer_data(shapes_layer, np.asarray(verts, float)[:, -2:],
                                      target_layer) for verts in shapes_layer.data))


def rasterise_shapes(shapes_layer, target_layer, shape: tuple[int, int]) -> np.ndarray:
    """Bool ``shape`` mask of the shapes drawn in ``shapes_layer`` (rectangles, ellipses,
    polygons; lines and paths one pixel wide) over the pixels of ``target_layer``.

    The vertices go through world coordinates (as :func:`shapes_to_segments`), so
    shapes drawn over a layer with a scale (a calibrated field, µm) or a translate cover
    the pixels they are drawn over, not those at the same numbers in its data. Widgets
    take :func:`drawn_shapes` on the GUI thread and rasterise them in their worker.
    """
    return drawn_shapes(shapes_layer, target_layer).mask(shape)


@dataclass
class HeynMeasurement:
    """A Heyn measurement with its statistics and the layers it added."""

    result: Any
    stats: dict
    points_layer: Any = None
    lines_layer: Any = None
    source: dict = field(default_factory=dict)

    def table_rows(self) -> list[tuple[int, float, float]]:
        """``(line index, length px, intersections P)`` per test line: the count
        ``ℓ̄ = ΣL / ΣP`` is made of (``per_line_intersections``: a drawn line's end on a
        boundary counts 1/2, :func:`napari_srmat.metrics.heyn.scores_line_ends`)."""
        lengths = np.asarray(self.result.per_line_length_px, dtype=float)
        counts = np.asarray(self.result.per_line_intersections, dtype=float)
        return [(i, float(lengths[i]), float(counts[i])) for i in range(len(lengths))]

    def line_lengths_um(self) -> list[float] | None:
        """Each test line's length in µm, in :meth:`table_rows`' order: its length in
        pixels times the pixel size the measurement used (``HeynResult.pixel_size_um``,
        the statistics' ``pixel_size_um``, by which ℓ̄ is in µm); None without one.

        Returns
        -------
        list of float or None
            One length (µm) per line of :meth:`table_rows`; None where the measurement
            has no pixel size.

        Examples
        --------
        >>> from types import SimpleNamespace
        >>> res = SimpleNamespace(per_line_length_px=[10.0, 4.0],
        ...                       per_line_intersections=[2, 1], pixel_size_um=0.5)
        >>> HeynMeasurement(res, {}).line_lengths_um()
        [5.0, 2.0]
        """
        px = self.result.pixel_size_um
        if px is None:
            return None
        return [length * float(px) for _, length, _ in self.table_rows()]

    def to_dict(self) -> dict:
        d = dict(self.stats)
        d["source"] = dict(self.source)
        um = self.line_lengths_um() or [None] * len(self.table_rows())
        d["per_line"] = [
            {"line": i, "length_px": length, "length_um": length_um, "count": count}
            for (i, length, count), length_um in zip(self.table_rows(), um)
        ]
        return d


def heyn_statistics(result) -> dict:
    """Summary numbers of a ``HeynResult`` as shown in the widget and exported.

    All numbers come from :func:`napari_srmat.metrics.heyn.measure_intercepts`: the
    pooled mean lineal intercept ``ℓ̄ = ΣL / ΣP`` (``intersection_count`` P: the
    ``n_intersections`` boundary crossings, a drawn line's end on a boundary counting
    1/2), the ASTM E112 grain size number, the
    half-width of the 95 % confidence interval of ℓ̄ (``ci95_half_width_px`` /
    ``ci95_half_width_um``: :attr:`~napari_srmat.metrics.heyn.HeynResult.ci95_half_width_px`,
    ``ℓ̄ · max(r, c)`` with ``r`` the Student-t relative half-width of the per-line
    intersection densities and ``c`` their counts' resolution, the floor of
    :func:`napari_srmat.metrics.standards.floored_relative_half`; so never 0 where the
    lines' counts agree) and the relative accuracy ``%RA`` (E112 section 15: ``100 r``,
    the scatter's, not floored). The ``[low, high]`` pair
    ``mean_intercept_ci95_px`` (and ``mean_intercept_ci95_um``, NaN without a pixel
    size; ``ci95_px`` / ``ci95_um`` until 2026-12-05:
    :data:`napari_srmat.metrics.standards.RENAMED_HEYN_STATISTICS_KEYS`) is the interval,
    under the same name, that ``srmat heyn`` and ``srmat grain-size --mask`` give the
    same mask (:func:`napari_srmat.grainsize.grain_size_from_heyn`), with its warnings (few
    intersections, an interval withheld): asymmetric with few intersections (until
    2026-12-05 ``ℓ̄ ± half-width``, whose low end went below zero once %RA exceeded
    100). ``ci95_*`` is always a pair, ``ci95_half_width_*`` always a half-width, NaN
    (null / empty in the exports) where that row withholds the interval (since
    2026-12-07: a half-width of 117.8 px beside ℓ̄ 27.8 px read as the interval the note
    said did not exist): the row's
    :attr:`~napari_srmat.grainsize.GrainSizeResult.ci95_half_width_px`, the one rule
    :func:`~napari_srmat.grainsize.interval_half_width` of every Heyn output.
    ``astm_g_ci95`` is G's 95 % interval ``[low, high]`` of that row (G of ℓ̄'s µm
    interval's ends; None without a pixel size or an interval of ℓ̄), which the *Boundary
    mask* tab shows beside G and its report prints.
    ``interval_note`` is that row's too: None, or why an interval is None where its
    figure is given (one test line: "no 95% interval: fewer than two test lines
    measured", also in ``warnings``), by the one rule of every row,
    :func:`napari_srmat.grainsize.interval_note` (since 2026-12-07).
    ``scoring`` names how P was scored (``"crossings"``, or ``"e112"`` with
    ``triple_points``: :func:`napari_srmat.metrics.heyn.scoring_name`), as ``srmat heyn``'s
    JSON does, so an export says which scoring made its numbers; ``mask_scale`` the
    mask scale given (None: read off the mask) and ``block_scale`` the block grid the
    zig-zag bridge used (1: the 2 px bridge), as ``srmat heyn``'s rows record them.
    """
    from ..grainsize import grain_size_from_heyn
    from ..metrics.heyn import scoring_name

    # None (no valid measurement: see result.warnings) is shown as empty, never as a number
    mean = math.nan if result.mean_intercept_px is None else float(result.mean_intercept_px)
    px = result.pixel_size_um
    # the interval and warnings of `srmat heyn`'s row for the same mask (one rule)
    shared = grain_size_from_heyn(result, pixel_size_um=px)
    # no half-width where that rule withholds the interval (ℓ̄ ± half-width would be it):
    # the row's own, grainsize.interval_half_width, the one rule of every Heyn output
    half = math.nan if shared.ci95_half_width_px is None else shared.ci95_half_width_px
    d: dict[str, Any] = {
        "n_lines": int(result.n_lines),
        "n_intersections": int(result.n_intersections),  # the crossings, as srmat heyn
        # n_crossings and intersection_count (P, the count ℓ̄ = ΣL / P is made of: a drawn
        # line's end on a boundary 1/2), ...: the keys of every output (HeynResult.counts)
        **result.counts(),
        "scoring": scoring_name(result.triple_points),
        # the mask scale given (None: read off the mask) and the block scale of the
        # zig-zag bridge used, as srmat heyn's rows record them
        "mask_scale": None if result.mask_scale is None else int(result.mask_scale),
        "block_scale": int(result.block_scale),
        "total_length_px": float(result.total_length_px),
        "mean_intercept_px": mean,
        "mean_intercept_um": (None if result.mean_intercept_um is None
                              else float(result.mean_intercept_um)),
        "astm_g": None if result.astm_g is None else float(result.astm_g),
        "ci95_half_width_px": half,
        "ci95_half_width_um": half * px if px else math.nan,
        "mean_intercept_ci95_px": (math.nan, math.nan),
        "relative_accuracy_pct": float(result.relative_accuracy_pct),
        "pixel_size_um": None if px is None else float(px),
    }
    d["warnings"] = list(shared.warnings)
    d["mean_intercept_ci95_um"] = (math.nan, math.nan)
    if shared.mean_intercept_ci95_px is not None:
        d["mean_intercept_ci95_px"] = tuple(float(v) for v in shared.mean_intercept_ci95_px)
    if shared.mean_intercept_ci95_um is not None:
        d["mean_intercept_ci95_um"] = tuple(float(v) for v in shared.mean_intercept_ci95_um)
    d["astm_g_ci95"] = (None if shared.astm_g_ci95 is None
                        else tuple(float(v) for v in shared.astm_g_ci95))
    d["interval_note"] = shared.interval_note  # grainsize.interval_note, as every row
    return d


#: Test-line patterns of the widgets: the library's names (``measure_intercepts``).
WIDGET_PATTERNS = ("random", "grid", "circles", "segments")

#: The line settings each pattern uses: the form enables only these, and an export's
#: ``source`` records the others null (circles: the fixed E112 set; segments: the lines
#: drawn in the Shapes layer it names, ``shapes_layer``).
PATTERN_SETTINGS = {"random": ("n_lines", "seed"), "grid": ("n_lines",), "circles": (),
                    "segments": ()}


def measured_source(opts: dict) -> dict:
    """The ``source`` of a measurement made with the form's ``opts``
    (:meth:`~napari_srmat.widgets.heyn_widget.GrainSizeWidget.options`,
    :func:`add_heyn_measurement`): the settings its pattern does not use
    (:data:`PATTERN_SETTINGS`) null, not recorded as if they had made the lines.

    Examples
    --------
    >>> measured_source({"pattern": "segments", "n_lines": 50, "seed": 1,
    ...                  "shapes_layer": "lines"})
    {'pattern': 'segments', 'n_lines': None, 'seed': None, 'shapes_layer': 'lines'}
    """
    used = PATTERN_SETTINGS.get(opts["pattern"], ("n_lines", "seed"))
    return {**opts, **{k: None for k in ("n_lines", "seed") if k not in used}}


def _pattern_name(pattern: str) -> str:
    """The library's pattern name (``"shapes"``, the widgets' old name, is ``"segments"``)."""
    pattern = "segments" if pattern == "shapes" else pattern
    if pattern not in WIDGET_PATTERNS:
        raise WidgetInputError(f"unknown pattern {pattern!r}; use "
                               + ", ".join(repr(p) for p in WIDGET_PATTERNS))
    return pattern


def measure_heyn(mask: np.ndarray, *, pattern: str = "random", n_lines: int = HEYN_N_LINES,
                 seed: int = HEYN_SEED, skeletonize: bool = MEASURED_SKELETONIZE,
                 pixel_size_um: float | None = None, segments=None,
                 margin: float = HEYN_MARGIN, triple_points: bool = False,
                 mask_scale: int | None = None):
    """Call :func:`napari_srmat.metrics.heyn.measure_intercepts` with the widget's options.

    ``skeletonize`` defaults to the mask tab's (and :func:`add_heyn_measurement`'s),
    :data:`~napari_srmat.grainsize.MEASURED_SKELETONIZE`: the mask thinned to 1 px lines
    before counting. ``pattern="segments"`` measures on the given ``segments`` (lines
    drawn in a Shapes layer); ``"shapes"`` is accepted as its old name.
    ``triple_points=True`` scores P by ASTM E112 (the mask tab's E112 checkbox,
    ``srmat heyn --scoring e112``). ``mask_scale``: the mask was drawn at 1 / s and
    upscaled ×s (an integer 1 to :data:`~napari_srmat.metrics.heyn.BLOCK_SCALE_MAX`;
    None, the default: read off the mask where it is an exact nearest upscale), as
    ``measure_intercepts(mask_scale=)`` and ``srmat heyn --mask-scale`` (docs/heyn.md,
    "Upscaled masks"); another value raises ``HeynError`` before any work.
    """
    from ..metrics.heyn import check_mask_scale, measure_intercepts

    mask_scale = check_mask_scale(mask_scale)
    pattern = _pattern_name(pattern)
    if pattern == "segments" and not segments:
        raise WidgetInputError("pattern 'segments' needs a Shapes layer with at least one "
                               "drawn line")
    return measure_intercepts(mask, pattern=pattern, n_lines=n_lines, seed=seed,
                              segments=segments if pattern == "segments" else None,
                              margin=margin, skeletonize=skeletonize,
                              pixel_size_um=pixel_size_um, triple_points=triple_points,
                              mask_scale=mask_scale)


def result_lines(result) -> list[np.ndarray]:
    """The test lines of a ``HeynResult`` as float ``(K, 2)`` arrays (row, col)."""
    return [np.asarray(seg, dtype=float) for seg in result.paths]


def heyn_job(mask: np.ndarray, *, stop: StopToken | None = None,
             **options) -> Generator[Event, Any, Any]:
    """Job wrapper of :func:`measure_heyn` (one unit of work) for the GUI worker.

    Returns None without measuring when ``stop`` was requested before the count.
    """
    if stop is not None and stop.stop_requested:
        return None
    yield Progress(done=0, total=1, stage="intercepts")
    result = measure_heyn(mask, **options)
    yield Progress(done=1, total=1, stage="intercepts")
    return result


def prepare_heyn(boundary_layer, *, pattern: str = "random", threshold: float | None = None,
                 shapes_layer=None, pixel_size_um: float | None = None,
                 compute_mask: bool = True):
    """Mask, test segments (data coordinates) and pixel size for a Heyn measurement.

    With ``compute_mask=False`` the layer is only checked (2-D) and ``mask`` is None:
    the caller thresholds it in a worker (:func:`boundary_mask`).

    Returns
    -------
    mask, segments, pixel_size_um
    """
    pattern = _pattern_name(pattern)
    if compute_mask:
        mask = boundary_mask(boundary_layer, threshold)
    else:
        mask = None
        check_mask_layer_shape(np.shape(layer_image_data(boundary_layer)), boundary_layer.name)
    segments = None
    if pattern == "segments":
        if shapes_layer is None or len(shapes_layer.data) == 0:
            raise WidgetInputError(
                "pattern 'segments' needs a Shapes layer with at least one drawn line"
            )
        segments = shapes_to_segments(shapes_layer, boundary_layer)
    px = pixel_size_um if pixel_size_um else layer_pixel_size_um(boundary_layer)
    return mask, segments, px


class HeynOverlayData(NamedTuple):
    """The arrays of a Heyn measurement's overlays, made in the job's worker
    (:func:`heyn_overlay_data`): the GUI thread only hands them to napari
    (:func:`show_heyn_measurement`)."""

    #: the intersections, float ``(N, 2)`` (row, col)
    points: np.ndarray
    #: the test lines: a Vectors layer's data, float ``(K, 2, 2)`` (start, direction),
    #: when every line is straight; else the paths, float ``(K_i, 2)`` each
    lines: Any
    #: "vectors" or "shapes": the layer :func:`show_test_lines` makes of ``lines``
    kind: str


def lines_layer_data(lines) -> tuple[Any, str]:
    """The data of :func:`show_test_lines`'s layer and its kind: straight lines (two
    points each) as one Vectors array ``(K, 2, 2)`` of start and direction, else the
    paths as float arrays (a Shapes layer). Numpy work: call it in a worker.

    Parameters
    ----------
    lines : sequence of array-like
        The test lines, ``(K_i, 2)`` points (row, col) each.

    Returns
    -------
    data, kind : ndarray or list of ndarray, str
        ``kind`` is ``"vectors"`` or ``"shapes"``; an empty list of lines gives
        ``([], "shapes")``.

    Examples
    --------
    >>> data, kind = lines_layer_data([[(0, 0), (0, 4)]])
    >>> kind, data.tolist()
    ('vectors', [[[0.0, 0.0], [0.0, 4.0]]])
    """
    lines = [np.asarray(seg, float) for seg in (lines or [])]
    if lines and all(len(seg) == 2 for seg in lines):
        return np.stack([np.stack([seg[0], seg[1] - seg[0]]) for seg in lines]), "vectors"
    return lines, "shapes"


def heyn_overlay_data(result, segments=None) -> HeynOverlayData:
    """The overlays' arrays of a ``HeynResult`` (its intersections, and ``segments`` or
    its test lines: :func:`result_lines`), for :func:`show_heyn_measurement`. Call it in
    the job's worker: building 200 lines' vectors takes ~15 ms."""
    pts = np.asarray(result.intersections, dtype=float).reshape(-1, 2)
    lines, kind = lines_layer_data(segments if segments is not None else result_lines(result))
    return HeynOverlayData(pts, lines, kind)


def show_test_lines(viewer, name: str, lines, *, width: float = 1.0,
                    prepared: tuple[Any, str] | None = None, **geo):
    """Show test lines; straight ones as one Vectors layer (fast for hundreds of lines).

    Straight lines (two points each: random lines, the grid, drawn segments) become a
    Vectors layer, paths (circles, drawn polylines) a Shapes layer, each updated in place
    on the next measurement (:func:`upsert_layer`). ``prepared``: :func:`lines_layer_data`
    of ``lines`` made in a worker (``lines`` is then not read). Returns the layer, or None
    when there are no lines.
    """
    data, kind = prepared if prepared is not None else lines_layer_data(lines)
    if len(data) == 0:
        if (own := _own_layer(viewer, name)) is not None:
            viewer.layers.remove(own)
        return None
    if kind == "vectors":
        return upsert_layer(viewer, name, "vectors", data, edge_color="cyan",
                             edge_width=width, vector_style="line", length=1.0, opacity=0.7,
                             **geo)
    # paths in place too (until 2026-12-07 the Shapes layer was removed and added again on
    # every result: ~0.8 s of GUI freeze, napari's removal runs gc.collect); the
    # (shape, type) pairs carry each shape's type, the new shapes' colour and width are set
    kinds = ["line" if len(seg) == 2 else "path" for seg in data]
    layer = upsert_layer(viewer, name, "shapes", list(zip(data, kinds)), edge_color="cyan",
                         edge_width=width, opacity=0.7, **geo)
    layer.edge_width = [width] * layer.nshapes
    layer.edge_color = "cyan"
    return layer


#: What a tab other than *Boundary mask* adds to the name of its crossings layer
#: (:func:`intersections_layer_name`), keyed by the tab.
INTERSECTIONS_OF = {"specimen": " (specimen)"}


def intersections_layer_name(layer_name: str, tab: str | None = None) -> str:
    """Name of the Points layer of the test lines' crossings on boundary layer ``layer_name``.

    Every tab calls them *intersections* (the P of ℓ̄ = ΣL / ΣP; an intercept is the
    segment between two of them). The *Boundary mask* and *Simple* tabs (``tab`` None)
    show theirs beside their test lines; another tab (``"specimen"``) adds its own words
    (:data:`INTERSECTIONS_OF`), so that its crossings never replace those of a test-line
    layer they do not lie on.

    Parameters
    ----------
    layer_name : str
        Name of the boundary layer the test lines were laid on.
    tab : str or None
        None for the *Boundary mask* and *Simple* tabs, else a key of
        :data:`INTERSECTIONS_OF` (``"specimen"``).

    Returns
    -------
    str
        The Points layer's name, e.g. ``"gb intersections"``.

    Examples
    --------
    >>> intersections_layer_name("gb"), intersections_layer_name("gb", "specimen")
    ('gb intersections', 'gb intersections (specimen)')
    """
    return f"{layer_name} intersections" + ("" if tab is None else INTERSECTIONS_OF[tab])


def show_heyn_measurement(viewer, boundary_layer, result, *, segments=None,
                          source: dict | None = None,
                          stats: dict | None = None,
                          overlays: HeynOverlayData | None = None) -> HeynMeasurement:
    """Wrap a ``HeynResult`` with statistics and add intersections + test lines layers.

    ``stats`` are the result's :func:`heyn_statistics` when a worker made them (they
    measure the intervals: not on the GUI thread); None makes them here. ``overlays``
    likewise: the layers' arrays (:func:`heyn_overlay_data` of ``result`` and
    ``segments``) made in the worker, handed to napari as they are. A
    ``boundary_layer`` no longer in the viewer (removed while it was measured) gets no
    overlays: they would be drawn over nothing, under its name.
    """
    if stats is None:
        stats = heyn_statistics(result)
    meas = HeynMeasurement(result=result, stats=stats,
                           source=dict(source or {}, layer=boundary_layer.name))
    if boundary_layer not in viewer.layers:
        return meas
    # the layer's geometry and units; source_layer: calibrating it rescales the overlays
    geo = dict(overlay_geometry(boundary_layer), metadata=source_metadata(boundary_layer))
    shape = layer_image_data(boundary_layer).shape
    if overlays is None:
        overlays = heyn_overlay_data(result, segments)
    meas.points_layer = upsert_layer(
        viewer, intersections_layer_name(boundary_layer.name), "points", overlays.points,
        face_color="yellow", border_color="black", size=max(3.0, 0.008 * max(shape)), **geo,
    )
    meas.lines_layer = show_test_lines(viewer, f"{boundary_layer.name} test lines", None,
                                       width=max(1.0, 0.002 * max(shape)),
                                       prepared=(overlays.lines, overlays.kind), **geo)
    keep_all_on_layer(viewer, (meas.points_layer, meas.lines_layer), boundary_layer)
    return meas


def show_grain_size_overlays(viewer, image_layer, result, *, boundaries,
                             stats: dict | None = None,
                             overlays: HeynOverlayData | None = None
                             ) -> HeynMeasurement | None:
    """Show what :func:`napari_srmat.grainsize.measure_grain_size` measured on an image
    layer: the boundaries (a Labels layer at the inference scale, placed over the image
    by :func:`sr_world_transform`) and, on them, the intersections (Points) and test
    lines.

    Parameters
    ----------
    viewer : napari.Viewer
    image_layer : napari layer
        The micrograph measured.
    result : GrainSizeResult
        Its ``pixel_size_um``, typed for a micrograph that records none, is the
        boundaries layer's source size (:data:`MEASURED_AT_KEY`, written only then):
        that layer measured in the Boundary mask tab is in µm as the result is.
    boundaries : ndarray or None
        The map to show: the 1 px lines the test lines counted
        (:func:`~napari_srmat.widgets.heyn_widget.counted_boundaries`, made in the
        worker). Required: until 2026-12-06 None fell back to the unthinned map, which
        no caller used.
    stats : dict, optional
        :func:`heyn_statistics` of ``result.heyn`` when a worker made them (the Simple
        tab's job: not on the GUI thread); None makes them here
        (:func:`show_heyn_measurement`).
    overlays : HeynOverlayData, optional
        :func:`heyn_overlay_data` of ``result.heyn`` made in the worker; None makes
        them here.

    Returns
    -------
    HeynMeasurement or None
        The measurement of :func:`show_heyn_measurement`; None when there is no map (a
        mask, or a figure withheld before the model ran).
    """
    if boundaries is None or result.heyn is None:
        return None
    factor = float(result.inference_scale or 1.0)
    geo = overlay_geometry(image_layer, factor)
    # measured at a size typed for a micrograph without one: the layer's is that / factor
    # (a stand-in result without the attribute: none typed); a calibrated micrograph's
    # is its own, read again when its calibration changes (taken off: none)
    made: dict[str, Any] = dict(source_metadata(image_layer))
    if layer_store_pixel_size(image_layer) is None:
        made[MEASURED_AT_KEY] = getattr(result, "pixel_size_um", None)
    layer = upsert_layer(
        viewer, f"{image_layer.name} boundaries (grain size)", "labels",
        np.asarray(boundaries, dtype=np.uint8), opacity=0.7,
        metadata=derived_records(made, image_layer, factor, geo["scale"], geo["translate"]),
        **geo)
    keep_on_layer(viewer, layer, image_layer, factor)
    return show_heyn_measurement(viewer, layer, result.heyn,
                                 source={"inference_scale": result.inference_scale},
                                 stats=stats, overlays=overlays)


def add_heyn_measurement(viewer, boundary_layer, *, pattern: str = "random",
                         n_lines: int = HEYN_N_LINES, seed: int = HEYN_SEED,
                         skeletonize: bool = MEASURED_SKELETONIZE,
                         pixel_size_um: float | None = None, threshold: float | None = None,
                         shapes_layer=None, margin: float = HEYN_MARGIN,
                         scoring: str = CROSSINGS_SCORING,
                         mask_scale: int | None = None) -> HeynMeasurement:
    """Measure Heyn lineal intercepts on a boundary layer and show the result.

    Parameters
    ----------
    viewer : napari.Viewer
    boundary_layer : Labels or Image layer
        Binary boundaries or a probability map (see :func:`boundary_mask`).
    pattern : {"random", "grid", "circles", "segments"}
        Test-line pattern; ``"segments"`` uses the lines drawn in ``shapes_layer``
        (``"shapes"`` is accepted as its old name).
    n_lines, seed, margin
        Passed to ``measure_intercepts``.
    skeletonize : bool
        Thin the boundaries to 1 px lines before counting. Default
        :data:`~napari_srmat.grainsize.MEASURED_SKELETONIZE`, as the mask tab's
        *skeletonize mask first* box starts and ``srmat grain-size --mask`` measures,
        a model's map and a drawn mask alike (until 2026-12-07 False, ``srmat heyn``'s
        default: thick boundaries read ℓ̄ long). False counts the boundaries as drawn.
    pixel_size_um : float, optional
        Default: from the layer (:func:`layer_pixel_size_um`).
    threshold : float, optional
        For probability maps.
    shapes_layer : napari.layers.Shapes, optional
        User-drawn test lines (converted to the boundary layer's data coordinates).
    scoring : {"crossings", "e112"}
        How the intersections P are scored, as ``srmat heyn --scoring`` and the widget's
        *score by E112* checkbox (:func:`~napari_srmat.metrics.heyn.scoring_triple_points`):
        ``"crossings"`` (default) counts every boundary crossed 1; ``"e112"`` scores by
        ASTM E112 (1 1/2 at a triple point, 1/2 where a line's end touches a boundary).
        The statistics' and the source's ``"scoring"`` say which; the intersections
        (Points) layer shows the crossings either way. Another name raises ValueError.
    mask_scale : int, optional
        The boundary mask was drawn at 1 / s and upscaled ×s (s an integer 1 to
        :data:`~napari_srmat.metrics.heyn.BLOCK_SCALE_MAX`, e.g. 4 for a mask of an LR
        scan upscaled onto a ×4 SR layer): the zig-zag bridge runs on s × s blocks, as
        ``srmat heyn --mask-scale`` (docs/heyn.md, "Upscaled masks"); 1 forces the 2 px
        bridge on the pixels. None (default): read off the mask where it is an exact
        nearest upscale. The result's ``block_scale`` is the s used; the source's
        ``"mask_scale"`` the one given. Another value raises ``HeynError`` (a
        ValueError) before the layer is read.

    Returns
    -------
    HeynMeasurement
        With the intersections (Points) and test lines (Shapes) layers it added. Its
        ``source`` is the widget's (:func:`measured_source`): the settings the pattern
        does not use null (circles: ``n_lines`` and ``seed``), drawn lines' Shapes layer
        named (``shapes_layer``).
    """
    from ..metrics.heyn import check_mask_scale

    triple_points = scoring_triple_points(scoring)
    mask_scale = check_mask_scale(mask_scale)
    mask, segments, px = prepare_heyn(boundary_layer, pattern=pattern, threshold=threshold,
                                      shapes_layer=shapes_layer, pixel_size_um=pixel_size_um)
    result = measure_heyn(mask, pattern=pattern, n_lines=n_lines, seed=seed,
                          skeletonize=skeletonize, pixel_size_um=px, segments=segments,
                          margin=margin, triple_points=triple_points, mask_scale=mask_scale)
    pattern = _pattern_name(pattern)
    # the settings its pattern does not use null, the form's rule (circles: no n_lines)
    source = measured_source({
        "pattern": pattern, "n_lines": n_lines, "seed": seed, "skeletonize": skeletonize,
        "scoring": scoring, "threshold": threshold, "margin": margin,
        "mask_scale": mask_scale,
        "shapes_layer": shapes_layer.name if pattern == "segments" else None})
    return show_heyn_measurement(viewer, boundary_layer, result, segments=segments,
                                 source=source)
