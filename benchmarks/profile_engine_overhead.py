"""Share of a bicubic `srmat sr run` spent outside the model call, by profile (issue 15, row 3).

Prints one JSON object. Runs ``srmat sr run IN OUT --model bicubic`` (the CLI's ``main``
in this process, after a warm-up run) under ``cProfile`` on a synthetic RGB uint8
micrograph, once per path:

* ``fast``: the classic fast path (``SRModel.chunk_function``: one OpenCV resize per chunk
  window; absent before issue 15, then this equals ``tiled``);
* ``tiled``: the blended tile path every network takes (``chunk_function`` disabled).

Each run's job time (``tiled_apply_job``: without start-up, model loading and TIFF
reading) is split into ``model`` (``SRModel.predict`` + ``resize_window``: the
interpolation itself), ``store`` (``OmeZarrStreamWriter.write_block``: compressing and
writing level 0; plus the writer's set-up and the rest of its ``finalize``: folders,
manifest, lock, marker, swap, listed alone as ``store_setup``), ``pyramid``
(``_build_pyramid``), ``identity`` (``input_identity``: the input's fingerprint for
resume, a fixed cost per run) and ``assembly`` (everything else: reading windows,
tiling, blending, conversion). ``assembly_share`` = assembly / (job - pyramid) is the
blending/assembly overhead (target <= 0.10); ``assembly_share_v1`` the same with the
store's set-up counted as assembly (the definition before 2026-12-01; it differs by
~0.02); ``outside_model_share`` = (job - model) / job. ``sys_share`` = system CPU / wall
of the whole run (page faults from fresh large buffers show up here). cProfile inflates
Python-heavy parts. Each path is profiled ``--repeat`` times (after one warm-up run);
the shares and seconds given are the medians, ``assembly_shares`` all of them.

    python benchmarks/profile_engine_overhead.py [--size 1024] [--model bicubic] [--repeat 3]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import tempfile
from pathlib import Path

import torch
from _speed import Timer, fresh, machine, micrograph, srmat, write_tiff

from napari_srmat.sr.base import SRModel

MODEL_FUNCS = {("base.py", "predict"), ("classic.py", "resize_window")}


def _cum(stats: pstats.Stats, file_end: str, name: str) -> float:
    total = 0.0
    for (fname, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
        if func == name and fname.endswith(file_end):
            total += ct
    return total


def _profile(tif: Path, out: Path, model: str, repeat: int) -> dict:
    srmat("sr", "run", tif, fresh(out), "--model", model)  # warm-up
    runs = []
    for _ in range(repeat):
        fresh(out)
        runs.append(_profile_once(tif, out, model))
    res = {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}
    res["assembly_shares"] = [r["assembly_share"] for r in runs]
    return res


def _profile_once(tif: Path, out: Path, model: str) -> dict:
    prof = cProfile.Profile()
    with Timer() as tm:
        prof.enable()
        srmat("sr", "run", tif, out, "--model", model)
        prof.disable()
    st = pstats.Stats(prof)
    job = _cum(st, "_engine.py", "tiled_apply_job")
    mdl = sum(_cum(st, f, n) for f, n in MODEL_FUNCS)
    pyramid = _cum(st, "_write.py", "_build_pyramid")
    blocks = _cum(st, "_write.py", "write_block")
    setup = _cum(st, "_write.py", "__init__") + _cum(st, "_write.py", "finalize") - pyramid
    store = blocks + setup
    identity = _cum(st, "_engine.py", "input_identity")
    assembly = job - pyramid - store - mdl - identity
    return {
        "job_s": round(job, 3), "model_s": round(mdl, 3), "store_s": round(store, 3),
        "store_setup_s": round(setup, 3),
        "pyramid_s": round(pyramid, 3), "identity_s": round(identity, 3),
        "assembly_s": round(assembly, 3),
        "assembly_share": round(assembly / (job - pyramid), 3),
        "assembly_share_v1": round((assembly + setup) / (job - pyramid), 3),
        "outside_model_share": round((job - mdl) / job, 3),
        "run_wall_s": round(tm.wall, 3), "sys_share": round(tm.sys / tm.wall, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--model", default="bicubic")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    img = micrograph(args.size)
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tif = write_tiff(img, tmp / "in.tif")
        res["fast"] = _profile(tif, tmp / "fast.ome.zarr", args.model, args.repeat)
        had = "chunk_function" in vars(SRModel)
        if had:
            SRModel.chunk_function, saved = (lambda self: None), SRModel.chunk_function
            for cls in SRModel.__subclasses__():
                _disable(cls)
        try:
            res["tiled"] = _profile(tif, tmp / "tiled.ome.zarr", args.model, args.repeat)
        finally:
            if had:
                SRModel.chunk_function = saved
                for cls in list(_DISABLED):
                    cls.chunk_function = _DISABLED.pop(cls)
    print(json.dumps({
        "benchmark": "engine_overhead_by_profile",
        "model": args.model,
        "input": [args.size, args.size, 3],
        "timer": f"cProfile cumulative seconds, median of {args.repeat} runs",
        **{f"{path}_{k}": v for path, r in res.items() for k, v in r.items()},
        "target_assembly_share": 0.10,
        **machine(),
    }))


_DISABLED: dict = {}


def _disable(cls) -> None:
    """Turn off ``chunk_function`` overrides (classic models) for the tiled run."""
    if "chunk_function" in vars(cls):
        _DISABLED[cls] = vars(cls)["chunk_function"]
        cls.chunk_function = lambda self: None
    for sub in cls.__subclasses__():
        _disable(sub)


if __name__ == "__main__":
    main()
