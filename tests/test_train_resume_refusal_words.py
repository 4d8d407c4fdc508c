"""The SR and the UAED training refuse a resume with other settings in one wording, each
setting named in the caller's words.

Before, the UAED refusal read 'cannot resume OUT/last: it was trained with other settings
(lr: stored ... != requested ...); resume it with the same settings (only epochs, device,
threads, AMP and top-k may change) or choose a new output folder' and the SR one
'OUT/train_state was started with other settings (lr: 0.001 -> 0.002): train into another
...'; both named the library's keywords (``lr``, ``patch``, ``crop``) to the Train
widget's user and to ``srmat``'s. Now both are ``sr.train.resume_refused``: the keyword
in Python, the flag in ``srmat`` (``--learning-rate``, not its deprecated ``--lr``), the
control in the widget ('Learning rate').
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("torch")

from napari_srmat.errors import error_message  # noqa: E402
from napari_srmat.jobs import run_job  # noqa: E402

#: The one shape of both refusals (the setting list and the settings that may change
#: in the caller's words).
SHAPE = re.compile(
    r"cannot resume \S+: it was trained with other settings \((?P<diffs>.+)\); "
    r"resume it with the same settings \(only (?P<may>.+) may change\), or "
    r"rerun .+ to start over, or choose a new output folder"
)


@pytest.fixture
def image_dir(tmp_path):
    """Training images as tests/test_sr_train.py's (its fixture's, written here)."""
    from PIL import Image
    from test_sr_train import _texture

    d = tmp_path / "hr"
    d.mkdir()
    for i in range(3):
        Image.fromarray(_texture(64, 72, i)).save(d / f"img_{i}.png")
    Image.fromarray(_texture(64, 64, 7)).save(d / "held_out.png")
    return d


def _refused(job, error):
    with pytest.raises(error) as refused:
        run_job(job, quiet=True)
    exc = refused.value
    return str(exc), exc.cli_message, error_message(exc, gui=True)


def _diffs(text):
    match = SHAPE.fullmatch(text)
    assert match, text
    return match["diffs"], match["may"]


def test_an_sr_resume_with_another_lr_and_patch_names_them_in_each_caller_s_words(
    tmp_path, image_dir
):
    from test_sr_train import _cfg

    from napari_srmat.sr import SRError
    from napari_srmat.sr.train import train_sr_job

    cfg = _cfg(tmp_path, image_dir, steps=1)
    run_job(train_sr_job(cfg), quiet=True)
    python, cli, gui = _refused(
        train_sr_job(dict(cfg, steps=2, resume=True, lr=1e-3, patch=16)), SRError
    )
    assert _diffs(python)[0] == (
        "lr: stored 0.003 != requested 0.001; patch: stored 32 != requested 16"
    )
    assert _diffs(cli)[0] == (
        "--learning-rate: stored 0.003 != requested 0.001; --patch: stored 32 != requested 16"
    )
    diffs, may = _diffs(gui)
    assert diffs == (
        "'Learning rate': stored 0.003 != requested 0.001; "
        "'HR patch (px)': stored 32 != requested 16"
    )
    assert may.startswith("'Steps', val_every") and "'Device'" in may
    assert "with 'Resume' unticked and 'Overwrite' ticked to start over" in gui


def test_a_uaed_resume_with_another_lr_and_crop_reads_as_the_sr_one(tmp_path):
    from test_edges_train import _cfg

    from napari_srmat.edges.train import train_boundaries_job
    from napari_srmat.outputs import OutputMismatchError

    cfg = _cfg(tmp_path, epochs=1, steps_per_epoch=1, num_threads=1)
    run_job(train_boundaries_job(cfg), quiet=True)
    python, cli, gui = _refused(
        train_boundaries_job(dict(cfg, epochs=2, resume=True, lr=2e-3, crop=40)),
        OutputMismatchError,
    )
    assert _diffs(python)[0] == (
        "crop: stored 32 != requested 40; lr: stored 0.001 != requested 0.002"
    )
    assert _diffs(cli)[0] == (
        "--crop: stored 32 != requested 40; --learning-rate: stored 0.001 != requested 0.002"
    )
    diffs, may = _diffs(gui)
    assert diffs == (
        "'Crop (px)': stored 32 != requested 40; 'Learning rate': stored 0.001 != requested 0.002"
    )
    assert may.startswith("'Epochs'") and "'Device'" in may and "'Checkpoint'" in may
    assert "with 'Resume' unticked and 'Overwrite' ticked to start over" in gui


@pytest.mark.gui
def test_the_train_widget_s_resume_with_another_learning_rate_names_its_control(
    make_napari_viewer, qtbot, tmp_path, monkeypatch
):
    """The widget's status line and notification name 'Learning rate', not ``lr``."""
    pytest.importorskip("qtpy")
    from test_widget_train_sr_warnings import sr_widget_on_a_layer

    import napari_srmat.widgets._worker as worker_mod
    from napari_srmat.widgets.train_widget import SR_TRAIN

    shown = []
    monkeypatch.setattr(worker_mod, "show_error", shown.append)
    w = sr_widget_on_a_layer(make_napari_viewer, qtbot, tmp_path / "sr", steps=1)

    def train():
        spec = w.current_spec()
        w.enqueue(spec)
        qtbot.waitUntil(
            lambda: spec.status in ("done", "failed") and not w.is_running, timeout=120_000
        )
        return spec

    assert train().status == "done"
    w.steps.setValue(2)
    w.lr.setValue(w.lr.value() / 2)
    w.resume.setChecked(True)
    assert train().status == "failed" and len(shown) == 1
    diffs, _ = _diffs(w.status.text().removeprefix(f"{SR_TRAIN}: failed: "))
    assert diffs.startswith("'Learning rate': stored ") and "lr:" not in shown[0]
    assert "'Learning rate': stored " in shown[0]


@pytest.mark.parametrize("absent", [("pairs",), ("teacher", "init_checkpoint")])
def test_an_sr_state_written_before_a_setting_existed_still_resumes(tmp_path, image_dir, absent):
    """A state written before ``pairs`` (2026-12-01), ``teacher`` or ``init_checkpoint``
    (2026-11-23) existed records none of them: a missing setting reads as its default
    None, as before 752da251 (which refused it: "--pairs: stored '<missing>' != requested
    None")."""
    import json

    from test_sr_train import _cfg

    from napari_srmat.sr.train import train_sr_job

    cfg = _cfg(tmp_path, image_dir, steps=1)
    run_job(train_sr_job(cfg), quiet=True)
    state = tmp_path / "run" / "train_state" / "config.json"
    config = json.loads(state.read_text())
    for key in absent:
        assert config["settings"].pop(key) is None
    state.write_text(json.dumps(config))
    result = run_job(train_sr_job(dict(cfg, steps=2, resume=True)), quiet=True)
    assert json.loads(state.read_text())["step"] == 2, result


def _cli_diffs(stored, requested):
    """The refusal of an SR resume from ``stored`` with ``requested`` settings, as
    ``srmat`` words it (its settings list)."""
    from napari_srmat.outputs import identity_differences
    from napari_srmat.sr import SRError
    from napari_srmat.sr.train import SETTING_WORDS, other_settings, resume_refused

    why, fix, fields = other_settings(
        identity_differences(stored, requested), SETTING_WORDS, ["steps"]
    )
    return _diffs(resume_refused(SRError, "run/train_state", why, fix, **fields).cli_message)[0]


def test_an_sr_resume_names_a_nested_degradation_mode_by_its_flag():
    """``degradation.mode`` was told by its keyword (no flag): 'degradation.mode: ...'."""
    diffs = _cli_diffs({"degradation": {"mode": "bicubic"}}, {"degradation": {"mode": "classical"}})
    assert diffs == "--degradation: stored 'bicubic' != requested 'classical'"


def test_an_sr_resume_with_pairs_aligned_does_not_read_as_its_opposite():
    """``--pairs-aligned`` sets register_pairs False: '--pairs-aligned: stored True !=
    requested False' read as the flag given before and not now."""
    diffs = _cli_diffs({"register_pairs": True}, {"register_pairs": False})
    assert diffs == "registration of --pairs (off: --pairs-aligned): stored True != requested False"


def test_both_trainings_name_the_settings_they_share_alike():
    """One table (sr.train.SHARED_SETTINGS), not the same entries in each training's."""
    from napari_srmat.edges.train import SETTING_WORDS as UAED
    from napari_srmat.sr.train import SETTING_WORDS as SR
    from napari_srmat.sr.train import SHARED_SETTINGS

    for key in SHARED_SETTINGS:
        assert UAED[key] == SR[key]
    assert SR["lr"].flag == "--learning-rate"
