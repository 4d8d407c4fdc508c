"""Review R8 of the Train & evaluate widget (s51 F7): the loss plot laid out again on a
resize and on new limits, stopped_line reads how the note starts, and an evaluation's
Overwrite is passed to its job."""

from __future__ import annotations

import pytest

pytest.importorskip("napari")
from napari.components import ViewerModel  # noqa: E402

from napari_srmat.jobs import Metric  # noqa: E402
from napari_srmat.widgets.train_widget import (  # noqa: E402
    UAED_EVAL,
    TrainEvaluateWidget,
    stopped_line,
)

pytestmark = pytest.mark.gui


@pytest.fixture
def widget(qtbot):
    w = TrainEvaluateWidget(ViewerModel())
    qtbot.addWidget(w)
    return w


def _inside(w) -> bool:
    """Whether the loss axes with their tick labels lie inside the canvas."""
    fig = w.figure
    tight, box = w.ax.get_tightbbox(fig.canvas.get_renderer()), fig.bbox
    return (tight.x0 >= box.x0 - 0.5 and tight.y0 >= box.y0 - 0.5
            and tight.x1 <= box.x1 + 0.5 and tight.y1 <= box.y1 + 0.5)


def _settle(w, qtbot):
    """Until no redraw is pending (the widget's timer), then once more."""
    qtbot.wait(50)
    qtbot.waitUntil(lambda: not w._redraw_timer.isActive(), timeout=10_000)
    qtbot.wait(50)


def _shown_with_losses(w, qtbot, width: int, n: int, first: float):
    """``w`` shown ``width`` px wide with ``n`` losses ``first / (step + 1)``, drawn."""
    w.resize(width, 600)
    w.show()
    for step in range(n):
        w._on_event(Metric(step, {"loss": first / (step + 1)}))
    _settle(w, qtbot)
    assert _inside(w)
    return w


def test_a_narrowed_canvas_is_laid_out_again(widget, qtbot):
    """Narrowed to about 260 px, the axes' y tick labels were cut off at the left (x0 -33
    px): the figure was laid out only when a curve was added (review R8 finding 1; failed
    before). A resize lays it out again."""
    w = _shown_with_losses(widget, qtbot, 700, 60, 1000.0)
    w.resize(260, 600)
    _settle(w, qtbot)
    assert _inside(w)


def test_new_limits_with_wider_tick_labels_are_laid_out(widget, qtbot):
    """A spike widens the y limits and their tick labels: they were cut off, the layout
    being the one of the first curve (review R8 finding 1; failed before)."""
    w = _shown_with_losses(widget, qtbot, 400, 20, 1.0)
    w._on_event(Metric(20, {"loss": 123456.0}))  # tick labels 0 ... 120000
    _settle(w, qtbot)
    assert _inside(w)


@pytest.mark.parametrize("note", [
    "checkpoint in /data/stopped_runs/last",
    "/runs/stopped/last holds epoch 1",
])
def test_stopped_line_keeps_its_prefix_for_a_path_saying_stopped(note):
    """A note with "stopped" in a path lost the prefix (review R8 finding 3; failed
    before): the prefix is left out only where the note starts by saying it stopped."""
    assert stopped_line(note) == f"stopped: {note}"


@pytest.mark.parametrize("note", [
    "stopped in epoch 2/6 before step 3/3; run/last holds epoch 1",
    "training stopped at step 40; checkpoint in run/last",
    "evaluation stopped",
])
def test_stopped_line_leaves_a_note_saying_it_stopped_as_it_is(note):
    """guard: passed before (review R8 finding 3)."""
    assert stopped_line(note) == note


def test_the_evaluation_is_given_the_overwrite_checkbox(widget, qtbot, tmp_path,
                                                        monkeypatch):
    """An evaluation into the folder of an earlier one is refused unless overwrite=True
    (E9, 7a70766a), with advice to tick Overwrite; the widget's Overwrite was off for an
    evaluation and not passed to its job (review R8 finding 4; failed before). Ticked, the
    job is called with overwrite=True; unticked with False."""
    pytest.importorskip("torch")
    import napari_srmat.edges as edges

    calls = []

    def fake_eval(images, masks, *, checkpoint=None, out_dir=None, val_images=None,
                  val_masks=None, overwrite=False, stop=None):
        calls.append(overwrite)
        return {"outputs": {}}
        yield  # a generator, as the job is

    monkeypatch.setattr(edges, "evaluate_boundaries_job", fake_eval)
    (tmp_path / "data" / "test" / "images").mkdir(parents=True)
    w = widget
    w.kind.setCurrentText(UAED_EVAL)
    w.data.setText(str(tmp_path / "data"))
    assert w.overwrite.isEnabled()
    for ticked, out in ((True, "ev1"), (False, "ev2")):
        w.overwrite.setChecked(ticked)
        w.out.setText(str(tmp_path / out))
        w.run()
        qtbot.waitUntil(lambda: not w.is_running, timeout=30_000)
    assert calls == [True, False], w.status.text()
