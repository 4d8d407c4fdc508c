"""Make the widget screenshots of ``docs/images`` (run under a virtual X server).

    xvfb-run -a python scripts/make_screenshots.py            # all
    xvfb-run -a python scripts/make_screenshots.py heyn sr    # some

Each screenshot is the whole napari window (``viewer.screenshot(canvas_only=False)``)
with one plugin widget docked, after running it on a synthetic micrograph. PNGs are
palette-quantized to stay well below 300 KB. The boundaries screenshot needs UAED
weights: the shipped default, or ``--boundary-checkpoint PATH``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"
WINDOW = (1280, 820)


def _wait(cond, timeout: float = 300.0) -> None:
    from qtpy.QtWidgets import QApplication

    t0 = time.time()
    while not cond():
        QApplication.processEvents()
        time.sleep(0.02)
        if time.time() - t0 > timeout:
            raise TimeoutError("widget job did not finish in time")
    for _ in range(20):
        QApplication.processEvents()
        time.sleep(0.02)


def _close_toasts(viewer) -> None:
    """Close notification pop-ups (e.g. backend deprecation notices) before a shot."""
    try:
        from napari._qt.dialogs.qt_notification import NapariQtNotification
    except ImportError:  # pragma: no cover - private napari API moved
        return
    for toast in viewer.window._qt_window.findChildren(NapariQtNotification):
        toast.close()
    _wait(lambda: True)


def _save(viewer, name: str) -> Path:
    from PIL import Image

    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.png"
    _close_toasts(viewer)
    arr = viewer.screenshot(canvas_only=False, flash=False)
    img = Image.fromarray(np.asarray(arr)[..., :3])
    img = img.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    img.save(path, optimize=True)
    print(f"{path.relative_to(ROOT)}: {img.size[0]}x{img.size[1]}, "
          f"{path.stat().st_size / 1024:.0f} KB")
    return path


def _viewer():
    import napari

    warnings.filterwarnings("ignore", message=".*System theme detection.*")
    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(*WINDOW)
    return viewer


def _micrograph(viewer, size=(384, 384)):
    from napari_srmat._sample_data import synthetic_micrograph

    (img, ikw, _), (bnd, bkw, _) = synthetic_micrograph(shape=size, seed=4)
    image = viewer.add_image(img, **ikw)
    truth = viewer.add_labels(bnd, **bkw)
    return image, truth


def shot_sr(args) -> None:
    from napari_srmat.widgets.sr_widget import SuperResolutionWidget

    viewer = _viewer()
    image, truth = _micrograph(viewer, (128, 128))
    viewer.layers.remove(truth)
    w = SuperResolutionWidget(viewer)
    viewer.window.add_dock_widget(w, name="Super-resolution")
    w.layer_combo.value = image
    if args.sr_model:
        w.model.setCurrentText(args.sr_model)
    w.device.setCurrentText("cpu")
    w.run()
    _wait(lambda: w.last_layer is not None and w.run_btn.isEnabled())
    image.visible = False
    viewer.reset_view()
    viewer.camera.zoom *= 2.2
    _save(viewer, "sr_widget")
    viewer.close()


def shot_boundaries(args) -> None:
    from napari_srmat.widgets.boundaries_widget import BoundariesWidget

    viewer = _viewer()
    image, truth = _micrograph(viewer)
    viewer.layers.remove(truth)
    w = BoundariesWidget(viewer)
    viewer.window.add_dock_widget(w, name="Boundaries (UAED)")
    w.layer_combo.value = image
    if args.boundary_checkpoint:
        w.checkpoint.setText(str(args.boundary_checkpoint))
    w.device.setCurrentText("cpu")
    w.run()
    _wait(lambda: w.layers is not None and w.run_btn.isEnabled())
    w.layers.uncertainty.visible = False
    viewer.reset_view()
    _save(viewer, "boundaries_widget")
    w.layers.probability.visible = False
    image.visible = False
    w.layers.uncertainty.visible = True
    w.layers.uncertainty.opacity = 1.0
    _save(viewer, "boundaries_uncertainty")
    viewer.close()


def shot_heyn(args) -> None:
    from napari_srmat.widgets.heyn_widget import GrainSizeWidget

    viewer = _viewer()
    image, truth = _micrograph(viewer)
    truth.metadata = dict(truth.metadata, pixel_size_um=0.5)
    w = GrainSizeWidget(viewer)
    viewer.window.add_dock_widget(w, name="Grain size (Heyn)")
    w.tabs.setCurrentWidget(w.mask_tab)
    w.layer_combo.value = truth
    w.n_lines.setValue(20)
    w.run()
    _wait(lambda: w.measurement is not None)
    viewer.reset_view()
    _save(viewer, "heyn_widget")
    viewer.close()


def shot_specimen(args) -> None:
    from napari_srmat.widgets.heyn_widget import GrainSizeWidget

    viewer = _viewer()
    image, truth = _micrograph(viewer, (512, 512))
    truth.metadata = dict(truth.metadata, pixel_size_um=0.5)
    w = GrainSizeWidget(viewer)
    viewer.window.add_dock_widget(w, name="Grain size (Heyn)")
    viewer.window._qt_window.resize(1400, 1000)
    w.tabs.setCurrentWidget(w.specimen_tab)
    w.specimen.select_fields([truth])
    w.specimen.grid_rows.setValue(2)
    w.specimen.grid_cols.setValue(2)
    w.specimen.method.setCurrentText("planimetric")
    w.specimen.run()
    _wait(lambda: w.specimen.result is not None)
    image.visible = False
    viewer.reset_view()
    _save(viewer, "specimen_widget")
    viewer.close()


def _tiny_dataset(root: Path) -> None:
    from PIL import Image

    from napari_srmat.synth import generate_microstructure

    for split, n in (("train", 6), ("val", 2), ("test", 2)):
        for sub in ("images", "masks"):
            (root / split / sub).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            ms = generate_microstructure((96, 96), mean_grain_size_px=24,
                                         seed=100 * len(split) + i)
            Image.fromarray(ms.image).save(root / split / "images" / f"{i}.png")
            Image.fromarray((np.asarray(ms.boundaries) * 255).astype(np.uint8)).save(
                root / split / "masks" / f"{i}.png")


def shot_train(args) -> None:
    from napari_srmat.widgets.train_widget import UAED_TRAIN, TrainEvaluateWidget

    viewer = _viewer()
    w = TrainEvaluateWidget(viewer)
    viewer.window.add_dock_widget(w, name="Train & evaluate")
    tmp = Path(tempfile.mkdtemp(prefix="srmat-shots-"))
    _tiny_dataset(tmp / "data")
    w.kind.setCurrentText(UAED_TRAIN)
    w.data.setText(str(tmp / "data"))
    w.out.setText(str(tmp / "run"))
    w.steps.setValue(12)
    w.lr.setValue(2e-3)
    w.crop.setValue(64)
    w.device.setCurrentText("cpu")
    w.extra.setText('{"steps_per_epoch": 3, "num_threads": 1}')
    w.run()
    _wait(lambda: not w.is_running, timeout=900)
    _save(viewer, "train_widget")
    viewer.close()


def shot_mosaic(args) -> None:
    viewer = _viewer()
    viewer.open_sample("napari-srmat", "mosaic")
    viewer.reset_view()
    _wait(lambda: True)
    viewer.camera.center = (12000, 12000)
    viewer.camera.zoom *= 10  # about 2400 x 2400 px of the mosaic: level 2 tiles
    time.sleep(2)
    _wait(lambda: True)
    _save(viewer, "mosaic_sample")
    viewer.close()


def shot_session(args) -> None:
    """A whole measurement session in the workbench dock, one picture per step."""
    import tifffile

    from napari_srmat.synth import generate_microstructure
    from napari_srmat.widgets.workbench import WorkbenchWidget

    tmp = Path(tempfile.mkdtemp(prefix="srmat-session-"))
    ms = generate_microstructure((384, 384), mean_grain_size_px=26, seed=7)
    scan = tmp / "specimen_S7.ome.tif"
    tifffile.imwrite(scan, ms.image, ome=True, photometric="rgb",
                     metadata={"axes": "YXS", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5})
    viewer = _viewer()
    viewer.window._qt_window.resize(1600, 1000)
    wb = WorkbenchWidget(viewer)
    viewer.window.add_dock_widget(wb, name="napari-srmat workbench")
    # 1. open the scan with the plugin's reader: pixel size from the file
    (layer,) = viewer.open(str(scan), plugin="napari-srmat")
    wb.show_tab("calibration").layer_combo.value = layer
    wb.calibration.show_current()
    viewer.canvas.overlays.scale_bar.visible = True
    _wait(lambda: True)
    _save(viewer, "session_1_open")
    # 2. boundaries (shipped model, default operating point)
    b = wb.show_tab("boundaries")
    b.layer_combo.value = layer
    b.device.setCurrentText("cpu")
    b.run()
    _wait(lambda: b.layers is not None and b.run_btn.isEnabled())
    _save(viewer, "session_2_boundaries")
    # 3. grain size: specimen tab, 2 x 2 fields of the thresholded boundaries
    g = wb.show_tab("grain_size")
    g.tabs.setCurrentWidget(g.specimen_tab)
    g.specimen.select_fields([b.layers.boundaries])
    g.specimen.grid_rows.setValue(2)
    g.specimen.grid_cols.setValue(2)
    g.specimen.run()
    _wait(lambda: g.specimen.result is not None)
    b.layers.probability.visible = False
    _save(viewer, "session_3_grain_size")
    # 4. report
    g.tabs.setCurrentWidget(g.report)
    g.report.micrograph.value = layer
    g.report.sample_edits["specimen_id"].setText("S7 (synthetic)")
    g.report.sample_edits["operator"].setText("scripts/make_screenshots.py")
    g.report.export_report(tmp / "S7_report.html")
    _wait(lambda: g.report.last_path is not None)
    _save(viewer, "session_4_report")
    # 5. audit: SR of a x4-reduced copy against the scan (candidates of hallucination)
    viewer.close()


SHOTS = {"session": shot_session, "heyn": shot_heyn, "specimen": shot_specimen,
         "sr": shot_sr, "boundaries": shot_boundaries, "train": shot_train,
         "mosaic": shot_mosaic}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Make docs/images widget screenshots.")
    parser.add_argument("which", nargs="*",
                        help=f"screenshots to make (default: all of {', '.join(SHOTS)})")
    parser.add_argument("--sr-model", default=None, help="SR model (default: shipped)")
    parser.add_argument("--boundary-checkpoint", default=None)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.which) - set(SHOTS))
    if unknown:
        parser.error(f"unknown screenshot(s) {unknown}; choose from {', '.join(SHOTS)}")
    failed = []
    for name in args.which or list(SHOTS):
        try:
            SHOTS[name](args)
        except Exception as exc:  # noqa: BLE001 - report and go on with the others
            print(f"{name}: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
