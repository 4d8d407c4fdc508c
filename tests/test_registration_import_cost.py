"""``srmat register``'s parser reads the registration's constants without its scipy."""

from __future__ import annotations

import subprocess
import sys


def test_the_registration_s_constants_come_without_scipy():
    """``napari_srmat.sr.registration`` imported scipy at import: ``srmat``'s parser kept
    ``--scale``'s help a literal copy of ``HINT_TOLERANCE`` and ``SCALE_RANGE`` rather than
    pay for it in every command (failed before, 2026-12-07: scipy imported). Now scipy
    comes where the registration runs, and the help is made from the constants."""
    code = (
        "import sys\n"
        "from napari_srmat.cli.registration import SCALE_HELP\n"
        "from napari_srmat.sr.registration import HINT_TOLERANCE, SCALE_RANGE\n"
        "print('scipy' in sys.modules)\n"
        "print(SCALE_HELP)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True
    )
    imported, help_text = proc.stdout.splitlines()
    assert imported == "False"
    assert help_text == "approximate scale S (searched from S/1.1 to S*1.1); default: search 1-8"
