"""An existing output refused by the one rule (``outputs.check_existing_output``): a path
napari-srmat did not write is refused as one that will not be replaced, with or without
``overwrite``; only one it may replace is refused with the advice to pass
``overwrite=True`` (``--overwrite`` in an ``srmat`` command)."""

from __future__ import annotations

import functools

import pytest

from napari_srmat._atomic import atomic_directory, swap_into_place
from napari_srmat.checkpoint import check_replaceable_checkpoint
from napari_srmat.cli import error_line
from napari_srmat.outputs import (
    OutputExistsError,
    check_existing_output,
    check_not_replacing_link,
    check_output_dir,
    check_output_file,
    check_replaceable,
    write_marker,
)

CHECKPOINT_RULE = functools.partial(check_replaceable_checkpoint, state_files=())


def _user_folder(tmp_path):
    user = tmp_path / "userdir"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    return user


@pytest.mark.parametrize("overwrite", [False, True])
def test_atomic_directory_refuses_a_folder_its_rule_refuses_as_never_replaced(tmp_path, overwrite):
    """atomic_directory checked only whether the path existed: a folder of the user's
    was refused 'userdir already exists (pass overwrite=True to replace it)', and its
    caller (checkpoint_directory) refused overwrite=True as 'not a checkpoint folder':
    the first message advised what the second refused. With the caller's rule
    (``replaceable``) it is refused as never replaced, with or without overwrite, the
    folder and a copy of ours left aside beside it untouched."""
    user = _user_folder(tmp_path)
    aside = tmp_path / ".userdir.0123abcd.old"  # a copy a refusal must not touch
    aside.mkdir()
    (aside / "config.json").write_text("{}")
    with (
        pytest.raises(OutputExistsError) as info,
        atomic_directory(
            user, overwrite=overwrite, replaceable=CHECKPOINT_RULE, ours=lambda p: True
        ) as tmp,
    ):
        (tmp / "x").write_text("new")
    assert str(info.value) == (
        f"{user} is not a checkpoint folder (it holds notes.txt); it will not be replaced: "
        "choose another folder"
    )
    assert error_line("srmat x", info.value) == f"srmat x: error: {info.value}"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".userdir.0123abcd.old", "userdir"]
    assert sorted(p.name for p in user.iterdir()) == ["notes.txt"]
    assert (aside / "config.json").read_text() == "{}"


def test_atomic_directory_refuses_a_folder_its_rule_accepts_with_the_overwrite_advice(tmp_path):
    """Guard (passed before, without the rule): a folder the caller may replace is
    refused without overwrite, naming overwrite=True (--overwrite in srmat's error line),
    and replaced with it."""
    ck = tmp_path / "ck"
    ck.mkdir()
    (ck / "config.json").write_text("{}")
    with (
        pytest.raises(OutputExistsError) as info,
        atomic_directory(ck, replaceable=CHECKPOINT_RULE) as tmp,
    ):
        (tmp / "config.json").write_text("new")
    assert str(info.value) == f"{ck} already exists (pass overwrite=True to replace it)"
    assert error_line("srmat x", info.value) == (
        f"srmat x: error: {ck} already exists (pass --overwrite to replace it)"
    )
    assert (ck / "config.json").read_text() == "{}"
    with atomic_directory(ck, overwrite=True, replaceable=CHECKPOINT_RULE) as tmp:
        (tmp / "config.json").write_text("new")
    assert (ck / "config.json").read_text() == "new"


@pytest.mark.parametrize("overwrite", [False, True])
def test_atomic_directory_refuses_a_link_as_never_replaced(tmp_path, overwrite):
    """A symbolic link at the path was refused 'already exists (pass overwrite=True to
    replace it)', and with overwrite=True the block ran and its swap then refused the
    link: the first message advised what was then refused, after the work. Both are
    refused now before the block runs, as never replaced; link and folder untouched."""
    user = _user_folder(tmp_path)
    link = tmp_path / "out"
    link.symlink_to(user, target_is_directory=True)
    ran = []
    with pytest.raises(OutputExistsError) as info:
        with atomic_directory(link, overwrite=overwrite) as tmp:
            ran.append(tmp)
    assert str(info.value) == (
        f"{link} is a symbolic link (to {user}); napari-srmat will not replace a link or "
        "what it points to: give the real path, or another output"
    )
    assert ran == []
    assert link.is_symlink() and sorted(p.name for p in user.iterdir()) == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "userdir"]


def test_a_refused_link_is_one_line_in_every_path(tmp_path):
    """One wording of a refused link (``outputs.check_not_replacing_link``): atomic_directory
    said 'is a symbolic link; it will not be replaced: choose another output', and
    swap_into_place a FileExistsError 'is a symbolic link; it will not be replaced'
    (without its target), where write_ome_zarr and the boundary outputs said the rule's
    words. Failed before: three wordings. Link, folder and staging untouched."""
    user = _user_folder(tmp_path)
    link = tmp_path / "out"
    link.symlink_to(user, target_is_directory=True)
    staging = tmp_path / "staging"
    staging.mkdir()
    told = []
    for refuse in (
        functools.partial(check_not_replacing_link, link),
        functools.partial(swap_into_place, staging, link),
        lambda: atomic_directory(link, overwrite=True).__enter__(),
    ):
        with pytest.raises(OutputExistsError) as info:
            refuse()
        told.append(error_line("srmat x", info.value))
    assert len(set(told)) == 1 and told[0].count("\n") == 0, told
    assert told[0] == f"srmat x: error: {info.value}"
    assert link.is_symlink() and sorted(p.name for p in user.iterdir()) == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "staging", "userdir"]


@pytest.mark.parametrize("overwrite", [False, True])
def test_the_rule_refuses_a_folder_of_the_user_s_first(tmp_path, overwrite):
    """check_existing_output: what ``replaceable`` refuses is refused with or without
    overwrite; a folder of ours is refused only without it, with the advice."""
    user = _user_folder(tmp_path)
    with pytest.raises(OutputExistsError) as info:
        check_existing_output(user, overwrite=overwrite, replaceable=check_replaceable)
    assert str(info.value) == (
        f"{user} is a folder that napari-srmat did not write; it will not be replaced: "
        "choose another output"
    )
    ours = tmp_path / "ours"
    ours.mkdir()
    write_marker(ours, "demo")
    if overwrite:
        assert check_existing_output(ours, overwrite=True, replaceable=check_replaceable) is None
    else:
        with pytest.raises(OutputExistsError, match=r"exists \(pass overwrite=True to replace"):
            check_existing_output(ours, overwrite=False, replaceable=check_replaceable)


def test_a_command_that_never_replaces_refuses_without_the_advice(tmp_path):
    """Guard (passed before): overwrite None (no --overwrite) never names it."""
    out = tmp_path / "plan.csv"
    out.write_text("a")
    with pytest.raises(OutputExistsError) as info:
        check_output_file(out, overwrite=None, ours=lambda p: True)
    assert str(info.value) == f"{out} exists; it will not be replaced: choose another output"


@pytest.mark.parametrize("overwrite", [False, True])
def test_check_output_file_refuses_a_file_of_the_user_s_first(tmp_path, overwrite):
    """Guard (passed before): a file ``ours`` does not recognise is never replaced; one
    it does is refused with the advice without overwrite."""
    out = tmp_path / "plan.csv"
    out.write_text("a")
    with pytest.raises(OutputExistsError) as info:
        check_output_file(out, overwrite=overwrite, ours=lambda p: False)
    assert str(info.value) == (
        f"{out} was not written by napari-srmat; it will not be replaced: choose another output"
    )
    if overwrite:
        assert check_output_file(out, overwrite=True, ours=lambda p: True) == out
    else:
        with pytest.raises(OutputExistsError) as info:
            check_output_file(out, overwrite=False, ours=lambda p: True)
        assert error_line("srmat x", info.value) == (
            f"srmat x: error: {out} exists (pass --overwrite to replace it)"
        )


def test_a_users_folder_refused_as_an_output_folder_leaves_no_scandir_open(tmp_path):
    """``check_output_dir`` on a folder of the user's: its look (``only_creation_debris``)
    stopped at the first file that is not a creation's debris and left its ``os.scandir``
    open: "unclosed scandir iterator" (a ResourceWarning; failed before). Refused as
    before, no warning."""
    import gc
    import warnings

    user = _user_folder(tmp_path)
    (user / "more-notes.txt").write_text("mine")  # the look stops before the last entry
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(OutputExistsError, match="will not be replaced"):
            check_output_dir(user, "sr")
        gc.collect()  # an iterator left open warns once collected
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
