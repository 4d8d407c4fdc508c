"""Bicubic x4 end to end vs OpenCV ``resize`` + a plain Zarr write (issue 15, row 2).

Prints one JSON object. On the same synthetic RGB uint8 micrograph (``--size``, default
2048), in the same run:

* ``end_to_end``: ``srmat sr run IN OUT --model bicubic`` (the CLI's ``main`` in this
  process after a warm-up run: start-up excluded; TIFF read, tiling, OME-Zarr level 0
  and its pyramid);
* ``end_to_end_level0``: the same job with a one-level store (``n_levels=1``, no pyramid);
* the baseline: ``cv2.resize(img, fx=4, fy=4, INTER_CUBIC)`` of the whole image, then
  writing it into a Zarr v2 array with the chunks and compressor of the output's level 0
  (read back from the store ``end_to_end`` wrote);
* ``interp_only``: ``torch.nn.functional.interpolate(bicubic)`` of the whole float32
  image vs ``cv2.resize`` alone (the interpolation kernels only).

``ratio`` = baseline / end_to_end CPU seconds (target >= 0.8). Timer: process CPU
time (user + system, all threads; robust to other processes sharing the cores), min
of ``--repeat`` interleaved runs; ``ratio_wall`` from wall time.

    python benchmarks/bench_classic_resize.py [--size 2048] [--repeat 2] [--model bicubic]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch
import zarr
from _speed import Timer, fresh, machine, micrograph, srmat, write_tiff

import napari_srmat.tiling as tiling
from napari_srmat.io import read_image
from napari_srmat.jobs import run_job
from napari_srmat.sr import load_model
from napari_srmat.tiling import tiled_apply_job


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--model", default="bicubic", choices=("bicubic", "lanczos"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    img = micrograph(args.size)
    interp = cv2.INTER_CUBIC if args.model == "bicubic" else cv2.INTER_LANCZOS4
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tif = write_tiff(img, tmp / "in.tif")
        out = tmp / "out.ome.zarr"

        def e2e():
            srmat("sr", "run", tif, fresh(out), "--model", args.model)

        def l0_job(*a, **k):
            return tiled_apply_job(*a, **{**k, "n_levels": 1})

        e2e()  # warm-up, and the store whose level 0 the baseline copies
        lv0 = zarr.open_group(str(out), mode="r")["0"]
        chunks, compressors = lv0.chunks, lv0.compressors
        model = load_model(args.model)

        def level0_only():
            # what the CLI runs, less the pyramid: super_resolve_job has no n_levels, so
            # the engine's job is wrapped to pass n_levels=1
            from napari_srmat.sr.apply import super_resolve_job

            tiling.tiled_apply_job = l0_job
            try:
                run_job(super_resolve_job(read_image(tif), model,
                                          out=fresh(tmp / "l0.ome.zarr")), quiet=True)
            finally:
                tiling.tiled_apply_job = tiled_apply_job

        def baseline():
            up = cv2.resize(img, None, fx=4, fy=4, interpolation=interp)
            arr = zarr.create_array(str(fresh(tmp / "base.zarr")), shape=(3, *up.shape[:2]),
                                    chunks=chunks, dtype=np.uint8, compressors=compressors,
                                    zarr_format=2, fill_value=0)
            arr[:] = np.moveaxis(up, -1, 0)

        def torch_interp():
            x = torch.from_numpy(np.moveaxis(img, -1, 0)[None].astype(np.float32) / 255)
            torch.nn.functional.interpolate(x, scale_factor=4, mode="bicubic",
                                            align_corners=False)

        def cv2_interp():
            cv2.resize(img, None, fx=4, fy=4, interpolation=interp)


        t = {}
        fns = (("baseline", baseline), ("end_to_end", e2e), ("end_to_end_level0", level0_only),
               ("torch_interp", torch_interp), ("cv2_interp", cv2_interp))
        for _ in range(args.repeat):
            for name, f in fns:
                with Timer() as tm:
                    f()
                t.setdefault(name, []).append(tm)
    wall = {k: min(x.wall for x in v) for k, v in t.items()}
    cpu = {k: min(x.cpu for x in v) for k, v in t.items()}
    print(json.dumps({
        "benchmark": "classic_resize_vs_opencv",
        "model": args.model,
        "input": [args.size, args.size, 3],
        "output": [4 * args.size, 4 * args.size, 3],
        "zarr_chunks": list(chunks),
        "compressors": [str(c) for c in compressors],
        "timer": "process CPU (user+sys, all threads) and wall, each the min of repeats",
        **{f"{k}_cpu_s": round(v, 3) for k, v in cpu.items()},
        **{f"{k}_wall_s": round(v, 3) for k, v in wall.items()},
        "ratio": round(cpu["baseline"] / cpu["end_to_end"], 3),
        "ratio_level0": round(cpu["baseline"] / cpu["end_to_end_level0"], 3),
        "ratio_wall": round(wall["baseline"] / wall["end_to_end"], 3),
        "interp_ratio_torch_vs_cv2": round(cpu["cv2_interp"] / cpu["torch_interp"], 3),
        "target_ratio": 0.8,
        **machine(),
    }))


if __name__ == "__main__":
    main()
