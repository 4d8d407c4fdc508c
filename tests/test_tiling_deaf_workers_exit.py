"""A ``local:N`` worker ignores SIGTERM (``tests/test_tiling_sigterm.py``); one left alive
as Python exits (a close that failed) must not hang the exit: multiprocessing ends its
daemon children with a SIGTERM and waits without a limit, so
``tiling._distributed.kill_deaf_workers_at_exit`` kills them first."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("distributed")

SCRIPT = textwrap.dedent("""
    import multiprocessing, signal, sys, time

    def deaf():
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(600)

    if __name__ == "__main__":
        from napari_srmat.tiling import _distributed
        if sys.argv[1] == "registered":
            _distributed._register_deaf_worker_kill()
        ctx = multiprocessing.get_context("spawn")
        child = ctx.Process(target=deaf, daemon=True,
                            name=_distributed.DASK_WORKER_PROCESS_NAME + " (test)")
        child.start()
        time.sleep(2)  # the child has set its handler
        print(child.pid, flush=True)
""")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")
def test_a_worker_deaf_to_sigterm_left_at_exit_does_not_hang_it(tmp_path):
    """Failed before (reader of the session's diff): a parent with a daemon child that
    ignores SIGTERM hung at exit (multiprocessing's terminate() then join())."""
    script = tmp_path / "deaf.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script), "registered"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
