"""Throughput of the tiled engine vs one untiled forward pass of the same model.

Prints one JSON object. The baseline (one call of the model on the whole image) is
measured in the same run on the same data; ``ratio`` = tiled throughput / untiled
throughput (target >= 0.9 at the default tile/overlap).

    python benchmarks/bench_tiling.py [--size 768] [--tile 256] [--overlap 32] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from napari_srmat.tiling import tiled_apply


class SmallSR(torch.nn.Module):
    """A small ESPCN-like x4 network (3 convs + pixel shuffle)."""

    def __init__(self, scale: int = 4, feats: int = 32) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(3, feats, 5, padding=2), torch.nn.ReLU(),
            torch.nn.Conv2d(feats, feats // 2, 3, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(feats // 2, 3 * scale * scale, 3, padding=1),
            torch.nn.PixelShuffle(scale),
        )

    def forward(self, x):
        return self.body(x).clamp(0, 1)


def _best(f, repeat):
    """Minimum CPU time (process_time) of ``repeat`` calls: robust to other processes
    competing for the cores (wall time on a shared machine varies ~2x)."""
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        f()
        times.append(time.process_time() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=768, help="input side (px)")
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--overlap", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = SmallSR().eval()
    rng = np.random.default_rng(0)
    img = (rng.random((args.size, args.size, 3)) * 255).astype(np.uint8)

    def fn(batch):
        with torch.inference_mode():
            return net(torch.from_numpy(batch)).numpy()

    def untiled():
        x = np.moveaxis(img.astype(np.float32) / 255, -1, 0)[None]
        y = fn(np.ascontiguousarray(x))[0]
        return np.rint(np.moveaxis(y, 0, -1) * 255).astype(np.uint8)

    def tiled(tile=args.tile, overlap=args.overlap):
        return tiled_apply(img, fn, scale=4, tile=tile, overlap=overlap,
                           batch_size=args.batch_size)

    tiled()  # warm-up
    untiled()
    # interleave the two so that load from other processes affects both alike
    t_untiled, t_tiled = float("inf"), float("inf")
    for _ in range(args.repeat):
        t_untiled = min(t_untiled, _best(untiled, 1))
        t_tiled = min(t_tiled, _best(tiled, 1))
    stride = args.tile - 2 * args.overlap
    extra = {}
    for t in (512, 1024):
        if t < args.size * 2:
            extra[f"ratio_tile{t}"] = round(t_untiled / _best(lambda t=t: tiled(tile=t), 1), 3)
    mpix = args.size * args.size * 16 / 1e6
    print(json.dumps({
        "benchmark": "tiling_throughput",
        "model": "conv x4 + pixel shuffle (3 convs)",
        "input": [args.size, args.size, 3],
        "tile": args.tile,
        "overlap": args.overlap,
        "threads": args.threads,
        "timer": "process CPU time, min of repeats",
        "untiled_s": round(t_untiled, 3),
        "tiled_s": round(t_tiled, 3),
        "untiled_mpix_out_per_s": round(mpix / t_untiled, 2),
        "tiled_mpix_out_per_s": round(mpix / t_tiled, 2),
        "ratio": round(t_untiled / t_tiled, 3),
        "target_ratio": 0.9,
        "ideal_ratio_from_geometry": round((stride / args.tile) ** 2, 3),
        **extra,
    }))


if __name__ == "__main__":
    main()
