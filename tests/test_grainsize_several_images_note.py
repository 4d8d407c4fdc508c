"""``srmat grain-size IMG1 IMG2 ...`` without ``--method`` printed per-image results
with no hint that they may be fields of one specimen, nor how to get the specimen's
mean with its 95 % CI and %RA (s51 E2 #4, explorer s50 CLI F8): one ``note:`` line on
stderr names ``--method`` now; the JSON on stdout is unchanged."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from PIL import Image

from napari_srmat.cli import main

HINT = "if they are fields of one specimen, give --method intercept"


def _masks(tmp_path, n: int) -> list[str]:
    paths = []
    for i in range(n):
        m = np.zeros((160, 160), np.uint8)
        m[:, 5 + i::20] = 255
        m[5::20, :] = 255
        Image.fromarray(m).save(tmp_path / f"m{i}.png")
        paths.append(str(tmp_path / f"m{i}.png"))
    return paths


def _run(capsys, *args) -> tuple[int, str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = main(["grain-size", *args, "--mask", "--pixel-size-um", "0.5"])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_several_images_are_told_how_to_summarise_them_as_a_specimen(tmp_path, capsys,
                                                                      json_flag):
    rc, out, err = _run(capsys, *_masks(tmp_path, 3), *json_flag)
    assert rc == 0
    told = [line for line in err.splitlines() if HINT in line]
    assert len(told) == 1 and told[0].startswith("srmat grain-size: note: 3 images"), err
    assert "95% CI and %RA" in told[0]
    if json_flag:
        assert len(json.loads(out)["images"]) == 3  # stdout: the JSON only
    else:
        assert HINT not in out


def test_one_image_or_a_specimen_run_gets_no_such_hint(tmp_path, capsys):
    """Guard (passed before): one image has its one-field note; --method summarises."""
    paths = _masks(tmp_path, 2)
    _, _, err = _run(capsys, paths[0])
    assert HINT not in err and "one field" in err
    _, _, err = _run(capsys, *paths, "--method", "intercept")
    assert HINT not in err
