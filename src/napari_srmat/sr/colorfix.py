"""Colour / low-frequency correction of generative SR outputs.

Diffusion models can shift colours and slowly varying intensity. Both fixes
keep the SR output's detail and take the low-frequency content from the
(trustworthy) interpolated low-resolution image:

* ``"wavelet"`` (StableSR): the output's high-frequency bands of an à-trous
  wavelet decomposition plus the low-frequency residual of ``lr_up``.
* ``"adain"``: per-image, per-channel mean and standard deviation of the output
  are matched to those of ``lr_up``.
"""

from __future__ import annotations

__all__ = ["color_fix", "check_color_fix", "wavelet_decomposition", "COLOR_FIX_METHODS"]

COLOR_FIX_METHODS = ("wavelet", "adain", "none")


def check_color_fix(method: str | None, *, error: type[ValueError] = ValueError) -> str | None:
    """Check a colour-fix method (one of :data:`COLOR_FIX_METHODS` or None).

    Parameters
    ----------
    method : str or None
        The method.
    error : type of ValueError
        The exception raised (the models' constructors raise ``SRError``, when loaded,
        not on their first tile).

    Returns
    -------
    str or None
        ``method``.
    """
    if method is None or (isinstance(method, str) and method in COLOR_FIX_METHODS):
        return method
    raise error(f"unknown color_fix method {method!r}; use one of {COLOR_FIX_METHODS}")


def _wavelet_blur(x, radius: int):
    import torch
    import torch.nn.functional as F

    k = torch.tensor([[1 / 16, 1 / 8, 1 / 16], [1 / 8, 1 / 4, 1 / 8], [1 / 16, 1 / 8, 1 / 16]],
                     dtype=x.dtype, device=x.device)
    c = x.shape[1]
    k = k[None, None].repeat(c, 1, 1, 1)
    x = F.pad(x, (radius,) * 4, mode="replicate")
    return F.conv2d(x, k, groups=c, dilation=radius)


def wavelet_decomposition(x, levels: int = 5):
    """Split a tensor ``(B, C, H, W)`` into ``(high, low)`` with an à-trous wavelet."""
    high = 0.0
    for i in range(levels):
        low = _wavelet_blur(x, 2**i)
        high = high + (x - low)
        x = low
    return high, x


def color_fix(sr, lr_up, method: str | None = "wavelet", levels: int = 5):
    """Correct colours/low frequencies of ``sr`` with those of ``lr_up``.

    Parameters
    ----------
    sr, lr_up : torch.Tensor
        ``(B, C, H, W)`` of the same shape: the SR output and the interpolated
        low-resolution input.
    method : {"wavelet", "adain", "none", None}
        Correction (see module docstring); ``None``/``"none"`` returns ``sr``.
    levels : int
        Wavelet levels (low band radius about ``2**levels`` px).

    Returns
    -------
    torch.Tensor
        Corrected image (not clamped).
    """
    if method is None or method == "none":
        return sr
    if tuple(sr.shape) != tuple(lr_up.shape):
        raise ValueError(f"color_fix: shapes differ {tuple(sr.shape)} vs {tuple(lr_up.shape)}")
    if method == "wavelet":
        high, _ = wavelet_decomposition(sr, levels)
        _, low = wavelet_decomposition(lr_up, levels)
        return high + low
    if method == "adain":
        dims = (2, 3)
        mu_s, sd_s = sr.mean(dims, keepdim=True), sr.std(dims, keepdim=True)
        mu_l, sd_l = lr_up.mean(dims, keepdim=True), lr_up.std(dims, keepdim=True)
        return (sr - mu_s) / (sd_s + 1e-6) * sd_l + mu_l
    check_color_fix(method)
    raise AssertionError(method)  # pragma: no cover - every method is handled above
