"""``srmat``'s parser (``cli.rescan.register`` imports ``sr.rescan``) comes without scipy."""

from __future__ import annotations

import subprocess
import sys


def test_building_the_parser_does_not_import_scipy():
    """``napari_srmat.sr.rescan`` imported ``scipy.ndimage`` at import, which every
    ``srmat`` command (``--help`` too) paid through ``cli.rescan.register`` (failed
    before, 2026-12-07: scipy imported). Now scipy comes where the planner filters an
    image, and the planner's module still imports."""
    code = (
        "import sys\n"
        "from napari_srmat.cli import build_parser\n"
        "build_parser()\n"
        "import napari_srmat.sr.rescan\n"
        "print('scipy' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True
    )
    assert proc.stdout.splitlines() == ["False"]
