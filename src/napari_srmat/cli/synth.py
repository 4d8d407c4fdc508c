"""``srmat synth``: synthetic micrographs with exact ground truth."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..io import LENGTH_UNIT
from ..synth.generator import MIN_SYNTH_SIDE, SEED_LAYOUTS
from . import (
    CTRL_C_KEPT,
    PX_RENAMED_WHY,
    RERUN_TO_RESUME,
    Interrupted,
    UserError,
    add_renamed_option,
    pixel_size_arg,
    print_json_result,
    seed_arg,
    tell_listed,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "synth",
        help="generate synthetic micrographs with true boundaries and grain size",
        description="Write N synthetic polarized-light micrographs to OUT_DIR: "
        "<name>_image.png (RGB), <name>_mask.png (255 = true boundary), <name>_labels.tif "
        "(int32 grain ids) and <name>.json (true mean lineal intercept and parameters).",
    )
    p.add_argument("out_dir", metavar="OUT_DIR", help="output folder (created if needed)")
    add_renamed_option(p, "--size-px", "--size", why=PX_RENAMED_WHY, type=int, default=512,
                       metavar="PX",
                       help=f"image side in px, at least {MIN_SYNTH_SIDE} (default 512)")
    add_renamed_option(p, "--grain-size-px", "--grain-size", why=PX_RENAMED_WHY, type=float,
                       default=32.0, metavar="PX",
                       help="mean grain size in px (default 32), mean_grain_size_px of "
                            "generate_microstructure")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of the first image")
    p.add_argument("--n", type=int, default=1, help="number of images (seeds seed..seed+n-1)")
    p.add_argument("--size-spread", type=float, default=0.3,
                   help="grain-size spread in [0, 1] (0 = nearly equal grains; default 0.3)")
    p.add_argument("--seed-layout", choices=SEED_LAYOUTS, default=SEED_LAYOUTS[0],
                   help="where grains grow from: one seed jittered in each cell of a grid of "
                        "the grain size (lattice, the default; test lines spaced near a "
                        "multiple of it alias with its order) or a Poisson point process of "
                        "the same density (poisson, no lattice)")
    p.add_argument("--missing-boundary-fraction", type=float, default=0.0,
                   help="fraction in [0, 1] of boundaries drawn faint in the image (they stay "
                        "in the mask; default 0)")
    p.add_argument("--boundary-width", type=int, default=2,
                   help="boundary width in px, 1-16 (default 2)")
    p.add_argument("--pixel-size-um", type=pixel_size_arg, default=None,
                   help=f"{LENGTH_UNIT} per pixel, recorded in <name>.json with the "
                        f"intercept in {LENGTH_UNIT} and in the image, mask and label files "
                        "(default: none)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.add_argument("--overwrite", action="store_true",
                   help="replace images this command wrote before under the same names "
                        "(the folder's other images are kept; with or without it, those of "
                        "other parameters are named in a warning)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ..outputs import add_to_marker, prepare_output_dir, read_marker, write_marker

    if args.size_px < MIN_SYNTH_SIDE:  # generate_microstructure's minimum
        raise UserError(f"--size-px must be at least {MIN_SYNTH_SIDE} px, got {args.size_px}")
    if args.n < 1:
        raise UserError("--n must be at least 1")
    _check_params(args)  # before the folder is created
    from ..io._write import check_png_pixel_size

    try:
        check_png_pixel_size(args.pixel_size_um, field="--pixel-size-um")
    except ValueError as exc:
        raise UserError(str(exc)) from None
    # a set whose last run stopped part-way (its marker not complete) is finished by the
    # same command: the images that run wrote with the same parameters are kept
    marker = read_marker(args.out_dir) if Path(args.out_dir).is_dir() else None
    resuming = marker is not None and marker.get("complete") is False
    out = prepare_output_dir(args.out_dir, "synthetic")
    kept = {}  # nothing is written before every name is free
    for i in range(args.n):
        seed = args.seed + i
        kept[seed] = _check_names_free(out, f"synth_{seed:04d}", args.overwrite,
                                       _recorded_params(args, seed) if resuming else None)
    if not resuming:  # a Ctrl-C from here on leaves a set the same command finishes
        add_to_marker(out, {"complete": False})
    try:
        items = _write_set(args, out, kept)
    except KeyboardInterrupt as exc:
        raise Interrupted(f"{CTRL_C_KEPT}; {RERUN_TO_RESUME}") from exc
    write_marker(out, "synthetic", complete=True)
    if left := _other_parameters(args, out):  # every run: a set may grow by several
        listed = ", ".join(left[:_LISTED]) + (f" and {len(left) - _LISTED} more"
                                              if len(left) > _LISTED else "")
        tell_listed("warning", f"{out} also holds {len(left)} image(s) written with other "
                    f"parameters, kept as they are: {listed} (delete them, or rerun with "
                    "their seeds, before using the folder as one data set)")
    if args.json:
        print_json_result({"out_dir": str(out), "n": len(items), "images": items})
    return 0


#: Images named at most in the warning of :func:`_other_parameters`' images.
_LISTED = 5


def _other_parameters(args: argparse.Namespace, out: Path) -> list[str]:
    """The images of ``out`` outside this run's seeds whose records hold other parameters
    than this run's (or none: unfinished), sorted: ``--overwrite`` replaces the images of
    its own names only, and a set may be built by several runs, so the others are kept;
    these would mix two parameter sets in one data set (until 2026-12-07 nothing was
    said; then, for a while that day, only with ``--overwrite``: a run of other seeds
    mixed them silently)."""
    left = []
    for path in out.glob("synth_*.json"):
        digits = path.stem.removeprefix("synth_")
        if not digits.isdigit() or path.stem != f"synth_{int(digits):04d}":
            continue  # not a name this command gives
        seed = int(digits)
        if args.seed <= seed < args.seed + args.n:
            continue  # written (or kept) by this run
        try:
            params = json.loads(path.read_text()).get("params")
        except (OSError, ValueError, AttributeError):
            continue  # not a record of ours
        if params != _recorded_params(args, seed):
            left.append((seed, path.stem))
    return [name for _, name in sorted(left)]


def _write_set(args: argparse.Namespace, out: Path, kept: dict[int, dict | None]) -> list:
    """Write the set's images, but those in ``kept`` (their records, from a run that
    stopped part-way); return every image's record."""
    import tifffile

    from .._atomic import atomic_path, atomic_write_bytes, atomic_write_text
    from ..io import png_bytes
    from ..synth import generate_microstructure

    items = []
    for i in range(args.n):
        seed = args.seed + i
        name = f"synth_{seed:04d}"
        if kept[seed] is not None:
            items.append(kept[seed])
            if not args.json:
                print(f"{name}: {kept[seed]['n_grains']} grains, true mean intercept "
                      f"{kept[seed]['mean_intercept_px']:.2f} px -> {out} ({KEPT_NOTE})")
            continue
        ms = generate_microstructure((args.size_px, args.size_px), seed=seed,
                                     **_params(args))
        files = {"image": f"{name}_image.png", "mask": f"{name}_mask.png",
                 "labels": f"{name}_labels.tif"}
        # the record first, marked unfinished: files of a set interrupted part-way are
        # known as ours (they were taken for the user's, and the seed was blocked for good)
        atomic_write_text(out / f"{name}.json", json.dumps(
            {"name": name, "seed": seed, "files": files, PENDING_KEY: True}, indent=2))
        px = args.pixel_size_um  # in the PNGs too, read back by every srmat command
        atomic_write_bytes(out / f"{name}_image.png", png_bytes(ms.image, px))
        mask = (ms.boundaries.astype(np.uint8)) * 255
        atomic_write_bytes(out / f"{name}_mask.png", png_bytes(mask, px))
        with atomic_path(out / f"{name}_labels.tif") as tmp:
            tifffile.imwrite(tmp, ms.labels, **({} if px is None else {
                "resolution": (1e4 / px, 1e4 / px), "resolutionunit": "CENTIMETER"}))
        truth = ms.to_dict()
        info = {
            "name": name,
            "seed": seed,
            **{k: truth[k] for k in ("shape", "mean_intercept_px", "mean_intercept_definition",
                                     "n_grains", "pixel_size_um", "mean_intercept_um")},
            "files": files,
            "params": truth["params"],
        }
        atomic_write_text(out / f"{name}.json", json.dumps(info, indent=2))
        items.append(info)
        if not args.json:
            print(
                f"{name}: {ms.n_grains} grains, true mean intercept "
                f"{ms.mean_intercept_px:.2f} px -> {out}"
            )
    return items


#: generate_microstructure's parameter of each rendering flag (the flag named in errors)
_FLAGS = {
    "mean_grain_size_px": "--grain-size-px",
    "size_spread": "--size-spread",
    "seed_layout": "--seed-layout",
    "missing_boundary_fraction": "--missing-boundary-fraction",
    "boundary_width": "--boundary-width",
    "pixel_size_um": "--pixel-size-um",
}


def _params(args: argparse.Namespace) -> dict:
    """The keyword arguments of generate_microstructure given by the flags."""
    return {name: getattr(args, flag[2:].replace("-", "_")) for name, flag in _FLAGS.items()}


def _check_params(args: argparse.Namespace) -> None:
    """Refuse rendering parameters out of range, and a --size-px whose rendering does not fit
    in memory, before anything is created, naming the flag (the library's rules,
    :func:`napari_srmat.synth.check_microstructure_params` and
    :func:`napari_srmat.estimates.check_in_memory`)."""
    from ..estimates import check_in_memory, plan_microstructure
    from ..synth import SynthError, check_microstructure_params

    # the renderer's memory rule (generate_microstructure), told with the flag: it was
    # told after the folder was created, naming the library function and its lazy twin.
    # First: a --size-px far too large was told "use a larger mean_grain_size_px" (the
    # int32 label limit of the parameter rule)
    side = args.size_px
    check_in_memory(plan_microstructure((side, side)), f"--size-px {side}",
                    advice="give a smaller --size-px (each image is rendered whole in memory)",
                    error=UserError)
    try:
        check_microstructure_params((side, side), **_params(args))
    except SynthError as exc:
        message = str(exc)
        for name, flag in _FLAGS.items():
            if message.startswith(name):
                message = flag + message[len(name):]
        raise UserError(message) from None
    # the set's disk space, before the folder and the check of its names (one per image:
    # --n 100000000000 went on checking names for ever, after creating the folder)
    from ..outputs import check_free_space

    check_free_space(args.out_dir, args.n * _LABEL_TIFF_BYTES_PER_PX * side**2,
                     what=f"set of --n {args.n} images (their int32 label TIFFs alone)")


#: Bytes per pixel of a ``<name>_labels.tif`` (int32, written uncompressed): the least a
#: synthetic image takes on disk.
_LABEL_TIFF_BYTES_PER_PX = 4


#: Key of a synthetic image's record while its files are being written (a record that
#: still has it belongs to a set interrupted part-way: replaced by the next run).
PENDING_KEY = "unfinished"


def _files_of(name: str) -> list[str]:
    """The files one synthetic image is written to (its record last)."""
    return [f"{name}_image.png", f"{name}_mask.png", f"{name}_labels.tif", f"{name}.json"]


#: How the line of an image kept from a run that stopped part-way says so.
KEPT_NOTE = "kept: written with these parameters by the run that stopped"


def _recorded_params(args: argparse.Namespace, seed: int) -> dict:
    """The ``params`` the record of image ``seed`` of this command holds
    (:attr:`napari_srmat.synth.Microstructure.params` as JSON), without rendering it."""
    from ..outputs import json_ready
    from ..synth.generator import _RENDER_DEFAULTS

    params = {"shape": [args.size_px, args.size_px],
              **_RENDER_DEFAULTS, **_params(args), "seed": seed}
    return json.loads(json.dumps(json_ready(params)))


def _check_names_free(out, name: str, overwrite: bool,
                      params: dict | None = None) -> dict | None:
    """Refuse to write ``name``'s files over a file napari-srmat did not write (its
    record ``name.json`` lists what it wrote), and over its own without ``--overwrite``
    unless the record says they were being written when a run stopped.

    Parameters
    ----------
    out : Path
        The set's folder.
    name : str
        The image's name (``synth_0000``).
    overwrite : bool
        ``--overwrite``.
    params : dict, optional
        Given when the set's last run stopped part-way: the record's ``params`` with
        which an image it finished is kept rather than refused.

    Returns
    -------
    dict or None
        The image's record when it is kept (finished, with ``params``, every file
        there), else None (its files are written).

    Raises
    ------
    UserError
        ``name``'s files may not be written.
    """
    existing = [f for f in _files_of(name) if (out / f).exists()]
    if not existing:
        return None
    try:
        record = json.loads((out / f"{name}.json").read_text())
        ours = {*record["files"].values(), f"{name}.json"}
        unfinished = record.get(PENDING_KEY) is True
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        ours, unfinished = set(), False
    foreign = [f for f in existing if f not in ours]
    if foreign:
        raise UserError(f"{out / foreign[0]} exists and napari-srmat did not write it; it "
                        "will not be replaced: choose another folder or seed")
    if overwrite or unfinished:
        return None
    if params is not None and record.get("params") == params and len(existing) == len(
            _files_of(name)):
        return record
    other = " written with other parameters" if params is not None else ""
    raise UserError(f"{out} already holds {name}{other} (pass --overwrite to replace it, "
                    "or choose another --seed)")
