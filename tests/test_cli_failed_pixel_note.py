"""A failed input of ``srmat heyn`` / ``srmat grain-size`` tells its pixel-size note (a
print resolution taken for none, or no pixel size at all: what its row would have said)
before its error line, and lists it in its ``--json`` ``errors`` entry, whichever step
refused it: the size check (``metrics.heyn.check_measurable_shape``), the memory check
before the mask is read (``cli.check_mask_fits``) or ``--method``'s field check. Until
2026-12-06 an input without any pixel size told nothing of it when it failed, and the
memory and field checks refused a 150 dpi file before its note was told: the one rule is
:func:`napari_srmat.cli.open_input`, :class:`napari_srmat.cli.FailedInput` tells it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from napari_srmat.cli import main
from napari_srmat.grainsize import NO_PIXEL_SIZE_NOTE

#: The print resolution of the 150 dpi files (no pixel size: the note it tells).
DPI = 150

#: The commands that measure masks, as run here.
MASK_COMMANDS = (["heyn"], ["grain-size", "--mask"])


def _png(path, side: int, dpi: int | None):
    """A ``side`` x ``side`` boundary-mask PNG, recording ``dpi`` (None: no resolution)."""
    mask = np.zeros((side, side), np.uint8)
    mask[side // 2, :] = 255
    Image.fromarray(mask).save(path, **({} if dpi is None else {"dpi": (dpi, dpi)}))
    return path


def _note(dpi: int | None) -> str:
    """The start of the pixel-size note of a file recording ``dpi`` (None: none)."""
    return NO_PIXEL_SIZE_NOTE if dpi is None else "no pixel size: the file records 150 dpi"


def _failed(argv: list[str], capsys) -> tuple[list[str], dict, list[str]]:
    """Run ``argv`` with and without ``--json`` (one input, refused: exit 2): its
    ``--json`` entry and the stderr lines of each run."""
    assert main([*argv, "--json"]) == 2
    out, err = capsys.readouterr()
    (entry,) = json.loads(out)["errors"]
    json_lines = err.strip().splitlines()
    assert main(argv) == 2
    text_lines = capsys.readouterr().err.strip().splitlines()
    return json_lines, entry, text_lines


def _assert_note_then_error(where: str, name: str, dpi: int | None, told) -> None:
    json_lines, entry, text_lines = told
    note = _note(dpi)
    assert len(entry["warnings"]) == 1 and entry["warnings"][0].startswith(note), entry
    for lines in (json_lines, text_lines):
        assert lines == [f"{where}: warning: {name}: {entry['warnings'][0]}",
                         f"{where}: error: {entry['error']}"], lines


@pytest.mark.parametrize("dpi", [None, DPI])
@pytest.mark.parametrize("command", [*MASK_COMMANDS, ["grain-size"]],
                         ids=["heyn", "grain-size-mask", "grain-size-image"])
def test_an_input_too_small_to_measure_tells_its_pixel_size_note(
        tmp_path, capsys, monkeypatch, command, dpi):
    """A 2 x 2 PNG: refused by the size check. Failed before with dpi None: no warning
    line, an empty ``warnings`` (the 150 dpi file told its note)."""
    monkeypatch.chdir(tmp_path)
    _png(tmp_path / "tiny.png", 2, dpi)
    told = _failed([*command, "tiny.png"], capsys)
    assert "too small" in told[1]["error"]
    _assert_note_then_error(f"srmat {command[0]}", "tiny.png", dpi, told)


@pytest.mark.parametrize("dpi", [None, DPI])
@pytest.mark.parametrize("command", [["heyn"], ["grain-size", "--mask", "--method",
                                                  "intercept"]],
                         ids=["heyn", "grain-size-method"])
def test_a_mask_refused_for_memory_tells_its_pixel_size_note(
        tmp_path, capsys, monkeypatch, command, dpi):
    """A mask whose measurement needs more memory than there is, refused before it is
    read (``cli.check_mask_fits``). Failed before (both dpi): no warning line."""
    from napari_srmat import estimates

    monkeypatch.chdir(tmp_path)
    _png(tmp_path / "m.png", 64, dpi)
    monkeypatch.setattr(estimates, "available_memory_bytes", lambda: 1024)
    told = _failed([*command, "m.png"], capsys)
    assert " needs " in told[1]["error"]
    _assert_note_then_error(f"srmat {command[0]}", "m.png", dpi, told)


def test_a_measured_masks_row_says_what_a_failed_one_tells(tmp_path, capsys, monkeypatch):
    """The note a failed input tells is the one its row carries when it is measured."""
    monkeypatch.chdir(tmp_path)
    for dpi in (None, DPI):
        _png(tmp_path / "m.png", 64, dpi)
        for command in MASK_COMMANDS:
            assert main([*command, "--json", "m.png"]) == 0
            out = json.loads(capsys.readouterr().out)
            row = (out["per_image"] if command == ["heyn"] else out["images"])[0]
            assert [w for w in row["warnings"] if w.startswith(_note(dpi))], row
