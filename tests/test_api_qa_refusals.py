"""Findings N6-N8 of the notebook API's QA sweep (2026-12-06): a wrong function named in
an error, NaN dropped without a word, a negative shape planned, a NaN G written "nan"."""

from __future__ import annotations

import numpy as np
import pytest


def test_essim_errors_name_essim_and_not_a_data_range_it_has_not():
    """Was: `essim(rgb, rgb)` said "ssim needs two (H, W) images", and 8-bit images
    were judged on their Sobel maps with "e.g. 8-bit images with data_range=255", a
    keyword essim does not take."""
    from napari_srmat.metrics.sr import essim

    rng = np.random.default_rng(0)
    grey = rng.random((32, 32))
    with pytest.raises(ValueError, match=r"^essim needs two \(H, W\) images"):
        essim(np.dstack([grey] * 3), np.dstack([grey] * 3))
    with pytest.raises(ValueError, match=r"^essim needs two \(H, W\) images of one shape"):
        essim(grey, grey[:20])
    with pytest.raises(ValueError) as told:
        essim(grey * 255, grey * 255)
    assert str(told.value).startswith("essim: reference has values")
    assert "to_float01" in str(told.value) and "data_range=255" not in str(told.value)
    assert essim(grey, grey) == pytest.approx(1.0)


def test_a_gaussian_mixture_refuses_nan_instead_of_dropping_it():
    """Was: `fit_gaussian_mixture_1d([1, 2, nan], 1)` -> "2 values are too few for 1
    components" (NaN dropped silently; a fit of the rest reported as the data's)."""
    from napari_srmat.metrics.distributions import fit_gaussian_mixture_1d

    x = np.random.default_rng(0).normal(0, 1, 50)
    with pytest.raises(ValueError, match=r"x has 1 NaN or inf value\(s\) of 51"):
        fit_gaussian_mixture_1d(np.append(x, np.nan), 1)
    with pytest.raises(ValueError, match="needs at least 3 values, got 2"):
        fit_gaussian_mixture_1d([1.0, 2.0], 1)
    assert fit_gaussian_mixture_1d(x, 1)["n"] == 50


@pytest.mark.parametrize("call", [
    lambda e, s: e.plan_super_resolution(s, scale=4, device="cpu"),
    lambda e, s: e.plan_rescan_planner(s, scale=4, device="cpu"),
    lambda e, s: e.plan_boundaries(s, device="cpu"),
    lambda e, s: e.plan_grain_size(s, device="cpu"),
    lambda e, s: e.plan_mask_measurement(s),
    lambda e, s: e.plan_registration(s, (10, 10)),
    lambda e, s: e.plan_audit((10, 10), s),
    lambda e, s: e.plan_microstructure(s),
    lambda e, s: e.plan_synthetic_set(3, s, 7),
])
@pytest.mark.parametrize("shape", [(-100, 100), (100,), (10.5, 10)])
def test_plans_refuse_a_shape_that_is_no_image_shape(call, shape):
    """Was: a negative size planned negative bytes, a 1-D shape an IndexError, a
    fractional size was truncated."""
    from napari_srmat import estimates

    with pytest.raises(ValueError, match=r"must be \(H, W\) or \(H, W, C\) of whole sizes"):
        call(estimates, shape)
    call(estimates, (np.int64(100), 100))  # numpy sizes (an array's shape) stay good


def test_format_g_writes_no_g_for_nan():
    """Was: `format_g(nan)` -> 'nan' where None -> 'n/a' (one missing G, two texts)."""
    from napari_srmat.report import format_g

    assert format_g(float("nan")) == format_g(None) == "n/a"
    assert format_g(float("nan"), missing="–") == "–"
    assert format_g(9.26, (float("nan"), 9.9)) == "9.3"


@pytest.mark.parametrize("command, what", [
    (["grain-size"], "image"),
    (["grain-size", "--mask"], "boundary mask"),
    (["heyn"], "boundary mask"),
])
def test_a_missing_input_has_one_wording_in_grain_size_and_heyn(tmp_path, capsys, command,
                                                                 what):
    """Was: `srmat grain-size nofile.png` said "nofile.png: no such file or directory",
    `srmat heyn nofile.png` "nofile.png: boundary mask not found": two wordings of one
    error. Both are `PATH: WHAT not found` now (io.file_not_found), one line, exit 2."""
    from napari_srmat.cli import main

    missing = str(tmp_path / "nofile.png")
    assert main([*command, missing]) == 2
    out, err = capsys.readouterr()
    assert err.strip().splitlines()[-1].endswith(f": error: {missing}: {what} not found"), err
    assert "Traceback" not in err
