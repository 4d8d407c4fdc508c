"""``srmat info OUT`` on a stopped run whose marker is damaged: one line naming the
marker, exit 2 (s51 F10 #2). Before: 'internal error: TypeError: unhashable type', rc 1."""

from __future__ import annotations

import json

from napari_srmat.cli import main
from napari_srmat.outputs import MARKER_NAME, write_marker


def test_a_damaged_marker_kind_is_named_in_one_line(tmp_path, capsys):
    """Failed before: 'internal error: TypeError: unhashable type: list', rc 1."""
    out = tmp_path / "edges"
    partial = tmp_path / "edges.partial"
    partial.mkdir()
    write_marker(partial, "boundaries", complete=False)
    marker = partial / MARKER_NAME
    record = json.loads(marker.read_text())
    record["kind"] = ["x"]
    marker.write_text(json.dumps(record))
    rc = main(["info", str(out)])
    got = capsys.readouterr()
    assert rc == 2 and got.out == ""
    assert got.err == (f"srmat info: error: {out} does not exist; {partial} is a stopped run "
                       f"whose marker {marker} is damaged (its kind is [\"x\"], not a name): "
                       "srmat info cannot tell what it holds\n")
