"""Export a UAED checkpoint (e.g. as fp16 for shipping).

``python -m napari_srmat.edges.export SRC DST [--fp16] [--calibrate VAL_ROOT --tta d4
[--threshold-rules otsu_scaled] [--error-model]]``

``python -m napari_srmat.edges.export CKPT --error-model-only VAL_ROOT`` fits only the
error model of an existing checkpoint (its ``config.json`` is rewritten, the weights are
not touched).

With ``--calibrate`` the thresholds stored in the exported config are chosen on the
validation images of ``VAL_ROOT`` (``images/`` + ``masks/``) for every test-time
augmentation mode: ``threshold_<mode>`` (max F1, the paper's protocol) and
``threshold_heyn`` (min Heyn error, for the default mode), and ``tta`` sets the mode
the model uses by default (default :data:`napari_srmat.edges.infer.DEFAULT_TTA`). With
``--error-model`` the error model of :mod:`napari_srmat.edges.uncertainty` (probability
that a pixel of the binarised map is wrong) is fitted on the same validation maps for
every mode and stored as ``error_model[<mode>]``.

``SRC`` = ``DST`` (the same checkpoint directory) with ``--calibrate`` recalibrates a
checkpoint in place: the weights file is not rewritten, only ``config.json``. The
shipped operating point was stored that way::

    python -m napari_srmat.edges.export src/napari_srmat/weights/uaed_default \
        src/napari_srmat/weights/uaed_default --calibrate ../shared/data/tbm/val \
        --tta none --threshold-rules bridge,otsu_scaled,prune,quantile
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from ..checkpoint import CONFIG_NAME, load_checkpoint, save_checkpoint
from .infer import DEFAULT_TTA

__all__ = ["export_checkpoint", "calibrate_thresholds", "calibrate_error_model",
           "MIN_CALIBRATION_IMAGES"]

#: Fewer labelled images than this get a warning from :func:`calibrate_thresholds`: out of
#: fold, c of ``otsu_scaled`` fitted on one labelled 256 px field of a scan measured the
#: scan's other fields worse than the cross-scan calibration (+0.2 and +2.7 points per
#: image; two fields about level), a field's own best c varying within a scan about as
#: much as between scans (``studies/same_scan_calibration.py``).
MIN_CALIBRATION_IMAGES = 3


def export_checkpoint(src, dst, *, fp16: bool = True, keep_training: bool = True) -> Path:
    """Copy checkpoint ``src`` to ``dst``, optionally casting float tensors to fp16.

    Parameters
    ----------
    src, dst : path-like
        Source checkpoint (or run directory, whose ``best/`` is used) and destination.
    fp16 : bool
        Store floating-point tensors as float16 (halves the size; loading casts
        back to float32).
    keep_training : bool
        Keep the ``training`` settings in the config.
    """
    from .infer import _resolve

    state, config = load_checkpoint(_resolve(src))
    if fp16:
        state = {k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}
        config = {**config, "dtype": "float16"}
    if not keep_training:
        config.pop("training", None)
    return save_checkpoint(dst, state, config, overwrite=True)


def calibrate_thresholds(checkpoint, val_root, *, tta: str = DEFAULT_TTA,
                         modes: tuple[str, ...] = ("none", "d4"),
                         rules: tuple[str, ...] = ()) -> dict:
    """Choose and store the thresholds of a checkpoint on a validation set.

    Parameters
    ----------
    checkpoint : path-like
        Checkpoint directory; its ``config.json`` is rewritten (atomically).
    val_root : path-like
        Folder with ``images/`` and ``masks/``.
    tta : str
        Default test-time augmentation mode of the model (``config["tta"]``).
    modes : tuple of str
        Modes to calibrate (must include ``tta``).
    rules : tuple of str
        Threshold rules (:data:`napari_srmat.edges.thresholds.RULES`) whose parameters
        are fitted on the validation maps of every mode and stored as
        ``threshold_rules[mode][rule]`` (for ``load_boundary_model(threshold_rule=...)``).

    Returns
    -------
    dict
        The keys written: ``tta``, ``threshold`` (max F1 under ``tta``),
        ``threshold_tta``, ``threshold_<mode>``, ``val_ap_<mode>``,
        ``threshold_heyn`` (min Heyn error under ``tta``; absent when no threshold gives
        a valid Heyn figure), ``threshold_heyn_warnings`` (when there are any),
        ``threshold_rules`` (when ``rules`` are given) and ``warnings`` (a list, when
        fewer than :data:`MIN_CALIBRATION_IMAGES` images were given; not stored).
    """
    import json

    from .._atomic import atomic_write_text
    from .data import list_image_mask_pairs, load_pairs
    from .evaluate import _model_probs, _pooled_histogram, heyn_calibrated_threshold
    from .infer import load_boundary_model
    from .thresholds import RULES, BoundaryThresholds, InterceptTable

    if tta not in modes:
        raise ValueError(f"tta={tta!r} must be one of the calibrated modes {modes}")
    unknown = [r for r in rules if r not in RULES]
    if unknown:
        raise ValueError(f"unknown threshold rule(s) {unknown}; choose from {tuple(RULES)}")
    root = Path(val_root)
    val = load_pairs(list_image_mask_pairs(root / "images", root / "masks"))
    masks = [s.mask for s in val]
    keys: dict = {"tta": tta, "threshold_tta": tta}
    if len(val) < MIN_CALIBRATION_IMAGES:
        keys["warnings"] = [
            f"calibrated on {len(val)} labelled image(s): thresholds fitted on so few fields "
            "follow those fields' own noise (out of fold, one field of a scan measured its "
            f"other fields worse than the shipped calibration); label at least "
            f"{MIN_CALIBRATION_IMAGES}, from several samples if you can"]
    model = load_boundary_model(checkpoint, device="cpu")
    for mode in modes:
        model.tta = mode
        probs = _model_probs(model, val)
        hist = _pooled_histogram(probs, masks)
        keys[f"threshold_{mode}"] = float(hist.best_f1()[0])
        keys[f"val_ap_{mode}"] = float(hist.average_precision())
        if rules:
            table = InterceptTable(probs, masks)
            keys.setdefault("threshold_rules", {})[mode] = {r: table.fit(r) for r in rules}
        if mode == tta:
            keys["threshold"] = keys[f"threshold_{mode}"]
            heyn_thr, _, warns = heyn_calibrated_threshold(probs, masks, return_warnings=True)
            if heyn_thr is not None:  # no valid Heyn figure on val: store no threshold
                keys["threshold_heyn"] = heyn_thr
            if warns:
                keys["threshold_heyn_warnings"] = warns
    cfg_path = Path(checkpoint) / CONFIG_NAME
    config = json.loads(cfg_path.read_text())
    # the typed object validates what is written (BoundaryThresholds is the one rule)
    old = BoundaryThresholds.from_config(config, source=checkpoint)
    new = replace(
        old, tta=tta, threshold_tta=tta, threshold=keys["threshold"],
        per_mode={**old.per_mode, **{m: keys[f"threshold_{m}"] for m in modes}},
        heyn=keys.get("threshold_heyn", old.heyn),
        heyn_warnings=keys.get("threshold_heyn_warnings", old.heyn_warnings),
        rules=keys.get("threshold_rules", old.rules))
    config.update(new.to_config())
    config.update({f"val_ap_{m}": keys[f"val_ap_{m}"] for m in modes})
    atomic_write_text(cfg_path, json.dumps(config, indent=2, sort_keys=True))
    return keys


def calibrate_error_model(checkpoint, val_root, *, modes: tuple[str, ...] = ("none", "d4"),
                          features: tuple[str, ...] | None = None) -> dict:
    """Fit and store the error model of a checkpoint on a validation set.

    For every test-time augmentation mode the model predicts the validation images
    and :func:`napari_srmat.edges.uncertainty.fit_error_model` is fitted on those maps
    and masks (every pixel, ``stride=1``); the parameters go to
    ``config["error_model"][mode]`` with the mode's stored threshold recorded. Only
    ``config.json`` is rewritten (atomically). Use the validation split, never a test
    split: the error model is part of the model.

    Parameters
    ----------
    checkpoint : path-like
        Checkpoint directory.
    val_root : path-like
        Folder with ``images/`` and ``masks/``.
    modes : tuple of str
        TTA modes to fit.
    features : tuple of str, optional
        Feature groups (default :data:`napari_srmat.edges.uncertainty.DEFAULT_FEATURES`;
        only groups that need nothing but the probability map).

    Returns
    -------
    dict
        ``{"error_model": {mode: params}}`` as written.
    """
    import json

    from .._atomic import atomic_write_text
    from .data import list_image_mask_pairs, load_pairs
    from .evaluate import _model_probs
    from .infer import load_boundary_model
    from .thresholds import BoundaryThresholds
    from .uncertainty import DEFAULT_FEATURES, FEATURES, fit_error_model

    features = tuple(DEFAULT_FEATURES if features is None else features)
    extra = [f for f in features if FEATURES.get(f) is not None]
    if extra:
        raise ValueError(f"error-model features {extra} need inputs besides the probability "
                         "map; a stored error model uses probability features only")
    root = Path(val_root)
    val = load_pairs(list_image_mask_pairs(root / "images", root / "masks"))
    masks = [s.mask for s in val]
    model = load_boundary_model(checkpoint, device="cpu")
    fitted = {}
    for mode in modes:
        model.tta = mode
        probs = _model_probs(model, val)
        fitted[mode] = fit_error_model(probs, masks, model.threshold, features=features,
                                       stride=1)
    cfg_path = Path(checkpoint) / CONFIG_NAME
    config = json.loads(cfg_path.read_text())
    old = BoundaryThresholds.from_config(config, source=checkpoint)
    new = replace(old, error_model={**(old.error_model or {}), **fitted})  # validated
    config.update(new.to_config())
    atomic_write_text(cfg_path, json.dumps(config, indent=2, sort_keys=True))
    return {"error_model": fitted}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m napari_srmat.edges.export", description=__doc__)
    p.add_argument("src")
    p.add_argument("dst", nargs="?", default=None)
    p.add_argument("--fp16", action="store_true")
    p.add_argument("--calibrate", metavar="VAL_ROOT", default=None,
                   help="choose the stored thresholds on VAL_ROOT/{images,masks}")
    p.add_argument("--tta", choices=("none", "d4"), default=DEFAULT_TTA,
                   help=f"default test-time augmentation of the exported model (default "
                        f"{DEFAULT_TTA})")
    p.add_argument("--threshold-rules", default="", metavar="LIST",
                   help="comma-separated threshold rules whose parameters --calibrate also "
                        "fits and stores (e.g. otsu_scaled)")
    p.add_argument("--error-model", action="store_true",
                   help="with --calibrate: also fit and store the error model "
                        "(napari_srmat.edges.uncertainty) on VAL_ROOT")
    p.add_argument("--error-model-only", metavar="VAL_ROOT", default=None,
                   help="fit only the error model of checkpoint SRC on VAL_ROOT, in place "
                        "(no DST; weights untouched)")
    a = p.parse_args(argv)
    try:
        return _run(p, a)
    except Exception as exc:  # the user's errors in one line, as srmat's (exit 2)
        from ..errors import error_message, is_user_error

        if not is_user_error(exc):
            raise
        print(f"{p.prog}: error: {error_message(exc)}", file=sys.stderr)
        return 2


def _run(p: argparse.ArgumentParser, a: argparse.Namespace) -> int:
    """:func:`main` once its arguments are parsed."""
    if a.error_model_only:
        if a.dst is not None or a.calibrate or a.fp16:
            p.error("--error-model-only takes SRC only (no DST, --calibrate or --fp16)")
        from .infer import _resolve

        src = _resolve(a.src)
        calibrate_error_model(src, a.error_model_only)
        print(src)
        return 0
    if a.dst is None:
        p.error("DST is required")
    if a.error_model and not a.calibrate:
        p.error("--error-model needs --calibrate VAL_ROOT")
    from .infer import _resolve

    in_place = Path(a.dst).exists() and _resolve(a.src).resolve() == Path(a.dst).resolve()
    if in_place and (a.fp16 or not a.calibrate):
        p.error("SRC = DST only recalibrates in place: give --calibrate, not --fp16")
    out = Path(a.dst)
    if in_place:
        _calibrate(out, a)
    else:
        from ..checkpoint import checkpoint_directory
        from ..outputs import check_not_reserved

        check_not_reserved(out)  # every output's rule: DST.partial is another's staging
        # DST appears complete, calibrated, or not at all: a calibration that failed
        # (or was interrupted) left an uncalibrated checkpoint there. Written as every
        # checkpoint folder is (its name and what it replaces checked before the
        # calibration runs; an earlier DST whose deletion a Ctrl-C stopped part-way is
        # still a checkpoint folder, removed by the next export)
        with checkpoint_directory(out) as staging:
            export_checkpoint(a.src, staging, fp16=a.fp16)
            _calibrate(staging, a)
    print(out)
    return 0


def _calibrate(checkpoint: Path, a: argparse.Namespace) -> None:
    """The calibrations that :func:`main`'s options ask for, of ``checkpoint``."""
    if not a.calibrate:
        return
    rules = tuple(r for r in a.threshold_rules.split(",") if r)
    keys = calibrate_thresholds(checkpoint, a.calibrate, tta=a.tta, rules=rules)
    for warning in keys.get("warnings", []):
        print(f"warning: {warning}", file=sys.stderr)
    print(keys)
    if a.error_model:
        calibrate_error_model(checkpoint, a.calibrate)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
