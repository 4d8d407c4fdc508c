"""`srmat grain-size --scheduler`: the images are read on the workers, never by the client."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from PIL import Image

import napari_srmat.io as srmat_io
from napari_srmat.cli import main
from napari_srmat.synth import generate_microstructure


@pytest.mark.slow
@pytest.mark.parametrize("method", [[], ["--method", "intercept"]])
def test_scheduler_run_reads_the_images_on_the_workers_only(tmp_path, capsys, monkeypatch,
                                                            method):
    """Guard (s43/s44 note "per-image digest on workers"): checked at 6cf8b3fa, the
    client computes no per-image digest and reads no pixel: it only stats each path
    (the given-twice rule, `outputs.file_identity`); each image is opened and read in
    its task. A client that read (or hashed) every image would hold the whole set's
    pixels in one process. Results are those of the local run."""
    distributed = pytest.importorskip("distributed")
    paths = []
    for seed in (1, 2):
        ms = generate_microstructure((96, 96), mean_grain_size_px=16, seed=seed)
        paths.append(str(tmp_path / f"m{seed}.png"))
        Image.fromarray(ms.boundaries.astype(np.uint8) * 255).save(paths[-1])
    argv = ["grain-size", *paths, "--mask", "--pixel-size-um", "0.5", "--json", *method]
    assert main(argv) == 0
    local = json.loads(capsys.readouterr().out)
    client_thread, readers = threading.get_ident(), []
    for name in ("open_mask_file", "read_image", "read_window", "read_array"):
        real = getattr(srmat_io, name)
        monkeypatch.setattr(srmat_io, name, lambda *a, _r=real, **k: readers.append(
            threading.get_ident()) or _r(*a, **k))
    # in-process workers (threads of this process: a read there is not the client's);
    # their tasks' dask reads need a client of this process, as a worker process has one
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=2,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        assert main([*argv, "--scheduler", cluster.scheduler_address]) == 0
    assert json.loads(capsys.readouterr().out) == local
    assert readers and client_thread not in readers
