"""One field is not the specimen: what a 95 % interval is an interval of (``interval_scope``)
and the one-field note of ``srmat heyn``, ``srmat grain-size`` and the grain-size widget.

Before: nothing told a user who measured one image that its interval is that field's
(its test lines, pixels and model) and not the specimen's, which a single field's
interval held only 90-93 % of the time on synthetic maps with few lines (79-88 % with
5 + 5; ``studies/grid_interval_aliasing.py``), against 95-97 % for the field's own ℓ̄, and
with the default 50 random lines 69-89 % (``studies/default_field_specimen.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from napari_srmat.cli import main
from napari_srmat.grainsize import SCHEMA_KEYS, measure_grain_size
from napari_srmat.metrics.heyn import HEYN_N_LINES
from napari_srmat.metrics.standards import (
    FIELD_SCOPE,
    MIN_FIELDS,
    ONE_FIELD_COVERAGE_COUNTS,
    ONE_FIELD_IMAGE_FINE_INTERCEPT_PX,
    ONE_FIELD_IMAGE_FINE_SHORT_PCT,
    ONE_FIELD_SPECIMEN_COVERAGE_5_LINES_PCT,
    ONE_FIELD_SPECIMEN_COVERAGE_DEFAULT_PCT,
    ONE_FIELD_SPECIMEN_COVERAGE_IMAGE_FINE_PCT,
    ONE_FIELD_SPECIMEN_COVERAGE_IMAGE_PCT,
    ONE_FIELD_SPECIMEN_COVERAGE_PCT,
    SPECIMEN_SCOPE,
    few_fields_advice,
    interval_scope,
    measure_specimen,
    one_field_note,
    specimen_advice,
    summarize_fields,
)
from napari_srmat.synth import generate_microstructure

ROOT = Path(__file__).resolve().parents[1]
NOTE_START = "one field: its 95 % interval is this field's"


def _masks(tmp_path, seeds=(1, 2)) -> list[str]:
    paths = []
    for seed in seeds:
        ms = generate_microstructure((160, 160), mean_grain_size_px=24, seed=seed)
        p = tmp_path / f"m{seed}.png"
        Image.fromarray(ms.boundaries.astype(np.uint8) * 255).save(p)
        paths.append(str(p))
    return paths


def _run(capsys, argv) -> tuple[dict, str]:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out), captured.err


def _notes(err: str, command: str) -> list[str]:
    return [line for line in err.splitlines()
            if line.startswith(f"{command}: note: {NOTE_START}")]


def test_the_note_and_the_scope_rule():
    assert interval_scope(1) == FIELD_SCOPE == "field"
    assert interval_scope(2) == interval_scope(MIN_FIELDS) == SPECIMEN_SCOPE == "specimen"
    note = one_field_note("the way")
    assert note.startswith(NOTE_START) and note.endswith("(the way)")
    assert f"at least {MIN_FIELDS} fields" in note and "90-93 %" in note


def test_the_notes_numbers_are_the_studys_json():
    # the whole map's coverage of one field's interval, lowest and highest of the three
    # structure kinds, is what studies/grid_interval_aliasing.py measured
    conf = json.loads((ROOT / "studies/results/grid_interval_aliasing.json").read_text())
    maps = [kind["package"]["regime_map"]["coverage_pct"]
            for kind in conf["confirmation"]["summary"].values()]
    assert ONE_FIELD_SPECIMEN_COVERAGE_PCT == (min(maps), max(maps))


def test_the_note_does_not_claim_90_percent_for_fields_of_many_lines():
    # the study's 90-93 % are fields of 2-5 grid lines a side and 10-25 intersections;
    # with 5 + 5 lines the whole map was held 78.6-87.5 % (more lines narrow the field's
    # interval, not the scatter between fields), and srmat heyn's default is 50 lines:
    # the note says both, so that "only 90-93 %" is not read as a floor. Before, it said
    # "held the specimen's only 90-93 % of the time" of any field.
    study = json.loads((ROOT / "studies/results/grid_interval_aliasing.json").read_text())
    conf = study["confirmation"]["summary"].values()
    five = [kind["package"]["regime_k5_map"]["coverage_pct"] for kind in conf]
    assert ONE_FIELD_SPECIMEN_COVERAGE_5_LINES_PCT == (min(five), max(five))
    src = (ROOT / "studies/grid_interval_aliasing.py").read_text()
    lo, hi = ONE_FIELD_COVERAGE_COUNTS
    assert f'"P": ({lo}, {hi})' in src  # the study's REGIME
    note = one_field_note("the way")
    assert f"{lo}-{hi} intersections" in note


def test_the_note_gives_the_default_measurements_coverage():
    # srmat heyn / srmat grain-size --mask of one field by default (50 random lines, the
    # interval the CLI reports) held the whole map's l-bar 68.7-88.9 % of the time
    # (studies/default_field_specimen.py: Poisson layout 68.7, Voronoi 83.7, lattice 88.9;
    # n = 1600 fields a kind): the note gives that, not a trend from 5 + 5 grid lines
    # (lattice 87.0 there, not more). Before, it said only '90-93 %' for 10-25
    # intersections and '79-88 % with 5 + 5 grid lines'.
    study = json.loads((ROOT / "studies/results/default_field_specimen.json").read_text())
    cov = [study["summary"][kind]["all"]["map"]["coverage_pct"]
           for kind in ("lattice", "poisson", "voronoi")]
    assert ONE_FIELD_SPECIMEN_COVERAGE_DEFAULT_PCT == (min(cov), max(cov))
    lo, hi = (f"{v:.0f}" for v in ONE_FIELD_SPECIMEN_COVERAGE_DEFAULT_PCT)
    note = one_field_note("the way")
    assert f"only {lo}-{hi} % of the time with the default {HEYN_N_LINES} random lines" in note
    assert "5 + 5" not in note


MASK_WORDS = "with the default"  # the mask-mode note's figures (random lines, P)
IMAGE_WORDS = "on synthetic micrographs"
IMAGE_SCOPE = "with the shipped model and its defaults"  # what the study ran


def _image_note_figures() -> dict:
    """The image-mode note's figures as studies/image_field_specimen.py measured them."""
    study = json.loads((ROOT / "studies/results/image_field_specimen.json").read_text())
    s, fine = study["summary"], f"h{min(study['spacings'])}"
    kinds = study["kinds"]
    cov = [s[k]["all"]["image"]["map"]["coverage_pct"] for k in kinds]
    fine_cov = [s[k][fine]["image"]["map"]["coverage_pct"] for k in kinds]
    short = {round(100 * (1 - np.exp(s[k][fine]["image"]["median_log_field_over_map"])))
             for k in kinds}
    fine_px = {round(generate_microstructure(
        (study["sides"][-1],) * 2, mean_grain_size_px=min(study["spacings"]),
        seed=study["structures"][0], seed_layout=k).mean_intercept_px) for k in kinds}
    return {"all": (min(cov), max(cov)), "fine": (min(fine_cov), max(fine_cov)),
            "short": short, "fine_px": fine_px}


def test_the_note_gives_the_image_modes_coverage():
    # srmat grain-size IMAGE of one micrograph printed the mask-mode figures (69-89 %
    # with 50 random lines, 90-93 % with 10-25 intersections) for its image-mode
    # interval, which is 3.4-3.8 times wider (the model's term) and whose ℓ̄ is the
    # model's: studies/image_field_specimen.py measured it at 88.0-88.5 % of the whole
    # map's ℓ̄ (lattice 88.0, Poisson layout 88.5; n = 400 each), 52.5-62.5 % at the
    # finest grains (ℓ̄ about 17 px, read 30 % short). Before: TypeError, one_field_note
    # took no mode.
    got = _image_note_figures()
    assert ONE_FIELD_SPECIMEN_COVERAGE_IMAGE_PCT == got["all"]
    assert ONE_FIELD_SPECIMEN_COVERAGE_IMAGE_FINE_PCT == got["fine"]
    assert got["short"] == {ONE_FIELD_IMAGE_FINE_SHORT_PCT}
    assert got["fine_px"] == {ONE_FIELD_IMAGE_FINE_INTERCEPT_PX}
    note = one_field_note("the way", mode="image")
    lo, hi = (f"{v:.0f}" for v in ONE_FIELD_SPECIMEN_COVERAGE_IMAGE_PCT)
    f_lo, f_hi = (f"{v:.0f}" for v in ONE_FIELD_SPECIMEN_COVERAGE_IMAGE_FINE_PCT)
    assert note.startswith(NOTE_START) and note.endswith("(the way)")
    held = lo if lo == hi else f"{lo}-{hi}"  # 88.0 and 88.5 both read 88
    # the figures are the shipped model's with the defaults (the study's settings), as
    # the mask note's are the default 50 lines': srmat grain-size IMAGE --checkpoint,
    # --lines, --inference-scale, ... were told them without that scope
    assert f"{IMAGE_WORDS} one field's interval held the specimen's {held} % of the time " \
        f"{IMAGE_SCOPE}, only {f_lo}-{f_hi} % with grains of " \
        f"ℓ̄ about {ONE_FIELD_IMAGE_FINE_INTERCEPT_PX} px, which the model read " \
        f"{ONE_FIELD_IMAGE_FINE_SHORT_PCT} % short" in note
    assert MASK_WORDS not in note and "69-89" not in note
    # the mask mode's note is the mask study's, as before
    assert one_field_note("the way", mode="mask") == one_field_note("the way")
    assert IMAGE_WORDS not in one_field_note("the way")
    with pytest.raises(ValueError, match="mode must be one of"):
        one_field_note("the way", mode="images")


def test_library_results_say_whose_interval_they_give():
    ms = generate_microstructure((160, 160), mean_grain_size_px=24, seed=1)
    res = measure_grain_size(ms.boundaries, mask=True, pixel_size_um=0.5)
    assert res.interval_scope == FIELD_SCOPE
    assert "interval_scope" in SCHEMA_KEYS and res.to_dict()["interval_scope"] == "field"
    # the library tells no warning of it: a caller measuring fields of a specimen would
    # get one per field
    assert not any(NOTE_START in w for w in res.warnings)
    spec = measure_specimen([ms.boundaries, ms.boundaries[::-1]], pixel_size_um=0.5)
    assert spec["summary"]["interval_scope"] == SPECIMEN_SCOPE


def test_srmat_heyn_tells_one_mask_is_a_field_and_several_a_specimen(tmp_path, capsys):
    paths = _masks(tmp_path)
    one, err = _run(capsys, ["heyn", paths[0], "--skeletonize", "--pixel-size-um", "0.5",
                             "--json"])
    assert one["interval_scope"] == "field" and one["per_image"][0]["interval_scope"] == "field"
    assert one["mean_intercept_ci95_px"] == one["per_image"][0]["mean_intercept_ci95_px"]
    notes = _notes(err, "srmat heyn")
    assert len(notes) == 1 and notes[0].endswith("(give srmat heyn a mask of each field)")
    # not in the JSON's warnings (a batch of one-image runs would read each as doubtful)
    assert not any(NOTE_START in w for w in one["warnings"])
    two, err = _run(capsys, ["heyn", *paths, "--skeletonize", "--pixel-size-um", "0.5",
                             "--json"])
    assert two["interval_scope"] == "specimen"
    assert [r["interval_scope"] for r in two["per_image"]] == ["field", "field"]
    assert _notes(err, "srmat heyn") == []
    # the text output tells it too
    assert main(["heyn", paths[0]]) == 0
    assert len(_notes(capsys.readouterr().err, "srmat heyn")) == 1


def test_srmat_grain_size_tells_one_image_without_a_specimen_summary(tmp_path, capsys):
    paths = _masks(tmp_path)
    one, err = _run(capsys, ["grain-size", paths[0], "--mask", "--json"])
    assert one["images"][0]["interval_scope"] == "field"
    notes = _notes(err, "srmat grain-size")
    assert len(notes) == 1 and "srmat grain-size --method intercept" in notes[0]
    assert MASK_WORDS in notes[0] and IMAGE_WORDS not in notes[0]  # a mask's figures
    # docs/grain_size.md "One field is not the specimen" shows this very line
    assert notes[0] in (ROOT / "docs/grain_size.md").read_text().splitlines()
    # several images: each row is a field, nothing said per image
    two, err = _run(capsys, ["grain-size", *paths, "--mask", "--json"])
    assert [r["interval_scope"] for r in two["images"]] == ["field", "field"]
    assert _notes(err, "srmat grain-size") == []
    # --method: the specimen summary's interval is over fields; one field is told by its
    # E112 advice ("one field gives no confidence interval"), not by the note as well
    spec, err = _run(capsys, ["grain-size", *paths, "--mask", "--method", "intercept",
                              "--json"])
    assert spec["summary"]["interval_scope"] == "specimen" and not _notes(err, "srmat grain-size")
    spec, err = _run(capsys, ["grain-size", paths[0], "--mask", "--method", "intercept",
                              "--json"])
    # a summary of one field has no interval over fields: its figure is the field's
    assert spec["summary"]["interval_scope"] == "field"
    assert not _notes(err, "srmat grain-size") and "one field gives no confidence" in err


def test_srmat_grain_size_of_one_micrograph_gives_the_image_modes_figures(tmp_path, capsys):
    # srmat grain-size IMAGE (the model, image mode) told the mask-mode figures (69-89 %
    # with the default 50 random lines) of an interval it does not report: its own is
    # wider by the model's term (studies/image_field_specimen.py: 88 % of the time).
    # Before: the note said "on synthetic maps ... only 69-89 % ... random lines".
    ms = generate_microstructure((192, 192), mean_grain_size_px=32, seed=3)
    path = tmp_path / "micrograph.png"
    Image.fromarray(ms.image).save(path)
    one, err = _run(capsys, ["grain-size", str(path), "--json"])
    assert one["images"][0]["mode"] == "image" and one["images"][0]["interval_scope"] == "field"
    notes = _notes(err, "srmat grain-size")
    assert len(notes) == 1 and IMAGE_WORDS in notes[0] and MASK_WORDS not in notes[0]
    assert notes[0].endswith("(srmat grain-size --method intercept with an image of each field)")
    # docs/grain_size.md "One field is not the specimen" shows this very line
    assert notes[0] in (ROOT / "docs/grain_size.md").read_text().splitlines()


@pytest.mark.gui
def test_the_simple_tab_tells_its_interval_is_the_fields(make_napari_viewer, qtbot):
    pytest.importorskip("napari")
    from _helpers import simple_tab_on_micrograph

    from napari_srmat.grainsize import SPECIMEN_TAB

    viewer = make_napari_viewer()
    ms, _, w, panel = simple_tab_on_micrograph(viewer, qtbot)
    assert panel.scope_label.text() == ""
    panel.run()
    qtbot.waitUntil(lambda: panel.result is not None, timeout=120_000)
    text = panel.scope_label.text()
    assert text.startswith(NOTE_START) and f"'{SPECIMEN_TAB}' tab" in text, text
    assert IMAGE_WORDS in text and MASK_WORDS not in text, text  # a micrograph's figures
    assert SPECIMEN_TAB in [w.tabs.tabText(i) for i in range(w.tabs.count())]
    assert not any(NOTE_START in m for m in panel.result.warnings)
    # the mask tab measures one layer, one field: its interval rows say so
    from napari_srmat.widgets.layers import add_heyn_measurement

    gb = viewer.add_labels(ms.boundaries.astype(np.uint8), name="gb")
    w.measurement = add_heyn_measurement(viewer, gb, pixel_size_um=0.5)
    w._fill_tables()
    names = [w.summary.item(i, 0).text() for i in range(w.summary.rowCount())]
    assert "95% CI of ℓ̄ (px), this field" in names and "95% CI of ℓ̄ (µm), this field" in names


def test_srmat_heyn_of_two_to_four_masks_gives_e112s_advice_on_fields(tmp_path, capsys):
    # before: srmat heyn of 2-4 masks gave the fields' (specimen's) interval with no word
    # that E112 asks for at least 5 fields, which srmat grain-size --method said of the
    # same masks; now both say it by one rule (few_fields_advice), as a note on stderr
    paths = _masks(tmp_path, seeds=range(1, MIN_FIELDS + 1))
    few = paths[:2]
    out, err = _run(capsys, ["heyn", *few, "--skeletonize", "--json"])
    assert out["interval_scope"] == "specimen" and out["mean_intercept_ci95_px"] is not None
    advice = few_fields_advice(2)
    assert advice.startswith("only 2 fields: E112 asks for at least 5")
    notes = [ln for ln in err.splitlines() if "note:" in ln]
    assert notes[0] == f"srmat heyn: note: {advice}"
    # updated on purpose 2026-12-07: the %RA advice follows, as srmat grain-size's (one
    # rule, specimen_advice)
    assert notes == [f"srmat heyn: note: {a}"
                     for a in specimen_advice(2, out["relative_accuracy_pct"])]
    assert not any(advice in w for w in out["warnings"])
    spec, err_spec = _run(capsys, ["grain-size", *few, "--mask",
                                   "--method", "intercept", "--json"])
    assert advice in spec["summary"]["advice"]
    assert f"srmat grain-size: note: {advice}" in err_spec.splitlines()
    # the text output too; from five masks on nothing is said
    assert main(["heyn", *paths[:4]]) == 0
    assert f"srmat heyn: note: {few_fields_advice(4)}" in capsys.readouterr().err.splitlines()
    out, err = _run(capsys, ["heyn", *paths, "--json"])
    assert few_fields_advice(MIN_FIELDS) is None and "asks for at least" not in err


def _intercept_field(name: str, n_l_per_mm: float | None, n_boundary_px: int = 500) -> dict:
    """A :func:`measure_field`-like intercept row of ``n_l_per_mm`` (None: no value)."""
    return {"name": name, "method": "intercept", "rule": "e112", "pixel_size_um": 1.0,
            "intersections_per_mm": n_l_per_mm, "n_intersections": 120,
            "n_boundary_px": n_boundary_px, "grain_areas_um2": [], "warnings": []}


def test_a_summary_of_one_field_is_a_field_figure():
    # E112: the specimen's figure is over several fields; a summary with one field in its
    # statistics has no interval over fields and its figure is that field's. Before, every
    # summary said interval_scope "specimen", one field's too (no interval at all then).
    one = summarize_fields([_intercept_field("a", 40.0)])
    assert one["n_fields_in_statistics"] == 1 and one["interval_scope"] == FIELD_SCOPE
    assert one["mean_intercept_ci95_um"] is None
    # two fields, one of them blank (no boundary pixel, left out): one field in the
    # statistics, a field figure too
    blank = summarize_fields([_intercept_field("a", 40.0), _intercept_field("b", None, 0)])
    assert blank["n_fields_in_statistics"] == 1 and blank["interval_scope"] == FIELD_SCOPE
    two = summarize_fields([_intercept_field("a", 40.0), _intercept_field("b", 44.0)])
    assert two["interval_scope"] == SPECIMEN_SCOPE
    # the scope is the rule's, of the fields in the statistics
    for s in (one, blank, two):
        assert s["interval_scope"] == interval_scope(s["n_fields_in_statistics"])


def test_srmat_heyn_pools_only_masks_that_are_measured_fields(tmp_path, capsys):
    # a mask without a boundary pixel (a blank segmentation, a wrong threshold) is no
    # measured field (the rule of summarize_fields, is_measured_field): beside one real
    # mask it neither makes the pooled result a specimen's nor lengthens the pooled ℓ̄ by
    # its uncrossed test lines. Before: interval_scope "specimen", an interval over the
    # two masks' N_L (one of them 0), and the pooled ℓ̄ about twice the real mask's.
    real = _masks(tmp_path, seeds=(1,))[0]
    empty = tmp_path / "empty.png"
    Image.fromarray(np.zeros((160, 160), np.uint8)).save(empty)
    one, _ = _run(capsys, ["heyn", real, "--json"])
    out, err = _run(capsys, ["heyn", real, str(empty), "--json"])
    assert out["n_images"] == 2 and out["interval_scope"] == FIELD_SCOPE
    assert out["mean_intercept_px"] == pytest.approx(one["mean_intercept_px"])
    assert out["mean_intercept_ci95_px"] == one["mean_intercept_ci95_px"]
    assert out["total_length_px"] == pytest.approx(one["total_length_px"])
    assert out["per_image"][1]["n_boundary_px"] == 0
    assert any(str(empty) in w and "left out of the pooled figures" in w
               for w in out["warnings"])
    assert len(_notes(err, "srmat heyn")) == 1  # one field: the one-field note


def test_a_field_left_out_does_not_withhold_the_others_pixel_size(tmp_path, capsys):
    # the pixel-size rule of a summary is over the fields in its statistics, as srmat
    # heyn's pooled pixel size: a blank mask (no boundary pixel, left out) read from a
    # file without a calibration beside calibrated fields withheld the specimen's G and
    # warned "the fields have different pixel sizes" (srmat heyn gave G of the same masks)
    blank = {**_intercept_field("c", None, 0), "pixel_size_um": None,
             "intersections_per_px": None}
    a, b = ({**_intercept_field(n, v), "intersections_per_px": v / 1000.0}
            for n, v in (("a", 40.0), ("b", 44.0)))  # 1 µm pixels: both readings
    s = summarize_fields([a, b, blank])
    assert s["n_fields_in_statistics"] == 2 and s["astm_g"] is not None
    assert s["field_quantity"] == "N_L, intersections per mm"
    assert not any("pixel size" in w for w in s["warnings"]), s["warnings"]
    # the fields in the statistics, each calibrated at its own size, pool per mm without
    # a warning (updated on purpose 2026-12-07: "the fields have different pixel sizes"
    # was told); one of them without a size beside a calibrated one is warned of
    s = summarize_fields([a, {**b, "pixel_size_um": 2.0}, blank])
    assert s["astm_g"] is not None
    assert not any("pixel size" in w for w in s["warnings"]), s["warnings"]
    s = summarize_fields([a, {**b, "pixel_size_um": None}, blank])
    assert s["astm_g"] is None and any("different or unknown pixel sizes" in w
                                       for w in s["warnings"])
    # the same masks through both commands: both give G
    paths = []
    for seed in (1, 2):
        ms = generate_microstructure((160, 160), mean_grain_size_px=24, seed=seed)
        p = tmp_path / f"m{seed}.tif"
        tifffile.imwrite(p, ms.boundaries.astype(np.uint8) * 255, resolution=(2e4, 2e4),
                         resolutionunit="CENTIMETER")
        paths.append(str(p))
    empty = tmp_path / "empty.png"  # no pHYs: no pixel size
    Image.fromarray(np.zeros((160, 160), np.uint8)).save(empty)
    heyn, _ = _run(capsys, ["heyn", *paths, str(empty), "--json"])
    spec, err = _run(capsys, ["grain-size", *paths, str(empty), "--mask", "--method",
                              "intercept", "--json"])
    assert heyn["pixel_size_um"] == pytest.approx(0.5) and heyn["astm_g"] is not None
    assert spec["summary"]["astm_g"] is not None, err
    assert "different pixel sizes" not in err


def test_the_public_field_rules_have_numpydoc_sections():
    # is_measured_field became public (bcd1e28) with a summary and examples only: help()
    # showed neither what its arguments are nor what it returns
    import inspect

    from napari_srmat.jobs import _section
    from napari_srmat.metrics import standards

    for name in ("interval_scope", "is_measured_field", "one_field_note",
                 "few_fields_advice"):
        doc = inspect.getdoc(getattr(standards, name))
        for title in ("Parameters", "Returns", "Examples"):
            assert _section(doc, title) is not None, f"{name}: no {title} section"


def test_srmat_heyn_withheld_pooled_figure_has_no_interval_scope(tmp_path, capsys):
    """`srmat heyn --json` of masks that all failed (or where one failed: the pooled
    figures withheld) said `interval_scope` "field" next to a null ℓ̄ and interval: the
    scope of a figure it withholds. It is now null like the figure (interval_scope(0))."""
    assert interval_scope(0) is None
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    good = _masks(tmp_path, seeds=(1,))[0]
    for argv in ([str(bad)], [str(bad), good]):
        assert main(["heyn", *argv, "--skeletonize", "--json"]) != 0
        out = json.loads(capsys.readouterr().out)
        assert out["mean_intercept_px"] is None and out["mean_intercept_ci95_px"] is None
        assert out["interval_scope"] is None


def test_a_grain_size_row_whose_figure_is_withheld_has_no_interval_scope():
    """An image whose ℓ̄ is withheld (an empty mask: no test line crosses a boundary) said
    interval_scope "field" though it gives no figure and no interval; the rule
    (interval_scope(0)) makes it null like them, as srmat heyn's withheld pool is."""
    result = measure_grain_size(np.zeros((64, 64), bool), mask=True)
    assert result.warnings  # it says why
    assert result.mean_intercept_px is None and result.mean_intercept_ci95_px is None
    assert result.interval_scope is None
    assert result.to_dict()["interval_scope"] is None
    ms = generate_microstructure((160, 160), mean_grain_size_px=24, seed=1)
    shown = measure_grain_size(ms.boundaries, mask=True)
    assert shown.mean_intercept_px is not None and shown.interval_scope == "field"


@pytest.mark.parametrize("crossing", [True, False])
def test_a_planimetric_rows_note_points_to_an_l_bar_interval_only_where_there_is_one(crossing):
    """A ``--method planimetric`` field row whose G stands but whose ℓ̄ is withheld (no
    test line crosses a boundary) said its ``mean_intercept_ci95`` 'is the interval of the
    field's test lines' ℓ̄', an interval that was not there."""
    from napari_srmat.grainsize import (
        PLANIMETRIC_FIELD_NO_INTERVAL,
        PLANIMETRIC_G_NO_INTERVAL,
        field_interval,
    )
    from napari_srmat.metrics.heyn import measure_intercepts

    mask = np.zeros((200, 200), bool)
    mask[100, :] = True  # one boundary along the rows
    rows = [20, 50] if not crossing else []
    segments = [((r, 10), (r, 190)) for r in rows] or [((10, 50), (190, 50)),
                                                       ((10, 80), (190, 80))]
    res = measure_intercepts(mask, pattern="segments", segments=segments)
    keys, _ = field_interval(res, method="planimetric", g_given=True)
    assert (res.mean_intercept_px is not None) == crossing
    # the planimetric reason comes last (after the lines' own "no 95% interval" notes)
    assert keys["interval_note"].endswith(PLANIMETRIC_FIELD_NO_INTERVAL if crossing
                                          else PLANIMETRIC_G_NO_INTERVAL)
    assert ("mean_intercept_ci95 is" in keys["interval_note"]) == crossing


def test_srmat_heyn_tells_the_relative_accuracy_advice_of_a_summary(tmp_path, capsys):
    """``srmat heyn`` of two masks whose N_L scatter gives a %RA above E112's 10 % told
    only "only 2 fields: ...", where a specimen summary of the same masks (``srmat
    grain-size --method``, ``measure_specimen``) also advises "relative accuracy ...% is
    above the 10% ...: measure more fields (about N ...)". Now both tell it by one rule
    (``specimen_advice``), as notes; masks of different pixel sizes by their µm %RA.

    Measured with the same test lines and scoring (``--pattern grid``, heyn's ``--scoring
    e112``: measure_field's triple-point rule), the two commands' %RA is one figure and
    their advice one list (until 2026-12-07 this test compared each command's notes with
    ``specimen_advice`` of its own %RA only, which holds whatever the %RA)."""
    paths = _masks(tmp_path)
    same = ["--pattern", "grid"]  # the test lines of both; P scored by E112 in both
    two, err = _run(capsys, ["heyn", *paths, *same, "--scoring", "e112", "--json"])
    spec, _ = _run(capsys, ["grain-size", *paths, "--mask", "--method", "intercept", *same,
                            "--json"])
    ra = spec["summary"]["relative_accuracy_pct"]
    assert [r["intersection_count"] for r in two["per_image"]] == [
        f["n_intersections"] for f in spec["images"]]
    assert two["relative_accuracy_pct"] == pytest.approx(ra, rel=1e-9)
    assert ra > 10  # a %RA advice
    told = spec["summary"]["advice"][:2]
    assert told == specimen_advice(2, ra)
    assert told[0] == few_fields_advice(2) and "relative accuracy" in told[1]
    assert [ln for ln in err.splitlines() if "note:" in ln] == [
        f"srmat heyn: note: {a}" for a in told]
    # masks of different pixel sizes: the %RA of their N_L per mm, the summary's
    for p, px in zip(paths, (0.5, 1.0)):
        tifffile.imwrite(p + ".tif", np.asarray(Image.open(p)), resolution=(1e4 / px, 1e4 / px),
                         resolutionunit="CENTIMETER")
    tifs = [p + ".tif" for p in paths]
    mixed, err = _run(capsys, ["heyn", *tifs, *same, "--scoring", "e112", "--json"])
    spec, _ = _run(capsys, ["grain-size", *tifs, "--mask", "--method", "intercept", *same,
                            "--json"])
    assert mixed["pixel_size_um"] is None and mixed["astm_g"] is not None
    ra = spec["summary"]["relative_accuracy_pct"]
    assert mixed["relative_accuracy_pct"] == pytest.approx(ra, rel=1e-9)
    assert mixed["astm_g"] == pytest.approx(spec["summary"]["astm_g"], rel=1e-9)
    assert [ln for ln in err.splitlines() if "note:" in ln] == [
        f"srmat heyn: note: {a}" for a in spec["summary"]["advice"][:2]]


def test_srmat_heyn_json_gives_the_advice_it_tells(tmp_path, capsys):
    """``srmat heyn --json`` told E112's advice (the fields' number, their %RA) on stderr
    only, where a specimen summary of the same masks gives it under ``advice``: a script
    reading the JSON had the pooled %RA without what it asks for. The pooled object has
    ``advice``, the notes told (one mask's: what its interval is; [] where the pool is
    withheld), the summary's on the same test lines and scoring. Failed before."""
    paths = _masks(tmp_path)
    same = ["--pattern", "grid"]
    two, err = _run(capsys, ["heyn", *paths, *same, "--scoring", "e112", "--json"])
    spec, _ = _run(capsys, ["grain-size", *paths, "--mask", "--method", "intercept", *same,
                            "--json"])
    notes = [ln.split("note: ", 1)[1] for ln in err.splitlines() if "note:" in ln]
    assert two["advice"] == notes == spec["summary"]["advice"][:2]
    from napari_srmat.cli.heyn import ONE_FIELD_HOW

    one, err = _run(capsys, ["heyn", paths[0], "--json"])
    assert one["advice"] == [one_field_note(ONE_FIELD_HOW)]
    assert err.count("note:") == 1
