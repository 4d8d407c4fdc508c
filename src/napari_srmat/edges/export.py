"""Export a UAED checkpoint (e.g. as fp16 for shipping).

``python -m napari_srmat.edges.export SRC DST [--fp16]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..checkpoint import load_checkpoint, save_checkpoint

__all__ = ["export_checkpoint"]


def export_checkpoint(src, dst, *, fp16: bool = True, keep_training: bool = True) -> Path:
    """Copy checkpoint ``src`` to ``dst``, optionally casting float tensors to fp16.

    Parameters
    ----------
    src, dst : path-like
        Source checkpoint (or run directory, whose ``best/`` is used) and destination.
    fp16 : bool
        Store floating-point tensors as float16 (halves the size; loading casts
        back to float32).
    keep_training : bool
        Keep the ``training`` settings in the config.
    """
    from .infer import _resolve

    state, config = load_checkpoint(_resolve(src))
    if fp16:
        state = {k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}
        config = {**config, "dtype": "float16"}
    if not keep_training:
        config.pop("training", None)
    out = save_checkpoint(dst, state, config, overwrite=True)
    for f in out.iterdir():  # package data must be readable by everyone
        f.chmod(0o644)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--fp16", action="store_true")
    a = p.parse_args(argv)
    print(export_checkpoint(a.src, a.dst, fp16=a.fp16))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
