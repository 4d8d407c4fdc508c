"""UAED training loss: uncertainty-weighted, class-balanced BCE plus a sigma regulariser.

Formulation (after Zhou et al., CVPR 2023, and the RCF class balancing it builds on):

1. A logit is *sampled* with the reparameterisation trick,
   ``z = mu + sigma * eps`` with ``eps ~ N(0, 1)`` (``sample=False`` uses ``z = mu``).
2. RCF class-balancing weights, computed over the batch: boundary pixels get
   ``w+ = |neg| / |all|`` and background pixels ``w- = 1.1 * |pos| / |all|``.
3. The per-pixel weights are scaled by ``exp(min(sigma * ada, ada_clamp))`` with
   ``sigma`` detached, so pixels the model is unsure about are emphasised; ``ada``
   grows linearly with the epoch, ``ada = ada_max * (epoch + 1) / n_epochs``.
4. A regulariser ``sum(w * (sigma - sigma_target)**2)`` pulls the dispersion towards
   the annotation spread. With a single annotation per image (our case)
   ``sigma_target = 0``: the network is only uncertain where the data term pays
   for it. Its weight follows a cosine schedule from ``std_weight`` (epoch 0) to
   ``std_weight_final`` (last epoch).
5. Optional focal modulation ``(1 - p_t) ** focal_gamma`` of the BCE term.
6. Optional connectivity term ``connectivity_weight * soft_cldice_loss(p, target)`` on
   ``p = sigmoid(mu)`` (:func:`soft_cldice_loss`: clDice, Shit et al., CVPR 2021),
   which prices a gap by the skeleton length it cuts rather than by its pixels.
7. Optional overlap term ``overlap_weight * soft_dice_loss(p, target)``
   (:func:`soft_dice_loss`; Dice = 2 TP / (2 TP + FP + FN)): a false boundary pixel costs
   about as much as a missed one (within 2x: a missed one also lowers TP), whereas the
   class-balanced BCE prices a background pixel about four times lower than a boundary
   pixel on the TBM masks (18 % boundary).

Both terms are summed over pixels (as in RCF/UAED) and divided by the number of
pixels, so the value does not depend on the crop size.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["class_balanced_weights", "uaed_loss", "cosine_weight", "ada_schedule",
           "soft_skeleton", "soft_cldice_loss", "soft_dice_loss"]

#: Erosion steps of :func:`soft_skeleton` in the connectivity term (boundaries of the
#: training masks are 3-5 px wide: a few steps thin them to their centre lines).
CLDICE_ITERATIONS = 5


def class_balanced_weights(target: torch.Tensor) -> torch.Tensor:
    """RCF class-balancing weights for a binary target.

    Parameters
    ----------
    target : torch.Tensor
        ``(B, 1, H, W)`` with 1 on boundaries, 0 elsewhere (values > 0.5 count as
        boundary).

    Returns
    -------
    torch.Tensor
        Weights of the same shape: ``|neg|/|all|`` on boundary pixels and
        ``1.1 * |pos|/|all|`` on background pixels (counts over the batch).
    """
    pos = (target > 0.5).to(torch.float32)
    n_all = float(pos.numel())
    n_pos = pos.sum()
    n_neg = n_all - n_pos
    w_pos = n_neg / n_all
    w_neg = 1.1 * n_pos / n_all
    return pos * w_pos + (1.0 - pos) * w_neg


def _soft_erode(x: torch.Tensor) -> torch.Tensor:
    return torch.minimum(-F.max_pool2d(-x, (3, 1), 1, (1, 0)),
                         -F.max_pool2d(-x, (1, 3), 1, (0, 1)))


def _soft_open(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(_soft_erode(x), 3, 1, 1)


def soft_skeleton(x: torch.Tensor, iterations: int = CLDICE_ITERATIONS) -> torch.Tensor:
    """Differentiable skeleton of a soft mask in [0, 1] (iterated min/max-pool
    morphology: what each erosion step removes beyond an opening is skeleton).

    Parameters
    ----------
    x : torch.Tensor
        ``(B, 1, H, W)`` soft mask.
    iterations : int
        Erosion steps (the thickest structure thinned is about ``2 * iterations`` px).

    Returns
    -------
    torch.Tensor
        The soft skeleton, same shape, in [0, 1].

    Examples
    --------
    >>> bar = torch.zeros(1, 1, 9, 9); bar[..., 3:6, :] = 1
    >>> skel = soft_skeleton(bar)
    >>> bool(skel[0, 0, 4, 2:7].min() > 0.5), float(skel[0, 0, 3, 4])
    (True, 0.0)
    """
    skel = F.relu(x - _soft_open(x))
    for _ in range(int(iterations)):
        x = _soft_erode(x)
        delta = F.relu(x - _soft_open(x))
        skel = skel + F.relu(delta - skel * delta)
    return skel


def soft_cldice_loss(prob: torch.Tensor, target: torch.Tensor,
                     iterations: int = CLDICE_ITERATIONS, smooth: float = 1.0) -> torch.Tensor:
    """clDice loss: 1 − harmonic mean of topology precision and sensitivity.

    Topology precision is the share of the predicted skeleton inside the target,
    sensitivity the share of the target's skeleton inside the prediction: a gap in a
    predicted boundary costs in proportion to the skeleton length it cuts, not to the
    boundary's thickness.

    Parameters
    ----------
    prob : torch.Tensor
        Predicted boundary probability, ``(B, 1, H, W)``.
    target : torch.Tensor
        Binary target, same shape.
    iterations : int
        Steps of :func:`soft_skeleton`.
    smooth : float
        Added to numerators and denominators (empty masks).

    Returns
    -------
    torch.Tensor
        Scalar in [0, 1] (0 for a perfect prediction).

    Examples
    --------
    >>> t = torch.zeros(1, 1, 16, 16); t[..., 7:10, :] = 1
    >>> float(soft_cldice_loss(t, t)) < 1e-6
    True
    >>> gap = t.clone(); gap[..., 6:10] = 0
    >>> float(soft_cldice_loss(gap, t)) > 0.1
    True
    """
    prob = prob.float()  # the sums overflow in float16
    target = (target > 0.5).to(prob.dtype)
    skel_pred = soft_skeleton(prob, iterations)
    skel_true = soft_skeleton(target, iterations)
    tprec = ((skel_pred * target).sum() + smooth) / (skel_pred.sum() + smooth)
    tsens = ((skel_true * prob).sum() + smooth) / (skel_true.sum() + smooth)
    return 1.0 - 2.0 * tprec * tsens / (tprec + tsens)


def soft_dice_loss(prob: torch.Tensor, target: torch.Tensor,
                   smooth: float = 1.0) -> torch.Tensor:
    """Soft Dice loss over the batch: ``1 − (2 Σ p t + s) / (Σ p + Σ t + s)``.

    Unlike the class-balanced BCE it is not a sum over pixels: it compares the predicted
    boundary mass with the target's, so a map that marks too much (or too little) as
    boundary pays in proportion, whatever the class frequencies.

    Parameters
    ----------
    prob : torch.Tensor
        Predicted boundary probability, ``(B, 1, H, W)``.
    target : torch.Tensor
        Binary target, same shape (values > 0.5 count as boundary).
    smooth : float
        ``s``, added to numerator and denominator (empty masks).

    Returns
    -------
    torch.Tensor
        Scalar in [0, 1] (0 for a perfect binary prediction).

    Examples
    --------
    >>> t = torch.zeros(1, 1, 16, 16); t[..., 7:10, :] = 1
    >>> float(soft_dice_loss(t, t)) < 1e-6
    True
    >>> wide = torch.zeros_like(t); wide[..., 4:13, :] = 1  # three times too thick
    >>> round(float(soft_dice_loss(wide, t)), 2)
    0.5
    """
    prob = prob.float()
    target = (target > 0.5).to(prob.dtype)
    inter = (prob * target).sum()
    return 1.0 - (2.0 * inter + smooth) / (prob.sum() + target.sum() + smooth)


def ada_schedule(epoch: int, n_epochs: int, ada_max: float = 1.0) -> float:
    """Uncertainty-emphasis factor, growing linearly: ``ada_max * (epoch+1)/n_epochs``."""
    n_epochs = max(int(n_epochs), 1)
    return float(ada_max) * min(epoch + 1, n_epochs) / n_epochs


def cosine_weight(epoch: int, n_epochs: int, start: float, final: float) -> float:
    """Cosine schedule from ``start`` at epoch 0 to ``final`` at the last epoch."""
    if n_epochs <= 1:
        return float(final if epoch > 0 else start)
    t = min(max(epoch / (n_epochs - 1), 0.0), 1.0)
    return float(final + 0.5 * (start - final) * (1.0 + math.cos(math.pi * t)))


def uaed_loss(
    logit: torch.Tensor,
    sigma: torch.Tensor,
    target: torch.Tensor,
    *,
    epoch: int,
    n_epochs: int,
    ada_max: float = 1.0,
    ada_clamp: float = 5.0,
    std_weight: float = 1.0,
    std_weight_final: float = 0.1,
    focal_gamma: float = 0.0,
    connectivity_weight: float = 0.0,
    overlap_weight: float = 0.0,
    sigma_target: torch.Tensor | float = 0.0,
    sample: bool = True,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """UAED loss for one batch.

    Parameters
    ----------
    logit : torch.Tensor
        Mean logit ``mu``, ``(B, 1, H, W)``.
    sigma : torch.Tensor
        Dispersion from the model (already positive: ``softplus(raw) + 1e-3``),
        same shape.
    target : torch.Tensor
        Binary boundary target, same shape (1 = boundary).
    epoch, n_epochs : int
        Current epoch (0-based) and the total, for the ``ada`` and regulariser
        schedules.
    ada_max : float
        Final value of the uncertainty-emphasis factor ``ada``.
    ada_clamp : float
        Upper clamp of ``sigma * ada`` inside the exponential (keeps weights finite).
    std_weight, std_weight_final : float
        Weight of the sigma regulariser at the first and the last epoch (cosine).
    focal_gamma : float
        Focal modulation exponent (0 = plain BCE).
    connectivity_weight : float
        Weight of :func:`soft_cldice_loss` on ``sigmoid(logit)`` (0 = off).
    overlap_weight : float
        Weight of :func:`soft_dice_loss` on ``sigmoid(logit)`` (0 = off).
    sigma_target : tensor or float
        Target dispersion (annotation spread); 0 for single annotations.
    sample : bool
        Sample the logit ``mu + sigma * eps`` (training) or use ``mu``.
    generator : torch.Generator, optional
        Random generator for ``eps``.

    Returns
    -------
    loss : torch.Tensor
        Scalar loss.
    parts : dict
        ``{"bce": ..., "std": ..., "ada": ..., "std_weight": ...}`` as floats, and
        ``"cldice"`` when ``connectivity_weight`` > 0, ``"dice"`` when
        ``overlap_weight`` > 0.
    """
    if logit.shape != target.shape or sigma.shape != target.shape:
        raise ValueError(
            f"logit {tuple(logit.shape)}, sigma {tuple(sigma.shape)} and target "
            f"{tuple(target.shape)} must have the same shape"
        )
    logit = logit.float()
    sigma = sigma.float()
    target = (target > 0.5).float()
    base = class_balanced_weights(target)
    ada = ada_schedule(epoch, n_epochs, ada_max)
    weight = base * torch.exp(torch.clamp(sigma.detach() * ada, max=ada_clamp))
    if sample:
        eps = torch.randn(logit.shape, generator=generator, device=logit.device,
                          dtype=logit.dtype) if generator is not None else torch.randn_like(logit)
        z = logit + sigma * eps
    else:
        z = logit
    bce = F.binary_cross_entropy_with_logits(z, target, reduction="none")
    if focal_gamma > 0:
        p = torch.sigmoid(z)
        p_t = p * target + (1 - p) * (1 - target)
        bce = bce * (1 - p_t).pow(focal_gamma)
    n = float(target.numel())
    bce_term = (bce * weight).sum() / n
    std_term = (base * (sigma - sigma_target) ** 2).sum() / n
    sw = cosine_weight(epoch, n_epochs, std_weight, std_weight_final)
    loss = bce_term + sw * std_term
    parts = {"bce": float(bce_term.detach()), "std": float(std_term.detach()), "ada": ada,
             "std_weight": sw}
    if connectivity_weight > 0:
        cl = soft_cldice_loss(torch.sigmoid(logit), target)
        loss = loss + connectivity_weight * cl
        parts["cldice"] = float(cl.detach())
    if overlap_weight > 0:
        dice = soft_dice_loss(torch.sigmoid(logit), target)
        loss = loss + overlap_weight * dice
        parts["dice"] = float(dice.detach())
    return loss, parts
