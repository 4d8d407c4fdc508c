"""srmat heyn and srmat grain-size --method refuse a specimen of masks with and without a
pixel size naming one remedy, ``metrics.standards.MIXED_PIXEL_SIZES_ACTION`` (the tail of
``MIXED_PIXEL_SIZES_REMEDY``, the warning's): until 2026-12-07 each command held its own
copy of the sentence."""

from __future__ import annotations

import numpy as np
import tifffile
from PIL import Image

from napari_srmat.cli import main
from napari_srmat.metrics.standards import MIXED_PIXEL_SIZES_ACTION, MIXED_PIXEL_SIZES_REMEDY


def _grid(period: int) -> np.ndarray:
    m = np.zeros((128, 128), np.uint8)
    m[::period] = m[:, ::period] = 255
    return m


def test_both_commands_name_the_warning_s_remedy(tmp_path, capsys):
    assert MIXED_PIXEL_SIZES_ACTION == "record their pixel size or measure them apart"
    assert MIXED_PIXEL_SIZES_REMEDY.endswith(f"; {MIXED_PIXEL_SIZES_ACTION}")
    a, b = str(tmp_path / "a.tif"), str(tmp_path / "b.png")
    tifffile.imwrite(a, _grid(16), resolution=(1e4 / 0.3, 1e4 / 0.3), resolutionunit="CENTIMETER")
    Image.fromarray(_grid(20)).save(b)
    for argv in (["heyn", a, b], ["grain-size", a, b, "--mask", "--method", "intercept"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.splitlines()
        (error,) = [line for line in err if ": error: " in line]
        assert error.endswith(f"are not pooled (see the warnings: {MIXED_PIXEL_SIZES_ACTION})")
