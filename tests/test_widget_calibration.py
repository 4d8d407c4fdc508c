"""Pixel-size calibration widget: typed, from a drawn line, derived layers follow."""

from __future__ import annotations

import re

import numpy as np
import pytest

pytest.importorskip("napari")
from napari_srmat.io import PixelSizeError, pixel_size_from_line  # noqa: E402
from napari_srmat.widgets._common import WidgetInputError, layer_pixel_size_um  # noqa: E402
from napari_srmat.widgets.calibration_widget import CalibrationWidget  # noqa: E402

pytestmark = pytest.mark.gui


def test_pixel_size_from_line_rule():
    assert pixel_size_from_line((0, 0), (30, 40), 100.0) == pytest.approx(2.0)
    with pytest.raises(PixelSizeError, match="shorter than one pixel"):
        pixel_size_from_line((5, 5), (5, 5.5), 10.0)
    for bad in (float("nan"), 0, -3.0, "ten"):  # a length in µm, not µm per pixel
        with pytest.raises(PixelSizeError, match=r"known length must be a finite positive "
                                                 r"number of micrometres \(the scale bar"):
            pixel_size_from_line((0, 0), (0, 10), bad)
    with pytest.raises(PixelSizeError, match="give the known length"):
        pixel_size_from_line((0, 0), (0, 10), None)
    # the pixel size it gives is still checked: 1 m over 10 px is a typing error
    with pytest.raises(PixelSizeError, match="between"):
        pixel_size_from_line((0, 0), (0, 10), 1e7)


def test_typed_pixel_size_sets_scale_units_metadata_and_derived(make_napari_viewer):
    viewer = make_napari_viewer()
    img = viewer.add_image(np.zeros((100, 120), np.float32), name="scan")
    prob = viewer.add_image(np.zeros((100, 120), np.float32), name="scan boundary probability",
                            metadata={"source_layer": "scan", "pixel_size_um": None})
    sr = viewer.add_image(np.zeros((400, 480), np.float32), name="scan SR x4",
                          scale=(0.25, 0.25), translate=(-0.375, -0.375),
                          metadata={"source_layer": "scan"})
    other = viewer.add_image(np.zeros((10, 10), np.float32), name="unrelated")
    w = CalibrationWidget(viewer)
    w.layer_combo.value = img
    assert "unknown" in w.current.text()
    w.pixel_size.setText("0.8")
    changed = w.apply(w._typed())
    assert [lay.name for lay in changed] == ["scan", "scan boundary probability", "scan SR x4"]
    assert layer_pixel_size_um(img) == pytest.approx(0.8)
    np.testing.assert_allclose(img.scale, (0.8, 0.8))
    assert str(img.units[-1]) in ("micrometer", "µm", "um")
    np.testing.assert_allclose(prob.scale, (0.8, 0.8))
    np.testing.assert_allclose(sr.scale, (0.2, 0.2))          # still 4x finer
    np.testing.assert_allclose(sr.translate, (-0.3, -0.3))    # still pixel-centre aligned
    np.testing.assert_allclose(other.scale, (1, 1))
    assert viewer.canvas.overlays.scale_bar.visible
    assert "0.8 µm/px" in w.current.text()
    # the pixel-edge extents of the image and its SR output still coincide in the world
    def edges(layer):
        scale, tr = np.asarray(layer.scale), np.asarray(layer.translate)
        n = np.asarray(layer.data.shape)
        return tr - scale / 2, tr + (n - 0.5) * scale
    for a, b in zip(edges(img), edges(sr)):
        np.testing.assert_allclose(a, b, atol=1e-9)


def test_a_layer_of_non_square_pixels_keeps_its_overlays_when_made_square(make_napari_viewer):
    """A layer of 0.4 x 0.8 µm pixels given one pixel size was stretched by the X ratio
    on both axes: its origin moved in Y and its SR output (2x finer) no longer lay on it.
    Rows and columns now each keep their own ratio."""
    viewer = make_napari_viewer()
    img = viewer.add_image(np.zeros((50, 60), np.float32), name="scan", scale=(0.4, 0.8),
                           translate=(4.0, 8.0))
    sr = viewer.add_image(np.zeros((100, 120), np.float32), name="scan SR x2",
                          scale=(0.2, 0.4), translate=(3.9, 7.8),
                          metadata={"source_layer": "scan"})
    w = CalibrationWidget(viewer)
    w.layer_combo.value = img
    w.apply(1.0)
    np.testing.assert_allclose(img.scale, (1.0, 1.0))
    np.testing.assert_allclose(img.translate, (10.0, 10.0))  # the same pixel 0 origin
    np.testing.assert_allclose(sr.scale, (0.5, 0.5))          # still 2x finer
    np.testing.assert_allclose(sr.translate, (9.75, 9.75))    # still pixel-centre aligned


def test_a_file_of_non_square_pixels_calibrated_square_has_that_pixel_size(
        make_napari_viewer, tmp_path):
    """A TIFF of 0.25 x 0.5 µm pixels opened with the plugin's reader and given 0.4 µm
    in the widget kept the reader's metadata["pixel_size_yx_um"]: the layer still had no
    pixel size ("pixels not square", no µm or G) and saving it wrote 0.25 x 0.5 µm."""
    import warnings

    import npe2
    import tifffile

    from napari_srmat.io import read_image

    path = tmp_path / "ns.tif"  # X 0.5 µm (20000 px/cm), Y 0.25 µm
    img = np.arange(40 * 30, dtype=np.uint16).reshape(40, 30)
    tifffile.imwrite(path, img, resolution=(20000, 40000), resolutionunit="CENTIMETER")
    viewer = make_napari_viewer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "pixels are not square"
        [layer] = viewer.open(str(path), plugin="napari-srmat")
    assert layer_pixel_size_um(layer) is None
    # an SR output of it, carrying the reader's per-axis sizes (2x finer)
    sr = viewer.add_image(np.zeros((80, 60), np.float32), name="ns SR x2",
                          scale=(0.125, 0.25), units=("micrometer", "micrometer"),
                          metadata={"source_layer": "ns", "pixel_size_um": 0.25,
                                    "pixel_size_yx_um": [0.125, 0.25]})
    w = CalibrationWidget(viewer)
    w.layer_combo.value = layer
    w.apply(0.4)
    assert layer_pixel_size_um(layer) == pytest.approx(0.4)
    assert layer_pixel_size_um(sr) == pytest.approx(0.2)
    data, meta, _ = layer.as_layer_data_tuple()
    [written] = npe2.write(str(tmp_path / "calibrated.zarr"), [(data, meta, "image")],
                           plugin_name="napari-srmat")
    back = read_image(written)
    assert back.pixel_size_yx_um == pytest.approx((0.4, 0.4))


def test_calibrate_from_drawn_line(make_napari_viewer):
    viewer = make_napari_viewer()
    img = viewer.add_image(np.zeros((200, 300), np.float32), name="micrograph")
    shapes = viewer.add_shapes([np.array([[180.0, 20.0], [180.0, 220.0]])], shape_type="line",
                               name="scale bar")
    w = CalibrationWidget(viewer)
    w.layer_combo.value = img
    w.shapes_combo.value = shapes
    w.known_length.setText("50")
    px = w.calibrate_from_line()
    assert px == pytest.approx(0.25)
    assert layer_pixel_size_um(img) == pytest.approx(0.25)
    # after calibration, a line drawn in world units (µm) gives the same answer
    shapes2 = viewer.add_shapes([np.array([[10.0, 5.0], [10.0, 55.0]])], shape_type="line",
                                name="second")  # 50 µm in world = 200 px
    w.shapes_combo.value = shapes2
    assert w.calibrate_from_line() == pytest.approx(0.25)


def test_a_corrected_known_length_reads_the_same_line_again(make_napari_viewer):
    """The line drawn over the scale bar stays over it when its image is calibrated: a
    known length corrected after a first From line (500 typed for 50 µm) gives 0.5 µm/px,
    as typed first; the line stayed in the old world coordinates while the image was
    rescaled, and the second click read it as 20 px: 2.5 µm/px."""
    viewer = make_napari_viewer()
    img = viewer.add_image(np.zeros((300, 300), np.float32), name="micro")
    shapes = viewer.add_shapes([np.array([[200.0, 50.0], [200.0, 150.0]])],
                               shape_type="line", name="bar")  # 100 px
    w = CalibrationWidget(viewer)
    w.layer_combo.value = img
    w.shapes_combo.value = shapes
    w.known_length.setText("500")  # a typo: the bar is 50 µm
    assert w.calibrate_from_line() == pytest.approx(5.0)
    w.known_length.setText("50")
    assert w.calibrate_from_line() == pytest.approx(0.5)
    assert layer_pixel_size_um(img) == pytest.approx(0.5)
    # the line is over the same pixels of the image
    ends = [img.world_to_data(shapes.data_to_world(v)) for v in shapes.data[-1]]
    np.testing.assert_allclose(np.asarray(ends)[:, -2:], [[200.0, 50.0], [200.0, 150.0]])


def test_bad_input_is_one_sentence(make_napari_viewer):
    viewer = make_napari_viewer()
    w = CalibrationWidget(viewer)
    with pytest.raises(WidgetInputError, match="select an image or labels layer"):
        w.apply(1.0)
    viewer.add_image(np.zeros((20, 20), np.float32), name="a")
    w.layer_combo.value = "a"
    for bad in (0.0, -1.0, float("inf")):
        with pytest.raises(WidgetInputError, match="finite positive"):
            w.apply(bad)
    with pytest.raises(WidgetInputError, match="draw a line"):
        w.calibrate_from_line()
    w.pixel_size.setText("abc")
    with pytest.raises(WidgetInputError, match="not a number"):
        w._typed()


def test_current_pixel_size_follows_layers_added_and_removed(make_napari_viewer):
    """A widget opened before any layer shows the pixel size of the layer it then offers
    (the combo picked the new layer without telling the widget: 'no image layer')."""
    viewer = make_napari_viewer()
    w = CalibrationWidget(viewer)
    assert w.current.text() == "no image layer"
    a = viewer.add_image(np.zeros((20, 20), np.float32), name="a",
                         metadata={"pixel_size_um": 0.5})
    assert w.layer_combo.value is a
    assert w.current.text() == "0.5 µm/px"
    viewer.layers.remove(a)
    assert w.layer_combo.value is None
    assert w.current.text() == "no image layer"


def test_renaming_the_selected_layer_keeps_it_selected(make_napari_viewer):
    """Renaming the chosen layer must not switch the widget to another layer."""
    viewer = make_napari_viewer()
    scan = viewer.add_image(np.zeros((20, 20), np.float32), name="scan",
                            metadata={"pixel_size_um": 0.5})
    viewer.add_image(np.zeros((20, 20), np.float32), name="other",
                     metadata={"pixel_size_um": 2.0})
    w = CalibrationWidget(viewer)
    w.layer_combo.value = scan
    scan.name = "steel 304"
    assert w.layer_combo.value is scan
    assert w.layer_combo.native.currentText() == "steel 304"
    assert w.current.text() == "0.5 µm/px"
    w.pixel_size.setText("0.25")
    w.apply(w._typed())
    assert layer_pixel_size_um(scan) == pytest.approx(0.25)
    assert layer_pixel_size_um(viewer.layers["other"]) == pytest.approx(2.0)


def test_clicked_bad_input_is_a_notification_not_an_exception(make_napari_viewer, qtbot,
                                                              monkeypatch):
    import napari_srmat.widgets._worker as worker_mod

    shown = []
    monkeypatch.setattr(worker_mod, "show_error", shown.append)
    viewer = make_napari_viewer()
    img = viewer.add_image(np.zeros((20, 20), np.float32), name="a")
    w = CalibrationWidget(viewer)
    qtbot.addWidget(w)
    w.pixel_size.setText("abc")
    w.apply_btn.click()
    said = ("pixel size 'abc' is not a number: type a number of µm/px (such as 0.5 or 0,5) "
            "or a number and a length unit (such as 500 nm)")
    assert shown == [f"napari-srmat: {said}"]
    assert w.status.text() == said
    w.line_btn.click()
    assert len(shown) == 2 and "draw a line" in shown[-1]
    assert layer_pixel_size_um(img) is None
    # the typed field's one rule (widgets._qt.typed_pixel_size), as the Heyn and Specimen
    # fields read theirs: an empty field asks for a size, a size that is none is refused
    w.pixel_size.setText("  ")
    w.apply_btn.click()
    assert w.status.text() == "give a pixel size in µm per pixel"
    w.pixel_size.setText("inf")
    w.apply_btn.click()
    assert "pixel size" in w.status.text() and "not a number" not in w.status.text()
    assert layer_pixel_size_um(img) is None


def test_grain_size_tabs_show_the_pixel_size_just_calibrated(make_napari_viewer):
    """After calibrating a layer, the grain-size tabs still said 'unknown: type it'
    (they read the pixel size only when the chosen layer changed)."""
    from napari_srmat.widgets.calibration_widget import set_layer_pixel_size
    from napari_srmat.widgets.heyn_widget import GrainSizeWidget

    viewer = make_napari_viewer()
    img = viewer.add_image(np.zeros((40, 40), np.uint8), name="scan")
    viewer.add_labels(np.zeros((40, 40), np.uint8), name="scan boundaries",
                      metadata={"source_layer": "scan"})
    grain = GrainSizeWidget(viewer)
    grain.simple.image_combo.value = img
    grain.layer_combo.value = "scan boundaries"
    cal = CalibrationWidget(viewer)
    cal.layer_combo.value = img
    assert "unknown" in grain.simple.pixel_size.placeholderText()
    assert "unknown" in grain.pixel_size.placeholderText()
    cal.apply(0.5)
    assert grain.simple.pixel_size.placeholderText() == "0.5 µm/px (from layer)"
    assert grain.pixel_size.placeholderText() == "0.5 µm/px (from layer)"
    # a pixel size set from a script shows in the calibration widget too
    set_layer_pixel_size(viewer, img, 0.2)
    assert cal.current.text() == "0.2 µm/px"


def test_unitless_layer_scale_is_offered_as_a_hint_not_used(make_napari_viewer):
    """A scale typed without units (napari's "pixel") is named, never taken as µm; a
    nanometre scale is a pixel size."""
    from napari_srmat.widgets.heyn_widget import SimpleGrainSizePanel

    viewer = make_napari_viewer()
    w = CalibrationWidget(viewer)
    viewer.add_image(np.zeros((20, 20), np.float32), name="a", scale=(0.5, 0.5))
    assert w.current.text().startswith("unknown")
    assert "scale 0.5 has no length unit" in w.current.text()
    simple = SimpleGrainSizePanel(viewer)
    assert "scale 0.5 has no length unit" in simple.pixel_size.toolTip()
    assert "unknown" in simple.pixel_size.placeholderText()
    viewer.add_image(np.zeros((20, 20), np.float32), name="b", scale=(250, 250),
                     units=("nm", "nm"))
    w.layer_combo.value = viewer.layers["b"]
    assert w.current.text() == "0.25 µm/px"
    simple.image_combo.value = viewer.layers["b"]
    assert simple.pixel_size.placeholderText() == "0.25 µm/px (from layer)"
    assert simple.pixel_size.toolTip() == ""


def test_a_print_resolution_is_named_where_the_pixel_size_is_missing(make_napari_viewer,
                                                                     tmp_path):
    """A 300 dpi export opens without a pixel size (the reader's print-resolution rule);
    the calibration widget says why instead of a bare "unknown"."""
    from PIL import Image

    from napari_srmat._napari_io import get_reader

    path = tmp_path / "export.png"
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(path, dpi=(300, 300))
    viewer = make_napari_viewer()
    for data, kwargs, _ in get_reader(str(path))(str(path)):
        viewer.add_image(data, **kwargs)
    w = CalibrationWidget(viewer)
    assert w.current.text().startswith("unknown")
    assert "records 300 dpi, a print or screen resolution" in w.current.text()


def test_a_rectangle_is_not_taken_for_the_calibration_line(make_napari_viewer, qtbot):
    """A rectangle drawn round the scale bar (instead of a line along it) was read from
    its first to its last corner: one short side. 'From line' applied a pixel size 20
    times too large without a word. Closed shapes are now refused."""
    viewer = make_napari_viewer()
    img = viewer.add_image(np.zeros((200, 300), np.float32), name="micrograph")
    bar = np.array([[170.0, 20.0], [170.0, 220.0], [180.0, 220.0], [180.0, 20.0]])
    shapes = viewer.add_shapes([bar], shape_type="rectangle", name="scale bar")
    w = CalibrationWidget(viewer)
    qtbot.addWidget(w)
    w.layer_combo.value = img
    w.shapes_combo.value = shapes
    w.known_length.setText("50")
    w.line_btn.click()
    assert w.status.text() == ("the last shape in 'scale bar' is a rectangle, not a line or "
                               "a path: draw a line (line tool) or a path (path tool) over "
                               "the known length")
    assert layer_pixel_size_um(img) is None
    shapes.add_lines(np.array([[175.0, 20.0], [175.0, 220.0]]))  # now a line, last
    w.line_btn.click()
    assert layer_pixel_size_um(img) == pytest.approx(0.25)


def test_a_path_is_measured_along_its_vertices(make_napari_viewer, qtbot):
    """A path (polyline) drawn along a bent or segmented scale was measured from its
    first to its last vertex: an L-shaped path of 120 + 80 px read as 144 px, so 'From
    line' applied a pixel size 39 % too large. Its length is now the sum of its segments,
    as a 2-point line's is its one segment (also on a layer with non-square pixels)."""
    viewer = make_napari_viewer()
    img = viewer.add_image(np.zeros((200, 300), np.float32), name="micrograph")
    path = np.array([[150.0, 20.0], [150.0, 140.0], [70.0, 140.0]])  # 120 + 80 px
    shapes = viewer.add_shapes([path], shape_type="path", name="scale path")
    w = CalibrationWidget(viewer)
    qtbot.addWidget(w)
    w.layer_combo.value = img
    w.shapes_combo.value = shapes
    w.known_length.setText("50")
    w.line_btn.click()
    assert layer_pixel_size_um(img) == pytest.approx(50.0 / 200.0)
    # the same path over a layer of 0.5 x 2 µm pixels (world units): its vertices are
    # taken to the layer's pixels first, segment by segment (60 + 40 px, and 120 / 2)
    aniso = viewer.add_image(np.zeros((200, 300), np.float32), name="aniso",
                             scale=(0.5, 2.0))
    world = np.array([[30.0, 0.0], [30.0, 120.0], [10.0, 120.0]])  # 60 px + 40 px
    shapes2 = viewer.add_shapes([world], shape_type="path", name="aniso path")
    w.layer_combo.value = aniso
    w.shapes_combo.value = shapes2
    w.known_length.setText("50")
    w.line_btn.click()
    assert layer_pixel_size_um(aniso) == pytest.approx(50.0 / 100.0)


def test_pixel_size_from_path_rule():
    from napari_srmat.io import pixel_size_from_path

    assert pixel_size_from_path([(0, 0), (0, 30), (40, 30)], 140.0) == pytest.approx(2.0)
    # a 2-point path is the line rule
    assert pixel_size_from_path([(0, 0), (30, 40)], 100.0) == \
        pixel_size_from_line((0, 0), (30, 40), 100.0)
    with pytest.raises(PixelSizeError, match="shorter than one pixel"):
        pixel_size_from_path([(5, 5), (5, 5.3), (5, 5.6)], 10.0)
    with pytest.raises(PixelSizeError, match="at least two points"):
        pixel_size_from_path([(5, 5)], 10.0)



def test_a_pixel_size_set_drops_the_unitless_grid_of_the_layer_and_its_derived_layers(
        make_napari_viewer, tmp_path):
    """A layer without a pixel size opened from a store with a unit-less grid, and the SR
    layer and boundary maps the widgets make from it, record ``unitless_grid``; given a
    pixel size they were rescaled to µm but kept it: stale metadata saying they lie on a
    grid without a pixel size. It is now dropped from each; their place still follows."""
    import npe2

    from napari_srmat.io import write_ome_zarr
    from napari_srmat.widgets.calibration_widget import set_layer_pixel_size
    from napari_srmat.widgets.layers import (
        BoundaryMaps,
        add_boundary_result,
        add_super_resolution_result,
    )

    pm = npe2.PluginManager.instance()
    if "napari-srmat" not in pm._manifests:
        pm.discover()
    store = write_ome_zarr(np.zeros((24, 20), np.uint8), tmp_path / "in.ome.zarr",
                           unitless_grid={"scale": (0.5, 0.5), "origin": (2.0, -1.0)})
    viewer = make_napari_viewer()
    [scan] = viewer.open(str(store), plugin="napari-srmat")
    sr = add_super_resolution_result(viewer, scan, np.zeros((96, 80), np.float32), 4)
    zeros = np.zeros((96, 80), np.float32)
    maps = add_boundary_result(viewer, sr, BoundaryMaps(prob=zeros, uncertainty=zeros,
                                                        threshold=0.5))
    made = [scan, sr, maps.probability, maps.uncertainty, maps.boundaries]
    assert all("unitless_grid" in lay.metadata for lay in made)  # without a pixel size
    before = {lay.name: np.asarray(lay.data_to_world((0.0, 0.0))) for lay in made}
    changed = set_layer_pixel_size(viewer, scan, 0.8)
    assert {lay.name for lay in made} <= {lay.name for lay in changed}
    for lay in made:
        assert "unitless_grid" not in lay.metadata, lay.name
        assert [str(u) for u in lay.units[-2:]] == ["micrometer", "micrometer"]
        # still where it was over its input: world positions all times 0.8 / 0.5
        np.testing.assert_allclose(np.asarray(lay.data_to_world((0.0, 0.0))),
                                   before[lay.name] * 1.6, atol=1e-9)


def test_a_renamed_layer_keeps_its_overlays_when_calibrated(make_napari_viewer, qtbot):
    """A metallurgist measured a layer, renamed it to the sample's ID and calibrated it:
    its intersections, test lines and corrections stayed at the old scale (twice the
    image's size at 0.5 µm/px), since the link was the name. And a new layer given the
    old name, calibrated, rescaled the first layer's overlays. The link is the layer
    itself now."""
    from _helpers import measured_scan

    viewer = make_napari_viewer()
    scan, g = measured_scan(viewer, qtbot)
    corrections = g.add_corrections_layer()
    overlays = [g.measurement.points_layer, g.measurement.lines_layer, corrections]
    scan.name = "sample A-17"
    # the painted corrections are found again, not a second layer added
    assert g.add_corrections_layer() is corrections
    newcomer = viewer.add_labels(np.zeros((96, 96), np.uint8), name="scan")
    w = CalibrationWidget(viewer)
    qtbot.addWidget(w)
    w.layer_combo.value = newcomer
    assert w.apply(2.0) == [newcomer]  # the old name is not the measured layer's
    for lay in overlays:
        np.testing.assert_allclose(lay.scale[-2:], (1.0, 1.0))
    w.layer_combo.value = scan
    changed = w.apply(0.5)
    assert changed[0] is scan and all(any(c is lay for c in changed) for lay in overlays)
    for lay in overlays:
        np.testing.assert_allclose(lay.scale[-2:], (0.5, 0.5))
        assert str(lay.units[-1]) == "micrometer"
    # the intersections still lie on the boundary pixels they were counted on
    pts = g.measurement.points_layer
    idx = np.array([scan.world_to_data(pts.data_to_world(p)) for p in pts.data])
    np.testing.assert_allclose(idx, pts.data, atol=1e-9)


def test_a_scale_set_by_hand_is_the_pixel_size_every_widget_reads(make_napari_viewer,
                                                                  tmp_path):
    """A file of 0.8 µm/px opened with the reader, then given 0.4 µm by hand (the layer
    controls or the console: ``layer.scale``): the scale bar and the layer showed 0.4 µm,
    but the widgets read the reader's ``metadata["pixel_size_um"]`` (0.8), so the grain
    sizes and plans were twice what the layer shows. A layer whose scale is a length is
    its pixel size; the metadata edited in place (which napari cannot tell) is not."""
    import tifffile

    from napari_srmat.widgets.heyn_widget import GrainSizeWidget

    path = tmp_path / "scan.tif"  # 0.8 µm/px: 12500 px/cm
    tifffile.imwrite(path, np.zeros((40, 30), np.uint8), resolution=(12500, 12500),
                     resolutionunit="CENTIMETER")
    viewer = make_napari_viewer()
    [layer] = viewer.open(str(path), plugin="napari-srmat")
    cal = CalibrationWidget(viewer)
    grain = GrainSizeWidget(viewer)
    grain.simple.image_combo.value = layer
    assert cal.current.text() == "0.8 µm/px"
    layer.scale = (0.4, 0.4)
    assert layer_pixel_size_um(layer) == pytest.approx(0.4)
    assert cal.current.text() == "0.4 µm/px"
    assert grain.simple.pixel_size.placeholderText() == "0.4 µm/px (from layer)"
    layer.metadata["pixel_size_um"] = 0.2  # no event: not what the layer shows
    assert layer_pixel_size_um(layer) == pytest.approx(0.4)
    layer.scale = (400.0, 800.0)  # nm, not square now: no single pixel size
    layer.units = ("nm", "nm")
    assert layer_pixel_size_um(layer) is None
    assert cal.current.text().startswith("unknown")


def test_a_kept_layer_and_its_source_are_freed_when_deleted(make_napari_viewer):
    """keep_on_layer's link holds neither layer: a derived layer (a 1000² probability
    map) deleted from the viewer, or the layer it was made from, is freed at once, not
    kept for the session by the link's handler (connected to both layers' events)."""
    import gc
    import weakref

    from napari_srmat.widgets.layers import keep_on_layer, kept_on

    viewer = make_napari_viewer()
    src = viewer.add_image(np.zeros((64, 64), np.float32), name="scan")
    overlay = viewer.add_image(np.zeros((1000, 1000), np.float32), name="scan probability")
    keep_on_layer(viewer, overlay, src)
    src.scale = (0.5, 0.5)  # the link works
    np.testing.assert_allclose(overlay.scale, (0.5, 0.5))
    assert kept_on(viewer, overlay) == (src, 1.0)
    gone = weakref.ref(overlay)
    viewer.layers.remove(overlay)
    del overlay
    gc.collect()
    assert gone() is None  # no scale event on the source needed to let it go

    overlay = viewer.add_image(np.zeros((1000, 1000), np.float32), name="scan probability")
    keep_on_layer(viewer, overlay, src)
    gone = weakref.ref(src)
    viewer.layers.remove(src)
    del src
    gc.collect()
    assert gone() is None
    assert kept_on(viewer, overlay) is None
    overlay.scale = (2, 2)  # set freely now: nothing to keep it on
    np.testing.assert_allclose(overlay.scale, (2, 2))
    gone = weakref.ref(overlay)
    viewer.layers.remove(overlay)
    del overlay
    gc.collect()
    assert gone() is None


def test_a_scale_set_by_hand_is_told_to_the_widgets_once(make_napari_viewer):
    """A scale set by hand on a layer recording its pixel size comes as two calibration
    events (its scale, then the metadata of the layer's records of it): a widget watching
    the chosen layer (Calibration's Current, the grain-size tabs' pixel size) is told once
    per change (CalibrationSeen), and still told of each change, a unit-less scale's too
    (the hint names the scale)."""
    viewer = make_napari_viewer()
    layer = viewer.add_image(np.zeros((40, 30), np.float32), name="scan", scale=(0.8, 0.8),
                             units=("micrometer", "micrometer"),
                             metadata={"pixel_size_um": 0.8})
    w = CalibrationWidget(viewer)
    told: list = []
    w.layer_combo.watch(lambda: told.append(layer_pixel_size_um(layer)))
    layer.scale = (0.5, 0.5)
    assert told == [pytest.approx(0.5)] and layer.metadata["pixel_size_um"] == 0.5
    assert w.current.text().startswith("0.5 µm/px")
    plain = viewer.add_image(np.zeros((40, 30), np.float32), name="plain")
    w.layer_combo.value = plain
    for scale in (0.5, 0.6):
        plain.scale = (scale, scale)
        assert f"its scale {scale:g} has no length unit" in w.current.text()


@pytest.mark.parametrize("metadata, before, after", [
    ({"print_resolution_dpi": 300}, "its file records 300 dpi", ""),
    ({"unitless_grid": {"scale": [0.5, 0.5], "origin": [0.0, 0.0]}}, "",
     "its scale 0.5 has no length unit"),
], ids=["print resolution dropped", "unit-less grid dropped"])
def test_a_metadata_change_that_only_changes_the_hint_is_told(make_napari_viewer, metadata,
                                                              before, after):
    """The widgets skipped a calibration event that changed neither the layer's pixel
    sizes nor its scale and units (CalibrationSeen), but the hint they show also reads
    its metadata: a unit-less layer recording 300 dpi whose ``metadata`` was replaced
    without it kept "its file records 300 dpi" in Calibration's Current and the grain-size
    tab's tooltip (a unit-less grid dropped: no hint of the scale). What the hint reads of
    the metadata is now part of what a follower last acted on."""
    from napari_srmat.widgets.heyn_widget import SimpleGrainSizePanel

    viewer = make_napari_viewer()
    layer = viewer.add_image(np.zeros((20, 20), np.float32), name="scan", scale=(0.4, 0.4),
                             metadata=dict(metadata))
    w = CalibrationWidget(viewer)
    simple = SimpleGrainSizePanel(viewer)
    layer.scale = (0.5, 0.5)  # by hand: the followers act on it
    for shown in (w.current.text(), simple.pixel_size.toolTip()):
        assert before in shown and (not after or after not in shown), shown
    layer.metadata = {}  # the scale and units as they were
    for shown in (w.current.text(), simple.pixel_size.toolTip()):
        assert after in shown and (not before or before not in shown), shown


@pytest.mark.gui
@pytest.mark.parametrize("widget", [False, True], ids=["no widget", "widget open"])
@pytest.mark.parametrize("metadata", [{}, {"pixel_size_um": 0.8, "kind": "x"}],
                         ids=["no records", "read records"])
def test_a_pixel_size_set_writes_the_layers_records_once(make_napari_viewer, widget,
                                                         metadata):
    """set_layer_pixel_size wrote a layer's records twice, equal: once at its scale
    event (its records follow its scale while a widget is open, keep_own_records) and
    again unasked, so a listener of its metadata (a widget re-reading its calibration, a
    script) was told twice. Once now, whether a widget is open or not, and the same
    records; the layers made from it too."""
    from napari_srmat.widgets.calibration_widget import set_layer_pixel_size
    from napari_srmat.widgets.layers import keep_on_layer, source_metadata

    viewer = make_napari_viewer()
    layer = viewer.add_image(np.zeros((20, 20), np.uint8), scale=(0.8, 0.8),
                             units=("micrometer", "micrometer"), metadata=dict(metadata))
    made = viewer.add_labels(np.zeros((20, 20), np.uint8), scale=(0.8, 0.8),
                             units=("micrometer", "micrometer"), metadata={
                                 "pixel_size_um": 0.8, **source_metadata(layer)})
    kept = viewer.add_image(np.zeros((80, 80), np.uint8), metadata={"pixel_size_um": 0.2})
    keep_on_layer(viewer, kept, layer, 4.0)
    if widget:
        CalibrationWidget(viewer)
    told: dict = {lay.name: [] for lay in (layer, made, kept)}
    for lay in (layer, made, kept):
        lay.events.metadata.connect(
            lambda event, lay=lay: told[lay.name].append(dict(lay.metadata)))
    set_layer_pixel_size(viewer, layer, 0.4)
    assert told[layer.name] == [{**metadata, "pixel_size_um": pytest.approx(0.4)}], told
    assert [m["pixel_size_um"] for m in told[made.name]] == [pytest.approx(0.4)], told
    assert [m["pixel_size_um"] for m in told[kept.name]] == [pytest.approx(0.1)], told


@pytest.mark.gui
@pytest.mark.parametrize("widget", [False, True], ids=["no widget", "widget open"])
def test_a_unitless_grid_layer_given_a_pixel_size_is_told_once(make_napari_viewer, widget):
    """A layer recording a unit-less grid (a store's, or one a widget made from a layer
    without a pixel size) given a pixel size while a widget was open got three
    ``metadata`` events: its records follow each of its scale, translate and units sets
    (keep_own_records), and the first two rewrote the grid at a half-set place before the
    third dropped it. Its records are written once now, as they end; a layer made from
    it too."""
    from napari_srmat.widgets.calibration_widget import set_layer_pixel_size
    from napari_srmat.widgets.layers import source_metadata

    viewer = make_napari_viewer()
    grid = {"scale": [0.5, 0.5], "origin": [2.0, -1.0]}
    layer = viewer.add_image(np.zeros((20, 20), np.uint8), name="scan", scale=(0.5, 0.5),
                             translate=(2.0, -1.0),
                             metadata={"pixel_size_um": None, "unitless_grid": grid})
    made = viewer.add_labels(np.zeros((20, 20), np.uint8), name="made", scale=(0.5, 0.5),
                             translate=(2.0, -1.0), metadata={
                                 "pixel_size_um": None, "unitless_grid": dict(grid),
                                 **source_metadata(layer)})
    if widget:
        CalibrationWidget(viewer)
    told: dict = {lay.name: [] for lay in (layer, made)}
    for lay in (layer, made):
        lay.events.metadata.connect(
            lambda event, lay=lay: told[lay.name].append(dict(lay.metadata)))
    set_layer_pixel_size(viewer, layer, 0.8)
    assert len(told["scan"]) == 1 and len(told["made"]) == 1, told
    for lay in (layer, made):
        assert told[lay.name][0] == dict(lay.metadata)
        assert "unitless_grid" not in lay.metadata
        assert lay.metadata["pixel_size_um"] == pytest.approx(0.8)


def test_calibration_buttons_wait_for_a_layer_to_calibrate(make_napari_viewer, qtbot):
    """Apply and From line were enabled with no layer to calibrate (told only on the
    click: 'select the image layer to calibrate'). They now follow the Run buttons' one
    rule (widgets._qt.RunNeedsLayersMixin): disabled, the tooltip naming the layer,
    until an image or labels layer is there, and disabled again when it goes."""
    viewer = make_napari_viewer()
    w = CalibrationWidget(viewer)
    qtbot.addWidget(w)
    buttons = (w.apply_btn, w.line_btn)
    assert not any(b.isEnabled() for b in buttons)
    needs = "an image or labels layer (to calibrate)"
    assert all(b.toolTip().startswith(f"needs {needs}: add one") for b in buttons)
    img = viewer.add_image(np.zeros((20, 20), np.float32), name="a")
    assert all(b.isEnabled() for b in buttons)
    assert not any(b.toolTip().startswith("needs ") for b in buttons)
    viewer.layers.remove(img)
    assert not any(b.isEnabled() for b in buttons)
    with pytest.raises(WidgetInputError, match=rf"select {re.escape(needs)}"):
        w.apply(1.0)  # a script is told in one line
    viewer.add_labels(np.zeros((20, 20), np.uint8), name="mask")
    assert all(b.isEnabled() for b in buttons)
