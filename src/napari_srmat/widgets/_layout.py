"""Small Qt layout helpers shared by the dock widgets."""

from __future__ import annotations

from qtpy.QtWidgets import QHBoxLayout, QWidget

__all__ = ["hbox_row"]


def hbox_row(*widgets: QWidget) -> QWidget:
    """A margin-less horizontal row holding ``widgets``, for one cell of a form."""
    row = QWidget()
    lay = QHBoxLayout(row)
    lay.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        lay.addWidget(w)
    return row
