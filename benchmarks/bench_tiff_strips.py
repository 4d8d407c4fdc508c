"""Benchmark: a full lazy pass over a compressed TIFF saved as one strip.

ImageJ and Fiji save a whole mosaic as one strip; compressed (deflate, LZW), every Dask
chunk of it decoded the whole strip until the decoded strip was kept for its chunks
(``io._read.DECODED_STRIP_CACHE_BYTES``). This writes a ``--size`` x ``--size`` grey
uint8 image (noise over a ramp) as one strip, uncompressed, deflate and LZW, and times
``read_image`` (open) and a full pass (``data.sum().compute()``, 2048 px chunks), best
of ``--repeat``: with the cache, and as a strip over it (``over_cache``: cap 0, as a
mosaic over ``DECODED_STRIP_CACHE_BYTES``, 1 GiB, is read without writing one: deflate
inflated per chunk from resume points ``--resume-mib`` apart, ``_InflatedStrip``; LZW
decoded whole by each chunk) in the same run. The ratios are against the uncompressed
file (read window by window, ``_TiffWindows``). ``--resume-mib``: default the package's
``INFLATE_RESUME_BYTES``; scale it down with the image to stand for a larger mosaic
(32 MiB over a 40000² mosaic is 0.5 MiB over 5000²).

Usage::

    python benchmarks/bench_tiff_strips.py [--size 8192] [--repeat 3] [--resume-mib 32]

Prints one JSON object. Target: a compressed full pass (open + pass) within 5x of the
uncompressed one (measured before the cache: 17x deflate, 36x LZW at 12000 px).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def timed(path: Path, repeat: int) -> dict:
    """Best-of-``repeat`` seconds of opening ``path`` and of a full pass over it."""
    from napari_srmat.io import _read, read_image

    best = {"open_s": float("inf"), "pass_s": float("inf")}
    for _ in range(repeat):
        _read.clear_decoded_strip_cache()
        t0 = time.perf_counter()
        m = read_image(path)
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
    args = parser.parse_args()
    import tifffile

    from napari_srmat.io import _read

    if args.resume_mib is not None:
        _read.INFLATE_RESUME_BYTES = int(args.resume_mib * (1 << 20))

    n = args.size
    rng = np.random.default_rng(0)
    image = rng.integers(0, 40, (n, n), dtype=np.uint8) + (
        np.arange(n)[None, :] % 200).astype(np.uint8)
    result: dict = {"size": n, "chunk": 2048, "python": platform.python_version(),
                    "cpus": os.cpu_count(), "resume_bytes": _read.INFLATE_RESUME_BYTES}
    with tempfile.TemporaryDirectory() as tmp:
        for compression in (None, "zlib", "lzw"):
            path = Path(tmp) / f"{compression}.tif"
            tifffile.imwrite(path, image, compression=compression, rowsperstrip=n,
                             imagej=True)
            name = compression or "none"
            result[name] = {"file_bytes": path.stat().st_size, **timed(path, args.repeat)}
            if compression:
                cap = _read.DECODED_STRIP_CACHE_BYTES
                _read.DECODED_STRIP_CACHE_BYTES = 0  # a strip over the cache
                try:
                    result[name]["over_cache"] = timed(path, 1)
                finally:
                    _read.DECODED_STRIP_CACHE_BYTES = cap
    base = result["none"]["total_s"]
    for name in ("zlib", "lzw"):
        result[name]["ratio_to_uncompressed"] = result[name]["total_s"] / base
        result[name]["over_cache"]["ratio_to_uncompressed"] = (
            result[name]["over_cache"]["total_s"] / base)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
