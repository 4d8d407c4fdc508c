"""Model checkpoints as ``model.safetensors`` plus ``config.json``.

Pickle-based checkpoints (``.pt``, ``.pth``, ``.ckpt``, ``.pkl``, ``.bin``) are refused:
loading a pickle from an untrusted path can execute arbitrary code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ._atomic import atomic_directory, atomic_path, atomic_write_text

__all__ = [
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "write_safetensors",
    "resolve_checkpoint_dir",
    "state_dict_digest",
    "WEIGHTS_NAME",
    "CONFIG_NAME",
]

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
PICKLE_SUFFIXES = {".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin"}


class CheckpointError(ValueError):
    """A checkpoint is missing, unsafe or does not match the model."""


def resolve_checkpoint_dir(path: str | os.PathLike) -> Path:
    """Return the checkpoint directory for ``path`` (a directory or its safetensors file).

    Raises
    ------
    CheckpointError
        If the path does not exist, is a pickle file, or lacks the two files.
    """
    path = Path(path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise CheckpointError(
            f"refusing to load {path}: pickle checkpoints can run arbitrary code; "
            "convert it to safetensors (model.safetensors + config.json)"
        )
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.is_file():
        if path.suffix != ".safetensors":
            raise CheckpointError(f"{path} is not a .safetensors file or checkpoint directory")
        path = path.parent
    for name in (WEIGHTS_NAME, CONFIG_NAME):
        if not (path / name).is_file():
            raise CheckpointError(f"checkpoint {path} has no {name}")
    return path


def write_safetensors(path: str | os.PathLike, tensors: dict[str, Any],
                      metadata: dict[str, str] | None = None) -> Path:
    """Write tensors as a safetensors file with the usual file permissions.

    ``safetensors.torch.save_file`` creates its files private (mode 0600), which
    keeps colleagues on a shared server from loading a checkpoint; this writes the
    same bytes through a normal file (0666 minus the umask). Not atomic by itself:
    call it inside :func:`napari_srmat._atomic.atomic_directory`.

    Parameters
    ----------
    path : path-like
        Destination file.
    tensors : dict of str to torch.Tensor
        Contiguous CPU tensors.
    metadata : dict of str to str, optional
        safetensors header metadata.

    Returns
    -------
    Path
        ``path``.
    """
    from safetensors.torch import save

    path = Path(path)
    path.write_bytes(save(tensors, metadata=metadata))
    return path


def save_checkpoint(
    path: str | os.PathLike,
    state_dict: dict[str, Any],
    config: dict[str, Any],
    overwrite: bool = True,
) -> Path:
    """Save tensors and a JSON config atomically into directory ``path``.

    Parameters
    ----------
    path : path-like
        Checkpoint directory to create.
    state_dict : dict of str to torch.Tensor
        Model weights (made contiguous and detached here).
    config : dict
        JSON-serialisable model configuration; must include ``"model"`` (the
        registry name) so the loader can rebuild the network.
    overwrite : bool
        Replace an existing checkpoint.

    Returns
    -------
    Path
        The checkpoint directory.
    """
    if "model" not in config:
        raise CheckpointError("config must name the model type under 'model'")
    tensors = {k: v.detach().contiguous().cpu() for k, v in state_dict.items()}
    with atomic_directory(path, overwrite=overwrite) as tmp:
        write_safetensors(tmp / WEIGHTS_NAME, tensors, metadata={"format": "pt"})
        (tmp / CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=True))
    return Path(path)


def load_checkpoint(path: str | os.PathLike, device: str = "cpu") -> tuple[dict, dict]:
    """Load ``(state_dict, config)`` from a checkpoint directory or its safetensors file.

    Raises
    ------
    CheckpointError
        Missing files, pickle checkpoints, or an unreadable config.
    """
    from safetensors.torch import load_file

    ckpt = resolve_checkpoint_dir(path)
    try:
        config = json.loads((ckpt / CONFIG_NAME).read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{ckpt / CONFIG_NAME} is not valid JSON: {exc}") from exc
    try:
        state = load_file(str(ckpt / WEIGHTS_NAME), device=device)
    except Exception as exc:  # safetensors raises several types
        raise CheckpointError(f"cannot read {ckpt / WEIGHTS_NAME}: {exc}") from exc
    return state, config


def state_dict_digest(state: dict) -> str:
    """SHA-256 (32 hex characters) of a ``state_dict``'s names and float32 values.

    The identity of a model's weights as loaded (shipped, from a checkpoint or
    freshly initialised), recorded in every output the model makes.
    """
    import hashlib

    h = hashlib.sha256()
    for key, value in sorted(state.items()):
        h.update(key.encode())
        h.update(value.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:32]


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, default=_json_default))


def _json_default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


__all__ += ["write_json", "atomic_path"]
