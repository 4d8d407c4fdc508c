"""A Ctrl-C while ``srmat`` imports its command line: one line, exit 130 (s51 E13, X1 #6)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: The console script pip writes for ``[project.scripts]``'s ``srmat``, with an import
#: hook that raises the Ctrl-C while ``napari_srmat.errors`` (imported by the command
#: line, errors.py:12's numpy) is imported, as a press in the first ~0.3 s did.
_SCRIPT = """
import sys

class CtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == "napari_srmat.errors":
            raise KeyboardInterrupt
        return None

sys.meta_path.insert(0, CtrlC())
from {module} import {attr}
sys.argv[0] = "srmat"
sys.exit({attr}())
"""


def _console_target() -> tuple[str, str]:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        target = tomllib.load(fh)["project"]["scripts"]["srmat"]
    module, attr = target.split(":")
    return module, attr


def _run(*args: str) -> subprocess.CompletedProcess:
    module, attr = _console_target()
    return subprocess.run([sys.executable, "-c", _SCRIPT.format(module=module, attr=attr),
                           *args], capture_output=True, text=True, timeout=120)


def test_ctrl_c_while_the_command_line_is_imported_is_one_line_and_exit_130():
    """Until 2026-12-07 the console script imported ``napari_srmat.cli`` outside any
    handler: a traceback, and the process died of the signal."""
    done = _run("info", "nothing.png")
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip() == "srmat: interrupted"


def test_ctrl_c_while_imported_with_debug_shows_the_traceback():
    """guard: passed before (a traceback either way)."""
    done = _run("--debug", "info", "nothing.png")
    assert done.returncode != 130 and "KeyboardInterrupt" in done.stderr
