"""Tests of napari_srmat.io: readers, pixel sizes, OME-Zarr writers, data-set helpers."""

from __future__ import annotations

import io
import json
import os
import re
import warnings

import numpy as np
import pytest
import tifffile
import zarr
from _ctrl_c import (  # noqa: F401
    SWAP_MOMENTS,
    ctrl_c_in_deletion,
    ctrl_c_in_swap,
    python_ctrl_c,
    second_rename_fails,
)
from PIL import Image

from napari_srmat._napari_io import read_micrograph
from napari_srmat.cli import main as cli_main
from napari_srmat.io import (
    GIVE_PIXEL_SIZE,
    MAP_SUFFIXES,
    ImageReadError,
    OmeZarrStreamWriter,
    StreamMismatchError,
    default_n_levels,
    image_info,
    images_by_stem,
    list_pairs,
    read_grey_or_rgb_float,
    read_image,
    read_mask,
    write_ome_zarr,
)
from napari_srmat.jobs import JobCancelled, StopToken
from napari_srmat.outputs import OutputLockedError


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _rgb(rng, h=300, w=200, dtype=np.uint8):
    top = np.iinfo(dtype).max
    return (rng.random((h, w, 3)) * top).astype(dtype)


# --------------------------------------------------------------------------- TIFF


def test_bigtiff_tiled_lazy(tmp_path, rng):
    a = _rgb(rng, 700, 500)
    p = tmp_path / "big.tif"
    tifffile.imwrite(p, a, bigtiff=True, photometric="rgb", tile=(256, 256))
    m = read_image(p, chunks=256)
    assert m.metadata["bigtiff"] and m.format == "bigtiff"
    assert m.axes == "YXC" and m.shape == (700, 500, 3)
    assert m.data.chunks[0][0] == 256 and m.data.chunks[2] == (3,)
    np.testing.assert_array_equal(m.data.compute(), a)
    assert m.pixel_size_um is None  # no resolution tags


def test_ome_tiff_pixel_size_and_levels(tmp_path, rng):
    a = _rgb(rng, 512, 384)
    p = tmp_path / "img.ome.tif"
    with tifffile.TiffWriter(p, ome=True) as w:
        w.write(a, photometric="rgb", tile=(128, 128), subifds=1,
                metadata={"axes": "YXS", "PhysicalSizeX": 250.0, "PhysicalSizeXUnit": "nm"})
        w.write(a[::2, ::2], photometric="rgb", tile=(128, 128), subfiletype=1)
    m = read_image(p)
    assert m.format == "ome-tiff"
    assert m.pixel_size_um == pytest.approx(0.25)
    assert m.n_levels == 2 and m.levels[1].shape == (256, 192, 3)
    np.testing.assert_array_equal(m.levels[1].compute(), a[::2, ::2])


def test_ome_tiff_channel_first_moved_last(tmp_path, rng):
    a = _rgb(rng, 64, 80)
    p = tmp_path / "cyx.ome.tif"
    tifffile.imwrite(p, np.moveaxis(a, -1, 0)[None], ome=True, metadata={"axes": "ZCYX"})
    m = read_image(p)
    assert m.axes == "YXC" and m.shape == (64, 80, 3)
    np.testing.assert_array_equal(m.data.compute(), a)


def test_imagej_tiff_resolution_16bit_grey(tmp_path, rng):
    a = (rng.random((120, 90)) * 65535).astype(np.uint16)
    p = tmp_path / "ij.tif"
    tifffile.imwrite(p, a, imagej=True, resolution=(2.0, 2.0), metadata={"unit": "um"})
    m = read_image(p)
    assert m.axes == "YX" and m.dtype == np.uint16
    assert m.pixel_size_um == pytest.approx(0.5)
    np.testing.assert_array_equal(m.data.compute(), a)


def test_tiff_resolution_units(tmp_path, rng):
    a = _rgb(rng, 32, 32)[..., 0]
    p = tmp_path / "cm.tif"
    tifffile.imwrite(p, a, resolution=(10000, 10000), resolutionunit="CENTIMETER")
    assert read_image(p).pixel_size_um == pytest.approx(1.0)
    p = tmp_path / "inch.tif"
    tifffile.imwrite(p, a, resolution=(25400, 25400), resolutionunit="INCH")
    assert read_image(p).pixel_size_um == pytest.approx(1.0)
    p = tmp_path / "dpi72.tif"
    tifffile.imwrite(p, a, resolution=(72, 72), resolutionunit="INCH")
    assert read_image(p).pixel_size_um is None  # software default, not a calibration
    p = tmp_path / "nounit.tif"
    tifffile.imwrite(p, a, resolution=(5, 5), resolutionunit="NONE")
    assert read_image(p).pixel_size_um is None


def test_imagej_inch_follows_the_dpi_rule(tmp_path):
    """Fiji keeps a 72 dpi JPEG's 'calibration' in inches: ImageJ unit=inch at 72 dpi
    was read as 352.8 µm per pixel where the same TIFF tags are ignored as a default."""
    a = np.zeros((20, 30), np.uint8)
    for dpi, px in ((72, None), (96, None), (300, None), (5080, 5.0)):
        p = tmp_path / f"ij_inch_{dpi}.tif"
        tifffile.imwrite(p, a, imagej=True, resolution=(dpi, dpi), metadata={"unit": "inch"})
        plain = tmp_path / f"inch_{dpi}.tif"
        tifffile.imwrite(plain, a, resolution=(dpi, dpi), resolutionunit="INCH")
        assert read_image(p).pixel_size_um == read_image(plain).pixel_size_um == (
            None if px is None else pytest.approx(px))


def test_imagej_y_unit_converts_the_y_size(tmp_path):
    """ImageJ writes ``yunit=`` when the Y unit differs from ``unit`` (X); the Y size was
    converted with the X unit: square 0.5 µm pixels with Y in nm were 'not square (Y
    500 µm)' and lost their µm figures, and X 0.5 µm by Y 0.5 nm was read as square."""
    a = np.zeros((20, 30), np.uint8)
    cases = {"square": ((2.0, 1 / 500), "nm", None),  # Y 500 nm = 0.5 µm
             "not_square": ((2.0, 2.0), "nm", [0.0005, 0.5]),
             "y_unit_unknown": ((2.0, 2.0), "pixel", None)}
    for name, (resolution, yunit, yx) in cases.items():
        p = tmp_path / f"{name}.tif"
        tifffile.imwrite(p, a, imagej=True, resolution=resolution,
                         metadata={"unit": "um", "yunit": yunit})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            m = read_image(p)
        said = " ".join(str(w.message) for w in caught)
        if name == "y_unit_unknown":  # no pixel size, the unit named
            assert m.pixel_size_um is None and "unit 'pixel' is not a length unit" in said
            continue
        assert m.pixel_size_um == pytest.approx(0.5), name
        assert m.metadata.get("pixel_size_yx_um") == (
            None if yx is None else pytest.approx(yx)), name
        assert ("not square" in said) == (yx is not None), name


def test_imagej_free_text_units(tmp_path):
    """ImageJ's unit is what the user typed in Set Scale, written with non-ASCII
    characters escaped: "micrometers", "nanometers" and Greek "\\u03BCm" gave no pixel
    size, and an unknown unit ("furlong") lost it without the warning OME files get."""
    a = np.zeros((20, 30), np.uint8)
    cases = {"micrometers": 0.5, "Nanometres": 0.0005, "millimeters": 500.0,
             "\\u03BCm": 0.5, "\\u00B5m": 0.5, "micron": 0.5, "furlong": None,
             "pixel": None}
    for i, (unit, px) in enumerate(cases.items()):
        p = tmp_path / f"u{i}.tif"
        tifffile.imwrite(p, a, imagej=True, resolution=(2.0, 2.0), metadata={"unit": unit})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            m = read_image(p)
        assert m.pixel_size_um == (None if px is None else pytest.approx(px)), unit
        unknown = [str(w.message) for w in caught if "not a length unit" in str(w.message)]
        assert len(unknown) == (unit == "furlong"), (unit, unknown)


def test_dpi_defaults_saved_in_centimetres_are_ignored(tmp_path):
    """72 dpi written as 28.35 px/cm (image editors set to centimetres) was read as a
    352.8 um pixel where the same default in inches is ignored."""
    a = np.zeros((20, 30), np.uint8)
    for px_per_cm, px in ((72 / 2.54, None), (28.35, None), (96 / 2.54, None),
                          (300 / 2.54, None), (40000, 0.25)):
        p = tmp_path / "cm.tif"
        tifffile.imwrite(p, a, resolution=(px_per_cm, px_per_cm), resolutionunit="CENTIMETER")
        assert read_image(p).pixel_size_um == (None if px is None else pytest.approx(px))


def test_tiff_squeezes_singletons_and_rejects_stacks(tmp_path, rng):
    a = (rng.random((1, 1, 40, 50)) * 255).astype(np.uint8)
    p = tmp_path / "tz.ome.tif"
    tifffile.imwrite(p, a, ome=True, metadata={"axes": "TZYX"})
    assert read_image(p).shape == (40, 50)
    p = tmp_path / "stack.ome.tif"
    tifffile.imwrite(p, np.zeros((5, 40, 50), np.uint8), ome=True, metadata={"axes": "ZYX"})
    with pytest.raises(ImageReadError, match=r"a stack of 5 focal planes, not one image"):
        read_image(p)
    # a plain multi-page TIFF: tifffile's axis "Q" was the whole message ("Q=5"), then
    # "5 pages (Q)" and "singleton T/Z": letters a metallurgist does not read
    p = tmp_path / "pages.tif"
    tifffile.imwrite(p, np.zeros((5, 40, 50), np.uint8))
    with pytest.raises(ImageReadError, match=r"pages.tif: a stack of 5 pages, not one "
                                             r"image; .* save the image to measure as a file"
                       ) as refused:
        read_image(p)
    said = str(refused.value)
    assert not re.search(r"\b[A-Z]\b|[A-Z]/[A-Z]", said.split(": ", 1)[1]), said
    assert "one time point and one focal plane" in said and "\n" not in said



def test_tiff_with_several_images_reads_the_largest_and_warns(tmp_path, rng):
    """A preview page before the micrograph is never measured in its place silently."""
    micrograph = _rgb(rng, 60, 80)
    p = tmp_path / "preview_first.tif"
    with tifffile.TiffWriter(p) as tif:
        tif.write(np.zeros((16, 20), np.uint8), photometric="minisblack",
                  resolution=(1, 1), resolutionunit="CENTIMETER")
        tif.write(micrograph, photometric="rgb", resolution=(20000, 20000),
                  resolutionunit="CENTIMETER")
    with pytest.warns(UserWarning, match=r"holds 2 images .*reading image 2, the largest"):
        m = read_image(p)
    np.testing.assert_array_equal(np.asarray(m.data), micrograph)
    assert m.pixel_size_um == pytest.approx(0.5)  # the read image's own resolution tags
    assert m.metadata["tiff_series"] == 1
    single = tmp_path / "single.tif"
    tifffile.imwrite(single, micrograph, photometric="rgb")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_image(single).metadata["tiff_series"] == 0


# --------------------------------------------------------------------------- PNG/JPEG


def test_png_rgb_phys(tmp_path, rng):
    a = _rgb(rng, 50, 60)
    p = tmp_path / "a.png"
    Image.fromarray(a).save(p, dpi=(25400 / 0.8, 25400 / 0.8))  # pHYs in px per metre
    m = read_image(p)
    assert m.format == "png" and m.axes == "YXC"
    assert m.pixel_size_um == pytest.approx(0.8, rel=1e-3)
    np.testing.assert_array_equal(m.data.compute(), a)
    p2 = tmp_path / "nophys.png"
    Image.fromarray(a).save(p2)
    assert read_image(p2).pixel_size_um is None


def test_png_16bit_grey_and_rgba(tmp_path, rng):
    a = (rng.random((40, 30)) * 65535).astype(np.uint16)
    p = tmp_path / "g16.png"
    Image.fromarray(a).save(p)
    m = read_image(p)
    assert m.dtype == np.uint16 and m.axes == "YX"
    np.testing.assert_array_equal(m.data.compute(), a)
    rgba = np.dstack([_rgb(rng, 20, 20), np.full((20, 20), 255, np.uint8)])
    p = tmp_path / "rgba.png"
    Image.fromarray(rgba).save(p)
    assert read_image(p).shape == (20, 20, 3)


def test_png_16bit_colour_keeps_16_bits(tmp_path, rng):
    """Pillow reads a 16-bit RGB(A) PNG as 8 bits per channel (the high bytes): the
    micrograph lost its bit depth without a word."""
    imagecodecs = pytest.importorskip("imagecodecs")
    rgb = (rng.random((30, 40, 3)) * 65535).astype(np.uint16)
    p = tmp_path / "rgb16.png"
    p.write_bytes(imagecodecs.png_encode(rgb))
    m = read_image(p)
    assert m.dtype == np.uint16 and m.axes == "YXC"
    np.testing.assert_array_equal(np.asarray(m.data), rgb)
    p = tmp_path / "rgba16.png"
    p.write_bytes(imagecodecs.png_encode(np.dstack([rgb, np.full((30, 40), 65535, np.uint16)])))
    m = read_image(p)
    assert m.shape == (30, 40, 3) and m.metadata["alpha_dropped"]
    np.testing.assert_array_equal(np.asarray(m.data), rgb)
    cut = tmp_path / "cut16.png"
    cut.write_bytes(p.read_bytes()[:200])
    with pytest.raises(ImageReadError, match="cut16.png: cannot decode PNG image"):
        read_image(cut)


def _png_with_phys(path, a, x: int, y: int, unit: int):
    """A PNG of ``a`` with a pHYs chunk (``x``, ``y`` pixels per unit, ``unit`` 0: none,
    an aspect ratio; 1: metre) right after its header (Pillow writes unit 1 only)."""
    import struct
    import zlib

    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="png")
    png = buf.getvalue()
    body = b"pHYs" + struct.pack(">IIB", x, y, unit)
    chunk = struct.pack(">I", 9) + body + struct.pack(">I", zlib.crc32(body))
    path.write_bytes(png[:33] + chunk + png[33:])  # signature (8) + IHDR (25)
    return path


def _jfif_unit_0(path):
    """Set the JFIF APP0 density unit of the JPEG at ``path`` to 0 (an aspect ratio only:
    Pillow writes a unit only with ``dpi``); its X and Y densities are kept."""
    data = bytearray(path.read_bytes())
    data[data.index(b"JFIF\x00") + 7] = 0  # units, then X and Y density (2 bytes each)
    path.write_bytes(bytes(data))
    with Image.open(path) as im:  # what the reader sees: no unit, an aspect ratio
        assert im.info["jfif_unit"] == 0
    return path


def _jpeg_with_jfif_aspect(path, a, x: int, y: int, unit: int):
    """A JPEG of ``a`` whose JFIF density is ``x``, ``y`` pixels per unit, ``unit`` 0
    (none, an aspect ratio; the signature of :func:`_png_with_phys`)."""
    assert unit == 0
    Image.fromarray(a).save(path, format="jpeg", dpi=(x, y))
    return _jfif_unit_0(path)


@pytest.mark.parametrize("suffix, make, record", [
    ("png", _png_with_phys, "PNG pHYs chunk"),
    ("jpg", _jpeg_with_jfif_aspect, "JPEG JFIF header")])
def test_an_aspect_ratio_of_pixels_that_are_not_square_is_told(tmp_path, rng, suffix,
                                                                make, record):
    """A PNG whose pHYs, or JPEG whose JFIF density, has no unit (0: an aspect ratio only)
    and different X and Y values says its pixels are not square: it was read as square
    without a word (the PNG until f575501). Now one warning says so in words, naming the
    record (no pixel size either way); an even aspect (the usual 1:1) says nothing."""
    a = rng.integers(0, 255, (20, 30), np.uint8)
    p = make(tmp_path / f"aspect.{suffix}", a, 2000, 1000, 0)
    with pytest.warns(UserWarning) as caught:
        m = read_image(p)
    said = [str(w.message) for w in caught if f"aspect.{suffix}" in str(w.message)]
    assert len(said) == 1, said
    assert re.search(rf"aspect.{suffix}: its {record} says its pixels are not square: "
                     r"each is 2 times as high as wide.*no length unit", said[0]), said[0]
    assert m.pixel_size_um is None and "\n" not in said[0]
    even = make(tmp_path / f"even.{suffix}", a, 1, 1, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_image(even).pixel_size_um is None


def test_a_jfif_aspect_ratio_that_the_exif_sizes_have_says_nothing_more(tmp_path):
    """A JFIF aspect ratio (unit 0) of 2:1 beside an EXIF calibration of 0.5 x 0.25 µm
    pixels (the same aspect, per-axis sizes that the reader keeps, with their own
    warning) needs no second word about the JFIF header."""
    x, y, unit = 0x011A, 0x011B, 0x0128
    p = tmp_path / "exif.jpg"
    _jpeg_with_exif(p, {x: 20000.0, y: 40000.0, unit: 3}, dpi=(1, 2))
    _jfif_unit_0(p)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert read_image(p).metadata["pixel_size_yx_um"] == pytest.approx([0.25, 0.5])
    assert [w for w in caught if "pixels are not square" in str(w.message)]
    assert not [w for w in caught if "JFIF" in str(w.message)]


@pytest.mark.filterwarnings("ignore:.*of its pixels are transparent")
def test_tiff_alpha_is_dropped_as_for_png(tmp_path, rng):
    """An RGBA or grey + alpha TIFF kept its alpha (4 or 2 channels: napari drew the
    micrograph transparent, or as two layers) where the same PNG is read as RGB / grey."""
    rgb = _rgb(rng, 30, 40)
    alpha = np.full((30, 40), 255, np.uint8)
    alpha[:5] = 0
    p = tmp_path / "rgba.tif"
    tifffile.imwrite(p, np.dstack([rgb, alpha]), photometric="rgb", extrasamples=["unassalpha"])
    m = read_image(p)
    assert m.axes == "YXC" and m.shape == (30, 40, 3) and m.metadata["alpha_dropped"]
    np.testing.assert_array_equal(np.asarray(m.data), rgb)
    p = tmp_path / "grey_alpha.tif"
    tifffile.imwrite(p, np.dstack([rgb[..., 0], alpha]), photometric="minisblack",
                     extrasamples=["assocalpha"])
    m = read_image(p)
    assert m.axes == "YX" and m.shape == (30, 40)
    np.testing.assert_array_equal(np.asarray(m.data), rgb[..., 0])
    png = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([rgb, alpha])).save(png)
    assert read_image(png).shape == read_image(tmp_path / "rgba.tif").shape


def test_channels_that_are_not_grey_or_rgb_are_told_once(tmp_path, rng):
    """A two-detector TIFF (two channels, no alpha marked) was measured and
    super-resolved from channel 0 without a word (the channel rule takes channel 0 of
    an ``(H, W, 2)`` image, and the first three of four or more)."""
    two = tmp_path / "two.tif"
    tifffile.imwrite(two, rng.integers(0, 255, (30, 40, 2), dtype=np.uint8),
                     photometric="minisblack", planarconfig="contig")
    with pytest.warns(UserWarning, match=r"two.tif: 2 channels .* only channel 0 is used"):
        m = read_image(two)
    assert m.shape == (30, 40, 2) and len(m.metadata["read_warnings"]) == 1
    five = tmp_path / "five.tif"
    tifffile.imwrite(five, rng.integers(0, 255, (30, 40, 5), dtype=np.uint8),
                     photometric="minisblack", planarconfig="contig")
    with pytest.warns(UserWarning, match=r"5 channels .* channels 0-2 are used as RGB"):
        read_image(five)
    rgb = tmp_path / "rgb.tif"
    tifffile.imwrite(rgb, _rgb(rng, 30, 40), photometric="rgb")
    marked = tmp_path / "grey_alpha.tif"  # a marked, opaque alpha is dropped: nothing
    grey_alpha = rng.integers(0, 255, (30, 40, 2), dtype=np.uint8)  # to tell
    grey_alpha[..., 1] = 255
    tifffile.imwrite(marked, grey_alpha, photometric="minisblack",
                     extrasamples=["unassalpha"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_image(rgb).shape == (30, 40, 3)
        assert read_image(marked).shape == (30, 40)


@pytest.mark.parametrize("mode", ["P", "CMYK", "miniswhite"])
def test_tiff_palette_cmyk_and_white_is_zero_read_as_they_look(tmp_path, rng, mode):
    """A palette TIFF was read as its colour indices (a grey image of numbers), a CMYK
    TIFF as four channels shown as RGB + alpha, a white-is-zero TIFF inverted: now the
    pixels are those Pillow (and every viewer) shows, as for a palette PNG."""
    rgb = _rgb(rng, 30, 40)
    p = tmp_path / f"{mode}.tif"
    if mode == "miniswhite":
        tifffile.imwrite(p, rgb[..., 0], photometric="miniswhite")
    else:
        im = Image.fromarray(rgb)
        (im.quantize(16) if mode == "P" else im.convert(mode)).save(p)
    shown = np.asarray(Image.open(p).convert("L" if mode == "miniswhite" else "RGB"))
    m = read_image(p)
    assert m.shape == shown.shape and m.dtype == np.uint8
    np.testing.assert_array_equal(np.asarray(m.data), shown)


def test_a_bool_mask_saved_by_tifffile_is_read_as_written(tmp_path):
    """tifffile writes every bool array as 1-bit white-is-zero; the white-is-zero rule
    inverted it, so a boundary mask became its complement (97 % "boundary")."""
    from napari_srmat.io import read_mask

    mask = np.zeros((64, 64), bool)
    mask[32, :] = True
    mask[:, 20] = True
    tifffile.imwrite(tmp_path / "mask.tif", mask)
    assert tifffile.TiffFile(tmp_path / "mask.tif").pages[0].photometric == 0  # miniswhite
    np.testing.assert_array_equal(np.asarray(read_image(tmp_path / "mask.tif").data) > 0, mask)
    np.testing.assert_array_equal(read_mask(tmp_path / "mask.tif"), mask)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_an_imagej_inverting_lut_mask_is_read_as_stored(tmp_path, dtype):
    """ImageJ saves a binary mask with its inverting LUT (the default, "black
    background" off) as white-is-zero with the boundary stored as 255: the display
    inversion read every such mask as its complement (~90 % "boundary", "not a boundary
    map"). A mask is its stored values; the image stays as viewers show it."""
    from napari_srmat.io import open_mask_file, read_mask

    mask = np.zeros((64, 64), bool)
    mask[::16, :] = True
    mask[:, 5::16] = True
    stored = mask.astype(dtype) * np.iinfo(dtype).max
    path = tmp_path / "ij_mask.tif"
    tifffile.imwrite(path, stored, photometric="miniswhite", imagej=dtype == np.uint8)
    np.testing.assert_array_equal(read_mask(path), mask)
    opened = open_mask_file(path)
    np.testing.assert_array_equal(np.asarray(opened.data), stored)
    assert "photometric" not in opened.metadata
    np.testing.assert_array_equal(np.asarray(read_image(path).data), ~stored)  # as shown
    # a file already opened is read from (not opened again), by the same rule: the
    # stored values also from the Micrograph read_image shows inverted
    for mic in (opened, read_image(path)):
        np.testing.assert_array_equal(read_mask(mic), mask)


@pytest.mark.parametrize("dtype", [np.float32, np.int16])
def test_a_white_is_zero_tiff_the_reader_does_not_invert_is_read_as_stored(tmp_path, dtype):
    """Only unsigned/bool white-is-zero grey is inverted for display; a float (a
    probability map) or signed one is shown as stored, so a mask reader must not
    'undo' an inversion that never happened (it read 0.9 as 4.29e9, or overflowed)."""
    from napari_srmat.io import open_mask_file

    stored = np.zeros((16, 16), dtype)
    stored[4, :] = 1
    path = tmp_path / "wiz.tif"
    tifffile.imwrite(path, stored, photometric="miniswhite")
    np.testing.assert_array_equal(np.asarray(read_image(path).data), stored)
    np.testing.assert_array_equal(np.asarray(open_mask_file(path).data), stored)


def test_tiff_pixel_size_of_the_image_read_and_of_every_unit(tmp_path):
    """An OME-TIFF holding an overview before the micrograph gave the overview's pixel
    size (20x too large) or none; ResolutionUnit mm / µm (which tifffile writes) gave
    none without a word; an OME unit not known gave none without a word."""
    g, thumb = np.zeros((256, 320), np.uint16), np.zeros((32, 40), np.uint16)
    for name, overview in (("a", {"PhysicalSizeX": 10.0, "PhysicalSizeY": 10.0}), ("b", {})):
        with tifffile.TiffWriter(tmp_path / f"{name}.ome.tif", ome=True) as tw:
            tw.write(thumb, metadata={"axes": "YX", **overview})
            tw.write(g, metadata={"axes": "YX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5})
        with pytest.warns(UserWarning, match="holds 2 images"):
            m = read_image(tmp_path / f"{name}.ome.tif")
        assert m.shape == (256, 320) and m.pixel_size_um == pytest.approx(0.5)
    # an overview listed in the OME-XML without data in this file (one file of a set):
    # tifffile makes no series of it, so it is no image to count
    tifffile.imwrite(tmp_path / "m.ome.tif", g[:48, :64], ome=True, metadata={
        "axes": "YX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5, "Name": "micrograph"})
    with tifffile.TiffFile(tmp_path / "m.ome.tif") as tif:
        xml = tif.ome_metadata
    at = xml.index("<Image ")
    xml = (xml[:at] + '<Image ID="Image:9" Name="overview"><Pixels ID="Pixels:9" '
           'DimensionOrder="XYCZT" Type="uint16" SizeX="10" SizeY="10" SizeC="1" SizeZ="1" '
           'SizeT="1" PhysicalSizeX="20" PhysicalSizeY="20"/></Image>' + xml[at:])
    tifffile.imwrite(tmp_path / "m2.ome.tif", g[:48, :64], description=xml.encode(),
                     metadata=None)
    assert read_image(tmp_path / "m2.ome.tif").pixel_size_um == pytest.approx(0.5)
    for unit, res in (("MILLIMETER", 2000), ("MICROMETER", 2)):
        tifffile.imwrite(tmp_path / f"{unit}.tif", g[:64, :80], resolution=(res, res),
                         resolutionunit=unit)
        assert read_image(tmp_path / f"{unit}.tif").pixel_size_um == pytest.approx(0.5)
    tifffile.imwrite(tmp_path / "ft.ome.tif", g[:64, :80], ome=True, metadata={
        "axes": "YX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5,
        "PhysicalSizeXUnit": "ft", "PhysicalSizeYUnit": "ft"})
    with pytest.warns(UserWarning, match="unit 'ft' is not a length unit"):
        assert read_image(tmp_path / "ft.ome.tif").pixel_size_um is None
    # the resolution tags give a size: no word about the unit's
    tifffile.imwrite(tmp_path / "ft2.ome.tif", g[:64, :80], ome=True,
                     resolution=(20000, 20000), resolutionunit="CENTIMETER", metadata={
                         "axes": "YX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5,
                         "PhysicalSizeXUnit": "ft", "PhysicalSizeYUnit": "ft"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_image(tmp_path / "ft2.ome.tif").pixel_size_um == pytest.approx(0.5)


def test_jpeg_exif_orientation_is_told_and_pixels_read_as_stored(tmp_path):
    """A camera held upright writes sideways pixels and EXIF orientation 6. The pixels
    are read as stored (as napari's own reader, scikit-image and ImageJ read them, so a
    mask drawn on the image in those tools lines up); a warning says that photo viewers
    show it turned."""
    a = np.zeros((40, 60, 3), np.uint8)
    a[:10, :10] = 255  # a white corner, top left as stored
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    p = tmp_path / "upright.jpg"
    im.save(p, exif=exif, quality=95)
    with pytest.warns(UserWarning, match=r"EXIF orientation \(6\).*turned 90° clockwise"):
        m = read_image(p)
    assert m.shape == (40, 60, 3)
    d = np.asarray(m.data).mean(axis=2)
    assert d[:10, :10].mean() > 200  # top left, as stored
    Image.fromarray(a).save(tmp_path / "plain.jpg", quality=95)  # no tag: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_image(tmp_path / "plain.jpg")


def test_jpeg(tmp_path, rng):
    a = np.full((64, 48, 3), 120, np.uint8)
    p = tmp_path / "a.jpg"
    Image.fromarray(a).save(p, quality=95, dpi=(300, 300))
    m = read_image(p)
    assert m.format == "jpeg" and m.shape == (64, 48, 3) and m.dtype == np.uint8
    assert np.abs(m.data.compute().astype(int) - 120).max() <= 2
    assert m.pixel_size_um is None  # JFIF dpi is a print resolution


def _jpeg_with_exif(path, exif_tags: dict, dpi=None) -> None:
    """A JPEG whose EXIF holds ``exif_tags`` (Pillow writes JFIF density units 0, an
    aspect ratio, unless ``dpi`` is given)."""
    exif = Image.Exif()
    for tag, value in exif_tags.items():
        exif[tag] = value
    extra = {} if dpi is None else {"dpi": dpi}
    Image.fromarray(np.zeros((32, 40), np.uint8)).save(path, exif=exif.tobytes(), **extra)


def test_jpeg_exif_resolution_follows_the_tiff_rule(tmp_path):
    """A JPEG's EXIF resolution came through Pillow's ``dpi``, which reads ResolutionUnit
    1 (no absolute unit) as inches and drops YResolution: 20000 px per no-unit was read
    as 1.27 µm per pixel, and 0.5 x 0.25 µm pixels as square 0.5 µm (ℓ̄ in µm and G
    wrong along Y, without a word); an EXIF without a unit (inches, as in TIFF) lost its
    calibration. The EXIF now follows the TIFF tags' rule."""
    x, y, unit = 0x011A, 0x011B, 0x0128
    cases = {"unit1": ({x: 20000.0, y: 20000.0, unit: 1}, None, None),
             "cm": ({x: 20000.0, y: 20000.0, unit: 3}, 0.5, None),
             "no_unit_tag": ({x: 50800.0, y: 50800.0}, 0.5, None),
             "non_square": ({x: 20000.0, y: 40000.0, unit: 3}, 0.5, [0.25, 0.5]),
             "print": ({x: 300.0, y: 300.0, unit: 2}, None, None)}
    for name, (tags, px, yx) in cases.items():
        p = tmp_path / f"{name}.jpg"
        _jpeg_with_exif(p, tags)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            m = read_image(p)
        assert m.pixel_size_um == (None if px is None else pytest.approx(px)), name
        assert m.metadata.get("pixel_size_yx_um") == (
            None if yx is None else pytest.approx(yx)), name
        assert any("not square" in str(w.message) for w in caught) == (yx is not None)
        tifffile.imwrite(tmp_path / f"{name}.tif", np.zeros((32, 40), np.uint8),
                         resolution=(tags[x], tags[y]),
                         resolutionunit=tags.get(unit, 2))
        with warnings.catch_warnings(record=True) as caught_tif:  # the same warning
            warnings.simplefilter("always")
            tif = read_image(tmp_path / f"{name}.tif")
        assert m.pixel_size_yx_um == tif.pixel_size_yx_um
        assert any("not square" in str(w.message) for w in caught_tif) == (yx is not None)


def test_jpeg_jfif_and_exif_calibrations_that_disagree_give_no_pixel_size(tmp_path):
    """The JFIF density was taken and a different EXIF calibration ignored without a
    word; which of the two is right is unknown: no pixel size, one warning naming both.
    Agreeing ones, and an EXIF print resolution beside a JFIF calibration, are not
    ambiguous."""
    x, y, unit = 0x011A, 0x011B, 0x0128
    exif_um = {x: 30000.0, y: 30000.0, unit: 3}  # 1/3 µm per pixel
    cases = {"disagree": (50800, exif_um, None, "0.5 µm per pixel, its EXIF 0.333333 µm"),
             "print_jfif": (96, exif_um, None, "96 dpi (a print or screen resolution), "
                                                "its EXIF 0.333333 µm"),
             "agree": (50800, {x: 20000.0, y: 20000.0, unit: 3}, pytest.approx(0.5), None),
             "print_exif": (50800, {x: 72.0, y: 72.0, unit: 2}, pytest.approx(0.5), None)}
    for name, (dpi, tags, px, said) in cases.items():
        p = tmp_path / f"{name}.jpg"
        _jpeg_with_exif(p, tags, dpi=(dpi, dpi))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            m = read_image(p)
        assert m.pixel_size_um == px, name
        texts = [str(w.message) for w in caught if "JFIF" in str(w.message)]
        if said is None:
            assert texts == [], name
        else:
            assert len(texts) == 1 and said in texts[0] and GIVE_PIXEL_SIZE in texts[0], texts


def test_a_missing_pixel_size_is_told_in_words_every_reader_can_act_on(tmp_path):
    """The notes stored with a file or a rescan plan before anyone knows who reads them
    listed every caller's option at once ('pixel_size_um= / --pixel-size-um / the Pixel
    size widget', four copies in the reader; 'a layer scale in µm' in the plan's): each
    reader got two others' words. They now say the one thing all three call alike,
    io.GIVE_PIXEL_SIZE ('give the pixel size (µm per pixel)'), from one constant."""
    from napari_srmat.io import pixel_size_note
    from napari_srmat.sr.rescan import NO_PIXEL_SIZE_NOTE

    a = np.zeros((32, 40), np.uint8)
    files = {"dpi": tmp_path / "dpi.png", "range": tmp_path / "range.png",
             "jfif": tmp_path / "jfif.jpg", "unit": tmp_path / "unit.tif"}
    Image.fromarray(a).save(files["dpi"], dpi=(300, 300))  # a print resolution
    Image.fromarray(a).save(files["range"], dpi=(0.0254, 0.0254))  # 1 px per metre
    _jpeg_with_exif(files["jfif"], {0x011A: 30000.0, 0x011B: 30000.0, 0x0128: 3},
                    dpi=(50800, 50800))  # JFIF 0.5 µm, EXIF 1/3 µm: which is unknown
    tifffile.imwrite(files["unit"], a, imagej=True, resolution=(2.0, 2.0),
                     metadata={"unit": "furlong"})
    notes = {}
    for name, p in files.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            m = read_image(p)
        assert m.pixel_size_um is None, name
        told = [str(w.message) for w in caught] + [pixel_size_note(m) or ""]
        notes[name] = [t for t in told if "pixel size" in t and GIVE_PIXEL_SIZE in t]
    notes["plan"] = [NO_PIXEL_SIZE_NOTE]
    assert GIVE_PIXEL_SIZE == "give the pixel size (µm per pixel)"
    for name, said in notes.items():
        assert said, name  # each says what to do ...
        for text in said:  # ... without another caller's words
            assert not any(w in text for w in ("pixel_size_um=", "--pixel-size-um",
                                               "widget", "layer scale")), (name, text)


def test_a_jfif_density_of_zero_leaves_the_exif_calibration(tmp_path):
    """A JFIF header in inches or centimetres with a density of 0 (the JFIF spec forbids
    it; some writers leave it) records no resolution, so the EXIF one stands: it was
    taken for a second calibration, the file lost its pixel size and the warning said
    "its JFIF header records None dpi (a print or screen resolution)"."""
    x, y, unit = 0x011A, 0x011B, 0x0128
    for jfif_unit in (1, 2):  # inch, cm
        p = tmp_path / f"zero_{jfif_unit}.jpg"
        _jpeg_with_exif(p, {x: 20000.0, y: 40000.0, unit: 3}, dpi=(50800, 50800))
        data = bytearray(p.read_bytes())
        at = data.index(b"JFIF\x00") + 7  # units, then X and Y density (2 bytes each)
        data[at:at + 5] = bytes([jfif_unit, 0, 0, 0, 0])
        p.write_bytes(bytes(data))
        with Image.open(p) as im:  # what the reader sees: a unit, a density of 0
            assert (im.info["jfif_unit"], im.info["jfif_density"]) == (jfif_unit, (0, 0))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            m = read_image(p)
        assert m.pixel_size_um == pytest.approx(0.5)
        assert m.metadata["pixel_size_yx_um"] == pytest.approx([0.25, 0.5])
        assert not [w for w in caught if "JFIF" in str(w.message)]


def test_one_dpi_rule_for_every_format(tmp_path, capsys):
    """A 300 dpi PNG or TIFF export was read as 84.67 µm per pixel (every ℓ̄ in µm and G
    wrong, without a word) while the same 300 dpi in a JPEG was ignored, and a JPEG from
    software that writes its calibration in JFIF lost it. One rule now: a conventional
    print or scan resolution (PRINT_RESOLUTIONS_DPI, in inches or centimetres) is no
    calibration, said so where the pixel size is missing; any other is one, in every
    format; mm and µm units are lengths given on purpose."""
    from napari_srmat.cli import main
    from napari_srmat.io import pixel_size_note, read_mask
    from napari_srmat.io._read import PRINT_RESOLUTIONS_DPI

    a = np.zeros((64, 64), np.uint8)
    a[:, 5::16] = 255
    a[5::16, :] = 255
    files = {}
    for dpi in (150, 300, 2400, 508, 50800):
        for suffix in ("png", "jpg"):
            files[dpi, suffix] = p = tmp_path / f"{dpi}.{suffix}"
            Image.fromarray(a).save(p, dpi=(dpi, dpi), **({"quality": 100} if suffix == "jpg"
                                                        else {}))
        files[dpi, "tif"] = p = tmp_path / f"{dpi}.tif"
        tifffile.imwrite(p, a, resolution=(dpi / 2.54, dpi / 2.54), resolutionunit="CENTIMETER")
    for (dpi, _), p in files.items():
        m = read_image(p)
        if dpi not in PRINT_RESOLUTIONS_DPI:  # 508 dpi: a 50 µm calibration
            assert m.pixel_size_um == pytest.approx(25400 / dpi, rel=1e-3), p
            assert pixel_size_note(m) is None
        else:
            assert m.pixel_size_um is None, p
            assert m.metadata["print_resolution_dpi"] == dpi
            assert f"records {dpi} dpi, a print or screen resolution" in pixel_size_note(m)
    # a length in µm (TIFF/EP unit 5) is not a dpi, however large the pixel
    tifffile.imwrite(tmp_path / "um.tif", a, resolution=(0.05, 0.05),
                     resolutionunit="MICROMETER")
    assert read_image(tmp_path / "um.tif").pixel_size_um == pytest.approx(20.0)
    # the measurements say why µm and G are missing
    notes: list[str] = []
    read_mask(files[300, "png"], notes=notes)
    assert notes == [pixel_size_note(read_image(files[300, "png"]))]
    assert main(["heyn", str(files[300, "tif"]), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["per_image"][0]
    assert row["mean_intercept_um"] is None and row["mean_intercept_px"] > 0
    assert "records 300 dpi, a print or screen resolution" in " ".join(row["warnings"])


# --------------------------------------------------------------------------- errors


def test_truncated_and_garbage_files(tmp_path, rng):
    a = _rgb(rng, 200, 200)
    png = tmp_path / "a.png"
    Image.fromarray(a).save(png)
    data = png.read_bytes()
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 2])
    jpg = tmp_path / "a.jpg"
    Image.fromarray(a).save(jpg)
    (tmp_path / "trunc.jpg").write_bytes(jpg.read_bytes()[:500])
    tif = tmp_path / "a.tif"
    tifffile.imwrite(tif, a, compression="zlib", tile=(64, 64))
    (tmp_path / "trunc.tif").write_bytes(tif.read_bytes()[: len(tif.read_bytes()) // 2])
    (tmp_path / "garbage.tif").write_bytes(b"II*\x00" + os.urandom(64))
    (tmp_path / "random.png").write_bytes(os.urandom(100))
    (tmp_path / "empty.jpg").write_bytes(b"")
    for name in ["trunc.png", "trunc.jpg", "trunc.tif", "garbage.tif", "random.png",
                 "empty.jpg", "missing.png"]:
        with pytest.raises(ImageReadError) as info:
            read_image(tmp_path / name)
        assert name in str(info.value)
    assert issubclass(ImageReadError, ValueError)


def test_a_tiff_cut_inside_its_offsets_is_truncated_not_black(tmp_path, capsys):
    """A TIFF cut inside its strip or tile offset array (a copy or download stopped
    early) was read as a black image of the right size, the pixel size intact, and
    `srmat info --verify` found every block readable; now it is refused as truncated."""
    from napari_srmat.cli import main

    a = np.full((256, 300), 200, np.uint8)
    for name, layout in (("strips.tif", {"rowsperstrip": 8}),
                         ("tiles.tif", {"tile": (32, 32)}),
                         ("pyramid.tif", {"tile": (32, 32), "subifds": 1})):
        whole = tmp_path / name
        with tifffile.TiffWriter(whole) as tw:
            tw.write(a, resolution=(20000, 20000), resolutionunit="CENTIMETER", **layout)
            if "subifds" in layout:
                tw.write(a[::2, ::2], subfiletype=1, tile=(32, 32))
        tif = tifffile.TiffFile(whole)
        offsets = tif.pages[0].tags["TileOffsets" if "tile" in layout else "StripOffsets"]
        tif.close()
        cut = tmp_path / f"cut_{name}"
        cut.write_bytes(whole.read_bytes()[:offsets.valueoffset + 4])  # inside the array
        with pytest.raises(ImageReadError, match="truncated or corrupt"):
            read_image(cut)
        assert main(["info", "--verify", str(cut)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "truncated or corrupt" in err
        np.testing.assert_array_equal(read_image(whole).data.compute(), a)


def test_a_tiff_compression_tifffile_does_not_know_is_named(tmp_path, capsys):
    """A TIFF whose Compression tag holds a code tifffile does not know failed with
    "cannot read TIFF ('int' object has no attribute 'name')", the reader's own slip;
    the error now names the code."""
    import struct

    from napari_srmat.cli import main

    p = tmp_path / "odd.tif"
    tifffile.imwrite(p, np.zeros((16, 16), np.uint8), compression="zlib")
    with tifffile.TiffFile(p) as tif:
        at = tif.pages[0].tags["Compression"].valueoffset
    data = bytearray(p.read_bytes())
    data[at:at + 2] = struct.pack("<H", 9999)
    p.write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match="9999") as info:
        read_image(p)
    assert "object has no attribute" not in str(info.value)
    assert main(["info", str(p)]) == 2
    assert "9999" in capsys.readouterr().err


def test_zarr_errors(tmp_path):
    g = zarr.open_group(tmp_path / "two.zarr", mode="w")
    g.create_array("a", shape=(4, 4), dtype="u1")
    g.create_array("b", shape=(4, 4), dtype="u1")
    with pytest.raises(ImageReadError, match="multiscales"):
        read_image(tmp_path / "two.zarr")
    (tmp_path / "notzarr").mkdir()
    with pytest.raises(ImageReadError):
        read_image(tmp_path / "notzarr")


# --------------------------------------------------------------------------- Zarr


def test_write_ome_zarr_refuses_an_image_file_name(tmp_path):
    """write_ome_zarr(img, "f.png") wrote a Zarr folder named f.png."""
    for name in ("f.png", "f.TIF", "f.jpg"):
        with pytest.raises(ValueError, match=r"writes an OME-Zarr folder.*f\.ome\.zarr"):
            write_ome_zarr(np.zeros((8, 8), np.uint8), tmp_path / name)
        assert not (tmp_path / name).exists()


def test_chunks_and_write_arguments_are_checked_up_front(tmp_path):
    """read_image(chunks="auto") failed with "invalid literal for int() with base 10: 'a'",
    chunks=1.5 with "'float' object is not iterable"; write_ome_zarr(data, None) with
    pathlib's "expected str, bytes or os.PathLike object"; n_levels=2.5 was truncated to
    2 (and checked only after every block was written); axes="CYX" on a channels-last
    (H, W, 3) array wrote an image of H channels; a 4-D array said "got 'YXC'"."""
    png = tmp_path / "a.png"
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(png)
    img = np.zeros((16, 16, 3), np.uint8)
    for bad in ("auto", 1.5, 0, (), True):
        with pytest.raises(ValueError, match=r"^chunks must be a positive integer or a tuple"):
            read_image(png, chunks=bad)
        with pytest.raises(ValueError, match=r"^chunks must be a positive integer or a tuple"):
            write_ome_zarr(img, tmp_path / "c.ome.zarr", chunks=bad)
    assert read_image(png, chunks=(8,)).data.chunks == ((8, 8), (8, 8))
    for bad in (None, img):
        with pytest.raises(TypeError, match=r"^path is .*write_ome_zarr\(data, path\)$"):
            write_ome_zarr(img, bad)
    with pytest.raises(ValueError, match=r"^n_levels must be an integer >= 1, got 2.5$"):
        write_ome_zarr(img, tmp_path / "n.ome.zarr", n_levels=2.5)
    with pytest.raises(ValueError, match=r"^axes='CYX' declares data channel-first .*"
                       r"shape \(16, 16, 3\)"):
        write_ome_zarr(img, tmp_path / "cyx.ome.zarr", axes="CYX")
    with pytest.raises(TypeError, match=r"^axes must be 'YX', 'YXC' or 'CYX'"):
        write_ome_zarr(img, tmp_path / "ax.ome.zarr", axes=3)
    with pytest.raises(ValueError, match=r"^data must be an \(H, W\) or \(H, W, C\) image, "
                       r"got shape \(2, 16, 16, 3\)$"):
        write_ome_zarr(np.stack([img, img]), tmp_path / "4d.ome.zarr")
    assert not list(tmp_path.glob("*.zarr*"))
    p = write_ome_zarr(np.moveaxis(img, -1, 0), tmp_path / "ok.ome.zarr", axes="CYX",
                       chunks=(8,))
    assert read_image(p).shape == (16, 16, 3)


def test_chunks_must_fit_the_datas_axes(tmp_path):
    """write_ome_zarr(grey, chunks=(16, 16, 16)) and the stream writer's chunks=(16, 16, 16)
    for (H, W) data were taken silently (the third entry ignored), as was a third entry
    of 0 or 2.5 for (H, W, C) data. A third entry is for data with channels only."""
    grey = np.zeros((32, 32), np.uint8)
    rgb = np.zeros((32, 32, 3), np.uint8)
    for data, bad in ((grey, (16, 16, 16)), (grey, (16, 16, 1)), (rgb, (16, 16, 3, 1))):
        with pytest.raises(ValueError, match=r"^chunks must give at most \d sizes .* for "
                           r"data of shape \(32, 32(, 3)?\), got \(16, 16, \d+(, 1)?\)$"):
            write_ome_zarr(data, tmp_path / "c.ome.zarr", chunks=bad)
        with pytest.raises(ValueError, match=r"^chunks must give at most"):
            OmeZarrStreamWriter(tmp_path / "w.ome.zarr", data.shape, data.dtype, chunks=bad)
    for bad in ((16, 16, 0), (16, 16, 2.5)):
        with pytest.raises(ValueError, match=r"^chunks must be a positive integer or a tuple"):
            write_ome_zarr(rgb, tmp_path / "c.ome.zarr", chunks=bad)
        with pytest.raises(ValueError, match=r"^chunks must be a positive integer or a tuple"):
            OmeZarrStreamWriter(tmp_path / "w.ome.zarr", rgb.shape, rgb.dtype, chunks=bad)
    assert not list(tmp_path.glob("*.zarr*"))
    p = write_ome_zarr(rgb, tmp_path / "rgb.ome.zarr", chunks=(16, 8, 3))
    assert zarr.open_group(str(p), mode="r")["0"].chunks == (3, 16, 8)
    p = write_ome_zarr(grey, tmp_path / "grey.ome.zarr", chunks=(8, 16))
    assert zarr.open_group(str(p), mode="r")["0"].chunks == (8, 16)


def test_ome_zarr_roundtrip(tmp_path, rng):
    a = _rgb(rng, 1100, 1300)
    p = write_ome_zarr(a, tmp_path / "a.ome.zarr", pixel_size_um=0.5, chunks=512)
    assert p == tmp_path / "a.ome.zarr"
    assert not (tmp_path / "a.ome.zarr.partial").exists()
    attrs = json.loads((p / ".zattrs").read_text())
    ms = attrs["multiscales"][0]
    assert ms["version"] == "0.4" and [ax["name"] for ax in ms["axes"]] == ["c", "y", "x"]
    assert json.loads((p / "0" / ".zarray").read_text())["dimension_separator"] == "/"
    m = read_image(p)
    assert m.n_levels == default_n_levels((1100, 1300)) == 3
    assert m.pixel_size_um == pytest.approx(0.5)
    assert m.axes == "YXC"
    np.testing.assert_array_equal(m.data.compute(), a)
    lvl1 = m.levels[1].compute().astype(float)
    expect = a.astype(float).reshape(550, 2, 650, 2, 3).mean(axis=(1, 3))
    assert np.abs(lvl1 - expect).max() <= 0.5 + 1e-9
    assert m.levels[2].shape == (275, 325, 3)
    # explicit levels, grey, odd size, overwrite
    g = (rng.random((301, 257)) * 65535).astype(np.uint16)
    with pytest.raises(FileExistsError):
        write_ome_zarr(g, p)
    write_ome_zarr(g, p, n_levels=2, overwrite=True)
    m = read_image(p)
    assert m.shape == (301, 257) and m.n_levels == 2 and m.levels[1].shape == (151, 129)
    assert m.pixel_size_um is None


def test_write_ome_zarr_dask_and_cancel(tmp_path):
    import dask.array as da

    x = da.arange(600 * 700, dtype=np.float32).reshape(600, 700) / (600 * 700)
    p = write_ome_zarr(x, tmp_path / "d.ome.zarr", chunks=256, n_levels=1)
    np.testing.assert_allclose(read_image(p).data.compute(), x.compute())
    token = StopToken()
    token.request_stop()
    with pytest.raises(JobCancelled):
        write_ome_zarr(x, tmp_path / "c.ome.zarr", chunks=256, stop=token)
    assert not (tmp_path / "c.ome.zarr").exists()
    assert not (tmp_path / "c.ome.zarr.partial").exists()


@pytest.mark.usefixtures("python_ctrl_c")
@pytest.mark.parametrize("at", SWAP_MOMENTS)
def test_a_ctrl_c_in_write_ome_zarr_s_swap_completes_it_and_goes_on(tmp_path, monkeypatch,
                                                                     at):
    """A Ctrl-C as write_ome_zarr swapped its finished store onto an earlier output
    (overwrite): between the swap's two renames the new store was deleted on the way
    out and the earlier one left hidden as .OUT.*.old (failed before: only
    .o.ome.zarr.*.old left, no output at OUT). The swap now runs whole with the press
    held, then the press goes on (the KeyboardInterrupt it is) over the complete new
    output, the lock free; the earlier store, left aside before its deletion (minutes
    for a large one), goes with the next writer."""
    from napari_srmat.outputs import OutputLock

    out = tmp_path / "o.ome.zarr"
    new = np.arange(40 * 50, dtype=np.uint16).reshape(40, 50)
    write_ome_zarr(new[::-1], out, chunks=16)
    with ctrl_c_in_swap(monkeypatch, out, at) as pressed, pytest.raises(KeyboardInterrupt):
        write_ome_zarr(new, out, chunks=16, overwrite=True)
    assert pressed
    np.testing.assert_array_equal(np.asarray(read_image(out).data), new)
    OutputLock(out).acquire().release()
    _the_earlier_store_left_aside_goes_with_the_next_writer(out, new)


def _the_earlier_store_left_aside_goes_with_the_next_writer(out, new):
    """A press stopped write_ome_zarr before the earlier store's deletion (which may take
    minutes): it is left aside as our ``.OUT.<8 hex>.old``, and the next writer of OUT
    removes it."""
    from napari_srmat._atomic import SWAPPED_OUT

    aside = sorted(set(os.listdir(out.parent)) - {out.name})
    assert len(aside) == 1 and SWAPPED_OUT.match(aside[0]), aside
    with OmeZarrStreamWriter(out, new.shape, new.dtype, chunks=16) as w:
        assert w.complete
    assert sorted(os.listdir(out.parent)) == [out.name]


@pytest.mark.usefixtures("python_ctrl_c")
def test_a_ctrl_c_while_write_ome_zarr_deletes_the_earlier_store_stops_at_once(
        tmp_path, monkeypatch):
    """A Ctrl-C while write_ome_zarr(overwrite=True) deleted the earlier store it had
    replaced waited for the deletion's end (minutes for a large SR store: it ran inside
    the swap's Ctrl-C hold; failed before: steps 'began', 'deleted', the KeyboardInterrupt
    only after). Only the swap's two renames hold Ctrl-C now: the press stops the
    deletion at once over the complete new store, the lock free, and the next writer
    removes what is left."""
    from napari_srmat.outputs import OutputLock

    out = tmp_path / "o.ome.zarr"
    new = np.arange(40 * 50, dtype=np.uint16).reshape(40, 50)
    write_ome_zarr(new[::-1], out, chunks=16)
    with ctrl_c_in_deletion(monkeypatch) as steps, pytest.raises(KeyboardInterrupt):
        write_ome_zarr(new, out, chunks=16, overwrite=True)
    assert steps == ["began"]
    np.testing.assert_array_equal(np.asarray(read_image(out).data), new)
    OutputLock(out).acquire().release()
    _the_earlier_store_left_aside_goes_with_the_next_writer(out, new)


@pytest.mark.parametrize("gone", ["deleted", "moved_away"])
def test_the_stream_writer_swaps_in_only_a_partial_still_there_and_finished(tmp_path, gone):
    """A finished OUT.partial deleted or moved away before swap_in: swap_in checked only
    that no manifest was there (finish() drops it), so it renamed the earlier OUT aside
    and then failed at the second rename, nothing at OUT (failed before: OSError, OUT
    missing, the earlier store aside). One rule now tells a finished store (the
    `finished` property, also abort's): swap_in refuses, OUT untouched."""
    import shutil

    out = tmp_path / "o.ome.zarr"
    earlier = np.arange(16 * 16, dtype=np.uint16).reshape(16, 16)
    write_ome_zarr(earlier, out, chunks=16)
    w = OmeZarrStreamWriter(out, (16, 16), np.uint16, chunks=16, overwrite=True)
    w.write_block((0, 0), None, earlier[::-1].copy())
    w.finish(1)
    if gone == "deleted":
        shutil.rmtree(w.partial)
    else:
        w.partial.rename(tmp_path / "elsewhere")
    with pytest.raises(RuntimeError, match="not finished .* moved away or deleted"):
        w.swap_in()
    assert not w.finished
    w.abort()
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["o.ome.zarr"] + (["elsewhere"] if gone == "moved_away" else []))
    np.testing.assert_array_equal(np.asarray(read_image(out).data), earlier)



def test_a_swap_failing_part_way_in_write_ome_zarr_keeps_the_finished_store(
        tmp_path, monkeypatch):
    """write_ome_zarr's swap failing after the earlier output was renamed aside (an
    OSError at the second rename): the finished new store was deleted on the way out
    (failed before: OUT.partial gone, only .o.ome.zarr.*.old left, which the next writer
    deletes). The finished store is kept, and the next writer of OUT moves it into
    place."""

    out = tmp_path / "o.ome.zarr"
    new = np.arange(40 * 50, dtype=np.uint16).reshape(40, 50)
    write_ome_zarr(new[::-1], out, chunks=16)
    with second_rename_fails(monkeypatch, out):
        write_ome_zarr(new, out, chunks=16, overwrite=True)
    assert (tmp_path / "o.ome.zarr.partial").is_dir() and not out.exists()
    with OmeZarrStreamWriter(out, new.shape, new.dtype, chunks=16) as w:
        assert w.complete
    assert sorted(os.listdir(tmp_path)) == ["o.ome.zarr"]
    np.testing.assert_array_equal(np.asarray(read_image(out).data), new)


@pytest.mark.parametrize("overwrite", [False, True])
@pytest.mark.parametrize("left", ["finished_store_in_partial", "earlier_store_aside_only"])
def test_write_ome_zarr_after_an_interrupted_swap_completes_or_undoes_it_first(
        tmp_path, monkeypatch, left, overwrite):
    """write_ome_zarr onto an OUT a replacement left half swapped: the finished new
    store in OUT.partial and the earlier one aside as .OUT.*.old (a second rename that
    failed), or the earlier one aside only (what a Ctrl-C there left before c92ea37).
    Before, the writer finished the swap (or deleted the .old copy, the only one) and
    then, without overwrite, wrote into a store it had not set up (failed before:
    AttributeError 'level0', a traceback; or the earlier store deleted and OUT written
    anew, with overwrite too without a word). Now the swap is finished, or the earlier
    store put back (said in a warning), then without overwrite the usual one-line
    refusal (OUT exists), with it OUT replaced as asked."""
    from napari_srmat.outputs import OutputExistsError

    out = tmp_path / "o.ome.zarr"
    new = np.arange(40 * 50, dtype=np.uint16).reshape(40, 50)
    write_ome_zarr(new[::-1], out, chunks=16)
    if left == "finished_store_in_partial":
        with second_rename_fails(monkeypatch, out):
            write_ome_zarr(new, out, chunks=16, overwrite=True)
        kept = new
    else:
        out.rename(tmp_path / ".o.ome.zarr.0a1b2c3d.old")
        kept = new[::-1]
    with warnings.catch_warnings(record=True) as told:
        warnings.simplefilter("always")
        if overwrite:
            write_ome_zarr(new * 0 + 7, out, chunks=16, overwrite=True)
            kept = new * 0 + 7
        else:
            with pytest.raises(OutputExistsError, match="already exists") as info:
                write_ome_zarr(new * 0 + 7, out, chunks=16)
            assert "\n" not in str(info.value)
    assert (left == "earlier_store_aside_only") == any("back in place" in str(w.message)
                                                       for w in told)
    assert sorted(os.listdir(tmp_path)) == ["o.ome.zarr"]
    np.testing.assert_array_equal(np.asarray(read_image(out).data), kept)


def test_two_earlier_stores_left_aside_are_told_and_kept(tmp_path):
    """Two earlier stores of ours aside as .OUT.<8 hex>.old and no OUT: the next writer
    deleted both (failed before: no error, both gone). Which is the earlier OUT cannot
    be told: neither is moved or deleted, and the write is refused in one line naming
    them."""
    import shutil

    from napari_srmat.outputs import OutputError

    out = tmp_path / "o.ome.zarr"
    write_ome_zarr(np.ones((40, 50), np.uint16), out, chunks=16)
    shutil.copytree(out, tmp_path / ".o.ome.zarr.9f8e7d6c.old")
    out.rename(tmp_path / ".o.ome.zarr.0a1b2c3d.old")
    with pytest.raises(OutputError, match=r"2 earlier versions.*0a1b2c3d.*9f8e7d6c") as info:
        write_ome_zarr(np.zeros((40, 50), np.uint16), out, chunks=16, overwrite=True)
    assert "\n" not in str(info.value)
    assert sorted(os.listdir(tmp_path)) == [".o.ome.zarr.0a1b2c3d.old",
                                            ".o.ome.zarr.9f8e7d6c.old"]


def test_ome_zarr_v05_zarr3(tmp_path, rng):
    a = (rng.random((3, 64, 80)) * 255).astype(np.uint8)
    g = zarr.open_group(tmp_path / "v5.ome.zarr", mode="w", zarr_format=3)
    g.create_array("s0", data=a, chunks=(3, 32, 32))
    g.create_array("s1", data=a[:, ::2, ::2], chunks=(3, 32, 32))
    g.attrs["ome"] = {
        "version": "0.5",
        "multiscales": [{
            "axes": [{"name": "c", "type": "channel"},
                     {"name": "y", "type": "space", "unit": "millimeter"},
                     {"name": "x", "type": "space", "unit": "millimeter"}],
            "datasets": [
                {"path": "s0", "coordinateTransformations": [
                    {"type": "scale", "scale": [1, 0.002, 0.002]}]},
                {"path": "s1", "coordinateTransformations": [
                    {"type": "scale", "scale": [1, 0.004, 0.004]}]},
            ],
        }],
    }
    m = read_image(tmp_path / "v5.ome.zarr")
    assert m.metadata["ngff_version"] == "0.5" and m.metadata["zarr_format"] == 3
    assert m.pixel_size_um == pytest.approx(2.0)
    assert m.axes == "YXC" and m.n_levels == 2
    np.testing.assert_array_equal(m.data.compute(), np.moveaxis(a, 0, -1))


def test_plain_zarr_array(tmp_path, rng):
    a = _rgb(rng, 90, 70)
    z = zarr.open_array(tmp_path / "plain.zarr", mode="w", shape=a.shape, chunks=(32, 32, 3),
                        dtype=a.dtype)
    z[:] = a
    m = read_image(tmp_path / "plain.zarr", chunks=64)
    assert m.format == "zarr" and m.axes == "YXC" and m.data.chunks[0][0] == 64
    np.testing.assert_array_equal(m.data.compute(), a)


def test_plain_zarr_arrays_of_more_than_4_planes(tmp_path):
    """Every 3-D array whose ends were both longer than 4 was read channel-first: a
    (10, H, W) Z-stack became a 10-channel image and an (H, W, 5) array a W x 5 px image
    of H channels. The shorter end axis is the extra one; axis names are used."""
    from napari_srmat.io import ImageReadError

    stack = zarr.create_array(tmp_path / "z.zarr", shape=(10, 64, 80), dtype="u1")
    stack[:] = 1
    with pytest.raises(ImageReadError, match="a stack of 10 focal planes"):
        read_image(tmp_path / "z.zarr")
    a = np.arange(64 * 80 * 5, dtype=np.uint32).reshape(64, 80, 5).astype(np.uint8)
    last = zarr.create_array(tmp_path / "c.zarr", shape=a.shape, dtype="u1")
    last[:] = a
    with pytest.warns(UserWarning, match="5 channels"):
        m = read_image(tmp_path / "c.zarr")
    assert m.shape == (64, 80, 5)
    np.testing.assert_array_equal(np.asarray(m.data), a)
    named = zarr.create_array(tmp_path / "n.zarr", shape=(5, 64, 80), dtype="u1",
                              dimension_names=("c", "y", "x"))
    named[:] = np.moveaxis(a, 2, 0)
    with pytest.warns(UserWarning, match="5 channels"):
        m = read_image(tmp_path / "n.zarr")
    np.testing.assert_array_equal(np.asarray(m.data), a)


# --------------------------------------------------------------------------- stream writer


def test_stream_writer_resume_and_mismatch(tmp_path, rng):
    a = _rgb(rng, 100, 130)
    p = tmp_path / "s.ome.zarr"
    w = OmeZarrStreamWriter(p, a.shape, a.dtype, chunks=(64, 64), attrs={"model": "x"})
    assert w.grid == (2, 3) and w.n_blocks == 6
    for b in list(w.iter_blocks())[:4]:
        ys, xs = w.block_slices(b)
        w.write_block(b, (ys, xs), a[ys, xs])
    del w  # crash
    assert not p.exists() and (tmp_path / "s.ome.zarr.partial").exists()
    # the setting in its user's words (s51; was "attrs.model: stored 'x' != requested 'y'")
    with pytest.raises(StreamMismatchError, match=r"\(model=x, this run y\); it is kept: "
                       r"give another output path, or rerun with model=x to resume") as e:
        OmeZarrStreamWriter(p, a.shape, a.dtype, chunks=(64, 64), attrs={"model": "y"})
    # the keyword in Python, the flag in srmat (both at once before)
    assert str(e.value).endswith("or pass resume=False to start over")
    assert e.value.cli_message.endswith("or pass --no-resume to start over")
    with pytest.raises(StreamMismatchError, match="chunks"):
        OmeZarrStreamWriter(p, a.shape, a.dtype, chunks=(32, 32), attrs={"model": "x"})
    w = OmeZarrStreamWriter(p, a.shape, a.dtype, chunks=(64, 64), attrs={"model": "x"})
    assert w.resumed and w.n_done() == 4 and w.is_done((1, 0)) and not w.is_done((1, 1))
    with pytest.raises(RuntimeError, match="not written"):
        w.finalize()
    for b in w.iter_blocks():
        if not w.is_done(b):
            w.write_block(b, None, a[w.block_slices(b)])
    out = w.finalize()
    m = read_image(out)
    np.testing.assert_array_equal(m.data.compute(), a)
    assert m.metadata["srmat"]["model"] == "x"
    assert not (tmp_path / "s.ome.zarr.partial").exists()
    # bookkeeping gone; the marker that makes the store recognisably ours stays
    assert [n for n in os.listdir(out) if n.startswith(".srmat")] == [".srmat_output.json"]
    # resume=False discards a stale partial
    w = OmeZarrStreamWriter(tmp_path / "t.ome.zarr", a.shape, a.dtype, chunks=(64, 64))
    w.write_block((0, 0), None, a[:64, :64])
    # a second writer of the same store is refused while the first holds the lock
    with pytest.raises(OutputLockedError, match="being written by process"):
        OmeZarrStreamWriter(tmp_path / "t.ome.zarr", a.shape, a.dtype, chunks=(64, 64))
    w.close()  # as if the first process had died
    w = OmeZarrStreamWriter(tmp_path / "t.ome.zarr", a.shape, a.dtype, chunks=(64, 64),
                            resume=False)
    assert w.n_done() == 0
    with pytest.raises(ValueError, match="shape"):
        w.write_block((0, 0), None, a[:10, :10])


# --------------------------------------------------------------------------- helpers / CLI


def test_list_pairs_and_mask(tmp_path, rng):
    for split in ("train",):
        (tmp_path / split / "images").mkdir(parents=True)
        (tmp_path / split / "masks").mkdir(parents=True)
    for name in ("b", "a"):
        Image.fromarray(_rgb(rng, 16, 16)).save(tmp_path / "train" / "images" / f"{name}.png")
        m = np.zeros((16, 16), np.uint8)
        m[4:6] = 255
        Image.fromarray(m).save(tmp_path / "train" / "masks" / f"{name}.png")
    pairs = list_pairs(tmp_path, "train")
    assert [p[0].stem for p in pairs] == ["a", "b"]
    mask = read_mask(pairs[0][1])
    assert mask.dtype == bool and mask.sum() == 32
    img = read_grey_or_rgb_float(pairs[0][0])
    assert img.dtype == np.float32 and img.shape == (16, 16, 3) and 0 <= img.min() <= img.max() <= 1
    Image.fromarray(_rgb(rng, 16, 16)).save(tmp_path / "train" / "images" / "c.png")
    with pytest.raises(ImageReadError, match="no mask for image"):
        list_pairs(tmp_path, "train")
    with pytest.raises(ImageReadError, match="not found"):
        list_pairs(tmp_path, "val")


@pytest.mark.parametrize("image, mask", [("s1.ome.tif", "s1.png"), ("s1.ome.tiff", "s1.tif"),
                                         ("s1.ome.tif", "s1.ome.tif")])
def test_an_ome_tiff_pairs_by_the_stem_of_an_ome_zarr(tmp_path, rng, image, mask):
    """The stem of s1.ome.zarr was s1 and that of s1.ome.tif s1.ome: an OME-TIFF scan
    paired neither with its mask s1.png (training, edges eval, three-arm: 'no mask for
    image(s) s1.ome') nor with an s1.ome.zarr map. One stem rule now (io.image_stem: the
    name less its suffix and an .ome before it), also the sample's name in reports."""
    from napari_srmat.edges.data import list_image_mask_pairs, load_pairs

    for folder in ("images", "masks"):
        (tmp_path / "train" / folder).mkdir(parents=True)
    tifffile.imwrite(tmp_path / "train" / "images" / image, _rgb(rng, 16, 16))
    m = np.zeros((16, 16), np.uint8)
    m[4:6] = 255
    if mask.endswith(".tif"):
        tifffile.imwrite(tmp_path / "train" / "masks" / mask, m)
    else:
        Image.fromarray(m).save(tmp_path / "train" / "masks" / mask)
    pairs = [(p.name, q.name) for p, q in list_pairs(tmp_path, "train")]
    assert pairs == [(image, mask)]
    root = tmp_path / "train"
    found = list_image_mask_pairs(root / "images", root / "masks")
    assert [(p.name, q.name) for p, q in found] == pairs
    assert [s.name for s in load_pairs(found)] == ["s1"]
    # a map store of srmat edges predict pairs with the OME-TIFF (srmat eval-maps' rule)
    write_ome_zarr(m, tmp_path / "s1.ome.zarr")
    maps = images_by_stem(tmp_path, suffixes=MAP_SUFFIXES)
    assert list(maps) == ["s1"] and list(images_by_stem(root / "images")) == ["s1"]


def test_cli_info(tmp_path, rng, capsys):
    p = write_ome_zarr(_rgb(rng, 64, 64), tmp_path / "a.ome.zarr", pixel_size_um=0.3)
    assert cli_main(["info", str(p), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["shape"] == [64, 64, 3] and info["pixel_size_um"] == pytest.approx(0.3)
    assert info["n_levels"] == 1 and info["format"] == "ome-zarr" and info["axes"] == "YXC"
    assert cli_main(["info", str(p)]) == 0
    assert "pixel size:  0.3 µm" in capsys.readouterr().out
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"not an image at all")
    assert cli_main(["info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.tif" in err and "Traceback" not in err


@pytest.mark.realdata
def test_real_data(shared_data):
    png = sorted((shared_data / "tbm" / "train" / "images").glob("*.png"))[0]
    m = read_image(png)
    assert m.shape == (256, 256, 3) and m.dtype == np.uint8
    jpg = sorted((shared_data / "scans").glob("*.jpg"))[0]
    info = image_info(jpg)
    assert info["format"] == "jpeg" and info["shape"][2] == 3 and min(info["shape"][:2]) > 500
    pairs = list_pairs(shared_data / "tbm", "val")
    assert len(pairs) == 6
    mask = read_mask(pairs[0][1])
    assert mask.shape == (256, 256) and 0.01 < mask.mean() < 0.5


def test_a_folder_that_is_no_zarr_store_is_told_as_a_folder(tmp_path):
    """Passing a folder of masks (srmat heyn masks/) said 'not a readable Zarr store (No
    group found in store StorePath(LocalStore, ...) at path '')'; a folder without Zarr
    metadata is now told as a folder, with what to give instead."""
    from PIL import Image

    from napari_srmat.io import ImageReadError, image_info, read_image, read_mask

    folder = tmp_path / "masks"
    folder.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(folder / "a.png")
    for read in (read_image, read_mask, image_info):
        with pytest.raises(ImageReadError) as info:
            read(folder)
        message = str(info.value)
        assert f"{folder} is a folder, not an image file or a Zarr store" in message
        assert "StorePath" not in message and f"{folder}/*.png" in message


# ------------------------------------------------------------ non-square pixels

NON_SQUARE = "pixels are not square (X 0.5 µm, Y 0.25 µm)"


def _read_warned(path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = read_image(path)
    return m, [str(w.message) for w in caught]


def _non_square_files(tmp_path, img):
    """The same 0.5 µm (X) by 0.25 µm (Y) pixels in every format that records both."""
    tifffile.imwrite(tmp_path / "res.tif", img, resolution=(20000, 40000),
                     resolutionunit="CENTIMETER")  # pixels per cm
    tifffile.imwrite(tmp_path / "inch.tif", img, resolution=(50800, 101600),
                     resolutionunit="INCH")
    tifffile.imwrite(tmp_path / "ome.ome.tif", img,
                     metadata={"axes": "YX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.25})
    tifffile.imwrite(tmp_path / "ij.tif", img, imagej=True, resolution=(2.0, 4.0),
                     metadata={"unit": "um"})
    Image.fromarray(img).save(tmp_path / "dpi.png", dpi=(50800, 101600))
    g = zarr.open_group(str(tmp_path / "scale.ome.zarr"), mode="w", zarr_format=2)
    g.create_array("0", data=img, chunks=(32, 32))
    g.attrs["multiscales"] = [{"version": "0.4", "axes": [
        {"name": "y", "type": "space", "unit": "micrometer"},
        {"name": "x", "type": "space", "unit": "micrometer"}], "datasets": [
        {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [0.25, 0.5]}]}]}]
    # only x (or only y) names its unit: the other's scale is in it (x alone: y's was
    # ignored, square pixels of the x size; y alone: no pixel size, no scale, no word)
    for named in "xy":
        g = zarr.open_group(str(tmp_path / f"{named}_unit.ome.zarr"), mode="w",
                            zarr_format=2)
        g.create_array("0", data=img, chunks=(32, 32))
        g.attrs["multiscales"] = [{"version": "0.4", "axes": [
            {"name": ax, "type": "space", **({"unit": "nanometer"} if ax == named else {})}
            for ax in "yx"], "datasets": [{"path": "0", "coordinateTransformations": [
                {"type": "scale", "scale": [250, 500]}]}]}]
    return ["res.tif", "inch.tif", "ome.ome.tif", "ij.tif", "dpi.png", "scale.ome.zarr",
            "x_unit.ome.zarr", "y_unit.ome.zarr"]


def test_non_square_pixels_keep_x_record_both_and_warn_once(tmp_path):
    """A file with rectangular pixels was read as square (its X size) without a word."""
    img = np.zeros((64, 48), np.uint8)
    img[::8] = 255
    for name in _non_square_files(tmp_path, img):
        m, told = _read_warned(tmp_path / name)
        assert m.pixel_size_um == pytest.approx(0.5), name  # X, as before
        assert m.metadata["pixel_size_yx_um"] == pytest.approx([0.25, 0.5]), name
        assert m.pixel_size_yx_um == pytest.approx((0.25, 0.5)) and not m.square_pixels
        assert len(told) == 1 and NON_SQUARE in told[0] and name in told[0], (name, told)
        with pytest.warns(UserWarning, match="not square"):
            info = image_info(tmp_path / name)
        assert info["metadata"]["pixel_size_yx_um"] == pytest.approx([0.25, 0.5])


def test_a_new_pixel_size_of_non_square_pixels_is_refused_not_ignored(tmp_path):
    """m.pixel_size_um = 0.3 on a Micrograph whose file records non-square pixels was kept
    and never used: its (Y, X) sizes win, so the image still measured in px only, without
    a word. It is now refused (ValueError naming both sizes and what to do instead); the
    same value, square pixels, and a Micrograph whose pair was removed take it as before."""
    from napari_srmat.io import Micrograph, image_data

    tifffile.imwrite(tmp_path / "rect.tif", np.zeros((32, 32), np.uint8),
                     resolution=(20000, 40000), resolutionunit="CENTIMETER")
    m, _ = _read_warned(tmp_path / "rect.tif")
    assert not m.square_pixels
    with pytest.raises(ValueError, match=r"pixels are not square \(Y 0\.25 µm, X 0\.5 µm\)"
                       r".*give pixel_size_um= to the measurement"):
        m.pixel_size_um = 0.3
    assert m.pixel_size_um == pytest.approx(0.5) and image_data(m)[1] is None
    m.pixel_size_um = m.pixel_size_um  # unchanged: nothing to refuse
    m.metadata.pop("pixel_size_yx_um")
    m.pixel_size_um = 0.3
    assert image_data(m)[1] == 0.3 and m.square_pixels
    square = Micrograph(np.zeros((4, 4)), pixel_size_um=0.5)
    square.pixel_size_um = 0.2
    assert image_data(square)[1] == 0.2


def test_square_and_nearly_square_pixels_read_as_before(tmp_path):
    img = np.zeros((32, 32), np.uint8)
    tifffile.imwrite(tmp_path / "sq.tif", img, resolution=(20000, 20000),
                     resolutionunit="CENTIMETER")
    # within SQUARE_PIXEL_TOLERANCE (1 %): rounding of a calibration, not a shape
    tifffile.imwrite(tmp_path / "near.tif", img, resolution=(20000, 20100),
                     resolutionunit="CENTIMETER")
    for name in ("sq.tif", "near.tif"):
        m, told = _read_warned(tmp_path / name)
        assert m.pixel_size_um == pytest.approx(0.5) and m.square_pixels and not told
        assert "pixel_size_yx_um" not in m.metadata
        assert m.pixel_size_yx_um == (m.pixel_size_um, m.pixel_size_um)


def test_srmat_info_says_pixels_are_not_square(tmp_path, capsys):
    img = np.zeros((64, 48), np.uint8)
    _non_square_files(tmp_path, img)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert cli_main(["info", str(tmp_path / "res.tif")]) == 0
        out = capsys.readouterr().out
        assert cli_main(["info", str(tmp_path / "res.tif"), "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
    [line] = [s for s in out.splitlines() if s.startswith("pixel size:")]
    assert NON_SQUARE in line
    assert info["pixel_size_um"] == pytest.approx(0.5)
    assert info["metadata"]["pixel_size_yx_um"] == pytest.approx([0.25, 0.5])


def test_write_ome_zarr_keeps_non_square_pixels_per_axis(tmp_path):
    """A Micrograph whose pixels are not square was refused (an OME-Zarr held one pixel
    size); its (Y, X) sizes are now written as a per-axis scale and read back as such."""
    img = np.zeros((64, 48), np.uint8)
    img[::8] = 255
    _non_square_files(tmp_path, img)
    m, _ = _read_warned(tmp_path / "res.tif")
    p = write_ome_zarr(m, tmp_path / "out.ome.zarr", n_levels=2)
    back, told = _read_warned(p)
    assert back.pixel_size_yx_um == pytest.approx((0.25, 0.5)) and not back.square_pixels
    assert len(told) == 1 and NON_SQUARE in told[0]
    np.testing.assert_array_equal(np.asarray(back.data), img)
    scales = [d["coordinateTransformations"][0]["scale"]
              for d in zarr.open_group(str(p), mode="r").attrs["multiscales"][0]["datasets"]]
    assert scales == [pytest.approx([0.25, 0.5]), pytest.approx([0.5, 1.0])]
    # a pair given explicitly; a nearly square pair is one size (the readers' rule)
    p2 = write_ome_zarr(img, tmp_path / "pair.ome.zarr", pixel_size_um=(0.3, 0.6))
    with pytest.warns(UserWarning, match="not square"):
        assert read_image(p2).pixel_size_yx_um == pytest.approx((0.3, 0.6))
    p3 = write_ome_zarr(img, tmp_path / "near.ome.zarr", pixel_size_um=(0.5, 0.501))
    near = read_image(p3)
    assert near.square_pixels and near.pixel_size_um == pytest.approx(0.501)
    with pytest.raises(ValueError, match=r"\(Y, X\) pair"):
        write_ome_zarr(img, tmp_path / "three.ome.zarr", pixel_size_um=(0.5, 0.5, 0.5))


@pytest.mark.parametrize("multiscales, told", [
    ("garbage", 'expected a list of objects, got "garbage"'),
    (["garbage"], "expected a list of objects"),
    ({"a": 1}, "expected a list of objects"),
    ([{"datasets": [1, 2]}], "'datasets' must be objects with a 'path'"),
    ([{"axes": [1, 2], "datasets": [{"path": "0"}]}], "'axes' must be names or objects"),
    ([{"axes": ["y", "x"], "datasets": [
        {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": "x"}]}]}],
     "bad 'coordinateTransformations'"),
    ([{"datasets": [{"path": "missing"}]}], "dataset 'missing' is missing"),
])
def test_damaged_multiscales_metadata_is_a_read_error(tmp_path, multiscales, told):
    """An OME-Zarr whose 'multiscales' attribute was not a list of objects (or whose
    datasets, axes or transformations were of the wrong kind) crashed every command that
    read it: `srmat info` said 'internal error: AttributeError: 'str' object has no
    attribute 'get'' (exit 1), a missing dataset 'internal error: KeyError'. It is the
    file's fault: one ImageReadError naming the file, exit 2."""
    for key in ("multiscales", "ome"):  # NGFF 0.4 (Zarr v2) and 0.5 (under "ome")
        path = tmp_path / f"{key}.ome.zarr"
        g = zarr.open_group(str(path), mode="w", zarr_format=2)
        g.create_array("0", shape=(16, 16), dtype="u1")
        g.attrs[key] = multiscales if key == "multiscales" else {
            "version": "0.5", "multiscales": multiscales}
        with pytest.raises(ImageReadError) as info:
            read_image(path)
        assert str(path) in str(info.value) and told in str(info.value)
        assert cli_main(["info", str(path)]) == 2


def test_scale_transformations_given_by_path_are_not_damage(tmp_path):
    """NGFF lets a transformation name a file of values ("path") instead of "scale": such
    a store is read (without a pixel size), not refused as damaged."""
    path = tmp_path / "p.ome.zarr"
    g = zarr.open_group(str(path), mode="w", zarr_format=2)
    g.create_array("0", shape=(16, 16), dtype="u1")
    g.attrs["multiscales"] = [{"version": "0.4", "axes": ["y", "x"], "datasets": [
        {"path": "0", "coordinateTransformations": [{"type": "scale", "path": "s"}]}]}]
    assert read_image(path).data.shape == (16, 16)


@pytest.mark.parametrize("dtype", [np.complex64, "U3"])
def test_files_whose_pixels_are_not_numbers_are_a_read_error(tmp_path, capsys, dtype):
    """A Zarr array (or .npy mask) of complex numbers or text was read, and the pixel rule
    refused it later as a programming error: `srmat heyn`/`sr run` said 'internal error:
    TypeError: ... has dtype complex64' (exit 1). It is the file's fault: one
    ImageReadError naming the file, exit 2."""
    from napari_srmat.io import read_mask

    z = zarr.open_array(str(tmp_path / "a.zarr"), mode="w", shape=(16, 16), dtype=dtype,
                        zarr_format=2)
    np.save(tmp_path / "m.npy", np.zeros((16, 16), dtype))
    for path, read in ((tmp_path / "a.zarr", read_image), (tmp_path / "m.npy", read_mask)):
        with pytest.raises(ImageReadError, match=f"^{path}: pixels of dtype .* are not an "
                           "image"):
            read(path)
        assert cli_main(["heyn", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "internal error" not in err and str(path) in err
    assert z.shape == (16, 16)


@pytest.mark.parametrize("shape", [(), (50,), (1, 2, 40, 40)])
@pytest.mark.parametrize("command", [["heyn"], ["grain-size", "--mask"]])
def test_a_npy_mask_that_is_no_image_array_is_one_read_error(tmp_path, capsys, shape,
                                                             command):
    """A .npy mask of 0 or 1 dimension (a saved scalar, a profile) reached the memory
    plan of `srmat heyn`, which indexed its rows: 'internal error: IndexError: tuple
    index out of range' (exit 1; failed before), and each command worded the other
    shapes its own way. The one rule is open_mask_file's: 'PATH: a boundary mask is an
    (H, W) or (H, W, C) array, got shape ()', exit 2."""
    from napari_srmat.io import read_mask

    path = tmp_path / "m.npy"
    np.save(path, np.zeros(shape, bool))
    with pytest.raises(ImageReadError, match=re.escape(f"{path}: a mask is an (H, W) or "
                                                       f"(H, W, C) array, got shape {shape}")):
        read_mask(path)
    assert cli_main([*command, str(path)]) == 2
    assert capsys.readouterr().err == (f"srmat {command[0]}: error: {path}: a boundary mask "
                                       f"is an (H, W) or (H, W, C) array, got shape {shape}\n")


@pytest.mark.parametrize("orientation, turn", [(6, "turned 90° clockwise"),
                                               (3, "turned 180°")])
def test_a_tiff_orientation_tag_is_told_as_a_jpeg_exif_orientation(tmp_path, orientation,
                                                                  turn):
    """A TIFF whose Orientation tag (274) asks viewers to turn it was read as stored
    without a word, while the same tag in a JPEG's EXIF is told: the pixels stay as
    stored (as tifffile, napari and ImageJ read them), and the same warning says so."""
    a = np.zeros((40, 60), np.uint8)
    a[:10, :10] = 255
    p = tmp_path / "turned.tif"
    tifffile.imwrite(p, a, extratags=[(274, 3, 1, orientation, True)])
    with pytest.warns(UserWarning, match=rf"turned.tif: its orientation tag \({orientation}\)"
                                         rf".*{turn}; napari-srmat reads the pixels as stored"):
        m = read_image(p)
    assert m.shape == (40, 60) and np.asarray(m.data)[:10, :10].min() == 255
    tifffile.imwrite(tmp_path / "plain.tif", a, extratags=[(274, 3, 1, 1, True)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_image(tmp_path / "plain.tif")


def _px_source_files(tmp_path, kind: str):
    """A 0.5 µm/px file of ``kind`` written as another tool writes it."""
    a = np.zeros((32, 40), np.uint8)
    p = tmp_path / {"png-phys": "a.png", "jfif": "a.jpg", "exif": "e.jpg",
                    "tiff-resolution": "a.tif", "imagej": "ij.tif", "ome": "a.ome.tif",
                    "ome-zarr": "a.ome.zarr", "zarr-attrs": "a.zarr"}[kind]
    if kind in ("png-phys", "jfif"):
        Image.fromarray(a).save(p, dpi=(50800, 50800))  # pHYs / JFIF density
    elif kind == "exif":
        _jpeg_with_exif(p, {0x011A: 20000, 0x011B: 20000, 0x0128: 3})
    elif kind == "tiff-resolution":
        tifffile.imwrite(p, a, resolution=(20000, 20000), resolutionunit="CENTIMETER")
    elif kind == "imagej":
        tifffile.imwrite(p, a, imagej=True, resolution=(2, 2), metadata={"unit": "micron"})
    elif kind == "ome":
        tifffile.imwrite(p, a, metadata={"axes": "YX", "PhysicalSizeX": 500,
                                         "PhysicalSizeXUnit": "nm", "PhysicalSizeY": 500,
                                         "PhysicalSizeYUnit": "nm"})
    elif kind == "ome-zarr":  # as another NGFF writer lays it out
        root = zarr.open_group(str(p), mode="w", zarr_format=2)
        root.create_array("0", data=a)
        root.attrs["multiscales"] = [{"version": "0.4", "axes": [
            {"name": ax, "type": "space", "unit": "nanometer"} for ax in "yx"],
            "datasets": [{"path": "0", "coordinateTransformations": [
                {"type": "scale", "scale": [500.0, 500.0]}]}]}]
    else:
        zarr.save_array(str(p), a, zarr_format=2)
        zarr.open_array(str(p), mode="r+").attrs["pixel_size_um"] = 0.5
    return p


@pytest.mark.parametrize("kind, words", [
    ("png-phys", "PNG pHYs chunk"), ("jfif", "JPEG JFIF density"),
    ("exif", "EXIF resolution tags"), ("tiff-resolution", "TIFF resolution tags"),
    ("imagej", "ImageJ unit"), ("ome", "OME-XML PhysicalSizeX/Y"),
    ("ome-zarr", "OME-NGFF scale"), ("zarr-attrs", "Zarr attribute pixel_size_um")])
def test_every_reader_says_where_the_pixel_size_came_from(tmp_path, capsys, kind, words):
    """The pixel size's origin was recorded for TIFF only (metadata
    ``pixel_size_source``): a PNG's pHYs, a JPEG's JFIF or EXIF and an OME-Zarr's scale
    gave 0.5 µm with no word of where from, and ``srmat info`` said ``0.5 µm`` alone for
    every file. Now every reader records it and ``srmat info`` names it."""
    p = _px_source_files(tmp_path, kind)
    m = read_image(p)
    assert m.pixel_size_um == pytest.approx(0.5)
    assert m.metadata["pixel_size_source"] == kind
    assert cli_main(["info", str(p)]) == 0
    [line] = [s for s in capsys.readouterr().out.splitlines() if s.startswith("pixel size:")]
    assert line.startswith("pixel size:  0.5 µm (from the ") and words in line
    assert cli_main(["info", str(p), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["pixel_size_source"] == kind


def test_no_pixel_size_has_no_source(tmp_path):
    """A print resolution (72 dpi pHYs) or none gives no size and no source."""
    a = np.zeros((32, 40), np.uint8)
    Image.fromarray(a).save(tmp_path / "a.png", dpi=(72, 72))
    tifffile.imwrite(tmp_path / "b.tif", a, resolution=(2e9, 2e9), resolutionunit="CENTIMETER")
    for name in ("a.png", "b.tif"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = read_image(tmp_path / name)
        assert m.pixel_size_um is None and m.metadata["pixel_size_source"] is None


def _count_tiff_reads(monkeypatch) -> dict:
    """``{"bytes": N}``: the pixel bytes read from TIFF files from now on, by tifffile (a
    strip or tile it decodes) and by the window reader (`_TiffWindows`)."""
    from napari_srmat.io._read import _TiffWindows

    read = {"bytes": 0}
    plain_read, plain_read_into = tifffile.FileHandle.read, _TiffWindows._read_into

    def counted(self, *args, **kwargs):
        data = plain_read(self, *args, **kwargs)
        read["bytes"] += len(data)
        return data

    def counted_into(self, out, lo, size):
        plain_read_into(self, out, lo, size)
        read["bytes"] += out.nbytes

    monkeypatch.setattr(tifffile.FileHandle, "read", counted)
    monkeypatch.setattr(_TiffWindows, "_read_into", counted_into)
    return read


def test_a_window_of_an_uncompressed_single_strip_mosaic_reads_only_that_window(
        tmp_path, monkeypatch):
    """ImageJ (and Fiji's stitching) saves a mosaic as one uncompressed strip: every
    Dask chunk of it decoded the whole image (a 64x64 window of an 8192x8192 mosaic read
    64 MiB; a full pass read the image once per chunk: 11x slower at 12000x12000, hours
    for a gigapixel one). An uncompressed, contiguous TIFF is now read window by window
    at its place in the file (`_TiffWindows`). The file is sparse (64 MiB long, a few kB
    on disk)."""
    import pickle

    p = tmp_path / "mosaic.tif"
    tifffile.imwrite(p, shape=(8192, 8192), dtype=np.uint8, imagej=True,
                     resolution=(2, 2), metadata={"unit": "micron"})
    with tifffile.TiffFile(p) as tif:  # write a marked window in place
        offset = tif.pages[0].dataoffsets[0]
    with open(p, "r+b") as fh:
        fh.seek(offset + 100 * 8192 + 200)
        fh.write(b"\x07" * 10)
    read = _count_tiff_reads(monkeypatch)
    m = read_image(p, chunks=256)
    assert m.shape == (8192, 8192) and m.pixel_size_um == pytest.approx(0.5)
    read["bytes"] = 0
    window = np.asarray(m.data[96:104, 196:212])
    assert window[4, 4:14].tolist() == [7] * 10 and window.sum() == 70
    assert read["bytes"] < 2**20, f"{read['bytes']} bytes read for a 8x16 window"
    assert len(pickle.dumps(m.data)) < 2**20  # travels as its path, not its pixels


def test_a_big_endian_uncompressed_tiff_reads_native_values(tmp_path):
    """A big-endian TIFF (written on a Mac PowerPC, by some cameras) memory-mapped as
    such gives the same numbers, in native byte order."""
    a = (np.arange(40 * 48, dtype=np.uint16) * 31).reshape(40, 48)
    p = tmp_path / "be.tif"
    tifffile.imwrite(p, a, byteorder=">")
    m = read_image(p)
    assert m.dtype == np.uint16 and m.dtype.byteorder in "=|<"
    np.testing.assert_array_equal(np.asarray(m.data), a)


@pytest.mark.parametrize("layout", ["YX", "YXS", "SYX", "TCZYX-big-endian"])
def test_windows_of_an_uncompressed_tiff_are_its_pixels(tmp_path, rng, layout):
    """Windows read at their place in the file (every layout tifffile finds contiguous:
    grey, interleaved RGB, planar RGB, OME singletons, big-endian) equal tifffile's own
    decode."""
    p = tmp_path / "a.tif"
    if layout == "YX":
        a = rng.integers(0, 255, (37, 53), np.uint8)
        tifffile.imwrite(p, a)
    elif layout == "YXS":
        a = rng.integers(0, 255, (37, 53, 3), np.uint8)
        tifffile.imwrite(p, a, photometric="rgb")
    elif layout == "SYX":
        a = rng.integers(0, 255, (37, 53, 3), np.uint8)
        tifffile.imwrite(p, np.moveaxis(a, -1, 0).copy(), photometric="rgb",
                         planarconfig="separate")
    else:
        a = rng.integers(0, 60000, (37, 53), np.uint16)
        tifffile.imwrite(p, a[None, None, None], byteorder=">",
                         metadata={"axes": "TCZYX"})
    m = read_image(p, chunks=8)
    assert m.dtype == a.dtype.newbyteorder("=")
    np.testing.assert_array_equal(np.asarray(m.data), a)
    np.testing.assert_array_equal(np.asarray(m.data[5:9, 17:40]), a[5:9, 17:40])


def test_an_uncompressed_tiff_cut_after_it_was_opened_is_a_read_error(tmp_path):
    """A file rewritten shorter while open (re-saved in place by another program) is a
    clear ImageReadError when its pixels are read, not a crash."""
    p = tmp_path / "a.tif"
    tifffile.imwrite(p, np.ones((64, 64), np.uint8))
    m = read_image(p, chunks=16)
    with open(p, "r+b") as fh:
        fh.truncate(os.path.getsize(p) - 64 * 20)
    with pytest.raises(ImageReadError, match=r"a.tif: cannot read TIFF pixel data.*shorter"):
        np.asarray(m.data)


def _mosaic_with_empty_border(tmp_path, mode: str):
    """A stitched mosaic as stitching tools export it: the specimen opaque, the empty
    border around it transparent (alpha 0) and black underneath."""
    rgb = np.full((40, 50, 3), 180, np.uint8)
    alpha = np.full((40, 50), 255, np.uint8)
    rgb[:, 40:], alpha[:, 40:] = 0, 0  # a transparent, black fifth on the right
    p = tmp_path / f"mosaic_{mode}.png"
    if mode == "RGBA":
        Image.fromarray(np.dstack([rgb, alpha])).save(p)
    elif mode == "LA":
        Image.fromarray(np.dstack([rgb[..., 0], alpha]), mode="LA").save(p)
    elif mode == "P":  # palette with a transparent entry (tRNS)
        im = Image.fromarray(rgb[..., 0]).convert("P")
        im.save(p, transparency=0)
    else:  # 16-bit RGBA
        imagecodecs = pytest.importorskip("imagecodecs")
        wide = np.dstack([rgb, alpha]).astype(np.uint16) * 257
        p.write_bytes(imagecodecs.png_encode(wide))
    return p


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "RGBA16"])
def test_transparent_pixels_of_a_png_are_told_when_the_alpha_is_dropped(tmp_path, mode):
    """The alpha channel was dropped without a word (RGBA: only
    metadata['alpha_dropped']; grey + alpha: not even that), so the transparent, black
    border of a stitched mosaic was read, shown and measured as specimen. Now the share
    of pixels that are not opaque is told (and recorded); the pixels are still read as
    stored."""
    p = _mosaic_with_empty_border(tmp_path, mode)
    with pytest.warns(UserWarning, match=rf"mosaic_{mode}.png: 20% of its pixels are "
                                         r"transparent.*read as if opaque"):
        m = read_image(p)
    assert m.metadata["alpha_dropped"] and m.metadata["transparent_fraction"] == 0.2
    assert np.asarray(m.data)[:, 45].max() == 0  # as stored


@pytest.mark.parametrize("layout", ["RGBA", "LA", "RGBA16-tiled-zlib"])
def test_transparent_pixels_of_a_tiff_are_told_as_for_a_png(tmp_path, layout):
    """A TIFF's alpha channel was dropped with only metadata['alpha_dropped'] (the PNG's
    transparent share was told): the transparent, black border of a stitched mosaic saved
    as TIFF was measured as specimen without a word. The same rule (_alpha_dropped) now
    tells it for TIFF too."""
    rgba = np.asarray(Image.open(_mosaic_with_empty_border(tmp_path, "RGBA")))
    p = tmp_path / f"mosaic_{layout}.tif"
    if layout == "RGBA":
        tifffile.imwrite(p, rgba, photometric="rgb", extrasamples=["unassalpha"])
    elif layout == "LA":
        tifffile.imwrite(p, rgba[..., [0, 3]], photometric="minisblack",
                         extrasamples=["assocalpha"])
    else:
        tifffile.imwrite(p, rgba.astype(np.uint16) * 257, photometric="rgb",
                         extrasamples=["unassalpha"], tile=(16, 16), compression="zlib")
    with pytest.warns(UserWarning, match=rf"mosaic_{layout}.tif: 20% of its pixels are "
                                         r"transparent.*read as if opaque"):
        m = read_image(p)
    assert m.metadata["alpha_dropped"] and m.metadata["transparent_fraction"] == 0.2
    assert np.asarray(m.data)[:, 45].max() == 0  # as stored
    assert m.shape[:2] == (40, 50) and m.shape[2:] in ((), (3,))


def test_an_opaque_alpha_channel_is_dropped_without_a_word(tmp_path):
    a = np.dstack([np.full((20, 30, 3), 90, np.uint8), np.full((20, 30), 255, np.uint8)])
    Image.fromarray(a).save(tmp_path / "opaque.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = read_image(tmp_path / "opaque.png")
    assert m.metadata["alpha_dropped"] and "transparent_fraction" not in m.metadata


def test_a_mask_with_a_transparent_background_is_read_without_the_crop_advice(tmp_path):
    """Annotation tools export a boundary mask as RGBA, the background transparent: that
    is its background, not an empty mosaic border to crop away."""
    a = np.zeros((20, 30, 4), np.uint8)
    a[10, :, :] = 255  # an opaque white boundary line, the rest transparent black
    Image.fromarray(a).save(tmp_path / "mask.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mask = read_mask(tmp_path / "mask.png")
    assert mask.shape == (20, 30) and mask[10].all() and mask.sum() == 30


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_a_grey_palette_image_reads_as_grey(tmp_path, rng, suffix):
    """An 8-bit grey image saved as a palette (indexed) image, as Pillow's convert("P"),
    GIMP's indexed export and some cameras write it, was read as RGB (three equal
    channels): srmat info said (H, W, 3) YXC, napari opened it as colour, and
    super-resolution and boundaries ran their colour path. A palette whose every entry
    is grey now reads as grey, with the palette's grey values; a colour palette stays
    RGB."""
    g = rng.integers(0, 255, (30, 40), np.uint8)
    p = tmp_path / f"grey_palette{suffix}"
    Image.fromarray(g).convert("P").save(p)
    assert Image.open(p).mode == "P"
    m = read_image(p)
    assert m.axes == "YX" and m.shape == (30, 40) and m.dtype == np.uint8
    np.testing.assert_array_equal(np.asarray(m.data), g)
    [(_, kwargs, _)] = read_micrograph(str(p))
    assert kwargs["rgb"] is False
    c = tmp_path / f"colour_palette{suffix}"
    Image.fromarray(rng.integers(0, 255, (30, 40, 3), np.uint8)).quantize(8).save(c)
    assert read_image(c).axes == "YXC"


@pytest.mark.parametrize("zarr_format, level", [(2, 0), (3, 1)])
def test_a_level_array_opened_inside_an_ome_zarr_keeps_its_pixel_size(tmp_path, zarr_format,
                                                                      level):
    """Opening a level's folder inside an OME-Zarr (``image.ome.zarr/0``, dragged into
    napari or given to srmat) read a plain array: no pixel size, without a word. Now the
    level keeps the scale its image's multiscales give it, and a warning names the
    image to open for the whole pyramid."""
    g = np.arange(64 * 80, dtype=np.uint16).reshape(64, 80)
    store = tmp_path / "other.ome.zarr"
    root = zarr.open_group(str(store), mode="w", zarr_format=zarr_format)
    datasets = []
    for i in range(2):
        root.create_array(f"s{i}", data=g[::2 ** i, ::2 ** i].copy())
        datasets.append({"path": f"s{i}", "coordinateTransformations": [
            {"type": "scale", "scale": [250.0 * 2 ** i, 250.0 * 2 ** i]}]})
    ms = [{"axes": [{"name": a, "type": "space", "unit": "nanometer"} for a in "yx"],
           "datasets": datasets}]
    if zarr_format == 2:
        root.attrs["multiscales"] = [{"version": "0.4", **ms[0]}]
    else:
        root.attrs["ome"] = {"version": "0.5", "multiscales": ms}
    with pytest.warns(UserWarning, match=rf"s{level}.*level {level} of the OME-Zarr image "
                                         r".*other.ome.zarr.*open it for"):
        m = read_image(store / f"s{level}")
    assert m.shape == (64 // 2 ** level, 80 // 2 ** level) and m.n_levels == 1
    assert m.pixel_size_um == pytest.approx(0.25 * 2 ** level)
    assert m.metadata["pixel_size_source"] == "ome-zarr"
    np.testing.assert_array_equal(np.asarray(m.data), g[::2 ** level, ::2 ** level])


def test_integer_and_stepped_indexes_of_an_uncompressed_tiff_read_their_window(
        tmp_path, monkeypatch, rng):
    """Dask asks the reader for `[..., 0]` of a grey + alpha TIFF and `[::k]` for an
    overview: the window reader read the whole image for each such index (a 256x256
    chunk of a 2048x2048 grey + alpha file read 8 MiB, a full pass 64x the file). They
    read the window that holds them now, with numpy's values."""
    from napari_srmat.io._read import _TiffWindows

    a = rng.integers(0, 255, (512, 512, 2), np.uint8)
    p = tmp_path / "ga.tif"
    tifffile.imwrite(p, a, photometric="minisblack", extrasamples=[2])
    with tifffile.TiffFile(p) as tif:
        level = tif.series[0]
        w = _TiffWindows(p, *_TiffWindows.layout(tif, level))
    read = _count_tiff_reads(monkeypatch)
    for index in [(slice(0, 64), slice(64, 128), 0), (slice(None, None, 4), slice(3, 300, 7)),
                  (-1, slice(None), 1), (5,), (slice(10, 10),), (slice(0, 64), 7, -1)]:
        read["bytes"] = 0
        np.testing.assert_array_equal(w[index], a[index], err_msg=str(index))
        window = np.empty(a.shape, bool)
        window[:] = False
        window[index] = True  # the bounding window of what was asked
        rows, cols = np.nonzero(window.any(-1))
        bound = 0 if rows.size == 0 else (
            (np.ptp(rows) + 1) * (np.ptp(cols) + 1) * a.shape[-1])
        assert read["bytes"] <= bound, (index, read["bytes"], bound)
    with pytest.raises(IndexError):
        w[512]
    np.testing.assert_array_equal(w[::-1], a[::-1])  # numpy's rules (the whole image)


def test_a_cut_smallest_level_is_told_once(tmp_path):
    """The transparent-share count of an RGBA pyramid wrapped any error, the one-strip
    reader's own ImageReadError too: a cut smallest level read 'cannot read TIFF pixel
    data, file truncated or corrupt (...: cannot read TIFF pixel data, file truncated or
    corrupt (...))'. It is told once now, as the level reader tells it."""
    rgba = np.random.default_rng(1).integers(0, 255, (256, 256, 4), np.uint8)
    p = tmp_path / "pyramid.tif"
    with tifffile.TiffWriter(p) as tif:
        tif.write(rgba, photometric="rgb", extrasamples=["unassalpha"], tile=(64, 64),
                  compression="zlib", subifds=1)
        tif.write(rgba[::2, ::2], photometric="rgb", extrasamples=["unassalpha"],
                  rowsperstrip=128, compression="zlib", subfiletype=1)  # one strip
    with tifffile.TiffFile(p) as tif:
        strip = tif.series[0].levels[1].pages[0]
        end = strip.dataoffsets[0] + strip.databytecounts[0]
    assert end == os.path.getsize(p)  # the smallest level's strip is written last
    with open(p, "r+b") as fh:
        fh.truncate(end - strip.databytecounts[0] // 2)
    with pytest.raises(ImageReadError) as told:
        read_image(p, chunks=32)
    assert str(told.value).count("cannot read TIFF pixel data") == 1, told.value
    assert str(told.value).startswith(f"{p}: cannot read TIFF pixel data")


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64])
@pytest.mark.parametrize("command", [["heyn"], ["grain-size", "--mask"]])
def test_signed_integer_noise_is_not_a_mask(tmp_path, capsys, dtype, command):
    """Found by a bad-input hunt: random int8 / int32 noise saved as a mask was read as
    one (values > 0 boundary: ~49 % of the pixels, just under the 50 % refusal line) and
    `srmat heyn` reported a grain size, exit 0. A mask is 0 and non-zero (or labels >= 0):
    the one mask rule refuses negative values, '... is not a mask: it holds negative
    values', one line, exit 2. A signed mask without negative values is still a mask."""
    from napari_srmat.io import MaskError, as_bool_mask

    info = np.iinfo(dtype)
    noise = np.random.default_rng(0).integers(max(info.min, -128), min(info.max, 127),
                                              (64, 64), endpoint=True).astype(dtype)
    with pytest.raises(MaskError, match=r"^boundary mask is not a mask: it holds negative "
                       r"values \(down to -128\)"):
        as_bool_mask(noise, name="boundary mask")
    with pytest.raises(MaskError, match="negative"):
        as_bool_mask(noise, threshold=0.5)
    path = tmp_path / "noise.npy"
    np.save(path, noise)
    assert cli_main([*command, str(path)]) == 2
    captured = capsys.readouterr()
    err = captured.err.splitlines()  # one line (test below)
    assert err[-1].startswith(f"srmat {command[0]}: error: {path}: ")
    assert "negative values" in err[-1] and "Traceback" not in "".join(err)
    ok = np.clip(noise, 0, None)  # signed, no negative value
    assert (as_bool_mask(ok) == (ok > 0)).all()


@pytest.mark.parametrize("content", ["probability map", "negative int8"])
@pytest.mark.parametrize("command", [["heyn"], ["grain-size", "--mask"]])
def test_a_mask_the_mask_rule_refuses_is_told_in_one_line(tmp_path, capsys, content,
                                                           command):
    """`srmat grain-size --mask` applied the mask rule inside its job, after the job's
    first progress event: a float probability map or a mask with negative values
    printed '[progress] intercepts: 0% (0/1)' and then the error. The rule now runs
    before the first progress event: the output is the error line alone, as `srmat
    heyn`'s."""
    rng = np.random.default_rng(1)
    mask = (rng.random((64, 64)).astype(np.float32) if content == "probability map"
            else rng.integers(-128, 127, (64, 64)).astype(np.int8))
    path = tmp_path / "mask.npy"
    np.save(path, mask)
    assert cli_main([*command, str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"srmat {command[0]}: error: {path}: boundary mask is ")
