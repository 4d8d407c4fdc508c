"""Names of the CLI options that mean the same thing in several commands: the pixel size
of which image a `*pixel-size*` flag gives, its metavar and its unit."""

from __future__ import annotations

import argparse

import pytest

from napari_srmat.cli import build_parser
from napari_srmat.io import LENGTH_UNIT


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """(command words, parser) of every (sub)command of ``srmat``."""
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*prefix, name))


def _pixel_size_options():
    return [(" ".join(words), a) for words, p in _commands(build_parser())
            for a in p._actions if a.dest == "pixel_size_um" and a.option_strings]


@pytest.mark.parametrize("argv, image, names", [
    (["plan-rescan", "lr.tif"], "LR", ("--lr-pixel-size-um", "--pixel-size-um")),
    (["audit", "candidates", "lr.tif", "sr.zarr", "--out", "a.json"], "SR",
     ("--sr-pixel-size-um", "--pixel-size-um", "--pixel-size")),
    (["audit", "report", "a.json", "--out", "r.md"], "SR",
     ("--sr-pixel-size-um", "--pixel-size-um", "--pixel-size")),
])
def test_the_pixel_size_flags_of_lr_and_sr_commands_say_which_image(argv, image, names,
                                                                    capsys):
    """`srmat audit ... --pixel-size-um` is the SR image's pixel size and `srmat
    plan-rescan --pixel-size-um` the LR's: one flag name for two images. Each now has a
    name that says which (`--sr-pixel-size-um`, `--lr-pixel-size-um`), its help names the
    image, and the old names keep working (same value, same destination)."""
    parser = build_parser()
    for name in names:
        args = parser.parse_args([*argv, name, "0.25"])
        assert args.pixel_size_um == 0.25, name
    assert parser.parse_args(argv).pixel_size_um is None
    with pytest.raises(SystemExit):
        parser.parse_args([*argv, "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"{', '.join(f'{n} PIXEL_SIZE_UM' for n in names)} {image} pixel size in " \
           f"{LENGTH_UNIT}" in help_text


def test_every_pixel_size_flag_has_one_metavar_and_unit():
    """Every `--pixel-size-um` of srmat shows the same metavar and gives the size in the
    one length unit; a command with both an LR and an SR image says which one."""
    options = _pixel_size_options()
    assert {cmd for cmd, _ in options} >= {"heyn", "grain-size", "plan-rescan",
                                          "audit candidates", "audit report"}
    for cmd, a in options:
        assert "--pixel-size-um" in a.option_strings, cmd
        assert a.metavar in (None, "PIXEL_SIZE_UM"), cmd  # None: argparse's PIXEL_SIZE_UM
        assert LENGTH_UNIT in a.help, cmd
    by_cmd = dict(options)
    assert by_cmd["audit candidates"].help.startswith("SR pixel size")
    assert by_cmd["plan-rescan"].help.startswith("LR pixel size")
