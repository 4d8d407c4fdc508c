"""What ``srmat heyn`` tells besides its figures: its ``--help``, the line of a Ctrl-C and
the docs of its JSON keys."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_srmat.cli import main
from napari_srmat.metrics.heyn import HEYN_MARGIN, HEYN_N_LINES, HEYN_SEED


def _help(capsys) -> str:
    with pytest.raises(SystemExit):
        main(["heyn", "--help"])
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("flag, default", [("--lines", HEYN_N_LINES), ("--seed", HEYN_SEED),
                                           ("--margin", HEYN_MARGIN)])
def test_the_help_shows_each_defaults_number(capsys, flag, default):
    """`srmat heyn --help` showed no default of --lines and --seed (50 and 1234, in
    docs/heyn.md) while --margin showed its own: each is told from its constant."""
    text = _help(capsys)
    start = text.index(f" {flag} {flag[2:].upper().replace('-', '_')} ")  # its option row
    told = text[start:text.index(" --", start + len(flag))]
    assert f"(default {default})" in told, told


def test_docs_heyn_names_every_pooled_json_key(tmp_path, capsys):
    """docs/heyn.md did not name the pooled `fields_mean_n_l_per_px` (written since
    fea9004), nor `pattern` and `skeletonize`: every key of the pooled `--json` object is
    in its text."""
    from pathlib import Path

    from PIL import Image

    mask = np.zeros((64, 64), np.uint8)
    mask[::8, :] = mask[:, ::8] = 255
    paths = [str(tmp_path / f"m{i}.png") for i in range(2)]
    for path in paths:
        Image.fromarray(mask).save(path)
    assert main(["heyn", *paths, "--json"]) == 0
    pooled = json.loads(capsys.readouterr().out)
    doc = (Path(__file__).parents[1] / "docs/heyn.md").read_text(encoding="utf-8")
    missing = [key for key in pooled if f"`{key}`" not in doc]
    assert not missing, f"docs/heyn.md does not name the pooled keys {missing}"


def test_a_ctrl_c_says_heyn_writes_no_file(tmp_path, capsys, monkeypatch):
    """A Ctrl-C of `srmat heyn` told 'a partial output, if any, is kept for a rerun',
    though heyn writes no file and does not resume: its parser says it writes none
    (cli.WRITES_OUTPUT), and the line says so; exit 130 as before."""
    from PIL import Image

    from napari_srmat.cli import CTRL_C_NO_OUTPUT, CTRL_C_NO_RESUME, EXIT_INTERRUPTED
    from napari_srmat.cli import heyn as heyn_cli

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    path = tmp_path / "m.png"
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(path)
    monkeypatch.setattr(heyn_cli, "_measure_mask", ctrl_c)
    assert main(["heyn", str(path)]) == EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert err == f"srmat heyn: interrupted ({CTRL_C_NO_OUTPUT})\n", err
    assert CTRL_C_NO_RESUME not in err


@pytest.mark.parametrize(("command", "module", "handler"), [
    ("grain-size", "grainsize", "_run"),
    ("info", "info", "_handler"),
    ("register", "registration", "_register"),
])
def test_a_ctrl_c_of_a_command_that_writes_no_file_says_so(
        command, module, handler, tmp_path, capsys, monkeypatch):
    """`srmat grain-size`, `srmat info` and `srmat register` write no file either, yet
    their Ctrl-C told 'a partial output, if any, is kept for a rerun': their parsers now
    say they write none (cli.WRITES_OUTPUT), as heyn's does."""
    import importlib

    from PIL import Image

    from napari_srmat.cli import CTRL_C_NO_OUTPUT, EXIT_INTERRUPTED

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    path = tmp_path / "m.png"
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(path)
    monkeypatch.setattr(importlib.import_module(f"napari_srmat.cli.{module}"), handler,
                        ctrl_c)
    argv = [command, str(path)] + ([str(path)] if command == "register" else [])
    assert main(argv) == EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert err == f"srmat {command}: interrupted ({CTRL_C_NO_OUTPUT})\n", err


def test_a_ctrl_c_of_srmat_sr_models_says_it_writes_no_file(capsys, monkeypatch):
    """`srmat sr models` only lists the models, yet its Ctrl-C told 'a partial output, if
    any, is kept for a rerun': an action of `srmat sr` is parsed by its own parser, whose
    cli.WRITES_OUTPUT main never saw; `srmat sr` now passes it on."""
    from napari_srmat.cli import CTRL_C_NO_OUTPUT, EXIT_INTERRUPTED
    from napari_srmat.cli import sr as sr_cli

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sr_cli, "_models", ctrl_c)
    assert main(["sr", "models"]) == EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert err == f"srmat sr models: interrupted ({CTRL_C_NO_OUTPUT})\n", err


#: Commands that write a file only when an output option is given: (argv without it,
#: the option and its value, the module and handler a Ctrl-C is raised in).
OPTIONAL_OUTPUT_COMMANDS = [
    (["eval-maps", "--prob", "P", "--masks", "M"], ["--plot", "c.png"], "evalmaps", "_run"),
    (["edges", "eval", "--images", "I", "--masks", "M"], ["--out", "o"], "edges", "_eval"),
    (["plan-rescan", "a.png"], ["--out", "plan"], "rescan", "_plan"),
    (["sr", "eval", "hr.png", "sr.png"], ["--ldl-map", "l.tif"], "sr_eval", "_eval"),
]


@pytest.mark.parametrize(("argv", "option", "module", "handler"), OPTIONAL_OUTPUT_COMMANDS)
def test_a_ctrl_c_says_a_file_is_kept_only_when_an_output_option_was_given(
        argv, option, module, handler, capsys, monkeypatch):
    """`srmat eval-maps`, `edges eval`, `plan-rescan` and `sr eval` write a file only with
    their output option; without it their Ctrl-C hedged 'a partial output, if any, is
    kept for a rerun'. Their parsers name the options (cli.WRITES_OUTPUT), so the line
    says 'it writes no file' without them and keeps the hedge with them."""
    import importlib

    from napari_srmat.cli import CTRL_C_NO_OUTPUT, CTRL_C_NO_RESUME, EXIT_INTERRUPTED

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib.import_module(f"napari_srmat.cli.{module}"), handler,
                        ctrl_c)
    name = " ".join(argv[:2] if argv[0] in ("edges", "sr") else argv[:1])
    for extra, said in (([], CTRL_C_NO_OUTPUT), (option, CTRL_C_NO_RESUME)):
        assert main(argv + extra) == EXIT_INTERRUPTED
        err = capsys.readouterr().err
        assert err == f"srmat {name}: interrupted ({said})\n", (extra, err)
