"""What ``srmat heyn`` tells besides its figures: its ``--help`` and the line of a Ctrl-C."""

from __future__ import annotations

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
