"""Fault-injection harness: real ``srmat`` processes killed with SIGKILL, then rerun.

Shared by ``tests/test_fault_injection.py`` (a few kills) and
``benchmarks/bench_fault_injection.py`` (many). No pytest in here.

A :class:`Job` is one ``srmat`` command writing one output ``OUT`` (an OME-Zarr store
or a folder). The harness

* runs it once uninterrupted into a reference folder, recording when ``OUT.partial``
  appears, when the tiles are done, when ``OUT`` appears and when the process exits
  (:func:`reference_run`);
* starts the same command into another folder (same basename, so every byte of
  metadata can be compared), SIGKILLs it at a moment given either as a delay or as a
  file-system condition (:func:`kill_at`), classifies what the kill interrupted
  (:meth:`Job.phase`) and checks that nothing incomplete looks complete
  (:func:`check_not_presented_complete`);
* reruns the command to the end and checks exit code 0, no leftovers beside ``OUT``,
  the same files inside ``OUT`` as the reference and the same pixels in every array
  (:func:`check_same_output`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import napari_srmat

#: ``src`` of the napari_srmat the tests import; the killed processes run the same code.
SRC = Path(napari_srmat.__file__).resolve().parents[1]
#: Seconds any single wait may take before the harness gives up (and kills the process).
WAIT_TIMEOUT = 120.0
#: Polling interval of the file-system conditions.
POLL_S = 0.003
#: Tolerance of the pixel comparison of float outputs (integer outputs always match
#: exactly). 0: the float32 boundary maps of a resumed run are bit-identical here (one
#: OpenMP thread, see :func:`srmat_env`); set ``SRMAT_FAULTS_FLOAT_ATOL`` (e.g. 1e-5) if
#: a machine's kernels round differently when a resumed run batches tiles differently.
FLOAT_ATOL = float(os.environ.get("SRMAT_FAULTS_FLOAT_ATOL", "0"))

#: Phase names, in the order a run goes through them.
PHASES = ("startup", "tiles", "pyramid", "maps", "metadata-swap", "after-swap", "exited")
#: How the benchmark groups them ("maps": the boundary maps' pyramids of ``edges``).
PHASE_GROUPS = {"startup": "startup", "tiles": "tiles", "pyramid": "pyramid",
                "maps": "pyramid", "metadata-swap": "metadata-swap",
                "after-swap": "metadata-swap", "exited": "exited"}


def srmat_env() -> dict[str, str]:
    """Environment of the ``srmat`` subprocesses: this checkout's ``src`` first, and one
    torch/OpenMP thread unless ``OMP_NUM_THREADS`` is set (on a loaded 2-core machine
    two spinning threads per process made a run 5x slower; every run of a comparison
    uses the same setting)."""
    env = os.environ.copy()
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def srmat_argv(*args: str) -> list[str]:
    """``python -m napari_srmat ARGS`` (the ``srmat`` console script, without install)."""
    return [sys.executable, "-m", "napari_srmat", *args]


def make_input(path: Path, shape: tuple[int, int], seed: int = 3) -> Path:
    """A synthetic RGB micrograph PNG."""
    from PIL import Image

    from napari_srmat.synth import generate_microstructure

    ms = generate_microstructure(shape, mean_grain_size_px=20, seed=seed)
    Image.fromarray(ms.image).save(path)
    return path


def _read_marker(path: Path) -> dict | None:
    try:
        return json.loads((path / ".srmat_output.json").read_text())
    except (OSError, ValueError):
        return None


def _count(path: Path) -> int:
    try:
        return len(os.listdir(path))
    except OSError:
        return 0


def _is_multiscale(path: Path) -> bool:
    try:
        return "multiscales" in json.loads((path / ".zattrs").read_text())
    except (OSError, ValueError):
        return False


@dataclass
class Job:
    """One ``srmat`` command writing ``<folder>/<name>``.

    Parameters
    ----------
    kind : {"sr", "edges"}
        ``srmat sr run`` (an OME-Zarr store) or ``srmat edges predict`` (a folder).
    argv : callable
        ``argv(out) -> list[str]`` (the full command line for output ``out``).
    name : str
        Basename of ``OUT`` (the same in every folder).
    n_blocks : int
        Level-0 chunks of the tiled store (known from the reference run).
    """

    kind: str
    argv: Callable[[Path], list[str]]
    name: str
    n_blocks: int = 0
    #: Identity in the reference output's marker (an ``OUT`` with another one is an
    #: older output that an ``--overwrite`` run replaces).
    ref_identity: dict | None = None

    def out(self, folder: Path) -> Path:
        return folder / self.name

    def partial(self, folder: Path) -> Path:
        return folder / f"{self.name}.partial"

    def tiled_partial(self, folder: Path) -> Path:
        """The ``.partial`` store the tiles stream into."""
        if self.kind == "sr":
            return self.partial(folder)
        return self.partial(folder) / "stacked.ome.zarr.partial"

    def done_dir(self, folder: Path) -> Path:
        return self.tiled_partial(folder) / ".srmat_done"

    def n_done(self, folder: Path) -> int:
        return _count(self.done_dir(folder))

    def lock_owner(self, folder: Path) -> int | None:
        """Pid recorded in ``OUT.lock`` (None: no lock file or not readable)."""
        try:
            return int(json.loads((folder / f"{self.name}.lock").read_text())["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def phase(self, folder: Path, writing: bool = True) -> str:
        """What a kill that left ``folder`` in its current state interrupted.

        ``writing`` False: the killed process did not hold ``OUT.lock`` yet (it was
        starting: imports, loading the model and the input), whatever is on disk.
        """
        out, partial = self.out(folder), self.partial(folder)
        if out.exists() and (self.ref_identity is None
                             or (_read_marker(out) or {}).get("identity") == self.ref_identity):
            return "after-swap"
        if not writing or not partial.exists():
            return "startup"
        marker = _read_marker(partial)
        if self.kind == "sr":
            if (marker and marker.get("complete")) or _is_multiscale(partial):
                return "metadata-swap"
            if any((partial / d).exists() for d in ("1", "2", "3", "4")):
                return "pyramid"
            return "tiles" if self.n_done(folder) < self.n_blocks else "pyramid"
        if marker and marker.get("complete"):
            return "metadata-swap"
        if any((partial / n).exists() for n in ("prob.ome.zarr", "prob.ome.zarr.partial",
                                                "stacked.ome.zarr")):
            return "maps"
        if self.tiled_partial(folder).exists():
            return "tiles" if self.n_done(folder) < self.n_blocks else "pyramid"
        return "startup"


# --------------------------------------------------------------------------- processes


@dataclass
class Timeline:
    """When (seconds after start) the reference run reached each stage."""

    partial: float | None = None
    tiles_done: float | None = None
    out: float | None = None
    exit: float | None = None
    n_blocks: int = 0
    extra: dict = field(default_factory=dict)


def start(job: Job, folder: Path, log: Path) -> subprocess.Popen:
    """Start ``job`` writing into ``folder`` (stdout/stderr to ``log``)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as fh:
        return subprocess.Popen(job.argv(job.out(folder)), stdout=fh, stderr=fh,
                                stdin=subprocess.DEVNULL, env=srmat_env())


def stop_process(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc`` if still running and reap it (leaves no zombie)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)


def wait_until(cond: Callable[[], bool], proc: subprocess.Popen | None = None,
               timeout: float = WAIT_TIMEOUT) -> bool:
    """Poll ``cond`` until it holds (True) or ``proc`` exits first (False).

    Raises
    ------
    TimeoutError
        Neither happened within ``timeout`` seconds.
    """
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        if proc is not None and proc.poll() is not None:
            return bool(cond())
        time.sleep(POLL_S)
    raise TimeoutError(f"condition not reached within {timeout:.0f} s")


def kill_at(job: Job, folder: Path, log: Path, *, delay: float | None = None,
            when: Callable[[], bool] | None = None, timeout: float = WAIT_TIMEOUT
            ) -> tuple[str, bool]:
    """Start ``job`` into ``folder`` and SIGKILL it after ``delay`` s or once ``when()``.

    Returns
    -------
    (phase, killed)
        The phase the kill interrupted (:meth:`Job.phase`, ``"exited"`` when the
        process ended by itself first) and whether it was killed while running.
    """
    proc = start(job, folder, log)
    try:
        if when is not None:
            wait_until(when, proc, timeout)
        elif delay is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, delay))
        if proc.poll() is not None:
            return "exited", False
        writing = job.lock_owner(folder) == proc.pid
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        return job.phase(folder, writing), True
    finally:
        stop_process(proc)


def run_to_end(job: Job, folder: Path, log: Path, timeout: float = WAIT_TIMEOUT
               ) -> tuple[int, str]:
    """Run ``job`` into ``folder`` to the end; ``(exit code, stderr+stdout text)``."""
    proc = start(job, folder, log)
    try:
        proc.wait(timeout=timeout)
    finally:
        stop_process(proc)
    return proc.returncode, log.read_text(errors="replace")


def reference_run(job: Job, folder: Path, log: Path, timeout: float = WAIT_TIMEOUT
                  ) -> Timeline:
    """Run ``job`` uninterrupted into ``folder``, recording its :class:`Timeline`."""
    tl = Timeline()
    t0 = time.monotonic()
    proc = start(job, folder, log)
    try:
        while proc.poll() is None:
            now = time.monotonic() - t0
            if now > timeout:
                raise TimeoutError(f"reference run of {job.kind} took over {timeout:.0f} s")
            if tl.partial is None and job.tiled_partial(folder).exists():
                tl.partial = now
            if tl.partial is not None and tl.tiles_done is None:
                grid = _grid(job.tiled_partial(folder))
                if grid and job.n_done(folder) >= grid:
                    tl.tiles_done = now
            if tl.out is None and job.out(folder).exists():
                tl.out = now
            time.sleep(POLL_S)
        tl.exit = time.monotonic() - t0
    finally:
        stop_process(proc)
    if proc.returncode != 0:
        raise RuntimeError(f"reference run failed ({proc.returncode}): {log.read_text()[-2000:]}")
    tl.n_blocks = _n_chunks(job, folder)
    job.n_blocks = tl.n_blocks
    job.ref_identity = (_read_marker(job.out(folder)) or {}).get("identity")
    return tl


def _grid(store: Path) -> int:
    """Number of level-0 chunks of a (partial) OME-Zarr store, 0 if not readable yet."""
    try:
        meta = json.loads((store / "0" / ".zarray").read_text())
    except (OSError, ValueError):
        return 0
    shape, chunks = meta["shape"], meta["chunks"]
    yx = slice(-2, None)
    return int(np.prod([-(-s // c) for s, c in zip(shape[yx], chunks[yx])]))


def _n_chunks(job: Job, folder: Path) -> int:
    out = job.out(folder)
    if job.kind == "sr":
        return _grid(out)
    return _grid(out / "prob.ome.zarr")


# --------------------------------------------------------------------------- checks


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def leftovers(job: Job, folder: Path) -> list[str]:
    """Everything beside ``OUT`` in ``folder`` (the ``.partial``, the ``.lock``,
    ``.OUT.*.old``, temporary files) except the harness's own logs."""
    return sorted(p.name for p in folder.iterdir()
                  if p.name != job.name and not p.name.endswith(".log"))


def compare_outputs(ref: Path, out: Path, *, float_atol: float = FLOAT_ATOL) -> list[str]:
    """Differences between two complete outputs (empty list: the same).

    The same file names; every Zarr array (found by its ``.zarray``) with the same
    shape, dtype and pixels (integers exactly, floats within ``float_atol``); the
    same ``.zattrs``/``.zarray``/``.zgroup`` JSON; PNGs with the same pixels; the
    markers complete with the same identity.
    """
    import zarr
    from PIL import Image

    problems: list[str] = []
    if not out.is_dir():
        return [f"{out} is missing"]
    a, b = _files(ref), _files(out)
    if a != b:
        extra = sorted(set(b) - set(a))
        missing = sorted(set(a) - set(b))
        problems.append(f"files differ: extra {extra[:8]} missing {missing[:8]}")
    for rel in a:
        if rel not in b:
            continue
        p, q = ref / rel, out / rel
        name = p.name
        if name in (".zattrs", ".zarray", ".zgroup"):
            if json.loads(p.read_text()) != json.loads(q.read_text()):
                problems.append(f"{rel}: metadata differs")
        elif name == ".srmat_output.json":
            mp, mq = json.loads(p.read_text()), json.loads(q.read_text())
            if not mq.get("complete"):
                problems.append(f"{rel}: marker not complete")
            if mp.get("identity") != mq.get("identity"):
                problems.append(f"{rel}: identity differs")
        elif name.endswith(".png"):
            x, y = np.asarray(Image.open(p)), np.asarray(Image.open(q))
            if x.shape != y.shape or not np.array_equal(x, y):
                problems.append(f"{rel}: preview pixels differ")
    for rel in a:
        if not rel.endswith("/.zarray") or rel not in b:
            continue
        arr_dir = rel[: -len("/.zarray")]
        x = zarr.open_array(str(ref / arr_dir), mode="r")[...]
        try:
            y = zarr.open_array(str(out / arr_dir), mode="r")[...]
        except Exception as exc:  # noqa: BLE001 - any read failure is a finding
            problems.append(f"{arr_dir}: unreadable ({type(exc).__name__}: {exc})")
            continue
        if x.shape != y.shape or x.dtype != y.dtype:
            problems.append(f"{arr_dir}: {y.shape} {y.dtype} != {x.shape} {x.dtype}")
        elif np.issubdtype(x.dtype, np.floating):
            diff = float(np.max(np.abs(x.astype(np.float64) - y))) if x.size else 0.0
            if not np.isfinite(y).all() or diff > float_atol:
                problems.append(f"{arr_dir}: max |difference| {diff:.3g} > {float_atol:g}")
        elif not np.array_equal(x, y):
            n = int(np.count_nonzero(x != y))
            problems.append(f"{arr_dir}: {n} pixels differ")
    return problems


def check_same_output(job: Job, ref_folder: Path, folder: Path) -> list[str]:
    """Problems of a finished rerun: leftovers beside ``OUT`` or differences to the reference."""
    problems = [f"left beside {job.name}: {x}" for x in leftovers(job, folder)]
    return problems + compare_outputs(job.out(ref_folder), job.out(folder))


def check_not_presented_complete(job: Job, ref_folder: Path, folder: Path,
                                 previous: Path | None = None) -> list[str]:
    """After a kill: ``OUT`` must not exist, or equal the reference (or, for a run
    replacing an older output, the ``previous`` output, still untouched)."""
    out = job.out(folder)
    if not out.exists():
        return []
    problems = compare_outputs(job.out(ref_folder), out)
    if problems and previous is not None and compare_outputs(previous, out) == []:
        return []
    return [f"after a kill {job.name} exists but {p}" for p in problems]


# --------------------------------------------------------------------------- jobs


def sr_job(image: Path, *, name: str = "out.ome.zarr", model: str = "bicubic",
           tile: int = 64, overlap: int = 8) -> Job:
    """``srmat sr run IMAGE OUT --model bicubic --tile 64 --overlap 8``."""
    return Job("sr", lambda out: srmat_argv("sr", "run", str(image), str(out), "--model", model,
                                            "--tile", str(tile), "--overlap", str(overlap)),
               name)


def edges_job(image: Path, *, name: str = "edges", tile: int = 64, overlap: int = 16) -> Job:
    """``srmat edges predict IMAGE --out OUT --tile 64 --overlap 16 --tta none``."""
    return Job("edges", lambda out: srmat_argv("edges", "predict", str(image), "--out", str(out),
                                               "--tile", str(tile), "--overlap", str(overlap),
                                               "--tta", "none", "--device", "cpu"),
               name)


def overwrite_job(job: Job) -> Job:
    """``job`` with ``--overwrite`` (replaces an existing output of another identity)."""
    return Job(job.kind, lambda out: [*job.argv(out), "--overwrite"], job.name, job.n_blocks,
               job.ref_identity)


def deterministic_points(job: Job, folder: Path) -> dict[str, Callable[[], bool]]:
    """File-system conditions to kill at: after k chunks, in the pyramid, after the swap."""
    n = max(1, job.n_blocks)
    partial = job.partial(folder)
    points: dict[str, Callable[[], bool]] = {
        "partial-created": lambda: partial.exists(),
        "first-chunk": lambda: job.n_done(folder) >= 1,
        "half-chunks": lambda: job.n_done(folder) >= max(1, n // 2),
        "all-chunks": lambda: job.n_done(folder) >= n,
    }
    if job.kind == "sr":
        points["pyramid-level-1"] = lambda: (partial / "1").exists()
        points["metadata"] = lambda: _is_multiscale(partial)
    else:
        points["stacked-done"] = lambda: (partial / "stacked.ome.zarr").exists()
        points["prob-written"] = lambda: (partial / "prob.ome.zarr").exists()
        points["uncertainty-written"] = lambda: (partial / "uncertainty.ome.zarr").exists()
        points["marker-complete"] = lambda: bool((_read_marker(partial) or {}).get("complete"))
    points["out-exists"] = lambda: job.out(folder).exists()
    return points
