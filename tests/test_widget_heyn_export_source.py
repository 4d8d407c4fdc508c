"""A drawn-lines measurement's export names the Shapes layer and no unused settings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_srmat.widgets.export import export_json
from napari_srmat.widgets.heyn_widget import GrainSizeWidget

pytestmark = pytest.mark.gui


@pytest.mark.parametrize(
    ("pattern", "n_lines", "seed", "shapes"),
    [("segments", None, None, "my lines"), ("grid", 7, None, None), ("random", 7, 11, None)],
)
def test_export_source_records_the_settings_the_pattern_used(
    make_napari_viewer, qtbot, tmp_path, pattern, n_lines, seed, shapes
):
    """Was (F2): the JSON of a measurement on lines drawn in a Shapes layer recorded
    ``n_lines`` 50 and ``seed`` 1234 (greyed in the form, not used) and not which Shapes
    layer was measured. Now its ``source`` names the layer (``shapes_layer``) and gives
    the settings its pattern does not use null (the grid's seed too)."""
    viewer = make_napari_viewer()
    mask = np.zeros((100, 100), np.uint8)
    mask[:, 10::20] = 1
    viewer.add_labels(mask, name="gb")
    drawn = [np.array([[50.0, 0.0], [50.0, 99.0]]), np.array([[20.0, 0.0], [20.0, 99.0]])]
    viewer.add_shapes(drawn, shape_type=["line", "line"], name="my lines")
    w = GrainSizeWidget(viewer)
    w.layer_combo.value = viewer.layers["gb"]
    w.pattern.setCurrentText(pattern)
    w.shapes_combo.value = viewer.layers["my lines"]
    w.n_lines.setValue(7)
    w.seed.setValue(11)
    w.run()
    qtbot.waitUntil(lambda: w.measurement is not None, timeout=20000)
    data = json.loads(export_json(tmp_path / "m.json", w.measurement).read_text("utf-8"))
    src = data["source"]
    assert (src["pattern"], src["n_lines"], src["seed"]) == (pattern, n_lines, seed)
    assert src["shapes_layer"] == shapes and src["layer"] == "gb"


def test_report_provenance_is_the_measured_source(make_napari_viewer, qtbot):
    """Was (F2): the report's provenance copied every setting of the form ("test lines
    n_lines" 50, "test lines seed" 1234) for lines drawn in a Shapes layer, and not the
    layer. Now it gives the measurement's source: those null, the Shapes layer named."""
    viewer = make_napari_viewer()
    mask = np.zeros((100, 100), np.uint8)
    mask[:, 10::20] = 1
    viewer.add_labels(mask, name="gb")
    viewer.add_shapes([np.array([[50.0, 0.0], [50.0, 99.0]])], shape_type=["line"], name="my")
    w = GrainSizeWidget(viewer)
    w.layer_combo.value = viewer.layers["gb"]
    w.pattern.setCurrentText("segments")
    w.shapes_combo.value = viewer.layers["my"]
    w.run()
    qtbot.waitUntil(lambda: w.measurement is not None, timeout=20000)
    from napari_srmat.grainsize import MASK_TAB

    w.report.source.setCurrentText(MASK_TAB)
    report = w.report._builder()()
    prov = report.provenance
    assert prov["test lines shapes_layer"] == "my"
    assert prov.get("test lines n_lines") is None and prov.get("test lines seed") is None


@pytest.mark.parametrize(("pattern", "n_lines", "seed"),
                         [("circles", None, None), ("grid", 7, None), ("random", 7, 11)])
def test_add_heyn_measurement_source_follows_the_form_rule(make_napari_viewer, pattern,
                                                           n_lines, seed):
    """W1: ``add_heyn_measurement(pattern="circles")`` (a script, a notebook) recorded
    ``n_lines`` 7 and ``seed`` 11 in its ``source``, settings the fixed E112 circles do
    not use, while the widget records them null. Now both follow one rule
    (:func:`~napari_srmat.widgets.layers.measured_source`)."""
    from napari_srmat.widgets.layers import add_heyn_measurement

    viewer = make_napari_viewer()
    mask = np.zeros((100, 100), np.uint8)
    mask[:, 10::20] = 1
    gb = viewer.add_labels(mask, name="gb")
    m = add_heyn_measurement(viewer, gb, pattern=pattern, n_lines=7, seed=11)
    src = m.source
    assert (src["pattern"], src["n_lines"], src["seed"]) == (pattern, n_lines, seed)
    assert src["shapes_layer"] is None


def test_add_heyn_measurement_on_drawn_lines_names_the_shapes_layer(make_napari_viewer):
    """The drawn lines' measurement from a script names its Shapes layer, as the widget's
    does, and records no line count or seed (the old name ``"shapes"`` too)."""
    from napari_srmat.widgets.layers import add_heyn_measurement

    viewer = make_napari_viewer()
    mask = np.zeros((100, 100), np.uint8)
    mask[:, 10::20] = 1
    gb = viewer.add_labels(mask, name="gb")
    lines = viewer.add_shapes([np.array([[50.0, 0.0], [50.0, 99.0]])], shape_type=["line"],
                              name="my lines")
    src = add_heyn_measurement(viewer, gb, pattern="shapes", shapes_layer=lines).source
    assert (src["pattern"], src["n_lines"], src["seed"]) == ("segments", None, None)
    assert src["shapes_layer"] == "my lines"
