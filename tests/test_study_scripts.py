"""The study and figure scripts' command lines: ``--help`` says what a script does and
runs nothing (it started some studies, which then overwrote their committed results)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted([*ROOT.glob("studies/*.py"), *ROOT.glob("scripts/*.py"),
                  *ROOT.glob("benchmarks/*.py")])


@pytest.mark.parametrize("script", [p for p in SCRIPTS if not p.name.startswith("_")],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_help_runs_nothing(script, tmp_path):
    results = ROOT / "studies" / "results"
    before = {p: p.stat().st_mtime_ns for p in results.glob("*.json")}
    proc = subprocess.run([sys.executable, str(script), "--help"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin",
                               "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.lstrip().startswith("usage:")
    assert {p: p.stat().st_mtime_ns for p in results.glob("*.json")} == before


#: Scripts whose main already parsed options (and --help): no_options in front of it
#: refused every one of them ("unrecognized arguments: --work ...").
OWN_OPTIONS = {"studies/cldice_decision.py": "--work", "studies/epochs_decision.py": "--work",
               "studies/ssl_pretrain_decision.py": "--work",
               "studies/zoom_mild_decision.py": "--work",
               "studies/pseudo_label_decision.py": "--out-root"}


@pytest.mark.parametrize("script, option", OWN_OPTIONS.items())
def test_a_script_with_options_keeps_them(script, option, tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / script), "--help"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin",
                               "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert option in proc.stdout
