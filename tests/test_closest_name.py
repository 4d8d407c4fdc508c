"""One closest-name rule (``jobs.closest_name``) for every "did you mean" hint: a plain
function's keyword, a training option given as a dict, a model option of
``load_model`` and an option in the Train widget's Extra.

Until 2026-12-07 the widget used difflib's rule alone (cutoff 0.6) and the library its
own (a name that begins the word, or that the word begins, first, the longest): for
the same word they named different options ('batch' in an SR training's Extra:
'patch' in the widget, 'batch_size' in the library), the library took 'lr' for
'lr_schdule' and 'steps' for the UAED option 'steps_per_epoch' given to an SR
training, and a model's misspelt option had no hint at all.
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("torch")


def _library_hint(kind: str, word: str) -> str | None:
    """The option the training ``kind`` ("SR", "UAED") names for option ``word``."""
    from napari_srmat.edges.train import train_boundaries_job
    from napari_srmat.sr.train import train_sr_job

    job = train_sr_job if kind == "SR" else train_boundaries_job
    with pytest.raises(TypeError) as exc:
        next(job({word: 1}))
    hint = re.search(r"\(did you mean '(\w+)'\?\)$", str(exc.value))
    return hint[1] if hint else None


@pytest.mark.parametrize(
    ("kind", "word", "meant"),
    [
        ("UAED", "ema", "ema_decay"),  # cut short: the widget listed every option
        ("UAED", "batch", "batch_size"),
        ("UAED", "lr_schdule", "lr_schedule"),  # a typo: the library named 'lr'
        ("UAED", "std", "std_weight"),  # the shortest: the library named std_weight_final
        ("UAED", "epoch", "epochs"),
        ("UAED", "steps", "steps_per_epoch"),
        ("UAED", "lr_decay", "lr"),  # a name with a suffix: the name it begins with
        ("UAED", "crop_size", "crop"),  # lost its hint on 2026-12-07 (7da010b7)
        ("UAED", "encoder_name", "encoder"),
        ("UAED", "resume_from", "resume"),
        ("UAED", "lr_rate", "lr"),
        ("UAED", "patch_size", "batch_size"),  # no name begins it: the most alike
        ("UAED", "iterations", None),  # nothing alike: the widget's 0.6 found none either
        ("SR", "batch", "batch_size"),  # the widget named 'patch'
        ("SR", "stpes", "steps"),
        ("SR", "epoch", None),  # the widget named 'patch'
        ("SR", "schedule", None),  # the widget named 'scale'
        ("SR", "steps_per_epoch", "steps"),  # the name it begins with
        ("SR", "patch_size", "patch"),  # 7da010b7 named its look-alike 'batch_size'
        ("SR", "out_dir", "out"),
        ("SR", "scale_factor", "scale"),
        ("SR", "model_path", "model"),
        ("SR", "warmup_steps", "warmup"),
        ("SR", "ema_decay", "ema"),  # not the most alike, 'weight_decay'
        ("SR", "val_split", "val"),
        ("SR", "lr_rate", "lr"),
    ],
)
def test_a_training_names_the_option_meant(kind, word, meant):
    assert _library_hint(kind, word) == meant


@pytest.mark.parametrize(
    ("kind", "word"),
    [
        ("SR", "batch"),
        ("SR", "epoch"),
        ("SR", "iters"),
        ("SR", "stpes"),
        ("SR", "steps_per_epoch"),
        ("UAED", "ema"),
        ("UAED", "lr_schdule"),
        ("UAED", "crop_size"),
        ("UAED", "epoch"),
    ],
)
def test_the_train_widget_names_the_option_the_library_names(tmp_path, kind, word):
    """The widget's Extra refusal names the option the library's TypeError names (or
    lists the options where the library names none)."""
    pytest.importorskip("napari")
    from napari_srmat.widgets.layers import WidgetInputError
    from napari_srmat.widgets.train_widget import SR_TRAIN, UAED_TRAIN, JobSpec, make_job

    meant = _library_hint(kind, word)
    spec = JobSpec(
        SR_TRAIN if kind == "SR" else UAED_TRAIN, {"data": str(tmp_path), "extra": {word: 1}}
    )
    with pytest.raises(WidgetInputError) as widget:
        make_job(spec)
    told = str(widget.value)
    assert told.startswith(f"unknown {kind} training option(s) in Extra: ['{word}']; ")
    if meant:
        assert told.endswith(f"; '{word}': did you mean '{meant}'?")
    else:  # every option listed
        assert "; options: " in told and "did you mean" not in told


@pytest.mark.parametrize(
    ("word", "meant"),
    [
        ("patch_size", "patch"),  # not its look-alike 'batch_size'
        ("lr_schdule", "lr_schedule"),  # the most alike begins with 'lr': a typo
        ("lr_schedule_x", "lr_schedule"),  # the longest name it begins with
        ("batch", "batch_size"),  # cut short: the shortest name it begins
        ("batchsize", "batch_size"),  # no '_' after 'batch': the most alike
        ("lrate", None),  # 'lr' not followed by '_'
        ("epochs", None),
    ],
)
def test_the_closest_name_rule(word, meant):
    """Shortest name the word begins; else the longest name that begins the word at a
    '_' unless the most alike (difflib, 0.75) begins with it; else the most alike."""
    from napari_srmat.jobs import closest_name

    names = ["batch_size", "lr", "lr_schedule", "out", "patch"]
    assert closest_name(word, names) == meant


@pytest.mark.parametrize(
    ("function", "word", "meant"),
    [
        ("super_resolve", "tile_size", "tile"),
        ("super_resolve", "scale_factor", "scale"),
        ("predict_boundaries", "out_dir", "out"),
        ("predict_boundaries", "model_path", "model"),
    ],
)
def test_a_plain_function_names_the_keyword_meant(function, word, meant):
    import numpy as np

    from napari_srmat.edges.infer import predict_boundaries
    from napari_srmat.sr.apply import super_resolve

    fn = {"super_resolve": super_resolve, "predict_boundaries": predict_boundaries}[function]
    with pytest.raises(TypeError, match=rf"'{word}'.* \(did you mean '{meant}'\?\)$"):
        fn(np.zeros((8, 8), np.uint8), **{word: 1})


def test_a_misspelt_model_option_names_the_option_meant():
    """``load_model("cnn", n_feat=16)`` listed the model's options, without the one
    meant."""
    from napari_srmat.sr import load_model

    with pytest.raises(
        ValueError,
        match=r"^cnn has no option 'n_feat' \(did you mean "
        r"'n_feats'\?\); its options: in_channels, ",
    ):
        load_model("cnn", scale=2, device="cpu", pretrained=False, n_feat=16)


def test_no_name_is_meant_by_an_empty_word():
    from napari_srmat.jobs import closest_name

    assert closest_name("", ["a", "b"]) is None


def test_several_misspelt_model_options_each_name_the_option_meant():
    """A hint per option, as the Train widget's Extra gives: the hint was the first
    option's alone, beside both names."""
    from napari_srmat.sr import load_model

    with pytest.raises(
        ValueError,
        match=r"^cnn has no options 'in_chans', 'n_feat' \('in_chans': did you mean "
        r"'in_channels'\?; 'n_feat': did you mean 'n_feats'\?\); its options: ",
    ):
        load_model("cnn", scale=2, device="cpu", pretrained=False, n_feat=16, in_chans=1)
