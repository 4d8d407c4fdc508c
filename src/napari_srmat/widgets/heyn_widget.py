"""Grain size (Heyn lineal intercept, ASTM E112) dock widget.

Three tabs: *Simple* (a micrograph in, ℓ̄ and G with 95 % intervals out, through
:func:`napari_srmat.grainsize.measure_grain_size_job`), *Boundary mask* (Heyn on a
mask or probability layer with every option, test lines and intersections as layers)
and *Specimen (E112)* (several fields by the intercept or planimetric method, with the
E112 statistics, grains coloured by area and histograms:
:class:`~napari_srmat.widgets.specimen_panel.SpecimenPanel`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..estimates import plan_grain_size
from ..grainsize import (
    MASK_TAB,
    MEASURED_SKELETONIZE,
    SIMPLE_TAB,
    SPECIMEN_TAB,
    measured_settings,
)
from ..io import LENGTH_UNIT
from ..metrics.edits import ADD_BOUNDARY, ERASE_BOUNDARY
from ..metrics.heyn import (
    BLOCK_SCALE_MAX,
    E112_SCORING,
    HEYN_N_LINES,
    HEYN_SEED,
    scoring_name,
    scoring_triple_points,
)
from ..metrics.standards import one_field_note
from ..report import (  # MASK_SCALE_FROM_MASK: what the Mask scale box shows at 0
    MASK_SCALE_FROM_MASK,
    format_g,
    format_value,
    mask_scale_rows,
    one_field_ra_label,
)
from ._common import (
    HeynMeasurement,
    LayerCombo,
    WidgetInputError,
    export_csv,
    export_json,
    heyn_job,
    layer_image_data,
    layer_pixel_size_um,
    pixel_size_hint,
    pixel_size_placeholder,
    prepare_heyn,
    show_heyn_measurement,
    typed_pixel_size_note,
)
from ._layout import hbox_row, vertical_scroll
from ._qt import RunNeedsLayersMixin, typed_pixel_size
from ._snapshot import as_mask, check_mask_fits, frozen, painted_data, snapshot
from ._worker import (
    ProgressForwarder,
    ShutDownWhenClosedMixin,
    SingleJobMixin,
    divided_by,
    user_action,
)
from .layers import (
    CORRECTIONS_KIND,
    PATTERN_SETTINGS,
    WIDGET_PATTERNS,
    file_pyramid,
    heyn_overlay_data,
    heyn_statistics,
    is_boundary_layer,
    is_derived_from,
    is_micrograph_layer,
    keep_on_layer,
    layer_upscale_factor,
    measured_source,
    micrograph_data,
    overlay_geometry,
    removed_inputs_note,
    show_grain_size_overlays,
    source_metadata,
    threshold_boundaries,
)
from .report_panel import ReportPanel
from .specimen_panel import NEEDS_BOUNDARY_LAYER, SpecimenPanel

__all__ = ["GrainSizeWidget", "SimpleGrainSizePanel", "PATTERNS", "simple_grain_size_job",
           "corrected_heyn_job", "counted_boundaries", "SimpleJobOutput"]

PATTERNS = WIDGET_PATTERNS

#: Threshold that keeps every boundary pixel of a binarised map (its True pixels, 1.0).
BINARY_MAP_THRESHOLD = 0.5

#: What the Simple tab's Run button needs (its tooltip while none; the mask tab's:
#: specimen_panel.NEEDS_BOUNDARY_LAYER).
NEEDS_MICROGRAPH = "a micrograph (an image layer)"

#: The mask tab's *Mask scale* value that gives none (its special text,
#: :data:`MASK_SCALE_FROM_MASK`): the scale is read off the mask, as before it had one.
MASK_SCALE_NOT_GIVEN = 0

#: How the widget measures a specimen (:func:`napari_srmat.metrics.standards.one_field_note`).
ONE_FIELD_HOW = f"the '{SPECIMEN_TAB}' tab"


def _fmt(v, digits: int = 4) -> str:
    if v is None:
        return "–"
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(_fmt(x, digits) for x in v) + "]"
    if isinstance(v, float):
        return "–" if math.isnan(v) else ("∞" if math.isinf(v) else f"{v:.{digits}g}")
    return str(v)


class SimpleJobOutput(NamedTuple):
    """What :func:`simple_grain_size_job` returns to the *Simple* tab."""

    #: the measurement (:class:`~napari_srmat.grainsize.GrainSizeResult`)
    result: Any
    #: the map its test lines counted (:func:`counted_boundaries`), thinned off the GUI thread
    counted: np.ndarray | None
    #: :func:`~napari_srmat.widgets.layers.heyn_statistics` of ``result.heyn`` (None without)
    stats: dict | None
    #: what it measured with (:func:`~napari_srmat.grainsize.measured_settings` of the
    #: model it loaded), which its report writes
    settings: dict[str, Any]
    #: the overlays' arrays (:func:`~napari_srmat.widgets.layers.heyn_overlay_data` of
    #: ``result.heyn``; None without), made off the GUI thread
    overlays: Any = None


def simple_grain_size_job(image, *, pixel_size_um=None, divide_by=None, levels=None,
                          upscale_factor=None, stop=None):
    """Load the shipped boundary model, then :func:`measure_grain_size_job` (worker thread).

    ``divide_by`` (255 or 65535, the user's answer to
    :func:`~napari_srmat.io.float_bit_depth_divisor`) divides a float image held in
    0..255 / 0..65535 first, as :func:`~napari_srmat.io.to_float01` divides the integer
    image; the result's warnings say so. ``levels`` (the layer's own pyramid,
    :func:`~napari_srmat.widgets.layers.file_pyramid`, level 0 being ``image``) are
    measured as the API measures a file's pyramid (not with ``divide_by``: level 0 only).
    ``upscale_factor`` (an SR layer's recorded factor, its ``metadata`` :data:`~napari_srmat.
    widgets.layers.SR_FACTOR_KEY`: the SR widget's result, an SR store opened) is
    ``measure_grain_size``'s: the SR of a field measured at scale 1 runs at 1 / factor.
    Returns a :class:`SimpleJobOutput` (made here rather than on the GUI thread), or None
    when stopped.
    """
    from ..edges import load_boundary_model
    from ..grainsize import measure_grain_size_job
    from ..jobs import Log

    if divide_by:
        image = divided_by(image, divide_by)
        yield Log(f"pixel values divided by {divide_by}")
    elif levels is not None and len(levels) > 1:
        from ..io import Micrograph

        image = Micrograph(data=image, levels=list(levels),
                           axes="YXC" if np.ndim(image) == 3 else "YX",
                           pixel_size_um=pixel_size_um)
    yield Log("loading the boundary model")
    model = load_boundary_model()
    settings = measured_settings(model)  # of the model loaded, as its report names it
    yield Log(f"boundary model: {settings['boundary model']}")
    result = yield from measure_grain_size_job(image, pixel_size_um=pixel_size_um, model=model,
                                               upscale_factor=upscale_factor, stop=stop)
    if result is None:  # stopped
        return None
    if divide_by:
        result.warnings.append(f"pixel values divided by {divide_by} (a float image in "
                               f"0..{divide_by}, as confirmed)")
    stats = None if result.heyn is None else heyn_statistics(result.heyn)
    overlays = None if result.heyn is None else heyn_overlay_data(result.heyn)
    return SimpleJobOutput(result, counted_boundaries(result), stats, settings, overlays)


def counted_boundaries(result) -> np.ndarray | None:
    """The boundary map a :class:`~napari_srmat.grainsize.GrainSizeResult`'s test lines
    counted: its binarised map thinned to 1 px lines, as
    :func:`~napari_srmat.grainsize.measure_grain_size` thins it before laying them
    (``grainsize.MEASURED_SKELETONIZE``); None when it has no map. Shown as the Simple
    tab's boundaries layer, it gives the same ℓ̄ again in the *Boundary mask* tab or
    ``srmat heyn``.

    Parameters
    ----------
    result : GrainSizeResult
        A result of :func:`~napari_srmat.grainsize.measure_grain_size`.

    Returns
    -------
    numpy.ndarray or None
        The thinned boundary map (uint8 0/1, the shape of ``result.boundaries``), or None
        when ``result.boundaries`` is None.
    """
    if result.boundaries is None:
        return None
    return threshold_boundaries(result.boundaries, BINARY_MAP_THRESHOLD,
                                skeletonize=MEASURED_SKELETONIZE)


def corrected_heyn_job(source, threshold, edits, *, stop=None, **options):
    """Worker side of the mask tab: threshold the layer, apply the corrections, measure.

    Returns ``(HeynResult, mask measured, list of edit descriptions, statistics,
    overlays)``, the statistics (:func:`~napari_srmat.widgets.layers.heyn_statistics`:
    the intervals of ``srmat heyn``'s row, G's included) and the overlays' arrays
    (:func:`~napari_srmat.widgets.layers.heyn_overlay_data`: the intersections, the test
    lines' vectors) made here, off the GUI thread.
    """
    from ..jobs import Log
    from ..metrics.edits import apply_boundary_edits

    mask = as_mask(source, threshold=threshold)
    described: list[str] = []
    if edits is not None:
        try:
            mask, summary = apply_boundary_edits(mask, np.asarray(edits))
        except ValueError as exc:
            raise WidgetInputError(str(exc)) from None
        described = summary.lines()
        yield Log("; ".join(described) or "the corrections layer is empty")
    result = yield from heyn_job(mask, stop=stop, **options)
    if result is None:  # stopped
        return None
    return (result, mask, described, heyn_statistics(result),
            heyn_overlay_data(result, options.get("segments")))


def _explain_pixel_size(field: QLineEdit, viewer, layer) -> None:
    """What the Simple and Boundary mask tabs' pixel-size ``field`` says of ``layer`` (read
    once: a calibration event): the placeholder
    (:func:`~napari_srmat.widgets.layers.pixel_size_placeholder`) and, for a layer of
    unknown size, a tooltip that stays once a size is typed: why it has none
    (:func:`~napari_srmat.widgets.layers.pixel_size_hint`), else the placeholder's text
    (an SR layer of an uncalibrated micrograph: whose size to type).
    """
    from .._napari_io import layer_pixel_sizes

    sizes = layer_pixel_sizes(layer) if layer is not None else None
    placeholder = pixel_size_placeholder(viewer, layer, sizes)
    field.setPlaceholderText(placeholder)
    if layer is None or sizes.size_um:
        field.setToolTip("")
        return
    field.setToolTip(f"layer {layer.name!r}: {pixel_size_hint(layer, sizes) or placeholder}")


def _corrections_layer(viewer, boundary_layer, shape: tuple[int, ...]):
    """The corrections layer to paint for ``boundary_layer``, or None.

    A Labels layer of the map's shape, called ``"<boundary layer> corrections"`` or added
    as that map's corrections (``metadata`` kind, and made from it:
    :func:`~napari_srmat.widgets.layers.is_derived_from`, which a rename of either layer
    keeps). Another layer of that name (a Points layer, an image, labels of another
    size) is not one: it was handed to the paint tool ("'paint' is not a valid Mode", its
    attributes changed) or chosen as corrections that could never apply.
    """
    def fits(lay) -> bool:
        return lay._type_string == "labels" and np.shape(layer_image_data(lay)) == shape

    name = f"{boundary_layer.name} corrections"
    if name in viewer.layers and fits(viewer.layers[name]):
        return viewer.layers[name]
    return next((lay for lay in viewer.layers if fits(lay)
                 and (lay.metadata or {}).get("kind") == CORRECTIONS_KIND
                 and is_derived_from(lay, boundary_layer)), None)


def g_text(g, interval) -> str:
    """G and its 95 % interval as both grain-size tabs show them: ``srmat grain-size``'s
    :func:`~napari_srmat.report.format_g` (``9.3 [8.2, 9.9]``), ``–`` for none (the
    widget's placeholder where the command lines print ``n/a``).

    Parameters
    ----------
    g : float or None
        The ASTM grain size number.
    interval : (float, float) or None
        Its 95 % interval (``astm_g_ci95``); left out when None.

    Returns
    -------
    str
    """
    return format_g(g, interval, missing="–")


def _with_interval(value, interval, unit: str = "") -> str:
    """ℓ̄ and its 95 % interval as the Simple tab shows them (each number by
    :func:`~napari_srmat.report.format_value`, the tables' rule)."""
    if value is None:
        return "–"
    text = f"{format_value(value)}{unit}"
    if interval is not None:
        text += f"  {format_value(tuple(interval))}"
    return text


class SimpleGrainSizePanel(RunNeedsLayersMixin, SingleJobMixin, QWidget):
    """Micrograph in, mean lineal intercept and ASTM G with 95 % intervals out.

    Runs :func:`napari_srmat.grainsize.measure_grain_size_job` (shipped boundary model,
    automatic inference scale, the default test lines) on the selected image layer in a
    worker thread: the GUI thread only reads the layer and shows the result.
    ``run()`` returns the worker; ``result`` holds the last
    :class:`~napari_srmat.grainsize.GrainSizeResult`.
    """

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.worker = None
        self.token = None
        self.result = None
        #: the map the last result's test lines counted (:func:`counted_boundaries`) and
        #: the (rows, columns) of the micrograph measured: what the Report tab draws
        self.counted = None
        self.measured_shape: tuple[int, int] | None = None
        #: the layer the last run measured (its overlays' layer, the report's picture)
        self.measured_layer = None
        self._typed_px: float | None = None  # the size typed for measured_layer
        #: what the last result was measured with (grainsize.measured_settings, as its
        #: job recorded them): the Report tab writes these, not settings of its own
        self.job_settings: dict[str, Any] | None = None
        self.image_combo = LayerCombo(self.viewer, ("image",), predicate=is_micrograph_layer)
        self.pixel_size = QLineEdit()
        self.pixel_size.setPlaceholderText(f"{LENGTH_UNIT}/px (empty = from layer)")
        self.intercept_label = QLabel("–")
        self.g_label = QLabel("–")
        self.detail_label = QLabel("")
        self.warning_label = QLabel("")
        self.warning_label.setWordWrap(True)
        # what the intervals are of (one field), told under each result
        self.scope_label = QLabel("")
        self.scope_label.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Micrograph", self.image_combo.native)
        form.addRow("Pixel size", self.pixel_size)
        form.addRow("ℓ̄ (95% interval)", self.intercept_label)
        form.addRow("ASTM G (95% interval)", self.g_label)
        form.addRow("", self.detail_label)
        form.addRow("", self.warning_label)
        form.addRow("", self.scope_label)
        self._add_job_controls(form)
        self.run_btn.setText("Measure grain size")
        self._need_layers((self.run_btn,), ((self.image_combo, NEEDS_MICROGRAPH),))
        self.image_combo.watch(self._layer_changed)
        self._layer_changed()

    def _layer_changed(self, *_) -> None:
        _explain_pixel_size(self.pixel_size, self.viewer, self.image_combo.value)

    def run(self):
        """Measure the selected micrograph in a worker; return the worker."""
        self._ensure_idle("a grain-size measurement is already running")
        layer = self.image_combo.value
        if layer is None:
            raise WidgetInputError(f"select {NEEDS_MICROGRAPH}")
        typed = typed_pixel_size(self.pixel_size.text())
        px = typed or layer_pixel_size_um(layer)
        data = micrograph_data(layer)
        # an SR layer's recorded factor: the SR of a field measured at scale 1 runs at 1/f
        factor = layer_upscale_factor(layer)
        # the job reads the whole micrograph: a lazy mosaic would fill the memory
        if not self.confirm_plan(plan_grain_size(data.shape), does_not_fit=(
                "measure a region of it (add e.g. layer.data[:4096, :4096] as a layer)")):
            return None
        go, divisor = self.confirm_float_divisor(layer.name, data)
        if not go:
            return None
        self.result = self.counted = self.job_settings = None
        # the last measurement's numbers and warnings are not this one's (a failed or
        # stopped run would leave them beside its status line)
        for label in (self.intercept_label, self.g_label):
            label.setText("–")
        self.detail_label.setText("")
        self.warning_label.setText("")
        self.scope_label.setText("")
        self.measured_layer = layer
        self._typed_px = typed  # said beside the result (typed_pixel_size_note)
        self.measured_shape = tuple(data.shape[:2])
        return self._start_single_job(
            lambda stop: simple_grain_size_job(data, pixel_size_um=px, divide_by=divisor,
                                               levels=file_pyramid(layer),
                                               upscale_factor=factor,
                                               stop=stop),
            on_result=self._on_result)

    def _on_result(self, out) -> None:
        if out is None:
            return
        result, counted = out.result, out.counted
        self.result, self.counted, self.job_settings = result, counted, out.settings
        d = result.to_dict()
        if d["mean_intercept_um"] is not None:
            self.intercept_label.setText(
                _with_interval(d["mean_intercept_um"], d["mean_intercept_ci95_um"],
                               f" {LENGTH_UNIT}"))
        else:
            self.intercept_label.setText(
                _with_interval(d["mean_intercept_px"], d["mean_intercept_ci95_px"], " px"))
        self.g_label.setText(g_text(d["astm_g"], d["astm_g_ci95"]))
        factor = d["upscale_factor"]
        self.detail_label.setText(
            f"{d['n_crossings']} crossings, inference scale {d['inference_scale']:g}"
            + ("" if factor is None else f" (a x{factor} SR layer)"))
        layer = self.measured_layer
        hint = pixel_size_hint(layer) if d["mean_intercept_um"] is None else ""
        typed = typed_pixel_size_note(self.viewer, layer, self._typed_px)
        self.warning_label.setText("; ".join(d["warnings"] + ([f"layer {layer.name!r}: {hint}"]
                                                              if hint else [])
                                             + ([typed] if typed else [])))
        # one micrograph: its intervals are the field's (interval_scope "field"), told
        # what such an interval of its mode held on synthetic maps
        self.scope_label.setText(one_field_note(ONE_FIELD_HOW, mode=d["mode"])
                                 if d["mean_intercept_px"] is not None else "")
        if note := removed_inputs_note(self.viewer, [layer]):
            # its overlays would lie over nothing; the numbers, of the image read, stay
            self.status.setText(note)
            return
        if layer is not None:
            show_grain_size_overlays(self.viewer, layer, result, boundaries=counted,
                                     stats=out.stats, overlays=out.overlays)
        self.status.setText(self._forward.done_line() if d["mean_intercept_px"] is not None
                            else "no grain size reported (see the warning)")


class GrainSizeWidget(ShutDownWhenClosedMixin, RunNeedsLayersMixin, SingleJobMixin, QWidget):
    """Grain size: a *Simple* tab (micrograph → ℓ̄, G ± 95 % interval), a *Boundary
    mask* tab (Heyn on a boundary layer) and a *Specimen (E112)* tab (several fields,
    intercept or planimetric, ``specimen.run()``) and a *Report* tab (sample metadata,
    HTML/PDF report of either measurement, ``report.export_report(path)``).

    The mask tab's numbers are exactly those of
    :func:`napari_srmat.metrics.heyn.measure_intercepts` on the layer's binary mask. The
    intersections are added as a Points layer and the test lines as a Shapes layer.
    ``run()`` measures the mask tab and returns the worker (``simple.run()`` the simple
    tab); ``export_csv(path)`` and ``export_json(path)`` save the last mask measurement.
    The mask tab runs one job at a time (:class:`SingleJobMixin`: ``run_btn``,
    ``cancel_btn``, ``stop()``).
    """

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.simple = SimpleGrainSizePanel(napari_viewer)
        self.specimen = SpecimenPanel(napari_viewer)
        self.worker = None
        self.token = None
        self.measurement: HeynMeasurement | None = None
        self.measured_mask = None
        self._job = None
        self._job_typed: float | None = None  # the pixel size typed for self._job

        # the boundary layers the Specimen tab offers as fields: not the uncertainty,
        # error-probability, grain-area, corrections or SR layers napari-srmat adds
        self.layer_combo = LayerCombo(self.viewer, ("labels", "image"),
                                      predicate=is_boundary_layer)
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setDecimals(3)
        self.threshold.setValue(0.5)
        self.threshold.setToolTip(
            "for boundary probability maps (values 0 to 1): pixels at or above it are "
            "boundary; not used for Labels or 0/1 masks")
        self.use_layer_threshold = QCheckBox("use layer threshold")
        self.use_layer_threshold.setChecked(True)
        self.use_layer_threshold.setToolTip(
            "use the threshold stored with the probability map by the Boundaries tool "
            "(0.5 when it has none) instead of the value typed here")
        self.pattern = QComboBox()
        self.pattern.addItems(PATTERNS)
        self.pattern.setToolTip(
            "test lines: random lines, a grid, the ASTM E112 three circles, or the "
            "segments you drew in a Shapes layer")
        self.shapes_combo = LayerCombo(self.viewer, ("shapes",), allow_none=True)
        self.n_lines = QSpinBox()
        self.n_lines.setRange(1, 10000)
        self.n_lines.setValue(HEYN_N_LINES)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(HEYN_SEED)
        self.seed.setToolTip("placement of the random lines: the same seed draws the same "
                             "lines, so a measurement can be repeated exactly")
        self.skeletonize = QCheckBox("skeletonize mask first")
        # on as srmat grain-size --mask measures (thick boundaries unthinned read ℓ̄ long)
        self.skeletonize.setChecked(MEASURED_SKELETONIZE)
        self.skeletonize.setToolTip("thin the boundaries to 1 px lines before counting, as "
                                    "srmat grain-size --mask does; off: counted as drawn, "
                                    "as srmat heyn without --skeletonize")
        self.e112_scoring = QCheckBox("score by E112 (triple points 1½, line ends ½)")
        self.e112_scoring.setToolTip(
            "count the intersections P as ASTM E112 scores them: 1½ where a line passes a "
            "triple point, ½ where a line's end touches a boundary; off, every boundary "
            "crossed counts 1 (the benchmark protocol; a drawn line's end ½ still)")
        self.mask_scale = QSpinBox()
        self.mask_scale.setRange(MASK_SCALE_NOT_GIVEN, BLOCK_SCALE_MAX)
        self.mask_scale.setSpecialValueText(MASK_SCALE_FROM_MASK)
        self.mask_scale.setValue(MASK_SCALE_NOT_GIVEN)
        self.mask_scale.setToolTip(
            "the map was drawn at 1/s and upscaled ×s (4: an LR scan's map upscaled onto "
            "a ×4 SR layer): its boundaries are thinned and bridged on s × s blocks, as "
            f"srmat heyn --mask-scale s; '{MASK_SCALE_FROM_MASK}': read off the map where "
            "it is an exact nearest upscale (a smooth or bilinear upscale reads ℓ̄ "
            "short unless its scale is given); 1: a map drawn at its own pixels"
        )
        self.pixel_size = QLineEdit()
        self.pixel_size.setPlaceholderText(f"{LENGTH_UNIT}/px (empty = from layer)")
        self.corrections_combo = LayerCombo(self.viewer, ("labels",), allow_none=True)
        self.corrections_combo.native.setCurrentIndex(0)
        self.corrections_combo.native.setToolTip(
            f"a Labels layer over the boundary map: label {ADD_BOUNDARY} paints a missing "
            f"boundary, label {ERASE_BOUNDARY} erases a false one")
        self.new_corrections_btn = QPushButton("New corrections layer")

        self.run_btn = QPushButton("Measure")
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.csv_btn = QPushButton("Export CSV…")
        self.json_btn = QPushButton("Export JSON…")
        self.csv_btn.setEnabled(False)
        self.json_btn.setEnabled(False)
        self.progress = QProgressBar()
        self.status = QLabel("idle")
        self.summary = QTableWidget(0, 2)
        self.summary.setHorizontalHeaderLabels(["quantity", "value"])
        self.summary.verticalHeader().setVisible(False)
        self.table = QTableWidget(0, 4)  # the µm column shown where a pixel size is known
        self.table.setHorizontalHeaderLabels(
            ["line", "length (px)", "intersections", f"length ({LENGTH_UNIT})"]
        )
        self.table.verticalHeader().setVisible(False)
        for tbl in (self.summary, self.table):
            tbl.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.summary.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.ResizeToContents
        )

        thr_row = hbox_row(self.threshold, self.use_layer_threshold)

        form = QFormLayout()
        form.addRow("Boundary layer", self.layer_combo.native)
        form.addRow("Threshold", thr_row)
        form.addRow("Pattern", self.pattern)
        form.addRow("Shapes layer", self.shapes_combo.native)
        self.n_lines_label = QLabel("Number of lines")  # "per direction" for the grid
        form.addRow(self.n_lines_label, self.n_lines)
        form.addRow("Seed", self.seed)
        form.addRow("", self.skeletonize)
        form.addRow("", self.e112_scoring)
        form.addRow("Mask scale", self.mask_scale)
        form.addRow("Pixel size", self.pixel_size)
        form.addRow("Corrections", hbox_row(self.corrections_combo.native,
                                            self.new_corrections_btn))
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_btn)
        buttons.addWidget(self.cancel_btn)
        buttons.addWidget(self.csv_btn)
        buttons.addWidget(self.json_btn)
        self.mask_tab = QWidget()
        lay = QVBoxLayout(self.mask_tab)
        lay.addLayout(form)
        lay.addLayout(buttons)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        lay.addWidget(self.summary)
        lay.addWidget(self.table)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.simple, SIMPLE_TAB)
        self.tabs.addTab(self.mask_tab, MASK_TAB)  # the tab its refusals name
        self.specimen_tab = vertical_scroll(self.specimen)
        self.tabs.addTab(self.specimen_tab, SPECIMEN_TAB)
        self.report = ReportPanel(napari_viewer, self)
        self.tabs.addTab(self.report, "Report")
        self.tabs.currentChanged.connect(self._tab_shown)
        QVBoxLayout(self).addWidget(self.tabs)

        self.run_btn.clicked.connect(user_action(self.run, self.status))
        self.cancel_btn.clicked.connect(self.stop)
        self.new_corrections_btn.clicked.connect(
            user_action(self.add_corrections_layer, self.status))
        self.csv_btn.clicked.connect(user_action(lambda: self._export_dialog("csv"), self.status))
        self.json_btn.clicked.connect(
            user_action(lambda: self._export_dialog("json"), self.status))
        self.layer_combo.watch(self._layer_changed)
        self.pattern.currentTextChanged.connect(self._pattern_changed)
        self._forward = ProgressForwarder(self.progress, self.status)
        self._need_layers((self.run_btn, self.new_corrections_btn),
                          ((self.layer_combo, NEEDS_BOUNDARY_LAYER),))
        self._layer_changed()
        self._pattern_changed(self.pattern.currentText())

    def _tab_shown(self, index: int) -> None:
        if self.tabs.widget(index) is self.report:
            self.report.follow_measured_source()

    def shut_down(self) -> None:
        """The dock is closing: stop the job of every tab (Simple, Boundary mask,
        Specimen, Report); no result is shown or added after the close."""
        for panel in (self.simple, self, self.specimen, self.report):
            panel._shut_down_job()

    # ------------------------------------------------------------------ options
    def _pattern_changed(self, pattern: str) -> None:
        """Enable only the controls the pattern uses (circles: the fixed Abrams set)."""
        self.n_lines.setEnabled("n_lines" in PATTERN_SETTINGS[pattern])
        self.seed.setEnabled("seed" in PATTERN_SETTINGS[pattern])
        self.shapes_combo.native.setEnabled(pattern == "segments")
        # the grid lays N rows and N columns (heyn.make_pattern): 50 measures 100 lines
        grid = pattern == "grid"
        self.n_lines_label.setText("Lines per direction" if grid else "Number of lines")
        self.n_lines.setToolTip(("N rows and N columns: 2N test lines laid over the image; "
                                 if grid else "test lines laid over the image: ")
                                + "more lines, more intersections and a narrower 95 % "
                                "interval"
                                if pattern in ("random", "grid") else
                                "not used: the circles pattern is the fixed ASTM E112 "
                                "three-circle set; segments are the lines you drew")

    def _layer_changed(self, *_) -> None:
        _explain_pixel_size(self.pixel_size, self.viewer, self.layer_combo.value)

    def pixel_size_um(self) -> float | None:
        """Typed pixel size, else the layer's, else None."""
        typed = typed_pixel_size(self.pixel_size.text())
        if typed is not None:
            return typed
        layer = self.layer_combo.value
        return layer_pixel_size_um(layer) if layer is not None else None

    def options(self) -> dict:
        """Current measurement options."""
        scale = self.mask_scale.value()
        return {
            "pattern": self.pattern.currentText(),
            "n_lines": self.n_lines.value(),
            "seed": self.seed.value(),
            "skeletonize": self.skeletonize.isChecked(),
            # how P is scored (srmat heyn --scoring): in the export's source and the report
            "scoring": scoring_name(self.e112_scoring.isChecked()),
            # the mask scale given (None: read off the mask), as add_heyn_measurement's
            "mask_scale": None if scale == MASK_SCALE_NOT_GIVEN else scale,
            "pixel_size_um": self.pixel_size_um(),
            "threshold": None if self.use_layer_threshold.isChecked() else self.threshold.value(),
            # the Shapes layer whose drawn lines are measured (segments), in the export
            "shapes_layer": (self.shapes_combo.value.name
                             if self.pattern.currentText() == "segments"
                             and self.shapes_combo.value is not None else None),
        }

    # ------------------------------------------------------------------ actions
    def run(self):
        """Measure on the selected layer in a worker; return the worker."""
        self._ensure_idle("a Heyn measurement is already running")
        layer = self.layer_combo.value
        if layer is None:
            raise WidgetInputError(f"select {NEEDS_BOUNDARY_LAYER}")
        opts = self.options()
        _, segments, px = prepare_heyn(
            layer, pattern=opts["pattern"], threshold=opts["threshold"],
            shapes_layer=self.shapes_combo.value, pixel_size_um=opts["pixel_size_um"],
            compute_mask=False,
        )
        corrections = self.corrections_combo.value
        if corrections is layer:
            raise WidgetInputError("the corrections layer cannot be the boundary layer itself")
        source = snapshot(layer)
        check_mask_fits(source, opts["threshold"])
        source = frozen(source)  # a Labels layer painted meanwhile must not reach the job
        # the corrections as they are now: painting them while the job runs changes the
        # layer's array in place
        edits = None if corrections is None else painted_data(corrections)
        self._job = (layer, segments, opts)
        self._job_typed = typed_pixel_size(self.pixel_size.text())  # said with the result
        # the last measurement is not this one's: a failed run must not leave it to the
        # exports and the report (they would file it as the layer measured now)
        self.measurement = self.measured_mask = None
        self.csv_btn.setEnabled(False)
        self.json_btn.setEnabled(False)
        self.summary.setRowCount(0)
        self.table.setRowCount(0)
        kwargs = {k: opts[k] for k in ("pattern", "n_lines", "seed", "skeletonize", "mask_scale")}
        kwargs["triple_points"] = scoring_triple_points(opts["scoring"])
        return self._start_single_job(
            lambda stop: corrected_heyn_job(source, opts["threshold"], edits, stop=stop,
                                            segments=segments, pixel_size_um=px, **kwargs),
            on_result=self._on_result,
        )

    def add_corrections_layer(self):
        """Add an empty corrections Labels layer over the boundary layer, ready to paint.

        Label :data:`~napari_srmat.metrics.edits.ADD_BOUNDARY` paints missing boundaries,
        :data:`~napari_srmat.metrics.edits.ERASE_BOUNDARY` erases false ones; the next
        measurement applies them (and records what they changed).
        """
        layer = self.layer_combo.value
        if layer is None:
            raise WidgetInputError("select the boundary layer to correct first")
        shape = np.shape(layer_image_data(layer))
        if len(shape) != 2:
            raise WidgetInputError(f"layer {layer.name!r} is not a 2-D boundary map")
        name = f"{layer.name} corrections"
        corr = _corrections_layer(self.viewer, layer, shape)
        if corr is None:  # napari names it "NAME [1]" when another layer holds the name
            corr = self.viewer.add_labels(
                np.zeros(shape, np.uint8), name=name, opacity=0.8, **overlay_geometry(layer),
                metadata={"kind": CORRECTIONS_KIND, **source_metadata(layer)})
            keep_on_layer(self.viewer, corr, layer)  # painted over its pixels
        corr.selected_label = ADD_BOUNDARY
        corr.brush_size = max(2, int(round(max(shape) / 300)))
        corr.mode = "paint"
        self.corrections_combo.value = corr
        self.viewer.layers.selection.active = corr
        return corr

    def _on_result(self, out) -> None:
        if out is None:
            return
        result, mask, edits, stats, overlays = out
        layer, segments, opts = self._job
        opts = dict(opts, edits=edits)
        self._job = (layer, segments, opts)
        self.measured_mask = mask
        self.measurement = show_heyn_measurement(self.viewer, layer, result,
                                                 segments=segments,
                                                 source=measured_source(opts),
                                                 stats=stats, overlays=overlays)
        self._fill_tables()
        self.csv_btn.setEnabled(True)
        self.json_btn.setEnabled(True)
        st = self.measurement.stats
        if note := typed_pixel_size_note(self.viewer, layer, self._job_typed):
            st["warnings"] = [*st["warnings"], note]  # as srmat heyn's row: exported too
        text = f"ℓ̄ = {_fmt(st['mean_intercept_px'])} px"
        if st["mean_intercept_um"] is not None:  # the figure a lab reports, when calibrated
            text += (f" = {_fmt(st['mean_intercept_um'])} {LENGTH_UNIT}, "
                     f"G {g_text(st['astm_g'], st['astm_g_ci95'])}")
        text += f" from {st['intersection_count']:g} intersections"
        if st["scoring"] == E112_SCORING:
            text += " (E112 scoring)"
        if edits:
            text += " (corrected map: " + "; ".join(edits) + ")"
        if st["warnings"]:  # after the figures, which stay readable (an E112 advice)
            text += ". Warning: " + "; ".join(st["warnings"])
        # deleted while measured: no overlays (show_heyn_measurement), said first
        self.status.setText(removed_inputs_note(self.viewer, [layer], text))

    def _fill_tables(self) -> None:
        st = self.measurement.stats
        rows = [
            ("mean intercept ℓ̄ (px)", st["mean_intercept_px"]),
            (f"mean intercept ℓ̄ ({LENGTH_UNIT})", st["mean_intercept_um"]),
            ("ASTM grain size G", g_text(st["astm_g"], st["astm_g_ci95"])),
            # one layer is one field: its interval is the field's (interval_scope "field")
            ("95% CI of ℓ̄ (px), this field", st["mean_intercept_ci95_px"]),
            (f"95% CI of ℓ̄ ({LENGTH_UNIT}), this field", st["mean_intercept_ci95_um"]),
            (one_field_ra_label(st["n_lines"]), st["relative_accuracy_pct"]),
            ("intersections", f"{st['intersection_count']:g}"),  # the P of ℓ̄ = ΣL / ΣP
            ("scoring of intersections", st["scoring"]),
            ("total line length (px)", st["total_length_px"]),
            ("lines", st["n_lines"]),
            *mask_scale_rows(st),  # given, and the zig-zag bridge's, as srmat heyn
            (f"pixel size ({LENGTH_UNIT}/px)", st["pixel_size_um"]),
        ]
        self.summary.setRowCount(len(rows))
        for i, (name, value) in enumerate(rows):
            self.summary.setItem(i, 0, QTableWidgetItem(name))
            self.summary.setItem(i, 1, QTableWidgetItem(_fmt(value)))
        per_line = self.measurement.table_rows()
        um = self.measurement.line_lengths_um()  # None without a pixel size: no column
        self.table.setColumnHidden(3, um is None)
        self.table.setRowCount(len(per_line))
        for i, (idx, length, count) in enumerate(per_line):
            self.table.setItem(i, 0, QTableWidgetItem(str(idx)))
            self.table.setItem(i, 1, QTableWidgetItem(f"{length:.1f}"))
            self.table.setItem(i, 2, QTableWidgetItem(f"{count:g}"))
            # the summary's digits (was '.2f': 198 px at 0.0002 µm/px showed "0.04")
            self.table.setItem(i, 3, QTableWidgetItem("" if um is None else _fmt(float(um[i]))))

    # ------------------------------------------------------------------ export
    def _need(self) -> HeynMeasurement:
        if self.measurement is None:
            raise WidgetInputError("nothing to export yet: run a measurement first")
        return self.measurement

    def export_csv(self, path: str | os.PathLike) -> Path:
        """Save the last measurement as CSV (atomic)."""
        return export_csv(path, self._need())

    def export_json(self, path: str | os.PathLike) -> Path:
        """Save the last measurement as JSON (atomic)."""
        return export_json(path, self._need())

    def _export_dialog(self, kind: str) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, f"Export {kind.upper()}", f"heyn.{kind}", f"{kind.upper()} (*.{kind})"
        )
        if path:
            (self.export_csv if kind == "csv" else self.export_json)(path)
