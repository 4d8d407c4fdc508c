"""The Boundary mask tab's *Mask scale* (a map drawn at 1 / s, upscaled ×s) and its
per-line lengths in µm where the measurement has a pixel size."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

pytest.importorskip("napari")
from napari_srmat.metrics import heyn  # noqa: E402
from napari_srmat.synth import generate_microstructure  # noqa: E402
from napari_srmat.widgets.export import export_csv, export_json  # noqa: E402
from napari_srmat.widgets.heyn_widget import GrainSizeWidget  # noqa: E402

pytestmark = pytest.mark.gui

#: The SR factor and the drawn map's pixel size (µm/px).
S = 4
PX = 1.0


def _drawn() -> np.ndarray:
    """A 1 px boundary map as drawn at ×1 (256², 24 px grains)."""
    return generate_microstructure(
        (256, 256), mean_grain_size_px=24, seed=4, boundary_width=1, rgb=False
    ).boundaries


def _measured(qtbot, w):
    """Run the mask tab; wait for its result and for the job's end (Cancel disabled):
    a run called after the result but before the end is refused, "already running"."""
    w.run()
    qtbot.waitUntil(
        lambda: w.measurement is not None and not w.cancel_btn.isEnabled(), timeout=60000
    )
    return w.measurement


def _library(mask, pixel_size_um, mask_scale=None):
    """``measure_intercepts`` with the mask tab's default settings."""
    return heyn.measure_intercepts(
        mask,
        pattern="random",
        n_lines=heyn.HEYN_N_LINES,
        seed=heyn.HEYN_SEED,
        skeletonize=True,
        pixel_size_um=pixel_size_um,
        mask_scale=mask_scale,
    )


def _summary_rows(path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict(csv.reader(ln[2:] for ln in lines if ln.startswith("# ")))


def test_the_mask_tab_measures_an_sr_map_at_the_mask_scale_given(
    make_napari_viewer, qtbot, tmp_path
):
    """Was: the Boundary mask tab had no mask scale (only ``measure_heyn`` /
    ``add_heyn_measurement`` took one, explorer F9). Now *Mask scale* (default: not
    given, read off the map as before) reaches the library: a nearest ×4 upscale of a
    drawn map on an SR layer measured at 4 gives the library's ℓ̄ of ``mask_scale=4``,
    within 3 % of the map drawn at ×1; 1 (the 2 px bridge on the SR pixels) reads it
    short, as the library does; the statistics, the summary table and both exports say
    the scale given and the block scale used."""
    from napari_srmat.widgets.heyn_widget import MASK_SCALE_FROM_MASK

    drawn = _drawn()
    up = np.kron(drawn, np.ones((S, S), bool))
    viewer = make_napari_viewer()
    layer = viewer.add_labels(
        up.astype(np.uint8), name="sr map", metadata={"pixel_size_um": PX / S}
    )
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    w.layer_combo.value = layer
    assert w.mask_scale.text() == MASK_SCALE_FROM_MASK and w.options()["mask_scale"] is None
    x1 = _library(drawn, PX).mean_intercept_um

    w.mask_scale.setValue(S)
    meas = _measured(qtbot, w)
    ref = _library(up, PX / S, mask_scale=S)
    assert meas.result.block_scale == S
    assert meas.stats["mean_intercept_um"] == ref.mean_intercept_um
    assert abs(meas.stats["mean_intercept_um"] / x1 - 1) < 0.03
    assert (meas.stats["mask_scale"], meas.stats["block_scale"]) == (S, S)
    shown = {
        w.summary.item(i, 0).text(): w.summary.item(i, 1).text()
        for i in range(w.summary.rowCount())
    }
    assert (shown["mask scale given"], shown["block scale used"]) == (str(S), str(S))
    data = json.loads(export_json(tmp_path / "m.json", meas).read_text(encoding="utf-8"))
    assert data["source"]["mask_scale"] == S and data["block_scale"] == S
    rows = _summary_rows(export_csv(tmp_path / "m.csv", meas))
    assert (rows["mask_scale"], rows["block_scale"]) == (str(S), str(S))

    w.mask_scale.setValue(1)
    meas = _measured(qtbot, w)
    pixels = _library(up, PX / S, mask_scale=1)
    assert meas.result.block_scale == 1
    assert meas.stats["mean_intercept_um"] == pixels.mean_intercept_um
    assert meas.stats["mean_intercept_um"] < 0.95 * ref.mean_intercept_um  # read short
    assert meas.source["mask_scale"] == 1

    w.mask_scale.setValue(0)  # not given: read off the map (a nearest upscale: S)
    meas = _measured(qtbot, w)
    assert meas.source["mask_scale"] is None and meas.stats["mask_scale"] is None
    assert meas.result.block_scale == S
    shown = {
        w.summary.item(i, 0).text(): w.summary.item(i, 1).text()
        for i in range(w.summary.rowCount())
    }
    assert shown["mask scale given"] == MASK_SCALE_FROM_MASK


@pytest.mark.parametrize(
    "pixel_size_um", [0.5, 0.0002, None], ids=["calibrated", "fine", "uncalibrated"]
)
def test_per_line_lengths_are_in_um_too_where_the_pixel_size_is_known(
    make_napari_viewer, qtbot, tmp_path, pixel_size_um
):
    """Was (explorer F13): on a calibrated layer the per-line table and the CSV's
    per-line rows gave each line's length in px only (ℓ̄ in µm beside them), and a
    metallurgist checking one line against the scale bar converted by hand. Now the
    table shows a µm column, the CSV a ``length_um`` column after ``line,length_px,count``
    and the JSON ``length_um`` per line: the length times the pixel size the measurement
    used (ℓ̄'s). Without a pixel size the column is hidden, the CSV's table as before and
    the JSON's ``length_um`` null."""
    viewer = make_napari_viewer()
    meta = {} if pixel_size_um is None else {"pixel_size_um": pixel_size_um}
    layer = viewer.add_labels(_drawn().astype(np.uint8), name="gb", metadata=meta)
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    w.layer_combo.value = layer
    w.n_lines.setValue(5)
    meas = _measured(qtbot, w)
    lengths = [length for _, length, _ in meas.table_rows()]
    assert len(lengths) == 5 and min(lengths) > 10
    assert w.table.isColumnHidden(3) is (pixel_size_um is None)
    table = list(
        csv.reader(export_csv(tmp_path / "m.csv", meas).read_text(encoding="utf-8").splitlines())
    )
    per_line = json.loads(export_json(tmp_path / "m.json", meas).read_text("utf-8"))["per_line"]
    if pixel_size_um is None:
        assert table[0] == ["line", "length_px", "count"]
        assert [r["length_um"] for r in per_line] == [None] * 5
        return
    assert w.table.horizontalHeaderItem(3).text() == "length (µm)"
    # four significant digits as the summary's ℓ̄ (was '.2f': 198 px at 0.0002 µm/px
    # showed "0.04", a third of its digits lost; R4 #1)
    cells = [w.table.item(i, 3).text() for i in range(5)]
    assert cells == [f"{length * pixel_size_um:.4g}" for length in lengths]
    assert [float(c) for c in cells] == pytest.approx(
        [length * pixel_size_um for length in lengths], rel=1e-3
    )
    assert table[0] == ["line", "length_px", "count", "length_um"]
    assert [float(r[3]) for r in table[1:6]] == pytest.approx(
        [length * pixel_size_um for length in lengths], rel=1e-12
    )
    assert [r["length_um"] for r in per_line] == pytest.approx(
        [length * pixel_size_um for length in lengths], rel=1e-12
    )
    # ΣL in µm over ΣP is the summary's ℓ̄ in µm
    total_p = sum(count for _, _, count in meas.table_rows())
    assert sum(r["length_um"] for r in per_line) / total_p == pytest.approx(
        meas.stats["mean_intercept_um"], rel=1e-9
    )
