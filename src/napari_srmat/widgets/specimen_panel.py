"""The grain-size widget's *Specimen* tab: ASTM E112 / ISO 643 / E1382 on several fields.

The metallurgist picks one or more boundary layers (each a field, or each cut into a
grid of fields), the method (intercept or planimetric), the counting rule, and
optional twin and exclusion layers. The measurement is
:func:`napari_srmat.metrics.standards.measure_specimen_job` — the same job behind
``srmat grain-size --method`` and :func:`napari_srmat.metrics.measure_specimen` — run
in a worker thread. The GUI thread only reads layer references and shows results:
grains coloured by area, the intersections as points, the per-field table, the E112
summary and the intercept/area histograms (rendered to pixels in the worker).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from qtpy.QtCore import Qt, QTimer
from qtpy.QtGui import QImage, QPixmap
from qtpy.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from ..jobs import Log, StopToken
from ..metrics.heyn import HEYN_N_LINES
from ..metrics.planimetric import RULES as PLANIMETRIC_RULES
from ..metrics.standards import (
    METHODS,
    field_grid,
    measure_specimen_job,
    pool_fields,
    specimen_fields_text,
)
from ..report import (
    format_result_value,
    format_value,
    specimen_summary_rows,
)
from ._common import (
    LayerCombo,
    WidgetInputError,
    layer_image_data,
    layer_pixel_size_um,
    show_colorbar,
)
from ._layout import hbox_row
from ._qt import (
    LAYER_LIST_EVENTS,
    RunNeedsLayersMixin,
    follow_layer_events,
    follow_layer_names,
    relist_if_changed,
)
from ._snapshot import LayerSnapshot, as_mask, check_mask_fits, frozen, snapshot
from ._worker import SingleJobMixin, failed_line, notify_error, user_action
from .export import (
    csv_cells,
    is_interval_key,
    write_export,
    write_summary_rows,
    write_table_row,
)
from .layers import (
    SHARED_MAP_BAR,
    DrawnShapes,
    drawn_shapes,
    intersections_layer_name,
    is_boundary_layer,
    keep_all_on_layer,
    overlay_geometry,
    removed_inputs_note,
    source_metadata,
    upsert_layer,
)

__all__ = ["SpecimenPanel", "SpecimenResult", "specimen_job", "SPECIMEN_PATTERNS",
           "POOLED_FIELD", "FIELD_INTERVAL_TERMS", "summary_csv_rows"]

#: Test-line patterns of the specimen tab (drawn lines live in the *Boundary mask* tab).
SPECIMEN_PATTERNS = ("grid", "random", "circles")

#: Name of the histogram entry that pools every field.
POOLED_FIELD = "all fields (pooled)"

#: Canvas corner of the grain-area maps' colour bar (one shown: :func:`show_colorbar`):
#: the corner the maps share (:data:`~napari_srmat.widgets.layers.SHARED_MAP_BAR`).
GRAIN_AREA_BAR = SHARED_MAP_BAR

#: Default number of test lines per field: the library's (``measure_field``'s and the
#: commands'), whose one-field coverage the notes cite. How many intersections a field
#: should count is another number (``metrics.planimetric.per_field_count_ask``).
DEFAULT_N_LINES = HEYN_N_LINES

#: What the tab's field intervals hold (the G column's header and tooltip, a row of the
#: summary table and of the CSV): ``measure_field``'s interval of a mask, the test lines'
#: sampling and the pixel term. A boundary model's map gets no model term here, as it
#: does in ``srmat grain-size --method`` (``grainsize.field_interval``'s
#: ``model_log_terms``): the layers napari-srmat adds record the model's threshold, not
#: its calibrated grain-size error (``grain_size_log_error_95``) nor the inference scale
#: it holds at, so a model's field reads a narrower interval than the command's.
FIELD_INTERVAL_TERMS = (
    "test-line sampling and pixel terms only, no boundary model term: a boundary layer "
    "does not record the model's calibrated error (srmat grain-size --method adds it to "
    "a micrograph's fields)")
#: The label of :data:`FIELD_INTERVAL_TERMS`' summary row.
FIELD_INTERVAL_TERMS_LABEL = "field intervals (95 %)"
#: The key of :data:`FIELD_INTERVAL_TERMS`' row in the CSV's summary.
FIELD_INTERVAL_TERMS_KEY = "field_interval_terms"

#: Resolution and size (inches) of the histogram pictures: narrow enough for a dock.
HISTOGRAM_DPI = 80
HISTOGRAM_SIZE_IN = (6.0, 2.6)


def _csv_row(field: dict[str, Any]) -> list[tuple[str, Any]]:
    """The ``(header, cell)`` pairs of one field row of the Specimen tab's CSV.

    Each key of :attr:`SpecimenPanel.CSV_COLUMNS` in its place, an interval as two
    numeric columns ``<key>_low``, ``<key>_high`` (:func:`.export.csv_cells`, the one
    rule of the exports), a value the field has not as an empty cell.

    Parameters
    ----------
    field : dict
        A field row (:func:`napari_srmat.metrics.standards.measure_field`); ``{}`` gives
        the headers.

    Examples
    --------
    >>> row = _csv_row({"name": "f1", "astm_g": 7.5, "astm_g_ci95": (7.2, 7.8)})
    >>> row[:2], row[-4:]
    ([('field', 'f1'), ('astm_g', 7.5)], [('astm_g_ci95_low', 7.2), \
('astm_g_ci95_high', 7.8), ('interval_note', ''), ('pixel_size_um', '')])
    """
    row: list[tuple[str, Any]] = []
    for header, key in SpecimenPanel.CSV_COLUMNS:
        cells = csv_cells(key, field.get(key))
        row += cells if is_interval_key(key) else [(header, cell) for _, cell in cells]
    return row


def summary_csv_rows(summary: dict[str, Any]) -> list[tuple[str, Any]]:
    """The ``(key, cell)`` summary rows of the Specimen tab's CSV: machine-readable.

    Each value of the specimen summary (``measure_specimen(...)["summary"]``, the JSON
    export's ``summary``) under its own key, in its order, to full precision by the
    exports' one rule (:func:`.export.csv_cells`: an interval two rows ``<key>_low``,
    ``<key>_high``, a list one row per item under its key, None or not finite an empty
    cell); the nested records (``duplex``, ``ala``) are the JSON's only (their
    warnings are in ``warnings``); then :data:`FIELD_INTERVAL_TERMS` under
    :data:`FIELD_INTERVAL_TERMS_KEY`. Until 2026-12-07 these rows were the summary
    table's display labels and rounded texts ("ASTM grain size G,9.2").

    Parameters
    ----------
    summary : dict
        The specimen summary.

    Returns
    -------
    list of (str, object)

    Examples
    --------
    >>> summary_csv_rows({"method": "intercept", "astm_g": 9.2345678, "astm_g_ci95":
    ...                   [8.9, 9.6], "duplex": {"bimodal": False}, "advice": []})[:5]
    [('method', 'intercept'), ('astm_g', 9.2345678), ('astm_g_ci95_low', 8.9), \
('astm_g_ci95_high', 9.6), ('advice', '')]
    """
    rows: list[tuple[str, Any]] = []
    for key, value in summary.items():
        if not isinstance(value, dict):  # duplex, ala: the JSON's
            rows += csv_cells(key, value)
    rows.append((FIELD_INTERVAL_TERMS_KEY, FIELD_INTERVAL_TERMS))
    return rows


def _area_map(grains: np.ndarray, areas_per_px: float) -> np.ndarray:
    """Float map where each grain's pixels hold its area (boundary pixels belong to a grain)."""
    g = np.asarray(grains)
    counts = np.bincount(g.ravel())
    counts[0] = 0
    return (counts[g] * areas_per_px).astype(np.float32)


def _render(fig) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig.set_dpi(HISTOGRAM_DPI)
    fig.set_size_inches(*HISTOGRAM_SIZE_IN)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.ascontiguousarray(np.asarray(canvas.buffer_rgba())[..., :4])


@dataclass
class SpecimenResult:
    """What the specimen job returns to the widget.

    Attributes
    ----------
    report : dict
        JSON-able ``{"images": [...], "summary": {...}}``.
    area_maps : dict
        Per source layer name, a float32 map of grain areas (µm², or px² without a pixel
        size) at the layer's pixels (fields pasted in place).
    intersections : dict
        Per source layer name, ``(N, 2)`` intersection points in the layer's pixels.
    area_limits : dict
        Per source layer name, the (smallest, largest) grain area: contrast limits.
    histograms : dict
        Per field name (and :data:`POOLED_FIELD`), an RGBA ``(h, w, 4)`` uint8 image of
        the intercept and grain-area histograms.
    area_unit : str
    """

    report: dict
    area_maps: dict = field(default_factory=dict)
    intersections: dict = field(default_factory=dict)
    area_limits: dict = field(default_factory=dict)
    histograms: dict = field(default_factory=dict)
    area_unit: str = "px²"


def _size_per_layer(pixel_size_um, n: int) -> list:
    """``specimen_job``'s ``pixel_size_um`` as one size per field layer: one size (or
    None) for each of ``n``, or a sequence of one per layer (a list, a tuple, a numpy
    array); another count is refused (:class:`WidgetInputError`).

    Examples
    --------
    >>> _size_per_layer(0.5, 2), _size_per_layer(np.array([0.5, 0.25]), 2) == [0.5, 0.25]
    ([0.5, 0.5], True)
    """
    if pixel_size_um is None or np.ndim(pixel_size_um) == 0:
        return [pixel_size_um] * n
    sizes = list(pixel_size_um)  # each checked where it is measured (check_pixel_size)
    if len(sizes) != n:
        raise WidgetInputError(f"{len(sizes)} pixel sizes for {n} field layers: give one, "
                               "or one per layer")
    return sizes


def specimen_job(sources: list[LayerSnapshot], *, grid: tuple[int, int] = (1, 1),
                 twins: Any = None, exclusion: Any = None, method: str = "intercept",
                 pixel_size_um: float | Sequence[float | None] | None = None,
                 stop: StopToken | None = None, **options: Any):
    """Worker side of the specimen tab: masks, fields, measurement, display maps.

    ``pixel_size_um`` is one pixel size (µm/px) for every source layer, or one per
    source layer (a list, tuple or numpy array; another count is refused): fields of
    different pixel sizes are measured each at its own and pooled in µm
    (:func:`napari_srmat.metrics.standards.summarize_fields`, as ``srmat grain-size``
    pools its images).

    ``twins`` / ``exclusion`` are a layer snapshot or an already rasterised mask of the
    fields' layer shape (the same for every source layer), or a dict by source layer name
    of masks or of :class:`~napari_srmat.widgets.layers.DrawnShapes` (drawn shapes over
    each field's own pixels, rasterised here: fields laid side by side get what was drawn
    over each). ``options`` go to
    :func:`napari_srmat.metrics.standards.measure_field`.
    """
    from ..metrics.distributions import distributions_figure

    yield Log(f"reading {len(sources)} boundary layer(s)")
    sizes = _size_per_layer(pixel_size_um, len(sources))
    fields, names, origins = [], [], []
    for src, px in zip(sources, sizes, strict=True):
        mask = as_mask(src, what="boundary layer")
        extra = {}
        for key, value in (("twins", twins), ("exclusion", exclusion)):
            if isinstance(value, dict):
                value = value[src.name]
            if value is None:
                continue
            if isinstance(value, LayerSnapshot):
                m = as_mask(value, mask.shape, what=f"{key} layer")
            elif isinstance(value, DrawnShapes):
                m = value.mask(mask.shape)
            else:
                m = np.asarray(value, bool)
            if m.shape != mask.shape:
                raise WidgetInputError(f"the {key} mask has shape {m.shape}, the boundary "
                                       f"layer {src.name!r} has {mask.shape}")
            extra[key] = m
        windows = field_grid(mask.shape, *grid)
        for k, (ys, xs) in enumerate(windows):
            spec = {"boundaries": mask[ys, xs], "pixel_size_um": px}
            spec.update({key: m[ys, xs] for key, m in extra.items()})
            fields.append(spec)
            names.append(src.name if len(windows) == 1 else f"{src.name} [{k + 1}]")
            origins.append((src.name, ys, xs))
    measured = yield from measure_specimen_job(fields, method=method, names=names,
                                               stop=stop, **options)
    if measured is None:
        return None
    # µm² where every field has a pixel size (the run refuses a mix), else px²
    has_um = None not in sizes
    result = SpecimenResult(report=measured.report, area_unit="µm²" if has_um else "px²")
    area_per_px = {src.name: px**2 if has_um else 1.0 for src, px in zip(sources, sizes)}
    for src in sources:
        result.area_maps[src.name] = np.zeros(np.shape(src.data)[:2], np.float32)
        result.intersections[src.name] = []
    for (name, ys, xs), grains, hr in zip(origins, measured.grains, measured.heyn):
        result.area_maps[name][ys, xs] = _area_map(grains, area_per_px[name])
        pts = np.asarray(hr.intersections, float).reshape(-1, 2)
        result.intersections[name].append(pts + [ys.start, xs.start])
    for name, pts in result.intersections.items():
        result.intersections[name] = np.concatenate(pts) if pts else np.zeros((0, 2))
    for name, areas in result.area_maps.items():
        positive = areas[areas > 0]
        result.area_limits[name] = (
            (float(positive.min()), float(positive.max()))
            if positive.size and positive.min() < positive.max() else (0.0, 1.0))
    yield Log("drawing histograms")
    images = measured.report["images"]
    for f in images:
        result.histograms[f["name"]] = _render(distributions_figure(f, title=f["name"]))
    if len(images) > 1:
        result.histograms[POOLED_FIELD] = _render(distributions_figure(
            pool_fields(images, measured.report["summary"]), title=POOLED_FIELD))
    return result


def _mask_or_shapes(layer) -> bool:
    """A twin or exclusion layer's choice: a Shapes layer (drawn over each field, not
    read as pixels), or a mask read by the fields' rule
    (:func:`~napari_srmat.widgets.layers.is_boundary_layer`): a user's mask, a boundary
    map; not the uncertainty, error-probability, grain-area, corrections or SR layers
    napari-srmat adds, which read as a mask (the boundary threshold their metadata
    carries, their non-zero pixels) mark no twin and no region."""
    return layer._type_string == "shapes" or is_boundary_layer(layer)


#: What the Specimen and Boundary mask tabs' Run buttons need (their tooltips while none).
NEEDS_BOUNDARY_LAYER = "a boundary layer (Labels, or a 2-D image)"


class SpecimenPanel(RunNeedsLayersMixin, SingleJobMixin, QWidget):
    """Several fields of one specimen measured by ASTM E112 / ISO 643 / E1382.

    Select boundary layers (Labels, binary or probability images; not the other maps
    napari-srmat adds, :func:`~napari_srmat.widgets.layers.is_boundary_layer`) in
    *Fields*; each is one field, or ``rows x cols`` fields with *Grid*. ``run()`` measures them in a
    worker and returns it; then ``result`` holds the :class:`SpecimenResult`, the
    viewer shows ``"<layer> grain area"`` (grains coloured by area) and ``"<layer>
    intersections (specimen)"`` (the crossings, named by
    :func:`~napari_srmat.widgets.layers.intersections_layer_name`), and the tables show
    each field and the E112 summary (mean, 95 % CI, %RA, advice). ``export_json(path)``
    saves the report.
    """

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.worker = None
        self.token = None
        self.result: SpecimenResult | None = None
        self._job_sources: list[LayerSnapshot] = []
        self._job_layers: list = []  # the field layers measured (renamed or not)
        # the display steps of a result, one per event-loop turn (_on_result): (what it
        # shows, called when it fails; the step), and the lines of the steps that failed
        self._steps: list[tuple[Callable[[], str], Callable[[], None]]] = []
        self._step_failures: list[str] = []
        self._step_timer = QTimer(self)
        self._step_timer.setSingleShot(True)
        self._step_timer.setInterval(0)
        self._step_timer.timeout.connect(self._next_step)

        self.fields_list = QListWidget()
        self._listed: list = []  # the layers listed, in the list's order
        self.fields_list.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        self.fields_list.setMaximumHeight(90)
        self.grid_rows = QSpinBox()
        self.grid_cols = QSpinBox()
        for spin in (self.grid_rows, self.grid_cols):
            spin.setRange(1, 20)
            spin.setValue(1)
        self.method = QComboBox()
        self.method.addItems(METHODS)
        self.rule = QComboBox()
        self.rule.addItems(PLANIMETRIC_RULES)
        self.rule.setToolTip("planimetric edge rule: e112 and iso643 (edge grains 1/2, "
                             "corner grains 1/4; their G formulas differ), e1382 (edge "
                             "grains left out, area shrunk)")
        self.pattern = QComboBox()
        self.pattern.addItems(SPECIMEN_PATTERNS)
        self.n_lines = QSpinBox()
        self.n_lines.setRange(1, 10000)
        self.n_lines.setValue(DEFAULT_N_LINES)
        self.triple_points = QCheckBox("triple points count 1½ (E112)")
        self.triple_points.setChecked(True)
        self.twins_combo = LayerCombo(self.viewer, ("labels", "image", "shapes"),
                                      predicate=_mask_or_shapes, allow_none=True)
        self.exclusions_combo = LayerCombo(self.viewer, ("labels", "image", "shapes"),
                                           predicate=_mask_or_shapes, allow_none=True)
        for combo in (self.twins_combo, self.exclusions_combo):
            combo.native.setCurrentIndex(0)
        self.pixel_size = QLineEdit()
        self.pixel_size.setPlaceholderText("µm/px (empty = each field layer's own; "
                                           "typed = every field's)")

        self.summary = QTableWidget(0, 2)
        self.summary.setHorizontalHeaderLabels(["specimen", "value"])
        self.table = QTableWidget(0, len(self.FIELD_COLUMNS))
        self.table.setHorizontalHeaderLabels([c[0] for c in self.FIELD_COLUMNS])
        g_column = [key for _, key in self.FIELD_COLUMNS].index("astm_g")
        self.table.horizontalHeaderItem(g_column).setToolTip(FIELD_INTERVAL_TERMS)
        for tbl in (self.summary, self.table):
            tbl.verticalHeader().setVisible(False)
            tbl.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.summary.horizontalHeader().setStretchLastSection(True)
        self.histogram_choice = QComboBox()
        self.histogram = QLabel("histograms appear after a measurement")
        self.histogram.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.histogram.setMinimumHeight(120)
        self.histogram.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.json_btn = QPushButton("Export JSON…")
        self.json_btn.setEnabled(False)
        self.csv_btn = QPushButton("Export CSV…")
        self.csv_btn.setEnabled(False)

        form = QFormLayout()
        form.addRow("Fields (boundary layers)", self.fields_list)
        form.addRow("Grid of fields (rows × cols)", hbox_row(self.grid_rows, self.grid_cols))
        form.addRow("Method", self.method)
        form.addRow("Planimetric rule", self.rule)
        form.addRow("Test lines", hbox_row(self.pattern, self.n_lines))
        form.addRow("", self.triple_points)
        form.addRow("Twin boundaries", self.twins_combo.native)
        form.addRow("Exclusions", self.exclusions_combo.native)
        form.addRow("Pixel size", self.pixel_size)
        lay = self._add_job_controls(form)
        self.run_btn.setText("Measure specimen")
        self.status.setWordWrap(True)
        for w in (self.summary, self.table, self.histogram_choice, self.histogram,
                  hbox_row(self.csv_btn, self.json_btn)):
            lay.insertWidget(lay.count() - 1, w)
        self.histogram_choice.currentTextChanged.connect(self._show_histogram)
        self.json_btn.clicked.connect(
            user_action(lambda: self._export_dialog("json"), self.status))
        self.csv_btn.clicked.connect(
            user_action(lambda: self._export_dialog("csv"), self.status))
        for ev in ("inserted", "removed", "moved"):
            getattr(self.viewer.layers.events, ev).connect(self.refresh_fields)
        follow_layer_names(self.viewer, self.refresh_fields)  # a renamed field stays chosen
        # a layer whose data become 3-D leaves the fields, one made 2-D joins them; one
        # whose metadata are set to those of an uncertainty map leaves them
        follow_layer_events(self.viewer, self._data_replaced, LAYER_LIST_EVENTS)
        # no layer combo: the gate reads the fields list (missing_layers), re-read at
        # each refresh_fields
        self._need_layers((self.run_btn,), ())
        self.refresh_fields()

    #: Per-field table: (header, key of the field dict). G is shown with the field's own
    #: 95 % interval (``astm_g_ci95``), or with ``interval_note`` as its tooltip where it
    #: has none (:meth:`_fill_tables`); its header says the interval has no model term
    #: (:data:`FIELD_INTERVAL_TERMS`, the header's tooltip).
    FIELD_COLUMNS = (
        ("field", "name"),
        ("G [95 %, no model term]", "astm_g"),  # FIELD_INTERVAL_TERMS
        ("ℓ̄ (µm)", "mean_intercept_um"),
        ("ℓ̄ (px)", "mean_intercept_px"),
        ("grains/mm²", "grains_per_mm2"),
        ("inside", "n_grains_inside"),
        ("edge", "n_grains_edge"),
        ("intersections", "n_intersections"),
        ("anisotropy", "anisotropy_index"),
        ("warnings", "warnings"),
    )

    #: CSV columns of the per-field table: (header with unit, key of the field dict); an
    #: interval is two numeric columns, ``<key>_low`` and ``<key>_high``, empty where
    #: the field has none and its ``interval_note`` says why (:func:`_csv_row`).
    CSV_COLUMNS = (
        ("field", "name"),
        ("astm_g", "astm_g"),
        ("mean_intercept_um", "mean_intercept_um"),
        ("mean_intercept_px", "mean_intercept_px"),
        ("grains_per_mm2", "grains_per_mm2"),
        ("n_grains_inside", "n_grains_inside"),
        ("n_grains_edge", "n_grains_edge"),
        ("n_intersections", "n_intersections"),
        ("total_line_length_px", "total_line_length_px"),
        ("anisotropy_index", "anisotropy_index"),
        ("mean_grain_area_um2", "mean_grain_area_um2"),
        # added 2026-12-06 after the columns above, which keep their places
        ("astm_g_ci95", "astm_g_ci95"),
        ("interval_note", "interval_note"),
        # added 2026-12-07: the size each field was measured at (fields of different
        # sizes are pooled in µm), which the CSV alone did not tell
        ("pixel_size_um", "pixel_size_um"),
    )


    # ------------------------------------------------------------------ layers
    def _field_layers(self) -> list:
        return [lay for lay in self.viewer.layers if is_boundary_layer(lay)]

    def refresh_fields(self, *_: Any) -> None:
        """Re-list the boundary layers, keeping the selection (by layer, so a renamed
        field stays chosen)."""
        self._show_fields(self._field_layers())

    def _show_fields(self, layers: list) -> None:
        """List ``layers`` as the fields (:meth:`refresh_fields`)."""
        listed = self._listed
        chosen = [listed[i] for i in range(min(len(listed), self.fields_list.count()))
                  if self.fields_list.item(i).isSelected()]
        self.fields_list.clear()
        self._listed = layers
        for lay in self._listed:
            self.fields_list.addItem(lay.name)
            if any(lay is c for c in chosen):
                self.fields_list.item(self.fields_list.count() - 1).setSelected(True)
        self._gate_run()

    def _data_replaced(self, *_: Any) -> None:
        relist_if_changed(self._field_layers(), self._listed, self._show_fields)

    def missing_layers(self) -> list[str]:
        """What *Measure specimen* still needs: a boundary layer to list as a field
        (empty: it can run; choosing fields among those listed is the click's check)."""
        return [] if self._listed else [NEEDS_BOUNDARY_LAYER]

    def field_names(self) -> list[str]:
        """Names of the selected field layers, in layer-list order."""
        selected = {it.text() for it in self.fields_list.selectedItems()}
        return [self.fields_list.item(i).text() for i in range(self.fields_list.count())
                if self.fields_list.item(i).text() in selected]

    def select_fields(self, layers) -> None:
        """Select these layers (objects or names) as the fields."""
        names = {lay if isinstance(lay, str) else lay.name for lay in layers}
        self.refresh_fields()
        missing = names - {self.fields_list.item(i).text()
                           for i in range(self.fields_list.count())}
        if missing:
            raise WidgetInputError(f"not a 2-D boundary layer: {', '.join(sorted(missing))}")
        for i in range(self.fields_list.count()):
            item = self.fields_list.item(i)
            item.setSelected(item.text() in names)

    def _mask_input(self, combo: LayerCombo, shape: tuple[int, int], what: str, fields):
        layer = combo.value
        if layer is None:
            return None
        if layer._type_string == "shapes":
            if len(layer.data) == 0:
                raise WidgetInputError(f"the {what} Shapes layer {layer.name!r} is empty")
            # the shapes over the pixels of each field (its scale and translate): a scratch
            # drawn over the second of two fields laid side by side fell outside the first
            # one's pixels, and was applied to neither. Rasterised in the worker: on the
            # GUI thread it froze the window (0.4 s at 2048 x 2048 px, 6 s at 8192)
            return {field.name: drawn_shapes(layer, field) for field in fields}
        return frozen(snapshot(layer))  # a Labels layer painted meanwhile: as it is now

    def field_pixel_sizes_um(self, layers: Sequence) -> list[float | None]:
        """The pixel size (µm/px) each field layer is measured at.

        The typed one for every layer, else each layer's own
        (:func:`~napari_srmat._napari_io.layer_pixel_size_um`): fields of different
        pixel sizes are each measured at their own and pooled in µm, as ``srmat
        grain-size`` pools its images (one typed size would mis-scale all but one).

        Raises
        ------
        WidgetInputError
            Some layers are calibrated and others not (a pool of µm and px has no unit),
            naming each layer's pixel size.
        """
        from ._qt import typed_pixel_size

        typed = typed_pixel_size(self.pixel_size.text())
        if typed is not None:
            return [typed] * len(layers)
        sizes = [layer_pixel_size_um(lay) for lay in layers]
        if None in sizes and any(px is not None for px in sizes):
            listed = ", ".join(f"{lay.name}: {'unknown' if px is None else f'{px:g} µm/px'}"
                               for lay, px in zip(layers, sizes))
            raise WidgetInputError(
                f"some fields have no pixel size ({listed}): calibrate those layers "
                "(Calibration tab, or the layer's scale in µm), or measure the calibrated "
                "and the uncalibrated fields separately")
        return sizes

    # ------------------------------------------------------------------ run
    def run(self):
        """Measure the selected fields in a worker; return the worker."""
        self._ensure_idle("a specimen measurement is already running")
        names = self.field_names()
        if not names:
            raise WidgetInputError("select one or more boundary layers as fields")
        layers = [self.viewer.layers[n] for n in names]
        shapes = {tuple(np.shape(layer_image_data(lay))) for lay in layers}
        sources = [snapshot(lay) for lay in layers]
        for src in sources:  # each field is read whole in the worker
            check_mask_fits(src, field=True)
        sources = [frozen(src) for src in sources]  # painted fields: as they are now
        shape = next(iter(shapes))[:2]
        twins = self._mask_input(self.twins_combo, shape, "twin", layers)
        exclusion = self._mask_input(self.exclusions_combo, shape, "exclusion", layers)
        if (twins is not None or exclusion is not None) and len(shapes) > 1:
            raise WidgetInputError("twin/exclusion layers need field layers of one size")
        px = self.field_pixel_sizes_um(layers)
        options = {"rule": self.rule.currentText(), "pattern": self.pattern.currentText(),
                   "n_lines": self.n_lines.value(),
                   "triple_points": self.triple_points.isChecked()}
        grid = (self.grid_rows.value(), self.grid_cols.value())
        method = self.method.currentText()
        self._job_sources = sources
        self._job_layers = layers
        self.result = None
        self._steps.clear()  # the last result's layers still to add: not this one's
        # the last measurement's tables are not this one's (a failed run left them)
        self.summary.setRowCount(0)
        self.table.setRowCount(0)
        self.histogram_choice.clear()
        self.histogram.setText("histograms appear after a measurement")
        self.json_btn.setEnabled(False)
        self.csv_btn.setEnabled(False)
        return self._start_single_job(
            lambda stop: specimen_job(sources, grid=grid, twins=twins, exclusion=exclusion,
                                      method=method, pixel_size_um=px, stop=stop, **options),
            on_result=self._on_result)

    def _on_result(self, result: SpecimenResult | None) -> None:
        """Show ``result``: its layers one per event-loop turn, then the tables.

        Adding a layer (its vispy visual and its controls) or a colour bar takes napari
        0.1 to 0.3 s on the GUI thread whatever the data (measured: 0.2 to 0.3 s each
        on a loaded 2-core machine, maps and contrast limits already made in the worker):
        added all at once, 10 fields froze the window for 11.7 s. One colour bar is made,
        the last map's still in the viewer (the bar of the corner, :func:`show_colorbar`,
        a visible map's; each bar's visual took as long as a layer): 5 fields of 512²
        under xvfb spent 2.8 s in the steps where a bar per field took 5.6 s (one run
        each, 2 loaded cores). Each step is queued
        (:meth:`_next_step`), so the window answers between two; ``result`` is set, and
        the tables, histograms and status shown, after the last one, whatever the steps
        before it did (a step that fails is told in one line, the next ones still run).
        """
        self._steps.clear()
        self._step_failures.clear()
        if result is None:
            return
        maps: list = []  # the grain-area maps added, in order
        for src, layer in zip(self._job_sources, self._job_layers):
            self._steps += self._field_steps(result, src.name, layer, maps)

        def colorbar() -> None:  # one bar in its corner (show_colorbar): the last map's
            kept = [m for m in maps if m in self.viewer.layers]  # still in the viewer
            if kept:
                show_colorbar(kept[-1], GRAIN_AREA_BAR, self.viewer)

        self._steps.append((lambda: "the grain-area colour bar", colorbar))
        self._steps.append((lambda: "the result", lambda: self._show_result(result)))
        self._step_timer.start()

    def _field_steps(self, result: SpecimenResult, source: str, layer,
                     maps: list) -> list[tuple[Callable[[], str], Callable[[], None]]]:
        """The display steps of one field layer: grain areas (appended to ``maps``, its
        colour bar one of their corner's, not shown: :meth:`_on_result` shows the last
        map's), intersections (each one event-loop turn)."""
        added: dict[str, Any] = {}

        def gone() -> bool:  # deleted while measured or shown: its numbers are in the
            return layer not in self.viewer.layers  # tables, its overlays would lie over
            # nothing

        def areas() -> None:
            if gone():
                return
            # named after the field layer as it is called now (renamed while the job ran:
            # the overlays still follow its calibration, which finds them by its identity)
            added["areas"] = upsert_layer(
                self.viewer, f"{layer.name} grain area", "image", result.area_maps[source],
                colormap="turbo", opacity=0.6, blending="translucent",
                contrast_limits=result.area_limits[source],
                metadata={"unit": result.area_unit, **source_metadata(layer, "source"),
                          "kind": "grain area"},
                **overlay_geometry(layer))  # calibrated while measured: its place now
            maps.append(added["areas"])
            show_colorbar(added["areas"], GRAIN_AREA_BAR, self.viewer, shown=False)

        def points() -> None:
            if gone() or "areas" not in added:
                return
            # the crossings, called as the other tabs call theirs (it was "intercepts")
            pts_layer = upsert_layer(
                self.viewer, intersections_layer_name(layer.name, "specimen"), "points",
                result.intersections[source], face_color="yellow", border_color="black",
                size=max(3.0, 0.008 * max(result.area_maps[source].shape)),
                metadata=source_metadata(layer, "source"), **overlay_geometry(layer))
            keep_all_on_layer(self.viewer, (added["areas"], pts_layer), layer)

        return [(lambda: f"{layer.name} grain area", areas),
                (lambda: intersections_layer_name(layer.name, "specimen"), points)]

    def _next_step(self) -> None:
        """Run the next queued display step of :meth:`_on_result`; queue the one after."""
        if getattr(self, "_dropped_token", None) is not None:
            self._steps.clear()  # the tool was closed: it adds no layers
            return
        if self._steps:
            what, step = self._steps.pop(0)
            try:
                step()
            except Exception as exc:  # the steps after it (the tables last) still run
                self._step_failed(what(), exc)
        if self._steps:
            self._step_timer.start()

    def _step_failed(self, what: str, exc: Exception) -> None:
        """Tell a display step of :meth:`_on_result` that raised ``exc``: one line in
        the status (kept after the result's line, :meth:`_show_result`) and a napari
        notification, by the rule of a job's error (the user's and OS errors as one line,
        internal ones with their traceback)."""
        line = f"{what}: {failed_line(exc)}"
        self._step_failures.append(line)
        self.status.setText(line)
        notify_error(exc, line)

    def _show_result(self, result: SpecimenResult) -> None:
        """The last step of :meth:`_on_result`: tables, histograms, status, exports."""
        self.result = result
        self._fill_tables()
        self.histogram_choice.blockSignals(True)
        self.histogram_choice.clear()
        self.histogram_choice.addItems(list(result.histograms))
        self.histogram_choice.blockSignals(False)
        self._show_histogram(self.histogram_choice.currentText())
        self.json_btn.setEnabled(True)
        self.csv_btn.setEnabled(True)
        s = result.report["summary"]
        text = (f"G = {format_result_value('astm_g', s.get('astm_g'))} from "
                + specimen_fields_text(s)
                + (f"; {s['advice'][0]}" if s.get("advice") else ""))
        # fields deleted while measured: no overlays (above), said first; the display
        # steps that failed (_step_failed) after the result
        self.status.setText("; ".join([removed_inputs_note(self.viewer, self._job_layers,
                                                           text), *self._step_failures]))

    def summary_rows(self) -> list[tuple[str, Any]]:
        """Rows of the specimen summary table (label, value)."""
        s = self.result.report["summary"]
        rows = specimen_summary_rows(s)
        # what the field intervals hold (no model term), so none is read as a full one
        rows.append((FIELD_INTERVAL_TERMS_LABEL, FIELD_INTERVAL_TERMS))
        rows += [("advice", a) for a in s.get("advice") or []]
        rows += [("warning", w) for w in s.get("warnings") or []]
        return rows

    def _fill_tables(self) -> None:
        rows = self.summary_rows()
        self.summary.setRowCount(len(rows))
        for i, (name, value) in enumerate(rows):
            self.summary.setItem(i, 0, QTableWidgetItem(name))
            self.summary.setItem(i, 1, QTableWidgetItem(format_value(value)))
        from .heyn_widget import g_text  # it imports this module

        images = self.result.report["images"]
        self.table.setRowCount(len(images))
        for i, f in enumerate(images):
            for j, (_, key) in enumerate(self.FIELD_COLUMNS):
                v = f.get(key)
                if key == "warnings":
                    text, tip = str(len(v)), "\n".join(v or [])
                elif key == "astm_g":  # with the field's interval, as the Simple tab's G;
                    # why it has none (measure_field's interval_note) as its tooltip
                    text, tip = g_text(v, f.get("astm_g_ci95")), f.get("interval_note")
                else:
                    text, tip = format_result_value(key, v), None
                item = QTableWidgetItem(text)
                if tip:
                    item.setToolTip(tip)
                self.table.setItem(i, j, item)

    def _show_histogram(self, name: str) -> None:
        if self.result is None or name not in self.result.histograms:
            return
        rgba = self.result.histograms[name]
        h, w = rgba.shape[:2]
        image = QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()
        pixmap = QPixmap.fromImage(image)
        width = max(self.histogram.width(), 200)
        if pixmap.width() > width:  # fit the dock, keep the aspect
            pixmap = pixmap.scaledToWidth(width, Qt.TransformationMode.SmoothTransformation)
        self.histogram.setPixmap(pixmap)

    # ------------------------------------------------------------------ export
    def export_json(self, path: str | os.PathLike) -> Path:
        """Save the last specimen report (``{"images", "summary"}``) as JSON, atomically."""
        if self.result is None:
            raise WidgetInputError("nothing to export yet: measure the specimen first")
        return write_export(path, json.dumps(self.result.report, indent=2) + "\n")

    def export_csv(self, path: str | os.PathLike) -> Path:
        """Save the per-field table and the summary as CSV, atomically.

        One row per field with the columns of :attr:`CSV_COLUMNS` (units in the headers,
        each field's pixel size last), then the specimen summary as ``# key,value``
        comment rows (so the table still loads with ``pandas.read_csv(path,
        comment="#")``, a field name holding ``#`` quoted: :func:`.export.write_table_row`):
        the summary's keys and full values (:func:`summary_csv_rows`; an interval two
        rows of numbers, ``# <key>_low``, ``# <key>_high``, the field columns' rule).
        """
        if self.result is None:
            raise WidgetInputError("nothing to export yet: measure the specimen first")
        buf = io.StringIO()
        write_table_row(buf, [header for header, _ in _csv_row({})])
        for f in self.result.report["images"]:
            write_table_row(buf, [cell for _, cell in _csv_row(f)])
        write_summary_rows(buf, summary_csv_rows(self.result.report["summary"]))
        return write_export(path, buf.getvalue())

    def _export_dialog(self, kind: str) -> None:
        path, _ = QFileDialog.getSaveFileName(self, f"Export specimen {kind.upper()}",
                                              f"specimen.{kind}", f"{kind.upper()} (*.{kind})")
        if path:
            (self.export_csv if kind == "csv" else self.export_json)(path)
