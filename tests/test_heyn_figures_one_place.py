"""One concept, one rule (E3): a Heyn field's figures -- ℓ̄, its 95 % interval and
half-width, µm, G and G's interval, withheld or not -- come from one place,
``grainsize.grain_size_from_heyn``: ``HeynResult.to_dict`` takes them from it (it
computed µm and G from its own fields, the half-width from that place), and ``srmat
heyn``'s rows print that place's figures (they patched ``to_dict``'s keys over)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _masks import save_mask

from napari_srmat.cli import main
from napari_srmat.grainsize import grain_size_from_heyn, physical_figures
from napari_srmat.metrics.heyn import measure_intercepts

FIGURE_KEYS = ("mean_intercept_px", "pixel_size_um", "mean_intercept_um", "astm_g")


def _grid(spacing: int) -> np.ndarray:
    mask = np.zeros((128, 128), bool)
    mask[:, ::spacing] = mask[::spacing, :] = True
    return mask


def test_to_dict_gives_the_figures_of_the_pixel_size_it_records():
    """Was: a result given a pixel size after measuring wrote ``pixel_size_um`` 0.5
    beside ``mean_intercept_um`` and ``astm_g`` null."""
    res = measure_intercepts(_grid(16), pattern="grid", n_lines=5)
    res.pixel_size_um = 0.5
    d = res.to_dict()
    shared = grain_size_from_heyn(res, pixel_size_um=0.5).to_dict()
    assert d["mean_intercept_um"] is not None
    assert {k: d[k] for k in FIGURE_KEYS} == {k: shared[k] for k in FIGURE_KEYS}


def test_to_dict_prints_the_figures_it_is_given():
    """Was: no ``figures`` (TypeError): the CLI patched the keys over ``to_dict``'s."""
    res = measure_intercepts(_grid(16), pattern="grid", n_lines=5, pixel_size_um=0.5)
    gs = grain_size_from_heyn(res, pixel_size_um=0.25)
    d = res.to_dict(figures=gs)
    assert {k: d[k] for k in FIGURE_KEYS} == {k: gs.to_dict()[k] for k in FIGURE_KEYS}
    assert d["ci95_half_width_px"] == gs.ci95_half_width_px


def test_measure_intercepts_um_and_g_are_the_one_rules():
    """Guard (passed before): ``HeynResult.mean_intercept_um`` and ``astm_g`` are
    ``grainsize.physical_figures``' (they were computed a second time)."""
    res = measure_intercepts(_grid(16), pattern="grid", n_lines=5, pixel_size_um=0.7)
    um = physical_figures(res.mean_intercept_px, None, 0.7)
    assert (res.mean_intercept_um, res.astm_g) == (um["mean_intercept_um"], um["astm_g"])


@pytest.mark.parametrize(("lines", "withheld"), [("5", False), ("1", True)])
def test_the_cli_row_is_the_one_places_figures(tmp_path, capsys, lines, withheld):
    """Guard (passed before, outputs byte-identical on 32 cases): the row's figures,
    interval and half-width are ``grain_size_from_heyn``'s (none where it withholds)."""
    mask = np.zeros((128, 128), bool)
    mask[:, ::16] = True  # 1 + 1 grid lines: one crosses all, one none: no upper end
    if not withheld:
        mask[::16, :] = True
    path = save_mask(tmp_path / "m.tif", mask, pixel_size_um=0.5)
    assert main(["heyn", path, "--json", "--pattern", "grid", "--lines", lines]) == 0
    row = json.loads(capsys.readouterr().out)["per_image"][0]
    res = measure_intercepts(mask, pattern="grid", n_lines=int(lines), pixel_size_um=0.5)
    gs = grain_size_from_heyn(res, pixel_size_um=0.5)
    shared = gs.to_dict()
    for key in (*FIGURE_KEYS, "mean_intercept_ci95_px", "mean_intercept_ci95_um",
                "astm_g_ci95", "interval_note"):
        assert row[key] == shared[key], key
    assert row["ci95_half_width_px"] == gs.ci95_half_width_px
    assert (row["ci95_half_width_px"] is None) == withheld
