"""npe2 sample-data contributions: synthetic micrographs with known boundaries."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["synthetic_micrograph", "synthetic_mosaic", "mosaic_levels"]

LayerData = tuple[Any, dict, str]

#: Side of the lazy mosaic (pixels); 24000 x 24000 RGB is 1.7 GB if computed.
MOSAIC_SIZE = 24000
MOSAIC_CHUNK = 512


#: Layer name of the sample micrograph (its true boundaries' ``source_layer``).
MICROGRAPH_NAME = "synthetic micrograph"


def synthetic_micrograph(
    shape: tuple[int, int] = (512, 512), mean_grain_size_px: float = 32.0, seed: int = 0
) -> list[LayerData]:
    """A synthetic polarized-light micrograph and its true grain boundaries.

    Parameters
    ----------
    shape : (int, int)
        Image size in pixels.
    mean_grain_size_px : float
        Target mean grain size.
    seed : int
        Random seed (same seed, same image).

    Returns
    -------
    list of LayerData
        An RGB image layer and a ``Labels`` layer (1 = true boundary pixel) whose
        ``metadata`` holds the true mean lineal intercept.
    """
    import uuid

    from .synth import generate_microstructure
    from .widgets.layers import LAYER_ID_KEY, SOURCE_ID_KEY

    ms = generate_microstructure(shape, mean_grain_size_px=mean_grain_size_px, seed=seed)
    meta = {"source": "napari_srmat.synth.generate_microstructure", "seed": seed,
            "true_mean_intercept_px": float(ms.mean_intercept_px)}
    image = np.asarray(ms.image)
    token = uuid.uuid4().hex  # this opening's pair (napari gives ids only when it adds)
    return [
        (
            image,
            {"name": MICROGRAPH_NAME, "rgb": image.ndim == 3,
             "metadata": dict(meta, **{LAYER_ID_KEY: token})},
            "image",
        ),
        (
            np.asarray(ms.boundaries).astype(np.uint8),
            # linked to this opening's micrograph (widgets.layers.is_derived_from): a
            # calibration of it keeps this overlay on it, not another opening's
            {"name": "true boundaries", "opacity": 0.7,
             "metadata": dict(meta, source_layer=MICROGRAPH_NAME,
                              **{SOURCE_ID_KEY: token})},
            "labels",
        ),
    ]


#: Grain size of the mosaic at full resolution. Coarser pyramid levels are rendered
#: with the grain size divided by the level factor, down to the generator's minimum.
MOSAIC_GRAIN_PX = 128.0
MIN_GRAIN_PX = 4.0


def mosaic_levels(size: int = MOSAIC_SIZE, *, seed: int = 0, chunks: int = MOSAIC_CHUNK,
                  mean_grain_size_px: float = MOSAIC_GRAIN_PX, rgb: bool = True) -> list:
    """Lazy multiscale pyramid of a synthetic mosaic, level 0 first.

    Every level is rendered directly at its own resolution by
    :func:`napari_srmat.synth.lazy_microstructure` with the same seed and the grain
    size divided by the level factor (2, 4, 8, ...). The generator places grain seeds
    on a grid proportional to the grain size, so all levels show the same grains
    (about 95 % of pixels carry the same grain label as the strided level 0). This
    keeps the coarse levels cheap: the coarsest level of a 24000 x 24000 mosaic is
    750 x 750 and renders in about a second, where down-sampling level 0 would mean
    rendering all 576 megapixels first.

    Returns
    -------
    list of dask arrays
        ``(H_k, W_k, 3)`` uint8 (or ``(H_k, W_k)`` when ``rgb=False``), ``H_k = ceil(size / 2**k)``.
    """
    from .synth import lazy_microstructure

    levels = []
    k = 1
    while mean_grain_size_px / k >= MIN_GRAIN_PX:
        n = -(-int(size) // k)
        if levels and n < 256:
            break
        lm = lazy_microstructure(
            (n, n), chunks=chunks, seed=seed, mean_grain_size_px=mean_grain_size_px / k,
            boundary_width=2 if k == 1 else 1, rgb=rgb,
        )
        levels.append(lm.image)
        k *= 2
    return levels


def synthetic_mosaic(
    size: int = MOSAIC_SIZE, seed: int = 0, chunks: int = MOSAIC_CHUNK
) -> list[LayerData]:
    """A large lazy synthetic RGB mosaic as a multiscale image layer.

    Parameters
    ----------
    size : int
        Side length in pixels (default 24000).
    seed : int
        Random seed.
    chunks : int
        Dask chunk side.

    Returns
    -------
    list of LayerData
        One multiscale RGB image layer (list of Dask arrays, level 0 first, see
        :func:`mosaic_levels`). Nothing is computed until napari displays a region.
    """
    levels = mosaic_levels(size, seed=seed, chunks=chunks)
    return [
        (
            levels,
            {
                "name": f"synthetic mosaic {size}x{size}",
                "rgb": True,
                "multiscale": True,
                "contrast_limits": (0, 255),
                "metadata": {
                    "source": "napari_srmat.synth.lazy_microstructure",
                    "seed": seed,
                    "mean_grain_size_px": MOSAIC_GRAIN_PX,
                },
            },
            "image",
        )
    ]
