"""A small field (under SMALL_FIELD_PX) is measured honestly: its short autocorrelation
estimate does not enlarge a native-sharp field, and a coarse reading names the field.

On crops of 96-128 px of tbm regions the estimate reads short (the field's, not the
grains'), and enlarging by it read ℓ̄ 20-30 % short (studies/small_field_grain_size.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_srmat.grainsize import (
    COARSE_INPUT_INTERCEPT_PX,
    TARGET_INTERCEPT_PX,
    automatic_inference_scale,
    is_scale_warning,
    measure_grain_size,
    native_sharp,
    resample,
)
from napari_srmat.synth import generate_microstructure

# a sharp synthetic micrograph (blur 0.4 px: native-sharp), grains ~34 px (ℓ̄)
SHARP = {"mean_grain_size_px": 40, "blur": 0.4}


@pytest.fixture(scope="module")
def model():
    from napari_srmat.edges import load_boundary_model

    return load_boundary_model()


def _field(side: int, seed: int) -> np.ndarray:
    return generate_microstructure((side, side), seed=seed, **SHARP).image


def test_a_small_native_sharp_field_is_not_enlarged_by_its_estimate():
    """128 px, ~4 grains across: the estimate (between COARSE_INPUT_INTERCEPT_PX and
    the target) would enlarge it; the field is measured at its own scale."""
    img = _field(128, 1)
    scale, est, sharp = automatic_inference_scale(img)
    assert native_sharp(sharp)
    assert COARSE_INPUT_INTERCEPT_PX <= est < TARGET_INTERCEPT_PX / 1.15
    assert scale == 1.0
    from napari_srmat.grainsize import SMALL_FIELD_PX, small_field

    assert 128 < SMALL_FIELD_PX and small_field(img.shape, est, sharp)


def test_a_256_px_field_is_enlarged_by_its_estimate_as_before():
    """Guard (passes before the small-field rule): the same structure over 256 px is
    judged as before, enlarged by the estimate's scale."""
    from napari_srmat.grainsize import choose_inference_scale

    img = _field(256, 1)
    scale, est, sharp = automatic_inference_scale(img)
    assert scale == choose_inference_scale(est, sharpness=sharp) > 1.0


def test_a_coarse_small_field_is_still_enlarged():
    """Guard: a small field whose estimate is coarse (an x4-reduced micrograph looks
    the same) keeps the estimate's scale: only the warning changes."""
    img = _field(96, 0)
    scale, est, _ = automatic_inference_scale(img)
    assert est < COARSE_INPUT_INTERCEPT_PX and scale > 2.0


def test_the_measurement_of_a_small_field_says_why_it_is_not_enlarged(model):
    r = measure_grain_size(_field(128, 1), model=model, pixel_size_um=1.0)
    assert r.inference_scale == 1.0 and r.mean_intercept_px is not None
    notes = [w for w in r.warnings if w.startswith("the field holds only ~")]
    assert len(notes) == 1, r.warnings
    assert is_scale_warning(notes[0]) and "measure a larger field" in notes[0]
    assert "128 px" in notes[0]
    # an explicit scale is the user's: no such note
    r2 = measure_grain_size(_field(128, 1), model=model, pixel_size_um=1.0, inference_scale=1.35)
    assert not any(w.startswith("the field holds only") for w in r2.warnings)


def test_a_coarse_small_field_is_warned_as_a_small_field(model):
    """96 px of grains ~34 px: the estimate reads ~8 px. The warning must not say the
    grains are that small as a fact; it names the field and asks for a larger one."""
    r = measure_grain_size(_field(96, 0), model=model, pixel_size_um=1.0)
    assert r.estimated_intercept_px < COARSE_INPUT_INTERCEPT_PX
    coarse = [w for w in r.warnings if w.startswith("grains are only")]
    assert len(coarse) == 1, r.warnings
    assert "across in this image" not in coarse[0]
    assert "this 96 px field" in coarse[0] and "measure a larger field" in coarse[0]
    assert is_scale_warning(coarse[0])


def test_a_coarse_large_image_keeps_the_coarse_warning(model):
    """Guard (passes before): a coarse image of 256 px or more gets the warning as
    before ("grains are only ~N px across in this image")."""
    ms = generate_microstructure((900, 900), mean_grain_size_px=56, seed=3)
    img = resample(ms.image.astype(np.float32) / 255, 0.3)
    r = measure_grain_size(img, model=model, pixel_size_um=1.0)
    assert min(img.shape[:2]) >= 256
    assert r.estimated_intercept_px < COARSE_INPUT_INTERCEPT_PX
    coarse = [w for w in r.warnings if w.startswith("grains are only")]
    assert len(coarse) == 1 and "px across in this image" in coarse[0], r.warnings
    assert "field" not in coarse[0]


def test_the_boundary_scale_check_warns_a_small_field_as_the_measurement_does(model):
    """``srmat edges predict``'s scale check (check_native_scale) said nothing of a small
    field the measurement warns of; now both give the one small-field warning and
    scale 1."""
    from napari_srmat.grainsize import check_native_scale

    img = _field(128, 1)
    check = check_native_scale(img)
    r = measure_grain_size(img, model=model, pixel_size_um=1.0)
    notes = [w for w in r.warnings if w.startswith("the field holds only ~")]
    assert check.suggested_inference_scale == r.inference_scale == 1.0
    assert len(notes) == 1 and check.warning == notes[0]
    # a field of 256 px of the same structure: no small-field warning from either
    big = check_native_scale(_field(256, 1))
    assert big.warning is None and big.suggested_inference_scale > 1.0
