"""GUI-thread cost of one edit of a rescan plan's Shapes layer in napari (Xvfb).

    xvfb-run -a python benchmarks/bench_rescan_plan_edits.py --out bench_rescan_plan_edits.json

A plan of N rectangles (16 px blocks on a grid, uncertainty and focus maps, 0.37 µm/px)
is shown by the Super-resolution widget; one rectangle at a time is dragged 1 px (napari's
end-of-drag ``data`` event, ``changed``): the layer's handler shows the plan again
(``widgets.layers.show_plan_figures``) and the widget's status line follows. Per N:
the edit's CPU seconds on the GUI thread (median of 15 edits; CPU time, not wall time:
on a shared machine the wall clock counts the other processes' turns) and its parts:
the shapes read (``_shape_rois``), ``RescanPlan.edited``, ``rois_um`` (twice per edit:
the metadata and the features), ``to_dict``, ``rescan_features``. The baseline in the
same run: ``rois_um``'s rule one number at a time (``round(v * p, UM_DECIMALS)``, as
before 2026-12-07), whose floats it must give (checked).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

SIZES = (500, 2000, 5000)
EDITS = 15
REPEATS = 21


def _plan(n: int, roi: int = 16, px: float = 0.37):
    from napari_srmat.sr.rescan import RescanPlan

    side = int(np.ceil(np.sqrt(n)))
    rng = np.random.default_rng(0)
    rois = [
        [r * roi, c * roi, r * roi + roi, c * roi + roi] for r in range(side) for c in range(side)
    ][:n]
    return RescanPlan(
        rois,
        [float(v) for v in rng.random(n)],
        0.3,
        0.5,
        0.5,
        4,
        0.3,
        1.0,
        roi,
        "flips",
        "",
        "cnn",
        [side * roi] * 2,
        0.5,
        pixel_size_um=px,
        uncertainty=rng.random((side * roi,) * 2).astype(np.float32),
        focus_blocks=rng.random((side, side)).astype(np.float32),
    )


def _cpu_ms(f, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        t = time.process_time()
        f()
        times.append(time.process_time() - t)
    return round(float(np.median(times)) * 1e3, 2)


def _one_at_a_time(plan) -> list[list[float]]:
    """``rois_um`` as it was computed until 2026-12-07."""
    from napari_srmat.sr.rescan import UM_DECIMALS

    py = px = plan.pixel_size_um
    return [
        [
            round(y0 * py, UM_DECIMALS),
            round(x0 * px, UM_DECIMALS),
            round(y1 * py, UM_DECIMALS),
            round(x1 * px, UM_DECIMALS),
        ]
        for y0, x0, y1, x1 in plan.rois
    ]


def _parts(shapes) -> dict[str, float]:
    """CPU ms of the parts of one edit of the plan's layer ``shapes``, and ``rois_um``
    against its rule one number at a time (the same floats: checked)."""
    from napari_srmat.widgets import layers

    made, shown = layers._SHOWN_PLANS[shapes], layers.plan_shown_last(shapes)
    assert shown.rois_um == _one_at_a_time(shown)
    row = {
        "shape_rois": _cpu_ms(lambda: layers._shape_rois(shapes, made)),
        "edited": _cpu_ms(lambda: made.edited(shown.rois, shown.ranks)),
        "rois_um": _cpu_ms(lambda: shown.rois_um),
        "rois_um_one_at_a_time": _cpu_ms(lambda: _one_at_a_time(shown)),
        "to_dict": _cpu_ms(shown.to_dict),
        "rescan_features": _cpu_ms(lambda: layers.rescan_features(shown)),
    }
    row["rois_um_speedup"] = round(row["rois_um_one_at_a_time"] / max(row["rois_um"], 1e-3), 1)
    return row


def main(path: str | None = None) -> int:
    import napari
    from napari.layers.base._base_constants import ActionType
    from qtpy.QtWidgets import QApplication

    from napari_srmat.widgets.sr_widget import SuperResolutionWidget

    viewer = napari.Viewer(show=True)
    out: dict = {"edits": EDITS, "repeats": REPEATS, "cpu_ms": {}}
    for n in SIZES:
        plan = _plan(n)
        lr = viewer.add_image(
            np.zeros(plan.lr_shape, np.uint8),
            name=f"lr {n}",
            scale=(0.37, 0.37),
            units=("um", "um"),
        )
        widget = SuperResolutionWidget(viewer)
        widget.layer_combo.value = lr
        widget.rescan_plan = plan
        shapes = widget.rescan_layer
        edits = []
        for k in range(EDITS):
            shapes._data_view.shift(k, np.array([1.0, 1.0]) * (1 if k % 2 == 0 else -1))
            t = time.process_time()
            shapes.events.data(
                value=shapes.data,
                action=ActionType.CHANGED,
                data_indices=(k,),
                vertex_indices=((0, 1, 2, 3),),
            )
            QApplication.processEvents()
            edits.append(time.process_time() - t)
        row = {"edit": round(float(np.median(edits)) * 1e3, 2), **_parts(shapes)}
        out["cpu_ms"][n] = row
        print(n, json.dumps(row), file=sys.stderr, flush=True)
        widget.close()
    viewer.close()
    print(json.dumps(out))
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="also write the JSON to this file")
    sys.exit(main(parser.parse_args().out))
