"""``srmat heyn --json`` has one schema whatever was measured: the pooled count keys
(:data:`napari_srmat.metrics.standards.COUNT_KEYS`) are there when every mask fails
(``null``), and ``n_images`` / ``n_measured`` say how many masks were given and
measured."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_srmat.cli import main
from napari_srmat.cli.heyn import POOLED_FIELD_INTERVAL_KEYS
from napari_srmat.metrics.standards import COUNT_KEYS


def _masks(tmp_path, good: int, bad: int) -> list[str]:
    """``good`` boundary masks (PNG, a 8 px grid) then ``bad`` files that are no image."""
    from PIL import Image

    tmp_path.mkdir(exist_ok=True)
    mask = np.zeros((64, 64), np.uint8)
    mask[::8, :] = mask[:, ::8] = 255
    paths = []
    for i in range(good + bad):
        path = tmp_path / f"mask{i}.png"
        if i < good:
            Image.fromarray(mask).save(path)
        else:
            path.write_bytes(b"not a png")
        paths.append(str(path))
    return paths


def _heyn_json(paths: list[str], capsys) -> tuple[int, dict]:
    rc = main(["heyn", *paths, "--json"])
    return rc, json.loads(capsys.readouterr().out)


def test_count_keys_are_a_heyn_results_counts():
    """The one key list is what ``HeynResult.counts()`` gives every output."""
    from napari_srmat.metrics.heyn import measure_intercepts

    mask = np.zeros((64, 64), bool)
    mask[:, ::8] = True
    assert tuple(measure_intercepts(mask).counts()) == COUNT_KEYS


def test_count_keys_are_defined_once_with_the_counts():
    """``metrics.standards.COUNT_KEYS`` was a second copy of ``HeynResult.counts()``'s
    keys, kept in step by the test above only. The one definition is now
    ``metrics.heyn.COUNT_KEYS``, the keys ``counts()`` is made of; ``standards`` imports
    it (the public name unchanged)."""
    from napari_srmat.metrics import heyn, standards

    assert standards.COUNT_KEYS is heyn.COUNT_KEYS
    assert "COUNT_KEYS" in heyn.__all__ and "COUNT_KEYS" in standards.__all__


@pytest.mark.parametrize("bad", [1, 2])
def test_an_all_failed_heyn_json_has_the_count_keys_of_a_measured_one(tmp_path, capsys, bad):
    """Every mask failing left out ``intersection_count``, ``n_crossings`` and the other
    pooled counts that a measured run has, so a script reading them broke: the keys are
    there, ``null`` (nothing was counted), as ``n_intersections``."""
    rc_ok, ok = _heyn_json(_masks(tmp_path / "ok", 1, 0), capsys)
    rc, failed = _heyn_json(_masks(tmp_path, 0, bad), capsys)
    assert rc_ok == 0 and rc == 2
    assert set(ok) == set(failed)
    assert all(failed[k] is None for k in (*COUNT_KEYS, "n_intersections"))
    assert all(ok[k] is not None for k in COUNT_KEYS)
    assert failed["n_images"] == bad and failed["n_measured"] == 0
    assert failed["per_image"] == [] and len(failed["errors"]) == bad


def test_n_images_counts_the_masks_given_and_n_measured_those_measured(tmp_path, capsys):
    """``n_images`` counted the masks measured (the rows) since a mask that fails no
    longer ends the run; the docs' 'each image is one field' and the error line's 'K of
    N masks' count those given. ``n_images`` is the masks given, ``n_measured`` the rows."""
    rc, out = _heyn_json(_masks(tmp_path, 2, 1), capsys)
    assert rc == 2
    assert out["n_images"] == 3 and out["n_measured"] == len(out["per_image"]) == 2
    assert all(out[k] is not None for k in COUNT_KEYS)  # the measured masks' sums
    rc, out = _heyn_json(_masks(tmp_path / "all", 2, 0), capsys)
    assert rc == 0 and out["n_images"] == out["n_measured"] == 2


@pytest.mark.parametrize("other", ["unreadable", "not a boundary map"])
def test_one_field_beside_a_withheld_pool_has_no_interval(tmp_path, capsys, other):
    """One measured mask beside one that failed (or is not a boundary map) withholds the
    pooled ℓ̄, and its interval with it (docs/heyn.md: 'the pooled figures (ℓ̄, its
    interval, µm, G, ...) are then withheld'); the pooled ``ci95_half_width_px``,
    ``relative_accuracy_pct`` and ``mean_intercept_ci95_px`` were the one field's, an
    interval of a withheld ℓ̄, where two measured masks beside a failed one read null."""
    from PIL import Image

    good, bad = _masks(tmp_path, 1, 1)
    if other == "not a boundary map":
        Image.fromarray(np.full((64, 64), 255, np.uint8)).save(bad)
    rc, out = _heyn_json([good, bad], capsys)
    assert rc != 0 and out["mean_intercept_px"] is None
    assert out["per_image"][0]["mean_intercept_ci95_px"] is not None  # the row keeps its own
    assert all(out[k] is None for k in POOLED_FIELD_INTERVAL_KEYS)


def test_the_pooled_keys_are_the_same_whatever_was_measured(tmp_path, capsys):
    """``fields_mean_n_l_per_px`` was there with two or more fields only, so the pooled
    keys of one mask (or of every mask failing) were another set than two masks'; it is
    ``null`` where there is no mean over fields."""
    keys = {}
    for good, bad in [(0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]:
        _rc, out = _heyn_json(_masks(tmp_path / f"{good}{bad}", good, bad), capsys)
        keys[good, bad] = set(out)
    assert all(k == keys[2, 0] for k in keys.values()), {
        gb: sorted(k ^ keys[2, 0]) for gb, k in keys.items()}


@pytest.mark.parametrize("n_masks", [1, 2])
def test_the_pooled_figures_carry_their_um_and_g_intervals(tmp_path, capsys, n_masks):
    """The pooled ℓ̄ had its interval in px only: with a pixel size its µm and G
    (``mean_intercept_um``, ``astm_g``) came without ``mean_intercept_ci95_um`` and
    ``astm_g_ci95``, which every row, ``srmat grain-size`` and a specimen summary give."""
    paths = _masks(tmp_path, n_masks, 0)
    rc = main(["heyn", *paths, "--json", "--pixel-size-um", "0.5"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["mean_intercept_ci95_px"] is not None
    lo, hi = out["mean_intercept_ci95_px"]
    assert out["mean_intercept_ci95_um"] == pytest.approx([lo * 0.5, hi * 0.5])
    g_lo, g_hi = out["astm_g_ci95"]
    assert g_lo < out["astm_g"] < g_hi  # G falls as ℓ̄ grows: low G from the high ℓ̄
    if n_masks == 1:  # one field: the pool is the row
        row = out["per_image"][0]
        assert out["mean_intercept_ci95_um"] == pytest.approx(row["mean_intercept_ci95_um"])
        assert out["astm_g_ci95"] == pytest.approx(row["astm_g_ci95"])
    _rc, unitless = _heyn_json(paths, capsys)  # no pixel size: the keys, null
    assert unitless["mean_intercept_ci95_um"] is None and unitless["astm_g_ci95"] is None


def test_the_pooled_interval_note_is_the_one_fields_and_null_for_several(tmp_path, capsys):
    """The pooled JSON had no ``interval_note`` (every row has one, ed5847e7): one field
    whose interval is null (one test line) said why only in its path-prefixed warnings."""
    (path,) = _masks(tmp_path / "one", 1, 0)
    assert main(["heyn", path, "--json", "--lines", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    row = out["per_image"][0]
    assert out["mean_intercept_ci95_px"] is None and row["interval_note"]
    assert out["interval_note"] == row["interval_note"]
    _rc, out = _heyn_json(_masks(tmp_path / "two", 2, 0), capsys)
    assert out["mean_intercept_ci95_px"] is not None and out["interval_note"] is None
