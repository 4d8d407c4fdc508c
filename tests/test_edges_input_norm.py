"""Input normalisation of the boundary model (``input_norm = "channels"``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_srmat.edges.data import (
    NORMALIZED_MEAN,
    NORMALIZED_STD,
    channel_stats,
    normalize_channels,
    to_model_image,
)
from napari_srmat.edges.infer import BoundaryModel, load_boundary_model, predict_boundaries
from napari_srmat.synth import generate_microstructure
from napari_srmat.tiling._distributed import WorkerModel

torch.set_num_threads(1)


def _model(input_norm: str) -> BoundaryModel:
    """The shipped network (a trained one: a random network's map is almost flat) with
    the given input normalisation."""
    shipped = load_boundary_model(device="cpu")
    return BoundaryModel(shipped.net, {**shipped.config, "input_norm": input_norm},
                         tta="none")


@pytest.fixture(scope="module")
def micrograph() -> np.ndarray:
    return to_model_image(generate_microstructure((160, 200), mean_grain_size_px=20,
                                                  seed=3).image).transpose(1, 2, 0)


def test_normalize_channels_sets_mean_and_spread_per_channel():
    rng = np.random.default_rng(0)
    x = rng.random((3, 50, 60)) * np.array([0.2, 0.5, 1.0])[:, None, None] + 0.1
    y = normalize_channels(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.reshape(3, -1).mean(1), NORMALIZED_MEAN, atol=1e-5)
    np.testing.assert_allclose(y.reshape(3, -1).std(1), NORMALIZED_STD, atol=1e-5)
    # a tile normalised with the whole image's statistics equals that part of the result
    tile = normalize_channels(x[:, 10:30, 5:25], channel_stats(x))
    np.testing.assert_allclose(tile, y[:, 10:30, 5:25], atol=1e-6)


def test_channel_stats_samples_large_images_on_a_grid():
    x = np.zeros((3, 400, 400))
    x[:, ::2, ::2] = 1.0  # every second pixel on the even grid
    m_full, _ = channel_stats(x)
    m_grid, _ = channel_stats(x, max_pixels=200 * 200)  # step 2: reads only the ones
    np.testing.assert_allclose(m_full, 0.25)
    np.testing.assert_allclose(m_grid, 1.0)


def test_batch_without_whole_image_stats_uses_the_same_sampling_rule():
    from napari_srmat.edges.infer import _normalize_batch

    x = np.zeros((3, 1100, 1000), np.float32)  # > 1 MP: channel_stats reads every 2nd pixel
    x[:, ::2, ::2] = 1.0
    x[1] *= 0.5
    batch = torch.from_numpy(np.stack([x, 1.0 - x]))
    out = _normalize_batch(batch, None).numpy()
    for item, ref in zip(out, (x, 1.0 - x)):
        np.testing.assert_allclose(item, normalize_channels(ref), atol=1e-5)
    # an all-pixel mean (0.25) would give other values than the grid's (1.0)
    assert channel_stats(x)[0][0] == 1.0


def test_input_stats_sample_the_image_once():
    # 2049 x 2047: the grid of step 2 has 1025 x 1024 > 2**20 pixels; sampling that
    # grid again would read every 4th pixel
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (2049, 2047, 3), dtype=np.uint8)
    got = _model("channels").input_stats(image)
    want = channel_stats(to_model_image(image))
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_normalised_model_ignores_brightness_contrast_and_colour_cast(micrograph):
    model = _model("channels")
    cast = micrograph * np.array([0.5, 0.8, 0.3]) + np.array([0.3, 0.1, 0.05])
    p_ref, _ = predict_boundaries(micrograph, model)
    p_cast, _ = predict_boundaries(cast, model)
    assert np.abs(p_cast - p_ref).max() < 1e-4
    # without normalisation the same change moves the map
    plain = _model("none")
    q_ref, _ = predict_boundaries(micrograph, plain)
    q_cast, _ = predict_boundaries(cast, plain)
    assert np.abs(q_cast - q_ref).max() > 1e-2


def test_tiles_are_normalised_with_the_whole_image(micrograph):
    from skimage.exposure import equalize_hist

    model = _model("channels")
    # equalised channels are about uniform: normalised, they stay inside [0, 1]
    image = np.stack([equalize_hist(micrograph[..., c]) for c in range(3)], -1)
    pre = normalize_channels(image.transpose(2, 0, 1)).transpose(1, 2, 0)
    assert pre.min() >= 0 and pre.max() <= 1  # the plain model's clamp changes nothing
    # small tiles, each normalised with the whole image's statistics: the same map as
    # the unnormalising model on the image normalised as a whole
    p_tiled, _ = predict_boundaries(image, model, tile=96, overlap=32)
    q_tiled, _ = predict_boundaries(pre, _model("none"), tile=96, overlap=32)
    assert np.abs(p_tiled - q_tiled).max() < 1e-4
    # a tile normalised with its own statistics would differ
    tile = image[None, :96, :96].transpose(0, 3, 1, 2)
    own, _ = model.predict(tile)
    whole, _ = model.predict(tile, model.input_stats(image))
    assert np.abs(own - whole).max() > 1e-2


def test_input_stats_of_an_unnormalised_model_is_none(micrograph):
    assert _model("none").input_stats(micrograph) is None
    mean, std = _model("channels").input_stats(micrograph)
    np.testing.assert_allclose(mean, micrograph.reshape(-1, 3).mean(0), rtol=1e-6)


def test_worker_model_passes_call_kwargs():
    class Recorder:
        def weights_digest(self):
            return "d"

        def predict_stacked(self, batch, input_stats=None):
            return batch + (0 if input_stats is None else input_stats)

    fn = WorkerModel(lambda: Recorder(), {}, "predict_stacked", "d",
                     call_kwargs={"input_stats": 5})
    assert fn(np.zeros(2)).tolist() == [5, 5]


def test_training_rejects_unknown_input_norm():
    from napari_srmat.edges.train import train_boundaries_job
    from napari_srmat.jobs import run_job

    m = generate_microstructure((64, 64), mean_grain_size_px=16, seed=0)
    with pytest.raises(ValueError, match="input_norm"):
        run_job(train_boundaries_job({"train_images": [m.image],
                                      "train_masks": [m.boundaries], "epochs": 1,
                                      "input_norm": "hist"}), quiet=True)


def test_training_normalises_whole_images_and_records_it(tmp_path, monkeypatch):
    from napari_srmat.edges import train as train_module
    from napari_srmat.edges.infer import load_boundary_model
    from napari_srmat.jobs import run_job

    seen = []
    crop = train_module.random_crop_augment

    def recording_crop(image, mask, *args, **kwargs):
        seen.append(image.reshape(3, -1))
        return crop(image, mask, *args, **kwargs)

    monkeypatch.setattr(train_module, "random_crop_augment", recording_crop)
    ms = [generate_microstructure((64, 64), mean_grain_size_px=16, seed=s) for s in (0, 1)]
    dim = [(0.5 * m.image).astype(np.uint8) for m in ms]  # dark, low-contrast input
    res = run_job(train_module.train_boundaries_job({
        "train_images": dim, "train_masks": [m.boundaries for m in ms],
        "epochs": 1, "crop": 48, "encoder": "tiny", "input_norm": "channels",
        "device": "cpu", "out": str(tmp_path / "run")}), quiet=True)
    # every image the crops are cut from is the whole image, normalised
    real = [x for x in seen if x.shape[1] == 64 * 64]
    assert real
    for x in real:
        np.testing.assert_allclose(x.mean(1), NORMALIZED_MEAN, atol=1e-4)
        np.testing.assert_allclose(x.std(1), NORMALIZED_STD, atol=1e-4)
    model = load_boundary_model(res.best_checkpoint, device="cpu")
    assert model.input_norm == "channels"


def test_unknown_input_norm_in_a_checkpoint_is_refused():
    from napari_srmat.checkpoint import CheckpointError

    shipped = load_boundary_model(device="cpu")
    with pytest.raises(CheckpointError, match="input_norm"):
        BoundaryModel(shipped.net, {**shipped.config, "input_norm": "histogram"})


def test_normalisation_and_photometric_augmentation_are_not_combined():
    from napari_srmat.edges.train import train_boundaries_job
    from napari_srmat.jobs import run_job

    m = generate_microstructure((64, 64), mean_grain_size_px=16, seed=0)
    with pytest.raises(ValueError, match="photometric"):
        run_job(train_boundaries_job({"train_images": [m.image], "train_masks": [m.boundaries],
                                      "epochs": 1, "input_norm": "channels",
                                      "photometric_augment": "all"}), quiet=True)


def test_fine_tuning_keeps_the_input_norm_of_its_start():
    from napari_srmat.edges.train import train_boundaries_job
    from napari_srmat.jobs import run_job

    m = generate_microstructure((64, 64), mean_grain_size_px=16, seed=0)
    with pytest.raises(ValueError, match="input_norm"):
        run_job(train_boundaries_job({"train_images": [m.image], "train_masks": [m.boundaries],
                                      "epochs": 1, "encoder": "tiny", "device": "cpu",
                                      "crop": 64,  # the 64 px image holds a crop
                                      "input_norm": "channels", "init_checkpoint": "default"}),
                quiet=True)


def test_output_folder_identity_includes_the_input_norm(micrograph, tmp_path):
    from napari_srmat.edges.infer import predict_boundaries_job
    from napari_srmat.jobs import run_job

    out = tmp_path / "maps"
    image = (micrograph[:96, :96] * 255).astype(np.uint8)
    run_job(predict_boundaries_job(image, _model("none"), out=out), quiet=True)
    # the same weights with another input normalisation are another model: the complete
    # folder is not taken as its result
    with pytest.raises(Exception, match="(?i)overwrite|other|differ"):
        run_job(predict_boundaries_job(image, _model("channels"), out=out), quiet=True)
