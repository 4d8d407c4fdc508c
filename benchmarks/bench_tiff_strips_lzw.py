"""Benchmark: what streaming an LZW strip over the decoded-strip cache costs.

An LZW strip larger than ``io._read.DECODED_STRIP_CACHE_BYTES`` is read by each chunk
from a resume point to its last row (``io._read._LzwStrip``): decoded in pieces from
Clear code to Clear code found by a scan of the codes. This writes a ``--size`` x
``--size`` grey uint8 image (noise over a ramp) as one LZW strip and measures, best of
``--repeat``, in the same run:

``stream_cost``
    the codec's decode of the whole strip in one call, told its size (as tifffile
    decodes it), one read streaming the whole strip from its start (``scanned``: its
    Clear codes found by a scan of the codes, resume points kept a 32nd of the strip
    apart; ``LZW_STREAM_COST`` set to 0: never taken in one piece) and one more
    (``from_points``: from the points the first kept, no scan); ``*_ratio``: over the
    whole decode; ``checked_whole``: the whole strip decoded in one piece as a read of
    the rest of a strip decodes it (``io._read._lzw_decoded``: its codes checked first,
    ``_lzw_check``, since 764af41), and ``scanned_over_checked_ratio``: what
    ``io._read.LZW_STREAM_COST`` is set from (streaming a byte over decoding it in one
    piece). Each ratio is taken within one repeat (the checked piece first in even
    repeats, last in odd ones) and given as the median over the repeats, ``*_range``
    their least and greatest and ``*_all`` each (until 2026-12-06: best-of-``--repeat``
    seconds of each, their ratio).
``few_chunks``
    a full lazy pass (``data.sum().compute()``) with the cache's cap just under the
    image (a strip over it, as a mosaic over 1 GiB) and resume points a 32nd of the
    strip apart (as ``INFLATE_RESUME_BYTES``, 32 MiB, over a 1 GiB strip), at chunks of
    the whole image, a half and a quarter of its side (1, 4 and 16 chunks), now and
    ``before``: each chunk decoding the whole strip (as read until 2026-12-06), taken
    in turn; ``ratio``: now over before.

``check_cost``
    what checking an LZW stream before its decode costs (``io._read._lzw_check``, over
    the codec's decode of the same stream, told its size): a 2048² uint8 noise stream
    (``noise``, about 5.7 MB) and a crafted stream of segments alternating short (3
    codes) and long (300 codes) from Clear code to Clear code, at :data:`ALTERNATING`
    pairs and 8 times as many (``alternating_1x``, ``alternating_8x``), check and decode
    taken alternately ``--repeat`` times (the check first in even repeats), seconds and
    each repeat's ratio as median, ``*_range`` and ``*_all`` (until 2026-12-06: all
    checks, then all decodes, best of each: on 2 shared CPUs the ratio followed the
    machine's load); ``alternating_growth``: the 8x stream's median ratio over the 1x
    one's (1 when the check is linear in the stream's length; each segment copied the
    whole stream before), ``alternating_growth_range`` from their ranges (least over
    greatest, greatest over least).
``memo``
    what the check of every strip a TIFF level decodes costs a lazy pass, and how many
    checks its digest memo (``io._read.LZW_CHECKED_KEPT``) spares: checks counted over
    two synchronous passes of a 64 x 80 image of 8 LZW strips, 4 of them alike, in 16 px
    chunks, memo off (``LZW_CHECKED_KEPT`` 0) and on; and seconds of a first and a
    second full threaded pass (:data:`MEMO_THREADS` threads, default chunks) over a
    ``--size``² image of 32 LZW strips: unchecked (``_check_lzw_decodes`` off, as before
    764af41), checked at every decode (memo off: no digest taken, since 2026-12-06;
    before, each check of this baseline took its stream's digest too, about a quarter
    of a check, and the memo's gain was overstated) and now, taken in turn
    (:data:`LZW_CHECK_MODES`).

Usage::

    python benchmarks/bench_tiff_strips_lzw.py [--size 2048] [--repeat 3]
                                               [--sections stream_cost ... memo]

``--sections``: those of :data:`SECTIONS` to run (default all). Prints one JSON object
(with the machine's 1-minute load average before and after). Targets: ``scanned_ratio``
at most 2.5 (3.1-3.3 while pieces were re-aligned bit by bit through a Python integer
and the codec not told their size), ``from_points_ratio`` at most 1.3 (the same as
``scanned`` before: every read scanned); every ``few_chunks`` ratio at most 1.1 (not
slower than before; runs on 2 shared CPUs vary about 10 %): a read is the cheaper of
streaming and taking the rest of the strip in one piece (``io._read._lzw_rest_whole``);
measured before that: 1024², 16 chunks, resume points 32 MiB apart: 0.11 -> 0.38 s;
4096², 1, 4 and 16 chunks: 2.7, 1.8 and 1.0 times before.
Since the check of 764af41 a piece not scanned costs its check too; ``LZW_STREAM_COST``
is 1 from ``scanned_over_checked_ratio``: 1.01-1.25 (medians, single repeats 0.72-2.23),
``checked_whole_ratio`` 1.80-2.03, in six runs of ``--sections stream_cost check_cost
--repeat 11``, three at ``--size 4096`` and three at 2048
(``bench_tiff_strips_lzw_costs_*.json``, the reader of 52ba7d2, 2 shared CPUs, other
jobs running, load average 3.3-4.6): about 1, a little more in those runs, straddling 1
repeat to repeat; the best-of runs before them gave 0.61-1.11 (at f95c8ad 0.92, when it
went from 2 to 1: full passes 1.0, 0.34 and 0.13 times before at 1, 4 and 16 chunks,
0.64, 0.44 and 0.60 s at 2, 0.62, 0.48 and 0.65 s at 1 in the same session: within its
noise).
``alternating_growth`` at most 2 (:data:`ALTERNATING_GROWTH_TARGET`): 4.4 while each
segment's scan copied the whole stream, 0.9-1.8 since (2026-12-06, 2 shared CPUs, CPU
only; ``noise`` checked in 1.4x its decode's time, 22-23 ms against 27 ms before).
At 136c3c1 (--size 4096 --repeat 5, that day, the busy machine's runs vary up to 2x):
``memo`` 41 -> 5 checks (a second pass 40 -> 0); first threaded passes 0.33 s
unchecked, 0.52 s every decode checked, 0.45 s now; second passes 0.31, 0.49 and
0.25 s; ``few_chunks`` at 1 chunk 1.4x its ``before`` (1.2-1.3x before that day's LZW
changes too: ``before``, the strip decoded by tifffile, checks it once since the
digest memo, while the one-chunk read checked the open's probe and each pass), 0.45x
and 0.18x at 4 and 16. Since 4182cb1 the streamed reader remembers its unscanned
pieces by digest too (``io._read._lzw_check_once``): ``bench_tiff_strips_lzw.json``
(same arguments, 2 shared CPUs, CPU only) ``few_chunks`` 1.00x, 0.58x and 0.21x at 1, 4
and 16 chunks (1.04x at 1 chunk in three more runs beside 1.18-1.57x at 136c3c1);
``memo`` 41 -> 5 and 40 -> 0 checks, first passes 0.26 / 0.53 / 0.44 s, second passes
0.29 / 0.56 / 0.33 s; ``check_cost`` ``noise`` 1.41x its decode, ``alternating_growth``
1.24 (the crafted stream's check is 44-54x its decode: its short segments).
Since 87478c1 the "every decode checked" baseline takes no digest (``LZW_CHECKED_KEPT``
0; 32 strips of the 4096² image: digest 0.041 s, check 0.16 s, decode 0.16 s, measured
apart): four runs (same arguments, 2 shared CPUs, loaded: load average 4-5, the
codec's own decode 0.09-0.18 s, so runs vary up to 2x; the fourth after 52ba7d2, a
segment's scan reading its first 512 codes first: ``bench_tiff_strips_lzw.json``) gave
first passes 0.22-0.42 s unchecked, 0.54-0.76 s every decode checked and 0.49-0.69 s
now (0.72-0.92x the baseline), second passes 0.24-0.47, 0.44-0.81 and 0.27-0.49 s
(0.38-0.90x: a second pass takes each strip's digest, no check); ``few_chunks``
0.93-1.26x, 0.46-0.53x and 0.18-0.21x; ``check_cost`` ``noise`` 1.23-1.57x, the
crafted streams 39-107x (1x) and 44-55x (8x) before 52ba7d2, 59x and 33x after it
(timed apart, old and new scan interleaved: 0.43-0.71x the time), ``alternating_growth``
0.44-1.13.
Since 2026-12-06 ``check_cost`` takes check and decode alternately: the six runs above
gave ``noise`` 1.29-1.47x (medians), the crafted streams 25-70x (1x) and 23-36x (8x),
``alternating_growth`` 0.38-1.11.
``few_chunks`` of ``bench_tiff_strips_lzw.json`` is a rerun with the reader of fcbf65e
(after 0e52667 and 518fd5b; same arguments, ``--sections few_chunks``, load average
3.9-4.4): 1.19x, 0.25x and 0.18x at 1, 4 and 16 chunks (a run just before it, load
5.7-8.4: 1.19x, 0.52x and 0.21x); the run of 3e02e9c it replaced is
``few_chunks_at_3e02e9c`` (0.93x, 0.46x and 0.21x). One chunk over the 1.1 target is
load, not those changes: that read makes the same calls with the reader of 17b30a5
(before them) and of f3d471e (the strip decoded whole once at the open's probe and once
a pass, checked once), and the two readers interleaved twice each (same arguments,
load average 5.8-8.2, one-off, outputs not committed) gave 0.96x and 1.04x (17b30a5)
against 1.11x and 1.13x (f3d471e); the one-chunk open and pass alone, best of 7, 0.73
and 0.69 s against 0.60 and 0.63 s (load 5.3-5.4). The one-chunk ratio is two sub-second
totals of the same work: on 2 shared CPUs it spans 0.93-1.26x.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _patch import patched
from bench_tiff_strips import over_cache, streamed_off, timed

SCANNED_TARGET = 2.5
FROM_POINTS_TARGET = 1.3
FEW_CHUNKS_TARGET = 1.1
#: Resume points per strip in ``few_chunks``: INFLATE_RESUME_BYTES over a 1 GiB strip.
RESUME_POINTS = 32
#: Short and long segment pairs of the 1x crafted stream of ``check_cost``, codes in each.
ALTERNATING = 500
ALTERNATING_CODES = (3, 300)
#: The 8x stream's check/decode ratio over the 1x one's, at most (quadratic: about 8).
ALTERNATING_GROWTH_TARGET = 2.0
#: Strips of the ``memo`` passes' image, and the threads of its passes.
MEMO_STRIPS = 32
MEMO_THREADS = 8


def stream_cost(path: Path, image: np.ndarray, repeat: int) -> dict:
    """Seconds, ``repeat`` times in turn, of the codec's whole decode of the LZW strip at
    ``path`` (told its size, as tifffile tells it), of its decode in one piece as a read
    of the rest of a strip decodes it (checked first), of one read streaming the whole
    strip from its start (its Clear codes found by a scan, resume points kept) and of
    one more (from the points kept); each repeat's ratios to the whole decode, and of
    the scan to the checked piece, as :func:`spread` (median and range): the checked
    piece is taken first in even repeats, last in odd ones, so that a machine slowing
    down or speeding up weighs on both sides alike."""
    import imagecodecs
    import tifffile

    from napari_srmat.io import _read

    with tifffile.TiffFile(path) as tif:
        level = tif.series[0].levels[0]
        page = tif.pages[0]
        strip = path.read_bytes()[page.dataoffsets[0]:][:page.databytecounts[0]]
        reader = _read._LzwStrip.of(path, 0, 0, _read._LzwStrip.layout(level), level)
    rows = np.arange(image.shape[0])
    firsts, agains = np.empty_like(image), np.empty_like(image)
    seconds: dict[str, list[float]] = {"whole_s": [], "checked_whole_s": [],
                                       "scanned_s": [], "from_points_s": []}

    def checked_whole() -> bytes:
        t = time.perf_counter()
        checked = _read._lzw_decoded(strip, image.nbytes, to_end=True)
        seconds["checked_whole_s"].append(time.perf_counter() - t)
        return checked

    for k in range(repeat):
        checked = checked_whole() if k % 2 == 0 else None
        t0 = time.perf_counter()
        whole = imagecodecs.lzw_decode(strip, out=image.nbytes)
        t1 = time.perf_counter()
        _read.clear_decoded_strip_cache()
        with no_rest_whole(), resume_points(image.nbytes):
            reader._inflate_rows(rows, firsts, (slice(None),))
            t2 = time.perf_counter()
            reader._inflate_rows(rows, agains, (slice(None),))
        t3 = time.perf_counter()
        for name, spent in (("whole_s", t1 - t0), ("scanned_s", t2 - t1),
                            ("from_points_s", t3 - t2)):
            seconds[name].append(spent)
        if checked is None:
            checked = checked_whole()
    if whole != image.tobytes() or checked != whole or not (np.array_equal(firsts, image)
                                        and np.array_equal(agains, image)):
        raise SystemExit("bench_tiff_strips_lzw: the decodes differ from the image")
    result: dict = {"seconds": seconds}
    for ratio, (over, under) in {
            "scanned_ratio": ("scanned_s", "whole_s"),
            "from_points_ratio": ("from_points_s", "whole_s"),
            "checked_whole_ratio": ("checked_whole_s", "whole_s"),
            "scanned_over_checked_ratio": ("scanned_s", "checked_whole_s")}.items():
        result.update(spread(ratio, [a / b for a, b in zip(seconds[over], seconds[under],
                                                            strict=True)]))
    result["targets"] = {"scanned_ratio": SCANNED_TARGET,
                         "from_points_ratio": FROM_POINTS_TARGET}
    return result


def spread(name: str, values: list[float]) -> dict:
    """``name``: the median of ``values``; ``name_range``: their least and greatest;
    ``name_all``: each, in the order taken."""
    return {name: float(np.median(values)),
            f"{name}_range": [min(values), max(values)], f"{name}_all": values}


def lzw_stream(segments: list[np.ndarray]) -> bytes:
    """A TIFF LZW stream (most significant bit first, early change) of ``segments``
    (byte values, each a segment of literal codes), a Clear code before each and an end
    code after the last."""
    from napari_srmat.io import _read

    codes, widths = [], []
    width = _read._LZW_FRESH_WIDTH
    for seg in segments:
        codes += [[_read._LZW_CLEAR], seg]
        widths += [[width], _read._LZW_WIDTHS[:len(seg)]]
        width = int(_read._LZW_WIDTHS[len(seg)])  # the code closing it
    codes.append([_read._LZW_EOI])
    widths.append([width])
    code, width = np.concatenate(codes).astype(np.int64), np.concatenate(widths)
    shift = width[:, None] - 1 - np.arange(12)
    bits = (code[:, None] >> np.maximum(shift, 0)) & 1
    return np.packbits(bits[shift >= 0].astype(np.uint8)).tobytes()


def check_over_decode(stream: bytes, size: int, repeat: int) -> dict:
    """Seconds of ``_lzw_check`` and of the codec's decode (told ``size``) of ``stream``,
    taken alternately ``repeat`` times (the check first in even repeats, the decode
    first in odd ones: a busy machine weighs on both alike), as :func:`spread` (median
    and range), and each repeat's ratio of the two likewise."""
    import imagecodecs

    from napari_srmat.io import _read

    seconds: dict[str, list[float]] = {"check_s": [], "decode_s": []}
    for k in range(repeat):
        for name in ("check_s", "decode_s")[::1 if k % 2 == 0 else -1]:
            t = time.perf_counter()
            if name == "check_s":
                _read._lzw_check(stream)
            else:
                decoded = imagecodecs.lzw_decode(stream, out=size)
            seconds[name].append(time.perf_counter() - t)
    if len(decoded) != size:
        raise SystemExit("bench_tiff_strips_lzw: a crafted stream decodes short")
    result: dict = {"bytes": len(stream)}
    for name, values in seconds.items():
        result.update(spread(name, values))
    return {**result, **spread("ratio", [c / d for c, d in zip(
        seconds["check_s"], seconds["decode_s"], strict=True)])}


def check_cost(repeat: int) -> dict:
    """:func:`check_over_decode` of a 2048² noise stream and of crafted streams of
    alternating short and long segments, 1x and 8x."""
    import imagecodecs

    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, 2048 * 2048, dtype=np.uint8)
    result = {"noise": check_over_decode(imagecodecs.lzw_encode(noise.tobytes()),
                                         noise.nbytes, repeat)}
    for times in (1, 8):
        segments = [rng.integers(0, 256, ALTERNATING_CODES[k % 2]).astype(np.uint8)
                    for k in range(2 * ALTERNATING * times)]
        result[f"alternating_{times}x"] = check_over_decode(
            lzw_stream(segments), sum(map(len, segments)), repeat)
    one, eight = result["alternating_1x"], result["alternating_8x"]
    result["alternating_growth"] = eight["ratio"] / one["ratio"]
    result["alternating_growth_range"] = [eight["ratio_range"][0] / one["ratio_range"][1],
                                          eight["ratio_range"][1] / one["ratio_range"][0]]
    result["targets"] = {"alternating_growth": ALTERNATING_GROWTH_TARGET}
    return result


def counted_checks(calls: list):
    """Each ``_lzw_check`` call appended to ``calls`` (its stream's length)."""
    from napari_srmat.io import _read

    check = _read._lzw_check

    def counting(data, *args):
        calls.append(len(data))
        return check(data, *args)

    return patched(_lzw_check=counting)


#: What each mode of :func:`lzw_checks` sets: "unchecked" (``_check_lzw_decodes``
#: off), "every" (every decode checked: ``LZW_CHECKED_KEPT`` 0, no stream remembered
#: and, since 2026-12-06, none hashed: the digest was taken for nothing before, the
#: memo's gain overstated) or "now".
LZW_CHECK_MODES = {"unchecked": {"_check_lzw_decodes": lambda *args: None},
                   "every": {"LZW_CHECKED_KEPT": 0}, "now": {}}


def lzw_checks(mode: str):
    """The checks of a :data:`LZW_CHECK_MODES` mode."""
    return patched(**LZW_CHECK_MODES[mode])


def memo(tmp: Path, image: np.ndarray, repeat: int) -> dict:
    """Checks counted over two passes of a small image and seconds of two threaded
    passes of ``image`` in :data:`MEMO_STRIPS` strips, per :func:`lzw_checks` mode."""
    import dask
    import tifffile

    from napari_srmat.io import _read, read_image

    small = np.random.default_rng(0).integers(0, 8, (64, 80), dtype=np.uint8)
    small[:32] = 0  # strips 0-3 alike
    path = tmp / "memo_small.tif"
    tifffile.imwrite(path, small, compression="lzw", rowsperstrip=8)
    result: dict = {"small_checks": {}}
    for mode in ("every", "now"):
        calls: list = []
        with lzw_checks(mode), counted_checks(calls), dask.config.set(
                scheduler="synchronous"):
            m = read_image(path, chunks=16)
            first = (np.asarray(m.data), len(calls))[1]
            np.asarray(m.data)
        result["small_checks"][mode] = {"first_pass": first, "second_pass": len(calls)
                                        - first}
    path = tmp / "memo_strips.tif"
    tifffile.imwrite(path, image, compression="lzw",
                     rowsperstrip=image.shape[0] // MEMO_STRIPS)
    passes = {mode: {"first_s": float("inf"), "second_s": float("inf")}
              for mode in ("unchecked", "every", "now")}
    with dask.config.set(scheduler="threads", num_workers=MEMO_THREADS):
        for _ in range(repeat):
            for mode, best in passes.items():  # taken in turn: a busy machine slows all
                _read.clear_decoded_strip_cache()
                with lzw_checks(mode):
                    m = read_image(path)
                    t0 = time.perf_counter()
                    m.data.sum().compute()
                    t1 = time.perf_counter()
                    m.data.sum().compute()
                    t2 = time.perf_counter()
                best["first_s"] = min(best["first_s"], t1 - t0)
                best["second_s"] = min(best["second_s"], t2 - t1)
    for best in passes.values():
        best["first_over_unchecked"] = best["first_s"] / passes["unchecked"]["first_s"]
    result[f"{image.shape[0]}_passes"] = passes
    return result


def few_chunks(path: Path, n: int, repeat: int) -> dict:
    """Full passes over the LZW strip at ``path`` (``n`` x ``n``) over the cache at 1,
    4 and 16 chunks, now and before, and their ratios."""
    result: dict = {"resume_bytes": max(1, n * n // RESUME_POINTS)}
    with resume_points(n * n), over_cache(n * n - 1), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "every chunk read decodes a whole strip"
        for chunk in (n, n // 2, n // 4):
            now: dict = {}
            before: dict = {}
            for _ in range(repeat):  # taken in turn: a busy machine slows both
                keep_faster(timed(path, 1, chunk), now)
                with streamed_off():
                    keep_faster(timed(path, 1, chunk), before)
            result[f"{(n // chunk) ** 2}_chunks"] = {
                "chunk": chunk, "now": now, "before": before,
                "ratio": now["total_s"] / before["total_s"], "target": FEW_CHUNKS_TARGET}
    return result


def keep_faster(times: dict, into: dict) -> None:
    """Put ``times`` (as :func:`timed` gives them) into ``into`` when their total is
    shorter (``into`` empty: always)."""
    if times["total_s"] < into.get("total_s", float("inf")):
        into.update(times)


def resume_points(strip_bytes: int):
    """Resume points :data:`RESUME_POINTS` to a strip of ``strip_bytes`` decoded bytes
    (``INFLATE_RESUME_BYTES`` as over a 1 GiB strip)."""
    return patched(INFLATE_RESUME_BYTES=max(1, strip_bytes // RESUME_POINTS))


def no_rest_whole():
    """Streaming only: no read decodes the rest of the strip in one piece."""
    return patched(LZW_STREAM_COST=0.0)


#: The sections ``--sections`` may name, in the order they run.
SECTIONS = ("stream_cost", "few_chunks", "check_cost", "memo")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=SECTIONS)
    args = parser.parse_args()
    import tifffile

    n = args.size
    rng = np.random.default_rng(0)
    image = rng.integers(0, 40, (n, n), dtype=np.uint8) + (
        np.arange(n)[None, :] % 200).astype(np.uint8)
    result: dict = {"size": n, "repeat": args.repeat, "python": platform.python_version(),
                    "cpus": os.cpu_count(), "load_avg_1min": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lzw.tif"
        tifffile.imwrite(path, image, compression="lzw", rowsperstrip=n, imagej=True)
        result["file_bytes"] = path.stat().st_size
        runs = {"stream_cost": lambda: stream_cost(path, image, args.repeat),
                "few_chunks": lambda: few_chunks(path, n, args.repeat),
                "check_cost": lambda: check_cost(args.repeat),
                "memo": lambda: memo(Path(tmp), image, args.repeat)}
        for section in SECTIONS:
            if section in args.sections:
                result[section] = runs[section]()
    result["load_avg_1min_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))

if __name__ == "__main__":
    main()
