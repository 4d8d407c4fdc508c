"""A failed input of ``srmat heyn`` / ``srmat grain-size`` tells its FILE's pixel-size
note (a print resolution taken for none) before its error line, and lists it in its
``--json`` ``errors`` entry, whichever step refused it: the size check
(``metrics.heyn.check_measurable_shape``), the memory check before the mask is read
(``cli.check_mask_fits``) or ``--method``'s field check. Until 2026-12-06 the memory and
field checks refused a 150 dpi file before its note was told: the one rule is
:func:`napari_srmat.cli.open_input`, :class:`napari_srmat.cli.FailedInput` tells it.

An input with no pixel size at all tells nothing of it when it fails: the row's
:data:`~napari_srmat.grainsize.NO_PIXEL_SIZE_NOTE` says its µm and G keys are null, which
means nothing without a row (a measured row keeps it). 855c4f7 had every failed input tell
it; before that an image whose ``--method`` field failed after its row did."""

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


def _note(dpi: int | None) -> str | None:
    """The start of the pixel-size note a failed file recording ``dpi`` tells (None:
    none)."""
    return None if dpi is None else "no pixel size: the file records 150 dpi"


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
    if note is None:  # no pixel size at all: its one error line
        assert entry["warnings"] == [], entry
    else:
        assert len(entry["warnings"]) == 1 and entry["warnings"][0].startswith(note), entry
    for lines in (json_lines, text_lines):
        assert lines == [*(f"{where}: warning: {name}: {text}" for text in entry["warnings"]),
                         f"{where}: error: {entry['error']}"], lines


@pytest.mark.parametrize("dpi", [None, DPI])
@pytest.mark.parametrize("command", [*MASK_COMMANDS, ["grain-size"]],
                         ids=["heyn", "grain-size-mask", "grain-size-image"])
def test_an_input_too_small_to_measure_tells_its_pixel_size_note(
        tmp_path, capsys, monkeypatch, command, dpi):
    """A 2 x 2 PNG: refused by the size check; the 150 dpi file tells its note, the file
    without any pixel size nothing (855c4f7 told NO_PIXEL_SIZE_NOTE)."""
    monkeypatch.chdir(tmp_path)
    _png(tmp_path / "tiny.png", 2, dpi)
    told = _failed([*command, "tiny.png"], capsys)
    error = told[1]["error"]
    if command == ["grain-size"]:  # an image: the boundary model's least side (d75445a6)
        assert "smaller than the smallest image the boundary model takes" in error, error
    else:
        assert "too small" in error, error
    _assert_note_then_error(f"srmat {command[0]}", "tiny.png", dpi, told)


@pytest.mark.parametrize("dpi", [None, DPI])
@pytest.mark.parametrize("command", [["heyn"], ["grain-size", "--mask", "--method",
                                                  "intercept"]],
                         ids=["heyn", "grain-size-method"])
def test_a_mask_refused_for_memory_tells_its_pixel_size_note(
        tmp_path, capsys, monkeypatch, command, dpi):
    """A mask whose measurement needs more memory than there is, refused before it is
    read (``cli.check_mask_fits``). Failed before 855c4f7 (dpi 150): no warning line;
    at 855c4f7 (dpi None): NO_PIXEL_SIZE_NOTE told."""
    from napari_srmat import estimates

    monkeypatch.chdir(tmp_path)
    _png(tmp_path / "m.png", 64, dpi)
    monkeypatch.setattr(estimates, "available_memory_bytes", lambda: 1024)
    told = _failed([*command, "m.png"], capsys)
    assert " needs " in told[1]["error"]
    _assert_note_then_error(f"srmat {command[0]}", "m.png", dpi, told)


def test_a_measured_masks_row_keeps_its_pixel_size_note(tmp_path, capsys, monkeypatch):
    """A measured row says what its file's note says (150 dpi), or, without any pixel
    size, :data:`~napari_srmat.grainsize.NO_PIXEL_SIZE_NOTE` (which a failed input does
    not tell)."""
    monkeypatch.chdir(tmp_path)
    for dpi in (None, DPI):
        _png(tmp_path / "m.png", 64, dpi)
        for command in MASK_COMMANDS:
            assert main([*command, "--json", "m.png"]) == 0
            out = json.loads(capsys.readouterr().out)
            row = (out["per_image"] if command == ["heyn"] else out["images"])[0]
            note = NO_PIXEL_SIZE_NOTE if dpi is None else _note(dpi)
            assert [w for w in row["warnings"] if w.startswith(note)], row


@pytest.mark.parametrize("dpi", [None, DPI])
def test_a_field_refused_after_its_row_tells_its_files_note_only(
        tmp_path, capsys, monkeypatch, dpi):
    """``--method``'s field refuses a ``--twins`` mask of another shape after the image's
    row was made: the image tells the row's warnings less NO_PIXEL_SIZE_NOTE (its file's
    150 dpi note kept). Failed before (dpi None): NO_PIXEL_SIZE_NOTE told, named, and in
    its entry."""
    monkeypatch.chdir(tmp_path)
    _png(tmp_path / "m.png", 64, dpi)
    _png(tmp_path / "twins.png", 32, None)
    told = _failed(["grain-size", "m.png", "--mask", "--method", "intercept",
                    "--twins", "twins.png"], capsys)
    json_lines, entry, text_lines = told
    assert "twins.png" in entry["error"], entry
    assert NO_PIXEL_SIZE_NOTE not in entry["warnings"], entry
    assert not any(NO_PIXEL_SIZE_NOTE in line for line in json_lines + text_lines)
    assert [w for w in entry["warnings"] if w.startswith(_note(DPI))] == (
        [] if dpi is None else entry["warnings"][:1]), entry
    for lines in (json_lines, text_lines):
        assert lines[-1] == f"srmat grain-size: error: {entry['error']}", lines
