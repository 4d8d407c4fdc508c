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


def test_exports_write_no_half_width_where_the_interval_is_withheld(tmp_path):
    """Was: two drawn lines whose intersection densities scatter as much as their mean
    (12 and 1 crossings) had their interval withheld ("no 95% interval: it has no
    upper end"), yet the CSV and JSON exports wrote ``ci95_half_width_px`` 56.0 against
    ℓ̄ 20.0 px (and ``_um``): ℓ̄ ± half-width, the interval the note says does not
    exist. Now the half-width is null (JSON) / empty (CSV) wherever the row's interval
    is withheld (``grain_size_from_heyn``'s, the one rule); a measurement with its
    interval keeps its half-width."""
    import csv
    import json

    import numpy as np

    from napari_srmat.widgets.export import export_csv, export_json
    from napari_srmat.widgets.layers import HeynMeasurement, measure_heyn

    mask = generate_microstructure((256, 256), mean_grain_size_px=24, seed=5).boundaries
    segments = [np.array([[10.0, 10.0], [10.0, 240.0]]), np.array([[100.0, 100.0], [100.0, 130.0]])]
    withheld = measure_heyn(mask, pattern="segments", segments=segments, pixel_size_um=0.5)
    kept = measure_heyn(mask, pattern="random", n_lines=20, seed=3, pixel_size_um=0.5)
    for result, has_interval in ((withheld, False), (kept, True)):
        m = HeynMeasurement(result=result, stats=heyn_statistics(result))
        data = json.loads(export_json(tmp_path / "m.json", m).read_text(encoding="utf-8"))
        rows = {
            r[0].removeprefix("# "): r[1]
            for r in csv.reader(
                export_csv(tmp_path / "m.csv", m).read_text(encoding="utf-8").splitlines()
            )
            if r and r[0].startswith("# ")
        }
        assert data["mean_intercept_px"] > 0
        assert (None not in data["mean_intercept_ci95_px"]) is has_interval  # a pair
        assert (data["interval_note"] is None) is has_interval
        for key in ("ci95_half_width_px", "ci95_half_width_um"):
            if has_interval:
                assert data[key] > 0 and float(rows[key]) == pytest.approx(data[key])
            else:
                assert data[key] is None and rows[key] == ""


@pytest.mark.parametrize("lines", ["one-line", "withheld", "many-lines"])
def test_the_statistics_half_width_is_the_rows_one_rule(lines):
    """Guard (passed before the change it guards): ``heyn_statistics`` decided a
    withheld half-width by its own test of the row's interval; it now reads the row's
    ``GrainSizeResult.ci95_half_width_px`` (``grainsize.interval_half_width``, the one
    rule of every Heyn output) with the same answers: NaN where the row withholds the
    interval (one test line; two lines whose densities scatter as much as their mean),
    the result's half-width (and times the pixel size in µm) where it has one."""
    import math

    import numpy as np

    mask = generate_microstructure((256, 256), mean_grain_size_px=24, seed=5).boundaries
    if lines == "withheld":
        segments = [
            np.array([[10.0, 10.0], [10.0, 240.0]]),
            np.array([[100.0, 100.0], [100.0, 130.0]]),
        ]
        kw = {"pattern": "segments", "segments": segments}
    else:
        kw = {"pattern": "random", "n_lines": 1 if lines == "one-line" else 20, "seed": 3}
    result = measure_intercepts(mask, skeletonize=True, pixel_size_um=0.5, **kw)
    stats = heyn_statistics(result)
    row = grain_size_from_heyn(result, pixel_size_um=0.5)
    if lines == "many-lines":
        assert row.ci95_half_width_px == result.ci95_half_width_px > 0
        assert stats["ci95_half_width_px"] == row.ci95_half_width_px
        assert stats["ci95_half_width_um"] == row.ci95_half_width_px * 0.5
    else:
        assert row.ci95_half_width_px is None
        # two lines have a half-width the row withholds; one line has none
        assert math.isfinite(result.ci95_half_width_px) is (lines == "withheld")
        assert math.isnan(stats["ci95_half_width_px"]) and math.isnan(stats["ci95_half_width_um"])
