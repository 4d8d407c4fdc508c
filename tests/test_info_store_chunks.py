"""``srmat info`` tells a Zarr store's own chunks, not only those it is read in."""

from __future__ import annotations

import json

import numpy as np

from napari_srmat.cli import main
from napari_srmat.io import write_ome_zarr


def test_srmat_info_tells_the_chunks_of_the_store(tmp_path, capsys):
    """A store written with ``write_ome_zarr(chunks=256)`` (``.zarray`` chunks [3, 256,
    256]) was told as ``chunks: (640, 768, 3)``: the chunks Dask reads it in. The store's
    chunks are now told, in the axes it is read with, and the read ones beside them,
    labelled; ``--json`` gives them as ``store_chunks``, once: they were under
    ``metadata`` too (failed before)."""
    rng = np.random.default_rng(0)
    image = (rng.random((640, 768, 3)) * 255).astype(np.uint8)
    path = write_ome_zarr(image, tmp_path / "a.ome.zarr", chunks=256, pixel_size_um=0.5)
    zarray = json.loads((path / "0" / ".zarray").read_text())
    assert zarray["chunks"] == [3, 256, 256]
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["store_chunks"] == [256, 256, 3]
    assert "store_chunks" not in info["metadata"]
    assert main(["info", str(path)]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("chunks:"))
    assert line == f"chunks:      (256, 256, 3) stored (read in {tuple(info['chunks'])})"


def test_srmat_info_of_a_tiff_tells_its_read_chunks(tmp_path, capsys):
    """Guard: a file that is no Zarr store has no stored chunks to tell."""
    import tifffile

    path = tmp_path / "a.tif"
    tifffile.imwrite(path, np.zeros((40, 30), np.uint8))
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["store_chunks"] is None
    assert main(["info", str(path)]) == 0
    assert f"chunks:      {tuple(info['chunks'])}\n" in capsys.readouterr().out


def test_srmat_info_of_a_level_path_does_not_mislabel_its_chunks(tmp_path, capsys):
    """A level path (``a.ome.zarr/0``) has no axis names of its own: its stored chunks
    [3, 256, 256] were told as YXC (reviewer). The reader reads it with its image's axis
    names (the ``store_chunks`` it records, the one rule): told in those, never in the
    order stored."""
    rng = np.random.default_rng(0)
    image = (rng.random((640, 768, 3)) * 255).astype(np.uint8)
    path = write_ome_zarr(image, tmp_path / "b.ome.zarr", chunks=256, pixel_size_um=0.5)
    assert main(["info", str(path / "0"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["store_chunks"] == [256, 256, 3]


def test_srmat_info_of_a_store_without_axis_names_tells_its_read_chunks(tmp_path, capsys):
    """Guard: an NGFF 0.2 store names no axes (0.3 introduced ``axes``, a list of names;
    the reader assumes ``tczyx``'s last ones):
    its stored order is not known to match the axes read, so no stored chunks are told."""
    image = np.zeros((640, 768), np.uint8)
    path = write_ome_zarr(image, tmp_path / "c.ome.zarr", chunks=256, pixel_size_um=0.5)
    attrs = json.loads((path / ".zattrs").read_text())
    for ms in attrs["multiscales"]:
        ms.pop("axes")
        ms["version"] = "0.2"
    (path / ".zattrs").write_text(json.dumps(attrs))
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["store_chunks"] is None and info["format"] == "ome-zarr"


def test_a_complete_output_s_damage_check_tells_no_read_warning(tmp_path):
    """The damage check of a complete output reads it with its warnings held: the read
    after it tells them once (a non-square output's warning was told twice)."""
    import warnings

    from napari_srmat.io._write import _check_not_damaged

    image = np.zeros((64, 48), np.uint8)
    path = write_ome_zarr(image, tmp_path / "ns.ome.zarr", pixel_size_um=(0.5, 0.25))
    with warnings.catch_warnings(record=True) as told:
        warnings.simplefilter("always")
        _check_not_damaged(path)
    assert [str(w.message) for w in told] == []
