"""SR models on dask workers: built there from their name, checkpoint and options.

The tiling engine ships ``fn`` to every worker. Shipping ``model.predict`` would
pickle the whole network (and a diffusion pipeline's gigabytes); :class:`RemoteModel`
instead carries what :func:`~napari_srmat.sr.registry.load_model` needs (registry
name, checkpoint path, scale, options) and the expected weights digest. Each worker
process loads the model once (cached) and refuses weights that differ from the
starting process's, so every tile of an output comes from the same weights. Only a
network without a checkpoint (untrained, built in memory) travels with its weights.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

from ..checkpoint import CheckpointError
from .base import SRModel, TorchSRModel

__all__ = ["RemoteModel", "WORKER_DEVICE"]

#: Device a worker builds its model on unless told otherwise: each worker's own best
#: (a GPU worker uses its GPU even when the starting machine has none).
WORKER_DEVICE = "auto"

_CACHE: dict[str, SRModel] = {}
_LOCK = threading.Lock()


def _own_checkpoint(path: str | None) -> str | None:
    """None for the shipped weights (each worker finds its own copy), else ``path``."""
    from pathlib import Path

    from .registry import WEIGHTS_ROOT

    if path is None:
        return None
    return None if Path(path).resolve().is_relative_to(WEIGHTS_ROOT) else str(path)


class RemoteModel:
    """Picklable stand-in for ``model.predict`` on dask workers.

    Parameters
    ----------
    model : SRModel
        The model loaded in the starting process (its name, scale, checkpoint,
        options and weights digest are recorded).
    device : str
        Device on the workers (default :data:`WORKER_DEVICE`).

    Notes
    -----
    The checkpoint directory (``model.checkpoint``) must be readable by the workers at
    the same path; shipped weights are found in the workers' own installation.
    """

    def __init__(self, model: SRModel, device: str = WORKER_DEVICE) -> None:
        options = {k: v for k, v in model.options.items()
                   if v is None or isinstance(v, (bool, int, float, str))}
        self.spec = {"name": model.name, "scale": int(model.scale),
                     "checkpoint": _own_checkpoint(model.checkpoint), "options": options,
                     "device": device, "in_channels": int(model.in_channels),
                     "arch": dict(getattr(model, "arch", {}) or {})}
        self.digest = model.weights_digest()
        # a network without a checkpoint cannot be rebuilt elsewhere: ship its weights
        self.state = None
        if isinstance(model, TorchSRModel) and model.checkpoint is None:
            self.state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        self.key = json.dumps({**self.spec, "digest": self.digest}, sort_keys=True,
                              default=str)

    def load(self) -> SRModel:
        """The model in this process (built on first use, then cached)."""
        with _LOCK:
            model = _CACHE.get(self.key)
            if model is None:
                model = self._build()
                _CACHE[self.key] = model
        return model

    def _build(self) -> SRModel:
        from .registry import _classes, _resolve_device, load_model

        s = self.spec
        if self.state is not None:
            cls = _classes()[s["name"]]
            model = cls(scale=s["scale"], device="cpu", in_channels=s["in_channels"],
                        **s["arch"], **s["options"])
            model.load_state_dict(self.state)
            model.to(_resolve_device(s["device"]))
            model.net.eval()
        else:
            model = load_model(s["name"], checkpoint=s["checkpoint"], scale=s["scale"],
                               device=s["device"], **s["options"])
        digest = model.weights_digest()
        if digest != self.digest:
            raise CheckpointError(
                f"the {s['name']} weights on this worker ({s['checkpoint'] or 'shipped'}) "
                f"differ from the starting process's (sha256 {digest} != {self.digest}): "
                "install the same napari-srmat and checkpoints on every worker")
        return model

    def __call__(self, batch, *, tile_ids: Sequence[Any] | None = None):
        return self.load().predict(batch, tile_ids=tile_ids)

    def __repr__(self) -> str:
        return f"RemoteModel({self.spec['name']!r}, x{self.spec['scale']})"
