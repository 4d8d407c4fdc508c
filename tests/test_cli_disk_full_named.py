"""A disk full while a checkpoint is written names the checkpoint (s51 E13, X1 #8)."""

from __future__ import annotations

import errno

import pytest

from napari_srmat import checkpoint
from napari_srmat.errors import error_message


def _full(path, *args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")  # a write's: no file named


def _full_in_staging(path, *args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device", str(path))


@pytest.mark.parametrize("fails", [_full, _full_in_staging])
def test_a_disk_full_while_a_checkpoint_is_written_names_it(tmp_path, monkeypatch, fails):
    """`srmat sr train` said 'error: no space left on device (disk full: ...)'; docs say
    'RUN/last: no space left on device'. A staging file's name is not the user's either."""
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(checkpoint, "write_safetensors", fails)
    last = tmp_path / "run" / "last"
    last.parent.mkdir()
    with pytest.raises(OSError) as caught:
        checkpoint.save_checkpoint(last, {"w": torch.zeros(2)}, {"model": "cnn"})
    assert error_message(caught.value).startswith(f"{last}: no space left on device (disk")


def test_a_disk_full_of_a_nested_checkpoint_names_the_outer_one(tmp_path, monkeypatch):
    """edges train writes RUN/last's checkpoint into its staging folder's ckpt/."""
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(checkpoint, "write_safetensors", _full)
    last = tmp_path / "last"
    with pytest.raises(OSError) as caught, checkpoint.checkpoint_directory(last) as tmp:
        checkpoint.save_checkpoint(tmp / "ckpt", {"w": torch.zeros(2)}, {"model": "cnn"})
    assert caught.value.filename == str(last)


def test_a_disk_full_of_an_atomic_file_write_names_the_file(tmp_path, monkeypatch):
    """history.json, a figure, a JSON record: the temporary file's write named nothing."""
    import os

    from napari_srmat import _atomic

    def full_fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_fsync)
    with pytest.raises(OSError) as caught:
        _atomic.atomic_write_text(tmp_path / "history.json", "{}")
    assert caught.value.filename == str(tmp_path / "history.json")
    with pytest.raises(OSError) as caught, _atomic.atomic_path(tmp_path / "a.png") as tmp:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
    assert caught.value.filename == str(tmp_path / "a.png")


def test_an_os_error_without_an_errno_keeps_its_text():
    """d1ce842b named the output on any OSError: ``OSError("disk full")`` (no errno) then
    read "[Errno None] None: 'run/last'" (tests/test_edges_pretrain.py's failing write,
    found by the fresh-clone run). Such an error is left as it was."""
    import pytest

    from napari_srmat.errors import os_errors_named

    with pytest.raises(OSError, match="^disk full$"):
        with os_errors_named("run/last"):
            raise OSError("disk full")
