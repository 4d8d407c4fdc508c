"""Synthetic microstructures: reproducibility, exact ground truth, lazy consistency."""

from __future__ import annotations

import math

import numpy as np
import pytest

from napari_srmat.io import write_ome_zarr
from napari_srmat.synth import (
    SynthError,
    generate_microstructure,
    lazy_microstructure,
    true_mean_intercept,
)


def test_seeded_and_typed():
    a = generate_microstructure((96, 128), mean_grain_size_px=16, seed=3)
    b = generate_microstructure((96, 128), mean_grain_size_px=16, seed=3)
    c = generate_microstructure((96, 128), mean_grain_size_px=16, seed=4)
    assert a.image.shape == (96, 128, 3) and a.image.dtype == np.uint8
    assert a.boundaries.dtype == bool and a.labels.dtype == np.int32
    assert a.labels.shape == a.boundaries.shape == (96, 128)
    for name in ("image", "boundaries", "labels"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.labels, c.labels)
    assert a.n_grains == len(np.unique(a.labels)) > 20
    assert a.params["seed"] == 3


@pytest.mark.parametrize("width", [1, 2, 3])
def test_boundaries_exactly_where_labels_change(width):
    ms = generate_microstructure(
        (120, 140), mean_grain_size_px=14, seed=1, boundary_width=width, size_spread=1.0
    )
    lab = ms.labels
    lo, hi = width // 2, width - width // 2
    # interior pixels: boundary iff the (w+1)^2 window around it holds two labels
    expect = np.zeros_like(ms.boundaries)
    H, W = lab.shape
    pad = np.pad(lab, 4, mode="edge")  # only used for the interior check below
    for dy in range(-lo, hi + 1):
        for dx in range(-lo, hi + 1):
            expect |= pad[4 + dy : 4 + dy + H, 4 + dx : 4 + dx + W] != lab
    inner = (slice(4, -4), slice(4, -4))
    assert np.array_equal(ms.boundaries[inner], expect[inner])
    # and every label change between neighbours lies on the mask
    change = lab[:, 1:] != lab[:, :-1]
    assert np.all(ms.boundaries[:, :-1][change] | ms.boundaries[:, 1:][change])


def test_faint_boundaries_stay_in_ground_truth():
    kw = dict(mean_grain_size_px=20, seed=2, noise=0, scratches=0, inclusions=0, blur=0, texture=0)
    full = generate_microstructure((160, 160), **kw)
    faint = generate_microstructure((160, 160), missing_boundary_fraction=0.5, **kw)
    assert np.array_equal(full.boundaries, faint.boundaries)
    b = full.boundaries
    lum_full = full.image[b].mean()
    lum_faint = faint.image[b].mean()
    assert lum_faint > lum_full + 5  # boundaries are lighter (fainter) in the image
    assert np.array_equal(full.image[~b], faint.image[~b])


def test_true_mean_intercept_definition():
    lab = np.zeros((10, 20), np.int32)
    lab[:, 10:] = 1  # one vertical boundary: 10 changes along rows, none along columns
    assert true_mean_intercept(lab) == pytest.approx((10 * 19 + 20 * 9) / 10)
    assert math.isinf(true_mean_intercept(np.zeros((5, 5), np.int32)))


def test_true_mean_intercept_refuses_what_is_not_a_label_image():
    ms = generate_microstructure((64, 64), mean_grain_size_px=16, seed=0)
    # each read silently as labels: the RGB image counted its 3 channels' changes (ℓ̄
    # about a third), the boundary mask two changes per boundary, random floats nearly
    # every pixel (ℓ̄ 1.0); a list was an AttributeError ('list' has no 'shape')
    for bad, words in ((ms.image, r"2-D \(H, W\).*\(64, 64, 3\)"),
                       (ms.boundaries, "bool.*a mask, not labels"),
                       (np.random.default_rng(0).random((8, 8)), "integer.*float64")):
        with pytest.raises(SynthError, match=words):
            true_mean_intercept(bad)
    lab = ms.labels
    assert true_mean_intercept(lab.tolist()) == true_mean_intercept(lab)
    import dask.array as da

    with pytest.raises(SynthError, match="2-D"):  # from the shape: nothing computed
        true_mean_intercept(da.zeros((4, 8, 8), chunks=2, dtype=np.int32))
    assert true_mean_intercept(da.from_array(lab, chunks=16)) == ms.mean_intercept_px


def test_grain_size_parameter_scales_intercept():
    small = generate_microstructure((384, 384), mean_grain_size_px=16, seed=0)
    large = generate_microstructure((384, 384), mean_grain_size_px=32, seed=0)
    assert large.mean_intercept_px / small.mean_intercept_px == pytest.approx(2.0, rel=0.12)
    assert 0.6 * 32 < large.mean_intercept_px < 1.0 * 32


def test_lazy_chunks_consistent_and_equal_to_eager():
    shape = (700, 650)
    a = lazy_microstructure(shape, chunks=(256, 200), seed=5, mean_grain_size_px=24)
    b = lazy_microstructure(shape, chunks=300, seed=5, mean_grain_size_px=24)
    assert a.image.shape == (700, 650, 3) and a.image.dtype == np.uint8
    region = (slice(190, 520), slice(150, 470))  # crosses chunk borders of both
    for name in ("labels", "boundaries", "image"):
        ra = getattr(a, name)[region].compute()
        rb = getattr(b, name)[region].compute()
        assert np.array_equal(ra, rb), name
    eager = generate_microstructure(shape, seed=5, mean_grain_size_px=24)
    assert np.array_equal(eager.image[region], a.image[region].compute())
    assert np.array_equal(eager.boundaries, b.boundaries.compute())
    assert a.mean_intercept_px() == pytest.approx(eager.mean_intercept_px)


def test_the_lazy_mean_intercept_is_computed_once(monkeypatch):
    """``LazyMicrostructure.mean_intercept_px()`` streams every label chunk (about 11 s
    for 8192² px, 1.5 min for the 24000² mosaic), which is why it is a call where
    ``Microstructure.mean_intercept_px`` (computed at creation) is a value; it computed
    it again at every call. Now the value is kept with the labels it was computed from,
    and computed again only when they are replaced."""
    from napari_srmat.synth import generator

    computed = []

    def counting(labels):
        computed.append(labels)
        return true_mean_intercept(labels)

    eager = generate_microstructure((96, 80), seed=3, mean_grain_size_px=16)
    monkeypatch.setattr(generator, "true_mean_intercept", counting)
    lz = lazy_microstructure((96, 80), chunks=40, seed=3, mean_grain_size_px=16)
    first = lz.mean_intercept_px()
    assert lz.mean_intercept_px() == first and len(computed) == 1
    assert first == pytest.approx(eager.mean_intercept_px)
    lz.labels = lz.labels[:48]  # other labels: their own value
    assert lz.mean_intercept_px() == pytest.approx(true_mean_intercept(eager.labels[:48]))
    assert len(computed) == 2


def test_huge_lazy_is_cheap_to_create_and_slice():
    lz = lazy_microstructure((24000, 24000), chunks=1024, seed=0)
    assert lz.image.shape == (24000, 24000, 3)
    tile = lz.image[12000:12064, 23950:24000].compute()
    assert tile.shape == (64, 50, 3) and tile.std() > 5


def test_grey_and_bad_parameters():
    g = generate_microstructure((64, 64), mean_grain_size_px=12, rgb=False)
    assert g.image.shape == (64, 64) and g.image.dtype == np.uint8
    with pytest.raises(SynthError, match="size_spread"):
        generate_microstructure((64, 64), size_spread=2)
    with pytest.raises(SynthError, match="mean_grain_size_px"):
        generate_microstructure((64, 64), mean_grain_size_px=1)
    with pytest.raises(SynthError, match="shape"):
        generate_microstructure((0, 64))
    with pytest.raises(SynthError, match="chunks"):
        lazy_microstructure((64, 64), chunks=0)


def test_python_and_srmat_synth_share_one_least_side(tmp_path, capsys):
    """srmat synth refused --size below 16 px while generate_microstructure made 4 px
    images (and lazy_microstructure a 4 x 64 one): two minimums for one generator. Both
    now take MIN_SYNTH_SIDE (8 px, the library's least image side, io.MIN_IMAGE_SIDE)."""
    from napari_srmat.cli import main
    from napari_srmat.io import MIN_IMAGE_SIDE
    from napari_srmat.synth import MIN_SYNTH_SIDE

    assert MIN_SYNTH_SIDE == MIN_IMAGE_SIDE == 8
    for shape in ((4, 4), (7, 64), (64, 7)):
        with pytest.raises(SynthError, match=rf"^shape must have sides of at least 8 px, "
                           rf"got \({shape[0]}, {shape[1]}\)$"):
            generate_microstructure(shape, mean_grain_size_px=4)
        with pytest.raises(SynthError, match="at least 8 px"):
            lazy_microstructure(shape, mean_grain_size_px=4)
    assert generate_microstructure((8, 8), mean_grain_size_px=4).image.shape == (8, 8, 3)
    assert main(["synth", str(tmp_path / "s"), "--size-px", "8", "--grain-size-px", "4"]) == 0
    capsys.readouterr()
    assert main(["synth", str(tmp_path / "t"), "--size-px", "7", "--grain-size-px", "4"]) == 2
    assert capsys.readouterr().err == "srmat synth: error: --size-px must be at least 8 px, got 7\n"
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize("chunks", [2.5, (2.5, 8), "a", (8, 8, 3), (), 0, True])
def test_lazy_chunks_take_the_one_chunks_rule(chunks, tmp_path):
    """chunks=2.5 failed with "'float' object is not iterable" and "a" with int()'s
    message, neither naming chunks; (2.5, 8) rendered 2-px chunks and (8, 8, 3) dropped
    its third entry. Then its own wording ('chunks must be a positive int or (int, int)'):
    now the one chunks rule of the readers and writers (io._read._spatial_chunks), word
    for word as write_ome_zarr tells it for data of the same shape; (8,) is (8, 8) and
    None the default, as there."""
    with pytest.raises(ValueError, match=r"^chunks must ") as told:
        write_ome_zarr(np.zeros((64, 64), np.uint8), tmp_path / "c.ome.zarr", chunks=chunks)
    with pytest.raises(SynthError) as synth_told:
        lazy_microstructure((64, 64), chunks=chunks, mean_grain_size_px=16)
    assert str(synth_told.value) == str(told.value)
    assert not (tmp_path / "c.ome.zarr").exists()
    kw = dict(mean_grain_size_px=16)
    assert lazy_microstructure((64, 64), chunks=np.int64(40), **kw
                               ).labels.chunks == ((40, 24), (40, 24))
    assert lazy_microstructure((64, 64), chunks=(40,), **kw).labels.chunks == ((40, 24),) * 2
    assert lazy_microstructure((2048, 64), chunks=None, **kw).labels.chunks == (
        (1024, 1024), (64,))


def test_whole_numbers_are_not_truncated():
    """shape=(64.5, 64), boundary_width=2.5 and seed=1.5 were cast with int() (a 64 px
    image, 2 px boundaries, seed 1) and shape=("64", 64) accepted; seed=None failed with
    int()'s "argument must be a string, a bytes-like object or a real number"."""
    kw = dict(mean_grain_size_px=12)
    for shape in ((64.5, 64), ("64", 64), (64, True)):
        with pytest.raises(SynthError, match=r"^shape must be \(H, W\) with positive "
                           r"integer sides"):
            generate_microstructure(shape, **kw)
    with pytest.raises(SynthError, match=r"^boundary_width must be in 1..16, got 2.5$"):
        generate_microstructure((64, 64), boundary_width=2.5, **kw)
    for seed in (1.5, None, "3"):
        with pytest.raises(SynthError, match=r"^seed must be an integer >= 0, got "):
            generate_microstructure((64, 64), seed=seed, **kw)
    a = generate_microstructure((64.0, np.int64(64)), seed=3.0, boundary_width=2.0, **kw)
    assert a.image.shape[:2] == (64, 64)
    np.testing.assert_array_equal(a.image, generate_microstructure((64, 64), seed=3,
                                                                   **kw).image)


def test_large_integer_seeds_are_kept_exactly():
    """check_number passed an int through float(): seeds above 2**53 were rounded, so
    2**53 and 2**53 + 1 (e.g. 64-bit seeds from secrets.randbits) gave one image."""
    from napari_srmat.errors import check_number

    big = 2**53 + 1
    assert check_number("seed", big, integer=True) == big
    assert check_number("seed", np.uint64(2**64 - 1), integer=True) == 2**64 - 1
    kw = dict(mean_grain_size_px=12)
    a = generate_microstructure((48, 48), seed=big - 1, **kw).image
    b = generate_microstructure((48, 48), seed=big, **kw).image
    assert not np.array_equal(a, b)

def test_speed_512_reasonable():
    import time

    generate_microstructure((64, 64))  # warm-up (imports)
    t = time.perf_counter()
    generate_microstructure((512, 512))
    assert time.perf_counter() - t < 5.0  # well under a second when the machine is idle


def test_lazy_rendering_takes_the_eager_defaults():
    """lazy_microstructure renders the image generate_microstructure renders for the same
    parameters; its defaults are the eager ones (written once, generator._RENDER_DEFAULTS),
    so calls that leave them out agree as well, and record the same parameters."""
    import inspect

    def keyword_defaults(fn):
        return {k: p.default for k, p in inspect.signature(fn).parameters.items()
                if p.kind is inspect.Parameter.KEYWORD_ONLY}

    eager, lazy = keyword_defaults(generate_microstructure), keyword_defaults(lazy_microstructure)
    assert set(lazy) - set(eager) == {"chunks"}
    assert {k: lazy[k] for k in eager} == eager
    e = generate_microstructure((96, 80))
    lz = lazy_microstructure((96, 80), chunks=40)
    assert np.array_equal(lz.image.compute(), e.image)
    assert {k: v for k, v in lz.params.items() if k != "chunks"} == e.params


def test_a_chunk_of_a_wide_mosaic_costs_what_a_chunk_costs():
    """Rendering one chunk of the image took per-grain tables over whole rows of the
    mosaic's grid (memory and time growing with its width: a 512 x 512 chunk of a 512 x
    2,000,000 mosaic of 4 px grains held 11 GB); the chunk of a 200,000 px wide mosaic
    now needs what the same chunk of a narrow one needs, and equals it."""
    import tracemalloc

    kw = dict(mean_grain_size_px=4, seed=3, boundary_width=1)
    narrow = lazy_microstructure((64, 256), chunks=64, **kw).image[:, :64]
    wide = lazy_microstructure((64, 200_000), chunks=64, **kw).image[:, :64]

    def peak(arr):
        tracemalloc.start()
        try:
            return arr.compute(scheduler="synchronous"), tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, small_peak = peak(narrow)
    big, big_peak = peak(wide)
    assert np.array_equal(small, big)
    assert big_peak < 4 * small_peak + 2**20, (small_peak, big_peak)


def test_a_seed_is_an_integer_at_least_0_everywhere():
    """generate_microstructure took seed=-1 (and lazy_microstructure, and the SR models'
    sampling seed) while measure_intercepts and the --seed flags refused it: one rule
    (errors.check_seed) now refuses it everywhere, in the same words."""
    from napari_srmat.metrics.heyn import HeynError, measure_intercepts
    from napari_srmat.synth import lazy_microstructure

    said = r"^seed must be an integer >= 0, got -1$"
    with pytest.raises(SynthError, match=said):
        generate_microstructure((64, 64), mean_grain_size_px=12, seed=-1)
    with pytest.raises(SynthError, match=said):
        lazy_microstructure((64, 64), chunks=32, mean_grain_size_px=12, seed=-1)
    m = np.zeros((40, 40), bool)
    m[:, 5::10] = True
    with pytest.raises(HeynError, match=said):
        measure_intercepts(m, pattern="random", n_lines=5, seed=-1)
    assert generate_microstructure((64, 64), mean_grain_size_px=12, seed=0).image.shape[0] == 64


# ------------------------------------------------------------ seed layouts
#: sha256 (first 16 hex) of labels, boundaries and image of a few default-layout
#: renderings as they were before seed_layout existed (52ef791): the lattice layout,
#: and with it sample data, tests and documented numbers, must not move.
_LATTICE_HASHES = [
    ((96, 128), {"mean_grain_size_px": 16, "seed": 3}, "f150d426c4d324e2"),
    ((120, 100), {"mean_grain_size_px": 12, "seed": 7, "size_spread": 1.0, "curvature": 0.2,
                  "missing_boundary_fraction": 0.3, "rgb": False, "boundary_width": 3},
     "f68cbd870ac918da"),
]


def _digest(ms) -> str:
    import hashlib

    h = hashlib.sha256()
    for a in (ms.image, ms.boundaries, ms.labels):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def _brute_force_labels(shape, **kw) -> np.ndarray:
    """Nearest seed (the generator's score) of every pixel among *all* seeds of the
    Poisson layout that can reach the image, in one array: no window, no fallback."""
    from napari_srmat.synth import generator as g

    p = g._params_from(shape, {**g._RENDER_DEFAULTS, "seed_layout": "poisson", **kw})
    H, W = shape
    r = g._POISSON_REACH
    cy = np.arange(-r, -(-H // p.h) + r)[:, None, None]
    cx = np.arange(-r, -(-W // p.h) + r)[None, :, None]
    slot = np.arange(g._POISSON_MAX_SEEDS)[None, None, :]
    sy, sx, w, a, lab, present = g._poisson_seeds(cy, cx, slot, p)
    sy, sx, w, a, lab = (v[present] for v in (sy, sx, w, a, lab))
    Y = np.arange(H, dtype=np.float32)[:, None, None]
    X = np.arange(W, dtype=np.float32)[None, :, None]
    f = 1 + a
    return lab[np.argmin((f * (Y - sy) ** 2 - w) + f * (X - sx) ** 2, axis=2)]


@pytest.mark.parametrize("shape, kw, digest", _LATTICE_HASHES)
def test_the_lattice_layout_is_the_default_and_renders_as_before(shape, kw, digest):
    default = generate_microstructure(shape, **kw)
    lattice = generate_microstructure(shape, seed_layout="lattice", **kw)
    assert _digest(default) == _digest(lattice) == digest
    assert default.params["seed_layout"] == "lattice"


@pytest.mark.parametrize("kw", [{}, {"size_spread": 1.0, "curvature": 0.2},
                                {"size_spread": 0.0, "curvature": 0.0}],
                         ids=["defaults", "widest_weights", "plain_voronoi"])
@pytest.mark.parametrize("window", ["shipped", "every_pixel_falls_back"])
def test_the_poisson_layout_is_the_exact_nearest_seed(kw, window, monkeypatch):
    """Each pixel's grain is the seed of least score among all seeds, whatever the
    window: with a window of no cell around the pixel's own, its bound (-1.5·h²·spread)
    is below every score, no pixel is decided by it and each goes through the wider
    search."""
    from napari_srmat.synth import generator as g

    shape = (96, 80) if window == "shipped" else (40, 36)  # the wide search is slow
    searched = []
    if window == "every_pixel_falls_back":
        monkeypatch.setattr(g, "_POISSON_WINDOW", 0)
        points = g._poisson_points
        monkeypatch.setattr(g, "_poisson_points", lambda ys, *a: (
            searched.append(ys.size), points(ys, *a))[1])
    ms = generate_microstructure(shape, mean_grain_size_px=12, seed=4,
                                 seed_layout="poisson", **kw)
    assert np.array_equal(ms.labels, _brute_force_labels(shape, mean_grain_size_px=12,
                                                         seed=4, **kw))
    if window == "every_pixel_falls_back":  # every pixel of the padded label search
        assert sum(searched) >= shape[0] * shape[1]


def test_poisson_tiles_strips_and_lazy_chunks_agree_with_the_whole_image(monkeypatch):
    from napari_srmat.synth import generator as g

    shape, kw = (150, 130), dict(mean_grain_size_px=14, seed=6, seed_layout="poisson")
    whole = generate_microstructure(shape, **kw)
    assert np.array_equal(whole.labels, _brute_force_labels(shape, mean_grain_size_px=14,
                                                            seed=6))
    for chunks in (17, (64, 41), 150):
        lz = lazy_microstructure(shape, chunks=chunks, **kw)
        for name in ("labels", "boundaries", "image"):
            assert np.array_equal(getattr(lz, name).compute(), getattr(whole, name)), name
        assert lz.mean_intercept_px() == whole.mean_intercept_px
    p = g._params_from(shape, {**g._RENDER_DEFAULTS, **kw})
    tiled = g._render_tiled(p, tile=37)  # threads, tiles of 37 px
    for got, want in zip(tiled, (whole.labels, whole.boundaries, whole.image)):
        assert np.array_equal(got, want)
    monkeypatch.setattr(g, "_STRIP_ELEMENTS", 1)  # one cell row per strip
    assert np.array_equal(g._labels_region_strips(0, 150, 0, 130, p), whole.labels)


def test_poisson_ground_truth_is_exact_and_one_seed_per_h2():
    from napari_srmat.synth import generator as g

    ms = generate_microstructure((200, 180), mean_grain_size_px=10, seed=2,
                                 seed_layout="poisson", size_spread=1.0)
    assert ms.mean_intercept_px == true_mean_intercept(ms.labels)
    assert ms.n_grains == np.unique(ms.labels).size
    change = ms.labels[:, 1:] != ms.labels[:, :-1]
    assert np.all(ms.boundaries[:, :-1][change] | ms.boundaries[:, 1:][change])
    p = g._params_from((64, 64), {**g._RENDER_DEFAULTS, "seed_layout": "poisson"})
    n = g._poisson_counts(np.arange(1000)[:, None], np.arange(1000)[None, :], p)
    assert n.mean() == pytest.approx(1.0, abs=0.004)  # 10^6 cells: sd 0.001
    assert n.var() == pytest.approx(1.0, abs=0.01)  # Poisson: variance = mean


def test_an_unknown_seed_layout_is_refused_everywhere(tmp_path, capsys):
    import json

    from napari_srmat.cli import main
    from napari_srmat.synth import SEED_LAYOUTS, check_microstructure_params

    assert SEED_LAYOUTS == ("lattice", "poisson")
    message = r"^seed_layout must be one of lattice, poisson, got 'hexagonal'$"
    for make in (generate_microstructure, lazy_microstructure):
        with pytest.raises(SynthError, match=message):
            make((64, 64), seed_layout="hexagonal")
    with pytest.raises(SynthError, match=message):
        check_microstructure_params((64, 64), seed_layout="hexagonal")
    check_microstructure_params((64, 64), seed_layout="poisson")
    assert main(["synth", str(tmp_path / "s"), "--size-px", "64", "--grain-size-px", "8",
                 "--seed-layout", "poisson"]) == 0
    capsys.readouterr()
    info = json.loads((tmp_path / "s" / "synth_0000.json").read_text())
    assert info["params"]["seed_layout"] == "poisson"
    assert info["n_grains"] == generate_microstructure(
        (64, 64), mean_grain_size_px=8, seed_layout="poisson").n_grains
    with pytest.raises(SystemExit) as exit_:
        main(["synth", str(tmp_path / "t"), "--seed-layout", "hexagonal"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--seed-layout: invalid choice: 'hexagonal'" in err
    assert "Traceback" not in err and not (tmp_path / "t").exists()
