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


def _all_commands():
    """(command words, parser) of every command, those after ``srmat sr`` included (its
    own parser: ``srmat sr`` hands the rest of the line to it)."""
    from napari_srmat.cli.sr import build_sr_parser

    yield from _commands(build_parser())
    yield from _commands(build_sr_parser(), ("sr",))


def _parse(argv: list[str]) -> argparse.Namespace:
    """``argv`` of ``srmat`` parsed as the command parses it."""
    from napari_srmat.cli.sr import build_sr_parser

    if argv[0] == "sr":
        return build_sr_parser().parse_args(argv[1:])
    return build_parser().parse_args(argv)


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


@pytest.mark.parametrize("argv, new, old, dest, value, why", [
    (["sr", "train", "--out", "ckpt"], "--init-checkpoint", "--init", "init_checkpoint",
     "default", "the name srmat edges train and srmat experiment give it"),
    (["edges", "pretrain", "a.png", "--out", "mim"], "--train-steps", "--steps",
     "train_steps", "3", "the name srmat sr train gives it"),
    (["sr", "train", "--out", "ckpt"], "--train-steps", "--steps", "train_steps", "3",
     "the name srmat edges pretrain gives it"),
    *[(argv, "--learning-rate", "--lr", "lr", "0.5", "elsewhere lr is the low-resolution image")
      for argv in (["sr", "train", "--out", "ckpt"], ["edges", "train", "--data", "d"],
                   ["edges", "pretrain", "a.png", "--out", "mim"],
                   ["experiment", "sr-vs-original"])],
])
def test_the_training_options_have_one_name_in_every_command(argv, new, old, dest, value,
                                                             why, capsys):
    """`srmat sr train --init` is `--init-checkpoint` in `srmat edges train` and `srmat
    experiment`, and `srmat edges pretrain --steps` is `--train-steps` in `srmat sr
    train`. Each command now takes the common name; the old one keeps working (same
    destination, a one-line note naming the new one, hidden from --help) and the two
    together are refused. `--lr`, the learning rate of the training commands beside the
    LR (low-resolution) images of every other, is `--learning-rate`."""
    _check_renamed_option(argv, new, old, dest, value, why, capsys)


def _check_renamed_option(argv, new, old, dest, value, why, capsys):
    """Option ``new`` of the command ``argv`` gives ``dest`` silently; its old name
    ``old`` gives it with the one-line note (``why``); the two together are refused; only
    ``new`` is in --help."""
    from napari_srmat.cli import command_name

    want = int(value) if value.isdigit() else float(value) if value[0].isdigit() else value
    assert getattr(_parse([*argv, new, value]), dest) == want
    assert capsys.readouterr().err == ""
    parsed = _parse([*argv, old, value])
    assert getattr(parsed, dest) == want
    assert capsys.readouterr().err == (f"{command_name(parsed)}: warning: {old} is "
                                       f"deprecated here: give {new} ({why})\n")
    with pytest.raises(SystemExit):
        _parse([*argv, old, value, new, value])
    assert "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _parse([*argv, "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert f"{new} " in shown and f"{old} " not in shown


@pytest.mark.parametrize("argv, new, old, dest, value, why", [
    (["sr", "run", "a.png", "o.zarr"], "--sampling-steps", "--steps", "sampling_steps", "20",
     "the steps of a diffusion model's sampling; a training's are --train-steps"),
    (["demo"], "--stages", "--steps", "stages", "heyn",
     "the stages of the demo to run; a training's steps are --train-steps"),
])
def test_the_old_steps_of_sampling_and_of_the_demo_are_told(argv, new, old, dest, value,
                                                             why, capsys):
    """`srmat sr run --steps` (now `--sampling-steps`) and `srmat demo --steps` (now
    `--stages`) were still taken silently, while the other renames (`srmat sr train
    --steps`, `--lr`, ...) tell the one-line note naming the new name (failed before:
    no note on stderr)."""
    _check_renamed_option(argv, new, old, dest, value, why, capsys)


def test_init_checkpoint_has_one_metavar_in_every_command():
    """`--init-checkpoint` (the weights a training starts from) is spelt, and shows its
    value, the same way in every srmat command that has it."""
    options = {" ".join(words): a for words, p in _all_commands()
               for a in p._actions if a.dest == "init_checkpoint" and a.help != argparse.SUPPRESS}
    assert set(options) == {"sr train", "edges train", "experiment sr-vs-original"}
    assert {tuple(a.option_strings) for a in options.values()} == {("--init-checkpoint",)}
    assert {a.metavar for a in options.values()} == {"CKPT"}


@pytest.mark.parametrize("argv, new, old, dest, value", [
    (["synth", "out"], "--size-px", "--size", "size_px", "64"),
    (["synth", "out"], "--grain-size-px", "--grain-size", "grain_size_px", "12.5"),
    (["audit", "candidates", "lr.tif", "sr.zarr", "--out", "a.json"], "--tolerance-px",
     "--tolerance", "tolerance_px", "2.5"),
    (["plan-rescan", "lr.tif"], "--roi-size-px", "--roi-size", "roi_px", "16"),
])
def test_lengths_in_px_are_named_px(argv, new, old, dest, value, capsys):
    """CLI lengths in pixels had no `-px` where Python has `_px` (`srmat synth --size /
    --grain-size`: `mean_grain_size_px`; `srmat audit candidates --tolerance`:
    `tolerance_px`; `srmat plan-rescan --roi-size`: `roi_px`). Each is now `...-px` in
    --help; the old name keeps working with the one-line note of a renamed option, and
    the two together are refused."""
    _check_renamed_option(argv, new, old, dest, value,
                          "lengths in px end in -px, as _px in Python", capsys)


def test_the_learning_rate_has_one_name_in_every_command():
    """The learning rate is `--learning-rate RATE` in every training command (`--lr` was
    read as the LR image by a metallurgist: `srmat sr eval --lr-image`, `srmat audit
    candidates LR SR`); no command shows `--lr`."""
    options = {" ".join(words): a for words, p in _all_commands()
               for a in p._actions if a.dest == "lr" and a.option_strings  # not LR images
               and a.help != argparse.SUPPRESS}
    assert set(options) == {"sr train", "edges train", "edges pretrain",
                            "experiment sr-vs-original"}
    assert {tuple(a.option_strings) for a in options.values()} == {("--learning-rate",)}
    assert {a.metavar for a in options.values()} == {"RATE"}
    shown = [" ".join(words) for words, p in _all_commands()
             if any("--lr" in a.option_strings for a in p._actions
                    if a.help != argparse.SUPPRESS)]
    assert shown == []


@pytest.mark.filterwarnings("ignore:.*pixels are not square")  # reading the maps back
def test_predict_boundaries_takes_the_pixel_size_per_axis_as_super_resolve(tmp_path):
    """`pixel_size_um` is one size or `(Y, X)` sizes in `super_resolve` and
    `plan_rescan`, but `predict_boundaries` refused `(0.25, 0.5)` ('must be a finite
    positive number'), while the maps of a file with such pixels keep both sizes. It now
    takes both forms under the same rule (`io.check_pixel_size_yx`): the maps are
    calibrated per axis, a square pair is one size, a bad pair is refused naming its
    axis."""
    import numpy as np
    import torch

    from napari_srmat.checkpoint import save_checkpoint
    from napari_srmat.edges.infer import load_boundary_model, predict_boundaries
    from napari_srmat.edges.model import UAEDNet, default_arch_config
    from napari_srmat.io import PixelSizeError, read_image

    torch.manual_seed(0)
    save_checkpoint(tmp_path / "ck", UAEDNet("tiny").state_dict(),
                    {**default_arch_config("tiny"), "threshold": 0.5})
    model = load_boundary_model(tmp_path / "ck", device="cpu")
    img = (np.random.default_rng(1).random((64, 48)) * 255).astype(np.uint8)
    kw = dict(tile=64, overlap=16, previews=False, scale_check=False)
    for given, yx in [((0.25, 0.5), (0.25, 0.5)), ([0.5, 0.501], (0.501, 0.501))]:
        out = tmp_path / f"maps_{yx[0]}"
        for _ in range(2):  # the second call finds the same identity: complete, reused
            paths = predict_boundaries(img, model, out=out, pixel_size_um=given, **kw)
        for p in paths:
            assert read_image(p).pixel_size_yx_um == pytest.approx(yx), given
    prob, _ = predict_boundaries(img, model, pixel_size_um=(0.25, 0.5), **kw)
    assert prob.shape == img.shape  # the model runs at the image's own pixels
    with pytest.raises(PixelSizeError, match=r"pixel_size_um \(Y\) must be a finite"):
        predict_boundaries(img, model, pixel_size_um=(0.0, 0.5), **kw)
    with pytest.raises(PixelSizeError, match="one size or a \\(Y, X\\) pair"):
        predict_boundaries(img, model, pixel_size_um=(0.25, 0.5, 1.0), **kw)
