"""Shared helper of the TIFF strip benchmarks: names of ``io._read`` set in a block.

Not a benchmark itself. ``bench_tiff_strips.py`` and ``bench_tiff_strips_lzw.py``
import it as ``_patch`` (run them from the repository root: ``python
benchmarks/bench_....py``): the one way they change how the reader reads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

_MISSING = object()


@contextlib.contextmanager
def patched_on(owner: object, **values: object) -> Iterator[None]:
    """Attributes of ``owner`` (a module, a class) set to ``values`` in the block,
    restored after as they were (an attribute ``owner`` only inherited is removed
    again; none given: as it is)."""
    old = {name: vars(owner).get(name, _MISSING) for name in values}
    for name, value in values.items():
        setattr(owner, name, value)
    try:
        yield
    finally:
        for name, value in old.items():
            if value is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, value)


def patched(**values: object) -> contextlib.AbstractContextManager[None]:
    """Names of ``io._read`` (a constant, a function) set to ``values`` in the block,
    restored after (:func:`patched_on`)."""
    from napari_srmat.io import _read

    return patched_on(_read, **values)
