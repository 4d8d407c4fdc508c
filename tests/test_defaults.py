"""Named defaults are the one source of their value (library, CLI, widgets)."""

from __future__ import annotations

import inspect

import pytest

from napari_srmat.cli import build_parser
from napari_srmat.metrics.heyn import HEYN_MARGIN, HEYN_N_LINES, HEYN_SEED
from napari_srmat.tiling import BOUNDARY_OVERLAP, BOUNDARY_TILE


def _defaults(fn) -> dict:
    return {k: p.default for k, p in inspect.signature(fn).parameters.items()}


def test_heyn_protocol_defaults_are_named():
    from napari_srmat.edges.thresholds import HEYN_KW
    from napari_srmat.grainsize import measure_grain_size_job
    from napari_srmat.metrics.edges import evaluate_maps_job
    from napari_srmat.metrics.heyn import measure_intercepts
    from napari_srmat.metrics.standards import measure_field

    assert (HEYN_N_LINES, HEYN_SEED, HEYN_MARGIN) == (50, 1234, 0.05)
    for fn in (measure_intercepts, measure_grain_size_job, evaluate_maps_job, measure_field):
        d = _defaults(fn)
        assert d["n_lines"] == HEYN_N_LINES and d["seed"] == HEYN_SEED, fn.__name__
        assert d["margin"] == HEYN_MARGIN, fn.__name__
    assert (HEYN_KW["n_lines"], HEYN_KW["seed"], HEYN_KW["margin"]) == (
        HEYN_N_LINES, HEYN_SEED, HEYN_MARGIN)


@pytest.mark.parametrize("argv", [["heyn", "m.png"], ["grain-size", "x.png"]])
def test_cli_heyn_defaults(argv):
    args = build_parser().parse_args(argv)
    assert (args.lines, args.seed, args.margin) == (HEYN_N_LINES, HEYN_SEED, HEYN_MARGIN)


def test_boundary_tile_defaults():
    from napari_srmat.edges import predict_boundaries_job
    from napari_srmat.widgets.layers import boundaries_job

    for fn in (predict_boundaries_job, boundaries_job):
        d = _defaults(fn)
        assert (d["tile"], d["overlap"]) == (BOUNDARY_TILE, BOUNDARY_OVERLAP), fn.__name__
    args = build_parser().parse_args(["edges", "predict", "x.png", "--out", "o"])
    assert (args.tile, args.overlap) == (BOUNDARY_TILE, BOUNDARY_OVERLAP)


def test_sr_training_device_follows_the_device_rule():
    from napari_srmat.edges.train import BoundaryTrainConfig
    from napari_srmat.sr.train import SRTrainConfig

    assert SRTrainConfig().device == BoundaryTrainConfig().device == "auto"


def test_training_defaults_come_from_the_configs():
    from napari_srmat.edges.config import BoundaryTrainConfig
    from napari_srmat.sr.train import SRTrainConfig

    b, s = BoundaryTrainConfig(), SRTrainConfig()
    a = build_parser().parse_args(["edges", "train", "--data", "d"])
    assert (a.epochs, a.encoder, a.lr, a.batch_size, a.crop, a.seed, a.device) == (
        b.epochs, b.encoder, b.lr, b.batch_size, b.crop, b.seed, b.device)
    from napari_srmat.cli.sr import build_sr_parser

    a = build_sr_parser().parse_args(["train", "--out", "o"])
    assert (a.model, a.scale, a.train_steps, a.batch_size, a.patch, a.lr, a.loss, a.device) == (
        s.model, s.scale, s.steps, s.batch_size, s.patch, s.lr, s.loss, s.device)
    assert a.degradation == s.degradation["mode"]


def test_tile_batch_size_default_is_named():
    """Tiles per fn call: one named default (tiling.DEFAULT_BATCH_SIZE) for the engine,
    the super-resolution and boundary inference built on it and ``srmat sr run``."""
    from napari_srmat.cli.sr import build_sr_parser
    from napari_srmat.edges import predict_boundaries_job
    from napari_srmat.sr import super_resolve_job
    from napari_srmat.sr.rescan import plan_rescan_job, sr_uncertainty_job
    from napari_srmat.tiling import DEFAULT_BATCH_SIZE, tiled_apply_dask, tiled_apply_job
    from napari_srmat.widgets.layers import add_super_resolution, super_resolution_job

    for fn in (tiled_apply_job, tiled_apply_dask, super_resolve_job, predict_boundaries_job,
               plan_rescan_job, sr_uncertainty_job, super_resolution_job,
               add_super_resolution):
        assert _defaults(fn)["batch_size"] == DEFAULT_BATCH_SIZE, fn.__name__
    args = build_sr_parser().parse_args(["run", "x.png", "o.zarr"])
    assert args.batch_size == DEFAULT_BATCH_SIZE
