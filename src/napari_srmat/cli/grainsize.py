"""``srmat grain-size``: mean lineal intercept and ASTM G of micrographs, with a 95 % interval."""

from __future__ import annotations

import argparse
import functools
import shlex
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..io import LENGTH_UNIT
from ..report import format_g
from . import (
    DEVICE_HELP,
    MASK_INPUT,
    WRITES_OUTPUT,
    FailedInput,
    UserError,
    add_new_lines,
    carried_if_failed,
    check_distinct_inputs,
    check_mask_fits,
    failed_inputs_exit_code,
    input_path_arg,
    lines_arg,
    margin_arg,
    naming_file,
    not_measured_text,
    note_line,
    open_input,
    pixel_size_arg,
    print_json,
    run_cli_job,
    seed_arg,
    tell_about_file,
    threshold_arg,
    threshold_rule_arg,
    warning_line,
)

if TYPE_CHECKING:
    from ..tiling._distributed import WorkerModel


def _scale_arg(text: str) -> float | None:
    if text == "auto":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number, got {text!r}") from None
    from ..grainsize import check_inference_scale

    try:  # the library's rule, before any image is read (1e9 was refused per image)
        return check_inference_scale(value, field="the inference scale")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub: argparse._SubParsersAction) -> None:
    from ..metrics.heyn import BLOCK_SCALE_MAX, HEYN_MARGIN, HEYN_N_LINES, HEYN_SEED
    from ..metrics.planimetric import RULES as PLANIMETRIC_RULES
    from .heyn import mask_scale_arg  # srmat heyn's flag rule, the same values

    p = sub.add_parser(
        "grain-size",
        help="grain size (mean lineal intercept, ASTM G) of micrographs, with a 95%% interval",
        description="Run the shipped boundary model at a scale where it is reliable, "
        "binarise, thin, lay Heyn test lines (those of `srmat heyn --skeletonize`) and report "
        "the mean lineal intercept and ASTM grain size G per image with a 95% interval that "
        "includes the model's uncertainty. PNG/JPEG/TIFF/OME-Zarr (also `srmat sr run` "
        "outputs); the pixel size comes from the file unless --pixel-size-um is given. With "
        "--mask the inputs are boundary masks (no model: the measurement of `srmat heyn`). "
        "See docs/grain_size.md.",
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", type=input_path_arg,
                   help="micrographs (or masks with --mask)")
    p.add_argument("--pixel-size-um", type=pixel_size_arg, default=None,
                   help=f"{LENGTH_UNIT} per pixel (overrides the file's)")
    p.add_argument("--mask", action="store_true", help="inputs are boundary masks (no model)")
    p.add_argument("--threshold", type=threshold_arg, default=None,
                   help="with --mask: binarize probability maps (e.g. prob.ome.zarr of `srmat "
                   "edges predict`) at this level in [0, 1], then thin them, as `srmat heyn "
                   "--threshold --skeletonize` and measure_grain_size(mask=True, threshold=); "
                   "masks need none")
    p.add_argument("--mask-scale", type=mask_scale_arg, default=None, metavar="S",
                   help="with --mask: the masks were drawn at 1/S of this resolution and "
                        "upscaled (bilinear or smooth, e.g. with an SR image): the count's "
                        "zig-zag bridge runs on S x S blocks, as `srmat heyn --mask-scale` "
                        f"and measure_grain_size(mask=True, mask_scale=) (an integer from 1 "
                        f"to {BLOCK_SCALE_MAX}; 1: on the pixels; default: exact nearest "
                        "upscales are detected; docs/heyn.md 'Upscaled masks')")
    p.add_argument("--pattern", default=None, choices=("random", "grid", "circles"),
                   help="test lines laid over the boundaries: random lines, a grid (rows and "
                        "columns) or circles (default random; with --method grid, which also "
                        "gives the anisotropy index)")
    p.add_argument("--lines", type=lines_arg, default=HEYN_N_LINES,
                   help="random lines / grid lines per axis")
    p.add_argument("--seed", type=seed_arg, default=HEYN_SEED, help="seed of the random pattern")
    p.add_argument("--margin", type=margin_arg, default=HEYN_MARGIN,
                   help=f"margin fraction (default {HEYN_MARGIN})")
    p.add_argument("--inference-scale", type=_scale_arg, default=None, metavar="S|auto",
                   help="resample by S before the model (default auto: chosen per image)")
    p.add_argument("--checkpoint", default=None, help="boundary model (default: shipped weights)")
    p.add_argument("--tta", choices=("none", "d4"), default=None,
                   help="test-time augmentation (default: the checkpoint's setting)")
    threshold_rule_arg(p)
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--method", choices=("intercept", "planimetric"), default=None,
                   help="measure by the standards (ASTM E112 / ISO 643 / E1382: intercept with "
                        "triple points, planimetric Jeffries count, distributions, several "
                        "fields with 95%% CI and %%RA; docs/standards.md). Output: one field "
                        "per image and a specimen summary")
    p.add_argument("--rule", choices=PLANIMETRIC_RULES, default=None,
                   help=f"planimetric counting rule (with --method; default "
                        f"{PLANIMETRIC_RULES[0]})")
    p.add_argument("--twins", nargs="+", default=None, metavar="MASK",
                   help="annealing-twin masks, excluded from the counts (with --method "
                        "--mask; one for all images or one per image)")
    p.add_argument("--exclusions", nargs="+", default=None, metavar="MASK",
                   help="regions not to measure (with --method --mask; one for all images or "
                        "one per image)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="measure the images as tasks on a dask.distributed cluster: a scheduler "
                        "address (tcp://host:8786) or local:N; the images must be readable by "
                        "the workers at the same paths (docs/distributed.md)")
    p.add_argument("--json", action="store_true", help='print one JSON object {"images": [...]}')
    p.set_defaults(func=_run, **{WRITES_OUTPUT: False})  # a Ctrl-C leaves no file


def _fmt_interval(v, ci, unit: str, digits: int = 2) -> str:
    text = f"{v:.{digits}f} {unit}".rstrip()
    if ci is not None:
        text += f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"
    return text


def _scale_text(row: dict) -> str:
    """How a micrograph's row of text output says the scale it was measured at: its
    inference scale and, for a known upscale (an ``srmat sr run`` store's recorded
    factor), that factor (JSON ``upscale_factor``; until s51 only there)."""
    text = f"inference scale {row['inference_scale']:g}"
    if row.get("upscale_factor") is not None:
        text += f", upscale factor {row['upscale_factor']} (recorded super-resolution)"
    return text


def describe(row: dict) -> str:
    """One line of text output for a ``to_dict()`` row (its intervals, or that it has
    none: its ``interval_note`` says why)."""
    from ..grainsize import NO_INTERVAL_NOTE

    if row["mean_intercept_px"] is None:
        return f"{row['path']}: no grain size reported (see the warnings)"
    parts = ["ℓ̄ = " + _fmt_interval(row["mean_intercept_px"], row["mean_intercept_ci95_px"],
                                      "px")]
    if row["mean_intercept_um"] is not None:
        parts.append(_fmt_interval(row["mean_intercept_um"], row["mean_intercept_ci95_um"],
                                   LENGTH_UNIT))
        parts.append("G = " + format_g(row["astm_g"], row["astm_g_ci95"]))
    tail = f"{row['n_crossings']} crossings"
    if row["mode"] == "image":
        tail += ", " + _scale_text(row)
    # a row without its interval claims none: its interval_note (grainsize.interval_note,
    # the one rule of every row; the same text is a warning on stderr) decides
    head = ("95% intervals" if row["interval_note"] is None
            else f"{NO_INTERVAL_NOTE}: see the warnings")
    return f"{row['path']}: " + ", ".join(parts) + f" ({head}; {tail})"


def _run(args: argparse.Namespace) -> int:
    from ..metrics.planimetric import RULES as PLANIMETRIC_RULES

    # refused rather than ignored (--device: the rule of `srmat audit candidates`)
    if args.mask and (args.checkpoint or args.tta or args.threshold_rule
                      or args.inference_scale is not None or args.device != "auto"):
        raise UserError("--checkpoint, --tta, --threshold-rule, --inference-scale and "
                        "--device are for images (the model), not --mask")
    if args.threshold is not None and not args.mask:
        raise UserError("--threshold binarizes probability maps given with --mask; images are "
                        "binarized by the model's operating point (--threshold-rule)")
    if args.mask_scale is not None and not args.mask:
        raise UserError("--mask-scale is for --mask (masks drawn at 1/S and upscaled); an "
                        "image's boundaries are the model's at the inference scale")
    if args.method:  # measure_field's rule, before any field is read
        from ..metrics.standards import check_field_mask_scale

        try:
            check_field_mask_scale(args.mask_scale, args.method, name="--mask-scale")
        except ValueError as exc:
            raise UserError(str(exc)) from None
    if (args.twins or args.exclusions) and not (args.method and args.mask):
        raise UserError("--twins and --exclusions need --method and --mask (masks you bring)")
    if args.rule is not None and not args.method:  # it would be ignored without a word
        raise UserError("--rule is the counting rule of --method: give --method too")
    check_distinct_inputs(args.images, "mask" if args.mask else "image")
    args.rule = args.rule or PLANIMETRIC_RULES[0]
    if args.pattern is None:
        args.pattern = "grid" if args.method else "random"
    twins = _per_image(args.twins, args.images, "--twins")
    exclusions = _per_image(args.exclusions, args.images, "--exclusions")
    _check_region_masks(args)  # before any image is measured
    if args.scheduler is not None:
        from ..tiling._distributed import check_scheduler

        check_scheduler(args.scheduler)  # before the model is loaded
    model = None
    if not args.mask:  # with --scheduler too: its weights are those the workers must hold
        model = _boundary_model(args.checkpoint, args.device, args.tta, args.threshold_rule)
    items = list(zip(args.images, twins, exclusions))
    told = _ImageLines([path for path, _, _ in items])
    worker = None  # --scheduler's workers' model (and the digest they are checked against)
    if args.scheduler is None:
        for i, item in enumerate(items):
            told(i, _measure_or_error(args, model, *item))
    else:
        from ..tiling._distributed import map_job

        worker = None if model is None else _worker_model(args, model)
        # each result is told as it comes back (on_result); all have come once it returns
        run_cli_job(map_job(functools.partial(_measure_remote, args, worker), items,
                            args.scheduler, on_result=told), quiet=args.json)
    rows, fields, errors, user_errors = [], [], [], []
    for result in told.ordered():
        if isinstance(result, FailedInput):  # told already (_ImageLines)
            errors.append(result.entry())
            user_errors.append(result.user)
            continue
        row, _, field = result
        rows.append(row)
        if field is not None:
            fields.append(field)
    # images that could not be measured do not cost the others their results: the good
    # ones are reported and the exit code says that not all were measured
    rc = failed_inputs_exit_code(user_errors)
    # the digest the workers were checked against: the one settings name, not computed again
    digest = None if worker is None else worker.digest
    if args.method:
        return _print_specimen(args, fields, errors, model, digest) or rc
    _note_one_field(args, items, rows)
    if args.json:
        print_json({"images": rows, "errors": errors,
                    "settings": _settings(args, model, digest)})
        _check_measured(rows, rc)
        return rc
    for row in rows:
        print(describe(row))
    _check_measured(rows, rc)
    return rc


def _settings(args: argparse.Namespace, model, digest: str | None = None) -> dict:
    """How the run measured its inputs: ``--json``'s ``settings``, with or without
    ``--method`` (docs/grain_size.md's table of its keys).

    Parameters
    ----------
    args : argparse.Namespace
        The command's arguments.
    model : BoundaryModel or None
        The loaded boundary model (None with ``--mask``).
    digest : str, optional
        Its weights digest as the run computed it (``--scheduler``'s workers are checked
        against it), passed to ``measured_settings``; None: computed there.

    Returns
    -------
    dict
        The test lines, ``--mask-scale``, the threshold, for images the model's
        checkpoint and operating point and then
        :func:`napari_srmat.grainsize.measured_settings` (its name, weights digest and
        thinning, as the Simple tab's report records them); for masks the thinning
        (:func:`_skeletonize`).
    """
    # mask_scale: --mask-scale as given (null: not given; images: always null)
    settings = {"mask": bool(args.mask), "pattern": args.pattern, "lines": args.lines,
                "seed": args.seed, "margin": args.margin, "mask_scale": args.mask_scale}
    if args.mask:
        settings["threshold"] = args.threshold
    from ..grainsize import SKELETONIZE_SETTING, measured_settings

    if model is None:  # the thinning under measured_settings' name for it
        settings[SKELETONIZE_SETTING] = _skeletonize(args)
        return settings

    settings.update(checkpoint=model.path, tta=model.tta, threshold=model.threshold,
                    threshold_rule=model.threshold_rule,
                    threshold_params=model.threshold_params)
    settings.update(measured_settings(model, digest=digest))
    return settings


def _skeletonize(args: argparse.Namespace) -> bool:
    """Whether the run thins boundary maps to 1 px lines before laying its test lines:
    :data:`napari_srmat.grainsize.MEASURED_SKELETONIZE`, as measure_grain_size does for
    images and masks alike, except for ``--method``'s fields of ``--mask`` masks without
    ``--threshold``, which are measured as given (the user's 1 px lines, also the grain
    map of the planimetric count); a probability map given with ``--threshold`` has
    wide lines and is thinned. The one rule of the fields' measurement and of
    ``settings``' ``skeletonize``."""
    from ..grainsize import MEASURED_SKELETONIZE

    if args.method and args.mask and args.threshold is None:
        return False
    return MEASURED_SKELETONIZE


#: How ``srmat grain-size`` measures a specimen
#: (:func:`napari_srmat.metrics.standards.one_field_note`).
ONE_FIELD_HOW = "srmat grain-size --method intercept with an image of each field"


def several_images_note(n_images: int, *, failed: Sequence[str] = (),
                        options: Sequence[str] = (), pixel_size: bool = True,
                        planimetric: bool = True) -> str:
    """The hint told (one ``note:`` line on stderr) when ``n_images`` images, two or
    more, are measured without ``--method``: each row is its own result, and
    ``--method`` makes them fields of one specimen, with its mean, 95 % CI and %RA.

    Advice that works as written (s51 F3 #3; until then it said "the same images" and
    "mean G" whatever the run): ``--method`` refuses a specimen with a field that could
    not be measured, so the images that failed are named to leave out; the options that
    read and measure the images (``--mask``, ...) are repeated; without a pixel size the
    specimen has no G.

    Parameters
    ----------
    n_images : int
        The images that gave a grain size.
    failed : sequence of str
        The images that could not be read or gave none: to leave out.
    options : sequence of str
        The run's options a ``--method`` run must repeat (:func:`_specimen_options`).
    pixel_size : bool
        Whether every image measured had a pixel size (the specimen's G needs one).
    planimetric : bool
        Whether ``--method planimetric`` takes these options (not ``--mask-scale``).

    Returns
    -------
    str

    Examples
    --------
    >>> from napari_srmat.cli.grainsize import several_images_note
    >>> several_images_note(3)[:52]
    '3 images, each measured on its own: if they are fiel'
    >>> several_images_note(2, failed=["c.png"], options=["--mask"])[113:]
    "with the 2 measured (not c.png, which failed) and again --mask for the specimen's mean G with its 95% CI and %RA (ASTM E112, docs/standards.md)"
    """  # noqa: E501
    method = "--method intercept" + (" (or planimetric)" if planimetric else "")
    which = "the same images"
    if failed:
        which = f"the {n_images} measured (not {', '.join(failed)}, which failed)"
    given = f" and again {' '.join(options)}" if options else ""
    standards = "(ASTM E112, docs/standards.md)"
    figures = (f"mean G with its 95% CI and %RA {standards}" if pixel_size else
               "mean N_L" + (" (N_A: planimetric)" if planimetric else "")
               + f" with its 95% CI and %RA {standards}; its G needs a pixel size: add "
               "--pixel-size-um")
    return (f"{n_images} images, each measured on its own: if they are fields of one "
            f"specimen, give {method} with {which}{given} for the specimen's {figures}")


def _specimen_options(args: argparse.Namespace) -> list[str]:
    """The options of ``args`` that a ``--method`` run of the same images must repeat to
    read and measure them alike (:func:`several_images_note`): ``--mask`` and each
    option of the inputs, the model or the field given (the test lines are the
    method's own)."""
    from ..metrics.heyn import HEYN_MARGIN

    given = [("--pixel-size-um", args.pixel_size_um), ("--threshold", args.threshold),
             ("--mask-scale", args.mask_scale), ("--inference-scale", args.inference_scale),
             ("--checkpoint", args.checkpoint), ("--tta", args.tta),
             ("--threshold-rule", args.threshold_rule),
             ("--device", None if args.device == "auto" else args.device),
             ("--margin", None if args.margin == HEYN_MARGIN else args.margin)]
    return (["--mask"] if args.mask else []) + [
        f"{flag} {shlex.quote(str(value))}" for flag, value in given if value is not None]


def _note_one_field(args: argparse.Namespace, items: list, rows: list[dict]) -> None:
    """Tell (one ``note:`` line on stderr) that the interval of the one image measured,
    without ``--method``'s specimen summary, is that field's, not the specimen's: the
    rule of :func:`napari_srmat.metrics.standards.one_field_note`; its JSON row says it
    as ``interval_scope`` ``"field"``. The note's figures are those of the row's mode (a
    micrograph's interval, with the model's term, or a mask's). Two or more images that
    give a grain size are told :func:`several_images_note` instead: each row is a field
    and ``--method`` is how they become a specimen (docs/grain_size.md; until s51 E2
    nothing said so), with the images to leave out and the options to repeat."""
    from ..metrics.standards import one_field_note

    if len(items) == 1 and rows and rows[0]["mean_intercept_px"] is not None:
        print(note_line("srmat grain-size", one_field_note(ONE_FIELD_HOW, mode=rows[0]["mode"])),
              file=sys.stderr)
    measured = [row for row in rows if row["mean_intercept_px"] is not None]
    if len(measured) >= 2:
        done = {row["path"] for row in measured}
        failed = [str(path) for path, _, _ in items if str(path) not in done]
        note = several_images_note(
            len(measured), failed=failed, options=_specimen_options(args),
            pixel_size=all(row["mean_intercept_um"] is not None for row in measured),
            planimetric=args.mask_scale is None)
        print(note_line("srmat grain-size", note), file=sys.stderr)


def _check_measured(rows: list[dict], rc: int) -> None:
    """Refuse (exit 2, after the per-image results were printed) a run in which no image
    gave a grain size (every ``mean_intercept_px`` None: no boundary crossed, a map that
    is not a boundary map, grains under-sampled), the rule of ``srmat heyn``
    (``heyn._check_measured``): an exit 0 would let a script carry on as if the
    specimen were measured. Images that could not be read already exit non-zero (``rc``).

    Raises
    ------
    UserError
        When every row has no grain size and ``rc`` is 0.
    """
    if rc or not rows or any(row["mean_intercept_px"] is not None for row in rows):
        return
    which = "the image gives no" if len(rows) == 1 else f"none of the {len(rows)} images gives a"
    raise UserError(f"no grain size measured: {which} mean intercept (see the warnings)")


def _boundary_model(checkpoint, device, tta, threshold_rule):
    from ..edges import load_boundary_model

    return load_boundary_model(checkpoint, device=device, tta=tta, threshold_rule=threshold_rule)


def _worker_model(args: argparse.Namespace, model) -> WorkerModel:
    """The boundary model of ``--scheduler``'s workers: each loads ``args``' checkpoint
    once per its content and settings (:func:`_worker_load`) and refuses weights other
    than ``model``'s (the starting process's, which ``settings`` names), as a tiled
    prediction's workers do."""
    from ..tiling._distributed import WorkerModel

    key = None
    if args.checkpoint is not None:
        from ..outputs import path_fingerprint

        key = path_fingerprint(args.checkpoint)["sha256"]  # workers rebuild on a change
    return WorkerModel(_worker_load, {"checkpoint": args.checkpoint, "device": args.device,
                                      "tta": args.tta, "threshold_rule": args.threshold_rule,
                                      "key": key},
                       "predict", model.weights_digest(), describe="UAED")


def _worker_load(checkpoint, device, tta, threshold_rule, key):
    """:func:`_boundary_model` on a worker; ``key`` (the checkpoint's content, None for
    the shipped weights) only tells the models a worker keeps apart."""
    return _boundary_model(checkpoint, device, tta, threshold_rule)


def _measure_one(args, model, path, twins_path, exclusion_path, told: list[str]) -> tuple:
    """Measure one image: ``(row, warnings, standards field or None)``.

    ``told`` is filled, as the image's run goes, with what it told, not named (the
    image's lines): what reading the file told, then the file's note on its pixel size
    (:func:`napari_srmat.cli.open_input`, the rule of ``srmat heyn``'s masks), then its
    job's warnings
    (the tiled runner's fall-backs), then, once the run made the row, the row's list
    less :data:`napari_srmat.grainsize.NO_PIXEL_SIZE_NOTE` (told by a row, not by an
    image that fails; until 2026-12-06 one whose ``--method`` field failed told it); what
    :func:`_measure_or_error` tells of an image that fails. An error or interrupt of the
    image carries them, named, each once, in the order told
    (:func:`napari_srmat.cli.carried_if_failed`), for ``srmat``'s own line (a Ctrl-C,
    ``--debug``).
    """
    from ..grainsize import NO_PIXEL_SIZE_NOTE, measure_grain_size_job
    from ..io import open_mask_file, read_image

    def check(mic) -> None:
        if args.mask and args.method:  # the field needs more than ℓ̄: refused before it
            check_mask_fits(mic, "measure_field", to_float=args.threshold is not None,
                            twins=twins_path is not None,
                            exclusion=exclusion_path is not None, field=True)

    # which of several images an error is about; what it told, if it fails
    with naming_file(path), carried_if_failed(told, about=path):
        # a mask file is read by the rule of srmat heyn (.npy too)
        what = MASK_INPUT if args.mask else "image"
        opened = open_input(path, told, (functools.partial(open_mask_file, what=what)
                                         if args.mask else read_image), what=what,
                            pixel_size_um=args.pixel_size_um, read=check)
        mic, read_notes = opened.image, opened.read_notes
        job_from = len(told)
        res = run_cli_job(measure_grain_size_job(
            mic, pixel_size_um=args.pixel_size_um, model=model, mask=args.mask,
            pattern=args.pattern, n_lines=args.lines, seed=args.seed, margin=args.margin,
            inference_scale=args.inference_scale, threshold=args.threshold,
            mask_scale=args.mask_scale,
        ), quiet=args.json or args.scheduler is not None, warnings=told, about=path)
        job_warnings = told[job_from:]  # its run's
        # what reading the file told, in the image's row (once: a non-square note is
        # there)
        res.warnings[:0] = [n for n in read_notes if n not in res.warnings]
        add_new_lines(res.warnings, job_warnings)
        # told if the field then fails: the row's list, less "no pixel size (from the file
        # or given)" (µm and G null), which says nothing of an image that gives no row
        # (cli.open_input's rule)
        told[:] = [w for w in res.warnings if w != NO_PIXEL_SIZE_NOTE]
        field = None
        if args.method:
            field = _standard_field(args, mic, res, twins_path, exclusion_path, str(path),
                                    opened.pixel_note)
            add_new_lines(field["warnings"], job_warnings)  # its map's run
            field["path"] = str(path)  # as every image row of the command has
    return {"path": str(path), **res.to_dict()}, list(res.warnings), field


def _measure_or_error(args, model, path, twins_path, exclusion_path) -> tuple | FailedInput:
    """:func:`_measure_one`, with an error of this image returned instead of raised:
    ``(row, warnings, field)`` or the image's :class:`napari_srmat.cli.FailedInput`
    (what its run told before it failed, its error line, message and whether the error
    is the user's: the one rule of ``srmat heyn``'s masks too), which holds its warnings.
    Until 2026-12-06 a failed image came back as ``(None, warnings, None, failed)``, its
    warnings a copy of ``failed``'s that nothing read.

    Nothing is printed here: the command tells each image's lines as it finishes, in
    the images' order (:class:`_ImageLines`), also from a cluster's worker, whose stderr
    is not the user's. ``--debug`` raises the error.
    """
    told: list[str] = []
    try:
        return _measure_one(args, model, path, twins_path, exclusion_path, told)
    except Exception as exc:
        if getattr(args, "debug", False):
            raise
        return FailedInput.of("srmat grain-size", path, exc, told)


class _ImageLines:
    """Tell each image's lines (its warnings, named, then its error line if it failed)
    in the order of the images as each finishes: an image's lines once it and every
    image before it have finished, so that a later image's error never comes before an
    earlier image's warnings, and a Ctrl-C during a later image leaves the lines of
    those measured told. The one rule of ``srmat grain-size``'s stderr, with or without
    a cluster (``map_job``'s ``on_result``), ``--json`` or not (stdout holds the JSON
    only).

    Parameters
    ----------
    paths : list
        The images, in the command's order.
    """

    def __init__(self, paths: list) -> None:
        self.paths = paths
        self.results: dict[int, tuple] = {}  # by image index, as they finished
        self.next = 0  # the first image not told yet

    def __call__(self, index: int, result: tuple | FailedInput) -> None:
        """Image ``index`` finished with ``result`` (:func:`_measure_or_error`'s)."""
        self.results[index] = result
        while self.next in self.results:
            _tell_image(self.paths[self.next], self.results[self.next])
            self.next += 1

    def ordered(self) -> list[tuple | FailedInput]:
        """Every image's result, in the images' order."""
        return [self.results[i] for i in range(len(self.paths))]


def _tell_image(path, result: tuple | FailedInput) -> None:
    """Print the lines of one image's ``result`` (:func:`_measure_or_error`'s) on stderr:
    its warnings, named (:func:`napari_srmat.cli.tell_about_file`); a failed one's by
    :meth:`napari_srmat.cli.FailedInput.tell` (then its error line)."""
    if isinstance(result, FailedInput):
        result.tell()
        return
    tell_about_file("srmat grain-size", path, result[1])


def _measure_remote(args, worker: WorkerModel | None, item) -> tuple | FailedInput:
    """:func:`_measure_one` on a dask worker (files at the same paths there), with
    ``worker``'s model (:func:`_worker_model`; None for masks)."""
    model = None if worker is None else worker.load()
    return _measure_or_error(args, model, *item)


#: Name of each region-mask flag's masks in messages (``read_mask``'s ``name``).
REGION_MASKS = {"twins": "twin mask", "exclusions": "exclusion mask"}


def _check_region_masks(args: argparse.Namespace) -> None:
    """Read every ``--twins`` / ``--exclusions`` file once before any image is measured,
    so that a missing, unreadable or invalid one (the rule of
    :func:`napari_srmat.io.read_mask`) is told at once, not after the measurement of the
    images (minutes with the model); one too large for memory is refused before it is
    read (:func:`napari_srmat.cli.check_mask_fits`). They are read again, one by one, as
    each field is measured (a cluster's workers read them there), so none is held in
    memory.

    Raises
    ------
    FileNotFoundError, ValueError
        The first bad file, named (``PATH: twin mask not found``).
    """
    import warnings

    from ..io import open_mask_file, read_mask

    with warnings.catch_warnings():  # said when each field reads its mask, not twice
        warnings.simplefilter("ignore")
        for attr, name in REGION_MASKS.items():
            for path in dict.fromkeys(getattr(args, attr) or []):
                mic = open_mask_file(path, what=name)
                with naming_file(path):
                    check_mask_fits(mic, f"reading the {name}")
                read_mask(mic, name=name)


def _per_image(paths, images, flag: str) -> list:
    """One mask path per image (a single path serves all), or Nones."""
    if not paths:
        return [None] * len(images)
    if len(paths) == 1:
        return list(paths) * len(images)
    if len(paths) != len(images):
        raise UserError(f"{flag}: give one mask for all images or one per image "
                        f"({len(images)}), got {len(paths)}")
    return list(paths)


def _standard_field(args, mic, res, twins_path, exclusion_path, name: str,
                    pixel_note: str | None) -> dict:
    """The standards' measurement (metrics.standards) of one field: the user's mask, or
    the model's binarised boundaries at the inference scale; ``pixel_note`` its file's
    note on its pixel size (:func:`napari_srmat.cli.open_input`)."""
    import numpy as np

    from ..io import read_mask, read_window
    from ..metrics.standards import measure_field, withhold_field

    px = res.pixel_size_um
    if args.mask:
        arr = mic.data
        # as read: measure_field applies the mask rule (io.as_bool_mask), as --mask alone
        # and srmat heyn do
        boundaries = read_window(arr, 0, arr.shape[0], 0, arr.shape[1])
        if args.threshold is not None:  # a probability map, binarized as for ℓ̄
            from ..io import as_bool_mask

            boundaries = as_bool_mask(boundaries, threshold=args.threshold,
                                      name="boundary mask")
    else:
        boundaries = res.boundaries   # the map the grain size was measured on
        px = None if px is None else px / res.inference_scale
    # a region mask of another shape is refused naming its file, not only the image's
    shape = tuple(np.shape(boundaries)[:2])
    # the row, with the field's own interval (measure_field's: that of every field row,
    # the model's term of a micrograph's map from its row's uncertainty)
    model_log_terms = None if args.mask else (res.uncertainty.get("model_low"),
                                              res.uncertainty.get("model_high"))
    field = measure_field(
        boundaries, pixel_size_um=px, method=args.method, rule=args.rule,
        pattern=args.pattern, n_lines=args.lines, seed=args.seed, margin=args.margin,
        skeletonize=_skeletonize(args),
        twins=None if twins_path is None else read_mask(
            twins_path, name=REGION_MASKS["twins"], shape=shape),
        exclusion=None if exclusion_path is None else read_mask(
            exclusion_path, name=REGION_MASKS["exclusions"], shape=shape),
        name=name, model_log_terms=model_log_terms,
        mask_scale=args.mask_scale)  # None for images (refused without --mask)
    # the factor between the field's pixels and the input's: its px figures and pixel
    # size are at the inference scale (a script read them as input pixels)
    field["inference_scale"] = 1.0 if args.mask else float(res.inference_scale)
    # the SR factor the run measured the image as (an `srmat sr run` store's; null for
    # masks and other images), as a plain run's row records it (until s51 only there)
    field["upscale_factor"] = res.upscale_factor
    # a micrograph whose measurement the plain run withholds (grains under-sampled, no
    # grain structure) gives no field value either: left out of the specimen as a map
    # that is not a boundary map (until 2026-12-07 it got a G and entered the statistics)
    if not args.mask and res.mean_intercept_px is None:
        withhold_field(field)
    # what the run said of the input (the file's pixel size, the model's scale and
    # range, why its figures are withheld): the field's JSON says so, not only the
    # stderr lines (until 2026-12-07 only the pixel note)
    said = [pixel_note] if pixel_note is not None else []
    add_new_lines(said, _run_warnings(res))
    field["warnings"][:0] = [w for w in said if w not in field["warnings"]]
    # every row carries the schema's keys (grainsize.SCHEMA_KEYS), as without --method:
    # the crossings under their old name (the field's own interval is measure_field's;
    # the specimen's is the summary's)
    field["n_intercepts"] = field["n_crossings"]
    return field


def _run_warnings(res) -> list[str]:
    """The warnings of ``res`` (the plain run of ``--method``'s field) that its field row
    does not say in its own words: not those of the test lines on the map (the field
    measures the same map: ``HeynResult.warnings``, its count of intersections, its
    interval, its G's range) nor the row's ``no pixel size`` note (the field has its
    own)."""
    from ..grainsize import NO_PIXEL_SIZE_NOTE, is_lines_warning

    return [w for w in res.warnings
            if w != NO_PIXEL_SIZE_NOTE and not is_lines_warning(res, w)]


def _print_specimen(args, fields: list[dict], errors: list[dict], model,
                    digest: str | None = None) -> int:
    """Print the fields and the specimen summary; the summary is withheld (``null``) when
    a field could not be measured: a specimen figure must not silently leave one out.
    ``--json`` prints the run's ``settings`` (:func:`_settings`; ``model`` the boundary
    model, None with ``--mask``; ``digest`` its weights digest where the run computed
    it) beside them."""
    from ..metrics.standards import specimen_fields_text, summarize_fields

    summary = None
    if not errors:
        summary = summarize_fields(fields, method=args.method)
        # one line each, as every command's (`srmat CMD: warning: ...`); E112's advice
        # is a note
        for key, line in (("warnings", warning_line), ("advice", note_line)):
            for w in summary.get(key, []):
                print(line("srmat grain-size", w), file=sys.stderr)
    if args.json:
        print_json({"images": fields, "errors": errors, "summary": summary,
                    "settings": _settings(args, model, digest)})
        _check_specimen_measured(summary, fields)
        return 0
    for f in fields:  # G with the field's own interval, where it has one (its JSON's)
        scale = f"; {_scale_text(f)}" if f.get("upscale_factor") is not None else ""
        print(f"{f['name']}: {f['standard']}: G = {format_g(f.get('astm_g'), f['astm_g_ci95'])}"
              + scale)
    if summary is None:  # withheld; no field measured: the errors' lines are all there is
        if fields:
            print("specimen: not summarised "
                  f"({not_measured_text(len(errors), len(fields) + len(errors), 'fields')})")
        return 0
    g, ci = summary.get("astm_g"), summary.get("astm_g_ci95")
    print(f"specimen of {specimen_fields_text(summary)}: G = " + format_g(g, ci)
          + (f", %RA {summary['relative_accuracy_pct']:.1f}"
             if summary.get("relative_accuracy_pct") is not None else ""))
    _check_specimen_measured(summary, fields)
    return 0


def _check_specimen_measured(summary: dict | None, fields: list[dict] | None = None) -> None:
    """Refuse (exit 2, after the fields and the summary were printed) a ``--method`` run
    that measured no grain size: no field gave a value (``summarize_fields``' mean is
    not finite: a map that is not a boundary map), the mean is 0 (no test line of any
    field crossed a boundary: N_L = 0, an infinite ℓ̄) or it is withheld (``fields``
    with and without a pixel size: ``metrics.standards.mixed_pixel_sizes_warning``,
    until 2026-12-07 refused as "none of the 2 fields gives a valid N_L"; fields none
    of which gives a value are not "mixed": no valid value), the rule of
    :func:`_check_measured`: ``G = n/a`` with exit 0 let a script carry on as if the
    specimen were measured. ``srmat heyn`` withholds the same mixed pool with exit 2
    too, after its per-mask rows (until 2026-12-07 it exited 0 there). A withheld
    summary (``None``: a field could not be read) has its exit code already.

    Raises
    ------
    UserError
        When no field gives a value, every value is 0, or the fields' pixel sizes are
        known for some and not others.
    """
    import math

    from ..metrics.standards import MIXED_PIXEL_SIZES_ACTION, mixed_pixel_sizes_warning

    mean = None if summary is None else summary["mean"]
    if summary is None or (mean is not None and math.isfinite(mean) and mean > 0):
        return
    if fields and mixed_pixel_sizes_warning(fields, summary["method"]):
        raise UserError("no grain size measured for the specimen: fields with and without "
                        "a pixel size are not pooled (see the warnings: "
                        f"{MIXED_PIXEL_SIZES_ACTION})")
    n, quantity = summary["n_fields"], summary["field_quantity"].split(",")[0]
    if mean is not None and math.isfinite(mean):  # 0: every field measured without a crossing
        which = "the field" if n == 1 else "any field"
        raise UserError(f"no grain size measured: {quantity} is 0, no test line of {which} "
                        "crosses a boundary (see the warnings)")
    which = "the field gives no" if n == 1 else f"none of the {n} fields gives a"
    raise UserError(f"no grain size measured: {which} valid {quantity} (see the warnings)")
