"""A Ctrl-C at a chosen moment of an output's swap into place or of the deletion of the
earlier output it replaced, or its second rename failing (shared by the writer,
atomic_directory and tiled engine tests). No test in here."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

#: The moments of :func:`napari_srmat._atomic.swap_into_place` a press comes at: after
#: its first rename (``OUT`` renamed aside: replacing an earlier output) or its last.
SWAP_MOMENTS = ("between_the_renames", "after_the_swap")


@pytest.fixture
def python_ctrl_c():
    """Python's own Ctrl-C handler during the test, whatever the suite inherited: a suite
    started in the background (``nohup``, ``cmd &`` in a script) runs with SIGINT
    ignored, and its children inherit the ignore."""
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@contextlib.contextmanager
def ctrl_c_in_swap(monkeypatch, out: Path, at: str) -> Iterator[list]:
    """Press Ctrl-C (a real SIGINT) once as a staging folder (``OUT.partial``, or the
    ``.OUT.<8 hex>.partial`` of :func:`napari_srmat._atomic.atomic_directory`) is swapped
    onto ``out``, at ``at`` (:data:`SWAP_MOMENTS`); yields the list the press is recorded
    in. The renames are real; the patch is undone at the block's end."""
    from napari_srmat import _atomic

    assert at in SWAP_MOMENTS, at
    replace, pressed = os.replace, []

    def replace_pressed(src, dst, **kwargs):
        replace(src, dst, **kwargs)
        aside = _atomic.SWAPPED_OUT.match(os.path.basename(dst))
        here = os.path.dirname(os.path.abspath(dst)) == os.path.dirname(os.path.abspath(out))
        first = here and aside is not None and aside["of"] == out.name
        # the staging (not an earlier OUT put back) onto OUT
        last = _onto(out, src, dst)
        if not pressed and (first if at == "between_the_renames" else last):
            pressed.append(dst)
            signal.raise_signal(signal.SIGINT)

    with monkeypatch.context() as patch:
        patch.setattr(_atomic.os, "replace", replace_pressed)
        yield pressed


def _onto(out: Path, src, dst) -> bool:
    """Whether the rename ``src -> dst`` is a staging folder's onto ``out`` (not an
    earlier ``out`` put back)."""
    from napari_srmat import _atomic

    return (os.path.abspath(dst) == os.path.abspath(out)
            and not _atomic.SWAPPED_OUT.match(os.path.basename(src)))


@contextlib.contextmanager
def second_rename_fails(monkeypatch, out: Path) -> Iterator[None]:
    """Make the swap's rename of its staging folder onto ``out`` raise OSError ('the disk
    went away'), after the earlier ``out`` was renamed aside; other renames are real. The
    block must raise that error; the patch is undone at its end."""
    from napari_srmat import _atomic

    replace = os.replace

    def failing(src, dst, **kwargs):
        if _onto(out, src, dst):
            raise OSError("the disk went away")
        replace(src, dst, **kwargs)

    with monkeypatch.context() as patch, pytest.raises(OSError, match="went away"):
        patch.setattr(_atomic.os, "replace", failing)
        yield


@contextlib.contextmanager
def ctrl_c_in_deletion(monkeypatch) -> Iterator[list]:
    """Press Ctrl-C (a real SIGINT) as the deletion of the earlier folder a swap put aside
    begins (a large SR store takes minutes), and record in the yielded list whether the
    KeyboardInterrupt came before the deletion finished (``["began"]``) or only after it
    (``["began", "deleted"]``: the press was held). The deletion itself is real; the
    patch is undone at the block's end."""
    from napari_srmat import _atomic
    from napari_srmat.io import _write

    delete, steps = _atomic.remove_tree_marker_last, []

    def pressed(path, last=()):
        steps.append("began")
        signal.raise_signal(signal.SIGINT)
        delete(path, last)
        steps.append("deleted")

    with monkeypatch.context() as patch:
        patch.setattr(_atomic, "remove_tree_marker_last", pressed)
        # the writer's own name for it (none before it deleted outside the swap)
        patch.setattr(_write, "remove_tree_marker_last", pressed, raising=False)
        yield steps


@contextlib.contextmanager
def ctrl_c_after_unlinks(monkeypatch, files: int) -> Iterator[list]:
    """Press Ctrl-C (a real SIGINT) once :mod:`napari_srmat._atomic` has deleted ``files``
    files (the deletion of the earlier folder a swap put aside, stopped part-way); yields
    the list of the names deleted, in order. A file that is not there is not counted
    (its unlink raises as it would). The deletions are real; the patch is undone at the
    block's end."""
    from napari_srmat import _atomic

    unlink, unlinked = os.unlink, []

    def pressed(path, *args, **kwargs):
        unlink(path, *args, **kwargs)
        unlinked.append(os.path.basename(path))
        if len(unlinked) == files:
            signal.raise_signal(signal.SIGINT)

    with monkeypatch.context() as patch:
        patch.setattr(_atomic.os, "unlink", pressed)
        yield unlinked
