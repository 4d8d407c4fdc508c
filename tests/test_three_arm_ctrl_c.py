"""What ``srmat experiment three-arm`` says of a Ctrl-C."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

import test_cli_stops  # noqa: E402

from napari_srmat import cli  # noqa: E402
from napari_srmat.cli.experiment import REPORT_WRITTEN_WHOLE  # noqa: E402

ctrl_c_in_jobs = test_cli_stops.ctrl_c_in_jobs  # the fixture


@pytest.mark.parametrize("outputs", [[], ["--report", "r.json"], ["--plot", "r.png"]])
def test_a_ctrl_c_of_three_arm_says_that_nothing_resumes(tmp_path, capsys, ctrl_c_in_jobs, outputs):
    """`srmat experiment three-arm --report r.json` stopped by a Ctrl-C said "a partial
    output, if any, is kept for a rerun", but the report and the figure are written whole
    at the end and a rerun starts over. Its line now says so (without either: that the
    command writes no file); no file is left."""
    argv = test_cli_stops._argv("experiment three-arm", tmp_path)
    outputs = [str(tmp_path / o) if o.startswith("r.") else o for o in outputs]
    capsys.readouterr()
    assert cli.main(argv + outputs) == cli.EXIT_INTERRUPTED
    out, err = capsys.readouterr()
    said = REPORT_WRITTEN_WHOLE if outputs else cli.CTRL_C_NO_OUTPUT
    assert out == "" and err.splitlines()[-1] == f"srmat experiment three-arm: interrupted ({said})"
    assert not list(tmp_path.glob("r.*"))
