"""The UAED boundary model on dask workers, built there from its checkpoint."""

from __future__ import annotations

from pathlib import Path

from ..tiling._distributed import WorkerModel
from .infer import BoundaryModel, default_checkpoint_path, load_boundary_model

__all__ = ["RemoteBoundaryModel"]


class RemoteBoundaryModel(WorkerModel):
    """Picklable stand-in for ``model.predict_stacked`` on dask workers.

    Each worker loads the checkpoint (the shipped default from its own installation,
    any other at the same path) once, with the same TTA mode, and refuses weights that
    differ from the starting process's.

    Parameters
    ----------
    model : BoundaryModel
        The model loaded in the starting process.
    device : str
        Device on the workers (default ``"auto"``: each worker's best).
    input_stats : tuple of ndarray, optional
        The whole image's channel statistics for a model with an input normalisation
        (:meth:`BoundaryModel.input_stats`), passed with every batch.
    gain : float
        The whole image's exposure gain (:meth:`BoundaryModel.exposure_gain`), passed
        with every batch.
    digest : str, optional
        The weights digest the job's output is named by (taken at its start), which the
        workers' weights must have; None: ``model.weights_digest()`` now.
    """

    def __init__(self, model: BoundaryModel, device: str = "auto", input_stats=None,
                 gain: float = 1.0, digest: str | None = None) -> None:
        path = model.path
        if path is not None and Path(path).resolve() == default_checkpoint_path().resolve():
            path = None
        super().__init__(load_boundary_model, {"checkpoint": path, "device": device,
                                               "tta": model.tta},
                         "predict_stacked",
                         model.weights_digest() if digest is None else digest,
                         describe="UAED",
                         call_kwargs={"input_stats": input_stats, "gain": float(gain)})
