"""A known upscale (an SR output's recorded factor f) of a field already at the model's
scale is measured at exactly 1 / f, the field's own pixels, so it reads the field's ℓ̄
(studies/grainsize_sr_consistency.py: the automatic scale of the SR itself moved ℓ̄ by
±10 % against its LR on tbm regions, explorer s50 F2)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from napari_srmat.grainsize import (
    GrainSizeError,
    automatic_inference_scale,
    known_upscale_scale,
    measure_grain_size,
)
from napari_srmat.io import Micrograph
from napari_srmat.synth import generate_microstructure

PX = 0.5


def _measure(image, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return measure_grain_size(image, **kw)


@pytest.fixture(scope="module")
def field():
    """A 256 px synthetic micrograph the model reads at its own scale, and its result."""
    lr = generate_microstructure((256, 256), mean_grain_size_px=48, seed=0).image
    r = _measure(lr, pixel_size_um=PX)
    assert r.inference_scale == 1.0  # the premise: the field is measured at scale 1
    return lr, r


def _sr_store(image: np.ndarray, factor: int) -> Micrograph:
    """The Micrograph ``read_image`` gives of an ``srmat sr run`` store of ``image``."""
    return Micrograph(
        data=image,
        pixel_size_um=PX / factor,
        metadata={"srmat": {"operation": "super_resolution", "model": "bicubic", "scale": factor}},
    )


@pytest.mark.parametrize("source", ["recorded", "given"])
@pytest.mark.parametrize("factor", [2, 4])
@pytest.mark.parametrize("kind", ["nearest", "bicubic"])
def test_known_upscale_measured_at_the_fields_pixels(field, factor, kind, source):
    lr, r_lr = field
    if kind == "nearest":
        up = np.repeat(np.repeat(lr, factor, 0), factor, 1)
    else:
        from napari_srmat.sr import load_model, super_resolve

        up = np.asarray(super_resolve(lr, load_model("bicubic", scale=factor, device="cpu")))
    if source == "recorded":  # a store's recorded factor
        r = _measure(_sr_store(up, factor))
    else:
        r = _measure(up, pixel_size_um=PX / factor, upscale_factor=factor)
    assert r.inference_scale == pytest.approx(1 / factor, abs=1e-12)
    assert r.to_dict()["upscale_factor"] == factor
    assert abs(r.mean_intercept_um / r_lr.mean_intercept_um - 1) < 0.02


def test_upscale_of_a_resampled_field_keeps_the_automatic_scale():
    """Guard (the rule applies only where the field itself is measured at scale 1): a
    field of small grains, measured enlarged, keeps its upscale's own automatic scale."""
    lr = generate_microstructure((256, 256), mean_grain_size_px=24, seed=0).image
    assert _measure(lr, pixel_size_um=PX).inference_scale > 1.5
    up = np.repeat(np.repeat(lr, 2, 0), 2, 1)
    r = _measure(up, pixel_size_um=PX / 2, upscale_factor=2)
    assert r.inference_scale == automatic_inference_scale(up)[0]


def test_given_factor_contradicting_the_recorded_one_is_refused(field):
    up = np.repeat(np.repeat(field[0], 2, 0), 2, 1)
    with pytest.raises(ValueError, match="records a x2 super-resolution"):
        _measure(_sr_store(up, 2), upscale_factor=4)


@pytest.mark.parametrize("bad", [0, 2.5, "2", True])
def test_bad_upscale_factor_is_one_line(field, bad):
    with pytest.raises(GrainSizeError, match="upscale_factor"):
        _measure(field[0], pixel_size_um=PX, upscale_factor=bad)


def test_upscale_factor_is_for_images(field):
    m = np.zeros((64, 64), bool)
    m[:, ::16] = True
    with pytest.raises(GrainSizeError, match="upscale_factor is for images"):
        _measure(m, mask=True, upscale_factor=2)


def _schema_rows() -> list[str]:
    """The rows of docs/grain_size.md's schema table of a result (``to_dict()``)."""
    from pathlib import Path

    text = (Path(__file__).parents[1] / "docs" / "grain_size.md").read_text(encoding="utf-8")
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| `mean_intercept_px` |"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def test_the_result_records_the_factor_it_was_measured_as(field):
    """``to_dict()`` had no ``upscale_factor``: a saved result of an SR measured at 1 / f
    could not tell that from one whose automatic scale happened to be 1 / f. Now the
    factor given or recorded is there (null without one, and for masks), with a row in
    the docs' schema table next to ``inference_scale``."""
    lr, r_lr = field
    up = np.repeat(np.repeat(lr, 2, 0), 2, 1)
    d = json.loads(json.dumps(_measure(_sr_store(up, 2)).to_dict()))
    assert (d["upscale_factor"], d["inference_scale"]) == (2, 0.5)
    assert r_lr.upscale_factor is None and r_lr.to_dict()["upscale_factor"] is None
    m = np.zeros((64, 64), bool)
    m[:, ::16] = True
    assert _measure(m, mask=True).to_dict()["upscale_factor"] is None
    rows = _schema_rows()
    keys = [row.split("|")[1].strip() for row in rows]
    assert keys.index("`upscale_factor`") == keys.index("`inference_scale`") + 1


def test_every_key_of_the_result_has_a_row_in_the_schema_table(field):
    """Guard (passed before but for ``upscale_factor``): each ``to_dict()`` key is named
    in the docs' schema table (``n_intercepts``, deprecated, in ``n_crossings``'s row)."""
    table = "\n".join(_schema_rows())
    assert [k for k in field[1].to_dict() if f"`{k}`" not in table] == []


def test_an_upscale_whose_window_cannot_judge_its_grains_keeps_the_automatic_scale():
    """A 3072² field of ~700 px grains is measured at scale ~0.06 on its whole extent,
    but the upscale's central window brought back ÷ 2 holds only ~3.3 grains across:
    no estimate, scale 1 by default, and the rule ran the ×2 upscale at 1/2 (s50 R9:
    ℓ̄ -48 % against the field, with a false "native-sharp" warning). Such a window
    says nothing of the field: the upscale keeps its own automatic scale."""
    lr = generate_microstructure((3072, 3072), mean_grain_size_px=700, seed=0).image
    up = np.repeat(np.repeat(lr, 2, 0), 2, 1)
    assert known_upscale_scale(up, 2) is None
