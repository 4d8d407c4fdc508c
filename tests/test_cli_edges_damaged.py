"""`srmat edges predict` on a complete output folder (or its finished staging) whose maps
lost a chunk: refused in one line naming --overwrite, as `srmat sr run` refuses a damaged
complete output (:func:`napari_srmat.io._write._check_not_damaged`)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from napari_srmat.cli import main  # noqa: E402


def _lose_a_chunk(store):
    next(p for p in (store / "0").rglob("*") if p.is_file() and p.name[0] != ".").unlink()


@pytest.mark.parametrize("where", ["complete", "staging"])
def test_a_damaged_complete_edges_folder_names_overwrite(tmp_path, capsys, monkeypatch, where):
    """Failed before: a complete folder that lost a chunk of prob.ome.zarr was told
    "[notice] ... is already complete ... nothing written" (exit 0), a finished staging
    (stopped before its swap) was moved into place unread (exit 0): the damage was found
    only where a later step read the map. Now one error line naming --overwrite, which
    writes the folder again."""
    from PIL import Image

    import napari_srmat._atomic as atomic
    from napari_srmat.io import read_image
    from napari_srmat.synth import generate_microstructure

    img = tmp_path / "in.png"
    Image.fromarray(generate_microstructure((64, 64), mean_grain_size_px=16, seed=1).image).save(
        img
    )
    out = tmp_path / "b"
    argv = [
        "edges",
        "predict",
        str(img),
        "--out",
        str(out),
        "--tta",
        "none",
        "--device",
        "cpu",
        "--tile",
        "64",
        "--overlap",
        "16",
    ]
    if where == "staging":

        def stopped(*args, **kwargs):
            raise KeyboardInterrupt

        with monkeypatch.context() as patch:
            patch.setattr(atomic, "swap_into_place", stopped)
            assert main(argv) != 0
        _lose_a_chunk(tmp_path / "b.partial" / "prob.ome.zarr")
    else:
        assert main(argv) == 0
        _lose_a_chunk(out / "prob.ome.zarr")
    capsys.readouterr()
    assert main(argv) != 0
    said, err = capsys.readouterr()
    told = [
        line
        for line in err.splitlines()
        if not line.startswith(("[info]", "[warning]", "warning:"))
    ]
    assert said == "" and len(told) == 1 and "already complete" not in err, err
    assert told[0].startswith(f"srmat edges predict: error: {out / 'prob.ome.zarr'} is damaged: ")
    assert told[0].endswith("; pass --overwrite to write it again")
    assert main([*argv, "--overwrite"]) == 0
    assert read_image(out / "prob.ome.zarr").data.shape == (64, 64)
