"""A field (mask or micrograph) given twice to a command that pools its fields is refused
with one line: pooled twice, one field read as a two-field specimen with a spuriously
narrow 95 % interval (``srmat heyn m.png ./m.png``: "%RA 0.0")."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from napari_srmat.cli import main
from napari_srmat.sr.train import source_image_files


@pytest.fixture
def mask(tmp_path):
    """A boundary mask of a few grains (a grid of lines)."""
    m = np.zeros((64, 64), np.uint8)
    m[::16, :] = 255
    m[:, ::16] = 255
    path = tmp_path / "field 1 µ.png"
    Image.fromarray(m).save(path)
    return path


def _spellings(path):
    """The same file under another name: relative with ``./``, a symlink, a hard link."""
    link = path.with_name("link.png")
    link.symlink_to(path)
    hard = path.with_name("hard.png")
    os.link(path, hard)
    return [str(path.parent / "." / path.name), str(link), str(hard)]


@pytest.mark.parametrize("command", [
    ["heyn"],
    ["grain-size", "--mask"],
    ["grain-size", "--mask", "--method", "intercept"],
])
def test_a_field_given_twice_is_refused(tmp_path, capsys, mask, command):
    other = str(mask.parent / "." / mask.name)
    rc = main([*command, str(mask), other])
    out, err = capsys.readouterr()
    assert rc == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "given twice" in lines[0] and str(mask) in lines[0] and other in lines[0]
    assert out == ""


def test_each_spelling_of_one_file_is_the_same_field(tmp_path, mask):
    from napari_srmat.cli import UserError, check_distinct_inputs

    for other in _spellings(mask):
        with pytest.raises(UserError, match="given twice"):
            check_distinct_inputs([str(mask), other], "mask")


def test_distinct_fields_and_missing_files_pass(tmp_path, mask):
    from napari_srmat.cli import check_distinct_inputs

    other = tmp_path / "field 2.png"
    Image.open(mask).save(other)  # the same pixels in another file: another field
    check_distinct_inputs([str(mask), str(other), str(tmp_path / "missing.png")], "mask")


def test_two_distinct_fields_are_still_measured(tmp_path, capsys, mask):
    other = tmp_path / "field 2.png"
    Image.open(mask).save(other)
    assert main(["heyn", str(mask), str(other)]) == 0


@pytest.mark.parametrize("val", [False, True])
def test_eval_maps_refuses_one_folder_as_maps_and_masks(tmp_path, capsys, mask, val):
    other = tmp_path / "masks"
    other.mkdir()
    Image.open(mask).save(other / "a.png")
    args = ["--prob", str(tmp_path), "--masks", str(other)]
    if val:
        args += ["--val-prob", str(other), "--val-masks", str(other) + "/"]
    else:
        args = ["--prob", str(other), "--masks", str(other) + "/"]
    rc = main(["eval-maps", *args])
    out, err = capsys.readouterr()
    assert rc == 2, err
    assert len(err.strip().splitlines()) == 1 and "given twice" in err, err


def test_two_fields_on_a_filesystem_without_inodes_are_two_fields(tmp_path, mask,
                                                                   monkeypatch):
    """Some filesystems (FAT, some network shares and FUSE mounts) give every file inode
    0: two different fields had one identity (device, 0) and were refused as "given
    twice". Without an inode the resolved path tells them apart."""
    from napari_srmat import cli
    from napari_srmat.cli import UserError, check_distinct_inputs

    real_stat = os.stat

    def stat_without_inodes(path, *args, **kwargs):
        st = real_stat(path, *args, **kwargs)
        return os.stat_result((st.st_mode, 0, *tuple(st)[2:]))

    monkeypatch.setattr(cli.os, "stat", stat_without_inodes)
    other = tmp_path / "field 2.png"
    Image.open(mask).save(other)
    check_distinct_inputs([str(mask), str(other)], "mask")
    with pytest.raises(UserError, match="given twice"):  # one file: still refused
        check_distinct_inputs([str(mask), str(mask.parent / "." / mask.name)], "mask")


def test_register_refuses_one_file_as_moving_and_fixed(capsys, mask):
    """`srmat register m.png ./m.png` registered an image on itself (scale 1, offset 0,
    exit 0: a perfect registration); it is refused by the one rule
    (cli.check_distinct_inputs), before reading anything: one line, exit 2. (`srmat
    audit report` refuses one session twice by its own rule: "audits the same SR
    image".)"""
    again = str(mask.parent / "." / mask.name)
    rc = main(["register", str(mask), again])
    out, err = capsys.readouterr()
    assert rc == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err and out == ""
    assert err.startswith(f"srmat register: error: image {mask} is given twice (also as "
                          f"{again}): MOVING is registered onto another image"), err


def test_one_path_object_given_twice_is_refused(mask):
    """Was accepted: the same ``str`` object twice (a notebook's ``[p, p]``, or Python
    reusing one string) passed the identity shortcut ``first is not path``."""
    from napari_srmat.cli import UserError, check_distinct_inputs

    path = str(mask)
    with pytest.raises(UserError, match="given twice"):
        check_distinct_inputs([path, path], "mask")


def test_a_file_given_beside_its_own_folder_is_refused(tmp_path, mask):
    """Was accepted: ``srmat sr train --data dir dir/a.png`` trains on a.png twice as
    often as on the folder's other images (a folder stands for its images); one line
    naming both, whichever comes first, also through a symlink to the file."""
    from napari_srmat.cli import UserError, check_distinct_inputs

    folder = str(mask.parent)
    for paths in ([folder, str(mask)], [str(mask), folder + "/"]):
        with pytest.raises(UserError) as told:
            check_distinct_inputs(paths, "training source", members=source_image_files)
        assert str(told.value) == (f"training source {mask} is given twice (also in "
                                   f"folder {paths[0] if paths[0] != str(mask) else paths[1]})"
                                   ": give each field once")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "link.png").symlink_to(mask)
    with pytest.raises(UserError, match="given twice"):
        check_distinct_inputs([folder, str(elsewhere / "link.png")], "training source",
                              members=source_image_files)
    # a file in a subfolder, and a folder in a folder, are other inputs
    sub = tmp_path / "sub"
    sub.mkdir()
    Image.open(mask).save(sub / "b.png")
    check_distinct_inputs([folder, str(sub / "b.png")], "training source",
                          members=source_image_files)
    check_distinct_inputs([folder, str(sub)], "folder", members=source_image_files)


def test_a_folder_stands_for_the_images_the_command_reads_from_it(tmp_path, mask):
    """Were refused: a file of a given folder that ``srmat sr train`` does not read from
    it (a WebP it reads only when named, a stem ``--exclude`` lists) beside the folder,
    and, where a folder is read as one image (no ``members``: a Zarr store), a file in it.
    Was accepted: a hard link in another folder to one of the folder's images (drawn
    from twice as often)."""
    from napari_srmat.cli import UserError, check_distinct_inputs

    folder = str(mask.parent)
    webp = mask.parent / "c.webp"
    Image.open(mask).save(webp)
    check_distinct_inputs([folder, str(webp)], "training source", members=source_image_files)
    check_distinct_inputs([folder, str(mask)], "training source",
                          members=lambda d: source_image_files(d, [mask.stem]))  # refused
    # by the training itself (test_sr_train_refuses_a_file_given_and_excluded)
    check_distinct_inputs([folder, str(mask)], "image")  # a folder read as one image
    other = tmp_path / "other"
    other.mkdir()
    os.link(mask, other / "a_link.png")
    for paths in ([folder, str(other / "a_link.png")], [folder, str(other)]):
        with pytest.raises(UserError) as told:
            check_distinct_inputs(paths, "training source", members=source_image_files)
        assert "is given twice" in str(told.value) and "\n" not in str(told.value)


def test_sr_train_refuses_a_file_given_beside_its_folder(tmp_path, capsys, mask):
    """`srmat sr train --data DIR DIR/a.png`: one line, exit 2, nothing written."""
    from napari_srmat.cli.edges import EACH_IMAGE_ONCE

    data = tmp_path / "data"
    data.mkdir()
    mask = mask.rename(data / mask.name)
    out = tmp_path / "ck"
    rc = main(["sr", "train", "--data", str(data), str(mask), "--model", "cnn",
               "--scale", "2", "--train-steps", "1", "--batch-size", "1", "--patch", "16",
               "--out", str(out), "--threads", "1", "--device", "cpu"])
    said, err = capsys.readouterr()
    assert rc == 2 and said == "" and not out.exists()
    assert err.strip() == (f"srmat sr train: error: training source {mask} is given twice "
                           f"(also in folder {mask.parent}): {EACH_IMAGE_ONCE}"), err


def test_a_file_and_a_link_to_it_in_one_folder_are_given_twice(mask):
    """Was accepted: a folder holding an image and a link to it (symlink or hard link)
    trained on that image twice (three times) as often as on the others."""
    from napari_srmat.cli import UserError, check_distinct_inputs

    folder = mask.parent
    os.link(mask, folder / "hard.png")
    with pytest.raises(UserError) as told:
        check_distinct_inputs([str(folder)], "training source", members=source_image_files)
    assert str(told.value).startswith(f"training source {folder / 'field 1 µ.png'} is given "
                                      f"twice (also as {folder / 'hard.png'} in folder")
    check_distinct_inputs([str(folder)], "folder")  # read as one store: one input


@pytest.mark.parametrize("beside_its_folder", [False, True])
def test_sr_train_refuses_a_file_given_and_excluded(tmp_path, capsys, mask, beside_its_folder):
    """Was accepted: ``srmat sr train --data a.png --exclude a`` trained on the held-out
    image (a named file skipped the exclusion; a folder's own was left out); one line,
    exit 2, nothing written."""
    data = tmp_path / "data"
    data.mkdir()
    image = mask.rename(data / "s07_a.png")
    Image.open(image).save(data / "s08_b.png")
    sources = [str(data), str(image)] if beside_its_folder else [str(image)]
    out = tmp_path / "ck"
    rc = main(["sr", "train", "--data", *sources, "--exclude", "s07_a", "--model", "cnn",
               "--scale", "2", "--train-steps", "1", "--batch-size", "1", "--patch", "16",
               "--out", str(out), "--threads", "1", "--device", "cpu"])
    said, err = capsys.readouterr()
    assert rc == 2 and said == "" and not out.exists(), err
    assert err.strip() == (f"srmat sr train: error: training image {image} is given and "
                           "held out by --exclude s07_a: drop one of the two"), err


def test_a_held_out_image_trains_under_no_name(tmp_path, mask):
    """Were trained on without a word: a Zarr store named and excluded
    (``--data s13.ome.zarr --exclude s13``), and a held-out image through a hard link or
    symlink under another name, in its folder or another. The refusal names the stem
    the user gave (``exclude=['s13.ome']`` matches ``s13.ome.png`` by its plain stem)."""
    import zarr

    from napari_srmat.sr.base import SRError
    from napari_srmat.sr.train import load_training_images

    store = tmp_path / "s13.ome.zarr"
    zarr.open_array(str(store), mode="w", shape=(64, 64, 3), dtype="uint8")[:] = 7
    with pytest.raises(SRError, match=r"s13.ome.zarr is given and held out by "
                                      r"exclude=\['s13'\]"):
        load_training_images([str(store)], ["s13"])
    data = tmp_path / "data"
    data.mkdir()
    held = data / "s13.ome.png"
    Image.open(mask).convert("RGB").save(held)
    Image.open(mask).convert("RGB").save(data / "s14.png")
    with pytest.raises(SRError, match=r"held out by exclude=\['s13.ome'\]"):
        load_training_images([str(held)], ["s13.ome"])
    os.link(held, data / "copy.png")
    other = tmp_path / "other"
    other.mkdir()
    (other / "link.png").symlink_to(held)
    Image.open(mask).convert("RGB").save(other / "s15.png")
    assert [p.name for p in source_image_files(data, ["s13"])] == ["s14.png"]
    assert len(load_training_images([str(data)], ["s13"])) == 1  # copy.png held out
    assert len(load_training_images([str(data), str(other)], ["s13"])) == 2  # link.png
    with pytest.raises(SRError, match="same file as a held-out image"):
        load_training_images([str(data), str(other / "link.png")], ["s13"])
