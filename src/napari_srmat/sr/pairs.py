"""Training SR from real LR/HR acquisitions (registered pairs) instead of degradation.

A pairs file is a CSV with one LR path and one HR path per row (an optional header
row ``lr,hr``; relative paths are relative to the CSV's folder). Each pair is
registered (:func:`napari_srmat.sr.registration.register_images`, scale searched
from S/1.1 to S*1.1 around the training scale S: ``HINT_TOLERANCE``) or, with
``register=False``, assumed aligned at the training scale (LR pixel ``(i, j)`` covers
HR pixels ``[i*s, (i+1)*s)``).
The HR image is then resampled onto the exact ``scale``-times finer grid of the LR
pixels that it covers (cubic spline; an identity copy when the pair is already
exactly aligned), so that LR crop ``[y:y+p/s, x:x+p/s]`` matches HR crop
``[y*s:(y+p/s)*s, ...]``. :class:`PairSampler` draws such aligned crops with the
same flips and 90-degree rotations for both.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import not_found_message
from ..io import as_rgb, to_float01
from .base import SRError
from .registration import MIN_MATCH_SSIM

__all__ = ["AlignedPair", "read_pairs_csv", "align_pair", "load_pairs", "PairSampler",
           "PAIR_SCALE_TOLERANCE", "PAIR_MIN_SSIM"]

#: A registered scale more than this far (relative) from the training scale is refused.
PAIR_SCALE_TOLERANCE = 0.05
#: Pairs whose registration SSIM is below this are refused (not the same area): the
#: registration's own poor-match limit.
PAIR_MIN_SSIM = MIN_MATCH_SSIM


@dataclass
class AlignedPair:
    """An LR image and its HR counterpart on the exact ``scale``-times finer grid.

    Attributes
    ----------
    lr : ndarray
        float32 ``(h, w, 3)`` in [0, 1].
    hr : ndarray
        float32 ``(h * scale, w * scale, 3)`` in [0, 1].
    registration : dict or None
        :meth:`Registration.to_dict` of the pair without its ``doubts`` (an accepted
        pair has none; None when assumed aligned).
    source : tuple of str
        The two paths.
    """

    lr: np.ndarray
    hr: np.ndarray
    registration: dict | None
    source: tuple[str, str]


def read_pairs_csv(path: str | os.PathLike) -> list[tuple[Path, Path]]:
    """``(lr_path, hr_path)`` rows of a pairs CSV (header ``lr,hr`` optional).

    Raises
    ------
    SRError
        Missing file, a row without two paths, a missing image, or no rows.
    """
    path = Path(path)
    if not path.is_file():
        raise SRError(not_found_message(path, "pairs file"))
    rows: list[tuple[Path, Path]] = []
    with path.open(newline="") as fh:
        for k, row in enumerate(csv.reader(fh), start=1):
            cells = [c.strip() for c in row if c.strip()]
            if not cells or cells[0].startswith("#"):
                continue
            if k == 1 and [c.lower() for c in cells[:2]] == ["lr", "hr"]:
                continue
            if len(cells) != 2:
                raise SRError(f"{path}, row {k}: expected 'LR path, HR path', got {row}")
            pair = tuple(p if p.is_absolute() else path.parent / p
                         for p in (Path(cells[0]), Path(cells[1])))
            for p in pair:
                if not p.exists():
                    raise SRError(f"{path}, row {k}: {not_found_message(p, 'image')}")
            rows.append(pair)  # type: ignore[arg-type]
    if not rows:
        raise SRError(f"{path}: no LR/HR pairs")
    return rows


def _rgb(img) -> np.ndarray:
    return to_float01(as_rgb(img), dtype=np.float32)


def align_pair(lr, hr, scale: int, *, register: bool = True,
               source: tuple[str, str] = ("", "")) -> AlignedPair:
    """Put ``hr`` on the exact ``scale``-times finer grid of ``lr`` (cropped to the overlap).

    Parameters
    ----------
    lr, hr : array-like
        ``(H, W)`` or ``(H, W, C)`` images.
    scale : int
        Training scale.
    register : bool
        Register the pair (True) or assume it aligned at ``scale`` from the top-left.
    source : tuple of str
        Paths, for messages.

    Returns
    -------
    AlignedPair

    Raises
    ------
    SRError
        Registration fails, its scale differs from ``scale`` by more than
        ``PAIR_SCALE_TOLERANCE``, it is not trusted (``Registration.trusted``: its SSIM
        is below ``PAIR_MIN_SSIM`` or NaN, or it has ``doubts``: a scale at a limit of
        the range searched, images that look swapped), or the overlap is smaller than 8
        LR pixels.
    """
    from .registration import (
        RegistrationWarning,
        overlap_box,
        register_images,
        resample_fixed,
    )

    lr, hr = _rgb(lr), _rgb(hr)
    name = f"pair {source[0]} / {source[1]}" if any(source) else "pair"
    info = None
    if register:
        import warnings

        with warnings.catch_warnings():  # the scale and SSIM checks below decide
            warnings.simplefilter("ignore", RegistrationWarning)
            reg = register_images(lr, hr, scale=scale)
        # an accepted pair has no doubt: its record, compared by a resume, is the one
        # written before Registration.doubts (2026-12-07), which then resumes
        info = {k: v for k, v in reg.to_dict().items() if k != "doubts"}
        if abs(reg.scale / scale - 1) > PAIR_SCALE_TOLERANCE:
            raise SRError(f"{name}: registered scale {reg.scale:.3f} is not the training "
                          f"scale {scale}")
        if not reg.matched:  # a poor or NaN SSIM
            raise SRError(f"{name}: registration SSIM {reg.match_text()}: not the same area?")
        if not reg.trusted:  # the registration's one rule: a match with doubts
            raise SRError(f"{name}: registration not trusted: {'; '.join(reg.doubts)}")
        s_est, offset = reg.scale, reg.offset_px
    else:
        s_est, offset = float(scale), (0.0, 0.0)
    i0, i1, j0, j1 = overlap_box(lr.shape[:2], hr.shape[:2], s_est, offset, margin=0)
    # whole LR pixels only: the HR footprint of LR pixel i must lie inside HR
    while i1 > i0 and offset[0] + i1 * s_est > hr.shape[0] + 1e-6:
        i1 -= 1
    while j1 > j0 and offset[1] + j1 * s_est > hr.shape[1] + 1e-6:
        j1 -= 1
    while i0 < i1 and offset[0] + i0 * s_est < -1e-6:
        i0 += 1
    while j0 < j1 and offset[1] + j0 * s_est < -1e-6:
        j0 += 1
    if i1 - i0 < 8 or j1 - j0 < 8:
        raise SRError(f"{name}: LR and HR overlap by less than 8 LR pixels")
    lr_c = lr[i0:i1, j0:j1]
    exact = (not register) or (s_est == scale and float(offset[0]).is_integer()
                               and float(offset[1]).is_integer())
    if exact:
        y0, x0 = int(offset[0]) + i0 * scale, int(offset[1]) + j0 * scale
        hr_c = hr[y0:y0 + (i1 - i0) * scale, x0:x0 + (j1 - j0) * scale]
    else:
        # the HR grid of the LR pixels: HR-grid pixel u lies at LR position (u + .5)/s - .5
        hr_c = resample_fixed(hr, ((i1 - i0) * scale, (j1 - j0) * scale), s_est / scale,
                              (offset[0] + i0 * s_est, offset[1] + j0 * s_est), blur=False)
        hr_c = np.clip(hr_c, 0.0, 1.0)
    return AlignedPair(lr=np.ascontiguousarray(lr_c), hr=np.ascontiguousarray(hr_c),
                       registration=info, source=(str(source[0]), str(source[1])))


def load_pairs(path: str | os.PathLike, scale: int, *, register: bool = True
               ) -> list[AlignedPair]:
    """Read, register and align every pair of a pairs CSV (see the module docstring)."""
    from ..io import read_image

    out = []
    for lr_path, hr_path in read_pairs_csv(path):
        lr = np.asarray(read_image(lr_path).data)
        hr = np.asarray(read_image(hr_path).data)
        out.append(align_pair(lr, hr, scale, register=register,
                              source=(str(lr_path), str(hr_path))))
    return out


class PairSampler:
    """Random aligned LR/HR crops with the same flips and 90-degree rotations.

    Parameters
    ----------
    pairs : list of AlignedPair
    patch : int
        HR crop size (a multiple of ``scale``); smaller pairs are reflect-padded.
    scale : int
    seed : int
    """

    def __init__(self, pairs: list[AlignedPair], patch: int, scale: int, seed: int = 0
                 ) -> None:
        if not pairs:
            raise SRError("no training pairs")
        if patch % scale:
            raise SRError(f"patch {patch} must be a multiple of the scale {scale}")
        self.pairs = pairs
        self.patch = int(patch)
        self.scale = int(scale)
        self.rng = np.random.default_rng(seed)

    def sample(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """float32 ``(n, 3, patch/s, patch/s)`` LR and ``(n, 3, patch, patch)`` HR."""
        s, p = self.scale, self.patch
        q = p // s
        lr_out = np.empty((n, 3, q, q), np.float32)
        hr_out = np.empty((n, 3, p, p), np.float32)
        for k in range(n):
            pair = self.pairs[int(self.rng.integers(len(self.pairs)))]
            h, w = pair.lr.shape[:2]
            y = int(self.rng.integers(0, max(h - q, 0) + 1))
            x = int(self.rng.integers(0, max(w - q, 0) + 1))
            lr = pair.lr[y:y + q, x:x + q]
            hr = pair.hr[y * s:(y + q) * s, x * s:(x + q) * s]
            if lr.shape[0] < q or lr.shape[1] < q:
                lr = np.pad(lr, ((0, q - lr.shape[0]), (0, q - lr.shape[1]), (0, 0)),
                            mode="reflect")
                hr = np.pad(hr, ((0, p - hr.shape[0]), (0, p - hr.shape[1]), (0, 0)),
                            mode="reflect")
            rot = int(self.rng.integers(4))
            flip = self.rng.random() < 0.5
            lr, hr = np.rot90(lr, rot), np.rot90(hr, rot)
            if flip:
                lr, hr = lr[:, ::-1], hr[:, ::-1]
            lr_out[k] = np.transpose(lr, (2, 0, 1))
            hr_out[k] = np.transpose(hr, (2, 0, 1))
        return lr_out, hr_out
