"""``srmat heyn`` over masks of mixed pixel sizes where a mask's test lines cross no
boundary (N_L = 0) or lie outside it (no test length): each mask's N_L = P / L is taken
once (``cli.heyn._n_l_per_px``), never over a zero length (``measure_intercepts``
refuses a mask without test length: one error line naming it); a run ends with its
exit code and one-line messages, never a traceback.

Guard tests: they passed before the N_L was taken in one place (s48 Left asked whether
``_mixed_sizes_warning`` divided by a zero ``total_length_px``: it cannot)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _masks import save_mask

from napari_srmat.cli import main
from napari_srmat.synth import generate_microstructure


@pytest.fixture
def masks(tmp_path):
    """Grain boundaries at 0.5 µm and without a size; a boundary pixel in a corner that
    no test line reaches (boundary, no crossing) at 0.5 µm, 1 µm and without a size; a
    64 px mask without a size."""
    grains = generate_microstructure((256, 256), mean_grain_size_px=24, seed=1).boundaries
    corner = np.zeros((256, 256), bool)
    corner[0, 0] = True
    small = np.zeros((64, 64), bool)
    small[:, 10] = True
    return {
        "grains_half": save_mask(tmp_path / "grains_half.png", grains, pixel_size_um=0.5),
        "grains_none": save_mask(tmp_path / "grains_none.png", grains),
        "corner_half": save_mask(tmp_path / "corner_half.png", corner, pixel_size_um=0.5),
        "corner_one": save_mask(tmp_path / "corner_one.png", corner, pixel_size_um=1.0),
        "corner_none": save_mask(tmp_path / "corner_none.png", corner),
        "small_none": save_mask(tmp_path / "small_none.png", small),
    }


def _run(capsys, argv: list[str]) -> tuple[int, dict, list[str]]:
    rc = main(["heyn", *argv, "--json"])
    cap = capsys.readouterr()
    lines = cap.err.splitlines()
    assert "Traceback" not in cap.err
    assert all(line.startswith("srmat heyn: ") for line in lines), lines
    return rc, json.loads(cap.out), lines


@pytest.mark.parametrize(
    ("crossed", "uncrossed"), [("grains_half", "corner_none"), ("grains_none", "corner_half")]
)
def test_a_mask_without_crossings_beside_one_of_unknown_size_withholds_the_pool(
    masks, capsys, crossed, uncrossed
):
    rc, out, err = _run(capsys, [masks[crossed], masks[uncrossed]])
    assert rc == 2  # updated on purpose 2026-12-07 (exit 0 before): no pooled grain size
    row = out["per_image"][1]
    assert row["intersection_count"] == 0 and row["total_length_px"] > 0
    assert out["mean_intercept_px"] is None and out["mean_intercept_um"] is None
    (mixed,) = [w for w in err if "different or unknown pixel sizes" in w]
    assert "(1 of 2 without one: " in mixed and "pooled figures withheld" in mixed
    (error,) = [w for w in err if w.startswith("srmat heyn: error: ")]
    assert "masks with and without a pixel size are not pooled" in error


def test_masks_of_mixed_sizes_none_crossed_are_refused_in_one_line(masks, capsys):
    rc, out, err = _run(capsys, [masks["corner_half"], masks["corner_none"]])
    assert rc == 2
    (error,) = [w for w in err if w.startswith("srmat heyn: error: ")]
    assert "no test line crosses a boundary in any of the 2 masks" in error


def test_an_uncrossed_mask_of_another_size_is_a_zero_of_the_micrometre_pool(masks, capsys):
    rc, out, err = _run(capsys, [masks["grains_half"], masks["corner_one"]])
    assert rc == 0
    assert out["mean_intercept_px"] is None  # pixels of two sizes: µm only
    n_l_mm = [
        r["intersection_count"] / (r["total_length_px"] * r["pixel_size_um"]) * 1e3
        for r in out["per_image"]
    ]
    assert n_l_mm[1] == 0
    assert out["mean_intercept_um"] == pytest.approx(1e3 / np.mean(n_l_mm), rel=1e-9)
    assert any("N_L = 0" in w for w in err)


def test_a_mask_without_test_length_is_one_error_line_naming_it(masks, capsys, tmp_path):
    """Drawn lines lying outside a 64 px mask (inside a 256 px one): that mask has no
    test length, so it is refused (exit 2, one line naming it); the others' rows stand
    and the pool is withheld before any N_L of the fields is taken."""
    seg = tmp_path / "lines.json"
    seg.write_text(json.dumps([[[100, 100], [100, 200]], [[120, 20], [120, 220]]]))
    rc, out, err = _run(
        capsys,
        [
            "--pattern",
            "segments",
            "--segments",
            str(seg),
            masks["grains_half"],
            masks["small_none"],
        ],
    )
    assert rc == 2
    (error,) = [w for w in err if w.startswith("srmat heyn: error: ")]
    assert "small_none.png" in error and "no test line lies inside the 64 x 64 px" in error
    assert [r["path"] for r in out["per_image"]] == [masks["grains_half"]]
    assert out["mean_intercept_px"] is None and out["mean_intercept_um"] is None
