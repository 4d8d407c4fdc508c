"""Which input file a message is about: the one rule of :func:`napari_srmat.cli.about_file`
(a message names its file when it starts with ``PATH: ``), followed by ``srmat heyn``'s
masks and ``srmat grain-size``'s images alike; and the files named by role in ``srmat
register``'s errors (:func:`napari_srmat.cli.naming_roles`)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_srmat.cli import about_file, failed_input, main, named_first, naming_file

#: What a mask whose pixels are all boundary is told (it names no file).
NOT_A_MAP = "100% of the mask's pixels are boundary"


@pytest.mark.parametrize("path", ["mask", "grains", "m"])
def test_a_path_inside_the_words_does_not_name_the_file(path):
    """``about_file("mask", "... the mask's pixels ...")`` returned the text unnamed: the
    path anywhere in it counted as naming the file. Now only the path as the text's first
    words does (``PATH: ...``; ``PATH.png is ...`` for a name with a suffix)."""
    text = f"too few grains: {NOT_A_MAP} of the mask"
    assert about_file(path, text) == f"{path}: {text}"
    for given, named in ((path, f"{path}: {text}"), (f"{path}.png", f"{path}.png is damaged")):
        assert about_file(given, named) == named
        assert about_file(f"./{given}", named) == named


def test_an_error_naming_the_file_elsewhere_is_named_in_front():
    """``naming_file``'s rule is :func:`about_file`'s: an error that names the file only
    inside its words gets ``PATH: `` in front too."""
    with pytest.raises(ValueError, match=r"^mask: the mask is empty$"):
        with naming_file("mask"):
            raise ValueError("the mask is empty")


def test_naming_file_names_each_wording_by_about_files_rule():
    """``naming_file`` wrote its own ``f"{path}: {text}"`` on each wording of an error
    (its message, ``cli_message``, ``gui_message``): a command's words that named the
    file already (``a.png: ...`` where the message said ``the mask ...``) read
    ``./a.png: a.png: ...``. It now calls :func:`about_file`, the one rule, on each."""
    exc = ValueError("the mask is empty")
    exc.cli_message = "a.png: the mask is empty (give --threshold)"
    exc.gui_message = "the mask is empty"
    with pytest.raises(ValueError) as info:
        with naming_file("./a.png"):
            raise exc
    assert info.value.args[0] == "./a.png: the mask is empty"
    assert info.value.cli_message == "a.png: the mask is empty (give --threshold)"
    assert info.value.gui_message == "./a.png: the mask is empty"


def test_a_failed_inputs_warnings_are_listed_as_its_callers_give_them():
    """``failed_input`` stripped the ``PATH: `` that its callers had just put in front
    (by :func:`named_first`); they give it the lines unnamed now (those their stderr
    names), and it lists them as given, as an input's row lists its own."""
    warnings = ["no pixel size", "a.png is damaged", "x"]
    entry = failed_input("./a.png", "a.png: too small", warnings)
    assert entry == {"path": "./a.png", "error": "a.png: too small", "warnings": warnings}
    assert named_first("a.png", "cannot read a.png: damaged") == ""


@pytest.fixture
def masks(tmp_path, monkeypatch):
    """A mask ``mask`` (no suffix: the word is in its warning) whose pixels are all
    boundary, and a grid mask ``grid.png``, in the working folder."""
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    Image.fromarray(np.full((64, 64), 255, np.uint8)).save("mask", format="PNG")
    grid = np.zeros((64, 64), np.uint8)
    grid[::8, :] = grid[:, ::8] = 255
    Image.fromarray(grid).save("grid.png")
    return ["mask", "grid.png"]


def _warnings(err: str, command: str) -> list[str]:
    prefix = f"srmat {command}: warning: "
    return [line[len(prefix):] for line in err.splitlines() if line.startswith(prefix)]


def test_heyn_and_grain_size_name_each_masks_warnings_alike(masks, capsys):
    """``srmat grain-size mask --mask`` told ``100% of the mask's pixels are boundary``
    without naming ``mask`` (its name is a word of the warning); ``srmat heyn`` named it
    by its own hand-written rule. Now both name every warning of a mask by
    :func:`about_file`, the same lines."""
    # --skeletonize: grain-size --mask thins (MEASURED_SKELETONIZE), and since 298125b6
    # a thinned map is refused above MAX_THINNED_BOUNDARY_FRACTION, so the same mode
    main(["heyn", *masks, "--lines", "20", "--skeletonize"])
    heyn = _warnings(capsys.readouterr().err, "heyn")
    main(["grain-size", *masks, "--mask", "--lines", "20"])
    grain_size = _warnings(capsys.readouterr().err, "grain-size")
    assert any(w.startswith(f"mask: {NOT_A_MAP}") for w in grain_size), grain_size
    assert all(w.startswith(tuple(f"{m}: " for m in masks)) for w in grain_size)
    assert set(grain_size) <= set(heyn)


@pytest.mark.parametrize("path", ["no", "./no", "image"])
def test_a_bare_name_that_is_the_messages_first_word_still_names_the_file(path):
    """A mask file ``no`` with no boundary was told "no boundary at all: ..." unnamed
    (``srmat heyn no a`` and ``srmat grain-size --mask``): "no" followed by a space was
    taken for ``PATH is ...``. The space form names only a name that reads as a path (a
    suffix or a folder); a bare word needs ``PATH: ``."""
    for text in ("no boundary at all: one grain covers the field",
                 "image is too coarse for the model"):
        assert about_file(path, text) == f"{path}: {text}"
    assert about_file(path, f"{path}: damaged") == f"{path}: damaged"
    for named in ("no.png is damaged", "d d/x y.png is damaged", "../d/no is damaged"):
        assert about_file(named.removesuffix(" is damaged"), named) == named


def test_heyn_names_the_warnings_of_a_mask_named_as_their_first_word(tmp_path,
                                                                     monkeypatch, capsys):
    """``srmat heyn no grid.png`` told the empty mask ``no``'s three warnings unnamed."""
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    Image.fromarray(np.zeros((64, 64), np.uint8)).save("no", format="PNG")
    grid = np.zeros((64, 64), np.uint8)
    grid[::8, :] = grid[:, ::8] = 255
    Image.fromarray(grid).save("grid.png")
    main(["heyn", "no", "grid.png", "--lines", "20"])
    told = _warnings(capsys.readouterr().err, "heyn")
    mask_lines = [w for w in told if not w.startswith("grid.png: ")]
    assert mask_lines and all(w.startswith("no: ") for w in mask_lines), told


def test_register_names_a_file_whose_name_holds_the_other_role(tmp_path, capsys):
    """``srmat register`` named its files by a string replace of each role in turn: a
    moving image named ``the fixed image m.png`` (uniform) had the fixed file's path put
    inside its own name (``.../the fixed image HR m.png is uniform``). The roles are
    named by :func:`napari_srmat.cli.naming_roles` now, one pass over the message."""
    from PIL import Image

    rng = np.random.default_rng(0)
    moving = tmp_path / "the fixed image m.png"
    fixed = tmp_path / "hr.png"
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(moving)
    Image.fromarray(rng.integers(0, 255, (96, 96), dtype=np.uint8)).save(fixed)
    assert main(["register", str(moving), str(fixed)]) == 2
    err = capsys.readouterr().err
    assert err == (f"srmat register: error: the moving image {moving} is uniform: "
                   "nothing to register\n")
