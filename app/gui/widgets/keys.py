"""Keys that work the same on every screen: Enter (Return) opens the current row of a table,
on every platform (macOS's tables do not open on Return by themselves). The Find keys are
``SearchField.set_results``. GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractItemView

__all__ = ["add_open_shortcut"]


def add_open_shortcut(view: QAbstractItemView, open_current: Callable[[], object],
                      text: str = "Open") -> QAction:
    """Return and Enter on ``view`` (while it has the focus) call ``open_current``."""
    action = QAction(text, view)
    action.setObjectName("openAction")
    action.setShortcuts([QKeySequence(Qt.Key.Key_Return), QKeySequence(Qt.Key.Key_Enter)])
    action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
    action.triggered.connect(open_current)
    view.addAction(action)
    return action
