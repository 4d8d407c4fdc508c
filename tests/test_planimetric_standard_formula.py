"""The one-line planimetric ``standard`` is the formula of the JSON counts.

CLI explorer s50 F4: ``srmat grain-size --mask --method planimetric --json`` gave
``n_grains_inside`` 107, ``n_grains_edge`` 53, ``n_grains_corner`` 4,
``n_grains_equivalent`` 132.5 under a ``standard`` of "inside + edge/2 + corner/4", which
gives 134.5 from those counts: the edge grains include the corner grains.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json

import numpy as np
import pytest
from PIL import Image

from napari_srmat.cli import main
from napari_srmat.synth import generate_microstructure


def _formula_value(standard: str, row: dict) -> float:
    """The standard's formula (after its last ':') with the row's counts for its names."""
    names = {"inside": "n_grains_inside", "edge": "n_grains_edge", "corner": "n_grains_corner"}
    tree = ast.parse(standard.rsplit(":", 1)[1].strip(), mode="eval")
    allowed = (
        ast.Expression,
        ast.BinOp,
        ast.Add,
        ast.Sub,
        ast.Div,
        ast.Name,
        ast.Load,
        ast.Constant,
    )
    assert all(isinstance(node, allowed) for node in ast.walk(tree)), standard
    return eval(
        compile(tree, "standard", "eval"),  # noqa: S307 - checked: + - / only
        {"__builtins__": {}},
        {k: row[v] for k, v in names.items()},
    )


@pytest.mark.parametrize("rule", ["e112", "iso643"])
def test_the_standard_s_formula_gives_the_equivalent_count(tmp_path, rule):
    ms = generate_microstructure((256, 256), mean_grain_size_px=20, seed=0)
    mask = tmp_path / "m_mask.png"
    Image.fromarray((ms.boundaries > 0).astype(np.uint8) * 255).save(mask)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert (
            main(
                [
                    "grain-size",
                    "--mask",
                    "--method",
                    "planimetric",
                    "--rule",
                    rule,
                    "--json",
                    str(mask),
                ]
            )
            == 0
        )
    (row,) = json.loads(out.getvalue())["images"]
    assert row["n_grains_corner"] > 0 and row["n_grains_edge"] > row["n_grains_corner"]
    assert _formula_value(row["standard"], row) == row["n_grains_equivalent"]
