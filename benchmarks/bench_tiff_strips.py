"""Benchmark: a full lazy pass over a compressed TIFF saved as one strip.

ImageJ and Fiji save a whole mosaic as one strip; compressed (deflate, LZW), every Dask
chunk of it decoded the whole strip until the decoded strip was kept for its chunks
(``io._read.DECODED_STRIP_CACHE_BYTES``). This writes a ``--size`` x ``--size`` grey
uint8 image (noise over a ramp) as one strip, uncompressed, deflate and LZW, and times
``read_image`` (open) and a full pass (``data.sum().compute()``, ``--chunk`` px chunks),
best of ``--repeat``: with the cache, and as a strip over it (``over_cache``: the cap
just under the grey image, as a mosaic over ``DECODED_STRIP_CACHE_BYTES``, 1 GiB, is
read without writing one; bands of chunk rows fit it as 2048-row bands of a 40000 px
wide mosaic fit 1 GiB): deflate inflated from resume points ``--resume-mib`` apart,
``_InflatedStrip``, LZW decoded from Clear-code resume points, ``_LzwStrip``, each band
of chunk rows kept for its chunks; ``before``: the same pass as read until 2026-12-06
(no band kept; LZW and planar strips decoded whole by each chunk) in the same run.
``planar_lzw``: the image as RGB (three noise planes) saved planar, one LZW strip per
plane, under the cache and over it, and ``before`` each (every chunk decoded all planes,
under the cache too). The ratios are against the uncompressed file (read window by
window, ``_TiffWindows``), and ``speedup`` is ``before`` over now. ``--resume-mib``:
default the package's ``INFLATE_RESUME_BYTES``; scale it down with the image to stand
for a larger mosaic (32 MiB over a 40000² mosaic is 0.5 MiB over 5000²).

``--sections``: those of :data:`SECTIONS` to run (default ``timing``, the passes above):

``timing``
    the passes above (``--chunk``, ``--repeat``, ``--resume-mib``).
``threaded_peak``
    what the cap bounds in a threaded pass: the ``--size``² grey image as one strip of
    each of ``--compressions`` (``none``: uncompressed, read window by window), the
    cache's cap ``--cap-mib`` (default 16 MiB, under the image from 4096²: the strip
    is over it), resume points a 32nd of the cap apart and deflate pieces a 256th of
    it (``INFLATE_RESUME_BYTES`` and ``_INFLATE_OUT_BYTES``: as 32 MiB and 4 MiB are of
    1 GiB; ``--resume-mib`` is not used), and the tracemalloc peak of a full pass
    (``data.sum().compute()``) with ``--threads`` Dask threads at each of
    ``--peak-chunks`` px chunks, after one chunk read (the open's probe) and with the
    cache emptied; ``--repeat`` rounds, each case once a round, in turn.
    ``peak_over_cap``: peak over the cap, ``*_all`` each round, ``*_range`` their
    least and greatest; ``pass_s``: seconds under tracemalloc; ``kept_bytes``: what
    the cache holds after the pass.

Usage::

    python benchmarks/bench_tiff_strips.py [--size 8192] [--repeat 3] [--resume-mib 32]
                                           [--chunk 2048] [--sections timing threaded_peak]
                                           [--cap-mib 16] [--threads 8]
                                           [--peak-chunks 512 1024 2048]
                                           [--compressions none zlib lzw]

Prints one JSON object (with the machine's 1-minute load average before and after). The
``threaded_peak`` figures of docs/io.md: ``--sections threaded_peak`` at the defaults
(``bench_tiff_strips_threaded_peak.json``). Target: a compressed full pass (open +
pass) within 5x of the uncompressed one (measured before the cache: 17x deflate, 36x LZW
at 12000 px); an LZW strip over the cache faster than ``before`` by about the chunks per
column of chunks; a threaded pass within the cap plus, per thread, its chunks and one
piece being decoded.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from _patch import patched, patched_on


def timed(path: Path, repeat: int, chunk: int) -> dict:
    """Best-of-``repeat`` seconds of opening ``path`` and of a full pass over it."""
    from napari_srmat.io import _read, read_image

    best = {"open_s": float("inf"), "pass_s": float("inf")}
    for _ in range(repeat):
        _read.clear_decoded_strip_cache()
        t0 = time.perf_counter()
        m = read_image(path, chunks=chunk)
        t1 = time.perf_counter()
        m.data.sum().compute()
        t2 = time.perf_counter()
        best["open_s"] = min(best["open_s"], t1 - t0)
        best["pass_s"] = min(best["pass_s"], t2 - t1)
    best["total_s"] = best["open_s"] + best["pass_s"]
    return best


def timing(args: argparse.Namespace, image: np.ndarray, rng: np.random.Generator,
           result: dict) -> None:
    """The ``timing`` section: open + full pass, compressed, over the cache and before,
    written into ``result`` (its top level, as before ``--sections``); the planar
    image's planes drawn from ``rng``; ``--resume-mib`` set in the section only
    (:func:`_patch.patched`, as the other sections set what they change; until this it
    was assigned to ``io._read`` for the rest of the process)."""
    resume = ({} if args.resume_mib is None
              else {"INFLATE_RESUME_BYTES": int(args.resume_mib * (1 << 20))})
    with patched(**resume):
        timed_passes(args, image, rng, result)


def timed_passes(args: argparse.Namespace, image: np.ndarray, rng: np.random.Generator,
                 result: dict) -> None:
    """:func:`timing` 's passes, with ``io._read`` as it is set."""
    import tifffile

    from napari_srmat.io import _read

    n = args.size
    result.update({"chunk": args.chunk, "resume_bytes": _read.INFLATE_RESUME_BYTES})
    with tempfile.TemporaryDirectory() as tmp:
        for compression in (None, "zlib", "lzw"):
            path = Path(tmp) / f"{compression}.tif"
            tifffile.imwrite(path, image, compression=compression, rowsperstrip=n,
                             imagej=True)
            name = compression or "none"
            result[name] = {"file_bytes": path.stat().st_size,
                            **timed(path, args.repeat, args.chunk)}
            if compression:
                with over_cache(n * n - 1):
                    result[name]["over_cache"] = timed(path, 1, args.chunk)
                    with streamed_off():
                        result[name]["over_cache"]["before"] = timed(path, 1, args.chunk)
        planes = np.stack([rng.permutation(image.ravel()).reshape(n, n) for _ in range(3)])
        path = Path(tmp) / "planar.tif"
        tifffile.imwrite(path, planes, compression="lzw", rowsperstrip=n, photometric="rgb",
                         planarconfig="separate")
        planar = result["planar_lzw"] = {"file_bytes": path.stat().st_size,
                                         **timed(path, args.repeat, args.chunk)}
        with streamed_off(planar_too=True):
            planar["before"] = timed(path, 1, args.chunk)
        with over_cache(n * n - 1):
            planar["over_cache"] = timed(path, 1, args.chunk)
            with streamed_off(planar_too=True):
                planar["over_cache"]["before"] = timed(path, 1, args.chunk)
    base = result["none"]["total_s"]
    for entry in (result["zlib"], result["lzw"], planar):
        for case in (entry, entry["over_cache"]):
            case["ratio_to_uncompressed"] = case["total_s"] / base
            if "before" in case:
                case["before"]["ratio_to_uncompressed"] = case["before"]["total_s"] / base
                case["speedup"] = case["before"]["total_s"] / case["total_s"]


#: Resume points and deflate pieces of the ``threaded_peak`` section, as fractions of
#: the cap: ``INFLATE_RESUME_BYTES`` (32 MiB) and ``_INFLATE_OUT_BYTES`` (4 MiB) over
#: ``DECODED_STRIP_CACHE_BYTES`` (1 GiB).
RESUME_SHARE, PIECE_SHARE = 32, 256


def threaded_pass_peak(path: Path, chunk: int, threads: int, want: int) -> dict:
    """Tracemalloc peak and seconds of one full pass over ``path`` in ``chunk`` px chunks
    with ``threads`` Dask threads, the cache emptied after the open's first read; its
    sum checked against ``want``."""
    import dask

    from napari_srmat.io import _read, read_image

    _read.clear_decoded_strip_cache()
    m = read_image(path, chunks=chunk)
    m.data[:1, :1].compute(scheduler="synchronous")
    _read.clear_decoded_strip_cache()
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool, dask.config.set(pool=pool):
            total = m.data.sum(dtype=np.uint64).compute(scheduler="threads")
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    if int(total) != want:
        raise RuntimeError(f"{path.name}, {chunk} px chunks: sum {total}, want {want}")
    return {"peak_bytes": peak, "pass_s": seconds, "kept_bytes": _read._DECODED_STRIPS.nbytes}


def threaded_peak(args: argparse.Namespace, image: np.ndarray) -> dict:
    """The ``threaded_peak`` section: peak traced memory of threaded passes over the cap."""
    import tifffile

    cap = int(args.cap_mib * (1 << 20))
    n = args.size
    want = int(image.sum(dtype=np.uint64))
    out: dict = {"cap_bytes": cap, "threads": args.threads, "repeat": args.repeat,
                 "resume_bytes": cap // RESUME_SHARE, "inflate_out_bytes": cap // PIECE_SHARE}
    runs: dict[tuple[str, int], list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp, patched(
            DECODED_STRIP_CACHE_BYTES=cap, INFLATE_RESUME_BYTES=cap // RESUME_SHARE,
            _INFLATE_OUT_BYTES=cap // PIECE_SHARE):
        paths = {}
        for name in args.compressions:
            paths[name] = Path(tmp) / f"{name}.tif"
            tifffile.imwrite(paths[name], image, rowsperstrip=n, imagej=True,
                             compression=None if name == "none" else name)
        for _ in range(args.repeat):
            for name, path in paths.items():
                for chunk in args.peak_chunks:
                    runs.setdefault((name, chunk), []).append(
                        threaded_pass_peak(path, chunk, args.threads, want))
    from napari_srmat.io import _read

    _read.clear_decoded_strip_cache()
    for (name, chunk), each in runs.items():
        ratios = [r["peak_bytes"] / cap for r in each]
        out.setdefault(name, {})[str(chunk)] = {
            "chunk_bytes": chunk * chunk * image.itemsize,
            "peak_over_cap_range": [min(ratios), max(ratios)],
            "peak_over_cap_all": ratios,
            "peak_bytes_all": [r["peak_bytes"] for r in each],
            "pass_s_all": [r["pass_s"] for r in each],
            "kept_bytes_all": [r["kept_bytes"] for r in each]}
    return out


#: The sections ``--sections`` may name, in the order they run.
SECTIONS = ("timing", "threaded_peak")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=8192)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--resume-mib", type=float, default=None)
    parser.add_argument("--chunk", type=int, default=2048)
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=["timing"])
    parser.add_argument("--cap-mib", type=float, default=16)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--peak-chunks", type=int, nargs="+", default=[512, 1024, 2048])
    parser.add_argument("--compressions", nargs="+", choices=("none", "zlib", "lzw"),
                        default=["none", "zlib", "lzw"])
    args = parser.parse_args()

    n = args.size
    rng = np.random.default_rng(0)
    image = rng.integers(0, 40, (n, n), dtype=np.uint8) + (
        np.arange(n)[None, :] % 200).astype(np.uint8)
    result: dict = {"size": n, "python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_avg_1min": round(os.getloadavg()[0], 2)}
    if "timing" in args.sections:
        timing(args, image, rng, result)
    if "threaded_peak" in args.sections:
        result["threaded_peak"] = threaded_peak(args, image)
    result["load_avg_1min_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))


def over_cache(cap: int) -> contextlib.AbstractContextManager[None]:
    """The decoded-strip cache's cap ``cap``: just under the grey image, as a mosaic
    just over 1 GiB is read (its bands of chunk rows kept for their chunks)."""
    return patched(DECODED_STRIP_CACHE_BYTES=cap)


@contextlib.contextmanager
def streamed_off(planar_too: bool = False) -> Iterator[None]:
    """The reading before 2026-12-06: no LZW or planar strip streamed (each chunk
    decodes the whole strip, all planes), no band of rows kept, and with
    ``planar_too`` a planar level not kept in the cache either."""
    from napari_srmat.io import _read

    streamed, whole = _read._streamed_strip, _read._WholeStrip.of

    def deflate_only(level_series):
        found = streamed(level_series)
        return found if found and found[0] is _read._InflatedStrip and len(
            found[1][0]) == 1 else None

    def one_chunk_only(path, series, level, like, chunks):
        return whole(path, series, level, like, chunks) if like.nchunks == 1 else None

    with patched(_streamed_strip=deflate_only), patched_on(  # no band kept
            _read._InflatedStrip, _band_rows=_read._InflatedStrip._inflate_rows), \
            patched_on(_read._WholeStrip, **({"of": one_chunk_only} if planar_too else {})):
        yield


if __name__ == "__main__":
    main()
