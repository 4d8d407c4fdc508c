"""The grain-size widget's *Report* tab: one click writes the report a lab files.

It takes the last measurement of the *Specimen (E112)*, the *Boundary mask* or the
*Simple* tab, the
sample's metadata typed here, and an optional micrograph layer for the picture (for the
*Simple* tab's measurement the layer it measured, unless another is chosen by hand), and
writes :mod:`napari_srmat.report`'s HTML or PDF in a worker thread (the figures are
drawn there, not on the GUI thread).
"""

from __future__ import annotations

import os
import weakref
from dataclasses import fields as dc_fields
from pathlib import Path
from typing import Any

import numpy as np
from qtpy.QtWidgets import QComboBox, QFileDialog, QFormLayout, QLineEdit, QWidget

from ..grainsize import MASK_TAB, MEASURED_SETTING_KEYS, SIMPLE_TAB, SPECIMEN_TAB
from ..jobs import Log, Progress
from ..report import SampleInfo, report_from_heyn, report_from_specimen, write_report
from ._common import LayerCombo, WidgetInputError
from ._snapshot import as_mask, snapshot
from ._worker import SingleJobMixin, user_action
from .layers import is_micrograph_layer, result_lines

__all__ = ["ReportPanel", "REPORT_SOURCES", "layer_provenance", "simple_report_statistics"]

#: Which measurement the report is about (the tab it comes from).
REPORT_SOURCES = (SPECIMEN_TAB, MASK_TAB, SIMPLE_TAB)

#: Title of the report of the *Simple* tab's measurement (the boundary model's map).
SIMPLE_REPORT_TITLE = "Grain size report (Heyn intercept on the boundary model's map)"

#: What the Simple tab's report writes for a setting its result did not record.
NOT_RECORDED = "not recorded"

#: Scalar ``metadata`` keys of a boundary layer copied into the report's provenance.
PROVENANCE_KEYS = ("kind", "source_layer", "threshold", "model_threshold", "skeletonize",
                   "model", "checkpoint", "weights_digest", "tta", "threshold_rule",
                   "inference_scale", "pixel_size_um", "edits")


#: Keys of a *Boundary mask* measurement's source (its settings) not copied into the
#: report's provenance as "test lines KEY": rows of their own (the pixel size, the edits,
#: the layer) and the mask scale, which the report writes from the statistics as "mask
#: scale given" (:func:`napari_srmat.report.mask_scale_rows`; until 2026-12-07 a given
#: scale was in the provenance twice).
SOURCE_KEYS_NOT_COPIED = ("pixel_size_um", "edits", "layer", "mask_scale")


def layer_provenance(layer) -> dict[str, Any]:
    """What a boundary layer's metadata says about how it was made (report rows)."""
    meta = layer.metadata or {}
    out: dict[str, Any] = {"boundary layer": layer.name}
    for key in PROVENANCE_KEYS:
        value = meta.get(key)
        if value is not None and key != "edits":
            out[f"boundary layer {key}"] = value
    return out


def _layer_edits(layer) -> list[str]:
    edits = (layer.metadata or {}).get("edits") or []
    return [str(e) for e in edits]


def _micrograph(snapshot, shape) -> Any:
    """The micrograph's pixels when it matches the boundary map's shape, else None."""
    if snapshot is None:
        return None
    data = np.asarray(snapshot.data)
    return data if data.shape[:2] == tuple(shape[:2]) else None


def simple_report_statistics(result) -> tuple[dict, list[tuple[int, float, float]]]:
    """The statistics and per-line rows :func:`~napari_srmat.report.report_from_heyn`
    reports, of a :class:`~napari_srmat.grainsize.GrainSizeResult` (the *Simple* tab's).

    ℓ̄, G and their 95 % intervals are the result's (with its pixel and model terms, in
    the micrograph's pixels; the ``astm_g_ci95`` ``srmat grain-size`` prints), not its
    Heyn count's at the inference scale, and its ``mode`` picks the one-field note's
    figures (a micrograph's, as the CLI's for the same image); line lengths
    are in the micrograph's pixels (the count's divided by the inference scale), the
    counts P and %RA the Heyn count's (they have no scale).

    Parameters
    ----------
    result : GrainSizeResult

    Returns
    -------
    stats : dict
        The keys :func:`~napari_srmat.report.report_from_heyn` reads.
    per_line : list of (line, length px, intersections P)
        Empty when the result has no Heyn count (ℓ̄ withheld before the model ran).
    """
    d = result.to_dict()
    heyn = result.heyn
    scale = float(result.inference_scale or 1.0)
    stats = {k: d[k] for k in ("mean_intercept_px", "mean_intercept_um", "astm_g",
                               "astm_g_ci95", "mean_intercept_ci95_px",
                               "mean_intercept_ci95_um", "pixel_size_um", "warnings", "mode")}
    if heyn is None:
        return dict(stats, n_lines=d["n_lines"] or None), []
    lengths = np.asarray(heyn.per_line_length_px, float) / scale
    counts = np.asarray(heyn.per_line_intersections, float)
    stats.update(relative_accuracy_pct=heyn.relative_accuracy_pct,
                 intersection_count=heyn.intersection_count,
                 total_length_px=float(heyn.total_length_px) / scale, n_lines=heyn.n_lines)
    return stats, [(i, float(lengths[i]), float(counts[i])) for i in range(len(lengths))]


def _to_native(points, scale: float) -> np.ndarray:
    """(row, col) at the inference scale -> the micrograph's pixels (pixel centres as
    :func:`~napari_srmat.widgets.layers.sr_world_transform` places them)."""
    return (np.asarray(points, float) + 0.5) / scale - 0.5


def _map_at_shape(boundaries, shape: tuple[int, int]) -> np.ndarray:
    """A boundary map resampled to ``shape`` for the picture: blocks pooled by ``max``
    where it shrinks (a 1 px line is never dropped), nearest pixel where it grows."""
    out = np.asarray(boundaries) > 0
    for axis, n in enumerate(shape):
        k = out.shape[axis]
        starts = np.minimum((np.arange(n) * k) // n, k - 1)
        out = np.maximum.reduceat(out, starts, axis=axis) if k > n else np.take(
            out, starts, axis=axis)
    return out


def report_job(path: Path, build, *, stop=None):
    """Worker side: build the report (figures) and write it."""
    yield Progress(0, 1, stage="report")
    yield Log(f"writing the report {path.name}")
    report = build()
    written = write_report(report, path, overwrite=True)
    yield Progress(1, 1, stage="report")
    return written


class ReportPanel(SingleJobMixin, QWidget):
    """Sample metadata and one-click report export of the grain-size widget.

    ``export_report(path)`` writes the report of the chosen tab's last measurement
    (``.html`` or ``.pdf``) in a worker and returns the worker; ``last_path`` is the
    file written. The dialog behind *Export report…* asks for the path first.
    """

    def __init__(self, napari_viewer, grain_widget) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self._grain = weakref.ref(grain_widget)
        self.worker = None
        self.token = None
        self.last_path: Path | None = None
        self.source = QComboBox()
        self.source.addItems(REPORT_SOURCES)
        self.micrograph = LayerCombo(self.viewer, ("image",), predicate=is_micrograph_layer,
                                     allow_none=True)
        self.micrograph.native.setToolTip(
            "drawn under the boundary map in the report (same size as the boundary layer; "
            "the Simple tab's measured micrograph unless you choose another)")
        # a choice made by hand (activated: never emitted for a program's choice) is kept
        self._micrograph_by_hand = False
        self.micrograph.native.activated.connect(self._micrograph_chosen_by_hand)
        self.sample_edits: dict[str, QLineEdit] = {}
        form = QFormLayout()
        form.addRow("Measurement", self.source)
        form.addRow("Micrograph (picture)", self.micrograph.native)
        for f in dc_fields(SampleInfo):
            edit = QLineEdit()
            self.sample_edits[f.name] = edit
            form.addRow(SampleInfo.LABELS[f.name], edit)
        self._add_job_controls(form)
        self.run_btn.setText("Export report…")
        self.run_btn.clicked.disconnect()
        self.run_btn.clicked.connect(user_action(self._export_dialog, self.status))
        # a bound method (the rule of widgets/_qt.RunNeedsLayersMixin): Qt drops it with
        # the panel, where a lambda went on calling into the deleted panel's fields
        self.source.currentTextChanged.connect(self._source_chosen)

    def _micrograph_chosen_by_hand(self, *_: Any) -> None:
        self._micrograph_by_hand = True

    def _source_chosen(self, *_: Any) -> None:
        """The *Measurement* choice changed: the picture's micrograph follows it
        (:meth:`follow_measured_layer`)."""
        self.follow_measured_layer()

    @property
    def grain(self):
        """The grain-size widget whose measurements are reported. Held weakly: the panel
        is its child, which Qt's parent keeps alive by a reference the garbage collector
        does not see, so a strong one back made a cycle never collected (a closed
        grain-size widget lived for the session)."""
        return self._grain()

    def _measured(self, source: str) -> bool:
        """Whether the tab ``source`` (of :data:`REPORT_SOURCES`) has a result to report."""
        grain = self.grain
        return {SPECIMEN_TAB: grain.specimen.result is not None,
                MASK_TAB: grain.measurement is not None,
                SIMPLE_TAB: grain.simple.result is not None}[source]

    def follow_measured_source(self) -> None:
        """Choose the one tab with a result when the chosen one has none (the Report tab
        opened after measuring in the Simple tab offered the Specimen tab and refused:
        'measure the specimen first'); a choice of a measured tab is kept. Then the
        picture's micrograph follows the Simple tab's (:meth:`follow_measured_layer`),
        also when the choice is kept (until 2026-12-06 it then kept showing the layer
        measured before, while the report drew the one measured last)."""
        if not self._measured(self.source.currentText()):
            measured = [s for s in REPORT_SOURCES if self._measured(s)]
            if len(measured) == 1:
                self.source.setCurrentText(measured[0])
        self.follow_measured_layer()

    def follow_measured_layer(self) -> None:
        """Show the layer the *Simple* tab measured as the picture's micrograph when its
        measurement is reported and no micrograph was chosen by hand (the picture was
        drawn over whatever the field held, "(none)" when the tab was opened before the
        image was added, not the micrograph measured)."""
        if self._micrograph_by_hand or self.source.currentText() != SIMPLE_TAB:
            return
        layer = self.grain.simple.measured_layer
        if (self.grain.simple.result is not None and layer is not None
                and layer in self.viewer.layers and is_micrograph_layer(layer)):
            self.micrograph.value = layer

    def sample(self) -> SampleInfo:
        """The sample metadata typed in the form."""
        return SampleInfo(**{k: e.text().strip() for k, e in self.sample_edits.items()})

    def run(self):
        """Same as *Export report…* (asks for a file)."""
        return self._export_dialog()

    def _export_dialog(self):
        path, _ = QFileDialog.getSaveFileName(
            self, "Export grain-size report", "grain_size_report.html",
            "HTML (*.html);;PDF (*.pdf)")
        return self.export_report(path) if path else None

    def _builder(self):
        """A no-argument function building the report (runs in the worker)."""
        sample = self.sample()
        self.follow_measured_layer()
        micro = self.micrograph.value
        micro_snap = snapshot(micro) if micro is not None else None
        if self.source.currentText() == SPECIMEN_TAB:
            panel = self.grain.specimen
            result = panel.result
            if result is None:
                raise WidgetInputError("measure the specimen first (Specimen (E112) tab)")
            src = panel._job_sources[0]
            layer = panel._job_layers[0]  # the layer measured, even if renamed since
            if layer not in self.viewer.layers:
                layer = None
            provenance = layer_provenance(layer) if layer is not None else {}
            if len(panel._job_sources) > 1:
                name = src.name if layer is None else layer.name
                provenance["picture"] = f"the first field layer ({name})"
            edits = _layer_edits(layer) if layer is not None else []

            def build():
                mask = as_mask(src)
                return report_from_specimen(
                    result.report, sample=sample, image=_micrograph(micro_snap, mask.shape),
                    boundaries=mask, intersections=result.intersections[src.name],
                    provenance=provenance, edits=edits)
            return build
        if self.source.currentText() == SIMPLE_TAB:
            return self._simple_builder(sample, micro_snap)
        meas = self.grain.measurement
        if meas is None:
            raise WidgetInputError("measure first (Boundary mask tab)")
        layer, segments, opts = self.grain._job
        mask = self.grain.measured_mask
        # the settings as measured (the export's source: those its pattern did not use
        # null, the drawn lines' Shapes layer named), not the form's every setting
        provenance = dict(layer_provenance(layer), **{
            f"test lines {k}": v for k, v in meas.source.items()
            if k not in SOURCE_KEYS_NOT_COPIED})
        lines = segments if segments is not None else result_lines(meas.result)
        stats = dict(meas.stats)
        rows = meas.table_rows()
        edits = _layer_edits(layer) + list(opts.get("edits") or [])

        def build():
            return report_from_heyn(
                stats, per_line=rows, sample=sample, image=_micrograph(micro_snap, mask.shape),
                boundaries=mask, intersections=meas.result.intersections, test_lines=lines,
                provenance=provenance, edits=edits)
        return build

    def _simple_builder(self, sample: SampleInfo, micro_snap):
        """The builder of the *Simple* tab's last measurement's report."""
        panel = self.grain.simple
        result = panel.result
        if result is None:
            raise WidgetInputError("measure the grain size first (Simple tab)")
        counted, shape = panel.counted, panel.measured_shape
        layer = panel.measured_layer
        d = result.to_dict()
        # the model and thinning its job recorded (grainsize.measured_settings); a
        # setting the record lacks (no record, or an older one) says so, not left out
        provenance = {"micrograph layer": None if layer is None else layer.name,
                      **dict.fromkeys(MEASURED_SETTING_KEYS, NOT_RECORDED),
                      **(panel.job_settings or {}),
                      "mode": d["mode"],
                      "inference_scale": d["inference_scale"], "threshold": d["threshold"],
                      "threshold_rule": d["threshold_rule"],
                      "test lines pattern": d["pattern"]}
        stats, rows = simple_report_statistics(result)
        heyn, scale = result.heyn, float(result.inference_scale or 1.0)

        def build():
            # the count's map, lines and points drawn in the micrograph's pixels, where
            # its pixel size (the scale bar's) holds
            mask = None if counted is None else _map_at_shape(counted, shape)
            return report_from_heyn(
                stats, per_line=rows, sample=sample, boundaries=mask,
                image=None if mask is None else _micrograph(micro_snap, mask.shape),
                intersections=None if heyn is None else _to_native(heyn.intersections, scale),
                test_lines=None if heyn is None else [_to_native(p, scale)
                                                      for p in result_lines(heyn)],
                provenance={k: v for k, v in provenance.items() if v is not None},
                title=SIMPLE_REPORT_TITLE)
        return build

    def export_report(self, path: str | os.PathLike):
        """Write the report to ``path`` (``.html`` or ``.pdf``) in a worker; return it."""
        self._ensure_idle("a report is already being written")
        path = Path(path)
        if path.suffix.lower() not in (".html", ".htm", ".pdf"):
            raise WidgetInputError(f"report {path.name!r}: use a .html or .pdf file name")
        build = self._builder()
        self.last_path = None
        return self._start_single_job(lambda stop: report_job(path, build, stop=stop),
                                      on_result=self._on_result)

    def _on_result(self, path) -> None:
        self.last_path = Path(path)
        self.status.setText(f"report written: {self.last_path}")
