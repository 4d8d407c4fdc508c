"""The Report tab's picture follows the micrograph the Simple tab last measured."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("napari")
from napari_srmat.widgets.heyn_widget import GrainSizeWidget  # noqa: E402

pytestmark = pytest.mark.gui


def test_report_tab_shown_again_shows_the_micrograph_measured_last(make_napari_viewer,
                                                                    qtbot):
    """Simple tab on micrograph A, Report tab shown (Simple chosen, A shown), then the
    Simple tab on micrograph B and the Report tab shown again: the picture's field kept
    showing A (a measured source returned before following the layer) while the report
    built drew B. It now shows B, as docs/widgets/grain_size.md says ("when the Report
    tab is shown")."""
    viewer = make_napari_viewer()
    rng = np.random.default_rng(0)
    a = viewer.add_image(rng.random((32, 32), np.float32), name="a")
    b = viewer.add_image(rng.random((48, 48), np.float32), name="b")
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    w.simple.result = SimpleNamespace()  # a measurement (the fields are not read here)
    w.simple._measured_layer = a
    w.tabs.setCurrentWidget(w.report)
    assert w.report.source.currentText() == "Simple"
    assert w.report.micrograph.value is a
    w.tabs.setCurrentWidget(w.simple)
    w.simple._measured_layer = b  # the Simple tab measured b since
    w.tabs.setCurrentWidget(w.report)
    assert w.report.micrograph.value is b
