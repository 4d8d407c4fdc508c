"""Inference with a trained UAED model: whole batches, tiled images, OME-Zarr output."""

from __future__ import annotations

import functools
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..checkpoint import (
    CHECKPOINT,
    CONFIG_NAME,
    WEIGHTS_NAME,
    CheckpointError,
    KeptByWeights,
    load_checked_weights,
    network_digest,
    read_checkpoint_config,
    resolve_checkpoint_dir,
)
from ..errors import Option, worded_error
from ..jobs import AlreadyComplete, Log, plain_version, run_job
from ..tiling._engine import BOUNDARY_OVERLAP, BOUNDARY_TILE, DEFAULT_BATCH_SIZE
from ._weights import DEFAULT_WEIGHTS, default_checkpoint_path  # noqa: F401 (re-exported)
from .model import UAEDNet, build_uaed
from .thresholds import DEFAULT_THRESHOLD_RULE, DEFAULT_TTA, TTA_MODES, BoundaryThresholds

__all__ = [
    "BoundaryModel",
    "load_boundary_model",
    "default_checkpoint_path",
    "predict_boundaries_job",
    "predict_boundaries",
    "check_boundary_input",
    "DEFAULT_THRESHOLD_RULE",
    "DEFAULT_TTA",
    "BoundaryThresholds",
    "CONFIG_VERSION",
    "CONFIG_VERSION_KEY",
    "EPOCH_STEPS_KEY",
    "check_boundary_config",
]

#: The operating point used when none is asked for (defined in edges.thresholds): the
#: threshold rule of :meth:`BoundaryModel.binarize` ...
# ... and DEFAULT_TTA (defined in edges.thresholds, beside BoundaryThresholds): the TTA
# mode of checkpoints whose config does not name one.


#: The ``config.json`` key of a boundary checkpoint's format version
#: (:func:`check_boundary_config`); a config without it is of version 1.
CONFIG_VERSION_KEY = "config_version"
#: The ``config.json`` key of the steps of its epoch a mid-epoch checkpoint holds
#: (``napari_srmat.edges.train.RESUME_RECORD.part_key``): here so that reading a config's
#: keys (:func:`boundary_config_keys`) does not import the training module (0.26 s).
EPOCH_STEPS_KEY = "epoch_steps"
#: The format version ``srmat edges train`` and ``edges pretrain`` write (since
#: 2026-12-07, s51 E9): every key of :data:`RESULT_KEYS` is written.
CONFIG_VERSION = 2
#: The keys whose absence changes a boundary model's outputs, with the default a version-1
#: config (the shipped weights, checkpoints trained before 2026-12-07) is read with where
#: it lacks one: the max-F1 threshold 0.5, no input normalisation, the ``small`` encoder.
#: A config of :data:`CONFIG_VERSION` without one is refused by name: until 2026-12-07 a
#: misspelt ``threshold`` read 0.5 (ℓ̄ 13.71 -> 12.90 µm, no word), an ``input_norm`` of a
#: model trained with ``channels`` read ``none``, a misspelt ``encoder`` gave "72 shape
#: mismatch(es)".
RESULT_KEYS = {"threshold": 0.5, "input_norm": "none", "encoder": "small"}


def boundary_config_keys() -> frozenset[str]:
    """The keys a boundary checkpoint's ``config.json`` may hold: the architecture's,
    the operating points' (:class:`BoundaryThresholds`), the training's and export's
    records, :data:`CONFIG_VERSION_KEY`.

    Returns
    -------
    frozenset of str
    """
    from ..grainsize import MODEL_LOG_ERROR_KEY
    from .model import default_arch_config
    from .thresholds import _CONFIG_KEYS

    return frozenset({
        *default_arch_config("tiny"), *_CONFIG_KEYS, *RESULT_KEYS, CONFIG_VERSION_KEY,
        MODEL_LOG_ERROR_KEY, "val_ap", "val_roc_auc", *(f"val_ap_{m}" for m in TTA_MODES),
        "epoch", EPOCH_STEPS_KEY, "training", "prob_definition", "purpose", "pretraining",
        "dtype"})


def check_boundary_config(config: dict[str, Any], source: Any = None) -> None:
    """Refuse a boundary checkpoint's config that would load with a default it does not
    mean. The version is read first: a config of a newer format than
    :data:`CONFIG_VERSION` is refused in one line ("update napari-srmat"), whatever keys
    it holds. Then an unknown key near a known one (:func:`napari_srmat.jobs.closest_name`:
    a misspelt ``treshold`` would read the default 0.5) is refused naming it and the key
    meant (:func:`napari_srmat.jobs.unknown_names_hint`); an unknown key near no known key
    (a user's ``notes``) is not read and is accepted with a one-line warning, as
    ae7e0f5c loaded it. A key of :data:`RESULT_KEYS` missing from a config of
    :data:`CONFIG_VERSION` is refused naming it. A config without
    :data:`CONFIG_VERSION_KEY` (version 1: the shipped weights, checkpoints trained before
    2026-12-07) reads a missing one with its documented default.

    Parameters
    ----------
    config : dict
        The checkpoint's ``config.json``.
    source : path-like, optional
        The checkpoint, named in the message.

    Raises
    ------
    CheckpointError
        A misspelt key, a missing key, or a version this napari-srmat does not read.

    Examples
    --------
    >>> from napari_srmat.edges.infer import check_boundary_config
    >>> check_boundary_config({"encoder": "tiny", "treshold": 0.55})
    Traceback (most recent call last):
    ...
    napari_srmat.checkpoint.CheckpointError: config.json has an unknown key 'treshold'; ...
    """
    from ..jobs import _folded, closest_name, unknown_names_hint

    where = CONFIG_NAME if source is None else f"checkpoint {source}: {CONFIG_NAME}"
    version = config.get(CONFIG_VERSION_KEY, 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{where} {CONFIG_VERSION_KEY!r} must be a positive integer, "
                              f"got {version!r}")
    if version > CONFIG_VERSION:
        raise CheckpointError(f"{where} is of format version {version}; this napari-srmat "
                              f"reads versions up to {CONFIG_VERSION}: update napari-srmat")
    known = boundary_config_keys()
    unknown = sorted(set(config) - known)
    # a key that begins with a key results depend on (``input_normalization``) is one too
    misspelt = [k for k in unknown if closest_name(k, known) is not None
                or _folded(k).startswith(tuple(RESULT_KEYS))]
    if misspelt:
        keys = "key" if len(misspelt) == 1 else "keys"
        raise CheckpointError(f"{where} has an unknown {keys} {', '.join(map(repr, misspelt))};"
                              f" {unknown_names_hint(misspelt, known)}")
    others = [k for k in unknown if k not in misspelt]
    if others:
        warnings.warn(f"{where}: {', '.join(map(repr, others))} not read (no key of a "
                      "boundary checkpoint)", stacklevel=2)
    missing = [k for k in RESULT_KEYS if k not in config] if version >= 2 else []
    if missing:
        one = len(missing) == 1
        raise CheckpointError(f"{where} has no {', '.join(map(repr, missing))} "
                              f"{'key' if one else 'keys'} (format version {version} writes "
                              f"{'it' if one else 'them'}; the model's outputs depend on "
                              f"{'it' if one else 'them'}): add {'it' if one else 'them'}")


#: How a checkpoint's error model is fitted, for each caller
#: (:func:`napari_srmat.errors.worded_error`): the function in Python, the export command
#: in a shell (no widget fits one).
FIT_ERROR_MODEL = Option(
    "napari_srmat.edges.export.calibrate_error_model(checkpoint, val_root)",
    "python -m napari_srmat.edges.export CHECKPOINT --error-model-only VAL_ROOT")


def _fit_rule_option(rule: str) -> Option:
    """How the parameters of threshold rule ``rule`` are given or fitted, for each caller
    (:func:`napari_srmat.errors.worded_error`): ``threshold_params`` or the function in
    Python; another ``--threshold-rule`` or the export command in a shell (no widget
    chooses a rule).

    Examples
    --------
    >>> _fit_rule_option("otsu_scaled").flag.endswith("--threshold-rules otsu_scaled")
    True
    """
    return Option(
        "pass threshold_params, or fit them with napari_srmat.edges.export."
        f"calibrate_thresholds(checkpoint, val_root, rules=({rule!r},))",
        "choose another --threshold-rule, or fit them with python -m "
        f"napari_srmat.edges.export SRC DST --calibrate VAL_ROOT --threshold-rules {rule}")


def _tta_option(mode: str) -> Option:
    """The TTA mode ``mode`` as each caller gives it (``tta='d4'``, ``--tta d4``)."""
    return Option(f"tta={mode!r}", f"--tta {mode}")


class BoundaryModel:
    """A loaded UAED network plus its metadata.

    Attributes
    ----------
    net : UAEDNet
        The network, in eval mode (BatchNorm uses running statistics).
    config : dict
        Checkpoint config (architecture, training settings, threshold).
    threshold : float
        Probability threshold for binarisation (max-F1 on the validation split
        when the checkpoint stores one, else 0.5). It belongs to the ``tta`` mode
        it was chosen with (``config["threshold_tta"]``).
    thresholds : BoundaryThresholds
        Every operating point the checkpoint stores (max-F1 per TTA mode, Heyn-calibrated,
        threshold-rule parameters, error model), typed and validated
        (:class:`napari_srmat.edges.thresholds.BoundaryThresholds`); ``threshold``,
        :attr:`heyn_threshold`, :attr:`threshold_params` and :attr:`error_model` are read
        from it for the current ``tta`` mode.
    device : str
        Torch device the network runs on.
    tta : {"none", "d4"}
        Test-time augmentation: ``"d4"`` averages the outputs over the 8 flips and
        90° rotations of each tile (8x the compute, smoother and better-connected
        boundaries); ``"none"`` is one forward pass. Defaults to the checkpoint's
        ``config["tta"]`` (:data:`DEFAULT_TTA` when absent).
    threshold_rule : str
        How :meth:`binarize` / :meth:`image_threshold` choose each image's operating
        point: ``"global"`` (``prob >= threshold``) or a rule of
        :data:`napari_srmat.edges.thresholds.RULES`, e.g. ``"otsu_scaled"`` (a threshold
        per image from the map's own statistics). Its parameters come from
        ``threshold_params`` or the checkpoint's ``config["threshold_rules"][tta]``
        (written by ``python -m napari_srmat.edges.export ... --calibrate VAL
        --threshold-rules NAME``). When none is given: :data:`DEFAULT_THRESHOLD_RULE` if
        the checkpoint stores its parameters for the current ``tta`` mode, else
        ``"global"``.
    """

    in_channels = 3

    def __init__(self, net: UAEDNet, config: dict[str, Any], device: str = "cpu",
                 path: str | None = None, tta: str | None = None,
                 threshold_rule: str | None = None,
                 threshold_params: dict[str, Any] | None = None,
                 thresholds: BoundaryThresholds | None = None) -> None:
        self.net = net.eval().to(device)
        #: :meth:`_inference_net`, kept by the weights
        self._fast_net = KeptByWeights()
        #: The digest :meth:`weights_digest` last computed (part of the inference copy's
        #: key: a job that names its weights gets a copy made from them).
        self._named_digest: str | None = None
        self.config = dict(config)
        #: The checkpoint's operating points (typed, validated; read from ``config``).
        self.thresholds = (thresholds if thresholds is not None
                           else BoundaryThresholds.from_config(config, source=path))
        self.device = device
        self.path = path
        self.tta = tta if tta is not None else self.thresholds.default_tta
        self._rule = None if threshold_rule is None else _check_rule(threshold_rule)
        self._threshold_params = None if threshold_params is None else dict(threshold_params)
        from .data import INPUT_NORMS

        if self.input_norm not in INPUT_NORMS:
            raise CheckpointError(f"{path or 'checkpoint'}: unknown input_norm "
                                  f"{self.input_norm!r} (known: {', '.join(INPUT_NORMS)})")
        if self._rule is not None and self._rule != "global":
            self.threshold_params  # noqa: B018  (refuse a rule without parameters now)

    @property
    def threshold_rule(self) -> str:
        """The operating-point rule in use (see the class docstring for the default)."""
        if self._rule is not None:
            return self._rule
        if DEFAULT_THRESHOLD_RULE in self.thresholds.rule_params(self.tta):
            return DEFAULT_THRESHOLD_RULE
        return "global"

    @threshold_rule.setter
    def threshold_rule(self, rule: str | None) -> None:
        self._rule = None if rule is None else _check_rule(rule)

    @property
    def threshold_params(self) -> dict[str, Any]:
        """Parameters of :attr:`threshold_rule` for the current ``tta`` mode."""
        if self.threshold_rule == "global":
            return {"threshold": float(self.threshold)}
        if self._threshold_params is not None:
            return dict(self._threshold_params)
        stored = self.thresholds.rule_params(self.tta)
        if self.threshold_rule not in stored:
            raise worded_error(
                CheckpointError, "checkpoint {path} has no calibrated parameters for "
                "threshold rule {rule!r} with {tta}; {fit}", path=self.path,
                rule=self.threshold_rule, tta=_tta_option(self.tta),
                fit=_fit_rule_option(self.threshold_rule))
        return stored[self.threshold_rule]

    def image_threshold(self, prob) -> float | None:
        """The threshold :attr:`threshold_rule` uses for one ``(H, W)`` probability map.

        ``None`` for rules that are not one threshold per image (``hysteresis``,
        ``closing``, ``bridge``, ``prune``): use :meth:`binarize`. The rules were
        validated on 256 x 256 px regions; :func:`napari_srmat.grainsize.measure_grain_size`
        applies the rule region by region
        (:func:`napari_srmat.edges.thresholds.binarize_by_region`).
        """
        from .thresholds import image_threshold

        return image_threshold(self.threshold_rule, np.asarray(prob), self.threshold_params)

    def map_threshold(self, prob) -> float | None:
        """:meth:`image_threshold` of a whole probability map of any size (numpy or
        Dask): the map itself, or an evenly strided sample of about
        :data:`THRESHOLD_SAMPLE_PIXELS` of a larger one. The one rule of the threshold a
        prediction's map gets (``predict_boundaries_job``'s error map, ``srmat edges
        predict --json``'s ``threshold``).

        Parameters
        ----------
        prob : array-like
            The ``(H, W)`` probability map (read lazily where it is a Dask array: only
            the sample is computed).

        Returns
        -------
        float or None
            As :meth:`image_threshold`.
        """
        h, w = prob.shape[:2]
        step = max(1, int(np.ceil(np.sqrt(h * w / THRESHOLD_SAMPLE_PIXELS))))
        return self.image_threshold(np.asarray(prob[::step, ::step], np.float32))

    def binarize(self, prob) -> np.ndarray:
        """Boundary map (bool, not skeletonised) of one ``(H, W)`` probability map."""
        from .thresholds import apply_threshold_rule

        return apply_threshold_rule(self.threshold_rule, np.asarray(prob), self.threshold_params)

    @property
    def error_model(self) -> dict[str, Any] | None:
        """Parameters of the checkpoint's error model for the current ``tta`` mode, if any.

        Stored as ``config["error_model"][tta]`` (fitted on the validation split by
        ``python -m napari_srmat.edges.export ... --calibrate VAL --error-model``); see
        :mod:`napari_srmat.edges.uncertainty`.
        """
        return self.thresholds.error_model_for(self.tta)

    def error_probability(self, prob, *, predicted=None, sigma=None,
                          tta_disagreement=None) -> np.ndarray:
        """Probability that each pixel of the binarised map is wrong (float32 ``(H, W)``).

        Unlike ``sigma``, a calibrated probability of a mistake: ``P(boundary)`` on pixels
        :meth:`binarize` calls background, ``P(background)`` on pixels it calls boundary
        (``napari_srmat.edges.uncertainty.error_probability``; measured out of fold in
        docs/boundaries.md, "Uncertainty as an error detector").

        Parameters
        ----------
        prob : array
            ``(H, W)`` probability map of this model under its current ``tta`` mode.
        predicted : array of bool, optional
            The binarised map (default: :meth:`binarize` ``(prob)``).
        sigma, tta_disagreement : array, optional
            Only for error models fitted with those features.

        Raises
        ------
        CheckpointError
            The checkpoint stores no error model for the current ``tta`` mode.
        """
        from .uncertainty import error_probability

        params = self.error_model
        if params is None:
            raise worded_error(CheckpointError, "checkpoint {path} has no error model for "
                               "{tta}; fit one with {fit}", path=self.path,
                               tta=_tta_option(self.tta), fit=FIT_ERROR_MODEL)
        p = np.asarray(prob)
        if predicted is None:
            predicted = np.asarray(self.binarize(p), bool)
        return error_probability(p, params, predicted=predicted, sigma=sigma,
                                 tta_disagreement=tta_disagreement)

    @property
    def tta(self) -> str:
        """Test-time augmentation mode; setting it also selects the matching threshold."""
        return self._tta

    @tta.setter
    def tta(self, mode: str) -> None:
        self._tta = _check_tta(mode)
        # a threshold chosen under another TTA mode does not transfer exactly
        self.threshold = self.thresholds.max_f1(mode)

    @property
    def heyn_threshold(self) -> float | None:
        """The checkpoint's Heyn-calibrated threshold for the current ``tta`` mode, if any."""
        return self.thresholds.heyn_threshold(self.tta)

    @property
    def encoder(self) -> str:
        return str(self.config.get("encoder", "small"))

    @property
    def receptive_field(self) -> int:
        """Approximate theoretical receptive field in pixels (about 12x the total stride).

        The *effective* field is much smaller: with ``overlap=64`` tiled and untiled
        probabilities differ by < 0.04 away from the image border (overlap 32: up to
        0.2 at a few pixels, mean 0.006; see the tests).
        """
        return 12 * self.net.multiple

    def weights_digest(self) -> str:
        """SHA-256 (32 hex characters) of the network's weights as they are now, in
        memory (part of output identities; :func:`napari_srmat.grainsize.measured_settings`
        names the model by it).

        Computed from the weights each time it is asked (3-9 ms for the shipped weights,
        0.36 s for an efficientnet-b7 UAED on a CPU; once or twice per job), never kept:
        an output named or resumed by it was made with these weights, whatever changed
        them in memory (also a change that keeps
        :func:`~napari_srmat.checkpoint._weights_key`, e.g. two elements swapped through
        ``.data``). The digest is recorded: the inference copy is made again when it
        differs from the one the copy was made under, and a job takes its copy once,
        after the digest that names its output (:meth:`_job_tile_function`), so it
        predicts all its tiles with those weights.

        Returns
        -------
        str
            :func:`napari_srmat.checkpoint.network_digest` of :attr:`net`.
        """
        self._named_digest = network_digest(self.net)
        return self._named_digest

    def _name_weights(self) -> tuple[str, tuple]:
        """:meth:`weights_digest`, with the weights' token read just before it
        (:meth:`~napari_srmat.checkpoint.KeptByWeights.token`): what a job naming its
        output by the digest gives :meth:`_job_tile_function`, so that the copy it takes
        is of those weights or the job is refused.

        Returns
        -------
        (str, tuple)
            The digest and the token.
        """
        token = self._fast_net.token(self.net)
        return self.weights_digest(), token

    def __repr__(self) -> str:
        return (f"BoundaryModel(encoder={self.encoder!r}, threshold={self.threshold:.3f}, "
                f"device={self.device!r}, path={self.path!r})")

    @property
    def input_norm(self) -> str:
        """The input normalisation the network was trained with (``config["input_norm"]``,
        one of :data:`napari_srmat.edges.data.INPUT_NORMS`; ``"none"`` when absent)."""
        return str(self.config.get("input_norm", "none"))

    def input_stats(self, image) -> tuple[np.ndarray, np.ndarray] | None:
        """Channel statistics of a whole ``(H, W)`` / ``(H, W, C)`` image for the model's
        input normalisation (``None`` when it has none): pass them to :meth:`predict` as
        ``input_stats`` so every tile is normalised alike. Large images are sampled on a
        regular grid (:func:`napari_srmat.edges.data.channel_stats`)."""
        if self.input_norm == "none":
            return None
        from .data import channel_stats

        sample = _whole_image_sample(image)
        return channel_stats(sample, max_pixels=sample[0].size)  # sampled once, not twice

    def exposure_gain(self, image) -> float:
        """Gain applied to a whole ``(H, W)`` / ``(H, W, C)`` image (array or
        Micrograph) before this model (:func:`napari_srmat.edges.data.exposure_gain`:
        > 1 only for an image too dim for the model; 1.0 for a model with an input
        normalisation, which removes the exposure itself). Large images are sampled on a
        regular grid. Pass it to :meth:`predict` as ``gain`` so every tile is brightened
        alike."""
        if self.input_norm != "none":  # known without the sample (:meth:`input_stats`
            return 1.0  # reads it for such a model: it was read twice)
        return self._gain_of_sample(_whole_image_sample(image))

    def _gain_of_sample(self, sample: np.ndarray) -> float:
        if self.input_norm != "none":
            return 1.0
        return _sample_exposure_gain(sample)

    def input_report(self, image) -> dict[str, float]:
        """What this model sees of a whole ``(H, W)`` / ``(H, W, C)`` image, from one
        grid sample (:mod:`napari_srmat.edges.data`).

        Returns
        -------
        dict
            ``exposure_gain`` (:meth:`exposure_gain`), ``bright_level`` (of the image
            as it is), ``seen_bright_level`` (after the gain), ``colourfulness`` (after
            the gain: a dim colour image is not grey) and ``saturated_fraction`` (pixels
            with a channel at full scale; for a brightened image, at the image's own
            maximum, where 12- or 14-bit data clip).
        """
        from .data import bright_level, colourfulness, saturated_fraction

        sample = _whole_image_sample(image)
        n = sample[0].size
        gain = self._gain_of_sample(sample)
        full_scale = 1.0 if gain == 1.0 else float(sample.max())
        seen = np.clip(sample * np.float32(gain), 0.0, 1.0) if gain != 1.0 else sample
        return {"exposure_gain": gain, "bright_level": bright_level(sample, max_pixels=n),
                "seen_bright_level": bright_level(seen, max_pixels=n),
                "colourfulness": colourfulness(seen, max_pixels=n),
                "saturated_fraction": saturated_fraction(sample, max_pixels=n,
                                                         full_scale=full_scale)}

    def predict(self, batch, input_stats=None, gain=None):
        """Boundary probability and uncertainty of a batch.

        Parameters
        ----------
        batch : numpy.ndarray or torch.Tensor
            Float ``(B, C, h, w)`` in [0, 1]; ``C`` = 1 (repeated), 2 (grey + alpha: grey
            repeated), 3, or 4 (alpha dropped): the channel rule of
            :func:`napari_srmat.io.as_rgb`.
        input_stats : tuple of ndarray, optional
            For a model with an input normalisation (:attr:`input_norm`): the channel
            statistics of the whole image the tiles come from (:meth:`input_stats`).
            Without them each batch item is normalised with its own statistics (right
            for whole images, not for tiles).
        gain : float, optional
            For a model without an input normalisation: the whole image's
            :meth:`exposure_gain` (the tiles of a dim image are brightened alike).
            Without it each batch item gets its own gain (right for whole images, not
            for tiles).

        Returns
        -------
        prob, sigma
            ``(B, 1, h, w)`` each, same array type as the input: ``prob = sigmoid(mu)``
            and ``sigma`` the predicted dispersion of the logit (> 0).
        """
        return self._predict_with(self._inference_net(), batch, input_stats, gain)

    def _predict_with(self, net, batch, input_stats=None, gain=None, *,
                      tta: str | None = None, device: str | None = None):
        """:meth:`predict` with the inference copy ``net`` (:meth:`_inference_net`), the
        TTA mode ``tta`` and on ``device`` (None: the model's now; a job passes those
        it started with)."""
        import torch

        tta = self.tta if tta is None else tta
        device = self.device if device is None else device

        is_torch = torch.is_tensor(batch)
        x = batch if is_torch else torch.from_numpy(np.asarray(batch, dtype=np.float32))
        if x.ndim != 4:
            raise ValueError(f"expected a (B, C, h, w) batch, got shape {tuple(x.shape)}")
        if x.shape[1] in (1, 2):
            x = x[:, :1].repeat(1, 3, 1, 1)
        elif x.shape[1] == 4:
            x = x[:, :3]
        elif x.shape[1] != 3:
            raise ValueError(f"expected 1 to 4 channels, got {x.shape[1]}")
        x = x.to(device, torch.float32).clamp(0, 1)
        if self.input_norm == "channels":
            x = _normalize_batch(x, input_stats)
        elif self.input_norm == "none":
            x = _brighten_batch(x, gain)
        x = x.contiguous(memory_format=torch.channels_last)
        # on a CPU one tile at a time is faster than a batch (its activations stay in cache)
        step = INFER_CPU_MICRO_BATCH if str(device) == "cpu" else x.shape[0]
        probs, sigmas = [], []
        with torch.inference_mode():
            for k in range(0, x.shape[0], max(1, step)):
                part = x[k : k + step]
                if tta == "d4":
                    prob, sigma = _d4_average(net, part)
                else:
                    logit, sigma = net(part)
                    prob = torch.sigmoid(logit)
                probs.append(prob)
                sigmas.append(sigma)
            prob = probs[0] if len(probs) == 1 else torch.cat(probs)
            sigma = sigmas[0] if len(sigmas) == 1 else torch.cat(sigmas)
            prob = prob.contiguous()
            sigma = sigma.contiguous()
        if is_torch:
            return prob.clone(), sigma.clone()  # plain tensors (not inference tensors)
        return prob.cpu().numpy(), sigma.cpu().numpy()

    def _inference_net(self, named: tuple[str, tuple] | None = None):
        """:func:`~napari_srmat.edges.model.inference_copy` of :attr:`net` (batch norms
        folded, channels-last); made again when ``net``, its mode or its weights change
        (:class:`~napari_srmat.checkpoint.KeptByWeights`, whose blind spot is a change
        keeping each tensor's bit sum, e.g. two elements swapped through ``.data``) or
        when :meth:`weights_digest` names other weights (a job's digest, taken at its
        start, is the copy's: such a change made before it is seen). The key is read on
        every :meth:`predict` call (CPU, 1 thread: 2 ms for the shipped weights, 0.1 s
        for an efficientnet-b7 UAED, whose 512 px tile takes 1 s; on a GPU a sync); a
        job reads it once, :meth:`_job_tile_function` taking the copy at its start for
        all its tiles (a change made during the job is not seen by it).

        ``named``: a job's :meth:`_name_weights`; the copy is the one of that digest,
        and :class:`~napari_srmat.checkpoint.WeightsChangedError` is raised when the
        weights changed since it was taken (whatever another caller named meanwhile)."""
        from .model import inference_copy

        digest, since = named if named is not None else (self._named_digest, None)
        return self._fast_net.get(self.net, lambda: inference_copy(self.net),
                                  extra=(self.net.training, digest), since=since)

    def predict_stacked(self, batch, input_stats=None, gain=None):
        """``(B, 2, h, w)`` stack of ``(prob, sigma)`` (the function tiling applies)."""
        return _stacked(*self.predict(batch, input_stats, gain))

    def _job_tile_function(self, input_stats=None, gain=None,
                           named: tuple[str, tuple] | None = None):
        """:meth:`predict_stacked` for the tiles of one job, with the inference copy
        taken now, once (:meth:`_inference_net`), and the TTA mode and device of now
        (those its output names): called at the job's start, after the
        :meth:`weights_digest` its output is named by, so every tile is predicted with
        the weights that digest names, whatever changes them while the job runs (a
        training step, another thread's job), and no tile reads the weights key (its
        cost, a GPU sync on a GPU: :meth:`_inference_net`).

        Parameters
        ----------
        input_stats, gain
            As :meth:`predict`'s.
        named : (str, tuple), optional
            The job's :meth:`_name_weights`, when its output is named by the digest: the
            copy is of exactly those weights, or
            :class:`~napari_srmat.checkpoint.WeightsChangedError` is raised (they
            changed since, within the key's blind spot).

        Returns
        -------
        callable
            ``f(batch) -> (B, 2, h, w)``, as :meth:`predict_stacked`.
        """
        kept = self._kept_tile_function(named)
        return lambda batch: kept(batch, input_stats, gain)

    def _kept_tile_function(self, named: tuple[str, tuple] | None = None):
        """:meth:`predict_stacked` with the inference copy (:meth:`_inference_net`), the
        TTA mode and the device taken now, once, for every batch it is given: the one
        rule of :meth:`_job_tile_function` (one job, its image's ``input_stats`` and
        ``gain``) and of a dask worker's kept model
        (:func:`~napari_srmat.edges.remote.load_worker_boundary_model`: every batch of
        every job it gets, each with its own). No batch reads the weights key.

        Parameters
        ----------
        named : (str, tuple), optional
            :meth:`_name_weights` read by the caller: the copy is of exactly those
            weights, or :class:`~napari_srmat.checkpoint.WeightsChangedError` is raised.

        Returns
        -------
        callable
            ``f(batch, input_stats=None, gain=None) -> (B, 2, h, w)``, as
            :meth:`predict_stacked`.
        """
        net = self._inference_net(named)
        tta, device = self.tta, self.device  # those the job started with (and names)

        def stacked(batch, input_stats=None, gain=None):
            return _stacked(*self._predict_with(net, batch, input_stats, gain,
                                                tta=tta, device=device))

        return stacked


def _stacked(prob, sigma):
    """``(B, 2, h, w)`` stack of ``prob`` and ``sigma`` (numpy or torch, as given)."""
    if isinstance(prob, np.ndarray):
        return np.concatenate([prob, sigma], axis=1)
    import torch

    return torch.cat([prob, sigma], dim=1)


def _whole_image_sample(image) -> np.ndarray:
    """The pixels of a whole ``(H, W)`` / ``(H, W, C)`` image (array or
    :class:`~napari_srmat.io.Micrograph`) on the grid of
    :func:`napari_srmat.edges.data.stats_step`, as a ``(3, h, w)`` model image: the one
    sample behind :meth:`BoundaryModel.input_stats`, :meth:`~BoundaryModel.exposure_gain`
    and :meth:`~BoundaryModel.input_report`. Only the sampled pixels are read and
    converted; a Micrograph is sampled on its smallest pyramid level that still has
    :data:`~napari_srmat.edges.data.STATS_MAX_PIXELS` pixels (a strided read of level 0
    would touch every chunk of a large store)."""
    from ..io import Micrograph, read_window
    from .data import STATS_MAX_PIXELS, stats_step, to_model_image

    if isinstance(image, Micrograph):
        levels = list(image.levels) or [image.data]
        big = [lv for lv in levels if lv.shape[0] * lv.shape[1] >= STATS_MAX_PIXELS]
        image = min(big, key=lambda lv: lv.shape[0] * lv.shape[1]) if big else levels[0]
    h, w = image.shape[:2]
    # read_window: a damaged chunk is an ImageReadError (it was the codec's RuntimeError,
    # told as an internal error)
    return to_model_image(read_window(image, 0, h, 0, w, step=stats_step(h, w)))


def _sample_exposure_gain(sample: np.ndarray) -> float:
    """:func:`napari_srmat.edges.data.exposure_gain` of a :func:`_whole_image_sample`."""
    from .data import exposure_gain

    return exposure_gain(sample, max_pixels=sample[0].size)


def image_exposure_gain(image, *, keep_brightest: bool = False) -> float:
    """The exposure rule's gain of a whole ``(H, W)`` / ``(H, W, C)`` image.

    :func:`napari_srmat.edges.data.exposure_gain` of the image's one whole-image sample
    (:func:`_whole_image_sample`: a regular grid, a Micrograph's smallest pyramid level
    that has enough pixels), as the boundary model computes it
    (:meth:`BoundaryModel.exposure_gain` of a model without input normalisation). The
    SR models use it too (:func:`napari_srmat.sr.super_resolve_job`), with
    ``keep_brightest``.

    Parameters
    ----------
    image : array-like or Micrograph
        numpy, Dask or Zarr pixels (any dtype of the float rule).
    keep_brightest : bool
        Limit the gain to ``1 / brightest sampled value``, so that nothing the image
        holds is brightened past 1 (and clipped there by a model's [0, 1] output): a
        dark-field micrograph whose few bright particles reach full scale (its 99.5th
        percentile is dark) gets 1; 12-bit data in a 16-bit file (brightest at most
        4095/65535) at most 16.

    Returns
    -------
    float
        1.0 for an image of the usual brightness, > 1 for a dim one.
    """
    sample = _whole_image_sample(image)
    gain = _sample_exposure_gain(sample)
    if keep_brightest and gain > 1.0:
        brightest = float(np.nanmax(sample))  # > 0: the rule gives 1 to a black image
        gain = max(1.0, min(gain, 1.0 / brightest))
    return gain


def _normalize_batch(x, input_stats):
    """:func:`napari_srmat.edges.data.normalize_channels` on a torch batch: with the given
    whole-image statistics, else with each item's own."""
    import torch

    from .data import channel_stats, normalization_affine, stats_step

    if input_stats is not None:  # (C,): the same for every item
        mean, std = input_stats
    else:  # (B, C): each item's own, by the one rule (on the CPU: MPS has no float64);
        # only the sampled pixels leave the device
        step = stats_step(*x.shape[-2:])
        sample = x.detach()[..., ::step, ::step].to("cpu").numpy()
        stats = [channel_stats(item, max_pixels=item[0].size) for item in sample]
        mean, std = (np.stack([st[i] for st in stats]) for i in (0, 1))
    scale, shift = (torch.from_numpy(np.ascontiguousarray(a)).to(x.device)
                    .reshape(-1, x.shape[1], 1, 1) for a in normalization_affine(mean, std))
    return x * scale + shift


def _brighten_batch(x, gain):
    """Multiply a torch batch in [0, 1] by the whole image's exposure gain, or by each
    item's own (:func:`napari_srmat.edges.data.exposure_gain`), and clip to [0, 1]."""
    import torch

    from .data import exposure_gain, stats_step

    if gain is None:  # each item is a whole image: its own gain, by the one sampling
        # rule; only the sampled pixels leave the device (as in _normalize_batch)
        step = stats_step(*x.shape[-2:])
        sample = x.detach()[..., ::step, ::step].to("cpu").numpy()
        gains = [exposure_gain(item, max_pixels=item[0].size) for item in sample]
        if all(g == 1.0 for g in gains):
            return x
        factor = torch.tensor(gains, dtype=x.dtype, device=x.device).reshape(-1, 1, 1, 1)
        return (x * factor).clamp_(0, 1)
    if float(gain) == 1.0:
        return x
    return (x * float(gain)).clamp_(0, 1)


#: Tiles per network call on a CPU (:meth:`BoundaryModel.predict`): one tile's
#: activations stay in cache; measured ~1.4x faster than batches of 4 with the same
#: results (``benchmarks/bench_uaed_speed.py --ablation``).
INFER_CPU_MICRO_BATCH = 1


def _check_rule(rule: str) -> str:
    from .thresholds import RULES

    if rule not in RULES:
        raise ValueError(f"threshold_rule must be one of {tuple(RULES)}, got {rule!r}")
    return rule


def _check_tta(tta: str) -> str:
    if tta not in TTA_MODES:
        raise ValueError(f"tta must be one of {TTA_MODES}, got {tta!r}")
    return tta


def _d4_average(net, x):
    """Mean probability and sigma over the 8 flips/90° rotations of ``x`` (B, C, h, w).

    Non-square inputs are rotated too (the network accepts any size), and every
    output is mapped back before averaging, so the result is exactly equivariant.
    """
    import torch

    prob_sum = sigma_sum = None
    for k in range(4):
        for flip in (False, True):
            t = torch.rot90(x, k, (2, 3))
            if flip:
                t = torch.flip(t, (3,))
            logit, sigma = net(t)
            prob = torch.sigmoid(logit)
            if flip:
                prob, sigma = torch.flip(prob, (3,)), torch.flip(sigma, (3,))
            prob, sigma = torch.rot90(prob, -k, (2, 3)), torch.rot90(sigma, -k, (2, 3))
            prob_sum = prob if prob_sum is None else prob_sum + prob
            sigma_sum = sigma if sigma_sum is None else sigma_sum + sigma
    return prob_sum / 8, sigma_sum / 8


def _resolve(checkpoint) -> Path:
    if checkpoint is None:
        path = default_checkpoint_path()
        if not (path / WEIGHTS_NAME).is_file():
            raise worded_error(
                CheckpointError, "no shipped default UAED weights in {path}; train them with "
                "scripts/train_uaed_weights.sh or give a checkpoint folder: pass "
                "{checkpoint}", path=path, checkpoint=CHECKPOINT)
        return path
    path = Path(checkpoint)
    # a training run directory: use its best checkpoint
    if path.is_dir() and not (path / CONFIG_NAME).exists() and (path / "best").is_dir():
        path = path / "best"
    return resolve_checkpoint_dir(path, model_kind="boundary")


def as_boundary_model(model: Any, *, name: str = "model") -> BoundaryModel:
    """The one rule for a ``model`` argument of the boundary functions.

    None loads the shipped weights (:func:`load_boundary_model` ``()``), a str or
    path-like is a checkpoint for :func:`load_boundary_model`, and a
    :class:`BoundaryModel` is used as it is; anything else is a TypeError naming the
    argument (an SR model name such as ``"cnn"`` failed deep inside with
    ``'str' object has no attribute 'config'``).
    """
    if model is None:
        return load_boundary_model()
    if isinstance(model, str | os.PathLike):
        return load_boundary_model(model)
    if not isinstance(model, BoundaryModel):
        raise TypeError(f"{name} must be a BoundaryModel "
                        "(napari_srmat.edges.load_boundary_model(checkpoint)), a checkpoint "
                        f"path or None (the shipped weights), got {type(model).__name__}")
    return model


def load_boundary_model(checkpoint=None, device: str = "auto",
                        tta: str | None = None, threshold_rule: str | None = None,
                        threshold_params: dict[str, Any] | None = None, *,
                        for_init: bool = False) -> BoundaryModel:
    """Load a UAED boundary model.

    Parameters
    ----------
    checkpoint : path-like, optional
        Checkpoint directory (``model.safetensors`` + ``config.json``), its
        safetensors file, or a training run directory (its ``best/`` is used).
        ``None`` loads the shipped default weights.
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``...
    tta : {"none", "d4"}, optional
        Test-time augmentation (see :class:`BoundaryModel`); default: the
        checkpoint's setting (:data:`DEFAULT_TTA` when it has none).
    threshold_rule : str, optional
        Operating-point rule of :meth:`BoundaryModel.binarize` (default
        :data:`DEFAULT_THRESHOLD_RULE` where the checkpoint stores its parameters for
        the TTA mode, else ``"global"``: the stored threshold; see
        :data:`napari_srmat.edges.thresholds.RULES`).
    threshold_params : dict, optional
        The rule's parameters (default: the checkpoint's calibrated ones).
    for_init : bool
        Also accept a self-supervised pretraining checkpoint
        (``config["purpose"] == "init_only"``, :mod:`napari_srmat.edges.pretrain`), whose
        output is not a boundary probability: only to start a training run from.

    Returns
    -------
    BoundaryModel

    Raises
    ------
    CheckpointError
        Missing files, a config for another architecture, tensors whose names
        or shapes do not match the architecture the config describes, or a
        ``threshold_rule`` without parameters, or (without ``for_init``) a
        pretraining checkpoint.
    """
    from ..device import resolve_device
    from .pretrain import INIT_ONLY

    device = resolve_device(device)
    path = _resolve(checkpoint)
    path, config = read_checkpoint_config(path)
    check_boundary_config(config, path)  # before a default stands in for a misspelt key
    if config.get("purpose") == INIT_ONLY and not for_init:
        raise CheckpointError(f"{path} is a self-supervised pretraining, not a boundary "
                              "model: train from it (init_checkpoint) before predicting")
    thresholds = BoundaryThresholds.from_config(config, source=path)  # refuse bad ones now
    from ..grainsize import model_log_error_95

    model_log_error_95(config, source=path)  # the grain-size interval's model term, too
    # the architecture is checked against the weights file before anything is allocated
    state = load_checked_weights(
        path, lambda: build_uaed(config),
        describe=", ".join(f"{k}={config.get(k)!r}" for k in
                           ("model", "encoder", "in_channels", "decoder_channels")))
    net = build_uaed(config)
    expected = net.state_dict()
    state = {k: (v.to(expected[k].dtype) if v.is_floating_point() else v) for k, v in state.items()}
    net.load_state_dict(state)
    return BoundaryModel(net, config, device=device, path=str(path), tta=tta,
                         threshold_rule=threshold_rule, threshold_params=threshold_params,
                         thresholds=thresholds)


def _split_stacked(result: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(result)
    if a.ndim == 3 and a.shape[-1] == 2:
        return a[..., 0], a[..., 1]
    if a.ndim == 3 and a.shape[0] == 2:
        return a[0], a[1]
    raise ValueError(f"unexpected tiled output shape {a.shape}")


#: What an ``edges predict`` output folder holds (besides its marker).
BOUNDARY_OUTPUTS = ("prob.ome.zarr", "uncertainty.ome.zarr", "prob.png", "uncertainty.png")
#: The extra map of an ``edges predict`` folder made with ``error_map`` (``--error-map``).
ERROR_OUTPUT = "error_probability.ome.zarr"
#: The key of an ``edges predict`` folder's marker that keeps its scale check
#: (:meth:`napari_srmat.grainsize.NativeScale.to_dict`; absent with ``scale_check=False``).
NATIVE_SCALE_KEY = "native_scale"
#: Images up to this many pixels also get PNG previews in the output folder.
PREVIEW_MAX_PIXELS = 4096 * 4096
_STACKED = "stacked.ome.zarr"


def boundary_map_name(image: Any) -> str | None:
    """The file name of the ``srmat edges predict`` map ``image`` was read from, else None.

    A :class:`~napari_srmat.io.Micrograph` whose file is one of :data:`BOUNDARY_OUTPUTS`
    or :data:`ERROR_OUTPUT` inside a folder marked as ``edges predict``'s output is a
    boundary map, not a micrograph: the boundary model run on it measures nothing real.

    Parameters
    ----------
    image : Any
        What a measurement was given.

    Returns
    -------
    str or None
        E.g. ``"prob.ome.zarr"``; None for arrays and other files.
    """
    from ..io import Micrograph
    from ..outputs import read_marker

    path = image.path if isinstance(image, Micrograph) else None
    if path is None or Path(path).name not in (*BOUNDARY_OUTPUTS, ERROR_OUTPUT):
        return None
    marker = read_marker(Path(path).parent)
    return Path(path).name if marker and marker.get("kind") == "boundaries" else None


#: What :func:`predict_boundaries_job` tells (after the output's path, a
#: :class:`~napari_srmat.jobs.AlreadyComplete` notice) when its output is already
#: complete for the same input, model and settings: nothing is written.
ALREADY_COMPLETE = "is already complete (same input, model and settings): nothing written"


def check_boundary_input(image: Any) -> Any:
    """The input rule of :func:`predict_boundaries_job`, checked without running the model:
    an ``(H, W)`` or ``(H, W, C)`` image with 1 to 4 channels, at least
    :data:`napari_srmat.io.MIN_IMAGE_SIDE` px per side (both checked before any pixel is
    read), and values the float rule reads (:func:`napari_srmat.io.check_pixel_values`).
    ``srmat edges predict`` checks a file with it before the job starts, so that an error
    names the file. NaN/Inf pixels are found by the tiling engine as it reads the tiles.

    Parameters
    ----------
    image : Micrograph or array-like
        The input.

    Returns
    -------
    Micrograph or array
        What is tiled (a Micrograph keeps its file).

    Raises
    ------
    ValueError
        A shape the model cannot take (:class:`~napari_srmat.edges.data.BoundaryDataError`),
        an image too small (:class:`napari_srmat.io.ImageSizeError`), values the float rule
        would misread.
    """
    from ..io import Micrograph, check_image_side, check_pixel_values, image_data
    from .data import check_model_image_shape

    arr, _ = image_data(image)
    check_model_image_shape(arr.shape)  # before any pixel is read
    check_image_side(arr.shape)
    check_pixel_values(arr)
    return image if isinstance(image, Micrograph) else arr


def predict_boundaries_job(
    image,
    model: BoundaryModel | None = None,
    *,
    tile: int = BOUNDARY_TILE,
    overlap: int = BOUNDARY_OVERLAP,
    batch_size: int = DEFAULT_BATCH_SIZE,
    out=None,
    overwrite: bool = False,
    resume: bool = True,
    pixel_size_um: float | tuple[float, float] | None = None,
    previews: bool = True,
    error_map: bool = False,
    stop=None,
    scheduler=None,
    worker_device: str = "auto",
    scale_check: bool = True,
):
    """Boundary probability and uncertainty of a whole image, tile by tile (job).

    The model runs at the image's own pixels. Where its grains are of a size the model
    is not reliable at (a super-resolved image, a coarse one: the rule of
    :class:`napari_srmat.grainsize.NativeScale`, the whole measurement's), a one-line
    ``UserWarning`` says so and what to do (``srmat grain-size``, which runs the model at
    a scale where it is reliable, or super-resolve first); with ``out`` the check is kept
    in the folder's marker (``native_scale``). A grain size counted on these maps
    (``srmat heyn``, the grain-size widget's mask tab) is only as good as that scale.

    Parameters
    ----------
    image : array-like or Micrograph
        numpy/dask/zarr ``(H, W)`` or ``(H, W, C)`` (any of uint8/uint16/float), or a
        :class:`~napari_srmat.io.Micrograph` (its file is recorded in the output's
        identity and never overwritten).
    model : BoundaryModel or path-like, optional
        A loaded model or a checkpoint (:func:`as_boundary_model`); None: the shipped
        weights.
    tile, overlap, batch_size : int
        Tiling parameters (see ``napari_srmat.tiling.tiled_apply_job``). Tiles are
        blended, so seams are small; use an overlap of at least
        ``model.receptive_field // 2`` for results closest to untiled inference.
    out : path-like, optional
        Output folder receiving ``prob.ome.zarr`` and ``uncertainty.ome.zarr``
        (float32, written block by block, so images larger than memory work) and,
        for images up to :data:`PREVIEW_MAX_PIXELS`, ``prob.png`` and
        ``uncertainty.png``. It is built in ``OUT.partial`` and renamed when complete
        (write protocol: docs/safety.md).
    overwrite : bool
        Replace an existing output folder made from another input or with another
        model/settings (only a folder written by ``edges predict``). Without it the
        same call on a complete folder returns it as it is.
    resume : bool
        Continue an interrupted ``OUT.partial`` made with the same input, model and
        settings (otherwise refused, naming the difference, or started over with
        ``overwrite``); False starts over.
    pixel_size_um : float or (float, float), optional
        µm per pixel of ``image``, one size or ``(Y, X)`` sizes, as ``super_resolve`` and
        ``plan_rescan`` take it (the rule :func:`napari_srmat.io.check_pixel_size_yx`,
        checked even without ``out``); stored in the OME-Zarr metadata, per axis when
        the pixels are not square (default: the Micrograph's, both sizes). The model runs
        at the image's own pixels either way: the size only calibrates the maps (a grain
        size measured on maps of non-square pixels is given in px only, docs/io.md).
    previews : bool
        Write the PNG previews (small images only).
    error_map : bool
        Also compute :meth:`BoundaryModel.error_probability` of the probability map (the
        probability that each pixel of the binarised map is wrong; needs an error model
        in the checkpoint). With ``out`` it is written as ``error_probability.ome.zarr``
        beside the other maps (block by block, so only for the ``"global"`` threshold
        rule and an error model of pixel-wise features); without ``error_map`` the
        folder layout is unchanged.
    stop : StopToken, optional
        Checked between tiles.
    scheduler : str or distributed.Client, optional
        Run the tiles on a dask.distributed cluster (``"tcp://host:8786"``,
        ``"local:N"`` or a Client; docs/distributed.md): each worker loads the model
        from its checkpoint (:class:`~napari_srmat.edges.remote.RemoteBoundaryModel`)
        and writes its chunks into the output folder's staging store, which must be on
        a file system the workers see at the same path.
    worker_device : str
        Device of the model on the workers (default ``"auto"``).
    scale_check : bool
        Estimate the grain size of the input (central windows only,
        :func:`napari_srmat.grainsize.check_native_scale`) and warn when it is outside
        what the model is reliable at; False for a caller that chose the scale itself
        (:func:`napari_srmat.grainsize.measure_grain_size`) or checked it already.

    Returns
    -------
    (prob, uncertainty) or (prob, uncertainty, error_probability)
        ``(H, W)`` float32 numpy arrays, or the OME-Zarr paths when ``out`` is
        given; ``None`` if stopped.
    """
    from ..device import check_device_name
    from ..errors import check_flag
    from ..io import check_pixel_size_yx, warn_given_pixel_size
    from ..io._checked import passed
    from ..jobs import check_stop
    from ..outputs import check_out_arg
    from ..tiling import tiled_apply_job

    # (Y, X) as super_resolve takes it (a square pair: one size); also when no out uses it
    pixel_size_um = check_pixel_size_yx(pixel_size_um)
    # "no" is truthy: error_map="no" returned a third map; "tpu" was accepted unused (as
    # super_resolve, the worker device is checked by name without a scheduler too)
    previews = check_flag("previews", previews)
    error_map = check_flag("error_map", error_map)
    worker_device = check_device_name(worker_device, field="worker_device")
    scale_check = check_flag("scale_check", scale_check)
    stop = check_stop(stop)
    out = check_out_arg(out, "predict_boundaries", what="the path of an output folder "
                        "(prob.ome.zarr, uncertainty.ome.zarr)", example="edges_out")
    if out is not None:  # "no" is truthy: it would replace the folder the user meant to keep
        overwrite = check_flag("overwrite", overwrite)
        resume = check_flag("resume", resume)
    model = as_boundary_model(model)

    # input that passed check_boundary_input already (srmat edges predict checks its file
    # before the model loads, napari_srmat.io._checked): its value sample is read once
    given = passed(image, check_boundary_input)
    a = given.value if given is not None else check_boundary_input(image)
    # written into the stores: told, as a CLI flag that differs from the file's is
    warn_given_pixel_size(image if given is None else given.image, pixel_size_um)
    if error_map:
        if model.error_model is None:
            model.error_probability(np.zeros((1, 1), np.float32))  # raises the CheckpointError
        if out is not None:
            from .thresholds import RULES
            from .uncertainty import POINTWISE_FEATURES

            one_threshold = RULES[model.threshold_rule].threshold is not None
            if not one_threshold or not set(
                    model.error_model["features"]) <= set(POINTWISE_FEATURES):
                raise ValueError(
                    "error_map with an output folder needs a threshold rule that gives one "
                    "threshold per image (not hysteresis, closing, bridge or prune) and an "
                    f"error model of pixel-wise features {POINTWISE_FEATURES} (it is written "
                    "block by block); use out=None for other rules or features")
    gain = model.exposure_gain(a)
    if gain != 1.0:
        yield Log(f"the image is dim for the boundary model: brightened x{gain:.3g} "
                  "before it (docs/grain_size.md, 'Exposure')")
    make_fn = functools.partial(_tile_function, model, a, scheduler, worker_device, gain)
    if out is None:
        if scale_check and (yield from _native_scale_job(a, stop)) is None:
            return None
        result = yield from tiled_apply_job(
            a, make_fn(), scale=1, out_channels=2, tile=tile, overlap=overlap,
            batch_size=batch_size, out=None, out_dtype=np.float32, stop=stop,
            scheduler=scheduler,
        )
        # None once the engine yielded Stopped; a stop after the last tile keeps the maps,
        # as the stored path finishes its folder (until 2026-12-07 they were dropped, and
        # None returned with no Stopped told)
        if result is None:
            return None
        prob, unc = _split_stacked(result)
        prob, unc = prob.astype(np.float32), unc.astype(np.float32)
        if error_map:
            return prob, unc, model.error_probability(prob)
        return prob, unc
    return (yield from _predict_to_folder(a, model, Path(out), tile=tile, overlap=overlap,
                                          batch_size=batch_size, overwrite=overwrite,
                                          resume=resume, pixel_size_um=pixel_size_um,
                                          previews=previews, error_map=error_map, stop=stop,
                                          make_fn=make_fn, scheduler=scheduler,
                                          gain=gain, scale_check=scale_check))


def _native_scale_job(image, stop):
    """:func:`napari_srmat.grainsize.check_native_scale` of the input, its warning issued
    (:func:`_warn_scale`); None once it has yielded ``Stopped`` (a stop request during
    the estimate)."""
    from ..grainsize import native_scale_job

    scale = yield from native_scale_job(image, stop=stop)
    if scale is not None:
        _warn_scale(scale.to_dict())
    return scale


def _kept_scale_job(folder: Path, marker: dict, image, stop, scale_check: bool):
    """Tell the scale check of a complete output ``folder`` (or its complete staging),
    whose ``marker`` is read: the one it keeps (``native_scale``), else (a folder made
    before the check existed, or without it) with ``scale_check`` that of ``image``,
    then added to its marker (:func:`napari_srmat.outputs.add_to_marker`: atomically,
    nothing else rewritten). False once it has yielded ``Stopped`` (the folder is left
    as it was)."""
    if NATIVE_SCALE_KEY in marker or not scale_check:
        _warn_scale(marker.get(NATIVE_SCALE_KEY))
        return True
    from ..outputs import add_to_marker

    scale = yield from _native_scale_job(image, stop)
    if scale is None:
        return False
    add_to_marker(folder, {NATIVE_SCALE_KEY: scale.to_dict()})
    return True


def _warn_scale(scale: dict | None) -> None:
    """Issue the warning of a :class:`~napari_srmat.grainsize.NativeScale` (as a dict,
    also the one kept in an output folder's marker) as a one-line ``UserWarning``:
    ``srmat edges predict`` prints it and lists it in ``--json``'s ``warnings``."""
    text = scale.get("warning") if isinstance(scale, dict) else None
    if isinstance(text, str) and text:
        warnings.warn(text, UserWarning, stacklevel=3)


def _tile_function(model, image, scheduler, worker_device, gain, named=None):
    """What the tiling engine applies to the batches of ``image``, made once per job:
    ``model.predict_stacked`` with the inference copy taken now
    (:meth:`BoundaryModel._job_tile_function`), or its stand-in on dask workers. A model
    trained on normalised inputs normalises every tile with the whole image's statistics
    (one strided read), so tiles and seams do not depend on the tiling; so does the
    exposure ``gain`` of a dim image (the whole image's,
    :meth:`BoundaryModel.exposure_gain`). ``named``: the job's
    :meth:`BoundaryModel._name_weights` when its output is named by the digest: the local
    copy, or the workers' weights, are those of that digest."""
    stats = model.input_stats(image)
    if scheduler is not None:
        from .remote import RemoteBoundaryModel

        return RemoteBoundaryModel(model, device=worker_device, input_stats=stats, gain=gain,
                                   digest=None if named is None else named[0])
    return model._job_tile_function(input_stats=stats, gain=gain, named=named)


def _predict_to_folder(image, model, out: Path, *, tile, overlap, batch_size, overwrite,
                       resume, pixel_size_um, previews, stop, make_fn, error_map=False,
                       scheduler=None, gain=1.0, scale_check=True):
    """The ``out`` branch of :func:`predict_boundaries_job` (write protocol); ``make_fn(named=)``
    gives the tile function, called only once tiles are to be computed (a complete folder
    costs no read of the input: the scale check kept in its marker is told again; one
    made before the check existed is checked then, :func:`_kept_scale_job`)."""
    from .._atomic import (
        discard_ours,
        finish_interrupted_swap,
        remove_stale_swaps,
        remove_temp_files,
        swap_into_place,
    )
    from ..io import read_image, write_ome_zarr
    from ..outputs import (
        OutputError,
        OutputLock,
        check_not_input,
        check_not_replacing_link,
        check_output_location,
        check_partial_not_link,
        check_replaceable,
        check_staging_holds_only_ours,
        discarded_when_refused,
        identity_differences,
        made_differently_error,
        only_creation_debris,
        read_marker,
        started_differently_error,
        started_with,
        write_marker,
    )
    from ..tiling import input_identity, tiled_apply_job

    kind = "boundaries"
    paths = (out / BOUNDARY_OUTPUTS[0], out / BOUNDARY_OUTPUTS[1])
    if error_map:
        paths = (*paths, out / ERROR_OUTPUT)
    from ..io import Micrograph

    in_path = image.path if isinstance(image, Micrograph) else None
    if pixel_size_um is None and isinstance(image, Micrograph):
        pixel_size_um = image.store_pixel_size  # (Y, X) when not square: per-axis maps
    check_not_input(out, [in_path])
    check_output_location(out, folder=True)
    named = model._name_weights()  # the tiles are predicted with these weights or refused
    identity = {"input": input_identity(image), "weights_sha256": named[0],
                "encoder": model.config.get("encoder"), "tta": model.tta, "tile": int(tile),
                "overlap": int(overlap), "pixel_size_um": pixel_size_um}
    if model.input_norm != "none":  # absent otherwise: folders made before keep their identity
        identity["input_norm"] = model.input_norm
    if gain != 1.0:  # a dim image (absent otherwise: folders made before keep their identity)
        identity["exposure_gain"] = float(gain)
    if error_map:  # absent otherwise: folders made before keep their identity
        identity["error_model"] = {"params": model.error_model,
                                   "threshold": float(model.threshold),
                                   "threshold_rule": model.threshold_rule,
                                   "threshold_params": model.threshold_params}
    staging = out.with_name(out.name + ".partial")
    # a resumed staging's paths that differ from this run's (a moved input): kept in its
    # marker beside this run's (outputs.started_with)
    extra: dict = {}  # and the scale check, once made
    with OutputLock(out):
        # a kill between the swap's renames: the new folder goes into place before the
        # earlier one (aside as .old) is removed, whatever this run asks for
        finish_interrupted_swap(staging, out, kind, _remove_stacked)
        remove_stale_swaps(out)
        if out.exists():
            check_replaceable(out, kinds=[kind], allowed_entries=(*BOUNDARY_OUTPUTS,
                                                                  ERROR_OUTPUT))
            marker = read_marker(out)
            diffs = identity_differences(marker.get("identity") if marker else None, identity)
            if not overwrite:
                if not diffs and marker.get("complete"):
                    _check_maps_not_damaged(paths)  # not "complete" then: --overwrite
                    yield AlreadyComplete(f"{out} {ALREADY_COMPLETE}", path=str(out))
                    told = yield from _kept_scale_job(out, marker, image, stop, scale_check)
                    return paths if told else None
                raise made_differently_error(out, diffs)
        check_not_replacing_link(out)  # (re)written from here on: never a link
        check_partial_not_link(staging)
        if staging.exists():
            marker = read_marker(staging)
            if marker is None:
                if not only_creation_debris(staging):
                    raise OutputError(f"{staging} exists and was not written by napari-srmat; "
                                      "it will not be touched: move it away or choose another "
                                      "output")
                shutil.rmtree(staging)  # a run killed right after creating it
            else:
                diffs = identity_differences(marker.get("identity"), identity)
                if resume and diffs and not overwrite:  # overwrite: start it over
                    raise started_differently_error(staging, diffs,
                                                    stored=marker.get("identity"),
                                                    requested=identity)
                if not resume or diffs:
                    # (each output's own .partial / .lock / .old are allowed with it)
                    check_staging_holds_only_ours(staging, (*BOUNDARY_OUTPUTS, ERROR_OUTPUT,
                                                            _STACKED))
                    discard_ours(staging)  # its marker last: a kill leaves it ours
                else:
                    remove_temp_files(staging)  # of writes a kill interrupted
                    moved = started_with(marker, identity)
                    extra = {"started_with": moved} if moved else {}
                if resume and not diffs and marker.get("complete"):  # killed after
                    # finishing: finish the swap
                    if not (yield from _kept_scale_job(staging, marker, image, stop,
                                                       scale_check)):
                        return None  # stopped: still complete, a rerun finishes the swap
                    _remove_stacked(staging)
                    swap_into_place(staging, out)
                    _check_maps_not_damaged(paths)  # in place: --overwrite writes it again
                    return paths
        if scale_check:  # before anything is created: a stop here leaves the folder as it was
            scale = yield from _native_scale_job(image, stop)
            if scale is None:
                return None
            extra[NATIVE_SCALE_KEY] = scale.to_dict()
        fn = make_fn(named=named)  # before anything is created: refused when they changed
        created = not staging.exists()  # else resumed: an earlier run's work
        staging.mkdir(parents=True, exist_ok=True)
        with discarded_when_refused(staging, created=created):
            write_marker(staging, kind, identity=identity, complete=False, extra=extra)
            attrs = {"napari_srmat": {"channels": ["prob", "uncertainty"],
                                      "model": model.config.get("encoder"),
                                      "threshold": model.threshold}}
            res = yield from tiled_apply_job(
                image, fn, scale=1, out_channels=2,
                tile=tile, overlap=overlap, batch_size=batch_size, out=staging / _STACKED,
                out_dtype=np.float32, stop=stop, resume=True, pixel_size_um=pixel_size_um,
                attrs=attrs, kind="boundaries_stacked", scheduler=scheduler,
            )
            if res is None:  # stopped: the tiling engine already yielded Stopped
                yield Log("prediction stopped; rerun with the same out to resume")
                return None
            with warnings.catch_warnings():  # our own two-channel store (prob,
                warnings.simplefilter("ignore", UserWarning)  # uncertainty), not an image:
                stacked = read_image(res)  # no "2 channels that are not grey" warning
            data = stacked.data
            # the input's place, which the stacked store carries (tiling._output_place)
            place = {k: stacked.metadata[k] for k in ("origin_um", "unitless_grid")
                     if k in stacked.metadata}
            p_arr, u_arr = data[..., 0], data[..., 1]
            yield Log("writing prob.ome.zarr and uncertainty.ome.zarr")
            for arr, name in ((p_arr, BOUNDARY_OUTPUTS[0]), (u_arr, BOUNDARY_OUTPUTS[1])):
                write_ome_zarr(arr, staging / name, pixel_size_um=pixel_size_um, axes="YX",
                               overwrite=True, **place)
            if error_map:
                yield Log(f"writing {ERROR_OUTPUT}")
                t = model.map_threshold(p_arr)  # one per image
                e_arr = p_arr.map_blocks(
                    lambda b: model.error_probability(np.asarray(b),
                                                      predicted=np.asarray(b) >= t),
                    dtype=np.float32, meta=np.empty((0, 0), np.float32))
                write_ome_zarr(e_arr, staging / ERROR_OUTPUT, pixel_size_um=pixel_size_um,
                               axes="YX", overwrite=True, **place)
            h, w = p_arr.shape
            if previews and h * w <= PREVIEW_MAX_PIXELS:
                _save_preview(staging / BOUNDARY_OUTPUTS[2], np.asarray(p_arr), "gray")
                _save_preview(staging / BOUNDARY_OUTPUTS[3], np.asarray(u_arr), "magma")
            # complete before the intermediate store goes: a kill while deleting it leaves a
            # complete staging (a rerun finishes the swap), never a half-deleted store that a
            # rerun would take for finished tiles
            write_marker(staging, kind, identity=identity, complete=True, extra=extra)
            _remove_stacked(staging)
            swap_into_place(staging, out)
    return paths


#: Largest probability map (pixels) a per-image threshold is computed on whole; larger
#: maps use an evenly strided sample of about this many pixels.
THRESHOLD_SAMPLE_PIXELS = 16_000_000


def _check_maps_not_damaged(paths) -> None:
    """Refuse a complete output folder (found complete, or its finished staging just moved
    into place) whose maps ``paths`` cannot be read as complete (a lost chunk, damaged
    metadata), in one line naming ``--overwrite`` / ``overwrite=True``: the rule of a
    complete ``srmat sr run`` output (:func:`napari_srmat.io._write._check_not_damaged`).
    Until 2026-12-07 it was told complete and failed where a map was read."""
    from ..io._write import _check_not_damaged

    for path in paths:
        _check_not_damaged(path)


def _remove_stacked(staging: Path) -> None:
    """Delete the intermediate stacked store (and its partial, lock) from a complete staging."""
    for name in (_STACKED, f"{_STACKED}.partial", f"{_STACKED}.lock"):
        path = staging / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _save_preview(path: Path, arr: np.ndarray, cmap: str) -> None:
    """PNG preview of a map: probability in grey, uncertainty in a colour map."""
    import matplotlib
    from PIL import Image

    from .._atomic import atomic_path

    a = np.asarray(arr, np.float32)
    hi = float(np.nanmax(a)) if a.size else 1.0
    norm = a / hi if cmap != "gray" and hi > 0 else np.clip(a, 0, 1)
    # bytes=True: the colour table in uint8, looked up per pixel (the same bytes as
    # (cmap(norm) * 255).astype(uint8) without two float64 RGBA copies of the map)
    rgba = matplotlib.colormaps[cmap](norm, bytes=True)
    with atomic_path(path) as tmp:
        Image.fromarray(rgba[..., :3]).save(tmp, format="PNG")


@plain_version(predict_boundaries_job)
def predict_boundaries(image, model: BoundaryModel | None = None, **kwargs):
    """Plain version of :func:`predict_boundaries_job` (same arguments and result).

    Examples
    --------
    >>> import napari_srmat as srmat
    >>> ms = srmat.generate_microstructure((128, 128), mean_grain_size_px=32, seed=0)
    >>> prob, uncertainty = srmat.predict_boundaries(ms.image)   # the shipped model
    >>> prob.shape, prob.dtype, uncertainty.shape
    ((128, 128), dtype('float32'), (128, 128))
    >>> bool(0 <= prob.min() and prob.max() <= 1)
    True
    """
    return run_job(predict_boundaries_job(image, model, **kwargs), quiet=True)
