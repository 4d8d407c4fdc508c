"""Damaged LZW strips: refused with the one error of unreadable TIFF pixel data, never
handed to imagecodecs' decoder in a form that kills the process (a code right after a
Clear code naming a table entry not made yet: a segmentation fault, napari closed with
the user's unsaved work). The crashing reads run in a child process: before the check
the child died of SIGSEGV (returncode -11)."""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import time
from pathlib import Path

import dask
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
        stream, _ = _after_first_clear(bytes(data[offset:offset + count]),
                                       undefined_after_first_clear)
    data[offset:offset + count] = stream.ljust(count, b"\0")[:count]
    path.write_bytes(bytes(data))
    return path


def _after_first_clear(stream: bytes, code: int) -> tuple[bytes, int]:
    """``stream`` (a TIFF LZW strip) with the code after its first Clear code past its
    start (where the table was full) made ``code``, and that code's bit position."""
    ends, _ = _read._lzw_segment_ends(stream, 9, 1 << 20)
    at = ends[0][0] + ends[0][1]
    bits, shift = int.from_bytes(stream, "big"), len(stream) * 8 - at - 9
    return (bits & ~(0x1FF << shift) | code << shift).to_bytes(len(stream), "big"), at


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


def test_reading_an_lzw_tiff_leaves_tifffile_s_decoder_to_other_readers(tmp_path):
    """A read swapped imagecodecs' LZW decoder in tifffile's process-wide table for the
    checked one (from then on every TIFF any library in the process read, napari's own
    reader included, was checked, at about twice the decode's time): the check is now
    put on the decode of the levels napari_srmat opens only, and tifffile's table and
    a TiffFile opened by anyone else are left as they were."""
    import imagecodecs

    a = np.arange(64 * 80, dtype=np.uint16).reshape(64, 80)
    p = tmp_path / "strips.tif"
    tifffile.imwrite(p, a, compression="lzw", rowsperstrip=8)
    np.testing.assert_array_equal(np.asarray(_read.read_image(p, chunks=32).data), a)
    assert tifffile.TIFF.DECOMPRESSORS[5] is imagecodecs.lzw_decode
    with tifffile.TiffFile(p) as tif:
        assert not getattr(tif.pages[0].decode, "lzw_checked", False)
        np.testing.assert_array_equal(tif.asarray(), a)



def test_an_lzw_tiff_is_refused_where_tifffile_s_decoders_cannot_be_checked(
        tmp_path, monkeypatch):
    """The check is put on tifffile's private per-page cached ``decode`` and per-file
    ``_decoders``: a tifffile keeping them otherwise (here its page's ``decode`` built
    afresh at each use) read every strip unchecked, silently (a damaged one: a
    segmentation fault); now the open is the one line naming the file and tifffile."""
    a = np.arange(32 * 40, dtype=np.uint8).reshape(32, 40)
    p = tmp_path / "strips.tif"
    tifffile.imwrite(p, a, compression="lzw", rowsperstrip=8)
    cached = tifffile.TiffPage.__dict__["decode"]

    def fresh(page):
        page.parent.root._decoders.pop(page.hash, None)
        return cached.func(page)

    monkeypatch.setattr(tifffile.TiffPage, "decode", property(fresh))
    with pytest.raises(_read.ImageReadError) as err:
        np.asarray(_read.read_image(p, chunks=16).data)
    msg = str(err.value)
    assert msg.startswith(f"{p}: LZW strips not read: tifffile {tifffile.__version__}")
    assert "\n" not in msg and msg.count(str(p)) == 1, msg
    assert msg.endswith(f'pip install "tifffile=={_read._TIFFFILE_LZW_HOOKED}" (the '
                        "release napari-srmat was tested with) or save the file "
                        "without LZW"), msg  # what to do, not only which release

def _damaged_first_chunk(path: Path, page_of=lambda tif: tif.pages[0]) -> Path:
    """``path`` (an LZW TIFF) with the code after its first strip or tile's opening
    Clear code made 511 (an entry not made yet), the strip of ``page_of(tif)``."""
    with tifffile.TiffFile(path) as tif:
        page = page_of(tif)
        offset, count = page.dataoffsets[0], page.databytecounts[0]
        reverse = page.fillorder == 2
    data = bytearray(path.read_bytes())
    strip = bytes(data[offset:offset + count])
    if reverse:
        import imagecodecs

        strip = imagecodecs.bitorder_decode(strip)
    bits = int.from_bytes(strip, "big")
    shift = count * 8 - 18  # the second 9-bit code
    assert bits >> (count * 8 - 9) == CLEAR
    strip = (bits & ~(0x1FF << shift) | 511 << shift).to_bytes(count, "big")
    if reverse:
        strip = imagecodecs.bitorder_decode(strip)
    data[offset:offset + count] = strip
    path.write_bytes(bytes(data))
    return path


def _fill_order_2(path: Path, a: np.ndarray) -> Path:
    """``a`` as an LZW TIFF of 8-row strips whose bytes are stored bit-reversed
    (FillOrder 2, as some fax-era writers store them; tifffile reverses them back)."""
    import imagecodecs

    tifffile.imwrite(path, a, compression="lzw", rowsperstrip=8,  # tifffile writes no
                     extratags=[(263, "H", 1, 2, True)])  # FillOrder: a 263 made 266
    data = bytearray(path.read_bytes())
    entry = b"\x07\x01\x03\x00\x01\x00\x00\x00\x02\x00"  # tag 263, SHORT, 1, 2
    at = data.index(entry)
    data[at:at + 2] = (266).to_bytes(2, "little")
    with tifffile.TiffFile(path) as tif:
        for offset, count in zip(tif.pages[0].dataoffsets, tif.pages[0].databytecounts):
            data[offset:offset + count] = imagecodecs.bitorder_decode(
                bytes(data[offset:offset + count]))
    path.write_bytes(bytes(data))
    return path



def test_an_lzw_strip_read_again_or_repeated_is_checked_once_and_again_if_changed(
        tmp_path, monkeypatch):
    """Each decode of a strip checked its stream (about 0.7 of a decode's time), so a
    strip decoded by each of the Dask chunks across it, a second pass over a level
    (napari panning back), the open's probe of the last strip and every copy of a
    repeated strip (a uniform band) were checked again: 41 checks for the 8 strips (4
    of them alike) of a 64 x 80 image read in 16 px chunks, and 41 more for a second
    pass; now 5 and none. A strip whose bytes changed on disk since is checked again:
    damaged, it is the file's one line."""
    a = np.random.default_rng(0).integers(0, 8, (64, 80), dtype=np.uint8)
    a[:32] = 0  # strips 0-3 alike
    p = tmp_path / "strips.tif"
    tifffile.imwrite(p, a, compression="lzw", rowsperstrip=8)
    calls = []
    check = _read._lzw_check
    monkeypatch.setattr(_read, "_lzw_check", lambda data, *args: (
        calls.append(len(data)), check(data, *args))[1])
    m = _read.read_image(p, chunks=16)
    with dask.config.set(scheduler="synchronous"):  # one chunk at a time: threads may
        np.testing.assert_array_equal(np.asarray(m.data), a)  # check a strip at once
        assert len(calls) == 5, calls
        np.testing.assert_array_equal(np.asarray(m.data), a)
        assert len(calls) == 5, calls
    _damaged_first_chunk(p)
    with pytest.raises(_read.ImageReadError, match=f"^{re.escape(str(p))}: cannot read"):
        np.asarray(m.data.compute(scheduler="synchronous"))
    assert calls[5:] == [min(calls[:5])], calls  # the damaged strip 0, and only it


#: The child's read of each of several TIFFs (argv[1:]): a full pass over every level,
#: one line per file: "read", or the error's type and words.
_READ_ALL = """
import sys
import numpy as np
from napari_srmat.io import _read
for path in sys.argv[1:]:
    try:
        m = _read.read_image(path, chunks=32)
        for level in m.levels:
            np.asarray(level)
        print("read", flush=True)
    except Exception as exc:
        print(type(exc).__name__, str(exc).replace(chr(10), "<newline>"), flush=True)
"""


def _lzw_layouts(tmp_path: Path) -> dict[str, tuple[Path, np.ndarray]]:
    """LZW TIFFs of every layout napari_srmat hands to tifffile: name -> (path, pixels
    of level 0)."""
    rng = np.random.default_rng(5)
    grey = (rng.integers(0, 60, (96, 112)) + np.arange(112)).astype(np.uint8)
    wide = (rng.integers(0, 600, (96, 112)) * 50).astype(np.uint16)
    flt = rng.random((96, 112)).astype(np.float32)
    out = {}

    def put(name, a, **kwargs):
        p = tmp_path / f"{name}.tif"
        tifffile.imwrite(p, a, compression="lzw", **kwargs)
        out[name] = (p, a)

    put("strips", grey, rowsperstrip=8)
    put("tiles", grey, tile=(32, 32))
    put("predictor-2", wide, rowsperstrip=8, predictor=2)
    put("float-predictor", flt, rowsperstrip=8, predictor=3)
    put("bigtiff", grey, rowsperstrip=8, bigtiff=True)
    put("ome", grey, rowsperstrip=8, ome=True)
    rgb = np.stack([grey, grey[::-1], grey[:, ::-1]])
    put("ome-channel-pages", rgb, rowsperstrip=8, ome=True, metadata={"axes": "CYX"})
    out["ome-channel-pages"] = (out["ome-channel-pages"][0], np.moveaxis(rgb, 0, -1))
    p = tmp_path / "pyramid.tif"
    with tifffile.TiffWriter(p) as tw:
        tw.write(grey, subifds=1, compression="lzw", tile=(32, 32))
        tw.write(grey[::2, ::2], subfiletype=1, compression="lzw", tile=(32, 32))
    out["pyramid"] = (p, grey)
    out["fill-order-2"] = (_fill_order_2(tmp_path / "fill-order-2.tif", grey), grey)
    return out


def test_lzw_tiffs_of_every_layout_read_through_the_check(tmp_path):
    """Strips, tiles, the horizontal and the floating-point predictor, BigTIFF,
    OME-TIFF, channels as pages, a pyramid's levels and bit-reversed strips (FillOrder
    2: checked as the codec reads them, reversed back) read as tifffile reads them."""
    for name, (p, a) in _lzw_layouts(tmp_path).items():
        m = _read.read_image(p, chunks=32)
        np.testing.assert_array_equal(np.asarray(m.data), a, err_msg=name)


def test_a_damaged_lzw_strip_or_tile_of_any_layout_is_the_file_s_one_line_error(
        tmp_path):
    """The first strip or tile (of a pyramid: of its second level) made to name an
    entry not made yet after its opening Clear code: before, a full lazy pass raised
    tifffile's and the codec's own errors (ValueError of the check, ImcdError) with
    no file named (napari showed a traceback), or, where no read of ours had swapped
    tifffile's decoder, reached the codec; each is now the one line of unreadable TIFF
    pixel data naming the file, read in a child process."""
    layouts = _lzw_layouts(tmp_path)
    paths = []
    for name, (p, _) in layouts.items():
        if name == "pyramid":
            _damaged_first_chunk(p, lambda tif: tif.series[0].levels[1].pages[0])
        else:
            _damaged_first_chunk(p)
        paths.append(p)
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=str(Path(napari_srmat.__file__).parents[1]))
    done = subprocess.run([sys.executable, "-c", _READ_ALL, *map(str, paths)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr[-500:])
    lines = done.stdout.splitlines()
    assert len(lines) == len(paths), done.stdout
    for p, line in zip(paths, lines):
        assert line.startswith(f"ImageReadError {p}: cannot read TIFF pixel data"), line
        assert _read._LZW_UNDEFINED_AFTER_CLEAR in line and "<newline>" not in line, line


def test_a_pickled_lzw_image_refuses_a_damaged_strip_in_a_fresh_process(tmp_path):
    """A lazy image of a one-strip LZW TIFF travels as its path (to a dask.distributed
    worker): there it decodes the strip with tifffile in a process where napari_srmat
    opened no file. Damaged after it was pickled, the strip reached imagecodecs
    unchecked there (the check was put in tifffile's table by an open only): the worker
    died of a segmentation fault (returncode -11); it is now the file's read error."""
    a = np.zeros((64, 64), np.uint8)
    p = tmp_path / "travels.tif"
    tifffile.imwrite(p, a, compression="lzw", rowsperstrip=64)
    m = _read.read_image(p, chunks=16)
    blob = tmp_path / "image.pickle"
    blob.write_bytes(pickle.dumps(m.data))
    _with_strip(p, a, _nine_bit([CLEAR, 511, 258, 65, 65, EOI]))
    code = ("import pickle, sys, numpy as np\n"
            "try:\n"
            "    np.asarray(pickle.loads(open(sys.argv[1], 'rb').read()))\n"
            "    print('read')\n"
            "except Exception as exc:\n"
            "    print(type(exc).__name__, exc)\n")
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=str(Path(napari_srmat.__file__).parents[1]))
    done = subprocess.run([sys.executable, "-c", code, str(blob)], env=env,
                          capture_output=True, text=True, timeout=120)
    _assert_refused(done)


def _lsb(codes: list[int]) -> bytes:
    """``codes`` as 9-bit codes, least significant bit first (old-style LZW)."""
    bits, n = 0, 0
    for code in codes:
        bits, n = bits | code << n, n + 9
    return bits.to_bytes((n + 7) // 8, "little")


def test_an_old_style_lzw_strip_naming_an_undefined_entry_is_refused_not_a_crash(
        tmp_path):
    """Old-style LZW (codes least significant bit first, as early libtiff wrote them)
    was not checked: Clear, 511, 258, 65, 65, end killed the reading process as TIFF's
    LZW does (returncode -11, imagecodecs reads either the same way); it is now
    refused by the same rule."""
    p = tmp_path / "old.tif"
    a = np.zeros((4, 8), np.uint8)
    tifffile.imwrite(p, iter([_lsb([CLEAR, 511, 258, 65, 65, EOI])]), shape=a.shape,
                     dtype=a.dtype, compression=5, rowsperstrip=4)
    _assert_refused(_read_in_child(p))


def _width(size: int, old: bool) -> int:
    """A code's width with ``size`` table entries: TIFF's early change (9 bits to 510
    entries, 10, 11, then 12), or old-style LZW's one code later (``old``)."""
    size -= bool(old)  # old-style widens at 512 entries, not 511
    return 9 if size < 511 else 10 if size < 1023 else 11 if size < 2047 else 12


def _packed(codes: list[int], old: bool = False) -> bytes:
    """``codes`` as an LZW stream, each as wide as the table has grown it since the last
    Clear code (:func:`_width`), most significant bit first, or least (``old``)."""
    bits, n, size, first = 0, 0, 258, True
    for code in codes:
        width = _width(size, old)
        if old:
            bits, n = bits | code << n, n + width
        else:
            bits, n = (bits << width) | code, n + width
        size, first = (258, True) if code == CLEAR else (
            (size, False) if first else (size + 1, False))
    if old:
        return bits.to_bytes((n + 7) // 8, "little")
    return (bits << (-n % 8)).to_bytes((n + 7) // 8, "big")


def _codec_reads_undefined(data: bytes) -> bool:
    """Whether the codec, reading ``data`` code by code (old-style when its first byte
    is 0 and its second odd, as the codec tells it), meets a first code after a Clear
    code (or at the start) that names an entry not made yet (before the end code, the
    data's end, or its table's 5120 entries)."""
    old = len(data) >= 2 and data[0] == 0 and data[1] & 1  # as the codec tells it
    nbits = len(data) * 8
    value = int.from_bytes(data, "little" if old else "big")
    at, size, first = 0, 258, True
    while True:
        width = _width(size, old)
        if at + width > nbits:
            return False
        shift = at if old else nbits - at - width
        code, at = value >> shift & ((1 << width) - 1), at + width
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


@pytest.mark.parametrize("kind", ["tiff", "tiff-no-clear-first", "old-style"])
def test_the_lzw_check_refuses_what_the_codec_would_read_undefined(kind):
    """On random streams (short and long segments, segments of more than 4096 codes,
    which the codec reads on in 12 bits, early ends, repeated Clear codes; TIFF's, TIFF's
    with no Clear code first, old-style ones), the check refuses exactly the streams in
    which the codec would read an undefined entry."""
    import imagecodecs

    old = kind == "old-style"
    rng = np.random.default_rng(3)
    for k in range(400 if kind == "tiff" else 150):
        codes, size, first = [] if kind == "tiff-no-clear-first" else [CLEAR], 258, True
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
        stream = _packed(codes, old)
        try:
            _read._lzw_check(stream)
            refused = False
        except ValueError:
            refused = True
        assert refused == _codec_reads_undefined(stream), (k, lengths)
    if old:  # the model's widths are the codec's: a long valid stream decodes whole
        data = bytes(rng.integers(0, 256, 9000, np.uint8))
        codes = [CLEAR, *data[:4200], CLEAR, *data[4200:], EOI]
        assert imagecodecs.lzw_decode(_packed(codes, old=True)) == data


def test_srmat_commands_name_the_file_of_a_damaged_lzw_strip_in_one_line(tmp_path):
    """`srmat info --verify` listed a damaged strip of a multi-strip LZW TIFF as
    "ValueError: an LZW code right after ..." (tifffile's view raised the check's own
    error, no file named): it is now the file's read error; `srmat grain-size`, which
    reads the pixels, fails in one line naming the file, exit 2, no traceback."""
    rng = np.random.default_rng(5)
    a = (rng.integers(0, 60, (256, 256)) + np.arange(256) % 100).astype(np.uint8)
    p = tmp_path / "damaged.tif"
    tifffile.imwrite(p, a, compression="lzw", rowsperstrip=16)
    _damaged_first_chunk(p)
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=str(Path(napari_srmat.__file__).parents[1]))

    def srmat(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "napari_srmat", *args], env=env,
                              capture_output=True, text=True, timeout=300)

    done = srmat("info", "--verify", str(p))
    assert done.returncode == 2, done.stdout + done.stderr[-500:]
    bad = [line for line in done.stdout.splitlines() if line.startswith("  level 0 rows")]
    assert bad and all(f"ImageReadError: {p}: cannot read TIFF pixel data" in line
                       and _read._LZW_UNDEFINED_AFTER_CLEAR in line for line in bad), bad
    done = srmat("grain-size", str(p))
    assert done.returncode == 2, done.stdout + done.stderr[-500:]
    errors = [line for line in done.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"{p}: cannot read TIFF pixel data" in errors[0], done.stderr
    # zarr's unstarted chunk reads added "warning: coroutine 'concurrent_map.<locals>.run'
    # was never awaited" about 1 run in 10 (cli.UNSTARTED_READ_DEBRIS drops it)
    assert done.stderr.count("\n") == 1, done.stderr


def test_a_pixel_read_error_without_text_names_its_type(tmp_path):
    """A codec error with an empty message read "... corrupt ()": the reason in the
    one-line error is the exception's type where it has no text (errors.exception_reason)."""
    from napari_srmat.io._read import _TiffChunks

    class Silent:
        shape, dtype, chunks, ndim, size, nchunks, nbytes = (2, 2), "u1", (2, 2), 2, 4, 1, 4

        def __getitem__(self, index):
            raise ValueError()

    with pytest.raises(_read.ImageReadError) as info:
        _TiffChunks(Silent(), tmp_path / "a.tif")[:]
    assert str(info.value).endswith("file truncated or corrupt (ValueError)"), info.value


def _damaged_after_first_clear(path: Path, plane: int) -> None:
    """The code after the first table-full Clear code of ``plane`` 's LZW strip (past
    its first 4 KiB: the open's head probe does not reach it) made 511."""
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        offset, count = page.dataoffsets[plane], page.databytecounts[plane]
    data = bytearray(path.read_bytes())
    data[offset:offset + count], at = _after_first_clear(bytes(data[offset:offset + count]),
                                                         511)
    assert at > 8 * 4096
    path.write_bytes(bytes(data))


_GRAIN_SIZE_OVER_THE_CACHE = """
import sys
from napari_srmat.io import _read
_read.DECODED_STRIP_CACHE_BYTES = int(sys.argv[1])
from napari_srmat.cli import main
sys.exit(main(["grain-size", sys.argv[2]]))
"""


def test_a_damaged_plane_of_a_planar_lzw_strip_over_the_cache_is_refused_at_its_read(
        tmp_path, monkeypatch):
    """Samples stored planar, one LZW strip per plane, over the decoded-strip cache
    (streamed, each plane alone): the open's probe decodes the last plane only, so a
    damaged code in another plane (here past its first 4 KiB, in a 50 KB strip) is
    found when that plane is read, as a damaged tile of a tiled file is (checking every
    plane at open reads and checks the whole file: a 4096² RGB open took 0.75 s, and
    0.64-0.71 s more to check its other two planes, one-off). The read's refusal is
    the file's one line; `srmat grain-size` fails in one line naming the file, exit 2,
    no traceback (docs/io.md)."""
    rng = np.random.default_rng(0)
    a = (rng.integers(0, 40, (3, 200, 200)) + np.arange(200) % 200).astype(np.uint8)
    p = tmp_path / "planar.tif"
    tifffile.imwrite(p, a, compression="lzw", rowsperstrip=200, photometric="rgb",
                     planarconfig="separate")
    _damaged_after_first_clear(p, 0)
    cap = a.nbytes // 2  # each plane under it, the image over it: streamed
    monkeypatch.setattr(_read, "DECODED_STRIP_CACHE_BYTES", cap)
    m = _read.read_image(p, chunks=64)  # opens: the last plane is sound
    with pytest.raises(_read.ImageReadError) as refused:
        np.asarray(m.data)
    line = str(refused.value)
    assert line.startswith(f"{p}: cannot read TIFF pixel data") and "\n" not in line
    assert _read._LZW_UNDEFINED_AFTER_CLEAR in line
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=str(Path(napari_srmat.__file__).parents[1]))
    done = subprocess.run([sys.executable, "-c", _GRAIN_SIZE_OVER_THE_CACHE, str(cap),
                           str(p)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr[-500:]
    errors = [ln for ln in done.stderr.splitlines() if ": error: " in ln]
    assert len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"{p}: cannot read TIFF pixel data" in errors[0], done.stderr
