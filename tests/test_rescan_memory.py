"""Scan-enhance-rescan planner: its memory check holds for what the planner uses."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

pytest.importorskip("torch")

from napari_srmat import estimates  # noqa: E402
from napari_srmat.jobs import Progress, run_job  # noqa: E402
from napari_srmat.sr import SRError, load_model  # noqa: E402
from napari_srmat.sr.rescan import check_plan_inputs, plan_rescan, plan_rescan_job  # noqa: E402


def _smallest_memory_accepted(lr, scale: int, monkeypatch) -> int:
    """The least available memory (bytes) with which the planner's check accepts ``lr``."""
    lo, hi = 1, 2**40  # refused at lo, accepted at hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        monkeypatch.setattr(estimates, "available_memory_bytes", lambda m=mid: m)
        try:
            check_plan_inputs(lr, 0.5, 1.0, 16, scale)
        except SRError:
            lo = mid
        else:
            hi = mid
    monkeypatch.setattr(estimates, "available_memory_bytes", lambda: hi)
    return hi


@pytest.mark.parametrize("channels", [None, 3])
def test_what_the_memory_check_accepts_fits_in_that_memory(channels, monkeypatch):
    """The planner was refused only when one SR result needed more than half the memory,
    but it held up to 7 of them at once (a grey LR; 4.3 for RGB): the four flipped SR
    runs, their luminances and the running statistics. An LR the check accepted then
    needed up to 3.5 x the memory available. With the least memory the check accepts,
    the plan now runs within it (numpy's allocations, traced)."""
    shape = (160, 160) if channels is None else (160, 160, channels)
    lr = (np.random.default_rng(0).random(shape) * 255).astype(np.uint8)
    model = load_model("bicubic", scale=4, device="cpu")
    available = _smallest_memory_accepted(lr, 4, monkeypatch)
    tracemalloc.start()
    try:
        plan_rescan(lr, model, budget=0.5, roi_px=16, tile=96, overlap=8)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= available


def test_without_a_scale_memory_is_checked_at_the_models_scale(monkeypatch):
    """Without a scale the memory was checked at x2 only, and the default model runs at
    x4 (4 x the memory): an LR that did not fit was planned all the same. It is now
    refused at the model's scale, before the first SR run."""
    lr = (np.random.default_rng(0).random((96, 96)) * 255).astype(np.uint8)
    _smallest_memory_accepted(lr, 2, monkeypatch)  # enough at x2, not at x4
    events = []
    with pytest.raises(SRError, match=r"^plan_rescan needs .*plan a region of it"):
        run_job(plan_rescan_job(lr, "bicubic", roi_px=16), quiet=True,
                on_event=events.append)
    assert not any(isinstance(e, Progress) for e in events)
    # with the model's scale given, the same
    with pytest.raises(SRError, match="plan_rescan needs"):
        plan_rescan(lr, "bicubic", scale=4, roi_px=16)


def test_the_cli_names_the_file_refused_at_the_models_scale(tmp_path, monkeypatch, capsys):
    """`srmat plan-rescan LR` without --scale: the repeat check at the model's scale said
    "error: plan_rescan needs ..." without the file the first check names."""
    from PIL import Image

    from napari_srmat.cli import main

    lr = (np.random.default_rng(0).random((96, 96)) * 255).astype(np.uint8)
    path = tmp_path / "lr.png"
    Image.fromarray(lr).save(path)
    _smallest_memory_accepted(lr, 2, monkeypatch)  # enough at x2, not at x4
    assert main(["plan-rescan", str(path), "--model", "bicubic", "--roi-size-px", "16"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{path}: plan_rescan needs" in err[0], err
