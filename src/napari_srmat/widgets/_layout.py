"""Small Qt layout helpers shared by the dock widgets."""

from __future__ import annotations

from qtpy.QtWidgets import QHBoxLayout, QWidget

__all__ = ["hbox_row", "vertical_scroll"]


def hbox_row(*widgets: QWidget) -> QWidget:
    """A margin-less horizontal row holding ``widgets``, for one cell of a form."""
    row = QWidget()
    lay = QHBoxLayout(row)
    lay.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        lay.addWidget(w)
    return row


def vertical_scroll(widget: QWidget):
    """``widget`` in a scroll area that scrolls vertically and fits the dock's width."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QScrollArea

    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setWidget(widget)
    return area
