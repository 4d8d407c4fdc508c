"""``srmat info`` of a pyramid level path tells that level's stored chunks and place."""

from __future__ import annotations

import numpy as np

from napari_srmat.cli import main
from napari_srmat.io import write_ome_zarr


def _lines(capsys, *prefixes: str) -> list[str]:
    out = capsys.readouterr().out.splitlines()
    return [ln for ln in out if ln.startswith(prefixes)]


def test_srmat_info_of_a_level_path_tells_its_stored_chunks_and_position(tmp_path, capsys):
    """Guard (passes before; an explorer saw both lines missing on an older checkout):
    ``srmat info a.ome.zarr/0`` tells the ``chunks:`` note and the ``position:`` line
    the image's path tells, and level 1 its own place: the centre of its pixel (0, 0),
    half a level-0 pixel (0.25 µm) past the image's origin."""
    image = np.zeros((640, 768, 3), np.uint8)
    path = write_ome_zarr(
        image,
        tmp_path / "a.ome.zarr",
        chunks=256,
        pixel_size_um=0.5,
        origin_um=(10.0, 20.0),
        n_levels=2,
    )
    assert main(["info", str(path)]) == 0
    whole = _lines(capsys, "chunks:", "position:")
    assert whole == [
        "chunks:      (256, 256, 3) stored (read in (640, 768, 3))",
        "position:    pixel (0, 0) centred at (Y, X) = (10, 20) µm",
    ]
    assert main(["info", str(path / "0")]) == 0
    assert _lines(capsys, "chunks:", "position:") == whole
    assert main(["info", str(path / "1")]) == 0
    assert _lines(capsys, "chunks:", "position:", "pixel size:") == [
        "chunks:      (256, 256, 3) stored (read in (320, 384, 3))",
        "pixel size:  1 µm (from the OME-NGFF scale transformations)",
        "position:    pixel (0, 0) centred at (Y, X) = (10.25, 20.25) µm",
    ]
