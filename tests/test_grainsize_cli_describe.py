"""`srmat grain-size`'s text line reads its row's ``interval_note`` (one rule)."""

from __future__ import annotations

import pytest

from napari_srmat.cli.grainsize import describe
from napari_srmat.grainsize import grain_size_from_heyn
from napari_srmat.metrics.heyn import measure_intercepts
from napari_srmat.synth import generate_microstructure


def _row(n_lines: int) -> dict:
    mask = generate_microstructure((160, 160), mean_grain_size_px=20, seed=5).boundaries
    res = measure_intercepts(mask, pattern="random", n_lines=n_lines, seed=3)
    return {**grain_size_from_heyn(res, pixel_size_um=0.5).to_dict(), "path": "m.png"}


@pytest.mark.parametrize("n_lines", [1, 20], ids=["one-line", "many-lines"])
def test_describe_claims_an_interval_as_the_rows_interval_note_says(n_lines):
    """Was: ``describe`` decided "no 95% interval" by its own test (ℓ̄'s interval is
    None), a second rule beside the row's ``interval_note`` (``grainsize.interval_note``).
    It reads the note now: a row whose note says why it has no interval claims none,
    whatever else it holds, and a row with a null note claims its intervals. (On the
    rows srmat grain-size makes, the two agree: the line is unchanged, as
    test_cli_text_line_claims_95_intervals_only_where_the_row_has_them checks.)"""
    row = _row(n_lines)
    claims = "(95% intervals; " if n_lines > 1 else "(no 95% interval: see the warnings; "
    assert claims in describe(row)  # the row as made: both rules agree
    if n_lines > 1:  # a note on a row that has ℓ̄'s interval: the note decides
        noted = {**row, "interval_note": "no 95% interval: the G's is not given"}
        assert "(no 95% interval: see the warnings; " in describe(noted)
    else:  # no note: the row claims its intervals
        assert "(95% intervals; " in describe({**row, "interval_note": None})
