"""The exposure gain: images too dim for the boundary model are brightened, whole."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_srmat.edges.data import (
    EXPOSURE_DIM_LIMIT,
    EXPOSURE_GAIN_LIMIT,
    EXPOSURE_TARGET,
    TRAINING_BRIGHT_RANGE,
    bright_level,
    exposure_gain,
    to_model_image,
)
from napari_srmat.edges.infer import BoundaryModel, load_boundary_model, predict_boundaries
from napari_srmat.synth import generate_microstructure

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def shipped() -> BoundaryModel:
    return load_boundary_model(device="cpu")


@pytest.fixture(scope="module")
def dim_micrograph() -> np.ndarray:
    """A synthetic micrograph at a fifth of its brightness (bright level ~0.19)."""
    image = to_model_image(generate_microstructure((160, 200), mean_grain_size_px=20,
                                                   seed=3).image).transpose(1, 2, 0)
    return (image * 0.2).astype(np.float32)


def test_gain_rule():
    flat = np.full((3, 10, 10), 0.7, np.float32)
    assert exposure_gain(flat) == 1.0  # bright enough: unchanged
    assert exposure_gain(flat * 0) == 1.0  # black: nothing to scale
    dim = np.full((3, 10, 10), 0.1, np.float32)
    assert exposure_gain(dim) == pytest.approx(EXPOSURE_TARGET / 0.1)
    faint = np.full((3, 10, 10), 1e-5, np.float32)
    assert exposure_gain(faint) == EXPOSURE_GAIN_LIMIT
    # the level is a high percentile of all channels: a few hot pixels do not set it
    speckled = np.full((3, 100, 100), 0.1, np.float32)
    speckled[0, 0, :3] = 1.0
    assert bright_level(speckled) == pytest.approx(0.1)
    assert TRAINING_BRIGHT_RANGE[0] > EXPOSURE_DIM_LIMIT


def test_training_images_are_never_brightened(shared_data, shipped):
    """The limit lies under every tbm/train + val image's bright level."""
    from napari_srmat.io import read_image

    levels = []
    for split in ("train", "val"):
        for path in sorted((shared_data / "tbm" / split / "images").iterdir()):
            image = np.asarray(read_image(path).data)
            levels.append(bright_level(to_model_image(image)))
            assert shipped.exposure_gain(image) == 1.0, path.name
            assert shipped.input_report(image)["saturated_fraction"] < 0.01, path.name
    assert len(levels) >= 60
    low, high = TRAINING_BRIGHT_RANGE
    assert low - 0.01 <= min(levels) and max(levels) <= high + 0.01


def test_tiles_of_a_dim_image_share_the_whole_image_gain(shipped, dim_micrograph):
    gain = shipped.exposure_gain(dim_micrograph)
    assert gain == pytest.approx(EXPOSURE_TARGET / bright_level(
        dim_micrograph.transpose(2, 0, 1)))
    assert gain > 3
    bright = np.clip(dim_micrograph * gain, 0, 1)
    assert shipped.exposure_gain(bright) == 1.0
    p_dim, _ = predict_boundaries(dim_micrograph, shipped, tile=96, overlap=32)
    p_bright, _ = predict_boundaries(bright, shipped, tile=96, overlap=32)
    assert np.abs(p_dim - p_bright).max() < 1e-4
    # without the gain the dim image's map is another one
    batch = dim_micrograph.transpose(2, 0, 1)[None]
    as_is, _ = shipped.predict(batch, gain=1.0)
    assert np.abs(as_is[0, 0] - p_dim).max() > 0.1


def test_whole_images_in_a_batch_get_their_own_gain(shipped, dim_micrograph):
    dim = dim_micrograph.transpose(2, 0, 1)
    bright = np.clip(dim * exposure_gain(dim), 0, 1)
    prob, _ = shipped.predict(np.stack([dim, bright]))
    assert np.abs(prob[0] - prob[1]).max() < 1e-4


def test_a_normalised_model_needs_no_gain(shipped, dim_micrograph):
    model = BoundaryModel(shipped.net, {**shipped.config, "input_norm": "channels"},
                          tta="none")
    assert model.exposure_gain(dim_micrograph) == 1.0


def test_over_exposed_image_is_flagged(shipped):
    from napari_srmat import measure_grain_size
    from napari_srmat.edges.data import SATURATED_FRACTION_LIMIT, saturated_fraction

    image = generate_microstructure((192, 192), mean_grain_size_px=24, seed=2).image
    over = np.clip(image.astype(np.float32) / 255 * 2.0, 0, 1)
    assert saturated_fraction(to_model_image(image)) < SATURATED_FRACTION_LIMIT
    assert shipped.input_report(over)["saturated_fraction"] > SATURATED_FRACTION_LIMIT
    flagged = measure_grain_size(over, model=shipped, inference_scale=1.0).warnings
    plain = measure_grain_size(image, model=shipped, inference_scale=1.0).warnings
    assert any("saturated" in w for w in flagged), flagged
    assert not any("saturated" in w for w in plain), plain


def test_grey_image_is_flagged(shipped):
    from napari_srmat import measure_grain_size
    from napari_srmat.edges.data import GREY_COLOURFULNESS_LIMIT

    image = generate_microstructure((192, 192), mean_grain_size_px=24, seed=2).image
    grey = image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) / 255
    assert shipped.input_report(image)["colourfulness"] > 3 * GREY_COLOURFULNESS_LIMIT
    for g in (grey, np.repeat(grey[..., None], 3, axis=-1)):  # (H, W) and grey RGB
        assert shipped.input_report(g)["colourfulness"] == 0.0
        warns = measure_grain_size(g, model=shipped, inference_scale=1.0).warnings
        assert any("the image is grey" in w for w in warns), warns
    warns = measure_grain_size(image, model=shipped, inference_scale=1.0).warnings
    assert not any("grey" in w for w in warns), warns


def test_clipped_12_bit_data_counts_as_saturated(shipped):
    """12-bit data clip at 4095, which a 16-bit file holds at 6 % of full scale: the
    clipped pixels are those at the image's own maximum once it is brightened."""
    image = generate_microstructure((192, 192), mean_grain_size_px=24, seed=2).image
    over = np.clip(image.astype(np.float32) * 2.0, 0, 255)  # clipped at 255 on the sensor
    twelve = (over * 4095 / 255).round().astype(np.uint16)
    report = shipped.input_report(twelve)
    assert report["exposure_gain"] > 10
    assert report["saturated_fraction"] == pytest.approx(
        shipped.input_report(over.astype(np.uint8))["saturated_fraction"], abs=1e-9)
    assert report["saturated_fraction"] > 0.3
    # unclipped 12-bit data: only the few pixels at the maximum
    plain = (image.astype(np.uint32) * 4095 // 255).astype(np.uint16)
    assert shipped.input_report(plain)["saturated_fraction"] < 0.05


def test_dim_colour_image_is_not_grey(shipped):
    image = generate_microstructure((192, 192), mean_grain_size_px=24, seed=2).image
    twelve = (image.astype(np.uint32) * 4095 // 255).astype(np.uint16)
    report = shipped.input_report(twelve)
    assert report["colourfulness"] == pytest.approx(
        shipped.input_report(image)["colourfulness"], rel=0.3)


def test_output_folder_records_the_gain_of_a_dim_image(shipped, dim_micrograph, tmp_path):
    """A dim image's maps depend on its gain: the folder's identity says so (a folder
    made without it is not taken as the same work), a normal image's has no such key."""
    from napari_srmat.outputs import read_marker

    out = predict_boundaries(dim_micrograph, shipped, out=tmp_path / "dim", previews=False)
    identity = read_marker(tmp_path / "dim")["identity"]
    assert identity["exposure_gain"] == pytest.approx(shipped.exposure_gain(dim_micrograph))
    assert out is not None
    bright = np.clip(dim_micrograph * 5, 0, 1)
    predict_boundaries(bright, shipped, out=tmp_path / "bright", previews=False)
    assert "exposure_gain" not in read_marker(tmp_path / "bright")["identity"]
