"""Memory plans of the whole-array functions against what they allocate.

The notebook functions that hold a whole array in memory refuse one whose plan
(:mod:`napari_srmat.estimates`) needs more than half the available memory. A plan that
underestimates lets a mosaic through to numpy's "Unable to allocate"; one that
overestimates refuses what fits. For each function and input kind this measures the
peak of Python allocations (``tracemalloc``, numpy buffers included) on a ``--side``²
input and on one of twice as many pixels; their difference per added pixel (the cost
that grows with the image, without fixed overheads such as the synthetic renderer's
tiles) is printed beside the plan's bytes per pixel.

Baseline in the same run: the marginal allocation peak. Target: ``plan / peak`` between
1 and 4 for every case (never under 1; an input already in memory is not counted
again).

    PYTHONPATH=src python benchmarks/bench_memory_plans.py [--side 2000] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import tracemalloc

import numpy as np


def _peak(func, arg) -> int:
    tracemalloc.start()
    try:
        func(arg)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--side", type=int, default=2000)
    p.add_argument("--out", default=None, help="also write the JSON here")
    args = p.parse_args()

    import dask.array as da

    import napari_srmat as srmat
    from napari_srmat import estimates

    def inputs(n: int) -> dict:
        ms = srmat.generate_microstructure((n, n), mean_grain_size_px=20, seed=0)
        prob = np.where(ms.boundaries, np.float32(0.8), np.float32(0.1))
        twins = np.zeros_like(ms.boundaries)
        twins[:, ::37] = True
        u8 = ms.boundaries.astype(np.uint8) * 255
        return {"bool": ms.boundaries, "u8": u8,
                "u8_rgba": np.dstack([u8, u8, u8, np.full_like(u8, 255)]),
                "prob": prob, "u8_prob": (prob * 255).astype(np.uint8), "twins": twins,
                "n": n}

    def lazy(a):
        return da.from_array(a, chunks=1024)

    def plan(dtype, channels=(), **kw):  # bytes per pixel: the plans are linear in the pixels
        return estimates.plan_mask_measurement((1000, 1000, *channels), dtype,
                                               **kw).output_bytes / 1e6

    cases = {
        "measure_intercepts bool held": (
            lambda x: srmat.measure_intercepts(x["bool"], skeletonize=True),
            plan(bool, held=True)),
        "measure_intercepts uint8 lazy": (
            lambda x: srmat.measure_intercepts(lazy(x["u8"]), skeletonize=True),
            plan(np.uint8)),
        "measure_intercepts RGBA uint8 lazy": (
            lambda x: srmat.measure_intercepts(lazy(x["u8_rgba"]), skeletonize=True),
            plan(np.uint8, channels=(4,))),
        "measure_intercepts RGBA uint8 held": (
            lambda x: srmat.measure_intercepts(x["u8_rgba"], skeletonize=True),
            plan(np.uint8, channels=(4,), held=True)),
        "measure_intercepts bool held, twins excluded": (
            lambda x: srmat.measure_intercepts(x["bool"], twins=x["twins"]),
            plan(bool, held=True, twins=True)),
        "binarize_boundaries float32 held": (
            lambda x: srmat.binarize_boundaries(x["prob"], 0.5),
            plan(np.float32, held=True, to_float=True)),
        "binarize_boundaries float32 lazy": (
            lambda x: srmat.binarize_boundaries(lazy(x["prob"]), 0.5),
            plan(np.float32, to_float=True)),
        "binarize_boundaries uint8 held": (
            lambda x: srmat.binarize_boundaries(x["u8_prob"], 0.5),
            plan(np.uint8, held=True, to_float=True)),
        "binarize_boundaries uint8 lazy": (
            lambda x: srmat.binarize_boundaries(lazy(x["u8_prob"]), 0.5),
            plan(np.uint8, to_float=True)),
        "generate_microstructure grey": (
            lambda x: srmat.generate_microstructure((x["n"], x["n"]), rgb=False, seed=1),
            estimates.plan_microstructure((1000, 1000), rgb=False).output_bytes / 1e6),
        "generate_microstructure rgb": (
            lambda x: srmat.generate_microstructure((x["n"], x["n"]), seed=1),
            estimates.plan_microstructure((1000, 1000)).output_bytes / 1e6),
    }
    small, large = inputs(args.side), inputs(round(args.side * 2**0.5))
    added = large["n"] ** 2 - small["n"] ** 2
    rows = {}
    for name, (func, planned) in cases.items():
        peak = (_peak(func, large) - _peak(func, small)) / added
        rows[name] = {"peak_bytes_per_px": round(peak, 2),
                      "plan_bytes_per_px": round(planned, 2),
                      "plan_over_peak": round(planned / peak, 2)}
    report = {"sides": [small["n"], large["n"]], "cases": rows,
              "all_within_1_to_4": all(1 <= r["plan_over_peak"] <= 4
                                       for r in rows.values())}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
