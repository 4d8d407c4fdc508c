"""Heyn lineal intercept: analytic cases, run counting, stereology, ASTM E112."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from _helpers import count_zarr_reads
from _heyn_oracle import _count_runs, rasterize_paths

from napari_srmat.metrics.heyn import (
    HeynError,
    astm_grain_size_number,
    confidence_interval,
    heyn_error,
    load_segments,
    make_pattern,
    mean_intercept_from_astm_g,
    measure_intercepts,
)


def stripes(shape, spacing, *, vertical=True, width=1):
    m = np.zeros(shape, bool)
    for k in range(width):
        if vertical:
            m[:, k::spacing] = True
        else:
            m[k::spacing, :] = True
    return m


# ---------------------------------------------------------------- analytic cases
def test_grid_on_vertical_stripes_gives_spacing():
    d = 16
    m = stripes((400, 400), d)
    r = measure_intercepts(m, pattern="grid", n_lines=20, margin=0.05)
    # horizontal lines cross every stripe; vertical lines none (one may run along a
    # stripe: a single long run), so ℓ̄ = 2 d on the grid
    horiz = r.per_line_count[:20]
    assert r.per_line_count[20:].sum() <= 1
    spacing_from_counts = r.per_line_length_px[:20].sum() / horiz.sum()
    assert spacing_from_counts == pytest.approx(d, rel=0.03)
    assert r.mean_intercept_px == pytest.approx(2 * d, rel=0.03)


def test_random_lines_on_stripes_converge_to_pi_d_over_2():
    # a line at angle phi to the stripe normal crosses |cos phi| / d stripes per unit
    # length; averaged over uniform phi, N_L = 2 / (pi d), so ℓ̄ = pi d / 2.
    d = 20
    m = stripes((800, 800), d)
    r = measure_intercepts(m, pattern="random", n_lines=3000, margin=0, seed=3)
    assert r.mean_intercept_px == pytest.approx(math.pi * d / 2, rel=0.03)


@pytest.mark.parametrize("slope, width", [(1, 1), (2, 2), (3, 3)])
def test_random_lines_on_tilted_digital_stripes(slope, width):
    # digital stripes of slope 1/slope drawn as 8-connected staircases: the count must
    # not depend on the staircase aliasing of tilted test lines
    period = 20 * slope
    yy, xx = np.mgrid[:700, :700]
    m = ((slope * yy + xx) % period) < width
    d = period / math.sqrt(slope**2 + 1)
    r = measure_intercepts(m, pattern="random", n_lines=2500, margin=0, seed=5)
    assert r.mean_intercept_px == pytest.approx(math.pi * d / 2, rel=0.05)


def test_thick_lines_count_once():
    thin = stripes((300, 300), 25, width=1)
    thick = stripes((300, 300), 25, width=5)
    # (circles are left out: where a circle is tangent to the stripes a 5 px stripe is
    # legitimately touched where a 1 px one is missed)
    for pattern in ("grid", "random"):
        a = measure_intercepts(thin, pattern=pattern, n_lines=30, margin=0.02)
        b = measure_intercepts(thick, pattern=pattern, n_lines=30, margin=0.02)
        assert b.n_intersections == pytest.approx(a.n_intersections, rel=0.03), pattern


def test_run_counting_on_explicit_segment():
    m = np.zeros((10, 40), bool)
    m[:, 5:8] = True  # one thick boundary
    m[:, 20] = True
    m[:, 22] = True  # two boundaries 1 px apart on an axis-parallel line: two runs
    r = measure_intercepts(m, pattern="segments", segments=[[[5, 0], [5, 39]]])
    assert r.n_intersections == 3
    assert r.total_length_px == pytest.approx(39)
    assert r.mean_intercept_px == pytest.approx(13)
    assert sorted(r.intersections[:, 1].tolist()) == [6, 20, 22]


def test_a_drawn_line_scores_a_touched_boundary_half_as_e112_asks():
    """A line drawn from one boundary to another (E112): each end on a boundary scores 1/2,
    a grain crossed whole is one intercept, and an end inside a grain a half intercept.
    Before, a drawn line's touched ends counted 1 each, so a line across two 20 px grains
    read ℓ̄ = 40 / 3 instead of 20; the generated patterns keep the benchmark's run count
    unless triple_points=True."""
    from napari_srmat.widgets.layers import heyn_statistics

    m = np.zeros((40, 61), bool)
    m[:, [10, 30, 50]] = True  # grains 20 px wide
    ends_on = measure_intercepts(m, pattern="segments", segments=[[[20, 10], [20, 50]]])
    assert ends_on.n_intersections == 3  # three boundary runs along the line
    assert ends_on.n_line_end_touches == 2
    assert ends_on.intersection_count == pytest.approx(0.5 + 1 + 0.5)
    assert ends_on.intercept_count == pytest.approx(2)  # two whole grains
    assert ends_on.mean_intercept_px == pytest.approx(40 / 2)
    assert heyn_statistics(ends_on)["intersection_count"] == pytest.approx(2)
    # ends inside grains: one crossing, two half intercepts (unchanged)
    inside = measure_intercepts(m, pattern="segments", segments=[[[20, 15], [20, 45]]])
    assert inside.intersection_count == pytest.approx(1)
    assert inside.intercept_count == pytest.approx(0.5 + 0.5)
    assert inside.mean_intercept_px == pytest.approx(30)
    # one end on a boundary, the other in a grain
    one = measure_intercepts(m, pattern="segments", segments=[[[20, 10], [20, 40]]])
    assert one.intersection_count == pytest.approx(0.5 + 1)
    assert one.intercept_count == pytest.approx(1 + 0.5)
    # the same line as a grid line with its ends on boundaries: the benchmark's run count
    grid = measure_intercepts(m[:, 10:51], pattern="grid", n_lines=1, margin=0)
    assert grid.n_line_end_touches == 0
    e112 = measure_intercepts(m[:, 10:51], pattern="grid", n_lines=1, margin=0,
                              triple_points=True)
    assert grid.per_line_intersections[0] - e112.per_line_intersections[0] == 1.0


def test_random_lines_count_a_touched_end_one_unless_scored_by_e112():
    """Pinned on purpose (docs/heyn.md, counting rules): the default run count of the
    generated patterns (the TBM benchmark protocol) counts a boundary that a random
    line's end lies on as 1, where E112 scores it 1/2; ``triple_points=True`` scores it
    1/2. The ends on a boundary are found here from the geometry alone: the end pixel
    of a line (its end point rounded) on a stripe column."""
    m = stripes((200, 200), 10)  # vertical one-pixel boundaries on columns 0, 10, ...
    runs = measure_intercepts(m, pattern="random", n_lines=400, seed=7)
    e112 = measure_intercepts(m, pattern="random", n_lines=400, seed=7, triple_points=True)
    ends = np.floor(np.concatenate([p[[0, -1]] for p in runs.paths]) + 0.5).astype(int)
    on_boundary = int(m[ends[:, 0], ends[:, 1]].sum())
    assert on_boundary > 10  # about 1 end in 10 lies on a stripe
    assert runs.n_line_end_touches == 0
    assert runs.intersection_count == runs.n_intersections  # every run 1, ends too
    assert e112.n_line_end_touches == on_boundary and e112.n_triple_points == 0
    assert e112.intersection_count == runs.n_intersections - 0.5 * on_boundary


def test_a_line_wholly_inside_one_grain_has_no_intercept():
    """E112's intercept count N scores a segment at a line's end that penetrates a grain
    1/2, so a line with c crossings and both ends inside grains has N = (c - 1) + 1/2 +
    1/2 = c = P. A line that crosses no boundary (wholly inside one grain) read N = 1/2
    while its P is 0: fields of grains larger than the lines had N > P. It is N = 0, as
    (c - 1) + 1/2 + 1/2 gives at c = 0 and as P. By hand: one grain between two
    boundaries 30 px apart, lines drawn inside it, and the same as a random pattern."""
    m = np.zeros((40, 61), bool)
    m[:, [10, 40]] = True
    inside = measure_intercepts(m, pattern="segments", segments=[[[20, 15], [20, 35]],
                                                                 [[5, 20], [30, 20]]])
    assert inside.n_intersections == 0 and inside.intersection_count == 0
    assert inside.per_line_intercepts.tolist() == [0.0, 0.0]
    assert inside.intercept_count == 0
    # with one crossing the end segments still count 1/2 each: N = P = 1
    across = measure_intercepts(m, pattern="segments", segments=[[[20, 15], [20, 45]]])
    assert across.intercept_count == across.intersection_count == 1
    # the generated patterns: every line without a crossing has N = 0
    rnd = measure_intercepts(stripes((200, 200), 60), pattern="random", n_lines=200, seed=3)
    empty = rnd.per_line_count == 0
    assert empty.any() and (rnd.per_line_intercepts[empty] == 0).all()


def test_a_line_lying_along_a_boundary_is_one_intersection_as_e112_asks():
    """E112 scores a line tangent to a boundary as one intersection, and each end that
    touches a boundary as 1/2. A drawn line lying along a boundary from end to end (one
    run holding both its ends) scored 1/2 once: a 25 px line on a boundary read ℓ̄ = 50
    px; it is 1 (1/2 per touched end, the tangent's 1), ℓ̄ = 25 px. By hand, on one
    horizontal boundary (row 20) between two grains."""
    m = np.zeros((40, 40), bool)
    m[20, :] = True
    along = measure_intercepts(m, pattern="segments", segments=[[[20, 5], [20, 30]]])
    assert along.n_intersections == 1 and along.total_length_px == pytest.approx(25)
    assert along.intersection_count == pytest.approx(1)
    assert along.n_line_end_touches == 0  # scored as the tangent, not as a touched end
    assert along.intercept_count == 0  # no grain is crossed
    assert along.mean_intercept_px == pytest.approx(25)
    # E112's scoring of the generated patterns follows the same rule: margin 0 puts the
    # vertical grid line on column 0 of a mask whose column 0 is a boundary
    v = np.zeros((41, 41), bool)
    v[:, [0, 20, 40]] = True
    grid = measure_intercepts(v, pattern="grid", n_lines=1, margin=0, triple_points=True)
    # horizontal line (row 20): ends on columns 0 and 40 (1/2 each), column 20 crossed (1);
    # vertical line (column 20): lies along that boundary from end to end (1)
    assert grid.per_line_intersections.tolist() == [2.0, 1.0]
    # pinned, unchanged: the line that runs onto the boundary and along it to its end
    # touches it with one end (1/2); the one that runs along it and leaves it on the same
    # side is a tangent in the middle of the line (1)
    onto = measure_intercepts(m, pattern="segments", segments=[[[10, 5], [20, 5], [20, 30]]])
    assert onto.intersection_count == pytest.approx(0.5) and onto.n_line_end_touches == 1
    tangent = measure_intercepts(m, pattern="segments",
                                 segments=[[[10, 5], [20, 5], [20, 30], [10, 30]]])
    assert tangent.intersection_count == pytest.approx(1)


def test_a_drawn_lines_table_export_and_report_give_the_count_l_is_made_of(tmp_path):
    """The grain-size widget's mask tab with drawn lines: ℓ̄ = ΣL / ΣP scores a boundary
    touched by a line's end 1/2, but its per-line table, CSV/JSON export and report gave
    the run count (a line across two 20 px grains: ℓ̄ 20 px over 40 px of line, yet
    "3 intersections"), so ΣL / Σcount no longer gave ℓ̄. They now give P."""
    import csv

    from napari_srmat.report import report_from_heyn
    from napari_srmat.widgets.export import export_csv
    from napari_srmat.widgets.layers import HeynMeasurement, heyn_statistics

    m = np.zeros((40, 61), bool)
    m[:, [10, 30, 50]] = True  # grains 20 px wide
    res = measure_intercepts(m, pattern="segments",
                             segments=[[[20, 10], [20, 50]], [[5, 15], [5, 45]]])
    assert res.n_intersections == 4 and res.intersection_count == 3
    meas = HeynMeasurement(res, heyn_statistics(res))
    ell = res.mean_intercept_px
    rows = meas.table_rows()
    assert sum(r[1] for r in rows) / sum(r[2] for r in rows) == pytest.approx(ell)
    per_line = meas.to_dict()["per_line"]
    assert [r["count"] for r in per_line] == [2, 1]
    table = [r for r in csv.reader(export_csv(tmp_path / "h.csv", meas).read_text()
                                   .splitlines()) if not r[0].startswith("#")][1:]
    assert sum(float(r[1]) for r in table) / sum(float(r[2]) for r in table) == \
        pytest.approx(ell, rel=1e-5)
    rep = report_from_heyn(meas.stats, per_line=rows)
    assert dict(rep.summary)["intersections"] == pytest.approx(3)
    lines = rep.tables[0][2]
    assert sum(float(r[2]) for r in lines) == pytest.approx(3)


def test_a_drawn_line_of_no_length_is_refused():
    """A click without a drag in a Shapes layer is a line whose points coincide; on a
    boundary it scored 1/2 with no length of line (a line across two 20 px grains plus
    such a point read l = 16 px instead of 20)."""
    m = np.zeros((40, 61), bool)
    m[:, [10, 30, 50]] = True
    line = [[20, 10], [20, 50]]
    assert measure_intercepts(m, pattern="segments", segments=[line]).mean_intercept_px \
        == pytest.approx(20)
    for point in ([[5, 30], [5, 30]], [[5, 12], [5, 12], [5, 12]]):
        with pytest.raises(HeynError, match=r"^segment 1 has no length"):
            measure_intercepts(m, pattern="segments", segments=[line, point])


def test_a_measurement_with_warnings_exports_as_csv(tmp_path):
    """The Heyn widget's CSV export formatted every list of the summary as numbers, so a
    measurement with a warning (no boundary crossed, few intersections) failed to export
    ("Unknown format code 'g' for object of type 'str'")."""
    from napari_srmat.widgets.export import export_csv
    from napari_srmat.widgets.layers import HeynMeasurement, heyn_statistics

    m = np.zeros((100, 100), bool)
    m[:, 50] = True
    for mask in (np.zeros_like(m), m):
        res = measure_intercepts(mask, pattern="random", n_lines=3, seed=2)
        meas = HeynMeasurement(res, heyn_statistics(res))
        assert meas.stats["warnings"]
        text = export_csv(tmp_path / "h.csv", meas).read_text()
        row = [ln for ln in text.splitlines() if ln.startswith("# warnings,")]
        assert row and meas.stats["warnings"][0] in row[0]


def test_csv_export_warnings_read_back_whole(tmp_path):
    """The Heyn widget's CSV export joined the warnings with ";" in one unquoted cell,
    but a warning holds ";" and "," itself (E112's few-intersections advice): a reader
    could not split them back. Each warning is now a row of its own, quoted by the csv
    module (the specimen export's rule, widgets.export.write_summary_rows).

    An interval was one cell "low;high" to 6 digits, which no CSV reader gives back as
    numbers, while the Specimen tab's CSV gave two numeric columns: it is now two cells
    ``<key>_low`` and ``<key>_high`` to full precision, empty without an interval
    (widgets.export.interval_cells, the one rule of both exports)."""
    import csv

    import pandas as pd

    from napari_srmat.widgets.export import export_csv
    from napari_srmat.widgets.layers import HeynMeasurement, heyn_statistics

    m = np.zeros((100, 100), bool)
    m[:, 50] = True
    res = measure_intercepts(m, pattern="random", n_lines=3, seed=2)
    meas = HeynMeasurement(res, heyn_statistics(res))
    meas.stats["warnings"].append('a second one, with "quotes"; and more')
    warnings = meas.stats["warnings"]
    assert len(warnings) == 2 and ";" in warnings[0] and "," in warnings[0]
    path = export_csv(tmp_path / "h.csv", meas)
    rows = list(csv.reader(path.read_text().splitlines()))
    assert [r[1:] for r in rows if r[0] == "# warnings"] == [[w] for w in warnings]
    # an interval's ends are two numeric cells, as written (no pixel size: none in µm,
    # no G); the table above loads as before
    summary = {r[0][2:]: r[1:] for r in rows if r[0].startswith("# ")}
    assert "mean_intercept_ci95_px" not in summary
    lo, hi = meas.stats["mean_intercept_ci95_px"]
    assert summary["mean_intercept_ci95_px_low"] == [repr(lo)]
    assert summary["mean_intercept_ci95_px_high"] == [repr(hi)]
    for key in ("mean_intercept_ci95_um", "astm_g_ci95"):
        assert summary[f"{key}_low"] == summary[f"{key}_high"] == [""]
    table = pd.read_csv(path, comment="#")
    assert list(table.columns) == ["line", "length_px", "count"] and len(table) == 3
    assert all(pd.api.types.is_numeric_dtype(table[c]) for c in table.columns)


def test_srmat_heyn_pools_drawn_lines_by_the_count_their_rows_use(tmp_path, capsys):
    """`srmat heyn --pattern segments`: each row's ℓ̄ scores a boundary touched by a line's
    end 1/2 (E112), but the pooled ℓ̄ and the fields' N_L divided by the run count, so one
    mask with a line across two 20 px grains read 20 px in its row and 13.33 px pooled.
    The pooled figures now use the rows' count P (``intersection_count``)."""
    from PIL import Image

    from napari_srmat.cli import main

    m = np.zeros((40, 61), np.uint8)
    m[:, [10, 30, 50]] = 255  # grains 20 px wide
    Image.fromarray(m).save(tmp_path / "a.png")
    Image.fromarray(np.ascontiguousarray(m[:, ::-1])).save(tmp_path / "b.png")
    segs = tmp_path / "lines.json"
    # ends on boundaries (P = 1/2 + 1 + 1/2 over 40 px), ends inside grains (P = 3 over 50)
    segs.write_text(json.dumps([[[10, 10], [10, 50]], [[30, 5], [30, 55]]]))
    args = ["--pattern", "segments", "--segments", str(segs)]
    assert main(["heyn", str(tmp_path / "a.png"), *args, "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    row = one["per_image"][0]
    assert row["n_intersections"] == 6 and row["intersection_count"] == 5
    assert row["mean_intercept_px"] == pytest.approx(90 / 5)
    assert one["mean_intercept_px"] == pytest.approx(row["mean_intercept_px"])
    assert one["intersection_count"] == pytest.approx(5)
    paths = [str(tmp_path / n) for n in ("a.png", "b.png")]
    assert main(["heyn", *paths, *args, "--json"]) == 0
    two = json.loads(capsys.readouterr().out)
    rows = two["per_image"]
    assert two["mean_intercept_px"] == pytest.approx(
        sum(r["total_length_px"] for r in rows) / sum(r["intersection_count"] for r in rows))
    assert two["fields_mean_n_l_per_px"] == pytest.approx(
        np.mean([r["intersection_count"] / r["total_length_px"] for r in rows]))
    assert main(["heyn", paths[0], *args]) == 0
    text = capsys.readouterr().out
    assert "18.00 px (5 intersections" in text and "pooled: mean intercept 18.00 px" in text


def test_circles_pattern_geometry_and_known_count():
    shape = (401, 401)
    paths, closed = make_pattern(shape, "circles", margin=0.0)
    assert closed.all() and len(paths) == 3
    radii = [np.hypot(*(p - p.mean(axis=0)).T).mean() for p in paths]
    assert radii[0] == pytest.approx(200, rel=0.01)
    # E112 Abrams: three concentric, *equally spaced* circles of 500 mm in all (diameters
    # 79.58, 53.05, 26.53 mm: circumferences 250, 166.7, 83.3 mm, radii 3 : 2 : 1)
    assert radii[1] / radii[0] == pytest.approx(53.05 / 79.58, rel=0.01)
    assert radii[2] / radii[0] == pytest.approx(26.53 / 79.58, rel=0.01)
    assert radii[0] - radii[1] == pytest.approx(radii[1] - radii[2], rel=0.01)
    assert sum(radii) / radii[0] == pytest.approx(500 / 250, rel=0.01)
    # a single vertical line through the centre: every circle crosses it twice
    m = np.zeros(shape, bool)
    m[:, 200] = True
    r = measure_intercepts(m, pattern="circles", margin=0.0)
    assert r.per_line_count.tolist() == [2, 2, 2]
    circumference = 2 * math.pi * sum(radii)
    assert r.total_length_px == pytest.approx(circumference, rel=0.01)


def test_three_circles_and_random_lines_on_stripes_match_a_hand_count():
    """E112 intercept counts by hand on 1 px stripes 10 px apart (columns 5, 15, ...):
    a circle of radius R crosses each stripe within R of its centre twice and has no
    ends (no half counts); a straight line crosses each stripe between its ends once and
    scores ½ for a stripe its end lies on (E112 scoring); ℓ̄ = ΣL / ΣP."""
    m = np.zeros((200, 200), bool)
    m[:, 5::10] = True
    stripes = np.arange(5, 200, 10)
    r = measure_intercepts(m, pattern="circles", margin=0, triple_points=True)
    radii = [99.5 * c / 250.0 for c in (250.0, 166.7, 83.3)]
    hand = [2 * int(np.sum(np.abs(stripes - 99.5) < R)) for R in radii]
    assert hand == [40, 28, 12]
    assert r.per_line_intersections.tolist() == hand and r.n_line_end_touches == 0
    length = sum(float(np.hypot(*np.diff(p, axis=0).T).sum()) for p in r.paths)
    assert r.mean_intercept_px == pytest.approx(length / 80)
    assert r.mean_intercept_px == pytest.approx(math.pi * 10 / 2, rel=0.01)  # πa/2
    r = measure_intercepts(m, pattern="random", n_lines=200, margin=0.05, triple_points=True)
    hand = []
    for p in r.paths:
        c0, c1 = sorted(p[:, 1])
        inside = np.sum((stripes - 0.5 >= c0) & (stripes + 0.5 <= c1))
        at_end = np.sum([(s - 0.5 < c < s + 0.5) for s in stripes for c in (c0, c1)])
        hand.append(inside + 0.5 * at_end)
    assert r.per_line_intersections.tolist() == hand
    assert sum(hand) == 2099.5  # some ends do lie on a stripe
    assert r.mean_intercept_px == pytest.approx(r.total_length_px / sum(hand))


def test_closed_loop_run_through_start_counts_once():
    m = np.zeros((101, 101), bool)
    m[50, :] = True  # the circles start at angle 0 -> the point (row c, col c + R) lies on it
    r = measure_intercepts(m, pattern="circles", margin=0.0)
    assert r.per_line_count.tolist() == [2, 2, 2]


def test_rasterized_paths_are_4_connected_and_inside():
    rng = np.random.default_rng(0)
    paths = [rng.uniform(-10, 70, (rng.integers(2, 5), 2)) for _ in range(50)]
    r, c, pid = rasterize_paths(paths, (60, 60))
    assert r.min() >= 0 and c.min() >= 0 and r.max() < 60 and c.max() < 60
    paths_in = [np.clip(p, 0, 59) for p in paths]
    r, c, pid = rasterize_paths(paths_in, (60, 60))
    same = pid[1:] == pid[:-1]
    steps = np.abs(np.diff(r)) + np.abs(np.diff(c))
    assert np.all(steps[same] == 1)


def test_random_pattern_is_seeded_and_inside_margin_box():
    a, _ = make_pattern((200, 300), "random", n_lines=40, seed=7, margin=0.1)
    b, _ = make_pattern((200, 300), "random", n_lines=40, seed=7, margin=0.1)
    c, _ = make_pattern((200, 300), "random", n_lines=40, seed=8, margin=0.1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
    pts = np.concatenate(a)
    assert pts[:, 0].min() >= 0.1 * 199 - 1e-9 and pts[:, 0].max() <= 0.9 * 199 + 1e-9
    assert pts[:, 1].min() >= 0.1 * 299 - 1e-9 and pts[:, 1].max() <= 0.9 * 299 + 1e-9
    # every line reaches the box border at both ends
    on_border = [
        np.isclose(p[:, 0], 0.1 * 199)
        | np.isclose(p[:, 0], 0.9 * 199)
        | np.isclose(p[:, 1], 0.1 * 299)
        | np.isclose(p[:, 1], 0.9 * 299)
        for p in a
    ]
    assert all(ob.all() for ob in on_border)


# ------------------------------------------------------------------ stereology
def test_random_estimator_converges_to_true_intercept_of_tessellation():
    from napari_srmat.synth import generate_microstructure

    ms = generate_microstructure(
        (1024, 1024),
        mean_grain_size_px=24,
        seed=4,
        boundary_width=1,
        texture=0,
        scratches=0,
        noise=0,
        blur=0,
        inclusions=0,
    )
    r = measure_intercepts(ms.boundaries, pattern="random", n_lines=600, margin=0, skeletonize=True)
    # a boundary mask cannot resolve corner clips shorter than a pixel: a few % high at most
    assert r.mean_intercept_px == pytest.approx(ms.mean_intercept_px, rel=0.06)
    g = measure_intercepts(ms.boundaries, pattern="grid", n_lines=100, margin=0, skeletonize=True)
    assert g.mean_intercept_px == pytest.approx(ms.mean_intercept_px, rel=0.06)
    # more lines, smaller confidence interval
    r_small = measure_intercepts(ms.boundaries, pattern="random", n_lines=60, margin=0)
    assert r.relative_accuracy_pct < r_small.relative_accuracy_pct


# ---------------------------------------------------------------------- ASTM
@pytest.mark.parametrize(
    "g, lbar_mm",
    [(0.0, 0.320), (1.0, 0.226), (3.0, 0.113), (5.0, 0.0566), (7.0, 0.0283), (10.0, 0.0100)],
)
def test_astm_g_matches_e112_table(g, lbar_mm):
    assert astm_grain_size_number(lbar_mm) == pytest.approx(g, abs=0.02)
    assert mean_intercept_from_astm_g(g) == pytest.approx(lbar_mm, rel=0.003)


def test_pixel_size_gives_um_and_g():
    m = stripes((200, 200), 10)
    r = measure_intercepts(m, pattern="grid", n_lines=10, pixel_size_um=2.0)
    assert r.mean_intercept_um == pytest.approx(r.mean_intercept_px * 2.0)
    assert r.astm_g == pytest.approx(-6.643856 * math.log10(r.mean_intercept_um / 1000) - 3.288)
    d = r.to_dict()
    assert json.loads(json.dumps(d))["astm_g"] == pytest.approx(r.astm_g)


def test_a_y_x_pixel_size_is_refused_in_words_that_name_the_pair():
    """measure_intercepts / measure_grain_size take one pixel size; a (Y, X) pair (what
    super_resolve, predict_boundaries and write_ome_zarr take) was refused as 'must be a
    finite positive number, got (0.5, 0.5)', naming neither the pair nor square pixels
    (bad-input sweep). Now the message says which one size to give, or that the pixels
    are not square (io.check_pixel_size_yx's rule); a bad entry is named as before."""
    from napari_srmat.grainsize import measure_grain_size
    from napari_srmat.io import PixelSizeError

    m = stripes((200, 200), 10)
    square = r"^pixel_size_um takes one size here, got the pair \(0\.5, 0\.5\): give 0\.5$"
    with pytest.raises(PixelSizeError, match=square):
        measure_intercepts(m, pixel_size_um=(0.5, 0.5))
    with pytest.raises(PixelSizeError, match=square.replace(r"\(", r"\[").replace(r"\)", r"\]")):
        measure_grain_size(m, mask=True, pixel_size_um=[0.5, 0.5])
    msg = (r"^pixel_size_um \(Y, X\) = \(0\.5, 0\.25\) µm is not square: this takes one "
           r"size, for square pixels; resample the image to square pixels first$")
    with pytest.raises(PixelSizeError, match=msg):
        measure_intercepts(m, pixel_size_um=(0.5, 0.25))
    with pytest.raises(PixelSizeError, match=msg):
        measure_grain_size(m, mask=True, pixel_size_um=(0.5, 0.25))
    with pytest.raises(PixelSizeError, match=r"pixel_size_um \(X\) must be a finite"):
        measure_intercepts(m, pixel_size_um=(0.5, -1))


def test_confidence_interval_student_t():
    vals = [1.0, 2.0, 3.0, 4.0]
    mean, half, ra = confidence_interval(vals)
    # t(0.975, 3) = 3.182446
    assert mean == 2.5
    assert half == pytest.approx(3.182446 * np.std(vals, ddof=1) / 2, rel=1e-5)
    assert ra == pytest.approx(100 * half / 2.5)
    assert math.isnan(confidence_interval([1.0])[1])


# ---------------------------------------------------------------- heyn_error
def test_heyn_error_pairs_images():
    gt = [stripes((200, 200), 10), stripes((200, 200), 20)]
    pred = [stripes((200, 200), 20), stripes((200, 200), 20)]
    out = heyn_error(pred, gt, pattern="grid", n_lines=10)
    lg = [measure_intercepts(x, pattern="grid", n_lines=10).mean_intercept_px for x in gt]
    lp = [measure_intercepts(x, pattern="grid", n_lines=10).mean_intercept_px for x in pred]
    assert out["heyn_gt_px"] == pytest.approx(np.mean(lg))
    assert out["heyn_pred_px"] == pytest.approx(np.mean(lp))
    assert out["heyn_error_pct"] == pytest.approx(
        100 * abs(np.mean(lp) - np.mean(lg)) / np.mean(lg)
    )
    assert out["delta_px"] > 0
    with pytest.raises(HeynError, match="shapes differ"):
        heyn_error([np.zeros((5, 5))], [np.zeros((6, 5))])


def _grid_mask(period: int) -> np.ndarray:
    m = np.zeros((256, 256), bool)
    m[:, period // 2::period] = True
    m[period // 2::period, :] = True
    return m


def test_heyn_error_averages_both_sides_over_the_same_images():
    """Each side was averaged over its own images: a prediction that missed every
    boundary of one image read as 54 % too *short* (its other image alone against both
    true images), or as exact (0 %) when the images had the same truth. Its ℓ̄ is
    unbounded there: no predicted figure is reported for the set."""
    fine, coarse, empty = _grid_mask(16), _grid_mask(64), np.zeros((256, 256), bool)
    l_fine, l_coarse = (measure_intercepts(m, pattern="grid").mean_intercept_px
                        for m in (fine, coarse))
    for truth, l_truth in ((coarse, l_coarse), (fine, l_fine)):
        out = heyn_error([fine, empty], [fine, truth], pattern="grid")
        assert out["heyn_pred_px"] is None and out["heyn_error_pct"] is None
        assert out["heyn_gt_px"] == pytest.approx((l_fine + l_truth) / 2)  # every truth
        assert any("unbounded" in w and "1" in w for w in out["warnings"])
    # the truth's own empty image: left out of both means
    out = heyn_error([fine, coarse], [fine, empty], pattern="grid")
    assert out["heyn_pred_px"] == pytest.approx(l_fine)
    assert out["heyn_gt_px"] == pytest.approx(l_fine)
    assert out["heyn_error_pct"] == pytest.approx(0.0)
    assert any("left out of the true and the predicted mean" in w for w in out["warnings"])


# ------------------------------------------------------------------ bad input
def test_bad_input_raises_clear_errors(tmp_path):
    with pytest.raises(HeynError, match="2-D"):
        measure_intercepts(np.zeros((2, 3, 5, 5)))
    with pytest.raises(HeynError, match="unknown pattern"):
        measure_intercepts(np.zeros((10, 10)), pattern="spiral")
    with pytest.raises(HeynError, match="needs segments"):
        measure_intercepts(np.zeros((10, 10)), pattern="segments")
    with pytest.raises(HeynError, match="margin"):
        measure_intercepts(np.zeros((10, 10)), margin=0.7)
    bad = tmp_path / "s.csv"
    bad.write_text("r0,c0,r1,c1\n1,2,3\n")
    with pytest.raises(HeynError, match="expected r0,c0,r1,c1"):
        load_segments(bad)
    r = measure_intercepts(np.zeros((50, 50)), pattern="grid", n_lines=5)
    # no intersection: no mean intercept (None, as in the JSON), and a warning says why
    assert r.n_intersections == 0 and r.mean_intercept_px is None and not r.degenerate
    assert r.to_dict()["mean_intercept_px"] is None
    assert any("no test line crosses a boundary" in w for w in r.warnings)


def test_n_lines_must_be_an_integer():
    """n_lines=10.5 was truncated to 10 lines (and True to one line) without a word."""
    m = np.zeros((40, 40), bool)
    m[:, 5::10] = True
    for bad in (10.5, True, "10", None):
        with pytest.raises(HeynError, match=r"n_lines must be an integer.*got " + repr(bad)
                           .replace(".", r"\.")):
            measure_intercepts(m, pattern="grid", n_lines=bad)
    ref = measure_intercepts(m, pattern="grid", n_lines=10)
    assert ref.n_lines == 20  # 10 horizontal + 10 vertical
    for bad_seed in (1.5, -1, "3"):  # numpy's "SeedSequence expects int" before
        with pytest.raises(HeynError, match="seed must be an integer >= 0"):
            measure_intercepts(m, pattern="random", n_lines=5, seed=bad_seed)
    for same in (np.int64(10), 10.0):  # integral floats pass, as in sr.base.check_number
        got = measure_intercepts(m, pattern="grid", n_lines=same)
        assert got.n_lines == 20 and got.n_intersections == ref.n_intersections


def test_circles_refuse_an_n_lines_out_of_range(monkeypatch):
    """The circles ignore n_lines, and accepted n_lines=-5 (or 0) without a word, although
    random lines and the grid refuse it: a script's bad value passed until it switched
    pattern. Every pattern now holds it to check_n_lines; measure_grain_size refuses it
    before its model runs, as it does for random lines and the grid."""
    import napari_srmat.grainsize as gs
    from napari_srmat.grainsize import measure_grain_size

    m = np.zeros((40, 40), bool)
    m[:, 5::10] = True
    for bad in (-5, 0):
        with pytest.raises(HeynError, match=rf"n_lines must be an integer in \[1, .*got {bad}"):
            measure_intercepts(m, pattern="circles", n_lines=bad)
        monkeypatch.setattr(gs, "_automatic_scale",
                            lambda *a, **k: pytest.fail("the model must not run"))
        with pytest.raises(HeynError, match="n_lines"):
            measure_grain_size(np.zeros((64, 64), np.uint8), model=object(),
                               pattern="circles", n_lines=bad)
    assert measure_intercepts(m, pattern="circles", n_lines=7).n_lines == 3  # ignored


def test_segments_loaders(tmp_path):
    m = stripes((100, 100), 10)
    js = tmp_path / "s.json"
    js.write_text(json.dumps({"segments": [[[50, 0], [50, 99]], [[10, 0], [10, 50], [60, 50]]]}))
    csv = tmp_path / "s.csv"
    csv.write_text("r0,c0,r1,c1\n50,0,50,99\n")
    rj = measure_intercepts(m, pattern="segments", segments=js)
    rc = measure_intercepts(m, pattern="segments", segments=str(csv))
    assert rj.n_lines == 2 and rc.n_lines == 1
    assert rc.n_intersections == 10
    assert rj.per_line_count[0] == rc.per_line_count[0]
    # polyline: 50 px horizontal (5 stripes: cols 0..50 -> 0,10,..,50 = 6) + vertical on col 50
    assert rj.per_line_count[1] == 6
    assert rj.per_line_length_px[1] == pytest.approx(100)


# ------------------------------------------------------------------ real data
@pytest.mark.realdata
def test_real_val_masks_grid_protocol(shared_data):
    """The grid protocol on the hand-drawn tbm/val masks (a regression check of the
    measurement; tbm/test is opened only by studies/final_test_table.py)."""
    from PIL import Image

    files = sorted((shared_data / "tbm" / "val" / "masks").glob("*.png"))
    assert len(files) == 6
    vals = [
        measure_intercepts(
            np.asarray(Image.open(f)), pattern="grid", n_lines=50, margin=0.05, skeletonize=True
        ).mean_intercept_px
        for f in files
    ]
    assert np.mean(vals) == pytest.approx(23.9, abs=1.0)


def test_fast_engine_matches_reference_rasterizer():
    """The batched flat-index engine equals the plain (row, col) reference path."""
    import napari_srmat.metrics.heyn as H
    from napari_srmat.synth import generate_microstructure

    m = generate_microstructure(
        (200, 200), mean_grain_size_px=14, seed=1, boundary_width=1
    ).boundaries
    rng = np.random.default_rng(0)
    cases = [H.make_pattern(m.shape, p, n_lines=60, seed=3) for p in ("random", "grid", "circles")]
    polys = [rng.uniform(-30, 230, (rng.integers(2, 6), 2)) for _ in range(60)]
    cases.append((polys, np.zeros(len(polys), bool)))
    for paths, closed in cases:
        _assert_fast_engine_counts_as_the_reference(m, paths, closed)


def _assert_fast_engine_counts_as_the_reference(m, paths, closed):
    import napari_srmat.metrics.heyn as H

    tilted = np.array([bool(np.all(np.diff(p, axis=0) != 0, axis=1).any()) for p in paths])
    ri, ci, pid = rasterize_paths(paths, m.shape)
    ref = _count_runs(m, ri, ci, pid, len(paths), closed, tilted)[0]
    fast = H._measure_paths(m, paths, closed, tilted)[0]
    assert np.array_equal(ref, fast)


def test_degenerate_is_a_json_bool_in_every_result_and_repr_is_short():
    """``degenerate`` was numpy's bool: ``compare_intercepts`` rows (the ``per_image`` rows
    of the boundary evaluation) failed ``json.dumps`` ("Object of type bool is not JSON
    serializable"), ``to_dict()`` left it out (a withheld figure's reason only in the
    warnings text), and printing a result dumped every per-line array."""
    from napari_srmat.metrics.heyn import compare_intercepts

    grid = np.zeros((64, 64), bool)
    grid[::8] = True
    grid[:, ::8] = True
    full = np.ones((64, 64), bool)
    row = json.loads(json.dumps(compare_intercepts(grid, full)))
    assert row["pred_degenerate"] is False and row["gt_degenerate"] is True
    r = measure_intercepts(full)
    assert type(r.degenerate) is bool and r.degenerate
    assert json.loads(json.dumps(r.to_dict()))["degenerate"] is True
    assert measure_intercepts(grid).to_dict()["degenerate"] is False
    assert len(repr(measure_intercepts(grid))) < 800  # no per-line arrays


def test_a_micrograph_given_as_the_mask_is_warned(tmp_path, capsys):
    """A grey uint8 micrograph passed to measure_intercepts was binarized > 127 and
    measured without a word; a 0/255 mask, also saved as JPEG, is not warned."""
    import imageio.v3 as iio

    from napari_srmat.synth import generate_microstructure

    ms = generate_microstructure((256, 256), mean_grain_size_px=20, seed=0)
    grey = ms.image[..., 0]
    assert grey.dtype == np.uint8
    res = measure_intercepts(grey)
    assert any("looks like a micrograph" in w for w in res.warnings)
    mask = np.where(ms.boundaries, 255, 0).astype(np.uint8)
    iio.imwrite(tmp_path / "mask.jpg", mask, quality=75)
    jpeg = iio.imread(tmp_path / "mask.jpg")
    assert len(np.unique(jpeg)) > 2  # JPEG noise
    for m in (mask, jpeg):
        assert not any("micrograph" in w for w in measure_intercepts(m).warnings)
    # the same from a file: read_mask (srmat heyn) says so too, in the rows' warnings
    import json

    from napari_srmat.cli import main

    iio.imwrite(tmp_path / "scan.png", grey)
    with pytest.warns(UserWarning, match="scan.png: .*looks like a micrograph"):
        from napari_srmat.io import read_mask

        read_mask(tmp_path / "scan.png")
    capsys.readouterr()
    assert main(["heyn", str(tmp_path / "scan.png"), str(tmp_path / "mask.jpg"),
                 "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["per_image"]
    warned = [any("looks like a micrograph" in w for w in r["warnings"]) for r in rows]
    assert warned == [True, False]


def test_mid_grey_check_reads_a_lazy_mask_once_and_in_bounded_memory(monkeypatch):
    """The mid-grey check read a Dask/Zarr mask a second time (after the mask rule) and
    compared the whole mask at once (twice its size in temporaries)."""
    import tracemalloc

    import dask.array as da

    from napari_srmat.io import mid_grey_fraction

    m = np.zeros((2000, 1000), np.uint8)
    m[:, 3::10] = 255
    m[::10, :] = 255
    m[:500, :500] = 128

    class Counted:  # a lazy source that counts the blocks read from it
        shape, dtype, ndim = m.shape, m.dtype, 2
        reads = 0

        def __getitem__(self, key):
            Counted.reads += 1
            return m[key]

    lazy = da.from_array(Counted(), chunks=(500, 500), meta=np.empty((0, 0), np.uint8))
    r = measure_intercepts(lazy, pattern="grid", n_lines=5)
    assert Counted.reads == lazy.npartitions  # each block once
    assert r.mean_intercept_px == measure_intercepts(m, pattern="grid", n_lines=5).mean_intercept_px
    monkeypatch.setattr("napari_srmat.io._mask._GREY_BLOCK_PX", 1 << 16)
    tracemalloc.start()
    try:
        assert mid_grey_fraction(m) == 0.125  # the 500 x 500 grey corner
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < m.nbytes // 2


def test_bad_segment_files_are_one_error_naming_the_file(tmp_path, capsys):
    """`srmat heyn --pattern segments --segments` of a folder said 'segments file not
    found', of a binary file `'utf-8' codec can't decode byte 0x89` (no file named), of
    `{"segments": 5}` 'internal error: TypeError: 'int' object is not iterable' (exit 1),
    and a bad polyline did not say which file it was in."""
    from PIL import Image

    from napari_srmat.cli import main

    (tmp_path / "dir.json").mkdir()
    (tmp_path / "bin.json").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (tmp_path / "bin.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (tmp_path / "five.json").write_text('{"segments": 5}')
    (tmp_path / "text.json").write_text('"segments"')
    (tmp_path / "poly.json").write_text('[[["a", "b"], [1, 1]]]')
    cases = {"dir.json": "is a folder, not a segments file (.json or .csv)",
             "bin.json": "not a text file", "bin.csv": "not a text file",
             "five.json": "segments must be a list of polylines",
             "text.json": "segments must be a list of polylines",
             "poly.json": "segment 0 is not numeric"}
    mask = np.zeros((32, 32), np.uint8)
    mask[::4] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    for name, told in cases.items():
        path = tmp_path / name
        with pytest.raises(HeynError) as info:
            load_segments(path)
        assert str(info.value).startswith(str(path)) and told in str(info.value), name
        rc = main(["heyn", str(tmp_path / "m.png"), "--pattern", "segments", "--segments",
                   str(path)])
        err = capsys.readouterr().err
        assert rc == 2 and err == f"srmat heyn: error: {info.value}\n", name
    with pytest.raises(FileNotFoundError, match=r"missing\.json: segments file not found$"):
        load_segments(tmp_path / "missing.json")


@pytest.mark.parametrize("threshold", [None, "0.5"])
def test_srmat_heyn_refuses_a_mask_too_large_for_memory_before_reading_it(
        tmp_path, monkeypatch, capsys, threshold):
    """`srmat heyn` of a 60000² Zarr mask read it whole (3.6 GB, then the measurement's
    working memory) before ``measure_intercepts`` could refuse it: it ran until memory ran
    out, where `srmat grain-size --mask` of the same file refused in one line at once. Now
    it is refused before any pixel is read, in one line naming the file, the memory and
    what to do, by the rule of ``measure_intercepts`` (``plan_mask_measurement``)."""
    import zarr

    from napari_srmat import estimates
    from napari_srmat.cli import main
    from napari_srmat.estimates import MEMORY_FRACTION, plan_mask_measurement

    path = tmp_path / "mosaic.zarr"
    z = zarr.open(str(path), mode="w", shape=(256, 256), chunks=(64, 64), dtype="uint8")
    m = np.zeros((256, 256), np.uint8)
    m[:, 3::10] = 255
    m[::10, :] = 255
    z[:] = m
    reads = count_zarr_reads(monkeypatch)
    need = plan_mask_measurement(m.shape, m.dtype, to_float=threshold is not None).output_bytes
    monkeypatch.setattr(estimates, "available_memory_bytes",
                        lambda: int(need / MEMORY_FRACTION) - 1)
    args = ["heyn", str(path)] + ([] if threshold is None else ["--threshold", threshold])
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(f"srmat heyn: error: {path}: measure_intercepts needs ")
    assert err.endswith("available: measure fields or crops of it")
    assert reads == []
    # with the memory for it: measured as before
    monkeypatch.setattr(estimates, "available_memory_bytes",
                        lambda: int(need / MEMORY_FRACTION) + 1)
    assert main(args + ["--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mean_intercept_px"] > 0


def test_cli_tells_what_reading_told_once(tmp_path, capsys):
    """The memory check before reading (f5377ca) opened the file once more and its read
    warnings ("the TIFF holds 2 images ...") were shown twice, once outside the --json
    row; they are told once, by the read that fills the row."""
    import json
    import warnings

    import tifffile

    from napari_srmat.cli import main

    mask = np.zeros((64, 64), np.uint8)
    mask[::8] = 255
    with tifffile.TiffWriter(tmp_path / "two.tif") as tif:
        tif.write(np.zeros((16, 16), np.uint8))
        tif.write(mask)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing escapes the command's own reporting
        assert main(["heyn", str(tmp_path / "two.tif"), "--json"]) == 0
    out, err = capsys.readouterr()
    row = json.loads(out)["per_image"][0]
    assert sum("holds 2 images" in w for w in row["warnings"]) == 1
    assert err.count("holds 2 images") == 1


@pytest.mark.parametrize("extra", [[], ["--threshold", "0.5"], ["--pixel-size-um", "2"]])
def test_srmat_heyn_decodes_each_mask_once(tmp_path, monkeypatch, capsys, extra):
    """`srmat heyn` opened each mask twice, once for the memory check (f5377ca) and once
    to read it (three times with a --pixel-size-um other than the file's): a large PNG or
    TIFF was decoded two or three times. Each file is opened once, checked, and read
    from that; the figures are those of measure_intercepts on the file's pixels."""
    from _masks import save_mask

    from napari_srmat.cli import main
    from napari_srmat.io import _read, read_mask

    m = stripes((96, 96), 8).astype(np.uint8) * 255
    paths = [tmp_path / "a.png", tmp_path / "b.tif"]
    # both files 1 µm per pixel: masks with and without a pixel size exit 2 (f683aa9f)
    save_mask(paths[0], m, pixel_size_um=1.0)
    save_mask(paths[1], m.T.copy(), pixel_size_um=1.0)
    opened = []
    real = _read._read_by_format
    monkeypatch.setattr(_read, "_read_by_format",
                        lambda path, *a, **k: opened.append(path) or real(path, *a, **k))
    assert main(["heyn", *map(str, paths), "--pattern", "grid", "--lines", "7", "--json",
                 *extra]) == 0
    assert sorted(opened) == sorted(paths)  # one decode per file
    rows = json.loads(capsys.readouterr().out)["per_image"]
    for path, row in zip(paths, rows):
        expected = measure_intercepts(read_mask(path), pattern="grid", n_lines=7)
        assert row["mean_intercept_px"] == pytest.approx(expected.mean_intercept_px)
        assert row["n_intersections"] == expected.n_intersections
    if extra[:1] == ["--pixel-size-um"]:  # the files' own sizes are still compared
        assert all(any("records 1 µm per pixel" in w for w in row["warnings"]) for row in rows)


def test_srmat_heyn_counts_a_colour_masks_channels_in_its_memory_plan(
        tmp_path, monkeypatch, capsys):
    """plan_mask_measurement (cli.check_mask_fits) looked only at height and width: an
    RGBA mask file, read with its four channels and turned into a bool mask per colour
    channel, was planned as a grey one, so a mask that did not fit was read anyway. The
    channels are counted as the reader holds them: with memory for the grey mask only,
    the RGBA one is refused before any pixel is read; with memory for its plan, it is
    measured as its grey mask is (the mask rule's channel rule)."""
    import zarr

    from napari_srmat import estimates
    from napari_srmat.cli import main
    from napari_srmat.estimates import MEMORY_FRACTION, plan_mask_measurement

    m = np.zeros((256, 256), np.uint8)
    m[:, 3::10] = 255
    m[::10, :] = 255
    rgba = np.dstack([m, np.zeros_like(m), np.zeros_like(m), np.full_like(m, 255)])
    path = tmp_path / "rgba.zarr"
    zarr.open(str(path), mode="w", shape=rgba.shape, chunks=(64, 64, 4),
              dtype="uint8")[:] = rgba
    np.save(tmp_path / "grey.npy", m)
    reads = count_zarr_reads(monkeypatch)
    grey_need = plan_mask_measurement(m.shape, m.dtype).output_bytes
    monkeypatch.setattr(estimates, "available_memory_bytes",
                        lambda: int(grey_need / MEMORY_FRACTION) + 1)
    assert main(["heyn", str(path)]) == 2
    # what reading told (its channels) is told before the one error line (186abe3)
    note, err = capsys.readouterr().err.strip().splitlines()
    assert reads == []
    assert note.startswith(f"srmat heyn: warning: {path}: 4 channels "), note
    assert err.startswith(f"srmat heyn: error: {path}: measure_intercepts needs ")
    need = plan_mask_measurement(rgba.shape, rgba.dtype).output_bytes
    monkeypatch.setattr(estimates, "available_memory_bytes",
                        lambda: int(need / MEMORY_FRACTION) + 1)
    results = []
    for p in (path, tmp_path / "grey.npy"):
        assert main(["heyn", str(p), "--json"]) == 0
        results.append(json.loads(capsys.readouterr().out)["mean_intercept_px"])
    assert reads and results[0] == results[1] > 0


@pytest.mark.parametrize("channels", [2, 3, 4])
def test_colour_mask_plan_covers_what_reading_it_allocates(tmp_path, channels):
    """The memory a colour mask file takes to read and turn into a bool mask (read_mask,
    as srmat heyn --threshold and the --twins / --exclusions masks are read; traced
    allocations) is within its plan; the plan of its height and width alone, the old
    count, was below it for an RGB(A) mask (float32, 0/1)."""
    import tracemalloc
    import warnings

    import zarr

    from napari_srmat.estimates import plan_mask_measurement
    from napari_srmat.io import open_mask_file, read_mask

    side = 512
    m = np.zeros((side, side), np.float32)
    m[:, ::7] = 1
    a = np.repeat(m[..., None], channels, axis=-1)
    if channels in (2, 4):
        a[..., -1] = 1  # opaque alpha
    path = tmp_path / "mask.zarr"
    zarr.open(str(path), mode="w", shape=a.shape, chunks=(128, 128, channels),
              dtype=a.dtype)[:] = a
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # grey+alpha: "2 channels that are not grey..."
        mic = open_mask_file(path)
    read_mask(mic)  # once untraced: first-use allocations of the readers are not the mask's
    tracemalloc.start()
    try:
        mask = read_mask(mic)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.array_equal(mask, m > 0)
    assert plan_mask_measurement(a.shape, a.dtype).output_bytes >= peak
    if channels > 2:
        assert plan_mask_measurement(a.shape[:2], a.dtype).output_bytes < peak


def test_count_keys_mean_the_same_in_heyn_and_field_outputs(tmp_path, capsys):
    """`n_intersections` is the crossings in `srmat heyn --json` (and HeynResult.to_dict)
    but P in measure_field rows (`srmat grain-size --method`): 3 and 2 for the same line
    over the same mask. Both outputs now also carry `n_crossings` and
    `intersection_count`, which mean the same in each (HeynResult.counts); the old key
    keeps each output's meaning for existing scripts (docs/standards.md)."""
    from PIL import Image

    from napari_srmat.cli import main
    from napari_srmat.metrics.standards import measure_field
    from napari_srmat.widgets.layers import heyn_statistics

    m = np.zeros((40, 61), np.uint8)
    m[:, [10, 30, 50]] = 255  # grains 20 px wide, no triple points
    Image.fromarray(m).save(tmp_path / "a.png")
    lines = [[[10, 10], [10, 50]], [[30, 5], [30, 55]]]  # ends on boundaries; inside grains
    (tmp_path / "lines.json").write_text(json.dumps(lines))
    assert main(["heyn", str(tmp_path / "a.png"), "--pattern", "segments", "--segments",
                 str(tmp_path / "lines.json"), "--json"]) == 0
    pooled = json.loads(capsys.readouterr().out)
    field = measure_field(m > 0, pattern="segments", segments=np.array(lines, float))
    widget = heyn_statistics(measure_intercepts(m > 0, pattern="segments", segments=lines))
    # 6 boundary runs crossed; P = 1/2 + 1 + 1/2 + 3 (a line's end on a boundary: 1/2)
    for out in (pooled, pooled["per_image"][0], field, widget):
        assert out["n_crossings"] == 6 and out["intersection_count"] == 5
    assert pooled["per_image"][0]["intercept_count"] == field["intercept_count"]
    # the old key, as each output had it
    assert pooled["n_intersections"] == pooled["per_image"][0]["n_intersections"] == 6
    assert widget["n_intersections"] == 6
    assert field["n_intersections"] == 5


def test_srmat_heyn_pooled_carries_every_count_key_summed(tmp_path, capsys):
    """docs/standards.md says the keys of HeynResult.counts() mean the same in `srmat heyn
    --json` per image and pooled, but the pooled object had n_crossings and
    intersection_count only (KeyError on intercept_count, n_triple_points,
    n_line_end_touches). It has every one, the sum of the images' rows."""
    from PIL import Image

    from napari_srmat.cli import main

    m = np.zeros((40, 61), np.uint8)
    m[:, [10, 30, 50]] = 255
    m[20, 10:31] = 255  # a boundary across: two triple points
    Image.fromarray(m).save(tmp_path / "a.png")
    Image.fromarray(m[:, ::-1].copy()).save(tmp_path / "b.png")
    lines = [[[10, 10], [10, 50]], [[5, 20], [35, 20]]]  # ends on boundaries; across one
    (tmp_path / "lines.json").write_text(json.dumps(lines))
    assert main(["heyn", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--pattern",
                 "segments", "--segments", str(tmp_path / "lines.json"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    keys = measure_intercepts(m > 0, pattern="segments", segments=lines).counts()
    for key in keys:
        assert out[key] == sum(r[key] for r in out["per_image"]), key
    assert out["n_line_end_touches"] > 0 and out["intercept_count"] > 0
    assert out["n_intersections"] == out["n_crossings"]


def _y_junction(n: int = 21) -> np.ndarray:
    """Three grains meeting at (10, 10) on a one-pixel skeleton: A above a horizontal
    boundary, C below it, B to the right between two diagonal boundaries."""
    m = np.zeros((n, n), bool)
    m[10, :11] = True
    for k in range(1, n - 10):
        m[10 - k, 10 + k] = True
        m[10 + k, 10 + k] = True
    return m


def test_a_tilted_line_through_a_grains_corner_crosses_two_boundaries():
    # Just right of the junction a line down column 11 crosses A|B at (9, 11), one
    # pixel of grain B at (10, 11) and B|C at (11, 11): two boundaries. The zig-zag
    # bridge (two runs two pixels apart, 8-connected through (10, 10)) joined them into
    # one crossing on tilted lines only, so the same line read 2 drawn vertical and 1
    # tilted by 1/50 px per px: random lines lost crossings at every triple point.
    m = _y_junction()
    assert measure_intercepts(m, pattern="segments",
                              segments=[[[0, 11], [20, 11]]]).n_intersections == 2
    tilted = measure_intercepts(m, pattern="segments", segments=[[[0, 10.8], [20, 11.2]]])
    assert tilted.n_intersections == 2
    # E112 scoring: two plain crossings (2), not two triple points (3) nor one (1.5)
    e112 = measure_intercepts(m, pattern="segments", segments=[[[0, 10.8], [20, 11.2]]],
                              triple_points=True)
    assert (e112.intersection_count, e112.n_triple_points) == (2, 0)
    # the oracle counts the same
    rows = np.arange(21)
    counts, *_ = _count_runs(m, rows, np.full(21, 11), np.zeros(21, np.int64), 1,
                             np.array([False]), tilted=np.array([True]))
    assert counts.tolist() == [2]


def test_a_shallow_line_along_a_boundary_into_a_junction_crosses_two_boundaries():
    # The line from (9, 0) to (12.5, 24) leaves grain A at (9, 3), runs along the A|C
    # boundary for 8 px to the junction (10, 10), steps into C's corner at (11, 10),
    # crosses the C|B boundary at (11, 11) into B at (11, 12): two boundaries. The
    # third-grain rule looked for the grains of (9, 3) and (11, 12) in the 9 x 9 window
    # around (11, 10) only, and (9, 3) is 7 px away: it could not tell and joined the
    # two runs, 1 crossing. The window now reaches the pixels before and after.
    m = _y_junction(25)
    seg = [[[9.0, 0.0], [12.5, 24.0]]]
    assert measure_intercepts(m, pattern="segments", segments=seg).n_intersections == 2
    e112 = measure_intercepts(m, pattern="segments", segments=seg, triple_points=True)
    assert (e112.intersection_count, e112.n_triple_points) == (2, 0)
    rows, cols, pid = rasterize_paths([np.array(seg[0])], m.shape)
    counts, *_ = _count_runs(m, rows, cols, pid, 1, np.array([False]),
                             tilted=np.array([True]))
    assert counts.tolist() == [2]


@pytest.mark.parametrize("width", [2, 3])
def test_fast_engine_matches_reference_on_thick_boundaries_and_shallow_lines(width):
    """Runs along 2-3 px boundaries are long: the third-grain rule looks farther."""
    from napari_srmat.synth import generate_microstructure

    m = generate_microstructure((200, 200), mean_grain_size_px=14, seed=2,
                                boundary_width=width).boundaries
    rng = np.random.default_rng(1)
    # nearly along rows (slope up to 0.15), either way, and the same along columns
    step = rng.choice([-220.0, 220.0], 40)[:, None] * np.c_[rng.uniform(-0.15, 0.15, 40),
                                                             np.ones(40)]
    start = rng.uniform(-10, 210, (40, 2))
    paths = [np.array([a, a + d]) for a, d in zip(start, step)]
    paths += [p[:, ::-1] for p in paths]
    _assert_fast_engine_counts_as_the_reference(m, paths, np.zeros(len(paths), bool))


def test_a_mask_narrower_than_the_third_grain_window_is_measured():
    # Since the window reaches the pixels before and after the runs (radius up to
    # MAX_GRAIN_WINDOW_RADIUS), a mask shorter or narrower than the window raised
    # "ValueError: window shape cannot be larger than input array shape": this line
    # along a 2 px boundary (runs 40 px long) on an 8 x 130 mask.
    m = np.zeros((8, 130), bool)
    m[3:5, :] = True
    m[3, 40] = False
    seg = [[[2.0, 0.0], [5.0, 120.0]]]
    assert measure_intercepts(m, pattern="segments", segments=seg).n_intersections == 1
    assert measure_intercepts(m.T, pattern="segments",
                              segments=[[[0.0, 2.0], [120.0, 5.0]]]).n_intersections == 1
    rows, cols, pid = rasterize_paths([np.array(seg[0])], m.shape)
    counts, *_ = _count_runs(m, rows, cols, pid, 1, np.array([False]),
                             tilted=np.array([True]))
    assert counts.tolist() == [1]


@pytest.mark.parametrize("seed", range(6))
def test_fast_engine_matches_reference_on_small_and_narrow_masks(seed):
    """Strips a few pixels to a few dozen high (or wide), shallow 1-3 px boundaries with
    gaps and shallow lines: long runs, windows larger than the mask on one side."""
    rng = np.random.default_rng(seed)
    for _ in range(4):
        h, w = int(rng.integers(3, 40)), int(rng.integers(60, 300))
        m = np.zeros((h, w), bool)
        for _ in range(int(rng.integers(1, 4))):
            r0, slope = rng.uniform(0, h), rng.uniform(-0.05, 0.05)
            rows = np.floor(r0 + slope * np.arange(w)).astype(int)
            for k in range(int(rng.integers(1, 4))):
                ok = (rows + k >= 0) & (rows + k < h)
                m[rows[ok] + k, np.flatnonzero(ok)] = True
        m[rng.integers(0, h, 3), rng.integers(0, w, 3)] = False
        n = 30
        a = np.c_[rng.uniform(-2, h + 2, n), rng.uniform(-5, w * 0.3, n)]
        b = np.c_[rng.uniform(-2, h + 2, n), rng.uniform(w * 0.7, w + 5, n)]
        paths = [np.array([p, q]) for p, q in zip(a, b)]
        for mm, pp in ((m, paths), (m.T, [p[:, ::-1] for p in paths])):
            _assert_fast_engine_counts_as_the_reference(mm, pp, np.zeros(n, bool))
            measure_intercepts(mm, pattern="random", n_lines=50, seed=seed)


def _digital_parallel_lines(side: int, alpha_deg: float, spacing: float,
                            through: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """One-pixel 8-connected digital lines at ``alpha_deg`` (clockwise from the rows,
    rows pointing down), ``spacing`` px apart, one of them through ``through`` (row,
    col): one pixel a column (a row past 45°)."""
    a = math.radians(alpha_deg)
    width = max(abs(math.cos(a)), abs(math.sin(a)))
    yy, xx = np.mgrid[:side, :side]
    s = -(xx - through[1]) * math.sin(a) + (yy - through[0]) * math.cos(a)  # normal
    return np.mod(s + width / 2, spacing) < width


def _lines_near(centre: float, alpha_deg: float, deltas_deg, half_length: float) -> list:
    """Test lines at ``alpha_deg + delta`` through three points within half a pixel of
    ``(centre, centre)``, one a delta and point, ``half_length`` px each way."""
    segs = []
    for delta in deltas_deg:
        th = math.radians(alpha_deg + delta)
        d = np.array([math.sin(th), math.cos(th)]) * half_length
        for shift in (-0.4, 0.0, 0.3):
            c = np.array([centre + shift, centre - shift / 2])
            segs.append([c - d, c + d])
    return segs


@pytest.mark.parametrize("alpha", [10.0, 25.0, 40.0])
def test_a_line_at_a_few_degrees_to_a_boundary_crosses_it_once(alpha):
    # A digital test line at 1-3° to a digital boundary weaves across its staircase:
    # its 4-connected path steps from one grain into the other and back, touching the
    # boundary every few pixels. Each touch was a run, so one crossing counted 2 to 14
    # (at 10°: 1421 runs for 34 crossings on 300 lines at 0.3°, 1771 for 385 at 3°).
    # The touches of one passage along a boundary are now one crossing.
    m = _digital_parallel_lines(201, alpha, 400.0, through=(100.0, 100.0))
    segs = _lines_near(100.0, alpha, (1.0, 2.0, 3.0, -1.5, -2.5), 70.0)
    r = measure_intercepts(m, pattern="segments", segments=segs)
    assert r.per_line_count.tolist() == [1] * len(segs)


def test_random_lines_on_tilted_parallel_lines_read_their_exact_intercept():
    # Parallel digital lines 12 px apart at 10°: along a line at θ the exact ℓ̄ is
    # 12 / |sin(θ + 10°)|, so over the random lines ΣL / Σ(L |sin| / 12). Random lines
    # read it 3.4 % short while the runs of a passage along a boundary each counted
    # (rows and columns were exact); now 0.7 % short: a line whose end falls within the
    # boundary's pixel band counts it (its end pixel lies on it), about 1 px of line
    # length per end, which the tolerance leaves room for
    # (studies/heyn_tilted_line_counting.py).
    alpha = 10.0
    m = _digital_parallel_lines(384, alpha, 12.0)
    r = measure_intercepts(m, pattern="random", n_lines=1000, seed=5, margin=0)
    theta = np.radians(r.line_angles_deg)  # counter-clockwise, rows pointing down
    cross = np.abs(np.sin(theta + math.radians(alpha)))
    exact = r.per_line_length_px.sum() / np.sum(r.per_line_length_px * cross / 12.0)
    assert r.mean_intercept_px == pytest.approx(exact, rel=0.015)


def test_fast_engine_matches_reference_on_lines_along_boundaries():
    """Passages along a boundary: the fast rule equals the one from its definition."""
    rng = np.random.default_rng(4)
    for alpha in (10.0, 40.0):
        m = _digital_parallel_lines(160, alpha, 12.0)
        th = np.radians(alpha + rng.uniform(-4, 4, 40))
        c = rng.uniform(20, 140, (40, 2))
        d = np.c_[np.sin(th), np.cos(th)] * rng.uniform(20, 90, 40)[:, None]
        paths = [np.array([a - b, a + b]) for a, b in zip(c, d)]
        _assert_fast_engine_counts_as_the_reference(m, paths, np.zeros(len(paths), bool))


@pytest.mark.parametrize("alpha", [20.0, 60.0])
def test_lines_across_lamellae_ending_inside_a_grain_count_every_lamella(alpha):
    # A band of thin lamellae 3 px apart that end inside one grain (a twin stack,
    # laths): the sides of every lamella are one grain of the passage rule's window,
    # and every pixel between two lamellae is next to one, so the passage rule of
    # dacffc6 read a line along the band as one passage visiting no new grain: 1
    # crossing per line where it crossed 7-40 lamellae. Crossings of two boundaries in
    # turn are not one passage: the lamellae count as they do where they do not end.
    full = _digital_parallel_lines(200, alpha, 3.0)
    band = np.zeros_like(full)
    band[88:112, 30:170] = full[88:112, 30:170]
    rng = np.random.default_rng(2)
    th = np.radians(rng.choice([-1, 1], 20) * rng.uniform(1, 8, 20))
    c = np.c_[rng.uniform(99, 101, 20), rng.uniform(95, 105, 20)]
    d = np.c_[np.sin(th), np.cos(th)] * 50.0
    segs = [[a - b, a + b] for a, b in zip(c, d)]
    in_band = measure_intercepts(band, pattern="segments", segments=segs)
    across = measure_intercepts(full, pattern="segments", segments=segs)
    assert in_band.per_line_count.tolist() == across.per_line_count.tolist()
    assert across.per_line_count.min() >= 7


def test_fast_engine_matches_reference_on_lamellae_ending_inside_a_grain():
    """Passages across free-ending lamellae: the fast rule equals its definition."""
    rng = np.random.default_rng(6)
    for alpha in (20.0, 60.0):
        full = _digital_parallel_lines(120, alpha, 3.0 + alpha / 60)
        m = np.zeros_like(full)
        m[45:75, 20:100] = full[45:75, 20:100]
        th = np.radians(rng.uniform(-10, 10, 30))
        c = np.c_[rng.uniform(50, 70, 30), rng.uniform(40, 80, 30)]
        d = np.c_[np.sin(th), np.cos(th)] * rng.uniform(10, 40, 30)[:, None]
        paths = [np.array([a - b, a + b]) for a, b in zip(c, d)]
        _assert_fast_engine_counts_as_the_reference(m, paths, np.zeros(len(paths), bool))


@pytest.mark.parametrize("delta", [5.0, 10.0])
def test_lines_at_a_few_degrees_to_a_twin_stack_count_each_lamella_once(delta):
    # Lamellae 3 px apart (a twin stack) crossed at 5-10 deg: each lamella is crossed
    # once, its touches (a weave) are one passage. b3988b1 took the boundary's
    # direction at a touch from every boundary pixel of the 7 x 7 window, which holds
    # 2-3 lamellae there: the axis turned across them, no touch was "along" the
    # boundary, and every touch of a weave counted (+147 % at 5 deg, +21 % at 10 deg;
    # 6fe6690: +11.5 / +4.5 %). The direction is now the touched lamella's own.
    alpha, spacing, side = 30.0, 3.0, 260
    m = _digital_parallel_lines(side, alpha, spacing, through=(129.7, 130.2))
    a = math.radians(alpha)
    rng = np.random.default_rng(3)
    segs, truth = [], 0
    for _ in range(40):
        th = a + rng.choice([-1, 1]) * math.radians(delta)
        u, v = rng.uniform(-10, 10), rng.uniform(-3, 3)
        c = np.array([129.7 + u * math.sin(a) + v * math.cos(a),
                      130.2 + u * math.cos(a) - v * math.sin(a)])
        d = np.array([math.sin(th), math.cos(th)]) * 95.0
        s_ends = [-(q[1] - 130.2) * math.sin(a) + (q[0] - 129.7) * math.cos(a)
                  for q in (c - d, c + d)]
        k = np.arange(-40, 41) * spacing
        truth += int(((k > min(s_ends)) & (k < max(s_ends))).sum())
        segs.append([c - d, c + d])
    r = measure_intercepts(m, pattern="segments", segments=segs)
    assert r.n_intersections / truth - 1 < 0.15


def _sine_boundary(amplitude: float, wavelength: float, side: tuple[int, int] = (100, 200)
                   ) -> np.ndarray:
    """A thinned one-pixel boundary between the grains above and below
    ``y = side[0] / 2 + amplitude sin(2 pi x / wavelength)``: the pixels whose 2 x 2
    window (down and right) holds both grains, as the synthetic generator draws a 1 px
    boundary, so the boundary lies half a pixel up and left of the continuous one."""
    from napari_srmat.metrics.heyn import _skeletonize

    yy, xx = np.mgrid[0:side[0] + 1, 0:side[1] + 1].astype(float)
    below = yy > side[0] / 2 + amplitude * np.sin(2 * np.pi * xx / wavelength)
    win = np.lib.stride_tricks.sliding_window_view(below, (2, 2))
    return _skeletonize(win.any(axis=(2, 3)) & ~win.all(axis=(2, 3)))


def _sine_crossings(amplitude: float, wavelength: float, seg, side_rows: int = 100) -> int:
    """Crossings of the straight segment ``seg`` with the drawn continuous boundary of
    :func:`_sine_boundary` (half a pixel up and left), sampled every 0.01 px."""
    a, b = np.asarray(seg, float)
    t = np.linspace(0.0, 1.0, int(np.hypot(*(b - a)) / 0.01))
    y, x = (a + t[:, None] * (b - a)).T + 0.5
    below = y > side_rows / 2 + amplitude * np.sin(2 * np.pi * x / wavelength)
    return int((below[1:] != below[:-1]).sum())


# A line along a boundary that wiggles about it 1.2-1.5 px every 12-16 px: every pixel of
# its path is next to the boundary, so dacffc6's passage rule read the whole line as one
# passage that visits the grains above and below: each grain counted once, 11 of 22
# crossings. The boundary crosses the line at 25-35 deg there (a weave arises at < 20 deg).
@pytest.mark.parametrize("amplitude, wavelength", [(1.5, 16.0), (1.2, 12.0)])
def test_a_line_along_a_wiggly_boundary_counts_every_crossing(amplitude, wavelength):
    m = _sine_boundary(amplitude, wavelength)
    segs = [[[49.8, 10.0], [49.3, 190.0]], [[49.25, 12.0], [49.85, 188.0]]]
    r = measure_intercepts(m, pattern="segments", segments=segs)
    truth = [_sine_crossings(amplitude, wavelength, s) for s in segs]
    assert min(truth) >= 20
    assert np.abs(r.per_line_count - truth).max() <= 1


def test_a_line_that_clips_a_grain_and_comes_back_counts_two_crossings():
    # A line 1.3 px from the mean of a boundary that wiggles 1.5 px every 24 px clips the
    # grain below at each crest (enters it and comes back) and crosses the boundary at
    # < 20 deg: one passage a crest, which visits the grain below (1 crossing) and
    # returns to the grain above, which it had seen: dacffc6 read 8 where it crosses 15.
    m = _sine_boundary(1.5, 24.0)
    segs = [[[50.0, 10.0], [49.5, 190.0]], [[49.45, 12.0], [50.05, 188.0]]]
    r = measure_intercepts(m, pattern="segments", segments=segs)
    truth = [_sine_crossings(1.5, 24.0, s) for s in segs]
    assert min(truth) >= 14
    assert np.abs(r.per_line_count - truth).max() <= 1


def test_fast_engine_matches_reference_on_wiggly_boundaries():
    """Passages along wiggly boundaries (the angle and return conditions): the fast rule
    equals its definition."""
    rng = np.random.default_rng(8)
    for amplitude, wavelength in ((1.5, 16.0), (1.5, 24.0), (0.8, 10.0)):
        m = _sine_boundary(amplitude, wavelength)
        th = np.radians(rng.uniform(-12, 12, 30))
        c = np.c_[rng.uniform(46, 53, 30), rng.uniform(60, 140, 30)]
        d = np.c_[np.sin(th), np.cos(th)] * rng.uniform(15, 55, 30)[:, None]
        paths = [np.array([a - b, a + b]) for a, b in zip(c, d)]
        _assert_fast_engine_counts_as_the_reference(m, paths, np.zeros(len(paths), bool))
