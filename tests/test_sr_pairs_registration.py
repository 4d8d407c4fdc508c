"""What ``srmat sr train --pairs`` reads of a pair's registration: its refusal line and
the record a resume compares."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from napari_srmat.audit.detector import bicubic_degrade  # noqa: E402
from napari_srmat.io import to_float01, to_uint8  # noqa: E402
from napari_srmat.jobs import run_job  # noqa: E402
from napari_srmat.sr import SRError  # noqa: E402
from napari_srmat.sr.pairs import align_pair  # noqa: E402
from napari_srmat.sr.registration import (  # noqa: E402
    AT_SCALE_LIMIT,
    LOOK_SWAPPED,
    Registration,
)
from napari_srmat.sr.train import train_sr_job  # noqa: E402


def _hr(seed):
    from napari_srmat.synth import generate_microstructure

    return to_float01(generate_microstructure((160, 160), mean_grain_size_px=20, seed=seed).image)


def test_a_pair_whose_registration_has_doubts_is_refused_naming_them(monkeypatch):
    """A pair whose registration matched (SSIM 0.90) but looked swapped was refused as
    "registration SSIM 0.90, but the images look swapped (...): not the same area?",
    a line about the SSIM and the area when neither is the reason. It names the doubts
    now; a poor SSIM keeps its line."""
    from napari_srmat.sr import registration

    hr = _hr(3)
    lr = bicubic_degrade(hr[16:144, 16:144], 4)
    got = {}

    def fake(moving, fixed, **kwargs):
        return Registration(
            scale=4.0,
            offset_px=(16.0, 16.0),
            ssim=got["ssim"],
            ncc=0.9,
            moving_shape=(32, 32),
            fixed_shape=(160, 160),
            doubts=got["doubts"],
        )

    monkeypatch.setattr(registration, "register_images", fake)
    got.update(ssim=0.9, doubts=(LOOK_SWAPPED, AT_SCALE_LIMIT))
    with pytest.raises(SRError) as refused:
        align_pair(lr, hr, 4)
    assert str(refused.value) == (
        f"pair: registration not trusted: {LOOK_SWAPPED}; {AT_SCALE_LIMIT}"
    )
    got.update(ssim=0.2, doubts=(LOOK_SWAPPED,))
    with pytest.raises(SRError, match=r"^pair: registration SSIM 0\.20 < 0\.3: not the same"):
        align_pair(lr, hr, 4)


def test_a_pairs_run_recorded_before_doubts_resumes(tmp_path):
    """Registration.doubts (893bb10d) went into each pair's record in the training
    settings, which a resume compares: a --pairs run started before it was refused
    ("was started with other settings (pair_registrations: ...)"). An accepted pair has
    no doubt: the record leaves the key out, and the older record resumes."""
    from PIL import Image

    rows = ["lr,hr"]
    for k in range(2):
        hr = _hr(10 + k)
        Image.fromarray(to_uint8(hr)).save(tmp_path / f"hr_{k}.png")
        Image.fromarray(to_uint8(bicubic_degrade(hr[16:144, 16:144], 4))).save(
            tmp_path / f"lr_{k}.png"
        )
        rows.append(f"lr_{k}.png,hr_{k}.png")
    (tmp_path / "pairs.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "ck"
    cfg = {
        "model": "cnn",
        "scale": 4,
        "out": str(out),
        "pairs": str(tmp_path / "pairs.csv"),
        "steps": 2,
        "batch_size": 2,
        "patch": 16,
        "arch": {"n_feats": 4, "n_blocks": 1},
        "device": "cpu",
        "num_threads": 1,
    }
    assert run_job(train_sr_job(cfg), quiet=True)["step"] == 2
    state = out / "train_state" / "config.json"
    config = json.loads(state.read_text())
    records = config["settings"]["pair_registrations"]
    assert len(records) == 2 and all(
        set(r) == {"scale", "offset_px", "ssim", "trusted", "ncc", "moving_shape", "fixed_shape"}
        for r in records
    )  # the record of a version before 893bb10d
    for r in records:  # as that version wrote it
        r.pop("doubts", None)
    state.write_text(json.dumps(config))
    res = run_job(train_sr_job(dict(cfg, steps=3, resume=True)), quiet=True)
    assert res["step"] == 3 and not res["stopped"]
    np.testing.assert_equal(
        json.loads(state.read_text())["settings"]["pair_registrations"], records
    )
