"""What the LZW check (``io._read._lzw_check``) and the open of a streamed LZW strip
(``io._read._LzwStrip``) cost: no stream checked twice, the heads of the strips not held
all at once. Speed itself is measured by ``benchmarks/bench_tiff_strips_lzw.py``
(``check_cost``: a stream alternating short and long segments, 1x and 8x)."""

from __future__ import annotations

import imagecodecs
import numpy as np
import tifffile

from napari_srmat.io import _read


def _without_end_code(stream: bytes) -> bytes:
    """``stream`` (a TIFF LZW stream) cut before its end-of-information code (its last
    partial byte's bits after the cut zeroed: no whole code)."""
    ends, _ = _read._lzw_segment_ends(stream, 0, 1 << 20)
    at, _, last = ends[-1]
    assert last
    cut = stream[:at >> 3]
    return cut + bytes([stream[at >> 3] & (0xFF00 >> (at & 7)) & 0xFF]) if at & 7 else cut


def test_the_last_piece_of_a_streamed_strip_without_an_end_code_is_checked_once(
        tmp_path, monkeypatch):
    """A strip streamed over the cache whose stream has no end code (its last codes
    end the strip): its last piece was scanned for Clear codes, then checked again (the
    same codes read twice; 1 check of the last piece before, 0 now). The pixels are
    read whole and alike."""
    n = 256
    rng = np.random.default_rng(3)
    image = (rng.integers(0, 40, (n, n)) + np.arange(n) % 200).astype(np.uint8)
    stream = _without_end_code(imagecodecs.lzw_encode(image.tobytes()))
    assert imagecodecs.lzw_decode(stream, out=image.nbytes) == image.tobytes()
    p = tmp_path / "no_end_code.tif"
    tifffile.imwrite(p, iter([stream]), shape=image.shape, dtype=image.dtype,
                     compression="lzw", rowsperstrip=n)
    monkeypatch.setattr(_read, "INFLATE_RESUME_BYTES", 1 << 12)
    monkeypatch.setattr(_read, "_INFLATE_OUT_BYTES", 1 << 13)
    monkeypatch.setattr(_read, "LZW_STREAM_COST", 0.0)  # streamed: never the rest whole
    with tifffile.TiffFile(p) as tif:
        level = tif.series[0].levels[0]
        reader = _read._LzwStrip.of(p, 0, 0, _read._LzwStrip.layout(level), level)
    calls: list = []
    check = _read._lzw_check
    monkeypatch.setattr(_read, "_lzw_check", lambda data, *args: (
        calls.append(len(data)), check(data, *args))[1])
    out = np.empty_like(image)
    reader._inflate_rows(np.arange(n), out, (slice(None),))
    np.testing.assert_array_equal(out, image)
    assert calls == []
