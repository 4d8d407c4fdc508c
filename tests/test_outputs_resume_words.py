"""A rerun refused to resume a stopped run's ``OUT.partial`` says which setting differs,
its value then and now in its user's words (the ``srmat`` flag, the keyword, the widget's
control), what to rerun with, and that the partial is kept (E6 finding 4, s51). Until
then it quoted the identity: ``attrs.tile: stored 256 != requested 512; attrs.tiling.tile:
stored 248 != requested 472; chunks: stored [1472, 1472] != requested [1632, 1632]``, the
weights' and pixels' digests."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

from test_write_protocol import SR, _one_error_line, _png, _run, _stopped_after_one_tile  # noqa: E402, I001

from napari_srmat.outputs import started_differently_error  # noqa: E402

#: The refusal's end, as before (the flag that starts over).
START_OVER = "or pass --no-resume to start over\n"


@pytest.fixture()
def stopped(tmp_path):
    """A bicubic x4 run of a 96 px image stopped after its first tile (tile 32,
    overlap 8): ``out.zarr.partial`` kept."""
    a = _png(tmp_path / "a.png", 1, 96)
    out = tmp_path / "out.zarr"
    assert _stopped_after_one_tile(a, "bicubic", out, tile=32, overlap=8) is None
    assert Path(f"{out}.partial").is_dir() and not out.exists()
    return a, out


def _refused(capsys, argv) -> str:
    rc, _, err = _run([*SR, *argv], capsys)
    assert rc == 2 and _one_error_line(err)
    return err.strip().splitlines()[-1] + "\n"


def test_another_tile_is_named_by_its_flag_with_both_values(stopped, capsys):
    """Failed before: 'attrs.tile: stored 32 != requested 40; attrs.tiling.tile: ...;
    chunks: ...'."""
    a, out = stopped
    err = _refused(capsys, [a, out, "--model", "bicubic", "--tile", "40", "--overlap", "8"])
    assert err == (f"srmat sr run: error: {out}.partial was started from another input or "
                   "with other settings (--tile 32, this run 40); it is kept: give another output "
                   f"path, or rerun with --tile 32 to resume it, {START_OVER}")
    assert Path(f"{out}.partial").is_dir()  # nothing deleted


def test_another_model_and_scale_name_no_digest(stopped, capsys):
    """Another model and scale: the two flags, not the weights' digests, the tiling, the
    output's shape and chunks that follow from them. Failed before."""
    a, out = stopped
    err = _refused(capsys, [a, out, "--model", "lanczos", "--scale", "2", "--tile", "32",
                            "--overlap", "8"])
    assert err == (f"srmat sr run: error: {out}.partial was started from another input or "
                   "with other settings (--model bicubic, this run lanczos; --scale 4, this "
                   "run 2); it is kept: give another output path, or rerun with --model bicubic "
                   f"and with --scale 4 to resume it, {START_OVER}")


def test_a_pixel_size_given_now_is_told_in_the_input_s_um(stopped, capsys):
    """The store records its output's pixel size (input's / scale): told as the input's,
    the value --pixel-size-um takes, and "without" where none was given. Failed before
    ('pixel_size_um: stored None != requested 0.125')."""
    a, out = stopped
    err = _refused(capsys, [a, out, "--model", "bicubic", "--tile", "32", "--overlap", "8",
                            "--pixel-size-um", "0.5"])
    assert "(--pixel-size-um none, this run 0.5); it is kept: give another output path, or " \
           "rerun without --pixel-size-um to resume it" in err


def test_the_same_refusal_in_python_and_in_a_widget_s_words():
    """The keyword in Python, the control in the SR widget. Failed before (the
    identity's keys in all three)."""
    exc = started_differently_error(
        "sr.zarr.partial", [], stored={"attrs": {"tile": 256, "tiling": {"tile": 248}},
                                       "chunks": [1472, 1472]},
        requested={"attrs": {"tile": 512, "tiling": {"tile": 472}}, "chunks": [1632, 1632]})
    assert str(exc) == ("sr.zarr.partial was started from another input or with other "
                        "settings (tile=256, this run 512); it is kept: give another output "
                        "path, or rerun with tile=256 to resume it, or pass resume=False to "
                        "start over")
    assert exc.gui_message == ("sr.zarr.partial was started from another input or with "
                               "other settings ('Tile (LR px)' 256, this run 512); it is "
                               "kept: give another output path, or rerun with 'Tile (LR "
                               "px)' 256 to resume it, or tick 'Overwrite' to start over")


def test_other_weights_of_one_model_and_scale_name_the_checkpoint():
    """The same model and scale with other weights (another checkpoint, or its files
    changed): the checkpoint it was started with, not the digests. Failed before."""
    exc = started_differently_error(
        "sr.zarr.partial", [],
        stored={"attrs": {"model": "cnn", "scale": 4, "checkpoint": "/ck/a",
                          "weights_sha256": "aa" * 16}},
        requested={"attrs": {"model": "cnn", "scale": 4, "checkpoint": "/ck/b",
                             "weights_sha256": "bb" * 16}})
    assert "aa" * 16 not in exc.cli_message and "weights_sha256" not in exc.cli_message
    assert ("(the model's weights: not those of /ck/a when it was started); it is kept: "
            "give another output path, or rerun with the checkpoint it was started with "
            "(/ck/a, as it was then) to resume it") in exc.cli_message


def test_only_what_follows_from_the_settings_is_told_as_before():
    """A difference of the chunks alone (another version's defaults) names no setting:
    it is told as the identity has it (as before; the keywords giving the identities are
    new, so this failed before only for them)."""
    exc = started_differently_error("s.zarr.partial", [], stored={"chunks": [64, 64]},
                                    requested={"chunks": [32, 32]})
    assert "chunks: stored [64, 64] != requested [32, 32]" in str(exc)


def test_the_input_is_named_not_its_digest(stopped, capsys, tmp_path):
    """Another image: the input it was started from, by its path; no digest. Failed
    before ('input.pixels: stored <digest> != requested <digest>')."""
    a, out = stopped
    b = _png(tmp_path / "b.png", 2, 96)
    err = _refused(capsys, [b, out, "--model", "bicubic", "--tile", "32", "--overlap", "8"])
    assert err == (f"srmat sr run: error: {out}.partial was started from another input or "
                   f"with other settings (the input image: other pixels than {a.resolve()} "
                   "held when it was started); it is kept: give another output path, or rerun "
                   "with the input it was "
                   f"started from ({a.resolve()}, as it was then) to resume it, {START_OVER}")
    assert Path(f"{out}.partial").is_dir()


def test_a_color_fix_method_is_not_told_as_its_switch():
    """``--no-color-fix`` is a switch: a refusal said 'rerun with --no-color-fix wavelet'
    (9f0ff159; failed there, passes since f62685c6): the method is named as recorded, and
    (s51 F5 finding 5) the rerun as the switch is given: without it."""
    exc = started_differently_error(
        "s.partial", [], stored={"attrs": {"model": "onestep", "options": {
            "color_fix": "wavelet"}}},
        requested={"attrs": {"model": "onestep", "options": {"color_fix": "none"}}})
    assert "--no-color-fix wavelet" not in exc.cli_message
    assert "(the model's option color_fix wavelet, this run none)" in exc.cli_message
    assert "rerun without --no-color-fix to resume it" in exc.cli_message
