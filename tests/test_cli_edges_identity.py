"""A refusal of an existing output made differently names what differs readably."""

from __future__ import annotations

import numpy as np

from napari_srmat.cli import main
from napari_srmat.outputs import identity_differences


def test_a_group_only_one_identity_has_is_told_once():
    """A setting group one side lacks (an edge map's ``error_model``) was told leaf by
    leaf, ``error_model.params.coef: stored '<missing>' != requested [...]`` and ~20
    more: now once, by its name and its entries' names; a differing setting is still
    told with both values, and a group both have compares its settings (failed before)."""
    stored = {"model": "cnn", "tile": 128}
    requested = {
        "model": "cnn",
        "tile": 256,
        "error_model": {
            "params": {"coef": [0.9] * 30, "kind": "logistic"},
            "threshold": 0.5,
            "threshold_rule": "otsu_scaled",
        },
    }
    assert identity_differences(stored, requested) == [
        "error_model: stored none != requested {params, threshold, threshold_rule}",
        "tile: stored 128 != requested 256",
    ]
    assert identity_differences(requested, stored)[0] == (
        "error_model: stored {params, threshold, threshold_rule} != requested none"
    )
    both = dict(stored, error_model={"params": {"kind": "a"}})
    assert identity_differences(both, dict(both, error_model={"params": {"kind": "b"}})) == [
        "error_model.params.kind: stored 'a' != requested 'b'"
    ]


def test_edges_predict_error_map_on_an_output_without_one_is_refused_in_one_short_line(
    tmp_path, capsys
):
    """``srmat edges predict --error-map`` over an output written without it: the
    refusal listed ~20 internal keys of the error model (1551 characters); now it names
    ``error_model`` once (failed before)."""
    from PIL import Image

    image = tmp_path / "a.png"
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8)).save(image)
    out = tmp_path / "out"
    common = ["edges", "predict", str(image), "--device", "cpu", "--out", str(out)]
    assert main(common) == 0
    capsys.readouterr()
    assert main([*common, "--error-map"]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if "error:" in ln]
    assert len(err) == 1, err
    assert "error_model: stored none != requested {" in err[0]
    assert "error_model.params" not in err[0] and len(err[0]) < 300, err[0]
