"""``srmat heyn``: Heyn lineal-intercept grain size of boundary masks (ASTM E112)."""

from __future__ import annotations

import argparse
import functools
import math
import sys

import numpy as np

from . import (
    MASK_INPUT,
    WRITES_OUTPUT,
    FailedInput,
    UserError,
    about_file,
    carried_if_failed,
    check_distinct_inputs,
    check_mask_fits,
    checked_integer_arg,
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
    seed_arg,
    threshold_arg,
    warning_line,
)


def register(sub: argparse._SubParsersAction) -> None:
    from ..io import LENGTH_UNIT
    from ..metrics.heyn import (
        BLOCK_SCALE_MAX,
        CROSSINGS_SCORING,
        HEYN_MARGIN,
        HEYN_N_LINES,
        HEYN_SCORINGS,
        HEYN_SEED,
    )

    p = sub.add_parser(
        "heyn",
        help="mean lineal intercept (Heyn, ASTM E112) of boundary masks",
        description="Lay test lines over each boundary mask (nonzero = boundary; PNG, TIFF, "
        "NPY, Zarr/OME-Zarr, the rule of napari_srmat.io.as_bool_mask), count "
        "boundary crossings and report the mean lineal intercept per image and pooled over "
        "all images; with a pixel size (the file's own, or --pixel-size-um) also in "
        "micrometres and as ASTM grain size G. --scoring e112 scores the count P by ASTM "
        "E112 instead (1.5 at a triple point, 0.5 where a line's end touches a boundary).",
    )
    p.add_argument("masks", nargs="+", metavar="MASK", type=input_path_arg,
                   help="boundary mask images")
    p.add_argument("--pattern", default="random", choices=("random", "grid", "circles", "segments"),
                   help="test lines laid over the boundaries: random lines, a grid (rows "
                        "and columns), circles or your own (--segments) (default %(default)s)")
    p.add_argument("--lines", type=lines_arg, default=HEYN_N_LINES,
                   help="random lines / grid lines per axis (default %(default)s)")
    p.add_argument("--seed", type=seed_arg, default=HEYN_SEED,
                   help="seed of the random pattern (default %(default)s)")
    p.add_argument("--segments", default=None, help="JSON or CSV test lines (pattern segments)")
    p.add_argument("--margin", type=margin_arg, default=HEYN_MARGIN,
                   help="margin fraction (default %(default)s)")
    p.add_argument("--skeletonize", action="store_true", help="thin masks to 1 px first")
    p.add_argument("--mask-scale", type=mask_scale_arg, default=None, metavar="S",
                   help="the masks were drawn at 1/S of this resolution and upscaled (e.g. "
                        "a mask upscaled with an SR image, bilinear or smooth): the zig-zag "
                        "bridge of the count runs on S x S blocks (an integer from 1 to "
                        f"{BLOCK_SCALE_MAX}; 1: on the pixels). Not for masks drawn at this "
                        "resolution: with thick bands they read long (docs/heyn.md, "
                        "'Upscaled masks') (default: exact nearest upscales are detected)")
    p.add_argument("--scoring", choices=HEYN_SCORINGS, default=CROSSINGS_SCORING,
                   help="how the intersection count P is scored: crossings (every boundary "
                        "crossed counts 1, the benchmark protocol; a drawn line's end on a "
                        "boundary 0.5) or e112 (ASTM E112: 1.5 at a triple point, 0.5 at a "
                        "line end on a boundary) (default %(default)s)")
    p.add_argument("--threshold", type=threshold_arg, default=None,
                   help="binarize probability maps (e.g. prob.ome.zarr of `srmat edges "
                   "predict`) at this level in [0, 1]; masks need none")
    p.add_argument("--pixel-size-um", type=pixel_size_arg, default=None,
                   help=f"pixel size in {LENGTH_UNIT} (default: from each file's metadata, if any)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_run, **{WRITES_OUTPUT: False})  # a Ctrl-C leaves no file


def mask_scale_arg(text: str) -> int:
    """argparse ``type=`` of ``--mask-scale`` (the scale of an upscaled mask): the rule of
    :func:`napari_srmat.metrics.heyn.check_mask_scale`, checked once before any file is
    read and reported with the flag."""
    from ..metrics.heyn import check_mask_scale

    return checked_integer_arg(text, check_mask_scale)


#: The keys of one field's interval, its row's, that a pooling of one field reports
#: (``interval_note`` too: why that interval is null; until 2026-12-07 the pooled JSON had
#: none, and this tuple shared its name with ``grainsize.FIELD_INTERVAL_KEYS``, another
#: set).
POOLED_FIELD_INTERVAL_KEYS = ("ci95_half_width_px", "relative_accuracy_pct",
                              "mean_intercept_ci95_px", "interval_note")

#: The pooled keys of masks of different pixel sizes that their
#: ``metrics.standards.summarize_fields`` gives (µm, G and the fields' %RA).
SUMMARY_KEYS = (
    "relative_accuracy_pct",
    "mean_intercept_um",
    "mean_intercept_ci95_um",
    "astm_g",
    "astm_g_ci95",
    "interval_note",
)

#: How ``srmat heyn`` measures a specimen (:func:`napari_srmat.metrics.standards.one_field_note`).
ONE_FIELD_HOW = "give srmat heyn a mask of each field"


def _finite(rows: list[dict]) -> list[float]:
    return [r["mean_intercept_px"] for r in rows if r["mean_intercept_px"] is not None]


def _n_l_per_px(row: dict) -> float:
    """A measured mask's N_L = P / L per px (P as ``--scoring`` scores it): the one place
    ``srmat heyn`` takes it (the fields' statistics, their pool in µm, the mixed pixel
    sizes rule). Its ``total_length_px`` is above 0: ``measure_intercepts`` refuses a
    mask without test length (one error line naming it, the mask left out)."""
    return row["intersection_count"] / row["total_length_px"]


def _field_of(row: dict) -> dict:
    """A measured mask's row as a field of ``metrics.standards.summarize_fields`` (its
    N_L = P / L per px and per mm, None without a pixel size, its P and boundary
    pixels), so that masks of different pixel sizes pool in micrometres by the rule of
    srmat grain-size's specimen."""
    px = row["pixel_size_um"]
    n_l_px = _n_l_per_px(row)
    return {
        "name": row["path"],
        "method": "intercept",
        "pixel_size_um": px,
        "intersections_per_px": n_l_px,
        "intersections_per_mm": None if px is None else n_l_px / px * 1000.0,
        "n_intersections": row["intersection_count"],
        "n_boundary_px": row["n_boundary_px"],
    }


def _mixed_sizes_warning(fields: list[dict]) -> str | None:
    """Why masks with and without a pixel size are not pooled (one line): the rule and
    words of a specimen summary's (``metrics.standards.mixed_pixel_sizes_warning``); no
    hint to force one ``--pixel-size-um`` onto masks that carry their own."""
    from ..metrics.standards import mixed_pixel_sizes_warning

    return mixed_pixel_sizes_warning([_field_of(r) for r in fields], "intercept",
                                     what="masks")


def _run(args: argparse.Namespace) -> int:
    from ..grainsize import (
        interval_half_width,
        interval_note,
        physical_figures,
        sampling_log_terms,
    )
    from ..metrics.heyn import E112_SCORING, confidence_interval
    from ..metrics.standards import (
        COUNT_KEYS,
        NO_BOUNDARY_NOTE,
        NO_SIZE,
        ONE_SIZE,
        SIZES_DIFFER,
        SIZES_MIXED,
        common_pixel_size,
        floored_half_width,
        interval_scope,
        is_measured_field,
        no_upper_end_note,
        one_field_note,
        pixel_size_calibration,
        specimen_advice,
        warn_g_range,
    )

    check_distinct_inputs(args.masks, "mask")
    if args.pattern == "segments" and not args.segments:
        raise UserError("--pattern segments needs --segments FILE.json|csv")
    if args.segments and args.pattern != "segments":
        raise UserError("--segments is only used with --pattern segments")
    segments = None
    if args.segments:
        from ..metrics.heyn import load_segments

        segments = load_segments(args.segments)
    per_image = []
    # ΣL, the crossings and the count P ℓ̄ is made of (a drawn line's end on a boundary
    # scores 1/2: metrics.heyn.scores_line_ends; --scoring e112 every pattern's, and 3/2
    # at a triple point), pooled as each row's ℓ̄ = L / P
    total_l = 0.0
    # HeynResult.counts() summed over the images (all 0 on a mask without boundary)
    counts: dict = {}
    degenerate: list[str] = []
    fields: list[dict] = []  # the rows of the pooled figures
    errors: list[dict] = []  # the masks that could not be read or measured
    user_errors: list[bool] = []
    warnings: list[str] = []  # each mask's, told as it is measured; then the pooled ones
    for path in args.masks:
        told: list[str] = []  # what the mask told (reading it), if it fails
        try:
            row, res = _measure_mask(args, path, segments, told)
        except Exception as exc:  # one mask's: the others are measured (the pooled
            if getattr(args, "debug", False):  # figures withheld below)
                raise
            failed = FailedInput.of("srmat heyn", path, exc, told)
            errors.append(failed.tell())
            user_errors.append(failed.user)
            continue
        per_image.append(row)
        mask_warnings = [about_file(path, w) for w in row["warnings"]]
        for key, value in res.counts().items():
            counts[key] = counts.get(key, 0) + value
        if res.degenerate:
            degenerate.append(str(path))
        elif not is_measured_field(res.degenerate, res.n_boundary_px):
            # no boundary pixel: no field (summarize_fields' rule), left out of the pooled
            # ΣL, which its uncrossed lines would lengthen, and of the fields' number
            mask_warnings.append(about_file(
                path, f"{NO_BOUNDARY_NOTE}: left out of the pooled figures"))
        else:
            fields.append(row)
            total_l += res.total_length_px
        for w in mask_warnings:  # told as each mask is measured, before a later one's error
            print(warning_line("srmat heyn", w), file=sys.stderr)
        warnings += mask_warnings
    pooled_warnings: list[str] = []
    if degenerate:
        # a mask that is not a boundary map would make the pooled figures look valid
        pooled_warnings.append(f"pooled figures withheld: {len(degenerate)} mask(s) are not "
                               "boundary maps")
        pooled = math.nan
    elif errors or not counts:  # a smaller pool than given would be another specimen's
        pooled = math.nan
    else:
        pooled = (total_l / counts["intersection_count"] if counts["n_crossings"]
                  else math.nan)
    pixel_sizes = [r["pixel_size_um"] for r in fields]  # the pooled fields'
    calibration = pixel_size_calibration(pixel_sizes)
    if math.isfinite(pooled) and calibration == SIZES_MIXED:  # no pool of unknown pixels
        mixed = _mixed_sizes_warning(fields)
        # None: the masks that give a value are all calibrated or all not (no None in
        # the warnings); the pool still holds every mask's test lines: withheld
        if mixed is not None:
            pooled_warnings.append(mixed)
        pooled = math.nan
    valid = math.isfinite(pooled)
    one_pixel_size = calibration in (ONE_SIZE, NO_SIZE)  # pixel figures may be pooled
    if not per_image:  # nothing counted (every mask failed): the same keys, null
        counts = dict.fromkeys(COUNT_KEYS)
    out = {
        "pattern": args.pattern,
        "scoring": args.scoring,  # of P, ℓ̄ = ΣL / ΣP, N_L, the interval and G
        "n_images": len(args.masks),  # the masks given ("K of N masks" of the errors)
        "n_measured": len(per_image),  # those measured: per_image's rows
        "mean_intercept_px": pooled if valid else None,
        "n_intersections": counts["n_crossings"],  # the crossings, as each row
        **counts,  # the keys that mean the same in every output, summed
        # ΣL in pixels of one size only (as the pool; null where sizes differ or are unknown)
        "total_length_px": total_l if one_pixel_size else None,
        "n_lines": sum(r["n_lines"] for r in fields),
        # mean over images of each image's ℓ̄ (the TBM protocol's per-set number)
        "image_mean_intercept_px": (
            float(np.mean(finite))
            if (finite := _finite(per_image))
            and not (degenerate or errors)
            and one_pixel_size
            else None
        ),
        "skeletonize": bool(args.skeletonize),
        # the scale of the masks given (--mask-scale), null: read off each mask (each
        # row's block_scale is the rule used)
        "mask_scale": args.mask_scale,
        # its interval: one field's or the fields' scatter (the specimen's); none where
        # the pooled figure is withheld (no field, a mask failed or is not a boundary map)
        "interval_scope": interval_scope(len(fields) if valid else 0),
        "warnings": warnings,
        "errors": errors,  # [{path, error, warnings}]: the masks not measured
    }
    # field-to-field statistics (ASTM E112: one field = one image), on N_L = P / L
    if len(fields) >= 2:
        nl = [_n_l_per_px(r) for r in fields]
        mean_nl, half, ra = confidence_interval(nl) if valid else (None, math.nan, math.nan)
        out["fields_mean_n_l_per_px"] = mean_nl
        # E112's %RA of the images' scatter (as summarize_fields' relative_accuracy_pct)
        out["relative_accuracy_pct"] = ra if math.isfinite(ra) else None
        # the interval: the images' scatter floored at their counts' resolution (one rule
        # with the specimen of srmat grain-size --method: images that agree by chance
        # would read a zero-width interval), an interval of N_L inverted for ℓ̄ = 1 / N_L
        # (ℓ̄ [1 / (1 + r'), 1 / (1 - r')], unbounded above for r' >= 1): the rule of
        # each image's line-sampling term. With --scoring e112 P holds halves; the floor
        # keeps the resolution of one event (±1/2, variance 1/12): a 1/2 or 3/2 is the
        # score of one end or junction, which is there or not (docs/heyn.md)
        count = sum(r["intersection_count"] for r in fields)
        lo, hi = sampling_log_terms(ra / 100.0, count=count, n_lines=len(nl))
        # the half-width is the interval's, floored as its ends (summarize_fields'
        # ci95_half_width): ℓ̄ r', whose inversion the pair is, ℓ̄ [1 / (1 + r'), 1 / (1 - r')]
        # (none where that interval is withheld, as each row's: interval_half_width)
        # E112's advice on the fields' number (two to four) and scatter (%RA), a
        # specimen summary's rule (until 2026-12-07 without the %RA's)
        scope_notes = specimen_advice(len(nl), ra) if valid else []
        # an interval without an upper end (r' >= 1: the N_L interval reaches 0) is null,
        # with a warning that gives its lower end and the interval_note of that warning,
        # the rule of every row (grainsize.interval_note; until 2026-12-07 the pooled
        # interval was [low, null] where a row's was null with a note); a withheld pool
        # has no note (no figure, no note)
        closed = math.isfinite(lo) and math.isfinite(hi)
        out["mean_intercept_ci95_px"] = (
            [pooled * math.exp(-lo), pooled * math.exp(hi)] if closed else None)
        out["ci95_half_width_px"] = interval_half_width(
            out["mean_intercept_ci95_px"],
            floored_half_width(pooled, ra / 100.0, count=count, n_lines=len(nl)))
        if valid and one_pixel_size and math.isfinite(lo) and not closed:  # else µm below
            pooled_warnings.append(no_upper_end_note(pooled * math.exp(-lo), "px"))
        out["interval_note"] = interval_note(pooled_warnings)
    else:
        scope_notes = [one_field_note(ONE_FIELD_HOW)] if valid else []  # no specimen figure
        out["fields_mean_n_l_per_px"] = None  # no mean over fields: the key of 2+, null
        # the field's whole interval (line sampling, counting, pixel: grain_size_from_heyn)
        # none where the pooled figure is withheld (a mask failed or is not a boundary map):
        # an interval of a withheld ℓ̄ would be read as the pool's
        one = fields[0] if fields and valid else dict.fromkeys(POOLED_FIELD_INTERVAL_KEYS)
        out.update({k: one[k] for k in POOLED_FIELD_INTERVAL_KEYS})
    from ..io import LENGTH_UNIT

    # one pixel size for all (pixel_size_calibration): the pool in px, and in µm at it
    pooled_px = common_pixel_size(pixel_sizes)
    # the µm keys are always there, null without one pixel size (as srmat grain-size),
    # with their intervals by the rule of the rows (until 2026-12-06 the pooled µm and G
    # came without mean_intercept_ci95_um and astm_g_ci95)
    out["pixel_size_um"] = pooled_px
    ci_um = physical_figures(out["mean_intercept_px"], out["mean_intercept_ci95_px"],
                             pooled_px)
    out.update({k: list(v) if isinstance(v, tuple) else v for k, v in ci_um.items()})
    if len(fields) >= 2:  # the pooled G's own line (one mask's pooled G is its row's, told)
        warn_g_range(pooled_warnings, out["astm_g"])
    if valid and calibration == SIZES_DIFFER:
        # pixels of different sizes are not pooled: N_L per mm of each mask, pooled by
        # the rule of srmat grain-size's specimen (metrics.standards.summarize_fields)
        from ..metrics.standards import summarize_fields

        summary = summarize_fields([_field_of(r) for r in fields], method="intercept")
        pooled_warnings += summary["warnings"]
        out.update(
            dict.fromkeys(("mean_intercept_px", "fields_mean_n_l_per_px",
                           *POOLED_FIELD_INTERVAL_KEYS))
        )
        out.update({k: summary.get(k) for k in SUMMARY_KEYS})
        # the advice on their scatter in µm (that of N_L per px is not the fields')
        scope_notes = specimen_advice(len(fields), out["relative_accuracy_pct"])
    # the notes told (E112's advice on the fields' number and scatter, or what one
    # field's interval is), as a specimen summary's ``advice`` (until 2026-12-07 stderr
    # only); [] where the pool is withheld
    out["advice"] = list(scope_notes)
    out["per_image"] = per_image
    warnings += pooled_warnings
    for w in pooled_warnings:
        print(warning_line("srmat heyn", w), file=sys.stderr)
    for scope_note in scope_notes:  # what the pooled interval is (not) worth, once
        print(note_line("srmat heyn", scope_note), file=sys.stderr)
    rc = failed_inputs_exit_code(user_errors)
    if args.json:
        print_json(out)
        if not rc:
            _check_measured(out, degenerate, args.threshold, calibration)
        return rc
    from ..report import format_g

    for r in per_image:
        mi = r["mean_intercept_px"]
        txt = f"{mi:.2f} px" if mi is not None else "no valid mean intercept"
        if r["mean_intercept_um"] is not None:  # its own pixel size: µm and G too
            txt += (
                f" = {r['mean_intercept_um']:.2f} {LENGTH_UNIT}, "
                f"ASTM G = {format_g(r['astm_g'], r['astm_g_ci95'])}"
            )
        print(f"{r['path']}: {txt} ({r['intersection_count']:g} intersections, "
              f"{r['n_lines']} lines)")
    if out["mean_intercept_px"] is not None or out["mean_intercept_um"] is not None:
        if out["mean_intercept_px"] is not None:
            line = "pooled: mean intercept " + _figure_text(out, "px", "px")
            if out.get("astm_g") is not None:
                line += f"; {out['mean_intercept_um']:.2f} {LENGTH_UNIT}"
        else:  # masks of different pixel sizes: in µm only
            line = "pooled: mean intercept " + _figure_text(out, "um", LENGTH_UNIT)
        if out.get("astm_g") is not None:
            line += ", " if out["mean_intercept_px"] is not None else "; "
            line += f"ASTM G = {format_g(out['astm_g'], out.get('astm_g_ci95'))}"
        if calibration == SIZES_DIFFER:
            line += (
                "; masks of different pixel sizes: their N_L per mm averaged, as "
                "srmat grain-size's specimen"
            )
        if args.scoring == E112_SCORING:  # the default's line is as it always was
            line += "; P scored by ASTM E112 (1.5 at triple points, 0.5 at line ends)"
        print(line)
    elif errors and per_image:  # withheld; no mask measured: the errors' lines are all
        print(f"pooled: withheld ({not_measured_text(len(errors), len(args.masks), 'masks')})")
    if not rc:
        _check_measured(out, degenerate, args.threshold, calibration)
    return rc


def _figure_text(out: dict, key: str, unit: str) -> str:
    """The pooled ℓ̄ in ``unit`` (``mean_intercept_<key>``) with its 95 % interval and,
    with one, the scatter's %RA: ``'22.61 px, 95% CI [19.59, 26.10] px (scatter %RA
    13.6)'``; without an interval (``interval_note`` and its warning say why) ℓ̄ alone."""
    text = f"{out[f'mean_intercept_{key}']:.2f} {unit}"
    if out.get(f"mean_intercept_ci95_{key}") is not None:
        text += f", 95% CI {_interval_text(out[f'mean_intercept_ci95_{key}'])} {unit}"
        if out.get("relative_accuracy_pct") is not None:
            # the scatter of the lines (one image) or of the images alone
            text += f" (scatter %RA {out['relative_accuracy_pct']:.1f})"
    return text


def _measure_mask(args: argparse.Namespace, path: str, segments, told: list[str]) -> tuple:
    """Read and measure one mask: ``(row, HeynResult)``, its row (``pixel_size_um`` the
    size measured at: ``--pixel-size-um``, else the file's, else None) the
    per-image schema of ``srmat grain-size --mask`` after the keys ``srmat heyn`` always
    had. An error names the mask (:func:`napari_srmat.cli.naming_file`) and carries what
    reading it told, then its file's note on its pixel size (a 150 dpi print resolution
    taken for none, non-square pixels, a given size that differs from the file's; not
    the row's "no pixel size (from the file or given)": :func:`napari_srmat.cli.open_input`)
    (``told``, filled not named: the failed mask's ``--json`` entry lists them so), named
    (:func:`napari_srmat.cli.carried_if_failed`): the rule of ``srmat grain-size``'s
    images, a Ctrl-C and ``--debug`` included."""
    from ..grainsize import SCHEMA_KEYS, grain_size_from_heyn, note_pixel_size
    from ..io import open_mask_file
    from ..metrics.heyn import measure_intercepts, scoring_triple_points

    # its notes (also a Ctrl-C's, --debug's), unless its row is made to list them
    with carried_if_failed(told, about=path):
        with naming_file(path):  # which of the masks an error is about
            # opened (a PNG or TIFF decoded) once: checked, then read from it; what
            # reading it told and its pixel-size note kept for the row (--json)
            opened = open_input(path, told, functools.partial(open_mask_file,
                                                              what=MASK_INPUT),
                                what=MASK_INPUT, pixel_size_um=args.pixel_size_um,
                                read=functools.partial(_read_mask, args))
            mask, file_px = opened.read
            # --pixel-size-um wins; else the file's own (OME-Zarr/TIFF/PNG metadata)
            px = args.pixel_size_um if args.pixel_size_um is not None else file_px
            res = measure_intercepts(
                mask,
                pattern=args.pattern,
                n_lines=args.lines,
                seed=args.seed,
                segments=segments,
                margin=args.margin,
                skeletonize=args.skeletonize,
                pixel_size_um=px,
                triple_points=scoring_triple_points(args.scoring),
                mask_scale=args.mask_scale,
            )
        # the field's figures (ℓ̄, its interval, µm, G, G's interval; withheld or not):
        # grain_size_from_heyn, their one place, which the whole row prints
        gs = note_pixel_size(grain_size_from_heyn(res, pixel_size_um=px), opened.pixel_note)
        # what reading the file told, first (once: a non-square note is there too)
        gs.warnings[:0] = [n for n in opened.read_notes if n not in gs.warnings]
        shared = gs.to_dict()
        row = {"path": str(path), **res.to_dict(figures=gs),
               **{k: shared[k] for k in SCHEMA_KEYS}}
        return row, res


def _read_mask(args: argparse.Namespace, mic) -> tuple:
    """The opened mask ``mic`` read whole: ``(mask, the file's pixel size or None)``; one
    too large for memory is refused before any pixel is read, by measure_intercepts'
    rule (which sees only the array it is given)."""
    from ..io import read_array, read_mask

    check_mask_fits(mic, "measure_intercepts", to_float=args.threshold is not None)
    if args.threshold is None:  # the mask rule, and its warnings, in the result
        return read_array(mic, what="boundary mask", return_pixel_size=True)
    mask, px = read_mask(mic, threshold=args.threshold, name="boundary mask",
                         return_pixel_size=True)
    # its plain array: the file's pixel size and notes are the row's, told once
    # (open_input's pixel_size_note), not again by measure_intercepts
    return np.asarray(mask), px


def _interval_text(interval: list) -> str:
    """``[low, high]`` to two decimals, as ``--json``'s ``mean_intercept_ci95_px``
    (an end that is unknown or unbounded: ``None`` / ``inf`` read as ``∞``).

    Examples
    --------
    >>> _interval_text([103.78, 141.371])
    '[103.78, 141.37]'
    >>> _interval_text([12.5, None])
    '[12.50, ∞]'
    """
    return "[" + ", ".join("∞" if v is None or not math.isfinite(v) else f"{v:.2f}"
                           for v in interval) + "]"


def _check_measured(
    out: dict, degenerate: list[str], threshold: float | None, calibration: str
) -> None:
    """Refuse (exit 2, after the per-image results were printed) a run that measured no
    grain size: no pooled mean intercept, because a mask is not a boundary map, no
    test line crosses a boundary, or masks with and without a pixel size were measured
    (``metrics.standards.mixed_pixel_sizes_warning``: their pool withheld; until
    2026-12-07 that case exited 0, unlike ``srmat grain-size --method``'s).

    A grain-size command that ends without a grain size and exit 0 would let a script
    or a batch carry on as if the specimen were measured; the warnings above say which
    file is at fault, this line says that the measurement failed.

    Parameters
    ----------
    out : dict
        The pooled result of ``srmat heyn`` (``mean_intercept_px`` None when withheld).
    degenerate : list of str
        Masks that are not boundary maps.
    threshold : float or None
        ``--threshold`` (a level above every boundary value empties the mask).
    calibration : str
        How the masks' pixel sizes stand
        (:func:`napari_srmat.metrics.standards.pixel_size_calibration`): masks with and
        without one measured, their pool withheld (a warning names those without), are
        refused as ``srmat grain-size --method``'s fields; masks of different sizes are
        pooled in µm only.

    Raises
    ------
    UserError
        When neither ``out["mean_intercept_px"]`` nor ``out["mean_intercept_um"]`` is
        given.
    """
    from ..metrics.standards import MIXED_PIXEL_SIZES_ACTION, SIZES_MIXED

    if out["mean_intercept_px"] is not None or out["mean_intercept_um"] is not None:
        return
    n = out["n_images"]
    if calibration == SIZES_MIXED and not degenerate and out["n_crossings"]:
        raise UserError("no grain size measured: masks with and without a pixel size are "
                        f"not pooled (see the warnings: {MIXED_PIXEL_SIZES_ACTION})")
    if degenerate:
        raise UserError(f"no grain size measured: {len(degenerate)} of {n} mask(s) are not "
                        "boundary maps, so the pooled figures are withheld (see the "
                        "warnings)")
    why = "empty mask?" if threshold is None else f"empty mask, or --threshold {threshold} " \
        "above the boundaries' values?"
    raise UserError(f"no grain size measured: no test line crosses a boundary in "
                    f"{'the mask' if n == 1 else f'any of the {n} masks'} ({why})")
