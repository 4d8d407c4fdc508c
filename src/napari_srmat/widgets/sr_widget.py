"""Super-resolution dock widget."""

from __future__ import annotations

import dataclasses
from typing import Any

from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from ..estimates import plan_super_resolution
from ..sr import DEFAULT_MODEL
from ..tiling import DEFAULT_OVERLAP, DEFAULT_TILE
from ._qt import LayerCombo
from ._worker import SingleJobMixin
from .layers import (
    WidgetInputError,
    add_super_resolution_result,
    layer_image_data,
    layer_pixel_size_um,
    super_resolution_job,
)

#: The model list's first entry: the shipped default, named.
DEFAULT_ENTRY = f"(default: {DEFAULT_MODEL})"

__all__ = ["SuperResolutionWidget"]

DEVICES = ("auto", "cpu", "cuda", "mps")


def _path_row(edit: QLineEdit, title: str, directory: bool = True) -> QWidget:
    row = QWidget()
    lay = QHBoxLayout(row)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(edit)
    btn = QPushButton("…")
    btn.setMaximumWidth(28)

    def _browse() -> None:
        if directory:
            path = QFileDialog.getExistingDirectory(row, title)
        else:
            path, _ = QFileDialog.getSaveFileName(row, title, filter="OME-Zarr (*.zarr)")
        if path:
            edit.setText(path)

    btn.clicked.connect(_browse)
    lay.addWidget(btn)
    return row


class SuperResolutionWidget(SingleJobMixin, QWidget):
    """Super-resolve an image layer (x2/x4) in a background thread.

    The result is added as an image layer aligned with the input in world
    coordinates (:func:`~napari_srmat.widgets.layers.sr_world_transform`).
    ``run()`` starts the job and returns the worker; ``stop()`` cancels it.
    """

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.worker = None
        self.token = None
        self.last_layer = None
        #: ``ask_store(plan) -> path or None`` for results too large for memory
        #: (None: a file dialog; scripts and tests replace it). ``ask``: see
        #: :meth:`SingleJobMixin.confirm_plan`.
        self.ask_store = None
        self._job_layer = None
        self._job_scale = 4

        self.layer_combo = LayerCombo(self.viewer, ("image",))
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
        self.batch.setValue(4)
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.output = QLineEdit()
        self.output.setPlaceholderText("optional: output .zarr (empty = in memory)")

        form = QFormLayout()
        form.addRow("Input layer", self.layer_combo.native)
        form.addRow("Model", self.model)
        form.addRow("Checkpoint", _path_row(self.checkpoint, "Checkpoint directory"))
        form.addRow("Scale", self.scale)
        form.addRow("Tile (LR px)", self.tile)
        form.addRow("Overlap (LR px)", self.overlap)
        form.addRow("Batch size", self.batch)
        form.addRow("Device", self.device)
        form.addRow("Output store", _path_row(self.output, "Output OME-Zarr", directory=False))
        self._add_job_controls(form)

    # ------------------------------------------------------------------ options
    def options(self) -> dict[str, Any]:
        """Current job options (keyword arguments of ``super_resolution_job``)."""
        model = self.model.currentText().strip()
        return {
            "model": None if model in ("", DEFAULT_ENTRY) else model,
            "checkpoint": self.checkpoint.text().strip() or None,
            "scale": int(self.scale.currentText()),
            "tile": self.tile.value(),
            "overlap": self.overlap.value(),
            "batch_size": self.batch.value(),
            "device": self.device.currentText(),
            "out": self.output.text().strip() or None,
        }

    # ------------------------------------------------------------------ actions
    def run(self):
        """Start super-resolving the selected layer; return the worker."""
        layer = self.layer_combo.value
        if layer is None:
            raise WidgetInputError("select an image layer to super-resolve")
        self._ensure_idle("a super-resolution job is already running")
        opts = self.options()
        opts["pixel_size_um"] = layer_pixel_size_um(layer)
        image = layer_image_data(layer)
        plan = plan_super_resolution(image.shape, scale=opts["scale"], model=opts["model"],
                                     dtype=image.dtype, device=opts["device"],
                                     to_disk=opts["out"] is not None)
        if not plan.to_disk and not plan.fits_in_memory():
            store = (self.ask_store or self._ask_store_dialog)(plan)
            if not store:
                raise WidgetInputError(
                    f"{plan.summary()} That does not fit in memory: choose an output store "
                    "(.zarr) to stream the result to disk")
            self.output.setText(str(store))
            opts["out"] = str(store)
            plan = dataclasses.replace(plan, to_disk=True)
        if not self.confirm_plan(plan):
            return None
        self._job_layer = layer
        self._job_scale = opts["scale"]
        self._job_model = opts["model"]
        return self._start_single_job(
            lambda stop: super_resolution_job(image, stop=stop, **opts), on_result=self._on_result
        )

    def _ask_store_dialog(self, plan) -> str | None:
        path, _ = QFileDialog.getSaveFileName(
            self, f"Too large for memory ({plan.summary()}): stream to an OME-Zarr store",
            filter="OME-Zarr (*.zarr)")
        return path or None

    def _on_result(self, result) -> None:
        if result is None:
            return
        self.last_layer = add_super_resolution_result(
            self.viewer, self._job_layer, result, self._job_scale,
            model_name=self._job_model,
        )
        self.status.setText(f"done: {self.last_layer.name}")
