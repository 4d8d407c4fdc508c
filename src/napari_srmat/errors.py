"""How an error is told to the user: one line, the same in the CLI and the GUI."""

from __future__ import annotations

import errno

__all__ = ["is_user_error", "error_message"]


def is_user_error(exc: BaseException) -> bool:
    """Whether ``exc`` is the user's (bad input, refused output, bad option).

    User errors are ``ValueError`` (``ImageReadError``, ``OutputError``,
    ``CheckpointError``, ...), ``FileNotFoundError``, ``FileExistsError`` and the
    CLI's ``UserError``; everything else is a system or internal error.
    """
    from .checkpoint import CheckpointError

    if type(exc).__name__ == "UserError":
        return True
    return isinstance(exc, ValueError | FileNotFoundError | FileExistsError | CheckpointError)


def error_message(exc: BaseException) -> str:
    """One line describing ``exc`` for the user (no traceback).

    User errors and OS errors are their message (an OS error as ``path: reason``,
    with a hint when the disk is full); other errors are marked as internal with
    their type, to be reported with the traceback (``srmat --debug``).

    Examples
    --------
    >>> error_message(FileNotFoundError(2, "No such file or directory", "a.png"))
    'a.png: No such file or directory'
    >>> error_message(RuntimeError("bad\\nstate"))
    'internal error: RuntimeError: bad state'
    """
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError):
        if exc.filename and exc.strerror:
            text = f"{exc.filename}: {exc.strerror}"
        if exc.errno == errno.ENOSPC:
            text += " (disk full: free space and rerun the same command to resume)"
    elif isinstance(exc, MemoryError):
        text = ("out of memory (try a smaller tile or batch size, or write to an "
                "OME-Zarr store)")
    elif not is_user_error(exc):
        text = f"internal error: {type(exc).__name__}: {text}"
    return " ".join(text.split())
