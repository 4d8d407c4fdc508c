"""A dask worker's boundary model takes its inference copy once, when the worker builds
it (:class:`~napari_srmat.edges.remote.RemoteBoundaryModel`), and predicts every batch
of every job with it: no batch reads the weights key
(:func:`~napari_srmat.checkpoint._weights_key`, a pass over all weights, a GPU sync on
a GPU). The worker's model is its own and its digest is checked against the job's, so
its weights cannot change under it.

Before: each batch called the worker model's ``predict_stacked``, which read the key.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
torch = pytest.importorskip("torch")

from napari_srmat import checkpoint  # noqa: E402
from napari_srmat.tiling import _distributed as dist  # noqa: E402

#: 192 px image, 64 px tiles, one tile a batch: 36 batches a job
IMAGE_SIDE, TILE, OVERLAP = 192, 64, 16


@pytest.fixture()
def client(monkeypatch, request):
    """One worker in this process (its calls can be counted here), with no model kept
    from other tests: single-thread, or with the threads an indirect parameter gives
    (they share its kept models)."""
    monkeypatch.setattr(dist, "_WORKER_MODELS", {})
    monkeypatch.setattr(dist, "_WORKER_MODELS_BUILDING", {})
    threads = getattr(request, "param", 1)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=threads, processes=False,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as c:
        yield c


def _counting(monkeypatch, module, name: str) -> list:
    """Replace ``module.name`` by a wrapper that counts the calls made off the main
    thread (the worker's: the starting process runs its job in the main thread)."""
    real, calls = getattr(module, name), []

    def counted(*args, **kwargs):
        if threading.current_thread() is not threading.main_thread():
            calls.append(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


@pytest.mark.slow
def test_a_worker_reads_the_weights_key_once_per_model_not_per_batch(client, monkeypatch):
    """Two jobs of 36 batches each on one worker: the key is read once, when the worker
    builds the model, and both maps equal the local run's bit for bit. Failed before:
    the key was read 72 times (once per batch)."""
    from napari_srmat.edges.infer import BoundaryModel, load_boundary_model, predict_boundaries

    image = np.random.default_rng(0).random((IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)
    model = load_boundary_model(device="cpu", tta="none")
    local = predict_boundaries(image, model, tile=TILE, overlap=OVERLAP, batch_size=1)
    keys = _counting(monkeypatch, checkpoint, "_weights_key")
    batches = _counting(monkeypatch, BoundaryModel, "_predict_with")
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # as the local run's threads above (one-thread CI)
    try:
        for _ in range(2):  # the second job gets the model the worker kept
            got = predict_boundaries(image, model, tile=TILE, overlap=OVERLAP, batch_size=1,
                                     scheduler=client, worker_device="cpu")
            for a, b in zip(got, local, strict=True):
                np.testing.assert_array_equal(a, b)
    finally:
        torch.set_num_threads(n)
    assert len(batches) > 2  # every batch predicted on the worker (72)
    assert len(keys) == 1, f"{len(keys)} key reads for {len(batches)} batches"


def test_the_worker_model_predicts_with_the_weights_its_digest_names():
    """The model a worker keeps names its weights once, as it takes its copy: its digest
    (what the worker checks against the job's) is of the weights it predicts with, and
    its batches equal the model's own ``predict_stacked``."""
    from napari_srmat.edges.infer import load_boundary_model
    from napari_srmat.edges.remote import load_worker_boundary_model

    worker = load_worker_boundary_model(device="cpu", tta="d4")
    model = load_boundary_model(device="cpu", tta="d4")
    assert worker.weights_digest() == model.weights_digest()
    batch = np.random.default_rng(1).random((2, 3, 64, 64), dtype=np.float32)
    stats = model.input_stats(batch[0].transpose(1, 2, 0))
    np.testing.assert_array_equal(worker.predict_stacked(batch, input_stats=stats, gain=1.5),
                                  model.predict_stacked(batch, input_stats=stats, gain=1.5))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:grains look")  # a random image: no grain size
@pytest.mark.parametrize("client", [2], indirect=True)  # two threads
def test_jobs_of_other_tta_modes_on_one_worker_each_predict_with_their_own(client):
    """A worker keeps one model per TTA mode and device (its copy, mode and device taken
    once when built): jobs alternating ``none`` and ``d4`` on one worker, also at once
    from two threads sharing its kept models, each equal the local run of their own mode
    bit for bit (a worker model kept across modes would give one mode's maps to both)."""
    from napari_srmat.edges.infer import load_boundary_model, predict_boundaries

    side = 2 * TILE
    image = np.random.default_rng(2).random((side, side), dtype=np.float32)
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # the local and the worker runs alike (one-thread CI)
    try:
        models = {tta: load_boundary_model(device="cpu", tta=tta) for tta in ("none", "d4")}
        local = {tta: predict_boundaries(image, m, tile=TILE, overlap=OVERLAP, batch_size=1)
                 for tta, m in models.items()}
        assert not np.array_equal(local["none"][0], local["d4"][0])

        def on_worker(tta):
            return predict_boundaries(image, models[tta], tile=TILE, overlap=OVERLAP,
                                      batch_size=1, scheduler=client,
                                      worker_device="cpu")

        got = [("none", on_worker("none")), ("d4", on_worker("d4"))]
        both = {}
        threads = [threading.Thread(target=lambda t=tta: both.__setitem__(t, on_worker(t)))
                   for tta in ("d4", "none")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        got += list(both.items())
    finally:
        torch.set_num_threads(n)
    assert len(got) == 4
    for tta, maps in got:
        for a, b in zip(maps, local[tta], strict=True):
            np.testing.assert_array_equal(a, b, err_msg=tta)
    assert len(dist._WORKER_MODELS) == 2  # one per mode, kept
