"""A notebook's ``close()`` of an SR training job at any of its events leaves a run that
resumes: no event is sent while ``best/`` has no ``train_state/`` beside it."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import test_sr_train  # noqa: E402

from napari_srmat.jobs import Checkpoint, run_job  # noqa: E402
from napari_srmat.sr.train import train_sr_job  # noqa: E402

_cfg = test_sr_train._cfg
image_dir = test_sr_train.image_dir  # the fixture


def _closed_at_first_checkpoint(cfg: dict) -> Checkpoint:
    """Iterate the job of ``cfg`` to its first Checkpoint, check ``train_state`` is
    written beside it, close the job there; the Checkpoint."""
    job = train_sr_job(cfg)
    try:
        for ev in job:
            if isinstance(ev, Checkpoint):
                return ev
    finally:
        job.close()
    raise AssertionError("no Checkpoint event")


def test_a_close_at_the_first_best_checkpoint_leaves_a_run_that_resumes(tmp_path, image_dir):
    out = tmp_path / "run"
    cfg = _cfg(tmp_path, image_dir, steps=6, val=str(image_dir), val_every=3, max_val_images=2)
    first = _closed_at_first_checkpoint(cfg)
    assert first.path == str(out / "best") and first.step == 3
    # until 2026-12-07 best/ alone: the resume refused ('its state is missing')
    assert (out / "train_state").is_dir() and (out / "last").is_dir()
    res = run_job(train_sr_job(dict(cfg, resume=True)), quiet=True)
    assert res["step"] == 6 and res["best_psnr"] is not None


def test_a_fine_tunes_baseline_best_is_sent_with_its_state(tmp_path, image_dir):
    base = run_job(train_sr_job(_cfg(tmp_path, image_dir, steps=2)), quiet=True)
    out = tmp_path / "ft"
    cfg = _cfg(
        tmp_path,
        image_dir,
        out=str(out),
        steps=6,
        lr=1e-9,
        warmup=0,
        init_checkpoint=base["last"],
        val=str(image_dir),
        val_every=3,
        max_val_images=2,
    )
    first = _closed_at_first_checkpoint(cfg)
    assert first.path == str(out / "best")
    # until 2026-12-07 the starting point's best/ was written and sent at step 1 alone
    assert (out / "train_state").is_dir()
    res = run_job(train_sr_job(dict(cfg, resume=True)), quiet=True)
    assert res["step"] == 6
