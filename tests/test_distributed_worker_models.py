"""The models a process keeps for :class:`~napari_srmat.tiling._distributed.WorkerModel`
(a dask worker's, built there from a loader and its settings): at most
:data:`~napari_srmat.tiling._distributed.WORKER_MODELS_KEPT`, least recently used
dropped, each checked against the starting process's weights digest."""

from __future__ import annotations

import hashlib
import threading
import time

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


#: How long a thread of these tests waits for another (s); never reached when all goes well.
WAIT_S = 10.0
#: Set by :func:`slow_loader` as its build begins; it builds once :data:`GO` is set.
BUILDING, GO = threading.Event(), threading.Event()
#: The threads a test started (:func:`_in_thread`), joined at its end.
STARTED: list[threading.Thread] = []


def slow_loader(seed: int, shift: int = 0) -> TinyModel:
    """:func:`tiny_loader` whose build waits for :data:`GO` (a checkpoint read from a
    slow disk), saying that it began (:data:`BUILDING`)."""
    BUILDING.set()
    assert GO.wait(WAIT_S)
    return tiny_loader(seed, shift)


def _slow_worker(seed: int, shift: int = 0) -> dist.WorkerModel:
    return dist.WorkerModel(slow_loader, {"seed": seed, "shift": shift}, "predict",
                            TinyModel(seed).weights_digest(), describe="tiny")


@pytest.fixture(autouse=True)
def _no_models_kept(monkeypatch):
    monkeypatch.setattr(dist, "_WORKER_MODELS", {})
    monkeypatch.setattr(dist, "_WORKER_MODELS_BUILDING", {}, raising=False)
    LOADED.clear()
    BUILDING.clear()
    GO.clear()
    yield
    GO.set()  # a failed test's threads end before the next test
    while STARTED:
        STARTED.pop().join(WAIT_S)


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


def _in_thread(call) -> tuple[threading.Thread, list]:
    """``call()`` started in a thread; its outcome (value or exception) in the list."""
    got: list = []

    def run() -> None:
        try:
            got.append(call())
        except Exception as exc:  # noqa: BLE001 - read by the test
            got.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    STARTED.append(thread)
    thread.start()
    return thread, got


def test_a_slow_build_does_not_block_a_kept_model():
    """A worker's thread building a model (more than WORKER_MODELS_KEPT in rotation: a
    batch's model rebuilt) held the one lock of the kept models for the whole build:
    the worker's other threads, whose model was kept, waited for it. Failed before: the
    kept model's batch was still waiting after 2 s."""
    kept = _worker(1)
    first = kept.load()
    building, built = _in_thread(_slow_worker(2).load)
    assert BUILDING.wait(WAIT_S)
    other, got = _in_thread(kept.load)
    other.join(2.0)
    assert not other.is_alive() and got == [first]
    GO.set()
    building.join(WAIT_S)
    assert isinstance(built[0], TinyModel) and LOADED == [1, 2]
    assert len(dist._WORKER_MODELS) == 2 and dist._WORKER_MODELS_BUILDING == {}


def test_threads_wanting_one_new_model_build_it_once():
    """Tasks of one new model on a worker's threads at once: one builds it (outside
    the lock), the others wait for it and get the same model."""
    worker = _slow_worker(3)
    first, got = _in_thread(worker.load)
    assert BUILDING.wait(WAIT_S)
    others = [_in_thread(worker.load) for _ in range(3)]
    time.sleep(0.2)  # the others wait for the build meanwhile
    GO.set()
    for thread, _ in [(first, got), *others]:
        thread.join(WAIT_S)
    models = got + [model for _, outcome in others for model in outcome]
    assert len(models) == 4 and all(model is got[0] for model in models)
    assert LOADED == [3]
    assert list(dist._WORKER_MODELS) == [worker.key]


def test_threads_waiting_for_a_refused_build_are_refused_and_keep_nothing():
    """A build refused (other weights on the worker) is the waiting threads' error too,
    nothing is kept, and a later task tries again."""
    worker = _slow_worker(0, shift=1)
    first, got = _in_thread(worker.load)
    assert BUILDING.wait(WAIT_S)
    waiting, waited = _in_thread(worker.load)
    time.sleep(0.2)
    GO.set()
    for thread in (first, waiting):
        thread.join(WAIT_S)
    for outcome in (got, waited):
        assert len(outcome) == 1 and isinstance(outcome[0], CheckpointError), outcome
    assert dist._WORKER_MODELS == {} and dist._WORKER_MODELS_BUILDING == {}
    with pytest.raises(CheckpointError):
        worker.load()
    assert len(LOADED) in (2, 3)  # the waiting thread may have come after the refusal


def test_threads_waiting_for_a_refused_build_raise_their_own_error():
    """The build's error object was raised by every waiting thread: each raise added
    that thread's frames to the one traceback (a task's error showed other tasks'
    frames). Failed before: the waiter's error was the builder's. Each waiter raises a
    copy now, whose cause is the build's error."""
    worker = _slow_worker(0, shift=1)
    first, got = _in_thread(worker.load)
    assert BUILDING.wait(WAIT_S)
    waiting = [_in_thread(worker.load) for _ in range(2)]
    time.sleep(0.2)
    GO.set()
    for thread in (first, *(thread for thread, _ in waiting)):
        thread.join(WAIT_S)
    built_error = got[0]
    assert isinstance(built_error, CheckpointError)
    for _, outcome in waiting:
        (error,) = outcome
        assert isinstance(error, CheckpointError) and str(error) == str(built_error)
        if len(LOADED) == 1:  # it waited for the build (not one after the refusal)
            assert error is not built_error and error.__cause__ is built_error


def test_a_build_interrupted_as_its_model_is_kept_still_answers_the_waiters(monkeypatch):
    """A KeyboardInterrupt while the built model was being kept (waiting for the lock)
    left the build's waiters waiting for good. Failed before: the waiting thread was
    still waiting after 2 s. They get the built model now."""
    keep = dist.WorkerModel._built
    interrupted: list[bool] = []

    def interrupted_once(self, building, model=None):
        if not interrupted:
            interrupted.append(True)
            raise KeyboardInterrupt
        keep(self, building, model)

    monkeypatch.setattr(dist.WorkerModel, "_built", interrupted_once)
    worker = _slow_worker(4)
    outcome: list = []

    def build() -> None:
        try:
            worker.load()
        except KeyboardInterrupt as exc:
            outcome.append(exc)

    builder = threading.Thread(target=build, daemon=True)
    STARTED.append(builder)
    builder.start()
    assert BUILDING.wait(WAIT_S)
    waiting, got = _in_thread(worker.load)
    time.sleep(0.2)
    GO.set()
    builder.join(WAIT_S)
    waiting.join(2.0)
    assert len(outcome) == 1 and not waiting.is_alive()
    assert len(got) == 1 and isinstance(got[0], TinyModel)
    GO.set()
    kept = worker.load()  # the interrupted build's model was not kept: built again, kept
    assert dist._WORKER_MODELS == {worker.key: kept} and dist._WORKER_MODELS_BUILDING == {}
