"""Synthetic degradations that turn HR patches into LR inputs for self-supervised training.

All functions work on torch tensors ``(B, C, H, W)`` in [0, 1].

* ``"bicubic"``: antialiased bicubic downsampling only (the evaluation protocol).
* ``"classical"``: Gaussian / anisotropic Gaussian blur, bicubic or area
  downsampling, Gaussian noise and JPEG compression, each with a probability.
* ``"realesrgan"``: the classical chain applied twice (second-order, Real-ESRGAN
  style), with the first pass at an intermediate scale.

No colour jitter is applied anywhere (colour is information in polarised-light
micrographs).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DegradationConfig",
    "gaussian_kernel",
    "anisotropic_gaussian_kernel",
    "blur",
    "downsample",
    "bicubic_downsample",
    "add_gaussian_noise",
    "jpeg_compress",
    "jpeg_roundtrip",
    "degrade",
]


@dataclass
class DegradationConfig:
    """Parameters of :func:`degrade`.

    Attributes
    ----------
    mode : {"bicubic", "classical", "realesrgan"}
    p_degrade : float
        Probability (per sample) that the blur/noise/JPEG chain is applied at all;
        otherwise plain bicubic downsampling. Lets a model stay sharp on clean
        input while becoming robust to degraded input.
    blur_prob, blur_sigma, aniso_prob, kernel_size
        Blur probability, sigma range (HR px), share of anisotropic kernels, size.
    down_modes : tuple of str
        Downsampling kernels to choose from ("bicubic", "area").
    noise_prob, noise_sigma
        Gaussian noise probability and sigma range (in [0, 1] intensity units).
    jpeg_prob, jpeg_quality
        JPEG probability and quality range.
    """

    mode: str = "bicubic"
    p_degrade: float = 1.0
    blur_prob: float = 0.7
    blur_sigma: tuple[float, float] = (0.2, 2.0)
    aniso_prob: float = 0.4
    kernel_size: int = 11
    down_modes: tuple[str, ...] = ("bicubic", "area")
    noise_prob: float = 0.5
    noise_sigma: tuple[float, float] = (0.0, 0.03)
    jpeg_prob: float = 0.3
    jpeg_quality: tuple[int, int] = (60, 95)

    def __post_init__(self) -> None:
        if self.mode not in ("bicubic", "classical", "realesrgan"):
            raise ValueError(
                f"degradation mode must be bicubic, classical or realesrgan, got {self.mode!r}"
            )


def gaussian_kernel(size: int, sigma: float) -> np.ndarray:
    """Isotropic normalised Gaussian kernel ``(size, size)``."""
    return anisotropic_gaussian_kernel(size, sigma, sigma, 0.0)


def anisotropic_gaussian_kernel(size: int, sigma_x: float, sigma_y: float,
                                theta: float) -> np.ndarray:
    """Normalised anisotropic Gaussian kernel rotated by ``theta`` (radians)."""
    r = (size - 1) / 2
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    c, s = math.cos(theta), math.sin(theta)
    u = c * xx + s * yy
    v = -s * xx + c * yy
    k = np.exp(-0.5 * ((u / max(sigma_x, 1e-3)) ** 2 + (v / max(sigma_y, 1e-3)) ** 2))
    return (k / k.sum()).astype(np.float32)


def blur(x, kernel):
    """Convolve each channel of ``x`` with a 2-D ``kernel`` (reflect padding)."""
    import torch
    import torch.nn.functional as F

    k = torch.as_tensor(np.asarray(kernel), dtype=x.dtype, device=x.device)
    c = x.shape[1]
    p = k.shape[-1] // 2
    xp = F.pad(x, (p, p, p, p), mode="reflect")
    return F.conv2d(xp, k[None, None].repeat(c, 1, 1, 1), groups=c)


def downsample(x, scale: float, mode: str = "bicubic"):
    """Downsample by ``scale`` with ``"bicubic"`` (antialiased) or ``"area"``."""
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    size = (max(1, int(round(h / scale))), max(1, int(round(w / scale))))
    if mode == "area":
        return F.interpolate(x, size=size, mode="area")
    if mode == "bicubic":
        return F.interpolate(x, size=size, mode="bicubic", align_corners=False,
                             antialias=True).clamp(0, 1)
    raise ValueError(f"unknown downsampling mode {mode!r} (bicubic or area)")


def bicubic_downsample(x, scale: int):
    """The evaluation degradation: antialiased bicubic downsampling by ``scale``."""
    return downsample(x, scale, "bicubic")


def add_gaussian_noise(x, sigma: float, generator=None):
    """Add zero-mean Gaussian noise of standard deviation ``sigma`` and clamp to [0, 1]."""
    import torch

    noise = torch.randn(x.shape, generator=generator, device="cpu").to(x.device)
    return (x + sigma * noise).clamp(0, 1)


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode a float ``(H, W, C)`` image in [0, 1] (C = 1 or 3) as JPEG and decode it.

    The 8-bit conversion is :func:`napari_srmat.io.to_uint8` / ``to_float01``; used by
    the SR degradations and the boundary-training augmentation.
    """
    from PIL import Image

    from ..io import to_float01, to_uint8

    arr = to_uint8(image)
    grey = arr.shape[2] == 1
    buf = io.BytesIO()
    Image.fromarray(arr[..., 0] if grey else arr).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        dec = to_float01(np.asarray(im.convert("L" if grey else "RGB")))
    return dec[..., None] if grey else dec


def jpeg_compress(x, quality: int):
    """JPEG-compress each image of the batch with PIL at ``quality``."""
    import torch

    out = []
    for img in x:
        dec = jpeg_roundtrip(img.permute(1, 2, 0).cpu().numpy(), quality)
        out.append(torch.from_numpy(np.ascontiguousarray(dec)).permute(2, 0, 1))
    return torch.stack(out).to(x.device)


def _chain(x, scale: float, cfg: DegradationConfig, rng: np.random.Generator, generator):
    if rng.random() < cfg.blur_prob:
        s1 = rng.uniform(*cfg.blur_sigma)
        if rng.random() < cfg.aniso_prob:
            s2 = rng.uniform(*cfg.blur_sigma)
            k = anisotropic_gaussian_kernel(cfg.kernel_size, s1, s2, rng.uniform(0, math.pi))
        else:
            k = gaussian_kernel(cfg.kernel_size, s1)
        x = blur(x, k)
    x = downsample(x, scale, str(rng.choice(cfg.down_modes)))
    if rng.random() < cfg.noise_prob:
        x = add_gaussian_noise(x, rng.uniform(*cfg.noise_sigma), generator)
    if rng.random() < cfg.jpeg_prob:
        x = jpeg_compress(x, int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1)))
    return x


def degrade(hr, scale: int, config: DegradationConfig | dict | None = None,
            rng: np.random.Generator | None = None, generator=None):
    """Make the LR counterpart of an HR batch.

    Parameters
    ----------
    hr : torch.Tensor
        ``(B, C, H, W)`` in [0, 1], ``H`` and ``W`` divisible by ``scale``.
    scale : int
        Downsampling factor.
    config : DegradationConfig or dict, optional
        Degradation settings (default: plain bicubic).
    rng : numpy.random.Generator, optional
        Random choices of the chain.
    generator : torch.Generator, optional
        Noise generator.

    Returns
    -------
    torch.Tensor
        ``(B, C, H/scale, W/scale)`` in [0, 1].
    """
    import torch

    if isinstance(config, dict):
        config = DegradationConfig(**config)
    cfg = config or DegradationConfig()
    rng = rng or np.random.default_rng()
    h, w = hr.shape[-2:]
    if h % scale or w % scale:
        raise ValueError(f"HR size {h}x{w} is not divisible by scale {scale}")
    if cfg.mode == "bicubic":
        return bicubic_downsample(hr, scale)
    out = []
    for i in range(hr.shape[0]):
        x = hr[i:i + 1]
        if rng.random() >= cfg.p_degrade:
            out.append(bicubic_downsample(x, scale))
            continue
        if cfg.mode == "realesrgan":
            s1 = 2 if scale >= 4 else 1
            x = _chain(x, s1, cfg, rng, generator)
            x = _chain(x, scale / s1, cfg, rng, generator)
            x = torch.nn.functional.interpolate(x, size=(h // scale, w // scale), mode="area")
        else:
            x = _chain(x, scale, cfg, rng, generator)
        out.append(x.clamp(0, 1))
    return torch.cat(out)
