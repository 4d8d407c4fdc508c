"""``srmat audit``: candidate search for hallucinated boundaries, audit reports, and a
verdict undone."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from ..io import LENGTH_UNIT
from . import (
    DEVICE_HELP,
    PX_RENAMED_WHY,
    UserError,
    about_file,
    add_renamed_option,
    check_distinct_inputs,
    float_arg,
    input_path_arg,
    int_arg,
    missing_action,
    naming_file,
    naming_roles,
    pixel_size_arg,
    print_json_result,
    run_cli_job,
    tell_listed,
)

__all__ = ["register", "pooled_lines", "undo_line", "LR_AND_ITS_SR"]

#: What ``srmat audit candidates`` asks of its LR and SR images given as one file.
LR_AND_ITS_SR = ("the low-resolution scan is LR, its super-resolved image SR: give their "
                 "two files")


def _candidates(args: argparse.Namespace) -> int:
    from ..audit import AuditSession, find_candidates_job
    from ..audit.detector import AuditInputError, check_audit_memory
    from ..audit.session import (
        check_session_files,
        check_session_path,
        is_audit_session_file,
        sr_model_from_metadata,
    )
    from ..outputs import check_not_input, check_output_file

    if args.uaed:  # a device the model cannot use: refused before any image is read
        from ..device import check_device_name, resolve_device

        resolve_device(check_device_name(args.device, field="--device"))
    elif args.device != "auto":  # refused rather than ignored
        raise UserError("--device is where the UAED model of --uaed runs; the default "
                        "boundary detector needs no device: give --uaed or leave --device out")
    from ..io import file_not_found

    for p in (args.lr, args.sr):  # the one wording of a missing input, read_image's
        if not Path(p).exists():  # (said "no such image: PATH" until 2026-12-06)
            raise file_not_found(p, "image")
    # one file as both refused, as the Audit widget refuses one layer as both (its words
    # are for layers, "choose ... as LR ... as SR"; these for files, "give their two
    # files"); told by the commands' one rule (a filesystem without inodes: told by path,
    # cli.check_distinct_inputs)
    check_distinct_inputs([args.lr, args.sr], "image", LR_AND_ITS_SR)
    out = check_session_path(args.out)  # before the search, not after it
    inputs = [args.lr, args.sr, args.sr_std]
    check_output_file(out, inputs=inputs, overwrite=args.overwrite, ours=is_audit_session_file)
    check_not_input(out.with_suffix(".csv"), inputs)
    check_session_files(out)  # a user's OUT.csv too, not only once the search has ended

    from ..io import check_image_side, image_data, pixel_size_note, read_image, read_window

    def pixels(path, mg):  # a damaged chunk: ImageReadError naming the file
        with naming_file(path):
            return read_window(mg.data, 0, mg.data.shape[0], 0, mg.data.shape[1])

    sr_file = read_image(args.sr)
    lr_file = read_image(args.lr)
    std_file = read_image(args.sr_std) if args.sr_std else None
    check_audit_memory(lr_file, sr_file, std_file)
    lr, sr = pixels(args.lr, lr_file), pixels(args.sr, sr_file)
    for path, image in ((args.lr, lr), (args.sr, sr)):  # the rule of the other commands
        check_image_side(image.shape, name=path)
    # the SR file's pixel size unless --pixel-size-um is given (pixels that are not
    # square: unknown, the report is in px); the note says which was used and why
    pixel_size_um = (args.pixel_size_um if args.pixel_size_um is not None
                     else image_data(sr_file, name="sr")[1])
    note = pixel_size_note(sr_file, given=args.pixel_size_um)
    if note:  # listed in the JSON's warnings too, as `srmat register --json` lists its own
        tell_listed("note", note)
    std = pixels(args.sr_std, std_file) if args.sr_std else None
    boundary_fn = None
    threshold = 0.5
    if args.uaed:
        from ..edges import load_boundary_model, predict_boundaries

        model = load_boundary_model(None if args.uaed == "default" else args.uaed,
                                    device=args.device)

        threshold = float(model.threshold)

        def uaed(img, model=model):  # its name is the session's detector "boundary_fn"
            # maps for finding SR errors, not for a grain size: no scale check
            return predict_boundaries(img, model, scale_check=False)[0]

        boundary_fn = uaed

    # the library tells its images by role ("sr shape ... is not lr shape ..."): which file
    roles = {"lr": args.lr, "sr": args.sr, "sr_std": args.sr_std}
    with naming_roles(roles, only=(AuditInputError,)):
        cands = run_cli_job(find_candidates_job(
            lr, sr, scale=args.scale, boundary_fn=boundary_fn, sr_std=std,
            tolerance_px=args.tolerance_px, tile=args.tile, min_score=args.min_score,
            boundary_threshold=threshold,
            residual_floor=args.residual_floor),
            quiet=args.quiet)
    session = AuditSession.create(lr, sr, cands, reviewer=args.reviewer or "",
                                  lr_path=args.lr, sr_path=args.sr,
                                  sr_model=({"name": args.sr_model} if args.sr_model else
                                            sr_model_from_metadata(sr_file.metadata)),
                                  pixel_size_um=pixel_size_um)
    if args.uaed:  # which UAED: the weights and the operating point the search used
        session.detector["boundary_model"] = {
            "checkpoint": str(model.path) if model.path else args.uaed,
            "tta": model.tta, "threshold": threshold}
    session.save(out)
    if session.kept_replaced is not None:  # told, and listed in the JSON's warnings
        tell_listed("note", f"the reviewed session {out} held is kept as "
                    f"{session.kept_replaced}")
    if kept_csv := session.kept_csv_note():
        tell_listed("note", kept_csv)
    result = cands.to_dict()
    result["session"] = str(out)
    if args.json:  # with the notes and warnings told, in order
        print_json_result(result)
    else:
        print(f"{len(cands)} candidate(s) -> {out}")
        for c in cands[:10]:
            print(f"  #{c.id} {c.kind:18s} score={c.score:8.1f} bbox={c.bbox}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from ..audit import AuditSession, write_report

    sessions = [AuditSession.load(p) for p in args.audit]
    for p, s in zip(args.audit, sessions):  # images moved with their session
        for line in s.relocated:
            tell_listed("note", about_file(p, line))
    # write_report regenerates our own report and never replaces anything else
    res = write_report(sessions, args.out, pixel_size_um=args.pixel_size_um,
                       thumbnails=not args.no_thumbnails)
    if res["pixel_size_note"]:  # --pixel-size-um replaced a size the sessions record
        tell_listed("warning", res["pixel_size_note"])
    if args.json:  # the SR files' calibration (sr_file_note, a warning) listed too
        print_json_result(res)
    else:
        print(f"report -> {args.out}")
        for line in pooled_lines(res["pooled"]):
            print(line)
    return 0


def _undo(args: argparse.Namespace) -> int:
    """``srmat audit undo SESSION``: :meth:`~napari_srmat.audit.AuditSession.undo`, the
    library's and the widget's rule (an ``"undo"`` entry in the log, nothing erased), saved
    to the session file."""
    from ..audit import AuditSession

    session = AuditSession.load(args.session)  # AuditFileError, a ValueError: one line
    for line in session.relocated:  # images moved with their session (the next save)
        tell_listed("note", about_file(args.session, line))
    try:
        undone = session.undo(args.candidate, reviewer=args.reviewer)
    except ValueError as exc:  # none to undo, no such candidate: with the session's name
        raise UserError(f"{args.session}: {exc}") from None
    if kept_csv := session.kept_csv_note():  # a CSV log another program re-saved: kept
        tell_listed("note", kept_csv)
    number = session.log[-1]["candidate"]  # the undo's own entry
    now = session.decisions.get(number)
    line = undo_line(number, undone.to_dict(), None if now is None else now.to_dict())
    if args.json:
        print_json_result({"session": str(session.path), "candidate": number,
                           "undone": undone.to_dict(),
                           "verdict": None if now is None else now.to_dict(),
                           "reviewed": session.progress_text(),  # the words, as printed
                           "n_reviewed": session.n_reviewed,
                           "n_candidates": len(session.candidates)})
    else:
        print(f"{line} -> {session.path} ({session.progress_text()})")
    return 0


def undo_line(candidate: int, undone: dict, now: dict | None) -> str:
    """The line ``srmat audit undo`` prints of a verdict undone: the candidate, the
    verdict taken back (who gave it) and its decision now (the verdict before, or
    unreviewed).

    Parameters
    ----------
    candidate : int
        The candidate's id.
    undone, now : dict
        :meth:`~napari_srmat.audit.Decision.to_dict` of the verdict undone and of the one
        that stands now (None: unreviewed again).

    Returns
    -------
    str

    Examples
    --------
    >>> from napari_srmat.cli.audit import undo_line
    >>> undo_line(7, {"verdict": "hallucinated", "reviewer": "ana"},
    ...           {"verdict": "real", "reviewer": "bo"})
    "candidate #7: verdict 'hallucinated' (ana) undone; its verdict is 'real' (bo) again"
    >>> undo_line(2, {"verdict": "unsure", "reviewer": ""}, None)
    "candidate #2: verdict 'unsure' undone; it is unreviewed again"
    """
    def who(d: dict) -> str:
        return f" ({d['reviewer']})" if d.get("reviewer") else ""

    after = ("it is unreviewed again" if now is None else
             f"its verdict is {now['verdict']!r}{who(now)} again")
    return f"candidate #{candidate}: verdict {undone['verdict']!r}{who(undone)} undone; {after}"


#: How a figure the pooled summary does not know reads (the report's ``n/a``).
UNKNOWN_TEXT = "n/a"


def pooled_lines(pooled: dict) -> list[str]:
    """The lines ``srmat audit report`` prints of the pooled summary without ``--json``
    (which prints it whole): the verdicts, the reviewer's regions and the hallucinated
    boundary, in the words and units of the report's pooled row.

    Parameters
    ----------
    pooled : dict
        ``write_report(...)["pooled"]``.

    Returns
    -------
    list of str

    Examples
    --------
    >>> from napari_srmat.cli.audit import pooled_lines
    >>> pooled = {"n_images": 2, "n_images_known": 2,
    ...           "counts": {"real": 3, "hallucinated": 1, "unsure": 0,
    ...           "unreviewed": 4}, "added_regions": {"real": 0, "hallucinated": 1,
    ...           "unsure": 0}, "hallucinated_length_px": 25.0, "area_px": 8192.0,
    ...           "hallucinated_px_per_megapixel": 3051.76, "hallucinated_fraction": 0.0125}
    >>> for line in pooled_lines(pooled):
    ...     print(line)
    pooled over 2 images: candidates 3 real, 1 hallucinated, 0 unsure, 4 unreviewed; reviewer-added regions 0 real, 1 hallucinated, 0 unsure
    hallucinated boundary: at least 25 px, 3052 px per megapixel, 1.25% of the boundary length (a lower bound: 4 candidates not reviewed yet)
    """  # noqa: E501
    from ..audit.report import lower_bound_reason, pooled_unknown_reason
    from ..audit.session import VERDICTS

    def tally(counts: dict, keys: tuple[str, ...]) -> str:
        return ", ".join(f"{counts[k]} {k}" for k in keys)

    n = pooled["n_images"]
    length = pooled.get("hallucinated_length_px")
    unknown = pooled_unknown_reason(pooled)  # an image with candidates, none reviewed yet
    if unknown or length is None:  # else the length is known
        boundary = f"{UNKNOWN_TEXT} ({unknown or 'unknown'})"
    else:
        # per mm^2 with one known pixel size, as the report's column; else per megapixel
        dens = UNKNOWN_TEXT
        for key, unit in (("hallucinated_per_mm2", "mm per mm^2"),
                          ("hallucinated_px_per_megapixel", "px per megapixel")):
            if key in pooled:
                if pooled[key] is not None:
                    dens = f"{pooled[key]:.4g} {unit}"
                break
        frac = pooled.get("hallucinated_fraction")
        share = (f"{100 * frac:.2f}% of the boundary length" if frac is not None
                 else f"fraction of the boundary length {UNKNOWN_TEXT}")
        boundary = f"{length:.0f} px, {dens}, {share}"
        least = lower_bound_reason(pooled)  # only the confirmed ones counted so far
        if least:
            boundary = f"at least {boundary} (a lower bound: {least})"
    return [f"pooled over {n} image{'s' if n != 1 else ''}: candidates "
            f"{tally(pooled['counts'], (*VERDICTS, 'unreviewed'))}; reviewer-added regions "
            f"{tally(pooled['added_regions'], VERDICTS)}",
            f"hallucinated boundary: {boundary}"]


def register(subparsers) -> None:
    """Add ``srmat audit candidates|report|undo``."""
    p = subparsers.add_parser("audit", help="audit SR output for hallucinated boundaries")
    sub = p.add_subparsers(dest="audit_command", metavar="ACTION")
    c = sub.add_parser("candidates", help="rank suspicious regions of an SR image")
    c.add_argument("lr", type=input_path_arg, help="LR input image")
    c.add_argument("sr", type=input_path_arg, help="super-resolved image")
    c.add_argument("--out", required=True, help="audit session JSON to write (atomic)")
    c.add_argument("--scale", type=int_arg(1), default=None,
                   help="SR factor (default: from shapes)")
    c.add_argument("--sr-std", type=input_path_arg, default=None,
                   help="per-pixel std over diffusion samples")
    add_renamed_option(c, "--tolerance-px", "--tolerance", why=PX_RENAMED_WHY,
                       type=float_arg(0), default=4.0, metavar="PX",
                       help="boundary tolerance in SR px (default %(default)s)")
    c.add_argument("--tile", type=int_arg(16), default=512, help="tile size (SR px, >= 16)")
    c.add_argument("--min-score", type=float_arg(), default=10.0, help="drop candidates below")
    c.add_argument("--residual-floor", type=_residual_floor, default="auto",
                   help="data-consistency floor: 'auto' (adaptive) or a number in (0, 1]")
    c.add_argument("--uaed", default=None, metavar="CKPT",
                   help="use the UAED boundary model ('default' or a checkpoint)")
    c.add_argument("--device", default="auto",
                   help="with --uaed: " + DEVICE_HELP.replace("the model", "its model"))
    c.add_argument("--reviewer", default="", help="reviewer name")
    c.add_argument("--sr-model", default=None,
                   help="name of the SR model (recorded; default: the one the SR file "
                   "records, e.g. an srmat sr run store)")
    c.add_argument("--sr-pixel-size-um", "--pixel-size-um", "--pixel-size", dest="pixel_size_um",
                   type=pixel_size_arg, default=None, metavar="PIXEL_SIZE_UM",
                   help=f"SR pixel size in {LENGTH_UNIT} (default: the SR file's; not the "
                   "LR's); --pixel-size-um, --pixel-size (old name): the same")
    c.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.set_defaults(func=_candidates)
    r = sub.add_parser("report", help="Markdown report of audit session(s)")
    r.add_argument("audit", nargs="+", help="audit session JSON file(s)")
    r.add_argument("--out", required=True, help="report .md")
    r.add_argument("--sr-pixel-size-um", "--pixel-size-um", "--pixel-size", dest="pixel_size_um",
                   type=pixel_size_arg, default=None, metavar="PIXEL_SIZE_UM",
                   help=f"SR pixel size in {LENGTH_UNIT} (default: the one each session "
                   "records); --pixel-size-um, --pixel-size (old name): the same")
    r.add_argument("--no-thumbnails", action="store_true",
                   help="leave out the PNG thumbnails of the candidates (<stem>_thumbs/)")
    r.add_argument("--json", action="store_true", help="print one JSON object")
    r.set_defaults(func=_report)
    u = sub.add_parser("undo", help="take back a verdict given by mistake (logged, nothing "
                       "erased)",
                       description="Undo the last verdict of an audit session (or that of "
                       "--candidate): the candidate has the verdict it had before it again, "
                       "or none (unreviewed). The session's log keeps the verdict and "
                       "records the undo as an entry of its own, as the Audit widget's "
                       "Ctrl+Z and AuditSession.undo do; the session file is saved (its "
                       "previous version kept as SESSION.bak). Repeated, it undoes the "
                       "verdicts in the reverse order they were given.")
    u.add_argument("session", type=input_path_arg, help="audit session JSON")
    u.add_argument("--candidate", type=int_arg(0), default=None, metavar="ID",
                   help="the candidate whose latest verdict to undo (its id, the session "
                   "CSV's id column; default: the verdict given last)")
    u.add_argument("--reviewer", default=None,
                   help="who undoes it, recorded in the log (default: the session's "
                   "reviewer)")
    u.add_argument("--json", action="store_true", help="print one JSON object")
    u.set_defaults(func=_undo)

    p.set_defaults(func=missing_action(p))


def _residual_floor(text: str) -> float | str:
    """argparse ``type=`` of ``--residual-floor``: ``auto`` or a number in (0, 1] (the
    rule of :func:`napari_srmat.audit.find_candidates_job`), reported with the flag."""
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 1:  # NaN too
        raise argparse.ArgumentTypeError(f"'auto' or a number in (0, 1] (image units), "
                                         f"got {text!r}")
    return value
