"""What the LZW check (``io._read._lzw_check``) and the open of a streamed LZW strip
(``io._read._LzwStrip``) cost: no stream checked twice, the heads of the strips not held
all at once. Speed itself is measured by ``benchmarks/bench_tiff_strips_lzw.py``
(``check_cost``: a stream alternating short and long segments, 1x and 8x)."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile
from test_io_lzw_corrupt import CLEAR, _nine_bit

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


def _planar(path: Path, planes: int, side: int) -> np.ndarray:
    """A TIFF at ``path`` of one page of ``planes`` samples stored planar, one LZW strip
    of ``side``² noise each (larger compressed than the open's probe of a strip)."""
    a = np.random.default_rng(4).integers(0, 256, (planes, side, side), dtype=np.uint8)
    tifffile.imwrite(path, a, compression="lzw", planarconfig="separate",
                     photometric="minisblack", rowsperstrip=side)
    return a


def test_opening_an_lzw_strip_per_plane_holds_one_strip_head_at_a_time(tmp_path):
    """The open of a page of many planes, one LZW strip each, read the first 64 KiB
    (``_LZW_DENSE_PROBE_BYTES``) of every strip and held them all at once to tell
    whether any is old-style (2 bytes decide) or clears its table every few codes: 200
    planes of 256², a peak of 13.3 MB before; now one head at a time, 0.26 MB."""
    p = tmp_path / "planes.tif"
    planes = 200
    _planar(p, planes, 256)
    with tifffile.TiffFile(p) as tif:
        level = tif.series[0].levels[0]
        layout = _read._LzwStrip.layout(level)
        assert layout is not None and len(layout[0]) == planes
        assert min(layout[1]) > _read._LZW_DENSE_PROBE_BYTES
        tracemalloc.start()
        try:
            reader = _read._LzwStrip.of(p, 0, 0, layout, level)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert reader is not None
    assert peak < 16 * _read._LZW_DENSE_PROBE_BYTES, peak


def test_a_planar_lzw_page_with_an_old_style_or_dense_strip_is_not_streamed(tmp_path):
    """The open reads each strip's head in turn: one old-style strip among many (its
    first byte 0, its second odd) or one clearing its table every few codes still
    leaves the page to tifffile's whole decode, as when all heads were held."""
    p = tmp_path / "planes.tif"
    _planar(p, 8, 64)
    with tifffile.TiffFile(p) as tif:
        level = tif.series[0].levels[0]
        offsets, counts = _read._LzwStrip.layout(level)[:2]
    assert not _read._lzw_not_streamed(p, offsets, counts)
    data = bytearray(p.read_bytes())
    data[offsets[5]:offsets[5] + 2] = b"\0\1"  # old-style, as the codec tells it
    old = tmp_path / "old.tif"
    old.write_bytes(bytes(data))
    assert _read._lzw_not_streamed(old, offsets, counts)
    dense = _nine_bit([CLEAR, 1, 2] * 64)  # a Clear every 2 codes
    assert _read._lzw_dense(dense)
    data = bytearray(p.read_bytes())
    data[offsets[6]:offsets[6] + len(dense)] = dense
    dense_path = tmp_path / "dense.tif"
    dense_path.write_bytes(bytes(data))
    assert _read._lzw_not_streamed(dense_path, offsets, counts)


def test_a_one_chunk_pass_over_a_streamed_lzw_strip_checks_it_once(tmp_path, monkeypatch):
    """A strip streamed over the cache read in one chunk: the open's probe of its last
    pixel decodes it whole (checked), and so does the pass; the pass checked the same
    bytes again (2 checks of the whole strip before: 1.35-1.4x tifffile's read of it,
    ``few_chunks`` of ``benchmarks/bench_tiff_strips_lzw.py``; tifffile's own read
    remembers the strip's digest), now once. A damaged strip is still refused."""
    n = 256
    rng = np.random.default_rng(5)
    image = (rng.integers(0, 40, (n, n)) + np.arange(n) % 200).astype(np.uint8)
    p = tmp_path / "strip.tif"
    tifffile.imwrite(p, image, compression="lzw", rowsperstrip=n)
    count = tifffile.TiffFile(p).pages[0].databytecounts[0]
    monkeypatch.setattr(_read, "DECODED_STRIP_CACHE_BYTES", 1000)
    calls: list = []
    check = _read._lzw_check
    monkeypatch.setattr(_read, "_lzw_check", lambda data, *args: (
        calls.append(len(data)), check(data, *args))[1])
    m = _read.read_image(p, chunks=n)
    assert isinstance(m.data.dask[next(iter(m.data.dask))], _read._LzwStrip)
    np.testing.assert_array_equal(np.asarray(m.data), image)
    np.testing.assert_array_equal(np.asarray(m.data), image)  # a second pass too
    assert calls == [count]
    data = bytearray(p.read_bytes())  # the same strip, one code past its first Clear
    offset = tifffile.TiffFile(p).pages[0].dataoffsets[0]  # made 511: refused
    bits = int.from_bytes(data[offset:offset + 3], "big")
    data[offset:offset + 3] = (bits & ~(0x1FF << 6) | 511 << 6).to_bytes(3, "big")
    p.write_bytes(bytes(data))
    with pytest.raises(_read.ImageReadError, match="not made yet"):
        np.asarray(_read.read_image(p, chunks=n).data)


def test_a_one_chunk_pass_over_a_streamed_lzw_strip_decodes_it_once_a_pass(tmp_path,
                                                                          monkeypatch):
    """A strip streamed over the cache read in one chunk is decoded whole once at the
    open's probe and once a pass, in one codec call each (its size told): the work
    ``few_chunks`` of ``benchmarks/bench_tiff_strips_lzw.py`` times at one chunk. A
    guard (it passed before): a one-chunk ratio of 1.19 at f3d471e against 0.93 at
    3e02e9c was load (the reader of 17b30a5 makes the same calls), and a change that
    streamed that read or decoded it twice would show here, not only in timings."""
    n = 256
    rng = np.random.default_rng(6)
    image = (rng.integers(0, 40, (n, n)) + np.arange(n) % 200).astype(np.uint8)
    p = tmp_path / "strip.tif"
    tifffile.imwrite(p, image, compression="lzw", rowsperstrip=n)
    monkeypatch.setattr(_read, "DECODED_STRIP_CACHE_BYTES", 1000)
    decoded: list = []
    decode = imagecodecs.lzw_decode
    monkeypatch.setattr(imagecodecs, "lzw_decode", lambda *args, **kwargs: (
        out := decode(*args, **kwargs), decoded.append(len(out)))[0])
    m = _read.read_image(p, chunks=n)
    assert isinstance(m.data.dask[next(iter(m.data.dask))], _read._LzwStrip)
    assert decoded == [n * n], decoded  # the open's probe: the strip whole, once
    for passes in (1, 2):
        np.testing.assert_array_equal(np.asarray(m.data), image)
        assert decoded == [n * n] * (1 + passes), decoded


def test_nothing_is_hashed_when_no_lzw_stream_is_remembered(monkeypatch):
    """``LZW_CHECKED_KEPT`` 0 remembers no stream, yet each check still took the
    stream's BLAKE2b digest (about a quarter of the check's time): the "every decode
    checked" baseline of ``benchmarks/bench_tiff_strips_lzw.py`` paid it, and the
    memo's gain was overstated. Now no digest is taken; a damaged stream is refused."""
    class NoHash:
        def blake2b(self, *args, **kwargs):
            raise AssertionError("a digest was taken")

    stream = imagecodecs.lzw_encode(bytes(range(256)) * 16)
    passed: set[bytes] = set()
    monkeypatch.setattr(_read, "LZW_CHECKED_KEPT", 0)
    monkeypatch.setattr(_read, "hashlib", NoHash())
    _read._lzw_check_once(stream, passed)
    assert not passed
    with pytest.raises(ValueError, match="not made yet"):
        _read._lzw_check_once(_nine_bit([CLEAR, 300]), passed)


def test_the_scan_of_an_unpadded_array_gives_what_its_bytes_give():
    """``_lzw_segment_ends`` took any ndarray for the check's padded copy of a stream
    (``_lzw_padded``, gone since the check reads a stream where it is): an array of the
    stream's own bytes lost its last 2 bytes, the end code there not found (``[]``
    against the end code's place). Bytes, a bytearray and an array of them give the
    same ends."""
    stream = imagecodecs.lzw_encode(bytes(range(200)))
    whole = _read._lzw_segment_ends(stream, 9, 16)
    assert whole[0] and whole[0][-1][2]  # its end code, in its last 2 bytes
    array = np.frombuffer(stream, np.uint8)
    assert _read._lzw_segment_ends(array, 9, 16) == whole
    assert _read._lzw_segment_ends(bytearray(stream), 9, 16) == whole


class _CountedReads:
    """A file opened by ``io._read`` whose bytes read are added to ``into``."""

    def __init__(self, fh, into: list[int]):
        self._fh, self._into = fh, into

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._fh.close()

    def seek(self, *args) -> int:
        return self._fh.seek(*args)

    def read(self, n: int = -1) -> bytes:
        data = self._fh.read(n)
        self._into.append(len(data))
        return data


def test_opening_an_lzw_page_reads_a_few_bytes_of_a_strip_that_clears_rarely(
        tmp_path, monkeypatch):
    """To tell whether a strip clears its code table every few codes the open read its
    first 64 KiB (``_LZW_DENSE_PROBE_BYTES``; 131 MB for 2000 planes of 256² noise,
    0.50 s warm); a strip written as TIFF writers write it (a Clear every ~3800 codes)
    is told by its first ``_LZW_DENSE_FIRST_BYTES``; 8 planes: 524 304 bytes read
    before. A dense head among them is still found."""
    p = tmp_path / "planes.tif"
    planes = 8
    _planar(p, planes, 256)
    with tifffile.TiffFile(p) as tif:
        offsets, counts = _read._LzwStrip.layout(tif.series[0].levels[0])[:2]
    assert min(counts) > _read._LZW_DENSE_PROBE_BYTES
    reads: list[int] = []
    monkeypatch.setattr(_read, "open", lambda *args, **kwargs: _CountedReads(
        open(*args, **kwargs), reads), raising=False)
    assert not _read._lzw_not_streamed(p, offsets, counts)
    assert sum(reads) <= planes * (_read._LZW_OLD_HEAD_BYTES
                                   + _read._LZW_DENSE_FIRST_BYTES), sum(reads)
    data = bytearray(p.read_bytes())
    dense = _nine_bit([CLEAR, 1, 2] * 64)  # a Clear every 2 codes
    data[offsets[3]:offsets[3] + len(dense)] = dense
    dense_path = tmp_path / "dense.tif"
    dense_path.write_bytes(bytes(data))
    assert _read._lzw_not_streamed(dense_path, offsets, counts)


@pytest.mark.parametrize("short_before, short_after", [(0, 0), (15, 0), (10, 5), (3, 12),
                                                        (0, 15), (15, 15)])
def test_the_first_probe_of_a_strip_tells_what_its_64_kib_tell(short_before, short_after):
    """The open's first, short probe of a strip (``_LZW_DENSE_FIRST_BYTES``) decides
    whether it is dense only where its first 64 KiB (``_LZW_DENSE_PROBE_BYTES``) would
    decide the same: segments of 2 codes around one written as TIFF writers write it
    (a Clear when the table is full), the long one far past the first probe."""
    rng = np.random.default_rng(6)
    short = [CLEAR, 1, 2]
    long = imagecodecs.lzw_encode(rng.integers(0, 256, 1 << 17, dtype=np.uint8).tobytes())
    ends, _ = _read._lzw_segment_ends(long, 9, 2)
    codes_bits = ends[1][0] + ends[1][1]  # its first 2 segments and the Clear after
    first_long = int.from_bytes(long, "big") >> (len(long) * 8 - codes_bits)
    head = short * short_before
    tail = [1, 2] + short * short_after + [_read._LZW_EOI]
    bits, n = 0, 0
    for code in head:
        bits, n = (bits << 9) | code, n + 9
    bits, n = (bits << codes_bits) | first_long, n + codes_bits
    for code in tail:
        bits, n = (bits << 9) | code, n + 9
    stream = (bits << (-n % 8)).to_bytes((n + 7) // 8, "big")
    assert len(stream) > 2 * _read._LZW_DENSE_FIRST_BYTES
    probe = stream[:_read._LZW_DENSE_PROBE_BYTES]
    assert _read._lzw_strip_dense(io.BytesIO(stream), 0, len(stream)) == _read._lzw_dense(
        probe)


def test_the_first_probe_holds_the_bits_that_make_a_head_dense():
    """``_LZW_DENSE_FIRST_BYTES`` holds more than ``_LZW_DENSE_SEGMENTS`` segments of
    ``_LZW_DENSE_CODES`` 9-bit codes, their Clear codes and a 12-bit code: a Clear past
    it makes a head's average segment too long to be dense."""
    bits = (_read._LZW_DENSE_SEGMENTS * (_read._LZW_DENSE_CODES + 1) * 9
            + int(_read._LZW_WIDTHS[-1]))
    assert _read._LZW_DENSE_FIRST_BYTES * 8 > bits


def _alternating(pairs: int, last_first: int | None = None) -> tuple[bytes, int]:
    """A TIFF LZW stream of ``pairs`` pairs of segments of 3 and 300 random literal
    codes, a Clear code before each (crafted: TIFF writers clear at 3839 codes), the
    last one's first code ``last_first`` if given, and the bytes it decodes to."""
    rng = np.random.default_rng(7)
    buf, at, width, size = bytearray(), 0, _read._LZW_FRESH_WIDTH, 0
    for k in range(2 * pairs):
        _read._lzw_put_code(buf, at, CLEAR, width)
        at += width
        codes = rng.integers(0, 256, (3, 300)[k % 2])
        if last_first is not None and k == 2 * pairs - 1:
            codes[0] = last_first
        for code, w in zip(codes.tolist(), _read._LZW_WIDTHS.tolist()):
            _read._lzw_put_code(buf, at, code, w)
            at += w
        width, size = int(_read._LZW_WIDTHS[len(codes)]), size + len(codes)
    _read._lzw_put_code(buf, at, _read._LZW_EOI, width)
    return bytes(buf), size


def test_the_check_of_short_and_long_segments_reads_few_codes_a_segment(monkeypatch):
    """A crafted stream alternating 3- and 300-code segments: each scan of a segment by
    the check read all 3839 codes a segment may hold (its check 43-54x its decode,
    ``check_cost`` of ``benchmarks/bench_tiff_strips_lzw.py``); now the first
    ``_LZW_SCAN_FIRST_CODES`` of a segment after a shorter one, where its Clear is. The
    check still refuses what it refused."""
    pairs = 40
    stream, size = _alternating(pairs)
    assert len(imagecodecs.lzw_decode(stream)) == size
    read: list[int] = []
    plain = _read._lzw_segment_codes
    monkeypatch.setattr(_read, "_lzw_segment_codes", lambda raw, phase, n: (
        read.append(n), plain(raw, phase, n))[1])
    _read._lzw_check(stream)
    assert 0 < sum(read) <= 2 * pairs * _read._LZW_SCAN_FIRST_CODES, sum(read)
    with pytest.raises(ValueError, match="not made yet"):
        _read._lzw_check(_alternating(pairs, last_first=300)[0])


def test_the_check_of_an_unchecked_lzw_piece_holds_no_copy_of_it():
    """The check of an LZW piece decoded unscanned (``_lzw_check_once``: a streamed
    strip's rest taken whole, a one-chunk pass) copied the whole piece with 2 zero bytes
    after it to read its codes' 24-bit words (tracemalloc peak of the check 1.03x the
    piece's compressed bytes, for a 2048² strip of 5.2 MB; with the piece, 2.03x). It
    reads the piece where it is now, only a window at its end padded: the peak is
    under a quarter of it. A damaged piece is still refused."""
    n = 2048
    rng = np.random.default_rng(8)
    image = (rng.integers(0, 40, (n, n)) + np.arange(n) % 200).astype(np.uint8)
    piece = bytearray(imagecodecs.lzw_encode(image.tobytes()))  # as the reader makes it
    tracemalloc.start()
    try:
        _read._lzw_check_once(piece, None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < len(piece) / 4, f"peak {peak / len(piece):.2f}x the piece"
    damaged = bytearray(_nine_bit([CLEAR, 65, CLEAR, 300]))
    with pytest.raises(ValueError, match="not made yet"):
        _read._lzw_check_once(damaged, None)


def _old_style(codes: np.ndarray) -> bytearray:
    """9-bit ``codes`` as an old-style LZW stream (least significant bit first)."""
    bits = ((codes[:, None] >> np.arange(9)) & 1).astype(np.uint8).ravel()
    return bytearray(np.packbits(bits, bitorder="little").tobytes())


def test_the_check_of_an_old_style_lzw_stream_holds_no_copy_of_it():
    """The check of an old-style stream (``_lzw_old_check``) copied it whole, padded
    (with ``bytes()`` of a bytearray piece before: tracemalloc peak 2.00x a made-up 3 MB
    stream of 10 624 segments); it reads it where it is now, as TIFF's check does (peak
    0.094x of it). Here 60 segments of a Clear and 250 byte codes, then codes with no
    Clear (the codec refuses the segment at 5120 entries: the check stops there) to
    2 MB. A damaged stream is still refused."""
    rng = np.random.default_rng(47)
    size = 2 << 20
    codes = rng.integers(0, 256, size * 8 // 9)
    codes[: 60 * 251 : 251] = CLEAR
    stream = _old_style(codes)
    assert _read._lzw_is_old(stream)
    tracemalloc.start()
    try:
        _read._lzw_check(stream)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < len(stream) / 4, f"peak {peak / len(stream):.2f}x the stream"
    codes[59 * 251 + 1] = 300  # the first code after the 60th Clear: no entry yet
    with pytest.raises(ValueError, match="not made yet"):
        _read._lzw_check(_old_style(codes))
