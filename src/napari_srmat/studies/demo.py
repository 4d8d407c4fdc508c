"""The main job on built-in sample data: ``srmat demo``.

Generates a synthetic polarized-light micrograph with exact ground truth, then

1. measures grain size (Heyn lineal intercept, ASTM E112) on the true boundaries,
2. super-resolves the micrograph x4 with the shipped default model (tiled, streamed to
   OME-Zarr),
3. predicts boundary probability and uncertainty with the shipped UAED model, thresholds
   and skeletonizes them and measures grain size on the prediction,

and writes files a person can open (PNG previews, OME-Zarr stores, a JSON and a Markdown
report) into one output folder.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write_bytes, atomic_write_text
from ..errors import Option
from ..io import LENGTH_UNIT, png_bytes, to_uint8
from ..jobs import Event, Log, Progress, Stopped, StopToken, run_job

__all__ = ["run_demo_job", "run_demo"]


#: Files the demo writes into its folder, and its super-resolved store: a run first
#: removes those of an earlier run (only these names, in a folder marked as a demo), so
#: the folder never mixes two runs (a rerun with another seed or size rewrote the
#: micrograph, then stopped at the earlier run's store "made differently", or kept the
#: earlier previews beside the new micrograph when it ran fewer stages).
DEMO_FILES = ("micrograph.png", "true_boundaries.png", "super_resolved.png",
              "boundary_probability.png", "uncertainty.png", "predicted_boundaries.png",
              "report.json", "report.md")
DEMO_STORE = "super_resolved.zarr"
#: The micrograph's pixel size as each caller gives it (its refusals name it).
PIXEL_SIZE = Option("pixel_size_um", "--pixel-size-um")


def _clear_earlier_run(out: Path) -> None:
    """Remove the files of an earlier demo run from its folder ``out`` (files of other
    names, and a store napari-srmat did not write, are left as they are).

    Raises
    ------
    napari_srmat.outputs.OutputExistsError
        The store is ours but holds files of the user's, or is another command's
        (:func:`napari_srmat.io.check_replaceable_store`); checked before anything is
        removed.
    """
    import contextlib

    from .._atomic import remove_tree_marker_last
    from ..io import check_replaceable_store
    from ..outputs import is_ours
    from ..sr.apply import SR_OUTPUT_KIND

    store = out / DEMO_STORE
    ours = store.is_dir() and not store.is_symlink() and is_ours(store)
    if ours:  # a file the user put in it was deleted with the store
        check_replaceable_store(store, SR_OUTPUT_KIND)
    for name in DEMO_FILES:
        with contextlib.suppress(FileNotFoundError):
            (out / name).unlink()
    if ours:
        remove_tree_marker_last(store)


def _save_png(path: Path, array: np.ndarray, pixel_size_um: float | None = None) -> None:
    atomic_write_bytes(path, png_bytes(array, pixel_size_um))


def run_demo_job(
    out_dir: str | Path = "srmat-demo",
    *,
    size: int = 384,
    mean_grain_size_px: float = 28.0,
    pixel_size_um: float = 0.5,
    seed: int = 0,
    scale: int = 4,
    device: str = "auto",
    steps: tuple[str, ...] = ("heyn", "sr", "boundaries"),
    stop: StopToken | None = None,
) -> Generator[Event, None, dict[str, Any]]:
    """Run the demo pipeline; yields progress events and returns the report dict.

    Parameters
    ----------
    out_dir : path-like
        Output folder (created), new, empty or an earlier demo's: that run's files
        (:data:`DEMO_FILES`, :data:`DEMO_STORE`) are removed first, others are kept.
    size : int
        Side of the synthetic micrograph in pixels.
    mean_grain_size_px : float
        Mean grain size of the synthetic microstructure.
    pixel_size_um : float
        Pixel size assigned to the synthetic micrograph, in µm (required).
    seed : int
        Random seed of the microstructure and the Heyn test lines.
    scale : int
        Super-resolution factor.
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    steps : tuple of str
        Which parts to run: any of ``"heyn"``, ``"sr"``, ``"boundaries"``.
    stop : StopToken, optional
        Stops between steps.

    Returns
    -------
    dict
        The report also written to ``out_dir/report.json``.
    """
    from ..io import PixelSizeError, check_pixel_size
    from ..metrics.heyn import HEYN_N_LINES, HEYN_SEED, measure_intercepts
    from ..outputs import prepare_output_dir
    from ..synth import check_microstructure_params, generate_microstructure

    pixel_size_um = check_pixel_size(pixel_size_um)
    if pixel_size_um is None:  # the report is in µm: None failed after the first files
        raise PixelSizeError(f"pixel_size_um is required: the demo reports {LENGTH_UNIT} "
                             "and ASTM G")
    # before the folder is made and the earlier run's files removed (a bad grain size
    # was refused after both)
    check_microstructure_params((size, size), mean_grain_size_px=mean_grain_size_px,
                                seed=seed)
    from ..io._write import check_png_pixel_size

    # every PNG carries its pixel size, the SR one at pixel_size_um / scale: a size no PNG
    # can carry is refused before anything runs (it failed after the SR stage)
    # in each caller's words: pixel_size_um in Python, --pixel-size-um in srmat demo
    check_png_pixel_size(pixel_size_um, field=PIXEL_SIZE)
    if "sr" in steps and pixel_size_um is not None:
        check_png_pixel_size(pixel_size_um / scale, field=Option(
            *(f"the SR image's pixel size ({name} / {scale})" for name in PIXEL_SIZE[:2])))
    if {"sr", "boundaries"} & set(steps):  # before the folder: a bad --device writes nothing
        from ..device import resolve_device

        device = resolve_device(device)
    out = prepare_output_dir(out_dir, "demo")
    _clear_earlier_run(out)
    total = 1 + len(steps)
    report: dict[str, Any] = {"output_dir": str(out.resolve()), "files": {}}

    def stopped() -> bool:
        return stop is not None and stop.stop_requested

    yield Progress(0, total, "synthetic micrograph")
    micro = generate_microstructure(
        (size, size), mean_grain_size_px=mean_grain_size_px, seed=seed
    )
    _save_png(out / "micrograph.png", micro.image, pixel_size_um)
    _save_png(out / "true_boundaries.png", micro.boundaries.astype(np.uint8) * 255,
              pixel_size_um)
    report["files"].update(micrograph="micrograph.png", true_boundaries="true_boundaries.png")
    report["synthetic"] = {
        "shape": list(micro.image.shape),
        "seed": seed,
        "pixel_size_um": pixel_size_um,
        "true_mean_intercept_px": float(micro.mean_intercept_px),
        "true_mean_intercept_um": float(micro.mean_intercept_px) * pixel_size_um,
    }
    done = 1
    yield Progress(done, total, "synthetic micrograph")

    if "heyn" in steps and not stopped():
        res = measure_intercepts(
            micro.boundaries,
            pattern="random",
            n_lines=HEYN_N_LINES,
            seed=HEYN_SEED,
            skeletonize=True,
            pixel_size_um=pixel_size_um,
        )
        report["grain_size_true_boundaries"] = res.to_dict()
        done += 1
        yield Log(
            f"Heyn on true boundaries: mean intercept {res.mean_intercept_px:.2f} px "
            f"= {res.mean_intercept_um:.2f} {LENGTH_UNIT}, ASTM G = {res.astm_g:.2f}"
        )
        yield Progress(done, total, "grain size")

    if "sr" in steps and not stopped():
        from ..sr import load_model, super_resolve_job

        t0 = time.perf_counter()
        model = load_model(None, scale=scale, device=device)
        store = out / DEMO_STORE
        # resume=False: a run stopped here left a staging of other settings, which a
        # resume would refuse (naming --no-resume, a flag demo does not have)
        result = yield from super_resolve_job(
            micro.image, model, out=store, pixel_size_um=pixel_size_um, stop=stop,
            resume=False,
        )
        if stopped():
            yield Stopped("demo stopped during super-resolution")
            return report
        from ..io import read_image

        sr_image = np.asarray(read_image(result).data)
        _save_png(out / "super_resolved.png", to_uint8(sr_image), pixel_size_um / scale)
        report["files"].update(super_resolved="super_resolved.png", super_resolved_zarr=store.name)
        report["super_resolution"] = {
            "model": model.name,
            "scale": scale,
            "output_shape": list(sr_image.shape),
            "seconds": round(time.perf_counter() - t0, 3),
        }
        done += 1
        yield Progress(done, total, "super-resolution")

    if "boundaries" in steps and not stopped():
        from ..edges import load_boundary_model, predict_boundaries_job
        from ..metrics.edges import EdgeHistogram
        from ..metrics.heyn import heyn_error

        model = load_boundary_model(None, device=device)
        maps = yield from predict_boundaries_job(micro.image, model, stop=stop)
        if maps is None or stopped():  # None: stopped (the scale estimate, the tiles)
            yield Stopped("demo stopped during boundary prediction")
            return report
        prob, sigma = maps
        prob = np.asarray(prob, dtype=np.float32)
        sigma = np.asarray(sigma, dtype=np.float32)
        # the model's default operating point (a threshold per image), as srmat grain-size
        from skimage.morphology import skeletonize

        edges = skeletonize(model.binarize(prob))
        threshold = model.image_threshold(prob)
        _save_png(out / "boundary_probability.png", to_uint8(prob), pixel_size_um)
        _save_png(out / "uncertainty.png", to_uint8(sigma / max(float(sigma.max()), 1e-6)),
                  pixel_size_um)
        _save_png(out / "predicted_boundaries.png", edges.astype(np.uint8) * 255,
                  pixel_size_um)
        hist = EdgeHistogram()
        hist.update(prob, micro.boundaries)
        err = heyn_error([edges], [micro.boundaries], pattern="random", n_lines=HEYN_N_LINES,
                         seed=HEYN_SEED, skeletonize=True)
        report["files"].update(
            boundary_probability="boundary_probability.png",
            uncertainty="uncertainty.png",
            predicted_boundaries="predicted_boundaries.png",
        )
        report["boundaries"] = {
            "threshold_rule": model.threshold_rule,
            "threshold": None if threshold is None else float(threshold),
            "ap": float(hist.average_precision()),
            "roc_auc": float(hist.roc_auc()),
            **{k: (None if v is None else float(v)) for k, v in err.items()
               if v is None or np.isscalar(v)},
            "warnings": err["warnings"],
        }
        done += 1
        yield Progress(done, total, "boundaries")

    atomic_write_text(out / "report.json", json.dumps(report, indent=2, default=float))
    atomic_write_text(out / "report.md", _markdown(report))
    return report


def _markdown(report: dict[str, Any]) -> str:
    lines = ["# napari-srmat demo report", ""]
    syn = report.get("synthetic", {})
    if syn:
        lines += [
            f"Synthetic micrograph {syn['shape']} (seed {syn['seed']}), "
            f"pixel size {syn['pixel_size_um']} {LENGTH_UNIT}.",
            f"True mean lineal intercept: {syn['true_mean_intercept_px']:.2f} px "
            f"({syn['true_mean_intercept_um']:.2f} {LENGTH_UNIT}).",
            "",
        ]
    g = report.get("grain_size_true_boundaries")
    if g:
        lines += [
            "## Grain size on the true boundaries (Heyn, 50 random lines)",
            "",
            f"- mean lineal intercept: {g['mean_intercept_px']:.2f} px"
            + (f" = {g['mean_intercept_um']:.2f} {LENGTH_UNIT}" if g.get("mean_intercept_um")
               else ""),
            f"- intersections: {g['n_intersections']} over {g['total_length_px']:.0f} px of line",
        ]
        if g.get("astm_g") is not None:
            lines.append(f"- ASTM E112 grain size number G: {g['astm_g']:.2f}")
        lines.append("")
    s = report.get("super_resolution")
    if s:
        lines += [
            "## Super-resolution",
            "",
            f"- model `{s['model']}`, x{s['scale']}, output {s['output_shape']}, "
            f"{s['seconds']:.1f} s",
            "",
        ]
    b = report.get("boundaries")
    if b:
        lines += [
            "## Boundaries (UAED) against the exact ground truth",
            "",
            f"- AP {b['ap']:.3f}, ROC-AUC {b['roc_auc']:.3f}, operating point "
            f"{b['threshold_rule']}"
            + ("" if b["threshold"] is None else f" (threshold {b['threshold']:.3f})"),
        ]
        if b.get("heyn_error_pct") is not None:
            lines.append(
                f"- Heyn: predicted {b['heyn_pred_px']:.2f} px vs true {b['heyn_gt_px']:.2f} px "
                f"({b['heyn_error_pct']:.1f}% error)"
            )
        lines += [f"- warning: {w}" for w in b.get("warnings", [])]
        lines.append("")
    lines += ["## Files", ""] + [f"- `{v}` ({k})" for k, v in report.get("files", {}).items()]
    return "\n".join(lines) + "\n"


def run_demo(out_dir: str | Path = "srmat-demo", **kwargs) -> dict[str, Any]:
    """Plain version of :func:`run_demo_job` (no progress output)."""
    return run_job(run_demo_job(out_dir, **kwargs), quiet=True)
