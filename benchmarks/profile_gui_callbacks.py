"""GUI-thread cost of the grain-size widgets' result callbacks (real window, Xvfb).

    xvfb-run -a python benchmarks/profile_gui_callbacks.py

On a 2048² synthetic boundary map: the mask tab's ``show_heyn_measurement`` (200 random
lines, intersections and test lines as layers) and the specimen tab's ``_on_result``
(2 x 2 fields), each called twice: the first call creates the layers, the second updates
them in place. docs/widgets/responsiveness.md quotes these seconds.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np


def main() -> int:
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_srmat.jobs import run_job
    from napari_srmat.synth import generate_microstructure
    from napari_srmat.widgets._snapshot import as_mask, snapshot
    from napari_srmat.widgets.heyn_widget import GrainSizeWidget
    from napari_srmat.widgets.layers import measure_heyn, show_heyn_measurement
    from napari_srmat.widgets.specimen_panel import specimen_job

    ms = generate_microstructure((2048, 2048), mean_grain_size_px=24, seed=5)
    v = napari.Viewer(show=True)
    layer = v.add_image(np.where(ms.boundaries, 0.9, 0.1).astype(np.float32), name="p",
                        metadata={"threshold": 0.5})
    result = measure_heyn(as_mask(snapshot(layer)), pattern="random", n_lines=200,
                          skeletonize=True)
    out = {"n_intersections": len(result.intersections)}
    for k in range(2):
        t = time.perf_counter()
        show_heyn_measurement(v, layer, result)
        out[f"heyn_result_callback_s_{k + 1}"] = round(time.perf_counter() - t, 3)
        QApplication.processEvents()
    w = GrainSizeWidget(v)
    v.window.add_dock_widget(w)
    panel = w.specimen
    panel._job_sources = [snapshot(layer)]
    res = run_job(specimen_job(panel._job_sources, grid=(2, 2)), quiet=True)
    for k in range(2):
        t = time.perf_counter()
        panel._on_result(res)
        out[f"specimen_result_callback_s_{k + 1}"] = round(time.perf_counter() - t, 3)
        QApplication.processEvents()
    v.close()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()  # --help
    sys.exit(main())
