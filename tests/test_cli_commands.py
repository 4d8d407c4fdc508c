"""CLI: the one-line messages name the full command (``srmat sr run``, ``srmat edges
eval``), and the rules shared by several commands live in one public place."""

from __future__ import annotations

import ast
import sys
import warnings
from pathlib import Path

import pytest

from napari_srmat import cli
from napari_srmat.cli import CTRL_C_NO_RESUME, main


def _exit_line(capsys, argv):
    """argparse's error: exit 2 and the one stderr line."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    return err.rstrip("\n")


@pytest.mark.parametrize("argv, command", [
    (["sr", "models", "--bogus"], "srmat sr models"),
    (["sr", "in.png", "out.zarr", "--bogus"], "srmat sr run"),  # the default action
    (["sr", "eval", "hr.png", "sr.zarr", "--bogus"], "srmat sr eval"),
    (["edges", "eval", "--images", "i", "--masks", "m", "--bogus"], "srmat edges eval"),
    (["audit", "report", "a.json", "--out", "r.md", "--bogus"], "srmat audit report"),
    (["heyn", "--bogus", "m.png"], "srmat heyn"),
    (["--bogus"], "srmat"),
])
def test_unrecognized_arguments_name_the_full_command(capsys, argv, command):
    """`srmat edges eval ... --bogus` said `srmat edges: error: ...` (and pointed at
    `srmat edges --help`, which does not list the flags of eval): argparse's
    unrecognized arguments are told by the subcommand that was parsed."""
    assert _exit_line(capsys, argv) == (f"{command}: error: unrecognized arguments: --bogus "
                                        f"(see `{command} --help`)")


def test_our_checks_name_the_full_command(tmp_path, capsys):
    """The errors of the commands' own checks (UserError, the library's errors) were told
    as `srmat sr: error:` / `srmat edges: error:` for every action."""
    for argv, line in (
        (["sr", "train", "--out", str(tmp_path / "ck")],
         "srmat sr train: error: give --data folders and/or --synthetic N, or --pairs "
         "PAIRS.csv"),
        (["sr", "run", "in.png", str(tmp_path / "o.zarr"), "--tile", "8"],
         "srmat sr run: error: --tile 8 must be larger than 2 x --overlap 32 (give --tile 65 "
         "or more)"),
        (["edges", "eval", "--images", "i", "--masks", "m", "--val-images", "v"],
         "srmat edges eval: error: give both --val-images and --val-masks, or neither"),
        (["edges", "predict", "in.png", "--out", str(tmp_path / "b"), "--tile", "8",
          "--overlap", "4"],
         "srmat edges predict: error: --tile 8 must be larger than 2 x --overlap 4 (give "
         "--tile 9 or more)"),
    ):
        assert main(argv) == 2
        assert capsys.readouterr().err == line + "\n"
    assert not list(tmp_path.iterdir())


@pytest.fixture()
def console(monkeypatch):
    """main() as the console runs it (argv from sys.argv: one-line warnings); the
    warnings hook it installs and the Ctrl-C handler it sets for the process's exit
    are put back afterwards."""
    import signal

    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    before = signal.getsignal(signal.SIGINT)

    def run(argv):
        monkeypatch.setattr(sys, "argv", ["srmat", *argv])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always")
                return main()
        finally:
            signal.signal(signal.SIGINT, before)

    return run


@pytest.mark.parametrize("module, handler, argv, command", [
    ("sr", "_models", ["sr", "models"], "srmat sr models"),
    ("edges", "_eval", ["edges", "eval", "--images", "i", "--masks", "m"],
     "srmat edges eval"),
    ("heyn", "_run", ["heyn", "m.png"], "srmat heyn"),
])
def test_warnings_interrupts_and_internal_errors_name_the_full_command(
        monkeypatch, console, capsys, module, handler, argv, command):
    """Warnings (`srmat CMD: warning:`), a Ctrl-C (`srmat CMD: interrupted`) and an
    internal error (`srmat CMD: internal error`) of a nested action named only its
    first word; one line each, exit codes unchanged (0, 130, 1)."""
    import importlib

    target = importlib.import_module(f"napari_srmat.cli.{module}")
    assert callable(getattr(target, handler))  # the handler the command runs
    outcome = {}

    def fake(args):
        warnings.warn("a warning\n  on two lines", UserWarning, stacklevel=2)
        if outcome.get("raise"):
            raise outcome["raise"]
        return 0

    monkeypatch.setattr(target, handler, fake)
    assert console(argv) == 0
    assert capsys.readouterr().err == f"{command}: warning: a warning on two lines\n"
    outcome["raise"] = KeyboardInterrupt()
    assert console(argv) == 130
    err = capsys.readouterr().err.splitlines()
    # what was kept: srmat heyn, srmat sr models and srmat edges eval without --out write
    # no file (cli.WRITES_OUTPUT)
    kept = HEYN_KEPT if module in ("heyn", "sr", "edges") else CTRL_C_NO_RESUME
    assert err == [f"{command}: warning: a warning on two lines",
                   f"{command}: interrupted ({kept})"]
    outcome["raise"] = RuntimeError("boom")
    assert console(argv) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[1].startswith(f"{command}: internal error")


def _disk_full_then_ctrl_c():
    """A Ctrl-C held while an output was swapped in, as the disk filled up: a
    KeyboardInterrupt raised while handling an OSError(ENOSPC)."""
    import errno

    try:
        raise OSError(errno.ENOSPC, "No space left on device", "out.tif")
    except OSError:
        raise KeyboardInterrupt  # noqa: B904 (Ctrl-C comes while handling it)


def _ctrl_c_held_through_a_failed_swap():
    """A Ctrl-C held through a swap's renames that then failed: the press is raised with
    the error as its cause (``_atomic``'s ``raise interrupt from error``)."""
    import errno

    raise KeyboardInterrupt() from OSError(errno.ENOSPC, "No space left on device",
                                           "out.tif")


def _stopped_during_disk_full():
    """An :class:`cli.Interrupted` (a command that resumes) raised from that Ctrl-C."""
    try:
        _disk_full_then_ctrl_c()
    except KeyboardInterrupt as exc:
        raise cli.Interrupted(f"{cli.CTRL_C_KEPT}; {cli.RERUN_TO_RESUME}") from exc


#: What srmat heyn's Ctrl-C line says was kept: it writes no file (cli.WRITES_OUTPUT).
HEYN_KEPT = cli.CTRL_C_NO_OUTPUT

DISK_FULL = ("during an error: out.tif: no space left on device (disk full: free space "
             "and rerun the same command to resume)")


@pytest.mark.parametrize("raiser, said", [
    (_disk_full_then_ctrl_c, HEYN_KEPT),
    (_ctrl_c_held_through_a_failed_swap, HEYN_KEPT),
    (_stopped_during_disk_full, f"{cli.CTRL_C_KEPT}; {cli.RERUN_TO_RESUME}"),
])
def test_a_ctrl_c_during_a_disk_full_tells_the_disk_full(monkeypatch, capsys, raiser, said):
    """A KeyboardInterrupt whose __context__ (or its Interrupted's __cause__'s) is an
    OSError, e.g. the disk filled up while a Ctrl-C was held around a swap, was told as
    just `interrupted (...)`: the user never learnt the disk was full (failed before:
    the line ended at the parenthesis). The one line names it now; exit 130."""
    from napari_srmat.cli import heyn

    def fake(args):
        raiser()

    monkeypatch.setattr(heyn, "_run", fake)
    assert main(["heyn", "m.png"]) == cli.EXIT_INTERRUPTED
    out, err = capsys.readouterr()
    assert out == "" and err == f"srmat heyn: interrupted ({said}) {DISK_FULL}\n"


def _ctrl_c_while_handling(error: OSError):
    """A Ctrl-C that lands in the ``except`` block handling ``error`` (its
    ``__context__``)."""
    try:
        raise error
    except OSError:
        raise KeyboardInterrupt  # noqa: B904 (Ctrl-C comes while handling it)


def _ctrl_c_in_a_fallback_behind_a_value_error():
    """A Ctrl-C in the handler of a ValueError raised while a missing file was being
    handled (a fallback reading another file instead): the file is two links down."""
    try:
        try:
            raise FileNotFoundError(2, "No such file or directory", "config.json")
        except FileNotFoundError:
            raise ValueError("no config: the defaults are used")  # noqa: B904
    except ValueError:
        raise KeyboardInterrupt  # noqa: B904


def _ctrl_c_in_a_fallback_for_an_error_raised_from_a_missing_file():
    """A Ctrl-C in the handler of a ValueError raised *from* a missing file (``raise ...
    from``): the ValueError is being handled, and so is the file behind it."""
    try:
        try:
            raise FileNotFoundError(2, "No such file or directory", "config.json")
        except FileNotFoundError as exc:
            raise ValueError("no config: the defaults are used") from exc
    except ValueError:
        raise KeyboardInterrupt  # noqa: B904


@pytest.mark.parametrize("raiser", [
    lambda: _ctrl_c_while_handling(FileNotFoundError(2, "No such file or directory",
                                                     "config.json")),
    lambda: _ctrl_c_while_handling(FileExistsError(17, "File exists", "out.partial")),
    lambda: _ctrl_c_while_handling(BlockingIOError(11, "Resource temporarily unavailable",
                                                   "out.lock")),
    lambda: _ctrl_c_while_handling(InterruptedError(4, "Interrupted system call")),
    _ctrl_c_in_a_fallback_behind_a_value_error,
    _ctrl_c_in_a_fallback_for_an_error_raised_from_a_missing_file,
], ids=["missing file handled", "existing file handled", "busy lock handled",
        "EINTR of the Ctrl-C itself", "two links down", "handled error from a missing file"])
def test_a_ctrl_c_while_an_answer_of_the_os_was_handled_names_no_error(monkeypatch, capsys,
                                                                       raiser):
    """Any OSError in the chain was named as the error the interrupt came during: a
    Ctrl-C landing in a fallback that handles a missing file (or a lock taken by another
    run, or the EINTR of the press itself) said `interrupted (...) during an error:
    config.json: no such file or directory`, though nothing had failed (failed before:
    the line went on after the parenthesis). Such errors, reached as the context being
    handled, are answers the code deals with, not failures: the line ends there."""
    from napari_srmat.cli import heyn

    monkeypatch.setattr(heyn, "_run", lambda args: raiser())
    assert main(["heyn", "m.png"]) == cli.EXIT_INTERRUPTED
    out, err = capsys.readouterr()
    assert out == "" and err == f"srmat heyn: interrupted ({HEYN_KEPT})\n"


@pytest.mark.parametrize("error, said", [
    (BrokenPipeError(32, "Broken pipe"), "broken pipe"),
    (OSError(5, "Input/output error", "in.tif"), "in.tif: input/output error"),
])
def test_a_ctrl_c_while_a_failure_of_the_system_was_handled_names_it(monkeypatch, capsys,
                                                                     error, said):
    """A failure of the system in the context (a pipe whose reader went, a disk that
    fails) stays named, as the disk full is."""
    from napari_srmat.cli import heyn

    monkeypatch.setattr(heyn, "_run", lambda args: _ctrl_c_while_handling(error))
    assert main(["heyn", "m.png"]) == cli.EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert err.startswith(f"srmat heyn: interrupted ({HEYN_KEPT}) "
                          f"during an error: {said}")


def test_a_ctrl_c_raised_from_a_missing_file_names_it(monkeypatch, capsys):
    """Raised *from* the error (``_atomic``'s held Ctrl-C through a swap whose partial
    went away) the error stands, whatever its kind: named."""
    from napari_srmat.cli import heyn

    def fake(args):
        raise KeyboardInterrupt() from FileNotFoundError(
            2, "No such file or directory", "out.partial")

    monkeypatch.setattr(heyn, "_run", fake)
    assert main(["heyn", "m.png"]) == cli.EXIT_INTERRUPTED
    assert capsys.readouterr().err.startswith(
        f"srmat heyn: interrupted ({HEYN_KEPT}) during an error: out.partial: "
        "no such file or directory")


def test_command_name_of_parsed_arguments():
    parser = cli.build_parser()
    assert cli.command_name(parser.parse_args(["heyn", "m.png"])) == "srmat heyn"
    assert cli.command_name(parser.parse_args(
        ["audit", "report", "a.json", "--out", "r.md"])) == "srmat audit report"
    assert cli.command_name(parser.parse_args([])) == "srmat"
    from napari_srmat.cli.sr import build_sr_parser

    assert cli.command_name(build_sr_parser().parse_args(["train", "--out", "o"])) == \
        "srmat sr train"


def test_tile_rule_is_one_public_helper():
    """`cli/edges.py` imported the private `_check_tile` of `cli/sr.py`; the rule is
    `cli.check_tile_flags` (with `int_arg` and the other shared helpers), used by
    `sr run`, `edges predict` and `plan-rescan`, and no command module imports a private
    name of another command module (`grain-size` took `_rule_arg` from `cli/edges.py`:
    now `cli.threshold_rule_arg`)."""
    with pytest.raises(cli.UserError, match=r"^--tile 64 must be larger than 2 x --overlap "
                                             r"32 \(give --tile 65 or more\)$"):
        cli.check_tile_flags(64, 32)
    with pytest.raises(cli.UserError, match=r"^--tile 64 must be larger than 2 x the model's "
                                             r"receptive field 40 px, the least overlap it "
                                             r"needs \(give --tile 81 or more\)$"):
        cli.check_tile_flags(64, 32, 40)
    with pytest.raises(cli.UserError, match=r"^--tile 64 must be larger than 2 x the default "
                                             r"--overlap of 32 px \(give --tile 65 or more\)$"):
        cli.check_tile_flags(64, None)
    cli.check_tile_flags(65, 32)
    cli.check_tile_flags(9, 4, 2)
    cli.check_tile_flags(65, None, 2)
    folder = Path(cli.__file__).parent
    users = set()
    for path in sorted(folder.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is not None:
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports {private} from .{node.module}"
            if isinstance(node, ast.Name) and node.id == "check_tile_flags":
                users.add(path.stem)
    assert {"sr", "edges", "rescan"} <= users
    from napari_srmat.cli import sr

    assert not hasattr(sr, "_check_tile")


def test_the_tile_rule_is_the_tiling_check_worded_with_flags():
    """`cli.check_tile_flags` compared `--tile` with twice the overlap itself and wrote its
    own copy of `tiling.check_tile_overlap`'s message: two rules for one check. It now
    names the flags and the overlap used, and the tiling check decides and words it: the
    sentence is written in one source file."""
    import napari_srmat
    from napari_srmat import tiling

    def says_it(path: Path) -> bool:  # in code, not in a docstring's examples
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = {id(node.body[0].value) for node in ast.walk(tree)
                if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef)
                and node.body and isinstance(node.body[0], ast.Expr)}
        return any(isinstance(node, ast.Constant) and isinstance(node.value, str)
                   and "must be larger than 2 x" in node.value and id(node) not in docs
                   for node in ast.walk(tree))

    src = Path(napari_srmat.__file__).parent
    holders = sorted(str(p.relative_to(src)) for p in src.rglob("*.py") if says_it(p))
    assert holders == ["tiling/_engine.py"]
    with pytest.raises(cli.UserError, match=r"^--tile 8 must be larger than 2 x --overlap 4 "
                                             r"\(give --tile 9 or more\)$"):
        cli.check_tile_flags(8, 4)
    with pytest.raises(tiling.TilingError, match=r"^tile 8 must be larger than 2 x overlap 4 "
                                                 r"\(give tile=9 or more\)$"):
        tiling.check_tile_overlap(8, 4)


def test_already_complete_is_noted_by_one_helper():
    """`srmat edges train`, `srmat edges predict` and `srmat sr train` each collected the
    job's `jobs.AlreadyComplete` notice with their own list and callback (three copies of
    one rule, predict's keeping only its OUT). `cli.AlreadyCompleteWatch` is that rule:
    an `on_event` that notes the notice (of one path, when given) and nothing else."""
    from napari_srmat.jobs import AlreadyComplete, Log, Progress

    watch = cli.AlreadyCompleteWatch()
    for event in (Progress(1, 2), Log("resuming", level="notice")):
        watch(event)
    assert not watch and watch.events == []
    done = AlreadyComplete("run is already complete", path="run")
    watch(done)
    assert watch and watch.events == [done]
    only_out = cli.AlreadyCompleteWatch("out")
    only_out(AlreadyComplete("inner store complete", path="out.partial/prob.ome.zarr"))
    assert not only_out  # the staging's inner store is not OUT
    only_out(AlreadyComplete("out is already complete", path="./out"))  # OUT as typed
    assert len(only_out.events) == 1
    users = set()
    for path in sorted(Path(cli.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        if path.name != "__init__.py":
            assert "AlreadyComplete" not in names, f"{path.name} collects it by hand"
        if "AlreadyCompleteWatch" in names:
            users.add(path.stem)
    assert {"sr", "edges"} <= users


def test_info_on_a_truncated_tiff_is_one_line(tmp_path, capsys, caplog):
    """tifffile logged every tag and series it could not parse of a truncated file
    (six lines on stderr) before `srmat info`'s one-line error."""
    import logging

    import numpy as np
    import tifffile

    img = np.random.default_rng(0).integers(0, 255, (1024, 1024, 3), dtype=np.uint8)
    whole = tmp_path / "whole.ome.tif"
    with tifffile.TiffWriter(whole) as tw:
        tw.write(img, subifds=1, tile=(256, 256), photometric="rgb",
                 metadata={"axes": "YXS", "PhysicalSizeX": 0.5})
        tw.write(img[::2, ::2], subfiletype=1, tile=(256, 256), photometric="rgb")
    data = whole.read_bytes()
    cut = tmp_path / "cut.ome.tif"
    cut.write_bytes(data[: len(data) // 2])
    caplog.set_level(logging.DEBUG)
    assert main(["info", str(cut)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cut.ome.tif" in err and "truncated" in err
    assert not [r for r in caplog.records if r.name.startswith("tifffile")]


def concurrent_map():
    """An unstarted read of zarr's ``concurrent_map`` (its coroutine ``run``, by name)."""
    async def run():
        pass

    return run()


async def _not_concurrent_map():
    pass


def test_unstarted_reads_of_a_failed_zarr_read_are_not_printed():
    """About one run in ten, `srmat grain-size damaged.tif` printed below its one error
    line "warning: coroutine 'concurrent_map.<locals>.run' was never awaited": a read
    zarr had queued and not started when another failed, dropped at exit. The console
    drops that warning, and only that one."""
    import gc
    import warnings

    with warnings.catch_warnings(record=True) as told:
        warnings.simplefilter("always")
        cli._quiet_pending_task_debris()
        unstarted, ours = concurrent_map(), _not_concurrent_map()
        del unstarted, ours
        gc.collect()
    assert [str(w.message) for w in told] == [
        "coroutine '_not_concurrent_map' was never awaited"]


def test_asyncio_debris_of_a_failed_zarr_read_is_not_printed(caplog):
    """After `srmat heyn damaged.zarr` printed its one error line, asyncio logged
    'Task was destroyed but it is pending!' and the task's repr for each chunk read zarr
    still had in flight (a dozen lines, at exit, one run in a few): the console drops
    those records, and only those."""
    import logging

    log = logging.getLogger("asyncio")
    before = list(log.filters)
    log.filters[:] = [f for f in before if not isinstance(f, cli._PendingTaskDebris)]
    try:
        cli._quiet_pending_task_debris()
        cli._quiet_pending_task_debris()  # once only
        assert sum(isinstance(f, cli._PendingTaskDebris) for f in log.filters) == 1
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            log.error("Task was destroyed but it is pending!\ntask: <Task pending ...>")
            log.error("Unclosed client session")
        assert [r.getMessage() for r in caplog.records] == ["Unclosed client session"]
    finally:
        log.filters[:] = before


@pytest.mark.parametrize("argv, line", [
    ([], "srmat: error: give COMMAND: demo, info, synth, heyn, grain-size, eval-maps, sr, "
         "plan-rescan, register, edges, experiment or audit (see `srmat --help`)"),
    (["edges"], "srmat edges: error: give ACTION: train, pretrain, predict or eval "
                "(see `srmat edges --help`)"),
    (["audit"], "srmat audit: error: give ACTION: candidates, report or undo "
                "(see `srmat audit --help`)"),
    (["experiment"], "srmat experiment: error: give NAME: sr-vs-original or three-arm "
                     "(see `srmat experiment --help`)"),
    (["sr"], "srmat sr: error: give ACTION: run, train, models or eval "
             "(see `srmat sr --help`)"),
])
def test_a_command_without_its_action_is_one_error_line(capsys, argv, line):
    """`srmat edges` (audit, experiment, srmat alone) printed the whole help on stdout and
    exited 2 with nothing on stderr; `srmat sr` printed it on stderr: a script saw a
    failure without an error. Now one line on stderr, as argparse's errors."""
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == line + "\n"


@pytest.mark.parametrize("argv, argument", [
    (["info", ""], "file"),
    (["heyn", ""], "MASK"),
    (["grain-size", ""], "IMAGE"),
    (["sr", "run", "", "out.ome.zarr"], "input"),
    (["audit", "candidates", "lr.png", "", "--out", "a.json"], "sr"),
    (["sr", "eval", "hr.png", "sr.png", "--lr-image", ""], "--lr-image"),
    (["sr", "eval", "hr.png", "sr.png", "--lr", ""], "--lr"),  # its deprecated name
])
def test_an_empty_input_path_names_the_argument_not_the_library(capsys, argv, argument):
    """``srmat info ""`` said the library's "path is empty; read_image takes a path ...
    e.g. read_image('scan.tif')"; the CLI names its own argument (input_path_arg)."""
    line = _exit_line(capsys, argv)
    assert f"error: argument {argument}: the path is empty" in line
    assert "read_image" not in line and "read_array" not in line


#: "um" written as a unit (not the ``um`` of a flag or key such as --pixel-size-um)
_UM_AS_UNIT = r"(?<![-_\w])um\b"


def test_lengths_are_written_in_one_unit(tmp_path, capsys):
    """`srmat heyn` and `srmat info` printed "um" where `srmat grain-size` printed "µm"
    for the same lengths: every text output writes io.LENGTH_UNIT (JSON keys keep their
    `_um`)."""
    import re

    import numpy as np
    from PIL import Image

    from napari_srmat.io import LENGTH_UNIT, write_ome_zarr
    from napari_srmat.synth import generate_microstructure

    mask = generate_microstructure((160, 160), mean_grain_size_px=16, seed=4).boundaries
    a, b = tmp_path / "a.png", tmp_path / "b.npy"
    Image.fromarray(mask.astype(np.uint8) * 255).save(a)
    np.save(b, mask)
    store = write_ome_zarr(np.zeros((16, 16), np.uint8), tmp_path / "s.ome.zarr",
                           pixel_size_um=0.3)
    said = {}
    for name, argv in {
        "heyn": ["heyn", str(a), "--pixel-size-um", "0.5"],
        "grain-size": ["grain-size", str(a), "--mask", "--pixel-size-um", "0.5"],
        "info": ["info", str(store)],
    }.items():
        assert main(argv) == 0
        said[name] = capsys.readouterr().out
    # the pooled line of srmat heyn and the row of srmat grain-size give ℓ̄ in the unit
    assert re.search(rf"\d {LENGTH_UNIT}, ASTM G = ", said["heyn"])
    assert re.search(rf"\d {LENGTH_UNIT} \[", said["grain-size"])
    assert f"pixel size:  0.3 {LENGTH_UNIT}" in said["info"]
    # the warning of masks with different pixel sizes (the .npy has none)
    c = write_ome_zarr(mask.astype(np.uint8) * 255, tmp_path / "c.ome.zarr", pixel_size_um=0.5)
    assert main(["heyn", str(c), str(b)]) == 2  # no pooled ℓ̄ (f683aa9f)
    err = capsys.readouterr().err
    assert "pooled figures withheld" in err  # the one rule since e7bbb3ea
    assert f"in {LENGTH_UNIT} and ASTM G are not reported" in err
    for text in (*said.values(), err):
        assert not re.search(_UM_AS_UNIT, text), text


@pytest.mark.parametrize("module", [
    "widgets/calibration_widget", "widgets/heyn_widget", "widgets/sr_widget",
    "io/_pixel", "io/_read", "io/_write", "sr/registration", "sr/rescan", "studies/demo",
    "cli/demo", "cli/edges", "cli/rescan", "cli/sr", "cli/synth", "grainsize",
    "metrics/distributions", "report"])
def test_messages_write_lengths_in_the_one_unit(module):
    """The Calibration, Heyn and Super-resolution widgets wrote "µm" as a literal in their
    status lines, labels and messages, outside the one rule of the unit every text output
    writes (io.LENGTH_UNIT); so did library messages (the PNG pixel size and origin_um
    refusals, the line calibration's, the registration's pixel size warning, a rescan
    plan's note, srmat demo's log line, refusal and report; srmat's --pixel-size-um help,
    the grain-size note without a pixel size, the report's labels and scale bar, the
    distribution plots' axes). Their strings (docstrings
    aside) now write the constant. In the library a bare "µm" is the unit as data (the
    constant's definition, the readers' unit table, a file format's default unit)."""
    import ast
    from pathlib import Path

    import napari_srmat
    from napari_srmat.io import LENGTH_UNIT

    path = Path(napari_srmat.__file__).parent / f"{module}.py"
    tree = ast.parse(path.read_text("utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    bare_is_data = not module.startswith("widgets/")
    literal = [node.lineno for node in ast.walk(tree)
               if isinstance(node, ast.Constant) and isinstance(node.value, str)
               and LENGTH_UNIT in node.value and id(node) not in docstrings
               and not (bare_is_data and node.value == LENGTH_UNIT)]
    assert literal == [], f"{module}.py lines {literal} write {LENGTH_UNIT!r} literally"


@pytest.mark.parametrize("argv", [
    ["synth", "{out}", "--n", "1", "--size-px", "64"],
    ["demo", "--out", "{out}"],
    ["edges", "predict", "{img}", "--out", "{out}", "--device", "cpu"],
    ["edges", "pretrain", "{img}", "--out", "{out}", "--device", "cpu"],
    ["edges", "train", "--data", "{data}", "--out", "{out}", "--device", "cpu"],
    ["edges", "eval", "--images", "{data}/val/images", "--masks", "{data}/val/masks",
     "--out", "{out}", "--device", "cpu"],
    ["sr", "train", "--data", "{img}", "--out", "{out}", "--device", "cpu"],
    ["experiment", "sr-vs-original", "--data", "{data}", "--out", "{out}", "--device",
     "cpu"],
])
@pytest.mark.parametrize("name", ["x.png", "x.JPG", "x.ome.tif", "x.npy"])
def test_an_output_folder_named_like_an_image_is_refused(tmp_path, capsys, argv, name):
    """`srmat edges predict --out x.png` (and demo, synth, ...) made a folder named like
    an image file: every output folder is refused so, in one line, before anything is
    written (outputs.check_folder_name)."""
    import numpy as np
    from PIL import Image

    img = tmp_path / "a.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(img)
    for split in ("train", "val"):
        for sub in ("images", "masks"):
            (tmp_path / "d" / split / sub).mkdir(parents=True)
            Image.fromarray(np.zeros((64, 64), np.uint8)).save(
                tmp_path / "d" / split / sub / "a.png")
    out = tmp_path / name
    argv = [a.format(out=out, img=img, data=tmp_path / "d") for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{out}: the output is a folder, not a " in err, err
    assert not out.exists() and not list(tmp_path.glob("x.*"))


def test_an_output_folder_may_be_named_zarr(tmp_path, capsys):
    """.zarr names a folder format: an output folder so named is written."""
    assert main(["synth", str(tmp_path / "s.zarr"), "--n", "1", "--size-px", "64"]) == 0
    assert (tmp_path / "s.zarr").is_dir()


@pytest.mark.parametrize("encoding, unit", [("ascii", "um"), ("utf-8", "µm")])
def test_a_console_without_mu_gets_um_not_an_error(tmp_path, encoding, unit):
    """With io.LENGTH_UNIT ('µm') in srmat info's pixel size and in --help, a console
    that cannot write it (LC_ALL=C without Python's UTF-8 mode, PYTHONIOENCODING=ascii)
    got 'srmat info: error: 'ascii' codec can't encode ...' (exit 2) instead of the
    result, and a traceback for `srmat heyn --help`. Such a console gets 'um'; the
    others keep 'µm'."""
    import os
    import subprocess

    import numpy as np

    from napari_srmat.io import write_ome_zarr

    store = write_ome_zarr(np.zeros((16, 16), np.uint8), tmp_path / "s.ome.zarr",
                           pixel_size_um=0.3)
    env = dict(os.environ, PYTHONIOENCODING=encoding, LC_ALL="C", PYTHONUTF8="0")
    said = {}
    for name, argv in {"info": ["info", str(store)], "help": ["heyn", "--help"]}.items():
        done = subprocess.run([sys.executable, "-m", "napari_srmat", *argv], env=env,
                              capture_output=True, timeout=300)
        assert done.returncode == 0 and done.stderr == b"", done.stderr.decode(encoding)
        said[name] = done.stdout.decode(encoding)
    assert f"pixel size:  0.3 {unit}" in said["info"]
    assert f"pixel size in {unit}" in " ".join(said["help"].split())
    # a library refusal written with io.LENGTH_UNIT reaches such a console in 'um' too
    done = subprocess.run([sys.executable, "-m", "napari_srmat", "synth", str(tmp_path / "s"),
                           "--n", "1", "--size-px", "64", "--pixel-size-um", "84.6667"],
                          env=env, capture_output=True, timeout=300)
    err = " ".join(done.stderr.decode(encoding).split())
    assert done.returncode == 2 and err.startswith(
        f"srmat synth: error: --pixel-size-um 84.6667 {unit} cannot be stored in a PNG "
        "(it is 300 dpi, a print resolution"), err
    assert f"give a size between 2.4e-4 and 1e4 {unit} that is" in err


def test_a_missing_checkpoint_or_file_is_worded_as_other_file_errors(tmp_path, capsys,
                                                                      monkeypatch):
    """A missing checkpoint said 'checkpoint not found: PATH' and a raw OS error
    'PATH: No such file or directory' (capitalised), unlike the commands' other file
    errors ('PATH: WHAT not found', 'PATH: cannot read WHAT: reason')."""
    import numpy as np
    from PIL import Image

    from napari_srmat.edges import infer

    img = tmp_path / "in.png"
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(img)
    argv = ["edges", "predict", str(img), "--out", str(tmp_path / "b"), "--device", "cpu"]
    missing = tmp_path / "nothing"
    assert main([*argv, "--checkpoint", str(missing)]) == 2
    assert capsys.readouterr().err == (f"srmat edges predict: error: {missing}: "
                                       "checkpoint not found\n")

    def gone(*args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", "w.bin")

    monkeypatch.setattr(infer, "load_boundary_model", gone)
    assert main(argv) == 2
    assert capsys.readouterr().err == ("srmat edges predict: error: w.bin: no such file "
                                       "or directory\n")
    assert not (tmp_path / "b").exists()


def _labelled_root(root: Path) -> Path:
    """ROOT/{train,val}/{images,masks} with one synthetic 64 px pair each."""
    import numpy as np
    from PIL import Image

    from napari_srmat.synth import generate_microstructure

    for split in ("train", "val"):
        (root / split / "images").mkdir(parents=True)
        (root / split / "masks").mkdir()
        ms = generate_microstructure((64, 64), mean_grain_size_px=16, seed=1)
        Image.fromarray(ms.image).save(root / split / "images" / "a.png")
        Image.fromarray(ms.boundaries.astype(np.uint8) * 255).save(
            root / split / "masks" / "a.png")
    return root


@pytest.mark.parametrize("command, flag", [("sr train", "--synthetic"),
                                           ("edges train", "--pretrain-synthetic")])
def test_a_synthetic_set_larger_than_memory_is_refused_before_it_is_made(
        tmp_path, capsys, monkeypatch, command, flag):
    """`srmat sr train --synthetic 1000000000` (417 TiB of 256 px micrographs) and
    `srmat edges train --pretrain-synthetic 1000000000` generated every image into
    memory before training: still generating at 300 s, memory growing, until the
    machine ran out. The one memory rule (estimates.check_in_memory, with
    plan_synthetic_set) now refuses it first: one line, exit 2, no run folder. Here with
    8 MiB of memory, in which each image fits but 50 of 256 px (sr) or 200 of 64 px
    (edges) do not (failed before: the run trained, exit 0)."""
    import napari_srmat.estimates as estimates

    monkeypatch.setattr(estimates, "available_memory_bytes", lambda: 8 * 2**20)
    out = tmp_path / "run"
    if command == "sr train":
        argv = ["sr", "train", "--synthetic", "50", "--train-steps", "1", "--patch", "32",
                "--batch-size", "1", "--device", "cpu", "--out", str(out)]
    else:
        argv = ["edges", "train", "--data", str(_labelled_root(tmp_path / "data")),
                "--epochs", "1", "--steps-per-epoch", "1", "--crop", "32", "--batch-size",
                "1", "--device", "cpu", "--pretrain-epochs", "1", flag, "200", "--out",
                str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    errors = [line for line in err if ": error:" in line]
    assert len(errors) == 1 and errors[0].startswith(
        f"srmat {command}: error: {flag} needs ") and "of memory, more than 50%" in errors[0]
    assert not out.exists() or not any(out.iterdir())
