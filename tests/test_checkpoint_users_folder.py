"""A checkpoint written onto a folder of the user's is refused as never replaced,
with or without ``overwrite`` (the one rule :func:`napari_srmat.outputs.check_existing_output`)."""

from __future__ import annotations

import pytest
import torch

from napari_srmat.checkpoint import save_checkpoint
from napari_srmat.outputs import OutputExistsError


@pytest.mark.parametrize("overwrite", [False, True])
def test_save_checkpoint_onto_a_users_folder_never_offers_to_replace_it(tmp_path, overwrite):
    folder = tmp_path / "userdir"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError) as refused:
        save_checkpoint(folder, {"w": torch.zeros(2)}, {"model": "cnn"}, overwrite=overwrite)
    line = str(refused.value)
    assert "will not be replaced" in line
    assert "overwrite" not in line
    assert (folder / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["userdir"]
