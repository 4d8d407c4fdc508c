"""Benchmark: the cost of writing every Zarr chunk and of the damaged-store check.

The figures of docs/safety.md "Missing chunks": the bytes on disk of a 1024 x 1024 chunk
of zeros as napari-srmat writes it (uint8, uint16, float32: every chunk is written, also
those equal to the fill value), and the time ``read_image`` takes to open a marked store
of 10 000 chunks (1600 x 1600 px in 16 px chunks), whose levels it lists once, against
the same store without the mark (not listed) in the same run; and, for that level, the
listing the check makes (``os.scandir``) against Zarr's own ``list_prefix`` (its listing
until 2026-12-05).

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


def listing_seconds(path: Path, repeat: int) -> dict:
    """Best-of-``repeat`` wall time of listing the chunk keys of level 0 of ``path``: the
    damaged-store check's walk (``_stored_keys``) and Zarr's ``list_prefix``."""
    import zarr
    from zarr.core.sync import sync

    from napari_srmat.io._read import _stored_keys

    store = zarr.open_group(str(path), mode="r")["0"].store_path.store

    async def zarr_listing() -> set[str]:
        return {key async for key in store.list_prefix("0/")}

    ways = {"check_s": lambda: _stored_keys(store, "0/"), "zarr_list_prefix_s":
            lambda: sync(zarr_listing())}
    best = dict.fromkeys(ways, float("inf"))
    keys = {}
    for _ in range(repeat):
        for name, way in ways.items():
            t0 = time.perf_counter()
            keys[name] = way()
            best[name] = min(best[name], time.perf_counter() - t0)
    assert keys["check_s"] == keys["zarr_list_prefix_s"]  # the same keys
    return {**best, "ratio": best["zarr_list_prefix_s"] / best["check_s"]}


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
            "list_level0": listing_seconds(marked, args.repeat),
            "python": platform.python_version(),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
