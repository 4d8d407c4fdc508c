"""How a test writes a boundary mask file, with or without a pixel size: one place for
the Heyn, mask and CLI tests (a PNG's pHYs in dots per inch, a TIFF's resolution tags
per centimetre, a ``.npy`` without one)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: µm per inch (a PNG's pHYs is dots per inch: 25400 dpi is 1 µm per pixel)
UM_PER_INCH = 25400.0
#: µm per centimetre (a TIFF's resolution tags, unit CENTIMETER)
UM_PER_CM = 10000.0


def save_mask(path: str | Path, mask: np.ndarray, *, pixel_size_um: float | None = None,
              pixel_size_yx_um: tuple[float, float] | None = None) -> str:
    """Write ``mask`` (bool, or uint8 as given) to ``path`` by its suffix: ``.png``,
    ``.tif`` / ``.tiff`` or ``.npy``; with ``pixel_size_um`` (square) or
    ``pixel_size_yx_um`` (TIFF only: Y and X sizes) in its metadata. Returns ``str(path)``.
    """
    path = Path(path)
    data = mask.astype(np.uint8) * 255 if mask.dtype == bool else mask
    suffix = path.suffix.lower()
    if suffix == ".npy":
        assert pixel_size_um is None and pixel_size_yx_um is None, "a .npy has no pixel size"
        np.save(path, data)
    elif suffix == ".png":
        from PIL import Image

        assert pixel_size_yx_um is None, "non-square pixels: write a TIFF"
        dpi = {} if pixel_size_um is None else {
            "dpi": (UM_PER_INCH / pixel_size_um,) * 2}
        Image.fromarray(data).save(path, **dpi)
    elif suffix in (".tif", ".tiff"):
        import tifffile

        if pixel_size_um is not None:
            pixel_size_yx_um = (pixel_size_um, pixel_size_um)
        res = {} if pixel_size_yx_um is None else {
            "resolution": (UM_PER_CM / pixel_size_yx_um[1], UM_PER_CM / pixel_size_yx_um[0]),
            "resolutionunit": "CENTIMETER"}
        tifffile.imwrite(path, data, **res)
    else:
        raise ValueError(f"no mask writer for {path.suffix!r}")
    return str(path)


#: Test lines of the grid masks' measurements: 7 + 7 grid lines on the whole field.
GRID_LINES = {"pattern": "grid", "n_lines": 7, "margin": 0}


def grid_mask(n: int = 200, step: int = 20, offset: int = 5) -> np.ndarray:
    """An ``n`` x ``n`` boolean mask of 1 px boundaries every ``step`` px from ``offset``
    in both directions (ℓ̄ 19.9 px on :data:`GRID_LINES` at n 200, step 20)."""
    m = np.zeros((n, n), bool)
    m[:, offset::step] = True
    m[offset::step, :] = True
    return m
