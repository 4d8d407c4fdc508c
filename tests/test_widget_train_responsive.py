"""The Train & evaluate widget's GUI thread: *Start / queue* imports nothing heavy (the
job is built in its worker), loss events neither lay out nor draw the plot each, and a
stopped job's status line says what Stop kept (s51 E8, explorer X1 findings 1-3)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("napari")
from napari.components import ViewerModel  # noqa: E402

from napari_srmat.jobs import Metric, Stopped  # noqa: E402
from napari_srmat.widgets.train_widget import (  # noqa: E402
    UAED_EVAL,
    UAED_TRAIN,
    JobSpec,
    TrainEvaluateWidget,
)

pytestmark = pytest.mark.gui

# Records the modules first imported on the GUI thread while run() runs (a meta path
# finder sees each module's first import, in the importing thread), then lets the job
# end (it fails: no such data folder) and prints what it saw.
_SCRIPT = """
import json, sys, threading, time
from qtpy.QtWidgets import QApplication
app = QApplication([])
from napari.components import ViewerModel
from napari_srmat.widgets.train_widget import TrainEvaluateWidget

on_gui, recording = [], [False]

class Record:
    def find_spec(self, name, path=None, target=None):
        if recording[0] and threading.current_thread() is threading.main_thread():
            on_gui.append(name)
        return None

w = TrainEvaluateWidget(ViewerModel())
w.kind.setCurrentText(sys.argv[1])
w.data.setText(sys.argv[2])
w.out.setText(sys.argv[3])
w.device.setCurrentText("cpu")
torch_before = "torch" in sys.modules
sys.meta_path.insert(0, Record())
recording[0] = True
w.run()
recording[0] = False
end = time.monotonic() + 240
while w.is_running and time.monotonic() < end:
    app.processEvents()
    time.sleep(0.01)
print("RESULT", json.dumps({"on_gui": on_gui, "torch_before": torch_before,
                            "torch_after": "torch" in sys.modules,
                            "running": w.is_running, "status": w.status.text()}))
"""

#: Modules the GUI thread must never import for a job: torch and the library's modules
#: that import it at their top.
_HEAVY = ("torch", "napari_srmat.edges.train", "napari_srmat.edges.evaluate",
          "napari_srmat.edges.model", "napari_srmat.edges.loss")


@pytest.mark.parametrize("kind", [UAED_TRAIN, UAED_EVAL])
def test_start_imports_nothing_heavy_on_the_gui_thread(kind, tmp_path):
    """The first Start click built the job on the GUI thread, importing edges.train (and
    with it torch): napari froze 4.5-6.3 s (s51 X1 finding 1; failed before: the GUI
    thread imported torch and edges.train / edges.evaluate). The job is built in its
    worker now, which imports them."""
    pytest.importorskip("torch")
    script = tmp_path / "start.py"
    script.write_text(_SCRIPT)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(script), kind, str(tmp_path / "no such data"),
         str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, proc.stdout + proc.stderr
    seen = json.loads(lines[-1].removeprefix("RESULT "))
    assert not seen["torch_before"] and not seen["running"], seen
    heavy = [name for name in seen["on_gui"]
             if any(name == h or name.startswith(h + ".") for h in _HEAVY)]
    assert heavy == [], heavy
    # the worker did import them (the check above checks something) and the job ended
    # as a failed one, told in the status line
    assert seen["torch_after"], seen
    assert seen["status"].startswith(f"{kind}: failed: "), seen


@pytest.fixture
def widget(qtbot):
    w = TrainEvaluateWidget(ViewerModel())
    qtbot.addWidget(w)
    return w


def test_loss_events_neither_lay_out_nor_draw_the_plot_each(widget, qtbot, monkeypatch):
    """Each loss event cleared the axes, plotted every curve again and drew the figure
    with its tight layout on the next event-loop turn: 0.65-1.8 s of GUI thread a loss on
    a loaded machine (s51 X1 finding 2; failed before: 60 draws and 60 layouts for 60
    events). Now at most one redraw is pending and redraws are at least
    ``redraw_interval_ms`` apart (here longer than the test); a redraw sets the lines'
    points and blits them where the axes' limits hold, draws the whole figure where a
    curve is added or the limits change, and lays it out only then (a new curve, new
    limits: their tick labels may be wider; review R8 finding 1). Counts, not times."""
    from matplotlib.layout_engine import TightLayoutEngine
    from qtpy.QtWidgets import QApplication

    w = widget
    layouts, draws, blits = [], [], []
    execute = TightLayoutEngine.execute

    def counted(self, fig):
        if fig is w.figure:
            layouts.append(1)
        return execute(self, fig)

    monkeypatch.setattr(TightLayoutEngine, "execute", counted)
    draw, blit = w.canvas.draw, w.canvas.blit

    def counted_draw():
        draws.append(1)
        draw()

    def counted_blit(bbox=None):
        blits.append(1)
        blit(bbox)

    w.canvas.draw, w.canvas.blit = counted_draw, counted_blit
    w.redraw_interval_ms = 600_000  # no timed redraw while the test runs
    w._draw_now()  # the empty plot's draw (its layout), now: the last draw
    del draws[:], layouts[:], blits[:]

    def losses(steps):
        for step in steps:  # a fast training: an event-loop turn between its losses
            w._on_event(Metric(step, {"loss": 1.0 / (step + 1)}))
            QApplication.processEvents()

    losses(range(60))
    assert (len(draws), len(layouts)) == (0, 0)
    w._draw_now()  # what the pending redraw runs: a new curve, drawn and laid out
    assert (len(draws), len(layouts), len(blits)) == (1, 1, 0)
    (line,) = w.ax.get_lines()
    assert len(line.get_xdata()) == 60
    losses(range(60, 120))  # past the x limit: the whole figure, laid out (new ticks)
    w._draw_now()
    assert (len(draws), len(layouts), len(blits)) == (2, 2, 0)
    assert w.ax.get_lines() == [line] and len(line.get_xdata()) == 120
    assert line.get_marker() == "None"  # 50 points or more: no markers
    losses(range(120, 125))  # within the limits: the curve's points blitted
    w._draw_now()
    assert (len(draws), len(layouts), len(blits)) == (2, 2, 1)
    assert len(line.get_xdata()) == 125
    w._on_event(Metric(125, {"loss": 0.5}, split="val"))
    w._draw_now()
    assert (len(draws), len(layouts)) == (3, 3)  # a new curve: drawn and laid out
    assert len(w.ax.get_lines()) == 2


def test_a_redraw_waits_for_the_interval_since_the_last(widget, qtbot):
    """At most one redraw pending, and none sooner than ``redraw_interval_ms`` after the
    last, with its default: the events of one turn, one draw (as before, when the turn's
    events had one draw too; new with the interval). Right after a draw, a redraw asked
    for waits: none in a few event-loop turns, its timer set to about the interval (until
    review R8 finding 2 the test passed with an interval of 0 too). Counts, not times."""
    from qtpy.QtWidgets import QApplication

    w = widget
    assert w.redraw_interval_ms >= 100
    draws = []
    w.canvas.draw = lambda: draws.append(1)
    w._draw_now()
    draws.clear()
    w._on_event(Metric(0, {"loss": 1.0}))
    for _ in range(5):
        QApplication.processEvents()
    assert draws == []
    assert w._redraw_timer.remainingTime() > w.redraw_interval_ms // 2
    for step in range(1, 5):
        w._on_event(Metric(step, {"loss": 1.0}))
    qtbot.waitUntil(lambda: len(draws) > 0, timeout=10_000)
    qtbot.wait(50)
    assert len(draws) == 1


def test_the_status_line_says_what_stop_kept(widget, qtbot, monkeypatch):
    """After Stop the status line read 'UAED training: stopped', what was kept
    ('.../last holds epoch 1 and 4 steps of epoch 2') only in a notification that fades,
    while the docs said the status line shows it (s51 X1 finding 3; failed before). Now
    the line ends with the job's Stopped message, the notification's words."""
    import napari_srmat.widgets._worker as worker_mod
    import napari_srmat.widgets.train_widget as train_mod

    shown = []
    monkeypatch.setattr(worker_mod, "show_info", shown.append)
    note = "stopped in epoch 2/6 before step 5/8; run/last holds epoch 1 and 4 steps of epoch 2"

    def job(spec):
        def run(stop):
            yield Stopped(note)

        return run

    monkeypatch.setattr(train_mod, "make_job", job)
    w = widget
    spec = JobSpec(UAED_TRAIN, {"out": "run"})
    w.enqueue(spec)
    qtbot.waitUntil(lambda: not w.is_running, timeout=30_000)
    assert spec.status == "stopped"
    assert w.status.text() == f"UAED training: {note}"
    assert shown == [f"napari-srmat: {note}"]
