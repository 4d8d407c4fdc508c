"""Damaged LZW strips: refused with the one error of unreadable TIFF pixel data, never
handed to imagecodecs' decoder in a form that kills the process (a code right after a
Clear code naming a table entry not made yet: a segmentation fault, napari closed with
the user's unsaved work). The crashing reads run in a child process: before the check
the child died of SIGSEGV (returncode -11)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

import napari_srmat
from napari_srmat.io import _read

CLEAR, EOI = _read._LZW_CLEAR, _read._LZW_EOI

#: The child's read: the pixels of a TIFF (argv[1]), the LZW strip streamed over the
#: decoded-strip cache when argv[2] is "streamed"; prints the error's type and words.
_READ = """
import sys
import numpy as np
from napari_srmat.io import _read
if sys.argv[2] == "streamed":  # as tests/test_io_strips.py's _over_the_cache
    _read.DECODED_STRIP_CACHE_BYTES, _read.INFLATE_RESUME_BYTES = 1000, 1 << 12
    _read._INFLATE_IN_BYTES, _read._INFLATE_OUT_BYTES = 1 << 12, 1 << 13
try:
    np.asarray(_read.read_image(sys.argv[1], chunks=64).data)
    print("read")
except Exception as exc:
    print(type(exc).__name__, exc)
"""


def _read_in_child(path: Path, how: str = "whole") -> subprocess.CompletedProcess:
    """Read ``path`` in a child process of this napari_srmat (its ``src`` first)."""
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=str(Path(napari_srmat.__file__).parents[1]))
    return subprocess.run([sys.executable, "-c", _READ, str(path), how], env=env,
                          capture_output=True, text=True, timeout=120)


def _nine_bit(codes: list[int]) -> bytes:
    """``codes`` as 9-bit codes, most significant bit first (a short TIFF LZW stream)."""
    bits, n = 0, 0
    for code in codes:
        bits, n = (bits << 9) | code, n + 9
    return (bits << (-n % 8)).to_bytes((n + 7) // 8, "big")


def _with_strip(path: Path, a: np.ndarray, stream: bytes | None = None, *,
                undefined_after_first_clear: int = 0) -> Path:
    """``a`` saved as one LZW strip, its stream replaced by ``stream`` (cut or padded to
    the strip's bytes), or the code after its first Clear code past its start (where
    the table was full) made ``undefined_after_first_clear``."""
    tifffile.imwrite(path, a, compression="lzw", rowsperstrip=a.shape[0], imagej=True)
    page = tifffile.TiffFile(path).pages[0]
    offset, count = page.dataoffsets[0], page.databytecounts[0]
    data = bytearray(path.read_bytes())
    if stream is None:
        stream = bytes(data[offset:offset + count])
        ends, _ = _read._lzw_segment_ends(stream, 9, 1 << 20)
        at = ends[0][0] + ends[0][1]
        bits, shift = int.from_bytes(stream, "big"), count * 8 - at - 9
        bits = bits & ~(0x1FF << shift) | undefined_after_first_clear << shift
        stream = bits.to_bytes(count, "big")
    data[offset:offset + count] = stream.ljust(count, b"\0")[:count]
    path.write_bytes(bytes(data))
    return path


def _assert_refused(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 0, (
        f"the read killed the process (returncode {done.returncode}): {done.stderr[-500:]}")
    assert done.stdout.startswith("ImageReadError"), done.stdout + done.stderr[-500:]
    assert "cannot read TIFF pixel data" in done.stdout
    assert _read._LZW_UNDEFINED_AFTER_CLEAR in done.stdout


def test_a_small_lzw_strip_naming_an_undefined_entry_is_refused_not_a_crash(tmp_path):
    """A 4x8 LZW TIFF whose strip is Clear, 511, 258, 65, 65, end (read through
    tifffile: a strip under the decoded-strip cache) killed the reading process with a
    segmentation fault in imagecodecs.lzw_decode (returncode -11 every time, found by
    studies/lzw_fuzz.py); it is now the one error of unreadable pixel data."""
    p = _with_strip(tmp_path / "tiny.tif", np.zeros((4, 8), np.uint8),
                    _nine_bit([CLEAR, 511, 258, 65, 65, EOI]))
    _assert_refused(_read_in_child(p))


def test_a_streamed_lzw_strip_naming_an_undefined_entry_is_refused_not_a_crash(tmp_path):
    """A 160x200 LZW strip over the decoded-strip cache, 511 put after its first
    table-full Clear code, killed the streamed reader (io._read._LzwStrip) with a
    segmentation fault (returncode -11: 6 of 6 runs from a shell, 1 of 3 under pytest;
    the other runs refused it for the IMCD_MEMORY_ERROR its table's garbage lengths
    asked; under the cache, through tifffile, such strips read as garbage pixels); it
    is now refused as the damaged strip it is, streamed or not."""
    rng = np.random.default_rng(0)
    a = (rng.integers(0, 40, (160, 200)) + np.arange(200) % 200).astype(np.uint8)
    p = _with_strip(tmp_path / "strip.tif", a, undefined_after_first_clear=511)
    _assert_refused(_read_in_child(p, "streamed"))
    _assert_refused(_read_in_child(p, "whole"))


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_the_lzw_check_passes_whole_streams_and_refuses_undefined_first_codes(dtype):
    """Streams imagecodecs writes pass (images, constant ones, empty ones); a code of
    258 or more right after a Clear code (or at the start) is refused wherever it is,
    after repeated Clear codes too; codes after the end code are not read; old-style
    streams (least significant bit first) are left to the codec."""
    import imagecodecs

    rng = np.random.default_rng(1)
    for shape in [(1, 1), (5, 7), (300, 257), (700, 700)]:
        a = (rng.random(shape) * 200).astype(dtype)
        for image in (a, np.zeros(shape, dtype)):
            _read._lzw_check(imagecodecs.lzw_encode(image.tobytes()))
    _read._lzw_check(b"")
    for codes in ([CLEAR, 511, 258, 65, 65, EOI], [CLEAR, 65, 66, CLEAR, 300, EOI],
                  [CLEAR] * 5 + [258, EOI], [CLEAR, 258, 258, EOI]):
        with pytest.raises(ValueError, match="names a table entry not made yet"):
            _read._lzw_check(_nine_bit(codes))
    _read._lzw_check(_nine_bit([CLEAR, 65, EOI, CLEAR, 300, 300]))
    _read._lzw_check(b"\x00\x01" + bytes(10))


def test_a_stream_clearing_every_few_codes_is_checked_fast():
    """A stream clearing its table every 2 codes (what tifffile decodes for the reader:
    io._read._lzw_dense) is checked in runs of short segments, not one scan per segment
    (about 10 us each: seconds here), and its undefined codes are found all the same."""
    codes = [CLEAR]
    for i in range(100_000):
        codes += [i % 256, (7 * i) % 256, CLEAR]
    stream = _nine_bit(codes + [EOI])
    start = time.perf_counter()
    _read._lzw_check(stream)
    assert time.perf_counter() - start < 0.5
    codes[-3] = 400  # the last segment's first code
    with pytest.raises(ValueError, match="names a table entry not made yet"):
        _read._lzw_check(_nine_bit(codes + [EOI]))


def test_tifffile_decodes_lzw_through_the_check_and_a_test_decoder_is_left(monkeypatch):
    """tifffile's LZW decoder is replaced by the checked one once a TIFF is read (its
    own, imagecodecs', only: a decoder a test put there stays)."""
    import imagecodecs

    decoders = tifffile.TIFF.DECOMPRESSORS._codecs
    monkeypatch.setitem(decoders, 5, imagecodecs.lzw_decode)
    _read._guard_tifffile_lzw()
    assert decoders[5] is _read._lzw_decode_checked
    with pytest.raises(ValueError, match="names a table entry not made yet"):
        decoders[5](_nine_bit([CLEAR, 511, 258, 65, 65, EOI]), out=8)

    def counted(*args, **kwargs):
        return imagecodecs.lzw_decode(*args, **kwargs)

    monkeypatch.setitem(decoders, 5, counted)
    _read._guard_tifffile_lzw()
    assert decoders[5] is counted


def _packed(codes: list[int]) -> bytes:
    """``codes`` as a TIFF LZW stream, each as wide as the table has grown it since the
    last Clear code (early change: 9 bits to 510 entries, 10, 11, then 12)."""
    bits, n, size, first = 0, 0, 258, True
    for code in codes:
        width = 9 if size < 511 else 10 if size < 1023 else 11 if size < 2047 else 12
        bits, n = (bits << width) | code, n + width
        size, first = (258, True) if code == CLEAR else (
            (size, False) if first else (size + 1, False))
    return (bits << (-n % 8)).to_bytes((n + 7) // 8, "big")


def _codec_reads_undefined(data: bytes) -> bool:
    """Whether the codec, reading ``data`` code by code, meets a first code after a
    Clear code that names an entry not made yet (before the end code, the data's end,
    or its table's 5120 entries)."""
    nbits, value = len(data) * 8, int.from_bytes(data, "big")
    at, size, first = 0, 258, True
    while True:
        width = 9 if size < 511 else 10 if size < 1023 else 11 if size < 2047 else 12
        if at + width > nbits:
            return False
        code, at = value >> (nbits - at - width) & ((1 << width) - 1), at + width
        if code == EOI:
            return False
        if code == CLEAR:
            size, first = 258, True
        elif first:
            if code >= 258:
                return True
            first = False
        else:
            size += 1
            if size >= 5120:
                return False


def test_the_lzw_check_refuses_what_the_codec_would_read_undefined():
    """On random streams (short and long segments, segments of more than 4096 codes,
    which the codec reads on in 12 bits, early ends, repeated Clear codes), the check
    refuses exactly the streams in which the codec would read an undefined entry."""
    rng = np.random.default_rng(3)
    for k in range(400):
        codes, size, first = [CLEAR], 258, True
        lengths = rng.choice([2, 30, 300, 3000, 4500], size=int(rng.integers(1, 5)))
        for length in lengths:
            for _ in range(int(length)):
                bad = first and rng.random() < 0.05
                code = int(rng.integers(258, 512)) if bad else int(rng.integers(0, 256))
                size, first = (size, False) if first else (size + 1, False)
                codes.append(code)
            codes.append(CLEAR)
            size, first = 258, True
        codes += [EOI] if k % 2 else []
        stream = _packed(codes)
        try:
            _read._lzw_check(stream)
            refused = False
        except ValueError:
            refused = True
        assert refused == _codec_reads_undefined(stream), (k, lengths)
