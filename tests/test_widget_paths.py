"""``widgets._paths``: a typed field's text and a path handed over (dialog, API)."""

from __future__ import annotations

import pytest

from napari_srmat.widgets._paths import absolute_output_path, typed_path


def test_an_absolute_path_handed_over_keeps_its_trailing_space(tmp_path):
    """A save dialog's (or a script's) path is the file's name as given: only a typed
    field's text is trimmed (``typed_path``). It dropped the trailing space."""
    path = tmp_path / "plan.csv "
    assert absolute_output_path(path) == path
    assert absolute_output_path(str(path)) == path


def test_a_blank_output_path_is_refused_not_the_home_folder(tmp_path, monkeypatch):
    """A blank path names no file: it returned the home folder itself."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for blank in ("", "  "):
        with pytest.raises(ValueError, match="no output path"):
            absolute_output_path(blank)


def test_tilde_is_the_home_folder_in_a_typed_and_a_handed_over_path(tmp_path, monkeypatch):
    """Guard: ``~`` reads as home both in a field's text and in a path handed over."""
    monkeypatch.setenv("HOME", str(tmp_path))
    assert absolute_output_path("~/run1.zarr") == tmp_path / "run1.zarr"
    assert absolute_output_path(typed_path("  ~/run1.zarr ")) == tmp_path / "run1.zarr"
