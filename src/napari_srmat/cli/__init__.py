"""The ``srmat`` command-line tool.

Each area registers its subcommands from its own module in this package
(``napari_srmat.cli.<area>``), exposing ``register(subparsers)``. A subcommand
handler receives the parsed ``argparse.Namespace`` and returns an exit code.
Handlers that report numbers accept ``--json`` and print exactly one JSON object
to stdout (progress goes to stderr).

Errors that are the user's (bad file, bad option, refused output) are raised as
:class:`UserError` or the library's ``ValueError``/``FileNotFoundError`` subclasses
and printed as one clear line (exit 2); system errors (permissions, disk full) and
internal errors also print one line (exit 1). ``srmat --debug ...`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import json
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main", "UserError", "print_json", "build_parser"]

#: Modules in this package that contribute subcommands, in help order.
SUBCOMMAND_MODULES = (
    "demo",
    "info",
    "synth",
    "heyn",
    "evalmaps",
    "sr",
    "edges",
    "experiment",
    "audit",
)


class UserError(Exception):
    """An error caused by the user's input; printed without a traceback."""


def print_json(obj: Any) -> None:
    """Print one JSON object to stdout (numpy scalars and arrays converted)."""
    from ..checkpoint import _json_default

    sys.stdout.write(json.dumps(obj, indent=2, default=_json_default) + "\n")
    sys.stdout.flush()


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="srmat",
        description="Trustworthy super-resolution and grain-size measurement for metallography.",
    )
    parser.add_argument("--version", action="version", version=f"srmat {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of errors (for bug reports)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that are the user's (bad input, refused output): one line, exit 2."""
    from ..checkpoint import CheckpointError

    return (UserError, FileNotFoundError, FileExistsError, CheckpointError, ValueError)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``srmat``; returns the process exit code.

    Errors never print a traceback unless ``--debug`` is given: the user's errors
    (bad input, refused output) exit with 2, system errors (disk full, permissions)
    and internal errors with 1, an interrupt with 130.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    where = f"srmat {args.command}"
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"{where}: interrupted (a partial output, if any, is kept for a rerun)",
              file=sys.stderr)
        return 130
    except _user_errors() as exc:
        if args.debug:
            raise
        print(f"{where}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:
        if args.debug:
            raise
        print(f"{where}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except MemoryError:
        if args.debug:
            raise
        print(f"{where}: error: out of memory (try a smaller --tile or --batch-size, or "
              "write to an OME-Zarr store)", file=sys.stderr)
        return 1
    except Exception as exc:
        if args.debug:
            raise
        print(f"{where}: internal error: {type(exc).__name__}: {_one_line(exc)} "
              "(rerun with `srmat --debug ...` for the traceback)", file=sys.stderr)
        return 1


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError):
        if exc.filename and exc.strerror:
            text = f"{exc.filename}: {exc.strerror}"
        if exc.errno == errno.ENOSPC:
            text += " (disk full: free space and rerun the same command to resume)"
    return " ".join(text.split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
