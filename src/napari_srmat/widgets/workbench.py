"""All napari-srmat tools in one dock, as tabs: the canvas stays visible.

Five separate docks squeeze napari's canvas to nothing on a 1600 x 1000 screen. The
workbench holds the same widgets (the very same classes, so everything they do and
test holds here) as tabs of one dock, each scrolling vertically: calibrate, super-resolve,
find boundaries, measure grain size, audit, train.
"""

from __future__ import annotations

from qtpy.QtWidgets import QCheckBox, QTabWidget, QVBoxLayout, QWidget

from ._layout import vertical_scroll
from ._worker import ShutDownWhenClosedMixin
from .audit_widget import AuditWidget
from .boundaries_widget import BoundariesWidget
from .calibration_widget import CalibrationWidget
from .heyn_widget import GrainSizeWidget
from .sr_widget import SuperResolutionWidget
from .train_widget import TrainEvaluateWidget

__all__ = ["WorkbenchWidget", "WORKBENCH_TABS"]

#: (tab title, attribute, widget class), in the order of a measurement session.
WORKBENCH_TABS = (
    ("Pixel size", "calibration", CalibrationWidget),
    ("Super-resolution", "super_resolution", SuperResolutionWidget),
    ("Boundaries", "boundaries", BoundariesWidget),
    ("Grain size", "grain_size", GrainSizeWidget),
    ("Audit", "audit", AuditWidget),
    ("Train && evaluate", "train", TrainEvaluateWidget),  # "&&": a literal & in Qt
)


class WorkbenchWidget(ShutDownWhenClosedMixin, QWidget):
    """Every napari-srmat widget as a tab of one dock.

    The widgets are attributes (``calibration``, ``super_resolution``, ``boundaries``,
    ``grain_size``, ``audit``, ``train``); ``show_tab(name)`` brings one forward.
    """

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.tabs = QTabWidget()
        self.tabs.setUsesScrollButtons(True)
        self._index: dict[str, int] = {}
        for title, attr, cls in WORKBENCH_TABS:
            widget = cls(napari_viewer)
            setattr(self, attr, widget)
            self._index[attr] = self.tabs.addTab(vertical_scroll(widget), title)
        self.async_slicing = QCheckBox("load big images in the background (napari async "
                                       "slicing)")
        self.async_slicing.setToolTip(
            "napari's experimental 'async' setting: panning a lazy gigapixel mosaic no longer "
            "waits for its tiles on the GUI thread (benchmarks/bench_gui_stall.py: longest "
            "stall 1.1 s -> 0.3 s on the 24000² sample mosaic). A napari preference: it stays "
            "set for later sessions.")
        self.async_slicing.setChecked(bool(_async_setting().async_))
        self.async_slicing.toggled.connect(self.set_async_slicing)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.tabs)
        lay.addWidget(self.async_slicing)

    def set_async_slicing(self, on: bool) -> None:
        """Switch napari's asynchronous slicing (its experimental ``async`` preference)."""
        _async_setting().async_ = bool(on)
        if self.async_slicing.isChecked() != bool(on):
            self.async_slicing.setChecked(bool(on))

    def shut_down(self) -> None:
        """Stop every tab's job, timers and key bindings (the dock is going away)."""
        for _title, attr, _cls in WORKBENCH_TABS:
            stop = getattr(getattr(self, attr), "shut_down", None)
            if stop is not None:
                stop()

    def show_tab(self, name: str) -> QWidget:
        """Bring the tab of widget ``name`` (an attribute name) forward; return the widget."""
        if name not in self._index:
            raise KeyError(f"no tab {name!r}; tabs: {', '.join(self._index)}")
        self.tabs.setCurrentIndex(self._index[name])
        return getattr(self, name)


def _async_setting():
    from napari.settings import get_settings

    return get_settings().experimental
