"""Common interface of all super-resolution models (:class:`SRModel`) and errors."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import errors

__all__ = [
    "SRError",
    "UnknownModelError",
    "ScaleError",
    "ChannelError",
    "SRModel",
    "TorchSRModel",
    "to_tensor",
    "tile_seed",
    "randn",
    "MAX_INFERENCE_STEPS",
    "SAMPLING_STEPS",
    "check_inference_steps",
    "check_number",
]


class SRError(ValueError):
    """Base class of super-resolution input errors."""


class UnknownModelError(SRError):
    """The model name is not in the registry."""


class ScaleError(SRError):
    """The requested magnification is not supported by the model."""


class ChannelError(SRError):
    """The batch has a channel count the model cannot handle."""


def to_tensor(batch: Any, device: str = "cpu"):
    """Convert a numpy/torch ``(B, C, h, w)`` batch to a float32 torch tensor on ``device``."""
    import torch

    if isinstance(batch, torch.Tensor):
        return batch.to(device=device, dtype=torch.float32)
    arr = np.asarray(batch)
    if arr.dtype != np.float32:
        arr = arr.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(arr)).to(device)


def _canonical_id(tile_id: Any) -> tuple[int, ...]:
    """A tile id as a tuple of Python ints (``3`` -> ``(3,)``, numpy ints -> ints)."""
    if isinstance(tile_id, Sequence) and not isinstance(tile_id, (str, bytes)):
        return tuple(int(v) for v in tile_id)
    return (int(tile_id),)


def tile_seed(seed: int, tile_id: Any) -> int:
    """Seed of the sampling noise of one tile: a stable hash of ``(seed, tile_id)``.

    The one place where stochastic models derive per-tile seeds, so that a tile gets
    the same noise whichever batch it is computed in (batch size, position in the
    batch, OOM back-off, a resumed run) and different tiles get independent noise.

    Parameters
    ----------
    seed : int
        Run seed (the model's ``seed`` option).
    tile_id : int or sequence of int
        The tile's identity: its grid index ``(j, i)`` from the tiling engine, a nested
        ``(j, i, sub_j, sub_i)`` for OOM sub-tiles, or the sample's index in the batch
        for plain calls.

    Returns
    -------
    int
        A seed in ``[0, 2**63)`` (stable across processes and platforms).
    """
    key = repr((int(seed), _canonical_id(tile_id))).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "little") >> 1


def randn(shape: Sequence[int], generator=None, device="cpu"):
    """Standard normal float32 tensor drawn on the CPU, then moved to ``device``.

    ``generator`` is one ``torch.Generator`` (or None) for the whole tensor, or a list
    with one generator per sample (``len == shape[0]``): sample ``k`` is then drawn
    from ``generator[k]`` alone, independent of the other samples.
    """
    import torch

    shape = tuple(int(v) for v in shape)
    if isinstance(generator, (list, tuple)):
        if len(generator) != shape[0]:
            raise ValueError(f"{len(generator)} generators for a batch of {shape[0]}")
        out = torch.empty(shape)
        for k, g in enumerate(generator):  # in place: as fast as one draw (no cat copy)
            out[k].normal_(generator=g)
    else:
        out = torch.randn(shape, generator=generator)
    return out.to(device)
#: Most sampling steps a diffusion model accepts (``num_inference_steps``, ``srmat sr
#: --steps``): the DDPM training schedule has 1000 steps; more is a typo.
MAX_INFERENCE_STEPS = 1000
#: The sampling steps as a message names them: ``num_inference_steps`` in Python,
#: ``--sampling-steps`` in ``srmat sr`` (:func:`napari_srmat.errors.worded_error`; no
#: widget has the control).
SAMPLING_STEPS = errors.Option("num_inference_steps", "--sampling-steps")


def check_number(field: str | errors.Option, value: Any, *, lo: float | None = None,
                 hi: float | None = None, integer: bool = False, lo_open: bool = False) -> Any:
    """:func:`napari_srmat.errors.check_number` raising :class:`SRError` (options and
    config fields of the SR models)."""
    return errors.check_number(field, value, lo=lo, hi=hi, integer=integer, lo_open=lo_open,
                               error=SRError)


def check_inference_steps(steps: Any, *, max_steps: int = MAX_INFERENCE_STEPS) -> int:
    """Check ``num_inference_steps`` (``srmat sr --sampling-steps``): an int in [1, max_steps]."""
    return check_number(SAMPLING_STEPS, steps, lo=1, hi=max_steps, integer=True)


#: Pixel losses the trainable models accept (``SRTrainConfig.loss``, ``--loss``).
PIXEL_LOSSES = ("l1", "mse")


def pixel_loss_fn(name: str):
    """The torch loss function for a pixel-loss name (one of :data:`PIXEL_LOSSES`)."""
    import torch.nn.functional as F

    if name not in PIXEL_LOSSES:
        raise SRError(f"pixel loss must be one of {PIXEL_LOSSES}, got {name!r}")
    return {"l1": F.l1_loss, "mse": F.mse_loss}[name]


class SRModel:
    """A super-resolution model with a uniform batch interface.

    Attributes
    ----------
    name : str
        Registry name (``"bicubic"``, ``"cnn"``, ...).
    scale : int
        Magnification factor (output size = input size * scale).
    in_channels : int
        Channels of the network input (1 or 3). RGB networks accept grey batches
        (repeated to RGB and averaged back).
    receptive_field : int
        Radius of the input neighbourhood (in LR pixels) that influences an output
        pixel; tiled inference needs ``overlap >= receptive_field``.
    device : str
        Torch device the model runs on.
    checkpoint : str or None
        Checkpoint directory the weights came from (None for analytic or untrained
        models).
    """

    name: str = "base"
    #: Scales the model supports.
    supported_scales: tuple[int, ...] = (2, 4)
    #: True if the model works per channel (any channel count in a batch; an image's
    #: alpha is still dropped by :func:`~napari_srmat.sr.super_resolve_job`).
    channel_agnostic: bool = False
    #: True for generative models (colour fix is applied to them by default).
    generative: bool = False
    #: True for models that draw sampling noise: their ``_forward(x, generators)`` gets
    #: one ``torch.Generator`` per sample, seeded by :func:`tile_seed`.
    stochastic: bool = False
    #: True for models with a number of sampling steps (``num_inference_steps``).
    has_sampling_steps: bool = False
    #: True for models whose output scales with their input (the interpolations):
    #: :func:`~napari_srmat.sr.super_resolve_job` gives them no exposure gain.
    exposure_invariant: bool = False

    def __init__(self, scale: int = 4, device: str = "cpu", in_channels: int = 3) -> None:
        scale = _check_scale(scale, self.supported_scales, self.name)
        self.scale = scale
        self.device = device
        self.in_channels = check_number("in_channels", in_channels, lo=1, integer=True)
        self.receptive_field = 2
        self.checkpoint: str | None = None
        self.options: dict[str, Any] = {}

    def weights_digest(self, network: str | None = None) -> str | None:
        """Content hash of the model's weights (None for weight-free models).

        Part of the identity of SR outputs: a partial output is resumed only with the
        same weights. The base version hashes the checkpoint directory, if any.

        Parameters
        ----------
        network : str, optional
            The network's digest as the caller already computed it
            (:meth:`TorchSRModel.network_digest`, once per run); unused here.
        """
        if self.checkpoint is None or not os.path.exists(self.checkpoint):
            return None
        from ..outputs import path_fingerprint

        return path_fingerprint(self.checkpoint)["sha256"]

    # -- to implement -------------------------------------------------------------
    def _forward(self, x):  # pragma: no cover - abstract
        """Map a tensor ``(B, in_channels, h, w)`` in [0, 1] to ``(B, in_channels, h*s, w*s)``.

        Stochastic models (``stochastic = True``) implement ``_forward(x, generators)``
        and draw sample ``k``'s noise from ``generators[k]`` only (see :func:`randn`).
        """
        raise NotImplementedError

    # -- public -------------------------------------------------------------------
    def predict(self, batch, *, tile_ids: Sequence[Any] | None = None, gain: float = 1.0):
        """Super-resolve a batch.

        Parameters
        ----------
        batch : numpy.ndarray or torch.Tensor
            float32 ``(B, C, h, w)`` with values in [0, 1]. ``C`` must be
            ``in_channels``, or 1 for an RGB model (grey is repeated to RGB and the
            result averaged back to one channel).
        tile_ids : sequence, optional
            One identity per sample (the tiling engine passes each tile's grid index
            ``(j, i)``). Stochastic models seed each sample's noise from
            ``(seed, tile_id)`` (:func:`tile_seed`), so a tile's output does not depend
            on the other tiles of its batch. Default: the sample's index in the batch,
            so ``predict(batch)`` equals ``predict(batch[k:k+1], tile_ids=[k])`` for
            each ``k``. Deterministic models ignore it.
        gain : float
            Exposure gain of a dim image (the whole image's,
            :func:`napari_srmat.edges.infer.image_exposure_gain`): the network sees
            ``batch * gain`` (not clipped) and its output, clipped to [0, 1] as always,
            is divided by ``gain`` again, so the result stays on the input's scale, in
            [0, 1 / gain]. 1 (the default) leaves the batch as it is.

        Returns
        -------
        numpy.ndarray or torch.Tensor
            ``(B, C, h*scale, w*scale)`` float32 in [0, 1] (in [0, 1 / gain] with a
            gain), of the input's type.

        Raises
        ------
        ChannelError
            If the batch is not 4-D or has an unsupported channel count.
        ValueError
            If ``tile_ids`` does not have one id per sample.
        """
        import torch

        is_torch = isinstance(batch, torch.Tensor)
        x = to_tensor(batch, self.device)
        x, n_in = self._adapt_channels(x)
        ids = self._tile_ids(tile_ids, x.shape[0])
        gain = float(gain)
        if gain != 1.0:
            x = x * gain
        with torch.no_grad(), self._autocast():
            y = self._forward(x, self._generators(ids)) if self.stochastic else self._forward(x)
        y = y.float().clamp_(0.0, 1.0)
        if gain != 1.0:  # the brightened image's [0, 1], on the input's scale
            y = y / gain
        y = self._restore_channels(y, n_in)
        return y if is_torch else y.cpu().numpy()

    __call__ = predict

    def chunk_function(self):
        """Library-speed whole-chunk path for the tiling engine, or None (the default).

        Interpolation models return a callable ``f(window, out_dtype)`` computing the
        same function as :meth:`predict` on a raw ``(h, w[, C])`` window (see
        ``napari_srmat.tiling.tiled_apply_job``'s ``chunk_fn``) with a ``backend`` name
        attribute; networks return None and are tiled and blended.
        """
        return None

    def describe(self) -> dict[str, Any]:
        """Short JSON-able description (name, scale, channels, receptive field)."""
        return {
            "model": self.name,
            "scale": self.scale,
            "in_channels": self.in_channels,
            "receptive_field": self.receptive_field,
            "checkpoint": self.checkpoint,
            "device": self.device,
        }

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, scale={self.scale}, "
            f"in_channels={self.in_channels}, receptive_field={self.receptive_field})"
        )

    # -- helpers ------------------------------------------------------------------
    def _tile_ids(self, tile_ids: Sequence[Any] | None, n: int) -> list[tuple[int, ...]]:
        if tile_ids is None:
            return [(k,) for k in range(n)]
        ids = [_canonical_id(t) for t in tile_ids]
        if len(ids) != n:
            raise ValueError(f"{self.name}: {len(ids)} tile_ids for a batch of {n} tiles")
        return ids

    def _generators(self, tile_ids: Sequence[Any]) -> list:
        """One CPU ``torch.Generator`` per tile, seeded by :func:`tile_seed`."""
        import torch

        seed = int(self.options.get("seed", 0))
        return [torch.Generator("cpu").manual_seed(tile_seed(seed, t)) for t in tile_ids]

    def _autocast(self):
        import torch

        if str(self.device).startswith("cuda"):
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def _adapt_channels(self, x):
        if x.ndim != 4:
            raise ChannelError(
                f"{self.name}: expected a batch of shape (B, C, h, w), got {tuple(x.shape)}"
            )
        c = x.shape[1]
        if self.channel_agnostic or c == self.in_channels:
            return x, c
        if c == 1 and self.in_channels == 3:
            return x.repeat(1, 3, 1, 1), 1
        raise channel_refusal(self.name, self.in_channels, c, what="a batch")

    @staticmethod
    def _restore_channels(y, n_in: int):
        if y.shape[1] != n_in and n_in == 1:
            return y.mean(dim=1, keepdim=True)
        return y


def channel_refusal(name: str, in_channels: int, got: int, *, what: str,
                    alpha: bool = False) -> ChannelError:
    """The refusal of ``got`` channels by a network of ``in_channels`` (the one wording of
    :meth:`SRModel.predict` and :func:`~napari_srmat.sr.apply.check_sr_input`).

    An RGB network also takes grey (repeated to RGB); a grey network takes grey only: it
    said "takes 1 or 1 channel(s)", not what to do with an RGB image.

    Parameters
    ----------
    name : str
        The model's registry name.
    in_channels : int
        Channels of its network.
    got : int
        Channels given.
    what : str
        What was given (``"the image"``, ``"a batch"``).
    alpha : bool
        Say that grey + alpha and RGBA drop their alpha (images, not batches).

    Returns
    -------
    ChannelError
        To raise.
    """
    if in_channels == 1:
        takes = "is a grey network: it takes 1 grey channel"
        hint = ("; convert the image to grey, or use RGB weights (a checkpoint of "
                "in_channels 3)" if got in (3, 4) else "")
    else:
        rgb = " (RGB)" if in_channels == 3 else ""
        takes, hint = f"takes {in_channels} channels{rgb} or 1 (grey)", ""
    drop = " (grey + alpha and RGBA drop their alpha)" if alpha else ""
    return ChannelError(f"{name} {takes}{drop}; {what} has {got}{hint}")


def _check_scale(scale: Any, supported: tuple[int, ...], name: str) -> int:
    try:
        s = int(scale)
    except (TypeError, ValueError):
        raise ScaleError(f"{name}: scale must be an integer, got {scale!r}") from None
    if s != scale or s not in supported:
        raise ScaleError(
            f"{name}: unsupported scale {scale!r}; supported: {', '.join(map(str, supported))}"
        )
    return s


class TorchSRModel(SRModel):
    """An :class:`SRModel` wrapping a ``torch.nn.Module`` (``self.net``).

    Subclasses set ``self.net``, ``self.arch`` (constructor keyword arguments of the
    network, saved in checkpoints) and implement :meth:`_forward`.
    """

    def __init__(self, scale: int = 4, device: str = "cpu", in_channels: int = 3) -> None:
        super().__init__(scale=scale, device=device, in_channels=in_channels)
        self.net = None
        self.arch: dict[str, Any] = {}

    def state_dict(self) -> dict:
        """Network weights."""
        return self.net.state_dict()

    def network_digest(self) -> str:
        """SHA-256 (32 hex characters) of the network's weights alone as they are now, in
        memory (:func:`napari_srmat.checkpoint.network_digest`), computed from the
        weights each time it is asked (0.4-8 ms; once or twice per run), never kept: an
        output named or resumed by it was made with these weights, whatever changed them
        in memory.
        """
        from ..checkpoint import network_digest

        return network_digest(self.net)

    def weights_digest(self, network: str | None = None) -> str:
        """Digest of what decides the output: the network's weights
        (:meth:`network_digest`; a subclass adds what else does, e.g. a ``refsr``
        reference).

        Parameters
        ----------
        network : str, optional
            :meth:`network_digest` as the caller computed it just now (a run computes it
            once: its store's ``weights_sha256`` and ``weights``); None: computed here.
        """
        return self.network_digest() if network is None else network

    def load_state_dict(self, state: dict) -> None:
        """Load network weights (strict; dtype converted to the network's)."""
        from ..checkpoint import CheckpointError

        try:
            self.net.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(
                f"checkpoint does not match the {self.name} architecture {self.arch}: {exc}"
            ) from exc

    def config(self) -> dict[str, Any]:
        """Checkpoint config (``model``, ``scale``, ``in_channels``, ``arch``, options)."""
        return {
            "model": self.name,
            "scale": self.scale,
            "in_channels": self.in_channels,
            "arch": dict(self.arch),
            "options": {k: v for k, v in self.options.items() if _jsonable(v)},
        }

    def to(self, device: str) -> TorchSRModel:
        self.net.to(device)
        self.device = device
        return self


def _jsonable(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int, float, str, list, tuple))
