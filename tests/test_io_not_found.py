"""A missing image is told in the one wording of a missing input by every command that
reads one through ``io.read_image``."""

from __future__ import annotations

import pytest

from napari_srmat.cli import main


@pytest.mark.parametrize("command", [
    ["info", "{missing}"],
    ["register", "{missing}", "{present}"],
    ["plan-rescan", "{missing}"],
    ["sr", "eval", "{missing}", "{present}"],
    ["sr", "run", "{missing}", "out.ome.zarr"],
    ["edges", "predict", "{missing}", "--out", "maps"],
    ["audit", "candidates", "{missing}", "{present}", "--out", "s.json"],
], ids=lambda c: " ".join(c[:2]).replace(" {missing}", ""))
def test_a_missing_image_is_told_as_every_missing_input_is(tmp_path, monkeypatch, capsys,
                                                           command):
    """Was: `srmat info nofile.png` (and register, plan-rescan, sr eval, sr run, edges
    predict: io.read_image's own words) said "nofile.png: no such file or directory",
    `srmat audit candidates` (its own check, before read_image) "no such image: nofile.png",
    while grain-size and heyn said "nofile.png: image not found" (errors.
    not_found_message, the one wording of a missing input). read_image says it so now:
    one line, exit 2, no traceback."""
    import numpy as np
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    Image.fromarray(np.full((64, 64), 128, np.uint8)).save("present.png")
    missing = "nofile.png"
    assert main([part.format(missing=missing, present="present.png")
                 for part in command]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].endswith(f": error: {missing}: image not found"), err
    assert "Traceback" not in err


def test_read_image_of_a_missing_file_says_image_not_found(tmp_path):
    """The library's refusal is the commands' line."""
    from napari_srmat.errors import not_found_message
    from napari_srmat.io import ImageReadError, read_image

    path = tmp_path / "nofile.tif"
    with pytest.raises(ImageReadError) as raised:
        read_image(path)
    assert str(raised.value) == not_found_message(path, "image")


@pytest.mark.parametrize("command, told", [
    (["sr", "train", "--pairs", "pairs.csv", "--out", "run", "--device", "cpu"],
     "pairs.csv, row 1: nofile.png: image not found"),
    (["edges", "train", "--data", "nofolder", "--out", "run"],
     "nofolder: data root not found"),
    (["experiment", "sr-vs-original", "--data", "nofolder", "--out", "run"],
     "nofolder: data root not found"),
], ids=["sr train --pairs", "edges train --data", "experiment sr-vs-original --data"])
def test_a_missing_pairs_image_or_data_root_is_told_as_every_missing_input_is(
        tmp_path, monkeypatch, capsys, command, told):
    """Was: a pairs file's missing image "PAIRS, row k: no such image: P" (sr.pairs),
    `--data X` of `srmat edges train` and `srmat experiment sr-vs-original` "--data X:
    folder not found" (edges.train itself says "X: data root not found"): each their
    own words, not errors.not_found_message's (the row stays before it). One line,
    exit 2, no traceback, nothing written."""
    import numpy as np
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    Image.fromarray(np.full((64, 64), 128, np.uint8)).save("present.png")
    (tmp_path / "pairs.csv").write_text("present.png,nofile.png\n")
    assert main(command) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].endswith(f": error: {told}"), err
    assert "Traceback" not in err
    assert not (tmp_path / "run").exists()
