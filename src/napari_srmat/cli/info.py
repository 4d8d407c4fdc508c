"""``srmat info FILE``: describe an image (shape, dtype, chunks, pixel size, levels)."""

from __future__ import annotations

import argparse

from . import WRITES_OUTPUT, input_path_arg, print_json_result, run_cli_job

__all__ = ["register"]


def _handler(args: argparse.Namespace) -> int:
    from ..io import LENGTH_UNIT, image_info, verify_image_job
    from ..io._read import pixel_size_source_text

    info = image_info(args.file)  # ImageReadError (a ValueError) -> one line, exit 2
    # the chunks of a Zarr store's level 0 as stored (where it names its axes: the
    # reader's rule); info["chunks"]: those it is read in. Told once, here: --json gave
    # them under "metadata" too
    info["store_chunks"] = info["metadata"].pop("store_chunks", None)
    check = run_cli_job(verify_image_job(args.file), quiet=args.json) if args.verify else None
    if check is not None:
        info["verify"] = check
    if args.json:
        print_json_result(info)
        return 0 if check is None or check["ok"] else 2
    px = info["pixel_size_um"]
    pixel_line = f"{px:.6g} {LENGTH_UNIT}" if px is not None else "unknown"
    source = pixel_size_source_text(info)
    if px is not None and source:  # where the reader found it (one word list: io)
        pixel_line += f" (from {source})"
    dpi = info["metadata"].get("print_resolution_dpi")
    if px is None and dpi is not None:  # the reader's rule: no calibration
        pixel_line = f"unknown (the file records {dpi} dpi, a print or screen resolution)"
    pair = info["metadata"].get("pixel_size_yx_um")
    if pair is not None:  # the reader's rule: X is the pixel size, Y recorded
        from ..io._pixel import non_square_message

        pixel_line = non_square_message(*pair)
    lines = [
        f"file:        {info['path']}",
        f"format:      {info['format']}",
        f"shape:       {tuple(info['shape'])}  ({info['axes']})",
        f"dtype:       {info['dtype']}",
        _chunks_line(info["store_chunks"], info["chunks"]),
        f"pixel size:  {pixel_line}",
        *_position_lines(info["metadata"]),
        f"levels:      {info['n_levels']}  "
        + ", ".join("x".join(str(s) for s in shp[:2]) for shp in info["level_shapes"]),
        f"size:        {info['size_bytes'] / 2**20:.1f} MiB uncompressed",
        "pixels:      " + ("not checked (--verify decodes every chunk)" if check is None else
                           f"all {check['n_blocks']} blocks readable" if not check["n_bad"] else
                           f"{check['n_bad']} of {check['n_blocks']} blocks UNREADABLE"),
        *_chunk_lines((check or {}).get("chunks")),
    ]
    for b in (check or {}).get("bad", []):
        lines.append(f"  level {b['level']} rows {b['rows'][0]}:{b['rows'][1]} columns "
                     f"{b['columns'][0]}:{b['columns'][1]}: {b['error']}")
    print("\n".join(lines))
    return 0 if check is None or check["ok"] else 2


def _chunks_line(stored: list[int] | None, read: list[int]) -> str:
    """The ``chunks:`` line: the store's chunks, and those it is read in where they
    differ; a file without stored chunks (a TIFF, a PNG): those it is read in."""
    if stored is None:
        return f"chunks:      {tuple(read)}"
    if list(stored) == list(read):
        return f"chunks:      {tuple(stored)}"
    return f"chunks:      {tuple(stored)} stored (read in {tuple(read)})"


def _chunk_lines(stored: dict | None) -> list[str]:
    """The line on the absent chunks of a Zarr store (``verify_image_job``'s count)."""
    if stored is None:
        return []
    n, total = stored["n_missing"], stored["n_chunks"]
    if not n:
        return [f"stored:      all {total} chunks present"]
    if stored["damaged"]:
        return [f"stored:      {n} of {total} chunks missing: the store is damaged (napari-"
                "srmat wrote every chunk; a missing one reads as zeros)"]
    return [f"stored:      {n} of {total} chunks absent (the store does not record that "
            "every chunk was written: absent chunks may be fill values, read as zeros)"]


def _position_lines(meta: dict) -> list[str]:
    """Where pixel ``(0, 0)``'s centre lies (an OME-Zarr translation, e.g. of an SR
    output over its input), when the file records a place."""
    from ..io import LENGTH_UNIT

    origin, grid = meta.get("origin_um"), meta.get("unitless_grid")
    if origin:
        return [f"position:    pixel (0, 0) centred at (Y, X) = ({origin[0]:.6g}, "
                f"{origin[1]:.6g}) {LENGTH_UNIT}"]
    if grid:
        (sy, sx), (oy, ox) = grid["scale"], grid["origin"]
        return [f"position:    pixel (0, 0) centred at (Y, X) = ({oy:.6g}, {ox:.6g}), "
                f"scale ({sy:.6g}, {sx:.6g}), no unit (e.g. the pixels of the image it "
                "was computed from)"]
    return []


def register(subparsers) -> None:
    """Add the ``info`` subcommand."""
    p = subparsers.add_parser(
        "info",
        help="describe an image file (PNG/JPEG/TIFF/OME-TIFF/Zarr/OME-Zarr)",
        description="Print shape, dtype, chunks, axes, pixel size and pyramid levels of an "
        "image without loading its pixels.",
    )
    p.add_argument("file", type=input_path_arg, help="image file or Zarr store")
    p.add_argument("--verify", action="store_true",
                   help="decode every chunk of every level and report damaged ones, and "
                   "missing chunks of a store napari-srmat completed (exit 2)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_handler, **{WRITES_OUTPUT: False})  # a Ctrl-C leaves no file
