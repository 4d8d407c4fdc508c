"""Canvas size left by the napari-srmat docks in a 1600 x 1000 window (real window, Xvfb).

    xvfb-run -a -s "-screen 0 1920x1200x24" python benchmarks/bench_dock_layout.py

Prints the canvas size (height, width) with the Workbench dock (all tools as tabs) and
with the six widgets docked separately (docs/widgets/workbench.md quotes the first).
"""

from __future__ import annotations

import json
import sys
import time


def _settle() -> None:
    from qtpy.QtWidgets import QApplication

    for _ in range(30):
        QApplication.processEvents()
        time.sleep(0.02)


def main() -> int:
    import napari

    from napari_srmat.widgets.workbench import WORKBENCH_TABS, WorkbenchWidget

    out = {}
    v = napari.Viewer(show=True)
    v.window._qt_window.resize(1600, 1000)
    v.window.add_dock_widget(WorkbenchWidget(v), name="workbench")
    _settle()
    out["workbench_canvas_hw"] = list(v.canvas.size)
    v.close()
    v = napari.Viewer(show=True)
    v.window._qt_window.resize(1600, 1000)
    for title, _attr, cls in WORKBENCH_TABS:
        v.window.add_dock_widget(cls(v), name=title, area="right")
    _settle()
    out["six_docks_canvas_hw"] = list(v.canvas.size)
    out["six_docks_window_hw"] = [v.window._qt_window.height(), v.window._qt_window.width()]
    v.close()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()  # --help
    sys.exit(main())
