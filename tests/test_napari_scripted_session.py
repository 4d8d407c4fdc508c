"""examples/scripted_session.py runs headless and gives the library's Heyn numbers."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
PIL = pytest.importorskip("PIL.Image")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "scripted_session.py"

pytestmark = [pytest.mark.gui, pytest.mark.slow]


def _load_example():
    spec = importlib.util.spec_from_file_location("scripted_session", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_scripted_session_headless(qapp, tmp_path, capsys):
    from napari_srmat.checkpoint import save_checkpoint
    from napari_srmat.edges.model import build_uaed, default_arch_config
    from napari_srmat.synth import generate_microstructure

    torch.manual_seed(0)
    cfg = default_arch_config("tiny")
    save_checkpoint(tmp_path / "ck", build_uaed(cfg).state_dict(), {**cfg, "threshold": 0.5})
    ms = generate_microstructure((80, 80), mean_grain_size_px=16, seed=1)
    PIL.fromarray(ms.image).save(tmp_path / "m.png")

    rc = _load_example().main([
        "--image", str(tmp_path / "m.png"), "--model", "bicubic", "--scale", "2",
        "--boundary-checkpoint", str(tmp_path / "ck"), "--crop", "64",
        "--pixel-size-um", "0.5", "--json", "--screenshot", str(tmp_path / "s.png"),
    ])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["lr_shape"] == [64, 64, 3] and out["sr_shape"] == [128, 128, 3]
    assert out["heyn"]["n_lines"] == 50
    assert out["heyn"]["pixel_size_um"] == pytest.approx(0.25)  # SR pixels: 0.5 / 2
    assert (tmp_path / "s.png").is_file()
    img = np.asarray(PIL.open(tmp_path / "s.png"))
    assert img.ndim == 3 and img.shape[0] > 100


def test_scripted_session_without_display_is_one_line(tmp_path):
    """On a server with no display the example says so in one line, never aborts."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parent.parent / "examples" / "scripted_session.py"
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    res = subprocess.run([sys.executable, str(example)], env=env, capture_output=True,
                         text=True, timeout=120, cwd=tmp_path)
    assert res.returncode == 2
    assert "no display" in res.stderr and "xvfb-run" in res.stderr
    assert "Traceback" not in res.stderr and res.stderr.count("\n") == 1


def test_scripted_session_default_model_runs_without_warnings(qapp, tmp_path, capsys):
    """The example asked the shipped ``cnn`` for a 16 px overlap, under its 21 px receptive
    field: every default run printed ``UserWarning: overlap 16 < receptive field 21 of
    'cnn': enlarged to 21``, teaching an overlap the engine then refused to use."""
    import warnings

    from napari_srmat.synth import generate_microstructure

    ms = generate_microstructure((48, 48), mean_grain_size_px=12, seed=2)
    PIL.fromarray(ms.image).save(tmp_path / "m.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        rc = _load_example().main(["--image", str(tmp_path / "m.png"), "--crop", "0",
                                   "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sr_shape"] == [192, 192, 3]
