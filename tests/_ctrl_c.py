"""A Ctrl-C at a chosen moment of an output's swap into place (shared by the writer and
the tiled engine tests). No test in here."""

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
    """Python's own Ctrl-C handler during the test, whatever the suite inherited."""
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@contextlib.contextmanager
def ctrl_c_in_swap(monkeypatch, out: Path, at: str) -> Iterator[list]:
    """Press Ctrl-C (a real SIGINT) once as ``OUT.partial`` is swapped onto ``out``, at
    ``at`` (:data:`SWAP_MOMENTS`); yields the list the press is recorded in. The renames
    are real; the patch is undone at the block's end."""
    from napari_srmat import _atomic

    assert at in SWAP_MOMENTS, at
    replace, pressed = os.replace, []

    def replace_pressed(src, dst, **kwargs):
        replace(src, dst, **kwargs)
        first = _atomic.SWAPPED_OUT.match(os.path.basename(dst))
        last = os.path.basename(src) == out.name + ".partial"
        if not pressed and (first if at == "between_the_renames" else last):
            pressed.append(dst)
            signal.raise_signal(signal.SIGINT)

    with monkeypatch.context() as patch:
        patch.setattr(_atomic.os, "replace", replace_pressed)
        yield pressed
