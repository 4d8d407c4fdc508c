"""Hallucination audit widget: review detector candidates one by one.

Keyboard shortcuts (bound on the viewer, for the audit panel you last worked in):

======  ==========================================
r       mark the current candidate **real**
h       mark it **hallucinated**
u       mark it **unsure**
Ctrl+Z  undo the last verdict (its candidate shown)
n       next candidate
p       previous candidate
b       blink: toggle SR / LR-upscaled visibility
======  ==========================================

The keys act when an Image layer is the active layer (the widget keeps the SR layer
active); a Shapes layer in drawing mode uses some of these letters for its own tools.
Which audit panel they act on (the standalone dock and the workbench's Audit tab may both
be open) is told in :class:`AuditWidget`.

Every decision is saved at once, in a worker thread (atomic JSON + CSV, previous version
kept as ``.bak``; a decision whose save fails is put back and told). A verdict given by
mistake is undone with *undo* (Ctrl+Z: the candidate's verdict before, or none, again;
the log keeps both, :meth:`~napari_srmat.audit.AuditSession.undo`). *Write report…*
writes the Markdown report of ``srmat audit report`` in a worker. A saved session can
be resumed with *Load session*. The session file defaults to ``<SR image name>_audit.json``
beside the SR image's file (see :func:`default_session_path`); the field always shows an
absolute path.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import sys
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..audit.detector import LR_CONTROL, SR_CONTROL
from ..audit.session import AuditSession
from ..errors import error_message, is_told_in_one_line
from ..io import LENGTH_UNIT, image_stem
from ._common import sr_world_transform
from ._paths import layer_file, writable_folder
from ._qt import RunNeedsLayersMixin, follow_layer_names
from ._worker import (
    ProgressForwarder,
    ShutDownWhenClosedMixin,
    SingleJobMixin,
    ask_yes_no,
    failed_line,
    qt_alive,
    start_function,
    user_action,
)
from .layers import (
    GEOMETRY_EVENTS,
    CalibrationSeen,
    keep_on_layer,
    keep_own_records,
    kept_on,
)

if TYPE_CHECKING:
    from napari.qt.threading import FunctionWorker

    from .._napari_io import LayerPixelSizes

#: What *Find candidates* and *Load session…* need (their tooltips while none).
NEEDS_LR = "the low-resolution scan (an image layer)"
NEEDS_SR = "its super-resolved image (an image layer)"
#: How many image layers an audit needs: the LR scan and its SR image, two layers.
AUDITED_LAYERS = 2

__all__ = ["AuditWidget", "KEYS", "default_session_path"]

#: Shortcut -> action name.
KEYS = {"r": "real", "h": "hallucinated", "u": "unsure", "Ctrl+Z": "undo", "n": "next",
        "p": "previous", "b": "blink"}

_COLORS = {"real": "lime", "hallucinated": "red", "unsure": "yellow", None: "magenta"}


#: Audit widgets that took the review keys, the latest last (weak: a widget dropped
#: without being closed never holds them back).
_KEY_TAKERS: list[weakref.ref] = []

#: Why a session shown without its images draws no boxes and adds no region: the SR
#: grid its coordinates are in is read from its SR layer, else its LR layer
#: (:meth:`AuditWidget._sr_transform`).
_NO_GRID = "no LR or SR layer of this audit session is in the viewer"

def default_session_path(sr_layer=None, lr_layer=None) -> Path:
    """Where a new audit session goes unless the user names a file: an absolute path.

    ``<image>_audit.json`` beside the SR layer's file, else beside the LR layer's (an SR
    image made in memory from a scan on disk), when that folder is writable; otherwise
    ``<SR layer name>_audit.json`` (``audit.json`` without a layer) in the home folder.
    Never napari's working folder, which depends on where napari was started.
    """
    for layer in (sr_layer, lr_layer):
        f = layer_file(layer)
        if f is None or not writable_folder(f.parent):
            continue
        return f.parent / _session_name(image_stem(f))
    return Path.home().absolute() / _session_name(sr_layer.name if sr_layer is not None else "")


def _out_of_sight(widget) -> bool:
    """Whether ``widget`` cannot be seen: in a dock the user hid (napari's "hide this
    panel"), or, in a window on screen, wholly covered (a dock tabbed behind another, a
    workbench tab not selected)."""
    from qtpy.QtWidgets import QDockWidget

    w = widget
    while w is not None:
        if isinstance(w, QDockWidget) and w.isHidden():
            return True
        w = w.parentWidget()
    return widget.window().isVisible() and widget.visibleRegion().isEmpty()


def _open(widget) -> bool:
    """Whether ``widget``, an Audit panel or None (garbage-collected), is open: neither
    shut down (:meth:`AuditWidget.shut_down`) nor deleted by Qt."""
    return widget is not None and not widget._shut and qt_alive(widget)


@contextlib.contextmanager
def _told_if_not_saved(what: str):
    """An ``OSError`` of saving the session (a full disk, a log held by another program,
    a folder in a backup's place) as one line for the status line and a notification
    (a ``WidgetInputError`` naming the file), not a traceback out of a key handler."""
    from .layers import WidgetInputError

    try:
        yield
    except OSError as exc:
        raise WidgetInputError(f"{what} was not saved: {error_message(exc, gui=True)}") from exc


def _sr_layer_pixel_size(layer, px, then: str) -> float | None:
    """``px``, the pixel size of the SR ``layer`` by the audit's rule, checked
    (:func:`~napari_srmat.io.check_pixel_size`) in the layer's words: a size no session
    takes (a typing error in its scale) is a :class:`WidgetInputError` naming the layer,
    saying what to do and ``then`` (what holds until it is done)."""
    from ..io import PixelSizeError, check_pixel_size
    from .layers import WidgetInputError

    try:  # named as the layer, not as recalibrate's keyword (pixel_size_um)
        return check_pixel_size(px, name=f"the SR layer {layer.name!r}'s pixel size")
    except PixelSizeError as exc:
        raise WidgetInputError(f"{exc}: calibrate it anew (Calibration); {then}") from exc


def _session_name(image_name: str) -> str:
    stem = _safe_name(image_name)
    return f"{stem}_audit.json" if stem else "audit.json"


def _safe_name(name: str) -> str:
    """``name`` with characters a file name should not hold replaced by ``_``."""
    return re.sub(r"[^\w.-]+", "_", str(name)).strip("._")


def align_sr_layer(lr_layer, sr_layer, factor: float) -> bool:
    """Place ``sr_layer`` where :func:`sr_world_transform` of ``lr_layer`` puts it.

    An SR layer already there (within half an SR pixel: made by the SR widget) is left
    alone, and so is one placed deliberately less than half an LR pixel from there (a
    registration); so is an ``srmat sr run`` store, which records its place (a
    translation, :func:`napari_srmat.io._pixel.finer_grid`) that the reader gives the
    layer. An SR file opened with its pixel size but no translation (a store written
    before 2026-12-04, another tool's) has its first pixel centred on the LR's first
    pixel: its content sits ``(s - 1)/(2s)`` LR px (1.5 SR px at x4) down and right of
    the LR's; it is moved, as is any SR layer whose extent is farther off (two PNGs,
    both at scale 1). A moved SR layer takes the LR's units (last two axes): its scale
    is then in the LR's world unit (an SR in µm over an LR in pixels keeps its recorded
    pixel size, :func:`~napari_srmat._napari_io.layer_pixel_size_um`).

    Returns
    -------
    bool
        Whether the SR layer was moved.
    """
    lr_lo, lr_hi = layer_world_extent(lr_layer)
    sr_lo, sr_hi = layer_world_extent(sr_layer)

    def agree(tol: float) -> bool:
        return bool(np.allclose(lr_lo, sr_lo, atol=tol) and np.allclose(lr_hi, sr_hi, atol=tol))

    half_sr = 0.5 * float(np.max(np.abs(sr_layer.scale[-2:])))
    if agree(half_sr):
        return False
    # the pixel-0 centres on one point: the SR file's own, untranslated place
    untranslated = np.allclose(np.asarray(sr_layer.translate[-2:], float),
                               np.asarray(lr_layer.translate[-2:], float), atol=half_sr)
    if agree(0.5 * float(np.max(np.abs(lr_layer.scale[-2:])))) and not untranslated:
        return False
    scale, translate = sr_world_transform(lr_layer.scale[-2:], lr_layer.translate[-2:], factor)
    # in the LR's world now: its units too (an SR in µm moved onto an LR in pixels or nm
    # kept µm with the LR's scale / s, and a layer in µm has its scale as pixel size)
    sr_layer.units = tuple(sr_layer.units[:-2]) + tuple(lr_layer.units[-2:])
    sr_layer.scale = scale
    sr_layer.translate = translate
    return True


def _layer_place(layer) -> tuple[tuple[float, ...], tuple[float, ...], tuple]:
    """(scale, translate, units) of ``layer``'s last two axes: what the SR layer placed
    over the LR layer follows (:meth:`AuditWidget._on_lr_recalibrated`)."""
    return (tuple(float(v) for v in layer.scale[-2:]),
            tuple(float(v) for v in layer.translate[-2:]), tuple(layer.units[-2:]))


def layer_world_extent(layer) -> tuple[np.ndarray, np.ndarray]:
    """World coordinates (last two axes) of the outer edges of a layer's first and last
    pixels."""
    shape = np.asarray(layer.level_shapes[0] if layer.multiscale else layer.data.shape)
    shape = shape[:2] if layer.rgb else shape[-2:]
    scale = np.asarray(layer.scale[-2:], float)
    translate = np.asarray(layer.translate[-2:], float)
    lo = translate - 0.5 * scale
    hi = translate + (shape - 0.5) * scale
    return lo, hi


@dataclass
class _SaveJob:
    """One save a widget asked for: ``session`` to ``path``.

    ``what`` words the changes it saves for a failure's line ("the decision (not
    recorded)"); ``before`` is ``(snapshot, note)`` of the session and the note field
    before its first change (put back when it is not saved; note None: a change that
    records no note, a new pixel size, whose failure leaves the field as typed).
    ``then`` (a session just shown) is called with the save's error, or None, and
    the number of changes asked for after it (put back with it), instead of telling
    them; ``fresh``: saved as a new session is, over whatever session was saved there
    (not refused as a file another program changed; a reviewed one is kept as a copy).
    """

    session: AuditSession
    path: Path
    what: list[str]
    before: tuple[AuditSession, str | None] | None = None
    then: Callable[[Exception | None, int], None] | None = None
    #: saved as a new session over what the file holds (its review kept as a copy)
    fresh: bool = False
    #: the worker's ``(saved snapshot or None, error or None)``, set as its save ends
    #: (:func:`finish_saves` reads it: a worker napari quit emits no result); ``(None,
    #: None)``: not saved, its look found a reviewed session to ask about (``found``)
    outcome: tuple[AuditSession | None, BaseException | None] | None = None
    #: asks first (a fileless session's first save): the worker looks at the files it
    #: would replace (:func:`_look_at_session_file`) before saving; where it finds a
    #: reviewed session (``found``), this is called on the GUI thread with the look and
    #: returns None to save over it, or the error its changes are put back with
    agree: Callable[[tuple], Exception | None] | None = None
    #: the look of ``agree``'s worker that found a reviewed session
    found: tuple | None = None

    def absorb(self, other: _SaveJob) -> None:
        """Take the changes of ``other`` (asked for after this save's) as this save's:
        saved by it, or put back with it. The note put back is that of the first change
        that recorded one."""
        self.what.extend(other.what)
        if self.before is not None and self.before[1] is None and other.before is not None:
            self.before = (self.before[0], other.before[1])


#: The widgets' save queues that have a save to make (:func:`saves_pending`)
_SAVING: weakref.WeakSet = weakref.WeakSet()


#: How long napari's quit waits for the Audit widgets' saves still to be made, in s
#: (:func:`finish_saves`)
SAVES_AT_QUIT_TIMEOUT_S = 60.0
#: The error of a save whose worker ended without an outcome
#: (:meth:`_Saves.end_from_outcome`)
SAVE_WORKER_ENDED = "the save's worker ended before the session was saved"
#: Whether napari is quitting (:func:`finish_saves` running): a failed save is also told
#: on stderr, no notification being seen any more
_QUITTING = [False]
#: What a full disk's line says to do once space is freed, of a save failed as napari
#: quit (:func:`~napari_srmat.errors.error_message`'s ``rerun``): the widget's, not the
#: CLI's "rerun the same command" nor "run it again", napari being gone
QUIT_SAVE_RERUN = ("its verdicts since its last save are not on file: open it with "
                   "'Load session…' and give them again")


#: The end of the default report file name beside the session (``audit.json`` ->
#: ``audit_report.md``)
REPORT_SUFFIX = "_report.md"
#: The line of a click that must wait for the widget's candidate search (_busy_line)
SEARCH_BUSY = "a candidate search is running; stop it first"
#: The start of the status line of a fileless session's first decision not recorded
#: over the reviewed session at its file (:meth:`AuditWidget._first_save_agreed`)
FIRST_DECISION_REFUSED = "decision not recorded"


class _NotAgreed(Exception):
    """A save not made: the reviewed session at its file was not to be replaced
    (:attr:`_SaveJob.agree`); its message is the status line."""


def saves_pending() -> bool:
    """Whether an Audit widget's save is still to be made or being made (napari's quit
    and a test wait for them: :func:`wait_for_saves`)."""
    return any(q.busy for q in list(_SAVING))


def pending_save_files() -> list[str]:
    """The files of the Audit widgets' saves still to be made or being made, sorted
    (:func:`saves_pending`; named when napari's quit or a test's end finds them)."""
    return sorted({str(p) for q in list(_SAVING) for p in q.paths()})


def finish_saves(timeout_s: float = SAVES_AT_QUIT_TIMEOUT_S) -> bool:
    """Make the Audit widgets' saves still to be made, as the Qt application quits
    (connected to its ``aboutToQuit`` by the first save asked for).

    A queue starts its next save from the GUI thread, once the one before has ended:
    with the event loop ended, the saves queued behind a running one (keys pressed
    faster than the saves) were never made, and those decisions lost untold. The Qt
    events are processed here until no save is pending; a failed save, or saves not
    ended within ``timeout_s``, are told on stderr in one line each.

    Parameters
    ----------
    timeout_s : float
        The longest wait, in seconds.

    Returns
    -------
    bool
        True when every save asked for has ended (made or told as failed).
    """

    def end_quit_workers() -> None:  # napari's quit stopped them telling their result
        for q in list(_SAVING):
            q.end_from_outcome(q.running, finished=False)

    _QUITTING[0] = True
    try:
        if not wait_for_saves(timeout_s, each=end_quit_workers):
            print(f"napari-srmat: the audit session saves to "
                  f"{', '.join(pending_save_files())} did "
                  f"not end within {timeout_s:g} s of quitting: the last decisions "
                  "may not be on file", file=sys.stderr)
            return False
    finally:
        _QUITTING[0] = False
    return True


def wait_for_saves(timeout_s: float = SAVES_AT_QUIT_TIMEOUT_S, *,
                   each: Callable[[], None] | None = None) -> bool:
    """Process the Qt events until no Audit widget's save is pending
    (:func:`saves_pending`: made, or told as failed), for at most ``timeout_s``
    (napari's quit: :func:`finish_saves`; a test waiting for its saves).

    Parameters
    ----------
    timeout_s : float
        The longest wait, in seconds.
    each : callable, optional
        Called after each processing of the events.

    Returns
    -------
    bool
        True when no save is pending; False when some still were after ``timeout_s``
        (:func:`pending_save_files` names them).
    """
    from qtpy.QtWidgets import QApplication

    end = time.monotonic() + timeout_s
    while saves_pending():
        if time.monotonic() > end:
            return False
        QApplication.processEvents()
        if each is not None:
            each()
        time.sleep(0.002)
    return True


def _finish_saves_at_quit() -> None:
    """Connect :func:`finish_saves` to the Qt application's ``aboutToQuit``, once."""
    from qtpy.QtWidgets import QApplication

    app = QApplication.instance()
    if app is not None and not app.property("napari_srmat_finish_saves"):
        app.aboutToQuit.connect(finish_saves)
        app.setProperty("napari_srmat_finish_saves", True)


def _save_copy(job: _SaveJob, snap: AuditSession
               ) -> tuple[AuditSession | None, Exception | None]:
    """Worker side of ``job``'s save: save ``snap`` (a :meth:`~napari_srmat.audit.
    AuditSession.snapshot`) to ``job.path`` (:meth:`~napari_srmat.audit.AuditSession.
    save`: atomic, ordered with the file's other saves by its lock), its outcome kept
    as ``job.outcome``; a job that asks first (``job.agree``) looks at the file first,
    and returns ``(None, None)`` unsaved where it holds a reviewed session. An error told
    in one line (:func:`~napari_srmat.errors.is_told_in_one_line`) is returned, not
    raised: its one line is the widget's; any other reaches napari with its traceback."""
    try:
        if job.agree is not None:
            look = _look_at_session_file(job.path)  # a file not napari-srmat's: raised
            if look[1] is not None:  # a reviewed session: asked on the GUI thread first
                job.found = look
                job.outcome = (None, None)
                return None, None
        if job.fresh:
            snap.path = None  # no file of its own to be refused by
        snap.save(job.path)
    except Exception as exc:
        job.outcome = (None, exc)
        if not is_told_in_one_line(exc):
            raise
        return snap, exc
    job.outcome = (snap, None)
    return snap, None


def _look_at_session_file(path: Path) -> tuple[Path | None, tuple[int, int, int, str] | None]:
    """What a new session saved to ``path`` would replace: ``(foreign, reviewed)``, the
    first file there that is not napari-srmat's (:func:`~napari_srmat.audit.session.
    foreign_session_file`: the JSON, its CSV log or its ``.bak``) or None, and the
    ``(decisions, added regions, log entries, name it is kept under)`` of a session
    there that holds a review (:func:`~napari_srmat.audit.session.holds_review`: a save
    keeps it by the same rule) or None. Reads the JSON files whole: a worker's
    (:meth:`AuditWidget._after_file_look`).
    A file that cannot be read is a ``WidgetInputError`` naming it."""
    from ..audit.session import (
        foreign_session_file,
        holds_review,
        replaced_session_path,
        review_counts,
    )
    from .layers import WidgetInputError

    foreign = foreign_session_file(path)
    if foreign is not None or not path.exists():
        return foreign, None
    try:
        # counted in its JSON, not loaded: loading checks every candidate (0.4-0.9 s for
        # 5000 candidates); a save keeps it by the same rule
        counts = review_counts(path)
        if not holds_review(counts):
            return None, None
        return None, (*counts, replaced_session_path(path).name)
    except FileNotFoundError:  # removed since the look above: nothing to replace
        return None, None
    except OSError as exc:  # unreadable, or a folder now: told, not a traceback
        raise WidgetInputError(f"session file {str(path)!r} cannot be read: "
                               f"{error_message(exc, gui=True)}") from exc


def _looked_at_session_file(path: Path) -> tuple[tuple | None, Exception | None]:
    """Worker side of :meth:`AuditWidget._after_file_look`: ``(look, None)``, or
    ``(None, error)`` for an error told in one line (:func:`~napari_srmat.errors.
    is_told_in_one_line`: returned, not raised, as :func:`_save_copy` does)."""
    try:
        return _look_at_session_file(path), None
    except Exception as exc:
        if not is_told_in_one_line(exc):
            raise
        return None, exc


class _Saves:
    """The saves one Audit widget asked for, made in worker threads (the GUI thread
    never writes a session file: a save per key took tens of ms, seconds on a slow
    disk), one at a time, in the order they were asked for. Changes asked for while a
    save is being made are saved together by the next one (the last save holds them
    all); a save reads a :meth:`~napari_srmat.audit.AuditSession.snapshot` taken as
    it starts, so the reviewer goes on meanwhile.

    A failed save puts the session's review back as it was before the changes it held
    (and those of its session queued behind it), and ``ended`` tells it. The queue does
    not belong to the widget's Qt object: saves asked for go on when the dock closes,
    and napari's quit waits for them (:func:`finish_saves`).

    Each save is a worker napari keeps in its task list for the viewer's life (its
    slots hold the job weakly: no session copy is kept). Measured 2026-12-07 (xvfb,
    400-candidate session, 200 decisions each saved before the next): 200 task entries
    and 200 live workers more (all freed when the entries are dropped), RSS +16.4 KiB
    per decision, the session's own growth included. One long-lived save thread per
    queue would bound it to one entry, but would redo what :func:`start_function` and
    napari's quit give the saves (the warnings' route, the error relay,
    :meth:`end_from_outcome`): left as measured.
    """

    def __init__(self, ended: Callable[[_SaveJob, Exception | None], None]) -> None:
        self._queue: deque[_SaveJob] = deque()
        self._running: _SaveJob | None = None
        self._ended = ended

    @property
    def busy(self) -> bool:
        """Whether a save is still to be made or being made."""
        return self._running is not None or bool(self._queue)

    def paths(self) -> list[Path]:
        """The files of the saves still to be made or being made."""
        return [j.path for j in (self._running, *self._queue) if j is not None]

    @property
    def running(self) -> _SaveJob | None:
        """The save being made."""
        return self._running

    def end_from_outcome(self, job: _SaveJob | None, *, finished: bool) -> None:
        """End ``job``'s save from the outcome its worker kept (``job.outcome``), that
        worker having told no result: quit by napari (a viewer window closed, or the
        application quitting: :func:`finish_saves`), or ended by a ``BaseException``
        (an error); the next save starts. ``finished``: its worker has finished (its
        ``finished`` signal), and without an outcome it ends as not saved
        (:data:`SAVE_WORKER_ENDED`); else (napari's quit) it ends only once its worker
        has kept an outcome. None, or a job not running: ended already (by its
        result)."""
        if job is None or self._running is not job:
            return
        outcome = job.outcome
        if outcome is None:
            if not finished:  # still being saved
                return
            outcome = (None, RuntimeError(SAVE_WORKER_ENDED))
        self._end(job, *outcome)

    def add(self, job: _SaveJob) -> None:
        """Ask for ``job``'s save: merged into the last one waiting when that saves the
        same session to the same file (one save for both)."""
        last = self._queue[-1] if self._queue else None
        if (last is not None and last.then is None and job.then is None
                and last.session is job.session and last.path == job.path):
            last.absorb(job)
        else:
            self._queue.append(job)
        _SAVING.add(self)
        _finish_saves_at_quit()
        self._start()

    def _start(self) -> None:
        if self._running is not None or not self._queue:
            return
        job = self._running = self._queue.popleft()
        # the slots hold the job weakly (the queue holds it until it ends): napari's
        # task list keeps every worker and its slots for the viewer's life, and a job
        # held there kept its session and two snapshots of it, about two copies of the
        # session per decision of a long review
        ref = weakref.ref(job)
        worker = start_function(_save_copy, (job, job.session.snapshot()),
                                on_returned=lambda out: self._end(ref(), *out),
                                on_errored=lambda exc: self._end(ref(), None, exc))
        # napari quits the workers of a viewer window that closes (its task list's
        # cancel): a quit worker sends no result, only its ``finished``, and the saves
        # queued behind it were never started until the application quit
        worker.finished.connect(lambda: self.end_from_outcome(ref(), finished=True))

    def _end(self, job: _SaveJob | None, saved: AuditSession | None,
             exc: BaseException | None) -> None:
        """End ``job``'s save (None, or a job not running: ended already, by
        :meth:`end_from_outcome` or its result)."""
        if job is None or self._running is not job:
            return
        if exc is None and saved is None:  # its look found a reviewed session: asked
            if job.found is None:  # being asked: its worker's end during the question
                return
            found, job.found = job.found, None
            # it stays the save being made until the answer: the question's event loop
            # handles other events, and a save asked for meanwhile (queued behind it)
            # must not save over the reviewed session before it (a no puts it back too)
            exc = job.agree(found)
            if exc is None:  # agreed: saved over it, first (a new job: the look's
                # worker, which ends after this, ends nothing)
                self._running = None
                self._queue.appendleft(dataclasses.replace(job, agree=None, outcome=None))
                job.before = job.then = job.agree = None
                self._start()
                return
        self._running = None
        try:
            if exc is None:
                job.session.took_save(saved)
            else:
                # the changes queued behind it are on top of its: they go back with it
                behind = [j for j in self._queue if j.session is job.session]
                for j in behind:
                    self._queue.remove(j)
                    job.absorb(j)
                if job.before is not None:
                    job.session.restore(job.before[0])
                if _QUITTING[0]:
                    print(f"napari-srmat: the audit session could not be saved to "
                          f"{job.path} as napari quit: "
                          f"{error_message(exc, gui=True, rerun=QUIT_SAVE_RERUN)}",
                          file=sys.stderr)
            self._ended(job, exc)
        finally:
            # an ended job keeps no snapshot, nor a search's sessions: an error's
            # traceback kept in napari's notifications may keep the job
            job.before = job.outcome = job.then = job.agree = None
            if not self.busy:
                _SAVING.discard(self)
            self._start()


class AuditWidget(ShutDownWhenClosedMixin, RunNeedsLayersMixin, SingleJobMixin, QWidget):
    """Dock widget driving an :class:`~napari_srmat.audit.session.AuditSession`.

    The candidate search runs as this widget's one job (:class:`SingleJobMixin`:
    ``run_btn`` "Find candidates", ``cancel_btn`` "Stop", ``worker``, ``token``).

    **Review keys.** The letter keys (:data:`KEYS`) are bound on the viewer, which has
    one binding per key, while the standalone Audit dock and the workbench's Audit tab
    may both be open. The rule: *the keys act on the audit panel you last worked in*.
    A widget takes them when it shows a session (a finished search, *Load session…*,
    :meth:`set_session`) or when you click one of its review buttons or queue rows; a
    widget without a session never takes them (opening the workbench leaves them with
    the dock you are reviewing in). The widget that loses them says so in its status
    line. When the holder closes, the keys go back to the previous taker still open
    with a session, which says so (status line and a notification); with none left they
    are unbound and the letters are napari's again.

    **Closing.** As every napari-srmat dock (:class:`ShutDownWhenClosedMixin`): when
    napari takes the closed dock's widget out of its window, or the widget is closed,
    :meth:`shut_down` stops the search and the blink and gives the keys back. A press
    that still reaches a closed widget's handler does nothing.

    Parameters
    ----------
    napari_viewer : napari.Viewer
    """

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.session: AuditSession | None = None
        self.lr_up_layer = None
        self.sr_layer = None
        #: the name of a session layer whose pixels were replaced since it was shown
        self._changed_layer: str | None = None
        self.boxes_layer = None
        self.worker = self.token = None
        #: the search to start once the session file's look has ended (_after_file_look)
        self._search_after_look: Callable[[], object] | None = None
        #: what the job started last does, for a click that must wait for it (_busy_line)
        self._job_busy = SEARCH_BUSY
        me = weakref.ref(self)

        self._saves = _Saves(lambda job, exc: _save_ended(me(), job, exc))
        self._blink_timer = QTimer(self)
        self._blink_timer.setInterval(500)
        self._blink_timer.timeout.connect(self.toggle_blink)

        self.lr_combo = QComboBox()
        self.sr_combo = QComboBox()
        self.reviewer_edit = QLineEdit()
        self.reviewer_edit.setPlaceholderText("reviewer name")
        # an absolute path, following the SR layer (default_session_path) until the user
        # types a file name or a session is shown
        self.session_path_edit = QLineEdit()
        self.session_path_edit.setToolTip(
            "Where the audit session is saved (JSON + CSV). Default: beside the SR image's "
            "file, else in your home folder. A bare file name goes into that folder.")
        self._path_is_default = True
        self._shut = False
        self._sr_seen = CalibrationSeen()  # the SR layer's calibration last followed
        #: the LR layer's place last followed (:meth:`_on_lr_recalibrated`)
        self._lr_place = None
        self._key_handlers: dict = {}
        self.run_btn = QPushButton("Find candidates")
        self.cancel_btn = QPushButton("Stop")
        self.cancel_btn.setEnabled(False)
        self.load_btn = QPushButton("Load session…")
        self.progress = QProgressBar()
        self.status = QLabel("")
        self.queue = QListWidget()
        self.progress_label = QLabel("0/0 reviewed")
        self.note_edit = QLineEdit()
        self.note_edit.setPlaceholderText("note (optional)")
        self.auto_blink = QCheckBox("auto-blink")
        self.grid_check = QCheckBox("side by side")
        self.overlay_check = QCheckBox("boundary overlay")
        self.overlay_layers: dict = {}
        self._overlay_seq = 0  # the latest overlay request; older results are not shown
        self._overlay_corner = None  # the SR pixel the overlays' first pixel is
        self._overlay_worker = None
        btns = {name: QPushButton(f"{name} [{key}]") for key, name in KEYS.items()}
        self.add_region_btn = QPushButton("Add missed region (Shapes rectangle)")
        self.remove_region_btn = QPushButton("Remove last added region")
        self.report_btn = QPushButton("Write report…")
        self.report_btn.setToolTip(
            "Write the Markdown audit report of this session (as srmat audit report: "
            "counts, hallucinated boundary per mm², thumbnails) to a .md file")
        #: the report's worker while it runs (:meth:`write_report`)
        self._report_worker = None

        form = QFormLayout()
        form.addRow(LR_CONTROL, self.lr_combo)  # the labels its refusals name
        form.addRow(SR_CONTROL, self.sr_combo)
        form.addRow("Reviewer", self.reviewer_edit)
        form.addRow("Session file", self.session_path_edit)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        row = QHBoxLayout()
        for w in (self.run_btn, self.cancel_btn, self.load_btn):
            row.addWidget(w)
        lay.addLayout(row)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        lay.addWidget(self.progress_label)
        lay.addWidget(self.queue)
        lay.addWidget(self.note_edit)
        row = QHBoxLayout()
        for name in ("real", "hallucinated", "unsure", "undo"):
            row.addWidget(btns[name])
        lay.addLayout(row)
        row = QHBoxLayout()
        for name in ("previous", "next", "blink"):
            row.addWidget(btns[name])
        row.addWidget(self.auto_blink)
        row.addWidget(self.grid_check)
        row.addWidget(self.overlay_check)
        lay.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(self.add_region_btn)
        row.addWidget(self.remove_region_btn)
        lay.addLayout(row)
        lay.addWidget(self.report_btn)
        lay.addWidget(QLabel("Keys: r real, h hallucinated, u unsure, Ctrl+Z undo the last "
                             "verdict, n/p next/previous, b blink"))

        for name, btn in btns.items():
            btn.clicked.connect(user_action(lambda name=name: self._action(name), self.status))
        self.run_btn.clicked.connect(user_action(self.find_candidates, self.status))
        self.cancel_btn.clicked.connect(self.stop)
        self.load_btn.clicked.connect(user_action(self._load_dialog, self.status))
        self.queue.currentRowChanged.connect(self._on_row)
        self.auto_blink.toggled.connect(
            lambda on: self._blink_timer.start() if on else self._blink_timer.stop())
        self.grid_check.toggled.connect(self._set_grid)
        self.overlay_check.toggled.connect(lambda _on: self._update_overlay())
        self.add_region_btn.clicked.connect(
            user_action(self.add_region_from_shapes, self.status))
        self.remove_region_btn.clicked.connect(
            user_action(self.remove_last_region, self.status))
        self.report_btn.clicked.connect(user_action(self._report_dialog, self.status))
        self._forward = ProgressForwarder(self.progress, self.status)

        self.session_path_edit.textEdited.connect(self._path_edited)
        # a typed name is shown as the absolute path it stands for as soon as it is entered
        self.session_path_edit.editingFinished.connect(self.session_path)
        self.lr_combo.currentTextChanged.connect(lambda _t: self._update_default_path())
        self.sr_combo.currentTextChanged.connect(lambda _t: self._update_default_path())
        self._listed: list = []  # the layers the LR / SR lists show, in their order
        self.viewer.layers.events.inserted.connect(self._refresh_layers)
        self.viewer.layers.events.removed.connect(self._refresh_layers)
        self.viewer.layers.events.removed.connect(self._on_layer_removed)
        # a renamed layer stays chosen under its new name
        follow_layer_names(self.viewer, self._refresh_layers)
        keep_own_records(self.viewer)  # records follow a scale set by hand (LayerCombo's)
        # Find candidates and Load session… wait for two image layers to choose as LR and
        # SR: a session is checked against both (_layers_to_check); missing_layers reads
        # the layers listed, re-gated at each _refresh_layers
        self._need_layers((self.run_btn, self.load_btn), ())
        self._refresh_layers()

    # ----------------------------------------------------------------- layers
    def _image_layers(self):
        """The Image layers the user can choose as LR / SR: micrographs, not the boundary
        overlays this widget adds (``kind`` "boundary overlay") nor the other analysis
        maps (:func:`is_micrograph_layer`)."""
        import napari

        from .layers import is_micrograph_layer

        return [lay for lay in self.viewer.layers if isinstance(lay, napari.layers.Image)
                and is_micrograph_layer(lay)]

    def _refresh_layers(self, *_) -> None:
        layers = self._image_layers()
        names = [lay.name for lay in layers]
        for combo in (self.lr_combo, self.sr_combo):
            cur = combo.currentText()
            i = combo.currentIndex()
            chosen = self._listed[i] if 0 <= i < len(self._listed) else None
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names)
            kept = next((k for k, lay in enumerate(layers) if lay is chosen), None)
            if kept is not None:  # the same layer, renamed or not
                combo.setCurrentIndex(kept)
            elif cur in names:
                combo.setCurrentText(cur)
            combo.blockSignals(False)
        self._listed = layers
        if (len(names) >= AUDITED_LAYERS
                and self.lr_combo.currentText() == self.sr_combo.currentText()):
            self.sr_combo.setCurrentIndex(1)
        self._update_default_path()
        self._gate_run()

    def missing_layers(self) -> list[str]:
        """What *Find candidates* and *Load session…* still need: an LR and an SR layer
        to choose, two layers (one image layer is in both lists: the SR image is still
        missing). Empty: they can run; the same layer chosen as both among several is
        the click's refusal."""
        return ([NEEDS_LR] if not self._listed else []) + (
            [NEEDS_SR] if len(self._listed) < AUDITED_LAYERS else [])

    # ------------------------------------------------------------- session file
    def _layer(self, name: str):
        return self.viewer.layers[name] if name and name in self.viewer.layers else None

    def _default_path(self) -> Path:
        return default_session_path(self._layer(self.sr_combo.currentText()),
                                    self._layer(self.lr_combo.currentText()))

    def _update_default_path(self) -> None:
        """Show the default session file of the chosen layers, unless the user typed one
        or a session is shown."""
        if self._path_is_default:
            self.session_path_edit.setText(str(self._default_path()))

    def _path_edited(self, _text: str) -> None:
        self._path_is_default = False

    def session_path(self) -> Path:
        """The session file as an absolute path, shown in the field.

        Empty: the default (:func:`default_session_path`). A relative name goes into the
        default's folder (beside the SR image, else the home folder), never into napari's
        working folder.
        """
        text = self.session_path_edit.text().strip()
        default = self._default_path()
        if not text:
            self._path_is_default = True  # cleared: follow the layers again
            path = default
        else:
            path = Path(text).expanduser()
            if not path.is_absolute():
                path = default.parent / path
        path = path.absolute()
        if self.session_path_edit.text() != str(path):
            self.session_path_edit.setText(str(path))
        return path

    # -------------------------------------------------------------- review keys
    def _bind_keys(self) -> None:
        """Bind the review keys on the viewer to this widget."""
        self._key_handlers = {}
        for key, name in KEYS.items():
            # a key's error (a session file that cannot be written, say) is one line in
            # the status, as a button's, not an exception out of napari's key handler
            act = user_action(lambda name=name: self._action(name, by_key=True),
                              self.status)

            def handler(viewer, act=act):
                if self._shut:  # a press that reached a closed widget: nothing
                    return
                if _out_of_sight(self):  # hidden or covered, not closed: no verdict unseen
                    from napari.utils.notifications import show_info

                    show_info("napari-srmat: the audit panel is not in view (hidden, or "
                              "behind another tab); bring it forward to review with the keys")
                    return
                act()

            self._key_handlers[key] = handler
            self.viewer.bind_key(key, handler, overwrite=True)

    def _unbind_keys(self) -> None:
        """Give the viewer its letter keys back (those still bound to this widget)."""
        for key, handler in self._key_handlers.items():
            if self.viewer.keymap.get(_key_binding(key)) is handler:
                self.viewer.bind_key(key, None)
        self._key_handlers = {}

    @property
    def holds_keys(self) -> bool:
        """Whether the viewer's review keys act on this widget now."""
        handler = self._key_handlers.get("r")
        return handler is not None and self.viewer.keymap.get(_key_binding("r")) is handler

    def _others(self) -> list:
        """The other open audit widgets of this viewer that showed a session, oldest
        first (a widget whose Qt object was deleted without being shut down is not
        open)."""
        alive = [ref() for ref in _KEY_TAKERS]
        return [w for w in alive if w is not None and w is not self and not w._shut
                and w.viewer is self.viewer and qt_alive(w)]

    def _register(self) -> None:
        """Note this widget, now showing a session, as the latest of the viewer's panels."""
        _KEY_TAKERS[:] = [ref for ref in _KEY_TAKERS if ref() not in (None, self)]
        _KEY_TAKERS.append(weakref.ref(self))

    def take_keys(self) -> None:
        """Make the review keys act on this widget (the latest taker holds them)."""
        if self._shut or self.session is None:
            return
        self._register()
        if self.holds_keys:
            return
        for other in self._others():
            if other.holds_keys:
                other.status.setText("the review keys now act on another audit panel; "
                                     "click a candidate here to take them back")
        self._bind_keys()

    def _release_keys(self) -> None:
        """Unbind the keys; hand them to the previous taker still open, if any."""
        held = self.holds_keys
        self._unbind_keys()
        _KEY_TAKERS[:] = [ref for ref in _KEY_TAKERS if ref() not in (None, self)]
        if not held:
            return
        heirs = [w for w in self._others() if w.session is not None]
        if heirs:
            heir = heirs[-1]
            heir._bind_keys()
            heir.status.setText("the review keys act on this audit panel again")
            from napari.utils.notifications import show_info

            show_info("napari-srmat: an audit panel was closed; the review keys act again on "
                      f"the audit panel of {heir.session_path_edit.text()}")

    def shut_down(self) -> None:
        """Stop the search and the blink, give the review keys back (the dock is going
        away); a widget shut down never takes the keys again."""
        self._shut = True
        self._overlay_seq += 1  # an overlay still being computed is not shown
        self._blink_timer.stop()
        self.auto_blink.setChecked(False)
        self.stop()
        self._release_keys()
        self._watch_pixels(False)

    def _layer_data(self, name: str) -> np.ndarray:
        if not name:
            raise ValueError("select the LR and SR image layers (open the low-resolution "
                             "scan and its super-resolved image first)")
        try:
            lay = self.viewer.layers[name]
        except KeyError as exc:
            raise ValueError(f"no image layer named {name!r}") from exc
        from .layers import micrograph_data

        return micrograph_data(lay)  # one 2-D micrograph, not a stack of planes

    # ---------------------------------------------------------------- detector
    def find_candidates(self, **kwargs) -> None:
        """Run the detector on the selected LR/SR layers in a worker thread."""
        from ..audit.detector import find_candidates_job

        self._ensure_idle(self._busy_line())
        names = (self.lr_combo.currentText(), self.sr_combo.currentText())
        if names[0] and names[0] == names[1]:
            raise ValueError(f"the LR and SR layers are the same layer ({names[0]!r}): choose "
                             "the low-resolution scan as LR and its super-resolved image as "
                             "SR")
        lr = self._layer_data(names[0])
        sr = self._layer_data(names[1])
        searched = (self._layer(names[0]), self._layer(names[1]))
        # the session file is checked before the search, not after it: a file that
        # cannot take the session (a folder, a file of the user's) or a reviewed session
        # the new one would replace is told now, before minutes of work are lost (the
        # files it would replace are read in a worker, :meth:`_after_file_look`)
        path = self.session_path()
        self._check_session_path(path)
        from .._napari_io import layer_pixel_size_um
        from ..audit.session import sr_model_from_metadata

        # the SR layer's pixel size (None when unknown or not square: the report is in px),
        # one no session takes refused now, not once the search has ended
        pixel_size_um = _sr_layer_pixel_size(searched[1], layer_pixel_size_um(searched[1]),
                                             "no search was started")
        # the files the layers came from and the SR model the SR image records: reports
        # name the image and draw thumbnails from the files
        lr_path, sr_path = (layer_file(lay) for lay in searched)
        sr_model = sr_model_from_metadata(dict(searched[1].metadata))
        reviewer = self.reviewer_edit.text()

        def job(token):
            cands = yield from find_candidates_job(lr, sr, stop=token, **kwargs)
            if cands is None:
                return None
            # in the worker too: the checksums read every pixel of both images
            session = AuditSession.create(lr, sr, cands, reviewer=reviewer,
                                          lr_path=lr_path, sr_path=sr_path,
                                          sr_model=sr_model, pixel_size_um=pixel_size_um)
            if token is not None and token.stop_requested:  # the dock closed: nothing saved
                return None
            # not saved here: by the widget's save queue when it is shown (_done), after
            # the saves asked for before it. Saved here, a decision made on the session
            # shown before the result was (the result waits in the event queue) was
            # refused as its file 'changed by another program', and lost
            return session, box_corners(session.candidates)  # the boxes' data too

        def _done(out) -> None:
            if out is None or self._shut:  # stopped, or the dock closed meanwhile
                return
            session, corners = out
            typed = self.reviewer_edit.text()  # typed while the search ran: saved with it
            if typed:
                session.reviewer = typed
            before = self.session  # shown again if the new session cannot be saved
            before_names = self._names_now((self.lr_up_layer, self.sr_layer))
            # its file now: a decision made before the save lands is saved after it
            # (a new session has no file digest: saved over the file, a review kept)
            session.path = path
            # shown on the layers searched, whatever the lists show now (by their names
            # now: a layer renamed during the search is still it); a search finishing in
            # the background does not take the keys from the panel the user is
            # reviewing in
            self.set_session(session, path, save=False, layer_names=self._names_now(searched),
                             take_keys=False, corners=corners)
            try:
                self._recalibrate(save=False)  # calibrated while the search ran
            except Exception as exc:  # a size no session takes: the search's is kept
                if not is_told_in_one_line(exc):
                    raise
                self.status.setText(error_message(exc, gui=True))

            self._save_shown_session(session, path, before, before_names, fresh=True,
                                     saved_line=lambda w: w._search_line(session, path))

        def start() -> None:
            self._job_busy = SEARCH_BUSY
            self._start_single_job(job, on_result=_done)

        self._after_file_look(path, start)

    def _busy_line(self) -> str:
        """What this widget's job is doing, for a click that must wait for it: the look
        at the session file a search would replace (:meth:`_after_file_look`), the
        search, or a session's load (:meth:`load_session`)."""
        if self._search_after_look is not None:
            return ("the session file a candidate search would replace is being read "
                    "before the search starts; wait for it to end")
        return self._job_busy

    def _after_file_look(self, path: Path, search: Callable[[], object]) -> None:
        """Call ``search`` once the files a new session at ``path`` would replace were
        looked at (:func:`_look_at_session_file`) and it may replace them
        (:meth:`_replace_refused`; a no is told in the status line). Where one exists,
        the look is made in a worker: it reads the JSON files whole (3 parses, 100-150
        ms for 5000 candidates); the buttons wait for it as for a job."""
        from ..audit.session import previous_save_path

        if not any(p.exists() for p in (path, path.with_suffix(".csv"),
                                        previous_save_path(path))):
            search()
            return
        # the slots hold the widget weakly and the search (its closures hold the
        # widget) is the widget's: napari's task list keeps the worker and its slots
        me = weakref.ref(self)
        self._search_after_look = search
        self._job_on = True  # a second click waits (_ensure_idle), as for a job
        self.run_btn.setEnabled(False)
        self.status.setText(f"looking at {path.name}…")

        def ended() -> Callable[[], object] | None:
            """The search to start, once the look has ended; None: nothing to start."""
            widget = me()
            if widget is None:
                return None
            start, widget._search_after_look = widget._search_after_look, None
            widget._job_on = False
            if widget._shut or not qt_alive(widget):  # closed meanwhile: no search
                return None
            widget._gate_run()
            return start

        def looked(out) -> None:
            start = ended()
            if start is None:
                return
            widget = me()
            widget.status.setText("")

            def agreed() -> None:
                look, exc = out
                if exc is not None:  # told in one line, as on this thread
                    raise exc
                line = widget._replace_refused(path, *look, by="A new search",
                                               refused="not started")
                if line is None:
                    start()
                else:
                    widget.status.setText(line)

            user_action(agreed, widget.status)()

        def failed(exc: BaseException) -> None:
            if ended() is not None:
                me().status.setText(failed_line(exc))

        start_function(_looked_at_session_file, (path,), on_returned=looked,
                       on_errored=failed)

    def _save_shown_session(self, session: AuditSession, path: Path,
                            before: AuditSession | None, before_names: tuple[str, ...], *,
                            fresh: bool, old_path: Path | None = None,
                            saved_line: Callable[[AuditWidget], str] | None = None
                            ) -> None:
        """Save ``session``, just shown with ``path`` as its file (a new search's, or
        :meth:`set_session`'s), by the save queue (:class:`_Saves`: in a worker, after
        the saves asked for before it; ``fresh``: :class:`_SaveJob`). Saved, the status
        line is ``saved_line(widget)`` when given. Not saved: told in one line, and the
        decisions given on it meanwhile are put back (as by any failed save); it is not
        shown (nor judged): ``before``, the session shown before it, is shown again on
        its layers ``before_names``; with none (or ``session`` itself), ``session`` stays,
        with ``old_path`` as its file, shown in the path box (None: its next decision
        saves it to the path box's file, checked first)."""

        # the widget held weakly: the save's worker outlives the save (napari's task
        # list), and its slots hold the job; a job holding the widget kept it alive
        me = weakref.ref(self)

        def saved(exc: Exception | None, put_back: int) -> None:
            widget = me()
            shown = _open(widget) and widget.session is session
            if exc is None:
                if saved_line is not None and shown:
                    widget.status.setText(saved_line(widget))
                return
            stays = shown and (before is None or before is session)
            _tell_session_not_saved(path, exc, _put_back_note(put_back) if stays else "",
                                    widget.status if _open(widget) else None)
            if not shown:
                return
            if not stays:
                widget.set_session(before, before.path, save=False,
                                   layer_names=before_names, take_keys=False)
                return
            session.path = old_path  # its review put back by the queue (_SaveJob.before)
            if old_path is not None:  # the file it keeps (another panel checks the box)
                widget.session_path_edit.setText(str(old_path))

        # the review as shown now: put back with the decisions given before the save ends
        self._saves.add(_SaveJob(session, path, ["the session"], (session.snapshot(), None),
                                 then=saved, fresh=fresh))

    def _search_line(self, session: AuditSession, path: Path) -> str:
        """The status line of a new search's session, shown and saved to ``path``."""
        n = len(session.candidates)
        return ((f"{n} candidate{'s' if n != 1 else ''} to review" if n else
                 "no candidates: the detector found nothing suspicious")
                + f"; session saved to {path}"
                + ("" if session.kept_replaced is None else
                   f" (the reviewed session it replaced is kept as "
                   f"{session.kept_replaced.name})")
                + _kept_csv_note(session)
                + self._not_drawn_note()
                + ("" if self.holds_keys or not n else
                   "; the review keys act on another audit panel: click a candidate or "
                   "a review button to review here"))

    def _check_session_path(self, path: Path) -> None:
        """Refuse a path no session can be saved to (a folder, a ``.csv`` name, another
        open panel's file); reads no file."""
        from ..audit.session import check_session_path
        from .layers import WidgetInputError

        if path.is_dir():
            raise WidgetInputError(f"session file {str(path)!r} is a folder: give a .json "
                                   "file name")
        check_session_path(path)
        self._check_not_used_elsewhere(path)

    def _replace_refused(self, path: Path, foreign: Path | None,
                         reviewed: tuple[int, int, int, str] | None, *, by: str,
                         refused: str) -> str | None:
        """None where a new session may replace what :func:`_look_at_session_file` found
        at ``path``, else the status line of the no: a file not napari-srmat's is refused
        (raised), a reviewed session asked about (``self.ask``). ``by`` names what would
        replace it, ``refused`` starts the status line of a no."""
        from .layers import WidgetInputError

        if foreign is not None:
            raise WidgetInputError(f"{foreign} exists and is not an audit session file "
                                   "written by napari-srmat; choose another session file")
        if reviewed is None:
            return None
        decisions, regions, entries, kept = reviewed
        ask = self.ask or ask_yes_no
        counts = f"{decisions} decisions, {regions} added regions, {entries} log entries"
        if ask("Replace the audit session?",
               f"{path} holds a reviewed audit session ({counts}). {by} replaces "
               f"it (the reviewed session is kept as {kept})."
               "\n\nReplace it?"):
            return None
        return (f"{refused}: {path} holds a reviewed session; load it with Load session… "
                "or choose another session file")

    def _check_not_used_elsewhere(self, path: Path) -> None:
        """Refuse a session file another open audit panel of this viewer is writing: two
        panels saving one file would each overwrite the other's decisions."""
        from .layers import WidgetInputError

        target = Path(path).expanduser().absolute()
        for other in self._others():
            shown = Path(other.session_path_edit.text()).expanduser().absolute()
            if other.session is not None and shown == target:
                raise WidgetInputError(
                    f"{target} is the session of another open audit panel; review there, "
                    "or choose another session file")

    def _layers_to_check(self) -> tuple[str, str]:
        """The (LR, SR) layer names a session to load is checked against; refused when
        one is not chosen or both are one layer (a session shown over no image, or over
        other ones, would record verdicts on pixels the reviewer cannot see)."""
        from .layers import WidgetInputError

        names = (self.lr_combo.currentText(), self.sr_combo.currentText())
        if not (names[0] and names[1]) or names[0] == names[1]:
            raise WidgetInputError("a session is checked against its images: open the "
                                   "low-resolution scan and its super-resolved image and "
                                   "choose them as the LR and SR layers first")
        return names

    def _load_dialog(self) -> None:
        self._layers_to_check()  # before the file dialog
        start = str(Path(self.session_path_edit.text() or self._default_path()).parent)
        path, _ = QFileDialog.getOpenFileName(self, "Audit session", start, "JSON (*.json)")
        if path:
            self.load_session(path)  # a bad or mismatched file is told by the job

    def load_session(self, path):
        """Resume a saved session, checked against the selected LR/SR layers.

        The file is read and the layers' checksums (every pixel of both images) are
        computed in a worker (this widget's one job); the session is shown when they
        match. A file that cannot be read or does not match the layers is told in a
        notification and the status line. Returns the worker.
        """
        from ..jobs import Log

        self._ensure_idle(self._busy_line())
        names = self._layers_to_check()
        lr = self._layer_data(names[0])
        sr = self._layer_data(names[1])
        path = Path(path)
        self._check_not_used_elsewhere(path)

        checked = (self._layer(names[0]), self._layer(names[1]))
        # an image moved since the audit: the file its layer was opened from
        lr_path, sr_path = (layer_file(lay) for lay in checked)

        def job(token):
            yield Log(f"checking {path.name} against the selected layers")
            session = AuditSession.load(path, lr=lr, sr=sr, lr_path=lr_path, sr_path=sr_path)
            return session, box_corners(session.candidates)  # the boxes' data too

        def _done(out) -> None:
            if out is None or self._shut:
                return
            session, corners = out
            # on the layers checked, by their names now, as a finished search
            self.set_session(session, path, save=False,  # loading writes nothing
                             layer_names=self._names_now(checked), corners=corners)
            # the SR layer's calibration now, written by the next save
            recalibrated = self._recalibrate(save=False)
            self.status.setText("; ".join([f"session loaded: {session.progress_text()}",
                                           *session.relocated, *filter(None, [recalibrated])])
                                + self._not_drawn_note())

        self._job_busy = (f"the session {path.name} is being loaded (checked against the "
                          "selected layers); wait for it to end")
        return self._start_single_job(job, on_result=_done)

    # ----------------------------------------------------------------- session
    def set_session(self, session: AuditSession, path=None, *, save: bool = True,
                    layer_names: tuple[str, str] | None = None,
                    take_keys: bool = True, corners: np.ndarray | None = None) -> None:
        """Show ``session`` and go to its position; ``path`` becomes the session file,
        saved there unless ``save`` is False: by the widget's save queue, in a worker
        (on file once :func:`saves_pending` is False; a path no session can be saved to
        is refused at once; a save that fails is told in one line, the decisions given
        meanwhile are put back, and the session shown before is shown again, or this
        one with its previous file). ``layer_names`` = (LR, SR) layers the
        candidates belong to (default: the layers the lists show). ``take_keys`` False
        (a search that finished in the background): the review keys move here only if
        no other audit panel holds them. ``corners``: :func:`box_corners` of its
        candidates when a worker built them (the finish slot of a search or a load)."""
        queued = None
        if path is not None:
            path = Path(path).expanduser().absolute()
            if save:  # first: a session that cannot be saved is not shown (nor judged)
                from ..audit.session import check_session_path

                check_session_path(path)
                old_path = None if session.path is None else Path(session.path).absolute()
                # saved as a new session where it is not its own file: as session.save
                # there did (no file digest to refuse it by, a reviewed session kept)
                queued = dict(before=self.session, old_path=old_path, fresh=old_path != path,
                              before_names=self._names_now((self.lr_up_layer, self.sr_layer)))
                session.path = path  # a decision made before the save lands goes there too
            self._path_is_default = False
            self.session_path_edit.setText(str(path))
        self.session = session
        if session.reviewer and not self.reviewer_edit.text():
            self.reviewer_edit.setText(session.reviewer)
        self._setup_display(layer_names, corners)
        self._fill_queue()
        self.go_to(session.position)
        if take_keys or not any(o.holds_keys for o in self._others()):
            self.take_keys()
        else:
            self._register()
        if queued is not None:
            self._save_shown_session(session, path, **queued)

    def _setup_display(self, layer_names: tuple[str, str] | None = None,
                       corners: np.ndarray | None = None) -> None:
        """Candidate boxes over the SR layer, in the SR layer's own world coordinates.

        The LR layer keeps its scale/translate; the SR layer is placed over it the way the
        SR widget places its output, unless it is there already or was placed by the
        user within half an LR pixel of it (:func:`align_sr_layer`, the rule).
        ``layer_names`` = (LR, SR); default the layers the lists show. Without the SR
        layer (removed during the search) the boxes lie on the SR grid of the LR layer
        (:meth:`_sr_transform`); without either, none are drawn (the status says so).
        ``corners``: the boxes' :func:`box_corners`, when a worker built them.
        """
        s = self.session
        lr_name, sr_name = layer_names or (self.lr_combo.currentText(),
                                           self.sr_combo.currentText())
        # a layer not in the viewer (removed during the search) is none: never the
        # previous session's layer, whose place and blink would be this session's
        self._watch_pixels(False)
        self.sr_layer = self._layer(sr_name)
        self.lr_up_layer = self._layer(lr_name) if lr_name != sr_name else None
        if (self.lr_up_layer is not None and self.sr_layer is not None
                and kept_on(self.viewer, self.sr_layer) is None):
            # an SR result kept on its LR (keep_on_layer) is placed by it: moved, it
            # would move that LR
            align_sr_layer(self.lr_up_layer, self.sr_layer, s.scale)
        # followed once placed: placing it is no calibration of the user's (a loaded
        # session is not saved by it)
        self._watch_pixels(True)
        rects = box_corners(s.candidates) if corners is None else corners
        colors = [_COLORS[s.decisions[c.id].verdict if c.id in s.decisions else None]
                  for c in s.candidates]
        shown = self.boxes_layer is not None and self.boxes_layer in self.viewer.layers
        if self._sr_transform() is None:  # boxes at scale 1 in px would lie anywhere
            if shown:
                self.viewer.layers.remove(self.boxes_layer)
            self.boxes_layer = None
            self.status.setText(self._not_drawn_message())
            return
        if shown:
            # the previous session's boxes layer takes this one's boxes: napari removing
            # a layer of 500 boxes and making another took about twice as long
            self.boxes_layer.data = []
            if len(rects):
                self.boxes_layer.add_rectangles(rects, edge_color=colors, edge_width=1,
                                                face_color="transparent")
        else:
            # in the SR grid's units from its insertion: a layer in px among layers in
            # µm made napari warn "Inconsistent units across layers" at every search
            self.boxes_layer = self.viewer.add_shapes(
                rects if len(rects) else [], shape_type="rectangle",
                edge_color=colors or "magenta", face_color="transparent", edge_width=1,
                name="audit candidates", **self._over_sr())
        self._place_on_sr_grid(self.boxes_layer)
        self.boxes_layer.editable = False
        self._activate_sr()

    def _place_on_sr_grid(self, layer, corner=(0.0, 0.0)) -> None:
        """Put ``layer`` (the candidate boxes, a boundary overlay whose first pixel is SR
        pixel ``corner``) on the SR grid (:meth:`_sr_transform`), with the units of, and a
        link to, the layer that grid is read from (:meth:`_over_sr`), and keep it there
        (:func:`~napari_srmat.widgets.layers.keep_on_layer`: that layer's scale set by
        hand or by Calibration moves it): on the SR layer's pixels, or on the LR layer's
        at the session's scale while the SR layer is not in the viewer."""
        grid = self._grid_layer()
        for key, value in self._over_sr(dict(layer.metadata or {})).items():
            setattr(layer, key, value)
        keep_on_layer(self.viewer, layer, grid,
                      1.0 if grid is self.sr_layer else self.session.scale, corner=corner)

    def _on_layer_removed(self, event) -> None:
        """The session's LR or SR layer removed while it is reviewed: the boundary
        overlay is switched off (it is computed from both; the status says so). Without
        the SR layer, the boxes and the overlay layers move onto the SR grid of the LR
        layer, and follow that layer's calibration from now on; without either, they are
        taken away, as for a session shown without its images (:meth:`_setup_display`):
        they would lie over nothing, in units of their own (a calibrated image opened
        next would lose its µm)."""
        removed = event.value
        if (self._shut or self.session is None
                or not (removed is self.sr_layer or removed is self.lr_up_layer)):
            return
        self._update_overlay()
        if self.auto_blink.isChecked():  # it would flash the one left against nothing
            self._blink_refused()
        if self._sr_transform() is None:
            # once napari's removal is done: a layer removed inside it broke its loop over
            # the layers it removes (Delete on a selection holding them: "not in list")
            from qtpy.QtCore import QTimer

            QTimer.singleShot(0, self._take_display_away)
            self.status.setText(self._not_drawn_message())
            return
        if removed is not self.sr_layer:
            return
        if self.boxes_layer is not None and self.boxes_layer in self.viewer.layers:
            self._place_on_sr_grid(self.boxes_layer)
        for lay in self.overlay_layers.values():
            if lay in self.viewer.layers and self._overlay_corner is not None:
                self._place_on_sr_grid(lay, self._overlay_corner)

    def _take_display_away(self) -> None:
        """Remove the candidate boxes and boundary overlays of the session shown, when
        none of its images is in the viewer (:meth:`_on_layer_removed`)."""
        if self._shut or self._sr_transform() is not None:
            return
        for lay in (self.boxes_layer, *self.overlay_layers.values()):
            if lay is not None and lay in self.viewer.layers:
                self.viewer.layers.remove(lay)
        self.boxes_layer = None

    def _names_now(self, layers) -> tuple[str, ...]:
        """The names now of the (LR, SR) layers a search or a load began on: a layer
        renamed while it ran is still the session's; one removed is none (``""``), never
        another layer that took its name."""
        return tuple(lay.name if lay is not None and lay in self.viewer.layers else ""
                     for lay in layers)

    def _not_drawn_note(self) -> str:
        """``"; <why>"`` for a status line when the session's boxes are not drawn (no LR
        or SR layer of it in the viewer), else ``""``."""
        return "" if self._sr_transform() is not None else f"; {self._not_drawn_message()}"

    @staticmethod
    def _not_drawn_message() -> str:
        return (f"{_NO_GRID}: its candidates are not drawn and no missed region can be "
                "added; verdicts are recorded (load the session with its images to see "
                "them)")

    def _watch_pixels(self, on: bool) -> None:
        """Follow (``on``) or stop following the pixels of the session's LR and SR layers:
        a layer whose data is replaced (the SR widget run again writes its new result
        into the same layer) no longer shows the images the session's candidates and
        checksums are of (:meth:`_check_images_unchanged`)."""
        from .layers import follow_calibration

        self._sr_seen = CalibrationSeen()  # a change while not followed is news
        for lay in (self.sr_layer, self.lr_up_layer):
            if lay is not None:
                (lay.events.data.connect if on else
                 lay.events.data.disconnect)(self._on_pixels_changed)
        if self.sr_layer is not None:  # its calibration: the session's pixel size
            follow_calibration(self.sr_layer, self._on_recalibrated, on)
        if self.lr_up_layer is not None:  # its calibration: the SR layer's (s x finer)
            follow_calibration(self.lr_up_layer, self._on_lr_recalibrated, on, GEOMETRY_EVENTS)
        self._lr_place = (_layer_place(self.lr_up_layer)
                          if on and self.lr_up_layer is not None else None)
        self._changed_layer = None

    def _on_lr_recalibrated(self, _event=None) -> None:
        """The LR layer calibrated (or placed) anew while its session is shown: the SR
        layer placed over it follows it as a layer made from it does (its scale and its
        offset from the LR stretched by the LR's factor, the LR's units), unless it is kept
        on the LR already (:func:`~napari_srmat.widgets.layers.kept_on`: an SR widget
        result, moved by that link); the boxes follow the SR layer, and the session its
        pixel size, logged and saved (:meth:`_on_recalibrated`)."""
        lr, sr = self.lr_up_layer, self.sr_layer
        before = self._lr_place
        if self._shut or lr is None or before is None:
            return
        self._lr_place = now = _layer_place(lr)
        if (self.session is None or sr is None or now == before
                or sr not in self.viewer.layers or lr not in self.viewer.layers
                or kept_on(self.viewer, sr) is not None):
            return
        from .layers import follow_calibration

        factor = np.asarray(now[0]) / np.asarray(before[0])
        offset = np.asarray(sr.translate[-2:], float) - np.asarray(before[1])
        lead = sr.ndim - 2
        # one calibration of the SR layer, read once its scale, place and units are set
        follow_calibration(sr, self._on_recalibrated, False)
        try:
            sr.units = tuple(sr.units[:lead]) + tuple(lr.units[-2:])
            sr.scale = tuple(sr.scale[:lead]) + tuple(np.asarray(sr.scale[-2:]) * factor)
            sr.translate = (tuple(sr.translate[:lead])
                            + tuple(np.asarray(now[1]) + offset * factor))
        finally:
            follow_calibration(sr, self._on_recalibrated, True)
        self._on_recalibrated()

    def _recalibrate(self, *, save: bool, sizes: LayerPixelSizes | None = None) -> str:
        """Give the session the pixel size its SR layer has now
        (:func:`~napari_srmat.widgets.layers.audit_pixel_size_on_layer`, the rule), saved
        with it when ``save`` (in a worker, :meth:`_save_later`: a failed save puts the
        previous size back and is told in one line); return the status line's words when
        it changed, else ``""``. Read when the SR layer's calibration changes and before
        each record (a metadata value changed in place emits no event). ``sizes``: the SR layer's
        :func:`~napari_srmat._napari_io.layer_pixel_sizes` when the caller has read them
        (a calibration event's handler reads the layer once)."""
        from .layers import audit_pixel_size_on_layer

        s, lay = self.session, self.sr_layer
        if s is None or lay is None or lay not in self.viewer.layers:
            return ""  # without its SR layer the session keeps the size it has
        before = s.pixel_size_um

        def size(px):
            return "unknown" if px is None else f"{px:g} {LENGTH_UNIT}"

        # until then no verdict or region is recorded: each is saved with the layer's size
        px = _sr_layer_pixel_size(lay, audit_pixel_size_on_layer(s, lay, sizes),
                                  f"until then the session keeps {size(before)} and records "
                                  "no verdict or region")
        if px == s.pixel_size_um:
            return ""  # the same size (each record asks): no copy of the session taken
        # the review before the new size and its log entry (put back by a failed save)
        kept = s.snapshot() if save and s.path is not None else None
        # logged (the report lists it), signed by the Reviewer field's name
        s.recalibrate(px, save=False, reviewer=self.reviewer_edit.text() or None)
        if kept is not None:
            # a new size records no note (:class:`_SaveJob`)
            self._save_later("the new pixel size (the session keeps its previous one)",
                             (kept, None))

        # "of the SR layer 'sr'": a possessive after the quoted name read "'sr''s"
        return (f"the session's pixel size is now {size(s.pixel_size_um)}, that of the SR "
                f"layer {lay.name!r} (it was {size(before)})")

    def _on_recalibrated(self, _event=None) -> None:
        """The SR layer calibrated anew while its session is shown: the session's pixel
        size follows it, and is saved (:meth:`_recalibrate`)."""
        if self._shut or self.session is None or self._changed_layer is not None:
            return
        sizes = self._sr_seen.news(self.sr_layer)
        if sizes is None:  # the same change told again (the layer's records of it)
            return
        try:
            note = self._recalibrate(save=True, sizes=sizes)
        except (ValueError, OSError) as exc:  # a file changed by another program, ...
            self.status.setText(error_message(exc, gui=True))
            return
        if note:
            self.status.setText(note)

    def _on_pixels_changed(self, event) -> None:
        if self._shut:
            return
        layer = getattr(event, "source", None)
        self._changed_layer = getattr(layer, "name", None) or "an image"
        self.status.setText(self._images_changed_message())

    def _images_changed_message(self) -> str:
        return (f"the pixels of layer {self._changed_layer!r} changed since this session was "
                "made (a new SR result?): its candidates are not of this image, so verdicts "
                "are not recorded; click Find candidates, or load the session with its "
                "images")

    def _check_images_unchanged(self) -> None:
        """Refuse a verdict or an added region once the session's layers hold other
        pixels than the session was made on (it would be logged against them)."""
        from .layers import WidgetInputError

        if self._changed_layer is not None:
            raise WidgetInputError(self._images_changed_message())

    def _grid_layer(self):
        """The layer the session's SR grid is read from: its SR layer, else (removed) its
        LR layer, else None."""
        for lay in (self.sr_layer, self.lr_up_layer):
            if lay is not None and lay in self.viewer.layers:
                return lay
        return None

    def _sr_transform(self) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
        """(scale, translate), last two axes, of the SR pixels in world coordinates: the
        SR layer's; while it is not in the viewer, the SR grid of the LR layer at the
        session's scale (:func:`sr_world_transform`, the rule the SR layer is placed by);
        None without either (SR pixels then have no place: nothing is drawn or read)."""
        lay = self._grid_layer()
        if lay is None:
            return None
        sc = tuple(float(v) for v in lay.scale[-2:])
        tr = tuple(float(v) for v in lay.translate[-2:])
        if lay is self.sr_layer:
            return sc, tr
        return sr_world_transform(sc, tr, self.session.scale)

    def _over_sr(self, metadata: dict | None = None) -> dict:
        """``units`` and ``metadata`` of a layer drawn over the SR pixels: the units of the
        layer their grid is read from (:meth:`_grid_layer`; a layer without them makes
        napari drop the viewer's µm, the scale bar's) and a link to it, so that a
        calibration that rescales that layer rescales this one too
        (:func:`~napari_srmat.widgets.layers.is_derived_from`)."""
        from .layers import overlay_units, source_metadata

        lay = self._grid_layer()
        if lay is None:
            return {"metadata": dict(metadata or {})}
        return {**overlay_units(lay),
                "metadata": {**(metadata or {}), **source_metadata(lay)}}

    def _sr_to_world(self, yx) -> np.ndarray:
        scale, translate = self._sr_transform()
        return np.asarray(translate) + np.asarray(scale) * np.asarray(yx, float)

    def _activate_sr(self) -> None:
        """Keep an Image layer active: Shapes layers bind r/p/... to their own tools."""
        if self.sr_layer is not None and self.sr_layer in self.viewer.layers:
            self.viewer.layers.selection.active = self.sr_layer

    def _fill_queue(self) -> None:
        s = self.session
        self.queue.blockSignals(True)
        self.queue.clear()
        for rank, c in enumerate(s.candidates, 1):
            d = s.decisions.get(c.id)
            self.queue.addItem(f"{rank}. #{c.id} {c.kind} score {c.score:.1f}"
                               + (f"  [{d.verdict}]" if d else ""))
        self.queue.blockSignals(False)
        self.progress_label.setText(s.progress_text())

    def _on_row(self, row: int) -> None:
        if self.session is not None and row >= 0:
            self.take_keys()  # a candidate clicked: the keys act here
            user_action(lambda: self.go_to(row), self.status)()

    def go_to(self, index: int) -> None:
        """Select queue item ``index`` and zoom the camera onto its bbox."""
        s = self.session
        if s is None or not s.candidates:
            return
        c = s.go(index)
        self.queue.blockSignals(True)
        self.queue.setCurrentRow(s.position)
        self.queue.blockSignals(False)
        x0, y0, x1, y1 = c.bbox
        grid = self._sr_transform()
        if grid is not None:  # with no image of the session, nowhere to look
            self.viewer.camera.center = tuple(
                self._sr_to_world(bbox_corners(c.bbox).mean(axis=0)))
            ch, cw = self.viewer.canvas.size  # (h, w), the public canvas model (napari >= 0.9)
            # bbox plus context, in world units
            span = max(y1 - y0, x1 - x0, 8) * 3.0 * max(grid[0])
            self.viewer.camera.zoom = max(min(ch, cw) / span, 0.01)
        self._show_note()
        self._update_overlay()

    def _show_note(self) -> None:
        """The note field shows the current candidate's note (empty when undecided): a
        note is stored with one record, the verdict or the added region it was typed for."""
        s = self.session
        c = None if s is None else s.current
        self.note_edit.setText(s.decisions[c.id].note if c is not None and c.id in s.decisions
                               else "")

    def _update_overlay(self) -> None:
        """Boundary skeleton of SR (magenta) and LR-up boundary band (cyan) around the
        current candidate: computed on a crop in a worker thread (the crop of a large
        candidate took seconds on the GUI thread at every key), shown when it is done,
        unless the reviewer has moved on meanwhile (the latest request wins)."""
        self._overlay_seq += 1  # results of earlier requests are stale from now on
        s = self.session
        if not self.overlay_check.isChecked() or s is None or s.current is None:
            self._hide_overlays()
            return
        # the layers the session was shown on, not whatever the combos now name
        layers = self.viewer.layers
        if (self.sr_layer is None or self.sr_layer not in layers or self.lr_up_layer is None
                or self.lr_up_layer not in layers):
            self._hide_overlays()
            self.status.setText("boundary overlay: the LR or SR layer of this session was "
                                "removed from the viewer")
            return
        sr = self.sr_layer.data[0] if self.sr_layer.multiscale else self.sr_layer.data
        lr = self.lr_up_layer.data[0] if self.lr_up_layer.multiscale else self.lr_up_layer.data
        sc = s.scale
        x0, y0, x1, y1 = s.current.bbox
        pad = max(32, max(x1 - x0, y1 - y0))
        cy0 = max(0, (y0 - pad) // sc * sc)
        cx0 = max(0, (x0 - pad) // sc * sc)
        cy1, cx1 = min(sr.shape[0], y1 + pad), min(sr.shape[1], x1 + pad)
        seq = self._overlay_seq
        settings, note = overlay_rule(s.detector)
        # the slots hold the widget weakly: Qt holds them by references the garbage
        # collector does not see, and the worker (its ``_overlay_worker``, napari's
        # task list) outlives the job, so a slot holding it kept a closed widget alive
        me = weakref.ref(self)

        def shown(maps) -> None:
            widget = me()
            if widget is not None and qt_alive(widget):
                widget._show_overlay(seq, maps, (cy0, cx0), note)

        def failed(exc: BaseException) -> None:
            widget = me()
            if widget is not None and qt_alive(widget):
                widget.status.setText(f"boundary overlay: {failed_line(exc)}")

        self._overlay_worker = start_function(  # a reference while it runs
            _overlay_maps, (sr, lr, sc, (cy0, cy1, cx0, cx1), settings),
            on_returned=shown, on_errored=failed)

    def _hide_overlays(self) -> None:
        for lay in self.overlay_layers.values():
            lay.visible = False

    def _show_overlay(self, seq: int, maps, corner, note: str | None = None) -> None:
        """Show a worker's overlay maps, if they are still the latest asked for; ``note``
        (:func:`overlay_rule`) is added to the layer names."""
        if (seq != self._overlay_seq or self._shut or not self.overlay_check.isChecked()
                or self.sr_layer is None or self.sr_layer not in self.viewer.layers):
            return
        from .layers import OWN_LAYER_KEY

        self._overlay_corner = corner
        for name, data, color in (("SR boundaries", maps[0], "magenta"),
                                  ("LR-up boundaries", maps[1], "cyan")):
            lay = self.overlay_layers.get(name)
            shown = name if note is None else f"{name} ({note})"
            meta = {OWN_LAYER_KEY: name, "kind": "boundary overlay"}
            if lay is None or lay not in self.viewer.layers:
                lay = self.viewer.add_image(data, name=shown, colormap=color,
                                            blending="additive", opacity=0.7,
                                            **self._over_sr(meta))
                self.overlay_layers[name] = lay
            else:
                lay.data = data
                lay.name = shown
                lay.metadata = meta
            # an earlier session's overlay too: this session's SR grid, units and link
            self._place_on_sr_grid(lay, corner)
            lay.visible = True
        self._activate_sr()

    def decide(self, verdict: str) -> None:
        """Record ``verdict`` for the current candidate and move on; the session is saved
        in a worker (:meth:`_save_later`: a save that fails puts the decision back)."""
        s = self.session
        if s is None or s.current is None:
            return
        self._check_images_unchanged()
        before = (s.snapshot(), self.note_edit.text())
        agree = None
        if s.path is None:  # a session shown without a file: its first save
            path = self.session_path()
            self._check_session_path(path)  # reads no file: its save's worker looks
            agree = self._first_save_agreed(path, s)
        self._sign(s)
        if s.path is None:
            s.path = path
            self._path_is_default = False
        s.decide(verdict, note=before[1], advance=True, save=False)
        self._save_later("the decision (not recorded)", before, agree=agree)
        self._fill_queue()
        self._recolor()
        self.go_to(s.position)

    def undo(self) -> None:
        """Undo the last verdict not undone (a key pressed on the wrong candidate):
        :meth:`~napari_srmat.audit.AuditSession.undo`, the one rule, signed by the
        Reviewer field; the queue shows its candidate with the verdict it had before, or
        none, and the session is saved in a worker (:meth:`_save_later`: a save that
        fails puts the verdict back).

        Recorded in :meth:`decide`'s order: refused while the session's layers hold
        other pixels than it was made on (:meth:`_check_images_unchanged`), then signed
        (:meth:`_sign`: the SR layer's pixel size logged before the undo), then undone.
        Until s50 an undo was recorded after a new SR result replaced the SR layer's
        pixels, and signed after it: that result's calibration, which the session no
        longer follows, was logged as the session's pixel size.

        Raises
        ------
        ValueError
            No session shown, or no verdict left to undo (nothing recorded).
        WidgetInputError
            The session's LR or SR layer holds other pixels now; or its first save's
            path is refused.
        """
        s = self.session
        if s is None:
            raise ValueError("no audit session: find candidates or load a session first")
        self._check_images_unchanged()
        before = (s.snapshot(), None)  # records no note: the field stays as typed
        agree = path = None
        if s.path is None:  # a session shown without a file: its first save
            path = self.session_path()
            self._check_session_path(path)
            agree = self._first_save_agreed(path, s)
        self._sign(s)
        try:
            undone = s.undo(save=False)  # signed by the reviewer _sign gave the session
        except BaseException:  # no verdict to undo: nor is the signing's size recorded
            s.restore(before[0])
            raise
        if s.path is None:
            s.path = path
            self._path_is_default = False
        self._save_later("the undo (not recorded)", before, agree=agree)
        self._fill_queue()
        self._recolor()
        self.go_to(s.position)
        c = s.current
        now = s.decisions.get(c.id)
        self.status.setText(f"undone: {undone.verdict} on #{c.id}; "
                            + (f"its verdict is {now.verdict} again" if now
                               else "unreviewed again") + _kept_csv_note(s))

    def _report_dialog(self) -> None:
        """Ask where to write the report (default ``<session>_report.md`` beside the
        session file), then :meth:`write_report`."""
        s = self._session_to_report()
        base = Path(s.path) if s.path is not None else self.session_path()
        start = str(base.with_name(f"{base.stem}{REPORT_SUFFIX}"))
        path, _ = QFileDialog.getSaveFileName(self, "Audit report", start,
                                              "Markdown (*.md)")
        if path:
            self.write_report(path)

    def _session_to_report(self) -> AuditSession:
        """The session shown, for a report; ``ValueError`` when there is none."""
        if self.session is None:
            raise ValueError("no audit session: find candidates or load a session first")
        return self.session

    def write_report(self, path) -> FunctionWorker:
        """Write the Markdown report of the session shown to ``path`` in a worker: the
        report of ``srmat audit report`` (:func:`~napari_srmat.audit.report.write_report`,
        the one function: written atomically, its thumbnails beside it; a file that is
        not an audit report is refused), of the review as it is at the click (a
        :meth:`~napari_srmat.audit.AuditSession.snapshot`). Its thumbnails are drawn from
        the session's LR and SR layers where their pixels are the session's (checksums,
        read in the worker: a session made from layers records no files to read), else
        from its files. The status line gives the pooled figures as the command prints
        them, or the refusal in one line.

        Parameters
        ----------
        path : path-like
            The report's Markdown file (``~`` expanded; relative to the working folder).

        Returns
        -------
        FunctionWorker
            The worker writing it (started; the Write report button is off until it
            ends).

        Raises
        ------
        ValueError
            No session shown, or a report of this panel is being written.
        """
        from .layers import WidgetInputError, micrograph_data

        s = self._session_to_report()
        if self._report_worker is not None:
            raise ValueError("a report is being written; wait for it to end")
        path = Path(path).expanduser().absolute()
        snap = s.snapshot()
        layers = (self.lr_up_layer, self.sr_layer)
        shown = (tuple(micrograph_data(lay) for lay in layers)
                 if all(lay is not None and lay in self.viewer.layers for lay in layers)
                 else None)
        me = weakref.ref(self)
        self.report_btn.setEnabled(False)
        self.status.setText(f"writing the report {path.name}…")

        def ended() -> AuditWidget | None:
            widget = me()
            if widget is None or not qt_alive(widget):
                return None
            widget._report_worker = None
            widget.report_btn.setEnabled(True)
            return widget if _open(widget) else None

        def written(out) -> None:
            widget = ended()
            if widget is None:
                return
            res, exc = out

            def tell() -> None:
                from ..cli.audit import pooled_lines

                if exc is not None:  # one line, in the widget's words
                    raise WidgetInputError(f"report not written: "
                                           f"{error_message(exc, gui=True)}") from exc
                widget.status.setText(f"report written to {res['report']}: "
                                      + "; ".join(pooled_lines(res["pooled"])))

            user_action(tell, widget.status)()

        def failed(exc: BaseException) -> None:
            widget = ended()
            if widget is not None:
                widget.status.setText(f"report not written: {failed_line(exc)}")

        self._report_worker = start_function(_write_report, (snap, path, shown),
                                             on_returned=written, on_errored=failed)
        return self._report_worker

    def _save_later(self, what: str, before: tuple[AuditSession, str | None], *,
                    agree: Callable[[tuple], Exception | None] | None = None) -> None:
        """Save the session shown to its file in a worker (:class:`_Saves`, the one
        rule of the widget's saves); ``what`` words the change for a failure's line,
        ``before`` is ``(snapshot, note)`` from before it (put back if not saved; note
        None for a change that records none: :attr:`_SaveJob.before`); ``agree``: a
        fileless session's first save (:meth:`_first_save_agreed`)."""
        s = self.session
        self._saves.add(_SaveJob(s, Path(s.path), [what], before, agree=agree))

    def _first_save_agreed(self, path: Path, session: AuditSession
                           ) -> Callable[[tuple], Exception | None]:
        """The :attr:`_SaveJob.agree` of a fileless ``session``'s first save to ``path``:
        a reviewed session the worker found there is replaced only after asking
        (:meth:`_replace_refused`), ``session`` being the one the panel shows (the
        question's "this session"); a no, or no panel left to ask in (closed, napari
        quitting), or another session shown meanwhile (a search's or a load's: until
        2026-12-07 the question then read as if that one replaced the file), is the
        :class:`_NotAgreed` its decision is put back with. The same is checked again
        after a yes: the question's event loop may have shown another session (until
        2026-12-07 the session asked about then replaced the file all the same)."""
        me = weakref.ref(self)  # the job is the save queue's, not the widget's

        def why_not(widget: AuditWidget | None) -> str | None:
            """Why ``widget`` cannot ask (or be answered) about ``session`` now."""
            return ("napari quit" if _QUITTING[0] else
                    "the audit panel was closed" if not _open(widget) else
                    "the audit panel shows another session"
                    if widget.session is not session else None)

        def agree(found: tuple) -> Exception | None:
            widget = me()
            why = why_not(widget)
            if why is None:
                line = widget._replace_refused(path, *found, by="This session",
                                               refused=FIRST_DECISION_REFUSED)
                if line is not None:
                    return _NotAgreed(line)
                why = why_not(widget)  # shown, or closed, while the question was open
                if why is None:
                    return None
                why = f"not replaced after your yes: {why}"
            else:
                why = f"not asked: {why}"
            return _NotAgreed(f"{FIRST_DECISION_REFUSED}: {path} holds a reviewed "
                              f"session ({why})")

        return agree

    def _show_put_back(self, job: _SaveJob) -> None:
        """Show the session of ``job``, a failed save whose changes were put back: on
        its candidate, the note field with the note of the first change not recorded
        (for the retry); when none recorded one (a new pixel size), the text the field
        held if the candidate shown again is the one it was on, else that candidate's
        own note (not another's, shown when the failure came)."""
        s = job.session
        # the field's text, and the candidate it was on (the review is put back
        # already, the screen not yet): typed for it, or its recorded note
        typed, typed_at = self.note_edit.text(), self.queue.currentRow()
        self._fill_queue()
        self._recolor()
        self.go_to(s.position)  # the field: the candidate's own note
        note = job.before[1]  # the note of the change not recorded, for the retry
        if note is not None:
            self.note_edit.setText(note)
        elif s.position == typed_at:  # what was typed for it is kept, not moved
            self.note_edit.setText(typed)

    def _sign(self, s: AuditSession) -> None:
        """The name in the Reviewer field signs what is recorded next: a verdict, an
        added or a removed region (the session's reviewer when the field is empty); it
        is saved with the SR layer's pixel size now (:meth:`_recalibrate`)."""
        if self.reviewer_edit.text():
            s.reviewer = self.reviewer_edit.text()
        self._recalibrate(save=False)

    def _recolor(self) -> None:
        s = self.session
        if self.boxes_layer is None or s is None:
            return
        colors = [_COLORS[s.decisions[c.id].verdict if c.id in s.decisions else None]
                  for c in s.candidates]
        if colors:
            self.boxes_layer.edge_color = colors

    def next(self) -> None:
        if self.session is not None:
            self.go_to(self.session.position + 1)

    def previous(self) -> None:
        if self.session is not None:
            self.go_to(self.session.position - 1)

    def toggle_blink(self) -> None:
        """Swap visibility of the SR and LR-upscaled layers. With one of them removed
        from the viewer, blink is refused (the other stays shown), auto-blink stops and
        the status line says what to do (:meth:`_blink_refused`)."""
        if self.sr_layer is None or self.lr_up_layer is None:
            return
        if self._blink_refused():
            return
        sr_visible = self.sr_layer.visible
        self.sr_layer.visible = not sr_visible
        self.lr_up_layer.visible = sr_visible

    def _blink_refused(self) -> bool:
        """Whether the session's LR or SR layer is no longer in the viewer: blink would
        hide the one left (the boxes over nothing); auto-blink is stopped and the status
        line names the layer and what to do."""
        gone = [lay for lay in (self.lr_up_layer, self.sr_layer)
                if lay is not None and lay not in self.viewer.layers]
        if not gone:
            return False
        self._blink_timer.stop()
        self.auto_blink.setChecked(False)
        for lay in (self.sr_layer, self.lr_up_layer):
            if lay is not None and lay in self.viewer.layers:
                lay.visible = True
        self.status.setText(
            f"the layer {gone[0].name!r} of this session was removed: blink needs it; open "
            "it again and load the session (Load session…); verdicts are still recorded")
        return True

    def _set_grid(self, on: bool) -> None:
        self.viewer.grid.enabled = bool(on)
        if on and self.sr_layer is not None and self.lr_up_layer is not None:
            self.sr_layer.visible = self.lr_up_layer.visible = True

    def _action(self, name: str, by_key: bool = False) -> None:
        if not by_key:
            self.take_keys()  # a review button clicked: the keys act here
        if name in ("real", "hallucinated", "unsure"):
            self.decide(name)
        elif name == "undo":
            self.undo()
        elif name == "next":
            self.next()
        elif name == "previous":
            self.previous()
        elif name == "blink":
            self.toggle_blink()

    def add_region_from_shapes(self, layer=None, *, verdict: str = "hallucinated"):
        """Add the last rectangle of a Shapes layer as a region the detector missed.

        The rectangle is read in SR pixels through the SR layer, else (removed) through
        the SR grid of the LR layer (:meth:`_sr_transform`); with neither in the viewer it
        is refused. The box is clipped to the SR image and one entirely outside it
        refused, by :meth:`~napari_srmat.audit.AuditSession.add_region` (the one rule).
        """
        import napari

        s = self.session
        if s is None:
            raise ValueError("no audit session: find candidates or load a session first")
        self._check_images_unchanged()
        if layer is None:
            shapes = [lay for lay in self.viewer.layers if isinstance(lay, napari.layers.Shapes)
                      and lay is not self.boxes_layer and len(lay.data)]
            if not shapes:
                raise ValueError("draw a rectangle in a Shapes layer first")
            layer = shapes[-1]
        if not len(layer.data):
            raise ValueError(f"Shapes layer {layer.name!r} is empty")
        grid = self._sr_transform()
        if grid is None:  # SR pixels one for one with world units would be a wrong record
            from .layers import WidgetInputError

            raise WidgetInputError(f"region not added: {_NO_GRID}, so the rectangle cannot "
                                   "be read in SR pixels; load the session with its images "
                                   "and draw it again")
        # the drawn rectangle in SR pixel coordinates, through both layers' transforms
        world = np.asarray([layer.data_to_world(p) for p in np.asarray(layer.data[-1])])[:, -2:]
        scale, translate = grid
        pts = (world - np.asarray(translate)) / np.asarray(scale)
        # pixel i covers [i - 1/2, i + 1/2] (napari puts its centre at i): the pixels the
        # rectangle reaches into (flooring the corners took one pixel more on the top and
        # left sides)
        y0, x0 = np.floor(pts.min(axis=0) + 0.5).astype(int)
        y1, x1 = np.ceil(pts.max(axis=0) + 0.5).astype(int)
        before = (s.snapshot(), self.note_edit.text())
        self._sign(s)
        region = s.add_region([max(x0, 0), max(y0, 0), max(x1, 0), max(y1, 0)],
                              verdict=verdict, note=before[1], save=False)
        self._save_later("the region (not added)", before)
        self._show_note()  # the note went with the region, not also with the next verdict
        self.status.setText(f"added region r{region.id} {region.bbox}" + _kept_csv_note(s))
        return region


    def remove_last_region(self):
        """Remove the region added last (a wrong rectangle, a second click) and save
        (:meth:`~napari_srmat.audit.AuditSession.remove_region`)."""
        s = self.session
        if s is None:
            raise ValueError("no audit session: find candidates or load a session first")
        before = (s.snapshot(), self.note_edit.text())
        self._sign(s)
        region = s.remove_region(save=False)
        self._save_later("the removal (region kept)", before)
        self.status.setText(f"removed region r{region.id} {region.bbox}"
                            + _kept_csv_note(s))
        return region


def _write_report(session: AuditSession, path: Path, shown: tuple | None = None
                  ) -> tuple[dict | None, Exception | None]:
    """Worker side of :meth:`AuditWidget.write_report`: ``(result, None)`` of
    :func:`~napari_srmat.audit.report.write_report` of ``session`` to ``path``, or
    ``(None, error)`` for an error told in one line (:func:`~napari_srmat.errors.
    is_told_in_one_line`: returned, not raised, as :func:`_looked_at_session_file`
    does). ``shown``: the (LR, SR) pixels of the session's layers, the thumbnails'
    images where they are the session's (:meth:`~napari_srmat.audit.AuditSession.
    holds_images`), else None (its files)."""
    from ..audit.report import write_report

    images = [shown] if shown is not None and session.holds_images(*shown) else None
    try:
        return write_report(session, path, images=images), None
    except Exception as exc:  # noqa: BLE001 - told in one line, or raised
        if not is_told_in_one_line(exc):
            raise
        return None, exc


def _save_ended(widget: AuditWidget | None, job: _SaveJob, exc: Exception | None) -> None:
    """A save of ``widget``'s queue (:class:`_Saves`) made (the status line names a copy
    it kept) or failed: the session's review was put back; the screen shows it again, on
    the candidate and with the note of the first change not saved, and the failure is
    told in one line. A note typed meanwhile is kept when no change put back recorded
    one (a new pixel size: :meth:`_SaveJob.absorb`) and the candidate shown again is
    the one it was typed on; otherwise the field shows that candidate's own note (not
    another's, shown when the failure came). A panel closed, or garbage-collected
    (``widget`` None), tells a failure in a notification (until 2026-12-07 a collected
    panel's failures, a first decision not asked about included, were told nowhere)."""
    s = job.session
    if job.then is not None:
        # a shown session's save: told there, maybe the session shown before it shown
        # again (then not this one's review put back on it: asked after the call)
        job.then(exc, len(job.what) - 1)
        if (exc is not None and job.before is not None and _open(widget)
                and widget.session is s):
            widget._show_put_back(job)
        return
    shown = _open(widget) and widget.session is s
    if exc is not None and job.agree is not None and s.path == job.path:
        s.path = None  # not saved there: its next decision looks at the file again
    if exc is None:
        if not shown:
            pass
        elif s.kept_replaced is not None:  # this first save replaced a reviewed one
            widget.status.setText(f"the reviewed session {s.path.name} held is kept as "
                                  f"{s.kept_replaced.name}" + _kept_csv_note(s))
        elif s.kept_csv is not None:
            widget.status.setText(_kept_csv_note(s).removeprefix("; "))
        return
    if shown:
        widget._show_put_back(job)
    if isinstance(exc, _NotAgreed):  # the user's no: the status line, as asked there
        if shown:
            widget.status.setText(str(exc))
        else:  # not asked (or another session shown): told, not dropped unseen
            from napari.utils.notifications import show_error

            show_error(f"napari-srmat: {exc}")
        return
    what = job.what[0] + ("" if len(job.what) == 1 else
                          f" and {len(job.what) - 1} change(s) after it")

    def tell() -> None:
        with _told_if_not_saved(what):
            raise exc

    user_action(tell, widget.status if shown else None)()


def _tell_session_not_saved(path: Path, exc: Exception, note: str = "",
                            status=None) -> None:
    """A session just shown that could not be saved to ``path``: one line in a
    notification and in ``status`` (an open panel's status line, or None), ``note``
    (what was put back) at its end."""
    from napari.utils.notifications import show_error

    message = (f"the session could not be saved to {path}: "
               f"{error_message(exc, gui=True)}{note}")
    show_error(f"napari-srmat: {message}")
    if status is not None:
        status.setText(message)


def _put_back_note(changes: int) -> str:
    """The end of the line of a shown session's failed save that ``changes`` changes
    made on it since (verdicts, regions) were put back with (:meth:`AuditWidget.
    _save_shown_session`); "" for none."""
    if not changes:
        return ""
    return (f"; the {changes} verdict(s) or change(s) made on it since were put back "
            "(not recorded)")


def _kept_csv_note(session: AuditSession) -> str:
    """``"; <where>"`` for a status line when the last save kept the session's CSV log
    re-saved by another program (:meth:`~napari_srmat.audit.AuditSession.kept_csv_note`),
    else ``""``."""
    note = session.kept_csv_note()
    return f"; {note}" if note else ""


def bbox_corners(bbox) -> np.ndarray:
    """The outer corners ``[[y0, x0], [y1, x1]]`` (data coordinates) of the pixels of a
    box ``[x0, y0, x1, y1]`` (half-open pixel ranges): napari puts the centre of pixel
    ``i`` at ``i``, so the box's edges lie half a pixel before ``x0`` and ``y0`` (drawn
    from the corner indices, a box sat half a pixel down and right of its pixels).

    Examples
    --------
    >>> bbox_corners([10, 20, 30, 40]).tolist()
    [[19.5, 9.5], [39.5, 29.5]]
    """
    x0, y0, x1, y1 = (float(v) for v in bbox)
    return np.array([[y0, x0], [y1, x1]]) - 0.5


def box_corners(candidates) -> np.ndarray:
    """:func:`bbox_corners` of every candidate, as one ``(N, 2, 2)`` array: the Shapes
    data of the candidate boxes, built in the worker that made or read the session
    (:meth:`AuditWidget._setup_display` draws it).

    Examples
    --------
    >>> from napari_srmat.audit import Candidate
    >>> box_corners([Candidate(1, [10, 20, 30, 40], 1.0, "new_boundary", 1.0)]).tolist()
    [[[19.5, 9.5], [39.5, 29.5]]]
    """
    b = np.asarray([c.bbox for c in candidates], float).reshape(-1, 4)
    return np.stack([b[:, [1, 0]], b[:, [3, 2]]], axis=1) - 0.5


#: Settings of the detector's boundary rule (:func:`~napari_srmat.audit.detector.
#: boundary_evidence`) a session records and the overlay applies.
_OVERLAY_SETTINGS = ("boundary_threshold", "lr_threshold_factor", "tolerance_px")


def overlay_rule(detector: dict) -> tuple[dict, str | None]:
    """The boundary rule the overlay of a session shows: ``(settings, note)``.

    The session's own settings (threshold, LR factor, tolerance band) with the default
    boundary map when the search used it. A search with another map (UAED, a custom
    ``boundary_fn``) cannot be redrawn without that model: the overlay then shows the
    default map at its own thresholds with the search's tolerance, and ``note`` says so
    (it goes into the layer names).
    """
    fn = detector.get("boundary_fn", "default_boundary_map")
    settings = {k: float(detector[k]) for k in _OVERLAY_SETTINGS if k in detector}
    if fn == "default_boundary_map":
        return settings, None
    return ({k: v for k, v in settings.items() if k == "tolerance_px"},
            f"default map, not the search's {fn}")


def _overlay_maps(sr, lr, scale: int, box, settings: dict | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(SR boundary skeleton, LR-up boundary band) as float32 maps of the SR crop ``box``
    = (y0, y1, x0, x1), by the detector's rule (:func:`~napari_srmat.audit.detector.
    boundary_evidence`, ``settings`` from :func:`overlay_rule`); worker thread: reads the
    crops and computes the maps."""
    from ..audit.detector import AuditInputError, boundary_evidence, upscale_bicubic
    from ..channels import float_channels_last
    from ..io import read_window

    cy0, cy1, cx0, cx1 = box
    sr_c = float_channels_last(read_window(sr, cy0, cy1, cx0, cx1), error=AuditInputError)
    lr_c = read_window(lr, cy0 // scale, -(-cy1 // scale), cx0 // scale, -(-cx1 // scale))
    lr_up = float_channels_last(upscale_bicubic(lr_c, scale),
                                error=AuditInputError)[:sr_c.shape[0], :sr_c.shape[1]]
    b_sr, b_lr = boundary_evidence(sr_c, lr_up, **(settings or {}))
    return b_sr.astype(np.float32), b_lr.astype(np.float32)


def _key_binding(key: str):
    from app_model.types import KeyBinding

    return KeyBinding.from_str(key.upper())
