"""Tiled super-resolution of whole (possibly huge, lazy) images."""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import warnings
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import Option, worded_error
from ..jobs import Event, Log, StopToken, plain_version, run_job
from ..tiling import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_OVERLAP,
    DEFAULT_TILE,
    check_tile_overlap,
    overlap_used,
)
from .base import ScaleError, SRError, SRModel, TorchSRModel

__all__ = ["super_resolve_job", "super_resolve", "resolve_overlap", "check_sr_input",
           "sr_exposure_gain", "sr_output_shape", "tile_work", "warn_tile_work",
           "SR_OUTPUT_KIND", "IN_MEMORY_DTYPE", "TILE_WORK_TOLD"]

#: Marker kind of an ``srmat sr run`` / :func:`super_resolve` OME-Zarr store.
SR_OUTPUT_KIND = "super_resolution"

#: dtype of an SR result held in memory (values in [0, 1]); a result streamed to a store
#: keeps the input's dtype.
IN_MEMORY_DTYPE = np.float32

#: A network's work per output pixel, in passes over the image, above which a tiled run
#: is told that its tile keeps too little of itself (:func:`warn_tile_work`): the default
#: 1024 px tile with a 32 px overlap does 1.14, a 128 px tile with the 21 px overlap of
#: ``cnn`` x4 2.2; a 48 px tile with that overlap keeps a 6 px core, 64 (70.5 s instead of
#: 2.9 s in one tile, GUI explorer s50 F4).
TILE_WORK_TOLD = 2.5


def sr_output_shape(shape: tuple[int, ...], scale: int) -> tuple[int, ...]:
    """The shape of the super-resolved output of an input of ``shape``: its two first
    axes (Y, X) times ``scale``, its channels kept; the rule of the job's first line and
    of ``srmat sr run``'s done line.

    Parameters
    ----------
    shape : tuple of int
        The input's shape, (Y, X) or (Y, X, C).
    scale : int
        The model's magnification.

    Returns
    -------
    tuple of int
        The output's shape.

    Examples
    --------
    >>> sr_output_shape((384, 384, 3), 2)
    (768, 768, 3)
    """
    return (int(shape[0]) * scale, int(shape[1]) * scale, *(int(s) for s in shape[2:]))


def resolve_overlap(model: SRModel, overlap: int | None, tile: int) -> int:
    """Overlap to use: :func:`napari_srmat.tiling.overlap_used` (``overlap``, None: the
    default, raised to ``model.receptive_field``; a given one raised with a warning).

    Raises
    ------
    ValueError
        If the overlap is negative or the tile is too small for the needed overlap.
    """
    from ..errors import check_number

    need = int(model.receptive_field)
    # whole pixels: tile=1.5 was cast to 1 and overlap=nan failed inside int()
    tile = check_number("tile", tile, integer=True, error=SRError)
    if overlap is not None:
        overlap = check_number("overlap", overlap, integer=True, error=SRError)
        if overlap < 0:
            raise ValueError(f"overlap must be >= 0 px, got {overlap}")
    used = overlap_used(overlap, need)
    if overlap is not None and used != overlap:
        warnings.warn(
            f"overlap {overlap} < receptive field {need} of {model.name!r}: enlarged to {used} "
            "so that tiles do not show seams",
            UserWarning,
            stacklevel=3,
        )
    check_tile_overlap(tile, used, error=ValueError)
    return used


def tile_work(tile: int, overlap: int) -> float:
    """The network's work per output pixel of a tiled run, in passes over the image.

    Each tile of side ``tile`` keeps its core of ``tile - 2 * overlap`` px per side (the
    overlap is context, computed again by the next tile), so the work per kept pixel is
    ``(tile / core) ** 2``.

    Parameters
    ----------
    tile, overlap : int
        The tile side and the overlap used per side, in input px (``tile > 2 * overlap``).

    Returns
    -------
    float
        1 for no overlap; grows without bound as the core shrinks.

    Examples
    --------
    >>> tile_work(48, 21), tile_work(1024, 32) < 1.2
    (64.0, True)
    """
    return (tile / (tile - 2 * overlap)) ** 2


def warn_tile_work(tile: int, overlap: int, shape: tuple[int, ...]) -> None:
    """Warn that a tiled run keeps little of each tile: the one rule of the tile's cost,
    told by ``super_resolve`` and so by ``srmat sr run``, ``srmat plan-rescan`` and the
    Super-resolution widget (its Tile).

    Told when ``shape`` is larger than one tile and :func:`tile_work` exceeds
    :data:`TILE_WORK_TOLD`, with the least tile that keeps the work within it. The tile
    is kept, not grown: it may have been chosen for the accelerator's memory.

    Parameters
    ----------
    tile, overlap : int
        The tile asked for and the overlap used (after :func:`resolve_overlap`), in px.
    shape : tuple of int
        The input's shape, (Y, X) or (Y, X, C).

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_tile_work(48, 21, (512, 512))
    >>> print(caught[0].message)  # doctest: +NORMALIZE_WHITESPACE
    tile 48 keeps a 6 px core of each tile with the overlap 21 per side: 64x the model's
    work per pixel of one pass over the image; a tile of 115 px or more keeps it within 2.5x
    (if the accelerator's memory takes it)
    """
    work = tile_work(tile, overlap)
    if max(shape[:2]) <= tile or work <= TILE_WORK_TOLD:
        return
    root = math.sqrt(TILE_WORK_TOLD)  # tile / (tile - 2 overlap) <= root
    least = math.ceil(2 * overlap * root / (root - 1))
    while tile_work(least, overlap) > TILE_WORK_TOLD:  # float rounding: the least that does
        least += 1
    warnings.warn(
        f"tile {tile} keeps a {tile - 2 * overlap} px core of each tile with the overlap "
        f"{overlap} per side: {work:.2g}x the model's work per pixel of one pass over the "
        f"image; a tile of {least} px or more keeps it within {TILE_WORK_TOLD:g}x (if the "
        "accelerator's memory takes it)",
        UserWarning,
        stacklevel=3,
    )


def check_sr_input(image: Any, model: SRModel | None = None
                   ) -> tuple[Any, tuple[int, ...], int]:
    """The input rule of :func:`super_resolve_job`, checked without running the model.

    ``(H, W)`` or ``(H, W, C)`` pixels of at least :data:`napari_srmat.io.MIN_IMAGE_SIDE`
    px per side, values the float rule reads (:func:`napari_srmat.io.check_pixel_values`)
    and channels the model takes (grey + alpha and RGBA drop their alpha, the rule of
    :func:`napari_srmat.io.grey_or_rgb`). ``srmat sr run`` checks a file with it before
    the job starts, so that an error names the file, and passes the job the input marked
    as checked (``napari_srmat.io._checked.checked(check_sr_input, image)``): with it,
    only the model's part (channels) is checked, so the value sample is read once. NaN/Inf
    pixels are found by the tiling engine as it reads the tiles.

    Parameters
    ----------
    image : Micrograph or array-like
        The input.
    model : SRModel, optional
        The loaded model. None: only what needs no model (dimensions, size, values), so
        that a bad file is refused before a model is loaded.

    Returns
    -------
    image : Micrograph or array
        The input to tile (a Micrograph keeps its file and pixel size; alpha dropped).
    shape : tuple of int
        Its shape.
    channels : int
        Its number of channels (1 for ``(H, W)``).

    Raises
    ------
    ValueError
        Another number of dimensions, an image too small
        (:class:`napari_srmat.io.ImageSizeError`), values the float rule would misread.
    ChannelError
        Channels the model does not take.
    """
    from ..io import Micrograph, check_image_side, check_pixel_values, grey_or_rgb, image_data
    from ..io._checked import passed

    given = passed(image, check_sr_input)
    if given is not None:  # passed this rule already: dimensions, size and values
        image, shape, channels = given.value
        arr, _ = image_data(image)
    else:
        arr, _ = image_data(image)
        shape = tuple(int(v) for v in arr.shape)
        if len(shape) not in (2, 3):
            raise ValueError(f"image must be (H, W) or (H, W, C), got shape {shape}")
        check_image_side(shape)
        check_pixel_values(arr)
        channels = 1 if len(shape) == 2 else shape[2]
    n_image = channels
    if model is None:
        return image, shape, channels
    if channels in (2, 4) and (model.channel_agnostic or channels != model.in_channels):
        # the channel rule (io.grey_or_rgb), for every model (lazily): grey + alpha ->
        # grey, RGBA -> RGB; only a network made for 2 or 4 channels gets them
        arr = grey_or_rgb(arr)
        if isinstance(image, Micrograph):
            image = dataclasses.replace(image, data=arr, levels=[arr],
                                        axes="YX" if arr.ndim == 2 else "YXC")
        shape = tuple(int(v) for v in arr.shape)
        channels = 1 if len(shape) == 2 else shape[2]
    if not model.channel_agnostic and channels not in (1, model.in_channels):
        from .base import channel_refusal

        raise channel_refusal(model.name, model.in_channels, n_image, what="the image",
                              alpha=True)
    if not isinstance(image, Micrograph):  # a Micrograph keeps its file and pixel size
        image = arr
    return image, shape, channels


def sr_exposure_gain(image: Any, model: SRModel) -> float:
    """The exposure gain ``model`` sees ``image`` with (:meth:`SRModel.predict`'s ``gain``).

    A network sees an integer image scaled by its dtype's maximum, so 12-bit camera data
    in a 16-bit file reaches only 1/16 of the brightness it was trained on (``cnn`` x4
    on tbm/val: 0.68 dB below the same data in 8 bit, ``studies/sr_12bit_gain.py``). Such
    an image is brightened by the boundary model's exposure rule
    (:func:`napari_srmat.edges.infer.image_exposure_gain`: 1 for an image of the usual
    brightness), at most until its brightest sampled value reaches 1 (``keep_brightest``:
    a model's output is clipped to [0, 1], so a larger gain would dim the bright
    particles of a dark-field micrograph to 1/gain). Interpolations
    (``model.exposure_invariant``) get 1.

    Parameters
    ----------
    image : array-like or Micrograph
        The input, after :func:`check_sr_input`.
    model : SRModel
        The model.

    Returns
    -------
    float
        1.0, or the gain (> 1) of a dim image.
    """
    if model.exposure_invariant:
        return 1.0
    from ..edges.infer import image_exposure_gain

    return image_exposure_gain(image, keep_brightest=True)


def super_resolve_job(
    image: Any,
    model: SRModel | str | None = None,
    *,
    scale: int | None = None,
    tile: int = DEFAULT_TILE,
    overlap: int | None = DEFAULT_OVERLAP,
    batch_size: int = DEFAULT_BATCH_SIZE,
    out: str | os.PathLike | None = None,
    stop: StopToken | None = None,
    resume: bool = True,
    pixel_size_um: float | tuple[float, float] | None = None,
    overwrite: bool = False,
    scheduler=None,
    worker_device: str = "auto",
    whole_image: bool = False,
    exposure_gain: float | None = None,
) -> Generator[Event, None, Any]:
    """Super-resolve an image tile by tile (job generator).

    Parameters
    ----------
    image : array-like or Micrograph
        numpy / dask / zarr ``(H, W)`` or ``(H, W, C)`` (uint8, uint16 or float in
        [0, 1]); read lazily tile by tile. Channels follow the channel rule of
        :func:`napari_srmat.io.grey_or_rgb` for every model: grey + alpha ``(H, W, 2)``
        is super-resolved as grey (an ``(H*s, W*s)`` result) and RGBA as RGB (alpha
        dropped; only a network made for 2 or 4 channels keeps them). Other channel
        counts go to the model as they are: channel-agnostic models (``bicubic``,
        ``lanczos``) take any, the others 1 or their ``in_channels``. A dim image
        (12-bit data in ``uint16``) is seen by a network brightened by the exposure
        rule (:func:`sr_exposure_gain`), the output divided back: the result stays on the
        input's scale and dtype, and a store records the gain
        (``attrs["srmat"]["exposure_gain"]``, absent for gain 1). A
        :class:`~napari_srmat.io.Micrograph`
        also gives its pixel size and its file (recorded in the output's identity,
        and never overwritten).
    model : SRModel or str, optional
        A loaded model, a registry name, or None (shipped default).
    scale : int, optional
        Magnification (2 or 4) of the model loaded for a registry name or None (as
        :func:`~napari_srmat.sr.load_model` ``(model, scale=scale)``); None = the
        model's default. With a loaded model it must be the model's own scale.
    tile : int
        Largest LR tile size, context included (default
        :data:`napari_srmat.tiling.DEFAULT_TILE` = 1024); smaller images get a
        smaller tile (:func:`napari_srmat.tiling.effective_tile`). A tile that keeps
        little of itself past the overlap is told with the least one to give
        (:func:`warn_tile_work`).
    overlap : int, optional
        LR context per tile side (default :data:`napari_srmat.tiling.DEFAULT_OVERLAP`
        = 32); raised to ``model.receptive_field`` if smaller (with a warning).
        None = ``max(32, receptive_field)``.
    batch_size : int
        Tiles per forward pass (capped so that one batch of outputs stays within
        :data:`napari_srmat.tiling.BATCH_OUTPUT_BUDGET`).
    out : path-like, optional
        None: return a numpy array. A path: stream into an OME-Zarr store whose
        level 0 is the full SR image; its attributes record the model, scale,
        tile, overlap and checkpoint.
    stop : StopToken, optional
        Checked between batches; a stopped OME-Zarr run can be resumed.
    resume : bool
        Resume a partial OME-Zarr output (only one made from the same input with the
        same model, weights and settings; otherwise refused, naming the difference).
    pixel_size_um : float or (float, float), optional
        Input pixel size, or ``(Y, X)`` sizes for pixels that are not square; the
        output's is ``pixel_size_um / scale`` (per axis).
    overwrite : bool
        Replace an existing OME-Zarr output written by napari-srmat from another
        input or with other settings (anything else is never replaced). Without it
        an identical complete output is returned as it is.
    scheduler : str or distributed.Client, optional
        Run the tiles on a dask.distributed cluster (``"tcp://host:8786"``,
        ``"local:N"`` or a Client; see ``docs/distributed.md``). Each worker builds the
        model itself from its name, checkpoint and options
        (:class:`~napari_srmat.sr.remote.RemoteModel`, weights checked against this
        process's) and writes its chunks into ``out.partial``, which must be on a file
        system the workers see at the same path. The pixels equal the local run's.
    worker_device : str
        Device of the model on the workers (default ``"auto"``: each worker's best).
    whole_image : bool
        An image that fits one tile is super-resolved by one forward pass on the image
        itself (the bare model's output, border included) instead of on a reflect-padded
        tile (``tiled_apply_job``'s ``whole_image``; no effect on larger images, on the
        interpolation fast path, or with ``scheduler``, which it cannot be combined with).
    exposure_gain : float, optional
        The gain the network sees the image with; None (default): the exposure rule's
        (:func:`sr_exposure_gain`). A caller running several copies of one image
        (``plan_rescan``'s flips) passes one gain for all of them.

    Returns
    -------
    numpy.ndarray or Path
        float32 ``(H*s, W*s[, C])`` in [0, 1], or the OME-Zarr path (None if stopped
        before finishing an in-memory run).

    Notes
    -----
    Models with a :meth:`~napari_srmat.sr.base.SRModel.chunk_function` (``bicubic``,
    ``lanczos``) resize whole output chunks at library speed instead of running torch
    tiles (same chunk grid, store and progress; recorded as ``attrs["fast_path"]``).
    """
    from ..device import check_device_name
    from ..errors import check_number
    from ..io import Micrograph, check_finer_pixel_size, warn_given_pixel_size
    from ..io._read import input_pixel_size
    from ..jobs import check_stop
    from ..outputs import check_out_arg
    from ..tiling import tiled_apply_job
    from .registry import load_model
    from .rescan import model_weights

    worker_device = check_device_name(worker_device, field="worker_device")  # by name
    stop = check_stop(stop)
    out = check_out_arg(out, "super_resolve")
    if not isinstance(model, SRModel):  # a name or None; anything else: load_model's error
        model = load_model(model, scale=scale)
    elif scale is not None and check_number(  # 2.5 was int() 2: taken for a x2 model
            "scale", scale, lo=1, integer=True, error=ScaleError) != int(model.scale):
        raise SRError(f"scale {scale} does not match the loaded model's x{model.scale}: "
                      "load the model at that scale or leave scale out")
    # whole numbers: tile=1.5 was cast to 1 and batch_size=2.5 to 2 (4.0 stays accepted)
    tile = check_number("tile", tile, integer=True, error=SRError)
    batch_size = check_number("batch_size", batch_size, lo=1, integer=True, error=SRError)
    overlap = resolve_overlap(model, overlap, int(tile))
    image, shape, channels = check_sr_input(image, model)
    warn_given_pixel_size(image, pixel_size_um)  # written into the store: told, as a CLI flag
    if out is not None:  # the store records the input's pixel size / scale: before the run
        from_file = pixel_size_um is None and isinstance(image, Micrograph)
        source = str(image.path or "the image") if from_file else None
        check_finer_pixel_size(input_pixel_size(image, pixel_size_um), model.scale,
                               source=source)
    # the network's digest once per run: the identity's weights_sha256 and the told
    # weights (test_sr_weights_digest_once; c49cadd6 computed it twice)
    network = model.network_digest() if isinstance(model, TorchSRModel) else None
    digest = model.weights_digest(network)
    attrs = {  # stored by the writer under the store's attrs["srmat"]
        "operation": SR_OUTPUT_KIND,
        "model": model.name,
        "scale": model.scale,
        "tile": int(tile),
        "overlap": overlap,
        "checkpoint": model.checkpoint,
        "options": {k: v for k, v in model.options.items()
                    if v is None or isinstance(v, (bool, int, float, str))},
        "input_shape": list(shape),
        "weights_sha256": digest,
        # told, not compared (outputs.INFORMATIONAL_KEYS): an untrained network's store
        # says its SR is not a trained one's (the reopened layer's note, _napari_io)
        "weights": model_weights(model, network),
    }
    chunk_fn = model.chunk_function()
    if chunk_fn is None:  # the fast path resizes whole chunks: the tile costs it nothing
        warn_tile_work(int(tile), overlap, shape)
    else:
        # the fast path's pixels may differ from the torch path's by rounding (at most one
        # grey level): part of the identity, so a store is never finished by the other path
        attrs["fast_path"] = chunk_fn.backend
    gain = (sr_exposure_gain(image, model) if exposure_gain is None else
            check_number("exposure_gain", exposure_gain, lo=1.0, error=SRError))
    if gain != 1.0:  # only then: stores of other images keep their identity and resume
        attrs["exposure_gain"] = gain
    out_shape = sr_output_shape(shape, model.scale)
    yield Log(f"super-resolution {model.name} x{model.scale}: {shape} -> {out_shape}, "
              f"tile up to {tile}, overlap {overlap}")
    if gain != 1.0:
        yield Log(f"the image is dim for {model.name}: it sees it brightened x{gain:.3g}, "
                  "the output divided back (docs/super_resolution.md, 'Dim images')")
    fn = model.predict if gain == 1.0 else functools.partial(model.predict, gain=gain)
    if scheduler is not None:
        from .remote import RemoteModel

        if getattr(model, "needs_reference", False):
            raise worded_error(SRError, "{name} runs on this machine only (its reference "
                               "image is not sent to cluster workers): run it {local}",
                               name=model.name,
                               local=Option("with scheduler=None", "without --scheduler"))

        fn = RemoteModel(model, device=worker_device, gain=gain, digest=digest)
    result = yield from tiled_apply_job(
        image,
        fn,
        scale=model.scale,
        out_channels=channels,
        tile=int(tile),
        overlap=overlap,
        batch_size=int(batch_size),
        out=None if out is None else Path(out),
        out_dtype=IN_MEMORY_DTYPE if out is None else None,
        stop=stop,
        resume=resume,
        overwrite=overwrite,
        pixel_size_um=pixel_size_um,
        attrs=attrs,
        kind=SR_OUTPUT_KIND,
        chunk_fn=chunk_fn,
        chunk_context=int(model.receptive_field) + 1,
        scheduler=scheduler,
        whole_image=whole_image,
    )
    return result


@plain_version(super_resolve_job)
def super_resolve(image: Any, model: SRModel | str | None = None, **kwargs) -> Any:
    """Blocking version of :func:`super_resolve_job` (same arguments).

    Examples
    --------
    >>> import napari_srmat as srmat
    >>> lr = srmat.generate_microstructure((64, 64), seed=0).image
    >>> sr = srmat.super_resolve(lr, "bicubic", scale=4)   # in memory
    >>> sr.shape, sr.dtype
    ((256, 256, 3), dtype('float32'))

    With ``out=`` the result is streamed into an OME-Zarr store and its path returned
    (rerun the same call to resume a stopped run).
    """
    return run_job(super_resolve_job(image, model, **kwargs), quiet=True)
