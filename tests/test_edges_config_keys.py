"""A boundary checkpoint's config.json is read by the SR checkpoints' rule (s51 X1 #3, E9):
an unknown key is refused naming it and the key meant; a key that changes the outputs
(threshold, input_norm, encoder) missing from a config of the current format version is
refused naming it; a config without a version (the shipped weights, older runs) keeps
its documented defaults."""

from __future__ import annotations

import json

import pytest
import torch

from napari_srmat.checkpoint import CheckpointError, save_checkpoint
from napari_srmat.edges.infer import load_boundary_model
from napari_srmat.edges.model import UAEDNet, default_arch_config

torch.set_num_threads(1)


def _checkpoint(path, config):
    torch.manual_seed(0)
    save_checkpoint(path, UAEDNet("tiny").state_dict(), config)
    return path


def _current(**extra):
    """A config as ``srmat edges train`` writes it today."""
    return {**default_arch_config("tiny"), "threshold": 0.55, "input_norm": "none",
            "prob_definition": "sigmoid(mu)", "epoch": 3, "val_ap": 0.5,
            "val_roc_auc": 0.8, "training": {"epochs": 4}, "config_version": 2, **extra}


def _renamed(config, old, new):
    config = dict(config)
    config[new] = config.pop(old)
    return config


def _refused_renamed(tmp_path, config, old, new):
    """The one-line refusal of ``config`` with key ``old`` renamed ``new``."""
    ck = _checkpoint(tmp_path / "ck", _renamed(config, old, new))
    with pytest.raises(CheckpointError) as info:
        load_boundary_model(ck, device="cpu")
    msg = str(info.value)
    assert "\n" not in msg and f"unknown key {new!r}" in msg
    return msg


@pytest.mark.parametrize("old,new", [("threshold", "treshold"),
                                     ("input_norm", "input_nrom"),
                                     ("encoder", "encoderr")])
@pytest.mark.parametrize("versioned", [True, False])
def test_a_misspelt_key_is_refused_naming_it_and_the_key_meant(tmp_path, old, new, versioned):
    """Until 2026-12-07 a renamed ``threshold`` loaded as 0.5 (ℓ̄ -6 %, no word), a
    renamed ``input_norm`` of a ``channels`` model as ``none``, a renamed ``encoder`` was
    refused as "72 shape mismatch(es)" without naming the key; old-format configs too."""
    config = _current(input_norm="channels")
    if not versioned:
        del config["config_version"]
    msg = _refused_renamed(tmp_path, config, old, new)
    assert f"did you mean {old!r}?" in msg and "config.json" in msg


@pytest.mark.parametrize("key", ["threshold", "input_norm", "encoder"])
def test_a_current_config_without_a_key_that_changes_results_is_refused(tmp_path, key):
    """A config of the current format without ``threshold`` read 0.5, without
    ``input_norm`` read ``none``, without ``encoder`` read ``small`` (a shape
    mismatch), without a word."""
    config = _current()
    del config[key]
    ck = _checkpoint(tmp_path / "ck", config)
    with pytest.raises(CheckpointError) as info:
        load_boundary_model(ck, device="cpu")
    msg = str(info.value)
    assert "\n" not in msg and f"has no {key!r} key" in msg and "add it" in msg


def test_a_config_of_a_newer_format_is_refused(tmp_path):
    """A format this version does not read was read as if it were its own."""
    ck = _checkpoint(tmp_path / "ck", _current(config_version=99))
    with pytest.raises(CheckpointError, match="format version 99.*update napari-srmat"):
        load_boundary_model(ck, device="cpu")


def test_an_old_format_config_keeps_its_documented_defaults(tmp_path):
    """guard: passed before 2026-12-07 (s51 E9). A config without ``config_version``
    (checkpoints trained before it, tests' minimal configs) reads a missing threshold
    as 0.5 and a missing input_norm as none, as documented."""
    ck = _checkpoint(tmp_path / "ck", default_arch_config("tiny"))
    model = load_boundary_model(ck, device="cpu")
    assert model.threshold == 0.5 and model.input_norm == "none"


def test_the_shipped_weights_and_every_key_they_hold_still_load():
    """guard: passed before 2026-12-07 (s51 E9): the shipped config (no version, no
    input_norm, calibration keys of the export) loads, its keys all known."""
    from napari_srmat.edges.infer import default_checkpoint_path

    model = load_boundary_model(device="cpu")
    config = json.loads((default_checkpoint_path() / "config.json").read_text())
    assert model.config == config and model.input_norm == "none"
    assert model.threshold == config["threshold"]


def test_a_pretraining_writes_the_current_format_version(tmp_path):
    """A config written by ``edges pretrain`` (and ``edges train``, the same keys) carries
    the current format version, so a key it lacks is refused rather than defaulted."""
    from napari_srmat import jobs
    from napari_srmat.edges.infer import CONFIG_VERSION, CONFIG_VERSION_KEY
    from napari_srmat.edges.pretrain import MaskedPretrainConfig, masked_pretrain_job
    from napari_srmat.synth import generate_microstructure

    image = generate_microstructure((64, 64), mean_grain_size_px=12, seed=0).image
    out = tmp_path / "pre"
    jobs.run_job(masked_pretrain_job(MaskedPretrainConfig(
        images=[image], out=str(out), steps=2, crop=32, patch=8, num_threads=1)), quiet=True)
    config = json.loads((out / "config.json").read_text())
    assert config[CONFIG_VERSION_KEY] == CONFIG_VERSION == 2
    assert load_boundary_model(out, device="cpu", for_init=True).input_norm == "none"


def test_srmat_grain_size_refuses_a_misspelt_key_in_one_line(tmp_path, capsys):
    """The CLI's refusal is one line, exit != 0, naming the key (no traceback)."""
    import numpy as np
    from PIL import Image

    from napari_srmat.cli import main

    ck = _checkpoint(tmp_path / "ck", _renamed(_current(), "threshold", "treshold"))
    Image.fromarray((np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8)).save(
        tmp_path / "im.png")
    rc = main(["grain-size", str(tmp_path / "im.png"), "--checkpoint", str(ck)])
    err = capsys.readouterr().err
    assert rc != 0 and "Traceback" not in err
    lines = [ln for ln in err.splitlines() if "error" in ln]
    assert len(lines) == 1 and "'treshold'" in lines[0] and "'threshold'" in lines[0]


@pytest.mark.parametrize("versioned", [True, False])
def test_a_users_key_near_no_known_key_is_accepted_with_a_warning(tmp_path, versioned):
    """s51 F9 #4 (review R7 of 7b222edd): a user's top-level ``notes`` was refused as an
    unknown key; ae7e0f5c loaded it. A key near no known key is not read: it loads, with
    one warning line naming it."""
    config = _current(notes="etched 10 s, Nital 2 %")
    if not versioned:
        del config["config_version"]
    ck = _checkpoint(tmp_path / "ck", config)
    with pytest.warns(UserWarning, match="'notes' not read") as record:
        load_boundary_model(ck, device="cpu")
    assert all("\n" not in str(w.message) for w in record)


def test_a_newer_format_with_keys_unknown_here_says_update(tmp_path):
    """s51 F9 #4: a config of version 3 with a key this version does not know got
    "unknown key ...; options: <27 names>" instead of "update napari-srmat"."""
    ck = _checkpoint(tmp_path / "ck", _current(config_version=3, thresholds_v3={"a": 1},
                                               threshhold_rule="x"))
    with pytest.raises(CheckpointError) as info:
        load_boundary_model(ck, device="cpu")
    msg = str(info.value)
    assert "\n" not in msg and "format version 3" in msg and "update napari-srmat" in msg
    assert "unknown key" not in msg


def test_edges_train_writes_the_config_version_in_best_and_last(tmp_path):
    """s51 F9 #5 (review R7 of 7b222edd), guard: passed before (7b222edd writes it); no
    test checked that a training run's checkpoints carry ``config_version``, so a
    training that stopped writing it would load as version 1 with defaults."""
    from test_edges_train import _cfg

    from napari_srmat.edges.infer import CONFIG_VERSION, CONFIG_VERSION_KEY
    from napari_srmat.edges.train import train_boundaries

    train_boundaries(_cfg(tmp_path, epochs=1))
    for name in ("best", "last"):
        config = json.loads((tmp_path / "run" / name / "config.json").read_text())
        assert config[CONFIG_VERSION_KEY] == CONFIG_VERSION
        load_boundary_model(tmp_path / "run" / name, device="cpu")


def test_loading_a_checkpoint_does_not_import_the_training_module(tmp_path):
    """s51 F9 #6 (review R7 of 7a70766a): ``load_boundary_model`` imported
    ``napari_srmat.edges.train`` (0.26 s) for one key name (``epoch_steps``)."""
    import os
    import subprocess
    import sys

    from napari_srmat.edges.train import RESUME_RECORD

    assert RESUME_RECORD.part_key in _current(epoch_steps=1)  # the key still read
    ck = _checkpoint(tmp_path / "ck", _current(epoch_steps=1))
    code = ("import sys\nfrom napari_srmat.edges.infer import load_boundary_model\n"
            f"load_boundary_model({str(ck)!r}, device='cpu')\n"
            "print('napari_srmat.edges.train' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.parametrize("old,new,meant", [("threshold", "Threshold", "threshold"),
                                           ("threshold", "THRESHOLD", "threshold"),
                                           ("input_norm", "Input-Norm", "input_norm"),
                                           ("input_norm", "input_normalization", None)])
def test_a_key_in_another_case_or_longer_is_refused_not_read_as_the_default(tmp_path, old,
                                                                             new, meant):
    """Review R10 of d22eebf0: ``"Threshold": 0.2`` in an old-format config was near no
    known key (the name rule was case-sensitive), so it loaded the default threshold 0.5
    with a warning that it was not read: wrong boundary maps, wrong grain size. A key in
    another letter case, with ``-`` for ``_``, or that begins with a key results depend
    on is refused."""
    config = _current(input_norm="channels", threshold=0.2)
    del config["config_version"]
    msg = _refused_renamed(tmp_path, config, old, new)
    if meant:
        assert f"did you mean {meant!r}?" in msg
