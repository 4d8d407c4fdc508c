"""``srmat sr eval HR SR``: fidelity of a super-resolved image against its HR reference.

Prints ``psnr_y``, ``ssim_y`` (Y of YCbCr, BT.601, ``scale`` px border cropped), ``essim``,
the LDL artifact map's mean (and its no-reference variant against the LR input), a
domain-shift warning and the degradation recipe (see
:func:`napari_srmat.metrics.sr.evaluate_sr_pair`). Registered by :mod:`napari_srmat.cli.sr`
as the ``eval`` action.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import (
    WRITES_OUTPUT,
    UserError,
    add_renamed_option,
    check_distinct_inputs,
    command_name,
    input_path_arg,
    int_arg,
    naming_file,
    naming_roles,
    print_json,
    warning_line,
)

if TYPE_CHECKING:
    import numpy as np

    from ..io import Micrograph

__all__ = ["add_eval_parser"]

#: Degradation modes ``--degradation`` accepts by name (the training recipes of
#: :mod:`napari_srmat.sr.degrade`); anything else must be a JSON object.
DEGRADATION_NAMES = ("bicubic", "classical", "realesrgan")

#: What ``srmat sr eval`` asks of one file given as both HR and SR (scored against
#: itself: psnr_y inf, ssim_y 1, read as a perfect SR model).
SR_AGAINST_HR = "the SR image is scored against its HR reference: give their two files"


def add_eval_parser(sub) -> argparse.ArgumentParser:
    """Add the ``eval`` action to the ``srmat sr`` sub-parsers."""
    e = sub.add_parser("eval", help="fidelity of an SR image against its HR reference")
    e.add_argument("hr", type=input_path_arg, help="HR reference image")
    e.add_argument("sr", type=input_path_arg,
                   help="super-resolved image (e.g. the OME-Zarr of `srmat sr run`)")
    e.add_argument("--scale", type=int_arg(1), default=None,
                   help="magnification, also the border cropped (default: the SR output's "
                        "recorded scale, which another is refused for, else the LR's size "
                        "ratio, else 4)")
    # its old name --lr: the learning rate of the training commands (--learning-rate)
    add_renamed_option(e, "--lr-image", "--lr",
                       why="--lr is the learning rate of the training commands",
                       type=input_path_arg, default=None, metavar="LR",
                       help="the LR input the SR image was made from (default: HR "
                            "degraded by antialiased bicubic downsampling)")
    e.add_argument("--degradation", default=None, metavar="RECIPE",
                   help="how the LR input was made: bicubic, classical, realesrgan or a "
                        "JSON object (default: what the SR output's metadata records)")
    e.add_argument("--ldl-map", default=None, metavar="OUT.tif",
                   help="write the LDL artifact map (float32 TIFF, HR size)")
    e.add_argument("--noref-map", default=None, metavar="OUT.tif",
                   help="write the no-reference LDL map (SR degraded vs LR; float32 TIFF)")
    e.add_argument("--overwrite", action="store_true",
                   help="replace a --ldl-map / --noref-map that srmat sr eval wrote (never "
                        "another file)")
    e.add_argument("--json", action="store_true", help="print one JSON object to stdout")
    e.set_defaults(func=_eval, **{WRITES_OUTPUT: ("ldl_map", "noref_map")})  # maps only when asked
    return e


def _parse_degradation(text: str) -> dict:
    if text in DEGRADATION_NAMES:
        return {"mode": text}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise UserError(f"--degradation must be one of {', '.join(DEGRADATION_NAMES)} or a "
                        f"JSON object, got {text!r}")
    from dataclasses import fields

    from ..sr.degrade import DegradationConfig

    known = [f.name for f in fields(DegradationConfig)]
    unknown = [k for k in value if k not in known]
    if unknown:
        raise UserError(f"--degradation: got an unexpected keyword argument {unknown[0]!r} "
                        f"(known: {', '.join(known)})")
    DegradationConfig(**value)  # its values are checked too
    return value


def _open(path: str) -> Micrograph:
    """The image at ``path`` opened (its metadata; a store's pixels not read yet)."""
    from ..io import read_image

    with naming_file(path):
        return read_image(path)


def _read(path: str, mg: Micrograph | None = None) -> np.ndarray:
    """The image's pixels as float in [0, 1] (grey or RGB), ``mg`` if already opened."""
    from ..io import grey_or_rgb, read_window, to_float01

    if mg is None:
        mg = _open(path)
    with naming_file(path):  # a damaged chunk: ImageReadError naming the file
        pixels = read_window(mg.data, 0, mg.data.shape[0], 0, mg.data.shape[1])
    return to_float01(grey_or_rgb(pixels))


#: The maps of --ldl-map / --noref-map are float TIFFs.
MAP_SUFFIXES = ((".tif", ".tiff"), "a float32 TIFF")
#: What each map option writes: its TIFF's ImageDescription, with Software = CREATOR, by
#: which :func:`is_our_map` knows a map --overwrite may replace.
MAP_KINDS = {"--ldl-map": "srmat sr eval LDL artifact map",
             "--noref-map": "srmat sr eval no-reference LDL map"}


def is_our_map(path, flag: str) -> bool:
    """Whether ``path`` is a TIFF that ``srmat sr eval`` wrote for ``flag``.

    Parameters
    ----------
    path : path-like
        The file.
    flag : str
        ``"--ldl-map"`` or ``"--noref-map"`` (:data:`MAP_KINDS`).

    Returns
    -------
    bool
        Its first page's Software tag is napari-srmat's and its description the map's.
    """
    import tifffile

    from ..outputs import CREATOR

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            return page.software == CREATOR and page.description == MAP_KINDS[flag]
    except (OSError, ValueError, IndexError, tifffile.TiffFileError):
        return False


def _check_map(flag: str, path: str, inputs, overwrite: bool):
    """The map's file, checked: a .tif that is no input and, if it exists, a map of
    ``flag`` that srmat sr eval wrote, replaced only with ``overwrite``."""
    from ..outputs import check_output_file

    return check_output_file(path, inputs=inputs, overwrite=overwrite, example="map.tif",
                             ours=lambda p: is_our_map(p, flag), suffixes=MAP_SUFFIXES)


def _write_map(flag: str, path: str, image, inputs, overwrite: bool) -> str:
    import tifffile

    from .._atomic import atomic_path
    from ..outputs import CREATOR

    out = _check_map(flag, path, inputs, overwrite)
    with atomic_path(out) as tmp:
        tifffile.imwrite(tmp, image, software=CREATOR, description=MAP_KINDS[flag])
    return str(out)


def _size(image) -> str:
    return f"{image.shape[0]} x {image.shape[1]} px"


def _eval(args: argparse.Namespace) -> int:
    from ..io import ImageSizeError
    from ..metrics.sr import degradation_recipe, evaluate_sr_pair, sr_output_scale

    check_distinct_inputs([args.hr, args.sr], "image", SR_AGAINST_HR)
    recipe = None
    if args.degradation is not None:
        recipe = {"recipe": _parse_degradation(args.degradation), "source": "--degradation"}
    inputs = [p for p in (args.hr, args.sr, args.lr_image) if p]
    if (args.ldl_map is not None and args.noref_map is not None
            and Path(args.ldl_map).absolute() == Path(args.noref_map).absolute()):
        raise UserError("--ldl-map and --noref-map must be different files")
    for flag, p in (("--ldl-map", args.ldl_map), ("--noref-map", args.noref_map)):
        if p is not None:  # refuse a bad output ("" too) before computing anything
            with naming_file(flag):
                _check_map(flag, p, inputs, args.overwrite)
    sr_image = _open(args.sr)
    sr_attrs = sr_image.metadata.get("srmat") or {}
    # a --scale contradicting the SR output's recorded one is refused (every metric
    # wrong), from its metadata, before any pixel is read
    scale = sr_output_scale(sr_attrs, args.scale, name=args.sr)
    hr = _read(args.hr)
    sr = _read(args.sr, sr_image)
    lr = _read(args.lr_image) if args.lr_image else None
    scale_source = ("--scale" if args.scale is not None else
                    "sr output metadata" if scale is not None else None)
    if scale is None and lr is not None and lr.shape[0] and sr.shape[0] % lr.shape[0] == 0:
        scale, scale_source = sr.shape[0] // lr.shape[0], "LR size ratio"
        if scale == 1:  # almost surely the HR given as --lr by mistake
            raise UserError(
                f"LR {args.lr_image} ({_size(lr)}) is the size of SR {args.sr} ({_size(sr)}): "
                "that is a x1 evaluation; give --scale 1 if it is meant")
    if scale is None:
        scale, scale_source = 4, "default"
    if scale < 1:  # --scale is checked by argparse, before any image is read
        raise UserError(f"the scale from the {scale_source} must be >= 1, got {scale}")
    if recipe is None:
        recipe = degradation_recipe(sr_attrs)
    # which files: too small; and shapes told by role ("HR and SR shapes differ"), pixel
    # values by the argument's name ("hr has NaN or Inf pixels")
    roles = {"HR": args.hr, "SR": args.sr, "LR": args.lr_image}
    with naming_file(f"{args.hr} and {args.sr}", only=(ImageSizeError,)), \
            naming_roles({**roles, **{role.lower(): path for role, path in roles.items()}}):
        result, maps = evaluate_sr_pair(hr, sr, scale, lr=lr, degradation=recipe,
                                        return_maps=True)
    written = {}
    if args.ldl_map is not None:
        written["ldl_map"] = _write_map("--ldl-map", args.ldl_map, maps["ldl"], inputs,
                                        args.overwrite)
    if args.noref_map is not None:
        written["noref_map"] = _write_map("--noref-map", args.noref_map, maps["ldl_noref"],
                                          inputs, args.overwrite)
    summary = {"hr": str(args.hr), "sr": str(args.sr), "lr": args.lr_image,
               **result, "scale_source": scale_source, "maps": written,
               "sr_model": sr_attrs.get("model")}
    summary["degradation"] = recipe or {"recipe": None, "source": "unknown (not given, "
                                        "not recorded in the SR output)"}
    if summary["psnr_y"] == float("inf"):  # strict JSON has no Infinity
        summary["psnr_y"], summary["identical"] = None, True
    warning = result["domain_shift"]["warning"]
    if warning:
        print(warning_line(command_name(args), warning), file=sys.stderr)
    if args.json:
        print_json(summary)
    else:
        print(f"{Path(args.sr).name} vs {Path(args.hr).name} (x{scale}, border {scale} px, Y):")
        for key in ("psnr_y", "ssim_y", "essim", "ldl_mean", "noref_ldl_mean"):
            print(f"  {key:15s} {result[key]:.6g}")  # inf prints as "inf"
        rec = summary["degradation"]
        print(f"  degradation     {json.dumps(rec['recipe'])} ({rec['source']})")
        for name, path in written.items():
            print(f"  wrote {name}: {path}")
    return 0
