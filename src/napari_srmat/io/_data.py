"""Small-image helpers for training/evaluation data sets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._read import ImageReadError, read_image

__all__ = ["to_float01", "read_grey_or_rgb_float", "read_mask", "list_pairs", "IMAGE_SUFFIXES"]

#: File suffixes treated as images by :func:`list_pairs`.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def to_float01(arr: np.ndarray) -> np.ndarray:
    """Convert an image to float32 in [0, 1] according to its dtype.

    uint8 is divided by 255, uint16 by 65535, other integers by their maximum, bool
    becomes 0/1 and floats are only cast (assumed to be in [0, 1] already).
    """
    arr = np.asarray(arr)
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if np.issubdtype(arr.dtype, np.integer):
        return (arr.astype(np.float32) / np.float32(np.iinfo(arr.dtype).max)).astype(np.float32)
    return arr.astype(np.float32, copy=False)


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
    """
    m = read_image(path)
    arr = np.asarray(m.data.compute())
    if arr.ndim == 3:
        if arr.shape[2] == 1:
            arr = arr[..., 0]
        elif arr.shape[2] == 2:
            arr = arr[..., 0]
        elif arr.shape[2] >= 3:
            arr = arr[..., :3]
    return to_float01(arr)


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a binary mask (e.g. 255 = boundary) as a bool array ``(H, W)``.

    A pixel is True where any channel exceeds half of the dtype's range (or 0.5 for
    float images).
    """
    arr = read_grey_or_rgb_float(path)
    if arr.ndim == 3:
        arr = arr.max(axis=2)
    return arr > 0.5


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
        If the folders are missing, empty, or an image has no mask.
    """
    base = Path(root) / split
    img_dir, mask_dir = base / "images", base / "masks"
    for d in (img_dir, mask_dir):
        if not d.is_dir():
            raise ImageReadError(f"{d}: folder not found (expected ROOT/{split}/images and masks)")

    def _images(d: Path) -> dict[str, Path]:
        out: dict[str, Path] = {}
        for p in sorted(d.iterdir()):
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."):
                out.setdefault(p.stem, p)
        return out

    images, masks = _images(img_dir), _images(mask_dir)
    if not images:
        raise ImageReadError(f"{img_dir}: no images found")
    missing = [s for s in images if s not in masks]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise ImageReadError(
            f"{mask_dir}: no mask for image(s) {', '.join(missing[:5])}{more}"
        )
    return [(images[s], masks[s]) for s in sorted(images)]
