"""A path in a refusal reads as the path the user gave, never as ``PosixPath('...')``."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from napari_srmat.checkpoint import save_checkpoint  # noqa: E402
from napari_srmat.edges import train_boundaries_job  # noqa: E402
from napari_srmat.edges.model import build_uaed, default_arch_config  # noqa: E402
from napari_srmat.jobs import run_job  # noqa: E402


def test_a_mismatched_init_checkpoint_given_as_a_path_is_named_by_its_text(tmp_path):
    """An encoder-tiny checkpoint handed over as a ``Path`` to a small-encoder run: the
    refusal showed ``PosixPath('/.../uaed_tiny')``; it names the path's text now."""
    cfg = default_arch_config("tiny")
    ckpt = tmp_path / "uaed_tiny"
    save_checkpoint(ckpt, build_uaed(cfg).state_dict(), cfg)
    run = dict(data_root=str(tmp_path / "no_such_data"), out=str(tmp_path / "run"),
               encoder="small", init_checkpoint=Path(ckpt), device="cpu")  # fmt: skip
    with pytest.raises(ValueError) as info:
        run_job(train_boundaries_job(run), quiet=True)
    assert str(info.value).startswith(
        f"init_checkpoint {str(ckpt)!r} has encoder 'tiny', the run uses encoder 'small'"
    )
    assert "PosixPath" not in info.value.cli_message
