"""`srmat grain-size --method` applies the plain run's withhold decisions: a micrograph
whose grains are under-sampled or without grain structure gives no field value, and the specimen's
pooled figures come from the fields of its statistics only (s50 F2, F7, F11)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from PIL import Image

from napari_srmat.cli import main
from napari_srmat.grainsize import (
    FIELD_LONGER_NOTE,
    MAX_INTERCEPT_FIELD_FRACTION,
    NO_INTERVAL_NOTE,
    NO_STRUCTURE_NOTE,
    RANGE_NOTE,
    UNDERSAMPLED_NOTE,
    measure_grain_size,
)
from napari_srmat.io import png_bytes
from napari_srmat.metrics.standards import measure_field, summarize_fields
from napari_srmat.synth import generate_microstructure


@pytest.fixture(scope="module")
def model():
    from napari_srmat.edges import load_boundary_model

    return load_boundary_model()


def _micrograph(path, size: int, grain_px: float, seed: int) -> None:
    ms = generate_microstructure((size, size), mean_grain_size_px=grain_px, seed=seed)
    path.write_bytes(png_bytes(ms.image, pixel_size_um=0.5))


def _flat(path, size: int = 160) -> None:
    """A featureless micrograph: flat grey and noise (s50 F11)."""
    rng = np.random.default_rng(0)
    grey = np.clip(128 + rng.normal(0, 3, (size, size)), 0, 255).astype(np.uint8)
    path.write_bytes(png_bytes(grey, pixel_size_um=0.5))


def _method_json(capsys, *paths) -> tuple[int, dict]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = main(["grain-size", *map(str, paths), "--method", "intercept", "--json"])
    return rc, json.loads(capsys.readouterr().out)


def test_an_undersampled_field_is_left_out_of_the_specimen(tmp_path, capsys):
    """A micrograph of 4 px grains, which the plain run withholds ("too few pixels
    across to measure (under-sampled) ... no grain size is reported", exit 2), got a G
    with --method (14.3 at 512² in s50 F2) and entered the specimen beside a good field
    (G 12.6, %RA 997): its field now has no value and is left out as a map that is not
    a boundary map is, and its row carries the run's warnings (before: only the pixel
    note)."""
    _micrograph(tmp_path / "fine.png", 128, 4, 0)
    _micrograph(tmp_path / "good.png", 160, 20, 1)
    rc, out = _method_json(capsys, tmp_path / "fine.png", tmp_path / "good.png")
    assert rc == 0
    fine, good = out["images"]
    assert fine["astm_g"] is None and fine["intersections_per_mm"] is None
    assert fine["mean_intercept_um"] is None and fine["astm_g_ci95"] is None
    assert any(UNDERSAMPLED_NOTE in w for w in fine["warnings"]), fine["warnings"]
    assert any("outside the model's reliable range" in w for w in fine["warnings"])
    assert good["astm_g"] is not None
    s = out["summary"]
    assert s["n_fields"] == 2 and s["n_fields_in_statistics"] == 1
    assert "1 field(s) without a valid value are left out" in s["warnings"]
    assert s["astm_g"] == pytest.approx(good["astm_g"])
    # the pooled grain areas are the good field's only
    assert s["duplex"]["n_grains"] == len(good["grain_areas_um2"])


def test_a_withheld_field_row_reports_no_lists_ala_duplex_or_their_warnings(tmp_path, capsys):
    """R8 (s50): a withheld field row (4 px grains, under-sampled) still reported its
    intercepts, grain areas, ALA G, duplex test and warnings about them ("coarse
    grain(s) ... duplex likely"): they are empty / of no grains now, as its values are
    null; the run's reason stays."""
    _micrograph(tmp_path / "fine.png", 128, 4, 0)
    rc, out = _method_json(capsys, tmp_path / "fine.png")
    assert rc == 2
    fine = out["images"][0]
    assert fine["astm_g"] is None
    assert fine["intercepts_um"] == [] and fine["intercepts_px"] == []
    assert fine["grain_areas_um2"] == [] and fine["grain_areas_px2"] == []
    assert fine["ala"]["ala_g"] is None and fine["ala"]["n_coarse"] == 0
    assert fine["duplex"]["n_grains"] == 0 and fine["duplex"]["bimodal"] is None
    assert not any("coarse grain" in w or "duplex" in w for w in fine["warnings"]), fine["warnings"]
    assert any(UNDERSAMPLED_NOTE in w for w in fine["warnings"])


def test_a_featureless_field_is_not_measured(tmp_path, capsys):
    """Flat grey and noise read ℓ̄ 10.9 mm, G -10.2 with exit 0 (s50 F11), and with
    --method a field of N_L 0 that dragged the specimen: now withheld, "no grain
    structure found", exit 2 alone, as without --method."""
    _flat(tmp_path / "flat.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["grain-size", str(tmp_path / "flat.png"), "--json"]) == 2
    row = json.loads(capsys.readouterr().out)["images"][0]
    assert row["astm_g"] is None
    assert any(w.startswith(NO_STRUCTURE_NOTE) for w in row["warnings"]), row["warnings"]
    assert not any("outside E112's range" in w for w in row["warnings"])
    rc, out = _method_json(capsys, tmp_path / "flat.png")
    assert rc == 2
    field = out["images"][0]
    assert field["intersections_per_mm"] is None and field["astm_g"] is None
    assert any(w.startswith(NO_STRUCTURE_NOTE) for w in field["warnings"])
    assert out["summary"]["n_fields_in_statistics"] == 0


def _one_line_map(shape) -> np.ndarray:
    """A boundary map of one straight boundary across the field: ℓ̄ 1.2x the field's
    side (a field of two grains)."""
    m = np.zeros(shape, bool)
    m[:, shape[1] // 2] = True
    return m


def _stub_map(shape) -> np.ndarray:
    """A boundary map of one short stub near an edge: 4 crossings, ℓ̄ 11x the side."""
    m = np.zeros(shape, bool)
    m[:30, 20] = True
    return m


def _fake_predict(make_map):
    def fake_predict(x, model, stop):
        return np.where(make_map(x.shape[:2]), 0.9, 0.02).astype(np.float32)
        yield  # a generator, like _predict

    return fake_predict


def test_model_map_without_structure_is_withheld_a_mask_is_measured(model, monkeypatch):
    """The model's map of a stub in a 160 px field (ℓ̄ many times the field's side) is
    a failed measurement and withheld; the same map given as the user's mask is
    measured as it is (E112: a field inside one grain gives its N_L)."""
    import napari_srmat.grainsize as gs

    monkeypatch.setattr(gs, "_predict", _fake_predict(_stub_map))
    img = generate_microstructure((160, 160), mean_grain_size_px=20, seed=2).image
    r = measure_grain_size(img, model=model, pixel_size_um=0.5, inference_scale=1.0)
    assert r.n_crossings > 0 and r.mean_intercept_px is None and r.astm_g is None
    assert any(w.startswith(NO_STRUCTURE_NOTE) for w in r.warnings), r.warnings
    m = measure_grain_size(_stub_map((160, 160)), mask=True, pixel_size_um=0.5)
    assert m.mean_intercept_px > MAX_INTERCEPT_FIELD_FRACTION * 160 and m.astm_g is not None
    assert not any(w.startswith(NO_STRUCTURE_NOTE) for w in m.warnings)


def test_a_map_without_structure_keeps_one_reason_not_warnings_on_its_figure(model, monkeypatch):
    """R8 (s50): a withheld map kept the warnings on the figure no longer reported (its
    interval "no 95% interval ...", "ℓ̄ at inference scale is ... outside ...", its
    count): only the reason is left about it."""
    import napari_srmat.grainsize as gs

    monkeypatch.setattr(gs, "_predict", _fake_predict(_stub_map))
    img = generate_microstructure((160, 160), mean_grain_size_px=20, seed=2).image
    r = measure_grain_size(img, model=model, pixel_size_um=0.5, inference_scale=1.0)
    assert r.astm_g is None
    assert [w for w in r.warnings if w.startswith(NO_STRUCTURE_NOTE)] == [r.warnings[-1]]
    assert not any(w.startswith((NO_INTERVAL_NOTE, RANGE_NOTE)) for w in r.warnings), r.warnings
    assert not any("intersections: E112 asks" in w for w in r.warnings), r.warnings


def test_a_featureless_field_says_once_that_no_test_line_crosses(tmp_path, capsys):
    """R8 (s50): flat grey printed two warnings that both said no test line crosses
    (the lines' own and "no grain structure found: ..."): one now, the reason."""
    _flat(tmp_path / "flat.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["grain-size", str(tmp_path / "flat.png"), "--json"]) == 2
    row = json.loads(capsys.readouterr().out)["images"][0]
    crossing = [w for w in row["warnings"] if "no test line cross" in w]
    assert len(crossing) == 1 and crossing[0].startswith(NO_STRUCTURE_NOTE), row["warnings"]


def test_a_map_of_two_grains_is_measured_with_a_warning(model, monkeypatch):
    """One boundary across the field (ℓ̄ longer than the field, within
    MAX_INTERCEPT_FIELD_FRACTION of it) is a coarse field, not a failure: measured, told."""
    import napari_srmat.grainsize as gs

    monkeypatch.setattr(gs, "_predict", _fake_predict(_one_line_map))
    img = generate_microstructure((160, 160), mean_grain_size_px=20, seed=2).image
    r = measure_grain_size(img, model=model, pixel_size_um=0.5, inference_scale=1.0)
    assert r.mean_intercept_px > 160 and r.astm_g is not None
    assert not any(w.startswith(NO_STRUCTURE_NOTE) for w in r.warnings)
    assert any(w.startswith(FIELD_LONGER_NOTE) for w in r.warnings), r.warnings


def test_coarse_fields_with_crossings_stay_in_the_specimen(tmp_path, capsys):
    """R8 (s50): 192 px micrographs of 170 px grains read ℓ̄ longer than their side from
    tens of crossings and were withheld as "no grain structure found", pushing the
    specimen to smaller grains (8 fields: 71.9 µm from 6, old code 81.0, masks 86.4).
    Two of them (seeds 20 and 23) are kept now, each with the coarse-field warning."""
    paths = []
    for seed in (20, 23):
        paths.append(tmp_path / f"f{seed}.png")
        _micrograph(paths[-1], 192, 170, seed)
    rc, out = _method_json(capsys, *paths)
    assert rc == 0
    for field in out["images"]:
        assert field["astm_g"] is not None, field["warnings"]
        assert not any(w.startswith(NO_STRUCTURE_NOTE) for w in field["warnings"])
        assert any(w.startswith(FIELD_LONGER_NOTE) for w in field["warnings"])
    assert out["summary"]["n_fields_in_statistics"] == 2


def test_pooled_grain_areas_come_from_the_fields_in_the_statistics():
    """A mask that is not a boundary map (4 px grains, 84 % boundary) is left out of the
    mean, but its 698 grain areas were pooled into the specimen's duplex and ALA
    figures (s50 F7: a false duplex warning): now only the fields in the statistics."""
    bad = measure_field(
        generate_microstructure((256, 256), mean_grain_size_px=4, seed=0).boundaries,
        pixel_size_um=0.5,
    )
    good = measure_field(
        generate_microstructure((256, 256), mean_grain_size_px=24, seed=1).boundaries,
        pixel_size_um=0.5,
    )
    assert bad["intersections_per_mm"] is None and len(bad["grain_areas_um2"]) > 100
    s = summarize_fields([bad, good])
    assert s["n_fields_in_statistics"] == 1
    assert s["duplex"]["n_grains"] == len(good["grain_areas_um2"])
    alone = summarize_fields([good])
    assert s["ala"] == alone["ala"] and s["duplex"] == alone["duplex"]
    assert not any("bimodal" in w for w in s["warnings"]), s["warnings"]


def test_a_mask_of_one_grain_keeps_its_n_l_of_0(tmp_path, capsys):
    """Guard: a user's mask whose boundary no test line crosses is a field of N_L = 0
    (E112), not withheld as the model's empty map is."""
    m = np.zeros((128, 128), np.uint8)
    m[:3, :3] = 255  # boundary pixels in a corner, outside the test lines' margin
    Image.fromarray(m).save(tmp_path / "one.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main(
            [
                "grain-size",
                str(tmp_path / "one.png"),
                "--mask",
                "--method",
                "intercept",
                "--pixel-size-um",
                "0.5",
                "--json",
            ]
        )
    field = json.loads(capsys.readouterr().out)["images"][0]
    assert field["intersections_per_mm"] == 0
    assert not any(w.startswith(NO_STRUCTURE_NOTE) for w in field["warnings"])


def test_a_specimen_of_model_fields_says_its_interval_is_their_scatter_only():
    """Fields of a boundary model's maps: each field's interval holds the model's term
    (``model_log_terms``), the specimen's over fields only their scatter, which narrows
    as 1/sqrt(n) below the model's error (s50 F1: 5 fields, [17.30, 18.47] µm missed
    their truth 16.83 µm, with no warning). The summary now says so and names fields
    measured outside the model's reliable scale; fields of masks get no such warning."""
    maps = [
        generate_microstructure((192, 192), mean_grain_size_px=24, seed=s).boundaries
        for s in (1, 2, 3)
    ]
    model = [
        measure_field(m, pixel_size_um=0.5, model_log_terms=(0.4, 0.28), name=f"f{i}")
        for i, m in enumerate(maps)
    ]
    model[1]["warnings"].append("ℓ̄ at inference scale is 33.1 px, outside the model's range")
    assert model[0]["model_log_terms"] == [0.4, 0.28]
    s = summarize_fields(model)
    scatter = [w for w in s["warnings"] if "fields' scatter only" in w]
    assert len(scatter) == 1 and "-33 % / +32 %" in scatter[0], s["warnings"]
    assert any(w.startswith("field(s) f1 were measured outside") for w in s["warnings"])
    masks = summarize_fields([measure_field(m, pixel_size_um=0.5) for m in maps])
    assert not any("scatter only" in w or "outside" in w for w in masks["warnings"])


def test_an_unnamed_field_outside_the_model_s_scale_is_named_by_its_index_among_all():
    """The specimen's "measured outside the model's reliable scale" warning named an
    unnamed field by its index among the fields in the statistics (s50 W2: fields
    [withheld, a, b, c], b warned, told as field 1), every other warning by its index
    among all the fields: now 2, as the rows are numbered."""
    bad = measure_field(
        generate_microstructure((256, 256), mean_grain_size_px=4, seed=0).boundaries,
        pixel_size_um=0.5,
    )
    maps = [
        generate_microstructure((192, 192), mean_grain_size_px=24, seed=s).boundaries
        for s in (1, 2, 3)
    ]
    fields = [bad] + [
        measure_field(m, pixel_size_um=0.5, model_log_terms=(0.4, 0.28)) for m in maps
    ]
    for f in fields:
        f.pop("name", None)
    fields[2]["warnings"].append("ℓ̄ at inference scale is 33.1 px, outside the model's range")
    s = summarize_fields(fields)
    assert s["n_fields_in_statistics"] == 3
    told = [w for w in s["warnings"] if "were measured outside" in w]
    assert len(told) == 1 and told[0].startswith("field(s) 2 were"), s["warnings"]
