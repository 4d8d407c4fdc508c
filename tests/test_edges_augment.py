"""Photometric (robustness) augmentation for UAED training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_srmat.edges.data import (
    PHOTOMETRIC_TRANSFORMS,
    BoundaryDataError,
    parse_photometric,
    photometric_augment,
    random_crop_augment,
)
from napari_srmat.edges.train import BoundaryTrainConfig, train_boundaries

torch.set_num_threads(1)


def _image(seed=0, h=48, w=40):
    rng = np.random.default_rng(seed)
    img = np.zeros((3, h, w), np.float32)
    img[:, :, : w // 2] = rng.uniform(0.2, 0.8, (3, 1, 1))
    img[:, :, w // 2:] = rng.uniform(0.2, 0.8, (3, 1, 1))
    return img + rng.uniform(-0.05, 0.05, img.shape).astype(np.float32)


def test_parse_photometric():
    assert parse_photometric(None) == ()
    assert parse_photometric("") == ()
    assert parse_photometric("none") == ()
    assert parse_photometric("all") == PHOTOMETRIC_TRANSFORMS
    assert parse_photometric("jpeg, color") == ("color", "jpeg")  # applied in a fixed order
    assert parse_photometric(["blur"]) == ("blur",)
    with pytest.raises(BoundaryDataError, match="unknown photometric"):
        parse_photometric("color,hue")


@pytest.mark.parametrize("name", [*PHOTOMETRIC_TRANSFORMS, "all"])
def test_each_transform_shape_range_dtype(name):
    img = _image()
    before = img.copy()
    out = photometric_augment(img, np.random.default_rng(1), name, p=1.0)
    assert out.shape == img.shape and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0
    assert not np.array_equal(out, np.clip(img, 0, 1)), f"{name} changed nothing"
    assert np.array_equal(img, before), "input modified in place"


def test_deterministic_with_seed_and_p0_identity():
    img = _image(3)
    a = photometric_augment(img, np.random.default_rng(7), "all")
    b = photometric_augment(img, np.random.default_rng(7), "all")
    assert np.array_equal(a, b)
    outs = [photometric_augment(img, np.random.default_rng(s), "all", p=1.0) for s in (1, 2)]
    assert not np.array_equal(*outs)
    none = photometric_augment(img, np.random.default_rng(0), "all", p=0.0)
    assert np.array_equal(none, np.clip(img, 0, 1))
    with pytest.raises(BoundaryDataError):
        photometric_augment(img[0], np.random.default_rng(0))


def test_color_and_blur_do_what_they_say():
    img = _image(4)
    rng = np.random.default_rng(0)
    blurred = photometric_augment(img, rng, "blur", p=1.0)
    assert np.abs(np.diff(blurred, axis=2)).sum() < np.abs(np.diff(img, axis=2)).sum()
    sharp = photometric_augment(img, np.random.default_rng(0), "sharpen", p=1.0)
    assert np.abs(np.diff(sharp, axis=2)).sum() > np.abs(np.diff(img, axis=2)).sum()
    # grey stays grey under saturation/hue changes (up to rounding)
    grey = np.repeat(img[:1], 3, axis=0)
    c = photometric_augment(grey, np.random.default_rng(5), "color", p=1.0)
    assert np.abs(c - c.mean(axis=0, keepdims=True)).max() < 1e-2


def test_training_with_augmentation_leaves_crops_and_masks(tmp_path, monkeypatch):
    """The photometric option changes images only: crops and masks are the same."""
    import napari_srmat.edges.train as train_mod

    seen = {}

    def spy(flag):
        def crop(image, mask, crop, rng, zoom=None):
            ci, cm = random_crop_augment(image, mask, crop, rng, zoom=zoom)
            seen.setdefault(flag, []).append(cm.copy())
            return ci, cm
        return crop

    rng = np.random.default_rng(0)
    imgs = [(rng.random((40, 40, 3)) * 255).astype(np.uint8) for _ in range(3)]
    masks = [(rng.random((40, 40)) > 0.8).astype(np.uint8) * 255 for _ in range(3)]
    base = dict(train_images=imgs, train_masks=masks, val_images=imgs[:1], val_masks=masks[:1],
                encoder="tiny", epochs=1, steps_per_epoch=2, crop=32, lr=1e-3, device="cpu")
    for flag in ("", "all"):
        monkeypatch.setattr(train_mod, "random_crop_augment", spy(flag))
        res = train_boundaries(BoundaryTrainConfig(**base, photometric_augment=flag))
        assert res.epochs_done == 1 and np.isfinite(res.history[0]["loss"])
    assert len(seen[""]) == len(seen["all"]) == 4
    assert all(np.array_equal(a, b) for a, b in zip(seen[""], seen["all"]))
    with pytest.raises(BoundaryDataError):
        train_boundaries(BoundaryTrainConfig(**base, photometric_augment="sepia"))
    assert BoundaryTrainConfig().photometric_augment == ""  # off by default


def _line_widths(mask: np.ndarray) -> set[int]:
    """Widths (px) of the vertical runs of boundary pixels along each row."""
    widths = set()
    for row in mask:
        padded = np.concatenate([[0], row.astype(np.int8), [0]])
        d = np.diff(padded)
        widths |= set((np.flatnonzero(d == -1) - np.flatnonzero(d == 1)).tolist())
    return widths


@pytest.mark.parametrize("zoom, expected", [(2.0, {8}), (0.5, {2})])
def test_scale_augment_zooms_image_and_mask_together(zoom, expected):
    """A fixed zoom of z resamples a crop / z window: a 4 px boundary becomes 4 z px wide,
    the image follows the mask, and the crop keeps its size."""
    image = np.zeros((3, 256, 256), np.float32)
    mask = np.zeros((256, 256), np.uint8)
    for x0 in range(20, 256, 48):
        mask[:, x0:x0 + 4] = 1
        image[:, :, x0:x0 + 4] = 1.0
    for seed in range(4):
        ci, cm = random_crop_augment(image, mask, 128, np.random.default_rng(seed),
                                     zoom=(zoom, zoom))
        assert ci.shape == (3, 128, 128) and cm.shape == (128, 128) and cm.dtype == bool
        # rot90 may turn the lines horizontal: measure along the lines' normal
        lines = cm if cm[:, :].any(axis=0).sum() < 128 else cm.T
        interior = _line_widths(lines[:, 1:-1]) - {0}
        assert interior <= expected | {w - 1 for w in expected} | {w + 1 for w in expected}
        assert max(interior) in expected | {w + 1 for w in expected}
        assert np.corrcoef(ci.mean(0).ravel(), cm.ravel())[0, 1] > 0.8


def test_scale_augment_off_draws_the_same_crops():
    """zoom=None leaves crops and masks exactly as before (no extra random draws)."""
    rng_img = np.random.default_rng(0)
    image = rng_img.random((3, 64, 64)).astype(np.float32)
    mask = (rng_img.random((64, 64)) > 0.7).astype(np.uint8)
    a = random_crop_augment(image, mask, 32, np.random.default_rng(3))
    b = random_crop_augment(image, mask, 32, np.random.default_rng(3), zoom=None)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert BoundaryTrainConfig().scale_augment is None
