"""The "Use it divided by 255?" offer of a float layer holding 0..255 / 0..65535 values.

An in-memory layer is sampled on the GUI thread when Run is pressed
(:meth:`~napari_srmat.widgets._worker.SingleJobMixin.confirm_float_divisor`). A lazy one
(a float file or store opened by the reader, a Dask array) is not: its value sample reads
chunks (0.5-1 s for a 12000² float32 Zarr of 1024² chunks, s50), which the GUI thread
never does. Its job starts at once with a :class:`LazyFloatOffer` as its divisor: the
job's worker reads the bounded sample (:func:`napari_srmat.io.float_bit_depth_divisor`),
and when it returns the question is asked on the GUI thread while the worker waits for
the answer. Yes divides the image lazily as the job reads it
(:func:`~napari_srmat.widgets._worker.divided_by`); No ends the job as not started, with
the in-memory layer's line (``not started: layer ... has float pixel values beyond
[0, 1] ...``, no notification). A Stop (or the widget closed, or napari quitting) while
the sample is read or the answer awaited ends the job as stopped: the question is not
asked, or not waited for.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

__all__ = ["LazyFloatOffer", "ask_float_divisor", "lazy_float_offer"]

#: How often (s) a worker waiting for the GUI thread (the user's answer) looks whether
#: its job was stopped, its widget closed or napari quits (then the job ends as stopped).
ANSWER_POLL_S = 0.1


class _OfferStopped(asyncio.CancelledError):
    """The job was stopped (Stop, its widget closed, napari's quit) while its worker read
    the value sample or waited for the GUI thread: raised in the job's code, its token
    stopped, as a stop's interrupt, so that the job ends as stopped
    (:data:`~napari_srmat.widgets._worker._STOP_INTERRUPTS`), not run on values it was
    not asked about (it failed: "float images must be in [0, 1]")."""


def _not_started_line(name: str, divisor: int) -> str:
    """The status line of a job not started because the user said No."""
    return (f"not started: layer {name!r} has float pixel values beyond [0, 1] "
            f"(divide by {divisor} to use it)")


def ask_float_divisor(widget: Any, name: str, divisor: int, purpose: str) -> bool:
    """Ask (``widget.ask``, a Yes/No dialog by default) whether to work on layer ``name``,
    a float image holding values up to ``divisor`` (255 or 65535), divided by it; True
    for Yes. On No the widget's status line says why nothing started. The one question
    of the offer, and the one answer to its No, for in-memory and lazy layers alike.

    Parameters
    ----------
    widget : SingleJobMixin
        The widget asking (its ``ask``).
    name : str
        The layer's name.
    divisor : int
        255 or 65535 (:func:`napari_srmat.io.float_bit_depth_divisor`).
    purpose : str
        What is done to the image ("super-resolved", "measured", ...).

    Returns
    -------
    bool
    """
    from ._worker import ask_yes_no

    bits = 8 if divisor == 255 else 16
    ask = widget.ask or ask_yes_no
    go = bool(ask("Float pixel values beyond [0, 1]",
                  f"Layer {name!r} holds float pixel values up to {divisor}, like a {bits}-bit "
                  f"image saved as floats; images are {purpose} on pixel values in [0, 1].\n\n"
                  f"Use it divided by {divisor}?"))
    if not go:
        widget.status.setText(_not_started_line(name, divisor))
    return go


class LazyFloatOffer:
    """The divisor of a lazy float layer's job, decided in the job's worker: the first
    use of its truth, ``int`` or text there (:func:`~napari_srmat.widgets._worker.
    divided_by`, the Simple tab's ``divide_by``) reads the layer's bounded value sample,
    asks the question (:func:`ask_float_divisor`) on the GUI thread when it returns, and
    waits for the answer: 255 or 65535 for Yes; None (false: no division) for values
    within [0, 1]. No raises :class:`~napari_srmat.widgets._worker.NotStarted` (the job
    ends as not started); the job stopped (Stop, its widget closed, napari quitting)
    before the answer raises a stop's interrupt (it ends as stopped). Decided once;
    never on the GUI thread (RuntimeError there: it would read chunks and wait for
    itself).

    Parameters
    ----------
    widget : SingleJobMixin
        The widget whose job it is (its ``ask``, ``status``, and the job's ``token`` and
        ``worker`` once they are assigned).
    name : str
        The layer's name.
    data : array-like
        The layer's data (lazy).
    purpose : str
        As for :func:`ask_float_divisor`.
    """

    def __init__(self, widget: Any, name: str, data: Any, purpose: str) -> None:
        self._widget, self.name, self._data, self.purpose = widget, name, data, purpose
        self._lock = threading.Lock()
        self._decided = False
        self._divisor: int | None = None
        # made before the job's start: the widget's token is still the previous job's,
        # and stays so until the GUI thread assigns the new one, after the worker began
        self._previous_token = getattr(widget, "token", None)

    @property
    def divisor(self) -> int | None:
        """255 / 65535 when the user said Yes, else None (decided at the first use)."""
        with self._lock:
            if not self._decided:
                try:
                    self._divisor = self._decide()
                finally:
                    self._decided = True
                    self._data = None  # the layer's pixels are not held once decided
            return self._divisor

    def _decide(self) -> int | None:
        from ..io import float_bit_depth_divisor
        from ._worker import NotStarted

        if threading.current_thread() is threading.main_thread():
            raise RuntimeError("a lazy layer's float offer is decided in its job's worker, "
                               "not on the GUI thread")
        # said first (and the GUI thread back in its event loop before a chunk is read)
        self._on_gui_thread(lambda widget: widget.status.setText(
            f"reading a value sample of layer {self.name!r}…"))
        divisor = float_bit_depth_divisor(self._data)  # the bounded sample, read here
        if not divisor:
            return None
        # not asked when the job was stopped while the sample was read
        if not self._on_gui_thread(
                lambda widget: ask_float_divisor(widget, self.name, divisor, self.purpose)):
            raise NotStarted(_not_started_line(self.name, divisor))
        return divisor

    def _on_gui_thread(self, call: Any) -> Any:
        """``call(widget)`` run on the GUI thread while this worker waits; its value.
        Raises :class:`_OfferStopped` (the job's token stopped) when the job ends first
        (:meth:`_ended`): the call is then not run, or not waited for. napari's quit
        holds the GUI thread until the workers end (``await_workers``): this worker
        ends at once rather than waiting for a call that cannot run."""
        from superqt.utils import ensure_main_thread

        from ._worker import qt_alive

        widget, out, came = self._widget, [], threading.Event()

        @ensure_main_thread
        def run() -> None:
            try:
                if qt_alive(widget) and not self._ended():
                    out.append(call(widget))
            finally:
                came.set()

        run()
        while not came.wait(ANSWER_POLL_S):
            if self._ended():
                break
        if not out:  # ended (or the widget closed) before the call ran
            token = self._token()
            if token is not None:
                token.request_stop()  # a quit's or a closed widget's: ends as stopped
            raise _OfferStopped(f"layer {self.name!r}: the job stopped before its float "
                                "offer was answered")
        return out[0]

    def _token(self) -> Any:
        """The job's stop token: the widget's once it is this job's, else None."""
        token = getattr(self._widget, "token", None)
        return None if token is self._previous_token else token

    def _ended(self) -> bool:
        """Whether the job was asked to stop (its token) or its worker to quit (napari
        quitting: ``worker.quit()``, which stops no token)."""
        token = self._token()
        if token is None:
            return False
        worker = getattr(self._widget, "worker", None)  # assigned with the token
        return bool(token.stop_requested or getattr(worker, "abort_requested", False))

    def __bool__(self) -> bool:
        return self.divisor is not None

    def __int__(self) -> int:
        if self.divisor is None:
            raise ValueError(f"layer {self.name!r} is used without division")
        return self.divisor

    __index__ = __int__

    def __float__(self) -> float:
        return float(int(self))

    def __str__(self) -> str:
        return str(self.divisor)

    def __format__(self, spec: str) -> str:
        return format(self.divisor, spec)


def lazy_float_offer(widget: Any, name: str, data: Any, purpose: str
                     ) -> LazyFloatOffer | None:
    """The divisor to give the job of a lazy layer (nothing is read here, on the GUI
    thread): a :class:`LazyFloatOffer` for floating-point data, decided in the job's
    worker; None for any other dtype (no offer).

    Parameters
    ----------
    widget, name, data, purpose
        As for :class:`LazyFloatOffer`.

    Returns
    -------
    LazyFloatOffer or None

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from napari_srmat.widgets._float_offer import lazy_float_offer
    >>> lazy_float_offer(None, "m", da.zeros((64, 64), dtype=np.uint8), "measured") is None
    True
    >>> type(lazy_float_offer(None, "m", da.zeros((64, 64), dtype="f4"), "measured")).__name__
    'LazyFloatOffer'
    """
    import numpy as np

    dtype = getattr(data, "dtype", None)
    if dtype is None or not np.issubdtype(np.dtype(dtype), np.floating):
        return None
    return LazyFloatOffer(widget, name, data, purpose)
