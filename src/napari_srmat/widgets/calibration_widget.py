"""Pixel-size calibration: one place to see and set a layer's µm per pixel.

The pixel size of an image layer is read from its file (the plugin's reader puts it
into the layer ``scale`` with micrometre ``units``) or is unknown. Here the
metallurgist sees it, types it, or calibrates it by drawing a line over a known length
(a stage micrometer's divisions or the micrograph's scale bar). Applying it sets the
layer's ``scale`` and ``units`` — what the layer shows and every widget reads
(:func:`~napari_srmat.widgets._common.layer_pixel_size_um`; a scale set by hand too) —
and ``metadata["pixel_size_um"]``, its record, rescales the layers
derived from it (boundary maps, SR outputs, measurement overlays, which record the
layer they were made from: :func:`~napari_srmat.widgets.layers.source_metadata`, kept
through renames) so that they stay aligned, and turns napari's scale bar on in µm.
"""

from __future__ import annotations

import math

from qtpy.QtWidgets import QCheckBox, QFormLayout, QLabel, QLineEdit, QPushButton, QWidget

from .._napari_io import layer_pixel_sizes
from ..io import LENGTH_UNIT, PixelSizeError, check_pixel_size, pixel_size_from_path
from ._common import LayerCombo, WidgetInputError, pixel_size_hint
from ._layout import hbox_row
from ._qt import RunNeedsLayersMixin, typed_number, typed_pixel_size
from ._worker import user_action
from .layers import is_derived_from, kept_on, place_with_records

__all__ = ["CalibrationWidget", "set_layer_pixel_size", "derived_layers", "UM_UNIT"]

#: Unit string given to calibrated layers and the scale bar.
UM_UNIT = "micrometer"

#: What Apply and From line need (their tooltip while there is none).
NEEDS_LAYER_TO_CALIBRATE = "an image or labels layer (to calibrate)"


def derived_layers(viewer, layer) -> list:
    """Layers made from ``layer`` (:func:`~napari_srmat.widgets.layers.is_derived_from`
    chains: its boundary maps, their overlays...), not ``layer``."""
    out, frontier = [], [layer]
    while frontier:
        nxt = []
        for lay in viewer.layers:
            if lay is not layer and lay not in out and any(is_derived_from(lay, src)
                                                           for src in frontier):
                out.append(lay)
                nxt.append(lay)
        frontier = nxt
    return out


def _stretched(values, ratios) -> tuple:
    """``values`` (a layer's scale or translate) with its last two (Y, X) entries times
    ``ratios``."""
    return tuple(values[:-2]) + tuple(v * r for v, r in zip(values[-2:], ratios))


def set_layer_pixel_size(viewer, layer, pixel_size_um: float, *, derived: bool = True,
                         scale_bar: bool = True) -> list:
    """Set ``layer``'s pixel size (µm/px) everywhere the plugin reads it.

    Parameters
    ----------
    viewer : napari.Viewer
    layer : napari layer
        An image or labels layer.
    pixel_size_um : float
        Micrometres per pixel (checked).
    derived : bool
        Rescale the layers derived from it by the same factor (scale and translate), so
        overlays stay on the image; their recorded ``pixel_size_um`` follows. The
        ``metadata["unitless_grid"]`` of the layer and of these (their place on a grid
        without a pixel size) is dropped: they are in µm now.
    scale_bar : bool
        Show napari's scale bar in µm.

    A layer kept on the layer it was made from (an SR result, a boundary map:
    :func:`~napari_srmat.widgets.layers.keep_on_layer`) has that layer's place at its
    factor: calibrating it calibrates that layer at ``pixel_size_um`` times the factor
    (an x4 SR layer at 0.1 µm/px: its LR at 0.4), which it follows.

    Its records, and those of each layer derived from it that holds any, are written
    once (one ``metadata`` event), as they end, before its ``scale`` / ``translate`` /
    ``units`` are set (:func:`~napari_srmat.widgets.layers.place_with_records`): every
    listener of those reads where it ends.

    Returns
    -------
    list
        The layers changed (``layer`` first; its source first for a kept layer).
    """
    try:
        px = check_pixel_size(pixel_size_um, name="pixel size")
    except PixelSizeError as exc:
        raise WidgetInputError(str(exc)) from None
    if px is None:
        raise WidgetInputError(f"give a pixel size in {LENGTH_UNIT} per pixel")
    kept = kept_on(viewer, layer)
    if kept is not None:  # its place is its source's: set there, it follows
        source, factor = kept
        changed = set_layer_pixel_size(viewer, source, px * factor, derived=derived,
                                       scale_bar=scale_bar)
        if not any(c is layer for c in changed):  # its records: by its keeper
            changed.append(layer)
        return changed
    # per axis (Y, X): a layer of non-square pixels (0.4 x 0.8) made square stretches its
    # rows and its columns by different factors, and its derived layers with them
    ratios = tuple(px / float(s) for s in layer.scale[-2:])
    others = derived_layers(viewer, layer) if derived else []
    # their places from where they are before ``layer`` moves: a listener of its move
    # that moved one already (the Audit widget's SR layer over its LR) is not stretched
    # twice (placing it there again changes nothing); a kept layer is placed, and its
    # pixel size recorded, by its keeper
    places = [(lay, _stretched(lay.scale, ratios), _stretched(lay.translate, ratios))
              for lay in others if kept_on(viewer, lay) is None]
    # its records written once, as they end (no unitless_grid: a grid in µm now)
    place_with_records(layer, tuple(layer.scale[:-2]) + (px, px),
                       _stretched(layer.translate, ratios), (UM_UNIT,) * layer.ndim,
                       record=True)
    for lay, scale, translate in places:
        place_with_records(lay, scale, translate, (UM_UNIT,) * lay.ndim)
    changed = [layer, *others]
    if scale_bar:
        viewer.canvas.overlays.scale_bar.visible = True  # unit: from the layers' units
    return changed


class CalibrationWidget(RunNeedsLayersMixin, QWidget):
    """See, type or calibrate the pixel size of an image layer (µm per pixel).

    *Type it*: enter µm/px and press *Apply*. *Calibrate*: draw a line (Shapes layer,
    line tool; or a path, measured along its vertices) over a known length, enter that
    length in µm and press *From line*; the pixel size is computed (shown) and applied.
    ``apply(px)`` and ``calibrate_from_line()`` do the same from a script.
    """

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.layer_combo = LayerCombo(self.viewer, ("image", "labels"))
        self.current = QLabel("–")
        self.current.setWordWrap(True)
        self.pixel_size = QLineEdit()
        self.pixel_size.setPlaceholderText(f"{LENGTH_UNIT} per pixel")
        self.apply_btn = QPushButton("Apply")
        self.shapes_combo = LayerCombo(self.viewer, ("shapes",), allow_none=True)
        self.known_length = QLineEdit()
        self.known_length.setPlaceholderText(f"length of the drawn line in {LENGTH_UNIT}")
        self.line_btn = QPushButton("From line")
        self.derived = QCheckBox("also rescale layers made from it (keeps overlays aligned)")
        self.derived.setChecked(True)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Layer", self.layer_combo.native)
        form.addRow("Current", self.current)
        form.addRow(f"Pixel size ({LENGTH_UNIT}/px)", hbox_row(self.pixel_size, self.apply_btn))
        form.addRow(QLabel("Or draw a line over a scale bar or stage micrometer:"))
        form.addRow("Line (Shapes layer)", self.shapes_combo.native)
        form.addRow(f"Known length ({LENGTH_UNIT})", hbox_row(self.known_length, self.line_btn))
        form.addRow("", self.derived)
        form.addRow("", self.status)
        self.apply_btn.clicked.connect(
            user_action(lambda: self.apply(self._typed()), self.status))
        self.line_btn.clicked.connect(user_action(self.calibrate_from_line, self.status))
        # From line's Shapes layer is told on the click (one there may hold no line)
        self._need_layers((self.apply_btn, self.line_btn),
                          ((self.layer_combo, NEEDS_LAYER_TO_CALIBRATE),))
        self.layer_combo.watch(self.show_current)
        self.show_current()

    def show_current(self, *_) -> None:
        """Show the selected layer's pixel size (or say it is unknown)."""
        layer = self.layer_combo.value
        if layer is None:
            self.current.setText("no image layer")
            return
        sizes = layer_pixel_sizes(layer)  # the layer read once (a calibration event)
        px = sizes.size_um
        hint = pixel_size_hint(layer, sizes)
        self.current.setText(f"{px:g} {LENGTH_UNIT}/px" if px else
                             f"unknown: grain sizes are reported in px only (no {LENGTH_UNIT}, "
                             "no G)"
                             + (f"; {hint}" if hint else ""))

    def _typed(self) -> float | None:
        return typed_pixel_size(self.pixel_size.text())

    def _typed_known_length(self) -> float | None:
        """The known length typed (µm; None when empty: ``pixel_size_from_path`` asks for
        it), read by the number rule of the pixel-size fields (``typed_number``: one
        decimal comma is a point, "0,5" is 0.5; "1,000" refused as ambiguous; a length
        unit converted, "50 nm" is 0.05) and told in its words, and any finite positive
        length: not a pixel size's limits (until 2026-12-07 a 20 cm ruler, "200000", was
        refused as one)."""
        value = typed_number(self.known_length.text(), "known length")
        if value is not None and not (math.isfinite(value) and value > 0):
            raise WidgetInputError(
                f"known length {self.known_length.text().strip()!r} is not a positive "
                f"length: type the length the line covers, such as 50 or 50 {LENGTH_UNIT}")
        return value

    def _layer(self):
        layer = self.layer_combo.value
        if layer is None:
            raise WidgetInputError(f"select {NEEDS_LAYER_TO_CALIBRATE}")
        return layer

    def apply(self, pixel_size_um: float) -> list:
        """Set the selected layer's pixel size; return the layers changed."""
        layer = self._layer()
        changed = set_layer_pixel_size(self.viewer, layer, pixel_size_um,
                                       derived=self.derived.isChecked())
        self.pixel_size.setText(f"{layer.scale[-1]:g}")
        # the other layers it changed named with their new size (until 2026-12-07 "and 1
        # derived layer(s)", also for an SR layer's LR source, which is not derived)
        others = [f"{lyr.name!r}: {lyr.scale[-1]:g} {LENGTH_UNIT}/px"
                  for lyr in changed if lyr is not layer]
        self.status.setText(f"{layer.name}: {layer.scale[-1]:g} {LENGTH_UNIT}/px"
                            + (f" (and {', '.join(others)})" if others else ""))
        self.show_current()
        return changed

    def calibrate_from_line(self) -> float:
        """Pixel size from the last line or path of the Shapes layer and the known length
        (a path's length is along its vertices); applied. The Shapes layer is rescaled
        with the image (unless it is derived from it, rescaled already): its line stays
        over the scale bar, and a known length corrected and clicked again reads it."""
        layer = self._layer()
        shapes = self.shapes_combo.value
        if shapes is None or len(shapes.data) == 0:
            raise WidgetInputError("draw a line over the known length in a Shapes layer "
                                   "and select that layer")
        known = self._typed_known_length()
        kind = shapes.shape_type[-1]
        if kind not in ("line", "path"):  # a closed shape's first and last corners are
            # one side of it (a rectangle's height), not the length the user means
            raise WidgetInputError(f"the last shape in {shapes.name!r} is a {kind}, not a "
                                   "line or a path: draw a line (line tool) or a path "
                                   "(path tool) over the known length")
        # the line's (or path's) vertices in the image layer's pixel coordinates: a path
        # is measured along its segments, not from its first to its last vertex
        verts = [layer.world_to_data(shapes.data_to_world(v)) for v in shapes.data[-1]]
        try:
            px = pixel_size_from_path(verts, known)
        except PixelSizeError as exc:
            raise WidgetInputError(str(exc)) from None
        before = tuple(float(s) for s in layer.scale[-2:])
        changed = self.apply(px)
        if not any(c is shapes for c in changed):  # the line stays over the same pixels
            # of the image: left in the old world coordinates, a known length corrected
            # and clicked again read it at the new scale (100 px as 20: 2.5, not 0.5)
            ratios = tuple(float(s) / b for s, b in zip(layer.scale[-2:], before))
            place_with_records(shapes, _stretched(shapes.scale, ratios),
                               _stretched(shapes.translate, ratios), (UM_UNIT,) * shapes.ndim)
        return px
