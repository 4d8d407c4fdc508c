"""Microscope vendor formats through bioio (the reader path, tested on OME-TIFF)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_srmat.io import ImageReadError, read_image, read_with_bioio

pytest.importorskip("bioio_ome_tiff")


def _ome_tiff(path, data, px):
    import tifffile

    tifffile.imwrite(path, data, ome=True, photometric="rgb" if data.ndim == 3 else None,
                     metadata={"axes": "YXS" if data.ndim == 3 else "YX",
                               "PhysicalSizeX": px, "PhysicalSizeY": px,
                               "PhysicalSizeXUnit": "µm", "PhysicalSizeYUnit": "µm"})
    return path


@pytest.mark.parametrize("rgb", [False, True])
def test_bioio_reads_pixels_and_pixel_size_like_the_native_reader(tmp_path, rgb):
    rng = np.random.default_rng(0)
    data = rng.integers(0, 255, (70, 90, 3) if rgb else (70, 90), dtype=np.uint8)
    path = _ome_tiff(tmp_path / "scan.ome.tif", data, 0.345)
    via_bioio = read_with_bioio(path, chunks=32)
    native = read_image(path)
    np.testing.assert_array_equal(np.asarray(via_bioio.data), data)
    np.testing.assert_array_equal(np.asarray(via_bioio.data), np.asarray(native.data))
    assert via_bioio.axes == native.axes == ("YXC" if rgb else "YX")
    assert via_bioio.pixel_size_um == pytest.approx(0.345)
    assert via_bioio.data.chunksize[:2] == (32, 32)  # lazy, our chunking
    assert via_bioio.metadata["format"].startswith("bioio")


def test_vendor_suffix_goes_to_bioio_and_fails_with_what_to_install(tmp_path):
    fake = tmp_path / "scan.czi"
    fake.write_bytes(b"ZISRAWFILE" + bytes(100))  # not a readable CZI, no plugin here
    with pytest.raises(ImageReadError, match=r"scan\.czi: .*bioio-czi") as err:
        read_image(fake)
    assert "\n" not in str(err.value)
