"""``measure_intercepts(mask_scale=s)``: the mask was drawn at 1 / s and upscaled, the
zig-zag bridge is the 2 px rule on its s x s blocks whether or not the scale can be read
off the mask (bilinear and smooth upscales, an edited nearest upscale); ``mask_scale=1``
is the 2 px bridge on the pixels, None reads an exact block upscale off the mask
(docs/heyn.md "Upscaled masks")."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage as ndi

import napari_srmat.metrics.heyn as heyn
from napari_srmat.metrics.heyn import HeynError, measure_intercepts
from napari_srmat.synth import generate_microstructure

S = 4


def _drawn() -> np.ndarray:
    """A 1 px boundary mask as drawn (256², 24 px grains)."""
    return generate_microstructure(
        (256, 256), mean_grain_size_px=24, seed=4, boundary_width=1, rgb=False
    ).boundaries


def _nearest(mask: np.ndarray) -> np.ndarray:
    return np.kron(mask, np.ones((S, S), bool))


def _upscaled(mask: np.ndarray, how: str) -> np.ndarray:
    if how == "bilinear":  # PIL's resize of the 0/255 mask, thresholded at 128
        im = Image.fromarray(mask.astype(np.uint8) * 255)
        return np.asarray(im.resize((mask.shape[1] * S, mask.shape[0] * S), Image.BILINEAR)) > 127
    return ndi.gaussian_filter(_nearest(mask).astype(np.float32), S / 2) >= 0.5  # smooth


def _ell_um(mask: np.ndarray, pixel_size_um: float, **kw) -> float:
    return measure_intercepts(mask, pixel_size_um=pixel_size_um, **kw).mean_intercept_um


@pytest.mark.parametrize("how", ["bilinear", "smooth"])
@pytest.mark.parametrize("crop", [(0, 0), (3, 1)])
def test_a_smooth_upscale_given_its_scale_reads_the_mask_drawn(how, crop):
    """A x4 bilinear / smooth upscale is not constant on blocks, so its scale is not read
    off it: the 2 px bridge counts the zig-zags of its thick oblique bands twice and ℓ̄
    (µm, pixel size / 4) reads short. Given ``mask_scale=4`` (the block grid fitted to
    the mask, also after a crop) it reads the mask drawn within 3 % and closer than
    without it."""
    m = _drawn()
    up = _upscaled(m, how)[crop[0] :, crop[1] :]
    x1 = _ell_um(m, 1.0)
    without = measure_intercepts(up, pixel_size_um=1.0 / S)
    given = measure_intercepts(up, pixel_size_um=1.0 / S, mask_scale=S)
    assert (without.block_scale, given.block_scale) == (1, S)
    assert without.mean_intercept_um < x1
    err_without = abs(without.mean_intercept_um / x1 - 1)
    err_given = abs(given.mean_intercept_um / x1 - 1)
    assert err_given < 0.03, (x1, given.mean_intercept_um)
    assert err_given < err_without, (err_given, err_without)


def test_the_block_grid_of_a_smooth_upscale_is_the_one_of_the_mask_drawn():
    """On a cropped smooth upscale the grid's offsets are those of the nearest upscale
    cropped alike (the residue where most pixels change): the mask drawn's pixels."""
    up = _upscaled(_drawn(), "smooth")
    for r, c in ((0, 0), (3, 1), (1, 2)):
        assert heyn._block_offsets(up[r:, c:], S) == heyn._block_offsets(
            _nearest(_drawn())[r:, c:], S
        )


def test_an_edited_nearest_upscale_given_its_scale_counts_as_before_the_edit():
    """One pixel off the blocks and a x4 nearest upscale is no block upscale: the 2 px
    bridge, ℓ̄ short. ``mask_scale=4`` restores the count of the unedited upscale, line
    for line, which reads the mask drawn."""
    m = _drawn()
    up = _nearest(m)
    edited = up.copy()
    edited[101, 77] = ~edited[101, 77]
    clean = measure_intercepts(up)
    auto = measure_intercepts(edited)
    given = measure_intercepts(edited, mask_scale=S)
    assert (clean.block_scale, auto.block_scale, given.block_scale) == (S, 1, S)
    assert auto.n_intersections > clean.n_intersections
    np.testing.assert_array_equal(given.per_line_count, clean.per_line_count)
    x1 = _ell_um(m, 1.0)
    assert abs(_ell_um(edited, 1.0 / S, mask_scale=S) / x1 - 1) < abs(
        _ell_um(edited, 1.0 / S) / x1 - 1
    )


def test_mask_scale_1_is_the_2_px_bridge_and_a_true_scale_changes_nothing():
    """On a x4 nearest upscale ``mask_scale=1`` forces the 2 px bridge on the pixels (the
    counts with no block scale found), ``mask_scale=4`` is what is found, the mask drawn
    is left as it is by ``mask_scale=1``."""
    m = _drawn()
    up = _nearest(m)
    forced = measure_intercepts(up, mask_scale=1)
    assert forced.block_scale == 1
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(heyn, "_block_scale", lambda mask: None)
        two_px = measure_intercepts(up).per_line_count
    np.testing.assert_array_equal(forced.per_line_count, two_px)
    assert forced.n_intersections > measure_intercepts(up).n_intersections
    np.testing.assert_array_equal(
        measure_intercepts(up, mask_scale=S).per_line_count,
        measure_intercepts(up).per_line_count,
    )
    np.testing.assert_array_equal(
        measure_intercepts(m, mask_scale=1).per_line_count, measure_intercepts(m).per_line_count
    )


def test_no_tilted_line_bridges_nothing_whatever_the_scale():
    """Grid lines (axis-parallel) never zig-zag: ``block_scale`` 1, the counts unchanged."""
    up = _upscaled(_drawn(), "smooth")
    plain = measure_intercepts(up, pattern="grid")
    given = measure_intercepts(up, pattern="grid", mask_scale=S)
    assert given.block_scale == 1
    np.testing.assert_array_equal(given.per_line_count, plain.per_line_count)


@pytest.mark.parametrize("bad", [0, heyn.BLOCK_SCALE_MAX + 1, 2.5, True, "4", -1])
def test_a_bad_mask_scale_is_one_line_naming_it(bad):
    m = _drawn()
    with pytest.raises(HeynError, match=r"^mask_scale must be an integer in \[1, 8\]") as e:
        measure_intercepts(m, mask_scale=bad)
    assert "\n" not in str(e.value)


def test_an_integral_float_mask_scale_is_taken():
    up = _upscaled(_drawn(), "bilinear")
    assert measure_intercepts(up, mask_scale=4.0).block_scale == 4
