"""One closest-name rule (``jobs.closest_name``) for every "did you mean" hint: a plain
function's keyword, a training option given as a dict, a model option of
``load_model`` and an option in the Train widget's Extra; one wording of several
unknown options (``jobs.unknown_names_hint``) for ``load_model`` and the widget.

A hint that names another quantity is worse than none: a metallurgist follows it and
the run silently does something else. Until 2026-12-07 the widget used difflib's rule
alone (cutoff 0.6: 'batch' in an SR training's Extra named 'patch') and the library its
own (a name that begins the word, or that the word begins, first, the longest); the one
rule of 7da010b7 named 'batch_size' for 'patch_size'; 2792e155 named any known name that
begins the word at a '_' ('lr' for 'lr_decay', 'tile' for 'tile_overlap', 'mask' for
'mask_threshold', 'steps' for an SR training's 'steps_per_epoch') and difflib's
look-alike of another quantity ('threshold_rule' for 'threshold_value'). Each expected
hint below was checked by hand to be the same quantity as the word given.
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
        ("UAED", "lr_scheduler", "lr_schedule"),
        ("UAED", "std", "std_weight"),  # the shortest: the library named std_weight_final
        ("UAED", "epoch", "epochs"),
        ("UAED", "steps", "steps_per_epoch"),
        ("UAED", "crop_size", "crop"),  # lost its hint on 2026-12-07 (7da010b7)
        ("UAED", "encoder_name", "encoder"),
        ("UAED", "resume_from", "resume"),
        ("UAED", "lr_rate", "lr"),  # 'rate' restates 'lr'
        ("UAED", "bacth_size", "batch_size"),  # a typo in its first word
        # another quantity after a known name: no hint (2792e155 named the known one)
        ("UAED", "lr_decay", None),
        ("UAED", "lr_warmup", None),
        ("UAED", "lr_step", None),
        ("UAED", "lr_min", None),
        ("UAED", "lr_max", None),
        ("UAED", "lr_end", None),
        ("UAED", "epochs_pretrain", None),  # was 'epochs' (it means 'pretrain_epochs')
        ("UAED", "patch_size", None),  # was its look-alike 'batch_size'
        ("UAED", "patchsize", None),  # was 'batch_size'
        ("UAED", "iterations", None),  # nothing alike: the widget's 0.6 found none either
        ("SR", "batch", "batch_size"),  # the widget named 'patch'
        ("SR", "stpes", "steps"),
        ("SR", "patch_size", "patch"),  # 7da010b7 named its look-alike 'batch_size'
        ("SR", "patch_px", "patch"),  # difflib's look-alike, the patch in px
        ("SR", "out_dir", "out"),
        ("SR", "scale_factor", "scale"),
        ("SR", "model_path", "model"),
        ("SR", "resume_from", "resume"),
        ("SR", "lr_rate", "lr"),
        ("SR", "epoch", None),  # the widget named 'patch'
        ("SR", "schedule", None),  # the widget named 'scale'
        ("SR", "steps_per_epoch", None),  # was 'steps': an SR step is not an epoch's
        ("SR", "lr_warmup", None),  # was 'lr'
        ("SR", "lr_step", None),
        ("SR", "lr_decay", None),
        ("SR", "lr_min", None),
        ("SR", "lr_max", None),
        ("SR", "lr_end", None),
        ("SR", "lr_schdule", None),  # no lr_schedule in an SR training: was 'lr'
        ("SR", "val_split", None),  # was 'val', the validation folder
        ("SR", "val_batch_size", None),  # was 'val'
        ("SR", "model_scale", None),  # was 'model'
        # the same quantity: what 'warmup' counts, what 'ema' is (RESTATING_SUFFIXES_OF;
        # no hint until s51: lost with the fixed suffixes)
        ("SR", "warmup_steps", "warmup"),
        ("SR", "warmup_iters", "warmup"),
        ("SR", "ema_decay", "ema"),  # the boundary training's own name of it
        ("SR", "warmup_epochs", None),  # another unit: an SR warm-up is in steps
        ("SR", "lr_steps", None),  # 'steps' restates 'warmup' only
        ("UAED", "ema_decay_rate", "ema_decay"),  # guard: 'rate' restates any name
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
        ("SR", "warmup_steps"),
        ("SR", "ema_decay"),
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
        ("lr_schdule", "lr_schedule"),  # a typo of a word after 'lr'
        ("lr_schedule_x", "lr_schedule"),  # a stray letter: the most alike
        ("lr_decay", None),  # another quantity after 'lr': was 'lr'
        ("out_dir", "out"),  # 'dir' restates 'out'
        ("batch", "batch_size"),  # cut short: the shortest name it begins
        ("batchsize", "batch_size"),  # its words joined: the most alike
        ("patchsize", None),  # never 'batch_size' for patch*
        ("lrate", None),  # 'lr' not followed by '_'
        ("epochs", None),
    ],
)
def test_the_closest_name_rule(word, meant):
    """Shortest name the word begins; else the most alike (difflib, 0.75) of the same
    quantity (word by word, the same first letter); else the longest name that begins
    the word at a '_' followed by a restating suffix; else none."""
    from napari_srmat.jobs import closest_name

    names = ["batch_size", "lr", "lr_schedule", "out", "patch"]
    assert closest_name(word, names) == meant


@pytest.mark.parametrize(
    ("function", "word", "meant"),
    [
        ("super_resolve", "tile_size", "tile"),
        ("super_resolve", "scale_factor", "scale"),
        ("super_resolve", "out_dir", "out"),
        ("predict_boundaries", "out_dir", "out"),
        ("predict_boundaries", "model_path", "model"),
        ("predict_boundaries", "tile_size", "tile"),
        ("measure_grain_size", "threshold_value", "threshold"),  # the threshold's value
        ("measure_grain_size", "model_path", "model"),
        # another quantity: no hint (2792e155 named the known name it begins with)
        ("super_resolve", "tile_overlap", None),  # was 'tile' (there is 'overlap')
        ("super_resolve", "tile_padding", None),  # was 'tile'
        ("super_resolve", "image_scale", None),  # was 'image'
        ("super_resolve", "patch_size", None),  # was 'batch_size'
        ("predict_boundaries", "tile_overlap", None),
        ("predict_boundaries", "patch_size", None),  # was 'batch_size'
        ("predict_boundaries", "image_scale", None),  # was 'image'
        ("measure_grain_size", "mask_threshold", None),  # was 'mask' ('threshold' before)
        ("measure_grain_size", "image_scale", None),  # was 'image'
        ("measure_grain_size", "model_scale", None),  # was 'model'
    ],
)
def test_a_plain_function_names_the_keyword_meant(function, word, meant):
    import numpy as np

    from napari_srmat.edges.infer import predict_boundaries
    from napari_srmat.grainsize import measure_grain_size
    from napari_srmat.sr.apply import super_resolve

    fn = {
        "super_resolve": super_resolve,
        "predict_boundaries": predict_boundaries,
        "measure_grain_size": measure_grain_size,
    }[function]
    told = rf" \(did you mean '{meant}'\?\)$" if meant else r"$"
    with pytest.raises(TypeError, match=rf"argument '{word}'{told}"):
        fn(np.zeros((8, 8), np.uint8), **{word: 1})


def test_an_evaluation_keyword_of_another_quantity_has_no_hint():
    """'threshold_value' is not the evaluation's 'threshold_rule' (difflib's look-alike,
    named until 2026-12-07); 'threshold_methd' is not 'threshold'."""
    import inspect

    from napari_srmat.edges.evaluate import evaluate_boundaries_job
    from napari_srmat.jobs import closest_name

    names = list(inspect.signature(evaluate_boundaries_job).parameters)
    assert closest_name("threshold_value", names) is None
    assert closest_name("mask_threshold", names) is None
    assert closest_name("threshold_rul", names) == "threshold_rule"


def test_a_misspelt_model_option_names_the_option_meant():
    """``load_model("cnn", n_feat=16)`` listed the model's options, without the one
    meant; now worded as the Train widget's Extra (``jobs.unknown_names_hint``)."""
    from napari_srmat.sr import load_model

    with pytest.raises(
        ValueError, match=r"^cnn has no option 'n_feat'; 'n_feat': did you mean 'n_feats'\?$"
    ):
        load_model("cnn", scale=2, device="cpu", pretrained=False, n_feat=16)


def test_no_name_is_meant_by_an_empty_word():
    from napari_srmat.jobs import closest_name

    assert closest_name("", ["a", "b"]) is None


def test_several_misspelt_model_options_each_name_the_option_meant():
    """A hint per option, as the Train widget's Extra gives."""
    from napari_srmat.sr import load_model

    with pytest.raises(
        ValueError,
        match=r"^cnn has no options 'in_chans', 'n_feat'; 'in_chans': did you mean "
        r"'in_channels'\?; 'n_feat': did you mean 'n_feats'\?$",
    ):
        load_model("cnn", scale=2, device="cpu", pretrained=False, n_feat=16, in_chans=1)


def test_load_model_and_the_widget_word_several_unknown_options_alike(tmp_path):
    """One wording (``jobs.unknown_names_hint``): the option meant of each, and the
    options listed where one has none. Until 2026-12-07 ``load_model`` put its hints in
    parentheses and always listed its options; the widget dropped every hint where one
    option had none."""
    pytest.importorskip("napari")
    from napari_srmat.sr import load_model
    from napari_srmat.widgets.layers import WidgetInputError
    from napari_srmat.widgets.train_widget import SR_TRAIN, JobSpec, make_job

    with pytest.raises(ValueError) as model:
        load_model("cnn", scale=2, device="cpu", pretrained=False, n_feat=16, foo=1)
    assert str(model.value) == (
        "cnn has no options 'foo', 'n_feat'; 'n_feat': did you mean 'n_feats'?; "
        "options: in_channels, n_blocks, n_feats, res_scale"
    )
    spec = JobSpec(SR_TRAIN, {"data": str(tmp_path), "extra": {"stpes": 1, "foo": 1}})
    with pytest.raises(WidgetInputError) as widget:
        make_job(spec)
    told = str(widget.value)
    assert told.startswith(
        "unknown SR training option(s) in Extra: ['foo', 'stpes']; "
        "'stpes': did you mean 'steps'?; options: arch, batch_size, "
    )
