"""Page size of short-lived large numpy buffers (the output store's encode buffers).

numpy asks the kernel for transparent huge pages (``madvise(MADV_HUGEPAGE)``) for every
array of 4 MB or more. For buffers that are written once and dropped (a Zarr chunk being
filled and compressed, a pyramid level being averaged) that buys nothing, and the first
touch of fresh huge pages can be expensive: on the project's 2-core VM, 0.87 s of system
time for 189 MB against 0.06-0.08 s with 4 KiB pages (``benchmarks/probe_system_time.py``),
and writing one 47 MB level-0 chunk took 1.07-1.39 s of system time with huge pages and
0.15-0.31 s without (benchmarks/README.md, "Speed (issue 15)"). Pixels are unaffected.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["small_pages"]


def _setter():
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # numpy < 2 or a future rename: leave numpy's default
        try:
            from numpy.core.multiarray import _set_madvise_hugepage
        except ImportError:
            return None
    return _set_madvise_hugepage


@contextlib.contextmanager
def small_pages() -> Iterator[None]:
    """numpy arrays allocated inside the block use ordinary pages (no huge-page advice).

    Process-wide while the block runs (numpy has one switch), restored afterwards; only
    the page-size hint changes, never a value.
    """
    setter = _setter()
    if setter is None:
        yield
        return
    old = setter(False)
    try:
        yield
    finally:
        setter(old)
