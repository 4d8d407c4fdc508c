"""Fault injection: real ``srmat`` processes SIGKILLed at chosen and random moments.

Every kill is followed by the same command; it must exit 0 and leave exactly the
output of an uninterrupted run (same files, same pixels in every pyramid level:
uint8 and float32 alike bit-identical), nothing beside it (no ``OUT.partial``,
``OUT.lock``, ``.OUT.*.old``), and after any kill ``OUT`` must either not exist or
read back equal to the reference (a killed run is never presented as complete).

The commands (``python -m napari_srmat`` = the ``srmat`` console script):

* ``srmat sr run IN OUT --model bicubic --tile 64 --overlap 8`` on a 600x600 RGB
  micrograph: 2400x2400 output in 9 chunks, 4 pyramid levels (~0.7 s of work after
  ~2 s of start-up on a 2-core machine);
* ``srmat edges predict IN --out OUT --tile 64 --overlap 16 --tta none`` on a
  1040x96 micrograph: 2 chunks of the intermediate store, then the two maps, the
  previews, the marker and the swap.

The default suite kills a handful of processes (the pyramid, a chain of kills in one
output, a random moment, the lock, the edges maps); the ``slow`` tests run every
deterministic kill point separately, more random seeds, and ``--overwrite`` runs that
replace an existing output. ``benchmarks/bench_fault_injection.py`` runs many kills.
The harness is ``tests/_faults.py``.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import _faults as F
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL and flock are POSIX")


@dataclass
class Case:
    image: Path
    job: F.Job
    ref: Path
    timeline: F.Timeline
    root: Path


def _case(root: Path, image: Path, job: F.Job) -> Case:
    ref = root / "ref"
    tl = F.reference_run(job, ref, root / "ref.log")
    return Case(image, job, ref, tl, root)


@pytest.fixture(scope="module")
def sr_case(tmp_path_factory) -> Case:
    root = tmp_path_factory.mktemp("faults_sr")
    image = F.make_input(root / "in.png", (600, 600))
    case = _case(root, image, F.sr_job(image))
    assert case.job.n_blocks == 9
    return case


@pytest.fixture(scope="module")
def edges_case(tmp_path_factory) -> Case:
    root = tmp_path_factory.mktemp("faults_edges")
    image = F.make_input(root / "in.png", (1040, 96))
    case = _case(root, image, F.edges_job(image))
    assert case.job.n_blocks == 2
    return case


#: Tries of a kill that must land in a short window (between the pyramid metadata and
#: the swap) before the test gives up.
KILL_WINDOW_ATTEMPTS = 4


def _kill_then_check(case: Case, folder: Path, **kill) -> str:
    """One kill into ``folder``; asserts that nothing incomplete looks complete."""
    phase, _ = F.kill_at(case.job, folder, folder.parent / f"{folder.name}.kill.log", **kill)
    assert F.check_not_presented_complete(case.job, case.ref, folder) == [], phase
    return phase


def _rerun_and_compare(case: Case, folder: Path) -> None:
    rc, text = F.run_to_end(case.job, folder, folder.parent / f"{folder.name}.rerun.log")
    assert rc == 0, text[-2000:]
    assert "Traceback" not in text
    assert F.check_same_output(case.job, case.ref, folder) == []


def _point(case: Case, folder: Path, name: str):
    return F.deterministic_points(case.job, folder)[name]


# --------------------------------------------------------------------------- default suite


def test_sr_killed_during_pyramid_rerun_matches(sr_case, tmp_path):
    """The data-safety issue: SIGKILL while the pyramid is built; the same command then
    used to fail forever. It must finish with the reference pixels."""
    folder = tmp_path / "run"
    phase = _kill_then_check(sr_case, folder, when=_point(sr_case, folder, "pyramid-level-1"))
    assert phase == "pyramid"
    assert (sr_case.job.partial(folder) / "1").is_dir()
    _rerun_and_compare(sr_case, folder)


def test_sr_kills_in_a_row_then_rerun_matches(sr_case, tmp_path):
    """Killed half-way through the tiles, then (resumed) after the pyramid metadata,
    before the marker and the swap: one rerun finishes."""
    # the resumed run can write the metadata and swap within one poll of the watcher
    # (it then exits by itself): such an attempt still must leave a correct output, and
    # the sequence is tried again (a fresh folder) until the kill lands in that window
    seen = []
    for attempt in range(KILL_WINDOW_ATTEMPTS):
        folder = tmp_path / f"run{attempt}"
        phases = [_kill_then_check(sr_case, folder, when=_point(sr_case, folder, name))
                  for name in ("half-chunks", "metadata")]
        seen.append(phases)
        assert phases[0] == "tiles", phases
        _rerun_and_compare(sr_case, folder)
        if phases[1] == "metadata-swap":
            break
    assert seen[-1] == ["tiles", "metadata-swap"], seen


def test_sr_random_kill_rerun_matches(sr_case, tmp_path):
    """A kill at a seeded random moment between the start of the tiles and the exit."""
    _random_kills(sr_case, tmp_path / "run", seed=0, n_kills=1)


@pytest.mark.slow
@pytest.mark.parametrize("frac", [0.3, 0.6, 0.9, 1.0])
def test_killed_output_never_looks_complete(sr_case, tmp_path, frac):
    """A kill late in the run (pyramid, metadata, swap): OUT is absent or complete.
    (Every kill of every test here checks this, see ``_kill_then_check``.)"""
    tl = sr_case.timeline
    lo, hi = tl.tiles_done or tl.partial, tl.exit
    _kill_then_check(sr_case, tmp_path / "run", delay=lo + frac * (hi - lo))


def _lock_scenario(case: Case, folder: Path) -> None:
    job = case.job
    lock = folder / f"{job.name}.lock"
    first = F.start(job, folder, folder.parent / "first.log")
    try:
        assert F.wait_until(lambda: job.lock_owner(folder) == first.pid, first), \
            "the first run ended before taking the lock"
        os.kill(first.pid, signal.SIGSTOP)  # holds the lock for as long as the test needs
        t0 = time.monotonic()
        second = subprocess.run(job.argv(job.out(folder)), capture_output=True, text=True,
                                timeout=F.WAIT_TIMEOUT, env=F.srmat_env(),
                                stdin=subprocess.DEVNULL)
        elapsed = time.monotonic() - t0
        assert second.returncode != 0
        assert "Traceback" not in second.stderr
        refusals = [ln for ln in second.stderr.splitlines() if "being written by" in ln]
        assert len(refusals) == 1, second.stderr
        assert f"process {first.pid} " in refusals[0]
        assert elapsed < 60  # refused at once, not waiting for the first run
        assert job.lock_owner(folder) == first.pid  # the refused run left the lock alone
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            os.kill(first.pid, signal.SIGCONT)
        F.stop_process(first)
    assert lock.exists()  # stale: its owner was killed; the flock went with it
    _rerun_and_compare(case, folder)


def test_second_writer_refused_and_stale_lock_taken_over(sr_case, tmp_path):
    _lock_scenario(sr_case, tmp_path / "run")


def test_edges_killed_writing_maps_rerun_matches(edges_case, tmp_path):
    folder = tmp_path / "run"
    phase = _kill_then_check(edges_case, folder, when=_point(edges_case, folder, "prob-written"))
    assert phase == "maps"
    _rerun_and_compare(edges_case, folder)


# --------------------------------------------------------------------------- slow: many kills


SR_POINTS = ("partial-created", "first-chunk", "half-chunks", "all-chunks", "pyramid-level-1",
             "metadata", "out-exists")
EDGES_POINTS = ("partial-created", "first-chunk", "all-chunks", "stacked-done", "prob-written",
                "uncertainty-written", "marker-complete", "out-exists")


@pytest.mark.slow
@pytest.mark.parametrize("point", SR_POINTS)
def test_sr_every_kill_point(sr_case, tmp_path, point):
    folder = tmp_path / "run"
    _kill_then_check(sr_case, folder, when=_point(sr_case, folder, point))
    _rerun_and_compare(sr_case, folder)


@pytest.mark.slow
@pytest.mark.parametrize("point", EDGES_POINTS)
def test_edges_every_kill_point(edges_case, tmp_path, point):
    folder = tmp_path / "run"
    _kill_then_check(edges_case, folder, when=_point(edges_case, folder, point))
    _rerun_and_compare(edges_case, folder)


def _random_kills(case: Case, folder: Path, *, seed: int, n_kills: int) -> list[str]:
    rng = random.Random(seed)
    tl = case.timeline
    phases = []
    lo, hi = 0.9 * tl.partial, tl.exit
    for _ in range(n_kills):
        delay = rng.uniform(lo, hi)
        phase = _kill_then_check(case, folder, delay=delay)
        phases.append(phase)
        if phase == "exited":
            break
        # a resumed run skips the finished work: aim the next kill within what is left
        hi = max(lo + 0.2, tl.partial + (tl.exit - delay))
    _rerun_and_compare(case, folder)
    return phases


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1, 6))
def test_sr_random_kills(sr_case, tmp_path, seed):
    _random_kills(sr_case, tmp_path / "run", seed=seed, n_kills=3)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(2))
def test_edges_random_kills(edges_case, tmp_path, seed):
    _random_kills(edges_case, tmp_path / "run", seed=seed, n_kills=2)


@pytest.mark.slow
def test_edges_second_writer_refused(edges_case, tmp_path):
    _lock_scenario(edges_case, tmp_path / "run")


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
def test_sr_overwrite_killed_while_replacing(sr_case, tmp_path, seed):
    """``--overwrite`` over an existing (lanczos) output: killed anywhere, OUT is the old
    output, absent or the new one, and the same command finishes with the new one."""
    job = sr_case.job
    old = F.sr_job(sr_case.image, model="lanczos")
    old_folder = tmp_path / "old"
    assert F.run_to_end(old, old_folder, tmp_path / "old.log")[0] == 0
    new = F.overwrite_job(job)
    case = Case(sr_case.image, new, sr_case.ref, sr_case.timeline, sr_case.root)
    folder = tmp_path / "run"
    shutil.copytree(old_folder, folder)
    rng = random.Random(seed)
    tl = sr_case.timeline
    for _ in range(2):
        phase, _ = F.kill_at(new, folder, tmp_path / "kill.log",
                             delay=rng.uniform(tl.partial, tl.exit + 0.5))
        assert F.check_not_presented_complete(new, sr_case.ref, folder,
                                              previous=old.out(old_folder)) == [], phase
    _rerun_and_compare(case, folder)


# ------------------------------------------------------------------ regressions, in process


def _writer(path, **kw):
    from napari_srmat.io import OmeZarrStreamWriter

    return OmeZarrStreamWriter(path, (64, 48, 3), np.uint8, chunks=(32, 32), **kw)


def _fill(w) -> None:
    for b in w.iter_blocks():
        ys, xs = w.block_slices(b)
        w.write_block(b, (ys, xs), np.full((ys.stop - ys.start, xs.stop - xs.start, 3),
                                           7 * b[0] + b[1], np.uint8))


@pytest.mark.parametrize("debris", ["empty", "manifest-tmp", "manifest-no-setup"])
def test_partial_killed_while_being_created_is_started_over(tmp_path, debris):
    """Was: ``PATH.partial exists and was not written by napari-srmat`` forever after a
    kill between creating the folder and writing its manifest (zarr's ``mode="w"``
    also deleted a manifest written first)."""
    out = tmp_path / "o.ome.zarr"
    partial = tmp_path / "o.ome.zarr.partial"
    partial.mkdir()
    if debris == "manifest-tmp":
        (partial / "..srmat_stream.json.0a1b2c3d.tmp").write_text('{"creat')
    elif debris == "manifest-no-setup":  # killed after the manifest, before .srmat_done
        w = _writer(out)
        w.close()
        shutil.rmtree(partial / ".srmat_done")
        (partial / "0" / ".zarray").unlink()
    w = _writer(out)
    assert not w.resumed
    _fill(w)
    w.finalize()
    assert read_back(out)[1, 40, 0] == 1 and not partial.exists()


def test_foreign_partial_still_refused(tmp_path):
    from napari_srmat.outputs import OutputError

    partial = tmp_path / "o.ome.zarr.partial"
    partial.mkdir()
    (partial / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="not written by napari-srmat"):
        _writer(tmp_path / "o.ome.zarr")
    assert (partial / "notes.txt").read_text() == "mine"


def read_back(path: Path) -> np.ndarray:
    from napari_srmat.io import read_image

    return np.asarray(read_image(path).data)


def test_resume_removes_temp_files_of_killed_writes(tmp_path):
    """Was: a kill inside zarr's atomic chunk/metadata write left ``KEY.<uuid>.partial``
    files that a resumed run carried into the finished store."""
    out = tmp_path / "o.ome.zarr"
    w = _writer(out)
    w.write_block((0, 0), None, np.zeros((32, 32, 3), np.uint8))
    w.close()  # as if killed
    partial = w.partial
    debris = [partial / "0" / "0" / "1" / f"0.{'ab' * 16}.partial",
              partial / f".zattrs.{'cd' * 16}.partial",
              partial / "..srmat_output.json.0a1b2c3d.tmp"]
    for p in debris:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"\0\1")
    w = _writer(out)
    assert w.resumed
    _fill(w)
    w.finalize()
    names = [p.name for p in out.rglob("*")]
    assert not [n for n in names if n.endswith((".partial", ".tmp"))], names


def test_killed_just_before_the_swap_is_only_moved_into_place(tmp_path, monkeypatch):
    """finalize drops the bookkeeping before the swap, so a finished store never carries
    ``.srmat_done``/the manifest; a kill between the two leaves a partial with a complete
    marker that the rerun moves into place without recomputing anything."""
    import napari_srmat.io._write as write

    out = tmp_path / "o.ome.zarr"
    w = _writer(out)
    _fill(w)

    class Killed(BaseException):
        pass

    def killed(*a, **k):
        raise Killed

    monkeypatch.setattr(write, "swap_renames", killed)  # the swap's first step
    with pytest.raises(Killed):
        w.finalize()
    monkeypatch.undo()
    w.close()
    assert not out.exists() and not (w.partial / ".srmat_stream.json").exists()
    w = _writer(out)
    assert w.complete and not w.resumed and out.is_dir() and not w.partial.exists()
    assert w.finalize() == out
    assert read_back(out)[40, 40, 0] == 8
    names = {p.name for p in out.rglob("*")}
    assert not names & {".srmat_done", ".srmat_stream.json"}


@contextlib.contextmanager
def _killed_between_the_swap_renames(monkeypatch):
    """The block is killed after ``swap_into_place`` renamed OUT aside (``.OUT.*.old``)
    and before ``OUT.partial`` took its place."""
    import napari_srmat._atomic as atomic

    real_replace = os.replace

    class Killed(BaseException):
        pass

    def replace(a, b, *args, **kwargs):
        real_replace(a, b, *args, **kwargs)
        if str(b).endswith(".old"):
            raise Killed

    monkeypatch.setattr(atomic.os, "replace", replace)
    with pytest.raises(Killed):
        yield
    monkeypatch.undo()


def test_killed_between_the_swap_renames_keeps_a_complete_output(tmp_path, monkeypatch):
    """A run replacing ``OUT`` (overwrite) killed between the two renames of
    ``swap_into_place`` leaves the earlier output at ``.OUT.*.old`` and the new, complete
    one in ``OUT.partial``. A rerun with other settings (the original command, say) used
    to delete the ``.old`` copy first and then refuse the partial: neither output was
    left at ``OUT``. The interrupted swap is now finished first (the replacement the
    killed run was told to make), and the rerun is judged against it."""
    from napari_srmat.outputs import OutputExistsError

    out = tmp_path / "o.ome.zarr"
    w = _writer(out, attrs={"v": 1})
    _fill(w)
    w.finalize()
    w = _writer(out, attrs={"v": 2}, overwrite=True)
    _fill(w)
    with _killed_between_the_swap_renames(monkeypatch):
        w.finalize()
    w.close()
    assert not out.exists() and len(list(tmp_path.glob(".o.ome.zarr.*.old"))) == 1
    with pytest.raises(OutputExistsError, match="made differently"):
        _writer(out, attrs={"v": 1})  # the original settings: refused, nothing deleted
    assert out.is_dir() and not (tmp_path / "o.ome.zarr.partial").exists()
    assert not list(tmp_path.glob(".o.ome.zarr.*.old"))
    w = _writer(out, attrs={"v": 2})
    assert w.complete and w.finalize() == out  # the killed run's output, complete


def test_old_copy_stays_recognisable_while_deleted(tmp_path, monkeypatch):
    """A kill at any point while ``swap_into_place`` deletes the replaced output leaves a
    ``.OUT.*.old`` that still carries its marker, so the next writer removes it (a plain
    rmtree could delete the marker first and leave debris no one may touch)."""
    import napari_srmat._atomic as atomic
    from napari_srmat.outputs import is_ours

    out = tmp_path / "o.ome.zarr"
    w = _writer(out)
    _fill(w)
    w.finalize()
    n_files = sum(1 for p in out.rglob("*") if p.is_file())
    real_unlink = os.unlink

    class Killed(BaseException):
        pass

    for n_ok in range(n_files):
        old = tmp_path / f".o.ome.zarr.{n_ok:08x}.old"
        shutil.copytree(out, old)
        calls = {"n": 0}

        def unlink(p, *a, _calls=calls, _n=n_ok, _real=real_unlink, **k):
            if _calls["n"] >= _n:
                raise Killed
            _calls["n"] += 1
            return _real(p, *a, **k)

        monkeypatch.setattr(atomic.os, "unlink", unlink)
        monkeypatch.setattr(atomic.shutil, "rmtree", lambda p, ignore_errors=False:
                            _rmtree_with(p, unlink))
        with pytest.raises(Killed):
            atomic.remove_tree_marker_last(old)
        monkeypatch.undo()
        assert is_ours(old), n_ok
    w = _writer(out, overwrite=True)  # the next writer removes every stale copy
    w.abort()
    assert not list(tmp_path.glob(".o.ome.zarr.*.old"))


def _rmtree_with(path, unlink) -> None:
    for parent, dirs, files in os.walk(path, topdown=False):
        for name in files:
            unlink(os.path.join(parent, name))
        for name in dirs:
            os.rmdir(os.path.join(parent, name))
    os.rmdir(path)


def test_edges_killed_while_deleting_intermediate_store(tmp_path, monkeypatch):
    """Was: a kill while ``edges predict`` deleted its intermediate stacked store made the
    rerun either fail forever (marker gone: "exists and was made differently") or finish
    with exit 0 and zeros where chunks were gone. Now the staging is complete first and
    the rerun just finishes the swap."""
    import napari_srmat.edges.infer as infer
    from napari_srmat.edges import load_boundary_model, predict_boundaries_job
    from napari_srmat.jobs import run_job
    from napari_srmat.synth import generate_microstructure

    img = generate_microstructure((48, 40), mean_grain_size_px=12, seed=1).image
    model = load_boundary_model(device="cpu", tta="none")
    kw = dict(tile=32, overlap=8)
    run_job(predict_boundaries_job(img, model, out=tmp_path / "ref", **kw), quiet=True)

    class Killed(BaseException):
        pass

    def half_delete(staging):
        stacked = staging / infer._STACKED
        (stacked / ".srmat_output.json").unlink()
        shutil.rmtree(stacked / "0")
        raise Killed

    monkeypatch.setattr(infer, "_remove_stacked", half_delete)
    out = tmp_path / "run"
    with pytest.raises(Killed):
        run_job(predict_boundaries_job(img, model, out=out, **kw), quiet=True)
    monkeypatch.undo()
    assert not out.exists() and (tmp_path / "run.partial").is_dir()
    run_job(predict_boundaries_job(img, model, out=out, **kw), quiet=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ref", "run"]
    assert F.compare_outputs(tmp_path / "ref", out) == []


@pytest.mark.parametrize("rerun", ["other settings", "no resume"])
def test_edges_killed_between_the_swap_renames_keeps_a_complete_output(tmp_path, monkeypatch,
                                                                       rerun):
    """The boundary outputs' twin of the SR stores' swap crash: ``edges predict
    --overwrite`` killed between the two renames left the earlier folder as ``.OUT.*.old``
    and the new, complete one in ``OUT.partial``. A rerun removed the ``.old`` copy first;
    with other settings it then refused the staging, with ``--no-resume`` it discarded
    it: no output at ``OUT`` either way. The interrupted swap is now finished first
    (``_atomic.finish_interrupted_swap``, the one rule of both)."""
    from napari_srmat.edges import load_boundary_model, predict_boundaries_job
    from napari_srmat.jobs import run_job
    from napari_srmat.outputs import OutputExistsError
    from napari_srmat.synth import generate_microstructure

    img = generate_microstructure((48, 40), mean_grain_size_px=12, seed=1).image
    model = load_boundary_model(device="cpu", tta="none")
    out = tmp_path / "run"
    run_job(predict_boundaries_job(img, model, out=out, tile=32, overlap=8), quiet=True)
    run_job(predict_boundaries_job(img, model, out=tmp_path / "ref", tile=40, overlap=8),
            quiet=True)
    with _killed_between_the_swap_renames(monkeypatch):
        run_job(predict_boundaries_job(img, model, out=out, tile=40, overlap=8,
                                       overwrite=True), quiet=True)
    assert not out.exists() and len(list(tmp_path.glob(".run.*.old"))) == 1
    kw = {"tile": 32, "overlap": 8}  # the first run's settings
    if rerun == "no resume":
        kw["resume"] = False
    with pytest.raises(OutputExistsError, match="made differently"):
        run_job(predict_boundaries_job(img, model, out=out, **kw), quiet=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ref", "run"]
    assert F.compare_outputs(tmp_path / "ref", out) == []  # the killed run's output


def test_edges_staging_killed_while_being_created(tmp_path):
    from napari_srmat.edges import load_boundary_model, predict_boundaries_job
    from napari_srmat.jobs import run_job
    from napari_srmat.synth import generate_microstructure

    img = generate_microstructure((48, 48), mean_grain_size_px=12, seed=1).image
    staging = tmp_path / "run.partial"
    staging.mkdir()
    (staging / "..srmat_output.json.0a1b2c3d.tmp").write_text("{")
    model = load_boundary_model(device="cpu", tta="none")
    run_job(predict_boundaries_job(img, model, out=tmp_path / "run", tile=32, overlap=8),
            quiet=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
