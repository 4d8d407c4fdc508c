"""``metrics.standards.measure_field(mask_scale=S)`` (and ``measure_specimen``, ``srmat
grain-size --mask --method ... --mask-scale S``): a field whose boundary mask was drawn
at 1 / S and upscaled is counted by the rule of ``measure_intercepts(mask_scale=S)``, and
its row records ``mask_scale`` and ``block_scale`` (docs/grain_size.md). Until
2026-12-07 ``measure_field`` had no such keyword and the command refused the flag with
``--method``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

# the 1 px mask as drawn (256², 24 px grains) and its x S upscales of the library test
from test_heyn_mask_scale_keyword import S, _drawn, _upscaled

from napari_srmat.cli import main
from napari_srmat.metrics.heyn import HeynError
from napari_srmat.metrics.standards import measure_field, measure_specimen


@pytest.fixture(scope="module")
def drawn() -> np.ndarray:
    return _drawn()


@pytest.fixture(scope="module")
def bilinear(drawn) -> np.ndarray:
    """The x4 bilinear upscale of the mask drawn (its scale cannot be read off it)."""
    return _upscaled(drawn, "bilinear")


@pytest.fixture(scope="module")
def bilinear_png(bilinear, tmp_path_factory) -> str:
    """It as a 0/255 PNG, as a user's upscaled mask file."""
    path = tmp_path_factory.mktemp("field_mask_scale") / "bilinear_x4.png"
    Image.fromarray(bilinear.astype(np.uint8) * 255).save(path)
    return str(path)


def test_a_field_given_its_mask_scale_reads_closer_to_the_mask_drawn(drawn, bilinear):
    """Random lines over the x4 bilinear upscale (µm at a quarter of the pixel size):
    without the scale the 2 px bridge counts the zig-zags of the thick oblique bands
    twice and ℓ̄ reads short (-3.4 % here); given ``mask_scale=4`` the bridge runs on
    4 x 4 blocks and ℓ̄ reads the field drawn within 2 % (-0.5 %)."""
    x1 = measure_field(drawn, pixel_size_um=1.0, pattern="random")["mean_intercept_um"]
    without = measure_field(bilinear, pixel_size_um=1.0 / S, pattern="random")
    given = measure_field(bilinear, pixel_size_um=1.0 / S, pattern="random", mask_scale=S)
    err_without = abs(without["mean_intercept_um"] / x1 - 1)
    err_given = abs(given["mean_intercept_um"] / x1 - 1)
    assert without["mean_intercept_um"] < x1
    assert err_given < 0.02, (x1, given["mean_intercept_um"])
    assert err_given < err_without, (err_given, err_without)


def test_the_field_row_records_the_mask_scale_and_the_rule_used(bilinear):
    """``mask_scale`` as given (None: not given) and ``block_scale`` the blocks the
    bridge ran on; the grid (the default pattern) has no tilted line to bridge, so its
    ``block_scale`` is 1 with the scale given too (``HeynResult.block_scale``)."""
    rows = {
        (pattern, scale): json.loads(
            json.dumps(measure_field(bilinear, pattern=pattern, n_lines=10, mask_scale=scale))
        )
        for pattern in ("random", "grid")
        for scale in (None, S)
    }
    got = {k: (r["mask_scale"], r["block_scale"]) for k, r in rows.items()}
    assert got == {
        ("random", None): (None, 1),
        ("random", S): (S, S),
        ("grid", None): (None, 1),
        ("grid", S): (S, 1),
    }


def test_measure_specimen_passes_the_mask_scale_to_every_field(bilinear):
    """A specimen of two fields measured with ``mask_scale=4``: each row is the one
    ``measure_field`` gives with it."""
    halves = [bilinear[:, :512], bilinear[:, 512:]]
    rep = measure_specimen(halves, pattern="random", n_lines=20, mask_scale=S)
    for half, row in zip(halves, rep["images"], strict=True):
        alone = measure_field(half, pattern="random", n_lines=20, mask_scale=S)
        assert (row["mask_scale"], row["block_scale"]) == (S, S)
        assert row["mean_intercept_px"] == alone["mean_intercept_px"]


@pytest.mark.parametrize("bad", [0, 2.5, "4"])
def test_a_bad_mask_scale_is_refused_in_one_line(bilinear, bad):
    """The rule of ``measure_intercepts`` (``heyn.check_mask_scale``): a HeynError
    (ValueError) of one line naming the keyword."""
    with pytest.raises(HeynError) as e:
        measure_field(bilinear, mask_scale=bad)
    assert "mask_scale" in str(e.value) and "\n" not in str(e.value)


def test_srmat_grain_size_method_takes_the_mask_scale(bilinear_png, bilinear, capsys):
    """``--mask --method intercept --mask-scale 4`` was refused (exit 2, "not applied by
    --method's field counts"). Now the field row is ``measure_field(mask_scale=4)``'s and
    records it, as the settings do."""
    rc = main(
        [
            "grain-size",
            bilinear_png,
            "--mask",
            "--method",
            "intercept",
            "--pattern",
            "random",
            "--lines",
            "20",
            "--mask-scale",
            str(S),
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    out = json.loads(captured.out)
    row = out["images"][0]
    lib = measure_field(bilinear, pattern="random", n_lines=20, mask_scale=S)
    assert (row["mask_scale"], row["block_scale"]) == (S, S)
    assert row["mean_intercept_px"] == lib["mean_intercept_px"]
    assert out["settings"]["mask_scale"] == S


def test_the_planimetric_method_refuses_a_mask_scale(bilinear):
    """The scale acts on the intercept count only: ``method="planimetric"`` (N_A, the grains
    counted) was measured the same with it but recorded ``mask_scale`` 4 (870d6edf)."""
    with pytest.raises(HeynError, match=r"^mask_scale acts on the intercept count only") as e:
        measure_field(bilinear, method="planimetric", mask_scale=S)
    assert "\n" not in str(e.value)
    with pytest.raises(HeynError, match=r"^mask_scale acts on the intercept count only"):
        measure_specimen([bilinear], method="planimetric", mask_scale=S)


def test_srmat_grain_size_planimetric_refuses_the_mask_scale(bilinear_png, capsys):
    """``--mask --method planimetric --mask-scale 4``: one line, exit 2, nothing measured."""
    rc = main(["grain-size", bilinear_png, "--mask", "--method", "planimetric", "--mask-scale",
               str(S), "--json"])  # fmt: skip
    captured = capsys.readouterr()
    assert rc == 2
    assert captured.out == ""
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "--mask-scale acts on the intercept count only" in err[0], err
