"""``srmat eval-maps``: AP / ROC-AUC / F1 and Heyn error of boundary probability maps."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import (
    PATTERN_HELP,
    WRITES_OUTPUT,
    UserError,
    check_distinct_inputs,
    checked_integer_arg,
    lines_arg,
    naming_file,
    print_json_result,
    run_cli_job,
    seed_arg,
    threshold_arg,
)

#: What ``srmat eval-maps`` asks of a folder given as both --prob and --masks (matched by
#: stem, each file would be scored against itself).
MAPS_AGAINST_MASKS = ("probability maps are scored against ground-truth masks: give "
                      "their two folders")


def register(sub: argparse._SubParsersAction) -> None:
    from ..metrics.heyn import HEYN_N_LINES, HEYN_SEED

    p = sub.add_parser(
        "eval-maps",
        help="score boundary probability maps against ground-truth masks",
        description="Match probability maps (PNG 0-255, TIFF/NPY/(OME-)Zarr float in [0, 1]) "
        "to masks "
        "by file stem and report pooled AP, ROC-AUC, F1/precision/recall at the max-F1 "
        "threshold (of the validation set when given) and the Heyn grain-size error.",
    )
    p.add_argument("--prob", required=True, help="folder of probability maps")
    p.add_argument("--masks", required=True, help="folder of ground-truth masks")
    p.add_argument("--val-prob", default=None, help="validation probability maps (threshold)")
    p.add_argument("--val-masks", default=None, help="validation masks")
    p.add_argument("--threshold", type=threshold_arg, default=None,
                   help="fixed threshold in [0, 1]")
    p.add_argument("--no-skeletonize", action="store_true", help="do not thin before Heyn")
    p.add_argument("--pattern", default="random", choices=("random", "grid", "circles"),
                   help=PATTERN_HELP + " for the Heyn error")
    p.add_argument("--lines", type=lines_arg, default=HEYN_N_LINES,
                   help=f"random lines / grid lines per axis (default {HEYN_N_LINES})")
    p.add_argument("--seed", type=seed_arg, default=HEYN_SEED,
                   help=f"seed of the random pattern (default {HEYN_SEED})")
    p.add_argument("--bins", type=_bins_arg, default=1024,
                   help="histogram bins (default %(default)s)")
    p.add_argument("--plot", default=None, help="write PR + ROC curves to this PNG")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a --plot that napari-srmat wrote before")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_run, **{WRITES_OUTPUT: ("plot",)})  # a file only with --plot


def _list(folder: str) -> dict[str, Path]:
    """The maps or masks of ``folder`` by stem: the one pairing rule of images and masks,
    :func:`napari_srmat.io.images_by_stem`, for :data:`napari_srmat.io.MAP_SUFFIXES`."""
    from ..io import MAP_SUFFIXES, images_by_stem

    d = Path(folder)
    if not d.is_dir():
        raise UserError(f"not a folder: {d}")
    files = images_by_stem(d, suffixes=MAP_SUFFIXES)
    if not files:
        raise UserError(f"{d}: no images ({', '.join(MAP_SUFFIXES)})")
    return files


def _bins_arg(text: str) -> int:
    """argparse ``type=`` of ``--bins``: the rule of
    :func:`napari_srmat.metrics.edges.check_n_bins`, checked before any map is read and
    reported with the flag."""
    from ..metrics.edges import check_n_bins

    return checked_integer_arg(text, lambda v: check_n_bins(v, field="the number of bins"))


def _pairs(prob_dir: str, mask_dir: str) -> tuple[list[str], list, list]:
    from ..io import all_finite, check_pixel_values, read_array, read_mask

    probs = _list(prob_dir)
    masks = _list(mask_dir)
    missing = [s for s in probs if s not in masks]
    if missing:
        raise UserError(
            f"no mask in {mask_dir} for {len(missing)} probability map(s): "
            + ", ".join(missing[:5])
            + (" ..." if len(missing) > 5 else "")
        )
    names, pl, ml = [], [], []
    for stem, pf in probs.items():
        p = read_array(pf, what="probability map")
        if p.ndim == 3 and p.shape[-1] in (1, 3, 4):
            p = p[..., 0]
        m = read_mask(masks[stem], name="ground-truth mask")
        if p.shape != m.shape:
            raise UserError(f"probability map {pf} {p.shape} and mask {masks[stem]} "
                            f"{m.shape} differ in shape")
        if not all_finite(p):  # refused later without the file, or dropped (validation)
            raise UserError(f"{pf}: probability map has NaN or Inf values: replace them "
                            "first (e.g. numpy.nan_to_num)")
        with naming_file(pf):  # which file: the job's own check cannot say
            check_pixel_values(p, name="probability map")
        if p.dtype.kind == "f" and (p.min() < 0 or p.max() > 1):
            raise UserError(f"{pf}: float probabilities must be in [0, 1]")
        names.append(stem)
        pl.append(p)
        ml.append(m)
    return names, pl, ml


def _run(args: argparse.Namespace) -> int:
    from ..metrics.edges import evaluate_maps_job, plot_pr_roc

    if (args.val_prob is None) != (args.val_masks is None):
        raise UserError("--val-prob and --val-masks go together")
    for prob, masks in ((args.prob, args.masks), (args.val_prob, args.val_masks)):
        check_distinct_inputs([prob, masks], "folder", MAPS_AGAINST_MASKS)
    # refused before the evaluation ("" too: it names no file), checked again when written
    if args.plot is not None:
        from ..metrics.edges import PR_ROC_FIGURE
        from ..outputs import check_figure_file

        with naming_file("--plot"):
            check_figure_file(args.plot, kind=PR_ROC_FIGURE, overwrite=args.overwrite,
                              inputs=[args.prob, args.masks, args.val_prob, args.val_masks])
    names, probs, masks = _pairs(args.prob, args.masks)
    vprobs = vmasks = None
    if args.val_prob is not None:
        _, vprobs, vmasks = _pairs(args.val_prob, args.val_masks)
    res = run_cli_job(
        evaluate_maps_job(
            probs,
            masks,
            val_prob_maps=vprobs,
            val_masks=vmasks,
            threshold=args.threshold,
            skeletonize=not args.no_skeletonize,
            heyn_pattern=args.pattern,
            n_lines=args.lines,
            seed=args.seed,
            n_bins=args.bins,
            names=names,
        ),
        quiet=args.json,
    )
    hist = res.pop("_histogram")
    if args.plot is not None:
        res["plot"] = str(plot_pr_roc({Path(args.prob).name or "maps": hist}, args.plot,
                                      overwrite=args.overwrite))
    if args.json:
        print_json_result(res)  # its job's warnings, and those told
        return 0
    # no ROC-AUC where the masks have no background pixel (None in the JSON)
    auc = "n/a (no background pixels)" if res["roc_auc"] is None else f"{res['roc_auc']:.4f}"
    print(
        f"{res['n_images']} images: AP {res['ap']:.4f}, ROC-AUC {auc}, "
        f"F1 {res['f1']:.4f} (P {res['precision']:.3f}, R {res['recall']:.3f}) at threshold "
        f"{res['threshold']:.4f} [{res['threshold_source']}]"
    )
    if res["heyn_error_pct"] is not None:
        print(
            f"Heyn: predicted {res['heyn_pred_px']:.2f} px vs true {res['heyn_gt_px']:.2f} px "
            f"-> error {res['heyn_error_pct']:.2f}%"
        )
    else:
        print("Heyn: no valid grain-size comparison (see the warnings)")
    if args.plot is not None:
        print(f"curves written to {res['plot']}")
    return 0
