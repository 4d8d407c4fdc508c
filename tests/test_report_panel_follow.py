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
    w.simple.measured_layer = a
    w.tabs.setCurrentWidget(w.report)
    assert w.report.source.currentText() == "Simple"
    assert w.report.micrograph.value is a
    w.tabs.setCurrentWidget(w.simple)
    w.simple.measured_layer = b  # the Simple tab measured b since
    w.tabs.setCurrentWidget(w.report)
    assert w.report.micrograph.value is b


def test_measurement_choice_after_the_widget_is_deleted_calls_nothing(make_napari_viewer,
                                                                      qtbot):
    """The grain-size widget closed and deleted while its Report tab's *Measurement*
    choice lives on (a signal emitted late): the choice was connected to a lambda, which
    Qt kept after the panel was deleted and which then set the deleted micrograph field
    ("wrapped C/C++ object of type QComboBox has been deleted", an exception in the Qt
    event loop). A bound method is dropped with the panel: nothing is called."""
    viewer = make_napari_viewer()
    a = viewer.add_image(np.zeros((32, 32), np.float32), name="a")
    w = GrainSizeWidget(viewer)
    w.simple.result = SimpleNamespace()  # a Simple measurement of a (fields not read)
    w.simple.measured_layer = a
    choice = w.report.source
    choice.setParent(None)  # outlives the panel
    qtbot.addWidget(choice)
    w.close()
    w.deleteLater()
    qtbot.wait(50)  # the deletion runs
    choice.setCurrentText("Simple")  # pytest-qt fails the test on a slot's exception
