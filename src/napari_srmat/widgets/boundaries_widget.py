"""UAED boundary-detection dock widget."""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QWidget,
)

from ..checkpoint import CHECKPOINT_CONTROL, CONFIG_NAME
from ..estimates import plan_boundaries
from ..outputs import OVERLAP_CONTROL, TILE_CONTROL, TTA_CONTROL
from ..tiling import BOUNDARY_OVERLAP, BOUNDARY_TILE
from ._layout import hbox_row
from ._paths import typed_path
from ._qt import LayerCombo, RunNeedsLayersMixin, path_row
from ._worker import (
    ShutDownWhenClosedMixin,
    SingleJobMixin,
    divided_by,
    failed_line,
    qt_alive,
    start_function,
)
from .layers import (
    OWN_LAYER_KEY,
    BoundaryLayers,
    WidgetInputError,
    boundaries_job,
    boundary_result_steps,
    is_micrograph_layer,
    is_own_layer,
    late_cancel_note,
    layer_upscale_factor,
    micrograph_data,
    removed_inputs_note,
    threshold_boundaries,
)
from .sr_widget import DEVICES

__all__ = ["BoundariesWidget"]

#: Above this many pixels the threshold slider recomputes after a short pause
#: instead of on every tick.
LIVE_PIXELS = 4_000_000
SLIDER_STEPS = 1000
#: Test-time augmentation choices shown in the widget -> ``tta`` argument.
TTA_CHOICES = {"checkpoint default": None, "none (fast)": "none",
               "8 flips/rotations (8x slower)": "d4"}


def _thresholded(maps, threshold: float, skeletonize: bool, with_error: bool = True):
    """Threshold (and thin) the map off the GUI thread, and its error map at that threshold.

    Returns (maps, threshold, skel, mask, error map or None): the maps thresholded, so
    that a mask of an earlier prediction is never shown over a newer one. The error map
    (0.75-1.8 s of CPU on a 2000² map, 2026-12-07) only ``with_error``: the widget asks
    for it while its layer is shown.
    """
    mask = threshold_boundaries(maps.prob, threshold, skeletonize=skeletonize)
    return (maps, threshold, skeletonize, mask,
            maps.error_map(threshold) if with_error else None)


class BoundariesWidget(ShutDownWhenClosedMixin, RunNeedsLayersMixin, SingleJobMixin, QWidget):
    """Predict grain-boundary probability and uncertainty (UAED) for an image layer.

    Adds ``<layer> boundary probability`` (magma, additive), ``<layer> uncertainty``
    (viridis, hidden) and ``<layer> boundaries`` (thresholded + skeletonized Labels)
    layers with the input's scale/translate. The threshold slider re-thresholds the
    probability map live, into the plugin's own ``boundaries`` layer only (not one the
    user deleted or renamed, nor after the probability layer is gone: a new Run adds the
    layers again). ``run()`` returns the worker; ``stop()`` cancels.
    """

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.worker = None
        self.token = None
        self.maps = None
        self.layers: BoundaryLayers | None = None
        self._job_layer = None
        self._requested: tuple[float, bool] | None = None
        self._shown: tuple[float, bool] | None = None
        self._thresholding = None  # the slider's running worker (at most one)

        self.layer_combo = LayerCombo(self.viewer, ("image",), predicate=is_micrograph_layer)
        self.checkpoint = QLineEdit()
        self.checkpoint.setPlaceholderText("shipped default")
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.tile = QSpinBox()
        self.tile.setRange(32, 4096)
        self.tile.setValue(BOUNDARY_TILE)
        self.overlap = QSpinBox()
        self.overlap.setRange(0, 512)
        self.overlap.setValue(BOUNDARY_OVERLAP)
        self.tta = QComboBox()
        self.tta.addItems(list(TTA_CHOICES))
        self.tta.setToolTip("test-time augmentation: average the prediction over the 8 "
                            "flips/90-degree rotations (smoother, better-connected "
                            "boundaries, 8x the compute)")
        self.f1_btn = QPushButton("max F1")
        self.f1_btn.setToolTip("the validation max-F1 threshold (the paper's protocol)")
        self.heyn_btn = QPushButton("Heyn-calibrated")
        self.heyn_btn.setToolTip("the threshold whose skeletons reproduced the validation "
                                 "mean lineal intercept best (use it for grain size)")
        for b in (self.f1_btn, self.heyn_btn):
            b.setEnabled(False)
        self.skeletonize = QCheckBox("skeletonize (1-px boundaries)")
        self.skeletonize.setChecked(True)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setValue(SLIDER_STEPS // 2)
        self.slider.setEnabled(False)
        self.threshold_label = QLabel("0.500")

        thr_row = hbox_row(self.slider, self.threshold_label)

        form = QFormLayout()
        form.addRow("Input layer", self.layer_combo.native)
        form.addRow(CHECKPOINT_CONTROL, path_row(self.checkpoint, "UAED checkpoint directory"))
        form.addRow("Device", self.device)
        form.addRow(TILE_CONTROL, self.tile)  # the names its store's refusals give
        form.addRow(OVERLAP_CONTROL, self.overlap)
        form.addRow(TTA_CONTROL, self.tta)
        form.addRow("Threshold", thr_row)
        form.addRow("Preset", hbox_row(self.f1_btn, self.heyn_btn))
        form.addRow("", self.skeletonize)
        self._add_job_controls(form)
        self._need_layers((self.run_btn,), ((self.layer_combo, "an image layer"),))

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(150)
        self._debounce.timeout.connect(self._apply_slider)

        self.slider.valueChanged.connect(self._slider_moved)
        self.f1_btn.clicked.connect(lambda: self.set_threshold(
            self.maps.f1_threshold if self.maps.f1_threshold is not None
            else self.maps.threshold))
        self.heyn_btn.clicked.connect(lambda: self.set_threshold(self.maps.heyn_threshold))
        self.skeletonize.toggled.connect(lambda _=None: self._apply_slider())

    # ------------------------------------------------------------------ threshold
    @property
    def threshold(self) -> float:
        """Current threshold of the slider, in [0, 1]."""
        return self.slider.value() / SLIDER_STEPS

    def _slider_moved(self, value: int) -> None:
        self.threshold_label.setText(f"{value / SLIDER_STEPS:.3f}")
        if self.maps is None:
            return
        if np.prod(np.shape(self.maps.prob)) > LIVE_PIXELS:
            self._debounce.start()
        else:
            self._apply_slider()

    def _apply_slider(self) -> None:
        if self.maps is not None:
            self.set_threshold(self.threshold, move_slider=False)

    def set_threshold(self, threshold: float, *, move_slider: bool = True):
        """Re-threshold the probability map into the ``boundaries`` layer.

        The thresholding (and skeletonization) runs in a worker thread; the layer is
        updated when it is done, and only with the latest request. One worker runs at a
        time: a request made meanwhile waits for it, replacing any waiting one (a
        fast-moving slider computes the latest threshold, not every tick's; until
        2026-12-07 each tick started its own worker, and a 40-tick drag over a 2000² map
        showed its last threshold 146 s later). The error map is recomputed only while
        its layer is shown. Returns the running worker (None without maps);
        :attr:`threshold_pending` is True until the layer shows ``threshold``.
        """
        if not 0.0 <= threshold <= 1.0:
            raise WidgetInputError(f"threshold must be in [0, 1], got {threshold}")
        if move_slider:
            self.slider.blockSignals(True)
            self.slider.setValue(round(threshold * SLIDER_STEPS))
            self.threshold_label.setText(f"{threshold:.3f}")
            self.slider.blockSignals(False)
        if self.maps is None or self._slider_target() is None:
            return None
        self._requested = (float(threshold), self.skeletonize.isChecked())
        if self._thresholding is None:
            self._start_thresholding()
        return self._thresholding

    def _start_thresholding(self) -> None:
        """Threshold the maps at the latest request in a worker; the error map with it
        only while its layer is shown (a hidden one is brought up to date when shown:
        :meth:`_error_shown`)."""
        request = self._requested
        error_layer = self._error_layer()
        with_error = error_layer is not None and error_layer.visible
        worker = None  # set below, before any of its callbacks runs (main thread)

        def ours() -> bool:
            """Not one forgotten (closed, new Run), nor of a deleted widget (a closed
            viewer deletes its docks without closing them, and quits their workers)."""
            return self._thresholding is worker and qt_alive(self)

        def returned(result) -> None:
            if ours():
                self._show_mask(result)

        def ended(error: BaseException | None = None) -> None:
            if ours():
                self._thresholding_failed(request, error)

        worker = start_function(_thresholded, (self.maps, *request, with_error),
                                on_returned=returned, on_errored=ended)
        # a quit worker sends neither returned nor errored, only finished (connected
        # after the start: one sent before this follows a returned or errored that
        # ended the worker already, and ``ended`` ignores it)
        worker.finished.connect(ended)
        self._thresholding = worker

    def _thresholding_done(self) -> None:
        """The running threshold worker ended: start the latest request that came
        meanwhile (the ones in between are never computed: a slider drag costs one
        running and one pending thresholding, not one per tick), or the error map of a
        layer shown meanwhile; a request with no layer left to show it in is dropped."""
        self._thresholding = None
        if self.maps is None or not (self.threshold_pending or self._error_behind()):
            return
        if self._slider_target() is None:
            self._requested = self._shown  # nothing left to show it in
            return
        self._start_thresholding()

    def _thresholding_failed(self, request: tuple[float, bool],
                             error: BaseException | None) -> None:
        """The threshold worker of ``request`` raised ``error`` (told by napari too) or
        was quit (``error`` None): the request is dropped, not retried (until s50 a
        failing one restarted without end, a napari error each time); a newer one made
        meanwhile is tried, once, as the user's."""
        if self._requested == request:
            self._requested = self._shown
        why = "not applied: its worker was stopped" if error is None else failed_line(error)
        self.status.setText(f"threshold {request[0]:.3f} {why}")
        self._thresholding = None
        if self.threshold_pending:
            self._thresholding_done()

    def _forget_thresholding(self) -> None:
        """Quit the running threshold worker: its result, error or end is ignored."""
        if self._thresholding is not None:
            self._thresholding.quit()
            self._thresholding = None

    def _error_layer(self):
        """The plugin's own ``error probability`` layer, or None."""
        lay = None if self.layers is None else self.layers.error
        return lay if lay is not None and is_own_layer(self.viewer, lay) else None

    def _error_behind(self) -> bool:
        """Whether the shown error layer is of another threshold than the boundaries."""
        lay = self._error_layer()
        if lay is None or not lay.visible or self._shown is None:
            return False
        meta = lay.metadata or {}
        return (meta.get("threshold"), meta.get("skeletonize")) != self._shown

    def _error_shown(self, _event=None) -> None:
        """The error layer was shown (or hidden): compute it at the shown threshold if
        the slider moved while it was hidden."""
        if (self._thresholding is None and self.maps is not None
                and self._slider_target() is not None and self._error_behind()):
            self._start_thresholding()

    def _slider_target(self):
        """The ``boundaries`` layer the slider writes into, or None (the reason in the
        status line).

        Only while the probability map it thresholds and the boundaries layer are still
        the plugin's (in the viewer, under their names: :func:`is_own_layer`): a deleted
        one is re-created by a new Run only, a renamed one is the user's.
        """
        if self.layers is None:
            return None
        for role, lay in (("probability map", self.layers.probability),
                          ("boundaries layer", self.layers.boundaries)):
            if not is_own_layer(self.viewer, lay):
                name = (lay.metadata or {}).get(OWN_LAYER_KEY, lay.name)
                self.status.setText(f"threshold not applied: the {role} {name!r} was "
                                    "removed or renamed (Run again for new layers)")
                return None
        return self.layers.boundaries

    @property
    def threshold_pending(self) -> bool:
        """Whether a requested threshold is not shown in the ``boundaries`` layer yet."""
        return self._requested is not None and self._requested != self._shown

    def _show_mask(self, result) -> None:
        try:
            self._show_thresholded(*result)
        finally:
            self._thresholding_done()

    def _show_thresholded(self, maps, threshold, skel, mask, error) -> None:
        if maps is not self.maps or (threshold, skel) != self._requested:
            return  # a newer request (or prediction) is on its way, or already shown
        target = self._slider_target()  # deleted or renamed while thresholding?
        if target is None:
            return  # the request is dropped (_thresholding_done)
        target.data = mask
        error_layer = self._error_layer() if error is not None else None
        if error_layer is not None:  # not computed while hidden: its threshold kept
            error_layer.data = error
        for lay in (self.layers.probability, target, error_layer):
            if lay is not None:
                lay.metadata = dict(lay.metadata, threshold=threshold, skeletonize=skel)
        self._shown = (threshold, skel)

    def shut_down(self) -> None:
        """The dock is closing: stop the running prediction (no layers added after the
        close), a pending slider update and the running thresholding."""
        self._debounce.stop()
        self._forget_thresholding()
        self._shut_down_job()

    # ------------------------------------------------------------------ actions
    def run(self):
        """Start boundary prediction on the selected layer; return the worker."""
        layer = self.layer_combo.value
        if layer is None:
            raise WidgetInputError("select an image layer")
        self._ensure_idle("a boundary job is already running")
        image = micrograph_data(layer)
        opts = {
            "checkpoint": typed_path(self.checkpoint.text()),  # "~" is home
            "device": self.device.currentText(),
            "tile": self.tile.value(),
            "overlap": self.overlap.value(),
            "tta": TTA_CHOICES[self.tta.currentText()],
            # an SR layer's recorded factor: its scale check suggests 1/f, as the Simple tab
            "upscale_factor": layer_upscale_factor(layer),
        }
        plan = plan_boundaries(image.shape,
                               tta=opts["tta"] or _checkpoint_tta(opts["checkpoint"]),
                               device=opts["device"])
        if not self.confirm_plan(plan, does_not_fit="run `srmat edges predict IMAGE --out "
                                 "DIR` to stream the maps to disk, or work on a region"):
            return None
        go, divisor = self.confirm_float_divisor(layer.name, image, "predicted")
        if not go:
            return None
        self._job_layer = layer
        skel = self.skeletonize.isChecked()

        def job(stop):
            maps = yield from boundaries_job(divided_by(image, divisor), stop=stop, **opts)
            if maps is None:
                return None
            # in the worker thread, like the prediction itself
            mask = threshold_boundaries(maps.prob, maps.threshold, skeletonize=skel)
            return maps, mask, skel, maps.error_map(maps.threshold)

        return self._start_single_job(job, on_result=self._on_result)

    def _on_result(self, result):
        """Show the job's result (maps, mask, skeletonize, error map: all computed in the
        worker) in steps, one per event-loop turn (:meth:`_start_single_job`): each
        layer added and each shown colour bar a turn of its own
        (:func:`~napari_srmat.widgets.layers.boundary_result_steps`; all in one
        callback they held the GUI thread 1.7-5 s on a 768² result, s51 E10). The
        threshold controls are off until the last step: they act on the new maps."""
        if result is None:
            return
        # its maps would lie over nothing
        if note := removed_inputs_note(self.viewer, [self._job_layer]):
            self.status.setText(note)
            return
        maps, mask, skel, error = result
        self._forget_thresholding()  # of the earlier maps
        self.maps = None  # no slider request until the new layers are all there
        for control in (self.slider, self.f1_btn, self.heyn_btn):
            control.setEnabled(False)
        self.layers = yield from boundary_result_steps(
            self.viewer, self._job_layer, maps, skeletonize=skel, boundaries=mask,
            error=error)
        self.maps = maps
        self._requested = self._shown = (float(maps.threshold), skel)
        if self.layers.error is not None:  # napari connects a callback once
            self.layers.error.events.visible.connect(self._error_shown)
        self.slider.setEnabled(True)
        self.f1_btn.setEnabled(True)
        self.heyn_btn.setEnabled(maps.heyn_threshold is not None)
        self.slider.blockSignals(True)
        self.slider.setValue(round(float(maps.threshold) * SLIDER_STEPS))
        self.threshold_label.setText(f"{float(maps.threshold):.3f}")
        self.slider.blockSignals(False)
        if skel != self.skeletonize.isChecked():  # toggled while the job ran
            self._apply_slider()
        heyn = "" if maps.heyn_threshold is None else f", Heyn-calibrated {maps.heyn_threshold:.3f}"
        f1 = maps.threshold if maps.f1_threshold is None else maps.f1_threshold
        rule = ("" if maps.threshold_rule == "global"
                else f"operating point {maps.threshold_rule} {maps.threshold:.3f}, ")
        scale = maps.native_scale
        warn = "" if scale is None or not scale.warning else f"; warning: {scale.warning}"
        if self.token is not None and self.token.stop_requested:
            warn += "; " + late_cancel_note()  # the whole result, not "stopped"
        self.status.setText(self._forward.done_line(
            f"TTA {maps.tta}; {rule}max-F1 threshold {f1:.3f}{heyn}{warn}"))


def _checkpoint_tta(checkpoint) -> str:
    """The TTA mode a checkpoint uses by default (its config; "none" when unreadable)."""
    import json
    from pathlib import Path

    from ..edges._weights import default_checkpoint_path  # not edges.infer: it loads torch

    path = Path(checkpoint) if checkpoint else default_checkpoint_path()
    try:
        config = json.loads((path / CONFIG_NAME).read_text())
    except (OSError, ValueError):
        return "none"
    return str(config.get("tta", "none")) if isinstance(config, dict) else "none"
