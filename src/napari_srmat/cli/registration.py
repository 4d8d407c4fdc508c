"""``srmat register``: scale and drift of an LR acquisition on an HR scan."""

from __future__ import annotations

import argparse

from . import print_json

__all__ = ["register"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "register",
        help="register MOVING (LR acquisition) onto FIXED (HR scan): scale, drift, SSIM",
        description="Find scale (FIXED px per MOVING px) and offset_px (row, col of MOVING's "
                    "top-left corner in FIXED px, sub-pixel) by a coarse-to-fine search "
                    "maximising correlation, refined by SSIM; ssim is the match quality.")
    p.add_argument("moving", help="image to place (e.g. the LR acquisition)")
    p.add_argument("fixed", help="reference image (e.g. the HR scan)")
    p.add_argument("--scale", type=float, default=None,
                   help="approximate scale (searched within +-10%%); default: search 1-8")
    p.add_argument("--fixed-scale", action="store_true", dest="fixed_scale",
                   help="take --scale as exact; find only the offset")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_register)


def _register(args: argparse.Namespace) -> int:
    from ..io import read_image
    from ..sr.registration import register_images
    from . import UserError

    if args.fixed_scale and args.scale is None:
        raise UserError("--fixed-scale needs --scale")
    # Micrographs: the pixel sizes the files record are checked against the scale found
    moving, fixed = read_image(args.moving), read_image(args.fixed)
    reg = register_images(moving, fixed, scale=args.scale, fit_scale=not args.fixed_scale)
    result = {"moving": str(args.moving), "fixed": str(args.fixed), **reg.to_dict()}
    if args.json:
        print_json(result)
    else:
        oy, ox = reg.offset_px
        print(f"scale {reg.scale:.4f} (FIXED px per MOVING px), offset_px "
              f"({oy:.2f}, {ox:.2f}), ssim {reg.ssim:.3f}")
    return 0
