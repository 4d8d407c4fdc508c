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

Usage::

    python benchmarks/bench_tiff_strips.py [--size 8192] [--repeat 3] [--resume-mib 32]
                                           [--chunk 2048]

Prints one JSON object. Target: a compressed full pass (open + pass) within 5x of the
uncompressed one (measured before the cache: 17x deflate, 36x LZW at 12000 px); an LZW
strip over the cache faster than ``before`` by about the chunks per column of chunks.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import tempfile
import time
from collections.abc import Iterator
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=8192)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--resume-mib", type=float, default=None)
    parser.add_argument("--chunk", type=int, default=2048)
    args = parser.parse_args()
    import tifffile

    from napari_srmat.io import _read

    if args.resume_mib is not None:
        _read.INFLATE_RESUME_BYTES = int(args.resume_mib * (1 << 20))

    n = args.size
    rng = np.random.default_rng(0)
    image = rng.integers(0, 40, (n, n), dtype=np.uint8) + (
        np.arange(n)[None, :] % 200).astype(np.uint8)
    result: dict = {"size": n, "chunk": args.chunk, "python": platform.python_version(),
                    "cpus": os.cpu_count(), "resume_bytes": _read.INFLATE_RESUME_BYTES}
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
