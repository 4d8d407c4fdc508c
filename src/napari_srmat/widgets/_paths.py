"""Where files named in a widget go: one rule for every dock.

napari's working folder depends on how napari was started (a desktop icon, a terminal in
some folder), so a widget never resolves a path the user typed against it: a relative
output path lands beside the input it was made from, else in the home folder, and the
field then shows the absolute path the job writes to. Every path field reads ``~`` as the
home folder (:func:`typed_path`).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "layer_file",
    "layer_folder",
    "absolute_output_path",
    "writable_folder",
    "typed_path",
]


def layer_file(layer) -> Path | None:
    """The local file (or folder: OME-Zarr) a layer was read from or written to, if any.

    ``layer.source.path`` for a layer napari opened from disk, else the ``path`` the SR
    widget records in the metadata of a result it wrote. URLs are not local files.
    """
    if layer is None:
        return None
    source = getattr(getattr(layer, "source", None), "path", None)
    for p in (source, layer.metadata.get("path")):
        if p and "://" not in str(p):
            return Path(p).expanduser().absolute()
    return None


def layer_folder(layer) -> Path | None:
    """The folder of :func:`layer_file` (where outputs made from the layer go), if any."""
    f = layer_file(layer)
    return None if f is None else f.parent


def writable_folder(folder: Path | None) -> bool:
    """Whether ``folder`` exists and this user may create files in it."""
    return folder is not None and folder.is_dir() and os.access(folder, os.W_OK)


def typed_path(text: str) -> str | None:
    """The path a widget's path field holds: ``~`` expanded, spaces around it dropped.

    The one rule for every path field (data folders, checkpoints, outputs): a folder
    typed as ``~/tbm`` is the one in the home folder, as in a terminal. A word that is
    not a path (``default``: the shipped weights) is returned as typed.

    Parameters
    ----------
    text : str
        The field's text.

    Returns
    -------
    str or None
        The path, or ``None`` for an empty field.

    Examples
    --------
    >>> typed_path("  ") is None
    True
    >>> typed_path("default")
    'default'
    >>> typed_path("~/run1") == os.path.join(os.path.expanduser("~"), "run1")
    True
    """
    text = text.strip()
    return os.path.expanduser(text) if text else None


def absolute_output_path(text: str | os.PathLike, beside: Path | None = None) -> Path:
    """The absolute path an output named ``text`` in a widget is written to.

    Parameters
    ----------
    text : str or path-like
        The path picked in a dialog or handed over, or a field's text its widget has
        trimmed (the Train and SR widgets' Output through :func:`typed_path`); ``~`` is
        expanded, nothing is trimmed here.
    beside : Path, optional
        The folder of the input the output is made from (e.g. the folder of the image
        file being super-resolved). A relative ``text`` goes there when that folder is
        writable, else into the home folder.

    Returns
    -------
    Path
        An absolute path (an absolute ``text`` is returned unchanged).

    Raises
    ------
    ValueError
        ``text`` is blank: it names no file (never the home folder itself).

    Examples
    --------
    >>> from pathlib import Path
    >>> absolute_output_path("/data/run1.zarr")
    PosixPath('/data/run1.zarr')
    >>> absolute_output_path("run1.zarr", beside=Path("/no/such/folder")).parent == Path.home()
    True
    """
    text = os.fspath(text)
    if not text.strip():
        raise ValueError("no output path given")
    path = Path(text).expanduser()
    if path.is_absolute():
        return path
    base = beside if writable_folder(beside) else Path.home()
    return (base / path).absolute()
