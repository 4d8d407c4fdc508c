"""Evaluation of boundary maps: AP, ROC-AUC, F1 and Heyn grain-size error.

Protocol (the TBM benchmark of the SR-for-metallography paper):

1. boundary probabilities for every test image (UAED ``sigmoid(mu)``, or the
   Sobel baseline);
2. pixel-level PR / ROC over the whole test set (``EdgeHistogram``, 1024 bins):
   average precision (AP), ROC-AUC;
3. a threshold: the given one, else max-F1 on the validation split, else the
   checkpoint's stored one (for the Sobel baseline without validation data:
   max-F1 on the test set itself, flagged as an oracle threshold);
4. binarise at the threshold and skeletonise; Heyn mean lineal intercept of the
   predicted and of the (skeletonised) ground-truth masks with ``M = 50`` random
   lines (seed 1234) and with the 50 + 50 line grid, 5 % margin; the error is
   ``100 |l_pred - l_gt| / l_gt`` of the per-image means averaged over the set.
"""

from __future__ import annotations

import csv
import io as _io
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write_text
from ..checkpoint import write_json
from ..io import as_bool_mask
from ..jobs import Log, Progress, Stopped, check_stop, run_job
from ..metrics.edges import EdgeHistogram, evaluate_maps, plot_pr_roc, threshold_warnings
from ..metrics.heyn import HEYN_MARGIN, HEYN_N_LINES, HEYN_SEED
from .data import (
    BoundarySample,
    check_has_boundaries,
    list_image_mask_pairs,
    load_pairs,
    mask_content_warnings,
)

__all__ = [
    "sobel_boundary_probability",
    "binarize",
    "evaluate_probability_maps",
    "heyn_calibrated_threshold",
    "evaluate_boundaries_job",
    "evaluate_boundaries",
]

WHOLE_IMAGE_MAX_PIXELS = 2048 * 2048


def sobel_boundary_probability(image: np.ndarray, *, smooth: float = 1.0) -> np.ndarray:
    """Sobel-gradient boundary "probability" (the baseline floor).

    Parameters
    ----------
    image : array (H, W) or (H, W, C)
        Any dtype; channels-last colour images use the largest per-channel gradient.
    smooth : float
        Gaussian pre-smoothing sigma in pixels.

    Returns
    -------
    numpy.ndarray
        float32 ``(H, W)`` in [0, 1]: the gradient magnitude divided by its 99.5th
        percentile, clipped.
    """
    from scipy import ndimage

    from .data import to_model_image

    chw = to_model_image(np.asarray(image)).astype(np.float64)
    mags = []
    for ch in chw:
        g = ndimage.gaussian_filter(ch, smooth) if smooth > 0 else ch
        mags.append(np.hypot(ndimage.sobel(g, axis=0), ndimage.sobel(g, axis=1)))
    mag = np.max(mags, axis=0)
    scale = np.percentile(mag, 99.5)
    if scale <= 0:
        return np.zeros(mag.shape, np.float32)
    return np.clip(mag / scale, 0, 1).astype(np.float32)


def binarize(prob: np.ndarray, threshold: float, skeletonize: bool = True) -> np.ndarray:
    """Threshold (``prob >= threshold``) and optionally skeletonise a probability map."""
    from ..metrics.edges import binarize_boundaries

    return np.asarray(binarize_boundaries(prob, threshold, skeletonize=skeletonize), bool)


def _heyn(pred: list[np.ndarray], gt: list[np.ndarray], pattern: str,
          names: list[str] | None = None, withhold: list[str] | tuple = ()) -> dict[str, Any]:
    """Heyn comparison of the protocol (skeletonised, M = 50, seed 1234, 5 % margin; a map
    more than half boundary before thinning is no operating point)."""
    from ..metrics.heyn import compare_intercepts, summarize_heyn_rows

    rows = [compare_intercepts(p, g, pattern=pattern, n_lines=HEYN_N_LINES, seed=HEYN_SEED,
                               margin=HEYN_MARGIN, skeletonize=True)
            for p, g in zip(pred, gt)]
    return {**summarize_heyn_rows(rows, names, withhold=withhold), "per_image": rows}


def evaluate_probability_maps(
    probs: list[np.ndarray], masks: list[np.ndarray], threshold: float,
    names: list[str] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]], Any]:
    """Metrics of a set of probability maps against boundary masks at ``threshold``.

    The benchmark protocol on top of the one map evaluator,
    :func:`napari_srmat.metrics.edges.evaluate_maps`, run with the random and with the
    grid Heyn pattern (:data:`~napari_srmat.metrics.heyn.HEYN_N_LINES` lines, seed
    :data:`~napari_srmat.metrics.heyn.HEYN_SEED`, skeletonised).

    Returns
    -------
    summary : dict
        ``ap``, ``roc_auc``, ``f1`` (at ``threshold``), ``best_f1``,
        ``best_f1_threshold``, ``threshold``, Heyn (random: ``heyn_pred_px``,
        ``heyn_gt_px``, ``delta_px``, ``heyn_error_pct``; grid: the same with a
        ``heyn_grid_`` / ``grid_`` prefix) and ``warnings``. Heyn figures that would be
        nonsense (constant maps, a threshold that marks every pixel or none, binarised
        maps that are not boundary maps) are ``None`` and ``warnings`` says why.
    per_image : list of dict
        One row per image.
    hist : EdgeHistogram
        The accumulated set-level histogram (for curves).
    """
    if len(probs) != len(masks) or not probs:
        raise ValueError(f"need as many probability maps as masks (got {len(probs)}, "
                         f"{len(masks)})")
    names = list(names or [str(i) for i in range(len(probs))])
    kw = dict(threshold=float(threshold), names=names, n_lines=HEYN_N_LINES, seed=HEYN_SEED,
              margin=HEYN_MARGIN, skeletonize=True, return_histogram=True)
    rnd = evaluate_maps(probs, masks, heyn_pattern="random", **kw)
    grid = evaluate_maps(probs, masks, heyn_pattern="grid", **kw)
    hist = rnd["_histogram"]
    rows = []
    for r1, g1 in zip(rnd["per_image"], grid["per_image"]):
        rows.append({
            "name": r1["name"], "ap": r1["ap"], "roc_auc": r1["roc_auc"], "f1": r1["f1"],
            "heyn_pred_px": r1["heyn_pred_px"], "heyn_gt_px": r1["heyn_gt_px"],
            "heyn_grid_pred_px": g1["heyn_pred_px"], "heyn_grid_gt_px": g1["heyn_gt_px"],
            "heyn_error_pct": r1["heyn_error_pct"], "heyn_grid_error_pct": g1["heyn_error_pct"],
        })
    bt, bf = hist.best_f1()
    summary = {
        "ap": float(rnd["ap"]),
        "roc_auc": float(rnd["roc_auc"]),
        "f1": float(rnd["f1"]),
        "best_f1": float(bf),
        "best_f1_threshold": float(bt),
        "threshold": float(threshold),
        "heyn_pred_px": rnd["heyn_pred_px"],
        "heyn_gt_px": rnd["heyn_gt_px"],
        "delta_px": rnd["delta_px"],
        "heyn_error_pct": rnd["heyn_error_pct"],
        "heyn_grid_pred_px": grid["heyn_pred_px"],
        "heyn_grid_gt_px": grid["heyn_gt_px"],
        "grid_delta_px": grid["delta_px"],
        "heyn_grid_error_pct": grid["heyn_error_pct"],
        "n_images": len(probs),
        "warnings": list(dict.fromkeys(rnd["warnings"] + grid["warnings"])),
        "heyn_protocol": {"random": {"n_lines": HEYN_N_LINES, "seed": HEYN_SEED},
                          "grid": {"n_lines": HEYN_N_LINES}, "margin": HEYN_MARGIN,
                          "skeletonize": True},
    }
    return summary, rows, hist


def _model_probs(model, samples: list[BoundarySample]) -> list[np.ndarray]:
    out = []
    for s in samples:
        if s.image.shape[1] * s.image.shape[2] <= WHOLE_IMAGE_MAX_PIXELS:
            prob, _ = model.predict(s.image[None])
            out.append(np.asarray(prob[0, 0], np.float32))
        else:
            from .infer import predict_boundaries

            # evaluated at the scale of its masks: no grain-size scale check
            prob, _ = predict_boundaries(s.image.transpose(1, 2, 0), model, scale_check=False)
            out.append(prob)
    return out


def _write_csv(path: Path, rows: list[dict]) -> None:
    buf = _io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    atomic_write_text(path, buf.getvalue())


def heyn_calibrated_threshold(
    probs: list[np.ndarray], masks: list[np.ndarray], *,
    thresholds: np.ndarray | None = None, return_warnings: bool = False,
) -> tuple:
    """Threshold whose skeletonised maps best reproduce the true mean intercept.

    The paper's protocol thresholds at max F1, which balances pixel precision and
    recall but not the number of boundary crossings that Heyn counts: a model that is
    unsure on faint boundaries loses them at the max-F1 threshold and overestimates
    the intercept. This picks, on a *validation* set, the threshold minimising the
    pooled Heyn error (random lines, M = 50, seed 1234, skeletonised), to be applied
    unchanged to the test set. Thresholds whose binarised maps are degenerate (not
    boundary maps, see :func:`evaluate_probability_maps`) are never chosen.

    Parameters
    ----------
    probs, masks : list of arrays
        Validation probability maps and boundary masks (binarised by
        :func:`napari_srmat.io.as_bool_mask`).
    thresholds : array, optional
        Candidates (default 0.05, 0.075, ..., 0.95).
    return_warnings : bool
        Also return a list of warnings: no candidate gives a valid Heyn figure, or the
        best one is at the edge of the search range (the optimum may lie outside it).

    Returns
    -------
    threshold, error_pct[, warnings]
        The best candidate and its pooled Heyn error (%) on the given set; both
        ``None`` when no candidate gives a valid figure.
    """
    if thresholds is None:
        thresholds = np.round(np.arange(0.05, 0.951, 0.025), 3)
    thresholds = np.asarray(thresholds, dtype=float)
    # the one mask rule (0/255 masks ``> 127``), as the histogram reads them
    gts = [as_bool_mask(m, name=f"mask {i}") for i, m in enumerate(masks)]
    hist = _pooled_histogram(probs, gts)
    best_t, best_e = None, None
    for t in thresholds:
        withhold = threshold_warnings(hist, float(t))
        if withhold:
            continue
        preds = [binarize(p, float(t), skeletonize=False) for p in probs]
        e = _heyn(preds, gts, "random")["heyn_error_pct"]
        if e is not None and (best_e is None or e < best_e):
            best_t, best_e = float(t), float(e)
    warnings: list[str] = []
    if best_t is None:
        warnings.append("no candidate threshold gives a valid Heyn measurement on these maps "
                        "(constant maps, or binarised maps that are not boundary maps)")
    elif thresholds.size > 1 and best_t in (thresholds.min(), thresholds.max()):
        warnings.append(f"the Heyn-calibrated threshold {best_t:g} is at the edge of the "
                        f"search range [{thresholds.min():g}, {thresholds.max():g}]: the "
                        "optimum may lie outside it")
    return (best_t, best_e, warnings) if return_warnings else (best_t, best_e)


def _pooled_histogram(probs, masks) -> EdgeHistogram:
    h = EdgeHistogram()
    for p, m in zip(probs, masks):
        h.update(p, m)
    return h


def _threshold_for(probs_val, masks_val) -> float:
    return float(_pooled_histogram(probs_val, masks_val).best_f1()[0])


def operating_point_report(model, probs, masks, names) -> dict[str, Any]:
    """ℓ̄ errors of ``model.binarize`` (its threshold rule) against the masks.

    Per-image and pooled errors as in :func:`napari_srmat.edges.thresholds.intercept_errors`
    (percent), over the images whose mask gives a valid ℓ̄.
    """
    from .thresholds import boundary_continuity, intercept_errors, mean_intercept

    rows, pred, true = [], [], []
    for name, p, m in zip(names, probs, masks):
        b = model.binarize(p)
        lt, lp = mean_intercept(m), mean_intercept(b)
        t = model.image_threshold(p)
        rows.append({"name": name, "l_pred_px": lp, "l_true_px": lt,
                     "threshold": None if t is None else float(t),
                     "endpoints_per_100px": boundary_continuity(b)["endpoints_per_100px"]})
        if lt is not None:
            pred.append(lp)
            true.append(lt)
    e = intercept_errors(pred, true) if true else None
    return {"threshold_rule": model.threshold_rule, "threshold_params": model.threshold_params,
            "tta": model.tta,
            "heyn_per_image_error_pct": None if e is None else 100 * e["per_image"],
            "heyn_pooled_error_pct": None if e is None or e["pooled"] is None
            else 100 * e["pooled"],
            "n_images": len(true), "n_invalid": 0 if e is None else e["n_invalid"],
            "per_image": rows}


def operating_point_basis(op: dict[str, Any]) -> str:
    """What the ℓ̄ errors of an :func:`operating_point_report` (``op``) rest on, where
    some images gave no valid predicted ℓ̄ (``n_invalid``): the ending of ``srmat edges
    eval``'s operating-point line; empty where all did. Such an image counts as an error
    of 100 % in the per-image mean and is left out of the pooled one
    (:func:`napari_srmat.edges.thresholds.intercept_errors`). Until 2026-12-07 a weak
    model's line read "per-image 148.4 %, pooled 245.3 %" from 1 of 3 images without
    saying so (s51 X1); then " from 1 of 3 images (2 without a valid ℓ̄)", which misstated
    the per-image figure (s51 F9 #2).

    Parameters
    ----------
    op : dict
        ``report["operating_point"]`` (``n_images``, ``n_invalid``).

    Returns
    -------
    str
        ``"; per-image over M images (K without a valid ℓ̄ counted as 100 %); pooled from
        N"``, or ``""``.

    Examples
    --------
    >>> from napari_srmat.edges.evaluate import operating_point_basis
    >>> operating_point_basis({"n_images": 3, "n_invalid": 2})
    '; per-image over 3 images (2 without a valid ℓ̄ counted as 100 %); pooled from 1'
    >>> operating_point_basis({"n_images": 3, "n_invalid": 0})
    ''
    """
    n, bad = int(op["n_images"]), int(op.get("n_invalid") or 0)
    if not bad:
        return ""
    return (f"; per-image over {n} images ({bad} without a valid ℓ̄ counted as 100 %);"
            f" pooled from {n - bad}")


#: The marker kind of an ``srmat edges eval --out`` folder.
EVALUATION_KIND = "boundary_evaluation"


#: The files an ``srmat edges eval --out`` folder holds; ``report.json`` is written last.
EVALUATION_FILES = ("per_image.csv", "per_image_sobel.csv", "pr.png", "roc.png",
                    "report.json")


def _unfinished_evaluation(out) -> bool:
    """Whether folder ``out`` is an evaluation stopped while it was written (a Ctrl-C
    before ``report.json``): our marker and only :data:`EVALUATION_FILES` (or their
    temporary files), no ``report.json``. It is ours to write again."""
    from .._atomic import is_temp_file
    from ..outputs import MARKER_NAME

    names = (MARKER_NAME, *EVALUATION_FILES)
    temporary = tuple(f".{n}." for n in names)
    if (out / "report.json").exists() or not (out / MARKER_NAME).is_file():
        return False
    with os.scandir(out) as entries:
        return all(e.is_file() and (e.name in names or (e.name.startswith(temporary)
                                                       and (is_temp_file(e.name)
                                                            or e.name.endswith(".tmp"))))
                   for e in entries)


def _check_out_dir(out_dir, inputs, overwrite: bool) -> None:
    """Refuse ``out_dir`` where :func:`napari_srmat.outputs.prepare_output_dir` would, and
    an earlier evaluation there unless ``overwrite`` (the rule of every output that
    ``--overwrite`` replaces: :func:`napari_srmat.outputs.check_existing_output`); an
    evaluation stopped while written (:func:`_unfinished_evaluation`) is written again
    (until 2026-12-07 a rerun refused it as one that "holds an evaluation")."""
    from ..outputs import check_existing_output, check_output_dir, only_creation_debris

    out = check_output_dir(out_dir, EVALUATION_KIND, inputs=inputs)
    if out.is_dir() and not only_creation_debris(out) and not _unfinished_evaluation(out):
        check_existing_output(out, overwrite=overwrite, replaceable=None,
                              holds="holds an evaluation")


def evaluate_boundaries_job(
    images_dir,
    masks_dir,
    *,
    checkpoint=None,
    model=None,
    val_images=None,
    val_masks=None,
    threshold: float | None = None,
    out_dir=None,
    baseline: bool = True,
    tta: str | None = None,
    threshold_rule: str | None = None,
    device: str = "auto",
    overwrite: bool = False,
    stop=None,
):
    """Evaluate a UAED model (and the Sobel baseline) on a folder of images/masks (job).

    Parameters
    ----------
    images_dir, masks_dir : path-like
        Test images and boundary masks, paired by file stem.
    checkpoint : path-like, optional
        UAED checkpoint (``None``: shipped default). Ignored if ``model`` is given.
    model : BoundaryModel, optional
        An already loaded model.
    val_images, val_masks : path-like, optional
        Validation folders; when given, the thresholds are max-F1 on them.
    threshold : float, optional
        Fixed UAED threshold (overrides validation and the checkpoint's value).
    out_dir : path-like, optional
        Writes ``report.json``, ``per_image.csv`` (+ ``per_image_sobel.csv`` with the
        baseline; without it, one an earlier evaluation left there is removed),
        ``pr.png`` and ``roc.png``. A folder holding an earlier evaluation is refused
        unless ``overwrite``; a folder napari-srmat did not write is refused always.
    baseline : bool
        Also evaluate :func:`sobel_boundary_probability` (reported under ``"sobel"``).
    tta : {"none", "d4"}, optional
        Test-time augmentation of the loaded model (default: the checkpoint's).
    threshold_rule : str, optional
        Operating-point rule judged under ``"operating_point"`` (default: the model's,
        :data:`napari_srmat.edges.infer.DEFAULT_THRESHOLD_RULE` where the checkpoint
        stores its parameters).
    device : str
        Where the loaded model runs (``"auto"``, ``"cpu"``, ``"cuda"``, ...; the rule of
        :func:`napari_srmat.device.resolve_device`). Ignored if ``model`` is given.
    overwrite : bool
        Replace an earlier evaluation in ``out_dir`` (``--overwrite``; until 2026-12-07
        it was replaced without a word, s51 X1).
    stop : StopToken, optional
        Checked between images.

    Returns
    -------
    dict
        Report: the UAED metrics at top level (``ap``, ``roc_auc``, ``f1``,
        ``threshold``, ``threshold_source``, ``heyn_pred_px``, ``heyn_gt_px``,
        ``delta_px``, ``heyn_error_pct``, grid variants ...), ``"sobel"`` with the
        baseline's metrics, ``"per_image"`` rows, ``"operating_point"`` (the model's
        threshold rule: per-image and pooled ℓ̄ error with the protocol of
        :data:`napari_srmat.edges.thresholds.HEYN_KW`, per-image ℓ̄ and thresholds);
        ``"warnings"`` first names each blank or inverted test or validation mask
        (:func:`napari_srmat.edges.data.mask_content_warnings`, the training's rule, told
        before the model runs); ``None`` if stopped.
    """
    from ..device import resolve_device
    from ..outputs import prepare_output_dir
    from .infer import load_boundary_model

    stop = check_stop(stop)
    if model is None:  # a device the model cannot use: refused before any image is read
        resolve_device(device)
    out_inputs = [images_dir, masks_dir, val_images, val_masks]
    if out_dir is not None:  # refuse a bad folder before the long evaluation; it is
        # made once the results are in (bad inputs or a stop left an empty one behind)
        _check_out_dir(out_dir, out_inputs, overwrite)
    test_pairs = list_image_mask_pairs(images_dir, masks_dir)
    test = load_pairs(test_pairs)
    val: list[BoundarySample] = []
    val_pairs: list = []
    if (val_images is None) != (val_masks is None):
        raise ValueError("give both val_images and val_masks, or neither")
    if val_images is not None:
        val_pairs = list_image_mask_pairs(val_images, val_masks)
        val = load_pairs(val_pairs)
    check_has_boundaries(test, "test")
    check_has_boundaries(val, "validation")
    # each blank or inverted mask named, by the training's rule (until 2026-12-07 only
    # 'the ground truth ... is not a boundary map', beside figures that meant nothing)
    mask_warnings = [line for samples, pairs, what in ((test, test_pairs, "test"),
                                                       (val, val_pairs, "validation"))
                     for line in mask_content_warnings(samples, what,
                                                       names=[str(m) for _, m in pairs])]
    for line in mask_warnings:
        yield Log(line, level="warning")
    if model is None:
        model = load_boundary_model(checkpoint, device=device, tta=tta,
                                    threshold_rule=threshold_rule)
    else:
        if tta is not None:
            model.tta = tta
        if threshold_rule is not None:
            model.threshold_rule = threshold_rule
    yield Log(f"evaluating {model!r} on {len(test)} images")
    total = len(test) + len(val)
    probs_test, probs_val = [], []
    for i, s in enumerate(val + test):
        if stop is not None and stop.stop_requested:
            yield Stopped("evaluation stopped")
            return None
        (probs_val if i < len(val) else probs_test).extend(_model_probs(model, [s]))
        yield Progress(i + 1, total, "predict")
    if threshold is not None:
        thr, src = float(threshold), "given"
    elif val:
        thr, src = _threshold_for(probs_val, [s.mask for s in val]), "val max-F1"
    else:
        thr, src = float(model.threshold), "checkpoint"
    names = [s.name for s in test]
    masks = [s.mask for s in test]
    summary, rows, hist = evaluate_probability_maps(probs_test, masks, thr, names)
    report: dict[str, Any] = {"method": "uaed", "checkpoint": model.path,
                              "encoder": model.encoder, "tta": model.tta, **summary,
                              "threshold_source": src}
    hists = {"UAED": hist}
    if baseline:
        sob_test = [sobel_boundary_probability(s.image.transpose(1, 2, 0)) for s in test]
        if val:
            sthr = _threshold_for([sobel_boundary_probability(s.image.transpose(1, 2, 0))
                                   for s in val], [s.mask for s in val])
            ssrc = "val max-F1"
        else:
            sthr, ssrc = _threshold_for(sob_test, masks), "test max-F1 (oracle)"
        ssum, srows, shist = evaluate_probability_maps(sob_test, masks, sthr, names)
        report["sobel"] = {**ssum, "threshold_source": ssrc}
        hists["Sobel"] = shist
    heyn_thr, heyn_src, heyn_warn = None, None, []
    if val:
        heyn_thr, _, heyn_warn = heyn_calibrated_threshold(
            probs_val, [s.mask for s in val], return_warnings=True)
        heyn_src = "val min Heyn error"
    elif model.heyn_threshold is not None:
        heyn_thr, heyn_src = model.heyn_threshold, "checkpoint"
    if heyn_thr is not None:
        hsum, _, _ = evaluate_probability_maps(probs_test, masks, heyn_thr, names)
        report["heyn_calibrated"] = {
            k: hsum[k] for k in ("threshold", "f1", "heyn_pred_px", "heyn_gt_px", "delta_px",
                                 "heyn_error_pct", "heyn_grid_pred_px", "heyn_grid_gt_px",
                                 "heyn_grid_error_pct")
        } | {"threshold_source": heyn_src, "warnings": heyn_warn + hsum["warnings"]}
    elif heyn_warn:
        report["heyn_calibrated"] = {"threshold": None, "threshold_source": heyn_src,
                                     "warnings": heyn_warn}
    report["operating_point"] = operating_point_report(model, probs_test, masks, names)
    for w in report["warnings"] + report.get("heyn_calibrated", {}).get("warnings", []):
        yield Log(w, level="warning")
    report["warnings"] = mask_warnings + report["warnings"]  # told above, kept in the report
    report["per_image"] = rows
    if out_dir is not None:
        _check_out_dir(out_dir, out_inputs, overwrite)  # one made meanwhile, too
        out = prepare_output_dir(out_dir, EVALUATION_KIND, inputs=out_inputs)
        _write_csv(out / "per_image.csv", rows)
        if baseline:
            _write_csv(out / "per_image_sobel.csv", srows)
        else:  # an earlier evaluation's into this folder (ours): not this run's baseline
            (out / "per_image_sobel.csv").unlink(missing_ok=True)
        plot_pr_roc(hists, out / "pr.png", roc_path=out / "roc.png")
        write_json(out / "report.json", report)
        report["outputs"] = {"report": str(out / "report.json"),
                             "per_image_csv": str(out / "per_image.csv"),
                             "pr_png": str(out / "pr.png"), "roc_png": str(out / "roc.png")}
    return report


def evaluate_boundaries(images_dir, masks_dir, **kwargs) -> dict:
    """Plain version of :func:`evaluate_boundaries_job` (same arguments and result)."""
    return run_job(evaluate_boundaries_job(images_dir, masks_dir, **kwargs), quiet=True)
