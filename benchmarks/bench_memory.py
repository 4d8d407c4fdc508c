"""Peak memory of out-of-core x4 super-resolution into OME-Zarr.

A lazy Dask RGB input (a generated pattern, never materialised) of ``--size``^2 pixels
is upscaled x4 with bicubic interpolation (``torch.nn.functional.interpolate``) by the
tiled engine, streaming into an OME-Zarr store (with its pyramid). The work runs in a
subprocess whose peak RSS (``resource.getrusage(...).ru_maxrss``) is reported together
with the RSS right after imports and the baseline = the size of the (virtual) input.
Prints one JSON object; target: peak < 2 GiB at ``--size 8192`` (1-gigapixel output).

Defaults: the engine's ``DEFAULT_TILE`` / ``DEFAULT_OVERLAP`` (1024 / 32); batch size 4
(capped by the engine to 1 for 1024^2 x4 RGB tiles, ``BATCH_OUTPUT_BUDGET``).

    python benchmarks/bench_memory.py [--size 8192] [--tile 1024] [--overlap 32] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time


def _pattern(block, block_info=None):
    import numpy as np

    (y0, y1), (x0, x1), _ = block_info[None]["array-location"]
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    r = 0.5 + 0.5 * np.sin(xx * 0.05 + np.sin(yy * 0.013) * 3)
    g = 0.5 + 0.5 * np.sin(yy * 0.07 + xx * 0.002)
    b = ((xx // 37 + yy // 53) % 2).astype(np.float32)
    return (np.stack([r, g, b], -1) * 255).astype(np.uint8)


def child(size: int, tile: int, overlap: int, out: str, threads: int) -> dict:
    import dask
    import dask.array as da
    import numpy as np
    import torch
    import torch.nn.functional as F

    from napari_srmat.tiling import tiled_apply

    torch.set_num_threads(threads)
    dask.config.set(scheduler="synchronous")
    rss_imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    lazy = da.zeros((size, size, 3), dtype=np.uint8, chunks=(512, 512, 3))
    lazy = lazy.map_blocks(_pattern, dtype=np.uint8)

    def bicubic(batch):
        with torch.inference_mode():
            return F.interpolate(torch.from_numpy(batch), scale_factor=4, mode="bicubic",
                                 align_corners=False).clamp_(0, 1).numpy()

    t0 = time.perf_counter()
    path = tiled_apply(lazy, bicubic, scale=4, tile=tile, overlap=overlap, batch_size=4,
                       out=out, overwrite=True)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    import zarr

    z = zarr.open_group(str(path), mode="r")
    levels = len(z.attrs["multiscales"][0]["datasets"])
    return {"peak_rss_bytes": peak, "rss_after_imports_bytes": rss_imports,
            "seconds": seconds, "out_shape": list(z["0"].shape), "n_levels": levels,
            "out_chunks": list(z["0"].chunks)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=8192, help="input side in pixels")
    from napari_srmat.tiling import DEFAULT_OVERLAP, DEFAULT_TILE

    ap.add_argument("--tile", type=int, default=DEFAULT_TILE)
    ap.add_argument("--overlap", type=int, default=DEFAULT_OVERLAP)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="output store (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the output store")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        res = child(args.size, args.tile, args.overlap, args.out, args.threads)
        print(json.dumps(res))
        return
    tmp = tempfile.mkdtemp(prefix="srmat-bench-")
    out = args.out or os.path.join(tmp, "sr.ome.zarr")
    cmd = [sys.executable, __file__, "--child", "--size", str(args.size), "--tile",
           str(args.tile), "--overlap", str(args.overlap), "--threads", str(args.threads),
           "--out", out]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        res = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    gib = 2**30
    input_bytes = args.size * args.size * 3
    out_px = (args.size * 4) ** 2
    print(json.dumps({
        "benchmark": "memory_x4_to_zarr",
        "input": [args.size, args.size, 3],
        "output_gigapixels": round(out_px / 1e9, 3),
        "tile": args.tile,
        "overlap": args.overlap,
        "peak_rss_gib": round(res["peak_rss_bytes"] / gib, 3),
        "rss_after_imports_gib": round(res["rss_after_imports_bytes"] / gib, 3),
        "baseline_input_gib": round(input_bytes / gib, 3),
        "output_uncompressed_gib": round(out_px * 3 / gib, 3),
        "ratio_peak_to_input": round(res["peak_rss_bytes"] / input_bytes, 3),
        "target_peak_gib": 2.0,
        "seconds": round(res["seconds"], 1),
        "n_levels": res["n_levels"],
        "out_shape": res["out_shape"],
        "out_chunks_cyx": res["out_chunks"],
    }))


if __name__ == "__main__":
    main()
