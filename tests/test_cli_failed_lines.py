"""How a failed input of several is told: what it told before it failed, named, once
each, then its one error line, and its ``--json`` ``errors`` entry, by one rule
(:class:`napari_srmat.cli.FailedInput`) for ``srmat heyn``'s masks and ``srmat
grain-size``'s images. Until 2026-12-06 ``srmat grain-size`` told them by a rule of its
own (``_measure_or_error``'s tuple, ``_tell_image``)."""

from __future__ import annotations

import json
import pickle

import numpy as np
from PIL import Image

from napari_srmat.cli import FailedInput, main

#: The print resolution the small mask records (no pixel size: the note it tells).
DPI = 150


def _tiny_150_dpi_mask(tmp_path):
    """A 2 x 2 PNG at :data:`DPI` dpi: its pixel-size note, then too small to measure."""
    path = tmp_path / "tiny.png"
    mask = np.zeros((2, 2), np.uint8)
    mask[0, 0] = 255
    Image.fromarray(mask).save(path, dpi=(DPI, DPI))
    return path


def test_heyn_and_grain_size_tell_a_failed_mask_by_one_rule(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _tiny_150_dpi_mask(tmp_path)
    told = {}
    for command in (["heyn"], ["grain-size", "--mask"]):
        assert main([*command, "--json", "tiny.png"]) == 2
        out, err = capsys.readouterr()
        (entry,) = json.loads(out)["errors"]
        told[command[0]] = err.strip().splitlines(), entry
    (heyn_lines, heyn_entry), (gs_lines, gs_entry) = told["heyn"], told["grain-size"]
    # the note, named, once, then the error line; the entry lists the note unnamed
    assert len(heyn_lines) == len(gs_lines) == 2
    assert f"{DPI} dpi" in heyn_entry["warnings"][0]
    assert heyn_entry["warnings"] == gs_entry["warnings"]
    assert heyn_lines[0] == (f"srmat heyn: warning: tiny.png: {heyn_entry['warnings'][0]}")
    assert gs_lines[0] == heyn_lines[0].replace("srmat heyn", "srmat grain-size")
    assert heyn_lines[1] == f"srmat heyn: error: {heyn_entry['error']}"
    assert gs_lines[1] == f"srmat grain-size: error: {gs_entry['error']}"


def test_a_failed_input_comes_back_from_a_worker_and_is_told_the_same(capsys):
    """``srmat grain-size --scheduler``'s worker returns its image's FailedInput (its
    stderr is not the user's): pickled, it tells the same lines and entry."""
    failed = FailedInput.of("srmat grain-size", "b.png", ValueError("b.png: too small"),
                            ["no pixel size", "no pixel size"])
    back = pickle.loads(pickle.dumps(failed))
    assert back == failed and back.user
    entries = [failed.tell(), back.tell()]
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["srmat grain-size: warning: b.png: no pixel size",
                     "srmat grain-size: error: b.png: too small"] * 2
    assert entries == [{"path": "b.png", "error": "b.png: too small",
                        "warnings": ["no pixel size"]}] * 2
