"""Error-probability maps of napari_srmat.edges.uncertainty."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import ndimage

from napari_srmat.edges.data import dilate_boundaries
from napari_srmat.edges.uncertainty import (
    DEFAULT_FEATURES,
    ECE_BINS,
    ErrorModelError,
    check_error_model,
    error_probability,
    expected_calibration_error,
    fit_error_model,
    naive_error_probability,
    pixel_errors,
    reliability_curve,
    roc_auc,
)
from napari_srmat.synth import generate_microstructure

THRESHOLD = 0.5


def _maps(seeds, size=128):
    """Ground truth (7 px wide boundaries) and a probability map with known mistakes.

    The map is a blurred, *over-confident* copy of the thin boundaries: faint where a
    smooth random field switches boundaries off (missed boundaries), with false blobs
    where another field switches noise on, and squashed towards 0/1 (so ``p`` is not
    calibrated and ``|p - t|`` alone ranks the mistakes imperfectly).
    """
    from skimage.morphology import skeletonize

    probs, masks = [], []
    for s in seeds:
        rng = np.random.default_rng(s)
        ms = generate_microstructure((size, size), mean_grain_size_px=24.0, seed=s)
        thin = skeletonize(np.asarray(ms.boundaries, bool))
        masks.append(dilate_boundaries(thin, 3))
        soft = ndimage.gaussian_filter(thin.astype(np.float64), 2.0)
        soft /= soft.max()
        keep = ndimage.gaussian_filter(rng.standard_normal((size, size)), 6)
        keep = keep > np.quantile(keep, 0.25)  # a quarter of the boundaries faint
        blobs = ndimage.gaussian_filter(rng.standard_normal((size, size)), 3)
        blobs = np.clip((blobs - np.quantile(blobs, 0.95)) * 20, 0, 0.8)
        logit = 10 * (soft * np.where(keep, 1.0, 0.3) + blobs - 0.25)
        p = 1 / (1 + np.exp(-logit)) + 0.02 * rng.standard_normal((size, size))
        probs.append(np.clip(p, 0, 1).astype(np.float32))
    return probs, masks


@pytest.fixture(scope="module")
def fitted():
    probs, masks = _maps(range(4))
    params = fit_error_model(probs, masks, THRESHOLD)
    return params, _maps([10, 11])


def test_error_map_detects_known_mistakes(fitted):
    params, (probs, masks) = fitted
    err = np.concatenate([pixel_errors(p, m, THRESHOLD).ravel() for p, m in zip(probs, masks)])
    assert 0.02 < err.mean() < 0.4  # the synthetic maps do make mistakes
    emap = np.concatenate([error_probability(p, params).ravel() for p in probs])
    rng = np.random.default_rng(0)
    auc = roc_auc(emap, err)
    random_auc = roc_auc(rng.random(err.size), err)
    # sigma-like noise: a smooth positive map unrelated to the mistakes
    sigma_like = np.concatenate([ndimage.gaussian_filter(rng.random(p.shape), 2).ravel()
                                 + 0.1 * p.ravel() for p in probs])
    assert abs(random_auc - 0.5) < 0.02
    assert auc > 0.8
    assert auc > random_auc + 0.25
    assert auc > roc_auc(sigma_like, err) + 0.2
    # the flip side: q itself (not 1 - q on predicted boundary) would not detect them
    naive = np.concatenate([naive_error_probability(p, THRESHOLD).ravel() for p in probs])
    assert auc > roc_auc(naive, err) + 0.05
    margin = np.concatenate([-np.abs(p.ravel() - THRESHOLD) for p in probs])
    assert auc > roc_auc(margin, err) + 0.05
    # and it is a probability: calibrated on held-out maps far better than the naive one
    assert expected_calibration_error(emap, err) < 0.5 * expected_calibration_error(naive, err)


def test_error_map_values_and_operating_point(fitted):
    params, (probs, _) = fitted
    p = probs[0]
    e = error_probability(p, params)
    assert e.dtype == np.float32 and e.shape == p.shape
    assert np.all((e >= 0) & (e <= 1))
    # the default operating point is the recorded threshold; predicted= wins over it
    assert params["threshold"] == THRESHOLD
    np.testing.assert_array_equal(e, error_probability(p, params, threshold=THRESHOLD))
    np.testing.assert_array_equal(e, error_probability(p, params, predicted=p >= THRESHOLD))
    flipped = error_probability(p, params, predicted=~(p >= THRESHOLD))
    np.testing.assert_allclose(flipped, 1 - e, atol=1e-6)
    # equal probabilities (ties) get equal error probabilities on each side
    tied = np.full((8, 8), 0.3, np.float32)
    assert np.unique(error_probability(tied, params)).size == 1


def test_ece_hand_computed():
    prob = np.array([0.05, 0.15, 0.95, 0.85, 0.5])
    hit = np.array([False, True, True, True, False])
    # ten bins: every value alone in its bin
    assert expected_calibration_error(prob, hit, 10) == pytest.approx(
        (0.05 + 0.85 + 0.05 + 0.15 + 0.5) / 5)
    # two bins: [0.05, 0.15] (mean 0.1, freq 0.5), [0.5, 0.85, 0.95] (mean 0.7667, freq 2/3)
    assert expected_calibration_error(prob, hit, 2) == pytest.approx(
        2 / 5 * 0.4 + 3 / 5 * abs(2.3 / 3 - 2 / 3))
    c = reliability_curve(prob, hit, 2)
    np.testing.assert_array_equal(c["count"], [2, 3])
    assert np.isnan(reliability_curve([1.0], [True], 4)["frequency"][0])  # 1.0: last bin
    assert reliability_curve([1.0], [True], 4)["count"][-1] == 1
    assert ECE_BINS == len(reliability_curve(prob, hit)["count"])
    assert expected_calibration_error([0.0, 1.0], [False, True]) == 0.0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_scores_that_are_not_numbers_are_refused_naming_them(bad):
    # NaN gave "'list' argument must have no negative elements" (ECE) or a silent nan
    # (ROC-AUC); inf was counted as a probability of 1
    with pytest.raises(ValueError, match="prob contains NaN or infinite"):
        expected_calibration_error([bad, 0.5], [True, False])
    with pytest.raises(ValueError, match="prob contains NaN or infinite"):
        reliability_curve([bad, 0.5], [True, False])
    with pytest.raises(ValueError, match="score contains NaN or infinite"):
        roc_auc([bad, 0.1, 0.3], [True, False, True])


@pytest.mark.parametrize("n_bins", [0, -3, 2.5, True])
def test_ece_bins_must_be_a_positive_integer(n_bins):
    # 0 gave a numpy error, 2.5 was silently 2 bins
    with pytest.raises(ValueError, match="n_bins must be an integer >= 1"):
        expected_calibration_error([0.2, 0.5], [True, False], n_bins)


def test_ece_of_nothing_is_not_a_perfect_calibration():
    assert np.isnan(expected_calibration_error([], []))  # was 0.0
    assert reliability_curve([], [], 3)["count"].tolist() == [0, 0, 0]
    assert expected_calibration_error([0.25], [False], 1) == 0.25


def test_roc_auc_ties_and_order():
    assert roc_auc([1, 2, 3, 4], [0, 0, 1, 1]) == 1.0
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    assert roc_auc([0.5] * 6, [0, 1, 0, 1, 1, 0]) == 0.5
    rng = np.random.default_rng(1)
    s = rng.integers(0, 5, 1000).astype(float)  # many ties
    y = rng.random(1000) < 0.3
    perm = rng.permutation(1000)
    assert roc_auc(s, y) == roc_auc(s[perm], y[perm])
    assert np.isnan(roc_auc([0.1, 0.2], [True, True]))


def test_params_json_round_trip(fitted):
    params, (probs, _) = fitted
    text = json.dumps(params)
    back = json.loads(text)
    assert back == params
    np.testing.assert_array_equal(error_probability(probs[0], back),
                                  error_probability(probs[0], params))
    assert check_error_model(back)["features"] == list(DEFAULT_FEATURES)


@pytest.mark.parametrize("change", [
    {"version": 99}, {"coef": []}, {"intercept": float("nan")}, {"features": ["bogus"]},
    {"columns": ["logit"]}, {"threshold": 1.5},
])
def test_bad_params_refused(fitted, change):
    params, (probs, _) = fitted
    with pytest.raises(ErrorModelError):
        error_probability(probs[0], {**params, **change})


def test_optional_inputs_required_and_used():
    probs, masks = _maps(range(2), size=64)
    rng = np.random.default_rng(3)
    sig = [rng.random(p.shape).astype(np.float32) for p in probs]
    dis = [np.abs(rng.normal(0, 0.05, p.shape)).astype(np.float32) for p in probs]
    params = fit_error_model(probs, masks, THRESHOLD,
                             features=("logit", "ridge", "smooth", "sigma", "tta"),
                             sigmas=sig, tta_disagreements=dis)
    with pytest.raises(ErrorModelError, match="sigma"):
        error_probability(probs[0], params)
    with pytest.raises(ErrorModelError, match="disagreement"):
        error_probability(probs[0], params, sigma=sig[0])
    e = error_probability(probs[0], params, sigma=sig[0], tta_disagreement=dis[0])
    assert e.shape == probs[0].shape and np.all(np.isfinite(e))
    with pytest.raises(ErrorModelError):
        fit_error_model(probs, masks[:1])
    with pytest.raises(ErrorModelError):
        fit_error_model(probs, [np.zeros_like(m) for m in masks])


_FIT_SCRIPT = """
import json, sys
sys.path.insert(0, {tests!r})
from test_uncertainty import _maps
from napari_srmat.edges.uncertainty import fit_error_model
probs, masks = _maps(range(2), size=64)
print(json.dumps(fit_error_model(probs, masks, 0.5, features=("logit", "ridge", "smooth"))))
"""


def test_fit_is_deterministic_across_thread_counts():
    """The same maps give the same parameters, whatever the BLAS/OpenMP thread count."""
    out = []
    for threads in ("1", "2"):
        env = {**os.environ, "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads,
               "MKL_NUM_THREADS": threads}
        script = _FIT_SCRIPT.format(tests=os.path.dirname(__file__))
        res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                             text=True, timeout=300, check=True)
        out.append(json.loads(res.stdout.strip().splitlines()[-1]))
    assert out[0] == out[1]
    probs, masks = _maps(range(2), size=64)
    again = fit_error_model(probs, masks, 0.5, features=("logit", "ridge", "smooth"))
    assert again == out[0]


def test_hinges_without_support_are_not_fitted():
    """Beyond the fitted probabilities the curve continues linearly (no tail wiggles)."""
    probs, masks = _maps(range(2), size=96)
    probs = [np.minimum(p, 0.9).astype(np.float32) for p in probs]  # logit <= 2.2
    params = fit_error_model(probs, masks, THRESHOLD, stride=1)
    coef = dict(zip(params["columns"], params["coef"]))
    assert coef["logit>3"] == coef["logit>4"] == coef["logit>6"] == 0.0
    s = np.log(np.concatenate([p.ravel() for p in probs]) / (1 - np.concatenate(
        [p.ravel() for p in probs])))
    assert np.sum(s > 0) >= 1000 and coef["logit>0"] != 0.0


# --- wiring: checkpoint config, BoundaryModel, predict_boundaries, export ----------------


def _tiny_checkpoint_with_val(tmp_path):
    import torch
    from PIL import Image

    from napari_srmat.checkpoint import save_checkpoint
    from napari_srmat.edges.model import UAEDNet, default_arch_config

    probs, masks = _maps(range(2), size=64)
    for sub in ("images", "masks"):
        (tmp_path / "val" / sub).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, m in enumerate(masks):
        img = (rng.random((64, 64, 3)) * 60).astype(np.uint8) + (m[..., None] * 150).astype(
            np.uint8)
        Image.fromarray(img).save(tmp_path / "val" / "images" / f"{i}.png")
        Image.fromarray((m * 255).astype(np.uint8)).save(tmp_path / "val" / "masks" / f"{i}.png")
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "ck", UAEDNet("tiny").state_dict(),
                    {**default_arch_config("tiny"), "threshold": 0.5})
    return tmp_path / "ck", tmp_path / "val"


def test_checkpoint_error_model_round_trip(tmp_path):
    from napari_srmat.checkpoint import CheckpointError
    from napari_srmat.edges.export import calibrate_error_model, main
    from napari_srmat.edges.infer import load_boundary_model, predict_boundaries

    ck, val = _tiny_checkpoint_with_val(tmp_path)
    model = load_boundary_model(ck, device="cpu")
    assert model.error_model is None
    img = (np.random.default_rng(1).random((64, 64, 3)) * 255).astype(np.uint8)
    with pytest.raises(CheckpointError, match="no error model"):
        predict_boundaries(img, model, tile=64, overlap=16, error_map=True)
    keys = calibrate_error_model(ck, val, modes=("none",))
    model = load_boundary_model(ck, device="cpu")
    assert model.error_model == keys["error_model"]["none"]
    assert json.loads((ck / "config.json").read_text())["error_model"]["none"] == \
        keys["error_model"]["none"]
    prob, unc, err = predict_boundaries(img, model, tile=64, overlap=16, error_map=True)
    assert err.shape == prob.shape and err.dtype == np.float32
    np.testing.assert_array_equal(err, model.error_probability(prob))
    np.testing.assert_array_equal(err, error_probability(prob, model.error_model,
                                                         predicted=model.binarize(prob)))
    # default output unchanged: two maps
    assert len(predict_boundaries(img, model, tile=64, overlap=16)) == 2
    # a folder: the third map is written beside the others, equal to the in-memory one
    paths = predict_boundaries(img, model, tile=64, overlap=16, error_map=True,
                               out=tmp_path / "out")
    assert [p.name for p in paths] == ["prob.ome.zarr", "uncertainty.ome.zarr",
                                       "error_probability.ome.zarr"]
    from napari_srmat.io import read_image

    on_disk = np.asarray(read_image(paths[2]).data)
    np.testing.assert_allclose(
        on_disk, model.error_probability(np.asarray(read_image(paths[0]).data)), atol=1e-6)
    np.testing.assert_allclose(np.asarray(read_image(paths[0]).data), prob, atol=1e-5)
    # the same call again: complete, nothing rewritten; without error_map it differs
    assert predict_boundaries(img, model, tile=64, overlap=16, error_map=True,
                              out=tmp_path / "out") == paths
    from napari_srmat.outputs import OutputExistsError

    with pytest.raises(OutputExistsError, match="error_model"):
        predict_boundaries(img, model, tile=64, overlap=16, out=tmp_path / "out")
    # block-by-block writing needs one threshold per image (the rule's, on the whole map)
    other = load_boundary_model(ck, device="cpu", threshold_rule="otsu_scaled",
                                threshold_params={"c": 1.4})
    paths2 = predict_boundaries(img, other, tile=64, overlap=16, error_map=True,
                                out=tmp_path / "out2")
    in_memory = predict_boundaries(img, other, tile=64, overlap=16, error_map=True)[2]
    np.testing.assert_allclose(np.asarray(read_image(paths2[2]).data), in_memory, atol=1e-6)
    closing = load_boundary_model(ck, device="cpu", threshold_rule="closing",
                                  threshold_params={"threshold": 0.5, "radius": 1})
    with pytest.raises(ValueError, match="one threshold per image"):
        predict_boundaries(img, closing, tile=64, overlap=16, error_map=True,
                           out=tmp_path / "out3")
    assert predict_boundaries(img, closing, tile=64, overlap=16, error_map=True)[2].shape == \
        prob.shape
    model.tta = "d4"  # not calibrated for d4
    assert model.error_model is None
    # the CLI path in place: config rewritten, weights untouched
    before = (ck / "model.safetensors").read_bytes()
    assert main([str(ck), "--error-model-only", str(val)]) == 0
    assert (ck / "model.safetensors").read_bytes() == before
    assert set(json.loads((ck / "config.json").read_text())["error_model"]) == {"none", "d4"}
    with pytest.raises(SystemExit):  # --error-model needs --calibrate
        main([str(ck), str(tmp_path / "dst"), "--error-model"])
    with pytest.raises(SystemExit):  # --error-model-only calibrates in place: no DST
        main([str(ck), str(tmp_path / "dst"), "--error-model-only", str(val)])
    assert not (tmp_path / "dst").exists()
    # damaged parameters are refused when the checkpoint is loaded
    cfg = json.loads((ck / "config.json").read_text())
    cfg["error_model"]["none"]["coef"] = cfg["error_model"]["none"]["coef"][:-1]
    (ck / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="error_model"):
        load_boundary_model(ck, device="cpu")
    cfg["error_model"] = {"bogus": {}}
    (ck / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="error_model"):
        load_boundary_model(ck, device="cpu")


def test_shipped_checkpoint_has_a_valid_error_model():
    from napari_srmat.edges.infer import load_boundary_model

    model = load_boundary_model(device="cpu")
    for mode in ("none", "d4"):
        model.tta = mode
        params = model.error_model
        assert params is not None and params["features"] == list(DEFAULT_FEATURES)
        assert params["threshold"] == pytest.approx(model.threshold, abs=1e-6)
        p = np.linspace(0, 1, 101, dtype=np.float32).reshape(1, -1)
        e = model.error_probability(p)
        # near the threshold a mistake is likeliest; confident background is rarely wrong
        assert e[0, 0] < 0.01 and e.max() > 0.3


def test_no_error_model_is_told_in_each_callers_words(tmp_path, capsys):
    """A Python caller is told the function that fits an error model, srmat edges predict
    --error-map the export command (the refusal told everyone the command before)."""
    from PIL import Image

    from napari_srmat.checkpoint import CheckpointError
    from napari_srmat.cli import main
    from napari_srmat.edges.infer import load_boundary_model

    ck, _ = _tiny_checkpoint_with_val(tmp_path)
    model = load_boundary_model(ck, device="cpu", tta="none")
    with pytest.raises(CheckpointError) as info:
        model.error_probability(np.zeros((4, 4), np.float32))
    assert str(info.value).endswith(
        "has no error model for tta='none'; fit one with "
        "napari_srmat.edges.export.calibrate_error_model(checkpoint, val_root)")
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / "a.png")
    rc = main(["edges", "predict", str(tmp_path / "a.png"), "--out", str(tmp_path / "out"),
               "--checkpoint", str(ck), "--tta", "none", "--device", "cpu", "--error-map"])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and "Traceback" not in err
    assert err.startswith("srmat edges predict: error: checkpoint ")
    assert err.endswith("has no error model for --tta none; fit one with python -m "
                        "napari_srmat.edges.export CHECKPOINT --error-model-only VAL_ROOT")


def test_cli_edges_predict_error_map(tmp_path, capsys):
    from PIL import Image

    from napari_srmat.cli import main
    from napari_srmat.io import read_image

    img = (np.random.default_rng(2).random((64, 64, 3)) * 255).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "a.png")
    out = tmp_path / "pred"
    rc = main(["edges", "predict", str(tmp_path / "a.png"), "--out", str(out), "--tile", "64",
               "--overlap", "16", "--tta", "none", "--device", "cpu", "--error-map", "--json"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    err = np.asarray(read_image(report["error_probability"]).data)
    assert err.shape == (64, 64) and np.all((err >= 0) & (err <= 1))
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [".srmat_output.json", "prob.ome.zarr", "uncertainty.ome.zarr",
         "error_probability.ome.zarr", "prob.png", "uncertainty.png"])
    # the folder's block-wise map equals the in-memory one at the default per-image rule
    from napari_srmat.edges import load_boundary_model, predict_boundaries

    model = load_boundary_model(device="cpu", tta="none")
    assert model.threshold_rule != "global"  # the shipped default is a per-image rule
    _, _, err_mem = predict_boundaries(img, model, tile=64, overlap=16, error_map=True)
    np.testing.assert_allclose(err, err_mem, atol=1e-6)
