"""One rule of what a Zarr store is (``io.is_zarr_store``), the reader's: a folder that
:func:`~napari_srmat.io.read_image` reads with Zarr. The napari reader claimed a folder
by its ``.zarr`` name (any case) or a stray ``.zattrs`` that read_image refused as a
folder, and a ``.zarr`` file it could not read; the inputs given twice imported the
reader's private rule."""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from PIL import Image

from napari_srmat._napari_io import get_reader
from napari_srmat.io import (
    ImageReadError,
    is_zarr_store,
    read_image,
    write_ome_zarr,
    zarr_image_paths,
)

PIXELS = np.arange(64 * 48, dtype=np.uint16).reshape(64, 48)


def _png_folder(folder):
    folder.mkdir()
    Image.fromarray(PIXELS.astype(np.uint8)).save(folder / "a.png")
    return folder


def stray_zattrs(tmp_path):
    """A folder of PNGs with attributes alone (no group, no array)."""
    folder = _png_folder(tmp_path / "pngs")
    (folder / ".zattrs").write_text("{}")
    return folder


def named_zarr(tmp_path):
    """A folder of PNGs whose name ends in .ZARR (napari matched it in any case)."""
    return _png_folder(tmp_path / "pngs.ZARR")


def v3_upper_case(tmp_path):
    """A Zarr v3 array (zarr.json) named in upper case."""
    path = tmp_path / "SCAN.ZARR"
    zarr.create_array(str(path), shape=PIXELS.shape, dtype=PIXELS.dtype, zarr_format=3)[:] \
        = PIXELS
    return path


def v2_array_no_suffix(tmp_path):
    """A Zarr v2 array (.zarray, no .zattrs) named without a suffix."""
    path = tmp_path / "scan"
    zarr.create_array(str(path), shape=PIXELS.shape, dtype=PIXELS.dtype, zarr_format=2)[:] \
        = PIXELS
    return path


FOLDERS = {stray_zattrs: False, named_zarr: False, v3_upper_case: True,
           v2_array_no_suffix: True}


@pytest.mark.parametrize("make", FOLDERS, ids=lambda make: make.__name__)
def test_read_image_reads_as_zarr_what_the_rule_calls_a_store(tmp_path, make):
    """The reader is the authority: a store is read with Zarr, any other folder is
    refused as a folder (give the files in it)."""
    path = make(tmp_path)
    assert is_zarr_store(path) is FOLDERS[make]
    if FOLDERS[make]:
        np.testing.assert_array_equal(read_image(path).data.compute(), PIXELS)
    else:
        with pytest.raises(ImageReadError, match="is a folder, not an image file or a "
                                                 "Zarr store"):
            read_image(path)


@pytest.mark.parametrize("make", FOLDERS, ids=lambda make: make.__name__)
def test_the_napari_reader_claims_a_folder_read_image_reads_as_zarr(tmp_path, make):
    """get_reader claimed a folder of PNGs with a stray .zattrs, or named *.ZARR, whose
    read then failed in napari ("is a folder") instead of leaving it to napari's next
    reader."""
    path = make(tmp_path)
    assert (get_reader(str(path)) is not None) is FOLDERS[make]
    assert (get_reader(str(path)) is not None) is is_zarr_store(path)


def test_the_napari_reader_declines_a_zarr_file(tmp_path):
    """A file named *.zarr (a zipped store) was claimed by its suffix; read_image reads
    no such file."""
    path = tmp_path / "scan.zarr"
    path.write_bytes(b"PK\x03\x04" + bytes(60))
    assert not is_zarr_store(path)
    with pytest.raises(ImageReadError, match="unsupported"):
        read_image(path)
    assert get_reader(str(path)) is None


def test_a_file_or_a_missing_path_is_no_store(tmp_path):
    (tmp_path / "zarr.json").write_text("{}")
    assert not is_zarr_store(tmp_path / "zarr.json")
    assert not is_zarr_store(tmp_path / "missing.zarr")
    assert is_zarr_store(str(tmp_path))  # a str too


def test_zarr_image_paths_of_an_ome_zarr_are_its_levels(tmp_path):
    store = write_ome_zarr(PIXELS, tmp_path / "a.ome.zarr", n_levels=2)
    assert zarr_image_paths(store) == (store, (store / "0", store / "1"))


def test_zarr_image_paths_of_a_collection_are_its_first_series(tmp_path):
    """bioformats2raw: the reader reads series 0 (scan.zarr/0)."""
    store = tmp_path / "scan.zarr"
    zarr.open_group(str(store), mode="w", zarr_format=2)
    write_ome_zarr(PIXELS, store / "0", n_levels=2)
    write_ome_zarr(PIXELS, store / "1", n_levels=1)
    assert zarr_image_paths(store) == (store / "0", (store / "0" / "0", store / "0" / "1"))
    np.testing.assert_array_equal(read_image(store).data.compute(), PIXELS)


def test_zarr_image_paths_of_a_plain_array_is_the_array(tmp_path):
    path = v2_array_no_suffix(tmp_path)
    assert zarr_image_paths(path) == (path, (path,))
    group = tmp_path / "group"
    zarr.open_group(str(group), mode="w", zarr_format=2).create_array(
        "pixels", shape=PIXELS.shape, dtype=PIXELS.dtype)
    assert zarr_image_paths(group) == (group / "pixels", (group / "pixels",))


def test_zarr_image_paths_refuses_what_read_image_refuses(tmp_path):
    with pytest.raises(ImageReadError, match="not a Zarr store"):
        zarr_image_paths(stray_zattrs(tmp_path))
    group = tmp_path / "two.zarr"
    g = zarr.open_group(str(group), mode="w", zarr_format=2)
    for name in ("a", "b"):
        g.create_array(name, shape=(8, 8), dtype="u1")
    with pytest.raises(ImageReadError, match="2 arrays"):
        zarr_image_paths(group)
    with pytest.raises(ImageReadError, match="2 arrays"):
        read_image(group)
    for damaged in ("a/.zarray", ".zattrs", ".zgroup"):  # read_image's words
        (group / damaged).write_text("{not json")
        with pytest.raises(ImageReadError) as by_paths:
            zarr_image_paths(group)
        with pytest.raises(ImageReadError) as by_read:
            read_image(group)
        assert str(by_paths.value) == str(by_read.value)


def test_a_group_of_several_arrays_is_refused_naming_them_in_one_order(tmp_path):
    """A group of several arrays and no multiscales is refused naming its first five
    arrays; they came in the order Zarr's listing finished fetching them, which varies
    from call to call (of 40 calls each, zarr_image_paths and read_image named 8 arrays
    in 3 orders), so the two messages, and two reads, could list them differently. Both
    name them by name now (``sorted``, one rule), every time."""
    group = tmp_path / "many.zarr"
    g = zarr.open_group(str(group), mode="w")
    names = ["b", "a", "c", "10", "2", "x", "y", "z"]
    for name in names:
        g.create_array(name, shape=(8, 8), dtype="u1")
    want = f"{len(names)} arrays ({', '.join(sorted(names)[:5])})"
    said = set()
    for _ in range(10):
        for read in (zarr_image_paths, read_image):
            with pytest.raises(ImageReadError) as refused:
                read(group)
            said.add(str(refused.value))
    assert len(said) == 1, said
    assert want in said.pop()


def test_the_manifest_s_zarr_pattern_offers_the_reader_where_napari_matches_a_pattern(
        tmp_path):
    """npe2 offers a folder to every reader that accepts directories, whatever its
    filename patterns: ``*.zarr`` in napari.yaml does not choose the folders get_reader
    is asked about (get_reader decides, by ``is_zarr_store``). It is what offers the
    reader where napari matches a typed pattern: the reader list of napari's
    Preferences for a pattern (``*.zarr/``, which then applies to such folders), and a
    file named ``*.zarr`` (which get_reader declines). A guard (it passed before): with
    ``*.zarr`` removed the last two gave no reader, the folders the same."""
    npe2 = pytest.importorskip("npe2")
    from importlib.resources import files

    manifest = npe2.PluginManifest.from_file(str(files("napari_srmat") / "napari.yaml"))
    plugins = npe2.PluginManager()
    plugins.register(manifest)

    def readers(path) -> list[str]:
        return [r.command for r in plugins.iter_compatible_readers([str(path)])]

    ours = ["napari-srmat.get_reader"]
    assert readers(v3_upper_case(tmp_path)) == ours  # SCAN.ZARR
    assert readers(v2_array_no_suffix(tmp_path)) == ours  # a folder named "scan"
    assert readers("*.zarr/") == ours
    (tmp_path / "file.zarr").write_bytes(b"not a store")
    assert readers(tmp_path / "file.zarr") == ours
    assert get_reader(str(tmp_path / "file.zarr")) is None
