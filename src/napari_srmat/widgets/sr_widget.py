"""Super-resolution dock widget."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from ..checkpoint import CHECKPOINT_CONTROL
from ..estimates import plan_super_resolution
from ..io import LENGTH_UNIT, pixel_size_text
from ..outputs import (
    OVERWRITE_CONTROL,
    SR_MODEL_CONTROL,
    SR_OVERLAP_CONTROL,
    SR_SCALE_CONTROL,
    SR_TILE_CONTROL,
)
from ..sr import DEFAULT_MODEL
from ..sr.refsr import REFERENCE_CONTROL
from ..sr.rescan import DEFAULT_BUDGET, DEFAULT_DWELL_RATIO, EDITED_LEAD, write_rescan_plan
from ..tiling import DEFAULT_BATCH_SIZE, DEFAULT_OVERLAP, DEFAULT_TILE
from ._paths import absolute_output_path, layer_file, layer_folder, typed_path
from ._qt import LayerCombo, RunNeedsLayersMixin, path_row
from ._worker import (
    ShutDownWhenClosedMixin,
    SingleJobMixin,
    divided_by,
    failed_line,
    user_action,
)
from .layers import (
    PLAN_EDIT_ACTIONS,
    CalibrationSeen,
    WidgetInputError,
    add_rescan_plan,
    follow_calibration,
    follow_rescan_plan,
    is_micrograph_layer,
    late_cancel_note,
    layer_place,
    layer_store_pixel_size,
    micrograph_data,
    open_sr_result,
    plan_layer_left_out,
    plan_shown_last,
    remove_layers_reading,
    removed_inputs_note,
    rescan_plan_job,
    rescan_plan_on_layer,
    rescan_plan_shown,
    show_plan_figures,
    sr_layer_name,
    sr_model_records,
    store_stamp,
    super_resolution_job,
    super_resolution_result_steps,
    untrained_note,
)

#: The model list's first entry: the shipped default, named.
DEFAULT_ENTRY = f"(default: {DEFAULT_MODEL})"

__all__ = ["SuperResolutionWidget"]

DEVICES = ("auto", "cpu", "cuda", "mps")


#: The jobs of the widget, as its status line names a failed one (as the Train widget's).
SR_JOB, PLAN_JOB = "super-resolution", "rescan plan"


def _plan_summary(plan) -> str:
    """The status line of a rescan plan: its rectangles, area (mm² at its pixel size),
    time ratio and whether it pays off (:attr:`~napari_srmat.sr.rescan.RescanPlan.
    time_note`, the words of ``srmat plan-rescan``), uncertainty source and warnings."""
    area = ("" if plan.roi_area_mm2 is None else
            f" ({plan.roi_area_mm2:.4g} mm² at {pixel_size_text(plan.pixel_size_um)} "
            f"{LENGTH_UNIT} per LR pixel; each rectangle in {LENGTH_UNIT} in the layer's "
            "features)")
    return (f"rescan plan: {len(plan.rois)} rectangle(s), {plan.roi_fraction:.1%} of the "
            f"area{area}; time {plan.time_ratio:.2f} x a full HR scan: {plan.time_note} "
            f"(uncertainty: {plan.uncertainty_source})"
            + "".join(f"; {note}" for note in plan.warnings))


def _plan_status(plan, shapes) -> str:
    """:func:`_plan_summary` of ``plan`` as its Shapes layer ``shapes`` shows it (None:
    deleted), and the shapes left out of it
    (:func:`~napari_srmat.widgets.layers.plan_layer_left_out`)."""
    left_out = None if shapes is None else plan_layer_left_out(shapes)
    return _plan_summary(plan) + ("" if left_out is None else f"; {left_out}")


class SuperResolutionWidget(ShutDownWhenClosedMixin, RunNeedsLayersMixin, SingleJobMixin,
                            QWidget):
    """Super-resolve an image layer (x2/x4) in a background thread.

    The result is added as an image layer aligned with the input in world
    coordinates (:func:`~napari_srmat.widgets.layers.sr_world_transform`).
    ``run()`` starts the job and returns the worker; ``stop()`` cancels it.

    "Plan rescan" (:meth:`plan_rescan`) runs the scan-enhance-rescan planner
    (:func:`napari_srmat.sr.rescan.plan_rescan_job`) with the same model settings on
    the input layer (the fast LR acquisition) at its pixel size (the layer's µm scale,
    ``(Y, X)`` when not square) and adds the rescan rectangles as a Shapes layer on the
    layer's pixels (its features give each rectangle in µm); the status line gives the
    area fraction, the time ratio (and whether the plan pays off) and the area in mm².
    The rectangles may be moved, resized, deleted or drawn on that layer in napari: its
    features and the status line (after each edit, a recalibration or a save) and "Save
    plan…" (:meth:`save_rescan_plan`, CSV or JSON) give the plan as the layer shows it
    (:func:`~napari_srmat.widgets.layers.rescan_plan_shown`); the status line names the
    shapes left out of it (a line or path encloses no area).
    """

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.worker = None
        self.token = None
        self.last_layer = None
        #: The Shapes layer of the last "Plan rescan" (its plan: :attr:`rescan_plan`).
        self.rescan_layer = None
        self._plan = None  # the last plan as made; its LR layer:
        self._plan_layer = None
        self._plan_px = None  # the pixel size its status line gives
        self._job_model_records: dict = {}  # the running SR job's model (sr_model_records)
        self._plan_seen = CalibrationSeen()  # its LR's calibration last followed
        self._plan_shapes = None  # its Shapes layer, whose µm the widget keeps
        napari_viewer.layers.events.removed.connect(self._layer_removed)
        self._closed = False  # shut down (:meth:`shut_down`)
        #: ``ask_store(plan) -> path or None`` for results too large for memory
        #: (None: a file dialog; scripts and tests replace it). ``ask``: see
        #: :meth:`SingleJobMixin.confirm_plan`.
        self.ask_store = None
        self._job_layer = None
        self._job_name = SR_JOB  # the running job's, as a failure names it
        self._job_store_stamp: int | None = None
        self._job_scale = 4

        self.layer_combo = LayerCombo(self.viewer, ("image",), predicate=is_micrograph_layer)
        self.model = QComboBox()
        self.model.setEditable(True)
        from ..sr import available_models

        self.model.addItems([DEFAULT_ENTRY, *available_models()])
        self.model.setToolTip(f"SR model; the default is {DEFAULT_MODEL!r} with the shipped "
                              "weights")
        self.checkpoint = QLineEdit()
        self.checkpoint.setPlaceholderText("optional: checkpoint directory (safetensors)")
        self.scale = QComboBox()
        self.scale.addItems(["4", "2"])
        self.tile = QSpinBox()
        self.tile.setRange(16, 8192)
        self.tile.setValue(DEFAULT_TILE)
        self.tile.setToolTip("largest LR tile incl. context; small images use a smaller one")
        self.overlap = QSpinBox()
        self.overlap.setRange(0, 512)
        self.overlap.setValue(DEFAULT_OVERLAP)
        self.batch = QSpinBox()
        self.batch.setRange(1, 64)
        self.batch.setValue(DEFAULT_BATCH_SIZE)
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.output = QLineEdit()
        self.output.setPlaceholderText("optional: output .zarr (empty = in memory; a bare name "
                                       "goes beside the input file)")
        self.reference = QLineEdit()
        self.reference.setPlaceholderText("refsr only: folder of HR micrographs of the "
                                          "same material")

        form = QFormLayout()
        form.addRow("Input layer", self.layer_combo.native)
        form.addRow(SR_MODEL_CONTROL, self.model)
        form.addRow(CHECKPOINT_CONTROL, path_row(self.checkpoint, "Checkpoint directory"))
        form.addRow(REFERENCE_CONTROL,  # the labels their refusals name
                    path_row(self.reference, "Reference micrographs folder"))
        form.addRow(SR_SCALE_CONTROL, self.scale)  # the labels
        form.addRow(SR_TILE_CONTROL, self.tile)  # its resume
        form.addRow(SR_OVERLAP_CONTROL, self.overlap)  # refusals name
        form.addRow("Batch size", self.batch)
        form.addRow("Device", self.device)
        form.addRow("Output store", path_row(self.output, "Output OME-Zarr", directory=False))
        self.overwrite = QCheckBox(OVERWRITE_CONTROL)  # the label its refusal names
        self.overwrite.setToolTip("an SR store made with other settings is replaced (never a "
                                  "folder napari-srmat did not write); off: such a store is "
                                  "refused, the same settings resume or reuse it")
        form.addRow("Earlier result in it", self.overwrite)
        self.budget = QDoubleSpinBox()
        self.budget.setRange(0.01, 1.0)
        self.budget.setSingleStep(0.05)
        self.budget.setValue(DEFAULT_BUDGET)
        self.budget.setToolTip("scan-enhance-rescan: largest fraction of the image to rescan "
                               "at high resolution")
        self.dwell = QDoubleSpinBox()
        self.dwell.setRange(0.01, 100.0)
        self.dwell.setValue(DEFAULT_DWELL_RATIO)
        self.dwell.setToolTip("LR dwell time / HR dwell time per pixel (time ratio "
                              "= r/s^2 + rescanned area fraction)")
        form.addRow("Rescan budget", self.budget)
        form.addRow("Dwell ratio LR/HR", self.dwell)
        lay = self._add_job_controls(form)
        self.plan_btn = QPushButton("Plan rescan")
        self.plan_btn.setToolTip("propose rectangles to rescan at high resolution where the "
                                 "SR of this layer is least certain (a Shapes layer)")
        self.plan_btn.clicked.connect(user_action(self.plan_rescan, self.status))
        self.save_plan_btn = QPushButton("Save plan…")
        self.save_plan_btn.setToolTip("save the last rescan plan: CSV (one row per "
                                      f"rectangle, in LR px and {LENGTH_UNIT}) or JSON")
        self.save_plan_btn.setEnabled(False)  # until there is a plan
        self.save_plan_btn.clicked.connect(user_action(self._save_plan_dialog, self.status))
        plan_row = QHBoxLayout()
        plan_row.addWidget(self.plan_btn)
        plan_row.addWidget(self.save_plan_btn)
        lay.insertLayout(1, plan_row)
        self._need_layers((self.run_btn, self.plan_btn),
                          ((self.layer_combo, "an image layer (the LR micrograph)"),))

    # ------------------------------------------------------------------ options
    def options(self) -> dict[str, Any]:
        """Current job options (keyword arguments of ``super_resolution_job``)."""
        model = self.model.currentText().strip()
        return {
            "model": None if model in ("", DEFAULT_ENTRY) else model,
            "checkpoint": typed_path(self.checkpoint.text()),
            "scale": int(self.scale.currentText()),
            "tile": self.tile.value(),
            "overlap": self.overlap.value(),
            "batch_size": self.batch.value(),
            "device": self.device.currentText(),
            "out": typed_path(self.output.text()),
            "reference": typed_path(self.reference.text()),
            "overwrite": self.overwrite.isChecked(),
        }

    # ------------------------------------------------------------------ actions
    def run(self):
        """Start super-resolving the selected layer; return the worker."""
        layer = self.layer_combo.value
        if layer is None:
            raise WidgetInputError("select an image layer to super-resolve")
        self._ensure_idle("a super-resolution job is already running")
        opts = self.options()
        if opts["out"] is not None:
            # never napari's working folder: beside the input's file, else home; shown
            out = absolute_output_path(opts["out"], beside=layer_folder(layer))
            self.output.setText(str(out))
            opts["out"] = str(out)
        opts["pixel_size_um"] = layer_store_pixel_size(layer)  # (Y, X) when not square
        opts["place"] = layer_place(layer)  # a store lies over its input when reopened
        image = micrograph_data(layer)
        def plan_for(to_disk: bool):
            return plan_super_resolution(image.shape, scale=opts["scale"],
                                         model=opts["model"], dtype=image.dtype,
                                         device=opts["device"], to_disk=to_disk)

        plan = plan_for(opts["out"] is not None)
        if not plan.to_disk and not plan.fits_in_memory():
            store = (self.ask_store or self._ask_store_dialog)(plan)
            if not store:
                raise WidgetInputError(
                    f"{plan.summary()} That does not fit in memory: choose an output store "
                    "(.zarr) to stream the result to disk")
            self.output.setText(str(store))
            opts["out"] = str(store)
            plan = plan_for(True)  # a store keeps the input's dtype
        if not self.confirm_plan(plan):
            return None
        go, divisor = self.confirm_float_divisor(layer.name, image, "super-resolved")
        if not go:
            return None
        self._job_layer = layer
        self._job_name = SR_JOB
        self._job_scale = opts["scale"]
        self._job_store_stamp = store_stamp(opts["out"])  # a replaced store gets a new one
        self._job_model_records = {}  # the model's name and weights, once loaded

        def loaded(model) -> None:
            self._job_model_records = sr_model_records(model)

        def job(stop):
            result = yield from super_resolution_job(divided_by(image, divisor), stop=stop,
                                                     on_model=loaded, **opts)
            # a store opened here: reading its metadata held the GUI thread
            return None if result is None else open_sr_result(result)

        return self._start_single_job(job, on_result=self._on_result)

    def plan_rescan(self):
        """Plan a rescan of the selected layer (in a worker); return the worker."""
        layer = self.layer_combo.value
        if layer is None:
            raise WidgetInputError("select the LR image layer to plan a rescan for")
        self._ensure_idle("a job is already running")
        opts = self.options()
        image = micrograph_data(layer)
        # the planner super-resolves the layer: the same offer as Run for 0-255 floats
        go, divisor = self.confirm_float_divisor(layer.name, image, "super-resolved")
        if not go:
            return None
        self._job_layer = layer
        self._job_name = PLAN_JOB
        budget, dwell = self.budget.value(), self.dwell.value()
        pixel_size = layer_store_pixel_size(layer)  # (Y, X) when not square; None: unknown
        return self._start_single_job(
            lambda stop: rescan_plan_job(
                divided_by(image, divisor), model=opts["model"], checkpoint=opts["checkpoint"],
                scale=opts["scale"], device=opts["device"], reference=opts["reference"],
                budget=budget, dwell_ratio=dwell, tile=opts["tile"], overlap=opts["overlap"],
                batch_size=opts["batch_size"], pixel_size_um=pixel_size, stop=stop),
            on_result=self._on_plan)

    def _on_plan(self, plan) -> None:
        if plan is None:
            return
        # its rectangles would lie over nothing
        if note := removed_inputs_note(self.viewer, [self._job_layer]):
            self.status.setText(note)
            return
        self._show_plan(plan, self._job_layer)

    def _show_plan(self, plan, layer) -> None:
        """Make ``plan`` of LR ``layer`` the widget's: its µm follow the layer's
        calibration, its rectangles are shown over it, Save plan… saves it; ``None, None``
        forgets the plan and its LR (Save plan… off)."""
        self._follow_plan_layer(False)  # an earlier plan's LR
        self._plan, self._plan_layer = plan, layer
        self.save_plan_btn.setEnabled(plan is not None)
        if plan is None:
            self._plan_px = None
            return
        self._follow_plan_layer(True)
        plan = self._made_plan()  # at the LR's pixel size now: calibrated while planned
        self._plan_px = plan.pixel_size_um
        # its µm follow the LR through this widget: the plan recomputed once per event
        self.rescan_layer = self._plan_shapes = add_rescan_plan(self.viewer, layer, plan,
                                                                follow=False)
        # after the layer's own handler has shown the plan (held weakly by napari)
        self._plan_shapes.events.data.connect(self._plan_edited, position="last")
        self.status.setText(_plan_summary(plan))

    def _plan_edited(self, event) -> None:
        """The plan's Shapes layer edited by hand: the status line gives the plan it shows
        now (:func:`~napari_srmat.widgets.layers.plan_shown_last`, computed once by the
        layer's handler) and the shapes left out of it."""
        shapes = event.source
        if (self._closed or shapes is not self._plan_shapes
                or str(getattr(event, "action", "")) not in PLAN_EDIT_ACTIONS
                or (shown := plan_shown_last(shapes)) is None):
            return
        self.status.setText(_plan_status(shown, shapes))

    def _made_plan(self):
        """The last plan as made, at the pixel size its LR layer has now."""
        return rescan_plan_on_layer(self._plan, self._plan_layer)

    @property
    def rescan_plan(self):
        """The last rescan plan at the pixel size its LR layer has now
        (:func:`~napari_srmat.widgets.layers.rescan_plan_on_layer`: calibrated anew, by
        Calibration or its ``scale``, its µm follow) as its Shapes layer shows it
        (:func:`~napari_srmat.widgets.layers.rescan_plan_shown`: rectangles moved,
        deleted or drawn there by hand; as made once that layer is deleted); None before
        a plan and once that LR layer is removed.

        Set to a plan, it belongs to the selected LR layer (the layer list above), which
        must be of the plan's ``lr_shape``: shown over it as "Plan rescan" shows its plan
        (:class:`WidgetInputError` when no such layer is selected); set to None, the plan
        and its LR layer are forgotten."""
        if self._plan is None:
            return None
        plan = self._made_plan()
        shapes = self._plan_shapes
        if shapes is None or shapes not in self.viewer.layers:
            return plan
        return rescan_plan_shown(shapes, plan)

    @rescan_plan.setter
    def rescan_plan(self, plan) -> None:
        if plan is None:
            self._show_plan(None, None)
            return
        layer = self.layer_combo.value
        height, width = (int(v) for v in plan.lr_shape[:2])
        if layer is None:
            raise WidgetInputError(f"select the LR image layer the rescan plan was made for "
                                   f"({height} x {width} px)")
        shape = tuple(int(v) for v in micrograph_data(layer).shape[:2])
        if shape != (height, width):
            raise WidgetInputError(
                f"the rescan plan was made for an LR image of {height} x {width} px; "
                f"{layer.name!r} is {shape[0]} x {shape[1]} px: select the LR image layer "
                "it was made for")
        self._show_plan(plan, layer)

    def _follow_plan_layer(self, follow: bool) -> None:
        """(Dis)connect the plan's LR layer's calibration events (the status and the
        plan's Shapes layer follow). Stopped, a Shapes layer of the plan still shown (kept
        by a rename, or the widget closed) follows its LR alone
        (:func:`~napari_srmat.widgets.layers.follow_rescan_plan`)."""
        if self._plan_layer is None:
            return
        self._plan_seen = CalibrationSeen()  # a change while not followed is news
        follow_calibration(self._plan_layer, self._plan_recalibrated, follow)
        shapes, self._plan_shapes = self._plan_shapes, (self._plan_shapes if follow else None)
        if (not follow and shapes is not None and shapes in self.viewer.layers
                and self._plan_layer in self.viewer.layers):
            follow_rescan_plan(self.viewer, shapes, self._plan_layer, self._made_plan())

    def _plan_recalibrated(self, _event=None) -> None:
        """The LR layer of the last plan was calibrated anew: the plan is read at the new
        pixel size once (:attr:`rescan_plan`), for the status and for its Shapes layer's
        µm (an earlier plan's Shapes layer, renamed, follows its own LR)."""
        if self._closed or self._plan is None:
            return
        sizes = self._plan_seen.news(self._plan_layer)
        if sizes is None:  # the same change told again (the LR's records of it)
            return
        plan = rescan_plan_on_layer(self._plan, self._plan_layer, sizes)
        if plan.pixel_size_um == self._plan_px:
            return
        self._plan_px = plan.pixel_size_um
        shapes = self._plan_shapes
        if shapes is not None and shapes in self.viewer.layers:
            plan = show_plan_figures(shapes, plan)  # as the status gives it
        else:  # deleted: nothing follows it
            self._plan_shapes = shapes = None
        self.status.setText(f"{self._plan_layer.name!r} calibrated anew: "
                            + _plan_status(plan, shapes))

    def _layer_removed(self, event) -> None:
        """The last plan's LR layer removed: the plan is dropped (its µm can follow
        nothing; Save plan… would save a plan of a layer no longer shown)."""
        if self._closed or self._plan is None or event.value is not self._plan_layer:
            return
        name = self._plan_layer.name
        self.rescan_plan = None  # forgets the removed LR layer too
        self.status.setText(f"rescan plan dropped: its LR layer {name!r} was removed")

    def save_rescan_plan(self, path: str | os.PathLike) -> Path:
        """Write the last rescan plan as its Shapes layer shows it (:attr:`rescan_plan`:
        rectangles moved, deleted or drawn there by hand) to ``path`` (``.csv`` or
        ``.json``, atomically; see :func:`napari_srmat.sr.rescan.write_rescan_plan`); the
        status line says how many rectangles, what was edited and where.

        An earlier plan file is replaced, never another file (as the grain-size exports);
        a relative path goes beside the LR layer's file (else the home folder).

        Raises
        ------
        WidgetInputError
            No plan yet.
        napari_srmat.outputs.OutputError
            Not ``.csv``/``.json``, or a file napari-srmat did not write.
        """
        if self.rescan_plan is None:
            raise WidgetInputError("nothing to save yet: plan a rescan first")
        layer = self._plan_layer
        out = absolute_output_path(path, beside=layer_folder(layer))
        source = layer_file(layer)
        plan = self.rescan_plan  # at the LR's pixel size now, as its layer shows it
        written = write_rescan_plan(plan, out, overwrite=True, inputs=[source])
        edits = "".join(f" ({note})" for note in plan.warnings
                        if note.startswith(EDITED_LEAD))
        shapes = self._plan_shapes
        left_out = (plan_layer_left_out(shapes)
                    if shapes is not None and shapes in self.viewer.layers else None)
        self.status.setText(f"saved the rescan plan, {len(plan.rois)} rectangle(s){edits}, "
                            f"to {written}" + ("" if left_out is None else f"; {left_out}"))
        return written

    def _save_plan_dialog(self) -> None:
        folder = layer_folder(self._plan_layer) or Path.home()
        path, _ = QFileDialog.getSaveFileName(
            self, "Save the rescan plan", str(folder / "rescan_plan.csv"),
            "CSV (*.csv);;JSON (*.json)")
        if path:
            self.save_rescan_plan(path)

    def _start_single_job(self, make_generator, *, on_result):
        worker = super()._start_single_job(make_generator, on_result=on_result)
        self.plan_btn.setEnabled(False)  # one job at a time, like Run
        return worker

    def _on_job_error(self, exc: BaseException) -> None:
        super()._on_job_error(exc)
        self.status.setText(f"{self._job_name}: {failed_line(exc)}")  # which job failed

    def _on_finished(self) -> None:
        self.plan_btn.setEnabled(True)
        super()._on_finished()  # Run and Plan rescan: enabled where the layer is there

    def shut_down(self) -> None:
        """The dock is closing: stop the running job (SR or rescan plan); no result is
        added after the close."""
        self._closed = True
        self._shut_down_job()
        self._follow_plan_layer(False)
        self.viewer.layers.events.removed.disconnect(self._layer_removed)

    def _ask_store_dialog(self, plan) -> str | None:
        path, _ = QFileDialog.getSaveFileName(
            self, f"Too large for memory ({plan.summary()}): stream to an OME-Zarr store",
            filter="OME-Zarr (*.zarr)")
        return path or None

    def _on_result(self, result):
        """Show the job's result (an :class:`~napari_srmat.widgets.layers.OpenedSRResult`)
        in steps, one per event-loop turn (:meth:`_start_single_job`): the layers that
        read a replaced store removed, the result's layer added, then kept on its input
        (:func:`~napari_srmat.widgets.layers.super_resolution_result_steps`)."""
        if result is None:
            return
        dropped: list[str] = []
        path = result.path
        if path is not None and self._job_store_stamp not in (None, store_stamp(path)):
            # the store was replaced: layers reading it show another result, or fail
            dropped = remove_layers_reading(
                self.viewer, path, keep=sr_layer_name(self._job_layer, self._job_scale))
            yield
        if note := removed_inputs_note(self.viewer, [self._job_layer]):
            self.status.setText(note)
            return
        # the model's name and weights as loaded (the job has a result: it was loaded)
        self.last_layer = yield from super_resolution_result_steps(
            self.viewer, self._job_layer, result, self._job_scale,
            model_records=self._job_model_records,
        )
        gone = (f"; removed {', '.join(repr(n) for n in dropped)} (it read the replaced "
                "store)" if dropped else "")
        if note := untrained_note(self.last_layer.metadata):  # kept: the notification passes
            gone += f"; {note}"
        if self.token is not None and self.token.stop_requested:
            gone += "; " + late_cancel_note(path)  # the whole result, not "stopped"
        # a resumed store: said at the end too (the notice has moved on with the tiles)
        self.status.setText(self._forward.done_line(f"{self.last_layer.name}{gone}"))
