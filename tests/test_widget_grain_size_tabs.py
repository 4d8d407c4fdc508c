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

    from _helpers import simple_tab_on_micrograph

    from napari_srmat.report import format_value

    _ms, layer, w, panel = simple_tab_on_micrograph(make_napari_viewer(), qtbot)
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


def test_run_buttons_wait_for_the_layer_they_need(make_napari_viewer, qtbot):
    """Every Run button was enabled with no layer to run on (told only on the click).
    Each is now disabled while its layer choice is empty, its tooltip naming the layer,
    enabled when one is added and disabled again when it is removed; a job's end, which
    enabled Run, leaves it disabled when its layer was removed meanwhile."""
    from napari_srmat.widgets.boundaries_widget import BoundariesWidget
    from napari_srmat.widgets.sr_widget import SuperResolutionWidget

    viewer = make_napari_viewer()
    w = GrainSizeWidget(viewer)
    b = BoundariesWidget(viewer)
    sr = SuperResolutionWidget(viewer)
    for widget in (w, b, sr):
        qtbot.addWidget(widget)
    gated = [w.simple.run_btn, w.run_btn, w.new_corrections_btn, b.run_btn, sr.run_btn,
             sr.plan_btn]
    assert not any(btn.isEnabled() for btn in gated)
    assert all(btn.toolTip().startswith("needs ") for btn in gated)
    assert "a micrograph (an image layer)" in w.simple.run_btn.toolTip()
    img = viewer.add_image(np.random.default_rng(0).random((64, 64), np.float32), name="m")
    assert all(btn.isEnabled() for btn in gated)
    assert sr.plan_btn.toolTip().startswith("propose rectangles to rescan")
    assert not w.simple.run_btn.toolTip()  # none of its own
    viewer.layers.remove(img)
    assert not any(btn.isEnabled() for btn in gated)
    # a job's end: Run stays disabled when the layer measured went away meanwhile
    rng = np.random.default_rng(1)
    gb = viewer.add_labels((rng.random((96, 96)) < 0.08).astype(np.uint8), name="gb")
    assert w.run_btn.isEnabled() and not w.simple.run_btn.isEnabled()  # labels: no micrograph
    w.layer_combo.value = gb
    w.run()
    viewer.layers.remove(gb)  # before the job's end reaches the GUI thread
    assert not w.run_btn.isEnabled()
    qtbot.waitUntil(lambda: not w.cancel_btn.isEnabled(), timeout=30_000)
    assert not w.run_btn.isEnabled() and w.run_btn.toolTip().startswith("needs ")
    viewer.add_labels(np.zeros((8, 8), np.uint8), name="again")
    assert w.run_btn.isEnabled()


def test_report_tab_opened_after_the_simple_tab_reports_it(make_napari_viewer, qtbot,
                                                           tmp_path):
    """Measured in the Simple tab, then the Report tab opened: its measurement stayed
    'Specimen (E112)', and Export refused ('measure the specimen first'). The tab now
    offers the one measured tab; a measured choice made by hand is kept."""
    from _helpers import simple_tab_on_micrograph

    _ms, _layer, w, panel = simple_tab_on_micrograph(make_napari_viewer(), qtbot)
    assert w.report.source.currentText() == "Specimen (E112)"
    w.tabs.setCurrentWidget(w.report)  # nothing measured: the choice stays
    assert w.report.source.currentText() == "Specimen (E112)"
    w.tabs.setCurrentIndex(0)
    panel.run()
    qtbot.waitUntil(lambda: panel.result is not None, timeout=120_000)
    w.tabs.setCurrentWidget(w.report)
    assert w.report.source.currentText() == "Simple"
    w.report.export_report(tmp_path / "r.html")
    qtbot.waitUntil(lambda: w.report.last_path is not None, timeout=60_000)


def test_a_button_the_job_leaves_on_is_disabled_when_its_layer_goes_during_a_job(
        make_napari_viewer, qtbot):
    """The mask tab's New corrections layer is not the job's button (a job leaves it
    enabled). Its boundary layer removed while a Heyn measurement ran, it stayed enabled
    with no layer to correct (the gate waited for the job's end); it is now disabled at
    once, its tooltip naming the layer, and enabled again by the job's end where one
    was added meanwhile."""
    viewer = make_napari_viewer()
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    rng = np.random.default_rng(1)
    gb = viewer.add_labels((rng.random((96, 96)) < 0.08).astype(np.uint8), name="gb")
    w.run()
    assert w.new_corrections_btn.isEnabled()  # not the job's: it stays on meanwhile
    viewer.layers.remove(gb)  # before the job's end reaches the GUI thread
    assert not w.new_corrections_btn.isEnabled()
    assert w.new_corrections_btn.toolTip().startswith("needs a boundary layer")
    viewer.add_labels(np.zeros((8, 8), np.uint8), name="again")
    qtbot.waitUntil(lambda: not w.cancel_btn.isEnabled(), timeout=30_000)  # job's end
    assert w.run_btn.isEnabled() and w.new_corrections_btn.isEnabled()
    assert w.new_corrections_btn.toolTip() == ""


def test_simple_report_is_the_cli_s_and_draws_the_measured_micrograph(make_napari_viewer,
                                                                      qtbot, tmp_path):
    """The built-in 512² sample at 0.5 µm/px, the widget opened before the image was
    added: the Simple tab's report left out G's interval ([8.2, 9.9], which srmat
    grain-size prints), gave a boundary mask's one-field note (69-89 %) where the CLI
    gives the micrograph's (88 %), and drew its picture over the Report tab's
    "Micrograph" field, left at "(none)". The report now has the CLI's numbers and note,
    and the measured micrograph under the map; a micrograph chosen by hand is kept."""
    from html import escape

    from test_report import SAMPLE_PIXEL_SIZE_UM, cli_note_head, sample_cli_measurement

    from napari_srmat.cli.grainsize import format_g
    from napari_srmat.report import G_CI95_LABEL, as_grain_size_number, format_value

    image, row, err = sample_cli_measurement(tmp_path)
    viewer = make_napari_viewer()
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    layer = viewer.add_image(image, name="sample", rgb=True,
                             metadata={"pixel_size_um": SAMPLE_PIXEL_SIZE_UM})
    other = viewer.add_image(255 - image, name="other", rgb=True)
    assert w.report.micrograph.value is None  # opened before the images: "(none)"
    panel = w.simple
    panel.image_combo.value = layer
    panel.run()
    qtbot.waitUntil(lambda: panel.result is not None, timeout=120_000)
    qtbot.waitUntil(panel.run_btn.isEnabled, timeout=10_000)
    d = panel.result.to_dict()
    for key in ("mean_intercept_um", "mean_intercept_ci95_um", "astm_g", "astm_g_ci95"):
        assert d[key] == pytest.approx(row[key]), key  # the same measurement as the CLI's
    w.tabs.setCurrentWidget(w.report)
    assert w.report.source.currentText() == "Simple"
    assert w.report.micrograph.value is layer  # the field shows what is drawn
    rep = w.report._builder()()
    summary = dict(rep.summary)
    g, ci = summary["ASTM grain size G"], summary[G_CI95_LABEL]
    assert f"{format_value(g)} {format_value(ci)}" == format_g(row["astm_g"],
                                                                 row["astm_g_ci95"])
    assert rep.warnings[0].startswith(cli_note_head(err) + "; E112 asks"), rep.warnings[0]
    picture = rep.figures[0][1].axes[0].images[0].get_array()
    assert picture.shape == image.shape and np.array_equal(picture, image)
    w.report.export_report(tmp_path / "simple.html")
    qtbot.waitUntil(lambda: w.report.last_path is not None, timeout=60_000)
    html = (tmp_path / "simple.html").read_text(encoding="utf-8")
    ci_text = format_value(as_grain_size_number(row["astm_g_ci95"]))
    assert f"<td>{escape(G_CI95_LABEL)}</td><td>{ci_text}</td>" in html
    assert escape(cli_note_head(err)) in html
    # another micrograph chosen by hand is the one drawn
    combo = w.report.micrograph.native
    combo.setCurrentText(other.name)
    combo.activated.emit(combo.currentIndex())
    picture = w.report._builder()().figures[0][1].axes[0].images[0].get_array()
    assert np.array_equal(picture, 255 - image)
    assert w.report.micrograph.value is other


def test_every_report_source_gives_g_s_interval_of_its_l_interval(make_napari_viewer, qtbot):
    """G's 95 % interval in the report of each tab: the Boundary mask tab's statistics
    keep none, so its report (which now has the row) said '–' beside ℓ̄'s interval; it
    is now srmat heyn's for the same mask, G of ℓ̄'s interval's ends (swapped: G falls as
    ℓ̄ grows), as the Specimen (E112) tab's summary gives it."""
    from napari_srmat.metrics.heyn import astm_grain_size_number
    from napari_srmat.report import G_CI95_LABEL, LENGTH_UNIT
    from napari_srmat.synth import generate_microstructure

    viewer = make_napari_viewer()
    ms = generate_microstructure((160, 160), mean_grain_size_px=16, seed=3)
    gb = viewer.add_labels(ms.boundaries.astype(np.uint8), name="gb",
                           metadata={"pixel_size_um": 0.5})
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    w.layer_combo.value = gb
    w.run()
    qtbot.waitUntil(lambda: w.measurement is not None, timeout=60_000)
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=10_000)
    w.report.source.setCurrentText("Boundary mask")
    summary = dict(w.report._builder()().summary)
    lo, hi = summary[f"ℓ̄, 95 % confidence interval ({LENGTH_UNIT})"]
    assert summary[G_CI95_LABEL] == pytest.approx(
        [astm_grain_size_number(hi / 1000), astm_grain_size_number(lo / 1000)])
    # a specimen interval needs two fields
    gb2 = viewer.add_labels(ms.boundaries[::-1].astype(np.uint8), name="gb2",
                            metadata={"pixel_size_um": 0.5})
    w.specimen.select_fields([gb, gb2])
    w.specimen.run()
    qtbot.waitUntil(lambda: w.specimen.result is not None, timeout=60_000)
    qtbot.waitUntil(w.specimen.run_btn.isEnabled, timeout=10_000)
    w.report.source.setCurrentText("Specimen (E112)")
    summary = dict(w.report._builder()().summary)
    expected = w.specimen.result.report["summary"]["astm_g_ci95"]
    assert expected is not None and summary[G_CI95_LABEL] == pytest.approx(expected)


def test_report_sources_are_the_widget_tab_labels(make_napari_viewer):
    """The Report tab's sources are the grain-size widget's tab labels, each written once
    (grainsize's SPECIMEN_TAB, MASK_TAB, SIMPLE_TAB), so renaming a tab renames its source."""
    from napari_srmat.grainsize import MASK_TAB, SIMPLE_TAB, SPECIMEN_TAB
    from napari_srmat.widgets.report_panel import REPORT_SOURCES

    w = GrainSizeWidget(make_napari_viewer())
    labels = [w.tabs.tabText(i) for i in range(w.tabs.count())]
    assert REPORT_SOURCES == (SPECIMEN_TAB, MASK_TAB, SIMPLE_TAB)
    assert set(REPORT_SOURCES) <= set(labels), labels
    assert [w.report.source.itemText(i) for i in range(w.report.source.count())] == list(
        REPORT_SOURCES)


def _tiny_user_checkpoint(path):
    """A user's own boundary weights: an untrained tiny UAED saved as a checkpoint."""
    import torch

    from napari_srmat.checkpoint import save_checkpoint
    from napari_srmat.edges.model import UAEDNet, default_arch_config

    torch.manual_seed(0)
    save_checkpoint(path, UAEDNet("tiny").state_dict(),
                    {**default_arch_config("tiny"), "threshold": 0.5})
    return path


def _simple_tab_measured_with(make_napari_viewer, qtbot, monkeypatch, model):
    """The Simple tab shown a measurement whose job loaded ``model``; the model is not
    run: its map is the microstructure's own boundaries, measured as a mask. Returns
    (grain-size widget, its job's log lines)."""
    import napari_srmat.edges as edges
    import napari_srmat.grainsize as grainsize
    from napari_srmat.jobs import Log, run_job
    from napari_srmat.synth import generate_microstructure
    from napari_srmat.widgets.heyn_widget import simple_grain_size_job

    ms = generate_microstructure((128, 128), mean_grain_size_px=32, seed=5)
    measure = grainsize.measure_grain_size_job
    monkeypatch.setattr(edges, "load_boundary_model", lambda: model)
    monkeypatch.setattr(grainsize, "measure_grain_size_job", lambda image, *, model, **kw:
                        measure(ms.boundaries, mask=True, **kw))
    logs: list[str] = []
    out = run_job(simple_grain_size_job(ms.image, pixel_size_um=0.5), quiet=True,
                  on_event=lambda e: logs.append(e.message) if isinstance(e, Log) else None)
    viewer = make_napari_viewer()
    layer = viewer.add_image(ms.image, name="micrograph", rgb=True)
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    w.simple.measured_layer, w.simple.measured_shape = layer, ms.image.shape[:2]
    w.simple._on_result(out)
    assert w.simple.result.mean_intercept_px is not None
    w.report.source.setCurrentText("Simple")
    return w, logs


def test_simple_report_names_the_boundary_model_its_job_loaded(make_napari_viewer, qtbot,
                                                               monkeypatch, tmp_path):
    """The Simple tab's report wrote "boundary model: shipped default", a label of the
    widget (heyn_widget.SIMPLE_BOUNDARY_MODEL), whatever weights load_boundary_model()
    loaded: a user's own weights were filed as the shipped ones. The job now records what
    it loaded (grainsize.measured_settings: the checkpoint folder and the weights'
    digest; "shipped default" only for the shipped weights' folder), logs it, and the
    report writes that record, with the thinning the measurement did."""
    from napari_srmat.edges.infer import load_boundary_model
    from napari_srmat.grainsize import (
        MEASURED_SETTING_KEYS,
        MEASURED_SKELETONIZE,
        SHIPPED_BOUNDARY_MODEL,
        measured_settings,
    )

    mine = load_boundary_model(_tiny_user_checkpoint(tmp_path / "my weights"), device="cpu")
    w, logs = _simple_tab_measured_with(make_napari_viewer, qtbot, monkeypatch, mine)
    expected = dict(zip(MEASURED_SETTING_KEYS, (mine.path, mine.weights_digest(),
                                                MEASURED_SKELETONIZE), strict=True))
    assert w.simple.job_settings == expected
    assert f"boundary model: {mine.path}" in logs
    assert "my weights" in mine.path
    provenance = w.report._builder()().provenance
    assert {k: provenance[k] for k in MEASURED_SETTING_KEYS} == expected
    assert SHIPPED_BOUNDARY_MODEL not in provenance.values()
    # the shipped weights, loaded as the tab loads them, are named so
    assert measured_settings(load_boundary_model(device="cpu"))["boundary model"] == (
        SHIPPED_BOUNDARY_MODEL)


def test_simple_report_says_settings_not_recorded(make_napari_viewer, qtbot, monkeypatch,
                                                  tmp_path):
    """A Simple-tab result without its job's record of settings (a result set by a
    script, job_settings None) had the boundary model and thinning rows silently left
    out of the report (``**(job_settings or {})``). They are now written as "not
    recorded"."""
    from napari_srmat.edges.infer import load_boundary_model
    from napari_srmat.grainsize import MEASURED_SETTING_KEYS
    from napari_srmat.widgets.report_panel import NOT_RECORDED

    mine = load_boundary_model(_tiny_user_checkpoint(tmp_path / "ck"), device="cpu")
    w, _ = _simple_tab_measured_with(make_napari_viewer, qtbot, monkeypatch, mine)
    w.simple.job_settings = None
    provenance = w.report._builder()().provenance
    assert {k: provenance.get(k) for k in MEASURED_SETTING_KEYS} == dict.fromkeys(
        MEASURED_SETTING_KEYS, NOT_RECORDED)
    # a record without some of them (one made before the weights' digest was recorded,
    # as the tab's job recorded it until 2026-12-06): those rows say so too (the digest
    # row was left out: ``job_settings or fromkeys(...)`` took the partial record whole)
    older = {"boundary model": "shipped default", "skeletonize": True}
    w.simple.job_settings = older
    provenance = w.report._builder()().provenance
    assert {k: provenance.get(k) for k in MEASURED_SETTING_KEYS} == {
        **dict.fromkeys(MEASURED_SETTING_KEYS, NOT_RECORDED), **older}



def test_a_size_typed_for_an_sr_layer_is_told_as_that_layer_s(make_napari_viewer, qtbot):
    """An x4 SR layer of an uncalibrated LR: the Simple tab's field said "unknown: type
    it", and the microscope's (the LR's) size typed there was taken as the SR layer's
    without a word (ℓ̄ 4x too large: 38.4 µm where the LR gave 10.5). Now the field says
    the size is the SR layer's, the LR's / 4, and the result's warning line says which
    size was typed and what to type for the LR's."""
    from napari_srmat.synth import generate_microstructure
    from napari_srmat.widgets.layers import add_super_resolution_result

    viewer = make_napari_viewer()
    ms = generate_microstructure((128, 128), mean_grain_size_px=32, seed=5)
    lr = viewer.add_image(ms.image[::4, ::4], name="lr", rgb=True)
    sr = add_super_resolution_result(viewer, lr, ms.image, 4)
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    panel = w.simple
    panel.image_combo.value = sr
    assert panel.pixel_size.placeholderText() == (
        "µm/px of this layer: 'lr''s / 4 (unknown: type it)")
    panel.pixel_size.setText("1")
    panel.run()
    qtbot.waitUntil(lambda: panel.result is not None, timeout=120_000)
    qtbot.waitUntil(panel.run_btn.isEnabled, timeout=10_000)
    assert panel.result.pixel_size_um == 1.0  # used, as typed
    assert ("the 1 µm/px typed is layer 'lr SR x4''s own pixel size, 4x finer than 'lr' "
            "(at 4 µm/px); if 1 is 'lr''s, type 0.25 here") in panel.warning_label.text()
