"""SR training from registered real LR/HR pairs (``srmat sr train --pairs``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_srmat.audit.detector import bicubic_degrade  # noqa: E402
from napari_srmat.cli import main  # noqa: E402
from napari_srmat.io import to_float01, to_uint8  # noqa: E402
from napari_srmat.jobs import run_job  # noqa: E402
from napari_srmat.sr import SRError, load_model  # noqa: E402
from napari_srmat.sr.pairs import PairSampler, align_pair, read_pairs_csv  # noqa: E402
from napari_srmat.sr.train import train_sr_job  # noqa: E402

CORNER = (32, 16)  # HR position of the LR acquisition's top-left corner


def _hr(seed):
    from napari_srmat.synth import generate_microstructure

    return to_float01(generate_microstructure((192, 192), mean_grain_size_px=20,
                                              seed=seed).image)


def _lr_of(hr, scale=4, side=144):
    y, x = CORNER
    return bicubic_degrade(hr[y:y + side, x:x + side], scale)


@pytest.fixture(scope="module")
def pairs_csv(tmp_path_factory):
    from PIL import Image

    folder = tmp_path_factory.mktemp("pairs")
    rows = ["lr,hr"]
    for k in range(2):
        hr = _hr(10 + k)
        Image.fromarray(to_uint8(hr)).save(folder / f"hr_{k}.png")
        Image.fromarray(to_uint8(_lr_of(hr))).save(folder / f"lr_{k}.png")
        rows.append(f"lr_{k}.png,{folder / f'hr_{k}.png'}")  # relative and absolute paths
    (folder / "pairs.csv").write_text("\n".join(rows) + "\n")
    return folder / "pairs.csv"


def test_registered_pair_is_aligned_on_the_exact_grid():
    hr = _hr(3)
    pair = align_pair(_lr_of(hr), hr, 4)
    assert pair.registration["scale"] == pytest.approx(4, rel=2e-3)
    np.testing.assert_allclose(pair.registration["offset_px"], CORNER, atol=0.1)
    h, w = pair.lr.shape[:2]
    assert pair.hr.shape[:2] == (4 * h, 4 * w) and (h, w) == (36, 36)
    y, x = CORNER
    truth = hr[y:y + 4 * h, x:x + 4 * w]
    assert np.abs(pair.hr - truth).mean() < 0.01
    # an HR rescan of part of the LR field: the LR is cropped to the rescanned pixels
    lr_full = bicubic_degrade(hr, 4)
    part = align_pair(lr_full, hr[40:184, 20:180], 4)
    # (LR's corner lies far outside the 36 x 40 px overlap: a looser bound there)
    np.testing.assert_allclose(part.registration["offset_px"], (-40, -20), atol=0.25)
    assert part.lr.shape[:2] == (36, 40)
    np.testing.assert_allclose(part.lr, lr_full[10:46, 5:45])
    assert np.abs(part.hr - hr[40:184, 20:180]).mean() < 0.01
    # a pair taken as aligned from the top-left is cropped, not resampled
    raw = align_pair(bicubic_degrade(hr, 4), hr, 4, register=False)
    np.testing.assert_array_equal(raw.hr, hr)
    assert raw.registration is None


def test_pair_sampler_crops_match():
    hr = _hr(4)
    pair = align_pair(bicubic_degrade(hr, 4), hr, 4, register=False)
    lr_b, hr_b = PairSampler([pair], 32, 4, seed=0).sample(6)
    assert lr_b.shape == (6, 3, 8, 8) and hr_b.shape == (6, 3, 32, 32)
    for lr_k, hr_k in zip(lr_b, hr_b):  # same flips / rotations: the crops correspond
        down = hr_k.reshape(3, 8, 4, 8, 4).mean(axis=(2, 4))
        assert np.abs(down - lr_k)[:, 1:-1, 1:-1].mean() < 0.03
    with pytest.raises(SRError, match="multiple"):
        PairSampler([pair], 30, 4)


def test_pairs_csv_errors(tmp_path, pairs_csv):
    assert len(read_pairs_csv(pairs_csv)) == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("only_one.png\n")
    with pytest.raises(SRError, match="row 1"):
        read_pairs_csv(bad)
    bad.write_text("a.png,b.png\n")
    with pytest.raises(SRError, match=r"row 1: .*a\.png: image not found"):
        read_pairs_csv(bad)
    with pytest.raises(SRError, match="not found"):
        read_pairs_csv(tmp_path / "none.csv")
    hr = _hr(5)
    with pytest.raises(SRError, match="scale"):  # a x2 acquisition is not x4 training data
        align_pair(bicubic_degrade(hr, 2), hr, 4)


def _l1(model, pair):
    lr = torch.from_numpy(pair.lr.transpose(2, 0, 1)[None].copy())
    sr = model.predict(lr)[0].numpy().transpose(1, 2, 0)
    return float(np.abs(sr - pair.hr)[8:-8, 8:-8].mean())


def test_training_from_pairs_learns_them(tmp_path, pairs_csv):
    arch = {"n_feats": 8, "n_blocks": 2}
    cfg = {"model": "cnn", "scale": 4, "out": str(tmp_path / "ck"), "pairs": str(pairs_csv),
           "steps": 40, "batch_size": 4, "patch": 32, "lr": 3e-3, "warmup": 5,
           "log_every": 10, "arch": arch, "device": "cpu", "num_threads": 1}
    res = run_job(train_sr_job(cfg), quiet=True)
    assert res["step"] == 40 and not res["stopped"]
    trained = load_model(checkpoint=res["last"])
    info = json.loads((tmp_path / "ck" / "last" / "config.json").read_text())["training"]
    assert info["lr_source"] == "pairs" and len(info["pair_registrations"]) == 2
    pair = align_pair(_lr_of(_hr(11)), _hr(11), 4)
    untrained = load_model("cnn", scale=4, pretrained=False, **arch)
    assert _l1(trained, pair) < 0.95 * _l1(untrained, pair)
    with pytest.raises(SRError, match="not both"):
        run_job(train_sr_job(dict(cfg, synthetic=1)), quiet=True)


def test_cli_train_with_pairs(tmp_path, pairs_csv, capsys):
    out = tmp_path / "ck"
    rc = main(["sr", "train", "--pairs", str(pairs_csv), "--model", "cnn", "--scale", "4",
               "--train-steps", "2", "--batch-size", "2", "--patch", "32", "--device", "cpu",
               "--threads", "1", "--out", str(out), "--json"])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    assert res["step"] == 2 and (out / "best").is_dir()
    rc = main(["sr", "train", "--pairs", str(pairs_csv), "--synthetic", "1", "--out",
               str(tmp_path / "ck2")])
    assert rc == 2 and "not both" in capsys.readouterr().err


def test_refsr_trains_from_pairs_with_validation(tmp_path, pairs_csv, capsys):
    """refsr validates with a training HR image as its reference: with pairs that is a
    pair's HR (there are no HR-only training images)."""
    from PIL import Image

    val = tmp_path / "val"
    val.mkdir()
    Image.fromarray(to_uint8(_hr(30))).save(val / "v.png")
    out = tmp_path / "ck"
    rc = main(["sr", "train", "--pairs", str(pairs_csv), "--model", "refsr", "--scale", "4",
               "--train-steps", "2", "--batch-size", "2", "--patch", "32", "--device", "cpu",
               "--threads", "1", "--val", str(val), "--val-every", "1", "--out", str(out),
               "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert json.loads(captured.out)["step"] == 2 and (out / "best").is_dir()


def test_a_pair_whose_registration_ssim_is_nan_is_refused(monkeypatch):
    """A registration whose SSIM came out NaN is not trusted (``Registration.trusted``),
    yet ``align_pair`` tested ``ssim < PAIR_MIN_SSIM`` (False for NaN) and trained on the
    pair. It reads ``trusted`` now (one rule) and refuses the pair, naming the SSIM;
    ``register_images`` warns of the poor match by the same rule."""
    from napari_srmat.sr import registration
    from napari_srmat.sr.registration import RegistrationWarning, register_images

    hr = _hr(3)
    lr = _lr_of(hr)
    monkeypatch.setattr(registration, "_ssim", lambda a, b: float("nan"))
    refused = r"registration SSIM nan \(not measured\): not the same area"
    with pytest.raises(SRError, match=refused):
        align_pair(lr, hr, 4)
    with pytest.warns(RegistrationWarning, match="poor match"):
        reg = register_images(lr, hr, scale=4)
    assert reg.trusted is False
