"""A job's warnings (the tiled runner's out-of-memory fall-back, ...) reach the user of
every ``srmat`` command once, in every mode: on stderr as the command's warning line, and
in its ``--json`` ``warnings`` (the image row's, the plan's, or the top-level one): the
one rule of :func:`napari_srmat.cli.run_cli_job`."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from napari_srmat.cli import EXIT_INTERRUPTED, main
from napari_srmat.jobs import Log

#: What the tiled runner says when it falls back to a smaller batch.
FALLBACK = "out of memory at batch size 8: retrying with 4"


def _warning_first(monkeypatch, module, name: str) -> None:
    """Make ``module.name`` (a job) yield the fall-back warning before its own events."""
    real = getattr(module, name)

    def job(*args, **kwargs):
        yield Log(FALLBACK, level="warning")
        return (yield from real(*args, **kwargs))

    monkeypatch.setattr(module, name, job)


def _told(text: str) -> list[str]:
    return [line for line in text.splitlines() if FALLBACK in line]


@pytest.fixture
def mask_png(tmp_path):
    from PIL import Image

    mask = np.zeros((64, 64), np.uint8)
    mask[::8, :] = mask[:, ::8] = 255
    path = tmp_path / "m.png"
    Image.fromarray(mask).save(path)
    return path


@pytest.mark.parametrize("json_flag", [True, False])
def test_grain_size_tells_the_runs_warning_once_in_the_images_row(mask_png, capsys,
                                                                  monkeypatch, json_flag):
    """``srmat grain-size --json`` ran its job quietly: the fall-back was neither on
    stderr nor in the JSON. Now it is in the image's ``warnings`` and printed once, as
    the row's other warnings (``srmat grain-size: warning: PATH: ...``), with and without
    ``--json``."""
    import napari_srmat.grainsize as gs

    _warning_first(monkeypatch, gs, "measure_grain_size_job")
    argv = ["grain-size", str(mask_png), "--mask"] + (["--json"] if json_flag else [])
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert _told(err) == [f"srmat grain-size: warning: {mask_png}: {FALLBACK}"]
    if json_flag:
        assert json.loads(out)["images"][0]["warnings"].count(FALLBACK) == 1
    else:
        assert FALLBACK not in out


def test_grain_size_method_lists_the_runs_warning_in_the_field(mask_png, capsys,
                                                               monkeypatch):
    """With ``--method`` the JSON's images are the standards' fields: the fall-back is in
    the field's ``warnings``, once."""
    import napari_srmat.grainsize as gs

    _warning_first(monkeypatch, gs, "measure_grain_size_job")
    assert main(["grain-size", str(mask_png), "--mask", "--method", "intercept",
                 "--json"]) == 0
    out, err = capsys.readouterr()
    assert len(_told(err)) == 1
    assert json.loads(out)["images"][0]["warnings"].count(FALLBACK) == 1


def test_demo_json_lists_the_runs_warning(tmp_path, capsys, monkeypatch):
    """``srmat demo --json`` ran its job quietly: the fall-back was lost. Now printed once
    and in the top-level ``warnings``."""
    import napari_srmat.studies.demo as demo

    _warning_first(monkeypatch, demo, "run_demo_job")
    assert main(["demo", "--out", str(tmp_path / "d"), "--stages", "heyn", "--size", "128",
                 "--json"]) == 0
    out, err = capsys.readouterr()
    assert _told(err) == [f"srmat demo: warning: {FALLBACK}"]
    assert json.loads(out)["warnings"] == [FALLBACK]


def test_plan_rescan_json_lists_the_runs_warning_in_the_plan(tmp_path, capsys,
                                                             monkeypatch):
    """``srmat plan-rescan --json`` ran its job quietly: the SR runs' fall-back was lost.
    Now in the plan's ``warnings`` (as its other warnings: printed without ``--json``)."""
    from PIL import Image

    import napari_srmat.sr.rescan as rescan

    rng = np.random.default_rng(0)
    path = tmp_path / "lr.png"
    Image.fromarray(rng.integers(0, 255, (48, 48), dtype=np.uint8)).save(path)
    _warning_first(monkeypatch, rescan, "plan_rescan_job")
    argv = ["plan-rescan", str(path), "--model", "bicubic", "--roi-size-px", "8"]
    assert main([*argv, "--json"]) == 0
    out, err = capsys.readouterr()
    assert _told(err) == []  # the plan's warnings are its JSON's with --json
    assert json.loads(out)["warnings"].count(FALLBACK) == 1
    assert main(argv) == 0
    assert _told(capsys.readouterr().err) == [f"srmat plan-rescan: warning: {FALLBACK}"]


def test_three_arm_json_lists_the_runs_warning(tmp_path, capsys, monkeypatch):
    """``srmat experiment three-arm --json`` ran its job quietly: the fall-back of its
    model runs was lost. Now printed once and in the top-level ``warnings``."""
    from PIL import Image

    import napari_srmat.studies.three_arm as three_arm

    root = tmp_path / "d"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    mask = np.zeros((64, 64), np.uint8)
    mask[::16], mask[:, ::16] = 255, 255
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(
        root / "images" / "r0.png")
    Image.fromarray(mask).save(root / "masks" / "r0.png")
    _warning_first(monkeypatch, three_arm, "three_arm_job")
    assert main(["experiment", "three-arm", str(root), "--sr-models", "bicubic",
                 "--sr-of-native", "none", "--device", "cpu", "--json"]) == 0
    out, err = capsys.readouterr()
    assert _told(err) == [f"srmat experiment three-arm: warning: {FALLBACK}"]
    assert json.loads(out)["warnings"] == [FALLBACK]


def _warning_then_error(monkeypatch, module, name: str) -> None:
    """Make ``module.name`` (a job) yield the fall-back warning and then fail, as a run
    whose smaller batch failed too."""

    def job(*args, **kwargs):
        yield Log(FALLBACK, level="warning")
        raise ValueError("the map could not be measured")

    monkeypatch.setattr(module, name, job)


@pytest.mark.parametrize("json_flag", [True, False])
def test_grain_size_tells_the_runs_warning_before_the_images_error(mask_png, capsys,
                                                                   monkeypatch, json_flag):
    """A run that warned and then failed has no row to carry its warning: since 7f2878d
    the warning went into the row's list and was lost with it (only the error line was
    printed). It is printed once, before the image's error line, naming the image as
    the error line does."""
    import napari_srmat.grainsize as gs

    _warning_then_error(monkeypatch, gs, "measure_grain_size_job")
    argv = ["grain-size", str(mask_png), "--mask"] + (["--json"] if json_flag else [])
    assert main(argv) != 0
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert _told(err) == [f"srmat grain-size: warning: {mask_png}: {FALLBACK}"]
    error = [i for i, line in enumerate(lines) if "could not be measured" in line]
    assert error and lines.index(_told(err)[0]) < error[0]
    if json_flag:  # in the image's error entry, once
        assert json.loads(out)["errors"][0]["warnings"] == [FALLBACK]
    else:
        assert FALLBACK not in out


def _second_image_warns_then_fails(monkeypatch, good) -> None:
    """Make ``measure_grain_size_job`` warn on every image, and fail after warning on all
    but ``good``."""
    import napari_srmat.grainsize as gs

    real = gs.measure_grain_size_job

    def job(mic, *args, **kwargs):
        yield Log(FALLBACK, level="warning")
        if str(mic.path) != str(good):
            raise ValueError("the map could not be measured")
        return (yield from real(mic, *args, **kwargs))

    monkeypatch.setattr(gs, "measure_grain_size_job", job)


@pytest.mark.parametrize("json_flag", [True, False])
def test_grain_size_names_the_image_in_the_warnings_of_a_failed_one(mask_png, tmp_path,
                                                                   capsys, monkeypatch,
                                                                   json_flag):
    """Of several images, the one that warned and then failed had its warning printed
    as `srmat grain-size: warning: out of memory ...`, naming no image, while its error
    line and the warnings of the measured ones name theirs: with 20 images, which one
    the warning was about could not be told. It names the image now, as the others'."""
    import shutil

    bad = tmp_path / "bad.png"
    shutil.copy(mask_png, bad)
    _second_image_warns_then_fails(monkeypatch, good=mask_png)
    argv = ["grain-size", str(mask_png), str(bad), "--mask"] + (
        ["--json"] if json_flag else [])
    assert main(argv) == 2
    lines = capsys.readouterr().err.splitlines()
    # each image's lines in the images' order, as each finished
    assert _told("\n".join(lines)) == [f"srmat grain-size: warning: {mask_png}: {FALLBACK}",
                                       f"srmat grain-size: warning: {bad}: {FALLBACK}"]
    error = lines.index(f"srmat grain-size: error: {bad}: the map could not be measured")
    assert lines.index(f"srmat grain-size: warning: {bad}: {FALLBACK}") == error - 1


def _map_job_in_process(monkeypatch, worker_stderr: list[str]) -> None:
    """Make ``srmat grain-size --scheduler`` run its tasks in this process, as a worker
    would (its stderr collected in ``worker_stderr``, not the command's)."""
    import contextlib
    import io

    import napari_srmat.tiling._distributed as dist

    def map_job(fn, items, scheduler, *, on_result, **kwargs):
        results = []
        for i, item in enumerate(items):
            with contextlib.redirect_stderr(io.StringIO()) as stream:
                results.append(fn(item))
            worker_stderr.append(stream.getvalue())
            on_result(i, results[-1])  # on the client, as map_job tells each result
        return results
        yield  # a job generator

    monkeypatch.setattr(dist, "map_job", map_job)


def test_grain_size_on_a_cluster_tells_a_failed_images_warning_on_the_client(
        mask_png, tmp_path, capsys, monkeypatch):
    """With ``--scheduler`` an image whose run warned and then failed printed its warning
    on the worker's stderr (as `srmat: warning: ...`, outside the command that sets the
    name), not the user's: only the error line came back. The task returns it with its
    error now; the client prints it, naming the image, before the error line."""
    import shutil

    bad = tmp_path / "bad.png"
    shutil.copy(mask_png, bad)
    _second_image_warns_then_fails(monkeypatch, good=mask_png)
    worker_stderr: list[str] = []
    _map_job_in_process(monkeypatch, worker_stderr)
    assert main(["grain-size", str(mask_png), str(bad), "--mask", "--scheduler",
                 "local:1"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert worker_stderr == ["", ""]
    # in the order of the images, as the results come back
    assert _told("\n".join(lines)) == [f"srmat grain-size: warning: {mask_png}: {FALLBACK}",
                                       f"srmat grain-size: warning: {bad}: {FALLBACK}"]
    error = lines.index(f"srmat grain-size: error: {bad}: the map could not be measured")
    assert lines.index(f"srmat grain-size: warning: {bad}: {FALLBACK}") == error - 1


@pytest.mark.parametrize("json_flag", [True, False])
def test_plan_rescan_tells_the_runs_warning_before_its_error(tmp_path, capsys,
                                                            monkeypatch, json_flag):
    """As grain-size's: the plan's warning list was lost with the plan when its run
    failed after warning."""
    from PIL import Image

    import napari_srmat.sr.rescan as rescan

    rng = np.random.default_rng(0)
    path = tmp_path / "lr.png"
    Image.fromarray(rng.integers(0, 255, (48, 48), dtype=np.uint8)).save(path)
    _warning_then_error(monkeypatch, rescan, "plan_rescan_job")
    argv = ["plan-rescan", str(path), "--model", "bicubic", "--roi-size-px", "8"]
    assert main(argv + (["--json"] if json_flag else [])) != 0
    out, err = capsys.readouterr()
    assert out == ""
    assert _told(err) == [f"srmat plan-rescan: warning: {FALLBACK}"]
    assert "could not be measured" in err.splitlines()[-1]


def test_grain_size_tells_the_runs_warning_before_a_ctrl_c(mask_png, capsys, monkeypatch):
    """A Ctrl-C after the run warned: the warning, held for the image's row, was lost with
    it; it is printed once before the interrupted line (exit 130)."""
    import napari_srmat.grainsize as gs
    from napari_srmat import cli

    def job(*args, **kwargs):
        yield Log(FALLBACK, level="warning")
        raise KeyboardInterrupt

    monkeypatch.setattr(gs, "measure_grain_size_job", job)
    assert main(["grain-size", str(mask_png), "--mask", "--json"]) == cli.EXIT_INTERRUPTED
    out, err = capsys.readouterr()
    assert out == ""
    assert _told(err) == [f"srmat grain-size: warning: {mask_png}: {FALLBACK}"]
    assert err.splitlines()[-1].startswith("srmat grain-size: interrupted (")


#: An error event of a job that goes on (``Log(level="error")``).
JOB_ERROR = "tile 3 could not be read: it is left empty"


@pytest.mark.parametrize("json_flag", [True, False])
def test_a_jobs_error_event_is_the_commands_error_line(mask_png, capsys, monkeypatch,
                                                       json_flag):
    """A job's ``[error]`` event (:class:`napari_srmat.jobs.Log` of level ``"error"``)
    was printed in the old form, ``[error] message``, and not at all with ``--json``
    (quiet): since c231453 a job's warnings are the command's lines. Now it is the
    command's error line, ``srmat CMD: error: message``, once, in every mode."""
    import napari_srmat.io as io

    def job(path):
        yield Log(f"{JOB_ERROR}\n(the rest was read)", level="error")
        return {"ok": True, "n_blocks": 1, "n_bad": 0, "bad": []}

    monkeypatch.setattr(io, "verify_image_job", job)
    argv = ["info", str(mask_png), "--verify"] + (["--json"] if json_flag else [])
    assert main(argv) == 0
    out, err = capsys.readouterr()
    told = [line for line in err.splitlines() if JOB_ERROR in line]
    assert told == [f"srmat info: error: {JOB_ERROR} (the rest was read)"]
    assert JOB_ERROR not in out


def _job_warning_then(monkeypatch, module: str, name: str, result) -> None:
    """Make ``module.name`` (a job) yield the fall-back warning and return ``result``."""
    import importlib

    def job(*args, **kwargs):
        yield Log(FALLBACK, level="warning")
        return result

    monkeypatch.setattr(importlib.import_module(module), name, job)


def _trained_boundaries():
    from types import SimpleNamespace

    return SimpleNamespace(best_checkpoint="run/best", best_val_ap=0.5, threshold=0.5,
                           epochs_done=1, stopped=False, history=[])


#: The commands whose ``--json`` runs their job with its progress (not quietly): the
#: argv (``{png}``, ``{dir}`` and ``{out}`` filled in), the job and what it returns.
NOT_QUIET_JSON = {
    "sr train": (["sr", "train", "--synthetic", "1", "--out", "{out}"],
                 "napari_srmat.sr.train", "train_sr_job",
                 lambda: {"last": "run/last", "best": "run/best", "best_psnr": None,
                          "history": []}),
    "edges train": (["edges", "train", "--data", "{dir}", "--out", "{out}"],
                    "napari_srmat.edges.train", "train_boundaries_job", _trained_boundaries),
    "edges pretrain": (["edges", "pretrain", "{png}", "--out", "{out}"],
                       "napari_srmat.edges.pretrain", "masked_pretrain_job",
                       lambda: "pretrained"),
    "edges eval": (["edges", "eval", "--images", "{dir}", "--masks", "{dir}"],
                   "napari_srmat.edges.evaluate", "evaluate_boundaries_job",
                   lambda: {"ap": 0.5, "warnings": ["the Heyn figure is withheld"]}),
    "experiment sr-vs-original": (
        ["experiment", "sr-vs-original", "--data", "{dir}"],
        "napari_srmat.studies.sr_vs_original", "run_sr_vs_original_job",
        lambda: {"original": {"per_image": []}, "sr": {"per_image": []}, "table": ""}),
    "info": (["info", "{png}", "--verify"], "napari_srmat.io", "verify_image_job",
             lambda: {"ok": True, "n_blocks": 1, "n_bad": 0, "bad": []}),
}


@pytest.mark.parametrize("command", list(NOT_QUIET_JSON))
def test_json_commands_list_the_runs_warning_at_the_top(command, mask_png, tmp_path,
                                                        capsys, monkeypatch):
    """``srmat sr train``, ``edges train``, ``edges pretrain``, ``edges eval``,
    ``experiment sr-vs-original`` and ``info --verify`` with ``--json`` printed their
    job's warnings on stderr but listed them in the JSON only where their result
    happened to (``edges eval``'s own Heyn warnings: not the job's fall-back), unlike
    ``srmat demo`` or ``sr run``. Now each lists them in its top-level ``warnings``,
    after the result's own, once (the one rule, ``cli.print_json_result``)."""
    argv, module, name, result = NOT_QUIET_JSON[command]
    own = result().get("warnings", []) if isinstance(result(), dict) else []
    _job_warning_then(monkeypatch, module, name, result())
    fill = {"png": str(mask_png), "dir": str(tmp_path), "out": str(tmp_path / "out")}
    assert main([a.format(**fill) for a in argv] + ["--json"]) == 0
    out, err = capsys.readouterr()
    assert _told(err) == [f"srmat {command}: warning: {FALLBACK}"]
    assert json.loads(out)["warnings"] == [*own, FALLBACK]


def test_grain_size_method_tells_the_runs_warning_before_the_fields_error(
        mask_png, capsys, monkeypatch):
    """With ``--method`` the run that warned could succeed and the standards' field then
    fail: the warning, in the row lost with it, was told nowhere (only the error line).
    Its error carries it now: printed once, naming the image, before the error line."""
    import napari_srmat.grainsize as gs
    from napari_srmat.cli import grainsize

    _warning_first(monkeypatch, gs, "measure_grain_size_job")

    def field(*args, **kwargs):
        raise ValueError("the field could not be measured")

    monkeypatch.setattr(grainsize, "_standard_field", field)
    assert main(["grain-size", str(mask_png), "--mask", "--method", "intercept"]) == 2
    lines = capsys.readouterr().err.splitlines()
    warning = f"srmat grain-size: warning: {mask_png}: {FALLBACK}"
    assert _told("\n".join(lines)) == [warning]
    # before the error line (with the row's own: the mask's missing pixel size)
    assert lines.index(warning) < lines.index(
        f"srmat grain-size: error: {mask_png}: the field could not be measured")


@pytest.mark.parametrize("json_flag", [True, False])
def test_grain_size_method_tells_the_rows_own_warnings_before_the_fields_error(
        tmp_path, capsys, json_flag):
    """The row's own warnings (of the measurement's result, not job events: no test line
    crosses a boundary of an empty mask; no pixel size) were lost when the standards'
    field then failed (a twin mask of another shape): only the error line was printed.
    They are told once each, naming the image, before its error line."""
    from PIL import Image

    blank, twins = tmp_path / "blank.png", tmp_path / "twins.png"
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(blank)
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(twins)
    argv = ["grain-size", str(blank), "--mask", "--method", "intercept",
            "--twins", str(twins)] + (["--json"] if json_flag else [])
    assert main(argv) == 2
    out, err = capsys.readouterr()
    if json_flag:
        json.loads(out)  # stdout is the JSON only
    lines = [line for line in err.splitlines() if not line.startswith("[")]
    error = next(i for i, line in enumerate(lines) if ": error: " in line)
    told = [line for line in lines if ": warning: " in line]
    assert any("no test line crosses a boundary" in line for line in told), lines
    assert len(told) == len(set(told)) and all(f": warning: {blank}: " in w for w in told)
    assert all(lines.index(w) < error for w in told)



def test_json_lists_a_python_warning_again_in_a_second_main_call(mask_png, capsys,
                                                                  monkeypatch):
    """A Python warning is shown once per place per process by default: a second
    ``main()`` in the same process (a notebook, a test) that warned the same told it
    nowhere, and its ``--json`` listed no ``warnings``. Each command tells its own."""
    import warnings

    from napari_srmat.cli import info, print_json_result

    def handler(args):  # a command that warns (from one place) and prints its JSON
        warnings.warn("the pixel size is a guess", UserWarning, stacklevel=1)
        print_json_result({"file": str(args.file)})
        return 0

    monkeypatch.setattr(info, "_handler", handler)
    shown: list[str] = []  # printed (not left to pytest's summary)
    monkeypatch.setattr(warnings, "showwarning", lambda message, *a, **k: shown.append(
        str(message)))
    for i in range(1, 3):
        assert main(["info", str(mask_png), "--json"]) == 0
        assert shown == ["the pixel size is a guess"] * i
        assert json.loads(capsys.readouterr().out)["warnings"] == [
            "the pixel size is a guess"]


@pytest.mark.parametrize("json_flag", [True, False])
def test_grain_size_names_the_image_in_a_jobs_error_event(mask_png, capsys, monkeypatch,
                                                          json_flag):
    """``run_cli_job(about=PATH)`` names the image in the lines it tells: its warnings
    did, a job's error event did not (``srmat grain-size: error: tile 3 ...``, of which of
    20 images?). It is ``srmat grain-size: error: PATH: ...`` now, as the image's error."""
    import napari_srmat.grainsize as gs

    real = gs.measure_grain_size_job

    def job(*args, **kwargs):
        yield Log(JOB_ERROR, level="error")
        return (yield from real(*args, **kwargs))

    monkeypatch.setattr(gs, "measure_grain_size_job", job)
    argv = ["grain-size", str(mask_png), "--mask"] + (["--json"] if json_flag else [])
    assert main(argv) == 0
    told = [line for line in capsys.readouterr().err.splitlines() if JOB_ERROR in line]
    assert told == [f"srmat grain-size: error: {mask_png}: {JOB_ERROR}"]


def _warns_then(monkeypatch, outcome: dict, seen: list[str], capsys) -> None:
    """Make ``measure_grain_size_job`` warn on every image, then do what ``outcome``
    says of its path ("fail", "ctrl-c"; measured otherwise), noting in ``seen`` what was
    on stderr when each image's run began."""
    import napari_srmat.grainsize as gs

    real = gs.measure_grain_size_job

    def job(mic, *args, **kwargs):
        seen.append(capsys.readouterr().err)
        yield Log(FALLBACK, level="warning")
        if outcome.get(str(mic.path)) == "fail":
            raise ValueError("the map could not be measured")
        if outcome.get(str(mic.path)) == "ctrl-c":
            raise KeyboardInterrupt
        return (yield from real(mic, *args, **kwargs))

    monkeypatch.setattr(gs, "measure_grain_size_job", job)


def _images(mask_png, tmp_path, n: int) -> list:
    import shutil

    paths = [mask_png]
    for i in range(1, n):
        paths.append(tmp_path / f"m{i}.png")
        shutil.copy(mask_png, paths[-1])
    return paths


@pytest.mark.parametrize("json_flag", [True, False])
def test_grain_size_tells_each_images_lines_in_order_as_it_finishes(mask_png, tmp_path,
                                                                   capsys, monkeypatch,
                                                                   json_flag):
    """``srmat grain-size A B C`` printed a failed image's lines at once but the measured
    images' warnings after all were done: B's error came before A's warning, and the
    user watching the run saw nothing of A until the end. Each image's lines now come
    in the images' order as it finishes (A's warning before B's run begins), and stdout
    is the JSON only."""
    a, b, c = _images(mask_png, tmp_path, 3)
    seen: list[str] = []
    _warns_then(monkeypatch, {str(b): "fail"}, seen, capsys)
    argv = ["grain-size", str(a), str(b), str(c), "--mask"] + (
        ["--json"] if json_flag else [])
    assert main(argv) == 2
    out, err = capsys.readouterr()
    a_warning = f"srmat grain-size: warning: {a}: {FALLBACK}"
    assert seen[0] == "" and _told(seen[1]) == [a_warning]
    b_lines = [f"srmat grain-size: warning: {b}: {FALLBACK}",
               f"srmat grain-size: error: {b}: the map could not be measured"]
    assert [line for line in seen[2].splitlines() if f"{b}: " in line][-2:] == b_lines
    assert _told(err) == [f"srmat grain-size: warning: {c}: {FALLBACK}"]
    if json_flag:
        assert [row["path"] for row in json.loads(out)["images"]] == [str(a), str(c)]


def test_grain_size_json_lists_a_failed_images_warnings_in_its_error(mask_png, tmp_path,
                                                                     capsys, monkeypatch):
    """A failed image's warnings were printed on stderr but not in ``--json``'s
    ``errors`` entry (``{"path", "error"}``), where a script reads what went wrong: they
    are its ``warnings`` now, without the path (the entry's), as an image row's."""
    a, b = _images(mask_png, tmp_path, 2)
    _warns_then(monkeypatch, {str(b): "fail"}, [], capsys)
    assert main(["grain-size", str(a), str(b), "--mask", "--json"]) == 2
    errors = json.loads(capsys.readouterr().out)["errors"]
    assert errors == [{"path": str(b), "error": f"{b}: the map could not be measured",
                       "warnings": [FALLBACK]}]


def test_grain_size_tells_the_measured_images_warnings_before_a_ctrl_c(mask_png, tmp_path,
                                                                       capsys, monkeypatch):
    """A Ctrl-C during a later image lost the warnings of the images already measured
    (held for the report at the end): only the interrupted image's was told. Each
    measured image's are told as it finishes, before the interrupted line."""
    from napari_srmat import cli

    a, b = _images(mask_png, tmp_path, 2)
    seen: list[str] = []  # stderr as each run began
    _warns_then(monkeypatch, {str(b): "ctrl-c"}, seen, capsys)
    assert main(["grain-size", str(a), str(b), "--mask", "--json"]) == cli.EXIT_INTERRUPTED
    out, err = capsys.readouterr()
    err = "".join(seen) + err
    assert out == ""
    assert _told(err) == [f"srmat grain-size: warning: {a}: {FALLBACK}",
                          f"srmat grain-size: warning: {b}: {FALLBACK}"]
    assert err.splitlines()[-1].startswith("srmat grain-size: interrupted (")


def test_grain_size_on_a_cluster_tells_each_images_lines_as_they_return(
        mask_png, tmp_path, capsys, monkeypatch):
    """With ``--scheduler`` every image's lines came at the end of the whole run. They
    are told as the results come back (``map_job``'s ``on_result``), in the images'
    order: the second image's, back first, waits for the first's."""
    import napari_srmat.tiling._distributed as dist

    a, b = _images(mask_png, tmp_path, 2)
    _warns_then(monkeypatch, {}, [], capsys)
    told_when: list[str] = []

    def map_job(fn, items, scheduler, *, on_result=None, **kwargs):
        results = [fn(item) for item in items]
        capsys.readouterr()  # what the tasks printed is the workers' (none)
        for i in (1, 0):  # the second task's result comes back first
            on_result(i, results[i])
            told_when.append(capsys.readouterr().err)
        return results
        yield  # a job generator

    monkeypatch.setattr(dist, "map_job", map_job)
    assert main(["grain-size", str(a), str(b), "--mask", "--scheduler", "local:1"]) == 0
    assert told_when[0] == ""
    assert _told(told_when[1]) == [f"srmat grain-size: warning: {a}: {FALLBACK}",
                                   f"srmat grain-size: warning: {b}: {FALLBACK}"]


def _mask_pngs(tmp_path, n: int, bad: int) -> list:
    """``n`` boundary masks (PNG); the one at index ``bad`` is not an image."""
    from PIL import Image

    mask = np.zeros((64, 64), np.uint8)
    mask[::8, :] = mask[:, ::8] = 255
    paths = []
    for i in range(n):
        paths.append(tmp_path / f"mask{i}.png")
        if i == bad:
            paths[-1].write_bytes(b"not a png")
        else:
            Image.fromarray(mask).save(paths[-1])
    return paths


@pytest.mark.parametrize("json_flag", [True, False])
def test_heyn_reports_the_measured_masks_and_withholds_the_pool_when_one_fails(
        tmp_path, capsys, json_flag):
    """``srmat heyn A B C`` with B unreadable failed the whole command (no JSON, A's and
    C's rows lost), while ``srmat grain-size`` goes on with the others. One rule now
    (cli.failed_input): the measured masks' rows are reported, B is listed in
    ``errors`` with its line told in the masks' order, the pooled figures (a pool of
    fewer masks than given is another specimen's) are withheld, exit 2."""
    a, b, c = _mask_pngs(tmp_path, 3, bad=1)
    assert main(["heyn", str(a), str(b), str(c)] + (["--json"] if json_flag else [])) == 2
    out, err = capsys.readouterr()
    lines = err.splitlines()
    error = next(i for i, line in enumerate(lines) if line.startswith("srmat heyn: error: "))
    assert str(b) in lines[error]
    # A's warnings (no pixel size) before B's error, C's after it
    assert any(f"warning: {a}: " in line for line in lines[:error])
    assert all(f"{c}: " not in line for line in lines[:error])
    if json_flag:
        result = json.loads(out)
        assert [row["path"] for row in result["per_image"]] == [str(a), str(c)]
        assert [e["path"] for e in result["errors"]] == [str(b)]
        assert result["mean_intercept_px"] is None and result["astm_g"] is None
        assert result["image_mean_intercept_px"] is None
    else:
        assert out.splitlines()[-1] == "pooled: withheld (1 of 3 masks could not be measured)"
        assert out.startswith(f"{a}: ")


def test_heyn_json_lists_no_errors_when_every_mask_is_measured(tmp_path, capsys):
    """The ``errors`` key is there, empty, when every mask was measured (as
    ``srmat grain-size``'s)."""
    a, b = _mask_pngs(tmp_path, 2, bad=-1)
    assert main(["heyn", str(a), str(b), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["errors"] == [] and result["mean_intercept_px"] is not None


#: What reading the file tells (a read warning names the file: ``PATH: ...``).
READ_NOTE = "the TIFF holds 2 images: the first is read"
#: The error of a job that warned first.
MAP_ERROR = "the map could not be measured"


def _read_note_then_job(monkeypatch, outcome: str) -> None:
    """Make reading a mask warn :data:`READ_NOTE` (as ``PATH: ...``, as the readers do)
    and its job warn :data:`FALLBACK`, then do ``outcome``: "measured", "fails"
    (:data:`MAP_ERROR`) or "ctrl-c"."""
    import napari_srmat.grainsize as gs
    import napari_srmat.io as io

    real_open, real_job = io.open_mask_file, gs.measure_grain_size_job

    def open_mask_file(path, *args, **kwargs):
        warnings.warn(f"{path}: {READ_NOTE}", UserWarning, stacklevel=2)
        return real_open(path, *args, **kwargs)

    def job(*args, **kwargs):
        yield Log(FALLBACK, level="warning")
        if outcome == "fails":
            raise ValueError(MAP_ERROR)
        if outcome == "ctrl-c":
            raise KeyboardInterrupt
        return (yield from real_job(*args, **kwargs))

    monkeypatch.setattr(io, "open_mask_file", open_mask_file)
    monkeypatch.setattr(gs, "measure_grain_size_job", job)


@pytest.mark.parametrize("json_flag", [False, True])
@pytest.mark.parametrize("outcome", ["measured", "fails", "ctrl-c"])
def test_grain_size_tells_an_images_read_notes_before_its_jobs_warnings(
        mask_png, capsys, monkeypatch, outcome, json_flag):
    """An image whose job warned and then failed (or was interrupted) told its job's
    warning before what reading the file had told, on stderr and in its ``--json``
    ``errors`` entry, while a measured image's row tells them as they came: the read
    note first. Every outcome tells them in the order they came now, each once."""
    _read_note_then_job(monkeypatch, outcome)
    argv = ["grain-size", str(mask_png), "--mask"] + (["--json"] if json_flag else [])
    rc = main(argv)
    out, err = capsys.readouterr()
    told = [line for line in err.splitlines() if READ_NOTE in line or FALLBACK in line]
    assert told == [f"srmat grain-size: warning: {mask_png}: {READ_NOTE}",
                    f"srmat grain-size: warning: {mask_png}: {FALLBACK}"], err
    last = err.splitlines()[-1]
    if outcome == "measured":
        assert rc == 0
        if json_flag:
            row_warnings = json.loads(out)["images"][0]["warnings"]
            assert [w for w in row_warnings if w in (READ_NOTE, FALLBACK)] == [
                READ_NOTE, FALLBACK]
    elif outcome == "fails":
        assert rc == 2 and last == f"srmat grain-size: error: {mask_png}: {MAP_ERROR}"
        if json_flag:
            assert json.loads(out)["errors"] == [{
                "path": str(mask_png), "error": f"{mask_png}: {MAP_ERROR}",
                "warnings": [READ_NOTE, FALLBACK]}]
    else:
        assert rc == EXIT_INTERRUPTED and out == ""
        assert last.startswith("srmat grain-size: interrupted (")


def test_lines_told_once_are_each_told_once_in_order():
    """Guard (passed before b6228e79, which made ``errors.add_new_lines`` the one rule of
    the CLI's carried warnings and of ``errors.lines_raised_from``): the notes of an
    error and of those it was raised from are each told once, in order, innermost last;
    a job's warnings added to a result (``cli.add_new_lines``) likewise."""
    import napari_srmat.cli as cli
    import napari_srmat.errors as errors

    lines = ["a", "b"]
    cli.add_new_lines(lines, ["b", "c", "c", "a", "d"])
    assert lines == ["a", "b", "c", "d"]
    inner = ValueError("inner")
    inner.add_note("b")
    inner.add_note("c")
    inner.add_note("c")
    outer = ValueError("outer")
    outer.add_note("a")
    outer.add_note("b")
    outer.__cause__ = inner
    assert errors.lines_raised_from(outer, "__notes__") == ["a", "b", "c"]
