"""A resume refusal names what its user can give (s51 F5, review R6 of 9f0ff159,
f62685c6): the input's pixel size, not the output's an SR store records (finding 3); an
SR model's options and the settings no widget control gives, as what they are; every
difference to change, a fast path of another install too (finding 5)."""

from __future__ import annotations

from napari_srmat.outputs import started_differently_error

CNN = {"model": "cnn", "scale": 4, "tile": 32, "overlap": 8}


def _refusal(stored, requested):
    exc = started_differently_error("s.partial", [], stored=stored, requested=requested)
    return (exc.cli_message.split("settings ", 1)[1],
            exc.gui_message.split("settings ", 1)[1])


def test_another_scale_of_a_calibrated_input_is_not_a_pixel_size_difference():
    """Failed before: '(--scale 4, this run 2; --pixel-size-um 0.5, this run 0.5)': the
    store records the output's pixel size (0.125 at x4, 0.25 at x2), the input's is the
    same."""
    cli, gui = _refusal({"attrs": CNN, "pixel_size_um": 0.125},
                        {"attrs": {**CNN, "scale": 2}, "pixel_size_um": 0.25})
    assert cli.startswith("(--scale 4, this run 2); it is kept")
    assert "pixel" not in cli and "pixel" not in gui


def test_a_small_pixel_size_difference_is_told_in_digits_that_show_it():
    """Failed before: '(--pixel-size-um 0.5, this run 0.5)' (6 digits)."""
    cli, _ = _refusal({"attrs": CNN, "pixel_size_um": 0.1250000001},
                      {"attrs": CNN, "pixel_size_um": 0.125})
    assert cli.startswith("(--pixel-size-um 0.5000000004, this run 0.5); ")
    assert "rerun with --pixel-size-um 0.5000000004 to resume it" in cli


def test_a_model_option_without_a_flag_is_told_as_a_python_option():
    """Failed before: 'rerun with seed 0' (srmat sr run has no --seed)."""
    cli, gui = _refusal({"attrs": {"model": "diff", "options": {"seed": 0}}},
                        {"attrs": {"model": "diff", "options": {"seed": 1}}})
    assert cli.startswith("(the model's option seed 0, this run 1); ")
    assert ("rerun with the model's option seed=0 (a Python option of load_model: srmat sr "
            "run has no flag for it) to resume it") in cli
    assert "widget runs the model's default" in gui


def test_a_color_fix_method_given_back_as_its_switch():
    """Failed before: 'rerun with color_fix none' (the CLI gives it as --no-color-fix)."""
    cli, _ = _refusal({"attrs": {"model": "onestep", "options": {"color_fix": "none"}}},
                      {"attrs": {"model": "onestep", "options": {"color_fix": "wavelet"}}})
    assert "rerun with --no-color-fix to resume it" in cli


def test_widget_words_name_no_missing_control():
    """Failed before: 'pixel_size_um none', 'error_map on' (no such controls)."""
    _, gui = _refusal({"attrs": CNN, "pixel_size_um": None},
                      {"attrs": CNN, "pixel_size_um": 0.125})
    assert gui.startswith("(the input layer's pixel size none, this run 0.5); ")
    _, gui = _refusal({"tile": 256, "error_model": {"threshold_rule": "f1"}}, {"tile": 256})
    assert gui.startswith("(the error map on, this run off); ")
    assert "pixel_size_um" not in gui and "error_map" not in gui


def test_a_fast_path_difference_is_told_beside_another_tile():
    """Failed before: only '--tile 32, this run 40': following it was refused again (the
    fast path of another install)."""
    cli, _ = _refusal({"attrs": {"tile": 32, "fast_path": "cv2"}}, {"attrs": {"tile": 40}})
    assert cli.startswith("(--tile 32, this run 40; the fast path: cv2 when it was started, "
                          "none here (another install: its libraries differ)); ")
    assert "rerun with --tile 32 and on an install with the fast path cv2 to resume" in cli


def test_the_widget_labels_are_the_named_constants():
    """The widgets' labels a refusal names are one constant each (s51 F5 finding 6; a
    refactor, no behaviour change: the words passed before, the constants are new)."""
    from napari_srmat.outputs import RESUME_SETTINGS, SR_TILE_CONTROL, TTA_CONTROL

    assert RESUME_SETTINGS["attrs.tile"][2] == f"'{SR_TILE_CONTROL}'" == "'Tile (LR px)'"
    assert RESUME_SETTINGS["tta"][2] == f"'{TTA_CONTROL}'" == "'Augmentation'"
