"""``srmat sr run`` ended by SIGTERM (``kill``, ``scancel``) as by a Ctrl-C, also when
SIGINT was inherited ignored: a job a non-interactive script starts in the background
(``srmat ... &``), or a batch system's step, has SIGINT set to SIG_IGN by its shell."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")


#: SIGINT's action in the command's process, by name (the parent's own may be ignored).
SIGINT_ACTIONS = {"normal": signal.SIG_DFL, "ignored": signal.SIG_IGN}


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("sigint", list(SIGINT_ACTIONS))
def test_sigterm_ends_sr_run_like_a_ctrl_c(tmp_path, sigint):
    """A SIGTERM ended `srmat sr run` silently: exit -15, no line, OUT.lock left behind;
    with SIGINT ignored, it still did (exit 143, no line, the lock left: failed before
    2026-12-07). Now as a Ctrl-C: one 'interrupted' line, exit 143 (128 + 15), the
    partial kept, the lock released, and the same command resumes it."""
    from PIL import Image

    rng = np.random.default_rng(0)
    src = tmp_path / "a.png"
    Image.fromarray((rng.random((600, 600)) * 255).astype(np.uint8)).save(src)
    out = tmp_path / "out.ome.zarr"
    argv = [sys.executable, "-m", "napari_srmat", "sr", "run", str(src), str(out),
            "--model", "bicubic", "--scale", "2", "--tile", "32", "--overlap", "8",
            "--batch-size", "1", "--device", "cpu"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT,
                                                             SIGINT_ACTIONS[sigint]))
    for line in proc.stderr:  # the first progress line: tiles are being written
        if line.startswith("[progress] tiles:") and "(0/" not in line:
            proc.send_signal(signal.SIGTERM)
            break
    said, rest = proc.communicate(timeout=300)
    told = [ln for ln in rest.splitlines() if not ln.startswith(("[progress]", "[info]"))]
    assert proc.returncode == 143, (proc.returncode, rest)
    assert said == "" and len(told) == 1, rest
    assert told[0].startswith("srmat sr run: interrupted (") and "Traceback" not in rest
    assert not out.exists() and (tmp_path / "out.ome.zarr.partial").exists()
    assert not (tmp_path / "out.ome.zarr.lock").exists()
    again = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0 and "resuming" in again.stderr, again.stderr
    assert out.exists()
