"""CLI: rules shared by several commands live in one public place."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from napari_srmat import cli


def test_tile_rule_is_one_public_helper():
    """`cli/edges.py` imported the private `_check_tile` of `cli/sr.py`; the rule is
    `cli.check_tile_flags` (with `int_arg` and the other shared helpers), used by
    `sr run`, `edges predict` and `plan-rescan`, and no command module imports a private
    name of `cli/sr.py`."""
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
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module == "sr":
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports {private} from .{node.module}"
            if isinstance(node, ast.Name) and node.id == "check_tile_flags":
                users.add(path.stem)
    assert {"sr", "edges", "rescan"} <= users
    from napari_srmat.cli import sr

    assert not hasattr(sr, "_check_tile")
