"""A user's local, pretrained ``diffusers`` upscaling pipeline as an :class:`SRModel`.

Only local directories are read (``local_files_only=True``), nothing is
downloaded. Pipelines whose weights are only pickles (``.bin``/``.pt``/``.ckpt``)
are refused unless ``allow_pickle=True`` is passed explicitly.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import Any

from ..checkpoint import DIFFUSERS_INDEX_NAME, CheckpointError, is_diffusers_pipeline_dir
from ..errors import check_seed, not_found_message, one_line
from .base import (
    ScaleError,
    SRError,
    SRModel,
    _check_scale,
    check_inference_steps,
    check_number,
)
from .classic import bicubic_upsample
from .colorfix import check_color_fix, color_fix
from .diffusion import _pad_to_multiple

__all__ = ["DiffusersLocalSR"]

#: Scale of a pipeline whose VAE does not say (``vae_scale_factor``): the SD x4 upscaler's.
DEFAULT_SCALE = 4

_PICKLE = {".bin", ".pt", ".pth", ".ckpt", ".pkl"}
#: Arguments :meth:`DiffusersLocalSR._forward` gives the pipeline (those of
#: ``StableDiffusionUpscalePipeline``): a pipeline whose call names none of them is
#: another kind (a text-to-image pipeline swallows them in ``**kwargs``).
PIPELINE_CALL_ARGS = ("prompt", "negative_prompt", "image", "num_inference_steps",
                      "noise_level", "guidance_scale", "generator", "output_type")
#: What loading a damaged or hand-edited pipeline folder raises inside diffusers (a
#: component config without a field: IndexError/KeyError; a wrong type: TypeError).
_LOAD_ERRORS = (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError,
                RuntimeError)


def _check_pipeline_dir(path: Path, allow_pickle: bool) -> bool:
    """Validate a pipeline directory; return whether every component has safetensors."""
    if not path.is_dir():
        raise CheckpointError(not_found_message(path, "diffusers pipeline directory"))
    if not is_diffusers_pipeline_dir(path):
        raise CheckpointError(
            f"{path} is not a diffusers pipeline (no {DIFFUSERS_INDEX_NAME})")
    files = [p for p in path.rglob("*") if p.is_file()]
    pickled_dirs = {p.parent for p in files if p.suffix in _PICKLE}
    st_dirs = {p.parent for p in files if p.suffix == ".safetensors"}
    pickle_only = sorted(str(d.relative_to(path)) for d in pickled_dirs - st_dirs)
    if pickle_only and not allow_pickle:
        raise CheckpointError(
            f"{path}: component(s) {', '.join(pickle_only)} hold only pickle weights "
            "(.bin/.pt), which can run arbitrary code; convert them to safetensors (load "
            "the pipeline once in Python and save_pretrained(FOLDER, "
            "safe_serialization=True)), or, in Python only (srmat never loads pickles), pass "
            "allow_pickle=True if you trust the source"
        )
    has_st = not pickle_only
    return has_st


def _check_upscaler(pipe: Any, path: Path) -> None:
    """Refuse a pipeline that is not an upscaler (its call lacks
    :data:`PIPELINE_CALL_ARGS`): a text-to-image pipeline loaded and then failed on the
    first tile with a message about its own internals, or ignored the image."""
    import inspect

    params = inspect.signature(pipe.__call__).parameters
    missing = [a for a in PIPELINE_CALL_ARGS if a not in params]
    if missing:
        raise CheckpointError(
            f"{path} holds a {type(pipe).__name__}, not an upscaling pipeline such as "
            f"StableDiffusionUpscalePipeline (its call takes no {', '.join(missing)})")


def _load_error_text(exc: BaseException) -> str:
    """A diffusers load error on one line, without its advice to pass
    ``ignore_mismatched_sizes=True`` (no option of :func:`~napari_srmat.sr.load_model`;
    it would keep random weights): the sentence giving it is replaced by saying that the
    component's config.json does not describe its weights."""
    text = one_line(exc)
    cut = text.find("ignore_mismatched_sizes")
    if cut < 0:
        return text
    return (text[:text.rfind(".", 0, cut) + 1] +
            " The component's config.json does not describe its weights (keep the "
            "files the pipeline was saved with)")


@contextlib.contextmanager
def _quiet_load():
    """Switch off diffusers' and transformers' progress bars ("Loading pipeline
    components...", "Loading weights") and their log lines below CRITICAL for the ``with``
    block only, restoring each library's settings afterwards: they wrote tqdm bars, an
    "install accelerate" hint and a torchvision fallback note to the CLI's stderr on every
    load, and, for a folder lacking weights, the error "An error occurred while trying to
    fetch ..." that the load then raises (told as a
    :class:`~napari_srmat.checkpoint.CheckpointError`)."""
    import importlib

    restore = []
    for name in ("diffusers.utils.logging", "transformers.utils.logging"):
        try:
            lib = importlib.import_module(name)
        except ImportError:  # transformers is optional to diffusers
            continue
        restore.append((lib, lib.is_progress_bar_enabled(), lib.get_verbosity()))
        lib.disable_progress_bar()
        lib.set_verbosity(lib.CRITICAL)
    try:
        yield
    finally:
        for lib, bars, verbosity in restore:
            lib.set_verbosity(verbosity)
            if bars:
                lib.enable_progress_bar()


def _pipeline_multiple(pipe: Any) -> int:
    """The side an upscaling pipeline's input must be a multiple of: its image
    processor's (``vae_scale_factor``, to which it resizes the input down) and its UNet's
    (2 per down block), so that the output is exactly ``scale`` times the input."""
    vae = int(getattr(pipe, "vae_scale_factor", 1) or 1)
    unet = getattr(getattr(pipe, "unet", None), "config", None)
    blocks = len(getattr(unet, "block_out_channels", None) or (0,))
    return math.lcm(vae, 2 ** max(blocks - 1, 0))


class DiffusersLocalSR(SRModel):
    """Wrap a local ``StableDiffusionUpscalePipeline`` (or compatible) directory.

    Parameters
    ----------
    path : path-like
        Pipeline directory (``save_pretrained`` output with ``model_index.json``).
    scale : int, optional
        Must equal the pipeline's magnification (4 for the SD x4 upscaler; the
        VAE's scale factor). None (the default): the pipeline's (a x2 pipeline was
        refused, "magnifies x2, not x4", unless ``scale=2`` was given).
    device : str
    prompt : str
        Text prompt (default ``"metallographic image"``).
    negative_prompt : str, optional
    num_inference_steps : int
    noise_level : int
        Noise added to the low-resolution conditioning image.
    guidance_scale : float
    seed : int
        Run seed of the sampling noise; each tile's noise is seeded by
        ``(seed, tile id)`` (one generator per tile, passed to the pipeline as a list).
    color_fix : {"wavelet", "adain", "none"}
    allow_pickle : bool
        Allow pipelines with only pickle weights (unsafe; default False).
    """

    name = "diffusers-local"
    supported_scales = (2, 4, 8)
    generative = True
    stochastic = True
    has_sampling_steps = True

    def __init__(self, path: str | os.PathLike | None, scale: int | None = None,
                 device: str = "cpu",
                 prompt: str = "metallographic image", negative_prompt: str | None = None,
                 num_inference_steps: int = 20, noise_level: int = 20,
                 guidance_scale: float = 1.0, seed: int = 0, color_fix: str = "wavelet",
                 allow_pickle: bool = False, **_: Any) -> None:
        # checked now (a bad value before the pipeline loads); None: the pipeline's, below
        super().__init__(scale=DEFAULT_SCALE if scale is None else scale, device=device,
                         in_channels=3)
        num_inference_steps = check_inference_steps(num_inference_steps)
        noise_level = check_number("noise_level", noise_level, lo=0, integer=True)
        guidance_scale = check_number("guidance_scale", guidance_scale, lo=0)
        seed = check_seed(seed, error=SRError)
        check_color_fix(color_fix, error=SRError)
        if path is None:
            raise CheckpointError(
                "diffusers-local needs the pipeline directory (checkpoint=PATH or path=PATH)"
            )
        path = Path(path)
        has_st = _check_pipeline_dir(path, allow_pickle)
        from diffusers import DiffusionPipeline

        kwargs: dict[str, Any] = {"local_files_only": True}
        kwargs["use_safetensors"] = True if has_st else None if allow_pickle else True
        try:
            with _quiet_load():
                pipe = DiffusionPipeline.from_pretrained(str(path), **kwargs)
        except _LOAD_ERRORS as exc:
            raise CheckpointError(f"cannot load diffusers pipeline from {path}: "
                                  f"{type(exc).__name__}: {_load_error_text(exc)}") from exc
        _check_upscaler(pipe, path)
        pipe.set_progress_bar_config(disable=True)
        self.pipe = pipe.to(device)
        vae_factor = int(getattr(pipe, "vae_scale_factor", DEFAULT_SCALE) or DEFAULT_SCALE)
        if scale is None:
            self.scale = _check_scale(vae_factor, self.supported_scales, self.name)
        elif vae_factor != self.scale:
            raise ScaleError(f"pipeline {path} magnifies x{vae_factor}, not x{self.scale}")
        self.checkpoint = str(path)
        self.receptive_field = 16
        #: inputs are reflect-padded (bottom, right) to a multiple of this and the
        #: output cropped back: the pipeline resized other sizes down (37 x 41 -> 36 x 40)
        self._multiple = _pipeline_multiple(pipe)
        self.options = {"prompt": prompt, "negative_prompt": negative_prompt,
                        "num_inference_steps": int(num_inference_steps),
                        "noise_level": int(noise_level), "guidance_scale": float(guidance_scale),
                        "seed": int(seed), "color_fix": color_fix}

    def _forward(self, x, generators):
        o = self.options
        b = x.shape[0]
        h, w = x.shape[-2:]
        x_p, _ = _pad_to_multiple(x, self._multiple)
        out = self.pipe(
            prompt=[o["prompt"]] * b,
            negative_prompt=None if o["negative_prompt"] is None else [o["negative_prompt"]] * b,
            image=x_p,
            num_inference_steps=o["num_inference_steps"],
            noise_level=o["noise_level"],
            guidance_scale=o["guidance_scale"],
            generator=list(generators),
            output_type="pt",
        ).images
        s = self.scale
        y = out.to(x.device).float()
        if tuple(y.shape[-2:]) != (x_p.shape[-2] * s, x_p.shape[-1] * s):
            raise ScaleError(
                f"pipeline returned {tuple(y.shape[-2:])} for input {tuple(x_p.shape[-2:])}; "
                f"expected x{s}"
            )
        return color_fix(y[..., :h * s, :w * s], bicubic_upsample(x, s), o["color_fix"])
