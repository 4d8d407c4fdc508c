"""OME-Zarr (OME-NGFF 0.4, Zarr v2) writers: whole arrays and block-by-block streams."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import (
    HeldInterrupt,
    atomic_write_text,
    ctrl_c_held,
    discard_ours,
    finish_interrupted_swap,
    remove_stale_swaps,
    remove_temp_files,
    remove_tree_marker_last,
    swap_into_place,
    swap_renames,
)
from ..errors import Option, check_flag, check_number, one_line, worded_error
from ..outputs import (
    OutputError,
    OutputLock,
    OutputMismatchError,
    _command_argv,
    _command_line,
    check_existing_output,
    check_not_input,
    check_not_replacing_link,
    check_output_location,
    check_partial_not_link,
    check_replaceable,
    check_staging_holds_only_ours,
    check_store_name,
    exists_error,
    identity_differences,
    json_ready,
    made_differently_error,
    only_creation_debris,
    read_marker,
    started_differently_error,
    started_with,
    write_marker,
)
from ._float import all_finite
from ._pixel import LENGTH_UNIT, check_pixel_size_yx, pixel_size_yx
from ._read import _spatial_chunks, path_arg

__all__ = [
    "OmeZarrStreamWriter",
    "PartialBlockWriter",
    "StreamMismatchError",
    "write_ome_zarr",
    "png_bytes",
    "default_n_levels",
    "check_replaceable_store",
    "coarser_level",
    "LEVEL_REDUCTIONS",
]

_MANIFEST = ".srmat_stream.json"
_DONE_DIR = ".srmat_done"
_MIN_LEVEL_SIDE = 512
#: What an OME-Zarr store of ours holds besides its marker: zarr metadata, the pyramid
#: levels ``0``, ``1``, ... and the stream's bookkeeping.
_STORE_ENTRIES = (".zattrs", ".zgroup", ".zmetadata", "zarr.json", _MANIFEST, _DONE_DIR,
                  *(str(level) for level in range(64)))
#: Marker kind of the stores :func:`write_ome_zarr` writes (the default of
#: :class:`OmeZarrStreamWriter`): the only kind it replaces.
OME_ZARR_IMAGE_KIND = "image"
#: Zarr array config of every array napari-srmat writes: each chunk is stored, also one
#: equal to the fill value (Zarr skips those by default and reads them back as zeros),
#: so in a store we completed an absent chunk is damage (a deleted or lost file), not a
#: black area. A 1024 x 1024 chunk of zeros costs a few hundred bytes compressed.
EVERY_CHUNK = {"write_empty_chunks": True}
#: Key of ``attrs["srmat"]`` that a completed store written with :data:`EVERY_CHUNK`
#: carries: ``srmat info --verify`` then reports an absent chunk as damage
#: (:func:`~napari_srmat.io.verify_image_job`); older stores may lack chunks of zeros.
ALL_CHUNKS_WRITTEN = "all_chunks_written"


#: PNG ``pHYs`` holds whole pixels per metre in an unsigned 32-bit field.
PNG_MAX_PIXELS_PER_METRE = 2**32 - 1


def png_pixel_size(pixel_size_um: float) -> float | None:
    """The pixel size (µm) a PNG written with ``pixel_size_um`` reads back as, or None
    where a PNG cannot carry it.

    ``pHYs`` stores whole pixels per metre (32 bits): below about 2.3e-4 µm the count
    overflows, and above about 1e4 µm its rounding moves the size by more than
    :data:`~napari_srmat.io._pixel.SQUARE_PIXEL_TOLERANCE`; a size that lands on a
    print resolution (:data:`~napari_srmat.io._read.PRINT_RESOLUTIONS_DPI`: 352.8 or
    264.6 µm are 72 or 96 dpi, 84.67 µm is 300 dpi) reads back as no pixel size.

    Examples
    --------
    >>> png_pixel_size(0.5), png_pixel_size(1e-4), png_pixel_size(264.6)
    (0.5, None, None)
    """
    from ._pixel import SQUARE_PIXEL_TOLERANCE
    from ._read import _dpi_to_um

    per_metre = round(1e6 / float(pixel_size_um))
    if not 1 <= per_metre <= PNG_MAX_PIXELS_PER_METRE:
        return None
    stored = _dpi_to_um(per_metre * 0.0254)
    if stored is None or abs(stored / pixel_size_um - 1) > SQUARE_PIXEL_TOLERANCE:
        return None
    return 1e6 / per_metre


def check_png_pixel_size(pixel_size_um: float | None, *, field: str | Option = "pixel_size_um"
                         ) -> None:
    """Refuse a pixel size a PNG cannot carry (:func:`png_pixel_size`), in one line naming
    ``field``; None passes.

    Parameters
    ----------
    pixel_size_um : float or None
        The pixel size (µm).
    field : str or Option
        What the message calls the size; an :class:`~napari_srmat.errors.Option` names it
        in each caller's words (:func:`~napari_srmat.errors.worded_error`:
        ``pixel_size_um`` in Python, ``--pixel-size-um`` in an ``srmat`` command).

    Raises
    ------
    ValueError
    """
    if pixel_size_um is not None and png_pixel_size(pixel_size_um) is None:
        from ._read import _is_print_resolution

        dpi = 25400.0 / float(pixel_size_um)
        why = (f"it is {round(dpi)} dpi, a print resolution, read back as no calibration"
               if _is_print_resolution(dpi) else
               "its pHYs chunk holds whole pixels per metre, up to 2^32 - 1")
        raise worded_error(
            ValueError,
            "{field} {size} cannot be stored in a PNG ({why}): give a size between 2.4e-4 "
            "and 1e4 {unit} that is not a print resolution (25400 / dpi {unit} for 72, 96, "
            "150, 300, 600, ... dpi)",
            field=field, size=f"{pixel_size_um:g} {LENGTH_UNIT}", why=why, unit=LENGTH_UNIT)


def png_bytes(image: np.ndarray, pixel_size_um: float | None = None) -> bytes:
    """Encode an 8-bit ``(H, W)`` or ``(H, W, 3|4)`` array as PNG, with its pixel size
    as ``pHYs`` (pixels per metre), which :func:`~napari_srmat.io.read_image` reads back:
    the one way napari-srmat writes a PNG that has a pixel size.

    Parameters
    ----------
    image : ndarray
        ``uint8`` (or bool) pixels.
    pixel_size_um : float, optional
        µm per pixel (:func:`~napari_srmat.io.check_pixel_size`); None writes no ``pHYs``.

    Returns
    -------
    bytes

    Raises
    ------
    ValueError
        A pixel size a PNG cannot carry (:func:`check_png_pixel_size`).

    Examples
    --------
    >>> import io
    >>> from PIL import Image
    >>> data = png_bytes(np.zeros((4, 4), np.uint8), pixel_size_um=0.5)
    >>> [round(v) for v in Image.open(io.BytesIO(data)).info["dpi"]]  # 2e6 px per metre
    [50800, 50800]
    """
    from PIL import Image

    from ._pixel import check_pixel_size

    pixel_size_um = check_pixel_size(pixel_size_um)
    check_png_pixel_size(pixel_size_um)
    buf = io.BytesIO()
    kw = {} if pixel_size_um is None else {"dpi": (25400.0 / pixel_size_um,) * 2}
    Image.fromarray(np.asarray(image)).save(buf, format="PNG", **kw)
    return buf.getvalue()


def check_replaceable_store(path: str | os.PathLike, kind: str) -> None:
    """Refuse to replace ``path`` unless it is an OME-Zarr store of ours of ``kind`` that
    holds nothing else (a folder of another command, or one where the user put files of
    their own, is never replaced, even with ``overwrite``).

    Raises
    ------
    OutputExistsError
        As :func:`napari_srmat.outputs.check_replaceable`.
    """
    check_replaceable(path, kinds=[kind], allowed_entries=_STORE_ENTRIES)


class StreamMismatchError(OutputMismatchError):
    """A resumable ``.partial`` (or complete) store was made from another input or with
    other parameters."""


def default_n_levels(shape_yx: Sequence[int], min_side: int = _MIN_LEVEL_SIDE) -> int:
    """Number of 2x pyramid levels until the smallest side is <= ``min_side``.

    Parameters
    ----------
    shape_yx : sequence of int
        ``(H, W)`` of level 0.
    min_side : int
        Stop once ``min(H, W)`` of the last level is at most this.

    Returns
    -------
    int
        At least 1.
    """
    h, w = int(shape_yx[0]), int(shape_yx[1])
    n = 1
    while min(h, w) > min_side:
        h, w = (h + 1) // 2, (w + 1) // 2
        n += 1
    return n


def _norm_axes(axes: str | None, ndim: int) -> str:
    if axes is None:
        axes = "YX" if ndim == 2 else "YXC"
    axes = axes.upper()
    if axes not in ("YX", "YXC") or len(axes) != ndim:
        raise ValueError(f"axes must be 'YX' (2-D) or 'YXC' (3-D), got {axes!r} for {ndim}-D data")
    return axes


def _ome_axes(axes: str, pixel_size_um: float | tuple | None) -> list[dict]:
    out = [{"name": "c", "type": "channel"}] if axes == "YXC" else []
    for name in ("y", "x"):
        ax = {"name": name, "type": "space"}
        if pixel_size_um is not None:
            ax["unit"] = "micrometer"
        out.append(ax)
    return out


def _yx_pair(name: str, value) -> tuple[float, float]:
    """``value`` as a ``(Y, X)`` pair of finite floats (ValueError otherwise)."""
    try:
        y, x = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (Y, X) pair of numbers, got {value!r}") from None
    if not (math.isfinite(y) and math.isfinite(x)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return y, x


def _check_origin(origin_um, pixel_size_um) -> tuple[float, float] | None:
    """``origin_um`` as a ``(Y, X)`` pair of finite floats; None for None or ``(0, 0)``.

    Raises
    ------
    ValueError
        Not a pair of finite numbers, or given without a pixel size (the translation is
        in µm, as the scale).
    """
    if origin_um is None:
        return None
    y, x = _yx_pair(f"origin_um ({LENGTH_UNIT})", origin_um)
    if y == 0 and x == 0:
        return None
    if pixel_size_um is None:
        raise ValueError(f"origin_um needs pixel_size_um (both are in {LENGTH_UNIT}); "
                         "without a pixel size give unitless_grid")
    return y, x


def _check_unitless_grid(grid, pixel_size_um) -> dict | None:
    """``grid`` as ``{"scale": (Y, X), "origin": (Y, X)}`` of finite floats (the scale
    positive); None for None or the identity grid (scale 1, origin 0).

    Raises
    ------
    ValueError
        Not such a mapping, or given with a pixel size (then ``origin_um``).
    """
    if grid is None:
        return None
    try:
        scale, origin = grid["scale"], grid["origin"]
    except (TypeError, KeyError):
        raise ValueError(f"unitless_grid must be a mapping with 'scale' and 'origin', got "
                         f"{grid!r}") from None
    scale, origin = _yx_pair("unitless_grid scale", scale), _yx_pair("unitless_grid origin",
                                                                     origin)
    if min(scale) <= 0:
        raise ValueError(f"unitless_grid scale must be positive, got {scale}")
    if scale == (1.0, 1.0) and origin == (0.0, 0.0):
        return None
    if pixel_size_um is not None:
        raise ValueError("unitless_grid is for a store without a pixel size; with one give "
                         "origin_um")
    return {"scale": scale, "origin": origin}


class OmeZarrStreamWriter:
    """Write level 0 of an OME-Zarr image block by block, resumably.

    Blocks go into ``PATH.partial/`` (a fixed name, so that a rerun after a crash or a
    cancel finds it); each block's completion is recorded (a marker file written
    *after* its data) so a resumed run skips it. :meth:`finalize` builds the 2x mean
    pyramid, writes the OME-NGFF 0.4 ``multiscales`` metadata and renames the store
    to ``PATH``. Until then nothing at ``PATH`` looks complete.

    Parameters
    ----------
    path : path-like
        Final store, e.g. ``"out.ome.zarr"``.
    shape : tuple of int
        ``(H, W)`` or ``(H, W, C)`` (channels-last, as everywhere in napari-srmat).
    dtype : dtype-like
        Pixel type.
    chunks : int or tuple of int
        Spatial chunk size ``(cy, cx)``; ``(H, W, C)`` data may add a third entry, which
        is not used (the channel axis is one chunk). Blocks are indexed on this grid.
    axes : {"YX", "YXC"}, optional
        Defaults from ``len(shape)``.
    pixel_size_um : float or (float, float), optional
        Pixel size of level 0 (written as the ``scale`` transform, unit micrometer), or
        ``(Y, X)`` for pixels that are not square (a per-axis ``scale``, which
        :func:`~napari_srmat.io.read_image` and the napari reader read back as such).
    origin_um : (float, float), optional
        ``(Y, X)`` world position in µm of the centre of pixel ``(0, 0)`` (a napari
        layer's ``translate``), written as a ``translation`` transform (the coarser
        levels' shifted by their own half pixel) and read back as
        ``metadata["origin_um"]``; needs ``pixel_size_um``. None or ``(0, 0)``: none.
    unitless_grid : dict, optional
        For a store without a pixel size: ``{"scale": (Y, X), "origin": (Y, X)}``, its
        pixel size and the centre of its pixel ``(0, 0)`` in the unit-less coordinates
        of the image it was computed from (a x4 SR output of an image at scale 1 and
        origin 0: ``(0.25, 0.25)``, ``(-0.375, -0.375)``), written as unit-less
        ``scale`` and ``translation`` transforms and read back as
        ``metadata["unitless_grid"]`` (the napari reader's layer ``scale`` and
        ``translate``). None or scale 1, origin 0: none.

        Neither ``origin_um`` nor ``unitless_grid`` is part of the identity: they place
        the pixels, they do not decide them (an SR output's follows from its input and
        scale, which are), so a store made before they were written resumes, or is
        reused, as it was.
    attrs : dict, optional
        Extra JSON attributes stored under ``attrs["srmat"]`` (e.g. the SR model and
        its settings). Part of the identity.
    resume : bool
        Reuse a ``PATH.partial`` made with the same identity; if False, a partial
        store of ours is deleted and the work starts over.
    overwrite : bool
        Allow :meth:`finalize` to replace an existing ``PATH``, and start over a
        ``PATH.partial`` made with another identity (only a store that napari-srmat
        wrote; anything else is never replaced or deleted).
    identity : dict, optional
        What else decides the pixels (input fingerprint, model weights, ...). With
        shape, dtype, chunks, axes, pixel size and ``attrs`` it forms the identity
        recorded in the partial and the final store (``.srmat_output.json``).
    kind : str
        Kind of output recorded in the marker (e.g. ``"super_resolution"``).
    inputs : iterable of path-like
        Input paths ``PATH`` must not be, contain or lie in.
    lock : bool
        Hold ``PATH.lock`` from construction to :meth:`finalize` / :meth:`abort` /
        :meth:`close` (refuses a second writer of the same store).

    Attributes
    ----------
    complete : bool
        ``PATH`` already holds this exact output (same identity, ``overwrite``
        False): there is nothing to write and :meth:`finalize` returns ``PATH``.
    moved_into_place : bool
        ``complete`` because this writer moved a finished ``PATH.partial`` (an earlier
        run stopped between its pyramid and its swap) into place as it opened: the
        output was finished by this run, not found complete.
    resumed : bool
        A matching ``PATH.partial`` is being continued.
    started_with : dict
        For a resumed partial, the paths it was started with that differ from this
        run's (:func:`~napari_srmat.outputs.started_with`, e.g. a moved checkpoint):
        the finished store records them under ``started_with`` (marker and
        ``attrs["srmat"]``) beside this run's own.

    Raises
    ------
    OutputExistsError
        ``PATH`` exists and was not written by napari-srmat (never replaced).
    OutputExistsError
        ``PATH`` exists with another identity and ``overwrite`` is False (the message
        names the differences).
    StreamMismatchError
        ``resume``, ``PATH.partial`` has another identity (the message names the
        differences) and ``overwrite`` is False.
    OutputLockedError
        Another process writes the same store.

    Notes
    -----
    On disk the array follows OME-NGFF axis order ``(c, y, x)``; :attr:`level0` is
    that raw Zarr array. :meth:`write_block` takes data in channels-last layout.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        shape: Sequence[int],
        dtype,
        *,
        chunks: int | Sequence[int],
        axes: str | None = None,
        pixel_size_um: float | tuple[float, float] | None = None,
        origin_um: Sequence[float] | None = None,
        unitless_grid: dict | None = None,
        attrs: dict | None = None,
        resume: bool = True,
        overwrite: bool = False,
        identity: dict | None = None,
        kind: str = OME_ZARR_IMAGE_KIND,
        inputs=(),
        lock: bool = True,
    ) -> None:
        self.path = Path(path)
        self.shape = tuple(int(s) for s in shape)
        if len(self.shape) not in (2, 3) or any(s <= 0 for s in self.shape):
            raise ValueError(f"shape must be (H, W) or (H, W, C) with positive sizes, got {shape}")
        self.dtype = np.dtype(dtype)
        if self.dtype.kind == "f" and self.dtype.itemsize > 8:  # zarr: "No Zarr data type
            # found that matches dtype('float128')"
            raise TypeError(f"pixels of dtype {self.dtype} cannot be stored in OME-Zarr "
                            "(float16, float32 or float64): convert them first, e.g. "
                            "data.astype(numpy.float64)")
        self.axes = _norm_axes(axes, len(self.shape))
        chunks = _spatial_chunks(chunks, shape=self.shape)
        self.chunks = (min(chunks[0], self.shape[0]), min(chunks[1], self.shape[1]))
        self.pixel_size_um = check_pixel_size_yx(pixel_size_um)
        self.origin_um = _check_origin(origin_um, self.pixel_size_um)
        self.unitless_grid = _check_unitless_grid(unitless_grid, self.pixel_size_um)
        self.attrs = dict(attrs or {})
        self.overwrite = check_flag("overwrite", overwrite)
        resume = check_flag("resume", resume)
        self.kind = kind
        check_output_location(self.path)  # before with_name: out="" names no entry
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.grid = tuple(-(-s // c) for s, c in zip(self.shape[:2], self.chunks))
        self.identity = json_ready({
            "shape": list(self.shape),
            "dtype": self.dtype.str,
            "chunks": list(self.chunks),
            "axes": self.axes,
            "pixel_size_um": self.pixel_size_um,
            "attrs": self.attrs,
            **(identity or {}),
        })
        self.resumed = False
        self.complete = False
        self.moved_into_place = False
        self._replaced: Path | None = None  # the earlier PATH swap_in put aside
        self.started_with: dict[str, Any] = {}
        #: whether every chunk of level 0 was written with EVERY_CHUNK (a partial begun
        #: by an earlier version skipped those of zeros): the store is then marked so
        self._every_chunk = True
        check_not_input(self.path, inputs)
        check_store_name(self.path)  # a folder "sr.png" (super_resolve(out=...)) opens
        # in no image viewer; and never named like another output's bookkeeping
        self._lock = OutputLock(self.path).acquire() if lock else None
        try:
            self._open(resume)
        except BaseException:
            self.close()
            raise

    def _open(self, resume: bool) -> None:
        import zarr

        from ._codecs import guard_blosc

        guard_blosc()  # a resumed partial's chunk cut short by a kill: an error, not garbage
        self._finish_interrupted_swap()
        remove_stale_swaps(self.path)  # our own .PATH.*.old left by a kill while swapping
        if self.path.exists() or self.path.is_symlink():
            if not self.path.exists():  # a dangling link: it would be written through
                check_not_replacing_link(self.path)
            check_replaceable_store(self.path, self.kind)
            marker = read_marker(self.path)
            stored = marker.get("identity") if marker else None
            diffs = identity_differences(stored, self.identity)
            if not self.overwrite:
                if not diffs and marker.get("complete"):
                    _drop_bookkeeping(self.path)  # left if killed right after the rename
                    _check_not_damaged(self.path)  # not "complete" then: --overwrite
                    self.complete = True
                    return
                raise made_differently_error(self.path, diffs)
        check_not_replacing_link(self.path)  # (re)written from here on: never a link
        check_partial_not_link(self.partial)
        if self.partial.exists():
            old = self._read_manifest()
            marker = read_marker(self.partial)
            finished = _finished_marker(self.partial) is not None
            if finished:
                old = {"identity": marker.get("identity")}
            elif old is None and marker is None:
                if not _creation_debris_only(self.partial):
                    raise OutputError(
                        f"{self.partial} exists and was not written by napari-srmat; it will "
                        "not be touched: move it away or choose another output")
                old = {}  # a run killed while creating it: start over
            elif old is not None and not (self.partial / _DONE_DIR).is_dir():
                old = {}  # created by a run killed before its store was set up: start over
            diffs = identity_differences(old.get("identity"), self.identity) if old else []
            if resume and diffs and not self.overwrite:  # overwrite: start it over
                raise started_differently_error(self.partial, diffs,
                                                error=StreamMismatchError,
                                                stored=old.get("identity"),
                                                requested=self.identity)
            if resume and old and not diffs:
                remove_temp_files(self.partial)  # of writes a kill interrupted
                if finished:  # killed just before the swap: finish it
                    _drop_bookkeeping(self.partial)
                    swap_into_place(self.partial, self.path)
                    self.complete = self.moved_into_place = True
                    return
                self.resumed = True
                self.started_with = started_with(old, self.identity)
                # a partial an earlier version began skipped its chunks of zeros
                self._every_chunk = old.get(ALL_CHUNKS_WRITTEN) is True
            else:
                check_staging_holds_only_ours(self.partial, _STORE_ENTRIES)
                discard_ours(self.partial, last=(_MANIFEST,))  # a kill leaves it ours
        disk_shape = self._disk_shape(self.shape)
        disk_chunks = self._disk_shape((*self.chunks, self.shape[2] if len(self.shape) == 3 else 1))
        if self.resumed:
            self._group = zarr.open_group(str(self.partial), mode="r+")
            self.level0 = self._group["0"].with_config(EVERY_CHUNK)  # not stored
        else:
            # the manifest first (a partial killed during set-up is recognisably ours) and
            # the done folder last (its presence says the store is set up)
            self.partial.mkdir(parents=True)
            manifest = {"creator": "napari-srmat", "identity": self.identity,
                        ALL_CHUNKS_WRITTEN: True,  # every chunk from its first
                        # what a rerun resumes it with (srmat info of a stopped run)
                        "command": _command_line(), "argv": _command_argv()}
            atomic_write_text(self.partial / _MANIFEST, json.dumps(manifest, indent=1))
            # mode "a": "w" would delete the manifest of the (new, empty) folder
            self._group = zarr.open_group(str(self.partial), mode="a", zarr_format=2)
            self.level0 = self._group.create_array(
                "0",
                shape=disk_shape,
                chunks=disk_chunks,
                dtype=self.dtype,
                fill_value=0,
                chunk_key_encoding={"name": "v2", "separator": "/"},
                config=EVERY_CHUNK,
            )
            (self.partial / _DONE_DIR).mkdir()

    def _finish_interrupted_swap(self) -> None:
        """A complete store left in ``PATH.partial`` by a kill between the swap's two
        renames goes into place first (:func:`~napari_srmat._atomic.finish_interrupted_swap`);
        a partial still holding its bookkeeping (the manifest) was not being swapped."""
        if (self.partial / _MANIFEST).exists():
            return

        def prepare(staging: Path) -> None:
            remove_temp_files(staging)
            _drop_bookkeeping(staging)

        finish_interrupted_swap(self.partial, self.path, self.kind, prepare)

    def close(self) -> None:
        """Release the lock (the partial store stays for a later resume)."""
        lock = getattr(self, "_lock", None)
        if lock is not None:
            lock.release()
            self._lock = None

    def __enter__(self) -> OmeZarrStreamWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ helpers
    def _read_manifest(self) -> dict | None:
        try:
            return json.loads((self.partial / _MANIFEST).read_text())
        except (OSError, ValueError):
            return None

    def _disk_shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        if self.axes == "YXC":
            return (int(shape[2]), int(shape[0]), int(shape[1]))
        return (int(shape[0]), int(shape[1]))

    def _block_key(self, block_index: Sequence[int]) -> str:
        idx = tuple(int(i) for i in block_index)[:2]
        if len(idx) != 2 or not all(0 <= i < g for i, g in zip(idx, self.grid)):
            raise IndexError(f"block index {tuple(block_index)} outside the grid {self.grid}")
        return f"{idx[0]}_{idx[1]}"

    def block_slices(self, block_index: Sequence[int]) -> tuple[slice, slice]:
        """Spatial slices ``(ys, xs)`` of a block on the chunk grid."""
        iy, ix = (int(i) for i in tuple(block_index)[:2])
        cy, cx = self.chunks
        return (
            slice(iy * cy, min((iy + 1) * cy, self.shape[0])),
            slice(ix * cx, min((ix + 1) * cx, self.shape[1])),
        )

    def iter_blocks(self) -> Iterator[tuple[int, int]]:
        """All block indices, row-major."""
        for iy in range(self.grid[0]):
            for ix in range(self.grid[1]):
                yield (iy, ix)

    @property
    def n_blocks(self) -> int:
        return self.grid[0] * self.grid[1]

    def is_done(self, block_index: Sequence[int]) -> bool:
        """Whether ``block_index`` was completely written (in this or an earlier run)."""
        return (self.partial / _DONE_DIR / self._block_key(block_index)).exists()

    def n_done(self) -> int:
        """Number of blocks recorded as written."""
        return _n_done(self.partial)

    # ------------------------------------------------------------------ writing
    def write_block(
        self,
        block_index: Sequence[int],
        slices: Sequence[slice] | None,
        data: np.ndarray,
    ) -> None:
        """Write one block (channels-last ``data``) and record it as done.

        Parameters
        ----------
        block_index : tuple of int
            ``(iy, ix)`` on the chunk grid.
        slices : tuple of slice or None
            Spatial region ``(ys, xs)`` of level 0 (``None``: the block's own region).
        data : ndarray
            ``(h, w)`` or ``(h, w, C)`` matching the region.
        """
        _store_block(self, self.level0, block_index, slices, data)

    def block_writer(self) -> PartialBlockWriter:
        """A picklable handle that writes blocks into ``PATH.partial`` from another
        process (a dask worker), while this writer keeps the lock, the manifest, the
        marker and the final swap."""
        # absolute: a worker on another machine has its own working directory
        return PartialBlockWriter(self.path.absolute(), self.partial.absolute(), self.shape,
                                  self.dtype, self.axes, self.chunks, self.grid)

    @property
    def finished(self) -> bool:
        """Whether ``PATH.partial`` holds the finished store of this writer's identity,
        waiting to be moved into place: :meth:`finish` ran (in this run or in one killed
        before its swap), so it holds the complete marker and no manifest. The one rule
        of :meth:`abort` (such a store is kept) and :meth:`swap_in` (only such a store is
        moved into place); read from the disk, so a partial moved away or deleted since is
        not finished."""
        marker = _finished_marker(self.partial)
        return marker is not None and marker.get("kind") == self.kind and not \
            identity_differences(marker.get("identity"), self.identity)

    def abort(self) -> None:
        """Delete an unfinished ``PATH.partial`` (nothing is left behind) and release the
        lock. A :attr:`finished` store is kept: a swap that failed part-way may have
        renamed the earlier output aside, and the next writer of ``PATH`` moves the
        finished store into place (:meth:`_finish_interrupted_swap`)."""
        if not self.complete and not self.finished:
            shutil.rmtree(self.partial, ignore_errors=True)
        self.close()

    def finalize(self, n_levels: int | None = None) -> Path:
        """Build the pyramid, write the metadata, move the store to ``PATH`` and release
        the lock: :meth:`finish`, :meth:`swap_in_whole`, :meth:`remove_replaced`,
        :meth:`close`. A Ctrl-C during the swap's renames is held until the store is in
        place and the lock released, then raised (the output is complete; the earlier
        output, left aside, is deleted by the next writer of ``PATH``); one during the
        deletion of the earlier output stops it at once (the same).

        Parameters
        ----------
        n_levels : int, optional
            As :meth:`finish`.

        Returns
        -------
        Path
            ``PATH``.

        Raises
        ------
        RuntimeError
            As :meth:`finish` (a block never written).
        KeyboardInterrupt
            A Ctrl-C held through the swap, with ``PATH`` complete.
        """
        self.finish(n_levels)
        try:
            ctrl_c = self.swap_in_whole()
            if not ctrl_c.pressed:  # asked to stop: no deletion that takes minutes first
                self.remove_replaced()
        finally:
            self.close()
        ctrl_c.deliver()
        return self.path

    def finish(self, n_levels: int | None = None) -> None:
        """Build the pyramid and write the metadata and the complete marker in
        ``PATH.partial``; ``PATH`` is not touched. An error or a kill meanwhile leaves
        the partial for a rerun to resume; once this returns, the partial is finished
        (:meth:`swap_in` moves it into place, and so does a rerun after a kill).

        Parameters
        ----------
        n_levels : int, optional
            Pyramid levels including level 0 (default: halve until the smallest
            side is <= 512).

        Raises
        ------
        RuntimeError
            If some blocks were never written.
        """
        if self.complete:
            return
        missing = self.n_blocks - self.n_done()
        if missing:
            raise RuntimeError(
                f"{self.partial}: {missing} of {self.n_blocks} blocks not written; cannot finalize"
            )
        if n_levels is None:
            n_levels = default_n_levels(self.shape[:2])
        n_levels = int(n_levels)
        if n_levels < 1:
            raise ValueError(f"n_levels must be >= 1, got {n_levels}")
        # levels left by a finalize that was killed are rebuilt from level 0
        for level in self.partial.iterdir():
            if level.name.isdigit() and level.name != "0":
                shutil.rmtree(level)
        _build_pyramid(self._group, self.axes, self.dtype, n_levels, self.chunks)
        px = self.pixel_size_um
        grid = self.unitless_grid or {}
        y0, x0 = pixel_size_yx(px) or grid.get("scale") or (1.0, 1.0)
        origin = self.origin_um or grid.get("origin")
        # the paths of the run that finished the store are its identity's; those it was
        # started with, where they differ (a moved checkpoint), are kept beside them
        started = {"started_with": self.started_with} if self.started_with else {}
        datasets = []
        lead = [1.0] if self.axes == "YXC" else []
        for lv in range(n_levels):
            transforms = [{"type": "scale", "scale": lead + [y0 * 2**lv, x0 * 2**lv]}]
            if origin:  # a level-lv pixel's centre: (2**lv - 1) / 2 px further
                half = (2**lv - 1) / 2
                transforms.append({"type": "translation", "translation": [0.0] * len(lead) + [
                    origin[0] + half * y0, origin[1] + half * x0]})
            datasets.append({"path": str(lv), "coordinateTransformations": transforms})
        self._group.attrs.update(
            {
                "multiscales": [
                    {
                        "version": "0.4",
                        "name": self.path.name,
                        "axes": _ome_axes(self.axes, self.pixel_size_um),
                        "datasets": datasets,
                        "type": "mean",
                        # (coarser_level's "auto": the max in a chunk of 0 and one value)
                        "metadata": {"method": "2x2 mean (max in a chunk holding only 0 "
                                               "and one other value: a mask)",
                                     "creator": "napari-srmat"},
                    }
                ],
                # the readers' rule: pixel_size_um is the X size, [Y, X] when not square
                "srmat": {**{k: v for k, v in self.attrs.items() if k != ALL_CHUNKS_WRITTEN},
                          "pixel_size_um": x0 if px is not None else None,
                          **({"pixel_size_yx_um": [y0, x0]} if isinstance(px, tuple)
                             else {}), **started,
                          # this store's own record (never a copied input's), and not for
                          # a partial begun without EVERY_CHUNK (resumed after an upgrade)
                          **({ALL_CHUNKS_WRITTEN: True} if self._every_chunk else {})},
            }
        )
        write_marker(self.partial, self.kind, identity=self.identity, complete=True,
                     extra=started)
        # the finished store never carries the bookkeeping (a kill from here on leaves a
        # partial that a rerun only moves into place)
        _drop_bookkeeping(self.partial)

    def swap_in(self) -> Path:
        """Move the :attr:`finished` store from ``PATH.partial`` onto ``PATH`` (the two
        renames of :func:`~napari_srmat._atomic.swap_renames`); :attr:`complete` from then
        on; returns ``PATH``. An earlier output replaced stays aside as
        ``.PATH.<8 hex>.old`` until :meth:`remove_replaced` (or the next writer of
        ``PATH``) deletes it: not while a Ctrl-C is held. The lock stays held
        (:meth:`close`).

        Raises
        ------
        RuntimeError
            ``PATH.partial`` is not :attr:`finished` (:meth:`finish` not run, or the
            folder moved away or deleted since): nothing is moved, ``PATH`` untouched
            (a missing partial renamed the earlier output aside and then failed: nothing
            at ``PATH``).
        """
        if not self.complete:
            if not self.finished:
                raise RuntimeError(f"{self.partial} is not finished (finish() first) or was "
                                   f"moved away or deleted; {self.path} is not touched")
            self._replaced = swap_renames(self.partial, self.path)
            self.complete = True
        return self.path

    def remove_replaced(self) -> None:
        """Delete the earlier output :meth:`swap_in` put aside, if any, its marker files
        last. Not under a Ctrl-C hold: a press stops it at once (a KeyboardInterrupt),
        and the next writer of ``PATH`` removes what is left
        (:func:`~napari_srmat._atomic.remove_stale_swaps`)."""
        old, self._replaced = self._replaced, None
        if old is not None:
            remove_tree_marker_last(old)

    def swap_in_whole(self) -> HeldInterrupt:
        """:meth:`swap_in` with a Ctrl-C held until it is done
        (:func:`~napari_srmat._atomic.ctrl_c_held`): a press between the swap's two
        renames (replacing an earlier output) left the earlier output renamed aside and
        the new store in ``PATH.partial``, nothing at ``PATH``. The one way a finished
        store is moved into place (the tiled engine, :meth:`finalize`).

        Returns
        -------
        HeldInterrupt
            The presses held (``pressed``): the caller tells them (``deliver()`` raises
            them as the KeyboardInterrupt they are).
        """
        with ctrl_c_held() as ctrl_c:
            self.swap_in()
        return ctrl_c


class PartialBlockWriter:
    """Writes blocks into the level 0 of a partial store that an
    :class:`OmeZarrStreamWriter` in another process set up and holds locked.

    Picklable (paths and sizes only; the Zarr array is opened where it is used), so
    dask workers on a shared file system write their own chunks. Like
    :meth:`OmeZarrStreamWriter.write_block`, a block is recorded as done only after
    its data is written.
    """

    def __init__(self, path, partial, shape, dtype, axes, chunks, grid) -> None:
        self.path, self.partial = Path(path), Path(partial)
        self.shape, self.dtype, self.axes = tuple(shape), np.dtype(dtype), axes
        self.chunks, self.grid = tuple(chunks), tuple(grid)
        self._level0 = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_level0": None}

    _block_key = OmeZarrStreamWriter._block_key
    block_slices = OmeZarrStreamWriter.block_slices

    def write_block(self, block_index: Sequence[int], slices: Sequence[slice] | None,
                    data: np.ndarray) -> None:
        """As :meth:`OmeZarrStreamWriter.write_block`."""
        if self._level0 is None:
            import zarr

            self._level0 = zarr.open_array(str(self.partial / "0"),
                                           mode="r+").with_config(EVERY_CHUNK)
        _store_block(self, self._level0, block_index, slices, data)


def _store_block(w, level0, block_index, slices, data) -> None:
    """Write one channels-last block into ``level0`` of ``w.partial``, then its done record."""
    key = w._block_key(block_index)
    if slices is None:
        slices = w.block_slices(block_index)
    ys, xs = slices[0], slices[1]
    data = np.asarray(data)
    expect = (ys.stop - ys.start, xs.stop - xs.start) + w.shape[2:]
    if data.shape != expect:
        raise ValueError(f"block {tuple(block_index)}: data shape {data.shape} != {expect}")
    if data.dtype != w.dtype:
        data = data.astype(w.dtype)
    if not all_finite(data):
        raise ValueError(f"block {tuple(block_index)} holds NaN or Inf values: refusing to "
                         f"write them into {w.path}")
    if w.axes == "YXC":
        level0[:, ys, xs] = np.moveaxis(data, -1, 0)
    else:
        level0[ys, xs] = data
    (w.partial / _DONE_DIR / key).touch()


#: The remedy a damaged complete output's refusal names (:func:`_check_not_damaged`).
DAMAGED_REMEDY = "{damaged}; pass {overwrite} to write it again"


def _check_not_damaged(path: Path) -> None:
    """Refuse a complete output that this run would otherwise return as it is but that
    cannot be read as complete (chunks missing, damaged metadata: what :func:`read_image`
    refuses) with an :class:`~napari_srmat.outputs.OutputError` (the output's, not an
    input's read error) naming the remedy in the caller's words (``--overwrite``,
    ``overwrite=True``). Until 2026-12-07 ``srmat sr run`` said "already complete:
    nothing to do" of it, then failed reading it, without the remedy. Reads metadata and
    chunk listings only."""
    from ..outputs import OVERWRITE
    from ._read import ImageReadError, read_image

    try:
        with warnings.catch_warnings():  # the read that follows tells them, once
            warnings.simplefilter("ignore")
            read_image(path)
    except ImageReadError as exc:
        raise worded_error(OutputError, DAMAGED_REMEDY, damaged=one_line(exc),
                           overwrite=OVERWRITE) from None


def _creation_debris_only(path: Path) -> bool:
    """Nothing but the temporary file of our manifest or marker in ``path``."""
    return only_creation_debris(path, (_MANIFEST,))


def _n_done(partial: Path) -> int:
    """Number of blocks the stream store ``partial`` records as written."""
    d = partial / _DONE_DIR
    return sum(1 for _ in d.iterdir()) if d.is_dir() else 0


def partial_progress(partial: str | os.PathLike) -> dict[str, Any] | None:
    """What the unfinished store of a stopped run holds: ``OUT.partial`` of
    :class:`OmeZarrStreamWriter` (``srmat sr run``), or the one in a folder of it
    (``srmat edges predict``'s maps); None when neither is such a store.

    Parameters
    ----------
    partial : path-like
        ``OUT.partial``.

    Returns
    -------
    dict or None
        ``n_done`` (output chunks written), ``n_chunks``, ``chunk`` (``[cy, cx]`` px),
        ``identity`` (what it was started from and with), ``command`` (the command
        line that started it; None when not recorded, before 2026-12-07) and ``argv``
        (its words as typed, for a shell-quoted quote; None before s51).
    """
    partial = Path(partial)
    if partial.is_symlink() or not partial.is_dir():
        return None
    for store in (partial, *sorted(p for p in partial.iterdir() if p.is_dir())):
        try:
            manifest = json.loads((store / _MANIFEST).read_text())
            identity = manifest["identity"]
            shape, chunks = identity["shape"][:2], identity["chunks"][:2]
            n = math.prod(-(-int(s) // int(c)) for s, c in zip(shape, chunks))
        except (OSError, ValueError, TypeError, KeyError, ZeroDivisionError):
            continue
        command, argv = manifest.get("command"), manifest.get("argv")
        return {"n_done": _n_done(store), "n_chunks": n, "chunk": [int(c) for c in chunks],
                "identity": identity, "command": command if isinstance(command, str) else None,
                "argv": argv if _is_words(argv) else None}
    return None


def _is_words(value: Any) -> bool:
    """Whether ``value`` is a recorded command's words (a list of strings)."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def _finished_marker(partial: Path) -> dict | None:
    """The complete marker of a finished store in ``partial`` (:meth:`OmeZarrStreamWriter.finish`
    writes it, then drops the manifest); None for a partial still being written, or a
    missing one."""
    if partial.is_symlink() or not partial.is_dir() or (partial / _MANIFEST).exists():
        return None
    marker = read_marker(partial)
    return marker if marker and marker.get("complete") else None


def _drop_bookkeeping(path: Path) -> None:
    """Remove the manifest, then the block records (a partial without its manifest but
    with a complete marker is finished: a rerun only moves it into place)."""
    with contextlib.suppress(OSError):
        (path / _MANIFEST).unlink()
    shutil.rmtree(path / _DONE_DIR, ignore_errors=True)


#: Level chunks at least this large (px) are not doubled when building the pyramid.
_PYRAMID_BIG_CHUNK = 2048

#: How :func:`coarser_level` reduces a 2x2 block: ``"mean"`` for intensities (the
#: block's average, no aliasing), ``"max"`` for masks and labels when the caller knows
#: it has one (a 1-px boundary survives at every level, and a label level holds only
#: labels of its block, never an average that is another label; the display levels
#: use it for boolean arrays) and ``"auto"`` (what the written pyramids and the display
#: levels of other arrays use): ``"max"`` for a chunk holding only 0 and one other
#: value (a mask saved as 0/255 or 0/1 integers or floats: its lines faded to 1/4 of
#: their value per level), ``"mean"`` for any other chunk. Decided per chunk when the
#: chunk is computed: nothing is read to choose.
LEVEL_REDUCTIONS = ("mean", "max", "auto")


def _pad_to_even(src, yx: tuple[int, int]):
    """Dask array ``src`` with an odd-length side along ``yx`` extended by its edge."""
    import dask.array as da

    pad = [(0, 0)] * src.ndim
    for ax in yx:
        pad[ax] = (0, src.shape[ax] % 2)
    return da.pad(src, pad, mode="edge") if any(p[1] for p in pad) else src


def coarser_level(level, *, reduce: str = "mean", yx: tuple[int, int] = (0, 1)):
    """The next coarser pyramid level of ``level``: each 2x2 block reduced to one pixel.

    The one rule for a pyramid level of napari-srmat: the levels an OME-Zarr store gets
    (:meth:`OmeZarrStreamWriter.finalize`, :func:`write_ome_zarr`) and the display levels
    of a large single-level image (:func:`napari_srmat._napari_io.display_levels`). A
    side of odd length is first extended by its last row/column (edge), so the level
    covers the whole image (sizes ``ceil(n / 2)``). Lazy: a Dask graph, nothing read.

    Parameters
    ----------
    level : array-like
        NumPy, Dask or Zarr array (channels, if any, outside ``yx``).
    reduce : {"mean", "max", "auto"}
        :data:`LEVEL_REDUCTIONS`. ``"mean"`` keeps the dtype: integers are averaged in
        float (uint8/uint16 exactly, in integers) and rounded half to even, clipped to
        the dtype; floats are averaged in float32. ``"auto"``: ``"max"`` in a chunk of
        two values, 0 and one other (a mask), ``"mean"`` elsewhere.
    yx : (int, int)
        The spatial axes.

    Returns
    -------
    dask.array.Array
        Of ``level``'s dtype.

    Examples
    --------
    >>> import numpy as np
    >>> line = np.zeros((4, 5), np.uint8)
    >>> line[:, 1] = 200  # one pixel wide: every second column misses it
    >>> coarser_level(line).compute()
    array([[100,   0,   0],
           [100,   0,   0]], dtype=uint8)
    >>> coarser_level(line > 0, reduce="max").compute().astype(int)
    array([[1, 0, 0],
           [1, 0, 0]])
    >>> coarser_level(line, reduce="auto").compute()  # 0 and 200 only: a mask
    array([[200,   0,   0],
           [200,   0,   0]], dtype=uint8)
    >>> coarser_level(line + 10, reduce="auto").compute()  # no 0: an image
    array([[110,  10,  10],
           [110,  10,  10]], dtype=uint8)
    """
    import dask.array as da

    if reduce not in LEVEL_REDUCTIONS:
        raise ValueError(f"reduce must be one of {LEVEL_REDUCTIONS}, got {reduce!r}")
    src = level if isinstance(level, da.Array) else da.from_array(
        level, chunks=getattr(level, "chunks", None) or "auto")
    src = _pad_to_even(src, yx)
    factors = {yx[0]: 2, yx[1]: 2}
    if reduce == "max":
        return da.coarsen(np.max, src, factors)
    if reduce == "auto":
        return da.coarsen(_mean_or_mask_max, src, factors)
    return da.coarsen(_block_mean, src, factors)


def _block_mean(x: np.ndarray, axis=None) -> np.ndarray:
    """``coarser_level``'s ``"mean"`` of one chunk (``x`` reshaped by ``da.coarsen``)."""
    if x.dtype.kind == "u" and x.dtype.itemsize <= 2:
        # the rounded mean in integers: no float32 copy of the chunk
        return _rounded_mean_uint(x, axis)
    small = np.mean(x.astype(np.float32), axis=axis)
    if np.issubdtype(x.dtype, np.integer):
        info = np.iinfo(x.dtype)
        small = np.clip(np.round(small), info.min, info.max)
    return small.astype(x.dtype)


def _mean_or_mask_max(x: np.ndarray, axis=None) -> np.ndarray:
    """``coarser_level``'s ``"auto"`` of one chunk: its max if it holds only 0 and one
    other value (a mask), else its mean. A chunk of one value is the same either way."""
    if x.size == 0 or x.dtype == bool or x.min() != 0:
        return np.max(x, axis=axis) if x.dtype == bool else _block_mean(x, axis)
    top = x.max()
    if np.count_nonzero(x) == np.count_nonzero(x == top):
        return np.max(x, axis=axis)
    return _block_mean(x, axis)


def _rounded_mean_uint(x: np.ndarray, axis=None) -> np.ndarray:
    """Mean over ``axis`` (4 values: a 2x2 block) of uint8/uint16, rounded half to even.

    Exactly ``np.round(np.mean(x.astype(np.float32), axis))`` (the sum of four values
    and its quarter are exact in float32) in integer arithmetic: with ``s`` the sum and
    ``q = s // 4``, ``(s + 1 + (q & 1)) // 4``.
    """
    wide = np.uint32 if x.dtype.itemsize == 2 else np.uint16
    axes = () if axis is None else tuple(int(a) for a in np.atleast_1d(axis))
    pair = [a for a in axes if x.shape[a] == 2]
    if len(pair) == 2 and all(x.shape[a] == 1 for a in axes if a not in pair):
        # four strided adds: ~8x faster than a reduction over two axes (dask's coarsen
        # also reduces the channel axis, by a factor of 1)
        def corner(i: int, j: int) -> np.ndarray:
            idx: list[Any] = [slice(None)] * x.ndim
            for a in axes:
                idx[a] = 0
            idx[pair[0]], idx[pair[1]] = i, j
            return x[tuple(idx)]

        s = corner(0, 0).astype(wide)
        s += corner(1, 0)
        s += corner(0, 1)
        s += corner(1, 1)
    else:
        s = np.add.reduce(x, axis=axis, dtype=wide)
    q = s >> 2
    s += 1
    s += q & 1
    s >>= 2
    return s.astype(x.dtype)


def _build_pyramid(group, axes: str, dtype: np.dtype, n_levels: int, chunks) -> None:
    import dask.array as da

    yx = (1, 2) if axes == "YXC" else (0, 1)
    prev = group["0"]
    for lv in range(1, n_levels):
        # coarser_level's edge padding, done before the rechunk below
        src = _pad_to_even(da.from_array(prev, chunks=prev.chunks), yx)
        # blocks of 2 chunks (-> one output chunk) while chunks are small; large chunks
        # (e.g. 3840 px from 1024-px SR tiles) are coarsened one chunk at a time, so a
        # task's float32 copy stays ~chunk^2*C*4 bytes instead of 4x that per worker
        rechunk = {ax: max(2, (min(chunks[i] * 2 if chunks[i] < _PYRAMID_BIG_CHUNK
                                   else chunks[i], src.shape[ax]) // 2) * 2)
                   for i, ax in enumerate(yx)}
        small = coarser_level(src.rechunk(rechunk), reduce="auto", yx=yx)
        lchunks = list(small.shape)
        for i, ax in enumerate(yx):
            lchunks[ax] = min(chunks[i], small.shape[ax])
        small = small.rechunk(tuple(lchunks))
        arr = group.create_array(
            str(lv),
            shape=small.shape,
            chunks=tuple(lchunks),
            dtype=dtype,
            fill_value=0,
            chunk_key_encoding={"name": "v2", "separator": "/"},
            config=EVERY_CHUNK,
        )
        da.store(small, arr, lock=False)
        prev = arr


def _as_yx_c(data, axes: str | None):
    """Return (array, axes) channels-last for numpy/dask/zarr/Micrograph input."""
    import dask.array as da

    pixel = None
    from ._read import Micrograph, image_data

    if isinstance(data, Micrograph):
        pixel = data.store_pixel_size  # (Y, X) when not square: a per-axis scale
        axes = axes or data.axes
        data = data.data
    if axes is not None and not isinstance(axes, str):
        raise TypeError(f"axes must be 'YX', 'YXC' or 'CYX' (or None to infer it), got "
                        f"{axes!r}")
    cyx = axes is not None and axes.upper() == "CYX"
    data, _ = image_data(data, name="data", channels_first=cyx)
    shape = tuple(int(n) for n in data.shape)
    if cyx and (len(shape) != 3 or shape[0] > 4):
        raise ValueError(f"axes='CYX' declares data channel-first (C <= 4, H, W), but it has "
                         f"shape {shape}; leave axes out for an (H, W) or (H, W, C) image")
    if axes is None and len(shape) not in (2, 3):
        raise ValueError(f"data must be an (H, W) or (H, W, C) image, got shape {shape}")
    if not isinstance(data, da.Array):
        if isinstance(data, np.ndarray):
            data = da.from_array(data, chunks=(1024,) * min(2, data.ndim) + data.shape[2:])
        else:
            # an xarray DataArray of numpy data has chunks None ("You must specify a
            # chunks= keyword argument")
            data = da.from_array(data, chunks=getattr(data, "chunks", None) or "auto")
    if cyx:
        data = da.moveaxis(data, 0, -1)
        axes = "YXC"
    return data, _norm_axes(axes, data.ndim), pixel


def _replaceable_image_store(path: Path) -> None:
    """Refuse an existing ``path`` that :func:`write_ome_zarr` will not replace, before
    any overwrite advice: a symbolic link (even to a store of its own: until 2026-12-07
    the advice to pass ``overwrite=True`` came first, then the link was refused), or
    anything but an OME-Zarr image it wrote."""
    check_not_replacing_link(path)
    check_replaceable_store(path, OME_ZARR_IMAGE_KIND)


def write_ome_zarr(
    data,
    path: str | os.PathLike,
    *,
    pixel_size_um: float | tuple[float, float] | None = None,
    origin_um: Sequence[float] | None = None,
    unitless_grid: dict | None = None,
    axes: str | None = None,
    n_levels: int | None = None,
    chunks: int | Sequence[int] | None = None,
    overwrite: bool = False,
    stop=None,
) -> Path:
    """Write an image as an OME-NGFF 0.4 multiscale OME-Zarr (Zarr v2), atomically.

    Parameters
    ----------
    data : ndarray, dask array, zarr array or Micrograph
        ``(H, W)`` or ``(H, W, C)``; ``axes="CYX"`` accepts channel-first input (a
        ``(C <= 4, H, W > 4)`` array without it is refused, not written as ``W``
        channels: :func:`napari_srmat.io.image_data`).
        Dask input is written block by block, so it may be larger than memory.
    path : path-like
        Destination directory (conventionally ``*.ome.zarr``).
    pixel_size_um : float or (float, float), optional
        Level-0 pixel size, or ``(Y, X)`` sizes for pixels that are not square (written
        as a per-axis ``scale``). Defaults to the Micrograph's (both sizes when its
        pixels are not square).
    origin_um : (float, float), optional
        ``(Y, X)`` position in µm of the centre of pixel ``(0, 0)`` (a napari layer's
        ``translate``; :class:`OmeZarrStreamWriter`).
    unitless_grid : dict, optional
        Without a pixel size: ``{"scale": (Y, X), "origin": (Y, X)}`` in unit-less
        coordinates (:class:`OmeZarrStreamWriter`).
    axes : {"YX", "YXC", "CYX"}, optional
        Layout of ``data``; inferred from its dimensionality by default.
    n_levels : int, optional
        Pyramid levels (default: 2x mean downsampling until the smallest side <= 512); at
        most the number of halvings to 1 x 1 px plus one.
    chunks : int or tuple, optional
        Spatial chunk size on disk (default 1024): ``(cy, cx)``, or ``(cy, cx, c)`` for
        data with channels (the channel axis stays one chunk).
    overwrite : bool
        Replace an existing store (the old one stays until the new one is complete).
        A replacement an interruption left half done (``path`` missing) is first
        completed (its finished store moved into place) or undone (the earlier store,
        aside as ``.NAME.<8 hex>.old``, put back with a warning); then that store is
        replaced, or without ``overwrite`` refused.
    stop : StopToken, optional
        Checked between blocks; when set, the partial store is deleted and
        :class:`napari_srmat.jobs.JobCancelled` is raised.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    napari_srmat.outputs.OutputExistsError
        ``path`` exists (also once put back or completed as above) and ``overwrite`` is
        False; or, with or without ``overwrite``, ``path`` is a file or a folder that is
        not a store of :data:`OME_ZARR_IMAGE_KIND` napari-srmat wrote (it is never
        replaced: :func:`check_replaceable_store`, checked first, by
        :func:`napari_srmat.outputs.check_existing_output`).
    KeyboardInterrupt
        A Ctrl-C during the swap into place, raised once ``path`` is complete.

    Examples
    --------
    >>> img = np.zeros((2048, 2048), np.uint8)
    >>> write_ome_zarr(img, "x.ome.zarr", pixel_size_um=0.5)  # doctest: +SKIP
    """
    import dask

    from ..jobs import JobCancelled, check_stop
    from ._data import IMAGE_SUFFIXES

    stop = check_stop(stop)

    path = path_arg(path, "write_ome_zarr", example="scan.ome.zarr",
                    hint="the image comes first: write_ome_zarr(data, path)")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        raise ValueError(
            f"{path}: write_ome_zarr writes an OME-Zarr folder, not a "
            f"{path.suffix} file; give a path ending in .zarr (e.g. "
            f"{path.with_suffix('.ome.zarr').name})")
    pixel_size_um = check_pixel_size_yx(pixel_size_um)
    if n_levels is not None:  # checked before the blocks are written, not after
        n_levels = check_number("n_levels", n_levels, lo=1, integer=True)
    _spatial_chunks(chunks)  # a bad chunks argument fails before the data is looked at
    arr, axes, pixel = _as_yx_c(data, axes)
    chunks = _spatial_chunks(chunks, 1024, shape=arr.shape)
    if n_levels is not None:  # n_levels=100 wrote 94 copies of a 1 x 1 level
        most = 1 + (max(arr.shape[:2]) - 1).bit_length()  # halvings until 1 x 1 px
        if n_levels > most:
            raise ValueError(f"n_levels must be at most {most} for a {arr.shape[0]} x "
                             f"{arr.shape[1]} px image (halved until it is 1 x 1 px), got "
                             f"{n_levels}")
    if pixel_size_um is None:
        pixel_size_um = pixel
    if not check_flag("overwrite", overwrite) and os.path.lexists(path):
        check_existing_output(path, overwrite=False, holds="already exists",
                              replaceable=_replaceable_image_store)
    writer = OmeZarrStreamWriter(
        path,
        arr.shape,
        arr.dtype,
        chunks=chunks,
        axes=axes,
        pixel_size_um=pixel_size_um,
        origin_um=origin_um,
        unitless_grid=unitless_grid,
        resume=False,
        overwrite=overwrite,
    )
    if writer.complete:  # without overwrite, OUT appeared as the writer opened: the
        # replacement an interruption left half swapped was finished, or the earlier store
        # put back (with overwrite it is then replaced, as asked): not written over
        writer.close()
        raise exists_error(path, holds="already exists")
    try:
        blocks = list(writer.iter_blocks())
        group = max(1, os.cpu_count() or 1)
        for start in range(0, len(blocks), group):
            if stop is not None and stop.stop_requested:
                raise JobCancelled(f"writing {path} cancelled")
            batch = blocks[start : start + group]
            slices = [writer.block_slices(b) for b in batch]
            values = dask.compute(*[arr[s] for s in slices])
            for b, s, v in zip(batch, slices, values):
                writer.write_block(b, s, v)
        return writer.finalize(n_levels)
    except BaseException:
        writer.abort()
        raise
