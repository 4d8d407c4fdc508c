"""``srmat heyn`` over masks of different pixel sizes: pooled in micrometres by the rule
of ``srmat grain-size``'s specimen (``metrics.standards.summarize_fields``), never a
pool of pixels of different sizes; masks with and without a pixel size are not pooled;
each mask's line shows its µm and G where its pixel size is known."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _masks import save_mask

from napari_srmat.cli import main
from napari_srmat.synth import generate_microstructure


def _mask(seed: int, grain_px: float) -> np.ndarray:
    ms = generate_microstructure((256, 256), mean_grain_size_px=grain_px, seed=seed)
    return ms.boundaries.astype(np.uint8) * 255


@pytest.fixture
def masks(tmp_path):
    """A 0.5 µm PNG, a 1 µm TIFF, a PNG without a pixel size and a second 0.5 µm PNG."""
    paths = {
        "half": tmp_path / "a_0.5um.png",
        "one": tmp_path / "b_1um.tif",
        "none": tmp_path / "c_none.png",
        "half2": tmp_path / "d_0.5um.png",
    }
    save_mask(paths["half"], _mask(1, 24), pixel_size_um=0.5)
    save_mask(paths["one"], _mask(2, 30), pixel_size_um=1.0)
    save_mask(paths["none"], _mask(2, 30))
    save_mask(paths["half2"], _mask(3, 24), pixel_size_um=0.5)
    return {k: str(v) for k, v in paths.items()}


def _json(capsys, argv: list[str]) -> tuple[int, dict, str]:
    rc = main(["heyn", *argv, "--json"])
    cap = capsys.readouterr()
    return rc, json.loads(cap.out), cap.err


def test_masks_of_different_pixel_sizes_pool_in_micrometres(masks, capsys):
    """A 0.5 µm and a 1 µm mask were pooled in pixels (ℓ̄ 22.61 px, the two pixels
    taken for one) with µm and G withheld and a hint to force one --pixel-size-um on
    both. They are pooled as srmat grain-size pools fields: ℓ̄ = 1 / mean N_L, each
    N_L = P / L in its own micrometres; no pooled pixel figure."""
    rc, out, err = _json(capsys, [masks["half"], masks["one"]])
    assert rc == 0
    rows = out["per_image"]
    assert [r["pixel_size_um"] for r in rows] == [0.5, 1.0]
    n_l_um = [r["intersection_count"] / (r["total_length_px"] * r["pixel_size_um"]) for r in rows]
    assert out["mean_intercept_um"] == pytest.approx(1.0 / np.mean(n_l_um), rel=1e-9)
    assert out["astm_g"] is not None
    # two fields this far apart: the N_L interval reaches 0, so ℓ̄'s has no upper end:
    # null, its lower end in the warning and interval_note (the rows' rule; it was
    # [low, null] until 2026-12-07)
    assert out["mean_intercept_ci95_um"] is None and out["astm_g_ci95"] is None
    assert "ℓ̄ ≥ " in out["interval_note"] and out["interval_note"] in out["warnings"]
    assert out["mean_intercept_px"] is None and out["mean_intercept_ci95_px"] is None
    assert out["image_mean_intercept_px"] is None and out["pixel_size_um"] is None
    assert "--pixel-size-um" not in err


def test_the_text_pool_of_different_pixel_sizes_is_in_micrometres(masks, capsys):
    assert main(["heyn", masks["half"], masks["one"]]) == 0
    cap = capsys.readouterr()
    (pooled,) = [line for line in cap.out.splitlines() if line.startswith("pooled")]
    assert "µm" in pooled and "ASTM G" in pooled
    assert " px" not in pooled
    assert "--pixel-size-um" not in cap.err


def test_masks_with_and_without_a_pixel_size_are_not_pooled(masks, capsys):
    """A mask with a pixel size and one without were pooled in pixels (a px figure of
    pixels of unknown and known size alike) with the hint to give --pixel-size-um, which
    forces one size onto a mask that has its own. One line says why nothing is pooled."""
    rc, out, err = _json(capsys, [masks["half"], masks["none"]])
    assert out["mean_intercept_px"] is None and out["mean_intercept_um"] is None
    assert out["astm_g"] is None and out["image_mean_intercept_px"] is None
    # updated on purpose 2026-12-07: the words of a specimen summary's (one rule,
    # metrics.standards.mixed_pixel_sizes_warning), not srmat heyn's own
    told = [w for w in out["warnings"] if "pooled figures withheld" in w]
    assert len(told) == 1 and "c_none.png" in told[0] and told[0].startswith("the masks ")
    assert "pixels of unknown size are not pooled with those of a known one" in told[0]
    assert "--pixel-size-um" not in err
    # updated on purpose 2026-12-07 (exit 0 before): no pooled grain size is exit 2, as
    # srmat grain-size --method's fields and every other withheld pool of srmat heyn;
    # both rows are still written
    assert rc == 2 and len(out["per_image"]) == 2
    assert all(r["mean_intercept_px"] is not None for r in out["per_image"])
    (error,) = [line for line in err.splitlines() if line.startswith("srmat heyn: error: ")]
    assert "no grain size measured: masks with and without a pixel size are not pooled" in error
    assert main(["heyn", masks["half"], masks["none"]]) == 2
    text = capsys.readouterr()
    assert not any(line.startswith("pooled: mean") for line in text.out.splitlines())
    assert sum("pooled figures withheld" in line for line in text.err.splitlines()) == 1
    assert [line.split(":")[0] for line in text.out.splitlines()] == [masks["half"], masks["none"]]


def test_each_masks_line_shows_its_micrometres_and_g_where_known(masks, capsys):
    """The per-image lines showed only px; a mask with a pixel size shows ℓ̄ in µm and G
    (exit 2 since 2026-12-07: the pool of masks with and without a size is withheld)."""
    assert main(["heyn", masks["half"], masks["none"]]) == 2
    lines = {line.split(":")[0]: line for line in capsys.readouterr().out.splitlines()}
    half = lines[masks["half"]]
    assert " µm" in half and "ASTM G = " in half
    assert " µm" not in lines[masks["none"]] and "ASTM G" not in lines[masks["none"]]


def test_masks_of_one_pixel_size_still_pool_in_pixels_and_micrometres(masks, capsys):
    """Guard (passed before): one pixel size pools ΣL / ΣP in px, µm = px x size."""
    rc, out, _ = _json(capsys, [masks["half"], masks["half2"]])
    assert rc == 0
    rows = out["per_image"]
    pooled_px = sum(r["total_length_px"] for r in rows) / sum(r["intersection_count"] for r in rows)
    assert out["mean_intercept_px"] == pytest.approx(pooled_px, rel=1e-12)
    assert out["mean_intercept_um"] == pytest.approx(pooled_px * 0.5, rel=1e-9)
    assert out["pixel_size_um"] == pytest.approx(0.5)


@pytest.mark.parametrize("other", ["one", "none"])
def test_no_pooled_length_in_pixels_of_different_or_unknown_sizes(masks, capsys, other):
    """ΣL was summed over pixels of 0.5 µm and 1 µm (or of unknown size) after the pool
    itself stopped doing so (c2ebafb3): null there; each row keeps its own."""
    rc, out, _ = _json(capsys, [masks["half"], masks[other]])
    assert out["total_length_px"] is None
    assert all(r["total_length_px"] > 0 for r in out["per_image"])
    rc, out, _ = _json(capsys, [masks["half"], masks["half2"]])  # one size: ΣL as before
    assert out["total_length_px"] == pytest.approx(
        sum(r["total_length_px"] for r in out["per_image"]), rel=1e-12)


def test_a_pooled_g_outside_e112s_range_is_told(masks, capsys):
    """Two masks at 500 typed for 0.5 µm/px (nm meant): each mask's row said "G … is
    outside E112's range: check the pixel size", but the pooled G (the specimen's figure,
    the one reported) said nothing, where summarize_fields' pooled G of masks of different
    sizes does. Now the pooled G has its own line, once; one mask (whose pooled figure is
    its row's) is told once, by its row."""
    from napari_srmat.metrics.standards import g_range_warning

    said = "outside E112's range"
    argv = ["heyn", masks["half"], masks["half2"], "--pixel-size-um", "500"]
    assert main([*argv, "--json"]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["astm_g"] is not None
    assert g_range_warning(doc["astm_g"]) in doc["warnings"], doc["warnings"]
    assert sum(said in w for w in doc["warnings"]) == 3
    assert err.count(said) == 3
    assert main(["heyn", masks["half"], "--pixel-size-um", "500"]) == 0
    assert capsys.readouterr().err.count(said) == 1
