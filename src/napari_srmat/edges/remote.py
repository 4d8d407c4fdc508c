"""The UAED boundary model on dask workers, built there from its checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..tiling._distributed import WorkerModel
from .infer import BoundaryModel, default_checkpoint_path, load_boundary_model

__all__ = ["RemoteBoundaryModel", "load_worker_boundary_model"]


class _WorkerBoundaryModel:
    """The boundary model a dask worker keeps (:func:`load_worker_boundary_model`): its
    weights named once and its inference copy (one read of the weights key), TTA mode
    and device taken for them once
    (:meth:`BoundaryModel._kept_tile_function`), so that no batch reads the weights key
    (a pass over all weights, a GPU sync on a GPU). The model is the worker's own and
    nothing changes its weights; its digest is the one the worker checks against the
    job's.

    Parameters
    ----------
    model : BoundaryModel
        The model the worker loaded.
    """

    def __init__(self, model: BoundaryModel) -> None:
        self.model = model
        self._digest = model.weights_digest()
        # the copy of the weights just named (nothing else holds them: no token to check)
        self.predict_stacked = model._kept_tile_function()

    def weights_digest(self) -> str:
        """The digest of the weights :attr:`predict_stacked` predicts with."""
        return self._digest


def load_worker_boundary_model(**kwargs: Any) -> _WorkerBoundaryModel:
    """:func:`~napari_srmat.edges.infer.load_boundary_model` for a dask worker
    (:class:`RemoteBoundaryModel`'s loader): the model with its inference copy taken
    once, for every batch of every job the worker gives it.

    Parameters
    ----------
    **kwargs
        :func:`~napari_srmat.edges.infer.load_boundary_model`'s arguments.

    Returns
    -------
    _WorkerBoundaryModel
        With ``weights_digest()`` and ``predict_stacked(batch, input_stats, gain)``.
    """
    return _WorkerBoundaryModel(load_boundary_model(**kwargs))


class RemoteBoundaryModel(WorkerModel):
    """Picklable stand-in for ``model.predict_stacked`` on dask workers.

    Each worker loads the checkpoint (the shipped default from its own installation,
    any other at the same path) once, with the same TTA mode, refuses weights that
    differ from the starting process's, and takes its inference copy once for all the
    batches it predicts (:func:`load_worker_boundary_model`).

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
        super().__init__(load_worker_boundary_model,
                         {"checkpoint": path, "device": device, "tta": model.tta},
                         "predict_stacked",
                         model.weights_digest() if digest is None else digest,
                         describe="UAED",
                         call_kwargs={"input_stats": input_stats, "gain": float(gain)})
