"""UAED boundary inference speed: TTA modes and no-TTA throughput (issue 15, rows 4-5).

Prints one JSON object. The shipped checkpoint, ``predict_boundaries`` in memory (what
``srmat edges predict`` runs, less the output folder) at the default tile/overlap, on
``--images`` TBM validation images (real micrographs; never the test split) or, with
``--synthetic``, a synthetic micrograph:

* ``default_s``, ``none_s``, ``d4_s``: seconds with the checkpoint's TTA default and with
  ``tta="none"`` / ``"d4"``; ``default_vs_none`` = default / none seconds;
* ``none_mpix_per_s``: input megapixels per second without TTA;
* the baseline, in the same run: ``reference_s`` = the inference before issue 15: a
  plain ``fn`` (the network under ``torch.no_grad`` on contiguous NCHW float32 tiles,
  sigmoid, separate clamp) at that time's default tile, :data:`BASELINE_TILE` = 256 px;
  ``ratio`` = reference / none seconds at today's default tile (target >= 2.5 at equal
  accuracy: the 512 px default was chosen out of fold, ``studies/boundary_tile_oof.py``);
  ``code_ratio`` and ``max_abs_diff`` = the same at the baseline's tile (the code alone;
  the maps must agree to float tolerance).
* ``--tiles``: other tile sides measured for the no-TTA path (same overlap), with their
  largest difference from the default tile (blending differs, so not a float-tolerance
  match).
* ``--ablation``: the network alone on a batch of 4 x 256² random tiles, each
  inference option separately (speed-up over ``no_grad`` NCHW batch 4): channels-last,
  batch norms folded (``edges.model.inference_copy``), both, both one tile per call,
  ``torch.jit`` freeze + ``optimize_for_inference``.

Process CPU time (robust to other processes sharing the cores), min of ``--repeat``
runs, one torch thread (``--threads``).

    python benchmarks/bench_uaed_speed.py [--images 2] [--repeat 2] [--tiles 512]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from _speed import Timer, machine, micrograph

from napari_srmat.edges import load_boundary_model, predict_boundaries
from napari_srmat.tiling import BOUNDARY_OVERLAP, BOUNDARY_TILE, tiled_apply

#: Default UAED tile before issue 15 (the baseline's tile).
BASELINE_TILE = 256

VAL = Path("/work/shared/data/tbm/val/images")


def _images(n: int, synthetic: int) -> list[np.ndarray]:
    if synthetic:
        return [micrograph(synthetic)]
    from napari_srmat.io import read_image

    files = sorted(VAL.glob("*.png"))[:n]
    return [np.asarray(read_image(f).data) for f in files]


def _ablation(net, repeat: int) -> dict:
    from napari_srmat.edges.model import inference_copy

    cl = torch.channels_last
    x = torch.rand(4, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    xcl = x.contiguous(memory_format=cl)
    import copy

    net_cl = copy.deepcopy(net).to(memory_format=cl)
    folded = inference_copy(net, channels_last=False)
    both = inference_copy(net)
    with torch.no_grad():
        jit = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(net, x)))
    variants = {
        "no_grad_nchw_batch4": (torch.no_grad, lambda: net(x)),
        "channels_last": (torch.inference_mode, lambda: net_cl(xcl)),
        "folded_bn": (torch.inference_mode, lambda: folded(x)),
        "folded_bn_channels_last": (torch.inference_mode, lambda: both(xcl)),
        "folded_bn_channels_last_one_tile_per_call":
            (torch.inference_mode, lambda: [both(xcl[k : k + 1]) for k in range(4)]),
        "jit_freeze_optimize": (torch.no_grad, lambda: jit(x)),
    }
    best = {}
    for name, (ctx, f) in variants.items():
        with ctx():
            f()
            for _ in range(repeat):
                with Timer() as tm:
                    f()
                best[name] = min(best.get(name, tm.cpu), tm.cpu)
    base = best["no_grad_nchw_batch4"]
    return {k: round(base / v, 2) for k, v in best.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=2)
    ap.add_argument("--synthetic", type=int, default=0, help="side of a synthetic image "
                    "instead of the TBM validation images")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tiles", type=int, nargs="*", default=[256])
    ap.add_argument("--no-d4", action="store_true", help="skip the (8x slower) d4 timing")
    ap.add_argument("--ablation", action="store_true",
                    help="time each inference option on the network alone")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    imgs = _images(args.images, args.synthetic)
    mpix = sum(i.shape[0] * i.shape[1] for i in imgs) / 1e6
    model = load_boundary_model()
    default_tta = model.tta
    net = model.net

    def reference_fn(batch):
        x = torch.from_numpy(np.asarray(batch, np.float32))
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        x = x[:, :3].clamp(0, 1)
        with torch.no_grad():
            logit, sigma = net(x)
            return torch.cat([torch.sigmoid(logit), sigma], 1).numpy()

    def reference():
        return [tiled_apply(i, reference_fn, scale=1, out_channels=2, tile=BASELINE_TILE,
                            overlap=BOUNDARY_OVERLAP, out_dtype=np.float32)[..., 0]
                for i in imgs]

    def run(tta, tile=BOUNDARY_TILE):
        model.tta = tta
        # the model's cost against the reference's: the input's scale check (a sub-second
        # estimate added to the prediction route by bdb971f) is not part of either
        return [predict_boundaries(i, model, tile=tile, overlap=BOUNDARY_OVERLAP,
                                   scale_check=False)[0]
                for i in imgs]

    def timed(f, repeat=args.repeat):
        res, best = None, None
        for _ in range(repeat):
            with Timer() as tm:
                res = f()
            best = tm.cpu if best is None else min(best, tm.cpu)
        return res, best

    run("none")  # warm-up
    ref, t_ref = timed(reference)
    none, t_none = timed(lambda: run("none"))
    _, t_default = (None, t_none) if default_tta == "none" else timed(lambda: run(default_tta))
    t_d4 = None if args.no_d4 else timed(lambda: run("d4"), 1)[1]
    same_tile, t_same = timed(lambda: run("none", BASELINE_TILE))
    diff = max(float(np.abs(a - b).max()) for a, b in zip(ref, same_tile))
    tiles = {}
    for t in args.tiles:
        if t == BOUNDARY_TILE:
            continue
        res, s = timed(lambda t=t: run("none", t), 1)
        tiles[str(t)] = {"s": round(s, 3), "mpix_per_s": round(mpix / s, 3),
                         "max_abs_diff_vs_default_tile": round(
                             max(float(np.abs(a - b).max()) for a, b in zip(res, none)), 4)}
    model.tta = default_tta
    ablation = _ablation(net, args.repeat + 1) if args.ablation else None
    print(json.dumps({
        "benchmark": "uaed_speed",
        "data": f"synthetic {args.synthetic}^2" if args.synthetic else
                f"TBM val, first {len(imgs)} images",
        "megapixels": round(mpix, 3),
        "tile": BOUNDARY_TILE, "overlap": BOUNDARY_OVERLAP,
        "default_tta": default_tta,
        "timer": "process CPU (user+sys, all threads), min of repeats (d4: one run)",
        "default_s": round(t_default, 3),
        "none_s": round(t_none, 3),
        "d4_s": None if t_d4 is None else round(t_d4, 3),
        "default_vs_none": round(t_default / t_none, 3),
        "d4_vs_none": None if t_d4 is None else round(t_d4 / t_none, 3),
        "none_mpix_per_s": round(mpix / t_none, 3),
        "reference_s": round(t_ref, 3),
        "reference_mpix_per_s": round(mpix / t_ref, 3),
        "ratio": round(t_ref / t_none, 3),
        "baseline_tile": BASELINE_TILE,
        "code_ratio": round(t_ref / t_same, 3),
        "target_ratio": 2.5,
        "max_abs_diff": float(f"{diff:.2e}"),
        "other_tiles": tiles,
        "ablation_speedup": ablation,
        **machine(),
    }))


if __name__ == "__main__":
    main()
