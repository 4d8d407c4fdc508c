"""`srmat grain-size --method`: the standards' measurement (ASTM E112 / ISO 643) from the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from napari_srmat.cli import main
from napari_srmat.metrics.heyn import confidence_interval
from napari_srmat.metrics.planimetric import planimetric
from napari_srmat.synth import generate_microstructure


def _mask_file(path, seed):
    ms = generate_microstructure((256, 256), mean_grain_size_px=24, seed=seed)
    Image.fromarray(ms.boundaries.astype(np.uint8) * 255).save(path)
    return ms


def test_planimetric_fields_and_specimen_summary(tmp_path, capsys):
    paths, exact = [], []
    for seed in (1, 2, 3):
        ms = _mask_file(tmp_path / f"f{seed}.png", seed)
        paths.append(str(tmp_path / f"f{seed}.png"))
        # the library on the same mask (its accuracy against the exact Jeffries count of
        # the label map is tested in test_standards.py)
        exact.append(planimetric(ms.boundaries, pixel_size_um=0.5,
                                 rule="iso643").grains_per_mm2)
    rc = main(["grain-size", *paths, "--mask", "--method", "planimetric", "--rule", "iso643",
               "--pixel-size-um", "0.5", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert [f["name"] for f in out["images"]] == paths
    for f, n_a in zip(out["images"], exact):
        assert f["grains_per_mm2"] == pytest.approx(n_a, rel=1e-9)
        assert f["standard"].startswith("ISO 643")
        assert {"n_grains_inside", "n_grains_edge", "grain_areas_um2", "mean_intercept_um",
                "intercepts_um", "anisotropy_index", "astm_g"} <= set(f)
    s = out["summary"]
    assert s["n_fields"] == 3 and s["standard"].startswith("ISO 643")
    values = [f["grains_per_mm2"] for f in out["images"]]
    mean, half, ra = confidence_interval(values)
    assert s["relative_accuracy_pct"] == pytest.approx(ra)
    assert s["astm_g_ci95"][0] <= s["astm_g"] <= s["astm_g_ci95"][1]
    # fewer than 5 fields: the E112 advice says so
    assert any("5" in a for a in s["advice"])


def test_exclusions_and_twins_need_masks_and_are_honoured(tmp_path, capsys):
    _mask_file(tmp_path / "m.png", 4)
    excl = np.zeros((256, 256), np.uint8)
    excl[:, :128] = 255  # left half not measured
    Image.fromarray(excl).save(tmp_path / "excl.png")
    args = ["grain-size", str(tmp_path / "m.png"), "--mask", "--method", "intercept",
            "--pixel-size-um", "1", "--json"]
    assert main(args) == 0
    full = json.loads(capsys.readouterr().out)["images"][0]
    assert main([*args, "--exclusions", str(tmp_path / "excl.png")]) == 0
    half = json.loads(capsys.readouterr().out)["images"][0]
    assert half["n_grains_inside"] < 0.7 * full["n_grains_inside"]
    assert len(half["intercepts_um"]) < len(full["intercepts_um"])
    # without --mask (or --method) they are refused in one line
    rc = main(["grain-size", str(tmp_path / "m.png"), "--exclusions",
               str(tmp_path / "excl.png")])
    assert rc == 2 and "need --method and --mask" in capsys.readouterr().err


def test_method_with_a_bad_field_withholds_the_specimen_summary(tmp_path, capsys):
    """A field that cannot be measured is told (exit 2) and the specimen summary is
    withheld rather than computed silently from the other fields; the good fields are
    still reported."""
    good = tmp_path / "m.png"
    m = np.zeros((96, 96), np.uint8)
    m[:, 5::12] = 255
    m[5::12, :] = 255
    Image.fromarray(m).save(good)
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    argv = ["grain-size", str(good), str(bad), "--mask", "--method", "intercept",
            "--pixel-size-um", "1"]
    assert main(argv + ["--json"]) == 2
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["summary"] is None and len(doc["images"]) == 1
    assert [e["path"] for e in doc["errors"]] == [str(bad)]
    assert f"srmat grain-size: error: {bad}: " in err
    assert main(argv) == 2
    out = capsys.readouterr().out
    assert "specimen: not summarised (1 of 2 fields could not be measured)" in out
