"""The grain-size widget's *Report* tab: one click writes the report a lab files.

It takes the last measurement of the *Specimen (E112)* or the *Boundary mask* tab, the
sample's metadata typed here, and an optional micrograph layer for the picture, and
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

from ..jobs import Log, Progress
from ..report import SampleInfo, report_from_heyn, report_from_specimen, write_report
from ._common import LayerCombo, WidgetInputError
from ._snapshot import as_mask, snapshot
from ._worker import SingleJobMixin, user_action
from .layers import is_micrograph_layer, result_lines

__all__ = ["ReportPanel", "REPORT_SOURCES", "layer_provenance"]

#: Which measurement the report is about (the tab it comes from).
REPORT_SOURCES = ("Specimen (E112)", "Boundary mask")

#: Scalar ``metadata`` keys of a boundary layer copied into the report's provenance.
PROVENANCE_KEYS = ("kind", "source_layer", "threshold", "model_threshold", "skeletonize",
                   "model", "checkpoint", "weights_digest", "tta", "threshold_rule",
                   "inference_scale", "pixel_size_um", "edits")


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
            "drawn under the boundary map in the report (same size as the boundary layer)")
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

    @property
    def grain(self):
        """The grain-size widget whose measurements are reported. Held weakly: the panel
        is its child, which Qt's parent keeps alive by a reference the garbage collector
        does not see, so a strong one back made a cycle never collected (a closed
        grain-size widget lived for the session)."""
        return self._grain()

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
        micro = self.micrograph.value
        micro_snap = snapshot(micro) if micro is not None else None
        if self.source.currentText() == REPORT_SOURCES[0]:
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
        meas = self.grain.measurement
        if meas is None:
            raise WidgetInputError("measure first (Boundary mask tab)")
        layer, segments, opts = self.grain._job
        mask = self.grain.measured_mask
        provenance = dict(layer_provenance(layer), **{
            f"test lines {k}": v for k, v in opts.items() if k not in ("pixel_size_um", "edits")})
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
