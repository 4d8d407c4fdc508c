"""``--scheduler local:N`` workers ignore a SIGTERM sent to the whole process group
(``kill -- -PGID``, ``scancel``): the starting process ends the run as after a Ctrl-C
and closes the cluster itself."""

from __future__ import annotations

import os
import signal

import pytest

pytest.importorskip("distributed")

from napari_srmat.tiling import _distributed  # noqa: E402


def _pid_and_deaf():
    import os
    import signal

    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    return os.getpid(), all(
        s in blocked or signal.getsignal(s) is signal.SIG_IGN
        for s in (signal.SIGINT, signal.SIGTERM)
    )


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signals")
def test_local_workers_survive_a_sigterm_and_go_on_computing():
    """Failed before: a SIGTERM to the process group of ``srmat sr run --scheduler
    local:2`` killed the workers at once while the command closed as after a Ctrl-C:
    their nannies started them again, and dask's "Removing worker ... lose already
    computed task(s)" and "Restarting worker" lines and a leaked-semaphore warning came
    above the one ``interrupted`` line (measured: 5 lines, now none). The workers are
    now deaf to SIGTERM as to SIGINT."""
    with _distributed.dask_client("local:1") as c:
        states = c.run(_pid_and_deaf)
        assert len(states) == 1 and all(deaf for _, deaf in states.values())
        for pid, _ in states.values():
            os.kill(pid, signal.SIGTERM)
        assert c.submit(sum, [1, 2, 3]).result(timeout=60) == 6
        assert c.run(_pid_and_deaf) == states  # the same process, alive
