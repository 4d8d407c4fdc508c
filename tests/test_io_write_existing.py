"""``write_ome_zarr`` onto an existing path: a folder napari-srmat did not write is refused
as one that will not be replaced, with or without ``overwrite``; only a store of its own
is refused with the advice to pass ``overwrite=True``."""

from __future__ import annotations

import numpy as np
import pytest

from napari_srmat.io import read_image, write_ome_zarr
from napari_srmat.outputs import OutputExistsError

PIXELS = np.arange(16 * 12, dtype=np.uint8).reshape(16, 12)


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_folder_of_the_user_s_is_refused_as_never_replaced(tmp_path, overwrite):
    """`write_ome_zarr(a, 'userdir')` on a folder of the user's said "userdir already
    exists (pass overwrite=True to replace it)", and overwrite=True was then refused as
    "a folder that napari-srmat did not write": the first message advised what the
    second refused. Both say now that it will not be replaced; the folder is untouched."""
    user = tmp_path / "userdir"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError) as info:
        write_ome_zarr(PIXELS, user, overwrite=overwrite)
    assert str(info.value) == (
        f"{user} is a folder that napari-srmat did not write; it will "
        "not be replaced: choose another output"
    )
    assert sorted(p.name for p in user.iterdir()) == ["notes.txt"]
    assert (user / "notes.txt").read_text() == "mine"


def test_a_store_of_its_own_is_refused_with_the_overwrite_advice_and_replaced_with_it(tmp_path):
    """Guard (passed before): a store write_ome_zarr wrote is refused without overwrite,
    naming overwrite=True, and replaced with it."""
    out = write_ome_zarr(PIXELS, tmp_path / "a.ome.zarr")
    with pytest.raises(OutputExistsError) as info:
        write_ome_zarr(PIXELS[::-1], out)
    assert str(info.value) == f"{out} already exists (pass overwrite=True to replace it)"
    write_ome_zarr(PIXELS[::-1], out, overwrite=True)
    np.testing.assert_array_equal(np.asarray(read_image(out).data), PIXELS[::-1])


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_link_to_a_store_of_its_own_is_refused_as_a_link_with_or_without_overwrite(
        tmp_path, overwrite):
    """A symbolic link to a store write_ome_zarr wrote was refused without overwrite with
    the advice to pass overwrite=True, which was then refused as a link: the advice
    then the refusal e5975c03 removed for a user's folder (found by review). The link
    and its store are untouched."""
    store = write_ome_zarr(PIXELS, tmp_path / "a.ome.zarr")
    link = tmp_path / "link.ome.zarr"
    link.symlink_to(store, target_is_directory=True)
    with pytest.raises(OutputExistsError) as info:
        write_ome_zarr(PIXELS[::-1], link, overwrite=overwrite)
    assert "symbolic link" in str(info.value)
    assert "overwrite" not in str(info.value)
    assert link.is_symlink()
    assert np.array_equal(np.asarray(read_image(store).data), PIXELS)
