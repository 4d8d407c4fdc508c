"""The specimen warning of model-measured fields quotes how often its interval held the
truth out of fold (studies/specimen_interval_coverage.py; s51 H2 #1)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from napari_srmat.metrics.standards import (
    SPECIMEN_SCATTER_COVERAGE_PCT,
    SPECIMEN_SCATTER_COVERAGE_SCANS,
    model_scatter_notes,
)

RESULTS = Path(__file__).resolve().parents[1] / "studies" / "results"


def test_the_coverage_constant_is_the_study_s_pooled_out_of_fold_figure():
    """The constant and the study's JSON cannot drift: pooled out-of-fold coverage of the
    scatter-only interval (45 of 56), over the scans of each repetition (14)."""
    got = json.loads((RESULTS / "specimen_interval_coverage.json").read_text())
    scatter = got["oof_pooled"]["scatter"]
    assert SPECIMEN_SCATTER_COVERAGE_PCT == scatter["coverage_pct"]
    assert round(100 * scatter["held"] / scatter["n"], 1) == scatter["coverage_pct"]
    oof = [v["scatter"]["n"] for k, v in got["scores"].items() if re.fullmatch(r"oof_s\d+", k)]
    assert oof and set(oof) == {SPECIMEN_SCATTER_COVERAGE_SCANS}
    assert sum(oof) == scatter["n"]


def test_the_specimen_warning_quotes_the_measured_coverage_and_its_source():
    """The warning said the interval is the fields' scatter only, not how often it held
    the truth: now '80 % of 14 scans' specimens (studies/...), not 95 %'."""
    note = model_scatter_notes([{"name": "a", "model_log_terms": [0.3, 0.3],
                                 "warnings": []}])[0]
    assert note.startswith("the specimen interval is the fields' scatter only")
    assert ("out of fold it held the truth for 80 % of 14 scans' specimens "
            "(studies/specimen_interval_coverage.py), not 95 %") in note, note
