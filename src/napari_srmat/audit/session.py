"""Audit session: the candidates queue, the reviewer's decisions and their log.

An :class:`AuditSession` is saved as JSON (schema ``napari-srmat/audit-session``,
version :data:`SCHEMA_VERSION`, :data:`RECALIBRATE_SCHEMA_VERSION` when the SR pixel
size changed during the review, :data:`UNDO_SCHEMA_VERSION` when a verdict was undone)
plus a CSV beside it (one row per candidate and
added region). Saves are atomic and keep the previous version as ``PATH.bak``; a
reviewed session of another run that a save replaces is kept as ``PATH.<created>.bak``
(:func:`replaced_session_path`), never rotated, and not also as ``PATH.bak`` (one copy
of the same file). A failed load or save never touches the original file.
"""

from __future__ import annotations

import copy as _copy
import csv
import datetime as _dt
import hashlib
import io
import itertools
import json
import os
import re
import shutil
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write_bytes, atomic_write_text
from .detector import (
    BBOX_ORDER,
    Candidate,
    bbox_coordinates,
    check_bbox,
    check_bbox_inside,
    check_id,
)

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "RECALIBRATE_SCHEMA_VERSION",
    "UNDO_SCHEMA_VERSION",
    "VERDICTS",
    "LOG_ACTIONS",
    "AuditFileError",
    "Decision",
    "AddedRegion",
    "AuditSession",
    "checksum",
    "check_session_path",
    "check_session_files",
    "csv_earlier_verdicts",
    "foreign_session_file",
    "previous_save_path",
    "replaced_session_path",
    "holds_review",
    "review_counts",
    "sr_model_from_metadata",
]

SCHEMA = "napari-srmat/audit-session"
SCHEMA_VERSION = 2
#: The version of a session whose log holds a ``"recalibrate"`` entry (since 2026-12-07),
#: which a napari-srmat reading only :data:`SCHEMA_VERSION` refuses as a version it does
#: not read rather than as a malformed file; others are still written as
#: :data:`SCHEMA_VERSION`, which every version since 2026-12-04 reads.
RECALIBRATE_SCHEMA_VERSION = 3
#: The version of a session whose log holds an ``"undo"`` entry (a verdict taken back:
#: :meth:`AuditSession.undo`, since 2026-12-07): a napari-srmat reading versions up to
#: :data:`RECALIBRATE_SCHEMA_VERSION` refuses it as a version it does not read rather
#: than as a malformed file; a session with no verdict undone keeps its version.
UNDO_SCHEMA_VERSION = 4
#: Versions :meth:`AuditSession.load` reads. Version 1 held the current verdicts only
#: (a changed verdict replaced the first one); its log is rebuilt from them
#: (:attr:`AuditSession.log_rebuilt`) and the next save writes version 2.
READ_VERSIONS = (1, 2, 3, 4)
#: Actions of the append-only log (:attr:`AuditSession.log`): a verdict on a candidate,
#: a region added, a region taken back, the SR pixel size changed
#: (:meth:`AuditSession.recalibrate`; since 2026-12-07, told before only in the Audit
#: widget's status line), a candidate's verdict undone (:meth:`AuditSession.undo`,
#: since 2026-12-07: its verdict before, or none, is its decision again).
LOG_ACTIONS = ("verdict", "add_region", "remove_region", "recalibrate", "undo")
#: Columns of the session CSV written beside the JSON: new ones go at the end (users'
#: scripts read the others). ``earlier_verdicts`` (since 2026-12-05): the verdicts given
#: on a candidate before its current one, when it changed, oldest first, as a JSON list
#: of ``{"verdict", "reviewer", "timestamp"}`` (since 2026-12-05 too; first written as
#: ``verdict (reviewer, time)`` joined by ``; ``, which a reviewer name holding ``; ``
#: made ambiguous), ``"undone": true, "undone_by", "undone_at"`` added to a verdict
#: undone (since 2026-12-07; the
#: candidate's verdicts are then listed even when none changed, and all of them when
#: none stands: unreviewed again); empty when it never changed.
#: :func:`csv_earlier_verdicts` reads either form.
CSV_HEADER = ("source", "id", "rank", *BBOX_ORDER, "score", "kind",
              "new_boundary_length_px", "verdict", "reviewer", "note", "timestamp",
              "earlier_verdicts")
#: The CSV's columns before ``earlier_verdicts``: such a file is still the session's own.
_CSV_HEADER_BEFORE_HISTORY = CSV_HEADER[:-1]


#: The fields of an earlier verdict in the CSV's ``earlier_verdicts`` cell.
_EARLIER_FIELDS = ("verdict", "reviewer", "timestamp")
#: The fields of an earlier verdict undone in that cell besides ``"undone": true``: who
#: undid it and when (since 2026-12-07).
_UNDONE_FIELDS = ("undone_by", "undone_at")
#: An entry of an ``earlier_verdicts`` cell of the first form (``verdict (reviewer, time)``;
#: ``n/a`` for no reviewer): the time holds no ", ".
_OLD_EARLIER = re.compile(r"(\w+) \((.*), ([^,]*)\)")


def csv_earlier_verdicts(cell: str) -> list[dict[str, str]]:
    """The earlier verdicts an ``earlier_verdicts`` cell of the session CSV holds
    (:data:`CSV_HEADER`), oldest first, as ``{"verdict", "reviewer", "timestamp"}``,
    with ``"undone": True`` and who undid it and when (``"undone_by"``, ``"undone_at"``,
    where the CSV holds them) added to a verdict undone.

    The cell is a JSON list of them; a cell of a CSV written in the first form
    (``real (ana, time); unsure (n/a, time)``) is read too, split at ``"; "`` (a reviewer
    name holding ``"; "`` could not be told from two entries there). ``ValueError`` for
    text of neither form.

    Examples
    --------
    >>> from napari_srmat.audit.session import csv_earlier_verdicts
    >>> csv_earlier_verdicts('[{"verdict": "real", "reviewer": "a; b", "timestamp": "t"}]')
    [{'verdict': 'real', 'reviewer': 'a; b', 'timestamp': 't'}]
    >>> csv_earlier_verdicts("real (ana, 2026-12-05T08:00:00+00:00)")[0]["reviewer"]
    'ana'
    """
    cell = cell.strip()
    if not cell:
        return []
    try:
        if cell.startswith("["):
            entries = json.loads(cell)
        else:  # the first form
            entries = [dict(zip(_EARLIER_FIELDS, _OLD_EARLIER.fullmatch(part).groups()))
                       for part in cell.split("; ")]
            entries = [{**e, "reviewer": "" if e["reviewer"] == "n/a" else e["reviewer"]}
                       for e in entries]
        return [{**{k: str(e[k]) for k in _EARLIER_FIELDS},
                 **({"undone": True, **{k: str(e[k]) for k in _UNDONE_FIELDS if k in e}}
                    if e.get("undone") is True else {})}
                for e in entries]
    except (ValueError, AttributeError, TypeError, KeyError) as exc:
        raise ValueError(f"not an earlier_verdicts cell of an audit session CSV: "
                         f"{cell[:80]!r}") from exc


def is_audit_session_file(path) -> bool:
    """Whether ``path`` is an audit session JSON written by napari-srmat."""
    try:
        with open(path, encoding="utf-8") as fh:
            d = json.load(fh)
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(d, dict) and d.get("schema") == SCHEMA


#: The session JSON's key recording the SHA-256 of the CSV log saved with it: a CSV that
#: is not that one when the next save rewrites it was edited or re-saved by another
#: program and is kept (:meth:`AuditSession.save`)
CSV_DIGEST_KEY = "csv_sha256"


def _is_session_csv(path) -> bool:
    """Whether ``path`` is an audit session's CSV log: its first line holds the session
    CSV's columns, also as a spreadsheet re-saves it (Excel: a UTF-8 BOM, CRLF line ends,
    ``;`` between the columns in some locales, its local code page)."""
    try:
        with open(path, "rb") as fh:
            first = fh.readline(1 << 16)
    except OSError:
        return False
    # the columns are ASCII: any code page the program saved in reads them
    text = first.removeprefix(b"\xef\xbb\xbf").decode("ascii", "replace").rstrip("\r\n")
    return any(tuple(next(csv.reader([text], delimiter=sep))) in
               (CSV_HEADER, _CSV_HEADER_BEFORE_HISTORY) for sep in (",", ";"))
VERDICTS = ("real", "hallucinated", "unsure")


def sr_model_from_metadata(metadata) -> dict[str, Any] | None:
    """The SR model an SR image records, as a session's ``sr_model``; None if none.

    ``metadata`` is a :class:`~napari_srmat.io.Micrograph`'s or a napari layer's:
    ``metadata["srmat"]`` of a store written by ``srmat sr run`` / ``super_resolve``
    (``{"name": model, "settings": {scale, tile, overlap, checkpoint, options,
    weights_sha256}}``), else ``metadata["sr_model"]`` of an SR widget layer.

    Examples
    --------
    >>> from napari_srmat.audit.session import sr_model_from_metadata
    >>> sr_model_from_metadata({"srmat": {"operation": "super_resolution",
    ...                                    "model": "cnn", "scale": 4}})
    {'name': 'cnn', 'settings': {'scale': 4}}
    >>> sr_model_from_metadata({"sr_model": "bicubic"})
    {'name': 'bicubic'}
    >>> sr_model_from_metadata({}) is None
    True
    """
    from ..sr.apply import SR_OUTPUT_KIND

    meta = metadata if isinstance(metadata, dict) else {}
    attrs = meta.get("srmat")
    if (isinstance(attrs, dict) and attrs.get("operation") == SR_OUTPUT_KIND
            and isinstance(attrs.get("model"), str)):
        keys = ("scale", "tile", "overlap", "checkpoint", "options", "weights_sha256")
        return {"name": attrs["model"], "settings": {k: attrs[k] for k in keys if k in attrs}}
    if isinstance(meta.get("sr_model"), str) and meta["sr_model"]:
        return {"name": meta["sr_model"]}
    return None


def _review_counts(raw: bytes) -> tuple[int, int, int]:
    """The decisions, added regions and log entries session JSON ``raw`` holds, read
    without building the session; ``(0, 0, 0)`` when it is not a JSON object."""
    try:
        d = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return 0, 0, 0
    if not isinstance(d, dict):
        return 0, 0, 0
    return tuple(len(v) if isinstance(v, dict | list) else int(bool(v))
                 for v in (d.get("decisions"), d.get("added_regions"), d.get("log")))


def holds_review(counts: tuple[int, int, int]) -> bool:
    """Whether a session of :func:`review_counts` ``counts`` holds a review, the one rule
    by which a save keeps the session it replaces and the Audit widget asks before a new
    session replaces it: a decision, an added region or any log entry (a session whose
    verdicts were all undone holds no decision, but its log is the review).

    Parameters
    ----------
    counts : tuple of int
        ``(decisions, added regions, log entries)``, as :func:`review_counts` reads them.

    Returns
    -------
    bool
        True when any of them is not 0.

    Examples
    --------
    >>> from napari_srmat.audit.session import holds_review
    >>> holds_review((0, 0, 2)), holds_review((0, 0, 0))
    (True, False)
    """
    return any(counts)


def _holds_review(raw: bytes) -> bool:
    """Whether session JSON ``raw`` holds a review (:func:`holds_review`)."""
    return holds_review(_review_counts(raw))


def review_counts(path) -> tuple[int, int, int]:
    """The decisions, added regions and log entries the session JSON at ``path`` holds
    (:func:`holds_review`: the rule by which a save keeps a session it replaces), read
    without building the session: a look before a new session replaces it
    (:meth:`AuditSession.load` checks every candidate and decision, 0.4-0.9 s for 5000
    candidates). ``(0, 0, 0)`` when it is not a JSON object.

    Examples
    --------
    >>> from napari_srmat.audit.session import review_counts
    >>> import json, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "audit.json"
    >>> _ = p.write_text(json.dumps({"decisions": {"1": {}}, "added_regions": [],
    ...                              "log": [{"action": "verdict"}]}))
    >>> review_counts(p)
    (1, 0, 1)
    """
    return _review_counts(Path(path).read_bytes())


def replaced_session_path(path) -> Path:
    """The name a reviewed session at ``path`` is kept under when a save of another
    session replaces it: ``PATH.<its created time, UTC>.bak`` (``audit.json.
    20261204T170658Z.bak``), with ``-2``, ``-3``... when that name holds another file.

    Examples
    --------
    >>> from napari_srmat.audit.session import replaced_session_path
    >>> import json, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "audit.json"
    >>> _ = p.write_text(json.dumps({"created": "2026-12-04T17:06:58+00:00"}))
    >>> replaced_session_path(p).name
    'audit.json.20261204T170658Z.bak'
    """
    path = Path(path)
    return _replaced_path(path, path.read_bytes())


def _is_earlier_save(raw: bytes, session: AuditSession) -> bool:
    """Whether session JSON ``raw`` is an earlier save of ``session``: created at the same
    time, its log a beginning of the session's (the log only grows)."""
    try:
        d = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    if not isinstance(d, dict) or d.get("created") != session.created:
        return False
    log = d.get("log")
    ours = json.loads(json.dumps(session.log))  # as saved: tuples are lists
    return isinstance(log, list) and log == ours[:len(log)]


def _replaced_path(path: Path, raw: bytes) -> Path:
    """:func:`replaced_session_path` of session JSON ``raw`` saved at ``path``."""
    try:
        created = _dt.datetime.fromisoformat(str(json.loads(raw.decode("utf-8"))["created"]))
        if created.tzinfo is not None:
            created = created.astimezone(_dt.UTC)
        stamp = created.strftime("%Y%m%dT%H%M%SZ")
    except (UnicodeDecodeError, ValueError, TypeError, KeyError):
        stamp = _digest(raw)[:12]
    for k in range(1, 1000):
        kept = path.with_name(f"{path.name}.{stamp}{'' if k == 1 else f'-{k}'}.bak")
        if not kept.exists() or kept.read_bytes() == raw:
            return kept
    raise FileExistsError(f"too many kept copies of {path} ({kept.name})")


def _keep_replaced(path: Path, raw: bytes) -> Path:
    """Keep ``raw`` (the reviewed session at ``path`` a save replaces) as
    :func:`replaced_session_path`; return that path."""
    kept = _replaced_path(path, raw)
    if not kept.exists():
        atomic_write_bytes(kept, raw)
    return kept


def _written_csv_digest(raw: bytes | None) -> str | None:
    """SHA-256 of the CSV log napari-srmat saved with session JSON ``raw``: the one it
    records (:data:`CSV_DIGEST_KEY`), else (a session saved before that record) the CSV
    the session renders; None when ``raw`` is None or no session."""
    if raw is None:
        return None
    try:
        d = json.loads(raw.decode("utf-8"))
        if isinstance(d, dict) and isinstance(d.get(CSV_DIGEST_KEY), str):
            return d[CSV_DIGEST_KEY]
        return _digest(AuditSession.from_dict(d).to_csv().encode("utf-8"))
    except (UnicodeDecodeError, ValueError):  # AuditFileError is a ValueError
        return None


def check_session_path(path) -> Path:
    """Refuse a path an audit session cannot be saved to: empty, a folder, or a ``.csv``
    name (the session's CSV goes beside the JSON as ``PATH.csv``: the two would be one
    file, each save replacing the JSON by the CSV).

    Examples
    --------
    >>> from napari_srmat.audit.session import check_session_path
    >>> check_session_path("audit.json").name
    'audit.json'
    >>> check_session_path("audit.csv")
    Traceback (most recent call last):
    ...
    ValueError: session file 'audit.csv' ends in .csv, the name of the CSV log written ...
    """
    path = Path(path)
    if not str(path) or str(path) == "." or path.is_dir():
        raise ValueError(f"not a file path to save the audit session to: {str(path)!r}")
    if path.suffix.lower() == ".csv":  # also on case-insensitive file systems
        raise ValueError(f"session file {str(path)!r} ends in .csv, the name of the CSV log "
                         "written beside the session: give a .json file name")
    return path


def previous_save_path(path) -> Path:
    """Where a save of the session at ``path`` keeps the previous JSON: ``PATH.bak``."""
    path = Path(path)
    return path.with_name(path.name + ".bak")


def foreign_session_file(path) -> Path | None:
    """The first file a save of the session at ``path`` writes that exists and is not
    napari-srmat's: the JSON itself, the CSV log beside it (``PATH.csv``) or the previous
    save (:func:`previous_save_path`); None when there is none."""
    path = Path(path)
    for p, ours in ((path, is_audit_session_file), (path.with_suffix(".csv"), _is_session_csv),
                    (previous_save_path(path), is_audit_session_file)):
        if p.exists() and not ours(p):
            return p
    return None


def check_session_files(path) -> Path:
    """Refuse to save a session at ``path`` over a file napari-srmat did not write (a
    :func:`foreign_session_file`); return the CSV log's path (``PATH.csv``).

    The rule of :meth:`AuditSession.save`, also checked by ``srmat audit candidates``
    before its search (a user's ``PATH.csv`` was found only when the search had ended).

    Raises
    ------
    OutputExistsError
        The JSON, the CSV log or the ``.bak`` exists and is not an audit session file or
        log of ours.
    """
    from ..outputs import OutputExistsError

    foreign = foreign_session_file(path)
    if foreign is not None:
        raise OutputExistsError(f"{foreign} exists and is not an audit session file written "
                                "by napari-srmat; it will not be replaced")
    return Path(path).with_suffix(".csv")


class AuditFileError(ValueError):
    """An audit session file is corrupt, of another schema, or does not match the images."""


class _FileSaves:
    """The saves of one session file in this process: the lock :meth:`AuditSession.save`
    holds while it checks and writes the file, and the number of the last save made
    (:meth:`AuditSession.is_last_save`)."""

    __slots__ = ("lock", "last", "__weakref__")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last: int | None = None


#: The :class:`_FileSaves` of each session file (:func:`_file_saves`), kept while a save
#: of it runs or a session whose last save it was is alive (it holds its file's entry):
#: one entry per file for the process's life grew without bound over a long session
_SAVE_LOCKS: weakref.WeakValueDictionary[str, _FileSaves] = weakref.WeakValueDictionary()
_SAVE_LOCKS_LOCK = threading.Lock()
#: The numbers of the saves, in the order they are made (unique in the process: an entry
#: made anew for a file never numbers a save as a forgotten one did)
_SAVE_NUMBERS = itertools.count(1)


def _save_key(path) -> str:
    """The key of ``path`` in :data:`_SAVE_LOCKS`."""
    return os.path.normcase(os.path.abspath(os.fspath(path)))


def _file_saves(path) -> _FileSaves:
    """The saves of ``path`` (its lock: the one ordering rule of saves from several
    threads; the Audit widget saves in workers). A save begun after another to the same
    file finds that one's file whole, never half-checked: an older session is never
    swapped in over a newer one (its check refuses a file it did not write)."""
    key = _save_key(path)
    with _SAVE_LOCKS_LOCK:
        entry = _SAVE_LOCKS.get(key)
        if entry is None:
            entry = _SAVE_LOCKS[key] = _FileSaves()
        return entry


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def checksum(data) -> str:
    """SHA-256 of an image: file bytes for a path, else dtype + shape + array bytes.

    Parameters
    ----------
    data : path-like or array-like
        A file (hashed as stored) or an array (numpy/Dask/Zarr; hashed in row strips
        so large lazy arrays are not loaded at once).

    Returns
    -------
    str
        ``"sha256:<hex>"``.
    """
    h = hashlib.sha256()
    if isinstance(data, str | os.PathLike):
        with open(data, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return "sha256:" + h.hexdigest()
    shape = tuple(int(s) for s in data.shape)
    dtype = np.dtype(data.dtype)
    h.update(f"{dtype.str}|{shape}|".encode())
    step = max(1, (64 << 20) // max(1, int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize))
    for y in range(0, shape[0] if shape else 1, step):
        block = np.ascontiguousarray(np.asarray(data[y:y + step]) if shape else np.asarray(data))
        h.update(block.tobytes())
    return "sha256:" + h.hexdigest()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _image_pixels(image, name: str):
    """``(pixels, pixel size or None)`` of an image argument: a path is read, a
    :class:`~napari_srmat.io.Micrograph` gives its data and (square) pixel size
    (:func:`napari_srmat.io.image_data`), an array stays as it is."""
    from ..io import image_data, read_image

    if isinstance(image, str | os.PathLike):
        image = read_image(image)
    return image_data(image, name=name)


@dataclass
class Decision:
    """A reviewer's verdict on one candidate (or added region)."""

    verdict: str
    reviewer: str = ""
    note: str = ""
    timestamp: str = field(default_factory=_now)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    def to_dict(self) -> dict[str, str]:
        return {"verdict": self.verdict, "reviewer": self.reviewer, "note": self.note,
                "timestamp": self.timestamp}


@dataclass
class AddedRegion:
    """A region the detector missed, added by the reviewer.

    ``length_px`` is the hallucinated boundary length the reviewer attributes to it;
    when unknown, reports use the bbox diagonal as an estimate (and say so).
    """

    id: int
    bbox: list[int]
    verdict: str = "hallucinated"
    reviewer: str = ""
    note: str = ""
    length_px: float | None = None
    timestamp: str = field(default_factory=_now)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        self.id = check_id(self.id, "region id")
        self.bbox = check_bbox(self.bbox, "region bbox")
        if self.length_px is not None:  # true or "12" is refused, not 1 or 12 px
            from ..errors import check_number

            self.length_px = check_number("region length_px", self.length_px, lo=0)

    @property
    def estimated_length_px(self) -> float:
        if self.length_px is not None:
            return float(self.length_px)
        x0, y0, x1, y1 = self.bbox
        return float(np.hypot(x1 - x0, y1 - y0))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "bbox": self.bbox, "verdict": self.verdict,
                "reviewer": self.reviewer, "note": self.note, "length_px": self.length_px,
                "timestamp": self.timestamp}


def _relative_base(session_file: Path) -> Path:
    """The folder the images' ``relative_path`` of a session file are relative to: its
    folder's real path, as the images' are (:meth:`AuditSession.create` resolves them; a
    folder reached through a link gave a path that went out through the link and back to
    the old place). One rule for the save that writes them and the load that follows
    them."""
    return Path(session_file).parent.resolve()


def _with_relative_paths(d: dict[str, Any], path: Path) -> dict[str, Any]:
    """Session dictionary ``d`` to be saved at ``path``, each image with its path
    relative to the session file's folder (``relative_path``, from
    :func:`_relative_base`): a session moved with its images finds them there
    (:meth:`AuditSession.load`)."""
    images = {}
    for key, entry in d["images"].items():
        entry = {k: v for k, v in entry.items() if k != "relative_path"}
        if entry.get("path"):
            try:
                entry["relative_path"] = os.path.relpath(entry["path"],
                                                         _relative_base(path))
            except ValueError:  # another drive (Windows): no relative path
                pass
        images[key] = entry
    return {**d, "images": images}


def _verdict_entry(candidate_id: int, d: Decision) -> dict[str, Any]:
    """The log entry of verdict ``d`` on a candidate."""
    return {"action": "verdict", "candidate": check_id(candidate_id, "candidate id"),
            **d.to_dict()}


#: The fields of an ``"undo"`` log entry after its action, in :func:`_undo_entry`'s order:
#: the candidate, the verdict undone (its latest one not undone), who undid it and when.
UNDO_KEYS = ("candidate", "verdict", "reviewer", "timestamp")


def _earlier_words(entries: list[tuple[dict[str, Any], dict[str, Any] | None]]
                   ) -> list[str]:
    """:meth:`AuditSession.earlier_verdicts`' words of its log entries (each with the
    ``"undo"`` entry that undid it, or None)."""
    return [f"{e['verdict']} ({e['reviewer'] or 'n/a'}, {e['timestamp']}"
            + (f"; undone by {u['reviewer'] or 'n/a'}, {u['timestamp']})" if u else ")")
            for e, u in entries]


def _undo_entry(candidate_id: Any, verdict: Any, reviewer: Any,
                timestamp: Any) -> dict[str, Any]:
    """The log entry of ``verdict`` on a candidate undone by ``reviewer`` at
    ``timestamp`` (:meth:`AuditSession.undo`), checked as a session file's entry is
    read."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
    for name, text in (("reviewer", reviewer), ("timestamp", timestamp)):
        if not isinstance(text, str):
            raise ValueError(f"{name} must be text, got {text!r}")
    return {"action": "undo", "candidate": check_id(candidate_id, "candidate id"),
            "verdict": verdict, "reviewer": reviewer, "timestamp": timestamp}


def _replay_verdict(standing: dict[int, list[dict[str, Any]]],
                    e: dict[str, Any]) -> dict[str, Any] | None:
    """Apply log entry ``e``, a verdict or an undo, to ``standing`` (candidate id -> its
    verdict entries not undone, oldest first): the one rule of what an undo takes back
    (the candidate's latest verdict not undone, whose verdict the entry names). Returns
    the verdict entry undone (None for a verdict). ``ValueError`` for an undo with
    nothing to take back, or naming another verdict than the one it takes back."""
    stack = standing.setdefault(e["candidate"], [])
    if e["action"] == "verdict":
        stack.append(e)
        return None
    if not stack:
        raise ValueError(f"an undo on candidate {e['candidate']}, which has no verdict to "
                         "undo (edited by hand?)")
    if stack[-1]["verdict"] != e["verdict"]:
        raise ValueError(f"an undo of verdict {e['verdict']!r} on candidate "
                         f"{e['candidate']}, whose verdict then was "
                         f"{stack[-1]['verdict']!r} (edited by hand?)")
    return stack.pop()


def _decision_of(e: dict[str, Any]) -> Decision:
    """The :class:`Decision` a verdict log entry records."""
    return Decision(**{k: e[k] for k in ("verdict", "reviewer", "note", "timestamp")})


#: The fields of a ``"recalibrate"`` log entry after its action, in
#: :func:`_recalibrate_entry`'s order.
RECALIBRATE_KEYS = ("pixel_size_um", "previous_pixel_size_um", "reviewer", "timestamp")


def _recalibrate_entry(pixel_size_um: Any, previous: Any, reviewer: Any,
                       timestamp: Any) -> dict[str, Any]:
    """The log entry of the SR pixel size changed from ``previous`` to ``pixel_size_um``
    (µm, None: unknown) by ``reviewer`` at ``timestamp`` (:meth:`AuditSession.recalibrate`),
    checked as a session file's entry is read (a size by
    :func:`~napari_srmat.io.check_pixel_size`)."""
    from ..io import check_pixel_size

    for name, text in (("reviewer", reviewer), ("timestamp", timestamp)):
        if not isinstance(text, str):
            raise ValueError(f"{name} must be text, got {text!r}")
    return {"action": "recalibrate", "pixel_size_um": check_pixel_size(pixel_size_um),
            "previous_pixel_size_um": check_pixel_size(previous), "reviewer": reviewer,
            "timestamp": timestamp}


def _rebuilt_log(decisions: dict[int, Decision],
                 regions: list[AddedRegion]) -> list[dict[str, Any]]:
    """The log of a version-1 session: its current verdicts and regions, by time."""
    entries = [_verdict_entry(k, d) for k, d in decisions.items()]
    entries += [{"action": "add_region", **r.to_dict()} for r in regions]
    return sorted(entries, key=lambda e: e["timestamp"])


class _Entry:
    """The entry of a session file :meth:`AuditSession.from_dict` is reading (``"log
    entry", 3`` and the entry itself), for its refusal to say where in the file it is."""

    def __init__(self) -> None:
        self.what: str | None = None
        self.number = 0
        self.value: Any = None

    def each(self, items, what: str):
        """``items`` (a list of the file), each marked as read while it is (1-based)."""
        if not isinstance(items, list):
            raise ValueError(f"{what}s must be a list, got {type(items).__name__}")
        for self.number, self.value in enumerate(items, 1):
            self.what = what
            yield self.value
        self.what = None

    def words(self) -> str:
        """``"log entry 3: "`` while an entry is read, else ``""``."""
        return "" if self.what is None else f"{self.what} {self.number}: "


def _decode_located(text: str) -> tuple[Any, dict[int, int]]:
    """JSON ``text`` decoded, with the line (1-based) each of its objects starts on, by
    ``id()`` of the object: where a refused entry of a session edited by hand is. Pure
    Python (the C scanner tells no positions): read only when a file is refused."""
    import bisect
    from json import scanner

    breaks = [i for i, ch in enumerate(text) if ch == "\n"]
    lines: dict[int, int] = {}
    decoder = json.JSONDecoder()
    parse = decoder.parse_object

    def parse_object(s_and_end, *args):
        obj, end = parse(s_and_end, *args)
        lines[id(obj)] = bisect.bisect_left(breaks, s_and_end[1] - 1) + 1
        return obj, end

    decoder.parse_object = parse_object
    decoder.scan_once = scanner.py_make_scanner(decoder)
    return decoder.decode(text), lines  # the objects live in the result: ids stay theirs


def _checked_log(log, decisions: dict[int, Decision],
                 regions: list[AddedRegion], entry: _Entry | None = None,
                 pixel_size_um: float | None = None) -> list[dict[str, Any]]:
    """``log`` as read, checked against the current state it must lead to: the latest
    verdict per candidate not undone (:func:`_replay_verdict`) is
    :attr:`AuditSession.decisions`' own, the regions added
    and not removed are the added regions, and the SR pixel size changes follow each
    other (each from the size the one before set) to ``pixel_size_um``, the session's
    (``ValueError`` otherwise). Returned with its
    ids as numbers (``"7"`` of a log edited by hand is 7, as candidate and decision ids
    are read: :meth:`AuditSession.verdict_history` found no verdict given as ``"7"``)."""
    if not isinstance(log, list):
        raise ValueError(f"log must be a list, got {type(log).__name__}")
    standing: dict[int, list[dict[str, Any]]] = {}  # the verdicts not undone
    kept: dict[int, dict[str, Any]] = {}
    sizes: list[dict[str, Any]] = []  # the recalibrate entries
    read = []
    for e in (entry or _Entry()).each(log, "log entry"):
        action = e.get("action") if isinstance(e, dict) else None
        if action not in LOG_ACTIONS:
            raise ValueError(f"log entry {e!r}: action must be one of {LOG_ACTIONS}")
        if action == "verdict":
            fields = {k: v for k, v in e.items() if k not in ("action", "candidate")}
            e = _verdict_entry(e["candidate"], Decision(**fields))
            _replay_verdict(standing, e)
        elif action == "undo":
            missing = [k for k in UNDO_KEYS if k not in e]
            if missing:
                raise ValueError(f"an undo entry needs {', '.join(missing)}")
            e = _undo_entry(*(e[k] for k in UNDO_KEYS))
            _replay_verdict(standing, e)
        elif action == "add_region":
            fields = {k: v for k, v in e.items() if k != "action"}
            e = {"action": action, **AddedRegion(**fields).to_dict()}
            kept[e["id"]] = e
        elif action == "recalibrate":
            missing = [k for k in RECALIBRATE_KEYS if k not in e]
            if missing:
                raise ValueError(f"a recalibrate entry needs {', '.join(missing)}")
            e = _recalibrate_entry(*(e[k] for k in RECALIBRATE_KEYS))
            if sizes and e["previous_pixel_size_um"] != sizes[-1]["pixel_size_um"]:
                raise ValueError(
                    f"the SR pixel size changed from {e['previous_pixel_size_um']} µm, but "
                    f"the change before set {sizes[-1]['pixel_size_um']} µm (edited by hand?)")
            sizes.append(e)
        else:
            e = {**e, "region": check_id(e["region"], "region id")}
            kept.pop(e["region"], None)
        read.append(e)
    latest = {k: v[-1] for k, v in standing.items() if v}
    if ({k: _verdict_entry(k, d) for k, d in decisions.items()} != latest
            or [{"action": "add_region", **r.to_dict()} for r in regions]
            != list(kept.values())):
        raise ValueError("the log does not lead to the decisions and added regions the "
                         "file holds (edited by hand?)")
    if sizes and sizes[-1]["pixel_size_um"] != pixel_size_um:
        raise ValueError(f"the last change of the SR pixel size in the log set "
                         f"{sizes[-1]['pixel_size_um']} µm, but the file's pixel_size_um is "
                         f"{pixel_size_um} (edited by hand?)")
    return read


#: The containers of a session's review a :meth:`AuditSession.snapshot` copies
_REVIEW_CONTAINERS = ("decisions", "added_regions", "log")
#: The fields of a session's review :meth:`AuditSession.restore` puts back
_REVIEW_FIELDS = (*_REVIEW_CONTAINERS, "reviewer", "position", "pixel_size_um", "path")


@dataclass
class AuditSession:
    """State of one expert audit of one LR/SR image pair.

    Attributes
    ----------
    reviewer : str
        Default reviewer name for decisions.
    images : dict
        ``{"lr": {"sha256", "shape", "path"}, "sr": {...}}``.
    scale : int
        SR factor.
    candidates : list of Candidate
        The queue, most suspicious first.
    decisions : dict
        Candidate id -> :class:`Decision`.
    added_regions : list of AddedRegion
        Reviewer-added regions.
    position : int
        Index of the current candidate in the queue (resumed on load).
    sr_model : dict
        ``{"name": ..., "settings": {...}}`` of the SR model that produced the image.
    detector : dict
        Detector settings.
    total_boundary_length_px : float or None
        All SR boundary length (skeleton pixels) for fractions in reports.
    sr_shape : list of int
        ``[H, W]`` of the SR image.
    pixel_size_um : float or None
        SR pixel size the session measures in: its search's, or the SR image's
        calibration since (:meth:`recalibrate`).
    search_pixel_size_um : float or None
        SR pixel size at the candidate search (:meth:`create`), which
        :meth:`recalibrate` does not change: the report says so when it measures in
        another (:func:`~napari_srmat.audit.report.search_pixel_size_note`). None when
        unknown (none then, or a file saved before 2026-12-05, which did not keep it).
    log : list of dict
        The append-only record of the review, oldest first: every verdict
        (``{"action": "verdict", "candidate": id, "verdict", "reviewer", "note",
        "timestamp"}``), added region (``"add_region"`` with the region's fields) and
        removed region (``"remove_region"``, ``"region": id``, reviewer, timestamp) and
        change of the SR pixel size (``"recalibrate"``, ``"pixel_size_um"``,
        ``"previous_pixel_size_um"``, reviewer, timestamp: :meth:`recalibrate`) and
        verdict undone (``"undo"``, ``"candidate"``, the ``"verdict"`` undone, reviewer,
        timestamp: :meth:`undo`). A changed verdict is appended; :attr:`decisions` holds
        the latest per candidate not undone.
    log_rebuilt : bool
        The log was rebuilt from a version-1 session's current verdicts: verdicts
        changed before that are not in it.
    path : Path or None
        Where the session is saved (set by :meth:`save` / :meth:`load`).
    """

    reviewer: str = ""
    images: dict[str, dict[str, Any]] = field(default_factory=dict)
    scale: int = 1
    candidates: list[Candidate] = field(default_factory=list)
    decisions: dict[int, Decision] = field(default_factory=dict)
    added_regions: list[AddedRegion] = field(default_factory=list)
    position: int = 0
    sr_model: dict[str, Any] = field(default_factory=dict)
    detector: dict[str, Any] = field(default_factory=dict)
    total_boundary_length_px: float | None = None
    sr_shape: list[int] = field(default_factory=list)
    pixel_size_um: float | None = None
    search_pixel_size_um: float | None = None
    created: str = field(default_factory=_now)
    modified: str = field(default_factory=_now)
    log: list[dict[str, Any]] = field(default_factory=list)
    log_rebuilt: bool = False
    path: Path | None = None
    #: SHA-256 of the file at :attr:`path` as this session last read or wrote it: a save
    #: over a file another program changed since then is refused (its work would be lost)
    _file_digest: str | None = field(default=None, init=False, repr=False, compare=False)
    #: Where the last :meth:`save` kept the reviewed session of another run it replaced
    #: (:func:`replaced_session_path`), else None
    kept_replaced: Path | None = field(default=None, init=False, repr=False, compare=False)
    #: Where the last :meth:`save` kept the session's CSV log it replaced when another
    #: program had changed it (an editor, a spreadsheet: ``PATH.csv.<digest>.bak``),
    #: else None
    kept_csv: Path | None = field(default=None, init=False, repr=False, compare=False)
    #: (the file's :class:`_FileSaves`, save number) of this session's last :meth:`save`
    #: (:meth:`is_last_save`)
    _last_save: tuple[_FileSaves, int] | None = field(default=None, init=False, repr=False,
                                               compare=False)
    #: What :meth:`load` changed in :attr:`images`: one line per image found elsewhere
    #: than its recorded path (moved with the session); empty when nothing moved
    relocated: list[str] = field(default_factory=list, init=False, repr=False,
                                 compare=False)

    # ------------------------------------------------------------------ creation
    @classmethod
    def create(cls, lr, sr, candidates, *, reviewer: str = "", lr_path=None, sr_path=None,
               sr_model: dict | None = None, pixel_size_um: float | None = None
               ) -> AuditSession:
        """Start a session for an image pair.

        Parameters
        ----------
        lr, sr : array-like or path-like
            The images (arrays are hashed as arrays, paths as files).
        candidates : list of Candidate
            Detector output (a :class:`~napari_srmat.audit.detector.CandidateList`
            also provides the detector settings and total boundary length).
        reviewer : str
            Reviewer name.
        lr_path, sr_path : path-like, optional
            Files the arrays came from (recorded for reports).
        sr_model : dict, optional
            ``{"name": ..., "settings": {...}}``.
        pixel_size_um : float, optional
            SR pixel size; default the one ``sr`` records (a
            :class:`~napari_srmat.io.Micrograph` or a file with square pixels), else
            unknown (the report then gives densities per megapixel).
        """
        from ..io import check_pixel_size

        pixel_size_um = check_pixel_size(pixel_size_um)
        images = {}
        for key, arr, pth in (("lr", lr, lr_path), ("sr", sr, sr_path)):
            if isinstance(arr, str | os.PathLike):
                pth = arr if pth is None else pth
            arr, px = _image_pixels(arr, key)
            if key == "sr" and pixel_size_um is None:
                pixel_size_um = px  # the SR file's own (square pixels only), else unknown
            images[key] = {"sha256": checksum(arr), "shape": [int(s) for s in arr.shape],
                           "path": None if pth is None else str(Path(pth).resolve())}
        sr_shape = images["sr"]["shape"][:2]
        found_on = [int(v) for v in getattr(candidates, "sr_shape", ()) or ()]
        if any(found_on) and found_on != sr_shape:  # a CandidateList of another image
            raise ValueError(
                f"the candidates were found on an SR image of {found_on[0]} x {found_on[1]} "
                f"px, not on this one ({sr_shape[0]} x {sr_shape[1]} px): give the SR image "
                "the search ran on")
        scale = int(getattr(candidates, "scale", 0) or
                    max(1, sr_shape[0] // max(1, images["lr"]["shape"][0])))
        cands = sorted(candidates, key=lambda c: -c.score)
        return cls(reviewer=reviewer, images=images, scale=scale, candidates=list(cands),
                   sr_model=dict(sr_model or {}),
                   detector=dict(getattr(candidates, "params", {}) or {}),
                   total_boundary_length_px=getattr(candidates, "total_boundary_length_px",
                                                    None),
                   sr_shape=list(sr_shape), pixel_size_um=pixel_size_um,
                   search_pixel_size_um=pixel_size_um)

    # --------------------------------------------------------------- reviewing
    @property
    def n_reviewed(self) -> int:
        ids = {c.id for c in self.candidates}
        return sum(1 for k in self.decisions if k in ids)

    @property
    def current(self) -> Candidate | None:
        if not self.candidates:
            return None
        return self.candidates[min(max(self.position, 0), len(self.candidates) - 1)]

    def progress_text(self) -> str:
        """E.g. ``"3/12 reviewed"``."""
        return f"{self.n_reviewed}/{len(self.candidates)} reviewed"

    def go(self, position: int) -> Candidate | None:
        """Move to queue index ``position`` (clamped) and return that candidate."""
        if self.candidates:
            self.position = min(max(int(position), 0), len(self.candidates) - 1)
        return self.current

    def next(self) -> Candidate | None:
        return self.go(self.position + 1)

    def previous(self) -> Candidate | None:
        return self.go(self.position - 1)

    def next_unreviewed(self) -> Candidate | None:
        """Move to the first undecided candidate after the current one (wrapping)."""
        n = len(self.candidates)
        for k in range(1, n + 1):
            i = (self.position + k) % n
            if self.candidates[i].id not in self.decisions:
                return self.go(i)
        return self.current

    def decide(self, verdict: str, *, candidate_id: int | None = None, note: str = "",
               reviewer: str | None = None, advance: bool = True,
               save: bool = True) -> Decision:
        """Record a verdict on a candidate (default: the current one) and save.

        Parameters
        ----------
        verdict : {"real", "hallucinated", "unsure"}
        candidate_id : int, optional
            Defaults to the current candidate. Read by :func:`~napari_srmat.audit.
            detector.check_id`: text is read as a number (``"7"``, the ``id`` of a row of
            the session CSV); ``7.5`` or ``True`` is refused (``ValueError``).
        note : str
            Free-text note.
        reviewer : str, optional
            Defaults to :attr:`reviewer`.
        advance : bool
            Move to the next candidate afterwards.
        save : bool
            Save to :attr:`path` (when set) after the decision.
        """
        if candidate_id is None:
            cur = self.current
            if cur is None:
                raise ValueError("the candidate queue is empty")
            candidate_id = cur.id
        # a number, as the session file's ids are read ("7" of a CSV row is 7; 7.5 and
        # True are refused, never another candidate's verdict)
        number = check_id(candidate_id, "candidate_id")
        if number not in {c.id for c in self.candidates}:
            raise ValueError(f"no candidate with id {candidate_id}")
        candidate_id = number
        d = Decision(verdict=verdict, reviewer=self.reviewer if reviewer is None else reviewer,
                     note=note)
        before, position = self.decisions.get(candidate_id), self.position
        self.decisions[candidate_id] = d
        self.log.append(_verdict_entry(candidate_id, d))
        if advance:
            self.next()
        if save and self.path is not None:
            try:
                self.save(self.path)
            except BaseException:
                # not saved: not recorded, and the queue stays on the candidate (the next
                # verdict would otherwise go to one the reviewer never saw)
                if before is None:
                    del self.decisions[candidate_id]
                else:
                    self.decisions[candidate_id] = before
                self.log.pop()
                self.position = position
                raise
        return d

    def undo(self, candidate_id: int | None = None, *, reviewer: str | None = None,
             save: bool = True) -> Decision:
        """Undo a verdict given by mistake: the candidate's latest verdict not undone is
        taken back, and the verdict it had before (or none: unreviewed again) is its
        decision again; the queue moves to it (:attr:`current`) and the session is saved.

        Nothing is erased: the log keeps the verdict and records its undo as an entry of
        its own (``"undo"``, signed by ``reviewer``, default :attr:`reviewer`); the
        report and the CSV list the verdict undone among the candidate's earlier ones.
        To change a verdict instead, give another (:meth:`decide`). A session file with
        an undo is written as :data:`UNDO_SCHEMA_VERSION`.

        Parameters
        ----------
        candidate_id : int, optional
            Default: the candidate whose standing verdict was given last, so that
            repeated calls undo the verdicts in the reverse order they were given.
        reviewer : str, optional
            Defaults to :attr:`reviewer`.
        save : bool
            Save to :attr:`path` (when set) afterwards; a failed save undoes nothing.

        Returns
        -------
        Decision
            The verdict undone.

        Raises
        ------
        ValueError
            No verdict to undo (on that candidate, or at all), or no such candidate.

        Examples
        --------
        >>> from napari_srmat.audit import AuditSession, Candidate
        >>> s = AuditSession(candidates=[Candidate(i, [0, 0, 2, 2], 1.0, "new_boundary",
        ...                                        2.0) for i in (1, 2)])
        >>> _ = s.decide("real"); _ = s.decide("hallucinated")
        >>> s.undo().verdict, s.current.id, sorted(s.decisions)
        ('hallucinated', 2, [1])
        """
        standing = self._standing_verdicts()
        if candidate_id is None:
            tops = {id(v[-1]) for v in standing.values() if v}
            last = next((e for e in reversed(self.log) if id(e) in tops), None)
            if last is None:
                raise ValueError("no verdict to undo")
            number = last["candidate"]
        else:
            number = check_id(candidate_id, "candidate_id")
            if not standing.get(number):
                known = number in {c.id for c in self.candidates}
                raise ValueError(f"candidate {candidate_id} has no verdict to undo" if known
                                 else f"no candidate with id {candidate_id}")
        undone = standing[number][-1]
        entry = _undo_entry(number, undone["verdict"],
                            self.reviewer if reviewer is None else reviewer, _now())
        before, position = self.decisions.get(number), self.position
        _replay_verdict(standing, entry)
        if standing[number]:
            self.decisions[number] = _decision_of(standing[number][-1])
        else:
            self.decisions.pop(number, None)
        self.log.append(entry)
        index = next((i for i, c in enumerate(self.candidates) if c.id == number), None)
        if index is not None:
            self.go(index)
        if save and self.path is not None:
            try:
                self.save(self.path)
            except BaseException:
                # not saved: not undone, the queue where it was
                if before is None:
                    self.decisions.pop(number, None)
                else:
                    self.decisions[number] = before
                self.log.pop()
                self.position = position
                raise
        return _decision_of(undone)

    def _standing_verdicts(self) -> dict[int, list[dict[str, Any]]]:
        """Candidate id -> its verdict entries of :attr:`log` not undone, oldest first
        (:func:`_replay_verdict`)."""
        return {k: v[1] for k, v in self._verdict_entries().items()}

    def _verdict_entries(self, candidate_id: int | None = None) -> dict[int, tuple[
            list[dict[str, Any]], list[dict[str, Any]], dict[int, dict[str, Any]]]]:
        """Candidate id -> (its verdict entries of :attr:`log`, those not undone, the
        ``"undo"`` entry that undid each other one by ``id`` of its verdict entry), oldest
        first, in one pass over the log (:func:`_replay_verdict`); only
        ``candidate_id``'s when given."""
        history: dict[int, list[dict[str, Any]]] = {}
        standing: dict[int, list[dict[str, Any]]] = {}
        undone_by: dict[int, dict[int, dict[str, Any]]] = {}
        for e in self.log:
            if e["action"] in ("verdict", "undo") and candidate_id in (None, e["candidate"]):
                if e["action"] == "verdict":
                    history.setdefault(e["candidate"], []).append(e)
                undone = _replay_verdict(standing, e)
                if undone is not None:
                    undone_by.setdefault(e["candidate"], {})[id(undone)] = e
        return {k: (history.get(k, []), v, undone_by.get(k, {}))
                for k, v in standing.items()}

    def recalibrate(self, pixel_size_um: float | None, *, save: bool = True,
                    reviewer: str | None = None) -> bool:
        """Take the SR pixel size the image has now (calibrated anew since the search:
        the Audit widget follows its SR layer), record the change in :attr:`log`
        (``"recalibrate"``, signed by ``reviewer``, default :attr:`reviewer`; the report
        lists it) and save it to :attr:`path` (when set and ``save``); a failed save keeps
        the previous size and records nothing. The candidates are in SR pixels: only
        :attr:`pixel_size_um`, read by the report's µm and mm², changes
        (:attr:`search_pixel_size_um` keeps the search's, which the report names).

        Returns
        -------
        bool
            Whether the pixel size changed.
        """
        from ..io import check_pixel_size

        px = check_pixel_size(pixel_size_um)
        before = self.pixel_size_um
        if px == before:
            return False
        self.pixel_size_um = px
        self.log.append(_recalibrate_entry(px, before,
                                           self.reviewer if reviewer is None else reviewer,
                                           _now()))
        if save and self.path is not None:
            try:
                self.save(self.path)
            except BaseException:
                self.pixel_size_um = before
                self.log.pop()
                raise
        return True

    def pixel_size_changes(self) -> list[dict[str, Any]]:
        """The log's changes of the SR pixel size (:meth:`recalibrate`), oldest first:
        ``{"action": "recalibrate", "pixel_size_um", "previous_pixel_size_um",
        "reviewer", "timestamp"}``.

        Examples
        --------
        >>> from napari_srmat.audit import AuditSession
        >>> s = AuditSession(pixel_size_um=0.25, reviewer="ana")
        >>> s.recalibrate(0.125)
        True
        >>> [(e["previous_pixel_size_um"], e["pixel_size_um"], e["reviewer"])
        ...  for e in s.pixel_size_changes()]
        [(0.25, 0.125, 'ana')]
        """
        return [e for e in self.log if e["action"] == "recalibrate"]

    def pixel_size_followed(self, pixel_size_um: float | None, *,
                            square: bool = True) -> float | None:
        """The one rule for the SR pixel size the session measures in when its SR image
        is seen again with its calibration now (its layer in the Audit widget,
        :func:`~napari_srmat.widgets.layers.audit_pixel_size_on_layer`; its file in a
        report, :func:`~napari_srmat.audit.report.sr_file_pixel_size`): the image's
        ``pixel_size_um``; None for pixels that are not square (``square`` False: no one
        size, lengths in px); :attr:`pixel_size_um` (recorded) while the image has no
        calibration at all. The size is not checked here: :meth:`recalibrate` and the
        report do (the widget names its layer).

        Examples
        --------
        >>> from napari_srmat.audit import AuditSession
        >>> s = AuditSession(pixel_size_um=0.25)
        >>> s.pixel_size_followed(0.125), s.pixel_size_followed(None)
        (0.125, 0.25)
        >>> s.pixel_size_followed(None, square=False) is None
        True
        """
        if not square:
            return None
        return self.pixel_size_um if pixel_size_um is None else pixel_size_um

    def verdict_history(self, candidate_id: int) -> list[dict[str, Any]]:
        """The log's verdicts on candidate ``candidate_id``, oldest first (the last one is
        :attr:`decisions`' own)."""
        number = check_id(candidate_id, "candidate_id")
        return [e for e in self.log if e["action"] == "verdict" and e["candidate"] == number]

    def earlier_verdicts(self, candidate_id: int) -> list[str]:
        """The verdicts the log shows were given on a candidate besides its current one,
        as ``verdict (reviewer, time)``, oldest first, a verdict undone (:meth:`undo`)
        as ``verdict (reviewer, time; undone by reviewer, time)``; none when its verdict
        never changed (the same verdict given again, a note edited, is no change) and none
        was undone.
        The report's "changed; earlier:" and the CSV's ``earlier_verdicts``."""
        return _earlier_words(self._earlier_entries(candidate_id))

    def changed_verdicts(self) -> dict[int, list[str]]:
        """:meth:`earlier_verdicts` of every candidate that has some, by candidate id,
        read in one pass over the log (the report's table and ``verdicts_changed``: a
        call per candidate read the log once each, 1.2 s for 2000 candidates).

        Returns
        -------
        dict of int to list of str
            Candidate id -> its earlier verdicts' words (:meth:`earlier_verdicts`), for
            the candidates that have some (a verdict changed or undone).

        Examples
        --------
        >>> from napari_srmat.audit import AuditSession, Candidate
        >>> s = AuditSession(candidates=[Candidate(1, [0, 0, 2, 2], 1.0, "new_boundary",
        ...                                        2.0)], reviewer="ana")
        >>> _ = s.decide("hallucinated"); _ = s.undo()
        >>> ["; undone by ana, " in text for text in s.changed_verdicts()[1]]
        [True]
        """
        return {k: words for k, (words, _) in self.verdict_changes().items()}

    def verdict_changes(self) -> dict[int, tuple[list[str], bool]]:
        """Candidate id -> (:meth:`earlier_verdicts`, whether its verdict changed) of
        every candidate that has earlier verdicts, in one pass over the log. Changed: an
        earlier verdict not undone differs from its current one (hallucinated, undone,
        hallucinated again is no change; unreviewed again is none).

        Returns
        -------
        dict of int to (list of str, bool)
            Candidate id -> (its earlier verdicts' words, whether its verdict changed),
            for the candidates that have earlier verdicts.

        Examples
        --------
        >>> from napari_srmat.audit import AuditSession, Candidate
        >>> s = AuditSession(candidates=[Candidate(1, [0, 0, 2, 2], 1.0, "new_boundary",
        ...                                        2.0)], reviewer="ana")
        >>> _ = s.decide("hallucinated"); _ = s.undo(); _ = s.decide("hallucinated")
        >>> s.verdict_changes()[1][1]
        False
        """
        entries = self._verdict_entries()
        changes = {}
        for k in entries:
            earlier = self._earlier_entries(k, entries)
            if earlier:
                d = self.decisions.get(k)
                changes[k] = (_earlier_words(earlier), d is not None and any(
                    u is None and e["verdict"] != d.verdict for e, u in earlier))
        return changes

    @property
    def has_undo(self) -> bool:
        """Whether the log holds an undo (:meth:`undo`): the file's version is then
        :data:`UNDO_SCHEMA_VERSION`, and the report speaks of verdicts undone.

        Returns
        -------
        bool
            True when an ``"undo"`` entry is in :attr:`log` (a property: read, not
            called).
        """
        return any(e["action"] == "undo" for e in self.log)

    def _earlier_entries(self, candidate_id: int, entries: dict | None = None
                         ) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
        """The log entries of :meth:`earlier_verdicts` (its one rule: none when the
        verdict never changed and none was undone), oldest first, each with the
        ``"undo"`` entry that undid it (None: not undone); ``entries``:
        :meth:`_verdict_entries` of every candidate, when read once for all of them (the
        CSV)."""
        number = check_id(candidate_id, "candidate_id")
        if entries is None:
            entries = self._verdict_entries(number)
        history, standing, undone_by = entries.get(number, ([], [], {}))
        if not undone_by and len({e["verdict"] for e in history}) < 2:
            return []
        current = standing[-1] if standing else None
        return [(e, undone_by.get(id(e))) for e in history if e is not current]

    def add_region(self, bbox, *, verdict: str = "hallucinated", note: str = "",
                   length_px: float | None = None, reviewer: str | None = None,
                   save: bool = True) -> AddedRegion:
        """Add a region the detector missed (``bbox`` ``[x0, y0, x1, y1]``, SR pixels).

        The box is clipped to the SR image; one with no area inside it is refused
        (``ValueError``): its bbox diagonal would count as hallucinated length.
        """
        bbox = bbox_coordinates(bbox, "region bbox")  # 7.5 is refused, not cut to 7
        if len(self.sr_shape) == 2:
            h, w = (int(v) for v in self.sr_shape)
            clipped = [min(max(bbox[0], 0), w), min(max(bbox[1], 0), h),
                       min(max(bbox[2], 0), w), min(max(bbox[3], 0), h)]
            if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
                raise ValueError(f"region {bbox} ([x0, y0, x1, y1], SR px) has no area inside "
                                 f"the SR image ({h} x {w} px): draw it over the image")
            bbox = clipped
        same = next((r for r in self.added_regions if r.bbox == bbox), None)
        if same is not None:  # a second click on the button: counted twice
            raise ValueError(f"region {bbox} is already added (r{same.id}): draw another "
                             f"rectangle, or remove r{same.id} first")
        new_id = max([r.id for r in self.added_regions], default=0) + 1
        r = AddedRegion(id=new_id, bbox=list(bbox), verdict=verdict, note=note,
                        length_px=length_px,
                        reviewer=self.reviewer if reviewer is None else reviewer)
        self.added_regions.append(r)
        self.log.append({"action": "add_region", **r.to_dict()})
        if save and self.path is not None:
            try:
                self.save(self.path)
            except BaseException:
                self.added_regions.remove(r)  # not saved: not added (a retry adds it once)
                self.log.pop()
                raise
        return r

    def remove_region(self, region_id: int | None = None, *, reviewer: str | None = None,
                      save: bool = True) -> AddedRegion:
        """Remove an added region (default: the last one added) and save; the log keeps
        it, and records who removed it (``reviewer``, default :attr:`reviewer`).

        Raises ``ValueError`` when there is none (or no region ``region_id``); a failed
        save keeps the region.
        """
        if not self.added_regions:
            raise ValueError("no added region to remove")
        if region_id is None:
            r = self.added_regions[-1]
        else:
            number = check_id(region_id, "region_id")
            r = next((x for x in self.added_regions if x.id == number), None)
            if r is None:
                raise ValueError(f"no added region r{region_id}")
        i = self.added_regions.index(r)
        del self.added_regions[i]
        self.log.append({"action": "remove_region", "region": r.id,
                         "reviewer": self.reviewer if reviewer is None else reviewer,
                         "timestamp": _now()})
        if save and self.path is not None:
            try:
                self.save(self.path)
            except BaseException:
                self.added_regions.insert(i, r)
                self.log.pop()
                raise
        return r

    # ------------------------------------------------- saves in another thread
    def holds_images(self, lr, sr) -> bool:
        """Whether arrays ``lr`` and ``sr`` are the session's audited images: their
        :func:`checksum` (every pixel) is the one the session recorded for each (the rule
        :meth:`load` checks given images by).

        Parameters
        ----------
        lr, sr : array-like
            The LR scan and its SR image (any array :func:`checksum` reads).

        Returns
        -------
        bool
            True when both checksums are the recorded ones (False for a session that
            recorded none).

        Examples
        --------
        >>> import numpy as np
        >>> from napari_srmat.audit import AuditSession
        >>> lr, sr = np.zeros((4, 4), np.uint8), np.ones((8, 8), np.uint8)
        >>> s = AuditSession.create(lr, sr, [])
        >>> s.holds_images(lr, sr), s.holds_images(lr, sr * 2)
        (True, False)
        """
        return all(checksum(img) == self.images.get(key, {}).get("sha256")
                   for key, img in (("lr", lr), ("sr", sr)))

    def snapshot(self) -> AuditSession:
        """A copy of this session as it is now: saved in another thread while this one
        takes further records (the Audit widget saves in a worker), or kept to put its
        review back (:meth:`restore`). Its lists and dicts are copies; the records in
        them (never changed in place) are shared.

        Examples
        --------
        >>> from napari_srmat.audit import AuditSession, Candidate
        >>> s = AuditSession(candidates=[Candidate(1, [0, 0, 2, 2], 1.0, "new_boundary", 2.0)])
        >>> copy = s.snapshot()
        >>> _ = s.decide("real")
        >>> s.decisions.keys(), copy.decisions.keys()
        (dict_keys([1]), dict_keys([]))
        """
        snap = _copy.copy(self)
        for name in _REVIEW_CONTAINERS:
            setattr(snap, name, _copy.copy(getattr(self, name)))
        snap.candidates = list(self.candidates)
        snap.relocated = list(self.relocated)
        return snap

    def restore(self, snapshot: AuditSession) -> None:
        """Put back the review :meth:`snapshot` copied (the records a failed save held are
        not recorded, as :meth:`decide` does with its own save); what this session knows
        of its file (its last save) is kept."""
        for name in _REVIEW_FIELDS:
            setattr(self, name, _copy.copy(getattr(snapshot, name)))

    def took_save(self, saved: AuditSession) -> None:
        """Take what the save of ``saved`` (a :meth:`snapshot` of this session, saved in
        another thread) learnt of the file: its path and digest (a later save is not
        refused as a file changed by another program), its save's place in the file's
        saves (:meth:`is_last_save`), the copies it kept."""
        for name in ("path", "modified", "_file_digest", "_last_save", "kept_replaced",
                     "kept_csv"):
            setattr(self, name, getattr(saved, name))

    # ----------------------------------------------------------- persistence
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            # the lowest version that reads the log: older readers refuse an entry they
            # do not know as a version they do not read
            "schema_version": (
                UNDO_SCHEMA_VERSION if self.has_undo
                else RECALIBRATE_SCHEMA_VERSION if self.pixel_size_changes()
                else SCHEMA_VERSION),
            "reviewer": self.reviewer,
            "created": self.created,
            "modified": self.modified,
            "images": self.images,
            "scale": self.scale,
            "sr_shape": self.sr_shape,
            # the order of every bbox below (a rescan plan's is another: roi_order)
            "bbox_order": list(BBOX_ORDER),
            "pixel_size_um": self.pixel_size_um,
            # the size at the candidate search: pixel_size_um follows the SR image since
            "search_pixel_size_um": self.search_pixel_size_um,
            "sr_model": self.sr_model,
            "detector": self.detector,
            "total_boundary_length_px": self.total_boundary_length_px,
            "position": self.position,
            "candidates": [c.to_dict() for c in self.candidates],
            "decisions": {str(k): v.to_dict() for k, v in sorted(self.decisions.items())},
            "added_regions": [r.to_dict() for r in self.added_regions],
            "log": self.log,
            "log_rebuilt": self.log_rebuilt,
        }

    def to_csv(self) -> str:
        """One row per candidate and added region with its verdict (:data:`CSV_HEADER`),
        and a candidate's earlier verdicts when it changed."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(CSV_HEADER)
        entries = self._verdict_entries()  # one pass over the log for every candidate
        for rank, c in enumerate(self.candidates, 1):
            d = self.decisions.get(c.id)
            w.writerow(["detector", c.id, rank, *c.bbox, f"{c.score:.4f}", c.kind,
                        f"{c.new_boundary_length_px:.1f}", d.verdict if d else "",
                        d.reviewer if d else "", d.note if d else "",
                        d.timestamp if d else "", self._earlier_verdicts_cell(c.id, entries)])
        for r in self.added_regions:
            w.writerow(["reviewer", r.id, "", *r.bbox, "", "added",
                        f"{r.estimated_length_px:.1f}", r.verdict, r.reviewer, r.note,
                        r.timestamp, ""])
        return buf.getvalue()

    def _earlier_verdicts_cell(self, candidate_id: int, entries: dict | None = None) -> str:
        """The CSV's ``earlier_verdicts`` cell of a candidate (:data:`CSV_HEADER`): the
        verdicts of :meth:`earlier_verdicts` as a JSON list of ``{"verdict", "reviewer",
        "timestamp"}``, a verdict undone with ``"undone": true, "undone_by", "undone_at"``
        (who undid it, when); empty when the verdict never changed."""
        earlier = self._earlier_entries(candidate_id, entries)
        if not earlier:
            return ""
        return json.dumps([{**{k: e[k] for k in _EARLIER_FIELDS},
                            **({"undone": True, "undone_by": u["reviewer"],
                                "undone_at": u["timestamp"]} if u else {})}
                           for e, u in earlier], ensure_ascii=False)

    def kept_csv_note(self) -> str | None:
        """The line that says where the last :meth:`save` kept the CSV log another
        program had re-saved (:attr:`kept_csv`); None when it kept none."""
        if self.kept_csv is None:
            return None
        return (f"the CSV log {self.kept_csv.name.rsplit('.', 2)[0]} had been re-saved "
                f"by another program (a spreadsheet?); it is kept as {self.kept_csv.name}")

    def save(self, path=None) -> Path:
        """Save atomically as JSON (+ CSV beside it); the previous JSON becomes ``PATH.bak``.

        A file this session did not write last (another session's: a new search over a
        reviewed session, a session saved over another) that holds a review
        (:func:`holds_review`, the one rule: a decision, an added region or any log
        entry, so one whose verdicts were all undone) is also kept as
        :func:`replaced_session_path` (``PATH.<created>.bak``),
        which no later save replaces; :attr:`kept_replaced` then names it. It is not
        also kept as ``PATH.bak`` (until s51 both held the same bytes): the ``PATH.bak``
        before goes (a review in it is kept under its own name too) and the next save
        makes a new one. A CSV log that
        is not the one napari-srmat saved with the JSON at ``path`` (its SHA-256 is
        recorded in the JSON, :data:`CSV_DIGEST_KEY`; for a JSON saved before that
        record, the CSV it renders; or the one recorded by the save before, ``PATH.bak``,
        which a save killed between the JSON and the CSV leaves): edited in a text editor
        or a spreadsheet, re-saved by Excel (BOM, CRLF, ``;``; still the session's own),
        is kept as
        ``PATH.csv.<digest>.bak`` before it is written anew; :attr:`kept_csv` names it
        (:meth:`kept_csv_note`). An unchanged CSV is not copied.

        Parameters
        ----------
        path : path-like, optional
            Defaults to :attr:`path`.

        Returns
        -------
        Path
            The JSON path.
        """
        path = Path(path if path is not None else self.path or "")
        entry = _file_saves(path)
        with entry.lock:
            saved = self._save_at(path)
            entry.last = next(_SAVE_NUMBERS)
            self._last_save = (entry, entry.last)
            return saved

    def is_last_save(self, path) -> bool:
        """Whether this session's last :meth:`save` is the last save this process made of
        the file at ``path``: False when another session was saved there since (a session
        with no file of its own, or a new one, is not refused by a file it did not write),
        or when this one never saved there.

        Parameters
        ----------
        path : path-like
            The session file.

        Returns
        -------
        bool
            True when no other save of ``path`` followed this session's.
        """
        entry = _file_saves(path)
        with entry.lock:
            return (self._last_save is not None and self._last_save[0] is entry
                    and self._last_save[1] == entry.last)

    def _save_at(self, path: Path) -> Path:
        """:meth:`save` to ``path``, under its :func:`_file_saves` lock."""
        from ..outputs import check_output_location

        check_session_path(path)
        check_output_location(path)
        csv_path = check_session_files(path)
        if (self._file_digest is not None and self.path is not None and path.exists()
                and path.absolute() == Path(self.path).absolute()
                and _digest(path.read_bytes()) != self._file_digest):
            raise AuditFileError(
                f"{path} was changed by another program (another napari window, a second "
                "reviewer, srmat audit candidates) since this session read or saved it; "
                "saving would replace its decisions: load it again, or save this session "
                "to another file")
        path.parent.mkdir(parents=True, exist_ok=True)
        modified, self.modified = self.modified, _now()
        try:
            # serialise first: fail before touching
            csv_text = self.to_csv()
            csv_digest = _digest(csv_text.encode("utf-8"))
            text = json.dumps({**_with_relative_paths(self.to_dict(), path),
                               CSV_DIGEST_KEY: csv_digest}, indent=2)
        except BaseException:
            self.modified = modified
            raise
        self.kept_replaced = self.kept_csv = None
        old = path.read_bytes() if path.exists() else None
        if csv_path.exists():
            previous_csv = csv_path.read_bytes()
            # ours: the CSV recorded by the JSON at PATH, or by the save before it
            # (PATH.bak: a save killed between the JSON and the CSV left that one), in
            # that order: PATH.bak is read and parsed only when the CSV is not PATH's
            # (a save per verdict finds it at PATH)
            bak = previous_save_path(path)
            found = _digest(previous_csv)
            if found != csv_digest and found != _written_csv_digest(old) and found != (
                    _written_csv_digest(bak.read_bytes() if bak.exists() else None)):
                # not the CSV napari-srmat saved with the session at PATH (edited in a
                # text editor or a spreadsheet, re-saved by Excel): it may hold the
                # reviewer's edits, which the CSV written from the session lacks
                self.kept_csv = _keep_replaced(csv_path, previous_csv)
        if old is not None:
            ours = (self._file_digest is not None and self.path is not None
                    and path.absolute() == Path(self.path).absolute()
                    and _digest(old) == self._file_digest)
            old_kept = None
            if not ours and _holds_review(old):
                # another session's reviewed file (a new search, --overwrite, a session
                # saved over another): kept under its own name, which later saves never
                # rotate (the .bak would be this session's previous save at its first
                # decision, and the review gone)
                old_kept = self.kept_replaced = _keep_replaced(path, old)
            bak = previous_save_path(path)
            if bak.exists():
                previous = bak.read_bytes()
                if _holds_review(previous) and not _is_earlier_save(previous, self):
                    # another session's review (one saved as PATH.bak): kept under its
                    # own name first (the one it was kept under when it was replaced
                    # at PATH, if it was: no second copy), not replaced by this rotation
                    kept = _keep_replaced(path, previous)
                    self.kept_replaced = self.kept_replaced or kept
            try:
                if old_kept is not None:
                    # kept under its own name: no second copy of it as PATH.bak (until
                    # s51 both held the same bytes); the .bak before goes (a review in
                    # it was kept under its own name just above)
                    bak.unlink(missing_ok=True)
                else:
                    tmp = bak.with_name(f".{bak.name}.tmp")
                    try:
                        shutil.copy2(path, tmp)
                        os.replace(tmp, bak)
                    finally:
                        tmp.unlink(missing_ok=True)
            except BaseException:
                self.modified = modified
                raise
        try:
            atomic_write_text(path, text)
            try:
                atomic_write_text(csv_path, csv_text)
            except BaseException:
                # the CSV log could not be written (open in another program, disk full):
                # the JSON goes back to what it was, so the save is all or nothing
                if old is None:
                    path.unlink(missing_ok=True)
                else:
                    atomic_write_bytes(path, old)
                raise
        except BaseException:
            self.modified = modified
            raise
        self.path, self._file_digest = path, _digest(text.encode("utf-8"))
        return path

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str = "<dict>",
                  _lines: dict[int, int] | None = None) -> AuditSession:
        """Build a session from its JSON dictionary; :class:`AuditFileError` when invalid,
        in one line naming ``source``, the entry (``log entry 3: ``) and the value
        refused (``_lines``: the line of each of ``d``'s objects by ``id()``,
        :func:`_decode_located`, adds the entry's line: :meth:`load`)."""
        if not isinstance(d, dict) or d.get("schema") != SCHEMA:
            raise AuditFileError(f"{source}: not an audit session file (schema != {SCHEMA!r})")
        ver = d.get("schema_version")
        if ver not in READ_VERSIONS or isinstance(ver, bool):
            raise AuditFileError(
                f"{source}: unsupported schema_version {ver!r} (this version reads "
                f"{', '.join(map(str, READ_VERSIONS))})")
        from ..errors import check_number
        from ..io import check_pixel_size

        entry = _Entry()
        try:
            cands = [Candidate.from_dict(c) for c in entry.each(d["candidates"], "candidate")]
            marked = d.get("decisions", {})
            if not isinstance(marked, dict):
                raise ValueError("decisions must be an object of candidate id: verdict, "
                                 f"got {type(marked).__name__}")
            decisions = {check_id(k, "decision id"): Decision(**v) for v, k in
                         zip(entry.each(list(marked.values()), "decision"), marked)}
            regions = [AddedRegion(**r)
                       for r in entry.each(d.get("added_regions", []), "added region")]
            images = d["images"]
            for key in ("lr", "sr"):
                if not str(images[key]["sha256"]).startswith("sha256:"):
                    raise ValueError(f"bad checksum for {key}")
                for name in ("path", "relative_path"):  # looked for by load, the report
                    if not isinstance(images[key].get(name) or "", str):
                        raise ValueError(f"the {key} image's {name} must be text, got "
                                         f"{images[key][name]!r}")
            sr_shape = list(d.get("sr_shape") or images["sr"]["shape"][:2])
            if len(sr_shape) != 2:
                raise ValueError(f"sr_shape must be [height, width], got {sr_shape!r}")
            sr_shape = [check_number("sr_shape", v, lo=1, integer=True) for v in sr_shape]
            order = d.get("bbox_order", list(BBOX_ORDER))  # files before 2026-12-05: none
            if order != list(BBOX_ORDER):  # not read in another order than it says
                raise ValueError(f"bbox_order must be {list(BBOX_ORDER)} (this version "
                                 f"writes and reads no other), got {order!r}")
            for what, key, boxed in (("candidate", "candidates", cands),
                                     ("added region", "added_regions", regions)):
                # inside the image, as the detector and add_region write (their order
                # and numbers: checked as each was built); each() first: its end says
                # no entry is read any more
                for _, b in zip(entry.each(d.get(key, []), what), boxed):
                    check_bbox_inside(b.bbox, f"{what.split()[-1]} {b.id} bbox", sr_shape)
            length = d.get("total_boundary_length_px")
            s = cls(reviewer=str(d.get("reviewer", "")), images=images,
                    scale=check_number("scale", d.get("scale", 1), lo=1, integer=True),
                    candidates=cands, decisions=decisions, added_regions=regions,
                    position=check_number("position", d.get("position", 0), lo=0,
                                          integer=True),
                    sr_model=dict(d.get("sr_model") or {}),
                    detector=dict(d.get("detector") or {}),
                    total_boundary_length_px=None if length is None else check_number(
                        "total_boundary_length_px", length, lo=0),
                    sr_shape=sr_shape,
                    pixel_size_um=check_pixel_size(d.get("pixel_size_um")),
                    # absent in files before 2026-12-05: unknown
                    search_pixel_size_um=check_pixel_size(d.get("search_pixel_size_um")),
                    created=str(d.get("created", _now())),
                    modified=str(d.get("modified", _now())))
            if ver == 1:  # current verdicts only: the log starts from them
                s.log = _rebuilt_log(decisions, regions)
                s.log_rebuilt = bool(s.log)
            else:
                s.log = _checked_log(d["log"], decisions, regions, entry, s.pixel_size_um)
                s.log_rebuilt = d.get("log_rebuilt", False)
                if not isinstance(s.log_rebuilt, bool):  # "false" is no false
                    raise ValueError(f"log_rebuilt must be true or false, got "
                                     f"{s.log_rebuilt!r}")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            line = None if entry.what is None else (_lines or {}).get(id(entry.value))
            where = "" if line is None else f", line {line}"
            raise AuditFileError(f"{source}{where}: malformed audit session: "
                                 f"{entry.words()}{exc}") from exc
        ids = {c.id for c in cands}
        if len(ids) != len(cands):
            raise AuditFileError(f"{source}: duplicate candidate ids")
        unknown = set(decisions) - ids
        if unknown:
            raise AuditFileError(f"{source}: decisions for unknown candidates {sorted(unknown)}")
        s.go(s.position)
        return s

    @classmethod
    def load(cls, path, *, lr=None, sr=None, lr_path=None, sr_path=None) -> AuditSession:
        """Load a saved session to resume it.

        Parameters
        ----------
        path : path-like
            Session JSON.
        lr, sr : array-like or path-like, optional
            The images being audited; their checksums must match the recorded ones.
        lr_path, sr_path : path-like, optional
            Files the ``lr``/``sr`` arrays came from (as in :meth:`create`).

        Notes
        -----
        An image no longer at its recorded path (moved, with the session or alone) is
        looked for where the session was saved relative to it, then by its file name
        beside the session; a file given as ``lr``/``sr`` (or ``lr_path``/``sr_path``
        with matching arrays) is used as it is. Only a file (or OME-Zarr store)
        with the audited pixels (checksum) is taken. Its path replaces the recorded one
        (written by the next save) and :attr:`relocated` says so; the verdicts are kept.

        Raises
        ------
        AuditFileError
            Corrupt JSON, another schema/version, or mismatched image checksums. The
            file is never modified by a load.
        FileNotFoundError
            When ``path`` does not exist.
        """
        from ..io import cannot_read_message, file_not_found

        path = Path(path)
        try:  # worded as the commands' other file errors (io.cannot_read_message)
            raw = path.read_bytes()
            text = raw.decode("utf-8")
            d = json.loads(text)
        except FileNotFoundError:
            raise file_not_found(path, "audit session") from None
        except UnicodeDecodeError:  # a PNG given as the session
            raise AuditFileError(cannot_read_message(
                path, "audit session", "not JSON text (an audit session is the .json "
                "file srmat audit candidates writes)")) from None
        except (OSError, json.JSONDecodeError) as exc:
            reason = f"not valid JSON ({exc})" if isinstance(exc, ValueError) else exc
            raise AuditFileError(cannot_read_message(path, "audit session", reason)) from exc
        try:
            s = cls.from_dict(d, source=str(path))
        except AuditFileError:
            # refused: read again, telling where each entry lies, to name its line
            located, lines = _decode_located(text)
            cls.from_dict(located, source=str(path), _lines=lines)
            raise
        for key, img, given in (("lr", lr, lr_path), ("sr", sr, sr_path)):
            if img is None:
                continue
            if isinstance(img, str | os.PathLike):
                given = img
            img, _ = _image_pixels(img, key)
            got = checksum(img)
            want = s.images[key]["sha256"]
            if got != want:
                other = "sr" if key == "lr" else "lr"
                if got == s.images[other]["sha256"]:  # the pair chosen the wrong way round
                    raise AuditFileError(
                        f"{path}: LR and SR look swapped: the image given as {key.upper()} "
                        f"is the audited {other.upper()} (same checksum); give the "
                        f"low-resolution scan as LR and its super-resolved image as SR")
                raise AuditFileError(
                    f"{path}: the {key.upper()} image does not match the audited one "
                    f"(checksum {got[:19]}... != recorded {want[:19]}...)")
            if given is not None:  # the audited image itself, wherever it lies now
                s._relocate(key, Path(given), "the image given")
        for key in ("lr", "sr"):
            s._find_moved_image(key, path)
        s.path, s._file_digest = path, _digest(raw)
        return s

    def _relocate(self, key: str, found: Path, how: str) -> None:
        """Record ``found`` (an image file with the audited pixels) as image ``key``'s
        path when its recorded path is not there, with a line in :attr:`relocated`; not
        when ``found`` is not there either (a layer's file deleted since it was opened)."""
        entry = self.images[key]
        recorded = entry.get("path")
        if (recorded and os.path.exists(recorded)) or not found.exists():
            return
        found = found.resolve()
        if recorded and str(found) == recorded:
            return
        entry["path"] = str(found)
        self.relocated.append(
            f"the {key.upper()} image is not at its recorded path "
            f"{recorded or '(none)'}: {found} ({how}, same checksum) is used")

    def _find_moved_image(self, key: str, session_file: Path) -> None:
        """Find image ``key`` moved with the session file: its path relative to the
        session when last saved, else its file name beside the session, if the file
        there holds the audited pixels (checksum)."""
        entry = self.images[key]
        recorded = entry.get("path")
        if not recorded or os.path.exists(recorded):
            return
        folder = _relative_base(session_file)
        tries = [folder / entry["relative_path"]] if entry.get("relative_path") else []
        tries.append(folder / Path(recorded).name)
        for found in dict.fromkeys(tries):
            try:
                # a file, or a folder: an OME-Zarr store
                same = found.exists() and checksum(_image_pixels(found, key)[0]) == \
                    entry["sha256"]
            except Exception:  # noqa: BLE001 - not an image we can read: not it
                same = False
            if same:
                self._relocate(key, found, "found relative to the session file")
                return
