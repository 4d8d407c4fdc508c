"""Super-resolution models, tiled inference and training.

One registry and one interface::

    from napari_srmat.sr import available_models, load_model, super_resolve
    model = load_model()                    # shipped default (x4)
    sr = super_resolve(image, model, tile=256, overlap=32)

Models: ``bicubic`` and ``lanczos`` (interpolation baselines), ``cnn`` (residual
pixel-shuffle CNN), ``ddpm`` (SR3-style conditional diffusion with uncertainty),
``onestep`` (OSEDiff-like one-step diffusion UNet), ``diffusers-local`` (a
local pretrained diffusers upscaling pipeline), ``cgan`` (pix2pix-style conditional GAN)
and ``refsr`` (reference-based texture transfer). See ``docs/super_resolution.md`` and
``docs/sr_models.md``.
"""

from .apply import super_resolve, super_resolve_job
from .base import ChannelError, ScaleError, SRError, SRModel, TorchSRModel, UnknownModelError
from .colorfix import color_fix
from .registry import (
    DEFAULT_MODEL,
    available_models,
    load_model,
    save_model_checkpoint,
    shipped_weights_dir,
)
from .train import SRTrainConfig, evaluate_sr, train_sr, train_sr_job, trained_checkpoint

__all__ = [
    "available_models",
    "load_model",
    "save_model_checkpoint",
    "shipped_weights_dir",
    "DEFAULT_MODEL",
    "SRModel",
    "TorchSRModel",
    "SRError",
    "UnknownModelError",
    "ScaleError",
    "ChannelError",
    "color_fix",
    "super_resolve",
    "super_resolve_job",
    "SRTrainConfig",
    "train_sr",
    "train_sr_job",
    "trained_checkpoint",
    "evaluate_sr",
]
