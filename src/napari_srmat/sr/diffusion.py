"""Diffusion-based super-resolution built from ``diffusers`` components.

* :class:`DDPMSR` -- SR3-style conditional diffusion. A ``UNet2DModel`` takes the
  noisy target (3 channels) concatenated with the bicubic-upsampled LR image
  (3 channels) and predicts the noise. The target is the **residual**
  ``(HR - bicubic(LR)) * res_scale``, not the HR image itself, so the model only
  has to generate the missing detail. Training uses ``DDPMScheduler``; sampling
  uses ``DDIMScheduler`` with ``num_inference_steps`` steps; each tile's noise
  (initial and, with ``eta > 0``, per step) comes from its own generator seeded by
  ``(seed, tile id)`` (:func:`napari_srmat.sr.base.tile_seed`). With K samples,
  :meth:`DDPMSR.predict_with_uncertainty` returns the mean and the per-pixel standard
  deviation.
* :class:`OneStepSR` -- OSEDiff-like one-step model: a small ``UNet2DModel``
  receives the upsampled LR image (optionally noised at a fixed timestep
  ``t_star``) and that timestep, and predicts the HR image in a single forward
  pass (as a residual over the upsampled LR). Trained with L1 (+ optional
  distillation from a DDPM teacher).

Both apply :func:`napari_srmat.sr.colorfix.color_fix` (wavelet by default) to
their output; pass ``color_fix="none"`` to disable.

The UNets use no attention layers, so the receptive field is local (GroupNorm
statistics are still computed per tile, see ``docs/super_resolution.md``).

Structure-modulated training noise (:func:`structure_noise`, ``DDPMSR.training_loss(...,
noise_regions=...)``, ``srmat sr train --model ddpm --noise structure``): the training
noise of each region (a grain of the synthetic generator, or a SLIC superpixel of the
HR image, :func:`structure_regions`) has a mean that follows the region's HR mean
(an "offset noise" shaped by the microstructure). Sampling is unchanged (standard
Gaussian noise).
"""

from __future__ import annotations

from typing import Any

from ..errors import check_seed, worded_error
from .base import (
    SAMPLING_STEPS,
    SRError,
    TorchSRModel,
    check_inference_steps,
    check_number,
    pixel_loss_fn,
    randn,
    to_tensor,
)
from .classic import bicubic_upsample
from .colorfix import check_color_fix, color_fix

__all__ = ["build_unet", "DDPMSR", "OneStepSR", "NOISE_KINDS", "STRUCTURE_NOISE_STRENGTH",
           "STRUCTURE_REGION_AREA", "structure_noise", "structure_regions"]

#: Training-noise kinds of :class:`DDPMSR` (``SRTrainConfig.noise``).
NOISE_KINDS = ("gaussian", "structure")
#: Scale of the region-mean offset of structure-modulated noise: a region of HR mean
#: ``mu`` (in [0, 1]) gets noise of mean ``STRUCTURE_NOISE_STRENGTH * (2 mu - 1)``
#: (0.1 is the usual "offset noise" strength).
STRUCTURE_NOISE_STRENGTH = 0.1
#: Mean area (HR px) of the SLIC superpixels used as regions when no labels are known.
STRUCTURE_REGION_AREA = 256


def structure_regions(image, area: int = STRUCTURE_REGION_AREA):
    """Regions of an HR image for structure-modulated noise: SLIC superpixels.

    Used when the training image has no known grain labels (real micrographs); SLIC
    follows intensity edges, so on a micrograph its superpixels lie within grains.

    Parameters
    ----------
    image : ndarray
        ``(H, W, C)`` or ``(H, W)`` float in [0, 1].
    area : int
        Mean superpixel area in pixels.

    Returns
    -------
    ndarray
        int64 ``(H, W)`` labels from 0.
    """
    import numpy as np
    from skimage.segmentation import slic

    img = np.asarray(image, dtype=np.float64)
    n = max(1, int(round(img.shape[0] * img.shape[1] / max(int(area), 1))))
    return slic(img, n_segments=n, compactness=10.0, start_label=0,
                channel_axis=-1 if img.ndim == 3 else None).astype(np.int64)


def structure_noise(hr, regions, *, strength: float = STRUCTURE_NOISE_STRENGTH,
                    generator=None):
    """Gaussian noise whose mean in each region follows the region's HR mean.

    ``noise = z + strength * (2 * mean_R(hr) - 1)`` per channel, with ``z`` standard
    normal and ``mean_R(hr)`` the mean of ``hr`` over the region ``R`` a pixel belongs
    to (per sample and channel).

    Parameters
    ----------
    hr : torch.Tensor
        ``(B, C, H, W)`` in [0, 1].
    regions : torch.Tensor or ndarray
        Integer ``(B, H, W)`` region labels (any values; per sample).
    strength : float
        Offset scale (default :data:`STRUCTURE_NOISE_STRENGTH`).
    generator : torch.Generator, optional
        Generator of ``z``.

    Returns
    -------
    torch.Tensor
        ``(B, C, H, W)`` float32 on ``hr``'s device.
    """
    import torch

    b, c, h, w = hr.shape
    lab = torch.as_tensor(regions, device=hr.device).long()
    if tuple(lab.shape) != (b, h, w):
        raise SRError(f"regions must be (B, H, W) = {(b, h, w)}, got {tuple(lab.shape)}")
    lab = lab - lab.min()
    key = lab + torch.arange(b, device=hr.device)[:, None, None] * (int(lab.max()) + 1)
    _, inv = torch.unique(key.reshape(-1), return_inverse=True)  # one id per (sample, region)
    vals = hr.permute(0, 2, 3, 1).reshape(-1, c).float()
    sums = torch.zeros(int(inv.max()) + 1, c, device=hr.device).index_add_(0, inv, vals)
    counts = torch.bincount(inv).float()[:, None]
    means = (sums / counts)[inv].reshape(b, h, w, c).permute(0, 3, 1, 2)
    z = torch.randn(hr.shape, generator=generator, device="cpu").to(hr.device)
    return z + float(strength) * (2.0 * means - 1.0)


def build_unet(in_channels: int, out_channels: int = 3, block_out_channels=(32, 64, 64),
               layers_per_block: int = 1, norm_num_groups: int = 8):
    """A small attention-free ``diffusers.UNet2DModel``."""
    from diffusers import UNet2DModel

    n = len(block_out_channels)
    return UNet2DModel(
        sample_size=64,
        in_channels=in_channels,
        out_channels=out_channels,
        layers_per_block=layers_per_block,
        block_out_channels=tuple(int(c) for c in block_out_channels),
        down_block_types=("DownBlock2D",) * n,
        up_block_types=("UpBlock2D",) * n,
        norm_num_groups=norm_num_groups,
        add_attention=False,
    )


def _unet_receptive_field(block_out_channels, layers_per_block: int, scale: int) -> int:
    """Rough radius (LR px) of an attention-free UNet's receptive field."""
    radius = 0.0
    n = len(block_out_channels)
    for level in range(n):
        f = 2**level
        convs = 2 * layers_per_block + 2 * (layers_per_block + 1) + 2  # down, up, resample
        if level == n - 1:
            convs += 4  # mid block
        radius += convs * f
    radius += 2  # conv_in / conv_out
    return int(-(-radius // scale)) + 2


#: Longest diffusion training schedule accepted (the DDPM default is 1000 steps).
MAX_TRAIN_TIMESTEPS = 10_000


def _unet_arch(block_out_channels, layers_per_block, norm_num_groups) -> dict[str, Any]:
    """Validated UNet architecture fields (cheap checks, before anything is built)."""
    if isinstance(block_out_channels, (str, bytes)) or not hasattr(block_out_channels,
                                                                   "__iter__"):
        raise SRError(f"block_out_channels must be a list of integers, got "
                      f"{block_out_channels!r}")
    channels = [check_number("block_out_channels[]", c, lo=1, integer=True)
                for c in block_out_channels]
    if not channels:
        raise SRError("block_out_channels must not be empty")
    groups = check_number("norm_num_groups", norm_num_groups, lo=1, integer=True)
    bad = [c for c in channels if c % groups]
    if bad:
        raise SRError(f"block_out_channels {channels} must be multiples of norm_num_groups "
                      f"({groups})")
    return {"block_out_channels": channels,
            "layers_per_block": check_number("layers_per_block", layers_per_block, lo=1,
                                             integer=True),
            "norm_num_groups": groups}


def _pad_to_multiple(x, m: int):
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    ph, pw = (-h) % m, (-w) % m
    if ph or pw:
        mode = "reflect" if h > ph and w > pw else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


class _UNetSR(TorchSRModel):
    generative = True
    stochastic = True
    supported_scales = (2, 4)

    def _common_init(self, scale, device, in_channels, arch, options):
        check_color_fix(options.get("color_fix"), error=SRError)  # not on the first tile
        TorchSRModel.__init__(self, scale=scale, device=device, in_channels=in_channels)
        self.arch = arch
        self.options = options
        self.receptive_field = _unet_receptive_field(
            arch["block_out_channels"], arch["layers_per_block"], self.scale)
        self._multiple = 2 ** (len(arch["block_out_channels"]) - 1)

    def _color_fix(self, y, up):
        return color_fix(y, up, self.options.get("color_fix", "wavelet"))


class DDPMSR(_UNetSR):
    """SR3-style conditional diffusion super-resolution (residual target).

    Parameters
    ----------
    scale : {2, 4}
    device : str
    block_out_channels, layers_per_block, norm_num_groups
        UNet architecture.
    num_train_timesteps : int
        Diffusion steps of the training schedule.
    res_scale : float
        The residual ``HR - bicubic(LR)`` is multiplied by this to have roughly unit
        variance in the diffusion space.
    num_inference_steps : int
        DDIM sampling steps.
    seed : int
        Run seed of the sampling noise; each tile's noise is seeded by
        ``(seed, tile id)`` (reproducible, independent of the batching).
    eta : float
        DDIM stochasticity (0 = deterministic steps after the initial noise).
    color_fix : {"wavelet", "adain", "none"}
        Low-frequency correction of the output.
    """

    name = "ddpm"
    has_sampling_steps = True

    def __init__(self, scale: int = 4, device: str = "cpu", in_channels: int = 3,
                 block_out_channels=(32, 64, 64), layers_per_block: int = 1,
                 norm_num_groups: int = 8, num_train_timesteps: int = 1000,
                 res_scale: float = 4.0, num_inference_steps: int = 20, seed: int = 0,
                 color_fix: str = "wavelet", eta: float = 0.0, **_: Any) -> None:
        arch = _unet_arch(block_out_channels, layers_per_block, norm_num_groups)
        arch["num_train_timesteps"] = check_number(
            "num_train_timesteps", num_train_timesteps, lo=1, hi=MAX_TRAIN_TIMESTEPS,
            integer=True)
        arch["res_scale"] = check_number("res_scale", res_scale, lo=0, lo_open=True)
        steps = check_inference_steps(num_inference_steps)
        if steps > arch["num_train_timesteps"]:
            raise worded_error(SRError, "{steps} = {n} exceeds the model's num_train_timesteps "
                               "({max_n})", steps=SAMPLING_STEPS, n=steps,
                               max_n=arch["num_train_timesteps"])
        options = {"num_inference_steps": steps,
                   "seed": check_seed(seed, error=SRError),
                   "color_fix": color_fix, "eta": check_number("eta", eta, lo=0, hi=1)}
        self._common_init(scale, device, in_channels, arch, options)
        self.net = build_unet(2 * self.in_channels, self.in_channels,
                              arch["block_out_channels"], arch["layers_per_block"],
                              arch["norm_num_groups"]).to(device).eval()
        from diffusers import DDPMScheduler

        self.train_scheduler = DDPMScheduler(num_train_timesteps=arch["num_train_timesteps"],
                                             beta_schedule="squaredcos_cap_v2")

    # -- training ------------------------------------------------------------------
    def training_loss(self, lr, hr, generator=None, noise_regions=None,
                      noise_strength: float = STRUCTURE_NOISE_STRENGTH, **_: Any):
        """Noise-prediction MSE on the scaled residual for a batch of LR/HR pairs.

        ``noise_regions`` (``(B, H, W)`` integer labels): draw the training noise with
        :func:`structure_noise` (region means following the HR image) instead of
        standard Gaussian noise.
        """
        import torch
        import torch.nn.functional as F

        up = bicubic_upsample(lr, self.scale)
        x0 = (hr - up) * self.arch["res_scale"]
        # drawn where the generator lives, then moved: training passes a CPU generator,
        # which torch refuses for a draw on CUDA (the numbers are the same on any device)
        draw = generator.device if generator is not None else x0.device
        if noise_regions is not None:
            noise = structure_noise(hr, noise_regions, strength=noise_strength,
                                    generator=generator).to(x0.dtype)
        else:
            noise = torch.randn(x0.shape, generator=generator, device=draw).to(x0.device)
        t = torch.randint(0, self.train_scheduler.config.num_train_timesteps, (x0.shape[0],),
                          generator=generator, device=draw).to(x0.device)
        noisy = self.train_scheduler.add_noise(x0, noise, t)
        pred = self.net(torch.cat([noisy, up * 2 - 1], dim=1), t).sample
        return F.mse_loss(pred, noise)

    # -- sampling ------------------------------------------------------------------
    def _sample(self, x, generators):
        """One DDIM sample per tile; ``generators``: one per tile (see :func:`randn`)."""
        import torch
        from diffusers import DDIMScheduler

        up = bicubic_upsample(x, self.scale)
        up_p, (h, w) = _pad_to_multiple(up, self._multiple)
        sched = DDIMScheduler.from_config(self.train_scheduler.config)
        sched.set_timesteps(self.options["num_inference_steps"], device=x.device)
        sample = randn(up_p.shape, generators, x.device)
        cond = up_p * 2 - 1
        eta = self.options["eta"]
        for t in sched.timesteps:
            eps = self.net(torch.cat([sample, cond], dim=1), t).sample.float()
            # the step's variance noise is drawn here, per tile (DDIMScheduler.step takes
            # one generator for the whole batch)
            noise = randn(eps.shape, generators, eps.device).to(eps.dtype) if eta > 0 else None
            sample = sched.step(eps, t, sample, eta=eta, variance_noise=noise).prev_sample
        y = up + sample[..., :h, :w] / self.arch["res_scale"]
        return self._color_fix(y, up)

    def _forward(self, x, generators):
        return self._sample(x, generators)

    def predict_with_uncertainty(self, batch, n_samples: int = 4, *, tile_ids=None):
        """Draw ``n_samples`` samples; return their mean and per-pixel standard deviation.

        Parameters
        ----------
        batch : numpy.ndarray or torch.Tensor
            ``(B, C, h, w)`` float32 in [0, 1].
        n_samples : int
            Number of samples K (>= 1; the std of one sample is zero).
        tile_ids : sequence, optional
            One id per sample, as in :meth:`predict` (default: index in the batch).

        Returns
        -------
        mean, std : same type as ``batch``
            ``(B, C, h*scale, w*scale)`` each; ``std >= 0``.
        """
        import torch

        if int(n_samples) < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        is_torch = isinstance(batch, torch.Tensor)
        x = to_tensor(batch, self.device)
        x, n_in = self._adapt_channels(x)
        gens = self._generators(self._tile_ids(tile_ids, x.shape[0]))
        samples = []
        with torch.no_grad(), self._autocast():
            for _ in range(int(n_samples)):
                y = self._sample(x, gens).float().clamp(0, 1)
                samples.append(self._restore_channels(y, n_in))
        stack = torch.stack(samples)
        mean = stack.mean(0)
        std = stack.std(0, unbiased=False)
        if is_torch:
            return mean, std
        return mean.cpu().numpy(), std.cpu().numpy()


class OneStepSR(_UNetSR):
    """OSEDiff-like one-step diffusion SR.

    A small UNet sees ``bicubic(LR)`` (scaled to [-1, 1], optionally noised at the
    fixed timestep ``t_star`` with ``noise_std``) and the timestep, and outputs the
    HR image in one pass, parameterised as a residual over ``bicubic(LR)``.

    Parameters
    ----------
    scale : {2, 4}
    device : str
    block_out_channels, layers_per_block, norm_num_groups
        UNet architecture.
    t_star : int
        Fixed timestep given to the UNet.
    noise_std : float
        Standard deviation of Gaussian noise added to the input (0 = deterministic).
    res_scale : float
        Output residual is divided by this.
    seed : int
        Run seed of the input noise when ``noise_std > 0``; each tile's noise is
        seeded by ``(seed, tile id)``.
    color_fix : {"wavelet", "adain", "none"}
    """

    name = "onestep"

    def __init__(self, scale: int = 4, device: str = "cpu", in_channels: int = 3,
                 block_out_channels=(16, 32, 64), layers_per_block: int = 1,
                 norm_num_groups: int = 8, t_star: int = 200, noise_std: float = 0.0,
                 res_scale: float = 4.0, seed: int = 0, color_fix: str = "wavelet",
                 **_: Any) -> None:
        arch = _unet_arch(block_out_channels, layers_per_block, norm_num_groups)
        arch.update(
            t_star=check_number("t_star", t_star, lo=0, hi=MAX_TRAIN_TIMESTEPS, integer=True),
            noise_std=check_number("noise_std", noise_std, lo=0),
            res_scale=check_number("res_scale", res_scale, lo=0, lo_open=True))
        options = {"seed": check_seed(seed, error=SRError), "color_fix": color_fix}
        self._common_init(scale, device, in_channels, arch, options)
        self.net = build_unet(self.in_channels, self.in_channels, arch["block_out_channels"],
                              arch["layers_per_block"], arch["norm_num_groups"]).to(device)
        # zero the last conv: untrained model == bicubic
        import torch

        with torch.no_grad():
            self.net.conv_out.weight.zero_()
            self.net.conv_out.bias.zero_()
        self.net.eval()

    def train_forward(self, lr, generator=None):
        """Differentiable HR prediction (before colour fix).

        ``generator``: one ``torch.Generator`` (or None) or one per sample.
        """
        import torch

        up = bicubic_upsample(lr, self.scale)
        up_p, (h, w) = _pad_to_multiple(up, self._multiple)
        inp = up_p * 2 - 1
        if self.arch["noise_std"] > 0:
            noise = randn(inp.shape, generator, inp.device)
            inp = inp + self.arch["noise_std"] * noise
        t = torch.full((inp.shape[0],), self.arch["t_star"], device=inp.device,
                       dtype=torch.long)
        res = self.net(inp, t).sample[..., :h, :w]
        return up + res / self.arch["res_scale"], up

    def training_loss(self, lr, hr, generator=None, teacher=None, distill_weight=0.0,
                      pixel_loss: str = "l1", **_: Any):
        """L1 (or MSE) to the HR target (+ ``distill_weight`` * L1 to a teacher's prediction)."""
        import torch.nn.functional as F

        pred, _ = self.train_forward(lr, generator)
        loss = pixel_loss_fn(pixel_loss)(pred, hr)
        if teacher is not None and distill_weight > 0:
            target = teacher.predict(lr.detach())
            loss = loss + distill_weight * F.l1_loss(pred, target)
        return loss

    @property
    def stochastic(self) -> bool:
        """Whether its output depends on drawn noise: only with ``noise_std > 0`` (the
        shipped ``onestep`` has 0, so its "samples" are identical and a rescan plan
        from their spread proposed no rectangle at all)."""
        return self.arch["noise_std"] > 0

    def _forward(self, x, generators=None):
        y, up = self.train_forward(x, generators)
        return self._color_fix(y.float(), up)
