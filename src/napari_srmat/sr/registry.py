"""Model registry: names, shipped default weights, loading and saving checkpoints."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from .. import errors
from ..checkpoint import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    CheckpointError,
    load_checked_weights,
    read_checkpoint_config,
    save_checkpoint,
)
from ..jobs import unknown_names_hint
from .base import (
    SAMPLING_STEPS,
    ChannelError,
    ScaleError,
    SRError,
    SRModel,
    TorchSRModel,
    UnknownModelError,
    check_number,
)

__all__ = [
    "available_models",
    "check_model_name",
    "model_scales",
    "load_model",
    "save_model_checkpoint",
    "shipped_weights_dir",
    "DEFAULT_MODEL",
    "TRAINABLE_MODELS",
    "BICUBIC_WHEN_UNTRAINED",
    "weights_set_since_made",
]

#: Registry name of the shipped default model (the better of the shipped ones on
#: the validation split, see ``docs/super_resolution.md``).
DEFAULT_MODEL = "cnn"

TRAINABLE_MODELS = ("cnn", "onestep", "ddpm", "cgan", "refsr")

#: The trainable models whose untrained network's output equals bicubic interpolation
#: (a residual over bicubic from a zero-initialised last layer); an untrained ``ddpm``
#: does not (its sampler adds what its random denoiser predicts). The one rule of
#: :func:`load_model`'s warning and of ``plan_rescan``'s note
#: (:func:`napari_srmat.sr.rescan.plan_notes`).
BICUBIC_WHEN_UNTRAINED = frozenset({"cnn", "onestep", "cgan", "refsr"})

#: The attribute of a model :func:`load_model` made untrained that records the digest of
#: its network's weights as made, so that weights set since (``model.load_state_dict(...)``
#: in a notebook, a training run on it) are told from untrained ones
#: (:func:`weights_set_since_made`). The digest of the network's weights alone
#: (:meth:`~napari_srmat.sr.base.TorchSRModel.network_digest`, computed now), not
#: :meth:`~napari_srmat.sr.base.SRModel.weights_digest`, which adds what else decides the
#: output (a ``refsr`` reference, set after the model is made): until 2026-12-06 an
#: untrained ``refsr`` given a reference was told trained.
UNTRAINED_DIGEST_ATTR = "srmat_untrained_digest"

WEIGHTS_ROOT = Path(__file__).resolve().parent.parent / "weights"


def _classes() -> dict[str, type]:
    from .cgan import CGANSR
    from .classic import BicubicSR, LanczosSR
    from .cnn import CNNSR
    from .diffusers_local import DiffusersLocalSR
    from .diffusion import DDPMSR, OneStepSR
    from .refsr import RefSR

    return {
        "bicubic": BicubicSR,
        "lanczos": LanczosSR,
        "cnn": CNNSR,
        "onestep": OneStepSR,
        "ddpm": DDPMSR,
        "diffusers-local": DiffusersLocalSR,
        "cgan": CGANSR,
        "refsr": RefSR,
    }


def available_models() -> list[str]:
    """Names accepted by :func:`load_model`.

    Returns
    -------
    list of str
        ``["bicubic", "lanczos", "cnn", "onestep", "ddpm", "diffusers-local", "cgan",
        "refsr"]``.
    """
    return list(_classes())


def model_scales(name: str) -> tuple[int, ...]:
    """The SR factors a model of ``name`` (:func:`available_models`) runs at.

    Examples
    --------
    >>> model_scales("cnn"), model_scales("bicubic")
    ((2, 4), (2, 3, 4, 8))
    """
    check_model_name(name)
    return tuple(_classes()[name].supported_scales)


def check_model_name(name: str) -> None:
    """Refuse a name :func:`load_model` does not know, without loading anything.

    Parameters
    ----------
    name : str
        An SR registry name (see :func:`available_models`).

    Raises
    ------
    UnknownModelError
        ``name`` is not one of :func:`available_models` (the message lists them).
    """
    names = available_models()
    if name not in names:
        raise UnknownModelError(f"unknown SR model {name!r}; available: {', '.join(names)}")


def shipped_weights_dir(name: str, scale: int) -> Path | None:
    """Directory of the weights shipped for ``name`` at ``scale`` (None if there are none)."""
    d = WEIGHTS_ROOT / f"sr_{name}_x{int(scale)}"
    return d if (d / WEIGHTS_NAME).is_file() and (d / CONFIG_NAME).is_file() else None


#: Options every model's constructor takes from :func:`load_model` itself, not from
#: ``**options``.
_LOADER_ARGS = frozenset({"self", "scale", "device"})
#: An option as the messages name it, where its flag differs from its name
#: (:func:`napari_srmat.errors.worded_error`).
_OPTION_WORDS = {"color_fix": errors.Option("color_fix", "--no-color-fix")}


def _model_options(name: str) -> frozenset[str]:
    """The options (architecture and inference) model ``name`` takes: the keyword
    arguments of its constructor, as ``**options`` of :func:`load_model` or in a
    checkpoint's ``config.json`` (``arch``, ``options``, ``in_channels``)."""
    import inspect

    params = inspect.signature(_classes()[name].__init__).parameters.values()
    return frozenset(p.name for p in params
                     if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)) - _LOADER_ARGS


def _check_options(name: str, options: dict[str, Any], *, where: str = "") -> None:
    """Refuse options that the model would silently ignore: sampling steps of a CNN, a
    misspelt option (``num_inference_step``, told with the option meant:
    :func:`napari_srmat.jobs.unknown_names_hint`, worded as the Train widget's Extra),
    an option of another model."""
    classes = _classes()
    if "num_inference_steps" in options and not classes[name].has_sampling_steps:
        diffusion = ", ".join(n for n, c in classes.items() if c.has_sampling_steps)
        raise errors.worded_error(
            SRError, "{where}{steps} applies to diffusion models ({diffusion}) only; {name} "
            "has no sampling steps", where=where, diffusion=diffusion, name=name,
            steps="num_inference_steps" if where else SAMPLING_STEPS)
    unknown = sorted(set(options) - _model_options(name))
    if not unknown:
        return
    key = unknown[0]
    others = [n for n in classes if n != name and key in _model_options(n)]
    if others:
        raise errors.worded_error(
            SRError, "{where}{option} applies to {others} only; {name} does not take it",
            where=where, others=", ".join(others), name=name,
            option=key if where else _OPTION_WORDS.get(key, key))
    options = "option" if len(unknown) == 1 else "options"
    raise SRError(f"{where}{name} has no {options} {', '.join(map(repr, unknown))}; "
                  f"{unknown_names_hint(unknown, _model_options(name))}")


def _resolve_device(device: str | None) -> str:
    from ..device import resolve_device

    return resolve_device(device)


#: Input channels of a checkpoint whose config.json does not say (the RGB default).
DEFAULT_CHECKPOINT_IN_CHANNELS = 3


def _channels_word(n: Any) -> str:
    return {1: "grey", 3: "RGB"}.get(n, f"{n}-channel")


def _checkpoint_in_channels(path, ckpt, config: dict, requested: Any) -> Any:
    """The input channels of a checkpoint's network, one rule for the three places that
    name them: its config.json's ``in_channels`` (default
    :data:`DEFAULT_CHECKPOINT_IN_CHANNELS`), the same field in its ``arch`` / ``options``
    (accepted where they agree) and ``in_channels=`` given to :func:`load_model`
    (``requested``: the weights fix it; the same value is accepted).

    All were passed to the model's constructor, which refused them as "got multiple
    values for keyword argument 'in_channels'", even when they agreed.
    """
    named = {f"{CONFIG_NAME} {where}": part["in_channels"]
             for where, part in (("", config), ("'arch'", config.get("arch")),
                                 ("'options'", config.get("options")))
             if isinstance(part, dict) and "in_channels" in part}
    if any(v != w for v in named.values() for w in named.values()):
        raise CheckpointError(
            f"checkpoint {ckpt}: in_channels differs within it ("
            + ", ".join(f"{where.strip()}: {v!r}" for where, v in named.items())
            + "): keep the one its weights were trained with")
    stored = next(iter(named.values()), DEFAULT_CHECKPOINT_IN_CHANNELS)
    if requested is not None and requested != stored:
        raise ChannelError(
            f"checkpoint {path} holds a model of {_channels_word(stored)} input "
            f"(in_channels {stored!r}); in_channels={requested!r} was requested: the "
            "checkpoint's weights fix it (leave in_channels out; another channel count "
            "needs its own weights, or pretrained=False for an untrained network)")
    return stored


#: The input channel counts tried for config.json's ``in_channels`` when its weights do
#: not match it (:func:`_name_a_wrong_field`; the scales tried are the model's own).
_CHANNEL_COUNTS = (1, 3)


def _name_a_wrong_field(ckpt, cls: type, said: dict[str, Any], fields: dict[str, Any]) -> None:
    """Raise a :class:`CheckpointError` naming the config.json field (``scale`` or
    ``in_channels``) whose value is not the one of the weights, where changing that one
    field alone makes the weights match; return if none does.

    A config saying ``"scale": 4`` for x2 weights was refused by tensor shapes only
    ("tail.weight: checkpoint (12, 8, 3, 3) vs config (48, 8, 3, 3)").
    """
    for field, values in (("scale", cls.supported_scales), ("in_channels", _CHANNEL_COUNTS)):
        for value in values:
            if value == said[field]:
                continue
            args = dict(said, **{field: value})
            try:
                load_checked_weights(ckpt, lambda a=args: cls(device="meta", **a,
                                                              **fields).net)
            except (CheckpointError, SRError):
                continue
            raise CheckpointError(
                f"checkpoint {ckpt}: {CONFIG_NAME} says {field} {said[field]}, but its "
                f"weights are those of {field} {value}: correct {field!r} in {CONFIG_NAME}")


def _from_checkpoint(path, name, scale, device, options) -> TorchSRModel:
    ckpt, config = read_checkpoint_config(path)
    ck_name = config.get("model")
    if not isinstance(ck_name, str) or ck_name not in TRAINABLE_MODELS:
        raise CheckpointError(
            f"checkpoint {path} holds model {ck_name!r}, not an SR model ({TRAINABLE_MODELS})"
        )
    if name is not None and name != ck_name:
        raise CheckpointError(f"checkpoint {path} holds a {ck_name!r} model, not {name!r}")
    _check_options(ck_name, options)
    if "scale" not in config:  # x4 was assumed: a x2 ddpm/cgan (same weights) ran at x4
        raise CheckpointError(f"checkpoint {ckpt}: {CONFIG_NAME} has no 'scale' (the "
                              "magnification its weights were trained for): add it, e.g. "
                              '"scale": 2')
    try:
        ck_scale = check_number("scale", config["scale"], lo=1, integer=True)
    except SRError as exc:
        raise CheckpointError(f"checkpoint {ckpt}: {exc}") from None
    if scale is not None and int(scale) != ck_scale:
        raise ScaleError(f"checkpoint {path} is a x{ck_scale} model; x{scale} was requested")
    kwargs: dict[str, Any] = {}
    for section in ("options", "arch"):
        part = config.get(section, {})
        if not isinstance(part, dict):
            raise CheckpointError(f"checkpoint {ckpt}: config.json {section!r} must be a JSON "
                                  f"object, got {part!r}")
        try:  # a misspelt field ("res_scal") left the default in place without a word
            _check_options(ck_name, part, where=f"config.json {section!r}: ")
        except SRError as exc:
            raise CheckpointError(f"checkpoint {ckpt}: {exc}") from None
        kwargs.update(part)
    in_channels = _checkpoint_in_channels(path, ckpt, config, options.get("in_channels"))
    kwargs.pop("in_channels", None)
    own = dict(kwargs)  # the checkpoint's own fields, without the caller's options
    kwargs.update({k: v for k, v in options.items() if k != "in_channels"})
    cls = _classes()[ck_name]

    def build(dev: str, fields: dict[str, Any]) -> TorchSRModel:
        return cls(scale=ck_scale, device=dev, in_channels=in_channels, **fields)

    describe = (f"model={ck_name!r}, in_channels={in_channels!r}, "
                f"arch={config.get('arch', {})}")
    # the architecture is checked against the weights file before anything is allocated
    try:
        state = load_checked_weights(ckpt, lambda: build("meta", kwargs).net,
                                     describe=describe)
    except CheckpointError as exc:
        if exc.__cause__ is None or isinstance(exc.__cause__, ScaleError):
            # tensors that do not match, or a scale the model lacks: which field is wrong?
            _name_a_wrong_field(ckpt, cls, {"scale": ck_scale, "in_channels": in_channels},
                                own)
        if not isinstance(exc.__cause__, SRError) or own == kwargs:
            raise
        # the caller's option (num_inference_steps=0, seed=1.5) was blamed on a sound
        # checkpoint: its own error, if the checkpoint's own fields pass the same check
        load_checked_weights(ckpt, lambda: build("meta", own).net, describe=describe)
        raise exc.__cause__ from None
    model = build("cpu", kwargs)
    model.load_state_dict(state)
    model.to(device)
    model.net.eval()
    model.checkpoint = str(Path(path))
    return model


def load_model(name: str | None = None, *, checkpoint: str | os.PathLike | None = None,
               scale: int | None = None, device: str = "auto", pretrained: bool = True,
               **options: Any) -> SRModel:
    """Create a super-resolution model.

    Parameters
    ----------
    name : str, optional
        Registry name (see :func:`available_models`). None = the shipped default
        model (:data:`DEFAULT_MODEL`), or the model stored in ``checkpoint``.
    checkpoint : path-like, optional
        A checkpoint directory written by :func:`save_model_checkpoint` /
        training. For ``"diffusers-local"``, the local pipeline directory.
    scale : int, optional
        Magnification; default 4, or the checkpoint's.
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``, ...
    pretrained : bool
        For trainable models without ``checkpoint``: load the shipped weights if
        there are some for this scale (otherwise the network is untrained and a
        warning is issued). ``False`` gives an untrained network.
    **options
        Architecture or inference options of the model (e.g. ``n_feats``,
        ``num_inference_steps``, ``color_fix``, ``seed``).

    Returns
    -------
    SRModel

    Raises
    ------
    TypeError
        ``name`` is not a str (the same message for the ``model`` argument of
        :func:`~napari_srmat.sr.super_resolve` and ``plan_rescan``, which load through
        this function anything that is not an :class:`SRModel`).
    UnknownModelError, ScaleError, ChannelError
        Bad name, scale or channels (all ``ValueError``); a checkpoint's (or the
        shipped weights') scale and ``in_channels`` are its own: another one given is
        refused, the same one accepted.
    SRError
        Invalid options: ``num_inference_steps`` outside [1, 1000] (or given to a model
        without sampling steps), non-finite or out-of-range architecture numbers, an
        option the model does not take (misspelt, or another model's).
    CheckpointError
        Missing, pickle or mismatching checkpoint; a config that is not a JSON object,
        has no ``scale``, names two different ``in_channels`` (top level,
        ``arch``, ``options``), has ``arch``/``options`` fields the model does not take, or
        describes another architecture than its weights (checked before allocating,
        see :func:`napari_srmat.checkpoint.load_checked_weights`).
    """
    device = _resolve_device(device)
    if scale is not None:  # 4.0 is 4: it missed the shipped x4 weights (an untrained net)
        scale = errors.check_number("scale", scale, lo=1, integer=True, error=ScaleError)
    classes = _classes()
    if name is not None and not isinstance(name, str):
        raise TypeError(f"model must be an SR model name ({', '.join(classes)}), a loaded "
                        "SRModel (napari_srmat.sr.load_model(name)) or None (the shipped "
                        f"default), got {type(name).__name__}")
    if name is not None:
        check_model_name(name)
        _check_options(name, options)
    if name == "diffusers-local":
        path = checkpoint if checkpoint is not None else options.pop("path", None)
        return classes[name](path, scale=scale, device=device, **options)  # None: its own
    if checkpoint is not None:
        return _from_checkpoint(checkpoint, name, scale, device, options)
    if name is None:
        name = DEFAULT_MODEL
        _check_options(name, options)
    scale = 4 if scale is None else scale
    cls = classes[name]
    if name in TRAINABLE_MODELS and pretrained:
        shipped = shipped_weights_dir(name, scale) if isinstance(scale, int) else None
        if shipped is not None:
            return _from_checkpoint(shipped, name, scale, device, options)
        model = _made_untrained(_untrained(cls, scale=scale, device=device, **options))
        warnings.warn(
            f"no shipped weights for {name!r} x{scale}: the network is untrained"
            + (" (its output equals bicubic)" if name in BICUBIC_WHEN_UNTRAINED else "")
            # every caller (Python, srmat, widget) knows what its checkpoint is: no keyword,
            # flag or field, which would be another caller's
            + "; train one with `srmat sr train` and give its best/ folder as the model's "
            "checkpoint",
            UserWarning,
            stacklevel=2,
        )
        return model
    model = cls(scale=scale, device=device, **options)
    return _made_untrained(model) if name in TRAINABLE_MODELS else model


def _made_untrained(model: SRModel) -> SRModel:
    """``model``, a trainable network made here without weights, with the digest of its
    weights as made (:data:`UNTRAINED_DIGEST_ATTR`)."""
    setattr(model, UNTRAINED_DIGEST_ATTR, model.network_digest())
    return model


def weights_set_since_made(model: SRModel, network_digest: str | None = None) -> bool:
    """Whether ``model``, made untrained by :func:`load_model` (no checkpoint, no shipped
    weights for its scale, or ``pretrained=False``), has had its weights set or trained
    since (``model.load_state_dict(...)``, a training run on it in memory): its weights'
    digest is no longer the one it was made with. False for any other model: one loaded
    from weights (its ``checkpoint`` says so), an interpolation, or a network made
    directly from its class, whose weights as made are not known (the limit of the rule).

    Parameters
    ----------
    model : SRModel
        A model.
    network_digest : str, optional
        ``model.network_digest()`` as the caller already computed it (a run computes it
        once); None: computed here when needed.

    Returns
    -------
    bool
        True when the network's weights differ from those it was made with
        untrained (a ``refsr`` reference set since is not its weights).

    Examples
    --------
    >>> model = load_model("cnn", scale=2, pretrained=False)
    >>> weights_set_since_made(model)
    False
    >>> state = {k: v + 1 for k, v in model.state_dict().items()}
    >>> model.load_state_dict(state)
    >>> weights_set_since_made(model)
    True
    """
    made = getattr(model, UNTRAINED_DIGEST_ATTR, None)
    if made is None:
        return False
    return (model.network_digest() if network_digest is None else network_digest) != made


#: Seed of the initial weights of a trainable model used without weights (no shipped
#: ones for its scale): two runs make the same network, so its weights' hash, part of an
#: output's identity, matches itself (random weights made every rerun "made
#: differently", and a stopped run could never be resumed). Training seeds its own.
UNTRAINED_INIT_SEED = 0


def _untrained(cls, **kwargs) -> SRModel:
    """``cls(**kwargs)`` initialised from :data:`UNTRAINED_INIT_SEED`; the global random
    state is left as it was."""
    import torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(UNTRAINED_INIT_SEED)
        return cls(**kwargs)


def save_model_checkpoint(model: TorchSRModel, path: str | os.PathLike, *,
                          training: dict | None = None, half: bool = False,
                          overwrite: bool = True) -> Path:
    """Save a trainable model as ``model.safetensors`` + ``config.json``.

    Parameters
    ----------
    model : TorchSRModel
        A ``cnn``, ``onestep``, ``ddpm``, ``cgan`` or ``refsr`` model.
    path : path-like
        Checkpoint directory (written atomically).
    training : dict, optional
        Training settings recorded under ``config["training"]``.
    half : bool
        Store weights as float16 (half the size; loaded back as float32).
    overwrite : bool
        Replace an existing checkpoint.
    """
    if not isinstance(model, TorchSRModel):
        raise CheckpointError(f"{model!r} has no weights to save")
    state = model.state_dict()
    if half:
        state = {k: v.half() for k, v in state.items()}
    config = model.config()
    if training:
        config["training"] = training
    return save_checkpoint(path, state, config, overwrite=overwrite)
