"""SR fidelity metrics (``napari_srmat.metrics.sr``) and ``srmat sr eval``: known answers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from napari_srmat.metrics import sr as m


def _micrograph(size: int = 96, seed: int = 1) -> np.ndarray:
    """A synthetic micrograph as float64 RGB squeezed into [0.2, 0.8] (no clipping)."""
    from napari_srmat.synth import generate_microstructure

    img = generate_microstructure((size, size), mean_grain_size_px=18, seed=seed).image
    return 0.2 + 0.6 * img.astype(np.float64) / 255.0


# --------------------------------------------------------------------------- Y channel
def test_rgb_to_y_matches_bt601_by_hand():
    # Y = 16 + 65.481 R + 128.553 G + 24.966 B (R, G, B in [0, 1]), on the 0..255 scale
    px = np.array([[[0.2, 0.4, 0.6]]])
    by_hand = 16 + 65.481 * 0.2 + 128.553 * 0.4 + 24.966 * 0.6  # 95.497
    assert m.rgb_to_y(px)[0, 0] * 255 == pytest.approx(95.497, abs=1e-9)
    assert m.rgb_to_y(px)[0, 0] * 255 == pytest.approx(by_hand, abs=1e-12)
    # uint8 input goes through the package's float rule: pure red, white, black
    rgb8 = np.array([[[255, 0, 0], [255, 255, 255], [0, 0, 0]]], dtype=np.uint8)
    assert np.allclose(m.rgb_to_y(rgb8)[0] * 255, [81.481, 235.0, 16.0], atol=1e-9)
    # grey = R = G = B: 16 + 219 v
    grey = np.array([[0.0, 0.5, 1.0]])
    assert np.allclose(m.rgb_to_y(grey)[0] * 255, [16.0, 125.5, 235.0], atol=1e-9)
    assert np.allclose(m.rgb_to_y(np.repeat(grey[..., None], 3, axis=2)), m.rgb_to_y(grey))


# --------------------------------------------------------------------------- PSNR / SSIM
def test_identical_images_give_inf_psnr_and_unit_ssim():
    hr = _micrograph()
    res = m.evaluate_sr_pair(hr, hr.copy(), 4)
    assert res["psnr_y"] == math.inf
    assert res["ssim_y"] == pytest.approx(1.0, abs=1e-12)
    assert res["essim"] == pytest.approx(1.0, abs=1e-12)
    assert res["ldl_mean"] == 0.0 and res["noref_ldl_mean"] == 0.0
    assert not res["domain_shift"]["shifted"]


def test_known_error_gives_the_expected_psnr():
    hr = _micrograph()
    d = 0.01
    sign = np.where((np.indices(hr.shape[:2]).sum(0) % 2) == 0, 1.0, -1.0)[..., None]
    sr = hr + d * sign  # every channel off by +-d: the Y error is exactly 219/255 * d
    expected = -20 * math.log10(219 / 255 * d)  # 41.32 dB
    assert m.evaluate_sr_pair(hr, sr, 4)["psnr_y"] == pytest.approx(expected, abs=1e-6)
    # Gaussian noise of sigma on a grey image: PSNR_y = -20 log10(219/255 sigma) +- sampling
    grey = hr[..., 0]
    rng = np.random.default_rng(0)
    sigma = 0.02
    noisy = grey + rng.normal(0, sigma, grey.shape)
    assert m.evaluate_sr_pair(grey, noisy, 2)["psnr_y"] == pytest.approx(
        -20 * math.log10(219 / 255 * sigma), abs=0.15)


def test_border_of_scale_pixels_is_cropped():
    hr = _micrograph()
    sr = hr.copy()
    sr[:4] = 1.0 - sr[:4]  # wrong only within the 4 px border
    sr[:, -4:] = 0.0
    res = m.evaluate_sr_pair(hr, sr, 4)
    assert res["psnr_y"] == math.inf and res["ssim_y"] == pytest.approx(1.0)
    assert m.evaluate_sr_pair(hr, sr, 2)["psnr_y"] < 30  # a 2 px border keeps the error


def test_ssim_and_essim_drop_for_blur_and_essim_ignores_brightness():
    from scipy import ndimage as ndi

    hr = _micrograph()
    blurred = ndi.gaussian_filter(hr, (2, 2, 0))
    res = m.evaluate_sr_pair(hr, blurred, 4)
    assert res["ssim_y"] < 0.9 and res["essim"] < 0.9
    brighter = hr + 0.1  # stays within [0, 1]: the edges do not change at all
    assert m.evaluate_sr_pair(hr, brighter, 4)["essim"] == pytest.approx(1.0, abs=1e-12)


# --------------------------------------------------------------------------- LDL maps
def test_ldl_map_marks_a_synthetic_artifact_region():
    hr = _micrograph(128)
    rng = np.random.default_rng(3)
    sr = hr.copy()
    sr[40:72, 60:92] += rng.normal(0, 0.05, (32, 32, 3))  # artifact: noisy wrong detail
    ldl = m.ldl_map(hr, sr)
    assert ldl.shape == (128, 128) and ldl.dtype == np.float32
    inside = ldl[43:69, 63:89].mean()
    outside = np.delete(ldl, np.s_[34:78], axis=0).mean()
    assert inside > 0 and outside < 1e-6 * inside  # zero up to rounding
    peak = np.unravel_index(np.argmax(ldl), ldl.shape)
    assert 37 <= peak[0] < 75 and 57 <= peak[1] < 95
    # a smooth error (a Gaussian bump, peak 0.05) scores far lower than the noisy one
    yy, xx = np.indices((128, 128))
    bump = 0.05 * np.exp(-((yy - 56) ** 2 + (xx - 76) ** 2) / (2 * 10.0**2))
    smooth = hr + bump[..., None]
    assert m.ldl_map(hr, smooth).mean() < 0.1 * ldl.mean()


def test_noref_map_marks_an_inconsistent_region_without_hr():
    from napari_srmat.audit import bicubic_degrade

    hr = _micrograph(128)
    lr = bicubic_degrade(hr, 4)
    rng = np.random.default_rng(4)
    sr = hr.copy()
    # in-band artifact: random 4x4 blocks (LR-visible) in one region
    blocks = np.kron(rng.normal(0, 0.08, (8, 8, 1)), np.ones((4, 4, 3)))
    sr[64:96, 32:64] += blocks
    noref = m.ldl_map_noref(lr, sr, 4)
    assert noref.shape == (128, 128)
    inside = noref[68:92, 36:60].mean()
    far = noref[:48].mean()
    assert inside > 20 * far
    # the clean HR is consistent with its own bicubic LR: a near-zero map
    assert m.ldl_map_noref(lr, hr, 4).mean() < 0.01 * noref.mean()


# --------------------------------------------------------------------------- domain shift
def test_domain_shift_fires_on_brightened_and_contrast_stretched_sr_only():
    from napari_srmat.audit import bicubic_degrade

    hr = _micrograph()
    lr = bicubic_degrade(hr, 4)
    rng = np.random.default_rng(5)
    clean = np.clip(hr + rng.normal(0, 0.01, hr.shape), 0, 1)
    ok = m.domain_shift(lr, clean, 4)
    assert not ok["shifted"] and ok["warning"] is None
    bright = m.domain_shift(lr, hr + 0.1, 4)
    assert bright["shifted"] and "brightness" in bright["warning"]
    assert bright["mean_shift"] == pytest.approx(0.1 * 219 / 255, abs=1e-3)
    mean = hr.mean()
    stretched = m.domain_shift(lr, mean + 1.5 * (hr - mean), 4)
    assert stretched["shifted"] and "contrast" in stretched["warning"]
    assert stretched["std_ratio"] == pytest.approx(1.5, abs=0.01)


def test_domain_shift_of_a_uniform_input_is_not_a_huge_ratio():
    """A flat LR (a black or grey HR) resampled has a std of float rounding (~1e-8): an SR
    image with texture gave "contrast (std) x7599054.61" (grey 100) or "xinf" (black);
    a flat SR of it is no contrast change at all."""
    flat = np.full((64, 64), 100 / 255.0)
    rng = np.random.default_rng(0)
    noisy = np.clip(flat + rng.normal(0, 0.05, flat.shape), 0, 1)
    for level in (0.0, 100 / 255.0):
        lr = np.full((16, 16), level)
        d = m.domain_shift(lr, np.full((64, 64), level), 4)
        assert d["std_ratio"] == 1.0 and not d["shifted"]
        d = m.domain_shift(lr, np.clip(noisy - flat + level, 0, 1), 4)
        assert math.isinf(d["std_ratio"]) and d["shifted"]
        assert "on a uniform input" in d["warning"] and "x" + "inf" not in d["warning"]


def test_cli_json_is_strict_json_without_nan_or_infinity(tmp_path, capsys):
    """`srmat sr eval --json` of a black HR printed "std_ratio": Infinity (not JSON:
    `jq` and json.loads(strict) refuse it); every --json output is strict now."""
    from napari_srmat.cli import main, print_json

    black = np.zeros((64, 64))
    rng = np.random.default_rng(0)
    hr_p = _png(tmp_path / "black.png", black)
    sr_p = _png(tmp_path / "noise.png", rng.uniform(0, 1, black.shape))
    assert main(["sr", "eval", hr_p, sr_p, "--json"]) == 0
    out = capsys.readouterr().out

    def refuse(token):
        raise ValueError(token)

    d = json.loads(out, parse_constant=refuse)
    assert d["domain_shift"]["std_ratio"] is None and d["domain_shift"]["shifted"]
    print_json({"a": np.float32("nan"), "b": np.array([1.0, np.inf]), "c": (-math.inf,)})
    assert json.loads(capsys.readouterr().out, parse_constant=refuse) == {
        "a": None, "b": [1.0, None], "c": [None]}


@pytest.mark.parametrize("which", ["hr", "sr", "lr"])
def test_nan_or_inf_pixels_are_refused_not_scored(tmp_path, capsys, which):
    """`srmat sr eval nan.tif nan.tif` printed psnr_y nan, ssim_y nan, ... and exited 0:
    a float image with NaN or Inf pixels has no fidelity; it is refused (exit 2, one
    line naming which image), as every other command refuses such pixels."""
    import tifffile

    from napari_srmat.cli import main

    img = _micrograph(64)[..., 0].astype(np.float32)
    bad = img.copy()
    bad[4, 8] = np.nan if which != "sr" else np.inf  # on the LR grid too
    for name, arr in (("good", img), ("bad", bad), ("lr_good", img[::4, ::4]),
                      ("lr_bad", bad[::4, ::4])):
        tifffile.imwrite(tmp_path / f"{name}.tif", arr)
    hr, sr = ("bad" if which == "hr" else "good"), ("bad" if which == "sr" else "good")
    hr_p, sr_p = str(tmp_path / f"{hr}.tif"), str(tmp_path / f"{sr}.tif")
    argv = ["sr", "eval", hr_p, _copy(sr_p) if sr_p == hr_p else sr_p]  # one file: refused
    if which == "lr":
        argv += ["--lr-image", str(tmp_path / "lr_bad.tif")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    bad_p = tmp_path / ("lr_bad.tif" if which == "lr" else "bad.tif")
    assert err.startswith(f"srmat sr eval: error: {which} {bad_p} has NaN or Inf pixels")
    with pytest.raises(ValueError, match=f"^{which} has NaN or Inf pixels"):
        m.evaluate_sr_pair(bad if which == "hr" else img, bad if which == "sr" else img, 4,
                           lr=bad[::4, ::4] if which == "lr" else None)


def test_evaluation_records_the_degradation_recipe_and_checks_shapes():
    hr = _micrograph()
    recipe = {"recipe": {"mode": "classical"}, "source": "--degradation"}
    assert m.evaluate_sr_pair(hr, hr, 4, degradation=recipe)["degradation"] == recipe
    with pytest.raises(ValueError, match="shapes differ.*must be the size of its reference"):
        m.evaluate_sr_pair(hr, hr[:64], 4)
    # a grey HR and a colour SR of the same size were told "must be the size of its
    # reference"
    grey, colour = (hr, np.repeat(hr[..., None], 3, -1)) if hr.ndim == 2 else (hr[..., 0], hr)
    for pair in ((grey, colour), (colour, grey)):
        with pytest.raises(ValueError, match=r"differ: .*\(one is grey, the other colour"):
            m.evaluate_sr_pair(*pair, 4)
    assert m.degradation_recipe({"model": "bicubic", "checkpoint": None}) is None
    rec = m.degradation_recipe({"model": "cnn", "degradation": {"mode": "realesrgan"}})
    assert rec["recipe"] == {"mode": "realesrgan"}


# --------------------------------------------------------------------------- CLI
def _png(path, arr):
    from PIL import Image

    from napari_srmat.io import to_uint8

    Image.fromarray(to_uint8(arr)).save(path)
    return str(path)


def _copy(path) -> str:
    """Another file with the same bytes (one file given as both HR and SR is refused)."""
    import shutil

    copy = Path(path).with_name(f"copy of {Path(path).name}")
    shutil.copyfile(path, copy)
    return str(copy)


def test_sr_eval_is_its_own_action_not_sr_run():
    from napari_srmat.cli.sr import build_sr_parser

    args = build_sr_parser().parse_args(["eval", "hr.png", "sr.png", "--scale", "2"])
    assert args.sr_action == "eval" and args.hr == "hr.png" and args.sr == "sr.png"
    assert args.scale == 2 and args.func.__name__ == "_eval"


def test_sr_eval_names_the_lr_image_unlike_the_learning_rate(capsys):
    """`--lr` was the LR image in `srmat sr eval` and the learning rate in the training
    commands. The image is `--lr-image`; `--lr` still gives it, with a one-line note, and
    is not in the help."""
    import argparse

    from napari_srmat.cli.sr import build_sr_parser

    parser = build_sr_parser()
    args = parser.parse_args(["eval", "hr.png", "sr.png", "--lr-image", "lr.png"])
    assert args.lr_image == "lr.png" and capsys.readouterr().err == ""
    old = parser.parse_args(["eval", "hr.png", "sr.png", "--lr", "lr.png"])
    assert vars(old) == vars(args)
    assert capsys.readouterr().err == (
        "srmat sr eval: warning: --lr is deprecated here: give --lr-image (--lr is the "
        "learning rate of the training commands)\n")
    assert parser.parse_args(["eval", "hr.png", "sr.png"]).lr_image is None
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    shown = subs.choices["eval"].format_help()
    assert "--lr-image LR" in shown and "--lr " not in shown
    assert parser.parse_args(["train", "--out", "o", "--lr", "0.5"]).lr == 0.5


@pytest.mark.parametrize("order", [("--lr", "--lr-image"), ("--lr-image", "--lr")])
def test_sr_eval_refuses_the_lr_image_given_twice(capsys, order):
    """`srmat sr eval HR SR --lr A --lr-image B` (a script that added the new name but kept
    the old one) scored whichever came last, A or B by their order, silently. Both are one
    option: refused in one line, exit 2."""
    from napari_srmat.cli import main

    argv = ["sr", "eval", "hr.png", "sr.png", order[0], "a.png", order[1], "b.png"]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error == (f"srmat sr eval: error: argument {order[1]}: not allowed with argument "
                     f"{order[0]} (see `srmat sr eval --help`)")


def test_cli_sr_eval_json_maps_and_errors(tmp_path, capsys):
    pytest.importorskip("torch")
    from napari_srmat.cli import main
    from napari_srmat.io import read_image

    hr = _micrograph()
    hr_p = _png(tmp_path / "hr.png", hr)
    bright_p = _png(tmp_path / "bright.png", hr + 0.15)
    rc = main(["sr", "eval", hr_p, _copy(hr_p), "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["psnr_y"] is None and out["identical"] is True and out["ssim_y"] == 1.0
    assert out["degradation"]["recipe"] is None and out["scale"] == 4
    # a brightened SR: warning on stderr, recipe given on the command line, map written
    ldl = tmp_path / "ldl.tif"
    rc = main(["sr", "eval", hr_p, bright_p, "--scale", "2", "--degradation", "bicubic",
               "--ldl-map", str(ldl), "--json"])
    assert rc == 0
    cap = capsys.readouterr()
    out = json.loads(cap.out)
    assert "brightness" in cap.err and out["domain_shift"]["shifted"]
    # named like every command's warnings (it was a bare "warning: ...")
    assert [ln for ln in cap.err.splitlines() if "brightness" in ln][0].startswith(
        "srmat sr eval: warning: ")
    assert out["degradation"] == {"recipe": {"mode": "bicubic"}, "source": "--degradation"}
    assert out["border"] == 2 and out["maps"]["ldl_map"] == str(ldl)
    assert tuple(read_image(ldl).data.shape) == (96, 96)
    # the map is not overwritten without --overwrite; mismatched shapes and a bad recipe
    # are one-line errors
    assert main(["sr", "eval", hr_p, bright_p, "--ldl-map", str(ldl)]) == 2
    err = capsys.readouterr().err
    assert "exists" in err and "--overwrite" in err
    small_p = _png(tmp_path / "small.png", hr[:64])
    assert main(["sr", "eval", hr_p, small_p]) == 2
    err = capsys.readouterr().err
    assert "shapes differ" in err and len(err.strip().splitlines()) == 1
    assert main(["sr", "eval", hr_p, bright_p, "--degradation", "{bad"]) == 2
    assert main(["sr", "eval", hr_p, bright_p, "--degradation", '{"bogus": 1}']) == 2
    assert "unexpected keyword argument 'bogus'" in capsys.readouterr().err


def test_cli_sr_eval_reads_scale_and_recipe_from_sr_run_output(tmp_path, capsys):
    pytest.importorskip("torch")
    from napari_srmat.audit import bicubic_degrade
    from napari_srmat.cli import main

    hr = _micrograph()
    hr_p = _png(tmp_path / "hr.png", hr)
    lr_p = _png(tmp_path / "lr.png", bicubic_degrade(hr, 4))
    out = tmp_path / "sr.zarr"
    # the shipped cnn: its checkpoint records the bicubic training degradation
    assert main(["sr", "run", lr_p, str(out), "--tile", "64", "--overlap", "21"]) == 0
    capsys.readouterr()
    assert main(["sr", "eval", hr_p, str(out), "--lr-image", lr_p, "--json"]) == 0
    said, err = capsys.readouterr()
    res = json.loads(said)
    assert res["scale"] == 4 and res["scale_source"] == "sr output metadata"
    assert res["degradation"]["recipe"] == {"mode": "bicubic"}
    assert "checkpoint" in res["degradation"]["source"]
    assert res["lr_source"] == "given" and 25 < res["psnr_y"] < 60
    assert "deprecated" not in err
    # --lr (the learning rate of the training commands) still works, with a note
    assert main(["sr", "eval", hr_p, str(out), "--lr", lr_p, "--json"]) == 0
    said, err = capsys.readouterr()
    assert json.loads(said) == res
    assert err.splitlines()[0] == (
        "srmat sr eval: warning: --lr is deprecated here: give --lr-image (--lr is the "
        "learning rate of the training commands)")


@pytest.mark.parametrize("scale", [1, 2, 3, 4, 8])
def test_too_small_pair_is_refused_with_its_own_size(scale):
    """A pair too small to evaluate was refused with the shape left after cropping to a
    multiple of the scale (``image (0, 0) is too small to crop a 4 px border`` for a 3 x 3
    image), or by SSIM's window (``got (4, 4)`` for 12 x 12): it is now refused with its
    own size and the least one, which is exactly the smallest side evaluated."""
    from napari_srmat.io import ImageSizeError

    rng = np.random.default_rng(0)
    least = scale * math.ceil((m.SSIM_MIN_SIDE + 2 * scale) / scale)
    small = rng.random((least - 1, least + 5))
    with pytest.raises(ImageSizeError, match=rf"each image is {least - 1} x {least + 5} px, "
                                             rf".*x{scale}.*\({least} px\)"):
        m.evaluate_sr_pair(small, small, scale)
    fits = rng.random((least, least))
    assert m.evaluate_sr_pair(fits, fits, scale)["scale"] == scale


def test_cli_too_small_pair_names_the_files(tmp_path, capsys):
    from PIL import Image

    from napari_srmat.cli import main

    path = tmp_path / "three.png"
    Image.fromarray(np.zeros((3, 3), np.uint8)).save(path)
    copy = _copy(path)
    assert main(["sr", "eval", str(path), copy]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"srmat sr eval: error: {path} and {copy}: each image is 3 x 3 px")
    assert "(0, 0)" not in err and err.count("\n") == 1
    assert err.endswith("(20 px): use an image of at least 20 px a side, or leave it out\n")


def test_a_worded_refusal_of_sr_eval_names_the_files_in_the_srmat_line(tmp_path, capsys,
                                                                          monkeypatch):
    """cli.naming_roles put each role's file into the Python message only: a refusal
    worded for each caller (errors.worded_error), told by srmat as its cli_message, lost
    the files ("SR and HR ..." in the srmat line, "SR b.png and HR a.png ..." in Python).
    Its words for each caller now name them too, as naming_file's do."""
    from napari_srmat.cli import main
    from napari_srmat.errors import Option, worded_error

    def refuse(*args, **kwargs):
        raise worded_error(ValueError, "SR is not 2 x HR: pass {scale}",
                           scale=Option("scale=2", "--scale 2", "choose 2 in 'Scale'"))

    monkeypatch.setattr(m, "evaluate_sr_pair", refuse)
    hr = _micrograph()
    hr_p, sr_p = _png(tmp_path / "hr.png", hr), _png(tmp_path / "sr.png", hr)
    assert main(["sr", "eval", hr_p, sr_p]) == 2
    err = capsys.readouterr().err
    assert err == f"srmat sr eval: error: SR {sr_p} is not 2 x HR {hr_p}: pass --scale 2\n"
    from napari_srmat.cli import naming_roles

    with pytest.raises(ValueError) as e, naming_roles({"SR": sr_p, "HR": hr_p}):
        refuse()
    assert str(e.value) == f"SR {sr_p} is not 2 x HR {hr_p}: pass scale=2"
    assert e.value.gui_message == f"SR {sr_p} is not 2 x HR {hr_p}: choose 2 in 'Scale'"


def test_cli_sr_eval_shape_errors_name_the_files(tmp_path, capsys):
    """The shape errors named "HR"/"SR"/"LR", not the files the user gave."""
    from napari_srmat.cli import main

    hr = _micrograph()
    hr_p, small_p = _png(tmp_path / "hr.png", hr), _png(tmp_path / "small.png", hr[:64])
    lr_p = _png(tmp_path / "lr.png", hr[:5, :5])
    assert main(["sr", "eval", hr_p, small_p]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        f"srmat sr eval: error: HR {hr_p} and SR {small_p} shapes differ: ")
    sr_p = _copy(hr_p)
    assert main(["sr", "eval", hr_p, sr_p, "--lr-image", lr_p]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        f"srmat sr eval: error: LR {lr_p} (5, 5) x4 does not match HR {hr_p} and SR {sr_p}")



def test_cli_sr_eval_lr_of_the_sr_size_is_refused_unless_scale_1(tmp_path, capsys):
    """An --lr of the SR image's size (the HR given by mistake) was evaluated silently at
    x1 ("LR size ratio"); it is refused naming both files and sizes, unless --scale 1."""
    from napari_srmat.cli import main

    hr = _micrograph()
    hr_p, sr_p = _png(tmp_path / "hr.png", hr), _png(tmp_path / "sr.png", hr + 0.05)
    assert main(["sr", "eval", hr_p, sr_p, "--lr-image", hr_p, "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert f"LR {hr_p} (96 x 96 px) is the size of SR {sr_p} (96 x 96 px)" in err
    assert "--scale 1" in err
    assert main(["sr", "eval", hr_p, sr_p, "--lr-image", hr_p, "--scale", "1", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["scale"] == 1 and res["scale_source"] == "--scale"


@pytest.mark.parametrize("bad", ["nan", "0-255"])
@pytest.mark.parametrize("role", ["hr", "sr", "lr"])
def test_cli_sr_eval_pixel_value_errors_name_the_file(tmp_path, capsys, role, bad):
    """NaN pixels or a float image in 0..255 were told by the argument's name only
    (``hr has NaN or Inf pixels``); the file is named after it, as for the shape errors."""
    import tifffile

    from napari_srmat.cli import main

    hr = _micrograph().astype(np.float32)  # in [0.2, 0.8]
    hr_p = _png(tmp_path / "hr.png", _micrograph())
    lr_p = _png(tmp_path / "lr.png", _micrograph()[::4, ::4])
    broken = hr[::4, ::4].copy() if role == "lr" else hr.copy()
    if bad == "nan":
        broken[3, 3] = np.nan
    else:
        broken *= 255
    bad_p = tmp_path / "bad image.tif"
    tifffile.imwrite(bad_p, broken)
    files = {"hr": hr_p, "sr": _copy(hr_p), "lr": lr_p, role: str(bad_p)}
    assert main(["sr", "eval", files["hr"], files["sr"], "--lr-image", files["lr"], "--scale", "4",
                 "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"srmat sr eval: error: {role} {bad_p} ")

@pytest.mark.parametrize("scale", ["0", "-2", "2.5", "x"])
def test_cli_sr_eval_bad_scale_is_refused_before_reading(tmp_path, capsys, scale):
    """--scale 0 was checked only after both images were read; it is argparse's now,
    naming the flag (the missing files are not even looked at)."""
    from napari_srmat.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["sr", "eval", str(tmp_path / "no-hr.png"), str(tmp_path / "no-sr.png"),
              "--scale", scale])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "argument --scale: an integer >= 1" in err


def test_cli_sr_eval_empty_map_path_is_refused_not_skipped(tmp_path, capsys):
    """``--ldl-map ""`` was false-y and quietly wrote no map; it is refused, naming the
    flag, before anything is computed."""
    from napari_srmat.cli import main

    hr_p = _png(tmp_path / "hr.png", _micrograph())
    assert main(["sr", "eval", hr_p, _copy(hr_p), "--ldl-map", ""]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        "srmat sr eval: error: --ldl-map: output path '' names no file")


@pytest.mark.parametrize("name", ["ldl.png", "ldl.jpg", "ldl"])
def test_cli_sr_eval_map_named_as_another_format_is_refused(tmp_path, capsys, name):
    """``--ldl-map ldl.png`` wrote a float32 TIFF under a .png name (no viewer opened it
    as one); the name must end in .tif/.tiff, refused before anything is computed, as
    ``--plot`` refuses a name that is not .png."""
    from napari_srmat.cli import main

    hr_p = _png(tmp_path / "hr.png", _micrograph())
    sr_p = _copy(hr_p)
    assert main(["sr", "eval", hr_p, sr_p, "--ldl-map", str(tmp_path / name)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "written as a float32 TIFF" in err and ".tif" in err
    assert not (tmp_path / name).exists()
    assert main(["sr", "eval", hr_p, sr_p, "--ldl-map", str(tmp_path / "ldl.TIFF")]) == 0
    assert (tmp_path / "ldl.TIFF").is_file()


def _x4_sr_store(tmp_path):
    """An HR PNG and an SR store of its size whose srmat attrs record a x4 SR run."""
    import zarr

    from napari_srmat.io import write_ome_zarr

    hr = _micrograph()
    hr_p = _png(tmp_path / "hr.png", hr)
    sr_p = tmp_path / "sr.zarr"
    write_ome_zarr((hr * 255).round().astype(np.uint8), sr_p)
    zarr.open_group(str(sr_p), mode="a").attrs["srmat"] = {
        "operation": "super_resolution", "model": "bicubic", "scale": 4}
    return hr_p, sr_p


def test_a_scale_contradicting_the_sr_outputs_recorded_one_is_refused(tmp_path, capsys):
    """`srmat sr eval --scale 3` of an SR store recorded at x4 evaluated it at x3 without a
    word (border, grid of the LR comparison: every metric wrong). A given scale that
    contradicts the recorded one is refused in one line naming both (--scale in srmat,
    scale= in Python); the recorded scale given again, or none given, is used."""
    from napari_srmat.cli import main

    hr_p, sr_p = _x4_sr_store(tmp_path)
    assert main(["sr", "eval", hr_p, str(sr_p), "--scale", "3", "--json"]) == 2
    said, err = capsys.readouterr()
    assert said == "" and err == (
        f"srmat sr eval: error: {sr_p} records a x4 super-resolution: --scale 3 would "
        "evaluate it at x3, and every metric would be wrong (give --scale 4 or leave "
        "--scale out)\n")
    for given in ([], ["--scale", "4"]):
        assert main(["sr", "eval", hr_p, str(sr_p), *given, "--json"]) == 0
        res = json.loads(capsys.readouterr().out)
        assert res["scale"] == 4
        assert res["scale_source"] == ("--scale" if given else "sr output metadata")
    with pytest.raises(ValueError, match=r"^sr records a x4 super-resolution: scale=3 "):
        m.sr_output_scale({"scale": 4}, 3, name="sr")
    # the tiling's scale of an srmat sr run store whose model scale is not recorded
    tiled = {"operation": "super_resolution", "tiling": {"scale": 2}}
    assert m.sr_output_scale(tiled) == 2 and m.sr_output_scale({}, 3) == 3
    with pytest.raises(ValueError, match=r"x2 super-resolution: scale=4 "):
        m.sr_output_scale(tiled, 4)


def test_a_contradicting_scale_is_refused_before_any_pixel_is_read(tmp_path, capsys,
                                                                   monkeypatch):
    """`srmat sr eval --scale 3` of an SR store recorded at x4 read every HR and SR pixel
    (a large store: minutes) before refusing from the store's metadata. The SR output is
    now opened and its scale checked first: only its metadata is read."""
    import napari_srmat.io as srio
    from napari_srmat.cli import main

    hr_p, sr_p = _x4_sr_store(tmp_path)
    opened, read_image = [], srio.read_image

    def opening(path, *args, **kwargs):
        opened.append(str(path))
        return read_image(path, *args, **kwargs)

    def no_pixels(*args, **kwargs):
        raise AssertionError("pixels read")

    monkeypatch.setattr(srio, "read_image", opening)
    monkeypatch.setattr(srio, "read_window", no_pixels)
    assert main(["sr", "eval", hr_p, str(sr_p), "--scale", "3"]) == 2
    assert capsys.readouterr().err.startswith(
        f"srmat sr eval: error: {sr_p} records a x4 super-resolution: --scale 3 ")
    assert opened == [str(sr_p)]  # the HR (a PNG, read whole when opened) not even opened


def test_cli_sr_eval_refuses_one_file_as_hr_and_sr(tmp_path, capsys):
    """`srmat sr eval hr.png hr.png` scored the image against itself (psnr_y inf, ssim_y
    1, "identical", exit 0): a slip read as a perfect SR model. It is refused, one line,
    exit 2, by the rule of every command whose inputs must differ
    (cli.check_distinct_inputs); a copy with the same pixels is still scored."""
    from napari_srmat.cli import main

    hr_p = _png(tmp_path / "hr.png", _micrograph())
    same = str(tmp_path / "." / "hr.png")
    assert main(["sr", "eval", hr_p, same, "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"srmat sr eval: error: image {hr_p} is given twice (also as "
                          f"{same}): the SR image is scored against its HR reference")
    assert main(["sr", "eval", hr_p, _copy(hr_p), "--json"]) == 0
    capsys.readouterr()


def test_cli_sr_eval_overwrite_replaces_only_a_map_it_wrote(tmp_path, capsys):
    """`srmat sr eval --ldl-map m.tif` had no --overwrite: a map it wrote itself could
    never be replaced ("m.tif exists; it will not be replaced: choose another output").
    With --overwrite it replaces a map of its own (Software napari-srmat, the map's
    description); any other file is kept, --overwrite or not."""
    import tifffile

    from napari_srmat.cli import main
    from napari_srmat.cli.sr_eval import is_our_map

    hr = _micrograph()
    hr_p, sr_p = _png(tmp_path / "hr.png", hr), _png(tmp_path / "sr.png", hr + 0.1)
    ldl, noref = tmp_path / "ldl.tif", tmp_path / "noref.tif"
    argv = ["sr", "eval", hr_p, sr_p, "--ldl-map", str(ldl), "--noref-map", str(noref)]
    assert main(argv) == 0
    assert is_our_map(ldl, "--ldl-map") and is_our_map(noref, "--noref-map")
    assert not is_our_map(ldl, "--noref-map")
    first = tifffile.imread(ldl)
    capsys.readouterr()
    assert main(argv) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert main([*argv[:3], _png(tmp_path / "sr2.png", hr + 0.2), *argv[4:],
                 "--overwrite"]) == 0
    assert not np.array_equal(tifffile.imread(ldl), first)
    capsys.readouterr()
    theirs = tmp_path / "theirs.tif"
    tifffile.imwrite(theirs, np.ones((3, 3), np.float32))
    assert main(["sr", "eval", hr_p, sr_p, "--ldl-map", str(theirs), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "was not written by napari-srmat" in err
    assert tifffile.imread(theirs).shape == (3, 3)
