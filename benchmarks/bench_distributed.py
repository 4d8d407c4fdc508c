"""Scaling of the distributed engine: dask LocalCluster with 2 workers vs 1 (and local).

Prints one JSON object. The same image, model, tile and chunk grid are run, in one
process and one run:

* ``local_1thread`` / ``local_threads``: the local streaming engine
  (``tiled_apply_job`` without a scheduler), torch with 1 thread / all cores;
* ``cluster_1worker`` / ``cluster_2workers``: ``tiled_apply_job(..., scheduler=client)``
  on a ``LocalCluster`` of 1 or 2 worker processes with one thread each
  (``local:N``), each worker building the model itself
  (:class:`napari_srmat.sr.remote.RemoteModel`) and writing its chunks into the
  output store.

Every configuration writes level 0 of an OME-Zarr (``n_levels=1``: the pyramid is
built by the starting process and is not what scales). Wall time, best of
``--repeat`` runs, after a warm-up on every worker (worker start-up, imports and
model loading are not counted; the cluster configurations run in interleaved rounds).
``ratio_2_vs_1`` = throughput of 2 workers / 1 worker
(target >= 1.6 on a 2-core machine where the scheduler and the client share the
cores); ``ratio_2workers_vs_local_threads`` compares with the threaded local engine.
``cluster_1worker_dask_default_env`` is one worker started by plain
``distributed.LocalCluster`` (dask's default worker environment, which sets
``MALLOC_TRIM_THRESHOLD_``; ``local:N`` drops it), and
``slowdown_with_dask_malloc_trim_env`` its time over ``cluster_1worker``.
The load average before and after is printed: on a shared machine other processes
take cores from the workers. ``worker_busy_fraction`` (per worker, from dask's task
stream) and ``median_tile_task_seconds`` (run time of one chunk's tile task) tell the
two apart: workers busy nearly all the time and a task time that grows with the number
of workers mean the engine kept the workers fed and the CPU share decided the ratio.
``sched_autogroup_enabled`` = 1 means the kernel shares the CPU fairly between sessions
(all processes of this run count as one), so on a machine busy with other sessions
a second worker gets no extra CPU. Outputs are checked to be bit-identical to the local run.

    python benchmarks/bench_distributed.py [--size 512] [--model cnn] [--tile 128]
                                           [--chunk 512] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def _busy_fractions(records: list, wall: float) -> list[float]:
    """Share of the wall time each worker spent running tasks (from dask's task stream)."""
    per: dict[str, float] = {}
    for rec in records:
        for ss in rec["startstops"]:
            if ss["action"] == "compute":
                per[rec["worker"]] = per.get(rec["worker"], 0.0) + ss["stop"] - ss["start"]
    return sorted(round(v / wall, 3) for v in per.values())


def _median_task_seconds(records: list, kind: str) -> float:
    """Median run time of the tasks whose key contains ``kind`` (the tile computations)."""
    times = [ss["stop"] - ss["start"] for rec in records if kind in str(rec["key"])
             for ss in rec["startstops"] if ss["action"] == "compute"]
    return round(float(np.median(times)), 3) if times else float("nan")


def _autogroup() -> str | None:
    """The kernel's ``sched_autogroup_enabled`` (1: CPU is shared fairly between sessions,
    so one session's processes together get one share, however many there are)."""
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip()
    except OSError:
        return None


def _warm_up(fn) -> None:
    """Import the engine and build the model in a worker (not part of the timing)."""
    import napari_srmat.tiling._distributed  # noqa: F401

    fn(np.zeros((1, 3, 16, 16), np.float32))


def main() -> None:
    import distributed
    import torch

    from napari_srmat.io import read_image
    from napari_srmat.jobs import run_job
    from napari_srmat.sr import load_model
    from napari_srmat.sr.remote import RemoteModel
    from napari_srmat.tiling import dask_client, tiled_apply_job

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512, help="input side (px)")
    ap.add_argument("--model", default="cnn")
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--tile", type=int, default=128)
    ap.add_argument("--overlap", type=int, default=32)
    ap.add_argument("--chunk", type=int, default=512, help="output chunk side (px)")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    img = (rng.random((args.size, args.size, 3)) * 255).astype(np.uint8)
    model = load_model(args.model, scale=args.scale, device="cpu")
    kw = dict(scale=args.scale, out_channels=3, tile=args.tile, overlap=args.overlap,
              chunk_size=args.chunk, batch_size=args.batch_size, n_levels=1)
    tmp = Path(tempfile.mkdtemp(prefix="bench_distributed_"))
    load_before = os.getloadavg()
    results: dict[str, float] = {}
    outputs: dict[str, np.ndarray] = {}

    busy: dict[str, list[float]] = {}
    task_s: dict[str, float] = {}

    def run_once(name: str, fn, scheduler=None, r: int = 0) -> None:
        out = tmp / f"{name}-{r}.ome.zarr"
        with contextlib.ExitStack() as stack:
            ts = None if scheduler is None else stack.enter_context(
                distributed.get_task_stream(client=scheduler))
            t0 = time.perf_counter()
            run_job(tiled_apply_job(img, fn, out=out, scheduler=scheduler, **kw), quiet=True)
            wall = time.perf_counter() - t0
        if wall < results.get(name, float("inf")):
            results[name] = wall
            if ts is not None:
                busy[name] = _busy_fractions(ts.data, wall)
                task_s[name] = _median_task_seconds(ts.data, "owned")
        if name not in outputs:
            outputs[name] = read_image(out).data.compute()
        shutil.rmtree(out)

    n_threads = torch.get_num_threads()
    configs = {  # name: (scheduler, drop dask's MALLOC_TRIM_THRESHOLD_)
        "cluster_1worker": ("local:1", True),
        "cluster_2workers": ("local:2", True),
        "cluster_1worker_dask_default_env": (1, False),
    }
    try:
        for name, threads in (("local_1thread", 1), ("local_threads", os.cpu_count() or 1)):
            torch.set_num_threads(threads)
            for r in range(args.repeat):
                run_once(name, model.predict, r=r)
        torch.set_num_threads(n_threads)
        with contextlib.ExitStack() as stack:
            clients = {}
            for name, (sched, ours) in configs.items():
                if ours:  # what --scheduler local:N starts
                    clients[name] = stack.enter_context(dask_client(sched))
                else:  # dask's own worker environment
                    cluster = stack.enter_context(distributed.LocalCluster(
                        n_workers=sched, threads_per_worker=1, processes=True,
                        dashboard_address=":0"))
                    clients[name] = stack.enter_context(
                        distributed.Client(cluster, set_as_default=False))
            fn = RemoteModel(model, device="cpu")
            for client in clients.values():
                client.run(_warm_up, fn)  # imports and model loading on every worker
            # interleaved rounds: load from other processes hits every configuration alike
            for r in range(args.repeat):
                for name, client in clients.items():
                    run_once(name, fn, scheduler=client, r=r)
    finally:
        torch.set_num_threads(n_threads)
        shutil.rmtree(tmp, ignore_errors=True)
    ref = outputs["local_1thread"]
    mpix = args.size * args.size / 1e6
    print(json.dumps({
        "benchmark": "distributed_scaling",
        "model": args.model,
        "scale": args.scale,
        "input": [args.size, args.size, 3],
        "tile": args.tile,
        "overlap": args.overlap,
        "chunk": args.chunk,
        "seconds": {k: round(v, 3) for k, v in results.items()},
        "input_megapixels_per_s": {k: round(mpix / v, 4) for k, v in results.items()},
        "ratio_2_vs_1": round(results["cluster_1worker"] / results["cluster_2workers"], 3),
        "ratio_2workers_vs_local_threads": round(
            results["local_threads"] / results["cluster_2workers"], 3),
        "ratio_1worker_vs_local_1thread": round(
            results["local_1thread"] / results["cluster_1worker"], 3),
        "worker_busy_fraction": busy,
        "median_tile_task_seconds": task_s,
        "slowdown_with_dask_malloc_trim_env": round(
            results["cluster_1worker_dask_default_env"] / results["cluster_1worker"], 3),
        "bit_identical_to_local": {k: bool(np.array_equal(v, ref)) for k, v in outputs.items()},
        "cpu_count": os.cpu_count(),
        "sched_autogroup_enabled": _autogroup(),
        "loadavg_before": [round(v, 2) for v in load_before],
        "loadavg_after": [round(v, 2) for v in os.getloadavg()],
    }, indent=1))


if __name__ == "__main__":
    main()
