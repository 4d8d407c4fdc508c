"""Benchmark: Heyn lineal intercept on a 10000 x 10000 mask with 1000 random lines.

Prints one JSON object: the vectorized ``measure_intercepts`` time (best of
``--repeat``; wall and CPU) and, measured in the same run, a naive baseline that
rasterizes each line with ``skimage.draw.line`` (compiled 8-connected Bresenham) in a
Python loop and counts runs per line. The baseline does less work per line: its
8-connected lines slip through diagonal one-pixel boundaries and it has no
staircase-aliasing correction, so its count differs (see ``naive_n_intersections``).

Usage::

    python benchmarks/bench_heyn.py [--size 10000] [--lines 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np


def make_mask(size: int, seed: int = 0) -> np.ndarray:
    """Boundary mask of a synthetic tessellation (a 2048 px tile repeated)."""
    from napari_srmat.synth import generate_microstructure

    tile = generate_microstructure(
        (2048, 2048),
        mean_grain_size_px=32,
        seed=seed,
        texture=0,
        scratches=0,
        noise=0,
        blur=0,
        inclusions=0,
    ).boundaries
    reps = -(-size // 2048)
    return np.ascontiguousarray(np.tile(tile, (reps, reps))[:size, :size])


def naive(mask: np.ndarray, paths) -> tuple[float, int]:
    from skimage.draw import line

    total_l, total_n = 0.0, 0
    for p in paths:
        (r0, c0), (r1, c1) = np.rint(p).astype(int)
        rr, cc = line(r0, c0, r1, c1)
        v = mask[rr, cc].astype(np.int8)
        total_n += int(np.count_nonzero(np.diff(v, prepend=0) == 1))
        total_l += float(np.hypot(r1 - r0, c1 - c0))
    return total_l / max(total_n, 1), total_n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=10000)
    ap.add_argument("--lines", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from napari_srmat.metrics.heyn import make_pattern, measure_intercepts

    t0 = time.perf_counter()
    mask = make_mask(args.size)
    t_mask = time.perf_counter() - t0

    measure_intercepts(mask[:64, :64], n_lines=2)  # warm-up: lazy imports
    times, cpu = [], []
    for _ in range(args.repeat):
        t, c = time.perf_counter(), time.process_time()
        res = measure_intercepts(mask, pattern="random", n_lines=args.lines, seed=1234)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    paths, _ = make_pattern(mask.shape, "random", n_lines=args.lines, seed=1234)
    t, c = time.perf_counter(), time.process_time()
    naive_mean, naive_n = naive(mask, paths)
    t_naive = time.perf_counter() - t
    cpu_naive = time.process_time() - c
    print(
        json.dumps(
            {
                "benchmark": "heyn_random_lines",
                "mask_shape": list(mask.shape),
                "n_lines": args.lines,
                "vectorized_s": min(times),
                "vectorized_all_s": times,
                "vectorized_cpu_s": min(cpu),
                "naive_loop_skimage_line_s": t_naive,
                "naive_cpu_s": cpu_naive,
                "speedup_vs_naive": t_naive / min(times),
                "mean_intercept_px": res.mean_intercept_px,
                "naive_mean_intercept_px": naive_mean,
                "n_intersections": res.n_intersections,
                "naive_n_intersections": naive_n,
                "mask_build_s": t_mask,
                "cpu_count": os.cpu_count(),
                "load_avg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
                "python": platform.python_version(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
