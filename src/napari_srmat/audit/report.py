"""Markdown report of one or several audit sessions.

Counts per verdict, hallucinated boundary length per mm^2 (or per megapixel when
the pixel size is unknown) and as a fraction of all SR boundary length, per image
and pooled, with PNG thumbnails (LR-upscaled | SR crops) of every candidate.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from .._atomic import atomic_path, atomic_write_text
from ..channels import float_channels_last
from ..io import LENGTH_UNIT, pixel_size_text
from ..outputs import check_output_file, prepare_output_dir
from .detector import AuditInputError, upscale_bicubic
from .session import VERDICTS, AuditSession, checksum

__all__ = ["summarize", "write_report", "pixel_size_override", "search_pixel_size_note",
           "sr_file_pixel_size", "pooled_unknown_reason", "lower_bound_reason"]


def _read_image(path):
    """An image file's pixels, lazily (level 0 of :func:`~napari_srmat.io.read_image`):
    thumbnails read only their windows."""
    from ..io import read_image

    return read_image(path).data


#: LR pixels read around a thumbnail's window: the cubic spline of
#: :func:`upscale_bicubic` is not local, but its influence falls by 0.27 per pixel
#: (under 1e-6 of a grey level after 12), so the crop upscales as the whole image did
_UPSCALE_MARGIN_LR = 12


def summarize(session: AuditSession, pixel_size_um: float | None = None, *,
              pixel_size_from: str = "given") -> dict[str, Any]:
    """Numbers of one session.

    Parameters
    ----------
    session : AuditSession
    pixel_size_um : float, optional
        SR pixel size; overrides the session's.
    pixel_size_from : {"given", "file"}
        Where ``pixel_size_um`` comes from: given for the report, or the SR file's
        calibration now (:func:`sr_file_pixel_size`; then None is a file whose pixels are
        not square: lengths in px, not the session's size).

    Returns
    -------
    dict
        ``counts`` per verdict (+ ``unreviewed``) of each candidate's final decision (a
        verdict undone, :meth:`~napari_srmat.audit.AuditSession.undo`, counts as the
        verdict before it, or unreviewed), ``reviewers`` (who gave the verdicts or undid one),
        ``verdicts_changed`` (candidates whose verdict the log shows changed or undone),
        ``pixel_size_um`` and ``pixel_size_from`` (``"given"``: ``pixel_size_um`` here;
        ``"file"``: the SR file's now; ``"session"``: the session's, recorded at its
        candidate search or the SR layer's last calibration in the Audit widget; None:
        unknown), ``search_pixel_size_um`` (the session's at its candidate search, None
        when unknown: :attr:`~napari_srmat.audit.AuditSession.search_pixel_size_um`),
        ``pixel_size_changes`` (the session's SR pixel size changed during the review,
        oldest first, as ``{"pixel_size_um", "previous_pixel_size_um", "reviewer",
        "timestamp"}``: :meth:`~napari_srmat.audit.AuditSession.pixel_size_changes`),
        ``hallucinated_length_px``,
        ``area_px``, ``hallucinated_px_per_megapixel``, ``hallucinated_per_mm2`` (mm of
        boundary per mm^2; only when the pixel size is known), ``hallucinated_fraction`` of
        all boundary
        length (None when unknown), and ``length_from_bbox_estimate`` (number of added
        regions whose length is the bbox diagonal). The length, densities and fraction
        are None while the session has candidates and neither a verdict nor an added
        region (unknown, not 0); so are the pooled ones of a report holding such an image
        (:func:`pooled_unknown_reason`). With some candidates not reviewed yet or judged
        unsure (or added regions judged unsure), they count the hallucinations confirmed
        so far: lower bounds, which ``hallucinated_lower_bound`` says
        (:func:`lower_bound_reason`).
    """
    from ..io import check_pixel_size

    if pixel_size_from not in ("given", "file"):
        raise ValueError(f"pixel_size_from must be 'given' or 'file', got {pixel_size_from!r}")
    if pixel_size_um is None and pixel_size_from == "given":
        pixel_size_from = "session"
    px = check_pixel_size(session.pixel_size_um if pixel_size_from == "session"
                          else pixel_size_um)
    counts = {v: 0 for v in VERDICTS}
    hall_len = 0.0
    for c in session.candidates:
        d = session.decisions.get(c.id)
        if d is None:
            continue
        counts[d.verdict] += 1
        if d.verdict == "hallucinated":
            hall_len += c.new_boundary_length_px
    est = 0
    added = {v: 0 for v in VERDICTS}
    for r in session.added_regions:
        added[r.verdict] += 1
        if r.verdict == "hallucinated":
            hall_len += r.estimated_length_px
            est += r.length_px is None
    counts["unreviewed"] = len(session.candidates) - session.n_reviewed
    h, w = (session.sr_shape + [0, 0])[:2]
    area_px = float(h) * float(w)
    # candidates and not one verdict or region: the hallucinated length is not known
    # (0 would read as "no hallucination found")
    known = not (session.candidates and session.n_reviewed == 0
                 and not session.added_regions)
    out: dict[str, Any] = {
        "sr_image": session.images.get("sr", {}).get("path"),
        "reviewer": session.reviewer,
        "reviewers": _reviewers(session),
        "verdicts_changed": len(session.changed_verdicts().keys()
                                & {c.id for c in session.candidates}),
        "n_candidates": len(session.candidates),
        "counts": counts,
        "added_regions": added,
        "hallucinated_length_px": hall_len if known else None,
        "area_px": area_px,
        "total_boundary_length_px": session.total_boundary_length_px,
        "pixel_size_um": px,
        "pixel_size_from": None if px is None else pixel_size_from,
        "search_pixel_size_um": session.search_pixel_size_um,
        "pixel_size_changes": [{k: v for k, v in e.items() if k != "action"}
                               for e in session.pixel_size_changes()],
        "length_from_bbox_estimate": est,
    }
    out["hallucinated_lower_bound"] = lower_bound_reason(out) is not None
    if not known:
        if px:
            out["hallucinated_per_mm2"] = None
        out["hallucinated_px_per_megapixel"] = out["hallucinated_fraction"] = None
        return out
    if px:
        area_mm2 = area_px * (px * 1e-3) ** 2
        out["hallucinated_per_mm2"] = hall_len * px * 1e-3 / area_mm2 if area_mm2 else None
    # always given: the unit of a report whose images do not share one pixel size
    out["hallucinated_px_per_megapixel"] = hall_len / (area_px / 1e6) if area_px else None
    tot = session.total_boundary_length_px
    out["hallucinated_fraction"] = (hall_len / tot) if tot else None
    return out


#: Where the report's pixel size came from, in its pixel size line: given to the report,
#: or as the sessions record it (an image calibrated anew since, outside the Audit
#: widget, is not seen: the line says which size was used).
PIXEL_SIZE_GIVEN = "given for this report"
PIXEL_SIZE_RECORDED = ("as the session records it: the SR image's at the candidate search, "
                       "or its last calibration in the Audit widget")
#: ... or the SR image file's calibration now, where it differs from the session's
#: (:func:`sr_file_pixel_size`; the note says which file and both sizes).
PIXEL_SIZE_FILE = ("the SR image file's calibration now, which differs from the one the "
                   "session records")


class _SrFile:
    """The SR image file a session records, as one report reads it: opened
    (:func:`~napari_srmat.io.read_image`, lazily) and hashed at most once, for
    :func:`sr_file_pixel_size` (its calibration now, its checksum when that differs) and
    the thumbnails (its pixels, their checksum), which read and hashed it each before.

    Parameters
    ----------
    session : AuditSession
        Whose ``images["sr"]["path"]`` is read.
    """

    def __init__(self, session: AuditSession) -> None:
        self.path: str | None = session.images.get("sr", {}).get("path")
        self._read = False
        self._image: Any = None
        self._error: Exception | None = None
        self._told: list[warnings.WarningMessage] = []
        self._digest: str | None = None

    def image(self, *, tell: bool = False):
        """The file's :class:`~napari_srmat.io.Micrograph`; raises what reading raised.
        What reading warns (pixels not square, ...) is kept and warned only with
        ``tell`` (the thumbnails, once): the calibration note says it otherwise."""
        from ..io import read_image

        if not self._read:
            self._read = True
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    self._image = read_image(self.path)
                except Exception as exc:  # noqa: BLE001 - raised to each caller
                    self._error = exc
            self._told = list(caught)
        if tell:
            for w in self._told:
                warnings.warn(w.message, w.category, stacklevel=3)
            self._told = []
        if self._error is not None:
            raise self._error
        return self._image

    def checksum(self) -> str:
        """:func:`~napari_srmat.audit.session.checksum` of the file's pixels."""
        if self._digest is None:
            self._digest = checksum(self.image().data)
        return self._digest


def sr_file_pixel_size(session: AuditSession) -> tuple[float | None, str] | None:
    """``(pixel size, note)`` when the session's SR file is calibrated otherwise now than
    the session records (by more than :data:`~napari_srmat.io.SQUARE_PIXEL_TOLERANCE`;
    re-saved with a new calibration since the search): the size the report measures in
    by the Audit widget's rule for its SR layer
    (:meth:`~napari_srmat.audit.AuditSession.pixel_size_followed`: the file's; None for
    pixels not square; the recorded one while the file has none) and the one line that
    says so. None when there is nothing to follow: no recorded path, the file gone or
    unreadable, the same size, no calibration, or other pixels than the audited ones
    (checksum: another image's calibration is not this one's).
    """
    return _sr_file_pixel_size(session, _SrFile(session))


def _sr_file_pixel_size(session: AuditSession,
                        sr_file: _SrFile) -> tuple[float | None, str] | None:
    """:func:`sr_file_pixel_size` of the SR file ``sr_file`` (read and hashed once per
    report: the thumbnails take it on)."""
    from ..io import PixelSizeError, check_pixel_size, pixels_square

    path = sr_file.path
    if not path or not os.path.exists(path):
        return None
    try:
        image = sr_file.image()
    except Exception:  # noqa: BLE001 - unreadable now: the session's size (thumbnails say)
        return None
    square = image.square_pixels
    try:  # a size no session takes is none to follow
        now = check_pixel_size(session.pixel_size_followed(
            image.pixel_size_um if square else None, square=square))
    except PixelSizeError:
        return None
    before = session.pixel_size_um
    if now == before or (None not in (now, before) and pixels_square(now, before)):
        return None
    try:
        if sr_file.checksum() != session.images["sr"].get("sha256"):
            return None
    except Exception:  # noqa: BLE001 - as unreadable
        return None
    was = "no pixel size" if before is None else f"{before:g} {LENGTH_UNIT}"
    if now is None:
        return None, (f"the SR image file {path} records pixels that are not square now "
                      f"({pixel_size_text(image.pixel_size_yx_um)} {LENGTH_UNIT}), the "
                      f"session records {was}: its lengths are in SR pixels")
    return now, (f"the SR image file {path} records {now:g} {LENGTH_UNIT} per pixel now, the "
                 f"session records {was}: the file's {now:g} {LENGTH_UNIT} was used")


def _pixel_size_changes_words(changes: list[dict[str, Any]]) -> str:
    """The report's sentence listing a session's SR pixel size changes during the review
    (:func:`summarize`'s ``pixel_size_changes``); ``""`` when it never changed.

    Examples
    --------
    >>> _pixel_size_changes_words([{"pixel_size_um": 0.125, "previous_pixel_size_um": 0.25,
    ...                             "reviewer": "ana", "timestamp": "2026-12-07T12:00"}])
    ' SR pixel size changed during the review: 0.25 → 0.125 µm (ana, 2026-12-07T12:00).'
    """
    def size(px):
        return "unknown" if px is None else f"{px:g}"

    if not changes:
        return ""
    said = [f"{size(e['previous_pixel_size_um'])} → {size(e['pixel_size_um'])} {LENGTH_UNIT} "
            f"({_cell(e['reviewer']) or 'n/a'}, {e['timestamp']})" for e in changes]
    return f" SR pixel size changed during the review: {'; '.join(said)}."


def _reviewers(session: AuditSession) -> list[str]:
    """Who gave the session's verdicts (candidates and added regions) or undid one
    (:meth:`~napari_srmat.audit.AuditSession.undo`), in the order of their first; the
    session's reviewer when none names one (a session resumed by another reviewer holds
    verdicts of both)."""
    records = [(d.timestamp, d.reviewer) for d in (
        [session.decisions[c.id] for c in session.candidates if c.id in session.decisions]
        + list(session.added_regions))]
    records += [(e["timestamp"], e["reviewer"]) for e in session.log if e["action"] == "undo"]
    names = [name for _, name in sorted(records, key=lambda r: r[0]) if name]
    names = list(dict.fromkeys(names))
    return names or ([session.reviewer] if session.reviewer else [])


def _pool(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """The pooled row of the per-image :func:`summarize` rows: counts and ``area_px`` of
    every image; the hallucinated length, densities and fraction only when every image's
    is known (:func:`pooled_unknown_reason`), else None; lower bounds while a candidate
    is not reviewed yet or a candidate or added region is judged unsure
    (``hallucinated_lower_bound``, :func:`lower_bound_reason`); the images'
    ``length_from_bbox_estimate`` summed."""
    counts = {k: sum(s["counts"][k] for s in summaries) for k in (*VERDICTS, "unreviewed")}
    added = {k: sum(s["added_regions"][k] for s in summaries) for k in VERDICTS}
    pxs = {s["pixel_size_um"] for s in summaries}  # one unit for every row, or per MP
    known = [s for s in summaries if s["hallucinated_length_px"] is not None]
    # an image with candidates and no verdict or region yet makes the pooled figures
    # unknown: any of its candidates may be hallucinated (pooled over the other images,
    # an unfinished review read as a clean 0 %)
    complete = len(known) == len(summaries)
    hall = sum(s["hallucinated_length_px"] for s in known)
    area = sum(s["area_px"] for s in summaries)
    out: dict[str, Any] = {"n_images": len(summaries), "n_images_known": len(known),
                           "counts": counts, "added_regions": added,
                           "hallucinated_length_px": hall if complete else None,
                           "area_px": area,
                           "length_from_bbox_estimate": sum(
                               s.get("length_from_bbox_estimate", 0) for s in summaries)}
    out["hallucinated_lower_bound"] = lower_bound_reason(out) is not None
    if len(pxs) == 1 and None not in pxs:
        px = pxs.pop()
        out["pixel_size_um"] = px
        out["hallucinated_per_mm2"] = (hall * px * 1e-3 / (area * (px * 1e-3) ** 2)
                                       if area and complete else None)
    out["hallucinated_px_per_megapixel"] = hall / (area / 1e6) if area and complete else None
    tots = [s["total_boundary_length_px"] for s in summaries]
    # a 0 is known (an image without boundaries); None is not
    known_tot = complete and None not in tots and sum(tots) > 0
    out["hallucinated_fraction"] = (hall / sum(tots)) if known_tot else None
    return out


def pooled_unknown_reason(pooled: dict[str, Any]) -> str | None:
    """Why the pooled hallucinated boundary (length, densities, fraction) of a report is
    n/a: images with candidates and neither a verdict nor an added region yet (any of
    their candidates may be hallucinated, so the pooled figures wait for every image's);
    None when every image's is known. The one wording of the report's note and of
    ``srmat audit report``'s line.

    Parameters
    ----------
    pooled : dict
        ``write_report(...)["pooled"]`` (``n_images``, ``n_images_known``). One of a
        version before ``n_images_known`` (2026-12-07), whose pooled length left such
        images out without a word, is unknown while it counts unreviewed candidates.

    Returns
    -------
    str or None

    Examples
    --------
    >>> from napari_srmat.audit.report import pooled_unknown_reason
    >>> pooled_unknown_reason({"n_images": 2, "n_images_known": 1})
    'no verdict or region yet in 1 of 2 images'
    >>> pooled_unknown_reason({"n_images": 1, "n_images_known": 0})
    'no verdict or region yet'
    >>> pooled_unknown_reason({"n_images": 2, "n_images_known": 2}) is None
    True
    >>> pooled_unknown_reason({"n_images": 2, "counts": {"unreviewed": 3}})
    'unknown: a summary of an older version, which does not record whether every image was reviewed'
    """  # noqa: E501
    n = pooled["n_images"]
    if "n_images_known" not in pooled:  # an older summary: complete only when all reviewed
        if not pooled.get("counts", {}).get("unreviewed", 1):
            return None
        return ("unknown: a summary of an older version, which does not record whether "
                "every image was reviewed")
    left = n - pooled["n_images_known"]
    if not left:
        return None
    return "no verdict or region yet" + (f" in {left} of {n} images" if n > 1 else "")


def lower_bound_reason(summary: dict[str, Any]) -> str | None:
    """Why the hallucinated boundary (length, densities, fraction) of a :func:`summarize`
    row or a pooled row is a lower bound: candidates not reviewed yet, or candidates and
    added regions judged unsure, beside a known length, which counts only the
    hallucinations confirmed so far (any of them may add to it). None when every
    candidate and region is judged real or hallucinated, or when the figures are n/a
    (:func:`pooled_unknown_reason`). The one rule of the rows'
    ``hallucinated_lower_bound``, the report's "≥" and ``srmat audit report``'s
    "at least" (until 2026-12-07 unsure verdicts, left out of the length, read as exact).
    A lower bound that holds lengths estimated from a box diagonal
    (``length_from_bbox_estimate``) says how many: a diagonal can overstate, so such a
    figure is no strict lower bound (the report's note under its table).

    Parameters
    ----------
    summary : dict
        A row of :func:`summarize` or ``write_report(...)["pooled"]`` (``counts``,
        ``added_regions``, ``hallucinated_length_px``, ``length_from_bbox_estimate``).

    Returns
    -------
    str or None

    Examples
    --------
    >>> from napari_srmat.audit.report import lower_bound_reason
    >>> lower_bound_reason({"counts": {"unreviewed": 2}, "hallucinated_length_px": 10.0})
    '2 candidates not reviewed yet'
    >>> lower_bound_reason({"counts": {"unreviewed": 1, "unsure": 1},
    ...                     "added_regions": {"unsure": 1}, "hallucinated_length_px": 10.0})
    '1 candidate not reviewed yet, 2 unsure'
    >>> lower_bound_reason({"counts": {"unsure": 1}, "length_from_bbox_estimate": 2,
    ...                     "hallucinated_length_px": 10.0})
    '1 unsure; 2 lengths estimated from a box diagonal'
    >>> lower_bound_reason({"counts": {"unreviewed": 0}, "hallucinated_length_px": 10.0})
    >>> lower_bound_reason({"counts": {"unreviewed": 2}, "hallucinated_length_px": None})
    """
    if summary.get("hallucinated_length_px") is None:
        return None
    left = summary["counts"].get("unreviewed", 0)
    unsure = (summary["counts"].get("unsure", 0)
              + (summary.get("added_regions") or {}).get("unsure", 0))
    parts = ([f"{left} candidate{'s' if left != 1 else ''} not reviewed yet"] if left else []
             ) + ([f"{unsure} unsure"] if unsure else [])
    if not parts:  # an estimate alone makes no lower bound
        return None
    est = summary.get("length_from_bbox_estimate") or 0
    return ", ".join(parts) + (f"; {est} length{'s' if est != 1 else ''} estimated from a "
                               "box diagonal" if est else "")


def _thumb_crops(lr, sr, scale: int, bbox) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """(LR-upscaled crop, SR crop, (x, y) of the crop's corner in SR px) of a candidate's
    thumbnail, as ``(h, w, C)`` float32 with one ``C``: only these windows are read
    (:func:`~napari_srmat.io.read_window`) and only the LR window is upscaled."""
    from ..io import read_window

    H, W = sr.shape[:2]
    x0, y0, x1, y1 = bbox
    pad = max(8, (max(x1 - x0, y1 - y0)) // 2)
    cx0, cy0 = max(0, x0 - pad), max(0, y0 - pad)
    cx1, cy1 = min(W, x1 + pad), min(H, y1 + pad)
    sr_c = float_channels_last(read_window(sr, cy0, cy1, cx0, cx1), error=AuditInputError)
    h, w = lr.shape[:2]
    m = _UPSCALE_MARGIN_LR
    ly0, lx0 = max(0, cy0 // scale - m), max(0, cx0 // scale - m)
    ly1, lx1 = min(h, -(-cy1 // scale) + m), min(w, -(-cx1 // scale) + m)
    up = float_channels_last(upscale_bicubic(read_window(lr, ly0, ly1, lx0, lx1), scale),
                             error=AuditInputError)
    lr_c = up[cy0 - ly0 * scale:cy1 - ly0 * scale, cx0 - lx0 * scale:cx1 - lx0 * scale]
    if lr_c.shape[2] != sr_c.shape[2]:
        lr_c, sr_c = lr_c.mean(2, keepdims=True), sr_c.mean(2, keepdims=True)
    return lr_c, sr_c, (cx0, cy0)


def _thumb(lr_up: np.ndarray, sr: np.ndarray, corner, bbox, path: Path,
           size: int = 160) -> None:
    """Draw the thumbnail of crops :func:`_thumb_crops` made (corner: their ``(x, y)``)."""
    from PIL import Image, ImageDraw

    x0, y0, x1, y1 = bbox
    cx0, cy0 = corner
    tiles = []
    for img in (lr_up, sr):
        crop = np.clip(img, 0, 1)
        if crop.shape[2] == 1:
            crop = np.repeat(crop, 3, axis=2)
        im = Image.fromarray((crop[..., :3] * 255).astype(np.uint8))
        f = size / max(im.size)
        im = im.resize((max(1, round(im.size[0] * f)), max(1, round(im.size[1] * f))),
                       Image.NEAREST)
        ImageDraw.Draw(im).rectangle(
            [(x0 - cx0) * f, (y0 - cy0) * f, (x1 - cx0) * f - 1, (y1 - cy0) * f - 1],
            outline=(255, 0, 255))
        tiles.append(im)
    canvas = Image.new("RGB", (tiles[0].size[0] * 2 + 4, tiles[0].size[1]), (255, 255, 255))
    canvas.paste(tiles[0], (0, 0))
    canvas.paste(tiles[1], (tiles[0].size[0] + 4, 0))
    with atomic_path(path) as tmp:
        canvas.save(tmp, format="PNG")


def _session_name(session: AuditSession, index: int) -> str:
    """The session's file, else "session N" (1-based)."""
    return str(session.path) if session.path is not None else f"session {index + 1}"


def _images_gone(paths: dict[str, str | None]) -> str | None:
    """Which of a session's recorded image files (``{"lr": path, "sr": path}``) are gone
    (deleted, or moved where :meth:`AuditSession.load` did not find them), naming them:
    the session's thumbnails cannot be drawn. None when each recorded file is there (or
    none is recorded)."""
    gone = [f"{key.upper()} image {path}" for key, path in paths.items()
            if path and not os.path.exists(path)]
    if not gone:
        return None
    return f"the {' and the '.join(gone)} {'are' if len(gone) > 1 else 'is'} not available"


def pixel_size_override(sessions: Sequence[AuditSession],
                        pixel_size_um: float | None) -> str | None:
    """The line that says a pixel size given for a report replaces the one sessions
    record (by more than :data:`~napari_srmat.io.SQUARE_PIXEL_TOLERANCE`); None when
    none is given or every session agrees with it (or records none).

    Examples
    --------
    >>> from napari_srmat.audit import AuditSession
    >>> from napari_srmat.audit.report import pixel_size_override
    >>> s = AuditSession(pixel_size_um=0.25)
    >>> pixel_size_override([s], 0.5)
    'the given pixel size 0.5 µm was used, not the one recorded in session 1 (0.25 µm)'
    >>> pixel_size_override([s], 0.25) is None
    True
    """
    from ..io import given_pixel_size_message

    if pixel_size_um is None:
        return None
    differ = [f"{_session_name(s, i)} ({s.pixel_size_um:g} {LENGTH_UNIT})"
              for i, s in enumerate(sessions) if s.pixel_size_um is not None
              and given_pixel_size_message(pixel_size_um, s.pixel_size_um)]
    if not differ:
        return None
    return (f"the given pixel size {pixel_size_um:g} {LENGTH_UNIT} was used, not the one "
            "recorded in " + ", ".join(differ))


def search_pixel_size_note(sessions: Sequence[AuditSession],
                           used: Sequence[float | None]) -> str | None:
    """The line that says a session's report measures in another SR pixel size than its
    candidate search ran at (``used[i]`` for ``sessions[i]``; by more than
    :data:`~napari_srmat.io.SQUARE_PIXEL_TOLERANCE`), for sessions recalibrated since
    their search (the Audit widget follows the SR layer: ``pixel_size_um`` is no longer
    ``search_pixel_size_um``); None when none is. A session still at its search's size is
    left out: the notes of a given size or of the SR file's (:func:`pixel_size_override`,
    :func:`sr_file_pixel_size`) name that size as the one it records.

    Examples
    --------
    >>> from napari_srmat.audit import AuditSession
    >>> from napari_srmat.audit.report import search_pixel_size_note
    >>> s = AuditSession(pixel_size_um=0.125, search_pixel_size_um=0.25)
    >>> search_pixel_size_note([s], [0.125])
    'session 1: its candidate search ran at 0.25 µm per SR pixel; its boxes and lengths \
are in SR pixels, so only the µm and mm² values use the 0.125 µm of this report'
    >>> search_pixel_size_note([s], [0.25]) is None
    True
    """
    from ..io import pixels_square

    said = []
    for i, (s, px) in enumerate(zip(sessions, used)):
        was = s.search_pixel_size_um
        if None in (was, px, s.pixel_size_um) or pixels_square(was, px) or \
                pixels_square(was, s.pixel_size_um):
            continue
        said.append(f"{_session_name(s, i)}: its candidate search ran at {was:g} "
                    f"{LENGTH_UNIT} per SR pixel; its boxes and lengths are in SR pixels, so "
                    f"only the {LENGTH_UNIT} and mm² values use the {px:g} {LENGTH_UNIT} of "
                    "this report")
    return "; ".join(said) or None


#: Why a session made from arrays in memory (no LR or SR file recorded) has no
#: thumbnails, for the report's line and the warning ({} names the images).
NO_IMAGE_FILES = ("the session was made from images in memory and records no {} image "
                  "file to draw them from (in Python, write_report(..., images=[(lr, sr)]) "
                  "draws them)")


def _image_names(paths: Sequence[str | None]) -> list[str]:
    """The name of each SR image in a report: its file name, with as many of its folders
    as tell it from the other images' (``cnn/sr.png`` beside ``ddpm/sr.png``: two rows
    named ``sr.png`` could not be told apart); ``image N`` (1-based) for an image made in
    memory.

    Examples
    --------
    >>> _image_names(["/r/cnn/sr.png", "/r/ddpm/sr.png", "/r/x.png", None])
    ['cnn/sr.png', 'ddpm/sr.png', 'x.png', 'image 4']
    """
    parts = [None if p is None else Path(p).parts for p in paths]
    depth = [1] * len(paths)
    while True:
        names = [f"image {i + 1}" if pt is None else "/".join(pt[-d:]).lstrip("/")
                 for i, (pt, d) in enumerate(zip(parts, depth))]
        clash = [i for i, n in enumerate(names) if parts[i] is not None
                 and names.count(n) > 1 and depth[i] < len(parts[i])]
        if not clash:
            return names
        for i in clash:
            depth[i] += 1


def _cell(text: str) -> str:
    """``text`` as one Markdown table cell: a ``|`` or a line break would end the row."""
    return " ".join(str(text).replace("|", "/").split())


#: What marks a lower bound in the report's table (:func:`lower_bound_reason`).
AT_LEAST_MARK = "≥ "


#: First line of every audit report (how an existing report is recognised as ours).
REPORT_TITLE = "# Hallucination audit report"


def is_audit_report_file(path) -> bool:
    """Whether ``path`` is an audit report written by napari-srmat."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.readline().rstrip("\r\n") == REPORT_TITLE
    except (OSError, UnicodeDecodeError):
        return False


def write_report(session_or_sessions: AuditSession | Sequence[AuditSession], path,
                 pixel_size_um: float | None = None, *, images=None,
                 thumbnails: bool = True, max_thumbnails: int = 200) -> dict[str, Any]:
    """Write a Markdown audit report (with PNG thumbnails in ``<stem>_thumbs/``).

    Parameters
    ----------
    session_or_sessions : AuditSession or sequence of AuditSession
    path : path-like
        The ``.md`` file (written atomically). An existing report of napari-srmat is
        replaced; any other existing file, and the sessions' files and images, are
        refused (:class:`~napari_srmat.outputs.OutputExistsError`).
    pixel_size_um : float, optional
        SR pixel size for lengths per mm^2; without it, each session's, or its SR file's
        where that file (the audited pixels) is calibrated otherwise now
        (:func:`sr_file_pixel_size`, the Audit widget's rule for its SR layer: a
        ``UserWarning`` and the report's note say so); with none, lengths are given per
        megapixel, and the report says so.
    images : sequence of (lr, sr), optional
        Image arrays per session for the thumbnails; by default the files recorded in
        the sessions are read, each SR file once (when one is gone, or none is recorded:
        a session made from arrays, its session's thumbnails are skipped: a
        ``UserWarning`` naming the file or saying why, and a note in the report).
    thumbnails : bool
        Write the thumbnails.
    max_thumbnails : int
        At most this many per session.

    Returns
    -------
    dict
        ``{"per_image": [...], "pooled": {...}, "report": path, "pixel_size_note":
        ..., "sr_file_note": ..., "search_pixel_size_note": ...}``: ``pooled`` holds
        :func:`summarize`'s counts, ``area_px`` and figures over all ``n_images``, with
        ``n_images_known`` the images whose hallucinated length is known (the pooled
        length, densities and fraction are None while it is under ``n_images``:
        :func:`pooled_unknown_reason`); the notes are
        :func:`pixel_size_override`'s line (None when the given pixel size agrees with
        the sessions'), the SR files' calibrated anew (:func:`sr_file_pixel_size`, joined
        by "; "; None when none is) and the sessions measured in another size than their
        search's (:func:`search_pixel_size_note`, a ``UserWarning`` too), which the
        report also gives.
    """
    from ..io import check_pixel_size

    pixel_size_um = check_pixel_size(pixel_size_um)
    sessions = ([session_or_sessions] if isinstance(session_or_sessions, AuditSession)
                else list(session_or_sessions))
    if not sessions:
        raise ValueError("write_report needs at least one audit session")
    if images is not None and len(images) != len(sessions):
        raise ValueError(f"images has {len(images)} entries for {len(sessions)} sessions")
    seen: dict[str, int] = {}
    for i, s in enumerate(sessions):  # one image twice: its area and lengths pooled twice
        key = s.images.get("sr", {}).get("sha256")
        if key is not None and key in seen:
            j = seen[key]
            raise ValueError(
                f"{_session_name(s, i)} audits the same SR image as "
                f"{_session_name(sessions[j], j)} (checksum {key[:19]}...): the pooled row "
                "would count that image twice; give each image's session once")
        seen[key] = i
    # the write protocol: our own report is regenerated from the sessions; any other file
    # (a user's notes.md, a session, an image) is never replaced
    inputs = [s.path for s in sessions]
    inputs += [s.images.get(k, {}).get("path") for s in sessions for k in ("lr", "sr")]
    path = check_output_file(path, inputs=inputs, overwrite=True, ours=is_audit_report_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    thumb_dir = path.with_name(path.stem + "_thumbs")
    written: set[str] = set()  # thumbnails this report links
    # a given size wins; else each SR file calibrated anew since its session is followed
    sr_files = [_SrFile(s) for s in sessions]  # each read and hashed once, if at all
    follow = ([None] * len(sessions) if pixel_size_um is not None
              else [_sr_file_pixel_size(s, f) for s, f in zip(sessions, sr_files)])
    summaries = [summarize(s, pixel_size_um) if f is None else
                 summarize(s, f[0], pixel_size_from="file") for s, f in zip(sessions, follow)]
    pooled = _pool(summaries)
    per_mm2 = "hallucinated_per_mm2" in pooled
    override = pixel_size_override(sessions, pixel_size_um)
    file_note = "; ".join(f[1] for f in follow if f is not None) or None
    search_note = search_pixel_size_note(sessions, [sm["pixel_size_um"] for sm in summaries])
    for told in (file_note, search_note):
        if told:
            warnings.warn(told, UserWarning, stacklevel=2)
    note = "; ".join(filter(None, [override or file_note, search_note]))
    said = f" Note: {note}." if note else ""
    lines = [REPORT_TITLE, ""]
    if per_mm2:
        lines.append(f"Pixel size: {pooled['pixel_size_um']:g} {LENGTH_UNIT} (SR grid; "
                     + (PIXEL_SIZE_GIVEN if pixel_size_um is not None else
                        PIXEL_SIZE_FILE if file_note else PIXEL_SIZE_RECORDED) + "). "
                     "Hallucinated boundary density in mm of boundary per mm^2." + said)
    elif any(sm["pixel_size_um"] is not None for sm in summaries):
        sizes = ", ".join("unknown" if sm["pixel_size_um"] is None
                          else f"{sm['pixel_size_um']:g} {LENGTH_UNIT}" for sm in summaries)
        lines.append(f"The images do not share one known pixel size ({sizes}): "
                     "hallucinated boundary density is given in SR pixels of boundary "
                     "length **per megapixel** (not per mm^2) for every image." + said)
    else:
        lines.append("Pixel size unknown: hallucinated boundary density is given in SR "
                     "pixels of boundary length **per megapixel** (not per mm^2)." + said)
    lines += ["", "Boundary lengths are skeleton-pixel counts on the SR grid; the fraction is "
              "relative to all boundary length found by the detector's boundary map.", ""]

    def _row(name, s):
        c = s["counts"]
        # one unit per column: the pooled row's (per mm^2 only when every image has it)
        dens = s.get("hallucinated_per_mm2" if per_mm2 else "hallucinated_px_per_megapixel")
        frac = s.get("hallucinated_fraction")
        length = s["hallucinated_length_px"]  # None: candidates, none reviewed yet
        # some not reviewed yet or judged unsure
        least = AT_LEAST_MARK if lower_bound_reason(s) else ""
        return (f"| {name} | {c['real']} | {c['hallucinated']} | {c['unsure']} | "
                f"{c['unreviewed']} | {s['added_regions']['hallucinated']} | "
                f"{'n/a' if length is None else f'{least}{length:.0f}'} | "
                f"{'n/a' if dens is None else f'{least}{dens:.4g}'} | "
                f"{'n/a' if frac is None else f'{least}{100 * frac:.2f}%'} |")

    unit = "per mm^2" if per_mm2 else "px per MP"
    # the verdict columns count the detector's candidates; the reviewer's own regions have
    # a column of their own (the length and density include both: a count of candidates
    # only beside a length of both read as one region making the length of three)
    lines += ["| image | candidates real | candidates hallucinated | candidates unsure | "
              "unreviewed | reviewer-added hallucinated | halluc. length px | "
              f"halluc. {unit} | halluc. fraction |", "|---|---|---|---|---|---|---|---|---|"]
    names = _image_names([sm["sr_image"] for sm in summaries])
    for name, sm in zip(names, summaries):
        lines.append(_row(name, sm))
    lines.append(_row("**pooled**", pooled))
    lines.append("")
    unknown = pooled_unknown_reason(pooled)
    if unknown:  # said, not only n/a: the table reads as a review still under way
        lines += [f"Pooled hallucinated boundary n/a: {unknown} (any of their candidates "
                  "may be hallucinated).", ""]
    if any(lower_bound_reason(sm) for sm in [*summaries, pooled]):  # a 0.00% read as clean
        lines += [f"{AT_LEAST_MARK.strip()} marks a lower bound: candidates not reviewed yet "
                  "(the unreviewed column) or judged unsure (the unsure column), and added "
                  "regions judged unsure, any of which may be hallucinated; only the "
                  "hallucinations confirmed so far are counted.", ""]
    n_est = sum(sm["length_from_bbox_estimate"] for sm in summaries)
    if n_est:  # a diagonal is no measured length: a figure holding one is no exact one
        lines += [f"The length of {n_est} reviewer-added region{'s' if n_est > 1 else ''} "
                  f"hallucinated is {'their' if n_est > 1 else 'its'} bbox diagonal (no "
                  "length given), an estimate that can overstate or understate the boundary "
                  "in the box (a straight one off the diagonal is shorter, a winding one may "
                  "be longer): the figures that hold it are estimates, "
                  f"a {AT_LEAST_MARK.strip()} among them no strict lower bound.", ""]
    for i, (s, sm, name) in enumerate(zip(sessions, summaries, names)):
        changes = s.verdict_changes()  # the log read once, not per candidate
        lines += [f"## {name}", "",
                  f"Reviewer{'s' if len(sm['reviewers']) > 1 else ''}: "
                  f"{_cell(', '.join(sm['reviewers'])) or 'n/a'}; SR model: "
                  f"{s.sr_model.get('name', 'n/a')}; {len(s.candidates)} candidates, "
                  f"{s.progress_text()}; {len(s.added_regions)} reviewer-added region(s)"
                  + (f" ({sm['length_from_bbox_estimate']} with length estimated from the "
                     "bbox diagonal)" if sm["length_from_bbox_estimate"] else "") + "."
                  + ((f" {sm['verdicts_changed']} verdict(s) changed or undone during the "
                      "review (the table gives the earlier ones; the counts, the final "
                      "verdicts)." if s.has_undo else
                      f" {sm['verdicts_changed']} verdict(s) changed during the review (the "
                      "table gives the earlier ones).") if sm["verdicts_changed"] else "")
                  + (" The session was written by an older version that kept only the "
                     "current verdicts: changes made before it was resumed are not "
                     "recorded." if s.log_rebuilt else "")
                  + _pixel_size_changes_words(sm["pixel_size_changes"]), ""]
        lr = sr = None
        if thumbnails and s.candidates and max_thumbnails > 0:  # no images read for none
            skipped = "images not available"
            try:
                if images is not None:
                    lr, sr = (a if hasattr(a, "shape") else np.asarray(a) for a in images[i])
                else:
                    lp, sp = s.images["lr"].get("path"), s.images["sr"].get("path")
                    unknown = " or ".join(k for k, p in (("LR", lp), ("SR", sp)) if not p)
                    gone = "; ".join(filter(None, [  # a file gone, or none recorded
                        _images_gone({"lr": lp, "sr": sp}),
                        unknown and NO_IMAGE_FILES.format(unknown)]))
                    if gone:  # said, not only written into the report
                        skipped = gone
                        warnings.warn(f"{_session_name(s, i)}: {gone}: its thumbnails are "
                                      "skipped", UserWarning, stacklevel=2)
                    else:  # the SR file as sr_file_pixel_size read and hashed it
                        lr, sr = _read_image(lp), sr_files[i].image(tell=True).data
                # crops of other pixels (a file replaced since the audit) beside the
                # verdicts would show what the reviewer never saw
                changed = [] if lr is None else [
                    key.upper() for key, digest in (
                        ("lr", checksum(lr)),
                        ("sr", checksum(sr) if images is not None else sr_files[i].checksum()))
                    if digest != s.images.get(key, {}).get("sha256")]
                if changed:
                    skipped = (f"the {' and '.join(changed)} image is not the audited one "
                               "(its checksum differs from the session's)")
                    lr = sr = None
            except Exception as exc:  # noqa: BLE001 - thumbnails are optional
                skipped = str(exc)
                lr = sr = None
            if lr is None:
                lines += [f"(thumbnails skipped: {skipped})", ""]
        if lr is not None:
            prepare_output_dir(thumb_dir, "audit_thumbnails")
        lines += ["| rank | id | kind | score | new boundary px | verdict | note | LR-up / SR |",
                  "|---|---|---|---|---|---|---|---|"]
        for rank, c in enumerate(s.candidates, 1):
            d = s.decisions.get(c.id)
            img_md = ""
            if lr is not None and rank <= max_thumbnails:
                tp = thumb_dir / f"s{i + 1}_c{c.id}.png"
                _thumb(*_thumb_crops(lr, sr, s.scale, c.bbox), c.bbox, tp)
                written.add(tp.name)
                # percent-encoded: a link with a space ("my report_thumbs/...") is no
                # link in Markdown, and the picture was not shown
                img_md = f"![c{c.id}]({quote(f'{thumb_dir.name}/{tp.name}')})"
            note = _cell(d.note if d else "")
            earlier, changed = changes.get(c.id, ([], False))
            # changed: its final verdict differs from an earlier one not undone (not a
            # verdict undone and given again, nor one undone back to unreviewed: "-")
            said = f"{'changed; ' if changed else ''}earlier: {_cell('; '.join(earlier))}"
            verdict = f"{d.verdict if d else '-'}{f' ({said})' if earlier else ''}"
            lines.append(f"| {rank} | {c.id} | {c.kind} | {c.score:.1f} | "
                         f"{c.new_boundary_length_px:.0f} | {verdict} | "
                         f"{note} | {img_md} |")
        for r in s.added_regions:
            lines.append(f"| added | r{r.id} | reviewer | - | {r.estimated_length_px:.0f} | "
                         f"{r.verdict} | {_cell(r.note)} | |")
        lines.append("")
    atomic_write_text(path, "\n".join(lines) + "\n")
    _remove_unlinked_thumbnails(thumb_dir, written)
    return {"per_image": summaries, "pooled": pooled, "report": str(path),
            "pixel_size_note": override, "sr_file_note": file_note,
            "search_pixel_size_note": search_note}


def _remove_unlinked_thumbnails(thumb_dir: Path, written: set[str]) -> None:
    """Drop thumbnails of an earlier report that this one no longer links (other
    candidates, fewer images, thumbnails off): only our own ``s<N>_c<ID>.png`` files in
    our own thumbnail folder (its marker, :func:`~napari_srmat.outputs.read_marker`)."""
    import re

    from ..outputs import read_marker

    marker = read_marker(thumb_dir) if thumb_dir.is_dir() else None
    if marker is None or marker.get("kind") != "audit_thumbnails":
        return
    for old in thumb_dir.glob("s*_c*.png"):
        if re.fullmatch(r"s\d+_c\d+\.png", old.name) and old.name not in written:
            old.unlink(missing_ok=True)
