"""The several-images note of ``srmat grain-size`` (76f65b8c) gave advice that failed as
written (s51 F3 #3, review of E2): with an image that failed, ``--method`` with "the same
images" refuses the specimen ("1 of 3 fields could not be measured"); after ``--mask`` it
left ``--mask`` out, so following it ran the model on every mask; without a pixel size it
promised a "mean G" that the specimen does not have. Each test follows the note as
written (the images it keeps, the options it repeats) and checks the specimen it gives."""

from __future__ import annotations

import json
import re
import shlex
import warnings

import numpy as np
from PIL import Image
from test_grainsize_several_images_note import _masks  # the note's own test's fields

from napari_srmat.cli import main

ADVICE = re.compile(r"give --method intercept(?P<plan> \(or planimetric\))? with "
                    r"(?:the same images|the \d+ measured \(not (?P<failed>.*?), which "
                    r"failed\))(?: and again (?P<options>.*?))? for the specimen's "
                    r"(?P<figures>.*)$")


def _cli(capsys, *args) -> tuple[int, str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = main(["grain-size", *args])
    out, err = capsys.readouterr()
    return rc, out, err


def _advice(err: str) -> re.Match:
    told = [line for line in err.splitlines() if "each measured on its own" in line]
    assert len(told) == 1, err
    found = ADVICE.search(told[0])
    assert found, told[0]
    return found


def _follow(capsys, images: list[str], advice: re.Match) -> dict:
    """Run what the note says: its images, less those it names, with its options."""
    left_out = (advice["failed"] or "").split(", ")
    kept = [path for path in images if path not in left_out]
    rc, out, err = _cli(capsys, *kept, *shlex.split(advice["options"] or ""),
                        "--method", "intercept", "--json")
    assert rc == 0, err
    return json.loads(out)["summary"]


def test_the_images_that_failed_are_named_to_leave_out(tmp_path, capsys):
    """An unreadable file and a blank mask (no test line crosses it) beside two masks:
    the note named "the same images", and --method refuses a specimen with a field
    that could not be measured."""
    images = _masks(tmp_path, 2)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    Image.fromarray(np.zeros((160, 160), np.uint8)).save(tmp_path / "blank.png")
    images += [str(tmp_path / "bad.png"), str(tmp_path / "blank.png")]
    rc, _, err = _cli(capsys, *images, "--mask", "--pixel-size-um", "0.5")
    assert rc != 0  # an image could not be read
    advice = _advice(err)
    assert advice["failed"] == f"{images[2]}, {images[3]}", err
    summary = _follow(capsys, images, advice)
    assert summary["n_fields"] == 2 and summary["astm_g"] is not None


def test_the_runs_options_are_repeated(tmp_path, capsys):
    """--mask, the pixel size and --mask-scale are repeated (without --mask the
    masks went to the boundary model); --mask-scale is no planimetric option, so the
    note no longer offers planimetric with it."""
    images = _masks(tmp_path, 3)
    rc, _, err = _cli(capsys, *images, "--mask", "--pixel-size-um", "0.5",
                      "--mask-scale", "1")
    assert rc == 0
    advice = _advice(err)
    assert shlex.split(advice["options"]) == ["--mask", "--pixel-size-um", "0.5",
                                              "--mask-scale", "1"], err
    assert advice["plan"] is None and advice["failed"] is None
    summary = _follow(capsys, images, advice)
    assert summary["n_fields"] == 3 and summary["astm_g"] is not None


def test_without_a_pixel_size_no_mean_g_is_promised(tmp_path, capsys):
    """Masks without a pixel size: the specimen gives the fields' N_L with its interval
    and %RA, no G; the note said 'mean G'."""
    images = _masks(tmp_path, 2)
    rc, _, err = _cli(capsys, *images, "--mask")
    assert rc == 0
    advice = _advice(err)
    assert advice["figures"].startswith("mean N_L (N_A: planimetric) with its 95% CI"), err
    assert "mean G" not in advice["figures"]
    assert advice["figures"].endswith("its G needs a pixel size: add --pixel-size-um")
    summary = _follow(capsys, images, advice)
    assert summary["astm_g"] is None and summary["ci95_half_width"] is not None
