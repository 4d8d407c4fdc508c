"""pix2pix-style conditional GAN for super-resolution (model kind ``cgan``).

* Generator: a U-Net on the bicubic-upsampled LR image (HR resolution). Encoder of
  ``depth`` stride-2 convolutions (LeakyReLU), decoder of nearest-neighbour
  upsampling + convolution (ReLU) with skip connections (concatenation), output =
  ``bicubic(LR) + U-Net(bicubic(LR))``. The last convolution is zero-initialised, so an
  untrained generator equals bicubic. No normalisation layers: the output of a tile
  does not depend on the other tiles of its batch.
* Discriminator (training only, not saved): a conditional PatchGAN that sees
  ``[bicubic(LR), HR or SR]`` and scores overlapping patches (``d_layers`` stride-2
  convolutions, 70x70 receptive field for ``d_layers = 3`` as in pix2pix). Spectral
  normalisation keeps it stable on small CPU runs.
* Loss (Isola et al. 2017 with the hinge GAN loss): discriminator
  ``mean(relu(1 - D(real))) + mean(relu(1 + D(fake)))``; generator
  ``-mean(D(fake)) + LAMBDA_L1 * L1(fake, HR)`` with ``LAMBDA_L1 = 100``.

The discriminator and its Adam optimiser live on the model during training
(:meth:`CGANSR.training_loss` makes one discriminator step, then returns the generator
loss for the training loop's optimiser); checkpoints hold the generator only, the
training state (``train_state/``, for ``resume``) the discriminator and its optimiser too.
"""

from __future__ import annotations

from typing import Any

from .base import TorchSRModel, check_number
from .classic import bicubic_upsample

__all__ = ["build_unet_generator", "build_patch_discriminator", "CGANSR", "LAMBDA_L1",
           "DISCRIMINATOR_LR"]

#: Weight of the L1 term of the generator loss (pix2pix's lambda).
LAMBDA_L1 = 100.0
#: Adam learning rate of the discriminator (pix2pix: 2e-4, betas (0.5, 0.999)).
DISCRIMINATOR_LR = 2e-4


def build_unet_generator(in_channels: int = 3, n_feats: int = 16, depth: int = 3):
    """The U-Net generator (a ``torch.nn.Module``) mapping ``bicubic(LR)`` to SR.

    Parameters
    ----------
    in_channels : int
        Image channels.
    n_feats : int
        Channels of the first level; level ``k`` has ``n_feats * 2**k`` (capped at 8x).
    depth : int
        Number of stride-2 levels (inputs are padded to a multiple of ``2**depth``).
    """
    import torch
    from torch import nn

    def ch(k: int) -> int:
        return n_feats * min(2**k, 8)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.depth = depth
            self.stem = nn.Conv2d(in_channels, ch(0), 3, padding=1)
            self.down = nn.ModuleList(
                nn.Conv2d(ch(k), ch(k + 1), 4, stride=2, padding=1) for k in range(depth))
            self.mid = nn.Conv2d(ch(depth), ch(depth), 3, padding=1)
            self.up = nn.ModuleList(
                nn.Conv2d(ch(k + 1) + ch(k), ch(k), 3, padding=1) for k in range(depth))
            self.out = nn.Conv2d(ch(0), in_channels, 3, padding=1)
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

        def forward(self, up):
            act = nn.functional.leaky_relu
            h = act(self.stem(up * 2.0 - 1.0), 0.2)
            skips = [h]
            for conv in self.down:
                h = act(conv(h), 0.2)
                skips.append(h)
            h = torch.relu(self.mid(h))
            for k in reversed(range(self.depth)):
                h = nn.functional.interpolate(h, scale_factor=2, mode="nearest")
                h = torch.relu(self.up[k](torch.cat([h, skips[k]], dim=1)))
            return up + self.out(h)

    return Net()


def build_patch_discriminator(in_channels: int = 3, n_feats: int = 16, n_layers: int = 3):
    """Conditional PatchGAN: ``(B, 2*C, H, W)`` -> patch scores ``(B, 1, h', w')``.

    Parameters
    ----------
    in_channels : int
        Image channels (the input is the condition and the image, ``2 * in_channels``).
    n_feats : int
        Channels of the first convolution (doubled per layer, capped at 8x).
    n_layers : int
        Stride-2 convolutions (3 = pix2pix's 70x70 PatchGAN).
    """
    from torch import nn
    from torch.nn.utils import spectral_norm

    layers: list = [spectral_norm(nn.Conv2d(2 * in_channels, n_feats, 4, stride=2, padding=1)),
                    nn.LeakyReLU(0.2)]
    c = n_feats
    for k in range(1, n_layers):
        c2 = n_feats * min(2**k, 8)
        layers += [spectral_norm(nn.Conv2d(c, c2, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
        c = c2
    c2 = n_feats * min(2**n_layers, 8)
    layers += [spectral_norm(nn.Conv2d(c, c2, 4, stride=1, padding=1)), nn.LeakyReLU(0.2),
               spectral_norm(nn.Conv2d(c2, 1, 4, stride=1, padding=1))]
    return nn.Sequential(*layers)


def _unet_generator_receptive_field(depth: int, scale: int) -> int:
    """Radius (LR px) of the U-Net generator's receptive field, plus the bicubic taps."""
    radius = 1  # stem
    for k in range(depth):
        radius += 2 * 2**k  # 4x4 stride-2 conv at level k
    radius += 2**depth  # mid conv
    for k in range(depth):
        radius += 2 * 2**k  # nearest x2 upsampling (rounding) + decoder conv at level k
    radius += 1  # out conv
    return int(-(-radius // scale)) + 2


def _pad_to_multiple(x, m: int):
    from .diffusion import _pad_to_multiple as pad

    return pad(x, m)


class CGANSR(TorchSRModel):
    """pix2pix-style conditional GAN super-resolution (x2 or x4).

    Parameters
    ----------
    scale : {2, 4}
    device : str
    in_channels : int
    n_feats, depth
        Generator architecture (see :func:`build_unet_generator`).
    d_feats, d_layers
        Discriminator architecture (see :func:`build_patch_discriminator`); used in
        training only.
    lambda_l1 : float
        Weight of the L1 term (default :data:`LAMBDA_L1` = 100).
    d_lr : float
        Discriminator learning rate (default :data:`DISCRIMINATOR_LR`).
    """

    name = "cgan"
    supported_scales = (2, 4)

    def __init__(self, scale: int = 4, device: str = "cpu", in_channels: int = 3,
                 n_feats: int = 16, depth: int = 3, d_feats: int = 16, d_layers: int = 3,
                 lambda_l1: float = LAMBDA_L1, d_lr: float = DISCRIMINATOR_LR,
                 **_: Any) -> None:
        super().__init__(scale=scale, device=device, in_channels=in_channels)
        self.arch = {"n_feats": check_number("n_feats", n_feats, lo=1, integer=True),
                     "depth": check_number("depth", depth, lo=0, hi=6, integer=True),
                     "d_feats": check_number("d_feats", d_feats, lo=1, integer=True),
                     "d_layers": check_number("d_layers", d_layers, lo=1, hi=6, integer=True),
                     "lambda_l1": check_number("lambda_l1", lambda_l1, lo=0),
                     "d_lr": check_number("d_lr", d_lr, lo=0, lo_open=True)}
        self.net = build_unet_generator(self.in_channels, self.arch["n_feats"],
                                        self.arch["depth"]).to(device).eval()
        self.receptive_field = _unet_generator_receptive_field(self.arch["depth"], self.scale)
        self._multiple = 2 ** self.arch["depth"]
        self.disc = None
        self._d_opt = None
        #: Last discriminator / adversarial / L1 losses of :meth:`training_loss`.
        self.last_losses: dict[str, float] = {}

    def _generate(self, lr):
        up = bicubic_upsample(lr, self.scale)
        up_p, (h, w) = _pad_to_multiple(up, self._multiple)
        return self.net(up_p)[..., :h, :w], up

    def _forward(self, x):
        return self._generate(x)[0]

    def train_forward(self, lr, generator=None):
        """Differentiable forward used in training (no clamping); returns ``(sr, up)``."""
        return self._generate(lr)

    def _discriminator(self):
        import torch

        if self.disc is None:
            self.disc = build_patch_discriminator(self.in_channels, self.arch["d_feats"],
                                                  self.arch["d_layers"]).to(self.device)
            self._d_opt = torch.optim.Adam(self.disc.parameters(), lr=self.arch["d_lr"],
                                           betas=(0.5, 0.999))
        return self.disc

    def extra_train_state(self) -> dict:
        """Discriminator weights and Adam state (tensors) for ``train_state`` (resume)."""
        import torch

        if self.disc is None:
            return {}
        out = {f"disc.{k}": v.detach().clone() for k, v in self.disc.state_dict().items()}
        for pid, st in self._d_opt.state_dict()["state"].items():
            for key, val in st.items():
                out[f"dopt.{pid}.{key}"] = val.detach().clone() if hasattr(val, "shape") \
                    else torch.tensor(float(val))
        return out

    def load_extra_train_state(self, tensors: dict) -> None:
        """Restore what :meth:`extra_train_state` saved (no-op for an empty dict)."""
        if not tensors:
            return
        disc = self._discriminator()
        disc.load_state_dict({k[5:]: v for k, v in tensors.items() if k.startswith("disc.")})
        state: dict[int, dict] = {}
        for k, v in tensors.items():
            if k.startswith("dopt."):
                _, pid, key = k.split(".", 2)
                state.setdefault(int(pid), {})[key] = v
        sd = self._d_opt.state_dict()
        self._d_opt.load_state_dict({"state": state, "param_groups": sd["param_groups"]})

    def training_loss(self, lr, hr, **_: Any):
        """One discriminator step (hinge), then the generator loss (hinge + lambda * L1).

        Parameters
        ----------
        lr, hr : torch.Tensor
            ``(B, C, h, w)`` inputs and ``(B, C, h*s, w*s)`` targets in [0, 1].

        Returns
        -------
        torch.Tensor
            The generator loss ``-mean(D([up, G(lr)])) + lambda_l1 * L1(G(lr), hr)``
            (to be back-propagated into ``self.net`` by the caller).
        """
        import torch
        import torch.nn.functional as F

        disc = self._discriminator()
        disc.train()
        fake, up = self._generate(lr)
        cond = up * 2 - 1
        # discriminator step (the generator is not updated here)
        d_real = disc(torch.cat([cond, hr * 2 - 1], dim=1))
        d_fake = disc(torch.cat([cond, fake.detach() * 2 - 1], dim=1))
        d_loss = F.relu(1.0 - d_real).mean() + F.relu(1.0 + d_fake).mean()
        self._d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        self._d_opt.step()
        self._d_opt.zero_grad(set_to_none=True)
        # generator loss (the discriminator's gradients are discarded before its next step)
        for p in disc.parameters():
            p.requires_grad_(False)
        try:
            adv = -disc(torch.cat([cond, fake * 2 - 1], dim=1)).mean()
        finally:
            for p in disc.parameters():
                p.requires_grad_(True)
        l1 = F.l1_loss(fake, hr)
        self.last_losses = {"d_loss": float(d_loss.detach()), "g_adv": float(adv.detach()),
                            "l1": float(l1.detach())}
        return adv + self.arch["lambda_l1"] * l1
