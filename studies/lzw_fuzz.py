"""Fuzz the LZW decoders a TIFF read goes through, each case in a child process, so that
a segmentation fault is seen (a child killed by a signal) and its exact input kept.

Cases (a fixed seed, the same ones every run): streams of random TIFF LZW codes (code
widths as TIFF's early change grows them; old-style ones too, least significant bit
first, as codec streams and as TIFF strips) with the corruptions a damaged strip holds
(a code past the table, an undefined code right after a Clear code, repeated Clear
codes, an early end code, a cut), and real streams (``imagecodecs.lzw_encode`` of
uint8, uint16 and float32 images) with bits flipped, bytes overwritten or zeroed, cut
short, or an undefined code put after a Clear code.
Each is decoded by ``imagecodecs.lzw_decode`` told no size, its true size, less and
more (``out=``), and, as a strip of a small LZW TIFF, by ``tifffile.imread`` and by
``napari_srmat.io.read_image`` (the strip under the decoded-strip cache: through
tifffile; over it: the streamed reader of ``io._read``).

A child runs the cases in turn and notes each before it starts it; a child that dies
of a signal names the case that killed it: its input is written to
``studies/results/lzw_fuzz_crashes/`` and a fresh child goes on after it. Prints and
writes ``studies/results/lzw_fuzz.json``: cases run and crashed per decoder, the
exception types raised per decoder, and whether each crashing codec stream had an
undefined code right after a Clear code (:func:`napari_srmat.io._read._lzw_check`'s
rule).

Measured (30810 cases, 2 shared CPUs, imagecodecs 2026.3.6, tifffile 2026.3.3):
before the check (napari_srmat at 018294f) 10 segmentation faults: 9 of the streamed
reader (3 of those crash alone every time) and 1 of the direct codec call (not
alone); after it (764af41), none through napari_srmat (the direct codec call still
crashes on its input, which the check refuses).
With old-style streams (36410 cases since b56bb57: 1000 random old-style code streams
for the codec, 200 as the strip of a TIFF): at b56bb57's parent (the check put in
tifffile's process-wide table, old-style not checked, Zarr view errors not ours) the
reader's 800 TIFF reads gave ImageReadError 460, ValueError 52, ImcdError 56,
TiffFileError 56 (no file named) and ok 176 (no crash in that run; an old-style
Clear, 511, 258, ... strip crashes it every time: tests/test_io_lzw_corrupt.py), and
tifffile's own decoder (as any other code in the process reads) 4 segmentation faults
of old-style TIFFs; at b56bb57 the reader gives ImageReadError 624 and ok 176, no
crash (studies/results/lzw_fuzz.json; tifffile's own decoder, left unchecked there
now, crashed once, crash1_tifffile.tif).

    PYTHONPATH=src python studies/lzw_fuzz.py   # ~30 s
"""

from __future__ import annotations

import collections
import json
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CRASHES = RESULTS / "lzw_fuzz_crashes"
SEED = 20261206
N_CODE_CASES = 4000  # streams of random codes
N_REAL_CASES = 1500  # corrupted real streams
N_TIFF_CASES = 600  # corrupted strips of LZW TIFFs, each read by tifffile and our reader
N_OLD_CASES = 1000  # streams of random codes, old-style (least significant bit first)
N_OLD_TIFF_CASES = 200  # such streams as the strip of an LZW TIFF, read as the others
CLEAR, EOI = 256, 257


def _pack(codes: list[int], old: bool = False) -> bytes:
    """``codes`` as a TIFF LZW stream (most significant bit first), each as wide as the
    table grows it after the last Clear code (early change: 9 bits to 510 entries, then
    10, 11, 12); a Clear code resets it. ``old``: old-style LZW (least significant bit
    first, each width one code later)."""
    bits, n, size, first = 0, 0, 258, True
    for code in codes:
        grown = size - old  # old-style widens at 512 entries, not 511
        width = 9 if grown < 511 else 10 if grown < 1023 else 11 if grown < 2047 else 12
        code &= (1 << width) - 1
        bits, n = (bits | code << n, n + width) if old else ((bits << width) | code,
                                                              n + width)
        if code == CLEAR:
            size, first = 258, True
        elif first:
            first = False
        else:
            size = min(size + 1, 4096)
    pad = -n % 8
    if old:
        return bits.to_bytes((n + pad) // 8, "little")
    return (bits << pad).to_bytes((n + pad) // 8, "big")


def _random_codes(rng) -> list[int]:
    """A Clear code, then segments of random valid codes with one corruption or more."""
    codes, size = [CLEAR], 258
    first = True
    for _ in range(int(rng.integers(2, 1200))):
        kind = rng.random()
        if kind < 0.01:
            codes.append(EOI)  # early end
            break
        if kind < 0.03:
            codes += [CLEAR] * int(rng.integers(1, 4))  # (repeated) Clear
            size, first = 258, True
            continue
        if first:
            code = int(rng.integers(0, 256)) if rng.random() < 0.9 else int(
                rng.integers(258, 4096))  # sometimes an undefined code after a Clear
            first = False
        elif rng.random() < 0.01:
            code = int(rng.integers(size + 1, 4096))  # past the table
        else:
            code = int(rng.integers(0, size + 1))
            code = code if code not in (CLEAR, EOI) else 65
            size = min(size + 1, 4096)
        codes.append(code)
    if rng.random() < 0.7:
        codes.append(EOI)
    return codes


def _image(rng, dtype: str, shape=(48, 64)) -> np.ndarray:
    ramp = np.linspace(0, 1, shape[1])[None, :] + rng.random(shape) * 0.2
    if dtype == "float32":
        return ramp.astype(np.float32)
    top = 255 if dtype == "uint8" else 4095
    return (ramp / 1.2 * top).astype(dtype)


def _undefined_after_clear(rng, data: bytes) -> bytes:
    """``data`` (a whole stream) with the code after one of its Clear codes (the first,
    or one where the table was full) made one the fresh table does not hold."""
    from napari_srmat.io._read import _lzw_segment_ends

    ends, _ = _lzw_segment_ends(data, 9, 1 << 20)
    clears = [0] + [at + width for at, width, last in ends if not last]
    at = clears[int(rng.integers(0, len(clears)))]
    if at + 9 > len(data) * 8:
        return data
    bits = int.from_bytes(data, "big")
    shift = len(data) * 8 - at - 9
    bits = bits & ~(0x1FF << shift) | int(rng.integers(258, 512)) << shift
    return bits.to_bytes(len(data), "big")


def _corrupt(rng, data: bytes) -> bytes:
    """``data`` with bits flipped, bytes overwritten, a span zeroed, cut short, or an
    undefined code after a Clear code."""
    buf = bytearray(data)
    kind = int(rng.integers(0, 5))
    if kind == 4:
        return _undefined_after_clear(rng, data)
    if kind == 0:
        for _ in range(int(rng.integers(1, 9))):
            i = int(rng.integers(2, len(buf)))  # the first Clear kept: decoded at all
            buf[i] ^= 1 << int(rng.integers(0, 8))
    elif kind == 1:
        for _ in range(int(rng.integers(1, 5))):
            buf[int(rng.integers(2, len(buf)))] = int(rng.integers(0, 256))
    elif kind == 2:
        i = int(rng.integers(2, len(buf)))
        n = min(int(rng.integers(1, 64)), len(buf) - i)
        buf[i:i + n] = bytes(n)
    else:
        buf = buf[:int(rng.integers(0, len(buf)))]
    return bytes(buf)


def _cases(workdir: Path) -> list[tuple]:
    """``(decoder, input, argument)`` per case: a stream and the ``out`` size for the
    codec, a TIFF path for tifffile and the reader."""
    import imagecodecs
    import tifffile

    rng = np.random.default_rng(SEED)
    cases = []

    def codec_cases(data: bytes, true: int | None) -> None:
        cases.append(("codec", data, None))
        for out in {true, 0, 1, (true or 64) // 2, (true or 64) * 2 + 7}:
            if out is not None:
                cases.append(("codec_out", data, int(out)))

    for _ in range(N_CODE_CASES):
        codec_cases(_pack(_random_codes(rng)), None)
    for _ in range(N_OLD_CASES):
        codec_cases(_pack(_random_codes(rng), old=True), None)
    for k in range(N_OLD_TIFF_CASES):
        p = workdir / f"old{k}.tif"
        tifffile.imwrite(p, iter([_pack(_random_codes(rng), old=True)]), shape=(160, 200),
                         dtype=np.uint8, compression=5, rowsperstrip=160)
        cases += [("tifffile", str(p), None), ("reader", str(p), 32),
                  ("reader_streamed", str(p), 32)]
    codec_cases(b"", 0)
    codec_cases(_pack([CLEAR] * 5 + [EOI]), 0)
    for k in range(N_REAL_CASES):
        a = _image(rng, ("uint8", "uint16", "float32")[k % 3])
        codec_cases(_corrupt(rng, imagecodecs.lzw_encode(a.tobytes())), a.nbytes)
    for k in range(N_TIFF_CASES):
        a = _image(rng, ("uint8", "uint16", "float32")[k % 3], (160, 200))
        p = workdir / f"case{k}.tif"
        rows = int(rng.choice([8, 64, 160, 160]))  # one strip: streamed over the cache
        tifffile.imwrite(p, a, compression="lzw", rowsperstrip=rows)
        page = tifffile.TiffFile(p).pages[0]
        data = bytearray(p.read_bytes())
        for offset, count in zip(page.dataoffsets, page.databytecounts):
            if rng.random() < (0.3 if rows < 160 else 1):
                strip = _corrupt(rng, bytes(data[offset:offset + count]))
                data[offset:offset + count] = strip.ljust(count, b"\0")
        p.write_bytes(bytes(data))
        cases += [("tifffile", str(p), None), ("reader", str(p), 32),
                  ("reader_streamed", str(p), 32)]
    return cases


def _run_case(decoder: str, data, arg) -> str:
    """Decode one case; the exception type's name, or ``ok``."""
    try:
        if decoder == "codec":
            import imagecodecs
            imagecodecs.lzw_decode(data)
        elif decoder == "codec_out":
            import imagecodecs
            imagecodecs.lzw_decode(data, out=arg)
        elif decoder == "tifffile":  # its own decoder (napari_srmat's reads check it)
            import tifffile
            tifffile.TIFF.DECOMPRESSORS._codecs.pop(5, None)
            tifffile.imread(data)
        else:
            from napari_srmat.io import _read
            _read.clear_decoded_strip_cache()
            if decoder == "reader_streamed":  # the strip over the cache: streamed
                _read.DECODED_STRIP_CACHE_BYTES, _read.INFLATE_RESUME_BYTES = 100, 256
            else:
                _read.DECODED_STRIP_CACHE_BYTES = 1 << 30
            np.asarray(_read.read_image(data, chunks=arg).data)
    except Exception as exc:  # noqa: BLE001 - the type is the result
        return type(exc).__name__
    return "ok"


def _child(cases_file: str, start: int, progress: str) -> None:
    """Run the cases from ``start``, each noted in ``progress`` (flushed) before it."""
    with open(cases_file, "rb") as fh:
        cases = pickle.load(fh)
    with open(progress, "a") as out:
        for i in range(start, len(cases)):
            out.write(f"start {i}\n")
            out.flush()
            out.write(f"done {i} {_run_case(*cases[i])}\n")
            out.flush()


def _first_after_clear_undefined(data: bytes) -> bool | None:
    """Whether a stream holds a code of 258 or more right after a Clear code (our
    check's rule), as :func:`napari_srmat.io._read._lzw_check` tells it."""
    from napari_srmat.io import _read

    try:
        _read._lzw_check(data)
    except ValueError as exc:
        return "after a Clear" in str(exc)
    except AttributeError:  # a napari_srmat before the check
        return None
    return False


def main() -> None:
    from _common import no_options

    no_options(__doc__)
    CRASHES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cases = _cases(work)
        cases_file = work / "cases.pkl"
        cases_file.write_bytes(pickle.dumps(cases))
        progress = work / "progress.txt"
        outcome: dict[str, collections.Counter] = collections.defaultdict(
            collections.Counter)
        crashes, start = [], 0
        env = dict(os.environ, OMP_NUM_THREADS="1")
        while start < len(cases):
            progress.write_text("")
            child = (f"import sys; sys.path.insert(0, {str(HERE)!r}); "
                     f"import lzw_fuzz; lzw_fuzz._child({str(cases_file)!r}, {start}, "
                     f"{str(progress)!r})")
            proc = subprocess.run([sys.executable, "-c", child], env=env,
                                  capture_output=True, text=True)
            last = start
            for line in progress.read_text().splitlines():
                word, i, *rest = line.split()
                last = int(i)
                if word == "done":
                    outcome[cases[last][0]][rest[0]] += 1
            if proc.returncode == 0:
                break
            decoder, data, arg = cases[last]
            name = f"crash{len(crashes)}_{decoder}"
            if isinstance(data, str):
                stream = Path(data).read_bytes()
                (CRASHES / f"{name}.tif").write_bytes(stream)
            else:
                stream = data
                (CRASHES / f"{name}.lzw").write_bytes(data)
            outcome[decoder][f"signal {-proc.returncode}"] += 1
            crashes.append({"case": last, "decoder": decoder, "out": arg,
                            "returncode": proc.returncode, "file": name,
                            "undefined_after_clear": (
                                _first_after_clear_undefined(stream)
                                if decoder.startswith("codec") else None)})
            start = last + 1
    result = {"cases": len(cases), "crashes": len(crashes),
              "per_decoder": {k: dict(v) for k, v in sorted(outcome.items())},
              "crash_cases": crashes}
    (RESULTS / "lzw_fuzz.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
