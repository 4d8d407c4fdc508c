"""The Ctrl-C lines of the commands tell the truth in one wording (s51 E13, X2 #6)."""

from __future__ import annotations

import pytest

from napari_srmat import cli
from napari_srmat.tiling._engine import KEPT_AT_INTERRUPT_ATTR


def _job(kept: str | None):
    """A job whose first step is interrupted, with what a stored tiled run kept."""
    ctrl_c = KeyboardInterrupt()
    if kept is not None:
        setattr(ctrl_c, KEPT_AT_INTERRUPT_ATTR, kept)
    raise ctrl_c
    yield  # pragma: no cover - a generator


NOTHING = ("after 4 of 36 tiles; nothing kept: none of the 9 output chunks (1024x1024 px) "
           "was finished, so a rerun computes every tile again (o.zarr.partial holds no "
           "finished chunk)")


def test_a_ctrl_c_that_kept_nothing_says_no_resume():
    """Was '...; nothing kept: none of the 9 output chunks ...; rerun the same command to
    resume': nothing to resume."""
    with pytest.raises(cli.Interrupted) as caught:
        cli.run_cli_job(_job(NOTHING), resume=cli.RERUN_TO_RESUME, quiet=True)
    assert str(caught.value) == NOTHING
    assert "resume" not in str(caught.value)


def test_a_ctrl_c_that_kept_chunks_says_to_resume():
    """guard: passed before (chunks kept: the rerun resumes them)."""
    kept = ("after 6 of 9 tiles; 2 of 4 output chunks (1024x1024 px) kept in o.zarr.partial: "
            "a rerun computes the rest")
    with pytest.raises(cli.Interrupted) as caught:
        cli.run_cli_job(_job(kept), resume=cli.RERUN_TO_RESUME, quiet=True)
    assert str(caught.value) == f"{kept}; {cli.RERUN_TO_RESUME}"


def test_a_ctrl_c_before_the_job_and_in_it_share_one_wording():
    """`srmat sr run` pressed before its job (main's line) said 'a partial output, if any,
    is kept for a rerun', in its job before the store '..., is kept; rerun the same
    command to resume': two wordings of one state. Now the job's line is main's and
    its resume words."""
    with pytest.raises(cli.Interrupted) as caught:
        cli.run_cli_job(_job(None), resume=cli.RERUN_TO_RESUME, quiet=True)
    before = cli.interrupted_line("srmat sr run", KeyboardInterrupt())
    in_job = cli.interrupted_line("srmat sr run", caught.value)
    assert before == "srmat sr run: interrupted (a partial output, if any, is kept; rerun " \
        "the same command)"
    assert in_job == before[:-1] + " to resume)"
