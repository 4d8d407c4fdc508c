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


def _older_run(tmp_path, best_psnr: float | None = None):
    """A 2-step run (validated at its last step), its ``train_state`` then made one an
    older version wrote: no ``val_metric`` (an RGB best), its ``best_psnr`` lowered by 5 dB
    or set to ``best_psnr``. Returns its config and out folder."""
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
    config["best_psnr"] = config["best_psnr"] - 5.0 if best_psnr is None else best_psnr
    state.write_text(json.dumps(config))
    return cfg, out


def _files(out):
    return {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_a_resume_of_a_state_validated_by_the_rgb_psnr_is_refused(tmp_path):
    """A ``train_state`` an older version wrote records its best as the PSNR of RGB with
    the border in (and no ``val_metric``): it was resumed, and the psnr_y of the resumed
    run's validations was compared with that number (some dB higher for the same model),
    so ``best/`` was replaced by a worse model, or kept, by two rules' numbers. Refused
    now in one line naming the state, before anything is trained or written; the rule is
    recorded with the settings of every checkpoint of a run that validates. The line
    names the way that keeps the run's weights, a fine-tune from ``OUT/last`` (which
    validates its starting point by this rule), and that way trains."""
    from napari_srmat.sr.base import SRError

    cfg, out = _older_run(tmp_path)
    kept = _files(out)
    with pytest.raises(SRError) as told:
        run_job(train_sr_job(dict(cfg, steps=4, resume=True)), quiet=True)
    message = str(told.value)
    assert message.startswith(f"cannot resume {out / 'train_state'}: it chose its best by "
                              "another validation PSNR (of RGB with the border in: an older "
                              "version wrote it) than this version's psnr_y")
    assert "start over" in message and "\n" not in message
    assert f"fine-tune from its weights (init_checkpoint='{out / 'last'}') into a new " \
           "output folder" in message
    assert f"(--init-checkpoint {out / 'last'}) into a new output folder" in \
        told.value.cli_message
    assert _files(out) == kept

    events = []  # the way it names: the weights kept, validated by psnr_y first
    result = run_job(train_sr_job(dict(cfg, steps=2, out=str(tmp_path / "tuned"),
                                       init_checkpoint=str(out / "last"))),
                     quiet=True, on_event=events.append)
    assert [e.step for e in events if isinstance(e, Metric) and e.split == "val"
            and "psnr" in e.values][:1] == [0]
    assert result["best_psnr"] is not None and _files(out) == kept


def test_an_older_versions_complete_run_resumed_is_already_complete(tmp_path):
    """A run an older version completed, resumed with as many steps (a script rerunning
    ``srmat sr train --resume``, the Train widget's 'done (already complete from an
    earlier run)'), compares no new validation with its RGB best: it is complete, as
    before its rule was recorded; was refused for its rule (f7c567c5)."""
    from napari_srmat.jobs import AlreadyComplete

    cfg, out = _older_run(tmp_path)
    kept = _files(out)
    events = []
    result = run_job(train_sr_job(dict(cfg, resume=True)), quiet=True,
                     on_event=events.append)
    (complete,) = [e for e in events if isinstance(e, AlreadyComplete)]
    assert complete.message.startswith(f"{out} is already complete from an earlier run")
    assert result["step"] == 2 and _files(out) == kept


def test_an_older_versions_state_stopped_before_its_first_validation_resumes(tmp_path):
    """A state an older version wrote before its first validation (``best_psnr`` -inf)
    holds no RGB figure to compare: it resumes, its best chosen by psnr_y alone, and
    the state it writes records the rule; was refused for its rule (f7c567c5)."""
    cfg, out = _older_run(tmp_path, best_psnr=-np.inf)
    events = []
    result = run_job(train_sr_job(dict(cfg, steps=4, resume=True)), quiet=True,
                     on_event=events.append)
    validated = {e.step: e.values["psnr"] for e in events
                 if isinstance(e, Metric) and e.split == "val" and "psnr" in e.values}
    assert sorted(validated) == [4] and result["best_psnr"] == validated[4]
    state = json.loads((out / "train_state" / "config.json").read_text())
    assert state["settings"]["val_metric"] == "psnr_y" and state["step"] == 4


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_evaluate_sr_refuses_an_hr_image_with_nan_pixels(bad):
    """An HR image with one NaN (or Inf) pixel: its NaN goes through the downsampling and
    the model, and evaluate_sr gave NaN figures (617e3917), told by the training as a
    diverged model. Refused now in the words of metrics.sr's rule, as before; a model
    whose outputs of a finite image are NaN still gives NaN (the divergence)."""
    hr = _micrograph(32)
    hr[5, 7, 1] = bad
    with pytest.raises(ValueError, match=r"^hr has NaN or Inf pixels: replace them first"):
        evaluate_sr(load_model("bicubic", scale=2), [hr])
    nan_out = np.full((32, 32, 3), np.nan, np.float32)
    figures = evaluate_sr(_Fixed(nan_out, 2), [_micrograph(32)])
    assert np.isnan(figures["psnr"]) and np.isnan(figures["ssim"])


def test_an_earlier_runs_best_is_told_with_its_psnr_rule(tmp_path):
    """What an earlier run in OUT holds (the refusal of a new run into it) named its best
    'best val PSNR 31.20 dB' whichever rule chose it: an older version's state (no
    ``val_metric``) holds the PSNR of RGB with the border in, some dB below the psnr_y
    (Y) of a state this version writes."""
    from napari_srmat.sr.train import _earlier_run

    cfg, out = _older_run(tmp_path)
    best = json.loads((out / "train_state" / "config.json").read_text())["best_psnr"]
    assert _earlier_run(out) == \
        f"2 steps, best val PSNR (RGB, an older version's rule) {best:.2f} dB"
    run_job(train_sr_job(dict(cfg, overwrite=True)), quiet=True)
    best = json.loads((out / "train_state" / "config.json").read_text())["best_psnr"]
    assert _earlier_run(out) == f"2 steps, best val PSNR (Y) {best:.2f} dB"
