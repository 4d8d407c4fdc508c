"""Grain-size (Heyn) widget: numbers equal the library's, layers, export."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

pytest.importorskip("napari")
from napari_srmat.metrics import heyn  # noqa: E402
from napari_srmat.widgets.heyn_widget import GrainSizeWidget  # noqa: E402
from napari_srmat.widgets.layers import (  # noqa: E402
    WidgetInputError,
    add_heyn_measurement,
    boundary_mask,
    shapes_to_segments,
)

pytestmark = pytest.mark.gui


def _voronoi_mask(shape=(160, 200), n=40, seed=3) -> np.ndarray:
    """Boundaries of a random Voronoi tessellation (1-px lines)."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 1, (n, 2)) * shape
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    d = (rr[..., None] - pts[:, 0]) ** 2 + (cc[..., None] - pts[:, 1]) ** 2
    lab = d.argmin(-1)
    m = np.zeros(shape, bool)
    m[:-1] |= lab[:-1] != lab[1:]
    m[:, :-1] |= lab[:, :-1] != lab[:, 1:]
    return m


def _run(qtbot, widget):
    widget.run()
    qtbot.waitUntil(lambda: widget.measurement is not None, timeout=20000)
    return widget.measurement


@pytest.mark.parametrize("pattern", ["random", "grid", "circles"])
def test_widget_numbers_equal_library(make_napari_viewer, qtbot, pattern):
    viewer = make_napari_viewer()
    mask = _voronoi_mask()
    layer = viewer.add_labels(mask.astype(np.uint8), name="gb", scale=(0.5, 0.5),
                              metadata={"pixel_size_um": 0.5})
    w = GrainSizeWidget(viewer)
    w.layer_combo.value = layer
    w.pattern.setCurrentText(pattern)
    w.n_lines.setValue(17)
    w.seed.setValue(7)
    meas = _run(qtbot, w)
    ref = heyn.measure_intercepts(mask, pattern=pattern, n_lines=17, seed=7, pixel_size_um=0.5,
                                  skeletonize=w.skeletonize.isChecked())
    res = meas.result
    assert res.mean_intercept_px == pytest.approx(ref.mean_intercept_px, rel=1e-12)
    assert res.n_intersections == ref.n_intersections
    np.testing.assert_array_equal(res.per_line_count, ref.per_line_count)
    assert res.astm_g == pytest.approx(ref.astm_g)
    assert meas.stats["mean_intercept_um"] == pytest.approx(ref.mean_intercept_px * 0.5)
    # layers: one point per intersection, one shape per test line
    pts = viewer.layers["gb intersections"]
    assert len(pts.data) == ref.n_intersections
    np.testing.assert_allclose(pts.scale, (0.5, 0.5))
    assert len(viewer.layers["gb test lines"].data) == ref.n_lines
    # tables
    assert w.table.rowCount() == ref.n_lines
    assert int(w.table.item(0, 2).text()) == int(ref.per_line_count[0])
    assert w.summary.item(0, 1).text() == f"{ref.mean_intercept_px:.4g}"
    # the status line gives the µm figure and G too (it gave px only; G to a tenth, with
    # its interval as srmat heyn's row, format_g)
    from napari_srmat.cli.grainsize import format_g
    from napari_srmat.grainsize import grain_size_from_heyn

    g_ci = grain_size_from_heyn(ref, pixel_size_um=0.5).astm_g_ci95
    assert meas.stats["astm_g_ci95"] == pytest.approx(g_ci)
    assert w.status.text().startswith(
        f"ℓ̄ = {ref.mean_intercept_px:.4g} px = {ref.mean_intercept_px * 0.5:.4g} µm, "
        f"G {format_g(ref.astm_g, g_ci)} from {ref.n_intersections} intersections"
    ), w.status.text()
    from napari_srmat.metrics.standards import has_few_intersections

    # with its warnings after the figures (17 circles: fewer than E112's 50 crossings;
    # the warning used to replace ℓ̄ and G in the status line)
    assert ("E112 asks" in w.status.text()) == has_few_intersections(ref.intersection_count)


def test_probability_layer_threshold_and_typed_pixel_size(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    mask = _voronoi_mask(seed=5)
    prob = np.where(mask, 0.8, 0.1).astype(np.float32)
    prob[::7, ::5] = 0.45  # below the 0.5 threshold, above 0.4
    layer = viewer.add_image(prob, name="p", metadata={"threshold": 0.5})
    w = GrainSizeWidget(viewer)
    w.layer_combo.value = layer
    w.pixel_size.setText("2.0")
    meas = _run(qtbot, w)
    ref = heyn.measure_intercepts(prob >= 0.5, pattern="random", n_lines=50, seed=1234,
                                  pixel_size_um=2.0, skeletonize=w.skeletonize.isChecked())
    assert meas.result.mean_intercept_px == pytest.approx(ref.mean_intercept_px)
    assert meas.stats["mean_intercept_um"] == pytest.approx(2.0 * ref.mean_intercept_px)
    # typed threshold overrides the layer's
    w.use_layer_threshold.setChecked(False)
    w.threshold.setValue(0.4)
    w.measurement = None
    meas2 = _run(qtbot, w)
    ref2 = heyn.measure_intercepts(prob >= 0.4, pattern="random", n_lines=50, seed=1234,
                                   skeletonize=w.skeletonize.isChecked())
    assert meas2.result.n_intersections == ref2.n_intersections
    assert meas2.result.n_intersections != ref.n_intersections
    w.pixel_size.setText("-1")
    with pytest.raises(WidgetInputError):
        w.run()


def test_shapes_pattern_converts_world_to_data(make_napari_viewer):
    viewer = make_napari_viewer()
    mask = np.zeros((100, 100), bool)
    mask[:, 10::20] = True  # vertical boundaries at columns 10, 30, 50, 70, 90
    layer = viewer.add_labels(mask.astype(np.uint8), name="gb", scale=(2, 2),
                              translate=(10, 10))
    # a horizontal line drawn in world coordinates from col 0 to col 99 at row 50,
    # in a Shapes layer with its own (identity) transform
    world_line = np.array([[10 + 2 * 50, 10 + 2 * 0], [10 + 2 * 50, 10 + 2 * 99]], float)
    shapes = viewer.add_shapes([world_line], shape_type=["line"], name="my lines")
    segs = shapes_to_segments(shapes, layer)
    np.testing.assert_allclose(segs[0], [[50, 0], [50, 99]])
    meas = add_heyn_measurement(viewer, layer, pattern="shapes", shapes_layer=shapes)
    ref = heyn.measure_intercepts(mask, pattern="segments", segments=segs)
    assert meas.result.n_intersections == ref.n_intersections == 5
    assert meas.result.mean_intercept_px == pytest.approx(99 / 5)
    with pytest.raises(WidgetInputError):
        add_heyn_measurement(viewer, layer, pattern="shapes", shapes_layer=None)


def test_export_csv_json(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    mask = _voronoi_mask(seed=11)
    layer = viewer.add_labels(mask.astype(np.uint8), name="gb")
    w = GrainSizeWidget(viewer)
    with pytest.raises(WidgetInputError):
        w.export_csv(tmp_path / "x.csv")
    w.layer_combo.value = layer
    w.pattern.setCurrentText("grid")
    w.n_lines.setValue(10)
    meas = _run(qtbot, w)
    p_json = w.export_json(tmp_path / "h.json")
    d = json.loads(p_json.read_text())
    assert d["mean_intercept_px"] == pytest.approx(meas.result.mean_intercept_px)
    assert d["n_lines"] == 20
    assert len(d["per_line"]) == 20
    assert d["mean_intercept_um"] is None  # no pixel size known
    p_csv = w.export_csv(tmp_path / "h.csv")
    rows = [r for r in csv.reader(p_csv.read_text().splitlines()) if not r[0].startswith("#")]
    assert rows[0] == ["line", "length_px", "count"]
    counts = [int(r[2]) for r in rows[1:]]
    assert counts == [int(c) for c in meas.result.per_line_count]
    lengths = np.array([float(r[1]) for r in rows[1:]])
    assert lengths.sum() / sum(counts) == pytest.approx(meas.result.mean_intercept_px, rel=1e-4)
    assert not list(tmp_path.glob(".*tmp"))  # atomic: no temporary leftovers
    assert math.isfinite(d["relative_accuracy_pct"])


def test_boundary_mask_rules(make_napari_viewer):
    viewer = make_napari_viewer()
    u8 = np.array([[0, 255], [128, 0]], np.uint8)
    assert boundary_mask(viewer.add_image(u8)).tolist() == [[False, True], [True, False]]
    assert boundary_mask(viewer.add_image(u8), 0.6).tolist() == [[False, True], [False, False]]
    rgb = viewer.add_image(np.zeros((4, 4, 3), np.uint8), rgb=True)
    with pytest.raises(WidgetInputError):
        boundary_mask(rgb)


def test_layer_combo_follows_viewer(make_napari_viewer):
    viewer = make_napari_viewer()
    w = GrainSizeWidget(viewer)
    assert w.layer_combo.value is None
    a = viewer.add_labels(np.zeros((8, 8), np.uint8), name="a")
    viewer.add_image(np.zeros((8, 8, 3), np.uint8), rgb=True, name="rgb")  # not offered
    names = [w.layer_combo.native.itemText(i) for i in range(w.layer_combo.native.count())]
    assert names == ["a"]
    a.name = "renamed"
    assert w.layer_combo.native.itemText(0) == "renamed"
    assert w.layer_combo.value is a
    viewer.layers.remove(a)
    assert w.layer_combo.value is None


def test_simple_mode_micrograph_to_grain_size(make_napari_viewer, qtbot):
    """Simple tab: image layer in, ℓ̄ and G with 95 % intervals out, equal to the library's
    measure_grain_size; the measurement runs in the worker thread."""
    import threading

    from napari_srmat import grainsize
    from napari_srmat.synth import generate_microstructure

    viewer = make_napari_viewer()
    ms = generate_microstructure((128, 128), mean_grain_size_px=32, seed=5)
    layer = viewer.add_image(ms.image, name="micrograph", rgb=True,
                             metadata={"pixel_size_um": 0.5})
    w = GrainSizeWidget(viewer)
    assert w.tabs.tabText(0) == "Simple"
    panel = w.simple
    panel.image_combo.value = layer
    threads = []
    real_job = grainsize.measure_grain_size_job

    def spy(*args, **kwargs):
        threads.append(threading.current_thread())
        return (yield from real_job(*args, **kwargs))

    grainsize.measure_grain_size_job = spy
    try:
        panel.run()
        qtbot.waitUntil(lambda: panel.result is not None, timeout=120000)
    finally:
        grainsize.measure_grain_size_job = real_job
    assert threads and threads[0] is not threading.main_thread()
    res = panel.result
    ref = grainsize.measure_grain_size(ms.image, pixel_size_um=0.5)
    assert res.mean_intercept_um == pytest.approx(ref.mean_intercept_um, rel=1e-9)
    assert res.astm_g_ci95 == pytest.approx(ref.astm_g_ci95, rel=1e-9)
    lo, hi = res.mean_intercept_ci95_um
    assert panel.intercept_label.text() == f"{res.mean_intercept_um:.4g} µm  [{lo:.4g}, {hi:.4g}]"
    # G to a tenth, as E112 reports it (was 4 digits), as srmat grain-size prints it
    from napari_srmat.cli.grainsize import format_g
    assert panel.g_label.text() == format_g(res.astm_g, res.astm_g_ci95)
    assert panel.g_label.text().startswith(f"{res.astm_g:.1f} [")
    # the boundary crossings by their name (was 'N intercepts': E112's N is another count)
    assert panel.detail_label.text().startswith(f"{res.n_crossings} crossings, ")
    # what was measured is shown over the micrograph: the boundaries at the inference
    # scale, placed over the layer's extent, with the intersections and test lines on them
    bl = viewer.layers["micrograph boundaries (grain size)"]
    # the map its test lines counted: the binarised boundaries thinned to 1 px
    from napari_srmat.widgets.heyn_widget import counted_boundaries

    np.testing.assert_array_equal(bl.data, counted_boundaries(res))
    assert bl.data.astype(bool).sum() < res.boundaries.sum()
    s = res.inference_scale
    assert bl.scale[-1] == pytest.approx(layer.scale[-1] / s)
    extent = bl.data.shape[1] * bl.scale[-1]
    assert extent == pytest.approx(ms.image.shape[1] * layer.scale[-1], rel=0.02)
    pts = viewer.layers["micrograph boundaries (grain size) intersections"]
    assert len(pts.data) == res.heyn.n_intersections > 0
    assert tuple(pts.scale[-2:]) == pytest.approx(tuple(bl.scale[-2:]))
    assert "micrograph boundaries (grain size) test lines" in viewer.layers
    qtbot.waitUntil(lambda: panel.run_btn.isEnabled(), timeout=10000)
    # a typed pixel size that is not a number is refused before any job starts
    panel.pixel_size.setText("abc")
    with pytest.raises(WidgetInputError):
        panel.run()


def test_corrections_layer_paints_and_erases_before_measuring(make_napari_viewer, qtbot):
    from napari_srmat.metrics.edits import ADD_BOUNDARY, ERASE_BOUNDARY

    viewer = make_napari_viewer()
    mask = _voronoi_mask(seed=9)
    broken = mask.copy()
    broken[:, 90:110] = False  # the model missed the boundaries in a band
    broken[40, :] = True       # and found a false straight one
    layer = viewer.add_labels(broken.astype(np.uint8), name="gb")
    w = GrainSizeWidget(viewer)
    w.layer_combo.value = layer
    w.pattern.setCurrentText("grid")
    w.n_lines.setValue(20)
    corr = w.add_corrections_layer()
    assert corr.name == "gb corrections" and corr.mode == "paint"
    assert corr.selected_label == ADD_BOUNDARY
    assert w.corrections_combo.value is corr
    # "paint" the missing band back and "erase" the false line
    edits = np.zeros(mask.shape, np.uint8)
    edits[:, 90:110][mask[:, 90:110]] = ADD_BOUNDARY
    edits[40, :][~mask[40, :]] = ERASE_BOUNDARY
    corr.data = edits
    meas = _run(qtbot, w)
    ref = heyn.measure_intercepts(mask, pattern="grid", n_lines=20, seed=1234)
    assert meas.result.mean_intercept_px == pytest.approx(ref.mean_intercept_px, rel=1e-12)
    np.testing.assert_array_equal(w.measured_mask, mask)
    recorded = meas.source["edits"]
    assert len(recorded) == 2 and "painted" in recorded[0] and "erased" in recorded[1]
    assert "corrected map" in w.status.text()
    # without the corrections the broken map gives another answer
    w.corrections_combo.value = None
    w.measurement = None
    meas2 = _run(qtbot, w)
    assert meas2.result.mean_intercept_px != pytest.approx(ref.mean_intercept_px, rel=1e-3)
    assert meas2.source["edits"] == []
    # the boundary layer itself cannot be its corrections
    w.corrections_combo.value = layer
    with pytest.raises(WidgetInputError, match="corrections layer cannot be"):
        w.run()


def test_corrections_painted_while_measuring_do_not_reach_the_running_job(
        make_napari_viewer, qtbot, monkeypatch):
    """The job held a reference to the corrections layer's array, which napari paints in
    place: strokes made while a measurement ran reached it halfway. It measures the
    corrections as they were when Measure was clicked."""
    import threading

    import napari_srmat.widgets.heyn_widget as hw
    from napari_srmat.metrics.edits import ADD_BOUNDARY

    viewer = make_napari_viewer()
    mask = _voronoi_mask(seed=9)
    broken = mask.copy()
    broken[:, 90:110] = False
    layer = viewer.add_labels(broken.astype(np.uint8), name="gb")
    w = GrainSizeWidget(viewer)
    w.layer_combo.value = layer
    corr = w.add_corrections_layer()
    edits = np.zeros(mask.shape, np.uint8)
    edits[:, 90:110][mask[:, 90:110]] = ADD_BOUNDARY
    corr.data = edits
    gate = threading.Event()
    real = hw.as_mask
    monkeypatch.setattr(hw, "as_mask", lambda *a, **k: gate.wait(10) and real(*a, **k))
    w.run()
    corr.data[:] = 0  # the user erases the strokes (in place, as painting does) meanwhile
    gate.set()
    qtbot.waitUntil(lambda: w.measurement is not None, timeout=20_000)
    np.testing.assert_array_equal(w.measured_mask, mask)
    assert "painted" in w.measurement.source["edits"][0]


def test_boundary_labels_painted_while_measuring_do_not_reach_the_running_job(
        make_napari_viewer, qtbot, monkeypatch):
    """The job read the boundary Labels layer's own array, which napari paints in place:
    a stroke made while the measurement ran was measured (or half of it). It measures
    the layer as it was when Measure was clicked, like its corrections layer."""
    import threading

    import napari_srmat.widgets.heyn_widget as hw

    viewer = make_napari_viewer()
    mask = _voronoi_mask(seed=9)
    layer = viewer.add_labels(mask.astype(np.uint8), name="gb")
    w = GrainSizeWidget(viewer)
    w.layer_combo.value = layer
    gate = threading.Event()
    real = hw.as_mask
    monkeypatch.setattr(hw, "as_mask", lambda *a, **k: gate.wait(10) and real(*a, **k))
    w.run()
    layer.data[:, 90:110] = 1  # the user paints a band meanwhile (in place)
    gate.set()
    qtbot.waitUntil(lambda: w.measurement is not None, timeout=20_000)
    np.testing.assert_array_equal(w.measured_mask, mask)


def test_a_drawn_lines_tables_give_the_count_l_is_made_of(make_napari_viewer):
    """Drawn lines score a boundary touched by a line's end 1/2 (E112), but the mask tab's
    summary and per-line tables gave the run count: a line across two 20 px grains read
    ℓ̄ 20 px over 40 px of line next to "intersections 3". They give P (2) now."""
    viewer = make_napari_viewer()
    mask = np.zeros((40, 61), np.uint8)
    mask[:, [10, 30, 50]] = 1
    layer = viewer.add_labels(mask, name="gb")
    shapes = viewer.add_shapes([np.array([[20.0, 10.0], [20.0, 50.0]])], shape_type=["line"])
    w = GrainSizeWidget(viewer)
    w.measurement = add_heyn_measurement(viewer, layer, pattern="shapes", shapes_layer=shapes)
    w._fill_tables()
    summary = {w.summary.item(i, 0).text(): w.summary.item(i, 1).text()
               for i in range(w.summary.rowCount())}
    assert summary["mean intercept ℓ̄ (px)"] == "20" and summary["intersections"] == "2"
    # one field: its %RA is the scatter of its test lines (the report's label), not E112's
    assert "relative accuracy %RA (scatter of the 1 test lines of one field)" in summary
    assert w.table.item(0, 2).text() == "2"


def test_controls_follow_the_pattern(make_napari_viewer):
    viewer = make_napari_viewer()
    w = GrainSizeWidget(viewer)
    w.pattern.setCurrentText("circles")  # the fixed three-circle set: no count, no seed
    assert not w.n_lines.isEnabled() and not w.seed.isEnabled()
    w.pattern.setCurrentText("grid")
    assert w.n_lines.isEnabled() and not w.seed.isEnabled()
    w.pattern.setCurrentText("random")
    assert w.n_lines.isEnabled() and w.seed.isEnabled()
    assert not w.shapes_combo.native.isEnabled()
    w.pattern.setCurrentText("segments")
    assert w.shapes_combo.native.isEnabled() and not w.n_lines.isEnabled()


def test_failed_job_says_so_in_the_widget(make_napari_viewer, qtbot, monkeypatch):
    """A refused micrograph (floats in -40..230: not [0, 1], no bit depth) is told in the
    notification *and* the status line; the status used to stay at 'starting…' as if the
    job were still coming up."""
    import napari_srmat.widgets._worker as worker_mod

    shown = []
    monkeypatch.setattr(worker_mod, "show_error", shown.append)
    viewer = make_napari_viewer()
    grey = np.tile(np.linspace(-40, 230, 64, dtype=np.float32), (64, 1))
    layer = viewer.add_image(grey, name="float -40..230")
    w = GrainSizeWidget(viewer)
    panel = w.simple
    panel.image_combo.value = layer
    panel.run()
    qtbot.waitUntil(lambda: panel.run_btn.isEnabled(), timeout=60000)
    assert len(shown) == 1 and "float images must be in [0, 1]" in shown[0]
    assert panel.status.text().startswith("failed: ")
    assert "float images must be in [0, 1]" in panel.status.text()
    assert not panel.cancel_btn.isEnabled()
    assert panel.result is None


def test_cancelled_job_says_stopped_and_runs_again(make_napari_viewer, qtbot):
    """Cancel before the model ran: the status reads 'stopped' (it stayed at 'stopping…'),
    no result is shown, and the next run completes."""
    from napari_srmat.synth import generate_microstructure

    viewer = make_napari_viewer()
    ms = generate_microstructure((128, 128), mean_grain_size_px=32, seed=5)
    layer = viewer.add_image(ms.image, name="micrograph", rgb=ms.image.ndim == 3)
    w = GrainSizeWidget(viewer)
    panel = w.simple
    panel.image_combo.value = layer
    panel.run()
    panel.stop()
    qtbot.waitUntil(lambda: panel.run_btn.isEnabled(), timeout=120000)
    assert panel.status.text() == "stopped"
    assert panel.result is None and panel.g_label.text() == "–"
    assert not panel.cancel_btn.isEnabled()
    panel.run()
    qtbot.waitUntil(lambda: panel.result is not None, timeout=120000)
    qtbot.waitUntil(lambda: panel.run_btn.isEnabled(), timeout=10000)
    assert panel.status.text() != "stopped"


def test_buttons_with_bad_input_tell_the_user_in_one_line(make_napari_viewer, qtbot,
                                                          monkeypatch):
    """Clicking Measure (or New corrections layer) without a usable layer raised
    WidgetInputError out of the Qt slot: an unhandled exception with a traceback, the
    widget's status unchanged. Then the buttons were enabled with no layer to run on,
    told only on the click. Now they are disabled, their tooltip naming the layer they
    need, until one is added; run() from a script says it in one line, and a layer
    that is there but unusable is told on the click (one notification line, the status
    says it too)."""
    import napari_srmat.widgets._worker as worker_mod

    shown = []
    monkeypatch.setattr(worker_mod, "show_error", shown.append)
    viewer = make_napari_viewer()
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    assert not w.simple.run_btn.isEnabled()
    assert w.simple.run_btn.toolTip().startswith("needs a micrograph (an image layer)")
    for btn in (w.run_btn, w.new_corrections_btn):
        assert not btn.isEnabled()
        assert btn.toolTip().startswith("needs a boundary layer (Labels, or a 2-D image)")
    with pytest.raises(WidgetInputError, match="select a micrograph"):
        w.simple.run()
    with pytest.raises(WidgetInputError, match="select a boundary layer"):
        w.run()
    # a stack is not offered (until 2026-12-06 it was, and refused on the click:
    # test_layers_that_are_not_2d_are_not_listed_and_follow_their_data)
    viewer.add_image(np.zeros((4, 16, 16), np.float32), name="stack")
    assert not w.run_btn.isEnabled() and w.layer_combo.value is None
    viewer.add_image(np.zeros((16, 16), np.float32), name="map")
    assert w.run_btn.isEnabled() and w.new_corrections_btn.isEnabled()
    assert w.new_corrections_btn.toolTip() == ""
    w.pixel_size.setText("abc")
    w.run_btn.click()
    assert len(shown) == 1 and "pixel size 'abc' is not a number" in shown[-1]
    assert "pixel size 'abc' is not a number" in w.status.text()
    assert w.run_btn.isEnabled() and w.worker is None
    # a script replacing the chosen map's data without telling it (its data event
    # blocked) leaves it listed: New corrections layer refuses the stack in one line
    with viewer.layers["map"].events.data.blocker():
        viewer.layers["map"].data = np.zeros((4, 16, 16), np.float32)
    assert w.layer_combo.value is viewer.layers["map"] and w.new_corrections_btn.isEnabled()
    w.new_corrections_btn.click()
    assert shown[-1] == "napari-srmat: layer 'map' is not a 2-D boundary map"
    assert w.status.text() == "layer 'map' is not a 2-D boundary map"
    assert [lay.name for lay in viewer.layers] == ["stack", "map"]


def test_intersections_and_test_lines_follow_the_layer_units_and_calibration(
        make_napari_viewer, qtbot):
    """The overlays had the layer's scale but not its units (napari: 'Inconsistent units
    across layers', the scale bar loses µm), and were not known as made from the layer,
    so calibrating the layer afterwards left them at the old scale, off the grains."""
    from napari_srmat.widgets.calibration_widget import CalibrationWidget

    viewer = make_napari_viewer()
    mask = _voronoi_mask()
    layer = viewer.add_labels(mask.astype(np.uint8), name="gb", scale=(0.5, 0.5),
                              translate=(10.0, 20.0), units=("um", "um"))
    w = GrainSizeWidget(viewer)
    w.layer_combo.value = layer
    w.pattern.setCurrentText("grid")
    w.n_lines.setValue(10)
    meas = _run(qtbot, w)
    assert meas.stats["pixel_size_um"] == 0.5
    for overlay in (meas.points_layer, meas.lines_layer):
        assert [str(u) for u in overlay.units] == [str(u) for u in layer.units]
    cal = CalibrationWidget(viewer)
    cal.layer_combo.value = layer
    changed = cal.apply(0.25)
    assert meas.points_layer in changed and meas.lines_layer in changed
    first = meas.result.intersections[0]
    np.testing.assert_allclose(meas.points_layer.data_to_world(meas.points_layer.data[0]),
                               layer.data_to_world(first))
    np.testing.assert_allclose(meas.lines_layer.scale, layer.scale)


def test_simple_tab_refuses_a_stack(make_napari_viewer):
    """A 3-plane stack was measured as one 3 x W image with W channels: a grain size of
    garbage with no warning. Now refused before any job, naming the shape."""
    viewer = make_napari_viewer()
    layer = viewer.add_image(np.zeros((3, 96, 96), np.uint8), name="series")
    w = GrainSizeWidget(viewer)
    w.simple.image_combo.value = layer
    with pytest.raises(WidgetInputError, match=r"layer 'series' has shape \(3, 96, 96\)"):
        w.simple.run()
    assert w.simple.worker is None and w.simple.result is None


def test_simple_tab_refuses_or_asks_before_a_gigapixel_mosaic(make_napari_viewer, qtbot,
                                                              monkeypatch):
    """The Simple tab started measuring a lazy 24000 x 24000 RGB mosaic at once: the job
    reads the whole micrograph as float32 (6.4 GiB, then the model's maps), and Cancel
    took half a minute to act. Like the Boundaries tool it now refuses what does not fit
    in memory (one line, the buttons usable) and asks before a long job."""
    from _helpers import add_gigapixel_mosaic

    from napari_srmat import device, estimates

    viewer = make_napari_viewer()
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    panel = w.simple
    panel.image_combo.value = add_gigapixel_mosaic(viewer)
    asked = []
    panel.ask = lambda title, text: asked.append(text) or False
    monkeypatch.setattr(estimates, "available_memory_bytes", lambda: 8 * 2**30)
    panel.run_btn.click()
    assert panel.status.text().startswith("grain-size measurement")
    assert "does not fit in memory: measure a region" in panel.status.text()
    assert panel.worker is None and not asked and panel.run_btn.isEnabled()
    monkeypatch.setattr(estimates, "available_memory_bytes", lambda: 64 * 2**30)
    monkeypatch.setattr(estimates, "CONFIRM_SECONDS", 0)  # long on any CPU
    monkeypatch.setattr(device, "resolve_device", lambda name: "cpu")  # a time, not None
    assert panel.run() is None  # asked, answered No
    assert len(asked) == 1 and "grain-size measurement" in asked[0]
    assert panel.worker is None and panel.status.text().startswith("not started")


def test_mask_tab_controls_explain_themselves(make_napari_viewer):
    """Each option of the mask tab has a tooltip in the metallurgist's words (no
    metadata['threshold']), and the pixel size is reported in µm per pixel."""
    viewer = make_napari_viewer()
    viewer.add_labels(_voronoi_mask(), name="gb")
    w = GrainSizeWidget(viewer)
    controls = (w.threshold, w.use_layer_threshold, w.pattern, w.n_lines, w.seed,
                w.skeletonize, w.corrections_combo.native)
    for control in controls:
        assert control.toolTip(), control
        assert "metadata" not in control.toolTip() and "[" not in control.toolTip()
    w.measurement = add_heyn_measurement(viewer, viewer.layers["gb"], pixel_size_um=0.5)
    w._fill_tables()
    names = [w.summary.item(i, 0).text() for i in range(w.summary.rowCount())]
    assert "pixel size (µm/px)" in names


def test_cancel_before_counting_stops_the_mask_measurement(make_napari_viewer, qtbot,
                                                           monkeypatch):
    """Cancel on the mask tab said 'stopping…' and then showed the measurement anyway
    (the job never looked at the stop request); now it stops before counting."""
    import threading

    from napari_srmat.widgets import heyn_widget

    cancelled = threading.Event()
    real_as_mask = heyn_widget.as_mask

    def as_mask_after_cancel(*args, **kwargs):  # the worker reads the layer once Cancel
        cancelled.wait(20)                     # was pressed: no race with the click
        return real_as_mask(*args, **kwargs)

    monkeypatch.setattr(heyn_widget, "as_mask", as_mask_after_cancel)
    viewer = make_napari_viewer()
    layer = viewer.add_labels(_voronoi_mask().astype(np.uint8), name="gb")
    w = GrainSizeWidget(viewer)
    w.layer_combo.value = layer
    w.run()
    w.cancel_btn.click()
    cancelled.set()
    qtbot.waitUntil(lambda: w.run_btn.isEnabled(), timeout=60000)
    assert w.status.text() == "stopped"
    assert w.measurement is None and "gb intersections" not in viewer.layers
    assert not w.csv_btn.isEnabled()


def test_corrections_layer_has_the_boundary_layer_units(make_napari_viewer):
    """The corrections layer had pixel units over a µm boundary layer (napari then drops
    units for rendering: 'Inconsistent units across layers')."""
    viewer = make_napari_viewer()
    layer = viewer.add_labels(_voronoi_mask().astype(np.uint8), name="gb", scale=(0.5, 0.5),
                              units=("um", "um"))
    w = GrainSizeWidget(viewer)
    w.layer_combo.value = layer
    corr = w.add_corrections_layer()
    assert [str(u) for u in corr.units] == [str(u) for u in layer.units]
    np.testing.assert_allclose(corr.scale, layer.scale)


def test_export_never_replaces_a_file_it_did_not_write(make_napari_viewer, qtbot, tmp_path):
    """Export CSV/JSON replaced any file at the chosen path (a lab book 'results.csv'
    was lost); now a file napari-srmat did not write is refused and kept, while an
    earlier export is replaced."""
    from napari_srmat.outputs import OutputError

    viewer = make_napari_viewer()
    layer = viewer.add_labels(_voronoi_mask(seed=11).astype(np.uint8), name="gb")
    w = GrainSizeWidget(viewer)
    w.layer_combo.value = layer
    w.pattern.setCurrentText("grid")
    w.n_lines.setValue(10)
    _run(qtbot, w)
    notes = tmp_path / "results.csv"
    notes.write_text("sample,hardness\nA,212\n")
    book = tmp_path / "book.json"
    book.write_text('{"owner": "me"}\n')
    with pytest.raises(OutputError, match="not written by napari-srmat"):
        w.export_csv(notes)
    with pytest.raises(OutputError, match="not written by napari-srmat"):
        w.export_json(book)
    assert notes.read_text() == "sample,hardness\nA,212\n"
    assert book.read_text() == '{"owner": "me"}\n'
    ours_csv, ours_json = w.export_csv(tmp_path / "h.csv"), w.export_json(tmp_path / "h.json")
    assert w.export_csv(ours_csv) == ours_csv and w.export_json(ours_json) == ours_json


def test_simple_tab_offers_to_rescale_a_0_255_float_micrograph(make_napari_viewer, qtbot):
    """A 0-255 float micrograph (an 8-bit image saved as floats) was only refused. Now the
    Simple tab asks to measure it divided by 255; Yes gives exactly the measurement of
    the 8-bit image and says so in the warnings, No starts nothing."""
    from napari_srmat import grainsize
    from napari_srmat.synth import generate_microstructure

    viewer = make_napari_viewer()
    ms = generate_microstructure((128, 128), mean_grain_size_px=32, seed=5)
    grey8 = ms.image if ms.image.ndim == 2 else ms.image[..., 0]
    layer = viewer.add_image(grey8.astype(np.float32), name="float tiff",
                             metadata={"pixel_size_um": 0.5})
    w = GrainSizeWidget(viewer)
    panel = w.simple
    panel.image_combo.value = layer
    asked = []
    panel.ask = lambda title, text: asked.append(text) or False
    assert panel.run() is None and panel.worker is None
    assert len(asked) == 1 and "divided by 255" in asked[0] and "'float tiff'" in asked[0]
    assert panel.status.text().startswith("not started")
    panel.ask = lambda title, text: True
    panel.run()
    qtbot.waitUntil(lambda: panel.result is not None, timeout=120000)
    ref = grainsize.measure_grain_size(grey8, pixel_size_um=0.5)
    assert panel.result.mean_intercept_um == pytest.approx(ref.mean_intercept_um, rel=1e-9)
    assert "pixel values divided by 255" in panel.warning_label.text()


def test_the_float_divisor_offer_computes_no_lazy_block_on_the_gui_thread(
        make_napari_viewer, qtbot, monkeypatch):
    """Guard (no defect found): Run's question about 0-255 floats
    (``confirm_float_divisor``) reads no block of a Dask-backed 0-255 float layer on the
    GUI thread: nothing is computed or asked before the worker starts; the question
    comes from the worker (``LazyFloatOffer``). No ends the job as a No on an in-memory
    layer does: "not started: ...", no error (s51 F1: it failed, "float images must be
    in [0, 1]", with an error notification)."""
    import dask.array as da

    computed = []

    def counted(block):
        computed.append(block.shape)
        return block

    viewer = make_napari_viewer()
    ramp = np.tile(np.linspace(0, 255, 256, dtype=np.float32), (256, 1))
    lazy = da.from_array(ramp, chunks=64).map_blocks(counted, dtype=np.float32)
    layer = viewer.add_image(lazy, name="lazy floats", contrast_limits=(0, 255))
    w = GrainSizeWidget(viewer)
    panel = w.simple
    panel.image_combo.value = layer
    asked = []
    panel.ask = lambda title, text: asked.append(text) or False
    import napari_srmat.widgets._worker as worker_mod

    errors = []
    monkeypatch.setattr(worker_mod, "show_error", errors.append)
    monkeypatch.setattr(worker_mod, "relay_error", errors.append)
    computed.clear()  # napari's own display reads
    worker = panel.run()
    assert computed == [] and asked == [] and worker is not None
    qtbot.waitUntil(lambda: panel.run_btn.isEnabled(), timeout=60000)
    assert len(asked) == 1 and errors == []
    assert panel.status.text() == ("not started: layer 'lazy floats' has float pixel "
                                   "values beyond [0, 1] (divide by 255 to use it)")
    assert panel.result is None


def test_a_removed_corrections_or_twin_layer_is_none_not_another_layer(make_napari_viewer,
                                                                      qtbot):
    """Deleting the corrections layer made the next Labels layer in the list (here the
    grain label map) the corrections layer, silently applied as edits at the next
    measurement; a deleted twin layer likewise became another layer's mask. An optional
    layer that goes away is now '(none)'."""
    viewer = make_napari_viewer()
    mask = _voronoi_mask(seed=4)
    gb = viewer.add_labels(mask.astype(np.uint8), name="gb")
    viewer.add_labels((~mask).astype(np.uint8) * 2, name="grains")  # label 2 = "erase"
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    w.layer_combo.value = gb
    corr = w.add_corrections_layer()
    assert w.corrections_combo.value is corr
    viewer.layers.remove(corr)
    assert w.corrections_combo.value is None
    assert w.corrections_combo.native.currentText() == "(none)"
    meas = _run(qtbot, w)
    assert meas.source["edits"] == []
    np.testing.assert_array_equal(w.measured_mask, mask)
    twins = viewer.add_labels(np.zeros(mask.shape, np.uint8), name="twins")
    w.specimen.twins_combo.value = twins
    viewer.layers.remove(twins)
    assert w.specimen.twins_combo.value is None
    # a layer added later is not chosen by itself either
    viewer.add_labels(np.zeros(mask.shape, np.uint8), name="later")
    assert w.specimen.twins_combo.value is None and w.corrections_combo.value is None


def test_a_failed_measurement_leaves_no_earlier_result_to_export(make_napari_viewer, qtbot,
                                                                 tmp_path):
    """After a measurement of layer A, a measurement of layer B that failed in the worker
    left A's numbers in the tables and in the CSV/JSON exports, and the report filed
    A's numbers under B's name (the report read the new layer with the old result).
    Every tab now drops its last result when a new measurement starts."""
    viewer = make_napari_viewer()
    good = viewer.add_labels(_voronoi_mask().astype(np.uint8), name="A")
    tiny = viewer.add_labels(np.zeros((2, 2), np.uint8), name="B")
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    w.layer_combo.value = good
    _run(qtbot, w)
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=10_000)
    assert w.csv_btn.isEnabled() and w.summary.rowCount() > 0
    w.layer_combo.value = tiny
    w.run_btn.click()
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=20_000)
    assert w.status.text().startswith("failed: mask of 2 x 2 px is too small")
    assert w.measurement is None and w.measured_mask is None
    assert not w.csv_btn.isEnabled() and not w.json_btn.isEnabled()
    assert w.summary.rowCount() == 0 and w.table.rowCount() == 0
    with pytest.raises(WidgetInputError, match="nothing to export yet"):
        w.export_csv(tmp_path / "h.csv")
    w.report.source.setCurrentText("Boundary mask")
    with pytest.raises(WidgetInputError, match="measure first"):
        w.report.export_report(tmp_path / "r.html")
    # the Specimen tab: the tables and exports of the last specimen go too
    spec = w.specimen
    spec.select_fields([good])
    spec.run()
    qtbot.waitUntil(lambda: spec.result is not None, timeout=60_000)
    qtbot.waitUntil(spec.run_btn.isEnabled, timeout=10_000)
    assert spec.table.rowCount() == 1 and spec.json_btn.isEnabled()
    spec.select_fields([tiny])
    spec.run_btn.click()
    qtbot.waitUntil(spec.run_btn.isEnabled, timeout=20_000)
    assert spec.status.text().startswith("failed: ")
    assert spec.table.rowCount() == spec.summary.rowCount() == 0
    assert not spec.json_btn.isEnabled() and not spec.csv_btn.isEnabled()


def test_a_failed_simple_measurement_clears_the_last_numbers(make_napari_viewer, qtbot):
    """The Simple tab kept the previous micrograph's ℓ̄, G and warnings beside the status
    'failed: ...' of the next one (a 12-bit scan's 'image is dim' warning under a failed
    image that was not dim)."""
    from napari_srmat.synth import generate_microstructure

    viewer = make_napari_viewer()
    ms = generate_microstructure((128, 128), mean_grain_size_px=32, seed=5)
    good = viewer.add_image(ms.image, name="micrograph", rgb=True)
    holes = ms.image.mean(-1).astype(np.float32) / 255
    holes[10:20, 10:20] = np.nan  # a stitched mosaic's missing tile
    bad = viewer.add_image(holes, name="holes")
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    panel = w.simple
    panel.image_combo.value = good
    panel.run()
    qtbot.waitUntil(lambda: panel.result is not None, timeout=120_000)
    qtbot.waitUntil(panel.run_btn.isEnabled, timeout=10_000)
    assert panel.intercept_label.text() != "–" and panel.detail_label.text()
    panel.image_combo.value = bad
    panel.run_btn.click()
    qtbot.waitUntil(panel.run_btn.isEnabled, timeout=60_000)
    assert panel.status.text().startswith("failed: the image has NaN or Inf pixels")
    assert panel.intercept_label.text() == panel.g_label.text() == "–"
    assert panel.detail_label.text() == panel.warning_label.text() == ""


def test_a_micrograph_layer_measured_as_a_mask_is_warned(make_napari_viewer):
    """A grey micrograph chosen as the boundary mask was binarized > 127 and measured
    without a word (srmat heyn and the library now say so; so does the layer rule)."""
    from napari_srmat.synth import generate_microstructure
    from napari_srmat.widgets.layers import layer_data_mask

    grey = generate_microstructure((128, 128), mean_grain_size_px=16, seed=0).image[..., 0]
    with pytest.warns(UserWarning, match="layer 'scan': .*looks like a micrograph"):
        layer_data_mask(grey, kind="image", metadata={}, name="scan")
    mask = np.where(generate_microstructure((128, 128), seed=0).boundaries, 255, 0)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer_data_mask(mask.astype(np.uint8), kind="image", metadata={}, name="mask")


def test_a_report_into_a_missing_folder_names_the_folder(make_napari_viewer, qtbot, tmp_path,
                                                         monkeypatch):
    """A report (or export) into a folder that does not exist failed with "No such file or
    directory" on a hidden temporary name ('.r.html.7bab01f4.tmp') the user never gave;
    the line now names the missing folder, and the panel is ready again."""
    import napari_srmat.widgets._worker as worker_mod

    shown = []
    monkeypatch.setattr(worker_mod, "show_error", shown.append)
    viewer = make_napari_viewer()
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    w.layer_combo.value = viewer.add_labels(_voronoi_mask(), name="b")
    w.run()
    qtbot.waitUntil(lambda: w.measurement is not None and w.run_btn.isEnabled(),
                    timeout=60_000)
    missing = tmp_path / "no such folder"
    w.report.source.setCurrentText("Boundary mask")
    w.report.export_report(missing / "r.html")
    qtbot.waitUntil(w.report.run_btn.isEnabled, timeout=60_000)
    message = f"cannot write {missing / 'r.html'}: the folder {missing} does not exist"
    assert w.report.status.text() == f"failed: {message}"
    assert shown == [f"napari-srmat: {message}"]
    with pytest.raises(FileNotFoundError, match="the folder .* does not exist"):
        w.export_csv(missing / "h.csv")
    assert not missing.exists()


def test_mask_tab_refuses_a_map_that_does_not_fit_in_memory(make_napari_viewer, qtbot,
                                                            monkeypatch):
    """The Boundary mask tab read a lazy probability map of any size whole in its worker
    (a 60000² float32 map: 13 GiB, then two masks): napari could be killed for memory,
    and with it the session. It is refused with one line before any job."""
    import dask.array as da

    from napari_srmat import estimates

    viewer = make_napari_viewer()
    pyramid = [da.zeros((60000 // 4**i,) * 2, dtype=np.float32, chunks=4096)
               for i in range(5)]
    layer = viewer.add_image(pyramid, multiscale=True, name="map")  # as an OME-Zarr opens
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    w.layer_combo.value = layer
    monkeypatch.setattr(estimates, "available_memory_bytes", lambda: 16 * 2**30)
    w.run_btn.click()
    assert w.status.text() == ("measuring layer 'map' needs 53.6 GiB of memory (16.0 GiB "
                               "available): measure a region of it (add e.g. "
                               "layer.data[:8192, :8192] as a layer)")
    assert w.worker is None and w.run_btn.isEnabled()


def test_simple_tab_memory_check_counts_the_automatic_up_sampling(make_napari_viewer, qtbot,
                                                                  monkeypatch):
    """The Simple tab's memory check counted the micrograph and the boundary maps at the
    micrograph's own scale, but the measurement up-samples a coarse micrograph (up to
    x3.25) before the model: a run needing about 10x the estimate started. The scale is
    only known once the job has estimated it (seconds: not on the GUI thread), so the job
    checks the memory again at that scale and refuses, in one line, before the model
    runs; the micrograph's own-scale plan still lets it start."""
    from napari_srmat import estimates, outputs
    from napari_srmat.grainsize import resample
    from napari_srmat.synth import generate_microstructure

    viewer = make_napari_viewer()
    ms = generate_microstructure((384, 384), mean_grain_size_px=56, seed=3)
    coarse = resample(ms.image.astype(np.float32) / 255, 0.3)  # ~17 px grains: x2 or more
    layer = viewer.add_image(coarse, name="coarse")
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    panel = w.simple
    panel.image_combo.value = layer
    at_own_scale = estimates.plan_grain_size(coarse.shape).output_bytes
    at_two = estimates.plan_grain_size(coarse.shape, inference_scale=2).output_bytes
    available = int(3 * at_own_scale)  # the own-scale plan fits in half, x2 does not
    assert at_own_scale <= estimates.MEMORY_FRACTION * available < at_two
    monkeypatch.setattr(estimates, "available_memory_bytes", lambda: available)
    monkeypatch.setattr(outputs, "available_memory_bytes", lambda: available)
    panel.run_btn.click()
    assert panel.worker is not None  # started: the own-scale plan fits
    qtbot.waitUntil(lambda: panel.run_btn.isEnabled(), timeout=120_000)
    assert "the measurement needs" in panel.status.text()
    assert "measure a region of it" in panel.status.text()
    assert panel.result is None and panel.intercept_label.text() == "–"


def test_cancel_during_the_scale_estimate_ends_the_job_promptly(make_napari_viewer, qtbot,
                                                                monkeypatch):
    """On a large image without a grain pattern the Simple tab's scale estimate runs
    level after level (an autocorrelation each, then 2x2 block means of the whole image):
    seconds to a minute during which Cancel did nothing, the stop request being looked at
    only after the estimate. It is now checked between the levels: the job ends after the
    level under way, well before the estimate would have ended."""
    import threading

    from napari_srmat import estimates, grainsize

    img = np.random.default_rng(0).random((6000, 6000), dtype=np.float32)
    started, cancelled = threading.Event(), threading.Event()
    calls = {"test": 0, "job": 0}
    real_acf = grainsize._acf_half_length

    def acf(window):
        length = real_acf(window)
        if threading.current_thread() is threading.main_thread():
            calls["test"] += 1
        else:
            calls["job"] += 1
            if not started.is_set():  # the job's first level done, it waits for the
                started.set()         # click: no race between Cancel and the next level
                cancelled.wait(20)
        return length

    monkeypatch.setattr(grainsize, "_acf_half_length", acf)
    grainsize.automatic_inference_scale(img)  # the whole estimate, for comparison
    assert calls["test"] >= 3  # several levels: noise has no correlation length
    monkeypatch.setattr(estimates, "available_memory_bytes", lambda: 2**40)
    viewer = make_napari_viewer()
    layer = viewer.add_image(img, name="noise")
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    panel = w.simple
    panel.image_combo.value = layer
    panel.run_btn.click()
    qtbot.waitUntil(started.is_set, timeout=60000)
    panel.cancel_btn.click()
    cancelled.set()
    qtbot.waitUntil(lambda: panel.run_btn.isEnabled(), timeout=120000)
    assert panel.status.text() == "stopped"
    assert panel.result is None and panel.g_label.text() == "–"
    assert calls["job"] == 1  # the estimate's other levels never ran (no wall-clock test)


def test_simple_tab_measures_a_pyramid_as_the_cli_does(make_napari_viewer, qtbot, tmp_path):
    """The Simple tab passed level 0 of a multiscale layer, the CLI and the API measure the
    file's pyramid (resampled from the smallest level with the resolution needed): a x4
    SR store read 21.25 µm in the widget, 21.67 µm with srmat grain-size. The layer's own
    levels are measured now; the display levels the reader makes of a large single-level
    file are not (the CLI reads that file as one level)."""
    from napari_srmat import grainsize
    from napari_srmat.io import read_image, write_ome_zarr
    from napari_srmat.synth import generate_microstructure
    from napari_srmat.widgets.layers import file_pyramid

    ms = generate_microstructure((768, 768), mean_grain_size_px=96, seed=3)
    path = tmp_path / "coarse.ome.zarr"
    write_ome_zarr(ms.image, path, pixel_size_um=0.5)
    mic = read_image(path)
    assert mic.n_levels > 1
    ref = grainsize.measure_grain_size(mic)
    assert ref.inference_scale < 0.5  # read from a coarser level than level 0
    level0 = grainsize.measure_grain_size(mic.data, pixel_size_um=0.5)
    assert level0.mean_intercept_um != ref.mean_intercept_um  # the levels matter here

    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(path), plugin="napari-srmat")
    assert layer.multiscale and len(file_pyramid(layer)) == mic.n_levels
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    panel = w.simple
    panel.image_combo.value = layer
    panel.run()
    qtbot.waitUntil(lambda: panel.result is not None, timeout=120000)
    res = panel.result
    assert res.inference_scale == ref.inference_scale
    assert res.mean_intercept_um == pytest.approx(ref.mean_intercept_um, rel=1e-9)
    assert res.mean_intercept_ci95_um == pytest.approx(ref.mean_intercept_ci95_um, rel=1e-9)
    assert res.warnings == ref.warnings
    # display levels of a single-level image are no file pyramid
    big = viewer.add_image([ms.image, ms.image[::2, ::2]], multiscale=True, rgb=True,
                           metadata={"display_levels": True})
    assert file_pyramid(big) is None and file_pyramid(viewer.add_image(ms.image)) is None


def test_a_renamed_or_duplicated_result_layer_is_kept_by_the_next_run(make_napari_viewer,
                                                                     qtbot):
    """A metallurgist renames the intersections and test lines of a first measurement
    ("seed 0 ...") to keep them beside the next run, and duplicates one: the next run adds
    its own layers and leaves theirs as they were (they were found by the metadata key
    alone and overwritten with the new run's points and lines)."""
    viewer = make_napari_viewer()
    layer = viewer.add_labels(_voronoi_mask().astype(np.uint8), name="gb")
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    w.layer_combo.value = layer
    first = _run(qtbot, w)
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=20000)
    kept_points = first.points_layer.data.copy()
    kept_lines = first.lines_layer.data.copy()
    first.points_layer.name = "seed 0 intersections"
    first.lines_layer.name = "seed 0 test lines"
    from napari.layers._layer_actions import _duplicate_layer  # the "Duplicate" menu item

    viewer.layers.selection = {first.points_layer}
    _duplicate_layer(viewer.layers)
    copy = viewer.layers["seed 0 intersections copy"]
    w.seed.setValue(8)
    second = _run(qtbot, w)
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=20000)
    assert second.points_layer is not first.points_layer and second.points_layer is not copy
    assert second.lines_layer is not first.lines_layer
    np.testing.assert_array_equal(viewer.layers["seed 0 intersections"].data, kept_points)
    np.testing.assert_array_equal(viewer.layers["seed 0 intersections copy"].data, kept_points)
    np.testing.assert_array_equal(viewer.layers["seed 0 test lines"].data, kept_lines)
    assert second.points_layer.name == "gb intersections"
    assert not np.array_equal(second.points_layer.data, kept_points)
    # the run after that updates its own layers again, nothing more is added
    n_layers = len(viewer.layers)
    w.seed.setValue(9)
    third = _run(qtbot, w)
    assert third.points_layer is second.points_layer and len(viewer.layers) == n_layers


@pytest.mark.parametrize("theirs", ["points", "small labels"])
def test_new_corrections_layer_never_takes_another_layer_of_that_name(make_napari_viewer,
                                                                      qtbot, theirs):
    """A layer of the user's already called "gb corrections" (points they marked, a
    Labels layer of another size): *New corrections layer* handed it to the paint tool
    ("'paint' is not a valid Mode" for Points) or chose the wrong-sized labels, which the
    next Measure refused. Now a new corrections layer is added beside it, chosen, and a
    second click finds that one again; the user's layer is left as it was."""
    viewer = make_napari_viewer()
    layer = viewer.add_labels(_voronoi_mask().astype(np.uint8), name="gb")
    if theirs == "points":
        mine = viewer.add_points(np.array([[5.0, 5.0]]), name="gb corrections")
    else:
        mine = viewer.add_labels(np.zeros((50, 50), np.uint8), name="gb corrections")
    mode = mine.mode
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    w.layer_combo.value = layer
    w.new_corrections_btn.click()
    corr = w.corrections_combo.value
    assert corr is not None and corr is not mine, w.status.text()
    assert corr.name == "gb corrections [1]" and corr.mode == "paint"
    assert corr.data.shape == layer.data.shape
    assert mine.mode == mode and mine in viewer.layers
    w.new_corrections_btn.click()  # the same corrections layer again, no third one
    assert w.corrections_combo.value is corr and len(viewer.layers) == 3
    w.run_btn.click()
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=20000)
    assert w.measurement is not None, w.status.text()


def test_the_first_run_does_not_import_torch_on_the_gui_thread(make_napari_viewer, qtbot,
                                                               monkeypatch):
    """The first click of *Measure grain size*, Boundaries' or Super-resolution's *Run*
    (device "auto") froze napari for seconds (2.3 s measured): the job's time estimate
    resolved the device, importing torch on the GUI thread. Now the estimate finds the
    device without torch while it is not loaded (no GPU driver: the CPU), and the time is
    still estimated: each long job still asks first."""
    from _helpers import spy_threads

    from napari_srmat import device, estimates
    from napari_srmat.synth import generate_microstructure
    from napari_srmat.widgets.boundaries_widget import BoundariesWidget
    from napari_srmat.widgets.sr_widget import SuperResolutionWidget

    on_gui_thread = spy_threads(monkeypatch, device, "resolve_device")
    # napari just started, on a CPU-only PC
    monkeypatch.setattr(device, "torch_loaded", lambda: False, raising=False)
    monkeypatch.setattr(device, "_gpu_may_exist", lambda: False, raising=False)
    monkeypatch.setattr(estimates, "CONFIRM_SECONDS", 0)  # every estimated job asks
    viewer = make_napari_viewer()
    viewer.add_image(generate_microstructure((128, 128), seed=0).image, name="m")
    grain, bnd, sr = (GrainSizeWidget(viewer), BoundariesWidget(viewer),
                      SuperResolutionWidget(viewer))
    asked = []
    for widget, panel in ((grain, grain.simple), (bnd, bnd), (sr, sr)):
        qtbot.addWidget(widget)
        panel.ask = lambda title, text: asked.append(text) or False
        panel.run_btn.click()
        assert panel.status.text().startswith("not started"), panel.status.text()
        assert panel.run_btn.isEnabled()
    assert len(asked) == 3 and all("on this CPU" in text for text in asked), asked
    assert True not in on_gui_thread


def test_a_boundary_layer_removed_while_measured_gets_no_overlays(make_napari_viewer,
                                                                  qtbot):
    """The boundary layer deleted while the mask tab measured it: its intersections and
    test lines were still added, over nothing, under its name (the Simple tab already
    skipped them). Now the numbers are shown (and exportable) and no layer is added.
    The status then gave ℓ̄ without a word, where the Simple tab says the input layer was
    removed (302e160): it says so now (input_removed_note), before the figures."""
    from napari_srmat.widgets.layers import input_removed_note

    viewer = make_napari_viewer()
    layer = viewer.add_labels(_voronoi_mask().astype(np.uint8), name="gb")
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    w.layer_combo.value = layer
    w.run()
    viewer.layers.remove(layer)
    qtbot.waitUntil(lambda: not w.cancel_btn.isEnabled(), timeout=20000)  # job's end
    assert not w.run_btn.isEnabled()  # no boundary layer left to measure
    assert len(viewer.layers) == 0, [lay.name for lay in viewer.layers]
    ref = heyn.measure_intercepts(_voronoi_mask(), n_lines=w.n_lines.value(),
                                  seed=w.seed.value())
    assert w.measurement is not None and w.measurement.points_layer is None
    assert w.measurement.stats["n_intersections"] == ref.n_intersections
    assert w.status.text().startswith(input_removed_note(layer)), w.status.text()
    assert "ℓ̄ =" in w.status.text() and w.csv_btn.isEnabled()


def test_a_non_square_layer_says_why_it_has_no_pixel_size(make_napari_viewer, qtbot):
    """A layer with 0.4 x 0.8 µm pixels has no pixel size for the grain-size tabs (as such
    a file in the library); the Simple tab said "unknown: type it" and Calibration
    "unknown" without the reason. Both say the pixels are not square now; a square
    layer with a unitless scale keeps its own hint."""
    from napari_srmat.widgets.calibration_widget import CalibrationWidget

    viewer = make_napari_viewer()
    img = np.zeros((32, 32), np.uint8)
    ns = viewer.add_image(img, name="ns", scale=(0.4, 0.8), units=("micrometer",) * 2)
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    cal = CalibrationWidget(viewer)
    qtbot.addWidget(cal)
    w.simple.image_combo.value = ns
    cal.layer_combo.value = ns
    reason = "its pixels are not square (Y 0.4, X 0.8 per px)"
    assert w.simple.pixel_size.toolTip() == f"layer 'ns': {reason}: ℓ̄ is given in px " \
        "only, without µm and G, until it is resampled to square pixels"
    assert reason in cal.current.text() and cal.current.text().startswith("unknown")
    # the placeholder beside it no longer invites a size (it would be taken as square)
    assert w.simple.pixel_size.placeholderText() == "µm/px (pixels not square: ℓ̄ in px)"
    plain = viewer.add_image(img, name="plain", scale=(0.5, 0.5))
    w.simple.image_combo.value = plain
    assert "has no length unit" in w.simple.pixel_size.toolTip()


def test_first_runs_leave_torch_unimported_in_a_fresh_process(tmp_path):
    """In a fresh napari (torch not yet imported), the first Run of the Simple tab,
    Boundaries and Super-resolution must not import torch on the GUI thread: Boundaries
    still did (1.9 s), reading its checkpoint's TTA through edges.infer. The jobs are not
    started here; only what Run does on the GUI thread is measured."""
    import subprocess
    import sys

    script = tmp_path / "first_run.py"
    script.write_text("""
import sys
import numpy as np
import napari
from napari_srmat import device
from napari_srmat.widgets.boundaries_widget import BoundariesWidget
from napari_srmat.widgets.heyn_widget import GrainSizeWidget
from napari_srmat.widgets.sr_widget import SuperResolutionWidget
from napari_srmat.synth import generate_microstructure

device._gpu_may_exist = lambda: False  # a CPU-only PC: the estimate needs no torch
viewer = napari.Viewer(show=False)
viewer.add_image(generate_microstructure((128, 128), seed=0).image, name="m")
grain = GrainSizeWidget(viewer)
started = []
for panel in (grain.simple, BoundariesWidget(viewer), SuperResolutionWidget(viewer)):
    panel._start_single_job = lambda *a, **k: started.append(1)
    panel.ask = lambda title, text: True
    panel.run()
print("started", len(started), "torch", "torch" in sys.modules)
viewer.close()
""")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300)
    assert "started 3 torch False" in proc.stdout, proc.stdout + proc.stderr


def test_a_micrograph_removed_while_the_simple_tab_measures_it_is_told(make_napari_viewer,
                                                                       qtbot):
    """The micrograph deleted while the Simple tab measured it: the status said 'done'
    (its overlays were silently skipped), where the SR and Boundaries widgets say the
    input layer was removed (input_removed_note). It says so now and adds no layer; the
    numbers of the image it read stay shown, as the mask and specimen tabs keep theirs."""
    from _helpers import simple_tab_on_micrograph

    from napari_srmat.widgets.layers import input_removed_note

    viewer = make_napari_viewer()
    _, layer, _, panel = simple_tab_on_micrograph(viewer, qtbot)
    panel.run()
    viewer.layers.remove(layer)  # before the result: it is delivered on the GUI thread
    qtbot.waitUntil(lambda: not panel.cancel_btn.isEnabled(), timeout=120_000)
    assert not panel.run_btn.isEnabled()  # no micrograph left to measure
    assert panel.result is not None, panel.status.text()
    assert panel.status.text() == input_removed_note(layer)
    assert len(viewer.layers) == 0, [lay.name for lay in viewer.layers]
    assert panel.intercept_label.text() != "–"


def test_heyn_overlays_stay_on_their_layer_when_it_is_placed_by_hand(make_napari_viewer,
                                                                     qtbot):
    """The boundary layer's ``scale`` or ``translate`` set by hand (not Calibration) left
    its intersections, test lines and corrections at the old place: at 1 -> 0.5 µm/px
    the points lay off the boundaries they were counted on. The grain-size boundaries of
    an image (at the inference scale) stayed behind too. Each now keeps the place of the
    layer it was made from, at its factor, and snaps back when moved alone."""
    from types import SimpleNamespace

    from _helpers import assert_on_layer, measured_scan

    from napari_srmat.widgets.calibration_widget import set_layer_pixel_size
    from napari_srmat.widgets.layers import measure_heyn, show_grain_size_overlays

    viewer = make_napari_viewer()
    scan, g = measured_scan(viewer, qtbot)
    overlays = [g.measurement.points_layer, g.measurement.lines_layer,
                g.add_corrections_layer()]
    scan.scale, scan.units = (0.5, 0.5), ("micrometer", "micrometer")  # by hand
    scan.translate = (4.0, 2.0)
    for lay in overlays:
        assert_on_layer(lay, scan)
    overlays[0].translate = (0.0, 0.0)  # moved alone: back on its layer
    assert_on_layer(overlays[0], scan)
    # the Simple tab's overlays: boundaries at the inference scale (x0.5), points on them
    image = viewer.add_image(np.zeros((48, 48), np.uint8), name="image")
    mask = scan.data.astype(bool)
    result = SimpleNamespace(boundaries=mask, heyn=measure_heyn(mask), inference_scale=2.0)
    meas = show_grain_size_overlays(viewer, image, result, boundaries=mask)
    boundaries = viewer.layers["image boundaries (grain size)"]
    image.scale = (0.8, 0.8)
    image.translate = (1.0, 3.0)
    assert_on_layer(boundaries, image, 2.0)
    assert_on_layer(meas.points_layer, boundaries)
    # calibrating the boundaries calibrates the image (x2), which they follow
    changed = set_layer_pixel_size(viewer, boundaries, 0.1)
    assert changed[0] is image and any(c is boundaries for c in changed)
    np.testing.assert_allclose(image.scale, (0.2, 0.2))
    assert_on_layer(boundaries, image, 2.0)
    assert_on_layer(meas.points_layer, boundaries)


def test_the_e112_checkbox_scores_p_by_e112_and_the_export_says_so(make_napari_viewer, qtbot,
                                                                     tmp_path):
    """The mask tab counted crossings only (each 1): a lab reporting by E112 could not get
    E112's P from it. Its E112 checkbox scores P as ``srmat heyn --scoring e112`` (1½ at a
    triple point, ½ at a line end on a boundary; the library's triple_points=True), the
    statistics, status and exports say which scoring made the numbers, and the Points
    layer still shows the crossings."""
    viewer = make_napari_viewer()
    mask = _voronoi_mask(seed=3)
    mask[:, [0, -1]] = True  # the grid's line ends lie on boundaries
    layer = viewer.add_labels(mask.astype(np.uint8), name="gb")
    w = GrainSizeWidget(viewer)
    w.layer_combo.value = layer
    w.pattern.setCurrentText("grid")
    w.n_lines.setValue(12)
    assert not w.e112_scoring.isChecked() and w.e112_scoring.toolTip()
    runs = _run(qtbot, w)
    assert runs.stats["scoring"] == "crossings" and runs.source["scoring"] == "crossings"
    w.e112_scoring.setChecked(True)
    w.measurement = None
    e112 = _run(qtbot, w)
    ref = heyn.measure_intercepts(mask, pattern="grid", n_lines=12, triple_points=True,
                                  skeletonize=w.skeletonize.isChecked())
    assert ref.n_triple_points > 0 and ref.n_line_end_touches > 0
    assert e112.result.intersection_count == ref.intersection_count
    assert e112.result.intersection_count != runs.result.intersection_count
    assert e112.result.mean_intercept_px == pytest.approx(ref.mean_intercept_px, rel=1e-12)
    assert e112.stats["scoring"] == "e112" and e112.source["scoring"] == "e112"
    assert "(E112 scoring)" in w.status.text()
    summary = {w.summary.item(i, 0).text(): w.summary.item(i, 1).text()
               for i in range(w.summary.rowCount())}
    assert summary["scoring of intersections"] == "e112"
    assert summary["intersections"] == f"{ref.intersection_count:g}"
    # the intercepts shown as points are the crossings, as without the checkbox
    assert len(viewer.layers["gb intersections"].data) == ref.n_intersections
    assert ref.n_intersections == runs.result.n_intersections
    d = json.loads(w.export_json(tmp_path / "h.json").read_text())
    assert d["scoring"] == "e112" and d["source"]["scoring"] == "e112"
    assert d["intersection_count"] == ref.intersection_count
    rows = list(csv.reader(w.export_csv(tmp_path / "h.csv").read_text().splitlines()))
    assert ["# scoring", "e112"] in rows


def test_add_heyn_measurement_scores_by_e112_as_the_widget_when_asked(make_napari_viewer,
                                                                      qtbot):
    """add_heyn_measurement, the widget's scripting counterpart, counted crossings only:
    a script could not get the P that the widget's 'score by E112' checkbox and ``srmat
    heyn --scoring e112`` give. Its ``scoring`` takes the same names ("crossings", the
    default, or "e112"; metrics.heyn.scoring_triple_points, the one rule), gives the
    widget's numbers and says which scoring made them; another name is refused in one
    line before anything is measured."""
    viewer = make_napari_viewer()
    mask = _voronoi_mask(seed=3)
    mask[:, [0, -1]] = True  # the grid's line ends lie on boundaries
    layer = viewer.add_labels(mask.astype(np.uint8), name="gb")
    ref = heyn.measure_intercepts(mask, pattern="grid", n_lines=12, triple_points=True,
                                  skeletonize=True)
    crossings = add_heyn_measurement(viewer, layer, pattern="grid", n_lines=12)
    assert crossings.stats["scoring"] == crossings.source["scoring"] == "crossings"
    e112 = add_heyn_measurement(viewer, layer, pattern="grid", n_lines=12, scoring="e112")
    assert e112.result.intersection_count == ref.intersection_count
    assert e112.result.intersection_count != crossings.result.intersection_count
    assert e112.stats["scoring"] == e112.source["scoring"] == "e112"
    assert len(e112.points_layer.data) == ref.n_intersections  # the crossings shown
    w = GrainSizeWidget(viewer)
    w.layer_combo.value = layer
    w.pattern.setCurrentText("grid")
    w.n_lines.setValue(12)
    w.e112_scoring.setChecked(True)
    widget = _run(qtbot, w)
    assert widget.result.intersection_count == e112.result.intersection_count
    assert widget.stats["mean_intercept_px"] == e112.stats["mean_intercept_px"]
    n_layers = len(viewer.layers)
    with pytest.raises(ValueError, match=r"^scoring 'astm': use one of crossings, e112$"):
        add_heyn_measurement(viewer, layer, scoring="astm")
    assert len(viewer.layers) == n_layers


def test_mask_tab_shows_g_s_interval_of_srmat_heyn_made_in_the_worker(make_napari_viewer,
                                                                      qtbot, tmp_path,
                                                                      monkeypatch):
    """The Boundary mask tab's statistics (heyn_statistics) kept no G interval: the tab
    showed G alone where the Simple tab shows G [low, high], and the Report tab made it
    apart (report_panel.mask_g_interval) on the GUI thread. The statistics now carry
    ``astm_g_ci95`` of ``srmat heyn --json``'s row for the same mask (the built-in
    sample's at 0.5 µm/px), made in the worker; the tab shows it with format_g (the
    rule of the Simple tab and the CLI) and the report takes it from the statistics."""
    import contextlib
    import io

    import tifffile
    from _helpers import spy_threads

    from napari_srmat import grainsize
    from napari_srmat._sample_data import synthetic_micrograph
    from napari_srmat.cli import main
    from napari_srmat.cli.grainsize import format_g
    from napari_srmat.report import G_CI95_LABEL
    from napari_srmat.widgets import report_panel

    mask = synthetic_micrograph()[1][0]
    tifffile.imwrite(tmp_path / "mask.tif", mask)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["heyn", str(tmp_path / "mask.tif"), "--pixel-size-um", "0.5",
                     "--skeletonize", "--json"]) == 0  # the tab's default thinning
    row = json.loads(out.getvalue())["per_image"][0]
    assert row["astm_g_ci95"] is not None
    on_gui_thread = spy_threads(monkeypatch, grainsize, "grain_size_from_heyn")
    viewer = make_napari_viewer()
    layer = viewer.add_labels(mask, name="true boundaries", metadata={"pixel_size_um": 0.5})
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    w.layer_combo.value = layer
    meas = _run(qtbot, w)
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=10_000)
    assert meas.stats["astm_g"] == pytest.approx(row["astm_g"])
    assert meas.stats["astm_g_ci95"] == pytest.approx(row["astm_g_ci95"])
    shown = format_g(row["astm_g"], row["astm_g_ci95"])  # '9.1 [8.9, 9.2]'
    cells = {w.summary.item(i, 0).text(): w.summary.item(i, 1).text()
             for i in range(w.summary.rowCount())}
    assert cells["ASTM grain size G"] == shown, cells
    assert f"G {shown}" in w.status.text(), w.status.text()
    w.report.source.setCurrentText("Boundary mask")
    summary = dict(w.report._builder()().summary)
    assert summary[G_CI95_LABEL] == pytest.approx(row["astm_g_ci95"])
    assert not hasattr(report_panel, "mask_g_interval")  # one rule: the statistics'
    assert on_gui_thread and True not in on_gui_thread, on_gui_thread


def test_simple_tab_makes_its_statistics_in_the_worker(make_napari_viewer, qtbot,
                                                       monkeypatch):
    """The Simple tab made its overlays' statistics (heyn_statistics, with srmat heyn's
    row by grain_size_from_heyn) on the GUI thread, in show_grain_size_overlays; its job
    now makes them and the overlays take them: none of either runs on the GUI thread,
    and the measurement shown is the one heyn_statistics makes of the result."""
    from _helpers import simple_tab_on_micrograph, spy_threads, thread_spy

    from napari_srmat import grainsize
    from napari_srmat.widgets import heyn_widget, layers

    # (function, made on the GUI thread)
    calls = spy_threads(monkeypatch, grainsize, "grain_size_from_heyn",
                        label="grain_size_from_heyn")
    real_stats = layers.heyn_statistics
    stats_spy = thread_spy(real_stats, calls, "heyn_statistics")
    monkeypatch.setattr(layers, "heyn_statistics", stats_spy)
    monkeypatch.setattr(heyn_widget, "heyn_statistics", stats_spy)
    shown = []
    real_show = layers.show_heyn_measurement

    def keep(*args, **kwargs):
        shown.append(real_show(*args, **kwargs))
        return shown[-1]

    monkeypatch.setattr(layers, "show_heyn_measurement", keep)
    viewer = make_napari_viewer()
    _, _, _, panel = simple_tab_on_micrograph(viewer, qtbot)
    panel.run()
    qtbot.waitUntil(lambda: panel.result is not None, timeout=120_000)
    qtbot.waitUntil(panel.run_btn.isEnabled, timeout=10_000)
    assert "micrograph boundaries (grain size) intersections" in viewer.layers
    assert ("heyn_statistics", False) in calls, calls
    gui = [name for name, on_gui in calls if on_gui]
    assert not gui, f"made on the GUI thread: {gui}"
    assert len(shown) == 1
    assert shown[0].stats == real_stats(panel.result.heyn)


@pytest.mark.parametrize("pattern", ["random", "circles"])
def test_mask_tab_overlays_are_built_in_the_worker(make_napari_viewer, qtbot, monkeypatch,
                                                   pattern):
    """The intersections' and test lines' arrays are made in the job's worker: the
    result handler only hands them to napari (it built the 200 lines' vectors on the
    GUI thread, ~15 ms), and the layers hold what they held."""
    from _helpers import spy_threads

    from napari_srmat.widgets import layers as layers_mod

    on_main: list[bool] = []
    for name in ("result_lines", "lines_layer_data"):
        if hasattr(layers_mod, name):  # lines_layer_data: new with the fix
            spy_threads(monkeypatch, layers_mod, name, on_main)
    viewer = make_napari_viewer()
    mask = _voronoi_mask()
    layer = viewer.add_labels(mask.astype(np.uint8), name="gb")
    w = GrainSizeWidget(viewer)
    w.layer_combo.value = layer
    w.pattern.setCurrentText(pattern)
    w.n_lines.setValue(17)
    meas = _run(qtbot, w)
    assert on_main and not any(on_main), on_main
    ref = heyn.measure_intercepts(mask, pattern=pattern, n_lines=17, seed=w.seed.value(),
                                  skeletonize=w.skeletonize.isChecked())
    np.testing.assert_array_equal(viewer.layers["gb intersections"].data,
                                  np.asarray(ref.intersections, float).reshape(-1, 2))
    lines = viewer.layers["gb test lines"].data
    paths = [np.asarray(p, float) for p in ref.paths]
    if pattern == "random":  # straight lines: one Vectors layer of start and direction
        np.testing.assert_array_equal(lines, [[p[0], p[1] - p[0]] for p in paths])
    else:
        assert len(lines) == len(paths)
        for got, want in zip(lines, paths):  # napari's Shapes hold float32
            np.testing.assert_array_equal(got, np.asarray(want, got.dtype))
    assert meas.lines_layer is viewer.layers["gb test lines"]


@pytest.mark.parametrize("units, told", [
    (("um", "um"), "layer 'ns': it records (Y, X) = (0.5, 0.25) µm per pixel; the given "
                   "0.5 µm was used"),
    (None, "layer 'ns': its pixels are not square (Y 0.5, X 0.25 per px, no length unit); "
           "the given 0.5 µm was used for both"),
])
def test_a_layer_of_non_square_pixels_is_not_unknown_and_a_typed_size_is_told(
        make_napari_viewer, qtbot, units, told):
    """A 0.5 x 0.25 µm mask: the Boundary mask tab invited "unknown: type it" and gave µm
    and G of a typed square size without a word. Now its field says its pixels are not
    square, as the Simple tab's, and a size typed is used with the CLI's warning for a
    size given (``--pixel-size-um``), naming the layer's (Y, X) sizes. The same scale in
    napari's default unit (pixel, ``units=None``): the typed size was used silently
    until 2026-12-07 (that warning names sizes in µm, which it has none of); now told."""
    viewer = make_napari_viewer()
    layer = viewer.add_labels(_voronoi_mask().astype(np.uint8), name="ns", scale=(0.5, 0.25),
                              **({"units": units} if units else {}))
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    w.layer_combo.value = layer
    assert w.pixel_size.placeholderText() == "µm/px (pixels not square: ℓ̄ in px)"
    w.pixel_size.setText("0.5")
    meas = _run(qtbot, w)
    assert told in meas.stats["warnings"]
    assert told in w.status.text()


def test_a_derived_layer_s_field_says_whose_pixel_size_is_typed(make_napari_viewer, qtbot):
    """A boundary map kept on its micrograph at x1.17 (the Simple tab's, at its inference
    scale) of an uncalibrated micrograph: the field said "unknown: type it", and the
    micrograph's 0.5 typed there gave ℓ̄ 1.17x too large without a word. Now the field
    says the size is this layer's, the micrograph's / 1.17, and a size typed is told as
    this layer's, with the micrograph's it stands for."""
    from napari_srmat.widgets.layers import keep_on_layer, overlay_geometry, source_metadata

    viewer = make_napari_viewer()
    img = viewer.add_image(np.zeros((137, 171), np.float32), name="micro")
    bl = viewer.add_labels(_voronoi_mask().astype(np.uint8), name="micro boundaries",
                           metadata=source_metadata(img), **overlay_geometry(img, 1.17))
    keep_on_layer(viewer, bl, img, 1.17)
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    w.layer_combo.value = bl
    assert w.pixel_size.placeholderText() == (
        "µm/px of this layer: 'micro''s / 1.17 (unknown: type it)")
    w.simple.image_combo.value = img
    assert "unknown: type it for µm and G" in w.simple.pixel_size.placeholderText()
    w.pixel_size.setText("0.5")
    meas = _run(qtbot, w)
    assert ("the 0.5 µm/px typed is layer 'micro boundaries''s own pixel size, 1.17x finer "
            "than 'micro' (at 0.585 µm/px)") in w.status.text()
    assert meas.stats["mean_intercept_um"] == pytest.approx(0.5 * meas.stats["mean_intercept_px"])


def test_the_mask_tab_s_default_measures_as_srmat_grain_size_mask(make_napari_viewer, qtbot,
                                                                  tmp_path, capsys):
    """A probability map of 5 px wide boundaries: the Boundary mask tab measured it
    unthinned by default (its skeletonize box off), ℓ̄ other than ``srmat grain-size
    --mask``'s, which always thins (grainsize.MEASURED_SKELETONIZE). Now the box starts
    at that rule and the tab's default ℓ̄ is the command's; unticked, the unthinned
    measurement of ``srmat heyn`` is still there."""
    import tifffile
    from scipy import ndimage

    from napari_srmat.cli import main
    from napari_srmat.grainsize import MEASURED_SKELETONIZE

    thick = ndimage.binary_dilation(_voronoi_mask(shape=(240, 300), n=30, seed=11),
                                    iterations=2)
    prob = np.where(thick, 0.8, 0.1).astype(np.float32)
    path = tmp_path / "prob.tif"
    tifffile.imwrite(path, prob)
    assert main(["grain-size", "--mask", "--threshold", "0.5", "--json", str(path)]) == 0
    cli = json.loads(capsys.readouterr().out)["images"][0]

    viewer = make_napari_viewer()
    layer = viewer.add_image(prob, name="p", metadata={"threshold": 0.5})
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    w.layer_combo.value = layer
    assert w.skeletonize.isChecked() is MEASURED_SKELETONIZE
    meas = _run(qtbot, w)
    assert meas.result.mean_intercept_px == pytest.approx(cli["mean_intercept_px"], rel=1e-9)
    w.skeletonize.setChecked(False)  # srmat heyn's default: as drawn, read longer
    w.measurement = None
    assert _run(qtbot, w).result.mean_intercept_px > 1.03 * cli["mean_intercept_px"]


def test_add_heyn_measurement_s_default_thins_as_the_mask_tab(make_napari_viewer, qtbot):
    """The same 5 px wide boundaries: the mask tab thins them by default
    (grainsize.MEASURED_SKELETONIZE) while add_heyn_measurement, its scripting
    counterpart, measured them as drawn (srmat heyn's default), ℓ̄ 5 % longer. Now its
    default is the tab's (the one rule, for a model's map and a drawn mask alike);
    ``skeletonize=False`` still measures as drawn."""
    from scipy import ndimage

    thick = ndimage.binary_dilation(_voronoi_mask(shape=(240, 300), n=30, seed=11),
                                    iterations=2)
    viewer = make_napari_viewer()
    layer = viewer.add_labels(thick.astype(np.uint8), name="gb")
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    w.layer_combo.value = layer
    tab = _run(qtbot, w).result
    script = add_heyn_measurement(viewer, layer)
    assert script.result.mean_intercept_px == pytest.approx(tab.mean_intercept_px, rel=1e-9)
    assert script.source["skeletonize"] is w.skeletonize.isChecked() is True
    drawn = add_heyn_measurement(viewer, layer, skeletonize=False)
    assert drawn.result.mean_intercept_px > 1.03 * tab.mean_intercept_px


def test_an_uncalibrated_derived_layer_s_field_explains_itself_in_its_tooltip(
        make_napari_viewer):
    """An x4 SR layer of an uncalibrated micrograph: the Simple tab's pixel-size field
    had an empty tooltip, only its placeholder (hidden once something is typed) said
    whose size to type. Now the tooltip says it too, from the placeholder's one rule
    (layers.pixel_size_placeholder), in both tabs; a calibrated layer's stays empty."""
    from napari_srmat.widgets.layers import (
        add_super_resolution_result,
        derived_records,
        keep_on_layer,
        overlay_geometry,
        pixel_size_placeholder,
        source_metadata,
    )

    viewer = make_napari_viewer()
    lr = viewer.add_image(np.zeros((40, 50), np.float32), name="lr")
    sr = add_super_resolution_result(viewer, lr, np.zeros((160, 200), np.float32), 4)
    geo = overlay_geometry(lr, 4.0)  # a boundary map of the SR layer, as the tools add it
    bl = viewer.add_labels(_voronoi_mask().astype(np.uint8), name="lr SR x4 boundaries",
                           metadata=derived_records(source_metadata(sr), lr, 4.0,
                                                    geo["scale"], geo["translate"]), **geo)
    keep_on_layer(viewer, bl, lr, 4.0)
    w = GrainSizeWidget(viewer)
    w.simple.image_combo.value = sr
    w.layer_combo.value = bl
    for field, layer in ((w.simple.pixel_size, sr), (w.pixel_size, bl)):
        text = pixel_size_placeholder(viewer, layer)
        assert "'lr''s / 4 (unknown: type it)" in text
        assert field.placeholderText() == text
        assert field.toolTip() == f"layer {layer.name!r}: {text}"
    cal = viewer.add_image(np.zeros((20, 20), np.float32), name="cal", scale=(0.5, 0.5),
                           units=("um", "um"))
    w.simple.image_combo.value = cal
    assert w.simple.pixel_size.toolTip() == ""


def test_a_size_typed_in_the_simple_tab_reaches_its_boundaries_layer(make_napari_viewer,
                                                                      qtbot):
    """An uncalibrated micrograph measured in the Simple tab at a typed 0.5 µm/px: its
    boundaries layer (at the inference scale f) recorded no pixel size, so the Boundary
    mask tab, given that layer to correct, asked for a size again (this layer's: 0.5 / f,
    left to the user to work out) and gave ℓ̄ in px only. Now the layer records the size
    it was measured at (0.5 / f, followed by the link to its micrograph); a micrograph
    calibrated later wins over it."""
    from napari_srmat.synth import generate_microstructure
    from napari_srmat.widgets.layers import layer_pixel_size_um

    viewer = make_napari_viewer()
    ms = generate_microstructure((128, 128), mean_grain_size_px=32, seed=5)
    src = viewer.add_image(ms.image, name="src", rgb=True)
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    w.simple.image_combo.value = src
    w.simple.pixel_size.setText("0.5")
    w.simple.run()
    qtbot.waitUntil(lambda: w.simple.result is not None, timeout=120_000)
    factor = w.simple.result.inference_scale
    assert factor != 1 and w.simple.result.pixel_size_um == 0.5
    bl = viewer.layers["src boundaries (grain size)"]
    assert layer_pixel_size_um(bl) == pytest.approx(0.5 / factor)
    w.layer_combo.value = bl
    assert w.pixel_size_um() == pytest.approx(0.5 / factor)
    assert w.pixel_size.placeholderText().startswith(f"{0.5 / factor:g} µm/px")
    meas = _run(qtbot, w)  # the Simple tab's ℓ̄ in µm again (its thinned map, re-measured)
    assert meas.stats["mean_intercept_um"] == pytest.approx(
        w.simple.result.mean_intercept_um, rel=1e-12)
    src.scale, src.units = (0.4, 0.4), ("um", "um")  # calibrated: its size wins
    assert layer_pixel_size_um(bl) == pytest.approx(0.4 / factor)


def test_grain_size_boundaries_of_a_calibrated_micrograph_follow_its_calibration_off(
        make_napari_viewer):
    """The Simple tab's boundaries layer recorded the result's pixel size as the size its
    micrograph was measured at (``source_measured_at_um``) even when the micrograph was
    calibrated, not typed: calibration taken off the micrograph, the boundaries still
    read 0.2 µm/px where its other derived layers read none. The record is now written
    only for a size typed for a micrograph without one."""
    from types import SimpleNamespace

    from napari_srmat.widgets.layers import (
        MEASURED_AT_KEY,
        layer_pixel_size_um,
        measure_heyn,
        show_grain_size_overlays,
    )

    viewer = make_napari_viewer()
    mask = np.zeros((48, 48), bool)
    mask[::12], mask[:, ::12] = True, True
    calibrated = viewer.add_image(np.zeros((24, 24), np.uint8), name="cal",
                                  scale=(0.4, 0.4), units=("um", "um"))
    typed = viewer.add_image(np.zeros((24, 24), np.uint8), name="typed")
    for image in (calibrated, typed):
        result = SimpleNamespace(heyn=measure_heyn(mask), inference_scale=2.0,
                                 pixel_size_um=0.4)
        show_grain_size_overlays(viewer, image, result, boundaries=mask)
    cal_bnd = viewer.layers["cal boundaries (grain size)"]
    typed_bnd = viewer.layers["typed boundaries (grain size)"]
    assert MEASURED_AT_KEY not in cal_bnd.metadata
    assert layer_pixel_size_um(cal_bnd) == pytest.approx(0.2)
    assert layer_pixel_size_um(typed_bnd) == pytest.approx(0.2)  # typed 0.4, at x2
    calibrated.units, calibrated.scale = ("pixel", "pixel"), (1, 1)  # calibration off
    assert layer_pixel_size_um(calibrated) is None
    assert layer_pixel_size_um(cal_bnd) is None


def test_measure_heyn_defaults_to_the_mask_tabs_skeletonize(make_napari_viewer):
    """``measure_heyn`` ("the widget's options") counted the mask as drawn by default
    (skeletonize=False) where the mask tab and ``add_heyn_measurement`` thin it first
    (grainsize.MEASURED_SKELETONIZE): on 4 px boundaries 271 crossings, not the tab's
    340. One default now."""
    from napari_srmat.widgets.layers import measure_heyn

    viewer = make_napari_viewer()
    mask = np.zeros((96, 96), bool)
    for k in range(6, 96, 16):
        mask[k:k + 4], mask[:, k:k + 4] = True, True
    layer = viewer.add_labels(mask.astype(np.uint8), name="thick")
    tab = add_heyn_measurement(viewer, layer).result
    plain = measure_heyn(mask, skeletonize=False)
    assert plain.n_intersections != tab.n_intersections  # the default matters here
    assert measure_heyn(mask).n_intersections == tab.n_intersections
