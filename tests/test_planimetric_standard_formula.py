"""The one-line planimetric ``standard`` is the formula of the JSON counts.

CLI explorer s50 F4: ``srmat grain-size --mask --method planimetric --json`` gave
``n_grains_inside`` 107, ``n_grains_edge`` 53, ``n_grains_corner`` 4,
``n_grains_equivalent`` 132.5 under a ``standard`` of "inside + edge/2 + corner/4", which
gives 134.5 from those counts: the edge grains include the corner grains. W2 s50: the
"corner/4" that followed counted 1/4 per corner *grain*, where the count adds 1/4 per
field corner held: one boundary splitting the field (two grains of two corners each)
read 0.5 for N = 1, a field without a boundary 0.25 for N = 1.
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
    names = {
        "inside": "n_grains_inside",
        "edge": "n_grains_edge",
        "corner": "n_grains_corner",
        "field_corners": "n_field_corners",
    }
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


def _row(tmp_path, boundaries: np.ndarray, rule: str) -> dict:
    """The ``srmat grain-size --mask --method planimetric --json`` row of a mask."""
    mask = tmp_path / "m_mask.png"
    Image.fromarray(boundaries.astype(np.uint8) * 255).save(mask)
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
    return row


@pytest.mark.parametrize("rule", ["e112", "iso643"])
def test_the_standard_s_formula_gives_the_equivalent_count(tmp_path, rule):
    ms = generate_microstructure((256, 256), mean_grain_size_px=20, seed=0)
    row = _row(tmp_path, ms.boundaries > 0, rule)
    assert row["n_grains_corner"] > 0 and row["n_grains_edge"] > row["n_grains_corner"]
    assert _formula_value(row["standard"], row) == row["n_grains_equivalent"]


def _one_boundary() -> np.ndarray:
    mask = np.zeros((64, 64), bool)
    mask[:, 32] = True  # two grains, each holding two field corners
    return mask


def _no_boundary() -> np.ndarray:
    mask = np.zeros((64, 64), bool)
    mask[:3, :3] = True  # one grain holding all four field corners
    return mask


@pytest.mark.parametrize("rule", ["e112", "iso643"])
@pytest.mark.parametrize(
    ("make", "counts"),
    [(_one_boundary, (0, 2, 2, 4)), (_no_boundary, (0, 1, 1, 4))],
    ids=["one_boundary", "no_boundary"],
)
def test_grains_holding_several_field_corners_follow_the_formula(tmp_path, rule, make, counts):
    """W2 s50: with "corner/4" the formula read 0.5 and 0.25 here, the count 1.0."""
    row = _row(tmp_path, make(), rule)
    keys = ("n_grains_inside", "n_grains_edge", "n_grains_corner", "n_field_corners")
    assert tuple(row[k] for k in keys) == counts
    assert row["n_grains_equivalent"] == 1.0
    assert _formula_value(row["standard"], row) == row["n_grains_equivalent"]
