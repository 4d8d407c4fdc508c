"""SR models on dask workers: built there from their name, checkpoint and options.

The tiling engine ships ``fn`` to every worker. Shipping ``model.predict`` would
pickle the whole network (and a diffusion pipeline's gigabytes); :class:`RemoteModel`
instead carries what :func:`~napari_srmat.sr.registry.load_model` needs (registry
name, checkpoint path, scale, options) and the expected weights digest
(:class:`~napari_srmat.tiling._distributed.WorkerModel`). Each worker process loads the
model once and refuses weights that differ from the starting process's. Only a network
without a checkpoint (untrained, built in memory) travels with its weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..tiling._distributed import WorkerModel
from .base import SRModel, TorchSRModel

__all__ = ["RemoteModel", "WORKER_DEVICE", "build_sr_model"]

#: Device a worker builds its model on unless told otherwise: each worker's own best
#: (a GPU worker uses its GPU even when the starting machine has none).
WORKER_DEVICE = "auto"


def _own_checkpoint(path: str | None) -> str | None:
    """None for the shipped weights (each worker finds its own copy), else ``path``."""
    from .registry import WEIGHTS_ROOT

    if path is None:
        return None
    if Path(path).resolve().is_relative_to(WEIGHTS_ROOT):
        return None
    return str(Path(path).absolute())  # workers elsewhere have another working directory


def build_sr_model(name: str, scale: int, checkpoint: str | None, options: dict, device: str,
                   in_channels: int, arch: dict, state: dict | None) -> SRModel:
    """Build an SR model on a worker: from the registry, or (``state`` given) an
    in-memory network of ``name`` with these weights."""
    from .registry import _classes, _resolve_device, load_model

    if state is None:
        return load_model(name, checkpoint=checkpoint, scale=scale, device=device, **options)
    model = _classes()[name](scale=scale, device="cpu", in_channels=in_channels, **arch,
                             **options)
    model.load_state_dict(state)
    model.to(_resolve_device(device))
    model.net.eval()
    return model


class RemoteModel(WorkerModel):
    """Picklable stand-in for ``model.predict`` on dask workers.

    Parameters
    ----------
    model : SRModel
        The model loaded in the starting process (its name, scale, checkpoint,
        options and weights digest are recorded).
    device : str
        Device on the workers (default :data:`WORKER_DEVICE`).
    gain : float
        The whole image's exposure gain (:func:`napari_srmat.sr.apply.sr_exposure_gain`),
        passed with every batch (1: none).
    digest : str, optional
        ``model.weights_digest()`` as the run already computed it (the store's
        ``weights_sha256``); None: computed here.

    Notes
    -----
    A checkpoint directory (``model.checkpoint``) must be readable by the workers at the
    same path; shipped weights are found in the workers' own installation.
    """

    def __init__(self, model: SRModel, device: str = WORKER_DEVICE, gain: float = 1.0,
                 digest: str | None = None) -> None:
        options = {k: v for k, v in model.options.items()
                   if v is None or isinstance(v, (bool, int, float, str))}
        # a network without a checkpoint cannot be rebuilt elsewhere: ship its weights
        state: dict[str, Any] | None = None
        if isinstance(model, TorchSRModel) and model.checkpoint is None:
            state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        kwargs = {"name": model.name, "scale": int(model.scale),
                  "checkpoint": _own_checkpoint(model.checkpoint), "options": options,
                  "device": device, "in_channels": int(model.in_channels),
                  "arch": dict(getattr(model, "arch", {}) or {}), "state": state}
        super().__init__(build_sr_model, kwargs, "predict",
                         model.weights_digest() if digest is None else digest,
                         describe=f"{model.name} x{model.scale}",
                         call_kwargs={"gain": float(gain)} if gain != 1.0 else None)
