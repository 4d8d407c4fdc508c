"""The one image-input rule (``io.image_data``), the one mask rule (``io.as_bool_mask`` /
``io.read_mask``) and the one float rule (``io.to_float01`` / ``io.to_uint8``), and that
every reader follows them."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from napari_srmat.io import (
    MaskError,
    as_bool_mask,
    as_rgb,
    check_pixel_values,
    grey_or_rgb,
    image_data,
    read_array,
    read_image,
    read_mask,
    to_float01,
    to_uint8,
    write_ome_zarr,
)
from napari_srmat.io._float import NEGATIVE_FLOAT_FRACTION, NEGATIVE_FLOAT_TOLERANCE
from napari_srmat.metrics.heyn import measure_intercepts

EXPECTED = np.array([[False, True, False], [True, False, False], [False, False, True]])


def _cases():
    e = EXPECTED
    return {
        "bool": e.copy(),
        "uint8 0/1": e.astype(np.uint8),
        "uint8 0/255": e.astype(np.uint8) * 255,
        "uint16 0/1": e.astype(np.uint16),
        "uint16 0/65535": e.astype(np.uint16) * 65535,
        "int32 labels": e.astype(np.int32) * np.arange(1, 10, dtype=np.int32).reshape(3, 3),
        "float 0/1": e.astype(np.float32),
        "float64 0/1": e.astype(np.float64),
    }


@pytest.mark.parametrize("name", list(_cases()))
def test_mask_rule_dtypes(name):
    m = as_bool_mask(_cases()[name])
    assert m.dtype == bool and m.shape == (3, 3)
    assert m.tolist() == EXPECTED.tolist()


def test_mask_rule_uint8_noise_and_labels():
    # a 0/255 mask with JPEG-like noise: uint8 above 1 means 0/255, binarized > 127
    m = EXPECTED.astype(np.uint8) * 250
    m[0, 0] = 3
    assert as_bool_mask(m).tolist() == EXPECTED.tolist()
    # uint16: any non-zero value is a boundary (labels)
    assert as_bool_mask(np.array([[0, 7]], np.uint16)).tolist() == [[False, True]]


def test_mask_rule_float_needs_threshold():
    prob = np.array([[0.1, 0.6], [0.5, 0.49]], np.float32)
    with pytest.raises(MaskError, match="give a threshold"):
        as_bool_mask(prob, name="boundary mask")
    assert as_bool_mask(prob, threshold=0.5).tolist() == [[False, True], [True, False]]
    with pytest.raises(MaskError, match="has NaN or Inf values"):
        as_bool_mask(np.array([[0.0, np.nan]]))
    with pytest.raises(MaskError, match=r"in \[0, 1\]"):
        as_bool_mask(prob, threshold=2)
    # a threshold on an 8-bit probability map compares value / 255
    u8 = np.array([[0, 128, 153, 255]], np.uint8)
    assert as_bool_mask(u8, threshold=0.6).tolist() == [[False, False, True, True]]
    # ... and leaves binary 0/1 masks and bool masks as they are
    assert as_bool_mask(np.array([[0, 1]], np.uint8), threshold=0.6).tolist() == [[False, True]]
    assert as_bool_mask(np.array([[False, True]]), threshold=0.9).tolist() == [[False, True]]


def test_nan_in_a_mask_or_probability_map_is_refused_not_read_as_background():
    """NaN compares False, so a probability map with NaN (a masked-out region, a failed
    normalisation) binarized to "no boundary" there without a word: as_bool_mask with a
    threshold (read_mask, measure_intercepts, measure_grain_size(mask=True)) and
    binarize_boundaries; without a threshold a NaN map was told to "give a threshold"."""
    from napari_srmat.metrics.edges import EdgeMetricsError, binarize_boundaries

    prob = np.full((16, 16), 0.9, np.float32)
    prob[4, 4] = np.nan
    for threshold in (None, 0.5):
        with pytest.raises(MaskError, match=r"^boundary mask has NaN or Inf values: replace"):
            as_bool_mask(prob, threshold=threshold, name="boundary mask")
    with pytest.raises(ValueError, match=r"^boundary mask has NaN or Inf values"):
        measure_intercepts(np.where(prob > 0.5, 1.0, prob))
    prob[4, 4] = np.inf
    with pytest.raises(EdgeMetricsError, match=r"^prob has NaN or Inf values: replace"):
        binarize_boundaries(prob, 0.5)


def test_mask_rule_channels_and_shapes():
    e = EXPECTED.astype(np.uint8) * 255
    rgb = np.zeros((3, 3, 3), np.uint8)
    rgb[..., 2] = e  # a blue boundary on black: any colour channel counts
    assert as_bool_mask(rgb).tolist() == EXPECTED.tolist()
    rgba = np.dstack([e, e, e, np.full((3, 3), 255, np.uint8)])  # opaque alpha is ignored
    assert as_bool_mask(rgba).tolist() == EXPECTED.tolist()
    grey_alpha = np.dstack([e, np.full((3, 3), 255, np.uint8)])
    assert as_bool_mask(grey_alpha).tolist() == EXPECTED.tolist()
    assert as_bool_mask(e[..., None]).tolist() == EXPECTED.tolist()
    with pytest.raises(MaskError, match="2-D"):
        as_bool_mask(np.zeros((2, 3, 3, 3)))
    with pytest.raises(MaskError, match="expected"):
        as_bool_mask(e, shape=(4, 4))
    da = pytest.importorskip("dask.array")
    assert as_bool_mask(da.from_array(e, chunks=2)).tolist() == EXPECTED.tolist()


@pytest.mark.parametrize("scale", [1, 255])
def test_read_mask_png_0_1_and_0_255(tmp_path, scale):
    """Regression: a 0/1 uint8 PNG read as an empty mask through io.read_mask (training
    and evaluation data) while ``srmat heyn`` read it as boundaries."""
    p = tmp_path / "m.png"
    Image.fromarray(EXPECTED.astype(np.uint8) * scale).save(p)
    m = read_mask(p)
    assert m.dtype == bool and m.tolist() == EXPECTED.tolist()


def test_read_mask_formats(tmp_path):
    e = EXPECTED.astype(np.uint8)
    np.save(tmp_path / "m.npy", e)
    tifffile.imwrite(tmp_path / "m.tif", e.astype(np.uint16) * 65535)
    tifffile.imwrite(tmp_path / "p.tif", e.astype(np.float32) * 0.8)
    write_ome_zarr(e * 255, tmp_path / "m.ome.zarr", pixel_size_um=0.5)
    for name in ("m.npy", "m.tif", "m.ome.zarr"):
        assert read_mask(tmp_path / name).tolist() == EXPECTED.tolist(), name
    with pytest.raises(MaskError, match="p.tif.*give a threshold"):
        read_mask(tmp_path / "p.tif")
    assert read_mask(tmp_path / "p.tif", threshold=0.5).tolist() == EXPECTED.tolist()
    assert read_array(tmp_path / "p.tif").dtype == np.float32
    with pytest.raises(FileNotFoundError, match="mask not found"):
        read_mask(tmp_path / "missing.png")


def test_edges_training_data_reads_0_1_masks(tmp_path):
    """The training/evaluation loader (edges.data) follows the same rule."""
    from napari_srmat.edges.data import load_pairs

    img = np.zeros((3, 3, 3), np.uint8)
    Image.fromarray(img).save(tmp_path / "i.png")
    Image.fromarray(EXPECTED.astype(np.uint8)).save(tmp_path / "m.png")
    (sample,) = load_pairs([(tmp_path / "i.png", tmp_path / "m.png")])
    assert sample.mask.tolist() == EXPECTED.tolist()


# --------------------------------------------------------------------------- image inputs
def test_image_input_rule(tmp_path):
    """Micrographs, arrays and nested lists; integer lists get a bit depth, not int64."""
    e = EXPECTED.astype(np.uint8) * 255
    write_ome_zarr(e, tmp_path / "m.ome.zarr", pixel_size_um=0.5)
    mic = read_image(tmp_path / "m.ome.zarr")
    arr, px = image_data(mic)
    assert arr is mic.data and px == pytest.approx(0.5)
    assert image_data(e) == (e, None)
    assert image_data(e.tolist())[0].dtype == np.uint8
    assert image_data((e.astype(np.uint16) * 257).tolist())[0].dtype == np.uint16
    assert image_data([[0.0, 0.5]])[0].dtype == np.float64
    assert image_data([[True, False]])[0].dtype == np.bool_
    assert to_float01(image_data(e.tolist())[0]).max() == 1.0  # not 255 / (2**63 - 1)
    with pytest.raises(ValueError, match="prob is a list of integers in -1..3"):
        image_data([[-1, 3]], name="prob")
    with pytest.raises(ValueError, match="lr is not a rectangular"):
        image_data([[1, 2], [3]], name="lr")
    with pytest.raises(TypeError, match="image is None"):
        image_data(None)
    with pytest.raises(TypeError, match=r"a path .*read_image"):
        image_data(str(tmp_path / "m.ome.zarr"))
    with pytest.raises(TypeError, match="sr must be an image array"):
        image_data({"a": 1}, name="sr")


def test_integer_lists_of_labels_keep_their_labels():
    """The bit-depth rule of integer lists made a label-map list uint8, which the mask
    rule reads as 0/255 (> 127): labels 2..127 became background, without an error."""
    assert image_data([[0, 1, 2, 3]], intensity=False)[0].dtype == np.int_
    assert as_bool_mask([[0, 1, 2, 3], [0, 0, 5, 0]]).tolist() == [
        [False, True, True, True], [False, False, True, False]]  # labels > 0
    with pytest.raises(MaskError, match="not a mask: it holds negative values"):
        as_bool_mask([[0, 1, 2, 3], [0, 0, 5, -1]])  # not read as background since 2026-12
    with pytest.raises(MaskError, match=r"watershed marks boundaries -1: save labels == -1"):
        as_bool_mask(np.array([[1, -1, 2], [1, -1, 2]], np.int32))  # cv2.watershed's output
    lab = np.zeros((64, 64), np.int64)
    lab[::8] = 3
    lab[:, ::8] = 7
    ref = measure_intercepts(lab, pattern="grid", n_lines=5, margin=0)
    got = measure_intercepts(lab.tolist(), pattern="grid", n_lines=5, margin=0)
    assert ref.mean_intercept_px is not None
    assert got.mean_intercept_px == ref.mean_intercept_px


def test_threshold_leaves_label_maps_to_the_mask_rule():
    """With a threshold, int32 labels were divided by 2**31 - 1 and compared with it: no
    boundary at all. uint8 / uint16 maps are still probability maps scaled to [0, 1]."""
    lab = np.zeros((8, 8), np.int32)
    lab[2] = 5
    lab[:, 3] = 7
    expected = lab > 0
    for dtype in (np.int32, np.int64, np.int16, np.uint32):
        assert (as_bool_mask(lab.astype(dtype), threshold=0.5) == expected).all(), dtype
    lab[0, 0] = -2  # an "ignore" label: refused (it was measured as grain interior)
    with pytest.raises(MaskError, match="negative values"):
        as_bool_mask(lab, threshold=0.5)
    prob8 = np.array([[0, 100, 200]], np.uint8)
    assert as_bool_mask(prob8, threshold=0.5).tolist() == [[False, False, True]]
    assert as_bool_mask(prob8, threshold=0.3).tolist() == [[False, True, True]]
    for bad in ("0.5", 1.5, float("nan"), True):  # the one number rule, errors.check_number
        with pytest.raises(MaskError, match=r"threshold for the mask must be a number in \[0, 1\]"):
            as_bool_mask(prob8, threshold=bad)
    assert as_bool_mask(np.array([[0, 40000]], np.uint16), threshold=0.7).tolist() == [
        [False, False]]


def test_write_ome_zarr_refuses_non_pixel_dtypes_before_writing(tmp_path):
    """An object array failed deep in Zarr ("Zarr data type resolution from object
    failed") and left ``x.ome.zarr.partial`` behind; a complex array was written as a
    complex OME-Zarr. Both are refused by the image-input rule before anything is written."""
    for dtype in (object, np.complex128, "U3"):
        with pytest.raises(TypeError, match=r"data has dtype .*: pixels must be bool, "
                                            "integer or float"):
            write_ome_zarr(np.zeros((8, 8), dtype), tmp_path / "x.ome.zarr")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(TypeError, match="lr has dtype complex128"):
        image_data([[1j, 0]], name="lr")


def test_readers_given_an_array_say_they_take_a_path():
    """read_image / read_mask given an array raised pathlib's "expected str, bytes or
    os.PathLike object, not ndarray"; now a TypeError that says what they take."""
    e = EXPECTED.astype(np.uint8) * 255
    with pytest.raises(TypeError, match=r"path is an array; read_image takes a path"):
        read_image(e)
    with pytest.raises(TypeError, match=r"path is an array; read_mask takes a path.*"
                                        "as_bool_mask"):
        read_mask(e)
    with pytest.raises(TypeError, match=r"path is None; read_array takes a path"):
        read_array(None)


def test_mask_rule_takes_a_micrograph(tmp_path):
    write_ome_zarr(EXPECTED.astype(np.uint8) * 255, tmp_path / "m.ome.zarr")
    assert as_bool_mask(read_image(tmp_path / "m.ome.zarr")).tolist() == EXPECTED.tolist()
    assert as_bool_mask(EXPECTED.astype(int).tolist()).tolist() == EXPECTED.tolist()


# --------------------------------------------------------------------------- floats
def test_float_rule():
    assert to_float01(np.array([0, 51, 255], np.uint8)).tolist() == pytest.approx([0, 0.2, 1])
    u16 = to_float01(np.array([0, 65535], np.uint16))
    assert u16.dtype == np.float32 and u16.tolist() == [0.0, 1.0]
    assert to_float01(np.array([True, False])).tolist() == [1.0, 0.0]
    f64 = np.array([0.25, 1.5])
    assert to_float01(f64).dtype == np.float32
    assert to_float01(f64).tolist() == [0.25, 1.5]  # floats are not clipped or rescaled
    assert to_float01(f64, dtype=None).dtype == np.float64
    assert to_float01(np.array([0, 2147483647], np.int32)).tolist() == [0.0, 1.0]


def test_uint8_rule():
    u8 = np.array([0, 7, 255], np.uint8)
    assert to_uint8(u8) is u8
    assert to_uint8(np.array([0, 257, 65535], np.uint16)).tolist() == [0, 1, 255]
    # floats are in [0, 1]: an overshoot is clipped, not taken for a 0-255 image
    assert to_uint8(np.array([-0.1, 0.5, 1.02], np.float32)).tolist() == [0, 128, 255]
    assert to_uint8(np.array([True, False])).tolist() == [255, 0]
    every = np.arange(256, dtype=np.uint8)
    assert np.array_equal(to_uint8(to_float01(every)), every)  # round trip


def test_channel_rule():
    assert grey_or_rgb(np.zeros((4, 5, 1))).shape == (4, 5)
    assert grey_or_rgb(np.zeros((4, 5, 2))).shape == (4, 5)
    assert grey_or_rgb(np.zeros((4, 5, 4))).shape == (4, 5, 3)
    assert grey_or_rgb(np.zeros((4, 5))).shape == (4, 5)


def test_rgb_rule():
    grey = np.arange(20, dtype=np.uint16).reshape(4, 5) * 3000
    rgb = as_rgb(grey)
    assert rgb.shape == (4, 5, 3) and rgb.dtype == np.uint16
    assert all(np.array_equal(rgb[..., c], grey) for c in range(3))
    assert np.array_equal(as_rgb(np.dstack([grey, np.full_like(grey, 65535)])), rgb)
    assert np.array_equal(as_rgb(grey[..., None]), rgb)
    colour = np.random.default_rng(0).integers(0, 256, (4, 5, 4), dtype=np.uint8)
    assert np.array_equal(as_rgb(colour), colour[..., :3])
    for bad in (np.zeros(5), np.zeros((2, 4, 5, 3)), np.zeros((4, 5, 0))):
        with pytest.raises(ValueError, match="expected an"):
            as_rgb(bad)


def test_rgb_converters_follow_the_rgb_rule():
    """Every module that needs three channels turns grey, grey + alpha and RGBA alike."""
    from napari_srmat.channels import float_channels_last
    from napari_srmat.edges.data import to_model_image
    from napari_srmat.sr.pairs import _rgb
    from napari_srmat.sr.refsr import _hr_rgb
    from napari_srmat.sr.train import _to_uint8_rgb
    from napari_srmat.studies.three_arm import _rgb_uint8

    rng = np.random.default_rng(1)
    grey = rng.integers(0, 256, (6, 7), dtype=np.uint8)
    alpha = np.full_like(grey, 200)
    colour = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    cases = {"grey": (grey, as_rgb(grey)),
             "grey + alpha": (np.dstack([grey, alpha]), as_rgb(grey)),
             "rgba": (np.dstack([colour, alpha]), colour)}
    for name, (image, want_u8) in cases.items():
        want = to_float01(want_u8)
        assert np.array_equal(to_model_image(image), want.transpose(2, 0, 1)), name
        assert np.array_equal(_rgb(image), want), name
        assert np.array_equal(_hr_rgb(image), want), name
        assert np.array_equal(_to_uint8_rgb(image), want_u8), name
        assert np.array_equal(_rgb_uint8(image, name), want_u8), name
        got = float_channels_last(image)  # the audit's: grey kept as one channel
        assert np.array_equal(got, want[..., :1] if image.ndim == 2 or image.shape[2] == 2
                              else want), name


def test_predict_boundaries_follows_the_rgb_rule():
    """Grey + alpha ``(H, W, 2)`` was refused by the tiled boundary prediction ("expected
    1, 3 or 4 channels") although the model image rule takes it as grey."""
    from napari_srmat.edges import load_boundary_model, predict_boundaries

    model = load_boundary_model()
    rng = np.random.default_rng(2)
    grey = rng.integers(0, 256, (40, 48), dtype=np.uint8)
    alpha = np.full_like(grey, 255)
    ref = predict_boundaries(grey, model)
    got = predict_boundaries(np.dstack([grey, alpha]), model)
    assert np.array_equal(got[0], ref[0]) and np.array_equal(got[1], ref[1])
    rgb = np.dstack([grey, grey[::-1], grey[:, ::-1]])
    got = predict_boundaries(np.dstack([rgb, alpha]), model)[0]
    assert np.array_equal(got, predict_boundaries(rgb, model)[0])
    with pytest.raises(ValueError, match=r"^image has 5 channels \(shape \(8, 8, 5\)\)"):
        predict_boundaries(np.zeros((8, 8, 5), np.uint8), model)  # the image-input rule


def test_predict_boundaries_refuses_an_empty_image():
    """predict_boundaries(np.zeros((0, 0))) failed with "ZeroDivisionError: division by
    zero" from the exposure statistics (edges.data.stats_step)."""
    from napari_srmat.edges import predict_boundaries
    from napari_srmat.edges.data import BoundaryDataError

    for shape in ((0, 0), (0, 16, 3), (16, 0)):
        with pytest.raises(BoundaryDataError, match=r"^the image is empty \(shape"):
            predict_boundaries(np.zeros(shape, np.uint8))


def test_super_resolve_and_plan_rescan_follow_the_channel_rule(tmp_path):
    """Grey + alpha and RGBA were refused by the RGB SR model ("cnn takes 3 or 1
    channel(s); the image has 4") in super_resolve and plan_rescan, although the channel
    rule takes them as grey and RGB; now they give the grey / RGB result, lazily too."""
    import dask.array as da

    import napari_srmat as srmat
    from napari_srmat.io import Micrograph
    from napari_srmat.sr import load_model
    from napari_srmat.sr.cnn import CNNSR

    model = load_model()
    rng = np.random.default_rng(3)
    grey = rng.integers(0, 256, (16, 24), dtype=np.uint8)
    alpha = np.full_like(grey, 200)
    rgb = np.dstack([grey, grey[::-1], grey[:, ::-1]])
    ref_grey, ref_rgb = srmat.super_resolve(grey, model), srmat.super_resolve(rgb, model)
    got = srmat.super_resolve(np.dstack([grey, alpha]), model)
    assert got.shape == (64, 96) and np.array_equal(got, ref_grey)
    rgba = np.dstack([rgb, alpha])
    assert np.array_equal(srmat.super_resolve(rgba, model), ref_rgb)
    lazy = da.from_array(rgba, chunks=16)
    mg = Micrograph(data=lazy, levels=[lazy], axes="YXC", pixel_size_um=0.5)
    out = srmat.super_resolve(mg, model, out=tmp_path / "sr.ome.zarr")
    ref = srmat.super_resolve(rgb, model, out=tmp_path / "ref.ome.zarr", pixel_size_um=0.5)
    stored, want = srmat.read_image(out), srmat.read_image(ref)
    assert stored.shape == (64, 96, 3) and stored.pixel_size_um == pytest.approx(0.125)
    assert np.array_equal(np.asarray(stored.data), np.asarray(want.data))
    small = CNNSR(n_blocks=1, n_feats=8)  # plan_rescan runs 8 SRs: a small network
    for image, same in ((np.dstack([grey, alpha]), grey), (rgba, rgb)):
        # budget 0.25 of 16 x 24 px holds one 8 px block (the default 0.1 cannot)
        plan = srmat.plan_rescan(image, small, roi_px=8, budget=0.25)
        assert np.array_equal(plan.uncertainty,
                              srmat.plan_rescan(same, small, roi_px=8, budget=0.25).uncertainty)
    with pytest.raises(ValueError, match=r"^image has 5 channels \(shape \(16, 24, 5\)\)"):
        srmat.super_resolve(np.dstack([rgba, grey]), model)  # the image-input rule


@pytest.mark.filterwarnings("ignore:no shipped weights")
def test_every_sr_model_drops_alpha_alike():
    """bicubic and lanczos (channel-agnostic) kept the alpha channel (RGBA -> 4 channels,
    grey + alpha -> 2) where cnn dropped it (RGB, grey): the same image gave differently
    shaped results by model. Now every model follows the channel rule, lazily too."""
    import dask.array as da

    import napari_srmat as srmat
    from napari_srmat.sr import load_model

    rng = np.random.default_rng(5)
    grey = rng.integers(0, 256, (16, 24), dtype=np.uint8)
    alpha = np.full_like(grey, 200)
    rgb = np.dstack([grey, grey[::-1], grey[:, ::-1]])
    rgba, grey_alpha = np.dstack([rgb, alpha]), np.dstack([grey, alpha])
    for name in ("bicubic", "lanczos", "cnn", "cgan"):  # those cheap on a CPU
        model = load_model(name, scale=4)
        for image, same, shape in ((rgba, rgb, (64, 96, 3)), (grey_alpha, grey, (64, 96))):
            got = srmat.super_resolve(image, model)
            assert got.shape == shape, name
            assert np.array_equal(got, srmat.super_resolve(same, model)), name
            lazy = srmat.super_resolve(da.from_array(image, chunks=8), model)
            assert np.array_equal(lazy, got), name


def test_pixel_values_the_float_rule_would_misread_are_refused():
    """A 0-255 float image (``img.astype(float)``) was cast as it is: super_resolve gave a
    white image, predict_boundaries no boundaries, measure_grain_size "no test line
    crosses a boundary", all without an error; an 8-bit image held as int64
    (``img.astype(int)``) was divided by 2**63 - 1: black."""
    import napari_srmat as srmat

    overshoot = np.full((32, 32), 0.5)
    overshoot[0, :] = -0.2  # a dark edge's undershoot (3 % of the pixels), a bright one's
    overshoot[-1, :] = 1.3
    check_pixel_values(overshoot)  # interpolation overshoot passes
    check_pixel_values(np.array([[0, 255]], np.uint8))  # integers always pass
    da = pytest.importorskip("dask.array")
    with pytest.raises(ValueError, match=r"lr is a float image with values in 0\.\.255"):
        check_pixel_values(da.from_array(np.array([[0.0, 255.0]]), chunks=1), name="lr")
    ms = srmat.generate_microstructure((64, 64), mean_grain_size_px=12, seed=0)
    wrong = ms.image.astype(np.float32)
    for call in (lambda: srmat.super_resolve(wrong, "bicubic"),
                 lambda: srmat.predict_boundaries(wrong),
                 lambda: srmat.measure_grain_size(wrong),
                 lambda: srmat.find_hallucination_candidates(wrong[::2, ::2], wrong),
                 lambda: srmat.binarize_boundaries(wrong[..., 0], 0.5)):
        with pytest.raises(ValueError, match="float images must be in \\[0, 1\\]"):
            call()
    right = wrong / 255
    assert srmat.super_resolve(right, "bicubic").shape == (256, 256, 3)
    as_int = ms.image.astype(np.int64)
    for call in (lambda: srmat.super_resolve(as_int, "bicubic"),
                 lambda: srmat.measure_grain_size(as_int),
                 lambda: srmat.plan_rescan(as_int, "bicubic")):
        with pytest.raises(ValueError, match=r"an int64 image with values in .*pass it as "
                                             r"uint8 \(image.astype\(np.uint8\)\)"):
            call()
    # 12-bit data: the hint must not be uint8, which would wrap 4095 to 255
    with pytest.raises(ValueError, match=r"pass it as uint16 \(image.astype\(np.uint16\)\)"):
        check_pixel_values(np.array([[0, 4095]], np.uint32))

def test_wide_integer_images_read_as_black_are_refused_with_their_bit_depth():
    """17-bit camera data in uint32 (max 131071) passed the <= 65535 rule and was divided
    by 2**32 - 1: super_resolve saw a black image and returned garbage (correlation 0.01
    with bicubic of the data). A 32/64-bit image under 1/256 of its dtype's maximum is
    refused, naming its bit depth; one that uses the dtype's range is read as before."""
    import napari_srmat as srmat

    ms = srmat.generate_microstructure((64, 64), mean_grain_size_px=12, seed=0)
    seventeen = ms.image[..., 0].astype(np.uint32) * 514  # 0..131070: 17-bit data
    for call in (lambda: check_pixel_values(seventeen),
                 lambda: srmat.super_resolve(seventeen, "cnn"),
                 lambda: srmat.measure_grain_size(seventeen)):
        with pytest.raises(ValueError, match=r"uint32 image with values in \d+\.\.\d+: .*"
                                             r"read as black.*17 bits.*image / 131071"):
            call()
    with pytest.raises(ValueError, match=r"int32 image .*18 bits.*image >> 2"):
        check_pixel_values(np.array([[0, 200000]], np.int32))
    full = seventeen << np.uint32(15)  # the same data scaled to the dtype's range
    check_pixel_values(full)
    np.testing.assert_allclose(srmat.super_resolve(full, "bicubic"),
                               srmat.super_resolve(seventeen / 131070, "bicubic"), atol=1e-4)
    edge = np.array([[0, 2 ** 24]], np.uint32)  # 1/256 of full scale: accepted
    check_pixel_values(edge)
    with pytest.raises(ValueError, match="read as black"):
        check_pixel_values(np.array([[0, 2 ** 24 - 1]], np.uint32))


def test_signed_images_with_negative_values_are_refused():
    """int16 is divided by 32767: a negative pixel became a negative intensity, and 16-bit
    camera data read as int16 (values above 32767 wrap to negative) was processed as
    garbage without an error. Non-negative signed images still follow the float rule."""
    import napari_srmat as srmat

    ms = srmat.generate_microstructure((64, 64), mean_grain_size_px=12, seed=0)
    u16 = ms.image[..., 0].astype(np.uint16) * 257
    wrapped = u16.view(np.int16)
    for call in (lambda: srmat.super_resolve(wrapped, "bicubic"),
                 lambda: srmat.predict_boundaries(wrapped),
                 lambda: srmat.measure_grain_size(wrapped)):
        with pytest.raises(ValueError, match=r"image is an int16 image with values in -\d+"
                                             r".*negative intensities.*view\(np\.uint16\)"):
            call()
    with pytest.raises(ValueError, match="lr is an int64 image with values in -1..70000"):
        check_pixel_values(np.array([[-1, 70000]], np.int64), name="lr")
    assert to_float01(np.array([0, 32767], np.int16)).tolist() == [0.0, 1.0]
    half = (u16 // 2).astype(np.int16)  # 0..32767: read as 0..1, accepted
    check_pixel_values(half)
    got = srmat.super_resolve(half, "bicubic")
    assert got.min() >= 0.0 and got.max() == pytest.approx(to_float01(half).max(), abs=0.05)


def test_pixel_values_outside_the_central_window_are_refused(tmp_path):
    """check_pixel_values read only the central 512 px window: a mosaic held as 0-255
    floats with a dark middle, or an int16 image whose negative values lie away from the
    middle, passed and was misread later (white everywhere, negative intensities)."""
    import dask.array as da
    import zarr

    from napari_srmat.io import float_bit_depth_divisor

    floats = np.full((3000, 3000), 200.0, np.float32)
    floats[1000:2000, 1000:2000] = 0.5  # a dark middle, in [0, 1]
    store = zarr.open_array(tmp_path / "f.zarr", mode="w", shape=floats.shape,
                            chunks=(512, 512), dtype=floats.dtype)
    store[:] = floats
    for image in (floats, da.from_array(floats, chunks=512), store):
        with pytest.raises(ValueError, match=r"float image with values in 0\.5\.\.200"):
            check_pixel_values(image)
    assert float_bit_depth_divisor(floats) == 255
    signed = np.zeros((3000, 3000), np.int16)
    signed[300:450] = -5  # a band of wrapped 16-bit data near the top
    with pytest.raises(ValueError, match=r"int16 image with values in -5\.\.0"):
        check_pixel_values(da.from_array(signed, chunks=512))
    check_pixel_values(np.abs(signed))  # the same image without negative values passes


def test_converters_follow_the_float_rule():
    """The model, audit and metric inputs use the same conversion."""
    from napari_srmat.channels import float_channels_last
    from napari_srmat.edges.data import to_model_image
    from napari_srmat.metrics.edges import EdgeHistogram

    u16 = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000)
    ref = to_float01(u16)
    assert np.array_equal(to_model_image(u16)[0], ref)
    assert np.array_equal(float_channels_last(u16)[..., 0], ref)
    h = EdgeHistogram(16)
    assert np.array_equal(h.bin_index(u16), h.bin_index(ref.astype(np.float64)))


def test_srmat_heyn_reads_probability_maps_with_a_threshold(tmp_path, capsys):
    """`srmat heyn` reads what `srmat edges predict` writes (OME-Zarr probabilities)."""
    import json

    from napari_srmat.cli import main
    from napari_srmat.synth import generate_microstructure

    ms = generate_microstructure((96, 96), mean_grain_size_px=16, seed=1)
    prob = np.where(ms.boundaries, 0.9, 0.1).astype(np.float32)
    store = write_ome_zarr(prob, tmp_path / "prob.ome.zarr", pixel_size_um=0.5)
    assert main(["heyn", str(store), "--json"]) == 2
    assert "give a threshold" in capsys.readouterr().err
    assert main(["heyn", str(store), "--threshold", "0.5", "--json"]) == 0
    via_map = json.loads(capsys.readouterr().out)
    Image.fromarray(ms.boundaries.astype(np.uint8)).save(tmp_path / "m.png")  # 0/1 PNG
    assert main(["heyn", str(tmp_path / "m.png"), "--json"]) == 0
    via_png = json.loads(capsys.readouterr().out)
    assert via_map["mean_intercept_px"] > 5
    assert via_map["mean_intercept_px"] == pytest.approx(via_png["mean_intercept_px"])
    # the pixel size travels with the file (the PNG has none)
    assert via_map["pixel_size_um"] == pytest.approx(0.5)
    assert via_map["mean_intercept_um"] == pytest.approx(via_map["mean_intercept_px"] * 0.5)
    assert via_map["per_image"][0]["astm_g"] is not None
    assert via_png["pixel_size_um"] is None and via_png["astm_g"] is None
    # exit 2 since 2026-12-07 (0 before): masks with and without a pixel size give no
    # pooled grain size, as srmat grain-size --method's fields; the rows are printed
    assert main(["heyn", str(store), str(tmp_path / "m.png"), "--threshold", "0.5",
                 "--json"]) == 2
    both = json.loads(capsys.readouterr().out)
    assert both["pixel_size_um"] is None and any("different or unknown" in w
                                               for w in both["warnings"])
    assert main(["heyn", str(store), "--threshold", "0.5", "--pixel-size-um", "2",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["pixel_size_um"] == 2


def test_eval_maps_reads_ome_zarr_maps(tmp_path, capsys):
    """`srmat eval-maps` reads a folder of OME-Zarr probability maps (what `io` writes)."""
    import json

    from _helpers import fake_predictions

    from napari_srmat.cli import main

    probs, masks = fake_predictions(2, size=96)
    for d in ("zarr", "png", "masks"):
        (tmp_path / d).mkdir()
    for i, (p, m) in enumerate(zip(probs, masks)):
        u8 = np.round(p * 255).astype(np.uint8)
        write_ome_zarr(u8, tmp_path / "zarr" / f"s{i}.ome.zarr")
        Image.fromarray(u8).save(tmp_path / "png" / f"s{i}.png")
        Image.fromarray((m > 0).astype(np.uint8)).save(tmp_path / "masks" / f"s{i}.png")  # 0/1
    res = []
    for d in ("zarr", "png"):
        assert main(["eval-maps", "--prob", str(tmp_path / d), "--masks",
                     str(tmp_path / "masks"), "--json"]) == 0
        res.append(json.loads(capsys.readouterr().out))
    assert res[0]["n_images"] == 2 and res[0]["ap"] > 0.5
    assert res[0]["ap"] == pytest.approx(res[1]["ap"])
    assert res[0]["heyn_pred_px"] == pytest.approx(res[1]["heyn_pred_px"])


class _CountingArray:
    """An array-like that counts the pixels read from it (for laziness checks)."""

    def __init__(self, data: np.ndarray) -> None:
        self.data, self.shape, self.dtype, self.ndim = data, data.shape, data.dtype, data.ndim
        self.pixels_read = 0

    def __getitem__(self, key):
        out = self.data[key]
        self.pixels_read += out.size
        return out


def test_channel_rule_and_value_check_read_lazily(tmp_path):
    """grey_or_rgb keeps Dask and Zarr inputs lazy; check_pixel_values reads only its
    bounded sample of a large image (about one chunk per window)."""
    import dask.array as da
    import zarr

    from napari_srmat.io._float import (
        PIXEL_CHECK_GRID,
        PIXEL_CHECK_GRID_WINDOW,
        PIXEL_CHECK_WINDOW,
    )

    big = np.broadcast_to(np.float32(0.5), (20000, 20000, 4))  # a mosaic, no memory
    counting = _CountingArray(big)
    lazy = da.from_array(counting, chunks=(128, 128, 4), name="counting")  # not hashed
    rgb = grey_or_rgb(lazy)
    assert isinstance(rgb, da.Array) and rgb.shape == (20000, 20000, 3)
    assert counting.pixels_read == 0
    check_pixel_values(lazy)
    chunk = 128  # at most the chunks each window touches
    bound = ((PIXEL_CHECK_WINDOW + 2 * chunk) ** 2
             + PIXEL_CHECK_GRID ** 2 * (PIXEL_CHECK_GRID_WINDOW + chunk) ** 2) * 4
    assert 0 < counting.pixels_read <= bound < big.size // 300
    z = zarr.open_array(tmp_path / "a.zarr", mode="w", shape=(64, 64, 2), chunks=(32, 32, 2),
                        dtype=np.uint8)
    z[:] = 7
    grey = grey_or_rgb(z)
    assert isinstance(grey, da.Array) and grey.shape == (64, 64)
    assert int(grey.compute().max()) == 7


def test_channel_first_images_are_refused_naming_the_argument(tmp_path):
    """A (3, H, W) array was read as 3 rows of W channels: measure_grain_size measured a
    3 x W strip (first three "channels") without a word, write_ome_zarr wrote a store of
    W channels, and register_images / the audit failed with "too small" / "cannot infer
    an integer scale from (3, W)". The image-input rule refuses it, naming the argument."""
    from napari_srmat.grainsize import measure_grain_size
    from napari_srmat.sr.registration import register_images

    rgb = np.zeros((64, 64, 3), np.uint8)
    chw = np.moveaxis(rgb, -1, 0)
    for grey_a in ((64, 64), (64, 64, 1), (64, 64, 4), (2, 3, 4)):
        image_data(np.zeros(grey_a, np.uint8))  # not channel-first: accepted
    with pytest.raises(ValueError, match=r"image has shape \(3, 64, 64\), channels first"):
        measure_grain_size(chw)
    with pytest.raises(ValueError, match=r"moving has shape \(3, 16, 16\).*moveaxis\(moving"):
        register_images(chw[:, ::4, ::4], rgb)
    with pytest.raises(ValueError, match=r"data has shape \(3, 64, 64\), channels first"):
        write_ome_zarr(chw, tmp_path / "c.ome.zarr")
    assert not (tmp_path / "c.ome.zarr").exists()
    write_ome_zarr(chw, tmp_path / "d.ome.zarr", axes="CYX")  # declared: moved last
    assert read_image(tmp_path / "d.ome.zarr").shape == (64, 64, 3)
    with pytest.raises(ValueError, match=r"boundary mask has shape \(3, 64, 64\)"):
        measure_intercepts(np.zeros((3, 64, 64), bool))


def test_stacks_and_arrays_of_many_channels_are_refused_naming_the_argument(tmp_path):
    """A (10, H, W) stack passed as an image: measure_grain_size measured a 10 x W strip
    (ℓ̄ 14.8 px, no warning), super_resolve returned (20, 2H, 2W) and write_ome_zarr wrote
    W channels; a (5, H, W) stack was "5 x 96 px, too small". An (H, W, 7) array was cut
    to 3 channels by measure_grain_size and register_images and refused by
    predict_boundaries naming no argument. The image-input rule refuses both, naming the
    argument, from the shape only (a Dask array is not computed)."""
    import dask.array as da

    import napari_srmat as srmat
    from napari_srmat.edges import load_boundary_model

    img = np.random.default_rng(0).integers(0, 256, (96, 96), dtype=np.uint8)
    stack = np.stack([img] * 10)
    said = (r"image is a stack of 10 planes of 96 x 96 px \(shape \(10, 96, 96\)\), not "
            r"one grey or colour image: pass one plane, e.g. image\[0\]")
    with pytest.raises(ValueError, match=said):
        srmat.measure_grain_size(stack, pixel_size_um=0.5)
    with pytest.raises(ValueError, match=said):
        srmat.super_resolve(stack, "bicubic")
    with pytest.raises(ValueError, match=r"^moving is a stack of 5 planes .*moving\[0\]$"):
        srmat.register_images(stack[:5], img)
    with pytest.raises(ValueError, match=r"^fixed is a stack of 5 planes"):
        srmat.register_images(img, stack[:5])
    with pytest.raises(ValueError, match=r"^data is a stack of 10 planes"):
        write_ome_zarr(stack, tmp_path / "s.ome.zarr")
    assert not (tmp_path / "s.ome.zarr").exists()

    def unread(block):
        raise AssertionError("a pixel was read")

    lazy = da.zeros((10, 96, 96), np.uint8, chunks=48).map_blocks(unread, dtype=np.uint8)
    with pytest.raises(ValueError, match=said):
        srmat.measure_grain_size(lazy, pixel_size_um=0.5)

    seven = np.stack([img] * 7, -1)
    said = (r"^image has 7 channels \(shape \(96, 96, 7\)\), not one grey or colour image "
            r"\(at most 4: grey, grey \+ alpha, RGB, RGBA\): pass the channels to use, "
            r"e.g. image\[\.\.\., :3\]$")
    with pytest.raises(ValueError, match=said):
        srmat.measure_grain_size(seven, pixel_size_um=0.5)
    with pytest.raises(ValueError, match=said):
        srmat.predict_boundaries(seven, load_boundary_model())
    with pytest.raises(ValueError, match=said.replace("^image", "^lr").replace("e.g. image",
                                                                            "e.g. lr")):
        srmat.plan_rescan(seven, "bicubic")
    with pytest.raises(ValueError, match=r"^moving has 7 channels"):
        srmat.register_images(seven, img)
    for shape in ((96, 96, 4), (2, 3, 4), (4, 5, 4)):  # one image, at most 4 channels
        assert image_data(np.zeros(shape, np.uint8))[0].shape == shape


def test_non_square_pixels_give_no_single_pixel_size(tmp_path):
    """image_data, read_array and read_mask give no pixel size for a file whose pixels
    are not square (they gave its X size, as if square); read_mask says why."""
    from napari_srmat.io import (
        SQUARE_PIXEL_TOLERANCE,
        image_data,
        pixel_size_note,
        pixels_square,
        read_image,
    )

    assert SQUARE_PIXEL_TOLERANCE == 0.01
    assert pixels_square(0.5, 0.5) and pixels_square(0.504, 0.5)
    assert not pixels_square(0.25, 0.5) and not pixels_square(0.5, 0.25)
    m = np.zeros((40, 40), np.uint8)
    m[::10] = 255
    tifffile.imwrite(tmp_path / "ns.tif", m, resolution=(20000, 40000),
                     resolutionunit="CENTIMETER")
    tifffile.imwrite(tmp_path / "sq.tif", m, resolution=(20000, 20000),
                     resolutionunit="CENTIMETER")
    with pytest.warns(UserWarning, match="pixels are not square"):
        ns = read_image(tmp_path / "ns.tif")
    assert ns.pixel_size_um == pytest.approx(0.5)  # the X size, recorded as before
    assert image_data(ns)[1] is None
    assert "X 0.5 µm, Y 0.25 µm" in pixel_size_note(ns)
    notes: list = []
    with pytest.warns(UserWarning, match="pixels are not square"):
        mask, px = read_mask(tmp_path / "ns.tif", return_pixel_size=True, notes=notes)
    assert px is None and mask.sum() == 160
    assert len(notes) == 1 and "pixels are not square" in notes[0]
    sq = read_image(tmp_path / "sq.tif")
    assert image_data(sq)[1] == pytest.approx(0.5) and pixel_size_note(sq) is None
    notes = []
    assert read_mask(tmp_path / "sq.tif", return_pixel_size=True, notes=notes)[1] == \
        pytest.approx(0.5)
    assert notes == []


def test_an_implausible_pixel_size_in_a_file_is_unknown_with_a_warning(tmp_path):
    """A PNG calibrated at 1 px per metre (a broken pHYs) read as a 1e6 µm pixel, and
    every measurement of it then refused (pixel size out of range) instead of giving ℓ̄
    in px."""
    from PIL import Image

    from napari_srmat import measure_intercepts
    from napari_srmat.io import read_image

    m = np.zeros((64, 64), np.uint8)
    m[:, 5::10] = 255
    p = tmp_path / "mask.png"
    Image.fromarray(m).save(p, dpi=(0.0254, 0.0254))  # 1 px per metre
    with pytest.warns(UserWarning, match=r"pixel size \(1e\+06 µm\) is outside.*unknown"):
        mic = read_image(p)
    assert mic.pixel_size_um is None
    res = measure_intercepts(mic)  # px figures; before: refused (out-of-range size)
    assert res.mean_intercept_px is not None and res.mean_intercept_px > 10
    assert res.mean_intercept_um is None


def test_a_given_pixel_size_that_differs_from_the_files_is_told(tmp_path, capsys):
    """--pixel-size-um 0.25 on a file calibrated at 0.5 µm halved every µm figure and
    moved G by 2 without a word (the given size wins, as before, but is now told)."""
    import json

    from PIL import Image

    from napari_srmat import measure_grain_size, measure_intercepts
    from napari_srmat.cli import main
    from napari_srmat.io import read_image

    m = np.zeros((128, 128), np.uint8)
    m[:, 5::10] = 255
    p = tmp_path / "m.png"
    Image.fromarray(m).save(p, dpi=(25400 / 0.5, 25400 / 0.5))
    mic = read_image(p)
    assert mic.pixel_size_um == pytest.approx(0.5)
    told = "the file records 0.5 µm per pixel; the given 0.25 µm (2x smaller) was used"
    for res in (measure_intercepts(mic, pixel_size_um=0.25),
                measure_grain_size(mic, mask=True, pixel_size_um=0.25)):
        assert told in res.warnings and res.pixel_size_um == 0.25
    for agreeing in (None, 0.5, 0.502):  # the file's own, or within 1 %
        res = measure_grain_size(mic, mask=True, pixel_size_um=agreeing)
        assert not any("the file records" in w for w in res.warnings)
    capsys.readouterr()
    assert main(["heyn", str(p), "--pixel-size-um", "0.25", "--json"]) == 0
    assert any(told in w for w in json.loads(capsys.readouterr().out)["warnings"])


def test_the_api_that_writes_a_given_pixel_size_tells_a_different_one(tmp_path, capsys):
    """``super_resolve(micrograph, pixel_size_um=0.25)`` and ``predict_boundaries`` of a
    file calibrated at 0.5 µm wrote stores at half the file's scale without a word, while
    ``srmat sr run`` / ``srmat edges predict --pixel-size-um 0.25`` (and the measurements
    and plan_rescan, in their ``warnings``) told it: the warning was the commands' own.
    The jobs warn now (a ``UserWarning``), and the commands tell it once, as before."""
    import json
    import warnings

    from napari_srmat import predict_boundaries, super_resolve
    from napari_srmat.cli import main
    from napari_srmat.io import read_image

    rng = np.random.default_rng(0)
    p = tmp_path / "cal.png"
    Image.fromarray((rng.random((40, 48, 3)) * 255).astype(np.uint8)).save(
        p, dpi=(25400 / 0.5, 25400 / 0.5))
    mic = read_image(p)
    told = "the file records 0.5 µm per pixel; the given 0.25 µm (2x smaller) was used"
    tiling = {"tile": 32, "overlap": 8}
    calls = {
        "super_resolve": lambda px, out: super_resolve(mic, "bicubic", scale=2,
                                                       pixel_size_um=px, out=out),
        "predict_boundaries": lambda px, out: predict_boundaries(
            mic, pixel_size_um=px, out=out, scale_check=False, **tiling),
    }
    for name, call in calls.items():
        with pytest.warns(UserWarning, match=told.replace("(", r"\(").replace(")", r"\)")):
            call(0.25, tmp_path / f"{name}_given")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for agreeing in (None, 0.5, 0.502):  # the file's own, or within 1 %
                call(agreeing, None)
        assert not [w for w in caught if "the file records" in str(w.message)], name
    capsys.readouterr()
    for argv in (["sr", "run", str(p), str(tmp_path / "x2.ome.zarr"), "--model", "bicubic",
                  "--scale", "2"],
                 ["edges", "predict", str(p), "--out", str(tmp_path / "maps"), "--tile",
                  "32", "--overlap", "8", "--device", "cpu"]):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # a repeated warning is told each time
            assert main([*argv, "--pixel-size-um", "0.25", "--json"]) == 0
        assert [str(w.message) for w in caught].count(told) == 1, argv[0]
        assert json.loads(capsys.readouterr().out)["warnings"].count(told) == 1, argv[0]


def test_boundary_maps_of_non_square_pixels_keep_both_sizes(tmp_path):
    """``predict_boundaries(micrograph, out=...)`` of a file with 0.25 µm (Y) x 0.5 µm
    (X) pixels wrote prob/uncertainty stores calibrated 0.5 µm in both directions."""
    import warnings

    import torch

    from napari_srmat.checkpoint import save_checkpoint
    from napari_srmat.edges.infer import load_boundary_model, predict_boundaries
    from napari_srmat.edges.model import UAEDNet, default_arch_config

    torch.manual_seed(0)
    save_checkpoint(tmp_path / "ck", UAEDNet("tiny").state_dict(),
                    {**default_arch_config("tiny"), "threshold": 0.5})
    model = load_boundary_model(tmp_path / "ck", device="cpu")
    img = (np.random.default_rng(1).random((64, 48)) * 255).astype(np.uint8)
    path = tmp_path / "ns.tif"  # 20000 px/cm in X (0.5 µm), 40000 in Y (0.25 µm)
    tifffile.imwrite(path, img, resolution=(20000, 40000), resolutionunit="CENTIMETER")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reader's one "not square" line
        mic = read_image(path)
        for _ in range(2):  # the second run finds the same identity: complete, reused
            paths = predict_boundaries(mic, model, tile=64, overlap=16,
                                       out=tmp_path / "maps", previews=False)
        maps = [read_image(p) for p in paths[:2]]
    for m in maps:
        assert m.pixel_size_yx_um == pytest.approx((0.25, 0.5)) and not m.square_pixels


def test_zero_centred_float_images_are_refused():
    """A float image shifted to zero mean (``img / 255 - 0.5``) lies inside the overshoot
    slack [-0.5, 1.5]: it was read with every dark pixel as a negative intensity, without
    an error. Real overshoot (bicubic SR of a dark-bounded micrograph) still passes."""
    import napari_srmat as srmat

    ms = srmat.generate_microstructure((64, 64), mean_grain_size_px=12, seed=0)
    right = ms.image.astype(np.float32) / 255
    centred = right - 0.5
    assert centred.min() >= -0.5 and centred.max() <= 0.5  # inside the slack
    for call in (lambda: srmat.super_resolve(centred, "bicubic"),
                 lambda: srmat.predict_boundaries(centred),
                 lambda: srmat.measure_grain_size(centred)):
        with pytest.raises(ValueError, match=r"image is a float image with values in "
                                             r"-0\.\d+\.\.0\.\d+, \d+% of them negative.*"
                                             r"zero-centred"):
            call()
    check_pixel_values(centred + 0.5)
    from skimage.transform import rescale

    lines = np.ones((64, 64), np.float32)  # 3 px black lines on white: a third black
    for k in range(3):
        lines[k::16] = lines[:, k::16] = 0
    overshoot = rescale(lines, 4, order=3, clip=False)  # cubic spline, not clipped
    undershoot = np.mean(overshoot < -NEGATIVE_FLOAT_TOLERANCE)
    assert 0.05 < undershoot < NEGATIVE_FLOAT_FRACTION
    check_pixel_values(overshoot)


def test_a_float_probability_map_in_0_255_is_refused_by_the_mask_rule():
    """A float boundary map held in 0..255 was thresholded as it was: almost every pixel
    >= 0.5, then refused downstream as "66 % boundary" without the reason (the Boundary
    mask tab, srmat heyn --threshold). The mask rule applies the float rule first."""
    import napari_srmat as srmat

    prob = np.zeros((64, 64), np.float32)
    prob[:, ::8] = 0.9
    prob[:, 1::8] = 0.3
    good = as_bool_mask(prob, threshold=0.5)
    assert good.sum() == 8 * 64
    for scaled in (prob * 255, prob - 0.5):
        with pytest.raises(MaskError, match=r"^boundary map is a float image with values in "
                                            r"-?[\d.]+\.\.[\d.]+.*float images must be in "
                                            r"\[0, 1\]"):
            as_bool_mask(scaled, threshold=0.5, name="boundary map")
        with pytest.raises(ValueError, match="float images must be in"):
            srmat.measure_grain_size(scaled, mask=True, threshold=0.5)


def test_a_float_0_255_mask_gets_one_answer_with_or_without_a_threshold():
    """A float32 mask of 0/255 was told "give a threshold" without one and "divide by
    255" with one: advice in a circle. Both now say divide by 255; divided, it is a
    0/1 mask. A probability map measured with a threshold records it in the result."""
    import napari_srmat as srmat

    mask = np.zeros((64, 64), np.float32)
    mask[:, ::8] = 255
    for threshold in (None, 0.5):
        with pytest.raises(MaskError, match=r"values in 0\.\.255: .*divide by 255"):
            as_bool_mask(mask, threshold=threshold, name="boundary mask")
    assert as_bool_mask(mask / 255).sum() == 8 * 64
    prob = np.where(mask > 0, np.float32(0.8), np.float32(0.1))
    res = srmat.measure_grain_size(prob, mask=True, threshold=0.5)
    assert (res.threshold, res.threshold_rule) == (0.5, "fixed")
    assert srmat.measure_grain_size(mask / 255, mask=True).threshold is None


def test_sr_fidelity_follows_the_float_rule():
    """evaluate_sr_pair (srmat sr eval) cast float images as they were: a 0..255 float pair
    gave PSNR -8 dB, a zero-centred pair 41 dB, silently (the audit refused the same
    files)."""
    import napari_srmat as srmat
    from napari_srmat.metrics.sr import evaluate_sr_pair

    ms = srmat.generate_microstructure((64, 64), mean_grain_size_px=12, seed=0)
    hr = ms.image.astype(np.float32) / 255
    noisy = np.clip(hr + np.random.default_rng(0).normal(0, 0.05, hr.shape), 0, 1)
    assert 20 < evaluate_sr_pair(hr, noisy, 2)["psnr_y"] < 40
    for bad in (noisy * 255, noisy - 0.5):
        with pytest.raises(ValueError, match="float images must be in"):
            evaluate_sr_pair(hr, bad, 2)


def test_the_api_takes_a_given_yx_pixel_size_and_tells_a_different_one(tmp_path):
    """``super_resolve(micrograph, pixel_size_um=(0.4, 0.8))`` (the SR widget's call for a
    layer with non-square pixels) failed since the given-size warning moved into the
    library: 'pixel_size_um must be a finite positive number ..., got (0.4, 0.8)', the
    warning's check taking one size only. A (Y, X) pair is written as before, and it is
    told when it differs from the file's."""
    import warnings

    from napari_srmat import super_resolve
    from napari_srmat.io import read_image

    rng = np.random.default_rng(0)
    p = tmp_path / "cal.png"
    Image.fromarray((rng.random((40, 48)) * 255).astype(np.uint8)).save(
        p, dpi=(25400 / 0.5, 25400 / 0.5))
    mic = read_image(p)
    with pytest.warns(UserWarning, match=r"the file records 0.5 µm per pixel; the given "
                                         r"\(Y, X\) = \(0.4, 0.8\) µm was used"):
        sr = super_resolve(mic, "bicubic", scale=2, pixel_size_um=(0.4, 0.8),
                           out=tmp_path / "yx.ome.zarr")
    with pytest.warns(UserWarning, match="pixels are not square"):  # the reader's note
        assert read_image(tmp_path / "yx.ome.zarr").pixel_size_yx_um == pytest.approx(
            (0.2, 0.4))
    assert sr is not None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        super_resolve(mic, "bicubic", scale=2, pixel_size_um=(0.5, 0.5))
    assert not [w for w in caught if "the file records" in str(w.message)]
