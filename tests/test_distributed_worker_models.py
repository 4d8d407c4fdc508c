"""The models a process keeps for :class:`~napari_srmat.tiling._distributed.WorkerModel`
(a dask worker's, built there from a loader and its settings): at most
:data:`~napari_srmat.tiling._distributed.WORKER_MODELS_KEPT`, least recently used
dropped, each checked against the starting process's weights digest."""

from __future__ import annotations

import hashlib
import threading

import numpy as np
import pytest

import napari_srmat.tiling._distributed as dist
from napari_srmat.checkpoint import CheckpointError

LOADED: list[int] = []


class TinyModel:
    """A model of a few weights, ``seed``'s."""

    def __init__(self, seed: int) -> None:
        self.weights = np.random.default_rng(seed).random(4)

    def weights_digest(self) -> str:
        return hashlib.sha256(self.weights.tobytes()).hexdigest()[:32]

    def predict(self, batch):
        return batch * self.weights.sum()


def tiny_loader(seed: int, shift: int = 0) -> TinyModel:
    """The worker's loader: ``seed``'s model, ``shift`` a worker's other weights."""
    LOADED.append(seed)
    return TinyModel(seed + shift)


def _worker(seed: int) -> dist.WorkerModel:
    return dist.WorkerModel(tiny_loader, {"seed": seed}, "predict",
                            TinyModel(seed).weights_digest(), describe="tiny")


@pytest.fixture(autouse=True)
def _no_models_kept(monkeypatch):
    monkeypatch.setattr(dist, "_WORKER_MODELS", {})
    LOADED.clear()


def test_a_worker_keeps_the_most_recently_used_models_only():
    """Five checkpoints through one worker: four kept, the least recently used dropped.
    Failed before: all five kept (a long-lived cluster's workers kept every one)."""
    kept = dist.WORKER_MODELS_KEPT
    assert kept == 4
    workers = [_worker(seed) for seed in range(kept + 1)]
    for worker in workers[:kept]:
        worker.load()
    first = workers[0].load()  # re-used: the most recently used now
    assert LOADED == list(range(kept))
    workers[kept].load()  # one more: the least recently used (seed 1) goes
    assert len(dist._WORKER_MODELS) == kept
    assert workers[1].key not in dist._WORKER_MODELS
    assert workers[0].key in dist._WORKER_MODELS
    assert workers[0].load() is first and LOADED == [*range(kept + 1)]
    workers[1].load()  # built again
    assert LOADED == [*range(kept + 1), 1]
    assert len(dist._WORKER_MODELS) == kept


def test_a_worker_whose_weights_differ_is_refused_and_keeps_nothing():
    worker = dist.WorkerModel(tiny_loader, {"seed": 0, "shift": 1}, "predict",
                              TinyModel(0).weights_digest(), describe="tiny")
    with pytest.raises(CheckpointError, match="tiny weights on this worker differ"):
        worker(np.ones(2))
    assert dist._WORKER_MODELS == {}


def test_threads_of_a_worker_keep_the_bound():
    """A dask worker's threads load models at once: still at most the bound, each
    model built once while it is kept."""
    workers = [_worker(seed) for seed in range(dist.WORKER_MODELS_KEPT + 2)]
    errors = []

    def run(order):
        try:
            for worker in order:
                np.testing.assert_allclose(worker(np.ones(2)),
                                           TinyModel(worker.kwargs["seed"]).predict(np.ones(2)))
        except Exception as exc:  # noqa: BLE001 - told by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(workers[::1 - 2 * (i % 2)],))
               for i in range(4)]  # forwards and backwards
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(dist._WORKER_MODELS) <= dist.WORKER_MODELS_KEPT
