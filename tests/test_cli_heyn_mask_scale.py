"""``srmat heyn --mask-scale S`` and ``measure_grain_size(mask=True, mask_scale=S)``: the
scale of an upscaled mask given by the user (``metrics.heyn.measure_intercepts``'
``mask_scale``, docs/heyn.md "Upscaled masks"), recorded in the JSON; a bad value is
one line and exit 2 by ``check_mask_scale``'s rule."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

# the 1 px mask as drawn (256², 24 px grains) and its x S upscales of the library test
from test_heyn_mask_scale_keyword import S, _drawn, _upscaled

from napari_srmat.cli import main
from napari_srmat.grainsize import GrainSizeError, measure_grain_size
from napari_srmat.metrics.heyn import BLOCK_SCALE_MAX, HeynError, check_mask_scale


def _bilinear(mask: np.ndarray) -> np.ndarray:
    """PIL's x4 bilinear resize of the 0/255 mask, thresholded at 128 (not constant on
    4 x 4 blocks: its scale cannot be read off it)."""
    return _upscaled(mask, "bilinear")


@pytest.fixture(scope="module")
def masks(tmp_path_factory) -> dict[str, str]:
    """The mask as drawn (x1) and its x4 bilinear upscale, as PNGs without a pixel size."""
    d = tmp_path_factory.mktemp("mask_scale")
    m = _drawn()
    paths = {"x1": d / "drawn.png", "x4": d / "bilinear_x4.png"}
    Image.fromarray(m.astype(np.uint8) * 255).save(paths["x1"])
    Image.fromarray(_bilinear(m).astype(np.uint8) * 255).save(paths["x4"])
    return {k: str(v) for k, v in paths.items()}


def _typed(text: str):
    """The value the flag's text stands for (an int, else a float, else the text)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _json(capsys, argv: list[str]) -> tuple[int, dict]:
    rc = main(["heyn", *argv, "--json"])
    return rc, json.loads(capsys.readouterr().out)


def test_mask_scale_brings_a_bilinear_upscale_to_the_mask_drawn(masks, capsys):
    """``--mask-scale`` was unknown (argparse exit 2), so a x4 bilinear upscale could
    only be measured with the 2 px bridge, which counts the zig-zags of its thick
    oblique bands twice: ℓ̄ / 4 short of the mask drawn. Given ``--mask-scale 4`` the
    bridge runs on 4 x 4 blocks (``block_scale`` 4) and ℓ̄ / 4 is closer to the x1
    mask's; the value given is in the row and the pooled object."""
    rc, x1 = _json(capsys, [masks["x1"]])
    assert rc == 0
    rc, without = _json(capsys, [masks["x4"]])
    assert rc == 0
    rc, given = _json(capsys, [masks["x4"], "--mask-scale", "4"])
    assert rc == 0
    ell = x1["mean_intercept_px"]
    ell_without = without["mean_intercept_px"] / S
    ell_given = given["mean_intercept_px"] / S
    assert ell_without < ell  # the 2 px bridge on the pixels reads short
    assert abs(ell_given / ell - 1) < abs(ell_without / ell - 1), (ell, ell_without, ell_given)
    assert abs(ell_given / ell - 1) < 0.03
    (row,) = given["per_image"]
    assert (row["block_scale"], row["mask_scale"], given["mask_scale"]) == (S, S, S)
    (row,) = without["per_image"]
    assert (row["block_scale"], row["mask_scale"], without["mask_scale"]) == (1, None, None)


def test_mask_scale_one_is_the_2px_bridge_on_the_pixels(masks, capsys):
    """``--mask-scale 1``: the bridge on the pixels, no detection; on a mask drawn at x1
    the same count as the default."""
    _, default = _json(capsys, [masks["x1"]])
    _, one = _json(capsys, [masks["x1"], "--mask-scale", "1"])
    assert one["mask_scale"] == 1 and one["per_image"][0]["block_scale"] == 1
    assert one["intersection_count"] == default["intersection_count"]


@pytest.mark.parametrize("value", ["0", str(BLOCK_SCALE_MAX + 1), "2.5", "four", "-4"])
def test_a_bad_mask_scale_is_one_line_and_exit_2(masks, capsys, value):
    """Refused before any mask is read, in check_mask_scale's words with the flag."""
    with pytest.raises(SystemExit) as exc:
        main(["heyn", masks["x1"], f"--mask-scale={value}"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [ln for ln in err.splitlines() if "error" in ln]
    assert "--mask-scale" in line
    with pytest.raises(HeynError) as rule:
        check_mask_scale(_typed(value))
    assert str(rule.value) in line


def test_measure_grain_size_takes_mask_scale_for_masks(masks):
    """``measure_grain_size(mask=True)`` built its Heyn keywords without ``mask_scale``
    (TypeError: a notebook could not give the scale of an upscaled mask). Given, a x4
    bilinear upscale (thinned, the mask path's default) reads closer to the drawn mask."""
    m = _drawn()
    up = _bilinear(m)
    x1 = measure_grain_size(m, mask=True, pixel_size_um=1.0).mean_intercept_um
    without = measure_grain_size(up, mask=True, pixel_size_um=1.0 / S).mean_intercept_um
    given = measure_grain_size(up, mask=True, pixel_size_um=1.0 / S, mask_scale=S).mean_intercept_um
    assert abs(given / x1 - 1) < abs(without / x1 - 1), (x1, without, given)


def test_measure_grain_size_refuses_mask_scale_for_an_image_and_bad_values():
    """An image's boundaries are the model's map at the inference scale, not a mask drawn
    at 1 / S: refused before the model is loaded, as ``inference_scale`` for a mask."""
    img = np.random.default_rng(0).random((64, 64))
    with pytest.raises(GrainSizeError, match="mask_scale"):
        measure_grain_size(img, mask_scale=S)
    with pytest.raises(HeynError, match="mask_scale"):
        measure_grain_size(_drawn(), mask=True, mask_scale=BLOCK_SCALE_MAX + 1)
