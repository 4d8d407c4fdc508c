"""Set-up of every ``--scheduler local:N`` worker process (a dask worker preload).

The workers are started deaf to Ctrl-C (see
:func:`napari_srmat.tiling._distributed._workers_ignore_sigint`), but a worker that dies
(out of memory, killed) is started again by its nanny later, outside that window: this
preload makes every worker process, the first ones and those started again, ignore
SIGINT from its own start, so that the starting process stops the cluster, not the
terminal's Ctrl-C.
"""

from __future__ import annotations

import signal
import threading


def dask_setup(worker) -> None:
    """Ignore SIGINT in this worker process (called by dask when the worker starts).

    Parameters
    ----------
    worker : distributed.Worker
        The starting worker (unused).
    """
    if threading.current_thread() is threading.main_thread():  # signals: main only
        signal.signal(signal.SIGINT, signal.SIG_IGN)
