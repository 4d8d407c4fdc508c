"""Qt helpers shared by the widgets."""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from qtpy.QtWidgets import QFileDialog, QHBoxLayout, QLineEdit, QPushButton, QWidget

from .layers import CalibrationSeen, WidgetInputError, follow_calibration, keep_own_records

__all__ = ["LAYER_LIST_EVENTS", "LayerCombo", "RunNeedsLayersMixin", "follow_layer_events",
           "follow_layer_names", "path_row", "relist_if_changed", "same_layers",
           "TYPED_UNITS", "typed_number", "typed_pixel_size"]

#: The events of a layer after which a widget's layer list asks its predicate again
#: (:func:`relist_if_changed`): ``data`` (a layer made 3-D goes, one made 2-D comes) and
#: ``metadata`` (set anew: a ``kind`` that makes it one of napari-srmat's maps, or no
#: longer one, :func:`~napari_srmat.widgets.layers.is_boundary_layer`). A ``metadata``
#: dict changed in place tells no event.
LAYER_LIST_EVENTS = ("data", "metadata")


#: A lone comma that may group thousands as well as mark decimals ("1,000", "12,500";
#: not "0,500", "1000,5" nor "2,25"): the number fields refuse it rather than guess.
_THOUSANDS_OR_DECIMAL = re.compile(r"[+-]?[1-9]\d{0,2},\d{3}")

#: A number followed by a unit, with or without a space ("0.3 µm", "300nm", "1e-3 mm",
#: "0.3 µm/px"): the number ends with a digit or a point, the unit is letters (µ, μ and
#: Å are letters), optionally per something ("/px").
_NUMBER_AND_UNIT = re.compile(
    r"(?P<number>.*?[\d.])\s*(?P<unit>[^\W\d_]+)(?:\s*/\s*(?P<per>[^\W\d_]+))?")

#: What a pixel size may be per, typed after its length unit ("0.3 µm/px").
_PER_PIXEL = ("px", "pixel")

#: The length units a field's refusal names (:func:`typed_number` takes every length
#: unit the readers take, :func:`napari_srmat.io._read._unit_factor`: "micron", "cm", ...).
TYPED_UNITS = ("µm", "um", "nm", "mm")


class AmbiguousNumberError(WidgetInputError):
    """A typed number that reads two ways (``"1,000"``: a thousands separator or a decimal
    comma), refused by :func:`typed_number` with both readings; told as it is by every
    field (its reason is the remedy)."""


def _decimal_comma(number: str, text: str, what: str) -> str:
    """``number`` (the number part of the field's ``text``) with its one decimal comma
    as a point ("0,5" as a European keyboard types it); :class:`AmbiguousNumberError`
    where the comma may as well group thousands."""
    if _THOUSANDS_OR_DECIMAL.fullmatch(number):  # until 2026-12-07 "1,000" read as 1.0
        raise AmbiguousNumberError(
            f"{what} {text!r} is ambiguous (a thousands separator or a decimal "
            f"comma): type the number without a separator, such as "
            f"{text.replace(',', '')} or {text.replace(',', '.')}")
    return number.replace(",", ".") if number.count(",") == 1 and "." not in number else number


def typed_number(text: str, what: str, *, per_pixel: bool = False) -> float | None:
    """The length typed in a widget's field, in µm: the one number rule of the Heyn,
    Specimen and Calibration widgets' pixel-size and known-length fields.

    Parameters
    ----------
    text : str
        The field's text: a number of µm, or a number and a length unit ("0.3 µm",
        "300nm", "0,3 um", "0.0003 mm", "0.3 μm" with a Greek mu; since 2026-12-07).
    what : str
        What the field holds (``"pixel size"``, ``"known length"``): the first words of
        the status line's message.
    per_pixel : bool
        The field holds a size per pixel: its unit may say so (``"0.3 µm/px"``).

    Returns
    -------
    float or None
        None when the field is empty, else the length in µm (any float: the field's own
        limits are the caller's); one decimal comma reads as a point (``"0,5"`` is 0.5;
        since 2026-12-07), except where it could as well group thousands (``"1,000"``:
        refused, not read as 1.0). A unit is any the image readers take (µm, um, nm,
        mm, micron, cm, ...: ``napari_srmat.io._read._unit_factor``), converted in
        decimal ("300 nm" is 0.3, as "0.3" is).

    Raises
    ------
    WidgetInputError
        The text is not a number, or its unit is no length unit (the status line's
        message, one line); an :class:`AmbiguousNumberError` where it is ambiguous.
    """
    from ..io import LENGTH_UNIT
    from ..io._read import _unit_factor

    text = text.strip()
    if not text:
        return None
    size = LENGTH_UNIT + ("/px" if per_pixel else "")
    refused = WidgetInputError(
        f"{what} {text!r} is not a number: type a number of {size} (such as 0.5 or 0,5) "
        "or a number and a length unit (such as 500 nm)")
    unit = _NUMBER_AND_UNIT.fullmatch(text)
    number = _decimal_comma(text if unit is None else unit["number"], text, what)
    try:
        value = float(number)
    except ValueError:
        raise refused from None
    if unit is None:
        return value
    factor, per = _unit_factor(unit["unit"]), unit["per"]
    if factor is None or (per is not None and not (per_pixel and per.lower() in _PER_PIXEL)):
        named = unit["unit"] + ("" if per is None else f"/{per}")
        raise WidgetInputError(
            f"{what} {text!r}: {named!r} is not a length unit: type "
            f"{', '.join(TYPED_UNITS[:-1])} or {TYPED_UNITS[-1]} after the number, or the "
            f"number alone for {size}")
    try:  # in decimal: "300 nm" is 0.3 µm, not 0.30000000000000004
        return float(Decimal(number) * Decimal(repr(factor)))
    except InvalidOperation:
        raise refused from None


def typed_pixel_size(text: str) -> float | None:
    """The pixel size (µm per pixel) typed in a widget's field: the one rule of the
    Heyn, Specimen and Calibration widgets' pixel-size fields.

    Parameters
    ----------
    text : str
        The field's text.

    Returns
    -------
    float or None
        None when the field is empty (the layer's own pixel size, or none, applies),
        else the size read by :func:`typed_number` and checked by
        :func:`napari_srmat.io.check_pixel_size`.

    Raises
    ------
    WidgetInputError
        The text is not a number, is ambiguous or is not a pixel size (the status
        line's message).
    """
    from ..io import check_pixel_size

    value = typed_number(text, "pixel size", per_pixel=True)
    if value is None:
        return None
    try:
        return check_pixel_size(value, name="pixel size")
    except ValueError as exc:
        raise WidgetInputError(str(exc)) from None


def path_row(edit: QLineEdit, title: str, directory: bool = True) -> QWidget:
    """``edit`` with a "…" button beside it that browses for a folder (``directory``)
    or an OME-Zarr store to write, titled ``title``, and types the choice into ``edit``:
    the path fields of the SR and Boundaries widgets."""
    row = QWidget()
    lay = QHBoxLayout(row)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(edit)
    btn = QPushButton("…")
    btn.setMaximumWidth(28)

    def _browse() -> None:
        if directory:
            path = QFileDialog.getExistingDirectory(row, title)
        else:
            path, _ = QFileDialog.getSaveFileName(row, title, filter="OME-Zarr (*.zarr)")
        if path:
            edit.setText(path)

    btn.clicked.connect(_browse)
    lay.addWidget(btn)
    return row


def follow_layer_names(viewer, refresh: Callable[..., Any]) -> None:
    """Call ``refresh`` (a widget's bound method, held weakly) when a layer of
    ``viewer``, there now or added later, is renamed: a widget's layer list keeps the
    chosen layer under its new name. The one rule of the widgets that list layers
    (:func:`follow_layer_events`)."""
    follow_layer_events(viewer, refresh, ("name",))


def follow_layer_events(viewer, refresh: Callable[..., Any],
                        events: tuple[str, ...]) -> None:
    """Call ``refresh`` (a widget's bound method, held weakly) when a layer of
    ``viewer``, there now or added later, emits one of ``events`` (``"name"``: renamed;
    ``"data"``: its data replaced, which may make it 3-D or 2-D).

    Nothing here holds the widget: napari holds a bound method weakly, and the follower
    of the viewer's insertions, a function it holds strongly, holds ``refresh`` by a
    weak reference and disconnects itself at the first insertion after the widget was
    freed (a lambda or a closure holding the widget kept a closed one, and the dock
    around it, for the viewer's life).

    Parameters
    ----------
    viewer : napari.Viewer
    refresh : callable
        A bound method.
    events : tuple of str
        Names of the layers' events (``layer.events.<name>``).
    """
    method = weakref.WeakMethod(refresh)

    def connect(layer, slot) -> None:
        for name in events:
            emitter = getattr(layer.events, name, None)
            if emitter is not None:
                emitter.connect(slot)

    def inserted(event) -> None:
        live = method()
        if live is None:
            event.source.events.inserted.disconnect(inserted)
            return
        connect(event.value, live)

    viewer.layers.events.inserted.connect(inserted)
    for layer in viewer.layers:
        connect(layer, refresh)


def same_layers(first: list, second: list) -> bool:
    """Whether two layer lists hold the same layers (by identity) in the same order: a
    list a widget shows need not be rebuilt."""
    return len(first) == len(second) and all(a is b for a, b in zip(first, second))


def relist_if_changed(layers: list, listed: list, relist: Callable[[list], Any]) -> None:
    """The one rule of the widgets' layer lists at a layer's data or metadata event
    (:data:`LAYER_LIST_EVENTS`): call
    ``relist(layers)`` only when ``layers`` (the layers to list now) are not ``listed``
    (those the list shows, :func:`same_layers`).

    Most data events (a layer painted, an image replaced by one of its shape) leave the
    list as it is; one that makes a listed layer 3-D, or a 3-D one 2-D, changes it.
    ``relist`` is handed the layers already found: the list's predicate, asked on the GUI
    thread at every data event, is asked once per layer and event, not again to list
    them.

    Parameters
    ----------
    layers : list
        The layers the list would show now.
    listed : list
        The layers it shows.
    relist : callable
        Shows ``layers`` (``relist(layers)``).
    """
    if not same_layers(layers, listed):
        relist(layers)


class LayerCombo:
    """A ``QComboBox`` of the viewer's layers of given types, kept in sync with the viewer.

    The chosen layer stays chosen when it is renamed; when the viewer changes the
    choice (the first layer added, the chosen one removed) ``currentTextChanged`` is
    emitted as for a choice made by hand, so widgets showing facts about the layer
    (its pixel size) follow. A layer whose data are replaced or metadata set is listed
    again by ``predicate`` (a layer made 3-D goes, one made 2-D comes:
    :data:`LAYER_LIST_EVENTS`); the
    predicate reads attributes (``ndim``, ``rgb``, ``metadata``), never pixels: it runs
    on the GUI thread at every layer event. With ``allow_none``, a chosen layer that is
    removed leaves ``"(none)"``, never another layer of the same type.

    Parameters
    ----------
    viewer : napari.Viewer
    kinds : tuple of str
        Layer type strings accepted (``"image"``, ``"labels"``, ``"shapes"``...).
    predicate : callable, optional
        Extra filter ``predicate(layer) -> bool``.
    allow_none : bool
        Add an empty ``"(none)"`` entry first.
    """

    def __init__(self, viewer, kinds: tuple[str, ...], predicate=None,
                 allow_none: bool = False) -> None:
        from qtpy.QtWidgets import QComboBox

        self.viewer = viewer
        self.kinds = kinds
        self.predicate = predicate
        self.allow_none = allow_none
        self.native = QComboBox()
        self._chosen = None  # the layer object chosen (names change on rename)
        # the chosen layer whose data left the list (still in the viewer), chosen again
        # when its data are listed again unless a choice was made (none included) or the
        # layer list changed since
        self._unlisted = None
        self._relisting = False  # the choice told by refresh, not made
        self._listed: list = []  # the layers listed, in the list's order
        self._watchers: list = []
        self._seen = CalibrationSeen()  # the chosen layer's calibration last told
        self.native.currentTextChanged.connect(self._remember)
        for ev in ("inserted", "removed", "moved", "changed"):
            emitter = getattr(viewer.layers.events, ev, None)
            if emitter is not None:
                emitter.connect(self.refresh)
        follow_layer_names(viewer, self.refresh)
        follow_layer_events(viewer, self._data_replaced, LAYER_LIST_EVENTS)
        keep_own_records(viewer)  # layers' records follow their scale while a widget is open
        self.refresh()

    def _layers(self):
        return [
            lay for lay in self.viewer.layers
            if lay._type_string in self.kinds and (self.predicate is None or self.predicate(lay))
        ]

    def _data_replaced(self, *_: Any) -> None:
        relist_if_changed(self._layers(), self._listed,
                          lambda layers: self._relist(data_event=True, layers=layers))

    def watch(self, callback) -> None:
        """Call ``callback()`` when the choice changes, and when the chosen layer's
        scale, units or metadata change (a calibration): widgets showing its pixel size
        stay current."""
        self._watchers.append(callback)
        self.native.currentTextChanged.connect(lambda *_: callback())

    def _layer_edited(self, *_: Any) -> None:
        # one change told by several events (a scale set, then the layer's records of
        # it) is told to the watchers once; a metadata event that unlisted the chosen
        # layer (LAYER_LIST_EVENTS, told first) left none chosen: the watchers heard so
        if not self._watchers or self._chosen is None \
                or self._seen.news(self._chosen) is None:
            return
        for callback in self._watchers:
            callback()

    def _remember(self, *_: Any) -> None:
        if not self._relisting:  # a choice made: the unlisted layer is not taken back
            self._unlisted = None
        self._follow(self.value)

    def _follow(self, layer) -> None:
        """Make ``layer`` the chosen one, listening to its edits (and no longer to the
        previous one's)."""
        if layer is self._chosen:
            return
        for old, connect in ((self._chosen, False), (layer, True)):
            if old is not None:  # its calibration events (what its pixel size is read from)
                follow_calibration(old, self._layer_edited, connect)
        self._chosen = layer
        self._seen = CalibrationSeen()  # a change while not chosen is news

    def refresh(self, *_: Any) -> None:
        """Re-list the layers, keeping the chosen layer (by identity, so a renamed layer
        stays chosen) or else the chosen name when it still exists.

        A chosen layer whose data leave the list (made 3-D) leaves nothing chosen, never
        another layer (other layers' data events choose none either), and is chosen
        again when its data are listed again, unless a choice was made since (none
        included) or layers were added, removed or moved so that the list changed: then
        the list chooses as an empty one does. A chosen layer removed from the viewer
        hands the choice to the last listed layer (to none where the list has
        ``"(none)"``)."""
        self._relist(data_event=False)

    def _relist(self, data_event: bool, layers: list | None = None) -> None:
        """:meth:`refresh`; ``data_event``: called for a layer's data replaced;
        ``layers``: the layers to list, when found already (None: found here)."""
        current = self.native.currentText()
        if layers is None:
            layers = self._layers()
        list_changed = not same_layers(layers, self._listed)
        self._listed = layers
        in_viewer = list(self.viewer.layers)
        if self._chosen is not None and not any(lay is self._chosen for lay in layers) \
                and any(lay is self._chosen for lay in in_viewer):
            self._unlisted = self._chosen  # its data changed: not listed, not removed
        elif not any(lay is self._unlisted for lay in in_viewer) \
                or (list_changed and not data_event):
            self._unlisted = None  # removed from the viewer, or the list changed, since
        wanted = self._chosen if self._chosen is not None else self._unlisted
        kept = next((lay for lay in layers if lay is wanted), None)
        self.native.blockSignals(True)
        self.native.clear()
        names = (["(none)"] if self.allow_none else []) + [lay.name for lay in layers]
        self.native.addItems(names)
        if kept is not None:
            self.native.setCurrentText(kept.name)
        elif self._unlisted is not None:  # nothing chosen until it is listed again
            self.native.setCurrentIndex(0 if self.allow_none else -1)
        elif current in names:
            self.native.setCurrentText(current)
        elif self.allow_none and self._chosen is not None:
            # a chosen optional layer (corrections, twins, exclusions) that went away is
            # none, never silently another layer of the same type
            self.native.setCurrentIndex(0)
        elif len(names) > (1 if self.allow_none else 0):
            self.native.setCurrentIndex(len(names) - 1)
        self.native.blockSignals(False)
        now = self.native.currentText()
        if self.value is not None:  # chosen (again): the unlisted layer is not taken back
            self._unlisted = None
        self._follow(self.value)
        if now != current:  # the choice changed under the widget: tell it
            self._relisting = True
            try:
                self.native.currentTextChanged.emit(now)
            finally:
                self._relisting = False

    @property
    def value(self):
        """The selected layer, or None."""
        name = self.native.currentText()
        if name and name != "(none)" and name in self.viewer.layers:
            return self.viewer.layers[name]
        return None

    @value.setter
    def value(self, layer) -> None:
        self.refresh()
        name = "(none)" if layer is None else (layer if isinstance(layer, str) else layer.name)
        idx = self.native.findText(name)
        if idx < 0:
            raise WidgetInputError(f"layer {name!r} is not available here")
        self._unlisted = None  # a choice made (none included): not taken back
        self.native.setCurrentIndex(idx)


class RunNeedsLayersMixin:
    """Run buttons disabled while a layer choice they need is empty, with a tooltip
    naming the layer; enabled again when such a layer is added (the choice follows the
    viewer's insertions and removals, and a layer's data replaced by data the choice
    takes or not: :meth:`LayerCombo.refresh`). The one rule of the
    widgets' Run buttons; the click's message (``select ...``) stays for scripts calling
    ``run()``.

    List it before :class:`~napari_srmat.widgets._worker.SingleJobMixin` among the
    widget's bases: a job's end, which enables Run, enables it only where its layer is
    still there. While a job runs, a layer that goes disables the buttons at once (those
    the job leaves enabled, such as New corrections layer, too). The check reads the
    choices' names (no data, no compute: it runs on the GUI thread at every layer-list
    event).
    """

    def _need_layers(self, buttons: tuple[QPushButton, ...],
                     needs: tuple[tuple[LayerCombo, str], ...]) -> None:
        """Gate ``buttons`` on ``needs``: ``(combo, what it needs)`` pairs, e.g.
        ``(self.layer_combo, "a micrograph (an image layer)")``."""
        self._run_gate = (buttons, needs, {b: b.toolTip() for b in buttons})
        for combo, _what in needs:
            # a bound method: Qt holds it weakly (a lambda kept a closed widget alive)
            combo.native.currentTextChanged.connect(self._gate_run)
        self._gate_run()

    def missing_layers(self) -> list[str]:
        """What the Run buttons still need (empty: they can run)."""
        _buttons, needs, _tips = self._run_gate
        return [what for combo, what in needs if combo.value is None]

    def _gate_run(self, *_: Any) -> None:
        buttons, _needs, tips = self._run_gate
        missing = self.missing_layers()
        # while a job runs, its end enables the buttons; a layer that goes disables them
        enable = not missing and not getattr(self, "_job_on", False)
        for button in buttons:
            if missing or enable:
                button.setEnabled(enable)
            button.setToolTip(f"needs {' and '.join(missing)}: add one to the viewer"
                              if missing else tips[button])

    def _on_finished(self) -> None:
        super()._on_finished()
        self._gate_run()
