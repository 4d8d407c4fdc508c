"""Grain-size widget tabs as a metallurgist uses them: the Report tab reports the Simple
tab's measurement, and Run buttons wait for the layer they need."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
from napari_srmat.widgets.heyn_widget import GrainSizeWidget  # noqa: E402
from napari_srmat.widgets.report_panel import (  # noqa: E402
    SIMPLE_REPORT_TITLE,
    _map_at_shape,
    simple_report_statistics,
)

pytestmark = pytest.mark.gui


def test_report_tab_reports_the_simple_tab_measurement(make_napari_viewer, qtbot, tmp_path):
    """Simple tab then Report tab: the Report tab offered only the Specimen and Boundary
    mask tabs, so the Simple tab's ℓ̄ and G could not be filed ("measure the specimen
    first"). It now reports them through report_from_heyn, ℓ̄ and its interval the
    Simple tab's (model and pixel terms included), the picture in the micrograph's pixels."""
    from html import escape

    from napari_srmat.report import format_value
    from napari_srmat.synth import generate_microstructure

    viewer = make_napari_viewer()
    ms = generate_microstructure((128, 128), mean_grain_size_px=32, seed=5)
    layer = viewer.add_image(ms.image, name="micrograph", rgb=True,
                             metadata={"pixel_size_um": 0.5})
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    panel = w.simple
    panel.image_combo.value = layer
    panel.run()
    qtbot.waitUntil(lambda: panel.result is not None, timeout=120_000)
    qtbot.waitUntil(panel.run_btn.isEnabled, timeout=10_000)
    res = panel.result
    assert res.mean_intercept_um is not None
    w.report.source.setCurrentText("Simple")
    assert w.report.source.currentText() == "Simple"
    w.report.micrograph.value = layer
    w.report.export_report(tmp_path / "simple.html")
    qtbot.waitUntil(lambda: w.report.last_path is not None, timeout=60_000)
    html = (tmp_path / "simple.html").read_text(encoding="utf-8")
    assert escape(SIMPLE_REPORT_TITLE) in html
    assert format_value(res.mean_intercept_um) in html
    assert format_value(list(res.mean_intercept_ci95_um)) in html
    assert "<img" in html and "micrograph" in html  # the picture and the layer measured
    stats, rows = simple_report_statistics(res)
    s = res.inference_scale
    assert stats["total_length_px"] == pytest.approx(res.heyn.total_length_px / s)
    assert sum(r[1] for r in rows) == pytest.approx(stats["total_length_px"])
    assert sum(r[2] for r in rows) == pytest.approx(res.heyn.intersection_count)


def test_simple_report_needs_a_simple_measurement(make_napari_viewer, qtbot, tmp_path):
    from napari_srmat.widgets.layers import WidgetInputError

    w = GrainSizeWidget(make_napari_viewer())
    qtbot.addWidget(w)
    w.report.source.setCurrentText("Simple")
    with pytest.raises(WidgetInputError, match=r"measure the grain size first \(Simple tab\)"):
        w.report.export_report(tmp_path / "r.html")


@pytest.mark.parametrize("shape", [(10, 13), (40, 52), (160, 208)])
def test_report_picture_map_keeps_every_line(shape):
    """The counted map drawn at the micrograph's size: a 1 px line is kept when the map
    shrinks (max over blocks), and a grown map is the nearest pixel's."""
    m = np.zeros((40, 52), bool)
    m[17, :] = True
    m[:, 33] = True
    out = _map_at_shape(m, shape)
    assert out.shape == shape
    assert out.any(axis=1).sum() >= 1 and out.all(axis=1).any()  # the row line
    assert out.all(axis=0).any()  # the column line
