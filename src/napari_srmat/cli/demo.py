"""``srmat demo``: the main job on built-in synthetic sample data."""

from __future__ import annotations

import argparse

from ..io import LENGTH_UNIT
from . import (
    DEVICE_HELP,
    add_renamed_option,
    pixel_size_arg,
    print_json_result,
    run_cli_job,
    seed_arg,
)

#: Sides (px) of the demo's synthetic micrograph: it is a quick sample, not a benchmark.
DEMO_MIN_SIZE, DEMO_MAX_SIZE = 32, 4096


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the whole pipeline on a synthetic micrograph",
        description="Generate a synthetic micrograph with exact ground truth, measure grain "
        "size, super-resolve it and predict boundaries + uncertainty with the shipped models. "
        "Writes PNG previews, OME-Zarr stores and report.md/report.json into OUT.",
    )
    p.add_argument("--out", default="srmat-demo", help="output folder (default: srmat-demo)")
    p.add_argument("--size", type=int, default=384, help="micrograph side in px (default 384)")
    p.add_argument("--seed", type=seed_arg, default=0,
                   help="seed of the synthetic micrograph (default 0)")
    p.add_argument("--scale", type=int, default=4, choices=(2, 4),
                   help="SR magnification (default 4)")
    p.add_argument("--pixel-size-um", type=pixel_size_arg, default=0.5,
                   help=f"{LENGTH_UNIT} per pixel of the synthetic micrograph (default 0.5)")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    # its old name --steps (issue 17: --steps meant three different things)
    add_renamed_option(p, "--stages", "--steps",
                       why="the stages of the demo to run; a training's steps are "
                           "--train-steps",
                       default="heyn,sr,boundaries",
                       help="comma-separated subset of heyn,sr,boundaries (the stages to run)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ..studies.demo import run_demo_job

    steps = tuple(s.strip() for s in args.stages.split(",") if s.strip())
    unknown = set(steps) - {"heyn", "sr", "boundaries"}
    if unknown or not steps:
        raise ValueError(f"{'unknown demo stages' if unknown else 'no demo stage'} (--stages)"
                         f"{' ' + str(sorted(unknown)) if unknown else ''}; use heyn, sr, "
                         "boundaries")
    if not DEMO_MIN_SIZE <= args.size <= DEMO_MAX_SIZE:
        raise ValueError(f"--size must be between {DEMO_MIN_SIZE} and {DEMO_MAX_SIZE} px "
                         f"(the demo is a small sample), got {args.size}")
    report = run_cli_job(run_demo_job(
        args.out, size=args.size, seed=args.seed, scale=args.scale,
        pixel_size_um=args.pixel_size_um, device=args.device, steps=steps,
    ), quiet=args.json)
    if args.json:  # the run's warnings: printed, and listed
        print_json_result(report)
    else:
        print(f"demo written to {report['output_dir']} (open report.md)")
    return 0
