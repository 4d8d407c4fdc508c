"""Staging folders a killed checkpoint write left in a training run's folder."""

from __future__ import annotations

from napari_srmat.checkpoint import remove_interrupted_checkpoint_writes


def _killed_write(folder, name):
    staging = folder / f".{name}.0a1b2c3d.partial"
    staging.mkdir()
    (staging / "model.safetensors").write_bytes(b"half")
    return staging


def test_a_users_folder_named_like_an_old_checkpoint_does_not_keep_a_killed_write(tmp_path):
    """The staging of a replacement killed between its two renames is kept (``last``
    missing, the earlier one aside as ``.last.<8 hex>.old``: the two are all that is left
    of it); a folder of the user's named ``.last.v1.old`` is not such a copy
    (``_atomic.SWAPPED_OUT``, the name every other output goes by), but it made the run
    keep its killed write for ever."""
    killed = _killed_write(tmp_path, "last")
    (tmp_path / ".last.v1.old").mkdir()  # the user's, not a swapped-out checkpoint
    assert remove_interrupted_checkpoint_writes(tmp_path, ("last",)) == [killed]
    assert not killed.exists() and (tmp_path / ".last.v1.old").is_dir()

    killed = _killed_write(tmp_path, "last")
    (tmp_path / ".last.9f8e7d6c.old").mkdir()  # a replacement killed between its renames
    assert remove_interrupted_checkpoint_writes(tmp_path, ("last",)) == []
    assert killed.is_dir()


def test_the_staging_pattern_is_the_name_atomic_directory_gives(tmp_path):
    """The cleanup finds killed writes by _atomic.STAGING_DIRECTORY: the name the writer
    gives its staging folder, not a copy of it."""
    from napari_srmat._atomic import STAGING_DIRECTORY, atomic_directory

    with atomic_directory(tmp_path / "epoch-007") as staging:
        assert STAGING_DIRECTORY.match(staging.name)["of"] == "epoch-007"


def test_a_staging_folder_with_a_users_file_is_kept_without_a_resource_warning(tmp_path):
    """A staging folder that holds a file a checkpoint write does not make is left alone;
    the look stopped at that file and left its ``os.scandir`` open, so every refused or
    resumed training run printed "unclosed scandir iterator" (a ResourceWarning)."""
    import warnings

    staging = _killed_write(tmp_path, "last")
    (staging / "aaa-users-notes.txt").write_text("mine")  # first of the entries, or not
    (staging / "zzz-users-notes.txt").write_text("mine")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert remove_interrupted_checkpoint_writes(tmp_path, ("last",)) == []
    assert staging.is_dir()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
