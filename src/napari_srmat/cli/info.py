"""``srmat info FILE``: describe an image (shape, dtype, chunks, pixel size, levels)."""

from __future__ import annotations

import argparse

from . import print_json

__all__ = ["register"]


def _handler(args: argparse.Namespace) -> int:
    from ..io import image_info

    info = image_info(args.file)  # ImageReadError (a ValueError) -> one line, exit 2
    if args.json:
        print_json(info)
        return 0
    px = info["pixel_size_um"]
    lines = [
        f"file:        {info['path']}",
        f"format:      {info['format']}",
        f"shape:       {tuple(info['shape'])}  ({info['axes']})",
        f"dtype:       {info['dtype']}",
        f"chunks:      {tuple(info['chunks'])}",
        f"pixel size:  {f'{px:.6g} um' if px is not None else 'unknown'}",
        f"levels:      {info['n_levels']}  "
        + ", ".join("x".join(str(s) for s in shp[:2]) for shp in info["level_shapes"]),
        f"size:        {info['size_bytes'] / 2**20:.1f} MiB uncompressed",
    ]
    print("\n".join(lines))
    return 0


def register(subparsers) -> None:
    """Add the ``info`` subcommand."""
    p = subparsers.add_parser(
        "info",
        help="describe an image file (PNG/JPEG/TIFF/OME-TIFF/Zarr/OME-Zarr)",
        description="Print shape, dtype, chunks, axes, pixel size and pyramid levels of an "
        "image without loading its pixels.",
    )
    p.add_argument("file", help="image file or Zarr store")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_handler)
