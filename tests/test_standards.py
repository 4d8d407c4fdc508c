"""Standards-conformant measurement: planimetric rules, intercept extras, twins,
exclusions, distributions (ALA, duplex), several fields (%RA) and conversions.

Every test runs on synthetic grain maps whose counts and shapes are known exactly.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats
from skimage.measure import label as cc_label

from napari_srmat.metrics.distributions import (
    ala_grains,
    distributions_figure,
    duplex_test,
    fit_gaussian_mixture_1d,
    histogram_figure,
)
from napari_srmat.metrics.grainmap import (
    boundaries_from_labels,
    grains_from_boundaries,
    merge_twins,
    triple_point_runs,
)
from napari_srmat.metrics.heyn import measure_intercepts
from napari_srmat.metrics.planimetric import (
    PlanimetricError,
    astm_g_from_grains_per_mm2,
    grains_per_mm2_from_astm_g,
    grains_per_mm2_from_iso643_g,
    iso643_g_from_grains_per_mm2,
    planimetric,
)
from napari_srmat.metrics.standards import (
    ASTM_G_TABLE_MARGIN,
    ASTM_G_TABLE_RANGE,
    astm_g_from,
    g_range_warning,
    grain_size_conversions,
    grain_size_table,
    measure_field,
    measure_specimen,
    summarize_fields,
    upgrade_summary,
)
from napari_srmat.synth import generate_microstructure, twin_traces

SYNTH = dict(texture=0, scratches=0, noise=0, blur=0, inclusions=0)


def synth(shape=(384, 384), h=24, seed=0, bw=1, **kw):
    return generate_microstructure(shape, mean_grain_size_px=h, seed=seed, boundary_width=bw,
                                   **{**SYNTH, **kw})


def exact_jeffries(labels: np.ndarray, min_area: int = 1) -> tuple[int, int, float]:
    """Jeffries count of a label map, computed independently of the library.

    Grains are the 4-connected pieces of each label (pieces smaller than ``min_area``
    are left out); a piece touching the image border is an edge grain, counted 1/2,
    except that the image's four corner pixels each count 1/4 for the piece holding it,
    which is not counted 1/2 (ASTM E112-13 on a rectangle). Returns (inside, edge,
    N_A per px²)."""
    pieces = cc_label(labels + 1, background=0, connectivity=1)
    areas = np.bincount(pieces.ravel())
    border = np.zeros(areas.size, bool)
    border[np.concatenate([pieces[0], pieces[-1], pieces[:, 0], pieces[:, -1]])] = True
    ok = areas >= min_area
    ok[0] = False
    n_inside, n_edge = int((ok & ~border).sum()), int((ok & border).sum())
    corner_pieces = [p for p in (pieces[0, 0], pieces[0, -1], pieces[-1, 0], pieces[-1, -1])
                     if ok[p]]
    n = n_inside + 0.5 * (n_edge - len(set(corner_pieces))) + 0.25 * len(corner_pieces)
    return n_inside, n_edge, n / labels.size


# ------------------------------------------------------------------ planimetric
@pytest.mark.parametrize("bw, seed", [(1, 0), (2, 1), (3, 2)])
def test_planimetric_na_matches_exact_jeffries_count(bw, seed):
    ms = synth((512, 512), h=24, seed=seed, bw=bw)
    inside, edge, exact_all = exact_jeffries(ms.labels)
    # the label map counted as it is: the same numbers
    from_labels = planimetric(labels=ms.labels)
    assert (from_labels.n_grains_inside, from_labels.n_grains_edge) == (inside, edge)
    assert from_labels.grains_per_px2 == pytest.approx(exact_all, rel=1e-12)
    # from the boundary mask (components + shared-out boundary pixels): within 3 % of
    # the exact count of the grains a mask can show (>= 5 x 5 px; the label map also
    # holds 1-20 px fragments of the digital tessellation, about 5 % of the mean area)
    from_mask = planimetric(ms.boundaries)
    exact = exact_jeffries(ms.labels, min_area=25)[2]
    assert from_mask.grains_per_px2 == pytest.approx(exact, rel=0.03)
    assert from_mask.grains_per_px2 == pytest.approx(exact_all, rel=0.06)
    assert from_mask.standard.startswith("ASTM E112")


def test_jeffries_estimates_the_true_grain_density():
    # a window of a larger structure: each grain's full area is known, so the true
    # number of grains per area is sum(area in window / full area) / window area
    H = 512
    big = synth((2 * H, 2 * H), h=24, seed=5, bw=2)
    win = (slice(H // 2, 3 * H // 2), slice(H // 2, 3 * H // 2))
    full = cc_label(big.labels + 1, background=0, connectivity=1)
    tot = np.bincount(full.ravel())
    inn = np.bincount(full[win].ravel(), minlength=tot.size)
    ok = tot[1:] >= 25  # grains a boundary mask can show (see above)
    truth = (inn[1:][ok] / tot[1:][ok]).sum() / H**2
    for rule in ("e112", "iso643", "e1382"):
        r = planimetric(big.boundaries[win], rule=rule)
        assert r.grains_per_px2 == pytest.approx(truth, rel=0.03), rule


def test_counting_rules_on_a_checkerboard():
    # 4 x 4 squares of 10 px: 4 inside, 8 edge (not corner), 4 corner grains
    lab = (np.arange(40)[:, None] // 10) * 4 + np.arange(40)[None, :] // 10 + 1
    e112 = planimetric(labels=lab, pixel_size_um=10.0)
    iso = planimetric(labels=lab, pixel_size_um=10.0, rule="iso643")
    e1382 = planimetric(labels=lab, pixel_size_um=10.0, rule="e1382")
    assert (e112.n_grains_inside, e112.n_grains_edge, e112.n_grains_corner) == (4, 12, 4)
    # E112-13 on a rectangle: the four corner grains count 1/4 each, not 1/2 (it counted
    # 4 + 12 / 2, the circle's rule); ISO 643 counts alike, its G formula differs
    assert e112.n_equivalent == 4 + 8 / 2 + 4 / 4 and e112.area_px == 1600
    assert iso.n_equivalent == 4 + 8 / 2 + 4 / 4
    assert e1382.n_equivalent == 4 and e1382.area_px == 400
    # 10 um pixels: the field is 0.16 mm², a square 0.01 mm²
    assert e112.grains_per_mm2 == pytest.approx(9 / 0.16)
    assert iso.astm_g == pytest.approx(e112.astm_g - 0.046, abs=1e-3)
    assert e1382.grains_per_mm2 == pytest.approx(100.0)
    assert e1382.grain_areas_um2.tolist() == [10000.0] * 4
    assert "ISO 643" in iso.standard and "E1382" in e1382.standard
    assert iso.astm_g == pytest.approx(iso643_g_from_grains_per_mm2(iso.grains_per_mm2))
    # a boundary drawn between the squares gives the same classification
    r = planimetric(boundaries_from_labels(lab), min_grain_px=1)
    assert (r.n_grains_inside, r.n_grains_edge) == (4, 12)
    # one grain holding all four corners counts 4 x 1/4
    for rule in ("e112", "iso643"):
        one = planimetric(labels=np.ones((20, 20), int), rule=rule)
        assert one.n_equivalent == 1.0 and one.n_grains_corner == 1


@pytest.mark.parametrize("rule", ["e112", "iso643"])
def test_a_grain_wholly_inside_the_field_at_its_corner_counts_one(rule):
    # 8 x 8 squares of 10 px; a margin of 10 px puts the field's edges on the squares'
    # boundaries: the field holds 6 x 6 whole squares, none cut, the corner ones included
    lab = (np.arange(80)[:, None] // 10) * 8 + np.arange(80)[None, :] // 10 + 1
    r = planimetric(labels=lab, rule=rule, margin=0.125)
    assert (r.n_grains_inside, r.n_grains_edge, r.n_grains_corner) == (36, 0, 0)
    assert r.n_equivalent == 36 and r.grains_per_px2 == pytest.approx(0.01)
    # the field's corners 4 px inside the squares: those four are cut, a quarter each
    r = planimetric(labels=lab, rule=rule, margin=0.075)  # round(6) px: rows 6..74
    assert (r.n_grains_inside, r.n_grains_edge, r.n_grains_corner) == (36, 28, 4)
    assert r.n_equivalent == 36 + 24 / 2 + 4 / 4  # both rules count a rectangle so


def test_a_circular_field_counts_cut_grains_half_and_has_no_corners():
    """E112 Jeffries on a circle (the standard's 79.8 mm template): N = N_inside +
    N_intercepted / 2, no corner grains; a circle is measured by excluding its outside.
    Hand count on 10 px squares and a circle of radius 40 px: 32 whole, 28 cut."""
    lab = (np.arange(100)[:, None] // 10) * 10 + np.arange(100)[None, :] // 10 + 1
    yy, xx = np.mgrid[:100, :100]
    circle = np.hypot(yy - 49.5, xx - 49.5) <= 40
    whole = sum(bool(circle[lab == g].all()) for g in range(1, 101))
    cut = sum(bool(circle[lab == g].any()) for g in range(1, 101)) - whole
    assert (whole, cut) == (32, 28)
    for rule in ("e112", "iso643"):
        r = planimetric(labels=lab, exclusion=~circle, pixel_size_um=2.0, rule=rule)
        assert (r.n_grains_inside, r.n_grains_edge, r.n_grains_corner) == (32, 28, 0)
        assert r.n_equivalent == 32 + 28 / 2
        assert r.measured_area_px == circle.sum()
        # N_A per mm² at 1x: 46 grains over the circle's area at 2 µm/px
        assert r.grains_per_mm2 == pytest.approx(46 / (circle.sum() * 4e-6))


def test_boundary_pixels_are_shared_out_to_the_nearest_grain():
    m = np.zeros((20, 30), bool)
    m[:, 9] = True  # 1 px boundary
    m[:, 19:22] = True  # 3 px boundary
    lab = grains_from_boundaries(m)
    assert lab.min() == 1 and lab.max() == 3  # every pixel belongs to a grain
    areas = np.bincount(lab.ravel())[1:]
    # the 3 px boundary is split 1 + 1 (+ the middle column to one side); the 1 px one
    # goes to one side: areas stay within one boundary column of the interior areas
    # interiors 180, 180, 160 px plus 20, 40, 20 px of shared-out boundary columns
    assert sorted(areas.tolist()) == [180, 200, 220] and areas.sum() == 600
    col_owner = lab[0]
    assert col_owner[19] == col_owner[18] and col_owner[21] == col_owner[22]
    # E1382 uses these shared-out areas: the inside grains tile the measured area
    lab2 = (np.arange(60)[:, None] // 20) * 3 + np.arange(60)[None, :] // 20 + 1
    r = planimetric(boundaries_from_labels(lab2), rule="e1382", min_grain_px=1)
    assert r.n_grains_inside == 1 and r.grain_areas_px2[0] == pytest.approx(400, abs=40)


def test_speck_components_are_not_grains():
    m = np.zeros((40, 40), bool)
    m[:, 18:23] = True
    m[10, 20] = False  # a one-pixel hole in a thick boundary
    assert grains_from_boundaries(m).max() == 2
    assert grains_from_boundaries(m, min_grain_px=1).max() == 3


# -------------------------------------------------------------------- G formulas
@pytest.mark.parametrize("g, n_a", [(0.0, 7.75), (1.0, 15.50), (5.0, 248.0), (10.0, 7937.0)])
def test_e112_planimetric_g_matches_table(g, n_a):
    assert astm_g_from_grains_per_mm2(n_a) == pytest.approx(g, abs=0.005)
    assert grains_per_mm2_from_astm_g(g) == pytest.approx(n_a, rel=0.002)


def test_e112_and_iso643_g_differ_as_stated():
    n_a = np.array([10.0, 123.4, 5000.0])
    diff = astm_g_from_grains_per_mm2(n_a) - iso643_g_from_grains_per_mm2(n_a)
    assert np.allclose(diff, 3.0 - 2.954)  # 0.046 for every N_A
    # ISO 643: m = 8 * 2**G
    for g in (-1.0, 0.0, 3.0, 7.5):
        assert grains_per_mm2_from_iso643_g(g) == pytest.approx(8 * 2**g, rel=1e-6)
    with pytest.raises(PlanimetricError):
        astm_g_from_grains_per_mm2(0.0)


def test_planimetric_result_names_its_standard_and_g():
    ms = synth((256, 256), h=20, seed=3)
    for rule, formula in (("e112", astm_g_from_grains_per_mm2),
                          ("iso643", iso643_g_from_grains_per_mm2),
                          ("e1382", astm_g_from_grains_per_mm2)):
        r = planimetric(ms.boundaries, pixel_size_um=0.8, rule=rule)
        assert r.astm_g == pytest.approx(formula(r.grains_per_mm2))
        assert r.g_e112 - r.g_iso643 == pytest.approx(0.046)
        d = r.to_dict()
        assert json.loads(json.dumps(d))["standard"] == r.standard
        assert len(d["grain_areas_um2"]) == r.n_grains_inside


# -------------------------------------------------------------------- conversions
def test_conversion_table_values_and_round_trips():
    c0 = grain_size_conversions(0.0)
    assert c0["grains_per_mm2"] == pytest.approx(7.75, rel=1e-3)
    assert c0["mean_grain_area_um2"] == pytest.approx(129_000, rel=2e-3)
    assert c0["mean_grain_diameter_um"] == pytest.approx(359.2, rel=1e-3)
    assert c0["mean_intercept_um"] == pytest.approx(320.0, rel=2e-3)
    assert c0["grains_per_in2_100x"] == pytest.approx(0.5, rel=1e-3)
    for g in np.arange(-1.0, 14.01, 0.5):
        c = grain_size_conversions(g)
        for key in ("mean_intercept_um", "grains_per_mm2", "mean_grain_area_um2",
                    "mean_grain_diameter_um", "grains_per_in2_100x"):
            assert astm_g_from(**{key: c[key]}) == pytest.approx(g, abs=1e-6), key
        assert c["intercepts_per_mm"] * c["mean_intercept_um"] == pytest.approx(1000.0)
        assert c["g"] - c["iso643_g"] == pytest.approx(0.046)
    rows = grain_size_table()
    assert rows[0]["g"] == -1.0 and rows[-1]["g"] == 14.0
    with pytest.raises(ValueError, match="exactly one"):
        astm_g_from(mean_intercept_um=10.0, grains_per_mm2=5.0)


@pytest.mark.parametrize("g, message", [
    (float("nan"), "got nan"), (float("inf"), "got inf"), (-float("inf"), "got -inf"),
    (2000.0, "got 2000.0"), (-2000.0, "got -2000.0"), ("8", "got '8'"), (True, "got True")])
def test_conversions_refuse_a_g_that_is_no_grain_size(g, message):
    """grain_size_conversions(nan) said "grains per mm² must be positive to compute G" (no
    such argument was given), +-inf and -2000 raised ZeroDivisionError, 2000 returned
    infinitely many grains per mm² with a RuntimeWarning, and "8" and True were taken as
    G 8 and 1. G is now checked first by the one number rule, in
    ASTM_G_CONVERSION_RANGE (every relation finite), and so is the measure given to
    astm_g_from (True was 1 µm)."""
    from napari_srmat.metrics.standards import ASTM_G_CONVERSION_RANGE

    lo, hi = ASTM_G_CONVERSION_RANGE
    with pytest.raises(ValueError, match=rf"^g \(ASTM grain size number\) must be a number in "
                       rf"\[{lo:g}, {hi:g}\], {message}$"):
        grain_size_conversions(g)
    with pytest.raises(ValueError, match=r"^g \(ASTM grain size number\) must be"):
        grain_size_table([5.0, g])
    for edge in (lo, hi):  # the range's ends convert to finite figures, and back
        c = grain_size_conversions(edge)
        assert all(math.isfinite(v) and v > 0 for k, v in c.items() if k not in ("g", "iso643_g"))
        assert astm_g_from(mean_intercept_um=c["mean_intercept_um"]) == pytest.approx(edge)
    with pytest.raises(ValueError, match=r"^mean_intercept_um must be a number > 0, got True$"):
        astm_g_from(mean_intercept_um=True)


# ------------------------------------------------------------- intercept extras
def three_sectors(n=101):
    yy, xx = np.mgrid[:n, :n]
    c = n // 2
    ang = np.degrees(np.arctan2(c - yy, xx - c)) % 360
    return ((ang + 30) // 120).astype(int) % 3


def test_triple_point_counts_one_and_a_half():
    m = boundaries_from_labels(three_sectors())
    segs = np.array([
        [[50, 0], [50, 100]],  # through the junction
        [[20, 0], [20, 100]],  # crosses the upper branch once
        [[50, 50], [0, 50]],  # runs along the upper branch: one crossing (a tangent)
    ], float)
    r = measure_intercepts(m, pattern="segments", segments=segs, triple_points=True)
    assert r.per_line_count.tolist()[:2] == [1, 1]
    assert r.per_line_intersections.tolist()[:2] == [1.5, 1.0]
    assert r.n_triple_points >= 1
    off = measure_intercepts(m, pattern="segments", segments=segs)
    assert off.per_line_intersections.tolist()[:2] == [1.0, 1.0] and off.n_triple_points == 0
    # the window classification itself
    assert triple_point_runs(m, np.array([50, 20, 80]), np.array([50, 50, 50]),
                             np.array([1, 1, 1])).tolist() == [True, False, False]


def test_a_line_end_touching_a_boundary_scores_half_an_intersection():
    """E112: a line end is not an intersection unless it touches a boundary, when it
    scores 1/2. A segment drawn from one boundary to the next scored P = 2 (l = 8 px for
    a 16 px grain). Drawn lines score their ends so also without triple_points (since
    2026-12-05); their run count is still per_line_count."""
    m = np.zeros((64, 64), bool)
    m[:, 8] = m[:, 24] = True
    m[:, 40:44] = True  # a wide boundary: an end anywhere inside it touches it
    cases = [  # segment, E112 P, intercepts N, run count
        ([[10, 8], [10, 24]], 1.0, 1.0, 2),  # boundary to boundary: one whole grain
        ([[10, 0], [10, 8]], 0.5, 0.5, 1),  # from inside a grain to a boundary
        ([[10, 10], [10, 41]], 1.5, 1.5, 2),  # ends inside the wide boundary
        ([[10, 2], [10, 60]], 3.0, 3.0, 3),  # both ends inside grains: plain crossings
    ]
    segs = np.array([c[0] for c in cases], float)
    e112 = measure_intercepts(m, pattern="segments", segments=segs, triple_points=True)
    runs = measure_intercepts(m, pattern="segments", segments=segs)
    assert e112.per_line_intersections.tolist() == [c[1] for c in cases]
    assert e112.per_line_intercepts.tolist() == [c[2] for c in cases]
    assert runs.per_line_count.tolist() == [c[3] for c in cases]
    assert runs.per_line_intersections.tolist() == [c[1] for c in cases]
    assert e112.n_line_end_touches == 4 and runs.n_line_end_touches == 4
    assert e112.intersection_at_line_end.sum() == 4
    one = measure_intercepts(m, pattern="segments", segments=segs[:1], triple_points=True)
    assert one.mean_intercept_px == pytest.approx(16.0)  # the grain's width
    # closed circles have no ends: nothing changes there
    c1 = measure_intercepts(m, pattern="circles", triple_points=True)
    assert c1.n_line_end_touches == 0


def test_triple_point_rule_reduces_the_digital_undercount():
    # on a tessellation with exactly known ℓ̄, counting runs misses crossings near
    # junctions (ℓ̄ reads high); the 1.5 rule brings the grid estimate closer
    ms = synth((512, 512), h=32, seed=3, bw=1, curvature=0.05)
    runs = measure_intercepts(ms.boundaries, pattern="grid", n_lines=100, margin=0)
    e112 = measure_intercepts(ms.boundaries, pattern="grid", n_lines=100, margin=0,
                              triple_points=True)
    err_runs = abs(runs.mean_intercept_px / ms.mean_intercept_px - 1)
    err_e112 = abs(e112.mean_intercept_px / ms.mean_intercept_px - 1)
    assert err_e112 < err_runs and err_e112 < 0.03
    assert e112.n_line_end_touches > 0  # grid lines end on boundaries at the border
    assert e112.intersection_count == pytest.approx(
        e112.n_intersections + 0.5 * e112.n_triple_points - 0.5 * e112.n_line_end_touches)


def test_intercept_counts_half_at_line_ends_and_lengths():
    m = np.zeros((60, 100), bool)
    m[:, 5::10] = True  # boundaries at columns 5, 15, ..., 95
    segs = np.array([
        [[30, 0], [30, 99]],  # both ends inside grains: 10 crossings
        [[20, 5], [20, 95]],  # both ends on a boundary
        [[10, 1], [10, 3]],  # no crossing, inside one grain
    ], float)
    r = measure_intercepts(m, pattern="segments", segments=segs)
    assert r.per_line_count.tolist() == [10, 10, 0]
    # 9 complete intercepts + 2 halves; 9 complete; none (no crossing, P = 0: N = 0)
    assert r.per_line_intercepts.tolist() == [10.0, 9.0, 0.0]
    assert r.intercept_count == 19.0
    assert len(r.intercepts_px) == 18 and np.allclose(r.intercepts_px, 10.0)
    d = r.to_dict(arrays=True)
    assert d["intercept_count"] == 19.0 and len(d["intercepts_px"]) == 18
    # closed circles: every segment is complete, N = P
    c = measure_intercepts(m, pattern="circles", margin=0)
    assert np.array_equal(c.per_line_intercepts, c.per_line_count)
    assert len(c.intercepts_px) == c.n_intersections
    assert c.intercepts_px.sum() == pytest.approx(c.total_length_px, rel=1e-6)


def stretched(seed=5, factor=2):
    ms = synth((256, 256), h=20, seed=seed)
    lab = np.repeat(ms.labels, factor, axis=1)  # nearest-neighbour resize of the x axis
    return ms, lab


def test_anisotropy_index_of_grains_stretched_twice():
    ms, lab = stretched()
    b = boundaries_from_labels(lab)
    r = measure_intercepts(b, pattern="grid", n_lines=80)
    assert r.anisotropy_index == pytest.approx(2.0, rel=0.06)
    by = r.mean_intercept_by_direction_px
    assert set(by) == {"0", "90"}
    assert by["0"] / by["90"] == pytest.approx(r.anisotropy_index)
    # user lines of two directions (not the grid): same index
    H, W = b.shape
    segs = [[[r0, 2], [r0, W - 3]] for r0 in range(5, H - 5, 9)]
    segs += [[[2, c0], [H - 3, c0]] for c0 in range(7, W - 7, 17)]
    rs = measure_intercepts(b, pattern="segments", segments=np.array(segs, float))
    assert rs.anisotropy_index == pytest.approx(2.0, rel=0.06)
    # the unstretched structure is equiaxed
    r1 = measure_intercepts(boundaries_from_labels(ms.labels), pattern="grid", n_lines=80)
    assert r1.anisotropy_index == pytest.approx(1.0, abs=0.06)
    # undefined for random lines, circles, and lines of three directions
    assert measure_intercepts(b, pattern="random", n_lines=50).anisotropy_index is None
    circ = measure_intercepts(b, pattern="circles")
    assert circ.anisotropy_index is None and circ.mean_intercept_by_direction_px is None
    three = np.array([[[10, 10], [10, 400]], [[10, 10], [200, 10]], [[10, 10], [200, 200]]],
                     float)
    r3 = measure_intercepts(b, pattern="segments", segments=three)
    assert r3.anisotropy_index is None and len(r3.mean_intercept_by_direction_px) == 3


def test_heyn_result_keeps_its_keys():
    m = np.zeros((100, 100), bool)
    m[:, 3::10] = True
    d = measure_intercepts(m, pattern="grid", n_lines=5, pixel_size_um=1.0).to_dict()
    for key in ("mean_intercept_px", "n_intersections", "total_length_px", "n_lines",
                "ci95_half_width_px", "relative_accuracy_pct", "pattern", "warnings",
                "pixel_size_um", "mean_intercept_um", "astm_g"):
        assert key in d
    assert d["twins_excluded"] is None and d["triple_points"] is False
    assert "ci95_px" not in d  # the half-width has one name (issue 17)


def test_ci95_names_pair_and_half_width():
    """``ci95_*`` is a [low, high] pair, ``ci95_half_width_*`` a half-width (issue 17)."""
    from napari_srmat.widgets.layers import heyn_statistics

    m = np.zeros((100, 100), bool)
    m[:, 3::10] = True
    m[3::10, :] = True
    res = measure_intercepts(m, pattern="grid", n_lines=6, pixel_size_um=0.5)
    st = heyn_statistics(res)
    half, mean = res.ci95_half_width_px, res.mean_intercept_px
    assert st["ci95_half_width_px"] == half and np.isfinite(half)
    assert st["ci95_half_width_um"] == pytest.approx(half * 0.5)
    lo, hi = st["mean_intercept_ci95_px"]
    assert lo < mean < hi
    assert st["mean_intercept_ci95_um"] == pytest.approx((lo * 0.5, hi * 0.5))


def test_the_heyn_widgets_interval_has_the_grain_size_schemas_name():
    """The Heyn widget's statistics called ℓ̄'s interval ``ci95_px`` / ``ci95_um`` where
    the grain-size schema (``srmat heyn``, ``srmat grain-size``, GrainSizeResult) says
    ``mean_intercept_ci95_px`` / ``_um`` for the same pair. The statistics (and so their
    JSON and CSV exports) now use the schema's names only; a file saved with the old
    ones still makes its report, with a DeprecationWarning naming them."""
    import warnings

    from napari_srmat.report import report_from_heyn
    from napari_srmat.widgets.layers import heyn_statistics

    m = np.zeros((100, 100), bool)
    m[:, 3::10] = True
    m[3::10, :] = True
    st = heyn_statistics(measure_intercepts(m, pattern="grid", n_lines=6, pixel_size_um=0.5))
    assert "ci95_px" not in st and "ci95_um" not in st
    label_px, label_um = "ℓ̄, 95 % confidence interval (px)", "ℓ̄, 95 % confidence interval (µm)"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = dict(report_from_heyn(st).summary)
    assert rows[label_px] == st["mean_intercept_ci95_px"]
    assert rows[label_um] == st["mean_intercept_ci95_um"]
    saved = {("ci95_" + k.rsplit("_", 1)[1] if k.startswith("mean_intercept_ci95") else k): v
             for k, v in json.loads(json.dumps(st)).items()}
    assert "ci95_px" in saved and "mean_intercept_ci95_px" not in saved
    with pytest.warns(DeprecationWarning, match="'ci95_px' is renamed 'mean_intercept_ci95_px'"):
        old = dict(report_from_heyn(saved).summary)
    assert old[label_px] == pytest.approx(list(st["mean_intercept_ci95_px"]))
    assert old[label_um] == pytest.approx(list(st["mean_intercept_ci95_um"]))


def test_the_widgets_interval_is_srmat_heyns_for_the_same_mask():
    """The Heyn widget's ``mean_intercept_ci95_px`` pair and warnings are those of
    ``srmat heyn``'s row
    (``grain_size_from_heyn``): it was ℓ̄ ± the E112 half-width, whose low end is below
    zero once %RA exceeds 100 (4 crossings on 3 scattered lines)."""
    from napari_srmat.grainsize import grain_size_from_heyn
    from napari_srmat.widgets.layers import heyn_statistics

    m = np.zeros((100, 100), bool)
    m[:, 50] = True
    m[20, :30] = True
    for n_lines, seed in ((3, 2), (40, 0)):
        res = measure_intercepts(m, pattern="random", n_lines=n_lines, seed=seed,
                                 pixel_size_um=0.5)
        row = grain_size_from_heyn(res, pixel_size_um=0.5)
        st = heyn_statistics(res)
        assert st["mean_intercept_ci95_px"] == pytest.approx(row.mean_intercept_ci95_px)
        assert st["mean_intercept_ci95_um"] == pytest.approx(row.mean_intercept_ci95_um)
        assert st["warnings"] == row.warnings
        lo, hi = st["mean_intercept_ci95_px"]
        assert 0 < lo < res.mean_intercept_px < hi
    few = measure_intercepts(m, pattern="random", n_lines=3, seed=2, pixel_size_um=0.5)
    assert few.relative_accuracy_pct > 50 and few.intersection_count < 50
    st = heyn_statistics(few)
    assert any("intersections: E112 asks" in w for w in st["warnings"])
    lo, hi = st["mean_intercept_ci95_px"]
    assert hi - few.mean_intercept_px > few.mean_intercept_px - lo


# ------------------------------------------------------------------- exclusions
def test_exclusion_cuts_test_lines_and_area():
    ms = synth((256, 256), h=20, seed=2)
    b = ms.boundaries
    ex = np.zeros_like(b)
    ex[:, 128:] = True  # right half not measured
    full = measure_intercepts(b, pattern="grid", n_lines=40, margin=0)
    cut = measure_intercepts(b, pattern="grid", n_lines=40, margin=0, exclusion=ex)
    left = measure_intercepts(b[:, :128], pattern="grid", n_lines=40, margin=0)
    # horizontal lines keep their left half, vertical lines in the right half vanish
    assert cut.total_length_px + cut.excluded_length_px == pytest.approx(full.total_length_px)
    assert cut.per_line_length_px[:40] == pytest.approx(full.per_line_length_px[:40] / 2,
                                                        abs=1.0)
    assert np.all(cut.per_line_length_px[40:][np.linspace(0, 255, 40) > 128] == 0)
    # no crossing is counted in the excluded half
    assert np.all(cut.intersections[:, 1] < 128)
    assert cut.mean_intercept_px == pytest.approx(left.mean_intercept_px, rel=0.08)
    # planimetric: area reduced, grains wholly in the excluded half not counted
    pf = planimetric(b)
    pc = planimetric(b, exclusion=ex)
    assert pc.measured_area_px == 256 * 128
    assert pc.n_grains_inside + pc.n_grains_edge < pf.n_grains_inside + pf.n_grains_edge
    assert pc.grains_per_px2 == pytest.approx(pf.grains_per_px2, rel=0.08)
    # an inclusion blob: grains touching it are edge grains, the area drops by its size
    blob = np.zeros_like(b)
    blob[100:140, 60:100] = True
    pb = planimetric(b, exclusion=blob)
    assert pb.measured_area_px == 256 * 256 - 1600
    assert pb.n_grains_edge > pf.n_grains_edge
    with pytest.raises(PlanimetricError, match="nothing is measured"):
        planimetric(b, exclusion=np.ones_like(b))


def test_exclusion_on_circles_keeps_measured_arcs_whole():
    m = np.zeros((200, 200), bool)
    m[:, 5::10] = True
    ex = np.zeros_like(m)
    ex[:, :100] = True
    full = measure_intercepts(m, pattern="circles", margin=0)
    cut = measure_intercepts(m, pattern="circles", margin=0, exclusion=ex)
    assert cut.total_length_px == pytest.approx(full.total_length_px / 2, rel=0.02)
    assert cut.n_intersections == pytest.approx(full.n_intersections / 2, abs=3)
    # each circle becomes one open arc: two half intercepts at its ends
    assert np.all(cut.per_line_intercepts == cut.per_line_count)
    assert np.all(np.isin(cut.per_line_intercepts % 1, [0.0]))


# ------------------------------------------------------------------------ twins
def test_twin_lines_excluded_change_nothing():
    ms = synth((320, 320), h=24, seed=7, bw=1)
    tw = twin_traces(ms.labels, ms.boundaries)
    with_twins = ms.boundaries | tw
    ref_p = planimetric(ms.boundaries)
    ref_i = measure_intercepts(ms.boundaries, pattern="grid", n_lines=60, triple_points=True)
    p = planimetric(with_twins, twins=tw)
    i = measure_intercepts(with_twins, pattern="grid", n_lines=60, triple_points=True, twins=tw)
    assert p.twins_excluded is True and i.twins_excluded is True
    assert p.n_twins_merged >= 10
    assert (p.n_grains_inside, p.n_grains_edge) == (ref_p.n_grains_inside, ref_p.n_grains_edge)
    assert i.n_intersections == ref_i.n_intersections
    assert i.intersection_count == ref_i.intersection_count
    # counted as boundaries, the twins add grains and crossings
    p2 = planimetric(with_twins, twins=tw, exclude_twins=False)
    i2 = measure_intercepts(with_twins, pattern="grid", n_lines=60, twins=tw,
                            exclude_twins=False)
    assert p2.twins_excluded is False and p2.n_grains_inside > ref_p.n_grains_inside + 8
    assert i2.twins_excluded is False and i2.n_intersections > ref_i.n_intersections
    # the twin mask alone (not drawn into the boundary mask) gives the same result
    assert planimetric(ms.boundaries, twins=tw).n_grains_inside == ref_p.n_grains_inside
    # no twin mask: not reported
    assert ref_p.twins_excluded is None and ref_i.twins_excluded is None


def test_painted_twin_masks_three_pixels_wide():
    # a twin mask painted with a 3 px brush covers the ends of the grain boundaries the
    # twin touches; the merge rule looks at the twin's centre line
    from scipy import ndimage as ndi

    for seed in (6, 7, 8):
        ms = synth((320, 320), h=24, seed=seed, bw=1 + seed % 2)
        tw = twin_traces(ms.labels, ms.boundaries)
        painted = ndi.binary_dilation(tw)
        ref_p = planimetric(ms.boundaries)
        p = planimetric(ms.boundaries | tw, twins=painted)
        assert abs(p.n_grains_inside - ref_p.n_grains_inside) <= 1
        assert p.n_grains_edge == ref_p.n_grains_edge
        ref_i = measure_intercepts(ms.boundaries, pattern="grid", n_lines=60)
        i = measure_intercepts(ms.boundaries | tw, pattern="grid", n_lines=60, twins=painted)
        assert i.n_intersections == pytest.approx(ref_i.n_intersections, rel=0.01)


def test_long_twin_line_through_many_grains():
    ms = synth((320, 320), h=24, seed=5, bw=2)
    tw = np.zeros_like(ms.boundaries)
    tw[160, :] = True
    tw[np.arange(320), np.arange(320)] = True
    tw &= ~ms.boundaries  # a twin runs inside grains, from boundary to boundary
    g0 = grains_from_boundaries(ms.boundaries)
    mt = merge_twins(grains_from_boundaries(ms.boundaries | tw), tw,
                     boundaries=ms.boundaries | tw)
    assert mt.labels.max() == g0.max()
    assert np.count_nonzero(mt.boundaries != ms.boundaries) <= 40
    r0 = measure_intercepts(ms.boundaries, pattern="random", n_lines=100)
    r1 = measure_intercepts(ms.boundaries | tw, pattern="random", n_lines=100, twins=tw)
    assert r1.n_intersections == pytest.approx(r0.n_intersections, abs=3)


def test_twins_on_a_label_map():
    lab = np.ones((40, 60), int)
    lab[:, 30:] = 2
    tw = np.zeros(lab.shape, bool)
    tw[20, :30] = True  # a twin across grain 1
    r = planimetric(labels=lab, twins=tw)
    assert r.n_grains_edge == 2 and r.twins_excluded is True
    r2 = planimetric(labels=lab, twins=tw, exclude_twins=False)
    assert r2.n_grains_edge == 3


# ---------------------------------------------------------------- distributions
def test_bimodal_vs_unimodal_constructed_data():
    rng = np.random.default_rng(3)
    uni = np.exp(rng.normal(np.log(150), 0.45, 600))
    gamma = rng.gamma(3.0, 50.0, 600)  # skewed but one mode
    bi = np.concatenate([np.exp(rng.normal(np.log(80), 0.35, 500)),
                         np.exp(rng.normal(np.log(1500), 0.35, 150))])
    exp = rng.exponential(50.0, 600)  # the most skewed: a long tail of small sections
    for unimodal in (uni, gamma, exp):
        assert duplex_test(unimodal)["bimodal"] is False
    assert duplex_test(uni)["n_components"] == 1
    res = duplex_test(bi)
    assert res["bimodal"] is True and "E1181" in res["warning"]
    fine, coarse = res["populations"]
    assert fine["area"] == pytest.approx(80, rel=0.1)
    assert coarse["area"] == pytest.approx(1500, rel=0.1)
    assert coarse["fraction"] == pytest.approx(150 / 650, abs=0.02)
    assert res["dip_ratio"] < 0.5 and res["delta_bic"] > 10
    assert duplex_test(bi[:10])["bimodal"] is None  # too few grains
    # the mixture fit itself
    fit = fit_gaussian_mixture_1d(np.log(bi), 2)
    one = fit_gaussian_mixture_1d(np.log(bi), 1)
    assert fit["bic"] < one["bic"] - 10
    assert np.exp(fit["means"]) == pytest.approx([80, 1500], rel=0.1)


def test_a_few_specks_are_no_duplex_population():
    # the docs' three-field example (docs/standards.md): 62 inside grains, two of them
    # specks 7x smaller than the rest; 2 of 62 passed the 3 % bound and were reported
    # as "a duplex grain size, the coarse one 97 % of the grains"
    masks = [generate_microstructure((192, 192), seed=s).boundaries for s in (0, 1, 2)]
    summary = measure_specimen(masks, pixel_size_um=0.5, method="intercept",
                               pattern="grid", n_lines=50)["summary"]
    assert summary["duplex"]["n_grains"] == 62
    assert summary["duplex"]["bimodal"] is False
    assert not any("E1181" in w for w in summary["warnings"])
    # constructed: the same two populations, the smaller one 2 then 12 grains
    rng = np.random.default_rng(0)
    main = np.exp(rng.normal(np.log(230), 0.3, 60))
    for n_small, bimodal in ((2, False), (12, True)):
        areas = np.concatenate([main, np.exp(rng.normal(np.log(30), 0.1, n_small))])
        assert duplex_test(areas)["bimodal"] is bimodal
        assert duplex_test(areas, min_population=1)["bimodal"] is True


def duplex_map(fine_width=256, h_coarse=48, seed=1):
    """Fine grains (h = 12) on the left, coarse ones on the right."""
    fine = synth((384, fine_width), h=12, seed=seed).labels
    coarse = synth((384, 512 - fine_width), h=h_coarse, seed=seed + 10).labels
    return np.concatenate([fine, coarse + fine.max() + 1], axis=1)


@pytest.mark.parametrize("fine_width, h_coarse", [(256, 48), (192, 40), (256, 24)])
def test_duplex_detected_on_a_two_size_grain_map(fine_width, h_coarse):
    # the coarse grains are 5-11 % of the grains (4-16x the fine area): a two-component
    # mixture alone would model the small-section tail instead and miss them
    lab = duplex_map(fine_width, h_coarse)
    f = measure_field(boundaries_from_labels(lab), pixel_size_um=1.0, n_lines=20)
    assert f["duplex"]["bimodal"] is True
    fine, coarse = f["duplex"]["populations"]
    assert coarse["area"] / fine["area"] == pytest.approx((h_coarse / 12) ** 2, rel=0.35)
    assert any("E1181" in w for w in f["warnings"])
    uni = measure_field(synth((512, 512), h=20, seed=4).boundaries, pixel_size_um=1.0,
                        n_lines=20)
    assert uni["duplex"]["bimodal"] is False
    assert not any("E1181" in w for w in uni["warnings"])


def test_ala_grain_flag():
    ms = synth((384, 384), h=16, seed=6)
    lab = ms.labels.copy()
    yy, xx = np.mgrid[:384, :384]
    lab[(yy - 190) ** 2 + (xx - 200) ** 2 < 40**2] = lab.max() + 1  # one grain ~5000 px²
    f = measure_field(boundaries_from_labels(lab), pixel_size_um=1.0, n_lines=20)
    ala = f["ala"]
    assert ala["flag"] is True and ala["n_coarse"] == 1
    assert ala["largest_area"] == pytest.approx(math.pi * 40**2, rel=0.05)
    assert ala["ala_g"] == pytest.approx(astm_g_from(mean_grain_area_um2=ala["largest_area"]))
    assert any("E930" in w for w in f["warnings"])
    plain = measure_field(ms.boundaries, pixel_size_um=1.0, n_lines=20)
    assert plain["ala"]["flag"] is False
    # many coarse grains are not "isolated": no ALA flag, a duplex suspicion instead
    many = ala_grains([100.0] * 100 + [1000.0] * 10, mean_area=100.0)
    assert many["flag"] is False and many["duplex_suspected"] is True
    # a coarse quarter of the field: too few coarse grains for a mode (< 3 % of the
    # grains), but they cover > 5 % of the area: warned as a likely duplex
    f = measure_field(boundaries_from_labels(duplex_map(384, 48)), pixel_size_um=1.0,
                      n_lines=20)
    assert f["duplex"]["bimodal"] is False and f["ala"]["duplex_suspected"] is True
    assert any("duplex grain size (ASTM E1181) is likely" in w for w in f["warnings"])


@pytest.mark.parametrize("rule", ["e112", "e1382"])
def test_specimen_ala_uses_the_jeffries_mean_grain_area(rule):
    # 10 px squares with one 30 x 30 grain (900 px², 9x a square): the Jeffries mean grain
    # area (edge grains 1/2) is 113 px², so the big grain is < 8x it: not coarse. The
    # specimen's ALA must say what the field's says, not compare with the mean of the
    # inside grains' areas (102.5 px²: 8.8x)
    lab = (np.arange(200)[:, None] // 10) * 20 + np.arange(200)[None, :] // 10 + 1
    lab[80:110, 80:110] = lab.max() + 1
    out = measure_specimen([{"labels": lab}], pixel_size_um=1.0, method="planimetric",
                           rule=rule)
    field, summary = out["images"][0]["ala"], out["summary"]["ala"]
    for key in ("largest_area", "area_ratio", "n_coarse", "coarse_area_fraction", "flag"):
        assert summary[key] == pytest.approx(field[key]), key
    jeffries = 1 / out["images"][0]["grains_per_px2"]
    assert summary["area_ratio"] == pytest.approx(900 / jeffries)
    assert (summary["flag"], summary["n_coarse"]) == ((False, 0) if rule == "e112" else (True, 1))
    # two fields: the mean grain area is the pooled count's (area / N summed over both)
    two = measure_specimen([{"labels": lab}, {"labels": lab[:, :150]}], pixel_size_um=2.0,
                           method="planimetric", rule=rule)
    f1, f2 = two["images"]
    counted = sum(f["n_grains_equivalent"] / f["grains_per_mm2"] * 1e6 for f in (f1, f2))
    mean_area = counted / (f1["n_grains_equivalent"] + f2["n_grains_equivalent"])
    assert two["summary"]["ala"]["area_ratio"] == pytest.approx(900 * 4 / mean_area)
    assert two["summary"]["ala"]["coarse_area_fraction"] == pytest.approx(
        900 * 4 * two["summary"]["ala"]["n_coarse"]
        / ((f1["measured_area_mm2"] + f2["measured_area_mm2"]) * 1e6))


def test_specimen_ala_of_a_field_without_a_finite_count_falls_back_as_without_one():
    # a field whose N_A is NaN (or infinite) has no count, as one whose N_A is None: the
    # pooled ALA then compares with the mean of the grain areas. NaN made the pooled
    # mean grain area NaN (no area ratio, no coarse grain) and infinity halved it. The
    # fields are in the intercept statistics (their N_L): the areas of a field left out
    # of them are not pooled (test_grainsize_withheld_fields)
    def field(n_a):
        return {"method": "intercept", "rule": "e112", "pixel_size_um": 1.0,
                "intersections_per_mm": 100.0, "n_intersections": 60,
                "grains_per_mm2": n_a, "n_grains_inside": 80, "n_grains_equivalent": 90,
                "measured_area_mm2": 0.01, "grain_areas_um2": [100.0] * 400 + [2000.0],
                "warnings": []}

    without = summarize_fields([field(9000.0), field(None)])["ala"]
    assert without["area_ratio"] == pytest.approx(2000 / np.mean([100.0] * 400 + [2000.0]))
    for bad in (math.nan, math.inf):
        ala = summarize_fields([field(9000.0), field(bad)])["ala"]
        for key in ("area_ratio", "n_coarse", "coarse_area_fraction", "flag"):
            assert ala[key] == pytest.approx(without[key]), (bad, key)


def test_ala_and_duplex_leave_out_the_same_unusable_areas():
    """duplex_test and ala_grains share one rule for the areas they count: NaN,
    infinite, zero and negative areas are left out (an infinite one is not the ALA
    grain, and counts as no grain)."""
    good = [100.0] * 40 + [2000.0]
    bad = [math.nan, math.inf, -math.inf, 0.0, -50.0]
    ala, ref = ala_grains(good + bad), ala_grains(good)
    assert ala["largest_area"] == ref["largest_area"] == 2000.0
    assert ala["n_coarse"] == ref["n_coarse"] == 1
    assert duplex_test(good + bad)["n_grains"] == len(good)
    assert ala_grains(bad)["largest_area"] is None
    assert duplex_test(bad)["n_grains"] == 0


def test_histogram_figures_do_not_touch_pyplot():
    import sys

    from matplotlib.figure import Figure

    had_pyplot = "matplotlib.pyplot" in sys.modules
    before = None
    if had_pyplot:
        import matplotlib.pyplot as plt

        before = plt.get_fignums()
    rng = np.random.default_rng(0)
    fig = histogram_figure(rng.gamma(2, 10, 200), log=True, xlabel="area (µm²)")
    assert isinstance(fig, Figure) and fig.axes[0].get_xscale() == "log"
    field = {"intercepts_um": list(rng.gamma(3, 5, 300)),
             "grain_areas_um2": list(np.exp(rng.normal(4, 0.4, 300))),
             "duplex": duplex_test(np.exp(rng.normal(4, 0.4, 300)))}
    fig2 = distributions_figure(field, title="field 1")
    assert len(fig2.axes) == 2
    assert ("matplotlib.pyplot" in sys.modules) == had_pyplot
    if had_pyplot:
        assert plt.get_fignums() == before


# ------------------------------------------------------------------ several fields
def test_relative_accuracy_equals_the_e112_formula():
    fields = [synth((256, 256), h=18 + 2 * s, seed=s).boundaries for s in range(5)]
    out = measure_specimen(fields, pixel_size_um=0.5, n_lines=25)
    s = out["summary"]
    vals = np.array([f["intersections_per_mm"] for f in out["images"]])
    n = vals.size
    t = stats.t.ppf(0.975, n - 1)
    expected = 100 * t * vals.std(ddof=1) / (math.sqrt(n) * vals.mean())
    assert s["relative_accuracy_pct"] == pytest.approx(expected, rel=1e-9)
    assert s["field_values"] == pytest.approx(vals.tolist())
    assert s["n_fields"] == 5 and s["standard"].startswith("ASTM E112")
    # G of the mean N_L, and its interval from the interval ends of N_L
    half = t * vals.std(ddof=1) / math.sqrt(n)
    g = lambda nl: -6.643856 * math.log10(1 / nl) - 3.288  # noqa: E731
    assert s["astm_g"] == pytest.approx(g(vals.mean()))
    assert s["astm_g_ci95"] == pytest.approx([g(vals.mean() - half), g(vals.mean() + half)])
    # the grain sizes differ field to field: %RA is well above 10 %, so E112 advice
    assert s["relative_accuracy_pct"] > 10
    assert any("measure more fields" in a for a in s["advice"])
    # planimetric: %RA of the per-field N_A
    outp = measure_specimen(fields, pixel_size_um=0.5, n_lines=25, method="planimetric")
    na = np.array([f["grains_per_mm2"] for f in outp["images"]])
    sp = outp["summary"]
    assert sp["relative_accuracy_pct"] == pytest.approx(
        100 * t * na.std(ddof=1) / (math.sqrt(n) * na.mean()), rel=1e-9)
    assert sp["astm_g"] == pytest.approx(astm_g_from_grains_per_mm2(na.mean()))


def test_specimen_advice_few_fields_and_small_counts():
    same = [synth((256, 256), h=20, seed=s).boundaries for s in (1, 2)]
    s = measure_specimen(same, pixel_size_um=1.0, n_lines=25)["summary"]
    assert s["relative_accuracy_pct"] < 10
    assert any("at least 5 fields" in a for a in s["advice"])
    assert not any("measure more fields" in a for a in s["advice"])
    # big grains in a small field: fewer than 50 intersections / grains per field
    small = [synth((128, 128), h=40, seed=s).boundaries for s in range(5)]
    si = measure_specimen(small, pixel_size_um=1.0, n_lines=3)["summary"]
    assert any("fewer than 50 intersections" in a for a in si["advice"])
    sp = measure_specimen(small, pixel_size_um=1.0, n_lines=3, method="planimetric")["summary"]
    assert any("fewer than 50 grains" in a for a in sp["advice"])
    one = summarize_fields([measure_field(same[0], pixel_size_um=1.0, n_lines=25)])
    assert one["astm_g_ci95"] is None and any("no confidence" in a for a in one["advice"])


def test_a_fields_few_intersections_warning_is_the_measurements():
    """`srmat grain-size --method intercept` of a field with few intersections gave two
    warnings of one rule in two wordings: the image row's (E112 asks for about 50 ...)
    and the field's own ('only 6 intersections (fewer than 50): ...'), counted apart. The
    field now says the row's (``few_intersections_note``, ``has_few_intersections``)."""
    from napari_srmat.grainsize import grain_size_from_heyn

    mask = np.zeros((200, 200), bool)
    mask[:, 5::40] = True  # vertical boundaries only: 5 crossings per horizontal line
    for n_lines in (4, 40):
        f = measure_field(mask, pixel_size_um=1.0, pattern="grid", n_lines=n_lines, margin=0)
        res = measure_intercepts(mask, pattern="grid", n_lines=n_lines, margin=0)
        row = grain_size_from_heyn(res, pixel_size_um=1.0)
        told = [w for w in f["warnings"] if "intersections" in w]
        assert told == [f"intercept: {w}" for w in row.warnings if "intersections" in w]
        assert bool(told) == (n_lines == 4)
    assert told == [] and f["n_intersections"] >= 50


@pytest.mark.parametrize("vals", [[1000.0, 1100.0], [950.0, 1000.0, 1100.0],
                                  [900.0, 1000.0, 1100.0, 1200.0], [100.0, 900.0]])
def test_advised_number_of_fields_reaches_the_relative_accuracy(vals):
    # the advice "about k fields in all would bring it to 10 %": with the same mean and
    # standard deviation, k fields (Student t of k - 1) give %RA <= 10 and k - 1 do not
    fields = [{"method": "planimetric", "rule": "e112", "pixel_size_um": 1.0,
               "grains_per_mm2": v, "n_grains_inside": 80, "n_grains_equivalent": 90,
               "grain_areas_um2": [], "warnings": []} for v in vals]
    s = summarize_fields(fields)
    (line,) = [a for a in s["advice"] if "measure more fields" in a]
    k = int(line.split("about ")[1].split(" fields")[0])
    cv = np.std(vals, ddof=1) / np.mean(vals)

    def ra(m):
        return 100 * stats.t.ppf(0.975, m - 1) * cv / math.sqrt(m)

    assert k > len(vals) and ra(k) <= 10 < ra(k - 1)


def test_specimen_json_has_the_documented_keys():
    ms = synth((256, 256), h=20, seed=9)
    tw = twin_traces(ms.labels, ms.boundaries, n=3)
    ex = np.zeros_like(ms.boundaries)
    ex[:20, :20] = True
    fields = [{"boundaries": ms.boundaries | tw, "twins": tw, "exclusion": ex, "name": "a"},
              {"labels": synth((256, 256), h=20, seed=10).labels, "name": "b"}]
    out = measure_specimen(fields, pixel_size_um=0.5, n_lines=20)
    text = json.dumps(out, allow_nan=False)
    back = json.loads(text)
    assert set(back) == {"images", "summary"}
    for f in back["images"]:
        for key in ("grains_per_mm2", "n_grains_inside", "n_grains_edge", "grain_areas_um2",
                    "mean_intercept_um", "intercepts_um", "anisotropy_index", "astm_g",
                    "intercepts_px", "grain_areas_px2", "standard", "twins_excluded"):
            assert key in f, key
        assert isinstance(f["grain_areas_um2"], list) and isinstance(f["intercepts_um"], list)
        assert f["mean_intercept_um"] == pytest.approx(
            f["total_line_length_mm"] * 1000 / f["n_intersections"])
    assert back["images"][0]["twins_excluded"] is True
    assert back["images"][1]["twins_excluded"] is None
    assert back["images"][0]["name"] == "a"
    for key in ("astm_g", "astm_g_ci95", "relative_accuracy_pct", "n_fields", "standard"):
        assert key in back["summary"], key
    lo, hi = back["summary"]["astm_g_ci95"]
    assert lo < back["summary"]["astm_g"] < hi
    # not a boundary map: nothing is reported, and the warnings say why
    bad = measure_field(np.ones((64, 64), bool), pixel_size_um=1.0, n_lines=5)
    assert bad["astm_g"] is None and bad["grains_per_mm2"] is None
    assert bad["mean_intercept_um"] is None
    assert any("not a boundary map" in w for w in bad["warnings"])
    # without a pixel size: pixel figures only, no G
    nopx = measure_specimen([ms.boundaries, ms.boundaries], n_lines=10)
    assert nopx["images"][0]["astm_g"] is None and nopx["images"][0]["grains_per_mm2"] is None
    assert nopx["summary"]["astm_g"] is None
    assert nopx["summary"]["relative_accuracy_pct"] == pytest.approx(0.0, abs=1e-9)


def test_one_calibration_read_from_png_and_tiff_is_one_pixel_size():
    # 0.3 µm in a PNG's pHYs is 3333333 whole pixels per metre: 0.30000003 µm; a TIFF
    # of the same calibration reads 0.3. Fields of both are one pixel size (the tolerance
    # of io.pixels_square, as srmat heyn pools them). Updated on purpose 2026-12-07: 0.3
    # and 0.33 µm are two sizes, pooled per mm without a warning (each field is
    # calibrated); only fields without a size beside calibrated ones are warned of
    masks = [synth((192, 192), h=20, seed=s).boundaries for s in (11, 12)]

    def warns(sizes):
        fields = [measure_field(m, pixel_size_um=p, n_lines=10) for m, p in zip(masks, sizes)]
        return any("pixel sizes" in w for w in summarize_fields(fields)["warnings"])

    assert not warns([1e6 / 3333333, 0.3])
    assert not warns([0.3, 0.33]) and warns([0.3, None])
    assert not warns([None, None])


def test_calibrated_fields_of_different_sizes_pool_without_a_warning(tmp_path, capsys):
    """Fields each with its own pixel size (two magnifications) pool their N_L per mm,
    which is right (E112 averages the fields' N_L in one unit): summarize_fields,
    ``srmat grain-size --method`` and ``srmat heyn`` (whose pooled line says how it
    pooled them) still warned "the fields have different pixel sizes". Now only fields
    without a pixel size beside calibrated ones are warned of (pooled per pixel, as if
    of one size), naming them."""
    import tifffile

    from napari_srmat.cli import main

    masks = [synth((192, 192), h=20, seed=s).boundaries for s in (11, 12)]
    fields = [measure_field(m, pixel_size_um=p, n_lines=10, name=n)
              for m, p, n in zip(masks, (0.3, 0.6), "ab")]
    s = summarize_fields(fields)
    assert s["astm_g"] is not None and s["field_quantity"] == "N_L, intersections per mm"
    assert not any("pixel size" in w for w in s["warnings"]), s["warnings"]
    paths = []
    for m, px, n in zip(masks, (0.3, 0.6), "ab"):
        paths.append(str(tmp_path / f"{n}.tif"))
        tifffile.imwrite(paths[-1], m.astype(np.uint8) * 255, resolution=(1e4 / px, 1e4 / px),
                         resolutionunit="CENTIMETER")
    for argv in (["grain-size", *paths, "--mask", "--method", "intercept"], ["heyn", *paths]):
        assert main(argv) == 0
        assert "pixel sizes" not in capsys.readouterr().err, argv
    # a field without a size beside a calibrated one: pooled per pixel, warned, named
    mixed = summarize_fields([fields[0], measure_field(masks[1], n_lines=10, name="b")])
    assert mixed["astm_g"] is None
    (told,) = [w for w in mixed["warnings"] if "pixel sizes" in w]
    assert "1 of 2 without one: b" in told, told


def test_specimen_intervals_have_no_impossible_ends():
    """Two planimetric fields of N_A 100 and 300 mm⁻²: mean 200, half-width
    t(0.975, 1) · s / √2 = 12.706 · 141.4 / 1.414 = 1270.6. The lower end of the N_A interval
    would be -1070 grains per mm²; as for ℓ̄ (and G) of the intercept method it is
    withheld rather than reported as a negative count. The summary wrote the half-open
    [null, 1470.62] (ℓ̄ [0.68, null] µm) where a row without an interval end writes null
    with a warning and interval_note giving the known end (grainsize.interval_note): it
    follows the rows now."""
    from napari_srmat.grainsize import NO_INTERVAL_NOTE
    from napari_srmat.metrics.standards import no_lower_end_note, no_upper_end_note

    def fld(v, method):
        key = "intersections_per_mm" if method == "intercept" else "grains_per_mm2"
        return {"method": method, "rule": "e112", "pixel_size_um": 1.0, key: v,
                "n_intersections": 80, "n_grains_equivalent": 90, "grain_areas_um2": [],
                "warnings": []}

    sp = summarize_fields([fld(100.0, "planimetric"), fld(300.0, "planimetric")])
    assert sp["mean"] == 200.0 and sp["ci95_half_width"] == pytest.approx(1270.62, abs=0.01)
    assert sp["grains_per_mm2_ci95"] is None and sp["astm_g_ci95"] is None
    assert sp["astm_g"] is not None
    told = no_lower_end_note(sp["mean"] + sp["ci95_half_width"], "grains per mm²")
    assert "N_A ≤ 1.47e+03 grains per mm² at 95 %" in told
    assert sp["interval_note"] == told and told in sp["warnings"]
    si = summarize_fields([fld(100.0, "intercept"), fld(300.0, "intercept")])
    assert si["mean_intercept_ci95_um"] is None and si["astm_g_ci95"] is None
    told = no_upper_end_note(1000 / 1470.62, "µm")
    assert told.startswith(NO_INTERVAL_NOTE) and "ℓ̄ ≥ 0.68 µm at 95 %" in told
    assert si["interval_note"] == told and told in si["warnings"]
    # an interval inside the positive numbers is kept as it is, [low, high]
    ok = summarize_fields([fld(v, "planimetric") for v in (190.0, 200.0, 210.0)])
    lo, hi = ok["grains_per_mm2_ci95"]
    assert 0 < lo < 200 < hi and lo + hi == pytest.approx(400)
    assert ok["interval_note"] is None and None not in ok["astm_g_ci95"]


def _nl_field(name, v):
    return {"method": "intercept", "rule": "e112", "pixel_size_um": 1.0, "name": name,
            "intersections_per_mm": v, "n_intersections": 80, "warnings": []}


def test_a_field_without_crossings_is_a_zero_in_the_statistics():
    """A field whose test lines crossed no boundary (they lay inside one grain) has
    N_L = 0, a measurement E112 averages with the others; summarize_fields left it out
    (``v > 0``), so fields of N_L 0, 10 and 20 per mm read mean 15 (ℓ̄ 66.7 µm, G 4.5)
    from two fields. By hand, three fields: mean 10, s 10, t(0.975, 2) = 4.303,
    half-width 4.303 · 10 / √3 = 24.84 per mm, %RA 248.4, ℓ̄ = 1000 / 10 = 100 µm
    (G = -3.288 - 6.643856 log10(0.1 mm) = 3.356); the N_L interval is [-14.84, 34.84]:
    its ℓ̄ ends are 1000 / 34.84 = 28.70 µm and, for the impossible N_L ≤ 0, none: the
    interval is null, its warning and interval_note give ℓ̄ ≥ 28.7 µm (a row's rule)."""
    s = summarize_fields([_nl_field(n, v) for n, v in zip("abc", (0.0, 10.0, 20.0))])
    assert s["n_fields"] == s["n_fields_in_statistics"] == 3
    assert s["mean"] == 10.0 and s["sd"] == pytest.approx(10.0)
    assert s["ci95_half_width"] == pytest.approx(4.303 * 10 / math.sqrt(3), abs=0.01)
    assert s["ci95_half_width"] == pytest.approx(24.84, abs=0.01)
    assert s["relative_accuracy_pct"] == pytest.approx(248.4, abs=0.1)
    assert s["mean_intercept_um"] == pytest.approx(100.0)
    assert s["astm_g"] == pytest.approx(3.356, abs=1e-3)
    assert s["mean_intercept_ci95_um"] is None and s["astm_g_ci95"] is None
    assert "ℓ̄ ≥ 28.7 µm at 95 %" in s["interval_note"]
    assert s["interval_note"] in s["warnings"]
    # the field is named, with what to do; it is not "left out"
    (told,) = [w for w in s["warnings"] if "no boundary crossing" in w]
    assert told.startswith("field(s) a have no boundary crossing") and "lengthen" in told
    assert not any("left out" in w for w in s["warnings"])
    # a field that could not be measured (None, NaN) is still left out
    s2 = summarize_fields([_nl_field(n, v) for n, v in
                           zip("abcde", (0.0, 10.0, 20.0, None, math.nan))])
    assert (s2["n_fields"], s2["n_fields_in_statistics"]) == (5, 3)
    assert s2["mean"] == 10.0 and s2["astm_g"] == s["astm_g"]
    assert "2 field(s) without a valid value are left out" in s2["warnings"]


def test_fields_all_without_crossings_give_no_grain_size_and_no_error():
    """Every field N_L = 0: the mean is 0, ℓ̄ infinite: no G, no ℓ̄ and no interval (no
    division by zero), the zeros counted as fields of the statistics."""
    s = summarize_fields([_nl_field(n, 0.0) for n in "ab"])
    assert (s["n_fields_in_statistics"], s["mean"], s["ci95_half_width"]) == (2, 0.0, 0.0)
    assert s["astm_g"] is None and s["astm_g_ci95"] is None
    assert s["mean_intercept_um"] is None and s["mean_intercept_ci95_um"] is None
    assert s["relative_accuracy_pct"] is None
    # measured: a field with a boundary no test line crosses is such a field
    ms = synth((256, 256), h=20, seed=3).boundaries
    out = measure_specimen([ms, _uncrossed((256, 256))], pixel_size_um=0.5, n_lines=10)
    assert out["images"][1]["intersections_per_mm"] == 0.0
    assert out["summary"]["n_fields_in_statistics"] == 2
    assert out["summary"]["mean"] == pytest.approx(out["images"][0]["intersections_per_mm"] / 2)


def _uncrossed(shape):
    """A mask whose only boundary, a small ring in the corner, no test line crosses."""
    m = np.zeros(shape, bool)
    m[1:6, 1:6] = True
    m[2:5, 2:5] = False
    return m


@pytest.mark.parametrize("method", ["intercept", "planimetric"])
def test_a_field_without_any_boundary_is_not_measured(method):
    """An all-zero mask (a failed prediction, a wrong threshold, a blank or inverted
    file) read N_L = 0 and, since 5c8c873, entered the statistics as a field of no
    crossing: with two 20 px grids it read G 8.74 from 3 fields (9.91 from the 2 real
    ones). A field with no boundary pixel cannot be told from one grain covering the
    field, so it is not measured (None) and named with both readings; a field with
    boundary pixels that no test line crosses is still N_L = 0, a field value."""
    grid = np.zeros((200, 200), bool)
    grid[:, ::20] = grid[::20, :] = True
    blank = measure_field(np.zeros((200, 200), bool), pixel_size_um=0.5, method=method,
                          name="blank")
    key = "intersections_per_mm" if method == "intercept" else "grains_per_mm2"
    assert blank[key] is None and blank["n_boundary_px"] == 0 and blank["astm_g"] is None
    assert any(w.startswith("no boundary at all: not segmented, or one grain covers the "
                            "whole field") for w in blank["warnings"]), blank["warnings"]
    g = measure_field(grid, pixel_size_um=0.5, method=method)
    s = summarize_fields([blank, g, g])
    assert (s["n_fields"], s["n_fields_in_statistics"]) == (3, 2)
    assert s["astm_g"] == pytest.approx(summarize_fields([g, g])["astm_g"])
    assert ("field(s) blank have no boundary at all: not segmented, or one grain covers "
            "the whole field; left out of the statistics") in s["warnings"], s["warnings"]
    assert not any("without a valid value" in w for w in s["warnings"]), s["warnings"]
    # a label map of one grain has no boundary either
    one = measure_field(labels=np.ones((200, 200), int), pixel_size_um=0.5, method=method)
    assert one[key] is None and one["n_boundary_px"] == 0
    if method == "intercept":  # boundary pixels, no crossing: N_L = 0 counts
        u = measure_field(_uncrossed((200, 200)), pixel_size_um=0.5, name="u")
        assert u[key] == 0.0 and u["n_boundary_px"] == 16
        assert summarize_fields([u, g, g])["n_fields_in_statistics"] == 3


@pytest.mark.parametrize("rule", ["e112", "iso643", "e1382"])
def test_a_planimetric_zero_is_no_count_and_stays_out(rule):
    """Jeffries: a field inside one grain counts 1 under E112 and ISO 643 (the grain
    holds the four corners, ¼ each), and under E1382 nothing is counted over no area
    (N_A undefined, None). N_A = 0 is thus no count a rule gives, and a field carrying
    one is left out as a field without a value."""
    # one grain over the field (a boundary speck in it, below min_grain_px)
    f = measure_field(_uncrossed((200, 200)), pixel_size_um=0.5, method="planimetric",
                      rule=rule, n_lines=7, margin=0, min_grain_px=10)
    if rule == "e1382":
        assert f["grains_per_mm2"] is None
    else:
        assert f["n_grains_equivalent"] == 1.0 and f["grains_per_mm2"] == pytest.approx(100.0)
    fields = [{"method": "planimetric", "rule": rule, "pixel_size_um": 1.0,
               "grains_per_mm2": v, "n_grains_equivalent": 90, "grain_areas_um2": [],
               "warnings": []} for v in (0.0, 900.0, 1100.0)]
    s = summarize_fields(fields)
    assert (s["n_fields_in_statistics"], s["mean"]) == (2, 1000.0)
    assert "1 field(s) without a valid value are left out" in s["warnings"]


@pytest.mark.parametrize("n, used, text", [
    (1, 1, "1 field"), (4, 4, "4 fields"), (5, 4, "5 fields (4 in the statistics)"),
    (2, 0, "2 fields (0 in the statistics)"), (3, None, "3 fields")])
def test_the_fields_of_a_specimen_are_worded_once(n, used, text):
    """'N fields (M in the statistics)' was worded three ways: the report's row '5 (4 in
    the statistics)', srmat grain-size's 'specimen (3 fields, 2 in the statistics)' and
    the widget's 'from 3 field(s) (2 in the statistics)'. One function words it; a
    summary saved before n_fields_in_statistics (None) reads as all fields."""
    from napari_srmat.metrics.standards import specimen_fields_text

    assert specimen_fields_text({"n_fields": n, "n_fields_in_statistics": used}) == text


def test_field_specimen_and_count_take_a_files_pixel_size(tmp_path):
    """measure_field, measure_specimen and planimetric gave a Micrograph no pixel size
    ("no pixel size", no G) where measure_intercepts, measure_grain_size and the CLI took
    the file's; a file with non-square pixels says why it has none."""
    import warnings

    import tifffile

    from napari_srmat.io import read_image
    from napari_srmat.metrics.standards import measure_specimen

    ms = generate_microstructure((160, 160), mean_grain_size_px=16, seed=3)
    mask = ms.boundaries.astype(np.uint8) * 255
    tifffile.imwrite(tmp_path / "sq.tif", mask, resolution=(20000, 20000),
                     resolutionunit="CENTIMETER")  # 0.5 µm
    tifffile.imwrite(tmp_path / "ns.tif", mask, resolution=(20000, 40000),
                     resolutionunit="CENTIMETER")  # X 0.5, Y 0.25 µm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sq, ns = read_image(tmp_path / "sq.tif"), read_image(tmp_path / "ns.tif")
    as_array = measure_field(mask, pixel_size_um=0.5)
    field = measure_field(sq)
    assert field["pixel_size_um"] == 0.5 and field["astm_g"] == as_array["astm_g"]
    assert field["grains_per_mm2"] == as_array["grains_per_mm2"]
    # E112 N under HeynResult's name: "n_intercepts" is the grain-size schema's crossings
    assert "n_intercepts" not in field and field["intercept_count"] > 0
    counted = planimetric(sq)
    assert counted.pixel_size_um == 0.5
    assert counted.astm_g == planimetric(mask, pixel_size_um=0.5).astm_g
    assert measure_specimen([sq, sq])["images"][0]["pixel_size_um"] == 0.5
    said = "pixels are not square (X 0.5 µm, Y 0.25 µm)"
    field_ns, counted_ns = measure_field(ns), planimetric(ns)
    assert field_ns["astm_g"] is None and counted_ns.astm_g is None
    assert said in field_ns["warnings"][0] and said in counted_ns.warnings[0]
    given = measure_field(ns, pixel_size_um=0.5)  # the user's size wins, and is named
    assert given["astm_g"] == as_array["astm_g"]
    assert given["warnings"][0] == ("the file records (Y, X) = (0.25, 0.5) µm per pixel; "
                                    "the given 0.5 µm was used")


def test_a_field_too_large_for_memory_is_refused_by_the_standards_plan(monkeypatch):
    """``srmat grain-size --mask --method`` and the Specimen tab checked a field with the
    Heyn plan (8 B/px for a 0/255 mask), but ``measure_field`` builds grain label maps
    too (54-59 B/px measured): a 10000² mask passed the check and went past 4.5 GB, a
    20000² one would have filled a 24 GB machine. The field's own plan
    (``plan_mask_measurement(..., field=True)``) now refuses it before it is read."""
    import dask.array as da

    from napari_srmat import estimates
    from napari_srmat.estimates import MEMORY_FRACTION, plan_mask_measurement

    m = np.zeros((256, 256), np.uint8)
    m[:, 5::20] = 255
    m[5::20, :] = 255
    heyn = plan_mask_measurement(m.shape, m.dtype).output_bytes
    field = plan_mask_measurement(m.shape, m.dtype, field=True).output_bytes
    assert field >= 6 * heyn
    reads = []

    def tracked(block):
        reads.append(block.shape)
        return block

    lazy = da.from_array(m, chunks=128).map_blocks(tracked)
    reads.clear()
    # memory for the Heyn measurement, not for the field's
    monkeypatch.setattr(estimates, "available_memory_bytes",
                        lambda: int(heyn / MEMORY_FRACTION) * 2)
    with pytest.raises(ValueError, match=r"^measure_field needs [0-9.]+ [KMG]iB of memory, "
                       r"more than 50% of the [0-9.]+ [KMG]iB available: measure fields or "
                       r"crops of it$"):
        measure_field(lazy, pixel_size_um=1.0, n_lines=10)
    assert reads == []
    monkeypatch.setattr(estimates, "available_memory_bytes",
                        lambda: int(field / MEMORY_FRACTION) + 1)
    assert measure_field(m, pixel_size_um=1.0, n_lines=10)["n_grains_inside"] > 50


def test_a_colour_fields_plan_counts_its_channels(monkeypatch):
    """measure_field planned a mask from its height and width alone (``np.shape()[:2]``):
    a lazy RGB mask, read with its three channels and turned into a bool mask per
    channel, was planned as a grey one. With memory for the grey field only, the RGB
    field is refused before it is read; with memory for its plan it is measured as the
    grey one (the mask rule's channel rule)."""
    import dask.array as da

    from napari_srmat import estimates
    from napari_srmat.estimates import MEMORY_FRACTION, plan_mask_measurement

    m = np.zeros((256, 256), np.uint8)
    m[:, 5::20] = 255
    m[5::20, :] = 255
    rgb = np.dstack([m, m, np.zeros_like(m)])
    reads = []

    def tracked(block):
        reads.append(block.shape)
        return block

    lazy = da.from_array(rgb, chunks=(128, 128, 3)).map_blocks(tracked)
    reads.clear()
    grey = plan_mask_measurement(m.shape, m.dtype, field=True).output_bytes
    monkeypatch.setattr(estimates, "available_memory_bytes",
                        lambda: int(grey / MEMORY_FRACTION) + 1)
    with pytest.raises(ValueError, match=r"^measure_field needs "):
        measure_field(lazy, pixel_size_um=1.0, n_lines=10)
    assert reads == []
    need = plan_mask_measurement(rgb.shape, rgb.dtype, field=True).output_bytes
    monkeypatch.setattr(estimates, "available_memory_bytes",
                        lambda: int(need / MEMORY_FRACTION) + 1)
    got = measure_field(lazy, pixel_size_um=1.0, n_lines=10)
    want = measure_field(m, pixel_size_um=1.0, n_lines=10)
    assert got["n_grains_inside"] == want["n_grains_inside"] > 50


def test_specimen_interval_of_the_intercept_has_the_apis_name_and_the_old_one_warns():
    """The specimen summary named ℓ̄'s interval ``mean_intercept_um_ci95`` where
    GrainSizeResult, ``srmat grain-size`` and ``srmat heyn`` say ``mean_intercept_ci95_um``
    (``<quantity>_ci95_<unit>``, as ``mean_intercept_ci95_px``). The summary now has the
    API's name only (also in its JSON); the old one is read for one release, with a
    DeprecationWarning, from a fresh summary and from one saved as JSON."""
    fields = [{"method": "intercept", "rule": "e112", "pixel_size_um": 1.0,
               "intersections_per_mm": v, "n_intersections": 80, "warnings": []}
              for v in (90.0, 100.0, 110.0)]
    s = summarize_fields(fields)
    lo, hi = s["mean_intercept_ci95_um"]
    assert lo < s["mean_intercept_um"] < hi
    assert s["mean_intercept_um"] == pytest.approx(10.0)
    saved = json.loads(json.dumps(s))
    assert "mean_intercept_ci95_um" in saved and "mean_intercept_um_ci95" not in saved
    assert "mean_intercept_um_ci95" not in list(s)
    # the old name on a fresh summary: the same value, a DeprecationWarning naming both
    for read in (lambda: s["mean_intercept_um_ci95"], lambda: s.get("mean_intercept_um_ci95"),
                 lambda: [lo, hi] if "mean_intercept_um_ci95" in s else None):
        with pytest.warns(DeprecationWarning, match="'mean_intercept_um_ci95' is renamed "
                          "'mean_intercept_ci95_um'"):
            assert read() == [lo, hi]
    with pytest.raises(KeyError):
        s["mean_intercept_um_ci96"]
    # a planimetric summary has no ℓ̄ interval under either name
    plan = summarize_fields([{**f, "method": "planimetric", "grains_per_mm2": 1000.0}
                             for f in fields])
    assert plan.get("mean_intercept_um_ci95") is None
    assert "mean_intercept_um_ci95" not in plan
    with pytest.raises(KeyError):
        plan["mean_intercept_um_ci95"]
    # a summary saved under the old name (JSON of an earlier release) reads as the new
    old = {("mean_intercept_um_ci95" if k == "mean_intercept_ci95_um" else k): v
           for k, v in saved.items()}
    with pytest.warns(DeprecationWarning, match="renamed 'mean_intercept_ci95_um'"):
        up = upgrade_summary(old)
    assert up == saved and "mean_intercept_um_ci95" not in dict(up)


# ------------------------------------------------ G outside E112's tables (unit slips)
def test_g_range_warning_flags_a_pixel_size_in_the_wrong_unit():
    """Inside E112's tables (00 to 14) widened by the margin no warning; a pixel size
    typed in nm or mm (G moved by 20) is told, with what to check."""
    assert g_range_warning(8.8) is None
    assert g_range_warning(None) is None
    assert g_range_warning(float("nan")) is None
    lo, hi = ASTM_G_TABLE_RANGE
    assert g_range_warning(lo - ASTM_G_TABLE_MARGIN + 0.5) is None
    assert g_range_warning(hi + ASTM_G_TABLE_MARGIN - 0.5) is None
    assert g_range_warning(-10.6) == (
        "G -10.6 is outside E112's range (00 to 14): check the pixel size (µm per pixel)")
    assert "G 29.3 is outside" in g_range_warning(29.3)


@pytest.mark.parametrize("method", ["intercept", "planimetric"])
def test_a_field_and_a_specimen_at_a_pixel_size_in_nm_are_warned(method):
    """Before: 500 typed (nm meant, 0.5 µm/px) gave G about -10 on each field and on the
    specimen without a word. Now the field rows and the summary say to check the pixel
    size; at 0.5 µm/px nothing is said."""
    ms = generate_microstructure((160, 160), mean_grain_size_px=16.0, seed=3)
    for px, told in ((500.0, True), (0.5, False)):
        rep = measure_specimen([ms.boundaries, ms.boundaries], method=method,
                               pixel_size_um=px, n_lines=20)
        for row in (*rep["images"], rep["summary"]):
            hits = [w for w in row["warnings"] if "outside E112's range" in w]
            assert bool(hits) is told, (px, row["warnings"])
        if told:
            assert rep["summary"]["astm_g"] < ASTM_G_TABLE_RANGE[0] - ASTM_G_TABLE_MARGIN


def test_a_field_dicts_pixel_size_none_is_not_given():
    """measure_specimen: a field dict's ``"pixel_size_um": None`` (a layer or file
    without a calibration, put in the dict as it came) overrode the size given for every
    field (``pixel_size_um=0.5``): that field was measured in pixels only and the
    specimen's G withheld. None in the dict now means "not given": the keyword's size; a
    field's own size still wins over it."""
    a = generate_microstructure((160, 160), mean_grain_size_px=16.0, seed=4)
    b = generate_microstructure((160, 160), mean_grain_size_px=16.0, seed=5)
    rep = measure_specimen([{"boundaries": a.boundaries, "pixel_size_um": None},
                            {"boundaries": b.boundaries, "pixel_size_um": 0.25}],
                           pixel_size_um=0.5, n_lines=20)
    assert [f["pixel_size_um"] for f in rep["images"]] == [0.5, 0.25]
    assert rep["summary"]["astm_g"] is not None


def test_fields_of_different_pixel_sizes_pool_in_um():
    """A field's own ``pixel_size_um`` (the Specimen tab's fields at two magnifications)
    is measured at it and pooled in µm, as measure_field + summarize_fields (srmat
    grain-size's route)."""
    a = generate_microstructure((160, 160), mean_grain_size_px=16.0, seed=4)
    b = generate_microstructure((160, 160), mean_grain_size_px=16.0, seed=5)
    rep = measure_specimen([{"boundaries": a.boundaries, "pixel_size_um": 0.5},
                            {"boundaries": b.boundaries, "pixel_size_um": 0.25}],
                           n_lines=20)
    rows = [measure_field(m.boundaries, pixel_size_um=px, n_lines=20, name=str(i))
            for i, (m, px) in enumerate(((a, 0.5), (b, 0.25)))]
    assert [f["pixel_size_um"] for f in rep["images"]] == [0.5, 0.25]
    assert rep["summary"]["astm_g"] == summarize_fields(rows)["astm_g"]
    assert rep["images"][1]["mean_intercept_um"] == rows[1]["mean_intercept_um"]


def test_fields_with_and_without_a_pixel_size_withhold_the_pooled_figures(tmp_path, capsys):
    """Fields with and without a pixel size had three rules: summarize_fields pooled them
    per pixel, as if of one size (mean, %RA and even "%RA ..., about N fields" advice),
    ``srmat heyn`` withheld its pool in its own words, the Specimen tab refused them,
    and ``srmat grain-size --method`` exited 2 with "none of the 2 fields gives a valid
    N_L". Now one rule (``mixed_pixel_sizes_warning``): the summary withholds its pooled
    mean, sd, %RA, interval, G, advice, duplex and ALA with one warning naming the
    fields, ``srmat heyn`` tells the same words, and ``srmat grain-size --method`` is
    refused saying why. Failed before."""
    import tifffile
    from PIL import Image

    from napari_srmat.cli import main
    from napari_srmat.metrics.standards import (
        MIXED_PIXEL_SIZES_REMEDY,
        mixed_pixel_sizes_warning,
        specimen_advice,
    )

    masks = [synth((192, 192), h=20, seed=s).boundaries for s in (11, 12)]
    fields = [measure_field(masks[0], pixel_size_um=0.3, n_lines=10, name="a"),
              measure_field(masks[1], n_lines=10, name="b")]
    s = summarize_fields(fields)
    for key in ("mean", "sd", "ci95_half_width", "relative_accuracy_pct", "interval_scope",
                "astm_g", "astm_g_ci95", "duplex", "ala"):
        assert s[key] is None, key
    assert not set(s["advice"]) & set(specimen_advice(2, 400.0)), s["advice"]
    told = mixed_pixel_sizes_warning(fields)
    assert "1 of 2 without one: b" in told and told.endswith(MIXED_PIXEL_SIZES_REMEDY)
    assert told.endswith("record their pixel size or measure them apart")
    assert [w for w in s["warnings"] if "pixel size" in w] == [told]
    # the same masks through both commands: one rule, one wording
    a, b = str(tmp_path / "a.tif"), str(tmp_path / "b.png")
    tifffile.imwrite(a, masks[0].astype(np.uint8) * 255, resolution=(1e4 / 0.3, 1e4 / 0.3),
                     resolutionunit="CENTIMETER")
    Image.fromarray(masks[1].astype(np.uint8) * 255).save(b)
    assert main(["heyn", a, b, "--json"]) == 2  # no pooled ℓ̄: exit 2 as grain-size (f683aa9f)
    out, err = capsys.readouterr()
    out = json.loads(out)
    assert "not pooled" in err, err
    assert out["mean_intercept_px"] is None and out["mean_intercept_um"] is None
    assert told.replace("fields", "masks").replace(": b)", f": {b})") in out["warnings"]
    assert main(["grain-size", a, b, "--mask", "--method", "intercept", "--json"]) == 2
    out, err = capsys.readouterr()
    summary = json.loads(out)["summary"]
    assert summary["mean"] is None and summary["advice"] == []
    assert "valid N_L" not in err
    assert ("error: no grain size measured for the specimen: fields with and without a "
            "pixel size are not pooled") in err, err
