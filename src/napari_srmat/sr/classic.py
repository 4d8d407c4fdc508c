"""Interpolation baselines ("empty magnification"): bicubic and Lanczos-3.

Both have a library-speed path for the tiling engine (:meth:`SRModel.chunk_function`):
whole output chunks are resized in one call (OpenCV ``cv2.resize`` for bicubic, Pillow
for Lanczos-3) instead of float32 torch tiles that are then blended. It computes the
same function as ``_forward``:

* bicubic: ``cv2.INTER_CUBIC`` is the same kernel (Keys, ``A = -0.75``) with the same
  pixel-centre convention as ``torch.nn.functional.interpolate(mode="bicubic",
  align_corners=False)`` (no antialiasing, borders clamped). On float32 windows the
  two differ by at most ~2.4e-7; on uint8 images (resized in uint8, OpenCV's
  fixed-point kernel) at most 1 grey level, in about 1 pixel per 100,000
  (``tests/test_classic_fast_path.py`` bounds both). Without OpenCV the torch path is used.
* Lanczos-3: Pillow's ``LANCZOS`` filter is Lanczos-3 with normalised weights (the
  ``lanczos_matrix`` rows), run on float32 (mode ``"F"``) per channel: within ~2.4e-7 of
  the torch path. OpenCV's ``INTER_LANCZOS4`` is Lanczos-4, another filter, so it is
  not used; Pillow's 8-bit mode is not used either (it rounds between its two passes:
  1-level differences in ~18 % of pixels).

Image borders follow the engine (reflect padding), as on the torch path.
"""

from __future__ import annotations

import math

import numpy as np

from .base import SRModel

__all__ = ["BicubicSR", "LanczosSR", "bicubic_upsample", "lanczos_upsample", "lanczos_matrix",
           "resize_window"]


def _cv2():
    try:
        import cv2
    except ImportError:  # opencv-python-headless is a dependency; fall back without it
        return None
    return cv2


def resize_window(window: np.ndarray, scale: int, out_dtype, method: str = "bicubic"
                  ) -> np.ndarray:
    """Interpolate a whole ``(h, w[, C])`` window by ``scale`` at library speed.

    Parameters
    ----------
    window : ndarray
        Raw pixels (any dtype :func:`napari_srmat.io.to_float01` takes).
    scale : int
        Magnification.
    out_dtype : dtype
        Wanted output type. A uint8 window with uint8 output is resized in uint8
        (OpenCV, bicubic only); everything else in float32 on the [0, 1] scale.
    method : {"bicubic", "lanczos"}
        ``cv2.INTER_CUBIC`` or Pillow's Lanczos-3.

    Returns
    -------
    ndarray
        ``(h*scale, w*scale[, C])``: ``out_dtype`` (uint8 path) or float32 clipped to
        [0, 1] (like :meth:`SRModel.predict`).
    """
    from ..io import to_float01

    h, w = window.shape[:2]
    size = (w * scale, h * scale)
    if method == "bicubic":
        cv2 = _cv2()
        if cv2 is None:
            raise RuntimeError("resize_window(method='bicubic') needs opencv-python-headless")
        if window.dtype == np.uint8 and np.dtype(out_dtype) == np.uint8:
            return cv2.resize(window, size, interpolation=cv2.INTER_CUBIC)
        y = cv2.resize(to_float01(window), size, interpolation=cv2.INTER_CUBIC)
    elif method == "lanczos":
        from PIL import Image

        x = to_float01(window)
        planes = [x] if x.ndim == 2 else [x[..., c] for c in range(x.shape[2])]
        y = np.empty((size[1], size[0], *x.shape[2:]), np.float32)
        for c, plane in enumerate(planes):
            img = Image.fromarray(np.ascontiguousarray(plane, np.float32))
            res = np.asarray(img.resize(size, Image.Resampling.LANCZOS))
            if y.ndim == 2:
                y[...] = res
            else:
                y[..., c] = res
    else:
        raise ValueError(f"method must be 'bicubic' or 'lanczos', got {method!r}")
    return np.clip(y, 0.0, 1.0, out=y)


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
    exposure_invariant = True

    def __init__(self, scale: int = 4, device: str = "cpu", **_: object) -> None:
        super().__init__(scale=scale, device=device, in_channels=3)
        self.receptive_field = 2

    def _forward(self, x):
        return bicubic_upsample(x, self.scale)

    def chunk_function(self):
        """OpenCV bicubic on whole chunks (:func:`resize_window`); None without OpenCV."""
        if _cv2() is None:
            return None
        return _ChunkResize(self.scale, "bicubic")


class LanczosSR(SRModel):
    """Separable Lanczos-3 interpolation (reflect borders)."""

    name = "lanczos"
    supported_scales = (2, 3, 4, 8)
    channel_agnostic = True
    exposure_invariant = True

    def __init__(self, scale: int = 4, device: str = "cpu", a: int = 3, **_: object) -> None:
        super().__init__(scale=scale, device=device, in_channels=3)
        self.a = int(a)
        self.receptive_field = int(math.ceil(self.a))
        self.options = {"a": self.a}

    def _forward(self, x):
        return lanczos_upsample(x, self.scale, self.a)

    def chunk_function(self):
        """Pillow Lanczos-3 on whole chunks (:func:`resize_window`); None for ``a != 3``."""
        return _ChunkResize(self.scale, "lanczos") if self.a == 3 else None


class _ChunkResize:
    """``chunk_fn`` of the tiling engine for :func:`resize_window` (picklable)."""

    def __init__(self, scale: int, method: str) -> None:
        self.scale = int(scale)
        self.method = method
        self.backend = "opencv" if method == "bicubic" else "pillow"

    def __call__(self, window: np.ndarray, out_dtype) -> np.ndarray:
        return resize_window(window, self.scale, out_dtype, self.method)
