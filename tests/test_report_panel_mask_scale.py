"""The Report tab's provenance of a *Boundary mask* measurement names the mask scale once."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
from napari_srmat.widgets.heyn_widget import GrainSizeWidget  # noqa: E402

pytestmark = pytest.mark.gui


def _voronoi_mask(shape=(120, 160), n=30, seed=3) -> np.ndarray:
    """Boundaries of a random Voronoi tessellation (1-px lines)."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 1, (n, 2)) * shape
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    lab = ((rr[..., None] - pts[:, 0]) ** 2 + (cc[..., None] - pts[:, 1]) ** 2).argmin(-1)
    m = np.zeros(shape, bool)
    m[:-1] |= lab[:-1] != lab[1:]
    m[:, :-1] |= lab[:, :-1] != lab[:, 1:]
    return m


@pytest.mark.parametrize("given", [0, 2])
def test_the_mask_scale_is_one_provenance_row(make_napari_viewer, qtbot, tmp_path, given):
    """The Boundary mask tab's report had the mask scale twice: "test lines mask_scale"
    (the measurement's settings copied) beside "mask scale given" (the report's row of
    it, report.mask_scale_rows). Now once, as "mask scale given" (``given=2`` failed
    before; ``given=0``, no scale given, is a guard: passed before, no duplicate then)."""
    viewer = make_napari_viewer()
    mask = _voronoi_mask()
    if given:  # a mask drawn at 1/2: its nearest x2 upscale
        mask = np.kron(mask, np.ones((given, given), bool))
    layer = viewer.add_labels(mask.astype(np.uint8), name="gb",
                              metadata={"pixel_size_um": 0.5})
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    w.layer_combo.value = layer
    w.mask_scale.setValue(given)
    w.run()
    qtbot.waitUntil(lambda: w.measurement is not None, timeout=20000)
    w.report.source.setCurrentText("Boundary mask")
    built = w.report._builder()()
    rows = [key for key in built.provenance if "mask scale" in key or "mask_scale" in key]
    assert rows == ["mask scale given"]
    assert built.provenance["mask scale given"] == (given or "from the mask")
