"""Where the shipped boundary weights live (no torch import: the widgets read the
checkpoint's config on the GUI thread)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: Folder name of the shipped UAED weights under ``napari_srmat/weights``.
DEFAULT_WEIGHTS = "uaed_default"


def default_checkpoint_path() -> Path:
    """Directory of the shipped default weights (``napari_srmat/weights/uaed_default``)."""
    return Path(str(resources.files("napari_srmat") / "weights" / DEFAULT_WEIGHTS))
