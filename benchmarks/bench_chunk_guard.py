"""Benchmark: the cost of writing every Zarr chunk and of the damaged-store check.

The figures of docs/safety.md "Missing chunks": the bytes on disk of a 1024 x 1024 chunk
of zeros as napari-srmat writes it (uint8, uint16, float32: every chunk is written, also
those equal to the fill value), and the time ``read_image`` takes to open a marked store
of 10 000 chunks (1600 x 1600 px in 16 px chunks), whose level 0 it lists once, against
the same store without the mark (not listed) in the same run.

Usage::

    python benchmarks/bench_chunk_guard.py [--repeat 5]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def zero_chunk_bytes(root: Path, dtype: str) -> int:
    """Bytes on disk of the level-0 chunk of a 1024² zero image written by
    ``write_ome_zarr`` (one chunk)."""
    from napari_srmat.io import write_ome_zarr

    out = write_ome_zarr(np.zeros((1024, 1024), dtype), root / f"zeros_{dtype}.ome.zarr",
                         chunks=1024, n_levels=1)
    files = [p for p in (out / "0").rglob("*") if p.is_file()
             and not p.name.startswith((".z", "zarr.json"))]
    return sum(p.stat().st_size for p in files)


def open_seconds(path: Path, repeat: int) -> float:
    """Best-of-``repeat`` wall time of ``read_image(path)`` (metadata and the check)."""
    from napari_srmat.io import read_image

    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        read_image(path)
        best = min(best, time.perf_counter() - t0)
    return best


def unmark(path: Path) -> None:
    """Remove the ``all_chunks_written`` mark from a store's ``srmat`` attributes."""
    import zarr

    from napari_srmat.io._write import ALL_CHUNKS_WRITTEN

    group = zarr.open_group(str(path), mode="r+")
    srmat = dict(group.attrs["srmat"])
    srmat.pop(ALL_CHUNKS_WRITTEN)
    group.attrs["srmat"] = srmat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from napari_srmat.io import write_ome_zarr

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sizes = {dt: zero_chunk_bytes(root, dt) for dt in ("uint8", "uint16", "float32")}
        rng = np.random.default_rng(0)
        image = rng.integers(0, 255, (1600, 1600), dtype=np.uint8)
        marked = write_ome_zarr(image, root / "marked.ome.zarr", chunks=16, n_levels=1)
        unmarked = write_ome_zarr(image, root / "unmarked.ome.zarr", chunks=16,
                                  n_levels=1)
        unmark(unmarked)
        result = {
            "zero_chunk_1024_bytes": sizes,
            "zero_chunk_fraction_of_pixels": {
                dt: sizes[dt] / (1024 * 1024 * np.dtype(dt).itemsize) for dt in sizes},
            "n_chunks": 100 * 100,
            "open_marked_s": open_seconds(marked, args.repeat),
            "open_unmarked_s": open_seconds(unmarked, args.repeat),
            "python": platform.python_version(),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
