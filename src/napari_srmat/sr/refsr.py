"""Reference-based super-resolution (model kind ``refsr``), TTSR-like texture transfer.

A high-resolution reference micrograph of the same material lends its texture to the
LR input (Yang et al., "Learning Texture Transformer Network for Image
Super-Resolution", CVPR 2020), in a small CPU-sized form:

* **Learnable texture extractor** ``enc`` (three 3x3 convolutions) maps LR-scale images
  to features. Queries ``Q = enc(LR)``; keys ``K = enc(bicubic_down(Ref))`` (the
  reference brought to the input's scale); values ``V = pixel_unshuffle(tex(Ref))``
  (features of the HR reference, one ``s x s`` HR block per LR position).
* **Relevance attention** over unfolded 3x3 patches: ``R = <Q_i / |Q_i|, K_j / |K_j|>``.
  Hard attention picks ``j* = argmax_j R`` and transfers ``V_{j*}``; soft attention
  weights it by the confidence ``S = max_j R``.
* **Fusion**: an EDSR-lite branch on the LR input, concatenated with ``S * V_{j*}``, then
  a pixel-shuffle tail added to bicubic(LR). The tail is zero-initialised: an untrained
  model equals bicubic.

No pretrained VGG is used (none can be downloaded here): the extractor is trained from
scratch on the project's own micrographs, **self-supervised** -- end to end through the
SR loss (as TTSR's learnable texture extractor) plus a contrastive term (InfoNCE between
the two halves of each training crop: two views of the same material are positives, the
other crops of the batch negatives). The same features, pooled (channel mean and
standard deviation), give the **embedding** that picks the reference from a folder
(:func:`pick_reference`).

Training needs no reference pairs: the keys and values of each batch are the other
crops of the batch (a sample never attends to itself). At inference the reference
features are computed once per run (:meth:`RefSR.set_reference`), not per tile, and
every tile attends to the same reference.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import Option, not_found_message, worded_error
from .base import SRError, TorchSRModel, check_number, pixel_loss_fn, to_tensor
from .classic import bicubic_upsample
from .cnn import residual_block

__all__ = ["RefSR", "build_refsr", "pick_reference", "use_reference", "embedding_similarity",
           "MAX_REFERENCE_KEYS", "QUERY_CHUNK", "CONTRAST_WEIGHT", "EMBED_MAX_PX",
           "REFERENCE_CONTROL", "REFERENCE"]

#: The Super-resolution widget's field of the reference folder, as labelled.
REFERENCE_CONTROL = "Reference"
#: How a refsr model is given its reference, for each caller
#: (:func:`napari_srmat.errors.worded_error`).
REFERENCE = Option("call set_reference(image) or use_reference_dir(image, DIR)",
                   "give --reference DIR", f"choose a folder in '{REFERENCE_CONTROL}'")

#: Most reference positions (keys) the attention searches: larger references are
#: centre-cropped to ``sqrt(MAX_REFERENCE_KEYS) * scale`` HR px per side.
MAX_REFERENCE_KEYS = 128 * 128
#: Queries per attention block (bounds the memory of the relevance matrix).
QUERY_CHUNK = 1024
#: Weight of the contrastive (InfoNCE) term of the training loss.
CONTRAST_WEIGHT = 0.1
#: Temperature of the InfoNCE term.
CONTRAST_TEMPERATURE = 0.1
#: Side (px) of the centre crop of an image that is embedded to pick a reference.
EMBED_MAX_PX = 512
#: Scaling of each residual branch of the reconstruction body (as ``cnn``'s default).
REFSR_RES_SCALE = 0.2


def build_refsr(scale: int = 4, in_channels: int = 3, n_feats: int = 32, n_blocks: int = 4,
                t_feats: int = 16, v_feats: int = 4):
    """Build the texture-transfer network (a ``torch.nn.Module``).

    Parameters
    ----------
    scale : {2, 4}
    in_channels : int
    n_feats, n_blocks
        EDSR-lite branch on the LR input.
    t_feats : int
        Channels of the texture extractor (queries and keys).
    v_feats : int
        Channels of the HR value features (``v_feats * scale**2`` per LR position).
    """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = scale
            self.enc = nn.Sequential(
                nn.Conv2d(in_channels, t_feats, 3, padding=1), nn.ReLU(),
                nn.Conv2d(t_feats, t_feats, 3, padding=1), nn.ReLU(),
                nn.Conv2d(t_feats, t_feats, 3, padding=1))
            self.tex = nn.Sequential(
                nn.Conv2d(in_channels, v_feats, 3, padding=1), nn.ReLU(),
                nn.Conv2d(v_feats, v_feats, 3, padding=1))
            self.head = nn.Conv2d(in_channels, n_feats, 3, padding=1)
            self.body = nn.Sequential(*[residual_block(n_feats, REFSR_RES_SCALE)
                                        for _ in range(n_blocks)])
            self.fuse = nn.Conv2d(n_feats + v_feats * scale * scale, n_feats, 3, padding=1)
            self.tail = nn.Conv2d(n_feats, in_channels * scale * scale, 3, padding=1)
            self.up = nn.PixelShuffle(scale)
            nn.init.zeros_(self.tail.weight)
            nn.init.zeros_(self.tail.bias)

        def queries(self, lr):
            """Unfolded, normalised 3x3 patches of ``enc(lr)``: ``(B, h*w, t*9)``."""
            q = nn.functional.unfold(self.enc(lr * 2 - 1), 3, padding=1)
            return nn.functional.normalize(q, dim=1).transpose(1, 2)

        def values(self, hr):
            """HR value features at LR positions: ``(B, h*w, v*s*s)``."""
            v = nn.functional.pixel_unshuffle(self.tex(hr * 2 - 1), self.scale)
            return v.flatten(2).transpose(1, 2)

        def embed(self, lr):
            """Pooled texture embedding ``(B, 2*t)`` (channel mean and std), unit norm."""
            f = self.enc(lr * 2 - 1).flatten(2)
            e = torch.cat([f.mean(-1), f.std(-1, unbiased=False)], dim=1)
            return nn.functional.normalize(e, dim=1)

        def fused(self, lr, transferred, confidence):
            """SR output from the LR input and the transferred texture ``(B, v*s*s, h, w)``."""
            f = self.head(lr * 2 - 1)
            f = f + self.body(f)
            f = torch.relu(self.fuse(torch.cat([f, transferred * confidence], dim=1)))
            return bicubic_upsample(lr, self.scale) + self.up(self.tail(f))

    return Net()


def _attend(q, k, v, exclude=None):
    """Hard + soft attention of queries ``(n, d)`` over keys ``(N, d)``, values ``(N, c)``.

    ``exclude``: optional bool ``(n, N)`` of pairs that may not be matched. Returns the
    transferred values ``(n, c)`` and the confidence ``(n,)``.
    """
    rel = q @ k.T
    if exclude is not None:
        rel = rel.masked_fill(exclude, -2.0)
    conf, idx = rel.max(dim=1)
    return v[idx], conf


def _hr_rgb(image: Any, name: str = "reference") -> np.ndarray:
    """An image as float32 ``(H, W, 3)`` in [0, 1] (grey repeated; the io rules, the
    float rule included: a 0-1000 float reference was used as it was); ``name``: what
    an error calls it (the LR input is ``"image"``, not a reference)."""
    from ..io import as_rgb, check_pixel_values, to_float01

    check_pixel_values(image, name=name)
    return to_float01(as_rgb(image))


def _centre_crop(a: np.ndarray, side: int, multiple: int = 1) -> np.ndarray:
    h, w = a.shape[:2]
    ch, cw = min(h, side), min(w, side)
    ch, cw = ch - ch % multiple, cw - cw % multiple
    if ch < 3 * multiple or cw < 3 * multiple:
        raise SRError(f"image {h}x{w} is too small (at least {3 * multiple} px per side)")
    y, x = (h - ch) // 2, (w - cw) // 2
    return a[y:y + ch, x:x + cw]


def _read_centre(path: str | os.PathLike, side: int) -> np.ndarray:
    """The central ``side x side`` window of an image file (read lazily, never whole), as
    stored (:func:`_hr_rgb` applies the io rules)."""
    from ..io import read_image

    data = read_image(path).data
    h, w = (int(v) for v in data.shape[:2])
    y, x = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return np.asarray(data[y:y + side, x:x + side])


def _nchw(a: np.ndarray, device: str):
    return to_tensor(np.ascontiguousarray(a.transpose(2, 0, 1))[None], device)


class RefSR(TorchSRModel):
    """Reference-based (texture-transfer) super-resolution, x2 or x4.

    Call :meth:`set_reference` (an HR image of the same material, at the *output* pixel
    size) or :meth:`use_reference_dir` before :meth:`predict`.

    Parameters
    ----------
    scale : {2, 4}
    device : str
    in_channels : int
    n_feats, n_blocks, t_feats, v_feats
        Architecture (see :func:`build_refsr`).
    contrast_weight : float
        Weight of the contrastive term of the training loss.
    """

    name = "refsr"
    supported_scales = (2, 4)
    #: The model needs a reference image before it can predict.
    needs_reference = True

    def __init__(self, scale: int = 4, device: str = "cpu", in_channels: int = 3,
                 n_feats: int = 32, n_blocks: int = 4, t_feats: int = 16, v_feats: int = 4,
                 contrast_weight: float = CONTRAST_WEIGHT, **_: Any) -> None:
        super().__init__(scale=scale, device=device, in_channels=in_channels)
        if self.in_channels != 3:
            raise SRError(f"refsr works on RGB (3 channels), got in_channels={in_channels}")
        self.arch = {"n_feats": check_number("n_feats", n_feats, lo=1, integer=True),
                     "n_blocks": check_number("n_blocks", n_blocks, lo=0, integer=True),
                     "t_feats": check_number("t_feats", t_feats, lo=1, integer=True),
                     "v_feats": check_number("v_feats", v_feats, lo=1, integer=True),
                     "contrast_weight": check_number("contrast_weight", contrast_weight,
                                                     lo=0)}
        arch = {k: v for k, v in self.arch.items() if k != "contrast_weight"}
        self.net = build_refsr(self.scale, self.in_channels, **arch).to(device).eval()
        # queries: enc (3 convs) + 3x3 unfold; LR branch: head + 2 per block; fuse + tail
        self.receptive_field = max(4, 1 + 2 * self.arch["n_blocks"]) + 2 + 2
        self._ref: np.ndarray | None = None
        self._bank = None
        self._bank_key: tuple | None = None

    # -- reference -----------------------------------------------------------------
    def set_reference(self, image: Any, name: str | None = None) -> None:
        """Use ``image`` (HR, same pixel size as the output) as the texture reference.

        Parameters
        ----------
        image : array-like
            ``(H, W)`` or ``(H, W, C)`` (uint8/uint16/float in [0, 1]); centre-cropped
            to ``sqrt(MAX_REFERENCE_KEYS) * scale`` px per side. Its features are
            computed once (on the first prediction), not per tile.
        name : str, optional
            Where it came from (recorded in ``options["reference"]``).
        """
        side = int(round(MAX_REFERENCE_KEYS ** 0.5)) * self.scale
        ref = _centre_crop(_hr_rgb(image), side, self.scale)
        self._ref = np.ascontiguousarray(ref, dtype=np.float32)
        self._bank = self._bank_key = None
        self.options["reference"] = name or f"<array {tuple(np.shape(image))}>"
        self.options["reference_sha256"] = hashlib.sha256(self._ref.tobytes()).hexdigest()[:32]

    def use_reference_dir(self, image: Any, folder: str | os.PathLike) -> dict[str, Any]:
        """Pick the reference for ``image`` from ``folder`` and use it.

        Returns
        -------
        dict
            ``reference`` (path) and ``similarity`` (cosine of the embeddings) of the
            chosen file and ``scores`` (path -> similarity) of all candidates.
        """
        best, scores = pick_reference(self, image, folder)
        side = int(round(MAX_REFERENCE_KEYS ** 0.5)) * self.scale
        self.set_reference(_read_centre(best, side), name=str(best))
        return {"reference": str(best), "similarity": scores[str(best)], "scores": scores}

    def _get_bank(self):
        """Keys ``(N, t*9)`` and values ``(N, v*s*s)`` of the reference (cached).

        Recomputed only when the reference or the weights change (the parameters' version
        counters, e.g. after an EMA update in training).
        """
        import torch

        from .degrade import bicubic_downsample

        if self._ref is None:
            raise worded_error(SRError, "refsr needs a reference image: {reference}",
                               reference=REFERENCE)
        key = (self.options.get("reference_sha256"), str(self.device),
               tuple(p._version for p in self.net.parameters()))
        if self._bank is None or key != self._bank_key:
            with torch.no_grad():
                ref = _nchw(self._ref, self.device)
                k = self.net.queries(bicubic_downsample(ref, self.scale).clamp(0, 1))[0]
                v = self.net.values(ref)[0]
            self._bank, self._bank_key = (k, v), key
        return self._bank

    def weights_digest(self, network: str | None = None) -> str:
        """Digest of the weights and the reference (both decide the output; ``network``:
        :meth:`~napari_srmat.sr.base.TorchSRModel.weights_digest`)."""
        digest = super().weights_digest(network)
        ref = self.options.get("reference_sha256")
        return digest if ref is None else hashlib.sha256(
            f"{digest}:{ref}".encode()).hexdigest()[:32]

    def config(self) -> dict[str, Any]:
        """Checkpoint config (the reference is a run setting, not part of the model)."""
        cfg = super().config()
        for k in ("reference", "reference_sha256"):
            cfg["options"].pop(k, None)
        return cfg

    # -- inference -----------------------------------------------------------------
    def _forward(self, x):
        import torch

        k, v = self._get_bank()
        h, w = x.shape[-2:]
        q = self.net.queries(x)
        out_v, out_c = [], []
        for b in range(q.shape[0]):
            vs, cs = [], []
            for i in range(0, q.shape[1], QUERY_CHUNK):
                tv, tc = _attend(q[b, i:i + QUERY_CHUNK], k, v)
                vs.append(tv)
                cs.append(tc)
            out_v.append(torch.cat(vs).T.reshape(-1, h, w))
            out_c.append(torch.cat(cs).reshape(1, h, w))
        return self.net.fused(x, torch.stack(out_v), torch.stack(out_c))

    def embed(self, lr) -> np.ndarray:
        """Texture embeddings ``(B, 2*t_feats)`` of an LR-scale batch (unit norm)."""
        import torch

        x, _ = self._adapt_channels(to_tensor(lr, self.device))
        with torch.no_grad():
            return self.net.embed(x).cpu().numpy()

    # -- training ------------------------------------------------------------------
    def train_forward(self, lr, generator=None, hr=None):
        """Differentiable forward in training: each sample attends to the other samples'
        HR crops (``hr``), never to itself. Returns ``(sr, None)``."""
        import torch

        from .degrade import bicubic_downsample

        if hr is None:
            raise SRError("refsr training needs the HR batch (the references)")
        b, _, h, w = lr.shape
        if b < 2:
            raise SRError("refsr training needs batch_size >= 2 (the other crops of the batch "
                          "are the references)")
        q = self.net.queries(lr)  # (B, hw, d)
        k = self.net.queries(bicubic_downsample(hr, self.scale).clamp(0, 1)).reshape(b * h * w,
                                                                                    -1)
        v = self.net.values(hr).reshape(b * h * w, -1)
        owner = torch.arange(b, device=lr.device).repeat_interleave(h * w)
        tvs, tcs = [], []
        for i in range(b):
            exclude = (owner == i)[None, :].expand(h * w, -1)
            tv, tc = _attend(q[i], k, v, exclude)
            tvs.append(tv.T.reshape(-1, h, w))
            tcs.append(tc.reshape(1, h, w))
        return self.net.fused(lr, torch.stack(tvs), torch.stack(tcs)), None

    def contrastive_loss(self, lr):
        """InfoNCE between the left and right halves of each crop (same material)."""
        import torch
        import torch.nn.functional as F

        w = lr.shape[-1] // 2
        a, p = self.net.embed(lr[..., :w]), self.net.embed(lr[..., w:2 * w])
        logits = a @ p.T / CONTRAST_TEMPERATURE
        target = torch.arange(lr.shape[0], device=lr.device)
        return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))

    def training_loss(self, lr, hr, pixel_loss: str = "l1", **_: Any):
        """Pixel loss of the texture-transfer output + ``contrast_weight`` * InfoNCE."""
        pred, _ = self.train_forward(lr, hr=hr)
        loss = pixel_loss_fn(pixel_loss)(pred, hr)
        if self.arch["contrast_weight"] > 0 and lr.shape[0] > 1:
            loss = loss + self.arch["contrast_weight"] * self.contrastive_loss(lr)
        return loss


def embedding_similarity(model: RefSR, image: Any, reference: Any) -> float:
    """Cosine similarity of the texture embeddings of an LR ``image`` and an HR ``reference``.

    The reference is brought to the image's scale (antialiased bicubic downsampling by
    ``model.scale``) before it is embedded; both are centre-cropped to
    :data:`EMBED_MAX_PX`.
    """
    return float(_embed_lr(model, image) @ _embed_hr(model, reference))


def _embed_lr(model: RefSR, image: Any) -> np.ndarray:
    a = _centre_crop(_hr_rgb(image, name="image"), EMBED_MAX_PX)  # the LR input
    return model.embed(a.transpose(2, 0, 1)[None])[0]


def _embed_hr(model: RefSR, reference: Any) -> np.ndarray:
    from .degrade import bicubic_downsample

    a = _centre_crop(_hr_rgb(reference), EMBED_MAX_PX * model.scale, model.scale)
    lr = bicubic_downsample(_nchw(a, "cpu"), model.scale).clamp(0, 1)
    return model.embed(lr)[0]


def pick_reference(model: RefSR, image: Any, folder: str | os.PathLike
                   ) -> tuple[Path, dict[str, float]]:
    """The file of ``folder`` whose texture embedding is closest to ``image``'s.

    Parameters
    ----------
    model : RefSR
        Its extractor gives the embeddings.
    image : array-like
        The LR input (``(H, W)`` or ``(H, W, C)``; numpy, Dask or Zarr: only a centre
        crop of :data:`EMBED_MAX_PX` px is read).
    folder : path-like
        Candidate HR references (PNG/JPEG/TIFF, non-recursive), at the output pixel
        size (``scale`` times finer than ``image``); only their central
        ``EMBED_MAX_PX * scale`` px window is read.

    Returns
    -------
    best : Path
    scores : dict
        Path (str) -> cosine similarity, for every candidate.

    Raises
    ------
    SRError
        The folder does not exist or holds no images; a candidate that cannot be a
        reference (too small, values the float rule refuses, unreadable), naming it.
    """
    from ..io import IMAGE_SUFFIXES

    d = Path(folder)
    if not d.is_dir():
        raise SRError(f"reference {d} is a file, not a folder of HR micrographs"
                      if d.exists() else not_found_message(d, "reference folder"))
    files = sorted(f for f in d.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SRError(f"no reference images (PNG/JPEG/TIFF) in {d}")
    if not hasattr(image, "shape"):
        image = np.asarray(image)
    h, w = (int(v) for v in image.shape[:2])
    y, x = max(0, (h - EMBED_MAX_PX) // 2), max(0, (w - EMBED_MAX_PX) // 2)
    crop = np.asarray(image[y:y + EMBED_MAX_PX, x:x + EMBED_MAX_PX])
    e = _embed_lr(model, crop)
    side = EMBED_MAX_PX * model.scale
    scores = {}
    for f in files:
        try:  # an error of one candidate (too small, float 0-255, unreadable) names it
            scores[str(f)] = float(e @ _embed_hr(model, _read_centre(f, side)))
        except (ValueError, OSError) as exc:
            raise SRError(f"reference {f}: {exc}") from None
    best = max(files, key=lambda f: (scores[str(f)], -files.index(f)))
    return best, scores


def use_reference(model: Any, image: Any, folder: str | os.PathLike | None, *,
                  option: str = "a reference folder") -> dict[str, Any] | None:
    """Give ``model`` its reference from ``folder`` when it needs one (the one rule for
    the CLI's ``--reference`` and the widget's reference folder).

    Parameters
    ----------
    model : SRModel
        Any SR model; only those with ``needs_reference`` (``refsr``) take a reference.
    image : array-like
        The LR input the reference is picked for.
    folder : path or None
        HR micrographs of the same material.
    option : str
        How the caller names the folder in error messages (e.g. ``"--reference DIR"``).

    Returns
    -------
    dict or None
        :meth:`RefSR.use_reference_dir`'s pick, or None for a model without references.

    Raises
    ------
    SRError
        A folder for a model that takes none, or none for a model that needs one.
    """
    if not getattr(model, "needs_reference", False):
        if folder is not None:
            raise SRError(f"{option} applies to the refsr model only, not {model.name}")
        return None
    if folder is None:
        raise SRError(f"{model.name} needs {option} (HR micrographs of the same material)")
    return model.use_reference_dir(image, folder)
