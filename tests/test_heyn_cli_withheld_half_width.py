"""``srmat heyn --json`` writes no ``ci95_half_width_px`` where ℓ̄'s 95 % interval is
withheld: ℓ̄ ± half-width would read as the interval the ``interval_note`` says does
not exist. The rule is the row's, :attr:`napari_srmat.grainsize.GrainSizeResult.
ci95_half_width_px` (the one the Heyn widget's exports follow), and the pooled
interval over fields follows it too (:func:`napari_srmat.grainsize.interval_half_width`)."""

from __future__ import annotations

import json

import numpy as np

from napari_srmat.cli import main
from napari_srmat.grainsize import NO_INTERVAL_NOTE, grain_size_from_heyn, interval_half_width
from napari_srmat.metrics.heyn import measure_intercepts


def _save(tmp_path, name: str, mask: np.ndarray) -> str:
    path = tmp_path / name
    np.save(path, mask)
    return str(path)


def _vertical_lines(spacing: int) -> np.ndarray:
    """A 128² mask of vertical boundaries every ``spacing`` px: a 1 + 1 grid's row line
    crosses them all and its column line (on a boundary) none, so the lines' densities
    scatter more than their mean (no upper end)."""
    mask = np.zeros((128, 128), bool)
    mask[:, ::spacing] = True
    return mask


def _grid(spacing: int) -> np.ndarray:
    mask = np.zeros((128, 128), bool)
    mask[:, ::spacing] = mask[::spacing, :] = True
    return mask


def _heyn_json(paths: list[str], capsys, *extra: str) -> dict:
    assert main(["heyn", *paths, "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_one_mask_whose_interval_is_withheld_has_no_half_width(tmp_path, capsys):
    """Was: ``ci95_half_width_px`` 414.9 beside ℓ̄ 32.66 px, top level and in the row,
    with ``mean_intercept_ci95_px`` null ("no upper end")."""
    path = _save(tmp_path, "lines.npy", _vertical_lines(16))
    out = _heyn_json([path], capsys, "--pattern", "grid", "--lines", "1")
    row = out["per_image"][0]
    for d in (out, row):
        assert d["mean_intercept_px"] is not None
        assert d["mean_intercept_ci95_px"] is None
        assert d["interval_note"].startswith(NO_INTERVAL_NOTE)
        assert d["ci95_half_width_px"] is None
    # the scatter stays E112's %RA (a figure of the lines, not an interval)
    assert row["relative_accuracy_pct"] > 100


def test_a_mask_with_its_interval_keeps_its_half_width(tmp_path, capsys):
    """Guard (passed before): the half-width is the row's line-sampling term, as before."""
    path = _save(tmp_path, "grid.npy", _grid(16))
    out = _heyn_json([path], capsys, "--pattern", "grid", "--lines", "3")
    row = out["per_image"][0]
    res = measure_intercepts(_grid(16), pattern="grid", n_lines=3)
    assert row["mean_intercept_ci95_px"] is not None
    assert row["ci95_half_width_px"] == res.ci95_half_width_px > 0
    assert out["ci95_half_width_px"] == row["ci95_half_width_px"]


def test_pooled_fields_whose_interval_is_withheld_have_no_half_width(tmp_path, capsys):
    """Two fields whose N_L differ by a quarter: the pooled interval has no upper end
    (null, with its note); was ``ci95_half_width_px`` 35.8 beside ℓ̄ 11.9 px."""
    paths = [_save(tmp_path, f"g{s}.npy", _grid(s)) for s in (12, 20)]
    out = _heyn_json(paths, capsys)
    assert out["mean_intercept_px"] is not None
    assert out["mean_intercept_ci95_px"] is None
    assert out["interval_note"].startswith(NO_INTERVAL_NOTE)
    assert out["ci95_half_width_px"] is None
    # each field has its own interval and half-width
    assert all(r["ci95_half_width_px"] is not None for r in out["per_image"])


def test_pooled_fields_with_their_interval_keep_the_half_width(tmp_path, capsys):
    """Guard (passed before): two close fields have the pooled half-width beside the pair."""
    paths = [_save(tmp_path, f"g{s}.npy", _grid(s)) for s in (16, 17)]
    out = _heyn_json(paths, capsys)
    assert out["mean_intercept_ci95_px"] is not None
    lo, hi = out["mean_intercept_ci95_px"]
    assert 0 < out["ci95_half_width_px"] < hi - lo


def test_the_row_and_the_widget_read_one_rule():
    """The result's half-width is the HeynResult's where the row has an interval, None
    where it withholds it (the rule ``interval_half_width``)."""
    lines = measure_intercepts(_vertical_lines(16), pattern="grid", n_lines=1)
    grid = measure_intercepts(_grid(16), pattern="grid", n_lines=3)
    withheld, given = grain_size_from_heyn(lines), grain_size_from_heyn(grid)
    assert withheld.mean_intercept_ci95_px is None and withheld.ci95_half_width_px is None
    assert np.isfinite(lines.ci95_half_width_px)  # the lines' figure exists, not shown
    assert given.ci95_half_width_px == grid.ci95_half_width_px
    assert interval_half_width(None, 3.0) is None
    assert interval_half_width((1.0, 2.0), float("nan")) is None
    assert interval_half_width((1.0, 2.0), 0.5) == 0.5
