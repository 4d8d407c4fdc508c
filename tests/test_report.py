"""Grain-size reports (HTML and PDF): content, safety of the write, the widget's Report tab."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from napari_srmat.metrics.standards import measure_specimen
from napari_srmat.outputs import OutputExistsError
from napari_srmat.report import (
    SampleInfo,
    is_our_report,
    overlay_figure,
    report_from_specimen,
    report_html,
    write_report,
)
from napari_srmat.synth import generate_microstructure


@pytest.fixture(scope="module")
def specimen():
    ms = generate_microstructure((160, 160), mean_grain_size_px=16, seed=2)
    spec = measure_specimen([ms.boundaries, ms.boundaries[::-1]], pixel_size_um=0.5,
                            n_lines=12, names=["A", "B"])
    return ms, spec


def test_html_report_has_what_a_lab_files(specimen, tmp_path):
    ms, spec = specimen
    sample = SampleInfo(specimen_id="HT-42", etchant="Nital 2 %", operator="A. Smith",
                        rolling_direction="horizontal")
    rep = report_from_specimen(spec, sample=sample, image=ms.image, boundaries=ms.boundaries,
                               provenance={"model": "uaed_default", "threshold": 0.55},
                               edits=["painted 2 strokes"], audit={"accepted": 3})
    path = write_report(rep, tmp_path / "r.html")
    text = path.read_text()
    for expected in ("HT-42", "Nital 2 %", "A. Smith", "uaed_default", "painted 2 strokes",
                     "ASTM E112", "napari-srmat 0.", "accepted", "pixel size (µm/px)"):
        assert expected in text
    g = spec["summary"]["astm_g"]
    assert f"<td>{g:.1f}</td>" in text  # E112: G to the nearest 0.1
    lo, hi = spec["summary"]["astm_g_ci95"]
    assert f"[{lo:.1f}, {hi:.1f}]" in text
    # one row per field, the overlay (JPEG) and the histograms (PNG) embedded
    assert re.search(r"<td>A</td>", text) and re.search(r"<td>B</td>", text)
    assert text.count("data:image/jpeg;base64,") == 1
    assert text.count("data:image/png;base64,") == 1
    assert "<script" not in text
    assert is_our_report(path)


def test_sample_text_is_escaped(specimen):
    _, spec = specimen
    text = report_html(report_from_specimen(spec, sample=SampleInfo(notes="<b>x</b> & y")))
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in text and "<b>x</b>" not in text


def test_pdf_report_and_overwrite_rules(specimen, tmp_path):
    ms, spec = specimen
    rep = report_from_specimen(spec, image=ms.image, boundaries=ms.boundaries)
    path = write_report(rep, tmp_path / "r.pdf")
    data = path.read_bytes()
    assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF")
    # a text page, the overlay and the histograms
    assert len(re.findall(rb"/Type\s*/Page(?!s)", data)) == 3
    with pytest.raises(OutputExistsError, match="exists"):
        write_report(rep, path)
    write_report(rep, path, overwrite=True)  # our own report may be replaced
    foreign = tmp_path / "notes.html"
    foreign.write_text("my notes")
    with pytest.raises(OutputExistsError, match="not written by napari-srmat"):
        write_report(rep, foreign, overwrite=True)
    assert foreign.read_text() == "my notes"
    with pytest.raises(ValueError, match="html or .pdf"):
        write_report(rep, tmp_path / "r.docx")


def test_overlay_scale_bar_is_a_round_length():
    fig = overlay_figure(np.zeros((100, 300)), pixel_size_um=0.7)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["20 µm"]  # 300 px x 0.7 µm = 210 µm wide: a fifth is 42 -> 20
    with pytest.raises(ValueError, match="image or a boundary map"):
        overlay_figure(None)


@pytest.mark.gui
def test_report_tab_writes_both_measurements(make_napari_viewer, qtbot, tmp_path):
    pytest.importorskip("napari")
    from napari_srmat.widgets._common import WidgetInputError
    from napari_srmat.widgets.heyn_widget import GrainSizeWidget

    viewer = make_napari_viewer()
    ms = generate_microstructure((160, 160), mean_grain_size_px=16, seed=3)
    viewer.add_image(ms.image, name="micrograph", rgb=True)
    gb = viewer.add_labels(ms.boundaries.astype(np.uint8), name="gb",
                           metadata={"pixel_size_um": 0.5, "threshold": 0.6,
                                     "edits": ["erased 1 false boundary"]})
    w = GrainSizeWidget(viewer)
    panel = w.report
    with pytest.raises(WidgetInputError, match="measure the specimen first"):
        panel.export_report(tmp_path / "x.html")
    # specimen measurement -> HTML report
    w.specimen.select_fields([gb])
    w.specimen.run()
    qtbot.waitUntil(lambda: w.specimen.result is not None, timeout=60000)
    panel.micrograph.value = "micrograph"
    panel.sample_edits["specimen_id"].setText("S-7")
    panel.export_report(tmp_path / "spec.html")
    qtbot.waitUntil(lambda: panel.last_path is not None, timeout=60000)
    # the written path comes with the job's result; the job is over once its end is
    # processed (the button back): only then does the panel take another export
    qtbot.waitUntil(lambda: panel.run_btn.isEnabled(), timeout=10000)
    text = panel.last_path.read_text()
    assert "S-7" in text and "erased 1 false boundary" in text
    assert f"<td>{w.specimen.result.report['summary']['astm_g']:.1f}</td>" in text
    assert "boundary layer threshold" in text
    # mask-tab measurement -> PDF report
    panel.source.setCurrentText("Boundary mask")
    with pytest.raises(WidgetInputError, match="measure first"):
        panel.export_report(tmp_path / "mask.pdf")
    w.layer_combo.value = gb
    w.run()
    qtbot.waitUntil(lambda: w.measurement is not None, timeout=60000)
    panel.export_report(tmp_path / "mask.pdf")
    qtbot.waitUntil(lambda: panel.last_path is not None and panel.last_path.suffix == ".pdf",
                    timeout=60000)
    assert panel.last_path.read_bytes().startswith(b"%PDF")
    assert is_our_report(panel.last_path)


def test_iso643_index_is_not_labelled_astm():
    """Under the ISO 643 rule the summary's ``astm_g`` holds the ISO 643 index
    (m = 8 · 2^G, 0.046 below the E112 G of the same N_A); the report and the widget's
    summary table called it "ASTM grain size G"."""
    from napari_srmat.metrics.planimetric import iso643_g_from_grains_per_mm2
    from napari_srmat.report import specimen_summary_rows

    ms = generate_microstructure((160, 160), mean_grain_size_px=16, seed=2)
    kw = dict(pixel_size_um=0.5, method="planimetric")
    iso = measure_specimen([ms.boundaries, ms.boundaries[::-1]], rule="iso643", **kw)
    s = iso["summary"]
    assert s["astm_g"] == pytest.approx(iso643_g_from_grains_per_mm2(s["grains_per_mm2"]))
    labels = dict((v, k) for k, v in specimen_summary_rows(s) if isinstance(v, float))
    label = labels[s["astm_g"]]
    assert "ISO 643" in label and "ASTM" not in label
    text = report_html(report_from_specimen(iso, histograms=False))
    assert "ASTM grain size G" not in text and "ISO 643 grain size index G" in text
    e112 = measure_specimen([ms.boundaries, ms.boundaries[::-1]], rule="e112", **kw)
    assert ("ASTM grain size G", e112["summary"]["astm_g"]) in specimen_summary_rows(
        e112["summary"])


def test_a_summary_saved_with_the_old_interval_name_reports_its_interval(specimen):
    """A specimen JSON saved before ℓ̄'s interval was renamed ``mean_intercept_ci95_um``
    (it was ``mean_intercept_um_ci95``) gives the same report rows, with a
    DeprecationWarning; a fresh one has the row under the new name, without one."""
    import json
    import warnings

    from napari_srmat.report import specimen_summary_rows

    _, spec = specimen
    label = "ℓ̄, 95 % confidence interval (µm)"
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        rows = specimen_summary_rows(spec["summary"])
    interval = dict(rows)[label]
    assert interval == spec["summary"]["mean_intercept_ci95_um"] and len(interval) == 2
    saved = json.loads(json.dumps(spec))
    saved["summary"]["mean_intercept_um_ci95"] = saved["summary"].pop("mean_intercept_ci95_um")
    with pytest.warns(DeprecationWarning, match="'mean_intercept_um_ci95' is renamed"):
        assert specimen_summary_rows(saved["summary"]) == rows
    with pytest.warns(DeprecationWarning, match="'mean_intercept_um_ci95' is renamed"):
        text = report_html(report_from_specimen(saved, histograms=False))
    lo, hi = interval
    assert f"[{lo:.4g}, {hi:.4g}]" in text


def _square_grid(period: int, side: int = 200) -> np.ndarray:
    m = np.zeros((side, side), bool)
    m[:, period // 2::period] = True
    m[period // 2::period, :] = True
    return m


def test_the_report_gives_g_to_a_tenth_as_e112_asks():
    """E112 reports the grain size number to the nearest 0.1; the report printed G, its
    interval and each field's G with four significant digits ('G 11.81', '[11.26,
    12.26]', field '12.22'), more precision than the method has and than a lab files.
    The other figures are the API's (ℓ̄, %RA with 4 digits)."""
    from napari_srmat.report import report_from_heyn, specimen_summary_rows

    # five fields of square grains of 8 ... 12 px at 0.5 µm/px (G about 11.8)
    periods = (8, 9, 10, 11, 12)
    spec = measure_specimen([_square_grid(a) for a in periods], pixel_size_um=0.5,
                            n_lines=7, margin=0, names=[f"square {a} px" for a in periods])
    s = spec["summary"]
    text = report_html(report_from_specimen(spec, histograms=False))
    cells = re.findall(r"<td>([^<]*)</td>", text)
    g, (lo, hi) = s["astm_g"], s["astm_g_ci95"]
    assert cells[cells.index("ASTM grain size G") + 1] == f"{g:.1f}"
    assert f"[{lo:.1f}, {hi:.1f}]" in cells
    assert f"{g:.4g}" not in text
    # each field's G to a tenth, the other columns the API's figures
    for f in spec["images"]:
        row = cells[cells.index(f["name"]):][:4]
        assert row[1] == f"{f['astm_g']:.1f}"
        assert row[2] == f"{f['mean_intercept_um']:.4g}"
    assert cells[cells.index("relative accuracy %RA") + 1] == (
        f"{s['relative_accuracy_pct']:.4g}")
    # the summary rows keep the API's numbers (the widget and JSON read them)
    assert ("ASTM grain size G", g) in specimen_summary_rows(s)
    # one Heyn field: G to a tenth too
    text = report_html(report_from_heyn({"astm_g": 9.8472, "mean_intercept_um": 10.6}))
    assert "<td>9.8</td>" in text and "9.847" not in text


def test_a_one_field_heyn_report_says_its_ra_is_over_test_lines_not_fields():
    """A one-micrograph Heyn report printed 'relative accuracy %RA 3.1' under 'ASTM E112
    lineal intercept', without saying that it is the scatter of the test lines of one
    field: E112's %RA (section 15, t(0.975, n-1) over n fields, 10 % acceptable) is over
    at least 5 fields chosen at random over the specimen, and a lab read a 3 % from 50
    lines of one image as E112 precision."""
    from napari_srmat.metrics.standards import MIN_FIELDS
    from napari_srmat.report import report_from_heyn

    rep = report_from_heyn({"astm_g": 9.85, "relative_accuracy_pct": 3.1, "n_lines": 50})
    label = next(k for k, v in rep.summary if v == 3.1)
    assert "50 test lines of one field" in label, label
    assert any(f"at least {MIN_FIELDS} fields" in w and "test lines" in w
               for w in rep.warnings), rep.warnings
    text = report_html(rep)
    assert "50 test lines of one field" in text
    # a specimen's %RA is E112's (over its fields): no such note
    spec = measure_specimen([_square_grid(a) for a in (8, 10)], pixel_size_um=0.5,
                            n_lines=5, margin=0)
    rep = report_from_specimen(spec, histograms=False)
    assert ("relative accuracy %RA", spec["summary"]["relative_accuracy_pct"]) in rep.summary


def test_the_fields_row_says_how_many_fields_the_statistics_use():
    """A field without a valid value (not a boundary map) is left out of the statistics: the
    report said 'fields 5' beside a %RA and an interval made of 4 fields (t(0.975, 3)),
    so a lab recomputing %RA with n = 5 got another number."""
    from scipy import stats as st

    from napari_srmat.report import specimen_summary_rows

    fields = [_square_grid(a) for a in (8, 9, 10, 11)] + [np.ones((200, 200), bool)]
    spec = measure_specimen(fields, pixel_size_um=0.5, n_lines=7, margin=0)
    s = spec["summary"]
    # no boundary map (all boundary): no N_L, no G, left out with a warning (a field
    # without a crossing is N_L = 0, a field value)
    vals = np.array([v for v in s["field_values"] if v is not None])
    assert vals.size == 4 and s["n_fields"] == 5
    half = st.t.ppf(0.975, 3) * vals.std(ddof=1) / math.sqrt(4)
    assert s["relative_accuracy_pct"] == pytest.approx(100 * half / vals.mean())
    # worded as srmat grain-size and the widget word it (specimen_fields_text)
    assert dict(specimen_summary_rows(s))["fields"] == "5 fields (4 in the statistics)"
    text = report_html(report_from_specimen(spec, histograms=False))
    assert "<td>fields</td><td>5 fields (4 in the statistics)</td>" in text
    # all fields valid: the plain count
    spec = measure_specimen(fields[:4], pixel_size_um=0.5, n_lines=7, margin=0)
    assert dict(specimen_summary_rows(spec["summary"]))["fields"] == "4 fields"


#: Pixel size (µm/px) the built-in sample micrograph is measured at, by the CLI and the tabs.
SAMPLE_PIXEL_SIZE_UM = 0.5


def sample_cli_measurement(folder) -> tuple[np.ndarray, dict, str]:
    """The built-in 512² sample micrograph (napari's sample data), saved to ``folder``
    and measured by ``srmat grain-size --json`` at :data:`SAMPLE_PIXEL_SIZE_UM`; returns
    the image, the CLI's JSON row and its stderr (the one-field note)."""
    import contextlib
    import io
    import json

    import tifffile

    from napari_srmat._sample_data import synthetic_micrograph
    from napari_srmat.cli import main

    image = synthetic_micrograph()[0][0]
    path = folder / "sample.tif"
    tifffile.imwrite(path, image)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["grain-size", str(path), "--pixel-size-um", str(SAMPLE_PIXEL_SIZE_UM),
                   "--json"])
    assert rc == 0, err.getvalue()
    return image, json.loads(out.getvalue())["images"][0], err.getvalue()


def cli_note_head(stderr: str) -> str:
    """The CLI's one-field note up to its ``how`` (what the report's note repeats to the
    letter: the figures of the measurement's mode)."""
    line = next(x for x in stderr.splitlines() if "note: one field" in x)
    return line.split("note: ", 1)[1].split("; E112 asks")[0]


def test_a_micrograph_heyn_report_gives_g_interval_and_note_as_the_cli(tmp_path):
    """The report of a micrograph measured with the model (the Simple tab's, through
    report_from_heyn) left out G's 95 % interval that `srmat grain-size` prints
    ("G = 9.3 [8.2, 9.9]" for the built-in sample at 0.5 µm/px), and its one-field note
    was a boundary mask's (69-89 % with 50 random lines) where the CLI gives the
    micrograph's (88 %, 52-62 % with fine grains). Both are now the CLI's, from the
    result's own astm_g_ci95 and mode."""
    from html import escape

    from napari_srmat.cli.grainsize import format_g
    from napari_srmat.report import G_CI95_LABEL, format_value, report_from_heyn

    _image, row, err = sample_cli_measurement(tmp_path)
    assert row["mode"] == "image" and row["astm_g_ci95"] is not None
    rep = report_from_heyn(row)
    summary = dict(rep.summary)
    shown = f"{format_value(summary['ASTM grain size G'])} {format_value(summary[G_CI95_LABEL])}"
    assert shown == format_g(row["astm_g"], row["astm_g_ci95"])
    head = cli_note_head(err)
    assert "micrographs" in head
    assert rep.warnings[0].startswith(head + "; E112 asks"), rep.warnings[0]
    text = report_html(rep)
    assert (f"<td>{escape(G_CI95_LABEL)}</td><td>{format_value(summary[G_CI95_LABEL])}</td>"
            in text)
    # a boundary mask's statistics (no mode: the Boundary mask tab's) keep the mask's note
    mask_note = report_from_heyn({"astm_g": 9.85, "n_lines": 50}).warnings[0]
    assert "synthetic maps" in mask_note and "micrographs" not in mask_note


def test_g_is_written_by_one_function_with_its_placeholder():
    """How G is written is report.format_g (cli.grainsize re-imports it; the widget used
    to import it from the CLI module and test for None itself): the command lines' ``n/a``
    and the widget's ``–`` are its ``missing`` parameter."""
    pytest.importorskip("napari")
    from napari_srmat.cli import grainsize as cli_grainsize
    from napari_srmat.report import format_g
    from napari_srmat.widgets.heyn_widget import g_text

    assert cli_grainsize.format_g is format_g
    assert format_g(None) == "n/a" and g_text(None, None) == "–"
    assert format_g(None, missing="–") == g_text(None, (1.0, 2.0))
    assert format_g(9.2561, (8.21, 9.94)) == g_text(9.2561, (8.21, 9.94)) == "9.3 [8.2, 9.9]"
    assert format_g(9.2561, (8.21, None)) == format_g(9.2561) == "9.3"


@pytest.mark.parametrize("ci", [(float("nan"), 9.0), [8.2, None], (None, None),
                                (8.2, float("inf"))])
def test_format_value_shows_no_interval_with_an_unknown_end(ci):
    """format_value wrote an interval with a NaN end as '[–, 9.0]' (and one with a None
    end as '8.2, –', a list), which reads as a bound, where format_g leaves such an
    interval out. Both now follow one rule (report._ends_known): not shown, '–'."""
    from napari_srmat.report import as_grain_size_number, format_g, format_value

    assert format_value(ci) == format_value(as_grain_size_number(ci)) == "–"
    assert format_g(9.26, ci) == "9.3"
    assert format_value((8.21, 9.0)) == "[8.21, 9]"  # a known interval as before
    assert format_value(as_grain_size_number((8.21, 9.0))) == "[8.2, 9.0]"


def _two_fields(sizes):
    """A specimen of two fields of one synthetic microstructure at these pixel sizes."""
    ms = generate_microstructure((160, 160), mean_grain_size_px=16, seed=2)
    return measure_specimen([{"boundaries": b, "pixel_size_um": p} for b, p in
                             zip((ms.boundaries, ms.boundaries[::-1]), sizes)],
                            n_lines=12, names=["A", "B"])


def test_a_report_of_fields_of_different_pixel_sizes_lists_them():
    """Fields at 1.0 and 0.5 µm/px (two magnifications, pooled per mm): the report's
    summary row "pixel size (µm/px)" and its provenance read fields[0]'s "1.0" without a
    word, as if every field were at that size. Now the row lists them ("per field:
    0.5-1.0") and the provenance gives each field's; one size reads as before. Failed
    before."""
    label = "pixel size (µm/px)"

    def report(sizes):
        return report_from_specimen(_two_fields(sizes), histograms=False)

    rep = report((1.0, 0.5))
    assert dict(rep.summary)[label] == "per field: 0.5-1.0"
    assert rep.provenance["pixel_size_um"] == [1.0, 0.5]
    assert "per field: 0.5-1.0" in report_html(rep)
    rep = report((0.5, 0.5))
    assert dict(rep.summary)[label] == 0.5 and rep.provenance["pixel_size_um"] == 0.5
    rep = report((1.0, None))  # one field without a size: said, not left out
    assert dict(rep.summary)[label] == "per field: 1.0, none (1 of 2 fields)"
    assert rep.provenance["pixel_size_um"] == [1.0, None]


def test_a_report_of_calibrated_and_uncalibrated_fields_pools_no_histogram():
    """A field at 1.0 µm/px and one without a pixel size: the summary withholds their
    pooled figures (mixed_pixel_sizes_warning), but the report pooled their intercepts in
    pixels into one histogram, as if of one size. Now that figure is left out; fields of
    one size keep it. Failed before."""
    title = "Distributions of intercept lengths and grain areas (all fields)"

    def figures(sizes):
        return [t for t, _ in report_from_specimen(_two_fields(sizes)).figures]

    assert title not in figures((1.0, None))
    assert title in figures((0.5, 0.5))


def test_a_blank_uncalibrated_field_does_not_turn_the_histogram_into_pixels():
    """Fields at 1.0 and 0.5 µm/px and a blank field without a pixel size (no value, left
    out of the statistics and of the mixed-pixel-size rule): pool_fields pooled every
    field, so the blank one's missing µm lists made the histogram pool the others'
    intercepts in pixels of two sizes. Now it pools the fields in the statistics (with
    a value), in µm. Failed before."""
    from napari_srmat.metrics.standards import pool_fields

    ms = generate_microstructure((160, 160), mean_grain_size_px=16, seed=2)
    spec = measure_specimen([{"boundaries": ms.boundaries, "pixel_size_um": 1.0},
                             {"boundaries": ms.boundaries[::-1], "pixel_size_um": 0.5},
                             {"boundaries": np.zeros((160, 160), bool)}],
                            n_lines=12, names=["A", "B", "C"])
    fields = spec["images"]
    assert fields[2]["pixel_size_um"] is None and fields[2]["intercepts_um"] is None
    pool = pool_fields(fields, spec["summary"])
    assert pool["intercepts_um"] == fields[0]["intercepts_um"] + fields[1]["intercepts_um"]
    assert pool["grain_areas_um2"] == (fields[0]["grain_areas_um2"]
                                       + fields[1]["grain_areas_um2"])
    title = "Distributions of intercept lengths and grain areas (all fields)"
    assert title in [t for t, _ in report_from_specimen(spec).figures]


def test_a_mask_reports_provenance_gives_the_mask_scale_given_and_the_block_scale_used():
    """R4 #2: the Boundary mask tab's report left out the mask scale where none was given
    (its provenance drops None) and never said which block scale the zig-zag bridge
    used, which the tab's summary and ``srmat heyn``'s rows give: a ×4 nearest upscale
    read off the map and the same mask measured as given read alike in the report. Now
    its provenance has "mask scale given" ("from the mask" where none was) and "block
    scale used", from the measurement's statistics; a micrograph's report (the Simple
    tab's, ``mode`` "image") has no mask scale and neither row."""
    pytest.importorskip("napari")
    from napari_srmat.metrics.heyn import measure_intercepts
    from napari_srmat.report import report_from_heyn
    from napari_srmat.widgets.layers import heyn_statistics

    drawn = generate_microstructure(
        (64, 64), mean_grain_size_px=12, seed=2, boundary_width=1, rgb=False
    ).boundaries
    up = np.kron(drawn, np.ones((4, 4), bool))  # a nearest ×4 upscale: block scale 4 found
    read = heyn_statistics(measure_intercepts(up, pattern="random", n_lines=8))
    assert read["mask_scale"] is None and read["block_scale"] == 4
    rep = report_from_heyn(read)
    assert rep.provenance["mask scale given"] == "from the mask"
    assert rep.provenance["block scale used"] == 4
    text = report_html(rep)
    assert "<td>mask scale given</td><td>from the mask</td>" in text
    assert "<td>block scale used</td><td>4</td>" in text
    given = heyn_statistics(measure_intercepts(up, pattern="random", n_lines=8, mask_scale=1))
    rep = report_from_heyn(given)
    assert rep.provenance["mask scale given"] == 1
    assert rep.provenance["block scale used"] == 1
    micrograph = report_from_heyn(dict(read, mode="image")).provenance
    assert "mask scale given" not in micrograph and "block scale used" not in micrograph
