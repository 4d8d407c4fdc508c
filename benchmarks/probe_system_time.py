"""Where the system CPU time of a `cnn` x4 `srmat sr run` goes (issue 15, row 1 analysis).

Prints one JSON object with user / system CPU seconds (``resource.getrusage``, this
process, all threads) of:

* ``touch``: writing a fresh 189 MB numpy array (the size of the float32 output of a 992²
  image at x4) three times, with numpy's huge-page ``madvise`` on (its default) and off:
  the first-touch cost of memory on this machine;
* ``predict``: ``cnn`` x4 ``predict`` on a 992² and a 1024² RGB image (the bare forward
  and the default padded tile), ``--repeat`` times each, interleaved;
* ``store``: the level-0 block writes (``_store_block``: Zarr + Blosc) and the whole
  run of ``srmat sr run IN OUT`` (``--repeat`` runs after a warm-up), with numpy's
  huge-page advice on (its default) and off for the whole run: ``cnn`` on 992² (one 47 MB
  chunk) and ``bicubic`` on 2048² (the fast path, 9 chunks of up to 21 MB);
* ``thp`` (unless ``--no-thp``): ``predict`` again in a child process with PyTorch's
  ``THP_MEM_ALLOC_ENABLE=1`` (huge pages for its CPU tensors), for comparison.

    python benchmarks/probe_system_time.py [--repeat 3] [--no-thp]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from _speed import Timer, fresh, machine, micrograph, srmat, write_tiff

TOUCH_BYTES = 189 * 2**20


def _cpu(t: Timer) -> dict:
    return {"user_s": round(t.user, 3), "sys_s": round(t.sys, 3)}


def _touch() -> dict:
    from numpy._core.multiarray import _set_madvise_hugepage

    res = {}
    for huge in (True, False):
        old = _set_madvise_hugepage(huge)
        runs = []
        for _ in range(3):
            with Timer() as t:
                a = np.empty(TOUCH_BYTES, np.uint8)
                a.fill(1)
            del a
            runs.append(_cpu(t))
        _set_madvise_hugepage(old)
        res["huge_pages" if huge else "small_pages"] = runs
    return res


def _predict(repeat: int) -> dict:
    from napari_srmat.sr import load_model

    model = load_model("cnn")
    img = micrograph(1024)
    xs = {n: np.ascontiguousarray(np.moveaxis(img[:n, :n], -1, 0)[None], np.float32) / 255
          for n in (992, 1024)}
    for x in xs.values():
        model.predict(x)  # warm-up
    res: dict = {str(n): [] for n in xs}
    for _ in range(repeat):
        for n, x in xs.items():
            with Timer() as t:
                model.predict(x)
            res[str(n)].append(_cpu(t))
    return res


def _store(repeat: int, model: str, size: int) -> dict:
    from numpy._core.multiarray import _set_madvise_hugepage

    from napari_srmat.io import _write

    blocks: list = []
    orig = _write._store_block

    def timed(*a, **kw):
        with Timer() as t:
            orig(*a, **kw)
        blocks.append(t)

    res: dict = {"huge_pages": [], "small_pages": []}
    _write._store_block = timed
    old = _set_madvise_hugepage(True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tif = write_tiff(micrograph(size), Path(tmp) / "in.tif")
            out = Path(tmp) / "out.ome.zarr"
            srmat("sr", "run", tif, fresh(out), "--model", model)  # warm-up
            for _ in range(repeat):
                for key in res:  # interleaved
                    _set_madvise_hugepage(key == "huge_pages")
                    blocks.clear()
                    with Timer() as run:
                        srmat("sr", "run", tif, fresh(out), "--model", model)
                    res[key].append({
                        "run": _cpu(run),
                        "store_user_s": round(sum(b.user for b in blocks), 3),
                        "store_sys_s": round(sum(b.sys for b in blocks), 3)})
    finally:
        _set_madvise_hugepage(old)
        _write._store_block = orig
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-thp", action="store_true")
    ap.add_argument("--predict-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.predict_only:
        print(json.dumps(_predict(args.repeat)))
        return
    res = {"touch_189MB": _touch(), "predict": _predict(args.repeat),
           "store_cnn_992": _store(args.repeat, "cnn", 992),
           "store_bicubic_2048": _store(args.repeat, "bicubic", 2048)}
    if not args.no_thp:
        env = {**os.environ, "THP_MEM_ALLOC_ENABLE": "1"}
        out = subprocess.run([sys.executable, __file__, "--predict-only", "--repeat",
                              str(args.repeat)], env=env, capture_output=True, text=True,
                             check=True)
        res["predict_thp"] = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps({"benchmark": "system_time_probe", **res, **machine()}))


if __name__ == "__main__":
    main()
