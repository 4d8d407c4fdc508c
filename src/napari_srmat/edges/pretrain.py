"""Self-supervised pretraining of the boundary model on unlabeled micrographs.

Masked image modelling (SimMIM-style, on the UAED UNet++ as it is): square patches of
a random crop are replaced by the mean colour of its visible pixels, and the network's
boundary output (``mu``) is trained to give back the standardised grey level of the
hidden pixels (L1, masked pixels only). No label is needed, so every scan a lab has can
teach the encoder its colours and textures; the result is a boundary checkpoint
(safetensors + JSON) that :func:`napari_srmat.edges.train_boundaries_job` starts from
with ``init_checkpoint`` (its uncertainty head is left as initialised, its boundary
output is relearnt).

Whether it helps is judged out of fold (``studies/ssl_pretrain_decision.py``).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..device import (
    check_finite_weights,
    check_learning_rate,
    finite_loss,
    resolve_device,
    set_cpu_threads,
)
from ..errors import check_seed
from ..jobs import Checkpoint, Log, Metric, Progress, Stopped, check_stop
from .config import MaskedPretrainConfig
from .infer import CONFIG_VERSION, CONFIG_VERSION_KEY
from .model import ENCODER_PRESETS, build_uaed, default_arch_config

__all__ = ["INIT_ONLY", "MaskedPretrainConfig", "masked_pretrain_job", "mask_patches"]

#: ``config["purpose"]`` of a pretraining checkpoint: a starting point for
#: ``init_checkpoint``, refused by ``load_boundary_model`` for prediction.
INIT_ONLY = "init_only"


def mask_patches(crop_chw: np.ndarray, patch: int, ratio: float,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Hide ``ratio`` of the ``patch`` x ``patch`` squares of a crop.

    Parameters
    ----------
    crop_chw : ndarray, shape (C, H, W)
        Float crop; H and W multiples of ``patch``.
    patch : int
        Side of the squares.
    ratio : float
        Fraction of the squares hidden (rounded; at least one, and at least one square
        stays visible).
    rng : numpy.random.Generator
        Chooses the squares.

    Returns
    -------
    masked : ndarray, shape (C, H, W)
        The crop with the hidden squares set to the per-channel mean of its visible
        pixels (a simplification of SimMIM's learnt mask token that tells nothing about
        what is hidden).
    hidden : ndarray of bool, shape (H, W)
        Which pixels were hidden.

    Examples
    --------
    >>> x = np.arange(2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4)
    >>> masked, hidden = mask_patches(x, 2, 0.5, np.random.default_rng(0))
    >>> int(hidden.sum()), bool(np.all(masked[:, ~hidden] == x[:, ~hidden]))
    (8, True)
    """
    c, h, w = crop_chw.shape
    if h % patch or w % patch:
        raise ValueError(f"crop {h}x{w} is not a multiple of the patch side {patch}")
    gh, gw = h // patch, w // patch
    if gh * gw < 2:
        raise ValueError(f"crop {h}x{w} holds one patch of side {patch}; it needs at least "
                         "two (one hidden, one visible)")
    n_hide = min(max(1, round(ratio * gh * gw)), gh * gw - 1)
    grid = np.zeros(gh * gw, bool)
    grid[rng.choice(gh * gw, n_hide, replace=False)] = True
    hidden = np.kron(grid.reshape(gh, gw), np.ones((patch, patch), bool))
    masked = crop_chw.copy()
    masked[:, hidden] = crop_chw[:, ~hidden].mean(axis=1)[:, None]
    return masked, hidden


def _checked_image(i: int, image: Any, crop: int) -> Any:
    """An input as it is (numpy, dask or zarr) once its shape is that of a micrograph at
    least ``crop`` px on both sides and its pixels are finite (only a float image is read
    for that, chunk by chunk: a NaN outside the random crops would otherwise pass or
    fail by the seed; the fine-tuning refuses such images the same way)."""
    from ..io import all_finite
    from .data import BoundaryDataError, check_model_image_shape

    if not (hasattr(image, "shape") and hasattr(image, "dtype")):
        image = np.asarray(image)
    shape = tuple(image.shape)
    try:
        check_model_image_shape(shape)
    except ValueError as exc:  # BoundaryDataError, or the image-input rule's
        raise BoundaryDataError(f"image {i}: {exc}") from None
    if min(shape[:2]) < crop:
        raise ValueError(f"image {i} ({shape[0]}x{shape[1]}) is smaller than the crop "
                         f"({crop} px)")
    if np.issubdtype(np.dtype(image.dtype), np.inexact) and not all_finite(image):
        raise BoundaryDataError(f"image {i} has NaN or infinite pixels")
    return image


def _read_crop(image: Any, crop: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``crop`` x ``crop`` window of an image, read alone (a mosaic never enters
    memory whole) and prepared as the fine-tuning prepares its images
    (``edges.data.to_model_image``). Draws the window as ``random_crop_augment`` would."""
    from ..io import read_window
    from .data import to_model_image

    h, w = image.shape[:2]
    y = x = 0
    if h > crop or w > crop:
        y = int(rng.integers(0, h - crop + 1))
        x = int(rng.integers(0, w - crop + 1))
    return to_model_image(read_window(image, y, y + crop, x, x + crop)).astype(
        np.float32, copy=False)


def _standardised_grey(crop_chw: np.ndarray) -> np.ndarray:
    grey = crop_chw.mean(axis=0)
    return (grey - grey.mean()) / (grey.std() + 1e-3)


def masked_pretrain_job(config: MaskedPretrainConfig | dict, *, stop=None):
    """Pretrain a boundary model by masked image modelling (job generator).

    Parameters
    ----------
    config : MaskedPretrainConfig or dict
        Run settings.
    stop : StopToken, optional
        Checked between steps; on request nothing is written, :class:`Stopped` is
        yielded and ``None`` returned.

    Yields
    ------
    Progress
        One per step (stage ``"masked pretraining"``).
    Log, Metric
        The start; the mean masked loss every 100 steps and at the end (split
        ``"pretrain"``, its step the steps done: ``[pretrain 100]`` after 100 steps).
    Checkpoint
        The written checkpoint, at the end.
    Stopped
        On a stop request (nothing is written).

    Returns
    -------
    str or None
        The checkpoint directory (loadable by ``load_boundary_model`` and usable as
        ``init_checkpoint``), or None when stopped.

    Raises
    ------
    ValueError
        No images, an image smaller than the crop, a crop not a multiple of the
        patch or holding a single patch, steps / batch size / patch below 1, a mask
        ratio outside (0, 1), an unknown encoder, or an output that exists.
    napari_srmat.outputs.OutputError
        An output that cannot be written there (a ValueError too): a folder named like
        an image file (``ck.png``), a name kept for bookkeeping, a parent that is a file
        or not writable (:func:`napari_srmat.outputs.check_output_location`).
    BoundaryDataError
        An image that is not ``(H, W)`` or ``(H, W, C)`` with 1, 3 or 4 channels.
    """
    import torch

    from ..checkpoint import save_checkpoint
    from ..outputs import check_output_location
    from .data import random_crop_augment

    cfg = config if isinstance(config, MaskedPretrainConfig) else MaskedPretrainConfig(**config)
    stop = check_stop(stop)
    if cfg.encoder not in ENCODER_PRESETS:
        raise ValueError(f"unknown encoder {cfg.encoder!r}; choose one of "
                         f"{sorted(ENCODER_PRESETS)}")
    if not cfg.images:
        raise ValueError("no images to pretrain on")
    if min(cfg.steps, cfg.batch_size, cfg.patch, cfg.crop) < 1:
        raise ValueError("steps, batch_size, patch and crop must be at least 1")
    if not 0 < cfg.mask_ratio < 1:
        raise ValueError(f"mask_ratio must be between 0 and 1 (exclusive), got {cfg.mask_ratio}")
    if cfg.crop % cfg.patch:
        raise ValueError(f"crop {cfg.crop} is not a multiple of the patch side {cfg.patch}")
    if cfg.crop == cfg.patch:
        raise ValueError(f"crop {cfg.crop} holds a single patch; choose a patch side "
                         "smaller than the crop")
    if not cfg.out:
        raise ValueError("out (the checkpoint directory) is required")
    check_output_location(cfg.out, folder=True)  # a folder named like an image, ...
    out = Path(cfg.out)
    if out.exists():
        raise ValueError(f"{out} already exists; choose a new checkpoint directory")
    arch = default_arch_config(cfg.encoder)
    images = [_checked_image(i, img, cfg.crop) for i, img in enumerate(cfg.images)]
    check_learning_rate(cfg.lr)
    seed = check_seed(cfg.seed)  # 3.0 -> 3: numpy wants an int
    set_cpu_threads(cfg.num_threads)
    device = resolve_device(cfg.device)
    torch.manual_seed(seed)
    model = build_uaed(arch).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng = np.random.default_rng(seed)
    no_label = np.zeros((cfg.crop, cfg.crop), bool)  # the crop function wants a mask
    yield Log(f"masked pretraining on {len(images)} images, {cfg.steps} steps")
    t0 = time.time()
    losses: list[float] = []
    for step in range(cfg.steps):
        if stop is not None and stop.stop_requested:
            yield Stopped(f"stopped at step {step}; nothing written")
            return None
        xs, ys, hs = [], [], []
        for _ in range(cfg.batch_size):
            i = int(rng.integers(len(images)))
            crop, _ = random_crop_augment(_read_crop(images[i], cfg.crop, rng), no_label,
                                          cfg.crop, rng)
            masked, hidden = mask_patches(crop, cfg.patch, cfg.mask_ratio, rng)
            xs.append(masked)
            ys.append(_standardised_grey(crop))
            hs.append(hidden)
        x = torch.from_numpy(np.stack(xs)).to(device)
        y = torch.from_numpy(np.stack(ys)[:, None].astype(np.float32)).to(device)
        hidden_t = torch.from_numpy(np.stack(hs)[:, None]).to(device)
        lr = cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / max(cfg.steps, 1))))
        for g in opt.param_groups:
            g["lr"] = lr
        model.train()
        mu, _ = model(x)
        loss = (mu - y).abs()[hidden_t].mean()
        loss_value = finite_loss(loss, step + 1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss_value)
        yield Progress(step + 1, cfg.steps, "masked pretraining")
        if (step + 1) % 100 == 0 or step + 1 == cfg.steps:
            # the steps done, as the progress and the checkpoint count them (Metric's
            # "step" unit; until 2026-12-07 the index: [pretrain 99] after 100 steps)
            yield Metric(step + 1, {"loss": float(np.mean(losses[-100:]))}, split="pretrain")
    # the last step is checked by no loss (its weights can also overflow only in eval)
    check_finite_weights(model, step=cfg.steps, inputs=x)
    config_json = {**arch, "threshold": 0.5, "input_norm": "none",
                   "prob_definition": "sigmoid(mu)", "purpose": INIT_ONLY,
                   CONFIG_VERSION_KEY: CONFIG_VERSION,
                   "pretraining": {"kind": "masked_image_modelling", **cfg.to_json(),
                                   "final_loss": float(np.mean(losses[-100:])),
                                   "elapsed_s": round(time.time() - t0, 1)}}
    save_checkpoint(out, model.state_dict(), config_json, overwrite=False)
    yield Checkpoint(str(out), step=cfg.steps)
    return str(out)
