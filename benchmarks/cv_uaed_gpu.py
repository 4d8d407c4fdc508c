"""Leave-scan-out CV of UAED trained with a GPU lease's budget; never tbm/test.

The fold models of ``benchmarks/cv_uaed.py`` are trained for about 6 CPU-minutes each
(80 epochs of 26 steps of 2 crops). A GPU lease allows far more: this script trains the
same protocol (same folds of tbm/train + val for a seed, the same held-out scans, the
synthetic pretraining, the final EMA weights, nothing selected on held-out images) with
batches of 16 crops, 50 steps per epoch and as many epochs as fit ``--budget-s``
seconds, all models at once, one process each, on one GPU. The epoch count is sized
once from the step time all processes measure together after a barrier (the slowest
process's time is used by every process, so every model of a run gets the same number
of epochs), at least 20; it is recorded in each fold's ``train_meta.json``, and
``--epochs N`` repeats a run without the timing. A model stopped by ``--hard-stop-s``
is recorded as not done, and ``--stage predict`` refuses it. One model per variant is
also trained on tbm/train (validated on tbm/val: the recipe of the shipped weights), the
candidate shipped model.

Measured on the one lease it ran on (an H200, 16 cores): one process per model
time-slices the GPU. A step of ``gpu_long`` took 21 ms in a process alone, about 90 ms
with 8 processes and about 300 ms with all 22, so every model got 20 epochs (1 000 steps)
in 6.3 minutes. The model is bound by kernel launches; a later lease should train several
models inside one process (stacked weights, CUDA graphs) rather than more processes.

Stages:

``train`` (the GPU machine)
    ``WORK/sSEED/VARIANT/fold-K/{train_meta.json, run/last/{config.json,
    ema.safetensors}}`` (fp16 EMA weights) and ``WORK/final/VARIANT/...``; with
    ``--pack DIR`` the weights are put into one tar per variant and seed (at most 8 files).
``predict`` (any machine)
    the out-of-fold maps ``fold-K/oof.npz`` (TTA none and d4) of the stored weights, in
    the layout ``benchmarks/cv_uaed.py --stage eval`` reads.
``summary`` (any machine)
    every model's training record (epochs, done, wall seconds, timed step seconds) as
    one JSON (``--out``).
``probe`` (the GPU machine)
    the step time of ``--processes`` processes of one variant timed at once.

Rerun (the GPU run of docs/boundaries.md, "A GPU lease's training budget": it ran with
``--budget-s 360 --hard-stop-s 450``, whose timing gave 16 epochs, raised to the floor of
20; ``--epochs 20`` repeats it without the timing)::

    python benchmarks/cv_uaed_gpu.py --stage train --data DATA --work out/cv_uaed_gpu \\
        --epochs 20 --pack $OUT     # on the GPU machine; DATA: train + val
    python benchmarks/cv_uaed_gpu.py --stage probe --variant gpu_long --processes 8
    python benchmarks/cv_uaed_gpu.py --stage summary --work out/cv_uaed_gpu \\
        --out benchmarks/cv_uaed_gpu_training.json
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/cv_uaed_gpu.py --stage predict \\
        --work out/cv_uaed_gpu
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/cv_uaed.py --stage eval \\
        --work out/cv_uaed_gpu/s0 --seed 0 --variants gpu_long,gpu_aug \\
        --out benchmarks/cv_uaed_gpu_s0.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from cv_uaed import VARIANTS, list_images, predict_fold, train_settings  # noqa: E402

#: The GPU variants (also in ``cv_uaed.VARIANTS``): the plain recipe and the recipe with
#: photometric augmentation, each with the GPU budget, and the latter with batches of 64
#: (``gpu_aug_big``: the next lease's run, ``studies/gpu_aug_big_decision.py``).
GPU_VARIANTS = ("gpu_long", "gpu_aug", "gpu_aug_big")
#: What ``--stage train`` trains by default: the run of session 24's lease.
DEFAULT_TRAIN_VARIANTS = ("gpu_long", "gpu_aug")
#: What the GPU budget changes in ``cv_uaed.train_settings`` (besides the epochs).
GPU_SETTINGS = {"batch_size": 16, "steps_per_epoch": 50, "device": "cuda", "amp": False}
#: (fp32: the small model is bound by kernel launches, not arithmetic, and float16
#: training of this loss has not been checked for overflow)
#: Fold assignments (``scan_folds`` seeds) of the repetitions; plain results of both
#: exist (``benchmarks/cv_uaed.json``, ``benchmarks/cv_uaed_norm_s1.json``).
SEEDS = (0, 1)
#: Steps timed per process (after warm-up steps) to size the epoch count.
TIMED_STEPS = 30
WARMUP_STEPS = 10


def _log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def gpu_settings(seed: int, epochs: int, device: str = "cuda", variant: str | None = None
                 ) -> dict:
    """``cv_uaed.train_settings`` of a seed with the GPU budget and ``variant``'s own
    settings (its batch size, augmentation; ``device="cpu"``: a dry run of this script)."""
    args = argparse.Namespace(pretrain_synthetic=32, pretrain_epochs=4, epochs=epochs, seed=seed)
    return {**train_settings(args), **GPU_SETTINGS, "device": device,
            **(VARIANTS[variant] if variant else {})}


def _jobs(seeds, variants=DEFAULT_TRAIN_VARIANTS) -> list[tuple[str, str, int | None]]:
    """(variant, seed tag, fold) of every model: the folds of each seed, then the finals."""
    jobs = [(v, f"s{s}", k) for s in seeds for v in variants for k in range(5)]
    return jobs + [(v, "final", None) for v in variants]


def _samples(data: Path, tag: str, fold: int | None):
    """Training and log-validation samples of one job, and the held-out names."""
    from napari_srmat.edges.cv import scan_folds
    from napari_srmat.edges.data import list_image_mask_pairs, load_pairs

    if tag == "final":  # the shipped recipe: tbm/train, validated on tbm/val
        train = load_pairs(list_image_mask_pairs(data / "train" / "images",
                                                 data / "train" / "masks"))
        val = load_pairs(list_image_mask_pairs(data / "val" / "images", data / "val" / "masks"))
        return train, val, [], None
    pairs = list_images(data)
    samples = load_pairs(pairs)
    folds = [[Path(p).stem for p in f]
             for f in scan_folds([p for p, _ in pairs], 5, seed=int(tag[1:]))]
    held = set(folds[fold])
    train = [s for s in samples if s.name not in held]
    # as cv_uaed.train_fold: two training images for the training log only
    return train, train[:2], sorted(held), folds


def _step_time(variant: str, settings: dict, train, val) -> tuple[float, float]:
    """Seconds per training step (crops, augmentation, forward, backward, EMA) and per
    epoch's validation, measured on a throwaway model."""
    import copy

    import numpy as np
    import torch

    from napari_srmat.edges.data import parse_photometric, photometric_augment, random_crop_augment
    from napari_srmat.edges.loss import uaed_loss
    from napari_srmat.edges.model import build_uaed, default_arch_config
    from napari_srmat.edges.train import _ema_update, validate

    dev = settings["device"]
    net = build_uaed(default_arch_config(settings["encoder"])).to(dev)
    ema = copy.deepcopy(net)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    use_amp = bool(settings["amp"]) and dev.startswith("cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    photometric = parse_photometric(VARIANTS[variant].get("photometric_augment", ""))
    rng = np.random.default_rng(0)
    t0 = 0.0
    for step in range(WARMUP_STEPS + TIMED_STEPS):
        if step == WARMUP_STEPS:
            if dev.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        crops = [random_crop_augment(train[i % len(train)].image, train[i % len(train)].mask,
                                     settings["crop"], rng)
                 for i in range(settings["batch_size"])]
        if photometric:
            crops = [(photometric_augment(c[0], rng, photometric), c[1]) for c in crops]
        x = torch.from_numpy(np.stack([c[0] for c in crops])).to(dev)
        y = torch.from_numpy(np.stack([c[1][None] for c in crops]).astype(np.float32)).to(dev)
        with torch.autocast("cuda", enabled=use_amp):
            logit, sigma = net(x)
        loss, _ = uaed_loss(logit, sigma, y, epoch=0, n_epochs=1)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()
        _ema_update(ema, net, 0.99)
        float(loss.detach())  # the job reads the loss every step
    if dev.startswith("cuda"):
        torch.cuda.synchronize()
    step_s = (time.perf_counter() - t0) / TIMED_STEPS
    t1 = time.perf_counter()
    validate(ema, val, dev)
    return step_s, time.perf_counter() - t1 + 0.05  # + the checkpoint writes


def _wait_for(paths: list[Path], timeout: float) -> None:
    end = time.time() + timeout
    while not all(p.is_file() for p in paths) and time.time() < end:
        time.sleep(0.2)


def run_one(args) -> int:
    """One job: time, agree on the epochs, train, keep the final EMA weights (fp16)."""
    import torch
    from safetensors.torch import load_file, save_file

    from napari_srmat.edges.train import train_boundaries_job
    from napari_srmat.jobs import StopToken, run_job

    variant, tag, fold = args.one[0], args.one[1], (None if args.one[2] == "-" else
                                                     int(args.one[2]))
    work = Path(args.work)
    name = f"{tag}-{variant}-{fold}"
    fdir = work / tag / variant / ("final" if fold is None else f"fold-{fold}")
    fdir.mkdir(parents=True, exist_ok=True)
    (fdir / "oof.npz").unlink(missing_ok=True)  # an earlier model's maps
    torch.set_num_threads(1)
    train, val, held, folds = _samples(Path(args.data), tag, fold)
    if folds is not None:
        fpath = work / tag / "folds.json"
        if not fpath.is_file():
            tmp = fpath.with_suffix(f".{os.getpid()}.partial")
            tmp.write_text(json.dumps(folds, indent=1))
            tmp.replace(fpath)
    seed = 0 if tag == "final" else int(tag[1:])
    sync = work / "sync"
    sync.mkdir(exist_ok=True)
    n_jobs = int(args.n_jobs)
    epochs = args.epochs
    timing = None
    if epochs is None:
        (sync / f"ready-{name}").write_text("")
        _wait_for([sync / f"ready-{j}" for j in args.all_names.split(",")], 60)
        step_s, val_s = _step_time(variant, gpu_settings(seed, 1, args.device, variant),
                                   train, val)
        tmp = sync / f"time-{name}.{os.getpid()}.partial"
        tmp.write_text(json.dumps([step_s, val_s]))
        tmp.replace(sync / f"time-{name}.json")  # whole, for the processes polling it
        times = [sync / f"time-{j}.json" for j in args.all_names.split(",")]
        _wait_for(times, 60)
        got = [json.loads(p.read_text()) for p in times if p.is_file()]
        worst_step, worst_val = max(t[0] for t in got), max(t[1] for t in got)
        per_epoch = GPU_SETTINGS["steps_per_epoch"] * worst_step + worst_val
        left = args.budget_s - (time.time() - args.t_start)
        epochs = max(20, int(left / per_epoch) - 4)  # 4 pretraining epochs
        timing = {"step_s": step_s, "val_s": val_s, "worst_step_s": worst_step,
                  "worst_val_s": worst_val, "n_timed": len(got), "n_jobs": n_jobs,
                  "budget_left_s": round(left, 1)}
        _log(f"{name}: {step_s * 1e3:.1f} ms/step (worst {worst_step * 1e3:.1f}), "
             f"{epochs} epochs")
    settings = gpu_settings(seed, epochs, args.device, variant)
    if args.steps_per_epoch is not None:  # a dry run
        settings["steps_per_epoch"] = args.steps_per_epoch
    meta = {"settings": {**settings, "train_names": [s.name for s in train]},
            "held_out": held, "timing": timing, "done": False}
    cfg = dict(settings, train_images=[s.image.transpose(1, 2, 0) for s in train],
               train_masks=[s.mask for s in train],
               val_images=[s.image.transpose(1, 2, 0) for s in val],
               val_masks=[s.mask for s in val], out=str(fdir / "train"), top_k=0,
               overwrite=True)  # a rerun of the stage trains again
    stop = StopToken()
    deadline = args.t_start + args.hard_stop_s
    t0, c0 = time.time(), time.process_time()

    def watch(event):
        if time.time() > deadline:
            stop.request_stop()

    res = run_job(train_boundaries_job(cfg, stop=stop), quiet=True, on_event=watch)
    meta.update(done=not res.stopped, epochs_done=res.epochs_done,
                wall_s=round(time.time() - t0, 1), cpu_s=time.process_time() - c0,
                final_train_loss=res.history[-1]["loss"] if res.history else None,
                final_log_val_ap=res.history[-1]["val_ap"] if res.history else None,
                device=torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu")
    last = fdir / "train" / "last"
    if not (last / "ema.safetensors").is_file():  # stopped before its first epoch ended
        (fdir / "train_meta.json").write_text(json.dumps(meta, indent=1))
        _log(f"{name}: stopped before its first epoch ended")
        return 3
    keep = fdir / "run" / "last"
    keep.mkdir(parents=True, exist_ok=True)
    ema = load_file(str(last / "ema.safetensors"))
    save_file({k: (v.half() if v.dtype.is_floating_point else v).contiguous()
               for k, v in ema.items()}, str(keep / "ema.safetensors"))
    (keep / "config.json").write_text((last / "config.json").read_text())
    (fdir / "train_meta.json").write_text(json.dumps(meta, indent=1))
    _log(f"{name}: done={meta['done']} epochs {res.epochs_done} in {meta['wall_s']} s")
    return 0 if meta["done"] else 3


def train_all(args) -> int:
    """Start every job at once, wait, and pack the weights."""
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    for p in (work / "sync").glob("*"):  # an earlier run's barrier and timings
        if p.name.startswith(("ready-", "time-")):
            p.unlink()
    jobs = _jobs(args.seeds, args.variants)[: args.only]
    names = [f"{t}-{v}-{k}" for v, t, k in jobs]
    t_start = time.time()
    procs = []
    for (v, t, k), n in zip(jobs, names):
        cmd = [sys.executable, __file__, "--one", v, t, "-" if k is None else str(k),
               "--data", args.data, "--work", args.work, "--budget-s", str(args.budget_s),
               "--hard-stop-s", str(args.hard_stop_s), "--t-start", str(t_start),
               "--n-jobs", str(len(jobs)), "--all-names", ",".join(names),
               "--device", args.device]
        if args.steps_per_epoch is not None:
            cmd += ["--steps-per-epoch", str(args.steps_per_epoch)]
        if args.epochs is not None:
            cmd += ["--epochs", str(args.epochs)]
        log = open(work / f"log-{n}.txt", "w")
        procs.append((n, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                          env={**os.environ, "OMP_NUM_THREADS": "1"})))
    codes = {n: p.wait() for n, p in procs}
    _log(f"exit codes: {codes}")
    if args.pack:
        pack(work, Path(args.pack))
    return 0 if all(c == 0 for c in codes.values()) else 1


def pack(work: Path, dest: Path) -> None:
    """One tar per seed and variant and one per final model: weights, configs, metas
    (fp16 weights of the tiny encoder: about 10 MB per tar)."""
    dest.mkdir(parents=True, exist_ok=True)
    for tag_dir in sorted(p for p in work.iterdir() if p.is_dir() and p.name != "sync"):
        for variant_dir in sorted(p for p in tag_dir.iterdir() if p.is_dir()):
            with tarfile.open(dest / f"cv_uaed_gpu_{tag_dir.name}_{variant_dir.name}.tar",
                              "w") as tar:
                if (tag_dir / "folds.json").is_file():
                    tar.add(tag_dir / "folds.json", arcname=f"{tag_dir.name}/folds.json")
                for p in sorted(variant_dir.rglob("*")):
                    if p.is_file() and "train" not in p.relative_to(work).parts:
                        tar.add(p, arcname=str(p.relative_to(work)))
    with tarfile.open(dest / "cv_uaed_gpu_logs.tar", "w") as tar:
        for p in sorted(work.glob("log-*.txt")):
            tar.add(p, arcname=p.name)


def predict_all(args) -> int:
    """Out-of-fold maps of every stored fold model (TTA none and d4)."""
    from napari_srmat.edges.data import load_pairs

    work = Path(args.work)
    by_name = {s.name: s for s in load_pairs(list_images(Path(args.data)))}
    for tag_dir in sorted(work.glob("s[0-9]*")):
        folds = json.loads((tag_dir / "folds.json").read_text())
        for variant in GPU_VARIANTS:
            for k, held in enumerate(folds):
                fdir = tag_dir / variant / f"fold-{k}"
                if (fdir / "run").is_dir():
                    meta = json.loads((fdir / "train_meta.json").read_text())
                    if not meta.get("done"):
                        raise SystemExit(f"{fdir} stopped after {meta.get('epochs_done')} of "
                                         f"{meta['settings']['epochs'] + 4} epochs: its "
                                         "maps would not be the recipe's; train it again")
                    _log(f"{tag_dir.name} {variant} fold {k}: out-of-fold maps")
                    predict_fold(tag_dir, variant, k, [by_name[n] for n in held])
    return 0


def summary(args) -> int:
    """Every model's training record as one JSON."""
    work = Path(args.work)
    records = {}
    for meta_path in sorted(work.glob("*/*/*/train_meta.json")):
        meta = json.loads(meta_path.read_text())
        records[str(meta_path.parent.relative_to(work))] = {
            "epochs": meta["settings"]["epochs"], "epochs_done": meta.get("epochs_done"),
            "done": meta.get("done"), "wall_s": meta.get("wall_s"),
            "device": meta.get("device"), "timing": meta.get("timing"),
            "settings": {k: v for k, v in meta["settings"].items() if k != "train_names"}}
    Path(args.out).write_text(json.dumps({"script": "benchmarks/cv_uaed_gpu.py --stage summary",
                                          "models": records}, indent=1))
    _log(f"{len(records)} models -> {args.out}")
    return 0


def probe(args) -> int:
    """Step time of ``--processes`` processes of ``--variant`` timed at once (fold 0 of
    seed 0's training images), printed as JSON lines."""
    if args.one_probe:
        from napari_srmat.edges.cv import scan_folds  # noqa: F401  (imports as a job does)

        train, val, _, _ = _samples(Path(args.data), "s0", 0)
        step_s, val_s = _step_time(args.variant, gpu_settings(0, 1, args.device, args.variant),
                                   train, val)
        print(json.dumps({"variant": args.variant, "processes": args.processes,
                          "step_ms": round(step_s * 1e3, 1), "val_s": round(val_s, 3)}),
              flush=True)
        return 0
    cmd = [sys.executable, __file__, "--stage", "probe", "--one-probe", "--data", args.data,
           "--variant", args.variant, "--processes", str(args.processes),
           "--device", args.device]
    procs = [subprocess.Popen(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"})
             for _ in range(args.processes)]
    return max(p.wait() for p in procs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stage", choices=("train", "predict", "summary", "probe"),
                    default="train")
    ap.add_argument("--data", default="../shared/data/tbm",
                    help="TBM root; only train/ and val/ are read")
    ap.add_argument("--work", default="out/cv_uaed_gpu")
    ap.add_argument("--budget-s", type=float, default=330.0,
                    help="seconds from the start to the planned end of training")
    ap.add_argument("--hard-stop-s", type=float, default=440.0,
                    help="seconds from the start after which training is stopped")
    ap.add_argument("--epochs", type=int, default=None, help="epochs (no timing)")
    ap.add_argument("--variants", type=lambda t: tuple(t.split(",")),
                    default=DEFAULT_TRAIN_VARIANTS, help="train: variants, comma-separated")
    ap.add_argument("--seeds", type=lambda t: tuple(int(x) for x in t.split(",")),
                    default=SEEDS, help="train: fold seeds of the repetitions")
    ap.add_argument("--pack", default=None, help="folder for the tar files")
    ap.add_argument("--out", default="benchmarks/cv_uaed_gpu_training.json",
                    help="summary: the JSON written")
    ap.add_argument("--variant", default="gpu_long", choices=GPU_VARIANTS, help="probe")
    ap.add_argument("--processes", type=int, default=1, help="probe: processes at once")
    ap.add_argument("--one-probe", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--device", default="cuda", help="cpu: a dry run of the script")
    ap.add_argument("--steps-per-epoch", type=int, default=None, help="(a dry run)")
    ap.add_argument("--only", type=int, default=None, help="the first N jobs (a dry run)")
    ap.add_argument("--one", nargs=3, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--t-start", type=float, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--n-jobs", default="1", help=argparse.SUPPRESS)
    ap.add_argument("--all-names", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    unknown = sorted(set(args.variants) - set(GPU_VARIANTS))
    if unknown:
        ap.error(f"unknown variant(s) {unknown}; choose from {', '.join(GPU_VARIANTS)}")
    if args.one is not None:
        return run_one(args)
    if args.stage == "predict":
        return predict_all(args)
    if args.stage == "summary":
        return summary(args)
    if args.stage == "probe":
        return probe(args)
    return train_all(args)


if __name__ == "__main__":
    sys.exit(main())
