"""Headers and bars several screens share, so they look and behave the same everywhere.

* ``add_area_header`` — an area's title and one-line subtitle at the top of its layout.
* ``PageHeader`` — a detail page's "‹ Back" button and large, selectable title.
* ``FilterButtons`` — a row of exclusive, checkable filter buttons ("All", "Failing to
  post"…), each carrying its value; ``chosen(value)`` when a person picks one.

Everything here runs on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QBoxLayout,
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QWidget,
)

from app.gui.theme import set_themed_style

__all__ = ["FilterButtons", "PageHeader", "add_area_header"]

_FILTER_STYLE = (
    "QPushButton:checked { background: #DCE6F9; color: #17428F; border: 1px solid #2457C5; }"
)


def add_area_header(layout: QBoxLayout, title: str, subtitle: str) -> tuple[QLabel, QLabel]:
    """An area's title and subtitle, added to ``layout``; returns both labels."""
    title_label = QLabel(title)
    title_label.setObjectName("areaTitle")
    subtitle_label = QLabel(subtitle)
    subtitle_label.setObjectName("areaSubtitle")
    subtitle_label.setWordWrap(True)
    layout.addWidget(title_label)
    layout.addWidget(subtitle_label)
    return title_label, subtitle_label


class PageHeader(QWidget):
    """"‹ Back" and the page's title in large bold type (selectable, to copy a name)."""

    backRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.back_button = QToolButton()
        self.back_button.setText("‹ Back")
        self.back_button.setObjectName("backButton")
        self.back_button.clicked.connect(self.backRequested)
        # The platform's Back keys (Alt+Left; ⌘[ on macOS) while this page is on show.
        back = QAction("Back", self)
        back.setObjectName("backAction")
        back.setShortcuts(QKeySequence.keyBindings(QKeySequence.StandardKey.Back))
        back.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        back.triggered.connect(self.backRequested)
        self.addAction(back)
        keys = back.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        self.back_button.setToolTip(f"Back ({keys})" if keys else "Back")
        self.back_button.setAccessibleName("Back")
        self.title = QLabel()
        self.title.setObjectName("pageTitle")
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.addWidget(self.back_button)
        self.row.addSpacing(8)
        self.row.addWidget(self.title)


class FilterButtons(QWidget):
    """Exclusive filter buttons, one per ``(value, label)``; object names ``<prefix><value>``.
    ``chosen(value)`` fires when a person clicks one (not when ``select`` is called)."""

    chosen = Signal(object)

    def __init__(self, choices: Iterable[tuple[Any, str]], *, selected: Any,
                 object_prefix: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[Any, QPushButton] = {}
        self._values: dict[QAbstractButton, Any] = {}
        for value, label in choices:
            button = QPushButton(label)
            key = getattr(value, "value", value)
            button.setObjectName(f"{object_prefix}{key}")
            button.setCheckable(True)
            button.setChecked(value == selected)
            button.setProperty("filterValue", key)
            set_themed_style(button, _FILTER_STYLE)
            self.group.addButton(button)
            self.buttons[value] = button
            self._values[button] = value
            row.addWidget(button)
        self.group.buttonClicked.connect(self._clicked)

    def select(self, value: Any) -> None:
        self.buttons[value].setChecked(True)

    @Slot(QAbstractButton)
    def _clicked(self, button: QAbstractButton) -> None:
        self.chosen.emit(self._values[button])
