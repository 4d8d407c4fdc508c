"""Fast residual CNN for super-resolution (EDSR-lite with a pixel-shuffle upsampler).

The network predicts a correction that is added to the bicubic upsampling of the
input (global residual). The last convolution is zero-initialised, so an
untrained network reproduces bicubic interpolation exactly.
"""

from __future__ import annotations

import math

from .base import TorchSRModel, check_number, pixel_loss_fn
from .classic import bicubic_upsample

__all__ = ["build_cnn", "CNNSR", "cnn_receptive_field", "residual_block"]


def residual_block(n_feats: int, res_scale: float):
    """One EDSR residual block: ``x + res_scale * conv(relu(conv(x)))`` (3x3 convs,
    ``n_feats`` channels; its parameters are ``conv1.*`` and ``conv2.*``)."""
    import torch
    from torch import nn

    class ResBlock(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(n_feats, n_feats, 3, padding=1)
            self.conv2 = nn.Conv2d(n_feats, n_feats, 3, padding=1)

        def forward(self, x):
            return x + res_scale * self.conv2(torch.relu(self.conv1(x)))

    return ResBlock()


def build_cnn(scale: int = 4, in_channels: int = 3, n_feats: int = 32, n_blocks: int = 8,
              res_scale: float = 0.2):
    """Build the residual pixel-shuffle network (a ``torch.nn.Module``).

    Parameters
    ----------
    scale : {2, 4}
        Magnification.
    in_channels : int
        Image channels.
    n_feats : int
        Feature channels.
    n_blocks : int
        Residual blocks (conv-ReLU-conv) at LR resolution.
    res_scale : float
        Scaling of each residual branch (stabilises training).
    """
    from torch import nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = scale
            self.head = nn.Conv2d(in_channels, n_feats, 3, padding=1)
            self.body = nn.Sequential(*[residual_block(n_feats, res_scale)
                                        for _ in range(n_blocks)])
            self.body_conv = nn.Conv2d(n_feats, n_feats, 3, padding=1)
            # ESPCN-style light upsampler: one conv to C*scale^2 channels at LR
            # resolution, then a pixel shuffle (cheap on CPU)
            self.tail = nn.Conv2d(n_feats, in_channels * scale * scale, 3, padding=1)
            self.up = nn.PixelShuffle(scale)
            nn.init.zeros_(self.tail.weight)
            nn.init.zeros_(self.tail.bias)

        def forward(self, x):
            base = bicubic_upsample(x, self.scale)
            f = self.head(x * 2.0 - 1.0)
            f = f + self.body_conv(self.body(f))
            return base + self.up(self.tail(f))

    return Net()


def cnn_receptive_field(n_blocks: int, scale: int) -> int:
    """Radius (LR px) of the CNN's receptive field, rounded up, plus the bicubic taps."""
    radius = 1 + 2 * n_blocks + 1 + 1  # head, blocks, body conv, tail (all at LR)
    return int(math.ceil(radius)) + 2  # + bicubic taps of the global residual


class CNNSR(TorchSRModel):
    """Residual CNN super-resolution (x2 or x4).

    Parameters
    ----------
    scale : {2, 4}
    device : str
    in_channels : int
    n_feats, n_blocks, res_scale
        Architecture (see :func:`build_cnn`).
    """

    name = "cnn"
    supported_scales = (2, 4)

    def __init__(self, scale: int = 4, device: str = "cpu", in_channels: int = 3,
                 n_feats: int = 32, n_blocks: int = 8, res_scale: float = 0.2,
                 **_: object) -> None:
        super().__init__(scale=scale, device=device, in_channels=in_channels)
        self.arch = {"n_feats": check_number("n_feats", n_feats, lo=1, integer=True),
                     "n_blocks": check_number("n_blocks", n_blocks, lo=0, integer=True),
                     "res_scale": check_number("res_scale", res_scale)}
        self.net = build_cnn(self.scale, self.in_channels, **self.arch).to(device).eval()
        self.receptive_field = cnn_receptive_field(self.arch["n_blocks"], self.scale)

    def _forward(self, x):
        return self.net(x)

    def train_forward(self, lr, generator=None):
        """Differentiable forward used in training (no clamping)."""
        return self.net(lr), None

    def training_loss(self, lr, hr, pixel_loss: str = "l1", **_: object):
        """L1 (or ``pixel_loss="mse"``) loss between the network output and the HR target."""
        return pixel_loss_fn(pixel_loss)(self.net(lr), hr)
