"""npe2 reader and writer contributions.

The reader opens micrographs lazily (Dask) through :func:`napari_srmat.io.read_image`;
multiscale files (OME-Zarr, pyramidal OME-TIFF) become multiscale layers, and a known
pixel size becomes the layer ``scale`` in micrometres. The writer saves an image layer
as an OME-Zarr pyramid through :func:`napari_srmat.io.write_ome_zarr`.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

__all__ = ["get_reader", "read_micrograph", "write_image", "layer_pixel_size_um",
           "layer_pixel_sizes", "layer_non_square", "display_levels"]

from .io._read import MICROSCOPE_SUFFIXES

#: Suffixes of the files the reader claims (lower case). A folder is claimed when it is
#: a Zarr store (:func:`napari_srmat.io.is_zarr_store`; its name does not count).
#: Microscope formats go through bioio.
READ_SUFFIXES = (".tif", ".tiff", ".btf", ".png", ".jpg", ".jpeg", *MICROSCOPE_SUFFIXES)

LayerData = tuple[Any, dict, str]

#: A single-level image whose larger side exceeds this opens as a multiscale layer
#: (:func:`display_levels`): napari draws a non-multiscale image that large as one
#: downsampled texture, so zooming in never showed its full resolution.
DISPLAY_PYRAMID_MIN_SIDE = 8192
#: :func:`display_levels` halves until the larger side is at most this.
DISPLAY_PYRAMID_TOP_SIDE = 2048


def display_levels(level0, *, reduce: str | None = None) -> list:
    """Lazy display levels of a large single-level image: ``level0`` and its 2x, 4x, ...
    coarser levels, each made from the one before by
    :func:`napari_srmat.io.coarser_level` (the rule of the pyramid our OME-Zarr stores
    get), until the larger side is at most :data:`DISPLAY_PYRAMID_TOP_SIDE`;
    ``[level0]`` for an image whose sides are at most :data:`DISPLAY_PYRAMID_MIN_SIDE`.

    Strided levels (every 2nd, 4th, ... pixel) aliased: a boundary 1-3 px wide vanished
    or flickered when zoomed out. A 2x2 block mean keeps its trace in an image; a mask
    or label image (``reduce="max"``) keeps it whole. The levels are Dask graphs (nothing
    is read until napari draws a region of one), so they cost nothing up front. The
    reader hands napari the coarse ones computed in the background
    (:func:`levels_in_background`): napari reads the coarsest level when it makes the
    layer.

    The coarse levels are for display only: every measurement and job reads level 0
    (the widgets' ``micrograph_data``), as for the pyramid of an OME-Zarr file.

    Parameters
    ----------
    level0 : array-like
        ``(H, W)`` or ``(H, W, C)``.
    reduce : {"mean", "max", "auto"}, optional
        How a 2x2 block becomes a pixel (:data:`napari_srmat.io.LEVEL_REDUCTIONS`);
        default ``"max"`` for a boolean mask, ``"auto"`` for anything else (the max of
        a chunk holding only 0 and one other value, e.g. a mask saved as 0/255, decided
        when napari draws it; the mean elsewhere).

    Examples
    --------
    >>> import numpy as np
    >>> [lv.shape for lv in display_levels(np.zeros((9000, 100), np.uint8))]
    [(9000, 100), (4500, 50), (2250, 25), (1125, 13)]
    >>> len(display_levels(np.zeros((4000, 4000, 3), np.uint8)))
    1
    """
    levels = [level0]
    if max(level0.shape[:2]) <= DISPLAY_PYRAMID_MIN_SIDE:
        return levels
    from .io import coarser_level

    if reduce is None:
        reduce = "max" if level0.dtype == bool else "auto"
    # a Dask level 0's chunk size is kept at every level (2x2 chunks become one), so a
    # coarse level is not thousands of tiny tasks
    chunks = getattr(level0, "chunksize", None)
    while max(levels[-1].shape[:2]) > DISPLAY_PYRAMID_TOP_SIDE:
        level = coarser_level(levels[-1], reduce=reduce)
        if chunks is not None:
            level = level.rechunk({ax: min(chunks[ax], level.shape[ax]) for ax in (0, 1)})
        levels.append(level)
    return levels


#: Display levels from this one on (level 0 = the file's) are computed in a background
#: thread when a large single-level file opens (:func:`levels_in_background`); the
#: finer ones stay lazy (a view of them reads about its own region of level 0).
BACKGROUND_FROM_LEVEL = 2


class BackgroundLevel:
    """A display level of a large single-level file computed in a background thread
    (:func:`levels_in_background`); blank (zeros) until then.

    A level of a file whose channels napari splits into layers (``split_channels``:
    ``channel_axis=2``, :func:`read_micrograph`) gives napari's channel slice
    (``level[:, :, c]``, how napari splits each level when it makes the layers) as a
    2-D view of it (:meth:`channel`), blank until the level is computed, then its
    channel: a plain slice was a blank copy that stayed blank.

    Attributes
    ----------
    shape, dtype, ndim, size
        The level's, as napari needs them.
    pixels : numpy.ndarray or None
        The level once computed (a channel view: its channel of it).
    done : threading.Event
        Set when the computation ended (``pixels`` None after a read error, or when
        the pass was stopped).
    stop : threading.Event
        Set to stop the pass (no layer of an open viewer shows its levels any more);
        the levels stay blank.
    whole : BackgroundLevel
        The level computed (itself, or the level a channel view is of).
    """

    def __init__(self, lazy, done, *, split_channels: bool = False,
                 stop: threading.Event | None = None) -> None:
        self.shape = tuple(int(n) for n in lazy.shape)
        self.dtype = np.dtype(lazy.dtype)
        self.ndim = len(self.shape)
        self.size = int(np.prod(self.shape))
        self.done = done
        self.stop = threading.Event() if stop is None else stop
        self.whole = self
        self.split_channels = split_channels
        self._pixels: np.ndarray | None = None
        self._channel: int | None = None

    @property
    def pixels(self) -> np.ndarray | None:
        if self.whole is self:
            return self._pixels
        pixels = self.whole.pixels
        return None if pixels is None else pixels[..., self._channel]

    @pixels.setter
    def pixels(self, value: np.ndarray | None) -> None:
        self._pixels = value

    def channel(self, index: int) -> BackgroundLevel:
        """The 2-D view of channel ``index`` of this ``(H, W, C)`` level."""
        import copy

        view = copy.copy(self)
        view.shape = self.shape[:-1]
        view.ndim, view.size = len(view.shape), int(np.prod(view.shape))
        view.whole, view._channel, view.split_channels = self, int(index), False
        return view

    def __getitem__(self, key):
        if self.split_channels and _channel_key(key, self.ndim) is not None:
            return self.channel(_channel_key(key, self.ndim))
        if self.pixels is not None:
            return self.pixels[key]
        blank = np.broadcast_to(np.zeros((), self.dtype), self.shape)  # no allocation
        return np.array(blank[key])

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self[...], dtype=dtype)

    def __len__(self) -> int:
        return self.shape[0]


def _channel_key(key: Any, ndim: int) -> int | None:
    """The channel of ``key`` when it is napari's slice of one channel of a 3-D level
    (``[:, :, c]``: all rows and columns, one integer on the last axis), else None."""
    if not isinstance(key, tuple) or len(key) != ndim or ndim != 3:
        return None
    *rows_cols, channel = key
    if not all(k == slice(None) for k in rows_cols) or isinstance(channel, (bool, np.bool_)):
        return None
    return int(channel) if isinstance(channel, (int, np.integer)) else None


def levels_in_background(levels: list, metadata: dict | None = None, *,
                         split_channels: bool = False) -> list:
    """``levels`` (:func:`display_levels`), those from :data:`BACKGROUND_FROM_LEVEL` on
    computed in one background thread (:class:`BackgroundLevel`), the napari layers
    showing them redrawn when they are done (contrast limits from their pixels where
    napari took them from the blank levels).

    napari reads the coarsest level of a multiscale layer when it makes the layer (its
    thumbnail and first view), and a zoomed-out view a coarse level: a lazy level made
    from level 0 decoded all of level 0 on the GUI thread (a 20000² TIFF froze the window
    5.9 s at open, +670 MB; RGB +1.9 GB). The layer now appears at once and fills in
    when the levels are computed (one pass over level 0; they hold 1/12 of its pixels).

    The pass runs dask without the global dask callbacks (napari's ``dask.cache.Cache``
    is not thread-safe: sharing it with the GUI thread's reads raised ``KeyError`` in
    the pass) and stops when the last layer of an open viewer showing its levels is
    removed (or its viewer closes; :attr:`BackgroundLevel.stop`).

    Parameters
    ----------
    levels : list of dask.array.Array
        Level 0 first.
    metadata : dict, optional
        The layer's: a read error of the pass (a damaged tile; the coarse levels stay
        blank) is added to its ``"read_warnings"`` and told as a warning (napari: a
        notification).
    split_channels : bool, optional
        napari splits the levels' last axis into one layer per channel
        (``channel_axis=2``): each channel's layer gets a view of the computed levels
        (:meth:`BackgroundLevel.channel`).

    Returns
    -------
    list
        Levels 0 .. :data:`BACKGROUND_FROM_LEVEL` - 1 as given, then
        :class:`BackgroundLevel` s.
    """
    lazy = levels[BACKGROUND_FROM_LEVEL:]
    if not lazy:
        return levels
    done, stop = threading.Event(), threading.Event()
    made = [BackgroundLevel(lv, done, split_channels=split_channels, stop=stop)
            for lv in lazy]

    def stop_if_asked(*_) -> None:  # a dask pretask callback: before each task
        if stop.is_set():
            raise _PassStopped

    def compute() -> None:
        import dask

        note = None
        try:  # one graph: level 0 read once, each level made from the one before; in
            # this thread (a threaded pass left an idle dask pool per open); its own
            # callbacks only: the global ones (napari's dask cache) are not thread-safe,
            # and without callbacks= dask swaps the global set while it runs
            computed = dask.compute(*lazy, scheduler="synchronous",
                                    callbacks=[(None, None, stop_if_asked, None, None)])
            for level, pixels in zip(made, computed):
                level.pixels = np.asarray(pixels)
        except _PassStopped:  # no layer shows the levels: nothing to draw
            return
        except Exception as exc:  # noqa: BLE001 - a read error (a damaged tile): told
            from .errors import error_message

            note = f"{error_message(exc)}; its coarse display levels stay blank"
            if metadata is not None:
                metadata["read_warnings"] = [*metadata.get("read_warnings", []), note]
        finally:
            _RUNNING.pop(stop, None)
            done.set()
        _refresh_layers_of(made[-1], note)

    _RUNNING[stop] = made
    _stop_with_the_layers()
    threading.Thread(target=compute, daemon=True, name="napari-srmat display levels").start()
    return [*levels[:BACKGROUND_FROM_LEVEL], *made]


class _PassStopped(Exception):
    """The background pass was stopped (:attr:`BackgroundLevel.stop`)."""


#: The background passes still computing: their stop event -> their levels.
_RUNNING: dict[threading.Event, list[BackgroundLevel]] = {}


def _stop_with_the_layers() -> None:
    """Have each open napari viewer stop the background passes when it removes their
    last layer (:func:`_stop_unshown_passes`; closing a viewer removes its layers).
    Nothing where napari is not loaded (no viewer to show the levels)."""
    viewer_module = sys.modules.get("napari.viewer")
    for viewer in list(getattr(getattr(viewer_module, "Viewer", None), "_instances", ())):
        viewer.layers.events.removed.connect(_stop_unshown_passes)  # once: napari
        # ignores a callback already connected


def _background_levels_of(layer: Any) -> list[BackgroundLevel]:
    """The background levels (:class:`BackgroundLevel`, whole) a napari layer shows."""
    data = layer.data if getattr(layer, "multiscale", False) else ()
    return [lv.whole for lv in data if isinstance(lv, BackgroundLevel)]


def _stop_unshown_passes(event: Any) -> None:
    """(napari ``layers.events.removed``) Stop the background passes whose levels the
    removed layer showed and no layer of an open viewer shows now."""
    removed = {id(lv) for lv in _background_levels_of(getattr(event, "value", None))}
    if not removed:
        return
    from napari.viewer import Viewer

    shown = {id(lv) for viewer in list(Viewer._instances) for layer in list(viewer.layers)
             for lv in _background_levels_of(layer)}
    for stop, made in list(_RUNNING.items()):
        ids = {id(lv) for lv in made}
        if ids & removed and not ids & shown:
            stop.set()


def _refresh_layers_of(level: BackgroundLevel, note: str | None = None) -> None:
    """Redraw (main thread) the napari layers that show ``level`` (or a channel of it),
    with contrast limits
    from the computed levels where napari took them from the blank ones (any dtype but
    uint8; from the pixels, not from the still blank view). ``note``: the pass's read
    error, told as a warning (napari: a notification, on the main thread) and added to
    the layers' ``metadata["read_warnings"]``; the levels stay blank."""
    try:
        from qtpy.QtWidgets import QApplication
        from superqt.utils import ensure_main_thread
    except ImportError:  # no Qt: nothing drawn
        QApplication = None  # noqa: N806
    if QApplication is None or QApplication.instance() is None:
        if note:
            warnings.warn(note, UserWarning, stacklevel=2)
        return

    @ensure_main_thread
    def refresh() -> None:
        from napari.utils.notifications import show_warning
        from napari.viewer import Viewer

        if note:
            show_warning(note)
        for viewer in list(getattr(Viewer, "_instances", ())):
            for layer in list(viewer.layers):
                if not any(lv is level for lv in _background_levels_of(layer)):
                    continue
                told = layer.metadata.get("read_warnings", [])
                if note and note not in told:  # napari copied the reader's metadata
                    layer.metadata["read_warnings"] = [*told, note]
                if not note:
                    # napari keeps the coarsest level it read (the blank one): dropped
                    # without a data event (which tells widgets the pixels changed)
                    if hasattr(layer, "_reset_thumbnail_level_data"):
                        layer._reset_thumbnail_level_data()
                    else:  # another napari: replaced by the same levels
                        layer.data = layer.data_raw
                    if level.dtype != np.uint8:
                        layer.reset_contrast_limits_range(mode="data")
                        layer.reset_contrast_limits(mode="data")
                    layer.refresh()

    refresh()


def _claims(path: str | os.PathLike) -> bool:
    """Whether the reader takes ``path``: a file with a suffix of :data:`READ_SUFFIXES`,
    or a folder :func:`napari_srmat.io.read_image` reads as a Zarr store
    (:func:`napari_srmat.io.is_zarr_store`, whatever the folder's name); False for what
    it may not look at (a folder without read permission raised PermissionError from
    napari's reader lookup)."""
    from .io import is_zarr_store

    p = Path(path)
    try:
        if not p.exists():
            return False
        if p.is_dir():
            return is_zarr_store(p)
    except OSError:
        return False
    return p.suffix.lower() in READ_SUFFIXES


def get_reader(path: str | os.PathLike | Sequence[str | os.PathLike]) -> Callable | None:
    """Return a reader function for ``path``, or None if this plugin cannot read it.

    Parameters
    ----------
    path : path-like or list of path-likes
        File(s) or Zarr directory(ies) napari asks about.

    Returns
    -------
    callable or None
        ``reader(path) -> list[LayerData]`` when every path exists and is a file with
        a supported suffix or a folder that :func:`napari_srmat.io.read_image` reads as
        a Zarr store (:func:`napari_srmat.io.is_zarr_store`: a ``.zarr`` folder without
        Zarr metadata is not one); None otherwise so napari tries other readers, also
        for a path it may not look into (no permission).
    """
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    if not paths or not all(_claims(p) for p in paths):
        return None
    return read_micrograph


def _layer_name(path: str | os.PathLike) -> str:
    """A layer's name from its file: the name without its endings (``scan.ome.zarr``,
    ``scan.ome.tif`` and ``scan.png`` all give ``scan``: :func:`napari_srmat.io.image_stem`)."""
    from .io import image_stem

    return image_stem(path)


def _units_um() -> tuple[str, str]:
    return ("micrometer", "micrometer")


def sr_store_records(metadata: Mapping) -> dict[str, Any]:
    """What the layer of an SR output store (``srmat sr run``, the SR widget's store)
    records of the model that made it, as a fresh run's layer has them
    (:func:`napari_srmat.widgets.layers.sr_model_records` and its factor): read from the
    store's ``attrs["srmat"]`` (``model``, ``scale``, ``weights``); empty for any other
    image. The factor is the library's reading of it
    (:func:`napari_srmat.metrics.sr.sr_output_scale`: the model's ``scale``, else its
    tiling's; None when not a whole number >= 1), so the widgets and ``srmat grain-size``
    measure a store at the same factor. A store written before 2026-12-07 records no
    ``weights``: none is given (:func:`unrecorded_weights_note` tells a learned network's).

    Parameters
    ----------
    metadata : mapping
        The image's metadata (:func:`napari_srmat.io.read_image`).

    Returns
    -------
    dict
        ``{"sr_model", "sr_factor", "sr_weights"}`` (the last one only when recorded).

    Examples
    --------
    >>> sr_store_records({"srmat": {"operation": "super_resolution", "model": "cnn",
    ...                             "scale": 2, "weights": "untrained"}})
    {'sr_model': 'cnn', 'sr_factor': 2, 'sr_weights': 'untrained'}
    >>> sr_store_records({"srmat": {"operation": "boundaries"}})
    {}
    """
    from .metrics.sr import sr_output_scale
    from .sr.apply import SR_OUTPUT_KIND
    from .widgets.layers import SR_FACTOR_KEY, SR_WEIGHTS_KEY

    recorded = metadata.get("srmat")
    if not isinstance(recorded, Mapping) or recorded.get("operation") != SR_OUTPUT_KIND:
        return {}
    records = {"sr_model": recorded.get("model"), SR_FACTOR_KEY: sr_output_scale(recorded)}
    if recorded.get("weights") is not None:
        records[SR_WEIGHTS_KEY] = recorded["weights"]
    return records


#: What the layer of an SR store written before 2026-12-07 (4582ff5b: no ``weights``
#: entry in its ``attrs["srmat"]``) says of its learned network on opening
#: (:func:`unrecorded_weights_note`).
WEIGHTS_NOT_RECORDED = "weights not recorded (written by an older version)"


def unrecorded_weights_note(metadata: Mapping) -> str:
    """The note of an SR store whose network's weights are not recorded (written before
    2026-12-07) and cannot be told from the rest of its record: a learned model
    (:data:`~napari_srmat.sr.registry.TRAINABLE_MODELS`) run without a checkpoint, whose
    network was the shipped weights or an untrained one (an ``cnn`` x2 then: bicubic);
    else ``""`` (a recorded ``weights``, an interpolation, a checkpoint's network: what
    :func:`napari_srmat.sr.rescan.model_weights` says of them needs no record).

    Parameters
    ----------
    metadata : mapping
        The image's metadata (:func:`napari_srmat.io.read_image`).

    Returns
    -------
    str
        ``"MODEL xSCALE: weights not recorded (...): whether its network was trained is
        not known"``, or ``""``.

    Examples
    --------
    >>> unrecorded_weights_note({"srmat": {"operation": "super_resolution", "model": "cnn",
    ...                                    "scale": 2, "checkpoint": None}}).split(": ")[:2]
    ['cnn x2', 'weights not recorded (written by an older version)']
    >>> unrecorded_weights_note({"srmat": {"operation": "super_resolution", "model": "cnn",
    ...                                    "scale": 2, "weights": "untrained"}})
    ''
    """
    from .sr.registry import TRAINABLE_MODELS

    records = sr_store_records(metadata)
    recorded = metadata.get("srmat") or {}
    if (not records or recorded.get("weights") is not None
            or records["sr_model"] not in TRAINABLE_MODELS
            or recorded.get("checkpoint") is not None):
        return ""
    return (f"{records['sr_model']} x{recorded.get('scale')}: {WEIGHTS_NOT_RECORDED}: "
            "whether its network was trained is not known")


def read_micrograph(path: str | os.PathLike | Sequence[str | os.PathLike]) -> list[LayerData]:
    """Read one or several micrographs as lazy napari layer data.

    Parameters
    ----------
    path : path-like or list of path-likes

    Returns
    -------
    list of (data, kwargs, "image")
        ``data`` is a Dask array, or a list of Dask arrays (level 0 first) for
        multiscale files and for single-level images larger than
        :data:`DISPLAY_PYRAMID_MIN_SIDE` (:func:`display_levels`; the coarse ones
        computed in a background thread, :func:`levels_in_background`). ``kwargs`` holds
        ``name``, ``rgb``, ``multiscale``, ``metadata`` (with ``pixel_size_um`` and
        ``path``) and, when the pixel size is known, ``scale`` and ``units`` in
        micrometres, and ``translate`` (µm) for an OME-Zarr store with a translation
        (``metadata["origin_um"]``, e.g. a layer saved by :func:`write_image` or an
        ``srmat sr run`` output). Without a pixel size, an OME-Zarr store with unit-less
        ``scale`` / ``translation`` transforms (``metadata["unitless_grid"]``: an SR
        output of an image without one, in its input's pixels) gets them as its
        ``scale`` and ``translate``, with no unit. A file
        whose pixels are not square opens with its ``(Y, X)`` sizes
        as the scale (the right aspect); ``metadata["pixel_size_um"]`` is the X size and
        ``metadata["pixel_size_yx_um"]`` both, as :func:`napari_srmat.io.read_image`
        gives them (the widgets then use no pixel size: :func:`layer_pixel_size_um`). An
        image whose channels are not RGB or RGBA (e.g. two channels) gets
        ``channel_axis=2``: napari opens one 2-D layer per channel. An SR output store's
        layer records its model, factor and weights as a fresh run's layer does
        (:func:`sr_store_records`); one of an untrained network warns so (napari: a
        notification), as the SR widget's done line says it; an older store of a learned
        network, its weights not recorded, warns that too and keeps it in
        ``metadata["read_warnings"]`` (:func:`unrecorded_weights_note`).
    """
    from .io import read_image
    from .io._float import channel_rule_note
    from .widgets.layers import untrained_note

    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    out: list[LayerData] = []
    for p in paths:
        with warnings.catch_warnings(record=True) as told:
            warnings.simplefilter("always")
            mic = read_image(p)
        levels = list(mic.levels) or [mic.data]
        rgb = mic.axes == "YXC" and int(levels[0].shape[-1]) in (3, 4)
        meta = dict(mic.metadata or {})
        # channels split into layers are each grey: the reader's channel note does not apply
        split = mic.axes == "YXC" and not rgb
        dropped = channel_rule_note(levels[0].shape, source=str(p)) if split else None
        if dropped:
            meta["read_warnings"] = [m for m in meta["read_warnings"] if m != dropped]
        for warning in told:
            if str(warning.message) != dropped:
                warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                       warning.lineno)
        meta["pixel_size_um"] = mic.pixel_size_um
        meta["path"] = str(p)
        meta.update(sr_store_records(meta))
        if note := untrained_note(meta):  # its SR is no trained network's: told on opening
            warnings.warn(f"{p}: {note}", UserWarning, stacklevel=2)
        elif note := unrecorded_weights_note(meta):  # an older store's: not known, told
            # and kept with the reader's notes (until 2026-12-07 nothing was said)
            meta["read_warnings"] = [*meta.get("read_warnings", []), note]
            warnings.warn(f"{p}: {note}", UserWarning, stacklevel=2)
        kwargs: dict[str, Any] = {
            "name": _layer_name(p),
            "rgb": rgb,
            "metadata": meta,
        }
        if len(levels) == 1:  # a large single-level image: display levels
            levels = display_levels(levels[0])
            if len(levels) > 1:
                meta["display_levels"] = True  # made from level 0 (lazily), not a file's
            if len(levels) > 1:  # napari reads the coarsest at once (split channels:
                # each channel layer a view of the computed levels)
                levels = levels_in_background(levels, meta, split_channels=split)
        if len(levels) > 1:
            kwargs["multiscale"] = True
            data: Any = levels
        else:
            kwargs["multiscale"] = False
            data = levels[0]
        if mic.pixel_size_um:
            kwargs["scale"] = mic.pixel_size_yx_um  # (px, px) for square pixels
            kwargs["units"] = _units_um()
            if meta.get("origin_um"):  # an OME-Zarr translation (the writer's below)
                kwargs["translate"] = tuple(meta["origin_um"])
        elif meta.get("unitless_grid"):  # no pixel size: e.g. an SR store's place over
            kwargs["scale"] = tuple(meta["unitless_grid"]["scale"])  # its input's pixels
            kwargs["translate"] = tuple(meta["unitless_grid"]["origin"])
        if mic.axes == "YXC" and not rgb:
            # channels that are not RGB(A) (two channels, five, ...): one 2-D layer per
            # channel; as one layer napari would show a 3-D stack sliced along the rows
            # (and refuse its 2-D scale and units)
            n = int(levels[0].shape[-1])
            kwargs["channel_axis"] = 2
            kwargs["name"] = [f"{kwargs['name']} [channel {i}]" for i in range(n)]
        out.append((data, kwargs, "image"))
    return out


class LayerPixelSizes(NamedTuple):
    """A layer's pixel sizes, all read from one look at its ``metadata``, ``scale`` and
    ``units`` (:func:`layer_pixel_sizes`).

    Attributes
    ----------
    size_um : float or None
        Its one pixel size (:func:`layer_pixel_size_um`).
    yx_um : (float, float) or None
        Its ``(Y, X)`` sizes in µm when its pixels are not square
        (:func:`layer_pixel_size_yx_um`).
    non_square : (float, float) or None
        Its ``(Y, X)`` sizes, in µm or not, when its pixels are not square
        (:func:`layer_non_square`).
    """

    size_um: float | None
    yx_um: tuple[float, float] | None
    non_square: tuple[float, float] | None

    @property
    def store(self) -> float | tuple[float, float] | None:
        """What a store written from the layer records (:func:`layer_store_pixel_size`)."""
        return self.yx_um or self.size_um


def layer_pixel_sizes(layer: Any) -> LayerPixelSizes:
    """The pixel sizes of a layer, reading its ``metadata``, ``scale`` and ``units`` once:
    the one rule of :func:`layer_pixel_size_um`, :func:`layer_pixel_size_yx_um`,
    :func:`layer_non_square` and :func:`layer_store_pixel_size` (each is one of its
    fields). A handler of a layer's calibration event that needs more than one of them
    reads this once.

    Parameters
    ----------
    layer : napari layer or dict
        As for :func:`layer_pixel_size_um`.

    Returns
    -------
    LayerPixelSizes

    Examples
    --------
    >>> layer_pixel_sizes({"scale": (0.5, 0.25), "units": ("mm", "mm")})
    LayerPixelSizes(size_um=None, yx_um=(500.0, 250.0), non_square=(500.0, 250.0))
    >>> layer_pixel_sizes({"scale": (2.0, 2.0), "metadata": {"pixel_size_um": 0.3}})
    LayerPixelSizes(size_um=0.3, yx_um=None, non_square=None)
    """
    from .io._pixel import pixels_square

    md, scale, units = _layer_scale_parts(layer)
    shown = _shown_pixel_size_yx(scale, units)
    size, recorded = (None, None) if shown is not None else (
        layer_recorded_pixel_sizes(layer))
    pair = shown or recorded
    if pair is None and scale is not None and len(scale) >= 2:
        pair = scale[-2:]
    non_square = None
    if pair is not None and len(pair) == 2:
        y, x = (float(v) for v in pair)
        non_square = None if pixels_square(y, x) else (y, x)
    if non_square is not None:  # no single size; (Y, X) in µm when shown or recorded
        return LayerPixelSizes(None, shown if shown is not None else recorded, non_square)
    if shown is not None:
        return LayerPixelSizes(shown[1], None, None)
    return LayerPixelSizes(size, None, None)


#: ``metadata`` entries by which a layer records its pixel size (the reader's, a
#: script's ``viewer.add_image(img, metadata=...)``, Calibration's): one size (the X
#: size) and, for pixels that are not square, the ``(Y, X)`` sizes.
PIXEL_SIZE_RECORDS = ("pixel_size_um", "pixel_size_yx_um")

#: Layers told that a record of theirs is no pixel size (:func:`_tell_unreadable`), with
#: the records they were told of: each is said once, not at every event that reads it.
_TOLD: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def layer_recorded_pixel_sizes(layer: Any) -> tuple[float | None, tuple[float, float] | None]:
    """What a layer's ``metadata`` records of its pixel size, read by the one rule for a
    pixel size given per axis (:func:`napari_srmat.io.check_pixel_size_yx`, as the readers
    take a file's X and Y sizes): ``(size, yx)``, its one size (µm) or None, and, for
    pixels that are not square, their recorded ``(Y, X)`` sizes or None (one of the two
    is None). Each of :data:`PIXEL_SIZE_RECORDS` is one size or a ``(Y, X)`` pair: square
    within :data:`~napari_srmat.io._pixel.SQUARE_PIXEL_TOLERANCE` it is its X size
    (``(0.5, 0.5)`` is 0.5), else the sizes of pixels that are not square.
    ``pixel_size_yx_um``, when it reads, wins (the widgets write it beside its X size as
    ``pixel_size_um``, for pixels that are not square only:
    :func:`napari_srmat.widgets.layers.recorded_pixel_sizes`; a script's square one is
    that size). A record that is no pixel size (a word, a dict, NaN, 0, a negative
    number, a size outside :data:`~napari_srmat.io._pixel.PIXEL_SIZE_RANGE_UM`) is
    unknown, and said (:func:`_tell_unreadable`): a script's typo gives no µm figures,
    never an error in napari's events (the layer's scale set, a widget opened) nor a
    size used.

    Parameters
    ----------
    layer : napari layer or dict
        As for :func:`layer_pixel_size_um`.

    Returns
    -------
    (float or None, (float, float) or None)

    Examples
    --------
    >>> layer_recorded_pixel_sizes({"metadata": {"pixel_size_um": (0.5, 0.5)}})
    (0.5, None)
    >>> layer_recorded_pixel_sizes({"metadata": {"pixel_size_um": [0.25, 0.5]}})
    (None, (0.25, 0.5))
    >>> layer_recorded_pixel_sizes({"metadata": {"pixel_size_yx_um": [0.5, 0.5]}})
    (0.5, None)
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     layer_recorded_pixel_sizes({"name": "m", "metadata": {"pixel_size_um": "0.5 um"}})
    (None, None)
    """
    md = _layer_scale_parts(layer)[0]
    read, unreadable = _read_records(md)
    for key, error in unreadable.items():
        _tell_unreadable(layer, key, md[key], error)
    recorded = read["pixel_size_yx_um"]
    if recorded is None:
        recorded = read["pixel_size_um"]
    return (None, recorded) if isinstance(recorded, tuple) else (recorded, None)


def _read_records(metadata: Mapping | None
                  ) -> tuple[dict[str, float | tuple[float, float] | None],
                             dict[str, Exception]]:
    """Each of :data:`PIXEL_SIZE_RECORDS` in ``metadata`` read by
    :func:`napari_srmat.io.check_pixel_size_yx` (None: not recorded, or no pixel size),
    and the error of each that is no pixel size."""
    from .io._pixel import PixelSizeError, check_pixel_size_yx

    md = metadata or {}
    read: dict[str, float | tuple[float, float] | None] = {}
    unreadable: dict[str, Exception] = {}
    for key in PIXEL_SIZE_RECORDS:
        try:
            read[key] = check_pixel_size_yx(md.get(key), name=f"metadata[{key!r}]")
        except PixelSizeError as error:
            read[key], unreadable[key] = None, error
    return read, unreadable


def unreadable_pixel_size_records(metadata: Mapping | None) -> dict[str, Any]:
    """The entries of ``metadata`` (a layer's) that record no pixel size
    (:func:`layer_recorded_pixel_sizes`: unknown), as they are: what a writer of the
    layer's records keeps rather than overwrite the user's value with None
    (:func:`napari_srmat.widgets.layers.own_records`).

    Examples
    --------
    >>> unreadable_pixel_size_records({"pixel_size_um": "0.5 um", "kind": "x"})
    {'pixel_size_um': '0.5 um'}
    >>> unreadable_pixel_size_records({"pixel_size_um": (0.5, 0.5)})
    {}
    """
    return {key: (metadata or {})[key] for key in _read_records(metadata)[1]}


def _tell_unreadable(layer: Any, key: str, value: Any, error: Exception) -> None:
    """Warn (a notification in napari) that ``layer``'s ``metadata[key]`` holds ``value``,
    no pixel size (``error`` says why), so its pixel size is unknown: once for a napari
    layer and value (each read would say it again: every event, every widget), at each
    read of a layer given as its attributes (:func:`write_image` reads them once). The
    warning points at the first caller outside napari-srmat (:func:`_caller_stacklevel`:
    a script's line, napari's event), not at the package's own reads."""
    from .io._pixel import GIVE_PIXEL_SIZE

    record = (key, repr(value))
    if not isinstance(layer, Mapping):
        try:
            told = _TOLD.setdefault(layer, set())
        except TypeError:  # a layer that cannot be held weakly: said each time
            told = set()
        if record in told:
            return
        told.add(record)
    name = layer.get("name") if isinstance(layer, Mapping) else getattr(layer, "name", None)
    where = f"layer {name!r}: " if name else ""
    warnings.warn(f"{where}{error}; its pixel size is treated as unknown: {GIVE_PIXEL_SIZE}",
                  UserWarning, stacklevel=_caller_stacklevel())


#: The folder of the package's modules: frames there are not a warning's caller.
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _caller_stacklevel() -> int:
    """The ``stacklevel`` for a ``warnings.warn`` in the function calling this one that
    names the first frame outside napari-srmat (what Python 3.12's ``warn(...,
    skip_file_prefixes=...)`` does): the package's own reads of a layer are one call
    deep or five. The outermost frame when every frame is the package's."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level


def layer_pixel_size_um(layer: Any) -> float | None:
    """Pixel size in µm of a napari layer: the one rule for layers (widgets and writer).

    What the layer shows is its pixel size: a layer whose last unit is a length
    (micrometres as the reader and the Calibration widget set them; nanometres,
    millimetres, ... converted with the file readers' unit table) has its ``scale`` as
    pixel size (:func:`_shown_pixel_size_yx`), whatever its metadata records: a scale
    set by hand (layer controls, console) is what napari's scale bar shows and what
    every widget reads, and its ``scale`` / ``units`` events tell them (an in-place edit
    of ``metadata`` tells nothing). A layer without a length unit has
    ``metadata["pixel_size_um"]`` (a script's ``viewer.add_image(img,
    metadata=...)``, read by :func:`layer_recorded_pixel_sizes`: a record that is no pixel
    size is unknown, and said once), otherwise None (unknown). A ``scale`` without a length unit is
    *not* taken as a pixel size: its unit is unknown (napari's default unit is "pixel"),
    and a guessed pixel size would flow into written files and grain-size numbers
    (:func:`layer_unitless_scale` gives it, for a hint).

    None when the layer's pixels are not square (:func:`layer_non_square`): as for files
    (:func:`napari_srmat.io.image_data`), such an image has no single pixel size.
    (:func:`layer_pixel_sizes` holds the rule, with the other sizes.)

    Parameters
    ----------
    layer : napari layer or dict
        A layer, or its attributes as napari passes them to writers
        (``layer.as_layer_data_tuple()[1]``: ``metadata``, ``scale``, ``units``).

    Returns
    -------
    float or None
    """
    return layer_pixel_sizes(layer).size_um


def _shown_pixel_size_yx(scale: Any, units: Any) -> tuple[float, float] | None:
    """``(Y, X)`` µm per pixel of a layer whose last unit is a length: its last two
    ``scale`` entries, converted (what napari shows); None without a length unit.

    Examples
    --------
    >>> _shown_pixel_size_yx((400.0, 800.0), ("nm", "nm"))
    (0.4, 0.8)
    >>> _shown_pixel_size_yx((0.5, 0.5), None)
    """
    factor = _length_unit_um(units)
    if not factor or scale is None or len(scale) < 2:
        return None
    return float(scale[-2]) * factor, float(scale[-1]) * factor


def layer_non_square(layer: Any) -> tuple[float, float] | None:
    """``(Y, X)`` pixel sizes of a layer whose pixels are not square, else None.

    The sizes shown (:func:`_shown_pixel_size_yx`, a scale in a length unit), else
    ``metadata["pixel_size_yx_um"]`` (set by the reader for such a file), else the last
    two ``scale`` entries without a unit, when they differ by more than
    :data:`~napari_srmat.io._pixel.SQUARE_PIXEL_TOLERANCE` (the rule of
    :func:`layer_pixel_size_um`, in :func:`layer_pixel_sizes`).

    Examples
    --------
    >>> layer_non_square({"scale": (0.5, 0.25)})
    (0.5, 0.25)
    >>> layer_non_square({"scale": (0.5, 0.5)})
    """
    return layer_pixel_sizes(layer).non_square


def layer_pixel_size_yx_um(layer: Any) -> tuple[float, float] | None:
    """``(Y, X)`` pixel sizes in µm of a layer whose pixels are not square, else None.

    The last two ``scale`` entries when the layer's unit is a length (converted as in
    :func:`layer_pixel_size_um`, whose rule this is), else
    ``metadata["pixel_size_yx_um"]`` (as the reader sets it); None for square pixels and
    for a scale without a length unit (its unit is unknown).

    Examples
    --------
    >>> layer_pixel_size_yx_um({"scale": (0.5, 0.25), "units": ("mm", "mm")})
    (500.0, 250.0)
    >>> layer_pixel_size_yx_um({"scale": (0.5, 0.25)}) is None  # no unit
    True
    """
    return layer_pixel_sizes(layer).yx_um


def layer_store_pixel_size(layer: Any) -> float | tuple[float, float] | None:
    """The pixel size a store written from a layer records: one size
    (:func:`layer_pixel_size_um`), ``(Y, X)`` sizes for pixels that are not square
    (:func:`layer_pixel_size_yx_um`), or None (unknown).

    Examples
    --------
    >>> layer_store_pixel_size({"scale": (0.5, 0.25), "units": ("um", "um")})
    (0.5, 0.25)
    >>> layer_store_pixel_size({"metadata": {"pixel_size_um": 0.3}})
    0.3
    """
    return layer_pixel_sizes(layer).store


def layer_unitless_scale(layer: Any) -> float | None:
    """The last ``scale`` entry of a layer that has one (≠ 1) but no length unit, else None.

    Such a scale may be a pixel size typed without units (``viewer.add_image(img,
    scale=(0.5, 0.5))``): widgets show it as a hint, never use it as µm. Not the scale of
    a layer whose ``metadata["unitless_grid"]`` says where it lies (a store's grid, e.g.
    an SR output's 1/s in its input's pixels, :func:`read_micrograph`): that is no pixel
    size, and a hint "0.25 µm/px?" would mislead.

    Examples
    --------
    >>> layer_unitless_scale({"scale": (0.5, 0.5), "units": ("pixel", "pixel")})
    0.5
    >>> layer_unitless_scale({"scale": (0.5, 0.5), "units": ("micrometer", "micrometer")})
    >>> layer_unitless_scale({"scale": (0.25, 0.25), "metadata": {"unitless_grid": {}}})
    """
    md, scale, units = _layer_scale_parts(layer)
    md = md or {}
    if (_length_unit_um(units) or "unitless_grid" in md or scale is None
            or layer_recorded_pixel_sizes(layer) != (None, None)):
        return None
    if len(scale) == 0 or float(scale[-1]) == 1.0:
        return None
    return float(scale[-1])


def _layer_scale_parts(layer: Any) -> tuple[Any, Any, Any]:
    if isinstance(layer, Mapping):
        return layer.get("metadata"), layer.get("scale"), layer.get("units")
    return layer.metadata, layer.scale, getattr(layer, "units", None)


def _length_unit_um(units: Any) -> float | None:
    """µm per unit of a layer's last axis unit; None for "pixel", no unit or not a length."""
    from .io._read import _unit_factor

    if units is None or len(units) == 0 or not str(units[-1]).strip():
        return None
    return _unit_factor(str(units[-1]))


def _layer_place(meta: Mapping, pixel_size: float | tuple[float, float] | None) -> dict:
    """Where a layer's pixel ``(0, 0)`` lies, as :func:`napari_srmat.io.write_ome_zarr`
    records it: ``{"origin_um": (Y, X)}`` (its ``translate`` in pixels, ``translate /
    scale``, times the pixel size) with a pixel size; without one ``{"unitless_grid":
    {"scale": ..., "origin": ...}}``, its unit-less ``scale`` and ``translate`` (an SR
    layer's over its input's pixels), which the reader gives back to the layer. Empty
    without a translate (with a pixel size) or a scale and translate (without one)."""
    from .io import pixel_size_yx

    translate, scale = meta.get("translate"), meta.get("scale")
    translate = tuple(translate[-2:]) if translate is not None and len(translate) >= 2 else None
    scale = tuple(scale[-2:]) if scale is not None and len(scale) >= 2 else (1.0, 1.0)
    if pixel_size is None:
        return {"unitless_grid": {"scale": scale, "origin": translate or (0.0, 0.0)}}
    if translate is None:
        return {}
    return {"origin_um": tuple(float(t) / float(s) * p for t, s, p in
                               zip(translate, scale, pixel_size_yx(pixel_size)))}


def layer_place(layer: Any) -> dict:
    """Where a layer's pixel ``(0, 0)`` lies, as a store written from it records it
    (:func:`_layer_place` of its ``scale`` and ``translate`` with its
    :func:`layer_store_pixel_size`): the napari writer's place, and the one a widget's job
    gives the tiling engine (a Micrograph's ``metadata``) so that an SR store made from
    the layer lies over it when reopened.

    Parameters
    ----------
    layer : napari layer or Mapping
        A layer, or its attributes as napari's writer passes them (``scale``,
        ``translate``, ``units``, ``metadata``).

    Returns
    -------
    dict
        ``{"origin_um": (Y, X)}`` with a pixel size, ``{"unitless_grid": {"scale": ...,
        "origin": ...}}`` without one, or ``{}``.

    Examples
    --------
    >>> layer_place({"scale": (0.8, 0.8), "translate": (5.0, 7.0),
    ...              "metadata": {"pixel_size_um": 0.8}})
    {'origin_um': (5.0, 7.0)}
    >>> layer_place({"scale": (1.5, 1.5), "translate": (3.0, -4.0)})
    {'unitless_grid': {'scale': (1.5, 1.5), 'origin': (3.0, -4.0)}}
    """
    meta = layer if isinstance(layer, Mapping) else {"scale": layer.scale,
                                                     "translate": layer.translate}
    return _layer_place(meta, layer_store_pixel_size(layer))


def derived_layer_grid(source: Any, scale: Sequence[float], translate: Sequence[float]
                       ) -> dict:
    """The ``metadata`` entry placing a layer made from layer ``source`` (its SR result,
    a map of it) at ``scale`` / ``translate``, as its store would record it and the reader
    give it back: ``{"unitless_grid": {"scale": ..., "origin": ...}}`` (:func:`_layer_place`
    and write_ome_zarr's rule, the identity grid dropped) when ``source`` has no pixel size
    (:func:`layer_store_pixel_size`), else ``{}`` (the layer has one, in µm). Its unit-less
    scale is then a grid over ``source``'s pixels, not hinted as a pixel size
    (:func:`layer_unitless_scale`).

    Examples
    --------
    >>> derived_layer_grid({"scale": (1.0, 1.0)}, (0.25, 0.25), (-0.375, -0.375))
    {'unitless_grid': {'scale': (0.25, 0.25), 'origin': (-0.375, -0.375)}}
    >>> derived_layer_grid({"scale": (1.0, 1.0)}, (1.0, 1.0), (0.0, 0.0))
    {}
    >>> derived_layer_grid({"metadata": {"pixel_size_um": 0.8}}, (0.2, 0.2), (-0.3, -0.3))
    {}
    """
    from .io._write import _check_unitless_grid

    if layer_store_pixel_size(source) is not None:
        return {}
    place = _layer_place({"scale": scale, "translate": translate}, None)
    grid = _check_unitless_grid(place["unitless_grid"], None)
    return {"unitless_grid": grid} if grid else {}


def write_image(path: str, data: Any, meta: dict) -> list[str]:
    """Write an image layer as a multiscale OME-Zarr store (atomic).

    Parameters
    ----------
    path : str
        Destination ``*.zarr`` directory. An existing store is replaced (napari asks
        the user before overwriting).
    data : array or list of arrays
        Layer data; for multiscale layers level 0 is written and the pyramid rebuilt.
    meta : dict
        Layer attributes; ``rgb``, ``scale``, ``units``, ``translate`` and ``metadata``
        are used. A layer keeps its place (e.g. an SR layer's over its input): with a
        pixel size its ``translate`` as the store's translation in µm, without one its
        unit-less ``scale`` and ``translate`` (``unitless_grid``); the reader gives them
        back.

    Raises
    ------
    ValueError
        A stack, or a layer whose pixels are not square (:func:`layer_non_square`) and
        whose scale has no length unit. Non-square pixels in µm (or another length) are
        written per axis (:func:`layer_pixel_size_yx_um`).

    Returns
    -------
    list of str
        The written path.
    """
    from .io import write_ome_zarr

    if meta.get("multiscale") or isinstance(data, (list, tuple)):
        data = data[0]
    ndim = len(data.shape)
    if meta.get("rgb") and ndim == 3:
        axes = "YXC"
    elif ndim == 2:
        axes = "YX"
    else:
        raise ValueError(
            f"napari-srmat writes 2-D grey or RGB images only; got a layer of shape "
            f"{tuple(data.shape)} (rgb={meta.get('rgb')})"
        )
    sizes = layer_pixel_sizes(meta)  # read once: a record that is no size is said once
    pixel_size = sizes.store  # per axis for pixels that are not square
    non_square = sizes.non_square
    if non_square is not None and pixel_size is None:
        raise ValueError(
            f"the layer's pixels are not square (scale Y {non_square[0]:.6g}, X "
            f"{non_square[1]:.6g}) and its scale has no length unit: the store could not "
            "keep that aspect; set the layer's units to micrometres (or resample it to "
            "square pixels) first")
    if not str(path).lower().endswith(".zarr"):  # as napari matched it: "scan.ZARR" too
        path = f"{path}.zarr"
    written = write_ome_zarr(data, path, pixel_size_um=pixel_size, axes=axes, overwrite=True,
                             **_layer_place(meta, pixel_size))
    return [str(written)]
