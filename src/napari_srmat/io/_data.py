"""Small-image helpers for training/evaluation data sets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._float import check_pixel_values, grey_or_rgb, to_float01
from ._read import ImageReadError, read_image

__all__ = ["read_grey_or_rgb_float", "list_pairs", "IMAGE_SUFFIXES", "MAP_SUFFIXES",
           "images_by_stem", "image_stem"]

#: File suffixes treated as images by :func:`list_pairs`.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

#: Suffixes of the probability maps and masks ``srmat eval-maps`` pairs by stem: the
#: images', NumPy arrays and (OME-)Zarr stores (``prob.ome.zarr`` has the stem ``prob``).
MAP_SUFFIXES = IMAGE_SUFFIXES + (".npy", ".zarr")

#: The inner suffix of an OME file (``scan.ome.tif``, ``scan.ome.zarr``), dropped with the
#: outer one from its stem (:func:`image_stem`).
OME_INNER_SUFFIX = ".ome"


def image_stem(path: str | os.PathLike) -> str:
    """The stem of an image file or store: its name without its suffix and an ``.ome``
    before it. The one rule of the package's stems: images and masks pair by it
    (:func:`images_by_stem`), a layer read by napari is named by it, and an output named
    like an image is told the ``.ome.zarr`` name it stands for.

    Parameters
    ----------
    path : path-like
        A file or store.

    Returns
    -------
    str

    Examples
    --------
    >>> [image_stem(n) for n in ("s1.ome.zarr", "s1.ome.tif", "s1.OME.TIFF", "s1.png")]
    ['s1', 's1', 's1', 's1']
    >>> image_stem("scan.v2.tif"), image_stem(".ome.tif")
    ('scan.v2', '.ome')
    """
    stem = Path(path).stem
    inner = len(OME_INNER_SUFFIX)
    return stem[:-inner] if stem.lower().endswith(OME_INNER_SUFFIX) and len(stem) > inner \
        else stem


def images_by_stem(folder: str | os.PathLike,
                   error: type[ValueError] = ImageReadError,
                   suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> dict[str, Path]:
    """The images of ``folder`` by file stem: the one rule by which images and masks pair
    (:func:`list_pairs`, :func:`napari_srmat.edges.data.list_image_mask_pairs`, and with
    :data:`MAP_SUFFIXES` ``srmat eval-maps``).

    Every entry whose name ends in one of ``suffixes`` counts, hidden ones
    (``.DS_Store``, macOS's ``._scan.png``) excepted; a folder so named is listed too, for
    its read to say what it is. The stem is :func:`image_stem`'s, the name without its
    suffix and an ``.ome`` before it (``a0.ome.zarr``, ``a0.ome.tif``: ``a0``). Two
    entries of one stem (``a0.png`` and ``a0.tif``, or ``a0.ome.tif``) are refused: one of
    them would be measured in the other's place.

    Parameters
    ----------
    folder : path-like
        An existing folder.
    error : type of ValueError
        The error raised (each caller's own).
    suffixes : tuple of str
        Lower-case suffixes that count (default :data:`IMAGE_SUFFIXES`).

    Returns
    -------
    dict of str to Path
        Sorted by name.

    Raises
    ------
    ValueError
        ``error``: two entries of one stem.
    """
    d = Path(folder)
    out: dict[str, Path] = {}
    for p in sorted(d.iterdir()):
        if p.suffix.lower() not in suffixes or p.name.startswith("."):
            continue
        stem = image_stem(p)
        if stem in out:
            raise error(f"{d}: two files with stem {stem!r} ({out[stem].name}, "
                        f"{p.name}): images and masks pair by stem; keep one")
        out[stem] = p
    return out


def read_grey_or_rgb_float(path: str | os.PathLike) -> np.ndarray:
    """Read a (small) image into memory as float32 in [0, 1].

    Parameters
    ----------
    path : path-like
        Any format :func:`~napari_srmat.io.read_image` accepts.

    Returns
    -------
    ndarray
        ``(H, W)`` for grey, ``(H, W, 3)`` for colour (alpha dropped).

    Raises
    ------
    ImageReadError
        If the file cannot be read or has an unsupported channel count.
    ValueError
        Values the float rule would misread (:func:`~napari_srmat.io.check_pixel_values`:
        8-bit values in an int64 TIFF, floats in 0..255), naming the file.
    """
    pixels = grey_or_rgb(read_image(path).data.compute())
    try:  # an int64 TIFF of 0..255 read as black: every grain-size arm refused, exit 0
        check_pixel_values(pixels, name="image")
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return to_float01(pixels)


def list_pairs(root: str | os.PathLike, split: str) -> list[tuple[Path, Path]]:
    """List ``(image, mask)`` pairs of ``ROOT/SPLIT/{images,masks}``, matched by stem.

    Parameters
    ----------
    root : path-like
        Data set root containing ``train``, ``val``, ``test`` folders.
    split : str
        Folder name, e.g. ``"train"``.

    Returns
    -------
    list of (Path, Path)
        Sorted by image name.

    Raises
    ------
    ImageReadError
        If the folders are missing, empty, hold two images of one stem
        (:func:`images_by_stem`), or an image has no mask.
    """
    base = Path(root) / split
    img_dir, mask_dir = base / "images", base / "masks"
    missing = [str(d) for d in (img_dir, mask_dir) if not d.is_dir()]
    if missing:  # which of the two, plainly (it said "expected ROOT/SPLIT/images and masks")
        raise ImageReadError(f"{' and '.join(missing)} not found: {base} must hold the "
                             "folders images/ and masks/ (pairs matched by file stem)")

    images, masks = images_by_stem(img_dir), images_by_stem(mask_dir)
    if not images:
        raise ImageReadError(f"{img_dir}: no images found")
    missing = [s for s in images if s not in masks]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise ImageReadError(
            f"{mask_dir}: no mask for image(s) {', '.join(missing[:5])}{more}"
        )
    return [(images[s], masks[s]) for s in sorted(images)]
