"""Small-image helpers for training/evaluation data sets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._float import check_pixel_values, grey_or_rgb, to_float01
from ._read import ImageReadError, read_image

__all__ = ["read_grey_or_rgb_float", "list_pairs", "IMAGE_SUFFIXES"]

#: File suffixes treated as images by :func:`list_pairs`.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


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
        If the folders are missing, empty, or an image has no mask.
    """
    base = Path(root) / split
    img_dir, mask_dir = base / "images", base / "masks"
    missing = [str(d) for d in (img_dir, mask_dir) if not d.is_dir()]
    if missing:  # which of the two, plainly (it said "expected ROOT/SPLIT/images and masks")
        raise ImageReadError(f"{' and '.join(missing)} not found: {base} must hold the "
                             "folders images/ and masks/ (pairs matched by file stem)")

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
