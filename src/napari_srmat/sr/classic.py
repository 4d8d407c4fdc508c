"""Interpolation baselines ("empty magnification"): bicubic and Lanczos-3."""

from __future__ import annotations

import math

import numpy as np

from .base import SRModel

__all__ = ["BicubicSR", "LanczosSR", "bicubic_upsample", "lanczos_upsample", "lanczos_matrix"]


def bicubic_upsample(x, scale: int):
    """Bicubic upsampling of a torch tensor ``(B, C, h, w)`` (``align_corners=False``)."""
    import torch.nn.functional as F

    return F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)


def _lanczos(x: np.ndarray, a: int = 3) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    out = np.sinc(x) * np.sinc(x / a)
    out[np.abs(x) >= a] = 0.0
    return out


def _reflect(i: np.ndarray, n: int) -> np.ndarray:
    if n == 1:
        return np.zeros_like(i)
    period = 2 * n - 2
    i = np.mod(i, period)
    return np.where(i >= n, period - i, i)


def lanczos_matrix(n_in: int, scale: int, a: int = 3) -> np.ndarray:
    """Interpolation matrix ``(n_in*scale, n_in)`` of Lanczos-``a`` upsampling.

    Output pixel ``o`` samples input coordinate ``(o + 0.5) / scale - 0.5``
    (pixel-centre convention, as bicubic with ``align_corners=False``); borders
    are reflected. Rows are normalised to sum to one.
    """
    n_out = n_in * scale
    centres = (np.arange(n_out) + 0.5) / scale - 0.5
    base = np.floor(centres).astype(int)
    m = np.zeros((n_out, n_in), dtype=np.float64)
    rows = np.arange(n_out)
    for k in range(-a + 1, a + 1):
        taps = base + k
        w = _lanczos(centres - taps, a)
        np.add.at(m, (rows, _reflect(taps, n_in)), w)
    m /= m.sum(axis=1, keepdims=True)
    return m.astype(np.float32)


def lanczos_upsample(x, scale: int, a: int = 3):
    """Separable Lanczos-``a`` upsampling of a torch tensor ``(B, C, h, w)``."""
    import torch

    mh = torch.from_numpy(lanczos_matrix(x.shape[-2], scale, a)).to(x.device, x.dtype)
    mw = torch.from_numpy(lanczos_matrix(x.shape[-1], scale, a)).to(x.device, x.dtype)
    return torch.einsum("oh,bchw,pw->bcop", mh, x, mw)


class BicubicSR(SRModel):
    """Bicubic interpolation (the paper's "empty magnification" baseline)."""

    name = "bicubic"
    supported_scales = (2, 3, 4, 8)
    channel_agnostic = True

    def __init__(self, scale: int = 4, device: str = "cpu", **_: object) -> None:
        super().__init__(scale=scale, device=device, in_channels=3)
        self.receptive_field = 2

    def _forward(self, x):
        return bicubic_upsample(x, self.scale)


class LanczosSR(SRModel):
    """Separable Lanczos-3 interpolation (reflect borders)."""

    name = "lanczos"
    supported_scales = (2, 3, 4, 8)
    channel_agnostic = True

    def __init__(self, scale: int = 4, device: str = "cpu", a: int = 3, **_: object) -> None:
        super().__init__(scale=scale, device=device, in_channels=3)
        self.a = int(a)
        self.receptive_field = int(math.ceil(self.a))
        self.options = {"a": self.a}

    def _forward(self, x):
        return lanczos_upsample(x, self.scale, self.a)
