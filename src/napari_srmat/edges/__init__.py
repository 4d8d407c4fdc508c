"""UAED boundary detection: boundary probability and uncertainty maps.

Public API (imported lazily, so ``import napari_srmat.edges`` does not load torch):

* :func:`load_boundary_model` -> :class:`BoundaryModel` (``.threshold``,
  ``.predict(batch) -> (prob, sigma)``)
* :func:`predict_boundaries_job` / :func:`predict_boundaries`
* :func:`train_boundaries_job` / :func:`train_boundaries`, :class:`BoundaryTrainConfig`
* :func:`evaluate_boundaries_job` / :func:`evaluate_boundaries`,
  :func:`sobel_boundary_probability`
* :class:`UAEDNet`, :func:`uaed_loss`
* :func:`scan_folds` (leave-scan-out cross-validation), :func:`apply_threshold_rule` /
  :func:`fit_threshold_rule` (per-image operating points), :func:`photometric_augment`
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "UAEDNet": "model",
    "build_uaed": "model",
    "ENCODER_PRESETS": "model",
    "uaed_loss": "loss",
    "class_balanced_weights": "loss",
    "BoundaryTrainConfig": "config",
    "TrainResult": "train",
    "train_boundaries_job": "train",
    "train_boundaries": "train",
    "BoundaryModel": "infer",
    "load_boundary_model": "infer",
    "default_checkpoint_path": "infer",
    "predict_boundaries_job": "infer",
    "predict_boundaries": "infer",
    "evaluate_boundaries_job": "evaluate",
    "evaluate_boundaries": "evaluate",
    "sobel_boundary_probability": "evaluate",
    "heyn_calibrated_threshold": "evaluate",
    "BoundaryDataError": "data",
    "photometric_augment": "data",
    "scan_folds": "cv",
    "scan_id": "cv",
    "apply_threshold_rule": "thresholds",
    "fit_threshold_rule": "thresholds",
    "THRESHOLD_RULES": "thresholds",
}

__all__ = sorted(_EXPORTS)


_ALIASES = {"THRESHOLD_RULES": "RULES"}


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        return getattr(module, _ALIASES.get(name, name))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
