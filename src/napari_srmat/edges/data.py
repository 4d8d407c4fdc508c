"""Data handling for boundary training: folders, arrays, synthetic images, augmentation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ..errors import check_seed, not_found_message
from ..io import (
    all_finite,
    as_rgb,
    check_channels_last,
    image_stem,
    images_by_stem,
    to_float01,
)

__all__ = [
    "BoundaryDataError",
    "BoundarySample",
    "to_model_image",
    "check_model_image_shape",
    "load_split",
    "check_has_boundaries",
    "mask_content_warnings",
    "synthetic_samples",
    "dilate_boundaries",
    "random_crop_augment",
    "PHOTOMETRIC_TRANSFORMS",
    "parse_photometric",
    "photometric_augment",
    "INPUT_NORMS",
    "channel_stats",
    "normalize_channels",
    "bright_level",
    "exposure_gain",
    "saturated_fraction",
    "colourfulness",
]

#: Input normalisations a boundary model can be trained with (``config["input_norm"]``):
#: ``"none"`` (the image in [0, 1] as it is) or ``"channels"`` (each channel shifted and
#: scaled to :data:`NORMALIZED_MEAN` / :data:`NORMALIZED_STD` over the whole image, see
#: :func:`normalize_channels`).
INPUT_NORMS = ("none", "channels")
#: Mean and standard deviation of every channel after :func:`normalize_channels`.
NORMALIZED_MEAN = 0.5
NORMALIZED_STD = 0.2
#: Pixels sampled (on a regular grid) for the channel statistics of a large image.
STATS_MAX_PIXELS = 1 << 20

class BoundaryDataError(ValueError):
    """Training/evaluation data is missing or inconsistent."""


@dataclass
class BoundarySample:
    """One training pair: float32 ``(3, H, W)`` image in [0, 1] and bool ``(H, W)`` mask."""

    image: np.ndarray
    mask: np.ndarray
    name: str = ""

    @cached_property
    def boundary_pixels(self) -> int:
        """The mask's boundary (True) pixels, counted once for the checks that read it
        (:func:`check_has_boundaries`, :func:`mask_content_warnings`); counted again when
        ``mask`` is set to another array (not when the array is changed in place)."""
        return int(np.count_nonzero(self.mask))

    def __setattr__(self, name: str, value: object) -> None:
        if name == "mask":  # a new mask: the count of the old one no longer holds
            self.__dict__.pop("boundary_pixels", None)
        super().__setattr__(name, value)


def to_model_image(image: np.ndarray) -> np.ndarray:
    """Convert an ``(H, W)`` / ``(H, W, C)`` image of any dtype to float32 ``(3, H, W)``.

    Values follow :func:`napari_srmat.io.to_float01` (integers scaled by their dtype
    maximum), clipped to [0, 1]; channels follow :func:`napari_srmat.io.as_rgb` (grey,
    also grey + alpha, repeated to 3 channels; alpha dropped).
    """
    a = np.asarray(image)
    check_model_image_shape(a.shape)
    a = np.clip(to_float01(as_rgb(a)), 0.0, 1.0)
    return np.ascontiguousarray(a.transpose(2, 0, 1))


def check_model_image_shape(shape: tuple[int, ...], name: str = "image") -> None:
    """Refuse a shape :func:`to_model_image` cannot take (checked without reading any
    pixel): ``(H, W)`` or ``(H, W, C)`` with 1 to 4 channels (grey, grey + alpha, RGB,
    RGBA). More channels, a channel-first array or a stack of planes are refused by the
    image-input rule (:func:`napari_srmat.io.check_channels_last`, its message naming
    ``name``). An empty image (a side of 0 px, no channel) is refused too.

    Raises
    ------
    BoundaryDataError
        Another number of dimensions, an empty image, or a 3-D array that is not one
        image (the message of :func:`~napari_srmat.io.check_channels_last`; a
        BoundaryDataError is a ValueError).
    """
    shape = tuple(shape)
    if len(shape) not in (2, 3):
        raise BoundaryDataError(f"expected an (H, W) or (H, W, C) image, got shape {shape}")
    check_channels_last(shape, name, error=BoundaryDataError)
    if min(shape) < 1:
        raise BoundaryDataError(f"the image is empty (shape {shape}): give an image of at "
                                "least 1 x 1 px and 1 channel")


def channel_stats(image, *, max_pixels: int = STATS_MAX_PIXELS) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each channel of a ``(3, H, W)`` model image.

    A large (NumPy, Dask or Zarr) image is sampled on a regular grid of at most
    ``max_pixels`` pixels, so the statistics of a whole mosaic cost one strided read.

    Parameters
    ----------
    image : array-like
        ``(C, H, W)`` float image in [0, 1] (what :func:`to_model_image` returns).
    max_pixels : int
        Largest number of pixels read.

    Returns
    -------
    mean, std : ndarray
        float64 ``(C,)`` each; ``std`` is at least 1e-6.

    Examples
    --------
    >>> import numpy as np
    >>> m, s = channel_stats(np.stack([np.zeros((4, 4)), np.eye(4), np.ones((4, 4))]))
    >>> m.round(3).tolist(), s.round(3).tolist()
    ([0.0, 0.25, 1.0], [0.0, 0.433, 0.0])
    """
    sample = _grid_sample(image, max_pixels).astype(np.float64).reshape(image.shape[0], -1)
    return sample.mean(1), np.maximum(sample.std(1), 1e-6)


def _grid_sample(image, max_pixels: int) -> np.ndarray:
    """The pixels of a ``(C, H, W)`` image on the regular grid of :func:`stats_step` (the
    one sampling rule of the whole-image statistics), as a numpy array."""
    step = stats_step(image.shape[1], image.shape[2], max_pixels)
    return np.asarray(image[:, ::step, ::step])


#: Percentile of an image's values taken as its bright level (:func:`bright_level`).
EXPOSURE_PERCENTILE = 99.5
#: Range of the bright level (:func:`bright_level`) of the tbm/train + val images the
#: shipped boundary model was trained on (measured on all 63).
TRAINING_BRIGHT_RANGE = (0.62, 0.92)
#: Bright level the boundary model is fed when an image is too dim: the median
#: :data:`EXPOSURE_PERCENTILE` of the tbm/train + val images.
EXPOSURE_TARGET = 0.80
#: Images whose bright level is below this are brightened to :data:`EXPOSURE_TARGET`
#: before the model (:func:`exposure_gain`). It lies just under every training image's
#: level (:data:`TRAINING_BRIGHT_RANGE`), so images like the training data are never
#: changed; a 12-bit camera image in a 16-bit file (bright level ~0.05) or an image
#: exposed at two thirds of the light is (``studies/exposure_sensitivity.py``: tbm
#: regions at 0.7 x their brightness read ℓ̄ up to 13 % long with a limit of 0.5).
EXPOSURE_DIM_LIMIT = 0.6
#: Largest gain :func:`exposure_gain` applies (8-bit values held in a 16-bit file need
#: about 300).
EXPOSURE_GAIN_LIMIT = 512.0


def bright_level(image, *, max_pixels: int = STATS_MAX_PIXELS) -> float:
    """The :data:`EXPOSURE_PERCENTILE` percentile of a ``(C, H, W)`` model image's values.

    Sampled on the regular grid of :func:`channel_stats` (one strided read of a large
    image); all channels pooled.

    Parameters
    ----------
    image : array-like
        ``(C, H, W)`` float image in [0, 1] (what :func:`to_model_image` returns).
    max_pixels : int
        Largest number of pixels read.

    Returns
    -------
    float
        In [0, 1] (NaN pixels are ignored; NaN when all are NaN).

    Examples
    --------
    >>> import numpy as np
    >>> bright_level(np.full((3, 8, 8), 0.25, np.float32))
    0.25
    """
    sample = _grid_sample(image, max_pixels).astype(np.float64)
    if not np.isfinite(sample).any():  # NaN, as documented; numpy would also warn
        return math.nan
    return float(np.nanpercentile(sample, EXPOSURE_PERCENTILE))


#: Fraction of saturated pixels (:func:`saturated_fraction`) above which a grain size is
#: flagged: tbm regions made brighter read ℓ̄ within -11 to +9 % while under 30 % of their
#: pixels clip, and half or more of them over 10 % off (up to 3 x too long) beyond
#: (``studies/exposure_sensitivity.py``); the training images have under 1 %.
SATURATED_FRACTION_LIMIT = 0.3


def saturated_fraction(image, *, max_pixels: int = STATS_MAX_PIXELS,
                       full_scale: float = 1.0) -> float:
    """Fraction of the pixels of a ``(C, H, W)`` model image with a channel at full scale.

    Saturated (clipped) areas hide the boundaries inside them. Sampled on the grid of
    :func:`channel_stats`.

    Parameters
    ----------
    image : array-like
        ``(C, H, W)`` float image in [0, 1] (what :func:`to_model_image` returns).
    max_pixels : int
        Largest number of pixels read.
    full_scale : float
        The value at which the sensor clips: 1.0, or for 12- or 14-bit data held in a
        16-bit file the image's own maximum.

    Returns
    -------
    float
        In [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((3, 4, 4), np.float32)
    >>> x[1, :2] = 1.0  # green clipped in the top half
    >>> saturated_fraction(x)
    0.5
    """
    return float((_grid_sample(image, max_pixels) >= full_scale).any(axis=0).mean())


#: Colourfulness (:func:`colourfulness`) under which an image counts as grey: grey
#: images give 0 (JPEG chroma noise a little more); the colour polarized-light images of
#: tbm/train + val lie at 0.097-0.371, the scans in no split at 0.136-0.436
#: (``studies/grey_input_check.py``).
GREY_COLOURFULNESS_LIMIT = 0.03


def colourfulness(image, *, max_pixels: int = STATS_MAX_PIXELS) -> float:
    """Mean spread between the channels of a ``(C, H, W)`` model image (0 for grey).

    The mean over the sampled pixels of ``max(channels) - min(channels)``: 0 for a grey
    image (one channel repeated), about 0.1-0.4 for polarized-light colour micrographs.
    Sampled on the grid of :func:`channel_stats`.

    Parameters
    ----------
    image : array-like
        ``(C, H, W)`` float image in [0, 1] (what :func:`to_model_image` returns).
    max_pixels : int
        Largest number of pixels read.

    Returns
    -------
    float
        In [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> colourfulness(np.full((3, 4, 4), 0.5, np.float32))
    0.0
    >>> colourfulness(np.stack([np.full((4, 4), v, np.float32) for v in (0.25, 0.5, 0.75)]))
    0.5
    """
    sample = _grid_sample(image, max_pixels).astype(np.float64)
    return float((sample.max(axis=0) - sample.min(axis=0)).mean())


def exposure_gain(image, *, max_pixels: int = STATS_MAX_PIXELS) -> float:
    """Factor that brings a too dim image to the brightness the boundary model knows.

    The boundary model was trained on images whose bright level (:func:`bright_level`)
    lies in :data:`TRAINING_BRIGHT_RANGE` (0.62-0.92), and its map depends on the
    exposure: at half the brightness the measured ℓ̄ of tbm/train + val regions is about
    28 % longer, at a quarter three times longer, and 12-bit data in a 16-bit file
    (bright level ~0.05) gives nonsense. An image whose bright level is under
    :data:`EXPOSURE_DIM_LIMIT` is therefore multiplied by
    ``EXPOSURE_TARGET / bright level`` (at most :data:`EXPOSURE_GAIN_LIMIT`) before the
    model; every other image gets 1. The gain is one number for the whole image (never
    per tile), so tiled maps have no seams.

    Parameters
    ----------
    image : array-like
        ``(C, H, W)`` float image in [0, 1] (what :func:`to_model_image` returns).
    max_pixels : int
        Largest number of pixels read.

    Returns
    -------
    float
        1.0, or the gain (> 1) for a dim image; 1.0 for an image with no bright pixels
        at all (nothing to scale).

    Examples
    --------
    >>> import numpy as np
    >>> exposure_gain(np.full((3, 8, 8), 0.7, np.float32))
    1.0
    >>> round(exposure_gain(np.full((3, 8, 8), 0.05, np.float32)), 2)  # 12-bit in 16-bit
    16.0
    """
    level = bright_level(image, max_pixels=max_pixels)
    if not level < EXPOSURE_DIM_LIMIT or level <= 0.0:  # also NaN: nothing to scale
        return 1.0
    return float(min(EXPOSURE_TARGET / level, EXPOSURE_GAIN_LIMIT))


def stats_step(height: int, width: int, max_pixels: int = STATS_MAX_PIXELS) -> int:
    """Grid step that samples at most ``max_pixels`` of a ``height x width`` image (the
    one sampling rule of :func:`channel_stats`)."""
    return max(1, int(np.ceil(np.sqrt(height * width / max_pixels))))


def normalization_affine(mean, std) -> tuple[np.ndarray, np.ndarray]:
    """``(scale, shift)`` (float32, shaped like ``mean``) with which ``x * scale + shift``
    has mean :data:`NORMALIZED_MEAN` and standard deviation :data:`NORMALIZED_STD` (the one
    formula of :func:`normalize_channels` and of the model's batch normalisation)."""
    mean, std = np.asarray(mean, np.float64), np.asarray(std, np.float64)
    return ((NORMALIZED_STD / std).astype(np.float32),
            (NORMALIZED_MEAN - mean * NORMALIZED_STD / std).astype(np.float32))


def normalize_channels(image: np.ndarray, stats=None) -> np.ndarray:
    """Shift and scale each channel to mean :data:`NORMALIZED_MEAN` and standard deviation
    :data:`NORMALIZED_STD` (``input_norm = "channels"``).

    Polarized-light micrographs differ between scans in brightness, contrast and colour
    cast; this removes those differences before the boundary model sees the image. The
    statistics are those of the whole image (:func:`channel_stats`), never of a tile or
    a crop, so tiled inference has no seams and does not depend on the tile size.

    Parameters
    ----------
    image : ndarray
        ``(C, H, W)`` float image (a tile of the image when ``stats`` is given).
    stats : tuple of ndarray, optional
        ``(mean, std)`` of the whole image; computed from ``image`` when omitted.

    Returns
    -------
    ndarray
        float32 ``(C, H, W)``, not clipped.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.stack([np.linspace(0.2, 0.4, 16).reshape(4, 4)] * 3)
    >>> y = normalize_channels(x)
    >>> round(float(y.mean()), 3), round(float(y.std()), 3)
    (0.5, 0.2)
    """
    scale, shift = normalization_affine(*(channel_stats(image) if stats is None else stats))
    x = np.asarray(image, np.float32)
    return x * scale[:, None, None] + shift[:, None, None]


def _read_image(path: Path) -> np.ndarray:
    from ..io import read_grey_or_rgb_float

    return read_grey_or_rgb_float(path)


def _read_mask(path: Path) -> np.ndarray:
    from ..io import read_mask

    return read_mask(path)


def list_image_mask_pairs(images_dir: str | Path, masks_dir: str | Path) -> list[tuple[Path, Path]]:
    """Pair images and masks by file stem.

    Raises
    ------
    BoundaryDataError
        If a folder is missing, empty, holds two files of one stem
        (:func:`napari_srmat.io.images_by_stem`), or an image has no mask.
    """
    images_dir, masks_dir = Path(images_dir), Path(masks_dir)
    for d in (images_dir, masks_dir):
        if not d.is_dir():
            raise BoundaryDataError(not_found_message(d, "folder"))
    images = images_by_stem(images_dir, BoundaryDataError)
    masks = images_by_stem(masks_dir, BoundaryDataError)
    if not images:
        raise BoundaryDataError(f"no images in {images_dir}")
    missing = [p.name for stem, p in images.items() if stem not in masks]
    if missing:
        raise BoundaryDataError(
            f"{len(missing)} image(s) in {images_dir} have no mask in {masks_dir}: "
            f"{', '.join(missing[:5])}"
        )
    return [(p, masks[stem]) for stem, p in images.items()]


def load_pairs(pairs: list[tuple[Path, Path]]) -> list[BoundarySample]:
    """Read image/mask pairs into memory, checking that their sizes agree."""
    out = []
    for ip, mp in pairs:
        img = to_model_image(_read_image(ip))
        # the paths, not the names: an image and its mask share the name (a.png)
        if not all_finite(img):
            raise BoundaryDataError(f"{ip}: image has NaN or infinite pixels")
        m = _read_mask(mp)
        if m.shape != img.shape[1:]:
            raise BoundaryDataError(
                f"mask {mp} is {m.shape} but image {ip} is {img.shape[1:]}"
            )
        out.append(BoundarySample(img, m, image_stem(ip)))
    return out


#: Why masks without boundary or background pixels are refused, by default: what a
#: validation or test split is for.
UNDEFINED_SCORES = "AP, ROC-AUC and the max-F1 threshold are undefined"


def check_has_boundaries(samples: list[BoundarySample], what: str, *,
                         folder: str | Path | None = None,
                         consequence: str = UNDEFINED_SCORES) -> None:
    """Refuse a split whose masks have no boundary or no background pixel at all (AP,
    ROC-AUC and the max-F1 threshold are undefined on them; a training set of them has
    nothing to teach), before any training or prediction.

    Parameters
    ----------
    samples : list of BoundarySample
        The image/mask pairs of one split.
    what : str
        The split, for the message (``"training"``, ``"validation"``, ``"test"``).
    folder : path-like, optional
        The folder the masks were read from, named in the message.
    consequence : str
        Why it cannot be used (default :data:`UNDEFINED_SCORES`).

    Raises
    ------
    BoundaryDataError
        Naming the split, its folder and its first images.
    """
    n_pos = sum(s.boundary_pixels for s in samples)
    n_all = sum(int(s.mask.size) for s in samples)
    if samples and (n_pos == 0 or n_pos == n_all):
        kind = "no boundary" if n_pos == 0 else "only boundary (no background)"
        names = ", ".join(s.name for s in samples[:3]) + (", ..." if len(samples) > 3 else "")
        where = f" in {folder}" if folder is not None else ""
        raise BoundaryDataError(
            f"the {what} masks{where} ({len(samples)}: {names}) have {kind} pixels, so "
            f"{consequence}: check that the masks mark the boundaries (non-zero) and give "
            "images that show some")


#: Masks of each kind (no boundary pixel; mostly boundary) that
#: :func:`mask_content_warnings` names one by one; the rest are counted in one line (a
#: tile set of a coarse-grained specimen can hold hundreds of tiles inside one grain, and
#: each distinct warning is a napari notification in the widgets).
MASK_WARNINGS_NAMED = 5


def mask_content_warnings(samples: Sequence[BoundarySample], what: str,
                          names: Sequence[str] | None = None) -> list[str]:
    """A warning line for each mask of a data set that is not a boundary map as it
    stands: no boundary pixel (more likely a blank or inverted export than a field of
    one grain) or more than :data:`~napari_srmat.metrics.heyn.MAX_BOUNDARY_FRACTION` of
    its pixels boundary (the line beyond which ``measure_intercepts`` reports no grain
    size). The first :data:`MASK_WARNINGS_NAMED` of each kind are named; any more are
    counted in one line per kind, after them.

    Parameters
    ----------
    samples : sequence of BoundarySample
        The image/mask pairs of one split (their masks' boundary pixels counted once,
        :attr:`BoundarySample.boundary_pixels`).
    what : str
        The split, for the message (``"training"``).
    names : sequence of str, optional
        The name to tell of each mask (its file); default the samples' names (their
        place in a list: ``train-0``).

    Returns
    -------
    list of str
        One line per named mask, in order, then a count line per kind with more.

    Examples
    --------
    >>> image = np.zeros((3, 4, 4), np.float32)
    >>> blank = BoundarySample(image, np.zeros((4, 4), bool))
    >>> inverted = BoundarySample(image, np.ones((4, 4), bool))
    >>> for line in mask_content_warnings([blank, inverted], "training",
    ...                                   names=["a.png", "b.png"]):
    ...     print(line.split(":")[0])
    training mask a.png has no boundary pixel
    training mask b.png is 100% boundary (more than 50%)
    """
    from ..metrics.heyn import MAX_BOUNDARY_FRACTION

    limit = f"{100 * MAX_BOUNDARY_FRACTION:.0f}%"
    out = []
    told = {"blank": 0, "full": 0}
    names = [s.name for s in samples] if names is None else names
    for name, sample in zip(names, samples, strict=True):
        share = sample.boundary_pixels / max(1, sample.mask.size)
        kind = "blank" if share == 0 else "full" if share > MAX_BOUNDARY_FRACTION else None
        if kind is None:
            continue
        told[kind] += 1
        if told[kind] > MASK_WARNINGS_NAMED:
            continue
        if kind == "blank":
            out.append(f"{what} mask {name} has no boundary pixel: a blank or inverted "
                       "export? (a field of one grain trains as all background)")
        else:
            out.append(f"{what} mask {name} is {100 * share:.0f}% boundary (more than "
                       f"{limit}): it is not a boundary map (inverted?)")
    for kind, said in (("blank", "have no boundary pixel"),
                       ("full", f"are more than {limit} boundary")):
        if (more := told[kind] - MASK_WARNINGS_NAMED) > 0:
            out.append(f"{more} more {what} masks {said} (the first "
                       f"{MASK_WARNINGS_NAMED} are named above)")
    return out


def load_split(root: str | Path, split: str) -> list[BoundarySample]:
    """Load ``ROOT/SPLIT/{images,masks}`` into memory."""
    root = Path(root)
    return load_pairs(list_image_mask_pairs(root / split / "images", root / split / "masks"))


def dilate_boundaries(boundaries: np.ndarray, width: int = 4) -> np.ndarray:
    """Thicken 1-px boundaries to about ``width`` px (a square structuring element)."""
    from scipy import ndimage

    b = np.asarray(boundaries, dtype=bool)
    if width <= 1:
        return b
    return ndimage.binary_dilation(b, structure=np.ones((width, width), bool))


def synthetic_samples(
    n: int, shape: tuple[int, int] = (256, 256), *, seed: int = 0,
    mean_grain_size_px: float = 30.0, boundary_width: int = 4,
) -> list[BoundarySample]:
    """Synthetic micrographs with exact boundaries, re-drawn ``boundary_width`` px wide.

    Uses :func:`napari_srmat.synth.generate_microstructure`; the grain size varies
    around ``mean_grain_size_px`` and the boundary darkening is random (real
    polarized-light boundaries are mostly colour changes, not dark lines). The exact
    boundaries are skeletonised and dilated to ``boundary_width`` so the targets look
    like the 3-5 px wide real masks. ``seed`` is an integer >= 0
    (:func:`napari_srmat.errors.check_seed`); image ``i`` is drawn with ``seed + i``.

    Raises
    ------
    BoundaryDataError
        A ``seed`` that is not an integer >= 0.
    """
    from skimage.morphology import skeletonize

    from ..synth import generate_microstructure

    seed = check_seed(seed, error=BoundaryDataError)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        # at most the image's larger side (the generator's limit): small training images
        # failed by seed with a SynthError about a grain size nobody typed
        size = min(float(mean_grain_size_px * rng.uniform(0.6, 1.5)), float(max(shape)))
        ms = generate_microstructure(shape, mean_grain_size_px=size, seed=seed + i,
                                     boundary_darkness=float(rng.uniform(0.0, 0.3)))
        img, b = ms.image, ms.boundaries
        thin = skeletonize(np.asarray(b, bool))
        out.append(BoundarySample(to_model_image(img), dilate_boundaries(thin, boundary_width),
                                  f"synthetic-{seed + i}"))
    return out


def resize_bilinear(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Resample an array to ``shape``: bilinear, reflect at the edges, Gaussian
    anti-aliasing when shrinking, values kept in their range (float out; float32 stays
    float32, integers become float64).

    The one resampling rule of the boundary model: the training zoom
    (:func:`random_crop_augment`) and the grain-size measurement's inference scale
    (:func:`napari_srmat.grainsize.resample`) both use it.

    Examples
    --------
    >>> resize_bilinear(np.ones((4, 6)), (2, 3)).shape
    (2, 3)
    """
    from skimage.transform import resize

    shrink = any(o < i for o, i in zip(shape, array.shape))
    return resize(array, shape, order=1, mode="reflect", anti_aliasing=shrink,
                  preserve_range=True)


def _zoom_window(image: np.ndarray, mask: np.ndarray, crop: int, zoom: float,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random ``crop / zoom`` window resampled to ``crop`` px (image with
    :func:`resize_bilinear`; mask resampled the same way and thresholded at
    ``min(0.5, zoom / 2)`` so that thin boundaries stay connected when shrunk)."""
    _, h, w = image.shape
    src = int(min(round(crop / zoom), h, w))
    y = int(rng.integers(0, h - src + 1))
    x = int(rng.integers(0, w - src + 1))
    win = image[:, y : y + src, x : x + src]
    m = mask[y : y + src, x : x + src].astype(np.float32)
    if src == crop:
        return win, m > 0.5
    out = resize_bilinear(win, (win.shape[0], crop, crop)).astype(image.dtype, copy=False)
    mout = resize_bilinear(m, (crop, crop))
    return out, mout >= min(0.5, 0.5 * crop / src)


def random_crop_augment(
    image: np.ndarray, mask: np.ndarray, crop: int | None, rng: np.random.Generator,
    zoom: tuple[float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Random crop, horizontal/vertical flips and rot90 (no colour transforms).

    With ``zoom = (low, high)`` (and a ``crop``) the crop is a window of ``crop / z`` px
    resampled to ``crop`` px, z drawn log-uniformly from ``[low, high]`` (limited by the
    image size): scale augmentation. ``zoom=None`` draws nothing extra from ``rng``, so
    the crops are those of earlier versions.
    """
    _, h, w = image.shape
    if zoom is not None and crop is not None:
        lo, hi = (float(v) for v in zoom)
        z = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        image, mask = _zoom_window(image, mask, crop, max(z, crop / min(h, w)), rng)
    elif crop is not None and (h > crop or w > crop):
        ch, cw = min(crop, h), min(crop, w)
        y = int(rng.integers(0, h - ch + 1))
        x = int(rng.integers(0, w - cw + 1))
        image = image[:, y : y + ch, x : x + cw]
        mask = mask[y : y + ch, x : x + cw]
    if rng.random() < 0.5:
        image, mask = image[:, :, ::-1], mask[:, ::-1]
    if rng.random() < 0.5:
        image, mask = image[:, ::-1], mask[::-1]
    k = int(rng.integers(0, 4))
    if k and image.shape[1] == image.shape[2]:
        image, mask = np.rot90(image, k, axes=(1, 2)), np.rot90(mask, k)
    return np.ascontiguousarray(image), np.ascontiguousarray(mask)


#: Photometric (robustness) transforms of :func:`photometric_augment`, in the order applied.
PHOTOMETRIC_TRANSFORMS = ("color", "gamma", "blur", "sharpen", "noise", "jpeg")


def parse_photometric(spec) -> tuple[str, ...]:
    """Transforms named by ``spec``: ``None``/``""``/``"none"`` (none), ``"all"``, or names.

    Parameters
    ----------
    spec : str, sequence of str or None
        A comma-separated string or a sequence of names from
        :data:`PHOTOMETRIC_TRANSFORMS` (``"all"`` selects every one).

    Returns
    -------
    tuple of str
        The selected transforms in the order they are applied.

    Raises
    ------
    BoundaryDataError
        An unknown name.
    """
    if spec is None:
        return ()
    names = [n.strip().lower() for n in (spec.split(",") if isinstance(spec, str) else spec)]
    names = [n for n in names if n and n != "none"]
    if "all" in names:
        return PHOTOMETRIC_TRANSFORMS
    unknown = sorted(set(names) - set(PHOTOMETRIC_TRANSFORMS))
    if unknown:
        raise BoundaryDataError(f"unknown photometric transform(s) {unknown}; choose from "
                                f"{', '.join(PHOTOMETRIC_TRANSFORMS)} or 'all'")
    return tuple(n for n in PHOTOMETRIC_TRANSFORMS if n in names)


def _rgb_to_yiq(x: np.ndarray) -> np.ndarray:
    m = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]],
                 np.float32)
    return np.tensordot(m, x, axes=1)


def _yiq_to_rgb(x: np.ndarray) -> np.ndarray:
    m = np.array([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.106, 1.703]], np.float32)
    return np.tensordot(m, x, axes=1)


def photometric_augment(image: np.ndarray, rng: np.random.Generator,
                        transforms=PHOTOMETRIC_TRANSFORMS, *, p: float = 0.5) -> np.ndarray:
    """Random photometric changes of a training image (the mask is not touched).

    Makes the boundary model less sensitive to what differs between scans and
    microscopes: colour, contrast, brightness, focus, noise and compression. Each
    selected transform is applied with probability ``p``, in the order of
    :data:`PHOTOMETRIC_TRANSFORMS`:

    * ``color``: brightness x U(0.75, 1.25), contrast about the mean x U(0.7, 1.3),
      saturation x U(0.6, 1.4) and hue rotated by U(-18, 18) degrees (YIQ);
    * ``gamma``: ``x ** g``, ``log g`` uniform in [log 0.7, log 1.4];
    * ``blur``: Gaussian, sigma U(0.3, 1.2) px;
    * ``sharpen``: unsharp mask, sigma 1 px, amount U(0.3, 1.0);
    * ``noise``: Gaussian, per pixel and channel, std U(0.005, 0.04);
    * ``jpeg``: re-compression at quality U{30..90} (8-bit round trip).

    Parameters
    ----------
    image : numpy.ndarray
        float ``(3, H, W)`` in [0, 1] (what :func:`to_model_image` returns).
    rng : numpy.random.Generator
        Source of every random choice: the same generator state gives the same output.
    transforms : sequence of str
        Names from :data:`PHOTOMETRIC_TRANSFORMS` (or a spec for :func:`parse_photometric`).
    p : float
        Probability of applying each transform.

    Returns
    -------
    numpy.ndarray
        float32 ``(3, H, W)`` in [0, 1], a new array.
    """
    from scipy import ndimage

    chosen = parse_photometric(transforms)
    x = np.array(image, dtype=np.float32, copy=True)
    if x.ndim != 3 or x.shape[0] != 3:
        raise BoundaryDataError(f"expected a (3, H, W) image, got shape {x.shape}")
    for name in chosen:
        if rng.random() >= p:
            continue
        if name == "color":
            x = x * np.float32(rng.uniform(0.75, 1.25))
            mean = x.mean()
            x = (x - mean) * np.float32(rng.uniform(0.7, 1.3)) + mean
            yiq = _rgb_to_yiq(x)
            ang = np.deg2rad(rng.uniform(-18.0, 18.0))
            sat = rng.uniform(0.6, 1.4)
            c, s = np.cos(ang) * sat, np.sin(ang) * sat
            i, q = yiq[1].copy(), yiq[2].copy()
            yiq[1], yiq[2] = c * i - s * q, s * i + c * q
            x = _yiq_to_rgb(yiq)
        elif name == "gamma":
            g = float(np.exp(rng.uniform(np.log(0.7), np.log(1.4))))
            x = np.clip(x, 0, 1) ** np.float32(g)
        elif name == "blur":
            sigma = rng.uniform(0.3, 1.2)
            x = ndimage.gaussian_filter(x, (0, sigma, sigma), mode="reflect")
        elif name == "sharpen":
            amount = np.float32(rng.uniform(0.3, 1.0))
            x = x + amount * (x - ndimage.gaussian_filter(x, (0, 1.0, 1.0), mode="reflect"))
        elif name == "noise":
            x = x + rng.normal(0.0, rng.uniform(0.005, 0.04), x.shape).astype(np.float32)
        elif name == "jpeg":
            x = _jpeg_roundtrip(np.clip(x, 0, 1), int(rng.integers(30, 91)))
        x = np.clip(x, 0.0, 1.0).astype(np.float32, copy=False)
    return np.ascontiguousarray(x, dtype=np.float32)


def _jpeg_roundtrip(x: np.ndarray, quality: int) -> np.ndarray:
    from ..sr.degrade import jpeg_roundtrip

    return jpeg_roundtrip(x.transpose(1, 2, 0), quality).transpose(2, 0, 1)
