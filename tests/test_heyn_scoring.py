"""`srmat heyn --scoring e112`: the lab measurement on masks with ASTM E112's scoring."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from napari_srmat.cli import main
from napari_srmat.metrics.grainmap import boundaries_from_labels
from napari_srmat.metrics.heyn import astm_grain_size_number
from napari_srmat.metrics.standards import floored_relative_half

#: The grid of the masks below: one horizontal and one vertical line, no margin (each
#: spans the mask: rows and columns 0 to 100, 200 px of line in all).
GRID = ["--pattern", "grid", "--lines", "1", "--margin", "0"]
LENGTH_PX = 200.0


def _y_junction_mask(path, *, right_edge: bool = True) -> str:
    """A 101² mask by hand: three grains meeting at (50, 70) (branches up, down-left
    and down-right), boundaries on columns 0 and (``right_edge``) 100.

    The grid's horizontal line (row 50) has its ends on the edge boundaries and passes
    the junction: 3 crossings, by E112 ½ + 1½ + ½ = 2.5 (without the right edge 2
    crossings, ½ + 1½ = 2.0). The vertical line (column 50) crosses the down-left branch once
    (1 either way) and ends inside grains."""
    yy, xx = np.mgrid[:101, :101]
    ang = np.degrees(np.arctan2(50 - yy, xx - 70)) % 360
    mask = boundaries_from_labels(((ang + 30) // 120).astype(int) % 3)
    mask[:, 0] = True
    if right_edge:
        mask[:, -1] = True
    np.save(path, mask.astype(np.uint8))
    return str(path)


def _heyn_json(capsys, *args) -> dict:
    assert main(["heyn", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_srmat_heyn_scores_p_by_e112_when_asked(tmp_path, capsys):
    """`srmat heyn` counted crossings only (each 1, a line's end on a boundary 1, a triple
    point 1): a lab reporting by E112 could not get E112's P from it. With --scoring e112
    P is E112's: on the hand-made mask 4 crossings score ½ + 1½ + ½ + 1 = 3.5 (one
    triple point +½, two touched ends −½ each), ℓ̄ = 200 / 3.5 px and G from it; the
    default is unchanged, and the JSON says which scoring made the numbers."""
    path = _y_junction_mask(tmp_path / "y.npy")
    runs = _heyn_json(capsys, path, *GRID, "--pixel-size-um", "1")
    e112 = _heyn_json(capsys, path, *GRID, "--pixel-size-um", "1", "--scoring", "e112")
    assert runs["scoring"] == "crossings" and e112["scoring"] == "e112"
    for doc in (runs, e112):  # the counts' keys of every output, as before
        assert {"n_crossings", "intersection_count", "n_triple_points",
                "n_line_end_touches", "n_intersections"} <= set(doc)
        assert doc["n_crossings"] == doc["n_intersections"] == 4
    assert (runs["intersection_count"], runs["n_triple_points"],
            runs["n_line_end_touches"]) == (4, 0, 0)
    assert (e112["intersection_count"], e112["n_triple_points"],
            e112["n_line_end_touches"]) == (3.5, 1, 2)
    assert e112["intersection_count"] - runs["intersection_count"] == 0.5 * 1 - 0.5 * 2
    assert runs["mean_intercept_px"] == pytest.approx(LENGTH_PX / 4)
    assert e112["mean_intercept_px"] == pytest.approx(LENGTH_PX / 3.5)
    assert e112["astm_g"] == pytest.approx(astm_grain_size_number(LENGTH_PX / 3.5 / 1000))
    row = e112["per_image"][0]
    assert row["intersection_count"] == 3.5 and row["triple_points"] is True
    assert row["mean_intercept_px"] == pytest.approx(LENGTH_PX / 3.5)
    assert runs["per_image"][0]["triple_points"] is False
    # the text names the scoring when it is E112's (the default's line is unchanged)
    assert main(["heyn", path, *GRID, "--scoring", "e112"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert f"{LENGTH_PX / 3.5:.2f} px (3.5 intersections" in out[0]
    assert out[-1].startswith(f"pooled: mean intercept {LENGTH_PX / 3.5:.2f} px")
    assert "scored by ASTM E112" in out[-1]
    assert main(["heyn", path, *GRID]) == 0
    assert "E112" not in capsys.readouterr().out


def test_srmat_heyn_e112_pooled_interval_takes_the_half_scores(tmp_path, capsys):
    """Pooled over two images with E112 scoring P holds halves (3.5 + 3.0): ℓ̄ = ΣL / ΣP,
    N_L per field of the E112 P, and the interval's counting floor c = t √(n / 12) / P
    of that P (the resolution of one event: a ½ or 1½ is one end or junction, there or
    not), inverted: ℓ̄ [1 / (1 + r'), 1 / (1 − r')]."""
    paths = [_y_junction_mask(tmp_path / "a.npy"),
             _y_junction_mask(tmp_path / "b.npy", right_edge=False)]
    doc = _heyn_json(capsys, *paths, *GRID, "--scoring", "e112")
    assert [r["intersection_count"] for r in doc["per_image"]] == [3.5, 3.0]
    assert doc["intersection_count"] == 6.5 and doc["n_crossings"] == 7
    mean = doc["mean_intercept_px"]
    assert mean == pytest.approx(2 * LENGTH_PX / 6.5)
    assert doc["fields_mean_n_l_per_px"] == pytest.approx((3.5 + 3.0) / 2 / LENGTH_PX)
    r = floored_relative_half(doc["relative_accuracy_pct"] / 100.0, count=6.5, n_lines=2)
    lo, hi = doc["mean_intercept_ci95_px"]
    assert lo == pytest.approx(mean / (1 + r))
    assert (hi is None) == (r >= 1)
    if hi is not None:
        assert hi == pytest.approx(mean / (1 - r))
    # two copies of one image (two files with the same pixels: one file given twice is
    # refused): the scatter is 0, the floor alone, c of P = 7
    copy = _y_junction_mask(tmp_path / "a_copy.npy")
    doc = _heyn_json(capsys, paths[0], copy, *GRID, "--scoring", "e112")
    assert doc["relative_accuracy_pct"] == 0.0
    c = floored_relative_half(0.0, count=7.0, n_lines=2)
    assert 0 < c < 1
    assert doc["mean_intercept_ci95_px"] == pytest.approx(
        [doc["mean_intercept_px"] / (1 + c), doc["mean_intercept_px"] / (1 - c)])
    assert math.isfinite(doc["mean_intercept_ci95_px"][1])


@pytest.mark.parametrize("args, words", [
    (["heyn", "{mask}", "--scoring", "astm"], "invalid choice: 'astm'"),
    # srmat grain-size's model-error interval was calibrated on crossings: no option
    (["grain-size", "{mask}", "--mask", "--scoring", "e112"], "unrecognized arguments"),
])
def test_a_scoring_that_is_not_there_is_refused_in_one_line(tmp_path, capsys, args, words):
    mask = _y_junction_mask(tmp_path / "y.npy")
    with pytest.raises(SystemExit) as exc:
        main([a.format(mask=mask) for a in args])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err, err
