"""UAED training: one epoch number on screen, in the log and on disk (from 1).

``srmat edges train`` and a notebook's ``run_job`` printed ``[train 0]`` / ``[val 0]``
and wrote ``top/epoch-000`` for the epoch the progress called ``epoch 1/2`` (and the
Train widget's table, which added 1, called epoch 1): a metallurgist picking the
checkpoint of the epoch read on screen took the next one's. Every number told is now
``jobs.told_epoch`` of the index the records keep (``config.json``'s ``"epoch"``); a run
folder an older version wrote (``top/epoch-000``, its state listing those) still
resumes, evicts and reads as it did.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from test_edges_train import _cfg  # noqa: E402
from test_edges_train_writes import _validated  # noqa: E402

from napari_srmat.edges import train as edges_train  # noqa: E402
from napari_srmat.jobs import Metric, run_job  # noqa: E402

torch.set_num_threads(1)


def _state(run: Path) -> dict:
    return json.loads((run / "last" / "training_state.json").read_text())


def test_the_log_the_progress_and_the_top_folders_tell_one_epoch_number(tmp_path, monkeypatch):
    """Failed before: '[val 0]' and top/epoch-000 for 'epoch 1/2'."""
    _validated(monkeypatch, [0.5, 0.7])
    log = io.StringIO()
    events = []
    run_job(
        edges_train.train_boundaries_job(_cfg(tmp_path, top_k=2)),
        stream=log,
        on_event=events.append,
    )
    lines = log.getvalue().splitlines()
    stages = sorted({line.split(":")[0] for line in lines if line.startswith("[progress]")})
    assert stages == ["[progress] epoch 1/2", "[progress] epoch 2/2"]
    told = [int(m[1]) for line in lines if (m := re.match(r"\[val (\d+)\] ap=", line))]
    assert told == [1, 2]
    assert [int(m[1]) for line in lines if (m := re.match(r"\[train (\d+)\] ", line))] == [1, 2]
    run = tmp_path / "run"
    for n in told:  # the checkpoint told after [val N] is top/epoch-00N, of that epoch
        after = lines[lines.index(next(x for x in lines if x.startswith(f"[val {n}] "))) + 1]
        assert after == f"[checkpoint] {run / 'top' / f'epoch-{n:03d}'}"
        config = json.loads((run / "top" / f"epoch-{n:03d}" / "config.json").read_text())
        assert config["epoch"] == n - 1  # the record keeps the index (srmat info: +1)
    assert sorted(p.name for p in (run / "top").iterdir()) == ["epoch-001", "epoch-002"]
    assert _state(run)["top_named_from"] == 1  # recorded: a resume need not guess it
    # the events keep the index, told from 1 by told_step
    val = [e for e in events if isinstance(e, Metric) and e.split == "val"]
    assert [(e.step, e.told_step, e.unit) for e in val] == [(0, 1, "epoch"), (1, 2, "epoch")]


def _named_the_old_way(run: Path) -> None:
    """``run``'s top/ folders renamed as an older version named them (top/epoch-NNN by
    the index), its state listing them so and not recording the naming."""
    state = _state(run)
    for _, epoch, path in sorted(state["top"], key=lambda t: t[1]):
        Path(path).rename(run / "top" / f"epoch-{epoch:03d}")
    state["top"] = [[ap, ep, str(run / "top" / f"epoch-{ep:03d}")] for ap, ep, _ in state["top"]]
    state.pop("top_named_from", None)
    (run / "last" / "training_state.json").write_text(json.dumps(state, indent=2))


def test_a_run_an_older_version_wrote_resumes_evicts_and_reads_as_before(tmp_path, monkeypatch):
    """A run folder named the old way (top/epoch-000 and epoch-001 for epochs 1 and 2,
    its state listing them): the resume keeps the listed one that stays in the top-k
    under its name, evicts the other, names its new ones the old way too (one naming
    per run folder: until 2026-12-07 epoch 3 became top/epoch-003 beside epoch 2's
    top/epoch-001), records that naming, and tells the best epoch from 1. Failed before
    in the new folder's name (epoch-003) and the naming not recorded."""
    _validated(monkeypatch, [0.5, 0.6, 0.55, 0.3])
    run = tmp_path / "run"
    run_job(edges_train.train_boundaries_job(_cfg(tmp_path, top_k=2)), quiet=True)
    _named_the_old_way(run)
    assert sorted(p.name for p in (run / "top").iterdir()) == ["epoch-000", "epoch-001"]
    assert "best val AP 0.6000 at epoch 2" in edges_train._earlier_run(run)

    result = run_job(
        edges_train.train_boundaries_job(_cfg(tmp_path, top_k=2, epochs=4, resume=True)),
        quiet=True,
    )
    assert result.epochs_done == 4 and len(result.history) == 4
    # epoch 3 (AP 0.55) pushed out the old epoch-000 (epoch 1, AP 0.5); epoch 4 none
    assert sorted(p.name for p in (run / "top").iterdir()) == ["epoch-001", "epoch-002"]
    listed = {Path(p).name: (ap, ep) for ap, ep, p in _state(run)["top"]}
    assert listed == {"epoch-001": (0.6, 1), "epoch-002": (0.55, 2)}
    assert _state(run)["top_named_from"] == 0
    for name, (_, epoch) in listed.items():
        config = json.loads((run / "top" / name / "config.json").read_text())
        assert config["epoch"] == epoch
    assert json.loads((run / "best" / "config.json").read_text())["epoch"] == 1
    assert "best val AP 0.6000 at epoch 2" in edges_train._earlier_run(run)


def test_a_run_this_version_began_keeps_its_names_told_from_1(tmp_path, monkeypatch):
    """A run folder named from 1 whose state does not record it (written between
    2c650627 and the naming's record) resumes named from 1 (guard: passed before)."""
    _validated(monkeypatch, [0.5, 0.6, 0.7])
    run = tmp_path / "run"
    run_job(edges_train.train_boundaries_job(_cfg(tmp_path, top_k=3)), quiet=True)
    state = _state(run)
    state.pop("top_named_from", None)
    (run / "last" / "training_state.json").write_text(json.dumps(state, indent=2))
    run_job(
        edges_train.train_boundaries_job(_cfg(tmp_path, top_k=3, epochs=3, resume=True)),
        quiet=True,
    )
    assert sorted(p.name for p in (run / "top").iterdir()) == [
        "epoch-001",
        "epoch-002",
        "epoch-003",
    ]


def test_a_bad_top_naming_record_is_refused_with_advice_that_keeps_the_run(tmp_path, monkeypatch):
    """A state whose 'top_named_from' is not 0 or 1 is refused with advice to remove
    that entry (the naming is then read from its top list) before starting over; the
    advice, followed, resumes the run. Failed before: the refusal advised only
    resume=False and overwrite=True, throwing the run away."""
    _validated(monkeypatch, [0.5, 0.6, 0.7])
    run = tmp_path / "run"
    run_job(edges_train.train_boundaries_job(_cfg(tmp_path, top_k=3)), quiet=True)
    state = _state(run)
    state["top_named_from"] = "1"
    (run / "last" / "training_state.json").write_text(json.dumps(state, indent=2))
    resumed = _cfg(tmp_path, top_k=3, epochs=3, resume=True)
    with pytest.raises(edges_train.CheckpointError) as exc:
        run_job(edges_train.train_boundaries_job(resumed), quiet=True)
    told = str(exc.value)
    assert "its 'top_named_from' (a JSON string) is not 0 or 1" in told
    assert re.search(
        r"; remove its 'top_named_from' entry \(the top/ naming is then read from its top "
        r"list\), or rerun with resume=False and overwrite=True to start over",
        told,
    ), told
    state.pop("top_named_from")  # the advice followed
    (run / "last" / "training_state.json").write_text(json.dumps(state, indent=2))
    assert run_job(edges_train.train_boundaries_job(resumed), quiet=True).epochs_done == 3
    assert sorted(p.name for p in (run / "top").iterdir()) == [
        "epoch-001",
        "epoch-002",
        "epoch-003",
    ]
