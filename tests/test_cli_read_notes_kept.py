"""What reading an input file told (``PATH: the TIFF holds 2 images ...``) is told, named,
before the error line of the input that then failed, and listed in its ``--json``
``errors`` entry: ``srmat grain-size``'s images and ``srmat heyn``'s masks alike
(:func:`napari_srmat.cli.notes_of_reading`). Until 2026-12-06 it was lost where the read
itself failed after it (both commands), or where a mask's measurement failed
(``srmat heyn``)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from PIL import Image

from napari_srmat.cli import main

#: What reading the file tells first (a read warning names the file: ``PATH: ...``).
READ_NOTE = "the TIFF holds 2 images: the first is read"
#: The error of the read that comes after it.
READ_ERROR = "a damaged strip"
#: The error of a mask's measurement.
MEASURE_ERROR = "the mask could not be measured"


@pytest.fixture
def masks(tmp_path):
    """Two boundary masks (PNG) that measure."""
    from napari_srmat.synth import generate_microstructure

    paths = []
    for name in ("a.png", "b.png"):
        ms = generate_microstructure((96, 96), mean_grain_size_px=16, seed=1)
        path = tmp_path / name
        Image.fromarray(ms.boundaries.astype(np.uint8) * 255).save(path)
        paths.append(path)
    return paths


def _read_note_then(monkeypatch, bad, failure: str) -> None:
    """Reading mask ``bad`` warns :data:`READ_NOTE`, then ``failure``: "read" (the read
    fails, :data:`READ_ERROR`), "interrupt" (a Ctrl-C during the read) or "measure"
    (``srmat heyn``'s measurement fails, :data:`MEASURE_ERROR`)."""
    import napari_srmat.io as io
    import napari_srmat.metrics.heyn as heyn

    real_open, real_measure = io.open_mask_file, heyn.measure_intercepts

    def open_mask_file(path, *args, **kwargs):
        if str(path) == str(bad):
            warnings.warn(f"{path}: {READ_NOTE}", UserWarning, stacklevel=2)
            if failure == "read":
                raise ValueError(READ_ERROR)
            if failure == "interrupt":
                raise KeyboardInterrupt
        return real_open(path, *args, **kwargs)

    def measure_intercepts(mask, *args, **kwargs):
        if failure == "measure" and measure_intercepts.reading_bad:
            raise ValueError(MEASURE_ERROR)
        return real_measure(mask, *args, **kwargs)

    def opened(path, *args, **kwargs):
        measure_intercepts.reading_bad = str(path) == str(bad)
        return open_mask_file(path, *args, **kwargs)

    measure_intercepts.reading_bad = False
    monkeypatch.setattr(io, "open_mask_file", opened)
    monkeypatch.setattr(heyn, "measure_intercepts", measure_intercepts)


@pytest.mark.parametrize("command, failure", [("grain-size", "read"), ("heyn", "read"),
                                              ("heyn", "measure")])
def test_a_failed_inputs_read_note_is_told_and_listed(masks, capsys, monkeypatch,
                                                      command, failure):
    """Failed before: no line held :data:`READ_NOTE` and the entry's ``warnings`` was
    ``[]``: the read note was dropped with the input's row."""
    good, bad = masks
    _read_note_then(monkeypatch, bad, failure)
    argv = [command, str(good), str(bad), "--json"]
    argv += ["--mask"] if command == "grain-size" else ["--lines", "20"]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    error = READ_ERROR if failure == "read" else MEASURE_ERROR
    lines = err.splitlines()
    at = lines.index(f"srmat {command}: error: {bad}: {error}")
    assert lines[at - 1] == f"srmat {command}: warning: {bad}: {READ_NOTE}", err
    assert sum(READ_NOTE in line for line in lines) == 1, err
    entries = json.loads(out)["errors"]
    assert entries == [{"path": str(bad), "error": f"{bad}: {error}",
                        "warnings": [READ_NOTE]}]


@pytest.mark.parametrize("command", ["grain-size", "heyn"])
def test_a_read_note_is_told_named_on_ctrl_c_and_with_debug(masks, capsys, monkeypatch,
                                                           command):
    """What reading an input told is told, named, before ``srmat``'s own line of a Ctrl-C
    during its read, and before ``--debug``'s traceback of a read that failed: the one
    rule of both commands (:func:`napari_srmat.cli.carried_if_failed`). Failed before
    for heyn: the Ctrl-C lost the note (no line held it), and ``--debug`` told it
    unnamed (``srmat heyn: warning: the TIFF holds ...``)."""
    good, bad = masks
    argv = [command, str(good), str(bad)]
    argv += ["--mask"] if command == "grain-size" else ["--lines", "20"]
    named = f"srmat {command}: warning: {bad}: {READ_NOTE}"
    _read_note_then(monkeypatch, bad, "interrupt")
    assert main(argv) == 130
    lines = capsys.readouterr().err.splitlines()
    assert lines[-2:] == [named, lines[-1]] and "interrupted" in lines[-1], lines
    assert sum(READ_NOTE in line for line in lines) == 1, lines
    _read_note_then(monkeypatch, bad, "read")
    with pytest.raises(ValueError, match=READ_ERROR):
        main(["--debug", *argv])
    lines = capsys.readouterr().err.splitlines()
    assert [line for line in lines if READ_NOTE in line] == [named], lines


def test_plan_rescans_pixel_size_note_is_told_when_the_plan_fails(tmp_path, capsys):
    """``srmat plan-rescan``'s note on the LR's pixel size (a print resolution of 150 dpi
    read as no pixel size) is told before the error line of a plan that then fails (an
    unknown model). Failed before: the note was put in the plan's warnings only after the
    plan was made, so no line held it."""
    from napari_srmat.io import pixel_size_note, read_image

    rgb = np.random.default_rng(0).integers(0, 255, (128, 128, 3), dtype=np.uint8)
    path = tmp_path / "scan.jpg"
    Image.fromarray(rgb).save(path, dpi=(150, 150))
    note = pixel_size_note(read_image(path))
    assert main(["plan-rescan", str(path), "--model", "no-such-model"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[-2] == f"srmat plan-rescan: warning: {note}", lines
    assert lines[-1].startswith("srmat plan-rescan: error: ") and "no-such-model" in lines[-1]
    assert sum(note in line for line in lines) == 1, lines


#: A print resolution a mask file records (no pixel size: the file's own note says so).
PRINT_DPI = 150
#: The resolution of a mask file that records 0.5 µm per pixel (PNG pHYs).
HALF_UM_DPI = 50800
#: A pixel size given that differs from it.
GIVEN_UM = 0.25


def _mask_at(path, side: int, dpi: float | None = PRINT_DPI, given: float | None = None):
    """A ``side`` x ``side`` boundary mask PNG that records ``dpi`` (None: none), and its
    pixel-size note with ``given`` (:func:`napari_srmat.io.pixel_size_note`; None)."""
    from napari_srmat.io import open_mask_file, pixel_size_note

    mask = np.zeros((side, side), np.uint8)
    mask[::8, :] = mask[:, ::8] = 255
    Image.fromarray(mask).save(path, **({} if dpi is None else {"dpi": (dpi, dpi)}))
    return path, pixel_size_note(open_mask_file(path), given=given)


def _argv(command: str, *paths) -> list[str]:
    return [command, *map(str, paths), *(["--mask"] if command == "grain-size"
                                         else ["--lines", "20"])]


@pytest.mark.parametrize("json_flag", [False, True])
@pytest.mark.parametrize("dpi, given", [(PRINT_DPI, None), (HALF_UM_DPI, GIVEN_UM),
                                        (None, None)],
                         ids=["print-resolution", "given-differs", "no-note"])
@pytest.mark.parametrize("command", ["grain-size", "heyn"])
def test_a_masks_pixel_size_note_is_told_when_its_measuring_fails(
        tmp_path, capsys, command, dpi, given, json_flag):
    """A mask that reads fine but cannot be measured (2 x 2 px) tells its file's note on
    its pixel size (150 dpi taken for none; a given size that differs from the file's),
    named, once, before its one error line, and its ``--json`` ``errors`` entry lists
    it, as ``srmat plan-rescan`` tells its plan's; a file with nothing to say about it
    (no pixel size at all) fails in its one line. Failed before (print-resolution,
    given-differs): the note was added only once the row was made, so no line held the
    small mask's note and its entry's ``warnings`` was ``[]``."""
    good, _ = _mask_at(tmp_path / "good.png", 64, dpi, given)
    tiny, note = _mask_at(tmp_path / "tiny.png", 2, dpi, given)
    assert (note is None) == (dpi is None)
    argv = _argv(command, good, tiny) + (["--json"] if json_flag else [])
    argv += [] if given is None else ["--pixel-size-um", str(given)]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    lines = err.splitlines()
    tiny_lines = [line for line in lines if f"{tiny}: " in line]
    error = tiny_lines[-1]
    assert error.startswith(f"srmat {command}: error: {tiny}: ") and "too small" in error
    told = [] if note is None else [note]
    assert tiny_lines[:-1] == [f"srmat {command}: warning: {tiny}: {text}" for text in told]
    assert lines[len(lines) - len(tiny_lines):] == tiny_lines, err  # the last, together
    if json_flag:
        entries = json.loads(out)["errors"]
        assert [(e["path"], e["warnings"]) for e in entries] == [(str(tiny), told)]
    elif note is not None:
        assert note not in out


@pytest.mark.parametrize("command", ["grain-size", "heyn"])
def test_a_masks_pixel_size_note_is_told_on_ctrl_c_and_with_debug(tmp_path, capsys,
                                                                  monkeypatch, command):
    """The pixel-size note of a mask whose measuring is interrupted (Ctrl-C) is told,
    named, before ``srmat``'s "interrupted" line; with ``--debug`` before the traceback
    of a measuring that failed (a :class:`~napari_srmat.cli.UserError`). Failed before:
    no line held it."""
    import napari_srmat.grainsize as gs
    import napari_srmat.metrics.heyn as heyn
    from napari_srmat.cli import UserError

    mask, note = _mask_at(tmp_path / "m.png", 64)
    named = f"srmat {command}: warning: {mask}: {note}"

    def measure_intercepts(*args, **kwargs):
        raise measure_intercepts.error

    for module in (gs, heyn):
        monkeypatch.setattr(module, "measure_intercepts", measure_intercepts)
    measure_intercepts.error = KeyboardInterrupt()
    assert main(_argv(command, mask)) == 130
    lines = capsys.readouterr().err.splitlines()
    assert lines[-2] == named and "interrupted" in lines[-1], lines
    assert sum(note in line for line in lines) == 1, lines
    measure_intercepts.error = UserError(MEASURE_ERROR)
    with pytest.raises(UserError, match=MEASURE_ERROR):
        main(["--debug", *_argv(command, mask)])
    lines = capsys.readouterr().err.splitlines()
    assert [line for line in lines if note in line] == [named], lines
