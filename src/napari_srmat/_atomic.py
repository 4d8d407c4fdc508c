"""Atomic file and directory writes: a failed or cancelled write never leaves an
output that looks complete."""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_path",
    "atomic_directory",
    "swap_into_place",
    "swap_renames",
    "put_back_swapped_out",
    "ctrl_c_held",
    "HeldInterrupt",
    "stop_signal",
    "remove_temp_files",
    "remove_tree_marker_last",
]


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _check_folder(path: Path) -> None:
    """Refuse ``path`` in a folder that does not exist, naming the folder (the error of
    the write would name the temporary file, a name the user never gave)."""
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the folder {path.parent} does not "
                                "exist")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename.

    Parameters
    ----------
    path : path-like
        Destination file. Its parent directory must exist.
    data : bytes
        Content.

    Returns
    -------
    Path
        The destination path.
    """
    path = Path(path)
    _check_folder(path)
    # not tempfile.mkstemp: its files are private (0600); this one gets the usual
    # permissions (0666 minus the umask), like any file the user writes
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    from .errors import os_errors_named  # a disk full names path, not tmp or nothing

    try:
        with os_errors_named(path, tmp), open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write text atomically (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode(encoding))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file path next to ``path``; rename it onto ``path`` on success.

    Use for writers that need a filename (PNG, TIFF, safetensors). On error the
    temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    _check_folder(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")
    from .errors import os_errors_named  # a disk full names path, not tmp or nothing

    try:
        with os_errors_named(path, tmp):
            yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


#: The staging folder :func:`atomic_directory` builds ``NAME`` in: ``.NAME.<8 hex>.partial``
#: (``of`` is ``NAME``), renamed onto ``NAME`` when complete; a kill leaves it.
STAGING_DIRECTORY = re.compile(r"^\.(?P<of>.+)\.[0-9a-f]{8}\.partial$")


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, overwrite: bool = False, *,
                     ours: Callable[[Path], bool] | None = None,
                     whole: Callable[[Path], bool] | None = None,
                     last: Iterable[str] = (),
                     replaceable: Callable[[Path], None] | None = None) -> Iterator[Path]:
    """Yield a temporary directory; move it onto ``path`` when the block succeeds.

    Parameters
    ----------
    path : path-like
        Final directory (e.g. a Zarr store or a checkpoint folder).
    overwrite : bool
        Replace an existing ``path``. If False and ``path`` exists, raise
        :class:`~napari_srmat.outputs.OutputExistsError` (a ``FileExistsError``; the
        refusal of :func:`~napari_srmat.outputs.exists_error`) before anything is written,
        unless ``replaceable`` refuses it first.
    ours : callable, optional
        Whether a copy left aside as ``.NAME.<8 hex>.old`` is provably an earlier
        ``path`` of the caller's writes (e.g.
        :func:`napari_srmat.checkpoint.is_checkpoint_copy`): with ``path`` there, such
        copies left by replacements that completed (a Ctrl-C stopped the deletion of the
        earlier copy) are deleted (:func:`remove_stale_swaps`).
        Without it, only the copy this call renamed aside is put back (a swap failing
        part-way). Nothing is touched when the write is refused (``path`` there without
        ``overwrite``): a refused write used to delete such copies first.
    whole : callable, optional
        Whether such a copy is a whole earlier ``path`` (default ``ours``): with ``path``
        missing, it is put back first (:func:`put_back_swapped_out`), then refused
        without ``overwrite`` or replaced; any other copy stays where it is.
    last : iterable of str
        The files of an earlier ``path`` deleted last when it is replaced
        (:func:`swap_into_place`), besides the marker files: what ``ours`` recognises it
        by, so that a copy whose deletion was stopped part-way is still removed later.
    replaceable : callable, optional
        ``replaceable(path)`` raises :class:`~napari_srmat.outputs.OutputExistsError`
        where an existing ``path`` is not the caller's to replace (e.g.
        :func:`napari_srmat.checkpoint.check_replaceable_checkpoint`): refused as one that
        will not be replaced, with or without ``overwrite``, never with the advice to
        pass ``overwrite=True`` (:func:`~napari_srmat.outputs.check_existing_output`).
        Without it, any ``path`` is replaced with ``overwrite`` but a symbolic link,
        which is never replaced (:func:`swap_renames`): refused as such, with or without
        ``overwrite``, before the block runs, in the one wording of a refused link
        (:func:`~napari_srmat.outputs.check_not_replacing_link`).
    """
    from .errors import check_flag
    from .outputs import check_existing_output, check_not_replacing_link

    overwrite = check_flag("overwrite", overwrite)
    path = Path(path)
    last = tuple(last)

    def may_replace(existing: Path) -> None:
        if replaceable is not None:
            replaceable(existing)
        check_not_replacing_link(existing)  # never replaced (swap_renames): before the block

    def refuse_existing() -> None:
        if path.exists() or path.is_symlink():
            check_existing_output(path, overwrite=overwrite, replaceable=may_replace,
                                  holds="already exists")

    refuse_existing()  # a refusal touches nothing
    if ours is not None:
        remove_stale_swaps(path, ours=ours, whole=whole, last=last)
        refuse_existing()  # an earlier path put back
    path.parent.mkdir(parents=True, exist_ok=True)
    before = set(swapped_out_copies(path))
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")  # STAGING_DIRECTORY
    tmp.mkdir()
    try:
        yield tmp
        swap_into_place(tmp, path, last=last)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        # a swap failing part-way: the earlier path, which this call renamed aside, back
        put_back_swapped_out(path, ours=lambda old: old not in before)
        raise


def swap_into_place(staging: str | os.PathLike, path: str | os.PathLike, *,
                    last: Iterable[str] = ()) -> Path:
    """Rename a complete ``staging`` directory onto ``path``, replacing it if present.

    The old ``path`` is first renamed to a hidden ``.NAME.*.old`` sibling and deleted
    after the new one is in place (:func:`swap_renames`, then
    :func:`remove_tree_marker_last` with ``last``): a kill in between leaves ``staging``
    complete (a rerun finishes the swap) and the ``.old`` copy (removed by the next
    writer, which recognises it by its marker: the marker files are deleted last).
    Only the two renames hold Ctrl-C; the deletion, which takes minutes for a large
    store, does not: a press then stops it at once, ``path`` complete, and what is left
    of the copy is removed by the next writer (a press held through the renames is
    raised before the deletion, for the same reason).
    Callers check beforehand that ``path`` may be replaced
    (:func:`napari_srmat.outputs.check_replaceable`).

    Parameters
    ----------
    staging, path : path-like
        The complete new folder and where it goes.
    last : iterable of str
        Files of the earlier ``path`` to delete last, after the marker files (what else
        recognises it, e.g. a checkpoint's weights and config).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    KeyboardInterrupt
        A Ctrl-C held through the renames or pressed during the deletion, with ``path``
        complete.
    OSError
        A rename failing (:func:`swap_renames`).
    """
    old = swap_renames(staging, path)
    if old is not None:
        remove_tree_marker_last(old, last)
    return Path(path)


def swap_renames(staging: str | os.PathLike, path: str | os.PathLike) -> Path | None:
    """The two renames of :func:`swap_into_place`, whole: an earlier ``path`` renamed
    aside to ``.NAME.<8 hex>.old`` (:data:`SWAPPED_OUT`), then ``staging`` onto ``path``,
    and the folder synced, with a Ctrl-C meanwhile held (:func:`ctrl_c_held`) and
    delivered after (a press between the two renames left the earlier output aside and
    the new one unmoved, and its caller then deleted the staging or left it: nothing at
    ``path``). The copy aside is the caller's to delete, outside any hold.

    Returns
    -------
    Path or None
        The earlier ``path`` renamed aside; None when there was none.

    Raises
    ------
    napari_srmat.outputs.OutputExistsError
        ``path`` is a symbolic link (:func:`~napari_srmat.outputs.check_not_replacing_link`;
        callers refuse it first), nothing renamed.
    KeyboardInterrupt
        A Ctrl-C held through the renames (to the SIGINT handler before them: a caller
        holding Ctrl-C itself counts it), with ``path`` complete and the copy aside.
    OSError
        A rename failing; after the first, ``path`` is missing, the earlier one aside
        and ``staging`` complete (:func:`finish_interrupted_swap`,
        :func:`put_back_swapped_out`). With a Ctrl-C held meanwhile, the press is raised
        instead, this error its cause (:func:`ctrl_c_held`).
    """
    from .outputs import check_not_replacing_link

    staging, path = Path(staging), Path(path)
    check_not_replacing_link(path)  # callers refuse it first; never through it
    old = None
    with ctrl_c_held() as ctrl_c:
        if path.exists():
            old = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.old")  # SWAPPED_OUT
            os.replace(path, old)
        os.replace(staging, path)
        _fsync_dir(path.parent)
    ctrl_c.deliver()
    return old


def stop_signal() -> tuple[int, Callable] | None:
    """The signal that stops the command, with its Python handler: the one rule of
    "SIGINT ignored, so SIGTERM is the stop signal".

    SIGINT's (a Ctrl-C) where it has a handler set from Python. Where SIGINT is ignored
    (inherited so by a job a script starts in the background, ``srmat ... &``) or has
    its default action, SIGTERM's where that has one (``srmat``'s ends the command as a
    Ctrl-C would, ``cli._sigterm_as_ctrl_c``): the stop left. None outside the main
    thread (only it runs Python's signal handlers), where SIGINT is handled outside
    Python (``getsignal`` None: it could not be put back), or where neither has one:
    nothing there to change.

    Returns
    -------
    tuple of (int, callable) or None
        The signal number and its handler.
    """
    import signal

    if threading.current_thread() is not threading.main_thread():
        return None
    sigint = signal.getsignal(signal.SIGINT)
    if callable(sigint):
        return signal.SIGINT, sigint
    sigterm = signal.getsignal(signal.SIGTERM)
    if sigint is not None and callable(sigterm):
        return signal.SIGTERM, sigterm
    return None


class HeldInterrupt:
    """The Ctrl-C presses held back while a block runs whole (the SIGINT handler then,
    see :func:`ctrl_c_held`).

    Parameters
    ----------
    most : int, optional
        How many presses are held at the most: one more is raised at once (a
        KeyboardInterrupt, the held ones with it), the way out of a block that hangs.
        None: every press is held.
    """

    def __init__(self, most: int | None = None) -> None:
        self.pressed = 0
        self.most = most
        self.terminated = False  # a SIGTERM among the presses (srmat's handler's)

    def __call__(self, signum, frame) -> None:
        import signal

        self.pressed += 1
        self.terminated = self.terminated or signum == signal.SIGTERM
        if self.most is not None and self.pressed > self.most:
            self.pressed, self.terminated = 0, False  # raised now: none left to deliver
            raise KeyboardInterrupt

    def deliver(self) -> None:
        """Deliver a held Ctrl-C now, to the SIGINT handler that was there before
        (Python's: a KeyboardInterrupt here; an ignored SIGINT stays ignored). A SIGTERM
        held (``srmat``'s handler calls the SIGINT handler with it) is raised again as
        SIGTERM, to its handler: it stops the command with SIGINT ignored too (until
        2026-12-07 it was delivered as a SIGINT, ignored then: the SIGTERM lost)."""
        if self.pressed:
            import signal

            signum = signal.SIGTERM if self.terminated else signal.SIGINT
            self.pressed, self.terminated = 0, False
            signal.raise_signal(signum)


@contextlib.contextmanager
def ctrl_c_held(most: int | None = None) -> Iterator[HeldInterrupt]:
    """Count the Ctrl-C presses while the block runs instead of raising them
    (:class:`HeldInterrupt`, whose ``deliver()`` the caller calls once it can be
    stopped); the SIGINT handler before is back at the block's end. The one rule of a
    step that must run whole: an output's swap into place (its two renames: a press
    between them left the earlier output renamed aside and the new one unmoved: nothing
    at the output's path, :func:`swap_renames`), a run's closes. Only in the main
    thread, where SIGINT has a handler set from Python; elsewhere nothing changes and
    nothing is held.

    A block that fails (an OSError of a rename) does not drop a press held meanwhile:
    it is delivered as the error leaves the block, to the handler before (Python's: a
    KeyboardInterrupt raised instead, the error its cause; an enclosing hold counts it
    and the error goes on).

    Parameters
    ----------
    most : int, optional
        Presses held at the most; one more is raised at once (:class:`HeldInterrupt`):
        for a step that may hang (a stop signal sent to a scheduler that stopped
        answering). None: all are held.

    Yields
    ------
    HeldInterrupt
        The presses held.
    """
    import signal

    held = HeldInterrupt(most)
    previous = (signal.getsignal(signal.SIGINT)  # None: not set from Python, left alone
                if threading.current_thread() is threading.main_thread() else None)
    installed = False

    def restore() -> None:
        nonlocal installed
        if installed:  # a press still pending reaches `held` first
            signal.signal(signal.SIGINT, previous)
            installed = False

    try:  # a press pending at the swap raises here, with nothing left swapped
        if previous is not None:
            signal.signal(signal.SIGINT, held)
            installed = True
        yield held
    except Exception as error:  # (a KeyboardInterrupt or SystemExit goes on as it is)
        restore()
        if held.pressed:
            try:
                held.deliver()
            except KeyboardInterrupt as interrupt:
                raise interrupt from error
        raise
    finally:
        restore()


#: The name :func:`swap_into_place` gives the earlier ``NAME`` it renames aside:
#: ``.NAME.<8 hex>.old`` (``of`` is ``NAME``); no other name is taken for one (until
#: 2026-12-05 any ``.NAME.*.old`` of ours was, and an output ``.e.v1.old`` was deleted by
#: the next run into ``e``).
SWAPPED_OUT = re.compile(r"^\.(?P<of>.+)\.[0-9a-f]{8}\.old$")


def swapped_out_copies(path: str | os.PathLike) -> list[Path]:
    """The siblings of ``path`` named as :func:`swap_into_place` renames it aside
    (:data:`SWAPPED_OUT`), ours or not."""
    path = Path(path)
    return [p for p in path.parent.glob(f".{glob.escape(path.name)}.*.old")
            if (m := SWAPPED_OUT.match(p.name)) and m["of"] == path.name]


#: Files that make a folder recognisably napari-srmat's (``outputs.MARKER_NAME`` and the
#: OME-Zarr attributes with our creator tag): deleted last by :func:`remove_tree_marker_last`.
_MARKER_FILES = (".srmat_output.json", ".zattrs")


def remove_tree_marker_last(path: str | os.PathLike, last: Iterable[str] = ()) -> None:
    """Delete the folder ``path``, its marker files last (and after them the files named
    ``last``: what makes a staging folder ours, e.g. its manifest), ignoring errors: a
    process killed part-way leaves a folder that the next writer still recognises as
    ours and removes (a plain ``rmtree`` may delete the marker first and leave debris
    no one may touch). A symbolic link is removed, never what it points to."""
    if os.path.islink(path):
        with contextlib.suppress(OSError):
            os.unlink(path)
        return
    last = tuple(last)
    kept = (*(m for m in _MARKER_FILES if m not in last), *last)  # in this order
    with contextlib.suppress(OSError):
        for entry in os.scandir(path):
            if entry.name in kept:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
    for name in kept:
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(path, name))
    shutil.rmtree(path, ignore_errors=True)


def discard_ours(path: str | os.PathLike, last: Iterable[str] = ()) -> None:
    """Delete a folder of ours (a staging ``OUT.partial`` that a run starts over) so
    that a kill part-way leaves it recognisable as ours, for the next run to remove:
    :func:`remove_tree_marker_last` (its marker files and ``last`` go last); what could
    not be removed raises its error (as ``shutil.rmtree``)."""
    remove_tree_marker_last(path, last)
    if os.path.lexists(path):
        shutil.rmtree(path)  # what remains: its own error


def finish_interrupted_swap(staging: str | os.PathLike, path: str | os.PathLike, kind: str,
                            prepare=None) -> bool:
    """Finish a replacement a kill interrupted between the two renames of
    :func:`swap_into_place`, before anything else looks at ``path``.

    The state: ``path`` missing, the earlier output aside as our ``.NAME.*.old``, and
    the new one complete in ``staging`` (its marker of ``kind`` says so). The new one is
    moved into place (after ``prepare(staging)`` drops its working files) before
    :func:`remove_stale_swaps` removes the ``.old`` copy, whatever the rerun asks for: a
    rerun with other settings used to delete the earlier output and then refuse (or,
    with ``--no-resume``, discard) the staging, leaving neither at ``path``. The one
    rule of the SR stores and the boundary outputs.

    Returns
    -------
    bool
        Whether a swap was finished.
    """
    from .outputs import is_ours, read_marker

    staging, path = Path(staging), Path(path)
    if path.exists() or path.is_symlink() or staging.is_symlink() or not staging.is_dir():
        return False
    if not any(not old.is_symlink() and is_ours(old) for old in swapped_out_copies(path)):
        return False
    marker = read_marker(staging)
    if not marker or not marker.get("complete") or marker.get("kind") != kind:
        return False
    if prepare is not None:
        prepare(staging)
    swap_into_place(staging, path)
    return True


def put_back_swapped_out(path: str | os.PathLike, *, ours: Callable[[Path], bool]
                         ) -> Path | None:
    """Put back the earlier ``path`` that a replacement interrupted between the two
    renames of :func:`swap_into_place` left aside (``path`` missing, the earlier one a
    folder ``.NAME.<8 hex>.old``, no new one moved in), and say so (a ``UserWarning``:
    one ``srmat CMD: warning:`` line in the CLI). The one rule of a copy that may be
    the only one left: never deleted, never left hidden (until 2026-12-05 a Ctrl-C
    could interrupt the swap and the next writer deleted the copy; a kill or a failing
    second rename still may leave one). Run it after :func:`finish_interrupted_swap`
    where a finished new one may wait in a staging folder.

    Parameters
    ----------
    path : path-like
        The output.
    ours : callable
        Whether a copy is ours (e.g. :func:`napari_srmat.outputs.is_ours`): nothing
        else is moved, a copy of someone else's stays where it is.

    Returns
    -------
    Path or None
        ``path`` when a copy was put back.

    Raises
    ------
    napari_srmat.outputs.OutputError
        Several such copies of ours: which is the earlier ``path`` cannot be told; none
        is moved.
    """
    import warnings

    from .outputs import OutputError

    path = Path(path)
    if path.exists() or path.is_symlink():
        return None
    copies = sorted(old for old in swapped_out_copies(path)
                    if not old.is_symlink() and old.is_dir() and ours(old))
    if len(copies) > 1:
        raise OutputError(
            f"{path} is missing and {len(copies)} earlier versions of it are left aside by "
            f"interrupted replacements ({', '.join(c.name for c in copies)}): move the one "
            f"to keep back to {path.name}")
    if not copies:
        return None
    os.replace(copies[0], path)
    _fsync_dir(path.parent)
    warnings.warn(f"{path} was missing: its earlier version, left aside as {copies[0].name} "
                  "by an interrupted replacement, is back in place", UserWarning,
                  stacklevel=3)
    return path


def remove_stale_swaps(path: str | os.PathLike, *,
                       ours: Callable[[Path], bool] | None = None,
                       whole: Callable[[Path], bool] | None = None,
                       last: Iterable[str] = ()) -> None:
    """Delete our own ``.NAME.*.old`` copies that a run killed while replacing ``path``
    left (:func:`swap_into_place`), or whose deletion a Ctrl-C stopped, once ``path`` is
    there (their marker files, then ``last``, deleted last again); with ``path``
    missing, the copy is the earlier output and is put back
    (:func:`put_back_swapped_out`) if ``whole`` says it is one (default ``ours``).
    ``ours`` tells a copy of ours (default :func:`napari_srmat.outputs.is_ours`, the
    outputs' marker). A symbolic link there
    (an earlier version renamed a linked output aside) is left alone: it is the user's,
    and what it points to too."""
    if ours is None:
        from .outputs import is_ours as ours

    put_back_swapped_out(path, ours=ours if whole is None else whole)
    if not Path(path).exists():
        return
    for old in swapped_out_copies(path):
        if not old.is_symlink() and old.is_dir() and ours(old):
            remove_tree_marker_last(old, last)


#: Temporary files of interrupted atomic writes: ``.NAME.<8 hex>.tmp[.SUFFIX]`` of
#: :func:`atomic_write_bytes` / :func:`atomic_path`, and ``KEY.<32 hex>.partial`` of
#: zarr's own atomic chunk and metadata writes. A SIGKILL leaves them behind.
_TEMP_FILE = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp(\.[^.]+)?$|\.[0-9a-f]{32}\.partial$")


def is_temp_file(name: str) -> bool:
    """Whether ``name`` is a temporary file of an interrupted atomic write (ours, or
    zarr's own); see :func:`remove_temp_files`."""
    return _TEMP_FILE.search(name) is not None


def remove_temp_files(folder: str | os.PathLike) -> int:
    """Delete the temporary files of interrupted atomic writes anywhere under ``folder``.

    Only for a folder napari-srmat is writing and holds the lock of (a ``.partial``
    being resumed): there, such files are what a killed run left, and would otherwise
    end up in the finished output.

    Returns
    -------
    int
        Number of files deleted.
    """
    n = 0
    for parent, _, files in os.walk(folder):
        for name in files:
            if is_temp_file(name):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(parent, name))
                    n += 1
    return n
