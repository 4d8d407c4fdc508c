"""`srmat sr run` end to end vs the bare model on the same image (issue 15, row 1).

Prints one JSON object. Both are measured in the same run on the same synthetic RGB
uint8 micrograph:

* ``end_to_end``: ``srmat sr run IN OUT --model MODEL`` (the CLI's ``main``, run in this
  process after a warm-up run, so interpreter start-up and imports are excluded; it still
  loads the model, reads the TIFF, tiles at the default tile/overlap, writes the OME-Zarr
  with its pyramid);
* ``in_memory``: ``super_resolve(image, model)`` (same tiling, no output store);
* ``end_to_end_whole`` / ``in_memory_whole``: the same with ``--whole-image`` /
  ``whole_image=True`` (a one-tile image is one forward pass on the image itself: no
  padded context, the bare model's output);
* ``bare`` (the baseline): ``model.predict`` on the whole image as one float32 batch.

``ratio`` = bare / end_to_end CPU seconds (target >= 0.95), ``ratio_whole`` the same with
``--whole-image``; ``work_bound`` = input pixels / pixels the model processes with the
effective tile grid (the best ratio any tiling can reach when the model costs the same
per pixel; 1 with ``--whole-image``), so ``ratio / work_bound`` is the share lost to the
engine and the store; ``store_s`` = end_to_end - in_memory CPU seconds (uint8
conversion, compression, pyramid, input fingerprint, reading the TIFF, loading the
model). The model's own time varies by several per cent between runs on a shared
machine (most of it is system time: page faults on fresh activation buffers), so the
CPU seconds inside ``SRModel.predict`` are also recorded per run: ``overhead_s`` =
end_to_end - its predict seconds (the engine, the store and the CLI, min of repeats),
``model_ratio`` = bare's predict seconds / end_to_end's (the tiling's cost alone, ~
``work_bound``), ``ratio_split`` = bare / (end_to_end's predict seconds + overhead_s),
the ratio rebuilt from its less noisy parts, and ``model_only_ratio`` = bare's predict
seconds / end_to_end (against the forward pass alone, without the baseline's own
float -> uint8 conversion, which costs ``bare_cpu_s - bare_predict_cpu_s``).
Timer: process CPU time (user + system, all
threads; robust to other processes sharing the cores), min of ``--repeat`` interleaved
runs; ``ratio_wall`` from wall time. ``--threads`` torch threads.

    python benchmarks/bench_sr_end_to_end.py [--model cnn] [--size 992] [--repeat 3]

Run it with another checkout's package (``PYTHONPATH=OTHER/src``) for a before/after pair;
the ``*_whole`` runs need ``--whole-image`` (``--no-whole`` skips them).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch
from _speed import Timer, fresh, machine, micrograph, srmat, write_tiff

from napari_srmat.sr import load_model, super_resolve
from napari_srmat.sr.apply import resolve_overlap
from napari_srmat.sr.base import SRModel
from napari_srmat.tiling import DEFAULT_OVERLAP, DEFAULT_TILE, effective_tile

_PREDICT_CPU = [0.0]


def _timed_predict(predict):
    def predict_timed(self, *a, **kw):
        with Timer() as tm:
            out = predict(self, *a, **kw)
        _PREDICT_CPU[0] += tm.cpu
        return out

    return predict_timed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="cnn")
    ap.add_argument("--size", type=int, default=992, help="input side (px)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-whole", action="store_true", help="skip the --whole-image runs")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    SRModel.predict = _timed_predict(SRModel.predict)
    img = micrograph(args.size)
    model = load_model(args.model)
    overlap = resolve_overlap(model, DEFAULT_OVERLAP, DEFAULT_TILE)
    te = effective_tile(args.size, args.size, DEFAULT_TILE, overlap)
    b = 2 * overlap - 2 * (overlap // 2)
    n = max(1, -(-(args.size - b) // (te - 2 * overlap)))
    work_bound = args.size ** 2 / (n * te) ** 2
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tif = write_tiff(img, tmp / "in.tif")
        out = tmp / "out.ome.zarr"

        def e2e():
            srmat("sr", "run", tif, fresh(out), "--model", args.model)

        def e2e_whole():
            srmat("sr", "run", tif, fresh(out), "--model", args.model, "--whole-image")

        def mem():
            super_resolve(img, model)

        def mem_whole():
            super_resolve(img, model, whole_image=True)

        def bare():
            x = np.ascontiguousarray(np.moveaxis(img, -1, 0)[None], dtype=np.float32) / 255
            y = model.predict(x)
            np.rint(np.moveaxis(y[0], 0, -1) * 255).astype(np.uint8)

        runs = (("bare", bare), ("end_to_end", e2e), ("in_memory", mem),
                ("end_to_end_whole", e2e_whole), ("in_memory_whole", mem_whole))
        runs = runs[:3] if args.no_whole else runs
        for _, f in runs[:2] + runs[3:4]:  # warm-up: imports, first-call costs
            f()
        t = {name: [] for name, _ in runs}
        inside = {name: [] for name, _ in runs}
        for _ in range(args.repeat):
            for name, f in runs:
                _PREDICT_CPU[0] = 0.0
                with Timer() as tm:
                    f()
                t[name].append(tm)
                inside[name].append(_PREDICT_CPU[0])
    wall = {k: min(x.wall for x in v) for k, v in t.items()}
    cpu = {k: min(x.cpu for x in v) for k, v in t.items()}
    model = {k: min(v) for k, v in inside.items()}
    over = {k: min(x.cpu - m for x, m in zip(t[k], inside[k])) for k in t}

    def split(k):
        sfx = k[len("end_to_end"):]
        return {f"overhead{sfx}_s": round(over[k], 3),
                f"model_ratio{sfx}": round(model["bare"] / model[k], 3),
                f"ratio_split{sfx}": round(cpu["bare"] / (model[k] + over[k]), 3),
                f"model_only_ratio{sfx}": round(model["bare"] / (model[k] + over[k]), 3)}

    print(json.dumps({
        "benchmark": "sr_end_to_end_vs_bare",
        "model": args.model,
        "input": [args.size, args.size, 3],
        "tile": DEFAULT_TILE, "overlap": overlap, "tile_effective": te, "tiles_per_axis": n,
        "work_bound": round(work_bound, 3),
        "timer": "process CPU (user+sys, all threads) and wall, each the min of repeats",
        **{f"{k}_cpu_s": round(v, 3) for k, v in cpu.items()},
        **{f"{k}_wall_s": round(v, 3) for k, v in wall.items()},
        "ratio": round(cpu["bare"] / cpu["end_to_end"], 3),
        "ratio_in_memory": round(cpu["bare"] / cpu["in_memory"], 3),
        "ratio_wall": round(wall["bare"] / wall["end_to_end"], 3),
        "store_s": round(cpu["end_to_end"] - cpu["in_memory"], 3),
        **{f"{k}_predict_cpu_s": round(v, 3) for k, v in model.items()},
        **split("end_to_end"),
        **({} if args.no_whole else split("end_to_end_whole")),
        **({} if args.no_whole else {
            "ratio_whole": round(cpu["bare"] / cpu["end_to_end_whole"], 3),
            "ratio_in_memory_whole": round(cpu["bare"] / cpu["in_memory_whole"], 3),
            "ratio_wall_whole": round(wall["bare"] / wall["end_to_end_whole"], 3),
            "store_whole_s": round(cpu["end_to_end_whole"] - cpu["in_memory_whole"], 3),
        }),
        "target_ratio": 0.95,
        **machine(),
    }))


if __name__ == "__main__":
    main()
