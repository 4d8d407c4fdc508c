"""An ``srmat sr run`` store measured with default arguments runs at 1 / f where its
field is measured at scale 1 (s50), and what tells its scale without measuring says the
same now (s51 E2 #5): ``automatic_inference_scale`` ("the scale measure_grain_size picks
by itself") and ``check_native_scale`` (``srmat edges predict``, the Boundaries widget)
left the recorded factor out and told 0.495 / 0.249 for the x2 / x4 stores the
measurement ran at 0.5 / 0.25; the measurement's own range warning told the x2 store it
was "native-sharp and measured at its own scale"."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from napari_srmat.cli import main
from napari_srmat.grainsize import (
    automatic_inference_scale,
    check_native_scale,
    measure_grain_size,
    native_scale_job,
)
from napari_srmat.io import png_bytes, read_image
from napari_srmat.synth import generate_microstructure


@pytest.fixture(scope="module", params=[2, 4])
def store(request, tmp_path_factory):
    """An ``srmat sr run`` (bicubic) store of a 256 px micrograph measured at scale 1,
    read as ``read_image`` reads it, its factor and its measurement with defaults."""
    factor = request.param
    folder = tmp_path_factory.mktemp(f"sr{factor}")
    lr = generate_microstructure((256, 256), mean_grain_size_px=48, seed=0).image
    (folder / "lr.png").write_bytes(png_bytes(lr, pixel_size_um=0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["sr", "run", str(folder / "lr.png"), str(folder / "sr.ome.zarr"),
                     "--model", "bicubic", "--scale", str(factor), "--device", "cpu"]) == 0
        mic = read_image(folder / "sr.ome.zarr")
        return mic, factor, measure_grain_size(mic)


def test_the_store_is_measured_at_one_over_its_factor(store):
    """Guard (passed before: s50's rule): the premise of the tests below."""
    _, factor, r = store
    assert r.upscale_factor == factor and r.inference_scale == 1 / factor


def test_automatic_inference_scale_is_the_scale_the_measurement_runs_at(store):
    mic, factor, r = store
    assert automatic_inference_scale(mic)[0] == r.inference_scale == 1 / factor
    # the factor given for an array: the same
    assert automatic_inference_scale(np.asarray(mic.data), upscale_factor=factor)[0] \
        == 1 / factor


def test_the_scale_check_suggests_the_scale_the_measurement_runs_at(store):
    mic, factor, r = store
    check = check_native_scale(mic)
    assert check.suggested_inference_scale == r.inference_scale
    assert check.warning is not None and f"×{1 / factor:g} (1/{factor}" in check.warning
    # an array with the factor given (a widget's SR layer), also as a job's step
    from napari_srmat.jobs import run_job

    arr = np.asarray(mic.data)
    assert run_job(native_scale_job(arr, upscale_factor=factor), quiet=True) == check


def test_the_range_warning_does_not_call_the_upscale_native_sharp_at_its_own_scale(store):
    _, factor, r = store
    told = [w for w in r.warnings if "outside the model's reliable range" in w]
    assert told, r.warnings  # ℓ̄ 37 px at the field's pixels: above 20-32 px
    assert not any("measured at its own scale" in w for w in told), told
    assert any(f"measured at 1/{factor}, its field's own pixels" in w for w in told), told
