"""Train & evaluate dock widget: SR training, UAED training and UAED evaluation jobs.

Jobs are queued; the next one starts when the running one finishes (or stops). The
train loss is plotted live from ``Metric`` events, the latest metrics fill a table,
and a UAED evaluation ends with its PR and ROC curves.
"""

from __future__ import annotations

import inspect
import itertools
import json
import os
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from qtpy.QtCore import QTimer
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..checkpoint import CHECKPOINT_CONTROL
from ..edges.config import CROP_CONTROL, ENCODER_CONTROL
from ..jobs import Checkpoint, Event, Metric, Stopped, StopToken, unknown_names_hint
from ..outputs import OUTPUT_FOLDER_CONTROL, OVERWRITE_CONTROL, RESUME_CONTROL
from ..sr.registry import TRAINABLE_MODELS
from ..sr.train import (
    BATCH_SIZE_CONTROL,
    DEVICE_CONTROL,
    EPOCHS_CONTROL,
    LR_CONTROL,
    PATCH_CONTROL,
    SCALE_CONTROL,
    STEPS_CONTROL,
)
from ._paths import absolute_output_path, layer_folder, typed_path
from ._qt import LayerCombo, RunNeedsLayersMixin, path_row
from ._worker import (
    DONE,
    FAILED,
    STOPPED,
    ProgressForwarder,
    ShutDownWhenClosedMixin,
    failed_line,
    start_job,
    user_action,
)
from .layers import WidgetInputError, is_micrograph_layer, layer_image_data, micrograph_data
from .sr_widget import DEVICES

__all__ = ["TrainEvaluateWidget", "JobSpec", "JOB_KINDS", "make_job", "stopped_line"]

SR_TRAIN, UAED_TRAIN, UAED_EVAL = "SR training", "UAED training", "UAED evaluation"
JOB_KINDS = (SR_TRAIN, UAED_TRAIN, UAED_EVAL)
SR_MODELS = TRAINABLE_MODELS  # one list: sr.registry
DATA_SOURCES = ("folder", "layers")
#: What each job keeps in its *Output folder* (the refusal of a job without one).
_SAVED_IN_OUT = {SR_TRAIN: "the trained checkpoints are",
                 UAED_TRAIN: "the trained checkpoints are",
                 UAED_EVAL: "the report (report.json, per_image.csv) and the PR/ROC "
                            "curves are"}
#: What *Start / queue* needs with data from layers (its tooltip while none).
NEEDS_TRAIN_IMAGE = "an image layer to train on"
NEEDS_TRAIN_MASK = "the boundary mask layer of the image (Labels or image)"

_ids = itertools.count(1)

#: A job as :func:`make_job` returns it: ``f(stop) -> generator`` of events.
JobFactory = Callable[[StopToken], Generator[Event, Any, Any]]


def _sr_defaults():
    """Default SR training settings (the config dataclass is the one source)."""
    from ..sr.train import SRTrainConfig

    return SRTrainConfig()


def _uaed_defaults():
    """Default boundary training settings (the config dataclass is the one source)."""
    from ..edges.config import BoundaryTrainConfig

    return BoundaryTrainConfig()


@dataclass
class JobSpec:
    """One queued job: its kind and options (see :func:`make_job`)."""

    kind: str
    options: dict[str, Any]
    id: int = field(default_factory=lambda: next(_ids))
    status: str = "queued"
    result: Any = None
    loss: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    metrics: dict[str, tuple[int, float]] = field(default_factory=dict)
    checkpoints: list[str] = field(default_factory=list)
    #: what the job said as it stopped (its :class:`~napari_srmat.jobs.Stopped`: what
    #: Stop kept); empty until then
    stop_note: str = ""

    @property
    def label(self) -> str:
        o = self.options
        what = o.get("model") or o.get("encoder") or o.get("checkpoint") or ""
        return f"#{self.id} {self.kind} {what} [{self.status}]"


def make_job(spec: JobSpec) -> JobFactory:
    """Job factory ``f(stop) -> generator`` for a :class:`JobSpec`.

    Options (all kinds): ``data`` (folder), ``out`` (output folder), ``extra`` (dict
    merged into the library config). Instead of ``data`` the training kinds take
    napari layer data: ``image`` (an array; SR trains on it as a high-resolution
    source) and, for UAED, ``mask`` (the boundary mask of ``image``; the same pair
    is used for validation). Both training kinds take ``checkpoint`` as the weights to
    fine-tune (``"default"`` = the shipped ones; empty = train from scratch). SR
    training: ``model``, ``scale``, ``steps``, ``lr``, ``batch_size``, ``crop`` ->
    :func:`napari_srmat.sr.train_sr_job`. UAED
    training: ``encoder``, ``epochs``, ``lr``, ``batch_size``, ``crop``, ``device`` ->
    :func:`napari_srmat.edges.train_boundaries_job` (``data`` holds
    ``train/{images,masks}`` and optionally ``val/``). UAED evaluation: ``checkpoint``
    (empty = shipped), ``split`` (default ``test``) ->
    :func:`napari_srmat.edges.evaluate_boundaries_job`, thresholds from ``val/`` when
    present; the report, per-image table and PR/ROC plots are written to ``out`` (none
    without it; the widget refuses a job without ``out``).

    The options are checked at once (a :class:`WidgetInputError`), except an
    evaluation's Extra keys, which are its function's: checked when the job starts. The
    library (torch) is imported only then, in the job's thread (``f(stop)``), never by
    ``make_job`` itself.
    """
    o = dict(spec.options)
    extra = dict(o.get("extra") or {})
    data = o.get("data") or None
    image = o.get("image")
    if data is None and image is None and spec.kind != UAED_EVAL:
        raise WidgetInputError("choose a data folder or an image layer to train on")
    if spec.kind == SR_TRAIN:
        d = _sr_defaults()
        cfg = {
            "model": o.get("model", d.model), "scale": int(o.get("scale", d.scale)),
            "out": o.get("out") or d.out,
            "data": [data] if data else [image],
            "steps": int(o.get("steps", d.steps)), "lr": float(o.get("lr", d.lr)),
            "batch_size": int(o.get("batch_size", d.batch_size)),
            "patch": int(o.get("crop", d.patch)), "device": o.get("device", d.device),
            "init_checkpoint": o.get("checkpoint") or None,
            "resume": bool(o.get("resume", d.resume)),
            "overwrite": bool(o.get("overwrite", d.overwrite)),
        }
        _check_options(extra, {f.name for f in fields(d)}, "SR training")
        cfg.update(extra)

        def sr_job() -> JobFactory:
            from ..sr import train_sr_job
            from ..sr.train import RESUME_RECORD, _earlier_run

            return _telling_rerun(lambda stop: train_sr_job(cfg, stop=stop), cfg["out"],
                                  bool(cfg["resume"]), RESUME_RECORD, _earlier_run)

        return _built_in_the_worker(sr_job)
    if spec.kind == UAED_TRAIN:
        d = _uaed_defaults()
        cfg = {
            "data_root": data, "out": o.get("out") or None,
            "encoder": o.get("encoder", d.encoder), "epochs": int(o.get("epochs", d.epochs)),
            "lr": float(o.get("lr", d.lr)), "batch_size": int(o.get("batch_size", d.batch_size)),
            "crop": int(o.get("crop", d.crop or 0)) or None, "device": o.get("device", d.device),
            "init_checkpoint": o.get("checkpoint") or None,
            "resume": bool(o.get("resume", d.resume)),
            "overwrite": bool(o.get("overwrite", d.overwrite)),
        }
        if data is None:
            mask = o.get("mask")
            if mask is None:
                raise WidgetInputError("UAED training from layers needs a boundary mask layer")
            cfg.update(train_images=[image], train_masks=[mask])
        # until 2026-12-07 left to the library: its TypeError was an internal error
        _check_options(extra, {f.name for f in fields(d)}, "UAED training")
        cfg.update(extra)

        def uaed_job() -> JobFactory:
            from ..edges import train_boundaries_job  # torch
            from ..edges.train import RESUME_RECORD, _earlier_run

            return _telling_rerun(lambda stop: train_boundaries_job(cfg, stop=stop),
                                  cfg["out"], bool(cfg["resume"]), RESUME_RECORD,
                                  _earlier_run)

        return _built_in_the_worker(uaed_job)
    if spec.kind == UAED_EVAL:
        if not data:
            raise WidgetInputError("UAED evaluation reads a data folder with "
                                   "<split>/images,masks (not layers)")
        root = Path(data)
        split = o.get("split", "test")
        kwargs: dict[str, Any] = {"checkpoint": o.get("checkpoint") or None,
                                  "out_dir": o.get("out") or None,
                                  "overwrite": bool(o.get("overwrite", False))}
        if (root / "val" / "images").is_dir() and split != "val":
            kwargs.update(val_images=root / "val" / "images", val_masks=root / "val" / "masks")

        def eval_job() -> JobFactory:
            from ..edges import evaluate_boundaries_job  # torch

            # its options are its signature's: checked where it is imported
            params = inspect.signature(evaluate_boundaries_job).parameters
            _check_options(extra, {n for n, p in params.items()
                                   if p.kind == p.KEYWORD_ONLY} - {"stop"}, "evaluation")
            return lambda stop: evaluate_boundaries_job(
                root / split / "images", root / split / "masks", stop=stop,
                **{**kwargs, **extra})

        return _built_in_the_worker(eval_job)
    raise WidgetInputError(f"unknown job kind {spec.kind!r}; choose one of {JOB_KINDS}")


def _built_in_the_worker(build: Callable[[], JobFactory]) -> JobFactory:
    """The job factory that ``build()`` returns, built when the job starts: in the job's
    thread (:func:`~napari_srmat.widgets._worker.start_job` calls the factory there), so
    the modules ``build`` imports (the trainings', the evaluation's: torch) are never
    imported on the GUI thread. Until 2026-12-07 :meth:`TrainEvaluateWidget.run` imported
    them there: the first *Start / queue* froze napari 4.5-6.3 s (s51 X1)."""
    return lambda stop: build()(stop)


def training_warnings(result: Any) -> list[str]:
    """The warnings a training's ``result`` carries of what it leaves: a UAED
    :class:`~napari_srmat.edges.train.TrainResult`'s ``warnings`` and the
    ``"warnings"`` of :func:`napari_srmat.sr.train_sr_job`'s dict (one shape, read
    either way); none without a result (a stopped job).

    Parameters
    ----------
    result : TrainResult, dict or None
        What the job returned.

    Returns
    -------
    list of str

    Examples
    --------
    >>> training_warnings({"step": 4, "warnings": ["no validation images: ..."]})
    ['no validation images: ...']
    >>> training_warnings(None)
    []
    """
    told = result.get("warnings") if isinstance(result, dict) else getattr(
        result, "warnings", None)
    return list(told or [])


def _data_bounds(loss: dict[str, list[tuple[int, float]]]) -> tuple[float, ...]:
    """``(x_min, x_max, y_min, y_max)`` of the loss curves' points (NaN skipped)."""
    import numpy as np

    pts = np.array([p for curve in loss.values() for p in curve], float)
    pts = pts[np.isfinite(pts).all(axis=1)]
    if not len(pts):
        return (0.0, 1.0, 0.0, 1.0)
    (x_lo, y_lo), (x_hi, y_hi) = pts.min(axis=0), pts.max(axis=0)
    return (float(x_lo), float(x_hi), float(y_lo), float(y_hi))


def stopped_line(note: str) -> str:
    """The status line's end for a job that stopped and said ``note`` (its
    :class:`~napari_srmat.jobs.Stopped` message, the words of its notification too): what
    Stop kept, after ``stopped`` unless ``note`` starts by saying it (``stopped …``,
    ``training stopped …``, ``evaluation stopped …``; until 2026-12-07 "stopped"
    anywhere, a path's too). Until 2026-12-07 the line read only ``stopped``, what was
    kept in the notification alone.

    Parameters
    ----------
    note : str
        The job's Stopped message.

    Returns
    -------
    str

    Examples
    --------
    >>> from napari_srmat.widgets.train_widget import stopped_line
    >>> stopped_line("stopped in epoch 2/6 before step 3/3; run/last holds epoch 1")
    'stopped in epoch 2/6 before step 3/3; run/last holds epoch 1'
    >>> stopped_line("checkpoint in run/last")
    'stopped: checkpoint in run/last'
    """
    said = note.lstrip().lower()
    return note if said.startswith(_STOPPED_STARTS) else f"{STOPPED}: {note}"


#: how a Stopped message that says it stopped starts (:func:`stopped_line`); until
#: 2026-12-07 "stopped" anywhere in it, a path's too (``…/stopped_runs/last``)
_STOPPED_STARTS = (STOPPED, f"training {STOPPED}", f"evaluation {STOPPED}")


def _telling_rerun(job: Callable[[StopToken], Generator[Event, Any, Any]], out: Any,
                   resume: bool, record: Any, earlier_run: Callable[[Path], str | None]
                   ) -> Callable[[StopToken], Generator[Event, Any, Any]]:
    """Training ``job`` (a factory, as :func:`make_job` returns) whose disk full carries
    the rerun the widget tells (``gui_rerun``, which
    :func:`napari_srmat.errors.error_message` says with ``gui``: the status line and the
    notification alike): what ``out`` holds once it failed, worded
    with the widget's controls (:func:`napari_srmat.cli._training.rerun_on_disk_full`
    with ``gui``, the one rule ``srmat``'s training commands tell too; ``record`` and
    ``earlier_run`` the training module's). Read in the job's thread. Without ``out``
    (nothing kept; an Extra ``{"out": null}``, which the job refuses in one line) the job
    as it is: no rerun to tell."""
    if not out:
        return job

    from ..cli._training import rerun_on_disk_full

    def run(stop: StopToken) -> Generator[Event, Any, Any]:
        with rerun_on_disk_full(out, record, earlier_run, resume=resume, gui=True):
            return (yield from job(stop))

    return run


def _check_options(extra: dict, known: set[str], what: str) -> None:
    """Refuse Extra (JSON) keys the job does not take, in one line, before the job
    runs (an unknown key reached the library as a TypeError,
    :func:`napari_srmat.sr.train.check_options`'s for the trainings: an "internal
    error" with a traceback); the widget's words and the option meant
    (:func:`napari_srmat.jobs.unknown_names_hint`, ``load_model``'s), for all three
    kinds."""
    unknown = sorted(set(extra) - known)
    if not unknown:
        return
    # the library's rule and wording (until 2026-12-07 difflib's alone: 'batch' named
    # 'patch')
    raise WidgetInputError(f"unknown {what} option(s) in Extra: {unknown}; "
                           f"{unknown_names_hint(unknown, known)}")


#: The loss plot is drawn at most once in this time (ms): a draw (matplotlib's Agg, on
#: the GUI thread) took 0.65-1.8 s with its layout on a loaded machine, and a training's
#: loss events come faster (s51 X1: 4 stalls > 0.15 s in a 60-step SR training).
REDRAW_INTERVAL_MS: int = 250
#: A loss curve of fewer points than this marks each point.
MARKER_POINTS_MAX: int = 50

#: The metric table's step column before a job's first Metric: Metric's own default
#: unit ("step").
DEFAULT_STEP_UNIT: str = Metric.unit


class TrainEvaluateWidget(ShutDownWhenClosedMixin, RunNeedsLayersMixin, QWidget):
    """Queue SR / UAED training and UAED evaluation jobs with live loss curves.

    ``run()`` queues a job from the form (and starts it when idle) and returns the
    running worker; ``enqueue(spec)`` queues a :class:`JobSpec`; ``stop()`` stops the
    running job (the queue goes on); ``clear_queue()`` drops jobs not started yet.
    """

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.worker = None
        self.token: StopToken | None = None
        self.queue: list[JobSpec] = []
        self.current: JobSpec | None = None
        self.finished_jobs: list[JobSpec] = []
        self.loss: dict[str, list[tuple[int, float]]] = {}
        self.metrics: dict[str, tuple[int, float]] = {}
        self.step_unit = DEFAULT_STEP_UNIT  # the running job's Metric.unit (_step_unit)
        self.checkpoints: list[str] = []

        self.kind = QComboBox()
        self.kind.addItems(JOB_KINDS)
        self.source = QComboBox()
        self.source.addItems(DATA_SOURCES)
        self.image_layer = LayerCombo(self.viewer, ("image",), predicate=is_micrograph_layer)
        # the image's mask: any labels or image layer but the image chosen (one layer as
        # both was offered, Start enabled, and refused on the click); re-listed when the
        # image choice changes
        self.mask_layer = LayerCombo(self.viewer, ("labels", "image"),
                                     predicate=self._is_mask_candidate)
        self.image_layer.native.currentTextChanged.connect(self.mask_layer.refresh)
        self.data = QLineEdit()
        self.data.setPlaceholderText("data folder (train/, val/, test/ with images/, masks/)")
        self.model = QComboBox()
        self.steps = QSpinBox()
        self.steps.setRange(1, 10_000_000)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(6)
        self.lr.setRange(1e-6, 1.0)
        self.lr.setSingleStep(1e-4)
        self.batch = QSpinBox()
        self.batch.setRange(1, 1024)
        self.crop = QSpinBox()
        self.crop.setRange(0, 4096)
        self.scale = QComboBox()
        self.scale.addItems(["4", "2"])
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.checkpoint = QLineEdit()
        self.out = QLineEdit()
        self.out.setPlaceholderText("output folder (checkpoints / report); a bare name goes "
                                    "beside the data")
        self.resume = QCheckBox(RESUME_CONTROL)
        self.resume.setToolTip("training: continue the run in the output folder from its "
                               "last state (the same settings and data)")
        self.overwrite = QCheckBox(OVERWRITE_CONTROL)
        self.overwrite.setToolTip("training: start over, replacing the run in the output "
                                  "folder; evaluation: replace the earlier evaluation there")
        # one or the other: both ticked, the training resumed without a word
        for box, other in ((self.resume, self.overwrite), (self.overwrite, self.resume)):
            box.toggled.connect(lambda on, other=other: other.setChecked(False) if on else None)
        self.extra = QLineEdit()
        self.extra.setPlaceholderText('extra options as JSON, e.g. {"steps_per_epoch": 10}')

        self.run_btn = QPushButton("Start / queue")
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setEnabled(False)
        self.clear_btn = QPushButton("Clear queue")
        self.queue_list = QListWidget()
        self.queue_list.setMaximumHeight(90)
        self.progress = QProgressBar()
        self.status = QLabel("idle")
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["metric", "step", "value"])
        self.table.verticalHeader().setVisible(False)
        self.table.setMaximumHeight(160)

        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        # laid out once per plot (_draw_now), not on every draw: a tight layout is a
        # second draw (until 2026-12-07 the figure's layout engine, each redraw)
        self.figure = Figure(figsize=(4, 2.6))
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(200)
        self._lines: dict[str, Any] = {}  # the loss curves drawn, by split (_sync_lines)
        self._loss_axes: Any = None  # the loss plot's axes; None while the eval's curves show
        self._layout_due = True
        self._background: Any = None  # the loss plot without its curves (_on_full_draw)
        self.canvas.mpl_connect("draw_event", self._on_full_draw)
        # a new size (a resize, an undock) lays the figure out again: its tick labels
        # were cut off at the left of a narrowed canvas (until 2026-12-07 laid out only
        # when a curve was added)
        self.canvas.mpl_connect("resize_event", lambda _e: self._redraw(layout=True))
        self._last_draw = float("-inf")  # time.monotonic() of the last redraw
        #: at most one redraw in this time (ms); the widget's copy of REDRAW_INTERVAL_MS
        self.redraw_interval_ms = REDRAW_INTERVAL_MS
        # redraws are coalesced by a timer this widget owns: a redraw still pending when
        # napari deletes the dock widget dies with it (matplotlib's draw_idle would fire
        # on the deleted canvas and print a traceback)
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.timeout.connect(self._draw_now)
        self._reset_plot()

        self.form = QFormLayout()
        self.form.addRow("Job", self.kind)
        self.form.addRow("Data from", self.source)
        self.form.addRow("Data folder", path_row(self.data, "Data folder"))
        self.form.addRow("Image layer", self.image_layer.native)
        self.form.addRow("Mask layer", self.mask_layer.native)
        self.form.addRow(ENCODER_CONTROL, self.model)
        self.steps_label = QLabel(EPOCHS_CONTROL)
        self.form.addRow(self.steps_label, self.steps)
        self.form.addRow(LR_CONTROL, self.lr)
        self.form.addRow(BATCH_SIZE_CONTROL, self.batch)
        self.crop_label = QLabel(CROP_CONTROL)
        self.form.addRow(self.crop_label, self.crop)
        self.form.addRow(SCALE_CONTROL, self.scale)
        self.form.addRow(DEVICE_CONTROL, self.device)
        self.form.addRow(CHECKPOINT_CONTROL, path_row(self.checkpoint, CHECKPOINT_CONTROL))
        self.form.addRow(OUTPUT_FOLDER_CONTROL, path_row(self.out, OUTPUT_FOLDER_CONTROL))
        runs = QHBoxLayout()
        runs.addWidget(self.resume)
        runs.addWidget(self.overwrite)
        self.form.addRow("Earlier run there", runs)
        self.form.addRow("Extra (JSON)", self.extra)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_btn)
        buttons.addWidget(self.stop_btn)
        buttons.addWidget(self.clear_btn)
        lay = QVBoxLayout(self)
        lay.addLayout(self.form)
        lay.addLayout(buttons)
        lay.addWidget(self.queue_list)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        lay.addWidget(self.canvas)
        lay.addWidget(self.table)

        self.kind.currentTextChanged.connect(self._kind_changed)
        self.source.currentTextChanged.connect(lambda _=None: self._source_changed())
        self.run_btn.clicked.connect(user_action(self.run, self.status))
        self.stop_btn.clicked.connect(self.stop)
        self.clear_btn.clicked.connect(user_action(self.clear_queue, self.status))
        self._forward = ProgressForwarder(self.progress, self.status)
        # gated only while the data come from layers (missing_layers); the kind and the
        # source re-gate it (_source_changed)
        self._need_layers((self.run_btn,), ((self.image_layer, NEEDS_TRAIN_IMAGE),
                                            (self.mask_layer, NEEDS_TRAIN_MASK)))
        self._kind_changed(self.kind.currentText())

    # ------------------------------------------------------------------ form
    def _kind_changed(self, kind: str) -> None:
        self.model.clear()
        if kind == SR_TRAIN:
            self.model.addItems(SR_MODELS)
            self.steps_label.setText(STEPS_CONTROL)
            d = _sr_defaults()
            self.steps.setValue(d.steps)
            self.lr.setValue(d.lr)
            self.batch.setValue(d.batch_size)
            self.crop.setValue(d.patch)
            self.crop_label.setText(PATCH_CONTROL)
        elif kind == UAED_TRAIN:
            from ..edges.config import ENCODER_NAMES  # torch-free (edges.model is not)

            self.model.addItems(list(ENCODER_NAMES))
            self.steps_label.setText(EPOCHS_CONTROL)
            d = _uaed_defaults()
            self.steps.setValue(d.epochs)
            self.lr.setValue(d.lr)
            self.batch.setValue(d.batch_size)
            self.crop.setValue(d.crop or 0)
            self.crop_label.setText(CROP_CONTROL)
        self.model.setEnabled(kind != UAED_EVAL)
        # an evaluation resumes nothing; its Overwrite replaces an earlier evaluation
        self.resume.setEnabled(kind != UAED_EVAL)
        for w in (self.steps, self.lr, self.batch, self.crop, self.scale):
            w.setEnabled(kind != UAED_EVAL)
        self.scale.setEnabled(kind == SR_TRAIN)
        self.checkpoint.setPlaceholderText(
            "checkpoint to evaluate (empty = shipped)" if kind == UAED_EVAL else
            "fine-tune from: 'default' = shipped weights, or a checkpoint (empty = scratch)")
        if kind == UAED_EVAL:
            self.source.setCurrentText(DATA_SOURCES[0])
        self.source.setEnabled(kind != UAED_EVAL)
        self._source_changed()

    def _source_changed(self) -> None:
        layers = self.source.currentText() == DATA_SOURCES[1]
        self.data.setEnabled(not layers)
        self.image_layer.native.setEnabled(layers)
        self.mask_layer.native.setEnabled(layers and self.kind.currentText() == UAED_TRAIN)
        self._gate_run()

    def _is_mask_candidate(self, layer) -> bool:
        """Whether the *Mask layer* list offers ``layer``: not the image layer chosen."""
        return layer is not self.image_layer.value

    def _from_layers(self) -> bool:
        """Whether the job reads its data from layers (the "layers" source; an
        evaluation never does)."""
        return (self.source.currentText() == DATA_SOURCES[1]
                and self.kind.currentText() != UAED_EVAL)

    def missing_layers(self) -> list[str]:
        """What *Start / queue* still needs: with data from layers, the image layer (and
        for boundary training its mask layer); with a data folder, nothing."""
        if not self._from_layers():
            return []
        needs = [(self.image_layer, NEEDS_TRAIN_IMAGE)]
        if self.kind.currentText() == UAED_TRAIN:
            needs.append((self.mask_layer, NEEDS_TRAIN_MASK))
        return [what for combo, what in needs if combo.value is None]

    def current_spec(self) -> JobSpec:
        """A :class:`JobSpec` from the form."""
        kind = self.kind.currentText()
        text = self.extra.text().strip()
        try:
            extra = json.loads(text) if text else {}
        except json.JSONDecodeError as exc:
            raise WidgetInputError(f"extra options are not valid JSON: {exc}") from None
        if not isinstance(extra, dict):
            raise WidgetInputError("extra options must be a JSON object")
        from_layers = self._from_layers()
        o: dict[str, Any] = {
            "data": None if from_layers else typed_path(self.data.text()),
            "out": typed_path(self.out.text()),
            "lr": self.lr.value(),
            "batch_size": self.batch.value(),
            "crop": self.crop.value(),
            "device": self.device.currentText(),
            "extra": extra,
        }
        if from_layers:
            img_layer = self.image_layer.value
            if img_layer is None:
                raise WidgetInputError(f"select {NEEDS_TRAIN_IMAGE}")
            o["image"] = micrograph_data(img_layer)
            if kind == UAED_TRAIN:
                mask_layer = self.mask_layer.value
                if mask_layer is None or mask_layer is img_layer:
                    raise WidgetInputError(f"select {NEEDS_TRAIN_MASK}")
                o["mask"] = layer_image_data(mask_layer)
        if o["out"] is not None:
            # never napari's working folder: beside the data folder (or the image
            # layer's file), else home; the field shows where the job writes
            if from_layers:
                beside = layer_folder(self.image_layer.value)
            else:
                beside = Path(o["data"]).absolute().parent if o["data"] else None
            out = absolute_output_path(o["out"], beside=beside)
            self.out.setText(str(out))
            o["out"] = str(out)
        o["checkpoint"] = typed_path(self.checkpoint.text())
        if kind in (SR_TRAIN, UAED_TRAIN):
            o.update(resume=self.resume.isChecked())
        # an evaluation's too: an earlier evaluation in its output folder is replaced
        # only with it (until 2026-12-07 not passed: refused, with advice it can't follow)
        o.update(overwrite=self.overwrite.isChecked())
        if kind == SR_TRAIN:
            o.update(model=self.model.currentText(), steps=self.steps.value(),
                     scale=int(self.scale.currentText()))
        elif kind == UAED_TRAIN:
            o.update(encoder=self.model.currentText(), epochs=self.steps.value())
        return JobSpec(kind, o)

    # ------------------------------------------------------------------ queue
    @property
    def is_running(self) -> bool:
        return self.current is not None

    def run(self):
        """Queue a job from the form; start it if nothing runs. Returns the running worker."""
        return self.enqueue(self.current_spec())

    def enqueue(self, spec: JobSpec):
        """Queue ``spec``; start it if nothing runs. Returns the running worker."""
        if spec.kind not in JOB_KINDS:
            raise WidgetInputError(f"unknown job kind {spec.kind!r}")
        out = spec.options.get("out")
        if not out:
            # UAED training without one keeps nothing; SR training would write into
            # napari's working folder, wherever napari was started; an evaluation wrote
            # into a temporary folder it never named nor removed
            raise WidgetInputError(f"{spec.kind}: choose an output folder; "
                                   f"{_SAVED_IN_OUT[spec.kind]} saved there")
        for other in [*([self.current] if self.current else []), *self.queue]:
            theirs = other.options.get("out")
            if out and theirs and Path(out).resolve() == Path(theirs).resolve():
                # two jobs writing one folder would mix (or refuse) each other's checkpoints
                raise WidgetInputError(
                    f"job #{other.id} ({other.status}) already writes to {out}: choose "
                    "another output folder")
        self.queue.append(spec)
        self._refresh_queue()
        if self.current is None:
            self._start_next()
        return self.worker

    def stop(self) -> None:
        """Stop the running job at its next safe point (queued jobs still run)."""
        if self.token is not None and self.current is not None:
            self.token.request_stop()
            self.current.status = "stopping"
            self._refresh_queue()

    def clear_queue(self) -> None:
        """Drop the jobs that have not started."""
        for spec in self.queue:
            spec.status = "cancelled"
        self.queue.clear()
        self._refresh_queue()

    def _refresh_queue(self) -> None:
        self.queue_list.clear()
        for spec in [*self.finished_jobs[-5:], *([self.current] if self.current else []),
                     *self.queue]:
            self.queue_list.addItem(spec.label)

    def _start_next(self) -> None:
        if not self.queue:
            self.stop_btn.setEnabled(False)
            return
        spec = self.queue.pop(0)
        try:
            factory = make_job(spec)
        except Exception as exc:  # noqa: BLE001 - a bad job must not block the queue
            from napari.utils.notifications import show_error

            from ..errors import error_message

            spec.status = FAILED
            spec.result = exc
            self.finished_jobs.append(spec)
            show_error(f"napari-srmat: {error_message(exc, gui=True)}")
            # the why stays in view (the status showed the previous job's outcome)
            self.status.setText(f"{spec.kind}: {failed_line(exc)}")
            self._refresh_queue()
            self._start_next()
            return
        self.current = spec
        spec.status = "running"
        self.loss = spec.loss
        self.metrics = spec.metrics
        self.step_unit = DEFAULT_STEP_UNIT
        self._reset_plot()
        self._update_table()  # the previous job's metrics are not this job's
        self.progress.setValue(0)
        self._forward.new_job()  # a message of the previous job is told again
        self.status.setText(f"{spec.kind}: starting…")
        self.stop_btn.setEnabled(True)
        self.worker, self.token = start_job(
            factory,
            on_event=self._on_event,
            on_result=self._on_result,
            on_error=self._on_error,
            on_finished=self._on_finished,
            owner=self,
        )
        self._refresh_queue()

    def _on_result(self, result) -> None:
        spec = self.current
        if spec is None:
            return
        spec.result = result
        stopped = (result is None or (isinstance(result, dict) and result.get("stopped"))
                   or getattr(result, "stopped", False))
        spec.status = STOPPED if stopped or spec.status == "stopping" else DONE
        if spec.kind == UAED_EVAL and isinstance(result, dict):
            self._show_eval(result)

    def _on_error(self, exc: BaseException) -> None:
        if self.current is not None:
            self.current.status = FAILED
            self.current.result = exc

    def _on_finished(self) -> None:
        spec = self.current
        if spec is not None:
            if spec.status in ("running", "stopping"):  # no result came
                # Stop, or the token a worker.quit() stopped (start_job)
                stopped = spec.status == "stopping" or (self.token is not None
                                                        and self.token.stop_requested)
                spec.status = STOPPED if stopped else DONE
            self.finished_jobs.append(spec)
            if spec.status == FAILED and isinstance(spec.result, BaseException):
                end = failed_line(spec.result)  # the why stays in view
            elif spec.status == DONE:  # a resumed run says so (Progress.resumed); a
                # training's warnings on its result (a threshold that marks every pixel
                # boundary, an SR run without validation: training_warnings) stay in
                # view, beside their notification
                # (an evaluation's are its report's, not told here)
                end = self._forward.done_line("; ".join(
                    training_warnings(spec.result) if spec.kind != UAED_EVAL else []))
            elif spec.status == STOPPED and spec.stop_note:
                end = stopped_line(spec.stop_note)
            else:
                end = spec.status
            self.status.setText(f"{spec.kind}: {end}")
        self.current = None
        self._refresh_queue()
        self._start_next()

    def shut_down(self) -> None:
        """The dock is going away: drop the queued jobs and stop the running one."""
        self.clear_queue()
        self.stop()

    # ------------------------------------------------------------------ events
    def _step_unit(self) -> str:
        """What the table's second column counts for the running job: the ``unit`` of
        its latest :class:`~napari_srmat.jobs.Metric` (the one rule ``told_step`` reads:
        a UAED training's ``"epoch"``, from 1 as its status line ``epoch 2/6`` and its
        log lines); ``"step"`` before any. Until 2026-12-07 decided by the job's kind."""
        return self.step_unit

    def _on_event(self, event: Event) -> None:
        self._forward(event)
        if isinstance(event, Metric):
            # the UAED epochs as the status line counts them (until 2026-12-07 the table
            # read "step 1" beside "epoch 2/6"): the one rule, jobs.told_epoch
            step = int(event.told_step)
            self.step_unit = event.unit
            for name, value in event.values.items():
                key = f"{event.split} {name}"
                self.metrics[key] = (step, float(value))
                if name == "loss":
                    self.loss.setdefault(event.split, []).append((step, float(value)))
            self._update_table()
            if "loss" in event.values:
                self._update_plot()
        elif isinstance(event, Stopped):
            if self.current is not None:  # the status line tells it at the end
                self.current.stop_note = event.message
        elif isinstance(event, Checkpoint):
            self.checkpoints.append(event.path)
            if self.current is not None:
                self.current.checkpoints.append(event.path)

    def _update_table(self) -> None:
        rows = sorted(self.metrics.items())
        self.table.setHorizontalHeaderItem(1, QTableWidgetItem(self._step_unit()))
        self.table.setRowCount(len(rows))
        for i, (name, (step, value)) in enumerate(rows):
            self.table.setItem(i, 0, QTableWidgetItem(name))
            self.table.setItem(i, 1, QTableWidgetItem(str(step)))
            self.table.setItem(i, 2, QTableWidgetItem(f"{value:.4g}"))

    def _redraw(self, layout: bool = False) -> None:
        """Draw the figure soon: at most one redraw pending, at most one per
        :attr:`redraw_interval_ms` (loss events of a fast training came faster than the
        GUI thread drew them, each draw laid out: 0.65-1.8 s a redraw on a loaded
        machine, s51 X1); ``layout`` lays the figure out first (a new plot, a new curve)."""
        self._layout_due = self._layout_due or layout
        # a job event may arrive after napari closed the dock widget (its Qt objects
        # are gone then): nothing to draw
        try:
            if self._redraw_timer.isActive():
                return  # the pending redraw draws what is there then
            since_ms = (time.monotonic() - self._last_draw) * 1000.0
            self._redraw_timer.start(int(max(0.0, self.redraw_interval_ms - since_ms)))
        except RuntimeError:
            pass

    def _draw_now(self) -> None:
        """The pending redraw: the curves' new points only (a blit on the plot kept
        without them, :meth:`_on_full_draw`), or the whole figure where a curve was
        added, the axes' limits changed or a layout is due."""
        self._last_draw = time.monotonic()
        try:
            full = self._sync_lines() or self._background is None
            if self._layout_due:
                self._layout_due, full = False, True
                self.figure.tight_layout()
            ax = self._loss_axes
            if full or ax is None:
                self.canvas.draw()
                return
            self.canvas.restore_region(self._background)
            for line in self._lines.values():
                ax.draw_artist(line)
            self.canvas.blit(ax.bbox)
        except RuntimeError:
            pass

    def _on_full_draw(self, _event: Any = None) -> None:
        """After any draw of the whole figure (ours, a resize's): keep the loss plot
        without its curves (they are ``animated``: left out of it) for the blits, then
        draw the curves on it."""
        ax = self._loss_axes
        self._background = None
        if ax is None:
            return
        self._background = self.canvas.copy_from_bbox(ax.bbox)
        for line in self._lines.values():
            ax.draw_artist(line)

    def _reset_plot(self) -> None:
        self.figure.clear()
        self._lines, self._background = {}, None
        self.ax = self._loss_axes = self.figure.add_subplot(111)
        self.ax.set_xlabel("step / epoch")
        self.ax.set_ylabel("loss")
        self.ax.set_title("training loss", fontsize=9)
        self._redraw(layout=True)

    def _update_plot(self) -> None:
        """A loss came: the curves are updated when the figure is next drawn
        (:meth:`_sync_lines`), not per event."""
        self._redraw()

    def _sync_lines(self) -> bool:
        """Bring the loss curves to :attr:`loss`: each split's line gets its points
        (``set_data``; until 2026-12-07 the axes were cleared and every curve plotted
        again on each loss); a new split adds its line and the legend, and the figure is
        laid out again. The axes' limits leave room for the points to come and change
        only when a point falls outside them or the curves fill less than 1/4 of their
        height. Returns whether the whole figure must be drawn (a new curve, new
        limits)."""
        ax = self._loss_axes
        if ax is None or not self.loss:
            return False
        full = False
        for split, pts in self.loss.items():
            line = self._lines.get(split)
            marker = "." if len(pts) < MARKER_POINTS_MAX else "None"
            if line is None:
                (line,) = ax.plot([], [], label=split, marker=marker, animated=True)
                self._lines[split] = line
                self._layout_due = full = True
            elif line.get_marker() != marker:  # the legend shows it too
                line.set_marker(marker)
                full = True
            line.set_data(*zip(*pts))
        if full:
            ax.legend(fontsize=8)
        x_lo, x_hi, y_lo, y_hi = _data_bounds(self.loss)
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        fits = x0 <= x_lo and x_hi <= x1 and y0 <= y_lo and y_hi <= y1
        if not fits or (y1 - y0) > 4 * max(y_hi - y_lo, 1e-12):
            ax.set_xlim(x_lo, x_hi + max(1.0, 0.5 * (x_hi - x_lo)))
            pad = 0.1 * (y_hi - y_lo) or 0.1 * abs(y_hi) or 0.1
            ax.set_ylim(y_lo - pad, y_hi + pad)
            # new limits, new tick labels (wider ones too): laid out again
            self._layout_due = full = True
        return full

    def _show_eval(self, report: dict) -> None:
        """Replace the loss plot with the evaluation's PR and ROC curves."""
        import matplotlib.image as mpimg

        outputs = report.get("outputs") or {}
        self.figure.clear()
        self._loss_axes, self._lines, self._background = None, {}, None
        for i, key in enumerate(("pr_png", "roc_png")):
            ax = self.figure.add_subplot(1, 2, i + 1)
            ax.axis("off")
            path = outputs.get(key)
            if path and os.path.exists(path):
                ax.imshow(mpimg.imread(path))
        self._redraw(layout=True)
        for name in ("ap", "roc_auc", "f1", "threshold", "heyn_error_pct"):
            if isinstance(report.get(name), (int, float)):
                self.metrics[f"test {name}"] = (0, float(report[name]))
        self._update_table()
