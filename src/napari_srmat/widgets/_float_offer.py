"""The "Use it divided by 255?" offer of a float layer holding 0..255 / 0..65535 values.

An in-memory layer is sampled on the GUI thread when Run is pressed
(:meth:`~napari_srmat.widgets._worker.SingleJobMixin.confirm_float_divisor`). A lazy one
(a float file or store opened by the reader, a Dask array) is not: its value sample reads
chunks (0.5-1 s for a 12000² float32 Zarr of 1024² chunks, s50), which the GUI thread
never does. Its job starts at once with a :class:`LazyFloatOffer` as its divisor: the
job's worker reads the bounded sample (:func:`napari_srmat.io.float_bit_depth_divisor`),
and when it returns the question is asked on the GUI thread while the worker waits for
the answer. Yes divides the image lazily as the job reads it
(:func:`~napari_srmat.widgets._worker.divided_by`); No gives the job the values as they
are, and its own check tells them (``failed: ... float images must be in [0, 1]``).
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["LazyFloatOffer", "ask_float_divisor", "lazy_float_offer"]

#: How often (s) a worker waiting for the user's answer looks whether its job was stopped
#: or its widget closed (then: no division, and the job ends as it was asked to).
ANSWER_POLL_S = 0.1


def ask_float_divisor(widget: Any, name: str, divisor: int, purpose: str) -> bool:
    """Ask (``widget.ask``, a Yes/No dialog by default) whether to work on layer ``name``,
    a float image holding values up to ``divisor`` (255 or 65535), divided by it; True
    for Yes. The one question of the offer, for in-memory and lazy layers alike.

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
    return bool(ask("Float pixel values beyond [0, 1]",
                    f"Layer {name!r} holds float pixel values up to {divisor}, like a {bits}-bit "
                    f"image saved as floats; images are {purpose} on pixel values in [0, 1].\n\n"
                    f"Use it divided by {divisor}?"))


class LazyFloatOffer:
    """The divisor of a lazy float layer's job, decided in the job's worker: the first
    use of its truth, ``int`` or text there (:func:`~napari_srmat.widgets._worker.
    divided_by`, the Simple tab's ``divide_by``) reads the layer's bounded value sample,
    asks the question (:func:`ask_float_divisor`) on the GUI thread when it returns, and
    waits for the answer: 255 or 65535 for Yes, else None (false: no division). Decided
    once; never on the GUI thread (RuntimeError there: it would read chunks and wait
    for itself).

    Parameters
    ----------
    widget : SingleJobMixin
        The widget whose job it is (its ``ask``, ``status`` and stop ``token``).
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

    @property
    def divisor(self) -> int | None:
        """255 / 65535 when the user said Yes, else None (decided at the first use)."""
        with self._lock:
            if not self._decided:
                self._divisor = self._decide()
                self._decided = True
                self._data = None  # the layer's pixels are not held once decided
            return self._divisor

    def _decide(self) -> int | None:
        from ..io import float_bit_depth_divisor

        if threading.current_thread() is threading.main_thread():
            raise RuntimeError("a lazy layer's float offer is decided in its job's worker, "
                               "not on the GUI thread")
        # said first (and the GUI thread back in its event loop before a chunk is read)
        told = self._on_gui_thread(lambda widget: widget.status.setText(
            f"reading a value sample of layer {self.name!r}…"))
        if not told:  # stopped, or the widget closed
            return None
        divisor = float_bit_depth_divisor(self._data)  # the bounded sample, read here
        if not divisor:
            return None
        answer = self._on_gui_thread(
            lambda widget: ask_float_divisor(widget, self.name, divisor, self.purpose))
        return divisor if answer and answer[0] else None

    def _on_gui_thread(self, call: Any) -> list:
        """``[call(widget)]`` run on the GUI thread while this worker waits; ``[]`` when
        the job is stopped or its widget closed before (then not run, or not waited for)."""
        from superqt.utils import ensure_main_thread

        from ._worker import qt_alive

        widget, out, came = self._widget, [], threading.Event()

        @ensure_main_thread
        def run() -> None:
            try:
                if qt_alive(widget) and not self._stopped():
                    out.append(call(widget))
            finally:
                came.set()

        run()
        while not came.wait(ANSWER_POLL_S):
            if self._stopped():
                return []
        return out

    def _stopped(self) -> bool:
        token = getattr(self._widget, "token", None)
        return bool(token is not None and token.stop_requested)

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
