"""A widget job's Python warnings: the route's swap, superqt's relay, a starting worker,
the threads a job starts (widgets._worker, _warnings_state)."""

from __future__ import annotations

import pytest

pytest.importorskip("napari")
import napari_srmat.widgets._worker as worker_mod  # noqa: E402

pytestmark = pytest.mark.gui


def test_flush_tells_each_text_once_per_job():
    """The warnings a job gave while it was made and failed were flushed by running an
    empty job through ``_telling``; one flush (:func:`_flush`) tells them, each once per
    job, for every path."""
    told, seen = ["a", "b", "a"], set()
    assert [w.log.message for w in worker_mod._flush(told, seen)] == ["a", "b"]
    told.extend(["b", "c"])
    assert [w.log.message for w in worker_mod._flush(told, seen)] == ["c"]
    assert told == []
