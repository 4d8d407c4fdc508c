"""UAED network: a shared encoder and two UNet++ decoders (boundary logit + dispersion).

The architecture follows *The Treasure Beneath Multiple Annotations: An
Uncertainty-aware Edge Detector* (Zhou et al., CVPR 2023) as used for grain
boundaries in metallography: one encoder, two capacity-matched UNet++ decoders
with dense nested skip pathways ``X^{i,j}``, a mean (logit) head and an
uncertainty head, each a 3x3 convolution. The dispersion is
``sigma = softplus(raw) + 1e-3`` so it is always strictly positive.

Encoders (all randomly initialised; nothing is downloaded):

* ``"small"`` (default): a plain CNN, 5 stages of two conv-BN-ReLU blocks with
  channels ``(16, 32, 64, 128, 256)``; stage 0 is at full resolution, each later
  stage halves the resolution (total stride 16). Trainable on a CPU.
* ``"tiny"``: same layout with channels ``(8, 16, 32, 64, 128)`` (tests, quick runs).
* ``"efficientnet-b0"`` / ``"efficientnet-b7"``: a compact EfficientNet-*like*
  encoder built here from MBConv blocks (depthwise separable inverted residuals
  with squeeze-and-excitation) with the compound width/depth multipliers of the
  named variant and 5 output stages at strides 2..32 (encoder depth 5). The
  ``"efficientnet-b7"`` preset is the paper's configuration *in shape only*: it is
  not the timm/torchvision implementation, its weights are random (the paper
  starts from ImageNet weights) and it is far too slow to train on a CPU.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "ENCODER_PRESETS",
    "UAEDNet",
    "build_uaed",
    "default_arch_config",
    "inference_copy",
    "SIGMA_EPS",
]

#: Added to ``softplus(raw)`` so the dispersion is strictly positive.
SIGMA_EPS = 1e-3

#: Named encoder presets (see the module docstring).
ENCODER_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"kind": "cnn", "channels": (8, 16, 32, 64, 128)},
    "small": {"kind": "cnn", "channels": (16, 32, 64, 128, 256)},
    "efficientnet-b0": {"kind": "effnet", "width": 1.0, "depth": 1.0},
    "efficientnet-b7": {"kind": "effnet", "width": 2.0, "depth": 3.1},
}

DEFAULT_DECODER_CHANNELS = (256, 128, 64, 32, 16)
TINY_DECODER_CHANNELS = (128, 64, 32, 16, 8)


class ArchitectureError(ValueError):
    """An architecture configuration is invalid."""


def _conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class CNNEncoder(nn.Module):
    """Plain conv-BN-ReLU encoder; stage ``i`` is at stride ``2**i``."""

    def __init__(self, in_channels: int, channels: tuple[int, ...]) -> None:
        super().__init__()
        stages = []
        cin = in_channels
        for i, c in enumerate(channels):
            stages.append(
                nn.Sequential(
                    _conv_bn_relu(cin, c, stride=1 if i == 0 else 2),
                    _conv_bn_relu(c, c),
                )
            )
            cin = c
        self.stages = nn.ModuleList(stages)
        self.out_channels = tuple(channels)
        self.strides = tuple(2**i for i in range(len(channels)))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats


class _SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, reduced, 1)
        self.fc2 = nn.Conv2d(reduced, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.adaptive_avg_pool2d(x, 1)
        s = torch.sigmoid(self.fc2(F.silu(self.fc1(s))))
        return x * s


class _MBConv(nn.Module):
    """Inverted residual: 1x1 expand, kxk depthwise, squeeze-excite, 1x1 project."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.SiLU()]
        layers += [
            nn.Conv2d(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False),
            nn.BatchNorm2d(mid),
            nn.SiLU(),
            _SqueezeExcite(mid, max(1, cin // 4)),
            nn.Conv2d(mid, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.residual else y


# (expand, channels, repeats, stride, kernel) of EfficientNet-B0's 7 MBConv stages.
_EFFNET_B0 = (
    (1, 16, 1, 1, 3),
    (6, 24, 2, 2, 3),
    (6, 40, 2, 2, 5),
    (6, 80, 3, 2, 3),
    (6, 112, 3, 1, 5),
    (6, 192, 4, 2, 5),
    (6, 320, 1, 1, 3),
)


def _round_channels(c: float, width: float, divisor: int = 8) -> int:
    c *= width
    new = max(divisor, int(c + divisor / 2) // divisor * divisor)
    if new < 0.9 * c:
        new += divisor
    return int(new)


class EfficientNetLikeEncoder(nn.Module):
    """EfficientNet-like MBConv encoder with 5 outputs at strides 2, 4, 8, 16, 32.

    Built from the B0 stage table scaled by the compound ``width``/``depth``
    multipliers. Not the reference implementation and randomly initialised.
    """

    def __init__(self, in_channels: int, width: float, depth: float) -> None:
        super().__init__()
        stem = _round_channels(32, width)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, stem, 3, 2, 1, bias=False), nn.BatchNorm2d(stem), nn.SiLU()
        )
        blocks: list[nn.Module] = []
        cin = stem
        # outputs after stage index (0-based) -> strides 2, 4, 8, 16, 32
        self._taps = {0: 0, 1: 1, 2: 2, 4: 3, 6: 4}
        self.stages = nn.ModuleList()
        outs = []
        for si, (e, c, r, s, k) in enumerate(_EFFNET_B0):
            cout = _round_channels(c, width)
            reps = int(math.ceil(r * depth))
            blocks = [_MBConv(cin if i == 0 else cout, cout, k, s if i == 0 else 1, e)
                      for i in range(reps)]
            self.stages.append(nn.Sequential(*blocks))
            cin = cout
            if si in self._taps:
                outs.append(cout)
        self.out_channels = tuple(outs)
        self.strides = (2, 4, 8, 16, 32)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        feats = []
        for si, stage in enumerate(self.stages):
            x = stage(x)
            if si in self._taps:
                feats.append(x)
        return feats


class _DecoderBlock(nn.Module):
    """``n_convs`` 3x3 conv-BN-ReLU on the concatenation of its inputs."""

    def __init__(self, cin: int, cout: int, n_convs: int = 1) -> None:
        super().__init__()
        layers = [_conv_bn_relu(cin, cout)]
        layers += [_conv_bn_relu(cout, cout) for _ in range(n_convs - 1)]
        self.body = nn.Sequential(*layers)

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        return self.body(torch.cat(xs, dim=1) if len(xs) > 1 else xs[0])


class UNetPlusPlusDecoder(nn.Module):
    """UNet++ decoder with dense nested skip pathways.

    Node ``X^{i,j}`` (level ``i`` = encoder stage, column ``j``) is
    ``H([X^{i,0}, ..., X^{i,j-1}, Up(X^{i+1,j-1})])`` where ``Up`` is nearest
    neighbour x2 upsampling and ``H`` a 3x3 conv-BN-ReLU. Nodes at level ``i``
    have ``decoder_channels[D-1-i]`` channels (deepest first, as usual). If the
    shallowest encoder level is at stride 2, a final block without skip brings
    the output to full resolution.
    """

    def __init__(
        self, encoder_channels: tuple[int, ...], strides: tuple[int, ...],
        decoder_channels: tuple[int, ...],
    ) -> None:
        super().__init__()
        D = len(encoder_channels)
        if len(decoder_channels) != D:
            raise ArchitectureError(
                f"decoder_channels has {len(decoder_channels)} entries but the encoder "
                f"has {D} stages"
            )
        self.depth = D
        dch = [decoder_channels[D - 1 - i] for i in range(D)]  # per level
        self.center = _DecoderBlock(encoder_channels[D - 1], dch[D - 1])
        self.nodes = nn.ModuleDict()
        for j in range(1, D):
            for i in range(0, D - j):
                skip_in = encoder_channels[i] + (j - 1) * dch[i]
                below = dch[i + 1] if (j > 1 or i + 1 == D - 1) else encoder_channels[i + 1]
                self.nodes[f"x_{i}_{j}"] = _DecoderBlock(skip_in + below, dch[i])
        self.final = None
        if strides[0] != 1:
            if strides[0] != 2:
                raise ArchitectureError("the shallowest encoder stage must be at stride 1 or 2")
            self.final = _DecoderBlock(dch[0], dch[0])
        self.out_channels = dch[0]

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        D = self.depth
        X: dict[tuple[int, int], torch.Tensor] = {}
        for i in range(D - 1):
            X[(i, 0)] = feats[i]
        X[(D - 1, 0)] = self.center([feats[D - 1]])
        for j in range(1, D):
            for i in range(0, D - j):
                up = F.interpolate(X[(i + 1, j - 1)], scale_factor=2.0, mode="nearest")
                X[(i, j)] = self.nodes[f"x_{i}_{j}"]([X[(i, k)] for k in range(j)] + [up])
        out = X[(0, D - 1)]
        if self.final is not None:
            out = self.final([F.interpolate(out, scale_factor=2.0, mode="nearest")])
        return out


class UAEDNet(nn.Module):
    """Dual-head UNet++ for boundary probability and uncertainty.

    Parameters
    ----------
    encoder : str
        Encoder preset name (see :data:`ENCODER_PRESETS`).
    in_channels : int
        Image channels (3 for RGB micrographs; grey images are repeated).
    decoder_channels : tuple of int, optional
        Channels of the decoder levels, deepest first; defaults to
        ``(256, 128, 64, 32, 16)`` (``(128, 64, 32, 16, 8)`` for ``"tiny"``).

    Notes
    -----
    ``forward(x)`` takes float ``(B, C, H, W)`` in [0, 1] of any size, reflect-pads
    it to a multiple of the encoder's total stride, and returns ``(logit, sigma)``
    each ``(B, 1, H, W)``, centre-cropped back to the input size.
    """

    def __init__(
        self,
        encoder: str = "small",
        in_channels: int = 3,
        decoder_channels: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        if encoder not in ENCODER_PRESETS:
            raise ArchitectureError(
                f"unknown encoder {encoder!r}; choose one of {sorted(ENCODER_PRESETS)}"
            )
        preset = ENCODER_PRESETS[encoder]
        if decoder_channels is None:
            decoder_channels = TINY_DECODER_CHANNELS if encoder == "tiny" else (
                DEFAULT_DECODER_CHANNELS)
        decoder_channels = tuple(int(c) for c in decoder_channels)
        if preset["kind"] == "cnn":
            self.encoder = CNNEncoder(in_channels, preset["channels"])
        else:
            self.encoder = EfficientNetLikeEncoder(in_channels, preset["width"], preset["depth"])
        enc_ch, strides = self.encoder.out_channels, self.encoder.strides
        self.mean_decoder = UNetPlusPlusDecoder(enc_ch, strides, decoder_channels)
        self.std_decoder = UNetPlusPlusDecoder(enc_ch, strides, decoder_channels)
        self.mean_head = nn.Conv2d(self.mean_decoder.out_channels, 1, 3, padding=1)
        self.std_head = nn.Conv2d(self.std_decoder.out_channels, 1, 3, padding=1)
        self.multiple = max(strides)
        self.in_channels = in_channels
        self.config = {
            "encoder": encoder,
            "in_channels": in_channels,
            "decoder_channels": list(decoder_channels),
        }

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"expected input (B, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        H, W = x.shape[-2:]
        m = self.multiple
        ph, pw = (-H) % m, (-W) % m
        top, left = ph // 2, pw // 2
        if ph or pw:
            mode = "reflect" if (H > ph and W > pw) else "replicate"
            x = F.pad(x, (left, pw - left, top, ph - top), mode=mode)
        feats = self.encoder(x)
        logit = self.mean_head(self.mean_decoder(feats))
        raw = self.std_head(self.std_decoder(feats))
        sigma = F.softplus(raw) + SIGMA_EPS
        logit = logit[..., top : top + H, left : left + W]
        sigma = sigma[..., top : top + H, left : left + W]
        return logit, sigma


def default_arch_config(encoder: str = "small") -> dict[str, Any]:
    """Architecture part of a checkpoint config for ``encoder``."""
    if encoder not in ENCODER_PRESETS:
        raise ArchitectureError(
            f"unknown encoder {encoder!r}; choose one of {sorted(ENCODER_PRESETS)}"
        )
    return {
        "model": "uaed-unetpp",
        "encoder": encoder,
        "in_channels": 3,
        "decoder_channels": list(
            TINY_DECODER_CHANNELS if encoder == "tiny" else DEFAULT_DECODER_CHANNELS
        ),
    }


def build_uaed(config: dict[str, Any]) -> UAEDNet:
    """Build a :class:`UAEDNet` from a checkpoint/architecture config dict.

    Raises
    ------
    ArchitectureError
        If the config names another model or has an unknown encoder.
    """
    name = config.get("model", "uaed-unetpp")
    if name != "uaed-unetpp":
        raise ArchitectureError(f"config describes model {name!r}, not 'uaed-unetpp'")
    dec = config.get("decoder_channels")
    return UAEDNet(
        encoder=config.get("encoder", "small"),
        in_channels=int(config.get("in_channels", 3)),
        decoder_channels=tuple(dec) if dec is not None else None,
    )


def inference_copy(net: nn.Module, *, channels_last: bool = True) -> nn.Module:
    """A copy of ``net`` for inference only: batch norms folded into their convolutions.

    Every ``Conv2d`` directly followed by a ``BatchNorm2d`` in a ``Sequential`` (all of
    :class:`UAEDNet`'s) becomes one convolution with the normalisation's scale and shift
    in its weights and bias (eval-mode statistics), and the weights are stored
    channels-last (the layout the CPU convolution kernels run fastest on; feed it
    channels-last inputs). Outputs equal ``net.eval()``'s within float rounding (a few
    1e-6 on the logits). ``net`` itself is not changed.

    Parameters
    ----------
    net : torch.nn.Module
    channels_last : bool
        Convert the parameters to ``torch.channels_last``.

    Returns
    -------
    torch.nn.Module
        In eval mode, without gradients.
    """
    import copy

    from torch.nn.utils.fusion import fuse_conv_bn_eval

    m = copy.deepcopy(net).eval()
    for mod in m.modules():
        if not isinstance(mod, nn.Sequential):
            continue
        names = list(mod._modules)
        for a, b in zip(names, names[1:]):
            conv, bn = mod._modules[a], mod._modules[b]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                mod._modules[a] = fuse_conv_bn_eval(conv, bn)
                mod._modules[b] = nn.Identity()
    for p in m.parameters():
        p.requires_grad_(False)
    if channels_last:
        m = m.to(memory_format=torch.channels_last)
    return m
