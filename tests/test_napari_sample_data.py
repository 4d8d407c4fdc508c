"""Sample-data contributions: synthetic micrograph and the large lazy mosaic."""

from __future__ import annotations

import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array")

from napari_srmat._sample_data import (  # noqa: E402
    MOSAIC_SIZE,
    synthetic_micrograph,
    synthetic_mosaic,
)


def test_micrograph_with_true_boundaries():
    (img, ikw, ik), (bnd, bkw, bk) = synthetic_micrograph(shape=(128, 160), seed=2)
    assert ik == "image" and bk == "labels"
    assert img.shape == (128, 160, 3) and img.dtype == np.uint8 and ikw["rgb"]
    assert bnd.shape == (128, 160) and set(np.unique(bnd)) == {0, 1}
    assert 0.02 < bnd.mean() < 0.5
    assert ikw["metadata"]["true_mean_intercept_px"] > 0
    # deterministic for a seed, different for another
    again = synthetic_micrograph(shape=(128, 160), seed=2)[0][0]
    other = synthetic_micrograph(shape=(128, 160), seed=3)[0][0]
    np.testing.assert_array_equal(img, again)
    assert not np.array_equal(img, other)


def test_mosaic_is_lazy_multiscale_and_large():
    t0 = time.perf_counter()
    [(levels, kw, kind)] = synthetic_mosaic()
    created = time.perf_counter() - t0
    assert kind == "image" and kw["multiscale"] and kw["rgb"]
    assert all(isinstance(lv, da.Array) for lv in levels)
    assert levels[0].shape == (MOSAIC_SIZE, MOSAIC_SIZE, 3) and MOSAIC_SIZE >= 20000
    assert len(levels) >= 4
    for a, b in zip(levels, levels[1:]):
        assert b.shape[0] == -(-a.shape[0] // 2)  # factor 2 per level
    assert max(levels[-1].shape[:2]) <= 1024  # coarsest level cheap to show whole
    assert created < 30  # nothing rendered (generous: shared CPU)
    # a tile of level 0 and the coarsest level compute and look like grains
    tile = np.asarray(levels[0][5000:5256, 7000:7256])
    assert tile.shape == (256, 256, 3) and tile.std() > 5


def test_sample_layers_open_in_viewer(make_napari_viewer):
    viewer = make_napari_viewer()
    layers = viewer.open_sample("napari-srmat", "micrograph")
    assert [type(lay).__name__ for lay in layers] == ["Image", "Labels"]
    [mosaic] = viewer.open_sample("napari-srmat", "mosaic")
    assert mosaic.multiscale and mosaic.rgb
    assert mosaic.data[0].shape[0] >= 20000
    assert isinstance(mosaic.data[0], da.Array)


def test_calibrating_the_sample_micrograph_keeps_its_true_boundaries_on_it(make_napari_viewer):
    # Was: the true boundaries stayed at 1 px scale, twice the micrograph's size after a
    # calibration at 0.5 um/px
    from napari_srmat.widgets.calibration_widget import set_layer_pixel_size

    viewer = make_napari_viewer()
    image, boundaries = viewer.open_sample("napari-srmat", "micrograph")
    changed = set_layer_pixel_size(viewer, image, 0.5)
    assert any(lay is boundaries for lay in changed)
    np.testing.assert_allclose(boundaries.scale[-2:], (0.5, 0.5))


def test_a_second_opening_of_the_sample_keeps_its_own_boundaries(make_napari_viewer):
    # Was: linked by the name "synthetic micrograph", the second opening's boundaries
    # stayed at scale 1 when its micrograph ("synthetic micrograph [1]") was calibrated,
    # and followed the first micrograph's calibration instead
    from napari_srmat.widgets.calibration_widget import set_layer_pixel_size

    viewer = make_napari_viewer()
    image1, boundaries1 = viewer.open_sample("napari-srmat", "micrograph")
    image2, boundaries2 = viewer.open_sample("napari-srmat", "micrograph")
    assert image2.name != image1.name
    set_layer_pixel_size(viewer, image2, 0.5)
    np.testing.assert_allclose(boundaries2.scale[-2:], (0.5, 0.5))
    np.testing.assert_allclose(boundaries1.scale[-2:], (1.0, 1.0))
    set_layer_pixel_size(viewer, image1, 2.0)
    np.testing.assert_allclose(boundaries1.scale[-2:], (2.0, 2.0))
    np.testing.assert_allclose(boundaries2.scale[-2:], (0.5, 0.5))
