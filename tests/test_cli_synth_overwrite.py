"""`srmat synth --overwrite` with a smaller --n, or other parameters, left the earlier
run's other images beside the new ones without a word: a folder then used as training
or evaluation data mixed two parameter sets. They are kept (the help promises to replace
only the images of the same names, and a set may be built by several runs), and named."""

from __future__ import annotations

import json

from napari_srmat.cli import main

SMALL = ["--size-px", "32", "--grain-size-px", "8"]


def test_overwrite_names_the_images_of_other_parameters_it_leaves(tmp_path, capsys):
    """Failed before: no line at all, exit 0."""
    out = tmp_path / "set"
    assert main(["synth", str(out), *SMALL, "--n", "3"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if "synth_0002" in p.name}
    capsys.readouterr()
    argv = [
        "synth",
        str(out),
        "--size-px",
        "32",
        "--grain-size-px",
        "12",
        "--n",
        "2",
        "--overwrite",
        "--json",
    ]
    assert main(argv) == 0
    captured = capsys.readouterr()
    told = [ln for ln in captured.err.splitlines() if ln.startswith("srmat synth: warning:")]
    assert len(told) == 1, captured.err
    assert "synth_0002" in told[0] and "synth_0000" not in told[0], told
    assert "other parameters" in told[0], told
    assert json.loads(captured.out)["warnings"] == [told[0].split("warning: ", 1)[1]]
    # nothing of the earlier set is deleted
    assert {p.name: p.read_bytes() for p in out.iterdir() if "synth_0002" in p.name} == before


def test_overwrite_with_the_same_parameters_says_nothing(tmp_path, capsys):
    """Guard (passed before): images left with this run's parameters (other seeds of the
    same set) are no mixture."""
    out = tmp_path / "set"
    assert main(["synth", str(out), *SMALL, "--n", "3"]) == 0
    capsys.readouterr()
    assert main(["synth", str(out), *SMALL, "--n", "2", "--overwrite"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert (out / "synth_0002_image.png").exists()


def test_a_plain_run_of_other_seeds_and_parameters_names_the_mixture(tmp_path, capsys):
    """A rerun without ``--overwrite``, of other seeds (no name taken) and other
    parameters, into the same folder mixed the two sets without a word (failed before,
    2026-12-07: the warning came with ``--overwrite`` only). Now named as well; nothing
    of the earlier set is touched."""
    out = tmp_path / "set"
    assert main(["synth", str(out), *SMALL, "--n", "2"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.name.startswith("synth_")}
    capsys.readouterr()
    argv = ["synth", str(out), "--size-px", "32", "--grain-size-px", "12", "--seed", "10"]
    assert main([*argv, "--n", "1"]) == 0
    told = [ln for ln in capsys.readouterr().err.splitlines() if "warning:" in ln]
    assert len(told) == 1 and "synth_0000, synth_0001" in told[0], told
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name in before} == before
