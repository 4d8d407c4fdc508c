"""``srmat sr train --patch``: one rule (``SRTrainConfig.validate``) words the refusal."""

from __future__ import annotations

import pytest

from napari_srmat.cli import main


@pytest.mark.parametrize("patch", [8, 20])
def test_a_patch_that_is_not_a_positive_multiple_of_4_x_scale_is_one_line_of_the_config(
    tmp_path, capsys, patch
):
    """The CLI checked --patch itself ('must be a multiple of 4 x --scale (16)'), a second
    copy of the config's rule: the config's rule speaks now, in the CLI's words, before
    anything is written (failed before: the CLI's own wording)."""
    out = tmp_path / "run"
    rc = main(["sr", "train", "--synthetic", "1", "--scale", "4", "--patch", str(patch),
               "--out", str(out), "--device", "cpu"])  # fmt: skip
    err = capsys.readouterr().err
    assert rc != 0
    assert f"--patch {patch} must be a positive multiple of 4 x --scale (16)" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()
