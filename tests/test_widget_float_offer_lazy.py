"""The "divided by 255?" offer of a lazy float layer, decided in its job's worker
(``widgets._float_offer``)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")

pytestmark = pytest.mark.gui


def test_the_simple_tab_measures_a_lazy_0_255_layer_divided_by_255(make_napari_viewer,
                                                                   qtbot):
    """A lazy (Dask) float micrograph holding 0..255 got no offer in the Simple tab, and
    its job failed telling the user to "pass the integer array" (failed before: nothing
    asked). Now the job's worker reads its sample and asks; Yes gives exactly the
    measurement of the 8-bit image and says so in the warnings."""
    import dask.array as da

    from napari_srmat import grainsize
    from napari_srmat.synth import generate_microstructure
    from napari_srmat.widgets.heyn_widget import GrainSizeWidget

    viewer = make_napari_viewer()
    ms = generate_microstructure((128, 128), mean_grain_size_px=32, seed=5)
    grey8 = ms.image if ms.image.ndim == 2 else ms.image[..., 0]
    lazy = da.from_array(grey8.astype(np.float32), chunks=64)
    layer = viewer.add_image(lazy, name="lazy float tiff", metadata={"pixel_size_um": 0.5})
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    panel = w.simple
    panel.image_combo.value = layer
    asked = []
    panel.ask = lambda title, text: asked.append(text) or True
    assert panel.run() is not None and asked == []
    # the job's end, whatever it is (a failed job is told here, not by a timeout)
    qtbot.waitUntil(lambda: panel.run_btn.isEnabled(), timeout=120_000)
    assert len(asked) == 1 and "divided by 255" in asked[0] and "'lazy float tiff'" in asked[0]
    assert panel.status.text().startswith("done"), panel.status.text()
    assert panel.result is not None
    ref = grainsize.measure_grain_size(grey8, pixel_size_um=0.5)
    assert panel.result.mean_intercept_um == pytest.approx(ref.mean_intercept_um, rel=1e-9)
    assert "pixel values divided by 255 (a float image in 0..255" in panel.warning_label.text()


def test_the_offer_is_not_decided_on_the_gui_thread():
    """Guard (passed nowhere before: new code): deciding on the GUI thread would read
    chunks there and wait for itself; it raises instead, reading nothing."""
    import dask.array as da

    from napari_srmat.widgets._float_offer import lazy_float_offer

    read = []
    lazy = da.zeros((64, 64), dtype=np.float32, chunks=32).map_blocks(
        lambda b: read.append(b.shape) or b, dtype=np.float32)
    read.clear()  # dask's meta call
    offer = lazy_float_offer(None, "m", lazy, "measured")
    with pytest.raises(RuntimeError, match="not on the GUI thread"):
        bool(offer)
    assert read == []
