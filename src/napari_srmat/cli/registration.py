"""``srmat register``: scale and drift of an LR acquisition on an HR scan."""

from __future__ import annotations

import argparse

from ..sr.registration import HINT_TOLERANCE, SCALE_RANGE
from . import (
    WRITES_OUTPUT,
    _checked_number_arg,
    check_distinct_inputs,
    naming_roles,
    print_json_result,
)

__all__ = ["register"]

#: What ``srmat register`` asks of one file given as both MOVING and FIXED (registered on
#: itself: scale 1, offset 0, SSIM 1, read as a perfect registration).
MOVING_ONTO_FIXED = "MOVING is registered onto another image, FIXED: give their two files"

#: ``--scale``'s help: the range searched around it
#: (:data:`~napari_srmat.sr.registration.HINT_TOLERANCE`) and without it
#: (:data:`~napari_srmat.sr.registration.SCALE_RANGE`). Until 2026-12-07 a literal: that
#: module imported scipy (1 s of every ``srmat`` command), now only where it registers.
SCALE_HELP = (f"approximate scale S (searched from S/{HINT_TOLERANCE:g} to "
              f"S*{HINT_TOLERANCE:g}); default: search {SCALE_RANGE[0]:g}-{SCALE_RANGE[1]:g}")


def scale_remedy(scale: float | None) -> str:
    """What ``srmat register`` asks of a scale found at a limit of the scales searched
    (the correlation still rising beyond it): the options that search elsewhere or hold
    it. Until 2026-12-07 it said "searched within +-10%" (the range is -9/+10 %) and,
    after a ``--scale`` given, asked for the ``--scale S`` that had been given.

    Parameters
    ----------
    scale : float or None
        The ``--scale`` given (None: the default range was searched).

    Returns
    -------
    str
        Without ``scale``: give an approximate one (the range searched around it), or
        the exact one; with it: the range it searched, and to check it, search the
        default range (:data:`~napari_srmat.sr.registration.SCALE_RANGE`) where that
        holds ``scale``, else give a closer one, or hold it.

    Examples
    --------
    >>> scale_remedy(2.3)
    'searched 2.09-2.53 around --scale 2.3: check it, leave it out to search 1-8, or hold it with --fixed-scale'
    >>> scale_remedy(12.0)
    'searched 10.9-13.2 around --scale 12: check it, give a closer --scale, or hold it with --fixed-scale'
    """  # noqa: E501
    if scale is None:
        return (f"give the approximate scale with --scale S (searched from "
                f"S/{HINT_TOLERANCE:g} to S*{HINT_TOLERANCE:g}) or the exact one with "
                "--scale S --fixed-scale")
    # the default range is offered only where it holds the scale given: 12 or 0.5 (a
    # --scale takes 1/16-16) cannot be found there
    elsewhere = (f"leave it out to search {SCALE_RANGE[0]:g}-{SCALE_RANGE[1]:g}"
                 if SCALE_RANGE[0] <= scale <= SCALE_RANGE[1] else "give a closer --scale")
    return (f"searched {scale / HINT_TOLERANCE:.3g}-{scale * HINT_TOLERANCE:.3g} around "
            f"--scale {scale:g}: check it, {elsewhere}, or hold it with --fixed-scale")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "register",
        help="register MOVING (LR acquisition) onto FIXED (HR scan): scale, drift, SSIM",
        description="Find scale (FIXED px per MOVING px) and offset_px (row, col of MOVING's "
                    "top-left corner in FIXED px, sub-pixel) by a coarse-to-fine search "
                    "maximising correlation, refined by SSIM; ssim is the match quality.")
    p.add_argument("moving", help="image to place (e.g. the LR acquisition)")
    p.add_argument("fixed", help="reference image (e.g. the HR scan)")
    p.add_argument("--scale", type=_scale_arg, default=None, metavar="S", help=SCALE_HELP)
    p.add_argument("--fixed-scale", action="store_true", dest="fixed_scale",
                   help="take --scale as exact; find only the offset")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_register, **{WRITES_OUTPUT: False})  # a Ctrl-C leaves no file


def _register(args: argparse.Namespace) -> int:
    from ..io import read_image
    from ..sr.registration import register_images
    from . import UserError

    if args.fixed_scale and args.scale is None:
        raise UserError("--fixed-scale needs --scale")
    check_distinct_inputs([args.moving, args.fixed], "image", MOVING_ONTO_FIXED)
    # Micrographs: the pixel sizes the files record are checked against the scale found
    moving, fixed = read_image(args.moving), read_image(args.fixed)
    # "the moving image ...": which file (registration errors, the float rule's
    # ValueError), the rule of the commands that pass several images to one call
    roles = {f"the {role} image": path for role, path in (("moving", args.moving),
                                                          ("fixed", args.fixed))}
    with naming_roles(roles):  # ValueErrors: RegistrationError, ImageReadError too
        reg = register_images(moving, fixed, scale=args.scale,
                              fit_scale=not args.fixed_scale)
    result = {"moving": str(args.moving), "fixed": str(args.fixed), **reg.to_dict()}
    if args.json:
        # its warnings (a poor match, a scale the pixel sizes contradict) are printed as
        # they come and listed, as `srmat sr run --json` lists its own; a poor match's
        # result too ("trusted": false), for a script that reads it
        print_json_result(result)
    elif reg.trusted:
        oy, ox = reg.offset_px
        print(f"scale {reg.scale:.4f} (FIXED px per MOVING px), offset_px "
              f"({oy:.2f}, {ox:.2f}), ssim {reg.ssim:.3f}")
    _check_trusted(reg, args.scale)
    return 0


def _check_trusted(reg, scale: float | None = None) -> None:
    """Refuse (exit 2) a registration that is not to be trusted
    (:attr:`~napari_srmat.sr.registration.Registration.trusted`: a poor match, the
    threshold below which ``srmat sr train --pairs`` refuses a pair, a scale at a limit
    of the range searched, images that look swapped): an exit 0 let a script that
    checks the exit code take it for a registration.

    Raises
    ------
    UserError
        When the SSIM is below :data:`~napari_srmat.sr.registration.MIN_MATCH_SSIM`
        or NaN, or the registration has doubts (``Registration.doubts``; a scale at a
        limit of the range searched is told :func:`scale_remedy` of ``scale``, the
        ``--scale`` given).
    """
    from ..sr.registration import AT_SCALE_LIMIT
    from . import UserError

    if reg.trusted:
        return
    # its SSIM as Registration.match_text shows it (NaN: not measured), then the doubts
    why = [] if reg.matched else [f"poor match: ssim {reg.match_text()} (the threshold "
                                  "`srmat sr train --pairs` refuses a pair below too)"]
    remedy = f"; {scale_remedy(scale)}" if AT_SCALE_LIMIT in reg.doubts else ""
    raise UserError("; ".join([*why, *reg.doubts])
                    + ": the scale and offset are not to be trusted" + remedy)


def _scale_arg(text: str) -> float:
    """argparse ``type=`` of ``--scale``: the rule of
    :func:`napari_srmat.sr.registration.register_images` (a number in
    :data:`~napari_srmat.sr.registration.SCALE_LIMITS`), checked before the images are
    read and reported with the flag."""
    from ..errors import check_number
    from ..sr.registration import SCALE_LIMITS

    return _checked_number_arg(text, lambda v: check_number(
        "scale", v, lo=SCALE_LIMITS[0], hi=SCALE_LIMITS[1]))
