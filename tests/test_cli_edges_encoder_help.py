"""``--encoder`` help of ``srmat edges train``/``pretrain``: the presets the model has."""

from __future__ import annotations

import pytest

from napari_srmat.cli import main
from napari_srmat.edges.config import ENCODER_NAMES


@pytest.mark.parametrize("command", ["train", "pretrain"])
def test_the_encoder_help_lists_every_preset_of_encoder_names(capsys, command):
    """Guard (passed before): the help was a hand-written copy of the names; it is built
    from ``edges.config.ENCODER_NAMES`` now, as the Train widget's list."""
    with pytest.raises(SystemExit):
        main(["edges", command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    listed = f"{', '.join(ENCODER_NAMES[:-1])} or {ENCODER_NAMES[-1]}"
    assert f"encoder preset of the boundary model: {listed}" in out
