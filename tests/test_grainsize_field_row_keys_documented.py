"""Every key of an ``srmat grain-size --method`` field row is documented in
docs/standards.md's table of field-row keys (s51 E2 #3: ``mask_scale`` and
``block_scale`` were in the rows, since s50, but not in the table)."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from napari_srmat.cli import main

DOC = Path(__file__).parents[1] / "docs" / "standards.md"


def documented_field_keys() -> set[str]:
    """The keys named in the first column of docs/standards.md's per-field table."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.startswith("| `name`, `method`, `standard` |"))
    first = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        first.append(line.split("|")[1])
    return set(re.findall(r"`([a-z_0-9]+)`", " ".join(first)))


def undocumented(row: dict) -> list[str]:
    """The keys of ``row`` the table does not name (``x_px`` is named as ``x_um`` /
    ``_px``; ``n_intercepts``, the crossings under the schema's old name, is told in the
    paragraph of ``srmat grain-size --method``)."""
    keys = documented_field_keys()
    text = DOC.read_text(encoding="utf-8")
    return sorted(k for k in row if k not in keys
                  and not (k.endswith("_px") and f"{k[:-3]}_um" in keys)
                  and not (k == "n_intercepts" and "`n_intercepts` (= `n_crossings`)" in text))


def test_every_key_of_a_mask_field_row_is_in_the_table(tmp_path, capsys):
    m = np.zeros((160, 160), np.uint8)
    m[:, 5::20] = 255
    m[5::20, :] = 255
    Image.fromarray(m).save(tmp_path / "m.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = main(["grain-size", str(tmp_path / "m.png"), "--mask", "--method", "intercept",
                   "--mask-scale", "2", "--pixel-size-um", "0.5", "--json"])
    assert rc == 0
    row = json.loads(capsys.readouterr().out)["images"][0]
    assert row["mask_scale"] == 2 and "block_scale" in row
    assert undocumented(row) == []
