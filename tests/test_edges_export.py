"""Tests of ``python -m napari_srmat.edges.export``'s writing of DST (its calibration:
test_edges_thresholds, test_uncertainty; its refusals: test_edges_model)."""

from __future__ import annotations

import os

import pytest
import torch
from _ctrl_c import ctrl_c_after_unlinks, python_ctrl_c  # noqa: F401

from napari_srmat.checkpoint import save_checkpoint
from napari_srmat.edges.export import main as export_main


@pytest.mark.usefixtures("python_ctrl_c")
@pytest.mark.parametrize("files_deleted", [1, 2])
def test_an_export_whose_earlier_dst_deletion_a_ctrl_c_stopped_leaves_no_file_behind(
        tmp_path, monkeypatch, capsys, files_deleted):
    """``export SRC DST`` replacing an earlier DST, its deletion stopped by a Ctrl-C
    after one file or both: the export passed atomic_directory no ``last``, the files
    went in any order, and what was left aside (one file of the two, or an empty
    folder) was recognised by nothing, so the next export left ``.DST.<8 hex>.old`` for
    good (failed before: it was still there). The export now writes DST as every
    checkpoint is written (checkpoint.checkpoint_directory: the weights, then the
    config deleted last, and what is left, the config, a copy of ours), and the next
    export removes it; an empty folder (both files gone) proves nothing and is left."""
    src = save_checkpoint(tmp_path / "ck", torch.nn.Conv2d(3, 4, 3).state_dict(),
                          {"model": "conv"})
    dst = tmp_path / "dst"
    assert export_main([str(src), str(dst)]) == 0
    with ctrl_c_after_unlinks(monkeypatch, files_deleted) as unlinked, \
            pytest.raises(KeyboardInterrupt):
        export_main([str(src), str(dst), "--fp16"])
    assert len(unlinked) == files_deleted
    assert '"float16"' in (dst / "config.json").read_text()  # the new DST in place
    assert len(os.listdir(tmp_path)) == 3
    assert export_main([str(src), str(dst)]) == 0
    left = sorted(set(os.listdir(tmp_path)) - {"ck", "dst"})
    assert len(left) == files_deleted - 1
    assert all(os.listdir(tmp_path / name) == [] for name in left)
    assert '"float16"' not in (dst / "config.json").read_text()
    assert capsys.readouterr().err == ""
