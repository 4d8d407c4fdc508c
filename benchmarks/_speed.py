"""Shared helpers of the speed benchmarks (issue 15): test images, timers, CLI runs.

Not a benchmark itself. The scripts import it as ``_speed`` (run them from the
repository root: ``python benchmarks/bench_....py``).
"""

from __future__ import annotations

import os
import resource
import shutil
import time
from pathlib import Path

import numpy as np


def micrograph(size: int, seed: int = 0) -> np.ndarray:
    """Synthetic RGB uint8 micrograph ``(size, size, 3)`` (grains + noise, compresses
    like a real one, unlike white noise)."""
    from napari_srmat.synth import generate_microstructure

    ms = generate_microstructure((size, size), mean_grain_size_px=40.0, seed=seed)
    img = np.asarray(ms.image)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    if img.dtype != np.uint8:
        img = np.clip(np.rint(np.asarray(img, np.float64) * 255), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img[..., :3])


def write_tiff(img: np.ndarray, path: Path) -> Path:
    import tifffile

    tifffile.imwrite(str(path), img)
    return path


class Timer:
    """Wall and process-CPU seconds (user + system, all threads) of a block."""

    def __enter__(self) -> Timer:
        self.ru0 = resource.getrusage(resource.RUSAGE_SELF)
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.t0
        ru = resource.getrusage(resource.RUSAGE_SELF)
        self.user = ru.ru_utime - self.ru0.ru_utime
        self.sys = ru.ru_stime - self.ru0.ru_stime
        self.cpu = self.user + self.sys


def srmat(*argv: str) -> None:
    """Run the ``srmat`` CLI in this process (start-up and imports paid once, by a warm-up)."""
    from napari_srmat.cli import main

    rc = main([str(a) for a in argv])
    if rc != 0:
        raise SystemExit(f"srmat {' '.join(map(str, argv))} exited {rc}")


def fresh(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    return path


def machine() -> dict:
    import torch

    return {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "load_avg_1min": round(os.getloadavg()[0], 2)}
