"""``measure_grain_size(mask=True, mask_scale=S)`` and ``srmat grain-size --mask
--mask-scale S`` record the scale in the result: ``mask_scale`` (the value given, None
when not given) and ``block_scale`` (the rule the count used, ``HeynResult.block_scale``),
so a saved result tells which setting made it (docs/grain_size.md "Output schema")."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

# the 1 px mask as drawn (256², 24 px grains) and its x S upscales of the library test
from test_heyn_mask_scale_keyword import S, _drawn, _nearest, _upscaled

from napari_srmat.cli import main
from napari_srmat.grainsize import measure_grain_size


@pytest.fixture(scope="module")
def bilinear() -> np.ndarray:
    """The x4 bilinear upscale of the mask drawn (its scale cannot be read off it)."""
    return _upscaled(_drawn(), "bilinear")


def test_the_result_records_the_mask_scale_given_and_the_rule_used(bilinear):
    """Before, ``to_dict()`` had neither key: ``mask_scale=4`` and no ``mask_scale`` gave
    dicts that differed only in their figures. Now the scale given and the block scale
    used are there, also on the result's attributes."""
    given = measure_grain_size(bilinear, mask=True, mask_scale=S)
    plain = measure_grain_size(bilinear, mask=True)
    assert (given.mask_scale, given.block_scale) == (S, S)
    assert (plain.mask_scale, plain.block_scale) == (None, 1)
    d = json.loads(json.dumps(given.to_dict()))
    assert (d["mask_scale"], d["block_scale"]) == (S, S)
    d = plain.to_dict()
    assert (d["mask_scale"], d["block_scale"]) == (None, 1)


def test_a_scale_found_on_an_exact_upscale_is_the_block_scale_not_the_mask_scale():
    """An exact nearest upscale: the scale is read off the mask (``block_scale`` 4), none
    was given (``mask_scale`` None); ``mask_scale=1`` forces the pixels (1, 1)."""
    up = _nearest(_drawn())
    d = measure_grain_size(up, mask=True).to_dict()
    assert (d["mask_scale"], d["block_scale"]) == (None, S)
    d = measure_grain_size(up, mask=True, mask_scale=1).to_dict()
    assert (d["mask_scale"], d["block_scale"]) == (1, 1)


@pytest.fixture(scope="module")
def bilinear_png(bilinear, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("gs_mask_scale") / "bilinear_x4.png"
    Image.fromarray(bilinear.astype(np.uint8) * 255).save(path)
    return str(path)


def test_srmat_grain_size_mask_scale_is_the_library_keyword(bilinear_png, bilinear, capsys):
    """``--mask-scale`` was unknown to ``srmat grain-size`` (argparse exit 2). Now its row
    is ``measure_grain_size(mask=True, mask_scale=4)``'s, and the settings record it."""
    rc = main(["grain-size", bilinear_png, "--mask", "--mask-scale", str(S), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    row = out["images"][0]
    lib = measure_grain_size(bilinear, mask=True, mask_scale=S).to_dict()
    assert (row["mask_scale"], row["block_scale"]) == (S, S)
    assert row["mean_intercept_px"] == lib["mean_intercept_px"]
    assert out["settings"]["mask_scale"] == S
    rc = main(["grain-size", bilinear_png, "--mask", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert (out["images"][0]["mask_scale"], out["settings"]["mask_scale"]) == (None, None)
    assert out["images"][0]["mean_intercept_px"] != row["mean_intercept_px"]


def test_mask_scale_refused_where_it_would_not_apply(bilinear_png, capsys):
    """Without ``--mask`` (an image's boundaries are the model's): refused in one line,
    exit 2, before any model is loaded or file measured. With ``--method`` it is
    measure_field's ``mask_scale`` since 2026-12-07
    (tests/test_standards_mask_scale.py)."""
    rc = main(["grain-size", bilinear_png, "--mask-scale", "4"])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert "\n" not in err and "--mask-scale is for --mask " in err
    assert "Traceback" not in err


def test_a_bad_mask_scale_is_the_flag_rule_of_srmat_heyn(bilinear_png, capsys):
    """``cli.heyn.mask_scale_arg``: one line naming the flag, exit 2."""
    with pytest.raises(SystemExit) as e:
        main(["grain-size", bilinear_png, "--mask", "--mask-scale", "0"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--mask-scale" in err and "Traceback" not in err
