"""Choice of compute device."""

from __future__ import annotations

__all__ = ["resolve_device"]


def resolve_device(device: str | None = "auto") -> str:
    """Return a torch device string.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"}
        ``"auto"`` picks CUDA when available, then MPS, else CPU.

    Raises
    ------
    ValueError
        If a CUDA/MPS device is asked for but not available.
    """
    import torch

    device = (device or "auto").lower()
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    if device == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise ValueError("device 'mps' requested but not available")
    if not (device == "cpu" or device == "mps" or device.startswith("cuda")):
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda or mps")
    return device
