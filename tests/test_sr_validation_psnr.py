"""The SR training validates, and chooses ``best/``, by the PSNR ``srmat sr eval``
reports (``psnr_y``: the luma, less a ``scale`` px border, data range 1), not the PSNR of
RGB with the border in."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")

from test_sr_validation_ssim import _micrograph  # noqa: E402

from napari_srmat.io import to_float01  # noqa: E402
from napari_srmat.jobs import Checkpoint, Metric, run_job  # noqa: E402
from napari_srmat.metrics.sr import evaluate_sr_pair, psnr_y  # noqa: E402
from napari_srmat.sr import load_model  # noqa: E402
from napari_srmat.sr.degrade import bicubic_downsample  # noqa: E402
from napari_srmat.sr.train import evaluate_sr, train_sr_job  # noqa: E402


def _lr(hr: np.ndarray, scale: int):
    return bicubic_downsample(torch.from_numpy(hr.transpose(2, 0, 1).copy())[None], scale)


@pytest.mark.parametrize("scale", [2, 4])
def test_validation_psnr_is_the_psnr_y_sr_eval_reports(scale):
    """Was the PSNR of the three RGB channels with the border in: another figure than
    the psnr_y of ``srmat sr eval`` for the same images (31.5 vs 36.4 dB at x2)."""
    model = load_model("bicubic", scale=scale)
    hr = _micrograph(64)
    sr = np.clip(model.predict(_lr(hr, scale).numpy())[0].transpose(1, 2, 0), 0, 1)
    reported = evaluate_sr_pair(hr, sr, scale)["psnr_y"]
    assert psnr_y(hr, sr, scale) == reported
    assert evaluate_sr(model, [hr])["psnr"] == pytest.approx(reported, abs=1e-9)


@pytest.mark.parametrize(("scale", "side"), [(2, 65), (4, 66)])
def test_psnr_y_is_what_sr_eval_reports_of_a_side_not_a_multiple_of_the_scale(scale, side):
    """psnr_y left out the crop to a multiple of ``scale`` that ``srmat sr eval`` makes
    (evaluate_sr_pair): the same image gave two PSNRs. One rule now: evaluate_sr_pair
    reports psnr_y's figure."""
    hr = _micrograph(side)
    sr = np.clip(hr + np.random.default_rng(3).normal(0, 0.05, hr.shape), 0, 1)
    assert psnr_y(hr, sr, scale) == evaluate_sr_pair(hr, sr, scale)["psnr_y"]


class _Fixed:
    """A stand-in SR model whose output is ``output`` whatever its input."""

    def __init__(self, output: np.ndarray, scale: int) -> None:
        self.scale = scale
        self.output = output

    def predict(self, lr):
        return self.output.transpose(2, 0, 1)[None]


def test_the_validation_ranks_outputs_as_sr_eval_does():
    """Two outputs that the two PSNRs rank the other way round: one wrong only in its
    border (which ``srmat sr eval`` leaves out) and one slightly off everywhere. The
    validation, which ``best`` is chosen by, preferred the second (the RGB PSNR with the
    border in); it now prefers the first, as ``srmat sr eval`` does."""
    from skimage.metrics import peak_signal_noise_ratio

    scale = 2
    hr = _micrograph(48)
    wrong_border = hr.copy()
    wrong_border[:scale] = 1 - hr[:scale]
    off_everywhere = np.clip(hr + 0.02, 0, 1)
    rgb = [peak_signal_noise_ratio(hr, out, data_range=1.0)
           for out in (wrong_border, off_everywhere)]
    assert rgb[0] < rgb[1] - 3  # the rule the validation used ranks them the other way
    psnrs = [evaluate_sr(_Fixed(out, scale), [hr])["psnr"]
             for out in (wrong_border, off_everywhere)]
    reported = [evaluate_sr_pair(hr, out, scale)["psnr_y"] for out in (wrong_border,
                                                                         off_everywhere)]
    assert psnrs == reported and psnrs[0] > psnrs[1] + 3


def test_best_is_chosen_by_the_psnr_y_of_its_outputs(tmp_path):
    """``best_psnr``, the score of ``best/``'s Checkpoint event and the validation
    Metric events are the psnr_y of the validation images (bicubic LR) super-resolved
    by the model ``best/`` holds, and ``best/`` is the step of the highest of them; was
    the RGB PSNR (a few dB off)."""
    data, val = tmp_path / "data", tmp_path / "val"
    data.mkdir()
    val.mkdir()
    for i in range(2):
        Image.fromarray((_micrograph(64, i) * 255).astype(np.uint8)).save(data / f"d{i}.png")
        Image.fromarray((_micrograph(48, 5 + i) * 255).astype(np.uint8)).save(val / f"v{i}.png")
    out = tmp_path / "run"
    events = []
    result = run_job(train_sr_job({
        "model": "cnn", "scale": 2, "out": str(out), "data": [str(data)], "val": str(val),
        "steps": 6, "val_every": 2, "batch_size": 2, "patch": 32, "lr": 3e-3, "warmup": 1,
        "ema": 0.5, "arch": {"n_feats": 8, "n_blocks": 1}, "device": "cpu",
        "num_threads": 1}), quiet=True, on_event=events.append)

    best = load_model(checkpoint=out / "best", device="cpu")
    figures = []
    for path in sorted(val.glob("*.png")):
        hr = to_float01(np.asarray(Image.open(path)))
        sr = np.clip(best.predict(_lr(hr, 2).numpy())[0].transpose(1, 2, 0), 0, 1)
        figures.append(psnr_y(hr, sr, 2))
    assert result["best_psnr"] == pytest.approx(float(np.mean(figures)), abs=1e-6)
    scores = [e.score for e in events if isinstance(e, Checkpoint) and e.path.endswith("best")]
    assert scores[-1] == result["best_psnr"]
    validated = {e.step: e.values["psnr"] for e in events
                 if isinstance(e, Metric) and e.split == "val" and "psnr" in e.values}
    assert sorted(validated) == [2, 4, 6]
    step = json.loads((out / "best" / "config.json").read_text())["training"]["step"]
    assert validated[step] == max(validated.values()) == result["best_psnr"]


def test_a_resume_of_a_state_validated_by_the_rgb_psnr_is_refused(tmp_path):
    """A ``train_state`` an older version wrote records its best as the PSNR of RGB with
    the border in (and no ``val_metric``): it was resumed, and the psnr_y of the resumed
    run's validations was compared with that number (some dB higher for the same model),
    so ``best/`` was replaced by a worse model, or kept, by two rules' numbers. Refused
    now in one line naming the state, before anything is trained or written; the rule is
    recorded with the settings of every checkpoint of a run that validates."""
    from napari_srmat.sr.base import SRError

    data, val = tmp_path / "data", tmp_path / "val"
    data.mkdir()
    val.mkdir()
    Image.fromarray((_micrograph(64) * 255).astype(np.uint8)).save(data / "d.png")
    Image.fromarray((_micrograph(48, 5) * 255).astype(np.uint8)).save(val / "v.png")
    out = tmp_path / "run"
    cfg = {"model": "cnn", "scale": 2, "out": str(out), "data": [str(data)],
           "val": str(val), "steps": 2, "val_every": 2, "batch_size": 1, "patch": 32,
           "arch": {"n_feats": 8, "n_blocks": 1}, "device": "cpu", "num_threads": 1}
    run_job(train_sr_job(cfg), quiet=True)
    for name in ("best", "last", "train_state"):
        config = json.loads((out / name / "config.json").read_text())
        recorded = config["settings"] if name == "train_state" else config["training"]
        assert recorded["val_metric"] == "psnr_y", name

    state = out / "train_state" / "config.json"
    config = json.loads(state.read_text())
    del config["settings"]["val_metric"]  # as an older version wrote it: an RGB best
    config["best_psnr"] -= 5.0
    state.write_text(json.dumps(config))
    kept = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    with pytest.raises(SRError) as told:
        run_job(train_sr_job(dict(cfg, steps=4, resume=True)), quiet=True)
    message = str(told.value)
    assert message.startswith(f"{out / 'train_state'} chose its best by another validation "
                              "PSNR (of RGB with the border in: an older version wrote it) "
                              "than this version's psnr_y")
    assert "start over" in message and "\n" not in message
    assert {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == kept
