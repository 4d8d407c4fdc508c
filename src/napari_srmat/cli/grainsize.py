"""``srmat grain-size``: mean lineal intercept and ASTM G of micrographs, with a 95 % interval."""

from __future__ import annotations

import argparse
import sys

from . import UserError, pixel_size_arg, print_json


def _scale_arg(text: str) -> float | None:
    if text == "auto":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number, got {text!r}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "grain-size",
        help="grain size (mean lineal intercept, ASTM G) of micrographs, with a 95%% interval",
        description="Run the shipped boundary model at a scale where it is reliable, "
        "binarise, thin, lay Heyn test lines (those of `srmat heyn --skeletonize`) and report "
        "the mean lineal intercept and ASTM grain size G per image with a 95%% interval that "
        "includes the model's uncertainty. PNG/JPEG/TIFF/OME-Zarr (also `srmat sr run` "
        "outputs); the pixel size comes from the file unless --pixel-size-um is given. With "
        "--mask the inputs are boundary masks (no model: the measurement of `srmat heyn`). "
        "See docs/grain_size.md.",
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="micrographs (or masks with --mask)")
    p.add_argument("--pixel-size-um", type=pixel_size_arg, default=None,
                   help="µm per pixel (overrides the file's)")
    p.add_argument("--mask", action="store_true", help="inputs are boundary masks (no model)")
    p.add_argument("--pattern", default="random", choices=("random", "grid", "circles"))
    p.add_argument("--lines", type=int, default=50, help="random lines / grid lines per axis")
    p.add_argument("--seed", type=int, default=1234, help="seed of the random pattern")
    p.add_argument("--margin", type=float, default=0.05, help="margin fraction (default 0.05)")
    p.add_argument("--inference-scale", type=_scale_arg, default=None, metavar="S|auto",
                   help="resample by S before the model (default auto: chosen per image)")
    p.add_argument("--checkpoint", default=None, help="boundary model (default: shipped weights)")
    p.add_argument("--tta", choices=("none", "d4"), default=None,
                   help="test-time augmentation (default: the checkpoint's setting)")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help='print one JSON object {"images": [...]}')
    p.set_defaults(func=_run)


def _fmt_interval(v, ci, unit: str, digits: int = 2) -> str:
    text = f"{v:.{digits}f} {unit}".rstrip()
    if ci is not None:
        text += f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"
    return text


def describe(row: dict) -> str:
    """One line of text output for a ``to_dict()`` row."""
    if row["mean_intercept_px"] is None:
        return f"{row['path']}: no grain size reported (see the warnings)"
    parts = ["ℓ̄ = " + _fmt_interval(row["mean_intercept_px"], row["mean_intercept_ci95_px"],
                                      "px")]
    if row["mean_intercept_um"] is not None:
        parts.append(_fmt_interval(row["mean_intercept_um"], row["mean_intercept_ci95_um"],
                                   "µm"))
        parts.append("G = " + _fmt_interval(row["astm_g"], row["astm_g_ci95"], ""))
    tail = f"{row['n_intercepts']} intercepts"
    if row["mode"] == "image":
        tail += f", inference scale {row['inference_scale']:g}"
    return f"{row['path']}: " + ", ".join(parts) + f" (95% intervals; {tail})"


def _run(args: argparse.Namespace) -> int:
    from ..grainsize import measure_grain_size_job
    from ..io import read_image
    from ..jobs import run_job

    if args.lines < 1:
        raise UserError(f"--lines must be >= 1, got {args.lines}")
    if args.mask and (args.checkpoint or args.tta or args.inference_scale is not None):
        raise UserError("--checkpoint, --tta and --inference-scale are for images, not --mask")
    model = None
    if not args.mask:
        from ..edges import load_boundary_model

        model = load_boundary_model(args.checkpoint, device=args.device, tta=args.tta)
    rows = []
    for path in args.images:
        mic = read_image(path)
        res = run_job(measure_grain_size_job(
            mic, pixel_size_um=args.pixel_size_um, model=model, mask=args.mask,
            pattern=args.pattern, n_lines=args.lines, seed=args.seed, margin=args.margin,
            inference_scale=args.inference_scale,
        ), quiet=args.json)
        rows.append({"path": str(path), **res.to_dict()})
        for w in res.warnings:
            print(f"srmat grain-size: warning: {path}: {w}", file=sys.stderr)
    if args.json:
        settings = {"mask": bool(args.mask), "pattern": args.pattern, "lines": args.lines,
                    "seed": args.seed, "margin": args.margin}
        if model is not None:
            settings.update(checkpoint=model.path, tta=model.tta, threshold=model.threshold)
        print_json({"images": rows, "settings": settings})
        return 0
    for row in rows:
        print(describe(row))
    return 0
