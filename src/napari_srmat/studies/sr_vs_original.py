"""The paper's experiment: does super-resolution help boundary detection?

Every TBM image is upscaled twice to the same size: once by bilinear
interpolation ("Original") and once by the SR model ("SR"). Masks are brought to
the same size (nearest-neighbour upscaling, or -- default -- re-drawn: the
nearest-upscaled mask is skeletonised and dilated back to ``boundary_width``
pixels so the targets are as thin as on the real masks). Two UAED models are
trained with identical settings (same split, seed, augmentations, epochs) and
evaluated on the test split: AP, ROC-AUC and the Heyn lineal-intercept error
(random M = 50 lines, seed 1234, and the 50 + 50 grid; intercepts in upscaled
pixels). The result is a Table-1-style comparison and a PR/ROC figure with both
curves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write_text
from ..checkpoint import write_json
from ..edges.data import BoundarySample, dilate_boundaries, load_split
from ..jobs import Log, Progress, Stopped, run_job

__all__ = ["run_sr_vs_original_job", "run_sr_vs_original", "format_table",
           "upscale_bilinear", "upscale_mask"]


def upscale_bilinear(image_hwc: np.ndarray, scale: int) -> np.ndarray:
    """Bilinear (half-pixel centred) upscaling of a float ``(H, W, C)`` image."""
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.ascontiguousarray(image_hwc.transpose(2, 0, 1)))[None].float()
    up = F.interpolate(t, scale_factor=scale, mode="bilinear", align_corners=False)
    return np.clip(up[0].numpy().transpose(1, 2, 0), 0, 1).astype(np.float32)


def upscale_mask(mask: np.ndarray, scale: int, mode: str = "redraw",
                 boundary_width: int = 4) -> np.ndarray:
    """Upscale a boundary mask by ``scale``: ``"nearest"`` or ``"redraw"`` (thin + dilate)."""
    up = np.repeat(np.repeat(np.asarray(mask, bool), scale, axis=0), scale, axis=1)
    if mode == "nearest":
        return up
    if mode != "redraw":
        raise ValueError(f"mask mode must be 'nearest' or 'redraw', got {mode!r}")
    from skimage.morphology import skeletonize

    return dilate_boundaries(skeletonize(up), boundary_width)


def _crop(s: BoundarySample, crop: int | None) -> BoundarySample:
    if crop is None:
        return s
    _, h, w = s.image.shape
    ch, cw = min(crop, h), min(crop, w)
    y, x = (h - ch) // 2, (w - cw) // 2
    return BoundarySample(s.image[:, y:y + ch, x:x + cw], s.mask[y:y + ch, x:x + cw], s.name)


def format_table(rows: dict[str, dict[str, Any]]) -> str:
    """Markdown Table-1-style comparison (Heyn with random lines, then grid)."""
    head = ("| Input | l_pred (px) | l_GT (px) | Δ (px) | error % | grid error % | AP | "
            "ROC-AUC |\n|---|---|---|---|---|---|---|---|\n")
    def f(value, spec: str) -> str:  # withheld (degenerate) figures print as n/a
        return "n/a" if value is None else format(value, spec)

    lines = []
    for name, r in rows.items():
        lines.append(
            f"| {name} | {f(r['heyn_pred_px'], '.2f')} | {f(r['heyn_gt_px'], '.2f')} | "
            f"{f(r['delta_px'], '+.2f')} | {f(r['heyn_error_pct'], '.2f')} | "
            f"{f(r['heyn_grid_error_pct'], '.2f')} | {r['ap']:.3f} | {r['roc_auc']:.3f} |"
        )
    notes = [f"- {name}: {w}" for name, r in rows.items() for w in r.get("warnings", [])]
    return head + "\n".join(lines) + "\n" + ("\nWarnings:\n" + "\n".join(notes) + "\n"
                                               if notes else "")


def run_sr_vs_original_job(
    data_root,
    *,
    sr_model=None,
    scale: int = 4,
    epochs: int = 20,
    seed: int = 0,
    crop: int | None = None,
    encoder: str = "tiny",
    lr: float = 1e-3,
    train_crop: int = 128,
    batch_size: int = 2,
    steps_per_epoch: int | None = None,
    pretrain_synthetic: int = 0,
    mask_mode: str = "redraw",
    boundary_width: int = 4,
    max_images: int | None = None,
    init_checkpoint: str | None = None,
    out=None,
    device: str = "auto",
    stop=None,
):
    """Train and compare UAED on bilinear-upscaled vs super-resolved images (job).

    Parameters
    ----------
    data_root : path-like
        ``ROOT/{train,val,test}/{images,masks}`` (e.g. ``../shared/data/tbm``).
    sr_model : SRModel or str, optional
        SR model (``napari_srmat.sr.load_model()`` default when None).
    scale : int
        Upscaling factor (the paper uses 4; 2 is CPU-friendly).
    epochs, seed, encoder, lr, train_crop, batch_size, steps_per_epoch, pretrain_synthetic
        UAED training settings, identical for both arms.
    crop : int, optional
        Centre-crop every LR image to ``crop`` px before upscaling (cheaper runs).
    mask_mode : {"redraw", "nearest"}
        How masks are upscaled (see :func:`upscale_mask`).
    boundary_width : int
        Width of re-drawn boundaries in upscaled pixels.
    max_images : int, optional
        Use only the first N images of each split (quick runs).
    init_checkpoint : str, optional
        Start both arms from these UAED weights (``"default"``: the shipped ones)
        instead of a random initialisation: a fine-tuning comparison that needs far
        fewer epochs (both arms still get identical settings).
    out : path-like, optional
        Writes ``report.json``, ``table.md``, ``pr.png``, ``roc.png`` and the two
        run directories ``original/`` and ``sr/``.
    device : str
        Torch device for UAED training.
    stop : StopToken, optional
        Checked between images and training steps.

    Returns
    -------
    dict
        ``{"original": {...}, "sr": {...}, "table": str, "settings": {...}}`` or
        None if stopped.
    """
    from ..edges.evaluate import evaluate_probability_maps
    from ..edges.infer import load_boundary_model
    from ..metrics.edges import plot_pr_roc
    from ..outputs import check_output_dir, prepare_output_dir
    from ..sr import load_model, super_resolve

    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    if max_images is not None and max_images < 1:
        raise ValueError(f"max_images must be at least 1 (None: all), got {max_images}")
    if out is not None:  # refuse a bad folder before the long experiment
        out = check_output_dir(out, "sr_vs_original", inputs=[data_root])
    from ..edges.train import _samples_from_arrays, train_boundaries_job, validate

    root = Path(data_root)
    splits = {s: load_split(root, s) for s in ("train", "val", "test")}
    if max_images is not None:
        splits = {k: v[:max_images] for k, v in splits.items()}
    splits = {k: [_crop(s, crop) for s in v] for k, v in splits.items()}
    if sr_model is None or isinstance(sr_model, str):
        sr_model = load_model(sr_model, scale=scale)
    if getattr(sr_model, "scale", scale) != scale:
        raise ValueError(f"SR model is x{sr_model.scale} but scale={scale}")
    if out is not None:  # now: a run that fails on its data or model leaves no folder
        out = prepare_output_dir(out, "sr_vs_original", inputs=[data_root])
    settings = {"data_root": str(root), "scale": scale, "epochs": epochs, "seed": seed,
                "crop": crop, "encoder": encoder, "lr": lr, "train_crop": train_crop,
                "batch_size": batch_size, "steps_per_epoch": steps_per_epoch,
                "pretrain_synthetic": pretrain_synthetic, "mask_mode": mask_mode,
                "boundary_width": boundary_width, "max_images": max_images,
                "init_checkpoint": init_checkpoint,
                "sr_model": getattr(sr_model, "name", str(sr_model))}
    yield Log(f"sr-vs-original: {settings}")

    # ---- build both datasets
    total = sum(len(v) for v in splits.values())
    arms: dict[str, dict[str, tuple[list, list]]] = {"original": {}, "sr": {}}
    done = 0
    for split, samples in splits.items():
        o_imgs, s_imgs, masks = [], [], []
        for s in samples:
            if stop is not None and stop.stop_requested:
                yield Stopped("stopped while upscaling")
                return None
            hwc = s.image.transpose(1, 2, 0)
            o_imgs.append(upscale_bilinear(hwc, scale))
            s_imgs.append(np.clip(np.asarray(super_resolve(hwc, sr_model), np.float32), 0, 1))
            masks.append(upscale_mask(s.mask, scale, mask_mode, boundary_width))
            done += 1
            yield Progress(done, total, "upscale")
        arms["original"][split] = (o_imgs, masks)
        arms["sr"][split] = (s_imgs, masks)

    results: dict[str, dict[str, Any]] = {}
    hists = {}
    for arm, label in (("original", "Original (bilinear)"), ("sr", "SR")):
        run_dir = None if out is None else out / arm
        cfg = dict(
            train_images=arms[arm]["train"][0], train_masks=arms[arm]["train"][1],
            val_images=arms[arm]["val"][0], val_masks=arms[arm]["val"][1],
            out=None if run_dir is None else str(run_dir), encoder=encoder, epochs=epochs,
            pretrain_synthetic=pretrain_synthetic, batch_size=batch_size, crop=train_crop,
            steps_per_epoch=steps_per_epoch, lr=lr, seed=seed, device=device,
            init_checkpoint=init_checkpoint,
            overwrite=True,  # the experiment's own run folders: a rerun trains again
        )
        yield Log(f"training UAED on the {label} images")
        res = yield from train_boundaries_job(cfg, stop=stop)
        if res is None or res.stopped:
            yield Stopped("stopped while training")
            return None
        if res.best_checkpoint is not None:
            model = load_boundary_model(res.best_checkpoint, device=device)
        else:  # no out dir: nothing saved; evaluate the final EMA weights is not possible
            raise ValueError("run_sr_vs_original_job needs out= to keep the trained models")
        val_s = _samples_from_arrays(*arms[arm]["val"], "val")
        thr = validate(model.net, val_s, model.device)["threshold"]
        test_s = _samples_from_arrays(*arms[arm]["test"], "test")
        probs = [np.asarray(model.predict(s.image[None])[0][0, 0]) for s in test_s]
        summary, rows, hist = evaluate_probability_maps(
            probs, [s.mask for s in test_s], thr, [s.name for s in splits["test"]])
        results[arm] = {**summary, "threshold_source": "val max-F1",
                        "best_val_ap": res.best_val_ap, "checkpoint": res.best_checkpoint,
                        "per_image": rows}
        hists[label] = hist
    table = format_table({"Original (bilinear)": results["original"], "SR": results["sr"]})
    report = {"original": results["original"], "sr": results["sr"], "table": table,
              "settings": settings}
    if out is not None:
        plot_pr_roc(hists, out / "pr.png", roc_path=out / "roc.png",
                    title=f"x{scale}: bilinear vs SR")
        atomic_write_text(out / "table.md", table)
        write_json(out / "report.json", report)
    for arm in ("original", "sr"):
        for w in results[arm]["warnings"]:
            yield Log(f"{arm}: {w}", level="warning")
    return report


def run_sr_vs_original(data_root, **kwargs) -> dict:
    """Plain version of :func:`run_sr_vs_original_job` (same arguments and result)."""
    return run_job(run_sr_vs_original_job(data_root, **kwargs), quiet=True)
