"""Boundaries widget: its result shown in steps, one per event-loop turn, with nothing
computed on the GUI thread (s51 E10; the SR widget's: test_widget_sr_result_turns.py)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from _helpers import configure
from test_widget_sr_result_turns import _Turns  # a zero-time timer counting turns

torch = pytest.importorskip("torch")

from napari_srmat.checkpoint import save_checkpoint  # noqa: E402
from napari_srmat.edges.model import build_uaed, default_arch_config  # noqa: E402
from napari_srmat.widgets.boundaries_widget import BoundariesWidget  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """An untrained tiny UAED checkpoint with a stored threshold (fast to run)."""
    torch.manual_seed(0)
    cfg = default_arch_config("tiny")
    path = tmp_path_factory.mktemp("ck") / "uaed_tiny"
    save_checkpoint(path, build_uaed(cfg).state_dict(), {
        **cfg, "threshold": 0.37, "threshold_tta": "none", "threshold_none": 0.37})
    return path


def _widget(make_napari_viewer, qtbot, checkpoint):
    viewer = make_napari_viewer()
    img = np.random.default_rng(0).integers(60, 200, (96, 80, 3)).astype(np.uint8)
    layer = viewer.add_image(img, rgb=True, name="scan")
    w = BoundariesWidget(viewer)
    qtbot.addWidget(w)
    configure(w, layer, checkpoint=str(checkpoint), device="cpu", tile=64, overlap=16)
    return viewer, w


def _run_to_the_end(w, qtbot) -> None:
    w.run()
    qtbot.waitUntil(lambda: w.layers is not None and w.run_btn.isEnabled(), timeout=60_000)


def test_a_boundaries_result_s_layers_are_added_one_per_event_loop_turn(
        make_napari_viewer, qtbot, tiny_checkpoint):
    """The Boundaries result's layers (probability, uncertainty, boundaries, and the
    error map with an error model) and colour bars were all added in one callback of
    the GUI thread: 1.7 s without a repaint or a click taken on a 768² result (s50 GUI
    explorer F5, s51 E10). They are added one per event-loop turn now, the job running
    (Run off) and the threshold controls off until the last step. Failed before: the
    three layers were added in one turn."""
    viewer, w = _widget(make_napari_viewer, qtbot, tiny_checkpoint)
    turns = _Turns()
    added: list[tuple[str, int, bool, bool]] = []  # name, turn, Run on, slider on
    viewer.layers.events.inserted.connect(lambda e: added.append(
        (e.value.name, turns.n, w.run_btn.isEnabled(), w.slider.isEnabled())))
    _run_to_the_end(w, qtbot)
    turns.timer.stop()
    assert [a[0] for a in added] == ["scan boundary probability", "scan uncertainty",
                                     "scan boundaries"]
    assert len({a[1] for a in added}) == 3, added  # three turns, not one
    assert all(not run_on and not slider_on for _, _, run_on, slider_on in added)
    assert w.slider.isEnabled() and w.status.text().startswith("done")
    assert w.maps is not None and w.layers.boundaries is viewer.layers["scan boundaries"]


def test_the_result_callback_computes_nothing(make_napari_viewer, qtbot, tiny_checkpoint,
                                              monkeypatch):
    """Guard: passed before (the mask, error map and uncertainty limits were already
    computed in the worker; s51 E10 checked it). The thresholding, skeletonizing, the
    error map and the uncertainty map's contrast limits all run in the worker: none on
    the GUI thread while the result is shown."""
    import napari_srmat.metrics.edges as edges_metrics
    from napari_srmat.widgets import layers as layers_mod

    on_gui: list[str] = []

    def watched(name, real):
        def call(*args, **kwargs):
            if threading.current_thread() is threading.main_thread():
                on_gui.append(name)
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(edges_metrics, "binarize_boundaries",
                        watched("binarize", edges_metrics.binarize_boundaries))
    monkeypatch.setattr(layers_mod, "uncertainty_contrast_limits", watched(
        "uncertainty limits", layers_mod.uncertainty_contrast_limits))
    monkeypatch.setattr(layers_mod.BoundaryMaps, "error_map",
                        watched("error map", layers_mod.BoundaryMaps.error_map))
    viewer, w = _widget(make_napari_viewer, qtbot, tiny_checkpoint)
    _run_to_the_end(w, qtbot)
    assert len(viewer.layers) == 4
    assert on_gui == []


def test_a_hidden_map_s_colour_bar_is_made_when_it_is_shown(make_napari_viewer, qtbot,
                                                             tiny_checkpoint):
    """napari makes a colour bar's visual when the bar is first shown (0.2-0.4 s on the
    GUI thread each, three of the result's seven steps' worth), and draws it only while
    its map is visible: the hidden uncertainty (and error) map's bar was shown with the
    result. It is made when the map is shown now (its eye ticked), in its own corner.
    Failed before: the hidden uncertainty map's bar was on at the result."""
    viewer, w = _widget(make_napari_viewer, qtbot, tiny_checkpoint)
    _run_to_the_end(w, qtbot)
    prob, unc = w.layers.probability, w.layers.uncertainty
    assert prob.colorbar.visible
    assert not unc.visible and not unc.colorbar.visible
    unc.visible = True
    assert unc.colorbar.visible and prob.colorbar.visible  # corners of their own
    assert str(unc.colorbar.position) != str(prob.colorbar.position)


def test_a_boundaries_dock_closed_while_its_result_is_shown_adds_no_further_layer(
        make_napari_viewer, qtbot, tiny_checkpoint):
    """A dock closed between two steps of its result adds no further layer (the rule
    of a closed dock). Failed before: the whole result was added in one callback."""
    viewer, w = _widget(make_napari_viewer, qtbot, tiny_checkpoint)
    viewer.layers.events.inserted.connect(lambda _e: w.shut_down())
    w.run()
    qtbot.waitUntil(lambda: len(viewer.layers) >= 2, timeout=60_000)
    qtbot.wait(300)
    assert [lay.name for lay in viewer.layers] == ["scan", "scan boundary probability"]
    assert w.maps is None and w.layers is None
