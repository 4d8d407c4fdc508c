"""`srmat edges predict` interrupted (Ctrl-C) in its tiles: its line says what a rerun
reuses (whole output chunks: tiling._engine.stopped_line)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from napari_srmat import cli, jobs
from napari_srmat.synth import generate_microstructure


def _ctrl_c_at_tile(monkeypatch, tile: int) -> None:
    """A KeyboardInterrupt thrown into the job once ``tile`` tiles are done (where a
    Ctrl-C lands between two tiles)."""
    real = jobs.run_job

    def interrupted(gen):
        event = next(gen)
        while True:
            yield event
            if getattr(event, "stage", None) == "tiles" and event.done >= tile:
                event = gen.throw(KeyboardInterrupt())
            else:
                event = next(gen)

    monkeypatch.setattr(jobs, "run_job", lambda gen, **kw: real(interrupted(gen), **kw))


def test_a_ctrl_c_within_one_chunk_says_nothing_is_kept(tmp_path, capsys, monkeypatch):
    """A 512² image at 128 px tiles: 36 tiles, one output chunk. Was 'interrupted (a
    partial output, if any, is kept; rerun the same command to resume)', and the rerun
    computed all 36 tiles again (explorer s49 F7)."""
    image = generate_microstructure((512, 512), mean_grain_size_px=24, seed=0).image
    path = tmp_path / "a.png"
    Image.fromarray((np.asarray(image) * 255).astype(np.uint8)).save(path)
    out = tmp_path / "b"
    _ctrl_c_at_tile(monkeypatch, 4)
    argv = [
        "edges",
        "predict",
        str(path),
        "--out",
        str(out),
        "--tile",
        "128",
        "--overlap",
        "16",
        "--tta",
        "none",
        "--device",
        "cpu",
    ]
    assert cli.main(argv) == cli.EXIT_INTERRUPTED
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("srmat edges predict: interrupted (after ")
    assert (
        "tiles; nothing kept: none of the 1 output chunk (1056x1056 px) was finished, "
        "so a rerun computes every tile again"
    ) in err
    assert err.endswith("holds no finished chunk))")  # nothing to resume: no resume line
    assert cli.RERUN_TO_RESUME not in err
