"""Grain-size widget, *Specimen (E112)* tab: several fields, methods, twins, exclusions."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("napari")
from napari_srmat.jobs import Stopped, StopToken  # noqa: E402
from napari_srmat.metrics.standards import (  # noqa: E402
    field_grid,
    measure_specimen,
    measure_specimen_job,
)
from napari_srmat.synth import generate_microstructure  # noqa: E402
from napari_srmat.widgets._common import WidgetInputError  # noqa: E402
from napari_srmat.widgets.heyn_widget import GrainSizeWidget  # noqa: E402
from napari_srmat.widgets.specimen_panel import POOLED_FIELD  # noqa: E402

pytestmark = pytest.mark.gui

PX = 0.5


def _micro(seed: int, shape=(192, 192), size=18.0):
    return generate_microstructure(shape, mean_grain_size_px=size, seed=seed)


def _one_field(make_napari_viewer, qtbot):
    """A viewer with one field layer ``f1`` chosen in the specimen tab of a grain-size
    widget: ``(viewer, layer, widget)`` (the caller holds the widget: qtbot does not, and
    its panel goes with it)."""
    viewer = make_napari_viewer()
    layer = viewer.add_labels(_micro(1).boundaries.astype(np.uint8), name="f1")
    widget = GrainSizeWidget(viewer)
    qtbot.addWidget(widget)
    widget.specimen.select_fields(["f1"])
    return viewer, layer, widget


def _small_fields(make_napari_viewer, qtbot, n: int):
    """A viewer with ``n`` small field layers ``f1``, ``f2``… all chosen in the specimen
    tab (10 test lines) of a grain-size widget: ``(viewer, widget)`` (the caller holds
    the widget, as :func:`_one_field`'s)."""
    viewer = make_napari_viewer()
    for k in range(1, n + 1):
        viewer.add_labels(_micro(k, shape=(96, 96)).boundaries.astype(np.uint8),
                          name=f"f{k}")
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    w.specimen.n_lines.setValue(10)
    w.specimen.select_fields([f"f{k}" for k in range(1, n + 1)])
    return viewer, w


def _measure(qtbot, panel):
    """Run ``panel`` and wait for its result and for the job's end (Cancel disabled): a
    second run called once the result was shown but before the end was processed was
    refused ("already running")."""
    panel.run()
    qtbot.waitUntil(lambda: panel.result is not None and not panel.cancel_btn.isEnabled(),
                    timeout=60000)
    return panel.result


def test_the_status_says_how_many_fields_the_statistics_use(make_napari_viewer, qtbot):
    """The status line words the fields as the report's row and srmat grain-size's line
    do (one function, specimen_fields_text): a field that is not a boundary map (all
    boundary) is left out, so '... from 2 fields (1 in the statistics)', where it read
    'from 2 field(s) (1 in the statistics)'."""
    viewer = make_napari_viewer()
    viewer.add_labels(_micro(1).boundaries.astype(np.uint8), name="f1")
    viewer.add_labels(np.ones((192, 192), np.uint8), name="full")
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    panel = w.specimen
    panel.select_fields(["f1", "full"])
    s = _measure(qtbot, panel).report["summary"]
    assert (s["n_fields"], s["n_fields_in_statistics"]) == (2, 1)
    assert " from 2 fields (1 in the statistics); " in panel.status.text()
    assert dict(panel.summary_rows())["fields"] == "2 fields (1 in the statistics)"


def test_two_layers_planimetric_equal_library(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    a, b = _micro(1), _micro(2)
    viewer.add_labels(a.boundaries.astype(np.uint8), name="f1", scale=(PX, PX),
                      metadata={"pixel_size_um": PX})
    viewer.add_labels(b.boundaries.astype(np.uint8), name="f2", scale=(PX, PX),
                      metadata={"pixel_size_um": PX})
    w = GrainSizeWidget(viewer)
    panel = w.specimen
    panel.select_fields(["f1", "f2"])
    panel.method.setCurrentText("planimetric")
    panel.rule.setCurrentText("iso643")
    panel.n_lines.setValue(20)
    res = _measure(qtbot, panel)

    ref = measure_specimen([a.boundaries, b.boundaries], method="planimetric",
                           names=["f1", "f2"], pixel_size_um=PX, rule="iso643",
                           n_lines=20)
    assert res.report == ref
    s = res.report["summary"]
    assert s["n_fields"] == 2 and s["standard"].startswith("ISO 643")
    # grains coloured by area: a grain's pixels hold its area in µm²
    areas = viewer.layers["f1 grain area"].data
    assert areas.shape == a.boundaries.shape
    lab = a.labels
    r, c = np.argwhere(~a.boundaries & (lab == lab[96, 96]))[0]
    assert areas[r, c] > 0
    values = np.unique(areas[areas > 0])
    np.testing.assert_allclose(values / PX**2, np.round(values / PX**2), atol=1e-3)
    np.testing.assert_allclose(viewer.layers["f1 grain area"].scale, (PX, PX))
    bar = viewer.layers["f2 grain area"].colorbar  # the corner's one bar: the last map's
    assert bar.visible and str(bar.position) == "bottom_left"
    assert not viewer.layers["f1 grain area"].colorbar.visible
    # the panel's own output layers are never offered as fields
    assert [panel.fields_list.item(i).text() for i in range(panel.fields_list.count())] \
        == ["f1", "f2"]
    # intersections as points (one per crossing of the intercept measurement)
    assert len(viewer.layers["f2 intersections (specimen)"].data) == ref["images"][1]["n_crossings"]
    # tables
    assert panel.table.rowCount() == 2
    assert panel.table.item(1, 0).text() == "f2"
    # G to a tenth, as E112 reports it and the report shows it (was 4 digits)
    assert panel.table.item(0, 1).text() == f"{ref['images'][0]['astm_g']:.1f}"
    # the fields worded as the report and srmat grain-size word them (was "2 field(s)")
    assert panel.status.text().startswith(f"G = {ref['summary']['astm_g']:.1f} from 2 fields")
    assert not panel.status.text().startswith(
        f"G = {ref['summary']['astm_g']:.1f} from 2 field(s)")
    labels = [panel.summary.item(i, 0).text() for i in range(panel.summary.rowCount())]
    assert "grains per mm² N_A" in labels and "relative accuracy %RA" in labels
    # histograms: one per field and a pooled one, shown as a picture
    assert [panel.histogram_choice.itemText(i)
            for i in range(panel.histogram_choice.count())] == ["f1", "f2", POOLED_FIELD]
    panel.histogram_choice.setCurrentText(POOLED_FIELD)
    assert not panel.histogram.pixmap().isNull()
    assert panel.histogram.pixmap().width() > 100


def test_grid_of_fields_over_one_layer(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    ms = _micro(3, shape=(240, 240), size=16.0)
    viewer.add_image(ms.boundaries.astype(np.float32), name="scan",
                     metadata={"threshold": 0.5})
    widget = GrainSizeWidget(viewer)
    panel = widget.specimen
    panel.select_fields(["scan"])
    panel.grid_rows.setValue(2)
    panel.grid_cols.setValue(2)
    panel.pixel_size.setText("0.25")
    res = _measure(qtbot, panel)
    windows = field_grid(ms.boundaries.shape, 2, 2)
    ref = measure_specimen([ms.boundaries[w] for w in windows], pixel_size_um=0.25,
                           names=[f"scan [{k}]" for k in range(1, 5)])
    assert res.report == ref
    assert res.report["summary"]["n_fields"] == 4
    assert res.report["summary"]["method"] == "intercept"
    # the area map covers all four fields in place
    areas = viewer.layers["scan grain area"].data
    for ys, xs in windows:
        assert (areas[ys, xs] > 0).mean() > 0.5
    # JSON export is the report
    path = panel.export_json(tmp_path / "specimen.json")
    assert json.loads(path.read_text()) == json.loads(json.dumps(ref))
    # CSV: one row per field (units in the headers), then the summary as comments
    text = (panel.export_csv(tmp_path / "specimen.csv")).read_text().splitlines()
    assert text[0].startswith("field,astm_g,mean_intercept_um,mean_intercept_px")
    rows = [line.split(",") for line in text[1:5]]
    assert [r[0] for r in rows] == [f"scan [{k}]" for k in range(1, 5)]
    assert float(rows[2][2]) == pytest.approx(ref["images"][2]["mean_intercept_um"])
    assert f"# astm_g,{ref['summary']['astm_g']!r}" in text[5:]  # key, full value


def test_exclusions_shapes_and_twins_layers(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    ms = _micro(4)
    twins = np.zeros_like(ms.boundaries)
    twins[:, 100] = True  # a straight "twin" trace through several grains
    viewer.add_labels(ms.boundaries.astype(np.uint8), name="gb")
    viewer.add_labels(twins.astype(np.uint8), name="twins")
    shapes = viewer.add_shapes([np.array([[20, 20], [20, 90], [90, 90], [90, 20]])],
                               shape_type="rectangle", name="scratch")
    widget = GrainSizeWidget(viewer)
    panel = widget.specimen
    panel.select_fields(["gb"])
    panel.twins_combo.value = "twins"
    panel.exclusions_combo.value = shapes
    res = _measure(qtbot, panel)
    excl = np.asarray(shapes.to_labels(labels_shape=ms.boundaries.shape)) > 0
    ref = measure_specimen([{"boundaries": ms.boundaries, "twins": twins, "exclusion": excl}],
                           names=["gb"])
    assert res.report == ref
    field = res.report["images"][0]
    assert field["twins_excluded"] is True
    assert field["excluded_line_length_px"] > 0
    assert field["measured_area_px"] < ms.boundaries.size - excl.sum() + 1
    # without the exclusions the measured area is the whole field
    panel.exclusions_combo.value = None
    panel.result = None
    res2 = _measure(qtbot, panel)
    assert res2.report["images"][0]["measured_area_px"] > field["measured_area_px"]


def test_inputs_refused_with_a_sentence(make_napari_viewer):
    viewer = make_napari_viewer()
    widget = GrainSizeWidget(viewer)
    panel = widget.specimen
    with pytest.raises(WidgetInputError, match="select one or more"):
        panel.run()
    viewer.add_image(np.zeros((8, 8, 3), np.uint8), name="rgb", rgb=True)
    with pytest.raises(WidgetInputError, match="not a 2-D boundary layer"):
        panel.select_fields(["rgb"])
    with pytest.raises(WidgetInputError, match="nothing to export"):
        panel.export_json("x.json")


def test_specimen_job_stops_between_fields():
    ms = _micro(5, shape=(96, 96))
    token = StopToken()
    gen = measure_specimen_job([ms.boundaries] * 3, stop=token)
    first = next(gen)  # Progress(0, 3)
    assert first.total == 3
    next(gen)  # first field done
    token.request_stop()
    events = []
    try:
        while True:
            events.append(next(gen))
    except StopIteration as end:
        assert end.value is None
    assert isinstance(events[-1], Stopped)
    assert "1 of 3" in events[-1].message


def test_fields_of_different_pixel_sizes_are_pooled_in_um(make_napari_viewer, qtbot):
    """Fields at two magnifications (0.5 and 0.25 µm/px) were refused, and the advice
    (type one pixel size) would have mis-scaled one of them. Now each is measured at
    its own pixel size and they are pooled in µm as ``srmat grain-size`` pools its
    images (measure_field + summarize_fields); a calibrated field beside an uncalibrated
    one is refused naming both; a typed pixel size is every field's."""
    from napari_srmat.metrics.standards import measure_field, summarize_fields

    viewer = make_napari_viewer()
    a, b = _micro(1), _micro(2)
    viewer.add_labels(a.boundaries.astype(np.uint8), name="x500", scale=(0.5, 0.5),
                      metadata={"pixel_size_um": 0.5})
    viewer.add_labels(b.boundaries.astype(np.uint8), name="x1000", scale=(0.25, 0.25),
                      metadata={"pixel_size_um": 0.25})
    viewer.add_labels(b.boundaries.astype(np.uint8), name="unknown")
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    panel = w.specimen
    panel.n_lines.setValue(20)
    panel.select_fields(["x500", "x1000"])
    res = _measure(qtbot, panel)
    rows = [measure_field(m.boundaries, pixel_size_um=px, n_lines=20, name=name)
            for m, px, name in ((a, 0.5, "x500"), (b, 0.25, "x1000"))]
    assert [f["pixel_size_um"] for f in res.report["images"]] == [0.5, 0.25]
    assert [f["mean_intercept_um"] for f in res.report["images"]] == [
        f["mean_intercept_um"] for f in rows]
    assert res.report["summary"]["astm_g"] == summarize_fields(rows)["astm_g"]
    # each field's grain areas in µm² at its own pixel size
    for name, px in (("x500", 0.5), ("x1000", 0.25)):
        values = np.unique(viewer.layers[f"{name} grain area"].data)
        values = values[values > 0] / px**2  # whole pixels, not all 4 times (0.5 µm/px)
        np.testing.assert_allclose(values, np.round(values), atol=1e-3)
        assert np.any(np.round(values) % 2 == 1)
    panel.select_fields(["x500", "unknown"])
    with pytest.raises(WidgetInputError, match=r"no pixel size \(x500: 0\.5 µm/px, "
                                               r"unknown: unknown\)"):
        panel.run()
    panel.pixel_size.setText("0.5")
    res = _measure(qtbot, panel)
    assert [f["pixel_size_um"] for f in res.report["images"]] == [0.5, 0.5]


def test_result_layers_are_added_one_per_event_loop_turn(make_napari_viewer, qtbot):
    """The result's layers (two per field) and colour bars were all added in one call on
    the GUI thread: 10 fields froze the window 11.7 s. Now one layer or colour bar per
    event-loop turn: a zero-interval timer ticks between any two insertions, and the
    result (tables, status) comes after the last one."""
    from qtpy.QtCore import QTimer

    viewer, w = _small_fields(make_napari_viewer, qtbot, 3)
    panel = w.specimen
    ticks = [0]
    beat = QTimer()
    beat.setInterval(0)
    beat.timeout.connect(lambda: ticks.__setitem__(0, ticks[0] + 1))
    at_insert: list[tuple[int, bool]] = []
    viewer.layers.events.inserted.connect(
        lambda e: at_insert.append((ticks[0], panel.result is None)))
    beat.start()
    try:
        _measure(qtbot, panel)
    finally:
        beat.stop()
    assert len(at_insert) == 6  # a grain-area and an intersections layer per field
    turns = [t for t, _ in at_insert]
    assert turns == sorted(set(turns)), turns  # never two in one turn
    assert all(pending for _, pending in at_insert)  # the result after the layers
    assert sum(viewer.layers[f"f{k} grain area"].colorbar.visible for k in (1, 2, 3)) == 1


def test_the_fields_grain_area_maps_show_one_colour_bar_the_selected_one(make_napari_viewer,
                                                                         qtbot):
    """Each field's grain-area map showed its colour bar at bottom_left: napari lays bars
    of one corner side by side, unlabelled, each of its own field's range (three fields:
    three turbo bars in a row, which is whose unsaid; each bar made took 0.2-0.4 s of
    the GUI thread). Now the corner shows one, the last map's (the others' are not made),
    and selecting a map shows its bar instead; a bar in another corner (the Boundaries
    tool's probability map) stays."""
    viewer, w = _small_fields(make_napari_viewer, qtbot, 3)
    other = viewer.add_image(np.zeros((8, 8), np.float32), name="prob")
    other.colorbar.position, other.colorbar.visible = "top_right", True
    shown: set[str] = set()  # the maps whose bar was shown at some point

    def watch(event) -> None:
        layer = event.value
        layer.colorbar.events.visible.connect(  # psygnal: the new value
            lambda visible: shown.add(layer.name) if visible else None)

    viewer.layers.events.inserted.connect(watch)
    _measure(qtbot, w.specimen)
    maps = [viewer.layers[f"f{k} grain area"] for k in (1, 2, 3)]
    assert [m.colorbar.visible for m in maps] == [False, False, True]
    assert shown == {"f3 grain area"}  # the others' bars were never made (0.2-0.4 s each)
    viewer.layers.selection.active = maps[0]
    assert [m.colorbar.visible for m in maps] == [True, False, False]
    viewer.layers.selection.active = viewer.layers["f2"]  # not a map: nothing changes
    assert [m.colorbar.visible for m in maps] == [True, False, False]
    assert other.colorbar.visible


def test_a_failing_result_layer_is_told_and_the_result_still_shown(make_napari_viewer,
                                                                  qtbot, monkeypatch):
    """A display step that raised (a colour bar napari refused) stopped the queue of the
    result's layers for good: ``result`` stayed None, the tables empty, the status at
    "drawing histograms" and the other fields' layers never came. Now the failure is
    told in one line (status, napari's notification) and the steps after it still run,
    the result, tables and histograms last."""
    import napari_srmat.widgets._worker as worker_mod
    from napari_srmat.widgets import specimen_panel

    viewer, w = _small_fields(make_napari_viewer, qtbot, 2)
    panel = w.specimen
    real_colorbar = specimen_panel.show_colorbar

    def colorbar(layer, *args, **kwargs):
        if layer.name == "f1 grain area":
            raise RuntimeError("no colour bar")
        return real_colorbar(layer, *args, **kwargs)

    relayed: list[BaseException] = []
    monkeypatch.setattr(specimen_panel, "show_colorbar", colorbar)
    monkeypatch.setattr(worker_mod, "relay_error", relayed.append)
    panel.run()
    qtbot.waitUntil(lambda: panel.result is not None and not panel.cancel_btn.isEnabled(),
                    timeout=30_000)
    assert panel.summary.rowCount() > 0 and panel.table.rowCount() == 2
    assert panel.histogram_choice.count() > 0 and panel.json_btn.isEnabled()
    status = panel.status.text()
    assert status.startswith("G = ")
    assert "f1 grain area: failed: " in status, status
    assert [str(e) for e in relayed] == ["no colour bar"]  # napari's notification
    for name in ("f1 intersections (specimen)", "f2 grain area",
                 "f2 intersections (specimen)"):
        assert name in viewer.layers
    assert viewer.layers["f2 grain area"].colorbar.visible
    assert not viewer.layers["f1 grain area"].colorbar.visible


def test_renaming_a_field_keeps_it_selected(make_napari_viewer):
    """Renaming a chosen field layer dropped it from the chosen fields (the list kept
    choices by name), so the specimen was measured without it or refused."""
    viewer = make_napari_viewer()
    a, b = _micro(1, shape=(64, 64)), _micro(2, shape=(64, 64))
    f1 = viewer.add_labels(a.boundaries.astype(np.uint8), name="f1")
    viewer.add_labels(b.boundaries.astype(np.uint8), name="f2")
    viewer.add_labels(b.boundaries.astype(np.uint8), name="f3")
    widget = GrainSizeWidget(viewer)
    panel = widget.specimen
    panel.select_fields(["f1", "f2"])
    f1.name = "field 1 (centre)"
    assert panel.field_names() == ["field 1 (centre)", "f2"]
    viewer.layers.remove("f2")
    assert panel.field_names() == ["field 1 (centre)"]


def test_specimen_export_never_replaces_a_file_it_did_not_write(make_napari_viewer, qtbot,
                                                                tmp_path):
    from napari_srmat.outputs import OutputError

    viewer = make_napari_viewer()
    viewer.add_labels(_micro(1, shape=(96, 96)).boundaries.astype(np.uint8), name="f1")
    widget = GrainSizeWidget(viewer)
    panel = widget.specimen
    panel.select_fields(["f1"])
    _measure(qtbot, panel)
    notes = tmp_path / "specimen.csv"
    notes.write_text("my,own\n1,2\n")
    with pytest.raises(OutputError, match="not written by napari-srmat"):
        panel.export_csv(notes)
    assert notes.read_text() == "my,own\n1,2\n"
    ours = panel.export_json(tmp_path / "s.json")
    assert panel.export_json(ours) == ours
    assert panel.export_csv(panel.export_csv(tmp_path / "s.csv")).is_file()


def _specimen_run_on_a_field(viewer, qtbot):
    """A boundary field layer "gb" and a grain-size widget whose specimen run on it was
    started (its result comes through the event loop); returns both."""
    gb = viewer.add_labels(_micro(5).boundaries.astype(np.uint8), name="gb",
                           metadata={"kind": "boundaries", "threshold": 0.4})
    widget = GrainSizeWidget(viewer)
    qtbot.addWidget(widget)
    widget.specimen.select_fields([gb])
    widget.specimen.run()
    return gb, widget

def test_a_field_renamed_while_measured_keeps_its_overlays(make_napari_viewer, qtbot,
                                                          tmp_path):
    """A field layer renamed while the specimen job ran got overlays under its old name
    ('gb grain area'), which its calibration no longer found (they stayed at the old
    scale), and the report lost the layer's provenance. The intercept points were never
    found by the calibration at all. The overlays now carry the layer's current name
    and follow its calibration."""
    from napari_srmat.widgets.calibration_widget import set_layer_pixel_size

    viewer = make_napari_viewer()
    gb, widget = _specimen_run_on_a_field(viewer, qtbot)
    panel = widget.specimen
    gb.name = "field 1"  # before the result arrives (it comes through the event loop)
    qtbot.waitUntil(lambda: panel.result is not None, timeout=60_000)
    assert "gb grain area" not in viewer.layers
    assert "gb intersections (specimen)" not in viewer.layers
    areas = viewer.layers["field 1 grain area"]
    pts = viewer.layers["field 1 intersections (specimen)"]
    set_layer_pixel_size(viewer, gb, 0.5)
    assert tuple(areas.scale[-2:]) == tuple(pts.scale[-2:]) == (0.5, 0.5)
    qtbot.waitUntil(panel.run_btn.isEnabled, timeout=10_000)
    report = widget.report
    report.source.setCurrentText("Specimen (E112)")
    report.export_report(tmp_path / "r.html")
    qtbot.waitUntil(lambda: report.last_path is not None, timeout=60_000)
    html = report.last_path.read_text()
    assert "<td>boundary layer</td><td>field 1</td>" in html
    assert "<td>boundary layer kind</td><td>boundaries</td>" in html


@pytest.mark.parametrize("method", ["intercept", "planimetric"])
def test_a_regular_grid_of_grains_is_measured(make_napari_viewer, qtbot, monkeypatch, method):
    """A boundary mask of equal square grains (every intercept 8 px, but for rounding:
    7.0 and 7.000000000000001 after the line clipping) failed with numpy's "Too many bins
    for data range. Cannot create 46 finite-sized bins." while drawing the histograms:
    no result at all. Such values now share one histogram bin, as equal values do."""
    import napari_srmat.widgets._worker as worker_mod

    shown = []
    monkeypatch.setattr(worker_mod, "show_error", shown.append)
    viewer = make_napari_viewer()
    grid = np.zeros((64, 64), np.uint8)
    grid[::8] = 1
    grid[:, ::8] = 1
    viewer.add_labels(grid, name="grid")
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    panel = w.specimen
    panel.select_fields(["grid"])
    panel.method.setCurrentText(method)
    res = _measure(qtbot, panel)
    qtbot.waitUntil(lambda: panel.run_btn.isEnabled(), timeout=10_000)
    assert shown == [] and not panel.status.text().startswith("failed")
    assert res.report["summary"]["n_fields"] == 1
    assert set(res.histograms) == {"grid"}


def test_a_field_that_does_not_fit_in_memory_is_refused(make_napari_viewer, qtbot,
                                                        monkeypatch):
    """Each field is read whole in the worker: a lazy gigapixel map (60000², float32) would
    fill the memory. It is refused with one line before any job, as in the mask tab."""
    import dask.array as da

    from napari_srmat import estimates

    viewer = make_napari_viewer()
    pyramid = [da.zeros((60000 // 4**i,) * 2, dtype=np.float32, chunks=4096)
               for i in range(5)]
    viewer.add_image(pyramid, multiscale=True, name="map")
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    panel = w.specimen
    panel.select_fields(["map"])
    monkeypatch.setattr(estimates, "available_memory_bytes", lambda: 16 * 2**30)
    panel.run_btn.click()
    # the standards' plan: the Heyn measurement's 53.6 GiB and the grain label maps
    assert panel.status.text().startswith("measuring layer 'map' needs 241.4 GiB of memory")
    assert panel.worker is None and panel.run_btn.isEnabled()


def test_exclusions_drawn_over_a_calibrated_field_cover_the_pixels_drawn_over(
        make_napari_viewer, qtbot):
    """A scratch outlined over a calibrated field (0.5 µm/px, translated) was rasterised
    at the same numbers in the field's pixel data: a rectangle over the field's top-left
    quarter (world 10..60 µm) excluded pixels 10..60, a sixteenth of the field somewhere
    else, and the report counted the scratch as grains. The outline now goes through
    world coordinates, as the Heyn tab's drawn test lines do: the report equals the
    library's with the quarter the user outlined excluded."""
    viewer = make_napari_viewer()
    ms = _micro(4, shape=(200, 200))
    viewer.add_labels(ms.boundaries.astype(np.uint8), name="gb", scale=(PX, PX),
                      translate=(10.0, 10.0), units=("um", "um"))
    shapes = viewer.add_shapes([np.array([[10.0, 10.0], [59.75, 59.75]])],
                               shape_type="rectangle", name="scratch")  # world µm
    widget = GrainSizeWidget(viewer)
    qtbot.addWidget(widget)
    panel = widget.specimen
    panel.select_fields(["gb"])
    panel.exclusions_combo.value = shapes
    res = _measure(qtbot, panel)
    excl = np.zeros(ms.boundaries.shape, bool)
    excl[:100, :100] = True  # data pixels 0..99: world 10..59.5 µm
    ref = measure_specimen([{"boundaries": ms.boundaries, "exclusion": excl}], names=["gb"],
                           pixel_size_um=PX)
    assert res.report["images"][0]["measured_area_px"] == ref["images"][0]["measured_area_px"]
    assert res.report == ref


def test_a_scratch_drawn_over_the_second_of_two_fields_is_excluded_there(
        make_napari_viewer, qtbot):
    """Drawn exclusions were rasterised over the first field only and applied to every
    field: a scratch outlined over the second of two fields laid side by side fell outside
    the first one's pixels and was excluded nowhere (both 40000 px measured). Each field
    now gets what was drawn over it."""
    viewer = make_napari_viewer()
    a, b = _micro(4, shape=(200, 200)), _micro(5, shape=(200, 200))
    viewer.add_labels(a.boundaries.astype(np.uint8), name="f1", scale=(PX, PX),
                      units=("um", "um"))
    viewer.add_labels(b.boundaries.astype(np.uint8), name="f2", scale=(PX, PX),
                      translate=(0.0, 100.0), units=("um", "um"))
    shapes = viewer.add_shapes([np.array([[0.0, 100.0], [49.75, 149.75]])],
                               shape_type="rectangle", name="scratch")  # f2's top-left
    widget = GrainSizeWidget(viewer)
    qtbot.addWidget(widget)
    panel = widget.specimen
    panel.select_fields(["f1", "f2"])
    panel.exclusions_combo.value = shapes
    res = _measure(qtbot, panel)
    excl = np.zeros(b.boundaries.shape, bool)
    excl[:100, :100] = True
    ref = measure_specimen([{"boundaries": a.boundaries},
                            {"boundaries": b.boundaries, "exclusion": excl}],
                           names=["f1", "f2"], pixel_size_um=PX)
    areas = [f["measured_area_px"] for f in res.report["images"]]
    assert areas == [40000, 30000]
    assert res.report == ref


def test_a_field_deleted_while_measured_gets_no_overlays(make_napari_viewer, qtbot):
    """The field layer deleted while the specimen tab measured it: its grain-area map and
    intercepts were still added, over nothing (the mask tab skips them). Its numbers stay
    in the tables."""
    viewer, layer, widget = _one_field(make_napari_viewer, qtbot)
    panel = widget.specimen
    panel.run()
    viewer.layers.remove(layer)
    qtbot.waitUntil(lambda: panel.result is not None, timeout=60000)
    qtbot.waitUntil(lambda: not panel.cancel_btn.isEnabled(), timeout=10000)
    assert [lay.name for lay in viewer.layers] == []
    assert panel.table.rowCount() == 1
    # no field left to measure: Run waits for one (RunNeedsLayersMixin)
    assert not panel.run_btn.isEnabled() and panel.run_btn.toolTip().startswith("needs ")


def test_a_labels_field_is_not_counted_with_a_float_copy(monkeypatch):
    """check_mask_fits counted a float32 copy (8 B/px) for every non-float layer: a 20000²
    uint8 Labels layer held in memory was refused as needing 4.5 GiB with 8 GiB
    available, though measuring it allocates under 4 B/px. The copy is counted only for
    an image layer binarized at a threshold."""
    from napari_srmat import estimates
    from napari_srmat.widgets._common import WidgetInputError
    from napari_srmat.widgets._snapshot import LayerSnapshot, check_mask_fits

    data = np.zeros((20000, 20000), np.uint8)
    monkeypatch.setattr(estimates, "available_memory_bytes", lambda: 8 * 2**30)
    labels = LayerSnapshot(name="gb", data=data, kind="labels", metadata={})
    check_mask_fits(labels)  # 3.0 GiB: fits in half of 8 GiB
    image = LayerSnapshot(name="p", data=data, kind="image", metadata={})
    check_mask_fits(image)  # an 8-bit mask: no float copy
    with pytest.raises(WidgetInputError, match=r"needs 6\.0 GiB of memory"):
        check_mask_fits(image, threshold=0.5)  # an 8-bit probability map: float32 copy


class _CountedStack:
    """A lazy (dask) source that counts the reads of its pixels."""

    def __init__(self, shape, dtype=np.uint8):
        self.shape, self.dtype, self.ndim = tuple(shape), np.dtype(dtype), len(shape)
        self.reads = 0

    def __getitem__(self, key):
        self.reads += 1
        return np.zeros(self.shape, self.dtype)[key]

    def lazy(self, chunks):
        import dask.array as da

        return da.from_array(self, chunks=chunks,
                             meta=np.empty((0,) * self.ndim, self.dtype))


def test_a_stack_field_is_not_offered_and_listing_reads_no_pixel(make_napari_viewer):
    """A z-stack (or time series) Labels field was listed, planned from its first two axes
    ((3, 64) of a (3, 64, 64) stack: a few bytes) and read whole in the worker before it
    was refused as not 2-D; a lazy stack was computed. Until 2026-12-06 it was refused by
    its shape when Run was pressed; it is now not listed (is_2d_greyscale_layer, read from
    the layer's ndim: no pixel read), so it cannot be chosen and nothing runs."""
    src = _CountedStack((3, 64, 64))
    viewer = make_napari_viewer()
    viewer.add_labels(src.lazy((1, 64, 64)), name="stack")  # napari reads the plane shown
    shown = src.reads
    panel = GrainSizeWidget(viewer).specimen
    assert panel.fields_list.count() == 0 and not panel.run_btn.isEnabled()
    with pytest.raises(WidgetInputError, match="not a 2-D boundary layer: stack"):
        panel.select_fields(["stack"])
    with pytest.raises(WidgetInputError, match="select one or more boundary layers"):
        panel.run()
    assert panel.worker is None and src.reads == shown


def test_a_layer_that_is_not_2d_is_refused_by_shape_before_a_plan_or_a_read(monkeypatch):
    """check_mask_fits planned a layer from np.shape(data)[:2]: a (Z, H, W) stack as a
    Z x H image (passed), a colour (H, W, 4) layer as grey (the library's plan counts its
    channels), and a memory message hid the real reason; the worker's layer_data_mask then
    read the whole layer (np.asarray: a lazy one computed) before refusing it as not 2-D.
    Both now refuse by the shape (one rule, check_mask_layer_shape) before any plan or
    read; a 2-D layer is planned with its whole shape (plan_mask_measurement)."""
    from napari_srmat import estimates
    from napari_srmat.widgets._snapshot import LayerSnapshot, as_mask, check_mask_fits

    seen = []
    plan = estimates.plan_mask_measurement
    monkeypatch.setattr(estimates, "plan_mask_measurement",
                        lambda shape, *a, **k: seen.append(tuple(shape)) or plan(shape, *a, **k))
    monkeypatch.setattr(estimates, "available_memory_bytes", lambda: 64 * 2**30)
    for shape in [(4, 20000, 20000), (20000, 20000, 4), (20000, 20000, 2)]:
        src = _CountedStack(shape, np.float32)
        snap = LayerSnapshot(name="m", data=src.lazy((1, 4096, 4096)[-len(shape):]),
                             kind="image", metadata={})
        for refuse in (check_mask_fits, as_mask):
            with pytest.raises(WidgetInputError,
                               match=rf"layer 'm' has shape \({shape[0]}, {shape[1]}, "):
                refuse(snap)
        assert src.reads == 0 and seen == []
    src = _CountedStack((20000, 20000), np.float32)
    snap = LayerSnapshot(name="m", data=src.lazy((4096, 4096)), kind="image", metadata={})
    check_mask_fits(snap)
    assert seen == [(20000, 20000)] and src.reads == 0


def test_a_grain_area_map_measured_again_after_calibration_is_coloured_by_its_areas(
        make_napari_viewer, qtbot):
    """A field measured in px², calibrated (0.25 µm/px) and measured again: the grain-area
    layer held areas of 1.6-37 µm² but kept the colour range of the first run (26-593),
    so every grain was drawn at the bottom of the colormap and the colour bar read
    26-593 µm². The colour range now follows the areas shown."""
    from napari_srmat.widgets.calibration_widget import set_layer_pixel_size

    viewer, field_layer, widget = _one_field(make_napari_viewer, qtbot)
    panel = widget.specimen
    panel.method.setCurrentText("planimetric")
    first = _measure(qtbot, panel)
    qtbot.waitUntil(lambda: panel.run_btn.isEnabled(), timeout=10_000)
    areas = viewer.layers["f1 grain area"]
    assert areas.metadata["unit"] == "px²"
    np.testing.assert_allclose(areas.contrast_limits, first.area_limits["f1"])
    set_layer_pixel_size(viewer, field_layer, 0.25)
    second = _measure(qtbot, panel)
    assert viewer.layers["f1 grain area"] is areas  # updated in place
    assert areas.metadata["unit"] == "µm²"
    shown = np.asarray(areas.data)
    lo, hi = second.area_limits["f1"]
    assert (lo, hi) == (shown[shown > 0].min(), shown.max())
    np.testing.assert_allclose(areas.contrast_limits, (lo, hi))
    # and the contrast slider spans them, as a new layer's (it kept 1.6-593: the areas
    # on its first 6 %)
    np.testing.assert_allclose(areas.contrast_limits_range, (lo, hi))


def test_drawn_exclusions_are_rasterised_in_the_worker(make_napari_viewer, qtbot,
                                                       monkeypatch):
    """Run with an exclusions Shapes layer drew the shapes over each field's pixels on the
    GUI thread (napari's to_labels, over the whole field for each shape): the window froze
    for 0.4 s at 2048 x 2048 px and 6 s at 8192 x 8192. It is done in the worker now, and
    measures what was drawn."""
    from _helpers import spy_threads
    from napari.layers import Shapes

    real = Shapes.to_labels
    threads = spy_threads(monkeypatch, Shapes, "to_labels")
    viewer, field_layer, widget = _one_field(make_napari_viewer, qtbot)
    scratch = viewer.add_shapes([np.array([[20, 20], [90, 90]])], shape_type="rectangle",
                                name="scratch")
    panel = widget.specimen
    panel.exclusions_combo.value = scratch
    res = _measure(qtbot, panel)
    assert threads == [False]  # rasterised once, off the GUI thread
    excl = np.asarray(real(scratch, labels_shape=field_layer.data.shape)) > 0
    ref = measure_specimen([{"boundaries": field_layer.data > 0, "exclusion": excl}],
                           names=["f1"])
    assert res.report == ref


def test_a_field_calibrated_while_measured_gets_its_overlays_on_it(make_napari_viewer,
                                                                  qtbot):
    """A field calibrated while the specimen tab measured it: its grain-area map and
    intercepts were drawn with the geometry taken at Run (scale 1 px, its old translate,
    no unit), twice its size beside it, and napari warned of inconsistent units (the
    scale bar lost its µm). They are drawn with the field's geometry when they arrive,
    as the mask and Simple tabs draw theirs; the map keeps the unit it was measured in."""
    from napari_srmat.widgets.calibration_widget import set_layer_pixel_size

    viewer = make_napari_viewer()
    layer = viewer.add_labels(_micro(1).boundaries.astype(np.uint8), name="f1",
                              translate=(10.0, 20.0))
    widget = GrainSizeWidget(viewer)
    qtbot.addWidget(widget)
    panel = widget.specimen
    panel.select_fields(["f1"])
    panel.run()
    set_layer_pixel_size(viewer, layer, PX)  # before the result: it comes on the GUI thread
    qtbot.waitUntil(lambda: panel.result is not None, timeout=60_000)
    areas, pts = viewer.layers["f1 grain area"], viewer.layers["f1 intersections (specimen)"]
    for lay in (areas, pts):
        np.testing.assert_allclose(lay.scale[-2:], layer.scale[-2:], err_msg=lay.name)
        np.testing.assert_allclose(lay.translate[-2:], layer.translate[-2:], err_msg=lay.name)
        assert tuple(lay.units) == tuple(layer.units), lay.name
    assert [str(u) for u in viewer.layers.units] == ["micrometer"] * 2
    assert areas.metadata["unit"] == "px²"  # measured before the calibration


def test_a_field_removed_while_the_specimen_tab_measures_it_is_told(make_napari_viewer,
                                                                    qtbot):
    """One of two fields deleted while the specimen tab measured them: the status gave G
    without a word (its overlays silently skipped), where the Simple tab says the input
    layer was removed (302e160, input_removed_note). It names the removed field now; the
    field left gets its overlays, and both fields' numbers stay in the tables."""
    from napari_srmat.widgets.layers import input_removed_note

    viewer = make_napari_viewer()
    first = viewer.add_labels(_micro(1).boundaries.astype(np.uint8), name="f1")
    viewer.add_labels(_micro(2).boundaries.astype(np.uint8), name="f2")
    widget = GrainSizeWidget(viewer)
    qtbot.addWidget(widget)
    panel = widget.specimen
    panel.select_fields(["f1", "f2"])
    panel.run()
    viewer.layers.remove(first)  # before the result: it is delivered on the GUI thread
    qtbot.waitUntil(lambda: panel.result is not None, timeout=60000)
    qtbot.waitUntil(panel.run_btn.isEnabled, timeout=10000)
    assert input_removed_note(first) in panel.status.text()
    assert "G = " in panel.status.text() and "'f2'" not in panel.status.text()
    assert sorted(lay.name for lay in viewer.layers) == ["f2", "f2 grain area",
                                                         "f2 intersections (specimen)"]
    assert panel.table.rowCount() == 2


def test_a_fields_overlays_stay_on_it_when_it_is_placed_by_hand(make_napari_viewer, qtbot):
    """A field layer's ``scale`` or ``translate`` set by hand (not Calibration) left its
    grain-area map and intercept points at the old place. They now keep its place and
    snap back when moved alone."""
    from _helpers import assert_on_layer

    viewer = make_napari_viewer()
    gb, widget = _specimen_run_on_a_field(viewer, qtbot)
    panel = widget.specimen
    qtbot.waitUntil(lambda: panel.result is not None, timeout=60_000)
    areas, pts = viewer.layers["gb grain area"], viewer.layers["gb intersections (specimen)"]
    gb.scale, gb.units = (0.5, 0.5), ("micrometer", "micrometer")  # by hand
    gb.translate = (-3.0, 6.0)
    areas.scale = (2.0, 2.0)  # moved alone: back on its field
    for lay in (areas, pts):
        assert_on_layer(lay, gb)
    qtbot.waitUntil(panel.run_btn.isEnabled, timeout=10_000)


def test_the_grain_area_layer_gets_the_workers_float32_map_as_it_is(make_napari_viewer,
                                                                     qtbot):
    """Guard (did not fail before): the result slot hands napari the grain-area map the
    worker built (float32, the job's own array: no conversion or copy on the GUI thread)
    and the contrast limits the worker measured. Measured one-off (2048² px, 4 fields,
    xvfb, 2-CPU box): the slot's ~2 s on the first show is napari's layer creation
    (add_image, add_points, colour bars, vispy shaders), the same for uint8 as for
    float32 data and for 10 as for 8400 points; ~0.1 s when the layers are written
    again."""
    viewer, _, widget = _one_field(make_napari_viewer, qtbot)
    result = _measure(qtbot, widget.specimen)
    areas = viewer.layers["f1 grain area"]
    assert areas.data is result.area_maps["f1"]
    assert areas.data.dtype == np.float32
    np.testing.assert_allclose(areas.contrast_limits, result.area_limits["f1"])


def _one_calibrated_field(make_napari_viewer, qtbot, one_line: bool):
    """A Specimen tab with one field ``f1`` at ``PX`` µm/px chosen, measured by the grid
    (a 95 % interval) or, ``one_line``, by one random line (none): ``(widget, ms, kw)``,
    ``kw`` the same options for ``measure_specimen`` (the caller holds the grain-size
    widget: qtbot does not, and its panel goes with it)."""
    viewer = make_napari_viewer()
    ms = _micro(1)
    viewer.add_labels(ms.boundaries.astype(np.uint8), name="f1", scale=(PX, PX),
                      metadata={"pixel_size_um": PX})
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    panel = w.specimen
    panel.select_fields(["f1"])
    kw = {}
    if one_line:
        panel.pattern.setCurrentText("random")
        panel.n_lines.setValue(1)
        kw = {"pattern": "random", "n_lines": 1}
    return w, ms, kw


@pytest.mark.parametrize("one_line", [False, True], ids=["interval", "one-test-line"])
def test_the_field_table_gives_each_fields_g_interval_or_why_none(make_napari_viewer, qtbot,
                                                                monkeypatch, one_line):
    """The per-field table showed G alone ('9.9'), though the field's 95 % interval is
    measure_field's (srmat grain-size --method prints it): its G cell is
    'G [low, high]' (report.format_g, the one rule), and where the field has none (one
    test line) G alone with the row's interval_note as the cell's tooltip. The interval
    is computed in the worker, not on the GUI thread."""
    from _helpers import spy_threads

    import napari_srmat.grainsize as gs
    from napari_srmat.report import format_g

    threads = spy_threads(monkeypatch, gs, "field_interval")
    w, ms, kw = _one_calibrated_field(make_napari_viewer, qtbot, one_line)
    panel = w.specimen
    res = _measure(qtbot, panel)
    assert threads == [False]  # the widget's run: computed in the worker only
    ref = measure_specimen([ms.boundaries], names=["f1"], pixel_size_um=PX, **kw)
    assert res.report == ref
    row = ref["images"][0]
    cell = panel.table.item(0, 1)
    if one_line:
        assert row["astm_g_ci95"] is None and row["astm_g"] is not None
        assert cell.text() == format_g(row["astm_g"]) and "[" not in cell.text()
        assert "fewer than two test lines" in cell.toolTip()
        assert cell.toolTip() == row["interval_note"]
    else:
        lo, hi = row["astm_g_ci95"]
        assert lo < row["astm_g"] < hi
        assert cell.text() == format_g(row["astm_g"], (lo, hi))
        assert cell.text() == f"{row['astm_g']:.1f} [{lo:.1f}, {hi:.1f}]"
        assert cell.toolTip() == ""


@pytest.mark.parametrize("one_line", [False, True], ids=["interval", "one-test-line"])
def test_the_csv_gives_each_fields_g_interval_and_its_note(make_napari_viewer, qtbot,
                                                            tmp_path, one_line):
    """The CSV's field rows had G alone, though the table shows G's 95 % interval and
    the row's interval_note (measure_field's): each row now has the interval's ends as
    two numeric columns astm_g_ci95_low / astm_g_ci95_high (empty without an interval)
    and interval_note (empty with one), read back as measure_field gives them."""
    import csv

    w, _, _ = _one_calibrated_field(make_napari_viewer, qtbot, one_line)
    panel = w.specimen
    row = _measure(qtbot, panel).report["images"][0]
    text = panel.export_csv(tmp_path / "specimen.csv").read_text()
    # the summary's "# key,value" rows follow (a key holding a comma is quoted)
    header, *rows = [r for r in csv.reader(text.splitlines()) if not r[0].startswith("#")]
    # after the columns of earlier exports, which keep their places
    assert header[:2] == ["field", "astm_g"]
    assert header[-4:-1] == ["astm_g_ci95_low", "astm_g_ci95_high", "interval_note"]
    assert header[-1] == "pixel_size_um"  # each field's, added 2026-12-07
    assert len(rows) == 1 and len(rows[0]) == len(header)
    got = dict(zip(header, rows[0]))
    assert float(got["astm_g"]) == row["astm_g"]
    if one_line:
        assert row["astm_g_ci95"] is None
        assert got["astm_g_ci95_low"] == got["astm_g_ci95_high"] == ""
        assert "fewer than two test lines" in got["interval_note"]
        assert got["interval_note"] == row["interval_note"]
    else:
        lo, hi = row["astm_g_ci95"]
        assert (float(got["astm_g_ci95_low"]), float(got["astm_g_ci95_high"])) == (lo, hi)
        assert lo < float(got["astm_g"]) < hi
        assert row["interval_note"] is None and got["interval_note"] == ""


def test_the_modules_public_functions_and_classes_are_its_all():
    """Was: ``csv_cell``, a helper of the tab's own CSV export used nowhere else, was
    public (no underscore) but not in ``__all__``: neither API nor private. Each public
    function and class the module defines is now in ``__all__``; the helper is private."""
    import inspect

    from napari_srmat.widgets import specimen_panel as mod

    defined = {
        name
        for name, obj in vars(mod).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == mod.__name__
    }
    assert defined <= set(mod.__all__), defined - set(mod.__all__)
    assert set(mod.__all__) <= set(vars(mod))


def _calibrated_fields_measured(make_napari_viewer, qtbot, names):
    """Fields ``names`` (``_micro(1)``, ``_micro(2)``, ... at ``PX`` µm/px) measured in the
    specimen tab: ``(panel, widget)`` (the caller holds the widget: qtbot does not, and
    its panel goes with it)."""
    viewer = make_napari_viewer()
    for k, name in enumerate(names, 1):
        viewer.add_labels(
            _micro(k).boundaries.astype(np.uint8), name=name, metadata={"pixel_size_um": PX}
        )
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    panel = w.specimen
    panel.select_fields(names)
    _measure(qtbot, panel)
    return panel, w


@pytest.mark.parametrize("n_fields", [1, 2])
def test_the_csv_summary_gives_each_interval_as_two_numbers(
    make_napari_viewer, qtbot, tmp_path, n_fields
):
    """The CSV's summary rows gave an interval as the table shows it, one cell of
    rounded text ('# G, 95 % confidence interval,[10.7, 10.8]'), while its field rows
    gave two numeric columns: each interval of the summary is now two rows under the
    summary's key, ``<key>_low`` and ``<key>_high``, to full precision and empty without
    an interval (one field), as the field columns and the Heyn export
    (widgets.export.interval_cells). The table now loads with pandas: a summary row
    whose label held a comma ('field value mean (N_L, intersections per mm)') began
    with '"# ...' and pandas read it as one more field."""
    import csv

    import pandas as pd

    names = [f"f{k}" for k in range(1, n_fields + 1)]
    panel, w = _calibrated_fields_measured(make_napari_viewer, qtbot, names)
    s = panel.result.report["summary"]
    path = panel.export_csv(tmp_path / "specimen.csv")
    lines = path.read_text().splitlines()
    # each summary row is "# " and then its two cells (widgets.export.write_summary_rows)
    summary = {r[0]: r[1:] for r in csv.reader(ln[2:] for ln in lines if ln.startswith("# "))}
    assert all(ln.startswith("# ") for ln in lines[1 + n_fields :])
    assert not any("confidence interval" in label for label in summary)
    keys = [k for k in ("astm_g_ci95", "mean_intercept_ci95_um", "grains_per_mm2_ci95") if k in s]
    assert keys[:2] == ["astm_g_ci95", "mean_intercept_ci95_um"]  # the intercept method's
    for key in keys:
        low, high = summary[f"{key}_low"], summary[f"{key}_high"]
        if n_fields == 1:
            assert s[key] is None and low == high == [""]
        else:
            assert [float(low[0]), float(high[0])] == list(s[key])
    table = pd.read_csv(path, comment="#")
    assert list(table["field"]) == names
    assert pd.api.types.is_numeric_dtype(table["astm_g_ci95_low"])


def test_a_field_named_with_a_hash_loads_with_pandas_comment(make_napari_viewer, qtbot, tmp_path):
    """A field (layer) named "sample #1" was written unquoted, and
    ``pandas.read_csv(path, comment="#")``, the documented way to load the table, cut
    its row at the "#": the field read "sample " and its figures were lost (NaN). A text
    cell holding "#" is now quoted (widgets.export.write_table_row), which pandas' reader
    respects; the other cells are written as before."""
    import csv

    import pandas as pd

    names = ["sample #1", "f2"]
    panel, w = _calibrated_fields_measured(make_napari_viewer, qtbot, names)
    images = panel.result.report["images"]
    path = panel.export_csv(tmp_path / "specimen.csv")
    table = pd.read_csv(path, comment="#")
    assert list(table["field"]) == names
    assert list(table["astm_g"]) == [f["astm_g"] for f in images]
    lines = path.read_text().splitlines()
    assert lines[1].startswith('"sample #1",') and lines[2].startswith("f2,")
    rows = list(csv.reader(lines[: 1 + len(names)]))
    assert {len(r) for r in rows} == {len(rows[0])}


def test_the_field_intervals_say_they_have_no_model_term(make_napari_viewer, qtbot, tmp_path):
    """The tab's field intervals are measure_field's of a mask (the test lines' sampling
    and the pixel term): a boundary model's map gets no model term here, where srmat
    grain-size --method adds the model's calibrated error to a micrograph's fields
    (the layers do not record it), yet the G column read 'G [95 %]' as if the interval
    were the command's. The header says 'no model term' (its tooltip why), and the
    summary table and the CSV carry the line."""
    import csv

    from napari_srmat.widgets.specimen_panel import (
        FIELD_INTERVAL_TERMS,
        FIELD_INTERVAL_TERMS_KEY,
        FIELD_INTERVAL_TERMS_LABEL,
    )

    w, _, _ = _one_calibrated_field(make_napari_viewer, qtbot, one_line=False)
    panel = w.specimen
    _measure(qtbot, panel)
    header = panel.table.horizontalHeaderItem(1)
    assert header.text() == "G [95 %, no model term]"
    assert header.toolTip() == FIELD_INTERVAL_TERMS
    assert "no boundary model term" in FIELD_INTERVAL_TERMS
    shown = {panel.summary.item(i, 0).text(): panel.summary.item(i, 1).text()
             for i in range(panel.summary.rowCount())}
    assert shown[FIELD_INTERVAL_TERMS_LABEL] == FIELD_INTERVAL_TERMS
    lines = panel.export_csv(tmp_path / "specimen.csv").read_text().splitlines()
    summary = {r[0]: r[1:] for r in csv.reader(ln[2:] for ln in lines if ln.startswith("# "))}
    assert summary[FIELD_INTERVAL_TERMS_KEY] == [FIELD_INTERVAL_TERMS]


def test_specimen_job_takes_an_array_of_pixel_sizes_one_per_layer():
    """``specimen_job(pixel_size_um=np.array([0.5, 0.25]))`` for two field layers: the
    array (not a list or tuple) was taken as one size for every layer, read as a (Y, X)
    pair and refused as pixels that are not square. Now any sequence is one size per
    layer, as a list is; a count other than the layers' is refused in one line."""
    from napari_srmat.jobs import run_job
    from napari_srmat.widgets._snapshot import LayerSnapshot
    from napari_srmat.widgets.specimen_panel import specimen_job

    sources = [LayerSnapshot(f"f{k}", _micro(k, shape=(96, 96)).boundaries.astype(np.uint8),
                             "labels", {}) for k in (1, 2)]
    result = run_job(specimen_job(sources, pixel_size_um=np.array([0.5, 0.25]), n_lines=10),
                     quiet=True)
    assert [f["pixel_size_um"] for f in result.report["images"]] == [0.5, 0.25]
    assert result.area_unit == "µm²"
    listed = run_job(specimen_job(sources, pixel_size_um=[0.5, 0.25], n_lines=10),
                     quiet=True)
    assert listed.report["summary"] == result.report["summary"]
    with pytest.raises(WidgetInputError,
                       match=r"^3 pixel sizes for 2 field layers: give one, or one per layer$"):
        run_job(specimen_job(sources, pixel_size_um=np.array([0.5, 0.25, 0.1])), quiet=True)


def test_the_last_fields_map_deleted_before_the_bar_step_another_maps_bar_shows(
        make_napari_viewer, qtbot):
    """The step after the fields showed the last field's grain-area bar only if that map
    was still in the viewer: deleted before that step, no bar was shown though the other
    fields' maps were. Now the last map still in the viewer shows its bar."""
    viewer, w = _small_fields(make_napari_viewer, qtbot, 3)
    panel = w.specimen

    def delete_last_map() -> None:  # after a step, before the colour-bar one
        if (panel._steps and panel._steps[0][0]() == "the grain-area colour bar"
                and "f3 grain area" in viewer.layers):
            viewer.layers.remove("f3 grain area")

    panel._step_timer.timeout.connect(delete_last_map)
    _measure(qtbot, panel)
    assert "f3 grain area" not in viewer.layers
    maps = [viewer.layers[f"f{k} grain area"] for k in (1, 2)]
    assert [m.colorbar.visible for m in maps] == [False, True]


def test_the_csv_is_machine_readable_keys_full_values_and_each_field_s_pixel_size(
    make_napari_viewer, qtbot, tmp_path
):
    """Was (explorer F12): the CSV's summary rows were the summary table's display
    labels with rounded texts ("# ASTM grain size G,9.2", "# mean lineal intercept ℓ̄
    (µm),12.98") beside full-precision keys ("# astm_g_ci95_low,8.847495327944022"), and
    its field rows had no pixel size, though fields of different pixel sizes are pooled:
    the CSV alone could not tell which field had which. Now each summary row is the
    summary's key (the JSON's) and its full value, read back equal with ``float``, and a
    ``pixel_size_um`` column (after the older columns, which keep their places) gives
    each field's."""
    import csv

    import pandas as pd

    from napari_srmat.widgets.specimen_panel import FIELD_INTERVAL_TERMS_KEY

    viewer = make_napari_viewer()
    for k, (name, px) in enumerate((("x500", 0.5), ("x1000", 0.25)), 1):
        viewer.add_labels(
            _micro(k).boundaries.astype(np.uint8), name=name, metadata={"pixel_size_um": px}
        )
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    panel = w.specimen
    panel.n_lines.setValue(20)
    panel.select_fields(["x500", "x1000"])
    s = _measure(qtbot, panel).report["summary"]
    path = panel.export_csv(tmp_path / "specimen.csv")
    table = pd.read_csv(path, comment="#")
    assert list(table["pixel_size_um"]) == [0.5, 0.25]
    assert list(table.columns[:3]) == ["field", "astm_g", "mean_intercept_um"]
    lines = path.read_text(encoding="utf-8").splitlines()
    rows: dict[str, list[str]] = {}
    for key, *cells in csv.reader(ln[2:] for ln in lines if ln.startswith("# ")):
        rows.setdefault(key, []).extend(cells)
    # the summary's keys (an interval's two ends), no display label
    ends = {key + end for key in s for end in ("_low", "_high")}
    assert set(rows) <= {*s, *ends, FIELD_INTERVAL_TERMS_KEY}
    assert "ASTM grain size G" not in rows and "astm_g_ci95_low" in rows
    numbers = ("astm_g", "mean_intercept_um", "relative_accuracy_pct", "mean", "sd")
    for key in (*numbers, "anisotropy_index"):
        assert [float(v) for v in rows[key]] == [s[key]]  # full precision
    assert rows["n_fields"] == ["2"] and rows["method"] == ["intercept"]
    assert [float(v) for v in rows["field_values"]] == s["field_values"]
    assert rows["warnings"] == (s["warnings"] or [""])
    assert "duplex" not in rows and "ala" not in rows  # nested records: the JSON's
    assert FIELD_INTERVAL_TERMS_KEY in rows
