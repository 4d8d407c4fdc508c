"""The Heyn widget's statistics say why their interval is null, as ``srmat heyn``'s rows."""

from __future__ import annotations

import pytest

from napari_srmat.grainsize import NO_INTERVAL_NOTE, grain_size_from_heyn
from napari_srmat.metrics.heyn import measure_intercepts
from napari_srmat.synth import generate_microstructure
from napari_srmat.widgets.layers import heyn_statistics


@pytest.mark.parametrize(
    ("n_lines", "has_interval"), [(1, False), (20, True)], ids=["one-line", "many-lines"]
)
def test_heyn_statistics_carry_the_rows_interval_note(n_lines, has_interval):
    """Was: heyn_statistics (the widget's statistics, exported to CSV and JSON) had no
    ``interval_note`` (KeyError), though docs/api.md says every row carries it and its
    docstring says it follows ``srmat heyn``'s row. Now it carries the row's note, by the
    one rule (``grainsize.interval_note``): one test line has no interval and a note
    saying why; many lines have their interval and a null note."""
    mask = generate_microstructure((256, 256), mean_grain_size_px=24, seed=5).boundaries
    result = measure_intercepts(
        mask, pattern="random", n_lines=n_lines, seed=3, skeletonize=True, pixel_size_um=0.5
    )
    stats = heyn_statistics(result)
    row = grain_size_from_heyn(result, pixel_size_um=0.5).to_dict()
    assert stats["interval_note"] == row["interval_note"]  # srmat heyn's row, same mask
    assert stats["mean_intercept_px"] > 0
    if has_interval:
        assert stats["mean_intercept_ci95_px"][0] < stats["mean_intercept_ci95_px"][1]
        assert stats["interval_note"] is None
    else:
        assert stats["astm_g_ci95"] is None
        note = stats["interval_note"]
        assert note.startswith(NO_INTERVAL_NOTE) and "fewer than two test lines" in note
        assert note in stats["warnings"]
