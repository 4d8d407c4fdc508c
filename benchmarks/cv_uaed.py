"""Leave-scan-out cross-validation of UAED (tiny) on TBM train + val; never tbm/test.

One UAED ``tiny`` model per fold and variant is trained from scratch (a short synthetic
pretraining, then the training folds; never the shipped weights, which saw all of
train + val), predicts its held-out scans with TTA ``none`` and ``d4``, and every
threshold rule of :mod:`napari_srmat.edges.thresholds` is judged out of fold: its
parameters are fitted on the out-of-fold maps of the *other* folds (cross-fitting)
and applied to the held-out fold.

Rerun (resumable: finished folds are skipped, an interrupted one resumes at its last
epoch; about 7 CPU-min per fold model on one thread)::

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/cv_uaed.py \\
        --data ../shared/data/tbm --work out/cv_uaed --out benchmarks/cv_uaed.json

``--stage train`` only trains and predicts, ``--stage eval`` only evaluates the stored
out-of-fold maps. Results: docs/boundaries.md, "Leave-scan-out cross-validation on
train + val".
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

SPLITS = ("train", "val")  # tbm/test is never opened or used for a choice (only
# ssl_scans lists its file names, to keep its scans out of the pretraining)


def _log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def list_images(data: Path) -> list[tuple[Path, Path]]:
    """Image/mask pairs of train + val (never test)."""
    from napari_srmat.edges.data import list_image_mask_pairs

    pairs = []
    for split in SPLITS:
        pairs += list_image_mask_pairs(data / split / "images", data / split / "masks")
    return pairs


def train_settings(args) -> dict:
    return {"encoder": "tiny", "pretrain_synthetic": args.pretrain_synthetic,
            "pretrain_epochs": args.pretrain_epochs, "epochs": args.epochs, "batch_size": 2,
            "crop": 128, "lr": 1e-3, "weight_decay": 5e-4, "ema_decay": 0.99,
            "seed": args.seed, "num_threads": 1, "device": "cpu"}


#: Training options per variant (photometric augmentation, and scale augmentation where set).
VARIANTS = {"plain": {"photometric_augment": ""},
            "augment": {"photometric_augment": "all"},
            "zoom": {"photometric_augment": "", "scale_augment": [0.5, 2.0]},
            # zooms limited to what the whole measurement meets after its resampling
            # (the autocorrelation estimate's log error spread is about 0.21)
            "zoom_mild": {"photometric_augment": "", "scale_augment": [0.8, 1.25]},
            "norm": {"photometric_augment": "", "input_norm": "channels"},
            # training for connectivity: clDice at 0.2 (the term of the order of the
            # weighted BCE at the end of a plain run, 0.15); studies/cldice_decision.py
            "cldice": {"photometric_augment": "", "connectivity_weight": 0.2},
            # an overlap term: soft Dice at 0.2 (as cldice: the term of the order of the
            # weighted BCE), a false boundary pixel costing about as much as a missed one;
            # studies/dice_decision.py
            "dice": {"photometric_augment": "", "overlap_weight": 0.2},
            "small": {"photometric_augment": "", "encoder": "small"},
            # the training length: 240 epochs (3x plain's default 80; the shipped weights
            # were trained 280 epochs); studies/epochs_decision.py
            "long": {"photometric_augment": "", "epochs": 240},
            # the paper's SR-vs-original comparison, leave-scan-out: every image (and its
            # mask, nearest-neighbour) upscaled x4 before training and evaluation; crops of
            # 192 px (2.25x the pixels of a 128 px step; a 48 px native window)
            "sr_cnn_x4": {"photometric_augment": "", "crop": 192},
            "bilinear_x4": {"photometric_augment": "", "crop": 192},
            # self-training on unlabeled scans: the plain recipe on the labeled regions
            # plus regions of scans in no split, labeled by the same fold's plain model
            "pseudo": {"photometric_augment": ""},
            # self-supervised: the plain recipe started from a masked-image-modelling
            # pretraining on the scans in no split (SSL below)
            "ssl": {"photometric_augment": ""},
            # the plain and augmented recipes with a GPU lease's budget (batches of 16,
            # 50 steps per epoch, epochs sized to the lease): benchmarks/cv_uaed_gpu.py
            "gpu_long": {"photometric_augment": ""},
            "gpu_aug": {"photometric_augment": "all"},
            # gpu_aug with batches of 64: a lease's launch-bound steps carry 4x the crops
            # (studies/gpu_aug_big_decision.py, committed before any such model existed)
            "gpu_aug_big": {"photometric_augment": "all", "batch_size": 64}}

#: Pseudo-labeled variants: the teacher variant (same fold), its TTA mode, and how many
#: 256 px regions of each unlabeled scan are added. The unlabeled scans are the
#: ``scans/extra_*.jpg`` that are not byte-identical to a ``scan_N.jpg`` (extra_9 is
#: scan_10); the teacher's map is binarised with its cross-fitted ``otsu_scaled`` c of
#: ``benchmarks/cv_uaed.json``, thinned and widened to 3 px (about the width of the
#: hand-drawn masks: ``studies/pseudo_label_decision.py`` reports both).
PSEUDO = {"pseudo": {"teacher": "plain", "tta": "d4", "regions_per_scan": 4}}
PSEUDO_WIDTH_PX = 3

#: Self-supervised variants: settings of ``napari_srmat.edges.pretrain.masked_pretrain_job``
#: on :func:`ssl_scans`, one pretraining (``WORK/VARIANT/mim_init``) shared by every fold
#: (the scans are in no fold).
SSL = {"ssl": {"steps": 2000, "batch_size": 4, "crop": 128, "patch": 16, "mask_ratio": 0.5}}

#: Variants trained and evaluated on x4 upscaled images: the upscaler (an SR model name of
#: ``napari_srmat.sr.load_model`` or ``"bilinear"``). Predicted with TTA none only (d4
#: costs 8x on 16x the pixels; TTA none is the shipped default).
UPSCALED = {"sr_cnn_x4": "cnn", "bilinear_x4": "bilinear"}
UPSCALE_FACTOR = 4
#: Threshold rules the upscaled variants are judged with: the shipped one (otsu_scaled),
#: the earlier shipped one (global) and the single thresholds fitted for the l error.
UPSCALED_RULES = ("global", "heyn_global", "otsu_scaled", "quantile")


def ttas(variant: str) -> tuple[str, ...]:
    """TTA modes a variant is predicted and evaluated with."""
    return ("none",) if variant in UPSCALED else ("none", "d4")


def variant_samples(work: Path, variant: str, samples):
    """The samples a variant trains and is judged on: as they are, or upscaled x4.

    Upscaled images are cached as 8-bit (``WORK/VARIANT/upscaled.npz``, as an SR output
    would be saved); masks are upscaled nearest-neighbour (the same boundary, 4x wider,
    so the boundary fraction of the pixels is unchanged).
    """
    if variant not in UPSCALED:
        return samples
    from napari_srmat.edges.data import BoundarySample
    from napari_srmat.io import to_uint8
    from napari_srmat.studies.sr_vs_original import upscale_bilinear, upscale_mask

    path = work / variant / "upscaled.npz"
    if not path.is_file():
        upscaler = UPSCALED[variant]
        model = None
        if upscaler != "bilinear":
            from napari_srmat.sr import load_model, super_resolve

            model = load_model(upscaler, scale=UPSCALE_FACTOR, device="cpu")
        imgs = []
        for s in samples:
            hwc = s.image.transpose(1, 2, 0)
            if model is None:
                up = upscale_bilinear(hwc, UPSCALE_FACTOR)
            else:
                up = np.asarray(super_resolve(hwc, model), np.float32)
            imgs.append(to_uint8(up))  # the rule an SR output is saved with
        _log(f"{variant}: upscaled {len(imgs)} images x{UPSCALE_FACTOR} with {upscaler}")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".partial.npz")
        np.savez_compressed(tmp, names=np.array([s.name for s in samples]),
                            images=np.stack(imgs))
        tmp.replace(path)
    z = np.load(path)
    if [str(n) for n in z["names"]] != [s.name for s in samples]:
        raise SystemExit(f"{path} holds other images; use another --work")
    return [BoundarySample(np.ascontiguousarray(img.transpose(2, 0, 1), np.float32) / 255.0,
                           upscale_mask(s.mask, UPSCALE_FACTOR, mode="nearest"), s.name)
            for img, s in zip(z["images"], samples)]


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (how copies among the scans are found)."""
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def scan_digests(data: Path) -> dict[Path, str]:
    """:func:`file_digest` of every ``scan_N.jpg`` beside ``data``, each file hashed once."""
    return {p: file_digest(p) for p in sorted((data.parent / "scans").glob("scan_*.jpg"))}


def unlabeled_scans(data: Path, digests: dict[Path, str] | None = None) -> list[Path]:
    """The ``extra_*.jpg`` scans that are not a copy of any ``scan_N.jpg``.

    Every ``scan_N.jpg`` is hashed (or its digest taken from ``digests``, as
    :func:`scan_digests` gives them), the test scans included: a copy of a test scan must
    never enter training (their bytes are hashed, nothing else is read from them). The
    ``scan_N.jpg`` without tbm regions (N = 32 ... 42) are unlabeled too but not used.
    """
    labeled = set((scan_digests(data) if digests is None else digests).values())
    return [p for p in sorted((data.parent / "scans").glob("extra_*.jpg"))
            if file_digest(p) not in labeled]


def ssl_scans(data: Path) -> list[Path]:
    """Every scan JPEG in no split: :func:`unlabeled_scans` and the ``scan_N.jpg`` whose N
    starts no region name of tbm/train, val or test (only the names are listed), none a
    byte copy of a scan that has regions."""
    with_regions = set()
    for split in ("train", "val", "test"):
        names = {p.name.split("-")[0] for p in (data / split / "images").glob("*.png")}
        if not names:  # fail closed: a missing split would let its scans in
            raise SystemExit(f"no regions in {data / split / 'images'}: cannot tell which "
                             "scans to keep out of the pretraining")
        with_regions |= names
    digests = scan_digests(data)
    labeled = {d for p, d in digests.items() if p.stem.split("_")[1] in with_regions}
    plain = [p for p, d in digests.items()
             if p.stem.split("_")[1] not in with_regions and d not in labeled]
    return unlabeled_scans(data, digests) + plain


def ssl_init(work: Path, variant: str, data: Path, seed: int) -> str:
    """The masked-image-modelling checkpoint a self-supervised variant starts from
    (trained once, on :func:`ssl_scans`, with one thread; the scans and its CPU time in
    ``WORK/VARIANT/mim_meta.json``; reused by later folds and runs if its settings match)."""
    import torch

    from napari_srmat.edges.pretrain import MaskedPretrainConfig, masked_pretrain_job
    from napari_srmat.io import read_array
    from napari_srmat.jobs import run_job

    out = work / variant / "mim_init"
    scans = ssl_scans(data)
    wanted = {"images": len(scans), "seed": seed, **SSL[variant]}

    def reuse() -> str:
        done = json.loads((out / "config.json").read_text())["pretraining"]
        if any(done.get(k) != v for k, v in wanted.items()):
            raise SystemExit(f"{out} was pretrained with other settings; use another --work")
        return str(out)

    if (out / "config.json").is_file():
        return reuse()
    _log(f"{variant}: masked pretraining on {len(scans)} scans: "
         f"{', '.join(p.stem for p in scans)}")
    torch.set_num_threads(1)
    t0 = time.process_time()
    try:
        run_job(masked_pretrain_job(MaskedPretrainConfig(
            images=[read_array(p) for p in scans], out=str(out), seed=seed,
            num_threads=1, device="cpu", **SSL[variant])), quiet=True)  # CPU seconds
    except (ValueError, FileExistsError):
        if (out / "config.json").is_file():  # another process finished it first
            return reuse()
        raise
    (work / variant / "mim_meta.json").write_text(json.dumps(
        {"scans": [p.name for p in scans], "cpu_s": time.process_time() - t0}, indent=1))
    return str(out)


def scan_regions(path: Path, n: int, size: int = 256) -> list[tuple[str, np.ndarray]]:
    """``n`` non-overlapping ``size`` px regions of a scan, evenly spread over its grid."""
    from napari_srmat.io import read_array

    img = read_array(path)[..., :3]
    grid = [(y, x) for y in range(0, img.shape[0] - size + 1, size)
            for x in range(0, img.shape[1] - size + 1, size)]
    pick = np.unique(np.linspace(0, len(grid) - 1, n).round().astype(int))
    return [(f"{path.stem}-{grid[i][0]}-{grid[i][1]}",
             img[grid[i][0]:grid[i][0] + size, grid[i][1]:grid[i][1] + size]) for i in pick]


def pseudo_samples(work: Path, variant: str, k: int, data: Path, teacher_params: dict):
    """Regions of the unlabeled scans labeled by fold ``k``'s teacher (cached per fold)."""
    from scipy import ndimage as ndi
    from skimage.morphology import skeletonize

    from napari_srmat.edges.data import BoundarySample
    from napari_srmat.edges.thresholds import apply_threshold_rule

    spec = PSEUDO[variant]
    path = work / variant / f"fold-{k}" / "pseudo.npz"
    if not path.is_file():
        teacher = load_final_ema(work / spec["teacher"] / f"fold-{k}" / "run")
        teacher.tta = spec["tta"]
        names, images, masks = [], [], []
        for scan in unlabeled_scans(data):
            for name, region in scan_regions(scan, spec["regions_per_scan"]):
                x = region.transpose(2, 0, 1).astype(np.float32) / 255.0
                prob = teacher.predict(x[None], gain=1.0)[0][0, 0]  # as stored: no gain
                binary = apply_threshold_rule("otsu_scaled", prob, teacher_params)
                mask = ndi.binary_dilation(skeletonize(binary), np.ones(
                    (PSEUDO_WIDTH_PX, PSEUDO_WIDTH_PX), bool))
                names.append(name)
                images.append(region)
                masks.append(mask)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name("pseudo.partial.npz")
        np.savez_compressed(tmp, names=np.array(names), images=np.stack(images),
                            masks=np.stack(masks), teacher_params=json.dumps(teacher_params))
        tmp.replace(path)
    z = np.load(path)
    if json.loads(str(z["teacher_params"])) != teacher_params:
        raise SystemExit(f"{path} was labeled with other teacher parameters; use another "
                         "--work")
    return [BoundarySample(np.ascontiguousarray(img.transpose(2, 0, 1), np.float32) / 255.0,
                           m.astype(bool), str(n))
            for n, img, m in zip(z["names"], z["images"], z["masks"])]


def teacher_params(variant: str, k: int, folds) -> dict:
    """The teacher's cross-fitted ``otsu_scaled`` parameters for fold ``k`` (from
    ``benchmarks/cv_uaed.json``, which must hold the same folds)."""
    from napari_srmat.edges.cv import scan_id

    spec = PSEUDO[variant]
    report = json.loads((Path(__file__).parent / "cv_uaed.json").read_text())
    if [f["scans"] for f in report["folds"]] != [sorted({scan_id(n) for n in f})
                                                  for f in folds]:
        raise SystemExit("benchmarks/cv_uaed.json holds other folds than --work")
    rules = report["results"][f"{spec['teacher']}/{spec['tta']}"]["rules"]
    return rules["otsu_scaled"]["params_per_fold"][k]


def train_fold(work: Path, variant: str, k: int, train_samples, settings: dict) -> dict:
    """Train (or resume) one fold model; returns its meta (CPU seconds, steps)."""
    import torch

    from napari_srmat.edges.train import train_boundaries_job
    from napari_srmat.jobs import run_job

    fdir = work / variant / f"fold-{k}"
    fdir.mkdir(parents=True, exist_ok=True)
    meta_path = fdir / "train_meta.json"
    full = {**settings, **VARIANTS[variant],
            "train_names": [s.name for s in train_samples]}
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta["settings"] != full:
            raise SystemExit(f"{fdir} was trained with other settings; use another --work")
        if meta.get("done"):
            return meta
    else:
        meta = {"settings": full, "cpu_s": 0.0, "done": False}
    meta_path.write_text(json.dumps(meta, indent=1))
    torch.set_num_threads(1)
    # val = two training images, for the training log only: the final EMA weights are
    # used, nothing is selected on them
    # (centre 256 px crops: a full x4 image would cost more than a training epoch)
    log_view = (slice(None),) * 2 if variant not in UPSCALED else (slice(384, 640),) * 2
    cfg = dict(settings, train_images=[s.image.transpose(1, 2, 0) for s in train_samples],
               train_masks=[s.mask for s in train_samples],
               val_images=[s.image.transpose(1, 2, 0)[log_view] for s in train_samples[:2]],
               val_masks=[s.mask[log_view] for s in train_samples[:2]], out=str(fdir / "run"),
               resume=True, top_k=1, **VARIANTS[variant])
    t0 = time.process_time()
    res = run_job(train_boundaries_job(cfg), quiet=True)
    meta["cpu_s"] += time.process_time() - t0
    meta["done"] = not res.stopped
    meta["epochs_done"] = res.epochs_done
    meta["final_train_loss"] = res.history[-1]["loss"] if res.history else None
    meta_path.write_text(json.dumps(meta, indent=1))
    return meta


def load_final_ema(run: Path, device: str = "cpu"):
    """The final EMA weights of a run (``run/last/ema.safetensors``) as a BoundaryModel."""
    from safetensors.torch import load_file

    from napari_srmat.edges.infer import BoundaryModel
    from napari_srmat.edges.model import build_uaed

    config = json.loads((run / "last" / "config.json").read_text())
    net = build_uaed(config)
    net.load_state_dict(load_file(str(run / "last" / "ema.safetensors"), device=device))
    return BoundaryModel(net, config, device=device, path=str(run / "last"), tta="none")


def predict_fold(work: Path, variant: str, k: int, held_samples) -> Path:
    """Out-of-fold probability maps (TTA none and d4) of the held-out fold, with timings."""
    import torch

    out = work / variant / f"fold-{k}" / "oof.npz"
    if out.is_file():
        return out
    torch.set_num_threads(1)
    model = load_final_ema(work / variant / f"fold-{k}" / "run")
    arrays: dict[str, np.ndarray] = {}
    times = {}
    for tta in ttas(variant):
        model.tta = tta
        model.predict(held_samples[0].image[None])  # warm-up
        probs, sigmas = [], []
        t0 = time.process_time()
        for s in held_samples:
            p, sg = model.predict(s.image[None])
            probs.append(p[0, 0])
            sigmas.append(sg[0, 0])
        times[tta] = (time.process_time() - t0) / len(held_samples)
        arrays[f"prob_{tta}"] = np.stack(probs).astype(np.float32)
        arrays[f"sigma_{tta}"] = np.stack(sigmas).astype(np.float16)
    tmp = out.with_suffix(".partial.npz")
    np.savez_compressed(tmp, names=np.array([s.name for s in held_samples]),
                        cpu_s_per_image=np.array([times[t] for t in ttas(variant)]), **arrays)
    tmp.replace(out)
    return out


def run_training(args, work: Path, samples, folds) -> None:
    settings = train_settings(args)
    for variant in args.variants:
        by_name = {s.name: s for s in variant_samples(work, variant, samples)}
        for k, held in enumerate(folds):
            if args.train_folds is not None and k not in args.train_folds:
                continue
            train = [by_name[n] for j, f in enumerate(folds) if j != k for n in f]
            if variant in PSEUDO:
                train += pseudo_samples(work, variant, k, Path(args.data),
                                        teacher_params(variant, k, folds))
            fold_settings = settings
            if variant in SSL:
                fold_settings = {**settings, "init_checkpoint": ssl_init(
                    work, variant, Path(args.data), args.seed)}
            _log(f"{variant} fold {k}: train on {len(train)} images, hold out {len(held)}")
            meta = train_fold(work, variant, k, train, fold_settings)
            _log(f"{variant} fold {k}: trained ({meta['cpu_s'] / 60:.1f} CPU-min)")
            predict_fold(work, variant, k, [by_name[n] for n in held])


def _spread(values) -> dict:
    v = np.asarray([x for x in values if x is not None], float)
    if not v.size:
        return {"per_fold": list(values), "mean": None, "std": None, "min": None, "max": None}
    return {"per_fold": [None if x is None else round(float(x), 4) for x in values],
            "mean": round(float(v.mean()), 4), "std": round(float(v.std(ddof=1)), 4)
            if v.size > 1 else None, "min": round(float(v.min()), 4),
            "max": round(float(v.max()), 4)}


def _pct(x):
    return None if x is None else 100.0 * float(x)


def _scan_bootstrap(diff: np.ndarray, scans: list[str], n: int = 2000, seed: int = 0):
    """95 % interval of the mean of ``diff`` resampling whole scans."""
    rng = np.random.default_rng(seed)
    uniq = sorted(set(scans))
    groups = [np.flatnonzero(np.array(scans) == s) for s in uniq]
    means = []
    for _ in range(n):
        pick = rng.integers(0, len(uniq), len(uniq))
        idx = np.concatenate([groups[g] for g in pick])
        means.append(diff[idx].mean())
    return [round(float(np.percentile(means, 2.5)), 3), round(float(np.percentile(means, 97.5)),
                                                                3)]


def _oof_maps(work: Path, variant: str, folds, tta: str):
    probs, times = {}, []
    for k in range(len(folds)):
        z = np.load(work / variant / f"fold-{k}" / "oof.npz")
        for name, p in zip(z["names"], z[f"prob_{tta}"]):
            probs[str(name)] = p
        times.append(float(z["cpu_s_per_image"][ttas(variant).index(tta)]))
    return probs, times


def continuity_summary(binaries) -> dict:
    """Mean (and spread over images) of the boundary continuity of binary maps."""
    from napari_srmat.edges.thresholds import boundary_continuity

    c = [boundary_continuity(b) for b in binaries]
    epl = np.array([x["endpoints_per_100px"] if x["endpoints_per_100px"] is not None
                    else np.nan for x in c])
    return {"endpoints_per_100px": round(float(np.nanmean(epl)), 3),
            "endpoints_per_100px_std": round(float(np.nanstd(epl)), 3),
            "fragments": round(float(np.mean([x["fragments"] for x in c])), 2),
            "skeleton_px": round(float(np.mean([x["length_px"] for x in c])), 1)}


def apply_oof(name: str, table, held, params_per_fold) -> tuple[dict, float]:
    """Continuity of a rule's out-of-fold maps and its CPU seconds per map (no cache)."""
    from napari_srmat.edges.thresholds import apply_threshold_rule, clear_curve_cache

    maps, cpu = [], []
    for k, idx in enumerate(held):
        for i in idx:
            clear_curve_cache()
            t0 = time.process_time()
            maps.append(apply_threshold_rule(name, table.probs[i], params_per_fold[k]))
            cpu.append(time.process_time() - t0)
    return continuity_summary(maps), round(float(np.mean(cpu)), 4)


def evaluate_set(work: Path, variant: str, tta: str, samples, folds) -> dict:
    """Every rule out of fold for one variant and TTA mode (cross-fitted parameters).

    Upscaled variants are judged with :data:`UPSCALED_RULES` only (their maps have 16x
    the pixels).
    """
    from napari_srmat.edges.cv import scan_id
    from napari_srmat.edges.thresholds import RULES as ALL_RULES
    from napari_srmat.edges.thresholds import InterceptTable

    RULES = ALL_RULES if variant not in UPSCALED else {
        n: ALL_RULES[n] for n in UPSCALED_RULES}
    from napari_srmat.metrics.edges import EdgeHistogram

    probs_by_name, times = _oof_maps(work, variant, folds, tta)
    by_name = {s.name: s for s in samples}
    names = [n for f in folds for n in f]
    fold_of = np.array([k for k, f in enumerate(folds) for _ in f])
    table = InterceptTable([probs_by_name[n] for n in names], [by_name[n].mask for n in names])
    true = np.asarray(table.true)
    held = [np.flatnonzero(fold_of == k) for k in range(len(folds))]
    cal = [np.flatnonzero(fold_of != k) for k in range(len(folds))]
    out: dict = {"n_images": len(names), "cpu_s_per_image": _spread(times)}
    aps, aucs = [], []
    for k in range(len(folds)):
        h = EdgeHistogram()
        for i in held[k]:
            h.update(table.probs[i], table.masks[i])
        aps.append(h.average_precision())
        aucs.append(h.roc_auc())
    out["ap"], out["roc_auc"] = _spread(aps), _spread(aucs)
    rules: dict = {}
    per_image_err: dict[str, np.ndarray] = {}
    pred_l: dict[str, list] = {}
    scans = [scan_id(n) for n in names]
    for name in RULES:
        t0 = time.process_time()
        pf, pooled, params, inv = [], [], [], 0
        err_img = np.zeros(len(names))
        pred_img = [None] * len(names)
        for k in range(len(folds)):
            prm = table.fit(name, cal[k])
            e = table.errors(name, prm, held[k], exact=True)
            pf.append(_pct(e["per_image"]))
            pooled.append(_pct(e["pooled"]))
            params.append(prm)
            inv += e["n_invalid"]
            err_img[held[k]] = e["per_image_errors"]
            for i in held[k]:
                pred_img[i] = table.predicted(name, prm, int(i), exact=True)
        per_image_err[name] = err_img
        pred_l[name] = pred_img
        valid = [p for p in pred_img if p is not None]
        rules[name] = {
            "per_image_pct": _spread(pf), "pooled_pct": _spread(pooled),
            "all_images_per_image_pct": round(100 * float(err_img.mean()), 3),
            "all_images_pooled_pct": round(100 * abs(np.mean(valid) - true.mean())
                                           / true.mean(), 3) if valid else None,
            "all_images_bias_pct": round(100 * float(np.mean(
                [(p - t) / t for p, t in zip(pred_img, true) if p is not None])), 3)
            if valid else None,
            "corr_pred_true": round(float(np.corrcoef(
                [p if p is not None else np.nan for p in pred_img], true)[0, 1]), 3),
            "per_scan_bias_pct": {sc: round(100 * float(np.mean(
                [(pred_img[i] - true[i]) / true[i] for i in range(len(names))
                 if scans[i] == sc and pred_img[i] is not None] or [np.nan])), 1)
                for sc in sorted(set(scans), key=lambda x: (len(x), x))},
            "n_invalid": inv, "params_per_fold": params,
            "fit_cpu_s": round(time.process_time() - t0, 1)}
        _log(f"  {variant}/{tta} {name}: OOF per-image {rules[name]['per_image_pct']['mean']}"
             f" % (all images {rules[name]['all_images_per_image_pct']} %)")
    # references: the calibration folds' mean true l for every image; each image's own best
    const_pf, const_err = [], np.zeros(len(names))
    for k in range(len(folds)):
        c = true[cal[k]].mean()
        e = np.abs(c - true[held[k]]) / true[held[k]]
        const_err[held[k]] = e
        const_pf.append(100 * e.mean())
    grid = np.round(np.arange(0.05, 0.951, 0.01), 3)
    oracle_err = np.array([min(abs(lp - true[i]) / true[i] if (lp := table.predicted(
        "global", {"threshold": float(t)}, i)) is not None else 1.0 for t in grid)
        for i in range(len(names))])
    out["references"] = {
        "constant_mean_l": {"what": "predict the calibration folds' mean true l for every "
                                    "image (no image information)",
                            "per_image_pct": _spread(const_pf),
                            "all_images_per_image_pct": round(100 * const_err.mean(), 3)},
        "oracle_per_image_threshold": {
            "what": "each image's own best threshold (uses its truth: a ceiling)",
            "per_image_pct": _spread([100 * oracle_err[held[k]].mean()
                                      for k in range(len(folds))]),
            "all_images_per_image_pct": round(100 * oracle_err.mean(), 3)},
        "true_l_px": {"mean": round(float(true.mean()), 3), "std": round(float(true.std()), 3),
                      "min": round(float(true.min()), 3), "max": round(float(true.max()), 3)},
    }
    out["references"]["true_continuity"] = continuity_summary(table.masks)
    for name in RULES:
        rules[name]["continuity"], rules[name]["apply_cpu_s_per_image"] = apply_oof(
            name, table, held, rules[name]["params_per_fold"])
    out["rules"] = rules
    # selection by OOF per-image error (over all images), and nested selection
    sel = min(RULES, key=lambda r: rules[r]["all_images_per_image_pct"])
    out["selected_rule"] = sel
    nested_choice, nested_err = [], np.zeros(len(names))
    for k in range(len(folds)):
        inner = {}
        for name in RULES:
            errs = []
            for j in range(len(folds)):
                if j == k:
                    continue
                fit_idx = np.flatnonzero((fold_of != k) & (fold_of != j))
                prm = table.fit(name, fit_idx)
                errs += table.errors(name, prm, held[j])["per_image_errors"]
            inner[name] = float(np.mean(errs))
        choice = min(inner, key=inner.get)
        nested_choice.append(choice)
        nested_err[held[k]] = per_image_err[choice][held[k]]
    out["nested_selection"] = {
        "what": "for each outer fold the rule is chosen by cross-fitted per-image error "
                "on the other folds only, then judged on the outer fold",
        "chosen_per_fold": nested_choice,
        "per_image_pct": _spread([100 * nested_err[held[k]].mean()
                                  for k in range(len(folds))]),
        "all_images_per_image_pct": round(100 * nested_err.mean(), 3)}
    for ref in ("global", "heyn_global"):
        out[f"vs_{ref}"] = {
            name: {"mean_diff_pct": round(100 * float((per_image_err[name]
                                                       - per_image_err[ref]).mean()), 3),
                   "scan_bootstrap_95ci_pct": _scan_bootstrap(
                       100 * (per_image_err[name] - per_image_err[ref]), scans),
                   "folds_better": int(sum(per_image_err[name][held[k]].mean()
                                           < per_image_err[ref][held[k]].mean()
                                           for k in range(len(folds))))}
            for name in RULES if name != ref}
    out["per_image"] = [{"name": n, "fold": int(fold_of[i]), "true_l_px": round(true[i], 3),
                         **{r: round(100 * per_image_err[r][i], 2) for r in RULES}}
                        for i, n in enumerate(names)]
    return out


def evaluate_study(work: Path, samples, folds, variants) -> dict:
    """Out-of-fold evaluation of every variant x TTA mode x threshold rule."""
    from napari_srmat.edges.cv import scan_id
    from napari_srmat.edges.thresholds import HEYN_KW, RULES

    report: dict = {
        "what": "leave-scan-out CV of UAED tiny on TBM train+val; tbm/test never opened",
        "protocol": {"heyn": HEYN_KW, "per_image_error": "mean over images of |l_pred - "
                     "l_true| / l_true", "pooled_error": "|mean l_pred - mean l_true| / "
                     "mean l_true", "threshold_rule_fit": "cross-fitted: the parameters "
                     "applied to fold k are fitted on the out-of-fold maps of the other folds",
                     "invalid_prediction": "counts as 100 % in the per-image error"},
        "rules": {n: r.summary for n, r in RULES.items()},
        "folds": [{"fold": k, "n_images": len(f), "scans": sorted({scan_id(n) for n in f})}
                  for k, f in enumerate(folds)],
        "training": {}, "results": {},
    }
    for variant in variants:
        metas = [json.loads((work / variant / f"fold-{k}" / "train_meta.json").read_text())
                 for k in range(len(folds))]
        report["training"][variant] = {
            **VARIANTS[variant], "upscaled_by": UPSCALED.get(variant),
            "pseudo_labels": PSEUDO.get(variant),
            "cpu_min_per_fold": _spread([m["cpu_s"] / 60 for m in metas]),
            # as trained (benchmarks/cv_uaed_gpu.py's variants differ from the CPU
            # settings of "train_settings" below: batch, steps, epochs, device)
            "settings": {k: v for k, v in metas[0]["settings"].items() if k != "train_names"}}
        if "wall_s" in metas[0]:
            report["training"][variant]["wall_min_per_fold"] = _spread(
                [m["wall_s"] / 60 for m in metas])
        vsamples = variant_samples(work, variant, samples)
        for tta in ttas(variant):
            _log(f"evaluating {variant} / tta {tta}")
            report["results"][f"{variant}/{tta}"] = evaluate_set(work, variant, tta, vsamples,
                                                                 folds)
    # TTA: error per second of compute, for the global rule and each set's selected rule
    tta_cmp = {}
    for variant in variants:
        if len(ttas(variant)) < 2:
            continue
        rn, rd = report["results"][f"{variant}/none"], report["results"][f"{variant}/d4"]
        tn, td = rn["cpu_s_per_image"]["mean"], rd["cpu_s_per_image"]["mean"]
        cmp = {"cpu_s_per_image_none": tn, "cpu_s_per_image_d4": td}
        for rule in sorted({"global", "heyn_global", rn["selected_rule"], rd["selected_rule"]}):
            en = rn["rules"][rule]["all_images_per_image_pct"]
            ed = rd["rules"][rule]["all_images_per_image_pct"]
            cmp[rule] = {"per_image_pct_none": en, "per_image_pct_d4": ed,
                         "gain_pct_points_per_extra_cpu_s": round((en - ed) / (td - tn), 3)}
        tta_cmp[variant] = cmp
    report["tta_comparison"] = tta_cmp
    if len(ttas(variants[0])) == 2:
        report["decision"] = decide(report, variants[0])
    return report


#: How the shipped operating point (rule + TTA) is chosen; written before the rules
#: ``topology``, ``stable``, ``bridge`` and ``prune`` were evaluated (docs/boundaries.md).
DECISION_RULE = (
    "per TTA mode, the rule with the lowest mean out-of-fold per-image l error over the "
    "folds (rules costing more than MAX_RULE_CPU_S per map are not eligible); d4 (about 8x "
    "the model's CPU time) is chosen over none only if its winner is better than none's "
    "winner by more than one standard deviation of their paired per-fold differences; "
    "otherwise none")
MAX_RULE_CPU_S = 0.5

#: Rules taken out of the decision *after* it was first run, with the reason (see
#: docs/boundaries.md): the shipped default must also pass the existing acceptance tests.
EXCLUDED_RULES = {
    "bridge": "picked first by DECISION_RULE (with TTA none), but as the shipped default it "
              "fails the existing grain-size scale-consistency acceptance test "
              "(tests/test_grainsize.py::test_model_scale_consistency_synthetic: 5.7 % > 5 % "
              "spread over x0.5-x4 on its structure; otsu_scaled / none 3.5 %; "
              "studies/results/operating_point_scale_check.json)",
}


def decide(report: dict, variant: str, excluded: dict | None = None) -> dict:
    """The operating point :data:`DECISION_RULE` picks from one variant's results."""
    excluded = {} if excluded is None else excluded
    best, errs = {}, {}
    for tta in ("none", "d4"):
        rules = report["results"][f"{variant}/{tta}"]["rules"]
        ok = [r for r, v in rules.items() if v["apply_cpu_s_per_image"] <= MAX_RULE_CPU_S
              and r not in excluded]
        best[tta] = min(ok, key=lambda r: rules[r]["per_image_pct"]["mean"])
        errs[tta] = np.asarray(rules[best[tta]]["per_image_pct"]["per_fold"], float)
    diff = errs["d4"] - errs["none"]
    d4_wins = bool(-diff.mean() > diff.std(ddof=1))
    tta = "d4" if d4_wins else "none"
    return {"rule_text": DECISION_RULE, "variant": variant, "max_rule_cpu_s": MAX_RULE_CPU_S,
            "excluded_rules": excluded, "best_rule_per_tta": best,
            "paired_diff_d4_minus_none_pct": {"per_fold": [round(float(x), 3) for x in diff],
                                              "mean": round(float(diff.mean()), 3),
                                              "std": round(float(diff.std(ddof=1)), 3)},
            "chosen": {"rule": best[tta], "tta": tta}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="../shared/data/tbm",
                    help="TBM root; only train/ and val/ are read")
    ap.add_argument("--work", default="out/cv_uaed", help="fold runs and out-of-fold maps")
    ap.add_argument("--out", default="benchmarks/cv_uaed.json", help="result JSON")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0, help="fold assignment and training seed")
    ap.add_argument("--variants", default="plain,augment",
                    help="comma-separated: plain (no photometric augmentation), augment (all), "
                         "zoom / zoom_mild (scale augmentation x0.5-x2 / x0.8-x1.25), "
                         "norm (input_norm='channels'), "
                         "cldice (the clDice connectivity term at 0.2), "
                         "small (the 4x larger encoder), long (240 epochs), sr_cnn_x4 / "
                         "bilinear_x4 (x4 upscaled images), pseudo (plus pseudo-labeled "
                         "unlabeled scans), ssl (from a masked-image-modelling pretraining "
                         "on the scans in no split)")
    ap.add_argument("--epochs", type=int, default=80)
    ap.add_argument("--pretrain-synthetic", type=int, default=32)
    ap.add_argument("--pretrain-epochs", type=int, default=4)
    ap.add_argument("--train-folds", default=None,
                    help="comma-separated fold numbers to train (default: all); run two "
                         "processes on disjoint folds to use two cores")
    ap.add_argument("--stage", choices=("all", "train", "eval", "decide"), default="all",
                    help="decide: only redo the decision in --out (first without, then with "
                         "the exclusions of EXCLUDED_RULES)")
    args = ap.parse_args(argv)
    args.variants = [v for v in args.variants.split(",") if v]
    if args.train_folds is not None:
        args.train_folds = {int(k) for k in args.train_folds.split(",") if k}
    unknown = set(args.variants) - set(VARIANTS)
    if unknown:
        ap.error(f"unknown variant(s) {sorted(unknown)}")

    if args.stage == "decide":
        report = json.loads(Path(args.out).read_text())
        report["decision_first"] = decide(report, args.variants[0])
        report["decision"] = decide(report, args.variants[0], EXCLUDED_RULES)
        report["decision_command"] = "PYTHONPATH=src python " + " ".join(
            ["benchmarks/cv_uaed.py", *(argv if argv is not None else sys.argv[1:])])
        Path(args.out).write_text(json.dumps(report, indent=1))
        _log(f"decision {report['decision']['chosen']} (first: "
             f"{report['decision_first']['chosen']}); wrote {args.out}")
        return 0
    import torch

    torch.set_num_threads(1)
    from napari_srmat.edges.cv import scan_folds, scan_id
    from napari_srmat.edges.data import load_pairs

    data, work = Path(args.data), Path(args.work)
    pairs = list_images(data)
    samples = load_pairs(pairs)
    folds = [[Path(p).stem for p in f]
             for f in scan_folds([p for p, _ in pairs], args.folds, seed=args.seed)]
    work.mkdir(parents=True, exist_ok=True)
    fpath = work / "folds.json"
    if fpath.is_file() and json.loads(fpath.read_text()) != folds:
        raise SystemExit(f"{fpath} holds other folds; use another --work")
    if not fpath.is_file():  # never rewritten: --work may be another checkout's folder
        fpath.write_text(json.dumps(folds, indent=1))
    for k, f in enumerate(folds):
        _log(f"fold {k}: {len(f)} images, scans {sorted({scan_id(n) for n in f})}")
    if args.stage in ("all", "train"):
        gpu = [v for v in args.variants if v.startswith("gpu_")]
        if gpu:  # trained here they would be the CPU plain recipe under a GPU name
            raise SystemExit(f"{gpu}: train them with benchmarks/cv_uaed_gpu.py; this "
                             "script evaluates them (--stage eval)")
        run_training(args, work, samples, folds)
    if args.stage in ("all", "eval"):
        report = evaluate_study(work, samples, folds, args.variants)
        report["command"] = "OMP_NUM_THREADS=1 PYTHONPATH=src python " + " ".join(
            ["benchmarks/cv_uaed.py", *(argv if argv is not None else sys.argv[1:])])
        report["machine"] = {"cpu": platform.processor() or platform.machine(),
                             "cores": os.cpu_count(), "torch_threads": 1,
                             "python": platform.python_version()}
        report["train_settings"] = train_settings(args)
        Path(args.out).write_text(json.dumps(report, indent=1))
        _log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
