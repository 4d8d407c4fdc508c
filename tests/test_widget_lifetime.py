"""A closed dock widget is freed: nothing it connected, nor a job it ran, keeps it alive."""

from __future__ import annotations

import gc
import time
import weakref
from importlib.resources import files

import numpy as np
import pytest

pytest.importorskip("napari")
npe2 = pytest.importorskip("npe2")

from napari_srmat.jobs import Progress  # noqa: E402
from napari_srmat.widgets import train_widget  # noqa: E402
from napari_srmat.widgets._worker import SingleJobMixin  # noqa: E402
from napari_srmat.widgets.heyn_widget import GrainSizeWidget  # noqa: E402
from napari_srmat.widgets.workbench import WORKBENCH_TABS, WorkbenchWidget  # noqa: E402

pytestmark = pytest.mark.gui

#: The manifest's dock widgets (napari.yaml), the workbench first.
DOCK_WIDGETS = (WorkbenchWidget, *(cls for _title, _attr, cls in WORKBENCH_TABS))
#: The panels a dock widget holds: the workbench's tabs, the grain-size widget's tabs.
PANELS = {WorkbenchWidget: tuple(attr for _title, attr, _cls in WORKBENCH_TABS),
          GrainSizeWidget: ("simple", "specimen", "report")}
#: How long a test job runs when nothing stops it (s): far longer than a stop takes.
JOB_CAP_S = 20.0


def _parts(widget) -> list:
    """``widget`` and every panel it holds, theirs too."""
    parts = [widget]
    for attr in PANELS.get(type(widget), ()):
        parts += _parts(getattr(widget, attr))
    return parts


def _alive(refs: dict, qtbot) -> list[str]:
    """The names of ``refs`` whose object is still alive once Qt has deleted what it was
    asked to (deleteLater: a removed dock, a disconnected slot) and the garbage collector
    has run."""
    for _ in range(3):
        qtbot.wait(10)
        gc.collect()
    return [name for name, ref in refs.items() if ref() is not None]


def _refs(widget) -> dict:
    return {f"{type(part).__name__}#{i}": weakref.ref(part)
            for i, part in enumerate(_parts(widget))}


def test_every_dock_widget_of_the_manifest_is_tested_here():
    manifest = npe2.PluginManifest.from_file(str(files("napari_srmat") / "napari.yaml"))
    widgets = {c.python_name.rsplit(":", 1)[1] for c in manifest.contributions.commands
               if c.python_name and "widgets." in c.python_name}
    assert widgets == {cls.__name__ for cls in DOCK_WIDGETS}


@pytest.mark.parametrize("how", ["closed", "dock removed"])
@pytest.mark.parametrize("kind", DOCK_WIDGETS, ids=lambda cls: cls.__name__)
def test_a_closed_dock_widget_and_its_panels_are_freed(make_napari_viewer, qtbot, kind,
                                                       how):
    """A closed grain-size widget lived for the session (and with it its Simple, Specimen
    and Report tabs, and the workbench's Grain size tab): its Report panel held it
    strongly, a cycle through Qt's parent (which holds a child by a reference the garbage
    collector does not see) never collected; its Specimen panel connected a lambda to the
    viewer's layer insertions, which napari holds strongly. Every dock widget of the
    manifest and every panel in it is freed now, closed or its dock removed, layers
    added after."""
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((40, 30), np.uint8), name="image")
    viewer.add_labels(np.zeros((40, 30), np.uint8), name="labels")
    widget = kind(viewer)
    refs = _refs(widget)
    if how == "closed":
        widget.close()
    else:
        viewer.window.add_dock_widget(widget, name=kind.__name__)
        qtbot.wait(10)
        viewer.window.remove_dock_widget(widget)
    del widget
    viewer.add_image(np.zeros((40, 30), np.uint8), name="added after")
    assert _alive(refs, qtbot) == []


def _until_stopped(stopped: dict, key: str):
    """A job that runs until it is told to stop; ``stopped[key]`` says it was told."""

    def job(stop):
        deadline = time.monotonic() + JOB_CAP_S
        while not stop and time.monotonic() < deadline:
            yield Progress(0, 1, stage="waiting")
            time.sleep(0.01)
        stopped[key] = bool(stop)

    return job


def _start_jobs(widget, stopped: dict, tmp_path, monkeypatch) -> int:
    """Start a job in every panel of ``widget`` that runs one; return how many."""
    n = 0
    for i, part in enumerate(_parts(widget)):
        key = f"{type(part).__name__}#{i}"
        if isinstance(part, train_widget.TrainEvaluateWidget):
            job = _until_stopped(stopped, key)
            monkeypatch.setattr(train_widget, "make_job", lambda spec, job=job: job)
            part.enqueue(train_widget.JobSpec(train_widget.SR_TRAIN,
                                              {"data": str(tmp_path), "out": str(tmp_path)}))
        elif isinstance(part, SingleJobMixin):
            part._start_single_job(_until_stopped(stopped, key), on_result=lambda _: None)
        else:
            continue
        n += 1
    return n


@pytest.mark.parametrize("kind", [cls for cls in DOCK_WIDGETS
                                  if cls.__name__ != "CalibrationWidget"],
                         ids=lambda cls: cls.__name__)
def test_a_widget_closed_while_its_jobs_run_stops_them_and_is_freed(
        make_napari_viewer, qtbot, tmp_path, monkeypatch, kind):
    """A widget closed while a job ran told the job to stop, but lived on for the session
    once the job had ended: the worker, still its ``worker``, held its callbacks by Qt
    connections the garbage collector does not see (start_job). Each job of the closed
    widget (every tab's) is told to stop, and the widget is freed once they ended."""
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((40, 30), np.uint8), name="image")
    widget = kind(viewer)
    stopped: dict[str, bool] = {}
    n = _start_jobs(widget, stopped, tmp_path, monkeypatch)
    assert n >= 1
    qtbot.wait(50)
    refs = _refs(widget)
    widget.close()
    del widget
    qtbot.waitUntil(lambda: len(stopped) == n, timeout=int(JOB_CAP_S * 1000 * 1.5))
    assert all(stopped.values()), stopped  # told to stop, not run out
    assert _alive(refs, qtbot) == []


def test_a_deleted_rescan_plan_layer_is_freed(make_napari_viewer, qtbot):
    """The rescan plan's follower (follow_rescan_plan), connected to its LR layer's
    calibration events, held the plan's Shapes layer and the viewer strongly until that
    layer's next calibration event: a deleted plan layer stayed alive. It holds neither
    now; the LR's next calibration disconnects it, raising nothing."""
    from napari_srmat.sr.rescan import RescanPlan
    from napari_srmat.widgets.layers import CALIBRATION_EVENTS, add_rescan_plan

    viewer = make_napari_viewer()
    lr = viewer.add_image(np.zeros((128, 128), np.float32), name="lr")
    plan = RescanPlan([[0, 32, 32, 96]], [0.1], 0.25, 0.31, 0.69, 4, 0.25, 1.0, 32,
                      "flips", "", "cnn", [128, 128], 0.5)

    def followers() -> list[str]:
        return [key for key in CALIBRATION_EVENTS for cb in getattr(lr.events, key).callbacks
                if getattr(cb, "__qualname__", "").startswith("follow_rescan_plan.")]

    shapes = add_rescan_plan(viewer, lr, plan)
    assert followers() == list(CALIBRATION_EVENTS)
    ref = weakref.ref(shapes)
    viewer.layers.remove(shapes)
    del shapes
    assert _alive({"rescan plan": ref}, qtbot) == []
    lr.scale = (0.5, 0.5)  # its next calibration: the follower lets go
    assert followers() == []


def test_an_audit_widget_that_showed_a_boundary_overlay_is_freed(make_napari_viewer,
                                                                  qtbot, tmp_path):
    """The Audit widget's boundary overlay runs in a worker (kept as ``_overlay_worker``,
    and in napari's task list) whose ``returned`` / ``errored`` slots were lambdas holding
    the widget: Qt holds a slot by a reference the garbage collector does not see, so a
    closed Audit widget that had shown an overlay lived for the session. The slots hold
    it weakly now; the overlay is still shown while it is open."""
    from napari_srmat.audit.detector import Candidate
    from napari_srmat.audit.session import AuditSession
    from napari_srmat.widgets.audit_widget import AuditWidget

    viewer = make_napari_viewer()
    lr = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    sr = np.kron(lr, np.ones((4, 4), np.uint8))
    viewer.add_image(lr, name="lr")
    viewer.add_image(sr, name="sr")
    widget = AuditWidget(viewer)
    widget.lr_combo.setCurrentText("lr")
    widget.sr_combo.setCurrentText("sr")
    cands = [Candidate(id=1, bbox=[10, 20, 30, 40], score=50.0, kind="new_boundary",
                       new_boundary_length_px=12.0)]
    widget.set_session(AuditSession.create(lr, sr, cands), tmp_path / "audit.json")
    widget.overlay_check.setChecked(True)
    qtbot.waitUntil(lambda: "LR-up boundaries" in viewer.layers, timeout=30_000)
    worker = widget._overlay_worker
    qtbot.waitUntil(lambda: not worker.is_running, timeout=30_000)
    refs = {"AuditWidget": weakref.ref(widget)}
    widget.close()
    del widget
    assert _alive(refs, qtbot) == []


class _Inputs:
    """What a widget's job closure holds (its images), weakly referable."""


@pytest.mark.parametrize("how", ["returned", "quit"])
def test_a_finished_jobs_inputs_are_freed(make_napari_viewer, qtbot, how):
    """napari keeps every worker it made for the viewer's session (its task list holds
    each worker's ``quit``), and the worker held start_job's thread function, whose
    closure held the job's ``make_generator``: the images a widget's job closed over
    (a super-resolution input, a Heyn source) lived for the session, after the job had
    ended and their layers were deleted. They are freed once the job ends, returned or
    quit; napari's list still grows by one small worker per job."""
    from napari_srmat.widgets._worker import start_job

    make_napari_viewer()  # napari registers a worker with the current viewer's window
    inputs = _Inputs()
    ref = weakref.ref(inputs)
    ended: list[bool] = []

    def job(stop, held):
        for k in range(3):
            yield Progress(k, 3, stage="tiles")
        return k

    worker, _ = start_job(lambda stop, held=inputs: job(stop, held),
                          on_finished=lambda: ended.append(True))
    if how == "quit":
        worker.quit()
    qtbot.waitUntil(lambda: bool(ended), timeout=10_000)
    del worker, inputs
    assert _alive({"job inputs": ref}, qtbot) == []


def test_a_function_workers_arguments_are_freed_once_it_returned(make_napari_viewer, qtbot):
    """The same for a widget's one-call worker (the Audit overlay's crops of the LR and SR
    images, a threshold slider's maps): napari's worker kept its arguments for the
    session; ``start_function`` holds them until the call only."""
    from napari_srmat.widgets._worker import start_function

    make_napari_viewer()
    inputs = _Inputs()
    ref = weakref.ref(inputs)
    got: list[int] = []
    worker = start_function(lambda held, n: n + 1, (inputs, 1), on_returned=got.append)
    qtbot.waitUntil(lambda: got == [2], timeout=10_000)
    del worker, inputs
    assert _alive({"arguments": ref}, qtbot) == []


def test_the_layer_name_follower_holds_no_widget_and_lets_go_of_the_viewer(
        make_napari_viewer, qtbot):
    """LayerCombo, the Specimen panel and the Audit widget each had a ``_watch_name``
    twin (connect the inserted layer's name event to their re-listing); one helper now,
    follow_layer_names: a layer there and one added later, renamed, re-list; the widget
    is freed when closed, and the viewer's insertions drop the follower at the next
    insertion after that."""
    from napari_srmat.widgets._qt import follow_layer_names

    class Lister:
        def __init__(self) -> None:
            self.told: list[str] = []

        def refresh(self, event=None) -> None:
            self.told.append(event.source.name)

    viewer = make_napari_viewer()
    first = viewer.add_image(np.zeros((4, 4)), name="first")
    before = len(viewer.layers.events.inserted.callbacks)
    lister = Lister()
    follow_layer_names(viewer, lister.refresh)
    later = viewer.add_image(np.zeros((4, 4)), name="later")
    first.name, later.name = "first renamed", "later renamed"
    assert lister.told == ["first renamed", "later renamed"]
    ref = weakref.ref(lister)
    del lister
    assert _alive({"lister": ref}, qtbot) == []
    viewer.add_image(np.zeros((4, 4)), name="after")
    later.name = "again"  # nothing to tell, nothing raised
    assert len(viewer.layers.events.inserted.callbacks) == before
