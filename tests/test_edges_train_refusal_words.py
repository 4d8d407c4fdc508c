"""UAED training refusals name what each caller sets: the keyword in Python, the flag in
``srmat edges train``, the Train widget's control (errors.worded_error)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from napari_srmat.edges import train_boundaries_job  # noqa: E402
from napari_srmat.jobs import run_job  # noqa: E402


def test_a_checkpoint_of_another_encoder_is_refused_before_the_data_in_each_caller_s_words(
    tmp_path,
):
    """Checkpoint 'default' (the shipped weights, encoder tiny) with encoder small: the
    refusal 'init_checkpoint has encoder 'tiny', the run uses 'small'' named a keyword
    in the widget, said nothing of what to choose, and came after all the data were read
    (failed before: a data folder that does not exist was told first)."""
    cfg = dict(data_root=str(tmp_path / "no_such_data"), out=str(tmp_path / "run"),
               encoder="small", init_checkpoint="default", device="cpu")  # fmt: skip
    with pytest.raises(ValueError) as info:
        run_job(train_boundaries_job(cfg), quiet=True)
    exc = info.value
    assert str(exc) == (
        "init_checkpoint 'default' (the shipped weights) has encoder 'tiny', the run uses "
        "encoder 'small': choose encoder 'tiny', or a checkpoint of encoder 'small' in "
        "init_checkpoint"
    )
    assert exc.cli_message == (
        "--init-checkpoint 'default' (the shipped weights) has encoder 'tiny', the run uses "
        "--encoder 'small': choose --encoder 'tiny', or a checkpoint of encoder 'small' in "
        "--init-checkpoint"
    )
    assert exc.gui_message == (
        "'Checkpoint' 'default' (the shipped weights) has encoder 'tiny', the run uses "
        "'Model / encoder' 'small': choose 'Model / encoder' 'tiny', or a checkpoint of "
        "encoder 'small' in 'Checkpoint'"
    )
    assert not (tmp_path / "run").exists()


def test_a_crop_below_the_least_names_the_widget_s_whole_images_value(tmp_path):
    """'crop must be at least 32 px (or None: whole images), got 30': the Train widget's
    whole images is 0 in 'Crop (px)', not None (failed before: no gui wording). Python
    keeps its words."""
    cfg = dict(data_root=str(tmp_path), out=str(tmp_path / "run"), crop=30, device="cpu")
    with pytest.raises(ValueError) as info:
        run_job(train_boundaries_job(cfg), quiet=True)
    assert str(info.value) == "crop must be at least 32 px (or None: whole images), got 30"
    assert info.value.gui_message == (
        "'Crop (px)' must be at least 32 px (or 0: whole images), got 30"
    )
