"""Set-up of every ``--scheduler local:N`` worker process (a dask worker preload).

The workers are started deaf to Ctrl-C and SIGTERM (see
:func:`napari_srmat.tiling._distributed._workers_ignore_sigint`), but a worker that dies
(out of memory, killed) is started again by its nanny later, outside that window: this
preload makes every worker process, the first ones and those started again, ignore
SIGINT and SIGTERM from its own start (:data:`IGNORED_SIGNALS`), so that the starting
process stops the cluster, not the terminal's Ctrl-C nor a ``kill``/``scancel`` of the
whole process group (the nanny's own kill of a worker slow to stop is a SIGKILL).

It also makes a dask computation inside a task (a mask or an image window read through
dask) run in the task's own thread (the synchronous scheduler), as the worker's one
thread implies, instead of on the cluster through a client the worker would start for
it: that client and its ``finalize`` tasks, cut short when the starting process closes
the cluster on a Ctrl-C, printed "Couldn't gather keys" lines and a ``Client.__del__``
traceback per worker above the command's one ``interrupted`` line.
"""

from __future__ import annotations

import signal
import threading

#: Where a dask computation inside a task of a ``local:N`` worker runs: in the task's
#: thread (dask's ``scheduler`` setting in the worker process).
TASK_COMPUTE_SCHEDULER = "synchronous"

#: Signals a ``local:N`` worker process ignores: a terminal's Ctrl-C and a SIGTERM go to
#: the whole process group, and the starting process ends the run as after a Ctrl-C
#: (closing the cluster). Until 2026-12-07 a SIGTERM to the group killed the workers at
#: once: their nannies started them again while the run closed, dask logged each loss
#: ("Removing worker ... lose already computed task(s)", "Restarting worker") and Python
#: a leaked semaphore above the command's one ``interrupted`` line.
IGNORED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def dask_setup(worker) -> None:
    """Ignore :data:`IGNORED_SIGNALS` in this worker process, and run a dask computation
    inside a task in the task's thread (:data:`TASK_COMPUTE_SCHEDULER`); called by dask
    when the worker starts.

    Parameters
    ----------
    worker : distributed.Worker
        The starting worker (unused).
    """
    import dask

    dask.config.set(scheduler=TASK_COMPUTE_SCHEDULER)  # for the worker process's life
    if threading.current_thread() is threading.main_thread():  # signals: main only
        for signum in IGNORED_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
