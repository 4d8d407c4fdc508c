"""Benchmark: many SIGKILLs of real ``srmat`` runs, each followed by the same command.

The harness of ``tests/test_fault_injection.py`` (``tests/_faults.py``) with many kills:
a reference run of each command, then trials in fresh folders. A trial starts the
command, SIGKILLs it (1 to 3 times in a row, each time the same command again) at a
random moment, then reruns it to the end. A kill moment is either a random delay on
the reference run's clock (from just before ``OUT.partial`` appears to just after
``OUT`` does) or a random file-system point not reached yet (k of the n chunks
written, plus up to 50 ms; ``OUT.partial`` created; a pyramid level appearing; the
metadata; the marker; ``OUT`` appearing). A kill is classified by what the process
was doing (``startup`` until it holds ``OUT.lock``, then by the state on disk). After
each kill ``OUT`` must be absent or equal the reference; after the rerun the exit
code must be 0, nothing may be left beside ``OUT`` and every file and pixel must
equal the reference.

Commands (``python -m napari_srmat`` = ``srmat``):

* sr: ``srmat sr run IN OUT --model bicubic --tile 64 --overlap 8`` (600x600 RGB ->
  2400x2400, 9 chunks, 4 levels); a share of the trials adds ``--overwrite`` over an
  existing ``--model lanczos`` output (kills while replacing it);
* edges: ``srmat edges predict IN --out OUT --tile 64 --overlap 16 --tta none``
  (1040x96, 2 chunks, then the maps, previews, marker and swap).

Prints one JSON object (kills per phase, matched resumes, failures) and exits 1 on
any failure.

Usage::

    python benchmarks/bench_fault_injection.py [N_KILLS] [--seed 0] [--edges-share 0.25]
        [--overwrite-share 0.15] [--workdir DIR] [--keep]

``N_KILLS`` defaults to ``$SRMAT_FAULT_KILLS`` or 50.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import _faults as F  # noqa: E402


def _moment(rng: random.Random, job: F.Job, tl: F.Timeline, folder: Path, after: float | None,
            replacing: bool, delay: bool = False):
    """A kill moment: ``("delay", seconds)`` or ``("point:NAME", condition)``."""
    if delay or rng.random() < 0.5:
        # from just before OUT.partial appears to just after OUT does (the rest of the
        # run is the interpreter's exit)
        lo, hi = 0.9 * tl.partial, tl.out + 0.2 * (tl.exit - tl.out)
        if after is not None:  # a resumed run skips finished work: aim within what is left
            hi = max(lo + 0.2, min(hi, tl.partial + (hi - after)))
        return "delay", rng.uniform(lo, hi)
    points = F.deterministic_points(job, folder)
    n = max(1, job.n_blocks)
    names = [p for p in points if not p.endswith("-chunks") and p != "first-chunk"
             and not (replacing and p == "out-exists")]  # OUT exists from the start
    names.append("k-chunks")
    name = rng.choice(names)
    if name != "k-chunks":
        if points[name]():  # already true (an earlier kill got further): use a delay
            return _moment(rng, job, tl, folder, after, replacing, delay=True)
        return f"point:{name}", points[name]
    k, extra = rng.randint(1, n), rng.uniform(0, 0.05)
    if job.n_done(folder) >= k:
        return _moment(rng, job, tl, folder, after, replacing, delay=True)
    seen: list[float] = []

    def cond() -> bool:
        if job.n_done(folder) < k:
            return False
        if not seen:
            seen.append(time.monotonic())
        return time.monotonic() - seen[0] >= extra

    return f"point:{k}-of-{n}-chunks", cond


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kills", nargs="?", type=int,
                    default=int(os.environ.get("SRMAT_FAULT_KILLS", "50")))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--edges-share", type=float, default=0.25,
                    help="share of trials that run `edges predict` (the rest `sr run`)")
    ap.add_argument("--overwrite-share", type=float, default=0.15,
                    help="share of sr trials that replace an existing output (--overwrite)")
    ap.add_argument("--workdir", default=None, help="default: a temporary folder")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    root = Path(args.workdir or tempfile.mkdtemp(prefix="srmat_faults_"))
    root.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    cases = {}
    sr_img = F.make_input(root / "sr_in.png", (600, 600))
    for kind, job in (("sr", F.sr_job(sr_img)),
                      ("edges", F.edges_job(F.make_input(root / "edges_in.png", (1040, 96))))):
        if kind == "edges" and args.edges_share <= 0:
            continue
        ref = root / f"{kind}_ref"
        tl = F.reference_run(job, ref, root / f"{kind}_ref.log")
        cases[kind] = (job, ref, tl)
    old_ref = None
    if args.overwrite_share > 0:
        old_ref = root / "sr_old"
        rc, text = F.run_to_end(F.sr_job(sr_img, model="lanczos"), old_ref, root / "sr_old.log")
        if rc:
            raise SystemExit(f"lanczos run failed: {text[-500:]}")

    kills = 0
    by_phase: collections.Counter[str] = collections.Counter()
    by_job: collections.Counter[str] = collections.Counter()
    by_moment: collections.Counter[str] = collections.Counter()
    trials = matched = exited = 0
    failures: list[dict] = []
    while kills < args.kills:
        kind = "edges" if "edges" in cases and rng.random() < args.edges_share else "sr"
        job, ref, tl = cases[kind]
        previous = None
        if kind == "sr" and old_ref is not None and rng.random() < args.overwrite_share:
            job, previous = F.overwrite_job(job), old_ref / job.name
            label = "sr --overwrite"
        else:
            label = kind
        folder = root / f"trial{trials:04d}"
        if previous is not None:
            shutil.copytree(old_ref, folder)
        trials += 1
        events = []
        after = None
        for _ in range(rng.randint(1, 3)):
            how, what = _moment(rng, job, tl, folder, after, previous is not None)
            kw = {"delay": what} if how == "delay" else {"when": what}
            try:
                phase, killed = F.kill_at(job, folder, folder.parent / f"{folder.name}.log", **kw)
            except TimeoutError as exc:
                failures.append({"trial": folder.name, "job": label, "error": str(exc)})
                break
            after = what if how == "delay" else None
            events.append([how if how == "delay" else how[6:], phase])
            problems = F.check_not_presented_complete(job, ref, folder, previous=previous)
            if problems:
                failures.append({"trial": folder.name, "job": label, "after_kill_in": phase,
                                 "problems": problems})
            if not killed:
                exited += 1
                break
            kills += 1
            by_phase[phase] += 1
            by_job[label] += 1
            by_moment[how if how == "delay" else "point"] += 1
            if phase == "after-swap":
                break  # complete: a further run has nothing left to interrupt
        rc, text = F.run_to_end(job, folder, folder.parent / f"{folder.name}.rerun.log")
        problems = ([f"exit code {rc}: {text.strip().splitlines()[-1:]}"] if rc else []) + \
            F.check_same_output(job, ref, folder)
        if problems:
            failures.append({"trial": folder.name, "job": label, "kills": events,
                             "problems": problems})
        else:
            matched += 1
            shutil.rmtree(folder, ignore_errors=True)
        print(f"trial {trials}: {label} {events} -> {'ok' if not problems else problems}",
              file=sys.stderr, flush=True)

    groups: collections.Counter[str] = collections.Counter()
    for phase, n in by_phase.items():
        groups[F.PHASE_GROUPS.get(phase, phase)] += n
    result = {
        "benchmark": "fault_injection",
        "kills": kills,
        "kills_by_phase": dict(sorted(by_phase.items(), key=lambda kv: F.PHASES.index(kv[0]))),
        "kills_by_group": {g: groups[g] for g in ("startup", "tiles", "pyramid",
                                                  "metadata-swap") if groups[g]},
        "not_killed_exited_first": exited,
        "kills_by_job": dict(by_job),
        "kills_by_moment": dict(by_moment),
        "trials": trials,
        "resumes_matched": matched,
        "failures": failures,
        "reference_seconds": {k: round(v[2].exit, 2) for k, v in cases.items()},
        "seconds": round(time.perf_counter() - t_start, 1),
        "seed": args.seed,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
        "omp_num_threads": F.srmat_env().get("OMP_NUM_THREADS"),
        "workdir": str(root) if (args.keep or failures) else None,
    }
    print(json.dumps(result, indent=2))
    if not (args.keep or failures or args.workdir):
        shutil.rmtree(root, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
