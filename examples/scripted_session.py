"""A scripted napari-srmat session: what the widgets do, without clicking.

Loads a micrograph (a scan from ``../shared/data/scans`` when present, else the
synthetic sample), super-resolves it, overlays UAED boundary probability and
uncertainty on the SR image, and measures the Heyn mean lineal intercept on the
thresholded boundaries. The model runs at the SR image's pixels, where its grains are
larger than it is reliable at: the scale check's warning is printed (stderr; ``warnings``
in ``--json``), and that Heyn figure is biased (ℓ̄ too short); for the grain size, use
``srmat grain-size`` or the grain-size widget's Simple tab. Runs headless
(``napari.Viewer(show=False)``)::

    python examples/scripted_session.py                 # scan_14 (or synthetic)
    python examples/scripted_session.py --image my.tif --pixel-size-um 0.5 --show
    python examples/scripted_session.py --screenshot session.png --json
    xvfb-run -a python examples/scripted_session.py --json   # on a server without a display

Without any display it stops with one line (exit 2) instead of a Qt abort.

The same functions back the widgets (``napari_srmat.widgets.layers``, the public
napari-side helpers), so a script and a click give the same layers and numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SCAN = HERE.parent.parent / "shared" / "data" / "scans" / "scan_14.jpg"


def _crop(layer, size: int):
    """Replace a layer's data by its central ``size`` x ``size`` crop (keeps it quick)."""
    data = layer.data[0] if layer.multiscale else layer.data
    h, w = data.shape[:2]
    if size <= 0 or (h <= size and w <= size):
        return np.asarray(data)
    r0, c0 = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return np.asarray(data[r0:r0 + size, c0:c0 + size])


def _finite(obj):
    """JSON-safe copy: numpy scalars to Python, inf/NaN to None."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _has_display() -> bool:
    """Whether Qt can open windows here (an X/Wayland display, or a Qt platform set)."""
    import os

    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                or os.environ.get("QT_QPA_PLATFORM") or sys.platform in ("win32", "darwin"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=None,
                        help="micrograph to open (default: scan_14, else synthetic)")
    parser.add_argument("--crop", type=int, default=256,
                        help="central crop side in px before SR (0 = whole image)")
    parser.add_argument("--model", default=None, help="SR model name (default: shipped)")
    parser.add_argument("--scale", type=int, default=4, choices=(2, 4))
    parser.add_argument("--sr-checkpoint", default=None)
    parser.add_argument("--boundary-checkpoint", default=None,
                        help="UAED checkpoint (default: shipped weights)")
    parser.add_argument("--pixel-size-um", "--pixel-size", dest="pixel_size", type=float,
                        default=None, help="µm per input pixel")
    parser.add_argument("--lines", type=int, default=50, help="Heyn test lines")
    parser.add_argument("--screenshot", type=Path, default=None)
    parser.add_argument("--show", action="store_true", help="open the viewer window")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if not _has_display():
        print("scripted_session: no display to open napari on: run it under a virtual "
              "display (xvfb-run -a python examples/scripted_session.py), or use the "
              "library without napari (docs/index.md)", file=sys.stderr)
        return 2

    import napari

    from napari_srmat.widgets.layers import (
        add_boundary_layers,
        add_heyn_measurement,
        add_super_resolution,
    )

    viewer = napari.Viewer(show=args.show)
    path = args.image or (SCAN if SCAN.is_file() else None)
    if path is not None:
        [layer] = viewer.open(str(path), plugin="napari-srmat")
    else:
        print("no scan found: using the synthetic sample", file=sys.stderr)
        image, _truth = viewer.open_sample("napari-srmat", "micrograph")
        layer = image
    crop = _crop(layer, args.crop)
    meta = dict(layer.metadata)
    if args.pixel_size:
        meta["pixel_size_um"] = args.pixel_size
    name = layer.name
    viewer.layers.remove(layer)
    scale = (args.pixel_size,) * 2 if args.pixel_size else (1.0, 1.0)
    lr = viewer.add_image(crop, name=name, rgb=crop.ndim == 3, metadata=meta, scale=scale)

    sr = add_super_resolution(viewer, lr, model=args.model, scale=args.scale,
                              checkpoint=args.sr_checkpoint, tile=128)
    maps = add_boundary_layers(viewer, sr, checkpoint=args.boundary_checkpoint)
    maps.uncertainty.visible = True
    # the model ran at the SR layer's pixels: its scale check says when they are outside
    # the grain sizes it is reliable at (an x4 SR output is), and what to run instead
    scale = maps.probability.metadata.get("native_scale") or {}
    if scale.get("warning"):
        print(f"warning: {scale['warning']}", file=sys.stderr)
    # counted as the Boundary mask tab counts (grainsize.MEASURED_SKELETONIZE)
    heyn = add_heyn_measurement(viewer, maps.boundaries, pattern="random", n_lines=args.lines)
    summary = {
        "image": str(path) if path else "synthetic",
        "lr_shape": list(crop.shape),
        "sr_layer": sr.name,
        "sr_shape": list(np.shape(sr.data[0] if sr.multiscale else sr.data)),
        "threshold": maps.boundaries.metadata["threshold"],
        "heyn": {k: v for k, v in heyn.stats.items() if not isinstance(v, tuple)},
        # the Heyn numbers are in SR pixels; in input pixels divide by the scale
        "mean_intercept_input_px": heyn.stats["mean_intercept_px"] / args.scale,
        "native_scale": scale,
        "warnings": [scale["warning"]] if scale.get("warning") else [],
    }
    if args.screenshot:
        viewer.reset_view()
        viewer.screenshot(str(args.screenshot), canvas_only=False)
    if args.json:
        print(json.dumps(_finite(summary), indent=2))
    else:
        st = heyn.stats
        print(f"{summary['image']}: SR {summary['sr_shape']}, mean intercept "
              f"{st['mean_intercept_px']:.2f} SR px = "
              f"{summary['mean_intercept_input_px']:.2f} input px "
              f"({heyn.result.counts()['intersection_count']:g} intersections P, "
              f"%RA {st['relative_accuracy_pct']:.1f})")
    if args.show:
        napari.run()
    else:
        viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
